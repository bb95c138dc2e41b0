// The TensorCore model with hand-written MXU programs: a single 128x128 array with its operands on
// chip against SCALE-Sim's weight-stationary count, double-buffered weight loads, partial folds.
#include <gtest/gtest.h>

#include <algorithm>

#include "chips/tpu/isa.h"
#include "chips/tpu/tpu_spec.h"
#include "kernels/gemm/tpu.h"
#include "sim/run/registry.h"
#include "sim/run/runner.h"

namespace xpu {
void register_tpu_family();
}

using namespace xpu;
using namespace xpu::tpu;

namespace {

TpuSpec spec_of(const std::vector<std::string>& overlays) {
  register_tpu_family();
  ConfigTree tree = ConfigTree::load_file(source_dir() + "/chips/tpu/presets/tpu_v5e.yaml");
  for (const auto& o : overlays) tree.apply_overlay(o);
  TpuSpec s;
  Params p(Params::Mode::Load, &tree);
  describe(p, s);
  p.finish();
  return s;
}

// MXU cycles (first MXU event to last) of an M x K x N product with both operands already in VMEM.
double mxu_cycles(const std::vector<std::string>& overlays, int M, int K, int N) {
  std::vector<std::string> ov = {"tensorcores=1", "mxu.count=1"};
  ov.insert(ov.end(), overlays.begin(), overlays.end());
  auto chip = load_chip("tpu-v5e", ov);
  TpuSpec s = spec_of(ov);
  Program p;
  p.name = "mxu";
  p.num_tasks = 1;
  p.static_placement = true;
  p.make_task = [s, M, K, N](std::uint64_t, Task& t) {
    MxuEmitter mx(s, DType::bf16);
    mx.set_accumulate(false);
    mx.matmul(t, M, K, N, kNoDep, kNoDep, kNoDep);
    mx.drain(t);
  };
  RunOptions ro;
  ro.trace = true;
  RunResult r = simulate(*chip, {{p}}, ro, DType::bf16);
  std::int64_t first = -1, last = 0;
  for (const auto& rec : r.trace) {
    const std::string& unit = r.unit_names[rec.unit];
    if (unit.find(".mxu") == std::string::npos) continue;
    if (first < 0 || rec.start_ps < first) first = rec.start_ps;
    last = std::max<std::int64_t>(last, rec.end_ps);
  }
  return static_cast<double>(last - first) * s.clock.value() / 1e12;
}

double scale_sim_ws(int R, int C, int M, int K, int N) {
  double folds = std::ceil(K / double(R)) * std::ceil(N / double(C));
  return folds * (2.0 * R + C + M - 2);
}

}  // namespace

TEST(TpuMxu, SingleArrayMatchesScaleSimWeightStationaryCount) {
  for (int M : {1, 8, 100, 128, 333, 1024})
    for (int K : {64, 128, 200, 384})
      for (int N : {100, 128, 256, 500}) {
        double sim = mxu_cycles({"mxu.weight_buffers=1"}, M, K, N);
        double ref = scale_sim_ws(128, 128, M, K, N);
        EXPECT_NEAR(sim / ref, 1.0, 0.05) << "M=" << M << " K=" << K << " N=" << N << ": " << sim << " vs " << ref;
      }
}

TEST(TpuMxu, DoubleBufferedWeightsOverlapThePreviousFold) {
  for (int M : {8, 128, 512})
    for (int K : {256, 384})
      for (int N : {256, 512}) {
        double sim = mxu_cycles({}, M, K, N);
        double folds = std::ceil(K / 128.0) * std::ceil(N / 128.0);
        // First push exposed, then one fold per max(M, R) cycles (the next push hides under the
        // stream, or the stream waits for the push), the last stream, then the final drain.
        double closed = 128 + (folds - 1) * std::max(M, 128) + M + (128 + 128 - 2);
        EXPECT_NEAR(sim / closed, 1.0, 0.02) << M << "x" << K << "x" << N;
        EXPECT_LT(sim, scale_sim_ws(128, 128, M, K, N)) << M << "x" << K << "x" << N;
      }
}

TEST(TpuMxu, PartialFoldCostsTheWholeArray) {
  double full = mxu_cycles({"mxu.weight_buffers=1"}, 128, 128, 128);
  double part = mxu_cycles({"mxu.weight_buffers=1"}, 128, 100, 100);
  EXPECT_DOUBLE_EQ(full, part);
}
