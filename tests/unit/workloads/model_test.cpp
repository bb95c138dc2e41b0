// Tests for reading Hugging Face config.json files: shipped models, one fixture per family, and
// every error case naming its field.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "tests/unit/interconnect/systems_test_util.h"
#include "workloads/model.h"

namespace xpu {
namespace {

std::string fixture(const std::string& name) { return source_dir() + "/tests/data/models/" + name + ".json"; }

// Expects InputError whose message contains every fragment.
template <class F>
void expect_input_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    std::string msg = e.what();
    for (const auto& frag : fragments) EXPECT_NE(msg.find(frag), std::string::npos) << "'" << frag << "' not in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line expected: " << msg;
  }
}

int count_kind(const ModelConfig& m, AttentionKind k) {
  return static_cast<int>(std::count_if(m.layer_attention.begin(), m.layer_attention.end(),
                                        [&](const LayerAttention& l) { return l.kind == k; }));
}
int count_moe(const ModelConfig& m) { return static_cast<int>(std::count(m.moe_layer.begin(), m.moe_layer.end(), true)); }

TEST(WorkloadModel, ShippedModelsAreListed) {
  auto names = list_models();
  for (const char* n : {"llama-2-70b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "mixtral-8x7b", "qwen2.5-72b",
                        "deepseek-v3", "kimi-k2", "llama-2-7b", "llama-2-13b", "codellama-13b", "mistral-7b-instruct-v0.2",
                        "qwen3-30b-a3b"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

// Published parameter counts (model cards / papers), within 2%.
struct Published {
  const char* name;
  double total, active;
  bool active_counts_embedding = false;  // the published active count includes the input embedding lookup
};
TEST(WorkloadModel, ShippedParameterCountsMatchPublished) {
  const Published cases[] = {
      {"llama-3.1-8b", 8.03e9, 0},       {"llama-3.1-70b", 70.6e9, 0}, {"llama-3.1-405b", 405.9e9, 0},
      {"llama-2-70b", 70e9, 0},          // Llama 2 paper (Touvron et al. 2023), Table 1: 70B
      {"mixtral-8x7b", 46.7e9, 12.9e9},  // Mistral AI: 46.7B total, 12.9B active
      {"qwen2.5-72b", 72.7e9, 0},        // Qwen2.5 model card: 72.7B
      {"deepseek-v3", 671e9, 37e9},      // DeepSeek-V3 report: 671B total, 37B activated
      // Kimi K2 report (arXiv 2507.20534): 1.04T total, 32.6B activated, a count that takes in the input
      // embedding (163840 x 7168 = 1.17B; without it 31.7B)
      {"kimi-k2", 1.04e12, 32.6e9, true},
      // Hugging Face Hub model pages (the checkpoints' safetensors parameter counts): 6.74B, 13B, 13B, 7.24B
      {"llama-2-7b", 6.74e9, 0},         {"llama-2-13b", 13.0e9, 0},   {"codellama-13b", 13.0e9, 0},
      {"mistral-7b-instruct-v0.2", 7.24e9, 0},
      // Qwen/Qwen3-30B-A3B model card: 30.5B total, 3.3B activated (with the input embedding, 151936 x 2048 = 0.31B)
      {"qwen3-30b-a3b", 30.5e9, 3.3e9, true},
  };
  for (const auto& c : cases) {
    ModelConfig m = load_model(c.name);
    ParamCounts p = param_counts(m);
    EXPECT_NEAR(p.total / c.total, 1.0, 0.02) << c.name << " total " << p.total;
    const double embedding = c.active_counts_embedding ? static_cast<double>(m.vocab) * static_cast<double>(m.hidden) : 0;
    if (c.active > 0) EXPECT_NEAR((p.active + embedding) / c.active, 1.0, 0.02) << c.name << " active " << p.active;
    else EXPECT_LT(p.active, p.total) << c.name;  // the input embedding is a lookup
  }
}

TEST(WorkloadModel, Llama31_8bFields) {
  ModelConfig m = load_model("llama-3.1-8b");
  EXPECT_EQ(m.name, "llama-3.1-8b");
  EXPECT_EQ(m.family, "llama");
  EXPECT_EQ(m.architecture, "LlamaForCausalLM");
  EXPECT_EQ(m.hidden, 4096);
  EXPECT_EQ(m.intermediate, 14336);
  EXPECT_EQ(m.layers, 32);
  EXPECT_EQ(m.heads, 32);
  EXPECT_EQ(m.kv_heads, 8);
  EXPECT_EQ(m.head_dim, 128);
  EXPECT_EQ(m.vocab, 128256);
  EXPECT_EQ(m.max_position, 131072);
  EXPECT_DOUBLE_EQ(m.rope_theta, 500000.0);
  EXPECT_EQ(m.rope_scaling, "llama3");
  EXPECT_DOUBLE_EQ(m.rope_scaling_factor, 8.0);
  EXPECT_FALSE(m.tie_embeddings);
  EXPECT_EQ(m.norm, NormType::Rms);
  EXPECT_EQ(m.activation, Activation::Silu);
  EXPECT_FALSE(m.is_moe());
  EXPECT_FALSE(m.is_mla());
  EXPECT_EQ(count_kind(m, AttentionKind::Full), 32);
}

TEST(WorkloadModel, MixtralIsMoeEverywhere) {
  ModelConfig m = load_model("mixtral-8x7b");
  EXPECT_EQ(m.num_experts, 8);
  EXPECT_EQ(m.experts_per_token, 2);
  EXPECT_EQ(m.moe_intermediate, 14336);
  EXPECT_EQ(m.shared_intermediate, 0);
  EXPECT_EQ(count_moe(m), 32);
  EXPECT_EQ(count_kind(m, AttentionKind::Full), 32);  // "sliding_window": null
  EXPECT_EQ(m.max_position, 32768);
}

TEST(WorkloadModel, Qwen25IgnoresSlidingWindowWhenDisabled) {
  ModelConfig m = load_model("qwen2.5-72b");
  EXPECT_EQ(m.family, "qwen2");
  EXPECT_EQ(count_kind(m, AttentionKind::Full), 80);  // use_sliding_window: false
  EXPECT_TRUE(m.qkv_bias);                           // Qwen2 always biases q, k, v
  EXPECT_FALSE(m.o_bias);
  EXPECT_EQ(m.vocab, 152064);
}

TEST(WorkloadModel, DeepSeekV3MlaAndMoe) {
  ModelConfig m = load_model("deepseek-v3");
  EXPECT_EQ(m.family, "deepseek_v3");
  EXPECT_TRUE(m.is_mla());
  EXPECT_EQ(m.q_lora_rank, 1536);
  EXPECT_EQ(m.kv_lora_rank, 512);
  EXPECT_EQ(m.qk_nope_head_dim, 128);
  EXPECT_EQ(m.qk_rope_head_dim, 64);
  EXPECT_EQ(m.v_head_dim, 128);
  EXPECT_EQ(m.head_dim, 192);
  EXPECT_EQ(m.rotary_dim(), 64);
  EXPECT_EQ(m.num_experts, 256);
  EXPECT_EQ(m.experts_per_token, 8);
  EXPECT_EQ(m.num_shared_experts, 1);
  EXPECT_EQ(m.shared_intermediate, 2048);
  EXPECT_EQ(m.first_dense_layers, 3);
  EXPECT_EQ(count_moe(m), 58);
  EXPECT_FALSE(m.moe_layer[2]);
  EXPECT_TRUE(m.moe_layer[3]);
  EXPECT_EQ(m.layers, 61);  // the MTP layer (num_nextn_predict_layers) is not part of the forward pass
  EXPECT_EQ(m.rope_scaling, "yarn");
}

TEST(WorkloadModel, TinyLlama) {
  ModelConfig m = load_model(fixture("tiny-llama"));
  EXPECT_EQ(m.name, "tiny-llama");
  EXPECT_EQ(m.hidden, 64);
  EXPECT_EQ(m.heads, 2);
  EXPECT_EQ(m.kv_heads, 2);
  EXPECT_EQ(m.head_dim, 32);  // hidden / heads
  EXPECT_EQ(m.layers, 2);
  // 2 * (64*64*4 attention + 3*64*128 MLP + 128 norms) + 64 final norm + 2 * 256*64 tables
  EXPECT_DOUBLE_EQ(param_counts(m).total, 2 * (64 * 64 * 4 + 3 * 64 * 128 + 128) + 64 + 2 * 256 * 64);
}

TEST(WorkloadModel, Qwen3MoeFixture) {
  ModelConfig m = load_model(fixture("qwen3-30b-a3b"));
  EXPECT_EQ(m.family, "qwen3_moe");
  EXPECT_EQ(m.head_dim, 128);  // explicit head_dim (hidden / heads would be 64)
  EXPECT_TRUE(m.qk_norm);
  EXPECT_TRUE(m.layer_attention[0].qk_norm);
  EXPECT_EQ(m.num_experts, 128);
  EXPECT_EQ(m.experts_per_token, 8);
  EXPECT_EQ(m.moe_intermediate, 768);
  EXPECT_EQ(count_moe(m), 48);
  ParamCounts p = param_counts(m);
  EXPECT_NEAR(p.total / 30.5e9, 1.0, 0.02);  // Qwen3 model card: 30.5B total
  // Qwen's "3.3B activated" also counts the input embedding table.
  EXPECT_NEAR((p.active + p.embedding) / 3.3e9, 1.0, 0.03);
}

TEST(WorkloadModel, GptOssFixtureSlidingAndSinks) {
  ModelConfig m = load_model(fixture("gpt-oss-20b"));
  EXPECT_EQ(m.family, "gpt_oss");
  EXPECT_TRUE(m.attention_sinks);
  EXPECT_EQ(m.experts_per_token, 4);
  EXPECT_EQ(m.num_experts, 32);
  EXPECT_EQ(m.layer_attention[0].kind, AttentionKind::Sliding);
  EXPECT_EQ(m.layer_attention[0].window, 128);
  EXPECT_EQ(m.layer_attention[1].kind, AttentionKind::Full);
  EXPECT_EQ(count_kind(m, AttentionKind::Sliding), 12);
  ParamCounts p = param_counts(m);
  EXPECT_NEAR(p.total / 20.91e9, 1.0, 0.02);  // gpt-oss model card: 20.91B total, 3.61B active
  EXPECT_NEAR(p.active / 3.61e9, 1.0, 0.02);
}

TEST(WorkloadModel, GemmaNestedTextConfigWithDefaults) {
  ModelConfig m = load_model(fixture("gemma-3-27b"));
  EXPECT_EQ(m.family, "gemma3");
  EXPECT_EQ(m.architecture, "Gemma3ForConditionalGeneration");
  EXPECT_EQ(m.hidden, 5376);
  EXPECT_EQ(m.vocab, 262208);         // Gemma3TextConfig default, absent from the file
  EXPECT_EQ(m.max_position, 131072);  // likewise
  EXPECT_TRUE(m.tie_embeddings);
  EXPECT_EQ(m.activation, Activation::Gelu);
  EXPECT_TRUE(m.sandwich_norm);
  EXPECT_TRUE(m.qk_norm);
  EXPECT_EQ(count_kind(m, AttentionKind::Sliding), 52);  // every 6th of 62 layers is global
  EXPECT_EQ(m.layer_attention[5].kind, AttentionKind::Full);
  EXPECT_EQ(m.layer_attention[0].window, 1024);
  EXPECT_NEAR(param_counts(m).total / 27.0e9, 1.0, 0.03);  // 27B text model (the vision tower is not counted)
}

TEST(WorkloadModel, Phi3SlidingWindow) {
  ModelConfig m = load_model(fixture("phi-3-mini-4k"));
  EXPECT_EQ(m.family, "phi3");
  EXPECT_EQ(count_kind(m, AttentionKind::Sliding), 32);
  EXPECT_EQ(m.layer_attention[0].window, 2047);
  EXPECT_NEAR(param_counts(m).total / 3.82e9, 1.0, 0.02);
}

TEST(WorkloadModel, MistralSlidingWindow) {
  ModelConfig m = load_model(fixture("mistral-7b-v0.1"));
  EXPECT_EQ(m.family, "mistral");
  EXPECT_EQ(count_kind(m, AttentionKind::Sliding), 32);
  EXPECT_EQ(m.layer_attention[31].window, 4096);
  EXPECT_NEAR(param_counts(m).total / 7.24e9, 1.0, 0.02);
}

TEST(WorkloadModel, Llama4ChunkedAttentionAndNoPE) {
  ModelConfig m = load_model(fixture("llama-4-scout"));
  EXPECT_EQ(m.family, "llama4");
  EXPECT_EQ(m.hidden, 5120);
  EXPECT_EQ(m.num_experts, 16);
  EXPECT_EQ(m.experts_per_token, 1);
  EXPECT_EQ(m.shared_intermediate, 8192);
  EXPECT_EQ(m.intermediate, 16384);  // intermediate_size_mlp
  EXPECT_EQ(count_moe(m), 48);       // interleave_moe_layer_step 1
  EXPECT_EQ(count_kind(m, AttentionKind::Chunked), 36);
  EXPECT_EQ(m.layer_attention[3].kind, AttentionKind::Full);
  EXPECT_FALSE(m.layer_attention[3].rope);
  EXPECT_FALSE(m.layer_attention[3].qk_norm);
  EXPECT_TRUE(m.layer_attention[0].rope);
  EXPECT_TRUE(m.layer_attention[0].qk_norm);
  EXPECT_EQ(m.layer_attention[0].window, 8192);
  ParamCounts p = param_counts(m);
  EXPECT_NEAR(p.total / 109e9, 1.0, 0.02);  // Meta: 109B total (incl. a small vision encoder)
  EXPECT_NEAR((p.active + p.embedding) / 17e9, 1.0, 0.03);  // 17B active, embedding counted
}

TEST(WorkloadModel, DeepSeekV2LiteWithoutQLora) {
  ModelConfig m = load_model(fixture("deepseek-v2-lite"));
  EXPECT_EQ(m.family, "deepseek_v2");
  EXPECT_EQ(m.q_lora_rank, 0);  // "q_lora_rank": null
  EXPECT_EQ(m.kv_lora_rank, 512);
  EXPECT_EQ(m.first_dense_layers, 1);
  EXPECT_EQ(m.shared_intermediate, 2 * 1408);
  ParamCounts p = param_counts(m);
  EXPECT_NEAR(p.total / 15.7e9, 1.0, 0.02);  // DeepSeek-V2-Lite: 15.7B total, 2.4B active
  EXPECT_NEAR(p.active / 2.4e9, 1.0, 0.03);
}

TEST(WorkloadModel, MoreFamilies) {
  ModelConfig q3 = load_model(fixture("qwen3-8b"));
  EXPECT_EQ(q3.family, "qwen3");
  EXPECT_TRUE(q3.qk_norm);
  EXPECT_NEAR(param_counts(q3).total / 8.2e9, 1.0, 0.02);

  ModelConfig g2 = load_model(fixture("gemma-2-9b"));
  EXPECT_EQ(g2.family, "gemma2");
  EXPECT_EQ(g2.layer_attention[0].kind, AttentionKind::Sliding);  // even layers slide
  EXPECT_EQ(g2.layer_attention[1].kind, AttentionKind::Full);
  EXPECT_EQ(g2.head_dim, 256);
  EXPECT_TRUE(g2.tie_embeddings);  // Gemma classes tie by default
  EXPECT_NEAR(param_counts(g2).total / 9.24e9, 1.0, 0.02);

  ModelConfig qm = load_model(fixture("qwen1.5-moe-a2.7b"));
  EXPECT_EQ(qm.family, "qwen2_moe");
  EXPECT_EQ(qm.num_shared_experts, 1);
  EXPECT_EQ(qm.shared_intermediate, 5632);
  EXPECT_NEAR(param_counts(qm).total / 14.3e9, 1.0, 0.02);
}

// Group-limited routing from the config: DeepSeek-V3's noaux_tc over 8 groups, 4 per token; Kimi K2 one
// group; DeepSeek-V2-Lite's greedy method ranks every expert whatever n_group says.
TEST(WorkloadModel, ExpertGroupsOfGroupLimitedRouting) {
  const ModelConfig v3 = load_model("deepseek-v3"), kimi = load_model("kimi-k2");
  EXPECT_EQ(v3.expert_groups, 8);
  EXPECT_EQ(v3.groups_per_token, 4);
  EXPECT_EQ(kimi.expert_groups, 1);
  EXPECT_EQ(kimi.groups_per_token, 1);
  EXPECT_EQ(load_model(fixture("deepseek-v2-lite")).expert_groups, 1);
  std::string text = R"({"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
    "hidden_size": 512, "intermediate_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 8,
    "vocab_size": 1000, "max_position_embeddings": 4096, "n_routed_experts": 16, "num_experts_per_tok": 2,
    "moe_intermediate_size": 128, "n_shared_experts": 1, "first_k_dense_replace": 1, "q_lora_rank": 64,
    "kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "n_group": 3, "topk_group": 1})";
  const std::string e = test::input_error_of([&] { parse_model_json(text, "/tmp/g/config.json"); });
  EXPECT_NE(e.find("n_group"), std::string::npos) << e;
  EXPECT_NE(e.find("does not divide the 16 routed experts"), std::string::npos) << e;
}

TEST(WorkloadModel, DerivativeFoundByArchitecture) {
  // A DeepSeek-V3 derivative that renames model_type (as Kimi K2 does) but keeps the modelling code.
  std::string text = R"({"architectures": ["DeepseekV3ForCausalLM"], "model_type": "my_v3_finetune",
    "hidden_size": 512, "intermediate_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 8,
    "vocab_size": 1000, "max_position_embeddings": 4096, "n_routed_experts": 16, "num_experts_per_tok": 2,
    "moe_intermediate_size": 128, "n_shared_experts": 1, "first_k_dense_replace": 1, "q_lora_rank": 64,
    "kv_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16})";
  ModelConfig m = parse_model_json(text, "/tmp/my-v3/config.json");
  EXPECT_EQ(m.family, "deepseek_v3");
  EXPECT_EQ(m.name, "my-v3");  // a config.json is named after its folder
  EXPECT_EQ(count_moe(m), 3);
}

TEST(WorkloadModel, ExplicitLayerTypesWin) {
  std::string text = R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 2, "vocab_size": 100,
    "max_position_embeddings": 1024, "sliding_window": 256,
    "layer_types": ["sliding_attention", "full_attention", "sliding_attention"]})";
  ModelConfig m = parse_model_json(text, "inline.json");
  EXPECT_EQ(m.layer_attention[0].kind, AttentionKind::Sliding);
  EXPECT_EQ(m.layer_attention[0].window, 256);
  EXPECT_EQ(m.layer_attention[1].kind, AttentionKind::Full);
}

TEST(WorkloadModel, LoadsFromAFolder) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(testing::TempDir()) / "xpusim-model-folder";
  fs::create_directories(dir);
  fs::copy_file(fixture("tiny-llama"), dir / "config.json", fs::copy_options::overwrite_existing);
  ModelConfig m = load_model(dir.string());
  EXPECT_EQ(m.name, "xpusim-model-folder");
  EXPECT_EQ(m.hidden, 64);
  fs::remove_all(dir);
}

