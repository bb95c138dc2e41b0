#include "sim/serve/serve.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "sim/base/run_budget.h"
#include "sim/serve/step_time.h"

namespace xpu {

ServeMemory serve_memory(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const Scheduler& sched) {
  ServeMemory m;
  m.capacity_bytes = chip.dram_capacity();
  // The largest iteration's activations: token_budget tokens through one layer, plus fp32 logits for
  // every running sequence (footprint() counts one sequence's logits for a batch-1 prefill).
  Scenario big = sc;
  big.phase = Phase::Prefill;
  big.batch = 1;
  big.input_len = sched.limits().token_budget;
  big.output_len = 1;
  Footprint f = footprint(model, big);
  m.weight_bytes = f.weight_bytes;
  m.activation_bytes = f.activation_bytes + 4.0 * static_cast<double>(sched.limits().max_seqs - 1) * static_cast<double>(model.vocab);
  const double frac = sched.memory_fraction();
  const double left = m.capacity_bytes - m.weight_bytes - m.activation_bytes;
  m.kv_bytes = std::max(0.0, sched.fraction_of_free_memory() ? frac * left : frac * m.capacity_bytes - m.weight_bytes - m.activation_bytes);
  m.reserve_bytes = std::max(0.0, left - m.kv_bytes);
  // Bytes per cached token over all layers (sliding-window layers counted in full: conservative).
  Scenario one = sc;
  one.batch = 1;
  one.input_len = 1;
  one.output_len = 1;
  m.kv_bytes_per_token = footprint(model, one).kv_bytes_per_sequence / 2.0;
  m.block_tokens = sched.block_tokens();
  m.kv_blocks = static_cast<std::int64_t>(std::floor(m.kv_bytes / (m.kv_bytes_per_token * static_cast<double>(m.block_tokens))));
  m.kv_tokens = m.kv_blocks * m.block_tokens;
  return m;
}

namespace {
std::vector<OccupancySample> thin(const std::vector<OccupancySample>& v, size_t most) {
  if (v.size() <= most) return v;
  std::vector<OccupancySample> out;
  for (size_t i = 0; i < most; ++i) out.push_back(v[i * (v.size() - 1) / (most - 1)]);
  return out;
}

void fill_metrics(ServePoint& pt, const EngineResult& er) {
  pt.batch = er.max_running;
  pt.requests = er.requests;
  pt.iterations = er.iterations;
  pt.preemptions = er.preemptions;
  pt.makespan_s = er.makespan_s;
  pt.throughput_tok_s = er.makespan_s > 0 ? static_cast<double>(er.output_tokens) / er.makespan_s : 0;
  pt.throughput_tok_s_per_chip = pt.throughput_tok_s;  // one chip (tensor parallelism is not modeled yet)
  pt.requests_per_s = er.makespan_s > 0 ? static_cast<double>(er.requests) / er.makespan_s : 0;
  pt.ttft_s = percentile(er.ttft_s, 0.5);
  pt.ttft_p90_s = percentile(er.ttft_s, 0.9);
  pt.ttft_p99_s = percentile(er.ttft_s, 0.99);
  pt.tpot_s = percentile(er.tpot_s, 0.5);
  pt.tpot_p90_s = percentile(er.tpot_s, 0.9);
  pt.tpot_p99_s = percentile(er.tpot_s, 0.99);
  pt.itl_p50_s = percentile(er.itl_s, 0.5);
  pt.e2e_p50_s = percentile(er.e2e_s, 0.5);
  // What one user sees while its answer streams: the median request's tokens per second after the first.
  pt.tok_s_per_user = pt.tpot_s > 0 ? 1.0 / pt.tpot_s : 0;
  pt.kv_mean = er.kv_mean;
  pt.kv_peak = er.kv_peak;
  pt.kv_over_time = thin(er.occupancy, 64);
}

struct Study {
  const ChipModel& chip;
  const ModelConfig& model;
  const Scenario& sc;
  const ServeOptions& opt;
  std::vector<RequestDraw> reqs;
};

// One engine run, its clock settled for the whole run: the first pass at the nominal clock, then (above
// TDP) again at lower clocks, where every iteration time comes from the chip model at that clock.
ServePoint run_point(const Study& s, const EngineLoad& load) {
  auto wall0 = std::chrono::steady_clock::now();
  ServePoint pt;
  EngineResult er;
  double peak = 0;
  std::int64_t parts = 0;
  PowerResult pw = settle_power(s.chip, true, [&](const ChipModel& c) {
    ChipStepTime st(c, s.model, s.sc, s.opt.interpolate);
    const double ratio = c.clock_hz() / s.chip.clock_hz();
    peak = 0;
    StepTimeFn fn = [&](const StepShape& shape) {
      StepCost cost = st(shape);
      if (s.chip.power() && cost.time_s > 0) peak = std::max(peak, power_at(s.chip, cost.events, ratio).avg_power_w);
      return cost;
    };
    auto sched = make_scheduler(s.opt.scheduler, s.opt.limits);
    er = run_engine(s.reqs, load, *sched, serve_memory(s.chip, s.model, s.sc, *sched).kv_blocks, fn);
    parts += st.simulated_parts();
    return er.events;
  });
  fill_metrics(pt, er);
  pt.concurrency = load.kind == EngineLoad::Kind::Closed ? load.concurrency : 0;
  pt.rate = load.kind == EngineLoad::Kind::Open ? s.opt.rate : 0;
  pt.clock_ratio = pw.clock_ratio;
  pt.throttled = pw.throttled;
  if (pw.modeled && er.output_tokens > 0) {
    pt.avg_power_w = pw.avg_power_w;
    pt.peak_power_w = peak;
    const double tokens = static_cast<double>(er.output_tokens);
    pt.joules_per_token = pw.energy_j / tokens;
    const EnergyBreakdown& b = pw.breakdown;
    pt.energy_per_token = {b.compute_j / tokens, b.vector_j / tokens, b.onchip_j / tokens,
                           b.dram_j / tokens,    b.active_j / tokens, b.static_j / tokens};
  }
  const ServeOptions& o = s.opt;
  pt.meets_slo = (o.ttft_slo_s <= 0 || pt.ttft_s <= o.ttft_slo_s) && (o.tpot_slo_s <= 0 || pt.tpot_s <= o.tpot_slo_s);
  pt.simulated_parts = parts;
  pt.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return pt;
}

// The kernels of one decode step at the best point's typical batch and context, at its settled clock.
std::vector<std::pair<std::string, double>> decode_kernels(const Study& s, const ServePoint& pt) {
  std::unique_ptr<ChipModel> slow = pt.clock_ratio < 1 ? s.chip.at_clock(pt.clock_ratio) : nullptr;
  const ChipModel& c = slow ? *slow : s.chip;
  Scenario d = s.sc;
  d.phase = Phase::Decode;
  d.batch = std::max<std::int64_t>(1, pt.batch);
  d.input_len = d.output_len = 1;  // the graph of a decode step depends only on its context
  FusionPolicy f = d.fusion ? *d.fusion : FusionPolicy::parse(c.default_fusion());
  Graph g = build_step_graph(s.model, d, true, std::min<std::int64_t>(s.model.max_position, s.opt.input + s.opt.output / 2), f);
  StepResult st = run_step_graph(c, g, footprint(s.model, d).weight_bytes);
  std::vector<std::pair<std::string, double>> out;
  for (const auto& n : st.nodes)
    if (!n.fused) out.push_back({n.label, n.time_s * n.count});
  return out;
}

void check_options(const ServeOptions& o) {
  if (o.ttft_slo_s < 0 || o.tpot_slo_s < 0) throw InputError("--ttft-slo/--tpot-slo: expected positive times");
  for (std::int64_t c : o.concurrency)
    if (c <= 0) throw InputError("--concurrency: expected positive numbers of users, got " + std::to_string(c));
  if (o.rate_given && !(o.rate > 0) ) throw InputError("--rate: expected a positive number of requests per second, got " + std::to_string(o.rate));
  if (o.rate_given && o.concurrency_given) throw InputError("--rate and --concurrency: give one (open or closed loop), not both");
  if (o.requests < 0) throw InputError("--requests: expected a positive number, got " + std::to_string(o.requests));
}

RequestSpec request_spec(const ServeOptions& o) {
  RequestSpec r;
  r.seed = o.seed;
  r.input = o.input_dist ? *o.input_dist : LengthDist::fixed(o.input);
  r.output = o.output_dist ? *o.output_dist : LengthDist::fixed(o.output);
  r.lengths_csv = o.lengths_csv;
  r.rate = o.rate;
  return r;
}
}  // namespace

ServeResult serve(const ChipModel& chip, const ModelConfig& model, const Scenario& base, const ServeOptions& opt) {
  check_options(opt);
  // No up-front estimate: the steps a server runs follow from its schedule. Each kernel is admitted
  // against the study's total, so a study over --max-transactions stops before the kernel that would
  // cross it.
  TransactionBudget budget("serving " + model.name + " on " + chip.name());
  ServeResult r;
  r.chip = chip.name();
  r.family = chip.family();
  r.model = model.name;
  r.precision = std::string(name(base.wdtype)) + (base.adtype != base.wdtype ? std::string("/") + name(base.adtype) : "");
  r.power_modeled = chip.power() != nullptr;
  r.tdp_w = chip.power() ? chip.power()->tdp.value() : 0;
  auto sched = make_scheduler(opt.scheduler, opt.limits);
  r.scheduler = opt.scheduler;
  r.limits = sched->limits();
  Scenario check = base;
  check.batch = 1;
  check.input_len = opt.input;
  check.output_len = opt.output;
  check.phase = Phase::Request;
  if (opt.lengths_csv.empty() && !opt.input_dist && !opt.output_dist) check.validate(model);
  r.memory = serve_memory(chip, model, base, *sched);
  if (r.memory.kv_blocks <= 0) {
    check.batch = 1;
    check_fits(footprint(model, check), chip.dram_capacity() - r.memory.activation_bytes, model, check, chip.name());
    throw InputError(model.name + " leaves no room for a KV cache on " + chip.name() + ": weights " +
                     format_bytes(r.memory.weight_bytes) + " + activations " + format_bytes(r.memory.activation_bytes) +
                     " of " + format_bytes(r.memory.capacity_bytes) + " (try a smaller --token-budget or --max-seqs)");
  }
  RequestSpec rs = request_spec(opt);
  r.input_lengths = opt.lengths_csv.empty() ? rs.input.str() : opt.lengths_csv;
  r.output_lengths = opt.lengths_csv.empty() ? rs.output.str() : opt.lengths_csv;
  Study s{chip, model, base, opt, {}};
  std::vector<EngineLoad> loads;
  if (!opt.concurrency.empty()) {
    r.mode = "closed";
    for (std::int64_t c : opt.concurrency) loads.push_back({EngineLoad::Kind::Closed, c});
  } else if (opt.rate > 0) {
    r.mode = "open";
    loads.push_back({EngineLoad::Kind::Open, 0});
  } else {
    r.mode = "offline";
    loads.push_back({EngineLoad::Kind::Offline, 0});
  }
  r.frontier = loads.size() > 1;
  for (const EngineLoad& load : loads) {
    std::int64_t n = opt.requests;
    if (n == 0)
      n = load.kind == EngineLoad::Kind::Closed ? std::max<std::int64_t>(64, 4 * load.concurrency)
          : load.kind == EngineLoad::Kind::Open ? 256
                                                : 4 * r.limits.max_seqs;
    if (opt.progress)
      std::cerr << "  " << chip.name() << ": " << r.mode << (load.concurrency ? " concurrency " + std::to_string(load.concurrency) : "")
                << ", " << n << " requests...\n";
    s.reqs = draw_requests(rs, n, model);
    r.curve.push_back(run_point(s, load));
  }
  for (size_t i = 0; i < r.curve.size(); ++i)
    if (r.curve[i].meets_slo && (r.best < 0 || r.curve[i].throughput_tok_s > r.curve[static_cast<size_t>(r.best)].throughput_tok_s))
      r.best = static_cast<int>(i);
  if (r.best < 0) {
    r.note = "no operating point meets the latency targets";
  } else {
    const ServePoint& b = r.curve[static_cast<size_t>(r.best)];
    r.kernels = decode_kernels(s, b);
    r.cost = cost_figures(chip.cost(), b.throughput_tok_s, b.avg_power_w);
    if (r.cost.usd_per_hour <= 0) r.note = "no published price: supply one with --set " + chip.name() + ":cost.chip_hour=USD";
  }
  return r;
}

}  // namespace xpu
