// Memory footprint of a scenario (weights, KV cache, activations) and the fit check with advice.
#include "workloads/footprint.h"

#include <algorithm>
#include <vector>

#include "sim/base/error.h"
#include "sim/base/units.h"
#include "workloads/expert_placement.h"
#include "workloads/graph.h"

namespace xpu {

std::string Footprint::str(const Scenario& s) const {
  return "weights " + format_bytes(weight_bytes) + " (" + name(s.wdtype) + ") + KV cache " + format_bytes(kv_cache_bytes) +
         " (" + name(s.kvdtype) + ") + activations " + format_bytes(activation_bytes) +
         (comm_buffer_bytes > 0 ? " + communication buffers " + format_bytes(comm_buffer_bytes) : std::string());
}

CommBuffers comm_buffers(const Scenario& s, const CommBufferParams& p) {
  CommBuffers b;
  const double buf = p.bytes_per_connection;
  if (buf <= 0) return b;
  if (s.tp > 1) b.tp_bytes = static_cast<double>(p.channels) * CommBufferParams::kRingPeers * buf;
  // Grouped send/receive: a send and a receive connection with every other rank of the EP group.
  if (s.dp_attention()) b.ep_bytes = static_cast<double>(s.ep - 1) * p.p2p_channels * 2.0 * buf;
  // A stage receives from the previous stage and sends to the next; the sampled tokens close the loop
  // (last to first), so every stage has one receive and one send connection.
  if (s.pp > 1) b.pp_bytes = p.p2p_channels * 2.0 * buf;
  return b;
}

Footprint footprint(const ModelConfig& m, const Scenario& s, const CommBufferParams& comm) {
  // Every device of a stage holds the same bytes; the stage that needs most sets the footprint.
  const Sharding sh = shard_weights(m, s);
  Footprint best;
  for (int st = 0; st < s.pp; ++st) {
    Footprint f = stage_footprint(m, s, sh, st * s.tp, comm);
    if (st == 0 || f.total() > best.total()) best = f;
  }
  return best;
}

Footprint stage_footprint(const ModelConfig& m, const Scenario& s, const Sharding& sh, int rank, const CommBufferParams& comm) {
  Footprint f;
  f.tp = s.tp;
  f.devices = s.devices();
  f.rank = rank;
  const double tp = s.tp;
  f.embedding_bytes = sh.rank_embedding_bytes[static_cast<size_t>(rank)];
  f.weight_bytes = sh.rank_weight_bytes[static_cast<size_t>(rank)];
  const RankPart& part = sh.roles[static_cast<size_t>(rank)].part;
  const std::int64_t layer_begin = part.layer_begin, layer_end = part.layer_end;

  const double kvb = bytes_per_element(s.kvdtype);
  const std::int64_t len = s.input_len + s.output_len;
  const double kv_heads = static_cast<double>(m.kv_heads >= s.tp ? m.kv_heads / s.tp : 1);
  const double per_token_layer = m.is_mla() ? static_cast<double>(m.kv_lora_rank + m.qk_rope_head_dim) * kvb
                                            : 2.0 * kv_heads * static_cast<double>(m.head_dim) * kvb;
  for (std::int64_t i = layer_begin; i < layer_end; ++i) {
    const auto& l = m.layer_attention[static_cast<size_t>(i)];
    const std::int64_t cached = l.kind == AttentionKind::Full ? len : std::min(len, l.window);
    f.kv_bytes_per_sequence += per_token_layer * static_cast<double>(cached);
  }
  const std::int64_t seqs = s.rank_batch();  // a replica's (or attention group's) sequences
  f.kv_cache_bytes = f.kv_bytes_per_sequence * static_cast<double>(seqs);

  // Peak activations: the residual stream and the normalised hidden state, plus the larger of the
  // attention block's and the MLP block's intermediates, plus fp32 logits for sampling.
  const double T = static_cast<double>(s.phase == Phase::Decode ? seqs : seqs * s.input_len);
  const double D = static_cast<double>(m.hidden), H = static_cast<double>(m.heads / s.tp);
  double attn = 0;
  if (m.is_mla()) {
    attn = T * (m.q_lora_rank + m.kv_lora_rank + m.qk_rope_head_dim) +
           T * H * (m.qk_nope_head_dim + m.qk_rope_head_dim) + T * H * (m.qk_nope_head_dim + m.v_head_dim) + T * H * m.v_head_dim;
  } else {
    attn = T * (H + 2.0 * kv_heads) * m.head_dim + T * H * m.head_dim;
  }
  const double gate = m.gated_mlp ? 3.0 : 2.0;  // gate/up output and the activation's output
  double mlp = T * gate * std::max<double>(1.0, static_cast<double>(m.intermediate) / tp);
  if (m.is_moe()) {
    // Expert parallelism: the rank's experts see the tokens of every attention group sharing them;
    // the rank that receives the most routed rows (skew, replicas placed by EPLB) sets the peak.
    double routed = T * static_cast<double>(m.experts_per_token);
    if (s.ep > 1) {
      const auto tokens = static_cast<std::int64_t>(T) * std::max(1, s.ep / s.tp);
      routed = static_cast<double>(routed_placement(m, s, tokens).max_rank_rows());
    }
    const double width = static_cast<double>(m.moe_intermediate) / s.expert_tp();
    double moe = routed * D + routed * gate * width +
                 T * gate * (static_cast<double>(m.shared_intermediate) / (s.dp_attention() ? 1.0 : tp));
    mlp = std::max(mlp, moe);
  }
  f.activation_bytes = bytes_per_element(s.stream_dtype()) * (2.0 * T * D + std::max(attn, mlp)) +
                       4.0 * static_cast<double>(seqs) * static_cast<double>(m.vocab);
  f.comm_buffer_bytes = comm_buffers(s, comm).total();
  return f;
}

void check_fits(const Footprint& f, double capacity_bytes, const ModelConfig& m, const Scenario& s, const std::string& chip_name,
                const CommBufferParams& comm, bool fp4_weights, const std::string& capacity_why) {
  if (f.total() <= capacity_bytes) return;
  auto fits = [&](const Scenario& t) { return footprint(m, t, comm).total() <= capacity_bytes; };
  std::vector<std::string> advice;

  // Lower precision, cheapest change first: fp8 weights, then fp8 KV cache too, then fp4 weights.
  std::vector<std::pair<DType, DType>> formats;  // (weights, KV cache)
  const DType fp8_kv = bytes_per_element(s.kvdtype) > 1 ? DType::fp8 : s.kvdtype;
  if (bytes_per_element(s.wdtype) > 1) formats.push_back({DType::fp8, s.kvdtype});
  if (bytes_per_element(s.kvdtype) > 1) formats.push_back({bytes_per_element(s.wdtype) > 1 ? DType::fp8 : s.wdtype, fp8_kv});
  if (bytes_per_element(s.wdtype) > 0.5 && fp4_weights) formats.push_back({DType::fp4, fp8_kv});
  for (const auto& [w, kv] : formats) {
    Scenario t = s;
    t.wdtype = w;
    t.kvdtype = kv;
    if (!fits(t)) continue;
    std::string what = std::string(name(w)) + " weights" + (kv != s.kvdtype ? std::string(" and ") + name(kv) + " KV cache" : "");
    advice.push_back(what + " (needs " + format_bytes(footprint(m, t, comm).total()) + ")");
    break;
  }
  // Fewer sequences: the footprint grows with the batch, so bisect for the largest that fits; also
  // say how many fit with 8-bit weights and KV cache when that allows more.
  auto largest_batch = [&](Scenario t) -> std::int64_t {
    t.batch = 1;
    if (!fits(t)) return 0;
    std::int64_t lo = 1, hi = s.batch;  // fits(lo); hi is the requested batch, which does not fit
    while (hi - lo > 1) {
      t.batch = lo + (hi - lo) / 2;
      (fits(t) ? lo : hi) = t.batch;
    }
    return lo;
  };
  if (s.batch > 1) {
    const std::int64_t b = largest_batch(s);
    Scenario low = s;
    if (bytes_per_element(low.wdtype) > 1) low.wdtype = DType::fp8;
    low.kvdtype = fp8_kv;
    const std::int64_t b8 = (low.wdtype != s.wdtype || low.kvdtype != s.kvdtype) && !fits(low) ? largest_batch(low) : 0;
    std::string low_name = std::string(name(low.wdtype)) + " weights and " + name(low.kvdtype) + " KV cache";
    if (b > 0)
      advice.push_back("--batch " + std::to_string(b) + " (the most sequences that fit" +
                       (b8 > b ? "; " + std::to_string(b8) + " with " + low_name : std::string()) + ")");
    else if (b8 > 0)
      advice.push_back("--batch " + std::to_string(b8) + " with " + low_name);
  }
  // More chips: the smallest tensor-parallel degree that the heads allow and that fits.
  for (int tp = s.tp + 1; tp <= m.heads; ++tp) {
    Scenario t = s;
    t.tp = tp;
    try {
      t.validate(m);
    } catch (const InputError&) {
      continue;
    }
    if (fits(t)) {
      // The chips the advice takes with the other degrees kept: --tp 4 with --pp 4 is 16 chips, not 4.
      const std::string kept = (s.pp > 1 ? " --pp " + std::to_string(s.pp) : std::string()) +
                               (s.dp > 1 ? " --dp " + std::to_string(s.dp) : std::string());
      const std::string in_all = kept.empty() ? std::string() : ", " + std::to_string(t.devices()) + " in all with" + kept;
      advice.push_back("--tp " + std::to_string(tp) + " (tensor parallelism over " + std::to_string(tp) + " chips" + in_all + ", " +
                       format_bytes(footprint(m, t, comm).total()) + " each)");
      break;
    }
  }
  std::string msg = m.name + " with batch " + std::to_string(s.batch) + " x (" + std::to_string(s.input_len) + " + " +
                    std::to_string(s.output_len) + ") tokens does not fit in " + chip_name + "'s memory: needs " +
                    format_bytes(f.total()) + " (" + f.str(s) + ") but " + format_bytes(capacity_bytes) + " is available" +
                    (capacity_why.empty() ? "" : " (" + capacity_why + ")");
  if (advice.empty())
    msg += "; no lower precision, smaller batch or tensor-parallel degree up to " + std::to_string(m.heads) + " makes it fit";
  else msg += "; to fit, use " + join(advice, ", or ");
  throw advice.empty() ? InputError(msg) : InputError::first_of(msg, advice.front());  // the first advice's flag
}

}  // namespace xpu
