// The iteration loop of an inference server over a scheduler and a step-time function.
#include "sim/serve/engine.h"

#include <algorithm>
#include <cmath>

#include "sim/base/error.h"
#include "sim/serve/rank_group.h"

namespace xpu {

StepShape shape_of(const Batch& b) {
  StepShape s;
  for (const ScheduledWork& w : b) {
    // One new token after a cached context is a decode step; a decoding sequence with drafts is a
    // verification step; anything else is (a chunk of) prefill.
    const bool decoding = w.seq ? w.seq->decoding() : w.context > 0;
    if (w.tokens == 1 && w.context > 0) {
      ++s.decode_seqs;
      s.decode_kv_sum += w.context + 1;
    } else if (decoding) {
      ++s.verify_seqs;
      s.verify_tokens += w.tokens;
      s.verify_kv_sum += w.context + w.tokens;
    } else {
      s.prefill_tokens += w.tokens;
      ++s.prefill_chunks;
      s.prefill_kv_sum += w.context + w.tokens;
    }
  }
  // vLLM V1 projects the last position of every scheduled request through the LM head (partial
  // prefills' samples are discarded); TensorRT-LLM and SGLang likewise gather one row per request.
  // A verification step needs the logits of every position it verifies.
  s.logit_rows = static_cast<std::int64_t>(b.size()) + s.verify_tokens - s.verify_seqs;
  return s;
}

bool HostLaunch::graphed(const StepShape& s) const {
  return s.prefill_chunks == 0 && s.decode_seqs + s.verify_seqs <= graph_max_batch;
}

StepShape HostLaunch::padded(const StepShape& s) const {
  if (s.prefill_chunks > 0 && !token_buckets.empty()) {
    // The padding tokens sample nothing: the LM head's rows stay those of the real requests.
    const auto it = std::lower_bound(token_buckets.begin(), token_buckets.end(), s.tokens());
    if (it == token_buckets.end() || *it <= s.tokens()) return s;
    StepShape p = s;
    if (slot_cache_tokens > 0 && s.prefill_chunks == 1 && s.decode_seqs + s.verify_seqs == 0) {
      // One prompt padded to its bucket and run whole: the causal mask spans the padding too.
      p.prefill_kv_sum += *it - s.tokens();
      p.prefill_tokens += *it - s.tokens();
      return p;
    }
    p.padding_tokens = *it - s.tokens();
    return p;
  }
  if (graph_batches.empty() || !graphed(s) || s.decode_seqs == 0 || s.verify_seqs > 0) return s;
  const auto it = std::lower_bound(graph_batches.begin(), graph_batches.end(), s.decode_seqs);
  if (it == graph_batches.end() || (*it <= s.decode_seqs && slot_cache_tokens == 0)) return s;
  // A dummy request holds one cached token (model_engine.py _get_padded_batch: add_dummy_requests
  // with the default token count of 1): its attention work (one key and value per KV head) is left out
  // beside the real sequences' contexts, its rows in every other kernel are not.
  StepShape p = s;
  p.padding_rows = *it - s.decode_seqs;
  p.logit_rows += p.padding_rows;
  if (slot_cache_tokens > 0) {
    // Every slot, empty or not, attends over its whole cache (a dense cache under a mask).
    p.decode_seqs += p.padding_rows;
    p.padding_rows = 0;
    p.decode_kv_sum = p.decode_seqs * slot_cache_tokens;
  }
  return p;
}

double HostLaunch::dispatch_s(const StepShape& s, double kernels) const {
  return graphed(s) ? 0 : kernels * us_per_kernel * 1e-6;
}

double HostLaunch::table_slots(const StepShape& s) const {
  if (work.ns_per_table_slot <= 0 || table_row_tokens <= 0) return 0;
  const std::int64_t requests = s.decode_seqs + s.verify_seqs + s.prefill_chunks;
  // A decode batch's rows are those of the graph it replays (padded()); any other, the largest batch padding.
  const std::int64_t rows = s.prefill_chunks > 0 || s.verify_seqs > 0 ? std::max(requests, graph_max_batch)
                                                                      : requests + padded(s).padding_rows;
  return static_cast<double>(rows + requests) * static_cast<double>(table_row_tokens);
}

double HostLaunch::host_s(const StepShape& s, double kernels, std::int64_t running) const {
  return dispatch_s(s, kernels) + work.seconds(running, table_slots(s));
}

StepCost HostLaunch::bound(StepCost c, const StepShape& s, std::int64_t running) const {
  return bound(c, dispatch_s(s, c.kernels), work.seconds(running, table_slots(s)));
}

StepCost HostLaunch::bound(StepCost c, double dispatch, double framework) const {
  const double t = work.overlapped ? std::max(c.time_s, dispatch + framework) : std::max(c.time_s, dispatch) + framework;
  const double wait = t - c.time_s;
  if (wait > 0) {
    c.time_s += wait;
    c.events.time_s += wait;  // the chip waits for the host: static power only
  }
  return c;
}

StepCost ManagedClock::run(const StepCost& nominal) {
  if (nominal.time_s <= 0) return nominal;
  StepCost c = nominal;
  const double clock0 = m_state.log().clock_s, time0 = m_state.log().time_s;
  c.events = m_state.run(nominal.events).events;
  c.time_s = c.events.time_s;
  const double dt = m_state.log().time_s - time0;
  m_last_clock = dt > 0 ? (m_state.log().clock_s - clock0) / dt : 0;
  return c;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return sorted_percentile(v, q);
}

double SampleRuns::max() const {
  double m = m_runs.front().value;
  for (const Run& r : m_runs) m = std::max(m, r.value);
  return m;
}

namespace {
// Where quantile q falls among n sorted samples (n > 0): ranks lo and hi and the share of the way from lo to hi.
struct RankPosition {
  size_t lo, hi;
  double frac;
  double between(double at_lo, double at_hi) const { return at_lo + (at_hi - at_lo) * frac; }
};
RankPosition rank_position(size_t n, double q) {
  const double pos = q * static_cast<double>(n - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  return {lo, std::min(n - 1, lo + 1), pos - static_cast<double>(lo)};
}
}  // namespace

double SampleRuns::percentile(double q) const {
  if (m_size == 0) return 0;
  std::vector<Run> v(m_runs);
  std::sort(v.begin(), v.end(), [](const Run& a, const Run& b) { return a.value < b.value; });
  const RankPosition rank = rank_position(m_size, q);
  const size_t lo = rank.lo, hi = rank.hi;
  // The values at ranks lo and hi of the samples sorted one by one.
  double at_lo = 0, at_hi = 0;
  size_t seen = 0;
  for (const Run& r : v) {
    const size_t next = seen + static_cast<size_t>(r.count);
    if (lo >= seen && lo < next) at_lo = r.value;
    if (hi >= seen && hi < next) {
      at_hi = r.value;
      break;
    }
    seen = next;
  }
  return rank.between(at_lo, at_hi);
}

double sorted_percentile(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const RankPosition r = rank_position(v.size(), q);
  return r.between(v[r.lo], v[r.hi]);
}

double EngineFeatures::expected_tokens(std::int64_t drafts) const {
  double e = 1, term = 1;
  for (std::int64_t i = 1; i <= drafts; ++i) e += (term *= spec_accept);
  return e;
}

std::int64_t EngineFeatures::cached_prefix(std::int64_t input, std::int64_t block_tokens) const {
  const auto hit = static_cast<std::int64_t>(std::floor(prefix_hit * static_cast<double>(input)));
  return std::min(hit, input - 1) / block_tokens * block_tokens;
}

std::int64_t EngineFeatures::emitted(Sequence& s, std::int64_t drafts) const {
  if (drafts <= 0) return 1;
  s.spec_credit += expected_tokens(drafts);
  const auto n = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(s.spec_credit + 1e-9)), 1, drafts + 1);
  s.spec_credit -= static_cast<double>(n);
  return std::min(n, s.output - s.generated);
}

