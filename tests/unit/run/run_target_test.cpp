// run_target.h: `--set` keys split between the system preset and the chip preset, and applied to each.
#include <gtest/gtest.h>

#include "sim/base/error.h"
#include "sim/run/run_target.h"

using namespace xpu;

TEST(RunTarget, SystemSectionsGoToTheSystemTheRestToTheChip) {
  for (const char* k : {"scale_up.link.bandwidth=1TB/s", "scale_out.nic.latency=2us", "library.channels=4", "nodes=2", "chip=b200"})
    EXPECT_TRUE(is_system_override(k)) << k;
  for (const char* k : {"hbm.bandwidth=4TB/s", "sm.clock=1GHz", "power.tdp=500W", "cost.chip_hour=2", "name=x", "description=y",
                        "onchip.channel=serial", "scale_upp.link.bandwidth=1TB/s"})
    EXPECT_FALSE(is_system_override(k)) << k;
}

TEST(RunTarget, OverridesReachTheirPresetOnEveryWayOfNamingASystem) {
  const std::vector<std::string> sets = {"scale_up.link.bandwidth=225GB/s", "hbm.bandwidth=3TB/s"};
  SystemChoice by_name;
  by_name.system = "hgx-h100x8";
  SystemChoice by_devices;
  by_devices.devices = 4;
  for (const SystemChoice& c : {by_name, by_devices}) {
    RunTarget t = load_run_target("h100-sxm", c, sets, false);
    ASSERT_TRUE(t.system);
    EXPECT_DOUBLE_EQ(t.system->spec.link.bandwidth.value(), 225e9);
    EXPECT_DOUBLE_EQ(t.chip->dram_bandwidth(), 3e12);
    EXPECT_NE(t.system->spec.resolved_yaml.find("bandwidth: 225 GB/s"), std::string::npos);
  }
  EXPECT_THROW(load_run_target("h100-sxm", SystemChoice{}, sets, false), InputError);  // a system field on one chip
  EXPECT_FALSE(load_run_target("h100-sxm", SystemChoice{}, {"hbm.bandwidth=3TB/s"}, false).system);
}
