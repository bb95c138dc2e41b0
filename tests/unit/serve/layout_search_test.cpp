// The layout search of `xpusim compare`: which layouts a unit offers, how the criterion picks one and
// what it says about the others, and the named studies.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <limits>
#include <set>
#include <tuple>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/serve/compare.h"
#include "sim/serve/layout_search.h"
#include "sim/serve/step_time.h"
#include "sim/serve/study.h"
#include "sim/run/registry.h"
#include "sim/run/system_run.h"
#include "sim/interconnect/system_spec.h"

namespace xpu {
namespace {

LayoutTrial trial(const std::string& layout, std::vector<double> at_tiers, double max_per_chip) {
  LayoutTrial t;
  t.layout = layout;
  t.ran = true;
  t.tok_s_per_chip_at_tier = std::move(at_tiers);
  t.max_tok_s_per_chip = max_per_chip;
  return t;
}

TEST(LayoutSearch, TensorAndDataParallelLayoutsFillTheUnitAndSplitTheHeads) {
  ModelConfig m = load_model("llama-3.1-70b");  // 64 heads, 8 KV heads
  Scenario base;
  std::vector<std::string> got;
  for (const auto& c : candidate_layouts(8, m, base)) {
    EXPECT_EQ(c.unit.devices(), 8);
    EXPECT_EQ(c.replica.dp, 1);
    EXPECT_EQ(c.replicas * c.replica.devices(), 8);
    got.push_back(c.unit.layout_str());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"dp8", "dp4 x tp2", "dp2 x tp4", "tp8"}));
  // 6 chips: neither tp3 nor tp6 splits the 64 heads evenly, so neither is offered.
  got.clear();
  for (const auto& c : candidate_layouts(6, m, base)) got.push_back(c.unit.layout_str());
  EXPECT_EQ(got, (std::vector<std::string>{"dp6", "dp3 x tp2"}));
}

TEST(LayoutSearch, AMoEAlsoGetsExpertParallelLayoutsAndADenseModelDoesNot) {
  ModelConfig m = load_model("mixtral-8x7b");  // 32 heads, 8 KV heads, 8 experts
  Scenario base;
  std::vector<std::string> got, kinds;
  for (const auto& c : candidate_layouts(8, m, base)) {
    EXPECT_EQ(c.unit.devices(), 8) << c.unit.layout_str();
    EXPECT_EQ(c.replicas * c.replica.devices(), 8) << c.unit.layout_str();
    if (c.kind == "tp-ep") {  // experts over the replica's TP group, replicas over the rest
      EXPECT_EQ(c.replica.ep, c.replica.tp);
      EXPECT_EQ(c.replica.dp, 1);
    } else if (c.kind == "dp-attention-ep") {  // attention groups stepping together, experts over all 8
      EXPECT_EQ(c.replica.ep, 8);
      EXPECT_EQ(c.replica.tp * c.replica.dp, 8);
      EXPECT_GT(c.replica.dp, 1);
      EXPECT_EQ(c.replicas, 1);
    } else {
      EXPECT_EQ(c.kind, "tp-dp");
      EXPECT_EQ(c.replica.ep, 1);
    }
    got.push_back(c.unit.layout_str());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"dp8", "dp4 x tp2", "dp4 x tp2 x ep2", "dp2 x tp4", "dp2 x tp4 x ep4", "tp8", "tp8 x ep8",
                                           "dp8 x ep8", "dp4 x tp2 x ep8", "dp2 x tp4 x ep8"}));
  // 16 chips: ep16 exceeds Mixtral's 8 experts, so neither tp16 x ep16 nor data-parallel attention over all 16.
  got.clear();
  for (const auto& c : candidate_layouts(16, m, base))
    if (c.kind != "tp-dp") got.push_back(c.unit.layout_str());
  EXPECT_EQ(got, (std::vector<std::string>{"dp8 x tp2 x ep2", "dp4 x tp4 x ep4", "dp2 x tp8 x ep8"}));
  for (const auto& c : candidate_layouts(8, load_model("llama-3.1-70b"), base)) EXPECT_EQ(c.kind, "tp-dp");
  // 72 chips (an NVL72) do not split DeepSeek-V3's 256 experts: data-parallel attention over all 72
  // takes the fewest redundant experts that do, 32 (288 = 4 x 72); 64 chips need none.
  got.clear();
  for (const auto& c : candidate_layouts(72, load_model("deepseek-v3"), base))
    if (c.kind == "dp-attention-ep") got.push_back(c.unit.layout_str());
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), "dp72 x ep72 (+32 redundant experts)");
  for (const auto& c : candidate_layouts(64, load_model("deepseek-v3"), base)) EXPECT_EQ(c.replica.redundant_experts, 0);
  // The same rule for compare's fixed units: none where the experts split, or past the experts' count.
  EXPECT_EQ(fewest_redundant_experts(load_model("deepseek-v3"), 72), 32);
  EXPECT_EQ(fewest_redundant_experts(load_model("deepseek-v3"), 64), 0);
  EXPECT_EQ(fewest_redundant_experts(load_model("deepseek-v3"), 512), 0);
  EXPECT_EQ(fewest_redundant_experts(load_model("deepseek-v3"), 512, /*fill_surplus_ranks=*/true), 256);
  EXPECT_EQ(fewest_redundant_experts(load_model("deepseek-v3"), 72, /*fill_surplus_ranks=*/true), 32);
  EXPECT_EQ(fewest_redundant_experts(load_model("deepseek-v3"), 1), 0);
  EXPECT_EQ(fewest_redundant_experts(load_model("kimi-k2"), 72), 48);  // 384 experts: 432 = 6 x 72
  EXPECT_EQ(fewest_redundant_experts(load_model("kimi-k2"), 64), 0);
}

