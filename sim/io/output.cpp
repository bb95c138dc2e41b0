#include "sim/io/output.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <algorithm>
#include <map>
#include <sstream>

#include "sim/base/error.h"
#include "sim/base/interrupt.h"
#include "sim/base/strformat.h"
#include "sim/io/perfetto.h"

namespace fs = std::filesystem;

namespace xpu {

namespace {
// Writes `content` to `file`; errors name `path`, the result file it becomes (not its temporary name).
void write_content(const std::string& file, const std::string& path, const std::string& content) {
  std::ofstream out(file, std::ios::binary);
  if (!out) throw InputError::in_file(path + ": cannot write (does the folder exist and is it writable?)", path, "");
  out << content;
  out.close();
  if (!out) {
    std::error_code ec;
    fs::remove(file, ec);
    throw InputError::in_file(path + ": write failed (is the disk full?)", path, "");
  }
}
}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  TempFile guard(temporary_name(path));  // removed if the run is interrupted
  write_content(guard.path(), path, content);
  rename_into(guard.path(), path);
}

void make_output_dir(const std::string& dir) {
  std::error_code ec;
  if (dir.empty()) throw InputError("--out: expected a folder name", "--out", "");
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir, ec))
    throw InputError(dir + ": --out: cannot create the output folder (" +
                     (ec ? ec.message() : std::string("a file of that name exists")) + ")", "--out", dir);
  claim_output_dir(dir);
}

void check_output_dir(const std::string& dir) {
  if (dir.empty()) throw InputError("--out: expected a folder name", "--out", "");
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec);
  while (!p.empty() && !fs::exists(p, ec) && p.has_parent_path() && p.parent_path() != p) p = p.parent_path();
  if (!fs::is_directory(p, ec))
    throw InputError(dir + ": --out: cannot create the output folder (" + p.string() + " is not a folder)", "--out", dir);
  if (::access(p.c_str(), W_OK | X_OK) != 0)
    throw InputError(dir + ": --out: cannot create the output folder (" + p.string() + " is not writable)", "--out", dir);
}

nlohmann::json kernel_result_json(const KernelResult& k) {
  return {{"name", k.name},           {"op", k.op},
          {"strategy", k.strategy},   {"time_s", k.time_s},
          {"exec_s", k.exec_s},       {"flops", k.flops},
          {"executed_flops", k.executed_flops}, {"dram_bytes", k.dram_bytes}, {"hbm_bytes", k.hbm_bytes},
          {"min_bytes", k.min_bytes}, {"roofline_s", k.roofline_s},
          {"bound", k.bound},         {"bound_unit", k.bound_unit},
          {"bound_share", k.bound_share}, {"roofline_bound", k.roofline_bound},
          {"tasks", k.tasks},
          {"transactions", k.transactions}, {"occupancy", k.occupancy},
          {"count", k.count}};
}

nlohmann::json dram_path_json(const std::optional<DramPathBound>& b) {
  if (!b) return nullptr;
  return {{"unit", b->unit}, {"keys", b->keys}, {"path_Bps", b->path_bandwidth}, {"hbm_Bps", b->hbm_bandwidth},
          {"achieved_Bps", b->achieved}, {"share", b->share}, {"busy", b->busy}};
}

