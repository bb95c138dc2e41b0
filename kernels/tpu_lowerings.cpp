#include "kernels/tpu_lowerings.h"

#include "kernels/attention/tpu.h"
#include "kernels/embedding/tpu.h"
#include "kernels/gemm/tpu.h"
#include "kernels/rowwise/tpu.h"

namespace xpu::tpu {

const LoweringTable<TpuSpec>& lowerings() {
  static const LoweringTable<TpuSpec> t("tpu", [](LoweringTable<TpuSpec>& t) {
    t.add({OpKind::Gemm, OpKind::GroupedGemm}, lower_gemm)
        .add(OpKind::Attention, lower_attention)
        .add({OpKind::RmsNorm, OpKind::LayerNorm, OpKind::Softmax, OpKind::SwiGlu, OpKind::Gelu, OpKind::Rope,
           OpKind::ResidualAdd, OpKind::TopK, OpKind::Sampling}, lower_rowwise)
        .add(OpKind::Embedding, lower_embedding)
        .refuse(OpKind::AllReduce, "single-chip model: collectives over ICI are not modelled for the TPU family");
  });
  return t;
}

KernelPrograms lower(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  return lowerings().lower(op, spec, opt);
}

}  // namespace xpu::tpu
