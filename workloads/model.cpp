// Reading Hugging Face config.json files into ModelConfig: family detection, the per-family field
// names and defaults of transformers' configuration classes, per-layer attention / MoE patterns and
// parameter counts.
#include "workloads/model.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/base/limits.h"

namespace xpu {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* name(NormType n) { return n == NormType::Rms ? "rmsnorm" : "layernorm"; }
const char* name(Activation a) { return a == Activation::Silu ? "silu" : "gelu"; }
const char* name(AttentionKind k) {
  switch (k) {
    case AttentionKind::Full: return "full";
    case AttentionKind::Sliding: return "sliding";
    case AttentionKind::Chunked: return "chunked";
  }
  return "?";
}

std::int64_t ModelConfig::rotary_dim() const {
  if (is_mla()) return qk_rope_head_dim;
  auto d = static_cast<std::int64_t>(std::llround(static_cast<double>(head_dim) * partial_rotary_factor));
  return d - d % 2;  // rotary pairs
}

namespace {

// The most decoder layers a model may have (the largest published models have about 128); per-layer
// patterns are sized by it, so an absurd count is refused before anything is allocated.
constexpr std::int64_t kMaxLayers = 4096;
// config.json files are a few KiB (Gemma's per-layer lists included).
constexpr std::size_t kMaxModelFileBytes = 4u << 20;

// One supported family: the model_type values and architecture class names that select it.
// Derivatives that keep a family's modelling code but rename model_type (Kimi K2 is "kimi_k2" with
// DeepseekV3ForCausalLM) are caught by the architecture name.
struct FamilyInfo {
  const char* family;
  std::vector<std::string> model_types;
  std::vector<std::string> architectures;
};
const std::vector<FamilyInfo>& families() {
  static const std::vector<FamilyInfo> f = {
      {"llama", {"llama"}, {"LlamaForCausalLM"}},
      {"llama4", {"llama4", "llama4_text"}, {"Llama4ForConditionalGeneration", "Llama4ForCausalLM"}},
      {"mistral", {"mistral"}, {"MistralForCausalLM"}},
      {"mixtral", {"mixtral"}, {"MixtralForCausalLM"}},
      {"qwen2", {"qwen2"}, {"Qwen2ForCausalLM"}},
      {"qwen2_moe", {"qwen2_moe"}, {"Qwen2MoeForCausalLM"}},
      {"qwen3", {"qwen3"}, {"Qwen3ForCausalLM"}},
      {"qwen3_moe", {"qwen3_moe"}, {"Qwen3MoeForCausalLM"}},
      {"deepseek_v2", {"deepseek_v2"}, {"DeepseekV2ForCausalLM"}},
      {"deepseek_v3", {"deepseek_v3", "kimi_k2"}, {"DeepseekV3ForCausalLM"}},
      {"gpt_oss", {"gpt_oss"}, {"GptOssForCausalLM"}},
      {"phi3", {"phi3"}, {"Phi3ForCausalLM"}},
      {"gemma", {"gemma"}, {"GemmaForCausalLM"}},
      {"gemma2", {"gemma2"}, {"Gemma2ForCausalLM"}},
      {"gemma3", {"gemma3", "gemma3_text"}, {"Gemma3ForConditionalGeneration", "Gemma3ForCausalLM"}},
  };
  return f;
}

std::string family_of_model_type(const std::string& mt) {
  for (const auto& f : families())
    for (const auto& t : f.model_types)
      if (t == mt) return f.family;
  return "";
}
std::string family_of_architecture(const std::string& arch) {
  for (const auto& f : families())
    for (const auto& a : f.architectures)
      if (a == arch) return f.family;
  return "";
}

// Typed access to the fields of one JSON object with one-line errors "<file>: <path>: <problem>".
// `lm` is the language-model object (text_config when nested), `root` the whole file.
class Reader {
 public:
  Reader(const json& lm, const json& root, std::string file, std::string prefix)
      : m_lm(lm), m_root(root), m_file(std::move(file)), m_prefix(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw InputError::in_file(m_file + ": " + m_prefix + key + ": " + problem, m_file, m_prefix + key);
  }
  // The value of `key` in the language-model object, or (for keys some multimodal files keep at the
  // top level, like tie_word_embeddings) in the root; nullptr when absent or null.
  const json* get(const std::string& key, bool root_fallback = false) const {
    auto it = m_lm.find(key);
    if (it != m_lm.end() && !it->is_null()) return &*it;
    if (root_fallback && &m_lm != &m_root) {
      auto jt = m_root.find(key);
      if (jt != m_root.end() && !jt->is_null()) return &*jt;
    }
    return nullptr;
  }
  bool has(const std::string& key) const { return get(key) != nullptr; }

