// The GPU family's instruction set as seen by programs: which SM engine issues an instruction and
// which memory level a DMA touches.
#pragma once
#include <algorithm>
#include <cstdint>

namespace xpu::gpu {

// SM engines (Instr::engine).
enum Engine : std::uint8_t {
  kTma = 0,     // asynchronous tile copies (TMA / cp.async): global <-> shared memory
  kTensor = 1,  // tensor cores (warpgroup MMA), operands from shared memory
  kVector = 2,  // CUDA cores and special-function units (elementwise, reductions, softmax)
  kNumEngines = 3,
};

// Memory levels (Instr::level).
enum Level : std::uint8_t {
  kGlobal = 0,  // device memory through L2 (HBM on a miss)
  kL2 = 1,      // data expected to live in L2 (workspace, small tensors)
  kSmem = 2,    // shared memory (local to the SM)
  kMulticast = 3,  // a copy multicast by a cluster peer's TMA load: arrives over this SM's crossbar
                   // link, but the L2 slices and HBM were read once, by the peer
};
// Flag on a copy's level: the block's threads issue it (ld.global / st.global / cp.async through the
// SM's load-store unit and L1), not the TMA unit. The memory charges such a copy the load-to-use
// latencies (sm.load_l2_latency, sm.load_hbm_latency) instead of the TMA path's (l2.hit_latency,
// hbm.latency): workloads/validation/README.md, "H200 fixed costs from inside the kernels".
constexpr std::uint8_t kThreadCopy = 8;
constexpr std::uint8_t memory_level(std::uint8_t level) { return level & 7; }
constexpr bool thread_copy(std::uint8_t level) { return (level & kThreadCopy) != 0; }

// Tensor-core instruction paths (Instr::level of a TileCompute).
enum MmaPath : std::uint8_t {
  kMmaAsync = 0,  // wgmma / tcgen05: the tensor core streams its operands from shared memory
  kMmaSync = 1,   // mma.sync: each warp first loads its operands into registers (ldmatrix), then issues
                  // the synchronous MMA on them; other warps' loads run beside it (GpuSpec::mma_sync_step)
};

// A TileCompute's level holds its MMA path in the low two bits and, for mma.sync, the number of warps
// of the block that issue it above them (0: not stated, taken as enough warps to keep every
// sub-partition's tensor core busy; see sm.warp_mma_sync_share).
constexpr std::uint8_t mma_sync_level(unsigned warps) {
  return static_cast<std::uint8_t>(kMmaSync | (std::min(warps, 63u) << 2));
}
constexpr MmaPath mma_path(std::uint8_t level) { return static_cast<MmaPath>(level & 3); }
constexpr unsigned mma_sync_warps(std::uint8_t level) { return level >> 2; }

}  // namespace xpu::gpu
