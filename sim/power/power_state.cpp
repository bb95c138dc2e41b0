#include "sim/power/power_state.h"

#include <algorithm>
#include <limits>

namespace xpu {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
// Relative margin above short_term_limit from which a piece counts as a boost (work run above that limit): the
// short-term state's own pieces draw the limit up to rounding (a numerical tolerance, not a property of the chip).
constexpr double kAtLimit = 1e-9;
}  // namespace

PowerWindow::PowerWindow(double window_s, double idle_w) : m_w(window_s) {
  m_segs.push_back({-window_s, 0.0, idle_w, 0});
  m_count[0] = 1;
  m_energy = idle_w * window_s;
}

template <class F>
void PowerWindow::walk(double watts, double d, F f) const {
  // Over the look-ahead tau in [0, d] the window's oldest edge moves from now - w to now - w + d: the power
  // leaving it is the segment at that edge, then (past tau = w) the new work itself.
  const double o0 = m_now - m_w;
  for (const Segment& s : m_segs) {
    const double a = std::max(s.t0, o0) - o0, b = std::min(s.t1 - o0, d);
    if (b > a && !f(a, b, s.watts)) return;
    if (s.t1 - o0 >= d) return;
  }
  if (d > m_w) f(m_w, d, watts);
}

double PowerWindow::reaches(double watts, double d, double limit) const {
  double avg = average(), at = kInf;
  if (avg >= limit) return 0;
  walk(watts, d, [&](double a, double b, double out) {
    const double slope = (watts - out) / m_w, end = avg + slope * (b - a);
    if (slope > 0 && end >= limit) {
      at = a + (limit - avg) / slope;
      return false;
    }
    avg = end;
    return true;
  });
  return at;
}

double PowerWindow::max_over(double watts, double d) const {
  double avg = average(), best = avg;
  walk(watts, d, [&](double a, double b, double out) {
    avg += (watts - out) / m_w * (b - a);
    best = std::max(best, avg);
    return true;
  });
  return best;
}

void PowerWindow::add(double watts, double d, int kind) {
  if (d <= 0) return;
  double leaving = 0;
  walk(watts, d, [&](double a, double b, double out) {
    leaving += out * (b - a);
    return true;
  });
  m_energy += watts * d - leaving;
  m_segs.push_back({m_now, m_now + d, watts, kind});
  ++m_count[static_cast<size_t>(kind)];
  m_now += d;
  while (!m_segs.empty() && m_segs.front().t1 <= m_now - m_w) {
    --m_count[static_cast<size_t>(m_segs.front().kind)];
    m_segs.pop_front();
  }
}

PowerManagerState::PowerManagerState(const PowerSpec& s, double max_clock)
    : m_s(s),
      m_max_clock(max_clock),
      // The idle chip: a live context at the boost clock (as power_timeline's starting point).
      m_idle_w(s.static_power.value() * voltage_ratio(s, max_clock) +
               s.uncore_active.value() * max_clock * voltage_ratio(s, max_clock) * voltage_ratio(s, max_clock)),
      m_short(s.short_term_window.value(), m_idle_w),
      m_limit(s.limit_window.value(), m_idle_w) {
  m_log.min_clock = max_clock;
  m_log.limits = {s.tdp.value(), s.limit_window.value(), s.peak_limit.value(), s.short_term_limit.value(),
                  s.short_term_window.value(), s.short_term_source};
}

double PowerManagerState::clock_in(PowerMode m, const EnergyEvents& e) const {
  const double peak = m_s.peak_limit.value(), lim = m_s.short_term_limit.value();
  const double cap = peak > 0 ? clock_for_power(m_s, e, peak, m_max_clock) : m_max_clock;
  switch (m) {
    case PowerMode::Boost: return cap;
    case PowerMode::ShortTerm: return lim > 0 ? clock_for_power(m_s, e, lim, cap) : cap;
    case PowerMode::Held: return clock_for_power(m_s, e, m_s.tdp.value(), cap);
    case PowerMode::Settling: return 0.5 * (clock_in(m_settle_from, e) + clock_in(PowerMode::Held, e));
  }
  return cap;
}

void PowerManagerState::release() {
  // A whole window of its average without work releases a limit (see the class comment).
  auto idle = [](const PowerWindow& w) { return !w.holds(1) && !w.holds(2); };
  if (m_mode == PowerMode::Held && idle(m_limit)) {
    m_mode = m_s.short_term_limit.value() > 0 ? PowerMode::ShortTerm : PowerMode::Boost;
    m_held_since = -1;
  }
  if (m_mode == PowerMode::ShortTerm && idle(m_short)) m_mode = PowerMode::Boost;
}