  std::int64_t to_int(const json& v, const std::string& key, const std::string& what) const {
    if (v.is_number_integer() || v.is_number_unsigned()) return v.get<std::int64_t>();
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::floor(d) == d && std::fabs(d) < 9e18) return static_cast<std::int64_t>(d);
    }
    fail(key, "expected " + what + ", got " + v.dump());
  }
  // A required positive integer; `what` says what it means (for the error). Every integer field is
  // bounded (kMaxDim unless `most` says otherwise) before anything is sized by it.
  std::int64_t req_int(const std::string& key, const std::string& what, std::int64_t most = kMaxDim) const {
    const json* v = get(key);
    if (!v) fail(key, "required field is missing (expected a positive integer: " + what + ")");
    std::int64_t x = to_int(*v, key, "a positive integer (" + what + ")");
    if (x <= 0) fail(key, "expected a positive integer (" + what + "), got " + v->dump());
    if (x > most) fail(key, v->dump() + " is more than " + std::to_string(most) + " (the most xpusim models for " + what + ")");
    return x;
  }
  std::int64_t opt_int(const std::string& key, std::int64_t def, bool allow_zero = true) const {
    const json* v = get(key);
    if (!v) return def;
    std::int64_t x = to_int(*v, key, "an integer");
    if (x < 0 || (!allow_zero && x == 0)) fail(key, "expected a " + std::string(allow_zero ? "non-negative" : "positive") +
                                                        " integer, got " + v->dump());
    if (x > kMaxDim) fail(key, v->dump() + " is more than " + std::to_string(kMaxDim) + " (2^24)");
    return x;
  }
  double opt_num(const std::string& key, double def) const {
    const json* v = get(key);
    if (!v) return def;
    if (!v->is_number()) fail(key, "expected a number, got " + v->dump());
    double x = v->get<double>();
    if (!std::isfinite(x)) fail(key, "expected a finite number, got " + v->dump());
    return x;
  }
  bool opt_bool(const std::string& key, bool def, bool root_fallback = false) const {
    const json* v = get(key, root_fallback);
    if (!v) return def;
    if (!v->is_boolean()) fail(key, "expected true or false, got " + v->dump());
    return v->get<bool>();
  }
  std::string opt_str(const std::string& key, const std::string& def) const {
    const json* v = get(key);
    if (!v) return def;
    if (!v->is_string()) fail(key, "expected a string, got " + v->dump());
    return v->get<std::string>();
  }
  std::vector<std::int64_t> opt_int_list(const std::string& key) const {
    std::vector<std::int64_t> out;
    const json* v = get(key);
    if (!v) return out;
    if (!v->is_array()) fail(key, "expected a list of integers, got " + v->dump());
    if (v->size() > static_cast<size_t>(kMaxLayers))
      fail(key, "a list of " + std::to_string(v->size()) + " entries (expected at most one per layer, " +
                    std::to_string(kMaxLayers) + ")");
    for (const auto& e : *v) out.push_back(to_int(e, key, "a list of integers"));
    return out;
  }
  const json& lm() const { return m_lm; }
  const std::string& file() const { return m_file; }

 private:
  const json& m_lm;
  const json& m_root;
  std::string m_file, m_prefix;
};

Activation parse_activation(const Reader& r) {
  // Gemma files carry both hidden_act ("gelu") and hidden_activation ("gelu_pytorch_tanh"); HF
  // Gemma uses hidden_activation when present.
  std::string key = r.has("hidden_activation") ? "hidden_activation" : "hidden_act";
  std::string act = r.opt_str(key, "silu");
  if (act == "silu" || act == "swish") return Activation::Silu;
  if (act.rfind("gelu", 0) == 0) return Activation::Gelu;
  r.fail(key, "unsupported activation '" + act + "' (expected silu, swish or a gelu variant)");
}

