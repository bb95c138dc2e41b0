// Row-wise and elementwise ops on the TPU family (norms, softmax, activations, RoPE, residual add,
// router top-k, sampling): row blocks streamed HBM -> VMEM -> vector unit -> HBM.
#pragma once
#include "chips/tpu/tpu_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::tpu {

// Per-row traffic and vector work of a row-wise op (exposed for tests and the GEMM epilogue fusion).
struct RowCost {
  double in_bytes = 0, out_bytes = 0;  // per row, HBM
  double const_bytes = 0;              // read once per TensorCore (norm weights)
  double flops_per_elem = 0, transcendentals_per_elem = 0;
};
RowCost row_cost(const OpSpec& op);

// Each TensorCore streams its share of row blocks (about 1 MiB of input each, 3 buffers so two
// copies are in flight while the vector unit works on the third).
KernelPrograms lower_rowwise(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt);

}  // namespace xpu::tpu
