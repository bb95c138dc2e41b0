// Attention on Maia, one task per tile looping over its work items (placed cluster by cluster so
// every NoC port carries a share). An item is one (sequence, KV head) with the group's query heads
// (GQA: K/V tiles are loaded once and used by every query head of the group) and
//   prefill: a pair of 128-query tiles, i and n-1-i, so that causal items have equal work;
//   decode:  the group's heads x seq_q queries stacked as the rows of one pass, and one split of the
//            KV sequence when there are fewer (sequence, KV head) units than tiles (a combine kernel
//            merges the splits' fp32 partial outputs with their max and sum).
// Per visible KV tile (128 keys for prefill, 512 for decode; tiles entirely above the causal diagonal
// or before the sliding window are skipped; diagonal tiles pay a mask pass):
//   tile DMA ch.1  K and V tile HBM -> TSRAM (4 buffers; a load waits for the TTU op that freed it)
//   TTU            S = Q K^T per head, in the TTU format (FP8; BF16 converted or refused per
//                  lowering.bf16_matmul, as GEMM)
//   TVP            online softmax in fp32: scale, mask, row max, exp on the SFU (one per score),
//                  row sum, P rounded to the TTU format
//   TTU            O_j = P V per head (one tile behind, so the TTU computes S(j+1) while the TVP runs
//                  the softmax of j)
//   TVP            O = O * exp(m_old - m_new) + O_j
// and at the end O / l, stored by the tile DMA write channel. When that working set exceeds TSRAM the
// kernel re-tiles over the sequence as flash kernels do (smaller KV tiles, query blocks, fewer passes
// per item, then 2 buffers: choose_tiling), so a smaller TSRAM costs time, never the kernel. The SFU's exp is the usual bound of
// prefill; decode is bound by the KV stream from HBM. Not modelled: functional mode, paged-KV page
// gathers (a KV tile is one strided DMA).
#include "kernels/attention/maia.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "kernels/common/decode_layout.h"
#include "kernels/maia_builders.h"
#include "kernels/maia_lowerings.h"

namespace xpu::maia {

namespace {

constexpr int kMaxBuffers = 4;

// Passes of `rows_per_pass` query rows per q tile, q tiles per item, KV splits, and passes processed
// together (`pass_chunk`: when all of them do not fit TSRAM, an item takes a chunk of the passes and
// K/V are read once per chunk).
struct Geometry {
  std::int64_t rows_per_pass = 0, passes = 0, q_tiles = 0, q_per_item = 0, splits = 1, pass_chunk = 0;
  std::int64_t chunks() const { return ceil_div(passes, pass_chunk); }
};

// Prefill: one pass per query head over 128-query tiles; causal items pair tile i with n-1-i (equal
// causal work).
Geometry prefill_geometry(const OpSpec& op, std::int64_t group, std::int64_t bq) {
  Geometry g;
  g.rows_per_pass = std::min<std::int64_t>(bq, op.seq_q);
  g.passes = group;
  g.q_tiles = ceil_div(op.seq_q, bq);
  g.q_per_item = op.causal && g.q_tiles > 1 ? 2 : 1;
  g.pass_chunk = g.passes;
  return g;
}

// Decode: the group's heads x seq_q queries stacked as the rows of the passes, and the KV sequence
// split when there are fewer (sequence, KV head) units than tiles.
Geometry decode_geometry(const OpSpec& op, std::int64_t bq, std::int64_t kv_tiles, int T) {
  const DecodeLayout l = decode_layout(op, bq, kv_tiles, T);
  return {l.rows_per_pass, l.passes, 1, 1, l.splits, l.passes};
}

// What every tile's task needs (immutable, captured by the tasks).
struct AttnJob {
  OpSpec o;
  MatmulFormat f;
  Geometry g;
  TensorRef Q, K, V, O, Pt;
  double a = 0, w = 0, eo = 0, fa = 0, fw = 0, tsram = 0;
  std::int64_t d = 0, dv = 0, group = 0, bkv = 0, bq = 128, kv_tiles = 0, q_items = 0, units = 0, tiles_per_split = 0,
               items = 0;
  int T = 0, buffers = kMaxBuffers;
  bool partial = false;
};

// One q tile of one KV split: its query rows, the positions of its first and last query, and the KV
// tiles it sees [lo, hi] (none when hi < lo): the split's tiles, less those entirely above the causal
// diagonal or before the sliding window. The builder (TileWork::q_tile) and the estimate
// (q_tile_cycles) both walk this span, so the estimate that chooses the tiling costs what is built.
struct QTileSpan {
  std::int64_t rows = 0, qfirst = 0, qlast = 0, lo = 0, hi = -1;
};

QTileSpan q_tile_span(const AttnJob& j, std::int64_t qt, std::int64_t split) {
  const OpSpec& o = j.o;
  QTileSpan q;
  q.rows = o.decode ? j.g.rows_per_pass : std::min<std::int64_t>(j.bq, o.seq_q - qt * j.bq);
  q.qfirst = o.seq_kv - o.seq_q + (o.decode ? 0 : qt * j.bq);
  q.qlast = o.decode ? o.seq_kv - 1 : q.qfirst + q.rows - 1;
  q.lo = split * j.tiles_per_split;
  q.hi = std::min(j.kv_tiles, q.lo + j.tiles_per_split) - 1;
  if (o.causal) q.hi = std::min(q.hi, q.qlast / j.bkv);
  if (o.window > 0) q.lo = std::max(q.lo, std::max<std::int64_t>(0, q.qfirst - o.window + 1) / j.bkv);
  return q;
}

// The instruction streams of one tile: its work items one after another, K/V tiles in `kBuffers`
// rotating TSRAM buffers.
class TileWork {
 public:
  TileWork(const AttnJob& j, Task& task) : m_j(j), m_task(task) {}

