// Model-level validation rows (`xpusim validate --models`): serving throughput of one chip or of a
// tensor-parallel group on a system, and batch-1 request latencies on a system, each mapped onto a
// shipped model, chip or system preset and layout; a row that cannot be expressed says why.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <regex>

#include "sim/base/config.h"
#include "sim/base/strformat.h"
#include "sim/run/model_run.h"
#include "sim/run/registry.h"
#include "sim/run/system_run.h"
#include "sim/serve/serve.h"
#include "sim/validation/validate.h"

namespace xpu {

namespace {

// Same architecture and shapes as the shipped configs (Llama 3 and 3.3 70B share Llama 3.1 70B's; Llama 3 8B
// shares Llama 3.1 8B's hidden, heads, FFN and vocabulary and differs in rope_scaling and max_position_embeddings,
// 8192 against 131072, which set no work; the tables compile 4096-8192 positions). Mixtral-8x7B: the base and
// Instruct v0.1 checkpoints share one architecture (the perf-overview does not say which it ran).
std::string shipped_model(const std::string& workload, std::string& why) {
  static const std::vector<std::pair<std::regex, std::string>> names = {
      {std::regex("Llama-3(\\.1)?-8B", std::regex::icase), "llama-3.1-8b"},
      {std::regex("Llama-3(\\.[13])?-70B", std::regex::icase), "llama-3.1-70b"},
      {std::regex("Llama-3\\.1-405B", std::regex::icase), "llama-3.1-405b"},
      {std::regex("Llama-2-70B", std::regex::icase), "llama-2-70b"},
      {std::regex("Llama-2-13B", std::regex::icase), "llama-2-13b"},
      {std::regex("Llama-2-7B\\b", std::regex::icase), "llama-2-7b"},
      {std::regex("CodeLlama-13b", std::regex::icase), "codellama-13b"},
      {std::regex("Mistral-7B-Instruct-v0\\.2", std::regex::icase), "mistral-7b-instruct-v0.2"},
      {std::regex("Mixtral-8x7B", std::regex::icase), "mixtral-8x7b"},
      {std::regex("Qwen3-30B-A3B", std::regex::icase), "qwen3-30b-a3b"},
  };
  for (const auto& [re, name] : names)
    if (std::regex_search(workload, re)) return name;
  why = "model not shipped (workloads/models has no config for '" + workload.substr(0, workload.find(' ')) + "')";
  return "";
}

int leading_count(const std::string& hw) {  // "8x H100 ..." -> 8; "Trainium1 x16 (...)" -> 16
  std::smatch m;
  if (std::regex_search(hw, m, std::regex("^(\\d+)x ")) || std::regex_search(hw, m, std::regex(" x(\\d+)")))
    return std::stoi(m[1]);
  return 1;
}

// What `trtllm-bench throughput` runs when it is given neither --max_batch_size nor --max_num_tokens, as
// the TensorRT-LLM perf-overview tables were measured (tensorrt_llm/bench/build/tuning.py
// calc_engine_setting / finetune_setting, bench/benchmark/utils/general.py get_settings): the requests
// of the dataset's mean length whose KV cache fits what the weights leave on the group's GPUs, at the
// default --kv_cache_free_gpu_mem_fraction 0.90 (KV heads counted at least once per rank, the weights
// and the KV cache at their bytes per element, memory in GiB), become max_batch_size rounded up (64 at
// least; steps of 32 below 256, 128 below 1024, else 256; at most 4096); the tokens per iteration that
// those requests need in proportion of prompt to answer become max_num_tokens (at most 32768, rounded
// up in steps of 256 below 4096, 512 below 8192, else 1024; at least 2048, and, chunked prefill being
// off, at least the prompt plus the batch). Not fitted: the harness's own rule, computed here.
// `engine_build`: the rows that ran a TensorRT engine (perf-overview v0.14: `trtllm-bench build --quantization
// FP8 --dataset`) take the limits the engine was built with, which `trtllm-bench build` computes by the same
// rule at calc_engine_setting's own default kv_cache_gpu_mem_fraction, 0.95 (get_benchmark_engine_settings passes
// none), and with the engine's size estimated as param_count / 1000**3 * bytes per element beside the device
// memory in GiB (tensorrt_llm/bench/build/tuning.py, the first version: "engine_size = param_count *
// byte_per_elem", param_count in units of 1000**3). The FP8 engines are always sized so: build.py's
// get_benchmark_engine_settings calls calc_engine_setting for FP8 and reads the tuned table
// tensorrt_llm/bench/build/benchmark_config.yml (NVIDIA/TensorRT-LLM@32ed92e: Mixtral-8x7B TP2 2048/3072, TP4
// 8192/8192, no TP8) only for other quantizations; the v0.14 table's Mixtral TP8 rows, which that file could not
// have built, agree.
constexpr double kTrtllmBenchRuntimeKvFraction = 0.90;  // `trtllm-bench throughput` default (PyTorch backend rows)
constexpr double kTrtllmBenchBuildKvFraction = 0.95;    // calc_engine_setting default (`trtllm-bench build`)
SchedulerLimits trtllm_bench_limits(const ModelConfig& m, const Scenario& s, double device_bytes, std::int64_t isl, std::int64_t osl,
                                    bool engine_build) {
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const double kv_token = 2.0 * static_cast<double>(m.layers) * std::max<double>(s.tp, static_cast<double>(m.kv_heads)) *
                          static_cast<double>(m.head_dim) * bytes_per_element(s.kvdtype) / gib;
  const double weights = param_counts(m).total * bytes_per_element(s.wdtype) / (engine_build ? 1e9 : gib);
  const double cache = (device_bytes / gib * s.tp - weights) * (engine_build ? kTrtllmBenchBuildKvFraction : kTrtllmBenchRuntimeKvFraction);
  const double requests = cache / (kv_token * static_cast<double>(isl + osl));
  const double bs = std::min(requests, 4096.0);
  const double tokens = std::min(bs * (1.0 + static_cast<double>(isl) / static_cast<double>(osl)), 32768.0);
  auto up = [](double v, double step) { return static_cast<std::int64_t>(step * std::ceil(v / step)); };
  SchedulerLimits l;
  l.max_seqs = bs < 256 ? std::max<std::int64_t>(64, up(bs, 32)) : bs < 1024 ? up(bs, 128) : up(bs, 256);
  l.token_budget = tokens < 4096 ? std::max<std::int64_t>(2048, up(tokens, 256)) : tokens < 8192 ? up(tokens, 512) : up(tokens, 1024);
  l.token_budget = std::max(l.token_budget, isl + l.max_seqs);
  return l;
}

}  // namespace

// Requests per run of the perf-overview tables (its "num_requests" per ISL/OSL pair). The tables also
// publish ISL/OSL pairs that the num_requests table does not list (1024/2048 beside 1000/2000): such a
// pair takes the listed entry whose input and output lengths both lie within
// kTrtllmBenchNearestLengths of its own (assumed: a dataset is sized by the length class of its
// requests, "for longer input/output sequence lengths, requests remain in the system longer and
// therefore require less requests to achieve steady state", perf-overview.md; 1024/2048 is 2.4% from
// 1000/2000 on both lengths and from no other entry within 5%). 0 when none is that near (the
// engine's default). The dataset's size sets how much of an offline run is its tail, where the last
// requests decode with fewer and fewer beside them, so it moves the run's total output throughput.
constexpr double kTrtllmBenchNearestLengths = 0.05;
std::int64_t trtllm_bench_requests(std::int64_t isl, std::int64_t osl) {
  static const std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> table = {
      {{128, 128}, 30000},  {{128, 2048}, 3000},  {{128, 4096}, 1500}, {{1000, 2000}, 1500}, {{2048, 128}, 3000},
      {{2048, 2048}, 1500}, {{5000, 500}, 1500},  {{1000, 1000}, 3000}, {{500, 2000}, 3000}, {{20000, 2000}, 1000}};
  const auto it = table.find({isl, osl});
  if (it != table.end()) return it->second;
  auto off = [](std::int64_t a, std::int64_t b) { return std::fabs(static_cast<double>(a - b)) / static_cast<double>(b); };
  std::int64_t best = 0;
  double nearest = kTrtllmBenchNearestLengths;
  for (const auto& [lengths, requests] : table) {
    const double d = std::max(off(isl, lengths.first), off(osl, lengths.second));
    if (d <= nearest) {
      nearest = d;
      best = requests;
    }
  }
  return best;
}

namespace {

// The weights' storage and the activations' and KV cache's types of a serving row's `dtype`: "fp8" (the
// ModelOpt FP8 checkpoints: all three fp8), "fp4" (the ModelOpt NVFP4 checkpoints, nvidia/*-FP4: weights and
// activations fp4 and, assumed (the perf-overview states only "FP4 Models"), the KV cache fp8, as ModelOpt's
// NVFP4 recipe stores it by default), else bf16.
void serving_dtypes(const std::string& dtype, Scenario& s) {
  if (dtype.rfind("fp4", 0) == 0) {
    s.wdtype = s.adtype = DType::fp4;
    s.kvdtype = DType::fp8;
    return;
  }
  s.wdtype = s.adtype = s.kvdtype = dtype.rfind("fp8", 0) == 0 ? DType::fp8 : DType::bf16;
}

}  // namespace

std::pair<std::int64_t, std::int64_t> trtllm_bench_batch_limits(const std::string& model, const std::string& chip, int tp,
                                                                const std::string& dtype, std::int64_t isl, std::int64_t osl,
                                                                bool engine_build) {
  Scenario s;
  serving_dtypes(dtype, s);
  s.tp = tp;
  const SchedulerLimits l = trtllm_bench_limits(load_model(model), s, load_chip(chip)->dram_capacity(), isl, osl, engine_build);
  return {l.max_seqs, l.token_budget};
}

namespace {

// The best operating point of one serve() run of a row on the scenario's chips of `chip_name` (the chip's smallest
// shipped system of that many: tp x dp), or nullopt with `why` set.
std::optional<ServePoint> best_serve_point(const std::string& chip_name, const ChipModel& chip, const std::string& model,
                                           const Scenario& s, ServeOptions o, std::string& why) {
  if (s.devices() > 1) {
    SystemChoice c;
    c.devices = s.devices();
    o.system = SystemContext{*resolve_system(chip_name, c)};
  }
  ServeResult r = serve(chip, load_model(model), s, o);
  if (r.best < 0) {
    why = "no operating point";
    return std::nullopt;
  }
  return r.curve[static_cast<size_t>(r.best)];
}

// trtllm-bench / MLPerf-style offline throughput of one tensor-parallel instance on NVIDIA GPUs (H100, H200,
// B200: the chip's smallest shipped system of that many GPUs, hgx-h100x8, hgx-h200x8, dgx-b200x8).
bool serving_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  const std::string chip_name = chip_for(row.hardware);
  if (row.metric != "throughput" || (chip_name != "h100-sxm" && chip_name != "h200" && chip_name != "b200")) {
    why = "serving throughput rows are expressed for NVIDIA H100, H200 and B200 systems (TensorRT-LLM's scheduler and host)";
    return false;
  }
  const std::string model = shipped_model(row.workload, why);
  if (model.empty()) return false;
  auto f = parse_shape(row.shape);
  const int n = leading_count(row.hardware), tp = f.count("TP") ? static_cast<int>(f["TP"]) : 1;
  if (!f.count("ISL") || !f.count("OSL")) {
    why = "no fixed input/output lengths in '" + row.shape + "'";
    return false;
  }
  if (tp != n) {
    why = "TP" + std::to_string(tp) + " on " + std::to_string(n) + " GPUs (replicas are not expressed)";
    return false;
  }
  auto chip = load_chip(chip_name);
  Scenario s;
  serving_dtypes(row.dtype, s);
  s.tp = tp;
  ServeOptions o;
  o.input = f["ISL"];
  o.output = f["OSL"];
  if (row.workload.find("trtllm") != std::string::npos) o.scheduler = "trtllm";
  if (row.workload.find("trtllm-bench") != std::string::npos) {
    // The perf-overview tables ran `trtllm-bench ... --backend pytorch`: that backend's kernels.
    s.fusion = FusionPolicy::trtllm_pytorch();
    const bool engine = row.workload.find("(TensorRT engine)") != std::string::npos;
    o.limits = trtllm_bench_limits(load_model(model), s, chip->dram_capacity(), o.input, o.output, engine);
    o.requests = trtllm_bench_requests(o.input, o.output);
    // Rows "(TensorRT engine)": the tables before v0.19 built a TensorRT engine (`trtllm-bench build`) and ran it
    // with `trtllm-bench throughput --engine_dir` ("Starting with v0.19, testing was performed using the PyTorch
    // backend - this workflow does not require an engine to be built", perf-overview.md of v0.20), whose
    // requests the C++ executor schedules. The trtllm scheduler's framework work (2.88 ms + 27.5 us per request,
    // scheduler_trtllm.cpp) is the PyTorch backend's Python loop over the requests; assumed: the C++ executor's
    // own per-iteration work is negligible beside the step (no public figure), so it is not modelled (0). The
    // CUDA-graph padding and the per-kernel dispatch of eager iterations stay the PyTorch backend's (assumed).
    // Their MoE layers run TensorRT-LLM's MixtureOfExperts plugin (FusionPolicy::moe_trt_plugin).
    if (engine) {
      o.limits.host_fixed_us = o.limits.host_us_per_request = 0;
      s.fusion->moe_trt_plugin = true;
    }
  }
  const std::optional<ServePoint> best = best_serve_point(chip_name, *chip, model, s, o, why);
  if (!best) return false;
  const ServePoint& b = *best;
  p.chip = tp > 1 ? (chip_name == "h100-sxm" ? std::string("h100") : chip_name) + "x" + std::to_string(tp) : chip_name;
  p.predicted = b.throughput_tok_s;
  p.note = o.scheduler + " offline, tp" + std::to_string(tp) + ", " + std::to_string(b.requests) + " requests, up to " +
           std::to_string(b.batch) + " running, GPU waiting for the host (dispatch, framework work) " +
           std::to_string(static_cast<int>(std::lround(100 * b.host_wait_share))) + "% of the time, host busy " +
           std::to_string(static_cast<int>(std::lround(100 * b.host_busy_share))) + "%, host-bound iterations " +
           std::to_string(static_cast<int>(std::lround(100 * b.host_bound_share))) + "%";
  return true;
}

// MLPerf Inference Llama-2-70B Offline (rows "Llama-2-70B MLPerf vX Offline ..."): loadgen hands the system every
// sample at once (one query) and counts the tokens generated over the time to answer them all (mlperf_log_summary's
// "Tokens per second"), so the row is a max-throughput run of the dataset's requests within the submission's own
// limits: its engines (tensor-parallel groups side by side, each its share of the samples), gpu_batch_size as the
// running requests and max_num_tokens as the tokens per iteration. Lengths: workloads/datasets/
// mlperf_llama2_openorca.csv, a stratified sample of the dataset's 24,576 samples (its header gives the sources
// and how its means compare with the whole dataset's), each answer its reference length scaled to the mean that
// Llama-2-70B generates (kMlperfTokensPerSample), capped at kMlperfMaxNewTokens. The scheduler is TensorRT-LLM's
// (in-flight batching, a request admitted with its KV blocks); its host figures are the PyTorch backend's
// (assumed for NVIDIA's harness, which runs TensorRT engines from C++: the host's work overlaps the steps and is
// busy 18-55% of these runs and bounds none of their iterations).
struct MlperfSubmission {
  const char* hardware;   // the row's hardware column
  const char* round;      // the round in its workload ("v4.1")
  int tp, engines;        // tensor_parallelism; the engines side by side on the system's GPUs
  std::int64_t gpu_batch_size, max_num_tokens;  // max_num_tokens 0: not set (TensorRT-LLM's default, 8192)
  const char* precision;  // serving_dtypes(): "fp8" (weights, activations, KV cache) or "fp4" (KV cache fp8)
};
// v4.1, NVIDIA (mlcommons/inference_results_v4.1@a2f5d66d closed/NVIDIA/configs/llama2-70b/Offline/__init__.py):
// H100_SXM_80GB_TP2x4 tensor_parallelism 2 on 8 GPUs, gpu_batch_size 896, use_fp8; H200_SXM_141GBx8
// tensor_parallelism 1, gpu_batch_size 806, use_fp8; neither sets max_num_tokens (the round's parent config is not
// in the results' index: TensorRT-LLM's default, assumed), and the KV cache is taken fp8 as the next round's Hopper
// config states it (kv_cache_dtype fp8; assumed for v4.1). v5.0, submitter Google with NVIDIA's code
// (ntuhpc/mlperf_inference_results_v5.0@cf354115 closed/Google/configs/llama2-70b/Offline/__init__.py
// B200_SXM_180GBx8): precision fp4, kv_cache_dtype fp8, tensor_parallelism 1, gpu_batch_size 2048,
// max_num_tokens 3584. v4.1's 1x B200 was a preview system whose config its round does not publish: assumed
// NVIDIA's B200 config of the next round (B200_SXM_180GBx1 of the same file, which the x8 one inherits).
constexpr MlperfSubmission kMlperfSubmissions[] = {
    {"8x H100 SXM 80GB", "v4.1", 2, 4, 896, 0, "fp8"},
    {"8x H200 SXM 141GB", "v4.1", 1, 8, 806, 0, "fp8"},
    {"1x B200 SXM 180GB", "v4.1", 1, 1, 2048, 3584, "fp4"},
    {"8x B200 SXM 180GB", "v5.0", 1, 8, 2048, 3584, "fp4"},
};
// Tokens Llama-2-70B generates per sample: 294.45 on average (MLCommons' fp16 reference run, mlcommons/inference
// language/llama2-70b/README.md "Accuracy Target", which the closed division holds within 90-110%), at most 1024
// (SUT.py gen_kwargs max_new_tokens).
constexpr double kMlperfTokensPerSample = 294.45;
constexpr std::int64_t kMlperfMaxNewTokens = 1024;
// The samples each engine is given: kMlperfBatchesPerEngine x its gpu_batch_size, the dataset's rows in turn. A run
// issues offline_expected_qps x min_duration x 1.1 samples (loadgen; 100,320 for the 1x B200 at 38/s over 2400 s,
// its mlperf_log_summary), a few hundred thousand on 8 GPUs, against which the tail (the last requests decoding
// beside fewer and fewer others) is negligible; simulating that many costs minutes a row. Assumed: 32 batches per
// engine leave the tail within about half a per cent of the throughput (16 -> 32 raised the four rows by 0.5-1.0%,
// 1.5 -> 16 by 4-12%: the dataset once over 8 engines of 2048 is mostly tail).
constexpr std::int64_t kMlperfBatchesPerEngine = 32;

std::string mlperf_dataset_path() { return source_dir() + "/workloads/datasets/mlperf_llama2_openorca.csv"; }

bool mlperf_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  std::smatch m;
  const MlperfSubmission* sub = nullptr;
  if (std::regex_search(row.workload, m, std::regex("MLPerf (v[0-9.]+) Offline")))
    for (const auto& c : kMlperfSubmissions)
      if (row.hardware == c.hardware && m[1] == c.round) sub = &c;
  if (!sub) {
    why = "no MLPerf submission config for '" + row.hardware + "' in '" + row.workload + "' (Offline rows only)";
    return false;
  }
  const std::string model = shipped_model(row.workload, why), chip_name = chip_for(row.hardware);
  if (model.empty()) return false;
  static const std::shared_ptr<const LengthRows> lengths = std::make_shared<const LengthRows>(
      with_output_mean(read_lengths_csv(mlperf_dataset_path()), kMlperfTokensPerSample, kMlperfMaxNewTokens));
  auto chip = load_chip(chip_name);
  Scenario s;
  serving_dtypes(sub->precision, s);
  s.tp = sub->tp;
  s.dp = sub->engines;
  ServeOptions o;
  o.scheduler = "trtllm";
  o.lengths_csv = mlperf_dataset_path();
  o.lengths_rows = lengths;
  const auto [mean_in, mean_out] = mean_lengths(*lengths);
  o.input = std::llround(mean_in);
  o.output = std::llround(mean_out);
  o.limits.max_seqs = sub->gpu_batch_size;
  o.limits.token_budget = sub->max_num_tokens;
  o.requests = kMlperfBatchesPerEngine * sub->gpu_batch_size * sub->engines;
  const std::optional<ServePoint> best = best_serve_point(chip_name, *chip, model, s, o, why);
  if (!best) return false;
  p.chip = (chip_name == "h100-sxm" ? std::string("h100") : chip_name) + "x" + std::to_string(s.devices());
  p.predicted = best->throughput_tok_s;
  p.note = strformat("MLPerf offline: %d engines of tp%d, %s, gpu_batch_size %lld, %lld samples of OpenOrca lengths "
                     "(mean %lld in / %lld out), up to %lld running, host busy %.0f%%, host-bound iterations %.0f%%",
                     sub->engines, sub->tp, sub->precision, static_cast<long long>(sub->gpu_batch_size),
                     static_cast<long long>(best->requests), static_cast<long long>(o.input),
                     static_cast<long long>(o.output), static_cast<long long>(best->batch), 100 * best->host_busy_share,
                     100 * best->host_bound_share);
  return true;
}

