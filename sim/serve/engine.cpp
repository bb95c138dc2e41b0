// The iteration loop of an inference server over a scheduler and a step-time function.
#include "sim/serve/engine.h"

#include <algorithm>
#include <cmath>

#include "sim/base/error.h"

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
  c.events = m_state.run(nominal.events).events;
  c.time_s = c.events.time_s;
  return c;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double EngineFeatures::expected_tokens(std::int64_t drafts) const {
  double e = 1, term = 1;
  for (std::int64_t i = 1; i <= drafts; ++i) e += (term *= spec_accept);
  return e;
}

DpAttention::Dispatch dp_dispatch(const std::string& name) {
  if (name.empty() || name == "round_robin") return DpAttention::Dispatch::RoundRobin;
  if (name == "shortest_queue") return DpAttention::Dispatch::ShortestQueue;
  if (name == "minimum_tokens") return DpAttention::Dispatch::MinimumTokens;
  throw InputError("--dp-dispatch: expected round_robin, shortest_queue or minimum_tokens, got '" + name + "'");
}

const char* dp_dispatch_name(DpAttention::Dispatch d) {
  return d == DpAttention::Dispatch::RoundRobin ? "round_robin" : d == DpAttention::Dispatch::ShortestQueue ? "shortest_queue" : "minimum_tokens";
}

namespace {
// A group replays CUDA graphs only where every rank can (SGLang all-gathers can_cuda_graph and takes the
// minimum); an idle rank can.
bool group_graphed(const HostLaunch& l, const std::vector<StepShape>& s) {
  return std::all_of(s.begin(), s.end(), [&](const StepShape& x) { return x.tokens() == 0 || l.graphed(x); });
}

// The compositions the ranks run. A graphed decode iteration replays, on every rank, the graph of the
// largest rank's batch (SGLang's CUDA-graph runner under DP attention sizes it from the largest of the
// gathered token counts), an idle rank included; an eager iteration pads nothing of a decoding rank.
std::vector<StepShape> group_padded(const HostLaunch& l, const std::vector<StepShape>& s) {
  if (s.size() == 1) return {l.padded(s[0])};
  std::vector<StepShape> out = s;
  const bool graphed = group_graphed(l, s);
  std::int64_t most = 0;
  bool verify = false;
  for (const StepShape& x : s) most = std::max(most, x.decode_seqs), verify = verify || x.verify_seqs > 0;
  if (graphed && !l.graph_batches.empty() && l.slot_cache_tokens == 0 && most > 0 && !verify) {
    StepShape probe;
    probe.decode_seqs = probe.decode_kv_sum = probe.logit_rows = most;
    const std::int64_t rows = most + l.padded(probe).padding_rows;
    for (StepShape& x : out) {
      x.padding_rows = rows - x.decode_seqs;
      x.logit_rows += x.padding_rows;
    }
    return out;
  }
  for (StepShape& x : out)
    if (x.tokens() > 0 && (graphed || x.prefill_chunks > 0)) x = l.padded(x);
  return out;
}

struct Rank {
  Scheduler* sched = nullptr;
  SchedState st;
};

class Engine {
 public:
  Engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load, const std::vector<Scheduler*>& scheds, std::int64_t kv_blocks,
         const GroupStepFn& step, DpAttention::Dispatch dispatch, const EngineFeatures& features, IterationClock* clock)
      : m_load(load), m_step(step), m_dispatch(dispatch), m_features(features), m_clock(clock) {
    for (Scheduler* sc : scheds) {
      Rank r;
      r.sched = sc;
      r.st.kv = KvBlockPool(kv_blocks, sc->block_tokens());
      m_ranks.push_back(std::move(r));
    }
    const std::int64_t bt = m_ranks.front().st.kv.block_tokens();
    m_seqs.resize(reqs.size());
    m_rank_of.assign(reqs.size(), 0);
    for (size_t i = 0; i < reqs.size(); ++i) {
      Sequence& s = m_seqs[i];
      s.id = static_cast<std::int64_t>(i);
      s.input = reqs[i].input;
      s.output = reqs[i].output;
      s.arrival_s = load.kind == EngineLoad::Kind::Open ? reqs[i].arrival_s : 0;
      // Whole cached blocks, never the last prompt token (its logits give the first output token).
      const auto hit = static_cast<std::int64_t>(std::floor(features.prefix_hit * static_cast<double>(s.input)));
      s.prefix = std::min(hit, s.input - 1) / bt * bt;
      s.computed = s.prefix;
      s.lookahead = features.spec_tokens;
    }
    // Closed loop: the first `concurrency` requests start at once, each later one when a user is free.
    m_released = load.kind == EngineLoad::Kind::Closed ? std::min<size_t>(m_seqs.size(), static_cast<size_t>(load.concurrency))
                                                       : m_seqs.size();
    m_r.kv_blocks = kv_blocks;
    m_r.block_tokens = bt;
    if (m_ranks.size() > 1) m_r.dp.ranks = static_cast<int>(m_ranks.size());
  }

