// GEMM on the TPU family: per-TensorCore sequential programs over output blocks (the Pallas/XLA
// grid), double-buffered block DMAs, weight folds on the MXUs, fp32 accumulation and the output
// conversion (plus any fused elementwise epilogue) on the vector unit, stores on their own queue.
#include "kernels/gemm/tpu.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <sstream>

#include "kernels/tpu_builders.h"

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
    Instr s = scalar_steps(0);
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
                                 std::uint32_t w_dep, std::uint32_t extra) {
  build::Emitter emit(t, false);
  return matmul(emit, rows, kw, cols, a_dep, w_dep, extra, FuncOp{});
}

std::uint32_t MxuEmitter::matmul(build::Emitter& emit, int rows, std::int64_t kw, std::int64_t cols, std::uint32_t a_dep,
                                 std::uint32_t w_dep, std::uint32_t extra, const FuncOp& func) {
  Task& t = emit.task();
  const std::int64_t R = static_cast<std::int64_t>(m_spec.mxu.rows) * std::max(1, m_spec.k_pack(m_dtype));
  const std::int64_t C = m_spec.mxu.cols;
  const int nm = m_spec.mxu.count;
  const bool dbl = m_spec.mxu.weight_buffers >= 2;
  const std::int64_t fk = ceil_div(kw, R), fn = ceil_div(cols, C);
  const double eb = bytes_per_element(m_dtype);
  m_conv.clear();
  if (m_widen) {
    const double ops = m_spec.vpu.convert_ops_per_elem, en = bytes_per_element(m_widen_from);
    for (std::int64_t nf = 0; nf < fn; ++nf)
      for (std::int64_t kf = 0; kf < fk; ++kf) {
        const std::int64_t kext = std::min(R, kw - kf * R), next = std::min(C, cols - nf * C);
        m_conv.push_back(t.add(after(vpu(m_dtype, static_cast<std::uint32_t>(kext), static_cast<std::uint32_t>(next), 0,
                                         static_cast<std::uint64_t>(ops * static_cast<double>(kext * next)),
                                         static_cast<std::uint64_t>(static_cast<double>(kext * next) * (en + eb))),
                                     w_dep)));
      }
  }
  std::uint32_t first = kNoDep;
  size_t fold = 0;
  for (std::int64_t nf = 0; nf < fn; ++nf) {
    for (std::int64_t kf = 0; kf < fk; ++kf, ++fold) {
      const int j = m_rr;
      m_rr = (m_rr + 1) % nm;
      const std::int64_t kext = std::min(R, kw - kf * R), next = std::min(C, cols - nf * C);
      const Instr push = mxu_push(j, m_dtype, static_cast<std::uint32_t>(kext), static_cast<std::uint32_t>(next),
                                  static_cast<std::uint64_t>(kext * next * eb));
      const std::uint32_t ip = t.add(after(push, m_widen ? m_conv[fold] : w_dep,
                                           dbl ? m_prev2[static_cast<size_t>(j)] : m_prev1[static_cast<size_t>(j)]));
      m_last_push = ip;
      const Instr d = after(mxu_stream(j, m_dtype, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(kext),
                                       static_cast<std::uint32_t>(next), static_cast<std::uint64_t>(2.0 * rows * kext * next),
                                       static_cast<std::uint64_t>(rows * kext * eb)),
                            ip, a_dep, extra);
      const std::uint32_t id = first == kNoDep ? emit(d, func) : emit(d);
      if (first == kNoDep) first = id;
      m_last_data = id;
      if (dbl) {
        m_prev2[static_cast<size_t>(j)] = m_prev1[static_cast<size_t>(j)];
        m_prev1[static_cast<size_t>(j)] = id;
      } else {
        // Single-buffered: the next push waits until this fold has drained.
        m_prev1[static_cast<size_t>(j)] = t.add(after(mxu_drain(j), id));
      }
      m_used[static_cast<size_t>(j)] = true;
      ++m_folds;
    }
    if (m_accumulate) {
      // The column group's fp32 partial sums are popped from the MXUs and added into the accumulator
      // block in VMEM by the vector unit as they come out (a partial fold still returns a full C-wide
      // row), so only the last group's additions trail the last stream.
      const std::int64_t next = std::min(C, cols - nf * C);
      m_last_acc = t.add(after(vpu(DType::fp32, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(next), 0,
                                   static_cast<std::uint64_t>(static_cast<double>(fk) * rows * C),
                                   static_cast<std::uint64_t>(static_cast<double>(fk) * rows * next * 8.0)),
                               m_last_data));
    }
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
    d.push_back(t.add(after(mxu_drain(static_cast<int>(j)), m_prev1[j])));
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

// Input buffers, the fp32 accumulator and two output buffers; with narrow weights also one widened
// copy of the weight block (a step's converts may all run ahead of its pushes).
double vmem_need(int bm, int bn, int bk, int nb, const OpSpec& op) {
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype), ec = bytes_per_element(op.odtype);
  const double widened = op.wdtype != op.dtype ? bk * static_cast<double>(bn) * ea : 0.0;
  return nb * (bm * static_cast<double>(bk) * ea + bk * static_cast<double>(bn) * eb) + bm * static_cast<double>(bn) * 4.0 +
         2.0 * bm * static_cast<double>(bn) * ec + widened;
}

}  // namespace

