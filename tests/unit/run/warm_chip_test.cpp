// The warm chip (RunOptions::keep_chip, Chip::rerun): a kernel simulated on a chip that has already
// run other kernels gives exactly what a fresh chip gives, stats included (engine busy times, memory
// counters, utilizations), on every family.
#include <gtest/gtest.h>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"
#include "sim/run/runner.h"

using namespace xpu;

namespace {
KernelPrograms lowered(const ChipModel& chip, const std::string& op, std::map<std::string, std::string> args) {
  return chip.lower(make_op(op, args), LowerOptions{});
}

void expect_same(const RunResult& a, const RunResult& b, const std::string& what) {
  EXPECT_EQ(a.latency_s, b.latency_s) << what;
  EXPECT_EQ(a.transactions, b.transactions) << what;
  ASSERT_EQ(a.kernels.size(), b.kernels.size()) << what;
  for (size_t i = 0; i < a.kernels.size(); ++i) {
    EXPECT_EQ(a.kernels[i].exec_s, b.kernels[i].exec_s) << what;
    EXPECT_EQ(a.kernels[i].hbm_bytes, b.kernels[i].hbm_bytes) << what;
    EXPECT_EQ(a.kernels[i].bound_unit, b.kernels[i].bound_unit) << what;
    EXPECT_EQ(a.kernels[i].events.active_executor_s, b.kernels[i].events.active_executor_s) << what;
  }
  ASSERT_EQ(a.stats.all().size(), b.stats.all().size()) << what;
  for (const auto& [k, v] : a.stats.all()) {
    auto it = b.stats.all().find(k);
    ASSERT_NE(it, b.stats.all().end()) << what << ": " << k;
    EXPECT_EQ(v.value, it->second.value) << what << ": " << k;
  }
}
}  // namespace

TEST(WarmChip, AKernelOnTheWarmChipEqualsAFreshChip) {
  RunOptions keep;
  keep.keep_chip = true;
  for (const std::string name : {"h100-sxm", "tpu-v6e", "trn2", "maia200"}) {
    auto chip = load_chip(name, {});
    auto probe = lowered(*chip, "gemm", {{"m", "512"}, {"n", "1024"}, {"k", "768"}});
    const RunResult fresh = simulate(*chip, {probe}, {}, DType::bf16);
    const std::uint64_t reused_before = process_run_stats().reused_chips;
    // Warm the chip with other kernels (a GEMM that fills the caches and calendars, a row op), then
    // run the probe on it.
    simulate(*chip, {lowered(*chip, "gemm", {{"m", "1024"}, {"n", "2048"}, {"k", "1024"}})}, keep, DType::bf16);
    simulate(*chip, {lowered(*chip, "rmsnorm", {{"rows", "256"}, {"cols", "4096"}})}, keep, DType::bf16);
    const RunResult warm = simulate(*chip, {probe}, keep, DType::bf16);
    EXPECT_EQ(process_run_stats().reused_chips, reused_before + 2) << name;
    expect_same(warm, fresh, name);
    // A run that does not keep the chip (a traced or stepped one, say) replaces it with a fresh one.
    expect_same(simulate(*chip, {probe}, {}, DType::bf16), fresh, name + " after the warm chip");
  }
}

// KernelStudyOptions::keep_chip (validate's rows): the study's second kernel runs on the warm chip, and both
// studies equal one-shot studies on fresh chips, power-managed figures included.
TEST(WarmChip, KernelStudiesOnTheWarmChipEqualOneShotStudies) {
  auto chip = load_chip("h100-sxm", {});
  const OpSpec a = make_op("gemm", {{"m", "512"}, {"n", "1024"}, {"k", "768"}});
  const OpSpec b = make_op("gemm", {{"m", "1024"}, {"n", "512"}, {"k", "256"}});
  const KernelStudy fresh_a = run_kernel_study(*chip, a), fresh_b = run_kernel_study(*chip, b);
  KernelStudyOptions keep;
  keep.keep_chip = true;
  const std::uint64_t reused_before = process_run_stats().reused_chips;
  const KernelStudy warm_a = run_kernel_study(*chip, a, keep), warm_b = run_kernel_study(*chip, b, keep);
  EXPECT_EQ(process_run_stats().reused_chips, reused_before + 1);
  expect_same(warm_a.run.result, fresh_a.run.result, "first study");
  expect_same(warm_b.run.result, fresh_b.run.result, "second study");
  EXPECT_EQ(warm_b.run.result.tflops, fresh_b.run.result.tflops);
  EXPECT_EQ(warm_b.power.clock_ratio, fresh_b.power.clock_ratio);
}

// A warm chip creates the slot threads a workload can use that no earlier one did (Executor::release_parked,
// between runs) and wakes only those a workload can use: a row op after a one-slot GEMM (more resident tasks per
// SM: threads added), then the GEMM again (the row op's extra threads stay parked) equal fresh chips.
TEST(WarmChip, SlotThreadsAddedBetweenRunsEqualAFreshChip) {
  RunOptions keep;
  keep.keep_chip = true;
  for (const std::string name : {"h100-sxm", "maia200"}) {
    auto chip = load_chip(name, {});
    const KernelPrograms gemm = lowered(*chip, "gemm", {{"m", "512"}, {"n", "1024"}, {"k", "768"}});
    const KernelPrograms rows = lowered(*chip, "rmsnorm", {{"rows", "1024"}, {"cols", "4096"}});
    const RunResult fresh_gemm = simulate(*chip, {gemm}, {}, DType::bf16);
    const RunResult fresh_rows = simulate(*chip, {rows}, {}, DType::bf16);
    ASSERT_FALSE(fresh_rows.kernels.empty());
    const std::uint64_t reused_before = process_run_stats().reused_chips;
    expect_same(simulate(*chip, {gemm}, keep, DType::bf16), fresh_gemm, name + ": first run");
    expect_same(simulate(*chip, {rows}, keep, DType::bf16), fresh_rows, name + ": threads added");
    expect_same(simulate(*chip, {gemm}, keep, DType::bf16), fresh_gemm, name + ": threads left parked");
    const RunResult fresh_both = simulate(*chip, {rows, gemm}, {}, DType::bf16);  // drops the warm chip
    simulate(*chip, {gemm}, keep, DType::bf16);
    expect_same(simulate(*chip, {rows, gemm}, keep, DType::bf16), fresh_both, name + ": both in one run");
    EXPECT_GE(process_run_stats().reused_chips, reused_before + 2) << name;
  }
}
