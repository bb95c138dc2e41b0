// Disaggregated serving (DistServe, Zhong et al., OSDI 2024; Splitwise, Patel et al., ISCA 2024; as
// vLLM's disaggregated prefill, SGLang's PD disaggregation and NVIDIA Dynamo deploy it): a prefill pool
// of instances runs only prompts, a decode pool only generation, and each request's KV cache crosses
// the fabric from the prefill instance that computed it to the decode instance that continues it.
//
// Engine: every instance is an iteration-level server of its own (the same scheduler policy,
// continuous batching, chunked prefill and paged KV cache as sim/serve/engine.h). A request arrives
// at the prefill instance with the fewest requests; its last prefill chunk samples the first token
// (TTFT ends there); the prefill instance keeps its KV blocks until the transfer to the decode
// instance with the fewest requests has landed (as vLLM's NIXL connector and SGLang free them after
// the decode side pulled them); the decode instance allocates the request's blocks on admission and
// continues from the second token, so the transfer adds to the gap before the second token.
//
// Pool layouts: each pool runs its own layout (tp, ep, pp, dp: a TP8 prefill pool beside a wide-EP
// decode pool with data-parallel attention, as DeepSeek-V3 deployments split them); an instance is one
// data-parallel replica (pp stages of tp ranks), its iterations costed by its layout's step, the path
// colocated `serve --tp/--ep/--pp/--dp` takes (ChipStepTime on the system). With data-parallel attention
// (Scenario::dp_attention) a group's dp replicas are one server of dp ranks, each its own scheduler and KV
// cache, stepping together as colocated serving runs them (RankGroup; ChipStepTime::group: each rank's
// attention at its own batch, the MoE at the group's tokens, the slowest rank sets the step).
// Transfers on the fabric: each rank of the decode instance receives its KV heads from the prefill
// ranks that hold them (one message per pair; the same rank when both pools have one tp; MLA's latent
// is whole on every rank), all transfers of a run simulated together on the system's fabric
// (sim/interconnect/fabric.h) at their start times, so concurrent transfers share NICs, rails and
// switch ports. A transfer's time depends on the others in flight and their start times on the
// engine: the two are iterated to a fixed point (the engine run with the previous round's transfer
// times, the fabric with the engine's start times).
// The instances' own collectives share that fabric: each step's cost carries the collectives its
// simulation ran (StepCost::collectives: request, algorithm, communicator, place in the step), and the
// fabric replays those of every iteration that a transfer leaving or reaching its server overlaps in
// time, each launched at its place in the iteration (start + its share of the step x the iteration's
// time; the parts of a step interleave layer by layer, so a part's collectives spread over the whole
// step), beside the KV messages, so a transfer and a tensor-parallel all-reduce on the same NVLink
// ports, NICs or switch ports slow each other. What each such collective lost (its end beside the
// transfers less its end in a run of the same collectives without them) is added to its iteration,
// and the engine runs again with those iterations slower.
// Bounds: only collectives of a transfer's two servers that overlap it run (a server's collectives
// stay among its own ranks: on a switched fabric they share no link with a transfer between other
// ranks; a route that crosses a third server's chips, on a torus, is left out); the engine keeps an
// iteration's collectives only where a transfer it knows of met it (the previous round's transfer
// times: one that a later round's longer transfer would meet joins in that round). Each collective
// starts at its planned time, not after the one before it on its server ended (a slowed collective
// can overlap its successor on the fabric); its added time is the iteration's, and the places of the
// iteration's later collectives move with it only in the next round.
// Fixed point: a transfer's time turns on which all-reduces it meets (a few us of phase decide it), so single
// transfers and single iterations' added times never settle on a busy node (llama-3.1-8b, TP4 + TP4 in one H100
// node, 200 requests: single transfers kept moving 2-3% and single added times more than 1% of their iteration
// over rounds 2-6 while the makespan held within 0.01%). What converges, and what the run reports, are the
// figures over all of them, so a round settles when each is within kDisaggTolerance (1%, or 1 us) of what the
// engine ran: the transfers' mean, p50 and p99 as the fabric found them against the times the engine ran them
// with; the time the collectives lost (summed) against the added time the engine ran, relative to the time of the
// iterations it is added to (the bound each iteration had alone, summed: its change moves the run's latencies
// and busy shares by less than 1%; the sum itself, collective_delay_s, scatters by up to 10% of itself between
// rounds on that node, 0.1% of the iterations' time); the time the kernels lost to the transfers' HBM traffic (summed,
// hbm_delay_s: see below) likewise; and the engine's makespan against the previous round's. At most kDisaggFabricRounds
// rounds (KvTransferStats::converged says which): a run whose figures alternate by more than 1% (a transfer's
// time doubling every other round) ends not converged. The p50 and p99 are judged as the sample quantiles they are:
// settled when each, the engine's and the fabric's, lies within the other's sampling band widened by 1% (a band: the
// quantiles one standard error of the quantile's rank away, q +- sqrt(q (1 - q) / n), of the times it was taken from;
// without one, the 1% alone). On a busy
// node the transfers' times pile up at one bound (the 1000-request one-node run: 0.5427 ms, p95 and p97 both on it)
// and a thin tail of 1-3% meets one more all-reduce (up to +3%); the p99 sits where that pile ends, and whether 10
// or 30 of 1000 transfers fall in the tail moves it by up to 2% between rounds whose mean moves by 0.05%: a change
// of rank the figure cannot resolve (its rank's standard error is 3 transfers of 1000), not of the schedule.
// The first round's engine runs each transfer for its time alone (a transfer of the mean size alone on the fabric), so
// the fabric would replay only the collectives inside those short windows and the next round would start with few of
// the added times (the 1000-request run: 129 collectives met, 4 ms added, where the settled rounds meet ~1200 and add
// 49 ms); the first round runs the fabric twice, the second time with the windows the first found (its added times
// and transfer times are that round's), which saves a round on most runs (that one 4 -> 3 rounds; 400 requests at 32
// users 6, not converged, -> 3; 100 and 200 requests 3 -> 2; 1000 requests at 64 users 3 -> 4).
// The first kDisaggRelaxFrom rounds take the fabric's times as the next inputs (they grow from a transfer alone to
// the collectives it meets); later rounds take w x the fabric's + (1 - w) x the engine's (under-relaxation), w 0.5 by
// default, which damps an alternation between two schedules to the point between them instead of repeating it and
// averages the tail's jitter; where the residual of a figure (the transfers' mean for their times; the added and HBM
// times summed for the iterations') kept its sign from the last round and lies beyond the tolerance, the run drifts
// towards a fixed point that barely moves with its inputs, which halving only approaches by halves (400 requests at
// 32 users on that node without the first round's second run: the mean's residual -9.8, -5.2, -2.6, -1.3% over rounds
// 3-6, not converged in 6), and w is the secant step within [0.5, 1] (fabric_relaxation; 5 rounds).
// Device memory: a transfer reads the KV at its prefill devices' HBM and writes it at its decode devices' as its
// messages move (each device the bytes kv_messages sends from or to it), beside the kernels of the iterations
// running there. The kernels lose the HBM time those bytes take: for each iteration that a transfer leaving or
// reaching its server overlaps in time, each of its devices receives, of each such transfer, its bytes at that device
// times the share of the transfer's time (as the fabric found it) that falls inside the iteration (the bytes taken
// to move at an even rate over the transfer); those bytes at the device's HBM bandwidth (ChipModel::dram_bandwidth,
// the chip preset's hbm.bandwidth, as the system runtime's kernels share it with their collectives: fabric.cpp,
// stretch_kernel) are HBM time, and a byte displaces the kernels' only when the HBM was busy as it arrived, taken as
// the iteration's own HBM busy share (its kernels' simulated HBM busy time, EnergyEvents::dram_busy_s, over the
// iteration's time before any added time): added = overlap bytes / hbm.bandwidth x busy share, the largest over
// the iteration's devices (its ranks run in lock step: the step waits for its slowest device). Summed with what
// its collectives lost and fed back the same way (kv_hbm_delays; KvTransferStats::hbm_delay_s). Approximations:
// arrivals independent of the kernels' phases (busy share as the chance of meeting a busy HBM), the displaced
// time one for one (a memory-bound step's kernels stretch by it, a compute-bound step's mostly absorb it: its
// busy share is low), the transfer's rate even over its time, the copy engine's own HBM efficiency as the
// kernels'; the transfer is not slowed in turn by the kernels' HBM traffic (its rate is the link's, far below
// the HBM's).
// Speculative decoding (serve --spec-tokens with pools), as SGLang's PD disaggregation runs EAGLE/MTP
// (sgl-project/sglang python/sglang/srt/disaggregation/prefill.py, PrefillBootstrapQueue._init_kv_manager: the
// prefill server holds the draft worker and registers the draft model's KV pool beside the target's, "we should
// also transfer draft model kv cache", sharing the target's token indices; decode.py's DecodePreallocQueue takes
// the draft pool likewise): the drafter (a draft model or MTP module simulated on the chip, or a cost fraction)
// runs on both pools, on each instance's TP group with its own collectives (ChipStepTime::set_drafter). The prefill
// pool's iterations run its prompt pass after the target's (its KV of the prompt, a logit row per finished chunk);
// the decode pool's steps verify each sequence's last token and its drafts and run the drafting passes after it,
// emitting the expected accepted tokens as the colocated engine does (EngineFeatures), inside the fixed point like
// any other step (their collectives, the drafter's included, replayed beside the transfers). A simulated drafter's
// weights and KV per token count in each pool's memory (serve_memory, on the last stage); each transfer carries
// the drafter's KV of the prompt too (kv_transfer_bytes of the drafter at the decode pool's tp: DisaggLayout::
// draft_kv_bytes_per_token), split over the ranks as the target's (kv_messages; an assumption where the drafter's
// heads differ from the target's). A cost-fraction drafter keeps no memory (as colocated) and sends no KV. vLLM's NIXL
// connector leaves the draft KV out and its decode side rebuilds it (vllm-project/vllm#54926): not modeled.
// Prefix caching (serve --prefix-hit with pools), as SGLang's PD disaggregation runs it by default: the prefill server
// keeps its radix cache, so each prompt's cached head is matched and only the rest is prefilled (as colocated:
// EngineFeatures::cached_prefix, whole blocks, the shared blocks held once while a sequence references them, and again
// on a recomputation), and the prefill instance holds those blocks until the transfer landed (prefill.py,
// process_disagg_prefill_inflight_queue: release_kv_cache "unlock the tree" once the transfer succeeded). The transfer
// sends the request's KV from the decode server's cached prefix on (sgl-project/sglang python/sglang/srt/disaggregation/
// prefill.py, PrefillBootstrapQueue.pop_bootstrapped: start_send_idx = decode_prefix_len, "if decode has a cached prefix,
// we need to send the delta indices, otherwise, send the entire request"), and the decode server keeps no prefix cache
// unless started with --disaggregation-decode-enable-radix-cache (off by default, refused with speculative decoding:
// python/sglang/srt/arg_groups/pd_disaggregation_hook.py, "KV cache is forced as chunk cache for decode server"). So the
// whole prompt's KV, its cached head's included, crosses the fabric (KvTransfer::cached says how much of it the prefill
// instance did not compute), and the decode pool allocates and steps as without prefix caching. The pools follow the
// stack that --scheduler names (Scheduler::pd_prefix_rule; DisaggInstances::decode_prefix_cache): vLLM's KV connectors
// differ, its decode instance runs its own prefix cache (automatic prefix caching, on by default in V1), matches it
// first and pulls only the blocks it lacks (vllm-project/vllm vllm/v1/core/sched/scheduler.py: get_computed_blocks, then
// connector.get_num_new_matched_tokens(request, num_new_local_computed_tokens);
// vllm/distributed/kv_transfer/kv_connector/v1/nixl_connector.py, NixlConnectorScheduler.get_num_new_matched_tokens: the
// prompt less the locally computed tokens; update_state_after_alloc: blocks.get_unhashed_block_ids()). So with vllm each
// decode sequence starts with the cached head held in its instance's prefix cache (EngineFeatures::cached_prefix at
// the decode pool's block, shared blocks as colocated serving holds them, again on a recomputation after a
// preemption) and the transfer carries only the rest's KV (KvTransfer::resident: the tokens not sent). As colocated
// serving assumes, the hit is a steady state: the decode instance's cache holds the head for every request (a first
// request that warms it is not modeled). TensorRT-LLM sends the reused prefix too (NVIDIA/TensorRT-LLM#18688); jetstream
// and sglang-jax are assumed as SGLang. SGLang's opt-in decode radix cache (serve --decode-radix-cache, scenario key
// pools.decode.radix_cache; Scheduler::pd_decode_radix_rule) runs as vLLM's rule: with
// --disaggregation-decode-enable-radix-cache the decode server keeps its radix cache (pd_disaggregation_hook.py:
// disable_radix_cache False), DecodePreallocQueue._match_prefix_and_lock matches the prompt there before it
// preallocates and locks the matched node, the receiver sends the matched length (TransferInfo.decode_prefix_len, "for
// decode radix cache"), and the prefill server sends only from it on (start_send_idx above). Its page is SGLang's token
// (block_tokens 1), the hit a steady state as above (a cold cache's first requests send everything: not modeled).
// SGLang refuses the option with speculative decoding (serve refuses the two together); sglang-jax's is not sourced.
// Not modeled: the share of a data-parallel
// attention group's uneven ranks that group() adds (the slowest rank's own collectives run).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "sim/serve/disagg_types.h"
#include "sim/serve/engine.h"
#include "sim/serve/serve.h"

