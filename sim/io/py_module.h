// pybind11 for the Python module (sim/app/pymodule.cpp), with xpusim.InputError: header-only, since only the module
// links pybind11.
#pragma once
#include <pybind11/pybind11.h>

#include <string>

#include "sim/base/error.h"

namespace xpu {

// Registers xpusim.InputError (a ValueError) on `m`; a C++ InputError raised through the module becomes one whose
// attributes carry the error's data: flag and value (the flag it is about, the text given to it), file and key (a
// config value's); None where the error does not say; mentions, the other flags the message names with their values
// ([("--pp", "1")], [] where it names none).
inline void register_input_error(pybind11::module_& m) {
  namespace py = pybind11;
  static PyObject* type = py::register_exception<InputError>(m, "InputError", PyExc_ValueError).ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      auto text = [](const std::string& s) {  // a user's bytes that are not UTF-8 as U+FFFD, not a second error
        return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
      };
      auto data = [&](const std::string& s) { return s.empty() ? py::object(py::none()) : text(s); };
      py::object error = py::reinterpret_borrow<py::object>(type)(text(e.what()));
      error.attr("flag") = data(e.flag());
      error.attr("value") = data(e.value());
      error.attr("file") = data(e.file());
      error.attr("key") = data(e.key());
      py::list mentions;
      for (const auto& [flag, value] : e.mentions()) mentions.append(py::make_tuple(text(flag), text(value)));
      error.attr("mentions") = mentions;
      PyErr_SetObject(type, error.ptr());
    }
  });
}

}  // namespace xpu