// sglang-jax's cookbook speed tables (sgl-project/sglang-jax docs/cookbook/autoregressive/*): one server of TP
// chips of a TPU slice ("TPU v6e x4"), sgl_jax.bench_serving's closed loop of `concurrency` clients sending
// `prompts` random requests. Its random dataset draws each prompt uniformly from [max(int(len x ratio), 1), len]
// and each output from [int(len x ratio), len] (python/sgl_jax/bench_serving.py sample_random_requests); the
// tables' token totals fit the default ratio 0 (26497 input tokens over 100 prompts of at most 512: mean 265
// against 256.5; at ratio 1 it would be 51200), so both lengths are uniform from 1 (an output of 0 tokens is
// drawn as 1). The launch's --max-running-requests, --chunked-prefill-size and --page-size (the row's "maxrun",
// "chunk" and "page") bound the scheduler, which is SGLang's policy as sglang-jax runs it ("sglang-jax": each decode batch and each
// prefill's tokens padded to the sizes its XLA programs were compiled for); the host's work per iteration is
// the sglang scheduler's (an assumption: sglang-jax's own per-step figures, sgl-project/sglang-jax issue #293
// and pull requests #1484/#1652, are for other builds and disagree). Its TPOT is per request, (latency - TTFT) / (output - 1), the median over requests,
// as serve's.
// A TPU slice's chip preset and chip count ("TPU v6e x4" -> tpu-v6e, 4); false with `why` otherwise.
bool tpu_slice(const std::string& hardware, std::string& chip_name, int& chips, std::string& why) {
  std::smatch hw;
  if (!std::regex_search(hardware, hw, std::regex("^TPU (v[0-9a-z]+) x([0-9]+)$"))) {
    why = "no TPU slice in '" + hardware + "' (expected 'TPU v6e xN')";
    return false;
  }
  chip_name = "tpu-" + hw[1].str();
  chips = std::stoi(hw[2]);
  return true;
}

