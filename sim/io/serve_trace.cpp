#include "sim/io/serve_trace.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "sim/base/error.h"
#include "sim/io/output.h"
#include "sim/io/perfetto.h"

namespace xpu {

namespace {
// Seconds as the format's microseconds, to the picosecond.
std::string us(double s) {
  char b[64];
  std::snprintf(b, sizeof b, "%.6f", std::round(s * 1e12) / 1e6);
  return b;
}
std::string num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}
}  // namespace

ServeTraceFiles::ServeTraceFiles(std::string dir, std::string format)
    : m_dir(std::move(dir)), m_h5(format != "perfetto"), m_json(format != "hdf5"),
      m_iterations{"iterations",
                   {"server", "start_s", "time_s", "prefill_tokens", "prefill_chunks", "decode_requests", "verify_requests", "verify_tokens",
                    "kv_blocks_used", "kv_blocks_total", "running", "waiting", "clock"}},
      m_requests{"requests", {"server", "request", "input_tokens", "output_tokens", "arrival_s", "first_token_s", "finish_s", "ttft_s"}},
      m_transfers{"kv_transfers", {"request", "prefill", "decode", "tokens", "bytes", "start_s", "end_s"}},
      m_h5_file(m_dir + "/trace.h5") {}

ServeTraceFiles::~ServeTraceFiles() {
  if (!m_h5_file.is_open()) return;
  for (Table* t : {&m_iterations, &m_requests, &m_transfers})
    if (t->dataset >= 0) m_h5_file.api().table_close(t->dataset);
}

void ServeTraceFiles::restart() {
  for (Table* t : {&m_iterations, &m_requests, &m_transfers}) t->chunk.clear(), t->kept.clear(), t->written = t->seen = 0;
}

int ServeTraceFiles::server(const std::string& name) {
  auto [it, added] = m_server_ids.emplace(name, static_cast<int>(m_servers.size()));
  if (added) m_servers.push_back(name);
  return it->second;
}

void ServeTraceFiles::open_h5() {
  m_h5_file.open([](const H5TraceApi& api, const char* tmp, H5TraceIds* ids) { return api.create_file(tmp, ids) != 0 ? 1 : 0; }, "");
  for (Table* t : {&m_iterations, &m_requests, &m_transfers}) {
    t->dataset = m_h5_file.api().table(m_h5_file.ids().file, t->name, t->cols.data(), t->cols.size(), kChunk);
    if (t->dataset < 0) throw InputError(m_h5_file.path() + ": cannot create the " + t->name + " dataset");
  }
}

void ServeTraceFiles::flush(Table& t) {
  const std::uint64_t n = t.chunk.size() / t.cols.size();
  if (m_h5_file.api().table_append(t.dataset, t.written, t.chunk.data(), n) != 0)
    throw InputError(m_h5_file.path() + ": trace write failed (disk full?)");
  t.written += n;
  t.chunk.clear();
}

void ServeTraceFiles::add(Table& t, std::vector<double> row, std::size_t json_cap) {
  ++t.seen;
  if (m_json && t.kept.size() / t.cols.size() < json_cap) t.kept.insert(t.kept.end(), row.begin(), row.end());
  if (!m_h5) return;
  if (!m_h5_file.is_open()) open_h5();
  t.chunk.insert(t.chunk.end(), row.begin(), row.end());
  if (t.chunk.size() == kChunk * t.cols.size()) flush(t);
}

void ServeTraceFiles::on_iteration(int server, const IterationRecord& it) {
  const StepShape& s = it.shape;
  add(m_iterations,
      {double(server), it.start_s, it.time_s, double(s.prefill_tokens), double(s.prefill_chunks), double(s.decode_seqs),
       double(s.verify_seqs), double(s.verify_tokens), double(it.kv_used), double(it.kv_total), double(it.running), double(it.waiting), it.clock},
      kJsonIterations);
}

