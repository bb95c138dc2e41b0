// `xpusim run`: a whole transformer forward pass (prefill, decode steps, or a request) on one chip,
// kernel by kernel: the model's op graph, each unfused op lowered for the chip family and simulated
// transaction by transaction, folded layers multiplied by their count.
#pragma once
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sim/run/registry.h"
#include "sim/run/power_control.h"
#include "sim/run/runner.h"
#include "workloads/footprint.h"
#include "workloads/graph.h"
#include "workloads/model.h"
#include "workloads/scenario.h"

namespace xpu {

struct NodeResult {
  std::string label, group, fused_into;
  std::string op;        // op kind
  std::string shape;
  int count = 1;         // runs per step (folded layers)
  bool fused = false;
  double time_s = 0;     // per run (all its kernel launches); x count per step
  double flops = 0, dram_bytes = 0, min_bytes = 0, roofline_s = 0;
  std::string bound, strategy;
  std::uint64_t transactions = 0;
  EnergyEvents events;   // per run of this node (x count per step)
};

struct StepResult {
  bool decode = false;
  std::int64_t context_len = 0;
  std::int64_t repeat = 1;   // how many real steps this simulated step stands for
  double time_s = 0;
  double flops = 0, dram_bytes = 0;
  std::vector<NodeResult> nodes;
  EnergyEvents events;       // one step
};

struct ModelRunResult {
  std::string chip, family, model;
  Scenario scenario;
  std::string fusion;
  Footprint memory;
  double capacity_bytes = 0;
  double ttft_s = 0, tpot_s = 0, tokens_per_s = 0, request_s = 0;
  std::vector<StepResult> steps;
  double wall_s = 0;
  std::uint64_t transactions = 0;
  std::uint64_t simulated_kernels = 0, cached_kernels = 0;
  EnergyEvents events;       // the whole run: every step times its repeat
  PowerResult power;         // at the settled clock (sustained serving)
};

struct ModelRunOptions {
  bool check_memory = true;
  int max_decode_samples = 4;
  bool sustained = true;     // serving runs back to back: the TDP limit applies
};

// Kernels of one graph simulated (or found in the process-wide cache of identical ops on the same
// chip configuration) for a step.
// What a run stands for, the same whether its kernels were simulated now or taken from the process's
// cache: the distinct kernels it needs and their transactions; cached_kernels says how many of them
// an earlier call had already simulated (so this one did not).
struct StepGraphStats {
  std::uint64_t transactions = 0, simulated_kernels = 0, cached_kernels = 0;
  std::set<std::string> seen;  // kernels already counted in this run
  // Only estimate: kernels not yet simulated in this process are lowered and their transactions
  // estimated (estimated_transactions); nothing is simulated and the step result is empty.
  bool estimate_only = false;
  double estimated_transactions = 0;
};
// One forward step: every unfused node of `g` lowered and simulated on `chip` (each distinct op once per
// chip configuration and process), times summed over nodes x count. `resident_weight_bytes`: the
// model's weights that stay on the chip with each op (on-chip weight placement policies read it).
StepResult run_step_graph(const ChipModel& chip, Graph g, double resident_weight_bytes, StepGraphStats* stats = nullptr);

ModelRunResult run_model(const ChipModel& chip, const ModelConfig& model, const Scenario& scenario,
                         const ModelRunOptions& opt = {});

}  // namespace xpu
