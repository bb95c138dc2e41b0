#include "sim/io/perfetto.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <queue>

#include <nlohmann/json.hpp>

#include "sim/base/error.h"
#include "sim/base/interrupt.h"

namespace xpu {

namespace {

constexpr double kPs = 1e12;

std::string us(double ps) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6f", ps / 1e6);
  return b;
}

}  // namespace

std::string json_str(const std::string& s) { return nlohmann::json(s).dump(); }

// Python's json.dumps of a metadata event: {"ph": "M", "pid": P, "name": WHAT, "args": {KEY: VALUE}[, "tid": T]}.
std::string perfetto_meta(int pid, std::int64_t tid, const char* what, const std::string& args) {
  std::string e = "{\"ph\": \"M\", \"pid\": " + std::to_string(pid) + ", \"name\": \"" + what + "\", \"args\": {" + args + "}";
  if (tid >= 0) e += ", \"tid\": " + std::to_string(tid);
  return e + "}";
}

std::int64_t SliceLanes::next(std::int64_t start, std::int64_t end) {
  while (!m_busy.empty() && m_busy.top().first <= start) m_idle.push(m_busy.top().second), m_busy.pop();
  std::int64_t k = m_count;
  if (!m_idle.empty()) k = m_idle.top(), m_idle.pop();
  else ++m_count;
  m_busy.push({end, k});
  return k;
}

std::vector<std::int64_t> slice_lanes(const std::vector<std::int64_t>& start, const std::vector<std::int64_t>& end, std::int64_t& count) {
  std::vector<std::int64_t> lane(start.size(), 0);
  SliceLanes lanes;
  for (size_t i = 0; i < start.size(); ++i) lane[i] = lanes.next(start[i], end[i]);
  count = lanes.count();
  return lane;
}

