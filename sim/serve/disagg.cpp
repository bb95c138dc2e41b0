// Disaggregated serving: prefill and decode pools, the KV transfers between them on the fabric.
#include "sim/serve/disagg.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <tuple>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/base/strformat.h"
#include "sim/interconnect/fabric.h"
#include "sim/run/system_run.h"
#include "sim/system/runtime.h"
#include "sim/serve/rank_group.h"
#include "sim/serve/step_time.h"
#include "workloads/sharding.h"

namespace xpu {

namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();

// One server instance of a pool: its ranks (one, or a data-parallel attention group's: RankGroup), their
// queues and KV caches, and the iteration it is running. The fabric and the transfers name each rank by its
// replica in the pool (instance x ranks + rank: the rank order of DisaggLayout).
struct Instance {
  std::vector<std::unique_ptr<Scheduler>> scheds;
  RankGroup group;
  double end = kNever;           // when the running iteration completes (kNever: idle)
  double busy_s = 0;
  std::vector<double> kv_area, kv_peak;  // per rank
  EnergyEvents events;
  IterationClock* clock = nullptr;  // its power manager (null: the nominal clock)
  double idle_from = 0;             // when its last iteration ended
  int trace_server = 0;             // serve --trace: its index among the traced servers
  // With a timeline: iterations started, the latest end of a transfer that leaves or reaches it, and the running
  // iteration (kept when a transfer met it: `touched`).
  std::int64_t iterations = 0;
  double kv_until = -1;
  bool touched = false;
  ServerIteration running;
  Instance(std::vector<std::unique_ptr<Scheduler>> s, std::int64_t kv_blocks, DpAttention::Dispatch dispatch)
      : scheds(std::move(s)), group(pointers(scheds), kv_blocks, dispatch), kv_area(scheds.size(), 0), kv_peak(scheds.size(), 0) {}
  static std::vector<Scheduler*> pointers(const std::vector<std::unique_ptr<Scheduler>>& v) {
    std::vector<Scheduler*> out;
    for (const auto& p : v) out.push_back(p.get());
    return out;
  }
  // Requests it holds: queued, running, and pending (a prompt's blocks awaiting their transfer, a transfer on its way).
  std::int64_t load() const {
    const RankGroup::Totals n = group.totals();
    return n.waiting + n.running + n.pending;
  }
  RankGroup::Rank& rank(int replica) { return group.ranks()[static_cast<size_t>(replica) % group.ranks().size()]; }
};

class DisaggEngine {
 public:
  DisaggEngine(const std::vector<RequestDraw>& reqs, const EngineLoad& load,
               const std::function<std::unique_ptr<Scheduler>()>& make_sched, const DisaggInstances& pools,
               const GroupStepFn& prefill_step, const GroupStepFn& decode_step,
               const std::function<double(std::int64_t)>& kv_bytes, const KvTransferFn& transfer, const DisaggClocks& clocks,
               DisaggTimeline* timeline)
      : m_reqs(reqs), m_load(load), m_pstep(prefill_step), m_dstep(decode_step), m_kv_bytes(kv_bytes), m_transfer(transfer),
        m_timeline(timeline), m_features(pools.features) {
    // A pool's replicas in groups of `ranks` (one instance each), as its layout places them.
    auto make = [&](int replicas, int ranks, std::int64_t kv_blocks, const std::vector<IterationClock*>& clocks) {
      std::vector<Instance> v;
      for (int i = 0; i < replicas / ranks; ++i) {
        std::vector<std::unique_ptr<Scheduler>> s;
        for (int r = 0; r < ranks; ++r) s.push_back(make_sched());
        v.emplace_back(std::move(s), kv_blocks, pools.dispatch);
        v.back().clock = static_cast<size_t>(i) < clocks.size() ? clocks[static_cast<size_t>(i)] : nullptr;
      }
      return v;
    };
    m_pre = make(pools.prefill, pools.prefill_ranks, pools.prefill_kv_blocks, clocks.prefill);
    m_dec = make(pools.decode, pools.decode_ranks, pools.decode_kv_blocks, clocks.decode);
    if ((m_trace = clocks.trace))
      for (auto [pool, name] : {std::pair{&m_pre, "prefill "}, {&m_dec, "decode "}})
        for (size_t i = 0; i < pool->size(); ++i) (*pool)[i].trace_server = m_trace->server(name + std::to_string(i));
    if (pools.prefill_ranks > 1) m_r.prefill_dp.ranks = pools.prefill_ranks;
    if (pools.decode_ranks > 1) m_r.decode_dp.ranks = pools.decode_ranks;
    const size_t n = reqs.size();
    m_pseq.resize(n);
    m_dseq.resize(n);
    m_prefill_of.assign(n, 0);
    m_arrival.assign(n, 0);
    m_first.assign(n, -1);
    m_last = m_first;
    const std::int64_t bt = m_pre.front().group.ranks().front().st.kv.block_tokens();
    const std::int64_t dbt = m_dec.front().group.ranks().front().st.kv.block_tokens();
    for (size_t i = 0; i < n; ++i) {
      m_arrival[i] = load.kind == EngineLoad::Kind::Open ? reqs[i].arrival_s : 0;
      Sequence& p = m_pseq[i];  // the prompt, ending with the first token
      p.id = static_cast<std::int64_t>(i);
      p.input = reqs[i].input;
      p.output = 1;
      Sequence& d = m_dseq[i];  // the rest: the prompt's KV arrives, the second token onwards
      d = p;
      d.output = reqs[i].output;
      d.lookahead = pools.features.spec_tokens;  // drafts verified with each decode step (the decode pool's drafter)
      // Prefix caching (disagg.h): the prefill instance's cache holds the prompt's head, shared and not computed; the
      // decode instance's holds it too where the stack runs one there (vLLM), else it receives the whole prompt's KV.
      p.prefix = p.computed = pools.features.cached_prefix(p.input, bt);
      d.prefix = pools.decode_cached(d.input, dbt);
    }
    m_released = load.kind == EngineLoad::Kind::Closed ? std::min(n, static_cast<size_t>(load.concurrency)) : n;
  }

  DisaggEngineResult run() {
    while (m_finished < m_reqs.size()) {
      // Everything due now, in order: finished iterations, landed transfers, arrivals (repeated, as a
      // finished request of a closed loop releases the next one and a zero-time transfer lands at once).
      for (bool changed = true; changed;) {
        changed = complete_batches();
        changed = deliver_transfers() || changed;
        changed = admit_arrivals() || changed;
      }
      if (m_finished == m_reqs.size()) break;
      start_idle();
      const double next = next_event();
      if (next == kNever) stuck();
      advance(next);
    }
    return result();
  }

 private:
  static int least_loaded(const std::vector<Instance>& pool) {
    int best = 0;
    for (size_t i = 1; i < pool.size(); ++i)
      if (pool[i].load() < pool[static_cast<size_t>(best)].load()) best = static_cast<int>(i);
    return best;
  }
  // The router's instance (the fewest requests), then that instance's controller's rank: its replica in the pool.
  static int place(std::vector<Instance>& pool) {
    const int i = least_loaded(pool);
    Instance& in = pool[static_cast<size_t>(i)];
    return i * static_cast<int>(in.group.ranks().size()) + static_cast<int>(in.group.pick());
  }
  Instance& instance_of(std::vector<Instance>& pool, int replica) {
    return pool[static_cast<size_t>(replica) / pool.front().group.ranks().size()];
  }

  bool admit_arrivals() {
    bool any = false;
    while (m_next < m_released && m_arrival[m_next] <= m_t) {
      const int p = place(m_pre);
      m_prefill_of[m_next] = p;
      instance_of(m_pre, p).rank(p).st.waiting.push_back(&m_pseq[m_next++]);
      any = true;
    }
    return any;
  }

  // A sequence's share of a finished iteration: its KV grows by the tokens computed; true when the
  // step sampled a token (a decode step, or the last chunk of a prefill or of a recomputation). A decode
  // step keeps the `emitted` tokens it verified (the last token and the accepted drafts: the rejected
  // drafts' KV is dropped; 1 without speculative decoding).
  static bool advance_sequence(Sequence& s, const ScheduledWork& w, std::int64_t emitted = 1) {
    if (s.decoding()) {
      s.computed += emitted;
      s.generated += emitted;
      return true;
    }
    s.computed += w.tokens;
    if (s.computed < s.num_tokens()) return false;
    s.generated += 1;
    return true;
  }

  bool complete_batches() {
    bool any = false;
    for (Instance& in : m_pre)
      if (in.end <= m_t) any = true, complete_prefill(in);
    for (Instance& in : m_dec)
      if (in.end <= m_t) any = true, complete_decode(in);
    return any;
  }

