#include "kernels/tpu_lowerings.h"

#include "kernels/attention/tpu.h"
#include "kernels/embedding/tpu.h"
#include "kernels/gemm/tpu.h"
#include "kernels/rowwise/tpu.h"

namespace xpu::tpu {

const LoweringTable<TpuSpec>& lowerings() {
  static const LoweringTable<TpuSpec> t(
      "tpu", standard_lowerings<TpuSpec>(lower_gemm, lower_attention, lower_rowwise, lower_embedding,
                                     "ICI"));
  return t;
}

KernelPrograms lower(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  return lowerings().lower(op, spec, opt);
}

}  // namespace xpu::tpu
