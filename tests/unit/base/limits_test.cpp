// Validation at the parsing edge (issue 18): bounded input files, resource limits and their flags,
// duplicate keys, protected overlay keys, numeric ranges of preset fields, op and model bounds.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "chips/gpu/gpu_spec.h"
#include "sim/base/config.h"
#include "sim/base/limits.h"
#include "sim/base/run_budget.h"
#include "workloads/model.h"
#include "workloads/op.h"

namespace xpu {
namespace {

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(InputFile, RefusesSpecialFilesAndOversizedOnes) {
  char dir[] = "/tmp/xpusim-limits-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string fifo = std::string(dir) + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(error_of([&] { read_input_file(fifo, "model"); }).find("not a regular file"), std::string::npos);
  EXPECT_NE(error_of([&] { read_input_file("/dev/zero", "model"); }).find("not a regular file"), std::string::npos);
  EXPECT_NE(error_of([&] { read_input_file(dir, "model"); }).find("folder"), std::string::npos);
  const std::string big = std::string(dir) + "/big";
  { std::ofstream(big) << std::string(2048, 'x'); }
  EXPECT_NE(error_of([&] { read_input_file(big, "preset", 1024); }).find("more than the 1 KiB"), std::string::npos);
  EXPECT_EQ(read_input_file(big, "preset", 4096).size(), 2048u);
  std::remove(fifo.c_str());
  std::remove(big.c_str());
  rmdir(dir);
}

TEST(Limits, FlagsAreTakenFromAnyPositionAndChecked) {
  ResourceLimits saved = resource_limits();
  std::vector<std::string> args = {"xpusim", "--max-transactions", "5e5", "kernel", "--max-memory=2GiB", "gemm"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = take_limit_flags(static_cast<int>(args.size()), argv.data());
  ASSERT_EQ(argc, 3);
  EXPECT_STREQ(argv[1], "kernel");
  EXPECT_STREQ(argv[2], "gemm");
  EXPECT_EQ(resource_limits().max_transactions, 5e5);
  EXPECT_EQ(resource_limits().max_memory_bytes, 2.0 * (1 << 30));
  EXPECT_NE(error_of([] { check_transactions("simulating gemm", 1e6); }).find("the limit is 500000"), std::string::npos);
  EXPECT_NE(error_of([] { check_transactions("simulating gemm", 1e6); }).find("--max-transactions"), std::string::npos);
  EXPECT_EQ(error_of([] { check_transactions("simulating gemm", 1e5); }), "");
  EXPECT_NE(error_of([] { parse_transaction_limit("--max-transactions", "nan"); }), "");
  EXPECT_NE(error_of([] { parse_memory_limit("--max-memory", "12 parsecs"); }), "");
  resource_limits() = saved;
}

TEST(Budget, EstimateScalesSampledTasks) {
  Program p;
  p.name = "toy";
  p.num_tasks = 1000;
  p.make_task = [](std::uint64_t, Task& t) {
    for (int i = 0; i < 10; ++i) t.add(Instr{});
  };
  RunEstimate e = estimate_run({{p}}, 8, false);
  EXPECT_DOUBLE_EQ(e.transactions, 10000);
  ResourceLimits saved = resource_limits();
  resource_limits().max_transactions = 5000;
  EXPECT_NE(error_of([&] { check_run_budget("simulating toy", {{p}}, 8, false); }).find("simulating toy needs about"),
            std::string::npos);
  resource_limits() = saved;
}

TEST(Budget, AWholeRunIsBoundedBySumOfItsSimulations) {
  ResourceLimits saved = resource_limits();
  resource_limits().max_transactions = 100;
  EXPECT_EQ(error_of([] { TransactionBudget::admit("simulating gemm", 1000); }), "");  // no run open: per kernel only
  {
    TransactionBudget run("running toy on chip");
    EXPECT_NE(error_of([&] { run.check_estimate(150); }).find("running toy on chip needs about 150 transactions"),
              std::string::npos);
    EXPECT_EQ(error_of([] { TransactionBudget::admit("simulating gemm", 60); }), "");
    TransactionBudget::charge(60);
    {
      TransactionBudget inner("running inner");  // joins the outer scope
      EXPECT_EQ(error_of([&] { inner.check_estimate(1e9); }), "");
      TransactionBudget::charge(10);
    }
    EXPECT_EQ(run.spent(), 70);
    const std::string e = error_of([] { TransactionBudget::admit("simulating softmax", 40); });
    EXPECT_NE(e.find("running toy on chip: stopped after 70 transactions in 2 simulation(s): simulating softmax needs "
                     "about 40 more, over the limit of 100 transactions for the whole run"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("--max-transactions"), std::string::npos);
    EXPECT_EQ(e.find('\n'), std::string::npos);
  }
  EXPECT_EQ(error_of([] { TransactionBudget::admit("simulating gemm", 60); }), "");
  resource_limits() = saved;
}

TEST(Config, DuplicateKeysAndSectionsNameFileAndKey) {
  std::string e = error_of([] { ConfigTree::load_string("family: gpu\nsm:\n  count: 4\n  count: 8\n", "dup.yaml"); });
  EXPECT_NE(e.find("dup.yaml:4"), std::string::npos) << e;
  EXPECT_NE(e.find("sm.count"), std::string::npos) << e;
  EXPECT_NE(e.find("duplicate"), std::string::npos) << e;
  e = error_of([] { ConfigTree::load_string("hbm:\n  a: 1\nhbm:\n  b: 2\n", "sec.yaml"); });
  EXPECT_NE(e.find("hbm: duplicate"), std::string::npos) << e;
  EXPECT_NE(error_of([] { ConfigTree::load_string("x: " + std::string(40, '[') + std::string(40, ']'), "deep.yaml"); }),
            "");
}

TEST(Config, FamilyAndInheritsCannotBeOverlaid) {
  ConfigTree t;
  EXPECT_NE(error_of([&] { t.apply_overlay("family=tpu"); }).find("cannot be overridden"), std::string::npos);
  EXPECT_NE(error_of([&] { t.apply_overlay("inherits=x.yaml"); }), "");
  EXPECT_NE(error_of([&] { t.apply_overlay("a..b=1"); }), "");
  EXPECT_NE(error_of([&] { t.apply_overlay("a=1\nb=2"); }), "");
  t.apply_overlay("hbm.bandwidth=4TB/s");
  EXPECT_EQ(t.find("hbm.bandwidth")->text, "4 TB/s");
}

std::string bind_gpu(const std::vector<std::string>& sets) {
  return error_of([&] {
    ConfigTree t = ConfigTree::load_file(source_dir() + "/chips/gpu/presets/h100_sxm.yaml");
    for (const auto& s : sets) t.apply_overlay(s);
    ConfigTree chip;
    for (const auto& [k, v] : t.entries())
      if (k.rfind("power.", 0) != 0 && k.rfind("cost.", 0) != 0) chip.set(k, v.text, v.origin);
    gpu::GpuSpec s;
    Params p(Params::Mode::Load, &chip);
    describe(p, s);
    p.finish();
  });
}

TEST(Params, NumbersAreFiniteNonNegativeBoundedAndZeroOnlyWhereItMeansNone) {
  EXPECT_EQ(bind_gpu({}), "");
  EXPECT_NE(bind_gpu({"sm.mma_efficiency=nan"}).find("finite"), std::string::npos);
  EXPECT_NE(bind_gpu({"launch_overhead=-2 us"}).find("non-negative"), std::string::npos);
  EXPECT_NE(bind_gpu({"sm.smem_bytes_per_clk=0"}).find("positive"), std::string::npos);
  EXPECT_NE(bind_gpu({"hbm.bandwidth=0 TB/s"}).find("hbm.bandwidth"), std::string::npos);
  EXPECT_NE(bind_gpu({"sm.count=1e30"}).find("sm.count"), std::string::npos);
  EXPECT_NE(bind_gpu({"sm.count=100000"}).find("1 to 1024"), std::string::npos);
  EXPECT_NE(bind_gpu({"sm.clock=1 Hz"}).find("at least 1 MHz"), std::string::npos);
  EXPECT_EQ(bind_gpu({"launch_overhead=0 us"}), "");                 // a time may be 0
  EXPECT_EQ(bind_gpu({"sm.sync_cycles=0"}), "");                     // a cycle count may be 0
  EXPECT_EQ(bind_gpu({"sm.tensor_flops_per_clk.fp8=0"}), "");        // 0: no FP8 path
}

TEST(Params, AShareOutOfBoundsIsToldItsRangeNotTheKindsBounds) {
  // -0.1 was told "expected a non-negative number", 0 "a positive number": the share's range is (0, 1].
  EXPECT_EQ(bind_gpu({"sm.mma_efficiency=-0.1"}), "--set sm.mma_efficiency: '-0.1': expected a share in (0, 1]");
  EXPECT_EQ(bind_gpu({"hbm.efficiency=0"}), "--set hbm.efficiency: '0': expected a share in (0, 1]");
  EXPECT_EQ(bind_gpu({"hbm.efficiency=1e13"}), "--set hbm.efficiency: '1e13': expected a share in (0, 1]");
  // A number no require() covers is still held to its kind's bounds, at finish().
  EXPECT_NE(bind_gpu({"sm.smem_bytes_per_clk=-1"}).find("non-negative number"), std::string::npos);
}

TEST(OpBounds, DimensionsAndOperandsAreBounded) {
  OpSpec g;
  g.kind = OpKind::Gemm;
  g.m = g.n = 64;
  g.k = 4294967296LL;
  EXPECT_NE(error_of([&] { g.validate(); }).find("2^24"), std::string::npos);
  g.k = 64;
  g.m = g.n = 16777216;
  EXPECT_NE(error_of([&] { g.validate(); }).find("1 TiB"), std::string::npos);
  OpSpec a;
  a.kind = OpKind::Attention;
  a.batch = 1, a.heads = a.kv_heads = 2, a.seq_q = a.seq_kv = 64, a.head_dim = 64, a.page_size = 0;
  EXPECT_NE(error_of([&] { a.validate(); }).find("page-size"), std::string::npos);
  a.page_size = 16, a.head_dim_v = -1;
  EXPECT_NE(error_of([&] { a.validate(); }).find("head-dim-v"), std::string::npos);
}

TEST(ModelBounds, AbsurdLayerCountIsRefusedBeforeAllocation) {
  const std::string j = R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
    "max_position_embeddings": 512, "num_attention_heads": 2, "num_hidden_layers": 1000000000000, "vocab_size": 256})";
  EXPECT_NE(error_of([&] { parse_model_json(j, "absurd.json"); }).find("num_hidden_layers"), std::string::npos);
  EXPECT_NE(error_of([] { parse_model_json(R"({"model_type": 3})", "t.json"); }).find("t.json"), std::string::npos);
}

}  // namespace
}  // namespace xpu