  void complete_prefill(Instance& in) {
    for (RankGroup::Rank& k : in.group.ranks()) {
      for (const ScheduledWork& w : k.batch) {
        Sequence& s = *w.seq;
        m_r.total.prefill_tokens += w.tokens;
        if (!advance_sequence(s, w)) continue;  // a chunk of the prompt: no token yet
        k.st.running.erase(std::remove(k.st.running.begin(), k.st.running.end(), &s), k.st.running.end());
        const size_t i = static_cast<size_t>(s.id);
        m_first[i] = m_last[i] = m_t;
        ++m_r.total.output_tokens;
        if (m_reqs[i].output <= 1) {  // nothing left to decode: no transfer
          k.st.kv.release(s);
          finish(i);
          continue;
        }
        ++k.pending, k.pending_tokens += s.input;
        KvTransfer t;
        t.request = s.id;
        t.prefill = m_prefill_of[i];
        t.decode = place(m_dec);
        t.tokens = s.input;
        t.cached = s.prefix;
        t.resident = m_dseq[i].prefix;
        t.bytes = m_kv_bytes(t.tokens - t.resident);  // all but what the decode instance's prefix cache holds (disagg.h)
        t.start_s = m_t;
        t.end_s = m_t + std::max(0.0, m_transfer(t));
        RankGroup::Rank& d = instance_of(m_dec, t.decode).rank(t.decode);
        ++d.pending, d.pending_tokens += s.input;
        met(in, t.end_s);
        met(instance_of(m_dec, t.decode), t.end_s);
        m_inflight.push_back(m_r.transfers.size());
        m_r.transfers.push_back(t);
      }
      k.batch.clear();
    }
    in.end = kNever;
    keep(in);
  }

  // A transfer until `end` leaves or reaches `in`: its running iteration (one that goes on past now) and those
  // that start before `end` meet it.
  void met(Instance& in, double end) {
    in.kv_until = std::max(in.kv_until, end);
    if (in.end != kNever && in.end > m_t) in.touched = true;
  }
  // The finished iteration of `in`, kept for the fabric (its collectives) and the HBM (its busy share) when a
  // transfer met it.
  void keep(Instance& in) {
    if (m_timeline && in.touched && (!in.running.collectives.empty() || in.running.hbm_busy > 0))
      m_timeline->iterations.push_back(std::move(in.running));
    in.running.collectives.clear();
    in.touched = false;
  }

  void complete_decode(Instance& in) {
    for (RankGroup::Rank& k : in.group.ranks()) {
      for (const ScheduledWork& w : k.batch) {
        Sequence& s = *w.seq;
        const bool was_decoding = s.decoding();
        const std::int64_t n = was_decoding ? m_features.emitted(s, w.tokens - 1) : 1;  // a verify step's tokens kept
        const bool sampled = advance_sequence(s, w, n);
        if (was_decoding) ++m_r.total.decode_steps, m_r.total.decode_tokens += n;
        else m_r.total.prefill_tokens += w.tokens;  // recomputation after a preemption
        if (!sampled) continue;
        const size_t i = static_cast<size_t>(s.id);
        m_r.total.output_tokens += n;
        m_r.total.itl_s.push_back(m_t - m_last[i]);
        m_last[i] = m_t;
        if (s.done()) {
          k.st.kv.release(s);
          k.st.running.erase(std::remove(k.st.running.begin(), k.st.running.end(), &s), k.st.running.end());
          finish(i);
        }
      }
      k.batch.clear();
    }
    in.end = kNever;
    keep(in);
  }

  bool deliver_transfers() {
    bool any = false;
    for (size_t k = 0; k < m_inflight.size();) {
      const KvTransfer& t = m_r.transfers[m_inflight[k]];
      if (t.end_s > m_t) {
        ++k;
        continue;
      }
      const size_t i = static_cast<size_t>(t.request);
      RankGroup::Rank& p = instance_of(m_pre, t.prefill).rank(t.prefill);
      p.st.kv.release(m_pseq[i]);
      --p.pending, p.pending_tokens -= t.tokens;
      RankGroup::Rank& d = instance_of(m_dec, t.decode).rank(t.decode);
      --d.pending, d.pending_tokens -= t.tokens;
      Sequence& s = m_dseq[i];
      s.generated = 1;
      s.computed = s.input;  // the prompt's KV is here; the first token's is computed by the next step
      d.st.waiting.push_back(&s);
      m_inflight.erase(m_inflight.begin() + static_cast<std::ptrdiff_t>(k));
      any = true;
    }
    return any;
  }

  void start_idle() {
    auto start = [&](Instance& in, size_t server, bool prefill, const GroupStepFn& step, std::int64_t& iterations, DpBalance& dp) {
      if (in.end != kNever || in.group.held() == 0) return;
      if (!in.group.schedule()) return;  // blocks held by transfers: waits for one to land (stuck() otherwise)
      // The instance's power manager saw it idle since its last iteration, then runs this one and the host's wait
      // (RankGroup::run: the host as the colocated engine has it, each rank's over the requests it holds).
      if (in.clock && m_t > in.idle_from) in.clock->idle(m_t - in.idle_from);
      // Summed over the instances, each its own host (result() takes the mean).
      StepCost c = in.group.run(step, in.clock, m_r.total, dp);
      if (m_timeline) {
        // The time its collectives lost to the KV transfers beside them and its kernels to their HBM traffic (the
        // fabric's last round): the chips wait (static power), as for the host.
        const double own = c.time_s;
        const double hbm_busy = own > 0 ? std::clamp(c.events.dram_busy_s / own, 0.0, 1.0) : 0.0;
        const auto n = static_cast<size_t>(in.iterations);
        auto of = [&](const std::vector<std::vector<double>>& v) { return server < v.size() && n < v[server].size() ? v[server][n] : 0.0; };
        const double x = prefill ? of(m_timeline->prefill_extra) + of(m_timeline->prefill_hbm)
                                 : of(m_timeline->decode_extra) + of(m_timeline->decode_hbm);
        if (x > 0) {
          c.time_s += x, c.events.time_s += x;
          if (in.clock) in.clock->idle(x);
        }
        const int ranks = static_cast<int>(in.group.ranks().size());
        in.running = ServerIteration{prefill, static_cast<int>(server) * ranks, ranks, in.iterations, m_t, c.time_s, hbm_busy,
                                     std::move(c.collectives)};
        in.touched = in.kv_until > m_t;
        ++in.iterations;
      }
      if (m_trace) m_trace->on_iteration(in.trace_server, in.group.record(m_t, c.time_s, in.clock));
      in.end = in.idle_from = m_t + c.time_s;
      in.busy_s += c.time_s;
      in.events += c.events;
      ++iterations;
    };
    for (size_t i = 0; i < m_pre.size(); ++i) start(m_pre[i], i, true, m_pstep, m_r.prefill_iterations, m_r.prefill_dp);
    for (size_t i = 0; i < m_dec.size(); ++i) start(m_dec[i], i, false, m_dstep, m_r.decode_iterations, m_r.decode_dp);
  }

  double next_event() const {
    double t = m_next < m_released ? m_arrival[m_next] : kNever;
    for (const Instance& in : m_pre) t = std::min(t, in.end);
    for (const Instance& in : m_dec) t = std::min(t, in.end);
    for (size_t k : m_inflight) t = std::min(t, m_r.transfers[k].end_s);
    return t;
  }

  [[noreturn]] void stuck() const {
    for (const auto* pool : {&m_pre, &m_dec})
      for (const Instance& in : *pool)
        for (const RankGroup::Rank& k : in.group.ranks())
          if (!k.st.waiting.empty()) {
            const Sequence* s = k.st.waiting.front();
            throw InputError("disaggregated serving: a request of " + std::to_string(s->input) + " + " +
                             std::to_string(m_reqs[static_cast<size_t>(s->id)].output) + " tokens can never be scheduled on a " +
                             (pool == &m_pre ? "prefill" : "decode") + " instance: its KV cache holds " +
                             std::to_string(k.st.kv.total() * k.st.kv.block_tokens()) +
                             " tokens; use shorter requests, a lower-precision KV cache or a larger --tp", "--tp", "");
          }
    throw std::logic_error("disaggregated serving: no request left to run (internal bookkeeping error)");
  }

  static double kv_used(const RankGroup::Rank& k) {
    return static_cast<double>(k.st.kv.used()) / static_cast<double>(std::max<std::int64_t>(1, k.st.kv.total()));
  }
  double decode_ranks() const { return static_cast<double>(m_dec.size() * m_dec.front().group.ranks().size()); }

  void advance(double next) {
    const double dt = next - m_t;
    m_r.total.in_system_s += static_cast<double>(m_next - m_finished) * dt;  // arrived, not finished
    double used = 0;
    std::int64_t running = 0, waiting = 0;
    for (Instance& in : m_dec)
      for (size_t r = 0; r < in.kv_area.size(); ++r) {  // each rank's cache (a replica's)
        const RankGroup::Rank& k = in.group.ranks()[r];
        in.kv_area[r] += kv_used(k) * dt;
        in.kv_peak[r] = std::max(in.kv_peak[r], kv_used(k));
        used += kv_used(k);
        running += static_cast<std::int64_t>(k.st.running.size());
        waiting += static_cast<std::int64_t>(k.st.waiting.size());
        m_r.total.max_running = std::max<std::int64_t>(m_r.total.max_running, static_cast<std::int64_t>(k.st.running.size()));
      }
    m_t = next;
    m_r.total.occupancy.push_back({m_t, used / decode_ranks(), running, waiting});
  }

