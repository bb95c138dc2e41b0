// What is being served: phase (prefill, decode or a whole request), batch and lengths, number
// formats, tensor parallelism, MoE routing skew and which elementwise ops are fused.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/base/dtype.h"
#include "workloads/buckets.h"
#include "workloads/model.h"

namespace xpu {

enum class Phase : std::uint8_t { Prefill, Decode, Request };
const char* name(Phase p);
Phase parse_phase(const std::string& s);  // "prefill", "decode", "request"; InputError listing them

// Which elementwise ops run inside a neighbouring kernel instead of as their own kernel. Fused ops
// stay in the graph (GraphNode::fused) so reports can show them, but are not simulated.
//   residual_into_norm:   the residual add runs inside the following RMSNorm (vLLM fused_add_rms_norm,
//                         TensorRT-LLM's fused residual+RMSNorm plugin, SGLang likewise).
//   rope_into_attention:  RoPE is applied inside the attention kernel's Q/K preprocessing (TensorRT-LLM's
//                         GPT attention plugin applies rotary while writing the KV cache); vLLM runs
//                         its own rotary_embedding kernel instead.
//   activation_into_gemm: SiLU/GELU-and-multiply runs in the gate/up GEMM's epilogue (TensorRT-LLM's
//                         fused gated-MLP for FP8); vLLM runs a separate silu_and_mul kernel.
//   all_elementwise:      every pure elementwise op (residual adds, RoPE, activations) is fused into a
//                         neighbouring producer or consumer, as XLA does on TPU (loop and output fusion);
//                         reductions (norms) still run as their own fusions.
//   eager_ops:            PyTorch eager with the textbook Llama code (gpu_session.py's Model.step): besides
//                         running every op as its own kernel (none), its ops split further into PyTorch's
//                         kernels: rotate-half RoPE is 5 elementwise kernels per rotated tensor (neg, cat,
//                         x*cos, rot*sin, add), silu(gate)*up is silu then mul, and the new K and V are
//                         copied into the cache by 2 copy kernels; with fp8 activations each projection's
//                         input is cast to e4m3 by a kernel of its own. Each such kernel pays its own fixed costs.
//                         Unary copies run as the one-read-one-write elementwise op (the Gelu kernel),
//                         binary ones as the residual add's.
//   quant_kernels:        with fp8 activations, every projection whose bf16 input does not come out of
//                         the attention kernel quantizes it to e4m3 with a kernel of its own (one read,
//                         one write, as eager_ops' casts) before its scaled GEMM: TensorRT-LLM's PyTorch
//                         backend (tensorrt_llm/_torch/modules/linear.py, FP8 QDQ linear: static_quantize_
//                         e4m3_per_tensor when the input is not e4m3, then cublas_scaled_mm; the RMSNorm
//                         and gated_mlp.py's swiglu (flashinfer silu_and_mul) write bf16), while its
//                         attention writes e4m3 for an fp8 o_proj (modules/attention.py, out_scale =
//                         o_proj.inv_input_scale), so o_proj has none. Not modelled: the all-reduce that
//                         fuses residual, RMSNorm and the quantization, which serves only messages within
//                         the custom all-reduce's workspace (8 MB above TP2: fewer than 512 tokens of
//                         hidden 8192).
//   moe_gather_in_gemm:   the MoE block's tokens are not copied into expert order before the experts'
//                         first GEMM: the grouped GEMM loads each A row through the sorted token ids
//                         (vLLM's and SGLang's Triton fused_moe: moe_align_block_size sorts the ids, the
//                         kernel's A pointer is a[offs_token // top_k]); without it the runner expands the
//                         rows with a permute kernel of its own (TensorRT-LLM's CUTLASS MoE:
//                         expandInputRowsKernel; HF transformers' per-expert index gathers).
//   moe_trt_plugin:       the MoE block runs TensorRT-LLM's MixtureOfExperts plugin of the TensorRT engines
//                         (the perf-overview tables before v0.19, trtllm-bench build): the layer quantizes
//                         the block's input to fp8 with a kernel of its own before the plugin (tensorrt_llm/
//                         layers/moe.py forward_experts: quantize(hidden_states, fc.activation_scaling_factor,
//                         'fp8') when the input is not fp8: the router reads the bf16 rows), and the plugin's
//                         CUTLASS MoE runner sorts the routed rows by expert with kernels of its own before
//                         the permute (cpp/tensorrt_llm/kernels/mixtureOfExperts/moe_kernels.cu runMoe:
//                         genSourceRow, sortAndScanSoftmaxOutput's CUB radix sort and expert offsets) and sets
//                         up each TMA warp-specialized grouped GEMM's per-expert pointers (computeStridesHopper).
//                         See add_moe in workloads/graph.cpp.
struct FusionPolicy {
  bool residual_into_norm = false;
  bool rope_into_attention = false;
  bool activation_into_gemm = false;
  bool all_elementwise = false;
  bool eager_ops = false;
  bool quant_kernels = false;
  bool moe_gather_in_gemm = false;
  bool moe_trt_plugin = false;
  // The named policy this was made as ("neuron"), where two names share one set of flags: str() returns it.
  // Not part of ==: the flags decide what runs.
  std::string name;

