// Names, closed-form FLOP/byte counts and validation of operator descriptions.
#include "workloads/op.h"

#include <sstream>

#include "sim/base/error.h"
#include "sim/base/nearest_name.h"
#include "sim/base/limits.h"
#include "sim/base/units.h"

namespace xpu {

namespace {
struct KindName {
  OpKind kind;
  const char* name;
};
const KindName kKinds[] = {
    {OpKind::Gemm, "gemm"},         {OpKind::GroupedGemm, "grouped_gemm"}, {OpKind::Attention, "attention"},
    {OpKind::RmsNorm, "rmsnorm"},   {OpKind::LayerNorm, "layernorm"},      {OpKind::Softmax, "softmax"},
    {OpKind::SwiGlu, "swiglu"},     {OpKind::Gelu, "gelu"},                {OpKind::Rope, "rope"},
    {OpKind::ResidualAdd, "residual_add"}, {OpKind::Embedding, "embedding"}, {OpKind::TopK, "topk"},
    {OpKind::Sampling, "sampling"}, {OpKind::Copy, "copy"}, {OpKind::Sum, "sum"}, {OpKind::AllReduce, "allreduce"}, {OpKind::AllToAll, "alltoall"},
    {OpKind::ReduceScatter, "reducescatter"}, {OpKind::AllGather, "allgather"},
};
}  // namespace

bool is_collective(OpKind k) {
  return k == OpKind::AllReduce || k == OpKind::AllToAll || k == OpKind::ReduceScatter || k == OpKind::AllGather;
}

const char* name(OpKind k) {
  for (const auto& kn : kKinds)
    if (kn.kind == k) return kn.name;
  return "?";
}

const std::vector<std::string>& op_kind_names() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> out;
    for (const auto& kn : kKinds) out.push_back(kn.name);
    return out;
  }();
  return v;
}

OpKind parse_op_kind(const std::string& s) {
  for (const auto& kn : kKinds)
    if (s == kn.name) return kn.kind;
  throw InputError("unknown op '" + s + "'; valid ops: " + join(op_kind_names()) + hint_clause(nearest_name(s, op_kind_names())), "", s);
}

namespace {
// Number of (query, key) pairs a query block attends to, with causal masking and a sliding window.
double attended_pairs(const OpSpec& o) {
  double total = 0;
  double offset = static_cast<double>(o.seq_kv - o.seq_q);  // queries are the last seq_q positions
  if (!o.causal && o.window <= 0) return static_cast<double>(o.seq_q) * o.seq_kv;
  for (std::int64_t q = 0; q < o.seq_q; ++q) {
    double visible = o.causal ? offset + q + 1 : static_cast<double>(o.seq_kv);
    if (o.window > 0 && visible > o.window) visible = static_cast<double>(o.window);
    total += visible;
  }
  return total;
}
}  // namespace

double OpSpec::flops() const {
  switch (kind) {
    case OpKind::Gemm: return 2.0 * batch * m * n * k;
    case OpKind::GroupedGemm: {
      double rows_total = 0;
      for (auto r : group_rows) rows_total += static_cast<double>(r);
      return 2.0 * rows_total * n * k;
    }
    case OpKind::Attention: {
      double pairs = attended_pairs(*this);
      double dv = head_dim_v > 0 ? head_dim_v : head_dim;
      return 2.0 * batch * heads * pairs * (head_dim + dv);
    }
    case OpKind::RmsNorm: return 4.0 * rows * cols;  // a fused residual add's FLOPs stay its own node's
    case OpKind::LayerNorm: return 7.0 * rows * cols;
    case OpKind::Softmax: return 5.0 * rows * cols;
    case OpKind::SwiGlu: return 5.0 * rows * cols;
    case OpKind::Gelu: return 8.0 * rows * cols;
    case OpKind::Rope: return 3.0 * rows * cols;
    case OpKind::ResidualAdd: return (addends - 1.0) * rows * cols;
    case OpKind::Embedding: return 0;
    case OpKind::TopK: return 6.0 * rows * cols;
    case OpKind::Sampling: return 6.0 * rows * cols;
    case OpKind::Copy: return 1.0 * rows * cols;
    case OpKind::Sum: return 1.0 * rows * cols;
    case OpKind::AllReduce: return m;  // one add per element-byte is negligible; counted as bytes
    case OpKind::ReduceScatter: return m;
    case OpKind::AllToAll:
    case OpKind::AllGather: return 0;
  }
  return 0;
}

