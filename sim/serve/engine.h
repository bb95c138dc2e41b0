// The inference server run iteration by iteration: requests arrive, the scheduler picks each
// iteration's work, a step-time function says how long the chip takes for that batch composition,
// and per-request latencies, KV-cache occupancy and energy events are collected.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/power/power_state.h"
#include "sim/run/step_collective.h"
#include "sim/serve/requests.h"
#include "sim/serve/scheduler.h"

namespace xpu {

// The composition of one iteration, what its time depends on.
struct StepShape {
  std::int64_t prefill_tokens = 0, prefill_chunks = 0;
  std::int64_t prefill_kv_sum = 0;  // sum over chunks of (cached context + chunk tokens): the keys they read
  std::int64_t decode_seqs = 0;
  std::int64_t decode_kv_sum = 0;   // sum over decode sequences of their context including the new token
  // Speculative decode steps: each sequence's last token and its drafts, verified in one pass as a
  // short causal chunk (the target model's verification step).
  std::int64_t verify_seqs = 0, verify_tokens = 0;
  std::int64_t verify_kv_sum = 0;   // sum over verifying sequences of (cached context + tokens verified)
  std::int64_t logit_rows = 0;      // positions that go through the LM head (every verified token)
  // Rows of a padded CUDA graph (HostLaunch::padded): dummy requests that run every per-token kernel,
  // collective and the LM head (counted in logit_rows) but whose attention reads a single cached token.
  std::int64_t padding_rows = 0;
  // Padding tokens of an iteration with prompt work run at its compiled token bucket (HostLaunch::padded):
  // every per-token kernel and collective, no attention, no LM head, and no sequence of their own.
  std::int64_t padding_tokens = 0;
  std::int64_t tokens() const { return prefill_tokens + decode_seqs + verify_tokens + padding_rows + padding_tokens; }
  bool operator==(const StepShape& o) const {  // every field: two ranks of a group with the same composition
    return prefill_tokens == o.prefill_tokens && prefill_chunks == o.prefill_chunks && prefill_kv_sum == o.prefill_kv_sum &&
           decode_seqs == o.decode_seqs && decode_kv_sum == o.decode_kv_sum && verify_seqs == o.verify_seqs &&
           verify_tokens == o.verify_tokens && verify_kv_sum == o.verify_kv_sum && logit_rows == o.logit_rows &&
           padding_rows == o.padding_rows && padding_tokens == o.padding_tokens;
  }
};
struct StepCost {
  double time_s = 0;
  EnergyEvents events;
  double kernels = 0;  // kernel launches of one rank's iteration (the host dispatches them when it runs eagerly)
  // Data-parallel attention (a group's step, GroupStepFn): the ranks' mean time spent waiting in the
  // iteration's collectives for the slowest rank (0 when every rank runs the same batch).
  double rank_wait_s = 0;
  // On a system: the step's collectives (StepCollective::at places each in the step's time), so that a
  // simulation of what else runs on the fabric meanwhile (disaggregated serving's KV transfers) can replay them.
  std::vector<StepCollective> collectives;
};
using StepTimeFn = std::function<StepCost(const StepShape&)>;
// The step of a data-parallel attention group from each rank's own composition (an idle rank's is empty).
using GroupStepFn = std::function<StepCost(const std::vector<StepShape>&)>;
GroupStepFn one_rank(StepTimeFn step);  // a server of one rank: `step` of its composition
StepShape shape_of(const Batch& b);

// The chip's clock over a run (the power manager acting over time, sim/power/power_state.h): each
// iteration, simulated at the nominal clock, as run at the clocks the manager allows at that moment, and
// the time the chip idles (waiting for the host or for requests), which its running averages see too.
class IterationClock {
 public:
  virtual ~IterationClock() = default;
  virtual StepCost run(const StepCost& nominal) = 0;  // time and events at the clocks it ran at
  virtual void idle(double s) = 0;
  virtual double last_clock() const { return 0; }  // the mean clock ratio of the last run() (0: not known)
};
// The power manager over a serving run (PowerManagerState): each iteration at the clocks it allows from the
// running averages of what ran before, its time and events rescaled from its simulation at the nominal clock.
class ManagedClock final : public IterationClock {
 public:
  ManagedClock(const PowerSpec& s, double max_clock) : m_state(s, max_clock) {}
  StepCost run(const StepCost& nominal) override;
  void idle(double s) override { m_state.idle(s); }
  double last_clock() const override { return m_last_clock; }
  const PowerLog& log() const { return m_state.log(); }

