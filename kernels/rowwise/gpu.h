// Row-wise and elementwise ops on the GPU family (norms, softmax, activations, RoPE, residual add,
// embedding gather, router top-k, sampling): bandwidth-bound kernels of one block per chunk of rows.
#pragma once
#include "chips/gpu/gpu_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::gpu {
KernelPrograms lower_rowwise(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt);
}