// Whether layer i has routed experts, from each family's own rule in transformers.
std::vector<bool> moe_pattern(const Reader& r, const std::string& fam, std::int64_t layers, ModelConfig& m) {
  std::vector<bool> moe(static_cast<size_t>(layers), false);
  if (m.num_experts == 0) return moe;
  if (fam == "mixtral" || fam == "gpt_oss") {
    std::fill(moe.begin(), moe.end(), true);
  } else if (fam == "qwen2_moe" || fam == "qwen3_moe") {
    // Qwen2MoeDecoderLayer: experts if layer_idx not in mlp_only_layers and (layer_idx + 1) % decoder_sparse_step == 0.
    m.moe_layer_freq = r.opt_int("decoder_sparse_step", 1, false);
    auto dense_only = r.opt_int_list("mlp_only_layers");
    for (std::int64_t i = 0; i < layers; ++i)
      moe[i] = std::find(dense_only.begin(), dense_only.end(), i) == dense_only.end() && (i + 1) % m.moe_layer_freq == 0;
  } else if (fam == "deepseek_v2" || fam == "deepseek_v3") {
    // DeepseekV3DecoderLayer: experts if layer_idx >= first_k_dense_replace and layer_idx % moe_layer_freq == 0.
    m.first_dense_layers = r.opt_int("first_k_dense_replace", 0);
    m.moe_layer_freq = r.opt_int("moe_layer_freq", 1, false);
    for (std::int64_t i = 0; i < layers; ++i) moe[i] = i >= m.first_dense_layers && i % m.moe_layer_freq == 0;
    // modeling_deepseek.py MoEGate: groups limit the choice only for these two methods ("greedy", V2's
    // and V2-Lite's default, ranks every expert).
    const std::string method = r.opt_str("topk_method", fam == "deepseek_v3" ? "noaux_tc" : "greedy");
    if (method == "group_limited_greedy" || method == "noaux_tc") {
      m.expert_groups = r.opt_int("n_group", 1, false);
      m.groups_per_token = r.opt_int("topk_group", m.expert_groups, false);
      if (m.num_experts % m.expert_groups != 0)
        r.fail("n_group", std::to_string(m.expert_groups) + " does not divide the " + std::to_string(m.num_experts) + " routed experts");
      if (m.groups_per_token > m.expert_groups)
        r.fail("topk_group", std::to_string(m.groups_per_token) + " is more than n_group " + std::to_string(m.expert_groups));
    }
  } else if (fam == "llama4") {
    // Llama4TextConfig: moe_layers defaults to range(step - 1, layers, step), step = interleave_moe_layer_step.
    m.moe_layer_freq = r.opt_int("interleave_moe_layer_step", 1, false);
    auto listed = r.opt_int_list("moe_layers");
    if (!r.has("moe_layers"))
      for (std::int64_t i = m.moe_layer_freq - 1; i < layers; i += m.moe_layer_freq) listed.push_back(i);
    for (auto i : listed) {
      if (i < 0 || i >= layers) r.fail("moe_layers", "layer " + std::to_string(i) + " is outside 0.." + std::to_string(layers - 1));
      moe[i] = true;
    }
  }
  for (std::int64_t i = 0; i < layers && !moe[i]; ++i) m.first_dense_layers = std::max(m.first_dense_layers, i + 1);
  return moe;
}