// bf16 weights, activations and KV cache, tensor-parallel over `tp` chips (the TPU serving rows).
Scenario bf16_over(int tp) {
  Scenario s;
  s.wdtype = s.adtype = s.kvdtype = DType::bf16;
  s.tp = tp;
  return s;
}

bool sglang_jax_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  std::string chip_name;
  int chips = 0;
  if (!tpu_slice(row.hardware, chip_name, chips, why)) return false;
  const std::string model = shipped_model(row.workload, why);
  if (model.empty()) return false;
  auto f = parse_shape(row.shape);
  const int tp = f.count("TP") ? static_cast<int>(f["TP"]) : 1;
  if (tp != chips || !f.count("concurrency") || !f.count("randin") || !f.count("randout")) {
    why = "sglang-jax row '" + row.shape + "': expected TP equal to the slice's chips, concurrency, randin and randout";
    return false;
  }
  auto chip = load_chip(chip_name);
  const Scenario s = bf16_over(tp);
  ServeOptions o;
  o.scheduler = "sglang-jax";
  o.input_dist = LengthDist{LengthDist::Kind::Uniform, 1, static_cast<double>(f["randin"])};
  o.output_dist = LengthDist{LengthDist::Kind::Uniform, 1, static_cast<double>(f["randout"])};
  o.concurrency = {f["concurrency"]};
  o.concurrency_given = true;
  o.requests = f.count("prompts") ? f["prompts"] : 0;
  if (f.count("maxrun")) o.limits.max_seqs = f["maxrun"];
  if (f.count("chunk")) o.limits.token_budget = f["chunk"];
  if (f.count("page")) o.limits.page_tokens = f["page"];
  static std::map<std::string, ServePoint> runs;  // a row's throughput and TPOT come from one run
  const std::string key = chip_name + " " + model + " " + row.shape;
  auto it = runs.find(key);
  if (it == runs.end()) {
    const std::optional<ServePoint> best = best_serve_point(chip_name, *chip, model, s, o, why);
    if (!best) return false;
    it = runs.emplace(key, *best).first;
  }
  const ServePoint& b = it->second;
  if (row.metric == "throughput") p.predicted = b.throughput_tok_s;
  else if (row.metric == "TPOT_median" && row.unit == "ms") p.predicted = b.tpot_s * 1e3;
  else {
    why = "metric '" + row.metric + "' of an sglang-jax row is not predicted (throughput, TPOT_median in ms)";
    return false;
  }
  p.chip = chip_name + "x" + std::to_string(tp);
  p.note = strformat("sglang-jax scheduler, closed loop of %lld, %lld requests, lengths uniform:1:%lld / uniform:1:%lld, "
                     "up to %lld running, host busy %.0f%%",
                     static_cast<long long>(f["concurrency"]), static_cast<long long>(b.requests),
                     static_cast<long long>(f["randin"]), static_cast<long long>(f["randout"]),
                     static_cast<long long>(b.batch), 100 * b.host_busy_share);
  return true;
}

