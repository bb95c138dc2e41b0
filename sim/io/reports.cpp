// Report objects rendered for people and programs: JSON objects and terminal tables of kernel, model-run
// and serving results. Commands and the Python module print what these return; nothing assembles a
// report by hand elsewhere.
#include "sim/io/reports.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "sim/base/strformat.h"
#include "sim/io/output.h"

namespace xpu {

namespace {
// A time or count that did not happen (the power model's -1: no boost cut, TDP never reached, no warm-up) is
// null in every report, not a number a reader could take for a value.
nlohmann::json when(double t) { return t >= 0 && std::isfinite(t) ? nlohmann::json(t) : nlohmann::json(nullptr); }
}  // namespace

nlohmann::json power_json(const PowerResult& p) {
  if (!p.modeled) return {{"modeled", false}};
  return {{"modeled", true},
          {"avg_power_w", p.avg_power_w},
          {"energy_j", p.energy_j},
          {"tdp_w", p.tdp_w},
          {"clock_ratio", p.clock_ratio},
          {"throttled", p.throttled},
          {"slowdown", p.slowdown},
          {"unthrottled_power_w", p.unthrottled_power_w},
          {"steady_state", p.steady_state},
          {"after_runs", when(p.after_runs)},
          {"boost_clock_ratio", p.boost_clock_ratio},
          {"held_clock_ratio", p.held_clock_ratio},
          {"short_term_clock_ratio", p.short_term_clock_ratio},
          {"boost_s", p.boost_s},
          {"boost_ends_s", when(p.boost_ends_s)},
          {"limit_reached_s", when(p.limit_reached_s)},
          {"limit_window_s", p.limit_window_s},
          {"energy_breakdown_j",
           {{"compute", p.breakdown.compute_j}, {"vector", p.breakdown.vector_j}, {"onchip", p.breakdown.onchip_j},
            {"dram", p.breakdown.dram_j}, {"active", p.breakdown.active_j}, {"static", p.breakdown.static_j}}}};
}

namespace {
// The parallel layout of a run or a server: the same fields in both reports.
nlohmann::json layout_json(const LayoutFigures& s, int devices, const std::string& name) {
  return {{"tp", s.tp}, {"ep", s.ep}, {"pp", s.pp}, {"dp", s.dp}, {"expert_tp", s.expert_tp > 0 ? nlohmann::json(s.expert_tp) : nlohmann::json(nullptr)},
          {"microbatches", s.microbatches}, {"devices", devices}, {"sp", s.sp}, {"pad_heads", s.pad_heads},
          {"redundant_experts", s.redundant_experts}, {"overlap", s.overlap}, {"two_batch_overlap", s.two_batch_overlap},
          {"name", name}};
}

// "model on system (8x chip, layout[, collectives overlapped])", on one chip "model on chip (1x chip, tp1)": the
// first line of run's and serve's tables, which names the layout on one chip as on many (before 2026-12-04 one
// chip's said "model on chip" alone). --overlap is no layout but changes the step: said beside it (two-batch
// overlap, which implies it, names itself in the layout).
std::string placed_on(const std::string& model, const std::string& system, int devices, const std::string& chip,
                      const std::string& layout, const LayoutFigures& f) {
  const std::string overlapped = f.overlap && !f.two_batch_overlap ? ", collectives overlapped" : "";
  return model + " on " + (system.empty() ? chip : system) + " (" + std::to_string(devices) + "x " + chip + ", " + layout + overlapped + ")";
}
}  // namespace

nlohmann::json model_run_json(const ModelRunResult& r, const ChipModel* chip) {
  nlohmann::json j;
  j["chip"] = r.chip;
  j["family"] = r.family;
  j["model"] = r.model;
  const Scenario& s = r.scenario;
  j["scenario"] = {{"phase", name(s.phase)}, {"batch", s.batch}, {"input", s.input_len}, {"output", s.output_len},
                   {"wdtype", name(s.wdtype)}, {"adtype", name(s.adtype)}, {"kvdtype", name(s.kvdtype)},
                   {"tp", s.tp}, {"routing", s.routing.str()}, {"fusion", r.fusion}};
  j["system"] = r.system.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.system);
  j["devices"] = r.devices;
  j["layout"] = layout_json(layout_figures(s, r.overlap, r.experts), r.devices, r.layout);
  // A time the run did not have is null, not 0 (a decode step has no first token, a prefill no decode step).
  bool prefill = false, decode = false;
  for (const auto& st : r.steps) (st.decode ? decode : prefill) = true;
  j["ttft_s"] = prefill ? nlohmann::json(r.ttft_s) : nlohmann::json(nullptr);
  j["tpot_s"] = decode ? nlohmann::json(r.tpot_s) : nlohmann::json(nullptr);
  j["tokens_per_s"] = r.tokens_per_s;
  j["request_s"] = r.request_s;
  j["memory"] = {{"weights_bytes", r.memory.weight_bytes}, {"kv_cache_bytes", r.memory.kv_cache_bytes},
                 {"activation_bytes", r.memory.activation_bytes}, {"comm_buffer_bytes", r.memory.comm_buffer_bytes},
                 {"total_bytes", r.memory.total()}, {"capacity_bytes", r.capacity_bytes}, {"per_device", true}};
  j["power"] = power_json(r.power);
  double tokens = 0;
  for (const auto& st : r.steps) tokens += st.decode ? static_cast<double>(r.scenario.batch) * st.repeat : 0;
  if (tokens == 0) tokens = static_cast<double>(r.scenario.batch);
  // The power model runs one device (rank 0, or the mean of the stages' devices) and every device of the
  // layout spends that, while the tokens are the whole layout's: the energy per token is the layout's.
  j["joules_per_token"] = r.power.modeled ? r.power.energy_j * std::max(1, r.devices) / tokens : 0;
  j["wall_s"] = r.wall_s;
  j["transactions"] = r.transactions;
  j["simulated_kernels"] = r.simulated_kernels;  // distinct kernels the result stands for
  j["cached_kernels"] = r.cached_kernels;        // of those, taken from an earlier call's simulation
  j["cached"] = r.cached_kernels > 0;
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& st : r.steps) {
    nlohmann::json ks = nlohmann::json::array();
    for (const auto& n : st.nodes)
      ks.push_back({{"label", n.label}, {"op", n.op}, {"shape", n.shape}, {"count", n.count}, {"fused", n.fused},
                    {"fused_into", n.fused_into}, {"time_s", n.time_s * n.count},
                    {"share", st.time_s > 0 ? n.time_s * n.count / st.time_s : 0}, {"flops", n.flops * n.count},
                    {"bytes", n.dram_bytes * n.count}, {"roofline_s", n.roofline_s * n.count}, {"bound", n.bound},
                    {"strategy", n.strategy}, {"stage", n.stage},
                    {"collective_bytes", n.comm_bytes > 0 ? nlohmann::json(n.comm_bytes) : nlohmann::json(nullptr)},
                    {"algorithm", n.comm_bytes > 0 ? nlohmann::json(n.strategy) : nlohmann::json(nullptr)},
                    {"transactions", n.transactions},  // one simulation of the kernel (not x count)
                    // Energy of the kernel per step at the run's settled clock (null without a power model).
                    {"energy_j", chip && chip->power() && !n.fused
                                     ? nlohmann::json(energy(*chip->power(), n.events.scaled(n.count), r.power.clock_ratio).total())
                                     : nlohmann::json(nullptr)}});
    // "prompt": a decode-graph step over prompt tokens beyond the largest compiled context bucket (part of the TTFT).
    steps.push_back({{"phase", st.prompt ? "prompt" : st.decode ? "decode" : "prefill"}, {"context", st.context_len}, {"repeat", st.repeat},
                     {"time_s", st.time_s}, {"flops", st.flops}, {"bytes", st.dram_bytes}, {"devices", st.devices},
                     {"link_transfers", st.comm_pieces}, {"kernels", ks}, {"dram_path", dram_path_json(st.dram_path)}});
  }
  j["steps"] = steps;
  return j;
}

