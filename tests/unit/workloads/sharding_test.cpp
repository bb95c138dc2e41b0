// Sharding is a pure function of model and layout: every weight lands on its ranks (or the stated
// copies), per-rank FLOPs add up to the unsharded model's, and collectives move the closed-form bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "workloads/footprint.h"
#include "workloads/graph.h"
#include "workloads/sharding.h"
#include "tests/unit/workloads/layout_util.h"
#include "sim/base/error.h"

using namespace xpu;

namespace {
Scenario layout(int tp, int ep, int pp, int dp, std::int64_t batch = 16) {
  return test::layout_scenario(batch, tp, ep, pp, dp, 256);
}
// Split matrix work: GEMMs and attention, except those every TP rank repeats whole (the MoE router
// and MLA's down-projections are replicated, as vLLM replicates them).
double matmul_flops(const Graph& g) {
  double f = 0;
  auto replicated = [](const std::string& l) {
    for (const char* r : {"router", "qkv_a_proj", "kv_a_proj"})
      if (l.size() >= std::strlen(r) && l.compare(l.size() - std::strlen(r), std::string::npos, r) == 0) return true;
    return false;
  };
  for (const auto& n : g.nodes)
    if ((n.op.kind == OpKind::Gemm || n.op.kind == OpKind::GroupedGemm || n.op.kind == OpKind::Attention) && !replicated(n.op.label))
      f += n.op.flops() * n.count;
  return f;
}
struct Case {
  const char* model;
  int tp, ep, pp, dp;
};
const Case kCases[] = {{"llama-3.1-8b", 8, 1, 1, 1}, {"llama-3.1-8b", 4, 1, 2, 1}, {"llama-3.1-8b", 2, 1, 1, 4},
                       {"llama-3.1-8b", 2, 1, 2, 2}, {"mixtral-8x7b", 8, 8, 1, 1}, {"mixtral-8x7b", 1, 8, 1, 8},
                       {"deepseek-v3", 1, 8, 1, 8},  {"mixtral-8x7b", 2, 1, 2, 1}, {"mixtral-8x7b", 8, 2, 1, 1},
                       {"mixtral-8x7b", 4, 2, 1, 2}};
}  // namespace

TEST(Sharding, EveryWeightLandsOnItsRanksWithTheStatedCopies) {
  for (const Case& c : kCases) {
    ModelConfig m = load_model(c.model);
    Scenario s = layout(c.tp, c.ep, c.pp, c.dp);
    s.validate(m);
    Sharding sh = shard_weights(m, s);
    ASSERT_EQ(static_cast<int>(sh.roles.size()), s.devices());
    double unique = 0, held = 0;
    for (const auto& t : sh.tensors) {
      double sum = 0;
      for (const auto& p : t.shards) sum += p.bytes;
      EXPECT_NEAR(sum, t.bytes * t.copies, 1e-6 * t.bytes) << c.model << " " << t.name;
      EXPECT_GE(t.copies, 1);
      unique += t.bytes;
    }
    for (double b : sh.rank_weight_bytes) held += b;
    double copies_bytes = 0;
    for (const auto& t : sh.tensors) copies_bytes += t.bytes * t.copies;
    EXPECT_NEAR(held, copies_bytes, 1e-9 * held);
    // The unique bytes are the model's: layer weights in wdtype, the tables in the embedding dtype.
    const ParamCounts p = param_counts(m);
    const double expect = p.layers * bytes_per_element(s.wdtype) + (p.embedding + p.lm_head) * bytes_per_element(s.embedding_dtype());
    EXPECT_NEAR(unique, expect, 1e-9 * expect) << c.model;
  }
}

TEST(Sharding, TensorParallelFootprintIsTheClosedForm) {
  ModelConfig m = load_model("llama-3.1-70b");
  for (int tp : {1, 2, 4, 8}) {
    Scenario s = layout(tp, 1, 1, 1);
    const ParamCounts p = param_counts(m);
    const double wb = 2, table = p.embedding + p.lm_head;
    const double closed = (p.layers - p.replicated) * wb / tp + p.replicated * wb + table * wb / tp;
    EXPECT_NEAR(footprint(m, s).weight_bytes, closed, 1e-9 * closed) << "tp" << tp;
  }
}

TEST(Sharding, PipelineStagesPartitionTheLayers) {
  for (int pp : {1, 2, 3, 5, 80}) {
    std::int64_t next = 0;
    for (int st = 0; st < pp; ++st) {
      auto [b, e] = stage_layers(80, pp, st);
      EXPECT_EQ(b, next);
      EXPECT_GE(e - b, 80 / pp);
      next = e;
    }
    EXPECT_EQ(next, 80);
  }
}

