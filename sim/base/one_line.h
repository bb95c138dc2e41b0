// An error's text as the one printable line the CLI prints (README, "Bad input and resource limits").
#pragma once
#include <string>

#include "sim/base/strformat.h"

namespace xpu {

// Line breaks and tabs as spaces (SystemC's reports span several lines); other control bytes, a user's file quoted
// in a message, as \xNN, so that the error is one printable line whatever the input held.
inline std::string one_line(const std::string& text) {
  std::string s;
  for (const unsigned char c : text) {
    if (c == '\n' || c == '\r' || c == '\t')
      s += ' ';
    else if (c < 0x20 || c == 0x7f)
      s += strformat("\\x%02x", c);
    else
      s += static_cast<char>(c);
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace xpu
