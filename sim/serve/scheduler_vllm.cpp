// vLLM V1's scheduler: one token budget per iteration spent on running requests first, then on waiting
// ones in arrival order; chunked prefill always on; recompute preemption of the newest running request.
#include <algorithm>

#include "sim/serve/scheduler.h"

namespace xpu {

namespace {
// Rules (vLLM docs: "Optimization and Tuning" / chunked prefill, vllm/config/scheduler.py SchedulerConfig,
// and the V1 scheduler design notes):
//   - A request's work is num_tokens - num_computed_tokens, decode (1 token) and prefill alike; the
//     budget max_num_batched_tokens bounds the sum over the iteration. Running requests are served
//     first, in order, each with min(its remaining tokens, the budget left): a long prompt is chunked.
//   - Before a running request is scheduled, KV blocks for its new tokens are allocated; when none are
//     free the lowest-priority running request (the last admitted, FCFS) is preempted: its blocks
//     are freed, it returns to the front of the waiting queue and is recomputed later (V1 preempts
//     by recomputation only).
//   - Waiting requests are admitted only when nothing was preempted this iteration, while the budget
//     lasts and fewer than max_num_seqs requests run, each only if blocks for its first chunk are free.
//   - Defaults: 8192 tokens and 1024 sequences, the OpenAI-server defaults vLLM V1 picks for GPUs with
//     large memory (SchedulerConfig's own fallback is 2048 / 128); gpu_memory_utilization 0.9;
//     16-token blocks.
// The engine core's host work per iteration (HostWork): schedule, prepare the inputs, sample and update
// every request from the step's output, in Python. Overlapped: async scheduling schedules step n+1 while
// step n runs, and is on by default since v0.14.0 (release notes, "Async scheduling is now enabled by
// default", PR #27614). Its size: ~5-6 ms of GPU idle between two decode steps at 256 running requests
// (Llama-2-7b, ShareGPT, the V1 engine with AsyncLLM, synchronous then; source: vllm-project/vllm issue
// #10634, Nov 2024), 5.5 ms / 256 = 21.5 us per running request, no fixed part separated (assumed 0).
// Assumed: today's loop does the same work per request as that V1 of Nov 2024 (no later figure of the
// whole loop is public; its author expected 2-3 ms of it to go with the GIL contention he traced).
constexpr double kHostUsPerRequest = 21.5;

class VllmScheduler : public Scheduler {
 public:
  explicit VllmScheduler(const SchedulerLimits& l) {
    m_limits = l;  // the host-work overrides as given; the limits' defaults below
    m_limits.token_budget = l.token_budget > 0 ? l.token_budget : 8192;
    m_limits.max_seqs = l.max_seqs > 0 ? l.max_seqs : 1024;
  }
  double memory_fraction() const override { return 0.90; }
  HostLaunch host_launch() const override { return {0, 0, {}, HostWork{0, kHostUsPerRequest, true}, {}}; }
  // vLLM's KV connectors (NIXL; Mooncake's alike): the decode instance's scheduler first matches its own prefix cache
  // (automatic prefix caching, on by default in V1: KVCacheManager.get_computed_blocks), then asks the connector for
  // the rest (vllm/v1/core/sched/scheduler.py: get_num_new_matched_tokens(request, num_new_local_computed_tokens));
  // the connector answers the prompt less those local tokens and pulls only the blocks allocated without a hash
  // (vllm/distributed/kv_transfer/kv_connector/v1/nixl_connector.py, NixlConnectorScheduler.update_state_after_alloc:
  // blocks.get_unhashed_block_ids()).
  PdPrefixRule pd_prefix_rule() const override { return {true, "uncached blocks (vLLM KV connector: decode prefix cache)"}; }
  // draft_tensor_parallel_size 1 (vllm/config/speculative.py, SpeculativeConfig._verify_and_get_draft_tp: 1 or the
  // target's tp) as vLLM V0 ran it (SmallerTpProposerWorker; make_drafter, sim/serve/serve.h).
  bool smaller_draft_tp() const override { return true; }

  Batch schedule(SchedState& st) override {
    Batch b;
    std::int64_t budget = m_limits.token_budget;
    bool preempted = false;
    for (size_t i = 0; i < st.running.size() && budget > 0;) {
      Sequence* s = st.running[i];
      const std::int64_t n = std::min(s->remaining(), budget);
      if (!st.grow_or_preempt(s, s->computed + n, [&] { preempted = true; })) break;
      b.push_back({s, n, s->computed});
      budget -= n;
      ++i;
    }
    while (!preempted && budget > 0 && !st.waiting.empty() &&
           static_cast<std::int64_t>(st.running.size()) < m_limits.max_seqs) {
      Sequence* s = st.waiting.front();
      const std::int64_t n = std::min(s->remaining(), budget);
      if (!st.kv.grow(*s, s->computed + n)) break;
      st.waiting.pop_front();
      st.running.push_back(s);
      b.push_back({s, n, s->computed});
      budget -= n;
    }
    return b;
  }
};
}  // namespace

std::unique_ptr<Scheduler> make_vllm_scheduler(const SchedulerLimits& limits) { return std::make_unique<VllmScheduler>(limits); }

}  // namespace xpu