GemmTiling choose_gemm_tiling(const OpSpec& op, const TpuSpec& spec) {
  const std::int64_t R = static_cast<std::int64_t>(spec.mxu.rows) * std::max(1, spec.k_pack(op.dtype));
  const std::int64_t C = spec.mxu.cols;
  const double clk = spec.clock.value();
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype), ec = bytes_per_element(op.odtype);
  const double budget = spec.kernel_vmem_bytes();
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
          std::int64_t nk = ceil_div(op.k, bk);
          double rows = static_cast<double>(std::min<std::int64_t>(bm, mrows));
          double folds = std::ceil(static_cast<double>(ceil_div(bk, R) * ceil_div(bn, C)) / spec.mxu.count);
          double t_mxu = folds * std::max(rows, static_cast<double>(spec.mxu.rows)) * spec.passes(op.dtype) / clk;
          double a_bytes = nk > 1 || g.tiles_n == 1 ? rows * bk * ea : rows * bk * ea / std::min<double>(g.tiles_n, 4);
          // A step's body also waits for its bookkeeping or first weight push (whichever is longer) and
          // for the arrays' fill and drain before the next body starts.
          double t_body = (std::max(spec.step_cycles, static_cast<double>(spec.mxu.rows) * spec.passes(op.dtype)) +
                           spec.mxu.rows + C - 2) / clk;
          // Narrow weights: the vector unit widens the block fold by fold ahead of the pushes, so the
          // body takes the longer of the two plus one fold's convert before the first push.
          double t_conv = 0, t_fold_conv = 0;
          if (op.wdtype != op.dtype) {
            const double per_elem = spec.vpu.convert_ops_per_elem / spec.vpu_ops_per_clk() / clk;
            t_conv = static_cast<double>(bk) * bn * per_elem;
            t_fold_conv = static_cast<double>(std::min<std::int64_t>(bk, R)) * std::min<std::int64_t>(bn, C) * per_elem;
          }
          // Fewer TensorCores than blocks where the cores' shares of the HBM would starve each other: what
          // one core runs, two could run the same way, so a megacore what-if is never estimated slower.
          for (int cores = static_cast<int>(std::min<std::int64_t>(spec.tensorcores, blocks)); cores >= 1; --cores) {
            double steps = static_cast<double>(ceil_div(blocks, cores) * nk);
            double bw = std::min(spec.dma_bandwidth.value(), spec.hbm.bandwidth.value() * spec.hbm.efficiency / cores);
            // nb - 1 copies in flight: a step waits for the stream (its bytes at bw) or, where the copies'
            // latency is not covered by the stream, for one copy's latency and stream shared by the nb - 1
            // in flight (Little's law). Charging latency / (nb - 1) on top of the stream counted it even where
            // the other copies' streams hide it, so deeper (fewer, longer) steps looked faster than they run.
            const double t_stream = (a_bytes + static_cast<double>(bk) * bn * eb) / bw;
            double t_dma = std::max(t_stream, (t_stream + spec.hbm.latency.value()) / (nb - 1));
            double t_step = std::max(std::max(t_mxu, t_conv) + t_fold_conv + t_body, t_dma);
            double prologue = (rows * bk * ea + static_cast<double>(bk) * bn * eb) / bw + spec.hbm.latency.value();
            double epilogue = rows * bn * ec / bw + (spec.mxu.rows + C) / clk + spec.hbm.write_latency_s();
            double est = steps * t_step + prologue + epilogue;
            if (est < best.estimate_s * 0.999) best = GemmTiling{bm, bn, bk, nb, cores, vm, est};
          }
        }
  if (best.estimate_s >= 1e30) throw InputError(spec.name + ": vmem.capacity: '" + spec.vmem_capacity.str() + "': no GEMM block fits the VMEM budget (vmem.kernel_budget of it, within vmem.scoped_limit)",
                                                "", spec.vmem_capacity.str())
                                     .with_key("", "vmem.capacity");
  return best;
}

