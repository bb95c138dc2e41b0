// Serving on parallel layouts, through the path `run` takes: a decode composition's step time in the
// serving engine is run's decode step on the same system and layout (one path); expert-parallel and
// data-parallel-attention serving of a small MoE on a small system; the KV cache per device after the
// collective library's buffers; data-parallel replicas scale the throughput; pipeline stages.
#include <gtest/gtest.h>

#include "sim/base/config.h"
#include "sim/interconnect/topology.h"
#include "sim/run/model_run.h"
#include "sim/run/system_run.h"
#include "sim/serve/compare.h"
#include "sim/serve/serve.h"
#include "sim/serve/step_time.h"

using namespace xpu;

namespace {
std::string data(const std::string& rel) { return source_dir() + "/tests/data/" + rel; }
ModelConfig small_moe() { return load_model(data("models/qwen1.5-moe-a2.7b.json")); }
// A 4-chip switched system (100 GB/s links) with an NCCL-like library: 4 MiB buffers, 2 channels.
SystemContext tiny(int chips = 4) {
  SystemSpec s = load_system(data("systems/tiny_switch.yaml"), {"library.slots=4", "library.channels=2"});
  if (chips < s.ranks()) {
    std::vector<int> group;
    for (int r = 0; r < chips; ++r) group.push_back(r);
    s = group_system(Topology(s), group).spec;
  }
  return SystemContext{s};
}

Scenario layout(int tp, int ep, int pp, int dp) {
  Scenario s;
  s.wdtype = s.adtype = s.kvdtype = DType::fp8;
  s.tp = tp;
  s.ep = ep;
  s.pp = pp;
  s.dp = dp;
  return s;
}

// run's decode step (at the nominal clock) for `seqs` sequences per replica at `context` tokens.
double run_step(const ChipModel& chip, const ModelConfig& m, Scenario s, const SystemContext& sys, std::int64_t seqs,
                std::int64_t context) {
  s.phase = Phase::Decode;
  s.batch = seqs * s.dp;
  s.input_len = context - 1;
  s.output_len = 1;
  const std::vector<StepPlan> plan = plan_steps(s);
  EXPECT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].context_len, context);
  const FusionPolicy f = FusionPolicy::parse(chip.default_fusion());
  return run_system_step(chip, sys, m, s, plan[0], f, nullptr).time_s;
}

// The serving engine's step time for the same decode composition (no grid: the composition's values).
double serve_step(const ChipModel& chip, const ModelConfig& m, const Scenario& s, const SystemContext& sys, std::int64_t seqs,
                  std::int64_t context) {
  ChipStepTime st(chip, m, s, false, &sys);
  st.set_layer_repeats(0);  // every layer, as run simulates it (the repetitions' shortcut is bounded in layout_search_test)
  StepShape shape;
  shape.decode_seqs = seqs * (s.pp > 1 ? (s.microbatches ? s.microbatches : s.pp) : 1);
  shape.decode_kv_sum = shape.decode_seqs * context;
  shape.logit_rows = shape.decode_seqs;
  return st.direct(shape).time_s;
}

ServeOptions closed(std::int64_t users, std::int64_t requests, const SystemContext& sys) {
  ServeOptions o;
  o.input = 256;
  o.output = 16;
  o.concurrency = {users};
  o.concurrency_given = true;
  o.requests = requests;
  o.system = sys;
  return o;
}
}  // namespace

// One path: the serving engine's parts of a decode step add up to run's step on the same layout
// (experts over the TP group, and data-parallel attention with the all-to-alls over every rank).
TEST(ParallelServe, DecodeStepIsRunsStep) {
  auto chip = load_chip("h100-sxm");
  const ModelConfig m = small_moe();
  const SystemContext sys = tiny();
  for (const Scenario& s : {layout(4, 4, 1, 1), layout(1, 4, 1, 4)}) {
    const double run = run_step(*chip, m, s, sys, 8, 300), serve = serve_step(*chip, m, s, sys, 8, 300);
    std::cout << s.layout_str() << ": run " << run << " s, serve " << serve << " s\n";
    // The same kernels and collectives on the same fabric: the ranks meet at every collective, so the
    // step's parts add up (attention and LM head run on every rank alike), to within the fabric's
    // timing at the part boundary once the head part holds a collective of its own (the LM head's
    // logits all-gather, simulated alone there and after the last all-reduce in run's step): 0.03% here.
    EXPECT_NEAR(serve / run, 1.0, 1e-3) << s.layout_str();
  }
}

// With stages, each part runs as a pipeline of micro-batches in steady state: the parts' periods add
// up to about run's steady-state decode step.
TEST(ParallelServe, PipelineStepIsAboutRunsSteadyState) {
  auto chip = load_chip("h100-sxm");
  const ModelConfig m = small_moe();
  const SystemContext sys = tiny();
  const Scenario s = layout(2, 2, 2, 1);
  const double run = run_step(*chip, m, s, sys, 8, 300), serve = serve_step(*chip, m, s, sys, 4, 300);
  std::cout << s.layout_str() << ": run " << run << " s, serve " << serve << " s\n";
  // Each part pays the pipeline's fill and its hand-offs' latency in its own period.
  EXPECT_GT(serve, 0.99 * run);
  EXPECT_LT(serve, 1.05 * run);
}

