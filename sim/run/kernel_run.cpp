#include "sim/run/kernel_run.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "kernels/collective/collective.h"
#include "kernels/reference/reference.h"
#include "sim/base/limits.h"
#include "sim/base/strformat.h"

namespace xpu {

namespace {
struct KernelArg {
  const char* name;
  const char* help;  // what it sizes, for which ops, its default (`xpusim kernel --help`)
};
// Every kernel argument once, in --help order: the names and the help text come from this one table.
const std::vector<KernelArg>& kernel_args() {
  static const std::vector<KernelArg> v = {
      {"m", "gemm: rows of A and C (tokens); grouped_gemm: rows over all groups"},
      {"n", "gemm, grouped_gemm: columns of B and C (output features); embedding: vocabulary rows (default 128256)"},
      {"k", "gemm, grouped_gemm: the reduction dimension (input features)"},
      {"batch", "gemm: independent m x n x k products (default 1); attention: sequences (default 1)"},
      {"dtype", "inputs and compute: fp32, tf32, bf16, fp16, fp8, fp6, fp4 or int8 (default bf16); fp6 and fp4 are "
                "block-scaled matrix-unit formats, refused by row-wise ops (vector units do not compute in them)"},
      {"wdtype", "gemm: the weights' (B's) type when it differs from --dtype (weight-only quantization); norms: "
                 "the weight vector's type; attention: the KV cache's type (fp4 and fp6 refused where the chip has no such format: GPUs before Blackwell, TPUs)"},
      {"odtype", "gemm: the output's type (default: --dtype; bf16 below 16 bits, fp32 for fp32/tf32)"},
      {"heads", "attention: query heads"},
      {"kv-heads", "attention: key/value heads (default --heads; fewer is grouped-query attention)"},
      {"seq", "attention: key/value tokens per sequence (the context); rope: positions repeat after it"},
      {"seq-q", "attention: query tokens per sequence (default 1 at decode, --seq at prefill)"},
      {"head-dim", "attention: width of a query/key head (default 128); rope: the rotated head width (even, dividing --cols)"},
      {"head-dim-v", "attention: width of a value head (default --head-dim)"},
      {"phase", "attention: prefill or decode (default prefill)"},
      {"causal", "attention: causal mask (default true; --causal false for none)"},
      {"window", "attention: sliding window, the last W keys each query sees (default: the whole context)"},
      {"page-size", "attention: tokens per KV-cache page (default 16)"},
      {"rows", "row-wise ops (norms, softmax, activations, copy, sum), topk, embedding: rows (tokens)"},
      {"cols", "row-wise ops, embedding: elements per row (hidden size); topk: as --experts"},
      {"experts", "topk: experts scored per token; grouped_gemm: as --groups"},
      {"topk", "topk: experts chosen per token (default 2)"},
      {"groups", "grouped_gemm: groups (experts), the rows split evenly over them (default 8)"},
      {"tokens", "grouped_gemm: rows over all groups (as --m); row-wise ops, topk, embedding: as --rows"},
      {"bytes", "collectives: message size (xpusim kernel allreduce --help)"},
      {"devices", "collectives: expected number of chips (xpusim kernel allreduce --help)"},
      {"label", "the kernel's name in the report and the trace (default: the op)"},
      {"impl", "attention implementation: fa2 or fa3 (GPU kernels; fa3 on Hopper only; default: the chip's own, FlashAttention-2 "
               "on a GPU without TMA such as the A100, else the TMA warp-specialized kernel), transformers-neuronx (Trainium/Inferentia: "
               "AWS transformers-neuronx's HLO graph, S x S scores materialized below its flash threshold); rmsnorm: "
               "fused-add, the serving stacks' kernel with the residual add inside (vLLM fused_add_rms_norm, FlashInfer); "
               "fp4 or fp8 gemm: deepgemm, DeepGEMM's sm100 MXFP4 or sm90 block-scaled fp8 kernel with the layout its "
               "host heuristic picks; grouped_gemm: deepgemm, or cutlass-ptr-array, CUTLASS's ptr-array grouped kernel as "
               "TensorRT-LLM's MoE runner builds it for sm90 (fp8 fast accumulation, epilogue stored from registers)"},
      {"fast-accum", "fp8 gemm: no fp32 promotion of the tensor cores' partial sums"},
      {"fp4-scale-block", "fp4 gemm: K elements per block scale, 16 (NVFP4, default) or 32 (MXFP4)"}};
  return v;
}
}  // namespace

std::vector<std::string> kernel_op_names() {
  std::vector<std::string> ops = op_kind_names();
  for (const auto& c : collective_names())
    if (std::find(ops.begin(), ops.end(), c) == ops.end()) ops.push_back(c);
  return ops;
}

std::string collective_option_error(const std::string& what, const std::string& option, const std::string& op, const std::string& hint) {
  if (option == "--chip")
    return "kernel " + op + ": --chip: a collective runs on a system of chips, not on one chip; give --system S " +
           "(xpusim list systems; the default is hgx-h100x8)";
  // A value of the wrong type ("--tokens abc") never comes here: the parser names it as every command's does
  // (sim/app/cli_parse.h, cli_value_error).
  return what + hint + " (see xpusim kernel " + op + " --help)";  // hint: " (did you mean --bytes?)" for --byts
}

const std::vector<std::string>& kernel_arg_names() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> names;
    for (const KernelArg& a : kernel_args()) names.emplace_back(a.name);
    return names;
  }();
  return v;
}

