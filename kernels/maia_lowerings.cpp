#include "kernels/maia_lowerings.h"

#include <algorithm>

#include "kernels/attention/maia.h"
#include "kernels/gemm/maia.h"
#include "kernels/rowwise/maia.h"

namespace xpu::maia {

namespace {
bool is16(DType d) { return d == DType::bf16 || d == DType::fp16; }

std::string ttu_formats(const MaiaSpec& spec) {
  std::string s;
  for (DType d : {DType::bf16, DType::fp16, DType::fp8, DType::fp6, DType::fp4})
    if (spec.ttu_depth(d) > 0) s += (s.empty() ? "" : ", ") + std::string(name(d));
  return s.empty() ? "none" : s;
}

// Resolves one operand: native, converted to FP8, or refused.
DType resolve(const OpSpec& op, DType d, const MaiaSpec& spec, bool& converted, const char* role) {
  converted = false;
  if (spec.ttu_depth(d) > 0) return d;
  if (is16(d) && spec.ttu_depth(DType::fp8) > 0) {
    if (spec.bf16_matmul == "fp8") {
      converted = true;
      return DType::fp8;
    }
    unsupported(spec.name, op, std::string("the TTU has no ") + name(d) + " path (TTU formats: " + ttu_formats(spec) +
                                   "; " + name(d) + " runs only on the TVP) and lowering.bf16_matmul=refuse; use --dtype fp8 "
                                   "or --set lowering.bf16_matmul=fp8 to convert the " + role + " to FP8");
  }
  unsupported(spec.name, op, std::string("the TTU has no ") + name(d) + " path for the " + role +
                                 " (TTU formats: " + ttu_formats(spec) + ")");
}
}  // namespace

MatmulFormat matmul_format(const OpSpec& op, DType act, DType wt, const MaiaSpec& spec) {
  MatmulFormat f;
  f.act = resolve(op, act, spec, f.convert_act, "activations");
  f.wt = resolve(op, wt, spec, f.convert_wt, "weights");
  f.rate = bytes_per_element(f.act) >= bytes_per_element(f.wt) ? f.act : f.wt;
  if (f.convert_act || f.convert_wt) {
    f.note = std::string(f.convert_act ? name(act) : name(wt)) + " converted to fp8 on the TVP (no " +
             (f.convert_act ? name(act) : name(wt)) + " TTU path)";
  }
  if (f.act != f.wt) f.note += std::string(f.note.empty() ? "" : "; ") + "mixed " + name(f.act) + " x " + name(f.wt) +
                               " at the " + name(f.rate) + " rate";
  return f;
}

bool weights_pinned(const OpSpec& op, const MaiaSpec& spec, double weight_bytes) {
  // Layers run one after another every step: pinning pays only if all weights used per step stay
  // resident, so a model run passes the model's weight bytes (resident_weight_bytes).
  return spec.placement.weights_in_sram && op.weights_stationary &&
         std::max(weight_bytes, op.resident_weight_bytes) <= spec.weight_sram_budget();
}

const LoweringTable<MaiaSpec>& lowerings() {
  static const LoweringTable<MaiaSpec> t(
      "maia", standard_lowerings<MaiaSpec>(lower_gemm, lower_attention, lower_rowwise, lower_rowwise,
                                     "the integrated Ethernet scale-up"));
  return t;
}

KernelPrograms lower(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  return lowerings().lower(op, spec, opt);
}

}  // namespace xpu::maia
