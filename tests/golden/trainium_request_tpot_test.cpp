// A request's TPOT over compiled buckets: the mean decode step (tpot_s) and the median per-token time
// (tpot_p50_s, as Neuron's latency tables report "TPOT Latency P50"). Each bucket's steps run one graph,
// so the median is the step time of the bucket that holds the middle token. Also: a model step's collectives
// pay the in-graph launch on trn1-32xl (library.in_graph_launch_latency), not nccom-test's.
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

// A model step's collectives run inside its compiled graph on trn1-32xl: each pays
// library.in_graph_launch_latency (2 us: the compute engines trigger the CC core, [INTRA]/[OVERLAP]) instead of
// the 52 us nccom-test measures for a collective timed alone, which `kernel allreduce` keeps. A decode step of
// an 8-layer model at TP16 runs 2 all-reduces per layer, the embedding's all-reduce and the logits' all-gather:
// 18 collectives, each 50 us cheaper in the graph.
TEST(InGraphCollectives, ModelStepPaysTheGraphLaunchNotNccomTests) {
  auto chip = load_chip("trn1");
  const SystemSpec graph = load_system("trn1-32xl");
  EXPECT_NEAR(graph.launch_latency.value(), 52e-6, 1e-9);
  EXPECT_NEAR(graph.in_graph_launch_latency.value(), 2e-6, 1e-9);
  Scenario s;
  s.phase = Phase::Decode;
  s.batch = 1;
  s.input_len = 128;
  s.tp = 16;
  s.attention_impl = kTnxImpl;
  const ModelConfig m = load_model(std::string(XPUSIM_SOURCE_DIR) + "/tests/data/models/small-llama-100m.json");
  auto step = [&](const SystemSpec& spec) {
    ModelRunOptions o;
    o.system = SystemContext{spec};
    return run_model(*chip, m, s, o).tpot_s;
  };
  const double in_graph = step(graph);
  const double as_timed_alone = step(load_system("trn1-32xl", {"library.in_graph_launch_latency=0 s"}));
  EXPECT_NEAR((as_timed_alone - in_graph) / 18, 50e-6, 5e-6);
}
