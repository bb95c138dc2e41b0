// ticks_time (sim/engine/sc_ticks.h) against sc_time::from_value on random and edge values.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "sim/engine/sc_ticks.h"

namespace xpu {
namespace {

TEST(ScTicks, EqualsFromValue) {
  std::mt19937_64 rng(11);
  std::vector<Tick> values = {0, 1, 2, 100'000, 999'999'999'999, std::numeric_limits<Tick>::max()};
  for (int i = 0; i < 10000; ++i) values.push_back(static_cast<Tick>(rng() >> (rng() % 64)));
  for (Tick t : values) {
    const sc_core::sc_time fast = ticks_time(t), ref = sc_core::sc_time::from_value(static_cast<sc_dt::uint64>(t));
    ASSERT_EQ(fast.value(), ref.value()) << t;
    ASSERT_TRUE(fast == ref) << t;
  }
}

}  // namespace
}  // namespace xpu
