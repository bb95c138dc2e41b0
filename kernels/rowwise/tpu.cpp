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
    case OpKind::RmsNorm: r.const_bytes = c * w; break;
    case OpKind::LayerNorm: r.const_bytes = 2 * c * w; break;
    case OpKind::Softmax: r.transcendentals_per_elem = 1; break;
    case OpKind::SwiGlu: r.in_bytes = 2 * c * a, r.transcendentals_per_elem = 1; break;
    case OpKind::Gelu: r.transcendentals_per_elem = 1; break;
    case OpKind::ResidualAdd: r.in_bytes = 2 * c * a; break;
    case OpKind::TopK: r.out_bytes = op.topk * 8.0, r.transcendentals_per_elem = 1; break;
    case OpKind::Sampling: r.out_bytes = 8.0, r.transcendentals_per_elem = 1; break;
    default: break;  // Rope: cos/sin come from a small table kept in VMEM
  }
  return r;
}

KernelPrograms lower_rowwise(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  const RowCost rc = row_cost(op);
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  const TensorRef X = opt.ref(label, "X"), W = opt.ref(label, "W"), Y = opt.ref(label, "Y");
  const int T = spec.tensorcores;
  // Block rows: about 1 MiB of input per block (a multiple of 8 sublanes), at least one block per core.
  std::int64_t br = static_cast<std::int64_t>(std::max(8.0, std::floor((1 << 20) / std::max(1.0, rc.in_bytes) / 8) * 8));
  br = std::min(br, std::max<std::int64_t>(8, ceil_div(ceil_div(op.rows, T), 8) * 8));
  const int nb = 3;
  while (br > 8 && nb * br * (rc.in_bytes + rc.out_bytes) + rc.const_bytes > spec.vmem_capacity.value() * spec.vmem_budget)
    br = std::max<std::int64_t>(8, br / 2);
  const std::int64_t blocks = ceil_div(op.rows, br);
  const int cores = static_cast<int>(std::min<std::int64_t>(T, blocks));
  const OpSpec o = op;
  std::ostringstream st;
  st << "row blocks of " << br << " x " << op.cols << ", " << nb << " buffers, " << cores << " TensorCore"
     << (cores > 1 ? "s" : "");

  auto make = [=](std::uint64_t core, Task& t) {
    std::uint32_t wload = kNoDep;
    if (rc.const_bytes > 0) wload = t.add(dma_in(o.wdtype, W.addr, static_cast<std::uint64_t>(rc.const_bytes)));
    std::vector<std::int64_t> mine;
    for (std::int64_t b = static_cast<std::int64_t>(core); b < blocks; b += cores) mine.push_back(b);
    const size_t n = mine.size();
    std::vector<std::uint32_t> ld(n, kNoDep), vp(n, kNoDep), stv(n, kNoDep);
    auto rows_of = [&](size_t i) { return std::min<std::int64_t>(br, o.rows - mine[i] * br); };
    auto load = [&](size_t i, std::uint32_t d0, std::uint32_t d1) {
      ld[i] = t.add(after(dma_in(o.dtype, X.addr + static_cast<std::uint64_t>(mine[i] * br * rc.in_bytes),
                                 static_cast<std::uint64_t>(rows_of(i) * rc.in_bytes)),
                          d0, d1));
    };
    const size_t depth = nb - 1;
    for (size_t i = 0; i < std::min(depth, n); ++i) load(i, kNoDep, kNoDep);
    for (size_t i = 0; i < n; ++i) {
      const std::uint32_t isc = t.add(scalar_steps(1));
      if (i + depth < n) load(i + depth, isc, i >= 1 ? vp[i - 1] : kNoDep);
      const std::int64_t r = rows_of(i);
      // The vector unit computes in fp32; two output buffers.
      const Instr v = vpu(DType::fp32, static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(o.cols),
                          static_cast<std::uint32_t>(std::ceil(rc.transcendentals_per_elem)),
                          static_cast<std::uint64_t>(r * o.cols * rc.flops_per_elem),
                          static_cast<std::uint64_t>(r * (rc.in_bytes + rc.out_bytes)));
      vp[i] = t.add(after(v, ld[i], wload, i >= 2 ? stv[i - 2] : kNoDep));
      stv[i] = t.add(after(dma_out(o.odtype, Y.addr + static_cast<std::uint64_t>(mine[i] * br * rc.out_bytes),
                                   static_cast<std::uint64_t>(r * rc.out_bytes)),
                           vp[i]));
    }
  };
  return {build::static_program(build::program(name(op.kind), op, st.str(), static_cast<std::uint64_t>(cores), make))};
}

}  // namespace xpu::tpu
