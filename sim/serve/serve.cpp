#include "sim/serve/serve.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <tuple>

#include "sim/base/limits.h"
#include "sim/base/run_budget.h"
#include "sim/base/strformat.h"

#include "sim/run/system_run.h"
#include "sim/serve/disagg.h"
#include "sim/serve/step_time.h"

namespace xpu {

// A closed loop without --requests runs 4 requests per user (at least 64): the default and the bound on --concurrency.
constexpr std::int64_t kRequestsPerUser = 4;

void set_sequence_limits(ServeOptions& so, std::optional<std::int64_t> max_batch, std::optional<std::int64_t> max_seqs) {
  if (max_batch) {
    so.max_batch = so.limits.max_seqs = *max_batch;
    if (so.max_batch <= 0 || so.max_batch > 65536) throw InputError("--max-batch " + std::to_string(so.max_batch) + ": expected 1 to 65536", "--max-batch", std::to_string(so.max_batch));
  }
  if (!max_seqs) return;
  if (max_batch && *max_seqs != *max_batch)
    throw InputError("--max-seqs " + std::to_string(*max_seqs) + " and --max-batch " + std::to_string(*max_batch) +
                     ": the same limit twice with two values (expected one of them)", "--max-seqs", std::to_string(*max_seqs))
        .mentioning("--max-batch", std::to_string(*max_batch));
  so.limits.max_seqs = *max_seqs;
  if (so.limits.max_seqs <= 0) throw InputError("--max-seqs must be positive, got " + std::to_string(so.limits.max_seqs), "--max-seqs", "");
}

void set_token_limits(ServeOptions& so, std::optional<std::int64_t> token_budget, std::optional<std::int64_t> cache_length,
                      std::optional<std::int64_t> page_size) {
  for (auto [flag, given, field] : {std::tuple{"--token-budget", token_budget, &so.limits.token_budget},
                                    std::tuple{"--cache-length", cache_length, &so.limits.cache_tokens},
                                    std::tuple{"--page-size", page_size, &so.limits.page_tokens}}) {
    if (!given) continue;
    if (*given <= 0) throw InputError(std::string(flag) + " must be positive, got " + std::to_string(*given), flag, std::to_string(*given));
    *field = *given;
  }
}

void set_lengths(ServeOptions& so, const LengthDist& input, const LengthDist& output) {
  auto typical = [](const LengthDist& d) {
    return d.kind == LengthDist::Kind::Uniform ? static_cast<std::int64_t>((d.a + d.b) / 2) : static_cast<std::int64_t>(d.a);
  };
  so.input = typical(input);
  so.output = typical(output);
  so.input_dist.reset();
  so.output_dist.reset();
  if (input.kind != LengthDist::Kind::Fixed) so.input_dist = input;
  if (output.kind != LengthDist::Kind::Fixed) so.output_dist = output;
}

void set_lengths_csv(ServeOptions& so, const std::string& path, const std::string& given) {
  if (!given.empty())
    throw InputError::first_of(given + " with --lengths-csv " + path + ": the CSV gives every request's input and output lengths "
                               "(expected one of them: drop " + given.substr(0, given.find(' ')) + ", or --lengths-csv)", given);
  auto rows = std::make_shared<const LengthRows>(read_lengths_csv(path));
  const auto [input, output] = mean_lengths(*rows);
  so.lengths_csv = path;
  so.input = std::llround(input);
  so.output = std::llround(output);
  so.lengths_rows = std::move(rows);
  so.input_dist.reset();
  so.output_dist.reset();
}

namespace {
// Where a simulated drafter runs: the target's TP group, and a MoE drafter's experts over the target's EP ranks
// (ChipStepTime::set_drafter).
std::string on_group(const Scenario& sc, const ModelConfig& drafter) {
  std::string out = sc.tp > 1 ? ", sharded over the target's tp" + std::to_string(sc.tp) + " group" : "";
  if (drafter.is_moe() && sc.ep > 1) out += (out.empty() ? ", its experts over the target's ep" : " and its experts over the ep") + std::to_string(sc.ep) + " ranks";
  return out.empty() ? out : out + " with its own collectives";
}
}  // namespace

// --spec-draft-tp (Drafter, serve.h): 1 where the target's tp is larger, 0 for the target's own; InputError for a
// value vLLM's _verify_and_get_draft_tp refuses (neither 1 nor the target's tp) and for a drafter or layout that V0's
// SmallerTpProposerWorker did not run (`draft`: the draft model; null with `not_draft`, why the drafter has none).
static int smaller_draft_tp(const Scenario& sc, const ModelConfig* draft, const ServeOptions& o, const char* not_draft = "") {
  if (!o.spec_draft_tp) return 0;
  const int t = *o.spec_draft_tp;
  const std::string f = "--spec-draft-tp", v = std::to_string(t);
  const std::string head = f + " " + v + " (vLLM's draft_tensor_parallel_size)";
  if (t != 1 && t != sc.tp)
    throw InputError(head + ": expected 1 or the target's tensor-parallel degree " + std::to_string(sc.tp) + " (--tp)", f, v);
  if (o.disaggregated())
    throw InputError(head + ": not with disaggregated pools (vLLM V0, which ran a smaller draft tp, had none; the pools' "
                     "drafter runs on each instance's TP group): leave the flag out", f, v);
  if (t == sc.tp) return 0;  // the default, written out
  if (!make_scheduler(o.scheduler, o.limits)->smaller_draft_tp())
    throw InputError(head + ": an option of --scheduler vllm; --scheduler " + o.scheduler +
                         " runs the drafter on the target's TP group (SGLang's EAGLE worker at the target's tp_size)", f, v)
        .mentioning("--scheduler", o.scheduler);
  if (!draft)
    throw InputError(head + ": a draft model's (--spec-method draft --spec-draft NAME), as vLLM V0's SmallerTpProposerWorker ran "
                     "one; " + std::string(not_draft), f, v)
        .mentioning("--spec-method", o.spec_method);
  if (draft->is_moe())
    throw InputError(head + ": " + draft->name + " has experts; a draft tp of 1 is modeled for a dense draft model", f, v);
  if (sc.dp_attention())
    throw InputError(head + ": not with data-parallel attention (" + sc.layout_str() + "): the drafter keeps the target's attention groups", f, v);
  return 1;
}

std::optional<Drafter> make_drafter(const ModelConfig& model, const Scenario& sc, const ServeOptions& o) {
  if (o.spec_tokens == 0) {
    if (o.spec_accept || !o.spec_draft.empty() || o.spec_method != "mtp" || o.spec_draft_tp)
      throw InputError("--spec-accept/--spec-draft/--spec-method/--spec-draft-tp: give --spec-tokens K (the draft tokens per step) too", "--spec-accept", "");
    return std::nullopt;
  }
  if (o.spec_tokens < 0 || o.spec_tokens > 16)
    throw InputError("--spec-tokens " + std::to_string(o.spec_tokens) + ": expected 1 to 16 draft tokens per step", "--spec-tokens", std::to_string(o.spec_tokens));
  if (o.spec_accept && !(*o.spec_accept >= 0 && *o.spec_accept <= 1))
    throw InputError("--spec-accept " + strformat("%g", *o.spec_accept) + ": expected an acceptance rate in [0, 1]", "--spec-accept", strformat("%g", *o.spec_accept));
  if (o.spec_method != "mtp" && o.spec_method != "draft")
    throw InputError("--spec-method '" + o.spec_method + "': expected mtp or draft", "--spec-method", o.spec_method);
  // An acceptance rate belongs to the drafter and the traffic, so it has no default: 0 made every draft a loss.
  if (!o.spec_accept)
    throw InputError("--spec-tokens " + std::to_string(o.spec_tokens) +
                     ": give --spec-accept A too (the drafts' per-token acceptance rate in [0, 1], e.g. 0.7)", "--spec-tokens", std::to_string(o.spec_tokens));
  Drafter d;
  double f = 0;
  size_t used = 0;
  try {
    f = std::stod(o.spec_draft, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (!o.spec_draft.empty() && used == o.spec_draft.size()) {
    if (!(f > 0 && f <= 1))
      throw InputError("--spec-draft " + o.spec_draft + ": a drafter's cost as a fraction of the target's must be in (0, 1]", "--spec-draft", o.spec_draft);
    smaller_draft_tp(sc, nullptr, o, "a cost fraction (--spec-draft) has no layout");
    d.fraction = f;
    d.description = o.spec_method + ": each draft pass costs " + o.spec_draft + " x the target's step (its memory not counted)";
    return d;
  }
  Scenario one = sc;
  one.batch = 1;
  one.input_len = 1;
  one.output_len = 1;
  if (o.spec_method == "draft") {
    if (o.spec_draft.empty())
      throw InputError("--spec-method draft: name the draft model (--spec-draft NAME or config.json) or its cost (--spec-draft 0.05)", "--spec-method", "draft");
    d.model = resolving("--spec-draft", o.spec_draft, [&] { return load_model(o.spec_draft); });
    if (d.model->vocab != model.vocab)
      throw InputError("--spec-draft " + o.spec_draft + ": its vocabulary (" + std::to_string(d.model->vocab) +
                       ") differs from " + model.name + "'s (" + std::to_string(model.vocab) + "); a draft model shares the tokenizer", "--spec-draft", o.spec_draft);
    d.tp = smaller_draft_tp(sc, &*d.model, o);
    // At the layout it runs at (unpipelined, on the last stage's group: serve_memory), its whole weights and KV there.
    const Footprint fp = footprint(*d.model, drafter_scenario(one, *d.model, d.tp));
    d.weight_bytes = fp.weight_bytes;
    d.kv_bytes_per_token = fp.kv_bytes_per_sequence / 2.0;
    d.description = "draft: " + d.model->name + " simulated on the chip" +
                    (d.tp > 0 ? ", whole on the first rank of the target's tp" + std::to_string(sc.tp) +
                                    " group (--spec-draft-tp 1, vLLM V0's SmallerTpProposerWorker: no collective, the other ranks wait)"
                              : on_group(sc, *d.model));
    return d;
  }
  if (!o.spec_draft.empty())
    throw InputError("--spec-draft " + o.spec_draft + ": with --spec-method mtp give a fraction of the target's cost, or nothing (the model's MTP module)", "--spec-draft", o.spec_draft)
        .mentioning("--spec-method", "mtp");
  smaller_draft_tp(sc, nullptr, o, "an MTP module shares the target's sharded embedding and LM head");
  // DeepSeek-V3's MTP module: one more transformer layer of the target's shape (here: its last layer)
  // with the embedding and LM head shared (DeepSeek-V3 technical report, section 2.2).
  ModelConfig m = model;
  m.name = model.name + "-mtp";
  m.layers = 1;
  m.layer_attention = {model.layer_attention.back()};
  m.moe_layer = {model.moe_layer.empty() ? false : model.moe_layer.back()};
  m.first_dense_layers = m.moe_layer[0] ? 0 : 1;
  d.model = m;
  const Footprint fp = footprint(m, drafter_scenario(one, m));
  d.weight_bytes = fp.weight_bytes - fp.embedding_bytes;
  d.kv_bytes_per_token = fp.kv_bytes_per_sequence / 2.0;
  d.description = "mtp: a 1-layer module of " + model.name + " (embedding and LM head shared) simulated on the chip" + on_group(sc, *d.model);
  return d;
}

ServeMemory serve_memory(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const Scheduler& sched,
                         const Drafter* drafter, const CommBufferParams& comm) {
  // The largest iteration's activations: the scheduler's token_budget tokens (the most it runs in one iteration:
  // sglang-jax caps it at its largest compiled token padding) through one layer, plus fp32 logits for
  // every running sequence (footprint() counts one sequence's logits for a batch-1 prefill); each
  // replica (dp) runs its own iteration.
  Scenario big = sc;
  big.phase = Phase::Prefill;
  big.batch = sc.dp;
  big.input_len = sched.limits().token_budget;
  big.output_len = 1;
  // Bytes per cached token over the stage's layers (sliding-window layers counted in full: conservative).
  Scenario one = sc;
  one.batch = sc.dp;
  one.input_len = 1;
  one.output_len = 1;
  const Sharding sh = shard_weights(model, sc);
  ServeMemory best;
  std::vector<std::int64_t> tokens;
  for (int st = 0; st < sc.pp; ++st) {
    ServeMemory m;
    m.stage = st;
    m.capacity_bytes = chip.dram_capacity();
    const Footprint f = stage_footprint(model, big, sh, st * sc.tp, comm);
    const bool last = st == sc.pp - 1;  // the drafter sits with the LM head
    m.weight_bytes = f.weight_bytes + (drafter && last ? drafter->weight_bytes : 0);
    m.activation_bytes = f.activation_bytes + 4.0 * static_cast<double>(sched.logits_rows(model.max_position) - 1) * static_cast<double>(model.vocab);
    m.comm_buffer_bytes = f.comm_buffer_bytes;
    const double frac = sched.memory_fraction();
    const double used = m.weight_bytes + m.activation_bytes + m.comm_buffer_bytes;
    const double left = m.capacity_bytes - used;
    const double free = left - sched.runtime_reserve_bytes();  // what the engine sees free when it sizes the cache
    m.kv_bytes = std::max(0.0, sched.fraction_of_free_memory() ? frac * free : frac * m.capacity_bytes - used);
    m.reserve_bytes = std::max(0.0, left - m.kv_bytes);
    m.kv_bytes_per_token = stage_footprint(model, one, sh, st * sc.tp).kv_bytes_per_sequence / 2.0 +
                           (drafter && last ? drafter->kv_bytes_per_token : 0);
    m.block_tokens = sched.block_tokens();
    m.kv_blocks = static_cast<std::int64_t>(std::floor(m.kv_bytes / (m.kv_bytes_per_token * static_cast<double>(m.block_tokens))));
    m.kv_tokens = m.kv_blocks * m.block_tokens;
    tokens.push_back(m.kv_tokens);
    if (st == 0 || m.kv_tokens < best.kv_tokens) best = m;
  }
  best.stage_kv_tokens = tokens;
  return best;
}

namespace {
std::vector<OccupancySample> thin(const std::vector<OccupancySample>& v, size_t most) {
  if (v.size() <= most) return v;
  std::vector<OccupancySample> out;
  for (size_t i = 0; i < most; ++i) out.push_back(v[i * (v.size() - 1) / (most - 1)]);
  return out;
}
}  // namespace

namespace {
// fill_metrics() with the samples' quantiles from sorted vectors (`ttft`, `tpot`, `e2e`: er's, sorted).
void fill_sorted(ServePoint& pt, const EngineResult& er, int devices, const std::vector<double>& ttft,
                 const std::vector<double>& tpot, const std::vector<double>& e2e) {
  pt.batch = er.max_running;
  pt.requests = er.requests;
  pt.iterations = er.iterations;
  pt.preemptions = er.preemptions;
  pt.makespan_s = er.makespan_s;
  pt.throughput_tok_s = er.makespan_s > 0 ? static_cast<double>(er.output_tokens) / er.makespan_s : 0;
  pt.throughput_tok_s_per_chip = pt.throughput_tok_s / devices;
  pt.requests_per_s = er.makespan_s > 0 ? static_cast<double>(er.requests) / er.makespan_s : 0;
  pt.ttft_s = sorted_percentile(ttft, 0.5);
  pt.ttft_p90_s = sorted_percentile(ttft, 0.9);
  pt.ttft_p99_s = sorted_percentile(ttft, 0.99);
  pt.tpot_s = sorted_percentile(tpot, 0.5);
  pt.tpot_p90_s = sorted_percentile(tpot, 0.9);
  pt.tpot_p99_s = sorted_percentile(tpot, 0.99);
  pt.tpot_requests = static_cast<std::int64_t>(tpot.size());
  pt.itl_p50_s = er.itl_s.percentile(0.5);
  pt.e2e_p50_s = sorted_percentile(e2e, 0.5);
  // What one user sees while its answer streams: the median request's tokens per second after the first.
  pt.tok_s_per_user = pt.tpot_s > 0 ? 1.0 / pt.tpot_s : 0;
  pt.kv_mean = er.kv_mean;
  pt.kv_peak = er.kv_peak;
  pt.kv_over_time = thin(er.occupancy, 64);
  pt.host_wait_share = er.makespan_s > 0 ? er.host_wait_s / er.makespan_s : 0;
  pt.host_busy_share = er.makespan_s > 0 ? er.host_busy_s / er.makespan_s : 0;
  pt.host_bound_share = er.iterations > 0 ? er.host_bound_iterations / static_cast<double>(er.iterations) : 0;
  pt.tokens_per_decode_step = er.decode_steps > 0 ? static_cast<double>(er.decode_tokens) / static_cast<double>(er.decode_steps) : 0;
}

std::vector<double> sorted_copy(const std::vector<double>& v) {
  std::vector<double> s(v);
  std::sort(s.begin(), s.end());
  return s;
}
}  // namespace

// One sorted copy of each sample (percentile() sorted a copy per quantile: the same order statistics).
void fill_metrics(ServePoint& pt, const EngineResult& er, int devices) {
  fill_sorted(pt, er, devices, sorted_copy(er.ttft_s), sorted_copy(er.tpot_s), sorted_copy(er.e2e_s));
}

void fill_metrics(ServePoint& pt, EngineResult&& er, int devices) {
  for (std::vector<double>* v : {&er.ttft_s, &er.tpot_s, &er.e2e_s}) std::sort(v->begin(), v->end());
  fill_sorted(pt, er, devices, er.ttft_s, er.tpot_s, er.e2e_s);
}

DpAttentionStats dp_attention_stats(const DpBalance& b, std::int64_t iterations, double busy_s, const std::string& dispatch) {
  DpAttentionStats d;
  d.ranks = b.ranks;
  d.dispatch = dispatch;
  const double n = std::max<double>(1, static_cast<double>(iterations));
  d.tokens_per_rank_mean = b.tokens_mean_sum / n;
  d.tokens_per_rank_max = b.tokens_max_sum / n;
  d.imbalance = b.tokens_mean_sum > 0 ? b.tokens_max_sum / b.tokens_mean_sum : 1;
  d.requests_per_rank_mean = b.held_mean_sum / n;
  d.requests_per_rank_max = b.held_max_sum / n;
  d.wait_share = busy_s > 0 ? b.wait_s / busy_s : 0;
  d.idle_rank_share = static_cast<double>(b.idle_rank_steps) / (n * std::max(1, b.ranks));
  d.held_share = static_cast<double>(b.held_iterations) / n;
  return d;
}

namespace {

RequestSpec request_spec(const ServeOptions& o) {
  RequestSpec r;
  r.seed = o.seed;
  r.input = o.input_dist ? *o.input_dist : LengthDist::fixed(o.input);
  r.output = o.output_dist ? *o.output_dist : LengthDist::fixed(o.output);
  r.lengths_csv = o.lengths_csv;
  r.lengths_rows = o.lengths_rows;
  r.rate = o.rate;
  return r;
}

struct Study {
  const ChipModel& chip;
  const ModelConfig& model;
  const Scenario& sc;
  const ServeOptions& opt;
  std::optional<Drafter> drafter;
  CommBufferParams comm;
  std::shared_ptr<StepPartCache> cache;  // shared by the points of the call
  std::shared_ptr<StepPartCache> draft_cache = std::make_shared<StepPartCache>();  // the drafter's parts, likewise
};

// Data-parallel replicas serve side by side, each its share of the load: a closed loop's users split
// as evenly as they go (so at most two kinds of replica), open-loop arrivals split at random (each
// replica a Poisson stream of rate / dp), an offline batch split evenly. Replicas with the same load
// are one engine run standing for `count` replicas (folded).
struct ReplicaRun {
  int count = 0;
  EngineLoad load;
  std::int64_t requests = 0;
  EngineResult er;
  PowerResult pw;
  PowerLog log;  // what the power manager did over the run
  double peak = 0;
  OfferedLoad offered;  // the run's arrivals as drawn (open loop)
  ReplicaRun(int count_, const EngineLoad& load_, std::int64_t requests_) : count(count_), load(load_), requests(requests_) {}
};

std::vector<ReplicaRun> replica_runs(int replicas, const EngineLoad& load, std::int64_t requests) {
  std::vector<ReplicaRun> out;
  const std::int64_t R = replicas;
  if (load.kind != EngineLoad::Kind::Closed) {
    return {ReplicaRun(replicas, load, (requests + R - 1) / R)};
  }
  const std::int64_t c = load.concurrency, q = c / R, rem = c % R;
  for (auto [users, count] : {std::pair{q + 1, rem}, std::pair{q, R - rem}}) {
    if (users <= 0 || count <= 0) continue;
    out.emplace_back(static_cast<int>(count), EngineLoad{EngineLoad::Kind::Closed, users},
                     std::max<std::int64_t>(1, std::llround(static_cast<double>(requests) * static_cast<double>(users) / static_cast<double>(c))));
  }
  return out;
}

// The whole layout's requests from its replicas' runs (the busiest replica's occupancy over time).
// One replica (or one data-parallel attention group): its samples are moved out of the run, which keeps its
// other figures (run_point reads only those afterwards), rather than copied (a closed loop of 2,048 users held
// its 2 M token gaps three times over: the run's, this copy and percentile()'s).
EngineResult merge_replicas(std::vector<ReplicaRun>& runs) {
  if (runs.size() == 1 && runs.front().count == 1) {
    EngineResult& e = runs.front().er;
    std::vector<double> ttft = std::move(e.ttft_s), tpot = std::move(e.tpot_s), e2e = std::move(e.e2e_s);
    SampleRuns itl = std::move(e.itl_s);
    e.ttft_s.clear(), e.tpot_s.clear(), e.e2e_s.clear();  // (a moved-from vector is valid but unspecified)
    e.itl_s = SampleRuns();
    EngineResult m = e;
    m.ttft_s = std::move(ttft), m.tpot_s = std::move(tpot), m.e2e_s = std::move(e2e), m.itl_s = std::move(itl);
    return m;
  }
  EngineResult m;
  double wait_share = 0, busy_share = 0, bound_share = 0, servers = 0;
  for (const ReplicaRun& r : runs) {
    const EngineResult& e = r.er;
    const std::int64_t n = r.count;
    m.requests += n * e.requests;
    m.input_tokens += n * e.input_tokens;
    m.output_tokens += n * e.output_tokens;
    m.preemptions += n * e.preemptions;
    m.max_running += n * e.max_running;
    m.decode_steps += n * e.decode_steps;
    m.decode_tokens += n * e.decode_tokens;
    m.iterations = std::max(m.iterations, e.iterations);
    m.makespan_s = std::max(m.makespan_s, e.makespan_s);
    m.kv_mean = std::max(m.kv_mean, e.kv_mean);
    m.kv_peak = std::max(m.kv_peak, e.kv_peak);
    // Each replica is a server with its own host: the host's shares are the replicas' mean (each over
    // its own makespan and iterations), taken back to the merged makespan and iterations below.
    if (e.makespan_s > 0) wait_share += n * e.host_wait_s / e.makespan_s, busy_share += n * e.host_busy_s / e.makespan_s;
    if (e.iterations > 0) bound_share += n * e.host_bound_iterations / static_cast<double>(e.iterations);
    servers += n;
    // Percentiles over every replica's requests: identical replicas are one copy, two kinds by count.
    const int copies = runs.size() == 1 ? 1 : r.count;
    for (int k = 0; k < copies; ++k) {
      for (auto [to, from] : {std::pair{&m.ttft_s, &e.ttft_s}, {&m.tpot_s, &e.tpot_s}, {&m.e2e_s, &e.e2e_s}})
        to->insert(to->end(), from->begin(), from->end());
      m.itl_s.append(e.itl_s);
    }
  }
  m.occupancy = runs.front().er.occupancy;
  m.host_wait_s = wait_share / servers * m.makespan_s;
  m.host_busy_s = busy_share / servers * m.makespan_s;
  m.host_bound_iterations = bound_share / servers * static_cast<double>(m.iterations);
  return m;
}

// One replica's engine run with every iteration's cost from the chip model at the nominal clock (one
// simulation of each step part), run at the clock the power manager allows at that iteration (no second
// simulation: the rescale of power_manager.h). With data-parallel attention the run is the whole group:
// one scheduler per rank, the whole load dispatched by the controller's policy, each step the group's.
void run_replica(const Study& s, ChipStepTime& st, ReplicaRun& run) {
  const PowerSpec* ps = s.chip.power();
  std::optional<ManagedClock> clock;
  if (ps) clock.emplace(*ps, max_clock_ratio(s.chip));
  const bool group = s.sc.dp_attention();
  RequestSpec rs = request_spec(s.opt);
  rs.rate = group ? s.opt.rate : s.opt.rate / s.sc.dp;
  const std::vector<RequestDraw> reqs = draw_requests(rs, run.requests, s.model);
  run.offered = offered_load(reqs);
  std::vector<std::unique_ptr<Scheduler>> scheds;
  std::vector<Scheduler*> ranks;
  for (int r = 0; r < (group ? s.sc.dp : 1); ++r)
    ranks.push_back(scheds.emplace_back(make_scheduler(s.opt.scheduler, s.opt.limits, s.chip.dram_capacity())).get());
  const ServeMemory mem = serve_memory(s.chip, s.model, s.sc, *ranks.front(), s.drafter ? &*s.drafter : nullptr, s.comm);
  const std::int64_t blocks = mem.kv_blocks;
  // The longest request the server admits: the model's context, or the KV pool where it is smaller (sglang-jax's
  // max_req_len = min(context_len - 1, max_total_num_tokens - 1), model_runner.py; the page table's row).
  if (s.model.max_position > 0)
    for (Scheduler* r : ranks) r->set_context_tokens(s.model.max_position, std::max<std::int64_t>(1, mem.kv_tokens));
  IterationClock* c = clock ? &*clock : nullptr;
  EngineFeatures f = s.opt.features();
  if ((f.trace = s.opt.trace)) {  // a closed loop's two kinds of replica differ in their users
    const auto n = run.load.concurrency;
    const std::string users = run.load.kind == EngineLoad::Kind::Closed ? " (" + std::to_string(n) + (n == 1 ? " user)" : " users)") : "";
    f.trace_server = f.trace->server((group ? "dp group" : "replica") + users + (run.count > 1 ? " x" + std::to_string(run.count) : ""));
  }
  if (group)
    run.er = run_group_engine(reqs, run.load, ranks, blocks, [&st](const std::vector<StepShape>& shapes) { return st.group(shapes); },
                              dp_dispatch(s.opt.dp_dispatch), f, c);
  else
    run.er = run_engine(reqs, run.load, *ranks.front(), blocks, [&st](const StepShape& shape) { return st(shape); }, f, c);
  if (!clock) return;
  run.log = clock->log();
  run.pw = power_over_time(s.chip, run.log);
  run.peak = run.log.peak_w;
}

ServePoint run_point(const Study& s, const EngineLoad& load, std::int64_t requests) {
  auto wall0 = std::chrono::steady_clock::now();
  ServePoint pt;
  ChipStepTime st(s.chip, s.model, s.sc, s.opt.interpolate, s.opt.system ? &*s.opt.system : nullptr, s.cache);
  if (s.drafter) st.set_drafter(s.drafter->model ? &*s.drafter->model : nullptr, s.drafter->fraction, s.draft_cache, s.drafter->tp);
  // Data-parallel attention: one run of the whole group (its ranks are not independent replicas).
  const bool group = s.sc.dp_attention();
  const int units = group ? 1 : s.sc.dp;  // servers run apart
  std::vector<ReplicaRun> runs = group ? std::vector<ReplicaRun>{ReplicaRun(1, load, requests)}
                                       : replica_runs(s.sc.dp, load, requests);
  for (ReplicaRun& r : runs) run_replica(s, st, r), pt.busy_s += r.er.busy_s;
  fill_metrics(pt, merge_replicas(runs), s.sc.devices());
  if (group) {
    const EngineResult& e = runs.front().er;
    pt.dp_attention = dp_attention_stats(e.dp, e.iterations, e.busy_s, dp_dispatch_name(dp_dispatch(s.opt.dp_dispatch)));
  }
  // Throughput: the replicas' rates added (each over its own makespan).
  double tok_s = 0, req_s = 0, tokens = 0, power = 0;
  EnergyBreakdown energy;
  double joules = 0;
  const double per_replica = static_cast<double>(s.sc.devices()) / units;  // devices of one replica's share
  for (const ReplicaRun& r : runs) {
    const double n = r.count, out = static_cast<double>(r.er.output_tokens);
    if (r.er.makespan_s > 0) tok_s += n * out / r.er.makespan_s, req_s += n * static_cast<double>(r.er.requests) / r.er.makespan_s;
    tokens += n * out;
    power += n * r.pw.avg_power_w / units;
    pt.peak_power_w = std::max(pt.peak_power_w, r.peak);
    // Every device of the replica spends what its simulated device does (one device's events).
    const double w = n * per_replica;
    joules += w * r.pw.energy_j;
    energy.add(r.pw.breakdown, w);
  }
  // Replicas left without users (a closed loop of fewer users than replicas) idle at static power over
  // the run: their chips are provisioned and powered whether or not they serve.
  int active = 0;
  double window = 0;
  for (const ReplicaRun& r : runs) active += r.count, window = std::max(window, r.er.makespan_s);
  if (const PowerSpec* ps = s.chip.power(); ps && active < units) {
    const double idle = static_cast<double>(units - active), watts = ps->static_power.value();
    power += idle * watts / units;
    joules += idle * per_replica * watts * window;
    energy.static_j += idle * per_replica * watts * window;
  }
  pt.throughput_tok_s = tok_s;
  pt.throughput_tok_s_per_chip = tok_s / s.sc.devices();
  pt.requests_per_s = req_s;
  pt.concurrency = load.kind == EngineLoad::Kind::Closed ? load.concurrency : 0;
  pt.rate = load.kind == EngineLoad::Kind::Open ? s.opt.rate : 0;
  if (pt.rate > 0) pt.offered = runs.front().offered.times(runs.front().count);  // an open loop's replicas are one run
  const ReplicaRun& busiest = runs.front();
  pt.clock_ratio = busiest.pw.clock_ratio;
  pt.throttled = busiest.pw.throttled;
  pt.power_manager = busiest.log;
  if (busiest.pw.modeled && tokens > 0) {
    pt.avg_power_w = power;
    pt.joules_per_token = joules / tokens;
    pt.energy_per_token = {energy.compute_j / tokens, energy.vector_j / tokens, energy.onchip_j / tokens,
                           energy.dram_j / tokens,    energy.active_j / tokens, energy.static_j / tokens};
  } else {
    pt.peak_power_w = 0;
  }
  const ServeOptions& o = s.opt;
  pt.meets_slo = (o.ttft_slo_s <= 0 || pt.ttft_s <= o.ttft_slo_s) && (o.tpot_slo_s <= 0 || pt.tpot_s <= o.tpot_slo_s);
  pt.simulated_parts = st.simulated_parts();
  pt.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return pt;
}

// One decode step at a point's typical batch and context, at the nominal clock.
StepResult decode_step(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& opt,
                       const ServePoint& pt) {
  const ChipModel& c = chip;  // at the nominal clock: the kernels' shares are what is read
  Scenario d = sc;
  d.phase = Phase::Decode;
  // pt.batch counts every replica's sequences; each replica's batch splits into the micro-batches.
  const std::int64_t M = sc.step_microbatches();
  const std::int64_t replica = std::max<std::int64_t>(1, (pt.batch + sc.dp - 1) / sc.dp);
  d.batch = (replica + M - 1) / M * M * sc.dp;
  d.input_len = d.output_len = 1;  // the graph of a decode step depends only on its context
  FusionPolicy f = d.fusion ? *d.fusion : FusionPolicy::parse(c.default_fusion());
  const std::int64_t context = std::min<std::int64_t>(model.max_position, opt.input + opt.output / 2);
  if (opt.system) return run_system_step(c, *opt.system, model, d, StepPlan{true, context, 1}, f, nullptr);
  return run_step_graph(c, build_step_graph(model, d, true, context, f), footprint(model, d).weight_bytes);
}

// The kernels of one decode step at the best point's typical batch and context, and where the cores' path to the HBM
// bounded most of their time (ServeResult::dram_path).
std::vector<ServeKernel> decode_kernels(const Study& s, const ServePoint& pt, std::optional<DramPathBound>& dram_path) {
  StepResult st = decode_step(s.chip, s.model, s.sc, s.opt, pt);
  dram_path = step_dram_path(s.chip, st);
  std::vector<ServeKernel> out;
  for (const auto& n : st.nodes)
    if (!n.fused) {
      // At the point's clock, from the nominal-clock simulation (at_clock, power.h).
      double t = n.events.time_s > 0 ? n.time_s * at_clock(n.events, pt.clock_ratio).time_s / n.events.time_s : n.time_s;
      out.push_back({n.label, t * n.count, n.comm_bytes > 0 ? n.strategy : "", n.comm_bytes});
    }
  return out;
}

// serve --decode-radix-cache (pools.decode.radix_cache): the decode pool's opt-in prefix cache (disagg.h) needs pools,
// a stack whose decode server makes it opt-in, and no speculative decoding (SGLang refuses the two together).
void check_decode_radix_cache(const ServeOptions& o) {
  const std::string f = "--decode-radix-cache";
  // SGLang's flag named by its server argument: Python renames the flags a message names to its keywords.
  const std::string what = f + " (SGLang's server argument disaggregation_decode_enable_radix_cache; scenario key pools.decode.radix_cache)";
  if (!o.disaggregated())
    throw InputError(what + ": the decode pool's prefix cache needs disaggregated pools (--prefill-devices N --decode-devices M); "
                     "one pool's prefix cache is --prefix-hit alone", f, "");
  const auto sched = make_scheduler(o.scheduler, o.limits);
  if (!sched->pd_decode_radix_rule())
    throw InputError(what + ": an option of --scheduler sglang; --scheduler " + o.scheduler +
                         (sched->pd_prefix_rule().decode_cache ? "'s decode instance keeps its prefix cache already (leave the flag out)"
                                                               : " has no decode prefix cache option (expected --scheduler sglang)"),
                     f, "")
        .mentioning("--scheduler", o.scheduler);
  // python/sglang/srt/arg_groups/pd_disaggregation_hook.py: "--disaggregation-decode-enable-radix-cache is incompatible
  // with speculative decoding".
  if (o.spec_tokens > 0)
    throw InputError(what + ": SGLang refuses it with speculative decoding (--spec-tokens " + std::to_string(o.spec_tokens) +
                         "); leave out one of the two", f, "")
        .mentioning("--spec-tokens", std::to_string(o.spec_tokens));
}

void check_options(const ServeOptions& o) {
  if (o.ttft_slo_s < 0 || o.tpot_slo_s < 0) throw InputError("--ttft-slo/--tpot-slo: expected positive times", "--ttft-slo", "").mentioning("--tpot-slo", "");
  for (std::int64_t c : o.concurrency)
    if (c <= 0) throw InputError("--concurrency: expected positive numbers of users, got " + std::to_string(c), "--concurrency", "");
  if (o.rate_given && !(o.rate > 0 && std::isfinite(o.rate))) throw InputError("--rate: expected a positive number of requests per second, got " + strformat("%g", o.rate), "--rate", "");
  if (o.rate_given && o.concurrency_given)
    throw InputError("--rate and --concurrency: give one (open or closed loop), not both", "--rate", "").mentioning("--concurrency", "");
  if (o.requests < 0) throw InputError("--requests: expected a positive number, got " + std::to_string(o.requests), "--requests", "");
  if (o.requests > kMaxRequests)
    throw InputError("--requests " + std::to_string(o.requests) + ": expected at most " + std::to_string(kMaxRequests) +
                     " requests in one run (each is drawn and held before the run starts)", "--requests", std::to_string(o.requests));
  const std::int64_t most_users = o.requests > 0 ? kMaxRequests : kMaxRequests / kRequestsPerUser;
  for (std::int64_t c : o.concurrency)
    if (c > most_users)
      throw InputError("--concurrency " + std::to_string(c) + ": expected at most " + std::to_string(most_users) +
                       " users (a closed loop draws " + std::to_string(kRequestsPerUser) + " requests per user, at most " + std::to_string(kMaxRequests) +
                       " in one run, before the run starts)", "--concurrency", std::to_string(c));
  // A closed loop of N users over fewer than N requests never has N in flight: its row would be the smaller
  // loop's result under N's name (`--concurrency 64 --requests 16` reported conc 64, batch 16).
  if (o.concurrency_given && o.requests > 0)
    for (std::int64_t c : o.concurrency)
      if (o.requests < c)
        throw InputError("--requests " + std::to_string(o.requests) + " is fewer than --concurrency " + std::to_string(c) +
                         ": at most " + std::to_string(o.requests) + " users are ever in flight (expected --requests of at least " +
                         std::to_string(c) + ", or leave --requests out for " + std::to_string(kRequestsPerUser) + " x concurrency)", "--requests", std::to_string(o.requests))
            .mentioning("--concurrency", std::to_string(c));
  if (!(o.prefix_hit >= 0 && o.prefix_hit < 1))
    throw InputError("--prefix-hit " + strformat("%g", o.prefix_hit) + ": expected the cached share of each prompt in [0, 1)", "--prefix-hit", strformat("%g", o.prefix_hit));
  if (o.decode_radix_cache) check_decode_radix_cache(o);
}

}  // namespace

void check_serve_request(const ModelConfig& model, const Scenario& base, const ServeOptions& opt) {
  check_options(opt);
  make_scheduler(opt.scheduler, opt.limits);
  // The layout alone (every replica and micro-batch with one sequence), then the request's lengths.
  Scenario layout = base;
  layout.batch = static_cast<std::int64_t>(base.dp) * base.step_microbatches();
  layout.input_len = layout.output_len = 1;
  layout.phase = Phase::Decode;
  layout.validate(model);
  Scenario check = layout;
  check.input_len = opt.input;
  check.output_len = opt.output;
  check.phase = Phase::Request;
  if (opt.lengths_csv.empty() && !opt.input_dist && !opt.output_dist) check.validate(model);
  draw_requests(request_spec(opt), 1, model);  // distributions and the CSV against the context
  make_drafter(model, base, opt);
}

namespace {
const std::string kOverDmaPath = " over the DMA path";  // point_bound's categories of traffic the path bounded
}  // namespace

PointBound point_bound(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& opt,
                       const ServePoint& pt) {
  PointBound b;
  std::map<std::string, double> by;
  const DramPath path = chip.dram_path();
  for (const NodeResult& n : decode_step(chip, model, sc, opt, pt).nodes) {
    if (n.fused) continue;
    const bool attention = n.op == "attention";
    const bool collective = n.op.find("all") != std::string::npos || n.op.find("reduce") != std::string::npos ||
                            n.op.find("send") != std::string::npos;
    const bool gemm = n.op.find("gemm") != std::string::npos;
    std::string cat = "other";
    if (collective) cat = "communication";
    else if (n.bound == "compute") cat = "compute";
    else if (attention && (n.bound == "memory" || n.bound == "transfer")) cat = "KV-cache traffic";
    else if (gemm && (n.bound == "memory" || n.bound == "transfer")) cat = "weight streaming";
    else if (n.bound == "memory") cat = "activation traffic";  // norms, RoPE, residuals, embedding rows
    else if (n.bound == "vector") cat = "vector units";
    else if (n.bound == "latency") cat = "latency";             // too small to keep any unit busy: fixed costs
    else if (n.bound == "transfer") cat = "on-chip transfer";
    // Traffic the cores' DMA path, not the HBM, held back: the verdict said "weight streaming-bound" beside the
    // table's note that the DMA path bounded the step (QA qa48).
    const bool traffic = cat == "weight streaming" || cat == "KV-cache traffic" || cat == "activation traffic";
    if (traffic && !path.unit.empty() && on_dram_path(path, n.bound_unit)) cat += kOverDmaPath;
    by[cat] += n.time_s * n.count;
  }
  double total = 0;
  for (const auto& [k, v] : by) total += v, b.time_s.push_back({k, v});
  std::sort(b.time_s.begin(), b.time_s.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  if (!b.time_s.empty() && total > 0) b.dominant = b.time_s.front().first, b.share = b.time_s.front().second / total;
  if (b.dominant.size() > kOverDmaPath.size() && b.dominant.compare(b.dominant.size() - kOverDmaPath.size(), kOverDmaPath.size(), kOverDmaPath) == 0)
    b.path_unit = path.unit, b.path_keys = path.keys;
  // The framework's host work, not the chip, set most iterations' time (a small model's short steps at
  // many requests): whatever bounds the decode step, the chip waited for the host.
  if (pt.host_bound_share >= 0.5) b.dominant = "host", b.share = pt.host_bound_share;
  if (pt.preemptions > 0 || pt.kv_peak >= 0.95) b.dominant = "memory capacity", b.share = pt.kv_peak;
  if (b.dominant == "host" || b.dominant == "memory capacity") b.path_unit.clear(), b.path_keys.clear();
  return b;
}

std::string bound_phrase(const PointBound& b) {
  const std::string share = strformat("%.0f%%", 100 * b.share);
  if (b.path_unit.empty()) return b.dominant + "-bound (" + share + ")";
  const std::string what = b.dominant.substr(0, b.dominant.size() - kOverDmaPath.size());
  return what + "-bound on the cores' DMA path (" + b.path_unit + ", peak " + b.path_keys + "), not the HBM (" + share + ")";
}

namespace {
// Out of memory before any step: check_fits's message (lower precision, fewer sequences) or what is
// left for the KV cache, with a layout of the system (or a larger shipped system of the chip) whose
// devices leave room for one request's KV cache under the same scheduler (not for disaggregated
// pools, whose sizes are their own flags).
[[noreturn]] void no_kv_room(const Study& s, const Scheduler& sched, const ServeMemory& mem, std::int64_t need, bool advise) {
  const ModelConfig& model = s.model;
  const Scenario& base = s.sc;
  std::string msg;
  // The weights fit and the largest iteration's activations (the scheduler's budget) take the rest: the
  // budget is named (check_fits would count a negative capacity), then a layout with room, if any.
  // A page larger than the room left (sglang-jax's --page-size): the page, not the budget, is at fault.
  const double page_bytes = mem.kv_bytes_per_token * static_cast<double>(mem.block_tokens);
  if (mem.kv_blocks <= 0 && s.opt.limits.page_tokens > 0 && mem.kv_bytes >= mem.kv_bytes_per_token)
    throw InputError("--page-size " + std::to_string(s.opt.limits.page_tokens) + ": one page of " + model.name + "'s KV cache takes " +
                     format_bytes(page_bytes) + ", more than the " + format_bytes(mem.kv_bytes) + " left for it on " + s.chip.name() +
                     " (expected a smaller --page-size)", "--page-size", std::to_string(s.opt.limits.page_tokens));
  // The sequences whose logits sized the activations: --max-seqs as given, or the fewer the scheduler runs at this
  // context (sglang-jax's attention backend and padded batch), which a smaller --max-seqs lowers only below them.
  const std::int64_t seqs = s.opt.limits.max_seqs > 0 ? s.opt.limits.max_seqs : sched.limits().max_seqs;
  const std::int64_t rows = sched.logits_rows(model.max_position);
  const std::string logits = rows < seqs ? "the logits of the " + std::to_string(rows) + " sequences the scheduler runs at a " +
                                               std::to_string(model.max_position) + "-token context, of --max-seqs " + std::to_string(seqs)
                                         : "--max-seqs " + std::to_string(seqs) + " sequences' logits";
  const std::string smaller = rows >= seqs ? "a smaller --token-budget or --max-seqs"
                                           : rows > 1 ? "a smaller --token-budget, or --max-seqs below " + std::to_string(rows) : "a smaller --token-budget";
  // The iteration's tokens: --token-budget, or the fewer the scheduler runs at once (sglang-jax's largest token padding).
  const std::int64_t runs = sched.limits().token_budget;
  const bool capped = s.opt.limits.token_budget > runs;
  const std::string budget = capped ? std::to_string(runs) + " tokens, the most the scheduler runs at once of --token-budget " +
                                          std::to_string(s.opt.limits.token_budget)
                                    : "--token-budget " + std::to_string(runs);
  const double fixed = mem.weight_bytes + mem.comm_buffer_bytes;
  const bool by_iteration = fixed < mem.capacity_bytes && fixed + mem.activation_bytes >= mem.capacity_bytes;
  try {
    if (by_iteration)
      throw InputError(model.name + " leaves no room for a KV cache on " + s.chip.name() + ": the largest iteration's activations (" + budget +
                       (capped ? ", " : " tokens, ") + logits + ") take " + format_bytes(mem.activation_bytes) +
                       " beside weights of " + format_bytes(mem.weight_bytes) + " in " + format_bytes(mem.capacity_bytes) + " (expected " + smaller + ")",
                       "--token-budget", std::to_string(capped ? s.opt.limits.token_budget : runs));
    Scenario check = base;
    check.batch = base.dp;
    check.input_len = s.opt.input;
    check.output_len = s.opt.output;
    check.phase = Phase::Request;
    // Less is available than `run` gives the same chip: the message says why.
    check_fits(footprint(model, check, s.comm), s.chip.dram_capacity() - mem.activation_bytes, model, check, s.chip.name(), s.comm,
               runs_weights(s.chip, DType::fp4, DType::fp8),
               format_bytes(s.chip.dram_capacity()) + " less " + format_bytes(mem.activation_bytes) +
                   " of activations for the scheduler's largest iteration: " + budget +
                   (rows < seqs ? ", " + logits : ", --max-seqs " + std::to_string(seqs)));
    const std::string where = s.chip.name() + (base.devices() > 1 ? " (per device, stage " + std::to_string(mem.stage) + ")" : "");
    const std::string used = ": weights " + format_bytes(mem.weight_bytes) + " + activations " + format_bytes(mem.activation_bytes) +
                             (mem.comm_buffer_bytes > 0 ? " + communication buffers " + format_bytes(mem.comm_buffer_bytes) : "") +
                             " of " + format_bytes(mem.capacity_bytes) + " (try " + smaller + ")";
    msg = mem.kv_blocks <= 0 ? model.name + " leaves no room for a KV cache on " + where + used
                             : model.name + " leaves a KV cache of " + std::to_string(mem.kv_tokens) + " tokens on " + where +
                                   ", less than one " + std::to_string(need) + "-token request" + used;
  } catch (const InputError& e) {
    msg = e.what();
  }
  const LayoutFit fit = [&](const Scenario& t, const CommBufferParams& comm) {
    Scenario layout = t;  // the layout alone, as check_serve_request checks it
    layout.batch = static_cast<std::int64_t>(t.dp) * t.step_microbatches();
    layout.input_len = layout.output_len = 1;
    layout.phase = Phase::Decode;
    layout.validate(model);
    const std::optional<Drafter> drafter = make_drafter(model, t, s.opt);
    const ServeMemory m = serve_memory(s.chip, model, t, sched, drafter ? &*drafter : nullptr, comm);
    return m.kv_tokens >= need ? m.weight_bytes + m.activation_bytes + m.comm_buffer_bytes : -1.0;
  };
  const std::string advice =
      advise ? layout_advice(s.chip, model, base, s.opt.system ? s.opt.system->spec : single_chip_system(s.chip), fit) : "";
  // Each message names --token-budget first (the budget, or the smaller one to try).
  throw InputError(advice.empty() ? msg : msg + "; " + advice, "--token-budget", std::to_string(capped ? s.opt.limits.token_budget : runs));
}
}  // namespace

LayoutFigures layout_figures(const Scenario& s, bool overlap, bool experts) {
  // Two-batch overlap implies the overlap (one micro-batch's collectives under the other's kernels).
  return {s.tp, s.ep, s.pp, s.dp, experts ? s.expert_tp() : 0, s.step_microbatches(), s.pad_heads, s.redundant_experts, s.sp,
          overlap || s.two_batch_overlap, s.two_batch_overlap};
}

namespace {
// A policy name it does not know, or a policy where no data-parallel attention runs: refused before any simulation.
void check_dp_dispatch(const Scenario& base, const std::optional<DisaggLayout>& pools, const ServeOptions& opt) {
  dp_dispatch(opt.dp_dispatch);
  const bool applies = pools ? prefill_scenario(base, *pools).dp_attention() || decode_scenario(base, *pools).dp_attention()
                             : base.dp_attention();
  if (!opt.dp_dispatch.empty() && !applies)
    throw InputError("--dp-dispatch " + opt.dp_dispatch + ": a data-parallel attention controller's policy; it needs data-parallel "
                     "attention (--dp > 1 with --ep = --tp x --dp), which this layout (" + base.layout_str() + ") does not run", "--dp-dispatch", opt.dp_dispatch);
}

// The scenario as served: the Neuron SDK's flags checked against the chip before the heads are stored as Neuron
// stores them, and the stack's own all-reduce kernels, where the scheduler's stack has them.
Scenario served_scenario(const ChipModel& chip, const Scenario& given, const ServeOptions& opt) {
  check_neuron_flags(chip, given);
  Scenario base = given;
  if (base.allreduce_stack.empty()) base.allreduce_stack = scheduler_allreduce_stack(opt.scheduler);
  return base;
}
}  // namespace

ServeResult serve(const ChipModel& chip, const ModelConfig& asked, const Scenario& given, const ServeOptions& opt) {
  Scenario base = served_scenario(chip, given, opt);
  const ModelConfig model = base.run_model_of(asked);  // the heads as the software stores them
  std::optional<DisaggLayout> pools;
  if (opt.disaggregated()) pools = disagg_layout(model, base, opt);  // before the layout checks: its own messages
  // The prefill pool's layout without the pools would be ignored.
  if (const std::string prefill_flags = opt.prefill_layout_flags(true); !pools && !prefill_flags.empty())
    throw InputError::first_of(prefill_flags + ": the prefill pool's layout needs disaggregated pools (--prefill-devices N --decode-devices M); "
                               "without them one pool serves at --tp/--ep/--pp/--dp", prefill_flags);
  check_serve_request(model, base, opt);
  check_dp_dispatch(base, pools, opt);
  check_runs_dtypes(chip, base.wdtype, base.adtype, base.kvdtype);
  if (!pools) check_layout_fits_system(base, opt.system ? opt.system->spec : single_chip_system(chip), model);
  // No up-front estimate: the steps a server runs follow from its schedule. Each kernel is admitted
  // against the study's total, so a study over --max-transactions stops before the kernel that would
  // cross it.
  TransactionBudget budget("serving " + model.name + " on " + chip.name());
  ServeResult r;
  r.chip = chip.name();
  r.system = opt.system ? opt.system->spec.name : "";
  r.layout = base.layout_str();
  const bool overlap = opt.system && opt.system->overlap;
  r.layout_figures = layout_figures(base, overlap, model.is_moe());
  r.devices = pools ? pools->prefill_devices + pools->decode_devices : base.devices();
  r.disagg = pools;
  if (pools) {
    const Scenario psc = prefill_scenario(base, *pools), dsc = decode_scenario(base, *pools);
    r.prefill_layout = {psc.layout_str(), layout_figures(psc, overlap, model.is_moe())};
    r.decode_layout = {dsc.layout_str(), layout_figures(dsc, overlap, model.is_moe())};
  }
  r.family = chip.family();
  r.model = model.name;
  r.precision = std::string(name(base.wdtype)) + (base.adtype != base.wdtype ? std::string("/") + name(base.adtype) : "");
  r.power_modeled = chip.power() != nullptr;
  r.tdp_w = chip.power() ? chip.power()->tdp.value() : 0;
  auto sched = make_scheduler(opt.scheduler, opt.limits, chip.dram_capacity());
  r.scheduler = opt.scheduler;
  r.limits = sched->limits();
  const HostWork work = sched->launch().work;  // the figures the run uses: the policy's or the overrides
  r.limits.host_fixed_us = work.fixed_us;
  r.limits.host_us_per_request = work.us_per_request;
  r.limits.host_ns_per_table_slot = work.ns_per_table_slot;
  Study s{chip, model, base, opt, make_drafter(model, base, opt), opt.system ? comm_buffer_params(opt.system->spec) : CommBufferParams{},
          opt.step_cache ? opt.step_cache : std::make_shared<StepPartCache>()};
  r.replicas = base.dp;
  if (base.dp > 1 && !pools)
    r.folding = base.dp_attention()
                    ? "dp" + std::to_string(base.dp) + " attention groups with experts over all " + std::to_string(base.ep) +
                          " ranks: one scheduler per group, each with its own requests, KV cache and batch, fed by the controller (" +
                          dp_dispatch_name(dp_dispatch(opt.dp_dispatch)) + "); each iteration the slowest group's attention and per-rank kernels plus the MoE "
                          "at the groups' mean tokens set the step (the expert all-to-alls join them)"
                    : std::to_string(base.dp) + " independent replicas: one replica's engine is run per distinct share of the "
                          "load (users split as evenly as they go, arrivals at rate/" + std::to_string(base.dp) +
                          "); the replicas' throughputs added";
  r.prefix_hit = opt.prefix_hit;
  if (s.drafter) {
    r.spec_tokens = opt.spec_tokens;
    r.spec_accept = opt.spec_accept.value_or(0);
    r.spec_tokens_per_step = opt.features().expected_tokens(opt.spec_tokens);
    r.spec_method = opt.spec_method;
    r.spec_drafter = s.drafter->description;
    r.spec_draft_tp = s.drafter->tp > 0 ? s.drafter->tp : base.tp;
  }
  r.memory = serve_memory(chip, model, base, *sched, s.drafter ? &*s.drafter : nullptr, s.comm);
  if (model.max_position > 0) {  // the running requests the policy settles on with this context and pool (sglang-jax)
    sched->set_context_tokens(model.max_position, std::max<std::int64_t>(1, r.memory.kv_tokens));
    r.limits.max_seqs = sched->limits().max_seqs;
  }
  // One request must fit the KV cache (with length distributions or a CSV, the engine says which cannot).
  const bool fixed = opt.lengths_csv.empty() && !opt.input_dist && !opt.output_dist;
  const std::int64_t need = fixed ? opt.input + opt.output : 1;
  if (pools) {  // each pool at its own layout, per device
    check_pool_memory(chip, model, base, opt, *pools, fixed ? opt.input + 1 : 1, need);
    r.disagg = pools;
    r.layout = "prefill " + prefill_scenario(base, *pools).layout_str() + " + decode " + base.layout_str();
  } else if (r.memory.kv_blocks <= 0 || r.memory.kv_tokens < need) {
    no_kv_room(s, *sched, r.memory, need, true);
  }
  RequestSpec rs = request_spec(opt);
  r.input_lengths = opt.lengths_csv.empty() ? rs.input.str() : opt.lengths_csv;
  r.output_lengths = opt.lengths_csv.empty() ? rs.output.str() : opt.lengths_csv;
  std::vector<EngineLoad> loads;
  if (!opt.concurrency.empty()) {
    r.mode = "closed";
    for (std::int64_t c : opt.concurrency) loads.push_back({EngineLoad::Kind::Closed, c});
  } else if (opt.rate > 0) {
    r.mode = "open";
    loads.push_back({EngineLoad::Kind::Open, 0});
  } else {
    r.mode = "offline";
    loads.push_back({EngineLoad::Kind::Offline, 0});
  }
  r.frontier = loads.size() > 1;
  for (const EngineLoad& load : loads) {
    // Requests of the whole layout (open loop and offline: the defaults are per replica).
    std::int64_t n = opt.requests;
    if (n == 0)
      n = load.kind == EngineLoad::Kind::Closed ? std::max<std::int64_t>(64, kRequestsPerUser * load.concurrency)
          : load.kind == EngineLoad::Kind::Open ? 256 * base.dp
                                                : 4 * r.limits.max_seqs * base.dp;
    if (opt.progress)
      std::cerr << "  " << chip.name() << ": " << r.mode << (load.concurrency ? " concurrency " + std::to_string(load.concurrency) : "")
                << ", " << n << " requests...\n";
    r.curve.push_back(pools ? run_disagg_point(chip, model, base, opt, *pools, draw_requests(rs, n, model), load) : run_point(s, load, n));
    if (opt.progress && !pools)
      std::cerr << "    " << r.curve.back().simulated_parts << " new step parts, " << format_seconds(r.curve.back().wall_s) << "\n";
  }
  for (size_t i = 0; i < r.curve.size(); ++i)
    if (r.curve[i].meets_slo && (r.best < 0 || r.curve[i].throughput_tok_s > r.curve[static_cast<size_t>(r.best)].throughput_tok_s))
      r.best = static_cast<int>(i);
  if (r.best < 0) {
    r.note = "no operating point meets the latency targets";
  } else {
    const ServePoint& b = r.curve[static_cast<size_t>(r.best)];
    r.kernels = decode_kernels(s, b, r.dram_path);
    r.cost = cost_figures(chip.cost(), b.throughput_tok_s_per_chip, b.avg_power_w);
    if (r.cost.usd_per_hour <= 0) r.note = "no published price: supply one with --set " + chip.name() + ":cost.chip_hour=USD";
  }
  return r;
}

}  // namespace xpu