DpAttention::Dispatch dp_dispatch(const std::string& name) {
  if (name.empty() || name == "round_robin") return DpAttention::Dispatch::RoundRobin;
  if (name == "shortest_queue") return DpAttention::Dispatch::ShortestQueue;
  if (name == "minimum_tokens") return DpAttention::Dispatch::MinimumTokens;
  throw InputError("--dp-dispatch: expected round_robin, shortest_queue or minimum_tokens, got '" + name + "'", "--dp-dispatch", "");
}

const char* dp_dispatch_name(DpAttention::Dispatch d) {
  return d == DpAttention::Dispatch::RoundRobin ? "round_robin" : d == DpAttention::Dispatch::ShortestQueue ? "shortest_queue" : "minimum_tokens";
}

GroupStepFn one_rank(StepTimeFn step) {
  return [step = std::move(step)](const std::vector<StepShape>& s) { return step(s.front()); };
}

namespace {

class Engine {
 public:
  Engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load, const std::vector<Scheduler*>& scheds, std::int64_t kv_blocks,
         const GroupStepFn& step, DpAttention::Dispatch dispatch, const EngineFeatures& features, IterationClock* clock)
      : m_load(load), m_step(step), m_group(scheds, kv_blocks, dispatch), m_features(features), m_clock(clock) {
    const std::int64_t bt = m_group.ranks().front().st.kv.block_tokens();
    m_seqs.resize(reqs.size());
    m_rank_of.assign(reqs.size(), 0);
    for (size_t i = 0; i < reqs.size(); ++i) {
      Sequence& s = m_seqs[i];
      s.id = static_cast<std::int64_t>(i);
      s.input = reqs[i].input;
      s.output = reqs[i].output;
      s.arrival_s = load.kind == EngineLoad::Kind::Open ? reqs[i].arrival_s : 0;
      s.prefix = features.cached_prefix(s.input, bt);
      s.computed = s.prefix;
      s.lookahead = features.spec_tokens;
    }
    // Closed loop: the first `concurrency` requests start at once, each later one when a user is free.
    m_released = load.kind == EngineLoad::Kind::Closed ? std::min<size_t>(m_seqs.size(), static_cast<size_t>(load.concurrency))
                                                       : m_seqs.size();
    m_r.kv_blocks = kv_blocks;
    m_r.block_tokens = bt;
    if (scheds.size() > 1) m_r.dp.ranks = static_cast<int>(scheds.size());
  }

