// The resource calendar and the L2 tile LRU against straightforward reference versions (the ones
// they replaced): identical answers and state on long random streams, so the faster structures
// cannot change a result.
#include <gtest/gtest.h>

#include <list>
#include <random>
#include <unordered_map>
#include <vector>

#include "sim/engine/timeline.h"
#include "sim/memory/tile_cache.h"

using namespace xpu;

namespace {
// The original calendar: a vector of intervals, erased from the front, first fit by linear scan.
class RefTimeline {
 public:
  Tick reserve(Tick arrival, Tick duration, Tick horizon) {
    m_busy += duration;
    if (duration <= 0) return arrival;
    size_t drop = 0;
    while (drop + 1 < m_iv.size() && m_iv[drop].end <= horizon) ++drop;
    if (drop) m_iv.erase(m_iv.begin(), m_iv.begin() + static_cast<long>(drop));
    if (m_iv.empty() || arrival >= m_iv.back().end) {
      if (!m_iv.empty() && m_iv.back().end == arrival) m_iv.back().end = arrival + duration;
      else m_iv.push_back({arrival, arrival + duration});
      compact();
      return arrival + duration;
    }
    Tick t = arrival;
    for (size_t i = 0; i < m_iv.size(); ++i) {
      if (t + duration <= m_iv[i].start) {
        m_iv.insert(m_iv.begin() + static_cast<long>(i), {t, t + duration});
        if (i + 1 < m_iv.size() && m_iv[i].end == m_iv[i + 1].start) {
          m_iv[i].end = m_iv[i + 1].end;
          m_iv.erase(m_iv.begin() + static_cast<long>(i) + 1);
        }
        if (i > 0 && m_iv[i - 1].end == m_iv[i].start) {
          m_iv[i - 1].end = m_iv[i].end;
          m_iv.erase(m_iv.begin() + static_cast<long>(i));
        }
        return t + duration;
      }
      t = std::max(t, m_iv[i].end);
    }
    if (m_iv.back().end == t) m_iv.back().end = t + duration;
    else m_iv.push_back({t, t + duration});
    compact();
    return t + duration;
  }
  Tick busy() const { return m_busy; }
  Tick free_at() const { return m_iv.empty() ? 0 : m_iv.back().end; }
  size_t intervals() const { return m_iv.size(); }

 private:
  struct Iv {
    Tick start, end;
  };
  void compact() {
    if (m_iv.size() > 64) {
      m_iv[1].start = m_iv[0].start;
      m_iv.erase(m_iv.begin());
    }
  }
  std::vector<Iv> m_iv;
  Tick m_busy = 0;
};

// The original LRU: std::list + unordered_map.
class RefLru {
 public:
  explicit RefLru(double capacity) : m_cap(capacity) {}
  bool access(std::uint64_t addr, std::uint64_t bytes) {
    std::uint64_t key = addr * 1315423911ull ^ bytes;
    auto it = m_map.find(key);
    if (it != m_map.end()) {
      m_lru.splice(m_lru.begin(), m_lru, it->second);
      return true;
    }
    if (static_cast<double>(bytes) > m_cap) return false;
    m_lru.emplace_front(key, bytes);
    m_map[key] = m_lru.begin();
    m_used += static_cast<double>(bytes);
    while (m_used > m_cap && !m_lru.empty()) {
      m_used -= static_cast<double>(m_lru.back().second);
      m_map.erase(m_lru.back().first);
      m_lru.pop_back();
    }
    return false;
  }

 private:
  double m_cap, m_used = 0;
  std::list<std::pair<std::uint64_t, std::uint64_t>> m_lru;
  std::unordered_map<std::uint64_t, std::list<std::pair<std::uint64_t, std::uint64_t>>::iterator> m_map;
};
}  // namespace

