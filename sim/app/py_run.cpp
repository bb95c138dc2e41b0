// Python bindings for whole-model runs and serving studies (xpusim.run, xpusim.serve).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>

#include "sim/app/system_cmd.h"
#include "sim/io/reports.h"
#include "sim/run/system_run.h"
#include "sim/serve/disagg.h"
#include "sim/serve/scheduler.h"

namespace py = pybind11;

namespace xpu {

namespace {
Scenario scenario_of(const std::string& phase, std::int64_t batch, std::int64_t input, std::int64_t output,
                     const std::string& dtype, const std::string& wdtype, const std::string& kvdtype,
                     const std::string& fusion, const std::string& routing, const std::string& adtype = "",
                     const std::map<std::string, int>& layout = {}) {
  ScenarioArgs a;
  a.phase = phase;
  a.batch = batch;
  a.input = input;
  a.output = output;
  a.dtype = dtype;
  a.wdtype = wdtype;
  a.kvdtype = kvdtype;
  a.fusion = fusion;
  a.routing = routing;
  a.adtype = adtype;
  for (auto [k, degree] : {std::pair{"tp", &a.tp}, {"ep", &a.ep}, {"pp", &a.pp}, {"dp", &a.dp}, {"microbatches", &a.microbatches}, {"pad_heads", &a.pad_heads},
                          {"redundant_experts", &a.redundant_experts}})
    if (layout.count(k)) *degree = layout.at(k);
  a.two_batch_overlap = layout.count("two_batch_overlap") && layout.at("two_batch_overlap") != 0;
  if (layout.count("neuron_buckets")) a.neuron_buckets = layout.at("neuron_buckets");
  return make_scenario(a);
}
// The chip and system of a Python call: `system` by name, or `devices` of the chip's default system, with the
// chip's and the system's overrides in `sets` (as the CLI's --set).
RunTarget py_target(const std::string& chip, const std::vector<std::string>& sets, const std::string& system, int devices,
                    int nodes, bool overlap) {
  SystemChoice sc;
  sc.system = system;
  sc.nodes = nodes;
  sc.devices = devices;
  return load_run_target(chip, sc, sets, overlap);
}
}  // namespace

void bind_run(py::module_& m) {
  m.def(
      "run_json",
      [](const std::string& chip, const std::vector<std::string>& sets, const std::string& model,
         const std::string& phase, std::int64_t batch, std::int64_t input, std::int64_t output, const std::string& dtype,
         const std::string& wdtype, const std::string& kvdtype, const std::string& fusion, const std::string& routing,
         bool sustained, const std::string& adtype, const std::string& system, const std::map<std::string, py::object>& layout,
         double after_runs) {
        auto get = [&](const char* k) { return layout.at(k).cast<int>(); };
        ModelRunOptions o;
        o.sustained = sustained;
        if (after_runs != -1.0) o.time_after_runs(after_runs);  // -1: not given (as `run --after-runs`)
        RunTarget t = py_target(chip, sets, system, get("devices"), get("nodes"), layout.at("overlap").cast<bool>());
        o.system = t.system;
        if (o.system) o.system->fold = layout.at("fold").cast<bool>();
        const auto& c = t.chip;
        ModelConfig mc = load_model(model);
        std::map<std::string, int> degrees;
        for (const char* k : {"tp", "ep", "pp", "dp", "microbatches", "pad_heads", "redundant_experts", "two_batch_overlap", "neuron_buckets"})
          degrees[k] = get(k);
        Scenario s = scenario_of(phase, batch, input, output, dtype, wdtype, kvdtype, fusion, routing, adtype, degrees);
        s.sp = layout.at("sp").cast<bool>();
        ModelRunResult r;
        {
          py::gil_scoped_release release;
          r = run_model(*c, mc, s, o);
        }
        return model_run_json(r, c.get()).dump();
      });
  m.def("serve_json", [](const std::string& chip, const std::vector<std::string>& sets, const std::string& model,
                         std::int64_t input, std::int64_t output, const std::string& dtype, double ttft_slo,
                         double tpot_slo, std::int64_t max_batch, const std::vector<std::int64_t>& concurrency, double rate,
                         const std::string& scheduler, std::int64_t requests, std::uint64_t seed, double prefix_hit,
                         std::int64_t spec_tokens, double spec_accept, const std::string& spec_method,
                         const std::string& spec_draft, const std::string& system, const std::map<std::string, int>& layout,
                         const std::string& scenario_file, double host_fixed_us, double host_us_per_request) {
    ServeOptions o;
    // The framework's host work per iteration (HostWork), as --host-fixed-us / --host-us-per-request; NaN (None in
    // Python): the scheduler's own figures.
    if (!std::isnan(host_fixed_us)) o.limits.host_fixed_us = host_work_us("host_fixed_us", host_fixed_us);
    if (!std::isnan(host_us_per_request)) o.limits.host_us_per_request = host_work_us("host_us_per_request", host_us_per_request);
    RunTarget t = py_target(chip, sets, system, layout.at("devices"), layout.at("nodes"), false);
    o.system = t.system;
    o.prefill_devices = layout.at("prefill_devices"), o.decode_devices = layout.at("decode_devices"), o.prefill_tp = layout.at("prefill_tp");
    o.prefill_ep = layout.at("prefill_ep"), o.prefill_dp = layout.at("prefill_dp"), o.prefill_pp = layout.at("prefill_pp");
    o.prefill_redundant_experts = layout.at("prefill_redundant_experts");
    const auto& c = t.chip;
    ModelConfig mc = load_model(model);
    Scenario s = scenario_of("request", 1, input, output, dtype, "", "", "", "uniform", "", layout);
    o.input = input, o.output = output, o.ttft_slo_s = ttft_slo, o.tpot_slo_s = tpot_slo;
    o.max_batch = o.limits.max_seqs = 0;  // the scheduler's default, unless given (checked as --max-batch)
    if (max_batch != 0) set_sequence_limits(o, max_batch, std::nullopt);
    o.concurrency = concurrency, o.concurrency_given = !concurrency.empty(), o.rate = rate, o.rate_given = rate != 0;
    o.scheduler = scheduler, o.requests = requests, o.seed = seed, o.prefix_hit = prefix_hit;
    o.spec_tokens = spec_tokens, o.spec_method = spec_method, o.spec_draft = spec_draft;
    if (!std::isnan(spec_accept)) o.spec_accept = spec_accept;  // NaN (None): not given
    if (!scenario_file.empty())
      apply_pools_file(scenario_file, o, s,
                       {o.prefill_devices != 0, o.decode_devices != 0, o.prefill_tp != 0, s.tp != 1, o.prefill_ep != 0, o.prefill_dp != 0,
                        s.ep != 1, s.dp != 1, o.prefill_pp != 0, s.pp != 1, s.redundant_experts != 0,
                        o.prefill_redundant_experts >= 0});
    ServeResult r;
    {
      py::gil_scoped_release release;
      r = serve(*c, mc, s, o);
    }
    return serve_json(r).dump();
  });
  m.def("chip_config", [](const std::string& chip, const std::vector<std::string>& sets) {
    return load_chip(chip, sets)->full_yaml();
  });
}

}  // namespace xpu
