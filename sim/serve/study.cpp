#include "sim/serve/study.h"

#include <filesystem>
#include <sstream>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/base/text.h"
#include "sim/base/dtype.h"
#include "sim/serve/compare.h"

namespace fs = std::filesystem;

namespace xpu {

namespace {
std::string studies_dir() { return source_dir() + "/workloads/studies"; }
}  // namespace

const char* default_study_name() { return "frontier"; }

std::vector<std::string> study_names() {
  std::vector<std::string> out;
  for (const auto& f : preset_files(studies_dir())) out.push_back(f.name);
  return out;
}

StudyDef load_study(const std::string& name_or_path) {
  std::string path;
  for (const auto& f : preset_files(studies_dir()))
    if (f.name == name_or_path) path = f.path;
  if (path.empty()) {
    std::error_code ec;
    if (fs::is_directory(name_or_path, ec))
      throw InputError("--study '" + name_or_path + "': is a folder, expected a study name or a study .yaml file", "--study",
                       name_or_path);
    if (!(fs::is_regular_file(name_or_path) && fs::path(name_or_path).extension() == ".yaml")) {
      const std::vector<std::string> names = study_names();
      throw InputError("--study '" + name_or_path + "': no such study; known studies: " + join(names) +
                       nearest_clause(name_or_path, names) + ", or a study .yaml file", "--study", name_or_path);
    }
    path = name_or_path;
  }
  ConfigTree tree = ConfigTree::load_file(path);
  StudyDef s;
  s.file = path;
  s.name = fs::path(path).stem().string();
  for (char& c : s.name)
    if (c == '_') c = '-';
  std::string units, models, tiers, waiting;
  Params p(Params::Mode::Load, &tree);
  p("description", s.description, "What the study asks, in one sentence");
  p("units", units, "Serving units: chip presets or system presets (a system without ':layout' searches its layout)");
  p("models", models, "Models served, each a study of its own over the same units");
  p("dtype", s.dtype, "Weights and activations (as --dtype)", "fp8");
  p("scenario", s.scenario, "Named request scenario (as --scenario)", "chat");
  p("tiers", tiers, "Interactivity tiers in tok/s per user (empty: 20, 50, 100)", "");
  p("waiting", waiting, "Models of the study that the serving engine cannot run yet", "");
  p("waiting_reason", s.waiting_reason, "What the waiting models need", "");
  s.units = split_list(units);
  s.models = split_list(models);
  s.waiting = split_list(waiting);
  p.require(!s.units.empty(), "units", "at least one serving unit");
  p.require(!s.models.empty(), "models", "at least one model");
  // A unit or model given twice is refused here, naming the file (it had been told as a --chips the user never gave).
  auto once = [&](const std::vector<std::string>& items, const std::string& key, const char* what) {
    const std::string twice = first_repeated(items);
    p.require(twice.empty(), key, std::string("each ") + what + " once (" + twice + " is given twice" +
                                      (key == "models" ? ")" : "; two settings of one chip are a sweep's axis)"));
  };
  once(s.units, "units", "unit");
  once(s.models, "models", "model");
  p.require(s.waiting.empty() || !s.waiting_reason.empty(), "waiting_reason", "what the waiting models need");
  for (const std::string& m : s.models) {
    std::string list;
    p("units_for." + m, list, "Serving units for this model instead of `units`", "");
    if (list.empty()) continue;
    s.units_for[m] = split_list(list);
    once(s.units_for[m], "units_for." + m, "unit");
  }
  if (!tiers.empty()) s.tiers = parse_tiers(path + ": tiers", tiers);
  p.finish();
  // Checked here, naming the file and key: used later, a bad value was reported as "--scenario 'chatt'", a flag
  // the user never gave, or as a bare "unknown dtype".
  p.require(s.scenario == "chat" || s.scenario == "long", "scenario", "chat or long (as --scenario)");
  std::string bad_dtype;  // parse_dtype's own words: the valid names
  try {
    parse_dtype(s.dtype);
  } catch (const InputError& e) {
    bad_dtype = e.what();
  }
  p.require(bad_dtype.empty(), "dtype", "a dtype as --dtype takes (" + bad_dtype + ")");
  return s;
}

std::vector<CompareRequest> study_requests(const StudyDef& def, const CompareRequest& given, bool dtype_given) {
  std::vector<CompareRequest> out;
  const std::vector<std::string> models = given.model.empty() ? def.models : std::vector<std::string>{given.model};
  for (const std::string& m : models) {
    CompareRequest r = given;
    r.model = m;
    if (r.chips.empty()) r.chips = def.units_for.count(m) ? def.units_for.at(m) : def.units;
    if (!dtype_given) r.dtype = parse_dtype(def.dtype);
    if (r.scenario.empty()) r.scenario = def.scenario;
    if (r.tiers.empty()) r.tiers = def.tiers;
    if (r.study.empty()) r.study = def.name;
    // A model given as a config.json path is named by its file (the study's name and folder are plain names).
    const std::string plain = m.find('/') != std::string::npos || fs::path(m).extension() == ".json" ? fs::path(m).stem().string() : m;
    if (models.size() > 1) r.study += "-" + plain;
    if (models.size() > 1) r.folder = plain;
    r.study_name = def.name;
    r.study_file = def.file;
    if (given.model.empty()) r.waiting = def.waiting, r.waiting_reason = def.waiting_reason;  // the study's own models
    out.push_back(r);
  }
  return out;
}

}  // namespace xpu
