#include "sim/run/registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <tuple>
#include <utility>

namespace fs = std::filesystem;

namespace xpu {

std::vector<DType> ChipModel::dtypes() const {
  std::vector<DType> out;
  for (DType d : all_dtypes())
    if (peak_flops(d) > 0) out.push_back(d);
  return out;
}

namespace {
// The lowering's refusal of a probe op, or "" when it lowers.
std::string refusal(const ChipModel& chip, const OpSpec& op) {
  try {
    chip.lower(op, {});
    return "";
  } catch (const InputError& e) {
    return e.what();
  }
}

// The lowering's refusal of a small GEMM with these dtypes, or "" when it lowers.
std::string weights_refusal(const ChipModel& chip, DType weights, DType activations) {
  OpSpec op;
  op.kind = OpKind::Gemm;
  op.label = "probe";
  op.dtype = activations;
  op.wdtype = weights;
  op.m = 16, op.n = 512, op.k = 512;
  return refusal(chip, op);
}
}  // namespace

bool runs_weights(const ChipModel& chip, DType weights, DType activations) { return weights_refusal(chip, weights, activations).empty(); }

void check_runs_weights(const ChipModel& chip, DType weights, DType activations) {
  // Weights wider than the activations: a family may run such GEMMs in the weight dtype (the TPU), which
  // the probe does not ask for; those are left to the kernels' own lowering.
  if (bytes_per_element(weights) > bytes_per_element(activations)) return;
  std::string why = weights_refusal(chip, weights, activations);
  if (why.empty()) return;
  if (const size_t at = why.find("): "); at != std::string::npos) why = why.substr(at + 3);  // the reason, not the probe's shape
  std::vector<std::string> runs;
  for (DType d : chip.dtypes()) runs.push_back(name(d));
  // A reason that already names what to use ("(use bf16, ...)") is not followed by a second list.
  const bool names_them = why.find("(use ") != std::string::npos;
  throw InputError("weights " + std::string(name(weights)) + " with activations " + name(activations) + " (--dtype/--wdtype/--adtype): " +
                   chip.name() + ": " + why + (names_them ? "" : " (its GEMM dtypes: " + join(runs) + ")"), "--dtype", "");
}

namespace {
// The lowering's refusal of a small decode attention whose KV cache is `kv`, or "" when it lowers.
std::string kv_cache_refusal(const ChipModel& chip, DType kv, DType activations) {
  OpSpec op;
  op.kind = OpKind::Attention;
  op.label = "probe";
  op.decode = true;
  // Q and the cache meet in one MMA at the wider of the two (workloads/graph.cpp, attention()).
  op.dtype = bytes_per_element(kv) > bytes_per_element(activations) ? kv : activations;
  op.odtype = activations;
  op.wdtype = kv;
  op.batch = 1, op.heads = 8, op.kv_heads = 8, op.seq_q = 1, op.seq_kv = 256, op.head_dim = op.head_dim_v = 128;
  return refusal(chip, op);
}
}  // namespace

void check_runs_dtypes(const ChipModel& chip, DType weights, DType activations, DType kv) {
  check_runs_weights(chip, weights, activations);
  check_runs_kv_cache(chip, kv, activations);
}

void check_runs_kv_cache(const ChipModel& chip, DType kv, DType activations) {
  if (kv == activations) return;
  std::string why = kv_cache_refusal(chip, kv, activations);
  // A probe the chip refuses whatever the cache's dtype is left to the model's own attention lowering.
  if (why.empty() || !kv_cache_refusal(chip, activations, activations).empty()) return;
  if (const size_t at = why.find("): "); at != std::string::npos) why = why.substr(at + 3);  // the reason, not the probe's shape
  std::vector<std::string> runs;
  for (DType d : all_dtypes())
    if (kv_cache_refusal(chip, d, activations).empty()) runs.push_back(name(d));
  const bool names_them = why.find("(use ") != std::string::npos;
  throw InputError("KV cache " + std::string(name(kv)) + " (--kvdtype): " + chip.name() + ": " + why +
                   (names_them ? "" : " (its KV-cache dtypes with " + std::string(name(activations)) + " activations: " + join(runs) + ")"), "--kvdtype", "");
}

namespace {
std::vector<FamilyEntry>& reg() {
  static std::vector<FamilyEntry> r;
  return r;
}
}  // namespace

void register_family(const FamilyEntry& f) {
  for (auto& e : reg())
    if (e.name == f.name) return;
  reg().push_back(f);
}

const std::vector<FamilyEntry>& families() {
  register_builtin_families();
  return reg();
}

const FamilyEntry& family(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& f : families()) {
    if (f.name == name) return f;
    names.push_back(f.name);
  }
  // A chip's name where its family is expected (`xpusim params h100-sxm`): the family to give (QA qa48).
  for (const PresetInfo& p : list_presets())
    if (p.name == name)
      throw InputError("'" + name + "' is a chip, not a chip family: its family is " + p.family + " (expected one of " + join(names) +
                       "; xpusim params " + p.family + " lists its fields, --set KEY=VALUE changes " + name + "'s)", "", name);
  throw InputError("unknown chip family '" + name + "'" + nearest_clause(name, names) + "; families: " + join(names), "", name);
}

