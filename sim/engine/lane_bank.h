// The calendars of a bank of interleaved lanes (HBM channels, L2 slices, or groups of them), laid out
// for the wide transfers that book dozens of them at once; each lane keeps a Timeline's rules exactly.
#pragma once
#include <cstdint>
#include <vector>

#include "sim/engine/timeline.h"

namespace xpu {

// A bank of lane calendars. A transfer spread over the bank books a run of lanes with one arrival and
// one duration, and on a loaded bank most lanes take Timeline::reserve's inline path: the transfer
// queues behind the lane's last interval. Here each lane's last interval, its busy time and the test
// of that path (its gate: the earliest arrival that may queue behind the last interval without looking
// at the earlier ones) sit in arrays side by side, so a run is tested and booked four lanes per
// instruction where the processor has AVX2 (one at a time elsewhere, with the same result), and only
// the lanes that need first fit reach their Timeline, whose inline last interval is loaded before and
// stored after the call. Each lane is exactly a Timeline: results are bit-identical to a calendar per
// lane (tests/unit/engine/lane_bank_test.cpp replays both on random streams).
class LaneBank {
 public:
  explicit LaneBank(size_t lanes = 0);
  size_t size() const { return m_te.size(); }
  // Books `lane` for `duration` from no earlier than `arrival` (Timeline::reserve); returns the end.
  Tick reserve(size_t lane, Tick arrival, Tick duration, Tick horizon) {
    m_busy[lane] += duration;
    if (duration <= 0) return arrival;
    if (arrival < m_te[lane] && arrival + duration > m_ts[lane] && arrival >= m_gate[lane])
      return m_te[lane] += duration;
    return book(lane, arrival, duration, horizon);
  }
  // Books lanes [from, from + count) (no wrap) as reserve() does, all with one arrival and duration;
  // returns the latest of `done` and their ends.
  Tick reserve_run(size_t from, size_t count, Tick arrival, Tick duration, Tick horizon, Tick done);
  Tick busy_ticks(size_t lane) const { return m_busy[lane]; }
  Tick free_at(size_t lane) const { return m_te[lane]; }  // 0 while nothing is booked, as Timeline's

 private:
  Tick book(size_t lane, Tick arrival, Tick duration, Tick horizon);
  Tick run_scalar(size_t from, size_t end, Tick arrival, Tick duration, Tick horizon, Tick done);
  Tick run_avx2(size_t from, size_t end, Tick arrival, Tick duration, Tick horizon, Tick done);
  // Per lane: the last interval [m_ts, m_te) (0, 0 while nothing is booked), Timeline::gate(), the busy
  // time, and the Timeline holding the earlier intervals (its own last interval is stale outside book()).
  std::vector<Tick> m_ts, m_te, m_gate, m_busy;
  std::vector<Timeline> m_cal;
};

// Books a transfer of `bytes` cut into `chunks` interleave granules on consecutive lanes (channels,
// slices) from `first` on, each lane at `lane_bw` bytes/s, all arriving at `arrival`. The first
// chunks % lanes lanes take one granule more. Returns the latest end (at least `arrival`).
Tick reserve_interleaved(LaneBank& lanes, std::uint64_t first, std::uint64_t bytes, std::uint64_t chunks,
                         double lane_bw, Tick arrival, Tick horizon);

}  // namespace xpu
