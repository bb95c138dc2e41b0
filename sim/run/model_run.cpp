#include "sim/run/model_run.h"

#include "kernels/collective/custom_allreduce.h"
#include "sim/interconnect/topology.h"
#include "sim/base/run_budget.h"
#include "sim/base/strformat.h"
#include "sim/run/kernel_run.h"
#include "sim/run/system_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

namespace xpu {

namespace {
// Identical ops (the same GEMM in every decode sample, say) are simulated once per run.
std::string op_key(const OpSpec& o, bool resident_weights) {
  std::ostringstream os;
  os << name(o.kind) << "|" << o.shape_str() << "|" << name(o.dtype) << name(o.wdtype) << name(o.odtype) << "|"
     << o.rows << "x" << o.cols << "|" << o.topk << "|" << o.n << "|" << o.window << "|" << o.causal << "|"
     << (resident_weights ? o.resident_weight_bytes : 0.0) << "|" << o.impl << "|" << o.weights_stationary << "|" << o.page_size << "|" << o.head_dim_v;
  for (auto g : o.group_rows) os << "," << g;
  return os.str();
}
}  // namespace

void prepare_step_op(OpSpec& op, double resident_weight_bytes) {
  if ((op.kind == OpKind::Gemm || op.kind == OpKind::GroupedGemm) && bytes_per_element(op.wdtype) > bytes_per_element(op.dtype))
    op.dtype = op.wdtype;
  op.resident_weight_bytes = resident_weight_bytes;
}

StepPass step_pass(const ChipModel& chip, const ModelConfig& model, const Scenario& sc) {
  if (sc.phase == Phase::Request)  // it ran a decode step under that name
    throw InputError("--phase 'request': a session steps through one forward step (expected prefill or decode; "
                     "xpusim.run(phase='request') times a whole request)", "--phase", "request");
  check_runs_dtypes(chip, sc.wdtype, sc.adtype, sc.kvdtype);  // as run refuses them, not a probe's shape naming no flag
  const bool decode = sc.phase == Phase::Decode;
  Graph g = build_step_graph(model, sc, decode, decode ? sc.input_len + 1 : sc.input_len,
                             sc.fusion ? *sc.fusion : FusionPolicy::parse(chip.default_fusion()));
  const double resident = footprint(model, sc).weight_bytes;
  StepPass pass;
  for (GraphNode& n : g.nodes) {
    if (n.fused || is_collective(n.op.kind)) continue;
    prepare_step_op(n.op, resident);
    KernelPrograms progs = chip.lower(n.op, LowerOptions{});
    pass.launch_counts.insert(pass.launch_counts.end(), progs.size(), n.count);
    pass.kernels.push_back(std::move(progs));
  }
  return pass;
}

Scenario session_scenario(const std::string& phase, std::int64_t batch, std::int64_t input, const std::string& dtype) {
  ScenarioArgs a;
  a.phase = phase;
  a.batch = batch;
  a.input = input;
  a.output = 1;
  a.dtype = dtype;
  return make_scenario(a);
}

DType step_gemm_dtype(const Scenario& sc) {
  return bytes_per_element(sc.wdtype) > bytes_per_element(sc.adtype) ? sc.wdtype : sc.adtype;
}

double fold_step_pass(RunResult& r, const std::vector<int>& launch_counts) {
  if (r.kernels.size() != launch_counts.size())
    throw std::logic_error("fold_step_pass: " + std::to_string(r.kernels.size()) + " kernel launches, " +
                           std::to_string(launch_counts.size()) + " counts");
  double step = 0;
  for (size_t i = 0; i < r.kernels.size(); ++i) {
    r.kernels[i].count = launch_counts[i];
    step += r.kernels[i].time_s * launch_counts[i];
  }
  return step;
}

PowerResult manage_session_power(const ChipModel& chip, RunResult& r, const std::vector<int>& launch_counts) {
  const bool model = !launch_counts.empty();
  if (model && r.kernels.size() != launch_counts.size())
    throw std::logic_error("manage_session_power: " + std::to_string(r.kernels.size()) + " kernel launches, " +
                           std::to_string(launch_counts.size()) + " counts");
  EnergyEvents step;  // a model's whole step: the power manager's average is over every run of every kernel
  for (size_t i = 0; model && i < r.kernels.size(); ++i) step += r.kernels[i].events.scaled(launch_counts[i]);
  const PowerResult p = model ? manage_power(chip, step, /*steady_state=*/ModelRunOptions{}.sustained)
                              : manage_power(chip, r.events, /*steady_state=*/KernelStudyOptions{}.sustained);
  apply_power(r, p);
  return p;
}

SessionQuestion ask_run(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, std::vector<int> launch_counts) {
  ModelRunOptions o;
  o.check_memory = false;  // a session steps a pass that does not fit as well, as it always has
  const ModelRunResult run = run_model(chip, model, sc, o);
  return {std::move(launch_counts), true, run.steps.empty() ? 0.0 : run.steps.front().time_s, run.power};
}

SessionAnswer answer_session(const ChipModel& chip, RunResult& r, const SessionQuestion& q) {
  SessionAnswer a;
  if (!q.model) {
    a.power = manage_session_power(chip, r, {});
    return a;
  }
  a.power = q.run_power;
  apply_power(r, a.power);
  a.stepped_s = fold_step_pass(r, q.launch_counts);
  r.dram_path = kernels_dram_path(chip, r.kernels);  // over the step's runs of each kernel, as run's step gives it
  a.step_s = q.run_step_s;
  return a;
}

StepResult run_step_graph(const ChipModel& chip, Graph g, double resident_weight_bytes, StepGraphStats* stats, bool fresh) {
  // Identical ops recur across steps, batch points and studies of one process: their results are
  // kept per chip configuration (the resolved YAML names the clock too). Bounded: at most 20,000
  // kernel summaries (RunOptions::summary: no stats, unit names or config; about 1-2 KiB each with
  // the key, so some 40 MiB at most), cleared when full.
  static std::map<std::string, std::pair<RunResult, std::string>> cache;
  if (cache.size() > 20000) cache.clear();
  const std::string chip_key = std::to_string(std::hash<std::string>{}(chip.full_yaml())) + "|";
  StepResult step;
  std::set<std::string> fresh_done;
  StepGraphStats local;
  StepGraphStats& st = stats ? *stats : local;
  for (GraphNode& n : g.nodes) {
    prepare_step_op(n.op, resident_weight_bytes);
    NodeResult nr;
    nr.label = n.op.label;
    nr.group = n.group;
    nr.op = name(n.op.kind);
    nr.shape = n.op.shape_str();
    nr.count = n.count;
    nr.fused = n.fused;
    nr.fused_into = n.fused_into;
    nr.flops = n.op.flops();
    if (is_collective(n.op.kind)) {
      nr.bound = "communication";
      nr.comm_bytes = static_cast<double>(n.op.m);
    } else if (!n.fused) {
      std::string key = chip_key + op_key(n.op, chip.reads_resident_weights());
      auto it = cache.find(key);
      const bool first_in_run = st.seen.insert(key).second;
      if (st.estimate_only) {  // what simulating this graph would cost, from its lowered programs
        if (it == cache.end() && first_in_run)
          st.estimated_transactions +=
              estimate_run({chip.lower(n.op, LowerOptions{})}, chip.executors() * 32.0, false).transactions;
        step.nodes.push_back(nr);
        continue;
      }
      // Unfolded: this rank simulates each of its distinct kernels itself, once (identical ops of
      // its own graph, such as every layer's norm, still share one simulation, as in any run).
      if (fresh && it != cache.end() && fresh_done.insert(key).second) {
        cache.erase(it);
        it = cache.end();
      }
      if (it == cache.end()) {
        LowerOptions lo;
        // Lowered without its graph label: a label names the operands' address regions
        // (LowerOptions::ref), and caches and DRAM channels see the addresses, so two ops of one key
        // (a dense and a MoE layer's o_proj, Llama's q_proj and o_proj) timed differently by label and
        // the cache kept whichever ran first: results depended on the order of runs (issue 17).
        OpSpec op = n.op;
        op.label.clear();
        KernelPrograms progs = chip.lower(op, lo);
        std::string strategy;
        for (const auto& p : progs) strategy += (strategy.empty() ? "" : "; ") + p.strategy;
        RunOptions ro;
        ro.summary = true;    // the cache keeps kernel figures only
        ro.keep_chip = true;  // one warm chip for the kernels of the run (see RunOptions)
        RunResult rr = simulate(chip, {progs}, ro, n.op.dtype);
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
      nr.bound_unit = rr.kernels.empty() ? "" : rr.kernels.front().bound_unit;
      nr.bound_share = rr.kernels.empty() ? 0 : rr.kernels.front().bound_share;
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

std::optional<DramPathBound> step_dram_path(const ChipModel& chip, const StepResult& step) {
  std::vector<PathSample> ks;
  for (const NodeResult& n : step.nodes)
    if (!n.fused && n.comm_bytes <= 0 && n.bound != "communication")
      ks.push_back({n.time_s * n.count, n.dram_bytes * n.count, n.bound_unit, n.bound_share});
  return dram_path_bound(chip, ks);
}

void check_layout_fits_system(const Scenario& sc, const SystemSpec& sys, const ModelConfig& model) {
  sys.require_model_ranks();
  const int chips = sys.ranks();
  if (sc.devices() == chips) return;
  const std::string layout = "--tp " + std::to_string(sc.tp) + " x --pp " + std::to_string(sc.pp) + " x --dp " +
                             std::to_string(sc.dp) + " = " + std::to_string(sc.devices()) + " devices";
  if (chips == 1)
    throw InputError::first_of(layout + " needs a system of " + std::to_string(sc.devices()) +
                                   " chips: add --system <preset> (xpusim list systems) or --devices " + std::to_string(sc.devices()),
                               layout);
  // --pp is named whenever the user gave it, even at 1: an example without it keeps the user's stages
  // (--pp 4 --tp 4 on 4 chips offered "--tp 4 --dp 1", which with --pp 4 still takes 16).
  auto example = [&](int tp, int pp, int dp) {
    return "--tp " + std::to_string(tp) + (pp > 1 || sc.pp > 1 ? " --pp " + std::to_string(pp) : "") + " --dp " + std::to_string(dp);
  };
  // The example keeps the degrees the user set (those above 1) and fills in the one left at 1: --tp 2 on
  // 4 chips -> --tp 2 --dp 2, --dp 2 on 8 chips -> --tp 4 --dp 2. Failing that, the user's stages where
  // they divide the chips (else one), with the user's TP group where it divides the chips left (else the
  // widest of at most 8 ranks that does and splits the heads), the rest data-parallel replicas.
  std::string fix;
  // Data-parallel attention (--ep = --tp x --dp, no stages) keeps its kind: the attention groups fill the chips
  // and the experts span them (--ep 4 --dp 4 on 8 chips offered "--tp 2 --dp 4", which --ep 4 then refused),
  // where the experts (with their replicas) split over that many ranks; else the examples below.
  if (sc.dp_attention() && chips % sc.tp == 0 && (model.num_experts + sc.redundant_experts) % chips == 0)
    fix = example(sc.tp, 1, chips / sc.tp) + " --ep " + std::to_string(chips);
  else if (sc.dp == 1 && chips % (sc.tp * sc.pp) == 0) fix = example(sc.tp, sc.pp, chips / (sc.tp * sc.pp));
  else if (sc.tp == 1 && chips % (sc.dp * sc.pp) == 0 && model.tp_splits_heads(chips / (sc.dp * sc.pp)))
    fix = example(chips / (sc.dp * sc.pp), sc.pp, sc.dp);
  if (fix.empty()) {
    const int pp = chips % sc.pp == 0 ? sc.pp : 1, per_stage = chips / pp;
    int tp = per_stage % sc.tp == 0 ? sc.tp : 1;
    for (int t = std::min(per_stage, 8); t > 1 && tp == 1; --t)
      if (per_stage % t == 0 && model.tp_splits_heads(t)) tp = t;
    fix = example(tp, pp, per_stage / tp);
  }
  throw InputError::first_of(layout + ", but system " + sys.name + " has " + std::to_string(chips) +
                                 " chips (expected a layout whose tp x pp x dp is " + std::to_string(chips) + ", e.g. " + fix + ")",
                             layout);
}

namespace {
// The first layout on a system of `chips` chips whose every device fits.
std::string fitting_layout(const ModelConfig& model, Scenario sc, const SystemSpec& sys, const LayoutFit& fit) {
  const int chips = sys.ranks();
  const CommBufferParams comm = comm_buffer_params(sys);
  // Fewest chips per replica first; among those, tensor parallelism before pipeline stages.
  for (int group = 1; group <= chips; ++group)
    for (int pp = 1; pp <= group; ++pp) {
      const int tp = group / pp;
      if (group % pp != 0 || chips % group != 0) continue;
      sc.tp = tp;
      sc.pp = pp;
      sc.dp = chips / (tp * pp);
      sc.ep = 1;
      sc.redundant_experts = 0;
      sc.microbatches = 0;
      double bytes = -1;
      try {
        bytes = fit(sc, comm);
      } catch (const InputError&) {
        continue;
      }
      if (bytes >= 0)
        return "--tp " + std::to_string(tp) + (pp > 1 ? " --pp " + std::to_string(pp) : "") + " --dp " +
               std::to_string(sc.dp) + " (" + format_bytes(bytes) + " per device)";
    }
  return "";
}
}  // namespace

std::string layout_advice(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const SystemSpec& sys,
                          const LayoutFit& fit_arg) {
  const LayoutFit fit = fit_arg ? fit_arg : [&](const Scenario& t, const CommBufferParams& comm) {
    t.validate(model);
    const double bytes = footprint(model, t, comm).total();
    return bytes <= chip.dram_capacity() ? bytes : -1.0;
  };
  const int chips = sys.ranks();
  if (chips > 1) {
    const std::string here = fitting_layout(model, sc, sys, fit);
    if (!here.empty()) return "on " + sys.name + ": " + here;
  }
  // A shipped system of this chip with more chips that some layout fits (the smallest).
  std::string best;
  int best_chips = 0;
  for (const SystemSpec& s : model_systems()) {
    if (s.chip != chip.name() || s.ranks() <= chips || (best_chips && s.ranks() >= best_chips)) continue;
    const std::string found = fitting_layout(model, sc, s, fit);
    if (!found.empty()) best = "a system that fits: --system " + s.name + " " + found, best_chips = s.ranks();
  }
  if (!best.empty()) return best;
  // None holds it as shipped: say so, and name the fewest nodes of a system with a scale-out network
  // (--nodes) that would, so the advice never names a layout without a system to run it on.
  std::string largest, grown;
  int largest_chips = 0, grown_chips = 0;
  bool scales_out = false;
  for (SystemSpec s : model_systems()) {
    if (s.chip != chip.name()) continue;
    if (s.ranks() > largest_chips) largest = s.name, largest_chips = s.ranks();
    if (s.network == "none") continue;
    scales_out = true;
    for (int nodes = s.nodes + 1; nodes * s.chips <= kMaxSystemChips; ++nodes) {
      if (grown_chips && nodes * s.chips >= grown_chips) break;
      s.nodes = nodes;
      if (s.ranks() <= chips) continue;
      const std::string found = fitting_layout(model, sc, s, fit);
      if (found.empty()) continue;
      grown = "--system " + s.name + " --nodes " + std::to_string(nodes) + " " + found;
      grown_chips = s.ranks();
      break;
    }
  }
  if (largest.empty()) return "";  // no shipped system of this chip: the single-chip advice stands alone
  const std::string none = "none of the shipped systems of " + chip.name() + " holds it as shipped (largest: " + largest +
                           ", " + std::to_string(largest_chips) + " chips)";
  if (!grown.empty()) return none + "; with more nodes: " + grown;
  if (!scales_out) return none + "; none has a scale-out network to add nodes (--nodes)";
  return none + ", nor any of them with more nodes (up to " + std::to_string(kMaxSystemChips) + " chips)";
}

namespace {
// The median of `count` per-token decode times (the mean of the two middle ones for an even count), each
// simulated decode step standing for `repeat` tokens.
double median_decode_step(const std::vector<StepResult>& steps, std::int64_t count) {
  if (count <= 0) return 0;
  std::vector<std::pair<double, std::int64_t>> times;
  for (const auto& s : steps)
    if (s.decode && !s.prompt) times.emplace_back(s.time_s, s.repeat);
  std::sort(times.begin(), times.end());
  auto nth = [&](std::int64_t k) {  // the k-th smallest token time, 0-based
    for (const auto& [t, n] : times) {
      if (k < n) return t;
      k -= n;
    }
    return times.back().first;
  };
  return count % 2 ? nth(count / 2) : 0.5 * (nth(count / 2 - 1) + nth(count / 2));
}

// TTFT, TPOT, request time and tokens per second from the step times.
void summarize_times(ModelRunResult& r) {
  const Scenario& sc = r.scenario;
  double decode_time = 0;
  std::int64_t decode_steps = 0;
  r.ttft_s = 0;
  for (const auto& s : r.steps) {
    if (s.decode && !s.prompt) {
      decode_time += s.time_s * s.repeat;
      decode_steps += s.repeat;
    } else {
      r.ttft_s += s.time_s * s.repeat;  // the prefill, and the prompt tokens beyond its largest compiled bucket
    }
  }
  r.tpot_s = decode_steps ? decode_time / decode_steps : 0;
  r.tpot_p50_s = median_decode_step(r.steps, decode_steps);
  r.request_s = r.ttft_s + decode_time;
  if (sc.phase == Phase::Prefill) r.tokens_per_s = r.ttft_s > 0 ? sc.batch * sc.input_len / r.ttft_s : 0;
  else if (sc.phase == Phase::Decode) r.tokens_per_s = r.tpot_s > 0 ? sc.batch / r.tpot_s : 0;
  else r.tokens_per_s = r.request_s > 0 ? sc.batch * sc.output_len / r.request_s : 0;
}

// Node and step times (and the figures derived from them) at the clocks the power manager ran the run at.
void apply_clocks(ModelRunResult& r) {
  if (!r.power.ran_off_nominal()) return;
  // A step's time changes by what its kernels gain or lose (collectives keep their time); with
  // pipeline stages the kernels of all stages are listed, and the stages run side by side.
  const double stages = r.scenario.pp;
  for (StepResult& st : r.steps) {
    double delta = 0;
    for (NodeResult& n : st.nodes) {
      if (n.fused) continue;
      EnergyEvents e = r.power.events_of(n.events);
      const double before = n.time_s;
      if (n.events.time_s > 0) n.time_s *= e.time_s / n.events.time_s;
      n.events = e;
      delta += (n.time_s - before) * n.count;
    }
    st.time_s += delta / stages;
    st.events = r.power.events_of(st.events);
  }
  r.events = r.power.events_of(r.events);
  summarize_times(r);
}

ModelRunResult run_model_at(const ChipModel& chip, const ModelConfig& asked, const Scenario& sc,
                            const ModelRunOptions& opt, const TransactionBudget* budget) {
  auto wall0 = std::chrono::steady_clock::now();
  const ModelConfig model = sc.run_model_of(asked);  // the heads as the software stores them
  sc.validate(model);
  ModelRunResult r;
  r.chip = chip.name();
  r.family = chip.family();
  r.model = model.name;
  r.scenario = sc;
  FusionPolicy fusion = sc.fusion ? *sc.fusion : FusionPolicy::parse(chip.default_fusion());
  r.fusion = fusion.str();
  SystemContext sys = opt.system ? *opt.system : SystemContext{single_chip_system(chip)};
  sys.trace = opt.trace;
  check_layout_fits_system(sc, sys.spec, model);
  check_runs_dtypes(chip, sc.wdtype, sc.adtype, sc.kvdtype);
  r.system = opt.system ? sys.spec.name : "";
  r.layout = sc.layout_str();
  r.devices = sc.devices();
  r.overlap = sys.overlap;
  r.experts = model.is_moe();
  const CommBufferParams comm = comm_buffer_params(sys.spec);
  r.memory = footprint(model, sc, comm);
  r.capacity_bytes = chip.dram_capacity();
  if (opt.check_memory) {
    try {
      check_fits(r.memory, r.capacity_bytes, model, sc, chip.name(), comm, runs_weights(chip, DType::fp4, DType::fp8));
    } catch (const InputError& e) {
      const std::string layout = layout_advice(chip, model, sc, sys.spec);
      if (layout.empty()) throw;
      // Its data, or where the check named no flag the advice's first (layout_advice names flags only as "--flag N").
      if (!e.flag().empty() || layout.find("--") == std::string::npos) throw InputError(std::string(e.what()) + "; " + layout, e);
      throw InputError::first_of(std::string(e.what()) + "; " + layout, layout.substr(layout.find("--")));
    }
  }

  if (budget) {  // the whole run against --max-transactions, before any kernel is simulated
    StepGraphStats est;
    est.estimate_only = true;
    const int ranks = sc.dp_attention() ? sc.devices() : sc.tp * sc.pp;  // the ranks run_system_step simulates
    const Sharding sh = shard_weights(model, sc);
    for (const StepPlan& plan : plan_steps(sc, opt.max_decode_samples))
      for (int rank = 0; rank < ranks; ++rank)
        run_step_graph(chip, build_step_graph(model, step_scenario(sc, plan), plan.decode, plan.context_len, fusion, sh.roles[static_cast<size_t>(rank)].part),
                       sh.rank_weight_bytes[static_cast<size_t>(rank)], &est, !sys.fold);
    budget->check_estimate(est.estimated_transactions);
  }
  // The TP all-reduces as the software the fusion names runs them (serve sets the stack from its scheduler):
  // vLLM's or TensorRT-LLM's own kernels where their rule takes a call, the collective library otherwise.
  Scenario stepped = sc;
  if (stepped.allreduce_stack.empty()) stepped.allreduce_stack = coll::fusion_allreduce_stack(fusion.str());
  StepGraphStats gs;
  for (const StepPlan& plan : plan_steps(stepped, opt.max_decode_samples)) {
    if (sys.trace) sys.trace->set_step(plan.decode ? "decode (context " + std::to_string(plan.context_len) + ")" : "prefill");
    StepResult step = run_system_step(chip, sys, model, step_scenario(stepped, plan), plan, fusion, &gs);
    r.transactions = gs.transactions;
    r.simulated_kernels = gs.simulated_kernels;
    r.cached_kernels = gs.cached_kernels;
    step.decode = plan.decode;
    step.context_len = plan.context_len;
    step.repeat = plan.repeat;
    step.prompt = plan.prompt;
    step.dram_path = step_dram_path(chip, step);
    r.events += step.events.scaled(static_cast<double>(step.repeat));
    r.steps.push_back(step);
  }
  summarize_times(r);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}
}  // namespace

void ModelRunOptions::time_after_runs(double runs) {
  after_runs = checked_after_runs(runs);
  sustained = false;
}

void check_neuron_flags(const ChipModel& chip, const Scenario& sc) {
  if (chip.family() == "trainium") return;
  const std::string not_here = ", not " + chip.name() + " (" + chip.family() + "), ";
  // transformers-neuronx's compiled buckets (--neuron-buckets) are the Neuron SDK's: a Trainium/Inferentia chip's.
  if (!sc.buckets.empty())
    throw InputError("--neuron-buckets: AWS Neuron's compiled shape buckets apply to the trainium family (trn1, trn2, inf2)" + not_here +
                     "which runs every step at its exact shape; drop the flag", "--neuron-buckets", "");
  // Head padding is how Neuron stores the heads for its NeuronCores: on a GPU or TPU it padded the query heads and
  // replicated the KV heads (more weight and KV bytes) where the chip's serving stacks split them as they are.
  if (sc.pad_heads != 0)
    throw InputError("--pad-heads " + std::to_string(sc.pad_heads) + ": heads padded as AWS Neuron stores them for its NeuronCores "
                     "apply to the trainium family (trn1, trn2, inf2)" + not_here +
                     "whose serving stacks split the heads as they are (a --tp that divides them, or KV heads replicated); drop the flag", "--pad-heads", std::to_string(sc.pad_heads));
}

ModelRunResult run_model(const ChipModel& chip, const ModelConfig& model, const Scenario& sc,
                         const ModelRunOptions& opt) {
  // One simulation at the nominal clock; the power manager's clocks then set the times (apply_clocks).
  if (opt.sustained && opt.after_runs >= 0)
    throw InputError(strformat("run: sustained and --after-runs %g are two answers to one question: give one of them", opt.after_runs),
                     "--after-runs", strformat("%g", opt.after_runs));
  check_neuron_flags(chip, sc);
  TransactionBudget budget("running " + model.name + " on " + chip.name());
  ModelRunResult r = run_model_at(chip, model, sc, opt, &budget);
  r.power = opt.after_runs >= 0 ? power_after_runs(chip, r.events, checked_after_runs(opt.after_runs))
                                : manage_power(chip, r.events, opt.sustained);
  apply_clocks(r);
  return r;
}

}  // namespace xpu
