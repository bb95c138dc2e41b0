#include "sim/power/power.h"

#include <algorithm>

#include "sim/base/strformat.h"

namespace xpu {

void describe(Params& p, PowerSpec& s, const std::string& pre) {
  p(pre + "tdp", s.tdp,
    "Thermal design power as deployed: the limit the power manager holds sustained work to (where a deployment "
    "provisions the chip below its design TDP, the provisioned power)");
  p(pre + "design_tdp", s.design_tdp,
    "The chip's design TDP where its deployment provisions less (power.tdp): stated, not simulated; 0 W: the same "
    "as power.tdp", "0 W");
  p(pre + "peak_limit", s.peak_limit,
    "Electrical (current) limit on instantaneous power, enforced by hardware within microseconds: the highest "
    "clock a burst shorter than the TDP averaging window can run at (0 W: none)",
    "0 W");
  p(pre + "limit_window", s.limit_window,
    "Length of the running average of power (a boxcar, as NVML reports it) that the TDP limit regulates: work "
    "shorter than it runs above TDP, work much longer settles at the clock that draws TDP", "1 s");
  p(pre + "settle_time", s.settle_time,
    "Time the power manager takes to walk the clock from boost down to the clock it holds at TDP once the "
    "running average reaches TDP", "10 ms");
  p(pre + "short_term_limit", s.short_term_limit,
    "Limit of the power manager's fast control loop on a short running average of power (short_term_window): "
    "from idle, work runs at the boost clock until that average reaches it, then at the clock that draws it until "
    "the TDP average catches up (0 W: no fast loop; the TDP average alone ends the boost). A --set of power.tdp scales it "
    "by the same factor unless it is also set in that run",
    "0 W");
  p(pre + "short_term_window", s.short_term_window,
    "Length of the running average of power (a boxcar, like the TDP's) that short_term_limit regulates: sets how "
    "long a burst from idle runs at the boost clock", "50 ms");
  p(pre + "short_term_source", s.short_term_source,
    "Where short_term_limit and short_term_window come from (the measurement they are calibrated on, or \"assumed: "
    "why\"): serve's report prints it beside them, as the highest short_term_window average of a run exceeds the limit "
    "while the boost from idle is still in the window (the fast loop caps each piece of work, not that average)", "");
  p(pre + "boost_clock", s.boost_clock,
    "Highest clock the power manager picks when power allows (GPU Boost's maximum clock); memory-bound work runs "
    "there. 0 Hz: the nominal clock (sm.clock or its family's equivalent). A property of the silicon: a `--set` of the "
    "nominal clock scales it by the same factor unless it is also set in that run", "0 Hz");
  p(pre + "static", s.static_power, "Leakage and idle uncore power at the nominal clock");
  p(pre + "executor_active", s.executor_active,
    "Power of one executor (SM, core, tile) while it holds work (issuing or waiting on memory), at nominal clock "
    "and voltage", "0 W");
  p(pre + "executor_idle", s.executor_idle,
    "Power of one executor without resident work while the chip runs a kernel (clock distribution that is not "
    "gated), at nominal clock and voltage", "0 W");
  p(pre + "uncore_active", s.uncore_active,
    "Power of the memory side while the chip runs kernels, whatever the bytes moved: L2 or SRAM slices, crossbar "
    "or NoC, memory controllers and DRAM PHY, at nominal clock and voltage", "0 W");
  const char* names[] = {"fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "fp4", "int8"};
  for (int i = 0; i < 8; ++i)
    p(pre + "mac_energy." + names[i], s.mac[i],
      std::string("Energy of one ") + names[i] + " multiply-accumulate incl. operand delivery, at nominal voltage",
      "0 pJ");
  p(pre + "vector_flop_energy", s.vector_flop, "Energy of one vector-unit FLOP at nominal voltage", "0 pJ");
  p(pre + "onchip_byte_energy", s.onchip_byte, "Energy per byte a DMA moves on chip (cache/NoC/SRAM)", "0 pJ");
  p(pre + "dram_byte_energy", s.dram_byte, "Energy per byte of DRAM traffic (array, PHY, controller)", "0 pJ");
  p(pre + "voltage_floor", s.voltage_floor, "Lowest supply voltage as a share of nominal (V tracks f above it)", "0.7");
  p(pre + "voltage_intercept", s.voltage_intercept,
    "V/f curve above the floor: V/V0 = intercept + (1 - intercept) x f/f0, a straight line through the nominal point "
    "(0: V proportional to f; a positive intercept is the threshold-voltage offset of the alpha-power law)", "0");
  p(pre + "dram_core_share", s.dram_core_share,
    "Share of dram_byte_energy (stated at the nominal clock) spent on the GPU die at core voltage (memory controller, L2 "
    "fill, crossbar), which scales with V^2; the rest (DRAM array, I/O) does not (0: none scales)", "0");
  p(pre + "min_clock", s.min_clock, "Lowest clock ratio the power manager may choose", "0.3");
  p.require(s.tdp.value() > 0, pre + "tdp", "a positive power");
  // The TDP may come from another file than the static power it bounds (a preset that inherits one and sets the other).
  // A --set TDP below the preset's static power is the override's fault, named as such (it had blamed power.static).
  p.require(s.static_power.value() < s.tdp.value(), pre + "static", strformat("less than the TDP (%stdp %g W)", pre.c_str(), s.tdp.value()),
            pre + "tdp", "a power above the static power");
  p.require(s.design_tdp.value() == 0 || s.design_tdp.value() >= s.tdp.value(), pre + "design_tdp",
            strformat("0 W (as power.tdp) or at least power.tdp (the provisioned limit, %stdp %g W)", pre.c_str(), s.tdp.value()));
  p.require(s.limit_window.value() > 0, pre + "limit_window", "a positive time");
  p.require(s.settle_time.value() >= 0, pre + "settle_time", "a time of at least 0 s");
  p.require(s.short_term_limit.value() == 0 || s.short_term_limit.value() >= s.tdp.value(), pre + "short_term_limit",
            strformat("0 W (none) or at least the TDP (%stdp %g W; a what-if of %stdp alone scales it)", pre.c_str(),
                      s.tdp.value(), pre.c_str()));
  p.require(s.short_term_window.value() > 0, pre + "short_term_window", "a positive time");
  p.require(s.boost_clock.value() >= 0, pre + "boost_clock", "a clock of at least 0 Hz");
  p.require(s.voltage_floor > 0 && s.voltage_floor <= 1, pre + "voltage_floor", "a share in (0, 1]");
  p.require(s.voltage_intercept >= 0 && s.voltage_intercept < 1, pre + "voltage_intercept", "a share in [0, 1)");
  p.require(s.dram_core_share >= 0 && s.dram_core_share <= 1, pre + "dram_core_share", "a share in [0, 1]");
}

EnergyEvents& EnergyEvents::operator+=(const EnergyEvents& o) {
  for (int i = 0; i < 8; ++i) macs[i] += o.macs[i];
  vector_flops += o.vector_flops;
  onchip_bytes += o.onchip_bytes;
  dram_bytes += o.dram_bytes;
  active_executor_s += o.active_executor_s;
  executor_s += o.executor_s;
  busy_s += o.busy_s;
  dram_busy_s += o.dram_busy_s;
  time_s += o.time_s;
  for (size_t i = 0; i < extra_s.size(); ++i) extra_s[i] += o.extra_s[i];
  return *this;
}

EnergyEvents EnergyEvents::scaled(double k) const {
  EnergyEvents e = *this;
  for (double& m : e.macs) m *= k;
  e.vector_flops *= k;
  e.onchip_bytes *= k;
  e.dram_bytes *= k;
  e.active_executor_s *= k;
  e.executor_s *= k;
  e.busy_s *= k;
  e.dram_busy_s *= k;
  e.time_s *= k;
  for (double& x : e.extra_s) x *= k;
  return e;
}

EnergyEvents at_clock(const EnergyEvents& e, double x) {
  EnergyEvents o = e;
  if (x <= 0 || x == 1.0) return o;
  // Linear in u = 1/x between the tabulated clocks (u ascending along the grid).
  const double u = 1.0 / x;
  size_t i = 0;
  while (i + 2 < kClockGrid.size() && u > 1.0 / kClockGrid[i + 1]) ++i;
  const double u0 = 1.0 / kClockGrid[i], u1 = 1.0 / kClockGrid[i + 1];
  const double extra = e.extra_s[i] + (e.extra_s[i + 1] - e.extra_s[i]) * (u - u0) / (u1 - u0);
  for (double& v : o.extra_s) v = 0;  // the result is a point, not a curve: rescaling it again is not supported
  o.time_s = e.time_s + extra;
  const double k = e.time_s > 0 ? o.time_s / e.time_s : 0;
  o.active_executor_s = e.active_executor_s * k;
  o.executor_s = e.executor_s * k;
  o.busy_s = e.busy_s * k;
  return o;
}

// V tracks f down to the floor; above the nominal clock it keeps tracking f (the H100's executor_active is
// calibrated at 1.98 GHz with that assumption).
double voltage_ratio(const PowerSpec& s, double x) {
  return std::max(s.voltage_floor, s.voltage_intercept + (1 - s.voltage_intercept) * x);
}

EnergyBreakdown energy(const PowerSpec& s, const EnergyEvents& e, double x) {
  double v = voltage_ratio(s, x), v2 = v * v;
  EnergyBreakdown b;
  for (int i = 0; i < 8; ++i) b.compute_j += e.macs[i] * s.mac[i].value() * v2;
  b.vector_j = e.vector_flops * s.vector_flop.value() * v2;
  b.onchip_j = e.onchip_bytes * s.onchip_byte.value() * v2;
  b.dram_j = e.dram_bytes * s.dram_byte.value() * (1 - s.dram_core_share + s.dram_core_share * v2);
  // Active power ~ C f V^2: per second of activity it scales with x v^2.
  const double idle_executor_s = std::max(0.0, e.executor_s - e.active_executor_s);
  b.active_j = (e.active_executor_s * s.executor_active.value() + idle_executor_s * s.executor_idle.value() +
                e.busy_s * s.uncore_active.value()) * x * v2;
  b.static_j = e.time_s * s.static_power.value() * v;  // leakage tracks voltage roughly linearly
  return b;
}

}  // namespace xpu
