// GPU mechanisms checked against measurements: the fixed costs of small kernels, split-K reduced
// inside the GEMM kernel, TF32 GEMMs on H100, and large BF16 GEMMs on B200 (2-SM MMA).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "chips/gpu/gpu_spec.h"
#include "chips/gpu/isa.h"
#include "kernels/attention/gpu.h"
#include "kernels/gemm/gpu.h"
#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"
#include "sim/validation/validate.h"

using namespace xpu;

namespace {
std::vector<ValidationRow> rows_of(const char* file) {
  for (const auto& f : default_measurement_files())
    if (f.find(file) != std::string::npos) return read_measurements(f);
  ADD_FAILURE() << file << " is not among the validation files";
  return {};
}

gpu::GpuSpec gpu_spec(const char* preset) {
  ConfigTree t = ConfigTree::load_file(std::string(XPUSIM_SOURCE_DIR) + "/chips/gpu/presets/" + preset);
  gpu::GpuSpec s;
  Params p(Params::Mode::Load, &t);
  describe(p, s);
  return s;
}

OpSpec gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType d = DType::bf16) {
  return make_op("gemm", {{"m", std::to_string(m)}, {"n", std::to_string(n)}, {"k", std::to_string(k)}, {"dtype", name(d)}});
}

// Bytes the lowered GEMM's tasks read from operand `which` ("A" or "B") by DMA.
double operand_read_bytes(const OpSpec& op, const gpu::GpuSpec& s, const gpu::GemmTiling& t, const char* which) {
  LowerOptions lo;
  const TensorRef r = lo.ref(op.label, which);
  double bytes = 0;
  for (const Program& p : gpu::lower_gemm(op, s, lo, t))
    for (std::uint64_t i = 0; i < p.num_tasks; ++i) {
      Task task;
      p.make_task(i, task);
      for (const auto& in : task.instrs)
        if (in.kind == TxKind::DmaRead && in.addr >= r.addr && in.addr < r.addr + (1ull << 40)) bytes += in.bytes;
    }
  return bytes;
}
}  // namespace

// Every GEMM and attention kernel row of our H100 measurements that ran in under 10 us (CUDA-graph
// replays, so each includes its launch): small kernels are dominated by fixed costs (launch, block
// start, tensor-map fetch, pipeline prologue and epilogue). The row-wise and elementwise rows have their
// own test (rowwise_validation_test.cpp). Source: workloads/validation/h100_measured.csv (H100 SXM,
// PyTorch 2.11, 2026-11-22).
TEST(GpuFixedCosts, SmallH100KernelsAreNotSystematicallyFast) {
  std::vector<ValidationRow> small;
  for (const auto& r : rows_of("h100_measured.csv"))
    if (r.level == "kernel" && r.metric == "latency" && r.unit == "us" && r.measured < 10.0 &&
        (r.workload.rfind("GEMM", 0) == 0 || r.workload.rfind("attention", 0) == 0))
      small.push_back(r);
  const auto pts = validate_rows(small);
  ASSERT_GE(pts.size(), 6u);
  double signed_sum = 0;
  for (const auto& p : pts) {
    EXPECT_GE(p.predicted, p.roofline) << p.row.id << ": faster than physics allows";
    EXPECT_LE(std::fabs(p.error), 0.25) << p.row.id << " " << p.row.shape << " predicted " << p.predicted;
    signed_sum += p.error;
  }
  EXPECT_LE(std::fabs(signed_sum / static_cast<double>(pts.size())), 0.15) << "small kernels are systematically off";
}

// A TMA GEMM runs in 2-CTA clusters (B multicast, or one 2-SM MMA): each SM's first block of the kernel waits
// for its cluster's launch and barrier (sm.cluster_launch_latency) once, as a persistent CUTLASS/cuBLAS
// kernel's prologue does, not once per tile; a GEMM without TMA (rows not 16-byte aligned) forms no cluster.
TEST(GpuFixedCosts, ClusterGemmsWaitForTheirClusterOncePerSm) {
  const gpu::GpuSpec s = gpu_spec("h100_sxm.yaml");
  LowerOptions lo;
  EXPECT_EQ(gpu::lower_gemm(gemm(64, 64, 64), s, lo)[0].cluster_size, 2);
  EXPECT_EQ(gpu::lower_gemm(gemm(4095, 4097, 4096), s, lo)[0].cluster_size, 1);
  auto latency = [](const char* wait, const OpSpec& op) {
    auto chip = load_chip("h100-sxm", {std::string("sm.cluster_launch_latency=") + wait});
    return run_kernel(*chip, op, false, false).result.latency_s;
  };
  for (const OpSpec& op : {gemm(64, 64, 64), gemm(4096, 4096, 4096)})
    EXPECT_NEAR(latency("1us", op) - latency("0us", op), 1e-6, 0.05e-6) << op.m;
  EXPECT_DOUBLE_EQ(latency("1us", gemm(1023, 1025, 1024)), latency("0us", gemm(1023, 1025, 1024)));
}

// B200 BF16 GEMM kernel times (pytorch/ao PR #2427: profiler kernel durations on a B200, cuBLAS via
// nn.Linear). Small shapes test the fixed costs; large ones the share of peak Blackwell sustains.
TEST(GpuBlackwell, B200GemmKernelTimesAndShareOfPeak) {
  const auto pts = validate_rows(rows_of("public_measurements.csv"), "TAO-B");
  ASSERT_EQ(pts.size(), 7u);
  const double peak = 2.25e15;  // [GK-B200] dense BF16, the peak the source's pct_peak refers to
  for (const auto& p : pts) {
    EXPECT_EQ(p.chip, "b200");
    EXPECT_GE(p.predicted, p.roofline) << p.row.id;
    EXPECT_LE(std::fabs(p.error), 0.25) << p.row.id << " predicted " << p.predicted << " us";
    const double n = std::stod(p.row.id.substr(5));
    if (n < 4096) continue;
    // The source measured 62.7% (4096^3), 64.6% (6144^3) and 63.1% (8192^3) of 2.25 PFLOPS with the
    // cuBLAS of mid-2025; issue 14 reports about 75% from newer public runs. The model must land in
    // that band, not at the 55% of Hopper's per-SM paths. The top is 0.82 since l2.bandwidth took Chips and
    // Cheese's measured 16.8 TB/s (was an assumed 16): 8192^3 runs at 81.5%, 6144^3 at 80.0% (were 79/78%).
    // Above the published shares, a known gap not in the L2 slices (README, "The B200's L2 bandwidth").
    const double share = 2 * n * n * n / (p.predicted * 1e-6) / peak;
    EXPECT_GE(share, 0.60) << p.row.id;
    EXPECT_LE(share, 0.82) << p.row.id;
  }
}

// B200 NVFP4 GEMM (flashinfer PR #1979, mm_fp4's CUTLASS backend, M1024 N7168 K4608: 3370 TFLOPS). A known
// gap (README, "Why the B200 NVFP4 rows are fast"): +27.1% before the block scales travelled with the tiles
// (2026-12-05, branch bw31), +21.9% since, +10.3% with the block-scale wait on (2026-12-06, branch b200k40); the
// rest is not located. Held to its own bound, so the gap can
// neither widen unnoticed nor close without this bound being tightened.
TEST(GpuBlackwell, B200Nvfp4GemmRowIsAKnownGapWithinItsBound) {
  const auto pts = validate_rows(rows_of("public_measurements.csv"), "FI-B");
  ASSERT_EQ(pts.size(), 1u);
  const auto& p = pts.front();
  EXPECT_EQ(p.chip, "b200");
  EXPECT_LE(p.predicted, p.roofline) << "throughput above the fp4 roofline";
  EXPECT_GT(p.error, 0.0) << "the model is expected fast here (known gap); tighten this test if it closed";
  EXPECT_LE(p.error, 0.15) << "predicted " << p.predicted << " TFLOP/s";  // 0.25 before 2026-12-06 (+21.1%)
}

// B200 NVFP4 GEMM kernel times from the same pytorch/ao PR #2427 run as the TAO-B bf16 rows (torch._scaled_mm,
// cuBLASLt, called right after each bf16 reference). The large shapes test the fp4 rate and the clock a burst
// holds: 4096^3-8192^3 within 12% (2026-12-06: -5.6/-1.5/-9.5%; -0.5/+3.5/-5.0% with the block-scale wait on and
// the fp4 MAC energy at the rated 0.25 x BF16, branch b200k40), where the same run's bf16 rows are 11-19% fast. The
// small ones are a known gap: 1024^3-3072^3 take 2.2-4.1 us more than the model (-48..-17%; 2.4-4.4 us before the
// wait), a per-kernel cost of cuBLASLt's block-scaled GEMMs not located (README "The NVFP4 rows of the TAO run",
// "The B200's block-scale wait on"). Held so that the gap can neither widen unnoticed nor close without this bound
// being tightened.
TEST(GpuBlackwell, B200Nvfp4CublasRowsLargeWithinBoundSmallAKnownGap) {
  const auto pts = validate_rows(rows_of("public_measurements.csv"), "TAO4-B");
  ASSERT_EQ(pts.size(), 7u);
  for (const auto& p : pts) {
    EXPECT_EQ(p.chip, "b200");
    EXPECT_GE(p.predicted, p.roofline) << p.row.id;
    const double n = std::stod(p.row.id.substr(6));
    if (n >= 4096) {
      EXPECT_LE(std::fabs(p.error), 0.12) << p.row.id << " predicted " << p.predicted << " us";
    } else {
      EXPECT_LT(p.error, -0.15) << p.row.id << ": known gap (fast); tighten this test if it closed";
      EXPECT_GT(p.error, -0.60) << p.row.id << " predicted " << p.predicted << " us";
      const double missing_us = p.row.measured - p.predicted;
      EXPECT_GT(missing_us, 2.0) << p.row.id;
      EXPECT_LT(missing_us, 5.0) << p.row.id;
    }
  }
}