// Per-layer attention kinds. An explicit `layer_types` list (written by transformers >= 4.53 for
// Gemma 2/3, gpt-oss, Qwen, Llama 4) wins; otherwise each family's rule from its modelling code.
std::vector<LayerAttention> attention_pattern(const Reader& r, const std::string& fam, std::int64_t layers) {
  std::vector<LayerAttention> pat(static_cast<size_t>(layers));
  auto sliding = [&](std::int64_t def) { return r.opt_int("sliding_window", def, false); };
  auto set_sliding = [&](LayerAttention& l, std::int64_t w) {
    l.kind = AttentionKind::Sliding;
    l.window = w;
  };
  if (const json* types = r.get("layer_types")) {
    if (!types->is_array() || static_cast<std::int64_t>(types->size()) != layers)
      r.fail("layer_types", "expected a list of " + std::to_string(layers) + " entries (one per layer, num_hidden_layers)");
    for (std::int64_t i = 0; i < layers; ++i) {
      const json& t = (*types)[static_cast<size_t>(i)];
      std::string s = t.is_string() ? t.get<std::string>() : t.dump();
      if (s == "full_attention") continue;
      if (s == "sliding_attention") {
        std::int64_t w = sliding(0);
        if (w == 0) r.fail("sliding_window", "required by layer_types' sliding_attention layers (expected a window in tokens)");
        set_sliding(pat[i], w);
      } else if (s == "chunked_attention") {
        std::int64_t c = r.opt_int("attention_chunk_size", 0, false);
        if (c == 0) r.fail("attention_chunk_size", "required by layer_types' chunked_attention layers (expected a chunk in tokens)");
        pat[i].kind = AttentionKind::Chunked;
        pat[i].window = c;
      } else {
        r.fail("layer_types", "unknown entry " + t.dump() + " at layer " + std::to_string(i) +
                                  " (expected full_attention, sliding_attention or chunked_attention)");
      }
    }
  } else if (fam == "mistral" || fam == "mixtral" || fam == "phi3") {
    // Mistral-7B-v0.1 (4096) and Phi-3-mini (2047) slide on every layer; null means full attention.
    if (std::int64_t w = sliding(0))
      for (auto& l : pat) set_sliding(l, w);
  } else if (fam == "qwen2" || fam == "qwen2_moe" || fam == "qwen3" || fam == "qwen3_moe") {
    // Qwen2Attention: sliding only with use_sliding_window, and only for layers >= max_window_layers.
    if (r.opt_bool("use_sliding_window", false)) {
      std::int64_t w = sliding(0);
      std::int64_t from = r.opt_int("max_window_layers", 28);  // Qwen2Config's default
      if (w > 0)
        for (std::int64_t i = from; i < layers; ++i) set_sliding(pat[i], w);
    }
  } else if (fam == "gemma2" || fam == "gpt_oss") {
    // Gemma2 / GptOss: even layers (0, 2, ...) slide, odd layers attend fully.
    std::int64_t w = sliding(fam == "gemma2" ? 4096 : 128);
    for (std::int64_t i = 0; i < layers; i += 2) set_sliding(pat[i], w);
  } else if (fam == "gemma3") {
    // Gemma3TextConfig: every sliding_window_pattern-th layer (5, 11, ...) is global, the rest slide.
    std::int64_t w = sliding(4096);
    std::int64_t period = r.opt_int("sliding_window_pattern", 6, false);
    for (std::int64_t i = 0; i < layers; ++i)
      if ((i + 1) % period != 0) set_sliding(pat[i], w);
  }
  if (fam == "llama4") {
    // Llama4TextConfig: no_rope_layers[i] == 1 -> RoPE + chunked attention, 0 -> NoPE global
    // attention; an empty list means a NoPE layer every 4th layer (no_rope_layer_interval = 4).
    auto rope = r.opt_int_list("no_rope_layers");
    if (!rope.empty() && static_cast<std::int64_t>(rope.size()) != layers)
      r.fail("no_rope_layers", "expected " + std::to_string(layers) + " entries (one per layer) or an empty list");
    std::int64_t chunk = r.opt_int("attention_chunk_size", 0, false);
    for (std::int64_t i = 0; i < layers; ++i) {
      pat[i].rope = rope.empty() ? (i + 1) % 4 != 0 : rope[i] != 0;
      if (!r.has("layer_types") && pat[i].rope && chunk > 0) {
        pat[i].kind = AttentionKind::Chunked;
        pat[i].window = chunk;
      }
    }
  }
  return pat;
}

std::string stem_name(const std::string& origin) {
  fs::path p(origin);
  if (p.stem() == "config" && p.has_parent_path() && !p.parent_path().filename().empty())
    return p.parent_path().filename().string();
  return p.stem().string();
}

}  // namespace

std::vector<std::string> supported_architectures() {
  std::vector<std::string> out;
  for (const auto& f : families()) {
    std::string s = f.family;
    s += " (";
    for (size_t i = 0; i < f.architectures.size(); ++i) s += (i ? ", " : "") + f.architectures[i];
    s += ")";
    out.push_back(s);
  }
  return out;
}

