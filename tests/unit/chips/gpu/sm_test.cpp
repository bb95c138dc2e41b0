// The SM model on hand-written programs: engines overlap, MMA time follows the tensor rate, DMA
// latency and bandwidth follow the memory system, and occupancy follows the CUDA rule.
#include <gtest/gtest.h>

#include "chips/gpu/isa.h"
#include "sim/run/registry.h"
#include "sim/run/runner.h"

using namespace xpu;

namespace {
Program hand_program(std::function<void(Task&)> body, std::uint64_t tasks = 1) {
  Program p;
  p.name = "hand";
  p.num_tasks = tasks;
  p.make_task = [body](std::uint64_t, Task& t) { body(t); };
  return p;
}
Instr mma(std::uint32_t m, std::uint32_t n, std::uint32_t k) {
  Instr i;
  i.kind = TxKind::TileCompute;
  i.engine = gpu::kTensor;
  i.m = m, i.n = n, i.k = k;
  i.flops = 2ull * m * n * k;
  return i;
}
}  // namespace

TEST(GpuSm, MmaTimeFollowsTheTensorRate) {
  auto chip = load_chip("h100-sxm", {"sm.count=1", "launch_overhead=0us", "sm.block_launch_latency=0ns",
                                     "sm.mma_efficiency=1.0"});
  auto prog = hand_program([](Task& t) {
    for (int i = 0; i < 10; ++i) t.add(mma(128, 256, 64));
  });
  RunResult r = simulate(*chip, {{prog}}, {}, DType::bf16);
  double cycles = 10 * 2.0 * 128 * 256 * 64 / 4096;
  EXPECT_NEAR(r.latency_s, cycles / 1.83e9, 1e-9);
}

TEST(GpuSm, DmaOverlapsWithMmaOnSeparateEngines) {
  auto chip = load_chip("h100-sxm", {"sm.count=1", "launch_overhead=0us", "sm.block_launch_latency=0ns"});
  auto serial = hand_program([](Task& t) {
    std::uint32_t prev = kNoDep;
    for (int i = 0; i < 8; ++i) {
      Instr l;
      l.kind = TxKind::DmaRead;
      l.engine = gpu::kTma;
      l.addr = static_cast<std::uint64_t>(i) << 20;
      l.bytes = 32768;
      l.dep[0] = prev;
      std::uint32_t il = t.add(l);
      Instr c = mma(128, 256, 64);
      c.dep[0] = il;
      prev = t.add(c);
    }
  });
  auto overlapped = hand_program([](Task& t) {
    for (int i = 0; i < 8; ++i) {
      Instr l;
      l.kind = TxKind::DmaRead;
      l.engine = gpu::kTma;
      l.addr = static_cast<std::uint64_t>(i) << 20;
      l.bytes = 32768;
      std::uint32_t il = t.add(l);
      Instr c = mma(128, 256, 64);
      c.dep[0] = il;
      t.add(c);
    }
  });
  double ts = simulate(*chip, {{serial}}, {}, DType::bf16).latency_s;
  double to = simulate(*chip, {{overlapped}}, {}, DType::bf16).latency_s;
  EXPECT_LT(to, 0.8 * ts);
  EXPECT_GT(to, 8 * 2.0 * 128 * 256 * 64 / 4096 / 1.83e9);  // never faster than the MMAs alone
}

// A joined copy (Instr::k of a DMA, kernels' build::join) completes for its dependants no earlier than the
// copy it joins: an MMA after a small copy joined to a large one starts once the large one is in.
TEST(GpuSm, AJoinedCopyCompletesNoEarlierThanTheCopyItJoins) {
  auto chip = load_chip("h100-sxm", {"sm.count=1", "launch_overhead=0us", "sm.block_launch_latency=0ns"});
  // A copy from HBM (an L2 miss), then one the L2 serves (it completes first, the link being free by
  // then), then an MMA after the second: parts 1 the first copy alone, 2 the second copy and the MMA,
  // 3 all three, 4 all three with the second copy joined to the first.
  auto program = [](int parts) {
    return hand_program([parts](Task& t) {
      Instr miss;
      miss.kind = TxKind::DmaRead;
      miss.engine = gpu::kTma;
      miss.bytes = 128;
      const std::uint32_t im = parts != 2 ? t.add(miss) : kNoDep;
      if (parts == 1) return;
      Instr hit = miss;
      hit.addr = 1ull << 30, hit.level = gpu::kL2;
      if (parts == 4) hit.k = im + 1;  // what build::join(hit, im) sets
      Instr c = mma(64, 64, 64);
      c.dep[0] = t.add(hit);
      t.add(c);
    });
  };
  auto latency = [&](int parts) { return simulate(*chip, {{program(parts)}}, {}, DType::bf16).latency_s; };
  const double copy = latency(1), compute = latency(2), apart = latency(3), joined = latency(4);
  ASSERT_LT(compute, copy);  // the L2 hit and the MMA end before the miss
  EXPECT_NEAR(apart, copy, 1e-12);
  EXPECT_GT(joined, copy);  // the MMA waited for the miss
}

