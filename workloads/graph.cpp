// Builds the op graph of one forward step from a ModelConfig and a Scenario: the kernels that
// vLLM / TensorRT-LLM launch for each decoder layer, split for tensor parallelism, with layers that
// share a shape folded together and fused elementwise ops marked.
#include "workloads/graph.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "sim/base/error.h"
#include "workloads/expert_placement.h"

namespace xpu {

double Graph::flops() const {
  double f = 0;
  for (const auto& n : nodes) f += n.op.flops() * n.count;
  return f;
}

double Graph::bytes() const {
  double b = 0;
  for (const auto& n : nodes)
    if (!n.fused) b += n.op.min_bytes() * n.count;
  return b;
}

std::int64_t Graph::kernels() const {
  std::int64_t k = 0;
  for (const auto& n : nodes)
    if (!n.fused) k += n.count;
  return k;
}

const GraphNode* Graph::find(const std::string& label) const {
  for (const auto& n : nodes)
    if (n.op.label == label) return &n;
  return nullptr;
}

bool uniform_routing(const Routing& routing, std::int64_t experts) {
  return routing.kind == Routing::Kind::Uniform || experts == 1 || routing.value == 0;  // zipf:0 is uniform
}

std::int64_t expected_active_experts(std::int64_t tokens, std::int64_t experts, std::int64_t topk) {
  if (tokens <= 0 || experts <= 0 || topk <= 0) return 0;
  const std::int64_t k = std::min(topk, experts);
  // A token's k picks are distinct, so it misses a given expert with probability 1 - k/E (with group-limited
  // routing too, by symmetry); T independent tokens miss it with (1 - k/E)^T.
  const double miss = std::pow(1.0 - static_cast<double>(k) / static_cast<double>(experts), static_cast<double>(tokens));
  return reached_slots(static_cast<double>(experts) * (1.0 - miss), experts, tokens * k, tokens);
}

std::vector<std::int64_t> expert_rows(std::int64_t tokens, std::int64_t experts, std::int64_t topk, const Routing& routing) {
  if (tokens < 0 || experts <= 0 || topk <= 0 || topk > experts)
    throw InputError("expert routing: need tokens >= 0 and 1 <= topk <= experts (got tokens " + std::to_string(tokens) +
                     ", experts " + std::to_string(experts) + ", topk " + std::to_string(topk) + ")",
                     tokens < 0 ? "--tokens" : "--topk", std::to_string(tokens < 0 ? tokens : topk));
  const std::int64_t total = tokens * topk;
  std::vector<std::int64_t> rows(static_cast<size_t>(experts), 0);
  if (uniform_routing(routing, experts)) {
    // Drawn per step: one step's tokens reach only the experts they pick, E (1 - (1 - k/E)^T) of them on average
    // (Routing), evenly spaced over the range; `even` spreads the rows over all E.
    if (total > 0) rows = spread_rows(total, experts, routing.sampled ? expected_active_experts(tokens, experts, topk) : experts);
  } else if (routing.kind == Routing::Kind::Hot) {
    std::int64_t hot = std::llround(routing.value * static_cast<double>(tokens));
    hot = std::clamp<std::int64_t>(hot, (total + experts - 1) / experts, tokens);
    rows[0] = hot;
    // Drawn per step, as uniform's: a token that picks the hot expert (hot / T of them) spreads its other k - 1
    // picks over the E - 1 others, the rest k, so it misses a given other with 1 - (k - hot / T) / (E - 1), and
    // the others' rows go to the (E - 1)(1 - miss^T) of them the step reaches (each at most T rows).
    const std::int64_t others = experts - 1, rest = total - hot;
    std::int64_t reach = others;
    if (routing.sampled && others > 0 && rest > 0) {
      const double picks = static_cast<double>(topk) - static_cast<double>(hot) / static_cast<double>(tokens);
      const double miss = std::pow(1.0 - picks / static_cast<double>(others), static_cast<double>(tokens));
      reach = reached_slots(static_cast<double>(others) * (1.0 - miss), others, rest, tokens);
    }
    if (rest > 0) {
      const auto part = spread_rows(rest, others, reach);
      for (std::int64_t i = 1; i < experts; ++i) rows[i] += part[static_cast<size_t>(i - 1)];
    }
  } else {
    // Zipf: water-fill the weights under the per-expert cap of `tokens`, then round by largest remainder.
    std::vector<double> w(static_cast<size_t>(experts)), target(static_cast<size_t>(experts), 0.0);
    for (std::int64_t i = 0; i < experts; ++i) w[i] = std::pow(static_cast<double>(i + 1), -routing.value);
    std::vector<bool> capped(static_cast<size_t>(experts), false);
    const double cap = static_cast<double>(tokens);
    for (;;) {
      double remaining = static_cast<double>(total), wsum = 0;
      for (std::int64_t i = 0; i < experts; ++i) {
        if (capped[i]) remaining -= cap;
        else wsum += w[i];
      }
      bool changed = false;
      for (std::int64_t i = 0; i < experts; ++i) {
        if (capped[i]) continue;
        target[i] = remaining * w[i] / wsum;
        if (target[i] > cap) {
          capped[i] = true;
          changed = true;
        }
      }
      if (!changed) break;
    }
    std::int64_t assigned = 0;
    for (std::int64_t i = 0; i < experts; ++i) {
      rows[i] = capped[i] ? tokens : std::min(tokens, static_cast<std::int64_t>(std::floor(target[i])));
      assigned += rows[i];
    }
    std::vector<std::int64_t> order(static_cast<size_t>(experts));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      return target[a] - std::floor(target[a]) > target[b] - std::floor(target[b]);
    });
    for (size_t j = 0; assigned < total; j = (j + 1) % order.size())
      if (rows[order[j]] < tokens) {
        ++rows[order[j]];
        ++assigned;
      }
  }
  return rows;
}

RouterShape router_of(const ModelConfig& m, const Scenario& s) {
  const bool grouped = s.redundant_experts == 0;
  return {m.num_experts, m.experts_per_token, grouped ? m.expert_groups : 1, grouped ? m.groups_per_token : 1};
}

ExpertPlacement routed_placement(const RouterShape& r, const Routing& routing, int ep, std::int64_t redundant, std::int64_t tokens) {
  // The ranks' expected loads: the routing's rows over every expert it feeds (the step's draw then moves rows
  // between ranks; reached_rows puts a uniform rank's rows on the experts the step reaches).
  Routing expected = routing;
  expected.sampled = false;
  ExpertPlacement place = place_experts(expert_rows(tokens, r.experts, r.topk, expected), ep, redundant);
  if (routing.sampled) sample_step(place, tokens, r);
  return place;
}

