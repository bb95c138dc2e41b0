// sm.kstep_group (a simulation granularity of the GPU GEMM lowering, opt-in): two k-steps of a tile
// simulated as one MMA, their copies still one per k-step and joined (build::join), so that a block
// waits once per group. The default (1) is the per-k-step program exactly; a group changes results
// within the tolerances stated here, and carries the same data (functional mode).
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <utility>
#include <string>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

using namespace xpu;

namespace {
using Args = std::map<std::string, std::string>;

double latency(const ChipModel& chip, const OpSpec& op) {
  RunOptions ro;
  return simulate(chip, {chip.lower(op, LowerOptions{})}, ro, op.dtype).latency_s;
}

std::uint64_t mma_count(const ChipModel& chip, const OpSpec& op) {
  KernelPrograms progs = chip.lower(op, LowerOptions{});
  Task t;
  progs[0].make_task(0, t);
  std::uint64_t n = 0;
  for (const Instr& in : t.instrs) n += in.kind == TxKind::TileCompute;
  return n;
}
}  // namespace

TEST(KstepGroup, OneIsThePerKStepProgram) {
  auto def = load_chip("h100-sxm");
  auto one = load_chip("h100-sxm", {"sm.kstep_group=1"});
  auto two = load_chip("h100-sxm", {"sm.kstep_group=2"});
  OpSpec op = make_op("gemm", {{"m", "512"}, {"n", "512"}, {"k", "1024"}});
  EXPECT_EQ(latency(*def, op), latency(*one, op));
  // K 1024 in 16 k-steps of 64: 16 MMAs per tile, 8 in groups of two.
  EXPECT_EQ(mma_count(*one, op), 16u);
  EXPECT_EQ(mma_count(*two, op), 8u);
}

// Stated tolerance: latency of groups of two against every k-step on its own, at the preset clock (measured
// when written: h100-sxm 2048^3 +1.22%, 8x4096x4096 +0.85%, 1024^3 +3.09%; b200 8x4096x4096 +2.15%, 2048^3
// +13.97%).
// A group's MMA waits for both k-steps' copies, so a 4-stage ring (128x256 tiles) looks ahead two k-steps
// instead of three: the B200, whose MMA steps are shortest against the L2 latency, loses most.
TEST(KstepGroup, GroupsOfTwoStayWithinTheStatedTolerance) {
  struct Case {
    const char* chip;
    Args shape;
    double tolerance;
  };
  const Case cases[] = {{"h100-sxm", {{"m", "2048"}, {"n", "2048"}, {"k", "2048"}}, 0.02},
                        {"h100-sxm", {{"m", "8"}, {"n", "4096"}, {"k", "4096"}}, 0.015},
                        {"h100-sxm", {{"m", "1024"}, {"n", "1024"}, {"k", "1024"}}, 0.04},
                        {"b200", {{"m", "8"}, {"n", "4096"}, {"k", "4096"}}, 0.03},
                        {"b200", {{"m", "2048"}, {"n", "2048"}, {"k", "2048"}}, 0.15}};
  for (const Case& c : cases) {
    auto one = load_chip(c.chip, {"sm.kstep_group=1"});
    auto two = load_chip(c.chip, {"sm.kstep_group=2"});
    OpSpec op = make_op("gemm", c.shape);
    const double ref = latency(*one, op), t = latency(*two, op);
    EXPECT_NEAR(t / ref, 1.0, c.tolerance) << c.chip << " " << op.shape_str();
    // Never faster than the per-k-step pipeline: a group only delays its first k-step's MMA.
    EXPECT_GE(t, ref * (1 - 1e-3)) << c.chip << " " << op.shape_str();
    std::printf("%s %s kstep_group 2: %+.3f%%\n", c.chip, op.shape_str().c_str(), 100 * (t / ref - 1));
  }
}

TEST(KstepGroup, GroupsCarryTheSameDataAndTiming) {
  // K 1040: 17 k-steps of 64 (bf16; the last ragged, alone in its group) or 9 of 128 (fp8, which b200
  // does not promote).
  const std::pair<const char*, Args> cases[] = {{"h100-sxm", {{"m", "100"}, {"n", "128"}, {"k", "1040"}}},
                                                {"b200", {{"m", "130"}, {"n", "64"}, {"k", "1040"}, {"dtype", "fp8"}}}};
  for (const auto& [name, a] : cases) {
    auto one = load_chip(name, {"sm.kstep_group=1"});
    auto two = load_chip(name, {"sm.kstep_group=2"});
    OpSpec op = make_op("gemm", a);
    EXPECT_LT(mma_count(*two, op), mma_count(*one, op)) << name << " " << op.shape_str();
    KernelRun timed = run_kernel(*two, op, false, false);
    KernelRun functional = run_kernel(*two, op, true, false);
    ASSERT_TRUE(functional.check.ran);
    EXPECT_TRUE(functional.check.passed) << op.shape_str() << ": rel error " << functional.check.max_rel_error;
    EXPECT_EQ(functional.check.max_rel_error, run_kernel(*one, op, true, false).check.max_rel_error) << op.shape_str();
    EXPECT_EQ(timed.result.latency_s, functional.result.latency_s) << op.shape_str();
    EXPECT_EQ(timed.result.transactions, functional.result.transactions) << op.shape_str();
  }
}
