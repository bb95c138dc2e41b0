// `xpusim list models` (the workloads layer owns the model files).
#include <iostream>

#include "sim/app/commands.h"
#include "workloads/model.h"

namespace xpu {
int list_models_command() {
  return std::cout << model_list_table(), 0;
}
}  // namespace xpu
