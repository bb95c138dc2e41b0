// The GPU family's instruction builders (chips/gpu/isa.h): TMA copies between global memory / L2 and
// shared memory, tensor-core MMA steps, CUDA-core vector ops and tensor-core syncs.
#pragma once
#include <algorithm>
#include "chips/gpu/gpu_spec.h"
#include "chips/gpu/isa.h"
#include "kernels/common/builders.h"

namespace xpu::gpu {

using build::after;

// A TMA copy global/L2 -> shared memory (m x n: the tile's rows x columns where it matters).
inline Instr tma_load(std::uint8_t level, DType d, std::uint64_t addr, std::uint64_t bytes, std::uint32_t m = 0,
                      std::uint32_t n = 0) {
  return build::dma(TxKind::DmaRead, kTma, level, d, addr, bytes, m, n);
}
// The same copies issued by the block's threads (ld.global / cp.async, st.global): kThreadCopy.
inline Instr ld_global(std::uint8_t level, DType d, std::uint64_t addr, std::uint64_t bytes, std::uint32_t m = 0,
                       std::uint32_t n = 0) {
  return tma_load(static_cast<std::uint8_t>(level | kThreadCopy), d, addr, bytes, m, n);
}
// A TMA copy shared memory -> global/L2.
inline Instr tma_store(std::uint8_t level, DType d, std::uint64_t addr, std::uint64_t bytes, std::uint32_t m = 0) {
  return build::dma(TxKind::DmaWrite, kTma, level, d, addr, bytes, m);
}
inline Instr st_global(std::uint8_t level, DType d, std::uint64_t addr, std::uint64_t bytes, std::uint32_t m = 0) {
  return tma_store(static_cast<std::uint8_t>(level | kThreadCopy), d, addr, bytes, m);
}
// A warpgroup MMA step of m x n x k (the issued tile) doing `flops` useful work on `bytes` of operands.
inline Instr wgmma(DType d, std::uint32_t m, std::uint32_t n, std::uint32_t k, std::uint64_t flops, std::uint64_t bytes) {
  return build::mma(kTensor, d, m, n, k, flops, bytes);
}
// A warp-level mma.sync step (all `warps` warps of the block together): `bytes` are the operands the warps
// load from shared memory into registers first (each warp its own A rows and the whole B tile).
inline Instr mma_sync(DType d, std::uint32_t m, std::uint32_t n, std::uint32_t k, std::uint64_t flops, std::uint64_t bytes,
                      std::uint32_t warps) {
  return build::mma(kTensor, d, m, n, k, flops, bytes, mma_sync_level(warps));
}
// CUDA cores / SFUs over m x n elements (k: special functions per element).
// warps: the issuing block's warps per sub-partition (0: not stated, no per-warp limit; see sm.warp_issue_cycles).
inline Instr cuda(DType d, std::uint32_t m, std::uint32_t n, std::uint32_t k, std::uint64_t flops, std::uint64_t bytes = 0,
                  unsigned warps = 0) {
  return build::vec(kVector, d, m, n, k, flops, bytes, static_cast<std::uint8_t>(std::min(warps, 255u)));
}
// Thread instructions of a code pass (per element, or in all) by the pipe that runs them: FP32 (add, multiply, FMA),
// the INT32 pipe (conversions, float compare/max, index arithmetic), MUFU (special functions) and the rest that
// only takes an issue slot (shuffles, loads, stores, branches).
struct PassCost {
  double fp32 = 0, alu = 0, mufu = 0, other = 0;
  double instructions() const { return fp32 + alu + mufu + other; }  // each takes an issue slot
};
// A pass's FP32 lane-slots: its FP32 instructions, or its INT32-pipe ones at that pipe's rate (sm.alu_ops_per_clk),
// or all of its instructions at the schedulers' issue rate (sm.issue_per_clk), whichever bounds it. The MUFU ones
// are not in it (the SFUs time them, sm.sfu_ops_per_clk). The vector rate counts an FMA as two FLOPs: one FP32
// lane-slot is 2 of a vector op's flops.
inline double lane_slots(const SmSpec& sm, const PassCost& c) {
  const double fp32_lanes = sm.vector_flops_per_clk / 2;
  return std::max({c.fp32, c.alu * fp32_lanes / sm.alu_ops_per_clk, c.instructions() * fp32_lanes / sm.issue_per_clk});
}

// A tensor-core sync (the start of an accumulation).
inline Instr tensor_sync() { return build::sync(kTensor); }

// The occupancy footprint of a block.
inline void block_shape(Task& t, std::uint32_t threads, std::uint32_t registers, std::uint32_t smem_bytes) {
  t.threads = threads;
  t.registers = registers;
  t.smem_bytes = smem_bytes;
}

}  // namespace xpu::gpu
