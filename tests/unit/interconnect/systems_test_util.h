// Helpers shared by the systems tests: test presets and the one-line error of a failing call.
#pragma once
#include <functional>
#include <string>

#include "sim/base/error.h"

namespace xpu::test {

inline std::string system_data(const std::string& f) {
  return std::string(XPUSIM_SOURCE_DIR) + "/tests/data/systems/" + f;
}
inline std::string input_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace xpu::test