// A micro-batch holds whole requests (vLLM, TensorRT-LLM, SGLang): a lone prompt crosses the stages in
// turn, so two stages of tp2 give it no less time than one tp2 group running every layer. Two prompts
// fill two micro-batches and do pipeline. Before, every composition was cut into the layout's
// micro-batches, a lone 256-token prompt into two halves flowing through the stages: 32% below tp8 for
// Llama-3.1-70B at concurrency 1 on two HGX H100 nodes (tp8 x pp2: TTFT 16.7 ms against 24.4).
TEST(ParallelServe, ALonePromptCrossesTheStagesInTurn) {
  auto chip = load_chip("h100-sxm");
  const ModelConfig m = small_moe();
  auto prefill = [&](const Scenario& s, const SystemContext& sys, std::int64_t prompts) {
    ChipStepTime st(*chip, m, s, false, &sys);
    st.set_layer_repeats(0);
    StepShape shape;
    shape.prefill_chunks = prompts;
    shape.prefill_tokens = prompts * 256;
    shape.prefill_kv_sum = shape.prefill_tokens;
    shape.logit_rows = prompts;
    return st.direct(shape).time_s;
  };
  const Scenario pp = layout(2, 1, 2, 1), tp = layout(2, 1, 1, 1);
  const double pp1 = prefill(pp, tiny(), 1), tp1 = prefill(tp, tiny(2), 1);
  std::cout << "one prompt: tp2 x pp2 " << pp1 << " s, tp2 " << tp1 << " s\n";
  EXPECT_GT(pp1, 0.98 * tp1);
  EXPECT_LT(prefill(pp, tiny(), 2), prefill(tp, tiny(2), 2));
}

TEST(ParallelServe, ExpertParallelMoeServesWithItsCollectives) {
  auto chip = load_chip("h100-sxm");
  const ModelConfig m = small_moe();
  const SystemContext sys = tiny();
  for (const Scenario& s : {layout(4, 4, 1, 1), layout(1, 4, 1, 4)}) {
    const ServeResult r = serve(*chip, m, s, closed(8, 16, sys));
    ASSERT_GE(r.best, 0) << s.layout_str();
    EXPECT_EQ(r.devices, 4);
    EXPECT_EQ(r.layout, s.layout_str());
    const ServePoint& p = r.curve[0];
    EXPECT_EQ(p.requests, 16);
    EXPECT_GT(p.throughput_tok_s, 0);
    EXPECT_DOUBLE_EQ(p.throughput_tok_s_per_chip, p.throughput_tok_s / 4);
    // The MoE's communication is in the decode step's kernels: all-to-alls with data-parallel
    // attention, all-reduces over the TP group otherwise.
    bool a2a = false, allreduce = false;
    for (const auto& k : r.kernels) {
      a2a = a2a || k.label.find("moe_dispatch") != std::string::npos;
      allreduce = allreduce || k.label.find("moe_allreduce") != std::string::npos;
      // A collective carries its algorithm and bytes per rank, as run's breakdown does.
      if (k.label.find("moe_dispatch") != std::string::npos || k.label.find("moe_allreduce") != std::string::npos) {
        EXPECT_TRUE(k.comm_bytes > 0 && !k.algorithm.empty()) << k.label;
      }
    }
    EXPECT_EQ(a2a, s.ep > s.tp) << s.layout_str();
    EXPECT_EQ(allreduce, s.ep == s.tp) << s.layout_str();
    EXPECT_EQ(r.replicas, s.dp);
    EXPECT_EQ(r.folding.empty(), s.dp == 1);
  }
}

// The KV cache per device is what the device's shard of weights, activations and the library's
// buffers leave: the buffers come off the cache byte for byte.
TEST(ParallelServe, KvCacheIsWhatTheBuffersLeave) {
  auto chip = load_chip("h100-sxm");
  const ModelConfig m = small_moe();
  const SystemContext sys = tiny();
  const CommBufferParams comm = comm_buffer_params(sys.spec);
  EXPECT_DOUBLE_EQ(comm.bytes_per_connection, 4.0 * 1024 * 1024);  // 1 MiB chunks x 4 slots
  auto vllm = make_scheduler("vllm", {});
  for (const Scenario& s : {layout(4, 4, 1, 1), layout(1, 4, 1, 4), layout(2, 1, 2, 1)}) {
    const ServeMemory with = serve_memory(*chip, m, s, *vllm, nullptr, comm), without = serve_memory(*chip, m, s, *vllm);
    const double buffers = comm_buffers(s, comm).total();
    EXPECT_GT(buffers, 0) << s.layout_str();
    EXPECT_DOUBLE_EQ(with.comm_buffer_bytes, buffers);
    EXPECT_NEAR(without.kv_bytes - with.kv_bytes, buffers, 1.0) << s.layout_str();  // vLLM: a share of the whole device
    const Sharding sh = shard_weights(m, s);
    EXPECT_DOUBLE_EQ(with.weight_bytes, sh.rank_weight_bytes[static_cast<size_t>(with.stage * s.tp)]);
    EXPECT_EQ(static_cast<int>(with.stage_kv_tokens.size()), s.pp);
  }
  // Experts over 4 ranks: a quarter of the routed experts on each device either way, but data-parallel
  // attention holds the attention and shared experts whole on every rank: more weight per device.
  const ServeMemory tp = serve_memory(*chip, m, layout(4, 4, 1, 1), *vllm, nullptr, comm);
  const ServeMemory dpa = serve_memory(*chip, m, layout(1, 4, 1, 4), *vllm, nullptr, comm);
  EXPECT_GT(dpa.weight_bytes, tp.weight_bytes);
}