// Block-scaled fp4 GEMMs: every tile has 128 rows per SM (CUTLASS's sm100 MXF4NVF4 MMA shapes), and each A and
// B tile is copied with its scales, one byte per 16 elements (NVFP4) or per 32 (MXFP4).
TEST(GpuBlackwell, Fp4TilesKeep128RowsAndCarryTheirBlockScales) {
  const gpu::GpuSpec s = gpu_spec("b200.yaml");
  for (const OpSpec& op : {gemm(128, 2048, 7168, DType::fp4), gemm(512, 2048, 7168, DType::fp4), gemm(8192, 8192, 8192, DType::fp4)})
    EXPECT_EQ(gpu::choose_gemm_tiling(op, s).bm, 128) << op.m << "x" << op.n << "x" << op.k;
  EXPECT_EQ(gpu::choose_gemm_tiling(gemm(128, 2048, 7168), s).bm, 64) << "bf16 keeps its 64-row tiles";
  for (const int block : {16, 32}) {
    OpSpec op = gemm(1024, 1024, 1024, DType::fp4);
    op.fp4_scale_block = block;
    const gpu::GemmTiling t = gpu::choose_gemm_tiling(op, s);
    const double a_bytes = operand_read_bytes(op, s, t, "A");
    // A is read once per tile-column, 0.5 byte per element plus its scales.
    const double tiles_n = std::ceil(1024.0 / t.bn);
    EXPECT_NEAR(a_bytes, 1024.0 * 1024 * (0.5 + 1.0 / block) * tiles_n, 1024.0 * tiles_n) << block;
  }
  OpSpec bad = gemm(64, 64, 64, DType::fp4);
  bad.fp4_scale_block = 8;
  EXPECT_THROW(bad.validate(), InputError);
}

// fp6 operands of Blackwell's f8f6f4 MMAs sit unpacked in shared memory (a byte each; CUTLASS's
// float_e2m3_unpacksmem_t), so a stage's K depth is 128 elements as fp8's (it was 128 B / 0.75 B = 170, not a
// multiple of the MMA's K of 32) and its shared memory counts a byte per element, while the operand reads from
// L2 and HBM stay packed at 0.75 byte.
TEST(GpuBlackwell, Fp6StagesUnpackedInSharedMemoryButReadPacked) {
  const gpu::GpuSpec s = gpu_spec("b200.yaml");
  const OpSpec op6 = gemm(4096, 4096, 4096, DType::fp6), op8 = gemm(4096, 4096, 4096, DType::fp8);
  const gpu::GemmTiling t6 = gpu::choose_gemm_tiling(op6, s), t8 = gpu::choose_gemm_tiling(op8, s);
  EXPECT_EQ(t6.bk % 32, 0) << t6.bk;
  EXPECT_EQ(t6.bk, t8.bk);
  const double tiles_n = std::ceil(4096.0 / t6.bn);
  EXPECT_NEAR(operand_read_bytes(op6, s, t6, "A"), 4096.0 * 4096 * 0.75 * tiles_n, 4096.0 * tiles_n);
}

// The B200's block-scaled fp4 kernels (TensorRT-LLM's CUTLASS and trtllm-gen NVFP4 GEMMs, flashinfer's cutlass
// backend, DeepGEMM) run whole tiles on a persistent grid: no split of K for fp4, while bf16 and fp8 GEMMs of the
// same shape still split, and a preset whose library does split fp4 (sm.block_scaled_split_k) splits it too.
TEST(GpuBlackwell, BlockScaledFp4GemmsDoNotSplitK) {
  gpu::GpuSpec s = gpu_spec("b200.yaml");
  const OpSpec fp4 = gemm(128, 2048, 7168, DType::fp4);
  EXPECT_EQ(gpu::choose_gemm_tiling(fp4, s).split_k, 1);
  EXPECT_FALSE(gpu::choose_gemm_tiling(fp4, s).stream_k);
  EXPECT_GT(gpu::choose_gemm_tiling(gemm(128, 2048, 7168, DType::fp8), s).split_k, 1) << "fp8 still splits";
  s.sm.block_scaled_split_k = true;
  EXPECT_GT(gpu::choose_gemm_tiling(fp4, s).split_k, 1);
}

// sm.block_scale_wait_cycles: the libraries' block-scaled main loops copy each k-tile's scale factors into one
// tensor-memory location right after the previous k-tile's MMAs, and the tensor pipe runs copies and MMAs in order
// (NVIDIA/cutlass sm100_blockscaled_mma_warpspecialized.hpp; DeepGEMM sm100_fp4_gemm_1d1d.cuh), so a copy that waits
// for those MMAs to complete holds the pipe once per 128 bytes of K. b200.yaml takes the sourced upper bound, the
// MMAs' latency past their issue interval on one SM (137 cycles; README "The block scales' copy into tensor
// memory", on since 2026-12-06 with the fp4 MAC energy at the rated 0.25 x BF16). It slows a tensor-bound fp4 GEMM
// by at most its k-tiles' waits and leaves bf16 untouched.
TEST(GpuBlackwell, BlockScaleCopyWaitHoldsTheTensorPipePerKTile) {
  EXPECT_EQ(gpu_spec("b200.yaml").sm.block_scale_wait_cycles, 137.0);
  auto latency = [](const char* wait, const OpSpec& op) {
    auto chip = load_chip("b200", {std::string("sm.block_scale_wait_cycles=") + wait});
    return run_kernel(*chip, op, false, false).result.latency_s;
  };
  const OpSpec fp4 = gemm(4096, 4096, 4096, DType::fp4), bf16 = gemm(4096, 4096, 4096);
  const double off = latency("0", fp4), on = latency("137", fp4);
  // 512 tiles of 128x256 over 148 SMs: at most 4 per SM, 16 k-tiles each, 137 cycles a k-tile at no less than half
  // the nominal clock.
  EXPECT_GT(on - off, 0.5e-6);
  EXPECT_LT(on - off, 4 * 16 * 137 / (0.5 * 1.86e9));
  EXPECT_DOUBLE_EQ(latency("137", bf16), latency("0", bf16));
}

// Public B200 block-scaled and fp8 GEMM rows: DeepGEMM's MXFP4 GEMMs (PR #348) and vLLM's CUTLASS fp8 GEMMs
// (PR #19566). The DeepGEMM rows run as its bench_kineto times them (an 8 GB flush before each call, the
// profiler's kernel time) with the layout its host code picks (OpSpec::impl kDeepGemmImpl): on 2026-12-05 MAE
// 25.2% -> 14.2%, the four rows of 1024 rows and up or K 1536 within 10%. Known gaps (fast): 512x2048x7168 +41.5%,
// 128x2048x7168 +20.8%, 512x7168x2048 +17.8% (README "Why the B200 NVFP4 rows are fast"). The fp8 rows within 15%.
// 2026-12-06 (branch b200f38, the B200's memory-side power split as the H100/H200's, README "B200 power"): every
// B200 MAC costs 18% more, so the large fp4 bursts run 2-5 points slower: 4096x4096x7168 -6.2 -> -11.9%,
// 8192^3 +2.1 -> -2.4%, MAE 14.2 -> 15.0%; the other rows within 12%, the MAE within 15.5%.
// 2026-12-06 (branch b200m39, DeepGEMM's fp4 kernel persistent, GpuBlackwell.DeepGemmFp4IsPersistent):
// 1024x7168x2048 +2.6 -> +7.9%, 4096x4096x7168 -11.9 -> -6.0%, 8192^3 -2.4 -> +5.9%, MAE 15.0 -> 15.5%.
// 2026-12-06 (branch b200k40, the block-scale wait at 137 cycles and the fp4 MAC energy at 0.25 x BF16):
// 512x7168x2048 +17.8 -> +13.2%, 1024x7168x2048 +7.9 -> +3.8%, 4096x4096x7168 -6.0 -> -9.6%, 8192^3 +5.9 -> +0.2%,
// MAE 15.5 -> 13.8%.
TEST(GpuBlackwell, PublicBlockScaledAndFp8GemmRows) {
  const auto fp4 = validate_rows(rows_of("public_measurements.csv"), "DGF4");
  ASSERT_EQ(fp4.size(), 7u);
  const std::map<std::string, double> gaps = {
      {"DGF4-M512N2048K7168", 0.45}, {"DGF4-M128N2048K7168", 0.25}, {"DGF4-M512N7168K2048", 0.22}};
  double sum = 0;
  for (const auto& p : fp4) {
    EXPECT_LE(p.predicted, p.roofline) << p.row.id;
    sum += std::fabs(p.error);
    const auto gap = gaps.find(p.row.id);
    if (gap == gaps.end()) {
      EXPECT_LE(std::fabs(p.error), 0.12) << p.row.id << " predicted " << p.predicted;
    } else {
      EXPECT_GT(p.error, 0.0) << p.row.id << ": known gap (fast); tighten this test if it closed";
      EXPECT_LE(p.error, gap->second) << p.row.id << " predicted " << p.predicted;
    }
  }
  EXPECT_LE(sum / static_cast<double>(fp4.size()), 0.145);  // 0.155 before 2026-12-06 (15.5%)
  const auto fp8 = validate_rows(rows_of("public_measurements.csv"), "VF8-B");
  ASSERT_EQ(fp8.size(), 3u);
  for (const auto& p : fp8) EXPECT_LE(std::fabs(p.error), 0.15) << p.row.id << " predicted " << p.predicted;
}

// DeepGEMM's whole H800 README table (deepseek-ai/DeepGEMM README.md, 2025-02 release: 16 dense block-FP8 GEMMs beside
// K10/K13, 4 contiguous and 6 masked M-grouped ones), run on the h100-sxm preset in the layout DeepGEMM's host
// heuristic picks (kDeepGemmImpl). On 2026-12-05 the 26 rows' MAE was 11.1%, the fast gap M4096 with K <= 2048
// (+23..+29%) and the contiguous K2048 rows (+21%); pricing the release's bank-conflicted epilogue stores
// (GemmTiling::epilogue_bank_ways) took the MAE to 8.2% (M4096 N32768 K512 +29% -> -4%, N24576 K1536 +23% -> +8%,
// N7168 K2048 +24% -> +13%, contiguous K2048 +21% -> +10%). The L2 request coalescer (sm.l2_coalescing_window_cycles:
// the 132 CTAs of 128x16 tiles at M128 N2112 K7168 read one A tile in step, which the slices serve once) took the
// worst row, M128 N2112, from -38% to -1% and the MAE to 5.8%. Bounds: every row within 20%, MAE within 6.5%.
TEST(GpuHopper, DeepGemmH800TableRows) {
  const auto pts = validate_rows(rows_of("public_measurements.csv"), "DG-");
  ASSERT_EQ(pts.size(), 26u) << "every DeepGEMM row (dense and M-grouped) is predicted";
  double sum = 0;
  for (const auto& p : pts) {
    EXPECT_LE(std::fabs(p.error), 0.20) << p.row.id << " predicted " << p.predicted;
    EXPECT_LE(p.predicted, p.roofline * 1.0000001) << p.row.id;
    sum += std::fabs(p.error);
  }
  EXPECT_LE(sum / static_cast<double>(pts.size()), 0.065);
}

