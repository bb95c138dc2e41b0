// Named procurement studies (workloads/studies/<name>.yaml): the serving units, models, precision,
// scenario and interactivity tiers that `xpusim compare --study NAME` runs, so a study is data, not flags.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace xpu {

struct StudyDef {
  std::string name, file, description;
  std::vector<std::string> units;    // chip presets or system units ("hgx-h100x8" searches its layout)
  std::vector<std::string> models;   // each runs as its own study over the same units
  // A model's own units instead of `units` (units_for.MODEL), e.g. where a family's usual unit cannot
  // hold it and the study adds one that can.
  std::map<std::string, std::vector<std::string>> units_for;
  std::string dtype = "fp8";
  std::string scenario = "chat";
  std::vector<double> tiers;         // empty: compare's defaults (20, 50, 100)
  // Models the study is meant to cover that serve cannot run yet, with what they wait for: listed in
  // the study's output, moved to `models` once the serving engine supports them.
  std::vector<std::string> waiting;
  std::string waiting_reason;
};

// The shipped studies (workloads/studies/*.yaml), sorted by name.
std::vector<std::string> study_names();
// A shipped study by name or a study file by path; InputError naming --study and the known studies.
StudyDef load_study(const std::string& name_or_path);
const char* default_study_name();  // "frontier"

}  // namespace xpu
