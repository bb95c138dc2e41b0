#include "sim/run/runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "sim/base/run_budget.h"

namespace xpu {

namespace {
// Counted for process_run_stats(); written at exit when XPUSIM_RUN_STATS names a file.
struct RunStatsAtExit {
  ProcessRunStats stats;
  ~RunStatsAtExit() {
    const char* path = std::getenv("XPUSIM_RUN_STATS");
    if (!path || !*path) return;
    // The process's own peak RSS (VmHWM of the memory map exec gave it; a parent's wait4 ru_maxrss
    // also counts the parent's pages that a fork carried up to the exec), or its workers' largest.
    const unsigned long long hwm_kib = std::max<std::uint64_t>(own_peak_rss_kib(), stats.worker_peak_rss_kib);
    if (std::FILE* f = std::fopen(path, "w")) {
      std::fprintf(f,
                   "{\"simulations\": %llu, \"reused_chips\": %llu, \"transactions\": %llu, \"peak_rss_kib\": %llu, "
                   "\"workers_peak_rss_kib\": %llu}\n",
                   static_cast<unsigned long long>(stats.simulations),
                   static_cast<unsigned long long>(stats.reused_chips),
                   static_cast<unsigned long long>(stats.transactions), hwm_kib,
                   static_cast<unsigned long long>(stats.worker_peak_rss_kib));
      std::fclose(f);
    }
  }
};
RunStatsAtExit g_run_stats;

std::mutex g_sim_mutex;
SimSession* g_live = nullptr;
std::thread::id g_live_thread;
// A long run on a terminal shows its progress (0: none); set per session from the pre-run estimate.
double g_progress_total = 0;
std::string g_progress_what;
}  // namespace

SimSession::SimSession(const ChipModel& chip, std::vector<KernelPrograms> kernels, const RunOptions& opt, DType dtype)
    : m_chip(chip), m_dtype(dtype), m_lock(g_sim_mutex, std::try_to_lock) {
  // SystemC has one kernel per process: sessions are exclusive, and each gets a fresh kernel context.
  // Calls from other threads wait their turn; only a session still open on this same thread (which
  // waiting would deadlock) is an error.
  if (!m_lock.owns_lock()) {
    if (g_live && g_live_thread == std::this_thread::get_id())
      throw InputError("another simulation session is still open in this thread: close it first (Python: session.close(), or "
                       "`with xpusim.Session(...) as s:`; a finished result() leaves it open for trace())");
    m_lock = std::unique_lock<std::mutex>(g_sim_mutex);
  }
  g_live = this;
  g_live_thread = std::this_thread::get_id();
  m_wall0 = std::chrono::steady_clock::now();
  g_progress_what = budget_subject(kernels);
  const RunEstimate est = check_run_budget(g_progress_what, kernels, chip.executors() * 32.0, opt.trace);
  TransactionBudget::admit(g_progress_what, est.transactions);  // the whole run's limit, where one is open
  g_progress_total = est.transactions > 5e6 && ::isatty(2) && !std::getenv("XPUSIM_NO_PROGRESS") ? est.transactions : 0;
  for (const auto& k : kernels)
    for (const auto& p : k) m_kernel_names.push_back(p.op.empty() ? p.name : p.op + ":" + p.name);
  m_summary = opt.summary;
  const Tick quantum = to_ticks(opt.quantum_s);
  if (opt.keep_chip && !opt.trace && !opt.trace_sink && !opt.tensors && !std::getenv("XPUSIM_NO_CHIP_REUSE")) {
    m_warm_key = std::to_string(quantum) + "|" + chip.full_yaml();
    m_top = take_warm_chip(m_warm_key);
    if (m_top) m_top->set_units_per_op(opt.units_per_op);
    if (m_top && m_top->rerun(std::move(kernels))) {
      m_started = true;
      ++g_run_stats.stats.reused_chips;
      return;
    }
    if (m_top) m_top->shutdown();  // not reusable after all: destroyed in its own context, before the fresh one
    m_top.reset();
  }
  fresh_systemc_kernel();
  tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_core::sc_time::from_value(static_cast<sc_dt::uint64>(quantum)));
  m_top = chip.build();
  if (!m_warm_key.empty()) m_top->set_reusable();
  if (opt.trace_sink) opt.trace_sink->on_begin();
  m_top->context().trace = opt.trace_sink ? opt.trace_sink : opt.trace ? &m_trace : nullptr;
  m_top->context().tensors = opt.tensors;
  m_top->set_units_per_op(opt.units_per_op);
  m_top->set_workload(std::move(kernels));
}

