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
// and at the end O / l, stored by the tile DMA write channel. The SFU's exp is the usual bound of
// prefill; decode is bound by the KV stream from HBM. Not modelled: functional mode, paged-KV page
// gathers (a KV tile is one strided DMA).
#include "kernels/attention/maia.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "chips/maia/isa.h"
#include "kernels/maia_lowerings.h"

namespace xpu::maia {

namespace {

constexpr int kBuffers = 4;

Instr dma(TxKind kind, Engine e, std::uint64_t addr, double bytes, std::int64_t rows, DType d) {
  Instr in;
  in.kind = kind;
  in.engine = e;
  in.level = kHbm;
  in.dtype = d;
  in.addr = addr;
  in.bytes = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(bytes));
  in.m = static_cast<std::uint32_t>(std::max<std::int64_t>(1, rows));
  return in;
}

Instr ttu(std::int64_t m, std::int64_t n, std::int64_t k, DType rate, double ea, double eb) {
  Instr in;
  in.kind = TxKind::TileCompute;
  in.engine = kTtu;
  in.dtype = rate;
  in.m = static_cast<std::uint32_t>(m);
  in.n = static_cast<std::uint32_t>(n);
  in.k = static_cast<std::uint32_t>(k);
  in.flops = static_cast<std::uint64_t>(2 * m * n * k);
  in.bytes = static_cast<std::uint64_t>(m * k * ea + k * n * eb);
  return in;
}

// TVP over rows x cols in fp32: `flops_per_elem` lane operations, `sfu` special functions per element.
Instr tvp(std::int64_t rows, std::int64_t cols, double flops_per_elem, int sfu, double bytes_per_elem) {
  Instr in;
  in.kind = TxKind::VectorOp;
  in.engine = kTvp;
  in.dtype = DType::fp32;
  in.m = static_cast<std::uint32_t>(rows);
  in.n = static_cast<std::uint32_t>(cols);
  in.k = static_cast<std::uint32_t>(sfu);
  const double e = static_cast<double>(rows) * cols;
  in.flops = static_cast<std::uint64_t>(flops_per_elem * e);
  in.bytes = static_cast<std::uint64_t>(bytes_per_elem * e);
  return in;
}

Instr dep(Instr in, std::uint32_t a, std::uint32_t b = kNoDep, std::uint32_t c = kNoDep) {
  in.dep[0] = a, in.dep[1] = b, in.dep[2] = c;
  return in;
}

}  // namespace