const std::string& kernel_arg_help(const std::string& name) {
  static const std::map<std::string, std::string> help = [] {
    std::map<std::string, std::string> m;
    for (const KernelArg& a : kernel_args()) m.emplace(a.name, a.help);
    return m;
  }();
  static const std::string none;
  auto it = help.find(name);
  return it == help.end() ? none : it->second;
}

namespace {
std::int64_t to_int(const std::string& key, const std::string& v) {
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::out_of_range&) {  // digits beyond a 64-bit integer: out of the range below, not "not an integer"
    const size_t sign = v[0] == '-' || v[0] == '+' ? 1 : 0;
    x = v[0] == '-' ? -1 : std::numeric_limits<long long>::max();
    used = v.find_first_not_of("0123456789", sign) == std::string::npos ? v.size() : 0;
  } catch (...) {
    used = 0;
  }
  if (used != v.size() || v.empty()) throw InputError("--" + key + ": '" + v + "' is not an integer", "--" + key, v);
  // Every dimension given on the command line is a positive count (0 never means "default" here).
  const std::int64_t most = key == "bytes" ? std::int64_t{1} << 40 : kMaxDim;
  if (x <= 0 || x > most)
    throw InputError("--" + key + ": " + v + ": expected a positive integer of at most " + std::to_string(most), "--" + key, v);
  return x;
}
bool to_bool(const std::string& key, const std::string& v) {
  if (v == "1" || v == "true" || v == "yes" || v.empty()) return true;
  if (v == "0" || v == "false" || v == "no") return false;
  throw InputError("--" + key + ": '" + v + "': expected true or false", "--" + key, v);
}
}  // namespace

