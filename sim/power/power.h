// Power and energy: energy per event (MAC by dtype, vector FLOP, on-chip and DRAM byte), the power
// of active executors (clock tree, schedulers, register files: scales with f*V^2), static power, and
// a TDP limit with DVFS: when the average power of a sustained workload exceeds TDP the clock drops
// (V tracks f down to a floor, so dynamic power goes roughly as f^3) until it fits.
#pragma once
#include <string>
#include <vector>

#include "sim/base/config.h"
#include "sim/base/dtype.h"

namespace xpu {

struct PowerSpec {
  Watts tdp;
  Watts peak_limit;           // electrical (current) limit that caps even short bursts; 0 = none
  Watts static_power;         // leakage + idle uncore at the nominal clock
  Watts executor_active;      // per executor (SM, core, tile) while it holds work, at nominal f and V
  Joules mac[8];              // per multiply-accumulate, by DType index, at nominal V
  Joules vector_flop;         // per vector-unit FLOP
  Joules onchip_byte;         // per byte moved by DMA on chip (L2/NoC/SRAM), at nominal V
  Joules dram_byte;           // per byte of DRAM traffic (HBM array + PHY + controller); not core voltage
  double voltage_floor = 0.7; // V/V0 never goes below this (near-threshold limit)
  double min_clock = 0.3;     // lowest clock ratio DVFS may pick
};
void describe(Params& p, PowerSpec& s, const std::string& prefix = "power.");

// What a kernel (or a step of kernels) did, in events.
struct EnergyEvents {
  double macs[8] = {};
  double vector_flops = 0;
  double onchip_bytes = 0;
  double dram_bytes = 0;
  double active_executor_s = 0;  // executor-seconds with resident work
  double time_s = 0;
  EnergyEvents& operator+=(const EnergyEvents& o);
  EnergyEvents scaled(double k) const;
};

struct EnergyBreakdown {
  double compute_j = 0, vector_j = 0, onchip_j = 0, dram_j = 0, active_j = 0, static_j = 0;
  double total() const { return compute_j + vector_j + onchip_j + dram_j + active_j + static_j; }
};

// Energy of `e` at clock ratio x = f / f_nominal (core-domain energies scale with V^2).
EnergyBreakdown energy(const PowerSpec& s, const EnergyEvents& e, double clock_ratio = 1.0);
double voltage_ratio(const PowerSpec& s, double clock_ratio);

}  // namespace xpu