namespace xpu {

constexpr int kDisaggFabricRounds = 6;
constexpr int kDisaggRelaxFrom = 2;          // the first round whose next inputs are relaxed (see above)
constexpr double kDisaggTolerance = 0.01;    // each reported figure within 1% between what the engine ran and the fabric found
constexpr double kDisaggFloorS = 1e-6;       // or 1 us

// What a round of the fixed point reports (see above): its transfers' mean, p50 and p99, the time the
// iterations' collectives lost to them (summed), the time of those iterations (summed: met_s), the engine's makespan.
struct FabricRound {
  double mean_s = 0, p50_s = 0, p99_s = 0, added_s = 0, met_s = 0, makespan_s = 0;
  // Each quantile's sampling band (see above): how far below and above it lie the quantiles one standard error of its
  // rank away (0: none, the quantile alone).
  double p50_below_s = 0, p50_above_s = 0, p99_below_s = 0, p99_above_s = 0;
  double hbm_s = 0;  // the time the iterations' kernels lost to the transfers' HBM traffic (summed; see above)
};
FabricRound fabric_round(const std::vector<double>& transfer_s);  // mean_s, p50_s, p99_s (and their bands) of the transfers' times
// Whether a round settled (see above): the transfers' mean the engine ran (`engine`) and the one the fabric found with
// them (`fabric`) within kDisaggTolerance of the engine's, their p50 and p99 likewise, each widened by the other's sampling band, the added time and the HBM time each within
// kDisaggTolerance of the engine's met_s, the engine's makespan within kDisaggTolerance of the previous round's (`previous`); each or kDisaggFloorS.
bool fabric_round_settled(const FabricRound& previous, const FabricRound& engine, const FabricRound& fabric);
// The weight of the fabric's figures in the next round's inputs (see above) after `round`, from this round's residual of a
// figure (the fabric's less the engine's: the transfers' mean, or the added and HBM times summed), the last round's and
// the weight it took, the tolerance relative to `scale`: 1 before kDisaggRelaxFrom; then 0.5, or, where the residual kept
// its sign and lies beyond the tolerance, the secant step -w_last x residual_last / (residual - residual_last) within [0.5, 1].
double fabric_relaxation(int round, double residual, double residual_last, double w_last, double scale);

struct KvTransfer {
  std::int64_t request = 0;
  int prefill = 0, decode = 0;     // instance indices in their pools
  std::int64_t tokens = 0;         // prompt tokens whose KV the decode instance needs
  std::int64_t cached = 0;         // of which the prefill instance's prefix cache held (not computed there)
  std::int64_t resident = 0;       // of which the decode instance's prefix cache held (not sent: tokens - resident are)
  double bytes = 0;                // all ranks of the instance
  double start_s = 0, end_s = 0;
};
using KvTransferFn = std::function<double(const KvTransfer&)>;  // its duration in seconds

struct DisaggEngineResult {
  EngineResult total;              // per-request latencies, tokens, makespan; KV occupancy of the decode pool
  std::vector<KvTransfer> transfers;            // in the order they started
  std::vector<EnergyEvents> prefill_events, decode_events;  // per instance, its iterations only
  std::vector<double> prefill_busy_s, decode_busy_s;
  std::int64_t prefill_iterations = 0, decode_iterations = 0;
  DpBalance prefill_dp, decode_dp;  // each pool's data-parallel attention groups (ranks 0: none)
};

// The replicas of each pool and the KV blocks each replica of that pool holds; with data-parallel attention
// (DpAttention) a pool's replicas run in groups of `*_ranks` (its dp), each group one server whose ranks
// step together (RankGroup), fed by the controller's `dispatch`.
struct DisaggInstances {
  int prefill = 1, decode = 1;
  std::int64_t prefill_kv_blocks = 0, decode_kv_blocks = 0;
  int prefill_ranks = 1, decode_ranks = 1;
  DpAttention::Dispatch dispatch = DpAttention::Dispatch::RoundRobin;
  // Speculative decoding on the decode pool (spec_tokens, spec_accept): each decode step verifies the sequence's last
  // token and its drafts and emits the expected accepted tokens as the colocated engine does. Prefix caching on the
  // prefill pool (prefix_hit; disagg.h). The rest unused.
  EngineFeatures features{};
  // The decode instances run a prefix cache of their own (Scheduler::PdPrefixRule::decode_cache, vLLM's KV connectors):
  // each decode sequence starts with the prompt's cached head held there (shared blocks) and its transfer carries only
  // the rest. false: the whole prompt's KV crosses and the decode sequence holds it all (SGLang's default).
  bool decode_prefix_cache = false;
  // Of a prompt of `input` tokens, those whose KV the decode instance's prefix cache holds (blocks of `block_tokens`).
  std::int64_t decode_cached(std::int64_t input, std::int64_t block_tokens) const {
    return decode_prefix_cache ? features.cached_prefix(input, block_tokens) : 0;
  }
};
// Each server's power manager (one chip of it), in server order (a group of ranks is one server); empty: every
// iteration at the nominal clock.
struct DisaggClocks {
  std::vector<IterationClock*> prefill, decode;
  EngineObserver* trace = nullptr;  // serve --trace: each server's iterations ("prefill <i>", "decode <i>") and the requests
};

// An iteration of a server that ran while a KV transfer left or reached one of its ranks (disagg.h: the
// iterations whose collectives the fabric replays beside the transfers).
struct ServerIteration {
  bool prefill = false;
  int first = 0, replicas = 1;  // the server's replicas in its pool (the ranks a transfer names: first .. first + replicas)
  std::int64_t index = 0;       // its ordinal among the server's iterations
  double start_s = 0, time_s = 0;
  // The share of its own time (before any added time) that its devices' HBM was busy: its step's kernels' simulated
  // HBM busy time (StepCost::events.dram_busy_s) over the step's time, at most 1.
  double hbm_busy = 0;
  // Its step's collectives (StepCost::collectives): each from start_s + at x time_s, its group's ranks the
  // step's layout's (ranks of the server from its first replica's first rank).
  std::vector<StepCollective> collectives;
};
// What the engine and the fabric exchange besides the transfers' times: per server (in server order) and
// iteration ordinal, the time the iteration's collectives lost to the KV transfers beside them (`*_extra`) and
// the time its kernels lost to their HBM traffic (`*_hbm`; the engine adds both to the iteration); and, out, the
// iterations a transfer may meet (with collectives, or a busy HBM).
struct DisaggTimeline {
  std::vector<std::vector<double>> prefill_extra, decode_extra;
  std::vector<std::vector<double>> prefill_hbm, decode_hbm;
  std::vector<ServerIteration> iterations;
};

// Runs every request to completion on the instances of both pools: the router sends each request to the
// server that holds the fewest (queued, running, or pending a transfer), whose controller places it on a rank;
// a transfer's decode rank likewise. Each server's iteration is its ranks' (RankGroup::run, the colocated
// engine's), timed by its pool's `*_step` from every rank's composition. InputError when a request can
// never be scheduled on an instance (its KV need exceeds the cache). With a `timeline`, each iteration runs its
// extra time and the iterations a transfer meets are kept with their collectives.
DisaggEngineResult run_disagg_engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load,
                                     const std::function<std::unique_ptr<Scheduler>()>& make_sched, const DisaggInstances& pools,
                                     const GroupStepFn& prefill_step, const GroupStepFn& decode_step,
                                     const std::function<double(std::int64_t tokens)>& kv_bytes, const KvTransferFn& transfer,
                                     const DisaggClocks& clocks = {}, DisaggTimeline* timeline = nullptr);

