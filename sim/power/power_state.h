// The power manager of power_manager.h acting over time on work that changes from one piece to the next
// (a serving run's iterations and the idle time between them): its running averages of power, its state,
// and the clock each piece runs at. From one simulation of each piece at the nominal clock, never a second.
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "sim/power/power_manager.h"

namespace xpu {

// A boxcar running average of power over the last `window` seconds (as NVML averages, and as the power
// manager of power_manager.h regulates), from segments of constant power. The time before the first
// segment is idle at `idle_w`.
class PowerWindow {
 public:
  PowerWindow(double window_s, double idle_w);
  double window() const { return m_w; }
  double average() const { return m_energy / m_w; }
  // Looking ahead: the chip draws `watts` for `d` seconds from now. The first time in [0, d] at which the
  // average reaches `limit` (infinity if it stays below), and the highest average over [0, d].
  double reaches(double watts, double d, double limit) const;
  double max_over(double watts, double d) const;
  // The chip drew `watts` for `d` seconds; `kind`: 0 idle, 1 work, 2 work above the fast loop's limit (boost).
  void add(double watts, double d, int kind);
  bool holds(int kind) const { return m_count[static_cast<size_t>(kind)] > 0; }  // a segment of that kind in the window

 private:
  struct Segment {
    double t0, t1, watts;
    int kind;
  };
  // Calls f(tau0, tau1, watts_leaving) over [0, d] of the look-ahead, in order, until f returns false.
  template <class F>
  void walk(double watts, double d, F f) const;
  std::deque<Segment> m_segs;
  std::array<int, 3> m_count = {};
  double m_w, m_now = 0, m_energy = 0;
};

enum class PowerMode : std::uint8_t { Boost, ShortTerm, Settling, Held };

// The limits a power manager acted under (its PowerSpec's), so that a report of its log names them.
struct PowerLimits {
  double tdp_w = 0, limit_window_s = 0, peak_limit_w = 0, short_term_limit_w = 0, short_term_window_s = 0;
  std::string short_term_source;
};

// What the power manager did over a run of pieces.
struct PowerLog {
  PowerLimits limits;
  double time_s = 0, nominal_time_s = 0;  // the run at its clocks, and at the nominal clock (idle included in both)
  double clock_s = 0;                     // the clock ratio integrated over the time (idle at the boost clock)
  double boost_s = 0, short_term_s = 0, settling_s = 0, held_s = 0, idle_s = 0;  // time in each state, working or idle
  double boost_ends_s = -1;               // when the fast loop first cut the boost (-1: never)
  double held_from_s = -1;                // when the TDP average first reached TDP (-1: never)
  double max_short_w = 0, max_limit_w = 0;  // highest short_term_window and limit_window averages over the run
  // The highest short_term_window average over windows holding no boost (work run above short_term_limit),
  // and the highest limit_window average over windows lying wholly within a stretch of the held state.
  double max_short_unboosted_w = 0, max_limit_held_w = 0;
  double peak_w = 0;                      // the highest power of any piece of work
  double min_clock = 0;                   // the lowest clock ratio any work ran at
  EnergyBreakdown energy;
};

// The power manager's state machine over time (power_manager.h's model, acting on what the chip draws as it
// runs): from idle, work runs at the boost clock (each piece at most at the clock where it draws
// peak_limit) until the short_term_window average reaches short_term_limit; then each piece runs at most at
// the clock where it draws short_term_limit, until the limit_window average reaches TDP; then, after a walk
// of settle_time at the mean of the two clocks, at most at the clock where it draws TDP. The fast loop acts in
// that walk too: where the TDP average is reached at boost (after a whole short window idle with the TDP average
// still high), the walk starts from the boost clock, and once the short_term_window average reaches
// short_term_limit it goes on from the clock that draws the limit. A piece is split where the state changes
// within it. Work that repeats one piece runs exactly as manage_power runs the whole
// (test PowerState.RepeatedPiecesRunAsManagePower). Going back up is not covered by the H200 trace, which
// starts from idle; assumed (README "Power, cost and serving"): a limit, once it acts, holds while the chip
// keeps working, and a whole window of its average without work releases it (the TDP hold to the short-term
// state, the fast loop to the boost: a burst from idle, as the trace and its bursts after 1 s idle measured).
// So over busy time no piece draws above short_term_limit once the short_term_window average has reached it (until
// a whole window idle), no short_term_window average exceeds the limit once no boost (work above the limit before
// the fast loop cut it, at boost or in a walk down from it) is in its window,
// and no limit_window average exceeds TDP within the held state. Idle time draws the idle chip's power (a
// live context at the boost clock, as power_timeline's idle).
class PowerManagerState {
 public:
  // `max_clock`: the boost clock as a ratio of the nominal clock.
  PowerManagerState(const PowerSpec& s, double max_clock);
  struct Piece {
    EnergyEvents events;   // time and executor-seconds at the clocks it ran at
    EnergyBreakdown energy;
  };
  // `work` (simulated at the nominal clock) run now without a break; `phases`, where given, gets the clock of each
  // share of it in time order (as manage_power's phases).
  Piece run(const EnergyEvents& work, std::vector<ClockPhase>* phases = nullptr);
  // The chip idle (waiting for the host or for requests) for `s` seconds.
  Piece idle(double s);
  const PowerLog& log() const { return m_log; }
  PowerMode mode() const { return m_mode; }
  double now() const { return m_now; }

 private:
  double clock_in(PowerMode m, const EnergyEvents& e) const;
  void release();
  void enter(PowerMode m);
  void record(PowerMode m, double watts, double d, int kind);
  const PowerSpec& m_s;
  double m_max_clock, m_idle_w;
  PowerWindow m_short, m_limit;
  PowerMode m_mode = PowerMode::Boost, m_settle_from = PowerMode::Boost;
  double m_now = 0, m_settle_end = 0;
  double m_held_since = -1;  // start of the current stretch in the held state (-1: not held)
  PowerLog m_log;
};

}  // namespace xpu
