// A serving stack's own all-reduce (TensorRT-LLM's one-shot and two-shot kernels, vLLM's and SGLang's 1-stage
// and 2-stage): which calls its rule takes from the collective library, and the program its kernel runs (its
// staging copies and fixed costs).
#include <gtest/gtest.h>

#include <vector>

#include "kernels/collective/custom_allreduce.h"
#include "sim/base/error.h"
#include "sim/interconnect/system_spec.h"
#include "sim/system/collective_run.h"
#include "sim/system/runtime.h"

using namespace xpu;

namespace {
// `chips` GPUs of one B200 node (the TP group's sub-system, as the runtime lowers a communicator on it).
Topology b200s(int chips, int nodes = 1) {
  return Topology(load_system("dgx-b200x8", {"scale_up.chips=" + std::to_string(chips)}, nodes));
}
CollectiveRequest trtllm(std::uint64_t bytes, std::int64_t rows, const std::string& stack = "trtllm") {
  CollectiveRequest r;
  r.kind = CollKind::AllReduce;
  r.bytes = bytes;
  r.rows = rows;
  r.stack = stack;
  return r;
}
CollectiveRequest vllm(std::uint64_t bytes, const std::string& stack = "vllm") { return trtllm(bytes, 0, stack); }
constexpr std::uint64_t kKiB = 1024, kMiB = 1024 * 1024;
constexpr std::uint64_t kRow = 8192 * 2;  // one token of hidden 8192 in bf16
}  // namespace

// TensorRT-LLM v0.20's AUTO (allreduceOp.cpp selectImplementation, fusion NONE): within the 16,000,000-byte
// workspace at two ranks MIN_LATENCY, one-shot up to 128 tokens and two-shot above; NCCL past it. TRB-06's
// decode graph (640 rows of hidden 8192, 10.5 MB) runs the two-shot, TRB-02's 1024-row graph (16.8 MB) NCCL.
TEST(CustomAllReduce, TrtllmTakesTwoRankMessagesWithinItsWorkspace) {
  const Topology two = b200s(2);
  EXPECT_EQ(coll::custom_allreduce_algorithm(two, trtllm(640 * kRow, 640)), "twoshot");
  EXPECT_EQ(coll::custom_allreduce_algorithm(two, trtllm(128 * kRow, 128)), "oneshot");
  EXPECT_EQ(coll::custom_allreduce_algorithm(two, trtllm(129 * kRow, 129)), "twoshot");
  EXPECT_EQ(coll::custom_allreduce_algorithm(two, trtllm(976 * kRow, 976)), "twoshot");  // 15,990,784 B
  EXPECT_EQ(coll::custom_allreduce_algorithm(two, trtllm(977 * kRow, 977)), "");         // 16,007,168 B: NCCL
  EXPECT_EQ(coll::custom_allreduce_algorithm(two, trtllm(1024 * kRow, 1024)), "");
}

// Above two ranks the 8,000,000-byte workspace, and MIN_LATENCY only below 1,000,000 bytes (3-4 ranks) or
// 500,000 (more): every decode iteration of the TP4/TP8 rows (hundreds of tokens) stays with NCCL.
TEST(CustomAllReduce, TrtllmLeavesLargerGroupsToTheLibraryAboveItsSizes) {
  const Topology four = b200s(4), eight = b200s(8);
  EXPECT_EQ(coll::custom_allreduce_algorithm(four, trtllm(61 * kRow, 61)), "oneshot");  // 999,424 B
  EXPECT_EQ(coll::custom_allreduce_algorithm(four, trtllm(62 * kRow, 62)), "");
  EXPECT_EQ(coll::custom_allreduce_algorithm(eight, trtllm(30 * kRow, 30)), "oneshot");  // 491,520 B
  EXPECT_EQ(coll::custom_allreduce_algorithm(eight, trtllm(31 * kRow, 31)), "");
  EXPECT_EQ(coll::custom_allreduce_algorithm(eight, trtllm(512 * kRow, 512)), "");
}

