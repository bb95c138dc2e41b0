#include "kernels/tpu_lowerings.h"

#include "kernels/attention/tpu.h"
#include "kernels/embedding/tpu.h"
#include "kernels/gemm/tpu.h"
#include "kernels/rowwise/tpu.h"

namespace xpu::tpu {

KernelPrograms lower(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  switch (op.kind) {
    case OpKind::Gemm:
    case OpKind::GroupedGemm: return lower_gemm(op, spec, opt);
    case OpKind::Attention: return lower_attention(op, spec, opt);
    case OpKind::RmsNorm:
    case OpKind::LayerNorm:
    case OpKind::Softmax:
    case OpKind::SwiGlu:
    case OpKind::Gelu:
    case OpKind::Rope:
    case OpKind::ResidualAdd:
    case OpKind::TopK:
    case OpKind::Sampling: return lower_rowwise(op, spec, opt);
    case OpKind::Embedding: return lower_embedding(op, spec, opt);
    case OpKind::AllReduce:
      unsupported(spec.name, op, "single-chip model: collectives over ICI are not modelled for the TPU family");
  }
  unsupported(spec.name, op, "unknown op kind");
}

}  // namespace xpu::tpu
