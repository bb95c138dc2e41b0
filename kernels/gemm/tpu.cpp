// GEMM on the TPU family: per-TensorCore sequential programs over output blocks (the Pallas/XLA
// grid), double-buffered block DMAs, weight folds on the MXUs, fp32 accumulation and the output
// conversion (plus any fused elementwise epilogue) on the vector unit, stores on their own queue.
#include "kernels/gemm/tpu.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "chips/tpu/isa.h"

namespace xpu::tpu {

std::string GemmTiling::str() const {
  std::ostringstream os;
  os << "block " << bm << "x" << bn << "x" << bk << " (bm x bn x bk), " << buffers << " buffers, " << cores << " TensorCore"
     << (cores > 1 ? "s" : "") << ", VMEM " << format_bytes(vmem_bytes);
  return os.str();
}

std::uint32_t join(Task& t, const std::vector<std::uint32_t>& deps) {
  std::vector<std::uint32_t> d;
  for (auto x : deps)
    if (x != kNoDep) d.push_back(x);
  if (d.size() == 1) return d[0];
  std::uint32_t cur = kNoDep;
  size_t i = 0;
  do {
    Instr s;
    s.kind = TxKind::Sync;
    s.engine = kScalar;
    s.n = 0;
    int slot = 0;
    if (cur != kNoDep) s.dep[slot++] = cur;
    while (slot < 3 && i < d.size()) s.dep[slot++] = d[i++];
    cur = t.add(s);
  } while (i < d.size());
  return cur;
}

MxuEmitter::MxuEmitter(const TpuSpec& spec, DType dtype)
    : m_spec(spec),
      m_dtype(dtype),
      m_prev1(static_cast<size_t>(spec.mxu.count), kNoDep),
      m_prev2(static_cast<size_t>(spec.mxu.count), kNoDep),
      m_used(static_cast<size_t>(spec.mxu.count), false) {}

std::uint32_t MxuEmitter::matmul(Task& t, int rows, std::int64_t kw, std::int64_t cols, std::uint32_t a_dep,
                                 std::uint32_t w_dep, std::uint32_t extra, const FuncOp* func) {
  const std::int64_t R = static_cast<std::int64_t>(m_spec.mxu.rows) * std::max(1, m_spec.k_pack(m_dtype));
  const std::int64_t C = m_spec.mxu.cols;
  const int nm = m_spec.mxu.count;
  const bool dbl = m_spec.mxu.weight_buffers >= 2;
  const std::int64_t fk = ceil_div(kw, R), fn = ceil_div(cols, C);
  const double eb = bytes_per_element(m_dtype);
  std::uint32_t first = kNoDep;
  for (std::int64_t nf = 0; nf < fn; ++nf) {
    for (std::int64_t kf = 0; kf < fk; ++kf) {
      const int j = m_rr;
      m_rr = (m_rr + 1) % nm;
      const std::int64_t kext = std::min(R, kw - kf * R), next = std::min(C, cols - nf * C);
      Instr push;
      push.kind = TxKind::TileCompute;
      push.engine = mxu_weights(j);
      push.dtype = m_dtype;
      push.k = static_cast<std::uint32_t>(kext);
      push.n = static_cast<std::uint32_t>(next);
      push.bytes = static_cast<std::uint64_t>(kext * next * eb);
      push.dep[0] = w_dep;
      push.dep[1] = dbl ? m_prev2[static_cast<size_t>(j)] : m_prev1[static_cast<size_t>(j)];
      const std::uint32_t ip = t.add(push);
      m_last_push = ip;
      Instr d;
      d.kind = TxKind::TileCompute;
      d.engine = mxu_data(j);
      d.dtype = m_dtype;
      d.m = static_cast<std::uint32_t>(rows);
      d.k = static_cast<std::uint32_t>(kext);
      d.n = static_cast<std::uint32_t>(next);
      d.flops = static_cast<std::uint64_t>(2.0 * rows * kext * next);
      d.bytes = static_cast<std::uint64_t>(rows * kext * eb);
      d.dep[0] = ip;
      d.dep[1] = a_dep;
      d.dep[2] = extra;
      const std::uint32_t id = (func && first == kNoDep) ? t.add(d, *func) : t.add(d);
      if (first == kNoDep) first = id;
      m_last_data = id;
      if (dbl) {
        m_prev2[static_cast<size_t>(j)] = m_prev1[static_cast<size_t>(j)];
        m_prev1[static_cast<size_t>(j)] = id;
      } else {
        Instr dr;  // single-buffered: the next push waits until this fold has drained
        dr.kind = TxKind::Sync;
        dr.engine = mxu_data(j);
        dr.dep[0] = id;
        m_prev1[static_cast<size_t>(j)] = t.add(dr);
      }
      m_used[static_cast<size_t>(j)] = true;
      ++m_folds;
    }
  }
  if (m_accumulate) {
    // The folds' fp32 partial sums are popped from the MXUs and added into the accumulator block in
    // VMEM by the vector unit (a partial fold still returns a full C-wide row).
    Instr acc;
    acc.kind = TxKind::VectorOp;
    acc.engine = kVpu;
    acc.dtype = DType::fp32;
    acc.m = static_cast<std::uint32_t>(rows);
    acc.n = static_cast<std::uint32_t>(cols);
    acc.flops = static_cast<std::uint64_t>(static_cast<double>(fk * fn) * rows * C);
    acc.bytes = static_cast<std::uint64_t>(static_cast<double>(fk) * rows * cols * 8.0);
    acc.dep[0] = m_last_data;
    t.add(acc);
  }
  return first;
}

std::uint32_t MxuEmitter::drain(Task& t) {
  std::vector<std::uint32_t> d;
  const bool dbl = m_spec.mxu.weight_buffers >= 2;
  for (size_t j = 0; j < m_used.size(); ++j) {
    if (!m_used[j]) continue;
    m_used[j] = false;
    if (!dbl) {
      d.push_back(m_prev1[j]);  // every fold already drained
      continue;
    }
    Instr dr;
    dr.kind = TxKind::Sync;
    dr.engine = mxu_data(static_cast<int>(j));
    dr.dep[0] = m_prev1[j];
    d.push_back(t.add(dr));
  }
  if (d.empty()) return join(t, {m_last_data});
  return join(t, d);
}

void check_mxu_dtypes(const OpSpec& op, const TpuSpec& spec) {
  std::string why = spec.dtype_refusal(op.dtype);
  if (!why.empty()) unsupported(spec.name, op, why);
  if (op.wdtype != op.dtype) {
    if (bytes_per_element(op.wdtype) > bytes_per_element(op.dtype))
      unsupported(spec.name, op, std::string("weights (") + name(op.wdtype) + ") wider than activations (" +
                                     name(op.dtype) + "): run the GEMM in the weight dtype");
    if (op.wdtype != DType::int8 && op.wdtype != DType::fp8 && op.wdtype != DType::bf16)
      unsupported(spec.name, op, std::string("no ") + name(op.wdtype) + " weight storage format on TPU (use int8 or fp8)");
  }
}

namespace {

// One output block of the (possibly grouped or batched) GEMM.
struct Block {
  std::int64_t group = 0, row0 = 0, rows = 0, col0 = 0, cols = 0, brow0 = 0, tm = 0, tn = 0;
};

struct Grid {
  struct Group {
    std::int64_t rows, row0, tiles_m, tile0;
  };
  std::vector<Group> groups;
  std::int64_t tiles_n = 0, total = 0;
  Block block(std::int64_t b, const GemmTiling& t, const OpSpec& op) const {
    size_t gi = 0;
    while (gi + 1 < groups.size() && groups[gi + 1].tile0 <= b) ++gi;
    const Group& g = groups[gi];
    std::int64_t local = b - g.tile0;
    Block k;
    k.group = static_cast<std::int64_t>(gi);
    k.tm = local / tiles_n;
    k.tn = local % tiles_n;
    k.row0 = g.row0 + k.tm * t.bm;
    k.rows = std::min<std::int64_t>(t.bm, g.rows - k.tm * t.bm);
    k.col0 = k.tn * t.bn;
    k.cols = std::min<std::int64_t>(t.bn, op.n - k.col0);
    k.brow0 = k.group * op.k;
    return k;
  }
};

Grid make_grid(const OpSpec& op, int bm, int bn) {
  Grid g;
  g.tiles_n = ceil_div(op.n, bn);
  std::int64_t row0 = 0;
  auto add = [&](std::int64_t rows) {
    Grid::Group gr{rows, row0, ceil_div(rows, bm), g.total};
    g.total += gr.tiles_m * g.tiles_n;
    row0 += rows;
    g.groups.push_back(gr);
  };
  if (op.kind == OpKind::GroupedGemm)
    for (auto r : op.group_rows) add(r);
  else
    for (std::int64_t b = 0; b < op.batch; ++b) add(op.m);
  return g;
}

std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

double vmem_need(int bm, int bn, int bk, int nb, const OpSpec& op) {
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype), ec = bytes_per_element(op.odtype);
  return nb * (bm * static_cast<double>(bk) * ea + bk * static_cast<double>(bn) * eb) + bm * static_cast<double>(bn) * 4.0 +
         2.0 * bm * static_cast<double>(bn) * ec;
}

}  // namespace

