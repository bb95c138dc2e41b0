// Shared by the fuzz targets: the one exception bad input may raise (InputError and its subclasses);
// anything else escaping a target (std::out_of_range, a YAML or JSON exception, std::bad_alloc) is a
// finding, and libFuzzer reports it as a crash because the exception terminates the process.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/base/error.h"

#define XPU_FUZZ_INPUT_ERRORS_ONLY(...) \
  try {                                 \
    __VA_ARGS__                         \
  } catch (const xpu::InputError&) {    \
  }

inline std::string fuzz_text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}
