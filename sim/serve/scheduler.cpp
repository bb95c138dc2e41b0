// The paged KV cache, the server's queues and the scheduler registry.
#include "sim/serve/scheduler.h"

#include <algorithm>
#include <cmath>

#include "kernels/collective/custom_allreduce.h"
#include "sim/base/error.h"

namespace xpu {

std::int64_t KvBlockPool::needed(const Sequence& s, std::int64_t tokens) const {
  const std::int64_t want_shared = s.prefix / m_block;  // whole blocks only
  const std::int64_t new_shared = s.shared < want_shared ? std::max(shared(), want_shared) - shared() : 0;
  return new_shared + own_blocks(s, tokens);
}

bool KvBlockPool::grow(Sequence& s, std::int64_t tokens) {
  const std::int64_t want_shared = s.prefix / m_block;
  const std::int64_t own = own_blocks(s, tokens);
  const std::int64_t take = needed(s, tokens);  // `own` and the shared prefix blocks no holder took yet
  if (take == 0 && s.shared == want_shared) return true;
  if (take > m_free) return false;
  m_free -= take;
  if (s.shared < want_shared) {
    m_refs.insert(want_shared);
    s.shared = want_shared;
  }
  s.blocks += own;
  return true;
}

void KvBlockPool::release(Sequence& s) {
  m_free += s.blocks;
  s.blocks = 0;
  if (s.shared > 0) {
    const std::int64_t before = shared();
    m_refs.erase(m_refs.find(s.shared));
    m_free += before - shared();  // blocks no running sequence references any more
    s.shared = 0;
  }
}

void SchedState::preempt(Sequence* s) {
  running.erase(std::remove(running.begin(), running.end(), s), running.end());
  kv.release(*s);
  s->computed = s->prefix;  // recompute: prompt and generated tokens are prefilled again on readmission (the prefix hits again)
  s->spec_credit = 0;
  ++s->preemptions;
  ++preemptions;
  waiting.push_front(s);
}

HostLaunch Scheduler::launch() const {
  HostLaunch h = host_launch();
  if (m_limits.host_fixed_us >= 0) h.work.fixed_us = m_limits.host_fixed_us;
  if (m_limits.host_us_per_request >= 0) h.work.us_per_request = m_limits.host_us_per_request;
  h.table_row_tokens = m_context_tokens;
  return h;
}

double host_work_us(const std::string& flag, double us) {
  if (!(us >= 0 && std::isfinite(us))) throw InputError("--" + flag + ": expected microseconds >= 0, got " + std::to_string(us), "--" + flag, "");
  return us;
}

Scheduler::PdPrefixRule Scheduler::pd_prefix_rule() const {
  return {false, "whole prompt (assumed as SGLang's default: this stack's PD prefix rule not sourced)"};
}

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names = {"vllm", "sglang", "sglang-jax", "trtllm", "jetstream"};
  return names;
}

std::string scheduler_allreduce_stack(const std::string& scheduler) {
  const std::vector<std::string> stacks = coll::custom_allreduce_stacks();  // named as their schedulers are
  return std::find(stacks.begin(), stacks.end(), scheduler) != stacks.end() ? scheduler : "";
}

std::string scheduler_names_text(const std::string& sep, const std::string& last_sep) {
  const std::vector<std::string>& n = scheduler_names();
  return join(std::vector<std::string>(n.begin(), n.end() - 1), sep) + last_sep + n.back();
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const SchedulerLimits& limits, double device_bytes) {
  if (limits.cache_tokens < 0 || (limits.cache_tokens > 0 && name != "jetstream"))
    throw InputError("--cache-length " + std::to_string(limits.cache_tokens) + ": KV tokens per decode slot of --scheduler jetstream " +
                     "(its fixed slots); '" + name + "' allocates the KV cache by blocks (expected a positive number with " +
                     "--scheduler jetstream, or no --cache-length)", "--cache-length", std::to_string(limits.cache_tokens))
        .mentioning("--scheduler", "jetstream");
  if (limits.page_tokens < 0 || (limits.page_tokens > 0 && name != "sglang-jax"))
    throw InputError("--page-size " + std::to_string(limits.page_tokens) + ": KV tokens per page of --scheduler sglang-jax; '" + name +
                     "' sets its own KV block (expected a positive number with --scheduler sglang-jax, or no --page-size)", "--page-size", std::to_string(limits.page_tokens))
        .mentioning("--scheduler", "sglang-jax");
  if (limits.token_budget < 0 || limits.max_seqs < 0)
    throw InputError("--token-budget/--max-seqs: expected positive numbers (0 or absent: the scheduler's default)", "--token-budget", "")
        .mentioning("--max-seqs", "");
  if (!(limits.host_fixed_us < 0 || std::isfinite(limits.host_fixed_us)) ||
      !(limits.host_us_per_request < 0 || std::isfinite(limits.host_us_per_request)))
    throw InputError("--host-fixed-us/--host-us-per-request: expected finite microseconds (absent: the scheduler's figures)", "--host-fixed-us", "")
        .mentioning("--host-us-per-request", "");
  if (name == "vllm") return make_vllm_scheduler(limits);
  if (name == "sglang") return make_sglang_scheduler(limits, device_bytes);
  if (name == "sglang-jax") return make_sglang_jax_scheduler(limits);
  if (name == "trtllm") return make_trtllm_scheduler(limits);
  if (name == "jetstream") return make_jetstream_scheduler(limits);
  throw InputError("--scheduler '" + name + "': expected " + scheduler_names_text(", ", " or ") +
                   nearest_clause(name, scheduler_names()), "--scheduler", name);
}

}  // namespace xpu
