#include "kernels/trainium_lowerings.h"

#include <algorithm>

#include "kernels/attention/trainium.h"
#include "kernels/gemm/trainium.h"
#include "kernels/rowwise/trainium.h"

namespace xpu::trainium {

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
