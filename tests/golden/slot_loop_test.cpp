// The slot loop (Chip::run_slot_loop: one SystemC thread runs every slot of a chip) keeps the order in
// which SystemC resumed a thread per slot, so its results equal the thread-per-slot engine's exactly:
// kernels of every family (per-core streams on TPU, Trainium and Maia), a split-K GEMM's two kernels,
// short symmetric kernels whose results depend on the order of equal wake times, a run of several kernels
// and kernels run one after another on the warm chip (Chip::rerun).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "sim/engine/chip.h"
#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

using namespace xpu;

namespace {
struct Case {
  const char* chip;
  const char* op;
  std::map<std::string, std::string> shape;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"h100-sxm", "gemm", {{"m", "2048"}, {"n", "2048"}, {"k", "2048"}}},
      {"h100-sxm", "gemm", {{"m", "128"}, {"n", "4096"}, {"k", "14336"}}},  // split-K: two kernels
      {"h200", "gemm", {{"m", "256"}, {"n", "4096"}, {"k", "4096"}}},
      {"h100-sxm", "rmsnorm", {{"rows", "4096"}, {"cols", "4096"}}},
      {"b200", "gemm", {{"m", "8"}, {"n", "4096"}, {"k", "4096"}}},
      {"tpu-v6e", "gemm", {{"m", "2048"}, {"n", "2048"}, {"k", "2048"}}},
      {"trn2", "gemm", {{"m", "2048"}, {"n", "2048"}, {"k", "2048"}}},
      {"maia200", "gemm", {{"m", "8"}, {"n", "4096"}, {"k", "4096"}}},
  };
  return c;
}

struct Figures {
  double latency_s = 0;
  std::uint64_t transactions = 0;
  std::vector<double> kernel_s;
};

Figures run(const Case& c, bool keep_chip) {
  auto chip = load_chip(c.chip);
  OpSpec op = make_op(c.op, c.shape);
  LowerOptions lo;
  RunOptions ro;
  ro.keep_chip = keep_chip;
  RunResult r = simulate(*chip, {chip->lower(op, lo)}, ro, op.dtype);
  Figures f;
  f.latency_s = r.latency_s;
  for (const KernelResult& k : r.kernels) {
    f.transactions += k.transactions;
    f.kernel_s.push_back(k.time_s);
  }
  return f;
}

std::vector<Figures> run_all(bool loop, bool keep_chip) {
  set_slot_loop_default(loop);
  std::vector<Figures> out;
  for (const Case& c : cases()) out.push_back(run(c, keep_chip));
  // The same kernels again: on the warm chip, after runs of other kernels.
  if (keep_chip)
    for (const Case& c : cases()) out.push_back(run(c, keep_chip));
  return out;
}
}  // namespace

TEST(SlotLoop, EqualsAThreadPerSlot) {
  const bool before = slot_loop_default();
  for (bool keep : {false, true}) {
    const std::vector<Figures> threads = run_all(false, keep), loop = run_all(true, keep);
    ASSERT_EQ(threads.size(), loop.size());
    for (size_t i = 0; i < threads.size(); ++i) {
      const Case& c = cases()[i % cases().size()];
      const std::string what = std::string(c.chip) + " " + c.op + (keep ? " (warm chip)" : "");
      EXPECT_EQ(threads[i].latency_s, loop[i].latency_s) << what;
      EXPECT_EQ(threads[i].transactions, loop[i].transactions) << what;
      EXPECT_EQ(threads[i].kernel_s, loop[i].kernel_s) << what;
    }
  }
  set_slot_loop_default(before);
}