  void finish(size_t i) {
    ++m_finished;
    ++m_r.total.requests;
    m_r.total.input_tokens += m_reqs[i].input;
    m_r.total.ttft_s.push_back(m_first[i] - m_arrival[i]);
    m_r.total.e2e_s.push_back(m_t - m_arrival[i]);
    if (m_reqs[i].output > 1) m_r.total.tpot_s.push_back((m_t - m_first[i]) / static_cast<double>(m_reqs[i].output - 1));
    if (m_trace)
      m_trace->on_request(m_pre[static_cast<size_t>(m_prefill_of[i]) / m_pre.front().group.ranks().size()].trace_server,
                          {static_cast<std::int64_t>(i), m_reqs[i].input, m_reqs[i].output, m_arrival[i], m_first[i], m_t});
    if (m_load.kind == EngineLoad::Kind::Closed && m_released < m_reqs.size()) m_arrival[m_released++] = m_t;
  }

  DisaggEngineResult result() {
    EngineResult& e = m_r.total;
    e.makespan_s = m_t;
    e.iterations = m_r.prefill_iterations + m_r.decode_iterations;
    for (auto* pool : {&m_pre, &m_dec})
      for (Instance& in : *pool) {
        if (in.clock && m_t > in.idle_from) in.clock->idle(m_t - in.idle_from);  // idle to the end of the run
        for (const RankGroup::Rank& k : in.group.ranks()) e.preemptions += k.st.preemptions;
        e.busy_s += in.busy_s;
        (pool == &m_pre ? m_r.prefill_events : m_r.decode_events).push_back(in.events);
        (pool == &m_pre ? m_r.prefill_busy_s : m_r.decode_busy_s).push_back(in.busy_s);
      }
    for (const Instance& in : m_dec)
      for (size_t r = 0; r < in.kv_area.size(); ++r) {
        e.kv_mean += m_t > 0 ? in.kv_area[r] / m_t / decode_ranks() : 0;
        e.kv_peak = std::max(e.kv_peak, in.kv_peak[r]);
      }
    // The host's shares as one server's: every instance runs over the same makespan, so the mean of their
    // shares is the sums' share over the instances (the bound iterations stay summed over all iterations).
    const auto servers = static_cast<double>(m_pre.size() + m_dec.size());
    e.host_wait_s /= servers;
    e.host_busy_s /= servers;
    const RankGroup::Rank& first = m_dec.front().group.ranks().front();
    e.kv_blocks = first.st.kv.total();
    e.block_tokens = first.st.kv.block_tokens();
    return std::move(m_r);
  }

  const std::vector<RequestDraw>& m_reqs;
  EngineLoad m_load;
  const GroupStepFn& m_pstep;
  const GroupStepFn& m_dstep;
  const std::function<double(std::int64_t)>& m_kv_bytes;
  const KvTransferFn& m_transfer;
  DisaggTimeline* m_timeline = nullptr;  // null: no collectives kept, no extra time
  EngineFeatures m_features;             // the decode pool's speculative decoding
  EngineObserver* m_trace = nullptr;     // serve --trace (null: none)
  std::vector<Instance> m_pre, m_dec;
  std::vector<Sequence> m_pseq, m_dseq;
  std::vector<int> m_prefill_of;  // the prefill replica each prompt was placed on
  std::vector<double> m_arrival, m_first, m_last;
  std::vector<size_t> m_inflight;  // indices into m_r.transfers
  size_t m_next = 0, m_released = 0, m_finished = 0;
  double m_t = 0;
  DisaggEngineResult m_r;
};

}  // namespace

DisaggEngineResult run_disagg_engine(const std::vector<RequestDraw>& reqs, const EngineLoad& load,
                                     const std::function<std::unique_ptr<Scheduler>()>& make_sched, const DisaggInstances& pools,
                                     const GroupStepFn& prefill_step, const GroupStepFn& decode_step,
                                     const std::function<double(std::int64_t)>& kv_bytes, const KvTransferFn& transfer,
                                     const DisaggClocks& clocks, DisaggTimeline* timeline) {
  if (pools.prefill < 1 || pools.decode < 1)
    throw std::logic_error("disaggregated serving: expected at least one prefill and one decode instance (pools are checked first)");
  if (pools.prefill_ranks < 1 || pools.decode_ranks < 1 || pools.prefill % pools.prefill_ranks != 0 || pools.decode % pools.decode_ranks != 0)
    throw std::logic_error("disaggregated serving: a pool's replicas must be whole data-parallel attention groups (internal error)");
  if (load.kind == EngineLoad::Kind::Closed && load.concurrency <= 0)
    throw InputError("--concurrency: expected a positive number of users, got " + std::to_string(load.concurrency), "--concurrency", "");
  if (pools.prefill_kv_blocks <= 0 || pools.decode_kv_blocks <= 0)
    throw InputError(std::string("disaggregated serving: no memory is left for the KV cache of a ") +
                     (pools.prefill_kv_blocks <= 0 ? "prefill" : "decode") + " instance (try a larger --tp or --prefill-tp)", "--tp", "");
  if (timeline) timeline->iterations.clear();
  return DisaggEngine(reqs, load, make_sched, pools, prefill_step, decode_step, kv_bytes, transfer, clocks, timeline).run();
}

double kv_transfer_bytes(const ModelConfig& model, const Scenario& sc, std::int64_t tokens) {
  Scenario one = sc;  // one replica of tp ranks: what an instance holds
  one.ep = one.dp = one.pp = 1;
  one.redundant_experts = 0;
  one.microbatches = 0;
  one.batch = 1;
  one.input_len = tokens;
  one.output_len = 0;
  return footprint(model, one).kv_bytes_per_sequence * static_cast<double>(sc.tp);
}

double kv_transfer_bytes(const ModelConfig& model, const Drafter* drafter, const Scenario& sc, std::int64_t tokens) {
  return kv_transfer_bytes(model, sc, tokens) + (drafter && drafter->model ? kv_transfer_bytes(*drafter->model, sc, tokens) : 0.0);
}

namespace {
Scenario at_layout(const Scenario& sc, int tp, int ep, int pp, int dp, int redundant = -1) {
  Scenario p = sc;
  if (pp != sc.pp) p.microbatches = 0;  // the decode pool's micro-batches belong to its stages: the default, pp
  p.tp = tp;
  p.ep = ep;
  p.pp = pp;
  p.dp = dp;
  // The replicas of the hottest experts (--redundant-experts) go to each pool whose experts are spread
  // over ranks (the pool's own count where given); a pool without expert parallelism holds every expert once.
  if (redundant >= 0) p.redundant_experts = redundant;
  if (ep == 1) p.redundant_experts = 0;
  return p;
}

// A pool's layout as its flags read ("--prefill-tp 8", "--tp 1 --ep 8 --dp 8"), for its errors.
std::string layout_flags(const std::string& prefix, const Scenario& p) {
  std::string s = prefix + "tp " + std::to_string(p.tp);
  for (auto [name, v] : {std::pair{"ep ", p.ep}, {"pp ", p.pp}, {"dp ", p.dp}})
    if (v != 1) s += " " + prefix + name + std::to_string(v);
  return s;
}

// One pool on the system: `devices` chips in whole groups of tp x pp x dp ranks from rank `first`;
// each block that runs apart (a replica of pp stages of tp ranks, or with data-parallel attention its
// group of tp x dp, joined by the experts' all-to-alls) aligned on the system's nodes; the model split
// by the layout.
// `flags` names the pool's layout in errors.
void check_pool(const ModelConfig& model, const Scenario& p, const SystemSpec& sys, const std::string& pools,
                const std::string& flags, int devices, int first) {
  if (p.tp <= 0 || p.ep <= 0 || p.pp <= 0 || p.dp <= 0) throw InputError::first_of(flags + ": expected positive parallel degrees", flags);
  const int group = p.tp * p.pp * p.dp;
  if (devices % group != 0)
    throw InputError::first_of(pools + ": " + std::to_string(devices) + " chips are not a whole number of " + flags +
                                   " instances (expected multiples of " + std::to_string(group) + ")", pools);
  Scenario check = p;
  check.batch = static_cast<std::int64_t>(p.dp) * p.step_microbatches();
  check.input_len = check.output_len = 1;
  check.phase = Phase::Request;
  try {
    check.validate(model);
  } catch (const InputError& e) {
    if (std::string(e.what()).rfind(flags, 0) == 0) throw;  // it names the flags already
    throw InputError::first_of(flags + ": " + e.what(), flags);
  }
  const int block = p.dp_attention() ? group : p.tp * p.pp;
  if ((block > sys.chips ? block % sys.chips : sys.chips % block) != 0 || first % std::min(block, sys.chips) != 0)
    throw InputError::first_of(pools + " with " + flags + ": the instances starting at rank " + std::to_string(first) + " are not aligned blocks of " +
                     sys.name + " (" + std::to_string(sys.chips) +
                     " chips per node; give the prefill pool a multiple of the decode pool's group of tp x pp x dp)", pools);
}
}  // namespace

Scenario prefill_scenario(const Scenario& sc, const DisaggLayout& pools) {
  return at_layout(sc, pools.prefill_tp, pools.prefill_ep, pools.prefill_pp, pools.prefill_dp, pools.prefill_redundant_experts);
}

Scenario decode_scenario(const Scenario& sc, const DisaggLayout& pools) {
  return at_layout(sc, pools.decode_tp, pools.decode_ep, pools.decode_pp, pools.decode_dp);
}

