// The hybrid stream-K decomposition of the GPU GEMM (kernels/common/stream_k.h): every K iteration of
// every stream-K tile covered once, units balanced within one iteration, whole waves left data-parallel,
// and the lowering's fixup moving exactly the partial tiles.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "chips/gpu/isa.h"
#include "kernels/gemm/gpu.h"
#include "kernels/common/stream_k.h"
#include "tests/unit/kernels/gpu_spec_util.h"

using namespace xpu;
using namespace xpu::gpu;

namespace {
OpSpec gemm(std::int64_t m, std::int64_t n, std::int64_t k) {
  OpSpec o;
  o.kind = OpKind::Gemm;
  o.label = "t";
  o.m = m, o.n = n, o.k = k;
  o.dtype = o.wdtype = o.odtype = DType::bf16;
  return o;
}
}  // namespace

TEST(GpuGemmStreamK, EveryKIterationOfEveryTileOnceAndUnitsBalanced) {
  // (tiles, K iterations per tile, blocks per wave): 3072^3 at 128x256 and 128x128 on 132 SMs, a tail of
  // one tile, fewer tiles than a wave, and units that each span several tiles.
  for (auto [tiles, ksteps, slots] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{288, 48, 132}, {576, 48, 132},
                                      {133, 64, 132}, {5, 12, 4}, {300, 9, 132}, {40, 100, 132}}) {
    const StreamKPlan p = plan_stream_k(tiles, ksteps, slots);
    ASSERT_TRUE(p.active()) << tiles << " tiles";
    EXPECT_EQ(p.dp_tiles + p.sk_tiles, tiles);
    EXPECT_EQ(p.dp_tiles % slots, 0) << "data-parallel tiles are whole waves";
    EXPECT_LE(p.sk_units, slots);
    std::map<std::int64_t, std::vector<int>> covered;  // tile -> times each K iteration is covered
    std::map<std::int64_t, std::set<int>> peers;
    std::int64_t least = ksteps * tiles, most = 0;
    for (std::int64_t u = 0; u < p.sk_units; ++u) {
      std::int64_t iters = 0;
      for (const StreamKSegment& s : stream_k_segments(p, u)) {
        ASSERT_LT(s.tile, p.sk_tiles);
        auto& c = covered[s.tile];
        c.resize(static_cast<size_t>(ksteps));
        for (std::int64_t k = s.kbeg; k < s.kend; ++k) c[static_cast<size_t>(k)]++;
        EXPECT_EQ(s.peer == 0, s.kbeg == 0) << "the owner is the segment that starts the tile";
        EXPECT_TRUE(peers[s.tile].insert(s.peer).second) << "two segments share a workspace slot";
        iters += s.kend - s.kbeg;
      }
      EXPECT_GE(iters, 8) << "CUTLASS's least K iterations per unit";
      least = std::min(least, iters), most = std::max(most, iters);
    }
    EXPECT_LE(most - least, 1) << "units balanced within one K iteration";
    ASSERT_EQ(static_cast<std::int64_t>(covered.size()), p.sk_tiles);
    for (auto& [tile, c] : covered) {
      for (int n : c) EXPECT_EQ(n, 1) << "tile " << tile;
      EXPECT_EQ(static_cast<int>(peers[tile].size()), stream_k_contributors(p, tile));
      EXPECT_EQ(*peers[tile].rbegin(), stream_k_contributors(p, tile) - 1) << "peer slots are 0..contributors-1";
    }
  }
}

TEST(GpuGemmStreamK, WholeWavesAndLongTailsStayDataParallel) {
  EXPECT_FALSE(plan_stream_k(132, 48, 132).active()) << "one whole wave";
  EXPECT_FALSE(plan_stream_k(528, 48, 132).active()) << "four whole waves";
  EXPECT_FALSE(plan_stream_k(200, 48, 132).active()) << "a tail of half a wave or more (CUTLASS's heuristic)";
  EXPECT_FALSE(plan_stream_k(133, 8, 132).active()) << "8 K iterations or fewer: nothing to split";
  // The chooser: 132 tiles of 128x256 (1536 x 2816) are one whole wave on the H100's 132 SMs.
  const GpuSpec s = h100_spec();
  const GemmTiling whole = choose_gemm_tiling(gemm(1536, 2816, 4096), s);
  EXPECT_FALSE(whole.stream_k) << whole.str();
  // 3072^3 (our H13/H14: 4.4 waves of 128x128 tiles, 2.2 of 128x256) runs stream-K, as the libraries do.
  const GemmTiling cube = choose_gemm_tiling(gemm(3072, 3072, 3072), s);
  EXPECT_TRUE(cube.stream_k) << cube.str();
  EXPECT_EQ(cube.split_k, 1);
  // Operands that outgrow the L2 (B of 470 MB and 1 GB): units at different K offsets would re-read them from
  // HBM, which the estimate counts, so these stay whole tiles (the simulation ran M512 N28672 K8192 27% slower
  // as stream-K, and M512 N128256 K4096 4% slower).
  for (auto [m, n, k] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{512, 28672, 8192}, {512, 128256, 4096}})
    EXPECT_FALSE(choose_gemm_tiling(gemm(m, n, k), s).stream_k) << m << "x" << n << "x" << k;
  GpuSpec off = s;
  off.sm.stream_k = false;
  EXPECT_FALSE(choose_gemm_tiling(gemm(3072, 3072, 3072), off).stream_k);
}

