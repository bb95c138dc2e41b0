// The layout search of `xpusim compare`: which layouts a unit offers, how the criterion picks one and
// what it says about the others, and the named studies.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/serve/compare.h"
#include "sim/serve/layout_search.h"
#include "sim/serve/study.h"
#include "sim/run/registry.h"
#include "sim/interconnect/system_spec.h"

namespace xpu {
namespace {

LayoutTrial trial(const std::string& layout, std::vector<double> at_tiers, double max_per_chip) {
  LayoutTrial t;
  t.layout = layout;
  t.ran = true;
  t.tok_s_per_chip_at_tier = std::move(at_tiers);
  t.max_tok_s_per_chip = max_per_chip;
  return t;
}

TEST(LayoutSearch, TensorAndDataParallelLayoutsFillTheUnitAndSplitTheHeads) {
  ModelConfig m = load_model("llama-3.1-70b");  // 64 heads, 8 KV heads
  Scenario base;
  std::vector<std::string> got;
  for (const auto& c : candidate_layouts(8, m, base)) {
    EXPECT_EQ(c.unit.devices(), 8);
    EXPECT_EQ(c.replica.dp, 1);
    EXPECT_EQ(c.replicas * c.replica.devices(), 8);
    got.push_back(c.unit.layout_str());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"dp8", "dp4 x tp2", "dp2 x tp4", "tp8"}));
  // 6 chips: neither tp3 nor tp6 splits the 64 heads evenly, so neither is offered.
  got.clear();
  for (const auto& c : candidate_layouts(6, m, base)) got.push_back(c.unit.layout_str());
  EXPECT_EQ(got, (std::vector<std::string>{"dp6", "dp3 x tp2"}));
}

TEST(LayoutSearch, MostTiersReachedWinsThenThroughputPerChip) {
  const std::vector<double> tiers = {20, 50, 100};
  // tp1 serves most per chip at 20 tok/s per user but reaches no higher tier; tp4 reaches all three.
  std::vector<LayoutTrial> ts = {trial("dp8 x tp1", {900, 0, 0}, 1200), trial("dp2 x tp4", {700, 400, 150}, 800),
                                 trial("tp8", {500, 350, 200}, 600)};
  LayoutTrial nofit;
  nofit.layout = "dp8 x tp1 (small)";
  nofit.fits = false;
  nofit.verdict = "does not fit: ...";
  ts.push_back(nofit);
  const int chosen = choose_layout(ts, tiers);
  // tp4 and tp8 both reach the three tiers; tp4 is closer to the best at each (700/900 + 400/400 +
  // 150/200 + 800/1200) than tp8 (500/900 + 350/400 + 200/200 + 600/1200).
  EXPECT_EQ(chosen, 1);
  EXPECT_TRUE(ts[1].chosen);
  EXPECT_EQ(ts[1].verdict.rfind("chosen", 0), 0u) << ts[1].verdict;
  EXPECT_EQ(ts[0].verdict.rfind("slower: reaches 1 of the 3 tiers", 0), 0u) << ts[0].verdict;
  EXPECT_EQ(ts[2].verdict.rfind("slower", 0), 0u) << ts[2].verdict;
  EXPECT_EQ(ts[3].verdict, "does not fit: ...");  // left as the search wrote it
  EXPECT_FALSE(ts[3].chosen);
}

TEST(LayoutSearch, TiesGoToFewerChipsPerReplicaAndNothingRunIsNoChoice) {
  std::vector<LayoutTrial> ts = {trial("dp2 x tp1", {100}, 100), trial("tp2", {100}, 100)};
  EXPECT_EQ(choose_layout(ts, {20}), 0);
  std::vector<LayoutTrial> none(2);
  none[0].verdict = none[1].verdict = "does not fit";
  none[0].fits = none[1].fits = false;
  EXPECT_EQ(choose_layout(none, {20}), -1);
}

TEST(LayoutSearch, ScreenedTrialsReadTheTiersFromTheirPoints) {
  LayoutTrial t;
  score_trial(t, {{1, 120, 100}, {16, 60, 900}, {64, 25, 2000}}, {20, 50, 100});
  EXPECT_TRUE(t.ran);
  EXPECT_EQ(t.tok_s_per_chip_at_tier, (std::vector<double>{2000, 900, 100}));
  EXPECT_EQ(t.max_tok_s_per_chip, 2000);
  EXPECT_EQ(t.max_tok_s_per_user, 120);
}

