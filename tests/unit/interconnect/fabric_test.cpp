// Fabric components on hand-written programs: a link reaches its bandwidth, two flows share a link,
// a switch port contends, a torus routes dimension-ordered, a bad system is refused in one line; a
// program of parts runs as the flat program it stands for.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/interconnect/systems_test_util.h"

#include "sim/engine/chip.h"
#include "sim/interconnect/fabric.h"
#include "sim/system/collective_run.h"

using namespace xpu;

namespace {
using test::input_error_of;
const auto& data = test::system_data;
CommOp send(int to, std::uint64_t bytes, std::uint32_t tag) {
  CommOp o;
  o.kind = CommOp::Kind::Send;
  o.peers = {to};
  o.bytes = bytes;
  o.tag = tag;
  return o;
}
CommOp recv(int from, std::uint32_t tag) {
  CommOp o;
  o.kind = CommOp::Kind::Recv;
  o.peers = {from};
  o.tag = tag;
  return o;
}
// Tiny switch: chips 0..3, switch 4; 100 GB/s links, 1 us per link, no software latency.
constexpr double kRate = 100e9, kHop = 1e-6;
}  // namespace

TEST(Fabric, LinkReachesItsBandwidth) {
  Topology t(load_system(data("tiny_switch.yaml")));
  CommProgram p;
  p.ops.resize(t.vertices().size());
  const std::uint64_t b = 64ull << 20;
  p.ops[0] = {send(1, b, 1)};
  p.ops[1] = {recv(0, 1)};
  FabricResult r = simulate_collective(t, p);
  double expect = b / kRate + 2 * kHop;  // serialization once (cut-through) + two hops
  EXPECT_NEAR(to_seconds(r.end), expect, expect * 0.01);
}

// A DMA-driven library (Neuron's): a chip's collective engine sends all its pieces, one at a time, at
// library.engine_bandwidth, below what the links allow; the library's own estimate knows it too.
TEST(Fabric, CollectiveEngineBoundsWhatAChipSends) {
  const std::uint64_t b = 64ull << 20;
  auto two_sends = [&](const std::vector<std::string>& set) {
    Topology t(load_system(data("tiny_switch.yaml"), set));
    CommProgram p;
    p.ops.resize(t.vertices().size());
    p.ops[0] = {send(1, b, 1), send(2, b, 2)};
    p.ops[1] = {recv(0, 1)};
    p.ops[2] = {recv(0, 2)};
    return to_seconds(simulate_collective(t, p).end);
  };
  const double links = 2.0 * b / kRate;  // both leave on chip 0's one 100 GB/s link
  EXPECT_NEAR(two_sends({}), links, links * 0.02);
  const double engine = 2.0 * b / 25e9;
  EXPECT_NEAR(two_sends({"library.engine_bandwidth=25GB/s"}), engine, engine * 0.02);
  Topology t(load_system(data("tiny_switch.yaml"), {"library.engine_bandwidth=25GB/s"}));
  CollectiveRequest r;
  r.bytes = b;
  const CollectiveChoice c = choose_collective(t, r);
  const double sent = 2.0 * 3 / 4 * static_cast<double>(b);  // a ring all-reduce: 2(n-1)/n of the buffer per chip
  EXPECT_GE(c.estimate_s, sent / 25e9);
}

TEST(Fabric, TwoFlowsOnOneLinkShareIt) {
  Topology t(load_system(data("tiny_switch.yaml")));
  CommProgram p;
  p.ops.resize(t.vertices().size());
  const std::uint64_t big = 64ull << 20, small = 16ull << 20;
  p.ops[0] = {send(1, big, 1), send(2, small, 2)};  // both leave through chip0's single uplink
  p.ops[1] = {recv(0, 1)};
  p.ops[2] = {recv(0, 2)};
  FabricResult r = simulate_collective(t, p);
  // Shared piece by piece: the small flow ends after 2 x small at half the rate (FIFO would give
  // either small or big + small), the big one after both.
  EXPECT_NEAR(to_seconds(r.vertex_end[2]), 2.0 * small / kRate, 2.0 * small / kRate * 0.1);
  EXPECT_NEAR(to_seconds(r.end), (big + small) / kRate + 2 * kHop, (big + small) / kRate * 0.02);
  int up = t.link_between(0, 4);
  EXPECT_NEAR(to_seconds(r.link_busy[static_cast<size_t>(up)]), (big + small) / kRate, (big + small) / kRate * 0.01);
}

