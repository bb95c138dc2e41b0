// Python bindings for systems of chips (xpusim.kernel/collective/expert_exchange, list_systems, system_config).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "kernels/collective/collective.h"
#include "sim/app/system_cmd.h"
#include "sim/io/output.h"
#include "sim/system/collective_run.h"

namespace py = pybind11;

namespace xpu {

void bind_system(py::module_& m) {
  // xpusim.kernel(<collective>), xpusim.collective and xpusim.expert_exchange: `xpusim kernel <op>`'s flags (args: the
  // op, then the flags), parsed, checked and run by the CLI's own code; --out writes the folder as the CLI does.
  m.def("collective_cli_json", [](std::vector<std::string> args) {
    args.insert(args.begin(), "kernel");
    if (args.size() > 1) resolving("--op", args[1], [&] { return parse_collective(args[1]); });  // an unknown one: op='x'
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    boost::program_options::variables_map vm;
    collective_flags(static_cast<int>(argv.size()), argv.data(), vm);
    py::gil_scoped_release release;  // the string is built before the GIL is taken back
    StagedFiles staged;
    const CollectiveReport rep = collective_from_flags(vm, staged);
    if (vm.count("out")) write_results_dir(vm["out"].as<std::string>(), rep.resolved_yaml, rep.json(), rep.stats, &staged);
    return rep.json().dump();
  });
  m.def("system_config", [](const std::string& system, const std::vector<std::string>& sets, int nodes) { return resolving("--system", system, [&] { return load_system(system, sets, nodes); }).resolved_yaml; },
        py::arg("system"), py::arg("sets"), py::arg("nodes") = 0);
  m.def("list_systems", [] { std::vector<std::string> out; for (const auto& s : list_systems()) out.push_back(s.name); return out; });
}

}  // namespace xpu
