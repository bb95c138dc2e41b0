#include "kernels/gpu_lowerings.h"

#include "kernels/gemm/gpu.h"

namespace xpu::gpu {

KernelPrograms lower(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  switch (op.kind) {
    case OpKind::Gemm:
    case OpKind::GroupedGemm: return lower_gemm(op, spec, opt);
    default: unsupported(spec.name, op, "no GPU lowering for this op yet");
  }
}

}  // namespace xpu::gpu
