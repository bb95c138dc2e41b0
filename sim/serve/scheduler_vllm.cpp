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
class VllmScheduler : public Scheduler {
 public:
  explicit VllmScheduler(const SchedulerLimits& l) {
    m_limits.token_budget = l.token_budget > 0 ? l.token_budget : 8192;
    m_limits.max_seqs = l.max_seqs > 0 ? l.max_seqs : 1024;
  }
  double memory_fraction() const override { return 0.90; }

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