TEST(Sharding, RankFlopsAddUpToTheUnshardedModel) {
  for (const Case& c : kCases) {
    ModelConfig m = load_model(c.model);
    Scenario s = layout(c.tp, c.ep, c.pp, c.dp);
    Scenario one = layout(1, 1, 1, 1);
    const double whole = matmul_flops(build_step_graph(m, one, true, 257, FusionPolicy::vllm()));
    double sum = 0;
    for (const RankRole& r : rank_roles(m, s)) sum += matmul_flops(build_step_graph(m, s, true, 257, FusionPolicy::vllm(), r.part));
    // Each replica's ranks split the batch; with pipeline micro-batches each graph is one micro-batch.
    const int mb = s.pp > 1 ? s.pp : 1;
    EXPECT_NEAR(sum * mb, whole, 1e-9 * whole) << c.model << " tp" << c.tp << " ep" << c.ep << " pp" << c.pp << " dp" << c.dp;
  }
}

TEST(Sharding, CollectiveBytesPerLayerMatchTheClosedForms) {
  ModelConfig m = load_model("llama-3.1-70b");
  Scenario s = layout(8, 1, 1, 1, 64);
  Graph g = build_step_graph(m, s, true, 257, FusionPolicy::vllm());
  int allreduces = 0;
  for (const auto& n : g.nodes)
    if (n.op.kind == OpKind::AllReduce) {
      EXPECT_EQ(n.op.m, 64 * m.hidden * 2) << n.op.label;  // tokens x hidden x bf16
      EXPECT_EQ(n.op.devices, 8);
      allreduces += n.count;
    }
  EXPECT_EQ(allreduces, 2 * m.layers + 1);  // attention and MLP of every layer, the vocab-parallel embedding

  ModelConfig ds = load_model("deepseek-v3");
  Scenario e = layout(1, 8, 1, 8, 64);
  e.routing = Routing::parse("even");  // every rank its share: the closed form (no step's draw)
  Graph ge = build_step_graph(ds, e, true, 257, FusionPolicy::vllm(), rank_roles(ds, e)[3].part);
  std::map<std::string, std::int64_t> a2a;
  for (const auto& n : ge.nodes)
    if (n.op.kind == OpKind::AllToAll) a2a[n.op.label.substr(n.op.label.rfind('.') + 1)] = n.op.m;
  const std::int64_t tokens = 64 / 8, routed = tokens * ds.experts_per_token * ds.hidden;
  EXPECT_EQ(a2a.at("moe_dispatch"), routed * 2);  // bf16 activations
  EXPECT_EQ(a2a.at("moe_combine"), routed * 2);
}

// A DeepSeek-V3 fp8 prefill with data-parallel attention and DeepEP's normal kernels runs as SGLang
// runs it: MLA's expanded attention in bf16 on kv_b_proj's outputs (an fp8 KV cache holds only the
// latent) after a K concat copy, and the routed experts between an ep_scatter permute and an ep_gather,
// with the down GEMM's input quantized by a kernel of its own. Decode (absorbed MLA against the fp8
// cache, DeepEP's low-latency kernels and masked GEMMs) has none of these.
TEST(Sharding, DeepEpNormalPrefillPermutesAndMlaPrefillAttendsInBf16) {
  ModelConfig ds = load_model("deepseek-v3");
  Scenario e = layout(1, 8, 1, 8, 16);
  e.adtype = e.wdtype = e.kvdtype = DType::fp8;
  const RankPart part = rank_roles(ds, e)[0].part;
  Graph pre = build_step_graph(ds, e, false, 0, FusionPolicy::vllm(), part);
  const GraphNode* attn = pre.find("layer[moe].attn");
  ASSERT_NE(attn, nullptr);
  EXPECT_EQ(attn->op.dtype, DType::bf16);
  EXPECT_EQ(attn->op.wdtype, DType::bf16);
  ASSERT_NE(pre.find("layer[moe].k_concat"), nullptr);
  EXPECT_EQ(pre.find("layer[moe].k_concat")->op.rows, 16 / 8 * 256 * 128);  // the rank's tokens x heads
  std::int64_t routed = 0;
  for (auto r : pre.find("layer[moe].experts.gate_up")->op.group_rows) routed += r;
  for (const char* k : {"layer[moe].experts.permute", "layer[moe].experts.down.cast_fp8", "layer[moe].experts.unpermute"}) {
    ASSERT_NE(pre.find(k), nullptr) << k;
    EXPECT_EQ(pre.find(k)->op.rows, routed) << k;
  }
  EXPECT_EQ(pre.find("layer[moe].experts.permute")->op.dtype, DType::fp8);
  Graph dec = build_step_graph(ds, e, true, 257, FusionPolicy::vllm(), part);
  EXPECT_EQ(dec.find("layer[moe].attn")->op.dtype, DType::fp8);
  for (const char* k : {"layer[moe].k_concat", "layer[moe].experts.permute", "layer[moe].experts.down.cast_fp8",
                        "layer[moe].experts.unpermute"})
    EXPECT_EQ(dec.find(k), nullptr) << k;
  // The all-to-alls' paths sum the top-k outputs in the unpermute (ep_gather) or DeepEP's combine: no
  // finalize of the TP path besides them.
  EXPECT_EQ(pre.find("layer[moe].experts.finalize"), nullptr);
  EXPECT_EQ(dec.find("layer[moe].experts.finalize"), nullptr);
}

