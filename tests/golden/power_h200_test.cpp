// The power manager and board power against our H200 measurements (workloads/validation/h200_measured.csv,
// conditions in its README, "H200 measurements"): a bf16 8192^3 GEMM loop from idle (boost, the fast loop's
// cut, the 1 s average reaching TDP, the held clock), sustained loops at other intensities, board power under
// decode steps and copies. Measured values are read from the files by id, never copied here.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "sim/run/kernel_run.h"
#include "sim/run/model_run.h"
#include "sim/validation/validate.h"

using namespace xpu;

namespace {
double measured(const char* id) {
  static std::map<std::string, double> by_id;
  if (by_id.empty())
    for (const auto& f : default_measurement_files())
      for (const auto& r : read_measurements(f)) by_id[r.id] = r.measured;
  auto it = by_id.find(id);
  if (it == by_id.end()) ADD_FAILURE() << id << " is not in the validation files";
  return it == by_id.end() ? NAN : it->second;
}
OpSpec gemm(const char* m, const char* n, const char* k, const char* d = "bf16") {
  return make_op("gemm", {{"m", m}, {"n", n}, {"k", k}, {"dtype", d}});
}
double mhz(const ChipModel& chip, double ratio) { return chip.clock_hz() * ratio / 1e6; }
// Relative error of a prediction against a row.
double err(double predicted, const char* id) { return predicted / measured(id) - 1; }
constexpr double kBound = 0.15;  // the bound the power rows are held to (clocks and board power)
}  // namespace

// One call of the 8192^3 GEMM simulated once; the loop from idle is that call repeated back to back for 15 s.
// Calibration rows (the preset says which): G001 (boost rate -> peak_limit), the 0.1-1 s calls
// (short_term_limit), G005 (short_term_window). Checked here against the other rows of the same trace and
// the bursts of a separate run (G444-G447).
TEST(PowerH200, GemmLoopFromIdleBoostsThenStepsDownToTheHeldClock) {
  auto chip = load_chip("h200");
  KernelRun once = run_kernel(*chip, gemm("8192", "8192", "8192"), false, false);
  const EnergyEvents& e = once.result.events;
  const PowerSpec& s = *chip->power();
  const PowerTimeline t = power_timeline(s, e, s.boost_clock.value() / chip->clock_hz());
  auto call_us = [&](double x) { return at_clock(e, x).time_s * 1e6; };
  // A burst of a few calls runs at boost: the first calls of a burst after 1 s idle (a second run).
  EXPECT_NEAR(err(call_us(t.boost_clock), "G444"), 0, 0.03);
  // The fast loop cuts the boost after tens of milliseconds, the TDP average at about 1 s.
  EXPECT_NEAR(t.boost_ends_s / (measured("G005") * 1e-3), 1, 0.25);
  EXPECT_GT(t.limit_reached_s, 0.8);
  EXPECT_LT(t.limit_reached_s, 1.05);
  // Between them, the short-term clock: the last calls of the 100 ms bursts (G446, 40-100 ms).
  EXPECT_NEAR(err(call_us(t.short_term_clock), "G446"), 0, 0.05);
  // From 1 s on, the clock held at TDP: time per call, board power and clock.
  EXPECT_NEAR(err(call_us(t.held_clock), "G003"), 0, 0.05);
  EXPECT_NEAR(err(s.tdp.value(), "G006"), 0, kBound);
  EXPECT_NEAR(err(mhz(*chip, t.held_clock), "G007"), 0, kBound);
  EXPECT_NEAR(err(mhz(*chip, t.held_clock), "G441"), 0, kBound);
  EXPECT_LT(t.held_clock, t.short_term_clock);
  EXPECT_LT(t.short_term_clock, t.boost_clock);
  // The manager over 15 s from idle gives the same phases: a few dozen ms at boost, then mostly held.
  PowerResult loop = manage_power(*chip, e.scaled(std::ceil(15.0 / e.time_s)), false);
  EXPECT_NEAR(loop.boost_s, t.boost_ends_s, 0.002);
  EXPECT_NEAR(loop.clock_ratio / t.held_clock, 1, 0.01);
  EXPECT_NEAR(loop.avg_power_w / s.tdp.value(), 1, 0.01);
}

