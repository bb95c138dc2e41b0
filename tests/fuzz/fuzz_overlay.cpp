// Fuzz target: `--set key=value` overlays (one per input line) applied to the H100 preset and bound to
// the GPU schema, as `xpusim kernel --set ...` does.
#include "tests/fuzz/fuzz_common.h"

#include <sstream>

#include "chips/gpu/gpu_spec.h"
#include "sim/base/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const xpu::ConfigTree base =
      xpu::ConfigTree::load_file(xpu::source_dir() + "/chips/gpu/presets/h100_sxm.yaml");
  xpu::ConfigTree t = base;
  XPU_FUZZ_INPUT_ERRORS_ONLY({
    std::istringstream in(fuzz_text(data, size));
    std::string line;
    while (std::getline(in, line)) t.apply_overlay(line);
    xpu::ConfigTree chip;
    for (const auto& [k, v] : t.entries())
      if (k.rfind("power.", 0) != 0 && k.rfind("cost.", 0) != 0) chip.set(k, v.text, v.origin);
    xpu::gpu::GpuSpec s;
    xpu::Params p(xpu::Params::Mode::Load, &chip);
    describe(p, s);
    p.finish();
    (void)p.resolved_yaml();
  })
  return 0;
}
