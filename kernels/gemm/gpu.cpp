// GEMM on the GPU family. The kernel class follows from the rows' alignment (gemm_kernel_class: TMA
// warp-specialized, or CUTLASS 2.x's sm80 multistage / sm75 pipelined kernels where TMA cannot copy the rows).
// The heuristic: for each candidate block tile (128x256, 256x128, 128x128, 128x64, 64x128, 64x64; BK = 128
// bytes of K, 64 in the sm75 class) take the deepest pipeline (2..7 stages; 2 in the sm75 class) that fits the
// per-block shared memory, and for each split-K factor (1 unless the tiles would leave SMs idle)
// estimate time = waves x max(tile MMA time, tile operand traffic over the SM's L2 link) plus the
// split-K reduction, floored by the compulsory HBM traffic. Pick the lowest estimate, preferring
// larger tiles on ties (less operand traffic). Where the last wave is partial, the hybrid stream-K
// decomposition (kernels/common/stream_k.h) is a further candidate of each tile shape. This mirrors how
// cuBLAS/CUTLASS heuristics rank kernels, without any measured data. fp8 tiles that promote their sums (Hopper, no fast accumulation) stop at
// 128x128 (registers).
#include "kernels/gemm/gpu.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <sstream>

#include "kernels/common/stream_k.h"
#include "kernels/gpu_builders.h"

