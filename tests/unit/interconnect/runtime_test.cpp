// The system runtime: streams, events, collectives on communicators and memory contention between a
// chip's kernels and its collective traffic.
#include <gtest/gtest.h>

#include "sim/system/collective_run.h"
#include "sim/system/runtime.h"
#include "sim/system/system_trace.h"
#include "tests/unit/interconnect/systems_test_util.h"

using namespace xpu;

namespace {
StreamOp kernel(double us, double hbm_bytes = 0) {
  StreamOp k;
  k.kind = StreamOp::Kind::Kernel;
  k.work = to_ticks(us * 1e-6);
  k.hbm_bytes = hbm_bytes;
  return k;
}
StreamOp coll(int c, int stream = 1) {
  StreamOp o;
  o.kind = StreamOp::Kind::Collective;
  o.collective = c;
  o.stream = stream;
  return o;
}
CollectiveCall allreduce(std::uint64_t bytes, std::vector<int> group) {
  CollectiveCall c;
  c.req.kind = CollKind::AllReduce;
  c.req.bytes = bytes;
  c.group = std::move(group);
  c.label = "ar";
  return c;
}
double standalone_allreduce_s(const SystemSpec& full, int ranks, std::uint64_t bytes) {
  SystemSpec s = full;
  s.chips = ranks;
  CollectiveRequest r;
  r.bytes = bytes;
  return run_collective(s, r).latency_s;
}
}  // namespace

TEST(Runtime, OneStreamIsTheSumOfItsKernels) {
  SystemSpec s = load_system("hgx-h100x8");
  SystemWork w;
  w.devices = {{kernel(3), kernel(5), kernel(7)}};
  RuntimeResult r = run_system(s, w);
  EXPECT_EQ(r.end, to_ticks(3e-6) + to_ticks(5e-6) + to_ticks(7e-6));
  ASSERT_EQ(r.op_end[0].size(), 3u);
  EXPECT_EQ(r.op_start[0][1], to_ticks(3e-6));
}

TEST(Runtime, InLineCollectiveTakesItsStandaloneTime) {
  SystemSpec s = load_system("hgx-h100x8");
  const std::uint64_t bytes = 16 << 20;
  SystemWork w;
  w.collectives = {allreduce(bytes, {0, 1, 2, 3})};
  for (int r = 0; r < 4; ++r) w.devices.push_back({kernel(10), coll(0), kernel(10)});
  RuntimeResult rr = run_system(s, w);
  const double ar = standalone_allreduce_s(s, 4, bytes);
  EXPECT_NEAR(to_seconds(rr.end), 20e-6 + ar, 0.02 * ar);
  EXPECT_FALSE(rr.algorithm.at(0).empty());
}

// What a collective moves through each chip's memory (what it sends, read once, and what it receives,
// written once) comes back per device: the energy per DRAM byte prices it in a model step
// (system_run.cpp). A 2-rank all-reduce of S bytes: each rank sends half and receives half in its
// reduce-scatter and again in its all-gather (ring), or sends S to the switch and receives S reduced (NVLS):
// 2S either way. A chip outside the communicator moves nothing.
TEST(Runtime, CollectivePayloadThroughEachChipsMemory) {
  SystemSpec s = load_system("hgx-h100x8");
  const std::uint64_t bytes = 16 << 20;
  SystemWork w;
  w.collectives = {allreduce(bytes, {0, 1})};
  for (int r = 0; r < 2; ++r) w.devices.push_back({kernel(10), coll(0), kernel(10)});
  w.devices.push_back({kernel(10)});
  RuntimeResult rr = run_system(s, w);
  ASSERT_EQ(rr.memory_bytes.size(), 3u);
  EXPECT_NEAR(rr.memory_bytes[0], 2.0 * bytes, 0.01 * bytes) << rr.algorithm.at(0);
  EXPECT_DOUBLE_EQ(rr.memory_bytes[1], rr.memory_bytes[0]);
  EXPECT_EQ(rr.memory_bytes[2], 0.0);
}

TEST(Runtime, OverlapHidesAnIndependentCollective) {
  SystemSpec s = load_system("hgx-h100x8");
  SystemWork w;
  w.collectives = {allreduce(8 << 20, {0, 1})};
  for (int r = 0; r < 2; ++r) w.devices.push_back({coll(0), kernel(200)});  // compute does not wait for it
  RuntimeResult serial = run_system(s, w);
  w.overlap = true;
  RuntimeResult overlapped = run_system(s, w);
  EXPECT_LT(overlapped.end, serial.end);
  EXPECT_NEAR(to_seconds(overlapped.end), 200e-6, 1e-9);  // an 8 MiB all-reduce hides under 200 us
  // An event makes the kernel wait for the collective again.
  for (auto& d : w.devices) d[1].waits = {0};
  EXPECT_EQ(run_system(s, w).end, serial.end);
}

TEST(Runtime, MemoryBoundKernelStretchesUnderCollectiveTraffic) {
  SystemSpec s = load_system("hgx-h100x8");
  SystemWork w;
  w.overlap = true;
  const double B = 3.35e12;
  w.hbm_Bps = {B, B};
  w.collectives = {allreduce(64 << 20, {0, 1})};
  // A kernel that keeps memory busy for its whole 100 us versus one that uses 10% of it.
  for (double share : {1.0, 0.1}) {
    w.devices.clear();
    for (int r = 0; r < 2; ++r) w.devices.push_back({coll(0), kernel(100, share * B * 100e-6)});
    RuntimeResult rr = run_system(s, w);
    if (share == 1.0) EXPECT_GT(rr.stretch[0], 0);
    else EXPECT_EQ(rr.stretch[0], 0);
  }
}

