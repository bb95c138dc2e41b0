#include "sim/app/system_cmd.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "sim/app/cli_parse.h"
#include "sim/base/flags.h"
#include "sim/run/registry.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"
#include "sim/run/system_run.h"
#include "sim/system/collective_run.h"

namespace po = boost::program_options;

namespace xpu {

bool is_collective_name(const std::string& op) {
  for (const auto& n : collective_names())
    if (n == op) return true;
  return false;
}

po::options_description collective_flags(int argc, char** argv, po::variables_map& vm) {
  po::options_description o("collective");
  o.add_options()("system", po::value<std::string>()->default_value("hgx-h100x8"), "system preset (xpusim list systems)")(
      "bytes", po::value<std::string>(),
      "nccl-tests size: all-reduce per-rank buffer, all-gather total output, reduce-scatter total input, "
      "all-to-all per-rank send buffer")("algo", po::value<std::string>()->default_value("auto"),
                                          "force an algorithm: ring, nvls, oneshot, twoshot, torus, hierarchical, direct; "
                                          "with --tokens: deepep (DeepEP's normal kernels) or deepep-ll (low-latency)")(
      "proto", po::value<std::string>()->default_value("auto"), "force a protocol: ll, ll128, simple")(
      "stack", po::value<std::string>(), "all-reduce by a serving stack's own kernel where its rule takes it, as serve runs a TP "
      "all-reduce: trtllm, vllm, sglang (with --algo oneshot|twoshot: that kernel, forced)")("rows", po::value<std::int64_t>(),
      "with --stack trtllm: tokens of the [tokens, hidden] buffer (its rule picks by them)")(
      "nodes", po::value<int>()->default_value(0), "replicate the node over the scale-out network (0: the preset's)")(
      "devices", po::value<int>(), "expected number of chips (checked against the system)")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a system field: --set scale_up.link.latency=1us")(
      "format", po::value<std::string>()->default_value("table"), "table or json")(
      "tokens", po::value<std::int64_t>(), "alltoall as an expert dispatch or combine (not --bytes): tokens each rank sends")(
      "hidden", po::value<std::int64_t>(), "with --tokens: hidden size")("topk", po::value<std::int64_t>(), "experts per token")(
      "experts", po::value<std::int64_t>(), "routed experts (routed uniformly, consecutive blocks per rank)")("expert-groups",
      po::value<std::int64_t>(), "expert groups (group-limited routing; default 1)")("groups-per-token", po::value<std::int64_t>(),
      "groups a token's experts lie in (default 1)")("dispatch-dtype", po::value<std::string>()->default_value("bf16"),
      "what dispatch sends (fp8: with its scales)")("stage", po::value<std::string>()->default_value("dispatch"), "dispatch or combine (bf16)")(
      "routing", po::value<std::string>()->default_value("uniform"), "with --tokens: as run's --routing (uniform: the step's "
      "random draw, its busiest rank receiving more; even: every rank its expected share; zipf:S, hot:F)")(
      "out", po::value<std::string>(), "write config.resolved.yaml and stats.json into this folder")("trace", "record every rank's operations and "
      "the fabric's link transfers (trace.h5 in --out)")("trace-format", po::value<std::string>()->default_value("hdf5"), "hdf5, perfetto (trace.json) or both")("help,h", "this help");
  po::positional_options_description pos;
  pos.add("op", -1);  // every word: the op and any stray one, refused below by name
  po::options_description words_opt;  // not in --help (it listed a bare "--op arg")
  words_opt.add_options()("op", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(o).add(words_opt);
  po::command_line_parser p(argc, argv);
  p.options(all).positional(pos).style(cli_style());
  try {
    po::store(p.run(), vm);
  } catch (const po::invalid_option_value& e) {  // before po::error: named as every parser names it (cli_parse.h)
    throw cli_value_error(e, all, " (see xpusim kernel " + std::string(argc > 1 ? argv[1] : "") + " --help)");
  } catch (const po::error& e) {
    const auto* unknown = dynamic_cast<const po::unknown_option*>(&e);
    throw InputError(collective_option_error(e.what(), unknown ? unknown->get_option_name() : "", argc > 1 ? argv[1] : "", unknown ? flag_hint(unknown->get_option_name(), all) : ""), unknown ? unknown->get_option_name() : "", "");
  }
  po::notify(vm);
  return o;
}

CollectiveReport collective_from_flags(const po::variables_map& vm, StagedFiles& staged) {
  const auto files = system_trace_files(vm, staged);
  SystemTrace* trace = files ? files->trace() : nullptr;
  const auto words = vm["op"].as<std::vector<std::string>>();
  if (words.size() > 1)
    throw InputError("kernel " + words[0] + ": unexpected argument '" + words[1] + "' (expected --flag value pairs; see xpusim kernel " +
                     words[0] + " --help)", "", words[1]);
  std::vector<std::string> sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  SystemSpec spec = resolving("--system", vm["system"].as<std::string>(), [&] { return load_system(vm["system"].as<std::string>(), sets, vm["nodes"].as<int>()); });
  check_system_chip(spec);
  if (vm.count("devices")) check_system_devices(spec, vm["devices"].as<int>());
  CollectiveRequest req;
  req.kind = parse_collective(words[0]);
  req.algorithm = vm["algo"].as<std::string>();
  req.protocol = vm["proto"].as<std::string>();
  CollectiveReport rep;
  if (vm.count("tokens")) {  // an expert dispatch or combine: run_expert_exchange checks the values
    if (vm.count("bytes")) throw InputError("--bytes and --tokens: give one (--tokens sizes the all-to-all from its tokens)", "--bytes", "");
    ExpertExchange x{req.kind, req.algorithm, req.protocol, vm["stage"].as<std::string>(), parse_dtype(vm["dispatch-dtype"].as<std::string>(), "--dispatch-dtype")};
    for (auto [flag, field] : {std::pair{"tokens", &x.tokens}, {"hidden", &x.hidden}, {"topk", &x.topk}, {"experts", &x.experts},
                               {"expert-groups", &x.groups}, {"groups-per-token", &x.groups_per_token}})
      if (vm.count(flag)) *field = vm[flag].as<std::int64_t>();
    x.routing = Routing::parse(vm["routing"].as<std::string>());
    rep = run_expert_exchange(spec, x, trace);
  } else {
    bool expert = !vm["stage"].defaulted() || !vm["dispatch-dtype"].defaulted() || !vm["routing"].defaulted();  // given, they would be ignored
    for (const char* f : {"hidden", "topk", "experts", "expert-groups", "groups-per-token"}) expert |= vm.count(f) > 0;
    if (!vm.count("bytes") || expert)
      throw InputError(vm.count("bytes") ? "--hidden, --topk, --experts: they size an expert exchange (as --expert-groups, --groups-per-token, --stage, --dispatch-dtype, --routing do), which --tokens N gives (not --bytes)"
                                         : "kernel " + name(req.kind) + ": give --bytes SIZE (alltoall: or an expert exchange, --tokens N --hidden H --topk K --experts E)", vm.count("bytes") ? "--hidden" : "--bytes", "");
    req.bytes = parse_message_bytes(vm["bytes"].as<std::string>());
    if (vm.count("stack")) req.stack = vm["stack"].as<std::string>();
    if (vm.count("rows")) req.rows = vm["rows"].as<std::int64_t>();  // run_collective checks it
    rep = run_collective(spec, req, trace);
  }
  if (files) files->finish(spec.name, spec.resolved_yaml);
  return rep;
}

int cmd_collective(int argc, char** argv) {
  po::variables_map vm;
  const po::options_description o = collective_flags(argc, argv, vm);
  if (vm.count("help")) {
    std::cout << "usage: xpusim kernel " << join(collective_names(), "|") << " --system S --bytes SIZE [--algo A] "
              << "[--proto P] [--nodes N] [--format json] [--out DIR --trace]\n       xpusim kernel alltoall --tokens N --hidden H --topk K --experts E ...\n\n"
              << o << "\n";
    return 0;
  }
  const std::string format = vm["format"].as<std::string>();
  check_format(format);
  StagedFiles staged;  // the trace and the results, renamed into place together
  const CollectiveReport rep = collective_from_flags(vm, staged);
  if (vm.count("out")) write_results_dir(vm["out"].as<std::string>(), rep.resolved_yaml, rep.json(), rep.stats, &staged);
  if (format == "json") std::cout << rep.json().dump(2) << "\n";
  else std::cout << rep.table();
  return 0;
}

int cmd_validate_collectives(int argc, char** argv) {
  po::options_description o("validate --collectives");
  o.add_options()("collectives", po::bool_switch(), "collectives measured on systems of chips")(
      "data", po::value<std::string>(), "collectives CSV (default workloads/validation/collectives.csv)")(
      "filter", po::value<std::string>()->default_value(""), "row id prefix")("format", po::value<std::string>()->default_value("table"), "table or json")(
      "help,h", "this help");
  po::variables_map vm;
  if (parse_or_help(argc, argv, o, vm, "usage: xpusim validate --collectives [--data CSV] [--filter ID] [--format table|json]\n"
                                       "Simulates every measured collective a system preset expresses: busbw and time, predicted vs measured.\n\n"))
    return 0;
  check_flag_choice("--format", vm["format"].as<std::string>(), {"table", "json"});
  std::string csv = vm.count("data") ? vm["data"].as<std::string>() : default_collectives_csv();
  std::vector<CollectiveRow> rows, all = read_collective_rows(csv);
  for (const auto& r : all)
    if (r.id.rfind(vm["filter"].as<std::string>(), 0) == 0) rows.push_back(r);
  std::vector<CollectiveSkip> skipped;
  std::vector<CollectivePoint> pts = validate_collectives(rows, &skipped);
  if (vm["format"].as<std::string>() == "json") std::cout << collective_points_json(pts, skipped).dump(2) << "\n";
  else std::cout << collective_points_table(pts, rows.size(), skipped);
  return 0;
}

void add_layout_options(po::options_description& o) {
  o.add_options()("tp", po::value<int>()->default_value(1), "tensor-parallel degree (ranks of a TP group)")(
      "ep", po::value<int>()->default_value(1), "expert-parallel degree: a divisor of --tp (experts over the TP group, each split tp/ep ways) or --tp x --dp (data-parallel attention)")(
      "pp", po::value<int>()->default_value(1), "pipeline stages")(
      "dp", po::value<int>()->default_value(1), "data-parallel replicas, each with its share of the sequences (run) or of the users and requests (serve)")(
      "microbatches", po::value<int>()->default_value(0), "pipeline micro-batches per step (default: --pp)")(
      "redundant-experts", po::value<int>()->default_value(0),
      "replicas of the hottest routed experts over the --ep ranks, placed by EPLB (DeepSeek-V3: 32 for prefill); experts + N a multiple of --ep")(
      "sp", "sequence parallelism in the TP group: norms on tokens/tp, reduce-scatter + all-gather for each all-reduce")(
      "two-batch-overlap", "each replica's batch as two micro-batches whose kernels interleave, one's collectives under the other's compute (SGLang --enable-two-batch-overlap; implies --overlap; no --pp)")(
      "system", po::value<std::string>(), "system preset (xpusim list systems): its chips and fabric; tp x pp x dp must use all its chips")(
      "nodes", po::value<int>(), "replicate a node system over its scale-out network")(
      "devices", po::value<int>(), "with --chip: that chip's default system with this many chips")(
      "overlap", "the software overlaps collectives with independent compute (off: in line, as vLLM/TensorRT-LLM TP)")(
      "pad-heads", po::value<int>()->default_value(0), "trainium family only: N NeuronCores in the TP group (a multiple of --tp), heads as AWS Neuron stores them, KV heads N does not split replicated per query head, query heads padded to a multiple of N; "
      "also at --tp 1, a chip's own cores (two on trn1/inf2); an N that divides the KV heads pads nothing, as Neuron then shards whole KV heads");
}

void layout_args(const po::variables_map& vm, ScenarioArgs& a) {
  a.tp = vm["tp"].as<int>();
  a.ep = vm["ep"].as<int>();
  a.pp = vm["pp"].as<int>();
  a.dp = vm["dp"].as<int>();
  a.microbatches = vm["microbatches"].as<int>();
  a.redundant_experts = vm["redundant-experts"].as<int>();
  a.sp = vm.count("sp") > 0;
  a.two_batch_overlap = vm.count("two-batch-overlap") > 0;
  a.pad_heads = vm["pad-heads"].as<int>();
}

void layout_args(const po::variables_map& vm, Scenario& s) {
  ScenarioArgs a;
  layout_args(vm, a);
  set_layout(s, a);
}

RunTarget run_target(const po::variables_map& vm) {
  SystemChoice c;
  if (vm.count("system")) c.system = non_empty_flag("--system", vm["system"].as<std::string>(), "a system preset (xpusim list systems) or the path of a system .yaml");
  for (auto [flag, field] : {std::pair{"nodes", &c.nodes}, {"devices", &c.devices}})
    if (vm.count(flag)) {
      *field = vm[flag].as<int>();
      if (*field <= 0) throw InputError(std::string("--") + flag + " must be a positive integer, got " + std::to_string(*field), std::string("--") + flag, std::to_string(*field));
    }
  const auto sets = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  RunTarget t = load_run_target(non_empty_flag("--chip", vm["chip"].as<std::string>(), "a chip preset (xpusim list chips) or the path of a chip .yaml"), c, sets, vm.count("overlap") > 0);
  if (t.system && !vm["chip"].defaulted() && vm["chip"].as<std::string>() != t.system->spec.chip)
    throw InputError("--chip " + vm["chip"].as<std::string>() + " with --system " + t.system->spec.name + ", whose chips are " +
                     t.system->spec.chip + " (drop --chip, or use --chip C --devices N)", "--chip", vm["chip"].as<std::string>());
  return t;
}

}  // namespace xpu
