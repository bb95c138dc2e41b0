// `xpusim list models` (the workloads layer owns the model files).
#include <iostream>

#include "sim/app/commands.h"
#include "workloads/model.h"

namespace xpu {
int list_models_command() {
  for (const auto& m : list_models()) std::cout << m << "\n";
  return 0;
}
}  // namespace xpu