// Data-parallel attention over TP groups (DeepSeek-V3 --tp 2 --dp 4 --ep 8): each rank of a group
// dispatches its half of the group's tokens (the experts compute each routed token once, so the
// all-to-alls carry each once). Before 2026-12-02 each rank dispatched all of its group's tokens (tp
// times the rows the experts compute: 8x on tpu-v7-64 at dp8 x tp8 x ep64, where the all-to-alls took
// 87% of a prefill). Since 2026-12-03 a MoE layer runs as SGLang runs it with DeepEP: the attention's
// partial sums are reduce-scattered (each rank keeps its half: norm, router, whole shared expert and
// dispatch on 8 of the 16 tokens), and the layer's output is all-gathered for the next attention, both
// on the group's 16 tokens x 7168 x bf16; the 3 dense layers keep their width-split MLP and two
// all-reduces. Before, each MoE layer ran two all-reduces of the same buffer.
TEST(Sharding, DataParallelAttentionOverTpGroupsSendsEachTokenOnce) {
  ModelConfig ds = load_model("deepseek-v3");
  Scenario e = layout(2, 8, 1, 4, 64);
  e.routing = Routing::parse("even");  // every rank its share: dispatched rows equal computed ones
  const std::int64_t group_tokens = 64 / 4, buffer = group_tokens * ds.hidden * 2;
  std::int64_t dispatched = 0, computed = 0;
  for (const RankRole& r : rank_roles(ds, e)) {
    Graph g = build_step_graph(ds, e, true, 257, FusionPolicy::vllm(), r.part);
    std::map<std::string, int> collectives;  // "layer[moe] reducescatter" -> layers
    for (const auto& n : g.nodes) {
      const std::string name = n.op.label.substr(n.op.label.rfind('.') + 1);
      if (n.op.kind == OpKind::AllToAll && name == "moe_dispatch") {
        EXPECT_EQ(n.op.m, group_tokens / 2 * ds.experts_per_token * ds.hidden * 2);  // bf16 activations
        dispatched += n.op.m / (ds.hidden * 2);
      }
      if (n.op.kind == OpKind::AllReduce || n.op.kind == OpKind::ReduceScatter || n.op.kind == OpKind::AllGather) {
        if (n.op.label.rfind("layer", 0) == 0) { EXPECT_EQ(n.op.m, buffer) << n.op.label; }
        collectives[n.op.label.substr(0, n.op.label.find('.')) + " " + name.substr(name.rfind('_') + 1)] += n.count;
      }
      if (n.op.kind == OpKind::GroupedGemm && name == "gate_up")
        for (auto rows : n.op.group_rows) computed += rows;
      if (n.op.label == "layer[moe].router" || n.op.label == "layer[moe].shared.gate_up") { EXPECT_EQ(n.op.m, group_tokens / 2); }
      if (n.op.label == "layer[moe].shared.gate_up") { EXPECT_EQ(n.op.n, 2 * ds.shared_intermediate); }  // whole
    }
    EXPECT_EQ(collectives["layer[dense] allreduce"], 2 * 3);  // attention and MLP of the 3 dense layers
    EXPECT_EQ(collectives["layer[moe] reducescatter"], 58);   // after the attention of the 58 MoE layers
    EXPECT_EQ(collectives["layer[moe] allgather"], 58);       // the layers' outputs
    EXPECT_EQ(collectives["layer[moe] allreduce"], 0);
  }
  EXPECT_EQ(dispatched, computed);  // per MoE layer (one dispatch and one gate_up node per rank)
  // The shared expert is whole on every rank: its bytes once per rank, not split over the TP group.
  const Sharding sh = shard_weights(ds, e);
  for (const auto& t : sh.tensors)
    if (t.name == "layer3.shared_experts") { EXPECT_EQ(t.copies, 8); }
}

