// Parameters of a GPU (SM count and resources, tensor-core rates per dtype, L2, HBM, launch costs),
// parsed from a preset in chips/gpu/presets/. Every figure's source is written beside it there.
#pragma once
#include <map>
#include <string>

#include "sim/base/config.h"
#include "sim/base/dtype.h"
#include "sim/memory/i_dram.h"
#include "sim/interconnect/i_channel.h"
#include "sim/memory/i_cache.h"

namespace xpu::gpu {

struct SmSpec {
  int count = 0;
  Hertz clock;
  // Dense tensor-core FLOPs per clock per SM by dtype (0 = no tensor path for that dtype).
  double tensor_bf16 = 0, tensor_fp16 = 0, tensor_tf32 = 0, tensor_fp8 = 0, tensor_fp4 = 0, tensor_int8 = 0;
  double vector_flops_per_clk = 256;   // FP32 FMA lanes x 2
  double sfu_ops_per_clk = 16;         // exp/rsqrt per clock per SM
  double issue_per_clk = 128;          // thread instructions the warp schedulers issue per clock per SM (of any kind)
  double alu_ops_per_clk = 64;         // INT32-pipe results per clock per SM (integer, conversions, compare/min/max)
  Bytes smem_capacity;                 // per SM
  Bytes smem_per_block;                // largest allocation one block may have
  double smem_bytes_per_clk = 128;
  int registers = 65536;
  int max_threads = 2048;
  int max_blocks = 32;
  double l2_port_bytes_per_clk = 64;   // SM <-> L2 crossbar link
  // Reads of the same tile by several SMs that reach the L2 within this many clocks of each other are coalesced
  // in front of the slices (the L2 request coalescer behind TMA multicast): the slices (and DRAM, on a miss)
  // serve the tile once, the crossbar delivers it to each requester over its own link, each no earlier than the
  // first. 0: no coalescing.
  double l2_coalescing_window_cycles = 0;
  bool tma = true;                     // the Tensor Memory Accelerator copies tiles between global and shared memory (Hopper and later)
  bool cluster_multicast = true;       // thread-block clusters with TMA multicast (Hopper and later)
  bool wgmma = true;                   // Hopper's warpgroup MMA (wgmma.mma_async, sm_90a only): what FlashAttention-3 is written in
  bool cta_pair_mma = false;           // two SMs of a cluster run one MMA, each holding half of B (Blackwell)
  bool stream_k = false;               // the GEMM library has hybrid stream-K kernels (kernels/common/stream_k.h)
  int stream_k_min_rows = 0;           // the library's stream-K kernels take block tiles of at least this many rows
  bool block_scaled_split_k = true;    // the library splits K of block-scaled (fp4) GEMMs as of the others
  // Block-scaled (fp4) MMAs: tensor-pipe cycles per k-tile (128 bytes of K) in which the copy of the k-tile's
  // scale factors into tensor memory (tcgen05.cp) waits for the previous k-tile's MMAs to complete, the scales
  // being single-buffered in tensor memory and the tensor pipe in order (0: no wait).
  double block_scale_wait_cycles = 0;
  double mma_efficiency = 1.0;         // calibration: sustained share of the MMA issue rate
  double mma_sync_fraction = 1.0;      // share of the tensor rate that warp-level mma.sync reaches (kMmaSync)
  int sub_partitions = 4;              // processing blocks per SM, each with its own warp scheduler and tensor core
  double warp_issue_cycles = 1.0;      // cycles per instruction of one warp's dependent CUDA-core code (a sub-partition with fewer warps issues less)
  double warp_mma_sync_share = 1.0;    // share of its sub-partition's mma.sync rate one warp's in-order stream keeps busy
  // fp8 GEMMs without fast accumulation: MMA k-instructions (32 bytes of K each) accumulated in the tensor
  // core before the partial sums are promoted into fp32 registers on the CUDA cores (0: the tensor core
  // accumulates fp8 products in full fp32 and nothing is promoted).
  int fp8_promotion_interval = 0;
  // Simulation granularity, not hardware: consecutive k-steps of a GEMM tile simulated as one step (one A
  // copy, one B copy, one MMA over their K), where the tile's pipeline holds at least two such groups.
  int kstep_group = 1;
  Seconds block_launch_latency;        // block scheduling + prologue setup on an SM
  Seconds descriptor_fetch_latency;    // first TMA copy of a kernel on an SM waits for its tensor maps
  Seconds cluster_launch_latency;      // a cluster kernel's first block on an SM waits for its cluster's launch and barrier
  Seconds load_l2_latency;             // a thread's load (ld.global / cp.async) from L2, issue to use; 0 = l2.hit_latency
  Seconds load_hbm_latency;            // the same load missing L2, served by HBM; 0 = hbm.latency
  double dma_issue_cycles = 4;         // TMA descriptor issue per copy
  double sync_cycles = 20;             // barrier (mbarrier wait / __syncthreads) cost
};

struct GpuSpec {
  std::string name, description, family;
  SmSpec sm;
  CacheSpec l2;
  HbmSpec hbm;
  OnChipSpec onchip;  // which on-chip channel model the ports and DMA queues use
  Seconds launch_overhead;  // gap between dependent kernel launches on one stream
  double tensor_flops_per_clk(DType d) const;  // per SM
  // Share of the SM's mma.sync rate that one block of `warps` warps can use (1 for 0: not stated): its
  // warps spread over the sub-partitions, and a sub-partition's tensor core is kept busy by as many of
  // them as it takes at sm.warp_mma_sync_share each.
  double mma_sync_block_share(unsigned warps) const;
  // One mma.sync step of a block of `warps` warps: its operands take `smem` cycles of the SM's shared-memory pipe
  // (ldmatrix reads, the warps' cp.async writes), its MMAs `mma` cycles at the SM's mma.sync rate. The tensor
  // engine is held for max(smem, mma): the LSU pipe and the tensor cores work at once, one block's ldmatrix beside
  // a co-resident block's MMAs. The block itself completes the step after its warps' in-order streams, ldmatrix
  // then MMAs, (smem + mma) / mma_sync_block_share. In cycles.
  struct MmaSyncStep { double busy, complete; };
  MmaSyncStep mma_sync_step(double smem, double mma, unsigned warps) const;
  double peak_flops(DType d) const;            // whole chip
  // A thread's load (ld.global / cp.async, kThreadCopy) from L2 and from HBM: sm.load_*_latency, or the TMA path's if unset.
  double thread_l2_latency() const { return sm.load_l2_latency.value() > 0 ? sm.load_l2_latency.value() : l2.hit_latency.value(); }
  double thread_hbm_latency() const { return sm.load_hbm_latency.value() > 0 ? sm.load_hbm_latency.value() : hbm.latency.value(); }
};

void describe(Params& p, GpuSpec& s);

// Resident blocks per SM for blocks that need `smem` bytes, `threads` threads and `regs` registers
// per thread (the CUDA occupancy rule; 0 if the block cannot run at all).
int occupancy(const GpuSpec& s, double smem, int threads, int regs);

}  // namespace xpu::gpu
