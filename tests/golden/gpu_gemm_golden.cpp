// Golden GEMM runs on the GPU presets, roofline checks over a grid of shapes, functional mode, and
// the validation bounds against the public H100 measurements (workloads/validation/public_measurements.csv).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"
#include "sim/validation/validate.h"

using namespace xpu;

namespace {
OpSpec gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType d = DType::bf16) {
  std::map<std::string, std::string> a = {{"m", std::to_string(m)}, {"n", std::to_string(n)},
                                          {"k", std::to_string(k)}, {"dtype", name(d)}};
  return make_op("gemm", a);
}
}  // namespace

// Reference latencies recorded from this model (tolerance 2%: they change only when the model does,
// and a change must be deliberate). Each is also checked against a hand estimate: waves x per-tile
// MMA time at the calibrated tensor rate, plus launch and prologue, within 25%.
TEST(GpuGolden, SmallGemmsMatchReferenceAndHandEstimate) {
  auto chip = load_chip("h100-sxm");
  struct Case {
    std::int64_t m, n, k;
    double ref_us;
  } cases[] = {{2048, 2048, 2048, 25.41}, {1024, 4096, 4096, 43.63}, {8, 4096, 4096, 13.98}};  // +0.26 us: tensor-map fetch
  for (const auto& c : cases) {
    KernelRun run = run_kernel(*chip, gemm(c.m, c.n, c.k), false, false);
    double us = run.result.latency_s * 1e6;
    EXPECT_NEAR(us / c.ref_us, 1.0, 0.02) << c.m << "x" << c.n << "x" << c.k << ": " << us << " us";
    // Hand estimate: compute-bound tiles over 132 SMs, or the weights streamed at 0.9 x 3.35 TB/s.
    double tiles = std::ceil(c.m / 128.0) * std::ceil(c.n / 256.0);
    double waves = std::ceil(tiles / 132.0);
    double t_compute = waves * 2.0 * 128 * 256 * c.k / (4096 * 0.97 * 1.83e9);
    double t_memory = (c.m * c.k + c.k * c.n + c.m * c.n) * 2.0 / (0.9 * 3.35e12);
    // A skinny GEMM is lowered with small tiles and is bound by streaming the weights instead.
    double hand_us = ((c.m >= 1024 ? std::max(t_compute, t_memory) : t_memory) + 1e-6 + 1.5e-6) * 1e6;
    EXPECT_NEAR(us / hand_us, 1.0, 0.25) << "hand estimate " << hand_us << " us";
  }
}

TEST(GpuGolden, NoGemmBeatsItsRoofline) {
  for (const char* chip_name : {"h100-sxm", "b200"}) {
    auto chip = load_chip(chip_name);
    for (std::int64_t m : {1, 64, 333, 1024})
      for (std::int64_t n : {128, 1000, 4096})
        for (std::int64_t k : {64, 777, 4096})
          for (DType d : {DType::bf16, DType::fp8}) {
            OpSpec op = gemm(m, n, k, d);
            KernelRun run = run_kernel(*chip, op, false, false);
            double roof = std::max(op.flops() / chip->peak_flops(d), op.min_bytes() / chip->dram_bandwidth());
            EXPECT_GE(run.result.latency_s, roof) << chip_name << " " << op.shape_str();
            EXPECT_LE(run.result.share_of_peak, 1.0);
          }
  }
}

TEST(GpuGolden, FunctionalGemmComputesTheProduct) {
  auto chip = load_chip("h100-sxm");
  for (auto [m, n, k, d] : {std::tuple{64, 96, 80, DType::bf16}, {130, 70, 200, DType::bf16}, {33, 65, 129, DType::tf32},
                            {100, 100, 1000, DType::bf16} /* split-K */}) {
    OpSpec op = gemm(m, n, k, d);
    KernelRun run = run_kernel(*chip, op, true, false);
    ASSERT_TRUE(run.check.ran);
    EXPECT_TRUE(run.check.passed) << op.shape_str() << " rel error " << run.check.max_rel_error;
  }
  // Batched and grouped GEMMs too.
  OpSpec b = gemm(48, 40, 72);
  b.batch = 3;
  EXPECT_TRUE(run_kernel(*chip, b, true, false).check.passed);
  OpSpec g = make_op("grouped_gemm", {{"tokens", "150"}, {"groups", "4"}, {"n", "64"}, {"k", "96"}});
  EXPECT_TRUE(run_kernel(*chip, g, true, false).check.passed);
}

