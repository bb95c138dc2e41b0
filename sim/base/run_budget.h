// A pre-run estimate of a simulation's size from its lowered programs (programs are generated
// before simulation), compared with the resource limits: a run that would need more transactions
// or memory than allowed is refused before SystemC starts, with the estimate and the limit.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/base/program.h"

namespace xpu {

struct RunEstimate {
  double transactions = 0;  // every instruction of every task is one transaction
  double task_bytes = 0;    // instructions held by the tasks resident at once (largest kernel)
  double trace_bytes = 0;   // recorded transactions (with a trace)
  double memory_bytes() const { return task_bytes + trace_bytes; }
};

// Builds a few tasks of each launch (the first, a middle and the last: tasks of one launch are
// alike) and scales their instruction counts by the task count. `resident_tasks` is how many tasks
// the chip holds at once (executors x slots; all of them for per-core streams).
RunEstimate estimate_run(const std::vector<KernelPrograms>& kernels, double resident_tasks, bool trace);

// "simulating <kernel or op label>" for messages.
std::string budget_subject(const std::vector<KernelPrograms>& kernels);
// estimate_run + check_transactions + check_memory; `what` names the run in the message.
RunEstimate check_run_budget(const std::string& what, const std::vector<KernelPrograms>& kernels, double resident_tasks,
                      bool trace);

// The transactions of one whole command (a model run, a serving study, one chip of a comparison):
// --max-transactions bounds their sum, not only each simulation alone. A scope is opened where such
// a command starts; the outermost one on a thread counts, inner ones only join it. Every simulation
// (SimSession) is admitted against what the scope has spent so far before it starts, and charged
// with what it ran; with no scope open, only the per-simulation check applies.
class TransactionBudget {
 public:
  explicit TransactionBudget(std::string what);  // "running llama-3.1-8b on h100-sxm"
  ~TransactionBudget();
  TransactionBudget(const TransactionBudget&) = delete;
  TransactionBudget& operator=(const TransactionBudget&) = delete;
  // Up front, where the command can estimate itself: refused when the estimate exceeds the limit.
  void check_estimate(double transactions) const;
  // Before a simulation of about `estimate` transactions (`what`: "simulating gemm"): refused when
  // the open scope would go over the limit, with what was spent and how to raise it.
  static void admit(const std::string& what, double estimate);
  static void charge(double transactions);
  double spent() const { return m_spent; }

 private:
  std::string m_what;
  double m_spent = 0;
  std::uint64_t m_simulations = 0;
  bool m_outermost = false;
};

}  // namespace xpu