  void item(std::int64_t it) {
    const std::int64_t chunk = it % m_j.g.chunks(), rest = it / m_j.g.chunks();
    const std::int64_t split = rest % m_j.g.splits, unit = rest / m_j.g.splits;
    const std::int64_t qi = unit % m_j.q_items, bh = unit / m_j.q_items;  // bh = b * kv_heads + kvh
    m_p0 = chunk * m_j.g.pass_chunk;
    m_p1 = std::min(m_j.g.passes, m_p0 + m_j.g.pass_chunk);
    for (std::int64_t qq = 0; qq < m_j.g.q_per_item; ++qq) {
      const std::int64_t qt = qq == 0 ? qi : m_j.g.q_tiles - 1 - qi;
      if (qq == 1 && qt == qi) break;  // odd count: the middle tile is alone
      q_tile(bh, qt, split);
    }
  }

 private:
  struct Pending {
    bool valid = false;
    std::int64_t kw = 0;
    size_t slot = 0;
    std::uint32_t iv = kNoDep;
    std::vector<std::uint32_t> sm;
  };

  std::uint32_t add(const Instr& in) { return m_task.add(in); }

  void q_tile(std::int64_t bh, std::int64_t qt, std::int64_t split) {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    const std::int64_t passes = m_p1 - m_p0, bq = j.bq;
    const QTileSpan span = q_tile_span(j, qt, split);
    const std::int64_t rows = m_rows = span.rows, qfirst = span.qfirst, qlast = span.qlast;
    // Q of every pass (the group's heads), converted to the TTU format when needed. TSRAM holds one Q
    // (and one TTU-format copy, set_geometry): the load overwrites the buffer that the previous q
    // tile's last QK^T (or, with a conversion, its conversion) read, so it waits for that op.
    const std::uint32_t q_load = add(after(
        stream(TxKind::DmaRead, kTdma,
               j.Q.addr + static_cast<std::uint64_t>((((bh * j.group) * o.seq_q + qt * bq) * j.d + m_p0 * rows * j.d) * j.a),
               passes * rows * j.d * j.a, passes * rows, o.dtype),
        j.f.convert_act ? m_iq : m_q_last_s));
    m_iq = j.f.convert_act ? add(after(tvp(passes * rows, j.d, 1, 0, j.a + j.fa), q_load, m_q_last_s)) : q_load;
    m_acc.assign(static_cast<size_t>(passes), kNoDep);
    Pending pend;
    for (std::int64_t jt = span.lo; jt <= span.hi; ++jt) {
      const std::int64_t k0 = jt * j.bkv, kw = std::min<std::int64_t>(j.bkv, o.seq_kv - k0);
      const bool masked = (o.causal && k0 + kw - 1 > qfirst) || (o.window > 0 && k0 < qlast - o.window + 1);
      Pending cur = kv_tile(bh, k0, kw, masked);
      stage_pv(pend);
      pend = cur;
    }
    stage_pv(pend);
    store(bh, qt, split);
  }

