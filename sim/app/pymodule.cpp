// The Python module `xpusim` (pybind11): kernel runs returning plain dicts.
#include <pybind11/stl.h>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"
#include "sim/io/perfetto.h"
#include "sim/io/py_module.h"  // pybind11 and xpusim.InputError
#include "sim/io/reports.h"
#include "workloads/model.h"

namespace py = pybind11;

namespace xpu {
// Further bindings live in sim/app/py_*.cpp, one file per topic; each defines its function weakly
// referenced here so that a topic can be absent from a build.
__attribute__((weak)) void bind_functional(py::module_& m);
__attribute__((weak)) void bind_session(py::module_& m);
__attribute__((weak)) void bind_run(py::module_& m);
__attribute__((weak)) void bind_system(py::module_& m);
__attribute__((weak)) void bind_sweep(py::module_& m);
}  // namespace xpu

PYBIND11_MODULE(_xpusim, m) {
  m.doc() = "xpusim: cycle-approximate simulation of AI accelerators";
  if (xpu::bind_functional) xpu::bind_functional(m);
  if (xpu::bind_session) xpu::bind_session(m);
  if (xpu::bind_run) xpu::bind_run(m);
  if (xpu::bind_system) xpu::bind_system(m);
  if (xpu::bind_sweep) xpu::bind_sweep(m);
  xpu::register_input_error(m);  // xpusim.InputError, its data as attributes
  m.def(
      "kernel_json",
      [](const std::string& op, const std::string& chip, const std::map<std::string, std::string>& args,
         const std::vector<std::string>& sets, bool functional, bool sustained, double after_runs) {
        auto model = xpu::resolving("--chip", chip, [&] { return xpu::load_chip(chip, sets); });
        xpu::resolving("--op", op, [&] { return xpu::parse_op_kind(op); });  // an unknown op: the keyword op= is its flag
        xpu::OpSpec spec = xpu::make_op(op, args);
        xpu::KernelStudyOptions ko;
        ko.functional = functional;
        ko.sustained = sustained;
        if (after_runs != -1.0) ko.after_runs = xpu::checked_after_runs(after_runs);  // -1: not given
        xpu::KernelStudy study;
        {
          py::gil_scoped_release release;
          study = xpu::run_kernel_study(*model, spec, ko);
        }
        return xpu::kernel_study_json(study, spec).dump();
      },
      py::arg("op"), py::arg("chip"), py::arg("args"), py::arg("sets"), py::arg("functional") = false,
      py::arg("sustained") = false, py::arg("after_runs") = -1.0);
  m.def("list_chips", [] { std::vector<std::string> out; for (const auto& p : xpu::list_presets()) out.push_back(p.name); return out; });
  m.def("list_models", &xpu::list_models);
  m.def("write_perfetto", &xpu::write_perfetto_traces);  // xpusim.to_perfetto: the CLI's own writer  // the shipped models (`xpusim list models`)
}