void apply_pools_file(const std::string& path, ServeOptions& opt, Scenario& sc, const PoolFlags& flags) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::is_regular_file(st))  // a folder was "no such file"
    throw InputError("--scenario-file " + path +
                         (std::filesystem::is_directory(st) ? ": a folder" : std::filesystem::exists(st) ? ": not a regular file" : ": no such file") +
                         " (expected a serving scenario .yaml)",
                     "--scenario-file", path);
  const ConfigTree tree = ConfigTree::load_file(path);
  if (tree.entries().empty())  // an empty file (or comments alone) was taken as "no scenario" without a word
    throw InputError("--scenario-file " + path + ": no keys (expected pools.prefill and pools.decode with their devices and "
                     "layout, or redundant_experts; without a scenario, leave the flag out)", "--scenario-file", path);
  Params p(Params::Mode::Load, &tree);
  std::string description;
  int pre = 0, dec = 0, pre_tp = 0, dec_tp = 0, pre_ep = 0, dec_ep = 0, pre_dp = 0, dec_dp = 0, pre_pp = 0, dec_pp = 0, redundant = 0;
  int pre_redundant = 0;
  p("description", description, "What the scenario serves, in one sentence", "");
  p("redundant_experts", redundant, "Replicas of the hottest routed experts over the EP ranks (as --redundant-experts)", "0");
  // Sizes are checked after the unknown keys, so a misspelt pool is named as such rather than missing.
  p("pools.prefill.devices", pre, "Chips of the prefill pool (as --prefill-devices)", "0");
  p("pools.decode.devices", dec, "Chips of the decode pool (as --decode-devices)", "0");
  p("pools.prefill.tp", pre_tp, "Tensor-parallel degree of the prefill instances (as --prefill-tp; 0: the decode pool's)", "0");
  p("pools.prefill.ep", pre_ep, "Expert-parallel degree of the prefill pool (as --prefill-ep; 0: see tp)", "0");
  p("pools.prefill.dp", pre_dp, "Data-parallel replicas per prefill group (as --prefill-dp; 0: see tp)", "0");
  p("pools.prefill.pp", pre_pp, "Pipeline stages of the prefill instances (as --prefill-pp; 0: see tp)", "0");
  p("pools.prefill.redundant_experts", pre_redundant,
    "Replicas of the hottest experts in the prefill pool (as --prefill-redundant-experts; absent: redundant_experts)", "0");
  p("pools.decode.tp", dec_tp, "Tensor-parallel degree of the decode instances (as --tp; 0: --tp)", "0");
  p("pools.decode.ep", dec_ep, "Expert-parallel degree of the decode pool (as --ep; 0: --ep)", "0");
  p("pools.decode.dp", dec_dp, "Data-parallel replicas per decode group (as --dp; 0: --dp)", "0");
  p("pools.decode.pp", dec_pp, "Pipeline stages of the decode instances (as --pp; 0: --pp)", "0");
  bool radix = false;
  p("pools.decode.radix_cache", radix,
    "The decode instances keep a prefix cache (as --decode-radix-cache: SGLang's --disaggregation-decode-enable-radix-cache)", "false");
  p.finish();
  p.require(redundant >= 0, "redundant_experts", "0 or a positive number of replicas");
  p.require(!(flags.redundant_experts && tree.find("redundant_experts")), "redundant_experts", "either this key or --redundant-experts, not both");
  if (tree.find("redundant_experts")) sc.redundant_experts = redundant;
  p.require(pre_redundant >= 0, "pools.prefill.redundant_experts", "0 or a positive number of replicas");
  bool pooled = false;  // a file of other keys alone leaves the pools to the flags
  for (const auto& [key, value] : tree.entries()) pooled = pooled || key.rfind("pools.", 0) == 0;
  if (!pooled) return;
  p.require(pre > 0, "pools.prefill.devices", "a positive number of chips");
  p.require(dec > 0, "pools.decode.devices", "a positive number of chips");
  for (auto [v, key] : {std::pair{pre_tp, "pools.prefill.tp"}, {pre_ep, "pools.prefill.ep"}, {pre_dp, "pools.prefill.dp"},
                        {pre_pp, "pools.prefill.pp"}, {dec_tp, "pools.decode.tp"}, {dec_ep, "pools.decode.ep"},
                        {dec_dp, "pools.decode.dp"}, {dec_pp, "pools.decode.pp"}})
    p.require(v >= 0, key, "a positive parallel degree");
  bool pre_layout = false;
  for (const char* k : {"pools.prefill.tp", "pools.prefill.ep", "pools.prefill.dp", "pools.prefill.pp"}) pre_layout = pre_layout || tree.find(k);
  for (auto [given, key, flag] : {std::tuple{flags.prefill_devices, "pools.prefill.devices", "--prefill-devices"},
                                  {flags.decode_devices, "pools.decode.devices", "--decode-devices"},
                                  {flags.prefill_redundant_experts && tree.find("pools.prefill.redundant_experts"),
                                   "pools.prefill.redundant_experts", "--prefill-redundant-experts"},
                                  {flags.prefill_layout() && pre_layout,
                                   "pools.prefill", "--prefill-tp/--prefill-ep/--prefill-pp/--prefill-dp"},
                                  {flags.tp && tree.find("pools.decode.tp"), "pools.decode.tp", "--tp"},
                                  {flags.ep && tree.find("pools.decode.ep"), "pools.decode.ep", "--ep"},
                                  {flags.dp && tree.find("pools.decode.dp"), "pools.decode.dp", "--dp"},
                                  {flags.pp && tree.find("pools.decode.pp"), "pools.decode.pp", "--pp"},
                                  {flags.decode_radix_cache && tree.find("pools.decode.radix_cache"), "pools.decode.radix_cache", "--decode-radix-cache"}})
    p.require(!given, key, std::string("either this key or ") + flag + ", not both");
  opt.prefill_devices = pre;
  opt.decode_devices = dec;
  if (pre_layout) opt.prefill_tp = pre_tp, opt.prefill_ep = pre_ep, opt.prefill_dp = pre_dp, opt.prefill_pp = pre_pp;
  if (tree.find("pools.prefill.redundant_experts")) opt.prefill_redundant_experts = pre_redundant;
  if (dec_tp) sc.tp = dec_tp;
  if (dec_ep) sc.ep = dec_ep;
  if (dec_dp) sc.dp = dec_dp;
  if (dec_pp) sc.pp = dec_pp;
  if (tree.find("pools.decode.radix_cache")) opt.decode_radix_cache = radix;
  opt.pools_file = path;
}

DisaggLayout disagg_layout(const ModelConfig& model, const Scenario& sc, const ServeOptions& opt) {
  if (!opt.pools_file.empty()) {
    ServeOptions flags = opt;
    flags.pools_file.clear();
    try {
      return disagg_layout(model, sc, flags);
    } catch (const InputError& e) {
      throw InputError(opt.pools_file + " (pools, as flags): " + e.what(), e);
    }
  }
  const std::string pools = "--prefill-devices " + std::to_string(opt.prefill_devices) + " --decode-devices " +
                            std::to_string(opt.decode_devices);
  if (opt.prefill_devices <= 0 || opt.decode_devices <= 0)
    throw InputError::first_of(pools + ": give both pools, each a positive number of chips (a multiple of --tp " + std::to_string(sc.tp) + ")", pools);
  if (!opt.system)
    throw InputError::first_of(pools + ": disaggregated pools need a system (--system S [--nodes N], or --chip C --devices N)", pools);
  const SystemSpec& sys = opt.system->spec;
  sys.require_model_ranks();
  DisaggLayout l;
  // The prefill pool's own layout where any of its flags is given (the others 1), else the decode pool's.
  const bool own = opt.prefill_layout_given();
  auto pick = [own](int given, int decode) { return given != 0 ? given : own ? 1 : decode; };
  l.prefill_tp = pick(opt.prefill_tp, sc.tp);
  l.prefill_ep = pick(opt.prefill_ep, sc.ep);
  l.prefill_dp = pick(opt.prefill_dp, sc.dp);
  l.prefill_pp = pick(opt.prefill_pp, sc.pp);
  if (opt.prefill_redundant_experts < -1)
    throw InputError("--prefill-redundant-experts " + std::to_string(opt.prefill_redundant_experts) + " must not be negative", "--prefill-redundant-experts", std::to_string(opt.prefill_redundant_experts));
  l.prefill_redundant_experts = opt.prefill_redundant_experts;
  l.decode_tp = sc.tp;
  l.decode_ep = sc.ep;
  l.decode_dp = sc.dp;
  l.decode_pp = sc.pp;
  const Scenario psc = prefill_scenario(sc, l), dsc = decode_scenario(sc, l);
  check_pool(model, psc, sys, pools, layout_flags(own ? "--prefill-" : "--", psc), opt.prefill_devices, 0);
  check_pool(model, dsc, sys, pools, layout_flags("--", dsc), opt.decode_devices, opt.prefill_devices);
  if (opt.prefill_devices + opt.decode_devices > sys.ranks())
    throw InputError::first_of(pools + ": " + std::to_string(opt.prefill_devices + opt.decode_devices) + " chips, but system " + sys.name +
                     " has " + std::to_string(sys.ranks()) + " (" + std::to_string(sys.chips) + " per node; more with --nodes)", pools);
  l.prefill_devices = opt.prefill_devices;
  l.decode_devices = opt.decode_devices;
  l.prefill_instances = opt.prefill_devices / (l.prefill_tp * l.prefill_pp);  // replicas, group after group
  l.decode_instances = opt.decode_devices / (l.decode_tp * l.decode_pp);
  l.layers = static_cast<int>(model.layers);
  l.prefill_first = 0;
  l.decode_first = opt.prefill_devices;
  l.system_chips = sys.ranks();
  // What crosses the fabric per prompt token: the target's KV and a simulated drafter's own (a draft model or MTP
  // module keeps its KV of the prompt, which the prefill pool computed: disagg.h, speculative decoding).
  const std::optional<Drafter> d = make_drafter(model, dsc, opt);
  if (d && d->model) l.draft_kv_bytes_per_token = kv_transfer_bytes(*d->model, dsc, 1);
  l.kv_bytes_per_token = kv_transfer_bytes(model, d ? &*d : nullptr, dsc, 1);
  l.kv_heads = model.is_mla() ? 0 : static_cast<int>(model.kv_heads);
  return l;
}

