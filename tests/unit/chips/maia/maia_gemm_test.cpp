// The Maia GEMM lowering alone (pure, formats, placement policy, byte accounting) and end to end:
// no run beats its roofline, large FP8/FP4 GEMMs reach a plausible share of peak, SRAM-pinned
// weights speed up a decode GEMM by what the bandwidths imply, functional mode computes the result.
#include <gtest/gtest.h>

#include <cmath>

#include "chips/maia/isa.h"
#include "chips/maia/maia_spec.h"
#include "kernels/gemm/maia.h"
#include "kernels/maia_lowerings.h"
#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

namespace xpu {
void register_maia_family();
}

using namespace xpu;
using namespace xpu::maia;

namespace {
std::unique_ptr<ChipModel> chip(const std::string& name, const std::vector<std::string>& sets = {}) {
  register_maia_family();
  return load_chip(name, sets);
}
MaiaSpec spec(const std::string& name, const std::vector<std::string>& sets = {}) {
  register_maia_family();
  std::string path;
  for (const auto& p : list_presets())
    if (p.name == name) path = p.path;
  ConfigTree tree = ConfigTree::load_file(path);
  tree.set("name", name, "test");
  for (const auto& s : sets) tree.apply_overlay(s);
  MaiaSpec s;
  Params p(Params::Mode::Load, &tree);
  describe(p, s);
  p.finish();
  return s;
}
OpSpec gemm(std::int64_t m, std::int64_t n, std::int64_t k, const std::string& dt = "fp8", const std::string& wdt = "") {
  std::map<std::string, std::string> a = {{"m", std::to_string(m)}, {"n", std::to_string(n)}, {"k", std::to_string(k)}, {"dtype", dt}};
  if (!wdt.empty()) a["wdtype"] = wdt;
  return make_op("gemm", a);
}
// Bytes of every DMA of a lowering, by (level & 7) and by the weight flag.
struct Bytes2 {
  double by_level[8] = {};
  double weights_hbm = 0, weights_sram = 0, flops = 0;
};
Bytes2 count(const KernelPrograms& ps) {
  Bytes2 b;
  for (const auto& p : ps)
    for (std::uint64_t i = 0; i < p.num_tasks; ++i) {
      Task t;
      p.make_task(i, t);
      for (const auto& in : t.instrs) {
        if (in.kind == TxKind::TileCompute) b.flops += static_cast<double>(in.flops);
        if (in.kind != TxKind::DmaRead && in.kind != TxKind::DmaWrite) continue;
        b.by_level[in.level & 7] += static_cast<double>(in.bytes);
        if (in.level & kWeights) ((in.level & 7) == kHbm ? b.weights_hbm : b.weights_sram) += static_cast<double>(in.bytes);
      }
    }
  return b;
}
}  // namespace

TEST(MaiaGemmLowering, IsPureAndCountsEveryFlopAndWeightByteOnce) {
  MaiaSpec s = spec("maia200");
  OpSpec op = gemm(300, 1000, 700);
  KernelPrograms a = lower_gemm(op, s, LowerOptions{}), b = lower_gemm(op, s, LowerOptions{});
  ASSERT_EQ(a.size(), b.size());
  for (std::uint64_t i = 0; i < a[0].num_tasks; ++i) {
    Task x, y;
    a[0].make_task(i, x);
    b[0].make_task(i, y);
    ASSERT_EQ(x.instrs.size(), y.instrs.size());
    for (size_t j = 0; j < x.instrs.size(); ++j) EXPECT_EQ(x.instrs[j].addr, y.instrs[j].addr);
  }
  Bytes2 c = count(a);
  EXPECT_DOUBLE_EQ(c.flops, op.flops());
  EXPECT_DOUBLE_EQ(c.weights_hbm, 700.0 * 1000);  // each weight read from HBM exactly once per M block
  EXPECT_EQ(c.weights_sram, 0);
}

