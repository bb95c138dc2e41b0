// Power, throttling, cost and serving: a sustained large BF16 GEMM lands at the H100's TDP, a
// memory-bound decode-size GEMM well below it, throttling comes from re-simulation at a lower clock,
// cost figures follow the price, and serving picks the best concurrency under the targets.
#include <gtest/gtest.h>

#include "sim/io/reports.h"
#include "sim/run/kernel_run.h"
#include "sim/serve/serve.h"

using namespace xpu;

namespace {
PowerResult sustained_power(const ChipModel& chip, const OpSpec& op, KernelRun* out = nullptr) {
  KernelRun run;
  PowerResult p = settle_power(chip, true, [&](const ChipModel& c) {
    run = run_kernel(c, op, false, false);
    return run.result.events;
  });
  if (out) *out = run;
  return p;
}
std::string tiny() { return std::string(XPUSIM_SOURCE_DIR) + "/tests/data/models/tiny-llama.json"; }
}  // namespace

TEST(Power, LargeBf16GemmOnH100SettlesAtTdp) {
  auto chip = load_chip("h100-sxm");
  KernelRun run;
  PowerResult p = sustained_power(*chip, make_op("gemm", {{"m", "4096"}, {"n", "4096"}, {"k", "4096"}}), &run);
  ASSERT_TRUE(p.modeled);
  EXPECT_NEAR(p.avg_power_w / 700.0, 1.0, 0.10);
  EXPECT_TRUE(p.throttled);
  EXPECT_LT(p.clock_ratio, 0.95);
  EXPECT_GT(p.slowdown, 1.05);  // the slower clock comes out of the re-simulation
  EXPECT_GT(p.unthrottled_power_w, 700.0);
}

TEST(Power, MemoryBoundGemmStaysWellBelowTdp) {
  auto chip = load_chip("h100-sxm");
  PowerResult p = sustained_power(*chip, make_op("gemm", {{"m", "8"}, {"n", "8192"}, {"k", "8192"}}));
  EXPECT_FALSE(p.throttled);
  EXPECT_LT(p.avg_power_w, 0.7 * 700.0);
  EXPECT_GT(p.breakdown.dram_j, p.breakdown.compute_j);  // bytes, not MACs, cost the energy
}

TEST(Power, BurstIsHeldOnlyToThePeakLimit) {
  auto chip = load_chip("h100-sxm");
  OpSpec op = make_op("gemm", {{"m", "4096"}, {"n", "4096"}, {"k", "4096"}});
  KernelRun run;
  PowerResult burst = settle_power(*chip, false, [&](const ChipModel& c) {
    run = run_kernel(c, op, false, false);
    return run.result.events;
  });
  EXPECT_LE(burst.avg_power_w, chip->power()->peak_limit.value() * 1.01);
  EXPECT_GT(burst.avg_power_w, 700.0);
}

TEST(Cost, FiguresFollowThePriceAndMarkAssumptions) {
  CostSpec s;
  s.chip_hour_usd = 3.6;
  s.published = true;
  CostFigures c = cost_figures(s, 1000.0, 500.0);
  EXPECT_NEAR(c.usd_per_mtok, 3.6 / (1000.0 * 3600) * 1e6, 1e-9);
  EXPECT_FALSE(c.assumed);
  CostSpec tco;
  tco.unit_price_usd = 30000;
  tco.service_years = 4;
  tco.utilization = 0.5;
  tco.pue = 1.5;
  tco.electricity_usd_per_kwh = 0.1;
  CostFigures t = cost_figures(tco, 1000.0, 700.0);
  EXPECT_NEAR(t.usd_per_hour, 30000 / (4 * 8760 * 0.5) + 0.7 * 1.5 * 0.1, 1e-9);
  EXPECT_TRUE(t.assumed);
  EXPECT_EQ(cost_figures(CostSpec{}, 1000, 500).usd_per_hour, 0);
}

TEST(Serve, PicksTheBestConcurrencyUnderTheTargets) {
  auto chip = load_chip("h100-sxm");
  ModelConfig m = load_model(tiny());
  Scenario base;
  ServeOptions o;
  o.input = 64;
  o.output = 16;
  o.concurrency = {1, 2, 4, 8, 16};
  o.concurrency_given = true;
  o.requests = 32;
  ServeResult free = serve(*chip, m, base, o);
  ASSERT_GE(free.best, 0);
  for (const auto& p : free.curve) EXPECT_LE(p.throughput_tok_s, free.curve[free.best].throughput_tok_s);
  // A TPOT target tighter than the larger batches' steps moves the operating point down.
  o.tpot_slo_s = free.curve.front().tpot_s * 1.0001;
  ServeResult tight = serve(*chip, m, base, o);
  ASSERT_GE(tight.best, 0);
  EXPECT_LE(tight.curve[tight.best].tpot_s, o.tpot_slo_s);
  EXPECT_LE(tight.curve[tight.best].concurrency, free.curve[free.best].concurrency);
  nlohmann::json j = serve_json(free);
  for (const char* k : {"throughput_tok_s", "ttft_s", "tpot_s", "batch", "avg_power_w", "joules_per_token", "usd_per_mtok",
                        "throughput_tok_s_per_chip", "tok_s_per_user", "ttft_p90_s", "ttft_p99_s", "tpot_p90_s", "tpot_p99_s",
                        "itl_p50_s", "e2e_p50_s", "kv_cache", "preemptions", "frontier"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_GT(j["usd_per_mtok"].get<double>(), 0);
}

TEST(Serve, ChipWithoutPriceIsMarkedNotInvented) {
  auto chip = load_chip("h100-sxm", {"cost.chip_hour=0", "cost.published=false", "cost.unit_price=0"});
  ModelConfig m = load_model(tiny());
  ServeOptions o;
  o.input = 32;
  o.output = 8;
  o.concurrency = {2};
  o.requests = 4;
  ServeResult r = serve(*chip, m, Scenario{}, o);
  nlohmann::json j = serve_json(r);
  EXPECT_TRUE(j["usd_per_mtok"].is_null());
  EXPECT_EQ(j["price_basis"], "none");
  EXPECT_NE(r.note.find("cost.chip_hour"), std::string::npos);
}
