// Prefill (FlashAttention-2/3 style): one block per (sequence, query head, 128-query tile). It loads
// its Q tile once, then streams 128-key K/V tiles: S = Q K^T on the tensor cores, the online-softmax
// update on the CUDA cores/SFUs (exp of every score), O += P V on the tensor cores. With causal
// masking, key tiles entirely above the diagonal are skipped; with a sliding window, tiles entirely
// outside it. GQA: the query heads of a group read the same K/V addresses, so L2 serves them.
// Decode (FlashDecoding style): one block per (sequence, KV head, split of the context); the group's
// query heads are the rows of the MMA (padded to the 64-row wgmma minimum); KV pages are loaded page
// by page; a second small kernel combines the splits' partial outputs.
// Functional mode: Q [batch*heads*seq_q, d] (row (b*H + h)*Sq + q), K/V [batch*kv_heads*seq_kv, d/dv]
// (query head h reads KV head h / (H/KVH)), O [batch*heads*seq_q, dv]; queries are the last seq_q
// positions. Each transaction carries its step: the K/V loads fill the tile buffers, S = Q K^T on the
// first MMA, scale + mask + online softmax (running max m, sum l, O rescale) on the vector op, O += P V
// on the second MMA (P rounded to the MMA dtype, as FlashAttention converts it), O / l at the store.
// Decode splits store normalized partial O and their log-sum-exp (fp32) to L2 workspaces
// ("workspace" [.., dv], "lse" [.., 1], row ((b*KVH + g)*splits + s)*rows + r); the combine kernel
// weighs them by exp(lse_s - max lse) and normalizes, which is exact.
#include "kernels/attention/gpu.h"

#include <algorithm>
#include <cmath>

#include "chips/gpu/isa.h"

