// Config tree loading (YAML + inherits + overlays) and schema binding.
#include "sim/base/config.h"

#include <dlfcn.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstring>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sim/base/limits.h"

namespace fs = std::filesystem;

namespace xpu {
namespace {

// A preset is small; these bounds keep a hostile or broken file (deep nesting, alias bombs) from
// exhausting the stack or memory.
constexpr size_t kMaxPresetBytes = 1u << 20;
constexpr int kMaxDepth = 32;
constexpr size_t kMaxLeaves = 20000;

void flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
             std::map<std::string, ConfigValue>& out, int depth = 0) {
  auto line = [&](const YAML::Node& n) { return std::to_string(n.Mark().line + 1); };
  auto where = [&](const YAML::Node& n) { return file + ":" + line(n); };
  if (depth > kMaxDepth) throw ConfigError(file, prefix, "nested more than " + std::to_string(kMaxDepth) + " levels deep");
  if (out.size() > kMaxLeaves) throw ConfigError(file, prefix, "more than " + std::to_string(kMaxLeaves) + " values");
  auto put = [&](const std::string& key, const std::string& text, const YAML::Node& at, bool list = false) {
    auto it = out.find(key);
    // A key given twice in one file is an error (YAML would silently keep the second value).
    if (it != out.end())
      throw ConfigError(where(at), key, "duplicate key (first set at " + it->second.origin + ")");
    out[key] = {text, where(at), list};
  };
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) throw ConfigError(where(kv.first), prefix, "a key must be a plain name");
      std::string key = kv.first.as<std::string>();
      if (key.empty()) throw ConfigError(where(kv.first), prefix, "empty key");
      std::string full = prefix.empty() ? key : prefix + "." + key;
      // A subtree may not be given twice either ("hbm:" twice would merge silently).
      auto sub = out.find(full);
      if (sub == out.end()) {
        sub = out.lower_bound(full + ".");
        if (sub != out.end() && sub->first.rfind(full + ".", 0) != 0) sub = out.end();
      }
      if (sub != out.end())
        throw ConfigError(where(kv.first), full, "duplicate key (first set at " + sub->second.origin + ")");
      flatten(kv.second, full, file, out, depth + 1);
    }
  } else if (node.IsSequence()) {
    std::string joined;
    for (const auto& item : node) {
      if (!item.IsScalar()) throw ConfigError(file, prefix, "lists may only hold plain values");
      joined += (joined.empty() ? "" : ", ") + item.as<std::string>();
    }
    put(prefix, joined, node, true);
  } else if (node.IsScalar()) {
    put(prefix, node.as<std::string>(), node);
  } else if (node.IsNull() && !prefix.empty()) {
    put(prefix, "", node);
  }
}

// Flow collections ("[[[[...") nest without indentation and yaml-cpp parses them recursively, so
// their depth is bounded before parsing (brackets in strings and comments count too: conservative).
// Block nesting is bounded by the file size through indentation.
void check_flow_depth(const std::string& text, const std::string& file) {
  int depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) throw ConfigError(file, "", "brackets nested more than " + std::to_string(kMaxDepth) + " deep");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

ConfigTree from_yaml(const YAML::Node& root, const std::string& file) {
  ConfigTree t;
  std::map<std::string, ConfigValue> flat;
  if (!root.IsNull() && !root.IsMap()) throw ConfigError(file, "", "expected a YAML mapping at the top level");
  flatten(root, "", file, flat);
  for (auto& [k, v] : flat) t.set(k, v);
  return t;
}

}  // namespace

