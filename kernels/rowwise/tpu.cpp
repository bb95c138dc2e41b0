// Row-wise ops on the TPU family: DMA in, vector unit, DMA out, pipelined over row blocks with
// three VMEM buffers; rows split over the TensorCores. Bandwidth-bound at large sizes as long as the
// vector unit's ALUs and transcendental unit keep up with HBM (they do on every preset).
#include "kernels/rowwise/tpu.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "kernels/tpu_builders.h"

namespace xpu::tpu {

RowCost row_cost(const OpSpec& op) {
  const double a = bytes_per_element(op.dtype), w = bytes_per_element(op.wdtype), o = bytes_per_element(op.odtype);
  const double c = static_cast<double>(op.cols);
  RowCost r;
  r.flops_per_elem = op.flops() / (static_cast<double>(op.rows) * op.cols);
  r.in_bytes = c * a;
  r.out_bytes = c * o;
  switch (op.kind) {
    case OpKind::RmsNorm:
      r.const_bytes = c * w;
      if (op.fused_add_norm()) r.in_bytes = 2 * c * a, r.out_bytes = c * (o + a);  // the residual in and out
      break;
    case OpKind::LayerNorm: r.const_bytes = 2 * c * w; break;
    case OpKind::Softmax: r.transcendentals_per_elem = 1; break;
    case OpKind::SwiGlu: r.in_bytes = 2 * c * a, r.transcendentals_per_elem = 1; break;
    case OpKind::Gelu: r.transcendentals_per_elem = 1; break;
    case OpKind::ResidualAdd: r.in_bytes = static_cast<double>(op.addends) * c * a; break;
    case OpKind::TopK: r.out_bytes = op.topk * 8.0, r.transcendentals_per_elem = 1; break;
    case OpKind::Sampling: r.out_bytes = 8.0, r.transcendentals_per_elem = 1; break;
    case OpKind::Sum: r.out_bytes = o; break;
    default: break;  // Rope: cos/sin come from a small table kept in VMEM; Copy: one read, one write
  }
  return r;
}

namespace {

// Block rows: about 1 MiB of input per block (a multiple of 8 sublanes), at least one block per core,
// halved until `nb` buffers of input and output fit the VMEM budget.
std::int64_t block_rows(const OpSpec& op, const RowCost& rc, const TpuSpec& spec, int nb) {
  std::int64_t br = static_cast<std::int64_t>(std::max(8.0, std::floor((1 << 20) / std::max(1.0, rc.in_bytes) / 8) * 8));
  br = std::min(br, std::max<std::int64_t>(8, ceil_div(ceil_div(op.rows, spec.tensorcores), 8) * 8));
  while (br > 8 && nb * br * (rc.in_bytes + rc.out_bytes) + rc.const_bytes > spec.kernel_vmem_bytes())
    br = std::max<std::int64_t>(8, br / 2);
  return br;
}

// A row op as blocks of `br` rows, block b on TensorCore b mod cores.
struct RowStream {
  OpSpec o;
  RowCost rc;
  TensorRef X, W, Y;
  std::int64_t br = 8, blocks = 0;
  int cores = 1, nb = 3;
};

// One TensorCore's blocks: loads `nb - 1` blocks ahead (after the grid step and the vector op that
// freed the buffer), the vector unit in fp32 with two output buffers, stores on their own queue.
void emit_core(const RowStream& s, std::uint64_t core, Task& t) {
  const OpSpec& o = s.o;
  const RowCost& rc = s.rc;
  std::uint32_t wload = kNoDep;
  if (rc.const_bytes > 0) wload = t.add(dma_in(o.wdtype, s.W.addr, static_cast<std::uint64_t>(rc.const_bytes)));
  std::vector<std::int64_t> mine;
  for (std::int64_t b = static_cast<std::int64_t>(core); b < s.blocks; b += s.cores) mine.push_back(b);
  const size_t n = mine.size();
  std::vector<std::uint32_t> ld(n, kNoDep), vp(n, kNoDep), stv(n, kNoDep);
  auto rows_of = [&](size_t i) { return std::min<std::int64_t>(s.br, o.rows - mine[i] * s.br); };
  auto load = [&](size_t i, std::uint32_t d0, std::uint32_t d1) {
    ld[i] = t.add(after(dma_in(o.dtype, s.X.addr + static_cast<std::uint64_t>(mine[i] * s.br * rc.in_bytes),
                               static_cast<std::uint64_t>(rows_of(i) * rc.in_bytes)),
                        d0, d1));
  };
  const size_t depth = s.nb - 1;
  for (size_t i = 0; i < std::min(depth, n); ++i) load(i, kNoDep, kNoDep);
  for (size_t i = 0; i < n; ++i) {
    const std::uint32_t isc = t.add(scalar_steps(1));
    if (i + depth < n) load(i + depth, isc, i >= 1 ? vp[i - 1] : kNoDep);
    const std::int64_t r = rows_of(i);
    const Instr v = vpu(DType::fp32, static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(o.cols),
                        static_cast<std::uint32_t>(std::ceil(rc.transcendentals_per_elem)),
                        static_cast<std::uint64_t>(r * o.cols * rc.flops_per_elem),
                        static_cast<std::uint64_t>(r * (rc.in_bytes + rc.out_bytes)));
    vp[i] = t.add(after(v, ld[i], wload, i >= 2 ? stv[i - 2] : kNoDep));
    stv[i] = t.add(after(dma_out(o.odtype, s.Y.addr + static_cast<std::uint64_t>(mine[i] * s.br * rc.out_bytes),
                                 static_cast<std::uint64_t>(r * rc.out_bytes)),
                         vp[i]));
  }
}

}  // namespace

KernelPrograms lower_rowwise(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  refuse_functional(spec.name, op, opt, "TPU");
  RowStream s;
  s.o = op;
  s.rc = row_cost(op);
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  s.X = opt.ref(label, "X"), s.W = opt.ref(label, "W"), s.Y = opt.ref(label, "Y");
  s.br = block_rows(op, s.rc, spec, s.nb);
  s.blocks = ceil_div(op.rows, s.br);
  s.cores = static_cast<int>(std::min<std::int64_t>(spec.tensorcores, s.blocks));
  std::ostringstream st;
  st << "row blocks of " << s.br << " x " << op.cols << ", " << s.nb << " buffers, " << s.cores << " TensorCore"
     << (s.cores > 1 ? "s" : "");
  auto make = [s](std::uint64_t core, Task& t) { emit_core(s, core, t); };
  return {build::static_program(build::program(name(op.kind), op, st.str(), static_cast<std::uint64_t>(s.cores), make))};
}

}  // namespace xpu::tpu
