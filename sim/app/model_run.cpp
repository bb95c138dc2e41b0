#include "sim/app/model_run.h"

#include <boost/program_options.hpp>

#include "sim/app/cli_parse.h"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "sim/io/output.h"

namespace po = boost::program_options;

namespace xpu {

namespace {
// Identical ops (the same GEMM in every decode sample, say) are simulated once per run.
std::string op_key(const OpSpec& o) {
  std::ostringstream os;
  os << name(o.kind) << "|" << o.shape_str() << "|" << name(o.dtype) << name(o.wdtype) << name(o.odtype) << "|"
     << o.rows << "x" << o.cols << "|" << o.topk << "|" << o.n << "|" << o.window << "|" << o.causal << "|"
     << o.resident_weight_bytes;
  for (auto g : o.group_rows) os << "," << g;
  return os.str();
}
}  // namespace

namespace {
ModelRunResult run_model_at(const ChipModel& chip, const ModelConfig& model, const Scenario& sc,
                            const ModelRunOptions& opt) {
  auto wall0 = std::chrono::steady_clock::now();
  sc.validate(model);
  ModelRunResult r;
  r.chip = chip.name();
  r.family = chip.family();
  r.model = model.name;
  r.scenario = sc;
  FusionPolicy fusion = sc.fusion ? *sc.fusion : FusionPolicy::parse(chip.default_fusion());
  r.fusion = fusion.str();
  r.memory = footprint(model, sc);
  r.capacity_bytes = chip.dram_capacity();
  if (opt.check_memory) check_fits(r.memory, r.capacity_bytes, model, sc, chip.name());
  if (sc.tp > 1)
    throw InputError("--tp " + std::to_string(sc.tp) + ": this build models one chip; tensor parallelism needs the "
                     "multi-chip interconnect model (use --tp 1, or lower precision / fewer sequences to fit)");

  // Identical ops recur across steps, batch points and studies of one process: their results are
  // kept per chip configuration (the resolved YAML names the clock too), bounded in size.
  static std::map<std::string, std::pair<RunResult, std::string>> cache;
  if (cache.size() > 20000) cache.clear();
  const std::string chip_key = std::to_string(std::hash<std::string>{}(chip.full_yaml())) + "|";
  for (const StepPlan& plan : plan_steps(sc, opt.max_decode_samples)) {
    Graph g = build_step_graph(model, sc, plan.decode, plan.context_len, fusion);
    StepResult step;
    step.decode = plan.decode;
    step.context_len = plan.context_len;
    step.repeat = plan.repeat;
    for (GraphNode& n : g.nodes) {
      // A GEMM whose weights are wider than its activations (the bf16 LM head of an fp8 model) runs
      // in the weight precision: the activations are converted up, as the serving stacks do.
      if ((n.op.kind == OpKind::Gemm || n.op.kind == OpKind::GroupedGemm) &&
          bytes_per_element(n.op.wdtype) > bytes_per_element(n.op.dtype))
        n.op.dtype = n.op.wdtype;
      n.op.resident_weight_bytes = r.memory.weight_bytes;
      NodeResult nr;
      nr.label = n.op.label;
      nr.group = n.group;
      nr.op = name(n.op.kind);
      nr.shape = n.op.shape_str();
      nr.count = n.count;
      nr.fused = n.fused;
      nr.fused_into = n.fused_into;
      nr.flops = n.op.flops();
      if (!n.fused) {
        std::string key = chip_key + op_key(n.op);
        auto it = cache.find(key);
        if (it == cache.end()) {
          LowerOptions lo;
          KernelPrograms progs = chip.lower(n.op, lo);
          std::string strategy;
          for (const auto& p : progs) strategy += (strategy.empty() ? "" : "; ") + p.strategy;
          RunResult rr = simulate(chip, {progs}, {}, n.op.dtype);
          rr.trace.clear();
          rr.stats = Stats();
          r.transactions += rr.transactions;
          ++r.simulated_kernels;
          it = cache.emplace(key, std::make_pair(std::move(rr), strategy)).first;
        } else {
          ++r.cached_kernels;
        }
        const RunResult& rr = it->second.first;
        nr.strategy = it->second.second;
        nr.time_s = rr.latency_s;
        for (const auto& k : rr.kernels) {
          nr.dram_bytes += k.dram_bytes;
          nr.min_bytes += k.min_bytes;
          nr.roofline_s += k.roofline_s;
          nr.transactions += k.transactions;
        }
        nr.bound = rr.kernels.empty() ? "" : rr.kernels.front().bound;
        nr.events = rr.events;
        step.time_s += nr.time_s * n.count;
        step.dram_bytes += nr.dram_bytes * n.count;
        step.events += rr.events.scaled(n.count);
      }
      step.flops += nr.flops * n.count;
      step.nodes.push_back(nr);
    }
    r.events += step.events.scaled(static_cast<double>(step.repeat));
    r.steps.push_back(step);
  }
  double decode_time = 0;
  std::int64_t decode_steps = 0;
  for (const auto& s : r.steps) {
    if (s.decode) {
      decode_time += s.time_s * s.repeat;
      decode_steps += s.repeat;
    } else {
      r.ttft_s = s.time_s;
    }
  }
  r.tpot_s = decode_steps ? decode_time / decode_steps : 0;
  r.request_s = r.ttft_s + decode_time;
  if (sc.phase == Phase::Prefill) r.tokens_per_s = r.ttft_s > 0 ? sc.batch * sc.input_len / r.ttft_s : 0;
  else if (sc.phase == Phase::Decode) r.tokens_per_s = r.tpot_s > 0 ? sc.batch / r.tpot_s : 0;
  else r.tokens_per_s = r.request_s > 0 ? sc.batch * sc.output_len / r.request_s : 0;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}
}  // namespace

ModelRunResult run_model(const ChipModel& chip, const ModelConfig& model, const Scenario& sc,
                         const ModelRunOptions& opt) {
  ModelRunResult r;
  double wall = 0;
  std::uint64_t txn = 0;
  PowerResult p = settle_power(chip, opt.sustained, [&](const ChipModel& c) {
    r = run_model_at(c, model, sc, opt);
    wall += r.wall_s;
    txn += r.transactions;
    return r.events;
  });
  r.chip = chip.name();
  r.capacity_bytes = chip.dram_capacity();
  r.power = p;
  r.wall_s = wall;
  r.transactions = txn;
  return r;
}

nlohmann::json model_run_json(const ModelRunResult& r, const ChipModel* chip) {
  nlohmann::json j;
  j["chip"] = r.chip;
  j["family"] = r.family;
  j["model"] = r.model;
  const Scenario& s = r.scenario;
  j["scenario"] = {{"phase", name(s.phase)}, {"batch", s.batch}, {"input", s.input_len}, {"output", s.output_len},
                   {"wdtype", name(s.wdtype)}, {"adtype", name(s.adtype)}, {"kvdtype", name(s.kvdtype)},
                   {"tp", s.tp}, {"routing", s.routing.str()}, {"fusion", r.fusion}};
  j["ttft_s"] = r.ttft_s;
  j["tpot_s"] = r.tpot_s;
  j["tokens_per_s"] = r.tokens_per_s;
  j["request_s"] = r.request_s;
  j["memory"] = {{"weights_bytes", r.memory.weight_bytes}, {"kv_cache_bytes", r.memory.kv_cache_bytes},
                 {"activation_bytes", r.memory.activation_bytes}, {"total_bytes", r.memory.total()},
                 {"capacity_bytes", r.capacity_bytes}};
  j["power"] = power_json(r.power);
  double tokens = 0;
  for (const auto& st : r.steps) tokens += st.decode ? static_cast<double>(r.scenario.batch) * st.repeat : 0;
  if (tokens == 0) tokens = static_cast<double>(r.scenario.batch);
  j["joules_per_token"] = r.power.modeled ? r.power.energy_j / tokens : 0;
  j["wall_s"] = r.wall_s;
  j["transactions"] = r.transactions;
  j["simulated_kernels"] = r.simulated_kernels;
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& st : r.steps) {
    nlohmann::json ks = nlohmann::json::array();
    for (const auto& n : st.nodes)
      ks.push_back({{"label", n.label}, {"op", n.op}, {"shape", n.shape}, {"count", n.count}, {"fused", n.fused},
                    {"fused_into", n.fused_into}, {"time_s", n.time_s * n.count},
                    {"share", st.time_s > 0 ? n.time_s * n.count / st.time_s : 0}, {"flops", n.flops * n.count},
                    {"bytes", n.dram_bytes * n.count}, {"roofline_s", n.roofline_s * n.count}, {"bound", n.bound},
                    {"strategy", n.strategy},
                    // Energy of the kernel per step at the run's settled clock (null without a power model).
                    {"energy_j", chip && chip->power() && !n.fused
                                     ? nlohmann::json(energy(*chip->power(), n.events.scaled(n.count), r.power.clock_ratio).total())
                                     : nlohmann::json(nullptr)}});
    steps.push_back({{"phase", st.decode ? "decode" : "prefill"}, {"context", st.context_len}, {"repeat", st.repeat},
                     {"time_s", st.time_s}, {"flops", st.flops}, {"bytes", st.dram_bytes}, {"kernels", ks}});
  }
  j["steps"] = steps;
  return j;
}

