// A serializing resource timeline (an HBM channel, an L2 slice, a link, a port): transactions occupy
// it for their service time, one at a time. Arrivals may come out of order under temporal decoupling,
// so the timeline keeps a short calendar of busy intervals and fills the earliest gap that fits
// (first fit); intervals that end before the global time can no longer be reached and are dropped.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
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

// The calendar is a sorted list of disjoint busy intervals kept in two parts: the last interval
// inline in the object (`m_ts`, `m_te`) and the earlier live ones in a vector from `m_head` on.
// Most bookings on a loaded resource look at the last interval only, and a transfer books dozens
// of lanes (channels, slices) one after another: with the last interval inline, such a booking
// reads one cache line of the lane's own object (objects are one line each and contiguous in a
// bank) instead of chasing a pointer per lane. Dropping intervals from the front only advances the
// head (the dead prefix is reclaimed in bulk), a first-fit search starts with a binary search at
// the arrival, and an insertion or removal shifts whichever side of the vector is shorter. The
// booking rules (first fit, merging of touching intervals, the 64-interval bound that closes the
// oldest gap) are exactly those of the original erase-from-front vector, so results are
// bit-identical (tests/unit/engine/timeline_test.cpp replays the original on random streams).
class alignas(64) Timeline {
 public:
  // Occupies the resource for `duration` starting no earlier than `arrival`; returns the end time.
  // `horizon` is a time before which no future arrival can fall (the global simulation time).
  Tick reserve(Tick arrival, Tick duration, Tick horizon) {
    m_busy += duration;
    if (duration <= 0) return arrival;
    return occupy(arrival, duration, horizon);
  }
  // reserve() of a positive duration, the busy time counted by the caller (a transfer books many lanes
  // at one duration: its sign is tested once per run of lanes, not once per lane).
  Tick occupy(Tick arrival, Tick duration, Tick horizon) {
    // The commonest case by far on a loaded resource: the transfer neither fits before the last
    // interval nor arrives after it, so it queues behind it, and nothing earlier can hold it: no
    // earlier interval is left (nothing to drop), or all of them end by the arrival (the last one's end,
    // kept inline so that this test reads no other cache line). In the second case the dropping of
    // expired intervals is left to the next booking that needs them: dropping is monotone in the
    // horizon, so it then drops what it would have dropped now, and the calendar bound cannot be
    // crossed here (checked before dropping, which only lowers the count).
    // An arrival at the last end exactly is the same case (book_loaded() would append it to the last
    // interval, m_te += duration, after the dropping that is left here as above): the SM links' and the HBM
    // lanes' loops meet it (23 k of the 8192^3 H100 GEMM's 320 k calls of book_loaded(); speed51 in
    // scripts/bench/README.md).
    // (While nothing is booked m_te is kNothing, so `arrival <= m_te` also stands for m_tail.) Both
    // conditions on the earlier intervals are one comparison with the gate (m_gate).
    if (arrival <= m_te && arrival + duration > m_ts && arrival >= m_gate) return m_te += duration;
    // Else book()'s cases after a gap, or the others (first fit, over the bound: the L2 slice groups' calendars
    // of a decode step) without going through book(). (While nothing is booked book() is taken.)
    return arrival > m_te ? book(arrival, duration, horizon) : book_loaded(arrival, duration, horizon);
  }
  // Whether a booking arriving at `t` comes after a gap (after everything booked).
  bool after_gap(Tick t) const { return m_tail && t > m_te; }
  // occupy() with the bookings after a gap inline as well (book()'s first two cases, while they need
  // neither the 64-interval bound nor a larger vector): for the loop over a wide transfer's lanes when
  // they are idle or lightly loaded (the HBM channels of a compute-bound GEMM: most of the 8192^3 H100
  // GEMM's calls of book()). The same steps as book(), so the same calendar.
  Tick occupy_after_gap(Tick arrival, Tick duration, Tick horizon) {
    if (arrival <= m_te && arrival + duration > m_ts && arrival >= m_gate) return m_te += duration;  // occupy()'s
    if (arrival > m_te && m_tail) {
      if (m_te <= horizon) {  // every interval has ended: the calendar is emptied (book())
        m_iv.clear();
        m_head = 0;
        m_gate = kNothing;
        m_ts = arrival;
        return m_te = arrival + duration;
      }
      if (m_gate <= horizon) {  // every earlier interval has ended
        m_iv.clear();
        m_head = 0;
      } else if (m_iv.size() - m_head + 2 > kMaxIntervals) {
        return book(arrival, duration, horizon);
      }
      if (m_iv.size() < m_iv.capacity()) {  // the push of book(), far from the bound
        m_iv.push_back(Iv(m_ts, m_te));
        m_gate = m_te;
        m_ts = arrival;
        return m_te = arrival + duration;
      }
    }
    return book(arrival, duration, horizon);
  }
  void add_busy(Tick d) { m_busy += d; }
  Tick busy_ticks() const { return m_busy; }
  Tick free_at() const { return m_tail ? m_te : 0; }

