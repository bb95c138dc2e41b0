// Flash attention on a NeuronCore, laid out as the NKI flash-attention kernel does: Q and K are read
// K-major (q^T [d, seq], k^T [d, seq]) so both feed TensorE with the head dimension on the partitions;
// V is [seq, d]. Per (query tile, KV tile of 512 keys) and head:
//   TensorE  S = Q K^T into one PSUM bank (moving free = 512 keys; d > 128 accumulates in PSUM)
//   VectorE  row max of S (and the causal mask on diagonal tiles); rescale of the running output
//   ScalarE  P = exp(S - max) with the row sum accumulated in the same instruction [NKI-T1]
//   TensorE  P^T by identity-matmul transposes (128 keys each), ScalarE copies them to SBUF
//   TensorE  O += P^T^T V (PSUM), VectorE adds it into the fp32 running output in SBUF
// S for all heads of a GQA group is issued first so TensorE works while the softmax of the previous
// head runs. K/V tiles are double-buffered and shared by the group. Tiles entirely above the causal
// diagonal or before the sliding window are skipped. Decode puts the group's query heads (x seq_q
// tokens) on the partitions of one tile and, when batch x KV heads leaves NeuronCores idle, splits
// the KV sequence over them and merges the partial results (max, sum, output) in a combine kernel.
// transformers-neuronx's decode (OpSpec::impl kTnxImpl) keeps this tiling and runs its token graph's unfused
// softmax ops, one lane-engine pass each over the bucket's scores (tnx_softmax_head/tail below).
#include "kernels/attention/trainium.h"

#include <algorithm>
#include <memory>
#include <sstream>

#include "chips/trainium/isa.h"
#include "kernels/common/decode_layout.h"
#include "kernels/trainium_lowerings.h"

