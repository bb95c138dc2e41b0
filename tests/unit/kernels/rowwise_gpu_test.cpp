// The GPU row-wise lowering's elementwise grid (PyTorch's vectorized elementwise kernel), the copy and
// sum ops, and inputs served from L2 when a benchmark's rotated working set fits in it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "chips/gpu/isa.h"
#include "kernels/rowwise/gpu.h"
#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"
#include "tests/unit/kernels/gpu_spec_util.h"

using namespace xpu;
using namespace xpu::gpu;

namespace {
GpuSpec h100() { return h100_spec(); }
OpSpec row(const char* kind, std::int64_t rows, std::int64_t cols, DType d = DType::bf16) {
  return make_op(kind, {{"rows", std::to_string(rows)}, {"cols", std::to_string(cols)}, {"dtype", name(d)}});
}
struct Walk {
  std::uint64_t tasks = 0;
  double read = 0, written = 0, l2_reads = 0;
};
Walk walk(const KernelPrograms& progs) {
  Walk w;
  for (const auto& p : progs) {
    w.tasks += p.num_tasks;
    for (std::uint64_t i = 0; i < p.num_tasks; ++i) {
      Task task;
      p.make_task(i, task);
      for (const auto& in : task.instrs) {
        if (in.kind == TxKind::DmaRead) (memory_level(in.level) == kL2 ? w.l2_reads : w.read) += static_cast<double>(in.bytes);
        if (in.kind == TxKind::DmaWrite) w.written += static_cast<double>(in.bytes);
      }
    }
  }
  return w;
}
}  // namespace

TEST(CopyAndSumOps, CountsAreTheCompulsoryTraffic) {
  OpSpec c = row("copy", 4, 1024);
  EXPECT_DOUBLE_EQ(c.min_bytes(), 4 * 1024 * (2 + 2));
  EXPECT_DOUBLE_EQ(c.flops(), 4 * 1024);
  OpSpec s = row("sum", 4, 1024, DType::fp32);
  EXPECT_DOUBLE_EQ(s.min_bytes(), 4 * 1024 * 4 + 4 * 4);
  EXPECT_EQ(parse_op_kind("copy"), OpKind::Copy);
  EXPECT_EQ(parse_op_kind("sum"), OpKind::Sum);
}

// x + r on one row of 4096 elements: PyTorch's grid of 1024-element blocks (128 threads x 8 elements)
// spreads it over 4 SMs instead of one block; a large copy keeps at most 64 KiB of input per block.
TEST(GpuElementwise, FlattenedGridOfPyTorchsBlocks) {
  const GpuSpec s = h100();
  Walk one = walk(lower_rowwise(row("residual_add", 1, 4096), s, {}));
  EXPECT_EQ(one.tasks, 4u);
  EXPECT_DOUBLE_EQ(one.read, 2.0 * 4096 * 2);
  EXPECT_DOUBLE_EQ(one.written, 4096 * 2);
  Walk big = walk(lower_rowwise(row("copy", 32768, 16384), s, {}));
  EXPECT_EQ(big.tasks, 32768u * 16384u * 2u / 65536u);
  EXPECT_DOUBLE_EQ(big.read, 32768.0 * 16384 * 2);
  // A row sum reads every element once and writes one value per row.
  Walk sum = walk(lower_rowwise(row("sum", 64, 16384), s, {}));
  EXPECT_DOUBLE_EQ(sum.read, 64.0 * 16384 * 2);
  EXPECT_DOUBLE_EQ(sum.written, 64.0 * 2);
}

