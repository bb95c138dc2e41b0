// Compiled shape buckets: software that runs ahead-of-time compiled graphs (AWS transformers-neuronx on
// Trainium/Inferentia) pads each step to the smallest shape it compiled. Pure functions of the sizes.
#pragma once
#include <cstdint>
#include <vector>

namespace xpu {

// The prompt and decode shapes one compiled model holds (transformers-neuronx, aws-neuron/transformers-neuronx
// src/transformers_neuronx/bucket.py @ 3e15a8b3). Empty lists: the software runs every step at its exact shape,
// as the GPU stacks do.
//   token:   decode graphs, one per KV length; a decode step with c tokens in its cache (the new one included)
//            runs the smallest bucket >= c (decoder.py find_bucket_id: n_positions >= cache_id + 1), and its
//            attention reads and scores every position of that bucket (the rest masked).
//   context: prompt graphs (context encoding); a prompt is padded to the smallest bucket >= its length
//            (base.py _prepare_for_par_ctx_rhs_padding); one longer than the largest bucket runs the largest
//            and then the rest token by token through the decode graphs (base.py context()).
struct ShapeBuckets {
  std::vector<std::int64_t> context, token;
  bool empty() const { return context.empty() && token.empty(); }
};

// transformers-neuronx's defaults for a model compiled at n_positions: token buckets double from 128 up to
// n_positions, which closes the list (utils.py power_of_two_bucket_sizes(128, n_positions)), and without a
// context_length_estimate the context buckets are half of each token bucket (bucket.py context_sizes).
ShapeBuckets tnx_default_buckets(std::int64_t n_positions);

// NxD Inference's default buckets up to `max_length` (--max-context-length for context encoding, --seq-len for
// token generation, with --enable-bucketing): generate_buckets(128, max_length) (aws-neuron/neuronx-distributed-
// inference src/neuronx_distributed_inference/modules/autobucketing.py @ 11b342a1): powers of two from 128 below
// 2^round(log2(max_length)), then max_length itself.
std::vector<std::int64_t> nxdi_default_buckets(std::int64_t max_length);

// The bucket a size runs in: the smallest bucket >= size; beyond the largest, the largest (bucket.py find:
// bisect_left with hi = the last index). `size` itself where there are no buckets.
std::int64_t bucket_for(const std::vector<std::int64_t>& buckets, std::int64_t size);

}  // namespace xpu
