// A last-level cache (the GPU L2) at transaction granularity: capacity in bytes, LRU replacement,
// hit/miss decided by the actual stream of tile addresses, and slices with their own bandwidth.
// Granularity: one entry per (address, size) of a DMA transaction, i.e. per tile. Tiles of the same
// kernel never overlap partially, so this is exact within a kernel; reuse across kernels with other
// tilings is not detected (documented limitation). Ignores sets/ways and sectors.
#pragma once
#include <cstdint>
#include <vector>

#include "sim/base/block_pool.h"
#include "sim/engine/timeline.h"
#include "sim/memory/i_cache.h"

namespace xpu {


// The "tile_lru" cache model ("tile_lru_bank": the same, its slices booked as one bank). Slices are
// booked in groups of `slice_group` consecutive slices on one calendar each (reserve_grouped; default 16,
// 1 = a calendar per slice, exact).
class TileCache : public ICache {
 public:
  // bank: book each transfer once on all slices together (reserve_bank; "tile_lru_bank").
  explicit TileCache(const CacheSpec& spec, bool bank = false);
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
  std::uint64_t m_group;            // slices per calendar (spec.slice_group)
  std::vector<Timeline> m_slices;  // one calendar per group of m_group slices
  GroupedDurations m_slice_times;  // the groups' service times of recent transfer sizes
  InterleavedDurations m_interleaved_times;  // the slices' service times of the last transfer size (group 1)
  bool m_bank_mode;
  Timeline m_bank;  // the one calendar of all slices (bank mode)
  // LRU of tiles: nodes in a vector linked by index (front = most recent), found through an
  // open-addressing table of (key, node index) pairs (linear probing, deletion by backward shift):
  // a probe compares keys in the table and reads no node. No allocation per access; the node count
  // is bounded by the capacity.
  struct Node {
    std::uint64_t key, bytes;
    std::int32_t prev, next;
  };
  static constexpr std::int32_t kNil = -1;
  static std::uint64_t key_of(std::uint64_t addr, std::uint64_t bytes) { return addr * 1315423911ull ^ bytes; }
  size_t slot_of(std::uint64_t key) const { return static_cast<size_t>((key * 0x9e3779b97f4a7c15ull) >> m_shift); }
  std::int32_t find(std::uint64_t key) const;
  void insert_front(std::uint64_t key, std::uint64_t bytes);
  void evict_back();
  void unlink(std::int32_t i);
  void link_front(std::int32_t i);
  void rehash(size_t slots);
  // The LRU's nodes and table come from the block pool (block_pool.h): each kernel's cache rebuilds them.
  std::vector<Node, PoolAllocator<Node>> m_nodes;
  std::vector<std::int32_t> m_free;   // unused node indices
  struct Slot {
    std::uint64_t key;
    std::int32_t node;  // node index + 1, 0 = empty
  };
  std::vector<Slot, PoolAllocator<Slot>> m_table;
  int m_shift = 64;
  size_t m_live = 0;
  std::int32_t m_front = kNil, m_back = kNil;
  double m_used = 0;
  std::uint64_t m_hits = 0, m_misses = 0;
  double m_hit_bytes = 0, m_miss_bytes = 0;
};

}  // namespace xpu