KernelPrograms lower_gemm(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  check_mxu_dtypes(op, spec);
  if (!opt.gemm_block.set()) return lower_gemm(op, spec, opt, choose_gemm_tiling(op, spec));
  // The kernel's own block shape (a Pallas kernel's bm, bn, bk), double-buffered as Pallas pipelines it.
  GemmTiling t;
  t.bm = static_cast<int>(opt.gemm_block.m), t.bn = static_cast<int>(opt.gemm_block.n), t.bk = static_cast<int>(opt.gemm_block.k);
  t.vmem_bytes = vmem_need(t.bm, t.bn, t.bk, t.buffers, op);
  if (t.vmem_bytes > spec.vmem_capacity.value())
    throw InputError(spec.name + ": GEMM " + t.str() + ": more than the chip's " + format_bytes(spec.vmem_capacity.value()) +
                     " of VMEM", "", spec.vmem_capacity.str()).with_key("", "vmem.capacity");
  return lower_gemm(op, spec, opt, t);
}

namespace {

// What every TensorCore's program needs (immutable, shared by the tasks).
struct GemmJob {
  OpSpec o;
  TpuSpec spec;  // programs may outlive the caller's spec
  GemmTiling t;
  GemmEpilogue epi;
  TensorRef A, B, C;
  double ea = 0, eb = 0, ec = 0;
  Grid grid;
  int cores = 1;
  std::int64_t nk = 0;
  bool functional = false;
};

// One TensorCore's sequential program over its output blocks: the Pallas grid with the K loop
// innermost, block DMAs prefetched `buffers - 1` steps ahead, the MXU folds, and the epilogue.
// Its state is bounded (the blocks and loads of the steps in flight), as the executor takes the
// program piece by piece (sim/base/task_stream.h).
class CoreProgram {
 public:
  CoreProgram(const GemmJob& j, std::uint64_t core, Task& task)
      : m_j(j), m_emit(task, j.functional), m_task(task), m_mx(j.spec, j.o.dtype), m_next_block(static_cast<std::int64_t>(core)) {
    if (j.o.wdtype != j.o.dtype) m_mx.set_widen(j.o.wdtype);  // narrow weights widened fold by fold in the step body
    std::int64_t blocks = 0;
    for (std::int64_t b = m_next_block; b < j.grid.total; b += j.cores) {
      Block k = j.grid.block(b, j.t, j.o);
      if (k.rows > 0 && k.cols > 0) ++blocks;
    }
    m_steps = blocks * j.nk;
    m_ld.resize(static_cast<size_t>(std::max(1, m_j.t.buffers - 1) + 2));
  }