namespace xpu::trainium {

namespace {
constexpr int kKvTile = 512;

// Work item geometry: `passes` head passes of `rows_per_pass` query rows, q tiles, KV splits.
struct Geometry {
  std::int64_t rows_per_pass = 0, passes = 0, q_tiles = 0, splits = 1;
};

// Prefill: one pass per query head of the group over 128-query tiles.
Geometry prefill_geometry(const OpSpec& op, std::int64_t group) {
  return {std::min<std::int64_t>(kPartitions, op.seq_q), group, ceil_div(op.seq_q, kPartitions), 1};
}

// Decode: the group's query heads x seq_q tokens on the partitions, and the KV sequence split over
// the NeuronCores when batch x KV heads leaves some idle.
Geometry decode_geometry(const OpSpec& op, std::int64_t kv_tiles, int cores) {
  const DecodeLayout l = decode_layout(op, kPartitions, kv_tiles, cores);
  return {l.rows_per_pass, l.passes, 1, l.splits};
}

// transformers-neuronx's token graph (Neuron 2.18, transformers-neuronx 0.10; layers/attention.py score(),
// mask(), context() @ aws-neuron/transformers-neuronx 032046b5) attends as unfused HLO over the whole token
// bucket: the scores of the cached keys [sequences, heads, 1, keys] in the cache dtype, then
//   masked_select(mask, S, -30000)  cast to f32  reduce_max  subtract   (VectorE)    exp   (ScalarE)
//   reduce_sum                      cast back to the values' dtype      (VectorE)    before P V.
// Each op is a pass of its lane engine over the tile (as the materialized prefill chain,
// trainium_materialized.cpp); the dot_general's batch dimensions (sequences x heads of the core) are the
// rows on the partitions and the keys the free axis that the reductions run along, so a pass costs the keys
// whatever the heads (a lane engine's cost follows the free size). The engine of each op is the compiler's
// and not published: reductions, select, subtract and the casts on VectorE, exp on ScalarE (the activation
// engine) is this lowering's assumption, as for the prefill chain. The flash kernel instead reads S from PSUM
// once for the max and once for exp with the sum accumulated (2 passes on 2 engines, against 6 on VectorE here).
bool tnx_token_graph(const OpSpec& op) { return op.decode && op.impl == kTnxImpl; }

// The passes before P exists (select ... exp), after the scores' matmul `s`; returns the exp.
std::uint32_t tnx_softmax_head(Task& t, int rows, std::int64_t kw, DType sd, std::uint32_t s) {
  std::uint32_t x = t.add(with_deps(lane(kVector, rows, kw, 2, sd, 1), s));  // select: the scores and the mask
  x = t.add(with_deps(lane(kVector, rows, kw, 1, DType::fp32, 0), x));      // cast to f32
  x = t.add(with_deps(lane(kVector, rows, kw, 1, DType::fp32, 1), x));      // reduce_max
  x = t.add(with_deps(lane(kVector, rows, kw, 1, DType::fp32, 1), x));      // subtract the max
  return t.add(with_deps(lane(kScalar, rows, kw, 1, DType::fp32, 1), x));   // exp
}

// The passes after exp: reduce_sum and the cast of P to the values' dtype (what P V reads); returns the cast.
std::uint32_t tnx_softmax_tail(Task& t, int rows, std::int64_t kw, DType vd, std::uint32_t ex) {
  t.add(with_deps(lane(kVector, rows, kw, 1, DType::fp32, 1), ex));       // reduce_sum (the final divide's)
  return t.add(with_deps(lane(kVector, rows, kw, 1, vd, 0), ex));         // cast
}

// What every core's streams need (immutable, captured by the tasks).
struct AttnJob {
  OpSpec o;
  Geometry g;
  TensorRef Q, K, V, O, P;
  double a = 0, w = 0, eo = 0;
  DType mmd = DType::bf16;
  std::int64_t d = 0, dv = 0, dk = 0, kv_tiles = 0, units = 0, tiles_per_split = 0, items = 0;
  int cores = 0, buffers = 0, banks = 0;
  std::int64_t pack = 1;  // decode: work items whose query rows share the partitions (PackedDecode)
  std::int64_t tiles_per_load = 1;  // PackedDecode: KV tiles per K/V DMA
};

// One core's engine streams over its work items. Per visible KV tile: stage A (loads, S = Q K^T for
// every head pass) and stage B (mask, max, exp) are emitted for tile j, then stage C (P^T transposes,
// PV, accumulate) for the previous tile, so that TensorE computes S(j) while the Vector/Scalar
// engines run the softmax of j and the engines' in-order streams overlap (one tile of lag).
class CoreStreams {
 public:
  CoreStreams(const AttnJob& j, Task& task)
      : m_j(j), m_task(task), m_k_last(static_cast<size_t>(j.buffers), kNoDep), m_v_last(m_k_last),
        m_bank_free(static_cast<size_t>(j.banks), kNoDep) {}

  void item(std::int64_t it) {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    const std::int64_t split = it % j.g.splits, unit = it / j.g.splits;
    const std::int64_t qt = unit % j.g.q_tiles, bh = unit / j.g.q_tiles;  // bh = b * kv_heads + kvh
    m_rows = o.decode ? j.g.rows_per_pass : std::min<std::int64_t>(kPartitions, o.seq_q - qt * kPartitions);
    const std::int64_t qpos0 = o.seq_kv - o.seq_q + qt * kPartitions;       // first query position
    const std::int64_t qpos1 = o.decode ? o.seq_kv - 1 : qpos0 + m_rows - 1;  // last query position
    const std::int64_t qfirst = o.decode ? o.seq_kv - o.seq_q : qpos0;
    // Q^T per head pass.
    m_qload.assign(static_cast<size_t>(j.g.passes), kNoDep);
    for (std::int64_t h = 0; h < j.g.passes; ++h)
      m_qload[static_cast<size_t>(h)] = add(dma(TxKind::DmaRead, j.Q.addr + static_cast<std::uint64_t>(((bh * j.g.passes + h) * o.seq_q + qt * kPartitions) * j.d * j.a),
                                                static_cast<std::uint64_t>(j.d * m_rows * j.a),
                                                static_cast<std::uint32_t>(std::min<std::int64_t>(j.d, kPartitions)), o.dtype));
    m_oacc.assign(static_cast<size_t>(j.g.passes), kNoDep);
    Pending pend;
    const bool lag = j.buffers >= 2;
    const std::int64_t j0 = split * j.tiles_per_split, j1 = std::min(j.kv_tiles, j0 + j.tiles_per_split);
    bool first = true;
    for (std::int64_t jt = j0; jt < j1; ++jt) {
      const std::int64_t k0 = jt * kKvTile, kw = std::min<std::int64_t>(kKvTile, o.seq_kv - k0);
      if (o.causal && k0 > qpos1) continue;                                  // entirely above the diagonal
      if (o.window > 0 && k0 + kw - 1 < qfirst - o.window + 1) continue;      // entirely before the window
      const bool diagonal = (o.causal && k0 + kw - 1 > qfirst) || (o.window > 0 && k0 < qpos1 - o.window + 1);
      Pending cur = stages_ab(bh, k0, kw, diagonal, first);
      first = false;
      if (lag) stage_c(pend);
      else stage_c(cur);
      pend = cur;
      if (!lag) pend.valid = false;
    }
    stage_c(pend);
    store(it);
  }

