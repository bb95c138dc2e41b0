// How a chip's power manager sets the clock over time: a burst starts at the boost clock (the highest
// clock whose instantaneous power stays under the electrical limit), a fast loop then holds a short
// average of power to a short-term limit, and once the one-second average reaches TDP the clock is walked
// down to the clock the chip holds at its limit. From one simulation at the nominal clock, never a second one.
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
// Model (NVIDIA GPU Boost as NVML documents it and as our H200 trace shows it: workloads/validation/
// README.md, "H200 measurements", pmtrace; the same shape is assumed for the other families, each with
// its own stated parameters). Three limits, each met by lowering the clock:
//  - electrical limit: hardware slows the clock within microseconds when instantaneous power would
//    exceed `peak_limit` (NVML's HW Slowdown reason "Fast Trigger protection"), so even a short burst
//    runs at most at the clock where P(x) = peak_limit, and never above `boost_clock`: the boost clock;
//  - short-term limit: a fast control loop holds a short running average of power (a boxcar of
//    `short_term_window`) to `short_term_limit`. From idle, a burst runs at boost until that average
//    reaches the limit, t_a = window x (L - P_idle) / (P_boost - P_idle) (the H200's first ~35 ms), then
//    at the clock where P(x) = L;
//  - TDP limit: the power averaged over `limit_window` (a boxcar: NVML's 1 s average) is held to TDP.
//    From idle that average reaches TDP at t_c, when P_idle (W - t_c) + the energy since the start
//    equals TDP x W (about 1 s for a GEMM on the H200); the clock is then walked down in `settle_time`
//    (a phase at the mean of the two clocks) to the held clock, where P(x) = TDP, and stays there.
// The idle chip keeps a live context at the boost clock (the H200 idled at 1980 MHz), drawing
// static power at that clock's voltage and its clocked uncore (uncore_active). Timing at a clock comes from `at_clock` (the time each
// kernel's simulation implies at that clock).
struct ManagedPower {
  bool steady_state = false;     // the running averages start at the limits (work repeated back to back)
  double boost_clock = 1.0;      // clock ratio a burst runs at (electrical limit, boost_clock)
  double short_term_clock = 1.0; // clock ratio held by the short-term loop (= boost_clock without one)
  double held_clock = 1.0;       // clock ratio held at TDP (= boost_clock when the work stays below TDP)
  double boost_ends_s = -1;      // time from idle at which the short-term loop cuts the boost; -1: never
  double limit_reached_s = -1;   // time at which the TDP average reached TDP; -1: never within this work
  double nominal_power_w = 0;    // average power of the work at the nominal clock (x = 1)
  double boost_power_w = 0;      // at the boost clock
  double idle_power_w = 0;       // the chip idle at the boost clock (the averages' starting point)
  std::vector<ClockPhase> phases;
  EnergyEvents events;           // the work as run: times at the phases' clocks
  EnergyBreakdown breakdown;
  double time_s = 0, energy_j = 0, avg_power_w = 0;
  double clock_ratio = 1.0;      // time-weighted mean clock ratio

  // Time of a part of the same work (a kernel of a run) under these phases.
  double time_of(const EnergyEvents& part) const;
  // The part's events under these phases (time and executor-seconds at the phases' clocks).
  EnergyEvents events_of(const EnergyEvents& part) const;
};

// When the power manager changes the clock of work started on an idle chip and run without a break.
struct PowerTimeline {
  double boost_clock = 1.0, short_term_clock = 1.0, held_clock = 1.0;
  double boost_power_w = 0, short_term_power_w = 0, idle_power_w = 0;
  double boost_ends_s = 0;     // end of the boost (the short-term average reaches its limit)
  double limit_reached_s = 0;  // the TDP average reaches TDP (infinite when the work never exceeds TDP)
  double clock_at(double t_s) const;  // the clock ratio at time t from the start (settling not included)
};
// `max_clock`: the boost clock as a ratio of the nominal clock (1: the nominal clock).
PowerTimeline power_timeline(const PowerSpec& s, const EnergyEvents& e, double max_clock = 1.0);

// `e`: the work simulated at the nominal clock (x = 1), with its time at other clocks in e.extra_s.
ManagedPower manage_power(const PowerSpec& s, const EnergyEvents& e, bool steady_state, double max_clock = 1.0);

// Run `runs` + 1 of `e` back to back from an idle chip, managed as they go (manage_power over that much work), and
// keep the last: its phases are the tail of that timeline, so a run that starts at the boost clock and crosses a
// limit is timed across it, and 0 runs is manage_power of `e` itself. Where the clock has settled before the run
// starts, it is the run at the held clock.
ManagedPower manage_run_after(const PowerSpec& s, const EnergyEvents& e, double runs, double max_clock = 1.0);

// Average power of `e` run entirely at clock ratio x.
double power_at_clock(const PowerSpec& s, const EnergyEvents& e, double x);
// Highest clock ratio in [min_clock, hi] whose power stays at or below `limit` (min_clock if none does).
double clock_for_power(const PowerSpec& s, const EnergyEvents& e, double limit, double hi = 1.0);

}  // namespace xpu