// TP inside experts (--tp 8 --ep 2, TensorRT-LLM's moe_tp_size 4 x moe_ep_size 2): Mixtral's 8 experts
// form 2 groups of 4, each group held by 4 consecutive ranks that split every expert's width 4 ways.
// Tokens are already on every rank of the TP group, so there is no all-to-all: the MoE block ends in
// the same one all-reduce as a dense MLP, which sums the width partials and both groups' outputs.
TEST(Sharding, TensorParallelInsideExpertsClosedForms) {
  ModelConfig m = load_model("mixtral-8x7b");
  ASSERT_EQ(m.num_experts, 8);
  Scenario s = layout(8, 2, 1, 1, 64);
  s.routing = Routing::parse("even");  // the closed forms (no step's draw)
  s.validate(m);
  EXPECT_EQ(s.expert_tp(), 4);
  EXPECT_EQ(s.layout_str(), "tp8 x ep2 (expert tp4)");
  const std::vector<RankRole> roles = rank_roles(m, s);
  for (const RankRole& r : roles) EXPECT_EQ(r.ep, r.tp / 4) << r.rank;
  for (const RankRole& r : roles) {
    Graph g = build_step_graph(m, s, true, 257, FusionPolicy::vllm(), r.part);
    int allreduces = 0;
    for (const auto& n : g.nodes) {
      EXPECT_NE(n.op.kind, OpKind::AllToAll) << n.op.label;
      if (n.op.kind == OpKind::AllReduce) {
        EXPECT_EQ(n.op.m, 64 * 4096 * 2) << n.op.label;  // 64 tokens x hidden 4096 x bf16 = 512 KiB
        EXPECT_EQ(n.op.devices, 8);
        allreduces += n.count;
      }
      if (n.op.label.find("experts.gate_up") != std::string::npos) {
        EXPECT_EQ(n.op.n, 2 * 14336 / 4);  // gate and up of a quarter of each expert's 14336 columns
        // Uniform routing: 64 tokens x top-2 over 8 experts = 16 rows each, 4 experts on this rank.
        EXPECT_EQ(n.op.group_rows, std::vector<std::int64_t>(4, 16));
      }
      if (n.op.label.find("experts.down") != std::string::npos) { EXPECT_EQ(n.op.k, 14336 / 4); }
    }
    EXPECT_EQ(allreduces, 2 * 32 + 1) << r.rank;  // attention and MoE of each of 32 layers, the embedding
  }
  // Weights per device by hand (bf16): per layer q/k/v/o 4096 x (32 + 2x8 + 32) x 128 = 41,943,040
  // and the experts 8 x 3 x 4096 x 14336 = 1,409,286,144, both an eighth per rank; the two RMS norms
  // (2 x 4096) and the router (4096 x 8) on every rank; the final norm; embedding and LM head
  // 2 x 32000 x 4096 vocabulary-parallel.
  const double per_layer = (41943040.0 + 1409286144.0) / 8 + 2 * 4096 + 4096 * 8;
  const double hand = 2 * (32 * per_layer + 4096 + 2.0 * 32000 * 4096 / 8);
  EXPECT_NEAR(footprint(m, s).weight_bytes, hand, 1e-12 * hand);
  const Sharding sh = shard_weights(m, s);
  for (double b : sh.rank_weight_bytes) EXPECT_NEAR(b, hand, 1e-12 * hand);
  // The same bytes as experts split 8 ways by width (ep 1): only how the expert work is cut differs.
  EXPECT_NEAR(footprint(m, layout(8, 1, 1, 1, 64)).weight_bytes, hand, 1e-12 * hand);
  // --tp 8 --ep 4: 4 groups of 2 experts, each split 2 ways.
  Scenario s4 = layout(8, 4, 1, 1, 64);
  s4.routing = s.routing;
  EXPECT_EQ(s4.layout_str(), "tp8 x ep4 (expert tp2)");
  Graph g4 = build_step_graph(m, s4, true, 257, FusionPolicy::vllm(), rank_roles(m, s4)[5].part);
  for (const auto& n : g4.nodes)
    if (n.op.label.find("experts.gate_up") != std::string::npos) {
      EXPECT_EQ(n.op.n, 14336);
      EXPECT_EQ(n.op.group_rows, std::vector<std::int64_t>(2, 16));
    }
}

