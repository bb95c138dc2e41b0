// Python bindings for live stepping: a simulation held open between calls (xpusim.Session).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "sim/run/kernel_run.h"
#include "sim/run/model_run.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"

namespace py = pybind11;

namespace xpu {

namespace {
// Owns the chip model, the programs' session and the bookkeeping of what Python has already seen.
class PySession {
 public:
  PySession(const std::string& chip, const std::vector<std::string>& sets, const std::string& op,
            const std::map<std::string, std::string>& args, const std::string& model, const std::string& phase,
            std::int64_t batch, std::int64_t input, const std::string& dtype) {
    m_chip = resolving("--chip", chip, [&] { return load_chip(chip, sets); });  // an unknown name: its keyword's (chip=)
    std::vector<KernelPrograms> kernels;
    DType d = DType::bf16;
    if (!op.empty()) {
      resolving("--kernel", op, [&] { return parse_op_kind(op); });
      OpSpec spec = make_op(op, args);
      d = spec.dtype;
      LowerOptions lo;
      kernels.push_back(m_chip->lower(spec, lo));
      m_op = {name(spec.kind), spec.shape_str()};
    } else {
      // One forward step of a model: each unfused kernel once, with how often the step runs it.
      ModelConfig m = resolving("--model", model, [&] { return load_model(model); });
      Scenario s = session_scenario(phase, batch, input, dtype);
      d = step_gemm_dtype(s);
      s.validate(m);
      StepPass pass = step_pass(*m_chip, m, s);
      kernels = std::move(pass.kernels);
      // run's answer (ask_run), before the stepped simulation opens (one at a time per thread), without the GIL
      m_question = [&] { py::gil_scoped_release unlocked; return ask_run(*m_chip, m, s, std::move(pass.launch_counts)); }();
    }
    RunOptions ro;
    ro.trace = true;
    ro.units_per_op = true;  // each kernel's bound and clock sensitivity its own, as in run and kernel
    py::gil_scoped_release release;  // a session busy in another thread is waited for without the GIL
    m_session = std::make_unique<SimSession>(*m_chip, std::move(kernels), ro, d);
  }

  bool step() { return m_session->step(); }
  void run_until(double t) { m_session->run_until(t); }
  bool finished() const { return m_session->finished(); }
  double now() const { return m_session->now(); }
  std::string current_kernel() {
    const Program* p = m_session->chip().context().dispatcher.program();
    if (!p || m_session->finished()) return "";
    return p->op.empty() ? p->name : p->op + ":" + p->name;
  }
  std::vector<std::string> units() { return m_session->chip().context().unit_names; }
  std::vector<std::string> kernels() { return m_session->kernel_names(); }
  std::vector<std::string> level_names() { return m_chip->memory_level_names(); }
  // Records completed (end <= now) that were not returned before, as raw TraceRecord bytes.
  py::bytes completed() {
    const auto& recs = m_session->records();
    const Tick now = now_ticks();
    std::string out;
    std::vector<TraceRecord> keep;
    for (size_t i = m_seen; i < recs.size(); ++i) m_pending.push_back(recs[i]);
    m_seen = recs.size();
    for (const auto& r : m_pending) {
      if (r.end_ps <= now) out.append(reinterpret_cast<const char*>(&r), sizeof r);
      else keep.push_back(r);
    }
    m_pending.swap(keep);
    return py::bytes(out);
  }
  // All records produced so far (also those that run ahead of `now` under temporal decoupling).
  py::bytes all_records() {
    const auto& recs = m_session->records();
    return py::bytes(reinterpret_cast<const char*>(recs.data()), recs.size() * sizeof(TraceRecord));
  }
  std::string result_json() {
    RunResult r = m_session->result();  // at the clocks `xpusim kernel` / `run` report (stepping: nominal)
    const SessionAnswer a = answer_session(*m_chip, r, m_question);  // a model's step_s: `xpusim run`'s own
    nlohmann::json j = run_result_json(r);
    j["power"] = power_json(a.power);
    if (m_question.model) j["step_s"] = a.step_s, j["stepped_s"] = a.stepped_s;
    if (!m_op.first.empty()) j["op"] = m_op.first, j["shape"] = m_op.second;  // as xpusim.kernel reports them
    return j.dump();
  }
  void close() { m_session.reset(); }

 private:
  std::unique_ptr<ChipModel> m_chip;
  std::unique_ptr<SimSession> m_session;
  size_t m_seen = 0;
  std::vector<TraceRecord> m_pending;
  std::pair<std::string, std::string> m_op;  // a kernel session's op and shape
  SessionQuestion m_question;  // a model's step: its scenario and each launch's runs per step (no model: one kernel)
};
}  // namespace

void bind_session(py::module_& m) {
  py::class_<PySession>(m, "_Session")
      .def(py::init<const std::string&, const std::vector<std::string>&, const std::string&,
                    const std::map<std::string, std::string>&, const std::string&, const std::string&, std::int64_t,
                    std::int64_t, const std::string&>())
      .def("step", &PySession::step)
      .def("run_until", &PySession::run_until)
      .def("finished", &PySession::finished)
      .def("now", &PySession::now)
      .def("current_kernel", &PySession::current_kernel)
      .def("units", &PySession::units)
      .def("kernels", &PySession::kernels)
      .def("level_names", &PySession::level_names)
      .def("completed", &PySession::completed)
      .def("all_records", &PySession::all_records)
      .def("result_json", &PySession::result_json)
      .def("close", &PySession::close);
  m.attr("TRACE_RECORD_SIZE") = sizeof(TraceRecord);
}

}  // namespace xpu