namespace xpu::gpu {

namespace {
int I(std::int64_t v) { return static_cast<int>(v); }  // functional views use int coordinates

// Buffers of an attention block: 0 Q, 1 K tile, 2 V tile, 3 O accumulator, 4 running max m, 5 running
// sum l, 6 scores S / probabilities P, 7 tile max, 8 new max, 10 rescale factor, 11 tile row sums,
// 12 normalized O, 13 log-sum-exp.
FuncOp init_state(int Q, int q_row0, int rows, int d, int dv, DType dt) {
  using namespace fop;
  return seq({load(0, Q, q_row0, 0, rows, d, dt), fill(3, rows, dv, 0.f), fill(4, rows, 1, -INFINITY),
              fill(5, rows, 1, 0.f)});
}
FuncOp scores(int rows, int kw, DType mma) {
  using namespace fop;
  return seq({fill(6, rows, kw, 0.f), matmul(6, 0, 1, mma, true)});
}
FuncOp online_softmax(float scale, const FuncOp::PosArgs& mask, bool masked) {
  using namespace fop;
  std::vector<FuncOp> v{unary(Unary::Scale, 6, 6, scale)};
  if (masked) {
    FuncOp m;
    m.code = FuncCode::Mask;
    m.dst = 6, m.a = 6;
    m.pos = mask;
    v.push_back(m);
  }
  for (FuncOp f : {reduce(Reduce::Max, 7, 6), binary(Binary::Max, 8, 4, 7), binary(Binary::ExpDiff, 6, 6, 8),
                   binary(Binary::ExpDiff, 10, 4, 8), reduce(Reduce::Sum, 11, 6), binary(Binary::Mul, 5, 5, 10),
                   binary(Binary::Add, 5, 5, 11), binary(Binary::Mul, 3, 3, 10), copy(4, 8)})
    v.push_back(f);
  return seq(v);
}
}  // namespace

KernelPrograms lower_attention(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  if (spec.tensor_flops_per_clk(op.dtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.dtype) + " tensor-core path on this GPU");
  const std::string label = op.label.empty() ? "attention" : op.label;
  const TensorRef Q = opt.ref(label, "Q"), K = opt.ref(label, "K"), V = opt.ref(label, "V"), O = opt.ref(label, "O");
  const double ea = bytes_per_element(op.dtype), ekv = bytes_per_element(op.wdtype), eo = bytes_per_element(op.odtype);
  const std::int64_t d = op.head_dim, dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  const std::int64_t group = op.heads / op.kv_heads;
  const OpSpec o = op;
  KernelPrograms out;
  const bool functional = opt.functional;
  const int Qf = Q.id, Kf = K.id, Vf = V.id, Of = O.id;
  const int WSf = opt.ref(label, "workspace").id, LSEf = opt.ref(label, "lse").id;
  const DType mma = op.dtype;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const bool masked = op.causal || op.window > 0;

  if (!op.decode) {
    const int bq = 128, bkv = 128;
    const std::int64_t qtiles = ceil_div(op.seq_q, bq);
    Program p;
    p.name = "attention";
    p.op = op.label;
    p.strategy = "flash prefill: 128x128 tiles, causal tile skipping, GQA group " + std::to_string(group);
    p.num_tasks = static_cast<std::uint64_t>(op.batch * op.heads * qtiles);
    p.roofline = {op.flops(), op.min_bytes()};
    p.make_task = [=](std::uint64_t index, Task& t) {
      std::int64_t qt = static_cast<std::int64_t>(index) % qtiles;
      std::int64_t bh = static_cast<std::int64_t>(index) / qtiles;
      std::int64_t h = bh % o.heads, b = bh / o.heads, kvh = h / group;
      std::int64_t q0 = qt * bq, qrows = std::min<std::int64_t>(bq, o.seq_q - q0);
      std::int64_t offset = o.seq_kv - o.seq_q;  // queries are the last seq_q positions
      std::int64_t kv_end = o.causal ? std::min(o.seq_kv, offset + q0 + qrows) : o.seq_kv;
      std::int64_t kv_begin = 0;
      if (o.window > 0) kv_begin = std::max<std::int64_t>(0, offset + q0 - o.window + 1);
      t.threads = 384;
      t.registers = 168;
      t.smem_bytes = static_cast<std::uint32_t>(bq * d * ea + 2 * 2 * bkv * (d + dv) * ekv);
      Instr lq;
      lq.kind = TxKind::DmaRead;
      lq.engine = kTma;
      lq.level = kGlobal;
      lq.dtype = o.dtype;
      lq.addr = Q.addr + static_cast<std::uint64_t>(((b * o.heads + h) * o.seq_q + q0) * d * ea);
      lq.bytes = static_cast<std::uint64_t>(qrows * d * ea);
      lq.m = static_cast<std::uint32_t>(qrows);
      const int q_row0 = I((b * o.heads + h) * o.seq_q + q0), kv_row0 = I((b * o.kv_heads + kvh) * o.seq_kv);
      std::uint32_t iq = functional ? t.add(lq, init_state(Qf, q_row0, I(qrows), I(d), I(dv), o.dtype)) : t.add(lq);
      std::uint32_t prev_pv = kNoDep;
      std::vector<std::uint32_t> pv;
      std::int64_t j = 0;
      for (std::int64_t k0 = (kv_begin / bkv) * bkv; k0 < kv_end; k0 += bkv, ++j) {
        std::int64_t kw = std::min<std::int64_t>(bkv, kv_end - k0);
        std::uint64_t kv_off = static_cast<std::uint64_t>(((b * o.kv_heads + kvh) * o.seq_kv + k0));
        Instr lk = lq;
        lk.dtype = o.wdtype;
        lk.addr = K.addr + static_cast<std::uint64_t>(kv_off * d * ekv);
        lk.bytes = static_cast<std::uint64_t>(kw * d * ekv);
        lk.m = static_cast<std::uint32_t>(kw);
        lk.dep[0] = j >= 2 ? pv[static_cast<size_t>(j - 2)] : kNoDep;  // double-buffered K/V
        Instr lv = lk;
        lv.addr = V.addr + static_cast<std::uint64_t>(kv_off * dv * ekv);
        lv.bytes = static_cast<std::uint64_t>(kw * dv * ekv);
        std::uint32_t ik, iv;
        if (functional) {
          ik = t.add(lk, fop::load(1, Kf, kv_row0 + I(k0), 0, I(kw), I(d), o.wdtype));
          iv = t.add(lv, fop::load(2, Vf, kv_row0 + I(k0), 0, I(kw), I(dv), o.wdtype));
        } else {
          ik = t.add(lk);
          iv = t.add(lv);
        }
        Instr s;
        s.kind = TxKind::TileCompute;
        s.engine = kTensor;
        s.dtype = o.dtype;
        s.m = bq, s.n = bkv, s.k = static_cast<std::uint32_t>(d);
        // Useful work: the unmasked (query, key) pairs of this tile.
        std::int64_t pairs = 0;
        for (std::int64_t q = q0; q < q0 + qrows; ++q) {
          std::int64_t hi = o.causal ? std::min(k0 + kw, offset + q + 1) : k0 + kw;
          std::int64_t lo = o.window > 0 ? std::max(k0, offset + q - o.window + 1) : k0;
          pairs += std::max<std::int64_t>(0, hi - lo);
        }
        s.flops = static_cast<std::uint64_t>(2 * pairs * d);
        s.bytes = static_cast<std::uint64_t>((bq * d + bkv * d) * ea);
        s.dep[0] = iq;
        s.dep[1] = ik;
        std::uint32_t is = functional ? t.add(s, scores(I(qrows), I(kw), mma)) : t.add(s);
        Instr sm;
        sm.kind = TxKind::VectorOp;
        sm.engine = kVector;
        sm.dtype = DType::fp32;
        sm.m = bq, sm.n = bkv, sm.k = 1;  // one exp per score
        sm.flops = static_cast<std::uint64_t>(5 * bq * bkv);
        sm.dep[0] = is;
        sm.dep[1] = prev_pv;
        std::uint32_t ism;
        if (functional) {
          FuncOp::PosArgs pos;
          pos.q0 = I(offset + q0);
          pos.k0 = I(k0);
          pos.causal = o.causal;
          pos.window = I(o.window);
          ism = t.add(sm, online_softmax(scale, pos, masked));
        } else {
          ism = t.add(sm);
        }
        Instr a = s;
        a.n = static_cast<std::uint32_t>(dv), a.k = bkv;
        a.flops = static_cast<std::uint64_t>(2 * pairs * dv);
        a.bytes = static_cast<std::uint64_t>((bq * bkv + bkv * dv) * ea);
        a.dep[0] = ism;
        a.dep[1] = iv;
        prev_pv = functional ? t.add(a, fop::matmul(3, 6, 2, mma)) : t.add(a);
        pv.push_back(prev_pv);
      }
      Instr st;
      st.kind = TxKind::DmaWrite;
      st.engine = kTma;
      st.level = kGlobal;
      st.dtype = o.odtype;
      st.addr = O.addr + static_cast<std::uint64_t>(((b * o.heads + h) * o.seq_q + q0) * dv * eo);
      st.bytes = static_cast<std::uint64_t>(qrows * dv * eo);
      st.m = static_cast<std::uint32_t>(qrows);
      st.dep[0] = prev_pv == kNoDep ? iq : prev_pv;
      if (functional)
        t.add(st, fop::seq({fop::binary(Binary::SafeDiv, 12, 3, 5),
                            fop::store(12, Of, q_row0, 0, I(qrows), I(dv), o.odtype)}));
      else
        t.add(st);
    };
    p.functional = functional;
    out.push_back(p);
    return out;
  }

  // Decode: split the context so that (batch x kv_heads x splits) fills the SMs twice over.
  const std::int64_t page = std::max<std::int64_t>(16, op.page_size);
  const std::int64_t kv_len = op.window > 0 ? std::min(op.seq_kv, op.window) : op.seq_kv;
  const std::int64_t pages = ceil_div(kv_len, page);
  std::int64_t splits = 1;
  while (op.batch * op.kv_heads * splits < 2 * spec.sm.count && pages / (splits * 2) >= 4) splits *= 2;
  const std::int64_t pages_per_split = ceil_div(pages, splits);
  const std::int64_t rows = group * op.seq_q;
  const std::int64_t kv_block = std::max<std::int64_t>(page, 64);  // pages loaded in 64-token groups
  Program p;
  p.name = "attention.decode";
  p.op = op.label;
  p.strategy = "paged decode: " + std::to_string(splits) + " splits, page " + std::to_string(page) + ", " +
               std::to_string(rows) + " query rows per KV head";
  p.num_tasks = static_cast<std::uint64_t>(op.batch * op.kv_heads * splits);
  p.roofline = {op.flops(), op.min_bytes()};
  p.make_task = [=](std::uint64_t index, Task& t) {
    std::int64_t s = static_cast<std::int64_t>(index) % splits;
    std::int64_t bk = static_cast<std::int64_t>(index) / splits;
    std::int64_t tok0 = s * pages_per_split * page, tok1 = std::min(kv_len, tok0 + pages_per_split * page);
    t.threads = 128;
    t.registers = 128;
    t.smem_bytes = static_cast<std::uint32_t>(4 * kv_block * (d + dv) * ekv);
    Instr lq;
    lq.kind = TxKind::DmaRead;
    lq.engine = kTma;
    lq.level = kGlobal;
    lq.dtype = o.dtype;
    lq.addr = Q.addr + static_cast<std::uint64_t>(bk * rows * d * ea);
    lq.bytes = static_cast<std::uint64_t>(rows * d * ea);
    lq.m = static_cast<std::uint32_t>(rows);
    const int q_row0 = I(bk * rows), kv_row0 = I(bk * o.seq_kv + (o.seq_kv - kv_len));
    std::uint32_t iq = functional ? t.add(lq, init_state(Qf, q_row0, I(rows), I(d), I(dv), o.dtype)) : t.add(lq);
    std::uint32_t prev = kNoDep;
    std::vector<std::uint32_t> done;
    int j = 0;
    for (std::int64_t k0 = tok0; k0 < tok1; k0 += kv_block, ++j) {
      std::int64_t kw = std::min(kv_block, tok1 - k0);
      // Pages of one sequence are scattered in the paged cache: address by a hash of the page.
      std::uint64_t page_id = static_cast<std::uint64_t>(bk * pages + k0 / page);
      Instr lk = lq;
      lk.dtype = o.wdtype;
      lk.addr = K.addr + page_id * 2654435761ull % (1ull << 36) / 4096 * 4096;
      lk.bytes = static_cast<std::uint64_t>(kw * d * ekv);
      lk.m = static_cast<std::uint32_t>(kw / page > 0 ? kw / page : 1);
      lk.dep[0] = j >= 4 ? done[static_cast<size_t>(j - 4)] : kNoDep;
      Instr lv = lk;
      lv.addr = V.addr + page_id * 2654435761ull % (1ull << 36) / 4096 * 4096;
      lv.bytes = static_cast<std::uint64_t>(kw * dv * ekv);
      std::uint32_t ik, iv;
      if (functional) {
        ik = t.add(lk, fop::load(1, Kf, kv_row0 + I(k0), 0, I(kw), I(d), o.wdtype));
        iv = t.add(lv, fop::load(2, Vf, kv_row0 + I(k0), 0, I(kw), I(dv), o.wdtype));
      } else {
        ik = t.add(lk);
        iv = t.add(lv);
      }
      Instr sc;
      sc.kind = TxKind::TileCompute;
      sc.engine = kTensor;
      sc.dtype = o.dtype;
      sc.m = static_cast<std::uint32_t>(std::max<std::int64_t>(64, rows)), sc.n = static_cast<std::uint32_t>(kw);
      sc.k = static_cast<std::uint32_t>(d);
      sc.flops = static_cast<std::uint64_t>(2 * rows * kw * d);
      sc.bytes = static_cast<std::uint64_t>(kw * d * ekv);
      sc.dep[0] = iq;
      sc.dep[1] = ik;
      std::uint32_t is = functional ? t.add(sc, scores(I(rows), I(kw), mma)) : t.add(sc);
      Instr sm;
      sm.kind = TxKind::VectorOp;
      sm.engine = kVector;
      sm.dtype = DType::fp32;
      sm.m = static_cast<std::uint32_t>(rows), sm.n = static_cast<std::uint32_t>(kw), sm.k = 1;
      sm.flops = static_cast<std::uint64_t>(5 * rows * kw);
      sm.dep[0] = is;
      sm.dep[1] = prev;
      std::uint32_t ism;
      if (functional) {
        // Rows are (query head of the group, query); keys sit at their cache positions.
        FuncOp::PosArgs pos;
        pos.q0 = I(o.seq_kv - o.seq_q);
        pos.period = I(o.seq_q);
        pos.k0 = I(o.seq_kv - kv_len + k0);
        pos.causal = o.causal;
        pos.window = I(o.window);
        ism = t.add(sm, online_softmax(scale, pos, masked));
      } else {
        ism = t.add(sm);
      }
      Instr a = sc;
      a.n = static_cast<std::uint32_t>(dv), a.k = static_cast<std::uint32_t>(kw);
      a.flops = static_cast<std::uint64_t>(2 * rows * kw * dv);
      a.bytes = static_cast<std::uint64_t>(kw * dv * ekv);
      a.dep[0] = ism;
      a.dep[1] = iv;
      prev = functional ? t.add(a, fop::matmul(3, 6, 2, mma)) : t.add(a);
      done.push_back(prev);
    }
    Instr st;
    st.kind = TxKind::DmaWrite;
    st.engine = kTma;
    st.level = splits > 1 ? kL2 : kGlobal;
    st.dtype = splits > 1 ? DType::fp32 : o.odtype;
    st.addr = O.addr + static_cast<std::uint64_t>((bk * splits + s) * rows * dv * 4);
    st.bytes = static_cast<std::uint64_t>(rows * dv * (splits > 1 ? 4 : eo));
    st.dep[0] = prev == kNoDep ? iq : prev;
    if (functional && splits > 1) {
      using namespace fop;
      const int w_row0 = I((bk * splits + s) * rows), r = I(rows);
      t.add(st, seq({binary(Binary::SafeDiv, 12, 3, 5), store(12, WSf, w_row0, 0, r, I(dv), DType::fp32),
                     unary(Unary::Log, 13, 5), binary(Binary::Add, 13, 13, 4), store(13, LSEf, w_row0, 0, r, 1, DType::fp32)}));
    } else if (functional) {
      t.add(st, fop::seq({fop::binary(Binary::SafeDiv, 12, 3, 5),
                          fop::store(12, Of, q_row0, 0, I(rows), I(dv), o.odtype)}));
    } else {
      t.add(st);
    }
  };
  p.functional = functional;
  out.push_back(p);
  if (splits > 1) {
    Program c;
    c.name = "attention.combine";
    c.op = op.label;
    c.strategy = "combine " + std::to_string(splits) + " split partials (log-sum-exp rescale)";
    c.num_tasks = static_cast<std::uint64_t>(op.batch * op.kv_heads);
    c.make_task = [=](std::uint64_t index, Task& t) {
      t.threads = 128;
      Instr l;
      l.kind = TxKind::DmaRead;
      l.engine = kTma;
      l.level = kL2;
      l.dtype = DType::fp32;
      l.addr = O.addr + index * static_cast<std::uint64_t>(splits * rows * dv * 4);
      l.bytes = static_cast<std::uint64_t>(splits * rows * dv * 4);
      const int r = I(rows), w_row0 = I(static_cast<std::int64_t>(index) * splits * rows);
      std::vector<FuncOp> loads, merge;
      if (functional) {
        // Buffers 20 + 2s: split s's normalized O; 21 + 2s: its log-sum-exp.
        using namespace fop;
        for (int sp = 0; sp < splits; ++sp) {
          loads.push_back(load(20 + 2 * sp, WSf, w_row0 + sp * r, 0, r, I(dv), DType::fp32));
          loads.push_back(load(21 + 2 * sp, LSEf, w_row0 + sp * r, 0, r, 1, DType::fp32));
        }
        merge.push_back(copy(4, 21));
        for (int sp = 1; sp < splits; ++sp) merge.push_back(binary(Binary::Max, 4, 4, 21 + 2 * sp));
        merge.push_back(fill(3, r, I(dv), 0.f));
        merge.push_back(fill(5, r, 1, 0.f));
        for (int sp = 0; sp < splits; ++sp)
          for (FuncOp f : {binary(Binary::ExpDiff, 10, 21 + 2 * sp, 4), binary(Binary::Add, 5, 5, 10),
                           binary(Binary::Mul, 11, 20 + 2 * sp, 10), binary(Binary::Add, 3, 3, 11)})
            merge.push_back(f);
        merge.push_back(binary(Binary::SafeDiv, 12, 3, 5));
      }
      std::uint32_t il = functional ? t.add(l, fop::seq(loads)) : t.add(l);
      Instr v;
      v.kind = TxKind::VectorOp;
      v.engine = kVector;
      v.dtype = DType::fp32;
      v.m = static_cast<std::uint32_t>(rows), v.n = static_cast<std::uint32_t>(dv * splits);
      v.flops = static_cast<std::uint64_t>(3 * rows * dv * splits);
      v.dep[0] = il;
      std::uint32_t iv = functional ? t.add(v, fop::seq(merge)) : t.add(v);
      Instr st;
      st.kind = TxKind::DmaWrite;
      st.engine = kTma;
      st.level = kGlobal;
      st.dtype = o.odtype;
      st.addr = O.addr + (1ull << 36) + index * static_cast<std::uint64_t>(rows * dv * eo);
      st.bytes = static_cast<std::uint64_t>(rows * dv * eo);
      st.dep[0] = iv;
      if (functional) t.add(st, fop::store(12, Of, I(static_cast<std::int64_t>(index) * rows), 0, r, I(dv), o.odtype));
      else t.add(st);
    };
    c.functional = functional;
    out.push_back(c);
  }
  return out;
}

}  // namespace xpu::gpu
