// serve --trace's trace.json written as its events come (QA, session 53): the caps, a restarted run, the transfers' lanes.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sim/io/output.h"  // StagedFiles
#include "sim/io/perfetto.h"
#include "sim/io/serve_trace.h"

namespace xpu {
namespace {

std::string temp_dir() {
  char dir[] = "/tmp/xpusim-serve-trace-XXXXXX";
  EXPECT_NE(mkdtemp(dir), nullptr);
  return dir;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

bool holds_temporary(const std::string& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

TEST(ServeTrace, JsonKeepsTheFirstRequestsUpToItsCapAndSaysSo) {
  const std::string dir = temp_dir();
  {
    StagedFiles staged;  // the command's result set, committed once all are written
    ServeTraceFiles f(dir, "perfetto", staged);
    const int s = f.server("replica");
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(ServeTraceFiles::kJsonRequests) + 5; ++i)
      f.on_request(s, {i, 64, 8, 0.001 * i, 0.001 * i + 1e-4, 0.001 * i + 1e-3});
    f.finish("h100-sxm", "");
    staged.commit();
  }
  const nlohmann::json doc = read_json(dir + "/trace.json");
  EXPECT_EQ(doc["otherData"]["requests"], ServeTraceFiles::kJsonRequests + 5);
  EXPECT_EQ(doc["otherData"]["requests_written"], ServeTraceFiles::kJsonRequests);
  EXPECT_EQ(doc["otherData"]["truncated"], true);
  std::size_t begins = 0;
  for (const auto& e : doc["traceEvents"]) begins += e["ph"] == "b" && e["name"] == "ttft";
  EXPECT_EQ(begins, ServeTraceFiles::kJsonRequests);
  EXPECT_FALSE(holds_temporary(dir));
  std::filesystem::remove_all(dir);
}

TEST(ServeTrace, ARestartedRunStartsTheJsonOverAndTransfersGetTheSharedLanes) {
  const std::string dir = temp_dir();
  const std::vector<std::int64_t> start = {0, 1, 2, 5, 6}, end = {4, 3, 7, 6, 9};  // in ps
  {
    StagedFiles staged;  // the command's result set, committed once all are written
    ServeTraceFiles f(dir, "perfetto", staged);
    const int s = f.server("prefill 0");
    for (int i = 0; i < 3; ++i) f.on_iteration(s, {1e-3 * i, 1e-3, {}, 1, 2, 0, 0, 1.0});
    f.restart();  // a disaggregated fixed point's next round replaces the first
    f.server("decode 0");
    f.on_iteration(s, {0, 1e-3, {}, 1, 2, 0, 0, 1.0});
    for (size_t i = 0; i < start.size(); ++i)
      f.on_transfer({static_cast<std::int64_t>(i), 64, 0, 0, 1e6, start[i] * 1e-12, end[i] * 1e-12});
    f.finish("h100-sxm", "");
    staged.commit();
  }
  const nlohmann::json doc = read_json(dir + "/trace.json");
  EXPECT_EQ(doc["otherData"]["iterations"], 1);
  std::size_t slices = 0;
  std::vector<std::int64_t> tids;
  std::vector<std::string> threads;
  for (const auto& e : doc["traceEvents"]) {
    slices += e["ph"] == "X" && e["cat"] == "iteration";
    if (e["ph"] == "X" && e["cat"] == "kv_transfer") tids.push_back(e["tid"].get<std::int64_t>() - 1);
    if (e["ph"] == "M" && e["name"] == "thread_name") threads.push_back(e["args"]["name"]);
  }
  EXPECT_EQ(slices, 1u);
  std::int64_t lanes = 0;
  EXPECT_EQ(tids, slice_lanes(start, end, lanes));  // the one lane rule, one transfer at a time
  EXPECT_EQ(threads, (std::vector<std::string>{"prefill 0", "decode 0", "kv transfers", "kv transfers [1]", "kv transfers [2]"}));
  EXPECT_EQ(lanes, 3);  // 0-4 and 1-3 still run at 2
  EXPECT_FALSE(holds_temporary(dir));
  std::filesystem::remove_all(dir);
}

TEST(ServeTrace, AnUnfinishedTraceLeavesNoFileBehind) {
  const std::string dir = temp_dir();
  {
    StagedFiles staged;
    ServeTraceFiles f(dir, "both", staged);
    f.on_iteration(f.server("replica"), {0, 1e-3, {}, 1, 2, 0, 0, 1.0});
  }  // the run failed before finish()
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST(ServeTrace, AFinishedTraceTakesItsPlaceOnlyWithItsResultSet) {
  const std::string dir = temp_dir();
  {
    StagedFiles staged;
    ServeTraceFiles f(dir, "both", staged);
    f.on_iteration(f.server("replica"), {0, 1e-3, {}, 1, 2, 0, 0, 1.0});
    f.finish("h100-sxm", "");
    EXPECT_FALSE(std::filesystem::exists(dir + "/trace.h5"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/trace.json"));
  }  // stats.json could not be written: the set is dropped uncommitted
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

// The one rename of result files (rename_into, sim/base/interrupt.h): a Perfetto trace with a folder of its name in
// the way says so, as every other result file does (it had said only the rename's errno text).
TEST(ServeTrace, ATraceWithAFolderInItsWayNamesTheFolder) {
  const std::string dir = temp_dir();
  std::filesystem::create_directory(dir + "/trace.json");
  try {
    write_trace_events(dir + "/trace.json", [](std::ostream&, bool&) {}, "{}");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/trace.json: cannot write (a folder of that name is in the way)"),
              std::string::npos) << e.what();
  }
  EXPECT_FALSE(holds_temporary(dir));
  std::filesystem::remove_all(dir);
}

// A staged result file is written once, under its staged name, and its errors name the result file.
TEST(ServeTrace, AStagedFileIsWrittenOnceAndItsErrorsNameTheResultFile) {
  const std::string dir = temp_dir();
  {
    StagedFiles staged;
    staged.write(dir + "/stats.json", "{}\n");
    std::size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      ++files;
      EXPECT_EQ(e.path().filename().string().find(".tmp."), e.path().filename().string().rfind(".tmp."))
          << "a temporary of a temporary: " << e.path();
    }
    EXPECT_EQ(files, 1u);
    staged.commit();
  }
  EXPECT_EQ(read_json(dir + "/stats.json"), nlohmann::json::object());
  StagedFiles staged;
  try {
    staged.write(dir + "/missing/stats.json", "{}");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(dir + "/missing/stats.json: cannot write", 0), 0u) << what;
  }
  std::filesystem::remove_all(dir);
}

// StagedFiles::commit renames its set under SignalsHeld: a SIGTERM raised while it is held runs its handler only
// when the hold ends, so a signal the moment the first file shows cannot cut the set (a ctest run under load had
// left config.resolved.yaml, trace.h5 and trace.json without stats.json).
volatile sig_atomic_t g_terms = 0;
TEST(ServeTrace, SignalsHeldDeliversASignalOnlyWhenItEnds) {
  struct sigaction counting {}, previous {};
  counting.sa_handler = [](int) { ++g_terms; };
  sigemptyset(&counting.sa_mask);
  ASSERT_EQ(sigaction(SIGTERM, &counting, &previous), 0);
  g_terms = 0;
  {
    const SignalsHeld held;
    raise(SIGTERM);
    EXPECT_EQ(g_terms, 0) << "delivered while held";
  }
  EXPECT_EQ(g_terms, 1) << "not delivered when the hold ended";
  sigaction(SIGTERM, &previous, nullptr);
}

// QA (session 50): a signal held through StagedFiles::commit is delivered once every file is in place, and the handler
// still printed "interrupted: no results written". SIGTERM is raised while blocked, so it lands the moment the commit
// ends (as one held during its renames does), in a child process the handler ends.
TEST(ServeTraceDeathTest, ASignalAfterTheCommitSaysTheResultsAreWritten) {
  const std::string dir = temp_dir();
  auto commit_then_term = [&](bool commit) {
    install_interrupt_handler();
    StagedFiles staged;
    staged.write(dir + "/stats.json", "{}");
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, nullptr);
    raise(SIGTERM);
    if (commit) staged.commit();
    pthread_sigmask(SIG_UNBLOCK, &term, nullptr);
    std::exit(0);
  };
  EXPECT_EXIT(commit_then_term(true), ::testing::ExitedWithCode(143),
              "^xpusim: interrupted after writing its results to " + dir + " \\(they are complete\\)\n$");
  EXPECT_TRUE(std::filesystem::exists(dir + "/stats.json"));
  std::filesystem::remove(dir + "/stats.json");
  EXPECT_EXIT(commit_then_term(false), ::testing::ExitedWithCode(143), "^xpusim: interrupted: no results written");
  EXPECT_TRUE(std::filesystem::is_empty(dir));  // the handler removed the staged temporary
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace xpu
