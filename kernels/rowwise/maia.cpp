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

#include "kernels/common/gather.h"
#include "kernels/maia_builders.h"
#include "kernels/maia_lowerings.h"

namespace xpu::maia {

namespace {

constexpr double kBlockBytes = 64.0 * 1024;  // input bytes per streamed block
constexpr int kBuffers = 4;                  // blocks in flight per tile
constexpr double kPartialBytes = 64;         // per (row, piece) of a split sampling: max, sum, candidates

// A TVP instruction over `rows` x `cols` elements with `flops` fp32 operations and `sfu` special-
// function results per row.
Instr tvp(std::int64_t rows, double sfu_per_row, double flops, double bytes) {
  return tvp_op(DType::fp32, static_cast<std::uint32_t>(std::max<std::int64_t>(1, rows)),
                static_cast<std::uint32_t>(std::max(0.0, std::ceil(sfu_per_row))), sfu_per_row > 0 ? 1 : 0,
                static_cast<std::uint64_t>(flops), static_cast<std::uint64_t>(bytes));
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
    case OpKind::RmsNorm:  // a fused residual add (kFusedAddNormImpl) streams the residual in and its sum out
      r.sfu_per_row = true, r.sfu_per_elem = 1, r.const_bytes = c * w, r.second_input = op.fused_add_norm();
      break;
    case OpKind::LayerNorm: r.sfu_per_row = true, r.sfu_per_elem = 1, r.const_bytes = 2 * c * w; break;
    case OpKind::Softmax: r.sfu_per_elem = 1; break;
    case OpKind::SwiGlu: r.second_input = true, r.sfu_per_elem = 1, r.elementwise = true; break;
    case OpKind::Gelu: r.sfu_per_elem = 1, r.elementwise = true; break;
    case OpKind::Rope: r.sfu_per_elem = 0.5, r.elementwise = true; break;
    case OpKind::ResidualAdd: r.a_elems = static_cast<double>(op.addends - 1), r.second_input = true, r.elementwise = true; break;
    case OpKind::TopK: r.sfu_per_elem = 1; break;
    case OpKind::Sampling: r.sfu_per_elem = 1, r.elementwise = true; break;  // split with a combine
    case OpKind::Copy: r.elementwise = true; break;
    case OpKind::Sum: break;  // one row per piece: its sum needs the whole row
    default: break;
  }
  return r;
}

KernelPrograms lower_embedding(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  const Gather gt = gather_operands(op, opt);
  const double w = gt.w, o = gt.o;
  const std::int64_t T = spec.tiles();
  const std::int64_t per = ceil_div(op.rows, T);
  const std::int64_t rb = std::max<std::int64_t>(1, std::min<std::int64_t>(per, static_cast<std::int64_t>(kBlockBytes / std::max(1.0, op.cols * w))));
  const bool convert = op.wdtype != op.odtype;
  const OpSpec oc = op;
  auto build = [=](int chunk, Task& task) {
    const std::int64_t r0 = chunk * per, r1 = std::min(oc.rows, r0 + per);
    if (r0 >= r1) return;
    task.smem_bytes = static_cast<std::uint32_t>(kBuffers * rb * oc.cols * (w + o));
    const std::uint32_t ids = task.add(stream(TxKind::DmaRead, kTdma, gt.ids.addr + static_cast<std::uint64_t>(r0 * 4),
                                           static_cast<std::uint64_t>((r1 - r0) * 4), r1 - r0, DType::int8));
    std::vector<std::uint32_t> slot(kBuffers, kNoDep);
    std::int64_t b = 0;
    for (std::int64_t r = r0; r < r1; r += rb, ++b) {
      const std::int64_t rows = std::min(rb, r1 - r);
      const size_t sl = static_cast<size_t>(b % kBuffers);
      std::uint32_t last = kNoDep;
      for (std::int64_t i = 0; i < rows; ++i) {
        const std::uint64_t row = gt.row_of(r + i);
        const Instr g = stream(TxKind::DmaRead, kTdma1, gt.table.addr + static_cast<std::uint64_t>(row * oc.cols * w),
                               static_cast<std::uint64_t>(oc.cols * w), 1, oc.wdtype);
        last = task.add(after(g, ids, slot[sl]));
      }
      if (convert) last = task.add(after(tvp(rows, 0, static_cast<double>(rows * oc.cols), rows * oc.cols * (w + o)), last));
      const Instr st = stream(TxKind::DmaWrite, kTdmaWr, gt.out.addr + static_cast<std::uint64_t>(r * oc.cols * o),
                              static_cast<std::uint64_t>(rows * oc.cols * o), rows, oc.odtype);
      slot[sl] = task.add(after(st, last));
    }
  };
  std::ostringstream s;
  s << "DMA gather, " << per << " tokens per tile in blocks of " << rb << " rows, one DMA per table row";
  return {per_tile_program("embedding", op, s.str(), spec, build)};
}

// The streaming plan of a row op: column pieces per row (only when rows leave tiles idle, pieces
// of at least 1024 elements), pieces per tile and rows per block.
struct RowPlan {
  OpSpec o;
  RowCost rc;
  TensorRef X, X2, W, Y, Pt;
  double a = 0, eo = 0, in_row = 0;
  std::int64_t splits = 1, cw = 0, V = 0, per = 0, rb = 0, in_cols = 0;
  bool sampling_split = false;

