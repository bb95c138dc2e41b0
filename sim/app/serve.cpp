#include "sim/app/serve.h"

#include <boost/program_options.hpp>

#include "sim/app/cli_parse.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "sim/base/process.h"
#include "sim/base/flags.h"
#include "sim/io/output.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace xpu {

namespace {
// One operating point: prefill in chunks of whole requests, then `output` decode steps at batch B.
bool simulate_point(const ChipModel& chip, const ModelConfig& model, const Scenario& base, const ServeOptions& opt,
                    std::int64_t batch, ServePoint& pt, std::vector<std::pair<std::string, double>>* kernels) {
  Scenario s = base;
  s.batch = batch;
  s.input_len = opt.input;
  s.output_len = opt.output;
  Footprint f = footprint(model, s);
  if (f.total() > chip.dram_capacity()) return false;
  std::int64_t per_chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(batch, opt.prefill_chunk / std::max<std::int64_t>(1, opt.input)));
  std::int64_t chunks = (batch + per_chunk - 1) / per_chunk;
  ModelRunOptions mo;
  mo.max_decode_samples = 2;
  mo.sustained = true;
  Scenario pre = s;
  pre.phase = Phase::Prefill;
  pre.batch = per_chunk;
  Scenario dec = s;
  dec.phase = Phase::Decode;
  // Prefill and decode alternate on a serving chip, so the power manager sees their mix: settle the
  // clock for the whole request cycle, not per phase.
  ModelRunResult rp, rd;
  PowerResult pw = settle_power(chip, true, [&](const ChipModel& c) {
    ModelRunOptions nominal = mo;
    nominal.sustained = false;
    rp = run_model(c, model, pre, nominal);
    rd = run_model(c, model, dec, nominal);
    EnergyEvents e = rp.events.scaled(static_cast<double>(chunks));
    e += rd.events;
    return e;
  });
  double t_prefill = rp.ttft_s * chunks;
  double t_decode = rd.tpot_s * opt.output;
  pt.batch = batch;
  pt.ttft_s = rp.ttft_s;
  pt.tpot_s = rd.tpot_s;
  pt.throughput_tok_s = batch * opt.output / (t_prefill + t_decode);
  pt.clock_ratio = pw.clock_ratio;
  pt.throttled = pw.throttled;
  if (pw.modeled) {
    pt.avg_power_w = pw.avg_power_w;
    // Peak: the most power-hungry kernel of either phase at the settled clock.
    for (const ModelRunResult* run : {&rp, &rd})
      for (const auto& st : run->steps)
        for (const auto& n : st.nodes)
          if (!n.fused && n.events.time_s > 0)
            pt.peak_power_w = std::max(pt.peak_power_w, power_at(chip, n.events, pw.clock_ratio).avg_power_w);
    double tokens = static_cast<double>(batch * opt.output);
    pt.joules_per_token = pw.energy_j / tokens;
    EnergyBreakdown b = pw.breakdown;
    pt.energy_per_token = {b.compute_j / tokens, b.vector_j / tokens, b.onchip_j / tokens,
                           b.dram_j / tokens,    b.active_j / tokens, b.static_j / tokens};
  }
  pt.meets_slo = (opt.ttft_slo_s <= 0 || pt.ttft_s <= opt.ttft_slo_s) && (opt.tpot_slo_s <= 0 || pt.tpot_s <= opt.tpot_slo_s);
  if (kernels) {
    kernels->clear();
    const StepResult& st = rd.steps.back();
    for (const auto& n : st.nodes)
      if (!n.fused) kernels->push_back({n.label, n.time_s * n.count});
  }
  return true;
}
}  // namespace

