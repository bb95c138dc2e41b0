// Attention on the GPU family: FlashAttention-style tiled prefill and FlashDecoding-style paged decode.
#pragma once
#include "chips/gpu/gpu_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::gpu {
KernelPrograms lower_attention(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt);
}