 private:
  struct Pending {
    bool valid = false, first = false;
    std::int64_t kw = 0;
    size_t slot = 0;
    std::uint32_t iv = kNoDep;
    std::vector<std::uint32_t> ex;
  };

  std::uint32_t add(const Instr& in) { return m_task.add(in); }

  // Stage A: K^T and V of the tile, S = Q K^T for every head pass (TensorE runs ahead of the
  // softmax); stage B: mask (diagonal tiles), row max, exp with the row sum accumulated.
  Pending stages_ab(std::int64_t bh, std::int64_t k0, std::int64_t kw, bool diagonal, bool first) {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    const size_t slot = static_cast<size_t>(m_chunk_no++ % j.buffers);
    const std::uint32_t ik = add(with_deps(dma(TxKind::DmaRead, j.K.addr + static_cast<std::uint64_t>((bh * j.d * o.seq_kv + k0) * j.w),
                                               static_cast<std::uint64_t>(j.d * kw * j.w),
                                               static_cast<std::uint32_t>(std::min<std::int64_t>(j.d, kPartitions)), o.wdtype),
                                           m_k_last[slot]));
    const std::uint32_t iv = add(with_deps(dma(TxKind::DmaRead, j.V.addr + static_cast<std::uint64_t>((bh * o.seq_kv + k0) * j.dv * j.w),
                                               static_cast<std::uint64_t>(kw * j.dv * j.w),
                                               static_cast<std::uint32_t>(std::min<std::int64_t>(kw, kPartitions)), o.wdtype),
                                           m_v_last[slot]));
    const int r = static_cast<int>(m_rows);
    std::vector<std::uint32_t> s_mm(static_cast<size_t>(j.g.passes));
    for (std::int64_t h = 0; h < j.g.passes; ++h) {
      const size_t bk = static_cast<size_t>(h % (j.banks / 2));
      std::uint32_t last = kNoDep;
      for (std::int64_t c = 0; c < j.dk; ++c) {
        const int kd = static_cast<int>(std::min<std::int64_t>(kPartitions, j.d - c * kPartitions));
        const Instr mm = matmul(r, static_cast<int>(kw), kd, j.mmd, static_cast<std::uint64_t>(2 * m_rows * kw * kd));
        last = add(with_deps(mm, m_qload[static_cast<size_t>(h)], ik, c == 0 ? m_bank_free[bk] : kNoDep));
      }
      s_mm[static_cast<size_t>(h)] = last;
      m_k_last[slot] = last;
    }
    Pending cur{true, first, kw, slot, iv, {}};
    for (std::int64_t h = 0; h < j.g.passes; ++h) {
      std::uint32_t prev = s_mm[static_cast<size_t>(h)], ex = kNoDep;
      if (tnx_token_graph(o)) {
        ex = tnx_softmax_head(m_task, r, kw, o.wdtype, prev);
      } else {
        if (diagonal) prev = add(with_deps(lane(kVector, r, kw, 1, DType::fp32, 1), prev));
        const std::uint32_t mx = add(with_deps(lane(kVector, r, kw, 1, DType::fp32, 1), prev));
        ex = add(with_deps(lane(kScalar, r, kw, 1, DType::fp32, 3), mx));
      }
      m_bank_free[static_cast<size_t>(h % (j.banks / 2))] = ex;
      cur.ex.push_back(ex);
    }
    return cur;
  }

