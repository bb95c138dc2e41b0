// Dispatch of every op to its GPU lowering (kernels/<op>/gpu.cpp).
#pragma once
#include "chips/gpu/gpu_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::gpu {
KernelPrograms lower(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt);
}