namespace {

// Integral over each bin [edges[i], edges[i+1]) of the records' rates while they run (xpusim.trace.bin_integral).
std::vector<double> bin_integral(const std::vector<double>& s_in, const std::vector<double>& e_in, const std::vector<double>& rate,
                                 const std::vector<double>& edges) {
  const size_t nb = edges.size() - 1;
  std::vector<double> out(nb, 0.0), full(nb + 1, 0.0);
  for (size_t j = 0; j < s_in.size(); ++j) {
    const double s = std::clamp(s_in[j], edges.front(), edges.back()), e = std::clamp(e_in[j], edges.front(), edges.back());
    if (!(e > s)) continue;
    const double w = rate.size() == 1 ? rate[0] : rate[j];
    auto b0 = static_cast<size_t>(std::clamp<std::ptrdiff_t>(std::upper_bound(edges.begin(), edges.end(), s) - edges.begin() - 1, 0, static_cast<std::ptrdiff_t>(nb) - 1));
    auto b1 = static_cast<size_t>(std::clamp<std::ptrdiff_t>(std::lower_bound(edges.begin(), edges.end(), e) - edges.begin() - 1, 0, static_cast<std::ptrdiff_t>(nb) - 1));
    if (b0 == b1) {
      out[b0] += w * (e - s);
      continue;
    }
    out[b0] += w * (edges[b0 + 1] - s);
    out[b1] += w * (e - edges[b1]);
    full[b0 + 1] += w;  // bins strictly between are fully covered
    full[b1] -= w;
  }
  double run = 0;
  for (size_t b = 0; b < nb; ++b) out[b] += (run += full[b]) * (edges[b + 1] - edges[b]);
  return out;
}

// "chip.sm3.tensor" -> "sm.tensor"; a system trace's link "fabric.node0.chip0->node0.switch" -> "fabric"
// (xpusim.trace.unit_group).
std::string unit_group(const std::string& name) {
  if (name.find("->") != std::string::npos) return name.substr(0, name.find('.'));
  const size_t last = name.rfind('.');
  if (last == std::string::npos) return name;
  const size_t prev = name.rfind('.', last - 1);
  std::string parent = name.substr(prev == std::string::npos ? 0 : prev + 1, last - (prev == std::string::npos ? 0 : prev + 1));
  while (!parent.empty() && std::isdigit(static_cast<unsigned char>(parent.back()))) parent.pop_back();
  return parent.empty() ? name.substr(last + 1) : parent + "." + name.substr(last + 1);
}

struct Counters {
  std::vector<std::int64_t> ts_ps;                                 // bin edges
  std::vector<std::pair<std::string, std::vector<double>>> series;  // per bin, then 0 at the last edge
};

// Bin edges in seconds over [t0, t1] (xpusim.Trace.bin_edges).
std::vector<double> bin_edges(double t0, double t1, double bin_s) {
  const double span = t1 - t0;
  if (span <= 0) return {t0, t0 + 1e-12};
  if (bin_s <= 0) bin_s = span / 200;
  const auto n = std::max<std::int64_t>(static_cast<std::int64_t>(std::ceil(span / bin_s - 1e-9)), 1);
  std::vector<double> edges(static_cast<size_t>(n) + 1);
  for (std::int64_t i = 0; i <= n; ++i) edges[static_cast<size_t>(i)] = t0 + bin_s * static_cast<double>(i);
  edges.back() = t1;
  return edges;
}

std::string level_name(const PerfettoProcess& p, unsigned lv) {
  return lv < p.level_names.size() && !p.level_names[lv].empty() ? p.level_names[lv] : "level" + std::to_string(lv);
}

// DMA bandwidth in GB/s per direction and level, and busy (%) per unit group.
void counters(const PerfettoProcess& p, double bin_s, Counters& dma, Counters& busy) {
  const std::vector<double> edges = bin_edges(p.t0, p.t1, bin_s);
  const size_t nb = edges.size() - 1;
  const auto base = static_cast<std::int64_t>(std::llround(p.t0 * kPs));
  std::vector<double> e_ps, widths;
  std::vector<std::int64_t> ts;
  for (size_t i = 0; i < edges.size(); ++i) {
    e_ps.push_back((edges[i] - p.t0) * kPs);
    ts.push_back(static_cast<std::int64_t>(std::nearbyint(edges[i] * kPs)));
    if (i) widths.push_back(edges[i] - edges[i - 1]);
  }
  dma.ts_ps = busy.ts_ps = ts;
  auto finish = [&](std::vector<double> v, double scale) {
    for (size_t b = 0; b < nb; ++b) v[b] *= scale / widths[b];
    v.push_back(0.0);
    return v;
  };
  for (unsigned kind = 0; kind < 2; ++kind) {
    std::map<unsigned, std::vector<const TraceRecord*>> by_level;
    for (const auto& r : p.records)
      if (r.kind == kind) by_level[r.level].push_back(&r);
    for (const auto& [lv, recs] : by_level) {
      std::vector<double> s, e, rate, per_bin(nb, 0.0);
      for (const TraceRecord* r : recs) {
        const double a = static_cast<double>(r->start_ps - base), z = static_cast<double>(r->end_ps - base);
        if (z - a > 0) {
          s.push_back(a), e.push_back(z), rate.push_back(static_cast<double>(r->bytes) / (z - a));
        } else {  // an instantaneous copy lands in the bin where it happens
          const auto b = std::upper_bound(e_ps.begin(), e_ps.end(), a) - e_ps.begin() - 1;
          per_bin[static_cast<size_t>(std::clamp<std::ptrdiff_t>(b, 0, static_cast<std::ptrdiff_t>(nb) - 1))] += static_cast<double>(r->bytes);
        }
      }
      const std::vector<double> spread = bin_integral(s, e, rate, e_ps);
      for (size_t b = 0; b < nb; ++b) per_bin[b] += spread[b];
      dma.series.push_back({std::string(kind ? "write " : "read ") + level_name(p, lv), finish(per_bin, 1e-9)});
    }
  }
  // Busy: a unit is busy while any of its records is in flight (their union, clipped to the window).
  const auto lo = base, hi = static_cast<std::int64_t>(std::llround(p.t1 * kPs));
  std::map<std::uint32_t, std::vector<std::pair<std::int64_t, std::int64_t>>> spans;
  for (const auto& r : p.records) spans[r.unit].push_back({std::clamp(r.start_ps, lo, hi), std::clamp(r.end_ps, lo, hi)});
  std::vector<std::pair<std::string, std::vector<std::uint32_t>>> groups;  // in the order of their first unit
  for (std::uint32_t u : p.unit_ids) {
    const std::string g = unit_group(u < p.units.size() ? p.units[u] : "unit" + std::to_string(u));
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == g; });
    if (it == groups.end()) groups.push_back({g, {u}});
    else it->second.push_back(u);
  }
  for (const auto& [g, members] : groups) {
    std::vector<double> s, e;
    for (std::uint32_t u : members) {
      auto it = spans.find(u);
      if (it == spans.end()) continue;
      auto v = it->second;
      std::sort(v.begin(), v.end());
      std::int64_t cs = 0, ce = -1;
      for (const auto& [a, z] : v) {
        if (z <= a) continue;
        if (ce >= 0 && a <= ce) ce = std::max(ce, z);
        else {
          if (ce >= 0) s.push_back(static_cast<double>(cs - base)), e.push_back(static_cast<double>(ce - base));
          cs = a, ce = z;
        }
      }
      if (ce >= 0) s.push_back(static_cast<double>(cs - base)), e.push_back(static_cast<double>(ce - base));
    }
    busy.series.push_back({g, finish(bin_integral(s, e, {1.0}, e_ps), 100.0 / kPs / static_cast<double>(members.size()))});
  }
}

