// A serializing resource timeline (an HBM channel, an L2 slice, a link, a port): transactions occupy
// it for their service time, one at a time. Arrivals may come out of order under temporal decoupling,
// so the timeline keeps a short calendar of busy intervals and fills the earliest gap that fits
// (first fit); intervals that end before the global time can no longer be reached and are dropped.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sim/base/units.h"

namespace xpu {

// Number of interleave granules a transfer of `bytes` made of contiguous runs of `run` bytes touches.
inline std::uint64_t spread_chunks(std::uint64_t bytes, std::uint64_t run, std::uint64_t granule) {
  std::uint64_t piece = (run > 0 && run < granule) ? run : granule;
  return (bytes + piece - 1) / piece;
}
// A mixing hash of a byte address (channel and slice selection).
inline std::uint64_t address_hash(std::uint64_t a) {
  a ^= a >> 33;
  a *= 0xff51afd7ed558ccdull;
  a ^= a >> 33;
  return a;
}

// The calendar is a sorted vector of disjoint busy intervals whose live part starts at `m_head`:
// dropping intervals from the front only advances the head (the dead prefix is reclaimed in bulk),
// a first-fit search starts with a binary search at the arrival, and an insertion or removal shifts
// whichever side of the vector is shorter. The booking rules (first fit, merging of touching
// intervals, the 64-interval bound that closes the oldest gap) are exactly those of the original
// erase-from-front vector, so results are bit-identical.
class Timeline {
 public:
  // Occupies the resource for `duration` starting no earlier than `arrival`; returns the end time.
  // `horizon` is a time before which no future arrival can fall (the global simulation time).
  Tick reserve(Tick arrival, Tick duration, Tick horizon) {
    m_busy += duration;
    ++m_count;
    if (duration <= 0) return arrival;
    // The commonest case by far on a loaded resource: one interval left (nothing to drop), and the
    // transfer neither fits before it nor arrives after it, so it queues behind it.
    if (m_head + 1 == m_iv.size()) {
      Iv& last = m_iv[m_head];
      if (arrival < last.end && arrival + duration > last.start) return last.end += duration;
    }
    return book(arrival, duration, horizon);
  }
  // Starts loading the calendar's ends into the cache: a transfer books dozens of channels, and
  // touching them one after another would wait for each miss in turn.
  void prefetch() const {
    if (m_head < m_iv.size()) {
      __builtin_prefetch(&m_iv[m_head]);
      __builtin_prefetch(&m_iv.back());
    }
  }
  Tick busy_ticks() const { return m_busy; }
  std::uint64_t count() const { return m_count; }
  Tick free_at() const { return m_head == m_iv.size() ? 0 : m_iv.back().end; }

 private:
  struct Iv {
    Tick start, end;
  };
  static constexpr size_t kMaxIntervals = 64;  // bound of the calendar (see compact())
  size_t live() const { return m_iv.size() - m_head; }
  Tick book(Tick arrival, Tick duration, Tick horizon);
  Tick append(Tick t, Tick d);
  Tick fill_gap(Tick arrival, Tick duration);
  void merge_in(size_t i, Iv iv);
  void insert_at(size_t i, Iv iv);
  void erase_at(size_t i);
  void push_back(Iv iv);
  void compact();
  std::vector<Iv> m_iv;
  size_t m_head = 0;
  Tick m_busy = 0;
  std::uint64_t m_count = 0;
};

// Books a transfer of `bytes` cut into `chunks` interleave granules on consecutive lanes (channels,
// slices) from `first` on, each lane at `lane_bw` bytes/s, all arriving at `arrival`. The first
// chunks % lanes lanes take one granule more. Returns the latest end (at least `arrival`).
Tick reserve_interleaved(std::vector<Timeline>& lanes, std::uint64_t first, std::uint64_t bytes,
                         std::uint64_t chunks, double lane_bw, Tick arrival, Tick horizon);

}  // namespace xpu
