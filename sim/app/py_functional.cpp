// Python binding of functional mode: run one simulated kernel on caller-supplied NumPy arrays and
// return its output tensor (xpusim.functional wraps it).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

namespace py = pybind11;

namespace xpu {

namespace {
std::string shape_of(const Mat& m) { return "(" + std::to_string(m.rows) + ", " + std::to_string(m.cols) + ")"; }

// Copies a 1-D or 2-D float array into `m`, which already has the shape the op expects. A vector
// fills a [1, n] or [n, 1] tensor.
void fill_from(Mat& m, const std::string& op, const std::string& name,
               const py::array_t<float, py::array::c_style | py::array::forcecast>& a) {
  bool ok = (a.ndim() == 2 && a.shape(0) == m.rows && a.shape(1) == m.cols) ||
            (a.ndim() == 1 && (m.rows == 1 || m.cols == 1) && a.shape(0) == static_cast<py::ssize_t>(m.v.size()));
  if (!ok) {
    std::string got = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) got += (i ? ", " : "") + std::to_string(a.shape(i));
    throw InputError("functional " + op + ": input '" + name + "' has shape " + got + ")" + ", expected " + shape_of(m), "", got + ")").with_key("", name);
  }
  std::copy(a.data(), a.data() + m.v.size(), m.v.begin());
}
}  // namespace

void bind_functional(py::module_& m) {
  m.def(
      "functional_run",
      [](const std::string& opname, const std::string& chip, const std::map<std::string, std::string>& args,
         const std::vector<std::string>& sets, const py::dict& inputs) {
        auto model = resolving("--chip", chip, [&] { return load_chip(chip, sets); });
        OpSpec op = make_op(opname, args);
        FunctionalSetup f = functional_setup(op, 1234, false);
        const KernelPrograms lowered = model->lower(op, f.options);  // a lowering without functional mode refuses here, before the inputs are read
        for (const auto& item : inputs) {
          std::string name = py::str(item.first);
          bool known = false;
          for (const auto& n : f.inputs) known |= n == name;
          if (!known) {
            std::string valid;
            for (const auto& n : f.inputs) valid += (valid.empty() ? "" : ", ") + n;
            throw InputError("functional " + opname + ": unknown input '" + name + "' (inputs: " + valid + ")", "", name).with_key("", name);
          }
        }
        for (const auto& n : f.inputs) {
          Mat& t = f.store.get(f.store.find(n));
          if (!inputs.contains(n))
            throw InputError("functional " + opname + ": missing input '" + n + "' of shape " + shape_of(t)).with_key("", n);
          fill_from(t, opname, n, inputs[n.c_str()].cast<py::array_t<float, py::array::c_style | py::array::forcecast>>());
        }
        RunResult r;
        {
          py::gil_scoped_release release;
          r = run_functional(*model, lowered, op, f);
          apply_power(r, manage_power(*model, r.events, false));  // the clocks xpusim.kernel reports, one answer
        }
        const Mat& y = f.store.get(f.store.find(f.output));
        py::array_t<float> out({static_cast<py::ssize_t>(y.rows), static_cast<py::ssize_t>(y.cols)});
        std::copy(y.v.begin(), y.v.end(), out.mutable_data());
        py::dict d;
        d[f.output.c_str()] = out;
        d["latency_s"] = r.latency_s;
        d["transactions"] = r.transactions;
        std::vector<std::string> strategies;
        for (const auto& k : r.kernels) strategies.push_back(k.name + ": " + k.strategy);
        d["kernels"] = strategies;
        return d;
      },
      py::arg("op"), py::arg("chip"), py::arg("args"), py::arg("sets"), py::arg("inputs"),
      "Runs one kernel functionally on the given fp32 arrays; returns {output name: array, latency_s, ...}");
  m.def(
      "functional_inputs",
      [](const std::string& opname, const std::map<std::string, std::string>& args) {
        OpSpec op = make_op(opname, args);
        FunctionalSetup f = functional_setup(op, 1234, false);
        std::vector<std::pair<std::string, std::pair<int, int>>> out;
        for (const auto& n : f.inputs) {
          const Mat& t = f.store.get(f.store.find(n));
          out.push_back({n, {t.rows, t.cols}});
        }
        return out;
      },
      py::arg("op"), py::arg("args"), "The input tensors an op takes in functional mode: [(name, (rows, cols))]");
}

}  // namespace xpu
