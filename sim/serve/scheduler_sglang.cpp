// SGLang's scheduler: prefill first (a prefill batch runs alone whenever waiting requests can be
// admitted), otherwise one decode step of every running request; token-level KV allocation with a
// reservation for future output; retraction (recompute) when a decode step runs out of memory.
#include <algorithm>
#include <cmath>

#include "sim/serve/scheduler.h"

namespace xpu {

namespace {
// Rules, read in SGLang's source (python/sglang/srt/managers/scheduler.py get_next_batch_to_run /
// get_new_batch_prefill / update_running_batch, schedule_policy.py PrefillAdder, schedule_batch.py
// retract_decode, global_config.py; in the form SGLang had through v0.5 and sglang-jax keeps:
// sgl-project/sglang-jax@038c7307 python/sgl_jax/srt/managers/schedule_policy.py and @0001b0c6
// schedule_batch.py):
//   - get_next_batch_to_run: a new prefill batch if one can be formed, else a decode batch of all
//     running requests. Prefill and decode do not share an iteration (enable_mixed_chunk is off by default).
//   - A prefill batch is built by a PrefillAdder with three budgets: rem_chunk_tokens =
//     chunked_prefill_size (the --token-budget), rem_input_tokens = max_prefill_tokens (16384, a server
//     argument of its own: a larger chunk does not raise it), and rem_total_tokens = the free KV tokens
//     less new_token_ratio x min(max_new_tokens - output, 4096) of every running request and less
//     prompt + min(max_new_tokens, 4096) of every request the batch took (CLIP_MAX_NEW_TOKENS 4096).
//     The in-flight chunked request goes first (add_chunked_req: the rest of its prompt up to
//     min(rem_chunk_tokens, rem_total_tokens)). Then waiting requests FCFS (add_one_req), each:
//       stop (NO_TOKEN) if its prompt + min(its output to come, 4096) >= rem_total_tokens: a new request
//         reserves its whole output, a running one only the ratio of it;
//       stop (OTHER) if its prompt >= rem_input_tokens and the batch holds a request already: the first
//         request of a batch passes whatever its length (so one iteration may exceed max_prefill_tokens,
//         up to the chunk), the others only below what is left of max_prefill_tokens;
//       whole if its prompt fits rem_chunk_tokens, else its first rem_chunk_tokens tokens (rounded down to
//         a page) and it becomes the chunked request; the batch stops once a budget is spent (budget_state)
//         or max_running_requests is reached.
//     SGLang after v0.5 (sgl-project/sglang@00550cd1 schedule_policy.py _select_prefill_admission) applies
//     the per-request max_prefill_tokens test only without chunked prefill: not modelled (the batch still
//     stops once max_prefill_tokens are spent).
//   - new_token_ratio starts at 0.7 and decays by (0.7 - 0.14 x 0.7) / 600 each decode step to 0.14 x 0.7
//     (SGLANG_INIT_NEW_TOKEN_RATIO, SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR, SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS); it
//     returns to 0.7 when the server idles (self_check_during_idle).
//   - A decode step first checks that the KV pool holds one more token per request (check_decode_mem).
//     If not, requests are retracted (their KV freed, appended to the waiting queue, recomputed later):
//     the fewest generated tokens first, the longest prompt among equals, at least one, until the pool
//     holds retract_decode_steps (20) tokens per remaining request, never the last one; new_token_ratio
//     becomes min(1, (tokens generated + 20 x requests) / their max_new_tokens) over those that remain.
//     Otherwise the ratio decays.
//   - Token-granular KV (page size 1); mem_fraction_static about 0.88 on an 80 GB GPU.
//   - chunked_prefill_size when not given, by the GPU's memory (server_args.py, sgl-project/sglang@469c63e5
//     _handle_gpu_memory_settings; get_device_memory_capacity in MiB): 2048 below 35 GiB, 4096 below 60 GiB,
//     8192 below 160 GiB (H100, H200, A100-80GB), 16384 above (B200, MI300X). Memory unknown: 8192 (assumed:
//     an 80 GB-class GPU).
//   - max_running_requests when not given: min(KV tokens // 2, the request pool), the pool
//     min(max(KV tokens / context x 512, 2048), 4096) + 1 slots (model_runner.py init_memory_pool,
//     tp_worker.py; set once the pool is sized, set_context_tokens).
// The scheduler's host work per iteration (HostWork): overlapped, as the overlap ("zero-overhead") batch
// scheduler runs the CPU scheduling of batch n+1 while the GPU runs batch n, on by default since v0.4
// (source: LMSYS blog "SGLang v0.4", 2024-12-04, "Zero-Overhead Batch Scheduler"). No public figure of the
// loop's time per running request was found: not modelled (0), a parameter of HostWork, not a guess.
constexpr std::int64_t kMaxPrefillTokens = 16384;  // max_prefill_tokens (server_args.py)
constexpr std::int64_t kClipMaxNewTokens = 4096;   // CLIP_MAX_NEW_TOKENS (schedule_policy.py)
constexpr std::int64_t kRetractDecodeSteps = 20;   // retract_decode_steps (global_config.py)
constexpr std::int64_t kDefaultMaxRunning = 4096;  // the request pool's bound before the KV pool is known

// chunked_prefill_size by the GPU's memory (`device_bytes`; 0: unknown).
std::int64_t default_chunk(double device_bytes) {
  if (device_bytes <= 0) return 8192;
  const double gib = device_bytes / (1024.0 * 1024.0 * 1024.0);
  return gib < 35 ? 2048 : gib < 60 ? 4096 : gib < 160 ? 8192 : 16384;
}

class SglangScheduler : public Scheduler {
 public:
  // `chunk`: chunked_prefill_size when the limits give none.
  SglangScheduler(const SchedulerLimits& l, std::int64_t chunk) : m_given_seqs(l.max_seqs) {
    m_limits = l;  // the host-work overrides as given; the limits' defaults below
    m_limits.token_budget = l.token_budget > 0 ? l.token_budget : chunk;
    m_limits.max_seqs = l.max_seqs > 0 ? l.max_seqs : kDefaultMaxRunning;
  }
  double memory_fraction() const override { return 0.88; }
  std::int64_t block_tokens() const override { return 1; }
  // SGLang's decode server runs a chunk cache unless --disaggregation-decode-enable-radix-cache (off by default), so
  // the prefill server sends the whole request (sim/serve/disagg.h, prefix caching; sglang-jax: assumed the same).
  PdPrefixRule pd_prefix_rule() const override { return {false, "whole prompt (SGLang: decode chunk cache)"}; }
  // --disaggregation-decode-enable-radix-cache (serve --decode-radix-cache; sim/serve/disagg.h): the decode server keeps
  // its radix cache, matches each request's prompt there before it preallocates (decode.py, DecodePreallocQueue.
  // _match_prefix_and_lock), tells the prefill server the matched length (TransferInfo.decode_prefix_len), and the
  // prefill server sends from it on (prefill.py, PrefillBootstrapQueue.pop_bootstrapped: start_send_idx).
  std::optional<PdPrefixRule> pd_decode_radix_rule() const override {
    return PdPrefixRule{true, "uncached tokens (SGLang: decode radix cache, --disaggregation-decode-enable-radix-cache)"};
  }
  bool mixes_prefill_and_decode() const override { return false; }
  HostLaunch host_launch() const override { return {0, 0, {}, HostWork{0, 0, true}, {}}; }
  void set_context_tokens(std::int64_t context_len, std::int64_t kv_tokens) override {
    Scheduler::set_context_tokens(context_len, kv_tokens);
    if (m_given_seqs > 0) return;
    if (context_len <= 0 || kv_tokens <= 0) {
      m_limits.max_seqs = kDefaultMaxRunning;
      return;
    }
    const auto pool = std::min<std::int64_t>(
        std::max<std::int64_t>(static_cast<std::int64_t>(static_cast<double>(kv_tokens) / static_cast<double>(context_len) * 512), 2048), 4096);
    m_limits.max_seqs = std::max<std::int64_t>(1, std::min(kv_tokens / 2, pool + 1));
  }

