// One strategy for every streaming row op: the tensor is viewed as [128 partitions x F] tiles
// ("partition vectorization" [NKI-T1]: rows and columns are folded so all 128 lanes work even for a
// few decode tokens; per-row statistics become per-partition partial results combined by a short
// [128 x 1] instruction). F is at most 2048 elements (4 KiB per partition for 16-bit types, where
// DMA reaches its bandwidth [NKI-DMA]) and small enough that every NeuronCore gets a tile. Each op is
// a recipe of engine instructions: the Scalar Engine runs exp/silu/gelu/square with its fused
// scale/bias and accumulate, the Vector Engine reductions and two-input ops, GpSimd the extra
// two-input op of LayerNorm/RoPE. Loads wait for the tile `dma_buffers` earlier to release its buffer.
// Embedding is the same stream with no compute: an index load then a DMA gather of table rows.
#include "kernels/rowwise/trainium.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "chips/trainium/isa.h"
#include "kernels/common/gather.h"
#include "kernels/trainium_lowerings.h"

namespace xpu::trainium {

namespace {

struct Step {
  Engine engine;
  int passes;        // input tiles streamed per element (0: a [partitions x 1] statistics instruction)
  double flops;      // per element
};

struct Recipe {
  std::vector<double> in_bytes;   // bytes per element of each streamed input
  double out_bytes = 0;           // bytes written per element
  double const_bytes = 0;         // loaded once per core (norm weights)
  std::vector<Step> steps;
  std::int64_t elems = 0;         // output elements
};

Recipe recipe_for(const OpSpec& op) {
  const double a = bytes_per_element(op.dtype), o = bytes_per_element(op.odtype), w = bytes_per_element(op.wdtype);
  Recipe r;
  r.elems = op.rows * op.cols;
  r.in_bytes = {a};
  r.out_bytes = o;
  switch (op.kind) {
    case OpKind::RmsNorm:
      r.const_bytes = op.cols * w;
      r.steps = {{kScalar, 1, 2}, {kVector, 0, 0}, {kVector, 2, 2}};  // square+sum; rsqrt; (x*rstd)*w
      if (op.fused_add_norm()) {  // the residual streamed in, added, and the sum written back beside Y
        r.in_bytes = {a, a};
        r.out_bytes = o + a;
        r.steps.insert(r.steps.begin(), Step{kVector, 2, 1});
      }
      break;
    case OpKind::LayerNorm:
      r.const_bytes = 2 * op.cols * w;
      r.steps = {{kVector, 1, 2}, {kVector, 0, 0}, {kScalar, 1, 2}, {kVector, 2, 1}, {kGpSimd, 2, 1}};
      break;
    case OpKind::Softmax:
      r.steps = {{kVector, 1, 1}, {kScalar, 1, 3}, {kVector, 0, 0}, {kVector, 1, 1}};  // max; exp+sum; 1/sum; scale
      break;
    case OpKind::SwiGlu:
      r.in_bytes = {a, a};
      r.steps = {{kScalar, 1, 4}, {kVector, 2, 1}};
      break;
    case OpKind::Gelu:
      r.steps = {{kScalar, 1, 8}};
      break;
    case OpKind::Rope:
      r.steps = {{kVector, 2, 1}, {kGpSimd, 2, 1}, {kVector, 2, 1}};
      break;
    case OpKind::ResidualAdd:
      r.in_bytes.assign(static_cast<size_t>(op.addends), a);
      r.steps = {{kVector, static_cast<int>(op.addends), static_cast<double>(op.addends - 1)}};
      break;
    case OpKind::TopK:
      r.out_bytes = static_cast<double>(op.topk) * 8.0 / static_cast<double>(op.cols);
      r.steps = {{kVector, 1, 1}, {kScalar, 1, 3}, {kScalar, 1, 1},
                 {kVector, static_cast<int>(ceil_div(op.topk, 8)), 1}, {kVector, 1, 0}};
      break;
    case OpKind::Sampling:
      r.out_bytes = 8.0 / static_cast<double>(op.cols);
      r.steps = {{kVector, 1, 1}, {kScalar, 1, 3}, {kVector, 1, 2}, {kGpSimd, 0, 0}};
      break;
    case OpKind::Copy:
      r.steps = {{kVector, 1, 1}};  // x + scalar (tensor_scalar); a pure copy is no faster while DMA-bound
      break;
    case OpKind::Sum:
      r.out_bytes = o / static_cast<double>(op.cols);
      r.steps = {{kVector, 1, 1}, {kVector, 0, 0}};  // reduce along the free axis; combine the partitions' partials
      break;
    default: break;
  }
  return r;
}

KernelPrograms lower_embedding(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  const Gather gt = gather_operands(op, opt);
  const double w = gt.w, o = gt.o;
  const int cores = spec.active_cores();
  // Rows of the table per gather: 128 tokens on the partitions; columns chunked to <= 32 KiB per partition.
  const std::int64_t col_chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(op.cols, static_cast<std::int64_t>(32768 / w)));
  const std::int64_t tiles_r = ceil_div(op.rows, kPartitions), tiles_c = ceil_div(op.cols, col_chunk);
  const std::int64_t tiles = tiles_r * tiles_c;
  const OpSpec oc = op;
  const int buffers = spec.dma_buffers;
  auto build = [=](int core, Task& task) {
    std::vector<std::uint32_t> slot_last(static_cast<size_t>(buffers), kNoDep);
    std::int64_t n = 0;
    for (std::int64_t t = core; t < tiles; t += cores, ++n) {
      std::int64_t tr = t / tiles_c, tc = t % tiles_c;
      std::int64_t rows = std::min<std::int64_t>(kPartitions, oc.rows - tr * kPartitions);
      std::int64_t cols = std::min<std::int64_t>(col_chunk, oc.cols - tc * col_chunk);
      size_t slot = static_cast<size_t>(n % buffers);
      const Instr ids = dma(TxKind::DmaRead, gt.ids.addr + static_cast<std::uint64_t>(tr * kPartitions * 4),
                            static_cast<std::uint64_t>(rows * 4), static_cast<std::uint32_t>(rows), DType::int8);
      const std::uint32_t ii = task.add(with_deps(ids, slot_last[slot]));
      const std::uint64_t row = gt.row_of(t);
      const Instr g = dma(TxKind::DmaRead, gt.table.addr + static_cast<std::uint64_t>((row * oc.cols + tc * col_chunk) * w),
                          static_cast<std::uint64_t>(rows * cols * w), static_cast<std::uint32_t>(rows), oc.wdtype);
      const std::uint32_t ig = task.add(with_deps(g, ii));
      const Instr st = dma(TxKind::DmaWrite, gt.out.addr + static_cast<std::uint64_t>((tr * kPartitions * oc.cols + tc * col_chunk) * o),
                           static_cast<std::uint64_t>(rows * cols * o), static_cast<std::uint32_t>(rows), oc.odtype);
      slot_last[slot] = task.add(with_deps(st, ig));
    }
  };
  std::ostringstream s;
  s << "DMA gather of " << tiles << " tiles of 128 rows x " << col_chunk << " cols over " << cores << " NeuronCores";
  return {per_core_program("embedding", op, s.str(), spec, build)};
}

// A row op streamed as [128 x F] tiles: E elements in tiles of per_tile, spread over the cores.
struct RowStream {
  Recipe r;
  TensorRef X, X2, W, Y;
  DType dt = DType::bf16, odt = DType::bf16;
  std::int64_t E = 0, per_tile = 0, tiles = 0;
  int cores = 0, buffers = 0;
};

// One tile of `elems` elements from e0: its input loads (after the tile that used the buffer), the
// recipe's engine instructions in order, the store. Returns the last compute instruction.
std::uint32_t emit_tile(const RowStream& rs, Task& task, std::int64_t e0, std::int64_t elems, std::uint32_t free, std::uint32_t wdep) {
  const Recipe& r = rs.r;
  const int parts = static_cast<int>(std::min<std::int64_t>(kPartitions, elems));
  const std::int64_t f = ceil_div(elems, parts);
  std::uint32_t ld[2] = {kNoDep, kNoDep};
  for (size_t i = 0; i < r.in_bytes.size() && i < 2; ++i) {
    const TensorRef& src = i == 0 ? rs.X : rs.X2;
    const Instr l = dma(TxKind::DmaRead, src.addr + static_cast<std::uint64_t>(e0 * r.in_bytes[i]),
                        static_cast<std::uint64_t>(elems * r.in_bytes[i]), static_cast<std::uint32_t>(parts), rs.dt);
    ld[i] = task.add(with_deps(l, free));
  }
  std::uint32_t prev = kNoDep;
  for (size_t si = 0; si < r.steps.size(); ++si) {
    const Step& s = r.steps[si];
    // passes 0: a [partitions x 1] statistics instruction (no element work counted).
    const Instr in = s.passes == 0 ? lane(s.engine, parts, 1, 1, DType::fp32, 0) : lane(s.engine, parts, f, s.passes, rs.dt, s.flops);
    prev = task.add(si == 0 ? with_deps(in, ld[0], ld[1], wdep) : with_deps(in, prev));
  }
  const std::uint64_t out = static_cast<std::uint64_t>(std::ceil(elems * r.out_bytes));
  const Instr st = dma(TxKind::DmaWrite, rs.Y.addr + static_cast<std::uint64_t>(e0 * r.out_bytes), std::max<std::uint64_t>(1, out),
                       static_cast<std::uint32_t>(out >= static_cast<std::uint64_t>(parts) ? parts : 1), rs.odt);
  task.add(with_deps(st, prev));
  return prev;
}

// A core's tiles t = core, core + cores, ... with `buffers` in flight.
void emit_core(const RowStream& rs, int core, Task& task) {
  std::vector<std::uint32_t> slot_last(static_cast<size_t>(rs.buffers), kNoDep);
  std::uint32_t wdep = kNoDep;
  if (rs.r.const_bytes > 0 && core < rs.tiles) {
    // Weights broadcast to all partitions once per core.
    wdep = task.add(dma(TxKind::DmaRead, rs.W.addr, static_cast<std::uint64_t>(rs.r.const_bytes), kPartitions, rs.dt));
  }
  std::int64_t n = 0;
  for (std::int64_t t = core; t < rs.tiles; t += rs.cores, ++n) {
    const std::int64_t e0 = t * rs.per_tile, elems = std::min(rs.per_tile, rs.E - e0);
    const size_t slot = static_cast<size_t>(n % rs.buffers);
    slot_last[slot] = emit_tile(rs, task, e0, elems, slot_last[slot], wdep);
  }
}

}  // namespace