// The public A100 GEMM rows (MAMF-A100-*: stas00/ml-engineering's Maximum Achievable Matmul FLOPS table, bf16,
// the best shape of a sweep) run the sm80 multistage kernel (no TMA on the A100), timed in steady state (the sweep
// runs its shapes back to back), within 6% and no faster than their roofline. 2026-12-06 (issue 14, a100p38):
// +1.1% (M6912 N2048 K16384, 270.9 against 267.9) and -3.2% (M1024 N10240 K5120, 262.4 against 271.2), held at
// 88-89% of 1410 MHz by the H100's energies carried to the A100; as bursts at 1410 MHz they were +14.8/+8.6%.
TEST(GpuValidation, PublicA100GemmRowsRunTheSm80KernelWithinBounds) {
  std::string shared;
  for (const auto& f : default_measurement_files())
    if (f.find("public_measurements") != std::string::npos) shared = f;
  ASSERT_FALSE(shared.empty()) << "workloads/validation/public_measurements.csv is missing";
  int n = 0;
  for (const auto& p : validate_rows(read_measurements(shared))) {
    if (p.chip != "a100-sxm" || p.row.workload.rfind("GEMM", 0) != 0) continue;
    EXPECT_NE(p.note.find("sm80 multistage"), std::string::npos) << p.row.id << " " << p.note;
    EXPECT_NE(p.note.find("timed in steady state"), std::string::npos) << p.row.id << " " << p.note;
    EXPECT_LE(std::fabs(p.error), 0.06) << p.row.id << " " << p.row.shape << " predicted " << p.predicted;
    EXPECT_LE(p.predicted, p.roofline * 1.0000001) << p.row.id;
    ++n;
  }
  EXPECT_GE(n, 2);
}

// A row whose source states that it was timed with the chip held at its power limit (kSteadyStateMarker) is
// predicted in steady state: the same large A100 GEMM row without the statement is one burst from idle at the
// nominal clock, with it the power manager holds it below (and no protocol's warm-up applies on top).
TEST(GpuValidation, SteadyStateStatementHoldsAKernelRowAtItsPowerLimit) {
  EXPECT_TRUE(protocol_steady_state(std::string("sweep; ") + kSteadyStateMarker + ": the script runs its shapes back to back"));
  EXPECT_FALSE(protocol_steady_state("CUDA events, 20 warm-up, median of 30 back-to-back eager calls"));
  ValidationRow r;
  r.id = "T1", r.hardware = "A100 SXM", r.level = "kernel", r.workload = "GEMM torch.mm", r.dtype = "bf16";
  r.shape = "b1 M8192 N8192 K8192", r.metric = "throughput", r.unit = "TFLOP/s", r.measured = 250;
  r.source = "a test row";
  ValidationRow s = r;
  s.id = "T2", s.source = std::string("a test row; CUDA events, 20 warm-up, median of 30 back-to-back eager calls; ") + kSteadyStateMarker;
  const auto pts = validate_rows({r, s});
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].note.find("steady state"), std::string::npos) << pts[0].note;
  EXPECT_NE(pts[1].note.find("timed in steady state at"), std::string::npos) << pts[1].note;
  EXPECT_EQ(pts[1].note.find("timed after"), std::string::npos) << pts[1].note;  // the warm-up is not applied on top
  EXPECT_LT(pts[1].predicted, 0.95 * pts[0].predicted);  // held well below 1410 MHz at 400 W
  EXPECT_GT(pts[1].predicted, 0.80 * pts[0].predicted);
}

// torchao's bench_matmul.py times one call, then five under the profiler and divides their kernel time by five
// (the B200 TAO rows state it): the middle of the timed calls is 3.5 runs from idle. At 8192^3 BF16 those runs last
// about 2.2 ms, short of the power manager's reaction, so the row is still the burst it was without the statement.
TEST(GpuValidation, ProfilerMeanProtocolTimesAShortWarmUpFromIdle) {
  EXPECT_DOUBLE_EQ(protocol_runs("x; profiler kernel time, 1 warm-up, mean of 5 back-to-back calls (utils.py)"), 3.5);
  EXPECT_DOUBLE_EQ(protocol_runs("CUDA events, 20 warm-up, median of 30 back-to-back eager calls"), 35.0);
  EXPECT_DOUBLE_EQ(protocol_runs("a test row"), -1.0);
  ValidationRow r;
  r.id = "T1", r.hardware = "B200", r.level = "kernel", r.workload = "GEMM torch.nn.Linear bf16 (cuBLAS)", r.dtype = "bf16";
  r.shape = "b1 M8192 N8192 K8192", r.metric = "kernel_time", r.unit = "us", r.measured = 774;
  r.source = "a test row";
  ValidationRow s = r;
  s.id = "T2", s.source = "a test row; profiler kernel time, 1 warm-up, mean of 5 back-to-back calls";
  const auto pts = validate_rows({r, s});
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].note.find("timed after"), std::string::npos) << pts[0].note;
  EXPECT_NE(pts[1].note.find("timed after 4 runs from idle"), std::string::npos) << pts[1].note;
  EXPECT_NEAR(pts[1].predicted, pts[0].predicted, 1e-6 * pts[0].predicted);
}

