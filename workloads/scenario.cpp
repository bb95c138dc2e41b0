// Scenario parsing and validation, fusion presets, routing specs and the step plan of a request.
#include "workloads/scenario.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "sim/base/error.h"
#include "sim/base/limits.h"

namespace xpu {

const char* name(Phase p) {
  switch (p) {
    case Phase::Prefill: return "prefill";
    case Phase::Decode: return "decode";
    case Phase::Request: return "request";
  }
  return "?";
}

Phase parse_phase(const std::string& s) {
  if (s == "prefill") return Phase::Prefill;
  if (s == "decode") return Phase::Decode;
  if (s == "request") return Phase::Request;
  throw InputError("--phase: unknown phase '" + s + "' (expected prefill, decode or request)", "--phase", "");
}

FusionPolicy FusionPolicy::none() { return {}; }
FusionPolicy FusionPolicy::pytorch_eager() {
  FusionPolicy f;
  f.eager_ops = true;
  return f;
}
FusionPolicy FusionPolicy::vllm() {
  FusionPolicy f;
  f.residual_into_norm = true;
  f.moe_gather_in_gemm = true;
  return f;
}
FusionPolicy FusionPolicy::trtllm() {
  FusionPolicy f;
  f.residual_into_norm = true;
  f.rope_into_attention = true;
  f.activation_into_gemm = true;
  return f;
}
// The LLM API's default backend since v0.19 (perf-overview.md: "Starting with v0.19, testing was
// performed using the PyTorch backend"): flashinfer's fused_add_rmsnorm, RoPE inside the attention
// op (rope_fusion), flashinfer silu_and_mul as its own kernel, fp8 inputs quantized by their own kernels.
FusionPolicy FusionPolicy::trtllm_pytorch() {
  FusionPolicy f = trtllm();
  f.activation_into_gemm = false;
  f.quant_kernels = true;
  return f;
}
FusionPolicy FusionPolicy::xla() {
  FusionPolicy f;
  f.all_elementwise = true;
  return f;
}

// The Neuron compiler fuses elementwise ops into the neighbouring engine instructions where it can: the residual
// add into the norm, RoPE into the attention kernel, the activation into the GEMM's PSUM eviction (ScalarE applies
// it while copying PSUM out); the same flags as trtllm, under Neuron's name.
FusionPolicy FusionPolicy::neuron() {
  FusionPolicy f = trtllm();
  f.name = "neuron";
  return f;
}

bool FusionPolicy::operator==(const FusionPolicy& o) const {
  return residual_into_norm == o.residual_into_norm && rope_into_attention == o.rope_into_attention &&
         activation_into_gemm == o.activation_into_gemm && all_elementwise == o.all_elementwise &&
         eager_ops == o.eager_ops && quant_kernels == o.quant_kernels && moe_gather_in_gemm == o.moe_gather_in_gemm &&
         moe_trt_plugin == o.moe_trt_plugin;
}

FusionPolicy FusionPolicy::parse(const std::string& s) {
  if (s == "none") return none();
  if (s == "pytorch-eager") return pytorch_eager();
  if (s == "vllm" || s == "gpu") return vllm();
  if (s == "trtllm") return trtllm();
  if (s == "trtllm-pytorch") return trtllm_pytorch();
  if (s == "xla" || s == "all") return xla();
  if (s == "neuron") return neuron();
  FusionPolicy f;
  std::stringstream ss(s);
  std::string flag;
  while (std::getline(ss, flag, ',')) {
    if (flag == "residual_into_norm") f.residual_into_norm = true;
    else if (flag == "rope_into_attention") f.rope_into_attention = true;
    else if (flag == "activation_into_gemm") f.activation_into_gemm = true;
    else if (flag == "all_elementwise") f.all_elementwise = true;
    else if (flag == "eager_ops") f.eager_ops = true;
    else if (flag == "quant_kernels") f.quant_kernels = true;
    else if (flag == "moe_gather_in_gemm") f.moe_gather_in_gemm = true;
    else if (flag == "moe_trt_plugin") f.moe_trt_plugin = true;
    else
      throw InputError("--fusion: unknown value '" + flag +
                       "' (expected none, pytorch-eager, vllm, trtllm, trtllm-pytorch, xla, neuron, or a comma list of "
                       "residual_into_norm, rope_into_attention, activation_into_gemm, all_elementwise, eager_ops, "
                       "quant_kernels, moe_gather_in_gemm, moe_trt_plugin)", "--fusion", "");
  }
  return f;
}

std::string FusionPolicy::str() const {
  if (!name.empty() && *this == parse(name)) return name;
  if (*this == none()) return "none";
  if (*this == pytorch_eager()) return "pytorch-eager";
  if (*this == vllm()) return "vllm";
  if (*this == trtllm()) return "trtllm";
  if (*this == trtllm_pytorch()) return "trtllm-pytorch";
  if (*this == xla()) return "xla";
  std::vector<std::string> on;
  if (residual_into_norm) on.push_back("residual_into_norm");
  if (rope_into_attention) on.push_back("rope_into_attention");
  if (activation_into_gemm) on.push_back("activation_into_gemm");
  if (all_elementwise) on.push_back("all_elementwise");
  if (eager_ops) on.push_back("eager_ops");
  if (quant_kernels) on.push_back("quant_kernels");
  if (moe_gather_in_gemm) on.push_back("moe_gather_in_gemm");
  if (moe_trt_plugin) on.push_back("moe_trt_plugin");
  return join(on, ",");
}

Routing Routing::parse(const std::string& s) {
  Routing r;
  auto number = [&](const std::string& text) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !std::isfinite(v))
      throw InputError("--routing: '" + s + "' is not understood (expected uniform, even, zipf:<exponent>, hot:<fraction> or a Zipf exponent)", "--routing", s);
    return v;
  };
  if (s == "uniform") return r;
  if (s == "even") {
    r.sampled = false;
    return r;
  }
  if (s.rfind("zipf:", 0) == 0) {
    r.kind = Kind::Zipf;
    r.value = number(s.substr(5));
  } else if (s.rfind("hot:", 0) == 0) {
    r.kind = Kind::Hot;
    r.value = number(s.substr(4));
    if (r.value <= 0 || r.value > 1) throw InputError("--routing: hot fraction " + s.substr(4) + " must lie in (0, 1]", "--routing", "");
    return r;
  } else {
    r.kind = Kind::Zipf;
    r.value = number(s);
  }
  if (r.value < 0) throw InputError("--routing: Zipf exponent must not be negative, got " + s, "--routing", "");
  if (r.value > 100) throw InputError("--routing: Zipf exponent " + s + " is more than 100 (all tokens on one expert already)", "--routing", "");
  if (r.value == 0) r.kind = Kind::Uniform;
  return r;
}

