// Device memory a scenario needs per chip (weights, KV cache, peak activations) and the check that
// it fits, with advice on what would make it fit.
#pragma once
#include <string>

#include "workloads/model.h"
#include "workloads/scenario.h"
#include "workloads/sharding.h"

namespace xpu {

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
  double total() const { return weight_bytes + kv_cache_bytes + activation_bytes; }
  // "weights 16.06 GB (bf16) + KV cache 1.074 GB (bf16) + activations 150.2 MB"
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
Footprint footprint(const ModelConfig& m, const Scenario& s);
Footprint stage_footprint(const ModelConfig& m, const Scenario& s, const Sharding& sh, int rank);

// Throws InputError when f.total() exceeds capacity_bytes, saying how much is needed against how
// much is available and what would make it fit: lower-precision weights / KV cache, the largest
// batch that fits, or the smallest tensor-parallel degree that fits.
void check_fits(const Footprint& f, double capacity_bytes, const ModelConfig& m, const Scenario& s,
                const std::string& chip_name);

}  // namespace xpu
