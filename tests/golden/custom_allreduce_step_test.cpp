// A TensorRT-LLM TP2 decode step on two B200s: its all-reduces run the stack's own kernel (two-shot above 128
// tokens, one-shot below) and say so in the per-kernel breakdown; without the stack NCCL's choice runs them.
#include <gtest/gtest.h>

#include "sim/base/config.h"
#include "sim/run/system_run.h"
#include "sim/serve/scheduler.h"

using namespace xpu;

namespace {
StepResult tp2_decode(const std::string& stack, std::int64_t seqs) {
  auto chip = load_chip("b200");
  const ModelConfig m = load_model(source_dir() + "/tests/data/models/small-llama-100m.json");
  const SystemContext sys{load_system("dgx-b200x8", {"scale_up.chips=2"})};
  Scenario s;
  s.phase = Phase::Decode;
  s.tp = 2;
  s.batch = seqs;
  s.input_len = 511;
  s.output_len = 1;
  s.allreduce_stack = stack;
  const std::vector<StepPlan> plan = plan_steps(s);
  return run_system_step(*chip, sys, m, s, plan.at(0), FusionPolicy::trtllm_pytorch(), nullptr);
}
std::vector<std::string> allreduce_strategies(const StepResult& r) {
  std::vector<std::string> out;
  for (const NodeResult& n : r.nodes)
    if (n.op == "allreduce") out.push_back(n.strategy);
  return out;
}
}  // namespace

TEST(CustomAllReduceStep, TrtllmTp2StepRunsItsOwnKernelsByTokens) {
  EXPECT_EQ(scheduler_allreduce_stack("trtllm"), "trtllm");
  EXPECT_EQ(scheduler_allreduce_stack("vllm"), "vllm");
  EXPECT_EQ(scheduler_allreduce_stack("sglang"), "sglang");
  EXPECT_EQ(scheduler_allreduce_stack("jetstream"), "");
  const StepResult two = tp2_decode("trtllm", 256), one = tp2_decode("trtllm", 64), nccl = tp2_decode("", 64);
  ASSERT_FALSE(allreduce_strategies(two).empty());
  for (const std::string& a : allreduce_strategies(two)) EXPECT_EQ(a, "twoshot/trtllm");
  for (const std::string& a : allreduce_strategies(one)) EXPECT_EQ(a, "oneshot/trtllm");
  for (const std::string& a : allreduce_strategies(nccl)) EXPECT_EQ(a.find("trtllm"), std::string::npos) << a;
  // The one-shot's own launch (0.7 us) and one LL-like flag step instead of NCCL's 6.6 us setup and its steps:
  // a small message (64 rows of hidden 1024, 128 KiB) takes less of the step.
  EXPECT_LT(one.time_s, nccl.time_s);
}

// vLLM's custom all-reduce at two ranks: its 1-stage kernel whatever the size below 8 MiB, and cheaper than
// NCCL's call for a small message (its own launch and two LL-like barriers against NCCL's setup and steps).
TEST(CustomAllReduceStep, VllmTp2StepRunsItsOneStageKernel) {
  const StepResult big = tp2_decode("vllm", 256), small = tp2_decode("vllm", 64), nccl = tp2_decode("", 64);
  ASSERT_FALSE(allreduce_strategies(big).empty());
  for (const std::string& a : allreduce_strategies(big)) EXPECT_EQ(a, "oneshot/vllm");
  for (const std::string& a : allreduce_strategies(small)) EXPECT_EQ(a, "oneshot/vllm");
  EXPECT_LT(small.time_s, nccl.time_s);
}
