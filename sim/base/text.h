// Small text helpers shared by the readers of lists and headers (presets, studies, CSV files).
#pragma once
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace xpu {

// `s` without its leading and trailing blanks (spaces and tabs).
inline std::string trim_blanks(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

// The items of a comma-separated list, each trimmed of blanks; empty items are dropped ("a, b,,c" -> a, b, c).
inline std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (std::string t = trim_blanks(item); !t.empty()) out.push_back(std::move(t));
  return out;
}

// The first item of `items` that an earlier one repeats ("" when each is given once).
inline std::string first_repeated(const std::vector<std::string>& items) {
  for (size_t i = 0; i < items.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (items[j] == items[i]) return items[i];
  return "";
}

}  // namespace xpu