  // Output bytes of `rows` pieces of `cols` columns.
  double out_bytes(std::int64_t rows, std::int64_t cols) const {
    if (o.kind == OpKind::TopK) return rows * o.topk * 8.0;
    if (o.kind == OpKind::Sampling) return rows * (sampling_split ? kPartialBytes : 8.0);
    if (o.kind == OpKind::Sum) return rows * eo;
    if (o.fused_add_norm()) return rows * cols * (eo + a);  // Y and the residual
    return rows * cols * eo;
  }
};

RowPlan plan_rows(const OpSpec& op, const RowCost& rc, const MaiaSpec& spec, const LowerOptions& opt) {
  RowPlan p;
  p.o = op, p.rc = rc;
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  p.X = opt.ref(label, "X"), p.X2 = opt.ref(label, "X2"), p.W = opt.ref(label, "W"), p.Y = opt.ref(label, "Y");
  p.Pt = opt.ref(label, "partials");
  p.a = bytes_per_element(op.dtype), p.eo = bytes_per_element(op.odtype);
  const std::int64_t T = spec.tiles();
  if (rc.elementwise && op.rows < T)
    p.splits = std::max<std::int64_t>(1, std::min<std::int64_t>(ceil_div(T, op.rows), op.cols / 1024));
  p.cw = ceil_div(op.cols, p.splits);
  p.sampling_split = op.kind == OpKind::Sampling && p.splits > 1;
  p.V = op.rows * p.splits;  // work pieces (row, column chunk)
  p.per = ceil_div(p.V, T);
  p.in_row = p.cw * p.a * (rc.a_elems + (rc.second_input ? 1 : 0));
  p.rb = p.splits > 1 ? 1
                      : std::max<std::int64_t>(1, std::min<std::int64_t>(p.per, static_cast<std::int64_t>(kBlockBytes / std::max(1.0, p.in_row))));
  p.in_cols = op.kind == OpKind::SwiGlu ? 2 * op.cols : op.cols;
  return p;
}

// One block of `rows` pieces from piece v (row v / splits, columns [c0, c0 + cols), row-major
// addresses): its loads wait for the store that freed the buffer; returns the store.
std::uint32_t emit_block(const RowPlan& p, Task& task, std::int64_t v, std::int64_t rows, std::int64_t cols, std::uint32_t free,
                         std::uint32_t wdep) {
  const OpSpec& oc = p.o;
  const RowCost& rc = p.rc;
  const double a = p.a;
  const std::int64_t r = v / p.splits, c0 = (v % p.splits) * p.cw;
  const std::uint64_t base = static_cast<std::uint64_t>((r * p.in_cols + c0) * a);
  const std::uint32_t i0 = task.add(after(stream(TxKind::DmaRead, kTdma, p.X.addr + base,
                                                 static_cast<std::uint64_t>(rows * cols * a * rc.a_elems), rows, oc.dtype),
                                          free));
  std::uint32_t i1 = kNoDep;
  if (rc.second_input) {
    // SwiGLU: the up half of the same rows; residual add: the other operand.
    const std::uint64_t addr = oc.kind == OpKind::SwiGlu ? p.X.addr + base + static_cast<std::uint64_t>(oc.cols * a) : p.X2.addr + base;
    i1 = task.add(after(stream(TxKind::DmaRead, kTdma1, addr, static_cast<std::uint64_t>(rows * cols * a), rows, oc.dtype), free));
  }
  const double elems = static_cast<double>(rows * cols);
  const double sfu_row = rc.sfu_per_row ? rc.sfu_per_elem : rc.sfu_per_elem * cols;
  const Instr c = tvp(rows, sfu_row, rc.flops_per_elem * elems, elems * (a * (rc.a_elems + (rc.second_input ? 1 : 0)) + p.eo));
  const std::uint32_t ic = task.add(after(c, i0, i1, wdep));
  const double ob = p.out_bytes(rows, cols);
  const bool per_row = oc.kind == OpKind::TopK || oc.kind == OpKind::Sampling;
  const std::uint64_t oaddr = p.sampling_split ? p.Pt.addr + static_cast<std::uint64_t>(v * kPartialBytes)
                                               : p.Y.addr + static_cast<std::uint64_t>(per_row ? r * (ob / rows) : (r * oc.cols + c0) * p.eo);
  return task.add(after(stream(TxKind::DmaWrite, kTdmaWr, oaddr, static_cast<std::uint64_t>(std::ceil(ob)), rows,
                               p.sampling_split ? DType::fp32 : oc.odtype),
                        ic));
}

// A tile's chunk of pieces, streamed in blocks with `kBuffers` in flight.
void emit_chunk(const RowPlan& p, int chunk, Task& task) {
  const std::int64_t v0 = chunk * p.per, v1 = std::min(p.V, v0 + p.per);
  if (v0 >= v1) return;
  task.smem_bytes = static_cast<std::uint32_t>(kBuffers * p.rb * (p.in_row + p.cw * p.eo) + p.rc.const_bytes);
  std::uint32_t wdep = kNoDep;
  if (p.rc.const_bytes > 0)
    wdep = task.add(stream(TxKind::DmaRead, kTdma1, p.W.addr, static_cast<std::uint64_t>(p.rc.const_bytes), 1, p.o.wdtype));
  std::vector<std::uint32_t> slot(kBuffers, kNoDep);
  std::int64_t b = 0;
  for (std::int64_t v = v0; v < v1; v += p.rb, ++b) {
    const std::int64_t rows = std::min(p.rb, v1 - v);
    const std::int64_t cols = std::min(p.cw, p.o.cols - (v % p.splits) * p.cw);
    if (cols <= 0) continue;
    const size_t sl = static_cast<size_t>(b % kBuffers);
    slot[sl] = emit_block(p, task, v, rows, cols, slot[sl], wdep);
  }
}

// Merge of a split sampling's partials per sequence: global max, rescaled sums, candidates; draw one
// token.
Program sampling_combine(const RowPlan& p) {
  const std::int64_t splits = p.splits;
  const TensorRef Pt = p.Pt, Y = p.Y;
  auto make = [=](std::uint64_t index, Task& task) {
    const std::int64_t r = static_cast<std::int64_t>(index);
    const std::uint32_t l = task.add(stream(TxKind::DmaRead, kTdma, Pt.addr + static_cast<std::uint64_t>(r * splits * kPartialBytes),
                                            static_cast<std::uint64_t>(splits * kPartialBytes), splits, DType::fp32));
    const std::uint32_t im = task.add(after(tvp(1, static_cast<double>(splits), 8.0 * splits, splits * kPartialBytes), l));
    task.add(after(stream(TxKind::DmaWrite, kTdmaWr, Y.addr + static_cast<std::uint64_t>(r * 8), 8, 1, DType::int8), im));
  };
  return build::helper_program("sampling.combine", p.o, "merge " + std::to_string(splits) + " column pieces per sequence on the TVP",
                               static_cast<std::uint64_t>(p.o.rows), make);
}

}  // namespace

KernelPrograms lower_rowwise(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  op.validate();  // refuses fp4/fp6 for the TVP's row-wise compute, as on every family
  refuse_functional(spec.name, op, opt, "Maia");
  if (op.kind == OpKind::Embedding) return lower_embedding(op, spec, opt);
  const RowCost rc = cost_of(op);
  if (rc.flops_per_elem <= 0) unsupported(spec.name, op, "not a row-wise op");
  const RowPlan p = plan_rows(op, rc, spec, opt);
  std::ostringstream s;
  s << p.per << (p.splits > 1 ? " row pieces" : " rows") << " per tile";
  if (p.splits > 1) s << " (" << p.splits << " column pieces of " << p.cw << " per row)";
  s << ", blocks of " << p.rb << " x " << p.cw << ", " << kBuffers << " in flight, TVP in fp32";
  KernelPrograms out{per_tile_program(name(op.kind), op, s.str(), spec, [p](int chunk, Task& task) { emit_chunk(p, chunk, task); })};
  if (p.sampling_split) out.push_back(sampling_combine(p));
  return out;
}

}  // namespace xpu::maia
