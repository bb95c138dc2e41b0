// A request's TPOT over compiled buckets: the mean decode step (tpot_s) and the median per-token time
// (tpot_p50_s, as Neuron's latency tables report "TPOT Latency P50"). Each bucket's steps run one graph,
// so the median is the step time of the bucket that holds the middle token.
#include <gtest/gtest.h>

#include <map>

#include "sim/run/model_run.h"
#include "workloads/buckets.h"

using namespace xpu;

namespace {
ModelRunResult request(std::int64_t output) {
  auto chip = load_chip("trn1");
  Scenario s;
  s.phase = Phase::Request;
  s.batch = 1;
  s.input_len = 128;
  s.output_len = output;
  s.buckets = tnx_default_buckets(512);  // token buckets 128, 256, 512
  s.attention_impl = kTnxImpl;
  return run_model(*chip, load_model(std::string(XPUSIM_SOURCE_DIR) + "/tests/data/models/small-llama-100m.json"), s, {});
}

std::map<std::int64_t, double> bucket_times(const ModelRunResult& r) {  // bucket -> step time
  std::map<std::int64_t, double> t;
  for (const auto& s : r.steps)
    if (s.decode && !s.prompt) t[s.context_len] = s.time_s;
  return t;
}
}  // namespace

TEST(RequestTpot, MedianIsTheStepOfTheBucketHoldingTheMiddleToken) {
  // 299 decode steps at caches of 129..427 tokens: 128 in the 256 bucket, 171 in the 512 one.
  const ModelRunResult r = request(300);
  const auto t = bucket_times(r);
  ASSERT_EQ(t.size(), 2u);
  const double t256 = t.at(256), t512 = t.at(512);
  ASSERT_LT(t256, t512);  // attention over twice the positions
  EXPECT_DOUBLE_EQ(r.tpot_p50_s, t512);
  EXPECT_NEAR(r.tpot_s, (128 * t256 + 171 * t512) / 299, 1e-12);
  EXPECT_LT(r.tpot_s, r.tpot_p50_s);
}

TEST(RequestTpot, EvenCountTakesTheMeanOfTheTwoMiddleTokens) {
  // 256 decode steps at caches of 129..384: 128 in each bucket, so the middle two straddle them.
  const ModelRunResult r = request(257);
  const auto t = bucket_times(r);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_DOUBLE_EQ(r.tpot_p50_s, 0.5 * (t.at(256) + t.at(512)));
  EXPECT_NEAR(r.tpot_s, r.tpot_p50_s, 1e-12);
}