namespace xpu::gpu {

namespace {
// The fallback for operands whose rows are not 16-byte aligned. TMA cannot copy them: a tensor map's
// global strides must be multiples of 16 bytes (CUDA Driver API, cuTensorMapEncodeTiled), so cuBLAS and
// CUTLASS run an sm80-style kernel instead (CUTLASS 2.x MmaMultistage with AlignmentA/B below 8 elements):
// warps load their operands from shared memory with ldmatrix and issue mma.sync (kMmaSync, at
// sm.mma_sync_fraction of the tensor rate), and the threads themselves copy each tile in accesses of the
// alignment's width. cp.async copies 4, 8 or 16 bytes (PTX ISA, cp.async), so 4- and 8-byte aligned rows keep
// the multistage pipeline (GemmKernelClass::kSm80Multistage); 2-byte aligned rows go through registers
// (ld.global then st.shared) in CUTLASS's MmaPipelined (kSm75Pipelined), which loads the next k-tile into
// registers while the MMAs of this one run and stores it, after them, into the other of its two shared-memory
// stages: a copy overlaps one step's MMAs, never more.
constexpr int kCpAsyncMinBytes = 4;  // source: PTX ISA, cp.async: cp-size 4, 8 or 16
constexpr int kCpAsyncFullBytes = 16;  // source: PTX ISA, cp.async: .cg (bypassing the L1) only with cp-size 16
constexpr int kWarpTile = 64;        // assumed: 64x64 warp tiles (CUTLASS's sm80 default warp shape for 128x128 blocks)
// The copy width of the kernel a library runs for rows `align` bytes aligned. cuBLAS ships its CUTLASS 2.x
// (sm80-style) kernels as align8 (16-byte copies), align2 (two 16-bit elements: 4-byte cp.async) and align1
// variants, no align4: a public nsys profile (an RTX PRO 4500 Blackwell, d_ff 4196, so output rows 8-byte but
// not 16-byte aligned) ran cutlass_80_tensorop_bf16_s16816gemm_bf16_128x256_32x3_tn_align2, and the pytorch
// issues #146817 (A100) and #181718 (RTX 4090) show align1 and align8 kernels only. So 8-byte aligned rows copy
// 4 bytes per thread.
int library_copy_bytes(int align) { return align >= 16 ? 16 : align >= kCpAsyncMinBytes ? kCpAsyncMinBytes : align; }
// The sm75 kernels cuBLAS ships are 2-stage and 32 elements deep (CUTLASS's cutlass_library/generator.py,
// GenerateSM75_TensorOp_1688: every tile 32 deep, stages 2; the 2-stage kernel is MmaPipelined).
constexpr int kSm75Stages = 2;
constexpr int kSm75KBytes = 64;  // source: as above, 32 bf16/fp16 elements
// The flag on the tile copies of a kernel without TMA: its warps copy with cp.async / ld.global, st.global.
std::uint8_t copy_path(const GemmTiling& t) { return t.tma() ? 0 : kThreadCopy; }
}  // namespace

int gemm_copy_bytes(int row_alignment) { return library_copy_bytes(row_alignment); }

GemmKernelClass gemm_kernel_class(int row_alignment, bool tma_unit) {
  const int c = library_copy_bytes(row_alignment);
  return c >= 16 && tma_unit ? GemmKernelClass::kTmaWarpSpecialized
                 : c >= kCpAsyncMinBytes ? GemmKernelClass::kSm80Multistage : GemmKernelClass::kSm75Pipelined;
}

const char* name(GemmKernelClass c) {
  switch (c) {
    case GemmKernelClass::kTmaWarpSpecialized: return "TMA warp-specialized";
    case GemmKernelClass::kSm80Multistage: return "sm80 multistage";
    case GemmKernelClass::kSm75Pipelined: return "sm75 pipelined";
  }
  return "?";
}

int gemm_row_alignment(const OpSpec& op) {
  int a = 16;
  for (double pitch : {op.k * bytes_per_element(op.dtype), op.n * bytes_per_element(op.wdtype), op.n * bytes_per_element(op.odtype)}) {
    const auto b = static_cast<std::int64_t>(pitch);
    while (a > 1 && (b % a != 0 || static_cast<double>(b) != pitch)) a /= 2;
  }
  return a;
}

std::string GemmTiling::str() const {
  std::ostringstream os;
  os << "tile " << bm << "x" << bn << "x" << bk << ", " << stages << " stages, split-k " << split_k << ", "
     << blocks_per_sm << " block/SM, cluster " << cluster_m << "x1";
  if (cta_pair) os << ", 2-SM MMA";
  if (stream_k) os << ", stream-K";
  if (persistent_accumulators > 0) os << ", persistent, " << persistent_accumulators << " accumulator buffer" << (persistent_accumulators > 1 ? "s" : "");
  if (epilogue_bank_ways > 1) os << ", epilogue stores " << epilogue_bank_ways << "-way bank-conflicted";
  if (epilogue_store_lines > 0) os << ", epilogue stored from registers (" << epilogue_store_lines << " lines per warp store)";
  if (!tma())
    os << ", kernel " << name(kernel()) << (tma_unit ? " (no TMA: rows not 16-byte aligned)" : " (no TMA on this GPU)") << ": mma.sync, "
       << (copy_bytes >= kCpAsyncMinBytes ? "cp.async" : "register-staged") << " copies of " << copy_bytes << " B";
  return os.str();
}

namespace {

// Bytes an operand element takes in a shared-memory stage. The f8f6f4 tcgen05 MMAs (Blackwell) read sub-byte
// operands unpacked, one byte per element: CUTLASS's sm100 builders stage fp6 (e2m3/e3m2) as
// float_e2m3_unpacksmem_t / float_e3m2_unpacksmem_t, a byte in shared memory each (uint8_t smem allocation for
// types under 8 bits), which TMA fills with its 16-byte padded copy from the packed tensor in global memory
// (NVIDIA/cutlass include/cutlass/gemm/collective/builders/sm100_common.inl, "TmaInternalElementA"; CUTLASS
// Blackwell functionality docs, "sub-byte data types ... designed for UMMA and TMA"). So an fp6 stage holds 1 byte
// per element and its 128-byte swizzled rows 128 elements, while the loads from L2 and HBM carry the packed 0.75.
// fp4 runs the block-scaled .kind::mxf4nvf4 MMAs, which read it packed (0.5 byte).
double smem_bytes_per_element(DType d) { return d == DType::fp6 ? 1.0 : bytes_per_element(d); }

int bk_for(DType d) { return std::max(16, static_cast<int>(128 / smem_bytes_per_element(d))); }

// Block scales of fp4 operands. An fp4 operand carries one scale factor per op.fp4_scale_block consecutive K
// elements: 16 with e4m3 scales (NVFP4; PTX ISA, tcgen05.mma `.kind::mxf4nvf4` with `.scale_vec::4X`), 32 with
// ue8m0 scales (MXFP4, `.scale_vec::2X`). CUTLASS's sm100 block-scaled mainloop copies each k-block's scale
// factors with TMA beside its A and B tiles, into the same pipeline stage (NVIDIA/cutlass
// include/cutlass/gemm/collective/builders/sm100_blockscaled_umma_builder.inl @02d166e3:
// sm100_compute_stage_count_or_override_blockscaled adds stage_sfa_bytes and stage_sfb_bytes to each stage's A
// and B bytes); the MMA warp then moves them into tensor memory with tcgen05.cp (CuTe DSL example
// dense_blockscaled_gemm_persistent.py). In a 2-SM pair each CTA receives the pair's whole SFB tile but loads
// half of it, multicast to the peer (same example: SFB multicast over the cluster's M mode), as B itself. So
// every stage, SM link, L2 slice and HBM read carries 1/16 byte more per NVFP4 element (+12.5% of its bytes),
// 1/32 per MXFP4 one (+6.25%). The scales cost no tensor-core time here: the MMA reads them from tensor memory
// (tcgen05.cp's own time is not published).
double staged_bytes_per_element(DType d, const OpSpec& op) {
  return bytes_per_element(d) + (d == DType::fp4 ? 1.0 / op.fp4_scale_block : 0.0);
}

// Block-scaled MMAs (fp4 operands with their scales) exist only with 128 rows per SM: CUTLASS lists the sm100
// tcgen05 shapes of `.kind::mxf4nvf4` as 128 x {64,128,192,256} x 64 on one SM and 256 x {64,...,256} x 64 on an
// SM pair (NVIDIA/cutlass python/cutlass_library/sm100_shapes.py @30ac8288, SM100_MMA_SHAPES_MXF4NVF4_DENSE_1SM
// and _2SM; the same for MXF8F6F4), where the unscaled kinds (f16, f8f6f4) also run 64-row tiles. So an fp4 GEMM
// never takes a 64-row tile, however few rows it has.
constexpr int kBlockScaledMmaRows = 128;  // source: as above, M of every MXF4NVF4 shape per SM
bool tile_rows_allowed(int bm, const OpSpec& op) { return op.dtype != DType::fp4 || bm == kBlockScaledMmaRows; }

// A stage's shared memory: each operand at its shared-memory width (fp6 unpacked) plus its block scales.
double stage_bytes(int bm, int bn, int bk, const OpSpec& op) {
  auto smem = [&](DType d) { return staged_bytes_per_element(d, op) - bytes_per_element(d) + smem_bytes_per_element(d); };
  return bm * bk * smem(op.dtype) + bk * bn * smem(op.wdtype);
}

// fp8 without fast accumulation on a chip whose tensor core accumulates fp8 products at reduced precision
// (Hopper): every `sm.fp8_promotion_interval` MMA k-instructions the consumer warpgroups wait for their
// MMAs and add the temporary accumulator into an fp32 one on the CUDA cores (CUTLASS's
// GmmaFP8Accumulation::promote_if_needed; DeepGEMM does the same). The model runs each promotion on the
// CUDA cores beside the next k-step's MMAs (the other consumer warpgroup's MMAs keep the tensor core busy),
// the MMAs after it waiting for it: it costs CUDA-core time, energy, and the tile's last promotion before
// the epilogue, not tensor-core time. Our measurements show use_fast_accum=False costing 0-9% (H185/H226,
// G233/G274, H188/H229, G236/G277).
// Both accumulators live in the consumer warpgroups' registers, so a promoted tile holds twice the fp32
// accumulators of a plain one: at 128x256 (and 256x128) over two consumer warpgroups that is 2 x 128 = 256
// registers per thread, more than the consumers' budget (kConsumerRegisters), so the library runs 128x128
// and below (cuBLAS's fp8 kernels for torch._scaled_mm are sm90_xmma_gemm_e4m3..._tilesize128x128x128 with
// a 1x2x1 cluster, where its bf16 GEMMs run 256x128x64 (public profiles of cuBLASLt on H100 SXM)).
constexpr int kMmaKBytes = 32;  // source: PTX ISA, wgmma.mma_async shapes: K = 16 for bf16/fp16, 32 for fp8 (32 bytes)
constexpr int kConsumerThreads = 256;    // source: CUTLASS sm90 warp-specialized cooperative kernel: two consumer warpgroups
constexpr int kConsumerRegisters = 232;  // source: CUTLASS sm90_gemm_tma_warpspecialized_cooperative.hpp, MmaRegisterRequirement = 232 (setmaxnreg of the consumer warpgroups; 40 for the producer)

// A warpgroup's wgmma covers 64 rows of the tile (PTX ISA, wgmma.mma_async: M = 64 for every shape), so
// CUTLASS's cooperative kernel, whose two consumer warpgroups split the tile's rows, needs 128 rows or more
// (sm90_gemm_tma_warpspecialized_cooperative.hpp static-asserts tile M >= 128); a 64-row tile has one
// warpgroup doing its MMAs (the ping-pong kernel, whose math warpgroups take turns at the tensor core, one
// tile's main loop at a time). Its promotions therefore have no second warpgroup's MMAs to hide behind:
// GmmaFP8Accumulation::promote_core waits for all of the warpgroup's MMAs (warpgroup_wait<0>), adds, and only
// then issues the next k-tile's MMAs, which overwrite the temporary accumulator it just read.
constexpr int kWgmmaRows = 64;  // source: PTX ISA, wgmma.mma_async: the M of every shape is 64 (one warpgroup)
bool promotion_serial(int bm) { return bm < 2 * kWgmmaRows; }

// fp32 accumulator registers per consumer thread of a TMA tile, doubled when it promotes.
int accumulator_registers(int bm, int bn, bool promoted) { return (promoted ? 2 : 1) * bm * bn / kConsumerThreads; }

// MMA k-steps (BK each) between two promotions; 0 when the GEMM promotes nothing.
int promotion_steps(const OpSpec& op, const GpuSpec& spec, int bk) {
  if (op.dtype != DType::fp8 || op.fast_accum || op.impl == kCutlassPtrArrayImpl || spec.sm.fp8_promotion_interval <= 0) return 0;
  const double k_bytes = bk * bytes_per_element(op.dtype);
  return std::max(1, static_cast<int>(spec.sm.fp8_promotion_interval * kMmaKBytes / k_bytes));
}

// CUDA-core cycles of one promotion: one fp32 add per accumulator element, each holding an FP32 lane
// (vector_flops_per_clk counts an FMA lane as 2 FLOPs) for a clock.
double promotion_cycles(int bm, int bn, const GpuSpec& spec) { return 2.0 * bm * bn / spec.sm.vector_flops_per_clk; }

// The block of the sm80-style fallback (copy_bytes < 16): one warp per 64x64 warp tile, each warp reading
// its A rows and B columns from shared memory per k-step (ldmatrix); fp32 accumulators plus an assumed 64
// registers of fragments and addresses per thread. The warps copy the tiles themselves, through the SM's
// unified L1 / shared-memory unit, which serves one wavefront per clock (up to smem_bytes_per_clk = 128
// bytes: one 128-byte line of a global access, or one pass over the 32 banks of 4 bytes; NVIDIA Nsight
// Compute's memory-workload documentation counts L1 work in wavefronts).
// How many wavefronts a copy takes follows from CUTLASS 2.x's copy layout, which a narrow kernel keeps from
// the aligned one: the thread map is built for 128-bit accesses (default_mma_core_sm80.h: kAccessSizeInBits =
// 128; a warp is 8 threads along a row's contiguous 128 bytes by 4 rows), and the narrow kernel splits each
// thread's 16-byte vector into kAccessesPerVector = 16 / copy_bytes accesses (predicated_tile_access_iterator.h:
// ThreadMap::kElementsPerAccess / AccessType::kElements). One warp-wide access then touches 4 rows, its 8
// lanes per row 16 bytes apart: 4 global lines, and in shared memory 4 rows whose lanes fall in the same 8
// banks (the XOR swizzle permutes 16-byte chunks within a row), a 4-way conflict. So every narrow warp access
// costs kCopyRowsPerAccess wavefronts whatever its width, for 32 x copy_bytes bytes (at 16 bytes, 4 x 128:
// full width). Register-staged copies (below 4 bytes) pass the unit twice, as the global loads (ld.global into
// registers) and as the shared stores (st.shared). cp.async copies (LDGSTS, in the MIO pipe that ldmatrix
// uses) of 16 bytes are cp.async.cg, which bypasses the L1: the returned bytes are written into shared memory,
// one pass. Narrower ones cannot be: PTX ISA, cp.async, allows .cg only with cp-size 16, and CUTLASS 2.x picks
// CacheOperation::Global only for 128-bit accesses, Always (.ca) otherwise (include/cutlass/gemm/threadblock/
// default_mma.h, CacheOpA/CacheOpB = sizeof_bits x kAlignment == 128 ? Global : Always). A .ca copy allocates
// its lines in the L1, which shares its data array with shared memory: the access reads the line there and
// writes shared memory, two passes as the register-staged copy makes (assumed: each at the access's 4
// wavefronts; the line fills themselves, one per 128-byte line, are not counted). All of it beside the
// ldmatrix reads. (The TMA kernel's copies bypass the warps' memory pipe: the TMA unit writes shared memory.)
constexpr double kCopyRowsPerAccess = 4;  // source: CUTLASS default_mma_core_sm80.h, a warp's threads 8 (128 B of 16-byte vectors) x 4 rows
struct SyncBlock {
  int warps_m, warps_n, threads, regs;
  // L1 / shared-memory traffic of one k-step in units of full-width bytes (ldmatrix reads, and the global
  // loads and shared stores of register-staged copies).
  double smem_bytes(int bk, const OpSpec& op, int bm, int bn, int copy_bytes, double smem_per_clk) const {
    double b = bk * (bm * bytes_per_element(op.dtype) * warps_n + bn * bytes_per_element(op.wdtype) * warps_m);
    // Thread copies: kCopyRowsPerAccess wavefronts per warp-wide access of 32 x copy_bytes bytes, once for a
    // 16-byte cp.async (.cg), twice for a narrower one (.ca: L1 line, then shared memory) and for a
    // register-staged copy (ld.global, then st.shared).
    const double passes = copy_bytes < kCpAsyncFullBytes ? 2 : 1;
    const double accesses = stage_bytes(bm, bn, bk, op) / (32.0 * copy_bytes);
    b += passes * accesses * kCopyRowsPerAccess * smem_per_clk;
    return b;
  }
};
SyncBlock sync_block(int bm, int bn) {
  SyncBlock b;
  b.warps_m = std::max(1, bm / kWarpTile), b.warps_n = std::max(1, bn / kWarpTile);
  b.threads = 32 * b.warps_m * b.warps_n;
  b.regs = std::min(255, bm * bn / b.threads + 64);
  return b;
}

// Rows of A (and of the output) over every group or batch entry.
double a_rows(const OpSpec& op) {
  if (op.kind != OpKind::GroupedGemm) return static_cast<double>(op.batch) * static_cast<double>(op.m);
  double rows = 0;
  for (auto r : op.group_rows) rows += static_cast<double>(r);
  return rows;
}

// B matrices the GEMM reads: a grouped GEMM's groups with rows (an expert no token routed to has no tiles, so its
// weights are not read), else the batch entries.
double b_matrices(const OpSpec& op) {
  if (op.kind != OpKind::GroupedGemm) return static_cast<double>(op.batch);
  return static_cast<double>(std::count_if(op.group_rows.begin(), op.group_rows.end(), [](std::int64_t r) { return r > 0; }));
}

// Bytes of the GEMM's A and B operands (every group's with rows, or batch entry's).
double operand_bytes(const OpSpec& op) {
  if (op.kind == OpKind::GroupedGemm) {
    const double rows = a_rows(op);
    return rows * op.k * staged_bytes_per_element(op.dtype, op) + b_matrices(op) * op.k * op.n * staged_bytes_per_element(op.wdtype, op);
  }
  return static_cast<double>(op.batch) * op.k * (op.m * staged_bytes_per_element(op.dtype, op) + op.n * staged_bytes_per_element(op.wdtype, op));
}

// The block scales' share of operand_bytes (0 without fp4 operands): HBM traffic beside op.min_bytes().
double block_scale_bytes(const OpSpec& op) {
  const double b_mats = b_matrices(op);
  return a_rows(op) * op.k * (staged_bytes_per_element(op.dtype, op) - bytes_per_element(op.dtype)) +
         b_mats * op.k * op.n * (staged_bytes_per_element(op.wdtype, op) - bytes_per_element(op.wdtype));
}

// The estimate of a hybrid stream-K run, in the terms of choose_gemm_tiling (`t_tile`: one whole tile's time
// with its launch, `partial_s`: one fp32 partial tile over an SM's L2 link, `dram`: the HBM floor, `sk_hbm_s`:
// the stream-K iterations' own HBM reads, which they make in their phase): the data-parallel waves, then one
// unit's share of the stream-K iterations at the same per-iteration rate or at the HBM's, and
// the fixup on a unit's path as the split-K reduction costs it: the unit stores the partial of the tile it
// ends in, and, owning the tile it ends with, polls its peers' flag twice and reads their partials (at most
// sk_units / sk_tiles + 1 of them) back over its link (three L2 round trips).
double stream_k_estimate(const StreamKPlan& p, double t_tile, double slots, double partial_s, const GpuSpec& spec, double dram,
                         double sk_hbm_s) {
  const double launch = spec.sm.block_launch_latency.value();
  const double per_iter = (t_tile - launch) / static_cast<double>(p.ksteps);
  const double unit_iters = std::ceil(static_cast<double>(p.sk_iters()) / static_cast<double>(p.sk_units));
  const double peers = std::ceil(static_cast<double>(p.sk_units) / static_cast<double>(p.sk_tiles));
  const double waves = static_cast<double>(p.dp_tiles) / slots;
  const double reduce = (peers + 1) * partial_s + 3 * spec.thread_l2_latency();  // the fix-up's loads are the threads'
  return std::max(waves * t_tile + std::max(unit_iters * per_iter, sk_hbm_s) + launch + spec.hbm.latency.value(), dram) + reduce;
}

// The heuristic's estimate of the split-K reduction kernel (splitk_reduce): its launch, its blocks' setup, one
// L2 round trip for its first loads and one for its stores, then the sk fp32 partials read from L2 and the
// output written, at the L2's and the HBM's bandwidth.
double splitk_reduce_estimate(const OpSpec& op, int sk, const GpuSpec& spec) {
  const double elems = a_rows(op) * static_cast<double>(op.n);
  return spec.launch_overhead.value() + spec.sm.block_launch_latency.value() + 2 * spec.thread_l2_latency() +
         elems * 4.0 * sk / spec.l2.bandwidth.value() + elems * bytes_per_element(op.odtype) / (spec.hbm.bandwidth.value() * spec.hbm.efficiency);
}

// The dtypes this GPU's tensor cores run, for the hint when asked for one it does not: "bf16, fp8 or tf32".
std::string tensor_dtypes(const GpuSpec& spec) {
  std::vector<std::string> names;
  for (DType d : {DType::bf16, DType::fp16, DType::fp8, DType::fp6, DType::fp4, DType::int8, DType::tf32})
    if (spec.tensor_flops_per_clk(d) > 0) names.push_back(name(d));
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

}  // namespace

// DeepGEMM's sm100 MXFP4 GEMM (OpSpec::impl kDeepGemmImpl; deepseek-ai/DeepGEMM pull request #348,
// csrc/jit_kernels/impls/sm100_fp4_gemm_1d1d.hpp, pick_fp4_layout and recompute_stages_for_fp4) runs the layout
// its host code picks, not the cheapest one: 128-row tiles 256 fp4 deep (128 bytes of K per stage); BLOCK_N from
// 16 to 256 in steps of 16 whose accumulator and scale-factor columns fit the 512 tensor-memory columns; the fewest
// waves over the SMs, then (with two waves or more) one whose two accumulators fit for epilogue overlap, then the
// largest stages^2 x BLOCK_N, stages counted as the shared memory left after 32 KB of output staging over one
// stage's A, B and their scales padded to 128 rows (at most 12). From 512 rows up, with an even count of tile-rows,
// two CTAs run one 2-SM MMA (cluster 2 along M, each loading half of B). Its stages: the shared memory over A, its
// half of B and the padded scales, at most 12 and at most the k-blocks. The kernel is persistent
// (deep_gemm/include/deep_gemm/impls/sm100_fp4_gemm_1d1d.cuh: a grid of kNumSMs CTAs, each walking its tiles with
// scheduler.get_next_block in warp-specialized loops of their own): the TMA warp loads the next tile's k-blocks as
// soon as the MMAs free their stages, and the MMA warp starts the next tile once the epilogue has read the
// accumulator buffer it reuses (tmem_empty_barriers), one of kNumEpilogueStages = 2 where two BLOCK_N
// accumulators and the scale columns fit the 512 tensor-memory columns, else 1.
namespace {
constexpr int kDgBlockKBytes = 128;         // source: pick_fp4_layout, block_k = 128 bytes (256 fp4)
constexpr int kDgMaxStages = 12;            // source: recompute_stages_for_fp4, std::min({12, ...})
constexpr int kDgSmem = 232448;             // source: SM100ArchSpec::smem_capacity
constexpr int kDgCdBytes = 128 * 128 * 2;   // source: the non-swapped epilogue stages 128 rows x 128-byte swizzle, twice
constexpr int kDgTmemColumns = 512;         // source: tensor memory, 512 columns (PTX ISA, tcgen05)
constexpr int kDgFixedBytes = 420;         // source: recompute_stages_for_fp4, barriers (12x8x4 + 4x8x2 + 8) and the tensor-memory pointer
constexpr int kDgEstFixedBytes = 200;      // source: pick_fp4_layout's own estimate of the same
constexpr int kDgSfAlign = 128;             // source: scale factors padded to 128 rows for tcgen05.cp (UTCCP)
int dg_sf_rows(int rows) { return static_cast<int>(ceil_div(rows, kDgSfAlign)) * kDgSfAlign; }
// Bytes of one stage's scale factors for `rows` rows padded (2 packed 32-bit words of ue8m0 per row).
int dg_sf_bytes(int rows) { return dg_sf_rows(rows) * 2 * 4; }
int dg_tmem_columns(int bn, int accumulators) { return accumulators * bn + (128 / 32) * 2 + dg_sf_rows(bn) / 32 * 2; }
// Shared memory of one stage: A's 128 rows, the `b_rows` of B this CTA loads, and both operands' scales (B's for all
// BLOCK_N rows).
int dg_stage_bytes(int b_rows, int bn) {
  return kBlockScaledMmaRows * kDgBlockKBytes + b_rows * kDgBlockKBytes + dg_sf_bytes(kBlockScaledMmaRows) + dg_sf_bytes(bn);
}
}  // namespace

GemmTiling deepgemm_fp4_tiling(const OpSpec& op, const GpuSpec& spec) {
  if (!spec.sm.cta_pair_mma) unsupported(spec.name, op, "DeepGEMM's block-scaled fp4 kernel is sm100's (tcgen05); this GPU has none");
  const std::int64_t sms = spec.sm.count, tiles_m = ceil_div(op.m, kBlockScaledMmaRows) * op.batch;
  int best_bn = 0;
  std::int64_t best_waves = 0;
  std::int64_t best_score = 0;
  bool best_two = false;
  for (int bn = 16; bn <= 256; bn += 16) {
    if (dg_tmem_columns(bn, 1) > kDgTmemColumns) continue;
    const std::int64_t waves = ceil_div(tiles_m * ceil_div(op.n, bn), sms);
    const std::int64_t est = std::min(kDgMaxStages, std::max(1, (kDgSmem - kDgCdBytes - kDgEstFixedBytes) / dg_stage_bytes(bn, bn)));
    const std::int64_t score = est * est * bn;
    const bool two = dg_tmem_columns(bn, 2) <= kDgTmemColumns, overlap = waves >= 2;
    bool take = best_bn == 0 || waves < best_waves;
    if (!take && waves == best_waves && bn <= op.n)
      take = (overlap && two && !best_two) || ((!overlap || two == best_two) && score > best_score);
    if (take) best_bn = bn, best_waves = waves, best_score = score, best_two = two;
  }
  GemmTiling t;
  t.bm = kBlockScaledMmaRows, t.bn = best_bn, t.bk = kDgBlockKBytes * 2;
  const bool pair = op.m >= 512 && ceil_div(op.m, kBlockScaledMmaRows) % 2 == 0 && sms % 2 == 0 && spec.sm.cta_pair_mma;
  t.cluster_m = pair ? 2 : 1;
  t.cta_pair = pair;
  const int per_stage = dg_stage_bytes(best_bn / t.cluster_m, best_bn);
  t.stages = static_cast<int>(std::min<std::int64_t>({kDgMaxStages, (kDgSmem - kDgCdBytes - kDgFixedBytes) / per_stage, ceil_div(op.k, t.bk)}));
  t.split_k = 1;
  t.persistent_accumulators = dg_tmem_columns(best_bn, 2) <= kDgTmemColumns ? 2 : 1;
  return t;
}

// DeepGEMM's sm90 block-scaled fp8 GEMM (OpSpec::impl kDeepGemmImpl with fp8 operands; deepseek-ai/DeepGEMM's
// first release, deep_gemm/jit_kernels/gemm.py get_best_configs, the version of its README's H800 table) runs the
// layout its host code picks, not the cheapest one: BLOCK_M 64 when M <= 64, else 128 (its M-grouped kernels:
// 128, and the M each is called with: a group's rows for the masked kernel, all rows for the contiguous one);
// BLOCK_N from 16 to 128 in steps of 8 with the fewest waves over the SMs, then the fullest last wave, then the
// smaller BLOCK_N; BLOCK_K 128; no split of K (one persistent CTA per SM); the most stages of 8..4 (6..4 where
// BLOCK_N does not divide 128) whose shared memory fits (output tile, per stage A, its scales and B, all of B's
// scales along K, barriers); a TMA multicast over a cluster of 2 when M >= 1024 and N splits into pairs of
// BLOCK_N. Its multicast shares A between the pair's two N-tiles, where GemmTiling's cluster pair shares B
// between two M-tiles: at the square tiles it picks there (128x128) both save the same L2 reads.
namespace {
constexpr int kDg8BlockK = 128;           // source: get_smem_size(block_k = 128), the kernel's BLOCK_K
constexpr int kDg8Smem = 232448;          // source: get_best_configs, sm90_capacity = 232448
constexpr int kDg8MulticastMinRows = 1024;  // source: get_best_configs, `if m >= 1024 and is_tma_multicast_legal(...)`
// Its epilogue (the 2025-02 release, which timed the README's H800 table) converts the fp32 accumulators to bf16 and
// writes them with stmatrix (SM90_U32x4_STSM_N: per 8x8 block, 8 rows of 16 bytes) into an output tile whose rows
// are BLOCK_N bf16 apart, neither padded nor swizzled, before one TMA store. Shared memory serves 32 banks of 4
// bytes (128 bytes, eight 16-byte bank groups) per wavefront, so a block's 8 rows, pitch BLOCK_N x 2 bytes apart,
// fall into 8 / gcd(BLOCK_N / 8, 8) distinct groups: gcd(BLOCK_N / 8, 8) rows share each group and take that many
// wavefronts (8 at BLOCK_N 64 or 128, 2 at 112). The math warpgroups wait for these stores (a named barrier
// before the TMA store) before the next tile's MMAs. DeepGEMM removed the conflicts later (deepseek-ai/DeepGEMM
// pull request #78, 2025-04-03, "Solving bank conflict via padding and TMA 3D store": "general cases 1% faster,
// cases with small Ks ~10% faster"), which is why the cost shows at short K, where a tile has few k-blocks.
constexpr int kStsmRows = 8;        // source: PTX ISA, stmatrix .m8n8: 8 rows of 8 b16 (16 bytes) per matrix
constexpr int kBankGroupBytes = 16;  // source: 32 banks x 4 bytes = 128 bytes per wavefront, in 16-byte (one stmatrix row) groups
int dg8_epilogue_bank_ways(int bn) {
  const int pitch_groups = bn * 2 / kBankGroupBytes;  // the row pitch in 16-byte groups
  return std::gcd(pitch_groups, kStsmRows);
}
int dg8_smem(int stages, std::int64_t k, int bm, int bn) {
  const std::int64_t scales_b = ceil_div(k, kDg8BlockK) * 4 * (kDg8BlockK % bn == 0 ? 1 : 2);
  return static_cast<int>(bm * bn * 2 + stages * (bm * kDg8BlockK + bm * 4 + bn * kDg8BlockK) + ceil_div(scales_b, 8) * 8 +
                          stages * 16);
}
}  // namespace

GemmTiling deepgemm_fp8_tiling(const OpSpec& op, const GpuSpec& spec) {
  if (spec.sm.cta_pair_mma)
    unsupported(spec.name, op, "DeepGEMM's block-scaled fp8 kernel modelled here is sm90's (wgmma); this GPU runs tcgen05");
  if (!spec.sm.tma || !spec.sm.wgmma)
    unsupported(spec.name, op, "DeepGEMM's block-scaled fp8 kernel is sm90's: TMA copies and wgmma, which this GPU lacks");
  const bool grouped = op.kind == OpKind::GroupedGemm;
  std::int64_t rows = op.m;  // the M its host code is called with
  if (grouped) rows = op.group_rows.empty() ? 0 : *std::max_element(op.group_rows.begin(), op.group_rows.end());
  const int bm = !grouped && rows <= 64 ? 64 : 128;
  auto tiles = [&](int bn) {
    std::int64_t t = 0;
    if (grouped)
      for (auto g : op.group_rows) t += ceil_div(g, bm) * ceil_div(op.n, bn);
    else
      t = ceil_div(op.m, bm) * ceil_div(op.n, bn) * op.batch;
    return std::max<std::int64_t>(1, t);
  };
  const std::int64_t sms = spec.sm.count;
  int best_bn = 0;
  std::int64_t best_waves = 0, best_util = 0;
  for (int bn = 16; bn <= 128; bn += 8) {
    const std::int64_t t = tiles(bn), waves = ceil_div(t, sms), util = t % sms == 0 ? sms : t % sms;
    if (best_bn == 0 || waves < best_waves || (waves == best_waves && util > best_util))
      best_bn = bn, best_waves = waves, best_util = util;
  }
  GemmTiling t;
  t.bm = bm, t.bn = best_bn, t.bk = kDg8BlockK;
  t.stages = 4;
  for (int s : kDg8BlockK % best_bn == 0 ? std::vector<int>{8, 7, 6, 5, 4} : std::vector<int>{6, 5, 4})
    if (dg8_smem(s, op.k, bm, best_bn) <= kDg8Smem) {
      t.stages = s;
      break;
    }
  t.stages = static_cast<int>(std::min<std::int64_t>(t.stages, std::max<std::int64_t>(1, ceil_div(op.k, t.bk))));
  t.cluster_m = rows >= kDg8MulticastMinRows && op.n % (2 * best_bn) == 0 && sms % 2 == 0 ? 2 : 1;
  t.split_k = 1;
  t.epilogue_bank_ways = dg8_epilogue_bank_ways(best_bn);
  return t;
}

// The epilogue of CUTLASS's ptr-array grouped kernel as TensorRT-LLM's MoE runner builds it for sm90
// (kCutlassPtrArrayImpl: PtrArrayNoSmemWarpSpecialized) stages nothing in shared memory: each consumer thread
// converts its accumulators and stores them to global memory itself, one element per store
// (cutlass/epilogue/collective/default_epilogue_array.hpp: a predicated loop over the fragment,
// `tCgD(i) = epilogue_op(...)`), the pattern CUTLASS's maintainers name slow for the grouped kernel of early 2024
// ("Current NoSmem epilogues are not optimized for that. We plan to have TMA based epilogue support soon for
// Grouped GEMM", NVIDIA/cutlass issue #1352). The runner swaps the operands (the weights are the kernel's M, the
// tokens its N), so the output D[token][n] is contiguous along the kernel's M. A wgmma accumulator register
// holds, across a warp's 32 lanes, rows lane/4 (8 consecutive M) of columns 2 x (lane % 4) (PTX ISA, wgmma
// register fragment layout of D): one store of the warp writes 8 contiguous elements in each of 4 different
// tokens' rows, 4 global lines. Each line a store touches is one wavefront of the SM's L1 (the convention of
// the narrow copies above: a warp access costs one wavefront per 128-byte line it touches), so the epilogue
// takes 4 wavefronts per 32 output elements on the unit that serves shared memory and L1 at
// sm.smem_bytes_per_clk per wavefront, where the staged epilogue writes each element once, 128 bytes a
// wavefront. The cooperative kernel's consumer warpgroups run it after their tile's K loop: the tensor cores wait.
constexpr int kWgmmaStoreLines = 4;        // source: PTX ISA wgmma D fragment, lane % 4 picks the column pair
constexpr int kWarpStoreElements = 32;     // one element per lane of a warp store

// CUTLASS's ptr-array grouped kernel (kCutlassPtrArrayImpl) walks whole tiles (PersistentTileSchedulerSm90Group): no
// split-K or stream-K.
bool whole_tiles_only(const OpSpec& op) { return op.kind == OpKind::GroupedGemm && op.impl == kCutlassPtrArrayImpl; }

// The chosen tiling with its kernel's epilogue: the ptr-array kernel's sm90 build stores from registers
// (kWgmmaStoreLines); other GPUs (tcgen05) and the sm80-style kernels run other epilogues.
GemmTiling with_kernel_epilogue(GemmTiling t, const OpSpec& op, const GpuSpec& spec) {
  t.epilogue_store_lines = whole_tiles_only(op) && t.tma() && spec.sm.wgmma && !spec.sm.cta_pair_mma ? kWgmmaStoreLines : 0;
  return t;
}

// No GEMM tile fits the shared memory a block may have (a what-if's `--set sm.smem_per_block`): that key and value.
static InputError no_tile_fits(const GpuSpec& spec) {
  const std::string smem = spec.sm.smem_per_block.str();
  return InputError(spec.name + ": sm.smem_per_block: '" + smem + "': no GEMM tile fits the shared memory", "", smem)
      .with_key("", "sm.smem_per_block");
}

GemmTiling choose_gemm_tiling(const OpSpec& op, const GpuSpec& spec) {
  if (spec.tensor_flops_per_clk(op.dtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.dtype) + " tensor-core path on this GPU (use " +
                                   tensor_dtypes(spec) + ")");
  if (op.impl == kDeepGemmImpl) return op.dtype == DType::fp8 ? deepgemm_fp8_tiling(op, spec) : deepgemm_fp4_tiling(op, spec);
  const DType mma = op.dtype;
  const double rate = spec.tensor_flops_per_clk(mma) * spec.sm.mma_efficiency * spec.sm.clock.value();
  const double link = spec.sm.l2_port_bytes_per_clk * spec.sm.clock.value();
  const double hbm = spec.hbm.bandwidth.value() * spec.hbm.efficiency;
  const int align = library_copy_bytes(gemm_row_alignment(op));  // bytes each thread copies
  const bool tma = align >= 16 && spec.sm.tma;  // else an sm80-style kernel (gemm_kernel_class)
  const bool pipelined = gemm_kernel_class(align, spec.sm.tma) == GemmKernelClass::kSm75Pipelined;
  const int bk = pipelined ? std::max(16, static_cast<int>(kSm75KBytes / bytes_per_element(mma))) : bk_for(mma);
  static const int shapes[][2] = {{128, 256}, {256, 128}, {128, 128}, {128, 64}, {64, 128}, {64, 64}};
  GemmTiling best;
  best.estimate_s = 1e30;
  const int promote = promotion_steps(op, spec, bk);
  const double clk = spec.sm.clock.value();
  // Block-scaled fp4 kernels whose library builds no split of K (sm.block_scaled_split_k) run whole tiles.
  const bool may_split = !whole_tiles_only(op) && (spec.sm.block_scaled_split_k || (op.dtype != DType::fp4 && op.wdtype != DType::fp4));
  for (auto& sh : shapes) {
    int bm = sh[0], bn = sh[1];
    if (!tile_rows_allowed(bm, op)) continue;
    double sb = stage_bytes(bm, bn, bk, op);
    double epi = 0;  // epilogue reuses pipeline buffers
    int stages = std::min(pipelined ? kSm75Stages : 7, static_cast<int>((spec.sm.smem_per_block.value() - epi) / sb));
    if (stages < 2) continue;
    const SyncBlock sb80 = sync_block(bm, bn);
    if (tma && accumulator_registers(bm, bn, promote > 0) > kConsumerRegisters) continue;
    int bps = std::max(1, tma ? occupancy(spec, stages * sb, 384, 168) : occupancy(spec, stages * sb, sb80.threads, sb80.regs));
    std::int64_t tiles_mn = 0, rows_tiles = 0;  // most tile-rows of one group
    if (op.kind == OpKind::GroupedGemm) {
      for (auto g : op.group_rows) tiles_mn += ceil_div(g, bm) * ceil_div(op.n, bn), rows_tiles = std::max(rows_tiles, ceil_div(g, bm));
    } else {
      tiles_mn = ceil_div(op.m, bm) * ceil_div(op.n, bn) * op.batch, rows_tiles = ceil_div(op.m, bm);
    }
    // A 2-SM MMA pairs adjacent tile-rows; with a single tile-row (a decode GEMM, experts of a few rows
    // each) the pair's second SM would only load half of B, so the kernel is a 1-SM one (cta_group::1).
    const bool pair = tma && spec.sm.cta_pair_mma && rows_tiles >= 2;
    if (tiles_mn == 0) tiles_mn = 1;
    std::int64_t ksteps = ceil_div(op.k, bk);
    for (int sk : {1, 2, 3, 4, 6, 8, 12, 16}) {
      if (sk > 1 && (tiles_mn * sk > 2 * spec.sm.count * bps || ksteps / sk < 4 || !may_split)) break;
      double tiles = static_cast<double>(tiles_mn * sk);
      double slots = static_cast<double>(spec.sm.count) * bps;
      double waves = std::ceil(tiles / slots);
      double kslice = std::ceil(static_cast<double>(ksteps) / sk) * bk;
      double t_mma = 2.0 * bm * bn * kslice / rate * bps;  // rate is per SM
      // The promotions run on the CUDA cores beside the next k-step's MMAs (the other consumer warpgroup's),
      // or between them where one warpgroup does the tile's MMAs (promotion_serial).
      if (promote > 0) {
        const double promo = std::ceil(kslice / bk / promote) * promotion_cycles(bm, bn, spec) / clk * bps;
        t_mma = promotion_serial(bm) ? t_mma + promo : std::max(t_mma, promo);
      }
      // A 2-SM MMA pair splits each B tile between the two SMs' links (Blackwell).
      const double bn_link = pair ? bn / 2.0 : bn;
      double t_link = (bm + bn_link) * kslice * staged_bytes_per_element(op.dtype, op) / link * bps;
      if (!tma) {  // mma.sync: the warps' ldmatrix reads beside other warps' MMAs at the synchronous rate
        const double steps = kslice / bk;
        // Per block: its warps' in-order streams; the SM's resident blocks share the engine (GpuSpec::mma_sync_step).
        const auto step = spec.mma_sync_step(
            sb80.smem_bytes(bk, op, bm, bn, align, spec.sm.smem_bytes_per_clk) / spec.sm.smem_bytes_per_clk,
            2.0 * bm * bn * bk / (spec.tensor_flops_per_clk(mma) * spec.sm.mma_sync_fraction),
            static_cast<unsigned>(sb80.warps_m * sb80.warps_n));
        const double t_block = steps * step.complete / clk;
        t_mma = std::max(steps * step.busy / clk * bps, t_block);
        t_link = (bm + bn) * kslice * staged_bytes_per_element(op.dtype, op) / link * bps;
        // Register-staged copies (MmaPipelined): the next k-tile's copy, its L2 round trip included, runs
        // beside this one's MMAs, so a block's step takes the longer of the two.
        if (pipelined)
          t_mma = std::max(t_mma, steps * std::max(t_block / steps, t_link / bps / steps + spec.thread_l2_latency()));
      }
      double t_tile = std::max(t_mma, t_link) + spec.sm.block_launch_latency.value();
      // Operand bytes the L2 slices deliver (B is multicast to the two CTAs of a cluster).
      const bool mc = tma && spec.sm.cluster_multicast;
      double l2_bytes = tiles * (bm + bn / (mc ? 2.0 : 1.0)) * kslice * staged_bytes_per_element(op.dtype, op);
      double dram = std::max((op.min_bytes() + block_scale_bytes(op)) / hbm, l2_bytes / spec.l2.bandwidth.value());
      // Split-K (splitk_reduce): each slice stores its fp32 partial over its L2 link, then a second kernel
      // reads the sk partials of every output element from L2 and writes the output: one more launch,
      // its blocks' setup and an L2 round trip before its loads, and its bytes.
      double reduce = sk > 1 ? bm * bn * 4.0 / link + splitk_reduce_estimate(op, sk, spec) : 0;
      // A tile's first MMA waits for its first stage, one memory round trip (HBM for the first wave): on the
      // path of a compute-bound estimate, while streaming at the L2's bandwidth hides it behind other transfers.
      double est = std::max(waves * t_tile + (tma ? spec.hbm.latency.value() : spec.thread_hbm_latency()), dram) + reduce;
      if (getenv("XPUSIM_DEBUG_TILING"))
        fprintf(stderr, "tile %dx%d sk %d stages %d bps %d waves %.0f t_tile %.3gus dram %.3gus est %.3gus\n", bm, bn, sk,
                stages, bps, waves, t_tile * 1e6, dram * 1e6, est * 1e6);
      // Hybrid stream-K (kernels/common/stream_k.h), a candidate beside whole tiles where the last wave is partial.
      // Not with a 2-SM MMA: both SMs of the pair would have to take the same K ranges (not modelled), nor with
      // tiles of fewer rows than the library's stream-K kernels take (sm.stream_k_min_rows: on Hopper only the
      // cooperative kernel, 128 rows and up, has a stream-K scheduler; a 64-row tile runs whole or split-K). Its
      // units load their own B tiles (no multicast: the cluster peer works on another range), so its operand
      // bytes through L2 are those of the data-parallel tiles plus (bm + bn) x bk per stream-K iteration. The
      // units sharing a tile-row or tile-column of the operands run at different K offsets, so one reads a K
      // slice long after another did: when the operands outgrow the L2 that slice is gone, and every
      // stream-K iteration reads its operands from HBM, within the stream-K phase.
      const StreamKPlan skp = sk == 1 && may_split && tma && spec.sm.stream_k && !spec.sm.cta_pair_mma && bm >= spec.sm.stream_k_min_rows
                                  ? plan_stream_k(tiles_mn, ksteps, static_cast<std::int64_t>(slots))
                                  : StreamKPlan{};
      double est_sk = 1e30;
      if (skp.active()) {
        const double sk_bytes = static_cast<double>(skp.sk_iters()) * (bm + bn) * bk * staged_bytes_per_element(op.dtype, op);
        const double l2_sk = static_cast<double>(skp.dp_tiles) * (bm + bn / (mc ? 2.0 : 1.0)) * kslice * staged_bytes_per_element(op.dtype, op) + sk_bytes;
        const double sk_hbm = operand_bytes(op) > spec.l2.capacity.value() ? sk_bytes : 0;
        const double dram_sk = std::max((op.min_bytes() + block_scale_bytes(op) + sk_hbm) / hbm, l2_sk / spec.l2.bandwidth.value());
        est_sk = stream_k_estimate(skp, t_tile, slots, bm * bn * 4.0 / link, spec, dram_sk, sk_hbm / hbm);
      }
      for (const bool stream : {false, true}) {
        const double e = stream ? est_sk : est;
        if (e >= best.estimate_s * 0.98) continue;
        best = GemmTiling{bm, bn, bk, stages, sk, bps, best.group_m, mc ? 2 : 1, e};
        best.cta_pair = pair;
        best.copy_bytes = align, best.tma_unit = spec.sm.tma;
        best.stream_k = stream;
      }
    }
  }
  if (best.estimate_s >= 1e30) throw no_tile_fits(spec);
  return with_kernel_epilogue(best, op, spec);
}

namespace {

// Rows of the GEMM as groups laid out one after another in A and C, each with its own B (one group
// per batch entry, or per group of a grouped GEMM); `tile0` is the group's first output tile.
struct TileGroup {
  std::int64_t rows, row0, tiles_m, tile0;
};

// What every task of the main kernel and the split-K reduction needs (shared, immutable).
// The k-steps one simulated MMA step covers (sm.kstep_group): the largest group up to the preset's whose
// stage ring still holds two groups (one being multiplied while the next one loads) and which divides the
// fp8 promotion interval (a promotion then follows a group's last k-step, as it followed that k-step).
std::int64_t kstep_group(int wanted, std::int64_t copy_depth, int promote) {
  std::int64_t g = std::max(1, wanted);
  while (g > 1 && (copy_depth < 2 * g || (promote > 0 && promote % g != 0))) --g;
  return g;
}

struct GemmJob {
  OpSpec op;
  GemmTiling t;
  TensorRef A, B, C, W;
  double ea = 0, eb = 0, ec = 0;
  std::vector<TileGroup> groups;
  std::int64_t tiles_n = 0, tile_count = 0, ksteps = 0, steps_per_split = 0, rows_total = 0;
  std::uint32_t smem = 0;
  int promote = 0;  // MMA k-steps between fp32 promotions (0: none)
  bool serial_promote = false;  // promotion_serial: the MMAs after a promotion wait for it
  // sm80-style fallback (!t.tma()): the full-width shared-memory bytes of one k-step's mma.sync
  // (SyncBlock::smem_bytes), and how many k-steps of copies are in flight (the stages; 2 when register-staged).
  std::uint64_t sync_smem_bytes = 0;
  std::uint32_t sync_warps = 0;  // warps of an sm80-style block (SyncBlock), which issue its mma.sync
  // A wgmma k-step's operand bytes (A's bm x bk and B's bk x bn tiles read from shared memory), once per
  // kernel instead of per k-step (two bytes_per_element calls and the conversions: a fifth of the lowering's
  // instructions in the 8192^3 H100 GEMM).
  std::uint64_t wgmma_operand_bytes = 0;
  std::int64_t copy_depth = 0;
  double wavefront_bytes = 128;  // sm.smem_bytes_per_clk: the bytes of one L1 / shared-memory wavefront
  // MMA k-steps simulated as one MMA (kstep_group()); their copies stay one per k-step, each group's
  // joined so that the MMA waits for all of them; a copy still waits only for the MMA of its buffer.
  std::int64_t kgroup = 1;
  StreamKPlan sk;  // t.stream_k: the stream-K units run first (task indices 0..sk_units-1), then the whole tiles
  bool functional = false;
};

std::shared_ptr<const GemmJob> make_job(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt, const GemmTiling& t) {
  auto j = std::make_shared<GemmJob>();
  j->op = op;
  j->t = t;
  const std::string label = op.label.empty() ? "gemm" : op.label;
  j->A = opt.ref(label, "A"), j->B = opt.ref(label, "B"), j->C = opt.ref(label, "C"), j->W = opt.ref(label, "workspace");
  j->ea = staged_bytes_per_element(op.dtype, op), j->eb = staged_bytes_per_element(op.wdtype, op), j->ec = bytes_per_element(op.odtype);
  j->tiles_n = ceil_div(op.n, t.bn);
  std::int64_t row0 = 0;
  auto add = [&](std::int64_t rows) {
    TileGroup g{rows, row0, ceil_div(rows, t.bm), j->tile_count};
    j->tile_count += g.tiles_m * j->tiles_n;
    row0 += rows;
    j->groups.push_back(g);
  };
  if (op.kind == OpKind::GroupedGemm)
    for (auto r : op.group_rows) add(r);
  else
    for (std::int64_t b = 0; b < op.batch; ++b) add(op.m);
  if (!j->groups.empty()) j->rows_total = j->groups.back().row0 + j->groups.back().rows;
  j->ksteps = ceil_div(op.k, t.bk);
  j->steps_per_split = ceil_div(j->ksteps, t.split_k);
  j->smem = static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.stages * stage_bytes(t.bm, t.bn, t.bk, op)));
  j->promote = promotion_steps(op, spec, t.bk);
  j->serial_promote = t.tma() && promotion_serial(t.bm);
  j->copy_depth = t.stages;
  j->wavefront_bytes = spec.sm.smem_bytes_per_clk;
  j->wgmma_operand_bytes = static_cast<std::uint64_t>(t.bm * t.bk * bytes_per_element(op.dtype) + t.bk * t.bn * bytes_per_element(op.wdtype));
  j->kgroup = kstep_group(spec.sm.kstep_group, j->copy_depth, j->promote);
  if (!t.tma()) {
    const SyncBlock sb = sync_block(t.bm, t.bn);
    j->sync_smem_bytes = static_cast<std::uint64_t>(sb.smem_bytes(t.bk, op, t.bm, t.bn, t.copy_bytes, spec.sm.smem_bytes_per_clk));
    j->sync_warps = static_cast<std::uint32_t>(sb.warps_m * sb.warps_n);
  }
  if (t.stream_k) j->sk = plan_stream_k(j->tile_count, j->ksteps, static_cast<std::int64_t>(spec.sm.count) * t.blocks_per_sm);
  j->functional = opt.functional;
  return j;
}

// Where task `index` of the main kernel works: output tile, K slice, and whether its B tiles arrive
// by multicast from a cluster peer.
struct TilePos {
  std::int64_t r0, c0, rows, cols, grow0, brow0, kbeg, kend;
  int ks;
  bool multicast_b;
  int b_part;  // 2-SM MMA: 1 or 2 = the half of the B tile this CTA loads; 0 = all of it
  // 2-SM MMA, the last of an odd count of tile-rows: its out-of-bounds peer's half of B is loaded too.
  bool b_peer_half = false;
};

// Output tile `tile`, all of its K (locate narrows it to a split-K slice).
TilePos locate_tile(const GemmJob& j, std::int64_t tile) {
  const GemmTiling& t = j.t;
  TilePos p;
  p.ks = 0;
  // Find the group, then rasterize within it: groups of `group_m` tile-rows sweep all columns.
  size_t gi = 0;
  while (gi + 1 < j.groups.size() && j.groups[gi + 1].tile0 <= tile) ++gi;
  const TileGroup& g = j.groups[gi];
  std::int64_t local = tile - g.tile0;
  std::int64_t gm = std::min<std::int64_t>(t.group_m, g.tiles_m);
  std::int64_t band = local / (gm * j.tiles_n);
  std::int64_t band_rows = std::min<std::int64_t>(gm, g.tiles_m - band * gm);
  std::int64_t in_band = local % (gm * j.tiles_n);
  std::int64_t tm = band * gm + in_band % band_rows;
  std::int64_t tn = in_band / band_rows;
  // Clusters of `cluster_m` CTAs along M (adjacent tile-rows, same tile-column) run together; the
  // leader's TMA multicasts each B tile to its peers, which receive it without reading L2.
  p.multicast_b = !t.cta_pair && t.cluster_m > 1 && (tm % t.cluster_m) != 0;
  // A 2-SM MMA (tcgen05 cta_group::2): each CTA of the pair loads half of the B tile and the pair's
  // tensor cores read the other half from the peer's shared memory. With an odd count of tile-rows the
  // last one's peer is out of bounds, but CUTLASS rounds the grid up to whole clusters, so that peer
  // runs (A zero-filled) and loads its half of B as any peer does: the last tile-row loads its own half
  // too, and the pairs before it have cached the other. A group of a single tile-row in a paired kernel
  // (a grouped GEMM's expert of a few rows beside larger ones) has no pair before it, so that peer's half
  // is loaded as a second load (b_peer_half): without it half of that expert's weights never crossed
  // HBM. (Loading all of B as one load instead made its tile a different L2 entry than the cached
  // halves, so odd tile-row counts read the weights twice from HBM: B200 384x8192x1024 slower than 448.)
  p.b_part = t.cta_pair ? 1 + static_cast<int>(tm % 2) : 0;
  p.b_peer_half = t.cta_pair && g.tiles_m == 1;
  p.r0 = tm * t.bm, p.c0 = tn * t.bn;
  p.rows = std::min<std::int64_t>(t.bm, g.rows - p.r0), p.cols = std::min<std::int64_t>(t.bn, j.op.n - p.c0);
  p.kbeg = 0, p.kend = j.ksteps;
  p.grow0 = g.row0 + p.r0;                          // row in the stacked A / C
  p.brow0 = static_cast<std::int64_t>(gi) * j.op.k;  // this group's B starts here (stacked)
  return p;
}

TilePos locate(const GemmJob& j, std::uint64_t index) {
  const auto sk = static_cast<std::uint64_t>(j.t.split_k);
  TilePos p = locate_tile(j, static_cast<std::int64_t>(index / sk));
  p.ks = static_cast<int>(index % sk);
  p.kbeg = p.ks * j.steps_per_split, p.kend = std::min(j.ksteps, p.kbeg + j.steps_per_split);
  return p;
}

// One k-step's A and B copies (and the out-of-bounds peer's half of B) into stage buffers `buf` (A) and
// `buf + 1` (B), started once `reuse` freed them. `prev`: the group's previous copy, which the first of these
// joins, each joining the one before (build::join: the group's MMA then waits for all of its copies through
// the last one). Returns the A copy (or the peer's half, issued after it) and the B copy; in a group of more
// than one k-step the second is the chain's last copy.
// What a tile's k-step copies share, worked out once per tile: the part of B this CTA loads and the copies'
// bytes at a whole k-tile (the same expressions as a k-step's, so the same values).
struct KstepLoadShape {
  std::int64_t half, bc0, bcols;
  std::uint64_t a_bytes, b_bytes;  // kw == t.bk
  KstepLoadShape(const GemmJob& j, const TilePos& p)
      : half((p.cols + 1) / 2),
        bc0(p.b_part == 2 ? p.c0 + half : p.c0),
        bcols(p.b_part == 0 ? p.cols : p.b_part == 1 ? half : p.cols - half),
        a_bytes(static_cast<std::uint64_t>(p.rows * static_cast<std::int64_t>(j.t.bk) * j.ea)),
        b_bytes(static_cast<std::uint64_t>(static_cast<std::int64_t>(j.t.bk) * bcols * j.eb)) {}
};

std::pair<std::uint32_t, std::uint32_t> emit_kstep_loads(const GemmJob& j, const TilePos& p, const KstepLoadShape& sh, std::int64_t kk,
                                                         std::uint32_t reuse, std::uint32_t prev, int buf, build::Emitter& emit) {
  const OpSpec& o = j.op;
  const GemmTiling& t = j.t;
  const auto I = [](std::int64_t v) { return static_cast<int>(v); };
  const auto join = [&](Instr& in) -> const Instr& {
    if (prev != kNoDep) build::join(in, prev);
    return in;
  };
  std::int64_t k0 = kk * t.bk, kw = std::min<std::int64_t>(t.bk, o.k - k0);
  const bool whole = kw == t.bk;
  const std::uint8_t via = copy_path(t);
  // Only the tile's valid rows are loaded (rows past a group's end belong to the next group); K
  // past the tensor's end reads as zeros, so padded B rows contribute nothing.
  Instr la = after(tma_load(kGlobal | via, o.dtype, j.A.addr + static_cast<std::uint64_t>((p.grow0 * o.k + k0) * j.ea),
                                  whole ? sh.a_bytes : static_cast<std::uint64_t>(p.rows * kw * j.ea), static_cast<std::uint32_t>(p.rows),
                                  static_cast<std::uint32_t>(kw)),
                         reuse);
  const std::int64_t half = sh.half, bc0 = sh.bc0, bcols = sh.bcols;
  Instr lb = after(tma_load(p.multicast_b ? kMulticast : kGlobal | via, o.wdtype,
                                  j.B.addr + static_cast<std::uint64_t>(((p.brow0 + k0) * o.n + bc0) * j.eb),
                                  whole ? sh.b_bytes : static_cast<std::uint64_t>(kw * bcols * j.eb), static_cast<std::uint32_t>(kw),
                                  static_cast<std::uint32_t>(bcols)),
                         reuse);
  const std::uint32_t ia = emit(join(la), [&] { return fop::load(buf, j.A.id, I(p.grow0), I(k0), I(p.rows), t.bk, o.dtype); });
  if (j.kgroup > 1) prev = ia;
  const std::uint32_t ib = emit(join(lb), [&] { return fop::load(buf + 1, j.B.id, I(p.brow0 + k0), I(p.c0), t.bk, I(p.cols), o.wdtype); });
  // The out-of-bounds peer's half beside it (issued once the A tile is in, so the MMA's three
  // dependencies cover A through it).
  std::uint32_t ip = ia;
  if (p.b_peer_half) {
    prev = j.kgroup > 1 ? ib : kNoDep;  // in a group, the chain runs through it too
    Instr lp = after(tma_load(kGlobal, o.wdtype, j.B.addr + static_cast<std::uint64_t>(((p.brow0 + k0) * o.n + p.c0 + half) * j.eb),
                              static_cast<std::uint64_t>(kw * (p.cols - half) * j.eb), static_cast<std::uint32_t>(kw),
                              static_cast<std::uint32_t>(p.cols - half)),
                     ia);
    ip = emit(join(lp));
    if (j.kgroup > 1) return {ip, ip};
  }
  return {ip, ib};
}

// The K loop of one tile: A/B tile loads into a `stages`-deep ring, one MMA step per BK, or per group of
// j.kgroup k-steps (the group's copies joined into its last one). Returns the last MMA (the start sync when
// the slice is empty). `mma_idx` holds the block's MMAs so far: a stream-K unit's next tile reuses the
// stage buffers its previous tile's last MMAs free.
std::uint32_t emit_k_loop(const GemmJob& j, const TilePos& p, std::uint32_t first, build::Emitter& emit,
                          std::vector<std::uint32_t>& mma_idx, const std::function<void()>& after_ring_loads = {}) {
  const OpSpec& o = j.op;
  const GemmTiling& t = j.t;
  std::uint32_t last = first, promoted = first, promoted_before = first;
  const auto ring = static_cast<size_t>(j.copy_depth);
  const KstepLoadShape shape(j, p);
  // The MMA of kn k-steps covering kw of K; a group of j.kgroup whole k-tiles (every group but a tile's last,
  // often that one too) is the same instruction each time, built once per tile.
  const auto make_mma = [&](std::int64_t kn, std::int64_t kw) {
    const auto useful = static_cast<std::uint64_t>(2 * p.rows * p.cols * kw);
    const auto kg = static_cast<std::uint64_t>(kn);
    return !t.tma() ? mma_sync(o.dtype, static_cast<std::uint32_t>(t.bm), static_cast<std::uint32_t>(t.bn),
                               static_cast<std::uint32_t>(kn * t.bk), useful, j.sync_smem_bytes * kg, j.sync_warps)
                    : wgmma(o.dtype, static_cast<std::uint32_t>(t.bm), static_cast<std::uint32_t>(t.bn),
                            static_cast<std::uint32_t>(kn * t.bk), useful, kg * j.wgmma_operand_bytes);
  };
  const Instr whole_mma = make_mma(j.kgroup, j.kgroup * t.bk);
  for (std::int64_t kk = p.kbeg; kk < p.kend; kk += j.kgroup) {
    const std::int64_t kn = std::min<std::int64_t>(j.kgroup, p.kend - kk);
    std::int64_t step = kk - p.kbeg;
    std::pair<std::uint32_t, std::uint32_t> in{kNoDep, kNoDep};
    for (std::int64_t s = 0; s < kn; ++s) {
      // The stage buffer is free once the MMA of the k-step `stages` back ran (register-staged copies: two
      // stages, so the next k-tile's copy runs beside this one's MMAs). mma_idx holds each k-step's MMA.
      const size_t at = mma_idx.size() + static_cast<size_t>(s);
      const std::uint32_t reuse = at >= ring ? mma_idx[at - ring] : kNoDep;
      in = emit_kstep_loads(j, p, shape, kk + s, reuse, in.second, 1 + 2 * static_cast<int>(s), emit);
      // `after_ring_loads`: emitted once the copies of the tile's first ring of k-steps are (or its last, if fewer).
      if (after_ring_loads && (step + s + 1 == std::min<std::int64_t>(j.copy_depth, p.kend - p.kbeg))) after_ring_loads();
    }
    const std::int64_t kw = std::min<std::int64_t>(kn * t.bk, o.k - kk * t.bk);
    const Instr mma = kn == j.kgroup && kw == kn * t.bk ? whole_mma : make_mma(kn, kw);
    // Functional mode: the group's k-steps are multiplied in order, as one MMA each.
    last = emit(after(mma, in.first, in.second, j.serial_promote ? promoted : promoted_before), [&] {
      const DType md = o.dtype == DType::fp32 ? DType::tf32 : o.dtype;
      FuncOp f = fop::matmul(0, 1, 2, md);
      for (int s = 1; s < static_cast<int>(kn); ++s) f.then.push_back(fop::matmul(0, 1 + 2 * s, 2 + 2 * s, md));
      return f;
    });
    for (std::int64_t s = 0; s < kn; ++s) mma_idx.push_back(last);
    // fp32 promotion (promotion_steps): the CUDA cores add the temporary accumulator into the fp32 one
    // beside the next k-step's MMAs; the MMAs after those wait for it. The tile's last promotion precedes
    // the epilogue.
    if (j.promote > 0 && ((step + kn) % j.promote == 0 || kk + kn == p.kend))
      promoted_before = promoted, last = promoted = emit(after(cuda(DType::fp32, static_cast<std::uint32_t>(t.bm), static_cast<std::uint32_t>(t.bn), 0,
                                        static_cast<std::uint64_t>(2 * t.bm * t.bn)),
                                   last));
  }
  return last;
}

// Unsplit epilogue: the converted tile goes to C.
Instr store_tile(const GemmJob& j, const TilePos& p) {
  return tma_store(kGlobal | copy_path(j.t), j.op.odtype, j.C.addr + static_cast<std::uint64_t>((p.grow0 * j.op.n + p.c0) * j.ec),
                   static_cast<std::uint64_t>(static_cast<std::uint64_t>(p.rows * p.cols) * j.ec));
}

// Split-K epilogue of a slice other than the tile's first: its fp32 partial goes to the
// L2-resident workspace, where the tile's first slice picks it up.
Instr store_partial(const GemmJob& j, const TilePos& p) {
  return tma_store(kL2 | copy_path(j.t), DType::fp32,
                   j.W.addr + static_cast<std::uint64_t>(((p.ks * j.rows_total + p.grow0) * j.op.n + p.c0) * 4),
                   static_cast<std::uint64_t>(p.rows * p.cols) * 4);
}

// The in-kernel reduction of a stream-K tile (the "fixup" of CUTLASS's stream-K tile scheduler; split-K
// tiles are summed by splitk_reduce instead): the owner waits on the tile's flag in global memory, which
// its peers set once their fp32 partials are stored, reads the partials back from the L2 workspace
// and adds them to its accumulators on the CUDA cores before converting and storing the tile. After
// its K loop a peer still stores its partial and then sets the flag (an L2 round trip each), so the
// owner's first poll of the flag finds it clear and the second one finds it set: two polls through L2.
// One copy then brings the peers' partial tiles (m: one run per row of each partial).
std::uint32_t emit_fixup_load(const GemmJob& j, const TilePos& p, std::uint64_t tile, int peers, std::uint32_t last,
                              build::Emitter& emit) {
  const std::uint64_t flag_addr = j.W.addr + (1ull << 38) + tile * 128;
  std::uint32_t flag = last;
  for (int poll = 0; poll < 2; ++poll) flag = emit(after(ld_global(kL2, DType::fp32, flag_addr, 128), flag));
  return emit(after(ld_global(kL2, DType::fp32, j.W.addr + static_cast<std::uint64_t>(((j.rows_total + p.grow0) * j.op.n + p.c0) * 4),
                             static_cast<std::uint64_t>(p.rows * p.cols * peers) * 4, static_cast<std::uint32_t>(p.rows * peers)),
                    flag));
}

void set_block_shape(const GemmJob& j, Task& task) {
  if (!j.t.tma()) {  // sm80-style: every warp copies and computes
    const SyncBlock b = sync_block(j.t.bm, j.t.bn);
    block_shape(task, static_cast<std::uint32_t>(b.threads), static_cast<std::uint32_t>(b.regs), j.smem);
  } else {
    block_shape(task, 384, 168, j.smem);  // one producer + two consumer warpgroups (warp-specialized kernel)
  }
}

// One slice of a tile (p.kbeg..p.kend) and its epilogue, `contributors` slices making up the tile. Stream-K:
// slice 0 (the owner) reduces the others' partials in its fixup and stores the tile, the others store
// partials. Split-K (`reduced_later`): every slice stores its partial, which splitk_reduce sums.
// Returns the epilogue's conversion, after which the accumulators are free.
std::uint32_t emit_slice(const GemmJob& j, const TilePos& p, std::uint64_t tile, int contributors, std::uint32_t first,
                         std::vector<std::uint32_t>& ring, build::Emitter& emit, bool reduced_later = false,
                         std::function<void()>* deferred_store = nullptr) {
  const bool split = contributors > 1, partial = split && (p.ks > 0 || reduced_later);
  const int rows = static_cast<int>(p.rows), cols = static_cast<int>(p.cols);
  // A persistent CTA's previous tile's store (deferred_store), issued by its epilogue warps beside the copies the
  // producer warp has issued for this tile's first ring of k-steps by then.
  std::function<void()> previous;
  if (deferred_store) previous = std::move(*deferred_store), *deferred_store = {};
  std::uint32_t last = emit_k_loop(j, p, first, emit, ring, previous);
  if (split && !partial) last = emit_fixup_load(j, p, tile, contributors - 1, last, emit);
  // Epilogue: the fp32 accumulators (plus, in the fixup, the peers' partials) are converted, staged
  // through shared memory (bank conflicts: GemmTiling::epilogue_bank_ways wavefronts per 128 bytes) and stored.
  const std::uint64_t out_elems = static_cast<std::uint64_t>(p.rows * p.cols);
  const int terms = split && !partial ? contributors : 1;
  // Stored from registers (GemmTiling::epilogue_store_lines): one L1 wavefront per line each warp store touches,
  // the bytes themselves then reaching L2 as the TMA store's below.
  const double unit_bytes = j.t.epilogue_store_lines > 0
                                ? std::ceil(static_cast<double>(out_elems) / kWarpStoreElements) * j.t.epilogue_store_lines * j.wavefront_bytes
                                : static_cast<double>(out_elems) * (partial ? 4 : j.ec) * j.t.epilogue_bank_ways;
  const std::uint32_t ic = emit(after(cuda(DType::fp32, static_cast<std::uint32_t>(p.rows), static_cast<std::uint32_t>(p.cols), 0,
                                           out_elems * static_cast<std::uint64_t>(terms), static_cast<std::uint64_t>(unit_bytes)),
                                      last));
  const Instr st = after(partial ? store_partial(j, p) : store_tile(j, p), ic);
  // Functional mode: every slice adds its fp32 partial into C (kept in fp32 by the tensor store), so
  // the result does not depend on the order in which simulated blocks finish.
  auto store = [&j, &emit, st, p, rows, cols, split, reduced_later] {
    emit(st, [&] {
      const int r0 = static_cast<int>(p.grow0), c0 = static_cast<int>(p.c0);
      if (reduced_later) return fop::store_add(0, j.W.id, r0, c0, rows, cols, DType::fp32);
      return split ? fop::store_add(0, j.C.id, r0, c0, rows, cols, j.op.odtype) : fop::store(0, j.C.id, r0, c0, rows, cols, j.op.odtype);
    });
  };
  if (deferred_store) *deferred_store = store;
  else store();
  return ic;
}

void emit_tile(const GemmJob& j, std::uint64_t index, Task& task) {
  const TilePos p = locate(j, index);
  set_block_shape(j, task);
  build::Emitter emit(task, j.functional);
  const std::uint32_t first = emit(tensor_sync(), [&] { return fop::zero(0, static_cast<int>(p.rows), static_cast<int>(p.cols)); });
  // One MMA index per k-step: sized once (growing it by doubling cost a few reallocations and frees per tile).
  std::vector<std::uint32_t> ring;
  ring.reserve(static_cast<size_t>(std::max<std::int64_t>(0, p.kend - p.kbeg)));
  emit_slice(j, p, index / static_cast<std::uint64_t>(j.t.split_k), j.t.split_k, first, ring, emit, j.t.split_k > 1);
}

// The split-K reduction, a second kernel as cuBLAS runs it: public Nsight/torch profiles of cuBLASLt on H100
// show each nvjet_..._splitK_... GEMM followed by a cublasLt::splitKreduce_kernel<32, 16, int, float, bf16>
// launch (2175 of them beside 2112 split-K GEMMs in one trace, 2.6 us each), and the same pairs on Blackwell
// (nvjet_sm103_..._splitK_... then splitKreduce_kernel). Our own profile of torch.matmul on an H200 (cuBLAS of
// CUDA 13.0, G555-G572) shows the same pair for every split shape we ran (M1 N4096 K4096, M64 N64 K16384,
// M128 N128 K65536, M256 N512 K32768), the reduce kernel taking 1.6-2.2 us. One block per output tile reads the split_k fp32
// partials from the L2-resident workspace, sums them on the CUDA cores and writes the output. Tiles shrink
// until every SM has a block (the reduction is bandwidth-bound, so it must spread over all SMs).
Program splitk_reduce(const std::shared_ptr<const GemmJob>& job, const GpuSpec& spec) {
  const GemmJob& j = *job;
  const std::int64_t n = j.op.n;
  int rb = 128, cb = 128;
  while ((rb > 16 || cb > 64) && ceil_div(j.rows_total, rb) * ceil_div(n, cb) < spec.sm.count) {
    if (rb > 16) rb /= 2;
    else cb /= 2;
  }
  const std::int64_t ct = ceil_div(n, cb);
  const int sk = j.t.split_k;
  auto make = [=](std::uint64_t index, Task& task) {
    const GemmJob& j = *job;
    const std::int64_t r0 = static_cast<std::int64_t>(index) / ct * rb, c0 = static_cast<std::int64_t>(index) % ct * cb;
    const std::int64_t rows = std::min<std::int64_t>(rb, j.rows_total - r0), cols = std::min<std::int64_t>(cb, n - c0);
    const int ir0 = static_cast<int>(r0), ic0 = static_cast<int>(c0), irows = static_cast<int>(rows), icols = static_cast<int>(cols);
    block_shape(task, 256, 64, 0);
    build::Emitter emit(task, j.functional);
    std::uint32_t last_load = kNoDep;
    for (int s = 0; s < sk; ++s) {
      const Instr l = ld_global(kL2, DType::fp32, j.W.addr + static_cast<std::uint64_t>(((s * j.rows_total + r0) * n + c0) * 4),
                               static_cast<std::uint64_t>(rows * cols * 4), static_cast<std::uint32_t>(rows));
      last_load = s + 1 < sk ? emit(l) : emit(l, [&] { return fop::load(0, j.W.id, ir0, ic0, irows, icols, DType::fp32); });
    }
    const std::uint32_t ia = emit(after(cuda(DType::fp32, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(cols), 0,
                                             static_cast<std::uint64_t>(rows * cols * sk)),
                                        last_load));
    emit(after(st_global(kGlobal, j.op.odtype, j.C.addr + static_cast<std::uint64_t>((r0 * n + c0) * j.ec),
                         static_cast<std::uint64_t>(rows * cols * j.ec)),
               ia),
         [&] { return fop::store(0, j.C.id, ir0, ic0, irows, icols, j.op.odtype); });
  };
  return build::helper_program("gemm.splitk_reduce", j.op,
                               "sum " + std::to_string(sk) + " fp32 partials per " + std::to_string(rb) + "x" + std::to_string(cb) + " tile",
                               static_cast<std::uint64_t>(ceil_div(j.rows_total, rb) * ct), make, j.functional);
}

// A stream-K unit: its K-iteration range, tile by tile (kernels/common/stream_k.h). A tile's segments are split-K
// slices: the owner (the unit that starts the tile, which reaches it last in its range) waits for its
// peers' partials in its fixup. Multicast is off: the cluster peer works on another range. The next
// tile's loads run ahead into the stage buffers as the last MMAs free them; its first MMA waits for the
// epilogue to have read the accumulators.
void emit_stream_k_unit(const GemmJob& j, std::int64_t unit, Task& task) {
  set_block_shape(j, task);
  build::Emitter emit(task, j.functional);
  std::vector<std::uint32_t> ring;
  std::uint32_t first = kNoDep;  // the previous tile's epilogue conversion (none before the first tile)
  for (const StreamKSegment& s : stream_k_segments(j.sk, unit)) {
    TilePos p = locate_tile(j, s.tile);
    p.ks = s.peer, p.kbeg = s.kbeg, p.kend = s.kend, p.multicast_b = false;
    first = emit(after(tensor_sync(), first), [&] { return fop::zero(0, static_cast<int>(p.rows), static_cast<int>(p.cols)); });
    first = emit_slice(j, p, static_cast<std::uint64_t>(s.tile), stream_k_contributors(j.sk, s.tile), first, ring, emit);
  }
}

// A CTA of a persistent kernel (GemmTiling::persistent_accumulators): tiles `cta`, `cta + ctas`, ... in turn, the
// stage ring shared across them (the next tile's copies wait only for the MMAs whose stages they reuse) and each
// tile's first MMA waiting for the epilogue conversion of the tile persistent_accumulators back.
void emit_persistent_cta(const GemmJob& j, std::int64_t cta, std::int64_t ctas, Task& task) {
  set_block_shape(j, task);
  build::Emitter emit(task, j.functional);
  std::vector<std::uint32_t> ring, freed;
  std::function<void()> store;  // the previous tile's store, emitted within this tile's first copies
  const auto back = static_cast<size_t>(j.t.persistent_accumulators);
  for (std::int64_t tile = cta; tile < j.tile_count; tile += ctas) {
    const TilePos p = locate_tile(j, tile);
    const std::uint32_t free_acc = freed.size() >= back ? freed[freed.size() - back] : kNoDep;
    const std::uint32_t first =
        emit(after(tensor_sync(), free_acc), [&] { return fop::zero(0, static_cast<int>(p.rows), static_cast<int>(p.cols)); });
    // Functional mode keeps each store right after its tile: the data model has one accumulator buffer, which the
    // next tile's first instruction zeroes.
    freed.push_back(emit_slice(j, p, static_cast<std::uint64_t>(tile), 1, first, ring, emit, false, j.functional ? nullptr : &store));
  }
  if (store) store();
}

// CTAs of a persistent kernel: one per SM (whole clusters), or one per tile where there are fewer tiles.
std::int64_t persistent_ctas(const GemmJob& j, const GpuSpec& spec) {
  const std::int64_t cluster = std::max(1, j.t.cluster_m);
  return std::min<std::int64_t>(j.tile_count, static_cast<std::int64_t>(spec.sm.count) / cluster * cluster);
}

}  // namespace