ExpertPlacement routed_placement(const ModelConfig& m, const Scenario& s, std::int64_t tokens) {
  return routed_placement(router_of(m, s), s.routing, s.ep, s.redundant_experts, tokens);
}

std::int64_t normal_dispatch_receive(const ExpertPlacement& place, const RouterShape& r, const Routing& routing, std::int64_t redundant,
                                     std::int64_t tokens) {
  const int ep = static_cast<int>(place.ranks.size());
  if (routing.kind == Routing::Kind::Uniform && redundant == 0 && r.experts % ep == 0)
    return normal_receive_tokens(tokens, r.experts, r.topk, ep, r.groups, r.groups_per_token, place.sampled_z);
  return place.max_rank_tokens(tokens);
}

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// A set of layers with the same attention kind and MLP type: one folded copy in the graph.
struct LayerGroup {
  LayerAttention attn;
  bool moe = false;
  int count = 0;
  std::int64_t first = 0;
  std::string prefix;
};

std::string attention_tag(const LayerAttention& a) {
  std::string s = name(a.kind);
  if (a.kind != AttentionKind::Full) s += std::to_string(a.window);
  return s;
}

class GraphBuilder {
 public:
  GraphBuilder(const ModelConfig& m, const Scenario& s, bool decode, std::int64_t context, const FusionPolicy& f,
               const RankPart& part)
      : m_m(m), m_s(s), m_decode(decode), m_context(context), m_f(f), m_part(part) {
    if (m_part.layer_end < 0) m_part.layer_end = m.layers;
    const int mb = s.step_microbatches();
    m_seqs = s.rank_batch() / mb;
    m_tokens = decode ? m_seqs : m_seqs * s.input_len;
    m_heads = m.heads / s.tp;
    m_kv_heads = m.kv_heads >= s.tp ? m.kv_heads / s.tp : 1;  // replicated KV heads when tp > kv_heads
    m_stream = s.stream_dtype();
    m_sp = s.sp && s.tp > 1;
  }

  Graph build() {
    make_groups();
    if (m_part.layer_begin == 0) {
      OpSpec emb = base(OpKind::Embedding, "embed");
      emb.rows = m_tokens;
      emb.cols = m_m.hidden;
      // The rank's rows of the table (vocabulary-parallel under TP): lowerings spread the gathered rows
      // over them, so a table of one row would put every token on the same lines (an L2 hit each).
      emb.n = ceil_div(m_m.vocab, m_s.tp);
      emb.wdtype = m_s.embedding_dtype();
      emb.dtype = m_stream;
      add(emb, 1, "embed");
      // vocab-parallel embedding sums partial rows (each rank keeps its share of them under SP)
      if (m_s.tp > 1) tp_region_end("embed", 1, "embed");
    }
    for (size_t g = 0; g < m_groups.size(); ++g) add_layer(g);
    if (m_part.layer_end == m_m.layers) add_head();
    resolve_fusion();
    for (const auto& n : m_graph.nodes) n.op.validate();
    return m_graph;
  }

 private:
  // Final norm, LM head (vocabulary split over TP ranks) and sampling, on the last pipeline stage.
  void add_head() {
    OpSpec fn = norm("final_norm", stream_rows(), m_m.hidden);
    add(fn, 1, "head");
    if (m_sp) {  // each sequence's last position lives on one rank: gather them for the LM head
      OpSpec ag = tp_collective(OpKind::AllGather, "head_allgather");
      ag.m = m_seqs * m_m.hidden * 2;
      add(ag, 1, "head");
    }
    // Only the last position of each sequence is projected to logits (vLLM's LogitsProcessor
    // selects them before the LM head), in prefill as in decode.
    OpSpec head = gemm("lm_head", m_seqs, m_m.hidden, ceil_div(m_m.vocab, m_s.tp));
    head.wdtype = m_s.embedding_dtype();
    add(head, 1, "head");
    // Each rank holds its slice of the vocabulary's logits; sampling needs whole rows, so the slices
    // are all-gathered over the TP group before the sampler, in the LM head's output dtype (bf16):
    // TensorRT-LLM's PyTorch backend builds the LM head with gather_output (tensorrt_llm/_torch/
    // modules/embedding.py LMHead, allgather), vLLM's LogitsProcessor._gather_logits all-gathers on
    // CUDA (use_all_gather), SGLang's LogitsProcessor all-gathers too. `m` is the gathered output,
    // each rank's slice padded to whole 4-byte words (an even count of bf16 logits).
    if (m_s.tp > 1) {
      OpSpec ag = tp_collective(OpKind::AllGather, "logits_allgather");
      ag.m = m_seqs * ceil_div(ceil_div(m_m.vocab, m_s.tp), 2) * 2 * m_s.tp * 2;
      add(ag, 1, "head");
    }
    OpSpec smp = base(OpKind::Sampling, "sampling");
    smp.rows = m_seqs;
    smp.cols = m_m.vocab;
    smp.dtype = m_stream;
    add(smp, 1, "head");
  }

  void make_groups() {
    for (std::int64_t i = m_part.layer_begin; i < m_part.layer_end; ++i) {
      auto it = std::find_if(m_groups.begin(), m_groups.end(), [&](const LayerGroup& g) {
        return g.attn == m_m.layer_attention[i] && g.moe == m_m.moe_layer[i];
      });
      if (it == m_groups.end()) {
        m_groups.push_back({m_m.layer_attention[i], m_m.moe_layer[i], 0, i, ""});
        it = m_groups.end() - 1;
      }
      ++it->count;
      m_group_of_layer[i] = static_cast<size_t>(it - m_groups.begin());
    }
    // Labels carry the fewest aspects that tell the groups apart: "layer[moe]", "layer[sliding128]",
    // or plain "layer" when all layers are alike.
    using Tag = std::function<std::string(const LayerGroup&)>;
    const std::vector<Tag> aspects = {
        [](const LayerGroup& g) { return attention_tag(g.attn); },
        [](const LayerGroup& g) { return std::string(g.moe ? "moe" : "dense"); },
        [](const LayerGroup& g) { return std::string(g.attn.rope ? "rope" : "nope"); },
        [](const LayerGroup& g) { return std::string(g.attn.qk_norm ? "qknorm" : "noqknorm"); },
    };
    auto labels = [&](unsigned mask) {
      std::vector<std::string> out;
      for (const auto& g : m_groups) {
        std::vector<std::string> tags;
        for (size_t a = 0; a < aspects.size(); ++a)
          if (mask & (1u << a)) tags.push_back(aspects[a](g));
        out.push_back(tags.empty() ? "layer" : "layer[" + join(tags, ",") + "]");
      }
      return out;
    };
    std::vector<std::string> best;
    int best_bits = 99;
    for (unsigned mask = 0; mask < (1u << aspects.size()); ++mask) {
      auto l = labels(mask);
      std::vector<std::string> sorted = l;
      std::sort(sorted.begin(), sorted.end());
      int bits = static_cast<int>(std::bitset<8>(mask).count());
      if (std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end() && bits < best_bits) {
        best = l;
        best_bits = bits;
      }
    }
    for (size_t i = 0; i < m_groups.size(); ++i) m_groups[i].prefix = best[i];
  }

