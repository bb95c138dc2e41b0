// A compare row whole, for the worker process that ran its unit to send it back to the study: every
// field of CompareRow and what it holds as JSON, doubles bit for bit (CBOR carries them as binary
// floats, infinities included), so a study merged from workers equals the one run in one process.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "sim/run/runner.h"
#include "sim/serve/compare.h"

namespace xpu {

nlohmann::json compare_row_to_json(const CompareRow& row);
// std::runtime_error naming what is wrong when `j` is not a row as compare_row_to_json writes it.
CompareRow compare_row_from_json(const nlohmann::json& j);
// The row as CBOR bytes and back.
std::string encode_compare_row(const CompareRow& row);
CompareRow decode_compare_row(const std::string& bytes);

// What a worker process that ran one unit sends back: the row, its process_run_stats() when done (the
// study's process subtracts its own at the fork) and its peak RSS, so that the study's process counts
// the whole study (XPUSIM_RUN_STATS).
struct UnitResult {
  CompareRow row;
  ProcessRunStats stats;
  std::uint64_t peak_rss_kib = 0;
};
std::string encode_unit_result(const UnitResult& r);
UnitResult decode_unit_result(const std::string& bytes);

}  // namespace xpu
