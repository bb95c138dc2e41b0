#include "sim/serve/serve.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "sim/run/power_control.h"

namespace xpu {

namespace {
// One operating point: prefill in chunks of whole requests, then `output` decode steps at batch B.
bool simulate_point(const ChipModel& chip, const ModelConfig& model, const Scenario& base, const ServeOptions& opt,
                    std::int64_t batch, ServePoint& pt, std::vector<std::pair<std::string, double>>* kernels) {
  Scenario s = base;
  s.batch = batch;
  s.input_len = opt.input;
  s.output_len = opt.output;
  Footprint f = footprint(model, s);
  if (f.total() > chip.dram_capacity()) return false;
  std::int64_t per_chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(batch, opt.prefill_chunk / std::max<std::int64_t>(1, opt.input)));
  std::int64_t chunks = (batch + per_chunk - 1) / per_chunk;
  ModelRunOptions mo;
  mo.max_decode_samples = 2;
  mo.sustained = true;
  Scenario pre = s;
  pre.phase = Phase::Prefill;
  pre.batch = per_chunk;
  Scenario dec = s;
  dec.phase = Phase::Decode;
  // Prefill and decode alternate on a serving chip, so the power manager sees their mix: settle the
  // clock for the whole request cycle, not per phase.
  ModelRunResult rp, rd;
  PowerResult pw = settle_power(chip, true, [&](const ChipModel& c) {
    ModelRunOptions nominal = mo;
    nominal.sustained = false;
    rp = run_model(c, model, pre, nominal);
    rd = run_model(c, model, dec, nominal);
    EnergyEvents e = rp.events.scaled(static_cast<double>(chunks));
    e += rd.events;
    return e;
  });
  double t_prefill = rp.ttft_s * chunks;
  double t_decode = rd.tpot_s * opt.output;
  pt.batch = batch;
  pt.ttft_s = rp.ttft_s;
  pt.tpot_s = rd.tpot_s;
  pt.throughput_tok_s = batch * opt.output / (t_prefill + t_decode);
  pt.clock_ratio = pw.clock_ratio;
  pt.throttled = pw.throttled;
  if (pw.modeled) {
    pt.avg_power_w = pw.avg_power_w;
    // Peak: the most power-hungry kernel of either phase at the settled clock.
    for (const ModelRunResult* run : {&rp, &rd})
      for (const auto& st : run->steps)
        for (const auto& n : st.nodes)
          if (!n.fused && n.events.time_s > 0)
            pt.peak_power_w = std::max(pt.peak_power_w, power_at(chip, n.events, pw.clock_ratio).avg_power_w);
    double tokens = static_cast<double>(batch * opt.output);
    pt.joules_per_token = pw.energy_j / tokens;
    EnergyBreakdown b = pw.breakdown;
    pt.energy_per_token = {b.compute_j / tokens, b.vector_j / tokens, b.onchip_j / tokens,
                           b.dram_j / tokens,    b.active_j / tokens, b.static_j / tokens};
  }
  pt.meets_slo = (opt.ttft_slo_s <= 0 || pt.ttft_s <= opt.ttft_slo_s) && (opt.tpot_slo_s <= 0 || pt.tpot_s <= opt.tpot_slo_s);
  if (kernels) {
    kernels->clear();
    const StepResult& st = rd.steps.back();
    for (const auto& n : st.nodes)
      if (!n.fused) kernels->push_back({n.label, n.time_s * n.count});
  }
  return true;
}
}  // namespace

ServeResult serve(const ChipModel& chip, const ModelConfig& model, const Scenario& base, const ServeOptions& opt) {
  ServeResult r;
  r.chip = chip.name();
  r.family = chip.family();
  r.model = model.name;
  r.precision = std::string(name(base.wdtype)) + (base.adtype != base.wdtype ? std::string("/") + name(base.adtype) : "");
  r.power_modeled = chip.power() != nullptr;
  r.tdp_w = chip.power() ? chip.power()->tdp.value() : 0;
  Scenario check = base;
  check.batch = 1;
  check.input_len = opt.input;
  check.output_len = opt.output;
  check.phase = Phase::Request;
  check.validate(model);
  if (opt.ttft_slo_s < 0 || opt.tpot_slo_s < 0) throw InputError("--ttft-slo/--tpot-slo: expected positive times");
  for (std::int64_t b = 1; b <= opt.max_batch; b *= 2) {
    ServePoint pt;
    if (opt.progress) std::cerr << "  " << chip.name() << ": batch " << b << "...\n";
    if (!simulate_point(chip, model, base, opt, b, pt, nullptr)) break;
    r.curve.push_back(pt);
    // Past the TPOT target, larger batches only get slower per token.
    if (opt.tpot_slo_s > 0 && pt.tpot_s > opt.tpot_slo_s) break;
  }
  if (r.curve.empty()) {
    Scenario s = check;
    check_fits(footprint(model, s), chip.dram_capacity(), model, s, chip.name());
  }
  for (size_t i = 0; i < r.curve.size(); ++i)
    if (r.curve[i].meets_slo && (r.best < 0 || r.curve[i].throughput_tok_s > r.curve[static_cast<size_t>(r.best)].throughput_tok_s))
      r.best = static_cast<int>(i);
  if (r.best < 0) {
    r.note = "no batch meets the latency targets";
  } else {
    ServePoint again;
    simulate_point(chip, model, base, opt, r.curve[static_cast<size_t>(r.best)].batch, again, &r.kernels);
    const ServePoint& b = r.curve[static_cast<size_t>(r.best)];
    r.cost = cost_figures(chip.cost(), b.throughput_tok_s, b.avg_power_w);
    if (r.cost.usd_per_hour <= 0) r.note = "no published price: supply one with --set " + chip.name() + ":cost.chip_hour=USD";
  }
  return r;
}

}  // namespace xpu