// No stack, another collective, a group across nodes or a system without the kernels: the library's call.
TEST(CustomAllReduce, OnlyTheStacksAllReducesInOneNvlinkNode) {
  CollectiveRequest r = trtllm(640 * kRow, 640);
  r.stack.clear();
  EXPECT_EQ(coll::custom_allreduce_algorithm(b200s(2), r), "");
  r = trtllm(640 * kRow, 640);
  r.kind = CollKind::AllGather;
  EXPECT_EQ(coll::custom_allreduce_algorithm(b200s(2), r), "");
  EXPECT_EQ(coll::custom_allreduce_algorithm(b200s(1, 2), trtllm(64 * kRow, 64)), "");
  EXPECT_EQ(coll::custom_allreduce_algorithm(Topology(load_system("tpu-v6e-8")), trtllm(64 * kRow, 64)), "");
  EXPECT_EQ(coll::custom_allreduce_algorithm(Topology(load_system("dgx-b200x8", {"library.custom_launch_latency=0 s",
                                                                                  "scale_up.chips=2"})),
                                            trtllm(64 * kRow, 64)),
            "");
  r = trtllm(64 * kRow, 64);
  r.stack = "tgi";
  EXPECT_THROW(coll::custom_allreduce_algorithm(b200s(2), r), InputError);
}

// The two-shot's program: each rank copies its whole input into its own buffer (one 1024-thread block per SM,
// a 16-byte load per lane in flight), exchanges its shard both ways, reads the result back; one slice, launched
// at the kernel's own cost, each exchange one flag step of the simple protocol's, the one-shot's the LL step.
TEST(CustomAllReduce, TwoShotStagesThroughItsBufferAtTheKernelsCosts) {
  const SystemSpec node = load_system("dgx-b200x8", {"scale_up.chips=2"});
  const SystemSpec two = coll::custom_allreduce_fabric(node, "twoshot", "trtllm"),
                    one = coll::custom_allreduce_fabric(node, "oneshot", "trtllm");
  EXPECT_DOUBLE_EQ(two.launch_latency.value(), node.custom_launch_latency.value());
  EXPECT_DOUBLE_EQ(two.step_latency_simple.value(), node.step_latency_simple.value());
  EXPECT_DOUBLE_EQ(one.step_latency_simple.value(), node.step_latency_ll.value());
  EXPECT_EQ(two.channels, 148);
  CollectiveRequest r = trtllm(640 * kRow, 640);
  r.algorithm = "twoshot";
  r.protocol = "simple";
  const CommProgram p = lower_collective(Topology(two), r);
  EXPECT_EQ(p.slices, 1);
  int copies = 0;
  for (int v = 0; v < 2; ++v) {
    EXPECT_EQ(p.sent_by(v), r.bytes);  // half to the peer in each of the two exchanges
    for (const CommOp& o : p.ops[static_cast<size_t>(v)])
      if (o.kind == CommOp::Kind::Compute) {
        ++copies;
        EXPECT_DOUBLE_EQ(o.hbm_bytes, 2.0 * static_cast<double>(r.bytes));
        // 10.5 MB over 148 blocks of 32 warps x 512 B per copy latency (480 ns).
        EXPECT_NEAR(to_seconds(o.work), static_cast<double>(r.bytes) / 148 / (32 * 512 / 480e-9), 1e-9);
      }
  }
  EXPECT_EQ(copies, 4);
  // The library's two-shot (no stack) stages nothing.
  r.stack.clear();
  for (const auto& ops : lower_collective(Topology(two), r).ops)
    for (const CommOp& o : ops) EXPECT_NE(o.kind, CommOp::Kind::Compute);
}