 private:
  PowerManagerState m_state;
  double m_last_clock = 0;
};

// What a traced serving run records (serve --trace: sim/io/serve_trace.h), handed over as the engine runs;
// recording changes nothing the engine computes.
struct IterationRecord {
  double start_s = 0, time_s = 0;  // on the server's timeline; time_s as the engine counts it (busy_s sums them)
  StepShape shape;                 // the iteration's composition, summed over its ranks (before any padding)
  std::int64_t kv_used = 0, kv_total = 0, running = 0, waiting = 0;  // KV blocks and requests once it was scheduled
  double clock = 0;                // the power manager's mean clock ratio over it (0: no power manager)
};
struct RequestRecord {
  std::int64_t request = 0, input = 0, output = 0;
  double arrival_s = 0, first_token_s = 0, finish_s = 0;
};
struct TransferRecord {  // a disaggregated run's KV transfer from a prefill to a decode instance
  std::int64_t request = 0, tokens = 0;
  int prefill = 0, decode = 0;
  double bytes = 0, start_s = 0, end_s = 0;
};
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // A new run of the traced point replaces what was recorded (a disaggregated fixed point's next round).
  virtual void restart() = 0;
  // The server whose iterations and requests follow (a replica, a pool's instance); returns its index.
  virtual int server(const std::string& name) = 0;
  virtual void on_iteration(int server, const IterationRecord& it) = 0;
  virtual void on_request(int server, const RequestRecord& r) = 0;
  virtual void on_transfer(const TransferRecord& t) = 0;
};

// How requests reach the server: all at once (offline throughput), a closed loop of `concurrency`
// users each sending its next request when the last one finishes, or open-loop arrivals (the
// arrival times of the draws).
struct EngineLoad {
  enum class Kind : std::uint8_t { Offline, Closed, Open };
  Kind kind = Kind::Offline;
  std::int64_t concurrency = 0;
};

// Scenario features that production deployments and the public benchmarks use.
struct EngineFeatures {
  // Prefix caching: the share of each prompt already in the cache (rounded down to whole KV blocks,
  // the last prompt token always computed, as vLLM does); the prompts share one common head, so the
  // cached blocks are shared and counted once.
  double prefix_hit = 0;
  // Speculative decoding: each decode step verifies the sequence's last token and `spec_tokens` drafts,
  // and accepts on average 1 + a + a^2 + ... + a^k of them (a: per-token acceptance rate; Leviathan et
  // al., "Fast Inference from Transformers via Speculative Decoding", 2023, eq. 1), carried as a
  // per-sequence credit so a run emits the expectation exactly, deterministically.
  std::int64_t spec_tokens = 0;
  double spec_accept = 0;
  // serve --trace: where the engine reports its iterations and finished requests (null: not traced), as `trace_server`.
  EngineObserver* trace = nullptr;
  int trace_server = 0;
  double expected_tokens(std::int64_t drafts) const;  // per step with `drafts` draft tokens
  // Prompt tokens of a prompt of `input` tokens that the cache holds (prefix_hit): whole blocks of
  // `block_tokens`, never the last prompt token (its logits give the first output token).
  std::int64_t cached_prefix(std::int64_t input, std::int64_t block_tokens) const;
  // Tokens a decode step of `s` emits: 1 for plain decode; with drafts, the expected accepted tokens carried as
  // s.spec_credit (at least 1, at most the drafts plus the bonus token, never past the answer).
  std::int64_t emitted(Sequence& s, std::int64_t drafts) const;
};

// Data-parallel attention (SGLang --enable-dp-attention with an expert-parallel MoE, DeepSeek's decode
// deployment): `ranks` attention groups, each a scheduler with its own requests, KV cache and batch, fed by
// a controller (sgl-project/sglang@000a3db1 python/sglang/srt/managers/data_parallel_controller.py):
// round_robin (its default) sends each arriving request to the next rank in turn; shortest_queue sends it
// to the rank that holds the fewest requests (DPBudget fills the ranks with the fewest num_reqs first, from
// the ranks' load reports, which here are exact and current). minimum_tokens, which that commit lists but
// routes to round robin (deprecated, "will be introduced later"), is taken as its name says: the rank whose
// requests hold the fewest tokens (context and prompt still to compute). Every iteration the ranks synchronize (scheduler_dp_attn_mixin.py@01ac0074, prepare_mlp_sync_batch:
// the token counts all-gathered, a rank with nothing to run joins with an empty idle batch, CUDA graphs
// only where every rank can replay one, DeepEP's normal kernels where any rank extends).
struct DpAttention {
  enum class Dispatch : std::uint8_t { RoundRobin, ShortestQueue, MinimumTokens };
};
// "round_robin" (also "": the default), "shortest_queue" or "minimum_tokens" (InputError naming --dp-dispatch
// otherwise), and back.
DpAttention::Dispatch dp_dispatch(const std::string& name);
const char* dp_dispatch_name(DpAttention::Dispatch d);