TEST(LayoutSearch, MostTiersReachedWinsThenThroughputPerChip) {
  const std::vector<double> tiers = {20, 50, 100};
  // tp1 serves most per chip at 20 tok/s per user but reaches no higher tier; tp4 reaches all three.
  std::vector<LayoutTrial> ts = {trial("dp8 x tp1", {900, 0, 0}, 1200), trial("dp2 x tp4", {700, 400, 150}, 800),
                                 trial("tp8", {500, 350, 200}, 600)};
  LayoutTrial nofit;
  nofit.layout = "dp8 x tp1 (small)";
  nofit.fits = false;
  nofit.verdict = "does not fit: ...";
  ts.push_back(nofit);
  const int chosen = choose_layout(ts, tiers);
  // tp4 and tp8 both reach the three tiers; tp4 is closer to the best of the two at each (700/700 +
  // 400/400 + 150/200 + 800/800) than tp8 (500/700 + 350/400 + 200/200 + 600/800): tp1, reaching one
  // tier, is no yardstick.
  EXPECT_EQ(chosen, 1);
  EXPECT_TRUE(ts[1].chosen);
  EXPECT_EQ(ts[1].verdict.rfind("chosen", 0), 0u) << ts[1].verdict;
  EXPECT_EQ(ts[0].verdict.rfind("slower: reaches 1 of the 3 tiers", 0), 0u) << ts[0].verdict;
  EXPECT_EQ(ts[2].verdict.rfind("slower", 0), 0u) << ts[2].verdict;
  EXPECT_EQ(ts[3].verdict, "does not fit: ...");  // left as the search wrote it
  EXPECT_FALSE(ts[3].chosen);
}

// Screened at the lowest concurrency, a layout reaching fewer tiers than another is pruned (its other
// concurrencies are not screened) and its verdict says where its figures come from.
TEST(LayoutSearch, LayoutsReachingFewerTiersAtTheirMostInteractivePointArePruned) {
  const std::vector<double> tiers = {20, 50, 100};
  std::vector<LayoutTrial> ts = {trial("dp8 x tp1", {90, 0, 0}, 90), trial("dp2 x tp4", {40, 40, 40}, 40),
                                 trial("tp8", {30, 30, 30}, 30)};
  LayoutTrial nofit;
  nofit.fits = false;
  nofit.verdict = "does not fit: ...";
  ts.push_back(nofit);
  EXPECT_EQ(prune_by_tiers(ts), (std::vector<size_t>{1, 2}));
  EXPECT_TRUE(ts[0].pruned);
  EXPECT_FALSE(ts[1].pruned || ts[2].pruned || ts[3].pruned);
  EXPECT_EQ(choose_layout(ts, tiers), 1);
  // It reaches a tier there, so compare screens it on until its users fall below the lowest tier (it
  // may serve that tier best): its verdict says how far.
  EXPECT_NE(ts[0].verdict.find("until its users fell below the lowest tier"), std::string::npos) << ts[0].verdict;
  EXPECT_NE(ts[2].verdict.find("at its most productive point"), std::string::npos) << ts[2].verdict;
  // Nothing reaches a tier: none is pruned (throughput decides among all).
  std::vector<LayoutTrial> slow = {trial("a", {0, 0, 0}, 5), trial("b", {0, 0, 0}, 7)};
  EXPECT_EQ(prune_by_tiers(slow).size(), 2u);
}

// When the swept layouts failed their engine runs, the fallback is chosen among the pruned ones only
// after they are screened over the whole sweep (not on their lowest-concurrency figures).
TEST(LayoutSearch, AFallbackToPrunedLayoutsRestsOnTheirWholeSweep) {
  const std::vector<double> tiers = {20, 50, 100};
  std::vector<LayoutTrial> ts = {trial("dp8 x tp1", {90, 0, 0}, 90), trial("dp4 x tp2", {80, 60, 0}, 80),
                                 trial("tp8", {30, 30, 30}, 30)};
  EXPECT_EQ(prune_by_tiers(ts), (std::vector<size_t>{2}));
  std::vector<size_t> rescreened;
  auto rescreen = [&](size_t i) {
    rescreened.push_back(i);
    ts[i].max_tok_s_per_chip = i == 0 ? 500 : 900;  // their most productive points, found over the sweep
  };
  EXPECT_EQ(choose_swept_layout(ts, tiers, rescreen), 2);
  EXPECT_TRUE(rescreened.empty());  // the swept layout wins: nothing screened again
  ts[2].ran = false;                // its engine run failed
  ts[2].verdict = "failed: ...";
  EXPECT_EQ(choose_swept_layout(ts, tiers, rescreen), 1);
  EXPECT_EQ(rescreened, (std::vector<size_t>{0, 1}));
  EXPECT_FALSE(ts[0].pruned || ts[1].pruned);
  EXPECT_NE(ts[1].verdict.find("at its most productive point"), std::string::npos) << ts[1].verdict;
}

