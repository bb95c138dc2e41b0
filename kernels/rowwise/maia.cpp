// One strategy for every streaming row op on Maia: the rows (or, for elementwise ops and sampling
// with fewer rows than tiles, row x column-chunk pieces) are cut into one contiguous chunk per tile;
// chunks go to tiles cluster by cluster (chunk j on cluster j mod C) so that every cluster's NoC port
// towards HBM carries a share. A tile streams its chunk in blocks of at most 64 KiB of input: tile DMA
// read channel 0 (and channel 1 for the second input of SwiGLU / residual add, or the norm weights
// once) HBM -> TSRAM, one TVP instruction per block (fp32 arithmetic, special functions on the SFU:
// rsqrt per row for norms, exp/sigmoid/tanh per element, sin/cos per pair for RoPE), the write
// channel TSRAM -> HBM. Four blocks are in flight (a block's load waits for the store of the block
// that used its buffer), which covers the HBM latency, so large ops run at the HBM stream rate.
// Sampling split over columns writes per-piece partials (max, sum, candidates) that a small combine
// kernel merges. Embedding is the same stream without compute: the token ids, then one gather DMA per
// table row. Not modelled: functional mode (timing only).
#include "kernels/rowwise/maia.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "chips/maia/isa.h"
#include "kernels/maia_lowerings.h"