// A description that ends in the TDP ("..., 700 W") loses it here: the table's TDP column says it.
static std::string description_without_tdp(const std::string& description, const std::string& tdp) {
  const std::string tail = ", " + tdp;
  if (tdp.empty() || description.size() <= tail.size() || description.compare(description.size() - tail.size(), tail.size(), tail) != 0)
    return description;
  return description.substr(0, description.size() - tail.size());
}

std::string chip_list_table() {
  // The TDP is the preset's power.tdp (every family has one), marked where its line says `# assumed:`.
  std::ostringstream os;
  // A chip deployed below its design TDP shows both ("500 W (design 700 W)"); the power model holds the first.
  os << std::left << std::setw(14) << "chip" << std::setw(10) << "family" << std::setw(22) << "TDP" << "description\n";
  bool any_assumed = false, any_design = false;
  for (const auto& p : list_presets()) {
    const PresetTdp tdp = preset_tdp(p);
    any_assumed |= tdp.assumed;
    any_design |= !tdp.design.empty();
    const std::string col = tdp.text + (tdp.assumed ? " (assumed)" : "") + (tdp.design.empty() ? "" : " (design " + tdp.design + ")");
    os << std::left << std::setw(14) << p.name << std::setw(10) << p.family << std::setw(22) << col
       << description_without_tdp(p.description, tdp.text) << "\n";
  }
  if (any_assumed)
    os << "(assumed): no published TDP for the chip; the power model runs on the preset's assumption, whose comment "
          "says why (override: --set power.tdp=W)\n";
  if (any_design)
    os << "(design): the chip's design TDP, above the power its deployment provisions, which the power model holds "
          "(power.tdp; power.design_tdp)\n";
  return os.str();
}

std::string model_run_table(const ModelRunResult& r) {
  std::ostringstream os;
  char buf[256];
  const Scenario& s = r.scenario;
  os << placed_on(r.model, r.system, r.devices, r.chip, r.layout, layout_figures(s, r.overlap, r.experts))
     << ": " << name(s.phase) << ", batch " << s.batch << ", input " << s.input_len
     << ", output " << s.output_len << ", weights " << name(s.wdtype) << ", activations " << name(s.adtype)
     << ", KV " << name(s.kvdtype) << ", fusion " << r.fusion << "\n";
  auto row = [&](const std::string& k, const std::string& v) { os << "  " << std::left << std::setw(24) << k << v << "\n"; };
  if (r.ttft_s > 0) row("time to first token", format_seconds(r.ttft_s));
  if (r.tpot_s > 0) row("time per output token", format_seconds(r.tpot_s));
  std::snprintf(buf, sizeof buf, "%.1f tok/s", r.tokens_per_s);
  row(s.phase == Phase::Prefill ? "prefill tokens/s" : "output tokens/s", buf);
  // Reports print bytes in decimal units (GB = 1e9 B) and presets give capacities in binary ones (README): the
  // capacity is stated both ways, so an H100's 81559 MiB reads as what nvidia-smi and the preset say.
  row(r.devices > 1 ? "memory per device" : "memory", r.memory.str(s) + " of " + format_bytes(r.capacity_bytes) +
                                                          strformat(" (%.4g GiB)", r.capacity_bytes / 0x1p30));
  if (r.memory.comm_buffer_bytes > 0)
    row("communication buffers", format_bytes(r.memory.comm_buffer_bytes) + " per device (the collective library's, per communicator)");
  if (r.power.modeled) {
    std::snprintf(buf, sizeof buf, "%.0f W average%s (TDP %.0f W)%s", r.power.avg_power_w, r.devices > 1 ? " per device" : "", r.power.tdp_w,
                  r.power.throttled ? (", throttled to " + std::to_string(static_cast<int>(100 * r.power.clock_ratio)) + "% clock").c_str() : "");
    std::string line = buf;
    if (r.power.after_runs >= 0) line += strformat(", timed after %.0f back-to-back runs from idle", r.power.after_runs);
    else if (r.power.steady_state) line += ", steady state";
    row("power", line);
  }
  std::snprintf(buf, sizeof buf, "%.2f s, %llu transactions, %llu kernels (%llu reused from earlier runs in this process)",
                r.wall_s, static_cast<unsigned long long>(r.transactions),
                static_cast<unsigned long long>(r.simulated_kernels), static_cast<unsigned long long>(r.cached_kernels));
  row("simulation", buf);
  for (const auto& st : r.steps) {
    if (st.decode && &st != &r.steps.back() && r.steps.size() > 2) continue;  // show prefill and the last decode sample
    const std::string prefill = st.context_len == r.scenario.input_len
                                    ? std::string("prefill")
                                    : "prefill (" + std::to_string(r.scenario.input_len) + " tokens in the " +
                                          std::to_string(st.context_len) + "-token compiled bucket)";
    os << "  " << (st.decode ? "decode step at context " + std::to_string(st.context_len) : prefill) << ": "
       << format_seconds(st.time_s) << "\n";
    std::snprintf(buf, sizeof buf, "    %-34s %5s %10s %6s %10s %10s  %s\n", "kernel", "x", "time", "share", "GFLOP", "MB", "bound");
    os << buf;
    for (const auto& n : st.nodes) {
      const std::string label = st.devices > 1 && r.scenario.pp > 1 ? "s" + std::to_string(n.stage) + ":" + n.label : n.label;
      if (n.fused) {
        std::snprintf(buf, sizeof buf, "    %-34s %5d %10s %6s %10.2f %10s  fused into %s\n", label.c_str(), n.count, "-", "-",
                      n.flops * n.count / 1e9, "-", n.fused_into.c_str());
      } else if (n.comm_bytes > 0) {  // a collective: its bytes per rank and the algorithm the library chose
        std::snprintf(buf, sizeof buf, "    %-34s %5d %10s %5.1f%% %10s %10.2f  %s %s\n", label.c_str(), n.count,
                      format_seconds(n.time_s * n.count).c_str(), st.time_s > 0 ? 100 * n.time_s * n.count / st.time_s : 0,
                      "-", n.comm_bytes * n.count / 1e6, n.bound.c_str(), n.strategy.c_str());
      } else {
        std::snprintf(buf, sizeof buf, "    %-34s %5d %10s %5.1f%% %10.2f %10.2f  %s\n", label.c_str(), n.count,
                      format_seconds(n.time_s * n.count).c_str(), st.time_s > 0 ? 100 * n.time_s * n.count / st.time_s : 0,
                      n.flops * n.count / 1e9, n.dram_bytes * n.count / 1e6, n.bound.c_str());
      }
      os << buf;
    }
    if (st.dram_path) os << "    note: " << dram_path_text(*st.dram_path, "the step") << "\n";
    if (st.devices > 1 && (r.scenario.pp > 1 || r.scenario.two_batch_overlap))
      os << "    (share: each row's time over the step's; " << (r.scenario.pp > 1 ? "the stages" : "the two micro-batches")
         << " run side by side, so the shares add up to more than 100%)\n";
  }
  return os.str();
}

