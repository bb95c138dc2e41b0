// Attention on the Maia family: flash-style tiles on the tiles of the die, S = Q K^T and O = P V on
// the TTU in FP8 (or the preset's matmul formats), the online softmax (exp on the TVP's special-
// function unit) in fp32 on the TVP, causal tile skipping, GQA groups sharing their K/V tiles; decode
// splits the KV sequence over tiles when there are too few (sequence, KV head) units, with a combine.
#pragma once
#include "chips/maia/maia_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::maia {
KernelPrograms lower_attention(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt);
}
