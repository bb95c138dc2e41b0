// Iteration times from the chip model: the parts of a mixed prefill/decode step, simulated on a grid.
#include "sim/serve/step_time.h"

#include "sim/run/system_run.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace xpu {

namespace {
std::int64_t grid_point(int k) {  // k-th grid point: 1..16, then 16 * 2^((k-16)/4)
  if (k <= 16) return k;
  return static_cast<std::int64_t>(std::llround(16.0 * std::pow(2.0, (k - 16) / 4.0)));
}

// The collectives of a part interpolated between grid corners: where every corner runs the same calls (the
// same graph at other counts), each call's bytes (whole elements), place and time blended by the corners'
// weights; otherwise (a count where the launches differ) the heaviest corner's calls.
std::vector<StepCollective> blend_collectives(const std::vector<std::pair<const StepCost*, double>>& corners) {
  if (corners.empty()) return {};
  const auto heaviest = std::max_element(corners.begin(), corners.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  std::vector<StepCollective> out = heaviest->first->collectives;
  for (const auto& [c, w] : corners)
    if (c->collectives.size() != out.size()) return out;
  for (size_t i = 0; i < out.size(); ++i) {
    double bytes = 0;
    out[i].at = out[i].offset_s = out[i].time_s = 0;
    for (const auto& [c, w] : corners) {
      const StepCollective& k = c->collectives[i];
      bytes += w * static_cast<double>(k.req.bytes);
      out[i].at += w * k.at, out[i].offset_s += w * k.offset_s, out[i].time_s += w * k.time_s;
    }
    StepCollective& k = out[i];
    k.req.bytes = whole_elements(k.req.kind, static_cast<int>(k.group.size()), static_cast<std::uint64_t>(std::llround(std::max(1.0, bytes))));
  }
  return out;
}

// wa x a + wb x b, a's collectives kept (b's are the caller's to place).
StepCost blend(StepCost a, double wa, const StepCost& b, double wb) {
  a.time_s = a.time_s * wa + b.time_s * wb;
  a.kernels = a.kernels * wa + b.kernels * wb;
  a.events = a.events.scaled(wa);
  a.events += b.events.scaled(wb);
  a.rank_wait_s = 0;
  return a;
}

// a, then `times` runs of b one after another (a drafter's passes after the target's forward): blend's sums,
// and the collectives placed in the joint time, b's once per run after a's.
StepCost then(StepCost a, const StepCost& b, double times) {
  const double ta = a.time_s;
  std::vector<StepCollective> calls = std::move(a.collectives);
  a = blend(std::move(a), 1, b, times);
  if (a.time_s <= 0 || b.time_s * times <= 0 || (calls.empty() && b.collectives.empty())) {
    a.collectives = std::move(calls);
    return a;
  }
  for (StepCollective& k : calls) k.at *= ta / a.time_s;
  const auto runs = static_cast<int>(std::llround(times));
  for (int r = 0; r < runs; ++r)
    for (StepCollective k : b.collectives) {
      k.at = (ta + (r + k.at) * b.time_s) / a.time_s;
      calls.push_back(std::move(k));
    }
  for (StepCollective& k : calls) k.offset_s = k.at * a.time_s;
  a.collectives = std::move(calls);
  return a;
}
}  // namespace

std::vector<std::int64_t> ChipStepTime::bracket(std::int64_t x, std::int64_t cap) {
  x = std::min(x, cap);
  if (x <= 16) return {std::max<std::int64_t>(1, x)};
  int k = 16;
  while (grid_point(k + 1) <= x) ++k;
  if (grid_point(k) == x) return {x};
  return {grid_point(k), std::min(cap, grid_point(k + 1))};
}

ChipStepTime::ChipStepTime(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, bool interpolate,
                           const SystemContext* sys, std::shared_ptr<StepPartCache> cache)
    : m_chip(chip), m_model(model), m_sc(sc), m_interpolate(interpolate), m_sys(sys),
      m_cache(cache ? std::move(cache) : std::make_shared<StepPartCache>()),
      m_inherited(static_cast<std::int64_t>(m_cache->parts.size())) {
  m_fusion = sc.fusion ? *sc.fusion : FusionPolicy::parse(chip.default_fusion());
  Scenario one = sc;
  one.batch = 1;
  one.input_len = 1;
  one.output_len = 1;
  m_weight_bytes = footprint(model, one).weight_bytes;
}

// The part's shape is one replica's micro-batch: every replica (and every micro-batch of a pipeline)
// runs it, so the layout's batch is that many times the part's sequences.
Scenario ChipStepTime::part_scenario(Part p, const std::vector<std::int64_t>& args) const {
  const int mb = microbatches();
  Scenario s = m_sc;
  s.input_len = 1;
  s.output_len = 1;
  s.phase = Phase::Decode;
  s.batch = args[0] * m_sc.dp * mb;
  if (m_sc.pp > 1) s.microbatches = mb;
  if (m_sc.pp == 1 && mb == 1) s.two_batch_overlap = false;  // one sequence: no second micro-batch to overlap
  if (p == PrefillAttn) {
    s.phase = Phase::Prefill;
    s.input_len = args[1];
  }
  if (p == PrefillTokens || p == LocalTokens) s.normal_all_to_all = true;
  return s;
}

// The part's kernels of one rank's step graph (`s` from part_scenario).
Graph ChipStepTime::part_graph(Part p, const std::vector<std::int64_t>& args, const Scenario& s, const RankPart& rank_part) const {
  std::int64_t context = 1;
  if (p == DecodeAttn || p == Decode) context = std::min<std::int64_t>(args[1], m_model.max_position);
  Graph g = build_step_graph(m_model, s, p != PrefillAttn, context, m_fusion, rank_part);
  auto keep = [&](const GraphNode& n) {
    const bool attention = n.op.kind == OpKind::Attention, head = n.group == "head";
    if (p == Decode) return !head;
    if (p == RankTokens) {
      const bool group_wide = n.group == "moe" && (n.op.kind == OpKind::AllToAll || n.op.kind == OpKind::GroupedGemm ||
                                                   n.op.label.find("experts.") != std::string::npos);
      return !head && !attention && !group_wide;
    }
    if (p == LocalTokens) return !head && !attention && !(n.group == "moe" && n.op.kind == OpKind::AllToAll);
    if (p == Tokens || p == PrefillTokens) return !head && !attention;
    if (p == Head) return head;
    return attention;
  };
  g.nodes.erase(std::remove_if(g.nodes.begin(), g.nodes.end(), [&](const GraphNode& n) { return !keep(n); }), g.nodes.end());
  if (p == PrefillAttn)  // the chunk's queries are the last Q of K keys (chunked prefill)
    for (GraphNode& n : g.nodes)
      if (n.op.seq_q == args[1] && n.op.seq_kv == args[1]) n.op.seq_kv = args[2];
  return g;
}

const std::string& ChipStepTime::attention_launches(Part p, const std::vector<std::int64_t>& args) {
  auto key = std::make_pair(part_code(p), args);
  auto it = m_launches.find(key);
  if (it != m_launches.end()) return it->second;
  std::string out;
  for (const GraphNode& n : part_graph(p, args, part_scenario(p, args), {}).nodes) {
    if (n.op.kind != OpKind::Attention || n.fused) continue;
    OpSpec op = n.op;
    op.label.clear();
    for (const Program& prog : m_chip.lower(op, LowerOptions{}))
      out += prog.name + ": " + prog.strategy + " x" + std::to_string(prog.num_tasks) + "; ";
  }
  return m_launches.emplace(key, std::move(out)).first->second;
}

std::vector<std::int64_t> ChipStepTime::same_launches(Part p, std::vector<std::int64_t> at, size_t d, const std::vector<std::int64_t>& br) {
  const std::int64_t v = at[d];
  const std::string mine = attention_launches(p, at);
  auto same = [&](std::int64_t c) {
    at[d] = c;
    return attention_launches(p, at) == mine;
  };
  // From v toward a grid point of other launches, the last context with v's: bisection (one change
  // between them assumed; where the plan changes back and forth, the change found is one of them and the
  // bracket still holds v's launches).
  auto reach = [&](std::int64_t end) {
    if (same(end)) return end;
    std::int64_t in = v, out = end;
    while (std::abs(out - in) > 1) {
      const std::int64_t mid = in + (out - in) / 2;
      (same(mid) ? in : out) = mid;
    }
    return in;
  };
  const std::int64_t lo = reach(br[0]), hi = reach(br[1]);
  return lo == hi ? std::vector<std::int64_t>{lo} : std::vector<std::int64_t>{lo, hi};
}

// Parts of fewer micro-batches than the layout's are keyed apart (the layout's keep the part's code).
int ChipStepTime::part_code(Part p) const {
  const int mb = microbatches();
  return static_cast<int>(p) + (mb == m_sc.step_microbatches() ? 0 : 8 * mb);
}

const StepCost& ChipStepTime::part(Part p, std::vector<std::int64_t> args) {
  const int code = part_code(p);
  if (m_bound) {
    double t = 0;
    for (const auto& [k, c] : m_cache->parts) {
      if (k.first != code || k.second.size() != args.size()) continue;
      bool below = true;
      for (size_t d = 0; d < args.size() && below; ++d) below = k.second[d] <= args[d];
      if (below) t = std::max(t, c.time_s);
    }
    return m_scratch = StepCost{t, {}, 0, 0, {}};
  }
  auto key = std::make_pair(code, args);
  auto it = m_cache->parts.find(key);
  if (it != m_cache->parts.end()) return it->second;
  const Scenario s = part_scenario(p, args);
  auto graph_of = [&](const RankPart& rank_part) { return part_graph(p, args, s, rank_part); };
  Graph whole = graph_of({});  // one rank's graph (the single chip's, or the launches counted below)
  // Kernels one rank launches: its stage's share of the layers, once per micro-batch.
  const double kernels = static_cast<double>(whole.kernels()) * microbatches() / std::max(1, m_sc.pp);
  StepResult r;
  if (m_sys) {
    RankSteps steps;
    steps.graph_of = [&](const RankRole& role) { return graph_of(role.part); };
    steps.steady = true;  // a server runs its iterations back to back: a pipeline's steady state
    steps.max_repeats = m_layer_repeats;
    // The Tokens part carries the hidden states between stages; the other parts stand for the same
    // hand-off and send only the sampled token ids (their latency).
    steps.token_bytes = static_cast<std::uint64_t>(args[0] * 4);
    steps.stage_bytes = p == Tokens || p == PrefillTokens || p == Decode || p == RankTokens || p == LocalTokens
                            ? static_cast<std::uint64_t>(args[0] * m_model.hidden * 2)
                            : steps.token_bytes;
    r = run_system_graphs(m_chip, *m_sys, m_model, s, steps);
  } else {
    r = run_step_graph(m_chip, std::move(whole), m_weight_bytes);
  }
  StepCost c{r.time_s, r.events, kernels, 0, {}};
  if (m_timeline) c.collectives = std::move(r.collectives);  // kept where asked (a part's cache is shared: see set_timeline)
  return m_cache->parts.emplace(key, std::move(c)).first->second;
}

int ChipStepTime::microbatches() const { return m_mb > 0 ? m_mb : m_sc.step_microbatches(); }

// Multilinear interpolation over the grid cell around x (each dimension bracketed on its own).
StepCost ChipStepTime::interpolated(Part p, const std::vector<double>& x) {
  std::vector<std::vector<std::int64_t>> br;
  // Context lengths (decode context, prefill chunk and keys) stay within the model's context.
  for (size_t d = 0; d < x.size(); ++d) {
    const std::int64_t cap = ((p == DecodeAttn || p == Decode) && d == 1) || (p == PrefillAttn && d > 0) ? m_model.max_position : INT64_MAX;
    const std::int64_t v = std::min<std::int64_t>(cap, std::llround(x[d]));
    br.push_back(m_interpolate ? bracket(v, cap) : std::vector<std::int64_t>{v});
    // A pipeline's micro-batches split the counts into fractions: between the integers around them.
    const double lo = std::floor(x[d]);
    if (m_interpolate && d == 0 && microbatches() > 1 && x[d] > 1 && x[d] < 16 && lo != x[d])
      br.back() = {static_cast<std::int64_t>(lo), static_cast<std::int64_t>(lo) + 1};
  }
  // The decode context between the points where the attention's launches change (step_time.h).
  if ((p == DecodeAttn || p == Decode) && br[1].size() == 2) {
    const std::vector<std::int64_t> at{std::max<std::int64_t>(1, std::llround(x[0])), std::clamp<std::int64_t>(std::llround(x[1]), br[1][0], br[1][1])};
    br[1] = same_launches(p, at, 1, br[1]);
  }
  StepCost out;
  std::vector<std::pair<const StepCost*, double>> used;  // the corners and their weights
  const size_t corners = size_t{1} << x.size();
  for (size_t c = 0; c < corners; ++c) {
    std::vector<std::int64_t> at;
    double w = 1;
    bool valid = true;
    for (size_t d = 0; d < x.size(); ++d) {
      const bool hi = (c >> d) & 1;
      const auto& b = br[d];
      if (b.size() == 1) {
        if (hi) valid = false;
        at.push_back(b[0]);
        continue;
      }
      const double f = std::clamp((x[d] - static_cast<double>(b[0])) / static_cast<double>(b[1] - b[0]), 0.0, 1.0);
      w *= hi ? f : 1 - f;
      at.push_back(b[hi ? 1 : 0]);
    }
    if (!valid || w <= 0) continue;
    if (p == PrefillAttn) at[2] = std::max(at[2], at[1]);  // the keys include the chunk itself
    const StepCost& corner = part(p, at);
    out = blend(std::move(out), 1, corner, w);
    if (m_timeline && !m_bound) used.emplace_back(&corner, w);  // a cached part: it stays where it is
  }
  out.collectives = blend_collectives(used);
  return out;
}

StepCost ChipStepTime::compose(const StepShape& s, bool grid, bool drafter, bool grid_tokens_only) {
  const bool saved = m_interpolate;
  m_interpolate = grid && saved;
  // The parts are simulated per micro-batch (each pipeline micro-batch carries 1/M of the counts), M at
  // most the iteration's sequences (each micro-batch holds whole ones).
  // A padded graph's rows are dummy sequences; a prompt iteration's padding tokens are not (HostLaunch::padded).
  const std::int64_t seqs = s.decode_seqs + s.prefill_chunks + s.verify_seqs + s.padding_rows;
  m_mb = static_cast<int>(std::clamp<std::int64_t>(seqs, 1, m_sc.step_microbatches()));
  const double mb = microbatches();
  StepCost c;
  auto add = [&](const StepCost& x) {  // a part of the step: its time, and its collectives spread over the step
    c = blend(std::move(c), 1, x, 1);
    c.collectives.insert(c.collectives.end(), x.collectives.begin(), x.collectives.end());
  };
  const bool normal_moe = (s.prefill_chunks > 0 || m_group_extend) && m_model.is_moe() && m_sc.dp_attention();
  // Two-batch overlap of a decode-only iteration (with more than one sequence to split): one part,
  // attention included. A padded graph's dummy rows count as sequences that read one cached token.
  const bool joint = m_sc.two_batch_overlap && m_mb > 1 && s.decode_seqs > 0 && s.prefill_chunks == 0 && s.verify_seqs == 0 &&
                     !m_group_extend;
  if (joint) {
    const double seqs = static_cast<double>(s.decode_seqs + s.padding_rows);
    add(interpolated(Decode, {seqs / mb, static_cast<double>(s.decode_kv_sum + s.padding_rows) / seqs}));
  } else if (s.tokens() > 0) {
    add(interpolated(normal_moe ? PrefillTokens : Tokens, {static_cast<double>(s.tokens()) / mb}));
  }
  // In a group of uneven ranks (group()): the MoE's group-wide share in place of this rank's own (the
  // difference of two parts at each count). The expert GEMMs' rows come from every rank: at the ranks' mean
  // tokens. DeepEP's normal all-to-alls (any rank with prompt work) carry each rank's own tokens and end when
  // the largest sender's (dispatch) and receiver's (combine: its own tokens back) are through: at the largest
  // rank's tokens. The low-latency ones of a decode iteration stay at the mean with the GEMMs.
  if (m_group_tokens >= 0) {
    const Part whole = normal_moe ? PrefillTokens : Tokens;
    const double own = static_cast<double>(s.tokens());
    auto share = [&](Part with, Part without, double tokens, double w) {
      if (tokens <= 0) return;
      c = blend(std::move(c), 1, interpolated(with, {tokens / mb}), w);
      c = blend(std::move(c), 1, interpolated(without, {tokens / mb}), -w);
    };
    if (normal_moe && m_group_most > m_group_tokens) {
      share(LocalTokens, RankTokens, m_group_tokens, 1);  // expert GEMMs (and the MoE's other group-wide kernels)
      share(whole, LocalTokens, m_group_most, 1);         // the all-to-alls
      share(whole, RankTokens, own, -1);
    } else if (own != m_group_tokens) {
      share(whole, RankTokens, m_group_tokens, 1);
      share(whole, RankTokens, own, -1);
    }
  }
  if (grid_tokens_only) m_interpolate = false;
  if (s.logit_rows > 0) add(interpolated(Head, {static_cast<double>(s.logit_rows) / mb}));
  if (s.decode_seqs > 0 && !joint)
    add(interpolated(DecodeAttn, {static_cast<double>(s.decode_seqs) / mb,
                                  static_cast<double>(s.decode_kv_sum) / static_cast<double>(s.decode_seqs)}));
  // Prefill chunks and verification steps: causal chunks of Q queries against K keys.
  auto chunks = [&](std::int64_t count, std::int64_t tokens, std::int64_t kv_sum) {
    if (count <= 0) return;
    const double n = static_cast<double>(count);
    const double q = std::max(1.0, std::round(static_cast<double>(tokens) / n));
    const double k = std::max(q, std::round(static_cast<double>(kv_sum) / n));
    add(interpolated(PrefillAttn, {n / mb, q, k}));
  };
  chunks(s.prefill_chunks, s.prefill_tokens, s.prefill_kv_sum);
  chunks(s.verify_seqs, s.verify_tokens, s.verify_kv_sum);
  m_interpolate = saved;
  m_mb = 0;
  std::stable_sort(c.collectives.begin(), c.collectives.end(), [](const StepCollective& a, const StepCollective& b) { return a.at < b.at; });
  if (drafter && (s.verify_seqs > 0 || s.prefill_chunks > 0)) c = then(std::move(c), drafting(s, grid), 1);
  return c;
}

Scenario drafter_scenario(const Scenario& target, const ModelConfig& draft, int tp) {
  Scenario ds = target;
  ds.pp = 1;
  ds.microbatches = 0;
  if (!draft.is_moe()) ds.ep = 1, ds.redundant_experts = 0;
  if (tp > 0 && tp < target.tp) {
    ds.tp = tp;
    ds.sp = ds.two_batch_overlap = ds.kv_to_tp_degree = false;
    ds.pad_heads = 0;
  }
  return ds;
}

void ChipStepTime::set_drafter(const ModelConfig* draft, double fraction, std::shared_ptr<StepPartCache> cache, int tp) {
  // On a system, on the target's TP group (the first tp ranks: the same links as any other group of the layout's),
  // or on its first rank alone with a draft tp of 1.
  m_drafter = draft ? std::make_unique<ChipStepTime>(m_chip, *draft, drafter_scenario(m_sc, *draft, tp), m_interpolate, m_sys, std::move(cache))
                    : nullptr;
  if (m_drafter) m_drafter->set_timeline(m_timeline), m_drafter->set_layer_repeats(m_layer_repeats);
  m_draft_fraction = draft ? 0 : fraction;
}

StepCost ChipStepTime::drafting(const StepShape& s, bool grid) {
  if (!m_drafter && m_draft_fraction <= 0) return {};
  // First pass: the drafter takes in the prompt tokens of this iteration (it keeps its own KV) and the
  // newest token of every verifying sequence; then one pass per further draft.
  StepShape first;
  first.prefill_tokens = s.prefill_tokens;
  first.prefill_chunks = s.prefill_chunks;
  first.prefill_kv_sum = s.prefill_kv_sum;
  first.decode_seqs = s.verify_seqs;
  first.decode_kv_sum = s.verify_kv_sum - s.verify_tokens + s.verify_seqs;  // context + 1 per sequence
  first.logit_rows = s.prefill_chunks + s.verify_seqs;
  StepShape next;
  next.decode_seqs = first.decode_seqs;
  next.decode_kv_sum = first.decode_kv_sum;
  next.logit_rows = s.verify_seqs;
  const double passes = s.verify_seqs > 0
                            ? std::ceil(static_cast<double>(s.verify_tokens) / static_cast<double>(s.verify_seqs)) - 1
                            : 0;  // the drafts per sequence of this step
  auto cost = [&](const StepShape& x) {
    if (m_drafter) return grid ? (*m_drafter)(x) : m_drafter->direct(x);
    const StepCost target = compose(x, grid, false);
    StepCost f = blend({}, 0, target, m_draft_fraction);
    f.collectives = target.collectives;  // the target's, scaled as the time is (set_timeline)
    for (StepCollective& k : f.collectives) {
      k.time_s *= m_draft_fraction;
      const auto bytes = std::max(1.0, std::round(static_cast<double>(k.req.bytes) * m_draft_fraction));
      k.req.bytes = whole_elements(k.req.kind, static_cast<int>(k.group.size()), static_cast<std::uint64_t>(bytes));
    }
    return f;
  };
  StepCost c = cost(first);
  if (passes > 1 && next.decode_seqs > 0) c = then(std::move(c), cost(next), passes - 1);
  return c;
}

StepCost ChipStepTime::operator()(const StepShape& s) { return compose(s, true, true); }

StepCost ChipStepTime::group(const std::vector<StepShape>& ranks) {
  if (ranks.empty()) return {};
  if (std::all_of(ranks.begin(), ranks.end(), [&](const StepShape& r) { return r == ranks.front(); })) return (*this)(ranks.front());
  struct GroupMode {  // restored however compose leaves
    ChipStepTime& t;
    ~GroupMode() { t.m_group_tokens = -1, t.m_group_most = 0, t.m_group_extend = false; }
  } mode{*this};
  double tokens = 0;
  for (const StepShape& r : ranks) {
    tokens += static_cast<double>(r.tokens()), m_group_most = std::max(m_group_most, static_cast<double>(r.tokens()));
    m_group_extend = m_group_extend || r.prefill_chunks > 0;
  }
  m_group_tokens = tokens / static_cast<double>(ranks.size());
  std::vector<StepCost> each;
  for (const StepShape& r : ranks) {
    StepCost c = compose(r, true, true);
    c.time_s = std::max(0.0, c.time_s);
    each.push_back(c);
  }
  const auto slowest = std::max_element(each.begin(), each.end(), [](const StepCost& a, const StepCost& b) { return a.time_s < b.time_s; });
  StepCost out = *slowest;
  for (const StepCost& c : each) out.rank_wait_s += (out.time_s - c.time_s) / static_cast<double>(each.size());
  // The waiting ranks' chips idle at static power meanwhile: the step's events are the slowest rank's.
  return out;
}
StepCost ChipStepTime::direct(const StepShape& s) { return compose(s, false, true); }
StepCost ChipStepTime::screened(const StepShape& s) { return compose(s, true, true, true); }
StepCost ChipStepTime::screened_bound(const StepShape& s) {
  struct BoundMode {  // restored however compose leaves, so later calls simulate again
    bool& on;
    ~BoundMode() { on = false; }
  } mode{m_bound = true};
  return compose(s, true, false, true);
}

}  // namespace xpu
