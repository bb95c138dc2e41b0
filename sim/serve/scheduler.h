// Iteration-level scheduling of an inference server: the sequences it holds, its paged KV cache, and the
// policy (vLLM, SGLang, TensorRT-LLM in-flight batching, JetStream's decode slots) that picks each iteration's work.
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace xpu {

struct StepShape;
struct StepCost;

// The serving framework's own host work in one iteration beside the kernel dispatch: scheduling, preparing
// the inputs and attention metadata, sampling post-processing, stop checks and response handling, most of
// it a Python loop over the requests the engine holds, so `fixed_us` + `us_per_request` x running requests
// (each policy states its figures and their sources). `overlapped`: the framework runs this work while the
// GPU runs the next step (TensorRT-LLM's overlap scheduler, vLLM's async scheduling, SGLang's overlap
// scheduler), so an iteration takes max(GPU time, host time); otherwise the GPU idles through it and the
// iteration takes the GPU time plus this work. Zero figures: not modelled (today's step times exactly).
// `ns_per_table_slot`: host time per slot of a page table that the framework builds and copies to its chips
// every iteration at the size of the compiled program rather than of the tokens held (sglang-jax: rows of the
// batch padding x the longest request's tokens, HostLaunch::table_slots); 0: none.
struct HostWork {
  double fixed_us = 0, us_per_request = 0;
  bool overlapped = false;
  double ns_per_table_slot = 0;
  double seconds(std::int64_t running, double table_slots = 0) const {
    return (fixed_us + us_per_request * static_cast<double>(running)) * 1e-6 + ns_per_table_slot * table_slots * 1e-9;
  }
};

// How the serving runtime gets an iteration's kernels onto the GPU (a property of the engine, see
// Scheduler::host_launch). An iteration without prompt work (decode and verification only) of at most
// `graph_max_batch` sequences replays a captured CUDA graph: one launch, the host's per-kernel cost
// gone. Any other iteration runs eagerly: the host dispatches its kernels one by one, `us_per_kernel`
// each, while the GPU runs the ones already queued, so the iteration takes at least the host's
// dispatch time (max(GPU time, kernels x us_per_kernel): the bound of an asynchronous launch queue,
// reached when the host falls behind). Both 0: not modelled (the GPU's time alone).
// With `graph_batches` (the captured sizes, ascending, the last one `graph_max_batch`), a graphed
// iteration is padded up to the smallest captured size that holds it: the runtime appends dummy
// generation requests of one cached token each and replays that size's graph, so every per-token
// kernel, collective and the LM head run on the padded rows (TensorRT-LLM's cuda_graph_padding_enabled;
// speculative verification steps are not padded: assumed, no padding rule modelled for them).
// With `token_buckets` (ascending), an iteration with prompt work runs a program compiled for the smallest
// bucket that holds its tokens, the rest padding tokens that every per-token kernel, collective and norm
// processes and attention masks out (an XLA serving runtime's static shapes: sglang-jax pads each EXTEND
// batch to one of its precompiled token paddings, ModelWorker.normalize_token_paddings). Empty: none.
struct HostLaunch {
  double us_per_kernel = 0;
  std::int64_t graph_max_batch = 0;
  std::vector<std::int64_t> graph_batches;  // empty: no padding, the graph of the batch's own size
  HostWork work{};                          // the framework's per-iteration host work (default: none)
  std::vector<std::int64_t> token_buckets{};  // empty: prompt iterations at their own token count
  // A static-shape engine whose programs compute over their padding (JetStream's generate and prefill on a
  // dense KV cache, scheduler_jetstream.cpp): a decode step's rows, padding rows included, each attend over all
  // `slot_cache_tokens` positions of their slot's cache whatever they hold, and a prompt's padding tokens go
  // through attention as prompt tokens (a causal mask over the whole bucket). 0: attention reads only the
  // tokens held, padding rows one cached token, padding tokens none.
  std::int64_t slot_cache_tokens = 0;
  // Tokens of one row of the per-iteration page table (HostWork::ns_per_table_slot): the longest request the
  // server admits, min(the model's context, the KV pool), set by the run (Scheduler::set_context_tokens).
  std::int64_t table_row_tokens = 0;
  bool graphed(const StepShape& s) const;
  // Slots of the page table the host builds for iteration `s` (0 without HostWork::ns_per_table_slot): a
  // row of `table_row_tokens` per row of the program it runs (a decode batch's padding; an iteration with
  // prompt work, the largest batch padding, graph_max_batch) plus one per request of the batch, whose
  // whole row of the request-to-token table the host gathers first.
  double table_slots(const StepShape& s) const;
  // The shape the GPU runs: `s` with its padding rows where it replays a padded graph or pads its prompt
  // tokens to a compiled bucket, else `s`.
  StepShape padded(const StepShape& s) const;
  // The host's dispatch time of one iteration (0 when it replays a graph).
  double dispatch_s(const StepShape& s, double kernels) const;
  // The host's time for one iteration with `running` requests held: its dispatch plus its framework work.
  double host_s(const StepShape& s, double kernels, std::int64_t running) const;
  // `c` with its time raised where the host binds (`running`: the requests the engine holds): overlapped
  // framework work, max(GPU, dispatch + work); otherwise max(GPU, dispatch) + work. The GPU idles meanwhile.
  StepCost bound(StepCost c, const StepShape& s, std::int64_t running = 0) const;
  // The same with the host's dispatch and framework times given (a data-parallel attention group: its slowest host).
  StepCost bound(StepCost c, double dispatch, double framework) const;
};

// One request inside the server. Tokens are counted the way vLLM V1 counts them: `num_tokens()` is the
// prompt plus what has been generated, `computed` how many of them sit in the KV cache. A step that
// brings `computed` up to `num_tokens()` samples the next token, so prefill, chunked prefill, decode and
// recomputation after preemption are one rule (vLLM docs, "V1 scheduler: no distinction between
// prefill and decode"; Sarathi-Serve's chunked prefill).
struct Sequence {
  std::int64_t id = 0;
  double arrival_s = 0;
  std::int64_t input = 0, output = 0;  // prompt tokens, tokens to generate
  std::int64_t generated = 0;          // tokens sampled so far
  std::int64_t computed = 0;           // tokens whose KV is in the cache
  std::int64_t blocks = 0;             // KV blocks held by this sequence alone
  std::int64_t preemptions = 0;
  // Prefix caching: the first `prefix` prompt tokens (whole blocks) hit the cache; their KV blocks are
  // shared with every other sequence of the same prefix and not computed again (vLLM automatic prefix
  // caching, SGLang RadixAttention). `shared` is the number of shared blocks this sequence references.
  std::int64_t prefix = 0, shared = 0;
  // Speculative decoding: draft tokens verified with each decode step (0: plain decode), and the
  // fractional accepted tokens carried to the next step (see EngineFeatures).
  std::int64_t lookahead = 0;
  double spec_credit = 0;
  double first_token_s = -1, last_token_s = -1, finish_s = -1;
  std::int64_t num_tokens() const { return input + generated; }
  // Decoding: the prompt and every sampled token but the last are in the cache.
  bool decoding() const { return generated > 0 && computed == num_tokens() - 1; }
  // Draft tokens the next decode step verifies: none beyond the answer's end.
  std::int64_t drafts() const { return decoding() ? std::max<std::int64_t>(0, std::min(lookahead, output - generated - 1)) : 0; }
  // Tokens the next step processes: the uncached ones, plus the drafts of a speculative decode step.
  std::int64_t remaining() const { return num_tokens() - computed + drafts(); }
  bool done() const { return generated >= output; }
};

// The paged KV cache: fixed-size blocks of `block_tokens` tokens, a sequence holds ceil(tokens / block)
// of them (vLLM's PagedAttention block table; TensorRT-LLM's paged KV cache; SGLang allocates per token,
// which is the block size 1).
class KvBlockPool {
 public:
  KvBlockPool(std::int64_t blocks, std::int64_t block_tokens) : m_total(blocks), m_free(blocks), m_block(block_tokens) {}
  std::int64_t total() const { return m_total; }
  std::int64_t free() const { return m_free; }
  std::int64_t used() const { return m_total - m_free; }
  std::int64_t block_tokens() const { return m_block; }
  std::int64_t blocks_for(std::int64_t tokens) const { return (tokens + m_block - 1) / m_block; }
  // The tokens the blocks_for(tokens) whole blocks hold (`tokens` rounded up to the block size).
  std::int64_t block_rounded(std::int64_t tokens) const { return blocks_for(tokens) * m_block; }
  // Grows `s` to hold `tokens` tokens, taking its reference to the shared prefix blocks first; false
  // (nothing taken) when the free blocks do not suffice.
  bool grow(Sequence& s, std::int64_t tokens);
  // The free blocks grow(s, tokens) would take.
  std::int64_t needed(const Sequence& s, std::int64_t tokens) const;
  void release(Sequence& s);  // returns every block of `s` and drops its reference to the shared prefix
  // Blocks of the shared prefix in use: the prefixes are nested (one common prompt head), so they hold
  // as many blocks as the longest prefix any holding sequence references, counted once.
  std::int64_t shared() const { return m_refs.empty() ? 0 : *m_refs.rbegin(); }

 private:
  // Blocks of its own `s` still lacks to hold `tokens` tokens (the shared prefix's whole blocks not counted).
  std::int64_t own_blocks(const Sequence& s, std::int64_t tokens) const {
    return std::max<std::int64_t>(0, blocks_for(tokens) - s.prefix / m_block - s.blocks);
  }
  std::int64_t m_total, m_free, m_block;
  std::multiset<std::int64_t> m_refs;  // shared blocks referenced, one entry per referencing sequence
};

// The limits a policy schedules under (0: the policy's default).
struct SchedulerLimits {
  std::int64_t token_budget = 0;  // tokens per iteration (vLLM max_num_batched_tokens, TRT-LLM max_num_tokens, SGLang chunked_prefill_size)
  std::int64_t max_seqs = 0;      // running sequences (vLLM max_num_seqs, TRT-LLM max_batch_size, SGLang max_running_requests)
  // The framework's host work per iteration (HostWork), replacing the policy's figures where >= 0.
  double host_fixed_us = -1, host_us_per_request = -1;
  // Reported, not an override: the policy's HostWork::ns_per_table_slot (0: no per-iteration page table).
  double host_ns_per_table_slot = 0;
  // KV tokens each decode slot holds (JetStream's max_cache_length; 0: the policy's default). Only a policy of
  // fixed decode slots takes it (make_scheduler refuses it elsewhere).
  std::int64_t cache_tokens = 0;
  // KV tokens per page (sglang-jax's --page-size; 0: the policy's default). Only sglang-jax takes it
  // (make_scheduler refuses it elsewhere): its KV allocation unit and, with the model's context, the bound its
  // attention backend puts on the running requests (scheduler_sglang.cpp).
  std::int64_t page_tokens = 0;
};

// One sequence's share of an iteration: `tokens` new tokens after `context` cached ones.
struct ScheduledWork {
  Sequence* seq = nullptr;
  std::int64_t tokens = 0, context = 0;
};
using Batch = std::vector<ScheduledWork>;

// The server's queues. `running` is in admission order; the policy preempts from its back.
struct SchedState {
  std::deque<Sequence*> waiting;
  std::vector<Sequence*> running;
  KvBlockPool kv{0, 16};
  std::int64_t preemptions = 0;
  // Moves `s` from running to the front of waiting, freeing its blocks; its tokens will be recomputed.
  void preempt(Sequence* s);
  // Grows `s` (running) to hold `tokens`, preempting from the back of `running` until the blocks are
  // free; false when `s` itself had to go. `on_preempt` runs after each preemption.
  template <class F>
  bool grow_or_preempt(Sequence* s, std::int64_t tokens, F on_preempt) {
    while (!kv.grow(*s, tokens)) {
      Sequence* victim = running.back();
      preempt(victim);
      on_preempt();
      if (victim == s) return false;
    }
    return true;
  }
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // The work of the next iteration: grows the KV of every scheduled sequence, admits waiting ones,
  // preempts when the cache is full. Sequences that finish are removed by the engine afterwards.
  virtual Batch schedule(SchedState& st) = 0;
  // Decode and prefill run in the same iteration (false: SGLang's default, prefill batches alone).
  virtual bool mixes_prefill_and_decode() const { return true; }
  const SchedulerLimits& limits() const { return m_limits; }
  // Share of device memory the engine leaves to weights, activations and the KV cache (the rest is
  // CUDA context, graphs and allocator slack), and whether it applies to the whole memory (vLLM's
  // gpu_memory_utilization, SGLang's mem_fraction_static) or to what weights and activations leave
  // (TensorRT-LLM's free_gpu_memory_fraction).
  virtual double memory_fraction() const = 0;
  virtual bool fraction_of_free_memory() const { return false; }
  // Device memory the engine's process holds before it sizes the KV cache and that weights,
  // activations and communication buffers do not count (CUDA context, kernel libraries and their
  // workspaces, CUDA-graph pools), per device. Needed only where the KV cache is a fraction of the
  // free memory: a fraction of the whole memory already leaves that room in its remainder.
  virtual double runtime_reserve_bytes() const { return 0; }
  virtual std::int64_t block_tokens() const { return 16; }
  // Disaggregated serving with prefix caching (serve --prefix-hit with pools; sim/serve/disagg.h): how the stack's
  // decode instance gets a prompt's cached head. `decode_cache`: it runs its own prefix cache, which holds the head
  // (shared blocks, as colocated serving holds them), and the transfer carries only the uncached tokens' KV; otherwise
  // the whole prompt's KV crosses the fabric. `name`: the rule as the report gives it (kv_transfer.prefix_rule).
  struct PdPrefixRule {
    bool decode_cache = false;
    std::string name;
  };
  // Default: the whole prompt, SGLang's default rule, assumed for a stack whose PD path we have not sourced.
  virtual PdPrefixRule pd_prefix_rule() const;
  // The rule with the stack's opt-in decode prefix cache (serve --decode-radix-cache: SGLang's
  // --disaggregation-decode-enable-radix-cache); nullopt: the stack has no such option (vLLM's decode instance keeps
  // its prefix cache by default, pd_prefix_rule already; the others' PD paths have none sourced).
  virtual std::optional<PdPrefixRule> pd_decode_radix_rule() const { return std::nullopt; }
  // The stack runs a draft model at a tensor-parallel degree of 1 beside a larger target's (serve --spec-draft-tp 1:
  // vLLM's speculative_config draft_tensor_parallel_size; make_drafter). false: the drafter runs on the target's TP
  // group only (SGLang's EAGLE worker is a TpModelWorker of the target's tp_size; the others not sourced).
  virtual bool smaller_draft_tp() const { return false; }
  // How the engine launches an iteration's kernels (default: not modelled, the GPU's time alone).
  virtual HostLaunch host_launch() const { return {}; }
  // What the engine runs with: host_launch() with its framework work's figures replaced by the limits'
  // host_fixed_us / host_us_per_request where those are given (>= 0).
  HostLaunch launch() const;
  // The model's context (`context_len`, its max_position) and the KV pool's tokens, set by the run before it
  // starts: the longest request the server admits is the smaller (sizes a page table that the framework pads to
  // it, HostLaunch::table_row_tokens; 0: unknown), and a policy may bound its running requests by them
  // (sglang-jax). A KV pool of 0: not known, the context alone.
  virtual void set_context_tokens(std::int64_t context_len, std::int64_t kv_tokens = 0) {
    m_context_tokens = kv_tokens > 0 ? std::min(context_len, kv_tokens) : context_len;
  }
  // Rows of the largest logits buffer an iteration holds (fp32 x vocabulary each), known before the KV pool is
  // sized: one per request it may run (limits().max_seqs), or fewer where the policy bounds its batch by the
  // model's context `context_len` (0: unknown) or its compiled shapes (sglang-jax).
  virtual std::int64_t logits_rows(std::int64_t context_len) const {
    (void)context_len;
    return m_limits.max_seqs;
  }

 protected:
  SchedulerLimits m_limits;
  std::int64_t m_context_tokens = 0;
};

// A host-work figure given on the command line (`flag` without dashes): microseconds >= 0, else an
// InputError naming the flag.
double host_work_us(const std::string& flag, double us);

// One of scheduler_names() (InputError naming --scheduler and listing them otherwise). `device_bytes`: each
// device's memory, where a policy's defaults follow it (SGLang's chunked_prefill_size); 0: unknown.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const SchedulerLimits& limits, double device_bytes = 0);
const std::vector<std::string>& scheduler_names();
// The all-reduce kernels of the scheduler's serving stack (Scenario::allreduce_stack): "trtllm" for TensorRT-LLM,
// whose AUTO strategy gives the TP all-reduces within its workspace to its own one-shot and two-shot kernels;
// "vllm" and "sglang", whose custom all-reduce takes those below 8 MiB on 2-8 fully NVLinked GPUs
// (kernels/collective/custom_allreduce.h); "" for the others, whose all-reduces the collective library runs.
std::string scheduler_allreduce_stack(const std::string& scheduler);
// The names joined for help and error text: scheduler_names_text(", ", " or ") is "vllm, sglang, ... or trtllm".
std::string scheduler_names_text(const std::string& sep, const std::string& last_sep);

std::unique_ptr<Scheduler> make_vllm_scheduler(const SchedulerLimits& limits);
std::unique_ptr<Scheduler> make_sglang_scheduler(const SchedulerLimits& limits, double device_bytes = 0);
// SGLang's policy as sglang-jax runs it on TPUs: XLA programs compiled for padded batch and token sizes.
std::unique_ptr<Scheduler> make_sglang_jax_scheduler(const SchedulerLimits& limits);
std::unique_ptr<Scheduler> make_trtllm_scheduler(const SchedulerLimits& limits);
// JetStream's orchestrator over jetstream-pytorch's engine: fixed decode slots, one prefill per request.
std::unique_ptr<Scheduler> make_jetstream_scheduler(const SchedulerLimits& limits);

}  // namespace xpu