  OpSpec base(OpKind k, const std::string& label) const {
    OpSpec o;
    o.kind = k;
    o.label = label;
    o.dtype = m_stream;
    o.wdtype = m_stream;
    o.odtype = m_stream;
    return o;
  }
  // A projection by model weights: activations in adtype, weights in wdtype, output in the stream dtype.
  OpSpec gemm(const std::string& label, std::int64_t m, std::int64_t k, std::int64_t n, std::int64_t batch = 1) const {
    OpSpec o = base(OpKind::Gemm, label);
    o.m = m;
    o.k = k;
    o.n = n;
    o.batch = batch;
    o.dtype = m_s.adtype;
    o.wdtype = m_s.wdtype;
    return o;
  }
  OpSpec norm(const std::string& label, std::int64_t rows, std::int64_t cols) const {
    OpSpec o = base(m_m.norm == NormType::Rms ? OpKind::RmsNorm : OpKind::LayerNorm, label);
    o.rows = rows;
    o.cols = cols;
    return o;
  }
  OpSpec rowwise(OpKind k, const std::string& label, std::int64_t rows, std::int64_t cols) const {
    OpSpec o = base(k, label);
    o.rows = rows;
    o.cols = cols;
    return o;
  }
  // TP all-reduces run in bf16 even in FP8 recipes (vLLM / TensorRT-LLM), hence 2 bytes per value.
  OpSpec allreduce(const std::string& label) const { return tp_collective(OpKind::AllReduce, label); }
  // A collective over the TP group on the step's hidden states: `m` is the whole [tokens, hidden] bf16
  // buffer, the nccl-tests size of an all-reduce, of a reduce-scatter's input and an all-gather's output.
  OpSpec tp_collective(OpKind kind, const std::string& label) const {
    OpSpec o = base(kind, label);
    o.dtype = o.wdtype = o.odtype = DType::bf16;
    o.m = m_tokens * m_m.hidden * 2;
    o.rows = m_tokens;  // the buffer's tokens, by which a serving stack picks its own all-reduce kernel
    o.cols = m_m.hidden;
    o.devices = m_s.tp;
    return o;
  }
  // Sequence parallelism (Megatron-LM, Korthikanti et al. 2022): between the TP regions the residual
  // stream is split by tokens, so norms and residual adds see tokens/tp rows; each block starts with
  // an all-gather and ends with a reduce-scatter instead of an all-reduce.
  std::int64_t stream_rows() const { return m_sp ? ceil_div(m_tokens, m_s.tp) : m_tokens; }
  void tp_region_start(const std::string& label, int count, const std::string& grp) {
    if (m_sp) add(tp_collective(OpKind::AllGather, label + "_allgather"), count, grp);
  }
  // Data-parallel attention over TP groups around an all-to-all MoE (SGLang with DeepEP): each rank
  // keeps its 1/tp share of the group's tokens through the MoE block, reduce-scattered after the
  // attention and all-gathered after the block (sglang python/sglang/srt/layers/communicator.py@0090b34c,
  // LayerScatterModes: attention TP_ATTN_FULL, a sparse MLP with an all-to-all backend SCATTERED, its
  // output SCATTERED until the next attention gathers it).
  bool scattered_moe() const { return m_s.dp_attention() && m_s.tp > 1; }
  void tp_region_end(const std::string& label, int count, const std::string& grp) {
    add(m_sp ? tp_collective(OpKind::ReduceScatter, label + "_reducescatter") : allreduce(label + "_allreduce"), count, grp);
  }
  // Expert dispatch / combine: `bytes` leave each rank's send buffer (nccl-tests all-to-all size),
  // padded to whole 4-byte words per peer (the lowering splits it evenly; under 4 x ep bytes more).
  OpSpec alltoall(const std::string& label, std::int64_t bytes) const {
    OpSpec o = base(OpKind::AllToAll, label);
    o.m = ceil_div(bytes, 4 * m_s.ep) * 4 * m_s.ep;
    o.devices = m_s.ep;
    return o;
  }
  // `operands`: the dtype Q, K and V reach the kernel in when they are not read from the KV cache (MLA's
  // expanded prefill); unset: the cache's rule below.
  OpSpec attention(const std::string& label, std::int64_t batch, std::int64_t seq_q, std::int64_t seq_kv,
                   std::int64_t kv_heads, std::int64_t dqk, std::int64_t dv, std::int64_t window,
                   std::optional<DType> operands = std::nullopt) const {
    OpSpec o = base(OpKind::Attention, label);
    o.batch = batch;
    o.heads = m_heads;
    o.kv_heads = kv_heads;
    o.seq_q = seq_q;
    o.seq_kv = seq_kv;
    o.head_dim = dqk;
    o.head_dim_v = dv;
    o.causal = true;
    o.decode = m_decode;
    o.window = window > 0 && window < seq_kv ? window : 0;  // only where it limits the keys
    // The attention's tensor-core operands: Q and the KV cache meet in one MMA, so it runs at the wider
    // of the two. fp8 activations are the projections' input quantization: with a bf16 KV cache the
    // attention stays bf16 (FlashAttention-2/3, FlashInfer and TensorRT-LLM's FMHA take fp8 only with
    // an fp8 cache); with an fp8 cache and bf16 activations the keys are widened to bf16 in SRAM.
    o.dtype = bytes_per_element(m_s.kvdtype) > bytes_per_element(m_s.adtype) ? m_s.kvdtype : m_s.adtype;
    o.wdtype = m_s.kvdtype;
    if (operands) o.dtype = o.wdtype = *operands;
    o.impl = m_s.attention_impl;
    return o;
  }
  void add(OpSpec op, int count, const std::string& group) {
    // Eager fp8 recipes cast each projection's bf16 input to e4m3 with its own kernel first; with
    // quant_kernels every projection but the attention output's (the attention kernel writes e4m3).
    const bool fp8_gemm = op.kind == OpKind::Gemm && bytes_per_element(op.dtype) < 2 && op.label != "lm_head";
    const bool attn_out = op.label.size() >= 6 && op.label.compare(op.label.size() - 6, 6, "o_proj") == 0;
    if (fp8_gemm && (m_f.eager_ops || (m_f.quant_kernels && !attn_out)))
      add(rowwise(OpKind::Gelu, op.label + ".cast_fp8", op.m * op.batch, op.k), count, group);
    GraphNode n;
    n.op = std::move(op);
    n.count = count;
    n.group = group;
    m_graph.nodes.push_back(std::move(n));
  }
  void fuse_later(const std::string& label, const std::string& into) { m_fusions.emplace_back(label, into); }