// JetStream-PyTorch's benchmark table (AI-Hypercomputer/jetstream-pytorch benchmarks/summary.md): one server on
// a TPU slice ("TPU v5e x8"), the model sharded over all its chips (jetstream-pytorch shards heads and hidden
// over the devices: tensor parallelism), batch_size decode slots of max_cache_length tokens and prompts padded
// to at most max_input_length ("batch128 cache2048 maxin1024 maxout1024"), run by JetStream's orchestrator
// ("jetstream" scheduler). JetStream's benchmark_serving.py sends --num-prompts 2000 ShareGPT_V3 first turns at
// request rate inf (all at once) with max_tokens = --max-output-length (1024), each answer ending at the model's
// stop token, and reports generated tokens over the run's duration (google/JetStream@1c1814f6 benchmarks/
// benchmark_serving.py: load_sharegpt_dataset keeps prompts of 4..1024 tokens with a reference answer of at
// least 4 and prompt + answer <= 2048; the summary's command line). The sample is not shipped; its mean lengths in Llama 3 tokens are JetStream's own
// report of the same script on ShareGPT with Llama 3 (AI-Hypercomputer/JetStream pull request #83, 2024-05-17:
// 1780 requests, 214914 input and 415416 generated tokens: 120.7 in, 233.4 out a request). Assumed: both lengths
// exponential about those means (ShareGPT's first turns are long-tailed; no distribution was published), drawn
// once (seed 1) and held to the benchmark's bounds: prompts to [4, maxin] (the sampling filter), answers to
// [1, maxout] (max_tokens) with their mean kept at 233.4 (with_output_mean: the report counts answers already so
// bounded); the BOS token JetStream adds is left out, as the report counts prompts without it.
constexpr double kJetStreamLlama3InputMean = 214914.0 / 1780, kJetStreamLlama3OutputMean = 415416.0 / 1780;
constexpr std::int64_t kJetStreamPrompts = 2000;