// On the runtime, a call the stack takes is named by its kernel and stack; the rest by the library's choice.
TEST(CustomAllReduce, RuntimeNamesTheKernelThatRanTheCall) {
  const SystemSpec node = load_system("dgx-b200x8", {"scale_up.chips=2"});
  SystemWork w;
  w.devices.resize(2);
  for (std::int64_t rows : {std::int64_t{640}, std::int64_t{1024}}) {
    CollectiveCall c;
    c.req = trtllm(static_cast<std::uint64_t>(rows) * kRow, rows);
    c.group = {0, 1};
    c.label = "allreduce";
    w.collectives.push_back(c);
  }
  for (int d = 0; d < 2; ++d)
    for (int call = 0; call < 2; ++call) {
      StreamOp op;
      op.kind = StreamOp::Kind::Collective;
      op.stream = 1;
      op.collective = call;
      w.devices[static_cast<size_t>(d)].push_back(op);
    }
  const RuntimeResult rr = run_system(node, w);
  ASSERT_EQ(rr.algorithm.size(), 2u);
  EXPECT_EQ(rr.algorithm[0], "twoshot/trtllm");
  EXPECT_EQ(rr.algorithm[1], "ring/ll128");
}

// One path: in a model step (the runtime, in the system's fabric) a stack's kernel runs at its own rate and costs, as
// `kernel allreduce --stack` (run_collective) runs it alone: vLLM's 2-stage bound by its peers' round trip, TensorRT-LLM's
// two-shot by library.custom_peer_bandwidth. Before, the runtime's fabric sent at the system's rate.
TEST(CustomAllReduce, RuntimeRunsAStackKernelAsTheCommandLineDoes) {
  struct Case {
    const char* system;
    int chips;
    CollectiveRequest req;
  };
  for (const auto& [system, chips, req] : {Case{"hgx-h100x8", 4, vllm(256 * kRow)}, Case{"dgx-b200x8", 2, trtllm(600 * kRow, 600)}}) {
    const SystemSpec node = load_system(system, {"scale_up.chips=" + std::to_string(chips)});
    SystemWork w;
    w.devices.resize(static_cast<size_t>(chips));
    CollectiveCall c;
    c.req = req;
    for (int d = 0; d < chips; ++d) c.group.push_back(d);
    c.label = "allreduce";
    w.collectives.push_back(c);
    for (auto& d : w.devices) {
      StreamOp op;
      op.kind = StreamOp::Kind::Collective;
      op.collective = 0;
      d.push_back(op);
    }
    const RuntimeResult rr = run_system(node, w);
    const CollectiveReport alone = run_collective(node, req);
    ASSERT_EQ(rr.algorithm.at(0), alone.algorithm + "/" + alone.stack) << system;
    EXPECT_NEAR(to_seconds(rr.end) / alone.latency_s, 1.0, 0.01) << system << ": runtime " << to_seconds(rr.end) * 1e6
                                                                 << " us, alone " << alone.latency_s * 1e6 << " us";
  }
}

// vLLM's rule (custom_all_reduce.py should_custom_ar, csrc/custom_all_reduce.cuh allreduce()), which SGLang's
// sgl-kernel copy keeps: below 8 MiB, 1-stage at two ranks whatever the size, at 4 ranks below 512 KiB and at
// 6-8 ranks below 256 KiB, 2-stage at or above; NCCL at 8 MiB and over, at odd group sizes and for a message
// not a multiple of 16 bytes.
TEST(CustomAllReduce, VllmAndSglangPickTheirStageBySizeBelowEightMiB) {
  struct Case {
    int chips;
    std::uint64_t bytes;
    const char* algorithm;
  };
  const std::vector<Case> cases = {
      {2, 8 * kMiB - 16, "oneshot"},   {2, 8 * kMiB, ""},
      {4, 512 * kKiB - 16, "oneshot"}, {4, 512 * kKiB, "twoshot"}, {4, 8 * kMiB - 16, "twoshot"}, {4, 8 * kMiB, ""},
      {6, 256 * kKiB - 16, "oneshot"}, {6, 256 * kKiB, "twoshot"},
      {8, 256 * kKiB - 16, "oneshot"}, {8, 256 * kKiB, "twoshot"}, {8, 8 * kMiB - 16, "twoshot"}, {8, 8 * kMiB, ""},
      {3, 64 * kKiB, ""},      // world sizes 2, 4, 6, 8 only
      {2, 64 * kKiB + 8, ""},  // not a multiple of 16 bytes
  };
  for (const std::string stack : {"vllm", "sglang"}) {
    for (const Case& c : cases)
      EXPECT_EQ(coll::custom_allreduce_algorithm(b200s(c.chips), vllm(c.bytes, stack)), c.algorithm)
          << stack << " " << c.chips << " ranks " << c.bytes << " B";
    EXPECT_EQ(coll::custom_allreduce_algorithm(b200s(1, 2), vllm(64 * kKiB, stack)), "");  // across nodes
  }
}