  // Attention of one layer group; sliding windows limit the keys, chunked layers (Llama 4) see only
  // their own chunk: prefill becomes batch*(S/C) causal chunks of C tokens (plus a tail chunk),
  // decode reads only the keys of the current chunk.
  void add_attention(const LayerGroup& g, std::int64_t kv_heads, std::int64_t dqk, std::int64_t dv,
                     std::optional<DType> operands = std::nullopt) {
    const std::string p = g.prefix + ".";
    const std::int64_t B = m_seqs, S = m_s.input_len;
    const bool chunked = g.attn.kind == AttentionKind::Chunked;
    const std::int64_t window = g.attn.kind == AttentionKind::Sliding ? g.attn.window : 0;
    if (m_decode) {
      std::int64_t seen = chunked ? (m_context - 1) % g.attn.window + 1 : m_context;
      add(attention(p + "attn", B, 1, seen, kv_heads, dqk, dv, window), g.count, "attention");
    } else if (chunked && S > g.attn.window) {
      const std::int64_t C = g.attn.window;
      add(attention(p + "attn", B * (S / C), C, C, kv_heads, dqk, dv, 0, operands), g.count, "attention");
      if (S % C) add(attention(p + "attn_tail", B, S % C, S % C, kv_heads, dqk, dv, 0, operands), g.count, "attention");
    } else {
      add(attention(p + "attn", B, S, S, kv_heads, dqk, dv, window, operands), g.count, "attention");
    }
    m_attn_label = p + "attn";
  }

  // PyTorch eager's kernels of an op (FusionPolicy::eager_ops): a unary copy-like kernel (one read,
  // one write: the Gelu op's kernel) or a binary one (two reads, one write: the residual add's).
  void add_eager(bool binary, const std::string& label, std::int64_t rows, std::int64_t cols, int count) {
    add(rowwise(binary ? OpKind::ResidualAdd : OpKind::Gelu, label, rows, cols), count, "attention");
  }
  // Rotate-half RoPE on q (q_cols) and k (the rest of cols), each: neg of one half, cat, x * cos,
  // rotated * sin, add.
  void add_eager_rope(const LayerGroup& g, std::int64_t cols, std::int64_t q_cols) {
    const std::string p = g.prefix + ".rope_";
    const std::pair<const char*, std::int64_t> tensors[] = {{"q", q_cols}, {"k", cols - q_cols}};
    for (const auto& [t, c] : tensors) {
      if (c <= 0) continue;
      const std::string q = p + t;
      add_eager(false, q + ".neg", m_tokens, c / 2, g.count);
      add_eager(false, q + ".cat", m_tokens, c, g.count);
      add_eager(true, q + ".mul_cos", m_tokens, c, g.count);
      add_eager(true, q + ".mul_sin", m_tokens, c, g.count);
      add_eager(true, q + ".add", m_tokens, c, g.count);
    }
  }

  void add_rope(const LayerGroup& g, std::int64_t cols, const std::string& producer, std::int64_t q_cols = 0) {
    if (!g.attn.rope) return;
    if (m_f.eager_ops) return add_eager_rope(g, cols, q_cols > 0 ? q_cols : cols);
    const std::string label = g.prefix + ".rope";
    add(rowwise(OpKind::Rope, label, m_tokens, cols), g.count, "attention");
    m_rope_producer[label] = producer;
  }

