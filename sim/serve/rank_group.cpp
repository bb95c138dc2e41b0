// A server's ranks and their iteration: the controller's dispatch, the group's padding, step and host bound.
#include "sim/serve/rank_group.h"

#include <algorithm>

namespace xpu {

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

}  // namespace

RankGroup::RankGroup(const std::vector<Scheduler*>& scheds, std::int64_t kv_blocks, DpAttention::Dispatch dispatch) : m_dispatch(dispatch) {
  for (Scheduler* sc : scheds) {
    Rank r;
    r.sched = sc;
    r.st.kv = KvBlockPool(kv_blocks, sc->block_tokens());
    m_ranks.push_back(std::move(r));
  }
}

RankGroup::Totals RankGroup::totals() const {
  Totals n;
  for (const Rank& k : m_ranks)
    n.used += k.st.kv.used(), n.total += k.st.kv.total(), n.running += static_cast<std::int64_t>(k.st.running.size()),
        n.waiting += static_cast<std::int64_t>(k.st.waiting.size()), n.pending += k.pending;
  return n;
}

std::int64_t RankGroup::held() const {
  const Totals n = totals();
  return n.running + n.waiting;
}

size_t RankGroup::pick() {
  if (m_ranks.size() == 1) return 0;
  if (m_dispatch == DpAttention::Dispatch::RoundRobin) return m_rr++ % m_ranks.size();
  // shortest_queue: the requests a rank holds; minimum_tokens: their tokens (context and prompt to come).
  auto load = [&](const Rank& k) {
    if (m_dispatch == DpAttention::Dispatch::ShortestQueue) return static_cast<std::int64_t>(k.st.running.size() + k.st.waiting.size()) + k.pending;
    std::int64_t t = k.pending_tokens;
    for (const Sequence* s : k.st.running) t += s->num_tokens();
    for (const Sequence* s : k.st.waiting) t += s->num_tokens();
    return t;
  };
  size_t best = 0;
  for (size_t r = 1; r < m_ranks.size(); ++r)
    if (load(m_ranks[r]) < load(m_ranks[best])) best = r;
  return best;
}

bool RankGroup::schedule() {
  bool any = false;
  for (Rank& k : m_ranks) {
    k.batch = k.sched->schedule(k.st);
    any = any || !k.batch.empty();
  }
  return any;
}

StepCost RankGroup::run(const GroupStepFn& step, IterationClock* clock, EngineResult& r, DpBalance& dp) {
  const size_t R = m_ranks.size();
  std::vector<StepShape> shapes(R);
  for (size_t k = 0; k < R; ++k) shapes[k] = m_ranks[k].batch.empty() ? StepShape{} : shape_of(m_ranks[k].batch);
  const HostLaunch launch = m_ranks.front().sched->launch();
  const StepCost nominal = step(group_padded(launch, shapes));
  const StepCost gpu = clock ? clock->run(nominal) : nominal;
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
    c = group_bound(launch, gpu, shapes, graphed, host);
    balance(shapes, nominal, gpu, dp);
  }
  if (clock && c.time_s > gpu.time_s) clock->idle(c.time_s - gpu.time_s);
  r.eager_iterations += launch.us_per_kernel > 0 && !graphed;
  r.host_wait_s += c.time_s - gpu.time_s;
  r.host_busy_s += host;
  r.host_bound_iterations += c.time_s > gpu.time_s;
  return c;
}

IterationRecord RankGroup::record(double start_s, double time_s, const IterationClock* clock) const {
  IterationRecord it;
  it.start_s = start_s;
  it.time_s = time_s;
  for (const Rank& k : m_ranks) {
    if (k.batch.empty()) continue;
    const StepShape s = shape_of(k.batch);
    StepShape& t = it.shape;
    t.prefill_tokens += s.prefill_tokens, t.prefill_chunks += s.prefill_chunks, t.prefill_kv_sum += s.prefill_kv_sum;
    t.decode_seqs += s.decode_seqs, t.decode_kv_sum += s.decode_kv_sum, t.logit_rows += s.logit_rows;
    t.verify_seqs += s.verify_seqs, t.verify_tokens += s.verify_tokens, t.verify_kv_sum += s.verify_kv_sum;
  }
  const Totals n = totals();
  it.kv_used = n.used, it.kv_total = n.total, it.running = n.running, it.waiting = n.waiting;
  it.clock = clock ? clock->last_clock() : 0;
  return it;
}

// The group's iteration ends when the slowest rank's host has launched its work: each rank's host
// dispatches eagerly unless the whole group replays graphs, and does its own framework work.
StepCost RankGroup::group_bound(const HostLaunch& l, const StepCost& gpu, const std::vector<StepShape>& shapes, bool graphed,
                                double& host) const {
  const double dispatch = graphed ? 0 : gpu.kernels * l.us_per_kernel * 1e-6;
  double framework = 0;
  for (size_t r = 0; r < m_ranks.size(); ++r)
    if (!m_ranks[r].batch.empty())
      framework = std::max(framework, l.work.seconds(static_cast<std::int64_t>(m_ranks[r].st.running.size()), l.table_slots(shapes[r])));
  host = dispatch + framework;
  return l.bound(gpu, dispatch, framework);
}

void RankGroup::balance(const std::vector<StepShape>& shapes, const StepCost& nominal, const StepCost& gpu, DpBalance& dp) const {
  double sum = 0, most = 0;
  bool prompt = false, decode_only = false;
  for (const StepShape& x : shapes) {
    const auto t = static_cast<double>(x.tokens());
    sum += t, most = std::max(most, t);
    dp.idle_rank_steps += x.tokens() == 0;
    prompt = prompt || x.prefill_chunks > 0;
    decode_only = decode_only || (x.tokens() > 0 && x.prefill_chunks == 0);
  }
  dp.tokens_mean_sum += sum / static_cast<double>(shapes.size());
  dp.tokens_max_sum += most;
  size_t reqs = 0;
  for (const Rank& k : m_ranks) reqs = std::max(reqs, k.st.running.size() + k.st.waiting.size());
  dp.held_mean_sum += static_cast<double>(held()) / static_cast<double>(m_ranks.size());
  dp.held_max_sum += static_cast<double>(reqs);
  dp.held_iterations += prompt && decode_only;
  if (nominal.time_s > 0) dp.wait_s += nominal.rank_wait_s * gpu.time_s / nominal.time_s;
}

}  // namespace xpu