namespace {
// Data-parallel attention's balance over the run (null where the layout has none).
nlohmann::json dp_attention_json(const std::optional<DpAttentionStats>& d) {
  if (!d) return nullptr;
  return {{"ranks", d->ranks},
          {"dispatch", d->dispatch},
          {"tokens_per_rank_mean", d->tokens_per_rank_mean},
          {"tokens_per_rank_max", d->tokens_per_rank_max},
          {"imbalance", d->imbalance},
          {"requests_per_rank_mean", d->requests_per_rank_mean},
          {"requests_per_rank_max", d->requests_per_rank_max},
          {"wait_share", d->wait_share},
          {"idle_rank_share", d->idle_rank_share},
          {"held_share", d->held_share}};
}

nlohmann::json kv_transfer_json(const std::optional<KvTransferStats>& k) {
  if (!k) return nullptr;
  return {{"transfers", k->transfers},     {"bytes_total", k->bytes_total},   {"bytes_mean", k->bytes_mean},
          {"prefix_tokens_mean", k->prefix_tokens_mean}, {"prefix_bytes_mean", k->prefix_bytes_mean},
          {"sent_tokens_mean", k->sent_tokens_mean}, {"resident_tokens_mean", k->resident_tokens_mean}, {"prefix_rule", k->prefix_rule},
          {"time_mean_s", k->time_mean_s}, {"time_p50_s", k->time_p50_s},     {"time_p99_s", k->time_p99_s},
          {"alone_s", k->alone_s},         {"fabric_runs", k->fabric_runs},   {"converged", k->converged},
          {"collectives_met", k->collectives_met}, {"collective_delay_s", k->collective_delay_s},
          {"hbm_delay_s", k->hbm_delay_s},
          {"prefill_busy", k->prefill_busy}, {"decode_busy", k->decode_busy},
          {"prefill_power_w", k->prefill_power_w}, {"decode_power_w", k->decode_power_w},
          {"power_manager_chip", k->power_manager_chip.empty() ? nlohmann::json(nullptr) : nlohmann::json(k->power_manager_chip)}};
}

// The limits the power manager acted under (its preset's power.* figures; 0: that limit is not modelled).
nlohmann::json power_limits_json(const PowerLimits& l) {
  return {{"tdp_w", l.tdp_w},
          {"limit_window_s", l.limit_window_s},
          {"peak_limit_w", l.peak_limit_w},
          {"short_term_limit_w", l.short_term_limit_w},
          {"short_term_window_s", l.short_term_window_s},
          {"short_term_source", l.short_term_source.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.short_term_source)}};
}

// What the power manager did over a serving run (null without a power model).
nlohmann::json power_manager_json(const PowerLog& g) {
  if (g.time_s <= 0) return nullptr;
  return {{"boost_s", g.boost_s},
          {"short_term_s", g.short_term_s},
          {"settling_s", g.settling_s},
          {"held_s", g.held_s},
          {"idle_s", g.idle_s},
          {"boost_ends_s", when(g.boost_ends_s)},
          {"held_from_s", when(g.held_from_s)},
          {"max_short_term_avg_w", g.max_short_w},
          // null where no short-term window of the run was free of boost (0 said "0 W", a window that never was)
          {"max_short_term_avg_unboosted_w", g.max_short_unboosted_w > 0 ? nlohmann::json(g.max_short_unboosted_w) : nlohmann::json(nullptr)},
          {"max_limit_avg_w", g.max_limit_w},
          {"max_limit_avg_held_w", g.held_from_s >= 0 ? nlohmann::json(g.max_limit_held_w) : nlohmann::json(nullptr)},
          {"min_clock_ratio", g.min_clock},
          {"limits", power_limits_json(g.limits)}};
}

