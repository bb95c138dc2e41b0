#include "sim/serve/layout_search.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/base/error.h"
#include "sim/base/strformat.h"
#include "sim/serve/step_time.h"

namespace xpu {

int fewest_redundant_experts(const ModelConfig& model, int ep, bool fill_surplus_ranks) {
  if (fill_surplus_ranks && model.is_moe() && ep > model.num_experts) return static_cast<int>(ep - model.num_experts);
  const std::int64_t rest = ep > 1 ? model.num_experts % ep : 0;
  return ep < model.num_experts && rest != 0 ? static_cast<int>(ep - rest) : 0;
}

namespace {
// Tensor parallelism inside a replica, data-parallel replicas over the rest: tp x dp = chips, as the
// serving engine runs one tensor-parallel replica (vLLM/SGLang --tensor-parallel-size with --data-parallel-size).
std::vector<LayoutCandidate> tp_dp(int chips, const ModelConfig&, const Scenario& base) {
  std::vector<LayoutCandidate> out;
  for (int tp = 1; tp <= chips; ++tp) {
    if (chips % tp != 0) continue;
    LayoutCandidate c;
    c.kind = "tp-dp";
    c.replica = base;
    c.replica.tp = tp;
    c.replica.pp = c.replica.ep = c.replica.dp = 1;
    c.unit = c.replica;
    c.unit.dp = c.replicas = chips / tp;
    out.push_back(c);
  }
  return out;
}

// Experts over the replica's tensor-parallel group (ep = tp): attention and the dense layers split as
// tp-dp does, each rank holding whole experts (1/tp of them) instead of 1/tp of every expert, as vLLM's
// --enable-expert-parallel and SGLang's --ep-size N with --tp N run it; replicas over the rest.
std::vector<LayoutCandidate> tp_ep(int chips, const ModelConfig& model, const Scenario& base) {
  std::vector<LayoutCandidate> out;
  if (!model.is_moe()) return out;
  for (LayoutCandidate& c : tp_dp(chips, model, base)) {
    if (c.replica.tp < 2) continue;
    c.kind = "tp-ep";
    c.replica.ep = c.unit.ep = c.replica.tp;
    out.push_back(c);
  }
  return out;
}

// Data-parallel attention with expert-parallel MoE over the whole unit, as DeepSeek-style deployments
// run it (SGLang --enable-dp-attention --ep-size N, DeepSeek-V3 technical report section 3.4): dp
// attention groups of tp chips each serve their own sequences (each holds the attention weights and its
// group's KV cache), and every rank holds 1/N of the experts, tokens dispatched and combined by
// all-to-all. One engine per attention group, all groups stepping together (the all-to-alls join them).
std::vector<LayoutCandidate> dp_attention_ep(int chips, const ModelConfig& model, const Scenario& base) {
  std::vector<LayoutCandidate> out;
  if (!model.is_moe() || chips < 2) return out;
  for (int tp = 1; tp < chips; ++tp) {
    if (chips % tp != 0) continue;
    LayoutCandidate c;
    c.kind = "dp-attention-ep";
    c.replica = base;
    c.replica.tp = tp;
    c.replica.pp = 1;
    c.replica.dp = chips / tp;
    c.replica.ep = chips;
    // Experts the unit's chips do not split (DeepSeek-V3's 256 over an NVL72's 72) take the fewest
    // redundant experts that do (32: 288 = 4 x 72), as large deployments serve them (SGLang
    // --ep-num-redundant-experts, placed by EPLB); more chips than experts stay out (ep > experts).
    c.replica.redundant_experts = fewest_redundant_experts(model, chips);
    c.unit = c.replica;
    c.replicas = 1;
    out.push_back(c);
  }
  return out;
}

std::string fmt_tps(double v) { return v > 0 ? strformat("%.0f", v) : std::string("unreachable"); }
}  // namespace

const std::vector<std::pair<std::string, LayoutKind>>& layout_kinds() {
  static const std::vector<std::pair<std::string, LayoutKind>> kinds = {
      {"tp-dp", tp_dp}, {"tp-ep", tp_ep}, {"dp-attention-ep", dp_attention_ep}};
  return kinds;
}

std::vector<LayoutCandidate> candidate_layouts(int chips, const ModelConfig& model, const Scenario& base) {
  std::vector<LayoutCandidate> out;
  for (const auto& [name, kind] : layout_kinds())
    for (LayoutCandidate& c : kind(chips, model, base)) {
      try {
        Scenario check = c.replica;
        check.batch = check.dp;  // one sequence per attention group
        check.input_len = check.output_len = 1;
        check.phase = Phase::Decode;
        check.validate(model);  // heads split evenly, the layout's own rules
      } catch (const InputError&) {
        continue;
      }
      out.push_back(c);
    }
  std::stable_sort(out.begin(), out.end(), [](const LayoutCandidate& a, const LayoutCandidate& b) {
    return a.replica.devices() < b.replica.devices();
  });
  return out;
}

namespace {
// Sums and counts the iterations of one class (those that prefill, those that only decode).
struct ShapeClass {
  double n = 0, prefill_tokens = 0, prefill_chunks = 0, prefill_kv = 0, decode_seqs = 0, decode_kv = 0, logit_rows = 0;
  void add(const StepShape& s) {
    n += 1;
    prefill_tokens += static_cast<double>(s.prefill_tokens);
    prefill_chunks += static_cast<double>(s.prefill_chunks);
    prefill_kv += static_cast<double>(s.prefill_kv_sum);
    decode_seqs += static_cast<double>(s.decode_seqs);
    decode_kv += static_cast<double>(s.decode_kv_sum);
    logit_rows += static_cast<double>(s.logit_rows);
  }
  // The class's mean iteration (counts rounded; the decodes' mean context kept).
  StepShape mean() const {
    auto r = [&](double v) { return static_cast<std::int64_t>(std::llround(v / n)); };
    StepShape s;
    s.prefill_tokens = r(prefill_tokens);
    s.prefill_chunks = s.prefill_tokens > 0 ? std::max<std::int64_t>(1, r(prefill_chunks)) : 0;
    s.prefill_kv_sum = s.prefill_tokens > 0 ? std::max(s.prefill_tokens, r(prefill_kv)) : 0;
    s.decode_seqs = r(decode_seqs);
    s.decode_kv_sum = decode_seqs > 0 ? static_cast<std::int64_t>(std::llround(decode_kv / decode_seqs * static_cast<double>(s.decode_seqs))) : 0;
    s.logit_rows = std::max<std::int64_t>(1, r(logit_rows));
    return s;
  }
};
}  // namespace

namespace {
// The screen's closed loop of b users: the engine's schedule (a first pass with unit times, as a closed
// loop's schedule does not depend on the iterations' times), its prefill iterations and its decode-only
// ones each timed by `cost` at their class's mean composition, and the second pass timed with them.
// Every request's TPOT and the run's makespan are sums of those two times, so times that bound the
// class costs from below give a run whose tok/s per user and throughput bound the screen's from above.
EngineResult screen_run(const ServeOptions& so, double device_bytes, std::int64_t in, std::int64_t out, std::int64_t b,
                        std::int64_t kv_tokens, const std::function<double(const StepShape&)>& cost) {
  const std::vector<RequestDraw> reqs(static_cast<size_t>(std::max<std::int64_t>(64, 4 * b)), RequestDraw{in, out, 0});
  const EngineLoad load{EngineLoad::Kind::Closed, b};
  auto sched = make_scheduler(so.scheduler, so.limits, device_bytes);
  const std::int64_t blocks = kv_tokens / sched->block_tokens();
  ShapeClass prefill, decode;
  run_engine(reqs, load, *sched, blocks, [&](const StepShape& s) {
    (s.prefill_tokens > 0 ? prefill : decode).add(s);
    return StepCost{1.0, {}, 0, 0, {}};
  });
  const double t_prefill = prefill.n > 0 ? cost(prefill.mean()) : 0;
  const double t_decode = decode.n > 0 ? cost(decode.mean()) : 0;
  sched = make_scheduler(so.scheduler, so.limits, device_bytes);
  return run_engine(reqs, load, *sched, blocks, [&](const StepShape& s) {
    return StepCost{s.prefill_tokens > 0 ? t_prefill : t_decode, {}, 0, 0, {}};
  });
}

// The concurrencies the engine's sweep runs; those the cache or max_seqs cannot hold run as many as it
// can (the users beyond wait), so they are screened once, at that many.
std::vector<std::int64_t> screen_batches(const ServeOptions& so, std::int64_t kv_tokens, std::int64_t max_seqs) {
  const std::int64_t in = std::max<std::int64_t>(1, so.input), out = std::max<std::int64_t>(1, so.output);
  const std::int64_t most = std::max<std::int64_t>(1, std::min(max_seqs, kv_tokens / (in + out)));
  std::vector<std::int64_t> bs;
  for (std::int64_t c : so.concurrency) bs.push_back(std::min(c, most));
  if (bs.empty()) bs.push_back(most);
  std::sort(bs.begin(), bs.end());
  bs.erase(std::unique(bs.begin(), bs.end()), bs.end());
  return bs;
}
}  // namespace

std::vector<ScreenPoint> screen_layout(const ChipModel& chip, const ModelConfig& model, const Scenario& replica,
                                       const ServeOptions& so, const SystemContext* sys, std::int64_t kv_tokens,
                                       std::int64_t max_seqs, std::shared_ptr<StepPartCache> cache) {
  ChipStepTime st(chip, model, replica, so.interpolate, sys, std::move(cache));
  const std::int64_t in = std::max<std::int64_t>(1, so.input), out = std::max<std::int64_t>(1, so.output);
  std::vector<ScreenPoint> pts;
  for (std::int64_t b : screen_batches(so, kv_tokens, max_seqs)) {
    // Simulated at the compositions themselves, the tokens part on the engine's grid (ChipStepTime::screened).
    const EngineResult er =
        screen_run(so, chip.dram_capacity(), in, out, b, kv_tokens, [&](const StepShape& s) { return st.screened(s).time_s; });
    ServePoint p;
    fill_metrics(p, er, replica.devices());
    if (!(p.tok_s_per_user > 0 && p.throughput_tok_s > 0)) continue;
    // Attention groups (dp with ep over them) each run this load side by side.
    pts.push_back({b * replica.dp, p.tok_s_per_user, p.throughput_tok_s * replica.dp / replica.devices()});
  }
  return pts;
}

std::vector<ScreenPoint> screen_layout_bound(const ChipModel& chip, const ModelConfig& model, const Scenario& replica,
                                             const ServeOptions& so, std::int64_t kv_tokens, std::int64_t max_seqs,
                                             std::shared_ptr<StepPartCache> cache) {
  ChipStepTime st(chip, model, replica, so.interpolate, nullptr, std::move(cache));
  const std::int64_t in = std::max<std::int64_t>(1, so.input), out = std::max<std::int64_t>(1, so.output);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<ScreenPoint> pts;
  for (std::int64_t b : screen_batches(so, kv_tokens, max_seqs)) {
    const EngineResult er =
        screen_run(so, chip.dram_capacity(), in, out, b, kv_tokens, [&](const StepShape& s) { return st.screened_bound(s).time_s; });
    ServePoint p;
    fill_metrics(p, er, replica.devices());
    // Times bounded by 0 (no part held below the composition) leave that figure unbounded.
    const double per_user = p.tpot_s > 0 ? p.tok_s_per_user : inf;
    const double per_chip = er.makespan_s > 0 ? p.throughput_tok_s * replica.dp / replica.devices() : inf;
    pts.push_back({b * replica.dp, per_user, per_chip});
  }
  return pts;
}

void score_trial(LayoutTrial& t, const std::vector<ScreenPoint>& pts, const std::vector<double>& tiers) {
  t.tok_s_per_chip_at_tier.assign(tiers.size(), 0);
  for (const ScreenPoint& p : pts) {
    t.max_tok_s_per_chip = std::max(t.max_tok_s_per_chip, p.tok_s_per_chip);
    t.max_tok_s_per_user = std::max(t.max_tok_s_per_user, p.tok_s_per_user);
    for (size_t i = 0; i < tiers.size(); ++i)
      if (p.tok_s_per_user >= tiers[i]) t.tok_s_per_chip_at_tier[i] = std::max(t.tok_s_per_chip_at_tier[i], p.tok_s_per_chip);
  }
  t.ran = !pts.empty();
}

int tiers_reached(const LayoutTrial& t) {
  int n = 0;
  for (double v : t.tok_s_per_chip_at_tier) n += v > 0;
  return n;
}

std::vector<size_t> prune_by_tiers(std::vector<LayoutTrial>& trials) {
  int most = -1;
  for (const LayoutTrial& t : trials)
    if (t.ran) most = std::max(most, tiers_reached(t));
  std::vector<size_t> keep;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (!trials[i].ran) continue;
    trials[i].pruned = tiers_reached(trials[i]) < most;
    if (!trials[i].pruned) keep.push_back(i);
  }
  return keep;
}