// Each tier goes to the layout whose screen serves it best, whatever the criterion chose overall (the
// tpu-v6e-32 case: a dp8 x tp4 x ep32 serving 20 tok/s per user far better than the tp32 reaching 100).
TEST(LayoutSearch, EachTierGoesToTheLayoutServingItBest) {
  std::vector<LayoutTrial> ts = {trial("dp8 x tp4 x ep32", {85, 40, 0}, 300), trial("tp32", {23, 23, 20}, 23),
                                 trial("dp4 x tp8 x ep32", {60, 45, 0}, 200)};
  ts[2].ran = false;  // failed: never a winner
  EXPECT_EQ(tier_winners(ts, 3), (std::vector<int>{0, 0, 1}));
  ts[2].ran = true;
  EXPECT_EQ(tier_winners(ts, 3), (std::vector<int>{0, 2, 1}));
  ts[1].tok_s_per_chip_at_tier[2] = 0;  // nobody reaches the last tier
  EXPECT_EQ(tier_winners(ts, 3)[2], -1);
  EXPECT_EQ(choose_layout(ts, {20, 50, 100}), 0);  // the criterion itself is unchanged
}

// A walk is cut only when no point left can serve a tier best: a current winner walks on, a bound point
// reaching a tier at the best's throughput (or within the tie margin) keeps it, and a point's users are
// bounded by the lowest bound below it (tok/s per user only falls with concurrency).
TEST(LayoutSearch, AWalkIsCutOnlyWhenNoPointLeftCanServeATierBest) {
  std::vector<LayoutTrial> ts = {trial("tp8", {500, 200}, 600), trial("dp8", {300, 0}, 300)};
  const std::vector<double> tiers = {20, 50};
  auto pt = [](double users, double per_chip) { return ScreenPoint{0, users, per_chip}; };
  EXPECT_FALSE(may_serve_a_tier_best(ts, 1, {pt(40, 450), pt(30, 499)}, tiers));
  EXPECT_TRUE(may_serve_a_tier_best(ts, 1, {pt(40, 450), pt(30, 500)}, tiers));        // ties the best: may win
  EXPECT_TRUE(may_serve_a_tier_best(ts, 1, {pt(60, 250)}, tiers));                     // 50 tier above tp8's 200
  EXPECT_FALSE(may_serve_a_tier_best(ts, 1, {pt(45, 100), pt(60, 250)}, tiers));       // its users fell below 50 first
  EXPECT_FALSE(may_serve_a_tier_best(ts, 1, {pt(10, 1e9)}, tiers));                    // below every tier
  EXPECT_TRUE(may_serve_a_tier_best(ts, 1, {pt(std::numeric_limits<double>::infinity(), 600)}, tiers));  // unbounded
  ts[1].tok_s_per_chip_at_tier[0] = 700;                                               // the 20 tier's winner now
  EXPECT_TRUE(may_serve_a_tier_best(ts, 1, {pt(10, 1)}, tiers));
}

