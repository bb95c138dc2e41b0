// The TPU family's instruction set as seen by programs: which TensorCore engine issues an
// instruction (DMA queues, vector unit, scalar unit, and per MXU a weight-load port and a data
// port), and which memory level a DMA touches.
#pragma once
#include <cstdint>

namespace xpu::tpu {

// TensorCore engines (Instr::engine). Engines issue in program order and overlap each other.
enum Engine : std::uint8_t {
  kDmaIn = 0,    // DMA queue HBM/CMEM -> VMEM (descriptor issue only; the transfer is timed by memory)
  kDmaOut = 1,   // DMA queue VMEM -> HBM (a separate queue, so stores never block the next loads)
  kVpu = 2,      // vector unit: (8 sublanes x 128 lanes) ALUs + transcendental unit + cross-lane unit
  kScalar = 3,   // scalar unit: grid-step bookkeeping (address computation, semaphore waits)
  kMxuBase = 4,  // MXU j: data port kMxuBase + 2j, weight-load port kMxuBase + 2j + 1
};
constexpr int kMaxMxus = 16;

// MXU instructions (TxKind::TileCompute):
//  - on a weight-load port (mxu_weights(j)): push one weight fold (up to rows*pack x cols of the
//    K x N operand) into the array's shadow weight buffer; k and n give the fold's valid extent.
//  - on a data port (mxu_data(j)): stream `m` LHS rows through the fold loaded last; k and n give
//    the fold's valid extent (a partial fold still occupies the whole array).
//  - Sync on a data port: the drain of the array (results of the last fold leave the bottom edge).
// Sync on the scalar unit: `n` grid steps of loop bookkeeping (n = 0: a semaphore wait on its deps).
// Vector ops (TxKind::VectorOp on kVpu): m x n elements, `flops` ALU operations, `k` transcendental
// operations per element, `bytes` moved between VMEM and vector registers.
inline std::uint8_t mxu_data(int j) { return static_cast<std::uint8_t>(kMxuBase + 2 * j); }
inline std::uint8_t mxu_weights(int j) { return static_cast<std::uint8_t>(kMxuBase + 2 * j + 1); }
inline bool is_mxu_data(int engine) { return engine >= kMxuBase && (engine - kMxuBase) % 2 == 0; }
inline bool is_mxu_weights(int engine) { return engine >= kMxuBase && (engine - kMxuBase) % 2 == 1; }

// Memory levels (Instr::level) of DMAs.
enum Level : std::uint8_t {
  kHbm = 0,   // off-chip HBM (what the roofline counts)
  kCmem = 1,  // on-chip common memory shared by the TensorCores (TPU v4 only)
};

}  // namespace xpu::tpu
