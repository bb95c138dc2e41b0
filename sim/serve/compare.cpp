#include "sim/serve/compare.h"

#include <ctime>
#include <iostream>

#include "sim/base/process.h"

namespace xpu {

std::string apply_named_scenario(CompareRequest& req) {
  ServeOptions& so = req.serve;
  if (req.scenario == "chat") {
    if (!req.input_given) so.input = 1024;
    if (!req.output_given) so.output = 256;
    if (!req.ttft_given) so.ttft_slo_s = 2.0;
    if (!req.tpot_given) so.tpot_slo_s = 0.1;
    return "interactive chat: 1024-token prompts, 256-token answers, TTFT <= 2 s, TPOT <= 100 ms (10 tok/s per user)";
  }
  if (req.scenario == "long") {
    if (!req.input_given) so.input = 8192;
    if (!req.output_given) so.output = 512;
    return "long-context summarization: 8192-token prompts, 512-token answers, maximum throughput";
  }
  throw InputError("--scenario '" + req.scenario + "': expected chat or long");
}

const std::vector<double>& interactivity_tiers() {
  static const std::vector<double> t = {20, 50, 100};
  return t;
}

std::vector<InteractivityTier> tiers_of(const ServeResult& r) {
  std::vector<InteractivityTier> out;
  for (double tier : interactivity_tiers()) {
    InteractivityTier t;
    t.tok_s_per_user = tier;
    for (const ServePoint& p : r.curve)
      if (p.tok_s_per_user >= tier && p.throughput_tok_s > t.throughput_tok_s) {
        t.throughput_tok_s = p.throughput_tok_s;
        t.concurrency = p.concurrency;
      }
    out.push_back(t);
  }
  return out;
}

namespace {
// The overlays of one chip: "key=value" applies to all, "chip:key=value" to that chip only.
std::vector<std::string> overlays_for(const std::string& chip, const std::vector<std::string>& sets) {
  std::vector<std::string> mine;
  for (const auto& s : sets) {
    auto colon = s.find(':'), eq = s.find('=');
    if (colon != std::string::npos && colon < eq) {
      if (s.substr(0, colon) == chip) mine.push_back(s.substr(colon + 1));
    } else {
      mine.push_back(s);
    }
  }
  return mine;
}

// A chip whose tensor units lack the study's dtype runs its nearest supported precision.
Scenario precision_for(const ChipModel& chip, Scenario sc) {
  if (chip.peak_flops(sc.adtype) > 0) return sc;
  for (DType d : {DType::fp8, DType::bf16})
    if (chip.peak_flops(d) > 0) {
      sc.adtype = sc.kvdtype = d;
      if (bytes_per_element(sc.wdtype) < bytes_per_element(d) && chip.peak_flops(sc.wdtype) <= 0) sc.wdtype = d;
      break;
    }
  return sc;
}

CompareRow chip_row(const std::string& name, const ChipModel& chip, const ModelConfig& model, const Scenario& base,
                    const ServeOptions& so) {
  CompareRow row;
  row.chip = name;
  row.family = chip.family();
  try {
    row.result = serve(chip, model, precision_for(chip, base), so);
    row.ran = true;
    row.tiers = tiers_of(row.result);
  } catch (const InputError& e) {
    row.error = e.what();
  }
  row.price_source = chip.cost().source;
  row.tdp_w = chip.power() ? chip.power()->tdp.value() : 0;
  row.config_yaml = chip.full_yaml();
  return row;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return date;
}
}  // namespace

CompareStudy compare_study(CompareRequest req) {
  std::string desc = apply_named_scenario(req);
  if (req.study.empty()) req.study = req.scenario;
  check_plain_name("--name", req.study);  // the study folder stays inside results/compare
  if (req.chips.empty()) throw InputError("--chips: expected at least one chip");
  ModelConfig model = load_model(req.model);
  Scenario base;
  base.wdtype = req.dtype;
  base.adtype = base.kvdtype = req.dtype == DType::fp4 ? DType::fp8 : req.dtype;
  CompareStudy out;
  out.study = req.study;
  out.model = model.name;
  out.created = utc_now();
  out.scenario = req.scenario;
  out.description = desc;
  // The study sweeps closed-loop concurrency 1, 4, 16, ... and the largest (each point is a whole
  // engine run at its own settled clock, so the sweep is kept to a factor of 4 between points) unless a
  // load was given: the best point under the targets, and the frontier the tiers are read from.
  if (!req.serve.concurrency_given && !req.serve.rate_given) {
    req.serve.concurrency.clear();
    const std::int64_t most = req.serve.max_batch > 0 ? req.serve.max_batch : 512;
    for (std::int64_t c = 1; c < most; c *= 4) req.serve.concurrency.push_back(c);
    req.serve.concurrency.push_back(most);
  }
  out.serve = req.serve;
  double ref_perf_per_usd = 0;
  // Every chip and overlay is checked before the first one is simulated: a typo in the last chip
  // fails at once, not after minutes of simulation.
  std::vector<std::unique_ptr<ChipModel>> chips;
  for (const auto& c : req.chips) chips.push_back(load_chip(c, overlays_for(c, req.sets)));
  for (size_t ci = 0; ci < chips.size(); ++ci) {
    const std::string& c = req.chips[ci];
    const ChipModel* chip = chips[ci].get();
    if (req.serve.progress) std::cerr << "compare: " << c << "\n";
    CompareRow row = chip_row(c, *chip, model, base, req.serve);
    const ServeResult& r = row.result;
    if (row.ran && r.best >= 0 && r.cost.usd_per_hour > 0) {
      double v = r.cost.tok_per_s_per_usd_hour;
      if (out.rows.empty()) ref_perf_per_usd = v;
      if (ref_perf_per_usd > 0) row.perf_per_usd_rel = v / ref_perf_per_usd;
    }
    out.rows.push_back(row);
  }
  return out;
}

}  // namespace xpu
