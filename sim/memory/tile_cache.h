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

#include "sim/base/config.h"
#include "sim/engine/timeline.h"

namespace xpu {

struct CacheSpec {
  Bytes capacity;
  int slices = 1;
  Bandwidth bandwidth;           // all slices together
  Seconds hit_latency = Seconds(200e-9);
  Bytes interleave = Bytes(4096);
};
void describe(Params& p, CacheSpec& s, const std::string& prefix);

class TileCache {
 public:
  explicit TileCache(const CacheSpec& spec);
  // Looks up a tile; inserts it on a miss (write-allocate for stores). Returns true on a hit.
  bool access(std::uint64_t addr, std::uint64_t bytes);
  // Occupies the slices that hold [addr, addr+bytes) and returns the completion time.
  Tick transfer(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, Tick horizon);
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
