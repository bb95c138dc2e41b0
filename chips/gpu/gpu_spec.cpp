#include "chips/gpu/gpu_spec.h"

#include <algorithm>

namespace xpu::gpu {

double GpuSpec::mma_sync_block_share(unsigned warps) const {
  if (warps == 0) return 1.0;
  const double parts = std::min<double>(warps, sm.sub_partitions);
  return parts / sm.sub_partitions * std::min(1.0, sm.warp_mma_sync_share * warps / parts);
}

GpuSpec::MmaSyncStep GpuSpec::mma_sync_step(double smem, double mma, unsigned warps) const {
  // The engine is free again once the busier of the two units is: a co-resident block's ldmatrix runs beside these
  // MMAs, and so does the same block's next step where nothing it needs is pending (CUTLASS's sm80 main loop and
  // FA2's gemm loop load the next k-slice's fragments before issuing this one's MMAs). This step's result waits
  // for its own warps' streams, each its ldmatrix and then its MMAs.
  const double busy = std::max(smem, mma);
  return {busy, (smem + mma) / mma_sync_block_share(warps)};
}

double GpuSpec::tensor_flops_per_clk(DType d) const {
  switch (d) {
    case DType::bf16: return sm.tensor_bf16;
    case DType::fp16: return sm.tensor_fp16;
    case DType::tf32: return sm.tensor_tf32;
    case DType::fp8: return sm.tensor_fp8;
    // FP6 came with FP4 in Blackwell's fifth-generation tensor cores and runs at the FP8 rate there (NVIDIA
    // Blackwell architecture technical brief); Hopper and Ampere have neither (CUDA's sm_90 MMA types stop at e4m3/e5m2).
    case DType::fp6: return sm.tensor_fp4 > 0 ? sm.tensor_fp8 : 0;
    case DType::fp4: return sm.tensor_fp4;
    case DType::int8: return sm.tensor_int8;
    case DType::fp32: return 0;  // plain fp32 has no tensor path: tf32 or CUDA cores
  }
  return 0;
}

double GpuSpec::peak_flops(DType d) const {
  double per = d == DType::fp32 ? sm.vector_flops_per_clk : tensor_flops_per_clk(d);
  return per * sm.count * sm.clock.value();
}

void describe(Params& p, GpuSpec& s) {
  p("name", s.name, "Preset name as used on the command line", "");
  p("description", s.description, "One line describing the part", "");
  p("family", s.family, "Chip family (gpu)", "gpu");
  p("sm.count", s.sm.count, "Streaming multiprocessors enabled on the part");
  p("sm.clock", s.sm.clock, "SM clock at which the vendor rates tensor throughput");
  p("sm.tensor_flops_per_clk.bf16", s.sm.tensor_bf16, "Dense BF16 tensor-core FLOPs per clock per SM", "0");
  p("sm.tensor_flops_per_clk.fp16", s.sm.tensor_fp16, "Dense FP16 tensor-core FLOPs per clock per SM", "0");
  p("sm.tensor_flops_per_clk.tf32", s.sm.tensor_tf32, "Dense TF32 tensor-core FLOPs per clock per SM", "0");
  p("sm.tensor_flops_per_clk.fp8", s.sm.tensor_fp8, "Dense FP8 tensor-core FLOPs per clock per SM (0: none)", "0");
  p("sm.tensor_flops_per_clk.fp4", s.sm.tensor_fp4, "Dense FP4 tensor-core FLOPs per clock per SM (0: none)", "0");
  p("sm.tensor_flops_per_clk.int8", s.sm.tensor_int8, "Dense INT8 tensor-core ops per clock per SM", "0");
  p("sm.vector_flops_per_clk", s.sm.vector_flops_per_clk, "FP32 CUDA-core FLOPs per clock per SM (FMA = 2)", "256");
  p("sm.sfu_ops_per_clk", s.sm.sfu_ops_per_clk, "Special-function (exp, rsqrt) results per clock per SM", "16");
  p("sm.issue_per_clk", s.sm.issue_per_clk,
    "Thread instructions the SM's warp schedulers issue per clock, of every kind (FP32, integer, MUFU, "
    "loads and stores, branches): schedulers x 32 lanes", "128");
  p("sm.alu_ops_per_clk", s.sm.alu_ops_per_clk,
    "Results per clock per SM of the INT32 pipe, which also runs type conversions between 16- and 32-bit "
    "floats and float compare/min/max", "64");
  p("sm.smem_capacity", s.sm.smem_capacity, "Shared memory per SM");
  p("sm.smem_per_block", s.sm.smem_per_block, "Largest shared-memory allocation of one block");
  p("sm.smem_bytes_per_clk", s.sm.smem_bytes_per_clk, "Shared-memory bandwidth per SM per clock", "128");
  p("sm.registers", s.sm.registers, "32-bit registers per SM", "65536");
  p("sm.max_threads", s.sm.max_threads, "Resident threads per SM", "2048");
  p("sm.max_blocks", s.sm.max_blocks, "Resident blocks per SM", "32");
  p("sm.l2_port_bytes_per_clk", s.sm.l2_port_bytes_per_clk, "Bytes per clock of one SM's link to the L2 crossbar", "64");
  p("sm.l2_coalescing_window_cycles", s.sm.l2_coalescing_window_cycles,
    "Reads of one tile by several SMs reaching the L2 within this many clocks of each other are served once by the "
    "slices (and DRAM), each requester getting the tile over its own crossbar link no earlier than the first (the L2 "
    "request coalescer); 0: none", "0");
  p("sm.tma", s.sm.tma, "The SM has a Tensor Memory Accelerator (Hopper and later), which the library's GEMMs copy 16-byte "
    "aligned rows with; false (Ampere): every GEMM is an sm80-style kernel (cp.async by the warps, mma.sync)", "true");
  p("sm.cluster_multicast", s.sm.cluster_multicast,
    "Thread-block clusters whose TMA multicasts a shared tile to the peer SM (Hopper and later)", "true");
  p("sm.wgmma", s.sm.wgmma,
    "Hopper's asynchronous warpgroup MMA (wgmma.mma_async), an sm_90a architecture-specific instruction that later "
    "generations do not run (Blackwell has tcgen05): kernels written in it (FlashAttention-3, --impl fa3) run only "
    "where it is true", "true");
  p("sm.cta_pair_mma", s.sm.cta_pair_mma,
    "The two SMs of a cluster pair run one MMA on a tile twice as tall, each loading half of the B tile "
    "and reading the other half from its peer (Blackwell tcgen05 cta_group::2)", "false");
  p("sm.stream_k", s.sm.stream_k,
    "The GEMM library ships hybrid stream-K kernels (data-parallel waves, then the last full and the partial "
    "wave as K-iteration ranges over one wave of units with an in-kernel fixup) and runs them where its "
    "estimate is faster than whole tiles", "false");
  p("sm.stream_k_min_rows", s.sm.stream_k_min_rows,
    "Fewest rows of a block tile that the library's stream-K kernels take (smaller tiles run data-parallel or "
    "split-K): on Hopper its stream-K scheduler runs only in the cooperative kernel, whose two consumer "
    "warpgroups split the tile's rows", "0");
  p("sm.block_scaled_split_k", s.sm.block_scaled_split_k,
    "The GEMM library splits K of block-scaled fp4 GEMMs (split-K with a reduction kernel, or stream-K) "
    "as it does for bf16/fp8; false: those kernels run whole tiles on a persistent data-parallel grid", "true");
  p("sm.block_scale_wait_cycles", s.sm.block_scale_wait_cycles, "fp4 MMAs: tensor-pipe cycles per 128 B of K the scale copy waits", "0");
  p("sm.mma_efficiency", s.sm.mma_efficiency,
    "Calibration: sustained share of the tensor-core issue rate in a pipelined MMA main loop", "1.0");
  p("sm.mma_sync_fraction", s.sm.mma_sync_fraction,
    "Share of the tensor-core rate that the synchronous warp-level mma.sync instruction reaches (kernels "
    "written without wgmma/tcgen05, e.g. FlashAttention-2); 1 where mma.sync is the native path", "1.0");
  p("sm.sub_partitions", s.sm.sub_partitions,
    "Processing blocks (sub-partitions) per SM, each with its own warp scheduler and tensor core; a block's "
    "warps are spread over them", "4");
  p("sm.warp_issue_cycles", s.sm.warp_issue_cycles,
    "Cycles per instruction of one warp's instruction stream in the CUDA-core kernels (element-wise, norms, softmax) "
    "when it has its sub-partition's scheduler to itself: the issue slot plus the waits on fixed-latency and "
    "short-scoreboard dependencies. A sub-partition with fewer warps than this issues below its one instruction "
    "per clock; 1 = no limit", "1.0");
  p("sm.warp_mma_sync_share", s.sm.warp_mma_sync_share,
    "Share of its sub-partition's mma.sync rate that one warp's in-order stream (ldmatrix operands, dependent "
    "MMAs, then its softmax or epilogue) keeps busy: a block with fewer warps per sub-partition than it takes "
    "runs its mma.sync steps slower than the SM's rate, and co-resident blocks fill the rest", "1.0");
  p("sm.fp8_promotion_interval", s.sm.fp8_promotion_interval,
    "fp8 GEMMs without fast accumulation: MMA k-instructions (32 B of K each) the tensor core accumulates "
    "before the partials are promoted to fp32 on the CUDA cores; 0 = the tensor core accumulates in fp32", "0");
  p("sm.kstep_group", s.sm.kstep_group,
    "Simulation granularity, not hardware: consecutive k-steps of a GEMM tile simulated as one (one A and one B "
    "copy, one MMA over their K), so a block waits once per group instead of once per k-step; applied where the "
    "tile's pipeline holds two groups and divides the fp8 promotion interval (1 = every k-step on its own)", "1");
  p("sm.block_launch_latency", s.sm.block_launch_latency, "Block dispatch and prologue setup on an SM", "300 ns");
  p("sm.descriptor_fetch_latency", s.sm.descriptor_fetch_latency,
    "Per kernel and SM: the wait for the kernel's TMA tensor maps before its first copy", "0 ns");
  p("sm.cluster_launch_latency", s.sm.cluster_launch_latency,
    "Per kernel and SM, for kernels launched in thread-block clusters: the wait of the SM's first block for "
    "its cluster (co-scheduled launch on one GPC, then the cluster barrier after the pipeline set-up) before "
    "its first copy", "0 ns");
  p("sm.load_l2_latency", s.sm.load_l2_latency,
    "Load-to-use latency of a copy the block's threads issue (ld.global, cp.async: CUDA-core kernels, "
    "sm80-style GEMMs, FlashAttention-2) that hits L2; TMA copies take l2.hit_latency. 0 = l2.hit_latency", "0 ns");
  p("sm.load_hbm_latency", s.sm.load_hbm_latency,
    "The same thread load when it misses L2 and HBM serves it (unloaded); TMA copies take hbm.latency. "
    "0 = hbm.latency", "0 ns");
  p("sm.dma_issue_cycles", s.sm.dma_issue_cycles, "Cycles the TMA unit spends issuing one tile copy", "4");
  p("sm.sync_cycles", s.sm.sync_cycles, "Cycles of a block-wide barrier", "20");
  describe(p, s.l2, "l2.");
  describe(p, s.hbm, "hbm.");
  describe(p, s.onchip, "onchip.");
  p("launch_overhead", s.launch_overhead, "Gap between back-to-back kernel launches on one stream", "2 us");
  // Upper bounds: every SM is a SystemC module with a thread per resident block, so counts far
  // beyond any real part (the B200 has 148 SMs, 32 blocks each) are refused before memory runs out.
  p.require(s.sm.count > 0 && s.sm.count <= 1024, "sm.count", "1 to 1024 SMs");
  p.require(s.sm.max_blocks > 0 && s.sm.max_blocks <= 64, "sm.max_blocks", "1 to 64 resident blocks");
  p.require(s.sm.max_threads > 0 && s.sm.max_threads <= 8192, "sm.max_threads", "1 to 8192 resident threads");
  p.require(s.sm.clock.value() > 0, "sm.clock", "a positive clock");
  p.require(s.sm.issue_per_clk > 0, "sm.issue_per_clk", "a positive issue rate");
  p.require(s.sm.alu_ops_per_clk > 0, "sm.alu_ops_per_clk", "a positive INT32-pipe rate");
  p.require(s.sm.mma_efficiency > 0 && s.sm.mma_efficiency <= 1, "sm.mma_efficiency", "a share in (0, 1]");
  p.require(s.sm.mma_sync_fraction > 0 && s.sm.mma_sync_fraction <= 1, "sm.mma_sync_fraction", "a share in (0, 1]");
  p.require(s.sm.sub_partitions >= 1 && s.sm.sub_partitions <= 16, "sm.sub_partitions", "1 to 16 sub-partitions");
  p.require(s.sm.warp_issue_cycles >= 1 && s.sm.warp_issue_cycles <= 64, "sm.warp_issue_cycles", "1 to 64 cycles per instruction");
  p.require(s.sm.warp_mma_sync_share > 0 && s.sm.warp_mma_sync_share <= 1, "sm.warp_mma_sync_share", "a share in (0, 1]");
  p.require(s.sm.fp8_promotion_interval >= 0 && s.sm.fp8_promotion_interval <= 64, "sm.fp8_promotion_interval",
            "0 (no promotion) to 64 MMA k-instructions");
  p.require(s.sm.kstep_group >= 1 && s.sm.kstep_group <= 16, "sm.kstep_group", "1 to 16 k-steps per simulated step");
  p.require(s.sm.l2_coalescing_window_cycles >= 0, "sm.l2_coalescing_window_cycles", "0 or more clocks");
  p.require(s.sm.tma || !s.sm.cluster_multicast, "sm.cluster_multicast", "sm.tma: true as well (the multicast is a TMA copy)");
  p.require(!s.sm.cta_pair_mma || s.sm.cluster_multicast, "sm.cta_pair_mma",
            "sm.cluster_multicast: true as well (the SM pair is a thread-block cluster)");
  p.require(s.sm.smem_per_block.value() <= s.sm.smem_capacity.value(), "sm.smem_per_block",
            "at most sm.smem_capacity", "sm.smem_capacity", "at least sm.smem_per_block");
}

int occupancy(const GpuSpec& s, double smem, int threads, int regs) {
  int by_smem = smem > 0 ? static_cast<int>(s.sm.smem_capacity.value() / smem) : s.sm.max_blocks;
  if (smem > s.sm.smem_per_block.value()) return 0;
  int by_threads = threads > 0 ? s.sm.max_threads / threads : s.sm.max_blocks;
  int by_regs = threads > 0 && regs > 0 ? s.sm.registers / (threads * regs) : s.sm.max_blocks;
  return std::max(0, std::min({by_smem, by_threads, by_regs, s.sm.max_blocks}));
}

}  // namespace xpu::gpu