KernelPrograms lower_rowwise(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  op.validate();  // refuses fp4/fp6 for the engines' row-wise compute, as on every family
  refuse_functional(spec.name, op, opt, "Trainium");
  if (op.kind == OpKind::Embedding) return lower_embedding(op, spec, opt);
  RowStream rs;
  rs.r = recipe_for(op);
  if (rs.r.steps.empty()) unsupported(spec.name, op, "not a row-wise op");
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  rs.X = opt.ref(label, "X"), rs.X2 = opt.ref(label, "X2"), rs.W = opt.ref(label, "W"), rs.Y = opt.ref(label, "Y");
  rs.dt = op.dtype, rs.odt = op.odtype;
  rs.cores = spec.active_cores();
  rs.E = std::max<std::int64_t>(1, rs.r.elems);
  const std::int64_t F = std::max<std::int64_t>(1, std::min<std::int64_t>(2048, ceil_div(rs.E, kPartitions * rs.cores)));
  rs.per_tile = kPartitions * F;
  rs.tiles = ceil_div(rs.E, rs.per_tile);
  rs.buffers = spec.dma_buffers;
  std::ostringstream s;
  s << rs.tiles << " tiles of 128 x " << F << " elements over " << rs.cores << " NeuronCores, " << rs.buffers << " buffers";
  return {per_core_program(name(op.kind), op, s.str(), spec, [rs](int core, Task& task) { emit_core(rs, core, task); })};
}

}  // namespace xpu::trainium