void check_pool_memory(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& opt,
                       DisaggLayout& pools, std::int64_t prefill_need, std::int64_t decode_need) {
  auto sched = make_scheduler(opt.scheduler, opt.limits, chip.dram_capacity());
  const CommBufferParams comm = comm_buffer_params(opt.system->spec);
  for (const bool prefill : {true, false}) {
    const Scenario p = prefill ? prefill_scenario(sc, pools) : decode_scenario(sc, pools);
    const std::optional<Drafter> drafter = make_drafter(model, p, opt);  // each pool runs the drafter (disagg.h)
    const ServeMemory m = serve_memory(chip, model, p, *sched, drafter ? &*drafter : nullptr, comm);
    (prefill ? pools.prefill_weight_bytes : pools.decode_weight_bytes) = m.weight_bytes;
    (prefill ? pools.prefill_kv_tokens : pools.decode_kv_tokens) = m.kv_tokens;
    const std::int64_t need = prefill ? prefill_need : decode_need;
    if (m.kv_blocks > 0 && m.kv_tokens >= need) continue;
    // The smallest wider TP group of the pool that holds its request (whole instances of the pool's chips,
    // the heads split as --tp needs, experts kept where they still split): named with its value.
    const std::string flag = prefill ? "--prefill-tp" : "--tp";
    const int pool_chips = prefill ? pools.prefill_devices : pools.decode_devices;
    std::string wider;
    for (int tp = p.tp + 1; tp <= pool_chips && wider.empty(); ++tp) {
      Scenario q = p;
      q.tp = tp;
      if (pool_chips % q.devices() != 0) continue;
      try {
        q.validate(model);
      } catch (const InputError&) {
        continue;
      }
      const std::optional<Drafter> dq = make_drafter(model, q, opt);
      const ServeMemory w = serve_memory(chip, model, q, *sched, dq ? &*dq : nullptr, comm);
      if (w.kv_blocks > 0 && w.kv_tokens >= need)
        wider = flag + " " + std::to_string(tp) + " (" + format_bytes(w.weight_bytes) + " of weights per chip)";
    }
    const std::string used = " per " + chip.name() + ": weights " + format_bytes(m.weight_bytes) + " + activations " +
                             format_bytes(m.activation_bytes) +
                             (m.comm_buffer_bytes > 0 ? " + communication buffers " + format_bytes(m.comm_buffer_bytes) : "") + " of " +
                             format_bytes(m.capacity_bytes);
    throw InputError(std::string(prefill ? "prefill" : "decode") + " pool (" + p.layout_str() + "): " + model.name +
                     (m.kv_blocks <= 0 ? " leaves no room for a KV cache"
                                       : " leaves a KV cache of " + std::to_string(m.kv_tokens) + " tokens, less than one " +
                                             std::to_string(need) + "-token request,") +
                     used + " (spread the pool's weights wider: " +
                     (wider.empty() ? std::string(prefill ? "--prefill-tp/--prefill-ep" : "--tp/--ep") + ", or a chip with more memory)"
                                    : "e.g. " + wider + ")"),
                     prefill ? "--prefill-tp" : "--tp", "");
  }
}

std::vector<KvMessage> kv_messages(const DisaggLayout& pools, double bytes) {
  const int tp = pools.prefill_tp, td = pools.decode_tp, H = pools.kv_heads;
  const std::int64_t layers = std::max(1, pools.layers);
  std::map<std::pair<int, int>, double> by_pair;
  // A decode stage's layers come from the prefill stages that computed them (every layer's KV taken
  // alike); within a pair of stages, decode rank b's heads from the prefill ranks that hold them.
  for (int sd = 0; sd < pools.decode_pp; ++sd)
    for (int sp = 0; sp < pools.prefill_pp; ++sp) {
      const auto [db, de] = stage_layers(layers, pools.decode_pp, sd);
      const auto [pb, pe] = stage_layers(layers, pools.prefill_pp, sp);
      const std::int64_t shared = std::min(de, pe) - std::max(db, pb);
      if (shared <= 0) continue;
      const double per_rank = bytes / td * static_cast<double>(shared) / static_cast<double>(layers);
      for (int b = 0; b < td; ++b) {
        const int dst = sd * td + b;
        if (H == 0) {  // MLA: the whole latent from one prefill rank
          by_pair[{sp * tp + b % tp, dst}] += per_rank;
          continue;
        }
        // Heads of decode rank b: H/td of them, or one shared by td/H ranks.
        const int first = H >= td ? b * (H / td) : b / (td / H), count = H >= td ? H / td : 1;
        for (int h = first; h < first + count; ++h) {
          const int src = H >= tp ? h / (H / tp) : h * (tp / H) + b % (tp / H);
          by_pair[{sp * tp + src, dst}] += per_rank / count;
        }
      }
    }
  std::vector<KvMessage> out;
  for (const auto& [k, v] : by_pair) out.push_back({k.first, k.second, v});
  return out;
}

namespace {

// The collectives of `its` that the fabric replays beside the transfers: each of a server that a transfer
// leaves or reaches, overlapping that transfer in time (the others share no link with it: a server's
// collectives run among its own ranks). Their parts on `prog`, after the transfers' tags.
struct Replayed {
  struct Call {
    size_t iteration;
    std::vector<std::pair<int, std::uint32_t>> parts;  // the chips' parts (vertex, index)
  };
  std::vector<Call> calls;
  // Each communicator placed once, each call lowered once (a step runs the same calls layer after layer).
  std::map<std::vector<int>, GroupSystem> groups;
  LoweredCalls lowered;

  void add(const Topology& step_topo, const DisaggLayout& pools, const std::vector<KvTransfer>& ts,
           const std::vector<ServerIteration>& its, PartProgram& prog) {
    // Each transfer's window, by the replicas it leaves (prefill) and reaches (decode).
    std::map<std::pair<bool, int>, std::vector<std::pair<double, double>>> windows;
    for (const KvTransfer& t : ts) {
      windows[{true, t.prefill}].emplace_back(t.start_s, t.end_s);
      windows[{false, t.decode}].emplace_back(t.start_s, t.end_s);
    }
    // Sorted by start, each with the latest end of those up to it: a window that starts before `to` and ends
    // after `from` is one of those before the first that starts at or after `to`.
    for (auto& [key, w] : windows) {
      std::sort(w.begin(), w.end());
      for (size_t k = 1; k < w.size(); ++k) w[k].second = std::max(w[k].second, w[k - 1].second);
    }
    auto meets = [&](const ServerIteration& it, double from, double to) {
      for (int r = it.first; r < it.first + it.replicas; ++r) {
        auto w = windows.find({it.prefill, r});
        if (w == windows.end()) continue;
        const auto after = std::lower_bound(w->second.begin(), w->second.end(), std::make_pair(to, -std::numeric_limits<double>::infinity()));
        if (after != w->second.begin() && std::prev(after)->second > from) return true;
      }
      return false;
    };
    std::uint32_t tag = static_cast<std::uint32_t>(ts.size()) + 1;
    for (size_t i = 0; i < its.size(); ++i) {
      const ServerIteration& it = its[i];
      const int tp = it.prefill ? pools.prefill_tp : pools.decode_tp, pp = it.prefill ? pools.prefill_pp : pools.decode_pp;
      const int base = (it.prefill ? pools.prefill_first : pools.decode_first) + it.first * tp * pp;
      for (const StepCollective& c : it.collectives) {
        const double from = it.start_s + c.at * it.time_s;
        if (!meets(it, from, from + c.time_s)) continue;
        std::vector<int> ranks;
        for (int g : c.group) ranks.push_back(base + g);
        auto gs = groups.find(ranks);
        if (gs == groups.end()) gs = groups.emplace(ranks, group_system(step_topo, ranks)).first;
        const LoweredCall& l = *lowered.get(gs->second, c.req);
        Call call{i, {}};
        const auto id = static_cast<std::int32_t>(calls.size());
        for (size_t sv = 0; sv < l.prog.ops.size(); ++sv) {
          if (sv >= ranks.size() && l.prog.ops[sv].empty()) continue;
          CommPart part = collective_part(sv < ranks.size() ? CommPart::Form::Collective : CommPart::Form::Plain, l, sv, gs->second, tag, id);
          part.op.delay = to_ticks(from);
          const int v = sv < ranks.size() ? ranks[sv] : gs->second.vertex_map[sv];
          auto& list = prog.parts[static_cast<size_t>(v)];
          if (sv < ranks.size()) call.parts.emplace_back(v, static_cast<std::uint32_t>(list.size()));
          list.push_back(std::move(part));
        }
        tag += l.max_tag + 1;
        calls.push_back(std::move(call));
      }
    }
  }
  // Call k's end: its last chip's (`shift`: per vertex, the parts before the collectives' that a run left out).
  Tick end(const FabricResult& fr, size_t k, const std::vector<std::uint32_t>* shift = nullptr) const {
    Tick e = 0;
    for (const auto& [v, p] : calls[k].parts)
      e = std::max(e, fr.part_end[static_cast<size_t>(v)][p - (shift ? (*shift)[static_cast<size_t>(v)] : 0)]);
    return e;
  }
};

}  // namespace