  Batch schedule(SchedState& st) override {
    Batch b = prefill_batch(st);
    if (b.empty()) b = decode_batch(st);
    if (b.empty()) m_ratio = kInitRatio;  // nothing to run: the server idles
    return b;
  }

 private:
  static bool prefilling(const Sequence* s) { return !s->decoding(); }
  static double clipped(std::int64_t tokens) { return static_cast<double>(std::clamp<std::int64_t>(tokens, 0, kClipMaxNewTokens)); }

  // PrefillAdder's budgets for one prefill batch, in tokens.
  struct Budget {
    double total;                 // rem_total_tokens
    double current;               // cur_rem_tokens: the free KV less the batch's prompt tokens
    std::int64_t input, chunk;    // rem_input_tokens, rem_chunk_tokens
    bool spent() const { return total <= 0 || current <= 0 || input <= 0 || chunk <= 0; }
  };

  Batch prefill_batch(SchedState& st) {
    Batch b;
    const std::int64_t page = st.kv.block_tokens();
    const double free_tokens = static_cast<double>(st.kv.free() * page);
    double reserved = 0;
    for (const Sequence* s : st.running)
      if (!prefilling(s)) reserved += clipped(s->output - s->generated) * m_ratio;
    Budget g{free_tokens - reserved, free_tokens, kMaxPrefillTokens, m_limits.token_budget};
    const auto take = [&](Sequence* s, std::int64_t n, double output) {
      const std::int64_t t = st.kv.block_rounded(n);
      g.total -= static_cast<double>(t) + output;
      g.current -= static_cast<double>(t);
      g.input -= t;
      g.chunk -= t;
      b.push_back({s, n, s->computed});
    };
    for (Sequence* s : st.running) {  // the chunked request continues
      if (!prefilling(s)) continue;
      std::int64_t room = std::min(g.chunk, static_cast<std::int64_t>(std::floor(g.total)));
      if (room <= 0) room = g.chunk;
      if (room <= 0) break;
      const std::int64_t n = std::min(s->remaining(), room);
      if (!st.kv.grow(*s, s->computed + n)) return b;
      take(s, n, n == s->remaining() ? clipped(s->output) : 0);
    }
    while (!st.waiting.empty() && static_cast<std::int64_t>(st.running.size()) < m_limits.max_seqs) {
      Sequence* s = st.waiting.front();
      const std::int64_t input = st.kv.block_rounded(s->remaining());
      if (static_cast<double>(s->remaining()) + clipped(s->output - s->generated) >= g.total) break;  // NO_TOKEN
      if (input >= g.input && !b.empty()) break;  // max_prefill_tokens
      std::int64_t n = s->remaining();
      double output = clipped(s->output);
      if (input > g.chunk) {  // its first chunk
        n = g.chunk / page * page;
        output = 0;
        if (n <= 0) break;
      }
      if (!st.kv.grow(*s, s->computed + n)) break;
      st.waiting.pop_front();
      st.running.push_back(s);
      take(s, n, output);
      if (g.spent()) break;
    }
    return b;
  }

