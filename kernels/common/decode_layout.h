// The decode-attention work layout shared by the families whose executors have a fixed row budget.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/common/lowering.h"

namespace xpu {

// Decode attention on executors with a fixed row budget (Maia tiles, NeuronCores): the group's query
// heads x seq_q tokens are stacked into passes of at most `max_rows` rows, and the KV sequence of
// `kv_tiles` tiles is split over the `executors` when (sequence, KV head) pairs leave some idle.
struct DecodeLayout {
  std::int64_t rows_per_pass = 0, passes = 0, splits = 1;
};
inline DecodeLayout decode_layout(const OpSpec& op, std::int64_t max_rows, std::int64_t kv_tiles, std::int64_t executors) {
  const std::int64_t stacked = op.heads / op.kv_heads * op.seq_q, units = op.batch * op.kv_heads;
  DecodeLayout l{std::min<std::int64_t>(max_rows, stacked), ceil_div(stacked, max_rows), 1};
  if (units < executors) l.splits = std::max<std::int64_t>(1, std::min<std::int64_t>(kv_tiles, ceil_div(executors, units)));
  return l;
}

}  // namespace xpu