std::vector<double> kv_transfer_times(const SystemSpec& spec, const DisaggLayout& pools, const std::vector<KvTransfer>& ts,
                                      const std::vector<ServerIteration>& iterations, std::vector<double>* extra,
                                      std::int64_t* replayed) {
  if (extra) extra->assign(iterations.size(), 0.0);
  if (replayed) *replayed = 0;
  if (ts.empty()) return {};
  Topology topo(spec);
  PartProgram prog;
  prog.parts.resize(topo.vertices().size());
  // Per transfer and message: the receiving vertex and the index of its receive's part.
  std::vector<std::vector<std::pair<int, std::uint32_t>>> recv(ts.size());
  for (size_t k = 0; k < ts.size(); ++k) {
    const KvTransfer& t = ts[k];
    for (const KvMessage& m : kv_messages(pools, t.bytes)) {
      const int src = pools.prefill_first + t.prefill * pools.prefill_tp * pools.prefill_pp + m.src;
      const int dst = pools.decode_first + t.decode * pools.decode_tp * pools.decode_pp + m.dst;
      CommPart send;
      send.op.kind = CommOp::Kind::Send;
      send.op.peers = {dst};
      send.op.bytes = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(m.bytes)));
      send.op.tag = static_cast<std::uint32_t>(k + 1);
      send.op.delay = to_ticks(t.start_s);
      prog.parts[static_cast<size_t>(src)].push_back(send);
      CommPart rcv;
      rcv.op.kind = CommOp::Kind::Recv;
      rcv.op.peers = {src};
      rcv.op.tag = send.op.tag;
      rcv.op.delay = send.op.delay;
      recv[k].push_back({dst, static_cast<std::uint32_t>(prog.parts[static_cast<size_t>(dst)].size())});
      prog.parts[static_cast<size_t>(dst)].push_back(rcv);
    }
  }
  // The transfers' parts come first on every vertex: the collectives' parts, alone, sit that many places lower.
  std::vector<std::uint32_t> kv_parts(prog.parts.size());
  for (size_t v = 0; v < prog.parts.size(); ++v) kv_parts[v] = static_cast<std::uint32_t>(prog.parts[v].size());
  const Topology step_topo(model_step_fabric(spec));
  Replayed rep;
  if (extra) rep.add(step_topo, pools, ts, iterations, prog);
  const FabricResult fr = simulate_parts(topo, prog);
  std::vector<double> out;
  for (size_t k = 0; k < ts.size(); ++k) {
    Tick end = 0;
    for (const auto& [v, i] : recv[k]) end = std::max(end, fr.part_end[static_cast<size_t>(v)][i]);
    out.push_back(std::max(0.0, to_seconds(end) - to_seconds(to_ticks(ts[k].start_s))));
  }
  if (replayed) *replayed = static_cast<std::int64_t>(rep.calls.size());
  if (rep.calls.empty()) return out;
  // The same collectives without the transfers: what each lost to them.
  PartProgram alone;
  alone.parts.resize(prog.parts.size());
  for (size_t v = 0; v < prog.parts.size(); ++v) alone.parts[v].assign(prog.parts[v].begin() + kv_parts[v], prog.parts[v].end());
  const FabricResult fa = simulate_parts(topo, alone);
  for (size_t k = 0; k < rep.calls.size(); ++k) {
    const Tick with = rep.end(fr, k), without = rep.end(fa, k, &kv_parts);
    (*extra)[rep.calls[k].iteration] += std::max(0.0, to_seconds(with) - to_seconds(without));
  }
  return out;
}

std::vector<double> kv_hbm_delays(const DisaggLayout& pools, const std::vector<KvTransfer>& ts, const std::vector<double>& times,
                                  const std::vector<ServerIteration>& its, double hbm_Bps) {
  std::vector<double> out(its.size(), 0.0);
  if (ts.empty() || its.empty() || hbm_Bps <= 0) return out;
  // Each device's share of a transfer's bytes (kv_messages is linear in them): what it sends (prefill ranks, read
  // from their HBM) or receives (decode ranks, written to theirs), by its rank within its instance.
  const int pr = pools.prefill_tp * pools.prefill_pp, dr = pools.decode_tp * pools.decode_pp;
  std::vector<double> src(static_cast<size_t>(pr), 0.0), dst(static_cast<size_t>(dr), 0.0);
  for (const KvMessage& m : kv_messages(pools, 1.0)) src[static_cast<size_t>(m.src)] += m.bytes, dst[static_cast<size_t>(m.dst)] += m.bytes;
  // Per device (pool, its rank in the pool): the transfers through its HBM, (from, to, bytes), sorted by start, each
  // with the latest end up to it (a window that ends after `from` is among those before the first starting at `to`).
  struct Window {
    double from, to, bytes, latest;
  };
  std::map<std::pair<bool, int>, std::vector<Window>> by_device;
  for (size_t k = 0; k < ts.size() && k < times.size(); ++k) {
    const KvTransfer& t = ts[k];
    if (times[k] <= 0) continue;
    const double to = t.start_s + times[k];
    for (int r = 0; r < pr; ++r)
      if (src[static_cast<size_t>(r)] > 0) by_device[{true, t.prefill * pr + r}].push_back({t.start_s, to, t.bytes * src[static_cast<size_t>(r)], to});
    for (int r = 0; r < dr; ++r)
      if (dst[static_cast<size_t>(r)] > 0) by_device[{false, t.decode * dr + r}].push_back({t.start_s, to, t.bytes * dst[static_cast<size_t>(r)], to});
  }
  for (auto& [device, w] : by_device) {
    std::sort(w.begin(), w.end(), [](const Window& a, const Window& b) { return a.from < b.from; });
    for (size_t k = 1; k < w.size(); ++k) w[k].latest = std::max(w[k].to, w[k - 1].latest);
  }
  for (size_t i = 0; i < its.size(); ++i) {
    const ServerIteration& it = its[i];
    if (it.hbm_busy <= 0 || it.time_s <= 0) continue;
    const double a = it.start_s, b = it.start_s + it.time_s;
    const int ranks = it.prefill ? pr : dr;
    double worst = 0;  // the iteration's devices run in lock step: its slowest device's bytes
    for (int d = it.first * ranks; d < (it.first + it.replicas) * ranks; ++d) {
      auto w = by_device.find({it.prefill, d});
      if (w == by_device.end()) continue;
      const std::vector<Window>& v = w->second;
      double bytes = 0;
      auto k = std::lower_bound(v.begin(), v.end(), b, [](const Window& x, double t) { return x.from < t; });
      while (k != v.begin()) {
        --k;
        if (k->latest <= a) break;  // none before it ends inside the iteration
        const double overlap = std::min(k->to, b) - std::max(k->from, a);
        if (overlap > 0) bytes += k->bytes * overlap / (k->to - k->from);
      }
      worst = std::max(worst, bytes);
    }
    out[i] = worst / hbm_Bps * it.hbm_busy;
  }
  return out;
}

namespace {

// Power of a pool: a power manager per instance (one chip of it) over the run, as run_replica's; the pool's
// figures are its instances' mean, its peak the highest iteration of any.
struct PoolPower {
  std::vector<std::unique_ptr<ManagedClock>> clocks;
  // Fresh managers, from idle (each round of the fabric's fixed point runs the engine again).
  void reset(const ChipModel& chip, int instances, std::vector<IterationClock*>& out) {
    clocks.clear();
    out.clear();
    if (!chip.power()) return;
    for (int i = 0; i < instances; ++i) {
      clocks.push_back(std::make_unique<ManagedClock>(*chip.power(), max_clock_ratio(chip)));
      out.push_back(clocks.back().get());
    }
  }
  PowerLog mean() const {
    PowerLog m;
    const double k = 1.0 / static_cast<double>(std::max<size_t>(1, clocks.size()));
    for (const auto& c : clocks) {
      const PowerLog& g = c->log();
      m.time_s = std::max(m.time_s, g.time_s);  // every instance idles to the end of the run
      m.nominal_time_s += k * g.nominal_time_s, m.clock_s += k * g.clock_s;
      m.energy.add(g.energy, k);
      m.peak_w = std::max(m.peak_w, g.peak_w);
    }
    return m;
  }
  // The instance that spent the most energy over the run (-1: no power model).
  int busiest() const {
    int b = -1;
    for (size_t i = 0; i < clocks.size(); ++i)
      if (b < 0 || clocks[i]->log().energy.total() > clocks[static_cast<size_t>(b)]->log().energy.total()) b = static_cast<int>(i);
    return b;
  }
};

}  // namespace

