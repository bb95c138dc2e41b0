// Reference evaluations of the ops in double precision, from inputs rounded as the kernels load them:
// what functional mode checks a simulated kernel's output against.
#include "kernels/reference/reference.h"

#include <algorithm>
#include <cmath>

namespace xpu {

Mat random_mat(int r, int c, std::mt19937& rng, DType d, float scale) {
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

// Reference attention in double precision: Q, K, V as the kernel loads them (K/V in the KV dtype,
// both MMA operands in the MMA dtype), queries at the last seq_q positions.
Mat attention_reference(const OpSpec& op, const Mat& q, const Mat& k, const Mat& v) {
  const std::int64_t d = op.head_dim, dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  const std::int64_t group = op.heads / op.kv_heads, offset = op.seq_kv - op.seq_q;
  const DType mm = op.dtype;
  Mat out(static_cast<int>(op.batch * op.heads * op.seq_q), static_cast<int>(dv));
  std::vector<double> p(static_cast<size_t>(op.seq_kv));
  for (std::int64_t b = 0; b < op.batch; ++b)
    for (std::int64_t h = 0; h < op.heads; ++h)
      for (std::int64_t i = 0; i < op.seq_q; ++i) {
        int qr = static_cast<int>((b * op.heads + h) * op.seq_q + i);
        std::int64_t kv0 = (b * op.kv_heads + h / group) * op.seq_kv, pos = offset + i;
        double mx = -INFINITY;
        for (std::int64_t j = 0; j < op.seq_kv; ++j) {
          bool vis = (!op.causal || j <= pos) && (op.window <= 0 || j > pos - op.window);
          if (!vis) {
            p[static_cast<size_t>(j)] = -INFINITY;
            continue;
          }
          double acc = 0;
          for (std::int64_t c = 0; c < d; ++c)
            acc += static_cast<double>(round_to(mm, q.at(qr, static_cast<int>(c)))) *
                   round_to(mm, k.at(static_cast<int>(kv0 + j), static_cast<int>(c)));
          p[static_cast<size_t>(j)] = acc / std::sqrt(static_cast<double>(d));
          mx = std::max(mx, p[static_cast<size_t>(j)]);
        }
        double sum = 0;
        for (auto& x : p) sum += (x = x == -INFINITY ? 0.0 : std::exp(x - mx));
        for (std::int64_t c = 0; c < dv; ++c) {
          double acc = 0;
          for (std::int64_t j = 0; j < op.seq_kv; ++j)
            acc += p[static_cast<size_t>(j)] * round_to(mm, v.at(static_cast<int>(kv0 + j), static_cast<int>(c)));
          out.at(qr, static_cast<int>(c)) = static_cast<float>(sum > 0 ? acc / sum : 0.0);
        }
      }
  return out;
}

// Reference of the row-wise ops in double precision from the rounded inputs.
Mat rowwise_reference(const OpSpec& op, const TensorStore& st) {
  auto get = [&](const char* n) -> const Mat& { return st.get(st.find(n)); };
  const Mat& x = get("X");
  const int rows = static_cast<int>(op.rows), cols = static_cast<int>(op.cols);
  const double eps = 1e-5;
  Mat y(rows, cols);
  for (int i = 0; i < rows; ++i) {
    switch (op.kind) {
      case OpKind::RmsNorm: {
        double ss = 0;
        for (int j = 0; j < cols; ++j) ss += static_cast<double>(x.at(i, j)) * x.at(i, j);
        double r = 1.0 / std::sqrt(ss / cols + eps);
        for (int j = 0; j < cols; ++j) y.at(i, j) = static_cast<float>(x.at(i, j) * r * get("W").at(0, j));
        break;
      }
      case OpKind::LayerNorm: {
        double mean = 0, var = 0;
        for (int j = 0; j < cols; ++j) mean += x.at(i, j);
        mean /= cols;
        for (int j = 0; j < cols; ++j) var += (x.at(i, j) - mean) * (x.at(i, j) - mean);
        double r = 1.0 / std::sqrt(var / cols + eps);
        for (int j = 0; j < cols; ++j)
          y.at(i, j) = static_cast<float>((x.at(i, j) - mean) * r * get("W").at(0, j) + get("B").at(0, j));
        break;
      }
      case OpKind::Softmax: {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < cols; ++j) mx = std::max(mx, static_cast<double>(x.at(i, j)));
        for (int j = 0; j < cols; ++j) sum += std::exp(x.at(i, j) - mx);
        for (int j = 0; j < cols; ++j) y.at(i, j) = static_cast<float>(std::exp(x.at(i, j) - mx) / sum);
        break;
      }
      case OpKind::SwiGlu:
        for (int j = 0; j < cols; ++j) {
          double g = x.at(i, j), u = x.at(i, cols + j);
          y.at(i, j) = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
        }
        break;
      case OpKind::Gelu:
        for (int j = 0; j < cols; ++j) {
          double v = x.at(i, j);
          y.at(i, j) = static_cast<float>(0.5 * v * (1.0 + std::tanh(0.7978845608028654 /* sqrt(2/pi) */ * (v + 0.044715 * v * v * v))));
        }
        break;
      case OpKind::ResidualAdd:
        for (int j = 0; j < cols; ++j) y.at(i, j) = static_cast<float>(static_cast<double>(x.at(i, j)) + get("R").at(i, j));
        break;
      case OpKind::Rope: {
        const Mat& inv = get("inv_freq");
        const int half = inv.cols, hd = 2 * half;
        double pos = get("positions").at(i, 0);
        for (int t = 0; t < half; ++t) {
          double a = pos * inv.at(0, t), c = std::cos(a), s = std::sin(a);
          for (int h0 = 0; h0 < cols; h0 += hd) {
            double x1 = x.at(i, h0 + t), x2 = x.at(i, h0 + t + half);
            y.at(i, h0 + t) = static_cast<float>(x1 * c - x2 * s);
            y.at(i, h0 + t + half) = static_cast<float>(x2 * c + x1 * s);
          }
        }
        break;
      }
      default: break;
    }
  }
  return y;
}

Mat gemm_reference(const OpSpec& op, const Mat& a, const Mat& b, const std::vector<std::int64_t>& groups) {
  std::int64_t rows = 0;
  for (auto g : groups) rows += g;
  Mat ref(static_cast<int>(rows), static_cast<int>(op.n));
  DType mm = op.dtype == DType::fp32 ? DType::tf32 : op.dtype;
  std::int64_t r0 = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (std::int64_t i = 0; i < groups[g]; ++i)
      for (std::int64_t j = 0; j < op.n; ++j) {
        double acc = 0;
        for (std::int64_t kk = 0; kk < op.k; ++kk)
          acc += static_cast<double>(round_to(mm, a.at(static_cast<int>(r0 + i), static_cast<int>(kk)))) *
                 round_to(mm, b.at(static_cast<int>(g * op.k + static_cast<std::int64_t>(kk)), static_cast<int>(j)));
        ref.at(static_cast<int>(r0 + i), static_cast<int>(j)) = static_cast<float>(acc);
      }
    r0 += groups[g];
  }
  return ref;
}

}  // namespace xpu