  void add_layer(size_t gi) {
    const LayerGroup& g = m_groups[gi];
    const std::string p = g.prefix + ".";
    const std::int64_t T = m_tokens, D = m_m.hidden, H = m_heads;
    add(norm(p + "attn_norm", stream_rows(), D), g.count, "attention");
    tp_region_start(p + "attn", g.count, "attention");
    std::string q_producer;
    if (m_m.is_mla()) {
      // Multi-head latent attention as vLLM / FlashMLA run it (DeepSeek-V2 paper, section 2.1).
      const std::int64_t nope = m_m.qk_nope_head_dim, rope = m_m.qk_rope_head_dim, dv = m_m.v_head_dim;
      const std::int64_t lora = m_m.kv_lora_rank;
      if (m_m.q_lora_rank > 0) {
        // q_a_proj and kv_a_proj_with_mqa share their input: vLLM runs them as one fused_qkv_a_proj
        // (replicated on every TP rank).
        add(gemm(p + "qkv_a_proj", T, D, m_m.q_lora_rank + lora + rope), g.count, "attention");
        add(norm(p + "q_a_norm", T, m_m.q_lora_rank), g.count, "attention");
        add(norm(p + "kv_a_norm", T, lora), g.count, "attention");
        add(gemm(p + "q_b_proj", T, m_m.q_lora_rank, H * (nope + rope)), g.count, "attention");
        q_producer = p + "q_b_proj";
      } else {
        add(gemm(p + "q_proj", T, D, H * (nope + rope)), g.count, "attention");
        add(gemm(p + "kv_a_proj", T, D, lora + rope), g.count, "attention");
        add(norm(p + "kv_a_norm", T, lora), g.count, "attention");
        q_producer = p + "q_proj";
      }
      add_rope(g, (H + 1) * rope, q_producer);  // q_pe of every head and the one shared k_pe
      if (m_decode) {
        // Absorbed form: W_UK folds into the query, W_UV into the output, attention runs against
        // the cached latent (kv_lora_rank + rope dims, one KV head shared by all heads).
        add(gemm(p + "q_absorb", T, nope, lora, H), g.count, "attention");
        add_attention(g, 1, lora + rope, lora);
        add(gemm(p + "v_up", T, lora, dv, H), g.count, "attention");
      } else {
        // Prefill expands the latent of every token to per-head K (nope part) and V with kv_b_proj.
        // The attention then runs on those projections' outputs, not on the cache (which only stores
        // the latent): Q, K and V in the stream dtype (bf16 with fp8 GEMMs), whatever the cache's
        // dtype. SGLang's forward_normal_prepare (sgl-project/sglang@00114aef,
        // python/sglang/srt/models/deepseek_v2.py) builds k = torch.empty_like(q) from kv_b_proj's
        // k_nope and k_pe, saves the latent to the cache separately and calls attn_mha(q, k, v,
        // save_kv_cache=False): FA3's or FlashInfer's ragged bf16 prefill.
        add(gemm(p + "kv_b_proj", T, lora, H * (nope + dv)), g.count, "attention");
        // K is materialised per head as [k_nope | k_pe] before the attention kernel, which takes one
        // key tensor: SGLang's k[..., :nope] = k_nope; k[..., nope:] = k_pe (same file), vLLM's
        // torch.cat((k_nope, k_pe.expand(...))) in MLACommonImpl's prefill. One copy of T x H x
        // (nope + rope) in the stream dtype (its reads are overstated: k_pe is one row per token,
        // broadcast over the heads).
        add(rowwise(OpKind::Copy, p + "k_concat", T * H, nope + rope), g.count, "attention");
        add_attention(g, H, nope + rope, dv, m_s.stream_dtype());
      }
      add(gemm(p + "o_proj", T, H * dv, D), g.count, "attention");
    } else {
      const std::int64_t hd = m_m.head_dim, KV = m_kv_heads;
      add(gemm(p + "qkv_proj", T, D, (H + 2 * KV) * hd), g.count, "attention");
      q_producer = p + "qkv_proj";
      if (g.attn.qk_norm) add(norm(p + "qk_norm", T * (H + KV), hd), g.count, "attention");
      add_rope(g, (H + KV) * m_m.rotary_dim(), q_producer, H * m_m.rotary_dim());
      if (m_f.eager_ops) {  // the new K and V copied into the cache
        add_eager(false, p + "kv_write_k", T, KV * hd, g.count);
        add_eager(false, p + "kv_write_v", T, KV * hd, g.count);
      }
      add_attention(g, KV, hd, hd);
      add(gemm(p + "o_proj", T, H * hd, D), g.count, "attention");
    }
    if (g.attn.rope) m_rope_target[p + "rope"] = m_attn_label;
    // Around a MoE block the attention's partial sums are reduce-scattered when the tokens are
    // (scattered_moe); dense layers keep their all-reduce.
    const bool scattered = g.moe && scattered_moe();
    if (scattered) add(tp_collective(OpKind::ReduceScatter, p + "attn_reducescatter"), g.count, "attention");
    else if (m_s.tp > 1) tp_region_end(p + "attn", g.count, "attention");
    const std::int64_t R = scattered ? ceil_div(T, m_s.tp) : stream_rows();
    if (m_m.sandwich_norm) add(norm(p + "attn_out_norm", R, D), g.count, "attention");
    add(rowwise(OpKind::ResidualAdd, p + "attn_residual", R, D), g.count, "attention");
    residual_feeds(p + "attn_residual", p + "mlp_norm");

    const std::string grp = g.moe ? "moe" : "mlp";
    add(norm(p + "mlp_norm", R, D), g.count, grp);
    tp_region_start(p + grp, g.count, grp);
    if (g.moe) add_moe(g);
    else add_mlp(p, "", T, ceil_div(m_m.intermediate, m_s.tp), g.count, "mlp");
    // Experts over the TP group (or TP inside experts) end in partial sums: one all-reduce, like the
    // MLP's. With data-parallel attention the combine all-to-all returns the routed outputs of the
    // rank's share of the tokens; where the attention groups are TP groups (tp > 1) the group gathers
    // the shares for the next attention (or the final norm): one all-gather, the layer's output as
    // SGLang's next layer gathers it. Dense layers keep their width-split MLP and its all-reduce.
    if (m_s.tp > 1 && !scattered) tp_region_end(p + grp, g.count, grp);
    if (m_m.sandwich_norm) add(norm(p + "mlp_out_norm", R, D), g.count, grp);
    add(rowwise(OpKind::ResidualAdd, p + "mlp_residual", R, D), g.count, grp);
    if (scattered) add(tp_collective(OpKind::AllGather, p + "moe_allgather"), g.count, grp);
    // The next layer's attention norm consumes it (or the final norm after the last layer); with
    // folded groups the first layer of this group stands for all of them.
    const std::int64_t next = g.first + 1;
    if (next < m_part.layer_end) residual_feeds(p + "mlp_residual", m_groups[m_group_of_layer.at(next)].prefix + ".attn_norm");
    else if (next == m_m.layers) residual_feeds(p + "mlp_residual", "final_norm");
  }

  // A dense (or shared-expert) MLP: gate and up projections as one GEMM (n = 2 * width, as vLLM's
  // MergedColumnParallelLinear), the gated activation, the down projection.
  void add_mlp(const std::string& p, const std::string& sub, std::int64_t rows, std::int64_t width, int count,
               const std::string& grp) {
    const std::string q = p + sub;
    const std::int64_t D = m_m.hidden;
    if (m_m.gated_mlp) {
      add(gemm(q + "gate_up", rows, D, 2 * width), count, grp);
      if (m_f.eager_ops) {  // silu(gate) then * up: two kernels
        add(rowwise(OpKind::Gelu, q + "silu", rows, width), count, grp);
        add(rowwise(OpKind::ResidualAdd, q + "mul", rows, width), count, grp);
        add(gemm(q + "down", rows, width, D), count, grp);
        return;
      }
      // SwiGLU for silu models; GeGLU (Gemma) has the same shape and traffic, so it is the same op kind.
      add(rowwise(OpKind::SwiGlu, q + (m_m.activation == Activation::Silu ? "swiglu" : "geglu"), rows, width), count, grp);
      fuse_activation(m_graph.nodes.back().op.label, q + "gate_up");
    } else {
      add(gemm(q + "up_proj", rows, D, width), count, grp);
      add(rowwise(OpKind::Gelu, q + "gelu", rows, width), count, grp);
      fuse_activation(m_graph.nodes.back().op.label, q + "up_proj");
    }
    add(gemm(q + "down", rows, width, D), count, grp);
  }

