#include "sim/power/power_manager.h"

#include "sim/power/power_state.h"

#include <algorithm>
#include <cmath>
#include <limits>

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
  m.breakdown.add(energy(s, ex, x));
}
// Totals of the phases: time, energy, average power and the time-weighted clock.
void finish(ManagedPower& m) {
  m.time_s = m.events.time_s;
  m.energy_j = m.breakdown.total();
  m.avg_power_w = m.time_s > 0 ? m.energy_j / m.time_s : 0;
  double xt = 0;
  for (const auto& ph : m.phases) xt += ph.clock_ratio * ph.time_s;
  m.clock_ratio = m.time_s > 0 ? xt / m.time_s : 1.0;
}
}  // namespace

PowerTimeline power_timeline(const PowerSpec& s, const EnergyEvents& e, double max_clock) {
  PowerTimeline t;
  const double tdp = s.tdp.value(), inf = std::numeric_limits<double>::infinity();
  // Idle with a live context at the boost clock: leakage, and the uncore's clocks that keep running.
  const double v = voltage_ratio(s, max_clock);
  t.idle_power_w = s.static_power.value() * v + s.uncore_active.value() * max_clock * v * v;
  t.boost_clock = s.peak_limit.value() > 0 ? clock_for_power(s, e, s.peak_limit.value(), max_clock) : max_clock;
  t.boost_power_w = power_at_clock(s, e, t.boost_clock);
  t.short_term_clock = t.held_clock = t.boost_clock;
  t.short_term_power_w = t.boost_power_w;
  t.boost_ends_s = t.limit_reached_s = inf;
  if (t.boost_power_w <= tdp) return t;
  t.held_clock = clock_for_power(s, e, tdp, t.boost_clock);
  const double w = s.limit_window.value(), p0 = t.idle_power_w;
  // Boxcar averages from idle: at constant power P the average reaches a limit L after window x (L - P0) / (P - P0).
  const double tdp_on_boost = w * (tdp - p0) / (t.boost_power_w - p0);
  const double lim = s.short_term_limit.value();
  if (lim > 0 && t.boost_power_w > lim) {
    t.boost_ends_s = s.short_term_window.value() * (lim - p0) / (t.boost_power_w - p0);
    t.short_term_clock = clock_for_power(s, e, lim, t.boost_clock);
    t.short_term_power_w = power_at_clock(s, e, t.short_term_clock);
  }
  if (t.boost_ends_s >= tdp_on_boost) {  // the TDP average is reached first: no short-term phase
    t.boost_ends_s = t.limit_reached_s = tdp_on_boost;
    t.short_term_clock = t.boost_clock, t.short_term_power_w = t.boost_power_w;
    return t;
  }
  // P0 (W - t) + P_b t_a + P_s (t - t_a) = TDP W, while the window still holds idle time (t <= W).
  const double ps = t.short_term_power_w;
  t.limit_reached_s = ps <= p0 ? inf : (w * (tdp - p0) - (t.boost_power_w - ps) * t.boost_ends_s) / (ps - p0);
  // Not reached while the window still holds idle time: the short-term power is at most TDP (else the average
  // would exceed TDP by t = W), and as the boost leaves the window the average falls to it: never reached.
  if (t.limit_reached_s > w) t.limit_reached_s = inf;
  t.limit_reached_s = std::max(t.limit_reached_s, t.boost_ends_s);
  return t;
}

double PowerTimeline::clock_at(double t_s) const {
  if (t_s < boost_ends_s) return boost_clock;
  if (t_s < limit_reached_s) return short_term_clock;
  return held_clock;
}

ManagedPower manage_power(const PowerSpec& s, const EnergyEvents& e, bool steady_state, double max_clock) {
  ManagedPower m;
  m.steady_state = steady_state;
  if (e.time_s <= 0) return m;
  m.nominal_power_w = power_at_clock(s, e, 1.0);
  const PowerTimeline t = power_timeline(s, e, max_clock);
  m.boost_clock = t.boost_clock, m.short_term_clock = t.short_term_clock, m.held_clock = t.held_clock;
  m.boost_power_w = t.boost_power_w;
  m.idle_power_w = t.idle_power_w;
  if (t.boost_power_w <= s.tdp.value()) {
    add_phase(m, s, e, m.boost_clock, 1.0);
  } else if (steady_state) {
    m.limit_reached_s = 0;
    add_phase(m, s, e, m.held_clock, 1.0);
  } else {
    // From idle: the power manager's state machine (power_state.h) over the work as one piece, so that a burst from
    // idle and a serving run's pieces follow one rule: boost until the short-term average reaches short_term_limit, that
    // limit's clock until the TDP average reaches TDP, the walk down, then held; and where the TDP average is reached
    // at boost first (a long short_term_window), the fast loop still cuts the walk down once its average reaches its
    // limit (before 2026-12-07 this walk ran on at the mean of the boost and held clocks, above that limit).
    PowerManagerState st(s, max_clock);
    std::vector<ClockPhase> phases;
    st.run(e, &phases);
    for (const ClockPhase& ph : phases) add_phase(m, s, e, ph.clock_ratio, ph.work);
    // The boost ends where the fast loop cuts it or where the TDP average is reached at boost, whichever is first.
    const PowerLog& g = st.log();
    m.boost_ends_s = g.boost_ends_s >= 0 && (g.held_from_s < 0 || g.boost_ends_s < g.held_from_s) ? g.boost_ends_s : g.held_from_s;
    m.limit_reached_s = g.held_from_s;
  }
  finish(m);
  return m;
}

ManagedPower manage_run_after(const PowerSpec& s, const EnergyEvents& e, double runs, double max_clock) {
  if (runs <= 0 || e.time_s <= 0) return manage_power(s, e, false, max_clock);
  const double n = runs + 1;
  const ManagedPower all = manage_power(s, e.scaled(n), false, max_clock);
  ManagedPower m;
  m.boost_clock = all.boost_clock, m.short_term_clock = all.short_term_clock, m.held_clock = all.held_clock;
  m.nominal_power_w = all.nominal_power_w, m.boost_power_w = all.boost_power_w, m.idle_power_w = all.idle_power_w;
  // The phases' shares of the n runs' work past the first `runs` of them, as shares of one run.
  const double skip = runs / n;
  double done = 0;
  for (const ClockPhase& ph : all.phases) {
    const double from = std::max(done, skip), to = done + ph.work;
    if (to > from) add_phase(m, s, e, ph.clock_ratio, (to - from) * n);
    done = to;
  }
  finish(m);
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
