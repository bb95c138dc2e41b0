// `xpusim run`: a whole transformer forward pass (prefill, decode steps, or a request) on one chip,
// kernel by kernel: the model's op graph, each unfused op lowered for the chip family and simulated
// transaction by transaction, folded layers multiplied by their count.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/interconnect/system_spec.h"
#include "sim/run/registry.h"
#include "sim/run/step_collective.h"
#include "sim/run/power_control.h"
#include "sim/run/runner.h"
#include "sim/system/system_trace.h"
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
  std::string bound_unit;  // the busiest unit of its (first) kernel and that unit's busy share (KernelResult)
  double bound_share = 0;
  std::uint64_t transactions = 0;
  EnergyEvents events;   // per run of this node (x count per step)
  int stage = 0;         // pipeline stage whose rank runs it
  double comm_bytes = 0; // collectives: bytes per rank (nccl-tests size); their algorithm is in `strategy`
};

struct StepResult {
  bool decode = false;
  std::int64_t context_len = 0;
  std::int64_t repeat = 1;   // how many real steps this simulated step stands for
  bool prompt = false;       // a decode-graph step over prompt tokens (StepPlan::prompt): part of the TTFT
  double time_s = 0;
  double flops = 0, dram_bytes = 0;  // the whole system (every device)
  std::vector<NodeResult> nodes;
  EnergyEvents events;       // one step of one device
  int devices = 1;
  std::uint64_t comm_pieces = 0;  // link transfers the fabric simulated
  // On a system: its collectives in time order (a pipeline's steady state: the second iteration's; a block's
  // repetitions left out of the simulation at its period, as time_s takes them).
  std::vector<StepCollective> collectives;
  // Where the cores' path to the HBM, not the HBM, bounded most of its kernels' time (dram_path.h; collectives left out).
  std::optional<DramPathBound> dram_path;
};
// The step's dram_path from its kernels (step_dram_path fills StepResult::dram_path).
std::optional<DramPathBound> step_dram_path(const ChipModel& chip, const StepResult& step);

// The system a model runs on (sim/run/system_run.h): chips, fabric and what the software overlaps.
struct SystemContext {
  SystemSpec spec;         // the chips and fabric the layout runs on
  bool overlap = false;    // the software overlaps communication with independent compute
  bool fold = true;        // replay identical kernels across ranks (see system_run.h)
  SystemTrace* trace = nullptr;  // receives every rank's ops and the fabric's transfers (system_trace.h)
};

struct ModelRunResult {
  std::string chip, family, model;
  std::string system;        // the system preset ("" for one chip)
  std::string layout;        // "tp8", "dp2 x tp4", ...
  int devices = 1;
  bool overlap = false;      // collectives overlapped with independent compute (SystemContext::overlap)
  bool experts = false;      // the model has routed experts (the layout's expert_tp applies)
  Scenario scenario;
  std::string fusion;
  Footprint memory;
  double capacity_bytes = 0;
  double ttft_s = 0, tpot_s = 0, tokens_per_s = 0, request_s = 0;  // tpot_s: the mean decode step
  // The median of the request's per-token decode times, as latency tables report TPOT ("TPOT Latency P50"):
  // each simulated step counts for the steps it stands for; with compiled buckets (Scenario::buckets) every
  // step of a bucket runs one graph, so it is exact, otherwise the sampled steps stand for their ranges.
  double tpot_p50_s = 0;
  std::vector<StepResult> steps;
  double wall_s = 0;
  std::uint64_t transactions = 0;
  std::uint64_t simulated_kernels = 0, cached_kernels = 0;
  EnergyEvents events;       // the whole run: every step times its repeat
  PowerResult power;         // the clocks the power manager ran it at (times are at those clocks)
};