  // Stage C: rescale the running output by exp(old max - new max); P^T by TensorE transposes (128
  // keys each, through PSUM), copied to SBUF by VectorE; O_tile = P V accumulated over the key chunks
  // in one PSUM bank, added to the running output.
  void stage_c(Pending& p) {
    if (!p.valid) return;
    const AttnJob& j = m_j;
    const int r = static_cast<int>(m_rows);
    const std::int64_t kchunks = ceil_div(p.kw, kPartitions);
    if (tnx_token_graph(j.o))  // the token graph's passes after exp, one tile behind (VectorE runs the next tile's first)
      for (auto& ex : p.ex) ex = tnx_softmax_tail(m_task, r, p.kw, j.o.wdtype, ex);
    std::uint32_t last_pv = kNoDep;
    for (std::int64_t h = 0; h < j.g.passes; ++h) {
      const size_t hi = static_cast<size_t>(h);
      std::uint32_t rs = kNoDep;
      if (!p.first) rs = add(with_deps(lane(kVector, r, j.dv, 1, DType::fp32, 1), p.ex[hi], m_oacc[hi]));
      const size_t tb = static_cast<size_t>(j.banks / 2 + static_cast<int>(h % 2));
      std::uint32_t tr = kNoDep;
      for (std::int64_t c = 0; c < kchunks; ++c) {
        const int kc = static_cast<int>(std::min<std::int64_t>(kPartitions, p.kw - c * kPartitions));
        tr = add(with_deps(matmul(kc, r, r, j.mmd, 0), p.ex[hi], c == 0 ? m_bank_free[tb] : kNoDep));
      }
      const std::uint32_t cp = add(with_deps(lane(kVector, kPartitions, kchunks * m_rows, 1, j.o.dtype, 0), tr));
      m_bank_free[tb] = cp;
      const size_t ob = static_cast<size_t>(j.banks / 2 + 2 + static_cast<int>(h % 2));
      std::uint32_t pv = kNoDep;
      for (std::int64_t c = 0; c < kchunks; ++c) {
        const int kc = static_cast<int>(std::min<std::int64_t>(kPartitions, p.kw - c * kPartitions));
        pv = add(with_deps(matmul(r, static_cast<int>(j.dv), kc, j.mmd, static_cast<std::uint64_t>(2 * m_rows * j.dv * kc)), cp, p.iv,
                           c == 0 ? m_bank_free[ob] : kNoDep));
      }
      last_pv = pv;
      const std::uint32_t sum = add(with_deps(lane(kVector, r, j.dv, 2, DType::fp32, 1), pv, rs, m_oacc[hi]));
      m_bank_free[ob] = sum;
      m_oacc[hi] = sum;
    }
    m_v_last[p.slot] = last_pv;
    p.valid = false;
  }

  // Normalise by the row sums and store (the output, or fp32 partials with max and sum to combine).
  void store(std::int64_t it) {
    const AttnJob& j = m_j;
    const bool partial = j.g.splits > 1;
    const int r = static_cast<int>(m_rows);
    for (std::int64_t h = 0; h < j.g.passes; ++h) {
      const std::uint32_t nm = add(with_deps(lane(kVector, r, j.dv, 1, DType::fp32, 1), m_oacc[static_cast<size_t>(h)]));
      const double eb = partial ? 4.0 : j.eo;
      const std::uint64_t bytes = static_cast<std::uint64_t>(m_rows * (j.dv * eb + (partial ? 8 : 0)));
      const TensorRef& dst = partial ? j.P : j.O;
      add(with_deps(dma(TxKind::DmaWrite, dst.addr + static_cast<std::uint64_t>(((it * j.g.passes + h) * kPartitions) * j.dv * eb), bytes,
                        static_cast<std::uint32_t>(r), partial ? DType::fp32 : j.o.odtype),
                    nm));
    }
  }