GemmTiling choose_gemm_tiling(const OpSpec& op, const TpuSpec& spec) {
  const std::int64_t R = static_cast<std::int64_t>(spec.mxu.rows) * std::max(1, spec.k_pack(op.dtype));
  const std::int64_t C = spec.mxu.cols;
  const double clk = spec.clock.value();
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype), ec = bytes_per_element(op.odtype);
  const double budget = spec.vmem_capacity.value() * spec.vmem_budget;
  std::int64_t mrows = op.m;
  if (op.kind == OpKind::GroupedGemm) {
    mrows = 1;
    for (auto r : op.group_rows) mrows = std::max(mrows, r);
  }
  std::vector<int> bms, bns, bks;
  auto push = [](std::vector<int>& v, std::int64_t x) {
    if (x > 0 && std::find(v.begin(), v.end(), static_cast<int>(x)) == v.end()) v.push_back(static_cast<int>(x));
  };
  for (int c : {128, 256, 512, 1024, 2048}) push(bms, std::min<std::int64_t>(c, round_up(mrows, 8)));
  for (int f : {1, 2, 4, 8, 16}) push(bns, std::min<std::int64_t>(f * C, round_up(op.n, C)));
  for (int f : {1, 2, 4, 8, 16, 32}) push(bks, std::min<std::int64_t>(f * R, round_up(op.k, R)));

  GemmTiling best;
  best.estimate_s = 1e30;
  for (int bm : bms)
    for (int bn : bns)
      for (int bk : bks)
        for (int nb : {2, 3}) {
        double vm = vmem_need(bm, bn, bk, nb, op);
        if (vm > budget) continue;
        Grid g = make_grid(op, bm, bn);
        std::int64_t blocks = std::max<std::int64_t>(1, g.total);
        int cores = static_cast<int>(std::min<std::int64_t>(spec.tensorcores, blocks));
        std::int64_t nk = ceil_div(op.k, bk);
        double steps = static_cast<double>(ceil_div(blocks, cores) * nk);
        double rows = static_cast<double>(std::min<std::int64_t>(bm, mrows));
        double folds = std::ceil(static_cast<double>(ceil_div(bk, R) * ceil_div(bn, C)) / spec.mxu.count);
        double t_mxu = folds * std::max(rows, static_cast<double>(spec.mxu.rows)) * spec.passes(op.dtype) / clk;
        double bw = std::min(spec.dma_bandwidth.value(), spec.hbm.bandwidth.value() * spec.hbm.efficiency / cores);
        double a_bytes = nk > 1 || g.tiles_n == 1 ? rows * bk * ea : rows * bk * ea / std::min<double>(g.tiles_n, 4);
        // nb - 1 steps of prefetch hide the copy latency over that many steps.
        double t_dma = (a_bytes + static_cast<double>(bk) * bn * eb) / bw + spec.hbm.latency.value() / (nb - 1);
        double t_step = std::max({t_mxu, t_dma, spec.step_cycles / clk});
        double prologue = (rows * bk * ea + static_cast<double>(bk) * bn * eb) / bw + spec.hbm.latency.value();
        double epilogue = rows * bn * ec / bw + (spec.mxu.rows + C) / clk + spec.hbm.latency.value();
        double est = steps * t_step + prologue + epilogue;
        if (est < best.estimate_s * 0.999) {
          best.bm = bm;
          best.bn = bn;
          best.bk = bk;
          best.buffers = nb;
          best.cores = cores;
          best.vmem_bytes = vm;
          best.estimate_s = est;
        }
      }
  if (best.estimate_s >= 1e30) throw InputError(spec.name + ": no GEMM block fits the VMEM budget");
  return best;
}

