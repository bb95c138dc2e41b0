// The serving engine on the chip model with small models: the concurrency trade-off, the KV capacity
// against a hand computation, and the step-time grid's interpolation error against direct simulation.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/serve/serve.h"
#include "sim/serve/step_time.h"

namespace xpu {
namespace {

std::string model_path(const char* name) { return source_dir() + "/tests/data/models/" + name + ".json"; }

TEST(ServeEngine, ThroughputRisesAndPerUserSpeedFallsWithConcurrency) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model(model_path("tiny-llama"));
  ServeOptions o;
  o.input = 64;
  o.output = 32;
  o.concurrency = {1, 4, 16};
  o.concurrency_given = true;
  o.requests = 48;
  ServeResult r = serve(*chip, m, Scenario{}, o);
  ASSERT_EQ(r.curve.size(), 3u);
  EXPECT_TRUE(r.frontier);
  for (size_t i = 1; i < r.curve.size(); ++i) {
    EXPECT_GT(r.curve[i].throughput_tok_s, r.curve[i - 1].throughput_tok_s * 1.5) << i;
    EXPECT_LT(r.curve[i].tok_s_per_user, r.curve[i - 1].tok_s_per_user) << i;
  }
  EXPECT_EQ(r.curve[0].batch, 1);
  EXPECT_EQ(r.curve[2].batch, 16);
  for (const auto& p : r.curve) {
    EXPECT_LE(p.ttft_s, p.ttft_p90_s);
    EXPECT_LE(p.ttft_p90_s, p.ttft_p99_s);
    EXPECT_LE(p.tpot_s, p.tpot_p99_s);
    EXPECT_GT(p.e2e_p50_s, p.ttft_s);
  }
}

TEST(ServeEngine, KvCapacityMatchesAHandComputation) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;  // bf16 everywhere
  auto vllm = make_scheduler("vllm", {});
  ServeMemory mem = serve_memory(*chip, m, sc, *vllm);
  // 8 layers x (K and V) x 4 KV heads x 64 head dims x 2 bytes per token.
  EXPECT_DOUBLE_EQ(mem.kv_bytes_per_token, 8.0 * 2 * 4 * 64 * 2);
  const double weights = footprint(m, sc).weight_bytes;
  // Largest step: 8192 tokens; activations of footprint() at that size plus fp32 logits of 1024 sequences.
  Scenario big = sc;
  big.phase = Phase::Prefill;
  big.input_len = 8192;
  const double act = footprint(m, big).activation_bytes + 4.0 * 1023 * 8000;
  const double kv = 0.9 * chip->dram_capacity() - weights - act;  // gpu_memory_utilization 0.9
  EXPECT_EQ(mem.kv_blocks, static_cast<std::int64_t>(kv / (8.0 * 2 * 4 * 64 * 2 * 16)));
  EXPECT_EQ(mem.kv_tokens, mem.kv_blocks * 16);
  auto trt = make_scheduler("trtllm", {});
  ServeMemory mt = serve_memory(*chip, m, sc, *trt);
  const double act_trt = footprint(m, big).activation_bytes + 4.0 * 2047 * 8000;
  EXPECT_EQ(mt.kv_blocks, static_cast<std::int64_t>(0.9 * (chip->dram_capacity() - weights - act_trt) / (8.0 * 2 * 4 * 64 * 2 * 32)));
}

TEST(ServeEngine, OfflineRunReportsItsCacheAndStaysWithinIt) {
  // Offline, every request arrives at once; the engine reports the cache it computed and never
  // holds more blocks than exist.
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model(model_path("tiny-llama"));
  Scenario sc;
  auto vllm = make_scheduler("vllm", {});
  ServeMemory mem = serve_memory(*chip, m, sc, *vllm);
  ServeOptions o;
  o.input = 100;
  o.output = 28;  // 128 tokens = 8 blocks at the end
  o.requests = 200;
  ServeResult r = serve(*chip, m, sc, o);
  ASSERT_EQ(r.curve.size(), 1u);
  EXPECT_EQ(r.mode, "offline");
  EXPECT_LE(r.curve[0].kv_peak, 1.0);
  EXPECT_EQ(r.memory.kv_blocks, mem.kv_blocks);
  EXPECT_EQ(r.curve[0].batch, 200);  // the cache of an 80 GB chip holds them all
}

TEST(ServeEngine, GridInterpolationStaysCloseToDirectSimulation) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model(model_path("small-llama-100m"));
  Scenario sc;
  ChipStepTime grid(*chip, m, sc, true), exact(*chip, m, sc, false);
  std::mt19937 rng(3);
  double worst = 0;
  for (int i = 0; i < 6; ++i) {
    StepShape s;
    s.decode_seqs = std::uniform_int_distribution<std::int64_t>(17, 200)(rng);
    s.decode_kv_sum = s.decode_seqs * std::uniform_int_distribution<std::int64_t>(100, 2000)(rng);
    if (i % 2) {
      s.prefill_chunks = 1 + i % 3;
      s.prefill_tokens = std::uniform_int_distribution<std::int64_t>(50, 1000)(rng);
      s.prefill_kv_sum = s.prefill_tokens + s.prefill_chunks * 200;
    }
    s.logit_rows = s.decode_seqs + s.prefill_chunks;
    const double g = grid(s).time_s, d = exact.direct(s).time_s;
    worst = std::max(worst, std::abs(g / d - 1));
  }
  // Four grid points per octave: the interpolated step is within 10% of the simulated one.
  EXPECT_LT(worst, 0.10);
  std::cout << "worst interpolation error " << worst << "\n";
}

TEST(ServeEngine, BadInputIsOneClearError) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model(model_path("tiny-llama"));
  ServeOptions o;
  o.concurrency = {0};
  EXPECT_THROW(serve(*chip, m, Scenario{}, o), InputError);
  o.concurrency = {};
  o.rate = -1;
  o.rate_given = true;
  EXPECT_THROW(serve(*chip, m, Scenario{}, o), InputError);
  o = ServeOptions{};
  o.input = 500;
  o.output = 100;  // tiny-llama's context is 512
  EXPECT_THROW(serve(*chip, m, Scenario{}, o), InputError);
  o = ServeOptions{};
  o.input_dist = LengthDist::parse("--input", "uniform:10:600");
  EXPECT_THROW(serve(*chip, m, Scenario{}, o), InputError);
  EXPECT_THROW(LengthDist::parse("--input", "uniform:9"), InputError);
  EXPECT_THROW(LengthDist::parse("--input", "-3"), InputError);
}

}  // namespace
}  // namespace xpu