 private:
  friend class LaneBank;  // books its lanes' inline bookings as range operations (m_te with a pending add)
  struct Iv {
    Iv() = default;
    Iv(Tick s, Tick e) : start(s), end(e) {}  // built in place by emplace_back (no copy through the stack)
    Tick start, end;
  };
  static constexpr size_t kMaxIntervals = 64;  // bound of the calendar (see compact())
  size_t live() const { return m_iv.size() - m_head + (m_tail ? 1 : 0); }
  Tick book(Tick arrival, Tick duration, Tick horizon);
  Tick book_loaded(Tick arrival, Tick duration, Tick horizon);  // book() but after a gap: drop, append or first fit
  Tick append(Tick t, Tick d);
  Tick fill_gap(Tick arrival, Tick duration);
  size_t first_ending_after(Tick arrival) const;
  void merge_in(size_t i, Iv iv);
  void merge_before_tail(Iv iv);
  void insert_at(size_t i, Iv iv);
  void erase_at(size_t i);
  void push_back(Iv iv);
  void reclaim();  // moves the live intervals to the front of the vector (m_head = 0)
  void compact();
  // m_te while nothing is booked: no arrival lies before it.
  static constexpr Tick kNothing = std::numeric_limits<Tick>::min();
  static constexpr Tick kClosed = std::numeric_limits<Tick>::max();
  // The gate of the inline path, kept by book() (the inline path changes only m_te, which it does not
  // depend on): kNothing while no earlier interval is live (any arrival may queue behind the last),
  // kClosed while the calendar holds more than kMaxIntervals intervals (the next booking must compact
  // it: only after an insertion by first fit), else the last earlier interval's end (an arrival before
  // it might fit in an earlier gap). One comparison in the inline path instead of the three tests it
  // stands for (a wide transfer books up to 128 HBM channels inline, one after another).
  void set_gate() {
    m_gate = m_head == m_iv.size() ? kNothing : live() > kMaxIntervals ? kClosed : m_iv.back().end;
  }
  Tick m_ts = 0, m_te = kNothing;  // the last interval (when m_tail)
  std::vector<Iv> m_iv;     // the earlier intervals, live from m_head on
  Tick m_gate = kNothing;   // see set_gate()
  std::uint32_t m_head = 0;
  bool m_tail = false;      // false only while nothing is booked
  // Where the last first-fit search of fill_gap() landed (an index into m_iv, possibly stale: only where
  // the search looks first, its answer checked). Out-of-order arrivals on one calendar come in clusters:
  // in the 70B B200 decode step (its L2 groups' calendars, mostly at the 64-interval bound) 56% of the
  // searches land on the previous one's index or the next. In the padding after m_tail: still one line.
  std::uint16_t m_hint = 0;
  Tick m_busy = 0;
};
// One cache line per lane: a transfer books dozens of lanes of a bank, one line each.
static_assert(sizeof(Timeline) == 64, "a Timeline is one cache line");

// The lanes' service times of the last transfer size reserve_interleaved() booked through it: a kernel's
// copies come in a few sizes, often one after another (a decode step's weight tiles), and the two divisions
// and two transfer times behind them cost some 100 instructions a transfer. Filled by the same
// computation, so the results are the same with or without it. One entry: bounded.
struct InterleavedDurations {
  std::uint64_t bytes = 0, chunks = 0, lanes = 0;  // the key (chunks 0: empty)
  double lane_bw = 0;
  std::uint64_t extra = 0;           // lanes that take one granule more
  Tick dur = 0, dur_more = 0;        // a lane's time for per, per + 1 granules
};

