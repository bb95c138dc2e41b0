// Parallel model runs on systems of chips: rank folding gives the same step as simulating every rank,
// TP1 on one chip is the single-chip run, and a small tensor-parallel run on each family's system is
// faster than one chip, spends a visible share in its collectives and never beats streaming its
// weight shard.
#include <gtest/gtest.h>

#include <map>

#include "sim/run/model_run.h"
#include "sim/run/system_run.h"
#include "tests/unit/workloads/layout_util.h"

using namespace xpu;

namespace {
Scenario decode(std::int64_t batch, int tp, int ep = 1, int pp = 1, int dp = 1) {
  return test::layout_scenario(batch, tp, ep, pp, dp);
}
ModelRunOptions on(const std::string& chip, int devices, bool fold = true) {
  ModelRunOptions o;
  SystemChoice c;
  c.devices = devices;
  o.system = SystemContext{*resolve_system(chip, c), false, fold};
  return o;
}
}  // namespace

TEST(ParallelRun, FoldedRanksEqualEveryRankSimulated) {
  auto chip = load_chip("h100-sxm");
  struct Case {
    const char* model;
    Scenario s;
  };
  Scenario skewed = decode(8, 2, 2);
  skewed.routing = Routing::parse("zipf:1.2");  // expert ranks get different loads
  for (const Case& c : {Case{"llama-3.1-8b", decode(8, 2, 1, 2)}, Case{"mixtral-8x7b", skewed}}) {
    ModelConfig m = load_model(c.model);
    const int n = c.s.devices();
    ModelRunResult folded = run_model(*chip, m, c.s, on("h100-sxm", n, true));
    ModelRunResult unfolded = run_model(*chip, m, c.s, on("h100-sxm", n, false));
    EXPECT_EQ(folded.tpot_s, unfolded.tpot_s) << c.model;
    EXPECT_GT(unfolded.simulated_kernels, 0u);
  }
}

TEST(ParallelRun, OneChipSystemIsTheSingleChipRun) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  ModelRunResult plain = run_model(*chip, m, decode(4, 1));
  ModelRunResult sys = run_model(*chip, m, decode(4, 1), on("h100-sxm", 1));
  EXPECT_EQ(plain.tpot_s, sys.tpot_s);
  // And the step is the sum of its kernels: one stream, nothing to overlap.
  double sum = 0;
  for (const auto& n : plain.steps[0].nodes) sum += n.fused ? 0 : n.time_s * n.count;
  EXPECT_NEAR(plain.tpot_s, sum, 1e-9 * sum + 1e-11 * plain.steps[0].nodes.size() * 80);
}

TEST(ParallelRun, TensorParallelOnEveryFamilysSystem) {
  ModelConfig m = load_model("llama-3.1-8b");
  for (const char* name : {"h100-sxm", "tpu-v6e", "trn2", "maia200"}) {
    auto chip = load_chip(name);
    ModelRunResult one = run_model(*chip, m, decode(8, 1));
    ModelRunResult tp = run_model(*chip, m, decode(8, 4), on(name, 4));
    EXPECT_EQ(tp.devices, 4);
    EXPECT_LT(tp.tpot_s, one.tpot_s) << name;  // memory-bound decode: each rank streams a quarter
    EXPECT_GT(tp.tpot_s, tp.memory.weight_bytes / chip->dram_bandwidth()) << name;
    double comm = 0;
    for (const auto& n : tp.steps[0].nodes)
      if (n.comm_bytes > 0) {
        comm += n.time_s * n.count;
        EXPECT_FALSE(n.strategy.empty()) << name << " " << n.label;
      }
    EXPECT_GT(comm, 0.01 * tp.tpot_s) << name;
    EXPECT_LT(comm, tp.tpot_s) << name;
  }
}

