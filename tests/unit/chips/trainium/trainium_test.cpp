// Trainium family: presets, the lowerings alone (pure, no SystemC), the NeuronCore model with
// hand-written programs, engine concurrency, double buffering, roofline bounds, functional GEMM and
// weight-only int8 (weights converted on a lane engine).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "chips/trainium/isa.h"
#include "chips/trainium/trainium_spec.h"
#include "kernels/gemm/trainium.h"
#include "kernels/trainium_lowerings.h"
#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"
#include "sim/run/runner.h"

using namespace xpu;
using namespace xpu::trainium;

namespace {
TrainiumSpec load_spec(const std::string& preset, const std::vector<std::string>& overlays = {}) {
  ConfigTree t = ConfigTree::load_file(source_dir() + "/chips/trainium/presets/" + preset + ".yaml");
  for (const auto& o : overlays) t.apply_overlay(o);
  Params p(Params::Mode::Load, &t);
  TrainiumSpec s;
  describe(p, s);
  p.finish();
  if (s.name.empty()) s.name = preset;
  return s;
}
OpSpec op(const std::string& kind, std::map<std::string, std::string> a) { return make_op(kind, a); }
OpSpec gemm(std::int64_t m, std::int64_t n, std::int64_t k, const std::string& dt = "bf16") {
  return op("gemm", {{"m", std::to_string(m)}, {"n", std::to_string(n)}, {"k", std::to_string(k)}, {"dtype", dt}});
}
// Visits every instruction of every task of a lowering.
template <class F>
void each_instr(const KernelPrograms& ps, F f) {
  for (const auto& p : ps)
    for (std::uint64_t i = 0; i < p.num_tasks; ++i) {
      Task t;
      p.make_task(i, t);
      for (const auto& in : t.instrs) f(in, t);
    }
}
}  // namespace

TEST(TrainiumPresets, LoadWithPeaksFromPerCoreFigures) {
  for (const char* n : {"trn1", "inf2", "trn2", "trn3"}) {
    auto chip = load_chip(n);
    EXPECT_EQ(chip->family(), "trainium");
    TrainiumSpec s = load_spec(n);
    // Peak = cores x 128 x 128 PEs x 2 FLOPs x columns/cycle x TensorE clock.
    EXPECT_DOUBLE_EQ(chip->peak_flops(DType::bf16), s.cores * 2.0 * 128 * 128 * s.tensor.clock.value());
  }
  EXPECT_NEAR(load_spec("trn1").core_peak_flops(DType::bf16) / 1e12, 92, 0.5);   // [NKI-T1]
  EXPECT_NEAR(load_spec("trn1").core_peak_flops(DType::fp32) / 1e12, 23, 0.2);
  EXPECT_NEAR(load_spec("trn2").core_peak_flops(DType::bf16) / 1e12, 79, 0.5);   // [NKI-T2]
  EXPECT_NEAR(load_spec("trn2").core_peak_flops(DType::fp8) / 1e12, 158, 1.0);
  EXPECT_NEAR(load_spec("trn3").core_peak_flops(DType::fp8) / 1e12, 315, 1.0);   // [NKI-T3]
  EXPECT_EQ(load_spec("trn1").core_peak_flops(DType::int8), 0);
  EXPECT_GT(load_spec("inf2").core_peak_flops(DType::int8), 0);                  // [INF2]
  // cores_used selects how many NeuronCores a kernel is split over.
  auto one = load_chip("trn2", {"cores_used=1"});
  EXPECT_NEAR(one->peak_flops(DType::bf16) / 1e12, 78.6, 0.1);
  EXPECT_THROW(load_chip("trn2", {"cores_used=9"}), std::exception);
  EXPECT_THROW(load_chip("trn2", {"tensor.colls_per_cycle.bf16=2"}), std::exception);
}

