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
};
enum class Unary : std::uint8_t { Exp, Silu, Gelu, Rsqrt, Square, Neg, Scale, AddScalar, Recip, Identity, Round };
enum class Binary : std::uint8_t { Add, Sub, Mul, Max, Div };
enum class Reduce : std::uint8_t { Sum, Max };

struct FuncOp {
  FuncCode code = FuncCode::Zero;
  std::uint8_t sub = 0;     // Unary/Binary/Reduce code
  DType dtype = DType::fp32;  // rounding applied to loads/stores and MMA inputs
  int dst = -1, a = -1, b = -1;
  int rows = 0, cols = 0;   // for Zero
  float s = 0.f;            // scalar operand
  View view;
};

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