std::string Routing::str() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::Uniform: return sampled ? "uniform" : "even";
    case Kind::Zipf: os << "zipf:" << value; break;
    case Kind::Hot: os << "hot:" << value; break;
  }
  return os.str();
}

DType Scenario::stream_dtype() const { return bytes_per_element(adtype) < 2 ? DType::bf16 : adtype; }
DType Scenario::embedding_dtype() const { return bytes_per_element(wdtype) < 2 ? DType::bf16 : wdtype; }

void Scenario::validate(const ModelConfig& m) const {
  auto positive = [](std::int64_t v, const char* flag) {
    if (v <= 0) throw InputError(std::string(flag) + " must be a positive integer, got " + std::to_string(v), flag, std::to_string(v));
  };
  positive(batch, "--batch");
  positive(input_len, "--input");
  positive(output_len, "--output");
  positive(tp, "--tp");
  positive(ep, "--ep");
  positive(pp, "--pp");
  positive(dp, "--dp");
  if (microbatches < 0) throw InputError("--microbatches must not be negative, got " + std::to_string(microbatches), "--microbatches", "");
  // Bounds before any graph is sized: every op dimension of a step stays within kMaxDim.
  auto at_most = [](std::int64_t v, std::int64_t most, const char* flag) {
    if (v > most)
      throw InputError(std::string(flag) + " " + std::to_string(v) + " is more than " + std::to_string(most) +
                       ", the most xpusim simulates", flag, std::to_string(v));
  };
  // A step simulates one data-parallel replica's sequences (replicas are folded or run side by side).
  if (batch / dp > 65536)
    throw InputError("--batch " + std::to_string(batch) + " is " + std::to_string(batch / dp) + " sequences per replica" +
                     (dp > 1 ? " (--dp " + std::to_string(dp) + ")" : "") + ", more than 65536, the most xpusim simulates", "--batch", std::to_string(batch));
  at_most(input_len, kMaxDim, "--input");
  at_most(output_len, kMaxDim, "--output");
  at_most(tp, 4096, "--tp");
  at_most(static_cast<std::int64_t>(tp) * pp * dp, 4096, "--tp x --pp x --dp");
  // The model's own limits on the layout first, then the layout's on the batch (validate_layout).
  // vLLM's rule: query heads split evenly; KV heads split evenly or are replicated when tp > kv_heads
  // (with --pad-heads, the heads as Neuron stores them, which split by construction).
  const ModelConfig padded = pad_heads != 0 ? run_model_of(m) : ModelConfig{};  // no copy without padding
  const ModelConfig& hm = pad_heads != 0 ? padded : m;
  // The degrees nearest the asked one, below and above, that split both: " e.g. --tp 8 or 16".
  auto nearest_tp = [&] {
    std::int64_t below = tp, above = tp;
    while (below > 1 && !hm.tp_splits_heads(below)) --below;
    while (above <= hm.heads && !hm.tp_splits_heads(above)) ++above;
    return ", e.g. --tp " + std::to_string(below) + (above <= hm.heads ? " or " + std::to_string(above) : std::string());
  };
  if (hm.heads % tp != 0)
    throw InputError("--tp " + std::to_string(tp) + " does not divide " + m.name + "'s " + std::to_string(m.heads) +
                     " attention heads (expected a divisor" + nearest_tp() +
                     std::string(m.is_mla() ? "" : ", or on a trainium chip --pad-heads as Neuron pads them") + ")", "--tp", std::to_string(tp));
  if (!hm.tp_splits_heads(tp))
    throw InputError("--tp " + std::to_string(tp) + " does not split " + m.name + "'s " + std::to_string(m.kv_heads) +
                     " KV heads evenly (expected a divisor or a multiple of it" + nearest_tp() + ")", "--tp", std::to_string(tp));
  validate_layout(m);
  const double step_tokens = static_cast<double>(rank_batch()) * static_cast<double>(phase == Phase::Decode ? 1 : input_len);
  if (step_tokens > static_cast<double>(kMaxDim))
    throw InputError("--batch " + std::to_string(batch) + (dp > 1 ? " (" + std::to_string(rank_batch()) + " per replica)" : "") +
                     " x --input " + std::to_string(input_len) + " = " +
                     std::to_string(static_cast<std::int64_t>(step_tokens)) + " tokens in one prefill step, more than " +
                     std::to_string(kMaxDim) + " (2^24)", "--batch", std::to_string(batch))
        .mentioning("--input", std::to_string(input_len));
  const std::string ctx = m.name + "'s context of " + std::to_string(m.max_position) + " tokens";
  if (input_len > m.max_position)
    throw InputError("--input " + std::to_string(input_len) + " exceeds " + ctx, "--input", std::to_string(input_len));
  if (phase != Phase::Prefill && input_len + output_len > m.max_position)
    throw InputError("--input " + std::to_string(input_len) + " + --output " + std::to_string(output_len) + " = " +
                     std::to_string(input_len + output_len) + " tokens exceeds " + ctx, "--input", std::to_string(input_len))
        .mentioning("--output", std::to_string(output_len));
  if (!m.is_moe() && (routing.kind != Routing::Kind::Uniform || !routing.sampled))
    throw InputError("--routing " + routing.str() + ": " + m.name + " has no experts (routing applies to MoE models; expected uniform, or a MoE model)", "--routing", routing.str());
  if (m.is_moe() && routing.kind == Routing::Kind::Hot) {
    double uniform = static_cast<double>(m.experts_per_token) / static_cast<double>(m.num_experts);
    if (routing.value < uniform)
      throw InputError("--routing hot:" + std::to_string(routing.value) + " is below the uniform share " +
                       std::to_string(uniform) + " (experts_per_token / experts) of " + m.name, "--routing", "");
  }
}