// Hopper's stream-K scheduler runs only in CUTLASS's cooperative kernel (128-row tiles and up; the ping-pong
// kernel static-asserts against it), so a 64-row tile runs whole or split-K: sm.stream_k_min_rows.
TEST(GpuGemmStreamK, SixtyFourRowTilesAreNotStreamK) {
  const GpuSpec s = h100_spec();
  ASSERT_EQ(s.sm.stream_k_min_rows, 128);
  OpSpec fp8 = gemm(64, 2112, 7168);  // our H222: torch._scaled_mm, 33 tiles of 64x64 on 132 SMs
  fp8.dtype = fp8.wdtype = DType::fp8;
  GpuSpec any = s;
  any.sm.stream_k_min_rows = 0;
  const GemmTiling was = choose_gemm_tiling(fp8, any);
  ASSERT_TRUE(was.stream_k && was.bm == 64) << "without the limit the chooser takes a 64-row stream-K tile: " << was.str();
  for (const OpSpec& op : {fp8, gemm(8, 4096, 4096), gemm(32, 4096, 4096)}) {
    const GemmTiling t = choose_gemm_tiling(op, s);
    EXPECT_TRUE(!t.stream_k || t.bm >= 128) << op.m << "x" << op.n << "x" << op.k << ": " << t.str();
  }
  // 3072^3 keeps its 128-row stream-K tiles.
  EXPECT_TRUE(choose_gemm_tiling(gemm(3072, 3072, 3072), s).stream_k);
}

TEST(GpuGemmStreamK, LoweringFixupMovesExactlyThePartialTiles) {
  GpuSpec s = h100_spec();
  s.sm.count = 4;  // 5 tiles of 128x128 on 4 SMs: one whole tile and a one-tile tail, all of it stream-K
  const OpSpec op = gemm(640, 128, 768);
  GemmTiling t = choose_gemm_tiling(op, s);
  t.bm = t.bn = 128, t.blocks_per_sm = 1, t.split_k = 1, t.stream_k = true;
  const StreamKPlan p = plan_stream_k(5, 768 / t.bk, 4);
  ASSERT_TRUE(p.active());
  double partial_bytes = 0;
  for (std::int64_t tile = 0; tile < p.sk_tiles; ++tile) partial_bytes += (stream_k_contributors(p, tile) - 1) * 128.0 * 128 * 4;
  ASSERT_GT(partial_bytes, 0);
  LowerOptions lo;
  const KernelPrograms progs = lower_gemm(op, s, lo, t);
  ASSERT_EQ(progs.size(), 1u);
  EXPECT_EQ(progs[0].num_tasks, static_cast<std::uint64_t>(p.sk_units + p.dp_tiles));
  double flops = 0, stored = 0, loaded = 0, out = 0;
  std::map<std::uint64_t, int> c_writes;
  for (std::uint64_t i = 0; i < progs[0].num_tasks; ++i) {
    Task task;
    progs[0].make_task(i, task);
    for (const auto& in : task.instrs) {
      if (in.kind == TxKind::TileCompute) flops += static_cast<double>(in.flops);
      if (in.kind == TxKind::DmaWrite && memory_level(in.level) == kL2) stored += in.bytes;
      if (in.kind == TxKind::DmaRead && memory_level(in.level) == kL2 && in.bytes > 128) loaded += in.bytes;  // not the 128-byte flag polls
      if (in.kind == TxKind::DmaWrite && memory_level(in.level) == kGlobal) out += in.bytes, c_writes[in.addr]++;
      for (auto d : in.dep) EXPECT_TRUE(d == kNoDep || d < task.instrs.size());
    }
  }
  EXPECT_DOUBLE_EQ(flops, op.flops());
  EXPECT_DOUBLE_EQ(stored, partial_bytes) << "each non-owner segment stores one fp32 partial tile";
  EXPECT_DOUBLE_EQ(loaded, partial_bytes) << "each owner reads back its peers' partials";
  EXPECT_DOUBLE_EQ(out, 640.0 * 128 * 2);
  EXPECT_EQ(c_writes.size(), 5u);
  for (auto& [addr, n] : c_writes) EXPECT_EQ(n, 1) << "output tile written twice";
}