namespace {
struct Booking {
  Tick arrival, duration, horizon;
};
// Books 20,000 draws of `draw(rng, step, ref)` on the calendar and on the reference: the same ends,
// last ends and busy time. A second calendar books the positive durations as the idle lanes' loop does
// (add_busy, then occupy_after_gap with the bookings after a gap inline): the same again.
template <class Draw>
void expect_matches_reference(std::uint32_t seed, Draw draw) {
  std::mt19937_64 rng(seed);
  Timeline fast, lane;
  RefTimeline ref;
  for (int i = 0; i < 20000; ++i) {
    const Booking b = draw(rng, i, ref);
    const Tick end = ref.reserve(b.arrival, b.duration, b.horizon);
    ASSERT_EQ(fast.reserve(b.arrival, b.duration, b.horizon), end) << "seed " << seed << " step " << i;
    ASSERT_EQ(fast.free_at(), ref.free_at());
    if (b.duration > 0) {
      lane.add_busy(b.duration);
      ASSERT_EQ(lane.occupy_after_gap(b.arrival, b.duration, b.horizon), end) << "seed " << seed << " step " << i;
    } else {
      ASSERT_EQ(lane.reserve(b.arrival, b.duration, b.horizon), end);
    }
    ASSERT_EQ(lane.free_at(), ref.free_at());
  }
  EXPECT_EQ(fast.busy_ticks(), ref.busy());
  EXPECT_EQ(lane.busy_ticks(), ref.busy());
}
constexpr Tick kQuantum = 100000;
}  // namespace

TEST(Timeline, MatchesTheReferenceCalendarOnRandomStreams) {
  // Streams like a quantum-decoupled memory port: arrivals scattered up to a quantum behind a
  // horizon that moves forward, short and long services, bursts that exceed the 64-interval bound.
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    Tick horizon = 0;
    expect_matches_reference(seed, [&](std::mt19937_64& rng, int, const RefTimeline& ref) {
      if (rng() % 4 == 0) horizon += static_cast<Tick>(rng() % (seed % 3 == 0 ? 5000 : 40000));
      Tick arrival = horizon + static_cast<Tick>(rng() % (2 * kQuantum));
      Tick duration = rng() % 50 == 0 ? 0 : static_cast<Tick>(1 + rng() % (seed % 2 ? 300 : 6000));
      if (rng() % 8 == 0) arrival = ref.free_at();  // exactly touching the last booking
      return Booking{arrival, duration, horizon};
    });
  }
}

// Lightly loaded lanes (the HBM channels of a compute-bound GEMM): the horizon often passes the last
// booking before the next arrival, where Timeline::book empties the calendar without reading its
// intervals; stretches of bursts that queue and fill gaps in between.
TEST(Timeline, MatchesTheReferenceCalendarOnIdleLanes) {
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    Tick horizon = 0;
    int emptied = 0;
    expect_matches_reference(seed, [&](std::mt19937_64& rng, int i, const RefTimeline& ref) {
      const bool burst = (i / 200) % 2 == 1;
      horizon += static_cast<Tick>(rng() % (burst ? 2000 : 60000));
      const Tick arrival = horizon + static_cast<Tick>(rng() % kQuantum);
      const Tick duration = static_cast<Tick>(1 + rng() % (burst ? 20000 : 3000));
      if (ref.free_at() > 0 && arrival > ref.free_at() && ref.free_at() <= horizon) ++emptied;
      return Booking{arrival, duration, horizon};
    });
    EXPECT_GT(emptied, 1000) << "seed " << seed;  // the stream reaches the idle-lane case
  }
}

// Bookings after a gap while earlier intervals are still live (the HBM channels of a GEMM between idle
// stretches): Timeline::book then leaves the dead intervals in place until the 64-interval bound is near,
// so phases alternate between a horizon that lags the bookings (live intervals pile up to the bound,
// which gap bookings must then compact) and one that catches up (everything earlier ends), with first
// fits in between.
TEST(Timeline, MatchesTheReferenceCalendarOnGapBookingsOverLiveIntervals) {
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    Tick horizon = 0;
    int live_gap = 0;
    expect_matches_reference(seed, [&](std::mt19937_64& rng, int i, const RefTimeline& ref) {
      const bool lagging = (i / 400) % 2 == 0;
      horizon += static_cast<Tick>(rng() % (lagging ? 300 : 3000));
      const Tick last = ref.free_at();
      Tick arrival = rng() % 5 != 0 ? std::max(horizon, last + 1 + static_cast<Tick>(rng() % 500))
                                    : horizon + static_cast<Tick>(rng() % (4 * kQuantum));
      if (last > horizon && arrival > last) ++live_gap;
      return Booking{arrival, static_cast<Tick>(1 + rng() % 300), horizon};
    });
    EXPECT_GT(live_gap, 5000) << "seed " << seed;  // the stream reaches the gap booking over live intervals
  }
}