  const AttnJob& m_j;
  Task& m_task;
  std::vector<std::uint32_t> m_k_last, m_v_last, m_bank_free, m_qload, m_oacc;
  std::int64_t m_chunk_no = 0, m_rows = 0;
};

// Decode with few query rows per item (the group's heads x seq_q, one pass): the rows of `pack` work
// items share the 128 partitions, as NKI token-generation kernels pack heads and sequences, so that
// the lane engines (whose cost follows the free size, whatever the partitions used) run the softmax of
// all of them in one instruction. TensorE computes each item's S = Q K^T with Q^T as stationary
// columns placed at the item's partitions (zero elsewhere, accumulated into one PSUM tile), transposes
// P once per 128 keys for the whole pack, and O^T = V^T P^T per item with V stationary (the few query
// rows move), so the accumulators hold O^T [dv, pack x rows]. Softmax of tile j overlaps S(j+1) (one
// tile of lag, as CoreStreams).
class PackedDecode {
 public:
  PackedDecode(const AttnJob& j, Task& task, std::vector<std::int64_t> items)
      : m_j(j), m_task(task), m_items(std::move(items)), m_k_last(static_cast<size_t>(j.buffers), kNoDep), m_v_last(m_k_last) {}

  void run() {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    const std::int64_t r = j.g.rows_per_pass, n = static_cast<std::int64_t>(m_items.size());
    m_rows = static_cast<int>(r * n);
    for (std::int64_t i = 0; i < n; ++i)
      m_q.push_back(add(dma(TxKind::DmaRead, j.Q.addr + static_cast<std::uint64_t>(unit(i) * o.seq_q * j.d * j.a * r),
                            static_cast<std::uint64_t>(j.d * r * j.a), static_cast<std::uint32_t>(std::min<std::int64_t>(j.d, kPartitions)),
                            o.dtype)));
    Tile pend;
    for (std::int64_t t = 0; t < j.tiles_per_split; t += j.tiles_per_load) {
      Tile cur = scores(t);
      if (!cur.valid) break;
      pv(pend);
      pend = cur;
    }
    pv(pend);
    store();
  }

 private:
  struct Tile {
    bool valid = false;
    std::int64_t kw = 0;
    size_t slot = 0;
    std::uint32_t ex = kNoDep;
    std::vector<std::uint32_t> v;
  };
  std::uint32_t add(const Instr& in) { return m_task.add(in); }
  std::int64_t unit(std::int64_t i) const { return m_items[static_cast<size_t>(i)] / m_j.g.splits; }
  std::int64_t split(std::int64_t i) const { return m_items[static_cast<size_t>(i)] % m_j.g.splits; }

  // K and V of tiles [t, t + tiles_per_load) of every packed item (one DMA each: fewer, larger
  // transfers), S for all of them (one PSUM tile per 512 keys), the row max and exp.
  Tile scores(std::int64_t t) {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    const std::int64_t jt = split(0) * j.tiles_per_split + t;
    if (jt >= j.kv_tiles) return {};
    const std::int64_t tend = std::min({j.kv_tiles, jt + j.tiles_per_load, (split(0) + 1) * j.tiles_per_split});
    const std::int64_t k0 = jt * kKvTile, kw = std::min<std::int64_t>(tend * kKvTile, o.seq_kv) - k0;
    Tile cur{true, kw, static_cast<size_t>(m_tile_no++ % j.buffers), kNoDep, {}};
    std::uint32_t s = kNoDep;
    for (size_t i = 0; i < m_items.size(); ++i) {
      const std::int64_t bh = unit(static_cast<std::int64_t>(i)), kt = split(static_cast<std::int64_t>(i)) * j.tiles_per_split + t;
      const std::int64_t kk0 = std::min(kt, j.kv_tiles - 1) * kKvTile;
      const std::uint32_t ik = add(with_deps(dma(TxKind::DmaRead, j.K.addr + static_cast<std::uint64_t>((bh * j.d * o.seq_kv + kk0) * j.w),
                                                 static_cast<std::uint64_t>(j.d * kw * j.w),
                                                 static_cast<std::uint32_t>(std::min<std::int64_t>(j.d, kPartitions)), o.wdtype),
                                             m_k_last[cur.slot]));
      cur.v.push_back(add(with_deps(dma(TxKind::DmaRead, j.V.addr + static_cast<std::uint64_t>((bh * o.seq_kv + kk0) * j.dv * j.w),
                                        static_cast<std::uint64_t>(kw * j.dv * j.w),
                                        static_cast<std::uint32_t>(std::min<std::int64_t>(kw, kPartitions)), o.wdtype),
                                    m_v_last[cur.slot])));
      for (std::int64_t s0 = 0; s0 < kw; s0 += kKvTile)
        for (std::int64_t c = 0; c < j.dk; ++c) {
          const int kd = static_cast<int>(std::min<std::int64_t>(kPartitions, j.d - c * kPartitions));
          const int sw = static_cast<int>(std::min<std::int64_t>(kKvTile, kw - s0));
          s = add(with_deps(matmul(m_rows, sw, kd, j.mmd, static_cast<std::uint64_t>(2 * j.g.rows_per_pass * sw * kd)), m_q[i], ik,
                            i == 0 && c == 0 && s0 == 0 ? m_s_free : kNoDep));
        }
    }
    m_k_last[cur.slot] = s;
    if (tnx_token_graph(o)) {
      cur.ex = m_s_free = tnx_softmax_head(m_task, m_rows, kw, o.wdtype, s);
      return cur;
    }
    const bool diagonal = o.causal && k0 + kw > o.seq_kv - o.seq_q;
    if (diagonal) s = add(with_deps(lane(kVector, m_rows, kw, 1, DType::fp32, 1), s));
    const std::uint32_t mx = add(with_deps(lane(kVector, m_rows, kw, 1, DType::fp32, 1), s));
    cur.ex = m_s_free = add(with_deps(lane(kScalar, m_rows, kw, 1, DType::fp32, 3), mx));
    return cur;
  }

