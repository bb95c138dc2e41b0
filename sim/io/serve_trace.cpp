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

ServeTraceFiles::ServeTraceFiles(std::string dir, std::string format, StagedFiles& staged)
    : m_dir(std::move(dir)), m_h5(format != "perfetto"), m_json(format != "hdf5"),
      m_iterations{"iterations",
                   {"server", "start_s", "time_s", "prefill_tokens", "prefill_chunks", "decode_requests", "verify_requests", "verify_tokens",
                    "kv_blocks_used", "kv_blocks_total", "running", "waiting", "clock"}},
      m_requests{"requests", {"server", "request", "input_tokens", "output_tokens", "arrival_s", "first_token_s", "finish_s", "ttft_s"}},
      m_transfers{"kv_transfers", {"request", "prefill", "decode", "tokens", "bytes", "start_s", "end_s"}},
      m_h5_file(m_h5 ? staged.stage(m_dir + "/trace.h5") : ""), m_json_file(m_json ? staged.stage(m_dir + "/trace.json") : "") {}

ServeTraceFiles::~ServeTraceFiles() {
  if (!m_h5_file.is_open()) return;
  for (Table* t : {&m_iterations, &m_requests, &m_transfers})
    if (t->dataset >= 0) m_h5_file.api().table_close(t->dataset);
}

void ServeTraceFiles::restart() {
  for (Table* t : {&m_iterations, &m_requests, &m_transfers}) t->chunk.clear(), t->written = t->seen = t->json = 0;
  if (m_json_file.is_open()) open_json();  // the file starts over
}

int ServeTraceFiles::server(const std::string& name) {
  auto [it, added] = m_server_ids.emplace(name, static_cast<int>(m_servers.size()));
  if (added) m_servers.push_back(name);
  if (added && m_json_file.is_open()) server_meta(m_servers.size() - 1);
  return it->second;
}

void ServeTraceFiles::open_h5() {
  m_h5_file.open([](const H5TraceApi& api, const char* tmp, H5TraceIds* ids) { return api.create_file(tmp, ids) != 0 ? 1 : 0; }, "");
  for (Table* t : {&m_iterations, &m_requests, &m_transfers}) {
    t->dataset = m_h5_file.api().table(m_h5_file.ids().file, t->name, t->cols.data(), t->cols.size(), kChunk);
    if (t->dataset < 0) throw InputError::in_file(m_h5_file.path() + ": cannot create the " + t->name + " dataset", m_h5_file.path(), "");
  }
}

void ServeTraceFiles::flush(Table& t) {
  const std::uint64_t n = t.chunk.size() / t.cols.size();
  if (m_h5_file.api().table_append(t.dataset, t.written, t.chunk.data(), n) != 0)
    throw InputError::in_file(m_h5_file.path() + ": trace write failed (disk full?)", m_h5_file.path(), "");
  t.written += n;
  t.chunk.clear();
}

bool ServeTraceFiles::add(Table& t, const std::vector<double>& row, std::size_t json_cap) {
  ++t.seen;
  if (m_h5) {
    if (!m_h5_file.is_open()) open_h5();
    t.chunk.insert(t.chunk.end(), row.begin(), row.end());
    if (t.chunk.size() == kChunk * t.cols.size()) flush(t);
  }
  if (!m_json || t.json >= json_cap) return false;
  if (!m_json_file.is_open()) open_json();
  ++t.json;
  return true;
}

void ServeTraceFiles::open_json() {
  make_output_dir(m_dir);
  m_json_file.open();
  m_lanes = SliceLanes();
  const char* procs[] = {"servers", "requests", "kv transfers"};
  for (int p = 0; p < 3; ++p) {
    m_json_file.event(perfetto_meta(p + 1, -1, "process_name", "\"name\": " + json_str(procs[p])));
    m_json_file.event(perfetto_meta(p + 1, -1, "process_sort_index", "\"sort_index\": " + std::to_string(p + 1)));
  }
  for (std::size_t k = 0; k < m_servers.size(); ++k) server_meta(k);
}

void ServeTraceFiles::server_meta(std::size_t k) {
  m_json_file.event(perfetto_meta(1, static_cast<std::int64_t>(k) + 1, "thread_name", "\"name\": " + json_str(m_servers[k])));
  m_json_file.event(perfetto_meta(1, static_cast<std::int64_t>(k) + 1, "thread_sort_index", "\"sort_index\": " + std::to_string(k + 1)));
}

