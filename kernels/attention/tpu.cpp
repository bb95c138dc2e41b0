// Attention on the TPU family. A work item is (sequence, KV head, query block[, KV split]); the G
// query heads of a KV head are folded into the query block's rows, so K and V are read once per
// group. Per KV block: K and V copied to VMEM (prefetched one block ahead), S = Q K^T on the MXUs
// with K as the stationary weights, the online softmax on the vector unit (exp on the transcendental
// unit), then P V on the MXUs with V stationary, and the accumulator rescaled on the vector unit.
// The next block's Q K^T overlaps this block's softmax (separate engines). KV blocks wholly above the
// causal diagonal or outside the window are skipped. Decode with few (sequence, KV head) pairs splits
// the KV sequence over the TensorCores and adds a small combine kernel.
#include "kernels/attention/tpu.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "kernels/tpu_builders.h"
#include "kernels/gemm/tpu.h"

namespace xpu::tpu {

namespace {
struct Item {
  std::int64_t b, h, q0, qn, kv0, kv1, split;
};

// A strategy's geometry: query block (rows per KV head: bq tokens x G heads), KV block and KV splits.
struct Plan {
  std::int64_t bq = 0, bkv = 0, splits = 1;
  int interleave = 1;      // items a core keeps in flight at once (their KV blocks emitted round-robin)
  bool pv_on_vpu = false;  // decode: S^T = K Q^T on the MXUs (Q^T stationary) and P V on the vector unit
};

// Prefill (flash attention): 512-key KV blocks, query blocks of about 512 rows of the folded group.
Plan prefill_plan(const OpSpec& op, std::int64_t G) {
  return {std::max<std::int64_t>(8, std::min<std::int64_t>(op.seq_q, 512 / G)), 512, 1};
}

// Items a TensorCore keeps in flight in decode: an item's blocks form one dependent chain (S, the
// array drain, the softmax, P V, its drain, the rescale: about 2 x (R + C) cycles of latency per
// block), and interleaving this many items keeps the MXUs and the vector unit fed, VMEM permitting.
constexpr int kDecodeInterleave = 4;

// MXU and vector-unit cycles per key of a decode item with `rows` query rows, for the two ways of
// running it: both products on the MXUs (K, then V pushed as weights: a push costs R cycles per
// fold, whatever the rows that stream), or S^T = K Q^T on the MXUs (Q^T, one fold, pushed per block
// into each MXU, a quarter of the keys streaming through each) and P V on the vector unit
// (2 x rows x dv operations per key).
bool pv_on_vpu(const OpSpec& op, const TpuSpec& spec, std::int64_t rows, std::int64_t bkv) {
  const double R = spec.mxu.rows * std::max(1, spec.k_pack(op.dtype)), C = spec.mxu.cols, nm = spec.mxu.count;
  const double d = op.head_dim, dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim, p = spec.passes(op.dtype);
  if (d > R || static_cast<double>(rows) > C) return false;  // Q^T must be one fold
  const double mxu_both = (std::ceil(d / R) * R / C + std::ceil(dv / C)) * p / nm;
  const double k_stream = std::max(1.0 / nm, R / static_cast<double>(bkv)) * p;
  const double vpu = (2.0 * rows * dv + 6.0 * rows) / spec.vpu_ops_per_clk();
  return std::max(k_stream, vpu) < mxu_both;
}

// Decode: all queries in one block, 1024-key KV blocks, several items in flight per TensorCore, and
// the KV sequence split over the TensorCores when (sequence, KV head) pairs cannot fill them.
Plan decode_plan(const OpSpec& op, const TpuSpec& spec, std::int64_t G) {
  Plan p{op.seq_q, 1024, 1};
  const int T = spec.tensorcores;
  const double per_item = 3.0 * p.bkv * (op.head_dim + (op.head_dim_v > 0 ? op.head_dim_v : op.head_dim)) * bytes_per_element(op.wdtype);
  p.interleave = static_cast<int>(std::clamp<double>(std::floor(spec.kernel_vmem_bytes() / per_item), 1, kDecodeInterleave));
  const std::int64_t kv_blocks = ceil_div(op.seq_kv, p.bkv), want = std::int64_t{p.interleave} * T;
  if (op.batch * op.kv_heads < want) p.splits = std::min<std::int64_t>(kv_blocks, ceil_div(want, op.batch * op.kv_heads));
  p.pv_on_vpu = pv_on_vpu(op, spec, op.seq_q * G, p.bkv);
  return p;
}

std::vector<Item> items_of(const OpSpec& op, const Plan& pl) {
  const std::int64_t offset = op.seq_kv - op.seq_q;  // queries are the last seq_q positions
  std::vector<Item> items;
  for (std::int64_t b = 0; b < op.batch; ++b)
    for (std::int64_t h = 0; h < op.kv_heads; ++h)
      for (std::int64_t q0 = 0; q0 < op.seq_q; q0 += pl.bq) {
        std::int64_t qn = std::min(pl.bq, op.seq_q - q0);
        // Visible keys of this query block: up to the last query's position (causal), from the first
        // query's window start.
        std::int64_t hi = op.causal ? std::min(op.seq_kv, offset + q0 + qn) : op.seq_kv;
        std::int64_t lo = op.window > 0 ? std::max<std::int64_t>(0, offset + q0 - op.window + 1) : 0;
        std::int64_t b0 = lo / pl.bkv, b1 = ceil_div(hi, pl.bkv);
        std::int64_t per = ceil_div(b1 - b0, pl.splits);
        for (std::int64_t s = 0; s < pl.splits; ++s) {
          std::int64_t s0 = b0 + s * per, s1 = std::min(b1, s0 + per);
          if (s0 >= s1) continue;
          items.push_back({b, h, q0, qn, s0 * pl.bkv, std::min(op.seq_kv, s1 * pl.bkv), s});
        }
      }
  return items;
}

// What every TensorCore's program needs (immutable, shared).
struct AttnJob {
  OpSpec o;
  TpuSpec spec;
  Plan plan;
  std::vector<Item> items;
  TensorRef Q, K, V, O, Wk;
  std::int64_t G = 0, d = 0, dv = 0;
  double ea = 0, ekv = 0, eo = 0;
  int cores = 1;
};

// One work item's instructions, emitted KV block by KV block so that a core can interleave several
// items (decode: each item's chain S -> drain -> softmax -> P V -> drain is latency-bound, and other
// items' blocks fill the MXUs and the vector unit meanwhile, as the grid of a Pallas decode kernel
// keeps several sequences' pages in flight). Per KV block: K and V copied to VMEM (3 buffers, loaded
// two ahead), S on the MXUs, the online softmax on the vector unit, then P V (MXUs, or the vector
// unit when the plan says so) and the rescale.
class ItemEmitter {
 public:
  ItemEmitter(const AttnJob& j, const Item& it, MxuEmitter& mx, Task& t) : m_j(j), m_it(it), m_mx(mx), m_t(t) {
    m_rows = it.qn * j.G;
    m_nblk = ceil_div(it.kv1 - it.kv0, j.plan.bkv);
    for (auto* v : {&m_lk, &m_lv, &m_pv_done}) v->assign(static_cast<size_t>(m_nblk), kNoDep);
  }
  std::int64_t blocks() const { return m_nblk; }

