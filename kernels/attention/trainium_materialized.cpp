// Context-encoding attention as AWS transformers-neuronx builds it below its flash threshold: an HLO
// graph with the S x S scores materialized (layers/attention.py: score(), mask(), context_combined()).
// transformers-neuronx calls its NKI flash kernel only from `lowering.tnx_flash_min_tokens` prompt
// tokens on (flash_attention(): "if n_active_tokens < 4096: ... return None"; 0: releases without the kernel,
// which run every prompt this way); below it the graph is
//   S = Q K^T          dot_general over the whole key range (the causal mask is a select, nothing skipped)
//   S = select(mask)   hlo.masked_select with the broadcast [q, k] mask
//   P = softmax(S)     hlo.softmax: reduce max, subtract, exp, reduce sum, divide (in the score dtype)
//   C = P V            dot_general, contraction over the keys (P^T on the partitions)
// Each HLO op runs as its own pass over the score tensor, one 128-query row tile at a time on the lane
// engine the op maps to (VectorE: select, reductions, subtract, divide; ScalarE: exp) [NKI-T1]. While the
// core's scores fit `lowering.materialized_sbuf_share` of SBUF they stay on chip; above it every op reads
// its input from HBM and writes its output back (the reductions read only), as an unfused op graph does
// with an intermediate the compiler cannot keep. Ops are emitted op by op over all row tiles of a core,
// so the engines' in-order streams pipeline one op's tiles (the DMA of tile i+1 under the op of tile i).
#include <algorithm>
#include <sstream>

#include "chips/trainium/isa.h"
#include "kernels/attention/trainium.h"
#include "kernels/trainium_lowerings.h"