  void add_moe(const LayerGroup& g) {
    const std::string p = g.prefix + ".";
    const std::int64_t T = m_tokens, D = m_m.hidden, E = m_m.num_experts, K = m_m.experts_per_token;
    // The tokens the block runs on this rank: the TP group's, or its 1/tp share of them (scattered_moe).
    const bool scattered = scattered_moe();
    const std::int64_t rows_here = scattered ? ceil_div(T, m_s.tp) : T;
    // The router stays unquantised in FP8 / FP4 checkpoints and is replicated on every TP rank.
    OpSpec router = gemm(p + "router", rows_here, D, E);
    router.dtype = router.wdtype = m_stream;
    add(router, g.count, "moe");
    OpSpec topk = rowwise(OpKind::TopK, p + "topk", rows_here, E);
    topk.topk = K;
    add(topk, g.count, "moe");
    // Routed experts: without expert parallelism every rank holds every expert with its width split
    // by tp (vLLM's TP MoE); with it, rank ep_rank's expert group holds E/ep experts, split tp/ep ways
    // by width when ep < tp (TensorRT-LLM's moe_tp_size), and computes the rows that the tokens of
    // every attention group sharing them route there (their skew is its load). Inside the TP group
    // every rank already has every token, so no dispatch is needed: the MoE block's one TP
    // all-reduce sums the width partials and the expert groups' outputs at once.
    const std::int64_t w = ceil_div(m_m.moe_intermediate, m_s.expert_tp());
    // With redundant experts the rank's slots are EPLB's (workloads/expert_placement.h).
    std::vector<std::int64_t> rows;
    std::int64_t hottest = 0;  // routed rows of the EP rank that receives the most
    if (m_s.ep > 1) {
      const std::int64_t groups = std::max(1, m_s.ep / m_s.tp);  // attention groups feeding the experts
      const ExpertPlacement place = routed_placement(m_m, m_s, T * groups);
      // Uniform routing drawn per step: the rank's rows on the experts the step's tokens reach.
      rows = m_s.routing.sampled && uniform_routing(m_s.routing, E) ? place.reached_rows(m_part.ep_rank, T * groups, router_of(m_m, m_s))
                                                                     : place.group_rows(m_part.ep_rank);
      hottest = low_latency_all_to_all() ? place.max_rank_rows() : prefill_receive(place, T * groups);
    } else {
      rows = expert_rows(T, E, K, m_s.routing);
    }
    const bool a2a = m_s.dp_attention();
    // Decode dispatch sends each routed row to the rank of its expert, combine returns it (DeepEP's
    // low-latency kernels); prefill sends a token once per rank holding any of its experts (its normal
    // kernels: see prefill_receive). A TP group holds
    // its tokens on every rank, and each rank dispatches its 1/tp share of them (SGLang's data-parallel
    // attention with attention TP scatters them; DeepEP sends each rank's own tokens), so every row the
    // experts compute crosses once. Uniform routing gives every rank tokens/tp x topk rows to receive
    // and return; under a skew the rank holding the hottest experts receives (dispatch) and sends back
    // (combine) the most, and the exchange ends when it has: DeepEP's and NCCL's all-to-all complete
    // when the last peer's bytes are in, and that rank's link carries the most. The all-to-all is sized
    // as a uniform one whose per-rank buffer is that rank's rows (nccl-tests all-to-all size), so its
    // link sets the time; it overstates the traffic of the cooler ranks, which the busiest link hides.
    // A prefill's all-to-alls (DeepEP's normal kernels) also carry the tokens this rank sends (rows) and
    // their bytes (cols): across nodes a token crosses the network once per destination node
    // (system_run.cpp, deepep_forwarded_bytes).
    const std::int64_t token_bytes = expert_token_bytes(D, m_s.adtype);
    auto exchange = [&](const std::string& label, std::int64_t bytes_per_token) {
      OpSpec o = alltoall(p + label, hottest * bytes_per_token);
      if (!low_latency_all_to_all()) o.normal_dispatch = true, o.rows = rows_here, o.cols = bytes_per_token;
      return o;
    };
    if (a2a) add(exchange("moe_dispatch", token_bytes), g.count, "moe");
    std::int64_t routed = 0;
    for (auto r : rows) routed += r;
    // DeepEP's normal dispatch delivers each token once per rank, in arrival order; DeepGEMM's
    // contiguous grouped GEMM wants each expert's rows together. SGLang's DeepEPMoE.
    // forward_deepgemm_contiguous (sgl-project/sglang python/sglang/srt/layers/moe/ep_moe/layer.py,
    // mid-2025, e.g. @3f026176; the LMSYS large-scale-EP blog: "a permutation is needed ... a custom
    // Triton kernel") runs ep_scatter (tokens to per-expert fp8 rows with their scales), the two
    // grouped GEMMs with silu_and_mul (bf16) and a per-token-group fp8 quantization of the down
    // GEMM's input between them, then ep_gather (the top-k weighted sum back to the received tokens,
    // bf16). Each is a copy over the routed rows: one read, one write (the gather writes the received
    // tokens, fewer than the routed rows: its writes are overstated by the experts a token has on one
    // rank beyond the first).
    const bool permuted = a2a && !low_latency_all_to_all();
    if (permuted) {
      OpSpec scatter = rowwise(OpKind::Copy, p + "experts.permute", std::max<std::int64_t>(routed, 1), D);
      scatter.dtype = scatter.wdtype = scatter.odtype = m_s.adtype;  // the dispatched fp8 tokens
      add(scatter, g.count, "moe");
    }
    // Without an all-to-all every rank holds all its tokens in token order, and the runner first copies
    // them into expert order, one row per (token, expert) pair: TensorRT-LLM's CUTLASS MoE
    // (cpp/tensorrt_llm/kernels/mixtureOfExperts/moe_kernels.cu, expandInputRowsKernel: one block per
    // expanded row, num_rows x k of them, reading the source row and writing it to the permuted buffer,
    // quantized to the experts' input type where it arrives wider: fp4 with its block scales, or the
    // fp8 QDQ input). Sized as one read of the stream dtype and one write of the GEMM input per routed
    // row of this rank (the source rows are read k times, mostly from L2: reads overstated by up to a
    // factor k against DRAM). Stacks that gather inside the grouped GEMM have no such kernel
    // (FusionPolicy::moe_gather_in_gemm: vLLM's and SGLang's Triton fused_moe).
    const bool plugin = !a2a && m_f.moe_trt_plugin;
    if (plugin) add_moe_plugin_setup(p, rows_here, E, K, g.count);
    if (!a2a && !m_f.moe_gather_in_gemm) {
      OpSpec expand = rowwise(OpKind::Copy, p + "experts.permute", std::max<std::int64_t>(routed, 1), D);
      if (plugin) expand.dtype = m_s.adtype;  // the plugin's input is already quantized (add_moe_plugin_setup)
      expand.odtype = m_s.adtype;
      add(expand, g.count, "moe");
    }
    if (plugin) add_moe_plugin_strides(p + "experts.gate_up", E, g.count);
    // The plugin's runner launches CUTLASS's ptr-array grouped kernel on sm90 (OpSpec kCutlassPtrArrayImpl: fp8 fast
    // accumulation, its epilogue stored from registers).
    const std::string grouped_impl = plugin ? kCutlassPtrArrayImpl : "";
    OpSpec up = gemm(p + "experts.gate_up", 0, D, (m_m.gated_mlp ? 2 : 1) * w);
    up.kind = OpKind::GroupedGemm;
    up.group_rows = rows;
    up.impl = grouped_impl;
    add(up, g.count, "moe");
    OpSpec act = rowwise(m_m.gated_mlp ? OpKind::SwiGlu : OpKind::Gelu,
                         p + "experts." + (!m_m.gated_mlp ? "gelu" : m_m.activation == Activation::Silu ? "swiglu" : "geglu"),
                         std::max<std::int64_t>(routed, 1), w);
    // The plugin's runner quantizes in its activation kernel: doActivationKernel writes the activation type T of
    // the runner (fp8 in the FP8 engines) scaled by the down GEMM's input scale (fc2_fp8_quant), reading the bf16
    // GEMM output (cpp/tensorrt_llm/kernels/mixtureOfExperts/moe_kernels.cu of the v0.1x releases: "output_vec =
    // arrayConvert<ComputeElem, OutputElem>(gate_act * quant_scale)", its workspace sizing fc1_result as
    // sizeof(T), "Activation quantizes so back to sizeof(T)").
    if (plugin) act.odtype = m_s.adtype;
    add(act, g.count, "moe");
    fuse_activation(m_graph.nodes.back().op.label, p + "experts.gate_up");
    if (permuted && bytes_per_element(m_s.adtype) < 2)
      add(rowwise(OpKind::Copy, p + "experts.down.cast_fp8", std::max<std::int64_t>(routed, 1), w), g.count, "moe");
    if (plugin) add_moe_plugin_strides(p + "experts.down", E, g.count);
    OpSpec down = gemm(p + "experts.down", 0, w, D);
    down.kind = OpKind::GroupedGemm;
    down.group_rows = rows;
    down.impl = grouped_impl;
    add(down, g.count, "moe");
    if (permuted) add(rowwise(OpKind::Copy, p + "experts.unpermute", std::max<std::int64_t>(routed, 1), D), g.count, "moe");
    // ... and sums each token's expert outputs back into token order, weighted by the router's scores:
    // TensorRT-LLM's finalizeMoeRoutingKernel (same file: one block per token, reading its k expanded
    // rows of the down GEMM's bf16 output with their scales and writing one row), vLLM's moe_sum
    // (vllm/model_executor/layers/fused_moe/fused_moe.py: ops.moe_sum(intermediate_cache3 [M, topk, K],
    // out); the down GEMM already multiplied the routing weights, MUL_ROUTED_WEIGHT), SGLang's
    // moe_sum_reduce, HF transformers' per-expert index_add_. A sum over each token's routed rows: the
    // rows of this rank per token (k without expert parallelism; with experts split over the TP group,
    // the rank's share, rounded up) read, one row written per token: an elementwise sum of
    // that many [T, D] tensors in the stream dtype. The decode all-to-all's combine
    // (DeepEP low latency) and the prefill path's unpermute above already do it.
    if (!a2a) {
      OpSpec finalize = rowwise(OpKind::ResidualAdd, p + "experts.finalize", T, D);
      finalize.addends = std::max<std::int64_t>(1, ceil_div(routed, std::max<std::int64_t>(T, 1)));
      add(finalize, g.count, "moe");
    }
    if (a2a) add(exchange("moe_combine", D * 2), g.count, "moe");  // combine returns bf16 outputs
    // Shared experts see every token: a plain MLP of their combined width, split over the TP group,
    // or whole on each rank's share of the tokens with data-parallel attention over TP groups (SGLang's
    // DeepseekV2MoE builds them with tp_size 1 under DeepEP, models/deepseek_v2.py@00114aef).
    if (m_m.shared_intermediate > 0)
      add_mlp(p, "shared.", rows_here, scattered ? m_m.shared_intermediate : ceil_div(m_m.shared_intermediate, m_s.tp), g.count, "moe");
  }