TEST(MaiaGemmLowering, PlacementPolicyPinsWeightsThatFit) {
  OpSpec op = gemm(8, 4096, 4096);
  MaiaSpec on = spec("maia200", {"placement.weights_in_sram=true"});
  EXPECT_TRUE(choose_gemm_tiling(op, on).pinned);
  Bytes2 c = count(lower_gemm(op, on, LowerOptions{}));
  EXPECT_DOUBLE_EQ(c.weights_sram, 4096.0 * 4096);
  EXPECT_EQ(c.weights_hbm, 0);
  EXPECT_FALSE(choose_gemm_tiling(op, spec("maia200")).pinned);  // policy off by default
  // A weight matrix larger than the SRAM budget streams even with the policy on (70B-class FFN).
  EXPECT_FALSE(choose_gemm_tiling(gemm(8, 28672, 8192 * 2), on).pinned);
  // Shrinking CSRAM shrinks the budget: the same 16 MB no longer fits.
  MaiaSpec small = spec("maia200", {"placement.weights_in_sram=true", "cluster.csram=1.5 MB", "tile.tsram=300 KB",
                                    "placement.csram_reserved=1 MB"});
  EXPECT_LT(small.weight_sram_budget(), 16e6);
  EXPECT_FALSE(choose_gemm_tiling(op, small).pinned);
  // Activations are never pinned (weights_stationary false).
  OpSpec act = op;
  act.weights_stationary = false;
  EXPECT_FALSE(choose_gemm_tiling(act, on).pinned);
}

TEST(MaiaGemmLowering, MixedFp8ActivationsWithFp4Weights) {
  MaiaSpec s = spec("maia200");
  OpSpec op = gemm(512, 2048, 2048, "fp8", "fp4");
  MatmulFormat f = matmul_format(op, op.dtype, op.wdtype, s);
  EXPECT_EQ(f.act, DType::fp8);
  EXPECT_EQ(f.wt, DType::fp4);
  EXPECT_EQ(f.rate, DType::fp8);  // the wider operand sets the rate
  KernelPrograms p = lower_gemm(op, s, LowerOptions{});
  EXPECT_NE(p[0].strategy.find("mixed fp8 x fp4"), std::string::npos) << p[0].strategy;
  GemmTiling t = choose_gemm_tiling(op, s);
  const double m_blocks = std::ceil(512.0 / (t.pr * t.tm));  // weights are read once per cluster row block
  EXPECT_DOUBLE_EQ(count(p).weights_hbm, m_blocks * 2048.0 * 2048 * 0.5);
}

TEST(MaiaGemmLowering, Bf16IsConvertedToFp8OrRefusedNeverRunAtAnInventedRate) {
  OpSpec op = gemm(256, 256, 256, "bf16");
  KernelPrograms p = lower_gemm(op, spec("maia200"), LowerOptions{});
  EXPECT_NE(p[0].strategy.find("bf16 converted to fp8 on the TVP"), std::string::npos) << p[0].strategy;
  bool any_fp8_mma = false, any_bf16_mma = false, any_cvt = false;
  Task t;
  p[0].make_task(0, t);
  for (const auto& in : t.instrs) {
    if (in.kind == TxKind::TileCompute) (in.dtype == DType::fp8 ? any_fp8_mma : any_bf16_mma) = true;
    if (in.kind == TxKind::VectorOp && in.dtype == DType::bf16) any_cvt = true;
  }
  EXPECT_TRUE(any_fp8_mma);
  EXPECT_FALSE(any_bf16_mma);
  EXPECT_TRUE(any_cvt);
  try {
    lower_gemm(op, spec("maia200", {"lowering.bf16_matmul=refuse"}), LowerOptions{});
    FAIL() << "bf16 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no bf16 path"), std::string::npos) << e.what();
  }
  EXPECT_THROW(lower_gemm(gemm(64, 64, 64, "fp32"), spec("maia200"), LowerOptions{}), InputError);
  EXPECT_THROW(lower_gemm(gemm(64, 64, 64, "int8"), spec("maia200"), LowerOptions{}), InputError);
  // Maia 100's TTU has BF16: native, no conversion.
  KernelPrograms m100 = lower_gemm(op, spec("maia100"), LowerOptions{});
  EXPECT_EQ(m100[0].strategy.find("converted"), std::string::npos);
}

TEST(MaiaGemm, NoShapeBeatsItsRoofline) {
  for (const char* name : {"maia200", "maia100"}) {
    auto c = chip(name);
    for (const char* dt : {"fp8", "fp4"}) {
      for (auto sh : std::vector<std::array<int, 3>>{{1, 4096, 4096}, {8, 1024, 8192}, {64, 96, 80}, {256, 4096, 1024},
                                                    {1000, 1000, 1000}, {2048, 2048, 2048}, {4096, 512, 256}}) {
        OpSpec op = gemm(sh[0], sh[1], sh[2], dt);
        KernelRun r = run_kernel(*c, op, false, false);
        double bound = std::max(op.flops() / c->peak_flops(op.dtype), op.min_bytes() / c->dram_bandwidth());
        double exec = 0;
        for (const auto& k : r.result.kernels) exec += k.exec_s;
        EXPECT_GE(exec, bound) << name << " " << dt << " " << op.shape_str();
        EXPECT_GE(r.result.latency_s, r.result.kernels[0].roofline_s);
      }
    }
  }
}

