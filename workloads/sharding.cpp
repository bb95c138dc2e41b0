#include "workloads/sharding.h"

#include <algorithm>

namespace xpu {

std::pair<std::int64_t, std::int64_t> stage_layers(std::int64_t layers, int pp, int stage) {
  const std::int64_t base = layers / pp, extra = layers % pp;
  const std::int64_t begin = stage * base + std::min<std::int64_t>(stage, extra);
  return {begin, begin + base + (stage < extra ? 1 : 0)};
}

std::vector<RankRole> rank_roles(const ModelConfig& m, const Scenario& s) {
  std::vector<RankRole> out;
  for (int d = 0; d < s.dp; ++d)
    for (int st = 0; st < s.pp; ++st)
      for (int t = 0; t < s.tp; ++t) {
        RankRole r;
        r.rank = static_cast<int>(out.size());
        r.dp = d;
        r.stage = st;
        r.tp = t;
        r.ep = !s.dp_attention() ? t / s.expert_tp() : d * s.tp + t;
        auto [b, e] = stage_layers(m.layers, s.pp, st);
        r.part.layer_begin = b;
        r.part.layer_end = e;
        r.part.ep_rank = r.ep;
        out.push_back(r);
      }
  return out;
}

std::vector<int> tp_group(const Scenario& s, int rank) {
  std::vector<int> g;
  const int first = rank / s.tp * s.tp;
  for (int t = 0; t < s.tp; ++t) g.push_back(first + t);
  return g;
}

std::vector<int> ep_group(const Scenario& s, int rank) {
  if (!s.dp_attention()) return tp_group(s, rank);
  const int stage = rank / s.tp % s.pp;
  std::vector<int> g;
  for (int d = 0; d < s.dp; ++d)
    for (int k = 0; k < s.tp; ++k) g.push_back((d * s.pp + stage) * s.tp + k);
  return g;
}

int next_stage_rank(const Scenario& s, int rank) {
  const int stage = rank / s.tp % s.pp;
  return stage + 1 < s.pp ? rank + s.tp : -1;
}

namespace {

struct Placer {
  const Scenario& s;
  Sharding& out;
  // A tensor split `parts` ways over `holders` (every holder gets bytes/parts; parts < holders means
  // copies), one entry per tensor.
  void place(const std::string& name, double bytes, const std::vector<int>& holders, int parts, bool embedding = false) {
    if (bytes <= 0 || holders.empty()) return;
    WeightTensor t;
    t.name = name;
    t.bytes = bytes;
    t.copies = static_cast<int>(holders.size()) / parts;
    for (int r : holders) {
      t.shards.push_back({r, bytes / parts});
      out.rank_weight_bytes[static_cast<size_t>(r)] += bytes / parts;
      if (embedding) out.rank_embedding_bytes[static_cast<size_t>(r)] += bytes / parts;
    }
    out.tensors.push_back(std::move(t));
  }
  std::vector<int> stage_ranks(int stage) const {
    std::vector<int> g;
    for (const auto& r : out.roles)
      if (r.stage == stage) g.push_back(r.rank);
    return g;
  }
};

}  // namespace

Sharding shard_weights(const ModelConfig& m, const Scenario& s) {
  Sharding out;
  out.roles = rank_roles(m, s);
  out.rank_weight_bytes.assign(out.roles.size(), 0.0);
  out.rank_embedding_bytes.assign(out.roles.size(), 0.0);
  Placer p{s, out};
  // Bytes per weight of a quantized linear (attention, MLP, experts): fp4 weights carry their block scales. The
  // NVFP4 checkpoints the B200 rows load (ModelOpt's recipe, hf_quant_config.json "quant_algo": "NVFP4",
  // "group_size": 16) store beside each linear's packed e2m1 `weight` a `weight_scale` of one e4m3 byte per 16
  // input elements (plus per-tensor `weight_scale_2` and `input_scale` scalars), and TensorRT-LLM's NVFP4 Linear
  // keeps both on the GPU for its GEMM (tcgen05 .kind::mxf4nvf4 reads the scales beside the operands, as the GEMM
  // lowering counts them: OpSpec::fp4_scale_block). So an NVFP4 weight holds 0.5 + 1/16 bytes, 12.5% over the fp4
  // bytes, memory the KV cache no longer has. What every TP rank holds whole (norms, MLA's down-projections) and the
  // router stay at the element size (simplification: no fp4 validation row has MLA or a router).
  const double wb = bytes_per_element(s.wdtype), eb = bytes_per_element(s.embedding_dtype());
  const double qb = wb + (s.wdtype == DType::fp4 ? 1.0 / OpSpec::kNvfp4ScaleBlock : 0.0);
  const double h = static_cast<double>(m.hidden), table = static_cast<double>(m.vocab) * h;
  for (int st = 0; st < s.pp; ++st) {
    const std::vector<int> ranks = p.stage_ranks(st);
    auto [b, e] = stage_layers(m.layers, s.pp, st);
    for (std::int64_t i = b; i < e; ++i) {
      const LayerParams l = layer_params(m, i);
      const std::string L = "layer" + std::to_string(i) + ".";
      p.place(L + "attention", l.attention * qb, ranks, s.tp);
      p.place(L + "replicated", l.replicated * wb, ranks, 1);
      p.place(L + "mlp", l.mlp * qb, ranks, s.tp);
      p.place(L + "router", l.router * wb, ranks, 1);
      // Experts: split by width over TP (ep 1), E/ep of them over each of the TP group's ep
      // expert groups and split tp/ep ways by width inside it (ep <= tp, a copy per replica), or
      // whole over every rank of the stage (ep == tp x dp, one copy). Either way a rank holds
      // 1/max(tp, ep) of them.
      p.place(L + "experts", l.experts * l.expert * qb, ranks, std::max(s.tp, s.ep));
      // Redundant replicas of the hottest experts (EPLB) fill the same slots: with them a rank holds
      // (E + N) / ep experts, split as the others are.
      if (l.experts > 0) p.place(L + "redundant_experts", s.redundant_experts * l.expert * qb, ranks, std::max(s.tp, s.ep));
      // Shared experts split over the TP group, or whole on every rank with data-parallel attention
      // (each rank runs them on its share of the tokens: SGLang under DeepEP, graph.cpp add_moe).
      p.place(L + "shared_experts", l.shared * qb, ranks, s.dp_attention() ? 1 : s.tp);
    }
  }
  const double norm = m.norm == NormType::Layer ? 2.0 * h : h;
  const std::vector<int> first = p.stage_ranks(0), last = p.stage_ranks(s.pp - 1);
  p.place("final_norm", norm * wb, last, 1);
  // Vocabulary-parallel embedding on the first stage and LM head on the last; a tied table is held
  // by both when they differ.
  std::vector<int> table_holders = first;
  if (m.tie_embeddings && s.pp > 1) table_holders.insert(table_holders.end(), last.begin(), last.end());
  p.place("embedding", table * eb, table_holders, s.tp, true);
  if (!m.tie_embeddings) p.place("lm_head", table * eb, last, s.tp, true);
  return out;
}

}  // namespace xpu