KernelPrograms lower_attention(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  op.validate();
  if (opt.functional) unsupported(spec.name, op, "functional mode is not modelled by this Maia lowering (timing only)");
  const MatmulFormat f = matmul_format(op, op.dtype, op.wdtype, spec);
  const std::string label = op.label.empty() ? "attention" : op.label;
  const TensorRef Q = opt.ref(label, "Q"), K = opt.ref(label, "K"), V = opt.ref(label, "V"), O = opt.ref(label, "O");
  const TensorRef Pt = opt.ref(label, "partials");
  const double a = bytes_per_element(op.dtype), w = bytes_per_element(op.wdtype), eo = bytes_per_element(op.odtype);
  const double fa = bytes_per_element(f.act), fw = bytes_per_element(f.wt);
  const std::int64_t d = op.head_dim, dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  const std::int64_t group = op.heads / op.kv_heads;
  const int T = spec.tiles(), C = spec.cluster.count, P = spec.cluster.tiles;
  const std::int64_t bkv = op.decode ? 512 : 128, bq = 128;
  const std::int64_t kv_tiles = ceil_div(op.seq_kv, bkv);

  // Passes of `rows` query rows per q tile: prefill one per query head, decode the stacked group.
  std::int64_t rows_per_pass, passes, q_tiles, q_per_item;
  if (op.decode) {
    const std::int64_t stacked = group * op.seq_q;
    rows_per_pass = std::min<std::int64_t>(bq, stacked);
    passes = ceil_div(stacked, bq);
    q_tiles = 1;
    q_per_item = 1;
  } else {
    rows_per_pass = std::min<std::int64_t>(bq, op.seq_q);
    passes = group;
    q_tiles = ceil_div(op.seq_q, bq);
    q_per_item = op.causal && q_tiles > 1 ? 2 : 1;  // pair i with n-1-i (equal causal work)
  }
  const std::int64_t q_items = ceil_div(q_tiles, q_per_item);
  const std::int64_t units = op.batch * op.kv_heads * q_items;
  std::int64_t splits = 1;
  if (op.decode && units < T) splits = std::max<std::int64_t>(1, std::min<std::int64_t>(kv_tiles, ceil_div(T, units)));
  const std::int64_t tiles_per_split = ceil_div(kv_tiles, splits);
  const std::int64_t items = units * splits;
  const bool partial = splits > 1;
  const OpSpec o = op;
  // TSRAM: Q of the passes, K/V buffers, scores of every pass (fp32), O accumulators (fp32).
  const double tsram = passes * rows_per_pass * (d * (a + fa) + dv * 8.0 + bkv * 4.0) + kBuffers * bkv * (d + dv) * (w + fw);
  if (tsram > spec.tile.tsram.value())
    unsupported(spec.name, op, "attention working set (" + format_bytes(tsram) + ") exceeds TSRAM (" +
                                   format_bytes(spec.tile.tsram.value()) + ")");

  Program main;
  main.name = "attention";
  main.op = op.label;
  main.num_tasks = static_cast<std::uint64_t>(T);
  main.static_placement = true;
  main.roofline = {op.flops(), op.min_bytes()};
  main.make_task = [=](std::uint64_t index, Task& task) {
    const int tile = static_cast<int>(index);
    task.place = tile;
    task.smem_bytes = static_cast<std::uint32_t>(tsram);
    const std::int64_t chunk = std::int64_t(tile % P) * C + tile / P;
    std::vector<std::uint32_t> k_free(kBuffers, kNoDep), v_free(kBuffers, kNoDep);
    std::int64_t nload = 0;
    for (std::int64_t it = chunk; it < items; it += T) {
      const std::int64_t split = it % splits, unit = it / splits;
      const std::int64_t qi = unit % q_items, bh = unit / q_items;  // bh = b * kv_heads + kvh
      for (std::int64_t qq = 0; qq < q_per_item; ++qq) {
        const std::int64_t qt = qq == 0 ? qi : q_tiles - 1 - qi;
        if (qq == 1 && qt == qi) break;  // odd count: the middle tile is alone
        const std::int64_t rows = o.decode ? rows_per_pass : std::min<std::int64_t>(bq, o.seq_q - qt * bq);
        const std::int64_t qfirst = o.seq_kv - o.seq_q + (o.decode ? 0 : qt * bq);  // first query position
        const std::int64_t qlast = o.decode ? o.seq_kv - 1 : qfirst + rows - 1;
        // Q of every pass (the group's heads), converted to the TTU format when needed.
        std::uint32_t iq = task.add(dma(TxKind::DmaRead, kTdma,
                                        Q.addr + static_cast<std::uint64_t>(((bh * group) * o.seq_q + qt * bq) * d * a),
                                        passes * rows * d * a, passes * rows, o.dtype));
        if (f.convert_act) iq = task.add(dep(tvp(passes * rows, d, 1, 0, a + fa), iq));
        std::vector<std::uint32_t> acc(static_cast<size_t>(passes), kNoDep);
        struct Pending {
          bool valid = false;
          std::int64_t kw = 0;
          size_t slot = 0;
          std::uint32_t iv = kNoDep;
          std::vector<std::uint32_t> sm;
        } pend;
        // O_j = P V on the TTU, then O = O * alpha + O_j on the TVP.
        auto stage_pv = [&](Pending& p) {
          if (!p.valid) return;
          std::uint32_t last = kNoDep;
          for (std::int64_t h = 0; h < passes; ++h) {
            const size_t hi = static_cast<size_t>(h);
            last = task.add(dep(ttu(rows, dv, p.kw, f.rate, fa, fw), p.sm[hi], p.iv));
            acc[hi] = task.add(dep(tvp(rows, dv, 2, 0, 12), last, acc[hi]));
          }
          v_free[p.slot] = last;
          p.valid = false;
        };
        const std::int64_t j0 = split * tiles_per_split, j1 = std::min(kv_tiles, j0 + tiles_per_split);
        for (std::int64_t j = j0; j < j1; ++j) {
          const std::int64_t k0 = j * bkv, kw = std::min<std::int64_t>(bkv, o.seq_kv - k0);
          if (o.causal && k0 > qlast) continue;                                    // above the diagonal
          if (o.window > 0 && k0 + kw - 1 < qfirst - o.window + 1) continue;        // before the window
          const bool masked = (o.causal && k0 + kw - 1 > qfirst) || (o.window > 0 && k0 < qlast - o.window + 1);
          const size_t slot = static_cast<size_t>(nload++ % kBuffers);
          Instr lk = dma(TxKind::DmaRead, kTdma1, K.addr + static_cast<std::uint64_t>((bh * o.seq_kv + k0) * d * w), kw * d * w,
                         kw, o.wdtype);
          std::uint32_t ik = task.add(dep(lk, k_free[slot]));
          Instr lv = dma(TxKind::DmaRead, kTdma1, V.addr + static_cast<std::uint64_t>((bh * o.seq_kv + k0) * dv * w), kw * dv * w,
                         kw, o.wdtype);
          std::uint32_t iv = task.add(dep(lv, v_free[slot]));
          if (f.convert_wt) {
            ik = task.add(dep(tvp(kw, d, 1, 0, w + fw), ik));
            iv = task.add(dep(tvp(kw, dv, 1, 0, w + fw), iv));
          }
          Pending cur;
          cur.valid = true, cur.kw = kw, cur.slot = slot, cur.iv = iv;
          std::uint32_t last_s = kNoDep;
          std::vector<std::uint32_t> s_mm;
          for (std::int64_t h = 0; h < passes; ++h) s_mm.push_back(last_s = task.add(dep(ttu(rows, kw, d, f.rate, fa, fw), iq, ik)));
          k_free[slot] = last_s;
          // Online softmax: scale, (mask), max, subtract, exp (SFU), sum, round P to the TTU format.
          for (std::int64_t h = 0; h < passes; ++h)
            cur.sm.push_back(task.add(dep(tvp(rows, kw, masked ? 6 : 5, 1, 4 + 4 + fa), s_mm[static_cast<size_t>(h)])));
          stage_pv(pend);
          pend = cur;
        }
        stage_pv(pend);
        // O / l and the store: the output, or fp32 partials with the max and sum for the combine.
        for (std::int64_t h = 0; h < passes; ++h) {
          const std::uint32_t nm = task.add(dep(tvp(rows, dv, 1, 0, 4 + (partial ? 4 : eo)), acc[static_cast<size_t>(h)]));
          const double eb = partial ? 4.0 : eo;
          const std::int64_t row0 = ((bh * passes + h) * q_tiles + qt) * bq;
          const std::uint64_t addr = partial ? Pt.addr + static_cast<std::uint64_t>((split * units * passes * bq + row0) * (dv + 2) * 4)
                                             : O.addr + static_cast<std::uint64_t>(row0 * dv * eo);
          task.add(dep(dma(TxKind::DmaWrite, kTdmaWr, addr, rows * (dv * eb + (partial ? 8 : 0)), rows,
                           partial ? DType::fp32 : o.odtype),
                       nm));
        }
      }
    }
  };
  std::ostringstream s;
  s << (op.decode ? "decode" : "prefill") << ": " << items << " items over " << T << " tiles (" << rows_per_pass
    << " query rows x " << passes << (op.decode ? " passes" : " heads") << (q_per_item > 1 ? ", causal q-tile pairs" : "")
    << ", KV tiles of " << bkv << (partial ? ", KV split " + std::to_string(splits) : std::string())
    << "), QK^T and PV on the TTU in " << name(f.act) << " x " << name(f.wt) << ", exp on the TVP";
  if (!f.note.empty()) s << "; " << f.note;
  main.strategy = s.str();
  KernelPrograms out{main};
  if (partial) {
    const std::int64_t rows_total = rows_per_pass * passes;
    Program c;
    c.name = "attention.combine";
    c.op = op.label;
    c.strategy = "merge " + std::to_string(splits) + " KV splits per (sequence, KV head) on the TVP";
    c.num_tasks = static_cast<std::uint64_t>(units);
    c.roofline = {0, 0};
    c.make_task = [=](std::uint64_t index, Task& task) {
      const std::int64_t u = static_cast<std::int64_t>(index);
      std::uint32_t i = task.add(dma(TxKind::DmaRead, kTdma, Pt.addr + static_cast<std::uint64_t>(u * rows_total * (dv + 2) * 4),
                                     splits * rows_total * (dv + 2) * 4.0, rows_total, DType::fp32));
      i = task.add(dep(tvp(rows_total, splits, 2, 1, 8), i));             // global max, weights exp(m_s - m)
      i = task.add(dep(tvp(rows_total, splits * dv, 2, 0, 4), i));        // weighted sum of the partial outputs
      task.add(dep(dma(TxKind::DmaWrite, kTdmaWr, O.addr + static_cast<std::uint64_t>(u * rows_total * dv * eo), rows_total * dv * eo,
                       rows_total, o.odtype),
                   i));
    };
    out.push_back(c);
  }
  return out;
}

}  // namespace xpu::maia
