// Compiled shape buckets (transformers-neuronx's defaults and its bucket search).
#include "workloads/buckets.h"

#include <algorithm>
#include <cmath>

namespace xpu {

ShapeBuckets tnx_default_buckets(std::int64_t n_positions) {
  const std::int64_t kFirstTokenBucket = 128;  // utils.power_of_two_bucket_sizes(128, n_positions)
  ShapeBuckets b;
  for (std::int64_t t = kFirstTokenBucket; t < n_positions; t *= 2) b.token.push_back(t);
  b.token.push_back(n_positions);
  for (std::int64_t t : b.token) b.context.push_back(t / 2);
  return b;
}

std::vector<std::int64_t> nxdi_default_buckets(std::int64_t max_length) {
  const std::int64_t kMinLength = 128;  // the callers' generate_buckets(128, ...)
  if (max_length == kMinLength) return {max_length};
  const auto lo = static_cast<int>(std::log2(static_cast<double>(kMinLength)));
  const auto hi = static_cast<int>(std::lround(std::log2(static_cast<double>(max_length))));
  std::vector<std::int64_t> b;
  for (int i = lo; i < hi; ++i) b.push_back(std::int64_t{1} << i);
  b.push_back(max_length);
  return b;
}

std::int64_t bucket_for(const std::vector<std::int64_t>& buckets, std::int64_t size) {
  if (buckets.empty()) return size;
  const auto it = std::lower_bound(buckets.begin(), buckets.end(), size);
  return it == buckets.end() ? buckets.back() : *it;
}

}  // namespace xpu
