#include "sim/memory/tile_cache.h"

#include <algorithm>

namespace xpu {

void describe(Params& p, CacheSpec& s, const std::string& pre) {
  p(pre + "capacity", s.capacity, "Cache capacity");
  p(pre + "slices", s.slices, "Number of independently ported slices", "1");
  p(pre + "bandwidth", s.bandwidth, "Total bandwidth of all slices");
  p(pre + "hit_latency", s.hit_latency, "Latency of a hit, added to the transfer", "200 ns");
  p(pre + "interleave", s.interleave, "Address interleaving granule across slices", "4 KiB");
  p.require(s.slices > 0 && s.slices <= 4096, pre + "slices", "1 to 4096 slices");
  p.require(s.bandwidth.value() > 0, pre + "bandwidth", "a positive bandwidth");
}

TileCache::TileCache(const CacheSpec& spec)
    : m_spec(spec), m_slice_bw(spec.bandwidth.value() / spec.slices), m_slices(static_cast<size_t>(spec.slices)) {}

bool TileCache::access(std::uint64_t addr, std::uint64_t bytes) {
  std::uint64_t key = addr * 1315423911ull ^ bytes;
  auto it = m_map.find(key);
  if (it != m_map.end()) {
    m_lru.splice(m_lru.begin(), m_lru, it->second);
    ++m_hits;
    m_hit_bytes += static_cast<double>(bytes);
    return true;
  }
  ++m_misses;
  m_miss_bytes += static_cast<double>(bytes);
  if (static_cast<double>(bytes) > m_spec.capacity.value()) return false;  // streams through
  m_lru.emplace_front(key, bytes);
  m_map[key] = m_lru.begin();
  m_used += static_cast<double>(bytes);
  while (m_used > m_spec.capacity.value() && !m_lru.empty()) {
    m_used -= static_cast<double>(m_lru.back().second);
    m_map.erase(m_lru.back().first);
    m_lru.pop_back();
  }
  return false;
}

Tick TileCache::transfer(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, Tick horizon) {
  if (bytes == 0) return arrival;
  const std::uint64_t n = m_slices.size();
  std::uint64_t chunks = spread_chunks(bytes, run, static_cast<std::uint64_t>(m_spec.interleave.value()));
  std::uint64_t first = address_hash(addr ^ 0x5bd1e995ull) % n;
  std::uint64_t per = chunks / n, extra = chunks % n;
  double bpc = static_cast<double>(bytes) / static_cast<double>(chunks);
  Tick done = arrival;
  for (std::uint64_t i = 0; i < std::min(chunks, n); ++i) {
    std::uint64_t c = per + (i < extra ? 1 : 0);
    done = std::max(done, m_slices[(first + i) % n].reserve(arrival, transfer_ticks(bpc * c, m_slice_bw), horizon));
  }
  return done;
}

}  // namespace xpu