// What the power manager did over a serving run and the limits it held it to, in two lines ("" without a power
// model). The windows are the preset's (the line said "60 ms" on every chip: a TPU's window is 50 ms). The short-term
// limit caps each piece of work once the boost from idle has ended, not the window's average: a window that still
// holds the boost averages above it (947 W on an H100, whose limit is 718 W), which the second line says, with the
// figure's source (QA, session 42).
std::string power_manager_text(const PowerLog& g) {
  if (g.time_s <= 0) return "";
  const PowerLimits& l = g.limits;
  const std::string sw = format_seconds(l.short_term_window_s), lw = format_seconds(l.limit_window_s);
  const bool fast = l.short_term_limit_w > 0;
  std::string held = g.held_from_s < 0 ? "TDP average not reached"
                                       : strformat("TDP average reached at %s, held %s (highest %s average there %.0f W)",
                                                   format_seconds(g.held_from_s).c_str(), format_seconds(g.held_s).c_str(),
                                                   lw.c_str(), g.max_limit_held_w);
  const std::string unboosted = g.max_short_unboosted_w > 0 ? strformat("%.0f W without boost in the window", g.max_short_unboosted_w)
                                                             : std::string("every window held boost");
  // A run shorter than the TDP window: each of its windows holds the idle chip before the run, so the highest average
  // is below the run's own (an H100 run of 0.57 s at 513 W said "1 s 347 W" and nothing more; QA, session 42).
  const std::string short_run = g.time_s < l.limit_window_s ? strformat(" (the run lasted %s: every %s window holds the idle chip before it)",
                                                                         format_seconds(g.time_s).c_str(), lw.c_str())
                                                            : std::string();
  std::string out = strformat("  power manager: %s at boost, %s, %s; highest %s average %.0f W%s, %s %.0f W%s\n",
                              format_seconds(g.boost_s).c_str(),
                              fast ? (format_seconds(g.short_term_s) + " at the short-term limit").c_str() : "no short-term limit",
                              held.c_str(), sw.c_str(), g.max_short_w, fast ? (" (" + unboosted + ")").c_str() : "", lw.c_str(),
                              g.max_limit_w, short_run.c_str());
  const std::string burst = l.peak_limit_w > 0 ? strformat("up to %.0f W (power.peak_limit)", l.peak_limit_w) : std::string("at the boost clock");
  const std::string tdp = strformat("TDP %.0f W on the %s average (power.tdp)", l.tdp_w, lw.c_str());
  const std::string source = l.short_term_source.empty() ? std::string("no source given") : l.short_term_source;
  if (!fast)
    return out + strformat("    limits: work from idle runs %s until the %s average reaches the %s; no short-term limit "
                           "(power.short_term_limit 0 W%s)\n",
                           burst.c_str(), lw.c_str(), tdp.c_str(), l.short_term_source.empty() ? "" : ("; " + source).c_str());
  return out + strformat("    limits: work from idle runs %s until the %s average reaches %.0f W (power.short_term_limit, "
                         "power.short_term_window), then each iteration draws at most %.0f W, so a %s window that still holds "
                         "the boost averages above it; %s. Short-term limit and window: %s (power.short_term_source)\n",
                         burst.c_str(), sw.c_str(), l.short_term_limit_w, l.short_term_limit_w, sw.c_str(), tdp.c_str(), source.c_str());
}

// A TPOT figure (or tok/s per user, its inverse) of a point: null where no request streamed a second token
// (ServePoint::has_tpot), never 0 (read as infinitely fast).
nlohmann::json tpot_json(const ServePoint& p, double v) { return p.has_tpot() ? nlohmann::json(v) : nlohmann::json(nullptr); }

// Whether the point is an open loop whose arrivals were drawn (closed loops and offline runs offer no rate).
bool has_offered_load(const ServePoint& p) { return p.rate > 0 && p.offered.requests > 0; }

// An open loop's offered load: the nominal rate and what its arrivals offered as drawn (null for other loads).
nlohmann::json offered_json(const ServePoint& p) {
  if (!has_offered_load(p)) return nullptr;
  const OfferedLoad& o = p.offered;
  return {{"nominal_rate", p.rate},          {"requests_per_s", o.requests_per_s}, {"output_tok_s", o.output_tok_s},
          {"input_tok_s", o.input_tok_s},    {"requests", o.requests},             {"last_arrival_s", o.window_s}};
}

// The same as a line under the point's row of the table ("" for other loads).
std::string offered_text(const ServePoint& p) {
  if (!has_offered_load(p)) return "";
  const OfferedLoad& o = p.offered;
  return strformat("         offered load: nominal %g req/s; as drawn %.3g req/s, %.1f output tok/s, %.1f input tok/s "
                   "(%lld arrivals in %s)\n",
                   p.rate, o.requests_per_s, o.output_tok_s, o.input_tok_s, static_cast<long long>(o.requests),
                   format_seconds(o.window_s).c_str());
}

nlohmann::json point_json(const ServePoint& p) {
  nlohmann::json kv = nlohmann::json::array();
  for (const auto& o : p.kv_over_time) kv.push_back({{"t_s", o.t_s}, {"used", o.kv_used}, {"running", o.running}, {"waiting", o.waiting}});
  return {{"batch", p.batch},
          {"kv_transfer", kv_transfer_json(p.kv_transfer)},
          {"concurrency", p.concurrency > 0 ? nlohmann::json(p.concurrency) : nlohmann::json(nullptr)},
          {"rate", p.rate > 0 ? nlohmann::json(p.rate) : nlohmann::json(nullptr)},
          {"offered_load", offered_json(p)},
          {"throughput_tok_s", p.throughput_tok_s},
          {"throughput_tok_s_per_chip", p.throughput_tok_s_per_chip},
          {"tok_s_per_user", tpot_json(p, p.tok_s_per_user)},
          {"requests_per_s", p.requests_per_s},
          {"ttft_s", p.ttft_s},
          {"ttft_p90_s", p.ttft_p90_s},
          {"ttft_p99_s", p.ttft_p99_s},
          {"tpot_s", tpot_json(p, p.tpot_s)},
          {"tpot_p90_s", tpot_json(p, p.tpot_p90_s)},
          {"tpot_p99_s", tpot_json(p, p.tpot_p99_s)},
          {"itl_p50_s", tpot_json(p, p.itl_p50_s)},  // no request of 2+ tokens: no gap between tokens either
          {"e2e_p50_s", p.e2e_p50_s},
          {"preemptions", p.preemptions},
          {"requests", p.requests},
          {"iterations", p.iterations},
          {"makespan_s", p.makespan_s},
          {"busy_s", p.busy_s},
          {"kv_cache", {{"mean_used", p.kv_mean}, {"peak_used", p.kv_peak}, {"over_time", kv}}},
          {"avg_power_w", p.avg_power_w},
          {"joules_per_token", p.joules_per_token},
          {"clock_ratio", p.clock_ratio},
          {"meets_slo", p.meets_slo},
          {"tokens_per_decode_step", p.tokens_per_decode_step},
          {"host_wait_share", p.host_wait_share},
          {"host_busy_share", p.host_busy_share},
          {"host_bound_share", p.host_bound_share},
          {"power_manager", power_manager_json(p.power_manager)},
          // Disaggregated: each pool's groups ({"prefill": ..., "decode": ...}, null for a pool without; null where neither has).
          {"dp_attention", p.kv_transfer && (p.prefill_dp_attention || p.dp_attention)
                               ? nlohmann::json{{"prefill", dp_attention_json(p.prefill_dp_attention)}, {"decode", dp_attention_json(p.dp_attention)}}
                               : dp_attention_json(p.dp_attention)},
          {"wall_s", p.wall_s}};
}
}  // namespace