OpSpec make_op(const std::string& opname, const std::map<std::string, std::string>& args) {
  OpSpec op;
  op.kind = parse_op_kind(opname);
  op.label = opname;
  for (const auto& [k, v] : args) {
    bool known = false;
    for (const auto& n : kernel_arg_names()) known |= n == k;
    // A near miss of some op's argument is named here; any other unknown one is refused below, with the
    // arguments this op takes (kernel("gemm", foo=3) said only "unknown argument --foo").
    const std::string near = known ? "" : nearest_clause(k, kernel_arg_names(), kDidYouMeanFlag);
    if (!near.empty()) throw InputError("kernel " + opname + ": unknown argument --" + k + near, "--" + k, v);
  }
  std::set<std::string> read;  // the arguments this op takes: any other one given is refused below
  auto get = [&](const char* key, std::int64_t def) {
    read.insert(key);
    auto it = args.find(key);
    return it == args.end() ? def : to_int(key, it->second);
  };
  auto has = [&](const char* key) { return read.insert(key), args.count(key) != 0; };
  auto s = [&](const char* key, const std::string& def) {
    read.insert(key);
    auto it = args.find(key);
    return it == args.end() ? def : it->second;
  };
  op.dtype = parse_dtype(s("dtype", "bf16"), "--dtype");
  op.wdtype = has("wdtype") ? parse_dtype(s("wdtype", ""), "--wdtype") : op.dtype;
  DType out_default = op.dtype == DType::fp32 || op.dtype == DType::tf32 ? DType::fp32
                      : (bytes_per_element(op.dtype) < 2 ? DType::bf16 : op.dtype);
  op.odtype = has("odtype") ? parse_dtype(s("odtype", ""), "--odtype") : out_default;
  op.label = s("label", opname);
  switch (op.kind) {
    case OpKind::Gemm:
      op.m = get("m", 0), op.n = get("n", 0), op.k = get("k", 0), op.batch = get("batch", 1);
      op.fast_accum = has("fast-accum") && to_bool("fast-accum", s("fast-accum", ""));
      op.fp4_scale_block = static_cast<int>(get("fp4-scale-block", OpSpec::kNvfp4ScaleBlock));
      op.impl = s("impl", "");
      // Each flag belongs to one input format: given with another it changed nothing, silently.
      if (op.fast_accum && op.dtype != DType::fp8)
        throw InputError(std::string("gemm: --fast-accum applies to fp8 GEMMs (the fp8 tensor cores' partial sums kept "
                                     "without fp32 promotion); --dtype is ") + name(op.dtype), "--fast-accum", "");
      if (has("fp4-scale-block") && op.dtype != DType::fp4 && op.wdtype != DType::fp4)
        throw InputError(std::string("gemm: --fp4-scale-block applies to fp4 operands (--dtype or --wdtype fp4); --dtype is ") +
                         name(op.dtype) + (op.wdtype != op.dtype ? std::string(", --wdtype ") + name(op.wdtype) : std::string()),
                         "--fp4-scale-block", "");
      break;
    case OpKind::GroupedGemm: {
      std::int64_t groups = get("groups", get("experts", 8));
      std::int64_t rows = get("m", get("tokens", 0));
      op.n = get("n", 0), op.k = get("k", 0);
      if (groups <= 0) throw InputError("grouped_gemm: --groups must be a positive integer", "--groups", "");
      for (std::int64_t g = 0; g < groups; ++g) op.group_rows.push_back(rows / groups + (g < rows % groups ? 1 : 0));
      op.impl = s("impl", "");
      break;
    }
    case OpKind::Attention: {
      std::string phase = s("phase", "prefill");
      if (phase != "prefill" && phase != "decode")
        throw InputError("attention: --phase '" + phase + "': expected prefill or decode", "--phase", phase);
      op.decode = phase == "decode";
      op.batch = get("batch", 1), op.heads = get("heads", 0), op.kv_heads = get("kv-heads", get("heads", 0));
      op.seq_kv = get("seq", 0);
      op.seq_q = get("seq-q", op.decode ? 1 : op.seq_kv);
      op.head_dim = get("head-dim", 128);
      op.head_dim_v = get("head-dim-v", op.head_dim);
      op.causal = has("causal") ? to_bool("causal", s("causal", "")) : op.decode || true;
      op.window = get("window", 0);
      op.page_size = get("page-size", 16);
      op.impl = s("impl", "");
      if (!has("wdtype")) op.wdtype = op.dtype;
      break;
    }
    case OpKind::TopK:
      op.rows = get("rows", get("tokens", 0)), op.cols = get("experts", get("cols", 0)), op.topk = get("topk", 2);
      break;
    case OpKind::AllReduce:
    case OpKind::AllToAll:
    case OpKind::ReduceScatter:
    case OpKind::AllGather:
      op.m = get("bytes", 0), op.devices = get("devices", 8);
      break;
    case OpKind::Embedding:
      op.rows = get("rows", get("tokens", 0)), op.cols = get("cols", 0), op.n = get("n", 128256);
      break;
    default:
      op.rows = get("rows", get("tokens", 0)), op.cols = get("cols", 0);
      if (op.kind == OpKind::Rope) op.head_dim = get("head-dim", 0), op.seq_kv = get("seq", 0);  // functional positions
      op.impl = s("impl", "");
      break;
  }
  for (const auto& [k, v] : args)
    if (!read.count(k))
      throw InputError("kernel " + opname + ": --" + k + " '" + v + "' is not an argument of " + opname + " (it takes --" +
                       join(read, ", --") + ")", "--" + k, v);
  op.validate();
  return op;
}

