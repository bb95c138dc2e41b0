// The chip's power control at run level: average power of a simulated workload, and the clock a TDP
// (sustained) or electrical peak (burst) limit settles it at, found by simulating again at that clock.
#pragma once
#include <functional>

#include "sim/power/power.h"
#include "sim/run/registry.h"

namespace xpu {

// Average power of a workload, and (sustained) the clock the TDP limit settles it at.
struct PowerResult {
  bool modeled = false;       // false: the preset has no power section
  double avg_power_w = 0, energy_j = 0, tdp_w = 0;
  double clock_ratio = 1.0;   // f / f_nominal after throttling
  bool throttled = false;
  double slowdown = 1.0;      // time at the settled clock / time at the nominal clock
  double unthrottled_power_w = 0;
  EnergyBreakdown breakdown;
};
PowerResult power_at(const ChipModel& chip, const EnergyEvents& e, double clock_ratio = 1.0);
// Runs `sim` at the nominal clock; when sustained and above TDP, lowers the clock domain (rebuilding
// the chip at that clock and simulating again: the time change comes from the simulation) until the
// average power fits. Returns the events of the final run in `final_events` and its chip clock.
PowerResult settle_power(const ChipModel& chip, bool sustained,
                         const std::function<EnergyEvents(const ChipModel&)>& sim, EnergyEvents* final_events = nullptr);

}  // namespace xpu