nlohmann::json frontier_point_json(const ServePoint& p) {
  // A closed loop's users, or an open loop's arrival rate (the other null): never 0 users.
  nlohmann::json j = {{"concurrency", p.concurrency > 0 ? nlohmann::json(p.concurrency) : nlohmann::json(nullptr)},
                      {"rate", p.rate > 0 ? nlohmann::json(p.rate) : nlohmann::json(nullptr)}, {"throughput_tok_s", p.throughput_tok_s},
                      {"throughput_tok_s_per_chip", p.throughput_tok_s_per_chip}, {"tok_s_per_user", tpot_json(p, p.tok_s_per_user)},
                      {"ttft_s", p.ttft_s}, {"tpot_s", tpot_json(p, p.tpot_s)}, {"e2e_p50_s", p.e2e_p50_s}, {"meets_slo", p.meets_slo}};
  if (!p.layout.empty()) j["layout"] = p.layout;
  return j;
}

nlohmann::json serve_json(const ServeResult& r) {
  nlohmann::json j;
  j["chip"] = r.chip;
  j["family"] = r.family;
  j["model"] = r.model;
  j["system"] = r.system.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.system);
  j["layout"] = layout_json(r.layout_figures, r.devices, r.layout);  // the same fields as run's, and the replicas
  j["layout"]["replicas"] = r.replicas;
  j["devices"] = r.devices;
  if (r.disagg) {
    const DisaggLayout& d = *r.disagg;
    auto pool_layout = [](const PoolLayout& p, int devices, int instances) {
      nlohmann::json l = layout_json(p.figures, devices, p.name);
      l["instances"] = instances;
      return l;
    };
    j["layout"]["pools"] = {{"prefill", pool_layout(r.prefill_layout, d.prefill_devices, d.prefill_instances)},
                            {"decode", pool_layout(r.decode_layout, d.decode_devices, d.decode_instances)}};
    auto pool = [&](int devices, int instances, int tp, int ep, int pp, int dp, int first, double weights, std::int64_t kv_tokens) {
      return nlohmann::json{{"devices", devices}, {"instances", instances}, {"tp", tp},           {"ep", ep},
                            {"pp", pp},           {"dp", dp},             {"first_rank", first}, {"weight_bytes", weights},
                            {"kv_tokens", kv_tokens}};
    };
    j["disaggregated"] = {{"prefill", pool(d.prefill_devices, d.prefill_instances, d.prefill_tp, d.prefill_ep, d.prefill_pp, d.prefill_dp,
                                           d.prefill_first, d.prefill_weight_bytes, d.prefill_kv_tokens)},
                          {"decode", pool(d.decode_devices, d.decode_instances, d.decode_tp, d.decode_ep, d.decode_pp, d.decode_dp,
                                          d.decode_first, d.decode_weight_bytes, d.decode_kv_tokens)},
                          {"system_chips", d.system_chips}, {"kv_bytes_per_token", d.kv_bytes_per_token},
                          {"draft_kv_bytes_per_token", d.draft_kv_bytes_per_token}};
  } else {
    j["layout"]["pools"] = nullptr;
    j["disaggregated"] = nullptr;
  }
  j["folding"] = r.folding.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.folding);
  j["precision"] = r.precision;
  j["scheduler"] = {{"name", r.scheduler},
                    {"token_budget", r.limits.token_budget},
                    {"max_seqs", r.limits.max_seqs},
                    {"host_fixed_us", r.limits.host_fixed_us},
                    {"host_us_per_request", r.limits.host_us_per_request},
                    {"host_ns_per_table_slot", r.limits.host_ns_per_table_slot},
                    {"cache_tokens", r.limits.cache_tokens},
                    {"page_tokens", r.limits.page_tokens}};
  j["load"] = r.mode;
  j["lengths"] = {{"input", r.input_lengths}, {"output", r.output_lengths}};
  j["prefix_hit"] = r.prefix_hit;
  j["speculative"] = r.spec_tokens > 0 ? nlohmann::json{{"tokens", r.spec_tokens},
                                                        {"acceptance", r.spec_accept},
                                                        {"method", r.spec_method},
                                                        {"drafter", r.spec_drafter},
                                                        {"draft_tp", r.spec_draft_tp},
                                                        {"expected_tokens_per_step", r.spec_tokens_per_step}}
                                       : nlohmann::json(nullptr);
  const ServeMemory& m = r.memory;
  j["memory"] = {{"capacity_bytes", m.capacity_bytes}, {"weights_bytes", m.weight_bytes}, {"activation_bytes", m.activation_bytes},
                 {"comm_buffer_bytes", m.comm_buffer_bytes}, {"reserve_bytes", m.reserve_bytes}, {"kv_cache_bytes", m.kv_bytes},
                 {"kv_bytes_per_token", m.kv_bytes_per_token}, {"kv_blocks", m.kv_blocks}, {"block_tokens", m.block_tokens},
                 {"kv_tokens", m.kv_tokens}, {"per_device", true}, {"stage", m.stage}, {"stage_kv_tokens", m.stage_kv_tokens}};
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& p : r.curve) curve.push_back(point_json(p));
  j["curve"] = curve;
  if (r.frontier) {
    // The throughput / interactivity trade-off of a concurrency sweep: one entry per concurrency.
    nlohmann::json f = nlohmann::json::array();
    for (const auto& p : r.curve) f.push_back(frontier_point_json(p));
    j["frontier"] = f;
  }
  j["note"] = r.note;
  if (r.best < 0) {
    j["batch"] = nullptr;
    return j;
  }
  const ServePoint& b = r.curve[static_cast<size_t>(r.best)];
  const nlohmann::json best = point_json(b);
  for (const auto& [k, v] : best.items()) j[k] = v;
  j["tdp_w"] = r.tdp_w;
  j["throttled"] = b.throttled;
  if (r.power_modeled) {
    j["avg_power_w"] = b.avg_power_w;
    j["peak_power_w"] = b.peak_power_w;
    j["joules_per_token"] = b.joules_per_token;
    // Tokens per joule, the inverse of joules_per_token: avg_power_w is per chip, so the throughput is too (the
    // unit's tok/s over one chip's watts overstated a system unit by its chip count: 8x on hgx-h100x8).
    j["perf_per_watt"] = b.avg_power_w > 0 ? b.throughput_tok_s_per_chip / b.avg_power_w : 0;
    const EnergyBreakdown& e = b.energy_per_token;
    j["energy"] = {{"compute_j", e.compute_j}, {"vector_j", e.vector_j}, {"onchip_j", e.onchip_j},
                   {"dram_j", e.dram_j},       {"active_j", e.active_j}, {"static_j", e.static_j}};
  } else {
    j["avg_power_w"] = nullptr;
    j["joules_per_token"] = nullptr;
  }
  bool priced = r.cost.usd_per_hour > 0;
  j["usd_per_hour"] = priced ? nlohmann::json(r.cost.usd_per_hour) : nlohmann::json(nullptr);
  j["usd_per_mtok"] = priced ? nlohmann::json(r.cost.usd_per_mtok) : nlohmann::json(nullptr);
  j["tok_s_per_usd_hour"] = priced ? nlohmann::json(r.cost.tok_per_s_per_usd_hour) : nlohmann::json(nullptr);
  j["price_basis"] = priced ? r.cost.basis : "none";
  j["price_assumed"] = r.cost.assumed;
  j["price_set_by"] = priced && !r.cost.set_by.empty() ? nlohmann::json(r.cost.set_by) : nlohmann::json(nullptr);
  nlohmann::json ks = nlohmann::json::array();
  double total = 0;
  for (const auto& k : r.kernels) total += k.time_s;
  for (const auto& k : r.kernels)  // a collective with its algorithm and bytes per rank, as run's breakdown
    ks.push_back({{"label", k.label}, {"time_s", k.time_s}, {"share", total > 0 ? k.time_s / total : 0},
                  {"algorithm", k.comm_bytes > 0 ? nlohmann::json(k.algorithm) : nlohmann::json(nullptr)},
                  {"collective_bytes", k.comm_bytes > 0 ? nlohmann::json(k.comm_bytes) : nlohmann::json(nullptr)}});
  j["kernels"] = ks;
  j["dram_path"] = dram_path_json(r.dram_path);  // of that decode step
  return j;
}