// The busy time of a bank's lanes counted per run of lanes instead of per lane (reserve_interleaved): a
// transfer books its lanes in at most four runs of one duration each, and a run adds its duration at its
// first lane and takes it off after its last, so a lane's busy time is the prefix sum up to it. A wide
// transfer (the 128 HBM channels of a B200, booked by every weight copy of a decode step) then writes two
// counters per run instead of one per lane; the sums are of integer ticks, so each lane's total is the one
// Timeline::busy_ticks() would hold (tested).
class RunBusy {
 public:
  void resize(std::uint64_t lanes) { m_diff.assign(lanes + 1, 0); }
  // `count` lanes from `from` on (within the bank: from + count <= lanes) each busy for `d` more.
  void add(std::uint64_t from, std::uint64_t count, Tick d) {
    m_diff[from] += d;
    m_diff[from + count] -= d;
  }
  Tick* diff() { return m_diff.data(); }  // lanes + 1 entries: a run adds at its first lane, takes off after its last
  // Every lane's busy time, in lane order.
  std::vector<Tick> lanes() const {
    std::vector<Tick> out(m_diff.empty() ? 0 : m_diff.size() - 1);
    Tick s = 0;
    for (size_t l = 0; l < out.size(); ++l) out[l] = s += m_diff[l];
    return out;
  }

 private:
  std::vector<Tick> m_diff;  // lanes + 1 entries
};

// A bank of lanes (the HBM channels) whose inline bookings (occupy()'s first case: queue behind the last
// interval, m_te += d) are range operations over blocks of kBlock consecutive lanes. In the 70B B200 decode
// step 90% of the HBM transfers are inline on every lane they touch (61 of 128 channels on average), and
// booking them lane by lane took 15% of the step's instructions (scripts/bench/README.md, "Lane blocks").
// Each block keeps a pending add to its lanes' last ends (`lazy`: a lane's last end is its Timeline's
// m_te plus it) and bounds of its lanes' state: the least last end (a lower bound), the greatest (exact),
// and the greatest last start and gate (upper bounds: ts and the gate may fall in a first fit, the last
// end never does). When the bounds prove every lane of a block inline for an arrival and duration, a
// transfer that covers the block books it by adding to `lazy`; one that covers part of it adds to its lanes'
// m_te (the check is the block's, so it holds for any of its lanes). Otherwise the lanes are booked one by
// one (inline in place, or with the pending add pushed into the block's lanes and Timeline::book) and the
// block's bounds are read again from its lanes. So each lane's calendar is the one the per-lane loop
// (reserve_interleaved on a vector of Timelines) gives, and so is each transfer's end (tested on random
// streams against it). Lanes after a gap take the per-lane loop with the blocks' pending adds pushed first.
// Every reader of a lane's state goes through the bank (free_at(), busy_ticks()).
class LaneBank {
 public:
  static constexpr std::uint64_t kBlock = 8;
  void resize(std::uint64_t lanes);
  std::uint64_t size() const { return m_lanes.size(); }
  Tick busy_ticks(std::uint64_t l) const { return m_lanes[l].busy_ticks(); }
  // Lane l's last end (Timeline::free_at()), its block's pending add included.
  Tick free_at(std::uint64_t l) const {
    const Timeline& t = m_lanes[l];
    return t.m_tail ? t.m_te + m_blocks[l / kBlock].lazy : 0;
  }
  // Books `count` lanes from `from` on (from + count <= size()) at one positive duration `d`, all arriving
  // at `arrival`; returns the later of `done` and their ends (book_loaded_lanes<false>'s result).
  Tick book(std::uint64_t from, std::uint64_t count, Tick arrival, Tick d, Tick horizon, Tick done);