nlohmann::json run_result_json(const RunResult& r) {
  nlohmann::json j;
  j["chip"] = r.chip;
  j["family"] = r.family;
  j["dtype"] = name(r.dtype);
  j["latency_s"] = r.latency_s;
  j["tflops"] = r.tflops;
  j["peak_tflops"] = r.peak_tflops;
  j["share_of_peak"] = r.share_of_peak;  // against the nominal peak
  j["peak_dtype"] = name(r.peak_dtype);   // the rate that peak is of: the dtype, or what the lowering converts it to
  j["matrix_flops"] = r.matrix_flops;    // 0: no work on the matrix units (a row-wise op): share_of_peak does not apply
  // The clock it ran at (time-weighted mean of the power manager's clocks), beside the nominal peak.
  j["clock_ratio"] = r.clock_ratio;
  j["clock_mhz"] = r.clock_hz / 1e6;
  j["flops"] = r.flops;
  j["transactions"] = r.transactions;
  j["sim_cycles"] = r.sim_cycles;
  j["wall_s"] = r.wall_s;
  j["transactions_per_s"] = r.wall_s > 0 ? r.transactions / r.wall_s : 0;
  double roof = 0, dram = 0;
  for (const auto& k : r.kernels) roof += k.roofline_s * k.count, dram += k.dram_bytes * k.count;
  j["roofline_s"] = roof;
  j["share_of_roofline"] = r.latency_s > 0 ? roof / r.latency_s : 0;  // roofline time / simulated time
  nlohmann::json bytes = nlohmann::json::object(), bw = nlohmann::json::object();
  for (const auto& [k, v] : r.stats.all()) {
    auto put = [&](const std::string& key) {
      bytes[key] = v.value;
      bw[key] = r.latency_s > 0 ? v.value / r.latency_s : 0;
    };
    if (k.find(".hbm.bytes_read") != std::string::npos) put("hbm_read");
    if (k.find(".hbm.bytes_written") != std::string::npos) put("hbm_write");
    if (k.find(".l2.hit_bytes") != std::string::npos) put("l2_hit");
    if (k.rfind("dma.level", 0) == 0) put(k.substr(4, k.size() - 10));  // "level<N>"
  }
  j["bytes"] = bytes;
  j["bandwidth_Bps"] = bw;
  // What the family calls each DMA level of bytes and bandwidth_Bps ("level0": "global" on a GPU, "hbm" on a TPU):
  // the keys stay level<N> (scripts read them), the names beside them.
  nlohmann::json levels = nlohmann::json::object();
  for (size_t n = 0; n < r.level_names.size(); ++n) levels["level" + std::to_string(n)] = r.level_names[n];
  j["dma_level_names"] = levels;
  j["utilization"] = unit_utilization(r.stats);
  j["utilization_notes"] = unit_notes(r.stats);  // what a unit's share measures, where not plain busy time
  nlohmann::json ks = nlohmann::json::array();
  for (const auto& k : r.kernels) ks.push_back(kernel_result_json(k));
  j["kernels"] = ks;
  j["dram_path"] = dram_path_json(r.dram_path);
  return j;
}