SimSession::~SimSession() {
  if (m_top) TransactionBudget::charge(static_cast<double>(m_top->context().counters.transactions));
  if (!m_warm_key.empty() && m_top && !m_failed && m_top->finished() && m_top->context().reusable)
    keep_warm_chip(m_warm_key, std::move(m_top));
  m_top.reset();  // modules are destroyed while their kernel context is still current
  g_live = nullptr;
}

// Every advance of the kernel goes through here: an exception that a simulation process raised
// continues on this stack (ProcessGuard), and the session refuses to go on after it.
void SimSession::advance(const sc_core::sc_time* dt) {
  if (m_failed) throw std::logic_error("this simulation stopped on an earlier error and cannot continue");
  m_failed = true;  // stays set when run_kernel rethrows a simulation process's exception
  run_kernel(&m_top->context().guard, dt);
  m_failed = false;
}

bool SimSession::step() {
  if (finished()) return false;
  if (!m_started) {  // elaborate and run the delta cycles at time zero
    m_started = true;
    advance(&sc_core::SC_ZERO_TIME);
    return !finished();
  }
  // Advance to the next time at which anything is scheduled (an event, a quantum sync, a launch).
  sc_core::sc_time dt = sc_core::sc_time_to_pending_activity();
  advance(sc_core::sc_pending_activity() ? &dt : nullptr);
  return !finished();
}

void SimSession::run_until(double t_s) {
  Tick target = to_ticks(t_s);
  while (!finished() && now_ticks() < target) {
    sc_core::sc_time dt = sc_core::sc_time::from_value(static_cast<sc_dt::uint64>(target - now_ticks()));
    advance(&dt);
  }
}

void SimSession::run_to_end() {
  if (finished()) return;
  if (g_progress_total <= 0) {
    advance(nullptr);
    return;
  }
  // Simulated in slices of simulated time sized to about half a second of wall time each (results do
  // not depend on the slicing: stepping equals a straight run), with a progress line on stderr.
  using clock = std::chrono::steady_clock;
  Tick slice = 1'000'000;  // 1 us
  auto shown = clock::now();
  struct ClearLine {  // also when a process raised an error: its message starts on a clean line
    ~ClearLine() { std::fprintf(stderr, "\r%*s\r", static_cast<int>(g_progress_what.size()) + 48, ""); }
  } clear_line;
  for (bool first = true; !finished(); first = false) {
    if (!first && !sc_core::sc_pending_activity()) {  // (nothing is pending before elaboration)
      advance(nullptr);
      break;
    }
    auto t0 = clock::now();
    const sc_core::sc_time dt = sc_core::sc_time::from_value(static_cast<sc_dt::uint64>(slice));
    advance(&dt);
    const double wall = std::chrono::duration<double>(clock::now() - t0).count();
    if (wall < 0.25 && slice < (Tick{1} << 50)) slice *= 2;
    else if (wall > 1.0 && slice > 1000) slice /= 2;
    if (std::chrono::duration<double>(clock::now() - shown).count() > 0.5) {
      shown = clock::now();
      const double done = static_cast<double>(m_top->context().counters.transactions);
      std::fprintf(stderr, "\r  %s: %3.0f%% of about %.3g M transactions ", g_progress_what.c_str(),
                   std::min(99.0, 100 * done / g_progress_total), g_progress_total / 1e6);
    }
  }
}

bool SimSession::finished() const { return m_top->finished(); }
double SimSession::now() const { return to_seconds(now_ticks()); }
Chip& SimSession::chip() { return *m_top; }