std::string yaml_without_comments(const std::string& text) {
  static const char* const kQuoteAfter = " [{,?:-";  // a quote after one of these opens a quoted scalar
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = std::min(text.find('\n', pos), text.size());
    // Walk the line: '#' at its start or after a blank, outside quotes, starts a comment. A quote is
    // taken as opening a quoted scalar after any of " [{,?:-" (more places than YAML allows: a quote
    // taken wrongly keeps a comment or, left open, the whole text, never cuts a value).
    char quote = 0, prev = ' ';  // prev: the last non-blank character outside quotes (' ': none)
    size_t end = eol;
    for (size_t i = pos; i < eol; ++i) {
      const char c = text[i];
      if (quote) {
        if ((quote == '"' && c == '\\') || (quote == '\'' && c == '\'' && i + 1 < eol && text[i + 1] == '\'')) ++i;
        else if (c == quote) quote = 0, prev = c;
        continue;
      }
      const bool after_blank = i == pos || text[i - 1] == ' ' || text[i - 1] == '\t';
      if (c == '#' && after_blank) {
        end = i;
        break;
      }
      if ((c == '"' || c == '\'') && std::strchr(kQuoteAfter, prev)) quote = c;
      // A block scalar ("key: |", "- >"): its lines are text, kept as they are.
      if ((c == '|' || c == '>') && (prev == ' ' || (std::strchr(":-?", prev) && after_blank))) return text;
      if (c != ' ' && c != '\t') prev = c;
    }
    if (quote) return text;  // a quoted scalar that goes on to the next line
    while (end > pos && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
    out.append(text, pos, end - pos);
    if (eol < text.size()) out += '\n';
    pos = eol + 1;
  }
  return out;
}

// `inherits:` names a file relative to the inheriting file, or a shipped preset by name ("h100-sxm",
// "h100_sxm.yaml"), so that a user's own chip file can live anywhere.
static fs::path inherited_path(const std::string& file, const std::string& parent) {
  fs::path rel = fs::path(file).parent_path() / parent;
  if (fs::exists(rel) || parent.find('/') != std::string::npos) return rel;
  std::string stem = fs::path(parent).extension() == ".yaml" ? fs::path(parent).stem().string() : parent;
  std::replace(stem.begin(), stem.end(), '-', '_');
  fs::path chips = fs::path(source_dir()) / "chips";
  if (!fs::is_directory(chips)) return {};
  for (const auto& fam : fs::directory_iterator(chips)) {
    fs::path p = fam.path() / "presets" / (stem + ".yaml");
    if (fs::exists(p)) return p;
  }
  return {};
}

std::string source_dir() {
  // $XPUSIM_HOME, then data/ beside the binary holding this code (an installed Python package ships
  // _xpusim*.so with data/chips, data/workloads, data/scripts), then the source tree it was built from.
  if (const char* env = std::getenv("XPUSIM_HOME")) return env;
  static const std::string packaged = [] {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&source_dir), &info) == 0 || !info.dli_fname) return std::string();
    fs::path data = fs::path(info.dli_fname).parent_path() / "data";
    return fs::is_directory(data / "chips") ? data.string() : std::string();
  }();
  return packaged.empty() ? std::string(XPUSIM_SOURCE_DIR) : packaged;
}

ConfigTree ConfigTree::load_file(const std::string& path) {
  static thread_local int depth = 0;
  if (depth > 16) throw ConfigError(path, "inherits", "inheritance chain is too deep (a cycle?)");
  std::string text = read_input_file(path, "preset", kMaxPresetBytes);
  ConfigTree own = load_string(text, path);
  ConfigTree result;
  if (const ConfigValue* parent = own.find("inherits")) {
    if (parent->text.empty()) throw ConfigError(parent->origin, "inherits", "expected a preset file name");
    fs::path ppath = inherited_path(path, parent->text);
    if (ppath.empty())
      throw ConfigError(parent->origin, "inherits",
                        "'" + parent->text + "': no such file beside " + path + " and no shipped preset of that name");
    ++depth;
    try {
      result = load_file(ppath.string());
    } catch (...) {
      --depth;
      throw;
    }
    --depth;
    own.m_entries.erase("inherits");
  }
  result.merge(own);
  result.m_file = path;
  return result;
}

