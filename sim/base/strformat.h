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

// A whole number with thousands separators ("1,960,375"), as report tables and verdicts print counts
// that run to seven digits (tokens per provisioned MW).
inline std::string grouped(double v) {
  std::string d = strformat("%.0f", v), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0 && d[i - 1] >= '0' && d[i - 1] <= '9' && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

}  // namespace xpu