TEST(Studies, TheShippedStudiesLoadAndUnknownNamesAreRefusedInOneLine) {
  const auto names = study_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "frontier"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "chat-8b"), names.end());
  StudyDef f = load_study(default_study_name());
  EXPECT_EQ(f.models, (std::vector<std::string>{"llama-3.1-70b"}));
  EXPECT_EQ(f.units.size(), 5u);
  EXPECT_FALSE(f.waiting.empty());
  for (const auto& m : f.waiting) EXPECT_NO_THROW(load_model(m)) << m;
  StudyDef c = load_study("chat-8b");
  EXPECT_EQ(c.models, (std::vector<std::string>{"llama-3.1-8b"}));
  try {
    load_study("frontiers");
    FAIL() << "an unknown study loaded";
  } catch (const InputError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("--study 'frontiers'"), std::string::npos) << w;
    EXPECT_NE(w.find("frontier"), std::string::npos) << w;
    EXPECT_EQ(w.find('\n'), std::string::npos) << w;
  }
}

TEST(Studies, ABadStudyFileNamesItsKey) {
  const std::string dir = ::testing::TempDir();
  auto refused = [&](const std::string& name, const std::string& yaml, const std::string& key) {
    const std::string path = dir + "/" + name + ".yaml";
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(yaml.c_str(), f);
    std::fclose(f);
    try {
      load_study(path);
      ADD_FAILURE() << name << " loaded";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  refused("typo", "description: x\nunits: [h100-sxm]\nmodels: [llama-3.1-8b]\nmodel: llama-3.1-8b\n", "model");
  refused("nounits", "description: x\nmodels: [llama-3.1-8b]\n", "units");
  refused("waiting", "description: x\nunits: [h100-sxm]\nmodels: [llama-3.1-8b]\nwaiting: [deepseek-v3]\n", "waiting_reason");
  refused("tiers", "description: x\nunits: [h100-sxm]\nmodels: [llama-3.1-8b]\ntiers: [20, fast]\n", "tiers");
}

TEST(Studies, FlagsOverrideTheStudyAndEachModelIsARequest) {
  StudyDef d;
  d.name = "s";
  d.units = {"hgx-h100x8"};
  d.models = {"llama-3.1-8b", "llama-3.1-70b"};
  d.dtype = "bf16";
  CompareRequest given;
  given.scenario = "";
  given.model = "";
  auto rs = study_requests(d, given, false);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].chips, d.units);
  EXPECT_EQ(rs[0].dtype, DType::bf16);
  EXPECT_EQ(rs[0].scenario, "chat");
  EXPECT_EQ(rs[1].study, "s-llama-3.1-70b");
  EXPECT_EQ(rs[1].folder, "llama-3.1-70b");
  given.model = "llama-3.1-8b";
  given.chips = {"h100-sxm"};
  given.dtype = DType::fp8;
  rs = study_requests(d, given, true);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].chips, given.chips);
  EXPECT_EQ(rs[0].dtype, DType::fp8);
  EXPECT_EQ(rs[0].study, "s");
  EXPECT_TRUE(rs[0].folder.empty());
}

TEST(Studies, EveryUnitOfTheDefaultStudyHasAnAllInCostAndEveryPublishedPriceItsSource) {
  for (const auto& unit : load_study(default_study_name()).units) {
    auto chip = load_chip(load_system(unit).chip);
    const CostSpec& c = chip->cost();
    EXPECT_GT(c.unit_price_usd, 0) << unit << ": no capex, so --tco has nothing to amortize";
    const CostFigures t = tco_figures(c, 1000, chip->power() ? chip->power()->tdp.value() : 0);
    EXPECT_GT(t.usd_per_hour, 0) << unit;
    EXPECT_GT(t.usd_per_mtok, 0) << unit;
    EXPECT_GT(cost_figures(c, 1000, 500).usd_per_mtok, 0) << unit << ": no $/Mtok (cloud price or TCO)";
    // A capex with a source is one the source gives; the assumed ones say so (B200 must not inherit the H100's).
    if (chip->name() == "b200" || chip->name() == "tpu-v6e" || chip->name() == "trn2" || chip->name() == "maia200")
      EXPECT_TRUE(c.unit_price_source.empty()) << unit << ": " << c.unit_price_source;
  }
  for (const auto& p : list_presets()) {
    auto chip = load_chip(p.path);
    if (chip->cost().published) {
      EXPECT_GT(chip->cost().chip_hour_usd, 0) << p.name;
      EXPECT_FALSE(chip->cost().source.empty()) << p.name << ": a published price names its source";
    }
  }
}

}  // namespace
}  // namespace xpu