bool jetstream_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  std::string chip_name;
  int chips = 0;
  if (!tpu_slice(row.hardware, chip_name, chips, why)) return false;
  const std::string model = shipped_model(row.workload, why);
  if (model.empty()) return false;
  if (model != "llama-3.1-8b") {
    why = "JetStream ShareGPT lengths are sourced for Llama 3's tokenizer and answers only (AI-Hypercomputer/JetStream "
          "pull request #83); '" + row.workload + "' would need its own";
    return false;
  }
  if (row.dtype != "bf16") {
    why = "jetstream-pytorch's int8 weights and KV cache (quantize_weights, quantize_kv_cache) are not expressed";
    return false;
  }
  auto f = parse_shape(row.shape);
  if (!f.count("batch") || !f.count("cache") || !f.count("maxin") || !f.count("maxout")) {
    why = "JetStream row '" + row.shape + "': expected batch, cache, maxin and maxout";
    return false;
  }
  ServeOptions o;
  o.scheduler = "jetstream";
  o.limits.max_seqs = f["batch"];
  o.limits.cache_tokens = f["cache"];
  o.limits.token_budget = f["maxin"];
  RequestSpec draws;
  draws.input = LengthDist{LengthDist::Kind::Exponential, kJetStreamLlama3InputMean, 0};
  draws.output = LengthDist{LengthDist::Kind::Exponential, kJetStreamLlama3OutputMean, 0};
  LengthRows rows;
  for (const RequestDraw& d : draw_requests(draws, kJetStreamPrompts, load_model(model)))
    rows.emplace_back(std::clamp<std::int64_t>(d.input, 4, f["maxin"]), d.output);
  o.lengths_rows = std::make_shared<const LengthRows>(with_output_mean(rows, kJetStreamLlama3OutputMean, f["maxout"]));
  o.lengths_csv = strformat("exp:%.1f held to [4, %lld] / exp:%.1f held to [1, %lld]", kJetStreamLlama3InputMean,
                            static_cast<long long>(f["maxin"]), kJetStreamLlama3OutputMean, static_cast<long long>(f["maxout"]));
  const auto [mean_in, mean_out] = mean_lengths(*o.lengths_rows);
  o.input = std::llround(mean_in);
  o.output = std::llround(mean_out);
  o.requests = kJetStreamPrompts;
  const std::optional<ServePoint> best = best_serve_point(chip_name, *load_chip(chip_name), model, bf16_over(chips), o, why);
  if (!best) return false;
  p.chip = chip_name + "x" + std::to_string(chips);
  p.predicted = best->throughput_tok_s;
  p.note = strformat("jetstream scheduler, %lld slots of %lld cached tokens, %lld prompts at once, lengths %s (mean %.1f in / "
                     "%.1f out; JetStream PR #83's Llama 3 ShareGPT means), up to %lld running",
                     static_cast<long long>(f["batch"]), static_cast<long long>(f["cache"]), static_cast<long long>(best->requests),
                     o.lengths_csv.c_str(), mean_in, mean_out, static_cast<long long>(best->batch));
  return true;
}

// The Neuron instance of a latency row: its system preset and physical NeuronCores per chip (trn1 and inf2: 2,
// aws-neuron-sdk trn1-arch/inf2-arch; trn2: 8, about-neuron/arch/neuron-hardware/trainium2.rst).
struct NeuronInstance {
  std::string system;
  int cores_per_chip = 0;
};
std::optional<NeuronInstance> neuron_instance(const std::string& hardware) {
  if (hardware.find("trn1.32xlarge") != std::string::npos) return NeuronInstance{"trn1-32xl", 2};
  if (hardware.find("inf2.48xlarge") != std::string::npos) return NeuronInstance{"inf2-48xl", 2};
  if (hardware.find("trn2.48xlarge") != std::string::npos) return NeuronInstance{"trn2-48xl", 8};
  return std::nullopt;
}

// A bucket list written in a row's shape ("cte2048/4096/10240/12288"): the sizes after `key`, empty if absent.
std::vector<std::int64_t> shape_list(const std::string& shape, const std::string& key) {
  std::smatch m;
  std::vector<std::int64_t> out;
  if (!std::regex_search(shape, m, std::regex("\\b" + key + "([0-9]+(/[0-9]+)*)"))) return out;
  const std::string list = m[1];
  static const std::regex number("[0-9]+");
  for (auto it = std::sregex_iterator(list.begin(), list.end(), number); it != std::sregex_iterator(); ++it)
    out.push_back(std::stoll(it->str()));
  return out;
}

