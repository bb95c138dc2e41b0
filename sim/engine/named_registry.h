// Components registered by name and chosen in a preset (as Ramulator 2 registers its schedulers):
// one registry per interface. Registration is explicit (register_builtin_*), not by static
// initializers, which a static library would drop.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/base/error.h"

namespace xpu {

template <class I, class... Args>
class NamedRegistry {
 public:
  using Factory = std::function<std::unique_ptr<I>(Args...)>;
  static void add(const std::string& name, Factory f) { table()[name] = std::move(f); }
  static bool has(const std::string& name) { return table().count(name) != 0; }
  static std::vector<std::string> names() {
    std::vector<std::string> out;
    for (const auto& [n, f] : table()) out.push_back(n);
    return out;
  }
  static std::unique_ptr<I> make(const std::string& what, const std::string& name, Args... args) {
    auto it = table().find(name);
    if (it == table().end()) throw InputError("unknown " + what + " '" + name + "'; valid: " + join(names()), "", name);
    return it->second(args...);
  }

 private:
  static std::map<std::string, Factory>& table() {
    static std::map<std::string, Factory> t;
    return t;
  }
};

}  // namespace xpu
