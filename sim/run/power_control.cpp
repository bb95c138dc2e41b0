#include "sim/run/power_control.h"

#include <utility>

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

namespace {
double max_clock_of(const ChipModel& chip) {
  const PowerSpec& s = *chip.power();
  return s.boost_clock.value() > 0 ? s.boost_clock.value() / chip.clock_hz() : 1.0;
}

// The figures of a result from what the power manager did (`m`) with the work `e`.
void take_managed(PowerResult& p, const EnergyEvents& e, ManagedPower m) {
  p.managed = std::move(m);
  const ManagedPower& mp = p.managed;
  p.avg_power_w = mp.avg_power_w;
  p.energy_j = mp.energy_j;
  p.breakdown = mp.breakdown;
  p.clock_ratio = mp.clock_ratio;
  p.throttled = mp.clock_ratio < 1.0 - 1e-12;
  p.slowdown = mp.time_s / e.time_s;
  p.unthrottled_power_w = mp.nominal_power_w;
  p.boost_clock_ratio = mp.boost_clock;
  p.held_clock_ratio = mp.held_clock;
  p.short_term_clock_ratio = mp.short_term_clock;
  p.boost_ends_s = mp.boost_ends_s;
  p.limit_reached_s = mp.limit_reached_s;
  if (mp.held_clock >= mp.boost_clock) {
    p.boost_s = mp.time_s;
  } else {
    for (const auto& ph : mp.phases)
      if (ph.clock_ratio == mp.boost_clock) p.boost_s += ph.time_s;
  }
}
}  // namespace

PowerResult manage_power(const ChipModel& chip, const EnergyEvents& e, bool steady_state) {
  PowerResult p = with_limits(chip, e);
  if (!p.modeled) return p;
  take_managed(p, e, manage_power(*chip.power(), e, steady_state, max_clock_of(chip)));
  p.steady_state = steady_state;
  return p;
}

PowerResult power_after_runs(const ChipModel& chip, const EnergyEvents& e, double runs) {
  PowerResult p = with_limits(chip, e);
  if (!p.modeled) return p;
  const PowerSpec& s = *chip.power();
  const double max_clock = max_clock_of(chip);
  const double x = clock_after_runs(s, e, runs, max_clock);
  take_managed(p, e, run_at_clock(s, e, x));
  // The manager's clocks for this work (the run itself is one phase at x).
  const PowerTimeline t = power_timeline(s, e, max_clock);
  p.boost_clock_ratio = t.boost_clock, p.short_term_clock_ratio = t.short_term_clock, p.held_clock_ratio = t.held_clock;
  p.boost_s = x == t.boost_clock ? p.managed.time_s : 0;
  p.boost_ends_s = p.limit_reached_s = -1;
  p.after_runs = runs;
  return p;
}

void HeldParts::add(const PartAtClocks& p) {
  if (!p.held) return;
  extra_s += p.events.time_s - p.free_time_s;
  extra_clock_s += p.clock_s - p.free_clock_s;
  EnergyBreakdown held_minus_free = p.energy;
  held_minus_free.add(p.free_energy, -1.0);
  extra.add(held_minus_free);
}

void HeldParts::apply(PowerResult& pw, double share) const {
  ManagedPower& m = pw.managed;
  if (extra_s == 0 || m.time_s <= 0) return;
  EnergyBreakdown& b = pw.breakdown;
  b.add(extra, share);
  const double t = m.time_s + share * extra_s;
  pw.clock_ratio = (pw.clock_ratio * m.time_s + share * extra_clock_s) / t;
  pw.throttled = pw.clock_ratio < 1.0 - 1e-12 || pw.throttled;
  pw.slowdown *= t / m.time_s;
  pw.energy_j = m.energy_j = b.total();
  m.breakdown = b;
  m.time_s = t;
  pw.avg_power_w = m.avg_power_w = pw.energy_j / t;
}

}  // namespace xpu