// Sustained loops of GEMMs of other intensities (6-10 s, the first second dropped): board power and clock.
// Not asserted: M64 x N8192 x K8192 (G463), whose held clock the model puts at 1315 MHz against 1753
// measured (-27%): the model charges a memory-bound GEMM's MACs the energy per MAC calibrated on the
// compute-bound 8192^3 loop, which the M64 loop's power (695 W at 1753 MHz, 55 W above the copy loop at a
// similar bandwidth) shows is several times too high for it.
TEST(PowerH200, SustainedGemmLoopsDrawTdpAtTheMeasuredClock) {
  auto chip = load_chip("h200");
  struct Row { OpSpec op; const char *power, *clock; };
  for (const Row& r : {Row{gemm("8192", "8192", "8192"), "G440", "G441"}, Row{gemm("512", "8192", "8192"), "G460", "G461"},
                       Row{gemm("8192", "8192", "8192", "fp8"), "G464", "G465"}}) {
    KernelStudyOptions o;
    o.sustained = true;
    KernelStudy st = run_kernel_study(*chip, r.op, o);
    EXPECT_NEAR(err(st.power.avg_power_w, r.power), 0, kBound) << r.op.shape_str();
    EXPECT_NEAR(err(st.run.result.clock_hz / 1e6, r.clock), 0, kBound) << r.op.shape_str();
  }
  KernelStudyOptions o;
  o.sustained = true;
  EXPECT_NEAR(err(run_kernel_study(*chip, gemm("64", "8192", "8192"), o).power.avg_power_w, "G462"), 0, kBound);
}

// Memory-bound work runs at the boost clock and draws idle power plus its bytes: decode-size GEMMs that stream
// their weights at copy bandwidth draw what the copy loops drew, on the H200 (G442) and the H100 (H357), both
// at 1980 MHz (G443, H358).
TEST(PowerH200, CopyBandwidthWorkDrawsWhatTheCopyLoopsDrew) {
  for (const auto& [preset, power_id, clock_id] : {std::tuple{"h200", "G442", "G443"}, std::tuple{"h100-sxm", "H357", "H358"}}) {
    auto chip = load_chip(preset);
    KernelStudyOptions o;
    o.sustained = true;
    KernelStudy st = run_kernel_study(*chip, gemm("8", "8192", "8192"), o);
    const double bw = st.run.result.events.dram_bytes / st.run.result.latency_s;
    ASSERT_GT(bw, 0.8 * chip->dram_bandwidth()) << preset;  // streams near copy bandwidth
    EXPECT_FALSE(st.power.throttled) << preset;
    EXPECT_NEAR(err(st.run.result.clock_hz / 1e6, clock_id), 0, 0.01) << preset;
    EXPECT_NEAR(err(st.power.avg_power_w, power_id), 0, kBound) << preset << ": " << st.power.avg_power_w << " W";
  }
}