  // K and V of one KV tile, S = Q K^T per pass on the TTU, and the online softmax on the TVP: scale,
  // (mask), max, subtract, exp (SFU), sum, round P to the TTU format. P V waits one tile (Pending).
  Pending kv_tile(std::int64_t bh, std::int64_t k0, std::int64_t kw, bool masked) {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    const size_t slot = static_cast<size_t>(m_nload++ % j.buffers);
    std::uint32_t ik = add(after(stream(TxKind::DmaRead, kTdma1, j.K.addr + static_cast<std::uint64_t>((bh * o.seq_kv + k0) * j.d * j.w),
                                        kw * j.d * j.w, kw, o.wdtype),
                                 m_k_free[slot]));
    std::uint32_t iv = add(after(stream(TxKind::DmaRead, kTdma1, j.V.addr + static_cast<std::uint64_t>((bh * o.seq_kv + k0) * j.dv * j.w),
                                        kw * j.dv * j.w, kw, o.wdtype),
                                 m_v_free[slot]));
    if (j.f.convert_wt) {
      ik = add(after(tvp(kw, j.d, 1, 0, j.w + j.fw), ik));
      iv = add(after(tvp(kw, j.dv, 1, 0, j.w + j.fw), iv));
    }
    Pending cur;
    cur.valid = true, cur.kw = kw, cur.slot = slot, cur.iv = iv;
    std::uint32_t last_s = kNoDep;
    std::vector<std::uint32_t> s_mm;
    for (std::int64_t h = m_p0; h < m_p1; ++h) s_mm.push_back(last_s = add(after(ttu(m_rows, kw, j.d, j.f.rate, j.fa, j.fw), m_iq, ik)));
    m_k_free[slot] = m_q_last_s = last_s;
    for (size_t h = 0; h < s_mm.size(); ++h)
      cur.sm.push_back(add(after(tvp(m_rows, kw, masked ? 6 : 5, 1, 4 + 4 + j.fa), s_mm[h])));
    return cur;
  }

  // O_j = P V on the TTU, then O = O * alpha + O_j on the TVP.
  void stage_pv(Pending& p) {
    if (!p.valid) return;
    std::uint32_t last = kNoDep;
    for (size_t hi = 0; hi < p.sm.size(); ++hi) {
      last = add(after(ttu(m_rows, m_j.dv, p.kw, m_j.f.rate, m_j.fa, m_j.fw), p.sm[hi], p.iv));
      m_acc[hi] = add(after(tvp(m_rows, m_j.dv, 2, 0, 12), last, m_acc[hi]));
    }
    m_v_free[p.slot] = last;
    p.valid = false;
  }

  // O / l and the store: the output, or fp32 partials with the max and sum for the combine.
  void store(std::int64_t bh, std::int64_t qt, std::int64_t split) {
    const AttnJob& j = m_j;
    const bool partial = j.partial;
    for (std::int64_t h = m_p0; h < m_p1; ++h) {
      const std::uint32_t nm = add(after(tvp(m_rows, j.dv, 1, 0, 4 + (partial ? 4 : j.eo)), m_acc[static_cast<size_t>(h - m_p0)]));
      const double eb = partial ? 4.0 : j.eo;
      const std::int64_t row0 = ((bh * j.g.passes + h) * j.g.q_tiles + qt) * j.bq;
      const std::uint64_t addr = partial ? j.Pt.addr + static_cast<std::uint64_t>((split * j.units * j.g.passes * j.bq + row0) * (j.dv + 2) * 4)
                                         : j.O.addr + static_cast<std::uint64_t>(row0 * j.dv * j.eo);
      add(after(stream(TxKind::DmaWrite, kTdmaWr, addr, m_rows * (j.dv * eb + (partial ? 8 : 0)), m_rows,
                       partial ? DType::fp32 : j.o.odtype),
                nm));
    }
  }