ConfigTree ConfigTree::load_string(const std::string& yaml, const std::string& origin) {
  if (yaml.size() > kMaxPresetBytes) throw ConfigError(origin, "", "more than 1 MiB of YAML");
  if (yaml.find('\0') != std::string::npos) throw ConfigError(origin, "", "not a text file (it holds NUL bytes)");
  check_flow_depth(yaml, origin);
  try {
    ConfigTree t = from_yaml(YAML::Load(yaml_without_comments(yaml)), origin);
    t.m_file = origin;
    return t;
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin, "", std::string("malformed YAML: ") + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
}

void ConfigTree::set(const std::string& key, const std::string& value, const std::string& origin, bool list) {
  m_entries[key] = {value, origin, list};
}

void ConfigTree::merge(const ConfigTree& upper) {
  for (const auto& [k, v] : upper.m_entries) {
    // A child that replaces a whole subtree with a scalar (or vice versa) drops the parent's leaves.
    for (auto it = m_entries.lower_bound(k + "."); it != m_entries.end() && it->first.rfind(k + ".", 0) == 0;)
      it = m_entries.erase(it);
    m_entries[k] = v;
  }
}

void ConfigTree::apply_overlay(const std::string& assignment, const std::string& origin) {
  // The errors carry the flag (origin "--set") and the assignment as data.
  const std::string flag = origin.rfind("--", 0) == 0 ? origin : std::string();
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(origin + ": '" + assignment + "': expected key.path=value (for example hbm.bandwidth=4TB/s)", flag, assignment);
  std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  bool plain = key.size() <= 200 && key.front() != '.' && key.back() != '.' && key.find("..") == std::string::npos;
  for (char c : key) plain &= std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  if (!plain)
    throw InputError(origin + ": '" + key + "': expected a key path of names separated by dots (for example hbm.bandwidth)", flag, assignment);
  // The family is where the preset lives and `inherits` is resolved when the file is read: an
  // overlay changing either would bind one family's fields to another family's model.
  if (key == "family" || key == "inherits")
    throw InputError(origin + ": " + key + ": cannot be overridden (choose another preset with --chip instead)", flag, assignment);
  if (value.size() > 4096 || value.find_first_of("\n\r", 0) != std::string::npos)
    throw InputError(origin + ": " + key + ": expected a one-line value", flag, assignment);
  set(key, space_unit(value), origin + " " + key);  // "4TB/s" as well as "4 TB/s"
}

void ConfigTree::apply_overlays(const std::vector<std::string>& assignments, const std::string& origin) {
  std::map<std::string, std::string> given;  // key -> its value as typed
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    const std::string key = a.substr(0, eq), value = eq == std::string::npos ? "" : a.substr(eq + 1);
    auto [it, fresh] = given.emplace(key, value);
    if (!fresh && eq != std::string::npos)
      throw InputError(origin + " " + key + ": given twice (" + it->second + ", then " + value +
                       "): expected each key once",
                       origin.rfind("--", 0) == 0 ? origin : std::string(), a);
    apply_overlay(a, origin);
  }
}

const ConfigValue* ConfigTree::find(const std::string& key) const {
  auto it = m_entries.find(key);
  return it == m_entries.end() ? nullptr : &it->second;
}

namespace {
// Bounds every numeric preset field is held to, by kind: finite, never negative, at most a limit far
// beyond any real chip (so no product of fields overflows and no time overflows 64-bit picoseconds).
// Zero is refused where it would divide (a rate, a count, a size) unless it means "none": the field
// is a time or a cycle count, its default is 0, or its description says what 0 means.
struct KindBound {
  const char* kind;
  double max;
  const char* max_text;
  double min_positive;  // a nonzero value below this would overflow simulated time (picoseconds)
  const char* min_text;
};
const KindBound kBounds[] = {
    {"time", 3600.0, "1 hour", 0, ""},
    {"frequency", 1e11, "100 GHz", 1e6, "1 MHz"},
    {"bandwidth", 1e17, "100 PB/s", 1e6, "1 MB/s"},
    {"size", 1125899906842624.0, "1 PiB", 0, ""},
    {"power", 1e7, "10 MW", 0, ""},
    {"energy", 1e6, "1 MJ", 0, ""},
    {"number", 1e12, "1e12", 1e-3, "0.001"},
    {"integer", 16777216.0, "16777216 (2^24)", 0, ""},
};

bool zero_allowed(const std::string& path, const char* kind, const std::string& desc, const char* def,
                  const std::function<double(const std::string&)>& value_of) {
  if (std::string(kind) == "time") return true;
  if (path.size() >= 6 && path.compare(path.size() - 6, 6, "cycles") == 0) return true;
  if (desc.find("(0") != std::string::npos || desc.find("0 =") != std::string::npos ||
      desc.find("0:") != std::string::npos)
    return true;
  if (def) {
    try {
      return value_of(def) == 0;
    } catch (...) {
    }
  }
  return false;
}
}  // namespace