namespace xpu::trainium {

namespace {
constexpr int kKeyChunk = kMaxMovingFree;  // keys per S = Q K^T matmul (one PSUM bank of fp32)

// One pass of the softmax chain: the engine, input tiles streamed per element (2 for the select that
// reads the mask), whether it writes a new S x S tensor (the reductions produce one value per row).
struct Pass {
  Engine engine;
  int inputs;
  bool writes;
  bool reads_mask;
};
constexpr Pass kChain[] = {
    {kVector, 2, true, true},    // select(mask, S, -30000)
    {kVector, 1, false, false},  // reduce max over the keys
    {kVector, 1, true, false},   // S - max (broadcast)
    {kScalar, 1, true, false},   // exp
    {kVector, 1, false, false},  // reduce sum over the keys
    {kVector, 1, true, false},   // P = exp / sum (broadcast)
};
}  // namespace

bool runs_materialized(const OpSpec& op, const TrainiumSpec& spec) {
  return op.impl == kTnxImpl && !op.decode && (spec.tnx_flash_min_tokens == 0 || op.seq_q < spec.tnx_flash_min_tokens);
}

KernelPrograms lower_materialized_attention(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  const std::int64_t d = op.head_dim, dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  if (dv > kMaxMovingFree) unsupported(spec.name, op, "head_dim_v above 512 does not fit one PSUM bank per output tile");
  const std::string label = op.label.empty() ? "attention" : op.label;
  const TensorRef Q = opt.ref(label, "Q"), K = opt.ref(label, "K"), V = opt.ref(label, "V"), O = opt.ref(label, "O");
  const TensorRef Sc = opt.ref(label, "scores"), M = opt.ref(label, "mask");
  const double a = bytes_per_element(op.dtype), w = bytes_per_element(op.wdtype), eo = bytes_per_element(op.odtype);
  const DType mmd = w > a ? op.wdtype : op.dtype;
  const DType sd = op.dtype;  // dot_general's output and hlo.softmax keep the query dtype
  const double sb = bytes_per_element(sd);
  const std::int64_t S = op.seq_kv, group = op.heads / op.kv_heads, q_tiles = ceil_div(op.seq_q, kPartitions);
  const std::int64_t units = op.batch * op.heads * q_tiles;
  const int cores = spec.active_cores();
  const std::int64_t per_core = ceil_div(units, cores);
  const double core_scores = static_cast<double>(per_core) * kPartitions * S * sb;
  const bool spill = core_scores > spec.materialized_sbuf_share * spec.sbuf_bytes();
  const std::int64_t dk = ceil_div(d, kPartitions), kchunks = ceil_div(S, kPartitions);

  auto build = [=](int core, Task& task) {
    std::vector<std::int64_t> mine;
    for (std::int64_t u = core; u < units; u += cores) mine.push_back(u);
    const size_t n = mine.size();
    auto rows_of = [&](std::int64_t u) { return std::min<std::int64_t>(kPartitions, op.seq_q - (u % q_tiles) * kPartitions); };
    auto kv_head = [&](std::int64_t bh) { return (bh / op.heads) * op.kv_heads + (bh % op.heads) / group; };
    // A row tile's scores moved between SBUF and HBM (the spilled case), after `dep`.
    auto scores_dma = [&](TxKind kind, std::int64_t u, std::uint32_t dep) {
      const std::int64_t r = rows_of(u);
      return task.add(with_deps(dma(kind, Sc.addr + static_cast<std::uint64_t>(static_cast<double>(u) * kPartitions * S * sb),
                                    static_cast<std::uint64_t>(r * S * sb), static_cast<std::uint32_t>(r), sd),
                                dep));
    };
    std::vector<std::uint32_t> last(n, kNoDep);
    // S = Q K^T over every key chunk, evacuated from PSUM to SBUF in the score dtype.
    for (size_t i = 0; i < n; ++i) {
      const std::int64_t u = mine[i], bh = u / q_tiles, qt = u % q_tiles, r = rows_of(u);
      const std::int64_t kvh = kv_head(bh);
      const std::uint32_t iq = task.add(dma(TxKind::DmaRead, Q.addr + static_cast<std::uint64_t>((bh * op.seq_q + qt * kPartitions) * d * a),
                                            static_cast<std::uint64_t>(d * r * a), static_cast<std::uint32_t>(std::min<std::int64_t>(d, kPartitions)),
                                            op.dtype));
      const std::int64_t qpos1 = S - op.seq_q + qt * kPartitions + r - 1;
      std::uint32_t cp = kNoDep;
      for (std::int64_t k0 = 0; k0 < S; k0 += kKeyChunk) {
        const std::int64_t kw = std::min<std::int64_t>(kKeyChunk, S - k0);
        const std::uint32_t ik = task.add(dma(TxKind::DmaRead, K.addr + static_cast<std::uint64_t>((kvh * d * S + k0) * w),
                                              static_cast<std::uint64_t>(d * kw * w),
                                              static_cast<std::uint32_t>(std::min<std::int64_t>(d, kPartitions)), op.wdtype));
        const bool needed = !op.causal || k0 <= qpos1;  // computed either way; useful only below the diagonal
        std::uint32_t mm = kNoDep;
        for (std::int64_t c = 0; c < dk; ++c) {
          const int kd = static_cast<int>(std::min<std::int64_t>(kPartitions, d - c * kPartitions));
          mm = task.add(with_deps(matmul(static_cast<int>(r), static_cast<int>(kw), kd, mmd,
                                         needed ? static_cast<std::uint64_t>(2 * r * kw * kd) : 0),
                                  iq, ik, c == 0 ? cp : kNoDep));
        }
        cp = task.add(with_deps(lane(kVector, static_cast<int>(r), kw, 1, sd, 0), mm));
      }
      last[i] = spill ? scores_dma(TxKind::DmaWrite, u, cp) : cp;
    }
    // The softmax chain, op by op over the core's row tiles.
    for (const Pass& p : kChain) {
      for (size_t i = 0; i < n; ++i) {
        const std::int64_t u = mine[i], r = rows_of(u);
        std::uint32_t in = last[i], mk = kNoDep;
        if (spill) {
          in = scores_dma(TxKind::DmaRead, u, last[i]);
          if (p.reads_mask)
            mk = task.add(dma(TxKind::DmaRead, M.addr + static_cast<std::uint64_t>((u % q_tiles) * kPartitions * S),
                              static_cast<std::uint64_t>(r * S), static_cast<std::uint32_t>(r), DType::int8));
        }
        const std::uint32_t op_id = task.add(with_deps(lane(p.engine, static_cast<int>(r), S, p.inputs, sd, 1), in, mk, last[i]));
        if (!p.writes) continue;  // a reduction: one value per row, the scores stay where they were
        last[i] = spill ? scores_dma(TxKind::DmaWrite, u, op_id) : op_id;
      }
    }
    // C = P V: P^T by TensorE transposes (128 keys each) copied to SBUF, V streamed, output stored.
    for (size_t i = 0; i < n; ++i) {
      const std::int64_t u = mine[i], bh = u / q_tiles, r = rows_of(u);
      const std::int64_t kvh = kv_head(bh);
      const std::uint32_t in = spill ? scores_dma(TxKind::DmaRead, u, last[i]) : last[i];
      std::uint32_t tr = kNoDep;
      for (std::int64_t c = 0; c < kchunks; ++c) {
        const int kc = static_cast<int>(std::min<std::int64_t>(kPartitions, S - c * kPartitions));
        tr = task.add(with_deps(matmul(kc, static_cast<int>(r), static_cast<int>(r), mmd, 0), in));
      }
      const std::uint32_t pt = task.add(with_deps(lane(kVector, kPartitions, kchunks * r, 1, sd, 0), tr));
      const std::uint32_t iv = task.add(dma(TxKind::DmaRead, V.addr + static_cast<std::uint64_t>(kvh * S * dv * w),
                                            static_cast<std::uint64_t>(S * dv * w),
                                            static_cast<std::uint32_t>(std::min<std::int64_t>(S, kPartitions)), op.wdtype));
      std::uint32_t pv = kNoDep;
      for (std::int64_t c = 0; c < kchunks; ++c) {
        const int kc = static_cast<int>(std::min<std::int64_t>(kPartitions, S - c * kPartitions));
        pv = task.add(with_deps(matmul(static_cast<int>(r), static_cast<int>(dv), kc, mmd, static_cast<std::uint64_t>(2 * r * dv * kc)),
                                pt, iv));
      }
      const std::uint32_t out = task.add(with_deps(lane(kVector, static_cast<int>(r), dv, 1, op.odtype, 0), pv));
      task.add(with_deps(dma(TxKind::DmaWrite, O.addr + static_cast<std::uint64_t>(u * kPartitions * dv * eo),
                             static_cast<std::uint64_t>(r * dv * eo), static_cast<std::uint32_t>(r), op.odtype),
                         out));
    }
  };
  std::ostringstream s;
  s << "prefill, transformers-neuronx HLO graph ("
    << (spec.tnx_flash_min_tokens == 0 ? std::string("no flash kernel")
                                       : "below its " + std::to_string(spec.tnx_flash_min_tokens) + "-token flash threshold")
    << "): "
    << units << " row tiles of " << kPartitions << " queries x " << S << " keys, scores materialized ("
    << (spill ? "through HBM between ops: " : "in SBUF: ") << static_cast<std::int64_t>(core_scores / 1048576) << " MiB per core), over "
    << cores << " NeuronCores";
  return {per_core_program("attention", op, s.str(), spec, build)};
}

}  // namespace xpu::trainium
