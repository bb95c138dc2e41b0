// Data-parallel attention's group of schedulers (run_group_engine) and its step (ChipStepTime::group):
// even ranks give the folded run of one rank, uneven ones no faster a step, a load-aware controller a
// more even load than round robin, and one rank's prompt work holds the ranks that only decode; a
// disaggregated pool's groups step as colocated serving's do (run_disagg_engine over RankGroup).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <random>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/interconnect/system_spec.h"
#include "sim/run/registry.h"
#include "sim/serve/disagg.h"
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

// Decode requests for a disaggregated run: eight prompts of 100 tokens, each `outputs[i]` tokens long.
std::vector<RequestDraw> answers(const std::vector<std::int64_t>& outputs) {
  std::vector<RequestDraw> v;
  for (std::int64_t o : outputs) v.push_back({100, o, 0});
  return v;
}
double fixed_transfer(const KvTransfer&) { return 2e-3; }
double no_bytes(std::int64_t t) { return static_cast<double>(t); }

// A disaggregated decode pool of four one-rank replicas in one data-parallel attention group: loaded evenly
// (every rank the same answers at the same time) it runs exactly as the four independent instances the pool
// was before (the group's step is each rank's), with no rank waiting; the same answers split unevenly over
// the ranks (the long ones on two ranks) take longer, and the short ranks wait for the long ones.
TEST(DpAttention, DisaggregatedDecodeGroupEvenIsTheInstancesUnevenWaits) {
  auto sched = [] { return make_scheduler("vllm", {}); };
  const DisaggInstances apart{1, 4, 100000, 100000};
  DisaggInstances group = apart;
  group.decode_ranks = 4;
  const std::vector<RequestDraw> even = answers({41, 41, 41, 41, 41, 41, 41, 41});
  const DisaggEngineResult a = run_disagg_engine(even, {EngineLoad::Kind::Offline, 0}, sched, apart, one_rank(fake), one_rank(fake), no_bytes,
                                                 fixed_transfer);
  const DisaggEngineResult g = run_disagg_engine(even, {EngineLoad::Kind::Offline, 0}, sched, group, one_rank(fake), fake_group, no_bytes,
                                                 fixed_transfer);
  EXPECT_DOUBLE_EQ(g.total.makespan_s, a.total.makespan_s);
  EXPECT_DOUBLE_EQ(percentile(g.total.tpot_s, 0.5), percentile(a.total.tpot_s, 0.5));
  EXPECT_DOUBLE_EQ(percentile(g.total.ttft_s, 0.9), percentile(a.total.ttft_s, 0.9));
  EXPECT_EQ(4 * g.decode_iterations, a.decode_iterations);
  EXPECT_EQ(g.decode_dp.ranks, 4);
  EXPECT_EQ(g.decode_dp.wait_s, 0);
  EXPECT_DOUBLE_EQ(g.decode_dp.tokens_max_sum, g.decode_dp.tokens_mean_sum);
  // Round robin places answer i on rank i mod 4: ranks 0 and 1 get the long ones (the same tokens in all).
  const std::vector<RequestDraw> uneven = answers({71, 71, 11, 11, 71, 71, 11, 11});
  const DisaggEngineResult u = run_disagg_engine(uneven, {EngineLoad::Kind::Offline, 0}, sched, group, one_rank(fake), fake_group,
                                                 no_bytes, fixed_transfer);
  EXPECT_EQ(u.total.output_tokens, g.total.output_tokens);
  EXPECT_GT(u.total.makespan_s, g.total.makespan_s);
  EXPECT_GT(u.decode_dp.wait_s, 0);
  EXPECT_GT(u.decode_dp.tokens_max_sum, u.decode_dp.tokens_mean_sum);
  EXPECT_GT(u.decode_dp.idle_rank_steps, 0);  // the short ranks idle once their answers are done
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

// The disaggregated decode pool's iterations on the chip model: each is ChipStepTime::group of the ranks'
// own batches, the step colocated serving takes for those batches; where the ranks' batches differ it is
// slower than the lightest rank's own step (what that replica took before, timed as if every rank ran its
// batch), and the pool loaded unevenly takes longer than the even one with the same tokens to answer.
TEST_F(DpAttentionStep, DisaggregatedDecodePoolStepsAsTheColocatedGroup) {
  ChipStepTime st(*chip, m, sc, true, &*sys);
  std::vector<std::pair<std::vector<StepShape>, double>> steps;
  const GroupStepFn dstep = [&](const std::vector<StepShape>& ranks) {
    const StepCost c = st.group(ranks);
    steps.emplace_back(ranks, c.time_s);
    return c;
  };
  auto sched = [] { return make_scheduler("vllm", {}); };
  DisaggInstances pools{1, 8, 100000, 100000};
  pools.decode_ranks = 8;
  auto run = [&](std::int64_t answers_of, std::int64_t tokens) {
    steps.clear();
    return run_disagg_engine(answers(std::vector<std::int64_t>(static_cast<size_t>(answers_of), tokens)), {EngineLoad::Kind::Offline, 0},
                             sched, pools, one_rank(fake), dstep, no_bytes, fixed_transfer);
  };
  // 144 tokens to answer: 16 answers of 9 (two on every rank), or 12 of 12 (round robin: two on ranks 0-3,
  // one on ranks 4-7).
  const DisaggEngineResult even = run(16, 9);
  const DisaggEngineResult uneven = run(12, 12);
  EXPECT_EQ(uneven.total.output_tokens, even.total.output_tokens);
  EXPECT_GT(uneven.total.makespan_s, even.total.makespan_s);
  int mixed = 0;
  auto by_keys = [](const StepShape& a, const StepShape& b) { return a.decode_kv_sum < b.decode_kv_sum; };
  for (const auto& [ranks, t] : steps) {
    EXPECT_DOUBLE_EQ(t, st.group(ranks).time_s);
    std::vector<StepShape> busy;
    for (const StepShape& r : ranks)
      if (r.decode_seqs > 0) busy.push_back(r);
    if (busy.empty()) continue;
    const StepShape light = *std::min_element(busy.begin(), busy.end(), by_keys);
    const StepShape heavy = *std::max_element(busy.begin(), busy.end(), by_keys);
    if (light.decode_seqs >= heavy.decode_seqs) continue;
    ++mixed;
    EXPECT_GT(t, st(light).time_s);
  }
  EXPECT_GT(mixed, 0);
}

// A prompt on one rank while the others idle, on a fabric slowed until the expert all-to-alls dominate:
// DeepEP's normal dispatch carries each rank's own tokens and ends with the largest sender's, so the lone
// prompt's all-to-alls cost what they cost with that prompt on every rank (sized at the ranks' mean they
// would cost an eighth of it), while the expert GEMMs and the attention of the others stay off its step.
TEST_F(DpAttentionStep, PromptDispatchIsSizedByTheLargestSender) {
  sys.emplace(SystemContext{load_system("hgx-h100x8", {"scale_up.link.bandwidth=1GB/s"}, 1)});
  ChipStepTime st(*chip, m, sc, false, &*sys);
  StepShape prompt;
  prompt.prefill_chunks = 1, prompt.prefill_tokens = prompt.prefill_kv_sum = 1024, prompt.logit_rows = 1;
  std::vector<StepShape> lone(8, StepShape{});
  lone[0] = prompt;
  const double everywhere = st.group(std::vector<StepShape>(8, prompt)).time_s;
  const double alone = st.group(lone).time_s;
  EXPECT_LE(alone, everywhere);
  EXPECT_GT(alone, 0.8 * everywhere);
}

}  // namespace
}  // namespace xpu
