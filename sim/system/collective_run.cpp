#include "sim/system/collective_run.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "kernels/collective/custom_allreduce.h"
#include "sim/base/csv.h"
#include "sim/base/limits.h"
#include "sim/interconnect/fabric.h"
#include "sim/system/system_trace.h"

namespace fs = std::filesystem;

namespace xpu {

std::uint64_t parse_message_bytes(const std::string& text) {
  std::string t = text;
  size_t i = 0;
  while (i < t.size() && (isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.')) ++i;
  if (i == 0) throw InputError("--bytes '" + text + "': expected a size such as 256MiB, 1GB or 4096", "--bytes", text);
  if (i < t.size() && t[i] != ' ') t.insert(i, " ");
  double b = 0;
  try {
    b = i == text.size() ? std::stod(text) : Bytes::parse(t).value();
  } catch (const std::exception&) {
    throw InputError("--bytes '" + text + "': expected a size such as 256MiB, 1GB or 4096", "--bytes", text);
  }
  if (b < 0 || b != std::floor(b)) throw InputError("--bytes '" + text + "': expected a whole number of bytes", "--bytes", text);
  return static_cast<std::uint64_t>(b);
}

namespace {
// Every vertex's operations of a collective alone: a chip's on its rank's communication track, a switch's on its own.
void trace_operations(SystemTrace& t, const Topology& topo, const CommProgram& prog, const FabricResult& fr, std::uint32_t label) {
  for (size_t v = 0; v < prog.ops.size(); ++v)
    for (size_t i = 0; i < prog.ops[v].size() && i < fr.op_start[v].size(); ++i) {
      const CommOp& op = prog.ops[v][i];
      if (op.kind == CommOp::Kind::Compute) continue;
      TraceRecord r;
      r.start_ps = fr.op_start[v][i];
      r.end_ps = fr.op_end[v][i];
      r.unit = t.unit(static_cast<int>(v) < topo.ranks() ? "rank" + std::to_string(v) + ".comm" : topo.vertices()[v].name);
      r.kind = op.kind == CommOp::Kind::Send ? SystemTrace::kSend : op.kind == CommOp::Kind::Recv ? SystemTrace::kRecv : SystemTrace::kReduce;
      r.kernel = label;
      r.bytes = op.kind == CommOp::Kind::Send ? op.bytes * op.peers.size() : op.bytes;
      r.task = static_cast<std::uint32_t>(i);
      t.add(r);
    }
}
}  // namespace

CollectiveReport run_collective(const SystemSpec& spec, const CollectiveRequest& req, SystemTrace* trace) {
  if (req.bytes == 0) throw InputError("--bytes 0: a collective needs a positive message size", "--bytes", "");
  if (req.rows != 0 && (req.rows < 0 || req.stack.empty()))
    throw InputError("--rows " + std::to_string(req.rows) + ": expected a positive token count that a stack's rule picks "
                     "its kernel by, with --stack (e.g. --stack trtllm --rows 64)", "--rows", std::to_string(req.rows));
  CollectiveRequest r = req;
  // A serving stack's own all-reduce kernel where it takes the call (as serve's runtime gives it one, with
  // that kernel's fixed costs), else the collective library's choice.
  const Topology system(spec);
  // One chip has no peer (a --set scale_up.chips=1 had been told the preset's library.algorithms lacked an algorithm).
  if (system.ranks() < 2)
    throw InputError::in_file(name(req.kind) + " on system " + spec.name + " (" + spec.file + "): a collective needs at least 2 chips; it has " +
                                  std::to_string(system.ranks()) + " (scale_up.chips " + std::to_string(spec.chips) +
                                  " x nodes " + std::to_string(spec.nodes) + ")",
                              spec.file, "scale_up.chips");
  const std::optional<SystemSpec> kernel_spec = coll::custom_allreduce_route(spec, system, r);
  const std::optional<Topology> kernel = kernel_spec ? std::optional<Topology>(*kernel_spec) : std::nullopt;
  const Topology& topo = kernel ? *kernel : system;
  CollectiveChoice choice;
  if (!kernel_spec) {
    resolve_expert_all_to_all(spec, r);  // an expert exchange with forwarded bytes: as a model's runtime runs it
    choice = choose_collective(topo, r);
    r.algorithm = choice.algorithm;
    r.protocol = choice.protocol;
  }
  CommProgram prog = lower_collective(topo, r);
  std::unique_ptr<TraceObserver> links;
  const std::string call = name(req.kind) + " (" + r.algorithm + "/" + (r.stack.empty() ? r.protocol : r.stack) + ")";
  if (trace) {
    prog.record_times = true;
    trace->unit("steps");
    for (int v = 0; v < topo.ranks(); ++v) trace->unit("rank" + std::to_string(v) + ".comm");
    links = trace->links(topo, {}, call);
    trace->set_step(call);
  }
  FabricResult fr = simulate_collective(topo, prog, links.get());
  if (trace) {
    trace_operations(*trace, topo, prog, fr, trace->label(call));
    trace->end_run(fr.end);
  }
  CollectiveReport rep;
  rep.system = spec.name;
  rep.chip = spec.chip;
  rep.collective = name(req.kind);
  rep.algorithm = r.algorithm;
  rep.protocol = r.protocol;
  rep.stack = r.stack;
  if (r.algorithm == "hierarchical") rep.internode = prog.internode;
  rep.ranks = topo.ranks();
  rep.nodes = spec.nodes;
  rep.slices = prog.slices;
  rep.bytes = req.bytes;
  rep.forwarded_bytes = r.forwarded_bytes;
  rep.latency_s = to_seconds(fr.end);
  rep.algbw_GBps = rep.latency_s > 0 ? static_cast<double>(req.bytes) / rep.latency_s / 1e9 : 0;
  rep.busbw_GBps = rep.algbw_GBps * busbw_factor(req.kind, rep.ranks);
  rep.estimate_s = choice.estimate_s;
  rep.considered = choice.considered;
  rep.ops = prog.op_count();
  rep.pieces = fr.pieces;
  rep.resolved_yaml = spec.resolved_yaml;
  rep.stats = fr.stats;
  std::map<std::string, CollectiveReport::ClassUse> cls;
  for (size_t l = 0; l < topo.links().size(); ++l) {
    double u = fr.end > 0 ? static_cast<double>(fr.link_busy[l]) / static_cast<double>(fr.end) : 0;
    auto& c = cls[topo.links()[l].cls];
    c.cls = topo.links()[l].cls;
    c.links++;
    c.mean += u;
    c.max = std::max(c.max, u);
    c.bytes += fr.link_bytes[l];
    if (fr.link_bytes[l] > 0) rep.link_utilization.push_back({topo.link_name(static_cast<int>(l)), u});
  }
  for (auto& [k, c] : cls) {
    c.mean /= c.links;
    rep.utilization.push_back(c);
  }
  return rep;
}

nlohmann::json CollectiveReport::json() const {
  nlohmann::json j = {{"system", system},         {"chip", chip},           {"collective", collective},
                      {"algorithm", algorithm},   {"protocol", protocol},   {"ranks", ranks},
                      {"nodes", nodes},           {"bytes", bytes},         {"latency_s", latency_s},
                      {"algbw_GBps", algbw_GBps}, {"busbw_GBps", busbw_GBps}, {"estimate_s", estimate_s},
                      {"slices", slices},         {"operations", ops},      {"link_transfers", pieces}};
  if (!internode.empty()) j["internode_algorithm"] = internode;
  if (!stack.empty()) j["stack"] = stack;
  for (const auto& [a, s] : considered) j["considered"][a] = s;
  for (const auto& c : utilization)
    j["utilization"][c.cls] = {{"links", c.links}, {"mean", c.mean}, {"max", c.max}, {"wire_bytes", c.bytes}};
  for (const auto& [l, u] : link_utilization) j["link_utilization"][l] = u;
  if (!expert.empty()) {
    const auto per_s = [&](double b) { return latency_s > 0 ? b / latency_s / 1e9 : 0.0; };
    j["expert"] = {{"kernels", expert},
                   {"dispatch", dispatch},
                   {"fabric", fabric},
                   {"tokens", expert_tokens},
                   {"receive_tokens", receive_tokens},
                   {"token_bytes", token_bytes},
                   {"forwarded_bytes", forwarded_bytes},
                   {"scale_up_GBps", per_s(static_cast<double>(bytes))},
                   {"scale_out_GBps", per_s(static_cast<double>(forwarded_bytes))}};
  }
  return j;
}

std::string CollectiveReport::table() const {
  std::ostringstream os;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s %s on %s (%d x %s, %d node%s)\n", collective.c_str(), format_bytes(bytes).c_str(),
                system.c_str(), ranks, chip.c_str(), nodes, nodes > 1 ? "s" : "");
  os << buf;
  std::string inter = internode.empty() ? "" : ", inter-node " + internode;
  if (!stack.empty()) inter += ", " + stack + "'s own kernel";
  std::snprintf(buf, sizeof buf, "  %-22s%s / %s (%d pipeline slice%s%s)\n", "algorithm", algorithm.c_str(),
                protocol.c_str(), slices, slices > 1 ? "s" : "", inter.c_str());
  os << buf;
  std::snprintf(buf, sizeof buf, "  %-22s%s (simulated)\n", "latency", format_seconds(latency_s).c_str());
  os << buf;
  std::snprintf(buf, sizeof buf, "  %-22s%.2f GB/s\n  %-22s%.2f GB/s\n", "algbw", algbw_GBps, "busbw", busbw_GBps);
  os << buf;
  for (const auto& c : utilization) {
    std::snprintf(buf, sizeof buf, "  %-22s%d links, mean %.1f%%, max %.1f%% busy\n", ("links " + c.cls).c_str(), c.links,
                  100 * c.mean, 100 * c.max);
    os << buf;
  }
  if (!expert.empty()) {
    std::snprintf(buf, sizeof buf, "  %-22s%s: %lld tokens per rank sent, %lld received, %lld B each\n", "expert exchange",
                  expert.c_str(), static_cast<long long>(expert_tokens), static_cast<long long>(receive_tokens),
                  static_cast<long long>(token_bytes));
    os << buf;
    const double t = latency_s > 0 ? latency_s : 1;
    std::snprintf(buf, sizeof buf, "  %-22s%.1f GB/s %s (received)", "exchange bandwidth",
                  static_cast<double>(bytes) / t / 1e9, fabric.c_str());
    os << buf;
    if (forwarded_bytes > 0) {
      std::snprintf(buf, sizeof buf, ", %.1f GB/s %s (%s across nodes)", static_cast<double>(forwarded_bytes) / t / 1e9,
                    scale_out.c_str(), format_bytes(forwarded_bytes).c_str());
      os << buf;
    }
    os << "\n";
  }
  if (!considered.empty()) {
    os << "  considered (estimate) ";
    for (const auto& [a, s] : considered) os << a << " " << format_seconds(s) << "  ";
    os << "\n";
  }
  return os.str();
}

std::string default_collectives_csv() { return std::string(source_dir()) + "/workloads/validation/collectives.csv"; }

std::vector<CollectiveRow> read_collective_rows(const std::string& csv) {
  // Read as every input file is (a folder, device or missing path is named as such: an ifstream opened a folder and
  // reported its "missing column").
  const CsvTable t(read_input_file(csv, "collective measurements", kMaxInputFileBytes), csv);
  t.require({"id", "system", "n_chips", "collective", "algorithm", "message_bytes", "time_us", "busbw_GBps", "source"});
  std::vector<CollectiveRow> rows;
  for (size_t i = 0; i < t.size(); ++i) {
    CollectiveRow r;
    r.id = t.text(i, "id");
    r.system = t.text(i, "system");
    r.collective = t.text(i, "collective");
    r.algorithm = t.text(i, "algorithm");
    r.source = t.text(i, "source");
    r.n_chips = static_cast<int>(std::min(t.number(i, "n_chips", CsvNumber::kPositiveInteger), 1e9));
    r.bytes = static_cast<std::uint64_t>(t.number(i, "message_bytes", CsvNumber::kPositiveInteger));
    // A figure the source does not give is empty (0).
    r.time_us = t.number(i, "time_us", CsvNumber::kNonNegative, true);
    r.busbw_GBps = t.number(i, "busbw_GBps", CsvNumber::kNonNegative, true);
    if (t.has("stack")) r.stack = t.text(i, "stack");
    rows.push_back(r);
  }
  return rows;
}

std::vector<CollectivePoint> validate_collectives(const std::vector<CollectiveRow>& rows,
                                                  std::vector<CollectiveSkip>* skipped) {
  std::vector<CollectivePoint> out;
  // Neuron's ranks are NeuronCores (2 per Trainium1 chip, 32 per trn1.32xlarge). nccom-test prints no
  // placement; rank r is taken to be NeuronCore r, numbered chip by chip as the runtime numbers them,
  // so 2 ranks are the two cores of one chip and 32 ranks per instance are all of its cores.
  const int kTrn1CoresPerInstance = 32;
  for (const auto& row : rows) {
    CollectivePoint p;
    p.row = row;
    std::vector<std::string> sets;
    std::string why;
    // Rows whose ranks are chips (or NeuronCores) of a system with a preset.
    // A stack's kernel on n GPUs of one NVLink domain.
    if (!row.stack.empty() && row.system.rfind("H100 SXM x", 0) == 0 && row.n_chips >= 2 && row.n_chips <= 8)
      p.preset = "hgx-h100x8", sets = {"scale_up.chips=" + std::to_string(row.n_chips)};
    else if (!row.stack.empty() && row.system.rfind("GB200 x", 0) == 0 && row.n_chips >= 2 && row.n_chips <= 72)
      p.preset = "gb200-nvl72", sets = {"scale_up.chips=" + std::to_string(row.n_chips)};
    else if (row.system.find("Azure ND H100") != std::string::npos) p.preset = "hgx-h100x8";
    else if (row.system.find("Azure ND H200") != std::string::npos) p.preset = "hgx-h200x8";
    else if (row.system.find("AWS p5") != std::string::npos) p.preset = "p5-h100x8", p.nodes = row.n_chips / 8;
    else if (row.system.find("TPU v5e") != std::string::npos && row.time_us > 0 && row.n_chips == 4)
      p.preset = "tpu-v5e-8", sets = {"scale_up.chips=4", "scale_up.dims=4", "scale_up.wraparound=false"};
    else if (row.system.find("TPU v5e") != std::string::npos)
      why = "no time is published and its bandwidth is the scaling book's figure against one link's unidirectional "
            "45 GB/s, not nccl busbw (notes column), so neither converts to a time";
    else if (row.system.find("TPU v5p-8") != std::string::npos && row.n_chips == 4)
      p.preset = "tpu-v5p-8";  // one JAX device per chip (megacore): 4 devices on a 2x2x1 slice
    else if (row.system.find("TPU v6e-8") != std::string::npos && row.n_chips == 8)
      p.preset = "tpu-v6e-8";  // 8 chips on a 2x4 slice
    else if (row.system.find("TPU7x") != std::string::npos && row.n_chips == 4)
      // The Ironwood guide's all-gathers run over a 2x2 plane of chips (no wraparound below a full
      // 4x4x4 cube); the two TensorCores' groups of one chip share its ICI ports, so the row is one
      // chip-level gather of both groups' shards (notes column).
      p.preset = "tpu-v7-64",
      sets = {"scale_up.chips=4", "scale_up.dims=2, 2, 1", "scale_up.wraparound=false, false, false"};
    else if (row.system.find("Trainium") != std::string::npos && row.n_chips == 2)  // the cores of one chip
      p.preset = "trn1-32xl-cores",
      sets = {"scale_up.chips=2", "scale_up.dims=2, 1, 1", "scale_up.wraparound=false, false, false"};
    else if (row.system.find("Trainium") != std::string::npos && row.n_chips % kTrn1CoresPerInstance == 0)
      p.preset = "trn1-32xl-cores", p.nodes = row.n_chips / kTrn1CoresPerInstance;
    else
      why = "no system preset for '" + row.system + "' with " + std::to_string(row.n_chips) + " ranks";
    if (!why.empty()) {
      if (skipped) skipped->push_back({row.id, why});
      continue;
    }
    CollectiveRequest req;
    // A collective permute (jax.lax.ppermute) that shifts every device's buffer to the next device of
    // a ring is the library's send/recv: each rank sends its whole buffer to its ring successor.
    req.kind = row.collective == "all_reduce"           ? CollKind::AllReduce
               : row.collective == "collective_permute" ? CollKind::SendRecv
                                                        : CollKind::AllGather;
    req.bytes = row.bytes;
    // A row that names its algorithm (NCCL_ALGO forced) runs that algorithm; others let the library choose.
    req.algorithm = row.algorithm.rfind("NVLS", 0) == 0 ? "nvls" : "auto";
    // A stack's kernel timed by its own benchmark, which forces the kernel it names (one-shot or two-shot).
    req.stack = row.stack;
    if (!row.stack.empty()) req.algorithm = row.algorithm;
    p.algo = req.algorithm;
    SystemSpec spec = load_system(p.preset, sets, p.nodes);
    CollectiveReport rep = run_collective(spec, req);
    p.algo = rep.algorithm + "/" + (rep.stack.empty() ? rep.protocol : rep.stack);
    p.predicted_busbw = rep.busbw_GBps;
    p.predicted_time_us = rep.latency_s * 1e6;
    double f = busbw_factor(req.kind, row.n_chips);
    p.measured_time_us = row.time_us > 0 ? row.time_us
                                          : (row.busbw_GBps > 0 ? row.bytes * f / (row.busbw_GBps * 1e9) * 1e6 : 0);
    if (row.busbw_GBps > 0) p.busbw_error = p.predicted_busbw / row.busbw_GBps - 1;
    if (p.measured_time_us > 0) p.time_error = p.predicted_time_us / p.measured_time_us - 1;
    out.push_back(p);
  }
  return out;
}

}  // namespace xpu
