// Operator descriptions shared by the model graph, the kernel lowerings and the CLI: shapes, dtypes
// and the op's own closed-form FLOP and byte counts. No SystemC, no chip knowledge.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/base/dtype.h"

namespace xpu {

enum class OpKind : std::uint8_t {
  Gemm,         // C[b,m,n] = A[b,m,k] @ B[b,k,n]          (weights are B, dtype `wdtype`)
  GroupedGemm,  // one GEMM per group (MoE experts): rows per group in `group_rows`, shared n,k
  Attention,    // softmax(Q K^T / sqrt(d)) V, prefill (tiled, online softmax) or decode (paged KV)
  RmsNorm,      // y = x * rsqrt(mean(x^2) + eps) * w, rows x cols
  LayerNorm,    // y = (x - mean) * rsqrt(var + eps) * w + b
  Softmax,      // row softmax, rows x cols
  SwiGlu,       // y = silu(gate) * up; input rows x 2*cols, output rows x cols
  Gelu,         // y = gelu(x), rows x cols
  Rope,         // rotary embedding on q and k: rows = tokens, cols = (heads + kv_heads) * head_dim
  ResidualAdd,  // y = a + b, rows x cols (or the sum of `addends` such tensors)
  Embedding,    // gather rows of a [vocab, cols] table for `rows` tokens
  TopK,         // router: softmax over `cols` experts per row + top-k selection (k = topk)
  Sampling,     // softmax over the vocabulary + top-k sampling per sequence (rows = sequences)
  Copy,         // y = x, or x with a scalar added or multiplied: one read, one write per element, rows x cols
                // (a device-to-device copy, a dtype cast, torch's x.add_(1)); one FLOP per element counted
  Sum,          // y[r] = sum over the row of x[r, :], rows x cols in, rows out (a whole-tensor sum such as
                // torch's x.sum() is its rows' partial sums: the last combine of `rows` values is not counted)
  AllReduce,    // collective over `devices` chips, `m` bytes per chip (tensor parallelism)
  AllToAll,     // expert dispatch/combine over `devices` chips, `m` bytes sent per chip (nccl-tests size)
  ReduceScatter,  // sequence parallelism: `m` bytes of partial sums per chip in, m/devices reduced out
  AllGather,      // sequence parallelism: m/devices bytes per chip in, `m` bytes (the whole) out
};
// The op kinds that are communication between chips (lowered on the fabric, never on a chip).
bool is_collective(OpKind k);

const char* name(OpKind k);
OpKind parse_op_kind(const std::string& s);  // "gemm", "attention", "rmsnorm", ... (InputError if unknown)
const std::vector<std::string>& op_kind_names();

// OpSpec::impl naming AWS transformers-neuronx's attention: its NKI flash kernel from
// TrainiumSpec::tnx_flash_min_tokens prompt tokens on, the HLO graph with materialized scores below
// (kernels/attention/trainium_materialized.cpp); other families refuse it.
inline constexpr const char* kTnxImpl = "transformers-neuronx";

// OpSpec::impl of a GEMM run by DeepGEMM: sm100 MXFP4 (pull request #348) or sm90 block-scaled fp8 (its first release),
// each in the layout its host heuristic picks (kernels/gemm/gpu.cpp, deepgemm_fp4_tiling, deepgemm_fp8_tiling).
inline constexpr const char* kDeepGemmImpl = "deepgemm";
// OpSpec::impl of a grouped GEMM run by CUTLASS 3's ptr-array grouped kernel as TensorRT-LLM's MoE runner of the
// TensorRT-engine releases builds it for sm90 (cpp/tensorrt_llm/kernels/cutlass_kernels/moe_gemm/launchers/
// moe_gemm_launcher_sm90.inl, HopperGroupedGemmInfo, the v0.1x releases): the experts' weights as the GEMM's M and
// the tokens as its N (the mainloop is built with the weights as operand A), the mainloop schedule
// KernelPtrArrayTmaWarpSpecializedCooperativeFP8FastAccum for fp8 (no fp32 promotion), and the epilogue
// PtrArrayNoSmemWarpSpecialized: no shared-memory staging, each thread storing its accumulators to global memory
// itself. Its tile scheduler (PersistentTileSchedulerSm90Group) walks the groups' tiles whole: no split-K or
// stream-K. How the GPU family lowers it: kernels/gemm/gpu.cpp (choose_gemm_tiling, kWgmmaStoreLines).
inline constexpr const char* kCutlassPtrArrayImpl = "cutlass-ptr-array";
// OpSpec::impl of an RMSNorm that the residual add runs inside, as the serving stacks' fused kernels do
// (vLLM's fused_add_rms_norm, FlashInfer's FusedAddRMSNorm behind SGLang and TensorRT-LLM's PyTorch
// backend): the kernel reads X and the residual, writes their sum back as the new residual, and writes the
// normalized output (min_bytes counts the residual both ways; the add's FLOPs stay with its fused node). A model
// graph sets it where a fusion policy fuses the add into the norm (residual_into_norm, or XLA's all_elementwise);
// the GPU family lowers it as those kernels run (kernels/rowwise/gpu.cpp), the other families stream the residual
// in and out beside X and Y. OpSpec::fused_add_norm() asks for it.
inline constexpr const char* kFusedAddNormImpl = "fused-add";

struct OpSpec {
  OpKind kind = OpKind::Gemm;
  std::string label;                // "layer.qkv_proj" in a model graph, the op name for single kernels
  DType dtype = DType::bf16;        // activations (A operand, inputs of elementwise ops)
  DType wdtype = DType::bf16;       // weights (B operand) / KV cache for attention
  DType odtype = DType::bf16;       // output