std::string Scenario::layout_str() const {
  std::vector<std::string> parts;
  if (dp > 1) parts.push_back("dp" + std::to_string(dp));
  if (tp > 1 || (pp == 1 && dp == 1 && ep == 1)) parts.push_back("tp" + std::to_string(tp) + (sp ? "+sp" : ""));
  if (pp > 1) parts.push_back("pp" + std::to_string(pp));
  if (ep > 1) parts.push_back("ep" + std::to_string(ep));
  std::string out = join(parts, " x ");
  if (ep > 1 && expert_tp() > 1) out += " (expert tp" + std::to_string(expert_tp()) + ")";
  if (redundant_experts > 0) out += " (+" + std::to_string(redundant_experts) + " redundant experts)";
  if (two_batch_overlap) out += " (two-batch overlap)";
  if (pad_heads > 0) out += " (heads stored for " + std::to_string(pad_heads) + " NeuronCores)";
  return out;
}

// The layouts the serving stacks run (vLLM, SGLang, TensorRT-LLM): experts split over the TP group
// (whole, or tp/ep ways each: TensorRT-LLM's moe_tp_size x moe_ep_size = tp), or data-parallel
// attention with experts over every rank (DeepSeek-style); stages of whole layers.
void Scenario::validate_layout(const ModelConfig& m) const {
  // Checked on the whole layout, not the flags alone: a scenario file's pools may give the stages.
  if (microbatches > 0 && pp <= 1)
    throw InputError("--microbatches " + std::to_string(microbatches) +
                     " needs --pp > 1 (micro-batches split a pipeline's sequences between its stages; expected --pp 2 or more, or no --microbatches)", "--microbatches", std::to_string(microbatches));
  if (two_batch_overlap && devices() == 1)
    throw InputError("--two-batch-overlap overlaps one micro-batch's collectives with the other's kernels: it needs a layout of "
                     "several devices (expected --tp, --ep or --dp on a --system)", "--two-batch-overlap", "");
  if (two_batch_overlap && pp > 1)
    throw InputError("--two-batch-overlap with --pp " + std::to_string(pp) +
                     ": a pipeline's micro-batches already overlap across its stages (expected one or the other)", "--two-batch-overlap", "")
        .mentioning("--pp", std::to_string(pp));
  if (ep > 1 && !m.is_moe())
    throw InputError("--ep " + std::to_string(ep) + ": " + m.name + " has no experts (expert parallelism needs a MoE model; use --tp or --dp)", "--ep", std::to_string(ep));
  if (ep > 1 && (ep < tp ? tp % ep != 0 : ep != tp && ep != tp * dp))
    throw InputError("--ep " + std::to_string(ep) + " must divide --tp (" + std::to_string(tp) +
                     ": experts over the TP group, each split tp/ep ways) or equal --tp x --dp (" + std::to_string(tp * dp) +
                     ": data-parallel attention, experts over every rank)", "--ep", std::to_string(ep))
        .mentioning("--tp", std::to_string(tp))
        .mentioning("--dp", std::to_string(dp));
  validate_redundant_experts(m);
  if (dp_attention() && pp > 1)
    throw InputError("--ep " + std::to_string(ep) + " = --tp x --dp (data-parallel attention) with --pp " + std::to_string(pp) +
                     ": a stage's experts' all-to-all would join ranks of every replica, which are not consecutive chips "
                     "(replicas hold their stages in turn); expected --pp 1 with it, or --ep dividing --tp with --pp", "--ep", std::to_string(ep));
  if (sp && tp == 1)
    throw InputError("--sp needs --tp > 1 (sequence parallelism splits the tokens between a TP group's all-reduces)", "--sp", "")
        .mentioning("--tp", std::to_string(tp));
  if (sp && dp_attention())
    throw InputError("--sp with --ep " + std::to_string(ep) + " > --tp " + std::to_string(tp) +
                     ": data-parallel attention ends the MoE block in an all-to-all, not a TP reduce (expected --ep 1 or --tp)", "--sp", "")
        .mentioning("--tp", std::to_string(tp));
  if (pp > m.layers)
    throw InputError("--pp " + std::to_string(pp) + " is larger than " + m.name + "'s " + std::to_string(m.layers) +
                     " layers (expected at most " + std::to_string(m.layers) + " stages)", "--pp", std::to_string(pp));
  if (batch % dp != 0)
    throw InputError("--batch " + std::to_string(batch) + " does not split over --dp " + std::to_string(dp) +
                     " replicas (expected a multiple of " + std::to_string(dp) + ")", "--batch", std::to_string(batch))
        .mentioning("--dp", std::to_string(dp));
  const int mb = step_microbatches();
  if (two_batch_overlap && pp == 1 && rank_batch() % 2 != 0)
    throw InputError("--two-batch-overlap: --batch " + std::to_string(batch) + " gives " + std::to_string(rank_batch()) +
                     " sequences per replica, which do not split into two micro-batches (expected an even number per replica: --batch " +
                     std::to_string(2 * dp * ((rank_batch() + 1) / 2)) + ")", "--two-batch-overlap", "");
  if (pp > 1 && rank_batch() % mb != 0) {
    // The most micro-batches up to the asked count that split the sequences (8 sequences in 3 offered
    // gcd(8, 3) = 1, one micro-batch and the whole pipeline's bubble, where 2 split them).
    std::int64_t fits = std::min<std::int64_t>(mb, rank_batch());
    while (rank_batch() % fits != 0) --fits;
    throw InputError("--batch " + std::to_string(batch) + " gives " + std::to_string(rank_batch()) + " sequences per replica, which do not split into " +
                     std::to_string(mb) + " pipeline micro-batches (expected a multiple of " + std::to_string(mb) +
                     " sequences per replica, or --microbatches " + std::to_string(fits) + ")", "--batch", std::to_string(batch));
  }
}

