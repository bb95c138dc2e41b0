// How a chip's power manager sets the clock over time: a burst starts at the boost clock (the highest
// clock whose instantaneous power stays under the electrical limit), a TDP limit regulates a running
// average of power, and once that average reaches TDP the clock is walked down to the clock the chip
// holds at its limit. From one simulation at the nominal clock, never a second one.
#pragma once
#include <vector>

#include "sim/power/power.h"

namespace xpu {

// A share of the work run at one clock.
struct ClockPhase {
  double clock_ratio = 1.0;  // f / f_nominal
  double work = 1.0;         // share of the work done at this clock
  double time_s = 0;         // time that share took
};

// What the power manager did with a piece of work.
//
// Model (NVIDIA GPU Boost / SW power cap as documented by NVML; the same shape is assumed for the
// other families, each with its own stated parameters):
//  - electrical limit: hardware slows the clock within microseconds when instantaneous power would
//    exceed `peak_limit` (NVML's HW Slowdown reason "Fast Trigger protection"), so even a short burst
//    runs at most at the clock where P(x) = peak_limit; that clock is the boost clock;
//  - TDP limit: the power manager regulates the power averaged over `limit_window` (NVML reports board
//    power averaged over 1 s on Ampere and newer). The average is modelled as an exponentially
//    weighted mean with that time constant, starting from the idle power (static) or, for steady state,
//    at TDP. At constant boost power P_b it reaches TDP after t1 = window x ln((P_b - A0) / (P_b - TDP));
//  - settling: the clock is then walked down to the held clock, where P(x) = TDP, in `settle_time`
//    (modelled as a phase at the mean of the two clocks); from then on it holds that clock.
// Timing at a clock comes from `at_clock` (the time each kernel's simulation implies at that clock).
struct ManagedPower {
  bool steady_state = false;     // the running average starts at TDP (work repeated back to back)
  double boost_clock = 1.0;      // clock ratio a burst runs at (electrical limit)
  double held_clock = 1.0;       // clock ratio held at TDP (= boost_clock when the work stays below TDP)
  double limit_reached_s = -1;   // time at which the average reached TDP; -1: never within this work
  double nominal_power_w = 0;    // average power of the work at the nominal clock (x = 1)
  double boost_power_w = 0;      // at the boost clock
  std::vector<ClockPhase> phases;
  EnergyEvents events;           // the work as run: times at the phases' clocks
  EnergyBreakdown breakdown;
  double time_s = 0, energy_j = 0, avg_power_w = 0;
  double clock_ratio = 1.0;      // time-weighted mean clock ratio

  // Time of a part of the same work (a kernel of a run, an iteration of serving) under these phases.
  double time_of(const EnergyEvents& part) const;
  // The part's events under these phases (time and executor-seconds at the phases' clocks).
  EnergyEvents events_of(const EnergyEvents& part) const;
};

// `e`: the work simulated at the nominal clock (x = 1), with its time at other clocks in e.extra_s.
ManagedPower manage_power(const PowerSpec& s, const EnergyEvents& e, bool steady_state);

// Average power of `e` run entirely at clock ratio x.
double power_at_clock(const PowerSpec& s, const EnergyEvents& e, double x);
// Highest clock ratio in [min_clock, hi] whose power stays at or below `limit` (min_clock if none does).
double clock_for_power(const PowerSpec& s, const EnergyEvents& e, double limit, double hi = 1.0);

}  // namespace xpu