std::string model_run_table(const ModelRunResult& r) {
  std::ostringstream os;
  char buf[256];
  const Scenario& s = r.scenario;
  os << r.model << " on " << r.chip << ": " << name(s.phase) << ", batch " << s.batch << ", input " << s.input_len
     << ", output " << s.output_len << ", weights " << name(s.wdtype) << ", activations " << name(s.adtype)
     << ", KV " << name(s.kvdtype) << ", fusion " << r.fusion << "\n";
  auto row = [&](const std::string& k, const std::string& v) { os << "  " << std::left << std::setw(24) << k << v << "\n"; };
  if (r.ttft_s > 0) row("time to first token", format_seconds(r.ttft_s));
  if (r.tpot_s > 0) row("time per output token", format_seconds(r.tpot_s));
  std::snprintf(buf, sizeof buf, "%.1f tok/s", r.tokens_per_s);
  row(s.phase == Phase::Prefill ? "prefill tokens/s" : "output tokens/s", buf);
  row("memory", r.memory.str(s) + " of " + format_bytes(r.capacity_bytes));
  if (r.power.modeled) {
    std::snprintf(buf, sizeof buf, "%.0f W average (TDP %.0f W)%s", r.power.avg_power_w, r.power.tdp_w,
                  r.power.throttled ? (", throttled to " + std::to_string(static_cast<int>(100 * r.power.clock_ratio)) + "% clock").c_str() : "");
    row("power", buf);
  }
  std::snprintf(buf, sizeof buf, "%.2f s, %llu transactions, %llu kernels simulated", r.wall_s,
                static_cast<unsigned long long>(r.transactions), static_cast<unsigned long long>(r.simulated_kernels));
  row("simulation", buf);
  for (const auto& st : r.steps) {
    if (st.decode && &st != &r.steps.back() && r.steps.size() > 2) continue;  // show prefill and the last decode sample
    os << "  " << (st.decode ? "decode step at context " + std::to_string(st.context_len) : std::string("prefill"))
       << ": " << format_seconds(st.time_s) << "\n";
    std::snprintf(buf, sizeof buf, "    %-34s %5s %10s %6s %10s %10s  %s\n", "kernel", "x", "time", "share", "GFLOP", "MB", "bound");
    os << buf;
    for (const auto& n : st.nodes) {
      if (n.fused) {
        std::snprintf(buf, sizeof buf, "    %-34s %5d %10s %6s %10.2f %10s  fused into %s\n", n.label.c_str(), n.count, "-", "-",
                      n.flops * n.count / 1e9, "-", n.fused_into.c_str());
      } else {
        std::snprintf(buf, sizeof buf, "    %-34s %5d %10s %5.1f%% %10.2f %10.2f  %s\n", n.label.c_str(), n.count,
                      format_seconds(n.time_s * n.count).c_str(), st.time_s > 0 ? 100 * n.time_s * n.count / st.time_s : 0,
                      n.flops * n.count / 1e9, n.dram_bytes * n.count / 1e6, n.bound.c_str());
      }
      os << buf;
    }
  }
  return os.str();
}

