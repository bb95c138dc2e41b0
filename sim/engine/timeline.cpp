// First-fit booking on a resource timeline (see timeline.h for the rules it keeps).
#include "sim/engine/timeline.h"

#include <cstring>

namespace xpu {

namespace {
constexpr size_t kReclaimMin = 4;  // dead intervals kept before the live ones are moved down
}  // namespace

// The first earlier interval from m_head on that ends after `arrival`, given that the last earlier one does
// (the ends increase: the intervals are disjoint and sorted): the index std::upper_bound finds over
// [m_head, n - 1), so the calendar is the same. Looked for first at the hint (the previous search's) and the
// interval after it, then at the last earlier one, and only then by binary search on the side of the hint
// it lies: 70B B200 decode step 1,286 -> 1,251 M instructions (scripts/bench/README.md, "Hinted first fit").
[[gnu::always_inline]] inline size_t Timeline::first_ending_after(Tick arrival) const {
  const size_t n = m_iv.size(), head = m_head;
  const Iv* const iv = m_iv.data();
  auto search = [&](size_t from, size_t to) {  // the answer lies in [from, to]: to's interval ends after it
    return static_cast<size_t>(std::upper_bound(iv + from, iv + to, arrival,
                                                [](Tick a, const Iv& x) { return a < x.end; }) - iv);
  };
  const size_t h = std::min(std::max<size_t>(m_hint, head), n - 1);
  if (arrival < iv[h].end) {  // the answer is h or before it
    if (h == head || iv[h - 1].end <= arrival) return h;
    return search(head, h - 1);
  }
  // The answer is after h (the last earlier interval ends after the arrival, so h < n - 1).
  if (arrival < iv[h + 1].end) return h + 1;
  if (iv[n - 2].end <= arrival) return n - 1;  // h + 1 < n - 1 here: the last earlier one
  return search(h + 2, n - 2);
}

// Places `iv` in the gap before the last interval.
[[gnu::always_inline]] inline void Timeline::merge_before_tail(Iv iv) {
  const bool left = m_head < m_iv.size() && m_iv.back().end == iv.start;
  const bool right = m_ts == iv.end;
  if (left && right) {  // the last earlier interval, the new one and the last become one
    m_ts = m_iv.back().start;
    m_iv.pop_back();
  } else if (left) {
    m_iv.back().end = iv.end;
  } else if (right) {
    m_ts = iv.start;
  } else {
    push_back(iv);
  }
}

// First fit for an arrival before the last booked end. Inlined into book_loaded(), its only caller, with merge_in
// and insert_at's room-to-spare path: the L2 slice groups' calendars of a decode step sit at the 64-interval
// bound, and four calls deep each of their 1.5 M first fits per 70B B200 step saved and reloaded the calendar's
// state at every level (scripts/bench/README.md, "First fit in one piece").
[[gnu::always_inline]] inline Tick Timeline::fill_gap(Tick arrival, Tick duration) {
  // Intervals that end at or before the arrival cannot hold it and do not delay it: find the first
  // earlier one that ends after it (often none: the arrival falls in or just before the last one).
  const size_t n = m_iv.size();
  size_t lo = n;
  if (m_head < n && arrival < m_iv[n - 1].end) {
    lo = first_ending_after(arrival);
    m_hint = static_cast<std::uint16_t>(lo);
  }
  Tick t = arrival;
  for (size_t i = lo; i < n; ++i) {
    if (t + duration <= m_iv[i].start) {  // fits in the gap before interval i
      merge_in(i, {t, t + duration});
      return t + duration;
    }
    t = std::max(t, m_iv[i].end);
  }
  if (t + duration <= m_ts) {  // fits in the gap before the last interval
    merge_before_tail({t, t + duration});
    return t + duration;
  }
  // No gap holds it: behind the last interval. t <= m_te (the arrival is before the last end, the earlier intervals
  // end by the last start), so this is append(m_te, duration)'s first case, inline: of the 70B B200 decode step's
  // 470 k first fits on the HBM lanes 273 k end here, after a scan of two intervals on average (speed54 in
  // scripts/bench/README.md), and the call cost about as much as the scan.
  m_te += duration;
  if (live() > kMaxIntervals) compact();
  return m_te;
}

// Shifts the shorter side of the vector by one: the front part down into the dead prefix, else the back part up
// (memmove on the vector's own storage while it has room; vector::insert only to grow it).
[[gnu::always_inline]] inline void Timeline::insert_at(size_t i, Iv iv) {
  Iv* const p = m_iv.data();
  const size_t n = m_iv.size();
  if (m_head > 0 && i - m_head < n - i) {  // shift the shorter front part down
    std::memmove(p + m_head - 1, p + m_head, (i - m_head) * sizeof(Iv));
    --m_head;
    p[i - 1] = iv;
  } else if (n < m_iv.capacity()) {
    m_iv.emplace_back();
    std::memmove(p + i + 1, p + i, (n - i) * sizeof(Iv));
    p[i] = iv;
  } else [[unlikely]] {
    m_iv.insert(m_iv.begin() + static_cast<long>(i), iv);
  }
}

// Places `iv` before earlier interval i (a gap: it may touch its neighbours, never overlap them).
[[gnu::always_inline]] inline void Timeline::merge_in(size_t i, Iv iv) {
  const bool left = i > m_head && m_iv[i - 1].end == iv.start;
  const bool right = m_iv[i].start == iv.end;
  if (left && right) {
    m_iv[i - 1].end = m_iv[i].end;
    erase_at(i);
  } else if (left) {
    m_iv[i - 1].end = iv.end;
  } else if (right) {
    m_iv[i].start = iv.start;
  } else {
    insert_at(i, iv);
  }
}

// The general case of reserve(): prune, then append or first fit.
Tick Timeline::book(Tick arrival, Tick duration, Tick horizon) {
  // After a gap, with the last interval (and so every earlier one) ended by the horizon: no later
  // arrival falls before the horizon, so none of them can hold or delay one again. The steps below
  // would drop the earlier ones and push the last one, which the next booking that is not inline
  // drops in turn (it ends by any later horizon, the horizon only moves forward); until then it only
  // counts towards the 64-interval bound, which two intervals cannot reach, and the inline path
  // takes the same arrivals with or without it (they lie at or after its end). So the calendar is
  // emptied here instead, without reading or writing its vector: one cache miss less per booking
  // of an idle lane (the HBM channels of a compute-bound GEMM: 12% of the 8192^3 H100 GEMM's
  // bookings outside the inline path).
  if (m_tail && arrival > m_te && m_te <= horizon) {
    m_iv.clear();
    m_head = 0;
    m_gate = kNothing;
    m_ts = arrival;
    m_te = arrival + duration;
    return m_te;
  }
  const size_t n = m_iv.size();
  if (m_tail && arrival > m_te) {
    // After a gap (most bookings of a lightly loaded lane, e.g. the HBM channels in a compute-bound
    // GEMM: 2.2 M of the 8192^3 H100 GEMM's 2.8 M bookings): the last interval is pushed and the new
    // one becomes the last. Which earlier intervals have ended matters here only for the 64-interval
    // bound (dropping is monotone in the horizon, and every other step drops before it reads the
    // vector), so far from the bound the dead ones are left for the next booking that reads the
    // vector, and this one does not read it (its first live interval was a cache miss per booking):
    // - the gate (the last earlier end) by the horizon: every earlier interval has ended; the vector
    //   is emptied without reading it;
    // - else, while the calendar cannot reach the bound even with its dead intervals counted (the
    //   count below is then an upper bound of the live one), nothing is dropped;
    // - else the dead prefix is dropped as before (reclaim, the push, the bound).
    if (m_gate <= horizon) {
      m_iv.clear();
      m_head = 0;
    } else if (n - m_head + 2 > kMaxIntervals) {
      size_t h = m_head;
      while (h < n && m_iv[h].end <= horizon) ++h;
      m_head = static_cast<std::uint32_t>(h);
      if (h >= kReclaimMin && h >= n - h) reclaim();
    }
    m_iv.emplace_back(m_ts, m_te);
    // The pushed interval is the last earlier one (set_gate() without reading it back).
    m_gate = m_te;
    m_ts = arrival;
    m_te = arrival + duration;
    if (m_iv.size() - m_head + 1 > kMaxIntervals) {
      compact();
      if (live() > kMaxIntervals) m_gate = kClosed;
    }
    return m_te;
  }
  return book_loaded(arrival, duration, horizon);
}

// book() of an arrival at or before the last end (or on an empty calendar). A function of its own, which first fit
// is inlined into, so that book()'s bookings after a gap (most of a GEMM's HBM channel bookings) keep a small frame;
// occupy() calls it directly for such an arrival (the L2 slice groups' first fits: one call instead of four).
[[gnu::noinline]] Tick Timeline::book_loaded(Tick arrival, Tick duration, Tick horizon) {
  const size_t n = m_iv.size();
  // Drop intervals that end before the horizon (the last one, inline, is always kept); when the last
  // earlier one has ended (the gate, inline, while it is that end), all of them have, and the vector is
  // not read.
  size_t h = m_head;
  if (h < n && m_gate <= horizon) h = n;
  while (h < n && m_iv[h].end <= horizon) ++h;
  m_head = static_cast<std::uint32_t>(h);
  // Arrival at or after everything booked, or first fit.
  Tick end;
  if (m_tail && arrival == m_te) {  // append()'s commonest case inline: the arrival touches the last interval
    end = m_te = arrival + duration;
    if (live() > kMaxIntervals) compact();
  } else {
    end = !m_tail || arrival > m_te ? append(arrival, duration) : fill_gap(arrival, duration);
  }
  set_gate();
  return end;
}

// Books [t, t + d) after every interval (t >= the last end).
Tick Timeline::append(Tick t, Tick d) {
  if (m_tail && m_te == t) {
    m_te = t + d;
  } else {
    if (m_tail) push_back({m_ts, m_te});
    m_ts = t;
    m_te = t + d;
    m_tail = true;
  }
  if (live() > kMaxIntervals) compact();
  return t + d;
}

void Timeline::erase_at(size_t i) {
  if (i - m_head < m_iv.size() - i) {  // shift the shorter front part up
    std::move_backward(m_iv.begin() + static_cast<long>(m_head), m_iv.begin() + static_cast<long>(i),
                       m_iv.begin() + static_cast<long>(i) + 1);
    ++m_head;
  } else {
    m_iv.erase(m_iv.begin() + static_cast<long>(i));
  }
}

void Timeline::push_back(Iv iv) {
  // Reclaim the dead prefix once it is as long as the live part (amortized O(1) per dropped
  // interval), so the calendar stays in the first few cache lines of its vector.
  if (m_head >= kReclaimMin && m_head >= m_iv.size() - m_head) reclaim();
  m_iv.push_back(iv);
}

void Timeline::reclaim() {
  // The live part is at most as long as the dead prefix, usually a few intervals: copied down by a
  // plain loop (vector::erase calls memmove, which costs more than the copy here).
  Iv* const iv = m_iv.data();
  const size_t live = m_iv.size() - m_head;
  for (size_t i = 0; i < live; ++i) iv[i] = iv[m_head + i];
  m_iv.resize(live);
  m_head = 0;
}

void Timeline::compact() {
  // Bound the calendar (called over the bound): when too many gaps accumulate, close the oldest one
  // (conservative). Over the bound, at least 64 intervals precede the last, so both oldest are in the vector.
  m_iv[m_head + 1].start = m_iv[m_head].start;
  ++m_head;
}

namespace {
// Books contiguous lanes [p, e) at one positive duration; returns the later of `done` and their ends. A
// function of its own so that its loop keeps the arrival, its end and the horizon in registers (inside
// book_interleaved's nested loops GCC spilled them and reloaded one from the stack for every lane).
// `Busy`: each lane counts its busy time (else the caller counts the run's, RunBusy).
template <bool Busy>
[[gnu::noinline]] Tick book_loaded_lanes(Timeline* p, Timeline* const e, Tick arrival, Tick d, Tick horizon, Tick done) {
  for (; p != e; ++p) {
    if (Busy) p->add_busy(d);
    done = std::max(done, p->occupy(arrival, d, horizon));
  }
  return done;
}
// The same for lanes that are idle or lightly loaded: their bookings after a gap inline.
template <bool Busy>
[[gnu::noinline]] Tick book_idle_lanes(Timeline* p, Timeline* const e, Tick arrival, Tick d, Tick horizon, Tick done) {
  for (; p != e; ++p) {
    if (Busy) p->add_busy(d);
    done = std::max(done, p->occupy_after_gap(arrival, d, horizon));
  }
  return done;
}
// A transfer's lanes are mostly in one state: idle ones (a compute-bound GEMM's HBM channels) take the loop
// with the bookings after a gap inline, loaded ones (a decode step's) the plain loop, each of whose other
// bookings would pay for that loop's extra tests. (One loop testing both spilled a register per lane.)
// Both book exactly as occupy() does.
template <bool Busy>
Tick book_lanes(Timeline* p, Timeline* const e, Tick arrival, Tick d, Tick horizon, Tick done) {
  if (p != e && p->after_gap(arrival)) return book_idle_lanes<Busy>(p, e, arrival, d, horizon, done);
  return book_loaded_lanes<Busy>(p, e, arrival, d, horizon, done);
}

// The lanes' bookings of reserve_interleaved(), its service times worked out: the lanes from `first` on
// (cyclically) in runs of one duration over contiguous lanes, the first `extra` lanes at dur_more, the others
// at dur. Each lane is booked once per transfer, so the order of the bookings does not matter (only the
// latest end is returned). `Busy`: each lane counts its busy time, else the runs are counted in `diff`
// (RunBusy's, one branch per transfer instead of per run). `book(from, count, d, done)` books `count` lanes
// from `from` on (no wrap) at a positive duration `d`; `counted(from, count, d)` counts a non-positive one.
template <bool Busy, class Book, class Counted>
Tick book_runs(std::uint64_t n, std::uint64_t first, const InterleavedDurations& times, Tick arrival,
               Tick* const diff, Book&& book, Counted&& counted) {
  const std::uint64_t chunks = times.chunks;
  const std::uint64_t extra = times.extra;
  const Tick dur_more = times.dur_more, dur = times.dur;
  Tick done = arrival;
  const std::uint64_t touched = std::min(chunks, n);
  auto book_run = [&](std::uint64_t from, std::uint64_t count, Tick d) {
    while (count > 0) {
      const std::uint64_t seg = std::min(count, n - from);
      if (!Busy) {
        diff[from] += d;
        diff[from + seg] -= d;
      }
      if (d <= 0) {  // reserve() of a non-positive duration: counted, nothing booked
        counted(from, seg, d);
      } else {
        done = book(from, seg, d, done);
      }
      count -= seg;
      from = 0;
    }
  };
  book_run(first, extra, dur_more);  // extra < n and extra <= touched
  const std::uint64_t rest = first + extra;
  book_run(rest >= n ? rest - n : rest, touched - extra, dur);
  return done;
}
template <bool Busy>
Tick book_interleaved(std::vector<Timeline>& lanes, std::uint64_t first, const InterleavedDurations& times,
                      Tick arrival, Tick horizon, Tick* const diff) {
  Timeline* const lane = lanes.data();
  return book_runs<Busy>(
      lanes.size(), first, times, arrival, diff,
      [&](std::uint64_t from, std::uint64_t count, Tick d, Tick done) {
        return book_lanes<Busy>(lane + from, lane + from + count, arrival, d, horizon, done);
      },
      [&](std::uint64_t from, std::uint64_t count, Tick d) {
        if (Busy)
          for (Timeline *p = lane + from, *e = p + count; p != e; ++p) p->add_busy(d);
      });
}
Tick book_interleaved(std::vector<Timeline>& lanes, std::uint64_t first, const InterleavedDurations& times,
                      Tick arrival, Tick horizon, RunBusy* busy) {
  if (busy) return book_interleaved<false>(lanes, first, times, arrival, horizon, busy->diff());
  return book_interleaved<true>(lanes, first, times, arrival, horizon, nullptr);
}

// The lanes' service times of a transfer worked out (into the memo when there is one, else into `local`).
[[gnu::noinline]] const InterleavedDurations& fill_interleaved(InterleavedDurations* memo, InterleavedDurations& local,
                                                                std::uint64_t n, std::uint64_t bytes, std::uint64_t chunks,
                                                                double lane_bw) {
  InterleavedDurations& d = memo ? *memo : local;
  d.bytes = bytes, d.chunks = chunks, d.lanes = n, d.lane_bw = lane_bw;
  const std::uint64_t per = chunks / n;  // granules per lane
  d.extra = chunks % n;
  const double bytes_per_chunk = static_cast<double>(bytes) / static_cast<double>(chunks);
  d.dur_more = transfer_ticks(bytes_per_chunk * static_cast<double>(per + 1), lane_bw);
  d.dur = transfer_ticks(bytes_per_chunk * static_cast<double>(per), lane_bw);
  return d;
}
// The lanes' service times of a transfer: the memo's when it holds this size (inline: a call per HBM access
// otherwise), else worked out.
[[gnu::always_inline]] inline const InterleavedDurations& interleaved_durations(InterleavedDurations* memo,
                                                                                 InterleavedDurations& local,
                                                                                 std::uint64_t n, std::uint64_t bytes,
                                                                                 std::uint64_t chunks, double lane_bw) {
  if (memo && memo->chunks == chunks && memo->bytes == bytes && memo->lanes == n && memo->lane_bw == lane_bw)
    return *memo;
  return fill_interleaved(memo, local, n, bytes, chunks, lane_bw);
}
}  // namespace

Tick reserve_interleaved(std::vector<Timeline>& lanes, std::uint64_t first, std::uint64_t bytes,
                         std::uint64_t chunks, double lane_bw, Tick arrival, Tick horizon, InterleavedDurations* memo,
                         RunBusy* busy) {
  InterleavedDurations local;
  return book_interleaved(lanes, first, interleaved_durations(memo, local, lanes.size(), bytes, chunks, lane_bw),
                          arrival, horizon, busy);
}

namespace {
// LaneBank's choice between its blocks and the per-lane loops (see m_score).
constexpr std::int64_t kSlow = 4, kProbe = 256, kScoreMax = 1024;
}  // namespace

void LaneBank::resize(std::uint64_t lanes) {
  m_lanes.assign(lanes, Timeline());
  m_blocks.assign((lanes + kBlock - 1) / kBlock, Block());
}

void LaneBank::push(std::uint64_t b) {
  Block& k = m_blocks[b];
  const std::uint64_t lo = b * kBlock, hi = std::min<std::uint64_t>(lo + kBlock, m_lanes.size());
  // A block has a pending add only after every one of its lanes was proved inline (so booked: m_tail).
  for (std::uint64_t l = lo; l < hi; ++l) m_lanes[l].m_te += k.lazy;
  if (k.min_te != Timeline::kNothing) k.min_te += k.lazy;
  k.max_te += k.lazy;
  k.lazy = 0;
}

void LaneBank::refresh(std::uint64_t b) {
  Block& k = m_blocks[b];
  const std::uint64_t lo = b * kBlock, hi = std::min<std::uint64_t>(lo + kBlock, m_lanes.size());
  // A lane with nothing booked has m_te kNothing (and its block no pending add): the least last end is then
  // kNothing, which no arrival passes (and which the next attempt reads again).
  Tick mn = Timeline::kClosed, mx = Timeline::kNothing, ts = Timeline::kNothing, gate = Timeline::kNothing;
  for (std::uint64_t l = lo; l < hi; ++l) {
    const Timeline& t = m_lanes[l];
    mn = std::min(mn, t.m_te);
    mx = std::max(mx, t.m_te);
    ts = std::max(ts, t.m_ts);
    gate = std::max(gate, t.m_gate);
  }
  k.min_te = mn, k.max_te = mx, k.max_ts = ts, k.max_gate = gate;
}

// Lanes [lo, hi) of block b one by one: inline in place where occupy() would be (its test with the pending
// add), else with the pending add pushed into the block's lanes and Timeline::book (occupy()'s other case).
// `Whole` (the lanes are the whole block): the block's bounds are set from its lanes' new state, else
// widened by the booked lanes' (a last end only grows, so the least one stays a lower bound).
template <bool Whole>
[[gnu::noinline]] Tick LaneBank::book_each(std::uint64_t b, std::uint64_t lo, std::uint64_t hi, Tick arrival, Tick d, Tick horizon,
                         Tick done) {
  Block& k = m_blocks[b];
  Tick lazy = k.lazy;
  Timeline* const lane = m_lanes.data();
  m_score -= kSlow;
  Tick mn = Timeline::kClosed, mx = Timeline::kNothing, ts = Timeline::kNothing, gate = Timeline::kNothing;
  for (std::uint64_t l = lo; l < hi; ++l) {
    Timeline& t = lane[l];
    Tick end;
    if (arrival - lazy < t.m_te && arrival + d > t.m_ts && arrival >= t.m_gate) {
      end = (t.m_te += d) + lazy;
    } else {
      if (lazy != 0) {
        mn += mn == Timeline::kClosed ? 0 : lazy;  // the raw bounds so far follow the lanes' m_te
        mx += mx == Timeline::kNothing ? 0 : lazy;
        push(b);
        lazy = 0;
      }
      end = t.book(arrival, d, horizon);
      if (!Whole) {  // an inline booking leaves the last start and the gate as they were
        ts = std::max(ts, t.m_ts);
        gate = std::max(gate, t.m_gate);
      }
    }
    if (Whole) {
      mn = std::min(mn, t.m_te);
      ts = std::max(ts, t.m_ts);
      gate = std::max(gate, t.m_gate);
    }
    mx = std::max(mx, t.m_te);
    done = std::max(done, end);
  }
  if (Whole) {
    k.min_te = mn, k.max_te = mx, k.max_ts = ts, k.max_gate = gate;
  } else {
    k.max_te = std::max(k.max_te, mx);
    k.max_ts = std::max(k.max_ts, ts);
    k.max_gate = std::max(k.max_gate, gate);
  }
  return done;
}

// The whole of block b where its bounds did not prove it inline: they are read from the lanes when they are
// not known, else (or if they still do not) the lanes are booked one by one.
Tick LaneBank::book_block(std::uint64_t b, Tick arrival, Tick d, Tick horizon, Tick done) {
  Block& k = m_blocks[b];
  if (k.min_te == Timeline::kNothing) {
    refresh(b);  // bounds not known (or a lane with nothing booked)
    if (all_inline(k, arrival, arrival + d)) {
      k.lazy += d;
      return std::max(done, k.max_te + k.lazy);
    }
  }
  return book_each<true>(b, b * kBlock, block_end(b), arrival, d, horizon, done);
}

// Lanes [lo, hi) of block b, part of it: inline on its lanes' m_te where the bounds prove the block inline.
[[gnu::always_inline]] inline Tick LaneBank::book_part(std::uint64_t b, std::uint64_t lo, std::uint64_t hi,
                                                       Tick arrival, Tick d, Tick horizon, Tick done) {
  Block& k = m_blocks[b];
  if (!all_inline(k, arrival, arrival + d)) {
    if (k.min_te != Timeline::kNothing) return book_each<false>(b, lo, hi, arrival, d, horizon, done);
    refresh(b);
    if (!all_inline(k, arrival, arrival + d)) return book_each<false>(b, lo, hi, arrival, d, horizon, done);
  }
  Timeline* const lane = m_lanes.data();
  Tick mx = Timeline::kNothing;  // these lanes' greatest m_te (the transfer's end is theirs, not the block's)
  for (std::uint64_t l = lo; l < hi; ++l) mx = std::max(mx, lane[l].m_te += d);
  k.max_te = std::max(k.max_te, mx);
  return std::max(done, mx + k.lazy);
}

void LaneBank::go_plain() {
  for (std::uint64_t b = 0; b < m_blocks.size(); ++b) {
    if (m_blocks[b].lazy != 0) push(b);
    m_blocks[b].min_te = Timeline::kNothing;
  }
  m_plain = true;
  m_score = -kProbe;
}

Tick LaneBank::book(std::uint64_t from, std::uint64_t count, Tick arrival, Tick d, Tick horizon, Tick done) {
  Timeline* const lane = m_lanes.data();
  const std::uint64_t n = m_lanes.size(), end = from + count;
  if (m_plain) {
    if (++m_score < 0) return book_lanes<false>(lane + from, lane + end, arrival, d, horizon, done);
    m_plain = false;  // try the blocks again (their bounds read from the lanes on first use)
  }
  Block* const blk = m_blocks.data();
  const std::uint64_t touched = (end - 1) / kBlock - from / kBlock + 1;  // blocks
  if (lane[from].after_gap(arrival - blk[from / kBlock].lazy)) {
    // Idle lanes (a compute-bound GEMM's channels): the per-lane loop with the bookings after a gap inline,
    // on the lanes' own state; the blocks' bounds are read again when a transfer next finds them loaded.
    for (std::uint64_t k = from / kBlock; k * kBlock < end; ++k) {
      if (blk[k].lazy != 0) push(k);
      blk[k].min_te = Timeline::kNothing;
    }
    if ((m_score -= static_cast<std::int64_t>(touched)) < 0) go_plain();
    return book_idle_lanes<false>(lane + from, lane + end, arrival, d, horizon, done);
  }
  m_score = std::min(m_score + static_cast<std::int64_t>(touched), kScoreMax);  // book_each() takes kSlow off
  // Blocks [fb, eb) lie inside the lanes; a part of a block before and after them.
  const std::uint64_t fb = (from + kBlock - 1) / kBlock, eb = end == n ? m_blocks.size() : end / kBlock;
  if (fb >= eb) {  // no whole block: parts of one or two
    for (std::uint64_t lo = from; lo < end;) {
      const std::uint64_t hi = std::min(end, block_end(lo / kBlock));
      done = book_part(lo / kBlock, lo, hi, arrival, d, horizon, done);
      lo = hi;
    }
  } else {
    if (from < fb * kBlock) done = book_part(from / kBlock, from, fb * kBlock, arrival, d, horizon, done);
    const Tick arrival_end = arrival + d;
    for (std::uint64_t b = fb; b < eb; ++b) {  // the whole blocks: an inline booking writes `lazy` only
      Block& k = blk[b];
      if (all_inline(k, arrival, arrival_end)) {
        k.lazy += d;
        done = std::max(done, k.max_te + k.lazy);
      } else {
        done = book_block(b, arrival, d, horizon, done);
      }
    }
    if (eb * kBlock < end) done = book_part(eb, eb * kBlock, end, arrival, d, horizon, done);
  }
  if (m_score < 0) go_plain();
  return done;
}

Tick reserve_interleaved(LaneBank& lanes, std::uint64_t first, std::uint64_t bytes, std::uint64_t chunks,
                         double lane_bw, Tick arrival, Tick horizon, InterleavedDurations* memo, RunBusy& busy) {
  InterleavedDurations local;
  const InterleavedDurations& times = interleaved_durations(memo, local, lanes.size(), bytes, chunks, lane_bw);
  return book_runs<false>(
      lanes.size(), first, times, arrival, busy.diff(),
      [&](std::uint64_t from, std::uint64_t count, Tick d, Tick done) {
        return lanes.book(from, count, arrival, d, horizon, done);
      },
      [](std::uint64_t, std::uint64_t, Tick) {});
}

namespace {
// Lanes of [a, b) inside the cyclic range of `len` lanes from `first` over `n` lanes.
std::uint64_t cyclic_overlap(std::uint64_t a, std::uint64_t b, std::uint64_t first, std::uint64_t len,
                             std::uint64_t n) {
  auto linear = [&](std::uint64_t s, std::uint64_t e) { return std::max(a, s) < std::min(b, e) ? std::min(b, e) - std::max(a, s) : 0; };
  if (first + len <= n) return linear(first, first + len);
  return linear(first, n) + linear(0, first + len - n);
}
}  // namespace

namespace {
// The service time of a group's piece of a transfer and the time its busiest lane takes (`skip`:
// the transfer has no granule in the group).
struct GroupPiece {
  Tick d, lane;
  bool skip;
};
GroupPiece group_piece(std::uint64_t a, std::uint64_t b, std::uint64_t first, std::uint64_t lanes, const GranuleSpread& sp,
                       double lane_bw) {
  const std::uint64_t more = cyclic_overlap(a, b, first, sp.extra, lanes);
  const std::uint64_t granules = sp.per * (b - a) + more;
  if (granules == 0) return {0, 0, true};
  return {transfer_ticks(sp.bytes_per_chunk * static_cast<double>(granules), lane_bw * static_cast<double>(b - a)),
          sp.lane_dur[more > 0 ? 1 : 0], false};
}
}  // namespace

GranuleSpread::GranuleSpread(std::uint64_t bytes, std::uint64_t chunks, std::uint64_t lanes, double lane_bw)
    : per(chunks / lanes), extra(chunks % lanes), bytes_per_chunk(static_cast<double>(bytes) / static_cast<double>(chunks)) {
  lane_dur[0] = transfer_ticks(bytes_per_chunk * static_cast<double>(per), lane_bw);
  lane_dur[1] = transfer_ticks(bytes_per_chunk * static_cast<double>(per + 1), lane_bw);
}

GroupedDurations::Size& GroupedDurations::lookup(std::uint64_t lanes, std::uint64_t group, double lane_bw,
                                                 std::uint64_t bytes, std::uint64_t chunks) {
  if (lanes != m_lanes || group != m_group || lane_bw != m_bw) {  // another bank: forget everything
    for (Size& e : m_sizes) e.chunks = 0;
    m_lanes = lanes, m_group = group, m_bw = lane_bw;
  }
  const size_t h = static_cast<size_t>(((bytes * 0x9e3779b97f4a7c15ull) ^ chunks) * 0xff51afd7ed558ccdull >> 60);
  Size* set = &m_sizes[kWays * h];
  ++m_clock;
  for (size_t w = 0; w < kWays; ++w)
    if (set[w].chunks == chunks && set[w].bytes == bytes) {
      set[w].used = m_clock;
      note(static_cast<size_t>(&set[w] - m_sizes));
      return set[w];
    }
  static_assert(kWays == 2, "the older of two entries is replaced");
  Size& e = set[0].used <= set[1].used ? set[0] : set[1];
  note(static_cast<size_t>(&e - m_sizes));
  e.used = m_clock;
  e.bytes = bytes, e.chunks = chunks;
  e.spread = GranuleSpread(bytes, chunks, lanes, lane_bw);
  e.groups = (lanes + group - 1) / group;
  // The rows of the previous size are dropped by a new generation, not by clearing them (decode steps
  // stream many sizes through the few entries).
  e.rows.resize(lanes * e.groups * 2);
  e.built.resize(lanes, 0);
  if (++e.generation == 0) {
    std::fill(e.built.begin(), e.built.end(), 0);
    e.generation = 1;
  }
  return e;
}

const Tick* GroupedDurations::build_row(Size& e, std::uint64_t first) const {
  Tick* r = &e.rows[first * e.groups * 2];
  e.built[first] = e.generation;
  for (std::uint64_t g = 0, a = 0; a < m_lanes; ++g, a += m_group) {
    const GroupPiece p = group_piece(a, std::min(m_lanes, a + m_group), first, m_lanes, e.spread, m_bw);
    r[2 * g] = p.skip ? kSkip : p.d;
    r[2 * g + 1] = p.lane;
  }
  return r;
}

Tick reserve_grouped(std::vector<Timeline>& groups, std::uint64_t lanes, std::uint64_t group, std::uint64_t first,
                     std::uint64_t bytes, std::uint64_t chunks, double lane_bw, Tick arrival, Tick horizon,
                     GroupedDurations* memo) {
  Tick done = arrival;
  // Each group's piece as group_piece() gives it, kept per (size, first lane) where the table is small.
  if (GroupedDurations::Size* const zp = memo ? memo->size(lanes, group, lane_bw, bytes, chunks) : nullptr) {
    GroupedDurations::Size& z = *zp;
    const Tick* r = memo->row(z, first);
    // The calendars' and the row's bounds in locals: a booking writes through a Timeline, which the
    // compiler cannot tell apart from the vectors, so it reloaded both every group.
    Timeline* const cal = groups.data();
    const size_t count = z.groups;
    for (size_t g = 0; g < count; ++g, r += 2) {
      if (r[0] == GroupedDurations::kSkip) continue;
      const Tick end = cal[g].reserve(arrival, r[0], horizon);
      done = std::max(done, end - r[0] + r[1]);
    }
    return done;
  }
  // Lane l takes per + 1 granules when it lies in the `extra` lanes from `first` on, else per.
  const GranuleSpread sp(bytes, chunks, lanes, lane_bw);
  for (std::uint64_t g = 0, a = 0; a < lanes; ++g, a += group) {
    const GroupPiece p = group_piece(a, std::min(lanes, a + group), first, lanes, sp, lane_bw);
    if (p.skip) continue;
    const Tick end = groups[g].reserve(arrival, p.d, horizon);
    done = std::max(done, end - p.d + p.lane);
  }
  return done;
}

Tick reserve_bank(Timeline& bank, std::uint64_t lanes, std::uint64_t bytes, std::uint64_t touched, double lane_bw,
                  Tick arrival, Tick horizon) {
  const double b = static_cast<double>(bytes);
  const Tick bank_end = bank.reserve(arrival, transfer_ticks(b, lane_bw * static_cast<double>(lanes)), horizon);
  return std::max(bank_end, arrival + transfer_ticks(b, lane_bw * static_cast<double>(std::max<std::uint64_t>(1, touched))));
}

}  // namespace xpu
