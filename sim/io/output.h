// Result formats: terminal tables, JSON, the results folder layout and HDF5 traces (HDF5 itself is in
// a plugin loaded on first use, sim/io/h5_plugin.h). Every file is written to a temporary name and
// renamed into place.
#pragma once
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>

#include "sim/base/interrupt.h"
#include "sim/io/h5_plugin.h"
#include "sim/run/runner.h"
#include "sim/run/model_run.h"  // SystemContext

namespace xpu {

void write_file_atomic(const std::string& path, const std::string& content);
// Creates an output folder (and its parents); InputError naming it when that is impossible.
void make_output_dir(const std::string& dir);
// Before a long study: refuses an --out folder that make_output_dir could not create or write (a file in its path,
// no write permission on the nearest existing folder), without creating anything.
void check_output_dir(const std::string& dir);
nlohmann::json kernel_result_json(const KernelResult& k);
nlohmann::json run_result_json(const RunResult& r);
// A DramPathBound as reports give it (null where the path did not bound the kernels): unit, keys, and the rates in B/s.
nlohmann::json dram_path_json(const std::optional<DramPathBound>& b);
std::string run_result_table(const RunResult& r);
// `xpusim params`: one row per preset field (path, unit, default, meaning), each column followed by at
// least one space however long its entry.
std::string params_table(const std::vector<ParamInfo>& params);
// trace.h5: dataset /transactions (compound: start_ps, end_ps, unit, kernel, bytes, flops, task,
// kind, level), /units and /kernels name lists, attributes: version, chip, config (resolved YAML).
void write_trace_h5(const std::string& path, const RunResult& r);
// Streams trace.h5 while the simulation runs: records are appended to the extendible dataset one
// chunk (65,536 records, shuffle + deflate 1) at a time, so a traced run holds one chunk, not the
// whole trace. on_begin() restarts the file (a run simulated again at a settled clock replaces the
// first); finish() adds the name lists and attributes and renames the file into place. An
// unfinished file is removed. The HDF5 calls are libxpu_h5.so's (h5_plugin.h), loaded by the first
// writer that opens a file; InputError when it cannot be found.
class H5TraceWriter : public TraceObserver {
 public:
  static constexpr size_t kChunk = 65536;
  explicit H5TraceWriter(std::string path);
  ~H5TraceWriter() override;
  H5TraceWriter(const H5TraceWriter&) = delete;
  H5TraceWriter& operator=(const H5TraceWriter&) = delete;
  void on_begin() override;
  void on_transaction(const TraceRecord& r) override {
    m_buf.push_back(r);
    if (m_buf.size() == kChunk) flush();
  }
  void finish(const RunResult& r);  // r: names, chip and config (its own trace is ignored)
  std::uint64_t records() const { return m_written + m_buf.size(); }

 private:
  void flush();
  void close();
  std::string m_path, m_tmp;
  const H5TraceApi* m_api = nullptr;
  H5TraceIds m_ids;
  std::uint64_t m_written = 0;
  std::vector<TraceRecord> m_buf;
  std::unique_ptr<TempFile> m_guard;  // the temporary file, registered for removal on Ctrl-C
};
// trace.json in the Chrome/Perfetto trace-event format: a track per unit (extra lanes where a unit has
// several transactions in flight, since slices on one track must nest), transactions as slices, and a
// counter track of DMA bandwidth.
void write_perfetto(const std::string& path, const RunResult& r);
// Writes config.resolved.yaml and stats.json (`report` with every stat under "stats") into `dir`.
void write_results_dir(const std::string& dir, const std::string& resolved_yaml, const nlohmann::json& report, const Stats& stats);
// run's and serve's --out DIR: config.resolved.yaml (`chip_yaml`), system.resolved.yaml (the system's resolved
// preset, on a system of chips) and stats.json (`report`, the JSON --format json prints, with an empty "stats":
// these runs register no component counters). Called once the run has succeeded, so a failing run writes nothing.
void write_report_dir(const std::string& dir, const std::string& chip_yaml, const std::optional<SystemContext>& system,
                      const nlohmann::json& report);
// Writes config.resolved.yaml, stats.json and (with a trace) trace.h5 into `dir`.
void write_run_dir(const std::string& dir, const RunResult& r, const nlohmann::json& stats, bool trace,
                   const std::string& trace_format = "hdf5");

}  // namespace xpu