namespace {
// Throws where a value stands at `path` or above it where the schema has a section (`hbm: 5`), naming that
// value rather than a missing or unknown leaf below it.
void refuse_value_for_section(const ConfigTree* tree, const std::vector<ParamInfo>& schema, const std::string& path) {
  if (!tree) return;
  for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', dot + 1)) {
    const std::string section = path.substr(0, dot);
    const ConfigValue* v = tree->find(section);
    if (!v) continue;
    std::string keys;
    int shown = 0;
    for (const auto& p : schema)
      if (p.path.rfind(section + ".", 0) == 0 && shown++ < 3) keys += (keys.empty() ? "" : ", ") + p.path;
    throw ConfigError(v->origin, section, "'" + v->text + "': expected a section of keys (" + keys + ", ...), not a value");
  }
}
}  // namespace

template <class T>
void Params::bind(const std::string& path, T& field, const std::string& desc, const char* def, const char* kind,
                  const std::function<T(const std::string&)>& parse,
                  const std::function<std::string(const T&)>& print,
                  const std::function<double(const T&)>& as_number) {
  if (m_mode == Mode::Describe) {
    m_schema.push_back({path, kind, def ? def : "", desc, def == nullptr});
    return;
  }
  m_schema.push_back({path, kind, def ? def : "", desc, def == nullptr});
  const ConfigValue* v = m_tree ? m_tree->find(path) : nullptr;
  std::string origin = v ? v->origin : (m_tree ? m_tree->file() : "<config>");
  const std::string a_kind = std::string(std::strchr("aeiou", kind[0]) ? "an " : "a ") + kind;
  if (!v && !def) {
    refuse_value_for_section(m_tree, m_schema, path);
    throw MissingFieldError(origin, path, "missing required field (expected " + a_kind + ")");
  }
  std::string text = v ? v->text : def;
  // A list where one value goes: "[132]" had read as 132 (its items are joined for the text fields that hold lists).
  if (v && v->list && std::string(kind) != "text")
    throw ConfigError(origin, path, "'[" + text + "]': expected " + a_kind + ", not a list");
  try {
    field = parse(text);
  } catch (const std::exception& e) {
    throw ConfigError(origin, path, "'" + text + "': " + e.what());
  }
  if (as_number) {
    const double x = as_number(field);
    const KindBound* b = nullptr;
    for (const auto& kb : kBounds)
      if (std::string(kb.kind) == kind) b = &kb;
    auto value_of = [&](const std::string& t) { return as_number(parse(t)); };
    if (!std::isfinite(x)) throw ConfigError(origin, path, "'" + text + "': expected a finite " + kind);
    std::string bad;
    if (x < 0) bad = "expected a non-negative " + std::string(kind);
    else if (x == 0 && !zero_allowed(path, kind, desc, def, value_of))
      bad = "expected a positive " + std::string(kind) + " (0 would divide by zero or mean nothing here)";
    else if (b && x > b->max) bad = "expected at most " + std::string(b->max_text);
    else if (b && x > 0 && x < b->min_positive)
      bad = "expected at least " + std::string(b->min_text) + " (or 0 where 0 means none)";
    // A plain number's own range (a share in (0, 1]) is the spec's require(): held until it or finish() runs,
    // so -0.1 is told that range, not "a non-negative number" (QA, session 44). Held for doubles only: an
    // integer out of bounds could divide by zero or size memory before the spec's checks ran.
    if (!bad.empty() && std::string(kind) == "number")
      m_held.push_back({path, origin, "'" + text + "': " + bad});
    else if (!bad.empty())
      throw ConfigError(origin, path, "'" + text + "': " + bad);
  }
  m_consumed[path] = true;
  m_resolved.emplace_back(path, print(field));
}

namespace {
double parse_number(const std::string& t) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(t, &used);
  } catch (...) {
    used = 0;
  }
  while (used < t.size() && isspace(static_cast<unsigned char>(t[used]))) ++used;
  if (t.empty() || used != t.size()) throw std::invalid_argument("expected a plain number");
  // One rule for a preset file and --set: decimal only (std::stod would read "0x10" as 16 from a file).
  if (t.find_first_of("xX") != std::string::npos) throw std::invalid_argument("expected a plain decimal number (hexadecimal is not read)");
  return v;
}
std::string print_number(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}
}  // namespace

#define XPU_BIND_UNIT(T)                                                                             \
  void Params::operator()(const std::string& path, T& f, const std::string& desc, const char* def) { \
    bind<T>(path, f, desc, def, T::unit_name(), [](const std::string& t) { return T::parse(t); },    \
            [](const T& x) { return x.str(); }, [](const T& x) { return x.value(); });               \
  }
