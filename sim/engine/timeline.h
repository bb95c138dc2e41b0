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

class Timeline {
 public:
  // Occupies the resource for `duration` starting no earlier than `arrival`; returns the end time.
  // `horizon` is a time before which no future arrival can fall (the global simulation time).
  Tick reserve(Tick arrival, Tick duration, Tick horizon) {
    m_busy += duration;
    ++m_count;
    if (duration <= 0) return arrival;
    // Drop intervals that end before the horizon (keep the last one for the common in-order case).
    size_t drop = 0;
    while (drop + 1 < m_iv.size() && m_iv[drop].end <= horizon) ++drop;
    if (drop) m_iv.erase(m_iv.begin(), m_iv.begin() + static_cast<long>(drop));
    // Fast path: arrival after everything booked.
    if (m_iv.empty() || arrival >= m_iv.back().end) {
      Tick s = arrival;
      if (!m_iv.empty() && m_iv.back().end == s) m_iv.back().end = s + duration;
      else m_iv.push_back({s, s + duration});
      compact();
      return s + duration;
    }
    Tick t = arrival;
    for (size_t i = 0; i < m_iv.size(); ++i) {
      if (t + duration <= m_iv[i].start) {  // fits in the gap before interval i
        m_iv.insert(m_iv.begin() + static_cast<long>(i), {t, t + duration});
        merge_around(i);
        return t + duration;
      }
      t = std::max(t, m_iv[i].end);
    }
    if (m_iv.back().end == t) m_iv.back().end = t + duration;
    else m_iv.push_back({t, t + duration});
    compact();
    return t + duration;
  }
  Tick busy_ticks() const { return m_busy; }
  std::uint64_t count() const { return m_count; }
  Tick free_at() const { return m_iv.empty() ? 0 : m_iv.back().end; }

 private:
  struct Iv {
    Tick start, end;
  };
  void merge_around(size_t i) {
    if (i + 1 < m_iv.size() && m_iv[i].end == m_iv[i + 1].start) {
      m_iv[i].end = m_iv[i + 1].end;
      m_iv.erase(m_iv.begin() + static_cast<long>(i) + 1);
    }
    if (i > 0 && m_iv[i - 1].end == m_iv[i].start) {
      m_iv[i - 1].end = m_iv[i].end;
      m_iv.erase(m_iv.begin() + static_cast<long>(i));
    }
  }
  void compact() {
    // Bound the calendar: when too many gaps accumulate, close the oldest ones (conservative).
    if (m_iv.size() > 64) {
      m_iv[1].start = m_iv[0].start;
      m_iv.erase(m_iv.begin());
    }
  }
  std::vector<Iv> m_iv;
  Tick m_busy = 0;
  std::uint64_t m_count = 0;
};

}  // namespace xpu
