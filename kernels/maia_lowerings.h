// Dispatch of every op to its Maia lowering (kernels/<op>/maia*.cpp), and the two policies every
// Maia matmul lowering shares: which formats the TTU runs (mixed precision, BF16 conversion) and
// whether an op's weights are pinned in on-die SRAM.
#pragma once
#include <string>

#include "chips/maia/maia_spec.h"
#include "kernels/common/lowering_table.h"

namespace xpu::maia {

// The family's (op -> lowering or reason) table; lower() dispatches through it.
const LoweringTable<MaiaSpec>& lowerings();
KernelPrograms lower(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt);

// How a matmul with activations `act` and weights `wt` runs on the TTU. Mixed precision (FP8
// activations x FP4 weights) runs at the rate of the wider operand with the narrow one read as is.
// A 16-bit operand on a TTU without that format is converted to FP8 on the TVP when the preset's
// lowering.bf16_matmul is "fp8", or refused (InputError) when it is "refuse".
struct MatmulFormat {
  DType act = DType::fp8, wt = DType::fp8;  // formats the TTU consumes
  DType rate = DType::fp8;                  // format whose TTU depth sets the rate (the wider one)
  bool convert_act = false, convert_wt = false;
  std::string note;                         // for the Program strategy ("bf16 converted to fp8 on the TVP")
};
MatmulFormat matmul_format(const OpSpec& op, DType act, DType wt, const MaiaSpec& spec);

// The placement policy: weights stay in SRAM when placement.weights_in_sram is on, the operand is a
// weight (OpSpec::weights_stationary) and the op's weight bytes fit spec.weight_sram_budget().
bool weights_pinned(const OpSpec& op, const MaiaSpec& spec, double weight_bytes);

}  // namespace xpu::maia
