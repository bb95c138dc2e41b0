// Strategy: rows are split into chunks so that there are at least two blocks per SM; each block
// loads its rows (and the op's weights) with the TMA engine, computes on the CUDA cores / SFUs and
// stores the result. Reductions over a row (norms, softmax, top-k) stay inside the block, as the
// fused kernels of vLLM/TensorRT-LLM do, so each input byte is read once.
#include "kernels/rowwise/gpu.h"

#include <algorithm>

#include "chips/gpu/isa.h"

namespace xpu::gpu {

namespace {
struct RowCost {
  double in_per_row = 0, out_per_row = 0;  // bytes
  double flops_per_elem = 0, sfu_per_elem = 0;
  double shared_bytes = 0;                 // read once per block (norm weights)
};

RowCost cost_of(const OpSpec& op) {
  double a = bytes_per_element(op.dtype), o = bytes_per_element(op.odtype), w = bytes_per_element(op.wdtype);
  double c = static_cast<double>(op.cols);
  switch (op.kind) {
    case OpKind::RmsNorm: return {c * a, c * o, 4, 1.0 / c, c * w};
    case OpKind::LayerNorm: return {c * a, c * o, 7, 1.0 / c, 2 * c * w};
    case OpKind::Softmax: return {c * a, c * o, 5, 1, 0};
    case OpKind::SwiGlu: return {2 * c * a, c * o, 5, 1, 0};
    case OpKind::Gelu: return {c * a, c * o, 8, 1, 0};
    case OpKind::Rope: return {c * a, c * o, 3, 0.5, 0};
    case OpKind::ResidualAdd: return {2 * c * a, c * o, 1, 0, 0};
    case OpKind::Embedding: return {c * w + 4, c * o, 0, 0, 0};
    case OpKind::TopK: return {c * a, op.topk * 8.0, 6, 1, 0};
    case OpKind::Sampling: return {c * a, 8, 6, 1, 0};
    default: return {};
  }
}
}  // namespace

KernelPrograms lower_rowwise(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  const RowCost rc = cost_of(op);
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  const TensorRef X = opt.ref(label, "X"), Y = opt.ref(label, "Y"), W = opt.ref(label, "W");
  // Rows per block: enough blocks for two per SM, at most 64 KiB of input per block.
  std::int64_t rows_per_block = std::max<std::int64_t>(1, op.rows / (2 * spec.sm.count));
  rows_per_block = std::min<std::int64_t>(rows_per_block, std::max<std::int64_t>(1, static_cast<std::int64_t>(65536 / std::max(1.0, rc.in_per_row))));
  const std::int64_t blocks = ceil_div(op.rows, rows_per_block);
  const OpSpec o = op;
  Program p;
  p.name = name(op.kind);
  p.op = op.label;
  p.strategy = std::to_string(rows_per_block) + " rows per block, " + std::to_string(blocks) + " blocks";
  p.num_tasks = static_cast<std::uint64_t>(blocks);
  p.roofline = {op.flops(), op.min_bytes()};
  p.make_task = [=](std::uint64_t index, Task& t) {
    std::int64_t r0 = static_cast<std::int64_t>(index) * rows_per_block;
    std::int64_t rows = std::min(rows_per_block, o.rows - r0);
    t.threads = 256;
    t.registers = 64;
    t.smem_bytes = static_cast<std::uint32_t>(std::min(rows * rc.in_per_row, 65536.0));
    Instr ld;
    ld.kind = TxKind::DmaRead;
    ld.engine = kTma;
    ld.level = kGlobal;
    ld.dtype = o.dtype;
    // Embedding rows are gathered from the table at token-dependent rows: spread over the table.
    ld.addr = (o.kind == OpKind::Embedding ? W.addr + static_cast<std::uint64_t>((r0 * 7919 % std::max<std::int64_t>(1, o.n)) * rc.in_per_row)
                                            : X.addr + static_cast<std::uint64_t>(r0 * rc.in_per_row));
    ld.bytes = static_cast<std::uint64_t>(rows * rc.in_per_row);
    ld.m = static_cast<std::uint32_t>(o.kind == OpKind::Embedding ? rows : 1);
    std::uint32_t il = t.add(ld);
    std::uint32_t iw = kNoDep;
    if (rc.shared_bytes > 0) {
      Instr lw = ld;
      lw.addr = W.addr;
      lw.bytes = static_cast<std::uint64_t>(rc.shared_bytes);
      lw.m = 1;
      iw = t.add(lw);
    }
    Instr v;
    v.kind = TxKind::VectorOp;
    v.engine = kVector;
    v.dtype = DType::fp32;
    v.m = static_cast<std::uint32_t>(rows);
    v.n = static_cast<std::uint32_t>(o.cols);
    v.k = static_cast<std::uint32_t>(rc.sfu_per_elem >= 1 ? rc.sfu_per_elem : 0);
    v.flops = static_cast<std::uint64_t>(rc.flops_per_elem * rows * o.cols);
    v.dep[0] = il;
    v.dep[1] = iw;
    std::uint32_t iv = t.add(v);
    Instr st;
    st.kind = TxKind::DmaWrite;
    st.engine = kTma;
    st.level = kGlobal;
    st.dtype = o.odtype;
    st.addr = Y.addr + static_cast<std::uint64_t>(r0 * rc.out_per_row);
    st.bytes = static_cast<std::uint64_t>(rows * rc.out_per_row);
    st.dep[0] = iv;
    t.add(st);
  };
  return {p};
}

}  // namespace xpu::gpu
