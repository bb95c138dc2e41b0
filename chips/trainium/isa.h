// The Trainium family's instruction set as seen by programs: which NeuronCore engine issues an
// instruction (each engine has its own sequencer and in-order stream [NKI-T1]) and which memory a
// DMA touches. Instruction fields as the family uses them:
//   TileCompute on kTensor: m = stationary free size (output partitions, <= 128), n = moving free size
//     (<= 512, one PSUM bank of fp32), k = contraction (partition dim, <= 128).
//   VectorOp on kVector/kScalar/kGpSimd: m = partitions used (<= 128), n = free elements per partition
//     streamed, k = input tiles streamed per element (1 for tensor_scalar/activation, 2 for tensor_tensor).
//   DmaRead/DmaWrite on kDmaIn/kDmaOut: m = SBUF partitions written/read (sets how many of the 16 DMA
//     engines share the transfer), bytes, run = bytes / m contiguous bytes per partition.
#pragma once
#include <cstdint>

namespace xpu::trainium {

// NeuronCore engines (Instr::engine).
enum Engine : std::uint8_t {
  kTensor = 0,   // TensorE: 128x128 systolic array, SBUF -> PSUM
  kVector = 1,   // VectorE: reductions, tensor_tensor, PSUM evacuation
  kScalar = 2,   // ScalarE (activation engine): exp, silu, gelu with fused scale/bias and accumulate
  kGpSimd = 3,   // GpSimdE: 8 SIMD processors (masks, iota, elementwise overflow work)
  kDmaIn = 4,    // DMA queue HBM -> SBUF (triggered by the Sync engine)
  kDmaOut = 5,   // DMA queue SBUF -> HBM
  kNumEngines = 6,
};

// Memory levels (Instr::level).
enum Level : std::uint8_t {
  kHbm = 0,   // device memory (HBM), shared by all NeuronCores of the chip
  kSbuf = 1,  // SBUF -> SBUF DMA (no HBM traffic)
  kPsum = 2,  // PSUM (compute instructions only)
};

// Hardware tile limits of the Tensor Engine and SBUF/PSUM [NKI-T1] (the same on v2, v3, v4).
constexpr int kPartitions = 128;      // SBUF/PSUM partitions and PE rows/columns
constexpr int kMaxStationaryFree = 128;
constexpr int kMaxMovingFree = 512;   // one 2 KiB PSUM bank of fp32 per partition

}  // namespace xpu::trainium