// vLLM's kernels read the peers' graph-registered inputs straight: no staging copy, 36 blocks; the 1-stage
// pays two unfenced barriers (two LL steps) around its one exchange, the 2-stage an unfenced and a fenced one
// (LL + simple) over its two, where the system sets no peer round trip (library.custom_peer_latency 0).
TEST(CustomAllReduce, VllmReadsPeersWithoutStagingAtItsBarriersCosts) {
  const SystemSpec node = load_system("dgx-b200x8", {"scale_up.chips=4", "library.custom_peer_latency=0 s"});
  const SystemSpec two = coll::custom_allreduce_fabric(node, "twoshot", "vllm"),
                   one = coll::custom_allreduce_fabric(node, "oneshot", "sglang");
  EXPECT_DOUBLE_EQ(one.launch_latency.value(), node.custom_launch_latency.value());
  EXPECT_DOUBLE_EQ(one.step_latency_simple.value(), 2 * node.step_latency_ll.value());
  EXPECT_DOUBLE_EQ(two.step_latency_simple.value(), 0.5 * (node.step_latency_ll.value() + node.step_latency_simple.value()));
  EXPECT_EQ(two.channels, 36);
  EXPECT_EQ(coll::custom_allreduce_copy_warps("vllm"), 0);
  EXPECT_EQ(coll::custom_allreduce_copy_warps("trtllm"), coll::kCustomCopyWarps);
  CollectiveRequest r = vllm(2 * kMiB);
  r.algorithm = "twoshot";
  r.protocol = "simple";
  const CommProgram p = lower_collective(Topology(two), r);
  for (int v = 0; v < 4; ++v) {
    EXPECT_EQ(p.sent_by(v), 2 * 3 * r.bytes / 4);  // its shard to each of 3 peers, in each of the two stages
    for (const CommOp& o : p.ops[static_cast<size_t>(v)]) EXPECT_NE(o.kind, CommOp::Kind::Compute);
  }
}

// With the peers' round trip L set: the 1-stage pays 3 L (two barriers and its fill) on its exchange, the 2-stage
// 2.5 L on each of its two; a rank pulls 36 x 512 x 16 B per L per peer load in flight (ranks - 1 in the 1-stage,
// the 2-stage's harmonic mean of that and one).
TEST(CustomAllReduce, VllmPeerRoundTripBoundsBarriersAndPullRate) {
  const SystemSpec node = load_system("hgx-h100x8", {"scale_up.chips=4"});
  const double rtt = node.custom_peer_latency.value(), per_load = 36 * 512 * 16.0 / rtt;
  ASSERT_GT(rtt, 0);
  const SystemSpec one = coll::custom_allreduce_fabric(node, "oneshot", "vllm"),
                   two = coll::custom_allreduce_fabric(node, "twoshot", "sglang"),
                   trt = coll::custom_allreduce_fabric(node, "twoshot", "trtllm");
  EXPECT_DOUBLE_EQ(one.step_latency_simple.value(), 3 * rtt);
  EXPECT_DOUBLE_EQ(two.step_latency_simple.value(), 2.5 * rtt);
  EXPECT_NEAR(one.engine_bandwidth.value(), 3 * per_load, 1);
  EXPECT_NEAR(two.engine_bandwidth.value(), 2.0 / (1.0 / (3 * per_load) + 1.0 / per_load), 1);
  EXPECT_DOUBLE_EQ(trt.step_latency_simple.value(), node.step_latency_simple.value());  // TensorRT-LLM's: as before
  EXPECT_DOUBLE_EQ(trt.engine_bandwidth.value(), node.engine_bandwidth.value());
}

