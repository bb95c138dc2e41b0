// Attention on the TPU family: flash-style prefill (online softmax, causal and window block
// skipping, GQA heads folded into the query rows) and decode against a paged KV cache, split along
// the sequence when batch x kv_heads leaves TensorCores idle.
#pragma once
#include "chips/tpu/tpu_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::tpu {
KernelPrograms lower_attention(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt);
}