  Batch decode_batch(SchedState& st) {
    std::vector<Sequence*> batch;  // the running batch: every running request but a chunked prompt
    for (Sequence* s : st.running)
      if (!prefilling(s)) batch.push_back(s);
    if (batch.empty()) return {};
    std::int64_t need = 0;
    for (const Sequence* s : batch) need += st.kv.needed(*s, s->computed + s->remaining());
    if (need > st.kv.free()) retract(st, batch);
    else m_ratio = std::max(kInitRatio * kMinFactor, m_ratio - kInitRatio * (1 - kMinFactor) / kDecaySteps);
    Batch b;
    for (Sequence* s : st.running) {
      if (prefilling(s)) continue;  // a chunked prompt that found no room: it waits for the next prefill batch
      const std::int64_t n = s->remaining();  // 1, or 1 + the drafts of a speculative step
      if (!st.grow_or_preempt(s, s->computed + n, [] {})) break;  // the last request alone: no room even so
      b.push_back({s, n, s->computed});
    }
    return b;
  }

  // retract_decode: `batch` loses its requests with the fewest generated tokens (the longest prompt first
  // among equals) until the pool holds kRetractDecodeSteps tokens for each that remains; at least one goes,
  // never the last. Each goes to the back of the waiting queue with its KV freed.
  void retract(SchedState& st, std::vector<Sequence*>& batch) {
    std::stable_sort(batch.begin(), batch.end(), [](const Sequence* a, const Sequence* b) {
      return a->generated != b->generated ? a->generated > b->generated : a->input < b->input;
    });
    for (bool first = true; batch.size() > 1 && (first || st.kv.free() * st.kv.block_tokens() <
                                                              kRetractDecodeSteps * static_cast<std::int64_t>(batch.size()));
         first = false) {
      Sequence* s = batch.back();
      batch.pop_back();
      st.preempt(s);
      st.waiting.pop_front();  // preempt() put it first: SGLang appends a retracted request
      st.waiting.push_back(s);
    }
    double generated = 0, output = 0;
    for (const Sequence* s : batch) {
      generated += static_cast<double>(s->generated);
      output += static_cast<double>(s->output);
    }
    m_ratio = std::min(1.0, (generated + static_cast<double>(kRetractDecodeSteps * static_cast<std::int64_t>(batch.size()))) / output);
  }

  static constexpr double kInitRatio = 0.7, kMinFactor = 0.14, kDecaySteps = 600;
  double m_ratio = kInitRatio;

 protected:
  std::int64_t m_given_seqs;
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
      : SglangScheduler(capped(l), kDefaultChunk), m_page(l.page_tokens > 0 ? l.page_tokens : 1) {}
  std::int64_t block_tokens() const override { return m_page; }
  // SGLang's decode radix cache option is not sourced in sglang-jax (its PD path is assumed as SGLang's default).
  std::optional<PdPrefixRule> pd_decode_radix_rule() const override { return std::nullopt; }
  // SGLang's bound (the limits' or the request pool's, SglangScheduler), and the attention backend's.
  void set_context_tokens(std::int64_t context_len, std::int64_t kv_tokens) override {
    SglangScheduler::set_context_tokens(context_len, kv_tokens);
    if (context_len <= 0) return;
    m_limits.max_seqs = std::max<std::int64_t>(1, std::min(m_limits.max_seqs, max_running_for(context_len, m_page)));
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
  static constexpr std::int64_t kDefaultChunk = 4096;
  static constexpr double kHostFixedUs = 250, kNsPerTableSlot = 1.9;
  std::int64_t m_page;
};
}  // namespace

std::unique_ptr<Scheduler> make_sglang_scheduler(const SchedulerLimits& limits, double device_bytes) {
  return std::make_unique<SglangScheduler>(limits, default_chunk(device_bytes));
}

std::unique_ptr<Scheduler> make_sglang_jax_scheduler(const SchedulerLimits& limits) {
  return std::make_unique<SglangJaxScheduler>(limits);
}

}  // namespace xpu