// A benchmark that rotates its inputs over a working set the L2 holds finds them there: the loads are
// served by L2 (no DRAM read, its shorter latency); one larger than the L2 reads DRAM as a cold run does.
TEST(GpuElementwise, InputsServedFromL2WhenTheRotatedWorkingSetFits) {
  const GpuSpec s = h100();
  const OpSpec op = row("residual_add", 64, 4096);
  LowerOptions fits, spills;
  fits.input_working_set = 10e6;
  spills.input_working_set = 2 * s.l2.capacity.value();
  EXPECT_DOUBLE_EQ(walk(lower_rowwise(op, s, fits)).read, 0);
  EXPECT_DOUBLE_EQ(walk(lower_rowwise(op, s, fits)).l2_reads, op.min_bytes() - 64 * 4096 * 2);
  EXPECT_DOUBLE_EQ(walk(lower_rowwise(op, s, spills)).l2_reads, 0);
  auto chip = load_chip("h100-sxm");
  const double cold = run_kernel(*chip, op, false, false).result.latency_s;
  const double warm = run_kernel(*chip, op, false, false, nullptr, fits).result.latency_s;
  const double big = run_kernel(*chip, op, false, false, nullptr, spills).result.latency_s;
  EXPECT_LT(warm, cold);
  EXPECT_DOUBLE_EQ(big, cold);
}

// Copy and sum run on every preset of every family and never beat their roofline.
TEST(CopyAndSumOps, EveryPresetRunsThemWithinPhysics) {
  for (const auto& p : list_presets()) {
    auto chip = load_chip(p.name);
    for (const char* k : {"copy", "sum"}) {
      const OpSpec op = row(k, 256, 8192);
      const RunResult r = run_kernel(*chip, op, false, false).result;
      ASSERT_FALSE(r.kernels.empty()) << p.name << " " << k;
      double roof = 0;
      for (const auto& kr : r.kernels) roof += kr.roofline_s;
      EXPECT_GE(r.latency_s, roof) << p.name << " " << k;
      EXPECT_GE(r.latency_s, op.min_bytes() / chip->dram_bandwidth() * 0.999) << p.name << " " << k;
    }
  }
}

// F.rms_norm on one row (PyTorch's vectorized_layer_norm_kernel: 128 threads, 4-element vectors, so 8
// iterations per thread over 4096 elements): the second pass loads gamma once per iteration, and that load
// cannot be hoisted above the previous iteration's store (gamma and Y are not __restrict__). The kernel
// takes at least the launch, the block start and one L2 round trip per iteration of that chain plus the
// first pass's two (4 loads in flight); with the second pass's loads grouped as the first pass's (the model
// before) it took 3.0 us, below this bound (3.9 us), against 4.4-4.5 us measured (H291, G339).
TEST(GpuRowReduce, OneRowNormTakesItsChainOfGammaRoundTrips) {
  const GpuSpec s = h100();
  const OpSpec op = row("rmsnorm", 1, 4096);
  LowerOptions l2;
  l2.input_working_set = 10e6;
  std::uint64_t gamma_loads = 0;
  const KernelPrograms progs = lower_rowwise(op, s, l2);
  ASSERT_EQ(progs.size(), 1u);
  Task task;
  progs[0].make_task(0, task);
  for (const auto& in : task.instrs) gamma_loads += in.kind == TxKind::DmaRead && in.bytes == 128 * 4 * 2 ? 1 : 0;
  EXPECT_EQ(gamma_loads, 8u);
  auto chip = load_chip("h100-sxm");
  const double t = run_kernel(*chip, op, false, false, nullptr, l2).result.latency_s;
  const double chain = s.launch_overhead.value() + s.sm.block_launch_latency.value() + (2 + 8) * s.l2.hit_latency.value();
  EXPECT_GE(t, chain);
  EXPECT_LE(t, chain * 1.3);
}