// Experts (with their redundant replicas) split evenly over the EP ranks, each expert at most once
// per rank; an error names the flag and a count that would work.
void Scenario::validate_redundant_experts(const ModelConfig& m) const {
  const std::int64_t E = m.num_experts, N = redundant_experts, phys = E + N;
  const std::string R = "--redundant-experts " + std::to_string(N), Es = std::to_string(E);
  auto bad = [&](const std::string& msg) { return InputError(msg, "--redundant-experts", std::to_string(N)); };
  if (N < 0) throw bad(R + " must not be negative (expected 0, or replicas of the hottest experts with --ep > 1)");
  if (N > 0 && !m.is_moe()) throw bad(R + ": " + m.name + " has no experts (replicas need a MoE model)");
  if (N > 0 && ep == 1)
    throw bad(R + " needs --ep > 1 (replicas spread the hottest experts' rows over expert-parallel ranks)");
  if (ep == 1) return;
  const std::int64_t up = N + (ep - phys % ep) % ep, down = N - phys % ep;  // the nearest counts that split
  const std::int64_t fill = std::max<std::int64_t>(up, ep - E);            // enough for a slot on every rank
  if (N > 0 && (phys % ep != 0 || phys < ep))
    throw bad(R + ": " + Es + " + " + std::to_string(N) + " = " + std::to_string(phys) + " experts do not split over --ep " +
                     std::to_string(ep) + " (expected " + Es + " + N a multiple of " + std::to_string(ep) + ", e.g. --redundant-experts " +
                     (down > 0 && E + down >= ep ? std::to_string(down) + " or " : std::string()) + std::to_string(fill) + ")");
  if (ep > phys)
    throw InputError("--ep " + std::to_string(ep) + " is larger than " + m.name + "'s " + Es + " experts (expected at most " + Es +
                     ", or --redundant-experts " + std::to_string(fill) + " to give every rank an expert)", "--ep", std::to_string(ep));
  if (phys % ep != 0) {
    // The nearest divisor below that the layout takes (a multiple of tp: whole attention groups; or a
    // divisor of tp: experts over the TP group), with the chips it takes for data-parallel attention.
    int below = ep;
    while (E % below != 0 || (below % tp != 0 && tp % below != 0)) --below;
    throw InputError("--ep " + std::to_string(ep) + " does not divide " + m.name + "'s " + Es + " experts (expected a divisor, e.g. --ep " +
                     std::to_string(below) + (ep == tp * dp && below > tp ? " in a layout of " + std::to_string(below * pp) + " chips" : std::string()) +
                     ", or, on these " + std::to_string(devices()) + " chips, --redundant-experts " + std::to_string(up) +
                     " replicas of the hottest experts)", "--ep", std::to_string(ep));
  }
  if (phys > E * ep)
    throw bad(R + ": more replicas than ranks to hold them (expected at most " + std::to_string(E * (ep - 1)) + ": each of " + Es +
                     " experts once on each of --ep " + std::to_string(ep) + " ranks)");
}

