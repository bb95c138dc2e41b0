#include "sim/run/model_run.h"

#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "sim/base/run_budget.h"

namespace xpu {

namespace {
// Identical ops (the same GEMM in every decode sample, say) are simulated once per run.
std::string op_key(const OpSpec& o) {
  std::ostringstream os;
  os << name(o.kind) << "|" << o.shape_str() << "|" << name(o.dtype) << name(o.wdtype) << name(o.odtype) << "|"
     << o.rows << "x" << o.cols << "|" << o.topk << "|" << o.n << "|" << o.window << "|" << o.causal << "|"
     << o.resident_weight_bytes;
  for (auto g : o.group_rows) os << "," << g;
  return os.str();
}
}  // namespace

StepResult run_step_graph(const ChipModel& chip, Graph g, double resident_weight_bytes, StepGraphStats* stats) {
  // Identical ops recur across steps, batch points and studies of one process: their results are
  // kept per chip configuration (the resolved YAML names the clock too), bounded in size.
  static std::map<std::string, std::pair<RunResult, std::string>> cache;
  if (cache.size() > 20000) cache.clear();
  const std::string chip_key = std::to_string(std::hash<std::string>{}(chip.full_yaml())) + "|";
  StepResult step;
  StepGraphStats local;
  StepGraphStats& st = stats ? *stats : local;
  for (GraphNode& n : g.nodes) {
    // A GEMM whose weights are wider than its activations (the bf16 LM head of an fp8 model) runs
    // in the weight precision: the activations are converted up, as the serving stacks do.
    if ((n.op.kind == OpKind::Gemm || n.op.kind == OpKind::GroupedGemm) &&
        bytes_per_element(n.op.wdtype) > bytes_per_element(n.op.dtype))
      n.op.dtype = n.op.wdtype;
    n.op.resident_weight_bytes = resident_weight_bytes;
    NodeResult nr;
    nr.label = n.op.label;
    nr.group = n.group;
    nr.op = name(n.op.kind);
    nr.shape = n.op.shape_str();
    nr.count = n.count;
    nr.fused = n.fused;
    nr.fused_into = n.fused_into;
    nr.flops = n.op.flops();
    if (!n.fused) {
      std::string key = chip_key + op_key(n.op);
      auto it = cache.find(key);
      const bool first_in_run = st.seen.insert(key).second;
      if (st.estimate_only) {  // what simulating this graph would cost, from its lowered programs
        if (it == cache.end() && first_in_run)
          st.estimated_transactions +=
              estimate_run({chip.lower(n.op, LowerOptions{})}, chip.executors() * 32.0, false).transactions;
        continue;
      }
      if (it == cache.end()) {
        LowerOptions lo;
        KernelPrograms progs = chip.lower(n.op, lo);
        std::string strategy;
        for (const auto& p : progs) strategy += (strategy.empty() ? "" : "; ") + p.strategy;
        RunResult rr = simulate(chip, {progs}, {}, n.op.dtype);
        rr.trace.clear();
        rr.stats = Stats();
        it = cache.emplace(key, std::make_pair(std::move(rr), strategy)).first;
      } else if (first_in_run) {
        ++st.cached_kernels;
      }
      if (first_in_run) {
        st.transactions += it->second.first.transactions;
        ++st.simulated_kernels;
      }
      const RunResult& rr = it->second.first;
      nr.strategy = it->second.second;
      nr.time_s = rr.latency_s;
      for (const auto& k : rr.kernels) {
        nr.dram_bytes += k.dram_bytes;
        nr.min_bytes += k.min_bytes;
        nr.roofline_s += k.roofline_s;
        nr.transactions += k.transactions;
      }
      nr.bound = rr.kernels.empty() ? "" : rr.kernels.front().bound;
      nr.events = rr.events;
      step.time_s += nr.time_s * n.count;
      step.dram_bytes += nr.dram_bytes * n.count;
      step.events += rr.events.scaled(n.count);
    }
    step.flops += nr.flops * n.count;
    step.nodes.push_back(nr);
  }
  return step;
}

namespace {
ModelRunResult run_model_at(const ChipModel& chip, const ModelConfig& model, const Scenario& sc,
                            const ModelRunOptions& opt, const TransactionBudget* budget) {
  auto wall0 = std::chrono::steady_clock::now();
  sc.validate(model);
  ModelRunResult r;
  r.chip = chip.name();
  r.family = chip.family();
  r.model = model.name;
  r.scenario = sc;
  FusionPolicy fusion = sc.fusion ? *sc.fusion : FusionPolicy::parse(chip.default_fusion());
  r.fusion = fusion.str();
  r.memory = footprint(model, sc);
  r.capacity_bytes = chip.dram_capacity();
  if (opt.check_memory) check_fits(r.memory, r.capacity_bytes, model, sc, chip.name());
  if (sc.tp > 1)
    throw InputError("--tp " + std::to_string(sc.tp) + ": this build models one chip; tensor parallelism needs the "
                     "multi-chip interconnect model (use --tp 1, or lower precision / fewer sequences to fit)");

  if (budget) {  // the whole run against --max-transactions, before any kernel is simulated
    StepGraphStats est;
    est.estimate_only = true;
    for (const StepPlan& plan : plan_steps(sc, opt.max_decode_samples))
      run_step_graph(chip, build_step_graph(model, sc, plan.decode, plan.context_len, fusion), r.memory.weight_bytes, &est);
    budget->check_estimate(est.estimated_transactions);
  }
  StepGraphStats gs;
  for (const StepPlan& plan : plan_steps(sc, opt.max_decode_samples)) {
    Graph g = build_step_graph(model, sc, plan.decode, plan.context_len, fusion);
    StepResult step = run_step_graph(chip, g, r.memory.weight_bytes, &gs);
    r.transactions = gs.transactions;
    r.simulated_kernels = gs.simulated_kernels;
    r.cached_kernels = gs.cached_kernels;
    step.decode = plan.decode;
    step.context_len = plan.context_len;
    step.repeat = plan.repeat;
    r.events += step.events.scaled(static_cast<double>(step.repeat));
    r.steps.push_back(step);
  }
  double decode_time = 0;
  std::int64_t decode_steps = 0;
  for (const auto& s : r.steps) {
    if (s.decode) {
      decode_time += s.time_s * s.repeat;
      decode_steps += s.repeat;
    } else {
      r.ttft_s = s.time_s;
    }
  }
  r.tpot_s = decode_steps ? decode_time / decode_steps : 0;
  r.request_s = r.ttft_s + decode_time;
  if (sc.phase == Phase::Prefill) r.tokens_per_s = r.ttft_s > 0 ? sc.batch * sc.input_len / r.ttft_s : 0;
  else if (sc.phase == Phase::Decode) r.tokens_per_s = r.tpot_s > 0 ? sc.batch / r.tpot_s : 0;
  else r.tokens_per_s = r.request_s > 0 ? sc.batch * sc.output_len / r.request_s : 0;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}
}  // namespace

ModelRunResult run_model(const ChipModel& chip, const ModelConfig& model, const Scenario& sc,
                         const ModelRunOptions& opt) {
  ModelRunResult r;
  double wall = 0;
  std::uint64_t txn = 0;
  TransactionBudget budget("running " + model.name + " on " + chip.name());
  bool first = true;  // the first pass is estimated up front; throttled passes are admitted kernel by kernel
  PowerResult p = settle_power(chip, opt.sustained, [&](const ChipModel& c) {
    r = run_model_at(c, model, sc, opt, first ? &budget : nullptr);
    first = false;
    wall += r.wall_s;
    txn += r.transactions;
    return r.events;
  });
  r.chip = chip.name();
  r.capacity_bytes = chip.dram_capacity();
  r.power = p;
  r.wall_s = wall;
  r.transactions = txn;
  return r;
}




}  // namespace xpu
