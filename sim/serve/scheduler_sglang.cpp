// SGLang's scheduler: prefill first (a prefill batch runs alone whenever waiting requests can be
// admitted), otherwise one decode step of every running request; token-level KV allocation with a
// reservation for future output; retraction (recompute) when a decode step runs out of memory.
#include <algorithm>
#include <cmath>

#include "sim/serve/scheduler.h"

namespace xpu {

namespace {
// Rules (SGLang docs: server arguments and "Hyperparameter tuning"; python/sglang/srt/managers/
// scheduler.py and schedule_policy.py, as summarised in their developer guide; the defaults as
// mirrored by NVIDIA's aisimulate-core SGLang model):
//   - get_next_batch_to_run: a new prefill batch if one can be formed, else a decode batch of all
//     running requests. Prefill and decode do not share an iteration (enable_mixed_chunk is off).
//   - A prefill batch takes waiting requests FCFS while the batch holds fewer than max_prefill_tokens
//     (16384) prompt tokens and max_running_requests is not reached; a prompt longer than
//     chunked_prefill_size (8192 on large GPUs) is split, the chunked request continuing first in
//     the next prefill batch.
//   - Admission is conservative: a request enters only if its prompt plus new_token_ratio x the
//     output still to come of it and of every running request fit in the free KV tokens.
//     new_token_ratio starts at 0.7 and decays each decode step to 0.14 x 0.7 over 600 steps; a
//     retraction resets it.
//   - When a decode step finds no room, requests are retracted (their KV freed, recomputed later)
//     until it fits, starting with the least advanced: in FCFS order the newest.
//   - Token-granular KV (page size 1); mem_fraction_static about 0.88 on an 80 GB GPU.
// The scheduler's host work per iteration (HostWork): overlapped, as the overlap ("zero-overhead") batch
// scheduler runs the CPU scheduling of batch n+1 while the GPU runs batch n, on by default since v0.4
// (source: LMSYS blog "SGLang v0.4", 2024-12-04, "Zero-Overhead Batch Scheduler"). No public figure of the
// loop's time per running request was found: not modelled (0), a parameter of HostWork, not a guess.
class SglangScheduler : public Scheduler {
 public:
  // `default_chunk`: chunked_prefill_size when the limits give none (8192 on large GPUs).
  explicit SglangScheduler(const SchedulerLimits& l, std::int64_t default_chunk = 8192) {
    m_limits = l;  // the host-work overrides as given; the limits' defaults below
    m_limits.token_budget = l.token_budget > 0 ? l.token_budget : default_chunk;
    m_limits.max_seqs = l.max_seqs > 0 ? l.max_seqs : 4096;
    m_max_prefill = std::max<std::int64_t>(16384, m_limits.token_budget);
  }
  double memory_fraction() const override { return 0.88; }
  std::int64_t block_tokens() const override { return 1; }
  bool mixes_prefill_and_decode() const override { return false; }
  HostLaunch host_launch() const override { return {0, 0, {}, HostWork{0, 0, true}, {}}; }

  Batch schedule(SchedState& st) override {
    Batch b = prefill_batch(st);
    if (!b.empty()) return b;
    return decode_batch(st);
  }

 private:
  static bool prefilling(const Sequence* s) { return !s->decoding(); }
  double reserved_tokens(const SchedState& st) const {
    double r = 0;
    for (const Sequence* s : st.running) r += std::ceil(static_cast<double>(s->output - s->generated) * m_ratio);
    return r;
  }