  // TensorRT-LLM's MixtureOfExperts plugin of the TensorRT engines (FusionPolicy::moe_trt_plugin), the kernels
  // it runs before the permute on the `tokens` rows of the block, each k of `experts` routed:
  // - experts.quantize: tensorrt_llm/layers/moe.py (MixtureOfExperts.forward_experts, FP8 QDQ) quantizes the
  //   bf16 hidden states to fp8 with the activation scale before the plugin (`quantize(hidden_states,
  //   self.fc.activation_scaling_factor.value, 'fp8')`): the router reads the same rows in bf16, so the norm
  //   cannot write fp8 alone. A cast of [tokens, hidden], only where the experts' inputs are narrower than the
  //   stream; the permute then copies fp8 rows.
  // - The CUTLASS MoE runner's routing maps (cpp/tensorrt_llm/kernels/mixtureOfExperts/moe_kernels.cu,
  //   CutlassMoeFCRunner::runMoe of the v0.1x releases): genSourceRow (one int per routed row),
  //   sortAndScanSoftmaxOutput, which sorts the tokens x k (expert id, source row) pairs with CUB's
  //   DeviceRadixSort::SortPairs over log2(experts) + 1 key bits (CubKeyValueSorter) and then finds each
  //   expert's first row in the sorted ids (computeExpertFirstTokenOffset, one thread per expert). CUB's
  //   onesweep sort of more than one tile runs a histogram kernel, an exclusive sum of the digit counts and
  //   one onesweep pass per 8 key bits (cub/device/dispatch/dispatch_radix_sort.cuh, InvokeOnesweep): three
  //   kernels for the <= 8 bits of up to 128 experts. Counted as three at every size (assumed: a sort that fits
  //   one tile runs CUB's single-tile kernel alone, two launches fewer). Each is a copy of 4-byte ints: the
  //   ids read, the keys and values (two ints) read and written by the pass, one count per expert scanned.
  void add_moe_plugin_setup(const std::string& p, std::int64_t tokens, std::int64_t experts, std::int64_t k, int count) {
    if (bytes_per_element(m_s.adtype) < bytes_per_element(m_stream)) {
      OpSpec quant = rowwise(OpKind::Copy, p + "experts.quantize", std::max<std::int64_t>(tokens, 1), m_m.hidden);
      quant.odtype = m_s.adtype;
      add(quant, count, "moe");
    }
    const std::int64_t pairs = std::max<std::int64_t>(tokens * k, 1);
    add_int_copy(p + "experts.source_rows", pairs, 1, count);
    add_int_copy(p + "experts.sort.histogram", pairs, 1, count);
    add_int_copy(p + "experts.sort.scan", 1, experts, count);
    add_int_copy(p + "experts.sort.onesweep", pairs, 2, count);
    add_int_copy(p + "experts.offsets", experts, 1, count);
  }
  // ... and, before each grouped GEMM, the TMA warp-specialized grouped GEMM's per-expert problem shapes,
  // pointers and strides (computeStridesHopperKernel, one thread per expert: the ptr-array kernel reads them
  // from global memory, moe_gemm_kernels_template.h dispatches FP8 on sm90 only to that kernel).
  void add_moe_plugin_strides(const std::string& gemm_label, std::int64_t experts, int count) {
    add_int_copy(gemm_label + ".strides", experts, 1, count);
  }
  // A MoE plugin kernel over int32 ids, offsets or strides (4 bytes each): a copy of [rows, cols].
  void add_int_copy(const std::string& label, std::int64_t rows, std::int64_t cols, int count) {
    OpSpec o = rowwise(OpKind::Copy, label, rows, cols);
    o.dtype = o.wdtype = o.odtype = DType::fp32;
    add(o, count, "moe");
  }