// Bytes of the KV cache of `tokens` prompt tokens that one decode instance of `sc` receives: what each
// of its sc.tp ranks holds (footprint()'s per-rank cache: KV heads split, or replicated below one per
// rank; MLA's compressed latent whole on every rank) times the ranks. sc.ep and sc.dp do not change it
// (an instance is one replica of tp ranks).
double kv_transfer_bytes(const ModelConfig& model, const Scenario& sc, std::int64_t tokens);
// What one transfer of `tokens` prompt tokens carries to a decode instance of `sc`: the target's KV and, with a
// simulated drafter (a draft model or MTP module; null, or a cost fraction: none), the drafter's own KV of the prompt
// (see speculative decoding above). DisaggLayout::kv_bytes_per_token is this at one token.
double kv_transfer_bytes(const ModelConfig& model, const Drafter* drafter, const Scenario& sc, std::int64_t tokens);

// The pools of `opt` on the system (decode instances of sc's layout, prefill instances of
// opt.prefill_tp/ep/pp/dp or sc's); InputError naming the pool's flags when they do not fit (no system,
// sizes not whole groups of tp x pp x dp, a layout the model does not split, groups not aligned on the
// system's nodes, more chips than the system has). A simulated drafter's KV per token is included in
// kv_bytes_per_token (and given alone in draft_kv_bytes_per_token).
DisaggLayout disagg_layout(const ModelConfig& model, const Scenario& sc, const ServeOptions& opt);
Scenario prefill_scenario(const Scenario& sc, const DisaggLayout& pools);  // sc at the prefill pool's layout
Scenario decode_scenario(const Scenario& sc, const DisaggLayout& pools);   // sc at the decode pool's layout