 private:
  // Each block's pending add and bounds, in the terms of its lanes' m_te (a lane's last end is its m_te plus
  // `lazy`): a whole block booked inline writes `lazy` only.
  struct Block {
    Tick lazy = 0;                                   // added to each lane's m_te
    Tick min_te = std::numeric_limits<Tick>::min();  // <= every lane's m_te (the least Tick: to be read again)
    Tick max_te = 0;                                 // the greatest m_te (exact while min_te is known)
    Tick max_ts = 0, max_gate = 0;                   // >= every lane's last start, gate
  };
  // Whether the bounds prove every lane of block `k` inline for a booking of [arrival, arrival_end): each
  // last end after the arrival, each last start before the booking's end, each gate by the arrival.
  static bool all_inline(const Block& k, Tick arrival, Tick arrival_end) {
    return k.min_te > arrival - k.lazy && k.max_ts < arrival_end && k.max_gate <= arrival;
  }
  std::uint64_t block_end(std::uint64_t b) const { return std::min<std::uint64_t>(b * kBlock + kBlock, m_lanes.size()); }
  void push(std::uint64_t b);     // the block's pending add into its lanes' m_te
  void refresh(std::uint64_t b);  // the block's bounds read from its lanes
  template <bool Whole>
  Tick book_each(std::uint64_t b, std::uint64_t lo, std::uint64_t hi, Tick arrival, Tick d, Tick horizon, Tick done);
  Tick book_block(std::uint64_t b, Tick arrival, Tick d, Tick horizon, Tick done);  // not proved inline
  Tick book_part(std::uint64_t b, std::uint64_t lo, std::uint64_t hi, Tick arrival, Tick d, Tick horizon, Tick done);
  void go_plain();  // every pending add pushed, every block's bounds to be read again, m_plain
  std::vector<Timeline> m_lanes;
  std::vector<Block> m_blocks;
  // Whether the blocks pay (timeline.cpp: kSlow, kProbe, kScoreMax): +1 for each block a loaded booking
  // touches, -kSlow for each booked lane by lane, -1 for each an idle booking touches (its bounds dropped).
  // Below zero, the bank books lane by lane (m_plain: the per-lane loops on the lanes' own state, as
  // reserve_interleaved on a vector of Timelines) for kProbe bookings, then tries the blocks again. A
  // compute-bound GEMM's channels, idle or unevenly loaded (the 8192^3 H100 GEMM: half the blocks of its loaded
  // bookings were not proved inline), then cost what the per-lane loops cost; a decode step's stay on the
  // blocks. Either way the same calendars.
  std::int64_t m_score = 0;
  bool m_plain = false;
};

// Books a transfer of `bytes` cut into `chunks` interleave granules on consecutive lanes (channels,
// slices) from `first` on, each lane at `lane_bw` bytes/s, all arriving at `arrival`. The first
// chunks % lanes lanes take one granule more. Returns the latest end (at least `arrival`). With `busy`
// (sized to the lanes), the lanes' busy time is counted there instead of in each lane's Timeline (whose
// busy_ticks() then leaves these bookings out).
Tick reserve_interleaved(std::vector<Timeline>& lanes, std::uint64_t first, std::uint64_t bytes,
                         std::uint64_t chunks, double lane_bw, Tick arrival, Tick horizon,
                         InterleavedDurations* memo = nullptr, RunBusy* busy = nullptr);
// The same on a LaneBank, the busy time counted in `busy` (sized to the lanes): the same ends and calendars.
Tick reserve_interleaved(LaneBank& lanes, std::uint64_t first, std::uint64_t bytes, std::uint64_t chunks,
                         double lane_bw, Tick arrival, Tick horizon, InterleavedDurations* memo, RunBusy& busy);

// Books the same transfer on groups of `group` consecutive lanes, one calendar per group (`groups`
// holds ceil(lanes / group) of them, the last group possibly shorter). A group serves the transfer at
// its lanes' mean load (the granules its lanes take, at the group's rate), and the transfer's piece
// in that group ends when its busiest lane would: `group` = 1 is reserve_interleaved up to rounding,
// `group` = lanes is a bank that keeps only the widest lane's share. One booking per group instead of
// one per lane; the imbalance the address hash makes is kept between groups, averaged within one.
//
// `memo` (optional) keeps each group's service time and busiest-lane time for the last few transfer
// sizes and each first lane: a kernel's copies come in a few sizes (a GEMM's A and B tiles), and working
// out which lanes take one granule more and the divisions behind the times cost more than the bookings
// themselves. The times are computed by the same function, so the results are the same with or without
// it (tested on random streams). One memo serves one (lanes, group, lane_bw); banks of more than
// kMaxTable (first lane, group) pairs are booked without it. At most kSets x kWays sizes are kept (each
// at most kMaxTable rows, 64 KiB).
class GroupedDurations;
Tick reserve_grouped(std::vector<Timeline>& groups, std::uint64_t lanes, std::uint64_t group, std::uint64_t first,
                     std::uint64_t bytes, std::uint64_t chunks, double lane_bw, Tick arrival, Tick horizon,
                     GroupedDurations* memo = nullptr);

// How a transfer of `bytes` in `chunks` granules spreads over `lanes` lanes of `lane_bw` each (reserve_grouped,
// with or without its memo): every lane takes `per` granules, `extra` lanes (from the first lane on) one more.
struct GranuleSpread {
  std::uint64_t per = 0, extra = 0;
  double bytes_per_chunk = 0;
  Tick lane_dur[2] = {0, 0};  // a lane's time for per, per + 1 granules
  GranuleSpread() = default;
  GranuleSpread(std::uint64_t bytes, std::uint64_t chunks, std::uint64_t lanes, double lane_bw);
};

