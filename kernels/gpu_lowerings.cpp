#include "kernels/gpu_lowerings.h"

#include "kernels/attention/gpu.h"
#include "kernels/gemm/gpu.h"
#include "kernels/rowwise/gpu.h"

namespace xpu::gpu {

KernelPrograms lower(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  switch (op.kind) {
    case OpKind::Gemm:
    case OpKind::GroupedGemm: return lower_gemm(op, spec, opt);
    case OpKind::Attention: return lower_attention(op, spec, opt);
    case OpKind::AllReduce: unsupported(spec.name, op, "collectives need a multi-chip model (NVLink), which this build does not have");
    default: return lower_rowwise(op, spec, opt);
  }
}

}  // namespace xpu::gpu
