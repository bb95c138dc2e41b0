// Tests for scenarios: validation messages, routing and fusion parsing, and the step plan.
#include <gtest/gtest.h>

#include <functional>

#include "sim/base/error.h"
#include "workloads/scenario.h"

namespace xpu {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

Scenario prefill(std::int64_t batch, std::int64_t input) {
  Scenario s;
  s.batch = batch;
  s.input_len = input;
  return s;
}

TEST(WorkloadScenario, ValidScenarioPasses) {
  ModelConfig m = load_model("llama-3.1-8b");
  EXPECT_NO_THROW(prefill(8, 4096).validate(m));
}

TEST(WorkloadScenario, RejectsNonPositiveBatchAndLengths) {
  ModelConfig m = load_model("llama-3.1-8b");
  EXPECT_EQ(error_of([&] { prefill(0, 128).validate(m); }), "--batch must be a positive integer, got 0");
  EXPECT_EQ(error_of([&] { prefill(-3, 128).validate(m); }), "--batch must be a positive integer, got -3");
  EXPECT_EQ(error_of([&] { prefill(1, 0).validate(m); }), "--input must be a positive integer, got 0");
  Scenario s = prefill(1, 16);
  s.output_len = -1;
  EXPECT_EQ(error_of([&] { s.validate(m); }), "--output must be a positive integer, got -1");
  s.output_len = 1;
  s.tp = 0;
  EXPECT_EQ(error_of([&] { s.validate(m); }), "--tp must be a positive integer, got 0");
}

TEST(WorkloadScenario, RejectsLengthsBeyondContext) {
  ModelConfig m = load_model("llama-3.1-8b");
  EXPECT_EQ(error_of([&] { prefill(1, 200000).validate(m); }), "--input 200000 exceeds llama-3.1-8b's context of 131072 tokens");
  Scenario s = prefill(1, 130000);
  s.phase = Phase::Decode;
  s.output_len = 2000;
  EXPECT_EQ(error_of([&] { s.validate(m); }),
            "--input 130000 + --output 2000 = 132000 tokens exceeds llama-3.1-8b's context of 131072 tokens");
}

TEST(WorkloadScenario, TensorParallelDegreeMustSplitHeads) {
  ModelConfig m = load_model("llama-3.1-8b");  // 32 heads, 8 KV heads
  Scenario s = prefill(1, 16);
  s.tp = 3;
  EXPECT_NE(error_of([&] { s.validate(m); }).find("--tp 3 does not divide llama-3.1-8b's 32 attention heads"), std::string::npos);
  s.tp = 16;  // KV heads replicated twice: allowed
  EXPECT_NO_THROW(s.validate(m));
}

// AWS transformers-neuronx's head layout (--pad-heads): Llama-2-70B (64 heads, 8 KV heads) at TP24
// NeuronCores on 12 inf2 chips, as the Neuron benchmark tables run it.
// NxD Inference's GQA.REPLICATE_TO_TP_DEGREE: one KV head per rank when the TP degree is a multiple of them;
// CONVERT_TO_MHA (as transformers-neuronx) otherwise.
TEST(WorkloadScenario, NxdiHeadLayoutReplicatesKvToTheDegree) {
  const ModelConfig m405 = load_model("llama-3.1-405b");  // 128 query heads, 8 KV heads
  EXPECT_EQ(stored_heads_nxdi(m405, 64).heads, 128);
  EXPECT_EQ(stored_heads_nxdi(m405, 64).kv_heads, 64);   // transformers-neuronx's layout: 128
  EXPECT_EQ(stored_heads(m405, 64).kv_heads, 128);
  EXPECT_EQ(stored_heads_nxdi(m405, 8).kv_heads, 8);     // the degree splits them: kept
  EXPECT_EQ(stored_heads_nxdi(load_model("llama-2-70b"), 24).kv_heads, 24);  // one per rank (transformers-neuronx: 72)
  EXPECT_EQ(stored_heads_nxdi(load_model("llama-2-70b"), 24).heads, 72);     // query heads padded to a multiple of 24
  Scenario s;
  s.tp = 16;
  s.pad_heads = 64;
  s.kv_to_tp_degree = true;
  EXPECT_EQ(s.run_model_of(m405).kv_heads, 64);
}

TEST(WorkloadScenario, TensorParallelErrorsNameTheNearestDegreesThatSplit) {
  // QA session 43: "expected a divisor" named no degree; the nearest below and above that split the
  // heads (and the KV heads, evenly or replicated) are named.
  ModelConfig m = load_model("llama-3.1-8b");  // 32 heads, 8 KV heads
  Scenario s = prefill(1, 16);
  s.tp = 12;
  EXPECT_NE(error_of([&] { s.validate(m); }).find("(expected a divisor, e.g. --tp 8 or 16, or on a trainium chip --pad-heads"), std::string::npos);
  s.tp = 40;
  EXPECT_NE(error_of([&] { s.validate(m); }).find("(expected a divisor, e.g. --tp 32, or on a trainium chip --pad-heads"), std::string::npos);
  m.heads = 48;
  m.kv_heads = 6;
  s.tp = 4;  // divides 48 query heads, neither divides nor is a multiple of 6 KV heads
  EXPECT_NE(error_of([&] { s.validate(m); }).find("--tp 4 does not split llama-3.1-8b's 6 KV heads evenly (expected a divisor or a multiple of it, e.g. --tp 3 or 6)"),
            std::string::npos)
      << error_of([&] { s.validate(m); });
  for (int tp : {3, 6, 12}) {
    s.tp = tp;
    EXPECT_NO_THROW(s.validate(m)) << tp;
  }
}

TEST(WorkloadScenario, NeuronHeadLayoutPadsAndReplicates) {
  ModelConfig m = load_model("llama-2-70b");
  Scenario s = prefill(1, 16);
  s.tp = 12;
  EXPECT_NE(error_of([&] { s.validate(m); }).find("--tp 12 does not divide llama-2-70b's 64 attention heads (expected a divisor, e.g. --tp 8 or 16, or on a trainium chip --pad-heads"),
            std::string::npos);
  s.pad_heads = 24;
  EXPECT_NO_THROW(s.validate(m));
  ModelConfig h = s.run_model_of(m);
  EXPECT_EQ(h.heads, 72);     // padded to a multiple of 24 cores: 3 per core, 6 per chip
  EXPECT_EQ(h.kv_heads, 72);  // 24 does not split 8 KV heads: replicated to one per query head
  EXPECT_EQ(h.head_dim, 128);
  EXPECT_EQ(stored_heads(h, 24).heads, 72);  // idempotent
  EXPECT_GT(param_counts(h).total, param_counts(m).total);  // the copies are real weights
  // Cores that split the KV heads keep the model as it is (shard over heads).
  EXPECT_EQ(stored_heads(m, 8).kv_heads, 8);
  EXPECT_EQ(stored_heads(m, 8).heads, 64);
  // Llama-3-70B at TP32 on trn1: 64 heads split, 8 KV heads replicated to 64.
  EXPECT_EQ(stored_heads(load_model("llama-3.1-70b"), 32).kv_heads, 64);
  s.pad_heads = 20;
  EXPECT_NE(error_of([&] { s.validate(m); }).find("--pad-heads 20 must be a multiple of --tp 12"), std::string::npos);
  s.pad_heads = -24;  // not taken as "off"
  EXPECT_NE(error_of([&] { s.validate(m); }).find("--pad-heads must be a positive number of cores, got -24"), std::string::npos);
  s.pad_heads = 16;
  s.tp = 8;
  EXPECT_NE(error_of([&] { s.validate(load_model("deepseek-v3")); }).find("multi-head latent attention"), std::string::npos);
}

TEST(WorkloadScenario, HotRoutingBelowUniformShareIsRejected) {
  ModelConfig m = load_model("mixtral-8x7b");  // uniform share 2/8
  Scenario s = prefill(1, 16);
  s.routing = Routing::parse("hot:0.1");
  EXPECT_NE(error_of([&] { s.validate(m); }).find("below the uniform share"), std::string::npos);
  s.routing = Routing::parse("hot:0.6");
  EXPECT_NO_THROW(s.validate(m));
}

TEST(WorkloadScenario, ParsePhaseAndDtype) {
  EXPECT_EQ(parse_phase("decode"), Phase::Decode);
  EXPECT_EQ(parse_phase("request"), Phase::Request);
  EXPECT_NE(error_of([] { parse_phase("generate"); }).find("expected prefill, decode or request"), std::string::npos);
  EXPECT_NE(error_of([] { parse_dtype("fp7"); }).find("unknown dtype 'fp7'"), std::string::npos);
}

TEST(WorkloadRouting, Parse) {
  EXPECT_EQ(Routing::parse("uniform").kind, Routing::Kind::Uniform);
  Routing z = Routing::parse("zipf:1.2");
  EXPECT_EQ(z.kind, Routing::Kind::Zipf);
  EXPECT_DOUBLE_EQ(z.value, 1.2);
  EXPECT_EQ(Routing::parse("0.8").kind, Routing::Kind::Zipf);
  EXPECT_EQ(Routing::parse("0").kind, Routing::Kind::Uniform);
  Routing h = Routing::parse("hot:0.5");
  EXPECT_EQ(h.kind, Routing::Kind::Hot);
  EXPECT_EQ(h.str(), "hot:0.5");
  EXPECT_NE(error_of([] { Routing::parse("skewed"); }).find("--routing"), std::string::npos);
  EXPECT_NE(error_of([] { Routing::parse("hot:1.5"); }).find("(0, 1]"), std::string::npos);
  EXPECT_NE(error_of([] { Routing::parse("zipf:-1"); }).find("negative"), std::string::npos);
}

TEST(WorkloadFusion, PresetsAndFlags) {
  EXPECT_EQ(FusionPolicy::parse("vllm"), FusionPolicy::vllm());
  EXPECT_TRUE(FusionPolicy::vllm().residual_into_norm);
  EXPECT_FALSE(FusionPolicy::vllm().rope_into_attention);
  EXPECT_TRUE(FusionPolicy::trtllm().rope_into_attention);
  EXPECT_TRUE(FusionPolicy::xla().all_elementwise);
  FusionPolicy f = FusionPolicy::parse("rope_into_attention,activation_into_gemm");
  EXPECT_TRUE(f.rope_into_attention);
  EXPECT_TRUE(f.activation_into_gemm);
  EXPECT_FALSE(f.residual_into_norm);
  EXPECT_EQ(f.str(), "rope_into_attention,activation_into_gemm");
  EXPECT_EQ(FusionPolicy::none().str(), "none");
  EXPECT_EQ(FusionPolicy::parse("trtllm").str(), "trtllm");
  // Trainium's default runs trtllm's flags under the Neuron compiler's name (reports said "fusion trtllm" on trn2);
  // a user's --fusion trtllm on any chip still reads trtllm.
  EXPECT_EQ(FusionPolicy::parse("neuron").str(), "neuron");
  EXPECT_TRUE(FusionPolicy::parse("neuron") == FusionPolicy::trtllm());
  EXPECT_EQ(FusionPolicy::trtllm().str(), "trtllm");
  EXPECT_NE(error_of([] { FusionPolicy::parse("rope"); }).find("--fusion: unknown value 'rope'"), std::string::npos);
}

TEST(WorkloadStepPlan, PrefillDecodeAndRequest) {
  Scenario s = prefill(4, 1000);
  s.output_len = 128;
  auto p = plan_steps(s);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_FALSE(p[0].decode);
  EXPECT_EQ(p[0].context_len, 1000);

  s.phase = Phase::Decode;
  p = plan_steps(s, 8);
  ASSERT_EQ(p.size(), 8u);
  std::int64_t steps = 0;
  double weighted = 0;
  for (const auto& st : p) {
    EXPECT_TRUE(st.decode);
    steps += st.repeat;
    weighted += static_cast<double>(st.context_len) * st.repeat;
  }
  EXPECT_EQ(steps, 128);
  EXPECT_EQ(p.front().context_len, 1000 + 8);  // the middle of steps at contexts 1001..1016
  // Mean context of the samples equals the mean over contexts 1001..1128 to half a token.
  EXPECT_NEAR(weighted / steps, (1001 + 1128) / 2.0, 0.5);

  s.phase = Phase::Request;
  p = plan_steps(s, 1000);
  ASSERT_EQ(p.size(), 128u);  // prefill + 127 decode steps
  EXPECT_FALSE(p[0].decode);
  EXPECT_EQ(p[1].context_len, 1001);
  EXPECT_EQ(p.back().context_len, 1127);

  s.output_len = 1;
  EXPECT_EQ(plan_steps(s).size(), 1u);  // the prefill produces the only token
}

}  // namespace
}  // namespace xpu