// The unit's frontier is the upper envelope of its layouts' curves, each point naming its layout, and
// each tier cell is the layout that serves it best; a cell's point is in the frontier.
TEST(LayoutSearch, TheUnitsFrontierIsTheUpperEnvelopeOverItsLayouts) {
  auto row = [](const std::string& layout, std::vector<std::pair<double, double>> pts) {
    CompareRow r;
    r.ran = true;
    r.result.layout = layout;
    for (auto [user, chip] : pts) {
      ServePoint p;
      p.concurrency = static_cast<std::int64_t>(r.result.curve.size() + 1) * 4;
      p.tok_s_per_user = user;
      p.throughput_tok_s_per_chip = chip;
      p.throughput_tok_s = chip * 32;
      r.result.curve.push_back(p);
      r.economics.push_back(PointEconomics{1 / chip, 0, chip});
    }
    r.tiers = tiers_of(r.result, {20, 50, 100});
    return r;
  };
  CompareRow tp32 = row("tp32", {{120, 10}, {60, 23}, {25, 30}, {10, 35}});
  const std::vector<CompareRow> others = {row("dp8 x tp4 x ep32", {{70, 40}, {30, 85}, {12, 300}})};
  merge_frontiers(tp32, others);
  std::vector<std::string> got;
  for (const ServePoint& p : tp32.frontier) got.push_back(p.layout + "@" + std::to_string(static_cast<int>(p.tok_s_per_user)));
  // tp32's 60/23, 25/30 and 10/35 are beaten by dp8's 70/40 and 30/85 (faster users and more per chip).
  EXPECT_EQ(got, (std::vector<std::string>{"tp32@120", "dp8 x tp4 x ep32@70", "dp8 x tp4 x ep32@30", "dp8 x tp4 x ep32@12"}));
  ASSERT_EQ(tp32.frontier_economics.size(), tp32.frontier.size());
  EXPECT_DOUBLE_EQ(tp32.frontier_economics[2].tok_s_per_mw, 85);
  const std::vector<std::string> layouts = {"dp8 x tp4 x ep32", "dp8 x tp4 x ep32", "tp32"};
  const std::vector<double> per_chip = {85, 40, 10};
  for (size_t k = 0; k < 3; ++k) {
    const InteractivityTier& t = tp32.tiers[k];
    EXPECT_EQ(t.layout, layouts[k]) << k;
    EXPECT_DOUBLE_EQ(t.throughput_tok_s_per_chip, per_chip[k]) << k;
    ASSERT_GE(t.point, 0);
    EXPECT_EQ(tp32.frontier[static_cast<size_t>(t.point)].layout, t.layout);
    EXPECT_DOUBLE_EQ(tp32.frontier[static_cast<size_t>(t.point)].throughput_tok_s_per_chip, t.throughput_tok_s_per_chip);
  }
  // One layout alone: its curve as run, every point named, dominated points of its own kept.
  CompareRow one = row("tp8", {{50, 10}, {40, 10}});
  merge_frontiers(one, {});
  ASSERT_EQ(one.frontier.size(), 2u);
  EXPECT_EQ(one.frontier[1].layout, "tp8");
  EXPECT_EQ(one.tiers[1].layout, "tp8");
}

TEST(LayoutSearch, TiesGoToFewerChipsPerReplicaAndNothingRunIsNoChoice) {
  std::vector<LayoutTrial> ts = {trial("dp2 x tp1", {100}, 100), trial("tp2", {100}, 100)};
  EXPECT_EQ(choose_layout(ts, {20}), 0);
  std::vector<LayoutTrial> none(2);
  none[0].verdict = none[1].verdict = "does not fit";
  none[0].fits = none[1].fits = false;
  EXPECT_EQ(choose_layout(none, {20}), -1);
}

TEST(LayoutSearch, ScreenedTrialsReadTheTiersFromTheirPoints) {
  LayoutTrial t;
  score_trial(t, {{1, 120, 100}, {16, 60, 900}, {64, 25, 2000}}, {20, 50, 100});
  EXPECT_TRUE(t.ran);
  EXPECT_EQ(t.tok_s_per_chip_at_tier, (std::vector<double>{2000, 900, 100}));
  EXPECT_EQ(t.max_tok_s_per_chip, 2000);
  EXPECT_EQ(t.max_tok_s_per_user, 120);
}

// The screen runs the engine's schedule (cohorts admitted by the prefill budget, each user's next prompt
// after its answer) with two simulated compositions: against the engine itself, on the same chip model
// and step parts, per user and per chip at each concurrency.
TEST(LayoutSearch, TheScreenFollowsTheEngineWithinItsStatedError) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model(source_dir() + "/tests/data/models/tiny-llama.json");
  struct Case {
    std::string scheduler;
    std::int64_t budget;
  };
  // The default budget (every prompt of a cohort in one iteration up to 126 users), a small one (prefill
  // spread over several heavy iterations), and SGLang (prefill iterations alone).
  for (const Case& k : {Case{"vllm", 0}, Case{"vllm", 256}, Case{"sglang", 0}}) {
    ServeOptions o;
    o.input = 64;
    o.output = 32;
    o.scheduler = k.scheduler;
    o.limits.token_budget = k.budget;
    o.concurrency = {1, 4, 16, 64, 256};
    o.concurrency_given = true;
    o.step_cache = std::make_shared<StepPartCache>();
    Scenario sc;
    const auto sched = make_scheduler(o.scheduler, o.limits);
    const ServeMemory mem = serve_memory(*chip, m, sc, *sched);
    const std::vector<ScreenPoint> pts = screen_layout(*chip, m, sc, o, nullptr, mem.kv_tokens, sched->limits().max_seqs, o.step_cache);
    const ServeResult r = serve(*chip, m, sc, o);
    size_t matched = 0;
    for (const ScreenPoint& p : pts)
      for (const ServePoint& e : r.curve)
        if (e.concurrency == p.concurrency) {
          ++matched;
          const std::string at = k.scheduler + " budget " + std::to_string(k.budget) + " concurrency " + std::to_string(p.concurrency);
          std::cerr << at << ": per user " << p.tok_s_per_user << " vs " << e.tok_s_per_user << ", per chip " << p.tok_s_per_chip
                    << " vs " << e.throughput_tok_s_per_chip << "\n";
          EXPECT_NEAR(p.tok_s_per_user / e.tok_s_per_user, 1.0, 0.02) << at;
          EXPECT_NEAR(p.tok_s_per_chip / e.throughput_tok_s_per_chip, 1.0, 0.02) << at;
        }
    EXPECT_EQ(matched, o.concurrency.size()) << k.scheduler;
  }
}