// The stack's part of a latency row's scenario: transformers-neuronx (the trn1/inf2 tables) or NxD Inference
// (the trn2 tutorials' tables, "NxD Inference" in the workload); returns the chip overrides it implies.
std::vector<std::string> neuron_stack(const ValidationRow& row, std::map<std::string, std::int64_t>& f, Scenario& s,
                                      std::int64_t& n_positions, std::string& note) {
  const bool nxdi = row.workload.find("NxD Inference") != std::string::npos;
  s.attention_impl = kTnxImpl;  // both stacks' decode attention: the token graph over the bucket (below)
  if (nxdi) {
    // NxD Inference with --enable-bucketing: context buckets up to --max-context-length ("ctx") and token buckets
    // up to --seq-len ("seq"), each list generate_buckets(128, max) (modules/autobucketing.py), unless the row
    // lists them ("cte..." / "tkg...", --context-encoding-buckets / --token-generation-buckets).
    n_positions = f.count("seq") ? f["seq"] : s.input_len + s.output_len;
    const std::int64_t ctx = f.count("ctx") ? f["ctx"] : n_positions;
    s.buckets.context = shape_list(row.shape, "cte");
    s.buckets.token = shape_list(row.shape, "tkg");
    if (s.buckets.context.empty()) s.buckets.context = nxdi_default_buckets(ctx);
    if (s.buckets.token.empty()) s.buckets.token = nxdi_default_buckets(n_positions);
    // KV heads as NxD Inference shards them for its TP degree (modules/attention/gqa.py: replicated to the TP
    // degree when it is a multiple of them).
    s.kv_to_tp_degree = true;
    note = ", NxD Inference: flash-attention kernel for every prompt (--attn-kernel-enabled), token graph over the bucket";
    // --attn-kernel-enabled: NxD Inference's context encoding runs the NKI flash-attention kernel at every prompt
    // length (attention_base.py get_flash_attention_strategy), which the lowering takes from 1 token on; its token
    // generation without the TKG kernel flag attends as an unfused graph over the bucket (compute_for_token_gen:
    // Q K_prior^T, where(mask), cast f32, manual_softmax, cast back, P V), as transformers-neuronx's token graph.
    return {"lowering.tnx_flash_min_tokens=1"};
  }
  // transformers-neuronx compiles the n_positions it is given (the table's sequence length): its default buckets,
  // the prompt padded to a context bucket, each decode step run over its token bucket of KV positions.
  n_positions = f.count("seq") ? f["seq"] : s.input_len + s.output_len;
  s.buckets = tnx_default_buckets(n_positions);  // the model compiled for the largest (Scenario::run_model_of)
  // The table's release ("Neuron2.18.0"): transformers-neuronx added its flash-attention kernel for context
  // encoding in 0.11.351.0 (Neuron 2.19, 2024-07-03: "compiler optimized flash attention kernel to support
  // context lengths of 16k/32k for Llama models"; aws-neuron/aws-neuron-sdk release-notes/torch/
  // transformers-neuronx/index.rst@0521004c). An earlier release runs every prompt's attention as the HLO graph
  // with the scores materialized (the preset's lowering.tnx_flash_min_tokens = 0, as `--set` would give it).
  std::smatch release;
  const bool before_flash = std::regex_search(row.shape, release, std::regex("Neuron([0-9]+)\\.([0-9]+)")) &&
                            std::make_pair(std::stoi(release[1]), std::stoi(release[2])) < std::make_pair(2, 19);
  note = std::string(", transformers-neuronx attention") + (before_flash ? " (HLO graph at every length: no flash kernel before Neuron 2.19)" : "");
  return before_flash ? std::vector<std::string>{"lowering.tnx_flash_min_tokens=0"} : std::vector<std::string>{};
}

// Neuron's batch-1 latency tables: TTFT and TPOT of one request on a trn1/inf2/trn2 instance.
bool latency_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  const auto inst = neuron_instance(row.hardware);
  if (!inst) {
    why = "no system preset for '" + row.hardware + "'";
    return false;
  }
  const std::string model = shipped_model(row.workload, why);
  if (model.empty()) return false;
  auto f = parse_shape(row.shape);
  ModelConfig m = load_model(model);
  // Neuron's TP counts (logical) NeuronCores: LNC physical cores each ("LNC2" on trn2, 1 on trn1/inf2). Our chip
  // preset is the whole chip, and the heads are stored as the software stores them for that many ranks
  // (Scenario::pad_heads).
  const int ranks = static_cast<int>(f["TP"]), lnc = f.count("LNC") ? static_cast<int>(f["LNC"]) : 1;
  const int tp = ranks * lnc / inst->cores_per_chip;
  if (tp < 1 || (ranks * lnc) % inst->cores_per_chip != 0) {
    why = "TP" + std::to_string(ranks) + " x LNC" + std::to_string(lnc) + " is not a whole number of " +
          std::to_string(inst->cores_per_chip) + "-core chips";
    return false;
  }
  SystemContext sys{load_system(inst->system)};
  Scenario s;
  s.phase = Phase::Request;
  s.batch = 1;
  s.input_len = f.count("in") ? f["in"] : 2048;
  s.output_len = f.count("out") ? f["out"] : 2048;
  std::int64_t n_positions = 0;
  std::string stack_note;
  const std::vector<std::string> overrides = neuron_stack(row, f, s, n_positions, stack_note);
  auto chip = load_chip(sys.spec.chip, overrides);
  // The software compiles the n_positions it is given (the table's sequence length), also beyond config.json's
  // max_position_embeddings (Llama-2-7b at 8192 positions on trn1 and inf2): RoPE has no limit.
  m.max_position = std::max(m.max_position, std::max(s.input_len + s.output_len, n_positions));
  s.tp = tp;
  s.pad_heads = ranks;
  s.wdtype = s.adtype = s.kvdtype = DType::bf16;
  // transformers-neuronx's weight-only int8 (QuantizationConfig quant_dtype s8, dequant_dtype bf16, per output
  // channel): the weights stay int8 in HBM and each GEMM converts them to bf16 on chip (the Trainium GEMM
  // lowering's converted-weights path, kernels/gemm/trainium.cpp); activations and KV cache bf16.
  const bool int8_weights = row.dtype.rfind("int8", 0) == 0;
  if (int8_weights) s.wdtype = DType::int8;
  // A table row gives TTFT and TPOT of the same request: simulate it once for both (for the process: one entry
  // per distinct request of the tables, a few dozen; presets are not edited while validate runs).
  static std::map<std::string, ModelRunResult> runs;
  std::string key = strformat("%s %s in%lld out%lld seq%lld tp%d lnc%d %s", sys.spec.name.c_str(), model.c_str(),
                              static_cast<long long>(s.input_len), static_cast<long long>(s.output_len),
                              static_cast<long long>(n_positions), ranks, lnc, name(s.wdtype));
  for (const auto& o : overrides) key += " " + o;
  for (auto b : s.buckets.context) key += strformat(" c%lld", static_cast<long long>(b));
  for (auto b : s.buckets.token) key += strformat(" t%lld", static_cast<long long>(b));
  auto it = runs.find(key);
  if (it == runs.end()) {
    ModelRunOptions o;
    o.system = sys;
    it = runs.emplace(key, run_model(*chip, m, s, o)).first;
  }
  const ModelRunResult& r = it->second;
  p.chip = sys.spec.name;
  const double scale = row.unit == "ms" ? 1e3 : 1.0;
  if (row.metric.rfind("TTFT", 0) == 0) p.predicted = r.ttft_s * scale;
  // The tables' TPOT is the median of the request's per-token latencies ("TPOT Latency P50 (ms)"); with the
  // compiled buckets a decode step's time depends on the bucket it runs, so the median is the step time of the
  // bucket that holds the middle token, not the mean over the request (which the tables' throughput gives).
  else if (row.metric.rfind("TPOT_p50", 0) == 0) p.predicted = r.tpot_p50_s * scale;
  else if (row.metric.rfind("TPOT", 0) == 0) p.predicted = r.tpot_s * scale;
  else {
    why = "metric '" + row.metric + "' is not a request latency";
    return false;
  }
  p.note = "request, batch 1, tp" + std::to_string(tp) + " over " + std::to_string(tp) + " chips, heads stored for " +
           std::to_string(ranks) + " NeuronCores" + (lnc > 1 ? " (LNC" + std::to_string(lnc) + ")" : "") + stack_note +
           ", buckets for " + std::to_string(n_positions) + " positions" + (int8_weights ? ", int8 weights converted to bf16 on chip" : "");
  return true;
}

