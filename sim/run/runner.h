// One straight path from kernels to results, shared by the CLI, the Python module and sweeps:
// build a fresh chip model, run its kernel launches, collect records, counters and stats.
#pragma once
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/run/registry.h"
#include "sim/base/stats.h"
#include "sim/base/trace.h"
#include "sim/power/power.h"

namespace xpu {

struct RunOptions {
  bool trace = false;
  TraceObserver* trace_sink = nullptr;  // receives the records as produced instead of a memory buffer
  TensorStore* tensors = nullptr;  // functional mode
  double quantum_s = 100e-9;
};

// Per-kernel figures for reports.
struct KernelResult {
  std::string name, op, strategy;
  double time_s = 0;          // launch gap + execution
  double exec_s = 0;          // first block start to last block end
  double flops = 0;           // useful FLOPs (the op's own count)
  double executed_flops = 0;  // FLOPs the units executed, padding included
  double dram_bytes = 0;      // DMA bytes at the global level (before L2 filtering)
  double hbm_bytes = 0;       // DRAM traffic after the caches
  double min_bytes = 0;       // compulsory traffic (roofline)
  double roofline_s = 0;      // max(flops/peak, min_bytes/peak bandwidth)
  // What the simulation saw limit the kernel: the category of its busiest unit ("compute", "memory",
  // "vector", "transfer"), or "latency" when no unit was busy half the time (launch, fill and drain,
  // dependencies, too few blocks). bound_unit/bound_share name that unit and its busy share.
  std::string bound, bound_unit;
  double bound_share = 0;
  std::string roofline_bound;  // "compute" or "memory" by the op's arithmetic intensity vs the ridge
  std::uint64_t tasks = 0, transactions = 0;
  int occupancy = 0;
  int count = 1;              // how many times it runs per step (folded layers)
  EnergyEvents events;        // what it did, for the power model
};

struct RunResult {
  std::string chip, family;
  double latency_s = 0;
  double sim_cycles = 0;
  double wall_s = 0;
  std::uint64_t transactions = 0;
  double flops = 0, tflops = 0, peak_tflops = 0, share_of_peak = 0;
  DType dtype = DType::bf16;
  std::vector<KernelResult> kernels;
  Stats stats;
  std::vector<TraceRecord> trace;
  std::vector<std::string> unit_names, kernel_names;
  std::string resolved_yaml;
  EnergyEvents events;        // all kernels together
};


// Mean busy share per unit type over a run ("sm.tensor", "mem.hbm", ...) from the registered
// `<unit>.utilization` stats (instances of a type averaged).
std::map<std::string, double> unit_utilization(const Stats& stats);

// Share of time below which no unit is taken to bound a kernel (its time is set by latencies).
constexpr double kBusyBoundShare = 0.5;
struct BoundBy {
  std::string category, unit;
  double share = 0;
};
// The busiest unit of `utilization` and its category (see KernelResult::bound).
BoundBy bound_by(const std::map<std::string, double>& utilization);

// A simulation that can be advanced step by step (the Python Session) or run to its end. One per
// process at a time (SystemC has one kernel); simulate() is a session run straight to the end, so
// stepping and a straight run give identical results.
class SimSession {
 public:
  SimSession(const ChipModel& chip, std::vector<KernelPrograms> kernels, const RunOptions& opt, DType dtype);
  ~SimSession();
  SimSession(const SimSession&) = delete;
  SimSession& operator=(const SimSession&) = delete;
  bool step();                  // advance to the next scheduled activity; false once finished
  void run_until(double t_s);   // advance simulated time to t (or the end)
  void run_to_end();
  bool finished() const;
  double now() const;           // simulated seconds
  Chip& chip();
  const std::vector<TraceRecord>& records() const { return m_trace.records; }
  const std::vector<std::string>& kernel_names() const { return m_kernel_names; }
  RunResult result();           // runs to the end first

 private:
  void advance(const sc_core::sc_time* dt);  // sc_start(*dt), or to the end when null
  const ChipModel& m_chip;
  DType m_dtype;
  std::unique_lock<std::mutex> m_lock;
  std::unique_ptr<Chip> m_top;
  TraceBuffer m_trace;
  std::vector<std::string> m_kernel_names;
  std::chrono::steady_clock::time_point m_wall0;
  bool m_started = false;
  bool m_failed = false;  // a process raised an error: the kernel was stopped
};

// Simulates the kernels in order on a fresh instance of `chip`.
RunResult simulate(const ChipModel& chip, std::vector<KernelPrograms> kernels, const RunOptions& opt, DType dtype);

}  // namespace xpu
