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
};

// Prefill (flash attention): 512-key KV blocks, query blocks of about 512 rows of the folded group.
Plan prefill_plan(const OpSpec& op, std::int64_t G) {
  return {std::max<std::int64_t>(8, std::min<std::int64_t>(op.seq_q, 512 / G)), 512, 1};
}

// Decode: all queries in one block, 1024-key KV blocks, and the KV sequence split over the
// TensorCores when there are few (sequence, KV head) pairs.
Plan decode_plan(const OpSpec& op, int T) {
  Plan p{op.seq_q, 1024, 1};
  const std::int64_t kv_blocks = ceil_div(op.seq_kv, p.bkv);
  if (op.batch * op.kv_heads < 2 * T) p.splits = std::min<std::int64_t>(kv_blocks, ceil_div(2 * T, op.batch * op.kv_heads));
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

// One work item: Q block, the KV blocks (3 buffers, loaded two ahead), S = Q K^T and P V on the MXUs,
// the online softmax and rescale on the vector unit, O / l and the store. Returns the store.
std::uint32_t emit_item(const AttnJob& j, const Item& it, MxuEmitter& mx, std::uint32_t out_free, Task& t) {
  const OpSpec& o = j.o;
  const std::int64_t G = j.G, d = j.d, dv = j.dv, bkv = j.plan.bkv, rows = it.qn * G;
  const bool split = j.plan.splits > 1;
  const std::uint32_t iq = t.add(after(dma_in(o.dtype, j.Q.addr + static_cast<std::uint64_t>(((it.b * o.seq_q + it.q0) * o.heads + it.h * G) * d * j.ea),
                                              static_cast<std::uint64_t>(rows * d * j.ea),
                                              static_cast<std::uint32_t>(it.qn)),  // one run of G heads per token
                                       out_free));
  const std::int64_t nblk = ceil_div(it.kv1 - it.kv0, bkv);
  std::vector<std::uint32_t> lk(static_cast<size_t>(nblk)), lv(static_cast<size_t>(nblk)), pv_done(static_cast<size_t>(nblk));
  auto load_kv = [&](std::int64_t jb, std::uint32_t dep) {
    const std::int64_t k0 = it.kv0 + jb * bkv, kn = std::min(bkv, it.kv1 - k0);
    const std::int64_t pages = std::max<std::int64_t>(1, ceil_div(kn, std::max<std::int64_t>(1, o.page_size)));
    const std::uint32_t m = static_cast<std::uint32_t>(o.decode ? pages : 1);
    const std::int64_t row = (it.b * o.kv_heads + it.h) * o.seq_kv + k0;
    lk[static_cast<size_t>(jb)] = t.add(after(dma_in(o.wdtype, j.K.addr + static_cast<std::uint64_t>(row * d * j.ekv),
                                                     static_cast<std::uint64_t>(kn * d * j.ekv), m), dep));
    lv[static_cast<size_t>(jb)] = t.add(after(dma_in(o.wdtype, j.V.addr + static_cast<std::uint64_t>(row * dv * j.ekv),
                                                     static_cast<std::uint64_t>(kn * dv * j.ekv), m), dep));
  };
  load_kv(0, kNoDep);
  if (nblk > 1) load_kv(1, kNoDep);
  const std::uint32_t r = static_cast<std::uint32_t>(rows);
  std::uint32_t prev_pv = kNoDep;
  for (std::int64_t jb = 0; jb < nblk; ++jb) {
    const std::int64_t k0 = it.kv0 + jb * bkv, kn = std::min(bkv, it.kv1 - k0);
    if (jb + 2 < nblk) load_kv(jb + 2, jb >= 1 ? pv_done[static_cast<size_t>(jb - 1)] : kNoDep);  // 3 buffers
    // S = Q K^T (K stationary), drained before the softmax reads it.
    mx.matmul(t, static_cast<int>(rows), d, kn, iq, lk[static_cast<size_t>(jb)], kNoDep);
    const std::uint32_t s_ready = mx.drain(t);
    // Scale, mask, max, subtract, exp (one per score), sum, convert; after the previous block's
    // running max and sum.
    const std::uint32_t ism = t.add(after(vpu(DType::fp32, r, static_cast<std::uint32_t>(kn), 1, static_cast<std::uint64_t>(rows * kn * 6),
                                              static_cast<std::uint64_t>(rows * kn * (4.0 + j.ea))),
                                          s_ready, prev_pv));
    // O += P V (V stationary), then rescale the accumulator.
    mx.matmul(t, static_cast<int>(rows), kn, dv, ism, lv[static_cast<size_t>(jb)], kNoDep);
    const std::uint32_t pv = mx.drain(t);
    prev_pv = t.add(after(vpu(DType::fp32, r, static_cast<std::uint32_t>(dv), 0, static_cast<std::uint64_t>(rows * dv * 3),
                              static_cast<std::uint64_t>(rows * dv * 8.0)),
                          pv));
    pv_done[static_cast<size_t>(jb)] = prev_pv;
  }
  const std::uint32_t ifin = t.add(after(vpu(DType::fp32, r, static_cast<std::uint32_t>(dv), 0, static_cast<std::uint64_t>(rows * dv * 2),
                                             static_cast<std::uint64_t>(rows * dv * (4.0 + j.eo))),
                                         prev_pv));
  // The output, or (split) the fp32 partial plus max and sum per row to the workspace.
  const double oe = split ? 4.0 : j.eo;
  const std::uint64_t addr = (split ? j.Wk.addr + static_cast<std::uint64_t>(it.split) * (1ull << 32) : j.O.addr) +
                             static_cast<std::uint64_t>(((it.b * o.seq_q + it.q0) * o.heads + it.h * G) * dv * oe);
  return t.add(after(dma_out(split ? DType::fp32 : o.odtype, addr,
                             static_cast<std::uint64_t>(rows * dv * oe + (split ? rows * 8.0 : 0.0)),
                             static_cast<std::uint32_t>(it.qn)),
                     ifin));
}

Program attention_program(std::shared_ptr<const AttnJob> job) {
  const AttnJob& j = *job;
  std::ostringstream st;
  st << (j.o.decode ? "decode" : "flash prefill") << ", q block " << j.plan.bq << " x " << j.G << " heads, kv block "
     << j.plan.bkv << (j.plan.splits > 1 ? ", kv split " + std::to_string(j.plan.splits) : "") << ", " << j.items.size()
     << " items on " << j.cores << " TensorCore" << (j.cores > 1 ? "s" : "");
  auto make = [job](std::uint64_t core, Task& t) {
    const AttnJob& j = *job;
    MxuEmitter mx(j.spec, j.o.dtype);
    mx.set_accumulate(false);  // S and P V results are consumed by the explicit vector ops
    std::vector<std::uint32_t> stores;
    for (size_t ii = core; ii < j.items.size(); ii += static_cast<size_t>(j.cores))
      stores.push_back(emit_item(j, j.items[ii], mx, stores.size() >= 2 ? stores[stores.size() - 2] : kNoDep, t));
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
  std::string why = spec.dtype_refusal(op.dtype);
  if (!why.empty()) unsupported(spec.name, op, why);
  const std::string label = op.label.empty() ? "attention" : op.label;
  auto j = std::make_shared<AttnJob>();
  j->o = op, j->spec = spec;
  j->Q = opt.ref(label, "Q"), j->K = opt.ref(label, "K"), j->V = opt.ref(label, "V"), j->O = opt.ref(label, "O");
  j->Wk = opt.ref(label, "workspace");
  j->G = op.heads / op.kv_heads;
  j->d = op.head_dim, j->dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  j->ea = bytes_per_element(op.dtype), j->ekv = bytes_per_element(op.wdtype), j->eo = bytes_per_element(op.odtype);
  j->plan = op.decode ? decode_plan(op, spec.tensorcores) : prefill_plan(op, j->G);
  j->items = items_of(op, j->plan);
  j->cores = static_cast<int>(std::min<std::int64_t>(spec.tensorcores, static_cast<std::int64_t>(j->items.size())));
  KernelPrograms out{attention_program(j)};
  if (j->plan.splits > 1) out.push_back(combine(*j));
  return out;
}

}  // namespace xpu::tpu
