#include "sim/run/run_target.h"

#include <set>

#include "sim/base/error.h"

namespace xpu {

namespace {
// The first segment of every field of `schema`.
std::set<std::string> sections_of(const std::vector<ParamInfo>& schema) {
  std::set<std::string> out;
  for (const ParamInfo& p : schema) out.insert(p.path.substr(0, p.path.find('.')));
  return out;
}

std::string key_of(const std::string& assignment) { return assignment.substr(0, assignment.find('=')); }
std::string section_of(const std::string& assignment) {
  const std::string key = key_of(assignment);
  return key.substr(0, key.find('.'));
}

// On a system a misspelt key could be meant for either preset: refuse it here, naming the nearest field of
// both (the chip's loader alone would name the nearest chip field, even for a misspelt scale_up.*).
void check_chip_keys(const std::string& chip, const std::vector<std::string>& sets) {
  std::string fam;
  for (const auto& p : list_presets())
    if (p.name == chip) fam = p.family;
  if (fam.empty() || sets.empty()) return;  // not a preset name: check_system_chip names it
  std::vector<ParamInfo> chip_schema = family(fam).schema();
  for (const auto& p : power_cost_schema()) chip_schema.push_back(p);
  const std::set<std::string> known = sections_of(chip_schema);
  for (const auto& s : sets) {
    if (known.count(section_of(s))) continue;  // the chip's loader checks the rest of the key
    std::vector<std::string> paths;
    for (const auto& p : chip_schema) paths.push_back(p.path);
    for (const auto& p : system_schema()) paths.push_back(p.path);
    throw InputError("--set " + key_of(s) + ": unknown key, neither a field of " + chip + " (xpusim params " + fam +
                     ") nor of the system (xpusim params system)" + nearest_clause(key_of(s), paths, kThenNearestKey), "--set", key_of(s));
  }
}
}  // namespace

bool is_system_override(const std::string& assignment) {
  static const std::set<std::string> system = [] {
    std::set<std::string> s = sections_of(system_schema());
    s.erase("name");  // every preset has a name and a description: they stay the chip's
    s.erase("description");
    return s;
  }();
  return system.count(section_of(assignment)) > 0;
}

RunTarget load_run_target(const std::string& chip, const SystemChoice& choice, const std::vector<std::string>& sets,
                          bool overlap) {
  SystemChoice c = choice;
  std::vector<std::string> chip_sets;
  for (const auto& s : sets) (is_system_override(s) ? c.sets : chip_sets).push_back(s);
  // --system S fixes the chip; --devices N takes the chip's default system (the chip named as presets are),
  // its --set checked against both presets first; one chip alone is loaded once, with its overrides.
  std::unique_ptr<ChipModel> first;
  if (c.system.empty()) first = resolving("--chip", chip, [&] { return load_chip(chip, c.devices > 0 ? std::vector<std::string>{} : chip_sets); });
  std::optional<SystemSpec> spec = resolve_system(first ? first->name() : "", c);
  RunTarget t;
  if (spec) {
    check_system_chip(*spec);
    t.system = SystemContext{*spec};
    check_chip_keys(spec->chip, chip_sets);
  }
  set_overlap(t.system, overlap);
  t.chip = first && (c.devices <= 0 || chip_sets.empty()) ? std::move(first) : load_chip(spec && !c.system.empty() ? spec->chip : chip, chip_sets);
  return t;
}

}  // namespace xpu