// The serving stacks' fused add + RMSNorm (vLLM fused_add_rms_norm, FlashInfer FusedAddRMSNorm): 1024 threads of
// 8-element vectors hold a row of 8192 in one pass, so a row is one round trip for X and the residual, the
// reduction, one for gamma, where PyTorch's 128-thread F.rms_norm walks 16 iterations with a chain of gamma round
// trips; and it moves the residual both ways (X, R in; R, Y out), so many rows stream four row-sized tensors.
TEST(GpuRowReduce, FusedAddNormTakesOneRoundTripPerPassAndMovesTheResidual) {
  auto chip = load_chip("h100-sxm");
  const GpuSpec s = h100();
  LowerOptions l2;
  l2.input_working_set = 10e6;
  OpSpec fused = row("rmsnorm", 1, 8192);
  fused.impl = kFusedAddNormImpl;
  const double pytorch = run_kernel(*chip, row("rmsnorm", 1, 8192), false, false, nullptr, l2).result.latency_s;
  const double t = run_kernel(*chip, fused, false, false, nullptr, l2).result.latency_s;
  // Three loads (X, the residual, gamma), two of them in flight together: two L2 round trips, where PyTorch's
  // kernel takes 4 for X and a chain of 16 for gamma. Beyond them, each pass's instructions on the row's one SM
  // (about 0.3 us each), the reduction and the output's store.
  Task task;
  lower_rowwise(fused, s, l2)[0].make_task(0, task);
  int loads = 0;
  for (const auto& in : task.instrs) loads += in.kind == TxKind::DmaRead ? 1 : 0;
  EXPECT_EQ(loads, 3);
  const double floor = s.launch_overhead.value() + s.sm.block_launch_latency.value() + 2 * s.l2.hit_latency.value();
  EXPECT_GE(t, floor);
  EXPECT_LE(t, floor + 2e-6);
  EXPECT_LT(t, 0.6 * pytorch);
  OpSpec many = row("rmsnorm", 4096, 8192);
  many.impl = kFusedAddNormImpl;
  const Walk w = walk(lower_rowwise(many, s, LowerOptions{}));
  const double tensor = 4096.0 * 8192 * 2;
  EXPECT_DOUBLE_EQ(w.read, 2 * tensor);  // X and the residual (gamma from L2)
  EXPECT_DOUBLE_EQ(w.written, 2 * tensor);  // the new residual and Y
  EXPECT_DOUBLE_EQ(many.min_bytes(), 4 * tensor + 8192 * 2);
  EXPECT_DOUBLE_EQ(many.flops(), 4.0 * 4096 * 8192);  // the add's FLOPs stay with its fused node
  // 256 rows and more take vLLM's 256-thread blocks; other row-wise ops refuse an --impl.
  EXPECT_NE(lower_rowwise(many, s, LowerOptions{})[0].strategy.find("256 threads per row"), std::string::npos);
  OpSpec bad = row("softmax", 4, 8192);
  bad.impl = kFusedAddNormImpl;
  EXPECT_THROW(bad.validate(), InputError);
  LowerOptions functional;  // the functional reference is the norm alone: refused rather than checked wrongly
  functional.functional = true;
  EXPECT_THROW(lower_rowwise(fused, s, functional), InputError);
}

// A grid smaller than the chip's SMs spreads one block per SM (the block scheduler picks the SM with the
// most free resources, Gilman et al. 2020): 64 rows of RMSNorm take about as long as one. When the engine
// packed the first wave four deep (64 blocks on 16 SMs, SystemC's wake order), they queued on each SM's
// engines and took 1.3 times as long (H294, G342: 6.4 us against 5.1 and 4.8 measured).
TEST(GpuRowReduce, FewRowsSpreadOneBlockPerSm) {
  auto chip = load_chip("h100-sxm");
  LowerOptions l2;
  l2.input_working_set = 10e6;
  const double one = run_kernel(*chip, row("rmsnorm", 1, 4096), false, false, nullptr, l2).result.latency_s;
  const KernelRun r = run_kernel(*chip, row("rmsnorm", 64, 4096), false, true, nullptr, l2);
  EXPECT_LE(r.result.latency_s, one * 1.1);
  std::map<std::string, std::set<std::uint32_t>> tasks_on;  // SM -> its tasks
  for (const auto& rec : r.result.trace) {
    const std::string& unit = r.result.unit_names.at(rec.unit);
    tasks_on[unit.substr(0, unit.find('.', unit.find('.') + 1))].insert(rec.task);
  }
  EXPECT_EQ(tasks_on.size(), 64u);
  for (const auto& [sm, tasks] : tasks_on) EXPECT_EQ(tasks.size(), 1u) << sm;
}

