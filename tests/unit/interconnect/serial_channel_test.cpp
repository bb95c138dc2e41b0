// The serial on-chip channel's service times (kept for its last two transfer sizes) against
// transfer_ticks itself, on a rotation of sizes that evicts them and on repeats that hit them.
#include <gtest/gtest.h>

#include <random>

#include "sim/interconnect/i_channel.h"

using namespace xpu;

TEST(SerialChannel, ServiceTimeIsTransferTicksForEverySizeSequence) {
  const double bw = 64.0 * 1.755e9;  // an H100 SM's L2 port (64 B per clock)
  std::unique_ptr<IChannel> ch = make_channel("serial", bw);
  std::mt19937_64 rng(7);
  const double sizes[] = {16384, 32768, 16384 + 64, 8192, 0, 1, 3.5};
  Tick t = 0, busy = 0;
  for (int i = 0; i < 20000; ++i) {
    // Two sizes in turn (a GEMM's A and B tiles), then three in rotation, then random draws.
    const double bytes = i < 5000 ? sizes[i % 2] : i < 10000 ? sizes[i % 3] : sizes[rng() % 7];
    const Tick fixed = static_cast<Tick>(rng() % 3) * 100;
    t += 1000000;  // far apart: the channel is idle at each arrival
    const Tick d = transfer_ticks(bytes, bw) + fixed;
    ASSERT_EQ(ch->carry(t, bytes, fixed, t), t + d) << "step " << i << ", " << bytes << " B";
    busy += d;
  }
  EXPECT_EQ(ch->busy_ticks(), busy);
}
