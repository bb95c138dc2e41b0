// Fuzz target: a chip preset (YAML text) loaded into a config tree and bound to every family's schema,
// with the power and cost sections, exactly as `--chip file.yaml` does (without `inherits`).
#include "tests/fuzz/fuzz_common.h"

#include "chips/gpu/gpu_spec.h"
#include "chips/maia/maia_spec.h"
#include "chips/tpu/tpu_spec.h"
#include "chips/trainium/trainium_spec.h"
#include "sim/base/config.h"
#include "sim/cost/cost.h"
#include "sim/power/power.h"

namespace {
template <class Spec>
void bind(const xpu::ConfigTree& tree) {
  xpu::ConfigTree chip, pc;
  for (const auto& [k, v] : tree.entries())
    (k.rfind("power.", 0) == 0 || k.rfind("cost.", 0) == 0 ? pc : chip).set(k, v.text, v.origin);
  XPU_FUZZ_INPUT_ERRORS_ONLY({
    Spec s;
    xpu::Params p(xpu::Params::Mode::Load, &chip);
    describe(p, s);
    p.finish();
    (void)p.resolved_yaml();
  })
  XPU_FUZZ_INPUT_ERRORS_ONLY({
    xpu::PowerSpec ps;
    xpu::CostSpec cs;
    xpu::Params p(xpu::Params::Mode::Load, &pc);
    if (pc.find("power.tdp")) xpu::describe(p, ps, "power.");
    xpu::describe(p, cs, "cost.");
    p.finish();
  })
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  XPU_FUZZ_INPUT_ERRORS_ONLY({
    xpu::ConfigTree t = xpu::ConfigTree::load_string(fuzz_text(data, size), "fuzz.yaml");
    bind<xpu::gpu::GpuSpec>(t);
    bind<xpu::tpu::TpuSpec>(t);
    bind<xpu::trainium::TrainiumSpec>(t);
    bind<xpu::maia::MaiaSpec>(t);
  })
  return 0;
}