std::string run_result_table(const RunResult& r) {
  std::ostringstream os;
  // A label as long as the column (tpu-v6e's "utilization tc.mxu0_weights") still gets a space before its value.
  auto row = [&](const std::string& k, const std::string& v) {
    os << "  " << std::left << std::setw(26) << k << (k.size() >= 26 ? " " : "") << v << "\n";
  };
  char buf[128];
  os << r.chip << " (" << r.family << ")\n";
  row("latency", format_seconds(r.latency_s));
  double roof = 0;
  for (const auto& k : r.kernels) roof += k.roofline_s * k.count;
  // A row-wise or memory op (no work on the matrix units): its share of the matrix peak said nothing ("0.0% of 5000
  // TFLOP/s fp8 peak" for a maia200 rmsnorm; QA session 42), its share of its roofline speed does.
  if (r.matrix_flops <= 0 && !r.kernels.empty())
    std::snprintf(buf, sizeof buf, "%.1f TFLOP/s (no matrix-unit work: it runs at %.1f%% of its roofline speed)", r.tflops,
                  r.latency_s > 0 ? 100 * roof / r.latency_s : 0.0);
  else if (r.peak_tflops > 0)
    std::snprintf(buf, sizeof buf, "%.1f TFLOP/s (%.1f%% of %.0f TFLOP/s %s peak%s)", r.tflops, 100 * r.share_of_peak,
                  r.peak_tflops, name(r.peak_dtype),
                  r.peak_dtype != r.dtype ? (std::string(": ") + name(r.dtype) + " converted to " + name(r.peak_dtype)).c_str() : "");
  else  // a dtype the matrix units lack (fp8 on an A100): "0.0% of 0 TFLOP/s" said nothing
    std::snprintf(buf, sizeof buf, "%.1f TFLOP/s (no %s matrix peak on this chip)", r.tflops, name(r.peak_dtype));
  row("throughput", buf);
  if (r.clock_hz > 0) {
    std::snprintf(buf, sizeof buf, "%.0f MHz (%.1f%% of nominal)", r.clock_hz / 1e6, 100 * r.clock_ratio);
    row("clock", buf);
  }
  const double over_roof = roof > 0 ? r.latency_s / roof : 0;
  const std::string ratio = strformat(over_roof < 1000 ? "%.4g" : "%.0f", over_roof);  // "1208", not "1208."
  row("roofline bound", format_seconds(roof) + (roof > 0 ? " (simulated / roofline = " + ratio + ")" : ""));
  for (const auto& [k, v] : r.stats.all()) {
    if (k.find(".hbm.bytes_read") != std::string::npos || k.find(".hbm.bytes_written") != std::string::npos ||
        k.find(".l2.hit_bytes") != std::string::npos) {
      std::string label = k.substr(k.find('.', k.find('.') + 1) + 1);
      row(label, format_bytes(v.value) + "  (" + format_rate(r.latency_s > 0 ? v.value / r.latency_s : 0, "B/s") + ")");
    }
    if (k.find(".l2.hit_rate") != std::string::npos) {
      std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v.value);
      row("l2.hit_rate", buf);
    }
  }
  const std::map<std::string, std::string> notes = unit_notes(r.stats);
  for (const auto& [u, v] : unit_utilization(r.stats)) {
    std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v);
    auto note = notes.find(u);
    row("utilization " + u, note == notes.end() ? std::string(buf) : strformat("%-6s  ", buf) + note->second);
  }
  row("transactions", std::to_string(r.transactions));
  std::snprintf(buf, sizeof buf, "%.0f", r.sim_cycles);
  row("simulated cycles", buf);
  std::snprintf(buf, sizeof buf, "%.3f s (%.2f M transactions/s)", r.wall_s, r.wall_s > 0 ? r.transactions / r.wall_s / 1e6 : 0);
  row("wall time", buf);
  os << "  kernels:\n";
  for (const auto& k : r.kernels) {
    // The strategy goes after the fixed-width columns, not through `buf`, which would cut a long one (and its newline).
    std::snprintf(buf, sizeof buf, "    %-22s %10s  %6.1f%%  %-7s ", (k.op.empty() ? k.name : k.op + ":" + k.name).c_str(),
                  format_seconds(k.time_s).c_str(), r.latency_s > 0 ? 100 * k.time_s * k.count / r.latency_s : 0,
                  k.bound.c_str());
    os << buf << k.strategy << "\n";
  }
  if (r.dram_path) os << "  note: " << dram_path_text(*r.dram_path, r.kernels.size() > 1 ? "the kernels" : "the kernel") << "\n";
  return os.str();
}

std::string params_table(const std::vector<ParamInfo>& params) {
  std::ostringstream os;
  auto cell = [&](const std::string& text, size_t width) {
    os << std::left << std::setw(static_cast<int>(width)) << text << (text.size() >= width ? " " : "");
  };
  cell("field", 36), cell("unit", 11), cell("default", 12);
  os << "meaning\n";
  for (const auto& p : params) {
    cell(p.path, 36), cell(p.kind, 11), cell(p.required ? "(required)" : p.default_text, 12);
    os << p.description << "\n";
  }
  return os.str();
}

// libxpu_h5.so (h5_plugin.h): beside the running program (the CLI in build/), beside the binary
// holding this code (the Python module in its package), else in the build folder this was built in.
const H5TraceApi* load_h5_api() {
  static const H5TraceApi* api = nullptr;
  if (api) return api;
  std::vector<fs::path> dirs;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path());
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&load_h5_api), &info) != 0 && info.dli_fname)
    dirs.push_back(fs::path(info.dli_fname).parent_path());
  dirs.emplace_back(XPUSIM_BUILD_DIR);
  std::string why;
  for (const fs::path& d : dirs) {
    const std::string so = (d / "libxpu_h5.so").string();
    void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      why = e ? e : so;
      continue;
    }
    using Entry = const H5TraceApi* (*)();
    if (auto entry = reinterpret_cast<Entry>(::dlsym(h, "xpu_h5_trace_api"))) return api = entry();
    why = so + ": no xpu_h5_trace_api";
  }
  throw InputError("trace.h5: cannot load the HDF5 plugin libxpu_h5.so (" + why +
                   "); --trace-format perfetto writes a trace without it", "--trace-format", "");
}

H5TraceWriter::H5TraceWriter(std::string path) : m_file(std::move(path)) { m_buf.reserve(kChunk); }

