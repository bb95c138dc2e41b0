// Dispatch of every op to its TPU lowering (kernels/<op>/tpu.cpp), or a clear refusal.
#pragma once
#include "chips/tpu/tpu_spec.h"
#include "kernels/common/lowering_table.h"

namespace xpu::tpu {
// The family's (op -> lowering or reason) table; lower() dispatches through it.
const LoweringTable<TpuSpec>& lowerings();
KernelPrograms lower(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt);
}
