// TPU lowerings as pure functions: block shapes fit VMEM, the MXU fold count matches the shape,
// ragged shapes are covered exactly once, and every op is lowered or refused with a reason.
#include <gtest/gtest.h>

#include <map>

#include "chips/tpu/isa.h"
#include "chips/tpu/tpu_spec.h"
#include "kernels/gemm/tpu.h"
#include "kernels/tpu_lowerings.h"
#include "sim/run/kernel_run.h"

using namespace xpu;
using namespace xpu::tpu;

namespace {
TpuSpec load(const char* file) {
  ConfigTree tree = ConfigTree::load_file(source_dir() + "/chips/tpu/presets/" + file);
  TpuSpec s;
  Params p(Params::Mode::Load, &tree);
  describe(p, s);
  p.finish();
  return s;
}
OpSpec gemm(std::int64_t m, std::int64_t n, std::int64_t k) {
  return make_op("gemm", {{"m", std::to_string(m)}, {"n", std::to_string(n)}, {"k", std::to_string(k)}});
}
}  // namespace

TEST(TpuGemmLowering, BlocksFitVmemAndFoldsCoverTheShape) {
  for (const char* f : {"tpu_v4.yaml", "tpu_v5e.yaml", "tpu_v6e.yaml", "tpu_v7.yaml"}) {
    TpuSpec s = load(f);
    for (auto [m, n, k] : {std::tuple{333, 1000, 777}, {8, 4096, 4096}, {2048, 512, 3000}}) {
      OpSpec op = gemm(m, n, k);
      GemmTiling t = choose_gemm_tiling(op, s);
      EXPECT_LE(t.vmem_bytes, s.kernel_vmem_bytes()) << f;
      EXPECT_EQ(t.bn % s.mxu.cols == 0 || t.bn >= n, true) << f << " " << t.str();
      KernelPrograms progs = lower_gemm(op, s, {}, t);
      ASSERT_EQ(progs.size(), 1u);
      const Program& p = progs[0];
      EXPECT_TRUE(p.static_placement);
      EXPECT_LE(p.num_tasks, static_cast<std::uint64_t>(s.tensorcores));
      double flops = 0, folds = 0, hbm_read = 0;
      for (std::uint64_t i = 0; i < p.num_tasks; ++i) {
        Task task;
        p.make_task(i, task);
        for (const Instr& in : task.instrs) {
          if (in.kind == TxKind::TileCompute && is_mxu_data(in.engine)) {
            flops += static_cast<double>(in.flops);
            folds += 1;
            EXPECT_LE(in.k, static_cast<std::uint32_t>(s.mxu.rows));
            EXPECT_LE(in.n, static_cast<std::uint32_t>(s.mxu.cols));
          }
          if (in.kind == TxKind::DmaRead) hbm_read += static_cast<double>(in.bytes);
          for (auto d : in.dep) EXPECT_TRUE(d == kNoDep || d < task.instrs.size());
        }
      }
      EXPECT_DOUBLE_EQ(flops, op.flops()) << f << " " << op.shape_str();  // every MAC exactly once
      double blocks = std::ceil(double(m) / t.bm) * std::ceil(double(n) / t.bn);
      double expect_folds = blocks * std::ceil(double(k) / t.bk) *
                            std::ceil(double(std::min<std::int64_t>(t.bk, k)) / s.mxu.rows) *
                            std::ceil(double(std::min<std::int64_t>(t.bn, n)) / s.mxu.cols);
      EXPECT_GE(folds, 0.999 * blocks * std::ceil(double(k) / s.mxu.rows) * std::ceil(double(std::min<std::int64_t>(t.bn, n)) / s.mxu.cols) * 0.5);
      EXPECT_LE(folds, expect_folds + 1e-9) << f;
      EXPECT_GE(hbm_read, (double(m) * k + double(k) * n) * 2 - 1) << f;  // inputs read at least once
    }
  }
}

// Weight-only int8 (bf16 activations): the convert is fold-granular, one vector op per weight fold,
// and every push waits on a convert (not on the block's copy), so converting fold f + 1 can overlap
// pushing fold f.
// XLA bounds each instruction's scoped VMEM (its operand double buffers) by --xla_tpu_scoped_vmem_limit_kib,
// 32 MiB by default on v5e, v5p, v6e and 7x (OpenXLA's platform_info default_vmem_limit_kib; its Pallas matmul
// cost model picks windows within it). On the 128 MiB chips that limit, not half of VMEM, bounds a kernel's
// blocks: a large v6e GEMM keeps its blocks within 32 MiB, and without the limit the tiler takes bigger
// blocks that it estimates faster (v6e's 1373 GB/s DMA path feeds 918 TFLOP/s only from blocks of about
// 670 FLOPs per byte). TPU7x's half of 64 MiB is the same 32 MiB.
TEST(TpuGemmLowering, BlocksFitXlasScopedVmemLimit) {
  const double mib = 1024.0 * 1024.0;
  TpuSpec s = load("tpu_v6e.yaml");
  EXPECT_DOUBLE_EQ(s.vmem_scoped_limit.value(), 32 * mib);
  EXPECT_DOUBLE_EQ(s.kernel_vmem_bytes(), 32 * mib);
  OpSpec op = gemm(8192, 8192, 8192);
  GemmTiling t = choose_gemm_tiling(op, s);
  EXPECT_LE(t.vmem_bytes, 32 * mib) << t.str();
  TpuSpec unlimited = s;
  unlimited.vmem_scoped_limit = Bytes(0);
  EXPECT_DOUBLE_EQ(unlimited.kernel_vmem_bytes(), 64 * mib);
  GemmTiling u = choose_gemm_tiling(op, unlimited);
  EXPECT_GT(u.vmem_bytes, 32 * mib) << u.str() << ": the limit binds on v6e";
  EXPECT_LT(u.estimate_s, t.estimate_s * 0.95) << u.str() << " vs " << t.str();
  EXPECT_DOUBLE_EQ(load("tpu_v7.yaml").kernel_vmem_bytes(), 32 * mib);
  EXPECT_DOUBLE_EQ(load("tpu_v4.yaml").kernel_vmem_bytes(), 8 * mib);  // half of its 16 MiB, within the limit
}