  // The Q block (after `out_free`: the store two items back freed its buffer) and the first two KV
  // blocks' loads.
  void begin(std::uint32_t out_free) {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    m_iq = m_t.add(after(dma_in(o.dtype, j.Q.addr + static_cast<std::uint64_t>(((m_it.b * o.seq_q + m_it.q0) * o.heads + m_it.h * j.G) * j.d * j.ea),
                                static_cast<std::uint64_t>(m_rows * j.d * j.ea),
                                static_cast<std::uint32_t>(m_it.qn)),  // one run of G heads per token
                         out_free));
    load_kv(0, kNoDep);
    if (m_nblk > 1) load_kv(1, kNoDep);
  }

  void block(std::int64_t jb) {
    const AttnJob& j = m_j;
    const std::int64_t k0 = m_it.kv0 + jb * j.plan.bkv, kn = std::min(j.plan.bkv, m_it.kv1 - k0);
    if (jb + 2 < m_nblk) load_kv(jb + 2, jb >= 1 ? m_pv_done[static_cast<size_t>(jb - 1)] : kNoDep);  // 3 buffers
    const std::uint32_t r = static_cast<std::uint32_t>(m_rows);
    const std::uint32_t s_ready = j.plan.pv_on_vpu ? stream_k(jb, kn) : scores_k_stationary(jb, kn);
    // Scale, mask, max, subtract, exp (one per score), sum, convert; after the previous block's
    // running max and sum.
    const std::uint32_t ism = m_t.add(after(vpu(DType::fp32, r, static_cast<std::uint32_t>(kn), 1, static_cast<std::uint64_t>(m_rows * kn * 6),
                                                static_cast<std::uint64_t>(m_rows * kn * (4.0 + j.ea))),
                                            s_ready, m_prev_pv));
    std::uint32_t pv;
    if (j.plan.pv_on_vpu) {
      // O += P V as broadcast multiply-adds over the block's keys (V read from VMEM once).
      pv = m_t.add(after(vpu(DType::fp32, r, static_cast<std::uint32_t>(j.dv), 0, static_cast<std::uint64_t>(2.0 * m_rows * kn * j.dv),
                             static_cast<std::uint64_t>(kn * j.dv * j.ekv + m_rows * kn * 4.0)),
                         ism, m_lv[static_cast<size_t>(jb)]));
    } else {
      // O += P V (V stationary).
      m_mx.matmul(m_t, static_cast<int>(m_rows), kn, j.dv, ism, m_lv[static_cast<size_t>(jb)], kNoDep);
      pv = m_mx.drain(m_t);
    }
    // Rescale the accumulator.
    m_prev_pv = m_t.add(after(vpu(DType::fp32, r, static_cast<std::uint32_t>(j.dv), 0, static_cast<std::uint64_t>(m_rows * j.dv * 3),
                                  static_cast<std::uint64_t>(m_rows * j.dv * 8.0)),
                              pv));
    m_pv_done[static_cast<size_t>(jb)] = m_prev_pv;
  }