void write_counter(std::ostream& os, const std::string& sep, int pid, const std::string& name, const std::vector<std::int64_t>& ts,
                   const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  char b[64];
  for (size_t i = 0; i < ts.size(); ++i) {
    os << sep << "{\"ph\": \"C\", \"pid\": " << pid << ", \"name\": " << json_str(name) << ", \"ts\": " << us(static_cast<double>(ts[i]))
       << ", \"args\": {";
    for (size_t k = 0; k < series.size(); ++k) {
      std::snprintf(b, sizeof b, "%.6g", series[k].second[i]);
      os << (k ? ", " : "") << json_str(series[k].first) << ": " << b;
    }
    os << "}}";
  }
}

// Whether the trace records its kernels as slices of their own (a system trace's kind "kernel", one per launch on
// its rank's compute track): its kernel indices are labels shared by every layer and rank, so a span from a label's
// first start to its last end would cover the whole step.
bool has_kernel_slices(const PerfettoProcess& p) {
  const auto it = std::find(p.kind_names.begin(), p.kind_names.end(), "kernel");
  if (it == p.kind_names.end()) return false;
  const auto kind = static_cast<std::uint8_t>(it - p.kind_names.begin());
  return std::any_of(p.records.begin(), p.records.end(), [kind](const TraceRecord& r) { return r.kind == kind; });
}

// The kernels track: each kernel's first start to last end, with lanes where spans overlap.
std::int64_t kernel_track(std::ostream& os, const std::string& sep, int pid, const PerfettoProcess& p, std::int64_t tid) {
  struct Span {
    std::int64_t start = INT64_MAX, end = INT64_MIN;
    std::uint64_t count = 0, bytes = 0, flops = 0;
  };
  std::map<std::uint32_t, Span> ks;
  for (const auto& r : p.records) {
    Span& k = ks[r.kernel];
    k.start = std::min(k.start, r.start_ps), k.end = std::max(k.end, r.end_ps);
    ++k.count, k.bytes += r.bytes, k.flops += r.flops;
  }
  std::vector<std::pair<std::uint32_t, Span>> v(ks.begin(), ks.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.start < b.second.start; });
  std::vector<std::int64_t> st, en;
  for (const auto& [k, s] : v) st.push_back(s.start), en.push_back(s.end);
  std::int64_t n = 0;
  const std::vector<std::int64_t> lane = slice_lanes(st, en, n);
  for (std::int64_t k = 0; k < n; ++k) {
    os << sep << perfetto_meta(pid, tid + k, "thread_name", "\"name\": " + json_str("kernels" + (k ? " [" + std::to_string(k) + "]" : std::string())));
    os << sep << perfetto_meta(pid, tid + k, "thread_sort_index", "\"sort_index\": " + std::to_string(tid + k));
  }
  for (size_t j = 0; j < v.size(); ++j) {
    const auto& [k, s] = v[j];
    const std::string name = k < p.kernels.size() ? p.kernels[k] : "kernel" + std::to_string(k);
    os << sep << "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": " << json_str(name) << ", \"pid\": " << pid << ", \"tid\": " << tid + lane[j]
       << ", \"ts\": " << us(static_cast<double>(s.start)) << ", \"dur\": " << us(static_cast<double>(s.end - s.start))
       << ", \"args\": {\"transactions\": " << s.count << ", \"bytes\": " << s.bytes << ", \"flops\": " << s.flops << "}}";
  }
  return tid + n;
}

