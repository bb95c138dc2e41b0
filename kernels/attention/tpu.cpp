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

#include "chips/tpu/isa.h"
#include "kernels/gemm/tpu.h"

namespace xpu::tpu {

namespace {
struct Item {
  std::int64_t b, h, q0, qn, kv0, kv1, split;
};
}  // namespace

KernelPrograms lower_attention(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  std::string why = spec.dtype_refusal(op.dtype);
  if (!why.empty()) unsupported(spec.name, op, why);
  const std::string label = op.label.empty() ? "attention" : op.label;
  const TensorRef Q = opt.ref(label, "Q"), K = opt.ref(label, "K"), V = opt.ref(label, "V"), O = opt.ref(label, "O"),
                  Wk = opt.ref(label, "workspace");
  const std::int64_t G = op.heads / op.kv_heads;
  const std::int64_t d = op.head_dim, dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  const double ea = bytes_per_element(op.dtype), ekv = bytes_per_element(op.wdtype), eo = bytes_per_element(op.odtype);
  const int T = spec.tensorcores;
  const std::int64_t bkv = op.decode ? 1024 : 512;
  const std::int64_t bq = op.decode ? op.seq_q : std::max<std::int64_t>(8, std::min<std::int64_t>(op.seq_q, 512 / G));
  const std::int64_t offset = op.seq_kv - op.seq_q;  // queries are the last seq_q positions

  auto items = std::make_shared<std::vector<Item>>();
  std::int64_t splits = 1;
  const std::int64_t kv_blocks = ceil_div(op.seq_kv, bkv);
  if (op.decode && op.batch * op.kv_heads < 2 * T) splits = std::min<std::int64_t>(kv_blocks, ceil_div(2 * T, op.batch * op.kv_heads));
  for (std::int64_t b = 0; b < op.batch; ++b)
    for (std::int64_t h = 0; h < op.kv_heads; ++h)
      for (std::int64_t q0 = 0; q0 < op.seq_q; q0 += bq) {
        std::int64_t qn = std::min(bq, op.seq_q - q0);
        // Visible keys of this query block: up to the last query's position (causal), from the first
        // query's window start.
        std::int64_t hi = op.causal ? std::min(op.seq_kv, offset + q0 + qn) : op.seq_kv;
        std::int64_t lo = op.window > 0 ? std::max<std::int64_t>(0, offset + q0 - op.window + 1) : 0;
        std::int64_t b0 = lo / bkv, b1 = ceil_div(hi, bkv);
        std::int64_t per = ceil_div(b1 - b0, splits);
        for (std::int64_t s = 0; s < splits; ++s) {
          std::int64_t s0 = b0 + s * per, s1 = std::min(b1, s0 + per);
          if (s0 >= s1) continue;
          items->push_back({b, h, q0, qn, s0 * bkv, std::min(op.seq_kv, s1 * bkv), s});
        }
      }
  const int cores = static_cast<int>(std::min<std::int64_t>(T, static_cast<std::int64_t>(items->size())));
  const OpSpec o = op;
  const TpuSpec sp = spec;
  const bool split = splits > 1;

  Program p;
  p.name = "attention";
  p.op = op.label;
  std::ostringstream st;
  st << (op.decode ? "decode" : "flash prefill") << ", q block " << bq << " x " << G << " heads, kv block " << bkv
     << (split ? ", kv split " + std::to_string(splits) : "") << ", " << items->size() << " items on " << cores
     << " TensorCore" << (cores > 1 ? "s" : "");
  p.strategy = st.str();
  p.num_tasks = static_cast<std::uint64_t>(cores);
  p.static_placement = true;
  p.roofline = {op.flops(), op.min_bytes()};
  p.make_task = [=](std::uint64_t core, Task& t) {
    MxuEmitter mx(sp, o.dtype);
    mx.set_accumulate(false);  // S and P V results are consumed by the explicit vector ops below
    std::vector<std::uint32_t> stores;
    for (size_t ii = core; ii < items->size(); ii += static_cast<size_t>(cores)) {
      const Item& it = (*items)[ii];
      const std::int64_t rows = it.qn * G;
      Instr lq;
      lq.kind = TxKind::DmaRead;
      lq.engine = kDmaIn;
      lq.level = kHbm;
      lq.dtype = o.dtype;
      lq.addr = Q.addr + static_cast<std::uint64_t>(((it.b * o.seq_q + it.q0) * o.heads + it.h * G) * d * ea);
      lq.bytes = static_cast<std::uint64_t>(rows * d * ea);
      lq.m = static_cast<std::uint32_t>(it.qn);  // one run of G heads per token
      lq.dep[0] = stores.size() >= 2 ? stores[stores.size() - 2] : kNoDep;
      const std::uint32_t iq = t.add(lq);
      const std::int64_t nblk = ceil_div(it.kv1 - it.kv0, bkv);
      std::vector<std::uint32_t> lk(static_cast<size_t>(nblk)), lv(static_cast<size_t>(nblk)), pv_done(static_cast<size_t>(nblk));
      auto load_kv = [&](std::int64_t j, std::uint32_t dep) {
        const std::int64_t k0 = it.kv0 + j * bkv, kn = std::min(bkv, it.kv1 - k0);
        const std::int64_t pages = std::max<std::int64_t>(1, ceil_div(kn, std::max<std::int64_t>(1, o.page_size)));
        Instr l;
        l.kind = TxKind::DmaRead;
        l.engine = kDmaIn;
        l.level = kHbm;
        l.dtype = o.wdtype;
        l.addr = K.addr + static_cast<std::uint64_t>(((it.b * o.kv_heads + it.h) * o.seq_kv + k0) * d * ekv);
        l.bytes = static_cast<std::uint64_t>(kn * d * ekv);
        l.m = static_cast<std::uint32_t>(o.decode ? pages : 1);
        l.dep[0] = dep;
        lk[static_cast<size_t>(j)] = t.add(l);
        l.addr = V.addr + static_cast<std::uint64_t>(((it.b * o.kv_heads + it.h) * o.seq_kv + k0) * dv * ekv);
        l.bytes = static_cast<std::uint64_t>(kn * dv * ekv);
        lv[static_cast<size_t>(j)] = t.add(l);
      };
      load_kv(0, kNoDep);
      if (nblk > 1) load_kv(1, kNoDep);
      std::uint32_t prev_pv = kNoDep;
      for (std::int64_t j = 0; j < nblk; ++j) {
        const std::int64_t k0 = it.kv0 + j * bkv, kn = std::min(bkv, it.kv1 - k0);
        if (j + 2 < nblk) load_kv(j + 2, j >= 1 ? pv_done[static_cast<size_t>(j - 1)] : kNoDep);  // 3 buffers
        // S = Q K^T (K stationary), drained before the softmax reads it.
        mx.matmul(t, static_cast<int>(rows), d, kn, iq, lk[static_cast<size_t>(j)], kNoDep);
        std::uint32_t s_ready = mx.drain(t);
        Instr sm;
        sm.kind = TxKind::VectorOp;
        sm.engine = kVpu;
        sm.dtype = DType::fp32;
        sm.m = static_cast<std::uint32_t>(rows);
        sm.n = static_cast<std::uint32_t>(kn);
        sm.k = 1;  // exp per score
        sm.flops = static_cast<std::uint64_t>(rows * kn * 6);  // scale, mask, max, subtract, sum, convert
        sm.bytes = static_cast<std::uint64_t>(rows * kn * (4.0 + ea));
        sm.dep[0] = s_ready;
        sm.dep[1] = prev_pv;  // the running max/sum of the previous block
        std::uint32_t ism = t.add(sm);
        // O += P V (V stationary), then rescale the accumulator.
        mx.matmul(t, static_cast<int>(rows), kn, dv, ism, lv[static_cast<size_t>(j)], kNoDep);
        std::uint32_t pv = mx.drain(t);
        Instr rs;
        rs.kind = TxKind::VectorOp;
        rs.engine = kVpu;
        rs.dtype = DType::fp32;
        rs.m = static_cast<std::uint32_t>(rows);
        rs.n = static_cast<std::uint32_t>(dv);
        rs.flops = static_cast<std::uint64_t>(rows * dv * 3);
        rs.bytes = static_cast<std::uint64_t>(rows * dv * 8.0);
        rs.dep[0] = pv;
        prev_pv = t.add(rs);
        pv_done[static_cast<size_t>(j)] = prev_pv;
      }
      Instr fin;
      fin.kind = TxKind::VectorOp;
      fin.engine = kVpu;
      fin.dtype = DType::fp32;
      fin.m = static_cast<std::uint32_t>(rows);
      fin.n = static_cast<std::uint32_t>(dv);
      fin.k = 0;
      fin.flops = static_cast<std::uint64_t>(rows * dv * 2);
      fin.bytes = static_cast<std::uint64_t>(rows * dv * (4.0 + eo));
      fin.dep[0] = prev_pv;
      std::uint32_t ifin = t.add(fin);
      Instr so;
      so.kind = TxKind::DmaWrite;
      so.engine = kDmaOut;
      so.level = kHbm;
      so.dtype = split ? DType::fp32 : o.odtype;
      const double oe = split ? 4.0 : eo;
      so.addr = (split ? Wk.addr + static_cast<std::uint64_t>(it.split) * (1ull << 32) : O.addr) +
                static_cast<std::uint64_t>(((it.b * o.seq_q + it.q0) * o.heads + it.h * G) * dv * oe);
      so.bytes = static_cast<std::uint64_t>(rows * dv * oe + (split ? rows * 8.0 : 0.0));  // + max and sum per row
      so.m = static_cast<std::uint32_t>(it.qn);
      so.dep[0] = ifin;
      stores.push_back(t.add(so));
    }
  };
  KernelPrograms out{p};
  if (split) {
    // Combine the splits' partial outputs (fp32 plus row max and sum) into the output.
    const std::int64_t rows_total = op.batch * op.seq_q * op.heads;
    Program c;
    c.name = "attention.combine";
    c.op = op.label;
    c.strategy = "combine " + std::to_string(splits) + " KV splits per row";
    const int ccores = static_cast<int>(std::min<std::int64_t>(T, rows_total));
    c.num_tasks = static_cast<std::uint64_t>(ccores);
    c.static_placement = true;
    c.roofline = {0, 0};
    c.make_task = [=](std::uint64_t core, Task& t) {
      std::int64_t r0 = rows_total * static_cast<std::int64_t>(core) / ccores;
      std::int64_t r1 = rows_total * static_cast<std::int64_t>(core + 1) / ccores;
      Instr l;
      l.kind = TxKind::DmaRead;
      l.engine = kDmaIn;
      l.level = kHbm;
      l.dtype = DType::fp32;
      l.addr = Wk.addr + static_cast<std::uint64_t>(r0 * dv * 4);
      l.bytes = static_cast<std::uint64_t>((r1 - r0) * splits * (dv * 4.0 + 8.0));
      std::uint32_t il = t.add(l);
      Instr v;
      v.kind = TxKind::VectorOp;
      v.engine = kVpu;
      v.dtype = DType::fp32;
      v.m = static_cast<std::uint32_t>(r1 - r0);
      v.n = static_cast<std::uint32_t>(dv);
      v.k = 1;
      v.flops = static_cast<std::uint64_t>((r1 - r0) * dv * splits * 3);
      v.bytes = static_cast<std::uint64_t>((r1 - r0) * splits * dv * 4.0);
      v.dep[0] = il;
      std::uint32_t iv = t.add(v);
      Instr s;
      s.kind = TxKind::DmaWrite;
      s.engine = kDmaOut;
      s.level = kHbm;
      s.dtype = o.odtype;
      s.addr = O.addr + static_cast<std::uint64_t>(r0 * dv * eo);
      s.bytes = static_cast<std::uint64_t>((r1 - r0) * dv * eo);
      s.dep[0] = iv;
      t.add(s);
    };
    out.push_back(c);
  }
  return out;
}

}  // namespace xpu::tpu
