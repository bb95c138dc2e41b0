// Pre-run size estimates of lowered programs against the resource limits.
#include "sim/base/run_budget.h"

#include <algorithm>
#include <utility>

#include "sim/base/limits.h"
#include "sim/base/task_stream.h"
#include "sim/base/trace.h"

namespace xpu {

namespace {
// Instructions one sampled task may build before the estimate extrapolates instead (64 B each).
constexpr std::size_t kSampleInstrCap = std::size_t{1} << 20;

// The kernel's instructions per task implied by `built` instructions that cover `flops` and `moved`
// (0 when they cover nothing to extrapolate from).
double extrapolate(const Program& p, double built, double flops, double moved) {
  const double n = static_cast<double>(p.num_tasks);
  double scale = 0;
  if (flops > 0 && p.roofline.flops > 0) scale = p.roofline.flops / n / flops;
  else if (moved > 0 && p.roofline.min_dram_bytes > 0) scale = p.roofline.min_dram_bytes / n / moved;
  return scale > 1 ? built * scale : 0;
}

// Instructions per task extrapolated from a task whose making the sampling cap stopped (called while
// that ResourceError is handled: rethrown when nothing was built to extrapolate from).
double cut_task_instrs(const Program& p, const Task& t, double* bytes) {
  double flops = 0, moved = 0;
  for (const Instr& in : t.instrs) {
    flops += static_cast<double>(in.flops);
    moved += static_cast<double>(in.bytes);
  }
  const double built = static_cast<double>(t.first + t.instrs.size()), all = extrapolate(p, built, flops, moved);
  if (!(all > 0)) throw;  // nothing to extrapolate from: refuse (the message says why)
  *bytes = all * static_cast<double>(sizeof(Instr));
  return all;
}

// A per-core stream is simulated piece by piece (sim/base/task_stream.h): it holds a window of a few
// pieces; its length is counted up to the sampling cap, then extrapolated.
double stream_instrs(const Program& p, std::uint64_t i, double* bytes) {
  Task t;
  TaskStream s;
  try {
    s.start(p, i, t);
  } catch (const ResourceError&) {
    return cut_task_instrs(p, t, bytes);  // made whole (sanitized builds: task_stream.cpp) and over the cap
  }
  double flops = 0, moved = 0;
  do {
    for (const Instr& in : t.instrs) {
      flops += static_cast<double>(in.flops);
      moved += static_cast<double>(in.bytes);
    }
    t.first += t.instrs.size();
    t.instrs.clear();
  } while (t.first < kSampleInstrCap && s.more());
  const double built = static_cast<double>(t.first);
  *bytes = std::min(built, 4.0 * static_cast<double>(s.piece())) * (sizeof(Instr) + 16);
  if (s.finished()) return built;
  s.cancel();
  const double all = extrapolate(p, built, flops, moved);
  if (!(all > 0)) task_too_large(kSampleInstrCap);
  return all;
}

// Instructions of task `i`; a task longer than the sampling cap is extrapolated from the share of the
// kernel's FLOPs (or bytes) its first kSampleInstrCap instructions cover, tasks of a launch being alike.
double task_instrs(const Program& p, std::uint64_t i, double* bytes) {
  if (p.static_placement && !p.functional) return stream_instrs(p, i, bytes);
  Task t;
  try {
    p.make_task(i, t);
  } catch (const ResourceError&) {
    return cut_task_instrs(p, t, bytes);
  }
  *bytes = static_cast<double>(t.instrs.size()) * sizeof(Instr) + static_cast<double>(t.func.size()) * sizeof(FuncOp);
  return static_cast<double>(t.instrs.size());
}
}  // namespace

RunEstimate estimate_run(const std::vector<KernelPrograms>& kernels, double resident_tasks, bool trace) {
  RunEstimate e;
  set_task_instr_cap(kSampleInstrCap);
  try {
    for (const auto& launches : kernels)
      for (const auto& p : launches) {
        if (p.num_tasks == 0 || !p.make_task) continue;
        const std::uint64_t n = p.num_tasks;
        std::vector<std::uint64_t> idx = n == 1 ? std::vector<std::uint64_t>{0}
                                         : n == 2 ? std::vector<std::uint64_t>{0, 1}
                                                  : std::vector<std::uint64_t>{0, n / 2, n - 1};
        double instrs = 0, largest = 0;
        for (std::uint64_t i : idx) {
          double bytes = 0;
          instrs += task_instrs(p, i, &bytes);
          largest = std::max(largest, bytes);
        }
        e.transactions += instrs / static_cast<double>(idx.size()) * static_cast<double>(n);
        // Growing vectors hold up to twice their size.
        e.task_bytes = std::max(e.task_bytes, 2 * largest * std::min(static_cast<double>(n), std::max(1.0, resident_tasks)));
      }
  } catch (...) {
    set_task_instr_cap(std::size_t{1} << 40);
    throw;
  }
  // While simulating, a task may hold what the memory limit allows (the estimate checked it).
  set_task_instr_cap(static_cast<std::size_t>(resource_limits().max_memory_bytes / sizeof(Instr)));
  if (trace) e.trace_bytes = e.transactions * static_cast<double>(sizeof(TraceRecord));
  return e;
}

std::string budget_subject(const std::vector<KernelPrograms>& kernels) {
  for (const auto& launches : kernels)
    for (const auto& p : launches) return "simulating " + (p.op.empty() ? p.name : p.op);
  return "this simulation";
}

namespace {
thread_local TransactionBudget* g_budget = nullptr;
}  // namespace

TransactionBudget::TransactionBudget(std::string what) : m_what(std::move(what)) {
  if (!g_budget) g_budget = this, m_outermost = true;
}

TransactionBudget::~TransactionBudget() {
  if (m_outermost) g_budget = nullptr;
}

void TransactionBudget::check_estimate(double transactions) const {
  if (m_outermost) check_transactions(m_what, transactions);
}

void TransactionBudget::admit(const std::string& what, double estimate) {
  if (!g_budget) return;
  const double limit = resource_limits().max_transactions;
  if (!(g_budget->m_spent + estimate > limit)) return;
  throw ResourceError(g_budget->m_what + ": stopped after " + count_text(g_budget->m_spent) + "transactions in " +
                      std::to_string(g_budget->m_simulations) + " simulation(s): " + what + " needs about " +
                      count_text(estimate) + "more, over the limit of " + count_text(limit) +
                      "transactions for the whole run; raise it with --max-transactions (or XPUSIM_MAX_TRANSACTIONS) "
                      "if you mean it",
                      "--max-transactions");
}

void TransactionBudget::charge(double transactions) {
  if (!g_budget) return;
  g_budget->m_spent += transactions;
  ++g_budget->m_simulations;
}

RunEstimate check_run_budget(const std::string& what, const std::vector<KernelPrograms>& kernels, double resident_tasks,
                             bool trace) {
  RunEstimate e = estimate_run(kernels, resident_tasks, trace);
  check_transactions(what, e.transactions);
  check_memory(what + (trace ? " (with its trace)" : ""), e.memory_bytes());
  return e;
}

}  // namespace xpu
