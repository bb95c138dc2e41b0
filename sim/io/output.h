// Result formats: terminal tables, JSON, the results folder layout and HDF5 traces. The only place
// that includes HDF5. Every file is written to a temporary name and renamed into place.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "sim/app/runner.h"

namespace xpu {

void write_file_atomic(const std::string& path, const std::string& content);
// Creates an output folder (and its parents); InputError naming it when that is impossible.
void make_output_dir(const std::string& dir);
nlohmann::json kernel_result_json(const KernelResult& k);
nlohmann::json run_result_json(const RunResult& r);
std::string run_result_table(const RunResult& r);
// trace.h5: dataset /transactions (compound: start_ps, end_ps, unit, kernel, bytes, flops, task,
// kind, level), /units and /kernels name lists, attributes: version, chip, config (resolved YAML).
void write_trace_h5(const std::string& path, const RunResult& r);
// trace.json in the Chrome/Perfetto trace-event format: a track per unit (extra lanes where a unit has
// several transactions in flight, since slices on one track must nest), transactions as slices, and a
// counter track of DMA bandwidth.
void write_perfetto(const std::string& path, const RunResult& r);
// Writes config.resolved.yaml, stats.json and (with a trace) trace.h5 into `dir`.
void write_run_dir(const std::string& dir, const RunResult& r, const nlohmann::json& stats, bool trace,
                   const std::string& trace_format = "hdf5");

}  // namespace xpu