// Out-of-order arrivals in clusters over a calendar at its 64-interval bound (the L2 groups of a decode
// step): each arrival a little after the previous one, now and then one far back or near the end, so the
// first-fit search (Timeline::first_ending_after) takes each of its ways: the hint, the interval after it,
// the last earlier one, and the binary search on either side of the hint.
TEST(Timeline, MatchesTheReferenceCalendarOnClusteredArrivals) {
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    Tick horizon = 0, prev = 0;
    expect_matches_reference(seed, [&](std::mt19937_64& rng, int, const RefTimeline& ref) {
      if (rng() % 16 == 0) horizon += static_cast<Tick>(rng() % 4000);
      const unsigned kind = static_cast<unsigned>(rng() % 10);
      Tick arrival = kind < 6 ? prev + static_cast<Tick>(rng() % 200)                       // close after the last
                     : kind < 8 ? horizon + static_cast<Tick>(rng() % kQuantum)              // anywhere
                                : std::max(horizon, ref.free_at() - static_cast<Tick>(rng() % 3000));  // near the end
      arrival = std::max(arrival, horizon);
      prev = arrival;
      return Booking{arrival, static_cast<Tick>(1 + rng() % 400), horizon};
    });
  }
}

// First fits into a calendar held at and over its 64-interval bound (the L2 slice groups of a decode step):
// a horizon that barely moves, so nothing is dropped, short services scattered over the calendar's whole span,
// so insertions land at its front, middle and back (Timeline::insert_at shifts the front part down into the
// dead prefix or the back part up, in the vector's room or growing it) and merge with either neighbour.
TEST(Timeline, MatchesTheReferenceCalendarOnFirstFitsAtTheBound) {
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    Tick horizon = 0;
    int first_fits = 0;
    expect_matches_reference(seed, [&](std::mt19937_64& rng, int i, const RefTimeline& ref) {
      if (i % 64 == 0) horizon += static_cast<Tick>(rng() % 2000);
      const Tick last = ref.free_at();
      const Tick span = std::max<Tick>(1, last - horizon);
      Tick arrival = rng() % 6 == 0 ? last + static_cast<Tick>(rng() % 50)  // after the end (grows the calendar)
                                    : horizon + static_cast<Tick>(rng() % span);
      if (rng() % 5 == 0) arrival -= arrival % 100;  // touching neighbours: merges on either side
      arrival = std::max(arrival, horizon);
      if (arrival < last && ref.intervals() >= 64) ++first_fits;
      return Booking{arrival, static_cast<Tick>(1 + rng() % (rng() % 4 == 0 ? 400 : 60)), horizon};
    });
    EXPECT_GT(first_fits, 5000) << "seed " << seed;  // a third of the bookings are first fits at the bound
  }
}

TEST(TileCache, MatchesTheReferenceLruOnRandomStreams) {
  for (std::uint32_t seed = 1; seed <= 5; ++seed) {
    std::mt19937_64 rng(seed);
    CacheSpec s;
    s.capacity = Bytes(64 * 4096 + 1000);
    s.slices = 4;
    s.bandwidth = Bandwidth(1e12);
    TileCache fast(s);
    RefLru ref(s.capacity.value());
    std::uint64_t hits = 0;
    for (int i = 0; i < 200000; ++i) {
      // A working set a bit larger than the cache, a few tile sizes (same address, other size:
      // another tile), and now and then one larger than the whole cache.
      std::uint64_t addr = (rng() % 100) * 4096;
      std::uint64_t bytes = (rng() % 10 == 0) ? 2048 : 4096;
      if (rng() % 5000 == 0) bytes = 1 << 20;
      bool h = ref.access(addr, bytes);
      hits += h;
      ASSERT_EQ(fast.access(addr, bytes), h) << "seed " << seed << " step " << i;
    }
    EXPECT_EQ(fast.hits(), hits);
    EXPECT_GT(hits, 0u);
  }
}