  // GEMM: batch x (m x k) @ (k x n). Grouped GEMM: n, k shared, rows per group in group_rows.
  std::int64_t m = 0, n = 0, k = 0, batch = 1;
  std::vector<std::int64_t> group_rows;
  // fp8 GEMM: keep the whole K loop in the tensor core's accumulator (torch._scaled_mm use_fast_accum=True)
  // instead of promoting its partial sums to fp32 on the CUDA cores (false: PyTorch's default, and what
  // block-scaled fp8 kernels do). Only where the chip promotes at all (GpuSpec sm.fp8_promotion_interval).
  bool fast_accum = false;
  // fp4 GEMM operands: e2m1 values with one scale factor per this many K elements (16: NVFP4, e4m3 scales, the
  // default; 32: MXFP4, ue8m0 scales). The scales travel with the operand tiles (kernels/gemm/gpu.cpp).
  int fp4_scale_block = kNvfp4ScaleBlock;
  static constexpr int kNvfp4ScaleBlock = 16;  // source: PTX ISA, tcgen05.mma .kind::mxf4nvf4 .scale_vec::4X (NVFP4)
  static constexpr int kMxfp4ScaleBlock = 32;  // source: PTX ISA, .scale_vec::2X; OCP Microscaling (MX) spec, block of 32
  bool weights_stationary = true;   // B is a weight (model parameter) rather than an activation
  // Weights that must stay resident on the chip together with this op's during a forward step (the
  // whole model's, in a model run); 0 for a single kernel. On-chip weight placement policies (Maia's
  // SRAM) pin weights only when everything that recurs every step fits.
  double resident_weight_bytes = 0;

  // Attention: batch sequences of seq_q queries against seq_kv keys, heads/kv_heads (GQA),
  // head_dim for Q.K and head_dim_v for V. window > 0 limits each query to the last `window` keys.
  std::int64_t heads = 0, kv_heads = 0, seq_q = 0, seq_kv = 0, head_dim = 0, head_dim_v = 0;
  bool causal = true;
  bool decode = false;              // decode: seq_q new tokens per sequence against a paged KV cache
  std::int64_t window = 0;
  std::int64_t page_size = 16;      // KV-cache page (block) size in tokens for paged decode
  // Attention kernel implementation: "" = the family's default library kernel (FlashAttention-3 style
  // on Hopper and later GPUs); "fa2" = FlashAttention-2's code (mma.sync from registers, cp.async
  // copies, no warp specialisation; PyTorch's built-in SDPA flash backend), "fa3" = the default named;
  // kTnxImpl = AWS transformers-neuronx's attention (Trainium/Inferentia only). GEMM: "" = the tuned library's
  // own choice of tile; kDeepGemmImpl = DeepGEMM's fp4 (sm100) or fp8 (sm90) kernel, its host code's layout. Grouped
  // GEMM: "" = as a GEMM; kDeepGemmImpl as above; kCutlassPtrArrayImpl = TensorRT-LLM's MoE runner's CUTLASS kernel.
  std::string impl;

  // Row-wise ops: rows x cols. TopK: cols = experts, topk = experts per token.
  std::int64_t rows = 0, cols = 0, topk = 0;
  // ResidualAdd: the tensors summed element by element, rows x cols each (2: a + b; a MoE block's
  // finalize sums each token's top_k expert outputs).
  std::int64_t addends = 2;
  std::int64_t devices = 1;         // AllReduce, AllToAll
  // An expert all-to-all as DeepEP's normal (prefill) kernels run it: each of the `rows` tokens this
  // rank sends, `cols` bytes each, goes once per destination rank (or node); false: low-latency
  // kernels, one row per routed expert (workloads/graph.cpp add_moe).
  bool normal_dispatch = false;

  // Closed-form counts of the op itself (independent of any chip or lowering).
  double flops() const;             // useful FLOPs (2 per MAC; elementwise ops count per element)
  double min_bytes() const;         // compulsory memory traffic: inputs read once + outputs written once
  // An RMSNorm with the residual add inside (impl kFusedAddNormImpl): it also reads the residual and writes it back.
  bool fused_add_norm() const { return kind == OpKind::RmsNorm && impl == kFusedAddNormImpl; }
  std::string shape_str() const;    // "m=4096 n=4096 k=4096" etc., for reports
  void validate() const;            // InputError for zero/negative dimensions and inconsistent shapes
};

}  // namespace xpu