// The scenario of one of our step rows: batch and cached positions ("B64 S1024") of a decode step, or a prompt
// ("B1 T512") of a prefill, KV cache bf16; the eager graph's op structure, or Inductor's per compiled layer.
Scenario step_scenario(const ValidationRow& row, std::map<std::string, std::int64_t>& f, bool decode, bool compiled) {
  Scenario s;
  s.phase = decode ? Phase::Decode : Phase::Prefill;
  s.batch = f["B"];
  s.input_len = decode ? f["S"] - 1 : f["T"];  // a decode step at S cached positions, the new one included
  s.output_len = 1;
  s.wdtype = s.adtype = row.dtype.rfind("fp8", 0) == 0 ? DType::fp8 : DType::bf16;
  s.kvdtype = DType::bf16;
  s.fusion = compiled ? FusionPolicy::vllm() : FusionPolicy::pytorch_eager();
  s.attention_impl = "fa2";
  return s;
}

// Our own whole-step rows (scripts/measure/gpu_session.py): one decode step ("B64 S1024": batch and
// cached positions) or one prefill ("B1 T512") of a Llama-shaped model on one chip, replayed as one
// CUDA graph, so the GPU's time without the host's launches. `run`'s path on the row's chip preset:
// the step's graph with the software's op structure, each kernel simulated with its fixed costs.
//   "... one CUDA graph": the textbook PyTorch code run op by op (FusionPolicy::pytorch_eager) with
//     attention on the SDPA flash backend (FlashAttention-2 over a contiguous cache);
//   "... torch.compile layers, one CUDA graph": Inductor fuses each layer's residual adds into the
//     norms and runs RoPE and silu*up as one Triton kernel each (the vllm policy's structure).
bool step_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  std::smatch m;
  if (!std::regex_match(row.workload, m, std::regex("(decode|prefill) step (\\S+) \\((\\d+) layers\\)(.*)"))) return false;
  const std::string tail = m[4];
  if (tail.find("CUDA graph") == std::string::npos) {
    why = "step launched eagerly: the host's dispatch of every kernel bounds it, and host dispatch is not simulated";
    return true;
  }
  p.chip = chip_for(row.hardware);
  if (p.chip.empty()) return why = "no preset models hardware '" + row.hardware + "'", true;
  const std::string model = shipped_model(row.workload, why);
  if (model.empty()) return true;
  auto f = parse_shape(row.shape);
  const bool decode = m[1] == "decode";
  if (!f.count("B") || !f.count(decode ? "S" : "T")) return why = "step shape '" + row.shape + "' without B and S (or T)", true;
  const Scenario s = step_scenario(row, f, decode, tail.find("torch.compile") != std::string::npos);
  auto chip = load_chip(p.chip);
  ModelRunOptions o;
  o.check_memory = true;
  // The step timed where the row's protocol times it: after its warm-up and half its timed replays, back to
  // back from an idle chip (20 + 15 runs of a decode step, 13 + 5 of a prefill), at the clock the power manager
  // holds there, as the kernel rows are (a prefill of 60 ms x 18 runs settles at TDP; a small decode never
  // reaches it and stays at boost).
  o.sustained = false;
  o.after_runs = protocol_runs(row.source);
  ModelRunResult r = run_model(*chip, load_model(model), s, o);
  const double step_s = decode ? r.tpot_s : r.ttft_s;
  if (row.metric == "latency" && row.unit == "us") p.predicted = step_s * 1e6;
  else if (row.metric == "throughput" && row.unit == "tok/s") p.predicted = (decode ? s.batch : s.batch * s.input_len) / step_s;
  else return why = "step metric '" + row.metric + "' in '" + row.unit + "' is not predicted (latency in us, throughput in tok/s)", true;
  p.note = std::string(decode ? "decode" : "prefill") + " step, fusion " + s.fusion->str() + ", attention fa2";
  if (o.after_runs >= 0)
    p.note += strformat("; timed after %.0f runs from idle at %.0f%% of the nominal clock", o.after_runs, 100 * r.power.clock_ratio);
  why.clear();
  return true;
}

// Board power (W) and SM clock (MHz) under a decode step's CUDA graph replayed for 6 s (our `dpower` rows,
// "sustained decode steps <model> (<n> layers) CUDA-graph replays", the eager step graph of the latency rows):
// the step in steady state (the TDP average reached, as `run` takes it), its average power and mean clock.
bool sustained_step_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  std::smatch m;
  if (!std::regex_match(row.workload, m, std::regex("sustained decode steps (\\S+) \\((\\d+) layers\\) CUDA-graph replays")))
    return false;
  p.chip = chip_for(row.hardware);
  if (p.chip.empty()) return why = "no preset models hardware '" + row.hardware + "'", true;
  const std::string model = shipped_model(row.workload, why);
  if (model.empty()) return true;
  auto f = parse_shape(row.shape);
  if (!f.count("B") || !f.count("S")) return why = "step shape '" + row.shape + "' without B and S", true;
  const Scenario s = step_scenario(row, f, true, false);
  auto chip = load_chip(p.chip);
  ModelRunOptions o;
  o.check_memory = true;
  o.sustained = true;
  ModelRunResult r = run_model(*chip, load_model(model), s, o);
  if (!r.power.modeled) return why = "preset " + p.chip + " has no power section", true;
  if (row.metric == "power" && row.unit == "W") p.predicted = r.power.avg_power_w;
  else if (row.metric == "sm_clock" && row.unit == "MHz") p.predicted = r.power.clock_ratio * chip->clock_hz() / 1e6;
  else return why = "metric '" + row.metric + "' of a step loop is not predicted (power in W, sm_clock in MHz)", true;
  p.note = strformat("decode step loop, fusion %s, attention fa2; %.3f ms a step at %.0f MHz (sustained)", s.fusion->str().c_str(),
                     r.tpot_s * 1e3, r.power.clock_ratio * chip->clock_hz() / 1e6);
  why.clear();
  return true;
}

