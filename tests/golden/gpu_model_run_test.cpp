// `xpusim run` on the GPU: a whole forward pass is the sum of its simulated kernels, FLOPs match the
// graph's closed form, decode is memory-bound near the weight-streaming bound, bad input is refused.
#include <gtest/gtest.h>

#include "sim/run/model_run.h"

using namespace xpu;

namespace {
Scenario scenario(Phase p, std::int64_t batch, std::int64_t input, std::int64_t output, DType d) {
  Scenario s;
  s.phase = p;
  s.batch = batch;
  s.input_len = input;
  s.output_len = output;
  s.wdtype = s.adtype = s.kvdtype = d;
  return s;
}
}  // namespace

TEST(GpuModelRun, TinyDecodeIsBoundByStreamingTheWeights) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  ModelRunResult r = run_model(*chip, m, scenario(Phase::Decode, 1, 512, 1, DType::bf16));
  ASSERT_EQ(r.steps.size(), 1u);
  double weights = r.memory.weight_bytes;
  double bound = weights / chip->dram_bandwidth();
  EXPECT_GT(r.tpot_s, bound);               // never faster than streaming every weight once
  EXPECT_LT(r.tpot_s, 1.6 * bound / 0.9);   // and close to it: decode at batch 1 is memory-bound
  for (const auto& n : r.steps[0].nodes)
    if (!n.fused && n.op == "gemm") { EXPECT_EQ(n.bound, "memory") << n.label; }
}

TEST(GpuModelRun, StepTimeIsTheSumOfItsKernelsAndFlopsMatchTheGraph) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  Scenario s = scenario(Phase::Prefill, 1, 256, 1, DType::bf16);
  ModelRunResult r = run_model(*chip, m, s);
  const StepResult& st = r.steps.at(0);
  double sum = 0;
  for (const auto& n : st.nodes) sum += n.fused ? 0 : n.time_s * n.count;
  // Equal up to rounding: when the power manager runs the step off its nominal clock, apply_clocks adds
  // the kernels' changes to the nominal sum, the same terms in another order (6 ulp apart with L2 slice groups).
  EXPECT_NEAR(sum / st.time_s, 1.0, 1e-12);
  Graph g = build_step_graph(m, s, false, 256, FusionPolicy::vllm());
  EXPECT_NEAR(st.flops / g.flops(), 1.0, 1e-9);
  // About 2 FLOPs per layer parameter per token, plus the LM head for the last token (plus attention).
  ParamCounts pc = param_counts(m);
  EXPECT_NEAR(st.flops / (2.0 * pc.layers * 256 + 2.0 * pc.lm_head), 1.0, 0.05);
  EXPECT_DOUBLE_EQ(r.ttft_s, st.time_s);
  EXPECT_GT(r.tokens_per_s, 0);
}

TEST(GpuModelRun, FusionIsVisibleAndSwitchable) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  Scenario s = scenario(Phase::Decode, 4, 256, 1, DType::bf16);
  ModelRunResult fused = run_model(*chip, m, s);
  s.fusion = FusionPolicy::none();
  ModelRunResult eager = run_model(*chip, m, s);
  int fused_nodes = 0;
  for (const auto& n : fused.steps[0].nodes) fused_nodes += n.fused;
  EXPECT_GT(fused_nodes, 0);
  EXPECT_GT(eager.tpot_s, fused.tpot_s);  // the residual adds cost their own memory round trips
}

TEST(GpuModelRun, BadInputIsRefusedWithTheFlagNamed) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  auto err = [&](Scenario s) {
    try {
      run_model(*chip, m, s);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err(scenario(Phase::Decode, 0, 128, 1, DType::bf16)).find("--batch"), std::string::npos);
  EXPECT_NE(err(scenario(Phase::Decode, 1, 200000, 1, DType::bf16)).find("--input"), std::string::npos);
  EXPECT_NE(err(scenario(Phase::Decode, 4096, 8192, 1, DType::bf16)).find("fit"), std::string::npos);
}