  const AttnJob& m_j;
  Task& m_task;
  std::vector<std::uint32_t> m_k_free = std::vector<std::uint32_t>(kMaxBuffers, kNoDep), m_v_free = m_k_free, m_acc;
  std::int64_t m_nload = 0, m_rows = 0, m_p0 = 0, m_p1 = 0;
  std::uint32_t m_iq = kNoDep;
  std::uint32_t m_q_last_s = kNoDep;  // the last QK^T that read the Q buffer
};

// Merge of the decode splits per (sequence, KV head) on the TVP.
Program combine(const AttnJob& j) {
  const std::int64_t rows_total = j.g.rows_per_pass * j.g.passes, splits = j.g.splits, dv = j.dv;
  const TensorRef Pt = j.Pt, O = j.O;
  const double eo = j.eo;
  const DType od = j.o.odtype;
  auto make = [=](std::uint64_t index, Task& task) {
    const std::int64_t u = static_cast<std::int64_t>(index);
    std::uint32_t i = task.add(stream(TxKind::DmaRead, kTdma, Pt.addr + static_cast<std::uint64_t>(u * rows_total * (dv + 2) * 4),
                                      splits * rows_total * (dv + 2) * 4.0, rows_total, DType::fp32));
    i = task.add(after(tvp(rows_total, splits, 2, 1, 8), i));       // global max, weights exp(m_s - m)
    i = task.add(after(tvp(rows_total, splits * dv, 2, 0, 4), i));  // weighted sum of the partial outputs
    task.add(after(stream(TxKind::DmaWrite, kTdmaWr, O.addr + static_cast<std::uint64_t>(u * rows_total * dv * eo),
                          rows_total * dv * eo, rows_total, od),
                   i));
  };
  return build::helper_program("attention.combine", j.o,
                               "merge " + std::to_string(splits) + " KV splits per (sequence, KV head) on the TVP",
                               static_cast<std::uint64_t>(j.units), make);
}

// Fills the geometry of query block `bq`, KV tile `bkv`, `buffers` K/V buffers and `chunk` passes
// per item; returns the TSRAM it needs: Q of the passes (and its TTU-format copy), the scores of each
// pass (fp32), the O accumulators (fp32, with the rescale's copy) and the K/V buffers. A decode
// splits the KV sequence into at most `max_splits` parts (the layout's count where it is fewer).
double set_geometry(AttnJob& j, std::int64_t bq, std::int64_t bkv, int buffers, std::int64_t chunk, std::int64_t max_splits) {
  const OpSpec& op = j.o;
  j.bq = bq, j.bkv = bkv, j.buffers = buffers;
  j.kv_tiles = ceil_div(op.seq_kv, j.bkv);
  j.g = op.decode ? decode_geometry(op, j.bq, j.kv_tiles, j.T) : prefill_geometry(op, j.group, j.bq);
  j.g.splits = std::max<std::int64_t>(1, std::min(j.g.splits, max_splits));
  j.g.pass_chunk = std::min(chunk, j.g.passes);
  j.q_items = ceil_div(j.g.q_tiles, j.g.q_per_item);
  j.units = op.batch * op.kv_heads * j.q_items;
  j.tiles_per_split = ceil_div(j.kv_tiles, j.g.splits);
  j.items = j.units * j.g.splits * j.g.chunks();
  j.partial = j.g.splits > 1;
  j.tsram = j.g.pass_chunk * j.g.rows_per_pass * (j.d * (j.a + j.fa) + j.dv * 8.0 + j.bkv * 4.0) +
            j.buffers * j.bkv * (j.d + j.dv) * (j.w + j.fw);
  return j.tsram;
}

// Tiles that read the same K/V tile at once: the items of one (sequence, KV head, split), placed on
// consecutive tiles, at most all of them.
double kv_sharers(const AttnJob& j) { return double(std::min<std::int64_t>({j.T, j.items, j.q_items * j.g.chunks()})); }

// Bytes per cycle one tile's DMA moves while every active tile (one per item, at most all) streams
// at once: its share of HBM, of its cluster's NoC port or its DMA port, whichever is least. `kv`: a
// K/V load, which the tiles working on the same (sequence, KV head, split) issue together, so that
// the NoC multicasts one HBM read to all of them (MaiaMemory): HBM carries it once for them all.
double tile_share(const AttnJob& j, const MaiaSpec& s, bool kv = false) {
  const double active = double(std::min<std::int64_t>(j.T, j.items));
  const double per_cluster = std::min<double>(s.cluster.tiles, std::ceil(active / s.cluster.count));
  const double sharers = kv ? kv_sharers(j) : 1.0;
  return std::min({double(s.tile.dma_bytes_per_clk), s.cluster.noc_bytes_per_clk / per_cluster,
                   s.hbm_stream_bw() / s.clock.value() / active * sharers});
}

// Cycles of one query tile of `rows` rows against one KV tile of `kw` keys for `passes` passes: the
// TTU (S = Q K^T and P V, partial 16 x R x 16 blocks whole, plus the fill of each op), the TVP
// (softmax, exp on the SFU, the rescale of O, TSRAM traffic) and the K and V load (at the tile's
// share, tile_share) overlap as the pipeline does, so the slowest of the three, and no faster than
// `buffers` loads in flight deliver them past the HBM latency; with `drain`, the compute of the
// q tile's last KV tile alone, which nothing of that q tile overlaps.
double kv_step_cycles(const AttnJob& j, const MaiaSpec& s, std::int64_t rows, std::int64_t kw, std::int64_t passes,
                      bool drain = false) {
  const double R = std::max(1, s.ttu_depth(j.f.rate)), r16 = std::ceil(double(rows) / s.ttu.rows);
  const double fill = s.ttu.fill_cycles, fp32 = s.tvp.flops_fp32, port = s.tile.tsram_bytes_per_clk;
  const double ttu = r16 * std::ceil(double(kw) / s.ttu.cols) * std::ceil(double(j.d) / R) + fill +
                     r16 * std::ceil(double(j.dv) / s.ttu.cols) * std::ceil(double(kw) / R) + fill;
  const double sc = double(rows) * kw, o = double(rows) * j.dv;
  const double tvp = std::max({sc * 5 / fp32, sc / s.tvp.sfu_ops_per_clk, sc * (8 + j.fa) / port}) +
                     std::max(o * 2 / fp32, o * 12 / port);
  const double dma = double(kw) * (j.d + j.dv) * j.w / tile_share(j, s, true) + 2 * s.tile.dma_issue_cycles;
  const double conv = j.f.convert_wt ? double(kw) * (j.d + j.dv) * std::max(1.0 / fp32, (j.w + j.fw) / port) : 0;
  if (drain) return std::max(passes * ttu, passes * tvp + conv);
  // `buffers` loads in flight: a step takes at least a load's latency and transfer over that many.
  const double in_flight = (s.hbm.latency.value() * s.clock.value() + dma) / j.buffers;
  return std::max({passes * ttu, passes * tvp + conv, dma, in_flight});
}

// What one q tile adds to its task (cycles): its KV steps, and the q tile boundaries. TSRAM holds
// one Q, so a q tile's Q load (HBM latency, its bytes at the tile's share) and its conversion to the
// TTU format start after the previous q tile's last QK^T; they overlap that tile's drain (the
// compute of its last KV tile), `steps` counts the larger of the two. The task's first q tile has
// no drain to hide behind and loads its first K/V tile at once (`first`: its Q, that K/V and the
// conversion in full, instead); the task's last one stores its O after its drain (`last`).
struct QTileCycles {
  double steps = 0, first = 0, last = 0, bytes = 0, kv_bytes = 0;
};

QTileCycles q_tile_cycles(const AttnJob& j, const MaiaSpec& s, std::int64_t qt, std::int64_t split, std::int64_t passes) {
  const OpSpec& o = j.o;
  QTileCycles q;
  const QTileSpan span = q_tile_span(j, qt, split);
  const std::int64_t rows = span.rows, lo = span.lo, hi = span.hi;
  for (std::int64_t jt = lo; jt <= hi; ++jt) {  // full tiles cost the same: count them once
    const std::int64_t kw = std::min<std::int64_t>(j.bkv, o.seq_kv - jt * j.bkv);
    if (kw == j.bkv && jt < hi) {
      const std::int64_t full = std::min(hi, (o.seq_kv / j.bkv) - 1) - jt + 1;
      q.steps += double(full) * kv_step_cycles(j, s, rows, kw, passes);
      q.kv_bytes += double(full) * kw * (j.d + j.dv) * j.w;
      jt += full - 1;
      continue;
    }
    q.steps += kv_step_cycles(j, s, rows, kw, passes);
    q.kv_bytes += double(kw) * (j.d + j.dv) * j.w;
  }
  const double share = tile_share(j, s), lat = s.hbm.latency.value() * s.clock.value();
  const double qb = double(passes) * rows * j.d * j.a, ob = double(passes) * rows * (j.dv * (j.partial ? 4.0 : j.eo) + (j.partial ? 8 : 0));
  const double qconv = j.f.convert_act ? double(passes) * rows * j.d *
                                             std::max(1.0 / s.tvp.flops_fp32, (j.a + j.fa) / s.tile.tsram_bytes_per_clk)
                                       : 0;
  const double qload = lat + qb / share + s.tile.dma_issue_cycles + qconv;
  q.bytes += qb + ob;
  if (hi < lo) return q;  // nothing visible: only the Q load and the store
  const std::int64_t kw = std::min<std::int64_t>(j.bkv, o.seq_kv);
  const double step = kv_step_cycles(j, s, rows, kw, passes), drain = kv_step_cycles(j, s, rows, kw, passes, true);
  q.steps += std::max(drain, qload) - step;
  q.first = lat + qb / share + kw * (j.d + j.dv) * j.w / tile_share(j, s, true) + 2 * s.tile.dma_issue_cycles + qconv;
  q.last = drain - std::max(drain, qload) + lat + ob / share + s.tile.dma_issue_cycles;
  return q;
}

// The merge of a split decode (combine, a launch of its own): per (sequence, KV head), the splits'
// partial outputs loaded past the HBM latency at a tile's share, weighted and summed on the TVP, the
// output stored; the units dealt over the tiles. 0 without splits.
double merge_estimate(const AttnJob& j, const MaiaSpec& s) {
  if (j.g.splits <= 1) return 0;
  const double rows = double(j.g.rows_per_pass * j.g.passes), lat = s.hbm.latency.value() * s.clock.value();
  const double share = std::min<double>(s.tile.dma_bytes_per_clk, s.hbm_stream_bw() / s.clock.value() /
                                                                      double(std::min<std::int64_t>(j.T, j.units)));
  const double unit = s.tile.task_start_cycles + 2 * lat + rows * (j.g.splits * (j.dv + 2) * 4.0 + j.dv * j.eo) / share +
                      rows * j.g.splits * (j.dv + 1) * 2.0 / s.tvp.flops_fp32;
  return s.launch_overhead.value() + double(ceil_div(j.units, std::int64_t{j.T})) * unit / s.clock.value();
}

// The model's own estimate of tiling j (seconds): every item's q tiles (q_tile_cycles) summed per
// tile as the tasks take items (round robin), the busiest tile; at least the HBM stream of all bytes.
double estimate(const AttnJob& j, const MaiaSpec& s) {
  const OpSpec& o = j.o;
  const double clk = s.clock.value();
  const size_t n = static_cast<size_t>(j.q_items * j.g.splits * j.g.chunks());
  std::vector<double> item_c(n), first_c(n), last_c(n);
  double bytes = 0;  // HBM bytes: K/V once for the tiles that read them together (tile_share)
  const double sharers = kv_sharers(j);
  for (std::int64_t qi = 0; qi < j.q_items; ++qi)
    for (std::int64_t split = 0; split < j.g.splits; ++split)
      for (std::int64_t c = 0; c < j.g.chunks(); ++c) {
        const std::int64_t passes = std::min(j.g.passes, (c + 1) * j.g.pass_chunk) - c * j.g.pass_chunk;
        const size_t k = static_cast<size_t>((qi * j.g.splits + split) * j.g.chunks() + c);
        for (std::int64_t qq = 0; qq < j.g.q_per_item; ++qq) {
          const std::int64_t qt = qq == 0 ? qi : j.g.q_tiles - 1 - qi;
          if (qq == 1 && qt == qi) break;
          const QTileCycles q = q_tile_cycles(j, s, qt, split, passes);
          item_c[k] += q.steps;
          if (qq == 0) first_c[k] = q.first;
          last_c[k] = q.last;
          bytes += q.bytes + q.kv_bytes / sharers;
        }
      }
  std::vector<double> tile_c(static_cast<size_t>(j.T), 0.0);
  for (std::int64_t it = 0; it < j.items; ++it) {
    const std::int64_t c = it % j.g.chunks(), rest = it / j.g.chunks(), split = rest % j.g.splits;
    const std::int64_t qi = (rest / j.g.splits) % j.q_items;
    const size_t k = static_cast<size_t>((qi * j.g.splits + split) * j.g.chunks() + c);
    tile_c[static_cast<size_t>(it % j.T)] += item_c[k] + (it < j.T ? first_c[k] : 0) + (it + j.T >= j.items ? last_c[k] : 0);
  }
  const double busiest = *std::max_element(tile_c.begin(), tile_c.end()) / clk;
  return std::max(busiest, bytes * double(o.batch * o.kv_heads) / s.hbm_stream_bw()) + s.tile.task_start_cycles / clk;
}

// Re-tiles over the sequence, as flash kernels do, until the working set fits TSRAM: the KV tile
// (512 keys for decode, 128 for prefill, down to 64), the query block (128 rows down to the TTU's
// 16), the passes processed together (K/V then read once per chunk of passes), the smallest KV tiles
// and 2 buffers. Of the tilings that fit, the one the estimate above finds fastest is kept (within 1%,
// the smallest working set). Choosing by the estimate rather than by
// the first that fits keeps more TSRAM from picking a tiling that is slower than one a smaller TSRAM
// picks (a query block of 128 with KV tiles of 64 rescales O twice as often as 64 x 128). Returns
// false when nothing fits (j.tsram: the smallest need).
bool choose_tiling(AttnJob& j, double tsram, int ttu_dim, const MaiaSpec& spec) {
  const std::int64_t base_kv = j.o.decode ? 512 : 128, min_tile = std::max(16, ttu_dim);
  struct Cand {
    std::int64_t bq, bkv, chunk;
    int buffers;
    std::int64_t splits;
  };
  // A decode splits its KV sequence over the tiles that (sequence, KV head) pairs leave idle, or into
  // fewer parts (halving down to none): every split adds partial outputs and a merge launch, which the
  // estimate weighs against the idle tiles' share of the stream (more tiles must not buy a slower split).
  std::vector<std::int64_t> splits = {std::int64_t{1} << 40};
  if (j.o.decode)
    for (std::int64_t sp = ceil_div(std::int64_t{j.T}, j.o.batch * j.o.kv_heads) / 2; sp >= 1; sp /= 2) splits.push_back(sp);
  std::vector<Cand> order;
  for (std::int64_t sp : splits) {
    for (std::int64_t chunk : {std::int64_t{1} << 40, std::int64_t{64}, std::int64_t{16}, std::int64_t{4}, std::int64_t{1}})
      for (std::int64_t bq = 128; bq >= min_tile; bq /= 2)
        for (std::int64_t bkv = base_kv; bkv >= std::min<std::int64_t>(64, base_kv); bkv /= 2)
          order.push_back({bq, bkv, chunk, kMaxBuffers, sp});
    for (std::int64_t bkv = 32; bkv >= min_tile; bkv /= 2)
      for (int buffers : {kMaxBuffers, 2}) order.push_back({min_tile, bkv, 1, buffers, sp});
  }
  struct Fit {
    const Cand* c;
    double est, need, merge;  // the kernel's estimate, its TSRAM, the estimate of its splits' merge
  };
  std::vector<std::vector<Fit>> fits(splits.size());  // per split count, in the order of `splits`
  for (const Cand& c : order) {
    const double need = set_geometry(j, c.bq, c.bkv, c.buffers, c.chunk, c.splits);
    if (need > tsram) continue;
    const size_t g = static_cast<size_t>(std::find(splits.begin(), splits.end(), c.splits) - splits.begin());
    fits[g].push_back({&c, estimate(j, spec), need, merge_estimate(j, spec)});
  }
  // Within 1% of the fastest estimate, the smallest working set (then the first in order): a tiling a
  // smaller TSRAM could also hold wins a near-tie, so more TSRAM changes the pick only for a clear gain.
  auto pick_of = [](const std::vector<Fit>& fs) {
    const Fit* pick = nullptr;
    double best_s = 0;
    for (size_t i = 0; i < fs.size(); ++i)
      if (i == 0 || fs[i].est < best_s) best_s = fs[i].est;
    for (const Fit& f : fs)
      if (f.est <= best_s * 1.01 && (!pick || f.need < pick->need)) pick = &f;
    return pick;
  };
  // The layout's split, unless fewer splits are estimated faster, merge included, by more than that 1%.
  const Fit* pick = pick_of(fits[0]);
  for (size_t g = 1; g < fits.size(); ++g) {
    const Fit* p = pick_of(fits[g]);
    if (p && (!pick || p->est + p->merge < (pick->est + pick->merge) * 0.99)) pick = p;
  }
  if (!pick) return false;
  const Cand* best = pick->c;
  set_geometry(j, best->bq, best->bkv, best->buffers, best->chunk, best->splits);
  return true;
}

std::string strategy(const AttnJob& j) {
  std::ostringstream s;
  s << (j.o.decode ? "decode" : "prefill") << ": " << j.items << " items over " << j.T << " tiles (" << j.g.rows_per_pass
    << " query rows x " << j.g.passes << (j.o.decode ? " passes" : " heads") << (j.g.q_per_item > 1 ? ", causal q-tile pairs" : "")
    << ", KV tiles of " << j.bkv << " x" << j.buffers << " buffers"
    << (j.g.pass_chunk < j.g.passes ? ", " + std::to_string(j.g.pass_chunk) + " passes per item (TSRAM)" : std::string())
    << (j.partial ? ", KV split " + std::to_string(j.g.splits) : std::string())
    << "), QK^T and PV on the TTU in " << name(j.f.act) << " x " << name(j.f.wt) << ", exp on the TVP";
  if (!j.f.note.empty()) s << "; " << j.f.note;
  return s.str();
}

}  // namespace

KernelPrograms lower_attention(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  op.validate();
  refuse_gpu_impl(spec.name, op);
  refuse_functional(spec.name, op, opt, "Maia");
  AttnJob j;
  j.o = op;
  j.f = matmul_format(op, op.dtype, op.wdtype, spec);
  const std::string label = op.label.empty() ? "attention" : op.label;
  j.Q = opt.ref(label, "Q"), j.K = opt.ref(label, "K"), j.V = opt.ref(label, "V"), j.O = opt.ref(label, "O");
  j.Pt = opt.ref(label, "partials");
  j.a = bytes_per_element(op.dtype), j.w = bytes_per_element(op.wdtype), j.eo = bytes_per_element(op.odtype);
  j.fa = bytes_per_element(j.f.act), j.fw = bytes_per_element(j.f.wt);
  j.d = op.head_dim, j.dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  j.group = op.heads / op.kv_heads;
  j.T = spec.tiles();
  if (!choose_tiling(j, spec.tile.tsram.value(), std::max(spec.ttu.rows, spec.ttu.cols), spec))
    unsupported(spec.name, op, "no attention tiling fits TSRAM (" + format_bytes(spec.tile.tsram.value()) + "): even " +
                                   "one pass of the smallest query and KV tiles with 2 buffers needs " + format_bytes(j.tsram));
  auto build = [j](int chunk, Task& task) {
    task.smem_bytes = static_cast<std::uint32_t>(j.tsram);
    TileWork w(j, task);
    for (std::int64_t it = chunk; it < j.items; it += j.T) w.item(it);
  };
  KernelPrograms out{per_tile_program("attention", op, strategy(j), spec, build)};
  if (j.partial) out.push_back(combine(j));
  return out;
}

}  // namespace xpu::maia