namespace {
// MLP widths and experts, by family (each family's config class names them differently).
void read_mlp_and_experts(Reader& r, const std::string& fam, ModelConfig& m) {
  if (fam == "llama4") {
    // Llama4: intermediate_size is an expert's (and the shared expert's) width; dense layers use intermediate_size_mlp.
    m.moe_intermediate = r.req_int("intermediate_size", "the width of one expert");
    m.num_experts = r.req_int("num_local_experts", "the number of routed experts");
    m.experts_per_token = r.req_int("num_experts_per_tok", "routed experts per token");
    m.num_shared_experts = 1;
    m.shared_intermediate = m.moe_intermediate;
    m.intermediate = r.has("intermediate_size_mlp") ? r.req_int("intermediate_size_mlp", "the dense MLP width") : 0;
  } else {
    m.intermediate = r.req_int("intermediate_size", "the MLP width");
  }
  if (fam == "mixtral" || fam == "gpt_oss") {
    m.num_experts = r.req_int("num_local_experts", "the number of experts per layer");
    // GptOss's file may say experts_per_token; without either name, the missing field is HF's num_experts_per_tok
    // (a Mixtral file without it was told "experts_per_token: required field is missing", a key Mixtral has not).
    m.experts_per_token = r.has("experts_per_token") && !r.has("num_experts_per_tok")
                              ? r.req_int("experts_per_token", "experts per token")
                              : r.req_int("num_experts_per_tok", "experts per token");
    m.moe_intermediate = m.intermediate;
  } else if (fam == "qwen2_moe" || fam == "qwen3_moe") {
    m.num_experts = r.req_int("num_experts", "the number of routed experts");
    m.experts_per_token = r.req_int("num_experts_per_tok", "routed experts per token");
    m.moe_intermediate = r.req_int("moe_intermediate_size", "the width of one expert");
    m.shared_intermediate = r.opt_int("shared_expert_intermediate_size", 0);
    m.num_shared_experts = m.shared_intermediate > 0 ? 1 : 0;
  } else if (fam == "deepseek_v2" || fam == "deepseek_v3") {
    // n_routed_experts: null makes a dense DeepSeek model.
    if (r.has("n_routed_experts")) {
      m.num_experts = r.req_int("n_routed_experts", "the number of routed experts");
      m.experts_per_token = r.req_int("num_experts_per_tok", "routed experts per token");
      m.moe_intermediate = r.req_int("moe_intermediate_size", "the width of one expert");
      m.num_shared_experts = r.opt_int("n_shared_experts", 0);
      m.shared_intermediate = m.num_shared_experts * m.moe_intermediate;
    }
    m.q_lora_rank = r.opt_int("q_lora_rank", 0);  // null in DeepSeek-V2-Lite: q_proj straight from hidden
    m.kv_lora_rank = r.req_int("kv_lora_rank", "the rank of the compressed KV latent");
    m.qk_nope_head_dim = r.req_int("qk_nope_head_dim", "per-head q/k dims without RoPE");
    m.qk_rope_head_dim = r.req_int("qk_rope_head_dim", "per-head q/k dims with RoPE (shared by all heads for k)");
    m.v_head_dim = r.req_int("v_head_dim", "per-head value dims");
    m.head_dim = m.qk_nope_head_dim + m.qk_rope_head_dim;
    m.kv_heads = m.heads;  // MLA expands the latent to every head; decode attends to one shared latent
  }
}

ModelConfig parse_model_json_checked(const std::string& text, const std::string& origin);
}  // namespace

ModelConfig parse_model_json(const std::string& text, const std::string& origin) {
  // Type errors nlohmann raises while reading an oddly typed field ("model_type": 3) become input
  // errors naming the file, like every other problem of the file.
  try {
    return parse_model_json_checked(text, origin);
  } catch (const json::exception& e) {
    std::string what = e.what();
    auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    throw InputError::in_file(origin + ": JSON: " + what, origin, "");
  }
}

