// Reference kernels for functional mode (plain C++, double precision): random inputs rounded to a dtype,
// the tolerance a dtype allows, and direct evaluations of attention and the row-wise ops.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "sim/base/tile_vm.h"
#include "workloads/op.h"

namespace xpu {

Mat random_mat(int r, int c, std::mt19937& rng, DType d, float scale = 1.f);
// Largest error allowed relative to the largest |reference| for an output in dtype d after a k-long sum.
double tolerance_for(DType d, std::int64_t k);
// Per group g: C_g = A_g @ B_g (A rows of group g, B rows g*k..(g+1)*k), operands rounded to the MMA dtype.
Mat gemm_reference(const OpSpec& op, const Mat& a, const Mat& b, const std::vector<std::int64_t>& groups);
// Q, K, V as the kernel loads them (K/V in the KV dtype, MMA operands in the MMA dtype), queries at the
// last seq_q positions.
Mat attention_reference(const OpSpec& op, const Mat& q, const Mat& k, const Mat& v);
// The row-wise op of `op` on the tensors named X, W, B, R, positions, inv_freq of `st`.
Mat rowwise_reference(const OpSpec& op, const TensorStore& st);

}  // namespace xpu
