// Functional semantics of tile programs: a tiny interpreter over task-local fp32 buffers and global
// tensors, so that a lowering's transactions compute the real result at small sizes (--functional).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/base/dtype.h"

namespace xpu {

// A row-major fp32 matrix (global tensors and task-local buffers alike).
struct Mat {
  int rows = 0, cols = 0;
  std::vector<float> v;
  Mat() = default;
  Mat(int r, int c, float fill = 0.f) : rows(r), cols(c), v(static_cast<size_t>(r) * c, fill) {}
  float& at(int r, int c) { return v[static_cast<size_t>(r) * cols + c]; }
  float at(int r, int c) const { return v[static_cast<size_t>(r) * cols + c]; }
};

// A rectangle of a global 2-D tensor (batches and heads are folded into rows by the lowering).
struct View {
  int tensor = -1;
  int row0 = 0, col0 = 0, rows = 0, cols = 0;
  bool transpose = false;  // load/store the transpose of the rectangle
};

enum class FuncCode : std::uint8_t {
  Load,      // buf[dst] = round(tensor[view])       (rows beyond the tensor read as 0: padding)
  Store,     // tensor[view] = round(buf[a])         (only the part inside the tensor)
  StoreAdd,  // tensor[view] += buf[a]               (split-K partial sums)
  Zero,      // buf[dst] = zeros(rows, cols)
  MatMul,    // buf[dst] += buf[a] @ buf[b]          (fp32 accumulation; inputs rounded to dtype)
  MatMulT,   // buf[dst] += buf[a] @ buf[b]^T
  Unary,     // buf[dst] = f(buf[a])                 (f = unary code, scalar s)
  Binary,    // buf[dst] = g(buf[a], buf[b])         (broadcasts a column (r x 1) or row (1 x c))
  RowReduce, // buf[dst] = reduce over columns of buf[a]  (r x 1)
  Copy,      // buf[dst] = buf[a]
  Fill,      // buf[dst] = full(rows, cols, s)  (e.g. -inf for a running max)
  Mask,      // buf[dst] = buf[a] with masked (query, key) pairs set to -inf (see PosArgs)
  Rope,      // buf[dst] = rotary embedding of buf[a] (rows x heads*head_dim, pos.head_dim) with
             // inverse frequencies buf[b] (1 x head_dim/2) at positions buf[c] (rows x 1)
};
enum class Unary : std::uint8_t { Exp, Silu, Gelu, Rsqrt, Square, Neg, Scale, AddScalar, Recip, Identity, Round, Log };
// ExpDiff: exp(x - y), and 0 where x is -inf (masked scores, an empty running max).
// SafeDiv: x / y, and 0 where y is 0 (a query row that saw no key).
enum class Binary : std::uint8_t { Add, Sub, Mul, Max, Div, ExpDiff, SafeDiv };
enum class Reduce : std::uint8_t { Sum, Max };

struct FuncOp {
  FuncCode code = FuncCode::Zero;
  std::uint8_t sub = 0;     // Unary/Binary/Reduce code
  DType dtype = DType::fp32;  // rounding applied to loads/stores and MMA inputs
  int dst = -1, a = -1, b = -1;
  int c = -1;               // third operand (Rope: positions)
  int rows = 0, cols = 0;   // for Zero
  float s = 0.f;            // scalar operand
  View view;
  // Mask: row i is query position q0 + i % period (period 0: q0 + i), column j key position k0 + j;
  // it hides key > query when causal, key <= query - window when window > 0, and key >= limit.
  // Rope: head_dim; each head_dim-wide group of columns is one head, rotated Hugging Face style
  // (rotate_half: element t pairs with t + head_dim/2).
  struct PosArgs {
    int q0 = 0, period = 0, k0 = 0, window = 0, head_dim = 0;
    int limit = 0x7fffffff;
    bool causal = false;
  } pos;
  // Further steps carried by the same transaction (one DMA that fills two buffers, one vector
  // instruction that is several elementwise passes), executed in order after this one.
  std::vector<FuncOp> then;
};

// Builders, so that a lowering's functional steps read like the kernel they describe.
namespace fop {
inline FuncOp load(int dst, int tensor, int row0, int col0, int rows, int cols, DType d) {
  FuncOp f;
  f.code = FuncCode::Load;
  f.dst = dst;
  f.dtype = d;
  f.view = {tensor, row0, col0, rows, cols};
  return f;
}
inline FuncOp store(int a, int tensor, int row0, int col0, int rows, int cols, DType d) {
  FuncOp f = load(-1, tensor, row0, col0, rows, cols, d);
  f.code = FuncCode::Store;
  f.a = a;
  return f;
}
inline FuncOp fill(int dst, int rows, int cols, float value) {
  FuncOp f;
  f.code = FuncCode::Fill;
  f.dst = dst;
  f.rows = rows;
  f.cols = cols;
  f.s = value;
  return f;
}
inline FuncOp unary(Unary u, int dst, int a, float s = 0.f) {
  FuncOp f;
  f.code = FuncCode::Unary;
  f.sub = static_cast<std::uint8_t>(u);
  f.dst = dst;
  f.a = a;
  f.s = s;
  return f;
}
inline FuncOp binary(Binary b, int dst, int a, int bb) {
  FuncOp f;
  f.code = FuncCode::Binary;
  f.sub = static_cast<std::uint8_t>(b);
  f.dst = dst;
  f.a = a;
  f.b = bb;
  return f;
}
inline FuncOp reduce(Reduce r, int dst, int a) {
  FuncOp f;
  f.code = FuncCode::RowReduce;
  f.sub = static_cast<std::uint8_t>(r);
  f.dst = dst;
  f.a = a;
  return f;
}
// buf[dst] += buf[a] @ buf[b] (or @ buf[b]^T), inputs rounded to `d` as the tensor cores take them.
inline FuncOp matmul(int dst, int a, int b, DType d, bool transpose_b = false) {
  FuncOp f;
  f.code = transpose_b ? FuncCode::MatMulT : FuncCode::MatMul;
  f.dst = dst;
  f.a = a;
  f.b = b;
  f.dtype = d;
  return f;
}
inline FuncOp copy(int dst, int a) {
  FuncOp f;
  f.code = FuncCode::Copy;
  f.dst = dst;
  f.a = a;
  return f;
}
// One transaction's steps, in order.
inline FuncOp seq(std::vector<FuncOp> steps) {
  FuncOp first = steps.front();
  first.then.insert(first.then.end(), steps.begin() + 1, steps.end());
  return first;
}
}  // namespace fop

// Global tensors of one functional run, by id.
class TensorStore {
 public:
  int add(const std::string& name, Mat m);
  Mat& get(int id) { return m_tensors.at(id); }
  const Mat& get(int id) const { return m_tensors.at(id); }
  int find(const std::string& name) const;
  size_t size() const { return m_tensors.size(); }

 private:
  std::vector<Mat> m_tensors;
  std::vector<std::string> m_names;
};

// Executes FuncOps of one task against its local buffers.
class TileVM {
 public:
  explicit TileVM(TensorStore& store) : m_store(store) {}
  void exec(const FuncOp& op);
  Mat& buf(int id) { return m_bufs[id]; }
  void reset() { m_bufs.clear(); }

 private:
  TensorStore& m_store;
  std::map<int, Mat> m_bufs;
};

}  // namespace xpu