XPU_BIND_UNIT(Seconds)
XPU_BIND_UNIT(Hertz)
XPU_BIND_UNIT(Bandwidth)
XPU_BIND_UNIT(Bytes)
XPU_BIND_UNIT(Watts)
XPU_BIND_UNIT(Joules)
#undef XPU_BIND_UNIT

void Params::operator()(const std::string& path, double& f, const std::string& desc, const char* def) {
  bind<double>(path, f, desc, def, "number", parse_number, print_number, [](const double& x) { return x; });
}
void Params::operator()(const std::string& path, int& f, const std::string& desc, const char* def) {
  bind<int>(
      path, f, desc, def, "integer",
      [](const std::string& t) {
        double v = parse_number(t);
        // Range first: converting a double outside int's range is undefined behaviour.
        if (!std::isfinite(v) || std::fabs(v) > 2147483647.0 || v != std::floor(v))
          throw std::invalid_argument(std::isfinite(v) && v == std::floor(v) ? "expected an integer of at most 16777216 (2^24)"
                                                                             : "expected an integer");
        return static_cast<int>(v);
      },
      [](const int& v) { return std::to_string(v); }, [](const int& x) { return static_cast<double>(x); });
}
void Params::operator()(const std::string& path, bool& f, const std::string& desc, const char* def) {
  bind<bool>(
      path, f, desc, def, "boolean",
      [](const std::string& t) {
        if (t == "true" || t == "yes" || t == "on") return true;
        if (t == "false" || t == "no" || t == "off") return false;
        throw std::invalid_argument("expected true or false");
      },
      [](const bool& v) { return std::string(v ? "true" : "false"); });
}
void Params::operator()(const std::string& path, std::string& f, const std::string& desc, const char* def) {
  bind<std::string>(
      path, f, desc, def, "text", [](const std::string& t) { return t; },
      [](const std::string& v) { return v; });
}

namespace {
// An unknown key's hint: the nearest valid key, else, where its section is known, that section's keys: a name for
// the same thing (`l2.size` for l2.capacity) is no typo, and the section is where the user was looking.
std::string unknown_key_hint(const std::string& key, const std::vector<std::string>& known) {
  const std::string near = nearest_clause(key, known, kNearestKey);
  const size_t dot = key.rfind('.');
  if (!near.empty() || dot == std::string::npos) return near;
  const std::string section = key.substr(0, dot + 1);
  std::vector<std::string> keys;
  for (const auto& k : known)
    if (k.rfind(section, 0) == 0 && k.find('.', section.size()) == std::string::npos) keys.push_back(k);
  if (keys.empty()) return near;
  const size_t shown = std::min<size_t>(keys.size(), 8);
  std::string list;
  for (size_t i = 0; i < shown; ++i) list += (i ? ", " : "") + keys[i];
  return " (keys under " + section.substr(0, dot) + ": " + list + (shown < keys.size() ? ", ..." : "") + ")";
}
}  // namespace

void Params::throw_held() const {
  if (!m_held.empty()) throw ConfigError(m_held.front().origin, m_held.front().path, m_held.front().message);
}

void Params::require(bool ok, const std::string& path, const std::string& expected) const {
  if (ok || m_mode == Mode::Describe) return;
  bool held_here = false;  // a value out of its kind's bounds at `path` is told this range; elsewhere it may be the cause
  for (const auto& h : m_held) held_here = held_here || h.path == path;
  if (!held_here) throw_held();
  const ConfigValue* v = m_tree ? m_tree->find(path) : nullptr;
  throw ConfigError(v ? v->origin : (m_tree ? m_tree->file() : "<config>"), path,
                    (v ? "'" + v->text + "': " : std::string()) + "expected " + expected);
}

void Params::require(bool ok, const std::string& path, const std::string& expected, const std::string& other,
                     const std::string& other_expected) const {
  if (ok || m_mode == Mode::Describe) return;
  throw_held();
  const ConfigValue* v = m_tree ? m_tree->find(path) : nullptr;
  const ConfigValue* o = m_tree ? m_tree->find(other) : nullptr;
  const auto by_set = [](const ConfigValue* c) { return c && c->origin.rfind("--set", 0) == 0; };
  if (!by_set(o) || by_set(v)) return require(ok, path, expected);
  std::string held;  // the preset's (or default) value of `path` and where it comes from
  for (const auto& [k, text] : m_resolved)
    if (k == path) held = "'" + text + "'";
  held += v ? " at " + v->origin : " by default";
  throw ConfigError(o->origin, other, "'" + o->text + "': expected " + other_expected + " (" + path + ": " + held + ")");
}