namespace {
ModelConfig parse_model_json_checked(const std::string& text, const std::string& origin) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    // nlohmann reports "parse error at line L, column C: ..."; keep it, it locates the problem.
    throw InputError::in_file(origin + ": JSON: " + what + " (expected a complete JSON object, as written by transformers)", origin, "");
  }
  if (!root.is_object()) throw InputError::in_file(origin + ": (top level): expected a JSON object, got " + std::string(root.type_name()), origin, "");

  // A multimodal file (Gemma 3, Llama 4, Mistral 3) nests the language model under text_config.
  const json* lm = &root;
  std::string prefix;
  auto tc = root.find("text_config");
  if (tc != root.end() && !tc->is_null() && !tc->is_object())
    throw InputError::in_file(origin + ": text_config: expected an object (the language model's config), got " + tc->dump(), origin, "text_config");
  if (tc != root.end() && tc->is_object()) {
    lm = &*tc;
    prefix = "text_config.";
  }
  Reader r(*lm, root, origin, prefix);

  ModelConfig m;
  m.source = origin;
  m.name = stem_name(origin);

  // Family: the language model's model_type, then the file's, then its architectures.
  std::string mt_lm = lm->value("model_type", std::string());
  std::string mt_root = root.value("model_type", std::string());
  std::string arch;
  if (auto a = root.find("architectures"); a != root.end() && a->is_array() && !a->empty() && (*a)[0].is_string())
    arch = (*a)[0].get<std::string>();
  std::string fam = family_of_model_type(mt_lm);
  if (fam.empty()) fam = family_of_model_type(mt_root);
  if (fam.empty()) fam = family_of_architecture(arch);
  if (fam.empty()) {
    std::string what = !mt_root.empty() ? "model_type '" + mt_root + "'" : "no model_type";
    if (!arch.empty()) what += " (" + arch + ")";
    throw InputError::in_file(origin + ": model_type: unsupported architecture: " + what + "; supported: " + join(supported_architectures()), origin, "model_type");
  }
  m.family = fam;
  m.architecture = !arch.empty() ? arch : (!mt_root.empty() ? mt_root : mt_lm);
  const bool gemma = fam == "gemma" || fam == "gemma2" || fam == "gemma3";

  m.hidden = r.req_int("hidden_size", "the model width");
  m.layers = r.req_int("num_hidden_layers", "the number of decoder layers", kMaxLayers);
  m.heads = r.req_int("num_attention_heads", "the number of query heads", 65536);
  m.kv_heads = r.opt_int("num_key_value_heads", m.heads, false);
  m.head_dim = r.has("head_dim") ? r.req_int("head_dim", "the width of one attention head") : m.hidden / m.heads;
  // Gemma3TextConfig's defaults (vocab 262208, 128k context, rope_theta 1e6) are what Hub files rely on.
  m.vocab = fam == "gemma3" && !r.has("vocab_size") ? 262208 : r.req_int("vocab_size", "the vocabulary size");
  m.max_position = fam == "gemma3" && !r.has("max_position_embeddings")
                       ? 131072
                       : r.req_int("max_position_embeddings", "the longest context in tokens", std::int64_t{1} << 40);
  m.rope_theta = r.opt_num("rope_theta", fam == "gemma3" ? 1e6 : 10000.0);
  if (m.rope_theta <= 0) r.fail("rope_theta", "expected a positive base");
  if (const json* rs = r.get("rope_scaling")) {
    if (!rs->is_object()) r.fail("rope_scaling", "expected an object with rope_type and factor, got " + rs->dump());
    m.rope_scaling = rs->value("rope_type", rs->value("type", std::string()));
    if (auto f = rs->find("factor"); f != rs->end() && f->is_number()) m.rope_scaling_factor = f->get<double>();
    if (!std::isfinite(m.rope_scaling_factor) || m.rope_scaling_factor <= 0)
      r.fail("rope_scaling.factor", "expected a positive finite factor");
  }
  m.partial_rotary_factor = r.opt_num("partial_rotary_factor", 1.0);
  if (m.partial_rotary_factor <= 0 || m.partial_rotary_factor > 1)
    r.fail("partial_rotary_factor", "expected a share of head_dim in (0, 1]");
  // PretrainedConfig defaults to tied embeddings, but each family's class overrides it: only the
  // Gemma classes keep True.
  m.tie_embeddings = r.opt_bool("tie_word_embeddings", gemma, true);
  m.norm = NormType::Rms;  // every supported family uses RMSNorm (LayerNorm is for other families)
  m.activation = fam == "gemma3" && !r.has("hidden_activation") && !r.has("hidden_act") ? Activation::Gelu : parse_activation(r);
  m.sandwich_norm = fam == "gemma2" || fam == "gemma3";
  m.attention_sinks = fam == "gpt_oss";
  bool attention_bias = r.opt_bool("attention_bias", fam == "gpt_oss");
  m.qkv_bias = attention_bias || fam == "qwen2" || fam == "qwen2_moe";  // Qwen2Attention hard-codes q/k/v biases
  m.o_bias = attention_bias;
  m.mlp_bias = r.opt_bool("mlp_bias", fam == "gpt_oss");
  bool qk_norm = fam == "qwen3" || fam == "qwen3_moe" || fam == "gemma3" || (fam == "llama4" && r.opt_bool("use_qk_norm", false));

  read_mlp_and_experts(r, fam, m);
  m.moe_layer = moe_pattern(r, fam, m.layers, m);
  bool any_dense = std::find(m.moe_layer.begin(), m.moe_layer.end(), false) != m.moe_layer.end();
  if (fam == "llama4" && any_dense && m.intermediate == 0)
    r.fail("intermediate_size_mlp", "required field is missing (expected the width of the dense MLP layers)");

  m.layer_attention = attention_pattern(r, fam, m.layers);
  for (auto& l : m.layer_attention) l.qk_norm = qk_norm && (fam != "llama4" || l.rope);  // Llama 4 normalises q/k on RoPE layers only
  m.qk_norm = qk_norm;
  m.validate();
  return m;
}
}  // namespace