  // P^T by TensorE transposes (all packed rows at once), O^T += V^T P^T per item, the rescale and add.
  void pv(Tile& p) {
    if (!p.valid) return;
    const AttnJob& j = m_j;
    const int r = static_cast<int>(j.g.rows_per_pass);
    const std::int64_t kchunks = ceil_div(p.kw, kPartitions), dvc = ceil_div(j.dv, kPartitions);
    if (tnx_token_graph(j.o)) p.ex = tnx_softmax_tail(m_task, m_rows, p.kw, j.o.wdtype, p.ex);
    std::uint32_t tr = kNoDep;
    for (std::int64_t c = 0; c < kchunks; ++c) {
      const int kc = static_cast<int>(std::min<std::int64_t>(kPartitions, p.kw - c * kPartitions));
      tr = add(with_deps(matmul(kc, m_rows, m_rows, j.mmd, 0), p.ex, c == 0 ? m_t_free : kNoDep));
    }
    const std::uint32_t cp = m_t_free = add(with_deps(lane(kVector, kPartitions, kchunks * m_rows, 1, j.o.dtype, 0), tr));
    const std::uint32_t rs = add(with_deps(lane(kVector, static_cast<int>(std::min<std::int64_t>(j.dv, kPartitions)), dvc * m_rows, 1,
                                                DType::fp32, 1),
                                           p.ex, m_acc));
    std::uint32_t last = kNoDep;
    for (size_t i = 0; i < m_items.size(); ++i)
      for (std::int64_t c = 0; c < kchunks; ++c)
        for (std::int64_t e = 0; e < dvc; ++e) {
          const int kc = static_cast<int>(std::min<std::int64_t>(kPartitions, p.kw - c * kPartitions));
          const int dvp = static_cast<int>(std::min<std::int64_t>(kPartitions, j.dv - e * kPartitions));
          last = add(with_deps(matmul(dvp, r, kc, j.mmd, static_cast<std::uint64_t>(2 * r * dvp * kc)), cp, p.v[i],
                               i == 0 && c == 0 && e == 0 ? m_acc : kNoDep));
        }
    m_v_last[p.slot] = last;
    m_acc = add(with_deps(lane(kVector, static_cast<int>(std::min<std::int64_t>(j.dv, kPartitions)), dvc * m_rows, 2, DType::fp32, 1),
                          last, rs));
    p.valid = false;
  }

