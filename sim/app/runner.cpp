#include "sim/app/runner.h"

#include <chrono>
#include <mutex>

namespace xpu {

RunResult simulate(const ChipModel& chip, std::vector<KernelPrograms> kernels, const RunOptions& opt, DType dtype) {
  // SystemC has one kernel per process: runs are serialized and each gets a fresh kernel context.
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  auto wall0 = std::chrono::steady_clock::now();

  RunResult r;
  r.chip = chip.name();
  r.family = chip.family();
  r.dtype = dtype;
  r.resolved_yaml = chip.resolved_yaml();
  TraceBuffer trace;
  std::vector<std::string> kernel_names;
  for (const auto& k : kernels)
    for (const auto& p : k) kernel_names.push_back(p.op.empty() ? p.name : p.op + ":" + p.name);

  fresh_systemc_kernel();
  tlm_utils::tlm_quantumkeeper::set_global_quantum(
      sc_core::sc_time::from_value(static_cast<sc_dt::uint64>(to_ticks(opt.quantum_s))));
  {
    std::unique_ptr<Chip> top = chip.build();
    top->context().trace = opt.trace ? &trace : nullptr;
    top->context().tensors = opt.tensors;
    top->set_workload(std::move(kernels));
    sc_core::sc_start();
    if (!top->finished()) throw std::runtime_error("simulation ended before all kernels completed");
    Tick total = top->end_time();
    r.latency_s = to_seconds(total);
    r.sim_cycles = r.latency_s * chip.clock_hz();
    r.transactions = top->context().counters.transactions;
    top->collect_stats(r.stats, total);
    r.unit_names = top->context().unit_names;
    const double peak = chip.peak_flops(dtype);
    const double bw = chip.dram_bandwidth();
    for (const KernelRecord& k : top->records()) {
      KernelResult kr;
      kr.name = k.name;
      kr.op = k.op;
      kr.strategy = k.strategy;
      kr.exec_s = to_seconds(k.end - k.start);
      kr.time_s = kr.exec_s + to_seconds(k.launch_overhead);
      kr.flops = k.roofline.flops;
      for (double f : k.counters.flops_by_dtype) kr.executed_flops += f;
      kr.executed_flops += k.counters.vector_flops;
      kr.hbm_bytes = k.counters.dram_bytes;
      kr.dram_bytes = k.counters.bytes_by_level[0];
      kr.min_bytes = k.roofline.min_dram_bytes;
      kr.roofline_s = std::max(peak > 0 ? kr.flops / peak : 0.0, bw > 0 ? kr.min_bytes / bw : 0.0);
      double intensity = kr.min_bytes > 0 ? kr.flops / kr.min_bytes : 1e30;
      kr.bound = (peak > 0 && bw > 0 && intensity >= peak / bw) ? "compute" : "memory";
      kr.tasks = k.tasks;
      kr.transactions = k.counters.transactions;
      kr.occupancy = k.slots_per_executor;
      r.flops += kr.flops;
      r.kernels.push_back(kr);
    }
    r.peak_tflops = peak / 1e12;
    r.tflops = r.latency_s > 0 ? r.flops / r.latency_s / 1e12 : 0;
    r.share_of_peak = peak > 0 ? r.tflops * 1e12 / peak : 0;
    for (int l = 0; l < 8; ++l) {
      double b = top->context().counters.bytes_by_level[l];
      if (b > 0) r.stats.set("dma.level" + std::to_string(l) + ".bytes", b, "B", "bytes moved by DMA at this level");
    }
    r.stats.set("run.transactions", static_cast<double>(r.transactions), "count", "transactions simulated");
    top.reset();  // modules are destroyed while their kernel context is still current
  }
  r.kernel_names = kernel_names;
  r.trace = std::move(trace.records);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}

}  // namespace xpu
