// trtllm-bench rows' dataset sizes: the perf-overview's num_requests table, and an unlisted ISL/OSL
// pair taking the listed one within 5% on both lengths.
#include <gtest/gtest.h>

#include "sim/validation/validate.h"

namespace xpu {

TEST(TrtllmBenchRequests, ListedPairsTakeTheirTableEntry) {
  EXPECT_EQ(trtllm_bench_requests(1000, 1000), 3000);
  EXPECT_EQ(trtllm_bench_requests(1000, 2000), 1500);
  EXPECT_EQ(trtllm_bench_requests(128, 128), 30000);
}

// The tables publish 1024/2048 beside 1000/2000 without a num_requests entry of its own: it was sized
// as 4 x max_batch_size (the engine's default, 5120 requests at TP8) before.
TEST(TrtllmBenchRequests, UnlistedPairTakesTheNearListedOne) {
  EXPECT_EQ(trtllm_bench_requests(1024, 2048), 1500);
  EXPECT_EQ(trtllm_bench_requests(1024, 1024), 3000);
}

TEST(TrtllmBenchRequests, PairFarFromEveryEntryHasNone) {
  EXPECT_EQ(trtllm_bench_requests(1100, 2000), 0);  // 10% from 1000/2000
  EXPECT_EQ(trtllm_bench_requests(256, 256), 0);
}

}  // namespace xpu
