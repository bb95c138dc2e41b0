// Python bindings for whole-model runs and serving studies (xpusim.run, xpusim.serve).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>

#include "sim/app/cli_parse.h"
#include "sim/app/system_cmd.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"
#include "sim/run/system_run.h"

namespace py = pybind11;

namespace xpu {

namespace {
Scenario scenario_of(const std::string& phase, std::int64_t batch, std::int64_t input, std::int64_t output,
                     const std::string& dtype, const std::string& wdtype, const std::string& kvdtype,
                     const std::string& fusion, const std::string& routing, const std::string& adtype = "",
                     const std::map<std::string, int>& layout = {}) {
  ScenarioArgs a;
  a.phase = phase;
  a.batch = batch;
  a.input = input;
  a.output = output;
  a.dtype = dtype;
  a.wdtype = wdtype;
  a.kvdtype = kvdtype;
  a.fusion = fusion;
  a.routing = routing;
  a.adtype = adtype;
  for (auto [k, degree] : {std::pair{"tp", &a.tp}, {"ep", &a.ep}, {"pp", &a.pp}, {"dp", &a.dp}, {"microbatches", &a.microbatches}, {"pad_heads", &a.pad_heads},
                          {"redundant_experts", &a.redundant_experts}})
    if (layout.count(k)) *degree = layout.at(k);
  a.two_batch_overlap = layout.count("two_batch_overlap") && layout.at("two_batch_overlap") != 0;
  if (layout.count("neuron_buckets")) a.neuron_buckets = layout.at("neuron_buckets");
  return make_scenario(a);
}
// The chip and system of a Python call: `system` by name, or `devices` of the chip's default system, with the
// chip's and the system's overrides in `sets` (as the CLI's --set).
RunTarget py_target(const std::string& chip, const std::vector<std::string>& sets, const std::string& system, int devices,
                    int nodes, bool overlap) {
  SystemChoice sc;
  sc.system = system;
  sc.nodes = nodes;
  sc.devices = devices;
  return load_run_target(chip, sc, sets, overlap);
}
}  // namespace

void bind_run(py::module_& m) {
  m.def(
      "run_json",
      [](const std::string& chip, const std::vector<std::string>& sets, const std::string& model,
         const std::string& phase, std::int64_t batch, std::int64_t input, std::int64_t output, const std::string& dtype,
         const std::string& wdtype, const std::string& kvdtype, const std::string& fusion, const std::string& routing,
         bool sustained, const std::string& adtype, const std::string& system, const std::map<std::string, py::object>& layout,
         double after_runs) {
        auto get = [&](const char* k) { return layout.at(k).cast<int>(); };
        ModelRunOptions o;
        o.sustained = sustained;
        if (after_runs != -1.0) o.time_after_runs(after_runs);  // -1: not given (as `run --after-runs`)
        RunTarget t = py_target(chip, sets, system, get("devices"), get("nodes"), layout.at("overlap").cast<bool>());
        o.system = t.system;
        if (o.system) o.system->fold = layout.at("fold").cast<bool>();
        const auto& c = t.chip;
        ModelConfig mc = load_model(model);
        std::map<std::string, int> degrees;
        for (const char* k : {"tp", "ep", "pp", "dp", "microbatches", "pad_heads", "redundant_experts", "two_batch_overlap", "neuron_buckets"})
          degrees[k] = get(k);
        Scenario s = scenario_of(phase, batch, input, output, dtype, wdtype, kvdtype, fusion, routing, adtype, degrees);
        s.sp = layout.at("sp").cast<bool>();
        ModelRunResult r;
        {
          py::gil_scoped_release release;
          r = run_model(*c, mc, s, o);
        }
        return model_run_json(r, c.get()).dump();
      });
  // xpusim.serve(): its keywords as `xpusim serve` flags, parsed, checked and run by the CLI's own code
  // (serve_from_flags); --out writes the run's folder as the CLI does.
  m.def("serve_cli_json", [](std::vector<std::string> args) {
    args.insert(args.begin(), "serve");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    boost::program_options::variables_map vm;
    boost::program_options::store(parse_cli(static_cast<int>(argv.size()), argv.data(), serve_cli_options()), vm);
    py::gil_scoped_release release;
    RunTarget t;
    const nlohmann::json j = serve_json(serve_from_flags(vm, t));
    if (vm.count("out")) write_report_dir(vm["out"].as<std::string>(), t.chip->full_yaml(), t.system, j);
    return j.dump();
  });
  m.def("chip_config", [](const std::string& chip, const std::vector<std::string>& sets) {
    return load_chip(chip, sets)->full_yaml();
  });
}

}  // namespace xpu