void H5TraceWriter::on_begin() {
  m_buf.clear();
  m_written = 0;
  m_file.open([](const H5TraceApi& api, const char* tmp, H5TraceIds* ids) { return api.create(tmp, kChunk, ids); },
              "the transactions dataset");
}

void H5TraceWriter::flush() {
  if (m_buf.empty() || m_file.ids().dataset < 0) return;
  // One whole chunk per call (except the last), so each chunk is compressed once.
  if (m_file.api().append(&m_file.ids(), m_written, m_buf.data(), m_buf.size()) != 0)
    throw InputError::in_file(m_file.path() + ": trace write failed (disk full?)", m_file.path(), "");
  m_written += m_buf.size();
  m_buf.clear();
}

void H5TraceWriter::finish(const TraceMeta& m) {
  if (!m_file.is_open()) on_begin();  // nothing was simulated: an empty trace
  flush();
  auto ptrs = [](const std::vector<std::string>& v) {
    std::vector<const char*> p;
    for (const auto& x : v) p.push_back(x.c_str());
    return p;
  };
  const std::vector<const char*> units = ptrs(m.units), kernels = ptrs(m.kernels);
  const H5TraceMeta meta{XPUSIM_VERSION, m.name.c_str(), m.config.c_str(), units.data(), units.size(),
                         kernels.data(), kernels.size(), m.kind_names.c_str(), m.level_names.c_str()};
  m_file.api().finish(&m_file.ids(), &meta);
  m_file.commit();
}

TraceMeta trace_meta(const RunResult& r) {
  TraceMeta m;
  m.name = r.chip;
  m.config = r.resolved_yaml;
  m.units = r.unit_names;
  m.kernels = r.kernel_names;
  m.level_names = numbered_names(r.level_names);
  return m;
}

void check_format(const std::string& format) {
  if (format != "table" && format != "json") throw InputError("--format '" + format + "': expected table or json", "--format", format);
}

void check_trace_flags(bool trace, const std::string& format, bool format_given, bool has_out) {
  if (format != "hdf5" && format != "perfetto" && format != "both")
    throw InputError("--trace-format '" + format + "': expected hdf5, perfetto or both", "--trace-format", format);
  if (!trace && format_given) throw InputError("--trace-format " + format + ": give --trace too (it picks the trace's file format)", "--trace-format", format);
  if (trace && !has_out) throw InputError("--trace needs --out DIR to write the trace (trace.h5, trace.json) into", "--trace", "");
}

void write_trace_h5(const std::string& path, const std::vector<TraceRecord>& records, const TraceMeta& meta) {
  H5TraceWriter w(path);
  w.on_begin();
  for (const TraceRecord& t : records) w.on_transaction(t);
  w.finish(meta);
}

TraceFiles::TraceFiles(const std::string& dir, const std::string& format, StagedFiles& staged)
    : m_dir(dir), m_format(format), m_staged(staged) {
  if (format == "hdf5") m_h5 = std::make_unique<H5TraceWriter>(staged.stage(dir + "/trace.h5"));
}

void TraceFiles::finish(const TraceMeta& meta) {
  if (m_h5) return m_h5->finish(meta);
  make_output_dir(m_dir);
  if (m_format == "both") write_trace_h5(m_staged.stage(m_dir + "/trace.h5"), m_buffer.records, meta);
  write_perfetto(m_staged.stage(m_dir + "/trace.json"), std::move(m_buffer.records), meta);
}

std::unique_ptr<SystemTraceFiles> open_system_trace(bool trace, const std::string& format, bool format_given, const std::string& dir,
                                                    StagedFiles& staged) {
  check_trace_flags(trace, format, format_given, !dir.empty());
  if (!trace) return nullptr;
  check_output_dir(dir);  // before the run: a folder that cannot be made is told at once
  return std::make_unique<SystemTraceFiles>(dir, format, staged);
}

namespace {
// "0=a,1=b" (TraceMeta's kind_names, level_names) as a list indexed by the numbers.
std::vector<std::string> parse_numbered(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  std::string item;
  while (std::getline(is, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) continue;
    const size_t i = std::stoul(item.substr(0, eq));
    if (out.size() <= i) out.resize(i + 1);
    out[i] = item.substr(eq + 1);
  }
  return out;
}
}  // namespace

