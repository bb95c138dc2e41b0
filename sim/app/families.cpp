// The list of built-in chip families (one registration function per family file).
#include "sim/app/registry.h"

namespace xpu {
void register_gpu_family();

void register_builtin_families() {
  static bool done = false;
  if (done) return;
  done = true;
  register_gpu_family();
}
}  // namespace xpu