int cmd_run(int argc, char** argv) {
  po::options_description o("run");
  o.add_options()("chip", po::value<std::string>()->default_value("h100-sxm"), "chip preset")(
      "model", po::value<std::string>()->default_value("llama-3.1-8b"), "shipped model name or a config.json path")(
      "phase", po::value<std::string>()->default_value("decode"), "prefill, decode, or request (prefill then decode)")(
      "batch", po::value<std::int64_t>()->default_value(1), "sequences")(
      "input", po::value<std::int64_t>()->default_value(2048), "prompt tokens per sequence")(
      "output", po::value<std::int64_t>()->default_value(1), "generated tokens per sequence")(
      "dtype", po::value<std::string>()->default_value("bf16"), "weights, activations and KV cache (bf16, fp8, fp4 weights where supported)")(
      "wdtype", po::value<std::string>(), "weights only")("adtype", po::value<std::string>(), "activations only")(
      "kvdtype", po::value<std::string>(), "KV cache only")(
      "tp", po::value<int>()->default_value(1), "tensor-parallel degree")(
      "routing", po::value<std::string>()->default_value("uniform"), "MoE routing: uniform, zipf:S or hot:F")(
      "fusion", po::value<std::string>(), "none, vllm, trtllm, xla or a flag list (default: the family's usual software)")(
      "format", po::value<std::string>()->default_value("table"), "table or json")(
      "out", po::value<std::string>(), "write config.resolved.yaml and stats.json here")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a preset field (repeatable)")(
      "help,h", "this help");
  po::variables_map vm;
  po::store(parse_cli(argc, argv, o), vm);
  if (vm.count("help")) {
    std::cout << "usage: xpusim run --chip C --model M --phase decode --batch 64 --input 2048 [--output 128] --dtype fp8\n\n"
              << "Simulates a whole forward pass kernel by kernel and reports TTFT, TPOT, tokens/s, the per-kernel\n"
                 "breakdown and the memory footprint.\n\n"
              << o << "\n";
    return 0;
  }
  std::string format = vm["format"].as<std::string>();
  if (format != "table" && format != "json") throw InputError("--format '" + format + "': expected table or json");
  std::vector<std::string> sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto chip = load_chip(vm["chip"].as<std::string>(), sets);
  ModelConfig model = load_model(vm["model"].as<std::string>());
  Scenario sc;
  sc.phase = parse_phase(vm["phase"].as<std::string>());
  sc.batch = vm["batch"].as<std::int64_t>();
  sc.input_len = vm["input"].as<std::int64_t>();
  sc.output_len = vm["output"].as<std::int64_t>();
  DType d = parse_dtype(vm["dtype"].as<std::string>());
  sc.wdtype = vm.count("wdtype") ? parse_dtype(vm["wdtype"].as<std::string>()) : d;
  sc.adtype = vm.count("adtype") ? parse_dtype(vm["adtype"].as<std::string>()) : (d == DType::fp4 ? DType::fp8 : d);
  sc.kvdtype = vm.count("kvdtype") ? parse_dtype(vm["kvdtype"].as<std::string>()) : (d == DType::fp4 ? DType::fp8 : d);
  sc.tp = vm["tp"].as<int>();
  sc.routing = Routing::parse(vm["routing"].as<std::string>());
  if (vm.count("fusion")) sc.fusion = FusionPolicy::parse(vm["fusion"].as<std::string>());
  ModelRunResult r = run_model(*chip, model, sc);
  nlohmann::json j = model_run_json(r, chip.get());
  if (vm.count("out")) {
    RunResult rr;
    rr.resolved_yaml = chip->full_yaml();
    write_run_dir(vm["out"].as<std::string>(), rr, j, false);
  }
  if (format == "json") std::cout << j.dump(2) << "\n";
  else std::cout << model_run_table(r);
  return 0;
}

}  // namespace xpu
