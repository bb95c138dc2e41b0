#include "sim/power/power.h"

#include <algorithm>

namespace xpu {

void describe(Params& p, PowerSpec& s, const std::string& pre) {
  p(pre + "tdp", s.tdp, "Thermal design power: the limit the power manager holds sustained work to");
  p(pre + "peak_limit", s.peak_limit,
    "Electrical limit on power that holds even for bursts shorter than the TDP averaging window (0 W: none)",
    "0 W");
  p(pre + "static", s.static_power, "Leakage and idle uncore power at the nominal clock");
  p(pre + "executor_active", s.executor_active,
    "Power of one executor (SM, core, tile) while it holds work, at nominal clock and voltage", "0 W");
  const char* names[] = {"fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "fp4", "int8"};
  for (int i = 0; i < 8; ++i)
    p(pre + "mac_energy." + names[i], s.mac[i],
      std::string("Energy of one ") + names[i] + " multiply-accumulate incl. operand delivery, at nominal voltage",
      "0 pJ");
  p(pre + "vector_flop_energy", s.vector_flop, "Energy of one vector-unit FLOP at nominal voltage", "0 pJ");
  p(pre + "onchip_byte_energy", s.onchip_byte, "Energy per byte a DMA moves on chip (cache/NoC/SRAM)", "0 pJ");
  p(pre + "dram_byte_energy", s.dram_byte, "Energy per byte of DRAM traffic (array, PHY, controller)", "0 pJ");
  p(pre + "voltage_floor", s.voltage_floor, "Lowest supply voltage as a share of nominal (V tracks f above it)", "0.7");
  p(pre + "min_clock", s.min_clock, "Lowest clock ratio the power manager may choose", "0.3");
  p.require(s.tdp.value() > 0, pre + "tdp", "a positive power");
  p.require(s.static_power.value() < s.tdp.value(), pre + "static", "less than the TDP");
  p.require(s.voltage_floor > 0 && s.voltage_floor <= 1, pre + "voltage_floor", "a share in (0, 1]");
}

EnergyEvents& EnergyEvents::operator+=(const EnergyEvents& o) {
  for (int i = 0; i < 8; ++i) macs[i] += o.macs[i];
  vector_flops += o.vector_flops;
  onchip_bytes += o.onchip_bytes;
  dram_bytes += o.dram_bytes;
  active_executor_s += o.active_executor_s;
  time_s += o.time_s;
  return *this;
}

EnergyEvents EnergyEvents::scaled(double k) const {
  EnergyEvents e = *this;
  for (double& m : e.macs) m *= k;
  e.vector_flops *= k;
  e.onchip_bytes *= k;
  e.dram_bytes *= k;
  e.active_executor_s *= k;
  e.time_s *= k;
  return e;
}

double voltage_ratio(const PowerSpec& s, double x) { return std::max(s.voltage_floor, std::min(1.0, x)); }

EnergyBreakdown energy(const PowerSpec& s, const EnergyEvents& e, double x) {
  double v = voltage_ratio(s, x), v2 = v * v;
  EnergyBreakdown b;
  for (int i = 0; i < 8; ++i) b.compute_j += e.macs[i] * s.mac[i].value() * v2;
  b.vector_j = e.vector_flops * s.vector_flop.value() * v2;
  b.onchip_j = e.onchip_bytes * s.onchip_byte.value() * v2;
  b.dram_j = e.dram_bytes * s.dram_byte.value();
  // Active power ~ C f V^2: per second of activity it scales with x v^2.
  b.active_j = e.active_executor_s * s.executor_active.value() * x * v2;
  b.static_j = e.time_s * s.static_power.value() * v;  // leakage tracks voltage roughly linearly
  return b;
}

}  // namespace xpu