TEST(WorkloadModelErrors, MalformedJsonNamesTheLine) {
  expect_input_error([] { load_model(fixture("malformed")); }, {"malformed.json", "line 5", "expected"});
}

TEST(WorkloadModelErrors, TruncatedJson) {
  expect_input_error([] { load_model(fixture("truncated")); }, {"truncated.json", "unexpected end of input"});
}

TEST(WorkloadModelErrors, MissingFieldIsNamed) {
  expect_input_error([] { load_model(fixture("missing-heads")); },
                     {"missing-heads.json: num_attention_heads: required field is missing", "positive integer"});
}

TEST(WorkloadModelErrors, WrongTypeIsNamed) {
  expect_input_error([] { load_model(fixture("bad-type")); }, {"bad-type.json: hidden_size: expected a positive integer", "sixty-four"});
}

TEST(WorkloadModelErrors, UnsupportedArchitectureListsSupported) {
  expect_input_error([] { load_model(fixture("unsupported-arch")); },
                     {"unsupported-arch.json: model_type: unsupported architecture", "bert", "BertForMaskedLM", "llama",
                      "deepseek_v3", "gemma3", "gpt_oss"});
}

TEST(WorkloadModelErrors, NestedFieldPathIncludesTextConfig) {
  std::string text = R"({"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
    "text_config": {"model_type": "gemma3_text", "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 8}})";
  expect_input_error([&] { parse_model_json(text, "g.json"); }, {"g.json: text_config.hidden_size: required field is missing"});
}

TEST(WorkloadModelErrors, HeadsNotDivisibleByKvHeads) {
  std::string text = R"({"model_type": "llama", "hidden_size": 96, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 3, "num_key_value_heads": 2, "vocab_size": 10, "max_position_embeddings": 16})";
  expect_input_error([&] { parse_model_json(text, "k.json"); }, {"k.json: num_key_value_heads", "divide"});
}

TEST(WorkloadModelErrors, MissingExpertField) {
  std::string text = R"({"model_type": "mixtral", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
    "num_attention_heads": 2, "vocab_size": 10, "max_position_embeddings": 16, "num_experts_per_tok": 2})";
  expect_input_error([&] { parse_model_json(text, "x.json"); }, {"x.json: num_local_experts: required field is missing"});
}

TEST(WorkloadModelErrors, UnknownNameSuggestsShipped) {
  expect_input_error([] { load_model("llama-3.1-8"); }, {"llama-3.1-8", "shipped models", "did you mean llama-3.1-8b"});
  expect_input_error([] { load_model("/nonexistent/config.json"); }, {"/nonexistent/config.json", "no such"});
}

TEST(WorkloadModelErrors, NotAnObject) {
  expect_input_error([] { parse_model_json("[1, 2]", "a.json"); }, {"a.json", "expected a JSON object"});
}

}  // namespace
}  // namespace xpu
