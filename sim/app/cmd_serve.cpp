// `xpusim serve` and `xpusim compare`: argument parsing and printing around the serve layer.
#include <boost/program_options.hpp>

#include <iostream>
#include <sstream>

#include "sim/app/cli_parse.h"
#include "sim/app/commands.h"
#include "sim/app/system_cmd.h"
#include "sim/base/config.h"
#include "sim/base/flags.h"
#include "sim/base/process.h"
#include "sim/io/compare_report.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"
#include "sim/io/serve_trace.h"
#include "sim/serve/disagg.h"
#include "sim/serve/scheduler.h"
#include "sim/serve/study.h"
#include "sim/validation/validate.h"

namespace po = boost::program_options;

namespace xpu {

namespace {
Scenario scenario_from(const po::variables_map& vm) {
  ScenarioArgs a;
  a.dtype = vm["dtype"].as<std::string>();
  parse_dtype(a.dtype, "--dtype");  // named here: the scenario parses it again without the flag
  return make_scenario(a);
}

// serve's options, and compare's (`study`: the defaults of model, lengths and dtype are the study's and its
// scenario's, so --help says so instead of showing serve's).
po::options_description serve_options(bool study = false) {
  po::options_description o(study ? "compare" : "serve");
  auto shown = [&](const char* value, const char* instead) {
    return po::value<std::string>()->default_value(value, study ? instead : value);
  };
  o.add_options()("model", shown("llama-3.1-8b", "the study's models"), "model name or config.json")(
      "input", shown("1024", "the scenario's"), "prompt tokens per request: N, uniform:LO:HI, normal:MEAN:SD or exp:MEAN")(
      "output", shown("256", "the scenario's"), "generated tokens per request (same forms as --input; 1: no TPOT, which needs a second token)")(
      "lengths-csv", po::value<std::string>(), "CSV of input,output lengths, used in turn, instead of --input/--output (its mean lengths are the typical request)")(
      "dtype", shown("fp8", "the study's"), "weights and activations (fp4 = fp4 weights, fp8 activations)")(
      "ttft-slo", po::value<std::string>(), "time-to-first-token target on the median, e.g. 2s or 500ms")(
      "tpot-slo", po::value<std::string>(), "time-per-output-token target on the median, e.g. 50ms")(
      "scheduler", po::value<std::string>()->default_value("vllm"), (scheduler_names_text(", ", " or ") + " (continuous-batching policy)").c_str())(
      "dp-dispatch", po::value<std::string>(), "data-parallel attention's controller (layouts with data-parallel attention only): round_robin (default), shortest_queue or minimum_tokens")(
      "token-budget", po::value<std::int64_t>(), "tokens per iteration (default: the scheduler's)")(
      "max-seqs", po::value<std::int64_t>(), "most running sequences (default: the scheduler's)")(
      "cache-length", po::value<std::int64_t>(), "KV tokens of each decode slot, --scheduler jetstream only (its max_cache_length; default 1024)")(
      "page-size", po::value<std::int64_t>(), "KV tokens per page, --scheduler sglang-jax only (its --page-size; default 1)")(
      "host-fixed-us", po::value<double>(), "the framework's host work per iteration, fixed part in us (default: the scheduler's)")(
      "host-us-per-request", po::value<double>(), "the framework's host work per iteration per running request, us (default: the scheduler's)")(
      "max-batch", po::value<std::int64_t>(), study ? "same as --max-seqs; compare sweeps concurrency up to it (default 512)" : "same as --max-seqs (default: the scheduler's)")(
      "concurrency", po::value<std::string>(), "closed loop of N users; a list (1,4,16,64) sweeps a frontier")(
      "rate", po::value<double>(), "open loop: Poisson arrivals, requests/s")(
      "requests", po::value<std::int64_t>(), "requests per run (default: 4 x concurrency, at least 64; open loop 256 and offline 4 x max-seqs per data-parallel replica)")(
      "seed", po::value<std::int64_t>()->default_value(1), "random seed of lengths and arrivals (0 or more)")(
      "prefix-hit", po::value<double>(), "prefix caching: share of each prompt already cached, in [0, 1) (shared blocks counted once)")(
      "spec-tokens", po::value<std::int64_t>(), "speculative decoding: draft tokens verified per decode step (1 to 16)")(
      "spec-accept", po::value<double>(), "speculative decoding: per-token acceptance rate of the drafts, in [0, 1]")(
      "spec-method", po::value<std::string>()->default_value("mtp"), "mtp (the model's next-token module) or draft (a draft model)")(
      "spec-draft", po::value<std::string>(), "the drafter: its cost as a fraction of the target's (0.05), or a draft model name / config.json")(
      "format", po::value<std::string>()->default_value("table"), "table or json")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a preset field (repeatable)")("help,h", "this help");
  return o;
}

ServeOptions serve_opts(const po::variables_map& vm) {
  ServeOptions so;
  set_lengths(so, LengthDist::parse("--input", vm["input"].as<std::string>()), LengthDist::parse("--output", vm["output"].as<std::string>()));
  if (vm.count("lengths-csv")) {
    std::string given;  // --input or --output beside the CSV, which replaces them
    for (const char* f : {"input", "output"})
      if (!vm[f].defaulted()) given = std::string("--") + f + " " + vm[f].as<std::string>();
    set_lengths_csv(so, vm["lengths-csv"].as<std::string>(), given);
  }
  so.scheduler = vm["scheduler"].as<std::string>();
  if (vm.count("dp-dispatch")) dp_dispatch(so.dp_dispatch = vm["dp-dispatch"].as<std::string>());  // checked here: compare ran each unit with it
  auto given = [&](const char* f) { return vm.count(f) ? std::optional(vm[f].as<std::int64_t>()) : std::nullopt; };
  set_sequence_limits(so, given("max-batch"), given("max-seqs"));
  set_token_limits(so, given("token-budget"), given("cache-length"), given("page-size"));
  for (auto [flag, field] : {std::pair{"host-fixed-us", &so.limits.host_fixed_us}, {"host-us-per-request", &so.limits.host_us_per_request}})
    if (vm.count(flag)) *field = host_work_us(flag, vm[flag].as<double>());
  if (vm.count("concurrency"))
    so.concurrency = parse_flag_list<std::int64_t>("--concurrency", vm["concurrency"].as<std::string>(), "users", 1e300), so.concurrency_given = true;
  if (vm.count("rate")) so.rate = vm["rate"].as<double>(), so.rate_given = true;
  if (vm.count("requests")) so.requests = vm["requests"].as<std::int64_t>();
  if (vm.count("requests") && so.requests <= 0) throw InputError("--requests must be positive, got " + std::to_string(so.requests), "--requests", "");
  // Read signed: Boost reads "-1" into an unsigned option as 2^64 - 1 without complaint.
  const std::int64_t seed = vm["seed"].as<std::int64_t>();
  if (seed < 0) throw InputError("--seed " + std::to_string(seed) + ": expected an integer of 0 or more", "--seed", std::to_string(seed));
  so.seed = static_cast<std::uint64_t>(seed);
  for (auto [flag, field] :
       {std::pair{"prefill-devices", &so.prefill_devices}, {"decode-devices", &so.decode_devices}, {"prefill-tp", &so.prefill_tp},
        {"prefill-ep", &so.prefill_ep}, {"prefill-dp", &so.prefill_dp}, {"prefill-pp", &so.prefill_pp}, {"prefill-redundant-experts", &so.prefill_redundant_experts}})
    if (vm.count(flag)) *field = vm[flag].as<int>();
  if (vm.count("prefix-hit")) so.prefix_hit = vm["prefix-hit"].as<double>();
  if (vm.count("spec-tokens")) so.spec_tokens = vm["spec-tokens"].as<std::int64_t>();
  if (vm.count("spec-tokens") && so.spec_tokens <= 0)
    throw InputError("--spec-tokens must be a positive number of draft tokens, got " + std::to_string(so.spec_tokens), "--spec-tokens", "");
  if (vm.count("spec-accept")) so.spec_accept = vm["spec-accept"].as<double>();
  so.spec_method = vm["spec-method"].as<std::string>();
  if (vm.count("spec-draft")) so.spec_draft = vm["spec-draft"].as<std::string>();
  if (vm.count("ttft-slo")) so.ttft_slo_s = parse_flag_time("--ttft-slo", vm["ttft-slo"].as<std::string>());
  if (vm.count("tpot-slo")) so.tpot_slo_s = parse_flag_time("--tpot-slo", vm["tpot-slo"].as<std::string>());
  check_flag_choice("--format", vm["format"].as<std::string>(), {"table", "json"});
  return so;
}
}  // namespace

po::options_description serve_cli_options() {
  po::options_description o = serve_options();
  o.add_options()("chip", po::value<std::string>()->default_value("h100-sxm"), "chip preset")(
      "prefill-devices", po::value<int>(), "disaggregated: chips of the prefill pool (whole instances of its layout; with --decode-devices on a --system)")(
      "decode-devices", po::value<int>(), "disaggregated: chips of the decode pool (the KV cache crosses the fabric between them)")(
      "prefill-tp", po::value<int>(), "disaggregated: the prefill pool's --tp (none of --prefill-tp/ep/pp/dp: the decode pool's layout; else 1)")(
      "prefill-ep", po::value<int>(), "the prefill pool's --ep")("prefill-pp", po::value<int>(), "the prefill pool's --pp")("prefill-dp", po::value<int>(), "the prefill pool's --dp")(
      "prefill-redundant-experts", po::value<int>(), "the prefill pool's --redundant-experts (default: --redundant-experts; DeepSeek-V3: 32)")(
      "spec-draft-tp", po::value<int>(), "a draft model's tp, 1 (whole on each TP group's first rank, as vLLM V0) or --tp (the default)")(
      "decode-radix-cache", po::bool_switch(), "disaggregated, --scheduler sglang: the decode pool's prefix cache, KV sent only for what it lacks")(
      "scenario-file", po::value<std::string>(), "serving scenario YAML: the pools (pools.prefill/decode.devices, .tp, .ep, .pp, .dp, pools.decode.radix_cache) and redundant_experts instead of the flags")(
      "out", po::value<std::string>(), "write config.resolved.yaml, system.resolved.yaml (on a system) and stats.json here")("trace",
      "record the engine's timeline (iterations per server, requests, KV transfers) into --out; one point only (README Outputs)")(
      "trace-format", po::value<std::string>()->default_value("hdf5"), "hdf5 (trace.h5), perfetto (trace.json for ui.perfetto.dev) or both");
  add_layout_options(o);
  return o;
}

ServeResult serve_from_flags(const po::variables_map& vm, RunTarget& target, StagedFiles& staged) {
  ServeOptions so = serve_opts(vm);
  target = run_target(vm);
  so.system = target.system;
  ModelConfig model = resolving("--model", vm["model"].as<std::string>(), [&] { return load_model(vm["model"].as<std::string>()); });
  Scenario sc = scenario_from(vm);
  layout_args(vm, sc);
  so.decode_radix_cache = vm["decode-radix-cache"].as<bool>();  // SGLang's --disaggregation-decode-enable-radix-cache
  if (vm.count("spec-draft-tp")) so.spec_draft_tp = vm["spec-draft-tp"].as<int>();  // vLLM's draft_tensor_parallel_size
  if (vm.count("scenario-file"))
    apply_pools_file(vm["scenario-file"].as<std::string>(), so, sc,
                     {vm.count("prefill-devices") > 0, vm.count("decode-devices") > 0, vm.count("prefill-tp") > 0, !vm["tp"].defaulted(),
                      vm.count("prefill-ep") > 0, vm.count("prefill-dp") > 0, !vm["ep"].defaulted(), !vm["dp"].defaulted(), vm.count("prefill-pp") > 0, !vm["pp"].defaulted(),
                      !vm["redundant-experts"].defaulted(), vm.count("prefill-redundant-experts") > 0, so.decode_radix_cache});
  const auto trace = open_serve_trace(vm.count("trace") > 0, vm["trace-format"].as<std::string>(), !vm["trace-format"].defaulted(),
                                     vm.count("out") ? vm["out"].as<std::string>() : "", so.concurrency.size(), staged);
  so.trace = trace.get();
  ServeResult r = serve(*target.chip, model, sc, so);
  if (trace) trace->finish(target.system ? target.system->spec.name : target.chip->name(), target.chip->full_yaml());
  return r;
}

int cmd_serve(int argc, char** argv) {
  po::options_description o = serve_cli_options();
  po::variables_map vm;
  if (parse_or_help(argc, argv, o, vm,
                    "usage: xpusim serve --chip C --model M --input I --output O --dtype D [--concurrency N[,N...] | --rate R]\n"
                    "                    [--scheduler " + scheduler_names_text("|", "|") + "] [--ttft-slo T] [--tpot-slo T]\n"
                    "       xpusim serve --system hgx-h100x8 --tp 8 --model llama-3.1-70b --concurrency 1,8,64\n       xpusim serve --system hgx-h100x8 --model mixtral-8x7b --tp 1 --ep 8 --dp 8 --scheduler sglang --dp-dispatch shortest_queue --concurrency 32   (data-parallel attention: --ep = --tp x --dp)\n       xpusim serve --chip tpu-v6e --scheduler sglang-jax --page-size 128 --concurrency 16\n\n"
                    "Runs an inference server iteration by iteration (continuous batching, chunked prefill, paged KV\n"
                    "cache with admission and preemption) on the chip model: a closed loop of N users, Poisson arrivals\n"
                    "at R requests/s, or (neither) every request at once for offline throughput. Reports throughput,\n"
                    "tok/s per user, TTFT/TPOT/ITL percentiles, KV-cache occupancy, preemptions, power, energy per\n"
                    "token and cost; a concurrency list gives the frontier and its best point under the targets.\n"
                    "--set takes the chip's fields and, on a system, the system's (--set scale_up.link.bandwidth=225GB/s).\n\n"))
    return 0;
  RunTarget target;
  StagedFiles staged;  // --trace's files, committed with the results
  const ServeResult r = serve_from_flags(vm, target, staged);
  const nlohmann::json j = serve_json(r);
  if (vm.count("out")) write_report_dir(vm["out"].as<std::string>(), target.chip->full_yaml(), target.system, j, &staged);
  if (vm["format"].as<std::string>() == "json") std::cout << j.dump(2) << "\n";
  else std::cout << serve_table(r);
  std::fflush(stdout);
  return 0;
}

po::options_description compare_options() {
  po::options_description o = serve_options(true);
  o.add_options()("study", po::value<std::string>()->default_value(default_study_name()),
                  "named study (workloads/studies: frontier, chat-8b) or a study .yaml; the flags below override it")(
      "chips", po::value<std::string>(), "comma-separated chips or system units (default: the study's); the first is the reference for perf/$")(
      "scenario", po::value<std::string>(),
      "chat (1024 in / 256 out, TTFT <= 2 s, TPOT <= 100 ms) or long (8192 in / 512 out); --input/--output/--*-slo override")(
      "name", po::value<std::string>(), "study name: results/compare/<name>/ (default: the study's)")(
      "out", po::value<std::string>(), "results folder (default results/compare/<name>)")("no-report", po::bool_switch(),
                                                                                            "skip the HTML report")(
      "tco", po::bool_switch(), "all-in cost of ownership (capex over the life, power x PUE x $/kWh) next to the cloud price; "
                                "parameters via --set [chip:]cost.unit_price/service_years/utilization/pue/electricity")(
      "tiers", po::value<std::string>(), "interactivity tiers in tok/s per user (default: the study's, else 20,50,100)")(
      "jobs", po::value<int>(), "worker processes, one unit each (default: all cores; 1 runs the units in this process)")(
      "finalists", po::value<int>()->default_value(2),
      "with --rate or offline (no --concurrency): how many layouts of a searched system, best first by the closed-loop "
      "screen, then run the study's engine under its own load to choose among (0: every layout that fits; each costs "
      "one engine run)");
  return o;
}

std::vector<CompareRequest> compare_requests(const po::variables_map& vm, bool named_study) {
  CompareRequest req;
  req.scenario = vm.count("scenario") ? vm["scenario"].as<std::string>() : "";
  req.serve = serve_opts(vm);
  req.input_given = !vm["input"].defaulted() || vm.count("lengths-csv");
  req.output_given = !vm["output"].defaulted() || vm.count("lengths-csv");
  req.ttft_given = vm.count("ttft-slo") > 0;
  req.tpot_given = vm.count("tpot-slo") > 0;
  // Here too: compare_study reads an empty study as "the scenario", while an explicit --name "" is an error.
  if (vm.count("name")) check_plain_name("--name", req.study = vm["name"].as<std::string>());
  req.model = vm["model"].defaulted() ? "" : vm["model"].as<std::string>();
  if (!vm["model"].defaulted()) check_model_named(req.model);
  req.dtype = parse_dtype(vm["dtype"].as<std::string>(), "--dtype");
  std::stringstream ss(vm.count("chips") ? vm["chips"].as<std::string>() : "");
  for (std::string c; std::getline(ss, c, ',');)
    if (!c.empty()) req.chips.push_back(c);
  if (vm.count("chips") && req.chips.empty()) throw InputError("--chips: expected at least one chip", "--chips", "");
  if (vm.count("set")) req.sets = vm["set"].as<std::vector<std::string>>();
  req.tco = vm["tco"].as<bool>();
  if (vm.count("tiers")) req.tiers = parse_flag_list<double>("--tiers", vm["tiers"].as<std::string>(), "tok/s per user", 1e6);
  req.jobs = vm.count("jobs") ? vm["jobs"].as<int>() : available_cores();
  if (req.jobs <= 0 || req.jobs > 1024) throw InputError("--jobs " + std::to_string(req.jobs) + ": expected 1 to 1024 worker processes", "--jobs", std::to_string(req.jobs));
  req.finalists = vm["finalists"].as<int>();
  if (req.finalists < 0 || req.finalists > 1000)
    throw InputError("--finalists " + std::to_string(req.finalists) + ": expected 0 (every layout) or a count of layouts", "--finalists", std::to_string(req.finalists));
  std::vector<CompareRequest> out;
  if (named_study) {
    out = study_requests(load_study(vm["study"].as<std::string>()), req, !vm["dtype"].defaulted());
  } else {  // the flags alone: the chat scenario and the default model where they leave them
    if (req.scenario.empty()) req.scenario = "chat";
    if (req.model.empty()) req.model = vm["model"].as<std::string>();
    out = {req};
  }
  std::vector<std::string> units;  // a "name:key=value" naming no unit of any of the study's models went nowhere
  for (const CompareRequest& r : out) units.insert(units.end(), r.chips.begin(), r.chips.end());
  check_unit_sets(units, req.sets);
  for (const CompareRequest& r : out) check_output_dir(compare_dir(vm, r));  // before minutes of simulation, not after
  return out;
}

std::string compare_dir(const po::variables_map& vm, const CompareRequest& r) {
  std::string dir = vm.count("out") ? vm["out"].as<std::string>() : source_dir() + "/results/compare/" + r.study;
  if (vm.count("out") && !r.folder.empty()) dir += "/" + r.folder;
  return dir;
}

int cmd_compare(int argc, char** argv) {
  po::options_description o = compare_options();
  po::variables_map vm;
  if (parse_or_help(argc, argv, o, vm,
                    "usage: xpusim compare [--study frontier|chat-8b|FILE] [--chips a,b,c] [--model M] [--scenario chat|long]\n\n"
                    "Runs one serving study on several serving units (a chip, a system whose layout is searched, or\n"
                    "system:tpN): the frontier of throughput per chip vs tok/s per user, $/Mtok, tok/s per provisioned MW\n"
                    "and the interactivity tiers; writes results/compare/<name>/{summary.csv,summary.json,configs/,report.html}.\n"
                    "--set key=value applies to every unit, --set name:key=value to the units of that chip or system\n"
                    "(maia200:cost.chip_hour=6; hgx-h100x8:scale_up.link.bandwidth=225GB/s: a system's fields go to its fabric).\n\n"))
    return 0;
  int status = 0;
  for (CompareRequest& r : compare_requests(vm, true)) {
    r.serve.progress = true;
    CompareStudy study = compare_study(r);
    for (auto& row : study.rows) row.validation = validation_coverage(row.family);
    status = std::max(status, finish_compare(compare_dir(vm, r), study, !vm["no-report"].as<bool>(), vm["format"].as<std::string>() == "json"));
  }
  return status;
}

}  // namespace xpu