FabricRound fabric_round(const std::vector<double>& transfer_s) {
  FabricRound r;
  for (double x : transfer_s) r.mean_s += x / static_cast<double>(transfer_s.size());
  std::vector<double> sorted = transfer_s;
  std::sort(sorted.begin(), sorted.end());
  // A quantile and its sampling band (disagg.h): the quantiles one standard error of its rank, sqrt(q (1 - q) / n), either side.
  auto quantile = [&](double q, double& at, double& below, double& above) {
    const double se = sorted.empty() ? 0.0 : std::sqrt(q * (1 - q) / static_cast<double>(sorted.size()));
    at = sorted_percentile(sorted, q);
    below = at - sorted_percentile(sorted, std::max(0.0, q - se));
    above = sorted_percentile(sorted, std::min(1.0, q + se)) - at;
  };
  quantile(0.5, r.p50_s, r.p50_below_s, r.p50_above_s);
  quantile(0.99, r.p99_s, r.p99_below_s, r.p99_above_s);
  return r;
}

bool fabric_round_settled(const FabricRound& previous, const FabricRound& engine, const FabricRound& fabric) {
  const auto tolerance = [](double scale) { return std::max(kDisaggFloorS, kDisaggTolerance * scale); };
  auto near = [&](double a, double b, double scale) { return std::abs(a - b) <= tolerance(scale); };
  // A quantile: each of the engine's and the fabric's within the other's sampling band, widened by the tolerance.
  auto near_quantile = [&](double e, double e_below, double e_above, double f, double f_below, double f_above) {
    const double tol = tolerance(e);
    return f >= e - e_below - tol && f <= e + e_above + tol && e >= f - f_below - tol && e <= f + f_above + tol;
  };
  return near(engine.mean_s, fabric.mean_s, engine.mean_s) &&
         near_quantile(engine.p50_s, engine.p50_below_s, engine.p50_above_s, fabric.p50_s, fabric.p50_below_s, fabric.p50_above_s) &&
         near_quantile(engine.p99_s, engine.p99_below_s, engine.p99_above_s, fabric.p99_s, fabric.p99_below_s, fabric.p99_above_s) &&
         near(engine.added_s, fabric.added_s, engine.met_s) && near(engine.hbm_s, fabric.hbm_s, engine.met_s) &&
         near(previous.makespan_s, engine.makespan_s, engine.makespan_s);
}

double fabric_relaxation(int round, double residual, double residual_last, double w_last, double scale) {
  if (round < kDisaggRelaxFrom) return 1.0;
  if (residual * residual_last <= 0 || std::abs(residual) <= std::max(kDisaggFloorS, kDisaggTolerance * scale)) return 0.5;
  return std::clamp(-w_last * residual_last / (residual - residual_last), 0.5, 1.0);
}

namespace {

// The engine and the fabric iterated to a fixed point (see disagg.h): the transfers' times from the
// fabric with every transfer in flight, their start times from the engine. `new_round` is called before
// each run of the engine (it gives `clocks` fresh power managers: the last run's are the result's). `device_bytes`:
// each device's memory, for the scheduler's defaults (make_scheduler); `hbm_Bps`: its bandwidth (kv_hbm_delays).
DisaggEngineResult engine_with_fabric(const ServeOptions& opt, const DisaggLayout& pools, const std::vector<RequestDraw>& reqs,
                                      const EngineLoad& load, const DisaggInstances& inst, const GroupStepFn& pstep,
                                      const GroupStepFn& dstep, const std::function<double(std::int64_t)>& bytes,
                                      KvTransferStats& stats, const std::function<void()>& new_round, const DisaggClocks& clocks,
                                      double device_bytes, double hbm_Bps) {
  const SystemSpec& spec = opt.system->spec;
  auto sched = [&] { return make_scheduler(opt.scheduler, opt.limits, device_bytes); };
  // A transfer of the mean size alone on the fabric: the first round's guess and the report's reference.
  KvTransfer mean;
  std::int64_t n = 0;
  const std::int64_t bt = sched()->block_tokens();
  for (const RequestDraw& r : reqs)
    if (r.output > 1) mean.bytes += bytes(r.input - inst.decode_cached(r.input, bt)), ++n;
  new_round();
  if (n == 0) return run_disagg_engine(reqs, load, sched, inst, pstep, dstep, bytes, [](const KvTransfer&) { return 0.0; }, clocks);
  mean.bytes /= static_cast<double>(n);
  stats.alone_s = kv_transfer_times(spec, pools, {mean}).front();
  std::vector<double> known(reqs.size(), stats.alone_s);
  KvTransferFn fn = [&](const KvTransfer& t) { return known[static_cast<size_t>(t.request)]; };
  DisaggEngineResult er;
  DisaggTimeline tl;  // the iterations' extra times (none in the first round) and the collectives they ran
  stats.fabric_runs = 0;
  FabricRound last;   // the previous round's engine (its makespan)
  double residual_t = 0, residual_a = 0, w_t_last = 1, w_a_last = 1;  // the last round's residuals and weights
  for (int round = 0; round < kDisaggFabricRounds; ++round) {
    if (round > 0) new_round();
    er = run_disagg_engine(reqs, load, sched, inst, pstep, dstep, bytes, fn, clocks, &tl);
    std::vector<double> extra;
    std::vector<double> times = kv_transfer_times(spec, pools, er.transfers, tl.iterations, &extra, &stats.collectives_met);
    if (round == 0) {
      // The first round's engine ran each transfer for its time alone, so the fabric replayed only the collectives
      // inside those windows; once more with the windows it found, its first added times count the collectives the
      // transfers meet in this schedule (disagg.h: the first round).
      std::vector<KvTransfer> found = er.transfers;
      for (size_t k = 0; k < found.size(); ++k) found[k].end_s = found[k].start_s + times[k];
      times = kv_transfer_times(spec, pools, found, tl.iterations, &extra, &stats.collectives_met);
    }
    const std::vector<double> hbm = kv_hbm_delays(pools, er.transfers, times, tl.iterations, hbm_Bps);
    ++stats.fabric_runs;
    // What the engine ran (its transfer times and added times) and what the fabric found with them.
    std::vector<double> ran;
    ran.reserve(er.transfers.size());
    for (const KvTransfer& t : er.transfers) ran.push_back(t.end_s - t.start_s);
    FabricRound engine = fabric_round(ran), fabric = fabric_round(times);
    engine.makespan_s = er.total.makespan_s;
    for (const ServerIteration& it : tl.iterations) engine.met_s += it.time_s;
    for (const auto* pool : {&tl.prefill_extra, &tl.decode_extra})
      for (const auto& v : *pool) engine.added_s = std::accumulate(v.begin(), v.end(), engine.added_s);
    for (const auto* pool : {&tl.prefill_hbm, &tl.decode_hbm})
      for (const auto& v : *pool) engine.hbm_s = std::accumulate(v.begin(), v.end(), engine.hbm_s);
    fabric.added_s = std::accumulate(extra.begin(), extra.end(), 0.0);
    fabric.hbm_s = std::accumulate(hbm.begin(), hbm.end(), 0.0);
    stats.collective_delay_s = fabric.added_s;
    stats.hbm_delay_s = fabric.hbm_s;
    // The next round's inputs (disagg.h: under-relaxation): the fabric's in the first kDisaggRelaxFrom rounds, then
    // w x the fabric's + (1 - w) x the engine's, w from this round's and the last round's residuals (the transfers'
    // mean for their times, the added and HBM times summed for the iterations').
    const double res_t = fabric.mean_s - engine.mean_s, res_a = fabric.added_s + fabric.hbm_s - engine.added_s - engine.hbm_s;
    const double w_t = fabric_relaxation(round, res_t, residual_t, w_t_last, engine.mean_s);
    const double w_a = fabric_relaxation(round, res_a, residual_a, w_a_last, engine.met_s);
    for (size_t k = 0; k < times.size(); ++k) {
      double& x = known[static_cast<size_t>(er.transfers[k].request)];
      x = (1 - w_t) * ran[k] + w_t * times[k];
    }
    // Per server and iteration, the next round's added times (the collectives' and the HBM's alike): w x what this
    // round found + (1 - w) x what the engine ran.
    auto relaxed = [&, w = w_a](const std::vector<double>& found, bool prefill, const std::vector<std::vector<double>>& was) {
      std::vector<std::vector<double>> now(static_cast<size_t>(prefill ? inst.prefill / inst.prefill_ranks : inst.decode / inst.decode_ranks));
      for (size_t i = 0; i < tl.iterations.size(); ++i) {
        const ServerIteration& it = tl.iterations[i];
        if (it.prefill != prefill) continue;
        auto& v = now[static_cast<size_t>(it.first / it.replicas)];
        const auto j = static_cast<size_t>(it.index);
        if (j >= v.size()) v.resize(j + 1, 0.0);
        v[j] = w * found[i];
      }
      if (w < 1)
        for (size_t srv = 0; srv < now.size() && srv < was.size(); ++srv) {
          if (was[srv].size() > now[srv].size()) now[srv].resize(was[srv].size(), 0.0);
          for (size_t j = 0; j < was[srv].size(); ++j) now[srv][j] += (1 - w) * was[srv][j];
        }
      return now;
    };
    const bool settled = round > 0 && fabric_round_settled(last, engine, fabric);
    tl.prefill_extra = relaxed(extra, true, tl.prefill_extra);
    tl.decode_extra = relaxed(extra, false, tl.decode_extra);
    tl.prefill_hbm = relaxed(hbm, true, tl.prefill_hbm);
    tl.decode_hbm = relaxed(hbm, false, tl.decode_hbm);
    last = engine;
    residual_t = res_t, residual_a = res_a;
    w_t_last = w_t, w_a_last = w_a;
    stats.converged = settled;
    if (stats.converged) break;
  }
  return er;
}

// `bytes`: what a transfer of that many prompt tokens carries (its cached head's share).
void transfer_stats(KvTransferStats& s, const DisaggEngineResult& er, const std::function<double(std::int64_t)>& bytes) {
  std::vector<double> times;
  double prefix_tokens = 0, prefix_bytes = 0, sent = 0, resident = 0;
  for (const KvTransfer& t : er.transfers) {
    s.bytes_total += t.bytes;
    times.push_back(t.end_s - t.start_s);
    if (t.cached > 0) prefix_tokens += static_cast<double>(t.cached), prefix_bytes += bytes(t.cached);
    sent += static_cast<double>(t.tokens - t.resident), resident += static_cast<double>(t.resident);
  }
  s.transfers = static_cast<std::int64_t>(er.transfers.size());
  const double n = std::max<double>(1, static_cast<double>(s.transfers));
  s.bytes_mean = s.transfers ? s.bytes_total / static_cast<double>(s.transfers) : 0;
  s.prefix_tokens_mean = prefix_tokens / n, s.prefix_bytes_mean = prefix_bytes / n;
  s.sent_tokens_mean = sent / n, s.resident_tokens_mean = resident / n;
  const FabricRound f = fabric_round(times);
  s.time_mean_s = f.mean_s, s.time_p50_s = f.p50_s, s.time_p99_s = f.p99_s;
  const double span = std::max(er.total.makespan_s, 1e-30);
  for (double b : er.prefill_busy_s) s.prefill_busy += b / span / static_cast<double>(er.prefill_busy_s.size());
  for (double b : er.decode_busy_s) s.decode_busy += b / span / static_cast<double>(er.decode_busy_s.size());
}

}  // namespace

