// The shared lowering builders on their own: instruction fields, dependencies, the functional
// emitter (semantics attached only in functional mode, built lazily) and the program skeletons.
#include <gtest/gtest.h>

#include "kernels/common/builders.h"
#include "kernels/common/decode_layout.h"

using namespace xpu;

TEST(Builders, InstructionsFillTheirKindsFields) {
  const Instr d = build::dma(TxKind::DmaRead, 1, 2, DType::fp8, 4096, 512, 8, 64);
  EXPECT_EQ(d.kind, TxKind::DmaRead);
  EXPECT_EQ(d.engine, 1);
  EXPECT_EQ(d.level, 2);
  EXPECT_EQ(d.dtype, DType::fp8);
  EXPECT_EQ(d.addr, 4096u);
  EXPECT_EQ(d.bytes, 512u);
  EXPECT_EQ(d.m, 8u);
  EXPECT_EQ(d.n, 64u);
  EXPECT_EQ(d.flops, 0u);
  for (auto x : d.dep) EXPECT_EQ(x, kNoDep);
  EXPECT_EQ(d.func, -1);

  const Instr m = build::mma(3, DType::bf16, 128, 256, 64, 1000, 2000, 5);
  EXPECT_EQ(m.kind, TxKind::TileCompute);
  EXPECT_EQ(m.level, 5);
  EXPECT_EQ(m.m, 128u);
  EXPECT_EQ(m.k, 64u);
  EXPECT_EQ(m.n, 256u);
  EXPECT_EQ(m.flops, 1000u);
  EXPECT_EQ(m.bytes, 2000u);
  EXPECT_EQ(m.addr, 0u);

  const Instr v = build::vec(2, DType::fp32, 4, 5, 1, 20, 80);
  EXPECT_EQ(v.kind, TxKind::VectorOp);
  EXPECT_EQ(v.k, 1u);

  const Instr s = build::sync(4, 3);
  EXPECT_EQ(s.kind, TxKind::Sync);
  EXPECT_EQ(s.engine, 4);
  EXPECT_EQ(s.n, 3u);
  EXPECT_EQ(s.dtype, Instr{}.dtype);

  const Instr a = build::after(s, 7, 9);
  EXPECT_EQ(a.dep[0], 7u);
  EXPECT_EQ(a.dep[1], 9u);
  EXPECT_EQ(a.dep[2], kNoDep);
}

TEST(Builders, EmitterAttachesFunctionalDataOnlyInFunctionalMode) {
  int built = 0;
  auto zero = [&] {
    ++built;
    return fop::zero(0, 2, 3);
  };
  Task timing;
  build::Emitter t(timing, false);
  EXPECT_EQ(t(build::sync(0), zero), 0u);
  EXPECT_EQ(t(build::sync(0), fop::zero(0, 1, 1)), 1u);
  EXPECT_EQ(built, 0);  // never built when nothing runs it
  EXPECT_TRUE(timing.func.empty());
  EXPECT_EQ(timing.instrs[0].func, -1);

  Task functional;
  build::Emitter f(functional, true);
  f(build::sync(0));
  EXPECT_EQ(f(build::sync(0), zero), 1u);
  EXPECT_EQ(built, 1);
  ASSERT_EQ(functional.func.size(), 1u);
  EXPECT_EQ(functional.instrs[0].func, -1);
  EXPECT_EQ(functional.instrs[1].func, 0);
  EXPECT_EQ(functional.func[0].code, FuncCode::Zero);
  EXPECT_EQ(functional.func[0].cols, 3);
  EXPECT_EQ(fop::store_add(1, 2, 0, 0, 4, 4, DType::bf16).code, FuncCode::StoreAdd);
}

TEST(Builders, ProgramSkeletons) {
  OpSpec op;
  op.kind = OpKind::Gemm;
  op.label = "l0.qkv";
  op.m = op.n = op.k = 64;
  const Program p = build::program("gemm", op, "s", 12, [](std::uint64_t, Task&) {}, true);
  EXPECT_EQ(p.op, "l0.qkv");
  EXPECT_EQ(p.num_tasks, 12u);
  EXPECT_TRUE(p.functional);
  EXPECT_FALSE(p.static_placement);
  EXPECT_DOUBLE_EQ(p.roofline.flops, op.flops());
  const Program h = build::static_program(build::helper_program("gemm.splitk_reduce", op, "r", 3, [](std::uint64_t, Task&) {}));
  EXPECT_TRUE(h.static_placement);
  EXPECT_EQ(h.roofline.flops, 0);
  EXPECT_EQ(h.roofline.min_dram_bytes, 0);
}

TEST(Builders, DecodeLayoutStacksTheGroupAndSplitsWhenExecutorsIdle) {
  OpSpec op;
  op.kind = OpKind::Attention;
  op.batch = 1, op.heads = 32, op.kv_heads = 8, op.seq_q = 1, op.seq_kv = 8192;
  DecodeLayout l = decode_layout(op, 128, 16, 64);
  EXPECT_EQ(l.rows_per_pass, 4);
  EXPECT_EQ(l.passes, 1);
  EXPECT_EQ(l.splits, 8);  // 8 (sequence, KV head) units over 64 executors
  l = decode_layout(op, 128, 16, 8);
  EXPECT_EQ(l.splits, 1);
}