// cores_used against cores: a --set of cores that leaves fewer NeuronCores than a file's cores_used is named as the
// cause (with the value it would take and where cores_used comes from), as maia's tsram and the GPU's smem are; a
// --set of cores_used itself is blamed as before.
TEST(TrainiumPresets, CoresBelowCoresUsedNamesTheSet) {
  auto message = [](const std::vector<std::string>& sets) {
    try {
      ConfigTree t = ConfigTree::load_file(source_dir() + "/chips/trainium/presets/trn2.yaml");
      t.set("cores_used", "4", "my_trn2.yaml:11");  // a user's chip file that splits kernels over 4 cores
      t.apply_overlays(sets);
      Params p(Params::Mode::Load, &t);
      TrainiumSpec s;
      describe(p, s);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({"cores=2"}), "--set cores: '2': expected at least cores_used (cores_used: '4' at my_trn2.yaml:11)");
  EXPECT_EQ(message({"cores_used=9"}), "--set cores_used: '9': expected 0 (all) or at most cores");
  EXPECT_EQ(message({"cores_used=-1"}), "--set cores_used: '-1': expected a non-negative integer");
  EXPECT_EQ(message({"cores=4"}), "no error");
}

// An instruction outside the engines' limits is a lowering's bug, not a user's input (exit 3, "internal error"): a
// std::logic_error, which an InputError (a std::runtime_error) is not.
TEST(TrainiumLowering, HardwareTileLimitsAreEnforced) {
  EXPECT_NO_THROW(check_matmul(128, 512, 128));
  EXPECT_THROW(check_matmul(129, 512, 128), std::logic_error);
  EXPECT_THROW(check_matmul(128, 513, 128), std::logic_error);
  EXPECT_THROW(check_matmul(128, 512, 129), std::logic_error);
  EXPECT_THROW(check_lane(129, 10), std::logic_error);
  EXPECT_THROW(check_lane(128, 70000), std::logic_error);
}

TEST(TrainiumLowering, GemmTilesFitTheEnginesAndCountTheFlops) {
  TrainiumSpec s = load_spec("trn2");
  for (auto o : {gemm(1000, 700, 300), gemm(8, 4096, 1024), gemm(4096, 96, 200)}) {
    KernelPrograms ps = lower(o, s, LowerOptions{});
    ASSERT_EQ(ps.size(), 1u);
    EXPECT_TRUE(ps[0].static_placement);
    EXPECT_EQ(ps[0].num_tasks, 8u);
    double flops = 0, read = 0;
    each_instr(ps, [&](const Instr& in, const Task&) {
      if (in.kind == TxKind::TileCompute) {
        EXPECT_LE(in.m, 128u);
        EXPECT_LE(in.n, 512u);
        EXPECT_LE(in.k, 128u);
        EXPECT_EQ(in.engine, kTensor);
        flops += static_cast<double>(in.flops);
      }
      if (in.kind == TxKind::DmaRead) read += static_cast<double>(in.bytes);
    });
    EXPECT_DOUBLE_EQ(flops, o.flops()) << o.shape_str();
    EXPECT_GE(read, o.m * o.k * 2.0 + o.k * o.n * 2.0);  // every operand read at least once
  }
  // Orientation: decode-size GEMMs keep the weights stationary.
  EXPECT_FALSE(choose_gemm_plan(gemm(8, 4096, 4096), s).a_stationary);
  EXPECT_TRUE(choose_gemm_plan(gemm(4096, 4096, 4096), s).a_stationary);
}

TEST(TrainiumLowering, EveryOpLoweredOrRefusedClearly) {
  TrainiumSpec s = load_spec("trn2");
  std::vector<OpSpec> ops = {
      op("rmsnorm", {{"rows", "64"}, {"cols", "4096"}}),
      op("layernorm", {{"rows", "64"}, {"cols", "4096"}}),
      op("softmax", {{"rows", "64"}, {"cols", "1000"}}),
      op("swiglu", {{"rows", "64"}, {"cols", "1000"}}),
      op("gelu", {{"rows", "3"}, {"cols", "5"}}),
      op("rope", {{"rows", "64"}, {"cols", "1024"}}),
      op("residual_add", {{"rows", "64"}, {"cols", "4096"}}),
      op("embedding", {{"rows", "64"}, {"cols", "4096"}}),
      op("topk", {{"rows", "64"}, {"experts", "64"}, {"topk", "2"}}),
      op("sampling", {{"rows", "4"}, {"cols", "32000"}}),
      op("copy", {{"rows", "64"}, {"cols", "4096"}}),
      op("sum", {{"rows", "64"}, {"cols", "4096"}}),
      op("grouped_gemm", {{"tokens", "256"}, {"groups", "8"}, {"n", "512"}, {"k", "256"}}),
      op("attention", {{"heads", "8"}, {"kv-heads", "2"}, {"seq", "1000"}, {"head-dim", "128"}}),
      op("attention", {{"heads", "8"}, {"kv-heads", "2"}, {"seq", "3000"}, {"phase", "decode"}}),
      op("attention", {{"heads", "4"}, {"kv-heads", "4"}, {"seq", "600"}, {"head-dim", "192"}, {"window", "256"}}),
  };
  for (const auto& o : ops) {
    KernelPrograms ps = lower(o, s, LowerOptions{});
    ASSERT_FALSE(ps.empty()) << name(o.kind);
    each_instr(ps, [&](const Instr& in, const Task&) {
      EXPECT_LT(in.engine, kNumEngines);
      if (in.kind == TxKind::VectorOp) { EXPECT_LE(in.m, 128u); }
      for (auto d : in.dep) EXPECT_TRUE(d == kNoDep || d < 100000000u);
    });
  }
  try {
    lower(op("allreduce", {{"bytes", "1024"}}), s, LowerOptions{});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("system's fabric"), std::string::npos);
  }
  try {
    lower(gemm(64, 64, 64, "fp4"), s, LowerOptions{});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no fp4 matmul path"), std::string::npos) << e.what();
  }
  EXPECT_THROW(lower(op("gelu", {{"rows", "4"}, {"cols", "8"}, {"dtype", "fp4"}}), s, LowerOptions{}), InputError);
  EXPECT_THROW(lower(gemm(64, 64, 64, "int8"), load_spec("trn1"), LowerOptions{}), InputError);
}

TEST(TrainiumLowering, CausalPrefillSkipsTilesAboveTheDiagonal) {
  TrainiumSpec s = load_spec("trn2");
  auto count_mm = [&](bool causal) {
    OpSpec o = op("attention", {{"heads", "2"}, {"kv-heads", "2"}, {"seq", "2048"}, {"causal", causal ? "1" : "0"}});
    std::uint64_t n = 0;
    each_instr(lower(o, s, LowerOptions{}), [&](const Instr& in, const Task&) { n += in.kind == TxKind::TileCompute; });
    return n;
  };
  const double ratio = static_cast<double>(count_mm(true)) / count_mm(false);
  EXPECT_GT(ratio, 0.5);
  EXPECT_LT(ratio, 0.75);  // 16 query tiles x 4 KV tiles: 40 of 64 tiles visible
}

// transformers-neuronx's attention (--impl transformers-neuronx): below lowering.tnx_flash_min_tokens the
// HLO graph computes the whole S x S square (no causal tile skipped) and, once a core's scores exceed
// its SBUF share, each op of the softmax chain moves them through HBM; from the threshold on, the flash
// kernel (the same program as without the impl). Run on trn1 (2 heads per core at 2048 tokens).
TEST(TrainiumLowering, TransformersNeuronxMaterializesScoresBelowItsFlashThreshold) {
  TrainiumSpec s = load_spec("trn1");
  auto attn = [&](std::int64_t seq, const std::string& impl) {
    return op("attention", {{"heads", "4"}, {"kv-heads", "4"}, {"seq", std::to_string(seq)}, {"head-dim", "128"}, {"impl", impl}});
  };
  auto count = [&](const OpSpec& o, std::uint64_t& mm, std::uint64_t& hbm_write) {
    mm = hbm_write = 0;
    each_instr(lower(o, s, LowerOptions{}), [&](const Instr& in, const Task&) {
      mm += in.kind == TxKind::TileCompute;
      if (in.kind == TxKind::DmaWrite) hbm_write += in.bytes;
    });
  };
  std::uint64_t mm_flash, w_flash, mm_tnx, w_tnx;
  count(attn(2048, ""), mm_flash, w_flash);
  count(attn(2048, "transformers-neuronx"), mm_tnx, w_tnx);
  EXPECT_GT(mm_tnx, mm_flash);  // the full square, and per-chunk transposes
  // 16 MiB of bf16 scores per core (2 heads x 2048 x 2048) exceed half of trn1's 24 MiB SBUF: the dot, the
  // select, the subtract, the exp and the divide each write them (5 x 32 MiB over both cores), plus the output.
  const double scores = 4.0 * 2048 * 2048 * 2;
  EXPECT_GE(static_cast<double>(w_tnx), 5 * scores);
  EXPECT_LT(static_cast<double>(w_flash), 0.1 * scores);
  // Kept on chip when the scores fit the share (4 MiB per core at 1024 tokens): no score traffic at all.
  TrainiumSpec big = load_spec("trn1", {"lowering.materialized_sbuf_share=1"});
  std::uint64_t w_big = 0;
  each_instr(lower(attn(1024, "transformers-neuronx"), big, LowerOptions{}), [&](const Instr& in, const Task&) {
    if (in.kind == TxKind::DmaWrite) w_big += in.bytes;
  });
  EXPECT_EQ(w_big, 4u * 1024 * 128 * 2);  // the output only
  // From the threshold on, the flash kernel: the impl changes nothing.
  std::uint64_t mm_a, w_a, mm_b, w_b;
  count(attn(4096, ""), mm_a, w_a);
  count(attn(4096, "transformers-neuronx"), mm_b, w_b);
  EXPECT_EQ(mm_a, mm_b);
  EXPECT_EQ(w_a, w_b);
  // A release without the flash kernel (tnx_flash_min_tokens 0: transformers-neuronx before 0.11.351.0) runs the
  // HLO graph at 4096 tokens too: 64 MiB of scores per core, written by each op of the chain.
  s = load_spec("trn1", {"lowering.tnx_flash_min_tokens=0"});
  std::uint64_t mm_c, w_c;
  count(attn(4096, "transformers-neuronx"), mm_c, w_c);
  EXPECT_GT(mm_c, mm_a);
  EXPECT_GE(static_cast<double>(w_c), 5 * 4.0 * 4096 * 4096 * 2);
}

