// The procurement study: one serving scenario on several chips, each at its best operating point, with
// power, cost and performance per dollar relative to the first chip. Pure computation: sim/io writes
// the study folder and renders its table and report.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "sim/serve/layout_search.h"
#include "sim/serve/serve.h"

namespace xpu {

struct CompareRequest {
  std::vector<std::string> chips;   // chip presets or system units ("hgx-h100x8", "hgx-h100x8:tp4"); the
                                    // first is the reference for perf/$ (per chip)
  std::vector<std::string> sets;    // "key=value" for every chip, "chip:key=value" for one
  std::string model = "llama-3.1-8b";
  std::string scenario = "chat";    // chat or long
  std::string study;                // the study's name (default: the scenario)
  DType dtype = DType::fp8;
  ServeOptions serve;
  // Which of serve.{input, output, ttft_slo_s, tpot_slo_s} the user gave (the named scenario fills the rest).
  bool input_given = false, output_given = false, ttft_given = false, tpot_given = false;
  bool tco = false;                 // report the all-in cost of ownership next to the cloud price
  std::vector<double> tiers;        // interactivity tiers in tok/s per user (empty: 20, 50, 100)
  // A searched unit's walks up the sweep stop where a bound shows they cannot serve a tier best
  // (search_layout); false walks every pruned layout until its users fall below the lowest tier, as
  // tests do to check that the bound changes no result.
  bool bound_walks = true;
  // An open-loop (--rate) or offline study screens a searched unit's layouts as a closed loop; the best
  // `finalists` by that screen then run the study's engine under its own load and the layout is chosen among
  // them (compare --finalists; 0: every layout that fits). Each finalist costs one engine run.
  int finalists = 2;
  // Worker processes running the units (compare --jobs): 1 runs them one after another in this process;
  // more runs each unit in a process of its own, at most `jobs` at once, with the same rows.
  int jobs = 1;
  // The named study this request comes from (compare --study) and the models it waits for.
  std::string study_name, study_file, folder;  // folder: under --out when the study runs several models
  std::vector<std::string> waiting;
  std::string waiting_reason;
};

// Interactivity tier: the most output tokens/s the chip serves while each user still streams at least
// `tok_s_per_user` (the best point of the concurrency frontier at or above that speed).
struct InteractivityTier {
  double tok_s_per_user = 0;
  double throughput_tok_s = 0;   // 0: no point of the frontier is that interactive
  std::int64_t concurrency = 0;  // users of a closed loop (0: an open loop, `rate` its arrivals)
  double rate = 0;               // an open loop's Poisson arrivals, requests/s (0: a closed loop)
  int point = -1;                // index into the curve (-1: unreachable)
  double throughput_tok_s_per_chip = 0, usd_per_mtok = 0, tco_usd_per_mtok = 0, tok_s_per_mw = 0;
  PointBound bound;              // what bounds the point (unreachable: the most interactive point)
  std::string why;               // unreachable: why, in one sentence
  std::string layout;            // the layout the tier is served at (a searched unit: the one serving it best)
};
const std::vector<double>& interactivity_tiers();  // 20, 50, 100 tok/s per user
// "20,50,100" -> tiers; InputError naming `what` (a flag, or a study file's key) for anything else.
std::vector<double> parse_tiers(const std::string& what, const std::string& text);
std::vector<InteractivityTier> tiers_of(const ServeResult& r, const std::vector<double>& tiers = interactivity_tiers());

// The economics of one frontier point: cloud and all-in $/Mtok, and tokens/s per provisioned MW
// (provisioned power per chip: its TDP x the facility's PUE; hosts and network not counted).
struct PointEconomics {
  double usd_per_mtok = 0, tco_usd_per_mtok = 0, tok_s_per_mw = 0;
};
double provisioned_w_per_chip(const ChipModel& chip);

// The fastest any user can be served on `chip`: at batch 1 every output token streams the active
// weights from DRAM once (speculative decoding: up to 1 + k tokens per pass), whatever the engine; the
// layout's chips stream their parts side by side (tp splits, a token's experts on up to min(ep, k) chips).
double max_tok_s_per_user_bound(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& so);

// One chip of the study: its best serving point, or why it has none.
struct CompareRow {
  std::string chip, family;         // chip: the entry as given (a chip, or a system unit "hgx-h100x8:tp8")
  int devices = 1;                  // chips of the unit
  bool ran = false;             // false: the chip could not serve the model (error says why)
  std::string error;
  ServeResult result;
  std::string price_source;
  double tdp_w = 0;             // 0: no power model
  double perf_per_usd_rel = 0;  // tokens/s per $/h relative to the first priced chip (0: no price)
  std::string config_yaml;      // the resolved preset
  std::string system_yaml;      // a system unit's resolved system preset (its --set applied); "" for a chip
  std::vector<InteractivityTier> tiers;
  std::vector<PointEconomics> economics;  // one per curve point
  // The unit's frontier: the upper envelope of the curves of the layouts it ran (a searched unit: the
  // chosen layout and each tier's best; otherwise its one curve), each point naming its layout, with
  // its economics; the tiers' `point` indexes it.
  std::vector<ServePoint> frontier;
  std::vector<PointEconomics> frontier_economics;
  CostFigures tco;              // at the best point (usd_per_hour 0: no unit price)
  std::string tco_assumptions;
  double provisioned_w = 0;     // per chip
  std::string validation;       // what public measurements check this chip's family (filled by the caller)
  // A system unit given without a layout: every layout tried (the chosen one first in the report) and why
  // the others were not chosen; empty for a chip or an explicit layout.
  std::vector<LayoutTrial> layouts;
  std::string layout_criterion;
};

// The unit's frontier over the layouts it ran (`row` and `others`, each scaled to the unit): every point
// of a layout's curve that no point of another layout beats at both tok/s per user and throughput per
// chip (the upper envelope), each naming its layout, in order of falling tok/s per user (one layout
// alone: its curve as run); each tier is the best of the layouts' cells there (the most throughput per
// chip), naming its layout, its `point` into the frontier. Fills row.frontier, frontier_economics, tiers.
void merge_frontiers(CompareRow& row, const std::vector<CompareRow>& others);

struct CompareStudy {
  std::string study, model, created, scenario, description;
  ServeOptions serve;
  std::vector<CompareRow> rows;
  std::vector<double> tiers;
  bool tco = false;
  std::vector<std::string> verdict;  // one sentence per tier: who serves it best, and what bounds each chip
  std::string study_name, study_file;  // the named study (compare --study), "" without one
  std::vector<std::string> waiting;    // models the study covers that serve cannot run yet
  std::string waiting_reason;
  bool all_ran() const;
};

// One unit of a study as compare resolves it (`sets` routed as --set: "key=value" to every unit,
// "name:key=value" to the units of that chip or system): its chip preset (the entry, or a system unit's
// chip) and, for a system unit, its system preset (the name before ':'), each resolved with its
// overrides; InputError exactly as compare gives it. What sweeps check and record for compare points.
struct UnitConfig {
  std::string chip, system;            // system "": a chip unit
  std::string chip_yaml, system_yaml;  // resolved presets
};
UnitConfig unit_config(const std::string& entry, const std::vector<std::string>& sets);
// A "name:key=value" override whose name is no unit of `units` (nor a system unit's chip) went nowhere:
// InputError naming it, the units' names and the nearest.
void check_unit_sets(const std::vector<std::string>& units, const std::vector<std::string>& sets);

// Fills the named scenario's lengths and targets where the request left them; returns its description.
std::string apply_named_scenario(CompareRequest& req);
CompareStudy compare_study(CompareRequest req);

// The requests of a named study, one per model: what the flags gave (`given`: chips, model, scenario,
// tiers and name non-empty, dtype when dtype_given) wins over the study's values.
struct StudyDef;
std::vector<CompareRequest> study_requests(const StudyDef& def, const CompareRequest& given, bool dtype_given);

}  // namespace xpu
