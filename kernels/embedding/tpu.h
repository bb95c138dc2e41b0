// Embedding lookup on the TPU family: a gather of table rows by token id, one DMA per row.
#pragma once
#include "chips/tpu/tpu_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::tpu {
KernelPrograms lower_embedding(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt);
}
