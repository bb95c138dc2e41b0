// The kernel-result cache of model runs (run_step_graph): a cached kernel's figures are a function of
// its key, so they do not depend on which op of that key ran first (issue 17: compare's step parts
// differed by up to 8e-4 between orders of units, DeepSeek-V3's o_proj decode kernels on B200 by
// 3.5e-3, because an op's graph label named its operands' address regions).
#include <gtest/gtest.h>

#include "sim/run/model_run.h"
#include "sim/run/registry.h"
#include "sim/run/runner.h"

using namespace xpu;

namespace {
Graph one_gemm(const std::string& label) {
  GraphNode n;
  n.op.kind = OpKind::Gemm;
  n.op.label = label;
  n.op.m = 1024, n.op.n = 7168, n.op.k = 8192;  // DeepSeek-V3's o_proj at tp2 for 1024 tokens
  n.op.dtype = n.op.wdtype = DType::fp8;
  n.op.odtype = DType::bf16;
  Graph g;
  g.nodes.push_back(n);
  return g;
}
}  // namespace

TEST(KernelCache, ACachedKernelDoesNotDependOnWhichLabelOfItsKeyRanFirst) {
  const std::string dense = "layer[dense].o_proj", moe = "layer[moe].o_proj";
  // Two orders, each on its own configuration key (a price is no timing parameter), so neither order
  // sees the other's cache entries.
  auto a = load_chip("b200", {"cost.chip_hour=1.25"});
  auto b = load_chip("b200", {"cost.chip_hour=1.5"});
  const double dense_first = run_step_graph(*a, one_gemm(dense), 0).time_s;
  const double moe_after = run_step_graph(*a, one_gemm(moe), 0).time_s;
  const double moe_first = run_step_graph(*b, one_gemm(moe), 0).time_s;
  const double dense_after = run_step_graph(*b, one_gemm(dense), 0).time_s;
  EXPECT_GT(dense_first, 0);
  EXPECT_EQ(dense_first, dense_after);
  EXPECT_EQ(moe_first, moe_after);
  EXPECT_EQ(dense_first, moe_first);
  // The premise: lowered with their labels, the two ops do time differently (their operands sit at
  // other addresses), so a cache keyed without the label would keep whichever ran first.
  // (At 1024 tokens they differ by 0.9%; at 64 they agree.)
  auto timed = [&](const std::string& label) {
    return simulate(*a, {a->lower(one_gemm(label).nodes[0].op, LowerOptions{})}, RunOptions{}, DType::fp8).latency_s;
  };
  EXPECT_NE(timed(dense), timed(moe));
}