// transformers-neuronx's token graph (Neuron 2.18) attends over the bucket as unfused HLO: select, cast to f32,
// max, subtract and, after exp, sum and the cast back, six VectorE passes over the scores with the heads of a
// core on the partitions and the keys along the free axis. At 8192 keys a trn1 core's VectorE alone needs
// 6 x 8192 / 1.12 GHz = 43.9 us whatever its heads (1 or 2 per core), where the flash kernel runs one VectorE
// pass and one ScalarE pass; the prefill graph is untouched by this (its own materialized chain).
TEST(TrainiumLowering, TransformersNeuronxDecodeRunsTheTokenGraphPasses) {
  auto chip = load_chip("trn1");
  auto decode = [&](int heads, const std::string& impl) {
    const OpSpec o = op("attention", {{"heads", std::to_string(heads)}, {"kv-heads", std::to_string(heads)}, {"seq", "8192"},
                                      {"head-dim", "128"}, {"phase", "decode"}, {"impl", impl}});
    return run_kernel(*chip, o, false, false).result.latency_s;
  };
  const double tnx2 = decode(2, "transformers-neuronx"), tnx4 = decode(4, "transformers-neuronx"), flash4 = decode(4, "");
  const double vector_floor = 6.0 * 8192 / 1.12e9;
  EXPECT_GE(tnx2, vector_floor);
  EXPECT_GE(tnx4, vector_floor);
  EXPECT_LT(tnx4, 1.3 * tnx2);        // the passes cost the keys, not the heads (2 rows on the partitions instead of 1)
  EXPECT_LT(tnx4, 2.0 * vector_floor);  // the K/V loads and the other engines run beside VectorE
  EXPECT_GT(tnx4, 1.5 * flash4);
}

// The NeuronCore model with hand-written programs: independent instructions of different engines
// overlap; dependent ones serialize; times follow each engine's clock.
TEST(TrainiumChip, HandWrittenProgramEnginesRunConcurrently) {
  auto chip = load_chip("trn1", {"cores_used=1", "launch_overhead=0 us"});
  auto run = [&](bool dependent) {
    Program p;
    p.name = "hand";
    p.num_tasks = 1;
    p.static_placement = true;
    p.make_task = [=](std::uint64_t, Task& t) {
      std::uint32_t a = t.add(matmul(128, 512, 128, DType::bf16, 2ull * 128 * 512 * 128));
      Instr s = lane(kScalar, 128, 1400, 1, DType::bf16, 1);
      if (dependent) s.dep[0] = a;
      t.add(s);
    };
    RunOptions ro;
    return simulate(*chip, {{p}}, ro, DType::bf16);
  };
  // TensorE: max(512 cols / 0.857 (tensor.moving_efficiency), 64) = 598 cycles at 2.8 GHz = 213.6 ns busy, + 128
  // pipeline cycles latency. ScalarE: 1400 + 16 cycles at 1.4 GHz = 1011.4 ns busy, + 100 cycles latency = 1082.9 ns.
  RunResult ind = run(false), dep = run(true);
  EXPECT_NEAR(ind.latency_s * 1e9, 1082.9, 1.0);
  EXPECT_NEAR(dep.latency_s * 1e9, 213.6 + 128 / 2.8 + 1082.9, 1.5);
  EXPECT_NEAR(ind.stats.get("chip.core0.tensor.busy") * 1e9, 213.6, 0.5);
  EXPECT_NEAR(ind.stats.get("chip.core0.scalar.busy") * 1e9, 1011.4, 0.5);
}

TEST(TrainiumChip, DmaSpreadsOverEnginesByPartitions) {
  auto chip = load_chip("trn2", {"cores_used=1", "launch_overhead=0 us"});
  auto run = [&](std::uint32_t partitions) {
    Program p;
    p.name = "dma";
    p.num_tasks = 1;
    p.static_placement = true;
    p.make_task = [=](std::uint64_t, Task& t) { t.add(dma(TxKind::DmaRead, 0, 32768, partitions, DType::bf16)); };
    return simulate(*chip, {{p}}, RunOptions{}, DType::bf16).latency_s * 1e9;
  };
  // [NKI-DMA] example 1 (profiled on a NeuronCore-v3): 32 KiB into 4 partitions uses one engine for 1416 ns,
  // its sustained 23 B/ns [NKI-DMABW], after the transfer's ~1300 ns semaphore-to-start latency [NKI-DMABW].
  // 128 partitions spread it over 16 engines, each moving 8 rows of 256 B: the streaming shrinks 16x, the
  // fixed costs (start latency, HBM latency, 8 x dma.row_overhead) do not.
  const double one = run(4), all = run(128);
  EXPECT_NEAR(one, 1300 + 1416, 60);
  const double fixed = 1300;
  EXPECT_LT(all - fixed, (one - fixed) / 3);
}

