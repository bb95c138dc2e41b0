// Python bindings the sweep engine needs (xpusim.sweeps): the kernel argument names a spec may use, the
// compare study as JSON, and the whole CLI in-process (`python3 -m xpusim kernel ...`).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdio>
#include <stdexcept>
#include <iostream>

#include "sim/app/cli_parse.h"
#include "sim/app/commands.h"
#include "sim/app/system_cmd.h"
#include "sim/serve/compare.h"
#include "sim/serve/study.h"
#include "sim/io/compare_report.h"
#include "sim/run/kernel_run.h"
#include "sim/serve/scheduler.h"
#include "sim/validation/validate.h"

namespace py = pybind11;
namespace po = boost::program_options;

namespace xpu {

namespace {
// xpusim.compare(): its keywords as `xpusim compare` flags, parsed and checked by the CLI's own code, each
// study's summary.json; --out writes the folders as the CLI does, nothing is printed.
std::vector<std::string> compare_cli_json(const std::vector<std::string>& args, bool named_study) {
  const po::variables_map vm = parse_flags("compare", args, compare_options());
  std::vector<std::string> out;
  for (const CompareRequest& r : compare_requests(vm, named_study)) {
    py::gil_scoped_release release;
    CompareStudy study = compare_study(r);
    for (auto& row : study.rows) row.validation = validation_coverage(row.family);
    if (vm.count("out")) {
      write_compare_dir(compare_dir(vm, r), study);
      if (!vm["no-report"].as<bool>() && render_compare_report(compare_dir(vm, r)) != 0)
        throw std::runtime_error(compare_dir(vm, r) + "/report.html could not be written (the study is; no_report=True skips it)");
    }
    out.push_back(compare_summary_json(study).dump());
  }
  return out;
}
}  // namespace

void bind_sweep(py::module_& m) {
  m.def("kernel_arg_names", [] { return kernel_arg_names(); });
  m.def("list_ops", [] { return kernel_op_names(); });  // as `xpusim list ops` (broadcast, sendrecv included)
  m.def("compare_cli_json", &compare_cli_json, py::arg("args"), py::arg("named_study"));
  // A named study's models and units (sweeps check the keys a compare sweep sets against its units).
  m.def("study_units", [](const std::string& study) {
    const StudyDef d = load_study(study);
    return py::dict(py::arg("models") = d.models, py::arg("units") = d.units, py::arg("units_for") = d.units_for);
  });
  // A compare unit's chip and system presets as compare resolves them (sweeps check and record them).
  m.def(
      "compare_unit_config",
      [](const std::string& entry, const std::vector<std::string>& sets) {
        const UnitConfig c = unit_config(entry, sets);
        return py::dict(py::arg("chip") = c.chip, py::arg("system") = c.system, py::arg("chip_yaml") = c.chip_yaml,
                        py::arg("system_yaml") = c.system_yaml);
      },
      py::arg("entry"), py::arg("sets"));
  m.def("cli_main", [](const std::vector<std::string>& args) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = cli_run(static_cast<int>(copy.size()), argv.data());
    std::cout.flush();
    std::fflush(stdout);
    return rc;
  });
}

}  // namespace xpu
