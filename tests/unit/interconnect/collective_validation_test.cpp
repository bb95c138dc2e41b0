// Collectives against public measurements (workloads/validation/collectives.csv; original sources in
// its `source` column: Azure/AI-benchmarking-guide ND H100 v5 nccl-tests, aws-samples/
// awsome-distributed-training p5 nccl-tests, jax-ml scaling book TPU v5e profiles). A missing file
// fails. Bounds as issue 12 sets them: bus bandwidth of messages >= 64 MiB within 15% on one HGX H100
// node and within 25% on two p5 nodes; latency-bound small messages (<= 8 KiB) within 30% in time.
// Rows the model still misses are listed by id in kKnownGaps with the reason and a bound of their
// own just above today's error (README "Systems of chips", known gaps), so that a gap can neither
// grow unnoticed nor hide behind a looser bound for the whole class.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sim/system/collective_run.h"

using namespace xpu;

namespace {
struct KnownGap {
  const char* id;
  double bound;
  const char* reason;
};
// None today: the p5 64 MiB row closed once NVLS-tree slices became whole kernel loops (README
// "Systems of chips"). A row that misses again goes here with its reason and its own bound.
const std::vector<KnownGap> kKnownGaps = {};
const KnownGap* known_gap(const std::string& id) {
  for (const auto& g : kKnownGaps)
    if (id == g.id) return &g;
  return nullptr;
}

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

TEST(CollectiveValidation, TwoNodeH100LargeMessagesWithin25Percent) {
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("aw-p5", 0) == 0 && p.row.bytes >= (64ull << 20)) {
      ++n;
      const KnownGap* g = known_gap(p.row.id);
      EXPECT_LT(std::abs(p.busbw_error), g ? g->bound : 0.25)
          << p.row.id << " " << p.row.bytes << " B: predicted " << p.predicted_busbw << " GB/s, measured "
          << p.row.busbw_GBps << (g ? std::string(" (known gap: ") + g->reason + ")" : "");
    }
  EXPECT_GE(n, 5);
}

TEST(CollectiveValidation, TwoNodeMidSizeRunsNvlsTreeWithin25Percent) {
  // Not bounded by the issue: 2-32 MiB across two p5 nodes, where NCCL's NVLS-tree pipeline is only a
  // few loops deep and fills and drains by whole loops; held to the two-node bound so that the
  // mechanism cannot regress unnoticed.
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("aw-p5", 0) == 0 && p.row.bytes >= (2ull << 20) && p.row.bytes < (64ull << 20)) {
      ++n;
      EXPECT_EQ(p.algo.rfind("hierarchical", 0), 0u) << p.row.id << ": " << p.algo;
      EXPECT_LT(std::abs(p.time_error), 0.25) << p.row.id << " " << p.row.bytes << " B: predicted "
                                              << p.predicted_time_us << " us, measured " << p.measured_time_us;
    }
  EXPECT_GE(n, 5);
}

TEST(CollectiveValidation, SmallMessageTimeWithin30Percent) {
  // Latency-bound rows: at most 8 KiB, where the bytes take under 0.1 us on any link, on one node and
  // on two p5 nodes over EFA.
  int one = 0, two = 0;
  for (const auto& p : points()) {
    if (p.row.bytes > 8192) continue;
    bool single = p.row.id.rfind("az-h100", 0) == 0, dual = p.row.id.rfind("aw-p5", 0) == 0;
    if (!single && !dual) continue;
    (single ? one : two)++;
    const KnownGap* g = known_gap(p.row.id);
    EXPECT_LT(std::abs(p.time_error), g ? g->bound : 0.30)
        << p.row.id << " " << p.row.bytes << " B: predicted " << p.predicted_time_us << " us, measured "
        << p.measured_time_us << (g ? std::string(" (known gap: ") + g->reason + ")" : "");
  }
  EXPECT_GE(one, 4);
  EXPECT_GE(two, 10);
}

TEST(CollectiveValidation, KnownGapsAreStillGaps) {
  // A known gap that the model has closed must leave the list (and take the class bound).
  for (const auto& g : kKnownGaps) {
    bool found = false;
    for (const auto& p : points())
      if (p.row.id == g.id) {
        found = true;
        double err = p.row.bytes <= 8192 ? p.time_error : p.busbw_error;
        double cls = p.row.bytes <= 8192 ? 0.30 : 0.25;
        EXPECT_GE(std::abs(err), cls) << g.id << " is within the class bound now; remove it from kKnownGaps";
      }
    EXPECT_TRUE(found) << g.id << " is not a validated row";
  }
}
