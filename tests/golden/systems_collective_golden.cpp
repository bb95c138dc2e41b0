// Golden collective runs, one or more per system preset: the algorithm the library model chooses and
// the simulated time, against tests/golden/systems/collectives.json within its stated tolerance.
// Every system preset must appear (a new preset without a golden run fails).
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "sim/app/system_cmd.h"
#include "sim/system/collective_run.h"

using namespace xpu;

TEST(SystemsGolden, EveryPresetRunsItsReferenceCollectives) {
  std::ifstream in(std::string(XPUSIM_SOURCE_DIR) + "/tests/golden/systems/collectives.json");
  ASSERT_TRUE(in) << "tests/golden/systems/collectives.json missing";
  nlohmann::json g = nlohmann::json::parse(in);
  double tol = g.at("tolerance").get<double>();
  std::set<std::string> covered;
  for (const auto& c : g.at("cases")) {
    std::string sys = c.at("system");
    SCOPED_TRACE(sys + " " + c.at("collective").get<std::string>() + " " + c.at("bytes").get<std::string>());
    SystemSpec spec = load_system(sys, {}, c.at("nodes").get<int>());
    check_system_chip(spec);
    CollectiveRequest r;
    r.kind = parse_collective(c.at("collective"));
    r.bytes = parse_message_bytes(c.at("bytes"));
    CollectiveReport rep = run_collective(spec, r);
    EXPECT_EQ(rep.algorithm, c.at("algorithm").get<std::string>());
    EXPECT_EQ(rep.protocol, c.at("protocol").get<std::string>());
    double ref = c.at("latency_s").get<double>();
    EXPECT_NEAR(rep.latency_s, ref, ref * tol);
    covered.insert(sys);
  }
  for (const auto& s : list_systems()) EXPECT_TRUE(covered.count(s.name)) << s.name << " has no golden run";
}
