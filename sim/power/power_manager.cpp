#include "sim/power/power_manager.h"

#include <algorithm>
#include <cmath>

namespace xpu {

double power_at_clock(const PowerSpec& s, const EnergyEvents& e, double x) {
  EnergyEvents ex = at_clock(e, x);
  return ex.time_s > 0 ? energy(s, ex, x).total() / ex.time_s : 0;
}

double clock_for_power(const PowerSpec& s, const EnergyEvents& e, double limit, double hi) {
  // Power rises monotonically with the clock (f V^2 per unit of time, and less time per unit of work).
  if (power_at_clock(s, e, hi) <= limit) return hi;
  double lo = s.min_clock;
  if (power_at_clock(s, e, lo) > limit) return lo;
  for (int i = 0; i < 60; ++i) {
    double mid = 0.5 * (lo + hi);
    (power_at_clock(s, e, mid) <= limit ? lo : hi) = mid;
  }
  return lo;
}

namespace {
void add_phase(ManagedPower& m, const PowerSpec& s, const EnergyEvents& e, double x, double work) {
  if (work <= 0) return;
  EnergyEvents ex = at_clock(e, x).scaled(work);
  ClockPhase ph;
  ph.clock_ratio = x;
  ph.work = work;
  ph.time_s = ex.time_s;
  m.phases.push_back(ph);
  m.events += ex;
  EnergyBreakdown b = energy(s, ex, x);
  m.breakdown.compute_j += b.compute_j, m.breakdown.vector_j += b.vector_j, m.breakdown.onchip_j += b.onchip_j;
  m.breakdown.dram_j += b.dram_j, m.breakdown.active_j += b.active_j, m.breakdown.static_j += b.static_j;
}
}  // namespace

ManagedPower manage_power(const PowerSpec& s, const EnergyEvents& e, bool steady_state) {
  ManagedPower m;
  m.steady_state = steady_state;
  if (e.time_s <= 0) return m;
  const double tdp = s.tdp.value();
  m.nominal_power_w = power_at_clock(s, e, 1.0);
  m.boost_clock = s.peak_limit.value() > 0 ? clock_for_power(s, e, s.peak_limit.value()) : 1.0;
  m.boost_power_w = power_at_clock(s, e, m.boost_clock);
  m.held_clock = m.boost_clock;
  if (m.boost_power_w <= tdp) {
    add_phase(m, s, e, m.boost_clock, 1.0);
  } else {
    m.held_clock = clock_for_power(s, e, tdp, m.boost_clock);
    const double a0 = steady_state ? tdp : s.static_power.value();
    const double t1 = a0 >= tdp ? 0.0 : s.limit_window.value() * std::log((m.boost_power_w - a0) / (m.boost_power_w - tdp));
    const double t_boost = at_clock(e, m.boost_clock).time_s;
    double left = 1.0;
    const double w_boost = std::min(left, t1 / t_boost);
    add_phase(m, s, e, m.boost_clock, w_boost);
    left -= w_boost;
    if (left > 0) {
      m.limit_reached_s = t1;
      const double settle = steady_state ? 0.0 : s.settle_time.value();
      const double x_mid = 0.5 * (m.boost_clock + m.held_clock);
      const double w_settle = std::min(left, settle / at_clock(e, x_mid).time_s);
      add_phase(m, s, e, x_mid, w_settle);
      left -= w_settle;
      add_phase(m, s, e, m.held_clock, left);
    }
  }
  m.time_s = m.events.time_s;
  m.energy_j = m.breakdown.total();
  m.avg_power_w = m.time_s > 0 ? m.energy_j / m.time_s : 0;
  double xt = 0;
  for (const auto& ph : m.phases) xt += ph.clock_ratio * ph.time_s;
  m.clock_ratio = m.time_s > 0 ? xt / m.time_s : 1.0;
  return m;
}

double ManagedPower::time_of(const EnergyEvents& part) const { return events_of(part).time_s; }

EnergyEvents ManagedPower::events_of(const EnergyEvents& part) const {
  if (phases.empty()) return part;
  EnergyEvents out;
  for (const auto& ph : phases) out += at_clock(part, ph.clock_ratio).scaled(ph.work);
  return out;
}

}  // namespace xpu
