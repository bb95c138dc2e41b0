// Serving: one chip running an inference server (continuous batching, chunked prefill, paged KV
// cache, admission and preemption; the policies of vLLM, SGLang and TensorRT-LLM) over a request
// load (closed loop of N users, Poisson arrivals, or offline), with iteration times from the chip
// model at the clock the power manager allows at each iteration (sim/power/power_state.h); and
// `xpusim compare`, the same study across chips.
#pragma once
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/cost/cost.h"
#include "sim/run/model_run.h"
#include "sim/run/power_control.h"
#include "sim/serve/disagg_types.h"
#include "sim/serve/engine.h"
#include "sim/serve/requests.h"
#include "sim/serve/scheduler.h"

namespace xpu {

struct StepPartCache;  // step_time.h

struct ServeOptions {
  std::int64_t input = 1024, output = 256;          // fixed lengths, unless a distribution or CSV is given
  std::optional<LengthDist> input_dist, output_dist;
  std::string lengths_csv;                          // --lengths-csv's path (set_lengths_csv), and its rows read once
  std::shared_ptr<const LengthRows> lengths_rows;
  double ttft_slo_s = 0, tpot_slo_s = 0;            // 0: no target (checked on the medians)
  std::string scheduler = "vllm";                   // one of scheduler_names() (sim/serve/scheduler.h)
  std::string dp_dispatch;                          // data-parallel attention: the controller's policy (DpAttention; "": round_robin)
  SchedulerLimits limits;                           // 0: the scheduler's defaults
  std::vector<std::int64_t> concurrency;            // closed loop, one run per value (a frontier when several)
  double rate = 0;                                  // open loop, Poisson requests/s (0: none)
  bool rate_given = false, concurrency_given = false;
  std::int64_t max_batch = 0;                       // compare: its concurrency sweep goes 1, 2, 4, ... up to it (0: 512)
  std::int64_t requests = 0;                        // 0: 4 x concurrency (at least 64), or 4 x max_seqs offline, or 256 open loop (the last two per dp replica)
  std::uint64_t seed = 1;
  bool interpolate = true;                          // step times interpolated on the composition grid
  bool progress = false;
  // The system the server runs on (nullopt: one chip), with the scenario's layout (tp, ep, pp, dp):
  // see serve() for how replicas are folded.
  std::optional<SystemContext> system;
  double prefix_hit = 0;                            // share of each prompt whose KV is already cached
  std::int64_t spec_tokens = 0;                     // speculative decoding: drafts per step (0: off)
  // Per-token acceptance rate of the drafts; nullopt: not given, which spec_tokens refuses (no default rate).
  std::optional<double> spec_accept;
  std::string spec_method = "mtp";                  // mtp (the model's next-token module) or draft (a draft model)
  std::string spec_draft;                           // the drafter's cost: a fraction of the target's ("0.05") or,
                                                    // for draft, a model name or config.json ("": MTP's own module)
  std::optional<int> spec_draft_tp;                 // the draft model's tensor-parallel degree: 1 or the target's (none: the target's)
  // Step parts already simulated for this chip, model, layout and system (compare's layout screen);
  // null: one cache for the call, shared by the points of its sweep.
  std::shared_ptr<StepPartCache> step_cache;
  EngineFeatures features() const { return {prefix_hit, spec_tokens, spec_accept.value_or(0)}; }
  // serve --trace: the engine runs of the reported point report their iterations and requests here (null: none;
  // serve refuses it beside a frontier of several points).
  EngineObserver* trace = nullptr;
  // Disaggregated serving (sim/serve/disagg.h): chips of the prefill and decode pools (0: one pool),
  // and the prefill pool's layout (all 0: the scenario's, which the decode pool uses; otherwise a
  // degree not given is 1).
  int prefill_devices = 0, decode_devices = 0, prefill_tp = 0, prefill_ep = 0, prefill_dp = 0, prefill_pp = 0;
  // The prefill pool's replicas of the hottest experts (--prefill-redundant-experts; -1: the scenario's
  // --redundant-experts, as the decode pool): DeepSeek-V3 deploys 32 for prefill and more for decode
  // (DeepSeek-V3 technical report, arXiv 2412.19437, section 3.4).
  int prefill_redundant_experts = -1;
  std::string pools_file;  // the scenario file that gave the pools (named in their errors), "" for flags
  // The decode pool keeps a prefix cache of its own where the stack makes it opt-in (serve --decode-radix-cache,
  // scenario key pools.decode.radix_cache: SGLang's --disaggregation-decode-enable-radix-cache;
  // Scheduler::pd_decode_radix_rule): the transfers carry only the tokens it lacks. false: the stack's default rule.
  bool decode_radix_cache = false;
  // The KV transfers' reads and writes of the devices' HBM slow the kernels beside them (disagg.h); false leaves
  // that out (the fabric's contention alone: tests compare the two).
  bool kv_hbm_contention = true;
  bool disaggregated() const { return prefill_devices != 0 || decode_devices != 0; }
  // The prefill pool's layout flags that were given, as they were typed ("--prefill-tp 4 --prefill-ep 8"; the
  // redundant experts too when `replicas`); empty when none was.
  std::string prefill_layout_flags(bool replicas = false) const {
    std::string out;
    auto add = [&](const char* flag, int v) { out += (out.empty() ? "" : " ") + std::string(flag) + " " + std::to_string(v); };
    for (auto [flag, v] : {std::pair{"--prefill-tp", prefill_tp}, {"--prefill-ep", prefill_ep}, {"--prefill-pp", prefill_pp}, {"--prefill-dp", prefill_dp}})
      if (v != 0) add(flag, v);
    if (replicas && prefill_redundant_experts >= 0) add("--prefill-redundant-experts", prefill_redundant_experts);
    return out;
  }
  bool prefill_layout_given() const { return !prefill_layout_flags().empty(); }
};

// The drafter of speculative decoding, resolved from the options: a model simulated on the chip (a
// draft model, or an MTP module built from the target: one of its layers with its embedding and LM
// head shared), or a fraction of the target's cost (memory not counted).
//
// Draft TP 1 beside a larger target TP (serve --spec-draft-tp 1, vLLM's speculative_config
// draft_tensor_parallel_size; `tp` 1): vllm/config/speculative.py SpeculativeConfig._verify_and_get_draft_tp takes 1 or
// the target's tp, and vLLM V0 ran a smaller draft TP in SmallerTpProposerWorker (vllm/spec_decode/
// smaller_tp_proposer_worker.py): only the draft ranks range(draft_tp), here each TP group's first rank, build and run
// the draft model, under a TP group of their own (patch_tensor_parallel_group), so its GEMMs, embedding and LM head run
// whole there with no collective; the other ranks' proposer is a dummy that loads no weights and keeps no draft KV
// (get_cache_block_size_bytes 0) and waits, the group stepping in lock step; the drafts reach them in the driver's
// per-step broadcast of the model input (broadcast_tensor_dict), which the target's steps carry anyway and the model
// leaves out. The executor sizes the KV cache by the worker with the fewest blocks (vllm/executor/executor_base.py,
// DistributedExecutorBase.determine_num_available_blocks: the minimum over workers), the draft rank (its whole draft
// weights and per-token draft KV), which serve_memory's device is. vLLM V1 refuses a draft model at another tp
// (vllm/v1/spec_decode/draft_model.py, DraftModelProposer._raise_if_draft_tp_mismatch) and its EAGLE proposer builds
// the drafter at the target's tp whatever the setting (vllm-project/vllm#17499, open); so this is V0's behaviour, a
// draft model only (--spec-method draft), dense, without data-parallel attention or pools (V0 had neither).
struct Drafter {
  std::optional<ModelConfig> model;
  double fraction = 0;
  int tp = 0;                                       // its tensor-parallel degree (0: the target's)
  double weight_bytes = 0, kv_bytes_per_token = 0;  // memory it adds to the server (the draft rank's with tp 1)
  std::string description;                          // "mtp: 1-layer module of llama-3.1-8b", "draft: 0.05 x target"
};
// Throws InputError naming the --spec-* flag for inconsistent options; nullopt without speculation.
std::optional<Drafter> make_drafter(const ModelConfig& model, const Scenario& sc, const ServeOptions& opt);

// Device memory of the server, per device after sharding: what the KV cache gets after the device's
// weights, activations, the collective library's buffers and the engine's reserve (see
// Scheduler::memory_fraction). With pipeline stages each stage holds its layers' cache; the stage
// that holds the fewest tokens bounds the engine's cache (the figures are that stage's first device's).
struct ServeMemory {
  double capacity_bytes = 0, weight_bytes = 0, activation_bytes = 0, comm_buffer_bytes = 0, reserve_bytes = 0, kv_bytes = 0;
  double kv_bytes_per_token = 0;
  std::int64_t kv_blocks = 0, block_tokens = 0, kv_tokens = 0;
  int stage = 0;                             // the stage the figures are of
  std::vector<std::int64_t> stage_kv_tokens; // per pipeline stage: the tokens its cache holds
};
// `comm`: the system's library buffers (comm_buffer_params of the system; none on one chip).
ServeMemory serve_memory(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const Scheduler& sched,
                         const Drafter* drafter = nullptr, const CommBufferParams& comm = {});

// How evenly data-parallel attention's ranks were loaded over a run (DpAttention, DpBalance): per
// iteration, the ranks' mean and largest tokens (prompt, decode and padding), averaged over iterations.
struct DpAttentionStats {
  int ranks = 0;
  std::string dispatch;               // the controller's policy
  double tokens_per_rank_mean = 0, tokens_per_rank_max = 0;
  double imbalance = 1;               // tokens_per_rank_max / tokens_per_rank_mean
  double requests_per_rank_mean = 0, requests_per_rank_max = 0;  // requests held (running and waiting)
  double wait_share = 0;              // share of the ranks' step time spent waiting for the slowest rank
  double idle_rank_share = 0;         // share of rank-iterations that ran an idle batch while another rank worked
  double held_share = 0;              // share of iterations where one rank's prompt work held ranks that only decoded
};

struct ServePoint {
  std::int64_t batch = 0;          // the most sequences running at once
  std::int64_t concurrency = 0;    // closed-loop users (0: offline or open loop)
  double rate = 0;                 // open-loop requests/s (0: none)
  OfferedLoad offered;             // open loop: the load its arrivals offered as drawn (the whole layout's; all 0: none)
  double throughput_tok_s = 0;     // output tokens/s of the whole system
  double throughput_tok_s_per_chip = 0, tok_s_per_user = 0, requests_per_s = 0;
  double ttft_s = 0, ttft_p90_s = 0, ttft_p99_s = 0;   // ttft_s, tpot_s: medians
  double tpot_s = 0, tpot_p90_s = 0, tpot_p99_s = 0;
  // The requests that streamed 2+ output tokens: TPOT's samples. TPOT is (finish - first token) / (output - 1), undefined
  // for one output token, so those requests are left out, as vLLM's benchmark_serving leaves them out of its TPOT
  // (calculate_metrics: `if output_len > 1`). 0: no TPOT at all (tpot_*_s and tok_s_per_user 0 here, null in JSON).
  std::int64_t tpot_requests = 0;
  bool has_tpot() const { return tpot_requests > 0; }  // TPOT (and tok/s per user, ITL) defined at this point
  double itl_p50_s = 0, e2e_p50_s = 0;
  double kv_mean = 0, kv_peak = 0;
  std::int64_t preemptions = 0, requests = 0, iterations = 0;
  double makespan_s = 0;
  // The servers' busy time (their iterations' times) summed over the engine runs simulated (identical replicas
  // folded: one run each; disaggregated: every instance of both pools): what serve --trace's iteration slices add to.
  double busy_s = 0;
  std::vector<OccupancySample> kv_over_time;   // thinned to at most 64 samples
  double avg_power_w = 0, peak_power_w = 0, joules_per_token = 0, clock_ratio = 1;
  bool throttled = false, meets_slo = true;
  EnergyBreakdown energy_per_token;
  double wall_s = 0;
  std::int64_t simulated_parts = 0;
  double host_wait_share = 0;         // share of the makespan the GPU waited for the host (eager dispatch, framework work)
  double host_busy_share = 0;         // the host's dispatch and framework work over the makespan (overlapped: hidden below 1)
  double host_bound_share = 0;        // share of the iterations whose time the host bounded
  double tokens_per_decode_step = 0;  // output tokens per sequence-step of decode (speculative: > 1)
  std::optional<KvTransferStats> kv_transfer;  // disaggregated serving only
  // Data-parallel attention's groups: colocated serving's, or a disaggregated decode pool's (JSON dp_attention.decode).
  std::optional<DpAttentionStats> dp_attention;
  std::optional<DpAttentionStats> prefill_dp_attention;  // a disaggregated prefill pool's (JSON dp_attention.prefill)
  std::string layout;  // compare's unit frontier: the layout that served the point ("" elsewhere)
  PowerLog power_manager;  // what the power manager did over the busiest replica's run (time 0: not modelled)
};
// A run's balance figures (DpBalance) over its `iterations` and the group's `busy_s` (the sum of its iterations).
DpAttentionStats dp_attention_stats(const DpBalance& b, std::int64_t iterations, double busy_s, const std::string& dispatch);
// The latency and throughput figures of a point from an engine run over `devices` chips.
void fill_metrics(ServePoint& pt, const EngineResult& er, int devices);
// The same from a result the caller no longer needs: its per-request and per-token samples are sorted in place
// instead of in copies (the same figures).
void fill_metrics(ServePoint& pt, EngineResult&& er, int devices);

// A kernel of the serving report's decode step: its time per step (x runs), and for a collective the bytes per
// rank (nccl-tests size) and the algorithm the library chose ("" and 0 for compute kernels).
struct ServeKernel {
  std::string label;
  double time_s = 0;
  std::string algorithm{};
  double comm_bytes = 0;
  bool operator==(const ServeKernel& o) const {
    return label == o.label && time_s == o.time_s && algorithm == o.algorithm && comm_bytes == o.comm_bytes;
  }
};

// A parallel layout's degrees as every report gives them (run's and serve's JSON `layout`). expert_tp 0:
// a dense model, which has no experts to split (JSON null; the layout's name never gives it either).
struct LayoutFigures {
  int tp = 1, ep = 1, pp = 1, dp = 1, expert_tp = 1, microbatches = 1, pad_heads = 0, redundant_experts = 0;
  bool sp = false;
  bool overlap = false;            // collectives on their own stream beside independent compute (--overlap, or implied)
  bool two_batch_overlap = false;  // --two-batch-overlap
};
LayoutFigures layout_figures(const Scenario& s, bool overlap, bool experts);  // overlap: the system's (SystemContext::overlap); experts: a MoE model

// One pool of disaggregated serving: its layout ("tp4") and degrees (its chips and instances are DisaggLayout's).
struct PoolLayout {
  std::string name;
  LayoutFigures figures;
};

struct ServeResult {
  std::string chip, family, model, precision, scheduler, mode;  // mode: offline, closed or open
  std::string system, layout;      // the system preset ("" for one chip) and the layout ("tp8")
  int devices = 1;
  int replicas = 1;                // engines serving side by side (dp): each gets 1/replicas of the load
  std::string folding;             // what the study folded (replicas simulated once), "" when nothing
  SchedulerLimits limits;
  ServeMemory memory;
  std::string input_lengths, output_lengths;
  std::vector<ServePoint> curve;   // one point per run (per concurrency of a sweep)
  int best = -1;                   // index into curve (-1: nothing meets the targets)
  bool frontier = false;           // the curve is a concurrency sweep
  std::string note;
  CostFigures cost;
  double tdp_w = 0;
  bool power_modeled = false;
  std::vector<ServeKernel> kernels;  // one decode step's kernels at the best point's mean batch
  std::optional<DramPathBound> dram_path;  // where the cores' path to the HBM bounded most of that step (dram_path.h)
  double prefix_hit = 0;
  std::int64_t spec_tokens = 0;
  double spec_accept = 0, spec_tokens_per_step = 1;    // the expectation 1 + a + ... + a^k
  std::string spec_method, spec_drafter;
  int spec_draft_tp = 0;               // the tensor-parallel degree the drafter runs at (Drafter::tp, else the target's)
  std::optional<DisaggLayout> disagg;  // disaggregated serving: the pools
  LayoutFigures layout_figures;        // the layout's degrees (the decode pool's when disaggregated)
  // Disaggregated serving: each pool's layout, as the report's layout.pools gives it (the top-level
  // degrees are the decode pool's, whose steps set the inter-token latency).
  PoolLayout prefill_layout, decode_layout;
};

ServeResult serve(const ChipModel& chip, const ModelConfig& model, const Scenario& base, const ServeOptions& opt);
// --max-batch (compare's concurrency ceiling, and the scheduler's --max-seqs) and --max-seqs, each
// given or not: checked (InputError naming the flag) and set; both with two values is refused.
void set_sequence_limits(ServeOptions& so, std::optional<std::int64_t> max_batch, std::optional<std::int64_t> max_seqs);
// --token-budget, --cache-length (KV tokens per decode slot, the jetstream policy's) and --page-size (KV tokens per
// page, the sglang-jax policy's), each given or not: positive (InputError naming the flag) and set.
void set_token_limits(ServeOptions& so, std::optional<std::int64_t> token_budget, std::optional<std::int64_t> cache_length,
                      std::optional<std::int64_t> page_size = std::nullopt);
// --input/--output: fixed lengths, or distributions whose mean is the typical request (the kernel breakdown's decode
// step, the memory check and the study's summary).
void set_lengths(ServeOptions& so, const LengthDist& input, const LengthDist& output);
// --lengths-csv PATH: the requests' lengths, used in turn, and their mean input and output as the typical request
// (the kernel breakdown's decode step, the memory check and the study's summary), which the defaults of
// --input/--output (1024/256) set before. `given`: "--input 512" (or --output) when that flag was given beside
// the CSV, which would replace it: refused (InputError naming it).
void set_lengths_csv(ServeOptions& so, const std::string& path, const std::string& given = "");

// Every check of the options that does not depend on the chip (loads, targets, lengths against the
// model's context, the length CSV, scheduler, prefix caching, speculative decoding): InputError naming
// the flag. serve() runs it; compare runs it once before the first chip.
void check_serve_request(const ModelConfig& model, const Scenario& base, const ServeOptions& opt);

// What bounds a serving point: one decode step at the point's batch and the requests' mean context,
// simulated at the point's clock, its kernel time split by what each kernel waits on (the simulated
// bound of each kernel: "weight streaming" for memory-bound GEMMs, "KV-cache traffic" for memory-bound
// attention, "compute" for compute-bound kernels, "communication" for collectives; for the rest
// "activation traffic", "vector units", "on-chip transfer" or "latency" by their simulated bound; traffic
// whose busiest unit was the cores' DMA path, not the HBM, is "... over the DMA path"),
// "host" when the serving framework's host work bounded at least half of the point's iterations (share:
// those iterations), or "memory capacity" when the KV cache capped the batch (the point preempted or
// filled it to 95%).
struct PointBound {
  std::vector<std::pair<std::string, double>> time_s;  // per category, largest first
  std::string dominant;
  double share = 0;   // of the decode step (memory capacity: the cache's peak occupancy)
  // Where the dominant traffic was bound by the cores' path to the HBM (ChipModel::dram_path: a TPU TensorCore's
  // DMA, Trainium's DMA engines), not the HBM: the path's unit and the keys that set its peak; its category
  // then says so ("weight streaming over the DMA path"), as the table's dram_path note does.
  std::string path_unit, path_keys;
};
PointBound point_bound(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& opt,
                       const ServePoint& pt);
// The bound in a verdict's words: "weight streaming-bound (80%)", or on a DMA path "weight streaming-bound on the
// cores' DMA path (mem.dma, peak dma.bandwidth x tensorcores), not the HBM (80%)".
std::string bound_phrase(const PointBound& b);

}  // namespace xpu