void ModelConfig::validate() const {
  auto bad = [&](const std::string& field, const std::string& problem) { throw InputError::in_file(source + ": " + field + ": " + problem, source, field); };
  if (hidden <= 0) bad("hidden_size", "expected a positive integer");
  if (heads <= 0 || kv_heads <= 0) bad("num_attention_heads", "expected positive head counts");
  if (heads % kv_heads != 0)
    bad("num_key_value_heads", std::to_string(kv_heads) + " does not divide num_attention_heads " + std::to_string(heads) +
                                   " (expected a divisor: grouped-query attention shares each KV head by a whole group)");
  if (head_dim <= 0) bad("head_dim", "expected a positive integer");
  if (static_cast<std::int64_t>(layer_attention.size()) != layers || static_cast<std::int64_t>(moe_layer.size()) != layers)
    bad("num_hidden_layers", "per-layer patterns do not cover every layer");
  if (is_moe()) {
    if (experts_per_token <= 0 || experts_per_token > num_experts)
      bad("num_experts_per_tok", std::to_string(experts_per_token) + " is not within 1.." + std::to_string(num_experts) +
                                     " (expected at most the number of experts)");
    if (moe_intermediate <= 0) bad("moe_intermediate_size", "expected a positive expert width");
  }
  if (std::find(moe_layer.begin(), moe_layer.end(), false) != moe_layer.end() && intermediate <= 0)
    bad("intermediate_size", "expected a positive MLP width for the dense layers");
  for (const auto& l : layer_attention)
    if (l.kind != AttentionKind::Full && l.window <= 0) bad("sliding_window", "expected a positive window in tokens");
}

ModelConfig stored_heads(const ModelConfig& m, int degree) {
  if (degree <= 0) throw InputError("--pad-heads must be a positive number of cores, got " + std::to_string(degree), "--pad-heads", "");
  if (m.is_mla())
    throw InputError("--pad-heads " + std::to_string(degree) + ": " + m.name +
                     " uses multi-head latent attention, whose cached latent is not split by heads (drop --pad-heads)", "--pad-heads", std::to_string(degree));
  ModelConfig out = m;
  if (m.kv_heads % degree == 0) return out;  // shard over heads: whole KV heads with their query heads
  const std::int64_t heads = (m.heads + degree - 1) / degree * degree;
  out.heads = out.kv_heads = heads;  // replicated KV heads, one per query head, padded with the queries
  return out;
}

ModelConfig stored_heads_nxdi(const ModelConfig& m, int degree) {
  if (degree <= 0 || m.is_mla() || m.kv_heads % degree == 0 || degree % m.kv_heads != 0) return stored_heads(m, degree);
  ModelConfig out = m;
  out.heads = (m.heads + degree - 1) / degree * degree;  // query heads padded to a multiple of the degree
  out.kv_heads = degree;                                 // one KV head per rank, replicated
  return out;
}

