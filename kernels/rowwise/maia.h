// Row-wise and elementwise ops on the Maia family (norms, softmax, activations, RoPE, residual add,
// embedding gather, router top-k, sampling): one contiguous chunk of rows per tile, streamed from HBM
// through the tile DMA into TSRAM, computed on the TVP, written back; bandwidth-bound at large sizes.
#pragma once
#include "chips/maia/maia_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::maia {
KernelPrograms lower_rowwise(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt);
}