void Params::finish() const {
  throw_held();
  if (m_mode != Mode::Load || !m_tree) return;
  std::vector<std::string> known;
  for (const auto& p : m_schema) known.push_back(p.path);
  for (const auto& [k, v] : m_tree->entries())
    if (!m_consumed.count(k))
      for (const auto& p : m_schema)
        if (p.path.rfind(k + ".", 0) == 0) refuse_value_for_section(m_tree, m_schema, p.path);
  const bool own_section = !m_schema.empty() && (m_schema.front().path.rfind("power.", 0) == 0 ||
                                                  m_schema.front().path.rfind("cost.", 0) == 0);
  for (const auto& [k, v] : m_tree->entries()) {
    if (m_consumed.count(k)) continue;
    // `power.*` and `cost.*` are family-independent sections that the registry binds separately
    // (with the same strictness); a family's own schema leaves them alone.
    if (!own_section && (k.rfind("power.", 0) == 0 || k.rfind("cost.", 0) == 0)) continue;
    throw ConfigError(v.origin, k, "unknown key" + unknown_key_hint(k, known));
  }
}

std::string Params::resolved_yaml() const { return to_nested_yaml(m_resolved); }

std::string to_nested_yaml(const std::vector<std::pair<std::string, std::string>>& flat) {
  // Keys sharing a prefix are grouped under it, keeping first-appearance order.
  std::ostringstream os;
  std::vector<std::string> open;
  auto split = [](const std::string& p) {
    std::vector<std::string> parts;
    std::stringstream ss(p);
    std::string s;
    while (std::getline(ss, s, '.')) parts.push_back(s);
    return parts;
  };
  // Grouping by parent path, recursively, is a stable sort on the first appearance of each prefix.
  std::map<std::string, size_t> first_seen;
  std::vector<std::vector<std::string>> parts_of(flat.size());
  for (size_t i = 0; i < flat.size(); ++i) {
    parts_of[i] = split(flat[i].first);
    std::string pre;
    for (size_t j = 0; j + 1 < parts_of[i].size(); ++j) {
      pre += (j ? "." : "") + parts_of[i][j];
      first_seen.emplace(pre, i);
    }
  }
  // Each key's sort key is built once (the comparator used to split and look up both keys per call).
  std::vector<std::vector<size_t>> sort_key(flat.size());
  for (size_t i = 0; i < flat.size(); ++i) {
    std::string pre;
    for (size_t j = 0; j + 1 < parts_of[i].size(); ++j) {
      pre += (j ? "." : "") + parts_of[i][j];
      sort_key[i].push_back(first_seen[pre]);
    }
    sort_key[i].push_back(i);
  }
  std::vector<size_t> idx(flat.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return sort_key[a] < sort_key[b]; });
  for (size_t i : idx) {
    const std::vector<std::string>& parts = parts_of[i];
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    open.resize(common);
    for (size_t j = common; j + 1 < parts.size(); ++j) {
      os << std::string(2 * j, ' ') << parts[j] << ":\n";
      open.push_back(parts[j]);
    }
    std::string val = flat[i].second;
    bool quote = val.empty() || val.find_first_of(":#,[]{}") != std::string::npos;
    os << std::string(2 * (parts.size() - 1), ' ') << parts.back() << ": " << (quote ? "\"" + val + "\"" : val)
       << "\n";
  }
  return os.str();
}

std::vector<PresetFile> preset_files(const std::string& dir) {
  std::vector<PresetFile> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() != ".yaml") continue;
    std::string stem = f.path().stem().string();
    if (stem.empty() || stem[0] == '_') continue;
    std::replace(stem.begin(), stem.end(), '_', '-');
    PresetFile p{stem, f.path().string(), ""};
    std::ifstream in(f.path());
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("description:", 0) == 0) {
        p.description = line.substr(12);
        p.description.erase(0, p.description.find_first_not_of(" \""));
        if (!p.description.empty() && p.description.back() == '"') p.description.pop_back();
        break;
      }
    out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const PresetFile& a, const PresetFile& b) { return a.name < b.name; });
  return out;
}

}  // namespace xpu