std::string serve_table(const ServeResult& r) {
  std::ostringstream os;
  const ServeMemory& m = r.memory;
  os << placed_on(r.model, r.system, r.devices, r.chip, r.layout, r.layout_figures)
     << " (" << r.precision << "), input " << r.input_lengths << ", output " << r.output_lengths
     << "; " << r.scheduler << " scheduler ("
     << (r.limits.cache_tokens > 0 ? strformat("%lld decode slots of %lld cached tokens, prefills of at most %lld tokens one request at a time",
                                               static_cast<long long>(r.limits.max_seqs), static_cast<long long>(r.limits.cache_tokens),
                                               static_cast<long long>(r.limits.token_budget))
                                   : strformat("%lld tokens, %lld sequences per iteration", static_cast<long long>(r.limits.token_budget),
                                               static_cast<long long>(r.limits.max_seqs)))
     << "), "
     << r.mode << " load\n";
  if (r.prefix_hit > 0) os << strformat("  prefix cache: %.0f%% of each prompt hits (shared KV blocks counted once)\n", 100 * r.prefix_hit);
  if (r.spec_tokens > 0)
    os << strformat("  speculative decoding: %lld drafts per step, acceptance %.2f -> %.2f tokens per step expected; %s\n",
                    static_cast<long long>(r.spec_tokens), r.spec_accept, r.spec_tokens_per_step, r.spec_drafter.c_str());
  os << strformat("  KV cache%s: %s = %lld tokens (%lld blocks of %lld) after weights %s and activations %s\n",
                  r.devices > 1 ? " per device" : "", format_bytes(m.kv_bytes).c_str(), static_cast<long long>(m.kv_tokens),
                  static_cast<long long>(m.kv_blocks), static_cast<long long>(m.block_tokens), format_bytes(m.weight_bytes).c_str(),
                  format_bytes(m.activation_bytes).c_str());
  if (m.comm_buffer_bytes > 0)
    os << "  communication buffers: " << format_bytes(m.comm_buffer_bytes) << " per device (the collective library's, per communicator)\n";
  if (m.stage_kv_tokens.size() > 1) {
    std::vector<std::string> st;
    for (auto t : m.stage_kv_tokens) st.push_back(std::to_string(t));
    os << "  KV tokens per pipeline stage: " << join(st, ", ") << " (stage " << m.stage << " bounds the engine's cache)\n";
  }
  if (!r.folding.empty()) os << "  folded: " << r.folding << "\n";
  if (const auto& d = r.disagg) {
    // "2 x tp4", "1 x tp4 x pp2" (tp before pp, as the layout in the header), or with expert or data
    // parallelism "8 x tp1 in dp8 ep8 groups" (an instance is one replica).
    auto pool = [](int devices, int instances, int tp, int ep, int pp, int dp, int first, double weights, std::int64_t kv) {
      std::string groups = (dp > 1 ? " dp" + std::to_string(dp) : "") + (ep > 1 ? " ep" + std::to_string(ep) : "");
      return strformat("%d chips (%d x tp%d%s%s, ranks %d-%d; weights %s per chip, KV %lld tokens per instance)", devices, instances,
                       tp, pp > 1 ? (" x pp" + std::to_string(pp)).c_str() : "", groups.empty() ? "" : (" in" + groups + " groups").c_str(),
                       first, first + devices - 1, format_bytes(weights).c_str(), static_cast<long long>(kv));
    };
    os << "  disaggregated: prefill pool "
       << pool(d->prefill_devices, d->prefill_instances, d->prefill_tp, d->prefill_ep, d->prefill_pp, d->prefill_dp, d->prefill_first,
               d->prefill_weight_bytes, d->prefill_kv_tokens)
       << ", decode pool "
       << pool(d->decode_devices, d->decode_instances, d->decode_tp, d->decode_ep, d->decode_pp, d->decode_dp, d->decode_first,
               d->decode_weight_bytes, d->decode_kv_tokens)
       << strformat(" of %d; KV %s per prompt token crosses the fabric%s\n", d->system_chips, format_bytes(d->kv_bytes_per_token).c_str(),
                    d->draft_kv_bytes_per_token > 0 ? (" (the drafter's " + format_bytes(d->draft_kv_bytes_per_token) + " included)").c_str() : "");
  }
  os << "   conc  batch     tok/s  tok/s/user  TTFT p50   TTFT p90   TTFT p99   TPOT p50   TPOT p90   TPOT p99    ITL p50    E2E p50"
        "  KV peak  preempt   W/chip  J/token\n";
  for (size_t i = 0; i < r.curve.size(); ++i) {
    const auto& p = r.curve[i];
    auto t = [](double v) { return format_seconds(v); };
    // TPOT, ITL and tok/s per user without a request of 2+ output tokens: "n/a" (ServePoint::has_tpot).
    auto tp = [&](double v) { return p.has_tpot() ? format_seconds(v) : std::string("n/a"); };
    os << strformat("  %5s %6lld %9.1f %11s %9s %10s %10s %10s %10s %10s %10s %10s %7.0f%% %8lld %8.0f %8.3f%s%s\n",
                    p.concurrency > 0 ? std::to_string(p.concurrency).c_str() : "-", static_cast<long long>(p.batch),
                    p.throughput_tok_s, p.has_tpot() ? strformat("%.1f", p.tok_s_per_user).c_str() : "n/a",
                    t(p.ttft_s).c_str(), t(p.ttft_p90_s).c_str(), t(p.ttft_p99_s).c_str(),
                    tp(p.tpot_s).c_str(), tp(p.tpot_p90_s).c_str(), tp(p.tpot_p99_s).c_str(), tp(p.itl_p50_s).c_str(), t(p.e2e_p50_s).c_str(),
                    100 * p.kv_peak, static_cast<long long>(p.preemptions), p.avg_power_w, p.joules_per_token,
                    r.curve.size() > 1 && static_cast<int>(i) == r.best ? " <- best" : "", p.meets_slo ? "" : " (misses target)");
    os << offered_text(p);
    if (const auto& k = p.kv_transfer)
      os << strformat("         KV transfers: %lld of %s mean%s, %s mean / %s p99 on the fabric (%s alone)%s%s%s; busy: prefill %.0f%%, "
                      "decode %.0f%%; %.1f tok/s per chip\n",
                      static_cast<long long>(k->transfers), format_bytes(k->bytes_mean).c_str(),
                      k->resident_tokens_mean > 0
                          ? strformat(" (the %.0f uncached prompt tokens' KV: a cached prefix of %.0f tokens, %s, held by both pools' "
                                      "prefix caches, not sent; %s)",
                                      k->sent_tokens_mean, k->resident_tokens_mean, format_bytes(k->prefix_bytes_mean).c_str(),
                                      k->prefix_rule.c_str()).c_str()
                      : k->prefix_tokens_mean > 0
                          ? strformat(" (%s of it a cached prefix of %.0f tokens, not prefilled; %s)", format_bytes(k->prefix_bytes_mean).c_str(),
                                      k->prefix_tokens_mean, k->prefix_rule.c_str()).c_str()
                          : "",
                      format_seconds(k->time_mean_s).c_str(),
                      format_seconds(k->time_p99_s).c_str(), format_seconds(k->alone_s).c_str(),
                      k->collectives_met > 0 ? strformat(", beside %lld of the instances' collectives (+%s to their iterations)",
                                                         static_cast<long long>(k->collectives_met), format_seconds(k->collective_delay_s).c_str()).c_str()
                                             : "",
                      k->hbm_delay_s > 0 ? strformat(", through their devices' HBM (+%s to the kernels beside them)",
                                                     format_seconds(k->hbm_delay_s).c_str()).c_str()
                                         : "",
                      k->converged ? "" : " (not converged)", 100 * k->prefill_busy, 100 * k->decode_busy, p.throughput_tok_s_per_chip);
  }
  if (r.best >= 0) {
    const ServePoint& b = r.curve[static_cast<size_t>(r.best)];
    std::string pm = power_manager_text(b.power_manager);
    if (b.kv_transfer && !b.kv_transfer->power_manager_chip.empty() && !pm.empty())  // disaggregated: whose log it is
      pm.replace(pm.find(": "), 2, " (" + b.kv_transfer->power_manager_chip + ", the most energy of both pools): ");
    os << pm;
    // The chip's figures would not move with a faster chip: most iterations, or most of the time (a few long
    // host steps, such as sglang-jax's page-table build of a prefill padded to its largest batch, set the TTFT).
    if (b.host_bound_share >= 0.5 || b.host_wait_share >= 0.5)
      os << strformat("  host: the framework's host work per iteration (%g us + %g us per running request; --host-fixed-us, "
                      "--host-us-per-request%s) set the time of %.0f%% of the iterations at the best point: the chip waited "
                      "for it %.0f%% of the run\n",
                      r.limits.host_fixed_us, r.limits.host_us_per_request,
                      r.limits.host_ns_per_table_slot > 0
                          ? strformat("; + %g ns per slot of the page table it rebuilds each iteration, padded rows x the longest request",
                                      r.limits.host_ns_per_table_slot).c_str()
                          : "",
                      100 * b.host_bound_share, 100 * b.host_wait_share);
  }
  double step_s = 0;
  std::string coll;  // the decode step's collectives, as run's breakdown gives them
  for (const auto& k : r.kernels) step_s += k.time_s;
  for (const auto& k : r.kernels)
    if (k.comm_bytes > 0)
      coll += strformat("%s%s %s %s per rank %.1f%%", coll.empty() ? "" : "; ", k.label.c_str(), k.algorithm.c_str(),
                        format_bytes(k.comm_bytes).c_str(), step_s > 0 ? 100 * k.time_s / step_s : 0.0);
  if (!coll.empty()) os << "  collectives of a decode step at the best point (share of the step): " << coll << "\n";
  if (r.dram_path) os << "  note: " << dram_path_text(*r.dram_path, "a decode step at the best point") << "\n";
  if (r.best >= 0 && r.cost.usd_per_hour > 0)
    os << strformat("  cost: $%.3f/h per chip (%s%s) -> $%.4f per million output tokens\n", r.cost.usd_per_hour, r.cost.basis.c_str(),
                !r.cost.set_by.empty() ? (", " + price_set_by_text(r.cost.basis, r.cost.set_by)).c_str() : r.cost.assumed ? ", assumed" : "", r.cost.usd_per_mtok);
  if (!r.note.empty()) os << "  note: " << r.note << "\n";
  return os.str();
}