  static FusionPolicy none();    // eager PyTorch / HF transformers: every op is a kernel
  static FusionPolicy pytorch_eager();  // none, with eager_ops ("pytorch-eager")
  static FusionPolicy vllm();    // GPU default: residual+norm fused, rotary and silu_and_mul separate, MoE gather in the GEMM
  static FusionPolicy trtllm();  // residual+norm, RoPE in attention, activation in the GEMM epilogue
  static FusionPolicy trtllm_pytorch();  // TensorRT-LLM's PyTorch backend: residual+norm, RoPE in attention, quant_kernels
  static FusionPolicy xla();     // TPU / XLA: all elementwise ops fused
  static FusionPolicy neuron();  // Trainium / Neuron compiler: trtllm's flags (residual+norm, RoPE in attention, activation in the GEMM)
  // "none", "pytorch-eager", "vllm", "trtllm", "trtllm-pytorch", "xla", "neuron", or a comma list of flag names ("residual_into_norm,rope_into_attention").
  static FusionPolicy parse(const std::string& s);
  std::string str() const;  // a preset's name if it equals one, else the flag list
  bool operator==(const FusionPolicy& o) const;
};

// How routed tokens spread over the experts of a MoE layer. Each token picks experts_per_token
// distinct experts, so one expert gets at most `tokens` rows.
//   Uniform:  tokens*topk rows spread evenly (remainder rows on experts evenly spaced over the range) over the
//             experts one step's tokens reach: a token's k picks are distinct, so it misses an expert with
//             probability 1 - k/E and T tokens reach E_act = E (1 - (1 - k/E)^T) distinct experts on average
//             (group-limited routing gives every expert the same marginal, so the same), rounded and kept within
//             [k, min(E, T k)], evenly spaced over the range (expected_active_experts, workloads/graph.h). Only
//             those experts' weights are read: Mixtral's 8 experts (top-2) at 4 tokens reach 5, not 8.
//             `even` spreads the rows over all E experts (the closed form; it equals E_act once T is large).
//   Zipf s:   expert of rank r (0 = hottest) gets a share proportional to 1/(r+1)^s, capped at `tokens`
//             (overflow re-spread over the rest); s = 0 is uniform. Measured MoE routing is often
//             described this way (e.g. per-expert load histograms in the DeepSeek-V3 and Mixtral reports).
//   Hot f:    the hottest expert receives a fraction f of all tokens (f*tokens rows), the others share
//             the rest uniformly; f must lie between the uniform share topk/experts and 1.
// These are the expected loads. Each step's tokens then pick their experts at random, so with expert
// parallelism the EP ranks' loads of one step differ around them and the busiest sets the step
// (sample_step, workloads/expert_placement.h); `even` is uniform without that draw, every rank
// exactly its share (the closed forms of the tests, and the model before the draw was simulated).
// Text forms: "uniform", "even", "zipf:1.2" (or a bare number: a Zipf exponent), "hot:0.5".
struct Routing {
  enum class Kind : std::uint8_t { Uniform, Zipf, Hot };
  Kind kind = Kind::Uniform;
  double value = 0.0;
  bool sampled = true;  // false: `even`
  static Routing parse(const std::string& s);
  std::string str() const;
};

struct Scenario {
  Phase phase = Phase::Prefill;
  std::int64_t batch = 1;       // sequences processed together
  std::int64_t input_len = 0;   // prompt tokens per sequence
  std::int64_t output_len = 1;  // generated tokens per sequence
  DType wdtype = DType::bf16;   // weights
  DType adtype = DType::bf16;   // GEMM / attention inputs (fp8: quantised on the fly, outputs stay bf16)
  DType kvdtype = DType::bf16;  // KV cache
  int tp = 1;                   // tensor-parallel degree (Megatron-style column/row split)
  // The rest of the parallel layout (workloads/sharding.h): devices = tp x pp x dp.
  int ep = 1;                   // expert parallelism: 1, a divisor of tp (experts over the TP group,
                                // each split tp/ep ways inside) or tp x dp (data-parallel attention,
                                // experts over every rank)
  int pp = 1;                   // pipeline stages (consecutive layer ranges)
  int dp = 1;                   // data-parallel replicas (or attention groups when ep > tp)
  // Replicas of the hottest routed experts over the EP ranks (DeepSeek-V3's redundant experts, placed
  // by EPLB: workloads/expert_placement.h); experts + this must be a multiple of ep.
  int redundant_experts = 0;
  int microbatches = 0;         // pipeline micro-batches per step (0: pp, as vLLM keeps pp in flight)
  // Two-batch overlap without stages (SGLang --enable-two-batch-overlap; DeepSeek-V3's dual
  // micro-batch overlap, arXiv 2412.19437 section 3.4): each replica's batch runs as two micro-batches
  // of half its sequences whose kernels interleave, one's collectives overlapping the other's compute.
  bool two_batch_overlap = false;
  // A decode graph's expert all-to-alls as DeepEP's normal kernels, as a serving iteration with a
  // prefill runs them (SGLang --deepep-mode auto); a prefill graph always does.
  bool normal_all_to_all = false;
  bool sp = false;              // sequence parallelism over the TP group (reduce-scatter + all-gather)
  // Heads as AWS transformers-neuronx stores them for a TP degree of `pad_heads` NeuronCores (a
  // multiple of tp: cores per chip x chips): query heads padded to a multiple of it and, when it
  // does not split the KV heads, KV heads replicated to one per query head (stored_heads). 0: off,
  // the heads split as vLLM and TensorRT-LLM split them (a divisor, or KV heads replicated).
  int pad_heads = 0;
  // With pad_heads: the heads as NxD Inference stores them instead (stored_heads_nxdi: KV heads replicated to
  // the TP degree when it is a multiple of them, not to one per query head).
  bool kv_to_tp_degree = false;
  Routing routing;
  std::optional<FusionPolicy> fusion;  // unset: the chip family's usual software decides
  // The serving stack whose own all-reduce kernels take the TP all-reduces its rule gives them, the rest going
  // to the system's collective library: "trtllm" (TensorRT-LLM's one-shot and two-shot over NVLink,
  // kernels/collective/custom_allreduce.h); "": the library takes every call. Serving sets it from the scheduler.
  std::string allreduce_stack;
  // The attention kernel the software runs (OpSpec::impl): "" = the family's default, "fa2" =
  // FlashAttention-2's code over a contiguous cache (PyTorch's SDPA flash backend).
  std::string attention_impl;
  // The shapes the software compiled (workloads/buckets.h): prompts padded to a context bucket, decode
  // steps run over a token bucket of KV positions. Empty: every step at its exact shape.
  ShapeBuckets buckets;

