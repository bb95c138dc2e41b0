// An exception raised inside a SystemC process (a slot thread building a task, the host thread)
// reaches the caller of the simulation with its own type and message (issue 18): SystemC does not
// turn it into a multi-line report, and the session refuses to continue after it.
#include <gtest/gtest.h>

#include <cstring>

#include "sim/base/limits.h"
#include "sim/run/registry.h"
#include "sim/run/runner.h"

namespace xpu {
namespace {

// A program of 10 tasks whose task `bad` throws `E` while it is built. The pre-run estimate samples
// tasks 0, n/2 and n-1, so task 3 is first built by a slot thread during the simulation.
template <class E>
Program failing_program(std::uint64_t bad) {
  Program p;
  p.name = "failing";
  p.num_tasks = 10;
  p.make_task = [bad](std::uint64_t i, Task& t) {
    if (i == bad) throw E("task " + std::to_string(i) + " cannot be built");
    Instr in;
    in.kind = TxKind::VectorOp;
    in.flops = 64;
    t.add(in);
  };
  return p;
}

TEST(ProcessGuard, AnErrorInASlotThreadKeepsItsTypeAndMessage) {
  auto chip = load_chip("h100-sxm");
  try {
    simulate(*chip, {{failing_program<ResourceError>(3)}}, RunOptions{}, DType::bf16);
    FAIL() << "no exception";
  } catch (const ResourceError& e) {
    EXPECT_STREQ(e.what(), "task 3 cannot be built");
  }
  // The next simulation in this process runs normally.
  Program ok = failing_program<ResourceError>(1000);
  EXPECT_EQ(simulate(*chip, {{ok}}, RunOptions{}, DType::bf16).transactions, 10u);
}

TEST(ProcessGuard, ASessionStopsAtTheErrorAndDoesNotContinue) {
  auto chip = load_chip("h100-sxm");
  SimSession s(*chip, {{failing_program<std::logic_error>(3)}}, RunOptions{}, DType::bf16);
  bool thrown = false;
  try {
    while (s.step()) {
    }
  } catch (const std::logic_error& e) {
    thrown = true;
    EXPECT_STREQ(e.what(), "task 3 cannot be built");
  }
  ASSERT_TRUE(thrown);
  EXPECT_THROW(s.step(), std::logic_error);
}

// Under AddressSanitizer (scripts/test-sanitized) this failed with a false stack-buffer-overflow: after
// sc_start the sanitizer had no bounds for this thread's stack, so the throw below left its frames'
// redzones poisoned and the large frame after it ran into them.
__attribute__((noinline)) void throw_through_a_buffer() {
  volatile char buf[1024];
  std::memset(const_cast<char*>(buf), 1, sizeof buf);
  throw InputError("after the simulation");
}
__attribute__((noinline)) int touch_a_large_frame() {
  volatile char big[64 * 1024];
  std::memset(const_cast<char*>(big), 2, sizeof big);
  return big[100];
}

TEST(ProcessGuard, AnExceptionAfterASimulationLeavesTheStackClean) {
  auto chip = load_chip("h100-sxm");
  simulate(*chip, {{failing_program<ResourceError>(1000)}}, RunOptions{}, DType::bf16);
  EXPECT_THROW(throw_through_a_buffer(), InputError);
  EXPECT_EQ(touch_a_large_frame(), 2);
}

}  // namespace
}  // namespace xpu
