// Expert placement: contiguous experts per rank, EPLB's replicas of the hottest experts, and the
// all-to-all sizes and weights per device that follow from them (closed forms by hand).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "tests/unit/interconnect/systems_test_util.h"
#include "tests/unit/workloads/layout_util.h"
#include "workloads/expert_placement.h"
#include "workloads/graph.h"
#include "workloads/sharding.h"

using namespace xpu;

namespace {
std::vector<std::int64_t> slot_rows(const ExpertPlacement& p, int rank) { return p.group_rows(rank); }
// The dispatch and combine all-to-all bytes of one rank's step, and its grouped GEMM's rows.
struct MoeStep {
  std::int64_t dispatch = 0, combine = 0;
  std::vector<std::int64_t> rows;
};
MoeStep moe_step(const ModelConfig& m, const Scenario& s, int rank) {
  MoeStep out;
  const Graph g = build_step_graph(m, s, true, 257, FusionPolicy::vllm(), rank_roles(m, s)[static_cast<size_t>(rank)].part);
  for (const auto& n : g.nodes) {
    const std::string name = n.op.label.substr(n.op.label.rfind('.') + 1);
    if (name == "moe_dispatch") out.dispatch = n.op.m;
    if (name == "moe_combine") out.combine = n.op.m;
    if (n.op.kind == OpKind::GroupedGemm && name == "gate_up") out.rows = n.op.group_rows;
  }
  return out;
}
}  // namespace

