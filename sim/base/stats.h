// Statistics registry: components register named counters with a unit and a sentence
// (gem5's ADD_STAT); formats (table, JSON, HDF5) live in sim/io. Names follow the module tree.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace xpu {

struct Stat {
  double value = 0;
  std::string unit;
  std::string description;
};

class Stats {
 public:
  void set(const std::string& name, double value, const std::string& unit, const std::string& desc) {
    m_stats[name] = {value, unit, desc};
  }
  void add(const std::string& name, double value, const std::string& unit, const std::string& desc) {
    auto& s = m_stats[name];
    s.value += value;
    s.unit = unit;
    s.description = desc;
  }
  double get(const std::string& name, double fallback = 0) const {
    auto it = m_stats.find(name);
    return it == m_stats.end() ? fallback : it->second.value;
  }
  bool has(const std::string& name) const { return m_stats.count(name) != 0; }
  const std::map<std::string, Stat>& all() const { return m_stats; }
  void merge(const Stats& other, double scale = 1.0) {
    for (const auto& [k, v] : other.m_stats) add(k, v.value * scale, v.unit, v.description);
  }

 private:
  std::map<std::string, Stat> m_stats;
};

}  // namespace xpu