// torch.softmax over a row of 32768 bf16 elements (cunn_SoftMaxForward, 1024 threads, 8-element vectors): the
// max pass converts each element to fp32 and takes a float max, both on the INT32 pipe (64 results per clock
// per SM on Hopper, half the FP32 rate), so it takes at least 2 x 32768 / 64 = 1024 cycles; counted as FP32
// work it took 512. Every pass's instructions also share the schedulers' issue slots (128 per clock), so the
// three passes take at least all their instructions at that rate.
// The softmax kernels issue what Nsight Compute counted for them on an H200 (PyTorch 2.11: cunn_SoftMaxForward
// 38.75 instructions per element and 193.9 per thread, cunn_SoftMaxForwardReg 74.8 and 20, bf16 in and out;
// README "H200 fixed costs from inside the kernels"), so one row's block spends at least that many issue
// slots; fp32 tensors skip the 4 conversions per element.
TEST(GpuRowReduce, SoftmaxIssuesTheInstructionsNsightComputeCounted) {
  const GpuSpec s = h100();
  auto issue_cycles = [&](std::int64_t cols, DType d) {
    Task task;
    lower_rowwise(row("softmax", 1, cols, d), s, {})[0].make_task(0, task);
    double cycles = 0;
    for (const auto& in : task.instrs)
      if (in.kind == TxKind::VectorOp) cycles += static_cast<double>(in.flops) / s.sm.vector_flops_per_clk;
    return cycles;
  };
  const double forward = (38.75 * 32768 + 193.9 * 1024) / s.sm.issue_per_clk;
  EXPECT_NEAR(issue_cycles(32768, DType::bf16), forward, 0.01 * forward);
  const double reg = (74.78 * 4096 + 20.1 * 1024) / s.sm.issue_per_clk;
  EXPECT_NEAR(issue_cycles(4096, DType::bf16), reg, 0.01 * reg);
  EXPECT_NEAR(issue_cycles(4096, DType::bf16) - issue_cycles(4096, DType::fp32), 4.0 * 4096 / s.sm.issue_per_clk, 1.0);
}

// torch.softmax's kernel choice as PyTorch 2.11 makes it (host_softmax after PR #144679): rows of up to 2048
// elements and 8 KiB take the persistent warp softmax (not a block per row); up to 9 elements per thread of a
// 1024-thread block, cunn_SoftMaxForwardReg (the row in registers: one read, no shared memory but the
// reduction's 32 floats); a row that fits 48 KiB, cunn_SoftMaxForwardSmem (it allocates the row, not the whole
// 48 KiB); a longer one, cunn_SoftMaxForward, whose later passes read X again from L1.
TEST(GpuRowReduce, SoftmaxKernelChoiceOfPyTorch211) {
  const GpuSpec s = h100();
  struct Shape {
    std::uint32_t threads, smem;
    double reread;  // bytes the later passes read again
  };
  auto shape = [&](std::int64_t cols) {
    Task task;
    lower_rowwise(row("softmax", 1, cols), s, {})[0].make_task(0, task);
    Shape sh{task.threads, task.smem_bytes, 0};
    for (const auto& in : task.instrs)
      if (in.kind == TxKind::VectorOp) sh.reread += static_cast<double>(in.bytes);
    return sh;
  };
  EXPECT_NE(shape(2048).threads, 1024u);
  const Shape reg = shape(4096), smem = shape(16384), regular = shape(32768);
  EXPECT_EQ(reg.threads, 1024u);
  EXPECT_EQ(reg.smem, 32u * 4);
  EXPECT_DOUBLE_EQ(reg.reread, 0);
  EXPECT_EQ(smem.smem, 16384u * 2 + 32 * 4);
  EXPECT_DOUBLE_EQ(smem.reread, 2.0 * 16384 * 2);
  EXPECT_EQ(regular.smem, 32u * 4);
  EXPECT_DOUBLE_EQ(regular.reread, 2.0 * 32768 * 2);
}