namespace {
// unit_utilization's mean per unit type, accumulated stat by stat in the order of the stats' names.
class UtilizationMean {
 public:
  static bool is_utilization(const std::string& k) {
    static const std::string suffix = ".utilization";
    return k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  // The unit type of a `<path>.<unit>.utilization` stat: "top.chip.sm12.tensor.utilization" -> "sm.tensor".
  static std::string unit_type(const std::string& k) {
    const std::string base = k.substr(0, k.size() - std::string(".utilization").size());
    auto dot = base.rfind('.');
    std::string unit = dot == std::string::npos ? base : base.substr(dot + 1);
    auto dot2 = base.rfind('.', dot == std::string::npos ? 0 : dot - 1);
    std::string parent = (dot != std::string::npos && dot2 != std::string::npos) ? base.substr(dot2 + 1, dot - dot2 - 1) : "";
    while (!parent.empty() && isdigit(static_cast<unsigned char>(parent.back()))) parent.pop_back();
    return parent.empty() ? unit : parent + "." + unit;
  }
  void add(const std::string& type, double v) {
    m_sum[type] += v;
    m_n[type] += 1;
  }
  std::map<std::string, double> mean() {
    for (auto& [k, v] : m_sum) v /= m_n[k];
    return std::move(m_sum);
  }

 private:
  std::map<std::string, double> m_sum;
  std::map<std::string, int> m_n;
};

// unit_utilization(stats) of the stats chip.collect_stats(stats, total) would set, without building them
// (a summary run's kernels): the executors' values come from Chip::engine_utilization, the memory's from
// its own collect_stats, and both are summed in the order of their names, as from one Stats, so the
// means are the same to the last bit. Each unit type of the executors' keys is worked out once per chip.
std::map<std::string, double> summary_unit_utilization(const Chip& chip, Tick total) {
  std::vector<Chip::EngineUtilization> engines;
  chip.engine_utilization(engines, total, &UtilizationMean::unit_type);
  Stats mem;
  chip.collect_memory_stats(mem, total);
  UtilizationMean m;
  auto it = mem.all().begin(), end = mem.all().end();
  auto memory_until = [&](const std::string* key) {  // the memory's stats named before `key` (all: nullptr)
    for (; it != end && (!key || it->first < *key); ++it)
      if (UtilizationMean::is_utilization(it->first)) m.add(UtilizationMean::unit_type(it->first), it->second.value);
  };
  for (size_t i = 0; i < engines.size(); ++i) {
    memory_until(engines[i].key);
    m.add(*engines[i].group, engines[i].value);
  }
  memory_until(nullptr);
  return m.mean();
}
}  // namespace

RunResult SimSession::result() {
  run_to_end();
  if (!m_top->finished()) throw std::runtime_error("simulation ended before all kernels completed");
  const ChipModel& chip = m_chip;
  RunResult r;
  r.chip = chip.name();
  r.family = chip.family();
  r.level_names = chip.memory_level_names();
  r.dtype = m_dtype;
  if (!m_summary) r.resolved_yaml = chip.full_yaml();
  std::unique_ptr<Chip>& top = m_top;
    Tick total = top->end_time();
    r.latency_s = to_seconds(total);
    r.sim_cycles = r.latency_s * chip.clock_hz();
    r.clock_hz = chip.clock_hz();
    r.transactions = top->context().counters.transactions;
    ++g_run_stats.stats.simulations;
    g_run_stats.stats.transactions += r.transactions;
    // A summary run's stats are dropped at the end: only the units' utilization is read of them.
    const bool stats_needed = !m_summary || !top->op_units().empty();
    if (stats_needed) top->collect_stats(r.stats, total);
    if (!m_summary) r.unit_names = top->context().unit_names;
    r.peak_dtype = chip.matmul_rate_dtype(m_dtype);
    const double peak = chip.peak_flops(r.peak_dtype);
    const double bw = chip.memory_roof_bandwidth();
    for (const KernelRecord& k : top->records()) {
      KernelResult kr;
      kr.name = k.name;
      kr.op = k.op;
      kr.strategy = k.strategy;
      kr.exec_s = to_seconds(k.end - k.start);
      kr.time_s = kr.exec_s + to_seconds(k.launch_overhead);
      kr.flops = k.roofline.flops;
      for (double f : k.counters.flops_by_dtype) kr.executed_flops += f, r.matrix_flops += f;
      kr.executed_flops += k.counters.vector_flops;
      kr.hbm_bytes = k.counters.dram_bytes;
      kr.dram_bytes = k.counters.bytes_by_level[0];
      kr.min_bytes = k.roofline.min_dram_bytes;
      kr.roofline_s = std::max(peak > 0 ? kr.flops / peak : 0.0, bw > 0 ? kr.min_bytes / bw : 0.0);
      double intensity = kr.min_bytes > 0 ? kr.flops / kr.min_bytes : 1e30;
      kr.roofline_bound = (peak > 0 && bw > 0 && intensity >= peak / bw) ? "compute" : "memory";
      kr.tasks = k.tasks;
      for (int d = 0; d < 8; ++d) kr.events.macs[d] = k.counters.flops_by_dtype[d] / 2;
      kr.events.vector_flops = k.counters.vector_flops;
      for (double b : k.counters.bytes_by_level) kr.events.onchip_bytes += b;
      kr.events.dram_bytes = k.counters.dram_bytes;
      kr.events.active_executor_s = k.counters.task_ticks * 1e-12 / std::max(1, k.slots_per_executor);
      kr.events.time_s = kr.time_s;
      kr.events.busy_s = kr.time_s;
      kr.events.executor_s = chip.executors() * kr.time_s;
      r.events += kr.events;
      kr.transactions = k.counters.transactions;
      kr.occupancy = k.slots_per_executor;
      r.flops += kr.flops;
      r.kernels.push_back(kr);
    }
    // The kernels of one simulation share its unit statistics (a model run simulates one op at a time),
    // or, where recorded (RunOptions::units_per_op), their op's own.
    struct UnitView {
      BoundBy by;
      ClockSensitivity cs;
      double memory = 0;  // memory_busy_share
    };
    const bool clocked = chip.transfers_in_core_clock();
    auto view_of = [clocked](const std::map<std::string, double>& util) {
      return UnitView{bound_by(util), clock_sensitivity(util, clocked), memory_busy_share(util)};
    };
    const UnitView whole = view_of(stats_needed ? unit_utilization(r.stats) : summary_unit_utilization(*top, total));
    std::vector<UnitView> per_op;
    for (const Stats& units : top->op_units()) per_op.push_back(view_of(unit_utilization(units)));
    r.events.extra_s = {};
    for (size_t k = 0; k < r.kernels.size(); ++k) {
      KernelResult& kr = r.kernels[k];
      const std::uint32_t op = top->records()[k].op_index;
      const UnitView& own = op < per_op.size() ? per_op[op] : whole;
      const BoundBy& by = own.by;
      const ClockSensitivity& cs = own.cs;
      kr.bound = by.category, kr.bound_unit = by.unit, kr.bound_share = by.share;
      kr.events.dram_busy_s = own.memory * kr.exec_s;
      r.events.dram_busy_s += kr.events.dram_busy_s;
      for (size_t i = 0; i < kClockGrid.size(); ++i) {
        kr.events.extra_s[i] = kernel_exec_at_clock(kr.exec_s, cs, kClockGrid[i]) - kr.exec_s;
        r.events.extra_s[i] += kr.events.extra_s[i];
      }
    }
    r.dram_path = kernels_dram_path(chip, r.kernels);
    r.peak_tflops = peak / 1e12;
    r.tflops = r.latency_s > 0 ? r.flops / r.latency_s / 1e12 : 0;
    r.share_of_peak = peak > 0 ? r.tflops * 1e12 / peak : 0;
    for (int l = 0; l < 8; ++l) {
      double b = top->context().counters.bytes_by_level[l];
      const std::string level = static_cast<size_t>(l) < r.level_names.size() ? " (" + r.level_names[static_cast<size_t>(l)] + ")" : "";
      if (b > 0) r.stats.set("dma.level" + std::to_string(l) + ".bytes", b, "B", "bytes moved by DMA at memory level " + std::to_string(l) + level);
    }
    r.stats.set("run.transactions", static_cast<double>(r.transactions), "count", "transactions simulated");
  if (m_summary) r.stats = Stats();
  else r.kernel_names = m_kernel_names;
  r.trace = m_trace.records;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_wall0).count();
  return r;
}