// Memory per device of each pool at its layout (serve_memory): fills the pools' weights and KV tokens
// per instance; InputError naming the pool and its layout when one leaves no room for the KV cache of
// one request (a prompt of prefill_need tokens, a whole request of decode_need).
void check_pool_memory(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& opt,
                       DisaggLayout& pools, std::int64_t prefill_need, std::int64_t decode_need);

// A serving scenario file (serve --scenario-file FILE.yaml), the flags' counterpart:
//   pools:                                      # optional: disaggregated pools
//     prefill: {devices: 8, tp: 8}              # tp, ep, pp, dp optional: as --prefill-tp/-ep/-pp/-dp
//     decode: {devices: 8, tp: 1, ep: 8, dp: 8}  # tp, ep, pp, dp optional: --tp/--ep/--pp/--dp
//   redundant_experts: 32                       # optional (as --redundant-experts)
//   (pools.prefill.redundant_experts: the prefill pool's own, as --prefill-redundant-experts;
//    pools.decode.radix_cache: true, as --decode-radix-cache)
// Sets sc.redundant_experts and, with pools, opt's pool sizes and prefill layout, sc's layout and
// opt.pools_file (disagg_layout's errors name the file). InputError naming the file and key for an
// unknown key, a missing or out-of-range value, or a value that a flag also gives (`flags`: the pool,
// layout and replica flags given on the command line).
struct PoolFlags {
  bool prefill_devices = false, decode_devices = false, prefill_tp = false, tp = false;
  bool prefill_ep = false, prefill_dp = false, ep = false, dp = false, prefill_pp = false, pp = false;
  bool redundant_experts = false, prefill_redundant_experts = false, decode_radix_cache = false;
  bool prefill_layout() const { return prefill_tp || prefill_ep || prefill_dp || prefill_pp; }
};
void apply_pools_file(const std::string& path, ServeOptions& opt, Scenario& sc, const PoolFlags& flags);

