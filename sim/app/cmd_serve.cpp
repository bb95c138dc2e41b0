// `xpusim serve` and `xpusim compare`: argument parsing and printing around the serve layer.
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "sim/app/cli_parse.h"
#include "sim/app/commands.h"
#include "sim/base/config.h"
#include "sim/base/flags.h"
#include "sim/base/process.h"
#include "sim/io/compare_report.h"
#include "sim/io/reports.h"

namespace po = boost::program_options;

namespace xpu {

namespace {
Scenario scenario_from(const po::variables_map& vm) {
  ScenarioArgs a;
  a.dtype = vm["dtype"].as<std::string>();
  return make_scenario(a);
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
  if (so.max_batch <= 0 || so.max_batch > 65536)
    throw InputError("--max-batch " + std::to_string(so.max_batch) + ": expected 1 to 65536");
  check_flag_choice("--format", vm["format"].as<std::string>(), {"table", "json"});
  return so;
}
}  // namespace


int cmd_serve(int argc, char** argv) {
  po::options_description o = serve_options();
  o.add_options()("chip", po::value<std::string>()->default_value("h100-sxm"), "chip preset");
  po::variables_map vm;
  if (parse_or_help(argc, argv, o, vm,
                    "usage: xpusim serve --chip C --model M --input I --output O --dtype D [--ttft-slo T] [--tpot-slo T]\n\n"
                    "Finds the batch with the highest throughput that fits memory and meets the targets (the\n"
                    "largest throughput when no targets are given) and reports throughput, TTFT, TPOT, power,\n"
                    "energy per token and cost per million tokens.\n\n"))
    return 0;
  std::vector<std::string> sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto chip = load_chip(vm["chip"].as<std::string>(), sets);
  ModelConfig model = load_model(vm["model"].as<std::string>());
  ServeResult r = serve(*chip, model, scenario_from(vm), serve_opts(vm));
  nlohmann::json j = serve_json(r);
  if (vm["format"].as<std::string>() == "json") {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << serve_table(r, vm["input"].as<std::int64_t>(), vm["output"].as<std::int64_t>());
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
  if (parse_or_help(argc, argv, o, vm,
                    "usage: xpusim compare [--chips a,b,c] [--model M] [--scenario chat|long] [--set chip:key=value ...]\n\n"
                    "Runs one serving study on several chips: throughput, TTFT, TPOT, power, J/token, $/Mtok and perf/$\n"
                    "relative to the first chip; writes results/compare/<name>/{summary.csv,summary.json,configs/,report.html}.\n"
                    "--set key=value applies to every chip, --set chip:key=value to one (e.g. maia200:cost.chip_hour=6).\n\n"))
    return 0;
  CompareRequest req;
  req.scenario = vm["scenario"].as<std::string>();
  req.serve = serve_opts(vm);
  req.serve.progress = true;
  req.input_given = !vm["input"].defaulted();
  req.output_given = !vm["output"].defaulted();
  req.ttft_given = vm.count("ttft-slo") > 0;
  req.tpot_given = vm.count("tpot-slo") > 0;
  req.study = vm.count("name") ? vm["name"].as<std::string>() : req.scenario;
  check_plain_name("--name", req.study);  // the study folder stays inside results/compare
  req.model = vm["model"].as<std::string>();
  req.dtype = parse_dtype(vm["dtype"].as<std::string>());
  std::stringstream ss(vm["chips"].as<std::string>());
  for (std::string c; std::getline(ss, c, ',');)
    if (!c.empty()) req.chips.push_back(c);
  if (vm.count("set")) req.sets = vm["set"].as<std::vector<std::string>>();
  std::string dir = vm.count("out") ? vm["out"].as<std::string>() : source_dir() + "/results/compare/" + req.study;
  CompareStudy study = compare_study(req);
  write_compare_dir(dir, study);
  std::cout << compare_table(study) << "results: " << dir << "\n";
  std::fflush(stdout);
  if (!vm["no-report"].as<bool>()) {
    int rc = render_compare_report(dir);
    if (rc != 0) std::cerr << "compare: the HTML report could not be written (scripts/compare_report.py exited " << rc << ")\n";
  }
  return 0;
}

}  // namespace xpu