LayerParams layer_params(const ModelConfig& m, std::int64_t i) {
  LayerParams l;
  const double h = static_cast<double>(m.hidden);
  const double norm = m.norm == NormType::Layer ? 2.0 * h : h;  // LayerNorm adds a bias
  if (m.is_mla()) {
    // DeepseekV2Attention: q_a_proj + q_a_layernorm + q_b_proj (or q_proj), kv_a_proj_with_mqa +
    // kv_a_layernorm + kv_b_proj, o_proj.
    double qk = static_cast<double>(m.qk_nope_head_dim + m.qk_rope_head_dim);
    if (m.q_lora_rank > 0) {
      l.replicated += h * m.q_lora_rank + m.q_lora_rank;
      l.attention += static_cast<double>(m.q_lora_rank) * m.heads * qk;
    } else {
      l.attention += h * m.heads * qk;
    }
    l.replicated += h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank;
    l.attention += static_cast<double>(m.kv_lora_rank) * m.heads * (m.qk_nope_head_dim + m.v_head_dim);
    l.attention += static_cast<double>(m.heads) * m.v_head_dim * h;
  } else {
    double qkv = static_cast<double>(m.heads + 2 * m.kv_heads) * m.head_dim;
    l.attention += h * qkv + static_cast<double>(m.heads) * m.head_dim * h;
    if (m.qkv_bias) l.attention += qkv;
    if (m.o_bias) l.replicated += h;
  }
  if (m.attention_sinks) l.attention += static_cast<double>(m.heads);
  const bool qk = m.layer_attention[static_cast<size_t>(i)].qk_norm && m.family != "llama4";  // Llama 4's qk L2 norm has no weights
  l.replicated += (m.sandwich_norm ? 4.0 : 2.0) * norm;
  l.replicated += qk ? 2.0 * m.head_dim : 0.0;
  auto mlp = [&](double width) {
    double w = (m.gated_mlp ? 3.0 : 2.0) * h * width;
    if (m.mlp_bias) w += (m.gated_mlp ? 2.0 : 1.0) * width + h;
    return w;
  };
  l.moe = m.moe_layer[static_cast<size_t>(i)];
  if (l.moe) {
    l.router = h * m.num_experts + (m.mlp_bias ? static_cast<double>(m.num_experts) : 0.0);
    l.expert = mlp(static_cast<double>(m.moe_intermediate));
    l.experts = m.num_experts;
    l.shared = m.shared_intermediate > 0 ? mlp(static_cast<double>(m.shared_intermediate)) : 0.0;
  } else {
    l.mlp = mlp(static_cast<double>(m.intermediate));
  }
  return l;
}

ParamCounts param_counts(const ModelConfig& m) {
  ParamCounts p;
  const double h = static_cast<double>(m.hidden);
  const double norm = m.norm == NormType::Layer ? 2.0 * h : h;
  for (std::int64_t i = 0; i < m.layers; ++i) {
    const LayerParams l = layer_params(m, i);
    const double base = l.attention + l.replicated + l.mlp;
    if (!l.moe) {
      p.layers += base;
      p.layers_active += base;
      p.replicated += l.replicated;
      continue;
    }
    p.layers += base + (l.router + l.experts * l.expert + l.shared);
    p.layers_active += base + (l.router + m.experts_per_token * l.expert + l.shared);
    p.replicated += l.replicated + l.router;
  }
  p.layers += norm;  // final norm
  p.layers_active += norm;
  p.replicated += norm;
  p.embedding = static_cast<double>(m.vocab) * h;
  p.lm_head = m.tie_embeddings ? 0.0 : static_cast<double>(m.vocab) * h;
  p.total = p.embedding + p.lm_head + p.layers;
  p.active = p.layers_active + static_cast<double>(m.vocab) * h;  // the LM head (the tied table when tied)
  return p;
}

void check_model_named(const std::string& name_or_path) {
  if (name_or_path.empty()) throw InputError("--model: expected a shipped model name or the path of a config.json", "--model", "");
}

ModelConfig load_model(const std::string& name_or_path) {
  std::string path = name_or_path;
  std::error_code ec;  // odd paths (too long, unreadable folders) are reported, never thrown as filesystem_error
  const fs::path shipped = fs::path(source_dir()) / "workloads" / "models" / (name_or_path + ".json");
  const bool looks_like_path = name_or_path.find('/') != std::string::npos || name_or_path.find(".json") != std::string::npos;
  check_model_named(name_or_path);
  if (!looks_like_path && fs::exists(shipped, ec)) path = shipped.string();
  const bool folder = fs::is_directory(path, ec);  // a Hugging Face model folder: its config.json
  if (folder) path = (fs::path(path) / "config.json").string();
  if (!fs::exists(fs::symlink_status(path, ec)) && !fs::exists(path, ec)) {
    if (folder)  // it was "no such shipped model or file" for a folder that is there
      throw InputError(name_or_path + ": model: a folder without a config.json (expected a shipped model name, the path of a "
                       "Hugging Face config.json, or a model folder holding one)", "", name_or_path);
    std::vector<std::string> names = list_models();
    throw InputError(name_or_path + ": model: no such shipped model or file; shipped models: " + join(names) +
                     (looks_like_path ? std::string() : nearest_clause(name_or_path, names)) +
                     "; or give the path of a Hugging Face config.json", "", name_or_path);
  }
  ModelConfig m = parse_model_json(read_input_file(path, "model", kMaxModelFileBytes), path);
  if (path == shipped.string()) m.name = name_or_path;
  return m;
}

std::vector<std::string> list_models() {
  std::vector<std::string> out;
  const fs::path dir = fs::path(source_dir()) / "workloads" / "models";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace xpu
