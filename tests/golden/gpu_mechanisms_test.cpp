// GPU mechanisms checked against measurements: the fixed costs of small kernels, split-K reduced
// inside the GEMM kernel, TF32 GEMMs on H100, and large BF16 GEMMs on B200 (2-SM MMA).
#include <gtest/gtest.h>

#include <cmath>

#include "chips/gpu/gpu_spec.h"
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
}  // namespace

// Every kernel row of our H100 measurements that ran in under 10 us (CUDA-graph replays, so each
// includes its launch): small kernels are dominated by fixed costs (launch, block start, tensor-map
// fetch, pipeline prologue and epilogue). Source: workloads/validation/h100_measured.csv (H100 SXM,
// PyTorch 2.11, 2026-11-22).
TEST(GpuFixedCosts, SmallH100KernelsAreNotSystematicallyFast) {
  std::vector<ValidationRow> small;
  for (const auto& r : rows_of("h100_measured.csv"))
    if (r.level == "kernel" && r.metric == "latency" && r.unit == "us" && r.measured < 10.0) small.push_back(r);
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
    // that band, not at the 55% of Hopper's per-SM paths.
    const double share = 2 * n * n * n / (p.predicted * 1e-6) / peak;
    EXPECT_GE(share, 0.60) << p.row.id;
    EXPECT_LE(share, 0.80) << p.row.id;
  }
}

// The 2-SM MMA halves each SM's B traffic: a large B200 GEMM is not bound by the SMs' crossbar links.
TEST(GpuBlackwell, PairMmaHalvesEachSmsBTraffic) {
  const gpu::GpuSpec s = gpu_spec("b200.yaml");
  ASSERT_TRUE(s.sm.cta_pair_mma);
  const OpSpec op = gemm(4096, 4096, 4096);
  const gpu::GemmTiling t = gpu::choose_gemm_tiling(op, s);
  ASSERT_TRUE(t.cta_pair);
  LowerOptions lo;
  double b_bytes = 0;
  const TensorRef B = lo.ref(op.label, "B");
  for (const Program& p : gpu::lower_gemm(op, s, lo, t))
    for (std::uint64_t i = 0; i < p.num_tasks; ++i) {
      Task task;
      p.make_task(i, task);
      for (const auto& in : task.instrs)
        if (in.kind == TxKind::DmaRead && in.addr >= B.addr && in.addr < B.addr + (1ull << 40)) b_bytes += in.bytes;
    }
  // Each tile-row pair reads each B tile once between its two SMs: half of one read per tile.
  const double tiles_m = std::ceil(4096.0 / t.bm);
  EXPECT_DOUBLE_EQ(b_bytes, 4096.0 * 4096 * 2 * tiles_m / 2);
}

// Split-K as cuBLAS and CUTLASS run it: one kernel whose first slice per tile adds the other slices'
// partials in its epilogue. Where the heuristic splits, the split kernel is not slower than the
// unsplit one, and functional mode still computes the product.
TEST(GpuSplitK, ReducedInsideTheKernelAndNotSlowerThanUnsplit) {
  const gpu::GpuSpec s = gpu_spec("h100_sxm.yaml");
  auto chip = load_chip("h100-sxm");
  for (auto [m, n, k] : {std::tuple{256, 256, 4096}, {128, 128, 8192}, {1024, 1024, 1024}, {512, 512, 512}}) {
    const OpSpec op = gemm(m, n, k);
    gpu::GemmTiling t = gpu::choose_gemm_tiling(op, s);
    if (t.split_k == 1) continue;
    LowerOptions lo;
    KernelPrograms split = gpu::lower_gemm(op, s, lo, t);
    ASSERT_EQ(split.size(), 1u) << op.shape_str() << ": split-K is reduced inside the kernel";
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
