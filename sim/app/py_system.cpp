// Python bindings for systems of chips (xpusim.collective, xpusim.list_systems): the same path as
// `xpusim kernel <collective> --system S`.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "sim/app/system_cmd.h"
#include "sim/system/collective_run.h"

namespace py = pybind11;

namespace xpu {

void bind_system(py::module_& m) {
  m.def(
      "collective_json",
      [](const std::string& collective, const std::string& system, const std::string& bytes, const std::string& algo,
         const std::string& proto, int nodes, const std::vector<std::string>& sets) {
        SystemSpec spec = load_system(system, sets, nodes);
        check_system_chip(spec);
        CollectiveRequest r;
        r.kind = parse_collective(collective);
        r.bytes = parse_message_bytes(bytes);
        r.algorithm = algo;
        r.protocol = proto;
        CollectiveReport rep;
        {
          py::gil_scoped_release release;
          rep = run_collective(spec, r);
        }
        return rep.json().dump();
      },
      py::arg("collective"), py::arg("system"), py::arg("bytes"), py::arg("algo"), py::arg("proto"), py::arg("nodes"),
      py::arg("sets"));
  m.def(
      "system_config",
      [](const std::string& system, const std::vector<std::string>& sets, int nodes) {
        return load_system(system, sets, nodes).resolved_yaml;
      },
      py::arg("system"), py::arg("sets"), py::arg("nodes") = 0);
  m.def("list_systems", [] {
    std::vector<std::string> out;
    for (const auto& s : list_systems()) out.push_back(s.name);
    return out;
  });
}

}  // namespace xpu
