// The hybrid stream-K decomposition of a tiled GEMM (see stream_k.h for its sources).
#include "kernels/common/stream_k.h"

#include <algorithm>

namespace xpu {

namespace {
// source: CUTLASS 3 sm90 stream-K scheduler params, min_iters_per_sk_unit_ = 8 (fewest K iterations a unit gets)
constexpr std::int64_t kMinItersPerUnit = 8;

// The unit whose range holds stream-K iteration `i`.
std::int64_t unit_of(const StreamKPlan& p, std::int64_t i) {
  std::int64_t u = i * p.sk_units / p.sk_iters();
  while (u + 1 < p.sk_units && p.begin(u + 1) <= i) ++u;
  while (u > 0 && p.begin(u) > i) --u;
  return u;
}
}  // namespace

StreamKPlan plan_stream_k(std::int64_t tiles, std::int64_t ksteps, std::int64_t slots) {
  StreamKPlan p;
  if (slots <= 0 || tiles <= 0) return p;
  const std::int64_t full = tiles / slots;
  if (tiles % slots == 0 || ksteps <= kMinItersPerUnit) return p;  // whole waves, or no K to split
  // CUTLASS's heuristic (get_num_sk_tiles, DecompositionMode::Heuristic): a tail of half a wave or more
  // stays data-parallel.
  if (2 * (tiles % slots) >= slots) return p;
  const std::int64_t dp_waves = full > 1 ? full - 1 : 0;
  p.ksteps = ksteps;
  p.dp_tiles = dp_waves * slots;
  p.sk_tiles = tiles - p.dp_tiles;
  p.sk_units = std::min(slots, p.sk_tiles * ksteps / kMinItersPerUnit);
  if (p.sk_units <= 0) return StreamKPlan{};
  return p;
}

std::vector<StreamKSegment> stream_k_segments(const StreamKPlan& p, std::int64_t unit) {
  std::vector<StreamKSegment> segs;
  const std::int64_t end = p.begin(unit + 1);
  for (std::int64_t i = p.begin(unit); i < end;) {
    const std::int64_t tile = i / p.ksteps, tile_end = std::min(end, (tile + 1) * p.ksteps);
    const std::int64_t owner = unit_of(p, tile * p.ksteps);
    segs.push_back({tile, i - tile * p.ksteps, tile_end - tile * p.ksteps, static_cast<int>(unit - owner)});
    i = tile_end;
  }
  return segs;
}

int stream_k_contributors(const StreamKPlan& p, std::int64_t tile) {
  return static_cast<int>(unit_of(p, (tile + 1) * p.ksteps - 1) - unit_of(p, tile * p.ksteps) + 1);
}

}  // namespace xpu