TEST(GpuValidation, SharedH100GemmRowsWithinBounds) {
  auto files = default_measurement_files();
  std::string shared;
  for (const auto& f : files)
    if (f.find("public_measurements") != std::string::npos) shared = f;
  ASSERT_FALSE(shared.empty()) << "workloads/validation/public_measurements.csv is missing";
  auto pts = validate_rows(read_measurements(shared));
  double sum = 0;
  int n = 0;
  for (const auto& p : pts) {
    bool gemm16 = p.chip == "h100-sxm" && p.row.workload.rfind("GEMM", 0) == 0 &&
                  (p.row.dtype.rfind("bf16", 0) == 0 || p.row.dtype.find("tf32") != std::string::npos);
    if (!gemm16) continue;
    // Sources: tensorflow/tensorflow xla matmul_interpolator_data.h (K rows), PyTorch matmul (D01).
    EXPECT_LE(std::fabs(p.error), 0.15) << p.row.id << " " << p.row.shape << " predicted " << p.predicted;
    EXPECT_LE(p.predicted, p.roofline * 1.0000001) << p.row.id;
    sum += std::fabs(p.error);
    ++n;
  }
  ASSERT_GE(n, 5);
  EXPECT_LE(sum / n, 0.10);
}

TEST(GpuValidation, Fa3AttentionAndFp8GemmRows) {
  auto files = default_measurement_files();
  std::string shared;
  for (const auto& f : files)
    if (f.find("public_measurements") != std::string::npos) shared = f;
  ASSERT_FALSE(shared.empty()) << "workloads/validation/public_measurements.csv is missing";
  int n = 0, fp8 = 0;
  for (const auto& p : validate_rows(read_measurements(shared))) {
    bool fa3 = p.row.workload.find("FA3") != std::string::npos;
    // The H100 fp8 rows (the B200 ones have their own test, GpuBlackwell.PublicBlockScaledAndFp8GemmRows).
    // DeepGEMM's whole README table (DG-*) has its own test, GpuValidation.DeepGemmH800TableRows.
    bool gemm8 = p.chip == "h100-sxm" && p.row.workload.rfind("GEMM", 0) == 0 && p.row.dtype.rfind("fp8", 0) == 0 &&
                 p.row.id.rfind("DG-", 0) != 0;
    if (!fa3 && !gemm8) continue;
    // Sources: pytorch/benchmark commit ff65cb67 (FlashAttention-3 forward on H100);
    // deepseek-ai/DeepGEMM README (block-FP8 GEMMs on H800, the H100's compute and HBM).
    EXPECT_LE(std::fabs(p.error), 0.20) << p.row.id << " predicted " << p.predicted;
    EXPECT_LE(p.predicted, p.roofline * 1.0000001) << p.row.id;
    n += fa3;
    fp8 += gemm8;
  }
  EXPECT_EQ(n, 2);
  EXPECT_EQ(fp8, 2);
}

TEST(GpuGolden, AttentionAndRowOpsRespectTheirRooflines) {
  auto chip = load_chip("h100-sxm");
  std::vector<std::map<std::string, std::string>> attn = {
      {{"phase", "prefill"}, {"batch", "1"}, {"heads", "8"}, {"kv-heads", "2"}, {"seq", "1024"}, {"head-dim", "128"}},
      {{"phase", "prefill"}, {"batch", "2"}, {"heads", "4"}, {"seq", "777"}, {"head-dim", "64"}, {"causal", "false"}},
      {{"phase", "decode"}, {"batch", "8"}, {"heads", "32"}, {"kv-heads", "8"}, {"seq", "4096"}, {"head-dim", "128"}},
      {{"phase", "decode"}, {"batch", "1"}, {"heads", "32"}, {"kv-heads", "8"}, {"seq", "16384"}, {"head-dim", "128"}}};
  for (const auto& a : attn) {
    OpSpec op = make_op("attention", a);
    KernelRun run = run_kernel(*chip, op, false, false);
    double roof = std::max(op.flops() / chip->peak_flops(DType::bf16), op.min_bytes() / chip->dram_bandwidth());
    EXPECT_GE(run.result.latency_s, roof) << op.shape_str();
  }
  // Causal prefill skips the masked tiles: about half the time of the full one at long sequences.
  auto t = [&](const char* causal) {
    return run_kernel(*chip, make_op("attention", {{"batch", "1"}, {"heads", "16"}, {"seq", "8192"}, {"causal", causal}}),
                      false, false).result.latency_s;
  };
  EXPECT_NEAR(t("true") / t("false"), 0.5, 0.08);
  for (const char* opname : {"rmsnorm", "softmax", "swiglu", "residual_add", "gelu", "rope"}) {
    OpSpec op = make_op(opname, {{"rows", "8192"}, {"cols", "4096"}});
    KernelRun run = run_kernel(*chip, op, false, false);
    double t_mem = op.min_bytes() / chip->dram_bandwidth();
    EXPECT_GE(run.result.latency_s, t_mem) << opname;
    if (std::string(opname) == "softmax") {
      // torch.softmax over 4096-element rows runs one 1024-thread block per row, one block per SM, each
      // thread one 16-byte load before two block reductions: latency-bound, as measured (H309, H312: 2.6-2.8x
      // the DRAM roofline on the H100).
      EXPECT_LE(run.result.latency_s, 3.5 * t_mem) << opname;
      continue;
    }
    EXPECT_EQ(run.result.kernels[0].bound, "memory") << opname;
    EXPECT_LE(run.result.latency_s, 2.0 * t_mem / 0.9 + 3e-6) << opname << ": a large row op is bandwidth-bound";
  }
}