// The L2 request coalescer (sm.l2_coalescing_window_cycles; SemiAnalysis' B200 measurement: implicit multicast, CTAs
// each loading the same tile, reaches explicit multicast's throughput). DeepGEMM's M128 N2112 K7168 runs one wave
// of 132 CTAs of 128x16 that read the same A tile in step: 12.4 TB/s of operand delivery at the measured 352 TFLOP/s,
// against the 9 TB/s the H100's slices serve. Coalesced, the slices serve each A tile once and the row is within
// 10% (measured 11.0 us); without coalescing it is L2-bound, 38% slow.
TEST(GpuHopper, L2CoalescesReadsOfOneTileBySmsInStep) {
  OpSpec op = gemm(128, 2112, 7168, DType::fp8);
  op.impl = kDeepGemmImpl;
  op.odtype = DType::bf16;
  auto run = [&](const std::vector<std::string>& overlays, double& coalesced) {
    auto chip = load_chip("h100-sxm", overlays);
    const RunResult r = run_kernel(*chip, op, false, false).result;
    coalesced = 0;
    for (const auto& [key, v] : r.stats.all())
      if (key.find(".l2.coalesced_bytes") != std::string::npos) coalesced += v.value;
    return r.latency_s;
  };
  double with_bytes = 0, without_bytes = 0;
  const double with = run({}, with_bytes), without = run({"sm.l2_coalescing_window_cycles=0"}, without_bytes);
  const double measured = 2.0 * 128 * 2112 * 7168 / 352e12;
  EXPECT_NEAR(with / measured, 1.0, 0.10) << with * 1e6 << " us";
  EXPECT_GT(without / measured, 1.3) << "without coalescing the 9 TB/s slices bound it";
  // A is 128 x 7168 fp8 bytes, read by 132 CTAs: most of the 131 re-reads join the first (78% on 2026-12-05).
  EXPECT_GT(with_bytes, 0.6 * 131 * 128 * 7168);
  EXPECT_EQ(without_bytes, 0.0);
  // Reads join by their arrival times, which the SMs stamp from their own clocks: the quantum of temporal decoupling
  // moves the result by little (STYLE.md, time discipline).
  auto chip = load_chip("h100-sxm");
  LowerOptions lo;
  RunOptions ro;
  ro.quantum_s = 100e-9;
  const double ref = simulate(*chip, {chip->lower(op, lo)}, ro, op.dtype).latency_s;
  for (double q : {50e-9, 200e-9}) {
    ro.quantum_s = q;
    const double t = simulate(*chip, {chip->lower(op, lo)}, ro, op.dtype).latency_s;
    std::printf("quantum %.0f ns: %+.3f%%\n", q * 1e9, 100 * (t / ref - 1));
    EXPECT_NEAR(t / ref, 1.0, 0.02) << "quantum " << q * 1e9 << " ns";
  }
}

// DeepGEMM's sm90 block-scaled fp8 kernel runs the layout its first release's host heuristic picks
// (deep_gemm/jit_kernels/gemm.py get_best_configs): one wave of narrow tiles at decode sizes (M64 N2112: 132
// tiles of 64x16), never a split of K, BLOCK_N 112 where it saves a wave's tail, a multicast pair only from M 1024.
TEST(GpuHopper, DeepGemmFp8RunsItsOwnLayout) {
  const gpu::GpuSpec s = gpu_spec("h100_sxm.yaml");
  auto dg = [&](std::int64_t m, std::int64_t n, std::int64_t k) {
    OpSpec op = gemm(m, n, k, DType::fp8);
    op.impl = kDeepGemmImpl;
    return gpu::choose_gemm_tiling(op, s);
  };
  gpu::GemmTiling t = dg(64, 2112, 7168);
  EXPECT_EQ(t.bm, 64);
  EXPECT_EQ(t.bn, 16);
  EXPECT_EQ(t.split_k, 1);
  EXPECT_EQ(t.cluster_m, 1);
  EXPECT_EQ(t.epilogue_bank_ways, 2) << "rows 32 bytes apart: pairs of an 8x8 stmatrix block's rows share a bank group";
  t = dg(4096, 2112, 7168);
  EXPECT_EQ(t.bm, 128);
  EXPECT_EQ(t.bn, 112);
  EXPECT_EQ(t.epilogue_bank_ways, 2);
  t = dg(4096, 4096, 7168);
  EXPECT_EQ(t.bn, 128);
  EXPECT_EQ(t.cluster_m, 2);
  EXPECT_EQ(t.epilogue_bank_ways, 8) << "rows 256 bytes apart: all 8 rows of a block in one bank group";
  OpSpec masked = gemm(256, 7168, 2048, DType::fp8);
  masked.kind = OpKind::GroupedGemm;
  masked.group_rows = {256, 256, 256, 256};
  masked.m = 0;
  masked.impl = kDeepGemmImpl;
  t = gpu::choose_gemm_tiling(masked, s);
  EXPECT_EQ(t.bm, 128);
  EXPECT_EQ(t.bn, 112);
  EXPECT_EQ(t.cluster_m, 1) << "no multicast below 1024 rows per group";
}

// DeepGEMM's sm100 MXFP4 kernel runs the layout its host heuristic picks (pull request #348, pick_fp4_layout and
// recompute_stages_for_fp4): the fewest waves, then the largest stages^2 x BLOCK_N. 128x2048 fills one wave with
// BLOCK_N 112 (19 CTAs of 148 SMs, no pair below 512 rows); from 512 rows the 2-SM MMA pairs tile-rows.
TEST(GpuBlackwell, DeepGemmFp4RunsItsOwnLayout) {
  const gpu::GpuSpec s = gpu_spec("b200.yaml");
  OpSpec op = gemm(128, 2048, 7168, DType::fp4);
  op.impl = kDeepGemmImpl;
  gpu::GemmTiling t = gpu::choose_gemm_tiling(op, s);
  EXPECT_EQ(t.bm, 128);
  EXPECT_EQ(t.bn, 112);
  EXPECT_EQ(t.bk, 256);
  EXPECT_EQ(t.stages, 6);
  EXPECT_FALSE(t.cta_pair);
  op.m = 512;
  t = gpu::choose_gemm_tiling(op, s);
  EXPECT_EQ(t.bn, 112);
  EXPECT_TRUE(t.cta_pair);
  EXPECT_EQ(t.stages, 7);
  op.m = 1024, op.n = 7168, op.k = 2048;  // two waves: 256 tiles of 224 columns
  EXPECT_EQ(gpu::choose_gemm_tiling(op, s).bn, 224);
  OpSpec bf16 = gemm(128, 2048, 7168);
  bf16.impl = kDeepGemmImpl;
  EXPECT_THROW(bf16.validate(), InputError) << "the DeepGEMM impl is the fp4 kernel's";
}

// DeepGEMM's sm100 MXFP4 kernel is persistent (sm100_fp4_gemm_1d1d.cuh: kNumSMs CTAs walking their tiles; two
// accumulator buffers in tensor memory where two BLOCK_N accumulators and the scale columns fit 512 columns): one CTA
// per SM, each tile's MMAs waiting only for the epilogue of the tile two (or one) back, the operand traffic that of
// one CTA per tile.
TEST(GpuBlackwell, DeepGemmFp4IsPersistent) {
  const gpu::GpuSpec s = gpu_spec("b200.yaml");
  OpSpec op = gemm(4096, 4096, 7168, DType::fp4);
  op.impl = kDeepGemmImpl;
  op.fp4_scale_block = OpSpec::kMxfp4ScaleBlock;
  gpu::GemmTiling t = gpu::choose_gemm_tiling(op, s);
  EXPECT_EQ(t.bn, 240);
  EXPECT_EQ(t.persistent_accumulators, 2) << "2 x 240 + 8 + 16 columns fit";
  LowerOptions lo;
  EXPECT_EQ(gpu::lower_gemm(op, s, lo, t)[0].num_tasks, static_cast<std::uint64_t>(s.sm.count));
  gpu::GemmTiling per_tile = t;
  per_tile.persistent_accumulators = 0;
  EXPECT_EQ(gpu::lower_gemm(op, s, lo, per_tile)[0].num_tasks, 32u * 18u);
  for (const char* which : {"A", "B"})
    EXPECT_DOUBLE_EQ(operand_read_bytes(op, s, t, which), operand_read_bytes(op, s, per_tile, which)) << which;
  op.m = op.n = op.k = 8192;  // BLOCK_N 256: one accumulator buffer (2 x 256 + 8 + 16 > 512)
  t = gpu::choose_gemm_tiling(op, s);
  EXPECT_EQ(t.bn, 256);
  EXPECT_EQ(t.persistent_accumulators, 1);
}

// A benchmark that flushes the L2 by writing far more than it holds (DeepGEMM's bench_kineto zeroes 8 GB before
// each call) leaves it full of dirty lines: every line the kernel then allocates writes one back to HBM first.
// The GEMM's HBM writes grow by the bytes it allocates (its reads and its output, less than the L2 here), and
// it is not faster.
TEST(GpuFixedCosts, AFlushedL2WritesBackADirtyLinePerAllocation) {
  auto chip = load_chip("b200");
  const OpSpec op = gemm(512, 7168, 2048, DType::fp4);
  auto hbm = [&](double flush, double& written) {
    KernelStudyOptions ko;
    ko.flush_bytes = flush;
    const RunResult r = run_kernel_study(*chip, op, ko).run.result;
    written = 0;
    for (const auto& [key, v] : r.stats.all())
      if (key.find(".hbm.bytes_written") != std::string::npos) written += v.value;
    return r.latency_s;
  };
  double clean_w = 0, dirty_w = 0;
  const double clean = hbm(0, clean_w), dirty = hbm(8e9, dirty_w);
  const double out = 512.0 * 7168 * 2;  // bf16 output
  EXPECT_NEAR(clean_w, out, 0.01 * out);
  EXPECT_GT(dirty_w - clean_w, out + 7168.0 * 2048 * 0.5) << "the output and the weights evicted a dirty line each";
  EXPECT_LT(dirty_w, clean_w + 126.5e6);
  EXPECT_GT(dirty, clean);
}

// The 2-SM MMA halves each SM's B traffic: a large B200 GEMM is not bound by the SMs' crossbar links.
TEST(GpuBlackwell, PairMmaHalvesEachSmsBTraffic) {
  const gpu::GpuSpec s = gpu_spec("b200.yaml");
  ASSERT_TRUE(s.sm.cta_pair_mma);
  const OpSpec op = gemm(4096, 4096, 4096);
  const gpu::GemmTiling t = gpu::choose_gemm_tiling(op, s);
  ASSERT_TRUE(t.cta_pair);
  const double b_bytes = operand_read_bytes(op, s, t, "B");
  // Each tile-row pair reads each B tile once between its two SMs: half of one read per tile.
  const double tiles_m = std::ceil(4096.0 / t.bm);
  EXPECT_DOUBLE_EQ(b_bytes, 4096.0 * 4096 * 2 * tiles_m / 2);
}

