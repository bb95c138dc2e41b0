// The TensorCore's HBM copies with hand-written programs: a copy's first bytes arrive one access
// latency after it starts and it then streams at the core's DMA rate (OpenXLA's TPU cost model adds the
// two), a copy queued behind another hides its latency, and where the HBM's share is the slower
// stream (v5e) that stream sets the time.
#include <gtest/gtest.h>

#include <algorithm>

#include "chips/tpu/isa.h"
#include "kernels/tpu_builders.h"
#include "sim/run/registry.h"
#include "sim/run/runner.h"

namespace xpu {
void register_tpu_family();
}

using namespace xpu;
using namespace xpu::tpu;

namespace {

// Seconds from the first copy's start to the last one's end: `reads` HBM->VMEM copies and `writes`
// VMEM->HBM copies of `bytes` each, all issued at once on one TensorCore.
double copies_s(const std::string& chip_name, int reads, int writes, std::uint64_t bytes) {
  register_tpu_family();
  auto chip = load_chip(chip_name, {"tensorcores=1"});
  Program p;
  p.name = "copies";
  p.num_tasks = 1;
  p.static_placement = true;
  p.make_task = [=](std::uint64_t, Task& t) {
    for (int i = 0; i < reads; ++i) t.add(dma_in(DType::bf16, (1ull << 32) * (i + 1), bytes));
    for (int i = 0; i < writes; ++i) t.add(dma_out(DType::bf16, (1ull << 40) + (1ull << 32) * i, bytes));
  };
  RunOptions ro;
  ro.trace = true;
  RunResult r = simulate(*chip, {{p}}, ro, DType::bf16);
  std::int64_t first = -1, last = 0;
  for (const auto& rec : r.trace) {
    if (r.unit_names[rec.unit].find(".dma_") == std::string::npos) continue;
    if (first < 0 || rec.start_ps < first) first = rec.start_ps;
    last = std::max<std::int64_t>(last, rec.end_ps);
  }
  return static_cast<double>(last - first) / 1e12;
}

constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

// tpu-v7 (OpenXLA's TPU7x constants: 692 ns in, 594 ns out, 3207 GB/s per TensorCore; its HBM share,
// 0.9 x 7.38 TB/s, is the faster stream).
TEST(TpuDma, ACopyTakesItsLatencyThenStreamsAtTheDmaRate) {
  const double rate = 3207e9;
  EXPECT_NEAR(copies_s("tpu-v7", 1, 0, 1 << 20) / (692e-9 + kMiB / rate), 1.0, 0.01);
  EXPECT_NEAR(copies_s("tpu-v7", 0, 1, 1 << 20) / (594e-9 + kMiB / rate), 1.0, 0.01);
  EXPECT_NEAR(copies_s("tpu-v7", 1, 0, 16 << 20) / (692e-9 + 16 * kMiB / rate), 1.0, 0.01);
}

// Two copies issued together share the core's DMA path: one latency, then both streams back to back
// (OpenXLA's _dma_latency: the total transfer time plus the latency of the last copy to complete).
TEST(TpuDma, ACopyQueuedBehindAnotherHidesItsLatency) {
  const double rate = 3207e9;
  EXPECT_NEAR(copies_s("tpu-v7", 2, 0, 1 << 20) / (692e-9 + 2 * kMiB / rate), 1.0, 0.01);
  EXPECT_NEAR(copies_s("tpu-v7", 4, 0, 1 << 20) / (692e-9 + 4 * kMiB / rate), 1.0, 0.01);
}

// v5e: the core's DMA rate is the HBM's 819 GB/s, its HBM stream 0.9 of it, so the HBM stream plus its
// latency (150 ns) sets the end, as before the DMA path waited for its first bytes.
TEST(TpuDma, TheSlowerHbmStreamStillSetsTheEnd) {
  EXPECT_NEAR(copies_s("tpu-v5e", 1, 0, 4 << 20) / (150e-9 + 4 * kMiB / (0.9 * 819e9)), 1.0, 0.01);
}
