// Config trees and typed parameters: YAML presets with `inherits:`, `--set key.path=value` overlays
// through the same mechanism, and strict validation against a schema that each spec declares once.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/base/error.h"
#include "sim/base/units.h"

namespace xpu {

// One leaf of a config, with where it came from (for one-line errors).
struct ConfigValue {
  std::string text;
  std::string origin;  // "chips/gpu/presets/h100_sxm.yaml:12" or "--set"
  bool list = false;   // a YAML sequence ("[132]"): text is its items joined with ", "; only a text field takes it
};

// A flat view of a nested YAML document: "hbm.bandwidth" -> "3.35 TB/s". Sequences become
// comma-separated leaves. Later layers (child presets, overlays) replace earlier leaves.
class ConfigTree {
 public:
  // Loads a YAML file, resolving `inherits:` (a file name relative to the file's folder) first.
  static ConfigTree load_file(const std::string& path);
  // Parses YAML text (for tests and Python dicts); `origin` names it in errors.
  static ConfigTree load_string(const std::string& yaml, const std::string& origin);

  // Applies "key.path=value" (one --set). Unknown keys are caught when the tree is bound to a schema.
  void apply_overlay(const std::string& assignment, const std::string& origin = "--set");
  // Applies every --set in order; a key given twice is refused (InputError naming it and both values), as
  // neither value is more the user's than the other.
  void apply_overlays(const std::vector<std::string>& assignments, const std::string& origin = "--set");
  void set(const std::string& key, const std::string& value, const std::string& origin, bool list = false);
  void set(const std::string& key, const ConfigValue& value) { m_entries[key] = value; }  // a copy of another tree's entry, whole
  void merge(const ConfigTree& upper);

  const ConfigValue* find(const std::string& key) const;
  const std::map<std::string, ConfigValue>& entries() const { return m_entries; }
  const std::string& file() const { return m_file; }
  void set_file(const std::string& f) { m_file = f; }

 private:
  std::map<std::string, ConfigValue> m_entries;
  std::string m_file;
};

// How a parameter is shown by `xpusim params`.
struct ParamInfo {
  std::string path, kind, default_text, description;
  bool required = false;
};

// Binds a spec struct to a ConfigTree (Load), lists its schema (Describe), and records the resolved
// values for config.resolved.yaml. A spec declares each field once:
//   p("hbm.bandwidth", s.hbm.bandwidth, "Peak HBM bandwidth of all stacks");          // required
//   p("hbm.efficiency", s.hbm.efficiency, "Achievable share of peak", "0.9");          // default
class Params {
 public:
  enum class Mode { Load, Describe };
  Params(Mode mode, const ConfigTree* tree) : m_mode(mode), m_tree(tree) {}

  void operator()(const std::string& path, Seconds& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, Hertz& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, Bandwidth& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, Bytes& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, Watts& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, Joules& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, double& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, int& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, bool& f, const std::string& desc, const char* def = nullptr);
  void operator()(const std::string& path, std::string& f, const std::string& desc, const char* def = nullptr);

  // Throws ConfigError for `path` (naming the file that set it) unless `ok`.
  void require(bool ok, const std::string& path, const std::string& expected) const;
  // A constraint between two fields (`path` against `other`): blames `path` with `expected`, unless `other`
  // came from --set and `path` did not, when the override is the cause: it is named with its value,
  // `other_expected` (what it would take) and where the preset's `path` value comes from.
  void require(bool ok, const std::string& path, const std::string& expected, const std::string& other,
               const std::string& other_expected) const;
  // After all fields are declared: a number held out of its bounds (see bind), then any key in the tree that
  // no field consumed, is an error.
  void finish() const;

  Mode mode() const { return m_mode; }
  const std::vector<ParamInfo>& schema() const { return m_schema; }
  // Resolved "path -> canonical text" in declaration order.
  const std::vector<std::pair<std::string, std::string>>& resolved() const { return m_resolved; }
  std::string resolved_yaml() const;

 private:
  template <class T>
  void bind(const std::string& path, T& field, const std::string& desc, const char* def, const char* kind,
            const std::function<T(const std::string&)>& parse, const std::function<std::string(const T&)>& print,
            const std::function<double(const T&)>& as_number = nullptr);
  Mode m_mode;
  const ConfigTree* m_tree;
  std::vector<ParamInfo> m_schema;
  std::vector<std::pair<std::string, std::string>> m_resolved;
  std::map<std::string, bool> m_consumed;
  struct Held {
    std::string path, origin, message;
  };
  std::vector<Held> m_held;  // numbers out of their kind's bounds, thrown by require() or finish()
  void throw_held() const;
};

// The YAML text with its comments blanked (each line keeps its place, so parse marks keep their lines
// and columns): yaml-cpp scans a comment one character at a time through its regex matcher, and the
// presets are four-fifths comments (sources), a third of a short run's start. The text is returned
// unchanged where a line is not plainly understood (a block scalar, a quoted scalar left open).
std::string yaml_without_comments(const std::string& text);

// Renders flat "a.b.c -> text" pairs as nested YAML.
std::string to_nested_yaml(const std::vector<std::pair<std::string, std::string>>& flat);

// The presets of a folder (chip family or systems): the command-line name (file stem with '_' as '-'),
// the path and the `description:` line, sorted by name; files starting with '_' are shared fragments.
struct PresetFile {
  std::string name, path, description;
};
std::vector<PresetFile> preset_files(const std::string& dir);

// Locates a preset by name ("h100-sxm" -> chips/gpu/presets/h100_sxm.yaml) or returns a path as is.
std::string source_dir();

}  // namespace xpu