  Batch prefill_batch(SchedState& st) {
    Batch b;
    std::int64_t chunk_left = m_limits.token_budget, prefill_left = m_max_prefill;
    for (Sequence* s : st.running)  // a chunked request continues
      if (prefilling(s) && chunk_left > 0) {
        const std::int64_t n = std::min(s->remaining(), chunk_left);
        if (!st.kv.grow(*s, s->computed + n)) return b;
        b.push_back({s, n, s->computed});
        chunk_left -= n;
        prefill_left -= n;
      }
    double free_tokens = static_cast<double>(st.kv.free() * st.kv.block_tokens()) - reserved_tokens(st);
    while (!st.waiting.empty() && chunk_left > 0 && prefill_left > 0 &&
           static_cast<std::int64_t>(st.running.size()) < m_limits.max_seqs) {
      Sequence* s = st.waiting.front();
      const std::int64_t n = std::min(s->remaining(), chunk_left);
      const double future = std::ceil(static_cast<double>(s->output - s->generated) * m_ratio);
      if (static_cast<double>(s->remaining()) + future > free_tokens) break;
      if (!st.kv.grow(*s, s->computed + n)) break;
      st.waiting.pop_front();
      st.running.push_back(s);
      b.push_back({s, n, s->computed});
      free_tokens -= static_cast<double>(s->remaining()) + future;
      chunk_left -= n;
      prefill_left -= n;
    }
    return b;
  }

  Batch decode_batch(SchedState& st) {
    Batch b;
    for (size_t i = 0; i < st.running.size();) {
      Sequence* s = st.running[i];
      if (prefilling(s)) {  // a chunked prompt that found no room: it waits for the next prefill batch
        ++i;
        continue;
      }
      const std::int64_t n = s->remaining();  // 1, or 1 + the drafts of a speculative step
      if (!st.grow_or_preempt(s, s->computed + n, [&] { m_ratio = kInitRatio; })) break;
      b.push_back({s, n, s->computed});
      ++i;
    }
    m_ratio = std::max(kInitRatio * kMinFactor, m_ratio - kInitRatio * (1 - kMinFactor) / kDecaySteps);
    return b;
  }

  static constexpr double kInitRatio = 0.7, kMinFactor = 0.14, kDecaySteps = 600;
  double m_ratio = kInitRatio;