FunctionalSetup functional_setup(const OpSpec& op, unsigned seed, bool reference) {
  FunctionalSetup f;
  std::mt19937 rng(seed);
  auto add = [&](const std::string& n, Mat m) {
    int id = f.store.add(n, std::move(m));
    TensorRef r = f.options.ref(op.label, n);
    r.id = id;
    f.options.tensors[n] = r;
    return id;
  };
  f.options.functional = true;
  double cells = 0;
  switch (op.kind) {
    case OpKind::Gemm:
    case OpKind::GroupedGemm: {
      std::int64_t rows = op.kind == OpKind::Gemm ? op.batch * op.m : 0;
      std::vector<std::int64_t> groups = op.group_rows;
      if (op.kind == OpKind::Gemm) groups.assign(static_cast<size_t>(op.batch), op.m);
      for (auto g : op.group_rows) rows += g;
      cells = static_cast<double>(rows) * op.n * op.k;
      if (cells > 64.0 * 1024 * 1024) throw InputError("--functional is for small shapes (at most 2^26 MACs)", "--functional", "");
      int A = add("A", random_mat(static_cast<int>(rows), static_cast<int>(op.k), rng, op.dtype));
      int B = add("B", random_mat(static_cast<int>(groups.size() * op.k), static_cast<int>(op.n), rng, op.wdtype));
      add("C", Mat(static_cast<int>(rows), static_cast<int>(op.n)));
      add("workspace", Mat(static_cast<int>(rows * 16), static_cast<int>(op.n)));
      f.inputs = {"A", "B"};
      f.output = "C";
      DType mm0 = op.dtype == DType::fp32 ? DType::tf32 : op.dtype;
      f.tolerance = tolerance_for(op.odtype == DType::fp32 ? mm0 : op.odtype, op.k);
      if (!reference) break;
      f.reference = gemm_reference(op, f.store.get(A), f.store.get(B), groups);
      break;
    }
    case OpKind::RmsNorm:
    case OpKind::LayerNorm:
    case OpKind::Softmax:
    case OpKind::SwiGlu:
    case OpKind::Gelu:
    case OpKind::ResidualAdd:
    case OpKind::Rope: {
      const int rows = static_cast<int>(op.rows), cols = static_cast<int>(op.cols);
      if (static_cast<double>(op.rows) * op.cols > 4.0 * 1024 * 1024)
        throw InputError("--functional is for small shapes (at most 2^22 elements)", "--functional", "");
      float scale = op.kind == OpKind::Softmax ? 4.f : op.kind == OpKind::Gelu ? 3.f : 1.f;
      add("X", random_mat(rows, op.kind == OpKind::SwiGlu ? 2 * cols : cols, rng, op.dtype, scale));
      f.inputs = {"X"};
      if (op.kind == OpKind::RmsNorm || op.kind == OpKind::LayerNorm) {
        Mat w = random_mat(1, cols, rng, DType::fp32, 0.5f);
        for (float& x : w.v) x = round_to(op.wdtype, 1.f + x);
        add("W", std::move(w));
        f.inputs.push_back("W");
      }
      if (op.kind == OpKind::LayerNorm) {
        add("B", random_mat(1, cols, rng, op.wdtype, 0.5f));
        f.inputs.push_back("B");
      }
      if (op.kind == OpKind::ResidualAdd) {
        add("R", random_mat(rows, cols, rng, op.dtype));
        f.inputs.push_back("R");
      }
      if (op.kind == OpKind::Rope) {
        const int hd = op.head_dim > 0 ? static_cast<int>(op.head_dim) : (cols % 128 == 0 ? 128 : cols);
        if (hd % 2 != 0 || cols % hd != 0)
          throw InputError("rope: --cols (" + std::to_string(cols) + ") must be a multiple of an even --head-dim (" +
                           std::to_string(hd) + ")", "--cols", "");
        const std::int64_t seq = op.seq_kv > 0 ? op.seq_kv : op.rows;
        Mat pos(rows, 1), inv(1, hd / 2);
        for (int i = 0; i < rows; ++i) pos.at(i, 0) = static_cast<float>(i % seq);
        for (int t = 0; t < hd / 2; ++t) inv.at(0, t) = static_cast<float>(std::pow(10000.0, -2.0 * t / hd));
        add("positions", std::move(pos));
        add("inv_freq", std::move(inv));
        f.inputs.push_back("positions");
        f.inputs.push_back("inv_freq");
      }
      add("Y", Mat(rows, cols));
      f.output = "Y";
      f.tolerance = tolerance_for(op.odtype, 0);
      if (reference) f.reference = rowwise_reference(op, f.store);
      break;
    }
    case OpKind::Attention: {
      const std::int64_t d = op.head_dim, dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
      cells = static_cast<double>(op.batch) * op.heads * op.seq_q * op.seq_kv * (d + dv);
      if (cells > 64.0 * 1024 * 1024) throw InputError("--functional is for small shapes (at most 2^26 MACs)", "--functional", "");
      const int qrows = static_cast<int>(op.batch * op.heads * op.seq_q), kvrows = static_cast<int>(op.batch * op.kv_heads * op.seq_kv);
      add("Q", random_mat(qrows, static_cast<int>(d), rng, op.dtype, 2.f));
      add("K", random_mat(kvrows, static_cast<int>(d), rng, op.wdtype, 2.f));
      add("V", random_mat(kvrows, static_cast<int>(dv), rng, op.wdtype));
      add("O", Mat(qrows, static_cast<int>(dv)));
      // Decode split workspaces (the lowering picks at most one split per 4 pages of 16 tokens).
      const int ws_rows = static_cast<int>(op.batch * op.heads * op.seq_q * (op.seq_kv / 64 + 1));
      add("workspace", Mat(ws_rows, static_cast<int>(dv)));
      add("lse", Mat(ws_rows, 1));
      f.inputs = {"Q", "K", "V"};
      f.output = "O";
      f.tolerance = op.dtype == DType::bf16 ? 2e-2 : tolerance_for(op.dtype, 0);
      if (reference)
        f.reference = attention_reference(op, f.store.get(f.store.find("Q")), f.store.get(f.store.find("K")),
                                          f.store.get(f.store.find("V")));
      break;
    }
    default:
      throw InputError(std::string("--functional is not available for ") + name(op.kind) + " in this build", "--functional", "");
  }
  return f;
}

