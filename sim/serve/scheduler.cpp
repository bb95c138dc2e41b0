// The paged KV cache, the server's queues and the scheduler registry.
#include "sim/serve/scheduler.h"

#include <algorithm>

#include "sim/base/error.h"

namespace xpu {

bool KvBlockPool::grow(Sequence& s, std::int64_t tokens) {
  const std::int64_t need = blocks_for(tokens) - s.blocks;
  if (need <= 0) return true;
  if (need > m_free) return false;
  m_free -= need;
  s.blocks += need;
  return true;
}

void KvBlockPool::release(Sequence& s) {
  m_free += s.blocks;
  s.blocks = 0;
}

void SchedState::preempt(Sequence* s) {
  running.erase(std::remove(running.begin(), running.end(), s), running.end());
  kv.release(*s);
  s->computed = 0;  // recompute: prompt and generated tokens are prefilled again on readmission
  ++s->preemptions;
  ++preemptions;
  waiting.push_front(s);
}

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names = {"vllm", "sglang", "trtllm"};
  return names;
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const SchedulerLimits& limits) {
  if (limits.token_budget < 0 || limits.max_seqs < 0)
    throw InputError("--token-budget/--max-seqs: expected positive numbers (0 or absent: the scheduler's default)");
  if (name == "vllm") return make_vllm_scheduler(limits);
  if (name == "sglang") return make_sglang_scheduler(limits);
  if (name == "trtllm") return make_trtllm_scheduler(limits);
  throw InputError("--scheduler '" + name + "': expected vllm, sglang or trtllm (did you mean " +
                   nearest_of(name, scheduler_names()) + "?)");
}

}  // namespace xpu
