// A model step on a system of chips: every rank's part of the model (workloads/sharding.h) lowered
// and simulated on its chip, then all ranks executed together by the system runtime
// (sim/system/runtime.h), with their collectives on the fabric. One chip is the one-device case of
// the same path: `xpusim run` without --system runs a one-chip system.
//
// Folding (stated in the README): identical kernels are simulated once per chip configuration and
// replayed wherever they recur (layers, micro-batches, and ranks whose part has the same shapes);
// with `fold` off every rank simulates its own kernels, which gives the same times (a test checks).
// Data-parallel replicas that exchange nothing (ep <= tp) are folded to one: only the first
// replica's ranks run; with data-parallel attention (ep > tp) every rank runs, since the experts'
// all-to-alls join the replicas. Every simulated rank's traffic is on the fabric.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/interconnect/system_spec.h"
#include "sim/run/model_run.h"
#include "sim/system/collective_run.h"
#include "sim/system/runtime.h"
#include "sim/system/system_trace.h"
#include "workloads/sharding.h"

namespace xpu {

// The one-chip system of `chip` (no links): what `run` uses without --system.
SystemSpec single_chip_system(const ChipModel& chip);

// One forward step of the layout on the system. Decode steps with pipeline stages are simulated for
// two iterations, each micro-batch's next token waiting for its sample from the last stage, and the
// step time is the steady-state period (the second iteration's end minus the first's), so bubbles
// and their filling come out of the simulation; prefill is one pass (its latency).
StepResult run_system_step(const ChipModel& chip, const SystemContext& sys, const ModelConfig& m, const Scenario& s,
                           const StepPlan& plan, const FusionPolicy& fusion, StepGraphStats* stats);

// The fabric a model step's collectives run on: where the system's library runs them inside the step's
// compiled graph (library.in_graph_launch_latency, Neuron), each pays that launch cost instead of the
// launch_latency of a collective timed alone (kernel allreduce, validate --collectives). Every model step
// (run, serve, compare, validate --models) comes through run_system_graphs, so all take the same cost
// (and a step's collectives replayed beside other traffic, disagg.h).
SystemSpec model_step_fabric(const SystemSpec& spec);

// What every simulated rank of a layout runs in one step (its graph, from its role: its stage's
// layers and its experts), and what its pipeline stages hand on. run_system_step builds it for a
// model step; the serving engine's step parts (sim/serve/step_time.h) for theirs: one path.
struct RankSteps {
  std::function<Graph(const RankRole&)> graph_of;
  bool steady = false;            // with stages: two iterations, the step is the second's period
  std::uint64_t stage_bytes = 0;  // activations one micro-batch hands to the next stage
  std::uint64_t token_bytes = 0;  // sampled token ids one micro-batch returns from the last stage to the first
  // > 0 (one stage; one micro-batch, or two-batch overlap's pair): a layer block repeated more often (the graph's folded layers) runs
  // its first `max_repeats` repetitions and the rest are taken at the period of the last one (the step
  // of identical layers is periodic once the first has filled the streams); 0: every repetition runs.
  // The serving engine's step parts use it (sim/serve/step_time.h, its error bounded by a test).
  int max_repeats = 0;
};
StepResult run_system_graphs(const ChipModel& chip, const SystemContext& sys, const ModelConfig& m, const Scenario& s,
                             const RankSteps& steps, StepGraphStats* stats = nullptr);

// DeepEP's normal kernels over an EP group (`group`, consecutive ranks) of several whole nodes of `sys`:
// the bytes each rank sends across nodes for a prefill's expert all-to-all `op` (its rows: the tokens
// the rank sends, cols: bytes per token), a token once per node holding any of its experts; 0 where
// the group is one node, the op is not such an all-to-all, or the routing is skewed.
std::uint64_t deepep_forwarded_bytes(const SystemSpec& sys, const ModelConfig& m, const Scenario& s, const OpSpec& op,
                                     const std::vector<int>& group);

// ConfigError naming the file and `chip` unless the system's chip is a chip preset of this build.
void check_system_chip(const SystemSpec& s);
// `--overlap` (Python overlap=True) on the run's system; InputError without one: a single chip runs no
// collective for the software to overlap (before, the flag was accepted there and ignored).
void set_overlap(std::optional<SystemContext>& ctx, bool overlap);
// A collective's --devices given beside its --system: ConfigError unless the system has that many chips.
void check_system_devices(const SystemSpec& s, int devices);

// An expert dispatch or combine as DeepEP runs it, alone (`xpusim kernel alltoall --tokens`): sized as
// a model's step sizes it (workloads/graph.cpp add_moe, deepep_forwarded_bytes) under uniform routing
// over the whole system as one EP group, experts in consecutive blocks per rank.
struct ExpertExchange {
  CollKind kind = CollKind::AllToAll;
  std::string algorithm = "auto";  // deepep (auto): the normal kernels; deepep-ll: the low-latency ones
  std::string protocol = "auto";
  std::string stage = "dispatch";  // or combine, which returns bf16
  DType dtype = DType::bf16;       // what dispatch sends
  std::int64_t tokens = 0;         // tokens each rank sends (DeepEP's num_tokens per rank)
  std::int64_t hidden = 0, topk = 0, experts = 0;
  std::int64_t groups = 1, groups_per_token = 1;  // group-limited routing (ModelConfig::expert_groups)
  Routing routing{};  // as a model's step takes it (`uniform`: with the step's draw; `even`: the expected loads)
};
// Runs it as run_collective does (DeepEP's forwarding across nodes; a plain all-to-all, the library's
// choice, in one node or for the low-latency kernels), its sizes in the report's expert fields;
// InputError naming the flag for a shape that cannot be routed over these ranks.
CollectiveReport run_expert_exchange(const SystemSpec& sys, const ExpertExchange& x, SystemTrace* trace = nullptr);

// The collective library's buffers per device (workloads/footprint.h) from the system preset's
// library: NCCL_BUFFSIZE = chunk_bytes x slots per connection, its channels and p2p_channels.
CommBufferParams comm_buffer_params(const SystemSpec& sys);

}  // namespace xpu

namespace xpu {

// How a user names a system: `--system S [--nodes N]`, or `--chip C --devices N` for the fabric of
// the smallest shipped system of chip C that has N chips (a node system's first N chips, a torus
// slice's block of N, or nodes of it when N is a multiple of its node).
struct SystemChoice {
  std::string system;   // preset name or path ("" when none)
  int nodes = 0;        // > 0: replicate a node system over its scale-out network
  int devices = 0;      // > 0 with a chip: the devices of its default system
  std::vector<std::string> sets;  // `--set key=value` overlays of the system preset's fields (run_target.h)
};
// nullopt when neither is asked (one chip). InputError naming the flag when no system fits, or naming
// the first of `sets` when there is no system to apply it to.
std::optional<SystemSpec> resolve_system(const std::string& chip_name, const SystemChoice& c);

// The system's first `chips` ranks as a system of their own (a torus block of whole leading dimensions,
// a switch node or nodes): group_system's, whose InputError names the preset file where they form none.
SystemSpec leading_block(const SystemSpec& s, int chips);
// The chip counts whose first ranks form such a block, as ranges ("1, 2, 4, 8", "1-8, 16").
std::string block_counts(const SystemSpec& s);

}  // namespace xpu