  // O / l, then per item the output (or its fp32 partial with max and sum), transposed by the DMA.
  void store() {
    const AttnJob& j = m_j;
    const bool partial = j.g.splits > 1;
    const std::uint32_t nm =
        add(with_deps(lane(kVector, static_cast<int>(std::min<std::int64_t>(j.dv, kPartitions)), ceil_div(j.dv, kPartitions) * m_rows, 1,
                           DType::fp32, 1),
                      m_acc));
    const double eb = partial ? 4.0 : j.eo;
    const std::int64_t r = j.g.rows_per_pass;
    for (size_t i = 0; i < m_items.size(); ++i) {
      const std::int64_t it = m_items[i];
      const TensorRef& dst = partial ? j.P : j.O;
      add(with_deps(dma(TxKind::DmaWrite, dst.addr + static_cast<std::uint64_t>(it * kPartitions * j.dv * eb),
                        static_cast<std::uint64_t>(r * (j.dv * eb + (partial ? 8 : 0))),
                        static_cast<std::uint32_t>(std::min<std::int64_t>(j.dv, kPartitions)), partial ? DType::fp32 : j.o.odtype),
                    nm));
    }
  }

  const AttnJob& m_j;
  Task& m_task;
  std::vector<std::int64_t> m_items;
  std::vector<std::uint32_t> m_k_last, m_v_last, m_q;
  std::uint32_t m_s_free = kNoDep, m_t_free = kNoDep, m_acc = kNoDep;
  std::int64_t m_tile_no = 0;
  int m_rows = 0;
};

// Merge of the decode splits' partial results (max, sum, output).
Program combine(const AttnJob& j, const TrainiumSpec& spec) {
  const std::int64_t rows_total = j.g.rows_per_pass * j.g.passes, splits = j.g.splits, dv = j.dv, passes = j.g.passes;
  const std::int64_t units = j.units;
  const int cores = j.cores;
  const TensorRef P = j.P, O = j.O;
  const double eo = j.eo;
  const DType od = j.o.odtype;
  auto comb = [=](int core, Task& task) {
    for (std::int64_t u = core; u < units; u += cores) {
      const int r = static_cast<int>(std::min<std::int64_t>(kPartitions, rows_total));
      std::uint32_t i = task.add(dma(TxKind::DmaRead, P.addr + static_cast<std::uint64_t>(u * splits * rows_total * (dv + 2) * 4),
                                     static_cast<std::uint64_t>(splits * rows_total * (dv + 2) * 4), static_cast<std::uint32_t>(r),
                                     DType::fp32));
      i = task.add(with_deps(lane(kVector, r, splits, 1, DType::fp32, 1), i));                // global max
      i = task.add(with_deps(lane(kScalar, r, splits, 1, DType::fp32, 3), i));                // weights exp(m_s - m)
      i = task.add(with_deps(lane(kVector, r, splits * dv * passes, 2, DType::fp32, 2), i));  // weighted sum
      task.add(with_deps(dma(TxKind::DmaWrite, O.addr + static_cast<std::uint64_t>(u * rows_total * dv * eo),
                             static_cast<std::uint64_t>(rows_total * dv * eo), static_cast<std::uint32_t>(r), od),
                         i));
    }
  };
  Program c = per_core_program("attention.combine", j.o, "merge " + std::to_string(splits) + " KV splits", spec, comb);
  c.roofline = {0, 0};
  return c;
}

}  // namespace

KernelPrograms lower_attention(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  op.validate();
  refuse_functional(spec.name, op, opt, "Trainium");  // (the materialized kernel too)
  if (op.impl != kTnxImpl) refuse_gpu_impl(spec.name, op);
  for (DType d : {op.dtype, op.wdtype})
    if (spec.cols_per_cycle(d) <= 0)
      unsupported(spec.name, op, std::string("the NeuronCore-") + spec.neuroncore + " Tensor Engine has no " + name(d) +
                                     " matmul path");
  if (runs_materialized(op, spec)) return lower_materialized_attention(op, spec, opt);
  AttnJob j;
  j.o = op;
  j.d = op.head_dim, j.dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  if (j.dv > kMaxMovingFree)
    unsupported(spec.name, op, "head_dim_v above 512 does not fit one PSUM bank per output tile");
  const std::string label = op.label.empty() ? "attention" : op.label;
  j.Q = opt.ref(label, "Q"), j.K = opt.ref(label, "K"), j.V = opt.ref(label, "V"), j.O = opt.ref(label, "O");
  j.P = opt.ref(label, "partials");
  j.a = bytes_per_element(op.dtype), j.w = bytes_per_element(op.wdtype), j.eo = bytes_per_element(op.odtype);
  j.mmd = bytes_per_element(op.wdtype) > j.a ? op.wdtype : op.dtype;
  const std::int64_t group = op.heads / op.kv_heads;
  j.cores = spec.active_cores();
  j.kv_tiles = ceil_div(op.seq_kv, kKvTile);
  j.g = op.decode ? decode_geometry(op, j.kv_tiles, j.cores) : prefill_geometry(op, group);
  j.units = op.batch * op.kv_heads * j.g.q_tiles;
  j.tiles_per_split = ceil_div(j.kv_tiles, j.g.splits);
  j.items = j.units * j.g.splits;
  j.buffers = spec.dma_buffers;
  j.banks = spec.psum_banks;
  if (j.banks < 8) unsupported(spec.name, op, "the flash-attention tiling needs 8 PSUM banks (S, P^T and O per head pair)");
  j.dk = ceil_div(j.d, kPartitions);
  if (op.decode && j.g.passes == 1 && op.window == 0) {
    // Items packed on the partitions, as many as fit 128 rows, each core's share and half of SBUF
    // (K^T and V tiles of every packed item, `buffers` deep).
    // Loads of up to 4 tiles (2048 keys) amortize each DMA transfer's fixed cost, while at least 8
    // items still fit and each item still takes `buffers` loads (one load of the whole split leaves
    // its compute nothing to overlap: more SBUF must not buy that).
    for (std::int64_t tl : {4, 2, 1}) {
      if (tl > 1 && tl * j.buffers > j.tiles_per_split) continue;
      const double per_item = j.buffers * tl * (kKvTile * j.w * j.dk + ceil_div(kKvTile, kPartitions) * j.dv * j.w);
      j.tiles_per_load = std::min(tl, j.tiles_per_split);
      j.pack = std::max<std::int64_t>(1, std::min({kPartitions / j.g.rows_per_pass, ceil_div(j.items, j.cores),
                                                   static_cast<std::int64_t>(spec.sbuf_per_partition.value() / 2 / per_item)}));
      if (j.pack >= std::min<std::int64_t>(8, ceil_div(j.items, j.cores))) break;
    }
  }
  auto build = [j](int core, Task& task) {
    if (j.pack > 1) {
      // Consecutive items of the core (same KV split when the sequence is split) share the partitions.
      std::vector<std::int64_t> mine;
      for (std::int64_t it = core; it < j.items; it += j.cores) mine.push_back(it);
      std::stable_sort(mine.begin(), mine.end(), [&](std::int64_t a, std::int64_t b) { return a % j.g.splits < b % j.g.splits; });
      for (size_t i = 0; i < mine.size();) {
        std::vector<std::int64_t> group;
        const std::int64_t sp = mine[i] % j.g.splits;
        while (i < mine.size() && static_cast<std::int64_t>(group.size()) < j.pack && mine[i] % j.g.splits == sp) group.push_back(mine[i++]);
        PackedDecode(j, task, group).run();
      }
      return;
    }
    CoreStreams s(j, task);
    for (std::int64_t it = core; it < j.items; it += j.cores) s.item(it);
  };
  std::ostringstream s;
  s << (op.decode ? "decode" : "prefill") << ": " << j.items << " items (" << j.g.rows_per_pass << " query rows x " << j.g.passes
    << " head passes"
    << (j.pack > 1 ? ", " + std::to_string(j.pack) + " items packed on the partitions, K/V loads of " +
                         std::to_string(j.tiles_per_load * kKvTile) + " keys"
                   : std::string())
    << ", KV tiles of " << kKvTile << (tnx_token_graph(op) ? ", transformers-neuronx token graph: 7 HLO passes over the scores" : "")
    << (j.g.splits > 1 ? ", KV split " + std::to_string(j.g.splits) : std::string())
    << ") over " << j.cores << " NeuronCores";
  KernelPrograms out{per_core_program("attention", op, s.str(), spec, build)};
  if (j.g.splits > 1) out.push_back(combine(j, spec));
  return out;
}

}  // namespace xpu::trainium
