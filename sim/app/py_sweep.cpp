// Python bindings the sweep engine needs (xpusim.sweeps): the kernel argument names a spec may use, the
// compare study as JSON, and the whole CLI in-process (`python3 -m xpusim kernel ...`).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>

#include <cstdio>
#include <iostream>

#include "sim/app/commands.h"
#include "sim/io/compare_report.h"
#include "sim/run/kernel_run.h"
#include "sim/serve/scheduler.h"
#include "sim/validation/validate.h"

namespace py = pybind11;

namespace xpu {

namespace {
std::string compare_json(const std::vector<std::string>& chips, const std::vector<std::string>& sets,
                         const std::string& model, const std::string& scenario, std::int64_t input,
                         std::int64_t output, const std::string& dtype, double ttft_slo, double tpot_slo,
                         std::int64_t max_batch, bool tco, const std::vector<double>& tiers, double prefix_hit,
                         std::int64_t spec_tokens, double spec_accept, const std::string& spec_method,
                         const std::string& spec_draft, int jobs, double host_fixed_us, double host_us_per_request,
                         const std::vector<std::int64_t>& concurrency, double rate, std::int64_t requests,
                         const std::string& scheduler, std::uint64_t seed) {
  CompareRequest req;
  // The load, as compare's --concurrency / --rate / --requests / --scheduler / --seed (empty, 0: the study's sweep).
  req.serve.concurrency = concurrency, req.serve.concurrency_given = !concurrency.empty();
  req.serve.rate = rate, req.serve.rate_given = rate != 0, req.serve.scheduler = scheduler, req.serve.seed = seed;
  req.serve.requests = requests;
  // As --host-fixed-us / --host-us-per-request of `xpusim compare`; NaN (None): each scheduler's own figures.
  if (!std::isnan(host_fixed_us)) req.serve.limits.host_fixed_us = host_work_us("host_fixed_us", host_fixed_us);
  if (!std::isnan(host_us_per_request)) req.serve.limits.host_us_per_request = host_work_us("host_us_per_request", host_us_per_request);
  if (jobs <= 0) throw InputError("jobs must be a positive number of worker processes, got " + std::to_string(jobs));
  req.jobs = jobs;
  req.tco = tco;
  req.tiers = tiers;
  req.serve.prefix_hit = prefix_hit, req.serve.spec_tokens = spec_tokens, req.serve.spec_accept = std::isnan(spec_accept) ? 0 : spec_accept;
  req.serve.spec_accept_missing = spec_tokens > 0 && std::isnan(spec_accept);  // None: not given
  req.serve.spec_method = spec_method, req.serve.spec_draft = spec_draft;
  req.chips = chips, req.sets = sets, req.model = model, req.scenario = req.study = scenario;
  req.dtype = parse_dtype(dtype);
  req.serve.max_batch = max_batch;
  // Negative: not given (the named scenario fills it), as the CLI's defaulted options.
  req.input_given = input > 0, req.output_given = output > 0;
  req.ttft_given = ttft_slo >= 0, req.tpot_given = tpot_slo >= 0;
  if (req.input_given) req.serve.input = input;
  if (req.output_given) req.serve.output = output;
  if (req.ttft_given) req.serve.ttft_slo_s = ttft_slo;
  if (req.tpot_given) req.serve.tpot_slo_s = tpot_slo;
  if (req.serve.max_batch <= 0) throw InputError("max_batch must be positive");
  CompareStudy study;
  {
    py::gil_scoped_release release;
    study = compare_study(req);
    for (auto& r : study.rows) r.validation = validation_coverage(r.family);
  }
  return compare_summary_json(study).dump();
}
}  // namespace

void bind_sweep(py::module_& m) {
  m.def("kernel_arg_names", [] { return kernel_arg_names(); });
  m.def("list_ops", [] { return op_kind_names(); });
  m.def("compare_json", &compare_json, py::arg("chips"), py::arg("sets"), py::arg("model"), py::arg("scenario"),
        py::arg("input"), py::arg("output"), py::arg("dtype"), py::arg("ttft_slo"), py::arg("tpot_slo"),
        py::arg("max_batch"), py::arg("tco") = false, py::arg("tiers") = std::vector<double>{},
        py::arg("prefix_hit") = 0.0, py::arg("spec_tokens") = 0, py::arg("spec_accept") = std::nan(""),
        py::arg("spec_method") = "mtp", py::arg("spec_draft") = "", py::arg("jobs") = 1,
        py::arg("host_fixed_us") = std::nan(""), py::arg("host_us_per_request") = std::nan(""),
        py::arg("concurrency") = std::vector<std::int64_t>{}, py::arg("rate") = 0.0, py::arg("requests") = 0,
        py::arg("scheduler") = "vllm", py::arg("seed") = 1);
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