// A GPU's SMs are shared: a compute-bound kernel beside a collective whose blocks hold 24 of the 132
// SMs for the whole kernel runs on 108 and takes 132/108 of its time; a collective that holds none
// (DeepEP's low-latency receive hook), or a chip whose collectives take no compute units, leaves it alone.
TEST(Runtime, OverlappedCollectiveTakesItsSmsFromTheKernel) {
  SystemSpec s = load_system("hgx-h100x8");
  SystemWork w;
  w.overlap = true;
  w.collectives = {allreduce(256 << 20, {0, 1})};
  for (int r = 0; r < 2; ++r) w.devices.push_back({coll(0), kernel(200)});
  const auto kernel_end = [&](double units, double sms) {
    w.collectives[0].units = units;
    w.compute_units = {sms, sms};
    const RuntimeResult rr = run_system(s, w);
    EXPECT_GT(rr.op_end[0][0], rr.op_end[0][1]);  // the collective outlasts the kernel
    return to_seconds(rr.op_end[0][1]);
  };
  EXPECT_NEAR(kernel_end(24, 132), 200e-6 * 132 / 108, 1e-9);
  EXPECT_NEAR(kernel_end(0, 132), 200e-6, 1e-12);
  EXPECT_NEAR(kernel_end(24, 0), 200e-6, 1e-12);
}

TEST(Runtime, PointToPointBetweenStages) {
  SystemSpec s = load_system("hgx-h100x8");
  SystemWork w;
  StreamOp send, recv;
  send.kind = StreamOp::Kind::Send;
  send.peer = 1;
  send.bytes = 1 << 20;
  send.tag = 7;
  recv.kind = StreamOp::Kind::Recv;
  recv.peer = 0;
  recv.tag = 7;
  w.devices = {{kernel(10), send}, {recv, kernel(10)}};
  RuntimeResult rr = run_system(s, w);
  EXPECT_GT(rr.op_start[1][1], to_ticks(10e-6));  // stage 1 starts after stage 0's activations arrive
  EXPECT_GT(to_seconds(rr.end), 20e-6 + (1 << 20) / 450e9);
}

TEST(Runtime, GroupSystemsAreBlocksOfTheirSystem) {
  SystemSpec h = load_system("hgx-h100x8");
  Topology th(h);
  GroupSystem g = group_system(th, {4, 5, 6, 7});
  EXPECT_EQ(g.spec.chips, 4);
  EXPECT_EQ(g.vertex_map[0], 4);
  EXPECT_EQ(g.vertex_map[4], th.node_switch(0));
  EXPECT_NE(test::input_error_of([&] { group_system(th, {1, 2}); }), "");
  SystemSpec t = load_system("tpu-v6e-8");
  Topology tt(t);
  GroupSystem b = group_system(tt, {4, 5, 6, 7});
  EXPECT_EQ(b.spec.chips, 4);
  EXPECT_EQ(Topology(b.spec).ranks(), 4);
}

// A traced run (`run --trace`): every op of every rank on its track at the runtime's own times, every piece the
// fabric booked on a link on that link's track, named after its call; the trace changes no time.
TEST(Runtime, TraceHasEveryOpAndEveryLinkPiece) {
  SystemSpec s = load_system("hgx-h100x8");
  SystemWork w;
  w.collectives = {allreduce(4 << 20, {0, 1})};
  for (int r = 0; r < 2; ++r) w.devices.push_back({kernel(10, 1e6), coll(0, 0), kernel(5)});
  TraceBuffer buf;
  SystemTrace trace(buf);
  trace.set_step("step one");
  const RuntimeResult traced = run_system(s, w, &trace);
  const RuntimeResult plain = run_system(s, w);
  EXPECT_EQ(traced.end, plain.end);
  const TraceMeta m = trace.meta("hgx-h100x8", "");
  ASSERT_GE(m.units.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(m.units.begin(), m.units.begin() + 5),
            (std::vector<std::string>{"steps", "rank0.compute", "rank0.comm", "rank1.compute", "rank1.comm"}));
  std::uint64_t pieces = 0, ops = 0, steps = 0;
  for (const TraceRecord& r : buf.records) {
    EXPECT_LE(r.start_ps, r.end_ps);
    EXPECT_LE(r.end_ps, traced.end);
    const std::string& unit = m.units.at(r.unit);
    const std::string& name = m.kernels.at(r.kernel);
    if (r.kind == SystemTrace::kTransfer) {
      ++pieces;
      EXPECT_EQ(unit.rfind("fabric.", 0), 0u) << unit;
      EXPECT_EQ(name, "ar (" + traced.algorithm.at(0) + ")");
    } else if (r.kind == SystemTrace::kStep) {
      ++steps;
      EXPECT_EQ(name, "step one");
      EXPECT_EQ(r.end_ps, traced.end);
    } else {
      ++ops;
      const size_t rank = unit[4] == '0' ? 0 : 1, i = r.task;
      EXPECT_EQ(r.start_ps, traced.op_start[rank][i]);
      EXPECT_EQ(r.end_ps, traced.op_end[rank][i]);
      EXPECT_EQ(r.kind, i == 1 ? SystemTrace::kCollective : SystemTrace::kKernel);
    }
  }
  EXPECT_EQ(pieces, traced.pieces);
  EXPECT_EQ(ops, 6u);
  EXPECT_EQ(steps, 1u);
  // A second run starts where the first ended, on the same timeline.
  buf.records.clear();
  run_system(s, w, &trace);
  for (const TraceRecord& r : buf.records) EXPECT_GE(r.start_ps, traced.end);
}
