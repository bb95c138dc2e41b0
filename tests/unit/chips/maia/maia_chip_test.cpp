// Maia presets (published peaks reproduced exactly from their parameters, overlays), and the chip
// model timed with hand-written programs: TTU steps, the DMA hierarchy tile <-> cluster <-> HBM and
// the NoC broadcast that merges identical in-flight HBM reads.
#include <gtest/gtest.h>

#include "chips/maia/isa.h"
#include "chips/maia/maia_spec.h"
#include "sim/run/registry.h"
#include "sim/run/runner.h"

namespace xpu {
void register_maia_family();
}

using namespace xpu;
using namespace xpu::maia;

namespace {
std::unique_ptr<ChipModel> load_maia(const std::string& name, const std::vector<std::string>& sets = {}) {
  register_maia_family();
  return load_chip(name, sets);
}
MaiaSpec spec_of(const std::string& name, const std::vector<std::string>& sets = {}) {
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
void near_rel(double got, double want, double tol = 1e-12) { EXPECT_NEAR(got / want, 1.0, tol) << got << " vs " << want; }

// One task per listed executor (static placement), each a list of instructions.
Program hand_program(int executors, const std::vector<std::vector<Instr>>& per_exec) {
  Program p;
  p.name = "hand";
  p.num_tasks = static_cast<std::uint64_t>(executors);
  p.static_placement = true;
  auto tasks = std::make_shared<std::vector<std::vector<Instr>>>(per_exec);
  p.make_task = [tasks](std::uint64_t i, Task& t) {
    if (i < tasks->size()) t.instrs.assign((*tasks)[i].begin(), (*tasks)[i].end());
  };
  return p;
}
Instr dma(std::uint8_t level, std::uint64_t bytes, std::uint64_t addr, std::uint8_t engine = kTdma) {
  Instr in;
  in.kind = TxKind::DmaRead;
  in.engine = engine;
  in.level = level;
  in.bytes = bytes;
  in.addr = addr;
  return in;
}
double run_exec(const ChipModel& chip, const Program& p, Stats* stats = nullptr) {
  RunResult r = simulate(chip, {{p}}, RunOptions{}, DType::fp8);
  if (stats) *stats = r.stats;
  return r.kernels.at(0).exec_s;
}
}  // namespace

TEST(MaiaPresets, Maia200ReproducesPublishedFiguresExactly) {
  MaiaSpec s = spec_of("maia200");
  near_rel(s.peak_flops(DType::fp8), 5e15);    // ">5 PFLOPS FP8"
  near_rel(s.peak_flops(DType::fp4), 10e15);   // ">10 PFLOPS FP4"
  EXPECT_EQ(s.peak_flops(DType::bf16), 0.0);   // BF16 is TVP-only: no tensor rate
  EXPECT_EQ(s.matmul_rate_dtype(DType::bf16), DType::fp8);  // ... so a BF16 matmul runs converted to FP8
  EXPECT_EQ(s.matmul_rate_dtype(DType::fp4), DType::fp4);
  s.bf16_matmul = "refuse";
  EXPECT_EQ(s.matmul_rate_dtype(DType::bf16), DType::bf16);
  near_rel(s.hbm.bandwidth.value(), 7e12);
  near_rel(s.hbm.capacity.value(), 216.0 * (1ull << 30));  // "216 GB" of HBM3e, binary as every HBM capacity (README)
  near_rel(s.sram_bytes(), 272e6);
  near_rel(load_maia("maia200")->power()->tdp.value(), 750);  // power.tdp: the one TDP the power manager reads
  EXPECT_GE(s.weight_sram_budget(), 218e6);    // one Llama-3.1-8B FP8 layer fits
  EXPECT_LT(s.weight_sram_budget(), 856e6);    // one Llama-3.1-70B FP8 layer does not
}

TEST(MaiaPresets, Maia100ReproducesPublishedFiguresExactly) {
  MaiaSpec s = spec_of("maia100");
  EXPECT_EQ(s.tiles(), 64);
  EXPECT_EQ(s.cluster.count, 16);
  near_rel(s.peak_flops(DType::bf16), 0.8e15);
  EXPECT_EQ(s.matmul_rate_dtype(DType::bf16), DType::bf16);  // a BF16 TTU path: no conversion
  near_rel(s.peak_flops(DType::fp8), 1.5e15);  // "9-bit: 1.5 POPS"
  near_rel(s.peak_flops(DType::fp6), 3e15);    // "6-bit: 3 POPS"
  near_rel(s.sram_bytes(), 500e6);
  near_rel(s.hbm.bandwidth.value(), 1.8e12);
  near_rel(s.hbm.capacity.value(), 64.0 * (1ull << 30));  // "64 GB" of HBM2E, binary as every HBM capacity (README)
}

TEST(MaiaPresets, SetOverlaysChangePeaksAndTimes) {
  MaiaSpec s = spec_of("maia200", {"ttu.depth.fp8=32", "cluster.count=8"});
  near_rel(s.peak_flops(DType::fp8), 5e15 / 4);
  auto base = load_maia("maia200"), half = load_maia("maia200", {"ttu.depth.fp8=32"});
  EXPECT_NEAR(half->peak_flops(DType::fp8) / base->peak_flops(DType::fp8), 0.5, 1e-12);
  EXPECT_THROW(load_maia("maia200", {"ttu.depht.fp8=32"}), std::exception);   // misspelled key
  EXPECT_THROW(load_maia("maia200", {"lowering.bf16_matmul=maybe"}), std::exception);
}

// A --set that breaks a constraint with a preset field is named as the cause, with its value, what it would take
// and where the preset's value comes from; a --set of the constrained field itself is blamed as before.
TEST(MaiaPresets, OverrideBreakingPresetConstraintIsNamed) {
  auto message = [](const std::vector<std::string>& sets) {
    try {
      spec_of("maia200", sets);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string tsram = message({"tile.tsram=256KiB"});
  EXPECT_EQ(tsram.rfind("--set tile.tsram: '256 KiB': expected more than placement.tsram_reserved (placement.tsram_reserved: '256 KiB' at ", 0), 0u) << tsram;
  EXPECT_NE(tsram.find("maia200.yaml:"), std::string::npos) << tsram;
  EXPECT_EQ(message({"placement.tsram_reserved=16MiB"}), "--set placement.tsram_reserved: '16 MiB': expected less than tile.tsram");
  const std::string csram = message({"cluster.csram=256KiB"});
  EXPECT_EQ(csram.rfind("--set cluster.csram: '256 KiB': expected at least placement.csram_reserved", 0), 0u) << csram;
}

TEST(MaiaChip, TtuStepsPadPartialBlocksAndTvpUsesFormatRates) {
  auto chip = load_maia("maia200");
  MaiaSpec s = spec_of("maia200");
  const double clk = s.clock.value();
  Instr mm;
  mm.kind = TxKind::TileCompute;
  mm.engine = kTtu;
  mm.dtype = DType::fp8;
  mm.m = 256, mm.n = 256, mm.k = 1024;  // 16 x 16 x 16 steps of 16 x 64 x 16
  mm.flops = 2ull * 256 * 256 * 1024;
  double t_full = run_exec(*chip, hand_program(1, {{mm}}));
  double expect = (16.0 * 16 * 16 + s.ttu.fill_cycles) / clk + s.tile.task_start_cycles / clk;
  EXPECT_NEAR(t_full / expect, 1.0, 0.01);
  mm.k = 1025;  // one more K element costs a whole extra pass of depth R
  double t_pad = run_exec(*chip, hand_program(1, {{mm}}));
  EXPECT_NEAR((t_pad - t_full) * clk, 16 * 16, 2);
  Instr v;
  v.kind = TxKind::VectorOp;
  v.engine = kTvp;
  v.dtype = DType::fp32;
  v.m = 64, v.n = 1024;
  v.flops = 4 * 65536;
  double t32 = run_exec(*chip, hand_program(1, {{v}}));
  v.dtype = DType::bf16;
  double t16 = run_exec(*chip, hand_program(1, {{v}}));
  EXPECT_LT(t16, t32);
}

TEST(MaiaChip, DmaHierarchyClusterPortBoundsTilesOfOneCluster) {
  auto chip = load_maia("maia200");
  MaiaSpec s = spec_of("maia200");
  const std::uint64_t mb = 1 << 20;
  // Four tiles of cluster 0 each read 1 MiB from HBM: their shared NoC port (610 GB/s) bounds them.
  std::vector<std::vector<Instr>> one_cluster(64);
  for (int t = 0; t < 4; ++t) one_cluster[static_cast<size_t>(t)] = {dma(kHbm, mb, (1ull << 32) * (t + 1))};
  double t1 = run_exec(*chip, hand_program(64, one_cluster));
  EXPECT_GE(t1, 4.0 * mb / s.noc_port_bw());
  // The same reads from tiles of four different clusters use four ports: faster.
  std::vector<std::vector<Instr>> spread(64);
  for (int c = 0; c < 4; ++c) spread[static_cast<size_t>(c * 4)] = {dma(kHbm, mb, (1ull << 32) * (c + 1))};
  double t2 = run_exec(*chip, hand_program(64, spread));
  EXPECT_LT(t2, 0.6 * t1);
  EXPECT_GE(t2, mb / s.tile_dma_bw());
  // A CSRAM read skips HBM latency and is bounded by the tile port.
  std::vector<std::vector<Instr>> cs(64);
  cs[0] = {dma(kCsram, mb, 0)};
  double t3 = run_exec(*chip, hand_program(64, cs));
  EXPECT_NEAR(t3, s.cluster.csram_latency.value() + mb / s.tile_dma_bw() + s.tile.task_start_cycles / s.clock.value() +
                      s.tile.dma_issue_cycles / s.clock.value(), 2e-9);
  EXPECT_LT(t3, s.hbm.latency.value() + mb / s.tile_dma_bw());
}

TEST(MaiaChip, NocBroadcastReadsHbmOnceForAllClusters) {
  auto chip = load_maia("maia200");
  const std::uint64_t bytes = 256 * 1024;
  std::vector<std::vector<Instr>> all(64);
  for (int c = 0; c < 16; ++c) all[static_cast<size_t>(c * 4)] = {dma(kHbm | kToCsram, bytes, 1ull << 33, kCdma)};
  Stats st;
  run_exec(*chip, hand_program(64, all), &st);
  EXPECT_DOUBLE_EQ(st.get("chip.mem.hbm.bytes_read"), static_cast<double>(bytes));
  EXPECT_DOUBLE_EQ(st.get("chip.mem.noc.broadcast_saved_bytes"), 15.0 * bytes);
  EXPECT_DOUBLE_EQ(st.get("chip.mem.csram.staged_bytes"), 16.0 * bytes);
  // Different chunks are not merged.
  for (int c = 0; c < 16; ++c) all[static_cast<size_t>(c * 4)][0].addr = (1ull << 33) + c * (1ull << 24);
  run_exec(*chip, hand_program(64, all), &st);
  EXPECT_DOUBLE_EQ(st.get("chip.mem.hbm.bytes_read"), 16.0 * bytes);
}

TEST(MaiaChip, WeightBytesAreCountedBySource) {
  auto chip = load_maia("maia200");
  std::vector<std::vector<Instr>> p(64);
  p[0] = {dma(kHbm | kWeights, 4096, 1ull << 34), dma(kCsram | kWeights, 8192, 0, kTdma1), dma(kCsram, 100, 0)};
  Stats st;
  run_exec(*chip, hand_program(64, p), &st);
  EXPECT_DOUBLE_EQ(st.get("chip.mem.weights.hbm_bytes"), 4096);
  EXPECT_DOUBLE_EQ(st.get("chip.mem.weights.sram_bytes"), 8192);
  EXPECT_DOUBLE_EQ(st.get("chip.mem.csram.bytes_read"), 8292);
}
