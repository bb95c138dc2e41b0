// Python bindings for systems of chips (xpusim.collective, xpusim.expert_exchange, xpusim.list_systems):
// the same path as `xpusim kernel <collective> --system S` (and `kernel alltoall --tokens N`).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "sim/app/system_cmd.h"
#include "sim/run/system_run.h"
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
        py::gil_scoped_release release;  // the string is built before the GIL is taken back
        return run_collective(spec, r).json().dump();
      },
      py::arg("collective"), py::arg("system"), py::arg("bytes"), py::arg("algo"), py::arg("proto"), py::arg("nodes"),
      py::arg("sets"));
  m.def("expert_exchange_json", [](const std::string& system, const std::vector<std::string>& sets, int nodes, std::int64_t tokens,
                                   std::int64_t hidden, std::int64_t topk, std::int64_t experts, std::int64_t groups,
                                   std::int64_t per_token, const std::string& dtype, const std::string& stage, const std::string& algo,
                                   const std::string& routing) {
    SystemSpec spec = load_system(system, sets, nodes);
    check_system_chip(spec);
    ExpertExchange x{CollKind::AllToAll, algo, "auto", stage, parse_dtype(dtype), tokens, hidden, topk, experts, groups, per_token};
    x.routing = Routing::parse(routing);
    py::gil_scoped_release release;  // the string is built before the GIL is taken back
    return run_expert_exchange(spec, x).json().dump();
  });
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
