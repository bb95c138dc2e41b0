// Booking a bank of lane calendars (see lane_bank.h): a run of lanes tested side by side, first fit per lane.
#include "sim/engine/lane_bank.h"

#include <algorithm>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define XPU_LANE_BANK_AVX2 1
#endif

namespace xpu {

#ifdef XPU_LANE_BANK_AVX2
namespace {
__m256i* at(std::vector<Tick>& v, size_t i) { return reinterpret_cast<__m256i*>(v.data() + i); }
}  // namespace
#endif

LaneBank::LaneBank(size_t lanes)
    : m_ts(lanes, 0), m_te(lanes, 0), m_gate(lanes, Timeline().gate()), m_busy(lanes, 0), m_cal(lanes) {}

// The lane's Timeline takes the booking with the lane's last interval loaded, and hands it back.
Tick LaneBank::book(size_t lane, Tick arrival, Tick duration, Tick horizon) {
  Timeline& c = m_cal[lane];
  c.m_ts = m_ts[lane];
  c.m_te = m_te[lane];
  const Tick end = c.book(arrival, duration, horizon);
  m_ts[lane] = c.m_ts;
  m_te[lane] = c.m_te;
  m_gate[lane] = c.gate();
  return end;
}

Tick LaneBank::run_scalar(size_t from, size_t end, Tick arrival, Tick duration, Tick horizon, Tick done) {
  for (size_t l = from; l < end; ++l) done = std::max(done, reserve(l, arrival, duration, horizon));
  return done;
}

#ifdef XPU_LANE_BANK_AVX2
// Four lanes per step: the inline path's test as three compares, the lanes that pass booked by adding
// the duration to their end, the others (untouched) booked one by one through book(). Each lane is
// booked once per run, so the order does not matter; only the latest end is returned.
__attribute__((target("avx2"))) Tick LaneBank::run_avx2(size_t from, size_t end, Tick arrival, Tick duration,
                                                          Tick horizon, Tick done) {
  const __m256i a = _mm256_set1_epi64x(arrival), ad = _mm256_set1_epi64x(arrival + duration),
                d = _mm256_set1_epi64x(duration);
  __m256i latest = _mm256_set1_epi64x(done);
  size_t l = from;
  for (; l + 4 <= end; l += 4) {
    __m256i te = _mm256_loadu_si256(at(m_te, l));
    const __m256i ts = _mm256_loadu_si256(at(m_ts, l)), gate = _mm256_loadu_si256(at(m_gate, l));
    // arrival < te, arrival + duration > ts, and not gate > arrival
    const __m256i fast = _mm256_andnot_si256(
        _mm256_cmpgt_epi64(gate, a), _mm256_and_si256(_mm256_cmpgt_epi64(te, a), _mm256_cmpgt_epi64(ad, ts)));
    te = _mm256_add_epi64(te, _mm256_and_si256(fast, d));
    _mm256_storeu_si256(at(m_te, l), te);
    _mm256_storeu_si256(at(m_busy, l), _mm256_add_epi64(_mm256_loadu_si256(at(m_busy, l)), d));
    const __m256i ends = _mm256_blendv_epi8(a, te, fast);
    latest = _mm256_blendv_epi8(latest, ends, _mm256_cmpgt_epi64(ends, latest));
    for (unsigned slow = ~static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(fast))) & 0xfu; slow != 0;
         slow &= slow - 1)
      done = std::max(done, book(l + static_cast<size_t>(__builtin_ctz(slow)), arrival, duration, horizon));
  }
  alignas(32) Tick four[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(four), latest);
  done = std::max({done, four[0], four[1], four[2], four[3]});
  return run_scalar(l, end, arrival, duration, horizon, done);
}
#else
Tick LaneBank::run_avx2(size_t from, size_t end, Tick arrival, Tick duration, Tick horizon, Tick done) {
  return run_scalar(from, end, arrival, duration, horizon, done);
}
#endif

Tick LaneBank::reserve_run(size_t from, size_t count, Tick arrival, Tick duration, Tick horizon, Tick done) {
#ifdef XPU_LANE_BANK_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2");
  // A non-positive duration books nothing (reserve() returns the arrival); the vector path assumes one.
  if (avx2 && duration > 0 && count >= 4) return run_avx2(from, from + count, arrival, duration, horizon, done);
#endif
  return run_scalar(from, from + count, arrival, duration, horizon, done);
}

Tick reserve_interleaved(LaneBank& lanes, std::uint64_t first, std::uint64_t bytes, std::uint64_t chunks,
                         double lane_bw, Tick arrival, Tick horizon) {
  const std::uint64_t n = lanes.size();
  const std::uint64_t per = chunks / n, extra = chunks % n;
  const double bytes_per_chunk = static_cast<double>(bytes) / static_cast<double>(chunks);
  const Tick dur_more = transfer_ticks(bytes_per_chunk * static_cast<double>(per + 1), lane_bw);
  const Tick dur = transfer_ticks(bytes_per_chunk * static_cast<double>(per), lane_bw);
  Tick done = arrival;
  const std::uint64_t touched = std::min(chunks, n);
  // The lanes from `first` on (cyclically) in runs of one duration over contiguous lanes: the first
  // `extra` lanes take dur_more, the others dur.
  auto book_run = [&](std::uint64_t from, std::uint64_t count, Tick d) {
    while (count > 0) {
      const std::uint64_t seg = std::min(count, n - from);
      done = lanes.reserve_run(from, seg, arrival, d, horizon, done);
      count -= seg;
      from = 0;
    }
  };
  book_run(first, extra, dur_more);  // extra < n and extra <= touched
  const std::uint64_t rest = first + extra;
  book_run(rest >= n ? rest - n : rest, touched - extra, dur);
  return done;
}

}  // namespace xpu