void ServeTraceFiles::on_iteration(int server, const IterationRecord& it) {
  const StepShape& s = it.shape;
  const std::vector<double> r = {double(server), it.start_s, it.time_s, double(s.prefill_tokens), double(s.prefill_chunks), double(s.decode_seqs),
                                 double(s.verify_seqs), double(s.verify_tokens), double(it.kv_used), double(it.kv_total), double(it.running),
                                 double(it.waiting), it.clock};
  if (!add(m_iterations, r, kJsonIterations)) return;
  const bool prefill = r[3] > 0, decode = r[5] + r[6] > 0;
  const std::vector<const char*>& cols = m_iterations.cols;
  std::string args;
  for (std::size_t c = 3; c < cols.size(); ++c) args += std::string(c > 3 ? ", " : "") + "\"" + cols[c] + "\": " + num(r[c]);
  m_json_file.event("{\"ph\": \"X\", \"cat\": \"iteration\", \"name\": \"" + std::string(prefill && decode ? "mixed" : prefill ? "prefill" : "decode") +
                    "\", \"pid\": 1, \"tid\": " + std::to_string(server + 1) + ", \"ts\": " + us(r[1]) + ", \"dur\": " + us(r[2]) +
                    ", \"args\": {" + args + "}}");
  m_json_file.event("{\"ph\": \"C\", \"pid\": 1, \"name\": " + json_str("KV blocks used " + m_servers[static_cast<std::size_t>(server)]) +
                    ", \"ts\": " + us(r[1]) + ", \"args\": {\"blocks\": " + num(r[8]) + "}}");
}

void ServeTraceFiles::on_request(int server, const RequestRecord& rr) {
  const std::vector<double> r = {double(server), double(rr.request), double(rr.input), double(rr.output), rr.arrival_s, rr.first_token_s,
                                 rr.finish_s, rr.first_token_s - rr.arrival_s};
  if (!add(m_requests, r, kJsonRequests)) return;
  // Its server in the args, not the name: the servers are not all known yet when the first requests finish.
  const std::string id = "\"" + num(r[0]) + "/" + num(r[1]) + "\"", name = "request " + num(r[1]);
  auto async = [&](const char* ph, const std::string& n, double t, const std::string& args) {
    m_json_file.event(std::string("{\"ph\": \"") + ph + "\", \"cat\": \"request\", \"id\": " + id + ", \"name\": " + json_str(n) +
                      ", \"pid\": 2, \"tid\": 0, \"ts\": " + us(t) + (args.empty() ? "" : ", \"args\": {" + args + "}") + "}");
  };
  const double arrival = r[4], first_token = r[5], finish = r[6];
  async("b", name, arrival, "\"server\": " + json_str(m_servers[static_cast<std::size_t>(server)]) + ", \"input_tokens\": " + num(r[2]) +
                                ", \"output_tokens\": " + num(r[3]) + ", \"ttft_s\": " + num(r[7]));
  async("b", "ttft", arrival, "");
  async("e", "ttft", first_token, "");
  async("b", "decode", first_token, "");
  async("e", "decode", finish, "");
  async("e", name, finish, "");
}

void ServeTraceFiles::on_transfer(const TransferRecord& t) {
  const std::vector<double> r = {double(t.request), double(t.prefill), double(t.decode), double(t.tokens), t.bytes, t.start_s, t.end_s};
  if (!add(m_transfers, r, kJsonIterations)) return;
  const std::int64_t opened = m_lanes.count();  // transfers come in the order they started
  const std::int64_t lane = m_lanes.next(std::llround(r[5] * 1e12), std::llround(r[6] * 1e12));
  if (m_lanes.count() > opened)
    m_json_file.event(perfetto_meta(3, lane + 1, "thread_name", "\"name\": " + json_str("kv transfers" + (lane ? " [" + std::to_string(lane) + "]" : std::string()))));
  const std::vector<const char*>& cols = m_transfers.cols;
  std::string args;
  for (std::size_t c = 0; c < 5; ++c) args += std::string(c ? ", " : "") + "\"" + cols[c] + "\": " + num(r[c]);
  m_json_file.event("{\"ph\": \"X\", \"cat\": \"kv_transfer\", \"name\": \"request " + num(r[0]) + "\", \"pid\": 3, \"tid\": " +
                    std::to_string(lane + 1) + ", \"ts\": " + us(r[5]) + ", \"dur\": " + us(r[6] - r[5]) + ", \"args\": {" + args + "}}");
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
    if (!m_json_file.is_open()) open_json();  // nothing was recorded: the names alone
    const nlohmann::ordered_json other = {{"generator", "xpusim"}, {"version", XPUSIM_VERSION}, {"trace", "serve"},
                                          {"iterations", m_iterations.seen}, {"iterations_written", m_iterations.json},
                                          {"requests", m_requests.seen}, {"requests_written", m_requests.json},
                                          {"kv_transfers", m_transfers.seen}, {"kv_transfers_written", m_transfers.json},
                                          {"truncated", m_iterations.seen > m_iterations.json || m_requests.seen > m_requests.json ||
                                                            m_transfers.seen > m_transfers.json}};
    m_json_file.finish(other.dump());
  }
}

std::unique_ptr<ServeTraceFiles> open_serve_trace(bool trace, const std::string& format, bool format_given, const std::string& dir,
                                                  std::size_t points, StagedFiles& staged) {
  check_trace_flags(trace, format, format_given, !dir.empty());
  if (!trace) return nullptr;
  if (points > 1)
    throw InputError("--trace: --concurrency gives " + std::to_string(points) +
                     " points; trace one point at a time (a single --concurrency value, --rate, or neither)", "--trace", "");
  check_output_dir(dir);  // before the run: a folder that cannot be made is told at once
  return std::make_unique<ServeTraceFiles>(dir, format, staged);
}

}  // namespace xpu