void write_perfetto(const std::string& path, std::vector<TraceRecord> records, const TraceMeta& meta) {
  std::vector<PerfettoProcess> p(1);
  const size_t n = records.size();
  p[0].label = meta.name;
  p[0].records = std::move(records);
  p[0].units = meta.units;
  p[0].kernels = meta.kernels;
  p[0].kind_names = parse_numbered(meta.kind_names);
  p[0].level_names = parse_numbered(meta.level_names);
  nlohmann::ordered_json trace = {{"chip", meta.name}, {"label", meta.name}, {"source", nullptr}, {"transactions", n},
                                  {"written", n}, {"truncated", false}};
  const nlohmann::ordered_json other = {{"generator", "xpusim"}, {"version", XPUSIM_VERSION}, {"truncated", false},
                                        {"traces", nlohmann::ordered_json::array({trace})}};
  write_perfetto_file(path, p, PerfettoOptions{}, other.dump());
}

StagedFiles::~StagedFiles() {
  std::error_code ec;
  for (const auto& [path, tmp] : m_files) fs::remove(tmp->path(), ec);
}

void StagedFiles::write(const std::string& path, const std::string& content) { write_content(stage(path), path, content); }

std::string StagedFiles::stage(const std::string& path) {
  m_files.emplace_back(path, std::make_unique<TempFile>(temporary_name(path)));
  return m_files.back().second->path();
}

void StagedFiles::commit() {
  std::error_code ec;
  for (const auto& [path, tmp] : m_files)  // all or none: a folder in a file's way is found before any file moves
    if (fs::is_directory(path, ec)) cannot_place(path, std::make_error_code(std::errc::is_a_directory));
  // A signal during the renames (a Ctrl-C the moment the first file shows) waits for the last of them.
  const SignalsHeld held;
  for (const auto& [path, tmp] : m_files) rename_into(tmp->path(), path);
  // The set is in place: a signal held during the renames, or any later one, must not say "no results written".
  if (!m_files.empty()) {
    fs::path folder = fs::path(m_files.front().first).parent_path();
    for (const auto& f : m_files) {  // the folder holding every file of the set: the common head of their folders
      const fs::path p = fs::path(f.first).parent_path();
      fs::path head;
      for (auto a = folder.begin(), b = p.begin(); a != folder.end() && b != p.end() && *a == *b; ++a, ++b) head /= *a;
      folder = head;
    }
    note_results_written(folder.empty() ? "." : folder.string());
  }
  m_files.clear();
}

void write_results_dir(const std::string& dir, const std::string& resolved_yaml, const nlohmann::json& report, const Stats& stats,
                       StagedFiles* staged) {
  StagedFiles own;
  StagedFiles& files = staged ? *staged : own;
  make_output_dir(dir);
  files.write(dir + "/config.resolved.yaml", resolved_yaml);
  nlohmann::json full = report;
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [k, v] : stats.all()) counters[k] = {{"value", v.value}, {"unit", v.unit}, {"description", v.description}};
  full["stats"] = counters;
  files.write(dir + "/stats.json", full.dump(2) + "\n");
  files.commit();
}

void write_report_dir(const std::string& dir, const std::string& chip_yaml, const std::optional<SystemContext>& system,
                      const nlohmann::json& report, StagedFiles* staged) {
  StagedFiles own;
  StagedFiles& files = staged ? *staged : own;
  if (system) {
    make_output_dir(dir);
    files.write(dir + "/system.resolved.yaml", system->spec.resolved_yaml);
  }
  write_results_dir(dir, chip_yaml, report, Stats{}, &files);
}

void write_run_dir(const std::string& dir, const RunResult& r, const nlohmann::json& stats, bool trace,
                   const std::string& trace_format, StagedFiles* staged) {
  StagedFiles own;
  StagedFiles& files = staged ? *staged : own;
  make_output_dir(dir);
  if (trace && trace_format != "perfetto") write_trace_h5(files.stage(dir + "/trace.h5"), r.trace, trace_meta(r));
  if (trace && trace_format != "hdf5") write_perfetto(files.stage(dir + "/trace.json"), r.trace, trace_meta(r));
  write_results_dir(dir, r.resolved_yaml, stats, r.stats, &files);  // commits the set
}

}  // namespace xpu