ServeResult serve(const ChipModel& chip, const ModelConfig& model, const Scenario& base, const ServeOptions& opt) {
  ServeResult r;
  r.chip = chip.name();
  r.family = chip.family();
  r.model = model.name;
  r.precision = std::string(name(base.wdtype)) + (base.adtype != base.wdtype ? std::string("/") + name(base.adtype) : "");
  r.power_modeled = chip.power() != nullptr;
  r.tdp_w = chip.power() ? chip.power()->tdp.value() : 0;
  Scenario check = base;
  check.batch = 1;
  check.input_len = opt.input;
  check.output_len = opt.output;
  check.phase = Phase::Request;
  check.validate(model);
  if (opt.ttft_slo_s < 0 || opt.tpot_slo_s < 0) throw InputError("--ttft-slo/--tpot-slo: expected positive times");
  for (std::int64_t b = 1; b <= opt.max_batch; b *= 2) {
    ServePoint pt;
    if (opt.progress) std::cerr << "  " << chip.name() << ": batch " << b << "...\n";
    if (!simulate_point(chip, model, base, opt, b, pt, nullptr)) break;
    r.curve.push_back(pt);
    // Past the TPOT target, larger batches only get slower per token.
    if (opt.tpot_slo_s > 0 && pt.tpot_s > opt.tpot_slo_s) break;
  }
  if (r.curve.empty()) {
    Scenario s = check;
    check_fits(footprint(model, s), chip.dram_capacity(), model, s, chip.name());
  }
  for (size_t i = 0; i < r.curve.size(); ++i)
    if (r.curve[i].meets_slo && (r.best < 0 || r.curve[i].throughput_tok_s > r.curve[static_cast<size_t>(r.best)].throughput_tok_s))
      r.best = static_cast<int>(i);
  if (r.best < 0) {
    r.note = "no batch meets the latency targets";
  } else {
    ServePoint again;
    simulate_point(chip, model, base, opt, r.curve[static_cast<size_t>(r.best)].batch, again, &r.kernels);
    const ServePoint& b = r.curve[static_cast<size_t>(r.best)];
    r.cost = cost_figures(chip.cost(), b.throughput_tok_s, b.avg_power_w);
    if (r.cost.usd_per_hour <= 0) r.note = "no published price: supply one with --set " + chip.name() + ":cost.chip_hour=USD";
  }
  return r;
}

nlohmann::json serve_json(const ServeResult& r) {
  nlohmann::json j;
  j["chip"] = r.chip;
  j["family"] = r.family;
  j["model"] = r.model;
  j["precision"] = r.precision;
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& p : r.curve)
    curve.push_back({{"batch", p.batch}, {"throughput_tok_s", p.throughput_tok_s}, {"ttft_s", p.ttft_s}, {"tpot_s", p.tpot_s},
                     {"avg_power_w", p.avg_power_w}, {"meets_slo", p.meets_slo}});
  j["curve"] = curve;
  j["note"] = r.note;
  if (r.best < 0) {
    j["batch"] = nullptr;
    return j;
  }
  const ServePoint& b = r.curve[static_cast<size_t>(r.best)];
  j["batch"] = b.batch;
  j["throughput_tok_s"] = b.throughput_tok_s;
  j["ttft_s"] = b.ttft_s;
  j["tpot_s"] = b.tpot_s;
  j["meets_slo"] = b.meets_slo;
  j["tdp_w"] = r.tdp_w;
  j["clock_ratio"] = b.clock_ratio;
  j["throttled"] = b.throttled;
  if (r.power_modeled) {
    j["avg_power_w"] = b.avg_power_w;
    j["peak_power_w"] = b.peak_power_w;
    j["joules_per_token"] = b.joules_per_token;
    j["perf_per_watt"] = b.avg_power_w > 0 ? b.throughput_tok_s / b.avg_power_w : 0;
    const EnergyBreakdown& e = b.energy_per_token;
    j["energy"] = {{"compute_j", e.compute_j}, {"vector_j", e.vector_j}, {"onchip_j", e.onchip_j},
                   {"dram_j", e.dram_j},       {"active_j", e.active_j}, {"static_j", e.static_j}};
  } else {
    j["avg_power_w"] = nullptr;
    j["joules_per_token"] = nullptr;
  }
  bool priced = r.cost.usd_per_hour > 0;
  j["usd_per_hour"] = priced ? nlohmann::json(r.cost.usd_per_hour) : nlohmann::json(nullptr);
  j["usd_per_mtok"] = priced ? nlohmann::json(r.cost.usd_per_mtok) : nlohmann::json(nullptr);
  j["tok_s_per_usd_hour"] = priced ? nlohmann::json(r.cost.tok_per_s_per_usd_hour) : nlohmann::json(nullptr);
  j["price_basis"] = priced ? r.cost.basis : "none";
  j["price_assumed"] = r.cost.assumed;
  nlohmann::json ks = nlohmann::json::array();
  double total = 0;
  for (const auto& [l, t] : r.kernels) total += t;
  for (const auto& [l, t] : r.kernels) ks.push_back({{"label", l}, {"time_s", t}, {"share", total > 0 ? t / total : 0}});
  j["kernels"] = ks;
  return j;
}