// Sequence parallelism: every TP all-reduce becomes a reduce-scatter of the same buffer, each TP region
// starts with an all-gather of it, and the norms and residual adds between them see tokens/tp rows.
TEST(Sharding, SequenceParallelSplitsEachAllReduceAndTheNormRows) {
  ModelConfig m = load_model("llama-3.1-70b");
  Scenario s = layout(8, 1, 1, 1, 64);
  s.sp = true;
  s.phase = Phase::Prefill;
  s.input_len = 32;
  Graph g = build_step_graph(m, s, false, 32, FusionPolicy::vllm());
  const std::int64_t tokens = 64 * 32, buffer = tokens * m.hidden * 2;
  std::map<OpKind, int> count;
  for (const auto& n : g.nodes) {
    EXPECT_NE(n.op.kind, OpKind::AllReduce) << n.op.label;
    if (n.op.kind == OpKind::ReduceScatter || (n.op.kind == OpKind::AllGather && n.op.label != "head_allgather" &&
                                                  n.op.label != "logits_allgather")) {
      EXPECT_EQ(n.op.m, buffer) << n.op.label;
      EXPECT_EQ(n.op.devices, 8);
    }
    if (n.op.kind == OpKind::RmsNorm || n.op.kind == OpKind::ResidualAdd) {
      EXPECT_EQ(n.op.rows, tokens / 8) << n.op.label;
    }
    if (n.op.label == "head_allgather") {
      EXPECT_EQ(n.op.m, 64 * m.hidden * 2);  // each sequence's last position
    }
    if (n.op.label == "logits_allgather") {
      EXPECT_EQ(n.op.m, 64 * ((m.vocab + 7) / 8) * 8 * 2);  // bf16 logit rows
    }
    count[n.op.kind] += n.count;
  }
  EXPECT_EQ(count[OpKind::ReduceScatter], 2 * m.layers + 1);  // attention, MLP, the embedding
  EXPECT_EQ(count[OpKind::AllGather], 2 * m.layers + 2);      // into attention, into the MLP, the LM head, its logits
  EXPECT_EQ(s.layout_str(), "tp8+sp");
}

TEST(Sharding, BadLayoutsNameTheFlag) {
  ModelConfig llama = load_model("llama-3.1-8b"), mix = load_model("mixtral-8x7b");
  auto err = [](const ModelConfig& m, Scenario s) {
    try {
      s.validate(m);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err(llama, layout(3, 1, 1, 1)).find("--tp 3"), std::string::npos);
  EXPECT_NE(err(llama, layout(1, 2, 1, 1)).find("--ep 2"), std::string::npos);
  EXPECT_NE(err(mix, layout(1, 16, 1, 16)).find("larger than"), std::string::npos);
  EXPECT_NE(err(llama, layout(1, 1, 64, 1)).find("--pp 64"), std::string::npos);
  EXPECT_NE(err(llama, layout(1, 1, 1, 3)).find("--dp 3"), std::string::npos);
  EXPECT_NE(err(mix, layout(2, 4, 1, 1)).find("--ep 4"), std::string::npos);
  EXPECT_NE(err(mix, layout(8, 3, 1, 1)).find("--ep 3 must divide --tp (8"), std::string::npos);
  EXPECT_EQ(err(mix, layout(8, 2, 1, 1)), "");
  EXPECT_EQ(err(mix, layout(4, 2, 1, 2)), "");  // experts inside each replica's TP group
  // The sequence cap is per data-parallel replica (what one step simulates).
  EXPECT_NE(err(llama, layout(1, 1, 1, 1, 131072)).find("131072 sequences per replica"), std::string::npos);
  EXPECT_EQ(err(llama, layout(1, 1, 1, 16, 131072)), "");
  Scenario sp1 = layout(1, 1, 1, 1);
  sp1.sp = true;
  EXPECT_NE(err(llama, sp1).find("--sp needs --tp"), std::string::npos);
  Scenario sp_dpattn = layout(2, 4, 1, 2);
  sp_dpattn.sp = true;
  EXPECT_NE(err(mix, sp_dpattn).find("--sp with --ep 4"), std::string::npos);
}
