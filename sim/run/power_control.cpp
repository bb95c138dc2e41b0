#include "sim/run/power_control.h"

namespace xpu {

namespace {
// A result for `e` on `chip` with the preset's limits filled in (modeled only with a power section).
PowerResult with_limits(const ChipModel& chip, const EnergyEvents& e) {
  PowerResult p;
  const PowerSpec* s = chip.power();
  if (!s || e.time_s <= 0) return p;
  p.modeled = true;
  p.tdp_w = s->tdp.value();
  p.limit_window_s = s->limit_window.value();
  return p;
}
}  // namespace

PowerResult power_at(const ChipModel& chip, const EnergyEvents& e, double x) {
  PowerResult p = with_limits(chip, e);
  if (!p.modeled) return p;
  p.clock_ratio = p.boost_clock_ratio = p.held_clock_ratio = p.short_term_clock_ratio = x;
  p.breakdown = energy(*chip.power(), e, x);
  p.energy_j = p.breakdown.total();
  p.avg_power_w = p.energy_j / e.time_s;
  p.unthrottled_power_w = p.avg_power_w;
  return p;
}

PowerResult manage_power(const ChipModel& chip, const EnergyEvents& e, bool steady_state) {
  PowerResult p = with_limits(chip, e);
  if (!p.modeled) return p;
  const PowerSpec& s = *chip.power();
  const double max_clock = s.boost_clock.value() > 0 ? s.boost_clock.value() / chip.clock_hz() : 1.0;
  p.managed = manage_power(s, e, steady_state, max_clock);
  const ManagedPower& m = p.managed;
  p.avg_power_w = m.avg_power_w;
  p.energy_j = m.energy_j;
  p.breakdown = m.breakdown;
  p.clock_ratio = m.clock_ratio;
  p.throttled = m.clock_ratio < 1.0 - 1e-12;
  p.slowdown = m.time_s / e.time_s;
  p.unthrottled_power_w = m.nominal_power_w;
  p.steady_state = steady_state;
  p.boost_clock_ratio = m.boost_clock;
  p.held_clock_ratio = m.held_clock;
  p.short_term_clock_ratio = m.short_term_clock;
  p.boost_ends_s = m.boost_ends_s;
  p.limit_reached_s = m.limit_reached_s;
  if (m.held_clock >= m.boost_clock) {
    p.boost_s = m.time_s;
  } else {
    for (const auto& ph : m.phases)
      if (ph.clock_ratio == m.boost_clock) p.boost_s += ph.time_s;
  }
  return p;
}

}  // namespace xpu
