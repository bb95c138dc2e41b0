// Functional mode on the GPU family: the tiled kernels of row-wise ops and attention (prefill and
// split decode) compute what a direct double-precision reference computes, and carrying data through
// the transactions leaves the simulated timing unchanged.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

using namespace xpu;

namespace {
using Args = std::map<std::string, std::string>;

void expect_passes(const ChipModel& chip, const std::string& op, const Args& args) {
  OpSpec spec = make_op(op, args);
  KernelRun run = run_kernel(chip, spec, true, false);
  ASSERT_TRUE(run.check.ran);
  EXPECT_TRUE(run.check.passed) << op << " " << spec.shape_str() << ": rel error " << run.check.max_rel_error
                                << " > " << run.check.tolerance;
  EXPECT_LE(run.check.max_rel_error, run.check.tolerance);
}
}  // namespace

TEST(GpuFunctional, RowwiseOpsMatchReference) {
  auto chip = load_chip("h100-sxm");
  for (const char* op : {"rmsnorm", "layernorm", "softmax", "swiglu", "gelu", "residual_add", "rope"})
    for (const char* dt : {"bf16", "fp32"}) expect_passes(*chip, op, {{"rows", "33"}, {"cols", "64"}, {"dtype", dt}});
  // More rows than blocks (several rows per block), a wide softmax, RoPE with several heads and positions
  // that restart per sequence.
  expect_passes(*chip, "rmsnorm", {{"rows", "1000"}, {"cols", "96"}});
  expect_passes(*chip, "softmax", {{"rows", "7"}, {"cols", "3000"}});
  expect_passes(*chip, "rope", {{"rows", "40"}, {"cols", "192"}, {"head-dim", "64"}, {"seq", "20"}});
}

TEST(GpuFunctional, PrefillAttentionMatchesReference) {
  auto chip = load_chip("h100-sxm");
  for (const char* causal : {"true", "false"})
    expect_passes(*chip, "attention", {{"batch", "2"}, {"heads", "4"}, {"kv-heads", "2"}, {"seq", "77"},
                                       {"head-dim", "32"}, {"causal", causal}});
  // Several query and key tiles, ragged ends, GQA group of 4, fewer queries than keys (chunked prefill).
  expect_passes(*chip, "attention", {{"heads", "4"}, {"kv-heads", "1"}, {"seq", "300"}, {"head-dim", "64"}});
  expect_passes(*chip, "attention", {{"heads", "2"}, {"kv-heads", "2"}, {"seq", "260"}, {"seq-q", "130"}, {"head-dim", "64"}});
  // Sliding window (tiles partly outside the window are masked, tiles wholly outside skipped).
  expect_passes(*chip, "attention", {{"heads", "2"}, {"seq", "300"}, {"head-dim", "32"}, {"window", "100"}});
  expect_passes(*chip, "attention", {{"heads", "2"}, {"seq", "200"}, {"head-dim", "64"}, {"dtype", "fp16"}});
}

