// The shipped request-length datasets (workloads/datasets): they load, their means match the published figures of
// the datasets they sample, and a malformed file is refused with one line naming the file, the line and the text.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "sim/base/config.h"
#include "sim/base/error.h"
#include "sim/serve/requests.h"

namespace xpu {
namespace {

const std::string kOpenOrca = "/workloads/datasets/mlperf_llama2_openorca.csv";

// MLPerf Llama-2-70B's OpenOrca set, 24,576 samples (FlashLab-MBZUAI/HBFSim@96cf1b37 validation/calibration/
// h100-llama2-70b-calibration-protocol.json): input min 48, max 1021, sum 5,463,976; reference output min 3,
// max 1016, sum 5,379,553; the generated mean 294.45 (mlcommons/inference language/llama2-70b/README.md).
constexpr double kSamples = 24576, kInputSum = 5463976, kOutputSum = 5379553, kGenerated = 294.45;

TEST(LengthsDataset, OpenOrcaSampleLoadsWithinThePublishedRange) {
  const LengthRows rows = read_lengths_csv(source_dir() + kOpenOrca);
  ASSERT_EQ(rows.size(), 1024u);  // 256 of each of the dataset's four origins
  for (const auto& [in, out] : rows) {
    EXPECT_GE(in, 48);
    EXPECT_LE(in, 1021);
    EXPECT_GE(out, 3);
    EXPECT_LE(out, 1016);
  }
}

// A stratified sample of 1024: its means within sampling error of the whole dataset's (2% input, 5% output; the
// file's header gives +0.7% and -3.6%), and so is every quarter of it, since the origins are interleaved.
TEST(LengthsDataset, OpenOrcaSampleMeansMatchThePublishedOnes) {
  const LengthRows rows = read_lengths_csv(source_dir() + kOpenOrca);
  const auto [in, out] = mean_lengths(rows);
  EXPECT_NEAR(in, kInputSum / kSamples, 0.02 * kInputSum / kSamples);
  EXPECT_NEAR(out, kOutputSum / kSamples, 0.05 * kOutputSum / kSamples);
  const LengthRows first(rows.begin(), rows.begin() + 256);
  EXPECT_NEAR(mean_lengths(first).first, kInputSum / kSamples, 0.10 * kInputSum / kSamples);
}

// The answers Llama-2-70B generates: the reference lengths scaled to the published mean, within max_new_tokens.
TEST(LengthsDataset, GeneratedLengthsTakeThePublishedMean) {
  const LengthRows rows = with_output_mean(read_lengths_csv(source_dir() + kOpenOrca), kGenerated, 1024);
  EXPECT_NEAR(mean_lengths(rows).second, kGenerated, 0.005 * kGenerated);  // the cap costs a little
  EXPECT_EQ(mean_lengths(rows).first, mean_lengths(read_lengths_csv(source_dir() + kOpenOrca)).first);
  for (const auto& r : rows) {
    EXPECT_GE(r.second, 1);
    EXPECT_LE(r.second, 1024);
  }
  EXPECT_THROW(with_output_mean({}, kGenerated, 1024), InputError);
  EXPECT_THROW(with_output_mean(rows, 0, 1024), InputError);
}

std::string error_of(const std::string& text) {
  const std::string path = testing::TempDir() + "/lengths_dataset_bad.csv";
  {
    std::ofstream f(path);
    f << text;
  }
  std::string what;
  try {
    read_lengths_csv(path);
  } catch (const InputError& e) {
    what = e.what();
  }
  std::remove(path.c_str());
  return what;
}

TEST(LengthsDataset, BadFileGivesOneLine) {
  const std::string what = error_of("# a comment\ninput,output\n120,80\n97,abc\n");
  EXPECT_NE(what.find("lengths_dataset_bad.csv:4:"), std::string::npos) << what;
  EXPECT_NE(what.find("'97,abc'"), std::string::npos) << what;
  EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  EXPECT_NE(error_of("input,output\n120,80,5\n").find(":2: expected two columns"), std::string::npos);
  EXPECT_NE(error_of("input,output\n0,80\n").find(":2: lengths must be positive"), std::string::npos);
  EXPECT_NE(error_of("input,output\n").find("no input,output rows"), std::string::npos);
  // A header names the columns in their order: swapped or misspelt, it was taken as input,output.
  EXPECT_NE(error_of("output,input\n80,120\n").find(":1: header 'output,input': expected input,output"), std::string::npos);
  EXPECT_NE(error_of("# c\ninput,outptu\n80,120\n").find(":2: header 'input,outptu'"), std::string::npos);
  EXPECT_EQ(error_of(" Input , Output \n80,120\n"), "");
  EXPECT_EQ(error_of("80,120\n"), "");
}

// QA session 57: a spreadsheet's CSV (a byte-order mark, quoted fields, CRLF) was refused as a misspelt header; a
// comment may quote freely; a quote inside a number is still refused, naming the line.
TEST(LengthsDataset, ReadsSpreadsheetCsvFiles) {
  EXPECT_EQ(error_of("\xEF\xBB\xBFinput,output\r\n80,120\r\n"), "");
  EXPECT_EQ(error_of("# from \"ShareGPT\", sampled\n\"input\",\"output\"\n\"80\",\"120\"\n"), "");
  EXPECT_NE(error_of("input,output\n8\"0,120\n").find("lengths_dataset_bad.csv:2:"), std::string::npos);
}

}  // namespace
}  // namespace xpu