  EngineResult run() {
    const size_t R = m_ranks.size();
    std::vector<Batch> batches(R);
    std::vector<StepShape> shapes(R);
    while (m_finished < m_seqs.size()) {
      admit_arrivals();
      if (held() == 0) {
        idle_until_next_arrival();
        continue;
      }
      bool any = false;
      for (size_t r = 0; r < R; ++r) {
        batches[r] = m_ranks[r].sched->schedule(m_ranks[r].st);
        any = any || !batches[r].empty();
        shapes[r] = batches[r].empty() ? StepShape{} : shape_of(batches[r]);
      }
      if (!any) stuck();
      const HostLaunch launch = m_ranks.front().sched->launch();
      const StepCost nominal = m_step(group_padded(launch, shapes));
      const StepCost gpu = m_clock ? m_clock->run(nominal) : nominal;
      StepCost c = gpu;
      double host = 0;
      bool graphed = false;
      if (R == 1) {
        // The requests the framework's loop walks this iteration: every one it holds after scheduling.
        const auto running = static_cast<std::int64_t>(m_ranks[0].st.running.size());
        c = launch.bound(gpu, shapes[0], running);
        host = launch.host_s(shapes[0], gpu.kernels, running);
        graphed = launch.graphed(shapes[0]);
      } else {
        graphed = group_graphed(launch, shapes);
        c = group_bound(launch, gpu, batches, shapes, graphed, host);
        balance(shapes, nominal, gpu);
      }
      if (m_clock && c.time_s > gpu.time_s) m_clock->idle(c.time_s - gpu.time_s);
      m_r.eager_iterations += launch.us_per_kernel > 0 && !graphed;
      m_r.host_wait_s += c.time_s - gpu.time_s;
      m_r.host_busy_s += host;
      m_r.host_bound_iterations += c.time_s > gpu.time_s;
      advance(c.time_s);
      m_r.events += c.events;
      m_r.busy_s += c.time_s;
      ++m_r.iterations;
      for (size_t r = 0; r < R; ++r) complete(batches[r]);
      const Totals n = totals();
      m_r.occupancy.push_back({m_t, static_cast<double>(n.used) / std::max<std::int64_t>(1, n.total), n.running, n.waiting});
    }
    m_r.makespan_s = m_t;
    for (const Rank& k : m_ranks) m_r.preemptions += k.st.preemptions;
    m_r.kv_mean = m_t > 0 ? m_kv_area / m_t : 0;
    return m_r;
  }