std::unique_ptr<ChipModel> load_from_tree(const ConfigTree& tree, const std::string& fam);

std::vector<PresetInfo> list_presets() {
  std::vector<PresetInfo> out;
  fs::path chips = fs::path(source_dir()) / "chips";
  if (!fs::exists(chips)) return out;
  for (const auto& fam : fs::directory_iterator(chips)) {
    fs::path presets = fam.path() / "presets";
    if (!fs::is_directory(presets)) continue;
    bool built = false;  // presets of a family that is not compiled into this build are not offered
    for (const auto& f : families()) built |= f.name == fam.path().filename().string();
    if (!built) continue;
    for (const auto& f : preset_files(presets.string()))
      out.push_back({f.name, fam.path().filename().string(), f.path, f.description});
  }
  std::sort(out.begin(), out.end(), [](const PresetInfo& a, const PresetInfo& b) {
    return a.family != b.family ? a.family < b.family : a.name < b.name;
  });
  return out;
}

PresetTdp preset_tdp(const PresetInfo& p) {
  PresetTdp out;
  const ConfigTree tree = ConfigTree::load_file(p.path);
  const ConfigValue* tdp = tree.find("power.tdp");
  if (!tdp) return out;
  out.text = tdp->text;
  if (const ConfigValue* design = tree.find("power.design_tdp"); design && design->text != tdp->text) out.design = design->text;
  // The value's origin is "<file>:<line>"; its line's comment says `# source:` or `# assumed:` (STYLE.md).
  const auto colon = tdp->origin.rfind(':');
  if (colon == std::string::npos) return out;
  std::ifstream in(tdp->origin.substr(0, colon));
  std::string line;
  for (long n = std::strtol(tdp->origin.c_str() + colon + 1, nullptr, 10); n > 0 && std::getline(in, line); --n) {}
  const auto hash = line.find('#');
  out.assumed = hash != std::string::npos && line.find("assumed:", hash) != std::string::npos;
  return out;
}