  // O / l and the store: the output, or (split) the fp32 partial plus max and sum per row to the
  // workspace. Returns the store.
  std::uint32_t finish() {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    const bool split = j.plan.splits > 1;
    const std::uint32_t ifin = m_t.add(after(vpu(DType::fp32, static_cast<std::uint32_t>(m_rows), static_cast<std::uint32_t>(j.dv), 0,
                                                 static_cast<std::uint64_t>(m_rows * j.dv * 2),
                                                 static_cast<std::uint64_t>(m_rows * j.dv * (4.0 + j.eo))),
                                             m_prev_pv));
    const double oe = split ? 4.0 : j.eo;
    const std::uint64_t addr = (split ? j.Wk.addr + static_cast<std::uint64_t>(m_it.split) * (1ull << 32) : j.O.addr) +
                               static_cast<std::uint64_t>(((m_it.b * o.seq_q + m_it.q0) * o.heads + m_it.h * j.G) * j.dv * oe);
    return m_t.add(after(dma_out(split ? DType::fp32 : o.odtype, addr,
                                 static_cast<std::uint64_t>(m_rows * j.dv * oe + (split ? m_rows * 8.0 : 0.0)),
                                 static_cast<std::uint32_t>(m_it.qn)),
                         ifin));
  }

 private:
  void load_kv(std::int64_t jb, std::uint32_t dep) {
    const AttnJob& j = m_j;
    const OpSpec& o = j.o;
    const std::int64_t k0 = m_it.kv0 + jb * j.plan.bkv, kn = std::min(j.plan.bkv, m_it.kv1 - k0);
    const std::int64_t pages = std::max<std::int64_t>(1, ceil_div(kn, std::max<std::int64_t>(1, o.page_size)));
    const std::uint32_t m = static_cast<std::uint32_t>(o.decode ? pages : 1);
    const std::int64_t row = (m_it.b * o.kv_heads + m_it.h) * o.seq_kv + k0;
    m_lk[static_cast<size_t>(jb)] = m_t.add(after(dma_in(o.wdtype, j.K.addr + static_cast<std::uint64_t>(row * j.d * j.ekv),
                                                         static_cast<std::uint64_t>(kn * j.d * j.ekv), m), dep));
    m_lv[static_cast<size_t>(jb)] = m_t.add(after(dma_in(o.wdtype, j.V.addr + static_cast<std::uint64_t>(row * j.dv * j.ekv),
                                                         static_cast<std::uint64_t>(kn * j.dv * j.ekv), m), dep));
  }

