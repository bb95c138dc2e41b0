// printf-style formatting into a std::string (report tables).
#pragma once
#include <cstdarg>
#include <cstdio>
#include <string>

namespace xpu {

__attribute__((format(printf, 1, 2))) inline std::string strformat(const char* f, ...) {
  va_list ap;
  va_start(ap, f);
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, f, ap);
  va_end(ap);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, f, ap2);
  va_end(ap2);
  return out;
}

}  // namespace xpu
