// Device memory a scenario needs per chip (weights, KV cache, peak activations) and the check that
// it fits, with advice on what would make it fit.
#pragma once
#include <string>

#include "workloads/model.h"
#include "workloads/scenario.h"
#include "workloads/sharding.h"

namespace xpu {

// The staging buffers a collective library keeps on every device (NCCL-style): each communicator
// connects a device to its peers over some channels, and each connection holds one buffer of
// bytes_per_connection (NCCL_BUFFSIZE, 4 MiB by default: the system preset's library chunk_bytes x
// slots, NCCL_STEPS 8 slots of 512 KiB). Without a library (one chip) there are none.
//   tensor-parallel group (tp > 1): `channels` rings, each with a receive connection from the previous
//     rank and a send connection to the next;
//   expert all-to-all (ep > tp): grouped send/receive, a send and a receive connection with every other
//     rank of the EP group, p2p_channels each;
//   pipeline stages (pp > 1): a receive from the previous stage and a send to the next (the sampled
//     tokens close the loop from the last stage to the first), p2p_channels each.
// Data-parallel replicas without expert parallelism exchange nothing at inference: no communicator.
struct CommBufferParams {
  double bytes_per_connection = 0;  // 0: no collective library (one chip), no buffers
  int channels = 0;                 // channels of a collective (the preset's library.channels)
  int p2p_channels = 1;             // channels per peer of send/receive (the preset's library.p2p_channels)
  static constexpr int kRingPeers = 2;  // a ring channel's previous and next rank
};
struct CommBuffers {
  double tp_bytes = 0, ep_bytes = 0, pp_bytes = 0;
  double total() const { return tp_bytes + ep_bytes + pp_bytes; }
};
// The buffers of a device of `s`'s layout (the same on every device).
CommBuffers comm_buffers(const Scenario& s, const CommBufferParams& p);

// Bytes per device (per tensor-parallel rank).
struct Footprint {
  int tp = 1;
  int devices = 1;                   // devices of the layout (tp x pp x dp)
  int rank = 0;                      // the rank this footprint is for (the fullest stage's first)
  double weight_bytes = 0;           // every weight this rank holds, embedding and LM head included
  double embedding_bytes = 0;        // the embedding table and LM head part of weight_bytes
  double kv_cache_bytes = 0;         // batch sequences of input+output tokens
  double kv_bytes_per_sequence = 0;  // one sequence of input+output tokens, all layers
  double activation_bytes = 0;       // peak live activations of the largest step (an estimate)
  double comm_buffer_bytes = 0;      // the collective library's buffers (CommBufferParams)
  double total() const { return weight_bytes + kv_cache_bytes + activation_bytes + comm_buffer_bytes; }
  // "weights 16.06 GB (bf16) + KV cache 1.074 GB (bf16) + activations 150.2 MB [+ communication buffers 134.2 MB]"
  std::string str(const Scenario& s) const;
};

// Weights: layer weights in wdtype, the embedding/LM head in Scenario::embedding_dtype(), split over
// tp ranks except the parts every rank replicates (norms, routers, MLA down-projections).
// KV cache per layer and token: 2 * kv_heads * head_dim values (kv_heads split by tp, at least 1);
// MLA caches its latent, kv_lora_rank + qk_rope_head_dim values, whole on every rank. Sliding-window
// and chunked layers keep at most their window (vLLM's hybrid KV cache manager, TensorRT-LLM's
// cyclic KV cache), so only full-attention layers grow with the context.
// With a parallel layout: per device after sharding (workloads/sharding.h), for the stage that needs
// the most; a rank's KV cache holds its stage's layers for its replica's sequences (s.rank_batch()).
// `comm`: the system's collective library (default: none, as on one chip).
Footprint footprint(const ModelConfig& m, const Scenario& s, const CommBufferParams& comm = {});
Footprint stage_footprint(const ModelConfig& m, const Scenario& s, const Sharding& sh, int rank, const CommBufferParams& comm = {});

// Throws InputError when f.total() exceeds capacity_bytes, saying how much is needed against how
// much is available and what would make it fit: lower-precision weights / KV cache, the largest
// batch that fits, or the smallest tensor-parallel degree that fits (every alternative with `comm`'s buffers).
// `fp4_weights`: whether the chip runs fp4 weights at all (else fp4 is never advised).
// `capacity_why`: what the capacity is, where it is not the chip's whole memory (said after "is available").
void check_fits(const Footprint& f, double capacity_bytes, const ModelConfig& m, const Scenario& s,
                const std::string& chip_name, const CommBufferParams& comm = {}, bool fp4_weights = true,
                const std::string& capacity_why = "");

}  // namespace xpu