void ServeTraceFiles::on_request(int server, const RequestRecord& r) {
  add(m_requests,
      {double(server), double(r.request), double(r.input), double(r.output), r.arrival_s, r.first_token_s, r.finish_s,
       r.first_token_s - r.arrival_s},
      kJsonRequests);
}

void ServeTraceFiles::on_transfer(const TransferRecord& t) {
  add(m_transfers, {double(t.request), double(t.prefill), double(t.decode), double(t.tokens), t.bytes, t.start_s, t.end_s}, kJsonIterations);
}

void ServeTraceFiles::finish(const std::string& name, const std::string& config) {
  if (m_h5) {
    if (!m_h5_file.is_open()) open_h5();  // nothing was recorded: empty tables
    const H5TraceApi& api = m_h5_file.api();
    for (Table* t : {&m_iterations, &m_requests, &m_transfers}) {
      flush(*t);  // also sets the extent: a restarted run's rows end where it ended
      api.table_close(t->dataset);
      t->dataset = -1;
    }
    std::vector<const char*> names;
    for (const std::string& s : m_servers) names.push_back(s.c_str());
    api.names(m_h5_file.ids().file, "servers", names.data(), names.size());
    api.attrs(m_h5_file.ids().file, XPUSIM_VERSION, name.c_str(), config.c_str());
    m_h5_file.commit();
  }
  if (m_json) {
    make_output_dir(m_dir);
    write_json(m_dir + "/trace.json");
  }
}