// Independent replicas: dp2 of a tp2 replica serves twice the users at the same latency, twice the
// throughput, the same per chip.
TEST(ParallelServe, DataParallelReplicasScaleThroughput) {
  auto chip = load_chip("h100-sxm");
  const ModelConfig m = load_model(data("models/small-llama-100m.json"));
  Scenario one = layout(2, 1, 1, 1), two = layout(2, 1, 1, 2);
  const ServeResult a = serve(*chip, m, one, closed(4, 16, tiny(2)));
  const ServeResult b = serve(*chip, m, two, closed(8, 32, tiny(4)));
  ASSERT_EQ(a.curve.size(), 1u);
  ASSERT_EQ(b.curve.size(), 1u);
  EXPECT_NEAR(b.curve[0].throughput_tok_s / a.curve[0].throughput_tok_s, 2.0, 1e-9);
  EXPECT_NEAR(b.curve[0].throughput_tok_s_per_chip, a.curve[0].throughput_tok_s_per_chip, 1e-9 * a.curve[0].throughput_tok_s_per_chip);
  EXPECT_DOUBLE_EQ(b.curve[0].tpot_s, a.curve[0].tpot_s);
  EXPECT_EQ(b.curve[0].requests, 32);
  EXPECT_EQ(b.replicas, 2);
  // An uneven split: 3 users over 2 replicas run as one replica of 2 and one of 1.
  const ServeResult c = serve(*chip, m, two, closed(3, 12, tiny(4)));
  EXPECT_GT(c.curve[0].throughput_tok_s, a.curve[0].throughput_tok_s / 4 * 3 * 0.9);
  EXPECT_EQ(c.curve[0].batch, 3);
  // One user on two replicas: the idle replica's chips still draw their static power, so the layout's
  // average per device lies between static power and the busy replica's, and above half of the latter.
  const ServeResult lone = serve(*chip, m, two, closed(1, 4, tiny(4)));
  const ServeResult busy = serve(*chip, m, one, closed(1, 4, tiny(2)));
  const double idle_w = chip->power()->static_power.value(), busy_w = busy.curve[0].avg_power_w;
  EXPECT_NEAR(lone.curve[0].avg_power_w, (busy_w + idle_w) / 2, 1e-6 * busy_w);
  EXPECT_GT(lone.curve[0].joules_per_token, busy.curve[0].joules_per_token);
}

TEST(ParallelServe, PipelineStagesServe) {
  auto chip = load_chip("h100-sxm");
  const ModelConfig m = small_moe();
  const ServeResult r = serve(*chip, m, layout(2, 2, 2, 1), closed(8, 16, tiny()));
  ASSERT_GE(r.best, 0);
  EXPECT_EQ(r.memory.stage_kv_tokens.size(), 2u);
  EXPECT_EQ(r.memory.kv_tokens, std::min(r.memory.stage_kv_tokens[0], r.memory.stage_kv_tokens[1]));
  EXPECT_GT(r.curve[0].throughput_tok_s, 0);
}

// compare's physical bound on one user's speed: a token's routed experts stream from up to
// min(ep, experts per token) chips side by side, the rest from its TP group.
TEST(ParallelServe, OneUsersBoundSpreadsTheExperts) {
  auto chip = load_chip("h100-sxm");
  const ModelConfig m = small_moe();
  const ServeOptions so;
  const double one = max_tok_s_per_user_bound(*chip, m, layout(1, 1, 1, 1), so);
  const double tp4 = max_tok_s_per_user_bound(*chip, m, layout(4, 1, 1, 1), so);
  EXPECT_DOUBLE_EQ(max_tok_s_per_user_bound(*chip, m, layout(4, 4, 1, 1), so), tp4);  // the same bytes per chip
  const double dpa = max_tok_s_per_user_bound(*chip, m, layout(1, 4, 1, 4), so);
  EXPECT_GT(dpa, one);
  EXPECT_LT(dpa, tp4);
}