struct ModelRunOptions {
  bool check_memory = true;
  int max_decode_samples = 4;
  bool sustained = true;     // steady state: serving runs back to back, the TDP average already reached
  // >= 0 (with sustained off): the run as a benchmark times it after this many back-to-back runs of it from
  // an idle chip, at the clock the power manager holds there (power_after_runs, as KernelStudyOptions).
  double after_runs = -1;
  // Time the run after `runs` warm-up runs (a user's --after-runs / after_runs=: checked, replaces the steady state).
  void time_after_runs(double runs);
  std::optional<SystemContext> system;  // unset: one chip
  // The run's trace (`run --trace`): its steps as the system runtime runs them, one chip or a system.
  SystemTrace* trace = nullptr;
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
// Collective nodes are not kernels: they are left at zero time here and timed by the system runtime.
// `fresh`: simulate each distinct kernel of this graph anew (no replay of another rank's simulation; the unfolded runs).
StepResult run_step_graph(const ChipModel& chip, Graph g, double resident_weight_bytes, StepGraphStats* stats = nullptr,
                          bool fresh = false);

// The op a step graph's node runs as: a GEMM whose weights are wider than its activations (the bf16 LM
// head of an fp8 model) in the weight precision, as the serving stacks convert the activations up, with
// the model's weights that stay on the chip beside it (on-chip weight placement policies read them).
void prepare_step_op(OpSpec& op, double resident_weight_bytes);

// One forward step of a model on one chip as a single simulation that can be stepped through (the Python
// Session): each unfused kernel of the step graph once, in order, lowered as run_step_graph lowers it but
// with its graph label (named "layer.qkv_proj" in traces; distinct operands at distinct addresses, since
// these kernels share one chip's caches), and how many times the step runs it (identical layers folded).
struct StepPass {
  std::vector<KernelPrograms> kernels;
  std::vector<int> launch_counts;  // per launch, in launch order: the runs per step of its graph node
};
StepPass step_pass(const ChipModel& chip, const ModelConfig& model, const Scenario& sc);
// A stepped forward pass's scenario from run's flags, as `xpusim run` makes it (make_scenario): --dtype fp4
// is fp4 weights with fp8 activations and KV cache there. A session that set fp4 everywhere stepped an fp4
// KV cache that run never runs (B200 Llama-3.1-8B decode batch 16: 1.82 against run's 2.14 ms; QA session 40).
Scenario session_scenario(const std::string& phase, std::int64_t batch, std::int64_t input, const std::string& dtype);
// The dtype a step's GEMMs compute in (prepare_step_op: the wider of weights and activations): its peak.
DType step_gemm_dtype(const Scenario& sc);
// Gives each kernel of a pass's result its runs per step and returns the step's time, the sum of
// count x time over the kernels (what run_model reports for the step at the clock the pass ran at).
double fold_step_pass(RunResult& r, const std::vector<int>& launch_counts);
// A stepped simulation's answer (the Python Session), simulated at the nominal clock, taken to the clocks
// of the command that asks the same question, as that command takes its own: one kernel (empty
// `launch_counts`) as `xpusim kernel` (run_kernel_study: a burst from an idle chip), a model's pass as
// `xpusim run` (run_model: steady state, the power manager given the whole step, each kernel x its runs
// per step). `r`'s times become those at the managed clocks (apply_power); the records keep the simulated ones.
PowerResult manage_session_power(const ChipModel& chip, RunResult& r, const std::vector<int>& launch_counts);
// What a Python session asks: a model's forward step (each launch's runs per step in the stepped pass, and run's
// answer, asked before the stepped simulation opens: one simulation at a time per thread) or, with no model
// (`model` false), one kernel.
struct SessionQuestion {
  std::vector<int> launch_counts;
  bool model = false;
  double run_step_s = 0;
  PowerResult run_power;
};
// A model session's question, answered by `xpusim run`'s own path (run_model on the same scenario).
SessionQuestion ask_run(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, std::vector<int> launch_counts);
// The session's answer. A kernel: at the clocks `xpusim kernel` runs it (manage_session_power). A model's step:
// `step_s` and `power` are `xpusim run`'s own (run_model on the same scenario: each graph node simulated alone from
// a cold chip, the power manager given the whole step), and the stepped kernels' times are taken to run's clocks;
// `stepped_s` is the stepped pass's count x time, one simulation whose kernels share the chip's caches at distinct
// addresses and run a split attention as two timed launches, so it differs from run's by a few tenths of a percent
// (H100 Llama-3.1-8B decode batch 8: 6.352 against run's 6.342 ms; QA session 42: one answer per question).
struct SessionAnswer {
  PowerResult power;
  double step_s = 0, stepped_s = 0;
};
SessionAnswer answer_session(const ChipModel& chip, RunResult& r, const SessionQuestion& q);

// What fits, for layout_advice: the bytes per device of layout `sc` on a system with `comm` buffers
// when it fits, else a negative number; InputError when the layout does not apply to the model.
using LayoutFit = std::function<double(const Scenario& sc, const CommBufferParams& comm)>;
// Advice for a scenario that does not fit: a layout on `sys` whose devices all fit ("on hgx-h100x8:
// --tp 2 --dp 4 (...)"), else the smallest shipped system of the chip where one does; else that none
// does as shipped, with the fewest --nodes of a scale-out system that would; "" if the chip has no system.
// `fit` (default: the scenario's footprint within the chip's memory, as run checks it) lets serve
// ask for room for a request's KV cache instead.
std::string layout_advice(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const SystemSpec& sys,
                          const LayoutFit& fit = {});

// InputError unless the layout's devices (tp x pp x dp) are the system's chips; the message's example
// layout multiplies to the chips and splits the model's heads.
void check_layout_fits_system(const Scenario& sc, const SystemSpec& sys, const ModelConfig& model);
// The AWS Neuron SDK's flags (--neuron-buckets, --pad-heads) on a chip of another family: InputError naming the
// flag, the chip and its family, and where the flag applies.
void check_neuron_flags(const ChipModel& chip, const Scenario& sc);

ModelRunResult run_model(const ChipModel& chip, const ModelConfig& model, const Scenario& scenario,
                         const ModelRunOptions& opt = {});

}  // namespace xpu