// One process: its metadata, tracks, slices and counters. Returns the slices written.
std::uint64_t write_process(std::ostream& os, bool& first, int pid, PerfettoProcess& p, const PerfettoOptions& opt) {
  std::stable_sort(p.records.begin(), p.records.end(), [](const TraceRecord& a, const TraceRecord& b) { return a.start_ps < b.start_ps; });
  if (opt.max_events >= 0 && p.records.size() > static_cast<size_t>(opt.max_events)) {
    p.records.resize(static_cast<size_t>(opt.max_events));
    p.t1 = -1;
  }
  std::int64_t last = 0;
  for (const auto& r : p.records) last = std::max(last, r.end_ps);
  if (p.t1 < 0) p.t1 = static_cast<double>(last) / kPs;
  if (p.unit_ids.empty())
    for (std::uint32_t u = 0; u < p.units.size(); ++u) p.unit_ids.push_back(u);
  const std::string sep = ",\n";
  os << (first ? "" : sep) << perfetto_meta(pid, -1, "process_name", "\"name\": " + json_str(p.label));
  first = false;
  os << sep << perfetto_meta(pid, -1, "process_sort_index", "\"sort_index\": " + std::to_string(pid));
  std::int64_t tid = 1;
  if (opt.kernel_track && !p.records.empty() && !has_kernel_slices(p)) tid = kernel_track(os, sep, pid, p, tid);
  // One track per unit (plus lanes where its records overlap), in unit order.
  std::vector<size_t> order(p.records.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p.records[a].unit < p.records[b].unit; });
  std::vector<std::int64_t> tid_of(p.records.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    std::vector<std::int64_t> st, en;
    for (; j < order.size() && p.records[order[j]].unit == p.records[order[i]].unit; ++j)
      st.push_back(p.records[order[j]].start_ps), en.push_back(p.records[order[j]].end_ps);
    const std::uint32_t u = p.records[order[i]].unit;
    std::int64_t n = 0;
    const std::vector<std::int64_t> lane = slice_lanes(st, en, n);
    for (std::int64_t k = 0; k < n; ++k) {
      const std::string name = (u < p.units.size() ? p.units[u] : "unit" + std::to_string(u)) + (k ? " [" + std::to_string(k) + "]" : "");
      os << sep << perfetto_meta(pid, tid + k, "thread_name", "\"name\": " + json_str(name));
      os << sep << perfetto_meta(pid, tid + k, "thread_sort_index", "\"sort_index\": " + std::to_string(tid + k));
    }
    for (size_t x = i; x < j; ++x) tid_of[order[x]] = tid + lane[x - i];
    tid += n;
    i = j;
  }
  std::vector<std::string> kernels;
  for (const auto& k : p.kernels) kernels.push_back(json_str(k));
  // A system trace's kernel, collective and step records are the operation itself: their slices take its name
  // ("layer.qkv_proj", "tp_allreduce (ring/ll128)") where a transaction's take their kind ("dma_read"); before
  // 2026-12-07 every slice of a rank's compute track read "kernel".
  std::vector<bool> named_by_kernel(p.kind_names.size());
  for (size_t k = 0; k < p.kind_names.size(); ++k)
    named_by_kernel[k] = p.kind_names[k] == "kernel" || p.kind_names[k] == "collective" || p.kind_names[k] == "step";
  char b[160];
  for (size_t i = 0; i < p.records.size(); ++i) {
    const TraceRecord& r = p.records[i];
    const std::string kind = json_str(r.kind < p.kind_names.size() ? p.kind_names[r.kind] : "kind" + std::to_string(r.kind));
    const bool by_kernel = r.kind < named_by_kernel.size() && named_by_kernel[r.kind] && r.kernel < kernels.size();
    std::snprintf(b, sizeof b, ", \"pid\": %d, \"tid\": %lld, \"ts\": %.6f, \"dur\": %.6f, \"args\": {\"bytes\": %llu, \"flops\": %llu, \"kernel\": ", pid,
                  static_cast<long long>(tid_of[i]), static_cast<double>(r.start_ps) / 1e6, static_cast<double>(r.end_ps - r.start_ps) / 1e6,
                  static_cast<unsigned long long>(r.bytes), static_cast<unsigned long long>(r.flops));
    os << sep << "{\"ph\": \"X\", \"cat\": " << kind << ", \"name\": " << (by_kernel ? kernels[r.kernel] : kind) << b << (r.kernel < kernels.size() ? kernels[r.kernel] : "null")
       << ", \"task\": " << r.task << ", \"level\": " << static_cast<unsigned>(r.level) << "}}";
  }
  if (opt.counters && !p.records.empty()) {
    Counters dma, busy;
    counters(p, opt.bin_s, dma, busy);
    if (!dma.series.empty()) write_counter(os, sep, pid, "DMA bandwidth (GB/s)", dma.ts_ps, dma.series);
    if (!busy.series.empty()) write_counter(os, sep, pid, "busy (%)", busy.ts_ps, busy.series);
  }
  for (const auto& pw : p.power) {
    std::vector<std::int64_t> ts;
    for (double t : pw.t_s) ts.push_back(static_cast<std::int64_t>(std::nearbyint(t * kPs)));
    write_counter(os, sep, pid, "power (W)", ts, {{pw.name, pw.watts}});
  }
  return p.records.size();
}

}  // namespace