TEST(GpuFunctional, DecodeAttentionWithSplitsMatchesReference) {
  auto chip = load_chip("h100-sxm");
  // The lowering splits the context when the batch is small: check it does here (300 tokens in chunks
  // of at least 128: 3 splits).
  OpSpec small = make_op("attention", {{"phase", "decode"}, {"batch", "1"}, {"heads", "8"}, {"kv-heads", "1"}, {"seq", "300"},
                                       {"head-dim", "64"}});
  KernelPrograms progs = chip->lower(small, LowerOptions{});
  ASSERT_EQ(progs.size(), 2u) << "expected a split decode kernel and its combine kernel";
  EXPECT_NE(progs[0].strategy.find("3 splits"), std::string::npos) << progs[0].strategy;
  expect_passes(*chip, "attention", {{"phase", "decode"}, {"batch", "1"}, {"heads", "8"}, {"kv-heads", "1"},
                                     {"seq", "300"}, {"head-dim", "64"}});
  expect_passes(*chip, "attention", {{"phase", "decode"}, {"batch", "2"}, {"heads", "4"}, {"kv-heads", "2"},
                                     {"seq", "300"}, {"head-dim", "32"}});
  // Two new tokens per sequence (speculative decode: the second query sees one key more), and a long
  // context with 16 splits.
  expect_passes(*chip, "attention", {{"phase", "decode"}, {"batch", "2"}, {"heads", "4"}, {"kv-heads", "1"},
                                     {"seq", "500"}, {"seq-q", "2"}, {"head-dim", "64"}});
  expect_passes(*chip, "attention", {{"phase", "decode"}, {"heads", "2"}, {"kv-heads", "1"}, {"seq", "2000"},
                                     {"head-dim", "64"}});
  // No split (enough sequences to fill the GPU).
  expect_passes(*chip, "attention", {{"phase", "decode"}, {"batch", "300"}, {"heads", "2"}, {"kv-heads", "1"},
                                     {"seq", "40"}, {"head-dim", "32"}});
}

TEST(GpuFunctional, CarryingDataLeavesTimingUnchanged) {
  auto chip = load_chip("h100-sxm");
  std::vector<std::pair<std::string, Args>> cases = {
      {"rmsnorm", {{"rows", "33"}, {"cols", "64"}}},
      {"swiglu", {{"rows", "100"}, {"cols", "128"}}},
      {"rope", {{"rows", "64"}, {"cols", "256"}}},
      {"attention", {{"heads", "4"}, {"kv-heads", "2"}, {"seq", "300"}, {"head-dim", "64"}}},
      {"attention", {{"phase", "decode"}, {"batch", "2"}, {"heads", "4"}, {"kv-heads", "1"}, {"seq", "300"}, {"head-dim", "64"}}},
      {"gemm", {{"m", "100"}, {"n", "100"}, {"k", "1000"}}},
  };
  for (const auto& [op, args] : cases) {
    OpSpec spec = make_op(op, args);
    KernelRun timed = run_kernel(*chip, spec, false, false);
    KernelRun functional = run_kernel(*chip, spec, true, false);
    EXPECT_EQ(timed.result.latency_s, functional.result.latency_s) << op << " " << spec.shape_str();
    EXPECT_EQ(timed.result.transactions, functional.result.transactions) << op;
  }
}

TEST(GpuFunctional, CallerSuppliedInputsAreUsed) {
  // run_functional on hand-made inputs: softmax of a constant row is uniform, RMSNorm of a row of
  // 2s with unit weight is (almost) 1.
  auto chip = load_chip("h100-sxm");
  OpSpec sm = make_op("softmax", {{"rows", "3"}, {"cols", "10"}, {"dtype", "fp32"}});
  FunctionalSetup f = functional_setup(sm, 1, false);
  for (float& x : f.store.get(f.store.find("X")).v) x = 5.f;
  run_functional(*chip, sm, f);
  for (float y : f.store.get(f.store.find("Y")).v) EXPECT_NEAR(y, 0.1f, 1e-6f);
  OpSpec rn = make_op("rmsnorm", {{"rows", "2"}, {"cols", "8"}, {"dtype", "fp32"}});
  FunctionalSetup g = functional_setup(rn, 1, false);
  for (float& x : g.store.get(g.store.find("X")).v) x = 2.f;
  for (float& x : g.store.get(g.store.find("W")).v) x = 1.f;
  run_functional(*chip, rn, g);
  for (float y : g.store.get(g.store.find("Y")).v) EXPECT_NEAR(y, 2.f / std::sqrt(4.f + 1e-5f), 1e-6f);
}

TEST(GpuFunctional, UnsupportedOpsSayWhy) {
  auto chip = load_chip("h100-sxm");
  OpSpec op = make_op("topk", {{"rows", "4"}, {"experts", "8"}, {"topk", "2"}});
  EXPECT_THROW(run_kernel(*chip, op, true, false), InputError);
}