ServePoint run_disagg_point(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& opt,
                            const DisaggLayout& pools, const std::vector<RequestDraw>& reqs, const EngineLoad& load) {
  auto wall0 = std::chrono::steady_clock::now();
  // Each pool at its own layout: its steps (one grid shared when the layouts agree) and its instances' KV cache.
  const Scenario psc = prefill_scenario(sc, pools), dsc = decode_scenario(sc, pools);
  ChipStepTime st(chip, model, dsc, opt.interpolate, &*opt.system);
  st.set_timeline(true);  // the steps' collectives, for the fabric beside the KV transfers
  std::optional<ChipStepTime> pst;
  if (psc.layout_str() != dsc.layout_str()) pst.emplace(chip, model, psc, opt.interpolate, &*opt.system), pst->set_timeline(true);
  // A server's step from each rank's composition (one rank: the composition's own step).
  // Speculative decoding (disagg.h): the drafter on both pools, on each pool's TP group with its own collectives (its
  // prompt pass on the prefill pool, its drafting passes after each verify step on the decode pool), its weights and
  // KV in each pool's memory, its KV of the prompt in each transfer.
  const std::optional<Drafter> pdraft = make_drafter(model, psc, opt), ddraft = make_drafter(model, dsc, opt);
  if (ddraft) {
    st.set_drafter(ddraft->model ? &*ddraft->model : nullptr, ddraft->fraction);
    if (pst) pst->set_drafter(pdraft->model ? &*pdraft->model : nullptr, pdraft->fraction);
  }
  const GroupStepFn pstep = [&](const std::vector<StepShape>& ranks) { return (pst ? *pst : st).group(ranks); };
  const GroupStepFn dstep = [&](const std::vector<StepShape>& ranks) { return st.group(ranks); };
  auto sched = make_scheduler(opt.scheduler, opt.limits, chip.dram_capacity());
  const CommBufferParams comm = comm_buffer_params(opt.system->spec);
  DisaggInstances inst{pools.prefill_instances, pools.decode_instances,
                       serve_memory(chip, model, psc, *sched, pdraft ? &*pdraft : nullptr, comm).kv_blocks,
                       serve_memory(chip, model, dsc, *sched, ddraft ? &*ddraft : nullptr, comm).kv_blocks,
                       psc.dp_attention() ? psc.dp : 1, dsc.dp_attention() ? dsc.dp : 1, dp_dispatch(opt.dp_dispatch)};
  inst.features = opt.features();
  const Scheduler::PdPrefixRule rule = opt.decode_radix_cache ? *sched->pd_decode_radix_rule() : sched->pd_prefix_rule();  // checked in serve
  inst.decode_prefix_cache = rule.decode_cache;
  const std::function<double(std::int64_t)> bytes = [&](std::int64_t tokens) {
    return kv_transfer_bytes(model, ddraft ? &*ddraft : nullptr, dsc, tokens);
  };
  KvTransferStats ks;
  ks.prefix_rule = rule.name;
  PoolPower pre, dec;
  DisaggClocks clocks;
  clocks.trace = opt.trace;
  const std::function<void()> new_round = [&] {
    if (opt.trace) opt.trace->restart();  // the trace keeps the fixed point's last round, the one reported
    pre.reset(chip, inst.prefill / inst.prefill_ranks, clocks.prefill);
    dec.reset(chip, inst.decode / inst.decode_ranks, clocks.decode);
  };
  DisaggEngineResult er =
      engine_with_fabric(opt, pools, reqs, load, inst, pstep, dstep, bytes, ks, new_round, clocks, chip.dram_capacity(),
                         opt.kv_hbm_contention ? chip.dram_bandwidth() : 0.0);
  const PowerResult pre_pw = power_over_time(chip, pre.mean()), dec_pw = power_over_time(chip, dec.mean());
  transfer_stats(ks, er, bytes);
  ServePoint pt;
  const int chips = pools.prefill_devices + pools.decode_devices;
  fill_metrics(pt, er.total, chips);
  pt.busy_s = er.total.busy_s;
  if (opt.trace)
    for (const KvTransfer& t : er.transfers) opt.trace->on_transfer({t.request, t.tokens, t.prefill, t.decode, t.bytes, t.start_s, t.end_s});
  pt.concurrency = load.kind == EngineLoad::Kind::Closed ? load.concurrency : 0;
  pt.rate = load.kind == EngineLoad::Kind::Open ? opt.rate : 0;
  if (pt.rate > 0) pt.offered = offered_load(reqs);
  pt.throttled = pre_pw.throttled || dec_pw.throttled;
  pt.clock_ratio = std::min(pre_pw.clock_ratio, dec_pw.clock_ratio);
  const int bp = pre.busiest(), bd = dec.busiest();  // the chip of either pool nearest its limits
  const bool decode_busier = bd >= 0 && (bp < 0 || dec.clocks[static_cast<size_t>(bd)]->log().energy.total() >
                                                      pre.clocks[static_cast<size_t>(bp)]->log().energy.total());
  if (bp >= 0 || bd >= 0) {
    const PoolPower& pool = decode_busier ? dec : pre;
    const int i = decode_busier ? bd : bp;
    pt.power_manager = pool.clocks[static_cast<size_t>(i)]->log();
    ks.power_manager_chip = strformat("%s instance %d of %zu", decode_busier ? "decode" : "prefill", i + 1, pool.clocks.size());
  }
  if (pre_pw.modeled && er.total.output_tokens > 0) {
    ks.prefill_power_w = pre_pw.avg_power_w;
    ks.decode_power_w = dec_pw.avg_power_w;
    pt.avg_power_w = (pre_pw.avg_power_w * pools.prefill_devices + dec_pw.avg_power_w * pools.decode_devices) / chips;
    pt.peak_power_w = std::max(pre.mean().peak_w, dec.mean().peak_w);
    // Every chip of both pools: the per-chip energy of each pool times its chips.
    const double joules = pre_pw.energy_j * pools.prefill_devices + dec_pw.energy_j * pools.decode_devices;
    pt.joules_per_token = joules / static_cast<double>(er.total.output_tokens);
  }
  pt.kv_transfer = ks;
  // Each pool's data-parallel attention groups (the decode pool's where colocated serving has its one).
  const std::string dispatch = dp_dispatch_name(inst.dispatch);
  auto busy = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); };
  if (inst.prefill_ranks > 1) pt.prefill_dp_attention = dp_attention_stats(er.prefill_dp, er.prefill_iterations, busy(er.prefill_busy_s), dispatch);
  if (inst.decode_ranks > 1) pt.dp_attention = dp_attention_stats(er.decode_dp, er.decode_iterations, busy(er.decode_busy_s), dispatch);
  pt.meets_slo = (opt.ttft_slo_s <= 0 || pt.ttft_s <= opt.ttft_slo_s) && (opt.tpot_slo_s <= 0 || pt.tpot_s <= opt.tpot_slo_s);
  pt.simulated_parts = st.simulated_parts() + (pst ? pst->simulated_parts() : 0);
  pt.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return pt;
}

}  // namespace xpu
