// Python bindings for whole-model runs and serving studies (xpusim.run, xpusim.serve).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "sim/app/cli_parse.h"
#include "sim/app/system_cmd.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"
#include "sim/run/system_run.h"

namespace py = pybind11;

namespace xpu {

void bind_run(py::module_& m) {
  // xpusim.run() and xpusim.serve(): their keywords as `xpusim run`/`xpusim serve` flags, parsed, checked and run
  // by the CLI's own code (run_from_flags, serve_from_flags); --out writes the run's folder as the CLI does.
  m.def("run_cli_json", [](const std::vector<std::string>& args) {
    const auto vm = parse_flags("run", args, run_cli_options());
    py::gil_scoped_release release;
    RunTarget t;
    StagedFiles staged;
    const nlohmann::json j = model_run_json(run_from_flags(vm, t, staged), t.chip.get());
    if (vm.count("out")) write_report_dir(vm["out"].as<std::string>(), t.chip->full_yaml(), t.system, j, &staged);
    return j.dump();
  });
  m.def("serve_cli_json", [](const std::vector<std::string>& args) {
    const auto vm = parse_flags("serve", args, serve_cli_options());
    py::gil_scoped_release release;
    RunTarget t;
    StagedFiles staged;
    const nlohmann::json j = serve_json(serve_from_flags(vm, t, staged));
    if (vm.count("out")) write_report_dir(vm["out"].as<std::string>(), t.chip->full_yaml(), t.system, j, &staged);
    return j.dump();
  });
  m.def("chip_config", [](const std::string& chip, const std::vector<std::string>& sets) {
    return resolving("--chip", chip, [&] { return load_chip(chip, sets); })->full_yaml();
  });
}

}  // namespace xpu
