// The one Perfetto / Chrome JSON trace writer: `--trace-format perfetto` (kernel, run, kernel <collective>) and
// xpusim.to_perfetto (through the module) both write with it, so the same records give the same events.
//
// Layout: one process per trace; a "kernels" track with each kernel's span (its first start to its last end);
// one track per unit in unit order, named after it, with extra lanes ("name [1]", ...) where its records
// overlap, since slices on one track must nest; each record a complete ("X") slice named by its kind (a system
// trace's kernel, collective and step records by their kernel's name, the kind as category) with
// bytes, FLOPs, kernel (its name), task and level as arguments; counter ("C") tracks: DMA bandwidth (GB/s,
// per direction and memory level, by the level's name where the trace names levels), busy (%) per unit
// group, and power (W) when given. Times in microseconds with picosecond precision (the format's unit).
#pragma once
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

#include "sim/base/interrupt.h"
#include "sim/base/trace.h"

namespace xpu {

struct PerfettoPower {
  std::string name;
  std::vector<double> t_s, watts;
};

// One trace to write as one process.
struct PerfettoProcess {
  std::string label;                          // the process name
  std::vector<TraceRecord> records;
  std::vector<std::string> units, kernels;    // names the records' indices stand for
  std::vector<std::string> kind_names, level_names;
  std::vector<std::uint32_t> unit_ids;        // the units the trace covers (busy groups count them); empty: all
  double t0 = 0, t1 = -1;                     // the window in seconds; t1 < 0: the records' last end
  std::vector<PerfettoPower> power;
};

struct PerfettoOptions {
  std::int64_t max_events = -1;  // >= 0: at most this many records per trace, the earliest (the run cut there)
  double bin_s = 0;              // counter bin width in seconds (0: 1/200 of the trace)
  bool counters = true;          // the DMA bandwidth and busy counters
  bool kernel_track = true;
};

// Greedy interval partitioning of slices sorted by start (slices on one track must nest): each gets the smallest
// lane free at its start (a lane frees at its last slice's end). Returns each slice's lane; `count` the lanes.
std::vector<std::int64_t> slice_lanes(const std::vector<std::int64_t>& start, const std::vector<std::int64_t>& end, std::int64_t& count);
// slice_lanes one slice at a time, for slices that come in order of start (a trace written as it goes): memory is the
// lanes', not the slices'.
class SliceLanes {
 public:
  std::int64_t next(std::int64_t start, std::int64_t end);  // the next slice's lane
  std::int64_t count() const { return m_count; }           // the lanes opened so far

 private:
  using Busy = std::pair<std::int64_t, std::int64_t>;  // (end, lane)
  std::priority_queue<Busy, std::vector<Busy>, std::greater<Busy>> m_busy;
  std::priority_queue<std::int64_t, std::vector<std::int64_t>, std::greater<std::int64_t>> m_idle;
  std::int64_t m_count = 0;
};

// A trace-event JSON file written as its events come, so that memory stays flat however long the trace: open() creates
// it under a temporary name ("<path>.tmp.<pid>", removed on Ctrl-C or when dropped unfinished) and writes its head (a
// second open() starts it over); event() appends one event; finish() writes the tail with `other_data` (the JSON text
// of otherData, known at the end) and renames the file into place. write_trace_events writes with it.
class PerfettoStream {
 public:
  explicit PerfettoStream(std::string path) : m_path(std::move(path)) {}
  ~PerfettoStream();
  PerfettoStream(const PerfettoStream&) = delete;
  PerfettoStream& operator=(const PerfettoStream&) = delete;
  void open();
  bool is_open() const { return m_os.is_open(); }
  void event(const std::string& e) {
    m_os << (m_first ? "" : ",\n") << e;
    m_first = false;
  }
  void finish(const std::string& other_data);
  // For a writer of its own events: the stream, and whether no event was written yet (cleared by the writer).
  std::ostream& os() { return m_os; }
  bool& first() { return m_first; }

 private:
  std::string m_path;
  std::unique_ptr<TempFile> m_guard;
  std::ofstream m_os;
  bool m_first = true;
};

// Writes `path` (a temporary name, then renamed) as {"traceEvents": [what `events` writes], "displayTimeUnit": "ns",
// "otherData": `other_data`}; `events` puts ",\n" before each event unless `first` (which it clears).
void write_trace_events(const std::string& path, const std::function<void(std::ostream&, bool& first)>& events,
                        const std::string& other_data);
// `s` as a JSON string literal (quoted and escaped).
std::string json_str(const std::string& s);
// A metadata ("M") event: {"ph": "M", "pid": P, "name": WHAT, "args": {ARGS}[, "tid": T (when >= 0)]}.
std::string perfetto_meta(int pid, std::int64_t tid, const char* what, const std::string& args);

// Writes `path` (a temporary name, then renamed) and returns the number of record slices written; `other_data`
// is the JSON text of the file's otherData object.
std::uint64_t write_perfetto_file(const std::string& path, std::vector<PerfettoProcess>& traces, const PerfettoOptions& opt,
                                  const std::string& other_data);

// The module's entry (xpusim.to_perfetto): each trace as (raw TraceRecord bytes, label, units, kernels, kind
// names, level names, unit ids, t0, t1, power series (name, times, watts)); plain types that pybind11 converts.
using PerfettoPowerArg = std::tuple<std::string, std::vector<double>, std::vector<double>>;
using PerfettoTraceArg = std::tuple<std::string, std::string, std::vector<std::string>, std::vector<std::string>,
                                    std::vector<std::string>, std::vector<std::string>, std::vector<std::uint32_t>, double,
                                    double, std::vector<PerfettoPowerArg>>;
std::uint64_t write_perfetto_traces(const std::string& path, const std::vector<PerfettoTraceArg>& traces,
                                    std::int64_t max_events, double bin_s, bool counters, bool kernel_track,
                                    const std::string& other_data);

}  // namespace xpu
