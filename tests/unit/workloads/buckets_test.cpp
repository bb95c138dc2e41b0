// Compiled shape buckets (transformers-neuronx's defaults) and the step plans they give.
#include <gtest/gtest.h>

#include "sim/base/error.h"
#include "workloads/buckets.h"
#include "workloads/scenario.h"

namespace xpu {
namespace {

TEST(ShapeBuckets, TransformersNeuronxDefaults) {
  // utils.power_of_two_bucket_sizes(128, n): doubling from 128, n_positions closing the list.
  ShapeBuckets b = tnx_default_buckets(4096);
  EXPECT_EQ(b.token, (std::vector<std::int64_t>{128, 256, 512, 1024, 2048, 4096}));
  EXPECT_EQ(b.context, (std::vector<std::int64_t>{64, 128, 256, 512, 1024, 2048}));  // half of each token bucket
  b = tnx_default_buckets(1152);  // not a power of two: the last bucket is n_positions itself
  EXPECT_EQ(b.token, (std::vector<std::int64_t>{128, 256, 512, 1024, 1152}));
  EXPECT_EQ(tnx_default_buckets(100).token, (std::vector<std::int64_t>{100}));
}

TEST(ShapeBuckets, SmallestBucketThatHolds) {
  const std::vector<std::int64_t> b{128, 256, 512};
  EXPECT_EQ(bucket_for(b, 1), 128);
  EXPECT_EQ(bucket_for(b, 128), 128);  // exactly sized: no padding
  EXPECT_EQ(bucket_for(b, 129), 256);
  EXPECT_EQ(bucket_for(b, 300), 512);
  EXPECT_EQ(bucket_for(b, 2000), 512);  // beyond the largest: the largest (bucket.py find)
  EXPECT_EQ(bucket_for({}, 300), 300);  // no buckets: the exact size
}

Scenario request(std::int64_t in, std::int64_t out, std::int64_t n_positions) {
  Scenario s;
  s.phase = Phase::Request;
  s.batch = 1;
  s.input_len = in;
  s.output_len = out;
  s.buckets = tnx_default_buckets(n_positions);
  return s;
}

TEST(ShapeBuckets, PromptPaddedToItsContextBucket) {
  // A 300-token prompt at 4096 positions runs the 512-token context graph: the TTFT of the bucket.
  const std::vector<StepPlan> p = plan_steps(request(300, 1, 4096));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_FALSE(p[0].decode);
  EXPECT_EQ(p[0].context_len, 512);
  EXPECT_EQ(step_scenario(request(300, 1, 4096), p[0]).input_len, 512);
  // 257..512 tokens take the same graph, hence the same time.
  EXPECT_EQ(plan_steps(request(257, 1, 4096))[0].context_len, 512);
}

TEST(ShapeBuckets, PromptBeyondTheLargestContextBucketRunsTokenByToken) {
  // 3000 tokens at 4096 positions: the largest context bucket (2048) encodes the first 2048, the other
  // 952 run one by one through the decode graphs (base.py context()), all before the first token.
  const std::vector<StepPlan> p = plan_steps(request(3000, 2, 4096));
  ASSERT_GE(p.size(), 3u);
  EXPECT_EQ(p[0].context_len, 2048);
  std::int64_t prompt_steps = 0;
  for (const StepPlan& st : p)
    if (st.prompt) {
      EXPECT_TRUE(st.decode);
      EXPECT_EQ(st.context_len, 4096);  // cache positions 2049..3000 fall in the 4096-token bucket
      prompt_steps += st.repeat;
    }
  EXPECT_EQ(prompt_steps, 952);
  EXPECT_TRUE(p.back().decode);
  EXPECT_FALSE(p.back().prompt);  // the one decode step after the first token
  EXPECT_EQ(p.back().repeat, 1);
}

TEST(ShapeBuckets, DecodeStepsRunTheirTokenBucket) {
  // 128 + 1000 tokens at 1152 positions: the 999 decode steps have 129..1127 tokens in the cache and run
  // the 256, 512, 1024 and 1152 graphs, each step attending over its whole bucket.
  const std::vector<StepPlan> p = plan_steps(request(128, 1000, 1152));
  ASSERT_EQ(p.size(), 5u);  // prefill + 4 buckets
  EXPECT_EQ(p[0].context_len, 128);
  const std::int64_t buckets[] = {256, 512, 1024, 1152}, steps[] = {128, 256, 512, 103};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(p[i + 1].decode);
    EXPECT_FALSE(p[i + 1].prompt);
    EXPECT_EQ(p[i + 1].context_len, buckets[i]);
    EXPECT_EQ(p[i + 1].repeat, steps[i]);
  }
}

TEST(ShapeBuckets, NeuronBucketsFlag) {
  ScenarioArgs a;
  a.phase = "request";
  a.input = 3000;
  a.output = 2000;
  a.neuron_buckets = 8192;
  Scenario s = make_scenario(a);
  EXPECT_EQ(s.buckets.token.back(), 8192);
  // The model is compiled for the largest bucket, also beyond config.json's context (Llama-2-7b's 4096).
  ModelConfig m;
  m.max_position = 4096;
  EXPECT_EQ(s.run_model_of(m).max_position, 8192);
  a.neuron_buckets = 4096;  // fewer positions than the request needs
  try {
    make_scenario(a);
    FAIL() << "accepted --neuron-buckets 4096 for 5000 tokens";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--neuron-buckets 4096"), std::string::npos) << e.what();
  }
}

// NxD Inference's generate_buckets(128, max): powers of two below 2^round(log2(max)), then max itself.
TEST(WorkloadBuckets, NxdiDefaultBuckets) {
  const std::vector<std::int64_t> ctx = nxdi_default_buckets(12288);  // log2 = 13.58 -> 2^7 .. 2^13, then 12288
  EXPECT_EQ(ctx, (std::vector<std::int64_t>{128, 256, 512, 1024, 2048, 4096, 8192, 12288}));
  EXPECT_EQ(bucket_for(ctx, 10000), 12288);  // the trn2 tutorials' 10000-token prompt
  const std::vector<std::int64_t> tkg = nxdi_default_buckets(12800);
  EXPECT_EQ(tkg.back(), 12800);
  EXPECT_EQ(tkg[tkg.size() - 2], 8192);
  EXPECT_EQ(nxdi_default_buckets(4096), (std::vector<std::int64_t>{128, 256, 512, 1024, 2048, 4096}));
  EXPECT_EQ(nxdi_default_buckets(5000).back(), 5000);  // log2 = 12.29 -> rounds to 12: ..., 2048, then 5000
  EXPECT_EQ(nxdi_default_buckets(5000)[nxdi_default_buckets(5000).size() - 2], 2048);
  EXPECT_EQ(nxdi_default_buckets(128), (std::vector<std::int64_t>{128}));
}

}  // namespace
}  // namespace xpu