 private:
  // The ranks' KV blocks and requests, summed.
  struct Totals {
    std::int64_t used = 0, total = 0, running = 0, waiting = 0;
  };
  Totals totals() const {
    Totals n;
    for (const Rank& k : m_ranks)
      n.used += k.st.kv.used(), n.total += k.st.kv.total(), n.running += static_cast<std::int64_t>(k.st.running.size()),
          n.waiting += static_cast<std::int64_t>(k.st.waiting.size());
    return n;
  }
  size_t held() const {
    const Totals n = totals();
    return static_cast<size_t>(n.running + n.waiting);
  }
  // The controller's choice of rank for the next arrival.
  size_t pick_rank() {
    if (m_ranks.size() == 1) return 0;
    if (m_dispatch == DpAttention::Dispatch::RoundRobin) return m_rr++ % m_ranks.size();
    // shortest_queue: the requests a rank holds; minimum_tokens: their tokens (context and prompt to come).
    auto load = [&](const Rank& k) {
      if (m_dispatch == DpAttention::Dispatch::ShortestQueue) return static_cast<std::int64_t>(k.st.running.size() + k.st.waiting.size());
      std::int64_t t = 0;
      for (const Sequence* s : k.st.running) t += s->num_tokens();
      for (const Sequence* s : k.st.waiting) t += s->num_tokens();
      return t;
    };
    size_t best = 0;
    for (size_t r = 1; r < m_ranks.size(); ++r)
      if (load(m_ranks[r]) < load(m_ranks[best])) best = r;
    return best;
  }
  void admit_arrivals() {
    // Open loop: arrivals are time-sorted; FCFS among those already here.
    while (m_next < m_released && m_seqs[m_next].arrival_s <= m_t) {
      const size_t r = pick_rank();
      m_rank_of[m_next] = r;
      m_ranks[r].st.waiting.push_back(&m_seqs[m_next++]);
    }
  }
  // The group's iteration ends when the slowest rank's host has launched its work: each rank's host
  // dispatches eagerly unless the whole group replays graphs, and does its own framework work.
  StepCost group_bound(const HostLaunch& l, const StepCost& gpu, const std::vector<Batch>& batches, const std::vector<StepShape>& shapes,
                       bool graphed, double& host) const {
    const double dispatch = graphed ? 0 : gpu.kernels * l.us_per_kernel * 1e-6;
    double framework = 0;
    for (size_t r = 0; r < m_ranks.size(); ++r)
      if (!batches[r].empty())
        framework = std::max(framework, l.work.seconds(static_cast<std::int64_t>(m_ranks[r].st.running.size()), l.table_slots(shapes[r])));
    host = dispatch + framework;
    return l.bound(gpu, dispatch, framework);
  }
  void balance(const std::vector<StepShape>& shapes, const StepCost& nominal, const StepCost& gpu) {
    double sum = 0, most = 0;
    bool prompt = false, decode_only = false;
    for (const StepShape& x : shapes) {
      const auto t = static_cast<double>(x.tokens());
      sum += t, most = std::max(most, t);
      m_r.dp.idle_rank_steps += x.tokens() == 0;
      prompt = prompt || x.prefill_chunks > 0;
      decode_only = decode_only || (x.tokens() > 0 && x.prefill_chunks == 0);
    }
    m_r.dp.tokens_mean_sum += sum / static_cast<double>(shapes.size());
    m_r.dp.tokens_max_sum += most;
    size_t reqs = 0;
    for (const Rank& k : m_ranks) reqs = std::max(reqs, k.st.running.size() + k.st.waiting.size());
    m_r.dp.held_mean_sum += static_cast<double>(held()) / static_cast<double>(m_ranks.size());
    m_r.dp.held_max_sum += static_cast<double>(reqs);
    m_r.dp.held_iterations += prompt && decode_only;
    if (nominal.time_s > 0) m_r.dp.wait_s += nominal.rank_wait_s * gpu.time_s / nominal.time_s;
  }
  void idle_until_next_arrival() {
    if (m_next >= m_released) throw InputError("serving engine: no request left to run (internal bookkeeping error)");
    const double t = m_seqs[m_next].arrival_s;
    EnergyEvents idle;
    idle.time_s = t - m_t;  // the chip idles: static power only (with a clock: the idle chip's power)
    m_r.events += idle;
    if (m_clock) m_clock->idle(t - m_t);
    advance(t - m_t);
  }
  void advance(double dt) {
    const Totals n = totals();
    m_r.in_system_s += static_cast<double>(n.running + n.waiting) * dt;
    const double share = static_cast<double>(n.used) / std::max<std::int64_t>(1, n.total);
    m_kv_area += share * dt;
    m_r.kv_peak = std::max(m_r.kv_peak, share);
    m_r.max_running = std::max<std::int64_t>(m_r.max_running, n.running);
    m_t += dt;
  }
  [[noreturn]] void stuck() const {
    const Rank* k = &m_ranks.front();
    for (const Rank& x : m_ranks)
      if (!x.st.waiting.empty() || !x.st.running.empty()) {
        k = &x;
        break;
      }
    const Sequence* s = k->st.waiting.empty() ? k->st.running.front() : k->st.waiting.front();
    throw InputError("serving engine: a request of " + std::to_string(s->input) + " + " + std::to_string(s->output) +
                     " tokens can never be scheduled: the KV cache holds " +
                     std::to_string(k->st.kv.total() * k->st.kv.block_tokens()) + " tokens (" + std::to_string(k->st.kv.total()) +
                     " blocks) and the token budget is " + std::to_string(k->sched->limits().token_budget) +
                     "; use shorter requests, a lower-precision KV cache or a larger --token-budget");
  }
  // Tokens a decode step of `s` emits: 1 for plain decode; with drafts, the expected accepted tokens,
  // carried as a credit (at least 1, at most the drafts plus the bonus token, never past the answer).
  std::int64_t emitted(Sequence& s, std::int64_t drafts) const {
    if (drafts <= 0) return 1;
    s.spec_credit += m_features.expected_tokens(drafts);
    const auto n = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(s.spec_credit + 1e-9)), 1, drafts + 1);
    s.spec_credit -= static_cast<double>(n);
    return std::min(n, s.output - s.generated);
  }
  void complete(const Batch& b) {
    for (const ScheduledWork& w : b) {
      Sequence& s = *w.seq;
      const bool decode = s.decoding();
      std::int64_t n = 1;
      if (decode) {
        n = emitted(s, w.tokens - 1);
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
    SchedState& st = m_ranks[m_rank_of[static_cast<size_t>(s.id)]].st;
    st.kv.release(s);
    st.running.erase(std::remove(st.running.begin(), st.running.end(), &s), st.running.end());
    ++m_finished;
    ++m_r.requests;
    m_r.input_tokens += s.input;
    m_r.ttft_s.push_back(s.first_token_s - s.arrival_s);
    m_r.e2e_s.push_back(s.finish_s - s.arrival_s);
    if (s.output > 1) m_r.tpot_s.push_back((s.finish_s - s.first_token_s) / static_cast<double>(s.output - 1));
    if (m_load.kind == EngineLoad::Kind::Closed && m_released < m_seqs.size()) m_seqs[m_released++].arrival_s = m_t;
  }

  EngineLoad m_load;
  const GroupStepFn& m_step;
  DpAttention::Dispatch m_dispatch;
  EngineFeatures m_features;
  IterationClock* m_clock;
  std::vector<Rank> m_ranks;
  std::vector<Sequence> m_seqs;
  std::vector<size_t> m_rank_of;  // the rank each request was dispatched to
  size_t m_next = 0, m_released = 0, m_finished = 0, m_rr = 0;
  double m_t = 0, m_kv_area = 0;
  EngineResult m_r;
};

void check_engine_inputs(const EngineLoad& load, std::int64_t kv_blocks, const EngineFeatures& features) {
  if (!(features.prefix_hit >= 0 && features.prefix_hit < 1))
    throw InputError("--prefix-hit: expected a share in [0, 1), got " + std::to_string(features.prefix_hit));
  if (features.spec_tokens < 0 || !(features.spec_accept >= 0 && features.spec_accept <= 1))
    throw InputError("--spec-tokens/--spec-accept: expected a non-negative number of drafts and an acceptance rate in [0, 1]");
  if (load.kind == EngineLoad::Kind::Closed && load.concurrency <= 0)
    throw InputError("--concurrency: expected a positive number of users, got " + std::to_string(load.concurrency));
  if (kv_blocks <= 0) throw InputError("serving engine: no memory is left for the KV cache");
}
}  // namespace

EngineResult run_engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load, Scheduler& sched,
                        std::int64_t kv_blocks, const StepTimeFn& step, const EngineFeatures& features,
                        IterationClock* clock) {
  check_engine_inputs(load, kv_blocks, features);
  const GroupStepFn one = [&step](const std::vector<StepShape>& s) { return step(s.front()); };
  return Engine(reqs, load, {&sched}, kv_blocks, one, DpAttention::Dispatch::RoundRobin, features, clock).run();
}

EngineResult run_group_engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load, const std::vector<Scheduler*>& scheds,
                              std::int64_t kv_blocks, const GroupStepFn& step, DpAttention::Dispatch dispatch,
                              const EngineFeatures& features, IterationClock* clock) {
  check_engine_inputs(load, kv_blocks, features);
  if (scheds.empty()) throw InputError("serving engine: a data-parallel attention group needs at least one rank");
  return Engine(reqs, load, scheds, kv_blocks, step, dispatch, features, clock).run();
}

}  // namespace xpu
