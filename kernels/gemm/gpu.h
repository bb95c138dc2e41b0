// GEMM lowered for the GPU family: block tiles over SMs, a multi-stage TMA -> shared memory ->
// tensor-core pipeline, split-K (reduced by a second kernel) when there are too few tiles to fill the SMs.
#pragma once
#include "chips/gpu/gpu_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::gpu {

// The kernel a library runs for a GEMM, decided by the chip (sm.tma) and its operands' row alignment
// (gemm_row_alignment):
// - kTmaWarpSpecialized: a chip with TMA and rows 16-byte aligned, so TMA can copy them (a tensor map's global
//   strides must be multiples of 16 bytes: CUDA Driver API, cuTensorMapEncodeTiled): cuBLAS's nvjet / sm90
//   kernels (warp-specialized producer and consumers, wgmma or tcgen05, multicast in a cluster).
// - kSm80Multistage: rows 4- or 8-byte aligned: CUTLASS 2.x's MmaMultistage (cuBLAS's cutlass_80_..._align2,
//   e.g. ..._s16816gemm_bf16_256x128_64x3_nn_align2 on the H200 at M3000 N5000 K700): mma.sync, 4-byte
//   cp.async copies issued by the warps, a multistage shared-memory ring. On a chip without TMA (Ampere) also
//   the 16-byte aligned GEMMs, with 16-byte cp.async copies: cuBLAS's ampere_bf16_s16816gemm_bf16_..._ldg8_...
//   kernels and CUTLASS's align8 sm80 kernels (python/cutlass_library/generator.py, GenerateSM80_TensorOp_16816:
//   alignment_constraints [8, 4, 2], tiles such as 256x128x64 with 3 stages and 8 warps).
// - kSm75Pipelined: rows 1- or 2-byte aligned: CUTLASS 2.x's MmaPipelined (cuBLAS's cutlass_75_..._align1,
//   e.g. ..._s1688gemm_bf16_128x128_nn_align1 on the H200 at M4095 N4097 K4096): mma.sync, element copies
//   through registers (ld.global, st.shared), two shared-memory stages, 32-deep k-tiles.
enum class GemmKernelClass { kTmaWarpSpecialized, kSm80Multistage, kSm75Pipelined };
GemmKernelClass gemm_kernel_class(int row_alignment, bool tma_unit = true);
// Bytes each thread copies per access in that kernel (16 for the TMA kernel's full-width rows).
int gemm_copy_bytes(int row_alignment);
const char* name(GemmKernelClass c);

struct GemmTiling {
  int bm = 128, bn = 256, bk = 64;  // block tile; bk covers 128 bytes of K per stage
  int stages = 4;                   // shared-memory pipeline depth
  int split_k = 1;
  int blocks_per_sm = 1;
  int group_m = 8;                  // tile rasterization: groups of 8 tile-rows for L2 reuse
  int cluster_m = 2;                // thread-block cluster along M: the pair shares (multicasts) B tiles
  double estimate_s = 0;            // the heuristic's own cost estimate (not the simulation)
  bool cta_pair = false;            // the cluster pair runs one 2-SM MMA: each CTA loads half of each B tile
  // Hybrid stream-K (kernels/common/stream_k.h): the last full wave and the partial one run as K-iteration ranges
  // spread evenly over one wave of units, the rest data-parallel (split_k is then 1).
  bool stream_k = false;
  // Bytes each thread copies per access when an operand's rows are not 16-byte aligned (gemm_row_alignment)
  // and TMA cannot describe it: the library then runs an sm80-style kernel (mma.sync, thread copies). 16:
  // the TMA kernel above.
  int copy_bytes = 16;
  bool tma_unit = true;  // the chip has TMA (sm.tma); without it 16-byte copies are the sm80 kernel's cp.async
  // Shared-memory wavefronts per 128 bytes of the epilogue's register-to-shared-memory stores (1: conflict-free,
  // the swizzled staging of CUTLASS/cuBLAS epilogues); n when n rows of each 8x8 stmatrix block fall into the
  // same bank group (DeepGEMM's first sm90 fp8 kernel, stated at deepgemm_fp8_tiling).
  int epilogue_bank_ways = 1;
  // 0: the epilogue stages the converted tile in shared memory and a TMA copy stores it (CUTLASS's and cuBLAS's sm90
  // kernels); n: the threads store their accumulators to global memory themselves, each warp store touching n
  // 128-byte lines, one L1 wavefront each (CUTLASS's ptr-array grouped kernel as TensorRT-LLM's MoE runner builds
  // it, kCutlassPtrArrayImpl; see kWgmmaStoreLines in gpu.cpp).
  int epilogue_store_lines = 0;
  // A persistent kernel (one CTA per SM walking its tiles in turn; 0: one CTA per tile) with this many accumulator
  // buffers in tensor memory: a tile's MMAs wait only for the epilogue of the tile that many back to have read its
  // accumulators, and its copies run ahead into the stage ring as the previous tile's MMAs free it.
  int persistent_accumulators = 0;
  bool tma() const { return tma_unit && copy_bytes >= 16; }  // the TMA kernel (else the sm80-style kernels)
  GemmKernelClass kernel() const { return gemm_kernel_class(copy_bytes, tma_unit); }
  std::string str() const;
};

// The heuristic a tuned library applies (stated in gpu.cpp): enumerate tile shapes and split-K
// factors that fit shared memory, estimate each by waves x per-tile time against the HBM bound,
// keep the cheapest. Pure function of the op and the spec.
GemmTiling choose_gemm_tiling(const OpSpec& op, const GpuSpec& spec);
// The layout DeepGEMM's sm100 MXFP4 kernel runs (OpSpec::impl kDeepGemmImpl), as its host heuristic picks it
// (stated in gpu.cpp); choose_gemm_tiling returns it for that impl.
GemmTiling deepgemm_fp4_tiling(const OpSpec& op, const GpuSpec& spec);
// The layout DeepGEMM's sm90 block-scaled fp8 kernel runs (OpSpec::impl kDeepGemmImpl with fp8 operands, a GEMM or
// an M-grouped GEMM), as its host heuristic picks it (stated in gpu.cpp).
GemmTiling deepgemm_fp8_tiling(const OpSpec& op, const GpuSpec& spec);

// The largest power of two (at most 16) that divides every operand's row pitch in bytes (A[M,K], B[K,N],
// C[M,N], row-major): the widest aligned access a kernel may make into every row.
int gemm_row_alignment(const OpSpec& op);

// Lowers a GEMM (batched if op.batch > 1) or a grouped GEMM (one GEMM per group, tiles of all
// groups in one launch). With split-K, every slice stores its fp32 partial and a second kernel
// (gemm.splitk_reduce) sums them, as cuBLAS does (its splitKreduce_kernel). With stream-K (one kernel)
// the first tasks are the stream-K units (each a K-iteration range over one or more tiles, the unit that
// starts a tile reducing its peers' partials in its epilogue, CUTLASS's fixup), then the data-parallel tiles.
KernelPrograms lower_gemm(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt);
KernelPrograms lower_gemm(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt, const GemmTiling& t);

}  // namespace xpu::gpu
