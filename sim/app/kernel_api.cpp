#include "sim/app/kernel_api.h"

#include <cmath>
#include <random>
#include <set>

namespace xpu {

const std::vector<std::string>& kernel_arg_names() {
  static const std::vector<std::string> v = {
      "m", "n", "k", "batch", "dtype", "wdtype", "odtype", "heads", "kv-heads", "seq", "seq-q", "head-dim",
      "head-dim-v", "phase", "causal", "window", "page-size", "rows", "cols", "experts", "topk", "groups",
      "tokens", "bytes", "devices", "label"};
  return v;
}

namespace {
std::int64_t to_int(const std::string& key, const std::string& v) {
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (...) {
    used = 0;
  }
  if (used != v.size() || v.empty()) throw InputError("--" + key + ": '" + v + "' is not an integer");
  return x;
}
bool to_bool(const std::string& key, const std::string& v) {
  if (v == "1" || v == "true" || v == "yes" || v.empty()) return true;
  if (v == "0" || v == "false" || v == "no") return false;
  throw InputError("--" + key + ": '" + v + "': expected true or false");
}
}  // namespace

OpSpec make_op(const std::string& opname, const std::map<std::string, std::string>& args) {
  OpSpec op;
  op.kind = parse_op_kind(opname);
  op.label = opname;
  for (const auto& [k, v] : args) {
    bool known = false;
    for (const auto& n : kernel_arg_names()) known |= n == k;
    if (!known) {
      std::string hint = nearest_of(k, kernel_arg_names());
      throw InputError("kernel " + opname + ": unknown argument --" + k + (hint.empty() ? "" : " (did you mean --" + hint + "?)"));
    }
  }
  auto get = [&](const char* key, std::int64_t def) {
    auto it = args.find(key);
    return it == args.end() ? def : to_int(key, it->second);
  };
  auto has = [&](const char* key) { return args.count(key) != 0; };
  auto s = [&](const char* key, const std::string& def) {
    auto it = args.find(key);
    return it == args.end() ? def : it->second;
  };
  op.dtype = parse_dtype(s("dtype", "bf16"));
  op.wdtype = has("wdtype") ? parse_dtype(s("wdtype", "")) : op.dtype;
  DType out_default = op.dtype == DType::fp32 || op.dtype == DType::tf32 ? DType::fp32
                      : (bytes_per_element(op.dtype) < 2 ? DType::bf16 : op.dtype);
  op.odtype = has("odtype") ? parse_dtype(s("odtype", "")) : out_default;
  op.label = s("label", opname);
  switch (op.kind) {
    case OpKind::Gemm:
      op.m = get("m", 0), op.n = get("n", 0), op.k = get("k", 0), op.batch = get("batch", 1);
      break;
    case OpKind::GroupedGemm: {
      std::int64_t groups = get("groups", get("experts", 8));
      std::int64_t rows = get("m", get("tokens", 0));
      op.n = get("n", 0), op.k = get("k", 0);
      if (groups <= 0) throw InputError("grouped_gemm: --groups must be a positive integer");
      for (std::int64_t g = 0; g < groups; ++g) op.group_rows.push_back(rows / groups + (g < rows % groups ? 1 : 0));
      break;
    }
    case OpKind::Attention: {
      std::string phase = s("phase", "prefill");
      if (phase != "prefill" && phase != "decode")
        throw InputError("attention: --phase '" + phase + "': expected prefill or decode");
      op.decode = phase == "decode";
      op.batch = get("batch", 1), op.heads = get("heads", 0), op.kv_heads = get("kv-heads", get("heads", 0));
      op.seq_kv = get("seq", 0);
      op.seq_q = get("seq-q", op.decode ? 1 : op.seq_kv);
      op.head_dim = get("head-dim", 128);
      op.head_dim_v = get("head-dim-v", op.head_dim);
      op.causal = has("causal") ? to_bool("causal", s("causal", "")) : op.decode || true;
      op.window = get("window", 0);
      op.page_size = get("page-size", 16);
      if (!has("wdtype")) op.wdtype = op.dtype;
      break;
    }
    case OpKind::TopK:
      op.rows = get("rows", get("tokens", 0)), op.cols = get("experts", get("cols", 0)), op.topk = get("topk", 2);
      break;
    case OpKind::AllReduce:
      op.m = get("bytes", 0), op.devices = get("devices", 8);
      break;
    case OpKind::Embedding:
      op.rows = get("rows", get("tokens", 0)), op.cols = get("cols", 0), op.n = get("n", 128256);
      break;
    default:
      op.rows = get("rows", get("tokens", 0)), op.cols = get("cols", 0);
      break;
  }
  op.validate();
  return op;
}

namespace {
Mat random_mat(int r, int c, std::mt19937& rng, DType d, float scale = 1.f) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Mat m(r, c);
  for (float& x : m.v) x = round_to(d, u(rng) * scale);
  return m;
}
double tolerance_for(DType d, std::int64_t k) {
  switch (d) {
    case DType::fp32: return 1e-4;
    case DType::tf32: return 4e-3;
    case DType::bf16: return 1.6e-2;  // one bf16 rounding of the output (2^-7 relative) plus headroom
    case DType::fp16: return 2e-3;
    default: return 0.13;
  }
}
}  // namespace

