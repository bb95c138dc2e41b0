// Result formats: terminal tables, JSON, the results folder layout and HDF5 traces (HDF5 itself is in
// a plugin loaded on first use, sim/io/h5_plugin.h). Every file is written to a temporary name and
// renamed into place.
#pragma once
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/base/interrupt.h"
#include "sim/io/h5_file.h"
#include "sim/io/h5_plugin.h"
#include "sim/run/runner.h"
#include "sim/run/model_run.h"  // SystemContext
#include "sim/system/system_trace.h"

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
// kind, level; attributes kind_names and, where the family names them, level_names, "0=global,1=l2,..."),
// /units and /kernels name lists, file attributes: version, chip, config (resolved YAML).
void write_trace_h5(const std::string& path, const std::vector<TraceRecord>& records, const TraceMeta& meta);
// A run's trace names: its chip, configuration, units, kernels and the family's memory levels.
TraceMeta trace_meta(const RunResult& r);
// --trace, --trace-format and --out of a command: InputError (one line naming the flag) unless the format
// is hdf5, perfetto or both, a format is given only with --trace, and a trace has a folder to go to.
void check_trace_flags(bool trace, const std::string& format, bool format_given, bool has_out);
// --format of a command that prints a report: InputError unless table (the default) or json.
void check_format(const std::string& format);
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
  H5TraceWriter(const H5TraceWriter&) = delete;
  H5TraceWriter& operator=(const H5TraceWriter&) = delete;
  void on_begin() override;
  void on_transaction(const TraceRecord& r) override {
    m_buf.push_back(r);
    if (m_buf.size() == kChunk) flush();
  }
  void finish(const TraceMeta& meta);
  std::uint64_t records() const { return m_written + m_buf.size(); }

 private:
  void flush();
  StreamedH5File m_file;
  std::uint64_t m_written = 0;
  std::vector<TraceRecord> m_buf;
};
// The HDF5 plugin's entry points (libxpu_h5.so, loaded on the first call); InputError when it cannot be found.
const H5TraceApi* load_h5_api();
// trace.json: the records as Perfetto's trace-event JSON, by the one writer xpusim.to_perfetto uses too
// (sim/io/perfetto.h: a kernels track, a track per unit, a slice per record, DMA bandwidth and busy counters).
void write_perfetto(const std::string& path, std::vector<TraceRecord> records, const TraceMeta& meta);
// A results folder's files written as one set: each is written under its staged name ("<path>.tmp.<pid>", removed if
// the run is interrupted or the set dropped uncommitted), and commit() renames them all into place at once, so Ctrl-C
// while a long trace is written leaves every file of the set or none (before 2026-12-07 it left config.resolved.yaml,
// stats.json and trace.h5 without trace.json, under "no results written").
class StagedFiles {
 public:
  StagedFiles() = default;
  ~StagedFiles();
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  std::string stage(const std::string& path);  // the name to write `path` under until commit()
  void write(const std::string& path, const std::string& content);  // stages `path` with `content` (errors name `path`)
  void commit();

 private:
  std::vector<std::pair<std::string, std::unique_ptr<TempFile>>> m_files;  // final path, staged file
};
// The trace of a run that produces it as it goes (a system run): trace.h5 streamed as the records come
// (`hdf5`: memory stays flat), or the records held until finish() writes trace.json (`perfetto`) or both; each
// file under its name staged in `staged`, which the caller commits with the folder's other files.
class TraceFiles {
 public:
  TraceFiles(const std::string& dir, const std::string& format, StagedFiles& staged);
  TraceObserver& sink() { return m_h5 ? static_cast<TraceObserver&>(*m_h5) : m_buffer; }
  void finish(const TraceMeta& meta);  // writes the files (staged, not yet in the folder)
  std::uint64_t records() const { return m_h5 ? m_h5->records() : m_buffer.records.size(); }

 private:
  std::string m_dir, m_format;
  StagedFiles& m_staged;
  std::unique_ptr<H5TraceWriter> m_h5;
  TraceBuffer m_buffer;
};
// A system run's --trace (`run`, `kernel <collective>`): its files and the system trace that fills them.
class SystemTraceFiles {
 public:
  SystemTraceFiles(const std::string& dir, const std::string& format, StagedFiles& staged)
      : m_files(dir, format, staged), m_trace(m_files.sink()) {}
  SystemTrace* trace() { return &m_trace; }
  // Writes the files, named after `name` (the system, or the chip of a one-chip run) with its `config`.
  void finish(const std::string& name, const std::string& config) { m_files.finish(m_trace.meta(name, config)); }

 private:
  TraceFiles m_files;
  SystemTrace m_trace;
};
// Null without `trace`; else the files for folder `dir`, staged in `staged`, after check_trace_flags (`dir` "": no --out).
std::unique_ptr<SystemTraceFiles> open_system_trace(bool trace, const std::string& format, bool format_given, const std::string& dir,
                                                    StagedFiles& staged);
// Writes config.resolved.yaml and stats.json (`report` with every stat under "stats") into `dir`, with what `staged`
// already holds (a trace), as one set: staged, then committed, so nothing appears until all are written.
void write_results_dir(const std::string& dir, const std::string& resolved_yaml, const nlohmann::json& report, const Stats& stats,
                       StagedFiles* staged = nullptr);
// run's and serve's --out DIR: config.resolved.yaml (`chip_yaml`), system.resolved.yaml (the system's resolved
// preset, on a system of chips) and stats.json (`report`, the JSON --format json prints, with an empty "stats":
// these runs register no component counters), with what `staged` holds (the --trace files) as one set (write_results_dir).
// Called once the run has succeeded, so a failing run writes nothing.
void write_report_dir(const std::string& dir, const std::string& chip_yaml, const std::optional<SystemContext>& system,
                      const nlohmann::json& report, StagedFiles* staged = nullptr);
// Writes config.resolved.yaml, stats.json and (with a trace) trace.h5 / trace.json into `dir`, with what `staged`
// already holds (a trace.h5 streamed during the run), as one set: nothing appears until all are written.
void write_run_dir(const std::string& dir, const RunResult& r, const nlohmann::json& stats, bool trace,
                   const std::string& trace_format = "hdf5", StagedFiles* staged = nullptr);

}  // namespace xpu
