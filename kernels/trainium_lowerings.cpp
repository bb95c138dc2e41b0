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

const LoweringTable<TrainiumSpec>& lowerings() {
  static const LoweringTable<TrainiumSpec> t("trainium", [](LoweringTable<TrainiumSpec>& table) {
    standard_lowerings<TrainiumSpec>(lower_gemm, lower_attention, lower_rowwise, lower_rowwise,
                               "NeuronLink")(table);
    table.before([](const OpSpec& op) { op.validate(); });
  });
  return t;
}

KernelPrograms lower(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  return lowerings().lower(op, spec, opt);
}

}  // namespace xpu::trainium