namespace {
// Decode steps at contexts first .. first + steps - 1, one plan per token bucket they cross.
void plan_bucketed_decode(const std::vector<std::int64_t>& token, std::int64_t first, std::int64_t steps, bool prompt,
                          std::vector<StepPlan>& out) {
  for (std::int64_t c = first; c < first + steps;) {
    const std::int64_t b = bucket_for(token, c);
    const std::int64_t end = b >= c ? std::min(b, first + steps - 1) : first + steps - 1;  // beyond the largest: it
    out.push_back({true, b, end - c + 1, prompt});
    c = end + 1;
  }
}
}  // namespace

Scenario step_scenario(const Scenario& s, const StepPlan& p) {
  Scenario t = s;
  if (!p.decode) t.input_len = p.context_len;
  return t;
}

std::vector<StepPlan> plan_steps(const Scenario& s, int max_decode_samples) {
  std::vector<StepPlan> out;
  std::int64_t first = s.input_len + 1, steps = s.output_len;
  const std::vector<std::int64_t>& token = s.buckets.token;
  if (s.phase != Phase::Decode) {
    const std::int64_t padded = bucket_for(s.buckets.context, s.input_len);
    out.push_back({false, padded, 1});
    // A prompt beyond the largest context bucket: the rest token by token through the decode graphs.
    if (padded < s.input_len) plan_bucketed_decode(token, padded + 1, s.input_len - padded, true, out);
  }
  if (s.phase == Phase::Prefill) return out;
  if (s.phase == Phase::Request) steps = s.output_len - 1;  // the prefill produced the first token
  if (steps <= 0) return out;
  if (!token.empty()) {
    plan_bucketed_decode(token, first, steps, false, out);
    return out;
  }
  std::int64_t samples = std::max<std::int64_t>(1, std::min<std::int64_t>(max_decode_samples, steps));
  std::int64_t start = first;
  for (std::int64_t i = 0; i < samples; ++i) {
    std::int64_t run = steps / samples + (i < steps % samples ? 1 : 0);
    out.push_back({true, start + (run - 1) / 2, run});
    start += run;
  }
  return out;
}