// The walk bound (screen_layout_bound) rests on a step part's time never falling as its counts grow:
// every pair of parts a screen simulated keeps that order, and the bound from the parts of the sweep's
// lower concurrencies is at least what screening the higher ones then gives, per user and per chip.
TEST(LayoutSearch, TheWalkBoundIsAtLeastTheScreenAndThePartsGrowWithTheirCounts) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  ServeOptions o;
  o.input = 256;
  o.output = 64;
  o.step_cache = std::make_shared<StepPartCache>();
  Scenario sc;
  sc.wdtype = sc.adtype = sc.kvdtype = DType::fp8;
  const auto sched = make_scheduler(o.scheduler, o.limits);
  const ServeMemory mem = serve_memory(*chip, m, sc, *sched);
  const std::int64_t most = sched->limits().max_seqs;
  size_t checked = 0;
  for (const auto& [low, high] : {std::pair<std::int64_t, std::int64_t>{1, 4}, {4, 16}, {16, 64}}) {
    o.concurrency = {low};
    screen_layout(*chip, m, sc, o, nullptr, mem.kv_tokens, most, o.step_cache);
    o.concurrency = {high, 4 * high};
    const std::vector<ScreenPoint> ub = screen_layout_bound(*chip, m, sc, o, mem.kv_tokens, most, o.step_cache);
    o.concurrency = {high};
    const std::vector<ScreenPoint> pts = screen_layout(*chip, m, sc, o, nullptr, mem.kv_tokens, most, o.step_cache);
    ASSERT_EQ(ub.size(), 2u);
    ASSERT_EQ(pts.size(), 1u);
    EXPECT_EQ(ub[0].concurrency, pts[0].concurrency);
    EXPECT_GE(ub[0].tok_s_per_user, pts[0].tok_s_per_user) << "concurrency " << high;
    EXPECT_GE(ub[0].tok_s_per_chip, pts[0].tok_s_per_chip) << "concurrency " << high;
    EXPECT_LT(ub[0].tok_s_per_user, 4 * pts[0].tok_s_per_user) << "a bound that says nothing";
    ++checked;
  }
  EXPECT_EQ(checked, 3u);
  size_t pairs = 0;
  for (const auto& [a, ca] : o.step_cache->parts)
    for (const auto& [b, cb] : o.step_cache->parts) {
      if (a.first != b.first || a.second.size() != b.second.size() || a == b) continue;
      bool below = true;
      for (size_t d = 0; d < a.second.size(); ++d) below = below && a.second[d] <= b.second[d];
      if (!below) continue;
      ++pairs;
      EXPECT_LE(ca.time_s, cb.time_s * (1 + 1e-12)) << "part " << a.first << " falls from " << a.second.back() << " to " << b.second.back();
    }
  EXPECT_GT(pairs, 20u);
}

// A searched unit's walks cut by the bound leave every result as the unbounded walks give it: each tier's
// layout and figures, the frontier, and which layout serves each tier best by its screen; the study is
// made so that layouts pruned at the lowest concurrency serve tiers best and others are cut.
TEST(LayoutSearch, BoundedWalksKeepEveryTierWinnerAndTheFrontier) {
  CompareRequest req;
  req.chips = {"hgx-h100x8"};
  req.model = "llama-3.1-8b";
  req.serve.input = 64;
  req.serve.output = 16;
  req.input_given = req.output_given = true;
  req.serve.max_batch = 64;
  // At concurrency 1 tp8 reaches 444 tok/s per user, dp2 x tp4 437 (465 and 458 before RMSNorm's gamma chain),
  // dp4 x tp2 and dp8 less: the last three reach only the 100 tier and walk; dp8 serves it best, walked first,
  // so the others' walks are cut.
  req.tiers = {100, 440};
  const CompareStudy bounded = compare_study(req);
  req.bound_walks = false;
  const CompareStudy full = compare_study(req);
  ASSERT_TRUE(bounded.all_ran() && full.all_ran());
  const CompareRow &b = bounded.rows[0], &f = full.rows[0];
  ASSERT_EQ(b.tiers.size(), f.tiers.size());
  std::set<std::string> serving;
  for (size_t k = 0; k < f.tiers.size(); ++k) {
    EXPECT_EQ(b.tiers[k].layout, f.tiers[k].layout) << "tier " << f.tiers[k].tok_s_per_user;
    EXPECT_EQ(b.tiers[k].throughput_tok_s_per_chip, f.tiers[k].throughput_tok_s_per_chip);
    EXPECT_EQ(b.tiers[k].usd_per_mtok, f.tiers[k].usd_per_mtok);
    EXPECT_EQ(b.tiers[k].point, f.tiers[k].point);
    serving.insert(f.tiers[k].layout);
  }
  ASSERT_EQ(b.frontier.size(), f.frontier.size());
  for (size_t i = 0; i < f.frontier.size(); ++i) {
    EXPECT_EQ(b.frontier[i].layout, f.frontier[i].layout);
    EXPECT_EQ(b.frontier[i].tok_s_per_user, f.frontier[i].tok_s_per_user);
    EXPECT_EQ(b.frontier[i].throughput_tok_s_per_chip, f.frontier[i].throughput_tok_s_per_chip);
  }
  EXPECT_EQ(tier_winners(b.layouts, req.tiers.size()), tier_winners(f.layouts, req.tiers.size()));
  // The case is one where the bound matters: a pruned layout serves a tier best, and a walk was cut.
  bool pruned_serves = false, cut = false;
  for (const LayoutTrial& t : f.layouts) pruned_serves = pruned_serves || (t.pruned && !t.serves_tiers.empty());
  for (const LayoutTrial& t : b.layouts) {
    std::cerr << t.layout << ": " << t.verdict << "\n";
    cut = cut || t.walk_cut;
  }
  EXPECT_TRUE(pruned_serves);
  EXPECT_TRUE(cut);
  EXPECT_GT(serving.size(), 1u);
}