KernelPrograms lower_gemm(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt, const GemmTiling& t) {
  op.validate();
  if (spec.tensor_flops_per_clk(op.dtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.dtype) + " tensor-core path on this GPU (use " +
                                   tensor_dtypes(spec) + ")");
  if (bytes_per_element(op.wdtype) < bytes_per_element(op.dtype) && spec.tensor_flops_per_clk(op.wdtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.wdtype) + " weight path on this GPU");
  const auto job = make_job(op, spec, opt, t);
  if (t.persistent_accumulators > 0 && t.split_k == 1 && !t.stream_k) {
    const std::int64_t ctas = persistent_ctas(*job, spec);
    Program p = build::program(op.kind == OpKind::GroupedGemm ? "grouped_gemm" : "gemm", op, t.str(), static_cast<std::uint64_t>(ctas),
                               [job, ctas](std::uint64_t index, Task& task) {
                                 emit_persistent_cta(*job, static_cast<std::int64_t>(index), ctas, task);
                               },
                               opt.functional);
    p.copy_descriptors = true;
    p.cluster_size = static_cast<std::uint8_t>(t.cluster_m);
    return KernelPrograms{p};
  }
  Program p = build::program(op.kind == OpKind::GroupedGemm ? "grouped_gemm" : "gemm", op, t.str(),
                             static_cast<std::uint64_t>(job->tile_count * t.split_k - job->sk.sk_tiles + job->sk.sk_units),
                             [job](std::uint64_t index, Task& task) {
                               const auto units = static_cast<std::uint64_t>(job->sk.sk_units);
                               if (index < units) return emit_stream_k_unit(*job, static_cast<std::int64_t>(index), task);
                               emit_tile(*job, index - units + static_cast<std::uint64_t>(job->sk.sk_tiles), task);
                             },
                             opt.functional);
  p.copy_descriptors = t.tma();  // A, B and C tensor maps (CUTLASS 3 / cuBLAS sm90+ kernels copy with TMA)
  p.cluster_size = static_cast<std::uint8_t>(t.cluster_m);  // CTAs sharing B by multicast (or one 2-SM MMA) form a cluster
  KernelPrograms out{p};
  if (t.split_k > 1) out.push_back(splitk_reduce(job, spec));
  return out;
}

KernelPrograms lower_gemm(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  return lower_gemm(op, spec, opt, choose_gemm_tiling(op, spec));
}

}  // namespace xpu::gpu