// Aggregates per-engine utilization over all executors ("sm*.tensor" -> "tensor").
std::map<std::string, double> unit_utilization(const Stats& stats) {
  UtilizationMean m;
  for (const auto& [k, v] : stats.all())
    if (UtilizationMean::is_utilization(k)) m.add(UtilizationMean::unit_type(k), v.value);
  return m.mean();
}

std::map<std::string, std::string> unit_notes(const Stats& stats) {
  std::map<std::string, std::string> notes;
  for (const auto& [k, v] : stats.all())
    if (UtilizationMean::is_utilization(k) && !v.description.empty() && v.description != kEngineBusyNote)
      notes.emplace(UtilizationMean::unit_type(k), v.description);
  return notes;
}

std::optional<DramPathBound> kernels_dram_path(const ChipModel& chip, const std::vector<KernelResult>& kernels) {
  std::vector<PathSample> samples;
  for (const KernelResult& k : kernels) samples.push_back({k.time_s * k.count, k.dram_bytes * k.count, k.bound_unit, k.bound_share});
  return dram_path_bound(chip, samples);
}

BoundBy bound_by(const std::map<std::string, double>& utilization) {
  BoundBy b;
  for (const auto& [unit, share] : utilization)
    if (share > b.share) b.unit = unit, b.share = share;
  if (b.unit.empty() || b.share < kBusyBoundShare) {
    b.category = "latency";
    return b;
  }
  b.category = unit_category(b.unit);
  return b;
}