namespace {
Scenario scenario_from(const po::variables_map& vm) {
  Scenario s;
  DType d = parse_dtype(vm["dtype"].as<std::string>());
  s.wdtype = d;
  s.adtype = d == DType::fp4 ? DType::fp8 : d;
  s.kvdtype = s.adtype;
  return s;
}

po::options_description serve_options() {
  po::options_description o("serve");
  o.add_options()("model", po::value<std::string>()->default_value("llama-3.1-8b"), "model name or config.json")(
      "input", po::value<std::int64_t>()->default_value(1024), "prompt tokens per request")(
      "output", po::value<std::int64_t>()->default_value(256), "generated tokens per request")(
      "dtype", po::value<std::string>()->default_value("fp8"), "weights and activations (fp4 = fp4 weights, fp8 activations)")(
      "ttft-slo", po::value<std::string>(), "time-to-first-token target, e.g. 2s or 500ms")(
      "tpot-slo", po::value<std::string>(), "time-per-output-token target, e.g. 50ms")(
      "max-batch", po::value<std::int64_t>()->default_value(512), "largest batch to try")(
      "format", po::value<std::string>()->default_value("table"), "table or json")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a preset field (repeatable)")("help,h", "this help");
  return o;
}

ServeOptions serve_opts(const po::variables_map& vm) {
  ServeOptions so;
  so.input = vm["input"].as<std::int64_t>();
  so.output = vm["output"].as<std::int64_t>();
  so.max_batch = vm["max-batch"].as<std::int64_t>();
  if (vm.count("ttft-slo")) so.ttft_slo_s = parse_flag_time("--ttft-slo", vm["ttft-slo"].as<std::string>());
  if (vm.count("tpot-slo")) so.tpot_slo_s = parse_flag_time("--tpot-slo", vm["tpot-slo"].as<std::string>());
  if (so.max_batch <= 0 || so.max_batch > 65536) throw InputError("--max-batch " + std::to_string(so.max_batch) + ": expected 1 to 65536");
  check_flag_choice("--format", vm["format"].as<std::string>(), {"table", "json"});
  return so;
}
}  // namespace

