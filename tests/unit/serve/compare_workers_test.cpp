// compare's units in worker processes: a row crosses the process boundary whole (every field, doubles
// bit for bit), and a study run with --jobs 2 writes the JSON and table a single process writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "sim/io/compare_report.h"
#include "sim/serve/compare.h"
#include "sim/serve/row_codec.h"

namespace xpu {
namespace {

std::uint64_t bits(double v) {
  std::uint64_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

ServePoint odd_point(double x) {
  ServePoint p;
  p.batch = 7, p.concurrency = 16, p.rate = x, p.throughput_tok_s = 1.0 / 3.0, p.throughput_tok_s_per_chip = 0.1 + 0.2;
  p.tok_s_per_user = std::numeric_limits<double>::infinity(), p.ttft_s = -0.0, p.tpot_s = std::numeric_limits<double>::denorm_min();
  p.tpot_p99_s = std::numeric_limits<double>::max(), p.kv_peak = 0.95, p.preemptions = -3, p.requests = 1LL << 53;
  p.kv_over_time = {{0.5, 0.25, 3, 4}, {1e-300, 1.0 / 7, 0, 0}};
  p.energy_per_token = {1.5, 2.5, 3.5, 4.5, 5.5, 6.5};
  p.throttled = true, p.meets_slo = false, p.layout = "dp2 x tp4";
  KvTransferStats kv;
  kv.transfers = 9, kv.time_p99_s = 2.0 / 3.0, kv.converged = false;
  p.kv_transfer = kv;
  return p;
}

// A row with a value in the fields a study fills, including doubles that text loses or cannot hold.
CompareRow odd_row() {
  CompareRow r;
  r.chip = "hgx-h100x8", r.family = "gpu", r.devices = 8, r.ran = true, r.error = "line\n\"quoted\"";
  r.result.chip = "h100-sxm", r.result.best = 1, r.result.frontier = true, r.result.limits = {8192, 256};
  r.result.memory.kv_bytes_per_token = 1.0 / 3.0, r.result.memory.stage_kv_tokens = {1, 2, 3};
  r.result.curve = {odd_point(1.0 / 9.0), odd_point(-std::numeric_limits<double>::infinity())};
  r.result.cost = {2.99, 1.0 / 11.0, 3e-9, true, "cloud list price", "--set"};
  r.result.kernels = {{"gemm", 1e-5 / 3}, {"attention", 0.0}, {"allreduce", 2e-6, "ring/ll", 8192}};
  DisaggLayout d;
  d.prefill_tp = 2, d.decode_tp = 4, d.decode_ep = 8, d.decode_dp = 2, d.prefill_devices = 4, d.decode_devices = 4;
  d.prefill_instances = 2, d.decode_instances = 1, d.decode_first = 4, d.system_chips = 8, d.kv_bytes_per_token = 123.456, d.kv_heads = 8;
  d.prefill_weight_bytes = 1.0 / 7.0, d.decode_kv_tokens = 12345;
  r.result.disagg = d;
  r.tdp_w = 700, r.perf_per_usd_rel = 1.0 / 6.0, r.config_yaml = "a: 1\n";
  InteractivityTier t;
  t.tok_s_per_user = 50, t.point = 2, t.bound.time_s = {{"weight streaming", 2e-3 / 3}}, t.bound.dominant = "weight streaming";
  t.why = "", t.layout = "tp8";
  r.tiers = {t, InteractivityTier{}};
  r.economics = {{0.1, 0.2, 0.3}};
  r.frontier = {odd_point(std::nan(""))};
  r.frontier_economics = {{1.0 / 13.0, 0, 5e5}};
  r.tco = {0, 0, 0, false, "", ""};
  LayoutTrial l;
  l.layout = "tp8", l.kind = "tp-dp", l.pruned = true, l.screened_to = 64, l.walk_cut = true;
  l.tok_s_per_chip_at_tier = {0, 1.0 / 17.0}, l.serves_tiers = {20}, l.max_tok_s_per_user = std::numeric_limits<double>::infinity();
  r.layouts = {l, LayoutTrial{}};
  r.layout_criterion = "most tiers";
  return r;
}

TEST(CompareWorkers, ARowCrossesWholeWithItsDoublesBitForBit) {
  const CompareRow row = odd_row();
  const std::string bytes = encode_compare_row(row);
  const CompareRow back = decode_compare_row(bytes);
  EXPECT_EQ(encode_compare_row(back), bytes);
  ASSERT_EQ(back.result.curve.size(), 2u);
  ASSERT_EQ(back.frontier.size(), 1u);
  ASSERT_EQ(back.tiers.size(), 2u);
  ASSERT_EQ(back.layouts.size(), 2u);
  ASSERT_EQ(back.result.curve[0].kv_over_time.size(), 2u);
  ASSERT_TRUE(back.result.curve[0].kv_transfer.has_value());
  const ServePoint &a = row.result.curve[0], &b = back.result.curve[0];
  for (auto [x, y] : {std::pair{a.rate, b.rate}, {a.throughput_tok_s, b.throughput_tok_s}, {a.throughput_tok_s_per_chip, b.throughput_tok_s_per_chip},
                      {a.tok_s_per_user, b.tok_s_per_user}, {a.ttft_s, b.ttft_s}, {a.tpot_s, b.tpot_s}, {a.tpot_p99_s, b.tpot_p99_s},
                      {a.kv_over_time[1].t_s, b.kv_over_time[1].t_s}, {a.kv_transfer->time_p99_s, b.kv_transfer->time_p99_s}})
    EXPECT_EQ(bits(x), bits(y)) << x;
  EXPECT_EQ(bits(back.result.curve[1].rate), bits(-std::numeric_limits<double>::infinity()));
  EXPECT_TRUE(std::isnan(back.frontier[0].rate));
  EXPECT_EQ(back.result.curve[0].requests, 1LL << 53);
  EXPECT_EQ(back.result.curve[0].kv_over_time[0].waiting, 4);
  EXPECT_FALSE(back.result.curve[0].kv_transfer->converged);
  ASSERT_TRUE(back.result.disagg.has_value());
  EXPECT_EQ(back.result.disagg->decode_first, 4);
  EXPECT_EQ(back.error, row.error);
  EXPECT_EQ(back.result.kernels, row.result.kernels);
  EXPECT_EQ(back.tiers[0].bound.time_s, row.tiers[0].bound.time_s);
  EXPECT_EQ(back.layouts[0].serves_tiers, row.layouts[0].serves_tiers);
  EXPECT_TRUE(back.layouts[0].walk_cut);
  EXPECT_EQ(bits(back.layouts[0].tok_s_per_chip_at_tier[1]), bits(1.0 / 17.0));
  // A row without the optional parts reads back without them.
  CompareRow bare;
  bare.chip = "tpu-v6e";
  const CompareRow bare_back = decode_compare_row(encode_compare_row(bare));
  EXPECT_FALSE(bare_back.result.disagg.has_value());
  EXPECT_EQ(bare_back.chip, "tpu-v6e");
  EXPECT_THROW(decode_compare_row(bytes.substr(0, bytes.size() / 2)), std::runtime_error);
}

// The study's JSON without what differs between two runs of it: the time it was made and host seconds.
std::string without_clock(nlohmann::json j) {
  j.erase("created");
  std::function<void(nlohmann::json&)> strip = [&](nlohmann::json& v) {
    if (v.is_object()) {
      v.erase("wall_s");
      for (auto& [k, x] : v.items()) strip(x);
    } else if (v.is_array()) {
      for (auto& x : v) strip(x);
    }
  };
  strip(j);
  return j.dump(1);
}

TEST(CompareWorkers, TwoJobsWriteWhatOneProcessWrites) {
  CompareRequest req;
  // A chip of each family, a searched system (layout_search, per-tier layouts, a unit frontier) and a
  // fixed layout; small enough to run in seconds.
  req.chips = {"h100-sxm", "hgx-h100x8", "tpu-v6e", "trn2", "maia200", "hgx-h100x8:tp2"};
  req.model = "llama-3.1-8b";
  req.serve.input = 64;
  req.serve.output = 16;
  req.input_given = req.output_given = true;
  req.serve.max_batch = 16;
  req.tiers = {100, 400};
  req.jobs = 2;  // first, so its workers fork from a process that has simulated nothing yet
  const CompareStudy two = compare_study(req);
  req.jobs = 1;
  const CompareStudy one = compare_study(req);
  ASSERT_EQ(one.rows.size(), req.chips.size());
  EXPECT_TRUE(one.all_ran());
  bool searched = false;
  for (const CompareRow& r : one.rows) searched = searched || !r.layouts.empty();
  EXPECT_TRUE(searched);
  EXPECT_EQ(without_clock(compare_summary_json(two)), without_clock(compare_summary_json(one)));
  EXPECT_EQ(compare_table(two), compare_table(one));
  ASSERT_EQ(two.rows.size(), one.rows.size());
  for (size_t i = 0; i < one.rows.size(); ++i) {
    EXPECT_EQ(two.rows[i].chip, one.rows[i].chip);
    EXPECT_EQ(encode_compare_row(decode_compare_row(encode_compare_row(one.rows[i]))), encode_compare_row(one.rows[i]));
  }
}

}  // namespace
}  // namespace xpu