nlohmann::json kernel_study_json(const KernelStudy& s, const OpSpec& op) {
  const KernelRun& run = s.run;
  nlohmann::json j = run_result_json(run.result);
  j["power"] = power_json(s.power);
  j["op"] = name(op.kind);
  j["shape"] = op.shape_str();
  if (run.check.ran)
    j["functional"] = {{"max_abs_error", run.check.max_abs_error}, {"max_rel_error", run.check.max_rel_error},
                       {"tolerance", run.check.tolerance}, {"passed", run.check.passed}};
  return j;
}

std::string kernel_study_table(const KernelStudy& s, const OpSpec& op) {
  const KernelRun& run = s.run;
  const PowerResult& pw = s.power;
  std::ostringstream os;
  os << name(op.kind) << " " << op.shape_str() << " on " << run_result_table(run.result);
  if (pw.modeled) {
    os << strformat("  %-26s%.0f W average (TDP %.0f W), %.3g J", "power", pw.avg_power_w, pw.tdp_w, pw.energy_j);
    if (pw.throttled)
      os << strformat("; ran at %.0f%% clock on average (boost %.0f%%, held at TDP %.0f%%; %.0f W at the nominal "
                      "clock), %.1f%% slower\n", 100 * pw.clock_ratio, 100 * pw.boost_clock_ratio,
                      100 * pw.held_clock_ratio, pw.unthrottled_power_w, 100 * (pw.slowdown - 1));
    else
      os << "\n";
    if (pw.after_runs >= 0)
      os << strformat("  %-26stimed after %.4g back-to-back runs from idle, at the clock the power manager holds then: "
                      "%.0f%% (boost %.0f%%, held at TDP %.0f%%)\n", "", pw.after_runs, 100 * pw.clock_ratio,
                      100 * pw.boost_clock_ratio, 100 * pw.held_clock_ratio);
    else if (!pw.steady_state && pw.held_clock_ratio < pw.boost_clock_ratio && pw.boost_s >= s.run.result.latency_s * (1 - 1e-9))
      os << strformat("  %-26sabove TDP but all of it at boost (shorter than the fast loop's reaction and the %.3g s "
                      "averaging window): repeated back to back (--sustained) it would settle at %.0f%% clock\n", "",
                      pw.limit_window_s, 100 * pw.held_clock_ratio);
  }
  if (run.check.ran)
    os << "  functional check: max relative error " << run.check.max_rel_error << " (tolerance " << run.check.tolerance
       << "): " << (run.check.passed ? "PASS" : "FAIL") << "\n";
  return os.str();
}

