// The CLI's subcommands. Every one prints to stdout (table or JSON), writes result files atomically,
// and reports bad input as one line on stderr with a non-zero exit (see main.cpp).
#include "sim/app/commands.h"

#include <boost/program_options.hpp>

#include "sim/app/cli_parse.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <new>

#include "kernels/collective/collective.h"
#include "sim/app/system_cmd.h"
#include "sim/base/limits.h"
#include "sim/base/nearest_name.h"
#include "sim/base/one_line.h"
#include "sim/base/strformat.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"
#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace xpu {

namespace {

const char* kUsage =
    "xpusim: a cycle-approximate simulator of AI accelerators (SystemC/TLM-2.0)\n\nusage: xpusim <command> [options]\n\ncommands:\n"
    "  list chips|systems|models|ops  what can be simulated\n"
    "  params <family>           every preset field of a chip family, with unit, default and meaning\n"
    "  kernel <op> --chip C ...  simulate one kernel (gemm, attention, rmsnorm, softmax, ...)\n"
    "  run --model M ...         a whole transformer forward pass (prefill, decode or a request)\n"
    "  serve --chip C --model M  best serving operating point: tok/s, TTFT, TPOT, W, J/token, $/Mtok\n"
    "  compare                   the procurement study: one serving unit of each family per model (main job)\n"
    "  validate                  compare predictions with real-hardware measurements (--collectives: systems)\n"
    "  kernel allreduce|allgather|reducescatter|alltoall|broadcast|sendrecv --system S --bytes SIZE\n"
    "  sweep SPEC --out DIR      a what-if sweep over preset and scenario keys (resumable; --dask ADDR)\n\nexamples:\n"
    "  xpusim kernel gemm --chip h100-sxm --m 4096 --n 4096 --k 4096 --dtype bf16\n"
    "  xpusim kernel gemm --chip h100-sxm --m 4096 --n 4096 --k 4096 --set hbm.bandwidth=4TB/s --format json\n"
    "  xpusim run --chip h100-sxm --model llama-3.1-8b --phase decode --batch 64 --input 2048 --dtype fp8\n"
    "  xpusim params gpu\n\nRun `xpusim <command> --help` for the options of a command.\n";

po::options_description output_options() {
  po::options_description o("output");
  o.add_options()("format", po::value<std::string>()->default_value("table"), "table or json")(
      "out", po::value<std::string>(),
      "write config.resolved.yaml and stats.json (and trace.h5 with --trace) into this folder")(
      "trace", po::bool_switch(), "record every transaction (trace.h5 in --out)")(
      "trace-format", po::value<std::string>()->default_value("hdf5"),
      "hdf5 (trace.h5), perfetto (trace.json for ui.perfetto.dev) or both")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a preset field: --set hbm.bandwidth=4TB/s (repeatable)")("help,h", "this help");
  return o;
}

int cmd_list(const std::vector<std::string>& args) {
  std::string what = args.empty() ? "chips" : args[0];
  if (asks_help(args))
    return std::cout << "usage: xpusim list chips|systems|models|ops (chip or system presets, shipped models, kernel ops)\n", 0;
  if (args.size() > 1) throw InputError("list " + what + ": unexpected argument '" + args[1] + "'; expected one topic", "", args[1]);
  if (what == "chips") return std::cout << chip_list_table(), 0;
  if (what == "ops") {
    for (const auto& n : kernel_op_names()) std::cout << n << "\n";
    return 0;
  }
  if (what == "models") return list_models_command();
  if (what == "systems") return std::cout << systems_table(), 0;
  const std::vector<std::string> topics{"chips", "systems", "models", "ops"};
  throw InputError("list: unknown topic '" + what + "'" + nearest_clause(what, topics) + "; expected chips, systems, models or ops", "", what);
}

int cmd_params(const std::vector<std::string>& args) {
  if (args.empty() || asks_help(args)) {
    std::cout << "usage: xpusim params <family>|system\nfamilies:";
    for (const auto& f : families()) std::cout << " " << f.name;
    std::cout << "\nsystem: the fields of a system preset (xpusim list systems)\n";
    return args.empty() ? 2 : 0;
  }
  if (args.size() > 1)
    throw InputError("params " + args[0] + ": unexpected argument '" + args[1] + "'; expected one family or system", "", args[1]);
  if (args[0] == "system") return std::cout << "system: a system of chips (chips/systems/presets)\n\n" << params_table(system_schema()), 0;
  const FamilyEntry& f = family(args[0]);
  std::cout << f.name << ": " << f.description << "\n\n";
  std::vector<ParamInfo> all = f.schema();
  for (const auto& p : power_cost_schema()) all.push_back(p);
  std::cout << params_table(all);
  return 0;
}

int cmd_kernel(int argc, char** argv) {
  po::options_description chip("chip");
  chip.add_options()("chip", po::value<std::string>()->default_value("h100-sxm"), "chip preset (xpusim list chips)")(
      "sustained", po::bool_switch(),
      "assume steady state: the kernel repeated back to back, so the TDP average is already reached and the "
      "clock held at TDP applies from the start (default: one run from idle, whose duration against the power "
      "limit's averaging window decides how much runs at boost)")(
      "after-runs", po::value<double>(),
      "the kernel as a benchmark times it: after this many back-to-back runs of itself from idle (its warm-up), at "
      "the clock the power manager holds then")(
      "flush-gb", po::value<double>(),
      "the kernel as a benchmark that flushes the cache times it: this many GB written just before each call "
      "(DeepGEMM's bench_kineto zeroes 8 GB), so the call starts on a cold L2 full of that write's dirty lines")(
      "functional", po::bool_switch(), "carry real data through the transactions and check the result (small shapes)");
  po::options_description dims("op dimensions");
  for (const auto& n : kernel_arg_names()) {
    const char* help = kernel_arg_help(n).c_str();
    if (n == "causal" || n == "fast-accum") dims.add_options()(n.c_str(), po::value<std::string>()->implicit_value("true"), help);
    else dims.add_options()(n.c_str(), po::value<std::string>(), help);
  }
  po::options_description all;
  all.add(chip).add(dims).add(output_options());
  po::variables_map vm;
  auto parsed = parse_cli(argc, argv, all, true);
  std::vector<std::string> rest = po::collect_unrecognized(parsed.options, po::include_positional);
  try { po::store(parsed, vm); } catch (const po::invalid_option_value& e) { throw cli_value_error(e, all, " (see xpusim kernel --help)"); }
  po::notify(vm);
  if (vm.count("help") || rest.empty()) {
    std::cout << "usage: xpusim kernel <op> --chip <preset> <dimensions> [--dtype D] [--format table|json] [--out DIR] "
                 "[--trace] [--set k=v ...]\n\nops: "
              << join(kernel_op_names())
              << "\n\ndimensions by op:\n"
                 "  gemm          --m --n --k [--batch B] [--wdtype D] [--odtype D] [--fast-accum] [--fp4-scale-block 16|32]\n                e.g. --chip b200 --m 4096 --n 4096 --k 4096 --dtype fp4 (NVFP4; --fp4-scale-block 32: MXFP4); fp8 on a100-sxm is refused\n"
                 "  grouped_gemm  --tokens T --groups G --n --k [--impl deepgemm|cutlass-ptr-array]\n"
                 "  attention     --phase prefill|decode --batch --heads --kv-heads --seq --head-dim [--causal] [--window W] [--impl fa2|fa3|transformers-neuronx]\n"
                 "  rmsnorm, layernorm, softmax, swiglu, gelu, rope, residual_add, copy, sum   --rows --cols\n"
                 "  topk          --tokens --experts --topk;  embedding --tokens --cols\n"
                 "  allreduce, allgather, reducescatter, alltoall, broadcast, sendrecv: on a system of chips,\n"
                 "                --system S --bytes SIZE [--algo A] [--nodes N] (xpusim kernel allreduce --help)\n\n"
              << all << "\n";
    return vm.count("help") ? 0 : 2;
  }
  // An unknown op is named first (its options, such as a collective's --system, would be unknown too).
  const std::vector<std::string> ops = kernel_op_names();
  if (!rest.empty() && rest[0].rfind("--", 0) != 0 && std::find(ops.begin(), ops.end(), rest[0]) == ops.end())
    throw InputError("kernel: unknown op '" + rest[0] + "'" + hint_clause(nearest_name(rest[0], ops)) + "; ops: " + join(ops), "", rest[0]);
  for (const auto& r : rest)
    if (r.rfind("--", 0) == 0) throw InputError("kernel: unknown option " + r + flag_hint(r, all) + " (see xpusim kernel --help)", r, "");
  if (rest.size() > 1) throw InputError("kernel: one op at a time, got '" + join(rest, " ") + "'", "", rest[1]);
  std::string format = vm["format"].as<std::string>();
  check_format(format);
  std::map<std::string, std::string> args;
  for (const auto& n : kernel_arg_names())
    if (vm.count(n)) args[n] = vm[n].as<std::string>();
  std::vector<std::string> sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto model = resolving("--chip", vm["chip"].as<std::string>(), [&] { return load_chip(vm["chip"].as<std::string>(), sets); });
  OpSpec op = make_op(rest[0], args);
  bool trace = vm["trace"].as<bool>();
  std::string tf = vm["trace-format"].as<std::string>();
  check_trace_flags(trace, tf, !vm["trace-format"].defaulted(), vm.count("out") > 0);
  // trace.h5 alone is streamed as the simulation runs (memory stays flat); Perfetto sorts in memory.
  std::unique_ptr<H5TraceWriter> h5;
  StagedFiles files;  // the results folder's files, renamed into place together once all are written
  if (trace && tf == "hdf5") h5 = std::make_unique<H5TraceWriter>(files.stage(vm["out"].as<std::string>() + "/trace.h5"));
  KernelStudyOptions ko;
  ko.sustained = vm["sustained"].as<bool>();
  if (vm.count("after-runs")) ko.after_runs = checked_after_runs(vm["after-runs"].as<double>());
  if (vm.count("flush-gb")) {
    const double gb = vm["flush-gb"].as<double>();
    if (!std::isfinite(gb) || gb < 0 || gb > 1e6) throw InputError("--flush-gb " + strformat("%g", gb) + ": expected GB written before each call, 0 to 1e6", "--flush-gb", strformat("%g", gb));
    ko.flush_bytes = gb * 1e9;
  }
  ko.functional = vm["functional"].as<bool>();
  ko.trace = trace && !h5;
  ko.trace_sink = h5.get();
  KernelStudy study = run_kernel_study(*model, op, ko);
  const KernelRun& run = study.run;
  nlohmann::json j = kernel_study_json(study, op);
  if (h5) h5->finish(trace_meta(run.result));
  if (vm.count("out")) write_run_dir(vm["out"].as<std::string>(), run.result, j, trace && !h5, tf, &files);
  if (format == "json") std::cout << j.dump(2) << "\n";
  else std::cout << kernel_study_table(study, op);
  return run.check.ran && !run.check.passed ? 1 : 0;
}

}  // namespace