// How evenly a data-parallel attention group's ranks were loaded, summed over the iterations.
struct DpBalance {
  int ranks = 0;
  double tokens_mean_sum = 0, tokens_max_sum = 0;  // per iteration: the ranks' mean and largest tokens
  double held_mean_sum = 0, held_max_sum = 0;      // per iteration: the ranks' mean and largest requests held
  double wait_s = 0;                // the ranks' mean wait for the slowest rank (StepCost::rank_wait_s), summed
  std::int64_t idle_rank_steps = 0; // rank-iterations that ran an idle batch while another rank worked
  std::int64_t held_iterations = 0; // iterations where a rank's prompt work held ranks that only decoded
};

struct OccupancySample {
  double t_s = 0, kv_used = 0;  // share of KV blocks in use
  std::int64_t running = 0, waiting = 0;
};

// A sample kept as runs of equal values in the order they came (a value and its count): the token gaps of one
// iteration's decoding requests are mostly one value (each request's previous token came with the same
// iteration), and a closed loop of 2,048 users streams 2 M of them (16 MB as plain doubles, 25 MB while the
// vector doubled). Its percentiles are those of the plain sample, to the bit (the same ranks of the same
// sorted values).
class SampleRuns {
 public:
  void push_back(double v) {
    if (!m_runs.empty() && m_runs.back().value == v) ++m_runs.back().count;
    else m_runs.push_back({v, 1});
    ++m_size;
  }
  void append(const SampleRuns& o) {
    m_runs.insert(m_runs.end(), o.m_runs.begin(), o.m_runs.end());
    m_size += o.m_size;
  }
  std::size_t size() const { return m_size; }
  bool empty() const { return m_size == 0; }
  std::size_t runs() const { return m_runs.size(); }
  double front() const { return m_runs.front().value; }
  double max() const;
  // percentile() of the samples one by one: q in [0, 1], linear between ranks; 0 for none.
  double percentile(double q) const;

 private:
  struct Run {
    double value;
    std::int64_t count;
  };
  std::vector<Run> m_runs;
  std::size_t m_size = 0;
};

struct EngineResult {
  std::int64_t requests = 0, input_tokens = 0, output_tokens = 0, iterations = 0, preemptions = 0;
  std::int64_t kv_blocks = 0, block_tokens = 0, max_running = 0;
  std::int64_t decode_steps = 0;           // sequence-steps that sampled after a full context (plain or speculative)
  std::int64_t decode_tokens = 0;          // tokens those steps emitted (speculative: the accepted ones)
  std::int64_t prefill_tokens = 0;         // prompt and recomputed tokens processed (prefix hits excluded)
  double makespan_s = 0, busy_s = 0;
  std::int64_t eager_iterations = 0;       // iterations launched kernel by kernel (HostLaunch)
  double host_wait_s = 0;                  // time the GPU waited for the host: eager dispatch and framework work (HostWork)
  double host_busy_s = 0;                  // the host's dispatch and framework work, summed over iterations
  double host_bound_iterations = 0;        // iterations the host's time bounded (merged servers: see merge_replicas)
  double in_system_s = 0;                  // integral of requests in the system over time (Little's L x T)
  double kv_mean = 0, kv_peak = 0;         // time-weighted mean and peak share of KV blocks in use
  std::vector<double> ttft_s, tpot_s, e2e_s;  // per request (tpot: requests of 2+ tokens)
  SampleRuns itl_s;                           // per token gap
  std::vector<OccupancySample> occupancy;  // one per iteration
  EnergyEvents events;                     // every iteration plus idle time
  DpBalance dp;                            // data-parallel attention's ranks (ranks 0: one scheduler)
};

// Runs every request of `reqs` to completion. InputError when a request can never be scheduled
// (its KV need exceeds the cache). `clock`: the power manager's (null: every iteration at the nominal clock).
EngineResult run_engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load, Scheduler& sched,
                        std::int64_t kv_blocks, const StepTimeFn& step, const EngineFeatures& features = {},
                        IterationClock* clock = nullptr);

// A data-parallel attention group's engine: one scheduler per rank (`scheds`, each its own KV cache of
// `kv_blocks`), arrivals dispatched by `dispatch`, every iteration the group's (RankGroup, rank_group.h)
// timed by `step` from the ranks' compositions. One rank runs as run_engine does.
EngineResult run_group_engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load, const std::vector<Scheduler*>& scheds,
                              std::int64_t kv_blocks, const GroupStepFn& step, DpAttention::Dispatch dispatch,
                              const EngineFeatures& features = {}, IterationClock* clock = nullptr);

double percentile(std::vector<double> v, double q);  // q in [0, 1], linear between ranks; 0 for none
double sorted_percentile(const std::vector<double>& v, double q);  // the same of `v` sorted ascending

}  // namespace xpu
