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

#include "sim/run/dram_path.h"
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
  // Kernel figures only (for caches of kernel results): the result carries no stats, unit names,
  // kernel names or resolved configuration (the kernels' bound is still derived from the stats).
  bool summary = false;
  // Run on the process's warm chip when it has the same configuration and quantum, and keep the chip
  // warm for the next run that asks (one chip's modules and threads reused across the kernels of a
  // model run instead of a fresh SystemC kernel per kernel; see Chip::rerun). Ignored for traced and
  // functional runs; XPUSIM_NO_CHIP_REUSE=1 turns it off.
  bool keep_chip = false;
  // Each op of a simulation of several ops gets the bound and clock sensitivity of its own unit
  // utilization (Chip::set_units_per_op), as a simulation of that op alone derives them; otherwise every
  // kernel of a simulation gets the whole simulation's (a model run simulates one op at a time).
  bool units_per_op = false;
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
  double flops = 0, tflops = 0, peak_tflops = 0, share_of_peak = 0;  // share of the nominal peak
  // FLOPs the matrix units (tensor cores, systolic arrays) executed: 0 for a row-wise op (rmsnorm, softmax,
  // elementwise) run on the vector units, whose share of the matrix peak says nothing (reports give its share of
  // the roofline instead).
  double matrix_flops = 0;
  // The clock the work ran at (time-weighted mean when the power manager changed it): ratio to the
  // preset's nominal clock, and in Hz. share_of_peak stays against the nominal peak.
  double clock_ratio = 1.0, clock_hz = 0;
  DType dtype = DType::bf16;
  DType peak_dtype = DType::bf16;  // the tensor rate peak_tflops is of (ChipModel::matmul_rate_dtype of dtype)
  std::vector<KernelResult> kernels;
  Stats stats;
  std::vector<TraceRecord> trace;
  std::vector<std::string> unit_names, kernel_names;
  std::vector<std::string> level_names;  // a DMA's memory levels (ChipModel::memory_level_names)
  std::string resolved_yaml;
  EnergyEvents events;        // all kernels together
  // Where the cores' path to the HBM, not the HBM, bounded most of the kernels' time (dram_path.h).
  std::optional<DramPathBound> dram_path;
};


// Mean busy share per unit type over a run ("sm.tensor", "mem.hbm", ...) from the registered
// `<unit>.utilization` stats (instances of a type averaged).
std::map<std::string, double> unit_utilization(const Stats& stats);
// What each unit type's utilization measures where that is more than an engine's plain busy time
// (kEngineBusyNote): the memory side's paths and the DMA queues that count issue time only (TPU
// tc.dma_in: its copies' data time is mem.dma<core>). The sentence of the type's first stat.
std::map<std::string, std::string> unit_notes(const Stats& stats);

// RunResult::dram_path of these kernels, each counted `count` times.
std::optional<DramPathBound> kernels_dram_path(const ChipModel& chip, const std::vector<KernelResult>& kernels);

// Share of time below which no unit is taken to bound a kernel (its time is set by latencies).
constexpr double kBusyBoundShare = 0.5;
struct BoundBy {
  std::string category, unit;
  double share = 0;
};
// The busiest unit of `utilization` and its category (see KernelResult::bound).
BoundBy bound_by(const std::map<std::string, double>& utilization);
// A unit's category by its name: memory (HBM, DRAM), compute (tensor, MXU), vector, or transfer (the rest).
std::string unit_category(const std::string& unit);
// How a kernel's execution time follows the DVFS clock, from what its simulation saw: the busy share of
// its busiest core-clock unit (tensor, vector) and of its busiest other unit (DRAM, DMA and transfer
// paths, whose bandwidth is not on that clock). At clock ratio x the core work takes core/x and overlaps
// with the other unit's work, and the rest of the time (fill, drain, latencies) stays:
//   exec(x) = max(other, core / x) + (exec - max(core, other)).
// Checked against re-simulations at lower clocks (tests/golden/power_serve_test.cpp): within 2% at 0.75
// and 3.5% at 0.6 for kernels a core unit or DRAM bounds; latency-bound kernels (no unit busy half the
// time) are approximate (their core work partly hides in stalls; up to 20% slower than a re-simulation).
struct ClockSensitivity {
  double core_share = 0, other_share = 0;
};
// Shares of a kernel's time that scale with the core clock (compute and vector units, and the on-chip
// transfer units where `transfers_clocked`: ChipModel::transfers_in_core_clock) and that do not (memory).
ClockSensitivity clock_sensitivity(const std::map<std::string, double>& utilization, bool transfers_clocked = false);
double kernel_exec_at_clock(double exec_s, const ClockSensitivity& c, double clock_ratio);
// The device memory's busy share of a kernel (EnergyEvents::dram_busy_s): the largest of its memory units'
// (units unit_category calls "memory": the HBM or DRAM model's mean channel busy time over the run), 0 where none.
double memory_busy_share(const std::map<std::string, double>& utilization);

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
  bool m_summary = false;
  std::string m_warm_key;  // non-empty: the chip goes back to the warm slot after the run
  bool m_failed = false;  // a process raised an error: the kernel was stopped
};

// What this process has simulated so far (benchmarks; scripts/bench_speed.py): simulations run
// (kernels or groups of kernels, each one SimSession), of which on a reused warm chip, and the
// transactions they simulated. With XPUSIM_RUN_STATS=<file> set, the figures are written to that
// file as one JSON object when the process exits, with the process's peak RSS (`peak_rss_kib`, VmHWM).
// Work done in worker processes (compare --jobs) is added in (add_worker_run_stats), and the peak RSS
// written is the largest of this process's and its workers'.
struct ProcessRunStats {
  std::uint64_t simulations = 0, reused_chips = 0, transactions = 0;
  std::uint64_t worker_peak_rss_kib = 0;  // the largest peak RSS of the workers added in
};
const ProcessRunStats& process_run_stats();
// This process's peak RSS so far (VmHWM in KiB; 0 where /proc does not give it).
std::uint64_t own_peak_rss_kib();
// A worker's figures (what it simulated after it was forked: its counts less `at_fork`) and its peak RSS.
void add_worker_run_stats(const ProcessRunStats& worker, const ProcessRunStats& at_fork, std::uint64_t peak_rss_kib);

// Simulates the kernels in order on a fresh instance of `chip` (or the warm one, opt.keep_chip).
RunResult simulate(const ChipModel& chip, std::vector<KernelPrograms> kernels, const RunOptions& opt, DType dtype);

}  // namespace xpu