// Grouped booking (reserve_grouped): a group of one lane is the per-lane booking exactly; a group
// books its lanes' granules at its lanes' rate (busy time conserved within a tick per booking), and a
// transfer never ends before its busiest lane's share could have streamed from its arrival.
TEST(Timeline, GroupedBookingOfOneLaneIsPerLaneAndConservesBusyTime) {
  const double lane_bw = 25e9;
  for (std::uint64_t lanes : {48ull, 80ull, 20ull}) {
    for (std::uint64_t group : {1ull, 3ull, 8ull}) {
      std::mt19937_64 rng(lanes * 31 + group);
      std::vector<Timeline> per_lane(lanes), grouped((lanes + group - 1) / group), memoized(grouped.size());
      GroupedDurations memo;  // the service times kept between transfers: the same results
      Tick horizon = 0;
      for (int i = 0; i < 4000; ++i) {
        if (rng() % 3 == 0) horizon += static_cast<Tick>(rng() % 20000);
        const Tick arrival = horizon + static_cast<Tick>(rng() % 100000);
        const std::uint64_t first = rng() % lanes, bytes = 128 * (1 + rng() % 256), chunks = bytes / 128;
        const Tick a = reserve_interleaved(per_lane, first, bytes, chunks, lane_bw, arrival, horizon);
        const Tick b = reserve_grouped(grouped, lanes, group, first, bytes, chunks, lane_bw, arrival, horizon);
        if (group == 1) {
          ASSERT_EQ(a, b) << lanes << " lanes, step " << i;
        }
        ASSERT_EQ(reserve_grouped(memoized, lanes, group, first, bytes, chunks, lane_bw, arrival, horizon, &memo), b)
            << lanes << " lanes, groups of " << group << ", step " << i;
        const std::uint64_t widest = chunks / lanes + (chunks % lanes ? 1 : 0);
        ASSERT_GE(b, arrival + transfer_ticks(128.0 * static_cast<double>(widest), lane_bw));
      }
      double lanes_busy = 0, groups_busy = 0;
      for (const Timeline& t : per_lane) lanes_busy += static_cast<double>(t.busy_ticks());
      for (size_t g = 0; g < grouped.size(); ++g)
        groups_busy += static_cast<double>(grouped[g].busy_ticks()) *
                       static_cast<double>(std::min<std::uint64_t>(group, lanes - g * group));
      EXPECT_NEAR(groups_busy / lanes_busy, 1.0, 1e-3) << lanes << " lanes, groups of " << group;
    }
  }
}

// The memo's entries of the last two sizes, tried first: sizes in streaks and taking turns (a GEMM's A and B
// tiles), a new size now and then (which replaces the older of its set's two entries), one memo serving banks
// one after another (another bank forgets every entry, so neither recent one may match) and a bank too wide for
// its table (booked without it): the same ends as the bookings without a memo.
TEST(Timeline, GroupedMemoOnStreaksAndBankChangesIsTheSame) {
  const double lane_bw = 25e9;
  struct Bank {
    std::uint64_t lanes, group;
  };
  const Bank banks[3] = {{48, 8}, {80, 8}, {1024, 8}};  // 1024 lanes x 128 groups: over kMaxTable
  std::vector<Timeline> plain[3], memoized[3];
  for (int k = 0; k < 3; ++k) {
    plain[k].resize((banks[k].lanes + banks[k].group - 1) / banks[k].group);
    memoized[k].resize(plain[k].size());
  }
  GroupedDurations memo;
  std::mt19937_64 rng(45);
  Tick horizon = 0;
  int k = 0;
  std::uint64_t sizes[2] = {4096, 8192};
  for (int i = 0; i < 40000; ++i) {
    if (rng() % 50 == 0) k = static_cast<int>(rng() % 3);                // another bank now and then
    if (rng() % 16 == 0) sizes[rng() % 2] = 128 * (1 + rng() % 40);      // a new size (40 in all: replacements)
    const std::uint64_t bytes = sizes[rng() % 4 == 0 ? 1 : 0];           // streaks of one, turns with the other
    if (rng() % 3 == 0) horizon += static_cast<Tick>(rng() % 20000);
    const Tick arrival = horizon + static_cast<Tick>(rng() % 100000);
    const std::uint64_t first = rng() % banks[k].lanes, chunks = bytes / 128;
    const Tick a = reserve_grouped(plain[k], banks[k].lanes, banks[k].group, first, bytes, chunks, lane_bw, arrival,
                                   horizon);
    ASSERT_EQ(reserve_grouped(memoized[k], banks[k].lanes, banks[k].group, first, bytes, chunks, lane_bw, arrival,
                              horizon, &memo),
              a)
        << "bank " << k << ", step " << i;
  }
}