void ServeTraceFiles::write_json(const std::string& path) const {
  auto rows = [](const Table& t) { return t.kept.size() / t.cols.size(); };
  auto at = [](const Table& t, std::size_t row, std::size_t col) { return t.kept[row * t.cols.size() + col]; };
  nlohmann::ordered_json other = {{"generator", "xpusim"}, {"version", XPUSIM_VERSION}, {"trace", "serve"},
                                  {"iterations", m_iterations.seen}, {"iterations_written", rows(m_iterations)},
                                  {"requests", m_requests.seen}, {"requests_written", rows(m_requests)},
                                  {"kv_transfers", m_transfers.seen}, {"kv_transfers_written", rows(m_transfers)},
                                  {"truncated", m_iterations.seen > rows(m_iterations) || m_requests.seen > rows(m_requests) ||
                                                    m_transfers.seen > rows(m_transfers)}};
  write_trace_events(path, [&](std::ostream& os, bool& first) {
    auto ev = [&](const std::string& e) {
      os << (first ? "" : ",\n") << e;
      first = false;
    };
    const char* procs[] = {"servers", "requests", "kv transfers"};
    for (int p = 0; p < 3; ++p) {
      ev(perfetto_meta(p + 1, -1, "process_name", "\"name\": " + json_str(procs[p])));
      ev(perfetto_meta(p + 1, -1, "process_sort_index", "\"sort_index\": " + std::to_string(p + 1)));
    }
    for (std::size_t k = 0; k < m_servers.size(); ++k) {
      ev(perfetto_meta(1, static_cast<std::int64_t>(k) + 1, "thread_name", "\"name\": " + json_str(m_servers[k])));
      ev(perfetto_meta(1, static_cast<std::int64_t>(k) + 1, "thread_sort_index", "\"sort_index\": " + std::to_string(k + 1)));
    }
    const Table& it = m_iterations;
    for (std::size_t i = 0; i < rows(it); ++i) {
      const auto server = static_cast<std::int64_t>(at(it, i, 0));
      const bool prefill = at(it, i, 3) > 0, decode = at(it, i, 5) + at(it, i, 6) > 0;
      std::string args;
      for (std::size_t c = 3; c < it.cols.size(); ++c) args += std::string(c > 3 ? ", " : "") + "\"" + it.cols[c] + "\": " + num(at(it, i, c));
      ev("{\"ph\": \"X\", \"cat\": \"iteration\", \"name\": \"" + std::string(prefill && decode ? "mixed" : prefill ? "prefill" : "decode") +
         "\", \"pid\": 1, \"tid\": " + std::to_string(server + 1) + ", \"ts\": " + us(at(it, i, 1)) + ", \"dur\": " + us(at(it, i, 2)) +
         ", \"args\": {" + args + "}}");
      ev("{\"ph\": \"C\", \"pid\": 1, \"name\": " + json_str("KV blocks used " + m_servers[static_cast<std::size_t>(server)]) +
         ", \"ts\": " + us(at(it, i, 1)) + ", \"args\": {\"blocks\": " + num(at(it, i, 8)) + "}}");
    }
    const Table& rq = m_requests;
    for (std::size_t i = 0; i < rows(rq); ++i) {
      const std::string id = "\"" + num(at(rq, i, 0)) + "/" + num(at(rq, i, 1)) + "\"";
      const std::string name = "request " + num(at(rq, i, 1)) + (m_servers.size() > 1 ? " (" + m_servers[static_cast<std::size_t>(at(rq, i, 0))] + ")" : "");
      auto async = [&](const char* ph, const std::string& n, double t, const std::string& args) {
        ev(std::string("{\"ph\": \"") + ph + "\", \"cat\": \"request\", \"id\": " + id + ", \"name\": " + json_str(n) + ", \"pid\": 2, \"tid\": 0, \"ts\": " +
           us(t) + (args.empty() ? "" : ", \"args\": {" + args + "}") + "}");
      };
      const double arrival = at(rq, i, 4), first_token = at(rq, i, 5), finish = at(rq, i, 6);
      async("b", name, arrival, "\"input_tokens\": " + num(at(rq, i, 2)) + ", \"output_tokens\": " + num(at(rq, i, 3)) + ", \"ttft_s\": " + num(at(rq, i, 7)));
      async("b", "ttft", arrival, "");
      async("e", "ttft", first_token, "");
      async("b", "decode", first_token, "");
      async("e", "decode", finish, "");
      async("e", name, finish, "");
    }
    const Table& tr = m_transfers;
    std::vector<std::int64_t> st, en;
    for (std::size_t i = 0; i < rows(tr); ++i) st.push_back(std::llround(at(tr, i, 5) * 1e12)), en.push_back(std::llround(at(tr, i, 6) * 1e12));
    std::int64_t lanes = 0;
    const std::vector<std::int64_t> lane = slice_lanes(st, en, lanes);  // transfers are kept in the order they started
    for (std::int64_t k = 0; k < lanes; ++k)
      ev(perfetto_meta(3, k + 1, "thread_name", "\"name\": " + json_str("kv transfers" + (k ? " [" + std::to_string(k) + "]" : std::string()))));
    for (std::size_t i = 0; i < rows(tr); ++i) {
      std::string args;
      for (std::size_t c = 0; c < 5; ++c) args += std::string(c ? ", " : "") + "\"" + tr.cols[c] + "\": " + num(at(tr, i, c));
      ev("{\"ph\": \"X\", \"cat\": \"kv_transfer\", \"name\": \"request " + num(at(tr, i, 0)) + "\", \"pid\": 3, \"tid\": " +
         std::to_string(lane[i] + 1) + ", \"ts\": " + us(at(tr, i, 5)) + ", \"dur\": " + us(at(tr, i, 6) - at(tr, i, 5)) + ", \"args\": {" + args + "}}");
    }
  }, other.dump());
}

std::unique_ptr<ServeTraceFiles> open_serve_trace(bool trace, const std::string& format, bool format_given, const std::string& dir,
                                                  std::size_t points) {
  check_trace_flags(trace, format, format_given, !dir.empty());
  if (!trace) return nullptr;
  if (points > 1)
    throw InputError("--trace: --concurrency gives " + std::to_string(points) +
                     " points; trace one point at a time (a single --concurrency value, --rate, or neither)");
  check_output_dir(dir);  // before the run: a folder that cannot be made is told at once
  return std::make_unique<ServeTraceFiles>(dir, format);
}

}  // namespace xpu