  // Decode's expert all-to-alls run DeepEP's low-latency kernels, unless the serving iteration holds a
  // prefill (Scenario::normal_all_to_all); a prefill's run its normal kernels.
  bool low_latency_all_to_all() const { return m_decode && !m_s.normal_all_to_all; }

  // The tokens the busiest EP rank receives in a prefill step, of `tokens` over all attention groups.
  // SGLang's default --deepep-mode auto runs DeepEP's normal kernels for a batch with any prefill
  // (extend) and its low-latency ones for decode (python/sglang/srt/layers/moe/utils.py
  // DeepEPMode.resolve, sgl-project/sglang@d737979c); the normal kernels send a token once per
  // destination rank (workloads/expert_placement.h; normal_dispatch_receive).
  std::int64_t prefill_receive(const ExpertPlacement& place, std::int64_t tokens) const {
    return normal_dispatch_receive(place, router_of(m_m, m_s), m_s.routing, m_s.redundant_experts, tokens);
  }

  void residual_feeds(const std::string& residual, const std::string& norm_label) {
    if (m_f.residual_into_norm || m_f.all_elementwise) fuse_later(residual, norm_label);
  }
  void fuse_activation(const std::string& act, const std::string& gemm_label) {
    if (m_f.activation_into_gemm || m_f.all_elementwise) fuse_later(act, gemm_label);
  }

  void resolve_fusion() {
    for (const auto& [rope, attn] : m_rope_target) {
      if (m_f.rope_into_attention) fuse_later(rope, attn);
      else if (m_f.all_elementwise) fuse_later(rope, m_rope_producer[rope]);  // XLA output-fuses into the q/k projection
    }
    std::set<std::string> fused_add_norms;  // norms a residual add runs inside, as the serving stacks' kernels
    for (const auto& [label, into] : m_fusions)
      for (auto& n : m_graph.nodes)
        if (n.op.label == label) {
          n.fused = true;
          n.fused_into = into;
          if (n.op.kind == OpKind::ResidualAdd) fused_add_norms.insert(into);  // residual_into_norm or all_elementwise
        }
    for (auto& n : m_graph.nodes)
      if (n.op.kind == OpKind::RmsNorm && fused_add_norms.count(n.op.label)) n.op.impl = kFusedAddNormImpl;
  }

  const ModelConfig& m_m;
  const Scenario& m_s;
  bool m_decode;
  std::int64_t m_context;
  const FusionPolicy& m_f;
  std::int64_t m_tokens = 0, m_heads = 0, m_kv_heads = 0;
  DType m_stream = DType::bf16;
  bool m_sp = false;  // sequence parallelism (tp > 1)
  std::vector<LayerGroup> m_groups;
  std::map<std::int64_t, size_t> m_group_of_layer;
  RankPart m_part;
  std::int64_t m_seqs = 0;
  std::string m_attn_label;
  std::vector<std::pair<std::string, std::string>> m_fusions;  // (fused op label, kernel label)
  std::map<std::string, std::string> m_rope_target, m_rope_producer;  // rope label -> attention / q producer
  Graph m_graph;
};

}  // namespace

Graph build_step_graph(const ModelConfig& m, const Scenario& s, bool decode_step, std::int64_t context_len,
                       const FusionPolicy& fusion, const RankPart& part) {
  s.validate(m);
  if (decode_step && context_len <= 0)
    throw InputError("decode step: context length must be a positive number of cached tokens, got " + std::to_string(context_len),
                     "--input", std::to_string(context_len));
  if (decode_step && context_len > m.max_position)
    throw InputError("decode step: context of " + std::to_string(context_len) + " tokens exceeds " + m.name + "'s context of " +
                     std::to_string(m.max_position) + " tokens", "--input", std::to_string(context_len));
  return GraphBuilder(m, s, decode_step, context_len, fusion, part).build();
}

}  // namespace xpu