RunResult run_functional(const ChipModel& chip, const OpSpec& op, FunctionalSetup& f, bool trace,
                         TraceObserver* sink) {
  return run_functional(chip, chip.lower(op, f.options), op, f, trace, sink);
}

RunResult run_functional(const ChipModel& chip, const KernelPrograms& lowered, const OpSpec& op, FunctionalSetup& f, bool trace,
                         TraceObserver* sink) {
  RunOptions ro;
  ro.trace = trace;
  ro.trace_sink = sink;
  ro.tensors = &f.store;
  return simulate(chip, {lowered}, ro, op.dtype);
}

KernelRun run_kernel(const ChipModel& chip, const OpSpec& op, bool functional, bool trace, TraceObserver* sink,
                     const LowerOptions& bench, bool keep_chip) {
  KernelRun out;
  RunOptions ro;
  ro.keep_chip = keep_chip;
  ro.trace = trace;
  ro.trace_sink = sink;
  if (functional) {
    FunctionalSetup f = functional_setup(op);
    // A chip that runs these products in another type (Maia 200 converts a bf16 matmul to fp8: bf16_matmul) is held to
    // that type's tolerance: a bf16 GEMM there printed FAIL at 3% error, the fp8 rounding it models.
    const DType rate = chip.matmul_rate_dtype(op.dtype);
    if ((op.kind == OpKind::Gemm || op.kind == OpKind::GroupedGemm) && rate != op.dtype)
      f.tolerance = std::max(f.tolerance, tolerance_for(rate, op.k));
    out.result = run_functional(chip, op, f, trace, sink);
    const Mat& got = f.store.get(f.store.find(f.output));
    double max_abs = 0, max_ref = 0;
    for (size_t i = 0; i < got.v.size(); ++i) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(got.v[i]) - f.reference.v[i]));
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(f.reference.v[i])));
    }
    out.check.ran = true;
    out.check.max_abs_error = max_abs;
    out.check.max_rel_error = max_ref > 0 ? max_abs / max_ref : max_abs;
    out.check.tolerance = f.tolerance;
    out.check.passed = out.check.max_rel_error <= f.tolerance;
    out.check.output_tensor = f.output;
  } else {
    LowerOptions lo;
    lo.input_working_set = bench.input_working_set;
    lo.gemm_block = bench.gemm_block;
    KernelPrograms progs = chip.lower(op, lo);
    if (!progs.empty()) progs.front().dirty_cache_bytes = bench.flush_bytes;  // the flush ran just before the first launch
    out.result = simulate(chip, {progs}, ro, op.dtype);
  }
  return out;
}

