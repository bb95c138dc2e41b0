// The (family, op) lowering registry: every pair has a lowering or a stated reason, and a refused pair
// is refused with that reason rather than replaced by another lowering.
#include <gtest/gtest.h>

#include "kernels/common/lowering_table.h"
#include "sim/run/registry.h"

namespace xpu {

TEST(LoweringTable, EveryFamilyOpPairHasALoweringOrAReason) {
  register_builtin_families();
  ASSERT_EQ(lowering_tables().size(), families().size());
  for (const auto& f : families()) {
    const LoweringIndex* t = lowering_table(f.name);
    ASSERT_NE(t, nullptr) << f.name;
    for (const auto& opname : op_kind_names()) {
      OpKind k = parse_op_kind(opname);
      if (!t->supports(k)) EXPECT_FALSE(t->reason(k).empty()) << f.name << " " << opname;
      else EXPECT_TRUE(t->reason(k).empty()) << f.name << " " << opname;
    }
  }
}

TEST(LoweringTable, ARefusedPairIsRefusedWithItsReason) {
  register_builtin_families();
  OpSpec op;
  op.kind = OpKind::AllReduce;
  op.m = 1 << 20;
  op.devices = 8;
  for (const auto& p : list_presets()) {
    auto chip = load_chip(p.name);
    const LoweringIndex* t = lowering_table(chip->family());
    ASSERT_NE(t, nullptr);
    if (t->supports(op.kind)) continue;
    try {
      chip->lower(op, LowerOptions{});
      FAIL() << p.name << " lowered an op its table refuses";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(t->reason(op.kind)), std::string::npos) << e.what();
    }
  }
}

TEST(LoweringTable, AnUnregisteredPairIsRefusedNotReplaced) {
  struct FakeSpec {
    std::string name = "fake-chip";
  };
  LoweringTable<FakeSpec> t("fake");
  t.add(OpKind::Gemm, [](const OpSpec&, const FakeSpec&, const LowerOptions&) { return KernelPrograms{}; });
  FakeSpec spec;
  OpSpec op;
  op.kind = OpKind::RmsNorm;
  EXPECT_FALSE(t.supports(OpKind::RmsNorm));
  try {
    t.lower(op, spec, LowerOptions{});
    FAIL() << "an unregistered op was lowered";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no fake lowering is registered"), std::string::npos) << e.what();
  }
}

}  // namespace xpu

namespace xpu {

// fp4 and fp6 are block-scaled operand formats of the matrix units: row-wise compute (norms, activations,
// rope, softmax, top-k) was accepted on the GPU and TPU but refused by Trainium and Maia with their own
// words. One rule now, on every preset, in one line naming the flag and value; a copy still moves fp4 bytes.
TEST(LoweringTable, RowwiseComputeRefusesFp4OnEveryFamilyAlike) {
  register_builtin_families();
  for (const auto& p : list_presets()) {
    auto chip = load_chip(p.name);
    for (OpKind k : {OpKind::RmsNorm, OpKind::SwiGlu, OpKind::Rope, OpKind::Softmax}) {
      OpSpec op;
      op.kind = k;
      op.rows = 64, op.cols = 4096;
      op.dtype = op.wdtype = DType::fp4, op.odtype = DType::bf16;
      try {
        chip->lower(op, LowerOptions{});
        FAIL() << p.name << " ran " << name(k) << " in fp4";
      } catch (const InputError& e) {
        const std::string w = e.what();
        EXPECT_NE(w.find(std::string(name(k)) + ": --dtype fp4: row-wise ops run on the vector units"), std::string::npos) << w;
        EXPECT_NE(w.find("fp32, bf16, fp16, fp8 or int8"), std::string::npos) << w;
        EXPECT_EQ(w.find('\n'), std::string::npos) << w;
      }
    }
    OpSpec copy;
    copy.kind = OpKind::Copy;
    copy.rows = 64, copy.cols = 4096;
    copy.dtype = copy.wdtype = copy.odtype = DType::fp4;
    EXPECT_NO_THROW(chip->lower(copy, LowerOptions{})) << p.name;
  }
}

}  // namespace xpu