// An odd count of tile-rows: the last row's peer is out of bounds but runs (CUTLASS rounds the grid up
// to whole clusters) and loads its half, so the last row loads its half of each B tile like every
// pair, and the B tiles the pairs cached in L2 serve it: the weights cross HBM once, and 384 rows
// (three tile-rows) are no slower than 448 (four). Loading all of B there read the weights twice
// (34 MB against 17.7 MB) and made 384 rows 18% slower than 448.
TEST(GpuBlackwell, OddTileRowsOfA2SmMmaReadTheWeightsOnce) {
  auto chip = load_chip("b200");
  const OpSpec odd = gemm(384, 8192, 1024), even = gemm(448, 8192, 1024);
  const RunResult r = run_kernel(*chip, odd, false, false).result;
  const double weights = 8192.0 * 1024 * 2, a = 384.0 * 1024 * 2;
  double hbm_read = 0;
  for (const auto& [key, v] : r.stats.all())
    if (key.find(".hbm.bytes_read") != std::string::npos) hbm_read += v.value;
  EXPECT_GT(hbm_read, weights);
  EXPECT_LT(hbm_read, 1.1 * (weights + a));
  EXPECT_LE(r.latency_s, run_kernel(*chip, even, false, false).result.latency_s);
}

// A single tile-row has no peer row to pair with: a decode GEMM, or a grouped GEMM whose experts hold a
// few rows each, runs 1-SM MMA tiles that load all of B. Paired, the second SM (out of bounds) was
// never simulated and half of the weights never crossed HBM: B200 decode GEMM 8x8192x8192 fp8 read 33.6
// of 67 MB, and 32 experts of 2 rows (gate_up 4096x7168 fp8, DeepSeek-V3 at EP8) 470 of 940 MB in 79.5
// us, 0.65 x its HBM roofline. A group of one tile-row beside larger ones in a paired kernel loads its
// out-of-bounds peer's half as well.
TEST(GpuBlackwell, ASingleTileRowReadsAllOfItsWeights) {
  auto chip = load_chip("b200");
  auto hbm_read = [](const RunResult& r) {
    double b = 0;
    for (const auto& [key, v] : r.stats.all())
      if (key.find(".hbm.bytes_read") != std::string::npos) b += v.value;
    return b;
  };
  const OpSpec decode = gemm(8, 8192, 8192, DType::fp8);
  OpSpec experts = make_op("grouped_gemm", {{"tokens", "64"}, {"groups", "32"}, {"n", "4096"}, {"k", "7168"}, {"dtype", "fp8"}});
  OpSpec mixed = experts;
  mixed.group_rows.assign(32, 2);
  mixed.group_rows[0] = 512;  // one expert of four tile-rows: the kernel pairs them
  for (const OpSpec& op : {decode, experts, mixed}) {
    const RunResult r = run_kernel(*chip, op, false, false).result;
    const double weights = op.kind == OpKind::GroupedGemm ? 32.0 * 4096 * 7168 : 8192.0 * 8192;
    EXPECT_GT(hbm_read(r), weights) << op.shape_str();
    EXPECT_GE(r.latency_s, op.min_bytes() / chip->dram_bandwidth()) << op.shape_str();
  }
}

// Split-K as cuBLAS runs it: the GEMM kernel's slices store fp32 partials and a second kernel
// (cublasLt::splitKreduce_kernel in public H100 and Blackwell profiles) sums them. Where the heuristic
// splits, the two kernels are not slower than the unsplit one, and functional mode still computes the product.
TEST(GpuSplitK, ReducedByASecondKernelAndNotSlowerThanUnsplit) {
  const gpu::GpuSpec s = gpu_spec("h100_sxm.yaml");
  auto chip = load_chip("h100-sxm");
  for (auto [m, n, k] : {std::tuple{256, 256, 4096}, {128, 128, 8192}, {1024, 1024, 1024}, {512, 512, 512}}) {
    const OpSpec op = gemm(m, n, k);
    gpu::GemmTiling t = gpu::choose_gemm_tiling(op, s);
    if (t.split_k == 1) continue;
    LowerOptions lo;
    KernelPrograms split = gpu::lower_gemm(op, s, lo, t);
    ASSERT_EQ(split.size(), 2u) << op.shape_str() << ": split-K is reduced by a second kernel";
    gpu::GemmTiling u = t;
    u.split_k = 1;
    const double t_split = simulate(*chip, {split}, RunOptions{}, op.dtype).latency_s;
    const double t_unsplit = simulate(*chip, {gpu::lower_gemm(op, s, lo, u)}, RunOptions{}, op.dtype).latency_s;
    EXPECT_LE(t_split, t_unsplit) << op.shape_str() << " split-k " << t.split_k;
  }
  EXPECT_GT(gpu::choose_gemm_tiling(gemm(256, 256, 4096), s).split_k, 1);
  KernelRun f = run_kernel(*chip, gemm(100, 100, 1000), true, false);
  EXPECT_TRUE(f.check.passed) << "rel error " << f.check.max_rel_error;
}

// TF32 on H100: the tensor cores run TF32 at half the BF16 rate with 4-byte operands (half the K per
// 128-byte stage), so a TF32 GEMM takes about twice its BF16 time. Sources: our H100 rows H176
// (4096^3 TF32, 365.9 us) and H17 (4096^3 BF16, 190.1 us), and XLA's measured sm_90 table (K09,
// 401.6 TFLOP/s at 4096^3).
TEST(GpuTf32, MatchesMeasuredH100Tf32Gemms) {
  std::vector<ValidationRow> rows;
  for (const char* f : {"h100_measured.csv", "public_measurements.csv"})
    for (const auto& r : rows_of(f))
      if (r.level == "kernel" && r.dtype.find("tf32") != std::string::npos && r.shape.find("M4096 ") != std::string::npos)
        rows.push_back(r);
  const auto pts = validate_rows(rows);
  ASSERT_GE(pts.size(), 3u);  // H175, H176, K09
  for (const auto& p : pts) EXPECT_LE(std::fabs(p.error), 0.15) << p.row.id << " predicted " << p.predicted;
  auto chip = load_chip("h100-sxm");
  const double tf32 = run_kernel_study(*chip, gemm(4096, 4096, 4096, DType::tf32)).run.result.latency_s;
  const double bf16 = run_kernel_study(*chip, gemm(4096, 4096, 4096)).run.result.latency_s;
  EXPECT_NEAR(tf32 / bf16, 365.9 / 190.1, 0.2);
}

// PyTorch's SDPA flash backend is FlashAttention-2's code (mma.sync from registers, cp.async, no warp
// specialisation), not FlashAttention-3: on Hopper it reaches about 35% of the BF16 peak in prefill
// (our rows: 339-354 TFLOP/s non-causal at S >= 2048 on H100 and H200), while FA3 reaches 590-620
// (K20/K22, held by Fa3AttentionAndFp8GemmRows). Its decode runs the GQA group as 4 rows of a
// 128-row mma.sync tile, so it is bound by the tensor cores rather than HBM: the same time on H100
// and H200 (H286 422.8 us, G334 429.2 us at B64 S4096). Sources: workloads/validation/h100_measured.csv
// and h200_measured.csv (conditions in workloads/validation/README.md).
// Bounds per group; known gaps are listed with their reason and held to their own bound.
TEST(GpuAttentionKernels, SdpaFlashBackendRowsRunFlashAttention2) {
  struct Gap {
    const char* why;
    double bound;
  };
  // Shapes (the row's `shape_or_config`) whose error is a known gap (none at present).
  const std::map<std::string, Gap> gaps = {};
  int prefill = 0, decode = 0;
  for (const char* file : {"h100_measured.csv", "h200_measured.csv"}) {
    std::vector<ValidationRow> rows;
    for (const auto& r : rows_of(file))
      if (r.level == "kernel" && r.workload.find("SDPA flash backend") != std::string::npos &&
          r.workload.find("single launch") == std::string::npos && r.metric == "latency")
        rows.push_back(r);
    for (const auto& p : validate_rows(rows)) {
      EXPECT_GE(p.predicted, p.roofline) << p.row.id << ": faster than physics allows";
      EXPECT_NE(p.note.find("FlashAttention-2"), std::string::npos) << p.row.id << ": " << p.note;
      const bool dec = p.row.workload.find("decode") != std::string::npos;
      (dec ? decode : prefill) += 1;
      auto g = gaps.find(p.row.shape);
      if (g != gaps.end()) {
        EXPECT_LE(std::fabs(p.error), g->second.bound) << p.row.id << " known gap: " << g->second.why;
        EXPECT_GT(std::fabs(p.error), 0.25) << p.row.id << " is within the bound now: take it off the known gaps";
        continue;
      }
      EXPECT_LE(std::fabs(p.error), 0.25) << p.row.id << " " << p.row.shape << " predicted " << p.predicted << " us";
      // With the warps' cp.async tile copies counted in the shared-memory unit beside the ldmatrix reads,
      // blocks spread one per SM and a 4-warp block's mma.sync at its warps' share of the rate
      // (sm.warp_mma_sync_share): prefill within 10%, causal S1024 included (it was 15-18% fast with blocks
      // packed and unlimited, 18-21% spread and unlimited), batch-64 decode within 13% (were 5-15% and 8-19%
      // fast without the copies).
      if (!dec) {
        EXPECT_LE(std::fabs(p.error), 0.10) << p.row.id << " " << p.row.shape << " predicted " << p.predicted << " us";
      }
      if (dec && p.row.shape.rfind("B64 ", 0) == 0) {
        EXPECT_LE(std::fabs(p.error), 0.13) << p.row.id << " " << p.row.shape << " predicted " << p.predicted << " us";
      }
      // Split decode (batch 1 and 8): the split kernel, then the combine walking the splits one L2 round
      // trip each (H258-H278, G306-G326 within 1-8% once that loop is modelled; 18-38% fast without it;
      // within 11% with the split blocks spread one per SM at their warps' mma.sync share, H262 +10.7%).
      if (dec && (p.row.shape.rfind("B1 ", 0) == 0 || p.row.shape.rfind("B8 ", 0) == 0)) {
        EXPECT_LE(std::fabs(p.error), 0.115) << p.row.id << " " << p.row.shape << " predicted " << p.predicted << " us";
      }
    }
  }
  EXPECT_GE(prefill, 12);
  EXPECT_GE(decode, 18);
}

