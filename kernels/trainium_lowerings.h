// Dispatch of every op to its Trainium lowering (kernels/<op>/trainium.cpp). A NeuronCore program is
// one task per core holding the per-engine instruction streams (Tensor, Vector, Scalar, GpSimd, two
// DMA queues) with their semaphore dependencies; task i runs on NeuronCore i (static placement). The
// instruction builders those lowerings share are in kernels/trainium_builders.h.
#pragma once
#include <functional>
#include <string>

#include "chips/trainium/isa.h"
#include "chips/trainium/trainium_spec.h"
#include "kernels/common/lowering_table.h"
#include "kernels/trainium_builders.h"

namespace xpu::trainium {

// The family's (op -> lowering or reason) table; lower() dispatches through it.
const LoweringTable<TrainiumSpec>& lowerings();
KernelPrograms lower(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt);

}  // namespace xpu::trainium
