// Collectives against public measurements (workloads/validation/collectives.csv; original sources in
// its `source` column: Azure/AI-benchmarking-guide ND H100 v5 nccl-tests, aws-samples/
// awsome-distributed-training p5 nccl-tests, jax-ml scaling book TPU v5e profiles). A missing file
// fails. Bounds: bus bandwidth of messages >= 64 MiB within 15% on one HGX H100 node; latency-bound
// small messages on one node within 30% in time; on two p5 nodes >= 512 MiB within 25% (64-256 MiB:
// a known gap of +25..+45%, see README "Systems of chips", held to 50% so that it cannot grow
// unnoticed; small messages likewise).
#include <gtest/gtest.h>

#include <cmath>

#include "sim/system/collective_run.h"

using namespace xpu;

namespace {
const std::vector<CollectivePoint>& points() {
  static const std::vector<CollectivePoint> p = [] {
    std::vector<CollectiveRow> rows = read_collective_rows(default_collectives_csv());
    std::vector<CollectiveRow> sel;  // every row except the 4-8 GiB ones (seconds of simulation, same regime as 1-2 GiB)
    for (const auto& r : rows)
      if (r.bytes <= (2ull << 30)) sel.push_back(r);
    return validate_collectives(sel);
  }();
  return p;
}
}  // namespace

TEST(CollectiveValidation, MissingDataFileFails) {
  EXPECT_THROW(read_collective_rows(std::string(XPUSIM_SOURCE_DIR) + "/workloads/validation/no_such.csv"), InputError);
}

TEST(CollectiveValidation, SingleNodeH100LargeMessagesWithin15Percent) {
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("az-h100", 0) == 0 && p.row.bytes >= (64ull << 20)) {
      ++n;
      EXPECT_LT(std::abs(p.busbw_error), 0.15) << p.row.id << " " << p.row.bytes << " B: predicted "
                                               << p.predicted_busbw << " GB/s, measured " << p.row.busbw_GBps;
    }
  EXPECT_GE(n, 5);
}

TEST(CollectiveValidation, TwoNodeH100LargeMessages) {
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("aw-p5", 0) == 0 && p.row.bytes >= (64ull << 20)) {
      ++n;
      double bound = p.row.bytes >= (512ull << 20) ? 0.25 : 0.50;
      EXPECT_LT(std::abs(p.busbw_error), bound) << p.row.id << " " << p.row.bytes << " B: predicted "
                                                << p.predicted_busbw << " GB/s, measured " << p.row.busbw_GBps;
    }
  EXPECT_GE(n, 5);
}

TEST(CollectiveValidation, SmallMessageTime) {
  // Latency-bound rows: at most 8 KiB, where the bytes take under 0.1 us on any link. One node: within
  // 30%. Two p5 nodes over EFA: the model is 25-39% fast (its per-message EFA cost is an assumption;
  // README "Systems of chips", known gaps), held to 45% so that the gap cannot grow unnoticed.
  int one = 0, two = 0;
  for (const auto& p : points()) {
    if (p.row.bytes > 8192) continue;
    bool single = p.row.id.rfind("az-h100", 0) == 0, dual = p.row.id.rfind("aw-p5", 0) == 0;
    if (!single && !dual) continue;
    (single ? one : two)++;
    EXPECT_LT(std::abs(p.time_error), single ? 0.30 : 0.45)
        << p.row.id << " " << p.row.bytes << " B: predicted " << p.predicted_time_us << " us, measured "
        << p.measured_time_us;
  }
  EXPECT_GE(one, 4);
  EXPECT_GE(two, 10);
}