// FlashAttention-2 forward on an A100 (rows GT-A01..08: liangan1/GPU_travel@07d0469e, head dim 128, H32 with
// KV32 or KV8, B16 S1024 and B1 S4096, causal and not; public_measurements.csv, conditions in its README). The
// A100 runs FA2 by default. Each row within 15% and no faster than its roofline (2026-12-07: -12.6% to +1.9% with FA2's
// softmax costed by its instructions, the B16 S1024 rows the fast ones; -17.8% to -2.7% with the softmax as its exp
// alone; -3.8% to +16.2% while an mma.sync step held the tensor engine for its ldmatrix time and its MMAs one after
// the other). The source states the clock fell to about 1200 MHz under the power limit, while the model holds 1410 MHz
// (about 400 W at B16 S1024), so at an equal clock the model is slower than these errors show (1410/1200 = 1.175).
TEST(GpuAttentionKernels, A100FlashAttention2RowsWithinTheirBound) {
  std::vector<ValidationRow> rows;
  for (const auto& r : rows_of("public_measurements.csv"))
    if (r.id.rfind("GT-A", 0) == 0) rows.push_back(r);
  ASSERT_EQ(rows.size(), 8u);
  const auto pts = validate_rows(rows);
  ASSERT_EQ(pts.size(), 8u);
  for (const auto& p : pts) {
    EXPECT_EQ(p.chip, "a100-sxm") << p.row.id;
    EXPECT_GE(p.predicted, p.roofline) << p.row.id << ": faster than physics allows";
    EXPECT_NE(p.note.find("FlashAttention-2"), std::string::npos) << p.row.id << ": " << p.note;
    EXPECT_LE(std::fabs(p.error), 0.15) << p.row.id << " " << p.row.shape << " predicted " << p.predicted << " us";
  }
}

// The A100's warp_mma_sync_share is the H100 calibration carried to Ampere's mma.sync rate: the non-MMA part of a
// warp's stream (its ldmatrix operands and the waits between dependent MMAs; FA2's softmax is costed apart) takes the
// same cycles, the MMAs 683/512 times as many (a100_sxm.yaml states the derivation).
TEST(GpuAttentionKernels, A100WarpMmaSyncShareFollowsFromTheH100s) {
  const gpu::GpuSpec h = gpu_spec("h100_sxm.yaml"), a = gpu_spec("a100_sxm.yaml");
  const double r = h.sm.tensor_bf16 * h.sm.mma_sync_fraction / (a.sm.tensor_bf16 * a.sm.mma_sync_fraction);
  const double s = h.sm.warp_mma_sync_share;
  EXPECT_NEAR(a.sm.warp_mma_sync_share, s * r / (s * r + 1 - s), 0.005);
  EXPECT_GT(a.sm.warp_mma_sync_share, s) << "a slower tensor core is kept busier by the same warp";
}

// The implementation is a mechanism of the kernel, not of the chip: the same shape runs FA3 by default.
TEST(GpuAttentionKernels, Fa2IsSlowerThanFa3AndBoundByTheTensorCoresInDecode) {
  auto h100 = load_chip("h100-sxm"), h200 = load_chip("h200");
  auto attn = [](const char* phase, const char* batch, const char* seq, const char* impl) {
    std::map<std::string, std::string> a = {{"phase", phase}, {"batch", batch}, {"heads", "32"}, {"kv-heads", "8"},
                                            {"seq", seq}, {"head-dim", "128"}, {"causal", "false"}};
    if (*impl) a["impl"] = impl;
    return make_op("attention", a);
  };
  auto t = [](ChipModel& c, const OpSpec& op) { return run_kernel_study(c, op).run.result.latency_s; };
  const OpSpec fa2 = attn("prefill", "1", "8192", "fa2"), fa3 = attn("prefill", "1", "8192", "");
  const double peak = h100->peak_flops(DType::bf16);
  const double share2 = fa2.flops() / t(*h100, fa2) / peak, share3 = fa3.flops() / t(*h100, fa3) / peak;
  EXPECT_GE(share2, 0.28);
  EXPECT_LE(share2, 0.45);
  EXPECT_GE(share3, 0.55);
  const OpSpec dec = attn("decode", "64", "4096", "fa2");
  EXPECT_NEAR(t(*h200, dec) / t(*h100, dec), 1.0, 0.1) << "FA2 decode is not bound by HBM";
  EXPECT_LT(t(*h200, attn("decode", "64", "4096", "")), 0.8 * t(*h100, attn("decode", "64", "4096", "")))
      << "the default (FA3-style) decode is HBM-bound";
  EXPECT_THROW(attn("prefill", "1", "1024", "fa4"), InputError);
}