 protected:
  std::int64_t m_max_prefill = 16384;
};

// sglang-jax (sgl-project/sglang-jax, SGLang's scheduler on JAX/XLA for TPUs): SGLang's policy above (its
// scheduler.py, schedule_policy.py and overlap loop are SGLang's), run through XLA programs of static shapes,
// compiled ahead for a set of paddings (python/sgl_jax/srt/managers/tp_worker.py ModelWorker:
// get_max_padded_size, normalize_token_paddings, precompile_extend / precompile_decode;
// utils/common_utils.py PRECOMPILE_DEFAULT_TOKEN_PADDINGS / PRECOMPILE_DEFAULT_BS_PADDINGS; source:
// sgl-project/sglang-jax@00f0fbf5, the defaults unchanged in later versions read):
//   - max_padded_num_tokens = min(max_prefill_tokens 16384, chunked_prefill_size), chunked_prefill_size
//     4096 when not given (server_args.py __post_init__); max_padded_batch_size = min(max_running_requests,
//     max_padded_num_tokens).
//   - A decode batch runs the program of the smallest batch padding that holds it: powers of two 1..256
//     up to max_padded_batch_size, and that size (the padded rows run every per-token op and the LM head).
//   - An EXTEND (prefill) batch runs the program of the smallest token padding that holds its tokens:
//     powers of two 64..8192 within [max_padded_batch_size, max_padded_num_tokens], and that size
//     (schedule_batch.py get_model_worker_batch: the token count padded to a bucket; its batch dimension
//     to max_padded_batch_size, whose logits rows the LM head also computes: not modelled, the head's
//     weights are read once whatever the rows).
//   - The host rebuilds the attention's page table for every iteration at the compiled shape, token by
//     token: ScheduleBatch._merge_cache_loc allocates np.zeros(cache_loc_padding, int32), where the padding
//     is the batch padding x max_req_len for a decode batch and the largest batch padding x max_req_len for
//     an EXTEND batch (precompile_cache_loc_paddings = [bs x page-aligned max_req_len for bs in the batch
//     paddings]; max_req_len = min(context_len - 1, KV pool - 1), 131071 for Llama-3.1/3.3), after gathering
//     each scheduled request's whole row of req_to_token (req_to_token[req_pool_indices], max_req_len
//     entries a request), and ForwardBatch.init_new device_puts it to the chips (sgl-project/sglang-jax
//     python/sgl_jax/srt/managers/schedule_batch.py get_model_worker_batch / _merge_cache_loc as read
//     2026-12-05; issue #1500 on the per-step device_puts). So the host's time grows with the model's context
//     rather than with the tokens held (HostWork::ns_per_table_slot, HostLaunch::table_slots: padded rows +
//     requests, max_req_len slots each).
//   - Its cost per slot, 1.9 ns (calibration, stated): sglang-jax's own per-step timing of the overlap loop
//     (sgl-project/sglang-jax PR #1484, 2026-07, Qwen3-8B TP4 on v6e-4, 16 clients, 1024/1024) measures the
//     batch build (get_model_worker_batch + dispatch) at about 2.5 ms a decode step, with the batch padded to
//     16 and Qwen3-8B's max_req_len 40960: (16 + 16) x 40960 = 1.31M slots, 1.9 ns each with the whole build
//     laid on the table (an upper bound: the build also merges the few per-request arrays and dispatches).
//     The rest of that host step (receive, schedule, results: 2.6-2.9 ms in all) is the fixed 250 us.
//     The loop is SGLang's overlap loop (HostWork::overlapped): an iteration takes max(device, host).
//     The same PR's forward, 5.7-5.9 ms, is the chip model's 5.55 ms for Qwen3-8B's decode step at TP4,
//     batch 16, context 1500 (the device side holds; the 8B cookbook row's missing time is this host work).
//   - Its running requests (ModelWorker.__init__, sgl-project/sglang-jax@00c7ca62 python/sgl_jax/srt/managers/
//     tp_worker.py): max_running_requests = min(server limit, request pool, attention backend's limit), where the
//     server limit is --max-running-requests, or the KV pool's tokens // 2 when not given; the request pool
//     (ReqToTokenPool) holds --max-running-requests + 1, or min(max(int(KV tokens / context_len x 512), 2048),
//     4096) + 1 when not given (sgl-project/sglang-jax@005112cb model_executor/model_runner.py init_memory_pool);
//     and the default "fa" backend's limit (layers/attention/flashattention_backend.py
//     FlashAttention.get_max_running_reqests, sgl-project/sglang-jax@0127b6c3) is
//     1024 x 1024 // 2 // ceil(context_len / page_size) // 4: its budget for the page indices it holds in SMEM
//     (sglang-jax issue #86, "insufficient smem in flash attn kernel"). context_len is the model's
//     (max_position_embeddings; --context-length not modelled), page_size --page-size, 1 by default
//     (server_args.py, sgl-project/sglang-jax@00f0fbf5; SchedulerLimits::page_tokens). So a 128K-context model
//     at the default page size runs one request at a time (524288 // 131072 // 4 = 1), the batch paddings and the
//     page table with it; the cookbook launches use --page-size 128 (128 requests at 128K). Where the backend's
//     limit is 0 sglang-jax asserts and does not start: 1 here. The limit is attested in sglang-jax's log format
//     by issue #477 (2025-11-24: "Attention backend: 512 (context_len=32768, page_size=128)").
//   - Its KV cache is allocated by pages of page_size tokens (PagedTokenToKVPoolAllocator; page 1: per token).
//   - The tokens of one forward pass: at most the largest compiled token padding, max_padded_num_tokens =
//     min(max_prefill_tokens, chunked_prefill_size) (tp_worker.py get_max_padded_size): no larger program exists, and
//     a batch beyond every padding fails (schedule_batch.py find_padding_size raises "No suitable bucket").
//     max_prefill_tokens stays at its 16384 (server_args.py; no flag here), so a --token-budget (chunked_prefill_size)
//     above 16384 schedules as 16384: SGLang's PrefillAdder already stops a batch of several requests below
//     max_prefill_tokens (a request joins only if its tokens are below what is left of it), and the one case it lets
//     through, a first request's chunk beyond 16384 tokens, is one sglang-jax cannot run; here it is chunked at 16384
//     (assumed), so the largest iteration the scheduler runs, the activations sized for it (serve_memory) and the
//     largest token padding agree.
class SglangJaxScheduler : public SglangScheduler {
 public:
  explicit SglangJaxScheduler(const SchedulerLimits& l)
      : SglangScheduler(capped(l), kDefaultChunk), m_given_seqs(l.max_seqs), m_page(l.page_tokens > 0 ? l.page_tokens : 1) {}
  std::int64_t block_tokens() const override { return m_page; }
  void set_context_tokens(std::int64_t context_len, std::int64_t kv_tokens) override {
    Scheduler::set_context_tokens(context_len, kv_tokens);
    if (context_len <= 0) return;
    std::int64_t n = max_running_for(context_len, m_page);
    if (m_given_seqs > 0) n = std::min(n, m_given_seqs);  // the pool (given + 1) never binds below it
    else if (kv_tokens > 0) {
      const std::int64_t pool = std::min<std::int64_t>(
          std::max<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(kv_tokens) / static_cast<double>(context_len) * 512), 2048), 4096) + 1;
      n = std::min({n, kv_tokens / 2, pool});
    } else n = std::min(n, kDefaultMaxRunning);
    m_limits.max_seqs = std::max<std::int64_t>(1, n);
  }
  // The logits rows: the batch dimension it pads an iteration to, at most max_padded_batch_size = min(max_running_requests,
  // max_padded_num_tokens) (the LogitsProcessor computes a row per padded request: schedule_batch.py
  // get_model_worker_batch pads to the batch padding, layers/logits_processor.py), with max_running_requests bounded
  // by the attention backend at this context and page size (as set_context_tokens); the request pool's bound (2049
  // or more) and the KV pool's tokens // 2 depend on the pool these rows help size: not applied (an upper bound).
  std::int64_t logits_rows(std::int64_t context_len) const override {
    std::int64_t n = m_given_seqs > 0 ? m_given_seqs : kDefaultMaxRunning;
    if (context_len > 0) n = std::min(n, std::max<std::int64_t>(1, max_running_for(context_len, m_page)));
    return std::min(n, m_limits.token_budget);  // max_padded_num_tokens (capped())
  }
  // The "fa" attention backend's bound on running requests for a context of `context_len` tokens in pages of
  // `page` tokens (0 where sglang-jax would refuse to start).
  static std::int64_t max_running_for(std::int64_t context_len, std::int64_t page) {
    const std::int64_t pages = (context_len + page - 1) / page;
    return 1024 * 1024 / 2 / pages / 4;
  }
  HostLaunch host_launch() const override {
    HostLaunch h = SglangScheduler::host_launch();
    h.work.fixed_us = kHostFixedUs;
    h.work.ns_per_table_slot = kNsPerTableSlot;
    const std::int64_t max_tokens = m_limits.token_budget;  // max_padded_num_tokens (capped())
    const std::int64_t max_bs = std::min(m_limits.max_seqs, max_tokens);
    for (std::int64_t bs = 1; bs <= 256 && bs < max_bs; bs *= 2) h.graph_batches.push_back(bs);
    h.graph_batches.push_back(max_bs);
    h.graph_max_batch = max_bs;
    for (std::int64_t t = 64; t <= 8192 && t < max_tokens; t *= 2)
      if (t >= max_bs) h.token_buckets.push_back(t);
    h.token_buckets.push_back(max_tokens);
    return h;
  }

 private:
  // The limits with the token budget at max_padded_num_tokens = min(max_prefill_tokens 16384, chunked_prefill_size).
  static SchedulerLimits capped(SchedulerLimits l) {
    if (l.token_budget > kMaxPrefillTokens) l.token_budget = kMaxPrefillTokens;
    return l;
  }
  static constexpr std::int64_t kDefaultChunk = 4096, kMaxPrefillTokens = 16384;
  static constexpr double kHostFixedUs = 250, kNsPerTableSlot = 1.9;
  static constexpr std::int64_t kDefaultMaxRunning = 4096;
  std::int64_t m_given_seqs, m_page;
};
}  // namespace

std::unique_ptr<Scheduler> make_sglang_scheduler(const SchedulerLimits& limits) {
  return std::make_unique<SglangScheduler>(limits);
}

std::unique_ptr<Scheduler> make_sglang_jax_scheduler(const SchedulerLimits& limits) {
  return std::make_unique<SglangJaxScheduler>(limits);
}

}  // namespace xpu
