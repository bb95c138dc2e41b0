// CLI glue for systems of chips: `kernel <collective> --system S`, `list systems`, `params system`,
// `validate --collectives`. The work is done in sim/system (collective_run.h).
#pragma once
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <optional>

#include "sim/interconnect/system_spec.h"
#include "sim/io/output.h"
#include "sim/run/model_run.h"
#include "sim/run/run_target.h"
#include "sim/run/system_run.h"  // check_system_chip

namespace xpu {
bool is_collective_name(const std::string& op);
int cmd_collective(int argc, char** argv);   // argv[0] = "kernel", argv[1] = the collective
// `kernel <collective>`'s flags into vm (returns the options), and what they ask run: the CLI's and the module's one path.
boost::program_options::options_description collective_flags(int argc, char** argv, boost::program_options::variables_map& vm);
struct CollectiveReport;
CollectiveReport collective_from_flags(const boost::program_options::variables_map& vm, StagedFiles& staged);
// --trace, --trace-format and --out of run and kernel <collective>: null without --trace (open_system_trace).
inline std::unique_ptr<SystemTraceFiles> system_trace_files(const boost::program_options::variables_map& vm, StagedFiles& staged) {
  return open_system_trace(vm.count("trace") > 0, vm["trace-format"].as<std::string>(), !vm["trace-format"].defaulted(), vm.count("out") ? vm["out"].as<std::string>() : "", staged);
}
int cmd_validate_collectives(int argc, char** argv);
// The layout and system flags that run, serve and compare share.
void add_layout_options(boost::program_options::options_description& o);
void layout_args(const boost::program_options::variables_map& vm, ScenarioArgs& a);
void layout_args(const boost::program_options::variables_map& vm, Scenario& s);
// --chip C | --system S [--nodes N] | --chip C --devices N, [--overlap] and --set (the chip's fields and the
// system's, load_run_target): the chip and system of run and serve.
RunTarget run_target(const boost::program_options::variables_map& vm);
// `xpusim run`'s flags, and the run they ask for (`target`: the chip and system it ran on; `staged`: its --trace files).
boost::program_options::options_description run_cli_options();
ModelRunResult run_from_flags(const boost::program_options::variables_map& vm, RunTarget& target, StagedFiles& staged);
// `xpusim serve`'s flags, and the server they ask for run (`target`: the chip and system it ran on).
struct ServeResult;
boost::program_options::options_description serve_cli_options();
ServeResult serve_from_flags(const boost::program_options::variables_map& vm, RunTarget& target, StagedFiles& staged);
// `xpusim compare`'s flags and the studies they ask for (one per model of --study with `named_study`; else, as
// xpusim.compare without study=, the flags alone on chat and llama-3.1-8b), and the folder each goes to.
struct CompareRequest;
boost::program_options::options_description compare_options();
std::vector<CompareRequest> compare_requests(const boost::program_options::variables_map& vm, bool named_study);
std::string compare_dir(const boost::program_options::variables_map& vm, const CompareRequest& r);
}  // namespace xpu