// Without --impl the chip's own kernel runs: FlashAttention-2 on the A100 (no TMA, no wgmma), which ran the
// Hopper (FA3-style) kernel before; the Hopper default stays FA3-style. --impl fa3 is refused on the A100
// (no TMA, no wgmma) and on the B200 (wgmma is sm_90a only), each naming what runs there.
TEST(GpuAttentionKernels, DefaultImplFollowsTheChipAndFa3NeedsHopper) {
  auto attn = [](const char* phase, const char* impl) {
    std::map<std::string, std::string> a = {{"phase", phase}, {"batch", "8"}, {"heads", "32"}, {"kv-heads", "8"},
                                            {"seq", "2048"}, {"head-dim", "128"}};
    if (*impl) a["impl"] = impl;
    return make_op("attention", a);
  };
  auto a100 = load_chip("a100-sxm"), h100 = load_chip("h100-sxm"), b200 = load_chip("b200");
  for (const char* phase : {"prefill", "decode"}) {
    const auto def = run_kernel_study(*a100, attn(phase, "")).run.result, fa2 = run_kernel_study(*a100, attn(phase, "fa2")).run.result;
    EXPECT_EQ(def.latency_s, fa2.latency_s) << phase;
    EXPECT_EQ(def.kernels.at(0).strategy, fa2.kernels.at(0).strategy) << phase;
    EXPECT_NE(run_kernel_study(*h100, attn(phase, "")).run.result.latency_s,
              run_kernel_study(*h100, attn(phase, "fa2")).run.result.latency_s) << phase;
  }
  EXPECT_NE(run_kernel_study(*a100, attn("prefill", "")).run.result.kernels.at(0).strategy.find("FlashAttention-2"), std::string::npos);
  auto refusal = [&](ChipModel& chip) {
    try {
      run_kernel_study(chip, attn("prefill", "fa3"));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(ran)");
  };
  const std::string on_a100 = refusal(*a100), on_b200 = refusal(*b200);
  EXPECT_NE(on_a100.find("--impl fa2 runs here"), std::string::npos) << on_a100;
  EXPECT_NE(on_b200.find("sm_90a"), std::string::npos) << on_b200;
  EXPECT_NE(on_b200.find("the default kernel"), std::string::npos) << on_b200;
  EXPECT_NE(on_b200.find("--impl fa2"), std::string::npos) << on_b200;
  EXPECT_NO_THROW(run_kernel_study(*b200, attn("prefill", "fa2")));
  EXPECT_NO_THROW(run_kernel_study(*h100, attn("prefill", "fa3")));
}

// The prefill strategy said "causal tile skipping" whatever the mask: it names what the blocks skip.
TEST(GpuAttentionKernels, PrefillStrategyNamesTheMaskItSkips) {
  auto h100 = load_chip("h100-sxm");
  auto strategy = [&](const char* causal, const char* window, const char* impl) {
    std::map<std::string, std::string> a = {{"heads", "8"}, {"seq", "1024"}, {"causal", causal}};
    if (*window) a["window"] = window;
    if (*impl) a["impl"] = impl;
    return run_kernel_study(*h100, make_op("attention", a)).run.result.kernels.at(0).strategy;
  };
  for (const char* impl : {"", "fa2"}) {
    EXPECT_NE(strategy("true", "", impl).find(", causal tile skipping"), std::string::npos) << impl;
    const std::string none = strategy("false", "", impl);
    EXPECT_EQ(none.find("skipping"), std::string::npos) << none;
    EXPECT_NE(none.find("no mask"), std::string::npos) << none;
    const std::string win = strategy("false", "256", impl);
    EXPECT_NE(win.find("sliding-window tile skipping"), std::string::npos) << win;
    EXPECT_EQ(win.find("causal"), std::string::npos) << win;
  }
}

// Decode attention never gets faster with more work: at a fixed 4k context the latency does not fall
// as the batch grows (every batch to 32, then every 8th to 128), nor at a fixed batch (1, 8, 64) as
// the context grows (256 to 32k in steps of a quarter; to 8k at batch 64). Both split heuristics pick
// fewer splits for larger grids, and a split count that ignored its combine (64 splits at batch 1,
// one L2 round trip each) made batch 1 slower than batch 2 (H100 30.2 vs 27.9 us, B200 27.1 vs 20.0 us
// before FlashInfer's one-wave split plan and pipelined merge). Tolerance: 1% plus 0.3 us, the spread
// of the merge kernel's few L2 loads between neighbouring shapes (its L2-slice arbitration: at batch 1
// on B200 a 4-split merge takes 2.2-2.4 us depending on the workspace's addresses).
TEST(GpuAttentionKernels, DecodeLatencyIsMonotonicInBatchAndContext) {
  auto decode = [](std::int64_t batch, std::int64_t seq) {
    return make_op("attention", {{"phase", "decode"}, {"batch", std::to_string(batch)}, {"heads", "32"}, {"kv-heads", "8"},
                                 {"seq", std::to_string(seq)}, {"head-dim", "128"}, {"dtype", "bf16"}});
  };
  for (const char* preset : {"h100-sxm", "h200", "b200", "a100-sxm"}) {
    auto chip = load_chip(preset);
    auto t = [&](std::int64_t b, std::int64_t s) { return run_kernel_study(*chip, decode(b, s)).run.result.latency_s; };
    double last = 0;
    for (std::int64_t b = 1; b <= 128; b += b < 32 ? 1 : 8) {
      const double now = t(b, 4096);
      EXPECT_GE(now, 0.99 * last - 0.3e-6) << preset << " batch " << b << " at 4k: " << now * 1e6 << " us after " << last * 1e6;
      last = std::max(last, now);
    }
    for (std::int64_t b : {1, 8, 64}) {
      last = 0;
      for (std::int64_t s = 256; s <= (b < 64 ? 32768 : 8192); s += s / 4) {
        const double now = t(b, s);
        EXPECT_GE(now, 0.99 * last - 0.3e-6) << preset << " batch " << b << " context " << s << ": " << now * 1e6 << " us after " << last * 1e6;
        last = std::max(last, now);
      }
    }
  }
}

// FA2's two waits per KV tile (flash_fwd_kernel.h): V of a tile is issued once K has arrived, the
// softmax waits for V, and the next K leaves once S is done and V has arrived.
TEST(GpuAttentionKernels, Fa2CopiesWaitAsTheKernelDoes) {
  const gpu::GpuSpec h = gpu_spec("h100_sxm.yaml");
  const OpSpec op = make_op("attention", {{"phase", "prefill"}, {"batch", "1"}, {"heads", "32"}, {"kv-heads", "32"},
                                          {"seq", "1024"}, {"head-dim", "128"}, {"causal", "false"}, {"impl", "fa2"}});
  LowerOptions lo;
  const auto progs = gpu::lower_attention(op, h, lo);
  ASSERT_FALSE(progs.empty());
  Task task;
  progs.front().make_task(0, task);
  std::vector<std::uint32_t> loads, softmax;
  for (std::uint32_t i = 0; i < task.instrs.size(); ++i) {
    if (task.instrs[i].kind == TxKind::DmaRead) loads.push_back(i);
    if (task.instrs[i].kind == TxKind::VectorOp && task.instrs[i].n == 64) softmax.push_back(i);  // not the epilogue
  }
  ASSERT_EQ(loads.size(), 1 + 2 * softmax.size());  // Q, then K and V of each 64-key tile
  // The shared-memory bytes of S = Q K^T: each of the 4 warps reads its Q rows and the whole K tile
  // (ldmatrix), and the K tile's cp.async copy writes it once (the first S also the Q tile's).
  const std::uint64_t q = 128 * 128 * 2, k = 64 * 128 * 2;
  std::vector<std::uint64_t> s_bytes;
  for (const auto& in : task.instrs)
    if (in.kind == TxKind::TileCompute && in.n == 64) s_bytes.push_back(in.bytes);
  ASSERT_EQ(s_bytes.size(), softmax.size());
  EXPECT_EQ(s_bytes[0], q + 4 * k + k + q);
  EXPECT_EQ(s_bytes[1], q + 4 * k + k);
  auto depends = [&](std::uint32_t i, std::uint32_t on) {
    const auto& d = task.instrs[i].dep;
    return d[0] == on || d[1] == on || d[2] == on;
  };
  for (size_t t = 0; t < softmax.size(); ++t) {
    const std::uint32_t k = loads[1 + 2 * t], v = loads[2 + 2 * t];
    EXPECT_TRUE(depends(v, k)) << "tile " << t << ": V leaves after K arrives";
    EXPECT_TRUE(depends(softmax[t], v)) << "tile " << t << ": the softmax waits for V";
    if (t > 0) {
      EXPECT_TRUE(depends(k, loads[2 * t])) << "tile " << t << ": K leaves after the last V arrives";
    }
  }
}

// FA2's online softmax is costed as its warps issue it (kernels/attention/gpu.cpp, fa2_softmax_slots): per 128 x 64
// tile at head dim 128, phase after phase, the row max on the INT32 pipe, the O rescale (one FMUL per O element, two
// per score), the exp (MUFU-bound) and the row sum, each bound by its busiest pipe. So it costs more than the SFUs'
// exp alone, and more on the A100, whose SM has 64 FP32 lanes (the H100 128): 1136 against 944 cycles (it was 512 on
// both, the exp alone). The exp part scales with the scores (S^2 H B) over the SFU rate; a tile the causal diagonal
// crosses adds FA2's mask (a compare and a select per score); each block ends with its epilogue (O / l, 16-bit O).
TEST(GpuAttentionKernels, Fa2SoftmaxCostsItsInstructionsOnTheSmsPipes) {
  const gpu::GpuSpec a = gpu_spec("a100_sxm.yaml"), h = gpu_spec("h100_sxm.yaml");
  auto op = [](const char* seq, const char* causal) {
    return make_op("attention", {{"phase", "prefill"}, {"batch", "1"}, {"heads", "4"}, {"kv-heads", "4"}, {"seq", seq},
                                 {"head-dim", "128"}, {"causal", causal}, {"impl", "fa2"}});
  };
  struct Cost {
    std::vector<double> tiles;  // softmax cycles of block 0's tiles, in order
    double all = 0;             // softmax cycles of every block
    int epilogues = 0;
  };
  auto cost = [](const gpu::GpuSpec& s, const OpSpec& o) {
    Cost c;
    LowerOptions lo;
    const auto progs = gpu::lower_attention(o, s, lo);
    const std::uint64_t blocks = progs.front().num_tasks;
    for (std::uint64_t b = 0; b < blocks; ++b) {
      Task t;
      progs.front().make_task(b, t);
      for (const auto& in : t.instrs) {
        if (in.kind != TxKind::VectorOp) continue;
        if (in.n == 128) {  // the epilogue: 128 rows x dv
          ++c.epilogues;
          continue;
        }
        EXPECT_EQ(in.k, 0u) << "the MUFU work is in the phases' lane-slots";
        const double cycles = static_cast<double>(in.flops) / s.sm.vector_flops_per_clk;
        c.all += cycles;
        if (b == 0) c.tiles.push_back(cycles);
      }
    }
    return c;
  };
  const Cost a1 = cost(a, op("1024", "false")), h1 = cost(h, op("1024", "false"));
  ASSERT_EQ(a1.tiles.size(), 16u);
  EXPECT_NEAR(a1.tiles[1], 1136, 0.5) << "A100, a 128 x 64 tile after the first";
  EXPECT_NEAR(h1.tiles[1], 944, 0.5) << "H100";
  EXPECT_GT(a1.tiles[1], 2 * 8192 / a.sm.sfu_ops_per_clk) << "more than twice the exp alone";
  EXPECT_LT(a1.tiles[0], a1.tiles[1]) << "the first tile has no running max to rescale from";
  EXPECT_EQ(a1.epilogues, 8 * 4) << "one epilogue per block";
  // Four times the scores (S^2): four times the softmax (a little more: half as many blocks per score, and a block's
  // first tile has no rescale).
  const double s2 = cost(a, op("2048", "false")).all / a1.all;
  EXPECT_GE(s2, 4.0);
  EXPECT_LE(s2, 4.05);
  // Twice the SFU rate takes half the exp's MUFU time off every tile (8192 exps: 256 cycles), and a little from the rescale.
  gpu::GpuSpec a2 = a;
  a2.sm.sfu_ops_per_clk *= 2;
  const double faster = a1.tiles[1] - cost(a2, op("1024", "false")).tiles[1];
  EXPECT_GE(faster, 256);
  EXPECT_LE(faster, 256 + 16);
  // Causal: block 0 (queries 0-127) has two key tiles, both crossed by the diagonal: each pays the mask, 2 INT32-pipe
  // ops per score (A100: 8192 x 2 / 64 = 256 cycles).
  const Cost ac = cost(a, op("1024", "true"));
  ASSERT_EQ(ac.tiles.size(), 2u);
  EXPECT_NEAR(ac.tiles[1] - a1.tiles[1], 256, 0.5);
  // Causal S1024 costs more softmax per useful score than non-causal: the diagonal's masked halves and their mask.
  const double useful = 4.0 * 1024 * 1025 / 2, full = 4.0 * 1024 * 1024;
  EXPECT_GT(ac.all / useful, 1.1 * a1.all / full);
}

// fp8 without fast accumulation (torch._scaled_mm's default): Hopper promotes the tensor core's partial
// sums to fp32 on the CUDA cores every 4 MMA k-instructions (one per 128-deep fp8 k-step), beside the
// next MMAs; use_fast_accum=True keeps the whole K loop in the tensor core, and Blackwell accumulates in
// fp32 tensor memory: nothing to promote. Our measured pairs bound its cost: 0-9% (G233/G274 103.6 against
// 95.48 us at 4096^3, H185/H226 102.7 against 102.4, G236/G277 776.0 against 743.5 at 8192^3).
TEST(GpuFp8Accumulation, PromotionRunsOnTheCudaCoresAndCostsLittle) {
  const gpu::GpuSpec h = gpu_spec("h100_sxm.yaml"), b = gpu_spec("b200.yaml");
  OpSpec slow = gemm(4096, 4096, 4096, DType::fp8), fast = slow;
  fast.fast_accum = true;
  // One CUDA-core promotion per 128-deep fp8 k-step on Hopper, none with fast accumulation or on B200.
  auto vector_ops = [](const OpSpec& op, const gpu::GpuSpec& s, double* flops) {
    int n = 0;
    LowerOptions lo;
    for (const Program& p : gpu::lower_gemm(op, s, lo)) {
      Task task;
      p.make_task(0, task);
      for (const auto& in : task.instrs)
        if (in.kind == TxKind::VectorOp) ++n, *flops += static_cast<double>(in.flops);
    }
    return n;
  };
  double f_slow = 0, f_fast = 0, f_b = 0;
  const gpu::GemmTiling t = gpu::choose_gemm_tiling(slow, h);
  ASSERT_EQ(t.bk, 128);
  // Two fp32 accumulators per thread do not fit the consumer warpgroups' registers at 128x256 (2 x 128 > 232,
  // CUTLASS's MmaRegisterRequirement): promoted tiles stop at 128x128, as cuBLAS's fp8 kernels (128x128x128)
  // do; fast accumulation and Blackwell keep the 128x256 tile.
  EXPECT_LE(t.bm * t.bn, 128 * 128) << t.str();
  EXPECT_EQ(gpu::choose_gemm_tiling(fast, h).bm * gpu::choose_gemm_tiling(fast, h).bn, 128 * 256);
  EXPECT_EQ(gpu::choose_gemm_tiling(slow, b).bm * gpu::choose_gemm_tiling(slow, b).bn, 128 * 256);
  EXPECT_EQ(vector_ops(slow, h, &f_slow), 4096 / 128 + 1);  // promotions plus the epilogue's conversion
  EXPECT_EQ(vector_ops(slow, b, &f_b), 1);
  // The same tile without promotions: one add per accumulator per k-step is all that differs (FMA-lane units).
  LowerOptions lo;
  for (const Program& p : gpu::lower_gemm(fast, h, lo, t)) {
    Task task;
    p.make_task(0, task);
    int n = 0;
    for (const auto& in : task.instrs)
      if (in.kind == TxKind::VectorOp) ++n, f_fast += static_cast<double>(in.flops);
    EXPECT_EQ(n, 1);
  }
  EXPECT_DOUBLE_EQ(f_slow - f_fast, 4096.0 / 128 * 2 * t.bm * t.bn);
  auto chip = load_chip("h100-sxm");
  KernelStudyOptions ko;
  ko.sustained = true;
  const double t_slow = run_kernel_study(*chip, slow, ko).run.result.latency_s;
  const double t_fast = run_kernel_study(*chip, fast, ko).run.result.latency_s;
  EXPECT_GT(t_slow, t_fast);
  // Measured 0-8.5% (above); the model's 9.5% is mostly the tile (128x128 against fast accumulation's 128x256).
  EXPECT_LT(t_slow, t_fast * 1.10);
}
// TensorRT-LLM's MoE runner (the TensorRT engines' plugin) runs its sm90 grouped GEMMs as CUTLASS's ptr-array grouped
// kernel (impl cutlass-ptr-array, moe_gemm_launcher_sm90.inl of the v0.1x releases): FP8FastAccum (no promotion), no
// split-K or stream-K (its group tile scheduler walks whole tiles) and the PtrArrayNoSmemWarpSpecialized epilogue,
// whose threads store their accumulators themselves, one element per store, 4 lines per warp store (the tokens are
// the kernel's N; the output is contiguous along its M). Mixtral-8x7B's down projection at TP8 (K = 14336 / 8) on
// 16,384 routed rows: each 32 output elements cost 4 L1 wavefronts, against one 128-byte wavefront per 64 bf16
// elements staged: a quarter of the short K loop's tensor-core time more per tile, the tensor cores idle meanwhile.
TEST(GpuGroupedGemm, PtrArrayKernelStoresItsEpilogueFromRegisters) {
  const gpu::GpuSpec h = gpu_spec("h100_sxm.yaml");
  auto grouped = [](const std::string& impl) {
    std::map<std::string, std::string> a = {{"tokens", "16384"}, {"groups", "8"}, {"n", "4096"}, {"k", "1792"}, {"dtype", "fp8"}};
    if (!impl.empty()) a["impl"] = impl;
    return make_op("grouped_gemm", a);
  };
  const OpSpec ptr = grouped(kCutlassPtrArrayImpl);
  OpSpec staged = grouped("");
  staged.fast_accum = true;  // the same mainloop, the epilogue staged through shared memory
  const gpu::GemmTiling t = gpu::choose_gemm_tiling(ptr, h);
  EXPECT_EQ(t.epilogue_store_lines, 4) << t.str();
  EXPECT_EQ(t.split_k, 1);
  EXPECT_FALSE(t.stream_k);
  EXPECT_NE(t.str().find("epilogue stored from registers"), std::string::npos) << t.str();
  EXPECT_EQ(gpu::choose_gemm_tiling(staged, h).epilogue_store_lines, 0);
  // One vector op per tile (the epilogue: no promotions), its L1 bytes 4 wavefronts of 128 bytes per 32 elements.
  LowerOptions lo;
  int programs = 0;  // the GEMM alone: no split-K reduction kernel
  for (const Program& p : gpu::lower_gemm(ptr, h, lo, t)) {
    Task task;
    p.make_task(0, task);
    int vec = 0;
    for (const auto& in : task.instrs)
      if (in.kind == TxKind::VectorOp) {
        ++vec;
        EXPECT_DOUBLE_EQ(static_cast<double>(in.bytes), static_cast<double>(in.m) * in.n / 32 * 4 * 128);
      }
    EXPECT_EQ(vec, 1);
    ++programs;
  }
  EXPECT_EQ(programs, 1);
  auto chip = load_chip("h100-sxm");
  KernelStudyOptions ko;
  ko.sustained = true;
  const double t_ptr = run_kernel_study(*chip, ptr, ko).run.result.latency_s;
  const double t_staged = run_kernel_study(*chip, staged, ko).run.result.latency_s;
  // 4096 L1 cycles per 128x256 tile (512 staged) beside a K loop of 2 x 128 x 256 x 1792 / 8192 = 14,336
  // tensor-core cycles: a quarter of the loop, +11% on the kernel with the tiles' other fixed costs (2026-12-07).
  EXPECT_GT(t_ptr, 1.05 * t_staged);
  EXPECT_LT(t_ptr, 1.30 * t_staged);
  // Other GPUs run other kernels: B200 (tcgen05) keeps the staged epilogue.
  EXPECT_EQ(gpu::choose_gemm_tiling(ptr, gpu_spec("b200.yaml")).epilogue_store_lines, 0);
}

// A 64-row fp8 tile has one warpgroup doing its MMAs (wgmma's M is 64; the cooperative kernel's two consumer
// warpgroups need 128 rows): its promotion (warpgroup_wait<0>, then the adds) sits between two k-steps' MMAs,
// so each MMA after a promotion waits for that promotion. A 128-row tile's MMAs wait only for the promotion
// before it (the other warpgroup's MMAs cover the latest one). On our rows this moved the 64-row-tile fp8 rows
// 0.3-2.4 points slower (G255 M128 N4096 +6.7 -> +4.3%, H207 +6.8 -> +6.1%).
TEST(GpuFp8Accumulation, OneWarpgroupTileWaitsForEachPromotion) {
  const gpu::GpuSpec h = gpu_spec("h100_sxm.yaml");
  const OpSpec op = gemm(64, 4096, 1024, DType::fp8);
  LowerOptions lo;
  for (const int bm : {64, 128}) {
    gpu::GemmTiling t = gpu::choose_gemm_tiling(op, h);
    t.bm = bm, t.bn = 64, t.split_k = 1, t.stream_k = false;
    Task task;
    gpu::lower_gemm(op, h, lo, t)[0].make_task(0, task);
    std::vector<std::uint32_t> mmas, promos;
    for (std::uint32_t i = 0; i < task.instrs.size(); ++i) {
      if (task.instrs[i].kind == TxKind::TileCompute) mmas.push_back(i);
      if (task.instrs[i].kind == TxKind::VectorOp) promos.push_back(i);
    }
    ASSERT_EQ(mmas.size(), 1024u / 128);
    ASSERT_GE(promos.size(), mmas.size());  // one per k-step, plus the epilogue's conversion
    for (size_t s = 1; s < mmas.size(); ++s) {
      const auto& d = task.instrs[mmas[s]].dep;
      const bool waits_latest = d[0] == promos[s - 1] || d[1] == promos[s - 1] || d[2] == promos[s - 1];
      EXPECT_EQ(waits_latest, bm == 64) << "tile " << bm << " k-step " << s;
    }
  }
}

// Mid-size fp8 torch._scaled_mm GEMMs (M 2048-4096, our H100 and H200 rows): cuBLAS runs them as 128x128x128
// tiles (two fp32 accumulators per thread) fed from L2 at up to 9 TB/s. Modelled at 128x256 with a 7.2 TB/s L2
// they were 17-20% fast on five of these six rows (H217, H220, G262, G265, G268). Their measuring script runs an
// fp32 reference GEMM of the same shape just before timing, but its energy (under 2.2 J even at the full 700 W)
// is a few percent of the 36 J the short-term power window holds, so it cannot explain them.
TEST(GpuFp8Accumulation, MidSizeScaledMmRowsWithin14Percent) {
  std::vector<ValidationRow> rows;
  for (const char* f : {"h100_measured.csv", "h200_measured.csv"})
    for (const auto& r : rows_of(f))
      if (r.workload == "GEMM torch._scaled_mm per-tensor scale" && r.metric == "latency" &&
          (r.shape.find(" M2048 ") != std::string::npos || r.shape == "b1 M4096 N4096 K7168"))
        rows.push_back(r);
  const auto pts = validate_rows(rows);
  ASSERT_EQ(pts.size(), 6u);
  for (const auto& p : pts) {
    EXPECT_LE(std::fabs(p.error), 0.14) << p.row.id << " " << p.row.shape << " predicted " << p.predicted;
    EXPECT_GE(p.predicted, p.roofline) << p.row.id;
  }
}

// Operands whose rows are not 16-byte aligned cannot be copied by TMA (tensor-map strides are multiples
// of 16 bytes): the library runs an sm80-style kernel (mma.sync, thread copies; register-staged below 4
// bytes). M4095 N4097 K4096 bf16 has 2-byte aligned B and C rows; K700 8-byte aligned A rows.
TEST(GpuGemmAlignment, MisalignedRowsRunWithoutTma) {
  EXPECT_EQ(gpu::gemm_row_alignment(gemm(4096, 4096, 4096)), 16);
  EXPECT_EQ(gpu::gemm_row_alignment(gemm(4095, 4097, 4096)), 2);
  EXPECT_EQ(gpu::gemm_row_alignment(gemm(3000, 5000, 700)), 8);
  EXPECT_EQ(gpu::gemm_row_alignment(gemm(4096, 4100, 4096)), 8);
  const gpu::GpuSpec s = gpu_spec("h100_sxm.yaml");
  const gpu::GemmTiling odd = gpu::choose_gemm_tiling(gemm(4095, 4097, 4096), s);
  EXPECT_EQ(odd.copy_bytes, 2) << odd.str();
  EXPECT_EQ(odd.cluster_m, 1);
  LowerOptions lo;
  const KernelPrograms progs = gpu::lower_gemm(gemm(4095, 4097, 4096), s, lo, odd);
  EXPECT_FALSE(progs[0].copy_descriptors);
  Task task;
  progs[0].make_task(0, task);
  int sync_mmas = 0;
  for (const auto& in : task.instrs) sync_mmas += in.kind == TxKind::TileCompute && gpu::mma_path(in.level) == gpu::kMmaSync;
  EXPECT_EQ(sync_mmas, 4096 / odd.bk);
  // The 2-byte rows run CUTLASS's MmaPipelined (sm75 class): two stages 32 elements deep, the next k-tile's
  // copy beside this one's MMAs (step 1's copy waits for no MMA, step 2's for step 0's).
  EXPECT_EQ(odd.kernel(), gpu::GemmKernelClass::kSm75Pipelined);
  EXPECT_EQ(odd.stages, 2);
  EXPECT_EQ(odd.bk, 32);
  EXPECT_NE(odd.str().find("kernel sm75 pipelined"), std::string::npos) << odd.str();
  // Register-staged (2 B) against cp.async (4 B) copies on the same tile: a narrow warp access takes 4 L1 /
  // shared-memory wavefronts (its 4 rows) whatever its width, so a 2-byte copy costs 4 x 128 / 64 = 8 times
  // the stage's bytes at full width per pass and passes twice (ld.global, st.shared), a 4-byte cp.async 4
  // times, also twice (.ca: its L1 line, then shared memory; PTX allows .cg only at 16 bytes).
  gpu::GemmTiling wide = odd;
  wide.copy_bytes = 4;
  auto first_steps = [&](const gpu::GemmTiling& t, std::uint64_t* mma_bytes, bool* step1_waits, bool* step2_waits) {
    Task k;
    gpu::lower_gemm(gemm(4095, 4097, 4096), s, lo, t)[0].make_task(0, k);
    std::vector<std::uint32_t> mmas, loads;
    for (std::uint32_t i = 0; i < k.instrs.size(); ++i) {
      if (k.instrs[i].kind == TxKind::TileCompute) mmas.push_back(i);
      if (k.instrs[i].kind == TxKind::DmaRead) loads.push_back(i);
    }
    *mma_bytes = k.instrs[mmas[0]].bytes;
    *step1_waits = *step2_waits = false;
    for (auto d : k.instrs[loads[2]].dep) *step1_waits |= d == mmas[0];  // step 1's A copy
    for (auto d : k.instrs[loads[4]].dep) *step2_waits |= d == mmas[0];  // step 2's A copy
  };
  std::uint64_t b2 = 0, b4 = 0;
  bool w1 = true, w2 = false;
  first_steps(odd, &b2, &w1, &w2);
  EXPECT_FALSE(w1);
  EXPECT_TRUE(w2);
  first_steps(wide, &b4, &w1, &w2);
  const auto stage = static_cast<std::uint64_t>((odd.bm + odd.bn) * odd.bk * 2);
  EXPECT_EQ(b2 - b4, 8 * stage);  // bf16 stage: 2 x 8x at 2 B, 2 x 4x at 4 B
  auto chip = load_chip("h100-sxm");
  const double aligned = run_kernel_study(*chip, gemm(4096, 4096, 4096)).run.result.latency_s;
  const double misaligned = run_kernel_study(*chip, gemm(4095, 4097, 4096)).run.result.latency_s;
  EXPECT_GT(misaligned, 1.5 * aligned);
}

// A GEMM whose rows leave TMA is never faster than its aligned neighbour, on every Hopper and Blackwell
// preset: the fallback kernels (sm80 multistage, sm75 pipelined) run mma.sync and copy through the warps.
TEST(GpuGemmAlignment, MisalignedIsNotFasterThanItsAlignedNeighbour) {
  for (const char* c : {"h100-sxm", "h200", "b200"}) {
    auto chip = load_chip(c);
    const auto us = [&](std::int64_t m, std::int64_t n, std::int64_t k) {
      return run_kernel_study(*chip, gemm(m, n, k)).run.result.latency_s * 1e6;
    };
    EXPECT_GT(us(4095, 4097, 4096), us(4096, 4096, 4096)) << c;
    EXPECT_GT(us(3000, 5000, 700), us(3000, 5000, 704)) << c;
    EXPECT_GT(us(3000, 5000, 701), us(3000, 5000, 704)) << c;
    EXPECT_GE(us(1024, 1026, 1024), us(1024, 1024, 1024)) << c;
  }
}

// cp.async copies (4 and 8 bytes per thread) are issued by the warps through the L1 / shared-memory unit that
// their ldmatrix reads use, 4 wavefronts per warp access of 128 bytes (CUTLASS's 128-bit thread map, 8 threads
// by 4 rows, split into 4-byte accesses): each k-step's shared-memory time carries 2 x 4 times the stage's bytes (.ca: L1, then shared memory)
// beside the ldmatrix reads (with TMA the copy engine writes shared memory, not the warps). cuBLAS
// has no align4 bf16 kernel (align8, align2, align1; kernels/gemm/gpu.cpp), so 8-byte aligned rows (K700)
// run the align2 kernel's 4-byte copies.
TEST(GpuGemmAlignment, CpAsyncCopiesTakeSharedMemoryTimeAndMisalignedKIsSlower) {
  const gpu::GpuSpec s = gpu_spec("h100_sxm.yaml");
  const gpu::GemmTiling t = gpu::choose_gemm_tiling(gemm(3000, 5000, 700), s);
  ASSERT_FALSE(t.tma());
  EXPECT_EQ(t.copy_bytes, 4) << t.str();
  LowerOptions lo;
  Task k;
  gpu::lower_gemm(gemm(3000, 5000, 700), s, lo, t)[0].make_task(0, k);
  std::uint64_t mma_bytes = 0;
  for (const auto& in : k.instrs)
    if (in.kind == TxKind::TileCompute && gpu::mma_path(in.level) == gpu::kMmaSync) mma_bytes = in.bytes;
  const std::uint64_t warps_m = static_cast<std::uint64_t>(std::max(1, t.bm / 64)), warps_n = static_cast<std::uint64_t>(std::max(1, t.bn / 64));
  const std::uint64_t ldmatrix = static_cast<std::uint64_t>(t.bk) * 2 * (t.bm * warps_n + t.bn * warps_m);
  // 4 wavefronts per 128-byte access, twice: a 4-byte cp.async is .ca (PTX allows .cg only at 16 bytes), its line
  // read in the L1 and then written into shared memory.
  EXPECT_EQ(mma_bytes, ldmatrix + 2 * 4 * static_cast<std::uint64_t>((t.bm + t.bn) * t.bk * 2));
  // Around an aligned K (704: 16-byte rows, TMA) the time rises as the rows' alignment falls: 700 and 702 run
  // the 4-byte cp.async kernel (the same time), 701 the register-staged 2-byte one.
  auto chip = load_chip("h100-sxm");
  std::map<int, double> us;
  for (int kk : {700, 701, 702, 704}) us[kk] = run_kernel_study(*chip, gemm(3000, 5000, kk)).run.result.latency_s * 1e6;
  EXPECT_LT(us[704], us[700]);
  EXPECT_NEAR(us[702] / us[700], 1.0, 0.01);
  EXPECT_GT(us[701], us[702]);
  // The copy width sets the ratio: the 4-byte kernel's k-step (ldmatrix and two passes of its copies beside
  // mma.sync at its rate) takes at least twice the TMA kernel's (wgmma at mma_efficiency), so K700 is at least
  // 1.5x K704.
  EXPECT_GT(us[700], 1.5 * us[704]);
}

// A block's mma.sync steps run at its warps' share of the SM's rate (sm.warp_mma_sync_share per warp of a
// sub-partition): FA2's 4-warp block, one warp per sub-partition, is no faster per KV tile alone on an SM
// than beside a second block (our causal S1024 rows take as long as non-causal ones), while 8 warps fill
// the SM. Without the limit a lone block ran its tiles 1.8 times as fast as a paired one.
TEST(GpuAttentionKernels, AnFa2BlockAloneIsNotMuchFasterThanPaired) {
  const gpu::GpuSpec h = gpu_spec("h100_sxm.yaml");
  EXPECT_DOUBLE_EQ(h.mma_sync_block_share(0), 1.0);
  EXPECT_DOUBLE_EQ(h.mma_sync_block_share(8), 1.0);
  EXPECT_NEAR(h.mma_sync_block_share(4), h.sm.warp_mma_sync_share, 1e-12);
  EXPECT_NEAR(h.mma_sync_block_share(2), 0.5 * h.sm.warp_mma_sync_share, 1e-12);
  EXPECT_LT(h.sm.warp_mma_sync_share, 1.0);
  auto chip = load_chip("h100-sxm");
  // 132 blocks (one per SM) and 264 (two per SM) of 8 KV tiles each: one wave either way.
  auto prefill = [&](int heads) {
    return run_kernel(*chip, make_op("attention", {{"phase", "prefill"}, {"batch", "1"}, {"heads", std::to_string(heads)},
                                                   {"kv-heads", std::to_string(heads)}, {"seq", "512"}, {"head-dim", "128"},
                                                   {"causal", "false"}, {"impl", "fa2"}}),
                      false, false)
        .result.latency_s;
  };
  const double alone = prefill(33), paired = prefill(66);
  EXPECT_LT(paired / alone, 1.25) << alone * 1e6 << " us alone, " << paired * 1e6 << " us paired";
  EXPECT_GT(paired / alone, 0.95);
}

// A copy that the block's threads issue (ld.global / cp.async: the norms, FA2, an sm80-style GEMM) takes the
// load-to-use latencies (sm.load_l2_latency, sm.load_hbm_latency), a TMA copy l2.hit_latency / hbm.latency.
// F.rms_norm T1 D4096 is a chain of thread loads: 2 round trips of X (4 in flight of 8), 8 of gamma through
// L2; its time moves with the thread latencies and not with a TMA GEMM's, and the TMA GEMM the other way round.
TEST(GpuLatencyPaths, ThreadLoadsAndTmaCopiesTakeTheirOwnLatencies) {
  const OpSpec norm = make_op("rmsnorm", {{"rows", "1"}, {"cols", "4096"}, {"dtype", "bf16"}});
  auto latency = [](const OpSpec& op, std::vector<std::string> set) {
    return run_kernel(*load_chip("h100-sxm", set), op, false, false).result.latency_s;
  };
  const double base = latency(norm, {});
  const double slower = latency(norm, {"sm.load_l2_latency=360ns", "sm.load_hbm_latency=580ns"});
  // 10 dependent L2 round trips, 100 ns longer each (the X chain's first copies may come from HBM: 100 ns too)
  EXPECT_NEAR(slower - base, 10 * 100e-9, 150e-9);
  EXPECT_DOUBLE_EQ(latency(norm, {"l2.hit_latency=360ns", "sm.load_l2_latency=260ns", "sm.load_hbm_latency=480ns"}), base);
  const OpSpec g = gemm(1024, 1024, 1024);
  EXPECT_DOUBLE_EQ(latency(g, {"sm.load_l2_latency=360ns", "sm.load_hbm_latency=580ns"}), latency(g, {}));
  EXPECT_GT(latency(g, {"l2.hit_latency=360ns", "hbm.latency=580ns"}), latency(g, {}));
}

// sm.warp_issue_cycles: a warp issues its dependent code at one instruction per that many cycles at best. A
// 128-thread norm block alone on its SM (one warp per scheduler) slows by about that factor in its passes; a
// 1024-thread softmax block (8 warps per scheduler) does not move at 3.3 cycles.
TEST(GpuLatencyPaths, FewWarpsPerSchedulerIssueBelowTheSmsRate) {
  auto latency = [](const char* op, const char* cols, const char* cpi) {
    const OpSpec o = make_op(op, {{"rows", "1"}, {"cols", cols}, {"dtype", "bf16"}});
    return run_kernel(*load_chip("h100-sxm", {std::string("sm.warp_issue_cycles=") + cpi}), o, false, false).result.latency_s;
  };
  EXPECT_GT(latency("rmsnorm", "4096", "3.3"), latency("rmsnorm", "4096", "1") + 0.1e-6);
  EXPECT_DOUBLE_EQ(latency("softmax", "4096", "3.3"), latency("softmax", "4096", "1"));
}