TEST(ParallelRun, PipelineBubblesComeOutOfTheSimulation) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  // Prefill (compute-bound): one micro-batch crosses the two stages in turn, as slow as one chip;
  // four micro-batches overlap the stages, leaving the fill and drain bubbles: (4 + 2 - 1) / 4 / 2.
  // (Power management is left out here, every kernel at the nominal clock: the mechanism under test is the
  // pipeline. From idle, a stage's shorter burst would keep the boost clock longer than the whole chip's.)
  auto flat = load_chip("h100-sxm", {"power.tdp=100 kW", "power.peak_limit=0 W", "power.short_term_limit=0 W",
                                     "power.boost_clock=0 Hz"});
  auto prefill = [&](int mb) {
    Scenario s = decode(4, 1, 1, 2);
    s.input_len = 1024;
    s.phase = Phase::Prefill;
    s.microbatches = mb;
    ModelRunOptions o = on("h100-sxm", 2);
    return run_model(*flat, m, s, o).ttft_s;
  };
  Scenario whole = decode(4, 1);
  whole.input_len = 1024;
  whole.phase = Phase::Prefill;
  const double single = run_model(*flat, m, whole).ttft_s;
  const double t1 = prefill(1), t4 = prefill(4);
  EXPECT_NEAR(t1, single, 0.1 * single);
  EXPECT_GT(t4 / single, 5.0 / 8.0);  // never better than the bubbles allow
  EXPECT_LT(t4 / single, 0.8);
  // Decode (memory-bound): every micro-batch streams its stage's weights again, so the steady-state
  // period of two stages with two micro-batches is about one chip's step, and more micro-batches cost.
  auto period = [&](int mb) {
    Scenario s = decode(16, 1, 1, 2);
    s.microbatches = mb;
    return run_model(*chip, m, s, on("h100-sxm", 2)).tpot_s;
  };
  const double one_chip = run_model(*chip, m, decode(16, 1)).tpot_s;
  EXPECT_NEAR(period(2), one_chip, 0.15 * one_chip);
  EXPECT_GT(period(4), 1.5 * one_chip);
}

TEST(ParallelRun, LayoutMustUseTheSystemsChips) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  try {
    run_model(*chip, m, decode(8, 4), on("h100-sxm", 8));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("has 8 chips"), std::string::npos) << e.what();
  }
  try {
    run_model(*chip, m, decode(8, 2));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--system"), std::string::npos) << e.what();
  }
}

// Sequence parallelism on a system: the reduce-scatter + all-gather pair moves what one all-reduce moves,
// so the step stays within a few percent of plain TP, while the norms and residual adds shrink by tp;
// each collective shows in the breakdown under its own kind.
TEST(ParallelRun, SequenceParallelRunsReduceScatterAndAllGather) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("llama-3.1-8b");
  Scenario plain = decode(4, 4);
  plain.phase = Phase::Prefill;
  plain.input_len = 512;
  Scenario sp = plain;
  sp.sp = true;
  ModelRunResult a = run_model(*chip, m, plain, on("h100-sxm", 4));
  ModelRunResult b = run_model(*chip, m, sp, on("h100-sxm", 4));
  std::map<std::string, double> kinds;
  for (const auto& n : b.steps[0].nodes) kinds[n.op] += n.comm_bytes * n.count;
  EXPECT_GT(kinds["reducescatter"], 0);
  EXPECT_GT(kinds["allgather"], 0);
  EXPECT_EQ(kinds.count("allreduce"), 0u);
  EXPECT_NEAR(b.ttft_s, a.ttft_s, 0.15 * a.ttft_s);
  EXPECT_EQ(b.layout, "tp4+sp");
}