  EngineResult run() {
    while (m_finished < m_seqs.size()) {
      admit_arrivals();
      if (m_group.held() == 0) {
        idle_until_next_arrival();
        continue;
      }
      if (!m_group.schedule()) stuck();
      const StepCost c = m_group.run(m_step, m_clock, m_r, m_r.dp);
      if (m_features.trace) m_features.trace->on_iteration(m_features.trace_server, m_group.record(m_t, c.time_s, m_clock));
      advance(c.time_s);
      m_r.events += c.events;
      m_r.busy_s += c.time_s;
      ++m_r.iterations;
      for (const RankGroup::Rank& k : m_group.ranks()) complete(k.batch);
      const RankGroup::Totals n = m_group.totals();
      m_r.occupancy.push_back({m_t, static_cast<double>(n.used) / std::max<std::int64_t>(1, n.total), n.running, n.waiting});
    }
    m_r.makespan_s = m_t;
    for (const RankGroup::Rank& k : m_group.ranks()) m_r.preemptions += k.st.preemptions;
    m_r.kv_mean = m_t > 0 ? m_kv_area / m_t : 0;
    // Moved, not copied: an engine runs once (run_engine, run_group_engine build one for the call), and its
    // per-token gaps alone are 8 bytes a token (a closed loop of 2,048 users: 8,192 requests, 16 MB).
    return std::move(m_r);
  }