int cli_main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  std::vector<std::string> rest(argv + 2, argv + argc);
  if (cmd == "list") return cmd_list(rest);
  if (cmd == "params") return cmd_params(rest);
  if (cmd == "kernel" && argc > 2 && is_collective_name(argv[2])) return cmd_collective(argc - 1, argv + 1);
  if (cmd == "kernel") return cmd_kernel(argc - 1, argv + 1);
  const bool collectives = std::find(rest.begin(), rest.end(), "--collectives") != rest.end();
  if (cmd == "validate" && collectives && std::find(rest.begin(), rest.end(), "--models") != rest.end())  // was "unrecognised option"
    throw InputError::first_of("validate --collectives --models: two sets of rows, each with its own data: give one", "--collectives --models");
  if (cmd == "validate" && collectives) return cmd_validate_collectives(argc - 1, argv + 1);
  if (cmd == "validate") return cmd_validate(argc - 1, argv + 1);
  if (cmd == "run") return cmd_run(argc - 1, argv + 1);
  if (cmd == "serve") return cmd_serve(argc - 1, argv + 1);
  if (cmd == "compare") return cmd_compare(argc - 1, argv + 1);
  if (cmd == "sweep") return cmd_sweep(argc - 1, argv + 1);
  if (cmd == "--version" || cmd == "version") {
    std::cout << "xpusim " << XPUSIM_VERSION << "\n";
    return 0;
  }
  std::vector<std::string> cmds = {"list", "params", "kernel", "validate", "run", "serve", "compare", "sweep"};
  throw InputError("unknown command '" + cmd + "'" + nearest_clause(cmd, cmds) + "; see xpusim --help", "", cmd);
}

int cli_run(int argc, char** argv) {
  try {
    argc = take_limit_flags(argc, argv);  // --max-transactions, --max-memory: any command
    return cli_main(argc, argv);
  } catch (const InputError& e) {
    std::cerr << "xpusim: error: " << one_line(e.what()) << "\n";
    return 2;
  } catch (const po::error& e) {
    std::cerr << "xpusim: error: " << one_line(e.what()) << " (see xpusim " << (argc > 1 ? argv[1] : "") << " --help)\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "xpusim: error: out of memory: the run is larger than this machine can hold "
                 "(reduce the sizes, or lower --max-memory so that it is refused up front)\n";
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "xpusim: error: " << one_line(e.what()) << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "xpusim: internal error: " << one_line(e.what()) << "\n";
    return 3;
  }
}

}  // namespace xpu