// The lanes' busy time counted per run (RunBusy): the same ends as each lane counting its own, and each
// lane's total the same as its Timeline's busy_ticks() there, on lanes of two sizes (runs that wrap
// around the bank, transfers narrower and wider than it, zero-byte pieces).
TEST(Timeline, InterleavedBookingWithRunBusyIsTheSame) {
  std::mt19937_64 rng(11);
  InterleavedDurations memo, memo_runs;
  std::vector<Timeline> plain[2] = {std::vector<Timeline>(128), std::vector<Timeline>(20)};
  std::vector<Timeline> runs[2] = {std::vector<Timeline>(128), std::vector<Timeline>(20)};
  RunBusy busy[2];
  busy[0].resize(128), busy[1].resize(20);
  const double lane_bw[2] = {25e9, 40e9};
  Tick horizon = 0;
  for (int i = 0; i < 40000; ++i) {
    if (rng() % 3 == 0) horizon += static_cast<Tick>(rng() % 20000);
    const size_t bank = rng() % 5 == 0 ? 1 : 0;
    const Tick arrival = horizon + static_cast<Tick>(rng() % 100000);
    const std::uint64_t bytes = rng() % 7 == 0 ? 64 * (rng() % 4) : 256 * (1 + rng() % 300);
    const std::uint64_t chunks = std::max<std::uint64_t>(1, (bytes + 255) / 256), first = rng() % plain[bank].size();
    ASSERT_EQ(reserve_interleaved(runs[bank], first, bytes, chunks, lane_bw[bank], arrival, horizon, &memo_runs, &busy[bank]),
              reserve_interleaved(plain[bank], first, bytes, chunks, lane_bw[bank], arrival, horizon, &memo))
        << "step " << i;
  }
  for (size_t b = 0; b < 2; ++b) {
    const std::vector<Tick> lanes = busy[b].lanes();
    ASSERT_EQ(lanes.size(), plain[b].size());
    for (size_t l = 0; l < plain[b].size(); ++l) {
      EXPECT_EQ(runs[b][l].busy_ticks(), 0) << "bank " << b << " lane " << l;
      EXPECT_EQ(lanes[l], plain[b][l].busy_ticks()) << "bank " << b << " lane " << l;
      EXPECT_GT(lanes[l], 0);
    }
  }
}

// The last transfer size's service times kept between transfers (InterleavedDurations): the same ends and
// busy times as without them, on lanes of two sizes and bandwidths through one memo (the key holds both).
TEST(Timeline, InterleavedBookingWithTheMemoIsTheSame) {
  std::mt19937_64 rng(7);
  InterleavedDurations memo;
  std::vector<Timeline> plain[2] = {std::vector<Timeline>(80), std::vector<Timeline>(20)};
  std::vector<Timeline> kept[2] = {std::vector<Timeline>(80), std::vector<Timeline>(20)};
  const double lane_bw[2] = {25e9, 40e9};
  Tick horizon = 0;
  for (int i = 0; i < 20000; ++i) {
    if (rng() % 3 == 0) horizon += static_cast<Tick>(rng() % 20000);
    const size_t bank = rng() % 5 == 0 ? 1 : 0;
    const Tick arrival = horizon + static_cast<Tick>(rng() % 100000);
    // A few sizes, often repeated, as a kernel's copies come.
    const std::uint64_t bytes = 4096 * (1 + rng() % 3) + (rng() % 4 == 0 ? 128 * (rng() % 8) : 0);
    const std::uint64_t chunks = (bytes + 4095) / 4096, first = rng() % plain[bank].size();
    ASSERT_EQ(reserve_interleaved(kept[bank], first, bytes, chunks, lane_bw[bank], arrival, horizon, &memo),
              reserve_interleaved(plain[bank], first, bytes, chunks, lane_bw[bank], arrival, horizon))
        << "step " << i;
  }
  for (size_t b = 0; b < 2; ++b)
    for (size_t l = 0; l < plain[b].size(); ++l) EXPECT_EQ(kept[b][l].busy_ticks(), plain[b][l].busy_ticks());
}

