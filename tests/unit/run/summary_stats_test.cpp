// A summary run (RunOptions::summary, the model runtime's kernels) derives each kernel's bound and clock
// sensitivity from the units' utilization without building the chip's named stats
// (Chip::engine_utilization, summary_unit_utilization in sim/run/runner.cpp): it must give the figures a
// full run derives from its stats exactly, on every family and on a warm chip.
#include <gtest/gtest.h>

#include "sim/run/registry.h"
#include "sim/run/runner.h"

using namespace xpu;

namespace {
OpSpec gemm(std::int64_t m, std::int64_t n, std::int64_t k) {
  OpSpec op;
  op.kind = OpKind::Gemm;
  op.m = m, op.n = n, op.k = k;
  op.dtype = op.wdtype = op.odtype = DType::bf16;
  return op;
}

void expect_same_kernels(const RunResult& full, const RunResult& summary, const std::string& what) {
  ASSERT_EQ(full.kernels.size(), summary.kernels.size()) << what;
  EXPECT_EQ(full.latency_s, summary.latency_s) << what;
  for (size_t i = 0; i < full.kernels.size(); ++i) {
    const KernelResult& a = full.kernels[i];
    const KernelResult& b = summary.kernels[i];
    EXPECT_EQ(a.bound, b.bound) << what << " kernel " << i;
    EXPECT_EQ(a.bound_unit, b.bound_unit) << what << " kernel " << i;
    EXPECT_EQ(a.bound_share, b.bound_share) << what << " kernel " << i;  // exact: the same sums in the same order
    EXPECT_EQ(a.events.dram_busy_s, b.events.dram_busy_s) << what << " kernel " << i;
    for (size_t c = 0; c < a.events.extra_s.size(); ++c)
      EXPECT_EQ(a.events.extra_s[c], b.events.extra_s[c]) << what << " kernel " << i << " clock " << c;
  }
  for (size_t c = 0; c < full.events.extra_s.size(); ++c) EXPECT_EQ(full.events.extra_s[c], summary.events.extra_s[c]) << what;
}
}  // namespace

TEST(SummaryStats, UnitUtilizationOfASummaryRunEqualsTheFullStats) {
  for (const std::string chip_name : {"h100-sxm", "tpu-v6e", "trn2", "maia200"}) {
    auto chip = load_chip(chip_name);
    // A compute-bound and a memory-bound shape (the memory's own utilization stats then lead).
    for (const OpSpec& op : {gemm(512, 512, 512), gemm(8, 2048, 2048)}) {
      const std::string what = chip_name + " " + op.shape_str();
      RunOptions full, summary;
      summary.summary = true;
      const RunResult a = simulate(*chip, {chip->lower(op, LowerOptions{})}, full, op.dtype);
      const RunResult b = simulate(*chip, {chip->lower(op, LowerOptions{})}, summary, op.dtype);
      EXPECT_FALSE(a.kernels.empty()) << what;
      expect_same_kernels(a, b, what);
      // On the warm chip (as run_step_graph runs them), twice: the chip's cached keys are reused.
      summary.keep_chip = true;
      for (int rep = 0; rep < 2; ++rep)
        expect_same_kernels(a, simulate(*chip, {chip->lower(op, LowerOptions{})}, summary, op.dtype), what + " warm");
    }
  }
}

// A kernel's HBM busy time (EnergyEvents::dram_busy_s, what a KV transfer's DMA beside it meets: disagg.h) is its
// execution time x its memory's busy share as the simulation saw it: most of a memory-bound GEMV's time (92% on an
// H100), less than half of a compute-bound GEMM's; summed over the kernels into the run's events.
TEST(SummaryStats, AKernelsHbmBusyTimeIsItsMemorysBusyShare) {
  auto chip = load_chip("h100-sxm");
  RunOptions summary;
  summary.summary = true;
  auto share = [&](const OpSpec& op) {
    const RunResult r = simulate(*chip, {chip->lower(op, LowerOptions{})}, summary, op.dtype);
    double busy = 0, exec = 0;
    for (const KernelResult& k : r.kernels) busy += k.events.dram_busy_s, exec += k.exec_s;
    EXPECT_DOUBLE_EQ(r.events.dram_busy_s, busy);
    return busy / exec;
  };
  const double gemv = share(gemm(8, 8192, 8192)), square = share(gemm(4096, 4096, 4096));
  EXPECT_GT(gemv, 0.6);
  EXPECT_LE(gemv, 1.0);
  EXPECT_GT(square, 0);
  EXPECT_LT(square, 0.5);  // 43% (tiles re-read past the L2): not the bound of a GEMM its tensor cores bound
  EXPECT_LT(square, gemv - 0.3);
  EXPECT_DOUBLE_EQ(memory_busy_share({{"sm.tensor", 0.9}, {"hbm", 0.3}, {"mem.dram", 0.4}}), 0.4);
  EXPECT_DOUBLE_EQ(memory_busy_share({{"sm.tensor", 0.9}}), 0.0);
}
