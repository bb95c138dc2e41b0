// Dispatch of every op to its TPU lowering (kernels/<op>/tpu.cpp), or a clear refusal.
#pragma once
#include "chips/tpu/tpu_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::tpu {
KernelPrograms lower(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt);
}