// SGLang's large-scale expert parallelism (rows "<model> large-scale EP decode pool" and "... prefill pool"): one
// pool of a prefill/decode-disaggregated deployment measured alone, the other side taken as unlimited, so the row is
// one step of the whole pool at its load per rank: tokens per second per node ("tok/s/node") or of the pool ("tok/s").
//   decode pool: its ranks filled to the batch first (SGLang's slow-down of the decode loop while the KV caches
//     arrive), one decode step at B sequences per rank of KV cached tokens each; output tokens.
//   prefill pool: one prefill of T tokens per rank in prompts of ISL tokens (T / ISL prompts a rank); input tokens.
// Shape: N nodes of the hardware's 8-GPU system (H100: hgx-h100x8, H200: hgx-h200x8), EP (= tp1 x dp EP: data-parallel
// attention, experts over every rank), R redundant experts (EPLB), TBO two-batch overlap. The models' FP8 checkpoints
// (DeepSeek-V3, Kimi-K2: block-scaled e4m3): weights and GEMM inputs fp8; the KV cache bf16 (SGLang's --kv-cache-dtype
// auto takes the model's dtype; assumed, the rows do not state it). A prefill runs DeepEP's normal all-to-alls, a
// decode its low-latency ones (the graph's own choice by phase, SGLang's --deepep-mode of each pool).
bool ep_pool_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  std::smatch m;
  if (!std::regex_search(row.workload, m, std::regex("^(\\S+) large-scale EP (decode|prefill) pool"))) return false;
  const bool decode = m[2] == "decode";
  static const std::map<std::string, std::string> models = {{"DeepSeek-V3", "deepseek-v3"}, {"Kimi-K2", "kimi-k2"}};
  const auto model_it = models.find(m[1]);
  if (model_it == models.end()) return why = "EP pool model '" + m[1].str() + "' not shipped (DeepSeek-V3, Kimi-K2)", true;
  const std::string chip_name = chip_for(row.hardware);
  static const std::map<std::string, std::string> systems = {{"h100-sxm", "hgx-h100x8"}, {"h200", "hgx-h200x8"}};
  const auto sys_it = systems.find(chip_name);
  if (sys_it == systems.end()) return why = "EP pool hardware '" + row.hardware + "': expected H100 or H200 nodes of 8", true;
  auto f = parse_shape(row.shape);
  for (const char* k : {"N", "EP"})
    if (!f.count(k)) return why = "EP pool shape '" + row.shape + "' without " + k, true;
  static const char* const kDecodeKeys[] = {"B", "KV"};
  static const char* const kPrefillKeys[] = {"T", "ISL"};
  for (const char* k : decode ? kDecodeKeys : kPrefillKeys)
    if (!f.count(k)) return why = std::string(decode ? "decode" : "prefill") + " pool shape '" + row.shape + "' without " + k, true;
  const int nodes = static_cast<int>(f["N"]), ep = static_cast<int>(f["EP"]);
  SystemContext sys{load_system(sys_it->second, {}, nodes)};
  if (ep != sys.spec.ranks()) return why = strformat("EP%d on %d nodes of 8 GPUs: not one rank per GPU", ep, nodes), true;
  p.chip = strformat("%s x%d", sys.spec.name.c_str(), nodes);
  const bool per_node = row.unit == "tok/s/node";
  if (row.metric != "throughput" || (!per_node && row.unit != "tok/s"))
    return why = "EP pool metric '" + row.metric + "' in '" + row.unit + "' is not predicted (throughput in tok/s/node or tok/s)", true;
  Scenario s;
  s.phase = decode ? Phase::Decode : Phase::Prefill;
  s.tp = 1, s.ep = ep, s.dp = ep;
  if (decode) {
    s.batch = f["B"] * ep;
    s.input_len = f["KV"];
  } else {
    if (f["T"] % f["ISL"] != 0) return why = strformat("prefill pool: T%lld tokens per rank is not whole prompts of ISL%lld",
                                                     static_cast<long long>(f["T"]), static_cast<long long>(f["ISL"])), true;
    s.batch = f["T"] / f["ISL"] * ep;
    s.input_len = f["ISL"];
  }
  s.output_len = 1;
  s.redundant_experts = f.count("R") ? static_cast<int>(f["R"]) : 0;
  s.two_batch_overlap = row.shape.find("TBO") != std::string::npos;
  s.wdtype = s.adtype = DType::fp8;
  s.kvdtype = DType::bf16;
  const ModelConfig model = load_model(model_it->second);
  s.validate(model);
  auto chip = load_chip(sys.spec.chip);
  ModelRunOptions o;
  o.system = sys;
  o.check_memory = true;
  const ModelRunResult r = run_model(*chip, model, s, o);
  const double step_s = decode ? r.tpot_s : r.ttft_s;
  const double tokens = static_cast<double>(decode ? s.batch : s.batch * s.input_len);
  p.predicted = tokens / step_s / (per_node ? nodes : 1);
  p.note = strformat("%s step %s, %.1f ms", decode ? "decode" : "prefill", s.layout_str().c_str(), step_s * 1e3);
  why.clear();
  return true;
}

}  // namespace

bool predict_model_row(const ValidationRow& row, ValidationPoint& p, std::string& why) {
  if (step_row(row, p, why) || sustained_step_row(row, p, why) || ep_pool_row(row, p, why)) return why.empty();
  if (row.workload.find("sglang-jax") != std::string::npos) return sglang_jax_row(row, p, why);
  if (row.metric == "throughput" && row.workload.find("JetStream") != std::string::npos) return jetstream_row(row, p, why);
  if (row.metric == "throughput" && row.workload.find("MLPerf") != std::string::npos) return mlperf_row(row, p, why);
  if (row.metric == "throughput") return serving_row(row, p, why);
  if (row.metric.rfind("TTFT", 0) == 0 || row.metric.rfind("TPOT", 0) == 0) return latency_row(row, p, why);
  why = "metric '" + row.metric + "' is not expressed";
  return false;
}

}  // namespace xpu