// Board power under decode steps replayed for 6 s (dpower rows). At batch 1 the step is memory-bound: clock at
// boost, and the energy of a step (power x step time, G404 / G422) within the bound; its power alone is
// 20% high because the simulated step is 19-24% shorter than the eager CUDA graph measured (772-1925 kernels
// with their gaps; step timing is not this test's subject). From batch 64 the steps reach TDP.
TEST(PowerH200, DecodeStepsDrawTheMeasuredBoardPower) {
  auto chip = load_chip("h200");
  struct Row { const char* model; std::int64_t batch; DType w; const char *power, *clock, *latency; bool clock_checked; };
  // 70B fp8 B64: held at 1481 MHz against 1973 measured (-25%) with the default (fused) step; with the eager graph
  // that was measured (`validate --models`, ValidateExpressesTheSustainedLoops) 1855 MHz (-6%).
  for (const Row& r : {Row{"llama-3.1-8b", 1, DType::bf16, "G430", "G431", "G404", true},
                       Row{"llama-3.1-8b", 64, DType::bf16, "G432", "G433", nullptr, true},
                       Row{"llama-3.1-8b", 256, DType::bf16, "G434", "G435", nullptr, true},
                       Row{"llama-3.1-70b", 1, DType::fp8, "G436", "G437", "G422", true},
                       Row{"llama-3.1-70b", 64, DType::fp8, "G438", "G439", nullptr, false}}) {
    Scenario sc;
    sc.phase = Phase::Decode;
    sc.batch = r.batch;
    sc.input_len = 1024;
    sc.output_len = 1;
    sc.wdtype = sc.adtype = r.w;
    sc.kvdtype = DType::bf16;
    ModelRunResult m = run_model(*chip, load_model(r.model), sc);
    const std::string what = std::string(r.model) + " B" + std::to_string(r.batch);
    if (r.clock_checked) { EXPECT_NEAR(err(mhz(*chip, m.power.clock_ratio), r.clock), 0, kBound) << what; }
    if (r.latency) {
      const double step_j = measured(r.power) * measured(r.latency) * 1e-6;
      EXPECT_NEAR(m.power.avg_power_w * m.tpot_s / step_j - 1, 0, kBound) << what;
      EXPECT_FALSE(m.power.throttled) << what;
    } else {
      EXPECT_NEAR(err(m.power.avg_power_w, r.power), 0, kBound) << what;
    }
  }
}

// `xpusim validate` expresses the sustained loops (level micro): the board power, SM clock, call time and rate
// of a kernel repeated for seconds (H100 and H200, without --models) and the power and clock under a decode
// step's graph replayed for 6 s (with --models), each within the bound above; a known gap is held to its own
// bound and must leave the list once it is within kBound. Every other micro row is listed with its reason.
TEST(PowerH200, ValidateExpressesTheSustainedLoops) {
  struct Gap { const char* why; double bound; };
  const std::map<std::string, Gap> gaps = {
      {"G463", {"M64 GEMM loop: the model holds 1315 MHz against 1753; its energy per call at 1753 MHz is 27% above "
                "the measured at the same call time (README, Validation, \"Power and clock of sustained loops\")", 0.30}}};
  std::vector<ValidationRow> rows;
  for (const auto& f : default_measurement_files())
    for (const auto& r : read_measurements(f))
      if (r.level == "micro" && (r.hardware == "H200" || r.hardware.rfind("H100", 0) == 0)) rows.push_back(r);
  std::vector<ValidationSkip> skipped;
  const auto pts = validate_rows(rows, "", true, &skipped);
  std::map<std::string, double> error;
  for (const auto& p : pts) error[p.row.id] = p.error;
  for (const char* id : {"H355", "H356", "H357", "H358", "G003", "G004", "G006", "G007", "G430", "G431", "G432", "G433", "G434",
                         "G435", "G436", "G437", "G438", "G439", "G440", "G441", "G442", "G443", "G460", "G461", "G462", "G463",
                         "G464", "G465"}) {
    ASSERT_TRUE(error.count(id)) << id << " is not expressed";
    auto g = gaps.find(id);
    if (g == gaps.end()) {
      EXPECT_LE(std::fabs(error[id]), kBound) << id;
      continue;
    }
    EXPECT_LE(std::fabs(error[id]), g->second.bound) << id << " known gap: " << g->second.why;
    EXPECT_GT(std::fabs(error[id]), kBound) << id << " is within the bound now: take it off the known gaps";
  }
  for (const auto& s : skipped) EXPECT_FALSE(s.reason.empty()) << s.row.id;
}