KernelPrograms lower_gemm(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  check_mxu_dtypes(op, spec);
  return lower_gemm(op, spec, opt, choose_gemm_tiling(op, spec));
}

KernelPrograms lower_gemm(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt, const GemmTiling& t,
                          const GemmEpilogue& epi) {
  op.validate();
  check_mxu_dtypes(op, spec);
  const std::string label = op.label.empty() ? "gemm" : op.label;
  const TensorRef A = opt.ref(label, "A"), B = opt.ref(label, "B"), Cref = opt.ref(label, "C");
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype), ec = bytes_per_element(op.odtype);
  auto grid = std::make_shared<Grid>(make_grid(op, t.bm, t.bn));
  const int cores = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(spec.tensorcores, grid->total)));
  const std::int64_t nk = ceil_div(op.k, t.bk);
  const bool functional = opt.functional;
  const OpSpec o = op;
  const TpuSpec spec_copy = spec;  // programs may outlive the caller's spec
  const bool dequant = op.wdtype != op.dtype;

  Program p;
  p.name = op.kind == OpKind::GroupedGemm ? "grouped_gemm" : "gemm";
  p.op = op.label;
  p.strategy = t.str() + (epi.name.empty() ? "" : ", fused " + epi.name + " epilogue");
  p.num_tasks = static_cast<std::uint64_t>(grid->total > 0 ? cores : 0);
  p.static_placement = true;
  p.functional = functional;
  p.roofline = {op.flops(), op.min_bytes()};
  p.make_task = [=](std::uint64_t core, Task& task) {
    const TpuSpec& s = spec_copy;
    MxuEmitter mx(s, o.dtype);
    std::vector<Block> blocks;
    for (std::int64_t b = static_cast<std::int64_t>(core); b < grid->total; b += cores) {
      Block k = grid->block(b, t, o);
      if (k.rows > 0 && k.cols > 0) blocks.push_back(k);
    }
    const std::int64_t steps = static_cast<std::int64_t>(blocks.size()) * nk;
    struct Loaded {
      std::uint32_t a = kNoDep, b = kNoDep;
      int abuf = 1, bbuf = 11;
    };
    std::vector<Loaded> ld(static_cast<size_t>(steps));
    std::int64_t a_key_prev = -1, b_key_prev = -1;
    std::uint32_t a_prev = kNoDep, b_prev = kNoDep;
    int abuf = 9, bbuf = 19;
    std::vector<std::uint32_t> last_data_of_step(static_cast<size_t>(steps), kNoDep);
    auto emit_loads = [&](std::int64_t st, std::uint32_t dep0, std::uint32_t dep1) {
      const Block& k = blocks[static_cast<size_t>(st / nk)];
      const std::int64_t kk = st % nk, k0 = kk * t.bk, kw = std::min<std::int64_t>(t.bk, o.k - k0);
      Loaded& L = ld[static_cast<size_t>(st)];
      // A block (rows x kw): skipped when the previous step already holds it (Pallas skips the copy
      // when a block index does not change between consecutive grid steps).
      std::int64_t akey = (k.row0 * 1000003 + kk) * 4 + 1;
      if (akey != a_key_prev) {
        Instr la;
        la.kind = TxKind::DmaRead;
        la.engine = kDmaIn;
        la.level = kHbm;
        la.dtype = o.dtype;
        la.addr = A.addr + static_cast<std::uint64_t>((k.row0 * o.k + k0) * ea);
        la.bytes = static_cast<std::uint64_t>(k.rows * kw * ea);
        la.m = static_cast<std::uint32_t>(k.rows);
        la.n = static_cast<std::uint32_t>(kw);
        la.dep[0] = dep0;
        la.dep[1] = dep1;
        abuf = abuf >= 9 ? 1 : abuf + 1;  // functional buffer ids 1..9 rotate (more than any prefetch depth)
        if (functional) {
          a_prev = task.add(la, fop::load(abuf, A.id, static_cast<int>(k.row0), static_cast<int>(k0),
                                          static_cast<int>(k.rows), t.bk, o.dtype));
        } else {
          a_prev = task.add(la);
        }
        a_key_prev = akey;
      }
      L.a = a_prev;
      L.abuf = abuf;
      std::int64_t bkey = ((k.group * 1000003 + kk) * 1000003 + k.tn) * 4 + 2;
      if (bkey != b_key_prev) {
        Instr lb;
        lb.kind = TxKind::DmaRead;
        lb.engine = kDmaIn;
        lb.level = kHbm;
        lb.dtype = o.wdtype;
        lb.addr = B.addr + static_cast<std::uint64_t>(((k.brow0 + k0) * o.n + k.col0) * eb);
        lb.bytes = static_cast<std::uint64_t>(kw * k.cols * eb);
        lb.m = static_cast<std::uint32_t>(kw);
        lb.n = static_cast<std::uint32_t>(k.cols);
        lb.dep[0] = dep0;
        lb.dep[1] = dep1;
        bbuf = bbuf >= 19 ? 11 : bbuf + 1;
        if (functional) {
          b_prev = task.add(lb, fop::load(bbuf, B.id, static_cast<int>(k.brow0 + k0), static_cast<int>(k.col0), t.bk,
                                          static_cast<int>(k.cols), o.wdtype));
        } else {
          b_prev = task.add(lb);
        }
        if (dequant) {
          // Narrow weights are widened to the MXU dtype on the vector unit once per block.
          Instr cv;
          cv.kind = TxKind::VectorOp;
          cv.engine = kVpu;
          cv.dtype = o.dtype;
          cv.m = static_cast<std::uint32_t>(kw);
          cv.n = static_cast<std::uint32_t>(k.cols);
          cv.flops = static_cast<std::uint64_t>(2 * kw * k.cols);
          cv.bytes = static_cast<std::uint64_t>(kw * k.cols * (eb + ea));
          cv.dep[0] = b_prev;
          b_prev = task.add(cv);
        }
        b_key_prev = bkey;
      }
      L.b = b_prev;
      L.bbuf = bbuf;
    };

    std::vector<std::uint32_t> stores;
    const std::int64_t depth = std::max(1, t.buffers - 1);
    for (std::int64_t st = 0; st < std::min(depth, steps); ++st) emit_loads(st, kNoDep, kNoDep);
    for (std::int64_t st = 0; st < steps; ++st) {
      const Block& k = blocks[static_cast<size_t>(st / nk)];
      const std::int64_t kk = st % nk, k0 = kk * t.bk, kw = std::min<std::int64_t>(t.bk, o.k - k0);
      // Grid-step bookkeeping on the scalar unit, once it has issued the previous step's MXU work.
      Instr sc;
      sc.kind = TxKind::Sync;
      sc.engine = kScalar;
      sc.n = 1;
      sc.dep[0] = mx.last_push();
      std::uint32_t isc;
      if (functional && kk == 0) {
        FuncOp z;
        z.code = FuncCode::Zero;
        z.dst = 0;
        z.rows = static_cast<int>(k.rows);
        z.cols = static_cast<int>(k.cols);
        isc = task.add(sc, z);
      } else {
        isc = task.add(sc);
      }
      // Prefetch `depth` steps ahead into the buffers the previous step used.
      if (st + depth < steps)
        emit_loads(st + depth, isc, st >= 1 ? last_data_of_step[static_cast<size_t>(st - 1)] : kNoDep);
      const Loaded& L = ld[static_cast<size_t>(st)];
      FuncOp fm;
      if (functional) {
        fm.code = FuncCode::MatMul;
        fm.dst = 0;
        fm.a = L.abuf;
        fm.b = L.bbuf;
        fm.dtype = o.dtype;
      }
      mx.matmul(task, static_cast<int>(k.rows), kw, k.cols, L.a, L.b, isc, functional ? &fm : nullptr);
      last_data_of_step[static_cast<size_t>(st)] = mx.last_data();
      if (kk + 1 < nk) continue;
      // Epilogue: drain the MXUs, convert (and apply any fused elementwise op) on the vector unit,
      // store on the output DMA queue. Two output buffers: the block two back must be stored.
      std::uint32_t dr = mx.drain(task);
      Instr v;
      v.kind = TxKind::VectorOp;
      v.engine = kVpu;
      v.dtype = DType::fp32;
      v.m = static_cast<std::uint32_t>(k.rows);
      v.n = static_cast<std::uint32_t>(k.cols);
      v.k = static_cast<std::uint32_t>(std::ceil(epi.transcendentals_per_elem));
      v.flops = static_cast<std::uint64_t>(k.rows * k.cols * (1.0 + epi.flops_per_elem));
      v.bytes = static_cast<std::uint64_t>(k.rows * k.cols * (4.0 + ec));
      v.dep[0] = dr;
      v.dep[1] = stores.size() >= 2 ? stores[stores.size() - 2] : kNoDep;
      std::uint32_t iv = task.add(v);
      Instr w;
      w.kind = TxKind::DmaWrite;
      w.engine = kDmaOut;
      w.level = kHbm;
      w.dtype = o.odtype;
      w.addr = Cref.addr + static_cast<std::uint64_t>((k.row0 * o.n + k.col0) * ec);
      w.bytes = static_cast<std::uint64_t>(k.rows * k.cols * ec);
      w.m = static_cast<std::uint32_t>(k.rows);
      w.n = static_cast<std::uint32_t>(k.cols);
      w.dep[0] = iv;
      if (functional) {
        stores.push_back(task.add(w, fop::store(0, Cref.id, static_cast<int>(k.row0), static_cast<int>(k.col0),
                                                static_cast<int>(k.rows), static_cast<int>(k.cols), o.odtype)));
      } else {
        stores.push_back(task.add(w));
      }
    }
  };
  return {p};
}

}  // namespace xpu::tpu