int cmd_serve(int argc, char** argv) {
  po::options_description o = serve_options();
  o.add_options()("chip", po::value<std::string>()->default_value("h100-sxm"), "chip preset");
  po::variables_map vm;
  po::store(parse_cli(argc, argv, o), vm);
  if (vm.count("help")) {
    std::cout << "usage: xpusim serve --chip C --model M --input I --output O --dtype D [--ttft-slo T] [--tpot-slo T]\n\n"
                 "Finds the batch with the highest throughput that fits memory and meets the targets (the\n"
                 "largest throughput when no targets are given) and reports throughput, TTFT, TPOT, power,\n"
                 "energy per token and cost per million tokens.\n\n"
              << o << "\n";
    return 0;
  }
  std::vector<std::string> sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto chip = load_chip(vm["chip"].as<std::string>(), sets);
  ModelConfig model = load_model(vm["model"].as<std::string>());
  ServeResult r = serve(*chip, model, scenario_from(vm), serve_opts(vm));
  nlohmann::json j = serve_json(r);
  if (vm["format"].as<std::string>() == "json") {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << r.model << " on " << r.chip << " (" << r.precision << "), input " << vm["input"].as<std::int64_t>()
            << ", output " << vm["output"].as<std::int64_t>() << "\n";
  std::cout << "  batch  throughput tok/s     TTFT       TPOT    power W   J/token\n";
  for (size_t i = 0; i < r.curve.size(); ++i) {
    const auto& p = r.curve[i];
    std::printf("  %5lld %17.1f %9s %10s %9.0f %9.3f %s%s\n", static_cast<long long>(p.batch), p.throughput_tok_s,
                format_seconds(p.ttft_s).c_str(), format_seconds(p.tpot_s).c_str(), p.avg_power_w, p.joules_per_token,
                static_cast<int>(i) == r.best ? "<- best" : "", p.meets_slo ? "" : " (misses target)");
  }
  if (r.best >= 0 && r.cost.usd_per_hour > 0)
    std::printf("  cost: $%.3f/h (%s%s) -> $%.4f per million output tokens\n", r.cost.usd_per_hour, r.cost.basis.c_str(),
                r.cost.assumed ? ", assumed" : "", r.cost.usd_per_mtok);
  if (!r.note.empty()) std::cout << "  note: " << r.note << "\n";
  std::fflush(stdout);
  return 0;
}

int cmd_compare(int argc, char** argv) {
  po::options_description o = serve_options();
  o.add_options()("chips", po::value<std::string>()->default_value("h100-sxm,tpu-v6e,trn2,maia200"),
                  "comma-separated presets; the first is the reference for perf/$")(
      "scenario", po::value<std::string>()->default_value("chat"),
      "chat (1024 in / 256 out, TTFT <= 2 s, TPOT <= 100 ms) or long (8192 in / 512 out); --input/--output/--*-slo override")(
      "name", po::value<std::string>(), "study name: results/compare/<name>/ (default: the scenario)")(
      "out", po::value<std::string>(), "results folder (default results/compare/<name>)")("no-report", po::bool_switch(),
                                                                                            "skip the HTML report");
  po::variables_map vm;
  po::store(parse_cli(argc, argv, o), vm);
  if (vm.count("help")) {
    std::cout << "usage: xpusim compare [--chips a,b,c] [--model M] [--scenario chat|long] [--set chip:key=value ...]\n\n"
                 "Runs one serving study on several chips: throughput, TTFT, TPOT, power, J/token, $/Mtok and perf/$\n"
                 "relative to the first chip; writes results/compare/<name>/{summary.csv,summary.json,configs/,report.html}.\n"
                 "--set key=value applies to every chip, --set chip:key=value to one (e.g. maia200:cost.chip_hour=6).\n\n"
              << o << "\n";
    return 0;
  }
  std::string scen = vm["scenario"].as<std::string>();
  ServeOptions so = serve_opts(vm);
  std::string desc;
  if (scen == "chat") {
    if (vm["input"].defaulted()) so.input = 1024;
    if (vm["output"].defaulted()) so.output = 256;
    if (!vm.count("ttft-slo")) so.ttft_slo_s = 2.0;
    if (!vm.count("tpot-slo")) so.tpot_slo_s = 0.1;
    desc = "interactive chat: 1024-token prompts, 256-token answers, TTFT <= 2 s, TPOT <= 100 ms (10 tok/s per user)";
  } else if (scen == "long") {
    if (vm["input"].defaulted()) so.input = 8192;
    if (vm["output"].defaulted()) so.output = 512;
    desc = "long-context summarization: 8192-token prompts, 512-token answers, maximum throughput";
  } else {
    throw InputError("--scenario '" + scen + "': expected chat or long");
  }
  so.progress = true;
  std::string study = vm.count("name") ? vm["name"].as<std::string>() : scen;
  check_plain_name("--name", study);  // the study folder stays inside results/compare
  std::string dir = vm.count("out") ? vm["out"].as<std::string>() : source_dir() + "/results/compare/" + study;
  ModelConfig model = load_model(vm["model"].as<std::string>());
  std::vector<std::string> chips;
  {
    std::stringstream ss(vm["chips"].as<std::string>());
    std::string c;
    while (std::getline(ss, c, ','))
      if (!c.empty()) chips.push_back(c);
  }
  if (chips.empty()) throw InputError("--chips: expected at least one chip");
  std::vector<std::string> sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  Scenario base = scenario_from(vm);
  nlohmann::json rows = nlohmann::json::array();
  std::vector<std::pair<std::string, std::string>> configs;
  double ref_perf_per_usd = 0;
  // Every chip and overlay is checked before the first one is simulated: a typo in the last chip
  // fails at once, not after minutes of simulation.
  std::vector<std::unique_ptr<ChipModel>> models;
  for (const auto& c : chips) {
    std::vector<std::string> mine;
    for (const auto& s : sets) {
      auto colon = s.find(':'), eq = s.find('=');
      if (colon != std::string::npos && colon < eq) {
        if (s.substr(0, colon) == c) mine.push_back(s.substr(colon + 1));
      } else {
        mine.push_back(s);
      }
    }
    models.push_back(load_chip(c, mine));
  }
  for (size_t ci = 0; ci < chips.size(); ++ci) {
    const std::string& c = chips[ci];
    std::cerr << "compare: " << c << "\n";
    auto& chip = models[ci];
    Scenario sc = base;
    // A chip whose tensor units lack the study's dtype runs its nearest supported precision.
    if (chip->peak_flops(sc.adtype) <= 0) {
      for (DType d : {DType::fp8, DType::bf16})
        if (chip->peak_flops(d) > 0) {
          sc.adtype = sc.kvdtype = d;
          if (bytes_per_element(sc.wdtype) < bytes_per_element(d) && chip->peak_flops(sc.wdtype) <= 0) sc.wdtype = d;
          break;
        }
    }
    nlohmann::json row;
    try {
      ServeResult r = serve(*chip, model, sc, so);
      row = serve_json(r);
    } catch (const InputError& e) {
      row = {{"chip", c}, {"family", chip->family()}, {"batch", nullptr}, {"note", e.what()}};
    }
    row["price_source"] = chip->cost().source;
    row["tdp_w"] = chip->power() ? nlohmann::json(chip->power()->tdp.value()) : nlohmann::json(nullptr);
    if (row.contains("tok_s_per_usd_hour") && row["tok_s_per_usd_hour"].is_number()) {
      double v = row["tok_s_per_usd_hour"].get<double>();
      if (rows.empty()) ref_perf_per_usd = v;
      row["perf_per_usd_rel"] = ref_perf_per_usd > 0 ? nlohmann::json(v / ref_perf_per_usd) : nlohmann::json(nullptr);
    } else {
      row["perf_per_usd_rel"] = nullptr;
    }
    if (!row.contains("throughput_tok_s")) row["throughput_tok_s"] = nullptr;
    if (!row.contains("ttft_s")) row["ttft_s"] = nullptr;
    if (!row.contains("tpot_s")) row["tpot_s"] = nullptr;
    rows.push_back(row);
    configs.push_back({c, chip->full_yaml()});
  }
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  nlohmann::json summary = {{"study", study},
                            {"model", model.name},
                            {"created", date},
                            {"version", XPUSIM_VERSION},
                            {"scenario",
                             {{"name", scen}, {"input", so.input}, {"output", so.output},
                              {"ttft_slo_s", so.ttft_slo_s > 0 ? nlohmann::json(so.ttft_slo_s) : nlohmann::json(nullptr)},
                              {"tpot_slo_s", so.tpot_slo_s > 0 ? nlohmann::json(so.tpot_slo_s) : nlohmann::json(nullptr)},
                              {"description", desc}}},
                            {"rows", rows}};
  make_output_dir(dir);  // also locks the folder and clears stale temporaries
  make_output_dir(dir + "/configs");
  for (const auto& [c, y] : configs) write_file_atomic(dir + "/configs/" + c + ".yaml", y);
  write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");
  std::ostringstream csv;
  csv << "chip,family,precision,batch,throughput_tok_s,ttft_s,tpot_s,avg_power_w,joules_per_token,usd_per_hour,usd_per_mtok,"
         "perf_per_usd_rel,price_basis,price_assumed,throttled,note\n";
  auto num = [](const nlohmann::json& r, const char* k) {
    if (!r.contains(k) || r[k].is_null()) return std::string();
    std::ostringstream os;
    if (r[k].is_number()) os << std::setprecision(6) << r[k].get<double>();
    else if (r[k].is_boolean()) os << (r[k].get<bool>() ? "true" : "false");
    else os << r[k].get<std::string>();
    return os.str();
  };
  for (const auto& r : rows) {
    csv << num(r, "chip") << "," << num(r, "family") << "," << num(r, "precision") << "," << num(r, "batch") << ","
        << num(r, "throughput_tok_s") << "," << num(r, "ttft_s") << "," << num(r, "tpot_s") << "," << num(r, "avg_power_w")
        << "," << num(r, "joules_per_token") << "," << num(r, "usd_per_hour") << "," << num(r, "usd_per_mtok") << ","
        << num(r, "perf_per_usd_rel") << "," << num(r, "price_basis") << "," << num(r, "price_assumed") << ","
        << num(r, "throttled") << ",\"" << num(r, "note") << "\"\n";
  }
  write_file_atomic(dir + "/summary.csv", csv.str());
  // The table a procurement analyst reads.
  std::printf("\n%s, %s\n", model.name.c_str(), desc.c_str());
  std::printf("%-10s %-9s %6s %12s %9s %9s %8s %9s %9s %9s %8s  %s\n", "chip", "precision", "batch", "tok/s", "TTFT",
              "TPOT", "power W", "J/token", "$/h", "$/Mtok", "perf/$", "price");
  for (const auto& r : rows) {
    auto d = [&](const char* k, double scale) { return r.contains(k) && r[k].is_number() ? r[k].get<double>() * scale : NAN; };
    std::string price = !r.contains("price_basis") || r["price_basis"] == "none" ? "no price"
                        : (r["price_assumed"].get<bool>() ? "assumed" : "published");
    // A missing figure prints as "-", never as a number.
    auto f = [&](const char* k, double scale, const char* fmt) {
      double v = d(k, scale);
      if (std::isnan(v)) return std::string("-");
      char b[32];
      std::snprintf(b, sizeof b, fmt, v);
      return std::string(b);
    };
    std::printf("%-10s %-9s %6s %12s %9s %9s %8s %9s %9s %9s %8s  %s%s\n", r["chip"].get<std::string>().c_str(),
                r.contains("precision") ? r["precision"].get<std::string>().c_str() : "-",
                r["batch"].is_null() ? "-" : std::to_string(r["batch"].get<long long>()).c_str(),
                f("throughput_tok_s", 1, "%.0f").c_str(), f("ttft_s", 1e3, "%.0fms").c_str(), f("tpot_s", 1e3, "%.1fms").c_str(),
                f("avg_power_w", 1, "%.0f").c_str(), f("joules_per_token", 1, "%.3f").c_str(), f("usd_per_hour", 1, "%.2f").c_str(),
                f("usd_per_mtok", 1, "%.3f").c_str(), f("perf_per_usd_rel", 1, "%.2f").c_str(), price.c_str(),
                r.contains("throttled") && r["throttled"].is_boolean() && r["throttled"].get<bool>() ? ", throttled" : "");
    if (r.contains("note") && r["note"].is_string() && !r["note"].get<std::string>().empty())
      std::printf("           note: %s\n", r["note"].get<std::string>().c_str());
  }
  std::printf("results: %s\n", dir.c_str());
  std::fflush(stdout);
  if (!vm["no-report"].as<bool>()) {
    // An argument vector, never a shell: the folder name reaches the script as one argument, verbatim.
    std::string script = source_dir() + "/scripts/compare_report.py";
    int rc = run_process({"/usr/bin/python3", script, dir});
    if (rc != 0) std::cerr << "compare: the HTML report could not be written (" << script << " exited " << rc << ")\n";
  }
  return 0;
}

}  // namespace xpu
