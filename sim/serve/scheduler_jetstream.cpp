// JetStream's orchestrator over jetstream-pytorch's engine: a fixed number of decode slots, each request
// prefilled alone at batch 1 on a power-of-two bucket and inserted into a free slot, generate steps over every slot.
#include <algorithm>

#include "sim/serve/scheduler.h"

namespace xpu {

namespace {
// Rules, from the sources (JetStream: google/JetStream, now AI-Hypercomputer/JetStream; jetstream-pytorch:
// AI-Hypercomputer/jetstream-pytorch):
//   - The generate engine holds `max_concurrent_decodes` slots, jetstream-pytorch's batch_size, and a decode state
//     of that many rows whatever they hold (jetstream/core/orchestrator.py Driver: _generate_slots, a queue of the
//     slot numbers; jetstream_pt/engine.py init_decode_state, tokens [batch_size, 1] and a KV cache of
//     cache_shape = (batch_size, n_kv_heads, max_cache_length, head_dim); google/JetStream@58036bbb,
//     jetstream-pytorch@01d2eef0).
//   - The prefill thread takes one request at a time from the prefill backlog, pads its tokens (BOS first) to
//     the smallest bucket of 16, 32, ..., capped at the engine's max_prefill_length (its max input length), and
//     runs prefill on [1, bucket] tokens (token_utils.py pad_tokens / take_nearest_length / DEFAULT_PREFILL_BUCKETS,
//     AI-Hypercomputer/JetStream@a3af89b9; engine.py prefill: padded_tokens.reshape(1, -1), a causal mask over
//     the whole bucket). A longer prompt keeps its last max_prefill_length tokens there: not modelled, it is
//     prefilled whole.
//   - The generate thread, before every step, takes a free slot and a prefilled request as long as both exist
//     and inserts the request's KV into that slot (orchestrator.py _generate_thread, the inner while loop;
//     engine.py insert: a dynamic_update_slice of the bucket's KV, not modelled). jetstream-pytorch runs
//     prefill and generate on the same chips (jetstream_pt/config.py@04f1401b: interleaved_slices), where the
//     generate thread blocks for the prefill backlog while it is not empty (orchestrator.py: `block |= not
//     self._prefill_backlog.empty()` in interleaved mode), so every free slot is filled, one prefill per request,
//     before the next step: here each prefill is an iteration of its own and a generate step runs only when no
//     slot is free or nothing waits. Prefill and generate never share an iteration.
//   - A generate step runs the whole decode state: every slot, empty or not, through every per-token op, the
//     LM head and attention, and attention reads each slot's whole cache under a mask (engine.py generate and
//     the decode state's mask [batch_size, cache_sequence_length]; ragged attention, `ragged_mha`, is off by
//     default), so HostLaunch pads a decode step to the slots and sets slot_cache_tokens.
//   - A request's KV lives in its slot's fixed cache of max_cache_length tokens (a ring: a longer request
//     overwrites its oldest keys, jetstream-pytorch's rolling window), so a slot is one KV block of
//     max_cache_length tokens and nothing is ever preempted.
//   - A request ends at a stop token or its max_tokens (token_utils.py process_result_tokens): its output
//     length as drawn.
// Host work (Python threads for prefill, transfer, generate and detokenization, and the GIL they share): no
// public figure found, not modelled (0).
class JetStreamScheduler : public Scheduler {
 public:
  explicit JetStreamScheduler(const SchedulerLimits& l) {
    m_limits = l;
    m_limits.max_seqs = l.max_seqs > 0 ? l.max_seqs : kDefaultSlots;
    m_limits.token_budget = l.token_budget > 0 ? l.token_budget : kDefaultMaxPrefill;
    m_limits.cache_tokens = l.cache_tokens > 0 ? l.cache_tokens : kDefaultCache;
  }
  // Assumed: XLA on TPU holds the decode state, weights and program buffers in HBM with about a tenth left to
  // the runtime; the engine uses slots x max_cache_length of what remains (a smaller pool admits fewer slots).
  double memory_fraction() const override { return 0.9; }
  std::int64_t block_tokens() const override { return m_limits.cache_tokens; }
  bool mixes_prefill_and_decode() const override { return false; }
  HostLaunch host_launch() const override {
    HostLaunch h;
    const std::int64_t max_prefill = m_limits.token_budget;
    for (std::int64_t t = kSmallestBucket; t < max_prefill; t *= 2) h.token_buckets.push_back(t);
    h.token_buckets.push_back(max_prefill);
    h.graph_batches = {m_limits.max_seqs};
    h.graph_max_batch = m_limits.max_seqs;
    h.slot_cache_tokens = m_limits.cache_tokens;
    return h;
  }

  Batch schedule(SchedState& st) override {
    const std::int64_t cache = m_limits.cache_tokens;
    if (!st.waiting.empty() && static_cast<std::int64_t>(st.running.size()) < m_limits.max_seqs) {
      Sequence* s = st.waiting.front();
      if (st.kv.grow(*s, std::min(s->num_tokens(), cache))) {  // its slot: one block of the whole cache
        st.waiting.pop_front();
        st.running.push_back(s);
        return {{s, s->remaining(), s->computed}};
      }
    }
    Batch b;
    for (Sequence* s : st.running) b.push_back({s, s->remaining(), s->computed});
    return b;
  }

 private:
  // Assumed defaults where the limits give none: 32 slots (no server default was read; the summary's rows run
  // 48-1024), create_pytorch_engine's context_length 1024 (the max input length) and max_cache_length 1024
  // (jetstream_pt/engine.py@01d2eef0).
  static constexpr std::int64_t kDefaultSlots = 32, kDefaultMaxPrefill = 1024, kDefaultCache = 1024;
  static constexpr std::int64_t kSmallestBucket = 16;  // DEFAULT_PREFILL_BUCKETS[0]
};
}  // namespace

std::unique_ptr<Scheduler> make_jetstream_scheduler(const SchedulerLimits& limits) {
  return std::make_unique<JetStreamScheduler>(limits);
}

}  // namespace xpu