void set_layout(Scenario& s, const ScenarioArgs& a) {
  s.tp = a.tp;
  s.ep = a.ep;
  s.pp = a.pp;
  s.dp = a.dp;
  s.microbatches = a.microbatches;
  s.two_batch_overlap = a.two_batch_overlap;
  s.sp = a.sp;
  s.pad_heads = a.pad_heads;
  s.redundant_experts = a.redundant_experts;
}

ModelConfig Scenario::run_model_of(const ModelConfig& m) const {
  if (pad_heads > 0 && pad_heads % tp != 0)  // a negative one: stored_heads refuses it
    throw InputError("--pad-heads " + std::to_string(pad_heads) + " must be a multiple of --tp " + std::to_string(tp) +
                     " (the NeuronCores of the TP group: cores per chip x chips)", "--pad-heads", std::to_string(pad_heads));
  ModelConfig r = pad_heads == 0 ? m : kv_to_tp_degree ? stored_heads_nxdi(m, pad_heads) : stored_heads(m, pad_heads);
  if (!buckets.token.empty()) r.max_position = std::max(r.max_position, buckets.token.back());  // RoPE has no limit
  return r;
}

Scenario make_scenario(const ScenarioArgs& a) {
  Scenario s;
  s.phase = parse_phase(a.phase);
  s.batch = a.batch;
  s.input_len = a.input;
  s.output_len = a.output;
  DType d = parse_dtype(a.dtype);
  DType act = d == DType::fp4 ? DType::fp8 : d;
  s.wdtype = a.wdtype.empty() ? d : parse_dtype(a.wdtype);
  s.adtype = a.adtype.empty() ? act : parse_dtype(a.adtype);
  s.kvdtype = a.kvdtype.empty() ? act : parse_dtype(a.kvdtype);
  set_layout(s, a);
  s.routing = Routing::parse(a.routing);
  if (!a.fusion.empty()) s.fusion = FusionPolicy::parse(a.fusion);
  if (a.neuron_buckets != 0) {
    if (a.neuron_buckets < 0)
      throw InputError("--neuron-buckets " + std::to_string(a.neuron_buckets) + ": expected a number of positions of at least --input + " +
                       "--output (" + std::to_string(a.input + a.output) + "), or 0 for exact shapes", "--neuron-buckets", std::to_string(a.neuron_buckets));
    if (a.neuron_buckets < a.input + a.output)
      throw InputError("--neuron-buckets " + std::to_string(a.neuron_buckets) + ": fewer positions than --input + --output (" +
                       std::to_string(a.input + a.output) + "); expected at least that, or 0 for exact shapes", "--neuron-buckets", std::to_string(a.neuron_buckets));
    s.buckets = tnx_default_buckets(a.neuron_buckets);
  }
  return s;
}

}  // namespace xpu