TEST(TpuGemmLowering, NarrowWeightsEachPushWaitsForItsOwnFoldsConvert) {
  TpuSpec s = load("tpu_v6e.yaml");
  OpSpec op = make_op("gemm", {{"m", "8"}, {"n", "1024"}, {"k", "4096"}, {"dtype", "bf16"}, {"wdtype", "int8"}});
  KernelPrograms ps = lower_gemm(op, s, {});
  ASSERT_EQ(ps.size(), 1u);
  Task t;
  ps[0].make_task(0, t);
  std::int64_t pushes = 0, converts = 0, pushes_after_convert = 0;
  for (const Instr& in : t.instrs) {
    if (in.engine == kVpu && in.dtype == DType::bf16 && in.kind == TxKind::VectorOp) ++converts;
    if (!is_mxu_weights(in.engine)) continue;
    ++pushes;
    for (auto d : in.dep)
      if (d != kNoDep && t.instrs[d].engine == kVpu) ++pushes_after_convert;
  }
  EXPECT_EQ(pushes, (4096 / 256) * (1024 / 256));
  EXPECT_EQ(converts, pushes);
  EXPECT_EQ(pushes_after_convert, pushes);
}

TEST(TpuGemmLowering, LoweringIsPureAndDeterministic) {
  TpuSpec s = load("tpu_v5p.yaml");
  OpSpec op = gemm(1000, 700, 900);
  KernelPrograms a = lower_gemm(op, s, {}), b = lower_gemm(op, s, {});
  Task ta, tb;
  a[0].make_task(1, ta);
  b[0].make_task(1, tb);
  ASSERT_EQ(ta.instrs.size(), tb.instrs.size());
  for (size_t i = 0; i < ta.instrs.size(); ++i) EXPECT_EQ(ta.instrs[i].bytes, tb.instrs[i].bytes);
  EXPECT_EQ(a[0].strategy, b[0].strategy);
}

TEST(TpuLowerings, EveryOpLoweredOrRefusedWithAReason) {
  TpuSpec s = load("tpu_v6e.yaml");
  std::map<std::string, std::map<std::string, std::string>> ops = {
      {"gemm", {{"m", "64"}, {"n", "64"}, {"k", "64"}}},
      {"grouped_gemm", {{"tokens", "64"}, {"groups", "4"}, {"n", "64"}, {"k", "64"}}},
      {"attention", {{"heads", "8"}, {"kv-heads", "2"}, {"seq", "256"}, {"head-dim", "128"}}},
      {"rmsnorm", {{"rows", "64"}, {"cols", "256"}}},
      {"layernorm", {{"rows", "64"}, {"cols", "256"}}},
      {"softmax", {{"rows", "64"}, {"cols", "256"}}},
      {"swiglu", {{"rows", "64"}, {"cols", "256"}}},
      {"gelu", {{"rows", "64"}, {"cols", "256"}}},
      {"rope", {{"rows", "64"}, {"cols", "256"}}},
      {"residual_add", {{"rows", "64"}, {"cols", "256"}}},
      {"embedding", {{"rows", "64"}, {"cols", "256"}}},
      {"topk", {{"rows", "64"}, {"experts", "64"}, {"topk", "2"}}},
      {"sampling", {{"rows", "4"}, {"cols", "32000"}}},
      {"copy", {{"rows", "64"}, {"cols", "256"}}},
      {"sum", {{"rows", "64"}, {"cols", "256"}}},
      {"allreduce", {{"bytes", "65536"}}},
      {"alltoall", {{"bytes", "65536"}}},
      {"reducescatter", {{"bytes", "65536"}}},
      {"allgather", {{"bytes", "65536"}}},
  };
  for (const auto& n : op_kind_names()) ASSERT_TRUE(ops.count(n)) << "test lacks op " << n;
  for (const auto& [name, args] : ops) {
    OpSpec op = make_op(name, args);
    try {
      KernelPrograms p = lower(op, s, {});
      EXPECT_FALSE(p.empty()) << name;
      for (const auto& prog : p) EXPECT_GT(prog.num_tasks, 0u) << name;
    } catch (const InputError& e) {
      std::string w = e.what();
      EXPECT_NE(w.find("cannot run"), std::string::npos) << name << ": " << w;
      EXPECT_TRUE(is_collective(parse_op_kind(name))) << "only the collectives may be refused: " << w;
    }
  }
}
