// Transformer language models as read from a Hugging Face config.json: the shape numbers that set
// the cost of a forward pass (sizes, heads, per-layer attention pattern, MoE and MLA fields).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace xpu {

enum class NormType : std::uint8_t { Rms, Layer };
enum class Activation : std::uint8_t { Silu, Gelu };
// Full causal attention, a sliding window of the last N keys (Mistral, Gemma 2/3, gpt-oss, Phi-3),
// or chunked attention where a query sees only the keys of its own N-token chunk (Llama 4).
enum class AttentionKind : std::uint8_t { Full, Sliding, Chunked };

const char* name(NormType n);
const char* name(Activation a);
const char* name(AttentionKind k);

// How one decoder layer attends.
struct LayerAttention {
  AttentionKind kind = AttentionKind::Full;
  std::int64_t window = 0;  // tokens for Sliding / Chunked, 0 for Full
  bool rope = true;         // false for Llama 4's NoPE layers (no rotary embedding at all)
  bool qk_norm = false;     // per-head norm of q and k before attention (Qwen3, Gemma 3, Llama 4 RoPE layers)
  bool operator==(const LayerAttention& o) const {
    return kind == o.kind && window == o.window && rope == o.rope && qk_norm == o.qk_norm;
  }
};

// One model's architecture, normalised across families. Field comments name the config.json keys
// they come from; a nested multimodal config (Gemma 3, Llama 4, Mistral 3) contributes its
// `text_config` (the vision tower is not modelled).
struct ModelConfig {
  std::string name;          // shipped name ("llama-3.1-8b") or the file's stem / folder name
  std::string source;        // path of the config.json it was read from ("" if built in code)
  std::string architecture;  // architectures[0] ("LlamaForCausalLM"), else model_type
  std::string family;        // normalised family: llama, llama4, mistral, mixtral, qwen2, qwen2_moe, qwen3,
                             // qwen3_moe, deepseek_v2, deepseek_v3, gpt_oss, phi3, gemma, gemma2, gemma3

  std::int64_t hidden = 0;        // hidden_size
  std::int64_t intermediate = 0;  // intermediate_size of a dense MLP layer (Llama 4: intermediate_size_mlp)
  std::int64_t layers = 0;        // num_hidden_layers (DeepSeek's MTP layers, num_nextn_predict_layers, excluded)
  std::int64_t heads = 0;         // num_attention_heads
  std::int64_t kv_heads = 0;      // num_key_value_heads (defaults to heads, as in HF)
  std::int64_t head_dim = 0;      // head_dim if given, else hidden / heads
  std::int64_t vocab = 0;         // vocab_size
  std::int64_t max_position = 0;  // max_position_embeddings: the context limit a scenario is checked against

  double rope_theta = 10000.0;         // rope_theta
  std::string rope_scaling;            // rope_scaling.rope_type (or .type): "", "llama3", "yarn", "linear", ...
  double rope_scaling_factor = 1.0;    // rope_scaling.factor
  double partial_rotary_factor = 1.0;  // share of head_dim that is rotated (Phi-4-mini: 0.75)
  bool tie_embeddings = false;         // tie_word_embeddings: the LM head reuses the embedding table

  NormType norm = NormType::Rms;
  Activation activation = Activation::Silu;  // hidden_act / hidden_activation (gelu_pytorch_tanh -> Gelu)
  bool gated_mlp = true;        // gate and up projections (SwiGLU / GeGLU); all supported families are gated
  bool qk_norm = false;         // any layer normalises q and k per head (see LayerAttention::qk_norm)
  bool attention_sinks = false; // gpt-oss: a learned sink logit per head joins each softmax
  bool sandwich_norm = false;   // Gemma 2/3: extra norms after attention and after the MLP
  bool qkv_bias = false;        // Qwen2 (always), attention_bias (Llama, gpt-oss)
  bool o_bias = false;          // attention_bias in Llama / gpt-oss also biases o_proj
  bool mlp_bias = false;        // mlp_bias (Llama), gpt-oss experts

  std::vector<LayerAttention> layer_attention;  // one entry per layer

  // Mixture of experts (num_experts == 0: dense model).
  std::int64_t num_experts = 0;         // n_routed_experts / num_local_experts / num_experts
  std::int64_t experts_per_token = 0;   // num_experts_per_tok (gpt-oss: experts_per_token)
  std::int64_t moe_intermediate = 0;    // width of one routed expert: moe_intermediate_size (Mixtral,
                                        // gpt-oss, Llama 4: intermediate_size)
  std::int64_t num_shared_experts = 0;  // n_shared_experts (DeepSeek), 1 for Qwen2-MoE / Llama 4
  std::int64_t shared_intermediate = 0; // total width of all shared experts together
  std::int64_t first_dense_layers = 0;  // first_k_dense_replace (DeepSeek)
  std::int64_t moe_layer_freq = 1;      // moe_layer_freq / decoder_sparse_step / interleave_moe_layer_step
  // Group-limited routing (DeepSeek V2/V3 with topk_method group_limited_greedy or noaux_tc): the routed
  // experts form n_group groups of consecutive ids and a token picks its experts inside its topk_group
  // best groups (DeepSeek-V3: 8 groups, 4 per token, "node-limited routing", arXiv 2412.19437 section
  // 2.1.2). 1 and 1: no limit.
  std::int64_t expert_groups = 1;       // n_group
  std::int64_t groups_per_token = 1;    // topk_group
  std::vector<bool> moe_layer;          // per layer: routed experts (true) or a dense MLP (false)

