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

double max_clock_ratio(const ChipModel& chip) {
  const PowerSpec& s = *chip.power();
  return s.boost_clock.value() > 0 ? s.boost_clock.value() / chip.clock_hz() : 1.0;
}

namespace {

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
  take_managed(p, e, manage_power(*chip.power(), e, steady_state, max_clock_ratio(chip)));
  p.steady_state = steady_state;
  return p;
}

PowerResult power_after_runs(const ChipModel& chip, const EnergyEvents& e, double runs) {
  // Runs that came before it (none: the first run from an idle chip, as --from-idle and `kernel` without a flag time
  // it), then this one, managed as it goes from where they left the clock. Until 2026-12-06 this run was timed whole
  // at the clock the earlier ones ended at: 0 runs ran a 164 ms H100 prefill (Llama-3.1-8B, 4 x 2048) at boost past
  // the 60 ms window's limit (163.6 ms where --from-idle gives 183.7), and 0.001 runs did so still (QA session 40).
  if (runs <= 0) {
    PowerResult p = manage_power(chip, e, /*steady_state=*/false);
    p.after_runs = 0;
    return p;
  }
  PowerResult p = with_limits(chip, e);
  if (!p.modeled) return p;
  take_managed(p, e, manage_run_after(*chip.power(), e, runs, max_clock_ratio(chip)));
  // The times from idle at which the clock changed are the earlier runs' and this one's together: not this run's.
  p.boost_ends_s = p.limit_reached_s = -1;
  p.after_runs = runs;
  return p;
}

PowerResult power_over_time(const ChipModel& chip, const PowerLog& log) {
  PowerResult p;
  if (!chip.power() || log.time_s <= 0) return p;
  p.modeled = true;
  p.tdp_w = chip.power()->tdp.value();
  p.limit_window_s = chip.power()->limit_window.value();
  p.breakdown = log.energy;
  p.energy_j = log.energy.total();
  p.avg_power_w = p.energy_j / log.time_s;
  p.clock_ratio = log.clock_s / log.time_s;
  p.throttled = p.clock_ratio < 1.0 - 1e-12;
  p.slowdown = log.time_s / log.nominal_time_s;
  p.boost_clock_ratio = max_clock_ratio(chip);
  p.boost_s = log.boost_s;
  p.boost_ends_s = log.boost_ends_s;
  p.limit_reached_s = log.held_from_s;
  return p;
}

}  // namespace xpu