TEST(Fabric, SwitchOutputPortContends) {
  Topology t(load_system(data("tiny_switch.yaml")));
  CommProgram p;
  p.ops.resize(t.vertices().size());
  const std::uint64_t b = 32ull << 20;
  p.ops[0] = {send(3, b, 1)};  // two senders, one destination: the switch's port to chip3 is the bottleneck
  p.ops[1] = {send(3, b, 2)};
  p.ops[3] = {recv(0, 1), recv(1, 2)};
  FabricResult r = simulate_collective(t, p);
  EXPECT_NEAR(to_seconds(r.end), 2.0 * b / kRate + 2 * kHop, 2.0 * b / kRate * 0.03);
  // Disjoint destinations do not contend.
  p.ops[1] = {send(2, b, 2)};
  p.ops[3] = {recv(0, 1)};
  p.ops[2] = {recv(1, 2)};
  r = simulate_collective(t, p);
  EXPECT_NEAR(to_seconds(r.end), 1.0 * b / kRate + 2 * kHop, b / kRate * 0.02);
}

TEST(Fabric, TorusRoutesDimensionOrdered) {
  Topology t(load_system(data("tiny_torus.yaml")));
  // (0,0) -> (3,2): dimension 0 first the short way round (one hop back through the wraparound),
  // then dimension 1 two hops.
  int src = t.rank_at(0, {0, 0}), dst = t.rank_at(0, {3, 2});
  const auto& r = t.route(src, dst);
  ASSERT_EQ(r.size(), 3u);
  std::vector<std::vector<int>> hops;
  for (int l : r) hops.push_back(t.coords(t.links()[static_cast<size_t>(l)].dst));
  EXPECT_EQ(hops[0], (std::vector<int>{3, 0}));
  EXPECT_EQ(hops[1], (std::vector<int>{3, 1}));
  EXPECT_EQ(hops[2], (std::vector<int>{3, 2}));
}

