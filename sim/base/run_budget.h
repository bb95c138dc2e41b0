// A pre-run estimate of a simulation's size from its lowered programs (programs are generated
// before simulation), compared with the resource limits: a run that would need more transactions
// or memory than allowed is refused before SystemC starts, with the estimate and the limit.
#pragma once
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

}  // namespace xpu
