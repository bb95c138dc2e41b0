// Config: inherits, overlays, strict validation with one-line errors naming file, key and expectation.
#include <gtest/gtest.h>

#include "sim/run/registry.h"
#include "sim/base/config.h"

using namespace xpu;

namespace {
std::string data(const std::string& f) { return std::string(XPUSIM_SOURCE_DIR) + "/tests/data/presets/" + f; }
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Config, InheritsAndOverridesOnlyWhatDiffers) {
  auto chip = load_chip(data("tiny_gpu.yaml"));
  EXPECT_NE(chip->resolved_yaml().find("count: 4"), std::string::npos);
  EXPECT_DOUBLE_EQ(chip->dram_bandwidth(), 3.35e12);  // inherited from the H100
}

TEST(Config, OverlayUsesTheSameMechanism) {
  auto chip = load_chip("h100-sxm", {"hbm.bandwidth=4TB/s", "sm.count=66"});
  EXPECT_DOUBLE_EQ(chip->dram_bandwidth(), 4e12);
  EXPECT_DOUBLE_EQ(chip->peak_flops(DType::bf16), 4096.0 * 66 * 1.83e9);
  EXPECT_NE(chip->resolved_yaml().find("bandwidth: 4 TB/s"), std::string::npos);
}

TEST(Config, UnknownKeyNamesFileKeyAndNearestValidKey) {
  std::string e = error_of([] { load_chip(data("bad_key.yaml")); });
  EXPECT_NE(e.find("bad_key.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("hbm.bandwith"), std::string::npos) << e;
  EXPECT_NE(e.find("nearest valid key: hbm.bandwidth"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
}

TEST(Config, WrongUnitSaysWhatWasExpected) {
  std::string e = error_of([] { load_chip(data("bad_unit.yaml")); });
  EXPECT_NE(e.find("hbm.bandwidth"), std::string::npos) << e;
  EXPECT_NE(e.find("TB/s"), std::string::npos) << e;
}

TEST(Config, SetOnAMissingKeyIsAnError) {
  std::string e = error_of([] { load_chip("h100-sxm", {"hbm.bandwith=4TB/s"}); });
  EXPECT_NE(e.find("--set"), std::string::npos) << e;
  EXPECT_NE(e.find("hbm.bandwidth"), std::string::npos) << e;
  EXPECT_NE(error_of([] { load_chip("h100-sxm", {"hbm.bandwidth"}); }).find("key.path=value"), std::string::npos);
}

TEST(Config, MissingRequiredFieldIsNamed) {
  ConfigTree t = ConfigTree::load_string("family: gpu\nsm:\n  count: 4\n", "inline.yaml");
  std::string e = error_of([&] { family("gpu").load(t); });
  EXPECT_NE(e.find("inline.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("missing required field"), std::string::npos) << e;
}

TEST(Config, UnknownChipListsTheValidOnes) {
  std::string e = error_of([] { load_chip("h100"); });
  EXPECT_NE(e.find("h100-sxm"), std::string::npos) << e;
}

TEST(Config, EveryPresetLoadsAndReportsAPeak) {
  for (const auto& p : list_presets()) {
    auto chip = load_chip(p.name);
    EXPECT_GT(chip->dram_bandwidth(), 0) << p.name;
    EXPECT_FALSE(chip->dtypes().empty()) << p.name;
  }
}
