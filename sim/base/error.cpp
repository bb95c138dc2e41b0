#include "sim/base/error.h"

#include <algorithm>
#include <vector>

namespace xpu {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest(const std::string& word, const std::initializer_list<std::string>& candidates) {
  return nearest_of(word, candidates);
}

}  // namespace xpu

#include "sim/base/nearest_name.h"

namespace xpu {

bool abbreviates(const std::string& word, const std::string& name) {
  if (word.size() < 2 || name.size() <= word.size() || word[0] != name[0]) return false;
  size_t i = 0;
  for (char c : name)
    if (i < word.size() && c == word[i]) ++i;
  return i == word.size();
}

std::string nearest_name(const std::string& word, const std::vector<std::string>& candidates) {
  // A candidate the word begins (or ends a dotted key of) is nearest_of's first choice and an abbreviation too.
  std::string best;
  size_t best_d = static_cast<size_t>(-1);
  for (const auto& c : candidates) {
    if (!abbreviates(word, c)) continue;
    const size_t d = edit_distance(word, c);
    if (d < best_d || (d == best_d && c.size() < best.size())) best_d = d, best = c;
  }
  return best.empty() ? nearest_of(word, candidates) : best;
}

}  // namespace xpu