nlohmann::json collective_points_json(const std::vector<CollectivePoint>& pts, const std::vector<CollectiveSkip>& skipped) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& p : pts)
    j.push_back({{"id", p.row.id}, {"system", p.preset}, {"nodes", p.nodes}, {"collective", p.row.collective},
                 {"bytes", p.row.bytes}, {"algorithm", p.algo}, {"measured_busbw_GBps", p.row.busbw_GBps},
                 {"predicted_busbw_GBps", p.predicted_busbw}, {"measured_time_us", p.measured_time_us},
                 {"predicted_time_us", p.predicted_time_us}, {"busbw_error", p.busbw_error},
                 {"time_error", p.time_error}, {"source", p.row.source}});
  for (const auto& s : skipped) j.push_back({{"id", s.id}, {"not_modeled", s.reason}});
  return j;
}

std::string collective_points_table(const std::vector<CollectivePoint>& pts, size_t rows,
                                    const std::vector<CollectiveSkip>& skipped) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-12s %-12s %-10s %12s %-14s %10s %10s %8s %10s %10s %8s\n", "id", "system", "coll",
                "bytes", "algo", "busbw_meas", "busbw_pred", "err", "t_meas_us", "t_pred_us", "err");
  out += line;
  for (const auto& p : pts) {
    std::snprintf(line, sizeof line, "%-12s %-12s %-10s %12llu %-14s %10.2f %10.2f %+7.1f%% %10.1f %10.1f %+7.1f%%\n",
                  p.row.id.c_str(), p.preset.c_str(), p.row.collective.c_str(), static_cast<unsigned long long>(p.row.bytes),
                  p.algo.c_str(), p.row.busbw_GBps, p.predicted_busbw, 100 * p.busbw_error, p.measured_time_us,
                  p.predicted_time_us, 100 * p.time_error);
    out += line;
  }
  std::snprintf(line, sizeof line, "%zu of %zu rows modeled\n", pts.size(), rows);
  out += line;
  for (const auto& s : skipped) out += "  not modeled: " + s.id + ": " + s.reason + "\n";
  return out;
}

namespace {
double mean_abs_error(const std::vector<ValidationPoint>& pts) {
  double sum_abs = 0;
  for (const auto& p : pts) sum_abs += std::fabs(p.error);
  return sum_abs / static_cast<double>(pts.size());
}
}  // namespace

nlohmann::json validation_points_json(const std::vector<ValidationPoint>& pts, const std::vector<ValidationSkip>& skipped) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& p : pts)
    j.push_back({{"id", p.row.id}, {"chip", p.chip}, {"workload", p.row.workload}, {"dtype", p.row.dtype},
                 {"shape", p.row.shape}, {"metric", p.row.metric}, {"unit", p.row.unit},
                 {"measured", p.row.measured}, {"predicted", p.predicted}, {"error", p.error},
                 {"roofline", p.roofline}, {"source", p.row.source}, {"note", p.note},
                 {"chip_settings", p.chip_settings}});
  nlohmann::json sk = nlohmann::json::array();
  for (const auto& s : skipped)
    sk.push_back({{"id", s.row.id}, {"hardware", s.row.hardware}, {"workload", s.row.workload}, {"reason", s.reason}});
  // No point predicted has no mean error (null), not a perfect 0.
  return {{"points", j}, {"mean_abs_error", pts.empty() ? nlohmann::json(nullptr) : nlohmann::json(mean_abs_error(pts))},
          {"not_predicted", sk}};
}

std::string validation_points_table(const std::vector<ValidationPoint>& pts, const std::vector<ValidationSkip>& skipped) {
  std::ostringstream os;
  os << std::left << std::setw(10) << "id" << std::setw(10) << "chip" << std::setw(26) << "workload" << std::setw(16) << "dtype"
     << std::setw(24) << "shape" << std::right << std::setw(11) << "measured" << std::setw(11) << "predicted" << std::setw(9)
     << "error" << "  unit\n";
  for (const auto& p : pts) {
    os << std::left << std::setw(10) << p.row.id << std::setw(10) << p.chip << std::setw(26) << p.row.workload.substr(0, 25)
       << std::setw(16) << p.row.dtype.substr(0, 15) << std::setw(24) << p.row.shape.substr(0, 23) << std::right << std::fixed
       << std::setprecision(p.row.measured < 10 ? 3 : 1) << std::setw(11) << p.row.measured << std::setw(11) << p.predicted
       << std::setprecision(1) << std::setw(8) << 100 * p.error << "%  " << p.row.unit << "\n";
  }
  // Rows run on their preset with the settings their measurement stated (validate's row_chip_settings).
  for (const auto& p : pts)
    if (!p.chip_settings.empty()) os << "  " << p.row.id << ": chip set by the row: " << join(p.chip_settings) << "\n";
  if (!skipped.empty()) {
    os << "not predicted (" << skipped.size() << " rows):\n";
    for (const auto& s : skipped) os << "  " << std::left << std::setw(9) << s.row.id << s.reason << "\n";
  }
  if (pts.empty())
    os << "0 points: no row was predicted, so there is no mean error\n";
  else
    os << pts.size() << " points, mean absolute error " << std::setprecision(1) << 100 * mean_abs_error(pts) << "%\n";
  return os.str();
}

std::string systems_table() {
  std::ostringstream os;
  int w = 18;  // the name column grows with the longest name, so names and descriptions never run together
  for (const auto& s : list_systems()) w = std::max(w, static_cast<int>(s.name.size()) + 2);
  os << std::left << std::setw(w) << "system" << "description\n";
  for (const auto& s : list_systems()) os << std::left << std::setw(w) << s.name << s.description << "\n";
  return os.str();
}

}  // namespace xpu
