// Memory models: a stream reaches the configured bandwidth, and two streams contend.
#include <gtest/gtest.h>

#include "sim/memory/hbm.h"
#include "sim/memory/tile_cache.h"

using namespace xpu;

namespace {
HbmSpec spec() {
  HbmSpec s;
  s.capacity = Bytes(80e9);
  s.bandwidth = Bandwidth(3.35e12);
  s.efficiency = 0.9;
  s.stacks = 5;
  s.channels_per_stack = 16;
  s.interleave = Bytes(4096);
  s.latency = Seconds(480e-9);
  return s;
}
}  // namespace

TEST(Hbm, StreamReachesConfiguredBandwidth) {
  HbmModel hbm(spec());
  const std::uint64_t chunk = 64 * 1024, total = 256ull << 20;
  Tick end = 0;
  for (std::uint64_t a = 0; a < total; a += chunk) end = std::max(end, hbm.access(0, a, chunk, 0, false, 0));
  double bw = static_cast<double>(total) / to_seconds(end - to_ticks(480e-9));
  // The address hash spreads granules unevenly over channels, as in hardware: within 5%, never above.
  EXPECT_NEAR(bw / (3.35e12 * 0.9), 1.0, 0.05);
  EXPECT_LE(bw, 3.35e12 * 0.9);
  EXPECT_DOUBLE_EQ(hbm.bytes_read(), static_cast<double>(total));
}

TEST(Hbm, TwoStreamsShareTheChannels) {
  HbmModel one(spec()), two(spec());
  const std::uint64_t chunk = 64 * 1024, total = 64ull << 20;
  Tick end1 = 0, end2 = 0;
  for (std::uint64_t a = 0; a < total; a += chunk) end1 = std::max(end1, one.access(0, a, chunk, 0, false, 0));
  for (std::uint64_t a = 0; a < total; a += chunk) {
    end2 = std::max(end2, two.access(0, a, chunk, 0, false, 0));
    end2 = std::max(end2, two.access(0, (1ull << 40) + a, chunk, 0, false, 0));
  }
  EXPECT_NEAR(static_cast<double>(end2) / end1, 2.0, 0.2);  // twice the bytes on the same channels
}

TEST(Hbm, LatencyAppliesToASingleSmallAccess) {
  HbmModel hbm(spec());
  Tick t = hbm.access(1000, 0, 64, 0, false, 0);
  EXPECT_GE(t, 1000 + to_ticks(480e-9));
  EXPECT_LT(t, 1000 + to_ticks(480e-9) + to_ticks(3e-9));  // 64 B on one channel take about 1.7 ns
}

TEST(TileCache, LruHitsAndEvicts) {
  CacheSpec s;
  s.capacity = Bytes(3 * 4096);
  s.slices = 4;
  s.bandwidth = Bandwidth(1e12);
  TileCache c(s);
  EXPECT_FALSE(c.access(0, 4096));
  EXPECT_FALSE(c.access(4096, 4096));
  EXPECT_TRUE(c.access(0, 4096));
  EXPECT_FALSE(c.access(8192, 4096));
  EXPECT_FALSE(c.access(12288, 4096));  // evicts 4096 (least recent)
  EXPECT_TRUE(c.access(0, 4096));
  EXPECT_FALSE(c.access(4096, 4096));
  EXPECT_EQ(c.hits(), 2u);
}

TEST(Timeline, FillsGapsForOutOfOrderArrivals) {
  Timeline t;
  EXPECT_EQ(t.reserve(1000, 100, 0), 1100);
  EXPECT_EQ(t.reserve(0, 100, 0), 100);       // an earlier arrival uses the idle gap
  EXPECT_EQ(t.reserve(950, 100, 0), 1200);    // does not fit before 1000: queued after
  EXPECT_EQ(t.busy_ticks(), 300);
}
