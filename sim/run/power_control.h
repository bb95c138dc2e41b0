// The chip's power control at run level: what the power manager (sim/power/power_manager.h) does with
// a simulated workload: the clocks it ran at over time, its average power and energy. The workload is
// simulated once, at the nominal clock; the time at the managed clocks comes from what that run saw
// (EnergyEvents::extra_s), never from a second simulation.
#pragma once
#include "sim/power/power_manager.h"
#include "sim/power/power_state.h"
#include "sim/run/registry.h"

namespace xpu {

// Average power of a workload and the clocks the power manager ran it at.
struct PowerResult {
  bool modeled = false;       // false: the preset has no power section
  double avg_power_w = 0, energy_j = 0, tdp_w = 0;
  double clock_ratio = 1.0;   // f / f_nominal, time-weighted mean over the run
  bool throttled = false;     // some of the work ran below the nominal clock
  double slowdown = 1.0;      // time at the managed clocks / time at the nominal clock
  double unthrottled_power_w = 0;  // average power at the nominal clock
  bool steady_state = false;  // the run was taken as repeated back to back (TDP average already reached)
  double after_runs = -1;     // timed after this many back-to-back runs from idle (power_after_runs); -1: not
  double boost_clock_ratio = 1.0, held_clock_ratio = 1.0;
  double short_term_clock_ratio = 1.0;  // clock held by the fast loop between the boost and the TDP hold
  double boost_s = 0;         // time spent at the boost clock before the short-term or TDP average cut it
  double boost_ends_s = -1;   // when the fast loop cut the boost (-1: not within this work)
  double limit_reached_s = -1;  // when the TDP average reached TDP (-1: not within this work; 0: --sustained)
  double limit_window_s = 0;
  EnergyBreakdown breakdown;
  ManagedPower managed;       // the phases (empty without a power model)
  // Some of the work ran at another clock than the nominal one (throttled, or boosted above it): its times
  // are not the simulated ones.
  bool ran_off_nominal() const {
    for (const auto& ph : managed.phases)
      if (ph.clock_ratio != 1.0) return modeled;
    return false;
  }
  // Time and events of a part of the run under the same clocks (identity without a power model).
  double time_of(const EnergyEvents& part) const { return modeled ? managed.time_of(part) : part.time_s; }
  EnergyEvents events_of(const EnergyEvents& part) const { return modeled ? managed.events_of(part) : part; }
};
// Power of `e` run entirely at clock ratio x (no management: a fixed clock).
PowerResult power_at(const ChipModel& chip, const EnergyEvents& e, double clock_ratio = 1.0);
// What the power manager does with `e` (simulated at the nominal clock). `steady_state`: the work is
// taken as repeated back to back, so the running average already sits at TDP (`--sustained`); otherwise
// it starts from idle and the duration of the work decides how much of it runs at boost.
PowerResult manage_power(const ChipModel& chip, const EnergyEvents& e, bool steady_state);
// `e` as a benchmark times it after a warm-up: `runs` back-to-back runs of the same work from an idle chip, then
// this run, managed as it goes from the clock they left (manage_run_after; 0 runs: the first run from idle).
PowerResult power_after_runs(const ChipModel& chip, const EnergyEvents& e, double runs);
// The boost clock as a ratio of the chip's nominal clock (1 without power.boost_clock); needs a power section.
double max_clock_ratio(const ChipModel& chip);
// The figures of a run whose pieces the power manager ran one after another (PowerManagerState: a serving
// run's iterations and idle time): time, energy, average power and mean clock as they ran.
PowerResult power_over_time(const ChipModel& chip, const PowerLog& log);

}  // namespace xpu