namespace {
// A what-if on the nominal clock (the first of clock_keys(), the clock the simulation runs at) describes
// silicon that clocks that much faster or slower: its boost clock, a property of the same silicon, moves
// with it, as its voltage-frequency curve does (power.voltage_ratio is a function of the clock ratio). An
// absolute boost clock left behind would make a chip whose nominal clock is raised past it run below the
// clock it was simulated at, timed by rescaling a simulation whose memory stalls a slower core would have
// hidden (H100 4096^3 GEMM: 178 / 197 / 220 us at 1.25x / 1.5x / 2x sm.clock). A boost clock set in the same
// run (`--set power.boost_clock=...`) is taken as given. True when `tree` was changed.
bool scale_boost_with_clock(ConfigTree& tree, const ConfigTree& preset, const ChipModel& model) {
  const std::vector<std::string> keys = model.clock_keys();
  const ConfigValue* boost = tree.find("power.boost_clock");
  const ConfigValue* preset_boost = preset.find("power.boost_clock");
  if (keys.empty() || !model.power() || !boost || !preset_boost) return false;
  if (boost->origin != preset_boost->origin || boost->text != preset_boost->text) return false;  // set in this run
  const ConfigValue* clock = tree.find(keys.front());
  const ConfigValue* preset_clock = preset.find(keys.front());
  if (!clock || !preset_clock || clock->origin == preset_clock->origin) return false;  // the preset's clock
  const double was = Hertz::parse(preset_clock->text).value(), boost_hz = model.power()->boost_clock.value();
  if (was <= 0 || boost_hz <= 0 || model.clock_hz() == was) return false;  // 0 Hz: the nominal clock already
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f MHz", boost_hz * model.clock_hz() / was / 1e6);
  tree.set("power.boost_clock", buf, clock->origin + " (" + keys.front() + " what-if: boost clock scaled with it)");
  return true;
}

// A what-if on the TDP (`--set power.tdp=...`: the same chip under another power limit, as `nvidia-smi -pl` or a
// deployment's provisioned power sets it) moves the fast loop's limit with it: power.short_term_limit keeps its ratio
// to the TDP (assumed: no trace covers a changed power limit; the b200 preset derives its own limit from the H100's
// at the same ratio). Left absolute, a TDP raised past it was refused as a short-term limit below the TDP, in a key
// the run never set (H100: --set power.tdp=800W against 718 W). A short-term limit set in the same run is taken as
// given, and 0 W (no fast loop) stays 0. True when `tree` was changed.
bool scale_short_term_with_tdp(ConfigTree& tree, const ConfigTree& preset) {
  const ConfigValue *tdp = tree.find("power.tdp"), *preset_tdp = preset.find("power.tdp");
  const ConfigValue *lim = tree.find("power.short_term_limit"), *preset_lim = preset.find("power.short_term_limit");
  if (!tdp || !preset_tdp || !lim || !preset_lim) return false;
  if (lim->origin != preset_lim->origin || lim->text != preset_lim->text) return false;  // set in this run
  if (tdp->origin == preset_tdp->origin && tdp->text == preset_tdp->text) return false;  // the preset's TDP
  double was = 0, now = 0, limit = 0;
  try {
    was = Watts::parse(preset_tdp->text).value(), now = Watts::parse(tdp->text).value(), limit = Watts::parse(lim->text).value();
  } catch (const std::exception&) {
    return false;  // the family's schema names the bad value
  }
  if (was <= 0 || now <= 0 || limit <= 0 || now == was) return false;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f W", limit * now / was);
  tree.set("power.short_term_limit", buf, tdp->origin + " (power.tdp what-if: short-term limit scaled with it)");
  return true;
}
}  // namespace

std::unique_ptr<ChipModel> load_chip(const std::string& name_or_path, const std::vector<std::string>& overlays) {
  std::string path, fam;
  std::vector<std::string> names;
  for (const auto& p : list_presets()) {
    names.push_back(p.name);
    if (p.name == name_or_path) path = p.path, fam = p.family;
  }
  if (path.empty()) {
    std::error_code ec;  // an odd path (too long, unreadable folder) is an unknown chip, never a filesystem_error
    if (fs::path(name_or_path).extension() == ".yaml" && fs::exists(fs::symlink_status(name_or_path, ec))) {
      path = name_or_path;
    } else if (fs::path(name_or_path).extension() == ".yaml" || name_or_path.find('/') != std::string::npos) {
      // A path that is not there was "unknown chip './my.yaml' ... (did you mean a100-sxm?)".
      throw InputError(name_or_path + (fs::exists(fs::symlink_status(name_or_path, ec)) ? ": not a chip file" : ": no such chip file") +
                       " (expected a preset name, xpusim list chips, or the path of a chip .yaml)", "", name_or_path);
    } else {
      throw InputError("unknown chip '" + name_or_path + "'; valid chips: " + join(names) + nearest_clause(name_or_path, names), "", name_or_path);
    }
  }
  ConfigTree tree = ConfigTree::load_file(path);
  if (fam.empty()) {
    const ConfigValue* f = tree.find("family");
    if (!f) throw ConfigError(path, "family", "missing (expected the chip family, e.g. gpu)");
    fam = f->text;
    std::vector<std::string> fams;  // named by file and key (was "unknown chip family 'gpux'; families: ...")
    for (const auto& e : families()) fams.push_back(e.name);
    if (std::find(fams.begin(), fams.end(), fam) == fams.end())
      throw ConfigError(f->origin, "family", "'" + fam + "': unknown chip family (expected " + join(fams) + ")");
  }
  tree.set("name", name_or_path.find('/') == std::string::npos ? name_or_path : fs::path(path).stem().string(),
           path);
  const ConfigTree preset = tree;
  tree.apply_overlays(overlays);
  scale_short_term_with_tdp(tree, preset);
  std::unique_ptr<ChipModel> model = load_from_tree(tree, fam);
  return scale_boost_with_clock(tree, preset, *model) ? load_from_tree(tree, fam) : std::move(model);
}