// DMA rows: each engine pays dma.row_overhead per contiguous row it moves [NKI-DMA: 4 KiB or more per
// partition to saturate]. Same 512 KiB into 128 partitions, as 4 KiB rows or as 256 B rows (2048 rows,
// 128 per engine): the small rows cost exactly 128 - 8 = 120 more row overheads per engine; with the
// overhead at 0 both take the same time; 4 KiB rows stay within 6% of the streaming time.
TEST(TrainiumChip, DmaRowOverheadChargesSmallRows) {
  auto time = [](const std::string& row, std::uint32_t rows) {
    auto chip = load_chip("trn1", {"cores_used=1", "launch_overhead=0 us", "dma.row_overhead=" + row});
    Program p;
    p.name = "dma";
    p.num_tasks = 1;
    p.static_placement = true;
    p.make_task = [=](std::uint64_t, Task& t) { t.add(dma(TxKind::DmaRead, 0, 512 * 1024, rows, DType::bf16)); };
    return simulate(*chip, {{p}}, RunOptions{}, DType::bf16).latency_s * 1e9;
  };
  const double big0 = time("0 ns", 128), small0 = time("0 ns", 2048);
  const double big = time("8 ns", 128), small = time("8 ns", 2048);
  EXPECT_NEAR(small0, big0, 1.0) << "without a row overhead only the bytes count";
  EXPECT_NEAR(small - big, 120 * 8.0, 2.0);
  EXPECT_NEAR(big - big0, 8 * 8.0, 1.0);
  const double stream = 512.0 * 1024 / 16 / 27.2;  // ns per engine at 27.2 GB/s
  EXPECT_LT(8 * 8.0 / stream, 0.06) << "4 KiB rows nearly saturate the engines";
  EXPECT_GT(small, stream * 1.4) << "256 B rows run well below the engines' bandwidth";
}

// Cross-check: a large bf16 GEMM on one NeuronCore reaches a plausible share of the core's peak and
// never exceeds it or the HBM roofline.
TEST(TrainiumCrossCheck, LargeGemmOnOneCoreIsPlausibleAndBounded) {
  auto chip = load_chip("trn2", {"cores_used=1"});
  OpSpec o = gemm(2048, 2048, 2048);
  KernelRun r = run_kernel(*chip, o, false, false);
  const double core_peak = 2.0 * 128 * 128 * 2.4e9;
  EXPECT_DOUBLE_EQ(chip->peak_flops(DType::bf16), core_peak);
  const double share = o.flops() / r.result.latency_s / core_peak;
  EXPECT_GT(share, 0.75);
  EXPECT_LT(share, 1.0);
  EXPECT_GE(r.result.latency_s, o.min_bytes() / chip->dram_bandwidth());
  EXPECT_LE(r.result.stats.get("chip.core0.tensor.utilization"), 1.0);
}