PerfettoStream::~PerfettoStream() {
  if (!m_guard) return;  // finished, or never opened
  m_os.close();
  std::error_code ec;
  std::filesystem::remove(m_guard->path(), ec);
}

void PerfettoStream::open() {
  if (m_os.is_open()) m_os.close();
  if (!m_guard) m_guard = std::make_unique<TempFile>(temporary_name(m_path));  // removed if the run is interrupted
  m_os.clear();
  m_os.open(m_guard->path(), std::ios::binary | std::ios::trunc);
  if (!m_os) throw InputError::in_file(m_path + ": cannot write (does the folder exist and is it writable?)", m_path, "");
  m_os << "{\"traceEvents\": [\n";
  m_first = true;
}

void PerfettoStream::finish(const std::string& other_data) {
  if (!m_os.is_open()) open();
  m_os << "\n],\n\"displayTimeUnit\": \"ns\",\n\"otherData\": " << other_data << "}\n";
  m_os.close();
  if (!m_os) throw InputError::in_file(m_path + ": write failed (is the disk full?)", m_path, "");
  rename_into(m_guard->path(), m_path);  // a folder in its way named as every result file's
  m_guard.reset();
}

void write_trace_events(const std::string& path, const std::function<void(std::ostream&, bool& first)>& events,
                        const std::string& other_data) {
  PerfettoStream file(path);
  file.open();
  events(file.os(), file.first());
  file.finish(other_data);
}

std::uint64_t write_perfetto_file(const std::string& path, std::vector<PerfettoProcess>& traces, const PerfettoOptions& opt,
                                  const std::string& other_data) {
  std::uint64_t written = 0;
  write_trace_events(path, [&](std::ostream& os, bool& first) {
    for (size_t i = 0; i < traces.size(); ++i) written += write_process(os, first, static_cast<int>(i) + 1, traces[i], opt);
  }, other_data);
  return written;
}

std::uint64_t write_perfetto_traces(const std::string& path, const std::vector<PerfettoTraceArg>& traces,
                                    std::int64_t max_events, double bin_s, bool counters, bool kernel_track,
                                    const std::string& other_data) {
  std::vector<PerfettoProcess> ps;
  for (const auto& [raw, label, units, kernels, kinds, levels, unit_ids, t0, t1, power] : traces) {
    PerfettoProcess& p = ps.emplace_back();
    p.label = label, p.units = units, p.kernels = kernels, p.kind_names = kinds, p.level_names = levels;
    p.unit_ids = unit_ids, p.t0 = t0, p.t1 = t1;
    if (raw.size() % sizeof(TraceRecord) != 0) throw InputError("to_perfetto: the records are not whole TraceRecords (" + std::to_string(raw.size()) + " bytes)", "", label).with_key("", "records");
    p.records.resize(raw.size() / sizeof(TraceRecord));
    if (!raw.empty()) std::memcpy(p.records.data(), raw.data(), raw.size());
    for (const auto& [name, t, w] : power) p.power.push_back({name, t, w});
  }
  return write_perfetto_file(path, ps, {max_events, bin_s, counters, kernel_track}, other_data);
}

}  // namespace xpu