namespace {
// A key under the section, or the section's own name given a value (`power: 5`), which the section's
// schema then refuses as a value where keys belong (Params::finish) rather than the family's as unknown.
bool in_section(const std::string& key, const char* section) {
  return key == section || key.rfind(std::string(section) + ".", 0) == 0;
}
}  // namespace

// Where the family's schema refused the tree: a key it does not know that names a power.* or cost.* figure
// without its section (`--set tdp=300W`) is named in full. Params' own hint only sees the family's keys
// (`tdp` -> `name`). Looked for only on that error, not on every load.
[[noreturn]] static void rethrow_with_section_leaf(const ConfigTree& chip_tree, const std::string& fam) {
  const std::vector<ParamInfo> own = family(fam).schema();
  for (const auto& [k, v] : chip_tree.entries()) {
    if (std::any_of(own.begin(), own.end(), [&](const ParamInfo& q) { return q.path == k; })) continue;
    for (const ParamInfo& p : power_cost_schema())
      if (ends_with_part(p.path, '.', k)) {
        const std::string section = p.path.substr(0, p.path.size() - k.size() - 1);
        throw ConfigError(v.origin, k, "unknown key (did you mean " + p.path + "? " + section + " figures are under '" + section + ".')");
      }
  }
  // A misspelt key (`sm.cuont`) leaves its field missing, and the schema reported the field ("sm.count: missing required
  // field") before it reached the key: the key the file gives and the schema does not know is the one to fix.
  try {
    throw;
  } catch (const MissingFieldError&) {
    std::vector<std::string> known;
    for (const ParamInfo& q : own) known.push_back(q.path);
    for (const auto& [k, v] : chip_tree.entries())
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        throw ConfigError(v.origin, k, "unknown key" + nearest_clause(k, known, kNearestKey));
      }
    throw;
  }
}

