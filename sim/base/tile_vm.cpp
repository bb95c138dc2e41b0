// Interpreter for the functional tile operations.
#include "sim/base/tile_vm.h"

#include <cmath>
#include <stdexcept>

namespace xpu {

int TensorStore::add(const std::string& name, Mat m) {
  m_tensors.push_back(std::move(m));
  m_names.push_back(name);
  return static_cast<int>(m_tensors.size() - 1);
}

int TensorStore::find(const std::string& name) const {
  for (size_t i = 0; i < m_names.size(); ++i)
    if (m_names[i] == name) return static_cast<int>(i);
  return -1;
}

namespace {
float unary(Unary u, float x, float s) {
  switch (u) {
    case Unary::Exp: return std::exp(x);
    case Unary::Silu: return x / (1.f + std::exp(-x));
    case Unary::Gelu: return 0.5f * x * (1.f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
    case Unary::Rsqrt: return 1.f / std::sqrt(x);
    case Unary::Square: return x * x;
    case Unary::Neg: return -x;
    case Unary::Scale: return x * s;
    case Unary::AddScalar: return x + s;
    case Unary::Recip: return 1.f / x;
    case Unary::Identity: return x;
    case Unary::Round: return x;
    case Unary::Log: return std::log(x);
  }
  return x;
}
float binary(Binary b, float x, float y) {
  switch (b) {
    case Binary::Add: return x + y;
    case Binary::Sub: return x - y;
    case Binary::Mul: return x * y;
    case Binary::Max: return std::fmax(x, y);
    case Binary::Div: return x / y;
    case Binary::ExpDiff: return x == -INFINITY ? 0.f : std::exp(x - y);
    case Binary::SafeDiv: return y == 0.f ? 0.f : x / y;
  }
  return x;
}
// Rotary embedding of the rows of x (rotate_half over each head of head_dim columns).
Mat rope(const FuncOp& op, const Mat& x, const Mat& inv_freq, const Mat& positions) {
  const int hd = op.pos.head_dim, half = hd / 2;
  if (hd <= 0 || hd % 2 != 0 || x.cols % hd != 0 || inv_freq.cols * inv_freq.rows != half || positions.rows != x.rows)
    throw std::logic_error("functional Rope shape mismatch");
  Mat m(x.rows, x.cols);
  for (int i = 0; i < x.rows; ++i) {
    float pos = positions.at(i, 0);
    for (int t = 0; t < half; ++t) {
      // As Hugging Face computes it: fp32 angle, fp32 cos/sin.
      float angle = pos * inv_freq.v[static_cast<size_t>(t)];
      float c = std::cos(angle), s = std::sin(angle);
      for (int h0 = 0; h0 < x.cols; h0 += hd) {
        float x1 = x.at(i, h0 + t), x2 = x.at(i, h0 + t + half);
        m.at(i, h0 + t) = round_to(op.dtype, x1 * c - x2 * s);
        m.at(i, h0 + t + half) = round_to(op.dtype, x2 * c + x1 * s);
      }
    }
  }
  return m;
}
}  // namespace

void TileVM::exec(const FuncOp& op) {
  switch (op.code) {
    case FuncCode::Load: {
      const Mat& t = m_store.get(op.view.tensor);
      int r = op.view.transpose ? op.view.cols : op.view.rows;
      int c = op.view.transpose ? op.view.rows : op.view.cols;
      Mat m(r, c);
      for (int i = 0; i < op.view.rows; ++i)
        for (int j = 0; j < op.view.cols; ++j) {
          int gr = op.view.row0 + i, gc = op.view.col0 + j;
          float x = (gr < t.rows && gc < t.cols) ? round_to(op.dtype, t.at(gr, gc)) : 0.f;
          if (op.view.transpose) m.at(j, i) = x;
          else m.at(i, j) = x;
        }
      m_bufs[op.dst] = std::move(m);
      break;
    }
    case FuncCode::Store:
    case FuncCode::StoreAdd: {
      Mat& t = m_store.get(op.view.tensor);
      const Mat& m = m_bufs.at(op.a);
      for (int i = 0; i < op.view.rows; ++i)
        for (int j = 0; j < op.view.cols; ++j) {
          int gr = op.view.row0 + i, gc = op.view.col0 + j;
          if (gr >= t.rows || gc >= t.cols) continue;
          float x = op.view.transpose ? m.at(j, i) : m.at(i, j);
          if (op.code == FuncCode::StoreAdd) t.at(gr, gc) += x;
          else t.at(gr, gc) = round_to(op.dtype, x);
        }
      break;
    }
    case FuncCode::Zero: m_bufs[op.dst] = Mat(op.rows, op.cols); break;
    case FuncCode::MatMul:
    case FuncCode::MatMulT: {
      const Mat& a = m_bufs.at(op.a);
      const Mat& b = m_bufs.at(op.b);
      Mat& d = m_bufs.at(op.dst);
      bool t = op.code == FuncCode::MatMulT;
      int n = t ? b.rows : b.cols, k = t ? b.cols : b.rows;
      if (a.cols != k || d.rows != a.rows || d.cols != n)
        throw std::logic_error("functional MatMul shape mismatch");
      for (int i = 0; i < a.rows; ++i)
        for (int kk = 0; kk < k; ++kk) {
          float x = round_to(op.dtype, a.at(i, kk));
          if (x == 0.f) continue;
          for (int j = 0; j < n; ++j) d.at(i, j) += x * round_to(op.dtype, t ? b.at(j, kk) : b.at(kk, j));
        }
      break;
    }
    case FuncCode::Unary: {
      Mat m = m_bufs.at(op.a);
      for (float& x : m.v) x = round_to(op.dtype, unary(static_cast<Unary>(op.sub), x, op.s));
      m_bufs[op.dst] = std::move(m);
      break;
    }
    case FuncCode::Binary: {
      const Mat& a = m_bufs.at(op.a);
      const Mat& b = m_bufs.at(op.b);
      int r = std::max(a.rows, b.rows), c = std::max(a.cols, b.cols);
      Mat m(r, c);
      auto get = [](const Mat& x, int i, int j) { return x.at(x.rows == 1 ? 0 : i, x.cols == 1 ? 0 : j); };
      for (int i = 0; i < r; ++i)
        for (int j = 0; j < c; ++j)
          m.at(i, j) = round_to(op.dtype, binary(static_cast<Binary>(op.sub), get(a, i, j), get(b, i, j)));
      m_bufs[op.dst] = std::move(m);
      break;
    }
    case FuncCode::RowReduce: {
      const Mat& a = m_bufs.at(op.a);
      Mat m(a.rows, 1);
      for (int i = 0; i < a.rows; ++i) {
        float acc = static_cast<Reduce>(op.sub) == Reduce::Max ? -INFINITY : 0.f;
        for (int j = 0; j < a.cols; ++j)
          acc = static_cast<Reduce>(op.sub) == Reduce::Max ? std::fmax(acc, a.at(i, j)) : acc + a.at(i, j);
        m.at(i, 0) = acc;
      }
      m_bufs[op.dst] = std::move(m);
      break;
    }
    case FuncCode::Copy: m_bufs[op.dst] = m_bufs.at(op.a); break;
    case FuncCode::Fill: m_bufs[op.dst] = Mat(op.rows, op.cols, op.s); break;
    case FuncCode::Mask: {
      Mat m = m_bufs.at(op.a);
      const auto& p = op.pos;
      for (int i = 0; i < m.rows; ++i) {
        long long q = static_cast<long long>(p.q0) + (p.period > 0 ? i % p.period : i);
        for (int j = 0; j < m.cols; ++j) {
          long long k = static_cast<long long>(p.k0) + j;
          bool hide = (p.causal && k > q) || (p.window > 0 && k <= q - p.window) || k >= p.limit;
          if (hide) m.at(i, j) = -INFINITY;
        }
      }
      m_bufs[op.dst] = std::move(m);
      break;
    }
    case FuncCode::Rope: m_bufs[op.dst] = rope(op, m_bufs.at(op.a), m_bufs.at(op.b), m_bufs.at(op.c)); break;
  }
  for (const FuncOp& next : op.then) exec(next);
}

}  // namespace xpu
