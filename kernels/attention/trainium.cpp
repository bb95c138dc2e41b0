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
#include "kernels/attention/trainium.h"

#include <algorithm>
#include <memory>
#include <sstream>

#include "chips/trainium/isa.h"
#include "kernels/trainium_lowerings.h"

namespace xpu::trainium {

namespace {
constexpr int kKvTile = 512;
}

KernelPrograms lower_attention(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  op.validate();
  for (DType d : {op.dtype, op.wdtype})
    if (spec.cols_per_cycle(d) <= 0)
      unsupported(spec.name, op, std::string("the NeuronCore-") + spec.neuroncore + " Tensor Engine has no " + name(d) +
                                     " matmul path");
  const std::int64_t d = op.head_dim, dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  if (dv > kMaxMovingFree)
    unsupported(spec.name, op, "head_dim_v above 512 does not fit one PSUM bank per output tile");
  const std::string label = op.label.empty() ? "attention" : op.label;
  const TensorRef Q = opt.ref(label, "Q"), Kc = opt.ref(label, "K"), V = opt.ref(label, "V"), O = opt.ref(label, "O");
  const TensorRef P = opt.ref(label, "partials");
  const double a = bytes_per_element(op.dtype), w = bytes_per_element(op.wdtype), eo = bytes_per_element(op.odtype);
  const DType mmd = bytes_per_element(op.wdtype) > a ? op.wdtype : op.dtype;
  const std::int64_t group = op.heads / op.kv_heads;
  const int cores = spec.active_cores();
  const std::int64_t kv_tiles = ceil_div(op.seq_kv, kKvTile);

  // Work item geometry: `passes` head passes of `rows` query rows each.
  std::int64_t rows_per_pass, passes, q_tiles;
  if (op.decode) {
    const std::int64_t stacked = group * op.seq_q;
    rows_per_pass = std::min<std::int64_t>(kPartitions, stacked);
    passes = ceil_div(stacked, kPartitions);
    q_tiles = 1;
  } else {
    rows_per_pass = std::min<std::int64_t>(kPartitions, op.seq_q);
    passes = group;
    q_tiles = ceil_div(op.seq_q, kPartitions);
  }
  const std::int64_t units = op.batch * op.kv_heads * q_tiles;
  std::int64_t splits = 1;
  if (op.decode && units < cores) splits = std::max<std::int64_t>(1, std::min<std::int64_t>(kv_tiles, ceil_div(cores, units)));
  const std::int64_t tiles_per_split = ceil_div(kv_tiles, splits);
  const std::int64_t items = units * splits;
  const OpSpec o = op;
  const int buffers = spec.dma_buffers;
  const int banks = spec.psum_banks;
  if (banks < 8) unsupported(spec.name, op, "the flash-attention tiling needs 8 PSUM banks (S, P^T and O per head pair)");
  const std::int64_t dk = ceil_div(d, kPartitions);

  auto build = [=](int core, Task& task) {
    std::vector<std::uint32_t> k_last(static_cast<size_t>(buffers), kNoDep), v_last(k_last);
    std::vector<std::uint32_t> bank_free(static_cast<size_t>(banks), kNoDep);
    std::int64_t chunk_no = 0;
    const bool lag = buffers >= 2;
    for (std::int64_t it = core; it < items; it += cores) {
      const std::int64_t split = it % splits, unit = it / splits;
      const std::int64_t qt = unit % q_tiles, bh = unit / q_tiles;  // bh = b * kv_heads + kvh
      const std::int64_t rows = o.decode ? rows_per_pass : std::min<std::int64_t>(kPartitions, o.seq_q - qt * kPartitions);
      const std::int64_t qpos0 = o.seq_kv - o.seq_q + qt * kPartitions;               // first query position
      const std::int64_t qpos1 = o.decode ? o.seq_kv - 1 : qpos0 + rows - 1;           // last query position
      const std::int64_t qfirst = o.decode ? o.seq_kv - o.seq_q : qpos0;
      // Q^T per head pass.
      std::vector<std::uint32_t> qload(static_cast<size_t>(passes));
      for (std::int64_t h = 0; h < passes; ++h) {
        Instr l = dma(TxKind::DmaRead, Q.addr + static_cast<std::uint64_t>(((bh * passes + h) * o.seq_q + qt * kPartitions) * d * a),
                      static_cast<std::uint64_t>(d * rows * a), static_cast<std::uint32_t>(std::min<std::int64_t>(d, kPartitions)), o.dtype);
        qload[static_cast<size_t>(h)] = task.add(l);
      }
      std::vector<std::uint32_t> oacc(static_cast<size_t>(passes), kNoDep);
      // Per visible KV tile: stage A (loads, S = Q K^T for every head pass) and stage B (mask, max,
      // exp) are emitted for tile j, then stage C (P^T transposes, PV, accumulate) for the previous
      // tile, so that TensorE computes S(j) while the Vector/Scalar engines run the softmax of j and
      // the engines' in-order streams overlap (software pipelining, one tile of lag).
      struct Pending {
        bool valid = false, first = false;
        std::int64_t kw = 0;
        size_t slot = 0;
        std::uint32_t iv = kNoDep;
        std::vector<std::uint32_t> ex;
      };
      Pending pend;
      auto stage_c = [&](Pending& p) {
        if (!p.valid) return;
        const int r = static_cast<int>(rows);
        const std::int64_t kchunks = ceil_div(p.kw, kPartitions);
        std::uint32_t last_pv = kNoDep;
        for (std::int64_t h = 0; h < passes; ++h) {
          const size_t hi = static_cast<size_t>(h);
          // Rescale the running output by exp(old max - new max) (a pass over dv).
          std::uint32_t rs = kNoDep;
          if (!p.first) rs = task.add(with_deps(lane(kVector, r, dv, 1, DType::fp32, 1), p.ex[hi], oacc[hi]));
          // P^T by TensorE transposes (128 keys each, bf16 through PSUM), copied to SBUF by VectorE.
          const size_t tb = static_cast<size_t>(banks / 2 + static_cast<int>(h % 2));
          std::uint32_t tr = kNoDep;
          for (std::int64_t c = 0; c < kchunks; ++c) {
            const int kc = static_cast<int>(std::min<std::int64_t>(kPartitions, p.kw - c * kPartitions));
            tr = task.add(with_deps(matmul(kc, r, r, mmd, 0), p.ex[hi], c == 0 ? bank_free[tb] : kNoDep));
          }
          const std::uint32_t cp = task.add(with_deps(lane(kVector, kPartitions, kchunks * rows, 1, o.dtype, 0), tr));
          bank_free[tb] = cp;
          // O_tile = P V accumulated over the key chunks in one PSUM bank, added to the running output.
          const size_t ob = static_cast<size_t>(banks / 2 + 2 + static_cast<int>(h % 2));
          std::uint32_t pv = kNoDep;
          for (std::int64_t c = 0; c < kchunks; ++c) {
            const int kc = static_cast<int>(std::min<std::int64_t>(kPartitions, p.kw - c * kPartitions));
            pv = task.add(with_deps(matmul(r, static_cast<int>(dv), kc, mmd, static_cast<std::uint64_t>(2 * rows * dv * kc)), cp,
                                    p.iv, c == 0 ? bank_free[ob] : kNoDep));
          }
          last_pv = pv;
          const std::uint32_t add = task.add(with_deps(lane(kVector, r, dv, 2, DType::fp32, 1), pv, rs, oacc[hi]));
          bank_free[ob] = add;
          oacc[hi] = add;
        }
        v_last[p.slot] = last_pv;
        p.valid = false;
      };
      const std::int64_t j0 = split * tiles_per_split, j1 = std::min(kv_tiles, j0 + tiles_per_split);
      bool first = true;
      for (std::int64_t j = j0; j < j1; ++j) {
        const std::int64_t k0 = j * kKvTile, kw = std::min<std::int64_t>(kKvTile, o.seq_kv - k0);
        if (o.causal && k0 > qpos1) continue;                                  // entirely above the diagonal
        if (o.window > 0 && k0 + kw - 1 < qfirst - o.window + 1) continue;      // entirely before the window
        const bool diagonal = (o.causal && k0 + kw - 1 > qfirst) || (o.window > 0 && k0 < qpos1 - o.window + 1);
        const size_t slot = static_cast<size_t>(chunk_no++ % buffers);
        Instr lk = dma(TxKind::DmaRead, Kc.addr + static_cast<std::uint64_t>((bh * d * o.seq_kv + k0) * w),
                       static_cast<std::uint64_t>(d * kw * w), static_cast<std::uint32_t>(std::min<std::int64_t>(d, kPartitions)), o.wdtype);
        lk.dep[0] = k_last[slot];
        const std::uint32_t ik = task.add(lk);
        Instr lv = dma(TxKind::DmaRead, V.addr + static_cast<std::uint64_t>((bh * o.seq_kv + k0) * dv * w),
                       static_cast<std::uint64_t>(kw * dv * w), static_cast<std::uint32_t>(std::min<std::int64_t>(kw, kPartitions)), o.wdtype);
        lv.dep[0] = v_last[slot];
        const std::uint32_t iv = task.add(lv);
        // Stage A: S = Q K^T for every head pass (TensorE runs ahead of the softmax).
        std::vector<std::uint32_t> s_mm(static_cast<size_t>(passes));
        for (std::int64_t h = 0; h < passes; ++h) {
          const size_t bk = static_cast<size_t>(h % (banks / 2));
          std::uint32_t last = kNoDep;
          for (std::int64_t c = 0; c < dk; ++c) {
            const int kd = static_cast<int>(std::min<std::int64_t>(kPartitions, d - c * kPartitions));
            Instr mm = matmul(static_cast<int>(rows), static_cast<int>(kw), kd, mmd, static_cast<std::uint64_t>(2 * rows * kw * kd));
            last = task.add(with_deps(mm, qload[static_cast<size_t>(h)], ik, c == 0 ? bank_free[bk] : kNoDep));
          }
          s_mm[static_cast<size_t>(h)] = last;
          k_last[slot] = last;
        }
        // Stage B: mask (diagonal tiles), row max, exp with the row sum accumulated.
        Pending cur;
        cur.valid = true;
        cur.first = first;
        cur.kw = kw;
        cur.slot = slot;
        cur.iv = iv;
        const int r = static_cast<int>(rows);
        for (std::int64_t h = 0; h < passes; ++h) {
          std::uint32_t prev = s_mm[static_cast<size_t>(h)];
          if (diagonal) prev = task.add(with_deps(lane(kVector, r, kw, 1, DType::fp32, 1), prev));
          const std::uint32_t mx = task.add(with_deps(lane(kVector, r, kw, 1, DType::fp32, 1), prev));
          const std::uint32_t ex = task.add(with_deps(lane(kScalar, r, kw, 1, DType::fp32, 3), mx));
          bank_free[static_cast<size_t>(h % (banks / 2))] = ex;
          cur.ex.push_back(ex);
        }
        first = false;
        if (lag) stage_c(pend);
        else stage_c(cur);
        pend = cur;
        if (!lag) pend.valid = false;
      }
      stage_c(pend);
      // Normalise by the row sums and store (bf16 output, or fp32 partials with max and sum to combine).
      for (std::int64_t h = 0; h < passes; ++h) {
        const int r = static_cast<int>(rows);
        const std::uint32_t nm = task.add(with_deps(lane(kVector, r, dv, 1, DType::fp32, 1), oacc[static_cast<size_t>(h)]));
        const bool partial = splits > 1;
        const double eb = partial ? 4.0 : eo;
        const std::uint64_t bytes = static_cast<std::uint64_t>(rows * (dv * eb + (partial ? 8 : 0)));
        const TensorRef& dst = partial ? P : O;
        Instr st = dma(TxKind::DmaWrite, dst.addr + static_cast<std::uint64_t>(((it * passes + h) * kPartitions) * dv * eb), bytes,
                       static_cast<std::uint32_t>(r), partial ? DType::fp32 : o.odtype);
        st.dep[0] = nm;
        task.add(st);
      }
    }
  };
  std::ostringstream s;
  s << (op.decode ? "decode" : "prefill") << ": " << items << " items (" << rows_per_pass << " query rows x " << passes
    << " head passes, KV tiles of " << kKvTile << (splits > 1 ? ", KV split " + std::to_string(splits) : std::string())
    << ") over " << cores << " NeuronCores";
  KernelPrograms out{per_core_program("attention", op, s.str(), spec, build)};
  if (splits > 1) {
    const std::int64_t rows_total = rows_per_pass * passes;
    auto comb = [=](int core, Task& task) {
      for (std::int64_t u = core; u < units; u += cores) {
        const int r = static_cast<int>(std::min<std::int64_t>(kPartitions, rows_total));
        Instr l = dma(TxKind::DmaRead, P.addr + static_cast<std::uint64_t>(u * splits * rows_total * (dv + 2) * 4),
                      static_cast<std::uint64_t>(splits * rows_total * (dv + 2) * 4), static_cast<std::uint32_t>(r), DType::fp32);
        std::uint32_t i = task.add(l);
        i = task.add(with_deps(lane(kVector, r, splits, 1, DType::fp32, 1), i));            // global max
        i = task.add(with_deps(lane(kScalar, r, splits, 1, DType::fp32, 3), i));            // weights exp(m_s - m)
        i = task.add(with_deps(lane(kVector, r, splits * dv * passes, 2, DType::fp32, 2), i));  // weighted sum
        Instr st = dma(TxKind::DmaWrite, O.addr + static_cast<std::uint64_t>(u * rows_total * dv * eo),
                       static_cast<std::uint64_t>(rows_total * dv * eo), static_cast<std::uint32_t>(r), o.odtype);
        st.dep[0] = i;
        task.add(st);
      }
    };
    Program c = per_core_program("attention.combine", op, "merge " + std::to_string(splits) + " KV splits", spec, comb);
    c.roofline = {0, 0};
    out.push_back(c);
  }
  return out;
}

}  // namespace xpu::trainium