TEST(Fabric, BadSystemsFailInOneLineNamingFileAndKey) {
  std::string e = input_error_of([] { Topology t(load_system(data("disconnected.yaml"))); });
  EXPECT_NE(e.find("disconnected.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("scale_up.switch.type"), std::string::npos) << e;
  EXPECT_NE(e.find("disconnected"), std::string::npos) << e;
  e = input_error_of([] { load_system("tpu-v5e-8", {}, 2); });  // no scale-out network to join nodes
  EXPECT_NE(e.find("tpu_v5e_8.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("nodes"), std::string::npos) << e;
  EXPECT_EQ(Topology(load_system("hgx-h100x8", {}, 4)).ranks(), 32);  // --nodes replicates the node
  e = input_error_of([] { load_system("hgx-h100x8", {"scale_up.link.bandwith=1TB/s"}); });
  EXPECT_NE(e.find("nearest valid key: scale_up.link.bandwidth"), std::string::npos) << e;
  e = input_error_of([] { load_system("tpu-v5e-8", {"scale_up.dims=4,4"}); });
  EXPECT_NE(e.find("scale_up.dims"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << "one line";
}

TEST(Fabric, NicMessageGapBoundsTheMessageRateAndHostPathTheByteRate) {
  // Chip 0 of node 0 to chip 0 of node 1 over rail 0 (chip -> rail switch -> chip, two NIC links).
  SystemSpec s = load_system("p5-h100x8", {"scale_out.nic.message_gap=10us", "scale_out.nic.host_bandwidth=10GB/s",
                                           "scale_out.nic.host_efficiency=1.0"});
  Topology t(s);
  CommProgram p;
  p.ops.resize(t.vertices().size());
  const int n = 16;
  for (int i = 0; i < n; ++i) {
    p.ops[0].push_back(send(8, 4096, static_cast<std::uint32_t>(i + 1)));
    p.ops[8].push_back(recv(0, static_cast<std::uint32_t>(i + 1)));
  }
  FabricResult small = simulate_collective(t, p);
  // 4 KiB takes 0.4 us at 10 GB/s, but each message holds the port for the 10 us gap.
  EXPECT_GE(to_seconds(small.end), n * 10e-6);
  EXPECT_LT(to_seconds(small.end), n * 10e-6 + 50e-6);
  p.ops[0] = {send(8, 64ull << 20, 1)};
  p.ops[8] = {recv(0, 1)};
  FabricResult big = simulate_collective(t, p);
  double wire = static_cast<double>(64ull << 20) / 10e9;  // the PCIe path (10 GB/s) is below the NIC's 45
  EXPECT_GE(to_seconds(big.end), wire);
  EXPECT_LT(to_seconds(big.end), wire * 1.05);
}

namespace {
// One message from chip 0 of node 0 to chip 0 of node 1 on p5 with the NIC's gap removed, so that
// its serialization and receive costs show.
double p5_one_message(std::uint64_t bytes, std::vector<std::string> set) {
  set.push_back("scale_out.nic.message_gap=0us");
  Topology t(load_system("p5-h100x8", set));
  CommProgram p;
  p.ops.resize(t.vertices().size());
  p.ops[0] = {send(8, bytes, 1)};
  p.ops[8] = {recv(0, 1)};
  return to_seconds(simulate_collective(t, p).end);
}
}  // namespace

TEST(Fabric, MultiRailNicStripesLargeMessagesAndSendsSmallOnesOnOneRail) {
  // p5: 4 EFA rails per GPU, 45 GB/s of payload in all; messages above 8 KiB are striped over the
  // four, smaller ones take one rail (aws-ofi-nccl's round-robin threshold).
  const double rate = 50e9 * 0.9;
  auto extra = [](std::uint64_t b) {
    return p5_one_message(b, {"scale_out.nic.eager_copy=0us"}) -
           p5_one_message(b, {"scale_out.nic.eager_copy=0us", "scale_out.nic.rails=1"});
  };
  EXPECT_NEAR(extra(8192), 8192 / rate * 3, 0.05e-6);  // a quarter of the rate: 4x the time
  EXPECT_NEAR(extra(16384), 0.0, 0.01e-6);             // four stripes side by side: the full rate
  EXPECT_NEAR(extra(1 << 20), 0.0, 0.01e-6);
}

TEST(Fabric, EagerMessagesPayTheReceiversCopyOutOfTheBounceBuffer) {
  // p5: messages up to 8 KiB land in a bounce buffer (aws-ofi-nccl's eager path) and complete after
  // one more NIC operation at the receiver; larger ones are written in place.
  auto copy = [](std::uint64_t b) {
    return p5_one_message(b, {"scale_out.nic.eager_copy=3us"}) - p5_one_message(b, {"scale_out.nic.eager_copy=0us"});
  };
  EXPECT_NEAR(copy(8192), 3e-6, 0.01e-6);
  EXPECT_NEAR(copy(8196), 0.0, 0.01e-6);
  std::string e = input_error_of([] { load_system("hgx-h100x8", {"scale_up.link.rails=4"}); });
  EXPECT_NE(e.find("scale_up.link.rails"), std::string::npos) << e;
}

namespace {
// The flat program a PartProgram stands for, written out as the system runtime built it before parts:
// per vertex one list, a collective part as launch marker + remapped operations + end marker.
CommProgram written_out(const PartProgram& pp) {
  CommProgram flat;
  flat.wire_factor = pp.wire_factor;
  flat.hbm_Bps = pp.hbm_Bps;
  flat.record_times = true;
  flat.ops.resize(pp.parts.size());
  for (size_t v = 0; v < pp.parts.size(); ++v) {
    std::vector<CommOp>& out = flat.ops[v];
    std::vector<std::uint32_t> tail;  // per part: its last operation
    for (const CommPart& p : pp.parts[v]) {
      std::vector<std::uint32_t> waits;
      for (auto d : p.deps) waits.push_back(tail.at(d));
      if (p.form == CommPart::Form::Op) {
        out.push_back(p.op);
        out.back().deps = waits;
        tail.push_back(static_cast<std::uint32_t>(out.size() - 1));
        continue;
      }
      const bool marked = p.form == CommPart::Form::Collective;
      const auto launch = static_cast<std::uint32_t>(out.size());
      if (marked) out.push_back(CommOp{CommOp::Kind::Compute, {}, 0, 0, 0, waits, 0, 0, 0});
      const auto first = static_cast<std::uint32_t>(out.size());
      std::vector<std::uint32_t> all;
      for (CommOp o : *p.sub) {
        for (int& q : o.peers) q = p.vertex_map ? (*p.vertex_map)[static_cast<size_t>(q)] : q;
        if (o.kind != CommOp::Kind::Reduce) o.tag += p.tag_base;
        for (auto& d : o.deps) d += first;
        if (marked && o.deps.empty()) o.deps = {launch};
        if (o.kind == CommOp::Kind::Send && p.wire_factor > 0) o.wire_factor = p.wire_factor;
        all.push_back(static_cast<std::uint32_t>(out.size()));
        out.push_back(o);
      }
      if (marked) {
        all.push_back(launch);
        out.push_back(CommOp{CommOp::Kind::Compute, {}, 0, 0, 0, all, 0, 0, 0});
      }
      tail.push_back(static_cast<std::uint32_t>(out.size() - 1));
    }
  }
  return flat;
}
}  // namespace

// The runtime's parts (expanded while they run, freed when they end) give exactly the times of the
// flat program they stand for: NVLS switch shares, rings, kernels stretched by collective traffic.
TEST(Fabric, PartsRunExactlyAsTheFlatProgramTheyStandFor) {
  Topology t(load_system("hgx-h100x8"));
  CollectiveRequest nv{CollKind::AllReduce, 32ull << 20, "nvls", "simple"};
  CollectiveRequest ring{CollKind::AllReduce, 4ull << 20, "ring", "ll128"};  // framing: wire factor > 1
  const CommProgram a = lower_collective(t, nv), b = lower_collective(t, ring);
  std::vector<int> same;
  for (size_t v = 0; v < t.vertices().size(); ++v) same.push_back(static_cast<int>(v));
  PartProgram pp;
  pp.parts.resize(t.vertices().size());
  pp.hbm_Bps.assign(t.vertices().size(), 0.0);
  std::uint32_t a_tags = 0;
  for (const auto& v : a.ops)
    for (const auto& o : v) a_tags = std::max(a_tags, o.tag);
  for (int layer = 0; layer < 3; ++layer)
    for (size_t v = 0; v < t.vertices().size(); ++v) {
      const std::uint32_t base = 1 + static_cast<std::uint32_t>(layer) * 100000;
      auto part = [&](const CommProgram& p, std::uint32_t tags, CommPart::Form form) {
        CommPart c;
        c.form = form;
        c.call = 2 * layer + (&p == &b);  // a switch's share waits for its call's first launch
        c.sub = &p.ops[v];
        c.vertex_map = &same;
        c.tag_base = tags;
        c.wire_factor = static_cast<float>(p.wire_factor);
        return c;
      };
      auto& parts = pp.parts[v];
      if (static_cast<int>(v) >= t.ranks()) {  // a switch: its shares, run by what it receives
        if (!a.ops[v].empty()) parts.push_back(part(a, base, CommPart::Form::Plain));
        continue;
      }
      pp.hbm_Bps[v] = 3.35e12;
      CommPart k;
      k.op.kind = CommOp::Kind::Compute;
      const double us = 20 + static_cast<double>(v);
      k.op.work = to_ticks(us * 1e-6);
      k.op.hbm_bytes = pp.hbm_Bps[v] * us * 1e-6;  // memory-bound: stretched by any traffic beside it
      const auto n = static_cast<std::uint32_t>(parts.size());
      parts.push_back(k);
      if (n > 0) parts.back().deps = {n - 1};
      parts.push_back(part(a, base, CommPart::Form::Collective));
      parts.back().deps = {n};  // waits for the kernel; the next kernel runs beside it
      parts.push_back(k);
      parts.back().deps = {n};
      parts.push_back(part(b, base + a_tags + 1, CommPart::Form::Collective));
      parts.back().deps = {n + 1, n + 2};
    }
  FabricResult parts;
  {
    fresh_systemc_kernel();
    Fabric f("fabric", t, pp);
    run_kernel(&f.guard());
    ASSERT_TRUE(f.finished() && f.error().empty()) << f.error();
    parts = f.result();
  }
  const CommProgram flat = written_out(pp);
  const FabricResult ref = simulate_collective(t, flat);
  EXPECT_EQ(parts.end, ref.end);
  EXPECT_EQ(parts.vertex_end, ref.vertex_end);
  EXPECT_EQ(parts.pieces, ref.pieces);
  EXPECT_EQ(parts.link_busy, ref.link_busy);
  EXPECT_EQ(parts.stretch, ref.stretch);
  EXPECT_GT(*std::max_element(parts.stretch.begin(), parts.stretch.end()), 0);
  for (int r = 0; r < t.ranks(); ++r) {  // each part's last operation ends when the flat one's does
    std::uint32_t i = 0;
    for (size_t p = 0; p < pp.parts[static_cast<size_t>(r)].size(); ++p) {
      i += static_cast<std::uint32_t>(pp.parts[static_cast<size_t>(r)][p].size());
      EXPECT_EQ(parts.part_end[static_cast<size_t>(r)][p], ref.op_end[static_cast<size_t>(r)][i - 1]) << r << " " << p;
    }
  }
}

// The Neuron instances' chip-to-chip wiring as the runtime lists it: aws-neuron-sdk
// neuron-runtime/explore/runtime-performance-tips.rst @ db1586c3, "Respect the NUMA node layout", the
// CONNECTED DEVICES column of each instance's table (neuron-ls). trn1.32xlarge and trn2.48xlarge give
// device d the two devices beside it in its row of four and d +- 4 (mod 16): the 4x4 torus with both
// wraparounds; inf2.48xlarge gives d the devices d +- 1 (mod 12): a closed ring of 12. The presets'
// torus, numbered as the runtime numbers its devices, must link exactly those pairs.
TEST(Fabric, NeuronInstancesLinkTheDevicesTheRuntimeLists) {
  const std::vector<std::vector<int>> kTorus16 = {
      {12, 3, 4, 1}, {13, 0, 5, 2}, {14, 1, 6, 3}, {15, 2, 7, 0}, {0, 7, 8, 5},   {1, 4, 9, 6},
      {2, 5, 10, 7}, {3, 6, 11, 4}, {4, 11, 12, 9}, {5, 8, 13, 10}, {6, 9, 14, 11}, {7, 10, 15, 8},
      {8, 15, 0, 13}, {9, 12, 1, 14}, {10, 13, 2, 15}, {11, 14, 3, 12}};
  const std::vector<std::vector<int>> kRing12 = {{11, 1}, {0, 2}, {1, 3}, {2, 4}, {3, 5}, {4, 6},
                                                 {5, 7}, {6, 8}, {7, 9}, {8, 10}, {9, 11}, {10, 0}};
  for (const auto& [preset, table] : std::vector<std::pair<std::string, std::vector<std::vector<int>>>>{
           {"trn1-32xl", kTorus16}, {"trn2-48xl", kTorus16}, {"inf2-48xl", kRing12}}) {
    Topology t(load_system(preset));
    ASSERT_EQ(t.ranks(), static_cast<int>(table.size())) << preset;
    for (int d = 0; d < t.ranks(); ++d) {
      std::vector<int> linked;
      for (int l : t.out_links(d))
        if (t.links()[static_cast<size_t>(l)].cls.rfind("scale_up", 0) == 0) linked.push_back(t.links()[static_cast<size_t>(l)].dst);
      std::vector<int> listed = table[static_cast<size_t>(d)];
      std::sort(linked.begin(), linked.end());
      std::sort(listed.begin(), listed.end());
      EXPECT_EQ(linked, listed) << preset << " device " << d;
    }
  }
}
