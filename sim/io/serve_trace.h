// serve --trace: the serving engine's timeline at iteration level (not the chip's transactions), written into the
// --out folder as trace.h5 (`hdf5`), trace.json (`perfetto`, for ui.perfetto.dev) or both.
//
// trace.h5 (each table a 1-D dataset of a compound of float64 fields, streamed in chunks of kChunk rows, shuffle +
// deflate 1, so memory stays flat however long the run):
//   /iterations    server, start_s, time_s, prefill_tokens, prefill_chunks, decode_requests, verify_requests,
//                  verify_tokens, kv_blocks_used, kv_blocks_total, running, waiting, clock
//                  (one row per iteration of each server; its composition summed over a data-parallel group's ranks,
//                  before padding; KV blocks and requests once it was scheduled; clock: the power manager's mean
//                  clock ratio over it, 0 without a power manager; time_s as the engine counts it: a server's rows
//                  add up to its busy time, all rows to the point's busy_s)
//   /requests      server, request, input_tokens, output_tokens, arrival_s, first_token_s, finish_s, ttft_s
//                  (one row per request as it finishes; disaggregated: server is the prefill instance that took it)
//   /kv_transfers  request, prefill, decode, tokens, bytes, start_s, end_s (disaggregated runs; empty otherwise;
//                  prefill and decode are replica indices in their pools)
//   /servers       the servers' names, indexed by the server columns ("replica", "replica (4 users)" in a closed
//                  loop, "... x3": identical replicas simulated once; "dp group"; "prefill <i>", "decode <i>")
//   attributes: version, chip, config (the resolved chip YAML).
// trace.json: process "servers", one thread per server with an "X" slice per iteration (named prefill, decode or
// mixed, the composition in its args) and a "KV blocks used" counter per server; process "requests", one async
// slice per request (arrival to finish; its server in the args) holding two nested ones, "ttft" (arrival to first
// token) and "decode"; process "kv transfers", a slice per transfer on lanes where they overlap. Streamed as the
// events come (sim/io/perfetto.h's PerfettoStream: a temporary file renamed at the end), so memory stays flat however
// long the run. Bounded for the viewer, not for memory: at most kJsonIterations iteration slices (the earliest, about
// 0.5 GB of JSON) and kJsonRequests requests (the first to finish); otherData says what was left out. The Perfetto UI
// parses a trace inside the browser, where about 2 GB of memory is typical and a trace takes several times its size
// (https://perfetto.dev/docs/visualization/large-traces); trace.h5 has every row.
// Times: the engine's seconds from the run's start, in microseconds with picosecond precision.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/base/interrupt.h"
#include "sim/io/h5_file.h"
#include "sim/io/perfetto.h"
#include "sim/serve/engine.h"

namespace xpu {

class StagedFiles;  // sim/io/output.h
class ServeTraceFiles final : public EngineObserver {
 public:
  static constexpr std::size_t kChunk = 65536;
  static constexpr std::size_t kJsonIterations = 1000000, kJsonRequests = 10000;
  // The files are written under their names staged in `staged`, which the caller commits with the folder's other files.
  ServeTraceFiles(std::string dir, std::string format, StagedFiles& staged);
  ~ServeTraceFiles() override;
  ServeTraceFiles(const ServeTraceFiles&) = delete;
  ServeTraceFiles& operator=(const ServeTraceFiles&) = delete;
  void restart() override;
  int server(const std::string& name) override;
  void on_iteration(int server, const IterationRecord& it) override;
  void on_request(int server, const RequestRecord& r) override;
  void on_transfer(const TransferRecord& t) override;
  // Writes the (staged) files (`name`: the chip or system, `config`: its resolved YAML).
  void finish(const std::string& name, const std::string& config);

  struct Table {  // one dataset of float64 columns
    Table(const char* n, std::vector<const char*> c) : name(n), cols(std::move(c)) {}
    const char* name;
    std::vector<const char*> cols;
    std::vector<double> chunk;      // HDF5: the rows not yet written (fewer than kChunk)
    std::uint64_t written = 0, seen = 0, json = 0;  // rows written to trace.h5; rows recorded; rows in trace.json
    std::int64_t dataset = -1;
  };

 private:
  // Records a row; true when trace.json takes it too (the caller writes its events).
  bool add(Table& t, const std::vector<double>& row, std::size_t json_cap);
  void open_h5();
  void flush(Table& t);
  void open_json();  // (re)starts trace.json with its process and thread names
  void server_meta(std::size_t k);
  std::string m_dir;
  bool m_h5 = false, m_json = false;
  std::vector<std::string> m_servers;
  std::map<std::string, int> m_server_ids;
  Table m_iterations, m_requests, m_transfers;
  StreamedH5File m_h5_file;
  PerfettoStream m_json_file;
  SliceLanes m_lanes;  // the kv transfers'
};

// serve's --trace: null without `trace`; else the files for folder `dir` after check_trace_flags, refused beside
// a frontier of several points (`points` > 1: trace one --concurrency value at a time).
std::unique_ptr<ServeTraceFiles> open_serve_trace(bool trace, const std::string& format, bool format_given, const std::string& dir,
                                                  std::size_t points, StagedFiles& staged);

}  // namespace xpu
