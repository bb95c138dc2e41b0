#include "sim/run/power_control.h"

#include <algorithm>
#include <cmath>

namespace xpu {

PowerResult power_at(const ChipModel& chip, const EnergyEvents& e, double x) {
  PowerResult p;
  const PowerSpec* s = chip.power();
  if (!s || e.time_s <= 0) return p;
  p.modeled = true;
  p.tdp_w = s->tdp.value();
  p.clock_ratio = x;
  p.breakdown = energy(*s, e, x);
  p.energy_j = p.breakdown.total();
  p.avg_power_w = p.energy_j / e.time_s;
  p.unthrottled_power_w = p.avg_power_w;
  return p;
}

PowerResult settle_power(const ChipModel& chip, bool sustained,
                         const std::function<EnergyEvents(const ChipModel&)>& sim, EnergyEvents* final_events) {
  EnergyEvents e0 = sim(chip);
  PowerResult p = power_at(chip, e0, 1.0);
  if (final_events) *final_events = e0;
  if (!p.modeled) return p;
  const PowerSpec& s = *chip.power();
  // Sustained work is held to TDP (averaged over the power manager's window); a single burst only to
  // the electrical peak limit.
  const double limit = sustained ? p.tdp_w : (s.peak_limit.value() > 0 ? s.peak_limit.value() : 1e30);
  if (p.avg_power_w <= limit) return p;
  const double p0 = p.avg_power_w;
  double x = 1.0, pw = p0;
  EnergyEvents e = e0;
  for (int iter = 0; iter < 4; ++iter) {
    // Core-domain power goes roughly as x^3 (f V^2 with V tracking f); DRAM power does not scale.
    double fixed = p.breakdown.dram_j / e.time_s;
    double ratio = std::max(1e-3, (limit - fixed) / std::max(1e-9, pw - fixed));
    double xn = std::clamp(x * std::cbrt(ratio) * 0.998, s.min_clock, 1.0);
    std::unique_ptr<ChipModel> slow = chip.at_clock(xn);
    if (!slow) break;
    e = sim(*slow);
    p = power_at(chip, e, xn);
    x = xn;
    pw = p.avg_power_w;
    if (pw <= limit * 1.005 && pw >= limit * 0.97) break;
  }
  p.throttled = true;
  p.unthrottled_power_w = p0;
  p.slowdown = e.time_s / e0.time_s;
  if (final_events) *final_events = e;
  return p;
}

}  // namespace xpu