  // InputError naming the CLI flag: non-positive batch/lengths/tp, lengths beyond the model's
  // context, a tp that does not split the heads, a routing skew that does not fit the experts.
  void validate(const ModelConfig& m) const;
  void validate_layout(const ModelConfig& m) const;  // the ep/pp/dp rules alone
  void validate_redundant_experts(const ModelConfig& m) const;  // experts + replicas over the EP ranks
  // The model as the ranks run it: `m`, with pad_heads its stored_heads form, and with buckets the positions of
  // the largest compiled bucket (transformers-neuronx compiles them also beyond config.json's context).
  ModelConfig run_model_of(const ModelConfig& m) const;
  // The residual stream and elementwise ops: bf16 when adtype is narrower (FP8 recipes in vLLM and
  // TensorRT-LLM quantise only GEMM/attention inputs and keep outputs and the residual in bf16).
  DType stream_dtype() const;
  // Embedding table and LM head: kept in bf16 when the weights are 8-bit or narrower, as quantised
  // checkpoints do (DeepSeek-V3's FP8 release, llm-compressor/ModelOpt recipes ignore lm_head).
  DType embedding_dtype() const;
  int devices() const { return tp * pp * dp; }
  // Ranks each routed expert's width is split over (TensorRT-LLM's moe_tp_size, SGLang's
  // tp_size / ep_size): tp/ep while the experts sit inside the TP group (tp without expert
  // parallelism, 1 for ep == tp), 1 with data-parallel attention (ep > tp).
  int expert_tp() const { return ep <= tp ? tp / ep : 1; }
  // Data-parallel attention (SGLang --enable-dp-attention with an expert-parallel MoE): dp attention groups of
  // tp ranks whose experts sit over every rank (ep = tp x dp > tp, as validate_layout requires of ep > tp), so
  // the groups' MoE blocks join in all-to-alls and their steps go together. The one test of it.
  bool dp_attention() const { return dp > 1 && ep > tp; }
  // "tp8", "tp4 x pp2", "dp8 x ep8", "tp8 x ep2 (expert tp4)": the layout as reports name it.
  std::string layout_str() const;
  // Sequences each rank's step processes: the batch split over data-parallel replicas.
  std::int64_t rank_batch() const { return batch / dp; }
  // Micro-batches one step runs: --microbatches (default pp) with stages, 2 with two-batch overlap, else 1.
  int step_microbatches() const { return pp > 1 ? (microbatches ? microbatches : pp) : two_batch_overlap ? 2 : 1; }
};

// One forward step to simulate and how many real steps it stands for. Decode steps of a long
// generation are sampled: each sample is the middle step of an equal run and repeats for the run,
// which is exact (to half a token of context) when a step's cost is linear in its context length,
// as decode attention is.
// A scenario from the names a user types (CLI flags, Python keywords): one builder for every front end.
// `dtype` sets weights, activations and KV cache (fp4 means fp4 weights with fp8 activations and KV);
// an empty wdtype/adtype/kvdtype/fusion keeps that default.
struct ScenarioArgs {
  std::string phase = "decode";
  std::int64_t batch = 1, input = 2048, output = 1;
  std::string dtype = "bf16", wdtype, adtype, kvdtype;
  int tp = 1, ep = 1, pp = 1, dp = 1, microbatches = 0, pad_heads = 0, redundant_experts = 0;
  bool sp = false, two_batch_overlap = false;
  std::string routing = "uniform", fusion;
  // --neuron-buckets N: transformers-neuronx's default buckets for N compiled positions (0: exact shapes).
  std::int64_t neuron_buckets = 0;
};
Scenario make_scenario(const ScenarioArgs& a);
// The parallel layout of `a` (tp, ep, pp, dp, microbatches, sp, two-batch overlap, redundant experts) into `s`.
void set_layout(Scenario& s, const ScenarioArgs& a);

struct StepPlan {
  bool decode = false;
  // prefill: the prompt's tokens (input_len, or its context bucket); decode: tokens in the KV cache incl.
  // the new one (or the token bucket the step's graph attends over)
  std::int64_t context_len = 0;
  std::int64_t repeat = 1;
  bool prompt = false;  // a decode-graph step that processes a prompt token (part of the TTFT)
};
// prefill: one step. decode: output_len steps at contexts input+1 .. input+output_len.
// request: the prefill (which yields the first token) and output_len-1 decode steps.
// With Scenario::buckets: the prefill at the prompt's context bucket (beyond the largest, the largest and
// then the rest of the prompt as decode steps marked `prompt`), and one decode plan per token bucket that
// the steps cross, repeated for the steps it holds (exact: every step of a bucket runs the same graph).
std::vector<StepPlan> plan_steps(const Scenario& s, int max_decode_samples = 8);
// The scenario a step's graph is built from: a prefill plan's padded prompt as input_len.
Scenario step_scenario(const Scenario& s, const StepPlan& p);

}  // namespace xpu
