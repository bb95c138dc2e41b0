// Embedding on the TPU family: each TensorCore loads its tokens' ids, gathers one table row per
// token by DMA (the scalar unit issues one descriptor per row), and writes its block of rows out.
// The gathered rows pass through VMEM untouched (no vector work).
#include "kernels/embedding/tpu.h"

#include <algorithm>

#include "kernels/tpu_builders.h"

namespace xpu::tpu {

KernelPrograms lower_embedding(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  const std::string label = op.label.empty() ? "embedding" : op.label;
  const TensorRef Ids = opt.ref(label, "ids"), Tab = opt.ref(label, "table"), Y = opt.ref(label, "Y");
  const double row_bytes = op.cols * bytes_per_element(op.wdtype), out_row = op.cols * bytes_per_element(op.odtype);
  const int cores = static_cast<int>(std::min<std::int64_t>(spec.tensorcores, op.rows));
  const std::int64_t per_block = 64;  // tokens per output block
  const OpSpec o = op;
  // The graph may leave the vocabulary size unset: spread rows over a 128K-row table then.
  const std::uint64_t vocab = static_cast<std::uint64_t>(op.n > 0 ? op.n : 131072);
  auto make = [=](std::uint64_t core, Task& t) {
    std::int64_t r0 = o.rows * static_cast<std::int64_t>(core) / cores;
    std::int64_t r1 = o.rows * static_cast<std::int64_t>(core + 1) / cores;
    // The ids load carries no element type of its own (the instruction default).
    const std::uint32_t iid = t.add(dma_in(Instr{}.dtype, Ids.addr + static_cast<std::uint64_t>(r0 * 4),
                                           static_cast<std::uint64_t>((r1 - r0) * 4)));
    std::vector<std::uint32_t> stores;
    for (std::int64_t b0 = r0; b0 < r1; b0 += per_block) {
      std::int64_t b1 = std::min(r1, b0 + per_block);
      std::uint32_t last = kNoDep;
      for (std::int64_t r = b0; r < b1; ++r) {
        // Token ids are data dependent: spread the rows over the table deterministically.
        const Instr g = dma_in(o.wdtype, Tab.addr + static_cast<std::uint64_t>(((r * 2654435761ull) % vocab) * row_bytes),
                               static_cast<std::uint64_t>(row_bytes));
        last = t.add(after(g, iid, stores.size() >= 2 ? stores[stores.size() - 2] : kNoDep));  // two output blocks in VMEM
      }
      // The gather queue is in order: the last row implies the block.
      stores.push_back(t.add(after(dma_out(o.odtype, Y.addr + static_cast<std::uint64_t>(b0 * out_row),
                                           static_cast<std::uint64_t>((b1 - b0) * out_row)),
                                   last)));
    }
  };
  return {build::static_program(build::program(
      "embedding", op, "gather one row per token by DMA, blocks of 64 tokens, " + std::to_string(cores) + " TensorCore(s)",
      static_cast<std::uint64_t>(cores), make))};
}

}  // namespace xpu::tpu
