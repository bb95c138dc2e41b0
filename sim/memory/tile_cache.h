// A last-level cache (the GPU L2) at transaction granularity: capacity in bytes, LRU replacement,
// hit/miss decided by the actual stream of tile addresses, and slices with their own bandwidth.
// Granularity: one entry per (address, size) of a DMA transaction, i.e. per tile. Tiles of the same
// kernel never overlap partially, so this is exact within a kernel; reuse across kernels with other
// tilings is not detected (documented limitation). Ignores sets/ways and sectors.
#pragma once
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "sim/engine/timeline.h"
#include "sim/memory/i_cache.h"

namespace xpu {


// The "tile_lru" cache model.
class TileCache : public ICache {
 public:
  explicit TileCache(const CacheSpec& spec);
  bool access(std::uint64_t addr, std::uint64_t bytes) override;
  Tick transfer(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, Tick horizon) override;
  std::uint64_t hits() const { return m_hits; }
  std::uint64_t misses() const { return m_misses; }
  double hit_bytes() const { return m_hit_bytes; }
  double miss_bytes() const { return m_miss_bytes; }
  const CacheSpec& spec() const { return m_spec; }

 private:
  CacheSpec m_spec;
  double m_slice_bw;
  std::vector<Timeline> m_slices;
  std::list<std::pair<std::uint64_t, std::uint64_t>> m_lru;  // (key, bytes), front = most recent
  std::unordered_map<std::uint64_t, std::list<std::pair<std::uint64_t, std::uint64_t>>::iterator> m_map;
  double m_used = 0;
  std::uint64_t m_hits = 0, m_misses = 0;
  double m_hit_bytes = 0, m_miss_bytes = 0;
};

}  // namespace xpu
