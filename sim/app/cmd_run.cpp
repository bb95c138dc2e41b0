// `xpusim run`: argument parsing and printing around the run layer's run_model().
#include <boost/program_options.hpp>

#include <iostream>

#include "sim/app/cli_parse.h"
#include "sim/app/commands.h"
#include "sim/app/system_cmd.h"
#include "sim/base/strformat.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"

namespace po = boost::program_options;

namespace xpu {

po::options_description run_cli_options() {
  po::options_description o("run");
  o.add_options()("chip", po::value<std::string>()->default_value("h100-sxm"), "chip preset")(
      "model", po::value<std::string>()->default_value("llama-3.1-8b"), "shipped model name or a config.json path")(
      "phase", po::value<std::string>()->default_value("decode"), "prefill, decode, or request (prefill then decode)")(
      "batch", po::value<std::int64_t>()->default_value(1), "sequences")(
      "input", po::value<std::int64_t>()->default_value(2048), "prompt tokens per sequence")(
      "output", po::value<std::int64_t>()->default_value(1), "generated tokens per sequence (with --phase prefill they only size the KV cache of the memory check, "
      "input + output tokens per sequence, as a server reserves it)")(
      "dtype", po::value<std::string>()->default_value("bf16"), "weights, activations and KV cache (bf16, fp8, fp4 weights where supported)")(
      "wdtype", po::value<std::string>(), "weights only")("adtype", po::value<std::string>(), "activations only")(
      "kvdtype", po::value<std::string>(), "KV cache only")(
      "routing", po::value<std::string>()->default_value("uniform"), "MoE routing: uniform (balanced in expectation; with --ep each step's random draw makes one rank the busiest), even (every EP rank exactly its share), zipf:S or hot:F")(
      "fusion", po::value<std::string>(), "none, pytorch-eager, vllm, trtllm, trtllm-pytorch, xla, neuron or a flag list (default: the family's usual software)")(
      "format", po::value<std::string>()->default_value("table"), "table or json")(
      "out", po::value<std::string>(), "write config.resolved.yaml, system.resolved.yaml (on a system) and stats.json here")(
      "trace", "record every rank's kernels and collectives and the fabric's link transfers (trace.h5 in --out)")("trace-format",
      po::value<std::string>()->default_value("hdf5"), "hdf5 (trace.h5), perfetto (trace.json for ui.perfetto.dev) or both")(
      "after-runs", po::value<double>(),
      "time the step as a benchmark does: after this many back-to-back runs of it from idle, at the clock the power "
      "manager holds then (default: steady state, the TDP average already reached, as serving runs)")(
      "from-idle", "time one run from an idle chip, its boost lasting as long as the power limit's average allows "
      "(as `xpusim kernel` without --sustained; default: steady state)")(
      "no-fold", "on a system, simulate every rank's kernels instead of replaying identical ones (the same times, slower)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a chip or system preset field: hbm.bandwidth=4TB/s, scale_up.link.bandwidth=225GB/s (repeatable)")(
      "neuron-buckets", po::value<std::int64_t>()->default_value(0),
      "N (trainium family only): AWS transformers-neuronx's default compiled buckets for N positions (the prompt padded to its context "
      "bucket, each decode step over its token bucket of KV positions); 0: every step at its exact shape")(
      "help,h", "this help");
  add_layout_options(o);
  return o;
}

ModelRunResult run_from_flags(const po::variables_map& vm, RunTarget& target, StagedFiles& staged) {
  const std::string format = vm["format"].as<std::string>();
  check_format(format);
  ModelRunOptions opt;
  if (vm.count("after-runs") && vm.count("from-idle"))
    throw InputError("--from-idle and --after-runs " + strformat("%g", vm["after-runs"].as<double>()) +
                     " are two answers to one question (one run from idle, or the run after N runs): give one of them", "--from-idle", "");
  if (vm.count("after-runs")) opt.time_after_runs(vm["after-runs"].as<double>());
  if (vm.count("from-idle")) opt.sustained = false;
  target = run_target(vm);
  opt.system = target.system;
  if (opt.system) opt.system->fold = vm.count("no-fold") == 0;
  const auto& chip = target.chip;
  ModelConfig model = resolving("--model", vm["model"].as<std::string>(), [&] { return load_model(vm["model"].as<std::string>()); });
  ScenarioArgs a;
  a.phase = vm["phase"].as<std::string>();
  a.batch = vm["batch"].as<std::int64_t>();
  a.input = vm["input"].as<std::int64_t>();
  a.output = vm["output"].as<std::int64_t>();
  a.dtype = vm["dtype"].as<std::string>();
  for (auto [flag, field] : {std::pair{"wdtype", &a.wdtype}, {"adtype", &a.adtype}, {"kvdtype", &a.kvdtype}, {"fusion", &a.fusion}})
    if (vm.count(flag)) *field = vm[flag].as<std::string>();
  for (const char* flag : {"dtype", "wdtype", "adtype", "kvdtype"})  // given but empty is an error, not "the default"
    if (vm.count(flag)) parse_dtype(vm[flag].as<std::string>(), std::string("--") + flag);
  layout_args(vm, a);
  a.routing = vm["routing"].as<std::string>();
  a.neuron_buckets = vm["neuron-buckets"].as<std::int64_t>();
  const auto files = system_trace_files(vm, staged);
  opt.trace = files ? files->trace() : nullptr;
  ModelRunResult r = run_model(*chip, model, make_scenario(a), opt);
  if (files) files->finish(target.system ? target.system->spec.name : chip->name(), target.system ? target.system->spec.resolved_yaml : chip->full_yaml());
  return r;
}

int cmd_run(int argc, char** argv) {
  po::options_description o = run_cli_options();
  po::variables_map vm;
  if (parse_or_help(argc, argv, o, vm,
                    "usage: xpusim run --chip C --model M --phase decode --batch 64 --input 2048 [--output 128] --dtype fp8\n       xpusim run --system hgx-h100x8 --model llama-3.1-70b --tp 8 --batch 64 --dtype fp8 [--out DIR --trace]\n       xpusim run --chip a100-sxm --dtype bf16   (the A100 has no fp8)\n"
                    "       xpusim run --chip trn2 --phase request --input 1000 --output 24 --neuron-buckets 2048\n\n"
                    "Simulates a whole forward pass kernel by kernel and reports TTFT, TPOT, tokens/s, the per-kernel\n"
                    "breakdown (collectives with their algorithm and share of the step) and the memory footprint per\n"
                    "device. On a system, every rank's kernels and collectives run in one simulation of the fabric.\n\n"))
    return 0;
  RunTarget target;
  StagedFiles staged;  // --trace's files, committed with the results
  const ModelRunResult r = run_from_flags(vm, target, staged);
  const nlohmann::json j = model_run_json(r, target.chip.get());
  if (vm.count("out")) write_report_dir(vm["out"].as<std::string>(), target.chip->full_yaml(), target.system, j, &staged);
  if (vm["format"].as<std::string>() == "json") std::cout << j.dump(2) << "\n";
  else std::cout << model_run_table(r);
  return 0;
}

}  // namespace xpu
