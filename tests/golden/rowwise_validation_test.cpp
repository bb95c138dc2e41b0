// The memory-bound kernel rows of our H100 and H200 measurements (RMSNorm, softmax, eager SwiGLU,
// residual add, device copy, x.add_(1), x.sum()): every one is predicted by `xpusim validate`, none beats
// its roofline, the bandwidth-bound ones land close, and the known gaps are held to their own bounds.
// Sources: workloads/validation/h100_measured.csv and h200_measured.csv (conditions and byte
// conventions in workloads/validation/README.md).
#include <gtest/gtest.h>

#include <cmath>

#include "sim/validation/validate.h"

using namespace xpu;

namespace {
const char* const kWorkloads[] = {"RMSNorm F.rms_norm", "softmax torch.softmax", "SwiGLU F.silu(gate)*up eager",
                                  "residual add x+r", "device-to-device copy dst.copy_(src)",
                                  "elementwise in-place add x.add_(1)", "pure read x.sum()"};

bool rowwise(const ValidationRow& r) {
  if (r.level != "kernel" || r.workload.find("single launch") != std::string::npos) return false;
  for (const char* w : kWorkloads)
    if (r.workload.rfind(w, 0) == 0) return true;
  return false;
}

// Bytes the row's kernel touches (its `bytes` convention, from the measured latency and bandwidth).
double touched_bytes(const ValidationPoint& p, const std::vector<ValidationPoint>& all) {
  for (const auto& q : all)
    if (q.row.hardware == p.row.hardware && q.row.workload == p.row.workload && q.row.shape == p.row.shape &&
        q.row.metric == "bandwidth")
      for (const auto& l : all)
        if (l.row.hardware == p.row.hardware && l.row.workload == p.row.workload && l.row.shape == p.row.shape &&
            l.row.metric == "latency")
          return q.row.measured * 1e9 * l.row.measured * 1e-6;
  return 0;
}
}  // namespace

TEST(RowwiseValidation, EveryMeasuredRowIsPredictedWithinItsBound) {
  std::vector<ValidationRow> rows;
  for (const auto& f : default_measurement_files())
    for (const auto& r : read_measurements(f))
      if (rowwise(r)) rows.push_back(r);
  std::vector<ValidationSkip> skipped;
  const auto pts = validate_rows(rows, "", false, &skipped);
  for (const auto& s : skipped) ADD_FAILURE() << s.row.id << " not predicted: " << s.reason;
  ASSERT_EQ(pts.size(), rows.size());
  ASSERT_GE(pts.size(), 110u);  // 46 H100 and 64 H200 rows (latency and bandwidth of each kernel)
  for (const auto& p : pts) {
    if (p.row.metric != "latency") continue;
    EXPECT_GE(p.predicted, p.roofline * 0.999) << p.row.id << ": faster than physics allows";
    const double bytes = touched_bytes(p, pts);
    ASSERT_GT(bytes, 0) << p.row.id;
    const bool softmax = p.row.workload.rfind("softmax", 0) == 0;
    if (softmax && bytes >= (16 << 20)) {
      // torch.softmax on rows of 4096 and 32768 elements: one block per row, latency-bound passes
      // (kernels/rowwise/gpu.cpp); the rows land -9.3%..+3.8% (-16%..-1% before the passes were timed by pipe and
      // issue slot; 23-68% fast with one streaming pass).
      EXPECT_GE(p.error, -0.20) << p.row.id << " " << p.row.shape;
      EXPECT_LE(p.error, 0.10) << p.row.id << " " << p.row.shape;
    } else if (bytes >= (16 << 20)) {
      // Bandwidth-bound (16 MiB and more, well past the fixed costs): HBM at its measured efficiency.
      // RMSNorm's fused kernel reaches only 2.2 TB/s on H100 at T16384 (H300: -19%), hence 22%.
      EXPECT_LE(std::fabs(p.error), 0.22) << p.row.id << " " << p.row.shape;
    } else {
      // Known gaps, small kernels (under 16 MiB, a few microseconds): the elementwise ones are up to 49%
      // slow (77% while launch_overhead was H01's whole 1 us; at 0.7 us, G014), softmax on 32768-element rows
      // up to 26.1% fast (G366; 31.7% before the passes were timed by pipe and issue slot, 2026-12-04). RMSNorm
      // on 64 rows was 25-33% slow while the engine packed the first wave four deep on 16 SMs (one block per SM
      // since), and on one row 33% fast before its second pass became a chain of gamma round trips.
      EXPECT_GE(p.error, -0.27) << p.row.id << " " << p.row.shape;
      EXPECT_LE(p.error, 0.50) << p.row.id << " " << p.row.shape;
    }
  }
  // All row-wise rows together (latency and bandwidth): 10.2% with PyTorch 2.11's softmax kernel choice, 10.1% with
  // the row kernels' passes timed by pipe and issue slot (2026-12-04), 11.5% before, with launch_overhead 0.7 us
  // (13.7% at 1 us with a grid's first wave spread one block per SM; 15.4% packed four deep; 16.4% before RMSNorm's
  // chain of gamma round trips; 38.1% before the kernels ran as PyTorch's).
  double sum = 0;
  for (const auto& p : pts) sum += std::fabs(p.error);
  EXPECT_LE(sum / static_cast<double>(pts.size()), 0.105);
}
