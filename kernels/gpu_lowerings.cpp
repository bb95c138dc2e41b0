#include "kernels/gpu_lowerings.h"

#include "kernels/attention/gpu.h"
#include "kernels/gemm/gpu.h"
#include "kernels/rowwise/gpu.h"

namespace xpu::gpu {

const LoweringTable<GpuSpec>& lowerings() {
  static const LoweringTable<GpuSpec> t("gpu", [](LoweringTable<GpuSpec>& t) {
    t.add({OpKind::Gemm, OpKind::GroupedGemm}, lower_gemm)
        .add(OpKind::Attention, lower_attention)
        .add({OpKind::RmsNorm, OpKind::LayerNorm, OpKind::Softmax, OpKind::SwiGlu, OpKind::Gelu, OpKind::Rope,
           OpKind::ResidualAdd, OpKind::TopK, OpKind::Sampling, OpKind::Embedding}, lower_rowwise)
        .refuse(OpKind::AllReduce, "collectives need a multi-chip model (NVLink), which this build does not have");
  });
  return t;
}

KernelPrograms lower(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  return lowerings().lower(op, spec, opt);
}

}  // namespace xpu::gpu