// The step parts on a system simulate the first ChipStepTime::kLayerRepeats repetitions of a repeated
// layer block and take the rest at the last one's period (RankSteps::max_repeats): against every layer
// simulated, on a MoE with data-parallel attention (all-to-alls joining the groups) and with tensor
// parallelism (all-reduces), decode-only and mixed prefill steps, and with two-batch overlap (a
// repetition holds both micro-batches).
TEST(LayoutSearch, LayerRepetitionsTakenAtTheirPeriodMatchEveryLayerSimulated) {
  const SystemSpec spec = load_system("hgx-h100x8");
  auto chip = load_chip(spec.chip);
  const ModelConfig m = load_model(source_dir() + "/tests/data/models/deepseek-v2-lite.json");
  const SystemContext sys{spec};
  double worst = 0;
  for (auto [tp, dp, ep, tbo] : {std::tuple{8, 1, 1, false}, std::tuple{8, 1, 8, false}, std::tuple{2, 4, 8, false},
                                 std::tuple{1, 8, 8, true}}) {
    Scenario sc;
    sc.wdtype = sc.adtype = sc.kvdtype = DType::fp8;
    sc.tp = tp, sc.dp = dp, sc.ep = ep;
    sc.two_batch_overlap = tbo;
    ChipStepTime cut(*chip, m, sc, false, &sys), full(*chip, m, sc, false, &sys);
    full.set_layer_repeats(0);
    for (int mixed : {0, 1}) {
      StepShape s;
      s.decode_seqs = 24;
      s.decode_kv_sum = 24 * 700;
      if (mixed) s.prefill_chunks = 1, s.prefill_tokens = 512, s.prefill_kv_sum = 512;
      s.logit_rows = s.decode_seqs + s.prefill_chunks;
      const double a = cut.direct(s).time_s, b = full.direct(s).time_s;
      std::cerr << "tp" << tp << " dp" << dp << " ep" << ep << (tbo ? " tbo" : "") << (mixed ? " mixed" : " decode") << ": " << a
                << " s vs " << b << " s\n";
      ASSERT_GT(b, 0);
      worst = std::max(worst, std::abs(a / b - 1));
    }
  }
  EXPECT_LT(worst, 0.01);
}