  void emit() {
    const std::int64_t depth = std::max(1, m_j.t.buffers - 1);
    for (std::int64_t st = 0; st < std::min(depth, m_steps); ++st) load_step(st, kNoDep, kNoDep);
    for (std::int64_t st = 0; st < m_steps; ++st) {
      const Block& k = block_of(st);
      const std::int64_t kk = st % m_j.nk;
      // A grid step is one body of straight-line code (the compiler pipelines only the block copies
      // across steps): its bookkeeping on the scalar unit (semaphore waits, the next copies' issue)
      // and its first weight push start when the previous body has ended; the push overlaps the
      // bookkeeping (separate VLIW slots), the row streams wait for both.
      const Loaded& L = loaded(st);
      const std::uint32_t weights = join(m_task, {L.b, m_body_end});  // ahead of the bookkeeping: not queued behind it
      const Instr sc = after(scalar_steps(1), m_body_end);
      const std::uint32_t isc =
          kk == 0 ? m_emit(sc, [&] { return fop::zero(0, static_cast<int>(k.rows), static_cast<int>(k.cols)); }) : m_emit(sc);
      // Prefetch `depth` steps ahead into the buffers the previous step used.
      if (st + depth < m_steps) load_step(st + depth, isc, m_prev_data);
      m_mx.matmul(m_emit, static_cast<int>(k.rows), kwidth(kk), k.cols, L.a, weights, isc, fop::matmul(0, L.abuf, L.bbuf, m_j.o.dtype));
      m_prev_data = m_mx.last_data();
      // The body ends when its products have left the arrays (fill and drain: R + C - 2 cycles after
      // the last row entered) and have been added into the accumulator (`acc_ref[...] += dot(...)`).
      m_body_end = join(m_task, {m_mx.drain(m_task), m_mx.last_accumulate()});
      if (kk + 1 == m_j.nk) {
        epilogue(k);
        m_blocks.pop_front();
        ++m_block_base;
      }
    }
  }

 private:
  struct Loaded {
    std::uint32_t a = kNoDep, b = kNoDep;
    int abuf = 1, bbuf = 11;
  };

  // The block of grid step `st` (steps run in order, at most `buffers - 1` ahead of the current one).
  const Block& block_of(std::int64_t st) {
    const std::int64_t i = st / m_j.nk;
    while (m_block_base + static_cast<std::int64_t>(m_blocks.size()) <= i) {
      Block k = m_j.grid.block(m_next_block, m_j.t, m_j.o);
      m_next_block += m_j.cores;
      if (k.rows > 0 && k.cols > 0) m_blocks.push_back(k);
    }
    return m_blocks[static_cast<size_t>(i - m_block_base)];
  }
  Loaded& loaded(std::int64_t st) { return m_ld[static_cast<size_t>(st) % m_ld.size()]; }
  std::int64_t kwidth(std::int64_t kk) const { return std::min<std::int64_t>(m_j.t.bk, m_j.o.k - kk * m_j.t.bk); }

  // The A and B blocks of grid step `st`. A block is skipped when the previous step already holds it
  // (Pallas skips the copy when a block index does not change between consecutive grid steps).
  void load_step(std::int64_t st, std::uint32_t dep0, std::uint32_t dep1) {
    const OpSpec& o = m_j.o;
    const Block& k = block_of(st);
    const std::int64_t kk = st % m_j.nk, k0 = kk * m_j.t.bk, kw = kwidth(kk);
    const int bk = m_j.t.bk;
    Loaded& L = loaded(st);
    std::int64_t akey = (k.row0 * 1000003 + kk) * 4 + 1;
    if (akey != m_a_key) {
      m_abuf = m_abuf >= 9 ? 1 : m_abuf + 1;  // functional buffer ids 1..9 rotate (more than any prefetch depth)
      const Instr la = dma_in(o.dtype, m_j.A.addr + static_cast<std::uint64_t>((k.row0 * o.k + k0) * m_j.ea),
                              static_cast<std::uint64_t>(k.rows * kw * m_j.ea), static_cast<std::uint32_t>(k.rows),
                              static_cast<std::uint32_t>(kw));
      m_a = m_emit(after(la, dep0, dep1), [&] {
        return fop::load(m_abuf, m_j.A.id, static_cast<int>(k.row0), static_cast<int>(k0), static_cast<int>(k.rows), bk, o.dtype);
      });
      m_a_key = akey;
    }
    L.a = m_a;
    L.abuf = m_abuf;
    std::int64_t bkey = ((k.group * 1000003 + kk) * 1000003 + k.tn) * 4 + 2;
    if (bkey != m_b_key) {
      m_bbuf = m_bbuf >= 19 ? 11 : m_bbuf + 1;
      const Instr lb = dma_in(o.wdtype, m_j.B.addr + static_cast<std::uint64_t>(((k.brow0 + k0) * o.n + k.col0) * m_j.eb),
                              static_cast<std::uint64_t>(kw * k.cols * m_j.eb), static_cast<std::uint32_t>(kw),
                              static_cast<std::uint32_t>(k.cols));
      m_b = m_emit(after(lb, dep0, dep1), [&] {
        return fop::load(m_bbuf, m_j.B.id, static_cast<int>(k.brow0 + k0), static_cast<int>(k.col0), bk, static_cast<int>(k.cols),
                         o.wdtype);
      });
      m_b_key = bkey;
    }
    L.b = m_b;
    L.bbuf = m_bbuf;
  }