  // Multi-head latent attention (DeepSeek V2/V3): kv_lora_rank > 0.
  std::int64_t q_lora_rank = 0;         // 0: q is projected directly from the hidden state (V2-Lite)
  std::int64_t kv_lora_rank = 0;
  std::int64_t qk_nope_head_dim = 0;
  std::int64_t qk_rope_head_dim = 0;
  std::int64_t v_head_dim = 0;

  bool is_moe() const { return num_experts > 0; }
  bool is_mla() const { return kv_lora_rank > 0; }
  // Whether tensor parallelism over `tp` ranks splits the heads as vLLM requires: query heads evenly, KV heads evenly
  // or replicated when tp exceeds them (MLA's latent KV is shared by every head).
  bool tp_splits_heads(std::int64_t tp) const {
    return tp > 0 && heads % tp == 0 && (is_mla() || (kv_heads >= tp ? kv_heads % tp == 0 : tp % kv_heads == 0));
  }
  // Rotated dimensions per head (MLA: qk_rope_head_dim).
  std::int64_t rotary_dim() const;
  // Checks the numbers for consistency (InputError naming the field), called by load_model.
  void validate() const;
};

// Parameter counts. "Active" counts the weights that do multiply-adds for one token: all
// non-embedding weights of the layers with only experts_per_token routed experts, plus the LM head
// (the embedding table is a lookup); this is the convention of the DeepSeek-V3 (36.6B incl. 0.9B
// head) and gpt-oss (3.61B) model cards. Mistral's "12.9B active" for Mixtral also adds the
// embedding table (0.13B more).
struct ParamCounts {
  double total = 0;          // every weight, the tied table once
  double active = 0;         // per token, see above
  double embedding = 0;      // the input embedding table
  double lm_head = 0;        // the output projection (0 extra when tied: counted in embedding)
  double layers = 0;         // all decoder layers (attention + MLP/MoE + norms)
  double layers_active = 0;  // decoder-layer weights touched by one token
  double replicated = 0;     // weights every tensor-parallel rank holds whole (norms, routers, MLA down-projections)
};
ParamCounts param_counts(const ModelConfig& m);
// One decoder layer's weights by how parallelism splits them: attention projections (split by
// heads), weights every TP rank holds whole (norms, biases of replicated outputs, MLA down-projections;
// the router is separate), the dense MLP, and for MoE layers the router, one routed expert and the
// shared experts.
struct LayerParams {
  double attention = 0, replicated = 0, mlp = 0, router = 0, expert = 0, shared = 0;
  double experts = 0;  // routed experts in this layer
  bool moe = false;
};
LayerParams layer_params(const ModelConfig& m, std::int64_t layer);

// The heads as AWS transformers-neuronx stores them for a tensor-parallel degree of `degree`
// NeuronCores (transformers_neuronx/decoder.py check_gqa_fallback, allow_pad): KV heads that
// `degree` does not split are replicated to one per query head (GQA.REPLICATED_HEADS: the model
// becomes MHA-shaped, "more memory ... but avoids collective communications"), and the query heads
// (with their KV heads when replicated) are padded with zero heads to a multiple of `degree`. The
// padded and replicated heads are real weights, KV cache and FLOPs on the device. head_dim is kept.
// InputError for MLA models (their latent KV is not split by heads).
ModelConfig stored_heads(const ModelConfig& m, int degree);
// As AWS NxD Inference stores the heads for a TP degree `degree` (neuronx_distributed_inference
// modules/attention/gqa.py determine_sharding_strategy, get_shardable_head_counts): by default
// GQA.REPLICATE_TO_TP_DEGREE, one KV head per rank (KV heads replicated to `degree`) when `degree` is a
// multiple of them, query heads padded to a multiple of `degree`; otherwise CONVERT_TO_MHA, as stored_heads.
ModelConfig stored_heads_nxdi(const ModelConfig& m, int degree);

// Reads a model: a shipped name ("llama-3.1-8b" -> source_dir()/workloads/models/llama-3.1-8b.json),
// a path to a config.json, or a folder holding one. InputError "<file>: <field>: <problem>" for
// malformed JSON, missing or mistyped fields and unsupported architectures.
ModelConfig load_model(const std::string& name_or_path);
// load_model's first check, for a front end that keeps the name to load later (compare): an empty name is
// refused with the one message that names --model.
void check_model_named(const std::string& name_or_path);
// Parses config.json text; `origin` names it in errors and the stem of `origin` becomes the name.
ModelConfig parse_model_json(const std::string& text, const std::string& origin);
// Names of the shipped models, sorted.
std::vector<std::string> list_models();
// `xpusim list models`: a table of the shipped models (parameters, layers, heads, experts, context).
std::string model_list_table();
// The families load_model understands, with the model_type values that select them.
std::vector<std::string> supported_architectures();

}  // namespace xpu