// With two-batch overlap a decode-only iteration is one part, attention included (SGLang splits the whole
// layer): one micro-batch's attention runs while the other's dispatch or combine is on the wire, as in
// `run`. So the serving engine's iteration of 2 x 12 sequences per replica at context 700 on two nodes
// (EP16, the all-to-alls across the network) is the decode step `run` simulates for that batch (its
// kernels, collectives and LM head) at that context. A lone
// sequence has no second micro-batch: its iteration keeps the parts apart, as without the overlap.
TEST(LayoutSearch, TwoBatchOverlapDecodeIterationIsRunsDecodeStep) {
  const SystemSpec spec = load_system("hgx-h100x8", {}, 2);
  auto chip = load_chip(spec.chip);
  const ModelConfig m = load_model(source_dir() + "/tests/data/models/deepseek-v2-lite.json");
  const SystemContext sys{spec};
  Scenario sc;
  sc.wdtype = sc.adtype = sc.kvdtype = DType::fp8;
  sc.tp = 1, sc.dp = 16, sc.ep = 16;
  sc.two_batch_overlap = true;
  ChipStepTime serve_steps(*chip, m, sc, false, &sys);
  serve_steps.set_layer_repeats(0);
  StepShape s;
  s.decode_seqs = 24;
  s.decode_kv_sum = 24 * 700;
  s.logit_rows = 24;
  Scenario r = sc;
  r.phase = Phase::Decode;
  r.batch = 24 * sc.dp;
  r.input_len = 699;
  r.output_len = 1;
  const StepResult step = run_system_step(*chip, sys, m, r, StepPlan{true, 700, 1, false}, FusionPolicy::parse(chip->default_fusion()), nullptr);
  const double serve_s = serve_steps.direct(s).time_s;
  std::cerr << "serve iteration " << serve_s << " s, run's decode step " << step.time_s << " s\n";
  ASSERT_GT(step.time_s, 0);
  EXPECT_NEAR(serve_s / step.time_s, 1.0, 0.01);
  // Without the overlap the iteration is still run's step for the same layout (the parts add up).
  Scenario plain_sc = sc;
  plain_sc.two_batch_overlap = false;
  Scenario plain_r = r;
  plain_r.two_batch_overlap = false;
  ChipStepTime plain(*chip, m, plain_sc, false, &sys);
  plain.set_layer_repeats(0);
  const StepResult plain_step =
      run_system_step(*chip, sys, m, plain_r, StepPlan{true, 700, 1, false}, FusionPolicy::parse(chip->default_fusion()), nullptr);
  EXPECT_NEAR(plain.direct(s).time_s / plain_step.time_s, 1.0, 0.03);
  // One sequence: no second micro-batch to overlap, the iteration costs what it costs without it.
  StepShape one;
  one.decode_seqs = 1, one.decode_kv_sum = 700, one.logit_rows = 1;
  EXPECT_NEAR(serve_steps.direct(one).time_s / plain.direct(one).time_s, 1.0, 1e-9);
}

TEST(Studies, TheShippedStudiesLoadAndUnknownNamesAreRefusedInOneLine) {
  const auto names = study_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "frontier"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "chat-8b"), names.end());
  StudyDef f = load_study(default_study_name());
  // Issue 17: Llama-3.1-70B and a DeepSeek-V3-class MoE; the MoE on "8x H100 or H200", the others' units alike.
  EXPECT_EQ(f.models, (std::vector<std::string>{"llama-3.1-70b", "deepseek-v3"}));
  EXPECT_EQ(f.units.size(), 5u);
  EXPECT_TRUE(f.waiting.empty());
  ASSERT_EQ(f.units_for.count("deepseek-v3"), 1u);
  const auto& moe = f.units_for.at("deepseek-v3");
  // The MoE on one unit of each family too: 8x H200 for 8x H100, a v6e-32 slice for the v6e-8.
  auto family_of = [](const std::string& unit) { return load_chip(load_system(unit).chip)->family(); };
  std::vector<std::string> families, moe_families;
  for (const auto& u : f.units) families.push_back(family_of(u));
  for (const auto& u : moe) moe_families.push_back(family_of(u));
  std::sort(families.begin(), families.end());
  std::sort(moe_families.begin(), moe_families.end());
  EXPECT_EQ(families, moe_families);
  EXPECT_NE(std::find(moe.begin(), moe.end(), "hgx-h200x8"), moe.end());
  EXPECT_NE(std::find(moe.begin(), moe.end(), "tpu-v6e-32"), moe.end());
  // The 8-chip study keeps DeepSeek-V3 on the units that cannot hold it (their rows say why).
  StudyDef h = load_study("frontier-h100");
  ASSERT_EQ(h.units_for.count("deepseek-v3"), 1u);
  for (const auto& u : {"hgx-h100x8", "tpu-v6e-8"})
    EXPECT_NE(std::find(h.units_for.at("deepseek-v3").begin(), h.units_for.at("deepseek-v3").end(), u), h.units_for.at("deepseek-v3").end()) << u;
  CompareRequest given;
  given.model = given.scenario = "";
  const auto rs = study_requests(f, given, false);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].chips, f.units);
  EXPECT_EQ(rs[1].chips, moe);
  StudyDef c = load_study("chat-8b");
  EXPECT_EQ(c.models, (std::vector<std::string>{"llama-3.1-8b"}));
  try {
    load_study("frontiers");
    FAIL() << "an unknown study loaded";
  } catch (const InputError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("--study 'frontiers'"), std::string::npos) << w;
    EXPECT_NE(w.find("frontier"), std::string::npos) << w;
    EXPECT_EQ(w.find('\n'), std::string::npos) << w;
  }
}