// Cross-check: GEMM + fused activation overlaps Tensor and Scalar engine work (visible in the trace
// and the busy times), and removing DMA double-buffering makes it slower.
TEST(TrainiumCrossCheck, GemmActivationOverlapsEnginesAndDoubleBufferingHelps) {
  auto run = [&](int buffers, bool trace) {
    // Without the DMA start latency, which makes this shape partly DMA-bound (its own tests are below):
    // this test is about TensorE and ScalarE overlapping.
    const std::vector<std::string> set = {"cores_used=1", "lowering.dma_buffers=" + std::to_string(buffers), "dma.start_latency=0 ns"};
    auto chip = load_chip("trn2", set);
    TrainiumSpec s = load_spec("trn2", set);
    OpSpec o = gemm(1024, 2048, 2048);
    GemmPlan plan = choose_gemm_plan(o, s);
    plan.fused_activation = true;
    RunOptions ro;
    ro.trace = trace;
    return simulate(*chip, {lower_gemm(o, s, LowerOptions{}, plan)}, ro, DType::bf16);
  };
  RunResult r2 = run(2, true);
  // Find the unit ids of core0's tensor and scalar engines and check their intervals overlap.
  std::uint32_t tensor = 0, scalar = 0;
  for (std::uint32_t i = 0; i < r2.unit_names.size(); ++i) {
    if (r2.unit_names[i] == "chip.core0.tensor") tensor = i;
    if (r2.unit_names[i] == "chip.core0.scalar") scalar = i;
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> t_iv, s_iv;
  for (const auto& rec : r2.trace) {
    if (rec.unit == tensor) t_iv.push_back({rec.start_ps, rec.end_ps});
    if (rec.unit == scalar) s_iv.push_back({rec.start_ps, rec.end_ps});
  }
  ASSERT_FALSE(s_iv.empty());
  int overlapping = 0;
  for (const auto& s : s_iv)
    for (const auto& t : t_iv)
      if (t.first < s.second && s.first < t.second) {
        ++overlapping;
        break;
      }
  EXPECT_GT(overlapping, static_cast<int>(s_iv.size()) / 2) << "activations should run while TensorE computes";
  const double busy_sum = r2.stats.get("chip.core0.tensor.busy") + r2.stats.get("chip.core0.scalar.busy");
  EXPECT_LT(r2.latency_s, busy_sum);  // overlap: less time than the two engines' work back to back
  RunResult r1 = run(1, false);
  EXPECT_GT(r1.latency_s, r2.latency_s * 1.1) << "single-buffered DMA should be slower";
}

// No kernel beats its roofline, over a grid of shapes, ops and presets.
TEST(TrainiumRoofline, NoKernelBeatsItsRoofline) {
  std::vector<OpSpec> ops;
  for (std::int64_t m : {1, 8, 128, 333, 1024})
    for (std::int64_t n : {96, 1024, 3000}) ops.push_back(gemm(m, n, 512));
  ops.push_back(gemm(512, 512, 512, "fp8"));
  ops.push_back(op("attention", {{"heads", "8"}, {"kv-heads", "2"}, {"seq", "1024"}}));
  ops.push_back(op("attention", {{"heads", "8"}, {"kv-heads", "1"}, {"seq", "4096"}, {"phase", "decode"}}));
  ops.push_back(op("rmsnorm", {{"rows", "1024"}, {"cols", "4096"}}));
  ops.push_back(op("softmax", {{"rows", "1024"}, {"cols", "4096"}}));
  ops.push_back(op("swiglu", {{"rows", "1024"}, {"cols", "4096"}}));
  ops.push_back(op("residual_add", {{"rows", "1024"}, {"cols", "4096"}}));
  ops.push_back(op("embedding", {{"rows", "1024"}, {"cols", "4096"}}));
  for (const char* preset : {"trn1", "trn2", "trn3"}) {
    auto chip = load_chip(preset);
    for (const auto& o : ops) {
      if (chip->peak_flops(o.dtype) <= 0) continue;
      KernelRun r = run_kernel(*chip, o, false, false);
      const double bound = std::max(o.flops() / chip->peak_flops(o.dtype), o.min_bytes() / chip->dram_bandwidth());
      EXPECT_GE(r.result.latency_s, bound) << preset << " " << name(o.kind) << " " << o.shape_str();
    }
  }
}

// Elementwise ops are bandwidth-bound at large sizes (within 1.45x of the achievable HBM bound: each core's
// double-buffered loads expose part of the ~1.3 us DMA start latency [NKI-DMABW]; the NKI performance guide
// calls 60% or more of HBM bandwidth good in practice).
TEST(TrainiumRoofline, ElementwiseOpsAreBandwidthBound) {
  auto chip = load_chip("trn2");
  for (auto o : {op("residual_add", {{"rows", "4096"}, {"cols", "4096"}}), op("gelu", {{"rows", "4096"}, {"cols", "4096"}}),
                 op("rmsnorm", {{"rows", "4096"}, {"cols", "4096"}})}) {
    KernelRun r = run_kernel(*chip, o, false, false);
    const double bw_bound = o.min_bytes() / (0.9 * chip->dram_bandwidth());
    EXPECT_LT(r.result.latency_s, 1.45 * bw_bound + 1e-6) << name(o.kind);
  }
}

TEST(TrainiumFunctional, GemmMatchesReference) {
  for (const char* preset : {"trn1", "trn2"}) {
    auto chip = load_chip(preset);
    for (auto o : {gemm(64, 96, 80), gemm(600, 96, 300), gemm(64, 96, 80, "fp32")}) {
      KernelRun r = run_kernel(*chip, o, true, false);
      EXPECT_TRUE(r.check.passed) << preset << " " << o.shape_str() << " err " << r.check.max_rel_error;
    }
    OpSpec g = op("grouped_gemm", {{"tokens", "300"}, {"groups", "3"}, {"n", "128"}, {"k", "200"}});
    EXPECT_TRUE(run_kernel(*chip, g, true, false).check.passed) << preset;
  }
}

// PSUM eviction: every [128, 512] fp32 accumulator leaves PSUM through the Vector Engine (N cycles per
// 128-lane instruction [NKI-T1]) before TensorE may reuse its bank. With one K step per block the
// evictions dominate: the Vector Engine is busy at least bytes / its bandwidth, the kernel lasts at
// least that long, and a faster Vector Engine shortens the kernel (the evictions are on its path).
// The DMA and HBM are made 40x faster so that the output stores do not hide the evictions.
TEST(TrainiumGemm, PsumEvictionCostsAtLeastBytesOverVectorBandwidth) {
  auto run = [](const std::string& vclock) {
    auto chip = load_chip("trn1", {"cores_used=1", "vector.clock=" + vclock, "dma.engine_bandwidth=1100 GB/s",
                                   "hbm.bandwidth=33 TB/s"});
    return run_kernel(*chip, gemm(2048, 1024, 128), false, false).result;
  };
  const RunResult r = run("1.12 GHz");
  const double tiles = (2048.0 / 128) * (1024.0 / 512);          // 32 PSUM tiles of [128, 512] fp32
  const double vector_bw = 128 * 4 * 1.12e9;                      // 128 fp32 elements per cycle
  const double evict_s = tiles * 128 * 512 * 4 / vector_bw;       // 14.6 us
  EXPECT_GE(r.stats.get("chip.core0.vector.busy"), evict_s);
  EXPECT_GE(r.latency_s, evict_s);
  const double tensor_s = tiles * 512 / 2.8e9;                    // one 512-column matmul per tile: 5.9 us
  EXPECT_GT(r.latency_s, 2 * tensor_s) << "TensorE waits for the evictions of the banks it reuses";
  EXPECT_LT(run("4.48 GHz").latency_s, 0.6 * r.latency_s) << "a 4x faster Vector Engine shortens the kernel";
}

// Weight-stationary (decode- and short-prefill-size) GEMMs store each transposed PSUM tile as it lies,
// one run per partition into the C^T layout that the next GEMM reads as A^T: the store costs one DMA
// descriptor per partition, not one per element. With the element scatter, 256 rows took twice as
// long as 128 and more than 20x as long as 512 rows (A-stationary); the latency must grow with the rows.
TEST(TrainiumGemm, WeightStationaryStoresOneRunPerPartitionAndGrowsWithRows) {
  for (const char* preset : {"trn1", "trn2"}) {
    TrainiumSpec s = load_spec(preset);
    OpSpec o = gemm(256, 8192, 512);
    ASSERT_FALSE(choose_gemm_plan(o, s).a_stationary);
    each_instr(lower(o, s, LowerOptions{}), [&](const Instr& in, const Task&) {
      if (in.kind == TxKind::DmaWrite) {
        EXPECT_LE(in.m, 128u) << preset << ": descriptors of one output tile's store";
      }
    });
    auto chip = load_chip(preset);
    double prev = 0;
    for (int rows : {1, 8, 64, 128, 256, 384, 511, 512, 1024}) {
      const KernelRun r = run_kernel(*chip, gemm(rows, 8192, 512), false, false);
      double roofline = 0;  // the runner's, as reports print it
      for (const auto& k : r.result.kernels) roofline += k.roofline_s * k.count;
      ASSERT_GT(roofline, 0) << preset << " rows " << rows;
      // At 512 rows the plan turns A-stationary, whose stores take a 128-row strip of the block's width (2 KiB
      // runs here) against the 511-row plan's 1 KiB C^T runs: a dip of a few % at the switch, not the scatter's 2x.
      EXPECT_GE(r.result.latency_s, prev * (rows == 512 ? 0.97 : 0.999)) << preset << " rows " << rows;
      EXPECT_LT(r.result.latency_s, 3.0 * roofline) << preset << " rows " << rows;
      prev = r.result.latency_s;
    }
  }
}

// [NKI-DMABW] per-engine rates that the engines sustain with >= 4 KiB per partition (TRN2 23, TRN3 33 B/ns;
// 16 engines per core): an 8 MiB load into 128 partitions (64 KiB each) streams at 16 x that rate after the
// transfer's start latency. trn1/inf2 take the guide's TRN1 17 B/ns since 2026-12-05 (they kept [NKI-DMA]'s
// 27.2 GB/s peak while a decode step's all-reduces each paid nccom-test's 52 us; the preset says why).
TEST(TrainiumPresets, DmaSustainedRatesFromTheBandwidthGuide) {
  const std::map<std::string, double> rate = {{"trn1", 17e9}, {"inf2", 17e9}, {"trn2", 23e9}, {"trn3", 33e9}};
  for (const auto& [preset, bw] : rate) {
    TrainiumSpec s = load_spec(preset);
    EXPECT_DOUBLE_EQ(s.dma.engine_bandwidth.value(), bw) << preset;
    EXPECT_DOUBLE_EQ(s.core_dma_bandwidth(), 16 * bw) << preset;
    EXPECT_NEAR(s.dma.start_latency.value() + s.hbm.latency.value() + s.dma.trigger.value(), 1300e-9, 1e-12) << preset;
  }
  auto chip = load_chip("trn2", {"cores_used=1", "launch_overhead=0 us"});
  Program p;
  p.name = "dma";
  p.num_tasks = 1;
  p.static_placement = true;
  const std::uint64_t bytes = 8ull << 20;
  p.make_task = [=](std::uint64_t, Task& t) { t.add(dma(TxKind::DmaRead, 0, bytes, 128, DType::bf16)); };
  const double ns = simulate(*chip, {{p}}, RunOptions{}, DType::bf16).latency_s * 1e9;
  const double stream = bytes / (16 * 23.0);  // ns
  EXPECT_GT(ns, 1300 + stream);
  EXPECT_LT(ns, 1300 + stream * 1.05);
}

// dma.start_latency delays a transfer without occupying its engines: one transfer takes exactly that much
// longer, and a second transfer queued behind the first hides its own latency behind the first's streaming.
TEST(TrainiumChip, DmaStartLatencyIsLatencyNotOccupancy) {
  auto time = [](const std::string& latency, int transfers) {
    auto chip = load_chip("trn1", {"cores_used=1", "launch_overhead=0 us", "dma.start_latency=" + latency});
    Program p;
    p.name = "dma";
    p.num_tasks = 1;
    p.static_placement = true;
    p.make_task = [=](std::uint64_t, Task& t) {
      for (int i = 0; i < transfers; ++i) t.add(dma(TxKind::DmaRead, static_cast<std::uint64_t>(i) << 20, 512 * 1024, 128, DType::bf16));
    };
    return simulate(*chip, {{p}}, RunOptions{}, DType::bf16).latency_s * 1e9;
  };
  EXPECT_NEAR(time("1130 ns", 1) - time("0 ns", 1), 1130, 2);
  const double two = time("1130 ns", 2) - time("0 ns", 2);
  EXPECT_NEAR(two, 1130, 2) << "the second transfer's latency hides behind the first's streaming (1.9 us)";
}

// The NKI matmul tutorial's fully optimized kernel (LowerOptions::gemm_block): the tutorial's instruction
// counts and traffic for [4096, 8192] @ [8192, 8192] with blocks M2048 N1024 K1024: every 128x128x512
// matmul once, one VectorE accumulation (two inputs) per PSUM tile and K block, rhs read once, lhsT read
// once per N block, the result written once; shapes the kernel's asserts refuse are refused.
TEST(TrainiumGemm, NkiBlockedFollowsTheTutorialKernel) {
  TrainiumSpec s = load_spec("trn1", {"cores_used=1"});
  LowerOptions lo;
  lo.gemm_block = {2048, 1024, 1024};
  const OpSpec o = gemm(4096, 8192, 8192);
  std::uint64_t mms = 0, accum = 0, copies = 0, zeros = 0;
  double read = 0, written = 0;
  each_instr(lower_gemm(o, s, lo), [&](const Instr& in, const Task&) {
    if (in.engine == kTensor && in.kind != TxKind::Sync) ++mms;
    if (in.engine == kVector && in.k == 2) ++accum;
    if (in.engine == kVector && in.k == 1) ++copies;
    if (in.engine == kGpSimd) ++zeros;
    if (in.kind == TxKind::DmaRead) read += static_cast<double>(in.bytes);
    if (in.kind == TxKind::DmaWrite) written += static_cast<double>(in.bytes);
  });
  EXPECT_EQ(mms, 32u * 16 * 64);
  EXPECT_EQ(accum, 32u * 16 * 8);
  EXPECT_EQ(copies, 32u * 16);
  EXPECT_EQ(zeros, 8u * 2);
  const double MiB = 1024.0 * 1024;
  EXPECT_DOUBLE_EQ(read, 128 * MiB + 8 * 64 * MiB);
  EXPECT_DOUBLE_EQ(written, 64 * MiB);
  EXPECT_THROW(lower_gemm(gemm(4096, 8192, 8000), s, lo), InputError);
  lo.gemm_block = {2048, 1000, 1024};
  EXPECT_THROW(lower_gemm(o, s, lo), InputError);
}

// The tutorial kernel's SBUF accumulation (VectorE tensor_tensor, 2N cycles per [128, 512] tile [NKI-T1]) runs
// beside TensorE while it is shorter than the tile's matmuls (8 x 512 TensorE cycles): a 4x faster Vector
// Engine gains under 7% (serialized accumulations would give 35%); one slow enough to take longer than the matmuls sets the pace instead.
TEST(TrainiumGemm, NkiBlockedSbufAccumulationIsOnTheVectorPath) {
  auto run = [](const std::string& vclock) {
    auto chip = load_chip("trn1", {"cores_used=1", "vector.clock=" + vclock});
    LowerOptions lo;
    lo.gemm_block = {1024, 1024, 1024};
    return run_kernel(*chip, gemm(2048, 2048, 2048), false, false, nullptr, lo).result.latency_s;
  };
  const double tensor_s = 2.0 * 2048 * 2048 * 2048 / (2.0 * 128 * 128 * 2.8e9);
  const double base = run("1.12 GHz");
  EXPECT_GT(base, tensor_s);
  EXPECT_GT(run("4.48 GHz"), 0.93 * base);  // only the copies and last accumulations of an N block are exposed
  const double slow = run("0.4 GHz");  // 1024 cycles / 0.4 GHz = 2.56 us per tile against 1.46 us of matmuls
  EXPECT_GT(slow, 1.4 * base);
}

// Halving the PSUM block until every NeuronCore has one can leave a partial second wave; a larger block
// on the way, with cores left idle, is taken where the plan's estimate finds it faster: a 1024^3 GEMM on
// 12 trn2 cores runs the 8 blocks of 256 x 512 that 8 cores run (16 blocks of 128 x 512 before: 17.9 us
// against 12.9), and a 16 x 6144 x 4096 decode GEMM on the preset 6 blocks of 8 weight tiles instead of
// 12 of 4 (37.4 -> 33.0 us).
TEST(TrainiumGemm, LargerBlocksWhereHalvingLeavesAPartialWave) {
  const GemmPlan p12 = choose_gemm_plan(gemm(1024, 1024, 1024), load_spec("trn2", {"cores=12"}));
  EXPECT_EQ(p12.tiles_r * p12.tiles_c, 2);
  EXPECT_EQ(p12.block_rows() * p12.block_cols(), 256 * 512);
  const GemmPlan p = choose_gemm_plan(gemm(16, 6144, 4096), load_spec("trn2"));
  EXPECT_FALSE(p.a_stationary);
  EXPECT_EQ(p.tiles_c, 8);
  auto at = [](const std::vector<std::string>& set) {
    auto chip = load_chip("trn2", set);
    return run_kernel(*chip, gemm(1024, 1024, 1024), false, false).result.latency_s;
  };
  EXPECT_LE(at({"cores=12"}), at({}) * 1.01);
}

// The heuristic's K chunk covers the next load's DMA start latency where the matmuls outrun the loads: on one
// trn2 core a 4096^3 GEMM takes 3-step chunks (2 without the latency) and stays above 95% of peak (93% with
// the 2-step chunks, whose loads wait).
TEST(TrainiumGemm, KChunkCoversTheDmaStartLatency) {
  const OpSpec o = gemm(4096, 4096, 4096);
  EXPECT_EQ(choose_gemm_plan(o, load_spec("trn2", {"cores_used=1"})).kc, 3);
  EXPECT_EQ(choose_gemm_plan(o, load_spec("trn2", {"cores_used=1", "dma.start_latency=0 ns"})).kc, 2);
  auto chip = load_chip("trn2", {"cores_used=1"});
  const double share = o.flops() / run_kernel(*chip, o, false, false).result.latency_s / chip->peak_flops(DType::bf16);
  EXPECT_GT(share, 0.95);
}

// Where the heuristic's PSUM-sized blocks (512x1024) leave a core DMA-bound (trn1 at [NKI-DMABW]'s 17 B/ns
// per engine, its preset since 2026-12-05: 384 KiB per K step takes as long as its 8 matmuls), the lowering
// accumulates larger blocks in SBUF as the NKI tutorial's kernel does; where they do not (trn2, trn3) or the
// GEMM is too small, the plan stays.
TEST(TrainiumGemm, DmaBoundPsumBlocksSwitchToSbufAccumulation) {
  const OpSpec o = gemm(4096, 4096, 4096);
  const std::vector<std::string> slow_dma = {"cores_used=1", "dma.engine_bandwidth=17 GB/s"};
  TrainiumSpec s1 = load_spec("trn1", slow_dma);
  const LowerOptions::Block b = choose_sbuf_blocks(o, s1, choose_gemm_plan(o, s1));
  EXPECT_EQ(b.m, 2048);
  EXPECT_EQ(b.n, 1024);
  EXPECT_EQ(b.k, 1024);
  for (const char* preset : {"trn2", "trn3"}) {
    TrainiumSpec s2 = load_spec(preset, {"cores_used=1"});
    EXPECT_FALSE(choose_sbuf_blocks(o, s2, choose_gemm_plan(o, s2)).set()) << preset;
  }
  for (const char* preset : {"trn1", "inf2"}) {
    TrainiumSpec s2 = load_spec(preset, {"cores_used=1"});
    EXPECT_TRUE(choose_sbuf_blocks(o, s2, choose_gemm_plan(o, s2)).set()) << preset;
  }
  EXPECT_FALSE(choose_sbuf_blocks(gemm(1024, 1024, 1024), s1, choose_gemm_plan(gemm(1024, 1024, 1024), s1)).set());
  auto chip = load_chip("trn1", slow_dma);
  const double sbuf = run_kernel(*chip, o, false, false).result.latency_s;
  const double psum = simulate(*chip, {lower_gemm(o, s1, LowerOptions{}, choose_gemm_plan(o, s1))}, RunOptions{}, DType::bf16).latency_s;
  EXPECT_LT(sbuf, 0.9 * psum);
  // 85% of what TensorE sustains (the data-path peak times tensor.moving_efficiency).
  EXPECT_GT(o.flops() / sbuf / (chip->peak_flops(DType::bf16) * s1.tensor.moving_efficiency), 0.85);
}

// A K that only 128 divides among the tutorial's K blocks (1152 = 9 x 128: Llama-2-13b's down projection per
// inf2 chip at TP12) would give the SBUF-accumulating kernel one VectorE add per PSUM tile for every 128-deep
// matmul, the accumulation outlasting the matmuls about 5x: the lowering keeps the PSUM plan there, and the
// GEMM runs within 2x of its roofline instead of 6.5x (choose_sbuf_blocks, accumulation_bound). K = 4096
// keeps the tutorial's 1024-deep blocks.
TEST(TrainiumGemm, SbufAccumulationNotTakenWhereVectorEWouldBindIt) {
  for (const char* preset : {"inf2", "trn1"}) {
    const TrainiumSpec s = load_spec(preset);
    const OpSpec shallow = gemm(4096, 5120, 1152);
    EXPECT_FALSE(choose_sbuf_blocks(shallow, s, choose_gemm_plan(shallow, s)).set()) << preset;
    const OpSpec deep = gemm(4096, 5120, 4096);
    EXPECT_EQ(choose_sbuf_blocks(deep, s, choose_gemm_plan(deep, s)).k, 1024) << preset;
    auto chip = load_chip(preset);
    const KernelRun r = run_kernel(*chip, shallow, false, false);
    const double roofline = std::max(shallow.flops() / chip->peak_flops(DType::bf16), shallow.min_bytes() / chip->dram_bandwidth());
    EXPECT_LT(r.result.latency_s, 2.0 * roofline) << preset;
  }
}

// Weight-only int8 (kernels/gemm/trainium.cpp): the weights are loaded at their stored bytes, converted to the
// matmul dtype on a lane engine per weight tile, and the Tensor Engine runs bf16.
namespace {
OpSpec gemm_w(std::int64_t m, std::int64_t n, std::int64_t k, const std::string& wdtype, const std::string& dtype = "bf16") {
  return op("gemm", {{"m", std::to_string(m)}, {"n", std::to_string(n)}, {"k", std::to_string(k)}, {"dtype", dtype},
                     {"wdtype", wdtype}});
}
struct Tally {
  double read_bytes = 0, int8_read_bytes = 0, converted = 0;
  int convert_engine = -1;
  bool tensor_in_int8 = false;
};
// What a lowering reads from HBM, converts (lane instructions on int8 data) and feeds the Tensor Engine.
Tally tally(const KernelPrograms& ps) {
  Tally t;
  each_instr(ps, [&](const Instr& in, const Task&) {
    if (in.kind == TxKind::DmaRead) {
      t.read_bytes += static_cast<double>(in.bytes);
      if (in.dtype == DType::int8) t.int8_read_bytes += static_cast<double>(in.bytes);
    } else if (in.kind == TxKind::VectorOp && in.dtype == DType::int8) {
      t.converted += static_cast<double>(in.m) * in.n;
      t.convert_engine = in.engine;
    } else if (in.engine == kTensor && in.kind != TxKind::Sync && in.dtype == DType::int8) {
      t.tensor_in_int8 = true;
    }
  });
  return t;
}
}  // namespace

// int8 weights halve the B bytes read from HBM, every loaded weight element is converted exactly once (K x N
// for a decode GEMM), and the Tensor Engine never sees int8.
TEST(TrainiumInt8Weights, ReadsStoredBytesAndConvertsEveryWeightOnce) {
  for (const char* preset : {"trn1", "trn2", "trn3", "inf2"}) {
    const TrainiumSpec s = load_spec(preset);
    for (auto [m, n, k] : {std::tuple<int, int, int>{8, 14336, 4096}, {1024, 4096, 4096}, {200, 1000, 300}}) {
      const Tally w16 = tally(lower(gemm_w(m, n, k, "bf16"), s, LowerOptions{}));
      const Tally w8 = tally(lower(gemm_w(m, n, k, "int8"), s, LowerOptions{}));
      const std::string what = std::string(preset) + " " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
      // B is loaded (and converted) once per block row: once where one block row holds every row (decode).
      const double kn = static_cast<double>(k) * n;
      EXPECT_EQ(std::fmod(w8.int8_read_bytes, kn), 0) << what;
      if (m == 8) { EXPECT_DOUBLE_EQ(w8.int8_read_bytes, kn) << what; }
      // B's bytes halved, where bf16 weights keep the same (PSUM) plan: a DMA-bound bf16 GEMM on trn1/inf2 takes
      // the tutorial's SBUF-accumulating blocks, which converted weights do not (choose_sbuf_blocks).
      const OpSpec b16 = gemm_w(m, n, k, "bf16");
      if (!choose_sbuf_blocks(b16, s, choose_gemm_plan(b16, s)).set()) {
        EXPECT_DOUBLE_EQ(w16.read_bytes - w8.read_bytes, w8.int8_read_bytes) << what;
      }
      EXPECT_DOUBLE_EQ(w8.converted, w8.int8_read_bytes) << what;                    // each loaded element once
      EXPECT_DOUBLE_EQ(w16.converted, 0) << preset;
      EXPECT_FALSE(w8.tensor_in_int8) << preset;
    }
  }
  // "auto" takes the faster of Vector and GpSimd by the preset's rates: GpSimd on NeuronCore-v2 (358 against
  // 143 G elements/s), Vector on v3 (492 against 307); the preset key overrides it.
  EXPECT_EQ(tally(lower(gemm_w(8, 4096, 4096, "int8"), load_spec("trn1"), LowerOptions{})).convert_engine, kGpSimd);
  EXPECT_EQ(tally(lower(gemm_w(8, 4096, 4096, "int8"), load_spec("trn2"), LowerOptions{})).convert_engine, kVector);
  EXPECT_EQ(tally(lower(gemm_w(8, 4096, 4096, "int8"), load_spec("trn1", {"lowering.weight_convert_engine=scalar"}), LowerOptions{}))
                .convert_engine,
            kScalar);
  EXPECT_THROW(load_spec("trn1", {"lowering.weight_convert_engine=dma"}), std::exception);
}

// A decode-shaped GEMM with int8 weights is faster than with bf16 weights but not faster than its int8
// memory roofline; with the conversion on the slow VectorE it is conversion-bound and says so.
TEST(TrainiumInt8Weights, DecodeGemmIsBoundByLoadsOrConversion) {
  const OpSpec w8 = gemm_w(8, 14336, 4096, "int8"), w16 = gemm_w(8, 14336, 4096, "bf16");
  EXPECT_DOUBLE_EQ(w16.min_bytes() - w8.min_bytes(), 14336.0 * 4096);
  for (const char* preset : {"trn1", "trn2"}) {
    auto chip = load_chip(preset);
    const KernelRun r8 = run_kernel(*chip, w8, false, false), r16 = run_kernel(*chip, w16, false, false);
    EXPECT_GE(r8.result.latency_s, w8.min_bytes() / chip->dram_bandwidth()) << preset;
    EXPECT_LT(r8.result.latency_s, 0.8 * r16.result.latency_s) << preset;
    EXPECT_NE(r8.result.kernels.at(0).strategy.find("weights converted on"), std::string::npos) << preset;
  }
  // trn1's VectorE converts 143 G elements/s per core, its loads stream 369 GB/s: VectorE bounds the GEMM.
  auto slow = load_chip("trn1", {"lowering.weight_convert_engine=vector"});
  const KernelRun r = run_kernel(*slow, w8, false, false);
  const KernelResult& k = r.result.kernels.at(0);
  EXPECT_EQ(k.bound, "vector");
  EXPECT_EQ(k.bound_unit, "core.vector");
  EXPECT_NE(k.strategy.find("VectorE"), std::string::npos);
  // Its time is at least the conversion work over the cores' VectorE rate.
  EXPECT_GE(r.result.latency_s, 14336.0 * 4096 / (2 * 128 * 1.12e9));
}

// Prefill-shaped GEMMs convert too (functional result within bf16 rounding of the reference), and what has
// no path stays refused with its reason.
TEST(TrainiumInt8Weights, FunctionalPrefillAndRefusals) {
  auto chip = load_chip("trn1");
  EXPECT_TRUE(run_kernel(*chip, gemm_w(256, 512, 384, "int8"), true, false).check.passed);
  const TrainiumSpec s = load_spec("trn1");
  // W8A8: no int8 matmul path on NeuronCore-v2 (activations are not converted).
  EXPECT_THROW(lower(gemm_w(8, 4096, 4096, "int8", "int8"), s, LowerOptions{}), InputError);
  // fp4 storage: no fp4 format on the v2 engines to convert from.
  EXPECT_THROW(lower(gemm_w(8, 4096, 4096, "fp4"), s, LowerOptions{}), InputError);
  // The NKI tutorial's blocked kernel has no conversion step.
  LowerOptions blocked;
  blocked.gemm_block = {2048, 1024, 1024};
  EXPECT_THROW(lower(gemm_w(4096, 8192, 8192, "int8"), s, blocked), InputError);
  // fp8 weights with bf16 activations keep the widened-on-load path (fp8 is a Tensor Engine input).
  EXPECT_EQ(tally(lower(gemm_w(8, 4096, 4096, "fp8"), s, LowerOptions{})).converted, 0);
}