namespace {
// The layer that gave `key` its value: the preset file (a parent or a child of `inherits`, origin "file:line")
// or "--set" (origin "--set key"); "" where the default holds.
std::string layer_of(const ConfigTree& t, const std::string& key) {
  const ConfigValue* v = t.find(key);
  if (!v) return "";
  if (v->origin.rfind("--set", 0) == 0) return "--set";
  const auto colon = v->origin.rfind(':');
  const bool line = colon != std::string::npos && colon + 1 < v->origin.size() &&
                    v->origin.find_first_not_of("0123456789", colon + 1) == std::string::npos;
  return line ? v->origin.substr(0, colon) : v->origin;
}

// `published` and `source` vouch for the price of the layer that gave them: a price given without them
// (--set cost.chip_hour=1 on h100-sxm, or a preset that inherits h100_sxm.yaml and changes only the price)
// is the user's assumption. compare printed "published list price" and AWS's source beside the user's
// $1.00 (QA session 40). Likewise a unit price and its source.
// Done on the tree before it is parsed, so config.resolved.yaml says what the reports say (it kept the preset's
// `published: true` under a --set price). Returns who set the price and the unit price (CostSpec::price_set_by):
// "--set", or a user's file that changed a price its parent vouched for; compare called a --set price an
// "assumed list price" (QA qa48).
std::pair<std::string, std::string> drop_unvouched_price_provenance(ConfigTree& t) {
  // A shipped preset that inherits a price's voucher (tpu_v5p.yaml's price under tpu_v5e.yaml's `published: false`)
  // states its own assumption; a user's file does not.
  const fs::path shipped = fs::weakly_canonical(fs::path(source_dir()) / "chips");
  auto is_shipped = [&](const std::string& file) {
    const fs::path f = fs::weakly_canonical(fs::path(file));
    return std::mismatch(shipped.begin(), shipped.end(), f.begin(), f.end()).first == shipped.end();
  };
  auto set_by = [&](const char* price, const char* voucher) {
    const std::string at = layer_of(t, price);
    if (at == "--set") return at;
    return t.find(price) && t.find(voucher) && layer_of(t, voucher) != at && !is_shipped(at) ? at : std::string();
  };
  const std::pair<std::string, std::string> by = {set_by("cost.chip_hour", "cost.published"),
                                                  set_by("cost.unit_price", "cost.unit_price_source")};
  const std::string at = layer_of(t, "cost.chip_hour");
  const ConfigValue* price = t.find("cost.chip_hour");
  const std::string origin = price ? price->origin : t.file();
  if (t.find("cost.published") && layer_of(t, "cost.published") != at) t.set("cost.published", "false", origin);
  if (t.find("cost.source") && layer_of(t, "cost.source") != at)
    t.set("cost.source", at == "--set" ? "as given with --set" : at.empty() ? "" : "as given in " + at, origin);
  if (t.find("cost.unit_price_source") && layer_of(t, "cost.unit_price_source") != layer_of(t, "cost.unit_price"))
    t.set("cost.unit_price_source", "", origin);
  return by;
}
}  // namespace

std::unique_ptr<ChipModel> load_from_tree(const ConfigTree& tree, const std::string& fam) {
  // power.* and cost.* are parsed here for every family; the rest goes to the family's schema.
  ConfigTree chip_tree, pc_tree;
  for (const auto& [k, v] : tree.entries())
    (in_section(k, "power") || in_section(k, "cost") ? pc_tree : chip_tree).set(k, v);  // the whole entry: a field-by-field copy had dropped `list`
  chip_tree.set_file(tree.file());
  pc_tree.set_file(tree.file());
  std::unique_ptr<ChipModel> model;
  try {
    model = family(fam).load(chip_tree);
  } catch (const ConfigError&) {
    rethrow_with_section_leaf(chip_tree, fam);
  }
  const auto set_by = drop_unvouched_price_provenance(pc_tree);
  Params p(Params::Mode::Load, &pc_tree);
  model->m_has_power = pc_tree.find("power.tdp") != nullptr || pc_tree.find("power") != nullptr;
  if (model->m_has_power) describe(p, model->m_power, "power.");
  describe(p, model->m_cost, "cost.");
  std::tie(model->m_cost.price_set_by, model->m_cost.unit_price_set_by) = set_by;
  p.finish();
  model->m_tree = tree;
  model->m_family_name = fam;
  model->m_power_yaml = p.resolved_yaml();
  return model;
}

std::unique_ptr<ChipModel> ChipModel::at_clock(double ratio) const {
  std::vector<std::string> keys = clock_keys();
  if (keys.empty() || m_family_name.empty()) return nullptr;
  ConfigTree t = m_tree;
  for (const auto& k : keys) {
    const ConfigValue* v = t.find(k);
    if (!v) continue;
    Hertz f = Hertz::parse(v->text);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f MHz", f.value() * ratio / 1e6);
    t.set(k, buf, "DVFS");
  }
  return load_from_tree(t, m_family_name);
}

std::vector<ParamInfo> power_cost_schema() {
  PowerSpec ps;
  CostSpec cs;
  Params p(Params::Mode::Describe, nullptr);
  describe(p, ps, "power.");
  describe(p, cs, "cost.");
  return p.schema();
}

}  // namespace xpu
