// Memory components behind interfaces: chosen by registered name, with their stats declared where they
// are built (every declared stat reaches a dump).
#include <gtest/gtest.h>

#include "sim/memory/i_cache.h"
#include "sim/memory/i_dram.h"

using namespace xpu;

TEST(MemoryComponents, DramAndCacheAreChosenByName) {
  HbmSpec h;
  h.capacity = Bytes(16e9);
  h.bandwidth = Bandwidth(1e12);
  auto dram = make_dram(h);
  ASSERT_NE(dram, nullptr);
  EXPECT_GT(dram->access(0, 0, 4096, 0, false, 0), 0);
  EXPECT_EQ(dram->bytes_read(), 4096);
  CacheSpec c;
  c.capacity = Bytes(1 << 20);
  c.bandwidth = Bandwidth(1e12);
  auto cache = make_cache(c);
  EXPECT_FALSE(cache->access(0, 4096));
  EXPECT_TRUE(cache->access(0, 4096));
}

TEST(MemoryComponents, AnUnknownNameIsRefusedWithTheValidOnes) {
  HbmSpec h;
  h.bandwidth = Bandwidth(1e12);
  h.model = "ddr9";
  try {
    make_dram(h);
    FAIL() << "an unknown DRAM model was built";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("hbm_channels"), std::string::npos) << e.what();
  }
  CacheSpec c;
  c.bandwidth = Bandwidth(1e12);
  c.model = "nope";
  EXPECT_THROW(make_cache(c), InputError);
}

TEST(MemoryComponents, DeclaredStatsReachTheDump) {
  HbmSpec h;
  h.capacity = Bytes(16e9);
  h.bandwidth = Bandwidth(1e12);
  auto dram = make_dram(h);
  dram->access(0, 0, 1 << 20, 0, true, 0);
  Stats out;
  dram->stats().dump(out, "chip.mem.hbm", to_ticks(1e-3));
  EXPECT_EQ(out.all().size(), dram->stats().size());
  EXPECT_EQ(out.get("chip.mem.hbm.bytes_written"), 1 << 20);
  EXPECT_EQ(out.all().at("chip.mem.hbm.bytes_written").unit, "B");
  EXPECT_GT(out.get("chip.mem.hbm.utilization"), 0);
  for (const auto& [k, s] : out.all()) EXPECT_FALSE(s.description.empty()) << k;
}