FunctionalSetup functional_setup(const OpSpec& op, unsigned seed) {
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
      if (cells > 64.0 * 1024 * 1024) throw InputError("--functional is for small shapes (at most 2^26 MACs)");
      int A = add("A", random_mat(static_cast<int>(rows), static_cast<int>(op.k), rng, op.dtype));
      int B = add("B", random_mat(static_cast<int>(groups.size() * op.k), static_cast<int>(op.n), rng, op.wdtype));
      add("C", Mat(static_cast<int>(rows), static_cast<int>(op.n)));
      add("workspace", Mat(static_cast<int>(rows * 16), static_cast<int>(op.n)));
      // Reference: per group, C = A_g @ B_g in double precision, inputs as rounded.
      const Mat& a = f.store.get(A);
      const Mat& b = f.store.get(B);
      Mat ref(static_cast<int>(rows), static_cast<int>(op.n));
      DType mm = op.dtype == DType::fp32 ? DType::tf32 : op.dtype;
      std::int64_t r0 = 0;
      for (size_t g = 0; g < groups.size(); ++g) {
        for (std::int64_t i = 0; i < groups[g]; ++i)
          for (std::int64_t j = 0; j < op.n; ++j) {
            double acc = 0;
            for (std::int64_t kk = 0; kk < op.k; ++kk)
              acc += static_cast<double>(round_to(mm, a.at(static_cast<int>(r0 + i), static_cast<int>(kk)))) *
                     round_to(mm, b.at(static_cast<int>(g * op.k + kk), static_cast<int>(j)));
            ref.at(static_cast<int>(r0 + i), static_cast<int>(j)) = static_cast<float>(acc);
          }
        r0 += groups[g];
      }
      f.reference = std::move(ref);
      f.output = "C";
      f.tolerance = tolerance_for(op.odtype == DType::fp32 ? mm : op.odtype, op.k);
      break;
    }
    default:
      throw InputError(std::string("--functional is not available for ") + name(op.kind) + " in this build");
  }
  return f;
}

KernelRun run_kernel(const ChipModel& chip, const OpSpec& op, bool functional, bool trace) {
  KernelRun out;
  RunOptions ro;
  ro.trace = trace;
  if (functional) {
    FunctionalSetup f = functional_setup(op);
    ro.tensors = &f.store;
    KernelPrograms progs = chip.lower(op, f.options);
    out.result = simulate(chip, {progs}, ro, op.dtype);
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
    KernelPrograms progs = chip.lower(op, lo);
    out.result = simulate(chip, {progs}, ro, op.dtype);
  }
  return out;
}

}  // namespace xpu
