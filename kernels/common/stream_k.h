// The hybrid stream-K decomposition of a tiled GEMM (data-parallel whole tiles + the K iterations of the last
// waves' tiles spread evenly over one wave of work units): the plan, and the K segments each unit covers.
#pragma once
#include <cstdint>
#include <vector>

namespace xpu {

// How the output tiles of a GEMM split between stream-K units and data-parallel tiles (all zero: the
// GEMM runs data-parallel). Stream-K tiles are the first `sk_tiles` in tile order; data-parallel tiles follow.
struct StreamKPlan {
  std::int64_t sk_tiles = 0, sk_units = 0, dp_tiles = 0, ksteps = 0;
  bool active() const { return sk_units > 0; }
  std::int64_t sk_iters() const { return sk_tiles * ksteps; }
  // First K iteration (over the stream-K tiles, tile-major) of unit `u`; unit u covers [begin(u), begin(u+1)).
  std::int64_t begin(std::int64_t u) const { return u * sk_iters() / sk_units; }
};

// The decomposition CUTLASS 3's sm90 stream-K tile scheduler makes (tile_scheduler_params.h,
// PersistentTileSchedulerSm90StreamKParams: get_num_sk_tiles, get_num_sk_units; NVIDIA/cutlass v3.5+),
// the "two-tile stream-K + data-parallel" hybrid of the Stream-K paper (Osama et al., PPoPP 2023,
// arXiv 2301.03598, section 5): with `slots` blocks per wave and a partial last wave, all full waves but
// the last run data-parallel, and the last full wave plus the tail run as stream-K over min(slots,
// iterations / 8) units (at least 8 K iterations each). As CUTLASS's DecompositionMode::Heuristic, no
// stream-K when the waves are whole, when the tail is half a wave or more, or when a tile has 8 K
// iterations or fewer. Where it applies, choose_gemm_tiling still compares its estimate with the whole
// tiles' (cuBLAS ranks its segment_k_on and segment_k_off kernels by a heuristic that is not public).
StreamKPlan plan_stream_k(std::int64_t tiles, std::int64_t ksteps, std::int64_t slots);

// One unit's work on one tile: K iterations [kbeg, kend). `peer` is 0 for the segment that starts the
// tile (its owner: it waits for the others' partials and stores the tile), else the 1-based order of the
// segment among the tile's others (its slot in the partials workspace).
struct StreamKSegment {
  std::int64_t tile, kbeg, kend;
  int peer;
};
std::vector<StreamKSegment> stream_k_segments(const StreamKPlan& plan, std::int64_t unit);
// The count of segments (units) that contribute to stream-K tile `tile`.
int stream_k_contributors(const StreamKPlan& plan, std::int64_t tile);

}  // namespace xpu
