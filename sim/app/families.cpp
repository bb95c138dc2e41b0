// The list of built-in chip families (one registration function per family file,
// sim/app/family_<name>.cpp). A family whose sources are absent from the build is skipped.
#include "sim/app/registry.h"

namespace xpu {
void register_gpu_family();
__attribute__((weak)) void register_tpu_family();
__attribute__((weak)) void register_trainium_family();
__attribute__((weak)) void register_maia_family();

void register_builtin_families() {
  static bool done = false;
  if (done) return;
  done = true;
  register_gpu_family();
  if (register_tpu_family) register_tpu_family();
  if (register_trainium_family) register_trainium_family();
  if (register_maia_family) register_maia_family();
}
}  // namespace xpu