  // Drain the MXUs, convert (and apply any fused elementwise op) on the vector unit, store on the
  // output DMA queue. Two output buffers: the block two back must be stored.
  void epilogue(const Block& k) {
    const OpSpec& o = m_j.o;
    const std::uint32_t dr = m_body_end;  // the block's last body: drained and accumulated
    const Instr v = vpu(DType::fp32, static_cast<std::uint32_t>(k.rows), static_cast<std::uint32_t>(k.cols),
                        static_cast<std::uint32_t>(std::ceil(m_j.epi.transcendentals_per_elem)),
                        static_cast<std::uint64_t>(k.rows * k.cols * (1.0 + m_j.epi.flops_per_elem)),
                        static_cast<std::uint64_t>(k.rows * k.cols * (4.0 + m_j.ec)));
    const std::uint32_t iv = m_emit(after(v, dr, m_stores[0]));
    const Instr w = dma_out(o.odtype, m_j.C.addr + static_cast<std::uint64_t>((k.row0 * o.n + k.col0) * m_j.ec),
                            static_cast<std::uint64_t>(k.rows * k.cols * m_j.ec), static_cast<std::uint32_t>(k.rows),
                            static_cast<std::uint32_t>(k.cols));
    m_stores[0] = m_stores[1];
    m_stores[1] = m_emit(after(w, iv), [&] {
      return fop::store(0, m_j.C.id, static_cast<int>(k.row0), static_cast<int>(k.col0), static_cast<int>(k.rows),
                        static_cast<int>(k.cols), o.odtype);
    });
  }

  const GemmJob& m_j;
  build::Emitter m_emit;
  Task& m_task;
  MxuEmitter m_mx;
  std::deque<Block> m_blocks;   // from the current step's block to the prefetched one's
  std::int64_t m_next_block, m_block_base = 0;
  std::int64_t m_steps = 0;
  std::vector<Loaded> m_ld;     // a ring over the steps in flight
  std::uint32_t m_prev_data = kNoDep;                  // the previous step's last row stream
  std::uint32_t m_stores[2] = {kNoDep, kNoDep};        // the last two blocks' stores
  std::int64_t m_a_key = -1, m_b_key = -1;
  std::uint32_t m_a = kNoDep, m_b = kNoDep, m_body_end = kNoDep;
  int m_abuf = 9, m_bbuf = 19;
};

}  // namespace

KernelPrograms lower_gemm(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt, const GemmTiling& t,
                          const GemmEpilogue& epi) {
  op.validate();
  check_mxu_dtypes(op, spec);
  const std::string label = op.label.empty() ? "gemm" : op.label;
  auto j = std::make_shared<GemmJob>();
  j->o = op, j->spec = spec, j->t = t, j->epi = epi;
  j->A = opt.ref(label, "A"), j->B = opt.ref(label, "B"), j->C = opt.ref(label, "C");
  j->ea = bytes_per_element(op.dtype), j->eb = bytes_per_element(op.wdtype), j->ec = bytes_per_element(op.odtype);
  j->grid = make_grid(op, t.bm, t.bn);
  const int core_limit = t.cores > 0 ? std::min(t.cores, spec.tensorcores) : spec.tensorcores;  // the tiling's, or all
  j->cores = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(core_limit, j->grid.total)));
  j->t.cores = j->cores;
  j->nk = ceil_div(op.k, t.bk);
  j->functional = opt.functional;
  std::shared_ptr<const GemmJob> job = j;
  Program p = build::program(op.kind == OpKind::GroupedGemm ? "grouped_gemm" : "gemm", op,
                             j->t.str() + (epi.name.empty() ? "" : ", fused " + epi.name + " epilogue"),
                             static_cast<std::uint64_t>(job->grid.total > 0 ? job->cores : 0),
                             [job](std::uint64_t core, Task& task) { CoreProgram(*job, core, task).emit(); }, opt.functional);
  return {build::static_program(p)};
}

}  // namespace xpu::tpu
