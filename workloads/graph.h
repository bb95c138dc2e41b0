// The op graph of one forward step of a model (prefill or one decode step): every kernel of every
// layer with its shape and dtypes, identical layers folded into one node with a repeat count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/expert_placement.h"
#include "workloads/model.h"
#include "workloads/op.h"
#include "workloads/scenario.h"

namespace xpu {

struct GraphNode {
  OpSpec op;                // op.label: "<layer group>.<op>", e.g. "layer.qkv_proj", "layer[moe].experts.down"
  int count = 1;            // identical layers folded: how many times this node runs per forward step
  std::string group;        // "embed", "attention", "mlp", "moe", "head"
  bool fused = false;       // runs inside another kernel (FusionPolicy): shown in reports, not simulated
  std::string fused_into;   // label of the kernel it was fused into
};

// Nodes are in execution order within one layer of each group; groups are in order of their first
// layer, so the list reads as one representative pass (the dependencies are the order itself).
struct Graph {
  std::vector<GraphNode> nodes;
  // FLOPs of the step: every node times its count, fused nodes included (their arithmetic still
  // happens, inside the kernel that absorbed them).
  double flops() const;
  // Compulsory memory traffic of the kernels that run: unfused nodes' min_bytes times count (fusion
  // removes the fused op's round trip to memory).
  double bytes() const;
  // Kernel launches per step (unfused nodes times count).
  std::int64_t kernels() const;
  const GraphNode* find(const std::string& label) const;  // nullptr if absent
};

// The ops of one forward step.
//   decode_step false: prefill of s.input_len prompt tokens per sequence from an empty cache
//                      (seq_q = seq_kv = input_len, causal); context_len is ignored.
//   decode_step true:  one new token per sequence against context_len cached tokens (including the
//                      new one), seq_q = 1, seq_kv = context_len.
// Tensor parallelism (s.tp) splits heads, KV heads (replicated when tp > kv_heads), MLP and expert
// widths and the vocabulary, and adds AllReduce nodes (bf16, tokens*hidden*2 bytes) after the
// embedding, o_proj and the MLP/MoE down projection. Validates the scenario first (InputError).
// Which part of the model one rank's step runs (workloads/sharding.h assigns them): its pipeline
// stage's layers [layer_begin, layer_end) and its expert-parallel index. The default is the whole
// model. The step processes s.batch / s.dp sequences, split into pipeline micro-batches when pp > 1.
// Expert parallelism (s.ep > 1) gives the rank E/ep whole experts; with data-parallel attention
// (ep > tp) it adds the dispatch and combine all-to-alls around them.
struct RankPart {
  std::int64_t layer_begin = 0, layer_end = -1;  // -1: to the last layer
  int ep_rank = 0;
};
Graph build_step_graph(const ModelConfig& m, const Scenario& s, bool decode_step, std::int64_t context_len,
                       const FusionPolicy& fusion, const RankPart& part = {});

// Rows each expert receives when `tokens` tokens each pick `topk` of `experts` experts under
// `routing` (see Routing). Sums to tokens*topk exactly; no expert exceeds `tokens`; deterministic.
// Under sampled uniform routing the rows go to expected_active_experts of them, evenly spaced (see Routing).
std::vector<std::int64_t> expert_rows(std::int64_t tokens, std::int64_t experts, std::int64_t topk, const Routing& routing);
// The distinct experts `tokens` tokens reach on average when each picks `topk` distinct ones of `experts` uniformly
// at random: E (1 - (1 - k/E)^T), rounded, at least k and at most min(E, T k); 0 without tokens.
std::int64_t expected_active_experts(std::int64_t tokens, std::int64_t experts, std::int64_t topk);
// Whether `routing` spreads the rows uniformly over `experts`: uniform or even, zipf:0, a lone expert.
bool uniform_routing(const Routing& routing, std::int64_t experts);

// The EP ranks' experts and one step's routed rows for `tokens` tokens (those of every attention group
// sharing the experts): expert_rows under s.routing, placed by place_experts (EPLB with
// s.redundant_experts), then the step's draw (sample_step) unless the routing is `even`.
ExpertPlacement routed_placement(const ModelConfig& m, const Scenario& s, std::int64_t tokens);
// The same for a router given by its shape (a lone expert exchange, `kernel alltoall --tokens`): `ep`
// ranks holding the experts and `redundant` replicas.
ExpertPlacement routed_placement(const RouterShape& r, const Routing& routing, int ep, std::int64_t redundant, std::int64_t tokens);
// The tokens the busiest EP rank receives in a normal-kernel (DeepEP, prefill) dispatch of `tokens` over
// all attention groups, a token once per rank holding any of its experts: uniform routing without
// replicas, the closed form (normal_receive_tokens) plus the step's draw (the placement's sampled_z);
// otherwise the placement's per-expert loads (ExpertPlacement::max_rank_tokens).
std::int64_t normal_dispatch_receive(const ExpertPlacement& place, const RouterShape& r, const Routing& routing, std::int64_t redundant,
                                     std::int64_t tokens);
// The router as the layout sees it: the model's experts and top-k, and its group limit (n_group /
// topk_group) unless EPLB's replicas (s.redundant_experts) break the groups' alignment with the ranks.
RouterShape router_of(const ModelConfig& m, const Scenario& s);

}  // namespace xpu
