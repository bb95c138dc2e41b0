// The serving engine's schedulers alone, on a made-up step-time function: token budget, no starvation,
// preemption frees exactly its blocks, Little's law in steady state, admission against the KV capacity.
#include <gtest/gtest.h>

#include <numeric>

#include "sim/base/error.h"
#include "sim/serve/engine.h"
#include "sim/serve/scheduler.h"

namespace xpu {
namespace {

std::vector<RequestDraw> fixed(std::int64_t n, std::int64_t input, std::int64_t output) {
  return std::vector<RequestDraw>(static_cast<size_t>(n), RequestDraw{input, output, 0});
}

// 1 ms per iteration plus 10 us per token and 1 ns per cached key read: the shape of a real step.
StepCost fake(const StepShape& s) {
  StepCost c;
  c.time_s = 1e-3 + 1e-5 * static_cast<double>(s.tokens()) + 1e-9 * static_cast<double>(s.decode_kv_sum + s.prefill_kv_sum);
  c.events.time_s = c.time_s;
  return c;
}

TEST(ServeScheduler, TokenBudgetIsRespectedEveryIteration) {
  for (const std::string name : {"vllm", "sglang", "trtllm"}) {
    SchedulerLimits l;
    l.token_budget = 96;
    l.max_seqs = 32;
    auto sched = make_scheduler(name, l);
    std::int64_t most = 0;
    StepTimeFn fn = [&](const StepShape& s) {
      most = std::max(most, s.tokens());
      EXPECT_LE(s.tokens(), 96) << name;
      return fake(s);
    };
    EngineResult r = run_engine(fixed(40, 200, 20), {EngineLoad::Kind::Offline, 0}, *sched, 4000, fn);
    EXPECT_EQ(r.requests, 40) << name;
    EXPECT_EQ(r.output_tokens, 40 * 20) << name;
    EXPECT_EQ(most, 96) << name << ": the budget is filled when work is waiting";
  }
}

TEST(ServeScheduler, OnlySglangKeepsPrefillAndDecodeApart) {
  for (const std::string name : {"vllm", "sglang", "trtllm"}) {
    auto sched = make_scheduler(name, {});
    bool mixed = false;
    StepTimeFn fn = [&](const StepShape& s) {
      mixed = mixed || (s.prefill_tokens > 0 && s.decode_seqs > 0);
      return fake(s);
    };
    // A closed loop of 8 users with answers of different lengths: new prompts arrive while others decode.
    std::vector<RequestDraw> reqs = fixed(64, 300, 40);
    for (size_t i = 0; i < reqs.size(); ++i) reqs[i].output = 20 + static_cast<std::int64_t>(i % 17);
    run_engine(reqs, {EngineLoad::Kind::Closed, 8}, *sched, 100000, fn);
    EXPECT_EQ(mixed, sched->mixes_prefill_and_decode()) << name;
  }
}

TEST(ServeScheduler, NoRequestStarvesEvenUnderPreemption) {
  // A cache too small for all the running requests' growth: vLLM and SGLang preempt, yet every
  // request finishes, and FCFS keeps the first arrival's wait below the last one's.
  for (const std::string name : {"vllm", "sglang", "trtllm"}) {
    auto sched = make_scheduler(name, {});
    std::vector<RequestDraw> reqs = fixed(60, 100, 200);
    const std::int64_t blocks = 1920 / sched->block_tokens();  // 1920 tokens: 6 whole requests
    EngineResult r = run_engine(reqs, {EngineLoad::Kind::Offline, 0}, *sched, blocks, fake);
    EXPECT_EQ(r.requests, 60) << name;
    EXPECT_EQ(r.ttft_s.size(), 60u);
    for (double t : r.ttft_s) EXPECT_GT(t, 0);
    if (name != "trtllm") EXPECT_GT(r.preemptions, 0) << name;
    else EXPECT_EQ(r.preemptions, 0) << "GUARANTEED_NO_EVICT never pauses a request";
    EXPECT_EQ(r.occupancy.back().kv_used, 0.0) << name << ": every block comes back";
  }
}

TEST(ServeScheduler, PreemptionFreesExactlyItsBlocks) {
  SchedState st;
  st.kv = KvBlockPool(100, 16);
  Sequence a, b;
  a.input = 50;
  b.input = 33;
  ASSERT_TRUE(st.kv.grow(a, 50));  // 4 blocks
  ASSERT_TRUE(st.kv.grow(b, 33));  // 3 blocks
  a.computed = 50;
  b.computed = 33;
  st.running = {&a, &b};
  EXPECT_EQ(st.kv.free(), 93);
  st.preempt(&b);
  EXPECT_EQ(st.kv.free(), 96);
  EXPECT_EQ(b.blocks, 0);
  EXPECT_EQ(b.computed, 0);
  EXPECT_EQ(a.blocks, 4);
  ASSERT_EQ(st.waiting.size(), 1u);
  EXPECT_EQ(st.waiting.front(), &b);
  EXPECT_EQ(st.preemptions, 1);
  EXPECT_FALSE(st.kv.grow(a, 50 + 97 * 16));  // no partial allocation on failure
  EXPECT_EQ(st.kv.free(), 96);
}

TEST(ServeScheduler, LittlesLawHoldsInSteadyState) {
  // Open loop below capacity: the time-average number of requests in the system equals the arrival
  // rate times the mean time in the system.
  RequestSpec spec;
  spec.rate = 20;
  spec.input = LengthDist::fixed(200);
  spec.output = LengthDist::parse("--output", "uniform:20:60");
  spec.seed = 7;
  ModelConfig m;
  m.name = "fake";
  m.max_position = 4096;
  std::vector<RequestDraw> reqs = draw_requests(spec, 2000, m);
  auto sched = make_scheduler("vllm", {});
  EngineResult r = run_engine(reqs, {EngineLoad::Kind::Open, 0}, *sched, 100000, fake);
  const double mean_w = std::accumulate(r.e2e_s.begin(), r.e2e_s.end(), 0.0) / static_cast<double>(r.e2e_s.size());
  const double lambda = static_cast<double>(r.requests) / r.makespan_s;
  const double L = r.in_system_s / r.makespan_s;
  EXPECT_NEAR(L / (lambda * mean_w), 1.0, 0.05);
  EXPECT_NEAR(lambda, 20.0, 2.0);
}

TEST(ServeScheduler, NoEvictAdmitsOnlyWhatTheCacheHoldsForWholeRequests) {
  // 10 blocks of 32 tokens; each request needs 50 + 30 = 80 tokens = 3 blocks for its whole life,
  // so TensorRT-LLM's capacity scheduler runs at most 3 at once.
  auto sched = make_scheduler("trtllm", {});
  EngineResult r = run_engine(fixed(12, 50, 30), {EngineLoad::Kind::Offline, 0}, *sched, 10, fake);
  EXPECT_EQ(r.max_running, 3);
  EXPECT_EQ(r.requests, 12);
  // vLLM allocates as sequences grow: more start at once, and it has to preempt some.
  auto v = make_scheduler("vllm", {});
  EngineResult rv = run_engine(fixed(12, 50, 30), {EngineLoad::Kind::Offline, 0}, *v, 20, fake);  // 20 x 16 tokens
  EXPECT_GT(rv.max_running, 3);
}

TEST(ServeScheduler, ClosedLoopKeepsConcurrencyUsersBusy) {
  auto sched = make_scheduler("vllm", {});
  EngineResult r = run_engine(fixed(64, 100, 50), {EngineLoad::Kind::Closed, 8}, *sched, 100000, fake);
  EXPECT_EQ(r.requests, 64);
  EXPECT_EQ(r.max_running, 8);
  EXPECT_THROW(run_engine(fixed(4, 10, 10), {EngineLoad::Kind::Closed, 0}, *sched, 100, fake), InputError);
}

TEST(ServeScheduler, RequestLargerThanTheCacheIsAnInputError) {
  auto sched = make_scheduler("trtllm", {});
  EXPECT_THROW(run_engine(fixed(1, 1000, 100), {EngineLoad::Kind::Offline, 0}, *sched, 10, fake), InputError);
  EXPECT_THROW(make_scheduler("vlm", {}), InputError);
}

}  // namespace
}  // namespace xpu