 private:
  void admit_arrivals() {
    // Open loop: arrivals are time-sorted; FCFS among those already here.
    while (m_next < m_released && m_seqs[m_next].arrival_s <= m_t) {
      const size_t r = m_group.pick();
      m_rank_of[m_next] = r;
      m_group.ranks()[r].st.waiting.push_back(&m_seqs[m_next++]);
    }
  }
  void idle_until_next_arrival() {
    if (m_next >= m_released) throw std::logic_error("serving engine: no request left to run (internal bookkeeping error)");
    const double t = m_seqs[m_next].arrival_s;
    EnergyEvents idle;
    idle.time_s = t - m_t;  // the chip idles: static power only (with a clock: the idle chip's power)
    m_r.events += idle;
    if (m_clock) m_clock->idle(t - m_t);
    advance(t - m_t);
  }
  void advance(double dt) {
    const RankGroup::Totals n = m_group.totals();
    m_r.in_system_s += static_cast<double>(n.running + n.waiting) * dt;
    const double share = static_cast<double>(n.used) / std::max<std::int64_t>(1, n.total);
    m_kv_area += share * dt;
    m_r.kv_peak = std::max(m_r.kv_peak, share);
    m_r.max_running = std::max<std::int64_t>(m_r.max_running, n.running);
    m_t += dt;
  }
  [[noreturn]] void stuck() const {
    const RankGroup::Rank* k = &m_group.ranks().front();
    for (const RankGroup::Rank& x : m_group.ranks())
      if (!x.st.waiting.empty() || !x.st.running.empty()) {
        k = &x;
        break;
      }
    const Sequence* s = k->st.waiting.empty() ? k->st.running.front() : k->st.waiting.front();
    throw InputError("serving engine: a request of " + std::to_string(s->input) + " + " + std::to_string(s->output) +
                     " tokens can never be scheduled: the KV cache holds " +
                     std::to_string(k->st.kv.total() * k->st.kv.block_tokens()) + " tokens (" + std::to_string(k->st.kv.total()) +
                     " blocks) and the token budget is " + std::to_string(k->sched->limits().token_budget) +
                     "; use shorter requests, a lower-precision KV cache or a larger --token-budget", "--token-budget", "");
  }
  void complete(const Batch& b) {
    for (const ScheduledWork& w : b) {
      Sequence& s = *w.seq;
      const bool decode = s.decoding();
      std::int64_t n = 1;
      if (decode) {
        n = m_features.emitted(s, w.tokens - 1);
        s.computed += n;  // the last token and the accepted drafts; the rejected drafts' KV is dropped
        ++m_r.decode_steps;
        m_r.decode_tokens += n;
      } else {
        s.computed += w.tokens;
        m_r.prefill_tokens += w.tokens;
        if (s.computed < s.num_tokens()) continue;  // a prefill chunk: no token yet
      }
      s.generated += n;
      m_r.output_tokens += n;
      if (s.first_token_s < 0) s.first_token_s = m_t;
      else if (s.last_token_s >= 0) m_r.itl_s.push_back(m_t - s.last_token_s);  // one gap per streamed chunk
      s.last_token_s = m_t;
      if (s.done()) finish(s);
    }
  }
  void finish(Sequence& s) {
    s.finish_s = m_t;
    SchedState& st = m_group.ranks()[m_rank_of[static_cast<size_t>(s.id)]].st;
    st.kv.release(s);
    st.running.erase(std::remove(st.running.begin(), st.running.end(), &s), st.running.end());
    ++m_finished;
    ++m_r.requests;
    m_r.input_tokens += s.input;
    m_r.ttft_s.push_back(s.first_token_s - s.arrival_s);
    m_r.e2e_s.push_back(s.finish_s - s.arrival_s);
    if (s.output > 1) m_r.tpot_s.push_back((s.finish_s - s.first_token_s) / static_cast<double>(s.output - 1));
    if (m_features.trace) m_features.trace->on_request(m_features.trace_server, {s.id, s.input, s.output, s.arrival_s, s.first_token_s, s.finish_s});
    if (m_load.kind == EngineLoad::Kind::Closed && m_released < m_seqs.size()) m_seqs[m_released++].arrival_s = m_t;
  }

  EngineLoad m_load;
  const GroupStepFn& m_step;
  RankGroup m_group;
  EngineFeatures m_features;
  IterationClock* m_clock;
  std::vector<Sequence> m_seqs;
  std::vector<size_t> m_rank_of;  // the rank each request was dispatched to
  size_t m_next = 0, m_released = 0, m_finished = 0;
  double m_t = 0, m_kv_area = 0;
  EngineResult m_r;
};

void check_engine_inputs(const EngineLoad& load, std::int64_t kv_blocks, const EngineFeatures& features) {
  if (!(features.prefix_hit >= 0 && features.prefix_hit < 1))
    throw InputError("--prefix-hit: expected a share in [0, 1), got " + std::to_string(features.prefix_hit), "--prefix-hit", "");
  if (features.spec_tokens < 0 || !(features.spec_accept >= 0 && features.spec_accept <= 1))
    throw InputError("--spec-tokens/--spec-accept: expected a non-negative number of drafts and an acceptance rate in [0, 1]", "--spec-tokens", "").mentioning("--spec-accept", "");
  if (load.kind == EngineLoad::Kind::Closed && load.concurrency <= 0)
    throw InputError("--concurrency: expected a positive number of users, got " + std::to_string(load.concurrency), "--concurrency", "");
  // Not a user's input: serve refuses a model that leaves no room for a KV cache, naming it, the chip and the sizes.
  if (kv_blocks <= 0) throw std::logic_error("serving engine: no memory is left for the KV cache (its caller checks that first)");
}
}  // namespace

EngineResult run_engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load, Scheduler& sched,
                        std::int64_t kv_blocks, const StepTimeFn& step, const EngineFeatures& features,
                        IterationClock* clock) {
  check_engine_inputs(load, kv_blocks, features);
  const GroupStepFn one = one_rank(step);
  return Engine(reqs, load, {&sched}, kv_blocks, one, DpAttention::Dispatch::RoundRobin, features, clock).run();
}

EngineResult run_group_engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load, const std::vector<Scheduler*>& scheds,
                              std::int64_t kv_blocks, const GroupStepFn& step, DpAttention::Dispatch dispatch,
                              const EngineFeatures& features, IterationClock* clock) {
  check_engine_inputs(load, kv_blocks, features);
  if (scheds.empty()) throw std::logic_error("serving engine: a data-parallel attention group needs at least one rank");
  return Engine(reqs, load, scheds, kv_blocks, step, dispatch, features, clock).run();
}

}  // namespace xpu
