// The procurement study: one serving scenario on several chips, each at its best operating point, with
// power, cost and performance per dollar relative to the first chip. Pure computation: sim/io writes
// the study folder and renders its table and report.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "sim/serve/serve.h"

namespace xpu {

struct CompareRequest {
  std::vector<std::string> chips;   // presets; the first is the reference for perf/$
  std::vector<std::string> sets;    // "key=value" for every chip, "chip:key=value" for one
  std::string model = "llama-3.1-8b";
  std::string scenario = "chat";    // chat or long
  std::string study;                // the study's name (default: the scenario)
  DType dtype = DType::fp8;
  ServeOptions serve;
  // Which of serve.{input, output, ttft_slo_s, tpot_slo_s} the user gave (the named scenario fills the rest).
  bool input_given = false, output_given = false, ttft_given = false, tpot_given = false;
};

// Interactivity tier: the most output tokens/s the chip serves while each user still streams at least
// `tok_s_per_user` (the best point of the concurrency frontier at or above that speed).
struct InteractivityTier {
  double tok_s_per_user = 0;
  double throughput_tok_s = 0;   // 0: no point of the frontier is that interactive
  std::int64_t concurrency = 0;
};
const std::vector<double>& interactivity_tiers();  // 20, 50, 100 tok/s per user
std::vector<InteractivityTier> tiers_of(const ServeResult& r);

// One chip of the study: its best serving point, or why it has none.
struct CompareRow {
  std::string chip, family;
  bool ran = false;             // false: the chip could not serve the model (error says why)
  std::string error;
  ServeResult result;
  std::string price_source;
  double tdp_w = 0;             // 0: no power model
  double perf_per_usd_rel = 0;  // tokens/s per $/h relative to the first priced chip (0: no price)
  std::string config_yaml;      // the resolved preset
  std::vector<InteractivityTier> tiers;
};

struct CompareStudy {
  std::string study, model, created, scenario, description;
  ServeOptions serve;
  std::vector<CompareRow> rows;
};

// Fills the named scenario's lengths and targets where the request left them; returns its description.
std::string apply_named_scenario(CompareRequest& req);
CompareStudy compare_study(CompareRequest req);

}  // namespace xpu
