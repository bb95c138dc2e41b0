// Data-parallel attention's group of schedulers (run_group_engine) and its step (ChipStepTime::group):
// even ranks give the folded run of one rank, uneven ones no faster a step, a load-aware controller a
// more even load than round robin, and one rank's prompt work holds the ranks that only decode.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/interconnect/system_spec.h"
#include "sim/run/registry.h"
#include "sim/serve/engine.h"
#include "sim/serve/scheduler.h"
#include "sim/serve/serve.h"
#include "sim/serve/step_time.h"

namespace xpu {
namespace {

std::string model_path(const char* name) { return source_dir() + "/tests/data/models/" + name + ".json"; }

// 1 ms per iteration plus 10 us per token and 1 ns per cached key read, 200 kernels (host dispatch).
StepCost fake(const StepShape& s) {
  StepCost c;
  c.time_s = 1e-3 + 1e-5 * static_cast<double>(s.tokens()) + 1e-9 * static_cast<double>(s.decode_kv_sum + s.prefill_kv_sum);
  c.events.time_s = c.time_s;
  c.kernels = 200;
  return c;
}
// The group's step on the fake: the slowest rank's, the others' wait reported.
StepCost fake_group(const std::vector<StepShape>& ranks) {
  StepCost out;
  std::vector<double> t;
  for (const StepShape& r : ranks) {
    const StepCost c = fake(r);
    t.push_back(c.time_s);
    if (c.time_s > out.time_s) out = c;
  }
  for (double x : t) out.rank_wait_s += (out.time_s - x) / static_cast<double>(t.size());
  return out;
}

std::vector<RequestDraw> varied(std::int64_t n) {
  std::vector<RequestDraw> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back({1000 + 137 * (i % 11), 10 + 23 * ((i * 7) % 17), 0});
  return v;
}

struct Group {
  std::vector<std::unique_ptr<Scheduler>> own;
  std::vector<Scheduler*> ranks;
  Group(const std::string& name, int n) {
    for (int i = 0; i < n; ++i) ranks.push_back(own.emplace_back(make_scheduler(name, {})).get());
  }
};

// Ranks loaded exactly alike (a closed loop of users that divides among them, requests of one length)
// run as the one rank that the serving study folded them into before: same iterations, same clock,
// the same latencies, R times the tokens.
TEST(DpAttention, EvenRanksRunAsTheFoldedRank) {
  for (const std::string name : {"vllm", "sglang", "trtllm"}) {
    const int R = 4;
    Group g(name, R);
    auto one = make_scheduler(name, {});
    const std::vector<RequestDraw> reqs(64, RequestDraw{300, 40, 0});
    const EngineResult folded = run_engine(std::vector<RequestDraw>(16, RequestDraw{300, 40, 0}), {EngineLoad::Kind::Closed, 3}, *one, 4000, fake);
    const EngineResult group = run_group_engine(reqs, {EngineLoad::Kind::Closed, 3 * R}, g.ranks, 4000, fake_group,
                                                DpAttention::Dispatch::RoundRobin);
    EXPECT_EQ(group.iterations, folded.iterations) << name;
    EXPECT_DOUBLE_EQ(group.makespan_s, folded.makespan_s) << name;
    EXPECT_DOUBLE_EQ(group.host_wait_s, folded.host_wait_s) << name;
    EXPECT_EQ(group.output_tokens, R * folded.output_tokens) << name;
    EXPECT_DOUBLE_EQ(percentile(group.ttft_s, 0.5), percentile(folded.ttft_s, 0.5)) << name;
    EXPECT_DOUBLE_EQ(percentile(group.tpot_s, 0.9), percentile(folded.tpot_s, 0.9)) << name;
    EXPECT_DOUBLE_EQ(group.kv_mean, folded.kv_mean) << name;
    EXPECT_EQ(group.dp.ranks, R);
    EXPECT_DOUBLE_EQ(group.dp.tokens_max_sum, group.dp.tokens_mean_sum) << name;
    EXPECT_EQ(group.dp.wait_s, 0) << name;
    EXPECT_EQ(group.dp.idle_rank_steps, 0) << name;
    // And a group of one rank is run_engine itself.
    Group solo(name, 1);
    const EngineResult alone = run_group_engine(std::vector<RequestDraw>(16, RequestDraw{300, 40, 0}), {EngineLoad::Kind::Closed, 3},
                                                solo.ranks, 4000, fake_group, DpAttention::Dispatch::ShortestQueue);
    EXPECT_DOUBLE_EQ(alone.makespan_s, folded.makespan_s) << name;
    EXPECT_EQ(alone.dp.ranks, 0) << name;
  }
}

// Requests of different lengths arriving at random below the group's capacity: round robin sends each to
// the next rank whatever it holds, so the ranks' requests drift apart; sending each to the rank that holds
// the fewest requests (shortest_queue) keeps their counts level, and to the one holding the fewest tokens
// (minimum_tokens) their contexts, so the others wait less for the slowest rank and requests finish sooner.
// The step is decode-heavy (long contexts read at 0.1 us per key) and the slowest rank's.
TEST(DpAttention, LoadAwareDispatchBalancesBetterThanRoundRobin) {
  auto group_step = [](const std::vector<StepShape>& ranks) {
    StepCost out;
    std::vector<double> t;
    for (const StepShape& r : ranks) {
      t.push_back(1e-3 + 1e-6 * static_cast<double>(r.tokens()) + 1e-7 * static_cast<double>(r.decode_kv_sum + r.prefill_kv_sum));
      out.time_s = std::max(out.time_s, t.back());
    }
    for (double x : t) out.rank_wait_s += (out.time_s - x) / static_cast<double>(t.size());
    out.events.time_s = out.time_s;
    return out;
  };
  for (double gap : {0.012, 0.016}) {
    for (const std::string name : {"vllm", "sglang"}) {
      EngineResult r[3];
      int i = 0;
      for (auto d : {DpAttention::Dispatch::RoundRobin, DpAttention::Dispatch::ShortestQueue, DpAttention::Dispatch::MinimumTokens}) {
        Group g(name, 4);
        std::vector<RequestDraw> reqs = varied(2000);
        std::mt19937_64 rng(7);
        std::exponential_distribution<double> next(1 / gap);
        double t = 0;
        for (RequestDraw& q : reqs) q.arrival_s = t += next(rng);
        r[i++] = run_group_engine(reqs, {EngineLoad::Kind::Open, 0}, g.ranks, 100000, group_step, d);
      }
      auto held = [](const EngineResult& e) { return e.dp.held_max_sum / e.dp.held_mean_sum; };
      auto wait = [](const EngineResult& e) { return e.dp.wait_s / e.busy_s; };
      const std::string what = name + " at one request per " + std::to_string(gap) + " s";
      EXPECT_GT(held(r[0]), 1.05) << what;
      EXPECT_LT(held(r[1]), held(r[0])) << what;
      EXPECT_LT(wait(r[2]), wait(r[0])) << what;
      EXPECT_LT(percentile(r[2].e2e_s, 0.5), percentile(r[0].e2e_s, 0.5)) << what;
      if (gap < 0.015) {
        EXPECT_LT(percentile(r[1].e2e_s, 0.5), percentile(r[0].e2e_s, 0.5)) << what;
      }
      EXPECT_EQ(r[0].output_tokens, r[1].output_tokens) << what;
    }
  }
}

// A rank that has nothing runs an idle batch while the others work: with fewer users than ranks some
// ranks idle every iteration, and the step is the busy ranks' (the fake: no faster than one rank's).
TEST(DpAttention, RanksWithoutRequestsRunIdleBatches) {
  Group g("sglang", 4);
  auto one = make_scheduler("sglang", {});
  const std::vector<RequestDraw> reqs(8, RequestDraw{300, 40, 0});
  const EngineResult group = run_group_engine(reqs, {EngineLoad::Kind::Closed, 2}, g.ranks, 4000, fake_group, DpAttention::Dispatch::RoundRobin);
  const EngineResult alone = run_engine(std::vector<RequestDraw>(8, RequestDraw{300, 40, 0}), {EngineLoad::Kind::Closed, 2}, *one, 4000, fake);
  EXPECT_EQ(group.output_tokens, alone.output_tokens);
  EXPECT_GT(group.dp.idle_rank_steps, 0);
  EXPECT_GT(group.dp.wait_s, 0);
}

TEST(DpAttention, ControllerPoliciesAreNamedAsSglangNamesThem) {
  for (const char* name : {"round_robin", "shortest_queue", "minimum_tokens"}) EXPECT_STREQ(dp_dispatch_name(dp_dispatch(name)), name);
  EXPECT_THROW(dp_dispatch("least_loaded"), InputError);
}

class DpAttentionStep : public ::testing::Test {
 protected:
  void SetUp() override {
    m = load_model(model_path("deepseek-v2-lite"));
    chip = load_chip("h100-sxm");
    sc.wdtype = sc.adtype = sc.kvdtype = DType::fp8;
    sc.tp = 1, sc.ep = 8, sc.dp = 8;
    sys.emplace(SystemContext{load_system("hgx-h100x8", {}, 1)});
  }
  static StepShape decode(std::int64_t seqs, std::int64_t context) {
    StepShape s;
    s.decode_seqs = s.logit_rows = seqs;
    s.decode_kv_sum = seqs * context;
    return s;
  }
  ModelConfig m;
  std::unique_ptr<ChipModel> chip;
  Scenario sc;
  std::optional<SystemContext> sys;
};

// Every rank with the same batch: the step the colocated run took before (each part runs it on every
// rank). The same tokens split unevenly over the ranks: no faster (the MoE sees the same tokens, the
// slowest rank's attention and per-rank kernels more), and the others wait for it.
TEST_F(DpAttentionStep, EvenRanksAreTheFoldedStepAndUnevenOnesNoFaster) {
  ChipStepTime st(*chip, m, sc, false, &*sys);
  const StepShape even = decode(16, 600);
  const StepCost folded = st(even);
  const StepCost same = st.group(std::vector<StepShape>(8, even));
  EXPECT_DOUBLE_EQ(same.time_s, folded.time_s);
  EXPECT_EQ(same.rank_wait_s, 0);
  std::vector<StepShape> uneven;
  for (int r = 0; r < 8; ++r) uneven.push_back(decode(r < 4 ? 24 : 8, 600));
  const StepCost skew = st.group(uneven);
  EXPECT_GT(skew.time_s, folded.time_s);
  EXPECT_GT(skew.rank_wait_s, 0);
  // The slowest rank's own batch (24 on every rank) costs more still: its MoE would see 1.5x the tokens.
  EXPECT_LT(skew.time_s, st(decode(24, 600)).time_s);
  // Longer contexts on one rank only: its attention alone sets the step.
  std::vector<StepShape> long_one(8, even);
  long_one[3] = decode(16, 4000);
  EXPECT_GT(st.group(long_one).time_s, folded.time_s);
}

// One rank prefilling a prompt while seven decode (SGLang runs a rank's prompt batch apart from its
// decodes): the decode ranks wait for it, so the step is longer than all decoding and longer than the
// decode ranks' own work; a group where every rank is idle but one decoding is faster still.
TEST_F(DpAttentionStep, OneRankPrefillingHoldsTheDecodingRanks) {
  ChipStepTime st(*chip, m, sc, false, &*sys);
  const StepShape dec = decode(16, 600);
  StepShape prompt;
  prompt.prefill_chunks = 1, prompt.prefill_tokens = prompt.prefill_kv_sum = 1024, prompt.logit_rows = 1;
  std::vector<StepShape> held(8, dec);
  held[0] = prompt;
  const StepCost all_decode = st.group(std::vector<StepShape>(8, dec));
  const StepCost with_prompt = st.group(held);
  EXPECT_GT(with_prompt.time_s, all_decode.time_s);
  EXPECT_GT(with_prompt.rank_wait_s, 0);
  std::vector<StepShape> idle(8, StepShape{});
  idle[0] = dec;
  const StepCost lone = st.group(idle);
  EXPECT_GT(lone.time_s, 0);
  EXPECT_LT(lone.time_s, all_decode.time_s);
}

}  // namespace
}  // namespace xpu
