// The TPU family's instruction builders (chips/tpu/isa.h): DMA queues HBM <-> VMEM, vector-unit ops,
// scalar-unit grid steps and waits, and per MXU a weight push, a row stream and a drain.
#pragma once
#include "chips/tpu/isa.h"
#include "kernels/common/builders.h"

namespace xpu::tpu {

using build::after;

// A copy HBM (or CMEM) -> VMEM on the input queue (m x n: the block's rows x columns where it matters).
inline Instr dma_in(DType d, std::uint64_t addr, std::uint64_t bytes, std::uint32_t m = 0, std::uint32_t n = 0) {
  return build::dma(TxKind::DmaRead, kDmaIn, kHbm, d, addr, bytes, m, n);
}
// A copy VMEM -> HBM on the output queue.
inline Instr dma_out(DType d, std::uint64_t addr, std::uint64_t bytes, std::uint32_t m = 0, std::uint32_t n = 0) {
  return build::dma(TxKind::DmaWrite, kDmaOut, kHbm, d, addr, bytes, m, n);
}
// The vector unit over m x n elements: `flops` ALU operations, k transcendentals per element, `bytes`
// moved between VMEM and vector registers.
inline Instr vpu(DType d, std::uint32_t m, std::uint32_t n, std::uint32_t k, std::uint64_t flops, std::uint64_t bytes) {
  return build::vec(kVpu, d, m, n, k, flops, bytes);
}
// `steps` grid steps of loop bookkeeping on the scalar unit (0: a semaphore wait on its deps).
inline Instr scalar_steps(std::uint32_t steps) { return build::sync(kScalar, steps); }
// A weight fold (k x n valid extent) pushed into MXU j's shadow weight buffer.
inline Instr mxu_push(int j, DType d, std::uint32_t k, std::uint32_t n, std::uint64_t bytes) {
  return build::mma(mxu_weights(j), d, 0, n, k, 0, bytes);
}
// `m` LHS rows streamed through MXU j's loaded fold (k x n valid extent).
inline Instr mxu_stream(int j, DType d, std::uint32_t m, std::uint32_t k, std::uint32_t n, std::uint64_t flops,
                        std::uint64_t bytes) {
  return build::mma(mxu_data(j), d, m, n, k, flops, bytes);
}
// The drain of MXU j (the last fold's results leave the array).
inline Instr mxu_drain(int j) { return build::sync(mxu_data(j)); }

}  // namespace xpu::tpu