namespace xpu::maia {

namespace {

constexpr double kBlockBytes = 64.0 * 1024;  // input bytes per streamed block
constexpr int kBuffers = 4;                  // blocks in flight per tile
constexpr double kPartialBytes = 64;         // per (row, piece) of a split sampling: max, sum, candidates

Instr dma(TxKind kind, Engine e, std::uint64_t addr, std::uint64_t bytes, std::int64_t rows, DType d) {
  Instr in;
  in.kind = kind;
  in.engine = e;
  in.level = kHbm;
  in.dtype = d;
  in.addr = addr;
  in.bytes = std::max<std::uint64_t>(1, bytes);
  in.m = static_cast<std::uint32_t>(std::max<std::int64_t>(1, rows));
  return in;
}

// A TVP instruction over `rows` x `cols` elements with `flops` fp32 operations and `sfu` special-
// function results per row.
Instr tvp(std::int64_t rows, double sfu_per_row, double flops, double bytes) {
  Instr in;
  in.kind = TxKind::VectorOp;
  in.engine = kTvp;
  in.dtype = DType::fp32;
  in.m = static_cast<std::uint32_t>(std::max<std::int64_t>(1, rows));
  in.n = static_cast<std::uint32_t>(std::max(0.0, std::ceil(sfu_per_row)));
  in.k = sfu_per_row > 0 ? 1 : 0;
  in.flops = static_cast<std::uint64_t>(flops);
  in.bytes = static_cast<std::uint64_t>(bytes);
  return in;
}

struct RowCost {
  double a_elems = 1;        // elements of the first input per output element (SwiGLU reads gate and up)
  bool second_input = false; // a second streamed input (SwiGLU's up half, residual add's b)
  double flops_per_elem = 0;
  double sfu_per_elem = 0;   // special-function results per element (per row for norms: see sfu_per_row)
  bool sfu_per_row = false;
  double const_bytes = 0;    // loaded once per tile (norm weights)
  bool elementwise = false;  // columns may be split over tiles
};

RowCost cost_of(const OpSpec& op) {
  const double w = bytes_per_element(op.wdtype), c = static_cast<double>(op.cols);
  RowCost r;
  r.flops_per_elem = op.rows * op.cols > 0 ? op.flops() / (static_cast<double>(op.rows) * op.cols) : 0;
  switch (op.kind) {
    case OpKind::RmsNorm: r.sfu_per_row = true, r.sfu_per_elem = 1, r.const_bytes = c * w; break;
    case OpKind::LayerNorm: r.sfu_per_row = true, r.sfu_per_elem = 1, r.const_bytes = 2 * c * w; break;
    case OpKind::Softmax: r.sfu_per_elem = 1; break;
    case OpKind::SwiGlu: r.second_input = true, r.sfu_per_elem = 1, r.elementwise = true; break;
    case OpKind::Gelu: r.sfu_per_elem = 1, r.elementwise = true; break;
    case OpKind::Rope: r.sfu_per_elem = 0.5, r.elementwise = true; break;
    case OpKind::ResidualAdd: r.second_input = true, r.elementwise = true; break;
    case OpKind::TopK: r.sfu_per_elem = 1; break;
    case OpKind::Sampling: r.sfu_per_elem = 1, r.elementwise = true; break;  // split with a combine
    default: break;
  }
  return r;
}

// Chunk j of the work runs on tile (j mod C) * P + j / C: consecutive chunks on different clusters.
int chunk_of_tile(int tile, const MaiaSpec& s) {
  return (tile % s.cluster.tiles) * s.cluster.count + tile / s.cluster.tiles;
}

Program per_tile_program(const std::string& name, const OpSpec& op, const std::string& strategy, const MaiaSpec& spec,
                         std::function<void(int chunk, Task& task)> build) {
  Program p;
  p.name = name;
  p.op = op.label;
  p.strategy = strategy;
  p.num_tasks = static_cast<std::uint64_t>(spec.tiles());
  p.static_placement = true;
  p.roofline = {op.flops(), op.min_bytes()};
  const MaiaSpec s = spec;
  p.make_task = [build, s](std::uint64_t index, Task& task) {
    task.place = static_cast<std::int32_t>(index);
    build(chunk_of_tile(static_cast<int>(index), s), task);
  };
  return p;
}

KernelPrograms lower_embedding(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  const std::string label = op.label.empty() ? "embedding" : op.label;
  const TensorRef Tb = opt.ref(label, "table"), I = opt.ref(label, "ids"), Y = opt.ref(label, "out");
  const double w = bytes_per_element(op.wdtype), o = bytes_per_element(op.odtype);
  const std::int64_t vocab = std::max<std::int64_t>(1, op.n), T = spec.tiles();
  const std::int64_t per = ceil_div(op.rows, T);
  const std::int64_t rb = std::max<std::int64_t>(1, std::min<std::int64_t>(per, static_cast<std::int64_t>(kBlockBytes / std::max(1.0, op.cols * w))));
  const bool convert = op.wdtype != op.odtype;
  const OpSpec oc = op;
  auto build = [=](int chunk, Task& task) {
    const std::int64_t r0 = chunk * per, r1 = std::min(oc.rows, r0 + per);
    if (r0 >= r1) return;
    task.smem_bytes = static_cast<std::uint32_t>(kBuffers * rb * oc.cols * (w + o));
    const std::uint32_t ids = task.add(dma(TxKind::DmaRead, kTdma, I.addr + static_cast<std::uint64_t>(r0 * 4),
                                           static_cast<std::uint64_t>((r1 - r0) * 4), r1 - r0, DType::int8));
    std::vector<std::uint32_t> slot(kBuffers, kNoDep);
    std::int64_t b = 0;
    for (std::int64_t r = r0; r < r1; r += rb, ++b) {
      const std::int64_t rows = std::min(rb, r1 - r);
      const size_t sl = static_cast<size_t>(b % kBuffers);
      std::uint32_t last = kNoDep;
      for (std::int64_t i = 0; i < rows; ++i) {
        // The gathered row depends on the token id: a hash stands in for it.
        const std::uint64_t row = static_cast<std::uint64_t>(((r + i) * 2654435761ull) % static_cast<std::uint64_t>(vocab));
        Instr g = dma(TxKind::DmaRead, kTdma1, Tb.addr + static_cast<std::uint64_t>(row * oc.cols * w),
                      static_cast<std::uint64_t>(oc.cols * w), 1, oc.wdtype);
        g.dep[0] = ids;
        g.dep[1] = slot[sl];
        last = task.add(g);
      }
      if (convert) last = task.add([&] {
        Instr c = tvp(rows, 0, static_cast<double>(rows * oc.cols), rows * oc.cols * (w + o));
        c.dep[0] = last;
        return c;
      }());
      Instr st = dma(TxKind::DmaWrite, kTdmaWr, Y.addr + static_cast<std::uint64_t>(r * oc.cols * o),
                     static_cast<std::uint64_t>(rows * oc.cols * o), rows, oc.odtype);
      st.dep[0] = last;
      slot[sl] = task.add(st);
    }
  };
  std::ostringstream s;
  s << "DMA gather, " << per << " tokens per tile in blocks of " << rb << " rows, one DMA per table row";
  return {per_tile_program("embedding", op, s.str(), spec, build)};
}

}  // namespace

KernelPrograms lower_rowwise(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  op.validate();
  if (opt.functional) unsupported(spec.name, op, "functional mode is not modelled by this Maia lowering (timing only)");
  for (DType d : {op.dtype, op.odtype})
    if (d == DType::fp4 || d == DType::fp6)
      unsupported(spec.name, op, std::string("the TVP has no ") + name(d) + " path (FP32/BF16/FP16/FP8 only)");
  if (op.kind == OpKind::Embedding) return lower_embedding(op, spec, opt);
  const RowCost rc = cost_of(op);
  if (rc.flops_per_elem <= 0) unsupported(spec.name, op, "not a row-wise op");
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  const TensorRef X = opt.ref(label, "X"), X2 = opt.ref(label, "X2"), W = opt.ref(label, "W"), Y = opt.ref(label, "Y");
  const TensorRef Pt = opt.ref(label, "partials");
  const double a = bytes_per_element(op.dtype), o = bytes_per_element(op.odtype);
  const std::int64_t T = spec.tiles();
  // Column pieces per row: only when rows leave tiles idle, pieces of at least 1024 elements.
  std::int64_t splits = 1;
  if (rc.elementwise && op.rows < T)
    splits = std::max<std::int64_t>(1, std::min<std::int64_t>(ceil_div(T, op.rows), op.cols / 1024));
  const std::int64_t cw = ceil_div(op.cols, splits);
  const bool sampling_split = op.kind == OpKind::Sampling && splits > 1;
  const std::int64_t V = op.rows * splits;  // work pieces (row, column chunk)
  const std::int64_t per = ceil_div(V, T);
  const double in_row = cw * a * (rc.a_elems + (rc.second_input ? 1 : 0));
  const std::int64_t rb = splits > 1 ? 1
                                     : std::max<std::int64_t>(1, std::min<std::int64_t>(per, static_cast<std::int64_t>(kBlockBytes / std::max(1.0, in_row))));
  const OpSpec oc = op;
  auto out_bytes = [oc, o, sampling_split](std::int64_t rows, std::int64_t cols) {
    if (oc.kind == OpKind::TopK) return rows * oc.topk * 8.0;
    if (oc.kind == OpKind::Sampling) return rows * (sampling_split ? kPartialBytes : 8.0);
    return rows * cols * o;
  };
  // Row-major addresses of piece v (row v / splits, columns [c0, c0 + cols)).
  const std::int64_t in_cols = op.kind == OpKind::SwiGlu ? 2 * op.cols : op.cols;
  auto build = [=](int chunk, Task& task) {
    const std::int64_t v0 = chunk * per, v1 = std::min(V, v0 + per);
    if (v0 >= v1) return;
    task.smem_bytes = static_cast<std::uint32_t>(kBuffers * rb * (in_row + cw * o) + rc.const_bytes);
    std::uint32_t wdep = kNoDep;
    if (rc.const_bytes > 0)
      wdep = task.add(dma(TxKind::DmaRead, kTdma1, W.addr, static_cast<std::uint64_t>(rc.const_bytes), 1, oc.wdtype));
    std::vector<std::uint32_t> slot(kBuffers, kNoDep);
    std::int64_t b = 0;
    for (std::int64_t v = v0; v < v1; v += rb, ++b) {
      const std::int64_t rows = std::min(rb, v1 - v);
      const std::int64_t r = v / splits, c0 = (v % splits) * cw;
      const std::int64_t cols = std::min(cw, oc.cols - c0);
      if (cols <= 0) continue;
      const size_t sl = static_cast<size_t>(b % kBuffers);
      const std::uint64_t base = static_cast<std::uint64_t>((r * in_cols + c0) * a);
      Instr l = dma(TxKind::DmaRead, kTdma, X.addr + base, static_cast<std::uint64_t>(rows * cols * a * rc.a_elems), rows, oc.dtype);
      l.dep[0] = slot[sl];
      const std::uint32_t i0 = task.add(l);
      std::uint32_t i1 = kNoDep;
      if (rc.second_input) {
        // SwiGLU: the up half of the same rows; residual add: the other operand.
        const std::uint64_t addr = oc.kind == OpKind::SwiGlu ? X.addr + base + static_cast<std::uint64_t>(oc.cols * a)
                                                              : X2.addr + base;
        Instr l2 = dma(TxKind::DmaRead, kTdma1, addr, static_cast<std::uint64_t>(rows * cols * a), rows, oc.dtype);
        l2.dep[0] = slot[sl];
        i1 = task.add(l2);
      }
      const double elems = static_cast<double>(rows * cols);
      const double sfu_row = rc.sfu_per_row ? rc.sfu_per_elem : rc.sfu_per_elem * cols;
      Instr c = tvp(rows, sfu_row, rc.flops_per_elem * elems, elems * (a * (rc.a_elems + (rc.second_input ? 1 : 0)) + o));
      c.dep[0] = i0;
      c.dep[1] = i1;
      c.dep[2] = wdep;
      const std::uint32_t ic = task.add(c);
      const double ob = out_bytes(rows, cols);
      const std::uint64_t oaddr = sampling_split ? Pt.addr + static_cast<std::uint64_t>(v * kPartialBytes)
                                                 : Y.addr + static_cast<std::uint64_t>(oc.kind == OpKind::TopK || oc.kind == OpKind::Sampling
                                                                                           ? r * (ob / rows)
                                                                                           : (r * oc.cols + c0) * o);
      Instr st = dma(TxKind::DmaWrite, kTdmaWr, oaddr, static_cast<std::uint64_t>(std::ceil(ob)), rows, sampling_split ? DType::fp32 : oc.odtype);
      st.dep[0] = ic;
      slot[sl] = task.add(st);
    }
  };
  std::ostringstream s;
  s << per << (splits > 1 ? " row pieces" : " rows") << " per tile";
  if (splits > 1) s << " (" << splits << " column pieces of " << cw << " per row)";
  s << ", blocks of " << rb << " x " << cw << ", " << kBuffers << " in flight, TVP in fp32";
  KernelPrograms out{per_tile_program(name(op.kind), op, s.str(), spec, build)};
  if (sampling_split) {
    // Merge the pieces' partials per sequence: global max, rescaled sums, candidates; draw one token.
    Program c;
    c.name = "sampling.combine";
    c.op = op.label;
    c.strategy = "merge " + std::to_string(splits) + " column pieces per sequence on the TVP";
    c.num_tasks = static_cast<std::uint64_t>(op.rows);
    c.roofline = {0, 0};
    c.make_task = [=](std::uint64_t index, Task& task) {
      const std::int64_t r = static_cast<std::int64_t>(index);
      const std::uint32_t l = task.add(dma(TxKind::DmaRead, kTdma, Pt.addr + static_cast<std::uint64_t>(r * splits * kPartialBytes),
                                           static_cast<std::uint64_t>(splits * kPartialBytes), splits, DType::fp32));
      Instr m = tvp(1, static_cast<double>(splits), 8.0 * splits, splits * kPartialBytes);
      m.dep[0] = l;
      const std::uint32_t im = task.add(m);
      Instr st = dma(TxKind::DmaWrite, kTdmaWr, Y.addr + static_cast<std::uint64_t>(r * 8), 8, 1, DType::int8);
      st.dep[0] = im;
      task.add(st);
    };
    out.push_back(c);
  }
  return out;
}

}  // namespace xpu::maia