double OpSpec::min_bytes() const {
  double a = bytes_per_element(dtype), w = bytes_per_element(wdtype), o = bytes_per_element(odtype);
  switch (kind) {
    case OpKind::Gemm:
      return batch * (m * k * a + k * n * w + m * n * o);
    case OpKind::GroupedGemm: {
      double rows_total = 0;
      double active = 0;
      for (auto r : group_rows) {
        rows_total += static_cast<double>(r);
        if (r > 0) active += 1;
      }
      return rows_total * k * a + active * k * n * w + rows_total * n * o;
    }
    case OpKind::Attention: {
      double dv = head_dim_v > 0 ? head_dim_v : head_dim;
      double q = static_cast<double>(batch) * heads * seq_q * head_dim * a;
      double out = static_cast<double>(batch) * heads * seq_q * dv * o;
      double kv_len = (window > 0 && window < seq_kv) ? static_cast<double>(window + seq_q - 1 < seq_kv ? window + seq_q - 1 : seq_kv)
                                                      : static_cast<double>(seq_kv);
      double kv = static_cast<double>(batch) * kv_heads * kv_len * (head_dim + dv) * w;
      return q + kv + out;
    }
    case OpKind::RmsNorm: return rows * cols * (a + o + (fused_add_norm() ? 2 * a : 0)) + cols * w;  // residual in and out
    case OpKind::LayerNorm: return rows * cols * (a + o) + 2 * cols * w;
    case OpKind::Softmax: return rows * cols * (a + o);
    case OpKind::SwiGlu: return rows * cols * (2 * a + o);
    case OpKind::Gelu: return rows * cols * (a + o);
    case OpKind::Rope: return rows * cols * (a + o);
    case OpKind::ResidualAdd: return rows * cols * (addends * a + o);
    case OpKind::Embedding: return rows * cols * (w + o) + rows * 4.0;
    case OpKind::TopK: return rows * cols * a + rows * topk * 8.0;
    case OpKind::Sampling: return rows * cols * a + rows * 8.0;
    case OpKind::Copy: return rows * cols * (a + o);
    case OpKind::Sum: return rows * cols * a + rows * o;
    case OpKind::AllReduce: return 2.0 * m;
    case OpKind::AllToAll: return 2.0 * m;
    // one side of the whole buffer plus its share of the other (m in and m/devices out, or back)
    case OpKind::ReduceScatter:
    case OpKind::AllGather: return static_cast<double>(m) + static_cast<double>(m) / static_cast<double>(devices);
  }
  return 0;
}

std::string OpSpec::shape_str() const {
  std::ostringstream os;
  switch (kind) {
    case OpKind::Gemm:
      if (batch > 1) os << "b=" << batch << " ";
      os << "m=" << m << " n=" << n << " k=" << k;
      if (fast_accum) os << " fast-accum";
      if (fp4_scale_block != kNvfp4ScaleBlock) os << " fp4-scale-block=" << fp4_scale_block;
      if (!impl.empty()) os << " impl=" << impl;
      break;
    case OpKind::GroupedGemm: {
      std::int64_t rows_total = 0;
      for (auto r : group_rows) rows_total += r;
      os << "groups=" << group_rows.size() << " rows=" << rows_total << " n=" << n << " k=" << k;
      if (!impl.empty()) os << " impl=" << impl;
      break;
    }
    case OpKind::Attention:
      os << (decode ? "decode" : "prefill") << " b=" << batch << " h=" << heads << " kv=" << kv_heads
         << " q=" << seq_q << " s=" << seq_kv << " d=" << head_dim;
      if (head_dim_v && head_dim_v != head_dim) os << "/" << head_dim_v;
      // One decode query attends to every cached key: no mask to name (a multi-token decode step is causal among its queries).
      if (causal && !(decode && seq_q == 1)) os << " causal";
      if (window > 0) os << " window=" << window;
      if (!impl.empty()) os << " impl=" << impl;
      break;
    case OpKind::AllReduce:
    case OpKind::AllToAll:
    case OpKind::ReduceScatter:
    case OpKind::AllGather: os << "bytes=" << m << " devices=" << devices; break;
    case OpKind::TopK: os << "rows=" << rows << " experts=" << cols << " k=" << topk; break;
    case OpKind::ResidualAdd:
      os << "rows=" << rows << " cols=" << cols;
      if (addends != 2) os << " addends=" << addends;
      if (!impl.empty()) os << " impl=" << impl;
      break;
    default:
      os << "rows=" << rows << " cols=" << cols;
      if (!impl.empty()) os << " impl=" << impl;
      break;
  }
  os << " " << name(dtype);
  if (wdtype != dtype && (kind == OpKind::Gemm || kind == OpKind::GroupedGemm || kind == OpKind::Attention))
    os << "/" << xpu::name(wdtype);
  return os.str();
}

