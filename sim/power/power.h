// Power and energy: energy per event (MAC by dtype, vector FLOP, on-chip and DRAM byte), the power
// of active executors (clock tree, schedulers, register files: scales with f*V^2), static power, and
// the parameters of the chip's power manager (sim/power/power_manager.h): an electrical limit on
// instantaneous power, a short-term limit on a short running average and a TDP limit on a one-second
// average, all met by lowering the clock (V tracks f down to a floor, so dynamic power goes roughly as f^3).
#pragma once
#include <array>
#include <string>
#include <vector>

#include "sim/base/config.h"
#include "sim/base/dtype.h"

namespace xpu {

struct PowerSpec {
  Watts tdp;                  // the sustained limit the power manager holds: the deployment's provisioned power
  Watts design_tdp;           // the silicon's design TDP where the deployment provisions less (informational); 0 = tdp
  Watts peak_limit;           // electrical (current) limit on instantaneous power: caps even short bursts; 0 = none
  Seconds limit_window;       // time constant of the running average of power that the TDP limit regulates
  Seconds settle_time;        // time the power manager takes to walk the clock down to the clock it holds at TDP
  Watts short_term_limit;     // limit of a fast control loop on a short running average of power (above TDP); 0 = none
  Seconds short_term_window;  // length of the short running average that short_term_limit regulates
  std::string short_term_source;  // where short_term_limit and short_term_window come from (reports print it beside them)
  Hertz boost_clock;          // highest clock the power manager picks (GPU Boost's maximum); 0 = the nominal clock
  Watts static_power;         // leakage + idle uncore at the nominal clock
  Watts executor_active;      // per executor (SM, core, tile) while it holds work, at nominal f and V
  Watts executor_idle;        // per executor without resident work while the chip runs a kernel (ungated clock tree)
  Watts uncore_active;        // L2/SRAM slices, crossbar or NoC, memory controllers and PHY clocking while a kernel runs
  Joules mac[8];              // per multiply-accumulate, by DType index, at nominal V
  Joules vector_flop;         // per vector-unit FLOP
  Joules onchip_byte;         // per byte moved by DMA on chip (L2/NoC/SRAM), at nominal V
  Joules dram_byte;           // per byte of DRAM traffic (HBM array + PHY + controller); not core voltage
  double voltage_floor = 0.7; // V/V0 never goes below this (near-threshold limit)
  double voltage_intercept = 0;  // V/V0 = intercept + (1 - intercept) f/f0 above the floor (0: V proportional to f)
  double dram_core_share = 0;    // share of dram_byte (at nominal V) spent on die at core voltage (scales with V^2)
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
  double executor_s = 0;         // executor-seconds available while kernels ran (executors x kernel time)
  double busy_s = 0;             // time kernels ran (the chip awake: launch gaps included, serving idle not)
  // Time the device memory (HBM) was busy while kernels ran: each kernel's memory busy share as its simulation saw
  // it (the DRAM model's mean channel busy time over the kernel's run, runner.cpp) x its execution time. Not on the
  // core clock: a run at another clock keeps it (at_clock). What a DMA beside the kernels finds busy (disagg.h).
  double dram_busy_s = 0;
  double time_s = 0;
  // How time_s changes with the DVFS clock: at clock ratio kClockGrid[i] the work takes
  // time_s + extra_s[i] (0 at the nominal clock; all 0: time independent of that clock). Each kernel
  // fills it from what its simulation saw (runner.cpp, kernel_time_at_clock); sums and scalings of
  // events keep it exact, so a run's time at any clock is the sum of its kernels' times there.
  std::array<double, 9> extra_s = {};
  EnergyEvents& operator+=(const EnergyEvents& o);
  EnergyEvents scaled(double k) const;
};

struct EnergyBreakdown {
  // active_j: executors holding work, executors idle while the chip runs, and the uncore (all of the
  // clocked power that is not a per-event energy).
  double compute_j = 0, vector_j = 0, onchip_j = 0, dram_j = 0, active_j = 0, static_j = 0;
  double total() const { return compute_j + vector_j + onchip_j + dram_j + active_j + static_j; }
  // Adds k times `o`, component by component.
  void add(const EnergyBreakdown& o, double k = 1.0) {
    compute_j += k * o.compute_j, vector_j += k * o.vector_j, onchip_j += k * o.onchip_j;
    dram_j += k * o.dram_j, active_j += k * o.active_j, static_j += k * o.static_j;
  }
};

// Clock ratios at which EnergyEvents::extra_s is tabulated (descending; 1 is the nominal clock).
inline constexpr std::array<double, 9> kClockGrid = {1.2, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3};

// The same work at clock ratio x (e was simulated at the nominal clock, x = 1): its time from extra_s,
// linear in 1/x between the grid's clocks (beyond them, the nearest segment extended); executor-seconds
// and busy time follow the time.
EnergyEvents at_clock(const EnergyEvents& e, double clock_ratio);

// Energy of `e` at clock ratio x = f / f_nominal (core-domain energies scale with V^2).
EnergyBreakdown energy(const PowerSpec& s, const EnergyEvents& e, double clock_ratio = 1.0);
double voltage_ratio(const PowerSpec& s, double clock_ratio);

}  // namespace xpu
