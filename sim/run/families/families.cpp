// The list of built-in chip families (one registration function per family file,
// sim/app/family_<name>.cpp). A family whose sources are absent from the build is skipped.
#include "sim/run/registry.h"

namespace xpu {
// XPU_FAMILY_<NAME> is defined by CMake for each family compiled into this build (a weak reference
// would not pull the registration object out of the static library).
void register_gpu_family();
void register_tpu_family();
void register_trainium_family();
void register_maia_family();

void register_builtin_families() {
  static bool done = false;
  if (done) return;
  done = true;
  register_gpu_family();
#ifdef XPU_FAMILY_TPU
  register_tpu_family();
#endif
#ifdef XPU_FAMILY_TRAINIUM
  register_trainium_family();
#endif
#ifdef XPU_FAMILY_MAIA
  register_maia_family();
#endif
}
}  // namespace xpu
