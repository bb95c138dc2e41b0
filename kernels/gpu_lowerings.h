// Dispatch of every op to its GPU lowering (kernels/<op>/gpu.cpp).
#pragma once
#include "chips/gpu/gpu_spec.h"
#include "kernels/common/lowering_table.h"

namespace xpu::gpu {
// The family's (op -> lowering or reason) table; lower() dispatches through it.
const LoweringTable<GpuSpec>& lowerings();
KernelPrograms lower(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt);
}
