// Statistics declared where a component is built (gem5's ADD_STAT): each with its name, unit and a
// sentence, read when the run's stats are collected, so a stat cannot silently vanish from a dump
// because the dump code forgot it. Formats live in sim/io.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "sim/base/stats.h"
#include "sim/base/units.h"

namespace xpu {

class StatGroup {
 public:
  // `value(total)` is read at collection time; `total` is the run's length in ticks.
  using Value = std::function<double(Tick total)>;
  void add(std::string name, std::string unit, std::string sentence, Value value) {
    m_stats.push_back({std::move(name), std::move(unit), std::move(sentence), std::move(value)});
  }
  // Writes every declared stat as "<prefix>.<name>".
  void dump(Stats& out, const std::string& prefix, Tick total) const {
    for (const auto& s : m_stats) out.set(prefix + "." + s.name, s.value(total), s.unit, s.sentence);
  }
  size_t size() const { return m_stats.size(); }

 private:
  struct Entry {
    std::string name, unit, sentence;
    Value value;
  };
  std::vector<Entry> m_stats;
};

}  // namespace xpu
