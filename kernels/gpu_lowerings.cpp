#include "kernels/gpu_lowerings.h"

#include "kernels/attention/gpu.h"
#include "kernels/gemm/gpu.h"
#include "kernels/rowwise/gpu.h"

namespace xpu::gpu {

const LoweringTable<GpuSpec>& lowerings() {
  static const LoweringTable<GpuSpec> t(
      "gpu", standard_lowerings<GpuSpec>(lower_gemm, lower_attention, lower_rowwise, lower_rowwise,
                                     "NVLink"));
  return t;
}

KernelPrograms lower(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  return lowerings().lower(op, spec, opt);
}

}  // namespace xpu::gpu
