// Config tree loading (YAML + inherits + overlays) and schema binding.
#include "sim/base/config.h"

#include <dlfcn.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace xpu {
namespace {

void flatten(const YAML::Node& node, const std::string& prefix, const std::string& file,
             std::map<std::string, ConfigValue>& out) {
  auto where = [&](const YAML::Node& n) { return file + ":" + std::to_string(n.Mark().line + 1); };
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      flatten(kv.second, prefix.empty() ? key : prefix + "." + key, file, out);
    }
  } else if (node.IsSequence()) {
    std::string joined;
    for (const auto& item : node) {
      if (!item.IsScalar()) throw ConfigError(file, prefix, "lists may only hold plain values");
      joined += (joined.empty() ? "" : ", ") + item.as<std::string>();
    }
    out[prefix] = {joined, where(node)};
  } else if (node.IsScalar()) {
    out[prefix] = {node.as<std::string>(), where(node)};
  } else if (node.IsNull() && !prefix.empty()) {
    out[prefix] = {"", where(node)};
  }
}

ConfigTree from_yaml(const YAML::Node& root, const std::string& file) {
  ConfigTree t;
  std::map<std::string, ConfigValue> flat;
  if (!root.IsNull() && !root.IsMap()) throw ConfigError(file, "", "expected a YAML mapping at the top level");
  flatten(root, "", file, flat);
  for (auto& [k, v] : flat) t.set(k, v.text, v.origin);
  return t;
}

}  // namespace

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
  if (!fs::exists(path)) throw ConfigError(path, "", "file not found");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw ConfigError(path, "", std::string("malformed YAML: ") + e.what());
  }
  ConfigTree own = from_yaml(root, path);
  ConfigTree result;
  if (const ConfigValue* parent = own.find("inherits")) {
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
  try {
    ConfigTree t = from_yaml(YAML::Load(yaml), origin);
    t.m_file = origin;
    return t;
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin, "", std::string("malformed YAML: ") + e.what());
  }
}

void ConfigTree::set(const std::string& key, const std::string& value, const std::string& origin) {
  m_entries[key] = {value, origin};
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
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(origin + ": '" + assignment + "': expected key.path=value (for example hbm.bandwidth=4TB/s)");
  std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  // Accept "4TB/s" as well as "4 TB/s": insert the space between number and unit when missing.
  size_t i = 0;
  while (i < value.size() && (isdigit(static_cast<unsigned char>(value[i])) || value[i] == '.')) ++i;
  if (i > 0 && i < value.size() && isalpha(static_cast<unsigned char>(value[i])) && value[i] != 'e')
    value.insert(i, " ");
  set(key, value, origin + " " + key);
}

const ConfigValue* ConfigTree::find(const std::string& key) const {
  auto it = m_entries.find(key);
  return it == m_entries.end() ? nullptr : &it->second;
}

template <class T>
void Params::bind(const std::string& path, T& field, const std::string& desc, const char* def, const char* kind,
                  const std::function<T(const std::string&)>& parse,
                  const std::function<std::string(const T&)>& print) {
  if (m_mode == Mode::Describe) {
    m_schema.push_back({path, kind, def ? def : "", desc, def == nullptr});
    return;
  }
  m_schema.push_back({path, kind, def ? def : "", desc, def == nullptr});
  const ConfigValue* v = m_tree ? m_tree->find(path) : nullptr;
  std::string origin = v ? v->origin : (m_tree ? m_tree->file() : "<config>");
  if (!v && !def) throw ConfigError(origin, path, std::string("missing required field (expected a ") + kind + ")");
  std::string text = v ? v->text : def;
  try {
    field = parse(text);
  } catch (const std::exception& e) {
    throw ConfigError(origin, path, "'" + text + "': " + e.what());
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
            [](const T& x) { return x.str(); });                                                     \
  }
XPU_BIND_UNIT(Seconds)
XPU_BIND_UNIT(Hertz)
XPU_BIND_UNIT(Bandwidth)
XPU_BIND_UNIT(Bytes)
XPU_BIND_UNIT(Watts)
XPU_BIND_UNIT(Joules)
#undef XPU_BIND_UNIT

void Params::operator()(const std::string& path, double& f, const std::string& desc, const char* def) {
  bind<double>(path, f, desc, def, "number", parse_number, print_number);
}
void Params::operator()(const std::string& path, int& f, const std::string& desc, const char* def) {
  bind<int>(
      path, f, desc, def, "integer",
      [](const std::string& t) {
        double v = parse_number(t);
        if (v != static_cast<int>(v)) throw std::invalid_argument("expected an integer");
        return static_cast<int>(v);
      },
      [](const int& v) { return std::to_string(v); });
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

void Params::require(bool ok, const std::string& path, const std::string& expected) const {
  if (ok || m_mode == Mode::Describe) return;
  const ConfigValue* v = m_tree ? m_tree->find(path) : nullptr;
  throw ConfigError(v ? v->origin : (m_tree ? m_tree->file() : "<config>"), path,
                    (v ? "'" + v->text + "': " : std::string()) + "expected " + expected);
}

void Params::finish() const {
  if (m_mode != Mode::Load || !m_tree) return;
  std::vector<std::string> known;
  for (const auto& p : m_schema) known.push_back(p.path);
  const bool own_section = !m_schema.empty() && (m_schema.front().path.rfind("power.", 0) == 0 ||
                                                  m_schema.front().path.rfind("cost.", 0) == 0);
  for (const auto& [k, v] : m_tree->entries()) {
    if (m_consumed.count(k)) continue;
    // `power.*` and `cost.*` are family-independent sections that the registry binds separately
    // (with the same strictness); a family's own schema leaves them alone.
    if (!own_section && (k.rfind("power.", 0) == 0 || k.rfind("cost.", 0) == 0)) continue;
    std::string hint = nearest_of(k, known);
    throw ConfigError(v.origin, k, "unknown key" + (hint.empty() ? "" : " (nearest valid key: " + hint + ")"));
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
  std::vector<std::pair<std::string, std::string>> sorted;
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> groups;
  // stable grouping by full parent path recursively is achieved by a stable sort on the prefix order
  std::map<std::string, size_t> first_seen;
  for (size_t i = 0; i < flat.size(); ++i) {
    auto parts = split(flat[i].first);
    std::string pre;
    for (size_t j = 0; j + 1 < parts.size(); ++j) {
      pre += (j ? "." : "") + parts[j];
      first_seen.emplace(pre, i);
    }
  }
  std::vector<size_t> idx(flat.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  auto sort_key = [&](size_t i) {
    auto parts = split(flat[i].first);
    std::vector<size_t> key;
    std::string pre;
    for (size_t j = 0; j + 1 < parts.size(); ++j) {
      pre += (j ? "." : "") + parts[j];
      key.push_back(first_seen[pre]);
    }
    key.push_back(i);
    return key;
  };
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return sort_key(a) < sort_key(b); });
  for (size_t i : idx) {
    auto parts = split(flat[i].first);
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

}  // namespace xpu