// TP inside experts on hgx-h100x8 (--tp 8 --ep 2): every rank streams an eighth of the weights, as
// with experts split 8 ways (--ep 1), the breakdown shows one all-reduce per attention and per MoE
// block of tokens x hidden x 2 bytes over the 8 ranks and no all-to-all, and a skewed routing loads
// the two expert groups unevenly, so the folded run must still equal every rank simulated.
TEST(ParallelRun, TensorParallelInsideExpertsOnHgx) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("mixtral-8x7b");
  SystemChoice c;
  c.system = "hgx-h100x8";
  auto hgx = [&](bool fold) {
    ModelRunOptions o;
    o.system = SystemContext{*resolve_system("h100-sxm", c), false, fold};
    return o;
  };
  Scenario s = decode(16, 8, 2);
  ModelRunResult r = run_model(*chip, m, s, hgx(true));
  EXPECT_EQ(r.layout, "tp8 x ep2 (expert tp4)");
  EXPECT_EQ(r.devices, 8);
  std::map<std::string, int> count;
  for (const auto& n : r.steps[0].nodes) {
    if (n.comm_bytes <= 0) continue;
    count[n.op] += n.count;
    if (n.label == "logits_allgather") {
      EXPECT_EQ(n.comm_bytes, 16.0 * 32000 * 2);  // 16 sequences' bf16 logits over the whole vocabulary
    } else {
      EXPECT_EQ(n.comm_bytes, 16.0 * 4096 * 2) << n.label;  // 16 tokens x hidden 4096 x bf16 = 128 KiB
    }
  }
  EXPECT_EQ(count["allreduce"], 2 * 32 + 1);
  EXPECT_EQ(count["allgather"], 1);  // the LM head's logits
  EXPECT_EQ(count.size(), 2u);  // no all-to-all: the TP group already holds every token
  ModelRunResult ep1 = run_model(*chip, m, decode(16, 8), hgx(true));
  EXPECT_EQ(r.memory.weight_bytes, ep1.memory.weight_bytes);
  EXPECT_GT(r.tpot_s, r.memory.weight_bytes / chip->dram_bandwidth());
  Scenario skew = s;
  skew.routing = Routing::parse("zipf:1.2");
  EXPECT_EQ(run_model(*chip, m, skew, hgx(true)).tpot_s, run_model(*chip, m, skew, hgx(false)).tpot_s);
}

// Data-parallel attention with a hot expert (Mixtral --dp 8 --ep 8, prefill of 8 x 512 tokens): expert
// 0 takes half of the 4096 tokens (2048 rows, twice the uniform 1024), so the rank holding it computes
// twice the rows and receives twice the bytes; every rank's all-to-all waits for it, and the step is
// the slowest rank's. 8 redundant experts placed by EPLB split expert 0 and give the step back most of it.
TEST(ParallelRun, AHotExpertSetsTheStepAndRedundantExpertsRebalanceIt) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("mixtral-8x7b");
  Scenario s = test::layout_scenario(8, 1, 8, 1, 8);
  s.phase = Phase::Prefill;
  auto run = [&](const std::string& routing, int redundant, double* dispatch) {
    Scenario t = s;
    t.routing = Routing::parse(routing);
    t.redundant_experts = redundant;
    ModelRunResult r = run_model(*chip, m, t, on("h100-sxm", 8));
    for (const auto& n : r.steps[0].nodes)
      if (n.label.find("moe_dispatch") != std::string::npos) *dispatch = n.comm_bytes;
    return r.ttft_s;
  };
  double uniform_bytes = 0, hot_bytes = 0, replica_bytes = 0;
  const double uniform = run("even", 0, &uniform_bytes), hot = run("hot:0.5", 0, &hot_bytes);
  const double replicas = run("hot:0.5", 8, &replica_bytes);
  EXPECT_EQ(uniform_bytes, 1024.0 * 4096 * 2);  // rows x hidden x bf16 per rank
  EXPECT_EQ(hot_bytes, 2048.0 * 4096 * 2);
  EXPECT_LT(replica_bytes, 0.75 * hot_bytes);
  EXPECT_GT(hot, 1.3 * uniform);
  EXPECT_LT(replicas, hot);
}