// The default study runs every row (exit 0): each unit has a searched layout whose KV cache holds a
// request of the study's scenario, as serve_memory computes it; 8x H100 and a v6e-8 slice do not hold
// DeepSeek-V3 (the frontier-h100 study keeps those rows).
TEST(Studies, EveryUnitOfTheDefaultStudyHoldsItsModelAndTheH100StudyKeepsTheOnesThatDoNot) {
  // Whether `chips` chips of the unit's kind hold the model at some searched layout (the fabric does not matter).
  auto holds = [](const std::string& unit, const std::string& model_name, int chips = 0) {
    const SystemSpec sys = load_system(unit);
    auto chip = load_chip(sys.chip);
    const ModelConfig m = load_model(model_name);
    Scenario base;
    base.wdtype = base.adtype = base.kvdtype = DType::fp8;
    ServeOptions o;  // the chat scenario's lengths
    o.input = 1024;
    o.output = 256;
    for (const LayoutCandidate& c : candidate_layouts(chips > 0 ? chips : sys.ranks(), m, base)) {
      const auto sched = make_scheduler(o.scheduler, o.limits);
      if (serve_memory(*chip, m, c.replica, *sched).kv_tokens >= o.input + o.output) return true;
    }
    return false;
  };
  const StudyDef f = load_study(default_study_name());
  for (const std::string& m : f.models)
    for (const std::string& u : f.units_for.count(m) ? f.units_for.at(m) : f.units) EXPECT_TRUE(holds(u, m)) << u << " " << m;
  EXPECT_FALSE(holds("hgx-h100x8", "deepseek-v3"));
  EXPECT_FALSE(holds("tpu-v6e-8", "deepseek-v3"));
  EXPECT_FALSE(holds("tpu-v6e-32", "deepseek-v3", 16));  // a v6e-16 slice neither: why the v6e unit is the 4x8 slice
}

TEST(Studies, ABadStudyFileNamesItsKey) {
  const std::string dir = ::testing::TempDir();
  auto refused = [&](const std::string& name, const std::string& yaml, const std::string& key) {
    const std::string path = dir + "/" + name + ".yaml";
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(yaml.c_str(), f);
    std::fclose(f);
    try {
      load_study(path);
      ADD_FAILURE() << name << " loaded";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  refused("typo", "description: x\nunits: [h100-sxm]\nmodels: [llama-3.1-8b]\nmodel: llama-3.1-8b\n", "model");
  refused("nounits", "description: x\nmodels: [llama-3.1-8b]\n", "units");
  refused("waiting", "description: x\nunits: [h100-sxm]\nmodels: [llama-3.1-8b]\nwaiting: [deepseek-v3]\n", "waiting_reason");
  refused("tiers", "description: x\nunits: [h100-sxm]\nmodels: [llama-3.1-8b]\ntiers: [20, fast]\n", "tiers");
  refused("unitsfor", "description: x\nunits: [h100-sxm]\nmodels: [llama-3.1-8b]\nunits_for:\n  llama-3.1-70b: [b200]\n",
          "units_for.llama-3.1-70b");
}

TEST(Studies, FlagsOverrideTheStudyAndEachModelIsARequest) {
  StudyDef d;
  d.name = "s";
  d.units = {"hgx-h100x8"};
  d.models = {"llama-3.1-8b", "llama-3.1-70b"};
  d.dtype = "bf16";
  CompareRequest given;
  given.scenario = "";
  given.model = "";
  auto rs = study_requests(d, given, false);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].chips, d.units);
  EXPECT_EQ(rs[0].dtype, DType::bf16);
  EXPECT_EQ(rs[0].scenario, "chat");
  EXPECT_EQ(rs[1].study, "s-llama-3.1-70b");
  EXPECT_EQ(rs[1].folder, "llama-3.1-70b");
  given.model = "llama-3.1-8b";
  given.chips = {"h100-sxm"};
  given.dtype = DType::fp8;
  rs = study_requests(d, given, true);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].chips, given.chips);
  EXPECT_EQ(rs[0].dtype, DType::fp8);
  EXPECT_EQ(rs[0].study, "s");
  EXPECT_TRUE(rs[0].folder.empty());
}

TEST(Studies, EveryUnitOfTheDefaultStudyHasAnAllInCostAndEveryPublishedPriceItsSource) {
  for (const auto& unit : load_study(default_study_name()).units) {
    auto chip = load_chip(load_system(unit).chip);
    const CostSpec& c = chip->cost();
    EXPECT_GT(c.unit_price_usd, 0) << unit << ": no capex, so --tco has nothing to amortize";
    const CostFigures t = tco_figures(c, 1000, chip->power() ? chip->power()->tdp.value() : 0);
    EXPECT_GT(t.usd_per_hour, 0) << unit;
    EXPECT_GT(t.usd_per_mtok, 0) << unit;
    EXPECT_GT(cost_figures(c, 1000, 500).usd_per_mtok, 0) << unit << ": no $/Mtok (cloud price or TCO)";
    // A capex with a source is one the source gives; the assumed ones say so (B200 must not inherit the H100's).
    if (chip->name() == "b200" || chip->name() == "tpu-v6e" || chip->name() == "trn2" || chip->name() == "maia200") {
      EXPECT_TRUE(c.unit_price_source.empty()) << unit << ": " << c.unit_price_source;
    }
  }
  for (const auto& p : list_presets()) {
    auto chip = load_chip(p.path);
    if (chip->cost().published) {
      EXPECT_GT(chip->cost().chip_hour_usd, 0) << p.name;
      EXPECT_FALSE(chip->cost().source.empty()) << p.name << ": a published price names its source";
    }
  }
}

}  // namespace
}  // namespace xpu
