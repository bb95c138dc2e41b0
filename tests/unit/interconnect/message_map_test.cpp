// The fabric's message map (sim/interconnect/message_map.h) against std::map on random streams of
// sets, finds and erases over a small key space (long probe runs, wrap-around, backward-shift
// deletion); a deadlocked program names its smallest waiting message.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <stdexcept>

#include "tests/unit/interconnect/systems_test_util.h"

#include "sim/engine/chip.h"
#include "sim/interconnect/fabric.h"
#include "sim/interconnect/message_map.h"

using namespace xpu;

TEST(MessageMap, MatchesStdMapOnRandomStreams) {
  for (unsigned seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    MessageMap<long> m;
    std::map<MessageKey, long> ref;
    const int range = seed <= 2 ? 6 : 40;  // a small space: many hits, erases and reinserts
    for (int step = 0; step < 200000; ++step) {
      const MessageKey k{static_cast<int>(rng() % range), static_cast<int>(rng() % range), static_cast<std::uint32_t>(rng() % range)};
      const unsigned what = rng() % 3;
      if (what == 0) {
        m.set(k, step);
        ref[k] = step;
      } else if (what == 1) {
        long* v = m.find(k);
        auto it = ref.find(k);
        ASSERT_EQ(v != nullptr, it != ref.end()) << "seed " << seed << " step " << step;
        if (v) { ASSERT_EQ(*v, it->second); }
      } else if (long* v = m.find(k)) {
        m.erase(v);
        ref.erase(k);
      } else {
        ASSERT_EQ(ref.count(k), 0u);
      }
      ASSERT_EQ(m.size(), ref.size());
    }
    for (const auto& [k, v] : ref) {
      long* got = m.find(k);
      ASSERT_NE(got, nullptr);
      EXPECT_EQ(*got, v);
    }
    if (!ref.empty()) {
      EXPECT_TRUE(m.smallest().first == ref.begin()->first);
      EXPECT_EQ(m.smallest().second, ref.begin()->second);
    }
  }
}

namespace {
CommOp recv_from(int from, std::uint32_t tag) {
  CommOp o;
  o.kind = CommOp::Kind::Recv;
  o.peers = {from};
  o.tag = tag;
  return o;
}
}  // namespace

TEST(MessageMap, DeadlockNamesTheSmallestWaitingMessage) {
  Topology t(load_system(test::system_data("tiny_switch.yaml")));
  CommProgram p;
  p.ops.resize(t.vertices().size());
  p.ops[0] = {recv_from(1, 5)};  // key (1, 0, 5)
  p.ops[1] = {recv_from(0, 3)};  // key (0, 1, 3): the smallest
  std::string what;
  try {
    simulate_collective(t, p);
  } catch (const std::logic_error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("deadlocked"), std::string::npos) << what;
  EXPECT_NE(what.find(t.vertices()[1].name + " waits for tag 3 from " + t.vertices()[0].name), std::string::npos) << what;
}
