// The interface of a last-level cache in front of DRAM (the GPU L2): hit/miss decisions and the
// bandwidth of its slices. Implementations register by name; a preset picks one with `l2.model`.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/engine/stat_group.h"
#include "sim/base/config.h"

namespace xpu {

struct CacheSpec {
  Bytes capacity;
  int slices = 1;
  Bandwidth bandwidth;           // all slices together
  Seconds hit_latency = Seconds(200e-9);
  Bytes interleave = Bytes(4096);
  std::string model = "tile_lru";  // the implementation, by registered name
  int slice_group = 16;            // slices booked together on one calendar (tile_lru; see describe())
};
void describe(Params& p, CacheSpec& s, const std::string& prefix);
// Names of the registered cache models.
std::vector<std::string> cache_model_names();

class ICache {
 public:
  virtual ~ICache() = default;
  // Looks the access up; inserts it on a miss (write-allocate). Returns true on a hit.
  virtual bool access(std::uint64_t addr, std::uint64_t bytes) = 0;
  // Occupies the slices that hold [addr, addr+bytes) and returns the completion time.
  virtual Tick transfer(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, Tick horizon) = 0;
  const StatGroup& stats() const { return m_stats; }

 protected:
  StatGroup m_stats;
};

// The cache model named by spec.model ("tile_lru", ...); InputError listing the valid names.
std::unique_ptr<ICache> make_cache(const CacheSpec& spec);

}  // namespace xpu
