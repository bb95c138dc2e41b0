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

// The TensorRT engine rows' limits are the build's (`trtllm-bench build`: calc_engine_setting at 0.95 of the memory
// the weights leave, the weights counted in units of 1000**3 bytes), the PyTorch rows' the runtime's (0.90, GiB).
// Mixtral-8x7B FP8 on 4 H100 (4 x 81559 MiB) at 1000/1000: about 2120 requests' KV cache at the build's rule (2304
// after rounding up in steps of 256, 4608 tokens), about 2030 at the runtime's (2048, 4096); on 2 H100 at 5000/500
// 384 requests, whose 5000-token prompts lift the token budget to 5384 (chunked prefill off).
TEST(TrtllmBenchLimits, EngineRowsTakeTheBuildTimeRule) {
  using L = std::pair<std::int64_t, std::int64_t>;
  EXPECT_EQ(trtllm_bench_batch_limits("mixtral-8x7b", "h100-sxm", 4, "fp8", 1000, 1000, true), L(2304, 4608));
  EXPECT_EQ(trtllm_bench_batch_limits("mixtral-8x7b", "h100-sxm", 4, "fp8", 1000, 1000, false), L(2048, 4096));
  EXPECT_EQ(trtllm_bench_batch_limits("mixtral-8x7b", "h100-sxm", 2, "fp8", 5000, 500, true), L(384, 5384));
}

}  // namespace xpu