std::string unit_category(const std::string& unit) {
  auto has = [&](const char* w) { return unit.find(w) != std::string::npos; };
  if (has("hbm") || has("dram")) return "memory";
  if (has("tensor") || has("mxu") || has("ttu")) return "compute";
  if (has("vector") || has("vpu") || has("tvp") || has("scalar") || has("gpsimd")) return "vector";
  return "transfer";  // DMA engines and queues, TMA, NoC, SRAM and crossbar ports
}

ClockSensitivity clock_sensitivity(const std::map<std::string, double>& utilization, bool transfers_clocked) {
  ClockSensitivity c;
  for (const auto& [unit, share] : utilization) {
    const std::string cat = unit_category(unit);
    const bool core = cat == "compute" || cat == "vector" || (transfers_clocked && cat == "transfer");
    double& slot = core ? c.core_share : c.other_share;
    slot = std::max(slot, std::min(1.0, share));
  }
  return c;
}

double memory_busy_share(const std::map<std::string, double>& utilization) {
  double m = 0;
  for (const auto& [unit, share] : utilization)
    if (unit_category(unit) == "memory") m = std::max(m, std::min(1.0, share));
  return m;
}

double kernel_exec_at_clock(double exec_s, const ClockSensitivity& c, double x) {
  const double core = c.core_share * exec_s, other = c.other_share * exec_s;
  const double rest = exec_s - std::max(core, other);
  return std::max(other, core / x) + rest;
}

const ProcessRunStats& process_run_stats() { return g_run_stats.stats; }

std::uint64_t own_peak_rss_kib() {
  unsigned long long hwm_kib = 0;
  if (std::FILE* st = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, st))
      if (std::sscanf(line, "VmHWM: %llu kB", &hwm_kib) == 1) break;
    std::fclose(st);
  }
  return hwm_kib;
}

void add_worker_run_stats(const ProcessRunStats& worker, const ProcessRunStats& at_fork, std::uint64_t peak_rss_kib) {
  ProcessRunStats& s = g_run_stats.stats;
  s.simulations += worker.simulations - at_fork.simulations;
  s.reused_chips += worker.reused_chips - at_fork.reused_chips;
  s.transactions += worker.transactions - at_fork.transactions;
  s.worker_peak_rss_kib = std::max({s.worker_peak_rss_kib, worker.worker_peak_rss_kib, peak_rss_kib});
}

RunResult simulate(const ChipModel& chip, std::vector<KernelPrograms> kernels, const RunOptions& opt, DType dtype) {
  SimSession s(chip, std::move(kernels), opt, dtype);
  return s.result();
}




}  // namespace xpu