// The lane bank's range bookings (LaneBank: inline bookings of whole blocks as a pending add, of part of
// one on its lanes, the others lane by lane) against the per-lane loop on a vector of Timelines: the same
// end for every transfer, the same last end of every lane, the same busy time. Banks of 128 lanes (the
// B200's HBM channels, 16 blocks), 20 and 13 (a last block shorter than the others); phases where the lanes
// are loaded (transfers queue behind the last booking on every lane: the decode step's case, which the
// stream must reach), idle (the horizon passes the bookings: the per-lane loop after a gap) and in between
// (arrivals scattered a quantum behind, first fits, the 64-interval bound), transfers narrower and wider
// than the bank, runs that wrap, zero-byte and one-granule pieces.
TEST(Timeline, LaneBankMatchesThePerLaneBookingOnRandomStreams) {
  const std::uint64_t sizes[3] = {128, 20, 13};
  const double lane_bw[3] = {25e9, 40e9, 31e9};
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    std::mt19937_64 rng(seed);
    std::vector<Timeline> plain[3];
    LaneBank bank[3];
    RunBusy busy_plain[3], busy_bank[3];
    InterleavedDurations memo_plain, memo_bank;
    for (size_t b = 0; b < 3; ++b) {
      plain[b].resize(sizes[b]);
      bank[b].resize(sizes[b]);
      busy_plain[b].resize(sizes[b]);
      busy_bank[b].resize(sizes[b]);
    }
    Tick horizon = 0;
    int all_inline = 0;
    for (int i = 0; i < 30000; ++i) {
      const int phase = (i / 1500) % 3;  // 0 loaded, 1 idle, 2 scattered
      const size_t b = rng() % 6 == 0 ? 1 + rng() % 2 : 0;
      const std::uint64_t n = sizes[b];
      Tick arrival;
      if (phase == 0) {
        horizon += static_cast<Tick>(rng() % 200);
        arrival = horizon + static_cast<Tick>(rng() % 3000);
      } else if (phase == 1) {
        horizon += static_cast<Tick>(rng() % 60000);
        arrival = horizon + static_cast<Tick>(rng() % kQuantum);
      } else {
        if (rng() % 3 == 0) horizon += static_cast<Tick>(rng() % 20000);
        arrival = horizon + static_cast<Tick>(rng() % (2 * kQuantum));
      }
      const unsigned kind = static_cast<unsigned>(rng() % 10);
      const std::uint64_t bytes = kind == 0   ? 64 * (rng() % 4)                   // zero-byte and sub-granule pieces
                                  : kind < 4 ? 256 * (1 + rng() % (2 * n))         // narrower than the bank or one lap
                                  : kind < 8 ? 256 * (n * (1 + rng() % 3) + rng() % n)  // wider: wrapping runs
                                             : 256 * (16 + 8 * (rng() % 8));         // block-aligned widths
      const std::uint64_t chunks = std::max<std::uint64_t>(1, (bytes + 255) / 256), first = rng() % n;
      bool inline_all = true;
      for (std::uint64_t l = 0; l < std::min(chunks, n); ++l) {
        const Tick te = plain[b][(first + l) % n].free_at();
        if (!(arrival < te)) inline_all = false;
      }
      all_inline += inline_all && bytes > 0 ? 1 : 0;
      const Tick end = reserve_interleaved(plain[b], first, bytes, chunks, lane_bw[b], arrival, horizon, &memo_plain,
                                           &busy_plain[b]);
      ASSERT_EQ(reserve_interleaved(bank[b], first, bytes, chunks, lane_bw[b], arrival, horizon, &memo_bank, busy_bank[b]),
                end)
          << "seed " << seed << " step " << i;
      if (i % 97 == 0) {
        for (size_t c = 0; c < 3; ++c)
          for (std::uint64_t l = 0; l < sizes[c]; ++l)
            ASSERT_EQ(bank[c].free_at(l), plain[c][l].free_at()) << "seed " << seed << " step " << i << " lane " << l;
      }
    }
    EXPECT_GT(all_inline, 5000) << "seed " << seed;  // the stream reaches the all-inline transfers
    for (size_t c = 0; c < 3; ++c) {
      const std::vector<Tick> p = busy_plain[c].lanes(), q = busy_bank[c].lanes();
      EXPECT_EQ(p, q);
      for (std::uint64_t l = 0; l < sizes[c]; ++l) {
        EXPECT_EQ(bank[c].free_at(l), plain[c][l].free_at());
        EXPECT_EQ(bank[c].busy_ticks(l), 0);
      }
    }
  }
}