namespace {
// Row-wise ops (norms, activations, rope, softmax, sums, top-k, sampling) run on the vector units (CUDA cores, TPU
// VPU, Trainium's Vector/Scalar/GpSimd engines, Maia's TVP), none of which computes in fp4 or fp6: those are GEMM
// operand formats, read with per-block scales by the tensor/matrix units only. One rule for every family.
// `output_only`: attention, whose inputs feed the tensor cores but whose output is normalized (O / l) on the vector units.
void refuse_subbyte_vector_dtypes(const OpSpec& op, bool output_only = false) {
  auto refuse = [&](DType d, const char* flag) {
    if (d != DType::fp4 && d != DType::fp6) return;
    throw InputError(std::string(name(op.kind)) + ": " + flag + " " + name(d) + ": " +
                     (output_only ? "its output is normalized" : "row-wise ops run") + " on the vector units, "
                     "which do not compute in " + name(d) + " (a block-scaled operand format of gemm and "
                     "grouped_gemm); expected an 8-bit or wider type: fp32, bf16, fp16, fp8 or int8", flag, name(d));
  };
  if (!output_only) refuse(op.dtype, "--dtype");
  refuse(op.odtype, "--odtype");
  if (!output_only) refuse(op.wdtype, "--wdtype");
}

// An operand's dimensions as the flags that give them ({"m", m}, {"k", k}, ...).
using OperandDims = std::initializer_list<std::pair<const char*, std::int64_t>>;

// Refuses an operand over the 1 TiB address region each operand gets; the flag of its largest dimension (the one to
// reduce first) is the error's data.
void check_operand(OpKind kind, double bytes, const char* what, OperandDims dims) {
  if (bytes <= kMaxOperandBytes) return;
  const auto* largest = std::max_element(dims.begin(), dims.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  throw InputError(std::string(name(kind)) + ": operand " + what + " would hold " + format_bytes(bytes) +
                       ", more than the 1 TiB address region each operand gets (reduce the dimensions: --" + largest->first + " " +
                       std::to_string(largest->second) + " is the largest)",
                   std::string("--") + largest->first, std::to_string(largest->second));
}

// The GEMM kernels an --impl may name: DeepGEMM's block-scaled one (fp4 or fp8 operands), and for a grouped GEMM also
// CUTLASS's ptr-array grouped kernel as TensorRT-LLM's MoE runner builds it.
void check_gemm_impl(const OpSpec& op) {
  if (op.impl.empty()) return;
  if (op.kind == OpKind::Gemm && (op.impl != kDeepGemmImpl || op.dtype != op.wdtype || (op.dtype != DType::fp4 && op.dtype != DType::fp8)))
    throw InputError("gemm: --impl '" + op.impl + "': expected " + kDeepGemmImpl +
                     " (DeepGEMM's block-scaled kernel, fp4 or fp8 operands) or nothing", "--impl", op.impl);
  if (op.kind == OpKind::GroupedGemm && op.impl != kDeepGemmImpl && op.impl != kCutlassPtrArrayImpl)
    throw InputError("grouped_gemm: --impl '" + op.impl + "': expected " + kDeepGemmImpl + " (DeepGEMM's grouped kernel), " +
                     kCutlassPtrArrayImpl + " (CUTLASS's ptr-array grouped kernel as TensorRT-LLM's MoE runner builds it) or nothing",
                     "--impl", op.impl);
}
}  // namespace

void OpSpec::validate() const {
  // Every dimension is bounded (kMaxDim) so that products of three stay inside 64 bits and tile counts
  // inside the 32-bit shape fields of an instruction; every operand must fit the 1 TiB address region
  // a lowering gives it. Larger ops are refused here, before anything is allocated or lowered.
  auto pos = [&](std::int64_t v, const char* what) {
    // 0 is a dimension left out (the CLI refuses an explicit 0 before this): say it is needed.
    if (v == 0) throw InputError(std::string(name(kind)) + ": --" + what + " is required (a positive integer)", std::string("--") + what, "");
    if (v < 0)
      throw InputError(std::string(name(kind)) + ": --" + what + " must be a positive integer, got " + std::to_string(v), std::string("--") + what, std::to_string(v));
    if (v > kMaxDim)
      throw InputError(std::string(name(kind)) + ": --" + what + " " + std::to_string(v) + " is larger than " +
                       std::to_string(kMaxDim) + " (2^24), the largest dimension xpusim simulates", std::string("--") + what, std::to_string(v));
  };
  auto nonneg = [&](std::int64_t v, const char* what) {
    if (v < 0)
      throw InputError(std::string(name(kind)) + ": --" + what + " must not be negative, got " + std::to_string(v), std::string("--") + what, std::to_string(v));
    if (v > kMaxDim)
      throw InputError(std::string(name(kind)) + ": --" + what + " " + std::to_string(v) + " is larger than " +
                       std::to_string(kMaxDim) + " (2^24), the largest dimension xpusim simulates", std::string("--") + what, std::to_string(v));
  };
  auto operand = [&](double elements, DType d, const char* what, OperandDims dims) { check_operand(kind, elements * bytes_per_element(d), what, dims); };
  if (fp4_scale_block != kNvfp4ScaleBlock && fp4_scale_block != kMxfp4ScaleBlock)
    throw InputError(std::string(name(kind)) + ": --fp4-scale-block " + std::to_string(fp4_scale_block) +
                     ": expected 16 (NVFP4: an e4m3 scale per 16 K elements) or 32 (MXFP4: a ue8m0 scale per 32)", "--fp4-scale-block", std::to_string(fp4_scale_block));
  switch (kind) {
    case OpKind::Gemm:
      pos(m, "m"); pos(n, "n"); pos(k, "k"); pos(batch, "batch");
      operand(static_cast<double>(batch) * m * k, dtype, "A", {{"m", m}, {"k", k}, {"batch", batch}});
      operand(static_cast<double>(batch) * k * n, wdtype, "B", {{"k", k}, {"n", n}, {"batch", batch}});
      operand(static_cast<double>(batch) * m * n, odtype, "C", {{"m", m}, {"n", n}, {"batch", batch}});
      check_gemm_impl(*this);
      break;
    case OpKind::GroupedGemm: {
      pos(n, "n"); pos(k, "k");
      if (group_rows.empty()) throw InputError("grouped_gemm: --groups: needs at least one group", "--groups", "0");
      if (static_cast<std::int64_t>(group_rows.size()) > kMaxDim)
        throw InputError("grouped_gemm: --groups " + std::to_string(group_rows.size()) + " is more than " + std::to_string(kMaxDim),
                         "--groups", std::to_string(group_rows.size()));
      double rows_total = 0;
      for (auto r : group_rows) {
        nonneg(r, "tokens");
        rows_total += static_cast<double>(r);
      }
      if (rows_total > static_cast<double>(kMaxDim))
        throw InputError("grouped_gemm: --tokens " + std::to_string(static_cast<std::int64_t>(rows_total)) + " (rows in all) is more than " +
                         std::to_string(kMaxDim) + " (2^24)", "--tokens", std::to_string(static_cast<std::int64_t>(rows_total)));
      operand(rows_total * k, dtype, "A", {{"tokens", static_cast<std::int64_t>(rows_total)}, {"k", k}});
      operand(static_cast<double>(group_rows.size()) * k * n, wdtype, "B", {{"groups", static_cast<std::int64_t>(group_rows.size())}, {"k", k}, {"n", n}});
      operand(rows_total * n, odtype, "C", {{"tokens", static_cast<std::int64_t>(rows_total)}, {"n", n}});
      check_gemm_impl(*this);
      break;
    }
    case OpKind::Attention: {
      // --seq before --seq-q: a prefill's query tokens default to --seq, so a missing --seq is what to name.
      pos(batch, "batch"); pos(heads, "heads"); pos(kv_heads, "kv-heads"); pos(seq_kv, "seq");
      pos(seq_q, "seq-q"); pos(head_dim, "head-dim");
      nonneg(head_dim_v, "head-dim-v");
      nonneg(window, "window");
      pos(page_size, "page-size");
      refuse_subbyte_vector_dtypes(*this, true);
      if (!impl.empty() && impl != "fa2" && impl != "fa3" && impl != kTnxImpl)
        throw InputError("attention: --impl '" + impl + "': expected fa2, fa3 or transformers-neuronx", "--impl", impl);
      if (heads % kv_heads != 0)
        throw InputError("attention: --heads (" + std::to_string(heads) + ") must be a multiple of --kv-heads (" +
                         std::to_string(kv_heads) + ")", "--heads", std::to_string(heads)).mentioning("--kv-heads", std::to_string(kv_heads));
      if (seq_q > seq_kv)
        throw InputError("attention: --seq-q " + std::to_string(seq_q) + " is more queries than keys (--seq " + std::to_string(seq_kv) + ")",
                         "--seq-q", std::to_string(seq_q)).mentioning("--seq", std::to_string(seq_kv));
      const double dv = static_cast<double>(head_dim_v > 0 ? head_dim_v : head_dim);
      operand(static_cast<double>(batch) * heads * seq_q * head_dim, dtype, "Q", {{"batch", batch}, {"heads", heads}, {"seq-q", seq_q}, {"head-dim", head_dim}});
      operand(static_cast<double>(batch) * kv_heads * seq_kv * (head_dim + dv), wdtype, "K/V", {{"batch", batch}, {"kv-heads", kv_heads}, {"seq", seq_kv}, {"head-dim", head_dim}});
      operand(static_cast<double>(batch) * heads * seq_q * dv, odtype, "O", {{"batch", batch}, {"heads", heads}, {"seq-q", seq_q}, {"head-dim", head_dim}});
      break;
    }
    case OpKind::AllReduce:
    case OpKind::AllToAll:
    case OpKind::ReduceScatter:
    case OpKind::AllGather:
      if (m <= 0) throw InputError(std::string(xpu::name(kind)) + ": --bytes must be a positive integer, got " + std::to_string(m), "--bytes", "");
      if (static_cast<double>(m) > kMaxOperandBytes)
        throw InputError(std::string(xpu::name(kind)) + ": --bytes " + std::to_string(m) + " is more than 1 TiB", "--bytes", std::to_string(m));
      pos(devices, "devices");
      if (devices > 65536) throw InputError(std::string(xpu::name(kind)) + ": --devices " + std::to_string(devices) + " is more than 65536", "--devices", std::to_string(devices));
      break;
    case OpKind::TopK:
      pos(rows, "rows"); pos(cols, "experts"); pos(topk, "topk");
      refuse_subbyte_vector_dtypes(*this);
      if (topk > cols)
        throw InputError("topk: --topk " + std::to_string(topk) + " must not exceed the number of experts (--experts " + std::to_string(cols) + ")", "--topk",
                         std::to_string(topk)).mentioning("--experts", std::to_string(cols));
      operand(static_cast<double>(rows) * cols, dtype, "logits", {{"tokens", rows}, {"experts", cols}});
      break;
    case OpKind::Embedding:
      pos(rows, "rows"); pos(cols, "cols");
      pos(n, "n");  // vocabulary entries of the table: the gathered rows spread over them
      operand(static_cast<double>(n) * cols, wdtype, "table", {{"n", n}, {"cols", cols}});
      operand(static_cast<double>(rows) * cols, odtype, "output", {{"tokens", rows}, {"cols", cols}});
      break;
    default:
      pos(rows, "rows"); pos(cols, "cols");
      if (kind == OpKind::ResidualAdd && (addends < 1 || addends > 1024))
        throw InputError("residual_add: addends " + std::to_string(addends) + ": expected 1 to 1024 tensors summed", "", std::to_string(addends))
            .with_key("", "addends");  // a model step's (graph.cpp), not a flag's
      if (kind != OpKind::Copy) refuse_subbyte_vector_dtypes(*this);  // a copy moves fp4 bytes (an fp4 MoE's dispatched tokens) without computing in them
      if (!impl.empty() && !fused_add_norm())
        throw InputError(std::string(name(kind)) + ": --impl '" + impl + "': expected " +
                         (kind == OpKind::RmsNorm ? "fused-add (the residual add inside the norm) or nothing"
                                                  : "nothing (only attention and rmsnorm take --impl)"), "--impl", impl);
      if (kind == OpKind::Rope) {
        nonneg(head_dim, "head-dim");
        nonneg(seq_kv, "seq");
        // It rotates pairs of a head's elements, over --cols = heads x head width (3 and 5000 ran on 4096 columns).
        if (head_dim > 0 && (head_dim % 2 != 0 || cols % head_dim != 0))
          throw InputError("rope: --head-dim " + std::to_string(head_dim) + ": expected an even head width (rope rotates "
                           "pairs of elements) that divides --cols (" + std::to_string(cols) + ")", "--head-dim", std::to_string(head_dim));
      }
      operand(static_cast<double>(rows) * cols * (kind == OpKind::SwiGlu ? 2 : 1), dtype, "X", {{"rows", rows}, {"cols", cols}});
      break;
  }
}

}  // namespace xpu
