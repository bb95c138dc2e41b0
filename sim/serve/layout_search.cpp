#include "sim/serve/layout_search.h"

#include <algorithm>

#include "sim/base/error.h"
#include "sim/base/strformat.h"
#include "sim/serve/step_time.h"

namespace xpu {

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

std::string fmt_tps(double v) { return v > 0 ? strformat("%.0f", v) : std::string("unreachable"); }
}  // namespace

const std::vector<std::pair<std::string, LayoutKind>>& layout_kinds() {
  static const std::vector<std::pair<std::string, LayoutKind>> kinds = {{"tp-dp", tp_dp}};
  return kinds;
}

std::vector<LayoutCandidate> candidate_layouts(int chips, const ModelConfig& model, const Scenario& base) {
  std::vector<LayoutCandidate> out;
  for (const auto& [name, kind] : layout_kinds())
    for (LayoutCandidate& c : kind(chips, model, base)) {
      try {
        Scenario check = c.replica;
        check.batch = 1;
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

std::vector<ScreenPoint> screen_layout(const ChipModel& chip, const ModelConfig& model, const Scenario& replica,
                                       const ServeOptions& so, const SystemContext* sys, std::int64_t kv_tokens,
                                       std::int64_t max_seqs, std::shared_ptr<StepPartCache> cache) {
  ChipStepTime st(chip, model, replica, so.interpolate, sys, std::move(cache));
  const std::int64_t in = std::max<std::int64_t>(1, so.input), out = std::max<std::int64_t>(1, so.output);
  const std::int64_t most = std::max<std::int64_t>(1, std::min(max_seqs, kv_tokens / (in + out)));
  std::vector<std::int64_t> bs;
  for (std::int64_t c : so.concurrency)
    if (c < most) bs.push_back(c);
  bs.push_back(most);
  std::vector<ScreenPoint> pts;
  for (std::int64_t b : bs) {
    if (!pts.empty() && pts.back().concurrency >= b) continue;
    StepShape dec;
    dec.decode_seqs = dec.logit_rows = b;
    dec.decode_kv_sum = b * (in + out / 2);
    // b prompts start every `out` iterations: one per iteration while b <= out, else b / out each.
    const std::int64_t carrying = std::min(out, b);
    StepShape mix = dec;
    mix.prefill_tokens = b * in / carrying;
    mix.prefill_chunks = std::max<std::int64_t>(1, b / carrying);
    mix.prefill_kv_sum = mix.prefill_tokens;
    mix.logit_rows += mix.prefill_chunks;
    const double t = (static_cast<double>(out - carrying) * st(dec).time_s + static_cast<double>(carrying) * st(mix).time_s) /
                     static_cast<double>(out);
    if (!(t > 0)) continue;
    pts.push_back({b, 1.0 / t, static_cast<double>(b) / t / replica.devices()});
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

const char* layout_criterion() {
  return "screened on the chip model before any engine run (steady-state closed-loop iterations, screen_layout): the layout "
         "reaching the most interactivity tiers; among those, the highest throughput per chip averaged over the tiers and the "
         "most productive point (each relative to the best layout there); then fewer chips per replica. The chosen layout then "
         "runs the study's engine sweep";
}

int choose_layout(std::vector<LayoutTrial>& trials, const std::vector<double>& tiers) {
  // The best throughput per chip any trial reaches at each tier, and at its most productive point.
  std::vector<double> best(tiers.size(), 0);
  double best_max = 0;
  for (const auto& t : trials) {
    if (!t.ran) continue;
    for (size_t i = 0; i < tiers.size() && i < t.tok_s_per_chip_at_tier.size(); ++i) best[i] = std::max(best[i], t.tok_s_per_chip_at_tier[i]);
    best_max = std::max(best_max, t.max_tok_s_per_chip);
  }
  auto reached = [&](const LayoutTrial& t) {
    int n = 0;
    for (double v : t.tok_s_per_chip_at_tier) n += v > 0;
    return n;
  };
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
    at += strformat("%s%.0f at its most productive point", at.empty() ? "" : "; ", t.max_tok_s_per_chip);
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

}  // namespace xpu