void apply_power(RunResult& r, const PowerResult& p) {
  if (!p.ran_off_nominal()) return;  // ran at the nominal clock throughout: the simulated figures stand
  // Every figure of the one simulation at the nominal clock, taken to the clocks the power manager ran it
  // at (at_clock: each kernel's time at those clocks); the trace keeps the simulated times.
  const double nominal_hz = r.clock_hz;
  for (auto& k : r.kernels) {
    EnergyEvents ek = p.events_of(k.events);
    const double launch = k.time_s - k.exec_s;
    k.time_s = ek.time_s;
    k.exec_s = std::max(0.0, ek.time_s - launch);
    k.events = ek;
  }
  EnergyEvents e = p.events_of(r.events);
  if (r.events.time_s > 0) r.latency_s *= e.time_s / r.events.time_s;
  r.events = e;
  r.tflops = r.latency_s > 0 ? r.flops / r.latency_s / 1e12 : 0;
  r.share_of_peak = r.peak_tflops > 0 ? r.tflops / r.peak_tflops : 0;
  r.clock_ratio = p.clock_ratio;
  r.clock_hz = nominal_hz * p.clock_ratio;
}

double checked_after_runs(double runs) {
  if (!std::isfinite(runs) || runs < 0 || runs > 1e9)
    throw InputError("--after-runs " + strformat("%g", runs) + ": expected a number of warm-up runs from 0 to 1e9", "--after-runs", strformat("%g", runs));
  return runs;
}

KernelStudy run_kernel_study(const ChipModel& chip, const OpSpec& op, const KernelStudyOptions& opt) {
  if (opt.sustained && opt.after_runs >= 0)
    throw InputError("kernel: --sustained and --after-runs are two answers to one question: give one of them", "--sustained", "")
        .mentioning("--after-runs", "");
  KernelStudy st;
  LowerOptions bench;
  bench.input_working_set = opt.input_working_set;
  bench.gemm_block = opt.gemm_block;
  bench.flush_bytes = opt.flush_bytes;
  st.run = run_kernel(chip, op, opt.functional, opt.trace, opt.trace_sink, bench, opt.keep_chip);
  st.power = opt.after_runs >= 0 ? power_after_runs(chip, st.run.result.events, opt.after_runs)
                                 : manage_power(chip, st.run.result.events, opt.sustained);
  apply_power(st.run.result, st.power);
  return st;
}

}  // namespace xpu