void PowerManagerState::enter(PowerMode m) {
  if (m == PowerMode::ShortTerm && m_log.boost_ends_s < 0) m_log.boost_ends_s = m_now;
  if (m == PowerMode::Settling) {
    if (m_log.held_from_s < 0) m_log.held_from_s = m_now;
    m_settle_from = m_mode;
    m_settle_end = m_now + m_s.settle_time.value();
    if (m_s.settle_time.value() <= 0) m = PowerMode::Held;
  }
  if (m == PowerMode::Held) m_held_since = m_now;
  m_mode = m;
}

void PowerManagerState::record(PowerMode m, double watts, double d, int kind) {
  PowerLog& g = m_log;
  g.max_short_w = std::max(g.max_short_w, m_short.max_over(watts, d));
  g.max_limit_w = std::max(g.max_limit_w, m_limit.max_over(watts, d));
  if (kind != 2 && !m_short.holds(2)) g.max_short_unboosted_w = std::max(g.max_short_unboosted_w, m_short.max_over(watts, d));
  if (m == PowerMode::Held && m_held_since >= 0 && m_now >= m_held_since + m_limit.window())
    g.max_limit_held_w = std::max(g.max_limit_held_w, m_limit.max_over(watts, d));
  double* in[] = {&g.boost_s, &g.short_term_s, &g.settling_s, &g.held_s};
  *(kind == 0 ? &g.idle_s : in[static_cast<int>(m)]) += d;
  m_short.add(watts, d, kind);
  m_limit.add(watts, d, kind);
  m_now += d;
  g.time_s += d;
}

PowerManagerState::Piece PowerManagerState::run(const EnergyEvents& work, std::vector<ClockPhase>* phases) {
  Piece r;
  if (work.time_s <= 0) return r;
  m_log.nominal_time_s += work.time_s;
  const double lim = m_s.short_term_limit.value(), tdp = m_s.tdp.value();
  double left = 1.0;
  // Each change of state splits the piece: at most boost, short-term, settling (cut by the fast loop), held, and a
  // release.
  for (int step = 0; left > 0 && step < 8; ++step) {
    release();
    const double x = clock_in(m_mode, work);
    const EnergyEvents ex = at_clock(work, x);
    const EnergyBreakdown eb = energy(m_s, ex, x);
    const double full = ex.time_s, watts = eb.total() / full, d = left * full;
    double cut = d;
    PowerMode next = m_mode;
    auto earlier = [&](double at, PowerMode m) {
      if (at < cut) cut = at, next = m;
    };
    // The TDP average first: where both limits are reached at once there is no short-term phase (manage_power).
    // The last split (never reached in practice) keeps the rest of the piece in its state.
    const bool boost = m_mode == PowerMode::Boost, last = step == 7;
    if (!last && (boost || m_mode == PowerMode::ShortTerm)) earlier(m_limit.reaches(watts, d, tdp), PowerMode::Settling);
    if (!last && boost && lim > 0) earlier(m_short.reaches(watts, d, lim), PowerMode::ShortTerm);
    if (!last && m_mode == PowerMode::Settling) earlier(std::max(0.0, m_settle_end - m_now), PowerMode::Held);
    // The fast loop acts in a walk down from the boost clock too (the TDP average reached while at boost, as after a
    // whole short window idle with the TDP average still high): once its average reaches the limit, the walk goes on
    // from the clock that draws the limit, as it does when the TDP average is reached in the short-term state.
    bool walk_cut = false;
    if (!last && m_mode == PowerMode::Settling && m_settle_from == PowerMode::Boost && lim > 0) {
      const double at = m_short.reaches(watts, d, lim);
      if (at < cut) cut = at, next = m_mode, walk_cut = true;
    }
    if (cut > 0) {
      const double w = cut / full;
      r.events += ex.scaled(w);
      r.energy.add(eb, w);
      m_log.energy.add(eb, w);
      m_log.clock_s += x * cut;
      m_log.peak_w = std::max(m_log.peak_w, watts);
      m_log.min_clock = std::min(m_log.min_clock, x);
      record(m_mode, watts, cut, lim > 0 && watts > lim * (1 + kAtLimit) ? 2 : 1);
      if (phases) phases->push_back({x, w, cut});
    }
    left = cut >= d ? 0 : left - cut / full;
    if (walk_cut) {
      if (m_log.boost_ends_s < 0) m_log.boost_ends_s = m_now;
      m_settle_from = PowerMode::ShortTerm;
    } else if (next != m_mode) {
      enter(next);
    }
  }
  return r;
}

PowerManagerState::Piece PowerManagerState::idle(double s) {
  Piece r;
  if (s <= 0) return r;
  const double v = voltage_ratio(m_s, m_max_clock);
  r.events.time_s = s;
  r.energy.static_j = s * m_s.static_power.value() * v;
  r.energy.active_j = s * m_s.uncore_active.value() * m_max_clock * v * v;
  m_log.energy.add(r.energy);
  m_log.nominal_time_s += s;
  m_log.clock_s += m_max_clock * s;
  record(m_mode, m_idle_w, s, 0);
  return r;
}

}  // namespace xpu