TEST(ExpertPlacement, WithoutReplicasConsecutiveExpertsPerRank) {
  const ExpertPlacement p = place_experts({1, 2, 3, 4, 5, 6, 7, 8}, 4, 0);
  ASSERT_EQ(p.ranks.size(), 4u);
  EXPECT_EQ(slot_rows(p, 0), (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(slot_rows(p, 3), (std::vector<std::int64_t>{7, 8}));
  EXPECT_EQ(p.ranks[2][1].expert, 5);
  EXPECT_EQ(p.max_rank_rows(), 15);
  EXPECT_EQ(p.replicas, std::vector<int>(8, 1));
}

// One hot expert of 100 rows and seven of 10 on 4 ranks with 4 replicas (3 slots per rank): each
// replica goes to the expert with most rows per replica, 100/1, 100/2, 100/3, 100/4 > 10, so expert 0
// has 5 replicas of 20 rows. Packing heaviest first onto the least-loaded rank with a free slot:
// 20, 20, 20, 20 on ranks 0-3, the fifth 20 on rank 0 (40); the 10s fill ranks 1-3 (40 each) and the
// last goes to rank 0: loads 50, 40, 40, 40 (the contiguous placement's hottest rank had 110).
TEST(ExpertPlacement, EplbReplicatesTheHottestAndPacksGreedily) {
  const std::vector<std::int64_t> rows = {100, 10, 10, 10, 10, 10, 10, 10};
  EXPECT_EQ(place_experts(rows, 4, 0).max_rank_rows(), 110);
  const ExpertPlacement p = place_experts(rows, 4, 4);
  EXPECT_EQ(p.replicas, (std::vector<int>{5, 1, 1, 1, 1, 1, 1, 1}));
  for (int r = 0; r < 4; ++r) EXPECT_EQ(p.ranks[static_cast<size_t>(r)].size(), 3u) << r;
  EXPECT_EQ(slot_rows(p, 0), (std::vector<std::int64_t>{20, 20, 10}));
  EXPECT_EQ(p.rank_rows(1), 40);
  EXPECT_EQ(p.max_rank_rows(), 50);
  // Every routed row is computed once: each expert's replicas add up to its rows.
  std::vector<std::int64_t> per_expert(rows.size(), 0);
  for (const auto& rank : p.ranks)
    for (const ExpertSlot& s : rank) per_expert[static_cast<size_t>(s.expert)] += s.rows;
  EXPECT_EQ(per_expert, rows);
}

TEST(ExpertPlacement, UnevenReplicaSplitsKeepEveryRow) {
  const ExpertPlacement p = place_experts({10, 1, 1, 1}, 2, 2);  // expert 0: 3 replicas of 4, 3, 3 rows
  EXPECT_EQ(p.replicas[0], 3);
  std::int64_t total = 0;
  for (int r = 0; r < 2; ++r) total += p.rank_rows(r);
  EXPECT_EQ(total, 13);
  EXPECT_EQ(p.max_rank_rows(), 7);  // 4+1+1 and 3+3+1 or the like: at most 7
}

TEST(ExpertPlacement, CountsThatDoNotSplitNameTheFlag) {
  const std::vector<std::int64_t> rows(256, 1);
  EXPECT_EQ(place_experts(rows, 72, 32).ranks[0].size(), 4u);  // 288 = 4 x 72 (DeepSeek-V3 on NVL72)
  EXPECT_NE(test::input_error_of([&] { place_experts(rows, 72, 5); }).find("--redundant-experts 5"), std::string::npos);
  EXPECT_NE(test::input_error_of([&] { place_experts(rows, 8, -8); }).find("--redundant-experts -8"), std::string::npos);
}

TEST(ExpertPlacement, ScenarioRulesNameTheFlagValueAndWhatWorks) {
  const ModelConfig ds = load_model("deepseek-v3");
  Scenario s = test::layout_scenario(72, 1, 72, 1, 72);
  EXPECT_NE(test::input_error_of([&] { s.validate(ds); }).find("or, on these 72 chips, --redundant-experts 32 replicas"), std::string::npos);
  s.redundant_experts = 32;
  EXPECT_EQ(test::input_error_of([&] { s.validate(ds); }), "");
  EXPECT_EQ(s.layout_str(), "dp72 x ep72 (+32 redundant experts)");
  s.redundant_experts = 40;
  EXPECT_EQ(test::input_error_of([&] { s.validate(ds); }),
            "--redundant-experts 40: 256 + 40 = 296 experts do not split over --ep 72 (expected 256 + N a multiple of 72, "
            "e.g. --redundant-experts 32 or 104)");
  s.redundant_experts = -1;
  EXPECT_NE(test::input_error_of([&] { s.validate(ds); }).find("--redundant-experts -1 must not be negative"), std::string::npos);
  Scenario one = test::layout_scenario(8, 8);
  one.redundant_experts = 8;
  EXPECT_NE(test::input_error_of([&] { one.validate(ds); }).find("needs --ep > 1"), std::string::npos);
  EXPECT_NE(test::input_error_of([&] { one.validate(load_model("llama-3.1-8b")); }).find("has no experts"), std::string::npos);
  // DeepSeek's decode deployment: 256 experts + 64 redundant over 320 ranks, one each.
  Scenario wide = test::layout_scenario(320, 1, 320, 1, 320);
  wide.redundant_experts = 64;
  EXPECT_EQ(test::input_error_of([&] { wide.validate(ds); }), "");
  wide.redundant_experts = 0;
  EXPECT_NE(test::input_error_of([&] { wide.validate(ds); }).find("--redundant-experts 64 to give every rank an expert"), std::string::npos);
}

// Mixtral (8 experts, top-2, hidden 4096) at --dp 8 --ep 8, 7 sequences per rank: 56 tokens, 112
// routed rows. Uniform: 14 rows per expert, each rank's one expert; dispatch and combine carry 14 rows
// x 4096 x 2 bytes (bf16) per rank. hot:0.5 gives expert 0 28 rows and the others 12: rank 0 receives
// 28 rows, and the all-to-alls on every rank are sized by it (the exchange ends when it has them).
TEST(ExpertPlacement, AllToAllIsSizedByTheRankThatReceivesMost) {
  const ModelConfig m = load_model("mixtral-8x7b");
  Scenario s = test::layout_scenario(56, 1, 8, 1, 8);
  s.routing = Routing::parse("even");  // expected loads only (the step's draw: OneStepsDraw... below)
  const std::int64_t row = 4096 * 2;
  for (int r : {0, 5}) {
    const MoeStep u = moe_step(m, s, r);
    EXPECT_EQ(u.dispatch, 14 * row);
    EXPECT_EQ(u.combine, 14 * row);
    EXPECT_EQ(u.rows, std::vector<std::int64_t>{14});
  }
  s.routing = Routing::parse("hot:0.5");
  s.routing.sampled = false;
  const MoeStep hot0 = moe_step(m, s, 0), hot5 = moe_step(m, s, 5);
  EXPECT_EQ(hot0.rows, std::vector<std::int64_t>{28});
  EXPECT_EQ(hot5.rows, std::vector<std::int64_t>{12});
  for (const MoeStep& h : {hot0, hot5}) {
    EXPECT_EQ(h.dispatch, 28 * row);
    EXPECT_EQ(h.combine, 28 * row);
  }
  // fp8 activations dispatch one byte per value and a float32 scale per 128 (expert_token_bytes);
  // the combine returns bf16.
  s.adtype = DType::fp8;
  EXPECT_EQ(moe_step(m, s, 3).dispatch, 28 * (4096 + 32 * 4));
}

// The same step with 8 redundant experts (2 slots per rank). Replicas: expert 0 (28) twice more
// (28/2 = 14 > 12, then 28/3 < 12), then experts 1-6 once each: expert 0 split 10, 9, 9; experts
// 1-6 into 6 + 6; expert 7 keeps 12. Packed heaviest first: 12, 10, 9, 9, 6, 6, 6, 6 on ranks 0-7,
// then the 6s onto ranks 4-7 (12 each), 2, 3 (15), 1 (16), 0 (18). The hottest rank has 18 rows.
// Each rank holds two experts' weights instead of one.
TEST(ExpertPlacement, RedundantExpertsRebalanceTheHotRankAndCostWeights) {
  const ModelConfig m = load_model("mixtral-8x7b");
  Scenario s = test::layout_scenario(56, 1, 8, 1, 8);
  s.routing = Routing::parse("hot:0.5");
  s.routing.sampled = false;  // EPLB's placement of the expected loads
  s.redundant_experts = 8;
  s.validate(m);
  const std::int64_t row = 4096 * 2;
  EXPECT_EQ(moe_step(m, s, 0).rows, (std::vector<std::int64_t>{12, 6}));
  EXPECT_EQ(moe_step(m, s, 1).rows, (std::vector<std::int64_t>{10, 6}));
  EXPECT_EQ(moe_step(m, s, 4).rows, (std::vector<std::int64_t>{6, 6}));
  EXPECT_EQ(moe_step(m, s, 2).dispatch, 18 * row);
  EXPECT_EQ(moe_step(m, s, 2).combine, 18 * row);
  std::int64_t computed = 0;
  for (int r = 0; r < 8; ++r) {
    const auto rows = moe_step(m, s, r).rows;
    computed += std::accumulate(rows.begin(), rows.end(), std::int64_t{0});
  }
  EXPECT_EQ(computed, 112);
  // Weights: one more expert (gate, up, down: 3 x 4096 x 14336, bf16) in each of 32 layers per rank.
  Scenario plain = s;
  plain.redundant_experts = 0;
  const double extra = shard_weights(m, s).rank_weight_bytes[3] - shard_weights(m, plain).rank_weight_bytes[3];
  EXPECT_DOUBLE_EQ(extra, 32.0 * 3 * 4096 * 14336 * 2);
}

// The expected distinct ranks among k experts drawn without repetition, E/ep per rank, by hand:
// one expert per rank gives k ranks; 4 experts over 2 ranks, top-2: a token misses a rank only when
// both experts are on the other, C(2,2)/C(4,2) = 1/6, so 2 x 5/6 = 5/3; DeepSeek-V3 (256, top-8) over
// 8 ranks: 8 x (1 - C(224,8)/C(256,8)) = 5.2947; one rank holds everything: 1.
TEST(ExpertPlacement, DistinctRanksPerTokenClosedForm) {
  EXPECT_DOUBLE_EQ(distinct_ranks_per_token(8, 2, 8), 2.0);
  EXPECT_NEAR(distinct_ranks_per_token(4, 2, 2), 5.0 / 3.0, 1e-12);
  double miss = 1.0;
  for (int i = 0; i < 8; ++i) miss *= (224.0 - i) / (256.0 - i);
  EXPECT_NEAR(distinct_ranks_per_token(256, 8, 8), 8 * (1 - miss), 1e-12);
  EXPECT_NEAR(distinct_ranks_per_token(256, 8, 8), 5.2947, 1e-4);
  EXPECT_DOUBLE_EQ(distinct_ranks_per_token(256, 8, 1), 1.0);
  // Group-limited routing. Groups over several ranks: 4 experts in 2 groups on 4 ranks, one expert per
  // token inside its one group: one rank. DeepSeek-V3's 8 groups, 4 per token, over 8 ranks: its 8
  // experts among the 128 of 4 ranks, 4 (1 - C(96, 8) / C(128, 8)).
  EXPECT_DOUBLE_EQ(distinct_ranks_per_token(4, 1, 4, 2, 1), 1.0);
  double in_groups = 1;
  for (int i = 0; i < 8; ++i) in_groups *= (96.0 - i) / (128.0 - i);
  EXPECT_NEAR(distinct_ranks_per_token(256, 8, 8, 8, 4), 4 * (1 - in_groups), 1e-12);
  EXPECT_NEAR(distinct_ranks_per_token(256, 8, 8, 8, 4), 3.629, 1e-3);
  // Whole groups per rank: 4 groups, 2 per token, 2 per rank: both on one rank in 2 of the 6 pairs, 5/3.
  EXPECT_NEAR(distinct_ranks_per_token(8, 2, 2, 4, 2), 5.0 / 3.0, 1e-12);
  // No limit (one group, or every group chosen): the plain count.
  EXPECT_DOUBLE_EQ(distinct_ranks_per_token(256, 8, 8, 1, 1), distinct_ranks_per_token(256, 8, 8));
  EXPECT_DOUBLE_EQ(distinct_ranks_per_token(256, 8, 8, 8, 8), distinct_ranks_per_token(256, 8, 8));
  EXPECT_NE(test::input_error_of([] { distinct_ranks_per_token(256, 8, 7); }).find("multiple of ep"), std::string::npos);
}

// The sizes of a normal (prefill) exchange, by hand: DeepSeek-V3 over 8 ranks, 4096 tokens from each,
// a rank receives 4096 x 5.2947 tokens (each once per rank it reaches, 1/8 of those from each
// sender); across 2 nodes a token of 7392 B crosses to 2 (1 - C(128,8)/C(256,8)) nodes. FP8 tokens
// carry a float32 scale per 128 elements (DeepEP's 7168 + 56 x 4 = 7392 B), BF16 2 B per element,
// FP4 half a byte (rounded up), no scales.
TEST(ExpertPlacement, NormalExchangeSizes) {
  EXPECT_EQ(normal_receive_tokens(8 * 4096, 256, 8, 8, 1, 1),
            static_cast<std::int64_t>(std::ceil(4096 * distinct_ranks_per_token(256, 8, 8) - 1e-9)));
  EXPECT_EQ(normal_receive_tokens(8 * 4096, 256, 8, 8, 1, 1), 21687);
  double miss = 1.0;
  for (int i = 0; i < 8; ++i) miss *= (128.0 - i) / (256.0 - i);
  EXPECT_EQ(normal_forwarded_bytes(4096, 7392, 256, 8, 2, 1, 1),
            static_cast<std::uint64_t>(std::ceil(4096 * 2 * (1 - miss) - 1e-9)) * 7392u);
  double in_groups = 1;  // 4 of 8 groups, one per node: the 8 experts among those 4 nodes' 128
  for (int i = 0; i < 8; ++i) in_groups *= (96.0 - i) / (128.0 - i);
  EXPECT_EQ(normal_forwarded_bytes(4096, 7392, 256, 8, 8, 8, 4),
            static_cast<std::uint64_t>(std::ceil(4096 * 4 * (1 - in_groups) - 1e-9)) * 7392u);
  EXPECT_EQ(expert_token_bytes(7168, DType::fp8), 7392);
  EXPECT_EQ(expert_token_bytes(7168, DType::bf16), 14336);
  EXPECT_EQ(expert_token_bytes(7168, DType::fp4), 3584);
  EXPECT_EQ(expert_token_bytes(7, DType::fp4), 4);
}

// From a placement: a rank whose expert every token picks receives every token; one expert per rank
// receives its rows; two experts of p = 1/2 each reach 1 - 1/4 of the tokens (independent picks).
TEST(ExpertPlacement, PrefillTokensPerRankFromThePlacement) {
  EXPECT_EQ(place_experts({100, 10, 10, 10}, 4, 0).max_rank_tokens(100), 100);
  EXPECT_EQ(place_experts({40, 30, 20, 10}, 4, 0).max_rank_tokens(100), 40);
  EXPECT_EQ(place_experts({50, 50, 10, 10}, 2, 0).max_rank_tokens(100), 75);
  // Replicas of one expert on one rank split its tokens, they do not multiply the chance.
  ExpertPlacement two;
  two.ranks = {{{0, 30}, {0, 20}}};
  EXPECT_EQ(two.max_rank_tokens(100), 50);
}

// DeepSeek-V3 at --dp 8 --ep 8, 8 sequences of 64 tokens per rank (4096 over the EP group, 32768 routed
// rows): prefill sends each token once per rank holding its experts (DeepEP normal kernels), and its
// experts lie in 4 of 8 groups, one group per rank, so the busiest rank receives 4096 x 3.6290 / 8 =
// 1859 tokens (4096 x 5.2947 / 8 = 2711 without the group limit; not 4096 rows); decode (low-latency kernels)
// keeps one row per routed expert: 64 tokens x 8 / 8 ranks = 64 rows.
TEST(ExpertPlacement, PrefillDispatchesOncePerRankDecodePerExpert) {
  const ModelConfig ds = load_model("deepseek-v3");
  Scenario s = test::layout_scenario(64, 1, 8, 1, 8);
  s.input_len = 64;
  s.adtype = DType::fp8;
  s.routing = Routing::parse("even");  // the closed forms; the step's draw on top: OneStepsDraw... below
  const std::int64_t row = 7168, fp8_row = 7168 + 56 * 4;  // fp8 tokens carry a float32 scale per 128 values
  const auto step = [&](bool decode, bool normal = false) {
    MoeStep out;
    Scenario t = s;
    t.normal_all_to_all = normal;
    const Graph g = build_step_graph(ds, t, decode, decode ? 257 : 0, FusionPolicy::vllm(), rank_roles(ds, t)[0].part);
    for (const auto& n : g.nodes) {
      const std::string name = n.op.label.substr(n.op.label.rfind('.') + 1);
      if (name == "moe_dispatch") out.dispatch = n.op.m;
      if (name == "moe_combine") out.combine = n.op.m;
    }
    return out;
  };
  const auto sized = [](std::int64_t bytes) { return (bytes + 31) / 32 * 32; };  // alltoall rounds to 4 x ep
  const MoeStep pre = step(false), dec = step(true);
  EXPECT_EQ(pre.dispatch, sized(1859 * fp8_row));
  EXPECT_EQ(pre.combine, sized(1859 * row * 2));
  EXPECT_EQ(dec.dispatch, sized(64 * fp8_row));
  EXPECT_EQ(dec.combine, sized(64 * row * 2));
  // A serving iteration with a prefill runs the normal kernels for its decode tokens too (SGLang's
  // --deepep-mode auto): 64 tokens over the group, ceil(64 x 3.6290 / 8) = 30 per rank.
  const MoeStep mixed = step(true, true);
  EXPECT_EQ(mixed.dispatch, sized(30 * fp8_row));
  EXPECT_EQ(mixed.combine, sized(30 * row * 2));
}

// One step's draw (sample_step). E[max of n standard normals]: 1/sqrt(pi) for two, 3/(2 sqrt(pi)) for
// three (closed forms), 1.4236 for eight and 2.2491 for 50 (Harter 1961, "Expected values of normal
// order statistics", Biometrika 48).
TEST(ExpertPlacement, ExpectedMaximumOfNormals) {
  EXPECT_EQ(expected_max_normal(1), 0.0);
  EXPECT_NEAR(expected_max_normal(2), 1.0 / std::sqrt(M_PI), 1e-6);
  EXPECT_NEAR(expected_max_normal(3), 1.5 / std::sqrt(M_PI), 1e-6);
  EXPECT_NEAR(expected_max_normal(8), 1.4236, 1e-4);
  EXPECT_NEAR(expected_max_normal(50), 2.2491, 1e-4);
}

namespace {
// Monte Carlo of DeepSeek-V3's router with uniform scores: a token picks `g` of 8 groups (all 8 when
// g = 8), then 8 distinct experts among the chosen groups' 32 each. The rows each of `ep` ranks (256/ep
// consecutive experts) receives in each of `steps` steps of `tokens` tokens.
std::vector<std::vector<int>> routed_steps(int tokens, int ep, int g, int steps) {
  std::mt19937_64 rng(20261203);
  std::vector<std::vector<int>> out;
  std::vector<int> groups(8), pool;
  std::iota(groups.begin(), groups.end(), 0);
  for (int st = 0; st < steps; ++st) {
    std::vector<int> load(static_cast<size_t>(ep), 0);
    for (int t = 0; t < tokens; ++t) {
      std::shuffle(groups.begin(), groups.end(), rng);
      pool.clear();
      for (int j = 0; j < g; ++j)
        for (int e = 0; e < 32; ++e) pool.push_back(groups[static_cast<size_t>(j)] * 32 + e);
      for (int j = 0; j < 8; ++j) {  // partial Fisher-Yates: 8 distinct experts of the pool
        std::uniform_int_distribution<size_t> pick(static_cast<size_t>(j), pool.size() - 1);
        std::swap(pool[static_cast<size_t>(j)], pool[pick(rng)]);
        ++load[static_cast<size_t>(pool[static_cast<size_t>(j)] / (256 / ep))];
      }
    }
    out.push_back(load);
  }
  return out;
}
}  // namespace

// The per-token variance of a rank's rows and the busiest rank's expected rows, against a simulated
// router (400 steps of 512 tokens over 8 ranks, and over 4 ranks for two whole groups per rank): the
// closed forms within the Monte Carlo's own error (variance within 10%, the busiest rank's mean
// within 1%).
TEST(ExpertPlacement, StepsDrawMatchesASimulatedRouter) {
  for (int g : {8, 4})
    for (int ep : {8, 4}) {
      const RouterShape r{256, 8, 8, g};
      const auto steps = routed_steps(512, ep, g, 400);
      // Every rank's count about its mean 512 x 8 / ep (the same law on each): steps x ep samples.
      double sq = 0, busiest = 0;
      for (const auto& l : steps) {
        for (int c : l) sq += (c - 4096.0 / ep) * (c - 4096.0 / ep);
        busiest += *std::max_element(l.begin(), l.end());
      }
      const double n = static_cast<double>(steps.size()), var = sq / (n * ep);
      const double per_token = token_rows_variance(r, 256.0 / ep);
      EXPECT_NEAR(var / 512.0, per_token, 0.1 * per_token) << "g " << g << " ep " << ep;
      ExpertPlacement p = place_experts(std::vector<std::int64_t>(256, 16), ep, 0);  // 512 x 8 rows
      sample_step(p, 512, r);
      EXPECT_NEAR(static_cast<double>(p.max_rank_rows()), busiest / n, 0.01 * busiest / n) << "g " << g << " ep " << ep;
    }
  // Group limits concentrate a token's picks: DeepSeek-V3 over 8 ranks, 1.709 rows^2 instead of 0.851.
  EXPECT_NEAR(token_rows_variance({256, 8, 8, 4}, 32), 1.709, 1e-3);
  EXPECT_NEAR(token_rows_variance({256, 8, 1, 1}, 32), 0.851, 1e-3);
}

// DeepSeek-V3 at --dp 8 --ep 8 (the step of PrefillDispatchesOncePerRankDecodePerExpert, uniform
// routing with its draw): decode's 64 tokens x 8 picks give each rank 64 rows expected, the busiest
// 64 + 1.4236 sqrt(64 x 1.709) = 78.9 -> 79; prefill's 4096 tokens reach a rank with q = 3.629/8, the
// busiest 4096 q + 1.4236 sqrt(4096 q (1 - q)) = 1903.4 -> 1904 tokens. Rank 0 is the busiest, the
// others give its rows back: the step's routed rows are unchanged.
TEST(ExpertPlacement, OneStepsDrawMakesTheBusiestRankItsExpectedMaximum) {
  const ModelConfig ds = load_model("deepseek-v3");
  Scenario s = test::layout_scenario(64, 1, 8, 1, 8);
  s.input_len = 64;
  s.adtype = DType::fp8;
  const std::int64_t row = 7168 + 56 * 4;  // fp8 tokens with their float32 scales per 128 values
  const auto sized = [](std::int64_t bytes) { return (bytes + 31) / 32 * 32; };
  EXPECT_EQ(moe_step(ds, s, 3).dispatch, sized(79 * row));
  std::int64_t routed = 0;
  for (int r = 0; r < 8; ++r) {
    const auto rows = moe_step(ds, s, r).rows;
    const std::int64_t here = std::accumulate(rows.begin(), rows.end(), std::int64_t{0});
    if (r == 0) EXPECT_EQ(here, 79);
    else EXPECT_LE(here, 64);
    routed += here;
  }
  EXPECT_EQ(routed, 64 * 8);
  const Graph g = build_step_graph(ds, s, false, 0, FusionPolicy::vllm(), rank_roles(ds, s)[0].part);
  for (const auto& n : g.nodes)
    if (n.op.label.find("moe_dispatch") != std::string::npos) { EXPECT_EQ(n.op.m, sized(1904 * row)); }
  // `even`: every rank exactly its share, as before the draw was simulated.
  s.routing = Routing::parse("even");
  EXPECT_EQ(moe_step(ds, s, 0).dispatch, sized(64 * row));
  EXPECT_EQ(s.routing.str(), "even");
  EXPECT_EQ(Routing::parse("uniform").str(), "uniform");
}

// Uniform routing drawn per step over EP ranks: a rank's rows go to the experts the step's tokens reach, its total
// (the draw's) unchanged. DeepSeek-V3 (256 experts, top-8) over 8 ranks, 64 tokens: 32 (1 - (248/256)^64) = 27.8 ->
// 28 of a rank's 32 experts; with 2 replicas of an expert each replica is reached with 1 - (1 - 4/256)^64.
TEST(ExpertPlacement, ReachedRowsKeepTheRankTotalOnTheExpertsTheStepReaches) {
  const RouterShape r{256, 8, 1, 1};
  ExpertPlacement p = place_experts(std::vector<std::int64_t>(256, 2), 8, 0);
  auto active = [](const std::vector<std::int64_t>& v) { return std::count_if(v.begin(), v.end(), [](std::int64_t x) { return x > 0; }); };
  for (int rank = 0; rank < 8; ++rank) {
    const auto rows = p.reached_rows(rank, 64, r);
    EXPECT_EQ(std::accumulate(rows.begin(), rows.end(), std::int64_t{0}), p.rank_rows(rank));
    EXPECT_EQ(active(rows), 28);
  }
  // A rank's rows above its tokens need more experts than the reach gives (a token picks an expert once).
  EXPECT_EQ(active(p.reached_rows(0, 16, r)), 13);  // 32 (1 - (248/256)^16) = 12.75
  EXPECT_EQ(active(p.reached_rows(0, 2, r)), 32);   // 64 rows of 2 tokens: 2 reached, but at least 64 / 2
  ExpertPlacement one = place_experts(spread_rows(8, 256, 256), 8, 0);  // one token's 8 picks, one per rank
  EXPECT_EQ(one.reached_rows(3, 1, r), one.group_rows(3));
  EXPECT_EQ(spread_rows(8, 8, 5), (std::vector<std::int64_t>{2, 2, 0, 1, 2, 0, 1, 0}));
  EXPECT_EQ(spread_rows(0, 4, 2), (std::vector<std::int64_t>{0, 0, 0, 0}));
}