// The messages of one transfer of `bytes` (what the decode instance receives, over all its ranks):
// each decode rank b gets its KV heads from the prefill ranks that hold them (a head replicated on
// several prefill ranks from copy b mod copies; MLA's latent from prefill rank b mod prefill_tp), each
// decode stage its layers from the prefill stages that hold them (a share per layer: assumed, every
// layer's KV the same size), one message per pair of ranks. Ranks are within the instances (stage x tp
// + tp rank).
struct KvMessage {
  int src = 0, dst = 0;
  double bytes = 0;
};
std::vector<KvMessage> kv_messages(const DisaggLayout& pools, double bytes);

// Each transfer's duration when all of `ts` run together on the system's fabric (start times from
// the transfers; the messages of kv_messages between the instances' ranks), beside the collectives of
// `iterations` that overlap in time a transfer leaving or reaching their server (each launched at its place in
// its iteration, lowered as the step's runtime lowers it). `extra` (when given): per iteration, the time
// its collectives lost to the transfers (each collective's end with the transfers less its end without them,
// summed; 0 where none is slower); `replayed`: how many collectives ran beside the transfers.
std::vector<double> kv_transfer_times(const SystemSpec& spec, const DisaggLayout& pools, const std::vector<KvTransfer>& ts,
                                      const std::vector<ServerIteration>& iterations = {}, std::vector<double>* extra = nullptr,
                                      std::int64_t* replayed = nullptr);

// HBM contention (see above): per iteration of `its`, the time its kernels lose to the device-memory traffic of the
// transfers `ts` (each from its start_s for `times[k]`, the fabric's time) that leave or reach its server while it
// runs: over its devices the largest of (the overlapping bytes at the device / `hbm_Bps`) x its hbm_busy.
std::vector<double> kv_hbm_delays(const DisaggLayout& pools, const std::vector<KvTransfer>& ts, const std::vector<double>& times,
                                  const std::vector<ServerIteration>& its, double hbm_Bps);

// One operating point of the disaggregated server (the counterpart of serve.cpp's run_point).
ServePoint run_disagg_point(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& opt,
                            const DisaggLayout& pools, const std::vector<RequestDraw>& reqs, const EngineLoad& load);

}  // namespace xpu
