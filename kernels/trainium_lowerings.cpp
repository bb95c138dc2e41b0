#include "kernels/trainium_lowerings.h"

#include <algorithm>

#include "kernels/attention/trainium.h"
#include "kernels/gemm/trainium.h"
#include "kernels/rowwise/trainium.h"

namespace xpu::trainium {

void require_lane_dtype(const TrainiumSpec& spec, const OpSpec& op, DType d) {
  if (d == DType::fp4 || d == DType::fp6)
    unsupported(spec.name, op, std::string("the Vector/Scalar/GpSimd engines have no ") + name(d) +
                                   " path (only 32/16/8-bit element types)");
}

KernelPrograms lower(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  op.validate();
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
    case OpKind::Sampling:
    case OpKind::Embedding: return lower_rowwise(op, spec, opt);
    case OpKind::AllReduce:
      unsupported(spec.name, op, "single-chip model: collectives over NeuronLink are not modelled");
  }
  unsupported(spec.name, op, "no Trainium lowering for this op");
}

}  // namespace xpu::trainium
