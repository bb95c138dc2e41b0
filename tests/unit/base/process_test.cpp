// Worker processes (run_in_workers): results come back whole and by index whatever the order of
// completion, and a task that throws, crashes or exits early ends the run with one error naming it,
// with every worker reaped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "sim/base/error.h"
#include "sim/base/process.h"

namespace xpu {
namespace {

std::string name_of(size_t i) { return "task " + std::to_string(i); }

// No child of this process is left, running or unreaped.
bool no_children() {
  errno = 0;
  return waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD;
}

TEST(Workers, ResultsComeBackWholeByIndex) {
  // Payloads larger than a pipe's buffer (64 KiB) from several workers at once: the parent reads them
  // side by side, so no worker blocks on a full pipe.
  auto payload = [](size_t i) { return std::string(200000 + 1000 * i, static_cast<char>('a' + i)) + std::to_string(i); };
  const std::vector<size_t> order = {4, 0, 3, 1, 2};
  const std::vector<std::string> got = run_in_workers(order, 5, 2, [&](size_t i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * (i % 2)));
    return payload(i);
  }, name_of);
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(got[i], payload(i)) << i;
  EXPECT_TRUE(no_children());
  // An empty result is a result; tasks not in `order` stay empty.
  const std::vector<std::string> some = run_in_workers({1}, 3, 4, [](size_t) { return std::string(); }, name_of);
  EXPECT_EQ(some, std::vector<std::string>(3));
  EXPECT_TRUE(no_children());
}

TEST(Workers, AFailingTaskIsNamedAndEveryWorkerReaped) {
  struct Case {
    std::function<std::string(size_t)> fail;
    bool input_error;
    std::string says;
  };
  const std::vector<Case> cases = {
      {[](size_t) -> std::string { throw InputError("no such chip"); }, true, "task 2: no such chip"},
      // Out of memory in a worker is reported as the CLI reports it in one process (an input-class
      // error, exit 2), naming the task.
      {[](size_t) -> std::string { throw std::bad_alloc(); }, true, "task 2: out of memory: the run is larger than"},
      {[](size_t) -> std::string { throw std::runtime_error("a broken invariant"); }, false,
       "task 2 failed in its worker process: a broken invariant"},
      {[](size_t) -> std::string { std::abort(); }, false, "was killed by signal 6"},
      {[](size_t) -> std::string { raise(SIGKILL); return ""; }, false, "was killed by signal 9"},
      {[](size_t) -> std::string { _exit(3); }, false, "exited with status 3 without sending its result"},
  };
  for (const Case& c : cases) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      // Task 1 would run for a minute: the failure of task 2 kills it rather than waiting for it.
      run_in_workers({0, 1, 2, 3}, 4, 3, [&](size_t i) {
        if (i == 1) std::this_thread::sleep_for(std::chrono::seconds(60));
        if (i == 2) return c.fail(i);
        return std::string("ok");
      }, name_of);
      ADD_FAILURE() << c.says << ": no error";
    } catch (const InputError& e) {
      EXPECT_TRUE(c.input_error) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
    } catch (const std::runtime_error& e) {
      EXPECT_FALSE(c.input_error) << e.what();
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).rfind("task 2", 0), 0u) << e.what();
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0) << c.says;
    EXPECT_TRUE(no_children()) << c.says;
  }
}

TEST(Workers, ThreeJobsRunAtOnce) {
  // Three tasks that each wait for the others' marks can only finish if three workers run together.
  char dir[] = "/tmp/xpusim_workers_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string base = dir;
  const std::vector<std::string> got = run_in_workers({0, 1, 2}, 3, 3, [&](size_t i) {
    std::FILE* f = std::fopen((base + "/" + std::to_string(i)).c_str(), "w");
    if (f) std::fclose(f);
    for (int tries = 0; tries < 2000; ++tries) {
      bool all = true;
      for (int k = 0; k < 3; ++k) all = all && access((base + "/" + std::to_string(k)).c_str(), F_OK) == 0;
      if (all) return std::string("met");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::string("alone");
  }, name_of);
  EXPECT_EQ(got, std::vector<std::string>(3, "met"));
  for (int k = 0; k < 3; ++k) std::remove((base + "/" + std::to_string(k)).c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace xpu
