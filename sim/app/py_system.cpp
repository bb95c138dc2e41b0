// Python bindings for systems of chips (xpusim.collective, xpusim.expert_exchange, xpusim.list_systems):
// the same path as `xpusim kernel <collective> --system S` (and `kernel alltoall --tokens N`).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "sim/app/system_cmd.h"
#include "sim/base/dtype.h"
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
      "expert_exchange_json",
      [](const std::string& system, const std::vector<std::string>& sets, int nodes, std::int64_t tokens, std::int64_t hidden,
         std::int64_t topk, std::int64_t experts, std::int64_t groups, std::int64_t groups_per_token, const std::string& dtype,
         const std::string& stage, const std::string& algo) {
        SystemSpec spec = load_system(system, sets, nodes);
        check_system_chip(spec);
        ExpertExchange x{CollKind::AllToAll, algo, "auto", stage, parse_dtype(dtype)};
        x.tokens = tokens, x.hidden = hidden, x.topk = topk, x.experts = experts, x.groups = groups, x.groups_per_token = groups_per_token;
        CollectiveReport rep;
        {
          py::gil_scoped_release release;
          rep = run_expert_exchange(spec, x);
        }
        return rep.json().dump();
      },
      py::arg("system"), py::arg("sets"), py::arg("nodes"), py::arg("tokens"), py::arg("hidden"), py::arg("topk"), py::arg("experts"),
      py::arg("groups"), py::arg("groups_per_token"), py::arg("dtype"), py::arg("stage"), py::arg("algo"));
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