class GroupedDurations {
 public:
  // A transfer of `bytes` in `chunks` granules over the lanes.
  struct Size {
    std::uint64_t bytes = 0, chunks = 0;  // chunks 0: unused entry
    GranuleSpread spread;
    std::uint64_t groups = 0;
    std::vector<Tick> rows;               // per first lane, per group: (service time or kSkip, busiest
                                          // lane's time)
    std::vector<std::uint32_t> built;     // per first lane: the generation its row was built for
    std::uint32_t generation = 0;         // this size's (0: none)
    std::uint64_t used = 0;               // when last looked up (the older of a set's two is replaced)
  };
  static constexpr Tick kSkip = -1;
  static constexpr std::uint64_t kMaxTable = 4096;  // most (first lane, group) pairs kept per size (64 KiB)
  // The entry for (bytes, chunks), filled on first use. The entries of the last two sizes looked up are tried
  // first, before the hash (a kernel streams a few sizes in turn: the 8192^3 H100 GEMM's A and B tiles, a decode
  // step's weight tiles). A hit on the last one leaves the clock as it is: that entry's `used` is the greatest
  // either way, so the order of every entry's `used`, the only thing replacement reads, is the one the lookup
  // would leave; a hit on the one before takes the clock as the lookup does. The same entries are replaced.
  // Null when the bank's table would hold more than kMaxTable (first lane, group) pairs (not kept).
  Size* size(std::uint64_t lanes, std::uint64_t group, double lane_bw, std::uint64_t bytes, std::uint64_t chunks) {
    if (lanes == m_lanes && group == m_group && lane_bw == m_bw && chunks != 0) {  // a filled entry's bank: it fits
      Size& e = m_sizes[m_last];  // indices, not pointers: a copy of the memo stays its own
      if (e.chunks == chunks && e.bytes == bytes) return &e;
      Size& p = m_sizes[m_prev];
      if (p.chunks == chunks && p.bytes == bytes) {
        p.used = ++m_clock;
        std::swap(m_last, m_prev);
        return &p;
      }
    }
    if (lanes * ((lanes + group - 1) / group) > kMaxTable) return nullptr;
    return &lookup(lanes, group, lane_bw, bytes, chunks);
  }
  // The groups' (time, busiest lane's time) pairs of a transfer of size `e` from lane `first` on.
  const Tick* row(Size& e, std::uint64_t first) const {
    if (e.built[first] == e.generation) return &e.rows[first * e.groups * 2];
    return build_row(e, first);
  }

 private:
  // Two entries per set of a hash of the size: a kernel's few sizes (the 70B B200 decode step streams 20
  // through the L2 groups) then rarely evict one another (direct-mapped, 16 entries rebuilt rows for 40%
  // of that step's L2 transfers).
  static constexpr size_t kSets = 16, kWays = 2;
  Size& lookup(std::uint64_t lanes, std::uint64_t group, double lane_bw, std::uint64_t bytes, std::uint64_t chunks);
  const Tick* build_row(Size& e, std::uint64_t first) const;
  Size m_sizes[kSets * kWays];
  // The entries of the last two sizes looked up, the last first (an entry's chunks are 0 after the bank changed,
  // and an entry since replaced holds another size: neither matches).
  size_t m_last = 0, m_prev = 0;
  void note(size_t i) {
    if (i != m_last) m_prev = m_last, m_last = i;
  }
  std::uint64_t m_clock = 0;
  std::uint64_t m_lanes = 0, m_group = 0;
  double m_bw = 0;
};

// Books the same transfer on a bank of `lanes` lanes taken as one fluid resource (`bank` is its one
// calendar): the bank serves it at the bank's full rate (lanes x lane_bw) while the transfer itself
// streams no faster than the `touched` lanes it spreads over. One booking per transfer instead of one
// per lane: aggregate bandwidth and each transfer's width are kept, the imbalance between lanes
// (two transfers that hash onto the same few lanes) is not. Returns the later of the two ends.
Tick reserve_bank(Timeline& bank, std::uint64_t lanes, std::uint64_t bytes, std::uint64_t touched, double lane_bw,
                  Tick arrival, Tick horizon);

}  // namespace xpu