// Two-batch overlap (Mixtral --dp 8 --ep 8, prefill of 16 x 512 tokens on 8 H100s): each rank's two
// sequences run as two micro-batches whose kernels interleave, so one's dispatch and combine run under
// the other's kernels. The work is the same (flops), every all-to-all runs twice at half the bytes,
// the step is shorter than with the micro-batches' collectives in line, and it never beats the rank's
// kernels alone back to back on its one compute stream.
TEST(ParallelRun, TwoBatchOverlapHidesAllToAllsUnderTheOtherMicroBatch) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model("mixtral-8x7b");
  Scenario s = test::layout_scenario(16, 1, 8, 1, 8);
  s.phase = Phase::Prefill;
  s.input_len = 512;
  // Expected loads: each micro-batch's own draw would make its busiest rank relatively busier.
  s.routing = Routing::parse("even");
  Scenario t = s;
  t.two_batch_overlap = true;
  const ModelRunResult plain = run_model(*chip, m, s, on("h100-sxm", 8)), tbo = run_model(*chip, m, t, on("h100-sxm", 8));
  EXPECT_NEAR(tbo.steps[0].flops / plain.steps[0].flops, 1.0, 1e-9);
  double kernels = 0, dispatch_bytes = 0, plain_dispatch_bytes = 0;
  int dispatches = 0, plain_dispatches = 0;
  for (const auto& n : tbo.steps[0].nodes) {
    if (n.label.find("moe_dispatch") != std::string::npos) dispatch_bytes = n.comm_bytes, dispatches = n.count;
    else if (!n.fused && n.bound != "communication") kernels += n.time_s * n.count;
  }
  for (const auto& n : plain.steps[0].nodes)
    if (n.label.find("moe_dispatch") != std::string::npos) plain_dispatch_bytes = n.comm_bytes, plain_dispatches = n.count;
  EXPECT_EQ(dispatches, 2 * plain_dispatches);
  EXPECT_EQ(2 * dispatch_bytes, plain_dispatch_bytes);
  EXPECT_LT(tbo.ttft_s, plain.ttft_s);
  EXPECT_GE(tbo.ttft_s, kernels * (1 - 1e-9));
  EXPECT_NE(tbo.layout.find("two-batch overlap"), std::string::npos);
}

// DeepEP's normal kernels across nodes: a prefill token crosses the network once per node holding any
// of its experts. DeepSeek-V3 over 4 nodes of 8 (EP32): its 8 groups sit two per node and a token
// picks 4 groups, so it reaches 4 (1 - C(6, 4) / C(8, 4)) = 22/7 nodes; 1000 tokens of 7168 bytes send
// ceil(1000 x 22/7) tokens. One node, a decode all-to-all (no tokens given) or skewed routing: none.
TEST(ParallelRun, DeepEpForwardsEachTokenOncePerNode) {
  SystemChoice c;
  c.system = "hgx-h100x8";
  c.nodes = 4;
  const SystemSpec sys = *resolve_system("", c);
  const ModelConfig ds = load_model("deepseek-v3");
  Scenario s = test::layout_scenario(32, 1, 32, 1, 32);
  OpSpec op;
  op.kind = OpKind::AllToAll;
  op.normal_dispatch = true;
  op.rows = 1000;
  op.cols = 7168;
  std::vector<int> ep32(32), node(8);
  for (int r = 0; r < 32; ++r) ep32[static_cast<size_t>(r)] = r;
  for (int r = 0; r < 8; ++r) node[static_cast<size_t>(r)] = r;
  EXPECT_EQ(deepep_forwarded_bytes(sys, ds, s, op, ep32), 3143u * 7168u);
  EXPECT_EQ(deepep_forwarded_bytes(sys, ds, s, op, node), 0u);
  OpSpec decode = op;  // low-latency kernels: one row per routed expert, no forwarding
  decode.normal_dispatch = false;
  EXPECT_EQ(deepep_forwarded_bytes(sys, ds, s, decode, ep32), 0u);
  s.routing = Routing::parse("hot:0.3");
  EXPECT_EQ(deepep_forwarded_bytes(sys, ds, s, op, ep32), 0u);
}