  // S = Q K^T with K as the stationary weights, drained before the softmax reads it.
  std::uint32_t scores_k_stationary(std::int64_t jb, std::int64_t kn) {
    m_mx.matmul(m_t, static_cast<int>(m_rows), m_j.d, kn, m_iq, m_lk[static_cast<size_t>(jb)], kNoDep);
    return m_mx.drain(m_t);
  }

  // S^T = K Q^T: Q^T (d x rows, the few query rows of a decode item) pushed into each MXU (the
  // interleaved items take turns on the arrays, so it is pushed per block) and the block's keys
  // streamed as LHS rows, a share through each MXU; drained.
  std::uint32_t stream_k(std::int64_t jb, std::int64_t kn) {
    const int nm = m_j.spec.mxu.count;
    for (int x = 0; x < nm; ++x) {
      const std::int64_t r0 = kn * x / nm, r1 = kn * (x + 1) / nm;
      if (r1 > r0) m_mx.matmul(m_t, static_cast<int>(r1 - r0), m_j.d, m_rows, m_lk[static_cast<size_t>(jb)], m_iq, kNoDep);
    }
    return m_mx.drain(m_t);
  }

  const AttnJob& m_j;
  Item m_it;
  MxuEmitter& m_mx;
  Task& m_t;
  std::int64_t m_rows = 0, m_nblk = 0;
  std::uint32_t m_iq = kNoDep, m_prev_pv = kNoDep;
  std::vector<std::uint32_t> m_lk, m_lv, m_pv_done;
};

Program attention_program(std::shared_ptr<const AttnJob> job) {
  const AttnJob& j = *job;
  std::ostringstream st;
  st << (j.o.decode ? "decode" : "flash prefill") << ", q block " << j.plan.bq << " x " << j.G << " heads, kv block "
     << j.plan.bkv << (j.plan.splits > 1 ? ", kv split " + std::to_string(j.plan.splits) : "")
     << (j.plan.interleave > 1 ? ", " + std::to_string(j.plan.interleave) + " items in flight" : "")
     << (j.plan.pv_on_vpu ? ", S^T = K Q^T on the MXUs, P V on the vector unit" : "") << ", " << j.items.size()
     << " items on " << j.cores << " TensorCore" << (j.cores > 1 ? "s" : "");
  auto make = [job](std::uint64_t core, Task& t) {
    const AttnJob& j = *job;
    MxuEmitter mx(j.spec, j.o.dtype);
    mx.set_accumulate(false);  // S and P V results are consumed by the explicit vector ops
    // The core's items in groups of `interleave`, their KV blocks emitted round-robin.
    std::vector<std::uint32_t> stores;
    std::vector<size_t> mine;
    for (size_t ii = core; ii < j.items.size(); ii += static_cast<size_t>(j.cores)) mine.push_back(ii);
    const size_t group = static_cast<size_t>(std::max(1, j.plan.interleave));
    for (size_t g0 = 0; g0 < mine.size(); g0 += group) {
      std::vector<ItemEmitter> live;
      std::int64_t most = 0;
      for (size_t g = g0; g < std::min(mine.size(), g0 + group); ++g) {
        live.emplace_back(j, j.items[mine[g]], mx, t);
        // Two output buffers per item in flight: item g reuses the one of item g - 2 x group.
        live.back().begin(g >= 2 * group ? stores[g - 2 * group] : kNoDep);
        most = std::max(most, live.back().blocks());
      }
      for (std::int64_t jb = 0; jb < most; ++jb)
        for (auto& e : live)
          if (jb < e.blocks()) e.block(jb);
      for (auto& e : live) stores.push_back(e.finish());
    }
  };
  return build::static_program(build::program("attention", j.o, st.str(), static_cast<std::uint64_t>(j.cores), make));
}

// Combine the splits' partial outputs (fp32 plus row max and sum) into the output.
Program combine(const AttnJob& j) {
  const std::int64_t rows_total = j.o.batch * j.o.seq_q * j.o.heads, dv = j.dv, splits = j.plan.splits;
  const int ccores = static_cast<int>(std::min<std::int64_t>(j.spec.tensorcores, rows_total));
  const TensorRef Wk = j.Wk, O = j.O;
  const double eo = j.eo;
  const DType od = j.o.odtype;
  auto make = [=](std::uint64_t core, Task& t) {
    std::int64_t r0 = rows_total * static_cast<std::int64_t>(core) / ccores;
    std::int64_t r1 = rows_total * static_cast<std::int64_t>(core + 1) / ccores;
    const std::uint32_t il = t.add(dma_in(DType::fp32, Wk.addr + static_cast<std::uint64_t>(r0 * dv * 4),
                                          static_cast<std::uint64_t>((r1 - r0) * splits * (dv * 4.0 + 8.0))));
    const std::uint32_t iv = t.add(after(vpu(DType::fp32, static_cast<std::uint32_t>(r1 - r0), static_cast<std::uint32_t>(dv), 1,
                                             static_cast<std::uint64_t>((r1 - r0) * dv * splits * 3),
                                             static_cast<std::uint64_t>((r1 - r0) * splits * dv * 4.0)),
                                         il));
    t.add(after(dma_out(od, O.addr + static_cast<std::uint64_t>(r0 * dv * eo), static_cast<std::uint64_t>((r1 - r0) * dv * eo)), iv));
  };
  return build::static_program(build::helper_program("attention.combine", j.o,
                                                     "combine " + std::to_string(splits) + " KV splits per row",
                                                     static_cast<std::uint64_t>(ccores), make));
}
}  // namespace

KernelPrograms lower_attention(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  refuse_functional(spec.name, op, opt, "TPU");
  refuse_gpu_impl(spec.name, op);
  std::string why = spec.dtype_refusal(op.dtype);
  if (!why.empty()) unsupported(spec.name, op, why);
  // The KV cache (op.wdtype) is stored as the weights are (check_mxu_dtypes): TPUs have no fp4 or fp6 storage
  // format. `run --kvdtype fp4` on tpu-v6e ran an fp4 cache at half fp8's bytes (QA session 40).
  if (bytes_per_element(op.wdtype) < 1.0)
    unsupported(spec.name, op, std::string("no ") + name(op.wdtype) + " KV-cache storage format on TPU (use int8 or fp8)");
  const std::string label = op.label.empty() ? "attention" : op.label;
  auto j = std::make_shared<AttnJob>();
  j->o = op, j->spec = spec;
  j->Q = opt.ref(label, "Q"), j->K = opt.ref(label, "K"), j->V = opt.ref(label, "V"), j->O = opt.ref(label, "O");
  j->Wk = opt.ref(label, "workspace");
  j->G = op.heads / op.kv_heads;
  j->d = op.head_dim, j->dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  j->ea = bytes_per_element(op.dtype), j->ekv = bytes_per_element(op.wdtype), j->eo = bytes_per_element(op.odtype);
  j->plan = op.decode ? decode_plan(op, spec, j->G) : prefill_plan(op, j->G);
  j->items = items_of(op, j->plan);
  j->cores = static_cast<int>(std::min<std::int64_t>(spec.tensorcores, static_cast<std::int64_t>(j->items.size())));
  KernelPrograms out{attention_program(j)};
  if (j->plan.splits > 1) out.push_back(combine(*j));
  return out;
}

}  // namespace xpu::tpu
