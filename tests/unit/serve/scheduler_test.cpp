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
  for (const std::string name : {"vllm", "sglang", "sglang-jax", "trtllm"}) {
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
  for (const std::string name : {"vllm", "sglang", "sglang-jax", "trtllm"}) {
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
  for (const std::string name : {"vllm", "sglang", "sglang-jax", "trtllm"}) {
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

// SGLang's prefill budget counts a request's tokens rounded up to whole pages with the pool's own block count
// (it repeated blocks_for in a lambda of its own until QA session 41).
TEST(ServeScheduler, BlockRoundedTokensAreTheWholeBlocksTheyTake) {
  const KvBlockPool pages(100, 16), tokens(100, 1);
  for (std::int64_t n : {1, 15, 16, 17, 33, 1000}) {
    EXPECT_EQ(pages.block_rounded(n), pages.blocks_for(n) * 16) << n;
    EXPECT_EQ(pages.block_rounded(n) % 16, 0) << n;
    EXPECT_LT(pages.block_rounded(n) - n, 16) << n;
    EXPECT_EQ(tokens.block_rounded(n), n) << n;
  }
  EXPECT_EQ(pages.block_rounded(0), 0);
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

TEST(ServeScheduler, OfferedLoadIsTheArrivalsAsDrawn) {
  // Requests over the window to the last arrival, and the drawn lengths over the same window (QA session 43).
  const std::vector<RequestDraw> draws = {{100, 10, 0.5}, {300, 30, 1.5}, {200, 20, 2.0}};
  const OfferedLoad o = offered_load(draws);
  EXPECT_EQ(o.requests, 3);
  EXPECT_DOUBLE_EQ(o.window_s, 2.0);
  EXPECT_DOUBLE_EQ(o.requests_per_s, 1.5);
  EXPECT_DOUBLE_EQ(o.input_tok_s, 300.0);
  EXPECT_DOUBLE_EQ(o.output_tok_s, 30.0);
  EXPECT_EQ(offered_load({{100, 10, 0}, {100, 10, 0}}).requests, 0);  // no arrival times: no offered load
  EXPECT_DOUBLE_EQ(o.times(4).requests_per_s, 6.0);
  EXPECT_EQ(o.times(4).requests, 12);
  // A Poisson draw of few requests strays from its rate; of many it converges on it.
  RequestSpec spec;
  spec.rate = 4;
  ModelConfig m;
  m.name = "fake";
  m.max_position = 4096;
  EXPECT_NEAR(offered_load(draw_requests(spec, 20000, m)).requests_per_s, 4.0, 0.1);
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

TEST(ServeScheduler, SharedPrefixBlocksAreCountedOnceAndFreedWithTheLastHolder) {
  SchedState st;
  st.kv = KvBlockPool(100, 16);
  Sequence a, b, c;
  a.input = b.input = 100;
  c.input = 40;
  a.prefix = b.prefix = 64;  // 4 shared blocks
  c.prefix = 32;             // the first 2 of them
  a.computed = b.computed = 64;
  c.computed = 32;
  ASSERT_TRUE(st.kv.grow(a, 100));  // 4 shared + 3 own
  EXPECT_EQ(st.kv.used(), 7);
  ASSERT_TRUE(st.kv.grow(b, 100));  // 3 own; the prefix is already there
  EXPECT_EQ(st.kv.used(), 10);
  ASSERT_TRUE(st.kv.grow(c, 40));  // 1 own (blocks 0-1 shared, block 2 its own)
  EXPECT_EQ(st.kv.used(), 11);
  EXPECT_EQ(st.kv.shared(), 4);
  st.running = {&a, &b, &c};
  st.preempt(&b);  // frees exactly its own blocks: others still hold the prefix
  EXPECT_EQ(st.kv.used(), 8);
  EXPECT_EQ(b.computed, 64) << "the prefix hits again when it is readmitted";
  st.preempt(&a);
  EXPECT_EQ(st.kv.used(), 3) << "c holds 2 shared blocks and 1 of its own";
  EXPECT_EQ(st.kv.shared(), 2);
  st.kv.release(c);
  EXPECT_EQ(st.kv.used(), 0);
  // No partial allocation: a sequence whose prefix and own blocks do not fit takes nothing.
  SchedState small;
  small.kv = KvBlockPool(5, 16);
  Sequence d;
  d.prefix = 64;
  d.computed = 64;
  EXPECT_FALSE(small.kv.grow(d, 100));
  EXPECT_EQ(small.kv.used(), 0);
  EXPECT_EQ(d.shared, 0);
}

TEST(ServeScheduler, PrefixHitsSkipTheirPrefillAndRaiseThroughput) {
  // The fake step costs per token: each hit token is one less token prefilled, monotonically.
  for (const std::string name : {"vllm", "sglang", "trtllm"}) {
    double last_ttft = 1e30, last_tput = 0;
    for (double hit : {0.0, 0.25, 0.5, 0.75, 0.95}) {
      auto sched = make_scheduler(name, {});
      EngineFeatures f;
      f.prefix_hit = hit;
      // 4 users: their prompts fit one iteration's budget, so TTFT is the prefill itself, not batching luck.
      EngineResult r = run_engine(fixed(64, 1024, 32), {EngineLoad::Kind::Closed, 4}, *sched, 100000, fake, f);
      const std::int64_t bt = sched->block_tokens();
      const std::int64_t prefix = std::min<std::int64_t>(static_cast<std::int64_t>(hit * 1024), 1023) / bt * bt;
      EXPECT_EQ(r.prefill_tokens, 64 * (1024 - prefix)) << name << " " << hit;
      EXPECT_EQ(r.output_tokens, 64 * 32);
      const double ttft = std::accumulate(r.ttft_s.begin(), r.ttft_s.end(), 0.0) / 64;
      const double tput = static_cast<double>(r.output_tokens) / r.makespan_s;
      EXPECT_LT(ttft, last_ttft) << name << " " << hit;
      EXPECT_GT(tput, last_tput) << name << " " << hit;
      last_ttft = ttft;
      last_tput = tput;
      EXPECT_EQ(r.occupancy.back().kv_used, 0.0) << name << ": the shared prefix is freed with its last holder";
    }
  }
}

TEST(ServeScheduler, SpeculativeDecodingEmitsTheExpectedTokensPerStep) {
  for (const std::string name : {"vllm", "sglang", "trtllm"}) {
    for (double a : {0.0, 0.3, 0.6, 0.9}) {
      auto sched = make_scheduler(name, {});
      EngineFeatures f;
      f.spec_tokens = 3;
      f.spec_accept = a;
      std::int64_t most = 0;
      StepTimeFn fn = [&](const StepShape& s) {
        most = std::max(most, s.verify_tokens / std::max<std::int64_t>(1, s.verify_seqs));
        EXPECT_EQ(s.logit_rows, s.prefill_chunks + s.decode_seqs + s.verify_tokens);
        return fake(s);
      };
      EngineResult r = run_engine(fixed(8, 64, 3001), {EngineLoad::Kind::Offline, 0}, *sched, 100000, fn, f);
      const double expect = 1 + a + a * a + a * a * a;  // 1 + sum_{i=1..3} a^i
      EXPECT_EQ(r.output_tokens, 8 * 3001) << name;
      // The answers' last steps have fewer drafts; over 3000 tokens that moves the mean by < 0.5%.
      EXPECT_NEAR(static_cast<double>(r.decode_tokens) / static_cast<double>(r.decode_steps), expect, 0.005 * expect) << name << " " << a;
      EXPECT_EQ(most, 4) << name << ": each step verifies the last token and 3 drafts";
      EXPECT_EQ(r.occupancy.back().kv_used, 0.0);
    }
  }
}

TEST(ServeScheduler, SpeculationWithNoAcceptanceIsNoFasterThanPlainDecode) {
  // Verification costs K + 1 tokens per sequence and emits 1 when nothing is accepted.
  auto plain_s = make_scheduler("vllm", {});
  EngineResult plain = run_engine(fixed(16, 128, 200), {EngineLoad::Kind::Closed, 4}, *plain_s, 100000, fake);
  auto spec_s = make_scheduler("vllm", {});
  EngineFeatures f;
  f.spec_tokens = 4;
  f.spec_accept = 0;
  EngineResult spec = run_engine(fixed(16, 128, 200), {EngineLoad::Kind::Closed, 4}, *spec_s, 100000, fake, f);
  EXPECT_EQ(spec.decode_tokens, spec.decode_steps);
  EXPECT_GE(spec.makespan_s, plain.makespan_s);
  f.spec_accept = 0.8;
  auto good_s = make_scheduler("vllm", {});
  EngineResult good = run_engine(fixed(16, 128, 200), {EngineLoad::Kind::Closed, 4}, *good_s, 100000, fake, f);
  EXPECT_LT(good.makespan_s, plain.makespan_s);
}

TEST(ServeScheduler, TokenBudgetCountsTheDrafts) {
  SchedulerLimits l;
  l.token_budget = 40;
  auto sched = make_scheduler("vllm", l);
  EngineFeatures f;
  f.spec_tokens = 4;
  f.spec_accept = 0.5;
  StepTimeFn fn = [&](const StepShape& s) {
    EXPECT_LE(s.tokens(), 40);
    return fake(s);
  };
  EngineResult r = run_engine(fixed(30, 20, 50), {EngineLoad::Kind::Offline, 0}, *sched, 100000, fn, f);
  EXPECT_EQ(r.output_tokens, 30 * 50);
  EXPECT_THROW(run_engine(fixed(2, 20, 5), {EngineLoad::Kind::Offline, 0}, *sched, 100, fake, EngineFeatures{1.0, 0, 0}),
               InputError);
  EXPECT_THROW(run_engine(fixed(2, 20, 5), {EngineLoad::Kind::Offline, 0}, *sched, 100, fake, EngineFeatures{0, 2, 1.5}),
               InputError);
}

// The host's launch cost of eager iterations (HostLaunch): a mixed iteration waits for the host's
// kernel dispatch where that exceeds the GPU's time, a generation-only one within the captured graph
// sizes does not, and 0 per kernel gives the GPU's time alone.
TEST(ServeScheduler, EagerIterationsWaitForTheHostsDispatchGraphedOnesDoNot) {
  StepShape mixed, decode, big;
  mixed.prefill_tokens = 100;
  mixed.prefill_chunks = 1;
  mixed.decode_seqs = 8;
  decode.decode_seqs = 8;
  big.decode_seqs = 64;
  StepCost gpu;
  gpu.time_s = gpu.events.time_s = 1e-3;
  gpu.kernels = 500;  // 500 x 10 us = 5 ms of dispatch
  const HostLaunch h{10.0, 16, {}};
  EXPECT_DOUBLE_EQ(h.bound(gpu, mixed).time_s, 5e-3);
  EXPECT_DOUBLE_EQ(h.bound(gpu, mixed).events.time_s, 5e-3);
  EXPECT_DOUBLE_EQ(h.bound(gpu, decode).time_s, 1e-3);  // a captured graph: one launch
  EXPECT_DOUBLE_EQ(h.bound(gpu, big).time_s, 5e-3);     // beyond the largest captured batch: eager
  gpu.kernels = 50;                                     // 0.5 ms of dispatch: the GPU binds
  EXPECT_DOUBLE_EQ(h.bound(gpu, mixed).time_s, 1e-3);
  gpu.kernels = 500;
  EXPECT_DOUBLE_EQ(HostLaunch{}.bound(gpu, mixed).time_s, 1e-3);  // not modelled: today's time
  EXPECT_DOUBLE_EQ((HostLaunch{0.0, 16, {}}).bound(gpu, big).time_s, 1e-3);
}

TEST(ServeScheduler, TrtllmPytorchBackendPaysHostDispatchOnlyInIterationsWithPrompts) {
  // TensorRT-LLM's PyTorch backend: graphs for generation-only batches, eager otherwise.
  auto sched = make_scheduler("trtllm", {});
  const HostLaunch h = sched->host_launch();
  EXPECT_GT(h.us_per_kernel, 0);
  EXPECT_GE(h.graph_max_batch, 2048);
  EXPECT_EQ(make_scheduler("vllm", {})->host_launch().us_per_kernel, 0);  // not modelled there
  // The same run with steps of 2000 kernels (host 23 ms, above the few ms of GPU time) and of none:
  // the run is longer by the host's excess in exactly the iterations that carry a prompt.
  // The executor's per-iteration framework work set to zero (its own test below): the dispatch alone.
  SchedulerLimits no_work;
  no_work.host_fixed_us = no_work.host_us_per_request = 0;
  for (const double kernels : {0.0, 2000.0}) {
    std::int64_t eager = 0;
    double excess = 0;
    StepTimeFn fn = [&](const StepShape& s) {
      StepCost c = fake(s);
      c.kernels = kernels;
      if (s.prefill_chunks > 0) {
        ++eager;
        excess += std::max(0.0, kernels * h.us_per_kernel * 1e-6 - c.time_s);
      }
      return c;
    };
    auto fresh = make_scheduler("trtllm", no_work);
    // A closed loop of 4 users: a new prompt joins the others' decodes (mixed iterations of ~3 ms).
    EngineResult r = run_engine(fixed(40, 200, 20), {EngineLoad::Kind::Closed, 4}, *fresh, 4000, fn);
    double gpu = 0;
    auto again = make_scheduler("trtllm", no_work);
    run_engine(fixed(40, 200, 20), {EngineLoad::Kind::Closed, 4}, *again, 4000, [&](const StepShape& s) {
      gpu += fake(s).time_s;
      return fake(s);
    });
    EXPECT_GT(eager, 0);
    EXPECT_NEAR(r.makespan_s, gpu + excess, 1e-9) << kernels;
    EXPECT_NEAR(r.host_wait_s, excess, 1e-9) << kernels;
    EXPECT_EQ(r.eager_iterations, eager) << kernels;
    if (kernels > 0) EXPECT_GT(r.makespan_s, gpu + 0.02);
    else EXPECT_DOUBLE_EQ(r.makespan_s, gpu);
  }
}

// sglang-jax's static shapes (scheduler_sglang.cpp, sgl-project/sglang-jax tp_worker.py): a decode batch runs
// the program of the next batch padding (powers of two up to min(max_running_requests, the token padding's
// largest)), a prefill the program of the next token padding (powers of two from 64 and from that batch
// size up to min(16384, chunked_prefill_size), 4096 by default); SGLang's own scheduler pads nothing.
TEST(ServeScheduler, SglangJaxPadsDecodeBatchesAndPrefillTokensToItsCompiledSizes) {
  SchedulerLimits l;
  l.max_seqs = 64;  // the cookbook's --max-running-requests 64, chunked_prefill_size left at its default
  const HostLaunch h = make_scheduler("sglang-jax", l)->launch();
  EXPECT_EQ(h.graph_batches, (std::vector<std::int64_t>{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(h.token_buckets, (std::vector<std::int64_t>{64, 128, 256, 512, 1024, 2048, 4096}));
  EXPECT_TRUE(h.work.overlapped);
  StepShape decode;
  decode.decode_seqs = decode.logit_rows = 13;
  decode.decode_kv_sum = 13 * 300;
  const StepShape d = h.padded(decode);
  EXPECT_EQ(d.padding_rows, 3);  // 13 -> 16, the LM head too
  EXPECT_EQ(d.logit_rows, 16);
  StepShape prefill;
  prefill.prefill_chunks = prefill.logit_rows = 2;
  prefill.prefill_tokens = prefill.prefill_kv_sum = 300;
  const StepShape p = h.padded(prefill);
  EXPECT_EQ(p.tokens(), 512);  // 300 -> 512 tokens through every per-token kernel
  EXPECT_EQ(p.logit_rows, 2);  // the padding samples nothing
  EXPECT_EQ(p.prefill_tokens, 300);
  EXPECT_EQ(p.padding_tokens, 212);
  EXPECT_EQ(p.padding_rows, 0);  // no dummy sequences
  prefill.prefill_tokens = 4096;
  EXPECT_EQ(h.padded(prefill).padding_tokens, 0);
  // --chunked-prefill-size 2048 and --max-running-requests 256 (the 70B cookbook row): no token padding
  // below the batch padding's 256.
  l.max_seqs = 256;
  l.token_budget = 2048;
  const HostLaunch h70 = make_scheduler("sglang-jax", l)->launch();
  EXPECT_EQ(h70.token_buckets, (std::vector<std::int64_t>{256, 512, 1024, 2048}));
  EXPECT_EQ(h70.graph_batches.back(), 256);
  const HostLaunch gpu = make_scheduler("sglang", l)->launch();
  EXPECT_TRUE(gpu.graph_batches.empty());
  EXPECT_TRUE(gpu.token_buckets.empty());
  EXPECT_EQ(gpu.padded(prefill).padding_tokens, 0);
  // The same load through both: the padded one is never faster, and both finish every request.
  auto jax = make_scheduler("sglang-jax", {}), plain = make_scheduler("sglang", {});
  const EngineResult a = run_engine(fixed(40, 300, 20), {EngineLoad::Kind::Closed, 5}, *jax, 4000, fake);
  const EngineResult b = run_engine(fixed(40, 300, 20), {EngineLoad::Kind::Closed, 5}, *plain, 4000, fake);
  EXPECT_GT(a.makespan_s, b.makespan_s);
}

// The framework's per-iteration host work (HostWork): fixed + per running request; overlapped with the GPU's
// step it binds only beyond the step (max), otherwise the GPU idles through it (added).
TEST(ServeScheduler, FrameworkHostWorkIsHiddenWhenOverlappedAndAddedOtherwise) {
  StepShape decode;
  decode.decode_seqs = 8;
  StepCost gpu;
  gpu.time_s = gpu.events.time_s = 5e-3;
  const HostWork overlapped{1000, 100, true}, serial{1000, 100, false};
  EXPECT_DOUBLE_EQ(overlapped.seconds(20), 3e-3);
  EXPECT_DOUBLE_EQ((HostLaunch{0, 0, {}, overlapped}).bound(gpu, decode, 20).time_s, 5e-3);  // hidden below the step
  EXPECT_DOUBLE_EQ((HostLaunch{0, 0, {}, overlapped}).bound(gpu, decode, 60).time_s, 7e-3);  // binds beyond it
  EXPECT_DOUBLE_EQ((HostLaunch{0, 0, {}, serial}).bound(gpu, decode, 20).time_s, 8e-3);      // always added
  EXPECT_DOUBLE_EQ((HostLaunch{0, 0, {}, serial}).bound(gpu, decode, 60).time_s, 12e-3);
  EXPECT_DOUBLE_EQ((HostLaunch{0, 0, {}, serial}).bound(gpu, decode, 60).events.time_s, 12e-3);  // the chip idles
  // Beside an eager dispatch the host does both in turn: overlapped max(GPU, dispatch + work), else
  // max(GPU, dispatch) + work.
  StepShape mixed = decode;
  mixed.prefill_chunks = 1;
  gpu.kernels = 400;  // 400 x 10 us = 4 ms of dispatch
  EXPECT_DOUBLE_EQ((HostLaunch{10.0, 16, {}, overlapped}).bound(gpu, mixed, 20).time_s, 7e-3);
  EXPECT_DOUBLE_EQ((HostLaunch{10.0, 16, {}, serial}).bound(gpu, mixed, 20).time_s, 8e-3);
  // Zero figures, overlapped or not: the step as before, with or without dispatch.
  for (const bool o : {true, false}) {
    EXPECT_DOUBLE_EQ((HostLaunch{0, 0, {}, HostWork{0, 0, o}}).bound(gpu, mixed, 1000).time_s, 5e-3);
    EXPECT_DOUBLE_EQ((HostLaunch{10.0, 16, {}, HostWork{0, 0, o}}).bound(gpu, mixed, 1000).time_s,
                     (HostLaunch{10.0, 16, {}}).bound(gpu, mixed).time_s);
  }
}

TEST(ServeScheduler, HostWorkGrowsWithRunningRequestsAndZeroFiguresReproduceTheGpuTime) {
  // Each policy's figures (their sources beside them): all three overlap the work with the GPU's step.
  for (const std::string name : {"vllm", "sglang", "trtllm"}) EXPECT_TRUE(make_scheduler(name, {})->launch().work.overlapped) << name;
  EXPECT_DOUBLE_EQ(make_scheduler("trtllm", {})->launch().work.us_per_request, 27.5);
  EXPECT_DOUBLE_EQ(make_scheduler("trtllm", {})->launch().work.fixed_us, 2880);
  EXPECT_DOUBLE_EQ(make_scheduler("vllm", {})->launch().work.us_per_request, 21.5);
  EXPECT_DOUBLE_EQ(make_scheduler("sglang", {})->launch().work.seconds(1000), 0);
  for (const std::string name : {"vllm", "sglang", "trtllm"}) {
    // Zero figures: every iteration takes the GPU's time exactly, nothing waits.
    SchedulerLimits zero;
    zero.host_fixed_us = zero.host_us_per_request = 0;
    auto sched = make_scheduler(name, zero);
    double gpu = 0;
    EngineResult r = run_engine(fixed(64, 100, 30), {EngineLoad::Kind::Closed, 16}, *sched, 4000, [&](const StepShape& s) {
      gpu += fake(s).time_s;
      return fake(s);
    });
    EXPECT_DOUBLE_EQ(r.makespan_s, gpu) << name;
    EXPECT_EQ(r.host_wait_s, 0) << name;
    EXPECT_EQ(r.host_bound_iterations, 0) << name;
    // 40 us per running request against fake steps of 1 ms + 10 us per token: hidden at 16 users (0.64 ms
    // of host work), binding at 64 (2.6 ms) and more at 128 (5.1 ms); the more users the engine holds, the
    // larger the GPU's wait and each user's time per token.
    std::vector<double> shares, tpots;
    for (const std::int64_t users : {16, 64, 128}) {
      SchedulerLimits l;
      l.host_fixed_us = 0;
      l.host_us_per_request = 40;
      auto busy = make_scheduler(name, l), idle = make_scheduler(name, zero);
      EngineResult with = run_engine(fixed(256, 100, 30), {EngineLoad::Kind::Closed, users}, *busy, 8000, fake);
      EngineResult without = run_engine(fixed(256, 100, 30), {EngineLoad::Kind::Closed, users}, *idle, 8000, fake);
      EXPECT_GE(with.makespan_s, without.makespan_s) << name << users;
      EXPECT_NEAR(with.host_wait_s, with.makespan_s - without.makespan_s, 1e-9) << name << users;
      EXPECT_GT(with.host_busy_s, 0) << name << users;
      shares.push_back(with.host_wait_s / with.makespan_s);
      tpots.push_back(percentile(with.tpot_s, 0.5) - percentile(without.tpot_s, 0.5));  // the host's share of a token's time
    }
    EXPECT_EQ(shares[0], 0) << name;
    EXPECT_DOUBLE_EQ(tpots[0], 0) << name;
    EXPECT_GT(shares[1], 0) << name;
    EXPECT_GT(shares[2], shares[1]) << name;
    EXPECT_GT(tpots[1], 0) << name;
    EXPECT_GT(tpots[2], tpots[1]) << name;
  }
}

// CUDA-graph padding (HostLaunch::padded): a generation-only iteration runs as the smallest captured
// size that holds it, the dummy rows in every per-token kernel and the LM head but not in attention;
// an iteration with a prompt, or without captured sizes, runs as it is. TensorRT-LLM captures the
// listed sizes up to min(max_batch_size, max_num_tokens) and that bound itself.
TEST(ServeScheduler, GenerationOnlyIterationsRunAsTheNextCapturedGraphSize) {
  StepShape decode, mixed;
  decode.decode_seqs = 5;
  decode.decode_kv_sum = 500;
  decode.logit_rows = 5;
  mixed = decode;
  mixed.prefill_tokens = 100;
  mixed.prefill_chunks = 1;
  const HostLaunch h{10.0, 16, {1, 2, 4, 8, 16}};
  const StepShape p = h.padded(decode);
  EXPECT_EQ(p.padding_rows, 3);
  EXPECT_EQ(p.tokens(), 8);
  EXPECT_EQ(p.logit_rows, 8);
  EXPECT_EQ(p.decode_seqs, 5);         // attention: the real sequences only
  EXPECT_EQ(p.decode_kv_sum, 500);
  EXPECT_EQ(h.padded(mixed).tokens(), mixed.tokens());  // eager: no graph, no padding
  decode.decode_seqs = 8;
  EXPECT_EQ(h.padded(decode).padding_rows, 0);          // a captured size
  EXPECT_EQ((HostLaunch{10.0, 16, {}}).padded(decode).padding_rows, 0);

  SchedulerLimits l;
  l.max_seqs = 1280;
  l.token_budget = 2304;
  const HostLaunch t = make_scheduler("trtllm", l)->host_launch();
  ASSERT_GE(t.graph_batches.size(), 2u);
  EXPECT_EQ(t.graph_batches[t.graph_batches.size() - 2], 1024);
  EXPECT_EQ(t.graph_batches.back(), 1280);
  EXPECT_EQ(t.graph_max_batch, 1280);
  l.token_budget = 512;  // max_num_tokens binds: a pure-decode batch holds at most 512 requests
  EXPECT_EQ(make_scheduler("trtllm", l)->host_launch().graph_batches.back(), 512);

  // In a run, 3 decoding requests are stepped as a graph of 4.
  auto sched = make_scheduler("trtllm", {});
  std::int64_t padded = 0;
  run_engine(fixed(3, 50, 10), {EngineLoad::Kind::Offline, 0}, *sched, 1000, [&](const StepShape& s) {
    if (s.prefill_chunks == 0) {
      EXPECT_EQ(s.tokens(), 4);
      padded += s.padding_rows;
    }
    return fake(s);
  });
  EXPECT_EQ(padded, 9);  // 9 generation-only iterations, one dummy row each
}

// sglang-jax's per-iteration page table (scheduler_sglang.cpp; sgl-project/sglang-jax schedule_batch.py
// _merge_cache_loc): the host gathers each scheduled request's row of req_to_token and fills a fresh table of
// (batch padding) x max_req_len int32 slots, then device_puts it, every iteration, so its host time grows with
// the model's context rather than with the tokens held; overlapped, an iteration takes max(device, host).
TEST(ServeScheduler, SglangJaxHostBuildsAPageTableOfTheModelsContextEachIteration) {
  SchedulerLimits l;
  l.max_seqs = 64;  // the 8B cookbook row: batch paddings 1 .. 64
  l.page_tokens = 128;  // its --page-size 128: the attention backend's bound (128 at 128K) stays above 64
  auto sched = make_scheduler("sglang-jax", l);
  StepShape decode;
  decode.decode_seqs = decode.logit_rows = 13;
  decode.decode_kv_sum = 13 * 400;
  StepShape prefill;
  prefill.prefill_chunks = prefill.logit_rows = 2;
  prefill.prefill_tokens = prefill.prefill_kv_sum = 300;
  EXPECT_EQ(sched->launch().table_slots(decode), 0) << "no context given: no table";
  sched->set_context_tokens(131072);  // Llama-3.1's context, below the KV pool
  const HostLaunch h = sched->launch();
  EXPECT_EQ(h.table_row_tokens, 131072);
  EXPECT_DOUBLE_EQ(h.table_slots(decode), (16 + 13) * 131072.0);   // padded rows + the requests' gathered rows
  EXPECT_DOUBLE_EQ(h.table_slots(prefill), (64 + 2) * 131072.0);  // an EXTEND batch: the largest batch padding
  // A 5 ms device step of 13 sequences: the host's 7.5 ms (250 us + 29 x 131072 slots at 1.9 ns) binds.
  StepCost c;
  c.time_s = 5e-3;
  const double host = 250e-6 + 1.9e-9 * 29 * 131072;
  EXPECT_NEAR(h.host_s(decode, 0, 13), host, 1e-12);
  EXPECT_NEAR(h.bound(c, decode, 13).time_s, host, 1e-12);
  // The same batch with an 8x shorter context: the host's ~1.2 ms hides under the device step.
  sched->set_context_tokens(16384);
  EXPECT_NEAR(sched->launch().bound(c, decode, 13).time_s, 5e-3, 1e-15);
  // SGLang's GPU scheduler builds no such table (a page table of the tokens held, not modelled).
  l.page_tokens = 0;  // a page size is sglang-jax's alone
  auto gpu = make_scheduler("sglang", l);
  gpu->set_context_tokens(131072);
  EXPECT_EQ(gpu->launch().table_slots(decode), 0);
  EXPECT_NEAR(gpu->launch().bound(c, decode, 13).time_s, 5e-3, 1e-15);
}

// sglang-jax's running requests (scheduler_sglang.cpp; sgl-project/sglang-jax tp_worker.py ModelWorker.__init__,
// model_runner.py init_memory_pool, flashattention_backend.py get_max_running_reqests): min(--max-running-requests
// or KV tokens // 2, the request pool, 1024 x 1024 // 2 // ceil(context_len / page_size) // 4).
TEST(ServeScheduler, SglangJaxBoundsRunningRequestsByItsAttentionBackendsPageIndexBudget) {
  const auto running = [](SchedulerLimits l, std::int64_t context, std::int64_t kv) {
    auto s = make_scheduler("sglang-jax", l);
    s->set_context_tokens(context, kv);
    return s->limits().max_seqs;
  };
  SchedulerLimits def;
  EXPECT_EQ(running(def, 131072, 500000), 1);  // page 1 at 128K: 524288 // 131072 // 4
  EXPECT_EQ(running(def, 32768, 500000), 4);
  EXPECT_EQ(running(def, 2048, 500000), 64);
  EXPECT_EQ(running(def, 2048, 60), 30);  // a small KV pool: its tokens // 2
  SchedulerLimits paged;
  paged.page_tokens = 128;
  EXPECT_EQ(running(paged, 32768, 1 << 22), 512);  // sglang-jax issue #477's log: context 32768, page 128 -> 512
  EXPECT_EQ(running(paged, 131072, 1 << 22), 128);
  EXPECT_EQ(running(paged, 2048, 1 << 22), 4097);  // the request pool: min(max(2^22 / 2048 x 512, 2048), 4096) + 1
  paged.max_seqs = 64;  // the 8B cookbook row: given, below the backend's 128
  EXPECT_EQ(running(paged, 131072, 1 << 22), 64);
  paged.max_seqs = 256;  // the 70B cookbook row: the backend's 128 binds
  EXPECT_EQ(running(paged, 131072, 1 << 22), 128);
  EXPECT_EQ(make_scheduler("sglang-jax", paged)->block_tokens(), 128);  // pages of 128 KV tokens
  EXPECT_EQ(make_scheduler("sglang-jax", def)->block_tokens(), 1);
  EXPECT_THROW(make_scheduler("sglang", paged), InputError);  // only sglang-jax takes a page size
  // The batch paddings follow: one request, one row of the page table.
  auto s = make_scheduler("sglang-jax", def);
  s->set_context_tokens(131072, 500000);
  EXPECT_EQ(s->launch().graph_max_batch, 1);
}

// The logits buffer is sized before the KV pool, so by the rows the scheduler can run at the model's context:
// sglang-jax pads an iteration's batch (and its LogitsProcessor's rows) to at most max_padded_batch_size =
// min(max_running_requests, max_padded_num_tokens), the attention backend bounding the first (QA session 39: serve
// sized fp32 logits for a given --max-seqs 100000 on tpu-v6e, 51 GB, and refused a server that runs one request).
TEST(ServeScheduler, SglangJaxLogitsRowsAreItsPaddedBatchAtTheModelsContext) {
  SchedulerLimits l;
  l.max_seqs = 100000;
  EXPECT_EQ(make_scheduler("sglang-jax", l)->logits_rows(131072), 1);  // page 1 at 128K: the backend's 1
  EXPECT_EQ(make_scheduler("sglang-jax", l)->logits_rows(2048), 64);
  EXPECT_EQ(make_scheduler("sglang-jax", l)->logits_rows(0), 4096);  // context unknown: max_padded_num_tokens (chunk 4096)
  EXPECT_EQ(make_scheduler("sglang-jax", {})->logits_rows(0), 4096);
  l.page_tokens = 128;
  EXPECT_EQ(make_scheduler("sglang-jax", l)->logits_rows(131072), 128);
  l.max_seqs = 64;
  EXPECT_EQ(make_scheduler("sglang-jax", l)->logits_rows(131072), 64);  // given below the backend's bound
  // The rows never exceed what the run then settles on before the pool binds it further.
  auto s = make_scheduler("sglang-jax", l);
  const std::int64_t rows = s->logits_rows(131072);
  s->set_context_tokens(131072, 1 << 22);
  EXPECT_LE(s->limits().max_seqs, rows);
  // Other policies: the given --max-seqs.
  SchedulerLimits v;
  v.max_seqs = 300;
  EXPECT_EQ(make_scheduler("vllm", v)->logits_rows(131072), 300);
  EXPECT_EQ(make_scheduler("sglang", v)->logits_rows(131072), 300);
}

// sglang-jax runs no forward pass beyond its largest compiled token padding, max_padded_num_tokens =
// min(max_prefill_tokens 16384, chunked_prefill_size) (sgl-project/sglang-jax tp_worker.py get_max_padded_size;
// schedule_batch.py find_padding_size fails beyond it): a --token-budget above 16384 schedules 16384 tokens an
// iteration, the largest bucket with it, and SGLang on GPUs keeps the budget given (QA session 39: serve sized
// sglang-jax's activations for the whole budget while its padding caps an iteration lower).
TEST(ServeScheduler, SglangJaxRunsNoIterationBeyondItsLargestTokenPadding) {
  SchedulerLimits l;
  l.token_budget = 32768;
  auto jax = make_scheduler("sglang-jax", l), plain = make_scheduler("sglang", l);
  EXPECT_EQ(jax->limits().token_budget, 16384);
  EXPECT_EQ(jax->launch().token_buckets.back(), 16384);
  EXPECT_EQ(plain->limits().token_budget, 32768);
  for (Scheduler* s : {jax.get(), plain.get()}) {
    std::int64_t most = 0;
    bool unpadded = false;
    const HostLaunch h = s->launch();
    const StepTimeFn step = [&](const StepShape& shape) {
      most = std::max(most, shape.tokens());
      if (shape.prefill_chunks > 0 && !h.token_buckets.empty())
        unpadded |= !std::binary_search(h.token_buckets.begin(), h.token_buckets.end(), h.padded(shape).tokens());
      return fake(shape);
    };
    // Short prompts that several fill one prefill batch, and prompts longer than either budget (chunked).
    run_engine(fixed(40, 3000, 4), {EngineLoad::Kind::Closed, 40}, *s, 1 << 20, step);
    run_engine(fixed(3, 40000, 4), {EngineLoad::Kind::Closed, 3}, *s, 1 << 20, step);
    EXPECT_EQ(most, s->limits().token_budget);
    EXPECT_FALSE(unpadded);  // every prompt iteration runs a compiled padding
  }
  l.token_budget = 16384;
  EXPECT_EQ(make_scheduler("sglang-jax", l)->limits().token_budget, 16384);
  l.token_budget = 2048;  // below it: the budget given (the 70B cookbook row's --chunked-prefill-size 2048)
  EXPECT_EQ(make_scheduler("sglang-jax", l)->limits().token_budget, 2048);
}

// SGLang's PrefillAdder (scheduler_sglang.cpp; sgl-project/sglang-jax@038c7307 schedule_policy.py, SGLang's through
// v0.5): the chunk (--token-budget, chunked_prefill_size) and max_prefill_tokens (16384) are two budgets. A first
// request runs whole up to the chunk; another joins only while its prompt is below what is left of
// max_prefill_tokens, so a batch of several requests stops there whatever the chunk (QA session 39: a --token-budget
// above 16384 ran in full), and a prompt at or above what is left waits for the next batch instead of being chunked.
TEST(ServeScheduler, SglangSplitsABudgetAbove16384AsItsTwoPrefillBudgetsDo) {
  const auto prefill = [](std::int64_t budget, std::vector<std::int64_t> prompts) {
    SchedulerLimits l;
    l.token_budget = budget;
    auto sched = make_scheduler("sglang", l);
    SchedState st;
    st.kv = KvBlockPool(1 << 22, 1);
    std::vector<Sequence> seqs(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      seqs[i].input = prompts[i];
      seqs[i].output = 8;
      st.waiting.push_back(&seqs[i]);
    }
    std::vector<std::int64_t> taken;
    for (const ScheduledWork& w : sched->schedule(st)) taken.push_back(w.tokens);
    return taken;
  };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(prefill(32768, V(10, 3000)), V(5, 3000));            // 15,000: a sixth is not below the 1,384 left
  EXPECT_EQ(prefill(32768, {40000, 3000}), V{32768});            // a first request: up to the chunk
  EXPECT_EQ(prefill(32768, {20000, 3000}), V{20000});            // whole, above 16384; nothing joins it
  EXPECT_EQ(prefill(8192, {3000, 3000, 3000}), (V{3000, 3000, 2192}));  // below 16384 the chunk binds: the third is split
  EXPECT_EQ(prefill(16384, {10000, 10000}), V{10000});           // the second is not below the 6,384 left: it waits
  EXPECT_EQ(prefill(16384, {10000, 4000, 9000}), (V{10000, 4000}));
}

// Admission against the KV cache left (PrefillAdder.add_one_req, rem_total_tokens): a new request needs its prompt
// plus min(its output, 4096) below the free tokens less the running requests' new_token_ratio share of their output
// to come and less what the batch already took in full (prompt + min(output, 4096)).
TEST(ServeScheduler, SglangAdmitsARequestOnlyWithinTheRemainingTotalBudget) {
  auto sched = make_scheduler("sglang", {});
  SchedState st;
  st.kv = KvBlockPool(10000, 1);
  Sequence a, b, c;
  a.input = 1000, a.output = 5000;  // reserves 1000 + 4096 (CLIP_MAX_NEW_TOKENS): 4904 left
  b.input = 1000, b.output = 3800;  // 4800 < 4904: admitted (without the clip it would not be)
  c.input = 100, c.output = 10;     // 110 >= the 104 left: waits
  st.waiting = {&a, &b, &c};
  const Batch batch = sched->schedule(st);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].seq, &a);
  EXPECT_EQ(batch[1].seq, &b);
  EXPECT_EQ(st.waiting.front(), &c);
}

// The decode reservation: a running request holds back new_token_ratio x its output to come, the ratio starting at
// 0.7 and decaying each decode step by (0.7 - 0.098) / 600 to 0.098; the server's idling resets it to 0.7.
TEST(ServeScheduler, SglangDecodeReservationDecaysWithDecodeStepsAndResetsWhenIdle) {
  // A decoding request r that reserves ratio x its 1999 tokens to come, and a waiting w of 1000 + 1791 tokens.
  struct Server {
    SchedState st;
    Sequence r, w;
    Server() {
      st.kv = KvBlockPool(5000, 1);
      r.input = 1000, r.output = 2000, r.generated = 1, r.computed = 1000;
      EXPECT_TRUE(st.kv.grow(r, 1001));  // its next token's slot too: 3999 free whatever the steps
      st.running = {&r};
      w.input = 1000, w.output = 1791;  // 2791 >= 3999 - 0.7 x 1999: waits
      st.waiting = {&w};
    }
  };
  auto sched = make_scheduler("sglang", {});
  Server a;
  int steps = 0;
  for (; steps < 700 && !a.st.waiting.empty(); ++steps) {
    const Batch b = sched->schedule(a.st);
    if (!a.st.waiting.empty()) { ASSERT_TRUE(b.size() == 1 && b[0].seq == &a.r && b[0].tokens == 1); }  // a decode step
  }
  // Admitted once 2791 < 3999 - 1999 x (0.7 - k x 0.7 x 0.86 / 600): after k = 96 decode steps.
  EXPECT_EQ(steps - 1, 96);
  // Idle: nothing to run, the ratio returns to 0.7, and the same request waits again (at the decayed ratio it would
  // be admitted).
  SchedState idle;
  idle.kv = KvBlockPool(5000, 1);
  EXPECT_TRUE(sched->schedule(idle).empty());
  Server again;
  const Batch b = sched->schedule(again.st);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].seq, &again.r);
  EXPECT_EQ(again.st.waiting.front(), &again.w);
}

// retract_decode (sgl-project/sglang-jax@0001b0c6 schedule_batch.py): when a decode step finds no room, the requests
// with the fewest generated tokens go first (the longest prompt among equals), until the pool holds 20 tokens per
// remaining request; each goes to the back of the waiting queue, its KV freed.
TEST(ServeScheduler, SglangRetractsTheLeastAdvancedLongestPromptFirstToTheBackOfTheQueue) {
  auto sched = make_scheduler("sglang", {});
  SchedState st;
  st.kv = KvBlockPool(97, 1);
  Sequence p, q, s, w;
  p.input = 30, p.output = 100, p.generated = 5, p.computed = 34;
  q.input = 20, q.output = 100, q.generated = 2, q.computed = 21;
  s.input = 40, s.output = 100, s.generated = 2, s.computed = 41;
  w.input = 500, w.output = 10;  // too large to admit: it keeps its place at the front
  for (Sequence* x : {&p, &q, &s}) ASSERT_TRUE(st.kv.grow(*x, x->computed));
  st.running = {&p, &q, &s};
  st.waiting = {&w};
  ASSERT_EQ(st.kv.free(), 1);  // three decode tokens do not fit
  const Batch b = sched->schedule(st);
  ASSERT_EQ(b.size(), 2u);  // 42 free after s: 20 for each of the two left
  EXPECT_EQ(b[0].seq, &p);
  EXPECT_EQ(b[1].seq, &q);
  ASSERT_EQ(st.waiting.size(), 2u);
  EXPECT_EQ(st.waiting.front(), &w);
  EXPECT_EQ(st.waiting.back(), &s);
  EXPECT_EQ(s.blocks, 0);
  EXPECT_EQ(st.preemptions, 1);
}

// chunked_prefill_size by the GPU's memory (sgl-project/sglang@469c63e5 server_args.py), and max_running_requests
// from the KV pool when not given: min(KV tokens // 2, min(max(KV tokens / context x 512, 2048), 4096) + 1).
TEST(ServeScheduler, SglangDefaultsFollowTheGpusMemoryAndTheKvPool) {
  const double mib = 1024.0 * 1024.0;
  EXPECT_EQ(make_scheduler("sglang", {}, 24576 * mib)->limits().token_budget, 2048);   // L4
  EXPECT_EQ(make_scheduler("sglang", {}, 40960 * mib)->limits().token_budget, 4096);   // A100-40GB
  EXPECT_EQ(make_scheduler("sglang", {}, 81559 * mib)->limits().token_budget, 8192);   // H100 SXM
  EXPECT_EQ(make_scheduler("sglang", {}, 143771 * mib)->limits().token_budget, 8192);  // H200
  EXPECT_EQ(make_scheduler("sglang", {}, 183359 * mib)->limits().token_budget, 16384); // B200
  EXPECT_EQ(make_scheduler("sglang", {})->limits().token_budget, 8192);                // unknown
  SchedulerLimits given;
  given.token_budget = 4096;
  EXPECT_EQ(make_scheduler("sglang", given, 183359 * mib)->limits().token_budget, 4096);
  EXPECT_EQ(make_scheduler("sglang-jax", {}, 183359 * mib)->limits().token_budget, 4096);  // its own default
  auto s = make_scheduler("sglang", {});
  s->set_context_tokens(131072, 400000);
  EXPECT_EQ(s->limits().max_seqs, 2049);  // 400000 / 131072 x 512 = 1562 -> 2048, + 1
  s->set_context_tokens(8192, 1 << 22);
  EXPECT_EQ(s->limits().max_seqs, 4097);
  s->set_context_tokens(8192, 3000);
  EXPECT_EQ(s->limits().max_seqs, 1500);  // the KV pool's tokens // 2
  given.max_seqs = 64;
  auto g = make_scheduler("sglang", given);
  g->set_context_tokens(131072, 400000);
  EXPECT_EQ(g->limits().max_seqs, 64);
}

// JetStream's orchestrator over jetstream-pytorch (scheduler_jetstream.cpp; google/JetStream orchestrator.py,
// token_utils.py pad_tokens; jetstream_pt/engine.py): a fixed number of decode slots; each request is prefilled
// alone at batch 1 on the power-of-two bucket that holds its prompt (16 .. the max input length) and takes a free
// slot; every free slot is filled before the next generate step, which runs every slot (empty ones too) with
// attention over each slot's whole cache; a slot is one block of the cache length, and nothing is preempted.
TEST(ServeScheduler, JetStreamPrefillsOneRequestAtATimeAndGeneratesOverEverySlot) {
  SchedulerLimits l;
  l.max_seqs = 8;
  l.cache_tokens = 512;
  l.token_budget = 256;  // the max input length: buckets 16, 32, 64, 128, 256
  auto sched = make_scheduler("jetstream", l);
  EXPECT_EQ(sched->limits().max_seqs, 8);
  EXPECT_EQ(sched->limits().cache_tokens, 512);
  EXPECT_EQ(sched->block_tokens(), 512);
  EXPECT_FALSE(sched->mixes_prefill_and_decode());
  const HostLaunch h = sched->launch();
  EXPECT_EQ(h.token_buckets, (std::vector<std::int64_t>{16, 32, 64, 128, 256}));
  EXPECT_EQ(h.graph_batches, (std::vector<std::int64_t>{8}));
  EXPECT_EQ(h.slot_cache_tokens, 512);
  // Prompts of different buckets, answers of different lengths, all at once: 20 requests through 8 slots.
  std::vector<RequestDraw> reqs;
  for (std::int64_t i = 0; i < 20; ++i) reqs.push_back({10 + 23 * i % 240, 5 + (7 * i) % 19, 0});
  std::int64_t prefills = 0, generates = 0;
  StepTimeFn fn = [&](const StepShape& s) {
    if (s.prefill_chunks > 0) {
      ++prefills;
      EXPECT_EQ(s.prefill_chunks, 1) << "one request per prefill";
      EXPECT_EQ(s.decode_seqs, 0) << "prefill runs alone";
      const std::int64_t bucket = s.prefill_tokens;  // padded: the bucket's tokens all go through attention
      EXPECT_TRUE(bucket == 16 || bucket == 32 || bucket == 64 || bucket == 128 || bucket == 256) << bucket;
      EXPECT_EQ(s.prefill_kv_sum, bucket);
      EXPECT_EQ(s.padding_tokens, 0);
      EXPECT_EQ(s.logit_rows, 1);
    } else {
      ++generates;
      EXPECT_EQ(s.decode_seqs, 8) << "a generate step runs every slot";
      EXPECT_EQ(s.padding_rows, 0);
      EXPECT_EQ(s.decode_kv_sum, 8 * 512) << "each slot reads its whole cache";
      EXPECT_EQ(s.logit_rows, 8);
    }
    return fake(s);
  };
  const EngineResult r = run_engine(reqs, {EngineLoad::Kind::Offline, 0}, *sched, 8, fn);
  EXPECT_EQ(r.requests, 20);
  EXPECT_EQ(prefills, 20) << "one prefill per request";
  EXPECT_EQ(r.preemptions, 0);
  EXPECT_EQ(r.max_running, 8);
  EXPECT_GT(generates, 0);
  std::int64_t out = 0;
  for (const RequestDraw& d : reqs) out += d.output;
  EXPECT_EQ(r.output_tokens, out);
  EXPECT_EQ(r.iterations, prefills + generates);
  EXPECT_EQ(r.ttft_s.size(), 20u);
  EXPECT_EQ(r.occupancy.back().kv_used, 0.0);
}

TEST(ServeScheduler, JetStreamFillsEveryFreeSlotBeforeTheNextStep) {
  SchedulerLimits l;
  l.max_seqs = 4;
  l.cache_tokens = 256;
  auto sched = make_scheduler("jetstream", l);
  EXPECT_EQ(sched->limits().token_budget, 1024) << "create_pytorch_engine's context_length";
  std::vector<std::string> order;
  StepTimeFn fn = [&](const StepShape& s) {
    order.push_back(s.prefill_chunks > 0 ? "P" : "G" + std::to_string(s.decode_seqs));
    return fake(s);
  };
  // 6 requests: 4 of 3 answer tokens (2 steps after the prefill's first), 2 of 2.
  std::vector<RequestDraw> reqs = fixed(6, 40, 3);
  reqs[4].output = reqs[5].output = 2;
  run_engine(reqs, {EngineLoad::Kind::Offline, 0}, *sched, 4, fn);
  const std::vector<std::string> want = {"P", "P", "P", "P", "G4", "G4", "P", "P", "G4"};
  EXPECT_EQ(order, want);
  // A slot holds the cache: a pool of 2 slot blocks runs 2 requests at a time whatever --max-seqs says.
  order.clear();
  auto two = make_scheduler("jetstream", l);
  const EngineResult r = run_engine(fixed(4, 40, 3), {EngineLoad::Kind::Offline, 0}, *two, 2, fn);
  EXPECT_EQ(r.max_running, 2);
  EXPECT_EQ(r.requests, 4);
  // --cache-length belongs to the slot policy alone.
  SchedulerLimits c;
  c.cache_tokens = 2048;
  EXPECT_THROW(make_scheduler("vllm", c), InputError);
  c.cache_tokens = -1;
  EXPECT_THROW(make_scheduler("jetstream", c), InputError);
}

// A decode step of a static-shape engine with a dense cache (HostLaunch::slot_cache_tokens): padded to the slots
// and every row attending over the whole cache, full or not; without it a padding row reads one token.
TEST(ServeScheduler, DenseSlotCacheMakesEveryDecodeRowReadTheWholeCache) {
  HostLaunch h;
  h.graph_batches = {16};
  h.graph_max_batch = 16;
  StepShape d;
  d.decode_seqs = d.logit_rows = 16;
  d.decode_kv_sum = 16 * 100;
  EXPECT_EQ(h.padded(d).decode_kv_sum, 16 * 100);  // a full batch: nothing padded
  h.slot_cache_tokens = 2048;
  EXPECT_EQ(h.padded(d).decode_kv_sum, 16 * 2048);
  d.decode_seqs = d.logit_rows = 5;
  d.decode_kv_sum = 5 * 100;
  const StepShape p = h.padded(d);
  EXPECT_EQ(p.decode_seqs, 16);
  EXPECT_EQ(p.padding_rows, 0);
  EXPECT_EQ(p.logit_rows, 16);
  EXPECT_EQ(p.decode_kv_sum, 16 * 2048);
  EXPECT_EQ(p.tokens(), 16);
}

}  // namespace
}  // namespace xpu
