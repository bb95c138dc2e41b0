// Serving: the best operating point of one chip for a request mix (input and output lengths) under
// optional latency targets, from simulated prefill chunks and decode steps, and the power and cost
// at that point; and `xpusim compare`, the same study across chips with a report.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/run/model_run.h"
#include "sim/run/power_control.h"
#include "sim/cost/cost.h"

namespace xpu {

struct ServeOptions {
  std::int64_t input = 1024, output = 256;
  double ttft_slo_s = 0, tpot_slo_s = 0;  // 0: no target
  std::int64_t max_batch = 512;
  std::int64_t prefill_chunk = 2048;      // tokens per prefill chunk (chunked prefill; vLLM's default token budget is 2048-8192)
  bool progress = false;
};

struct ServePoint {
  std::int64_t batch = 0;
  double ttft_s = 0, tpot_s = 0, throughput_tok_s = 0;
  double avg_power_w = 0, peak_power_w = 0, joules_per_token = 0, clock_ratio = 1;
  bool throttled = false, meets_slo = true;
  EnergyBreakdown energy_per_token;
};

struct ServeResult {
  std::string chip, family, model, precision;
  std::vector<ServePoint> curve;
  int best = -1;                 // index into curve (-1: nothing fits or meets the targets)
  std::string note;
  CostFigures cost;
  double tdp_w = 0;
  bool power_modeled = false;
  std::vector<std::pair<std::string, double>> kernels;  // decode-step breakdown at the best point (label, seconds)
};

ServeResult serve(const ChipModel& chip, const ModelConfig& model, const Scenario& base, const ServeOptions& opt);

}  // namespace xpu