const char* layout_criterion() {
  return "screened on the chip model before any engine run (the engine's closed-loop schedule with its prefill and decode-only "
         "iterations each simulated at their mean composition, screen_layout), every layout first at the sweep's lowest "
         "concurrency (its most interactive point) and only those reaching the most tiers there over the whole sweep: the layout "
         "reaching the most interactivity tiers; among those, the highest throughput per chip averaged over the tiers and the "
         "most productive point (each relative to the best of those layouts there); then fewer chips per replica. The chosen "
         "layout then runs the study's engine sweep; if that run fails, the next best by the same rule runs, every layout "
         "screened at the lowest concurrency alone being screened over the whole sweep before it can be chosen";
}

int choose_layout(std::vector<LayoutTrial>& trials, const std::vector<double>& tiers) {
  // The best throughput per chip any trial reaches at each tier, and at its most productive point.
  // Among the trials reaching the most tiers (the others cannot win).
  auto reached = [&](const LayoutTrial& t) { return tiers_reached(t); };
  int most = -1;
  for (const auto& t : trials)
    if (t.ran) most = std::max(most, reached(t));
  std::vector<double> best(tiers.size(), 0);
  double best_max = 0;
  for (const auto& t : trials) {
    if (!t.ran || reached(t) < most) continue;
    for (size_t i = 0; i < tiers.size() && i < t.tok_s_per_chip_at_tier.size(); ++i) best[i] = std::max(best[i], t.tok_s_per_chip_at_tier[i]);
    best_max = std::max(best_max, t.max_tok_s_per_chip);
  }
  auto score = [&](const LayoutTrial& t) {
    double s = best_max > 0 ? t.max_tok_s_per_chip / best_max : 0;
    int terms = 1;
    for (size_t i = 0; i < best.size(); ++i)
      if (best[i] > 0) s += (i < t.tok_s_per_chip_at_tier.size() ? t.tok_s_per_chip_at_tier[i] : 0) / best[i], ++terms;
    return s / terms;
  };
  int chosen = -1;
  for (size_t i = 0; i < trials.size(); ++i) {
    const LayoutTrial& t = trials[i];
    if (!t.ran) continue;
    if (chosen < 0) {
      chosen = static_cast<int>(i);
      continue;
    }
    const LayoutTrial& c = trials[static_cast<size_t>(chosen)];
    // Earlier trials have fewer chips per replica: a later one must be strictly better to win.
    if (reached(t) > reached(c) || (reached(t) == reached(c) && score(t) > score(c) * (1 + 1e-9))) chosen = static_cast<int>(i);
  }
  for (size_t i = 0; i < trials.size(); ++i) {
    LayoutTrial& t = trials[i];
    if (!t.ran) continue;  // its verdict (does not fit, failed) is already written
    t.chosen = static_cast<int>(i) == chosen;
    std::string at;
    for (size_t k = 0; k < tiers.size() && k < t.tok_s_per_chip_at_tier.size(); ++k)
      at += strformat("%s%s tok/s per chip at %g tok/s per user", at.empty() ? "" : ", ", fmt_tps(t.tok_s_per_chip_at_tier[k]).c_str(), tiers[k]);
    if (!t.pruned)
      at += strformat("%s%.0f at its most productive point", at.empty() ? "" : "; ", t.max_tok_s_per_chip);
    else if (tiers_reached(t) == 0)
      at += strformat("%s%.0f at the lowest concurrency (screened there alone: no layout reaching fewer tiers at its most "
                      "interactive point can win)", at.empty() ? "" : "; ", t.max_tok_s_per_chip);
    else
      at += strformat(t.walk_cut ? "%s%.0f up to concurrency %lld (it reaches fewer tiers than the best, so it can only serve a tier best; "
                                   "screened until a bound on the rest of the sweep showed it could not)"
                                 : "%s%.0f up to concurrency %lld (screened until its users fell below the lowest tier: it reaches fewer tiers "
                                   "than the best, so it can only serve a tier best)", at.empty() ? "" : "; ", t.max_tok_s_per_chip,
                      static_cast<long long>(t.screened_to));
    if (t.chosen) {
      t.verdict = "chosen: " + at;
    } else {
      const LayoutTrial& c = trials[static_cast<size_t>(chosen)];
      t.verdict = reached(t) < reached(c) ? strformat("slower: reaches %d of the %zu tiers (%s reaches %d): ", reached(t), tiers.size(),
                                                      c.layout.c_str(), reached(c)) + at
                                          : "slower: " + at + " (" + c.layout + " serves more per chip)";
    }
  }
  return chosen;
}