TEST(MaiaGemm, LargeFp8AndFp4GemmsReachAPlausibleShareOfPeak) {
  auto c = chip("maia200");
  KernelRun f8 = run_kernel(*c, gemm(4096, 4096, 4096, "fp8"), false, false);
  EXPECT_GT(f8.result.share_of_peak, 0.65);
  EXPECT_LT(f8.result.share_of_peak, 0.95);
  KernelRun f4 = run_kernel(*c, gemm(4096, 4096, 4096, "fp4"), false, false);
  EXPECT_GT(f4.result.share_of_peak, 0.45);
  EXPECT_LT(f4.result.share_of_peak, 0.95);
}

// Decode-like GEMM (M=8, N=K=4096, fp8 weights, 16.8 MB): with the weights pinned in SRAM the tiles
// read them at the CSRAM/tile-port bandwidth instead of HBM's. Both runs share the same fixed costs
// (launch, A staging from HBM, the output write), so the saving must equal the weight bytes times
// the difference of the inverse bandwidths, and the speedup is bounded by the bandwidth ratio.
TEST(MaiaGemm, DecodeWithWeightsInSramIsFasterByTheBandwidthRatio) {
  MaiaSpec s = spec("maia200");
  OpSpec op = gemm(8, 4096, 4096);
  KernelRun off = run_kernel(*chip("maia200"), op, false, false);
  KernelRun on = run_kernel(*chip("maia200", {"placement.weights_in_sram=true"}), op, false, false);
  const double w = 4096.0 * 4096;
  const double bw_hbm = s.hbm_stream_bw();
  const double bw_sram = std::min(s.cluster.count * s.csram_bw(), s.tiles() * s.tile_dma_bw());
  const double t_off = off.result.kernels[0].exec_s, t_on = on.result.kernels[0].exec_s;
  const double expected_saving = w / bw_hbm - w / bw_sram;
  EXPECT_NEAR((t_off - t_on) / expected_saving, 1.0, 0.25) << t_off << " " << t_on;
  EXPECT_LT(t_off / t_on, bw_sram / bw_hbm);
  EXPECT_GT(t_off / t_on, 2.0);
  EXPECT_GE(t_on, w / bw_sram);
  // The report shows where the weights came from.
  EXPECT_DOUBLE_EQ(off.result.stats.get("chip.mem.weights.hbm_bytes"), w);
  EXPECT_DOUBLE_EQ(on.result.stats.get("chip.mem.weights.sram_bytes"), w);
  EXPECT_EQ(on.result.stats.get("chip.mem.weights.hbm_bytes"), 0);
}

TEST(MaiaGemm, FunctionalModeComputesTheProduct) {
  auto c = chip("maia200");
  for (auto op : {gemm(64, 96, 80, "fp8"), gemm(40, 100, 300, "fp8", "fp4"), gemm(33, 17, 700, "bf16")}) {
    KernelRun r = run_kernel(*c, op, true, false);
    ASSERT_TRUE(r.check.ran);
    // bf16 runs as fp8 on Maia 200 (converted), so it is held to the fp8 tolerance.
    double tol = op.dtype == DType::bf16 ? 0.13 : r.check.tolerance;
    EXPECT_LE(r.check.max_rel_error, tol) << op.shape_str();
  }
  KernelRun m100 = run_kernel(*chip("maia100"), gemm(48, 64, 96, "bf16"), true, false);
  EXPECT_TRUE(m100.check.passed) << m100.check.max_rel_error;
  // Split-K (few output blocks, long K) and grouped GEMM.
  OpSpec sk = gemm(16, 64, 16384, "fp8");
  ASSERT_GT(choose_gemm_tiling(sk, spec("maia200")).split_k, 1);
  EXPECT_TRUE(run_kernel(*c, sk, true, false).check.passed);
  OpSpec g = make_op("grouped_gemm", {{"m", "100"}, {"n", "64"}, {"k", "128"}, {"groups", "4"}, {"dtype", "fp8"}});
  EXPECT_TRUE(run_kernel(*c, g, true, false).check.passed);
}
