// A serving stack's own all-reduce (TensorRT-LLM's one-shot and two-shot kernels): which calls its rule takes
// from the collective library, and the program its kernel runs (its staging copies and fixed costs).
#include <gtest/gtest.h>

#include "kernels/collective/custom_allreduce.h"
#include "sim/base/error.h"
#include "sim/interconnect/system_spec.h"
#include "sim/system/runtime.h"

using namespace xpu;

namespace {
// `chips` GPUs of one B200 node (the TP group's sub-system, as the runtime lowers a communicator on it).
Topology b200s(int chips, int nodes = 1) {
  return Topology(load_system("dgx-b200x8", {"scale_up.chips=" + std::to_string(chips)}, nodes));
}
CollectiveRequest trtllm(std::uint64_t bytes, std::int64_t rows) {
  CollectiveRequest r;
  r.kind = CollKind::AllReduce;
  r.bytes = bytes;
  r.rows = rows;
  r.stack = "trtllm";
  return r;
}
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
  r.stack = "vllm";
  EXPECT_THROW(coll::custom_allreduce_algorithm(b200s(2), r), InputError);
}

// The two-shot's program: each rank copies its whole input into its own buffer (one 1024-thread block per SM,
// a 16-byte load per lane in flight), exchanges its shard both ways, reads the result back; one slice, launched
// at the kernel's own cost, each exchange one flag step of the simple protocol's, the one-shot's the LL step.
TEST(CustomAllReduce, TwoShotStagesThroughItsBufferAtTheKernelsCosts) {
  const SystemSpec node = load_system("dgx-b200x8", {"scale_up.chips=2"});
  const SystemSpec two = coll::custom_allreduce_fabric(node, "twoshot"), one = coll::custom_allreduce_fabric(node, "oneshot");
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