int choose_swept_layout(std::vector<LayoutTrial>& trials, const std::vector<double>& tiers,
                        const std::function<void(size_t)>& rescreen) {
  const int chosen = choose_layout(trials, tiers);
  if (chosen < 0 || !trials[static_cast<size_t>(chosen)].pruned) return chosen;
  for (size_t i = 0; i < trials.size(); ++i)
    if (trials[i].ran && trials[i].pruned) {
      rescreen(i);
      trials[i].pruned = false;
    }
  return choose_layout(trials, tiers);
}

bool may_serve_a_tier_best(const std::vector<LayoutTrial>& trials, size_t i, const std::vector<ScreenPoint>& bound,
                           const std::vector<double>& tiers) {
  const std::vector<int> winners = tier_winners(trials, tiers.size());
  if (std::find(winners.begin(), winners.end(), static_cast<int>(i)) != winners.end()) return true;
  for (size_t k = 0; k < tiers.size(); ++k) {
    double best = 0;
    for (size_t o = 0; o < trials.size(); ++o)
      if (o != i && trials[o].ran && k < trials[o].tok_s_per_chip_at_tier.size()) best = std::max(best, trials[o].tok_s_per_chip_at_tier[k]);
    // A layout's tok/s per user only falls as concurrency rises (the premise of prune_by_tiers), so each
    // point's users are bounded by the lowest bound at or below its concurrency; within tier_winners'
    // tie margin of the best counts as able to win.
    double users = std::numeric_limits<double>::infinity();
    for (const ScreenPoint& p : bound) {
      users = std::min(users, p.tok_s_per_user);
      if (users >= tiers[k] && p.tok_s_per_chip * (1 + 1e-6) >= best) return true;
    }
  }
  return false;
}

std::vector<int> tier_winners(const std::vector<LayoutTrial>& trials, size_t tiers) {
  std::vector<int> out(tiers, -1);
  for (size_t k = 0; k < tiers; ++k)
    for (size_t i = 0; i < trials.size(); ++i) {
      const LayoutTrial& t = trials[i];
      const double v = t.ran && k < t.tok_s_per_chip_at_tier.size() ? t.tok_s_per_chip_at_tier[k] : 0;
      if (v > 0 && (out[k] < 0 || v > trials[static_cast<size_t>(out[k])].tok_s_per_chip_at_tier[k] * (1 + 1e-9)))
        out[k] = static_cast<int>(i);
    }
  return out;
}

}  // namespace xpu