// An mma.sync step (GpuSpec::mma_sync_step) whose ldmatrix operands take as long in the shared-memory pipe as its
// MMAs on the tensor cores (512 cycles each: 128x128x64 bf16 at 4096 flops/clk, 64 KiB at 128 B/clk), ten of them
// in a dependent chain per block. One block's warps load, then compute, in step (they meet at a barrier every
// step): smem + mma a step whatever their number, twice that where each warp keeps its sub-partition busy only
// half the time. The step holds the tensor engine for max(smem, mma) only, so a second block on the SM runs its
// loads beside the first's MMAs: two blocks take about one block's time, where the old serial booking (the engine
// held smem + mma) took twice one block's.
TEST(GpuSm, MmaSyncLoadsOverlapAnotherBlocksMmas) {
  auto latency_cycles = [](unsigned warps, double share, int blocks) {
    auto chip = load_chip("h100-sxm", {"sm.count=1", "launch_overhead=0us", "sm.block_launch_latency=0ns",
                                       "sm.mma_sync_fraction=1.0", "sm.warp_mma_sync_share=" + std::to_string(share)});
    auto prog = hand_program(
        [warps](Task& t) {
          std::uint32_t prev = kNoDep;
          for (int i = 0; i < 10; ++i) {
            Instr c = mma(128, 128, 64);
            c.level = gpu::mma_sync_level(warps);
            c.bytes = 65536;
            c.dep[0] = prev;
            prev = t.add(c);
          }
        },
        static_cast<std::uint64_t>(blocks));
    return simulate(*chip, {{prog}}, {}, DType::bf16).latency_s * 1.83e9;
  };
  EXPECT_NEAR(latency_cycles(4, 1.0, 1), 10 * 1024, 12);         // one block: ldmatrix, then the MMAs
  EXPECT_NEAR(latency_cycles(16, 0.5, 1), 10 * 1024, 12);        // four warps per sub-partition: still in step
  EXPECT_NEAR(latency_cycles(0, 1.0, 1), 10 * 1024, 12);         // warps not stated: the same
  EXPECT_NEAR(latency_cycles(4, 0.5, 1), 10 * 2048, 12);         // one warp per sub-partition at its share
  // A second block in the other's gaps: one block's time and a step or two (the first block runs a step ahead
  // while the second starts), far below the 2 x 10 x 1024 of the engine held for smem + mma.
  for (auto [warps, share, step] : {std::tuple{4u, 1.0, 1024.0}, {16u, 0.5, 1024.0}, {4u, 0.5, 2048.0}}) {
    const double two = latency_cycles(warps, share, 2);
    EXPECT_GE(two, 10 * step + 512 - 12) << warps << " warps at " << share;
    EXPECT_LE(two, 11.5 * step + 12) << warps << " warps at " << share;
  }
  // Four blocks: bound by the engine, 4 x 10 x max(smem, mma), and a start-up step.
  EXPECT_GE(latency_cycles(4, 1.0, 4), 40 * 512 - 24);
  EXPECT_LE(latency_cycles(4, 1.0, 4), 40 * 512 + 1024 + 24);
}

TEST(GpuSm, WavesQuantizeAcrossSms) {
  // 4 SMs, tasks of equal length: 4 tasks take one wave, 5 tasks take two.
  auto chip = load_chip("h100-sxm", {"sm.count=4", "launch_overhead=0us"});
  auto body = [](Task& t) {
    t.smem_bytes = 200 * 1024;  // one resident block per SM
    for (int i = 0; i < 4; ++i) t.add(mma(128, 256, 64));
  };
  double t4 = simulate(*chip, {{hand_program(body, 4)}}, {}, DType::bf16).latency_s;
  double t5 = simulate(*chip, {{hand_program(body, 5)}}, {}, DType::bf16).latency_s;
  EXPECT_NEAR(t5 / t4, 2.0, 0.05);
}

TEST(GpuSm, RepeatedRunsAreBitIdentical) {
  auto chip = load_chip("h100-sxm");
  OpSpec op;
  op.kind = OpKind::Gemm;
  op.m = 512, op.n = 1024, op.k = 768;
  LowerOptions lo;
  RunResult a = simulate(*chip, {chip->lower(op, lo)}, {}, DType::bf16);
  RunResult b = simulate(*chip, {chip->lower(op, lo)}, {}, DType::bf16);
  EXPECT_EQ(a.latency_s, b.latency_s);
  EXPECT_EQ(a.transactions, b.transactions);
  EXPECT_EQ(a.stats.get("chip.mem.hbm.bytes_read"), b.stats.get("chip.mem.hbm.bytes_read"));
}

// NVIDIA's HBM sizes ("80GB", "141GB", "180GB") are binary: the presets state the memory the device
// reports (nvidia-smi memory.total), in GiB, as the TPU, Trainium and Maia presets do. The decimal reading
// (80 GB = 74.5 GiB) understated the memory a serving framework budgets by 7%.
TEST(GpuPresets, MemoryIsStatedInGiBAsTheDeviceReportsIt) {
  const std::pair<const char*, double> gib[] = {{"h100-sxm", 81559.0 / 1024}, {"h200", 143771.0 / 1024},
                                                {"b200", 183359.0 / 1024}, {"a100-sxm", 80.0}};
  for (const auto& [name, want] : gib) {
    auto chip = load_chip(name);
    const double have = chip->dram_capacity() / (1024.0 * 1024 * 1024);
    EXPECT_NEAR(have / want, 1.0, 0.005) << name << ": " << have << " GiB";
  }
}
