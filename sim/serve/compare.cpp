#include "sim/serve/compare.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>

#include "sim/base/process.h"
#include "sim/run/system_run.h"
#include "sim/base/strformat.h"
#include "sim/base/text.h"
#include "sim/run/run_target.h"
#include "sim/serve/layout_search.h"
#include "sim/serve/row_codec.h"
#include "sim/serve/step_time.h"

namespace xpu {

std::string apply_named_scenario(CompareRequest& req) {
  ServeOptions& so = req.serve;
  std::string kind;
  if (req.scenario == "chat") {
    if (!req.input_given) so.input = 1024;
    if (!req.output_given) so.output = 256;
    if (!req.ttft_given) so.ttft_slo_s = 2.0;
    if (!req.tpot_given) so.tpot_slo_s = 0.1;
    kind = "interactive chat";
  } else if (req.scenario == "long") {
    if (!req.input_given) so.input = 8192;
    if (!req.output_given) so.output = 512;
    kind = "long-context summarization";
  } else {
    throw InputError("--scenario '" + req.scenario + "': expected chat or long", "--scenario", req.scenario);
  }
  // The scenario exactly as asked: the named one with what the request changed.
  std::string d = kind + ": " + (so.lengths_csv.empty() ? strformat("%lld-token prompts, %lld-token answers",
                                                                      static_cast<long long>(so.input), static_cast<long long>(so.output))
                                                         : "lengths from " + so.lengths_csv);
  if (so.ttft_slo_s > 0) d += ", TTFT <= " + format_seconds(so.ttft_slo_s);
  if (so.tpot_slo_s > 0) d += strformat(", TPOT <= %s (%.3g tok/s per user)", format_seconds(so.tpot_slo_s).c_str(), 1 / so.tpot_slo_s);
  if (so.ttft_slo_s <= 0 && so.tpot_slo_s <= 0) d += ", maximum throughput";
  if (so.prefix_hit > 0) d += strformat(", %.0f%% prefix-cache hits", 100 * so.prefix_hit);
  if (so.spec_tokens > 0)
    d += strformat(", speculative decoding (%s, %lld drafts, acceptance %.2f)", so.spec_method.c_str(),
                   static_cast<long long>(so.spec_tokens), so.spec_accept.value_or(0));
  return d + ", " + so.scheduler + " scheduler";
}

std::vector<double> parse_tiers(const std::string& what, const std::string& text) {
  // `what` is the flag (--tiers) or a study file's "PATH: tiers": the errors' data.
  auto bad = [&](const std::string& msg) {
    const auto colon = what.rfind(": ");
    return what.rfind("--", 0) == 0 || colon == std::string::npos ? InputError(msg, what, text)
                                                                   : InputError::in_file(msg, what.substr(0, colon), what.substr(colon + 2));
  };
  std::vector<double> out;
  std::stringstream ss(text);
  for (std::string c; std::getline(ss, c, ',');) {
    c.erase(0, c.find_first_not_of(' '));
    double v = 0;
    size_t used = 0;
    try {
      v = std::stod(c, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != c.size() || c.empty() || !(v > 0) || v > 1e6)
      throw bad(what + " '" + text + "': '" + c + "' is not a positive number of tok/s per user (expected N or N,N,...)");
    out.push_back(v);
  }
  if (out.empty()) throw bad(what + ": expected N or a list N,N,...");
  return out;
}

const std::vector<double>& interactivity_tiers() {
  static const std::vector<double> t = {20, 50, 100};
  return t;
}

std::vector<InteractivityTier> tiers_of(const ServeResult& r, const std::vector<double>& tiers) {
  std::vector<InteractivityTier> out;
  for (double tier : tiers) {
    InteractivityTier t;
    t.tok_s_per_user = tier;
    for (size_t i = 0; i < r.curve.size(); ++i) {
      const ServePoint& p = r.curve[i];
      if (p.tok_s_per_user >= tier && p.throughput_tok_s > t.throughput_tok_s) {
        t.throughput_tok_s = p.throughput_tok_s;
        t.throughput_tok_s_per_chip = p.throughput_tok_s_per_chip;
        t.concurrency = p.concurrency;
        t.rate = p.rate;
        t.point = static_cast<int>(i);
      }
    }
    out.push_back(t);
  }
  return out;
}

double provisioned_w_per_chip(const ChipModel& chip) {
  return chip.power() ? chip.power()->tdp.value() * chip.cost().pue : 0;
}

double max_tok_s_per_user_bound(const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& so) {
  // Tensor parallelism splits the weights over sc.tp chips that stream them side by side; with expert
  // parallelism a token's routed experts sit on up to min(ep, experts per token) expert groups of
  // tp/ep chips each (one chip each when ep >= tp).
  double routed = 0;
  if (sc.ep > 1)
    for (std::int64_t i = 0; i < model.layers; ++i)
      if (model.moe_layer[static_cast<size_t>(i)]) routed += layer_params(model, i).expert * static_cast<double>(model.experts_per_token);
  const double spread = std::max(1.0, std::min<double>(sc.ep, static_cast<double>(model.experts_per_token))) * sc.expert_tp();
  const double bytes = ((param_counts(model).active - routed) / sc.tp + routed / spread) * bytes_per_element(sc.wdtype);
  return bytes > 0 ? chip.dram_bandwidth() / bytes * static_cast<double>(1 + so.spec_tokens) : 0;
}

bool CompareStudy::all_ran() const {
  for (const auto& r : rows)
    if (!r.ran) return false;
  return true;
}

namespace {
// The overlays of one unit: "key=value" applies to all, "name:key=value" to the units `names` holds (a chip unit's
// chip; a system unit's system and its chip).
// A key set both for every unit and for this one takes this unit's value (whatever the order).
std::vector<std::string> overlays_for(const std::vector<std::string>& names, const std::vector<std::string>& sets) {
  std::vector<std::string> all, own;
  for (const auto& s : sets) {
    auto colon = s.find(':'), eq = s.find('=');
    if (colon != std::string::npos && colon < eq) {
      if (std::find(names.begin(), names.end(), s.substr(0, colon)) != names.end()) own.push_back(s.substr(colon + 1));
    } else {
      all.push_back(s);
    }
  }
  auto key = [](const std::string& a) { return a.substr(0, a.find('=')); };
  std::vector<std::string> mine;
  for (const auto& s : all)
    if (std::none_of(own.begin(), own.end(), [&](const std::string& o) { return key(o) == key(s); })) mine.push_back(s);
  mine.insert(mine.end(), own.begin(), own.end());
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

// Each tier's point with its economics and what bounds it; for an unreachable tier, the chip's most
// interactive point and what bounds that.
void fill_tiers(CompareRow& row, const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& so,
                const std::vector<double>& tiers) {
  const ServeResult& r = row.result;
  row.tiers = tiers_of(r, tiers);
  int fastest = -1;
  for (size_t i = 0; i < r.curve.size(); ++i)
    if (fastest < 0 || r.curve[i].tok_s_per_user > r.curve[static_cast<size_t>(fastest)].tok_s_per_user) fastest = static_cast<int>(i);
  std::map<int, PointBound> bounds;  // one decode-step simulation per point
  auto bound_of = [&](int i) -> const PointBound& {
    if (!bounds.count(i)) bounds[i] = point_bound(chip, model, sc, so, r.curve[static_cast<size_t>(i)]);
    return bounds[i];
  };
  for (InteractivityTier& t : row.tiers) {
    if (t.point >= 0) {
      const PointEconomics& e = row.economics[static_cast<size_t>(t.point)];
      t.usd_per_mtok = e.usd_per_mtok;
      t.tco_usd_per_mtok = e.tco_usd_per_mtok;
      t.tok_s_per_mw = e.tok_s_per_mw;
      t.bound = bound_of(t.point);
      continue;
    }
    if (fastest < 0 || !r.curve[static_cast<size_t>(fastest)].has_tpot()) {  // (tok/s per user: 1 / TPOT)
      t.why = fastest < 0 ? "no operating point" : "no tok/s per user: no request streamed a second token (TPOT is undefined for one output token)";
      continue;
    }
    const ServePoint& p = r.curve[static_cast<size_t>(fastest)];
    t.bound = bound_of(fastest);
    t.why = strformat("at most %.1f tok/s per user (concurrency %lld, TPOT %s), %s; physical limit %.0f tok/s per user",
                      p.tok_s_per_user, static_cast<long long>(p.concurrency), format_seconds(p.tpot_s).c_str(),
                      bound_phrase(t.bound).c_str(), max_tok_s_per_user_bound(chip, model, sc, so));
  }
}

// Cloud and all-in $/Mtok and tokens per provisioned MW along the curve, the TCO at the best point and
// each tier's point with what bounds it (point_bound simulates the replica's decode step).
void finish_row(CompareRow& row, const ChipModel& chip, const ModelConfig& model, const Scenario& sc, const ServeOptions& so,
                const std::vector<double>& tiers) {
  for (const ServePoint& p : row.result.curve) {
    PointEconomics e;
    e.usd_per_mtok = cost_figures(chip.cost(), p.throughput_tok_s_per_chip, p.avg_power_w).usd_per_mtok;
    e.tco_usd_per_mtok = tco_figures(chip.cost(), p.throughput_tok_s_per_chip, p.avg_power_w).usd_per_mtok;
    e.tok_s_per_mw = row.provisioned_w > 0 ? p.throughput_tok_s_per_chip / row.provisioned_w * 1e6 : 0;
    row.economics.push_back(e);
  }
  if (row.result.best >= 0) {
    const ServePoint& b = row.result.curve[static_cast<size_t>(row.result.best)];
    row.tco = tco_figures(chip.cost(), b.throughput_tok_s_per_chip, b.avg_power_w);
  }
  fill_tiers(row, chip, model, sc, so, tiers);
}

CompareRow empty_row(const std::string& name, const ChipModel& chip, int devices) {
  CompareRow row;
  row.chip = name;
  row.family = chip.family();
  row.devices = devices;
  row.provisioned_w = provisioned_w_per_chip(chip);
  row.tco_assumptions = tco_assumptions(chip.cost());
  row.price_source = chip.cost().source;
  row.tdp_w = chip.power() ? chip.power()->tdp.value() : 0;
  row.config_yaml = chip.full_yaml();
  return row;
}

void fail_row(CompareRow& row, const std::string& error, const std::vector<double>& tiers) {
  row.ran = false;
  row.error = error;
  row.result = ServeResult{};
  row.economics.clear();
  row.tiers = tiers_of(row.result, tiers);
  for (auto& t : row.tiers) t.why = "the chip did not run: " + row.error;
}

CompareRow chip_row(const std::string& name, const ChipModel& chip, const ModelConfig& model, const Scenario& base,
                    const ServeOptions& so, const std::vector<double>& tiers) {
  CompareRow row = empty_row(name, chip, base.devices());
  const Scenario sc = precision_for(chip, base);
  try {
    row.result = serve(chip, model, sc, so);
    row.ran = true;
    finish_row(row, chip, model, sc, so, tiers);
  } catch (const InputError& e) {
    fail_row(row, e.what(), tiers);
  }
  return row;
}

// The unit's figures from one replica's: `replicas` independent servers serve that many times the
// replica's tokens and users; per chip and per user nothing changes.
void scale_to_unit(CompareRow& row, const LayoutCandidate& c) {
  const double k = c.replicas;
  ServeResult& r = row.result;
  r.layout = c.unit.layout_str();
  r.devices = row.devices = c.unit.devices();
  for (ServePoint& p : r.curve) {
    p.throughput_tok_s *= k;
    p.requests_per_s *= k;
    p.requests *= c.replicas;  // the unit's (it said one replica's)
    p.concurrency *= c.replicas;
    p.batch *= c.replicas;
    p.rate *= k;
    p.offered = p.offered.times(k);
  }
  for (InteractivityTier& t : row.tiers) {
    t.throughput_tok_s *= k;
    t.concurrency *= c.replicas;
    t.rate *= k;
  }
}
}  // namespace

void merge_frontiers(CompareRow& row, const std::vector<CompareRow>& others) {
  std::vector<const CompareRow*> rows{&row};
  for (const CompareRow& o : others)
    if (o.ran) rows.push_back(&o);
  struct At {
    size_t row, i;
  };
  std::vector<At> all;
  for (size_t ri = 0; ri < rows.size(); ++ri)
    for (size_t i = 0; i < rows[ri]->result.curve.size() && i < rows[ri]->economics.size(); ++i) all.push_back({ri, i});
  auto pt = [&](const At& a) -> const ServePoint& { return rows[a.row]->result.curve[a.i]; };
  std::vector<At> kept;
  for (const At& a : all) {
    bool beaten = false;
    for (const At& b : all) {
      const ServePoint &p = pt(a), &q = pt(b);
      beaten = beaten || (b.row != a.row && q.tok_s_per_user >= p.tok_s_per_user && q.throughput_tok_s_per_chip >= p.throughput_tok_s_per_chip &&
                          (q.tok_s_per_user > p.tok_s_per_user || q.throughput_tok_s_per_chip > p.throughput_tok_s_per_chip));
    }
    if (!beaten) kept.push_back(a);
  }
  if (rows.size() > 1)
    std::stable_sort(kept.begin(), kept.end(), [&](const At& a, const At& b) { return pt(a).tok_s_per_user > pt(b).tok_s_per_user; });
  std::vector<InteractivityTier> tiers = row.tiers;
  for (size_t k = 0; k < tiers.size(); ++k) {
    size_t from = 0;
    for (size_t ri = 1; ri < rows.size(); ++ri) {
      const InteractivityTier& t = rows[ri]->tiers[k];
      if (t.point >= 0 && (tiers[k].point < 0 || t.throughput_tok_s_per_chip > tiers[k].throughput_tok_s_per_chip)) tiers[k] = t, from = ri;
    }
    tiers[k].layout = rows[from]->result.layout;
    if (tiers[k].point < 0) continue;
    const size_t at = static_cast<size_t>(tiers[k].point);
    tiers[k].point = -1;
    for (size_t j = 0; j < kept.size(); ++j)
      if (kept[j].row == from && kept[j].i == at) tiers[k].point = static_cast<int>(j);
  }
  std::vector<ServePoint> f;
  std::vector<PointEconomics> fe;
  for (const At& a : kept) {
    f.push_back(pt(a));
    f.back().layout = rows[a.row]->result.layout;
    fe.push_back(rows[a.row]->economics[a.i]);
  }
  row.frontier = std::move(f);
  row.frontier_economics = std::move(fe);
  row.tiers = std::move(tiers);
}

namespace {

// One sentence per tier: which chip serves the most per chip at that interactivity, and what bounds
// each chip there (or why it cannot reach it).
std::vector<std::string> verdict_of(const CompareStudy& st) {
  std::vector<std::string> out;
  for (size_t ti = 0; ti < st.tiers.size(); ++ti) {
    const CompareRow* best = nullptr;
    for (const auto& r : st.rows)
      if (r.ran && r.tiers[ti].point >= 0 &&
          (!best || r.tiers[ti].throughput_tok_s_per_chip > best->tiers[ti].throughput_tok_s_per_chip))
        best = &r;
    std::string v = strformat("At %g tok/s per user: ", st.tiers[ti]);
    if (!best) {
      v += "no chip reaches it.";
    } else {
      const InteractivityTier& b = best->tiers[ti];
      v += strformat("%s%s serves the most per chip (%.0f tok/s", best->chip.c_str(),
                     b.layout.empty() || best->devices <= 1 ? "" : (" at " + b.layout).c_str(), b.throughput_tok_s_per_chip);
      if (b.usd_per_mtok > 0) v += strformat(", $%.3f/Mtok", b.usd_per_mtok);
      if (b.tok_s_per_mw > 0) v += ", " + grouped(b.tok_s_per_mw) + " tok/s per provisioned MW";
      v += ").";
    }
    for (const auto& r : st.rows) {
      const InteractivityTier& t = r.tiers[ti];
      if (!r.ran) v += strformat(" %s did not run.", r.chip.c_str());
      else if (t.point >= 0) v += strformat(" %s: %s.", r.chip.c_str(), bound_phrase(t.bound).c_str());
      else v += strformat(" %s: unreachable, %s.", r.chip.c_str(), t.why.c_str());
    }
    out.push_back(v);
  }
  return out;
}

// One serving unit of the study: a chip, or a system preset ("hgx-h100x8": its layout searched over
// all its chips; "hgx-h100x8:tp4": over its first 4; "hgx-h200x8:tp8ep8", "hgx-h200x8:dp8ep8",
// "hgx-h100x8:tp4pp2": any layout serve runs, never searched), with its chip preset and layout.
struct Unit {
  std::unique_ptr<ChipModel> chip;
  std::optional<SystemContext> system;
  Scenario layout;      // tp, ep, pp, dp
  bool search = false;  // a system preset without a layout: search_layout picks one
};

// "tp8ep8", "dp8ep8", "tp4pp2", "dp2tp4": degrees by name, in any order, each at most once; tp
// defaults to the chips the others leave. InputError naming the entry otherwise.
void parse_unit_layout(const std::string& entry, const std::string& lay, int chips, Scenario& sc) {
  const std::string expected = "--chips " + entry + ": expected SYSTEM:LAYOUT with the degrees tpN, epN, ppN, dpN (e.g. tp8, tp8ep8, "
                               "dp8ep8, tp4pp2) and tp x pp x dp from 1 to its " + std::to_string(chips) + " chips";
  std::map<std::string, long> deg;
  size_t i = 0;
  while (i < lay.size()) {
    const std::string key = lay.substr(i, 2);
    if ((key != "tp" && key != "ep" && key != "pp" && key != "dp") || deg.count(key)) throw InputError(expected, "--chips", entry);
    i += 2;
    size_t j = i;
    while (j < lay.size() && j - i < 5 && std::isdigit(static_cast<unsigned char>(lay[j]))) ++j;
    if (j == i) throw InputError(expected, "--chips", entry);
    deg[key] = std::stol(lay.substr(i, j - i));
    if (deg[key] <= 0) throw InputError(expected, "--chips", entry);
    i = j;
  }
  if (deg.empty()) throw InputError(expected, "--chips", entry);
  sc.pp = static_cast<int>(deg.count("pp") ? deg["pp"] : 1);
  sc.dp = static_cast<int>(deg.count("dp") ? deg["dp"] : 1);
  sc.ep = static_cast<int>(deg.count("ep") ? deg["ep"] : 1);
  const long rest = static_cast<long>(sc.pp) * sc.dp;
  if (!deg.count("tp") && rest <= chips && chips % rest != 0)  // the tp left to the chips would not be whole
    throw InputError("--chips " + entry + ": without tpN the TP degree is what pp x dp = " + std::to_string(rest) + " leaves of its " +
                     std::to_string(chips) + " chips, not a whole number (expected pp x dp dividing " + std::to_string(chips) +
                     ", or tpN given: tp1" + lay + " takes " + std::to_string(rest) + " chips)", "--chips", entry);
  sc.tp = static_cast<int>(deg.count("tp") ? deg["tp"] : (rest <= chips && chips % rest == 0 ? chips / rest : 0));
  if (sc.tp <= 0 || static_cast<long>(sc.tp) * rest > chips) throw InputError(expected, "--chips", entry);
}

Unit resolve_unit(const std::string& entry, const std::vector<std::string>& sets) {
  // A --set without a unit name goes to every unit, so a field of one family fails on the others: name the unit.
  auto chip_with = [&](const std::string& chip, const std::vector<std::string>& overlays) {
    try {
      return load_chip(chip, overlays);
    } catch (const InputError& e) {
      if (overlays.empty()) throw;
      throw InputError("--chips " + entry + ": " + e.what() + " (a --set without UNIT: goes to every unit; give a field to one as UNIT:key=value)",
                       "--chips", entry);
    }
  };
  Unit u;
  const auto colon = entry.find(':');
  const std::string name = entry.substr(0, colon);
  bool is_system = false, is_chip = false;
  std::vector<std::string> chips, systems;
  for (const auto& s : list_systems()) is_system = is_system || s.name == name, systems.push_back(s.name);
  for (const auto& p : list_presets()) is_chip = is_chip || p.name == name, chips.push_back(p.name);
  // A unit is a chip or a system: an unknown name is offered both (load_chip would list only chips).
  const bool yaml = name.size() > 5 && name.compare(name.size() - 5, 5, ".yaml") == 0;  // a chip preset file
  if (!is_system && !is_chip && !yaml) {
    std::vector<std::string> all = chips;
    all.insert(all.end(), systems.begin(), systems.end());
    throw InputError("--chips " + entry + ": unknown chip or system '" + name + "'; valid chips: " + join(chips) +
                     "; valid systems: " + join(systems) + nearest_clause(name, all), "--chips", entry);
  }
  if (!is_system) {
    if (colon != std::string::npos)
      throw InputError("--chips " + entry + ": a layout (':tpN') follows a system preset (xpusim list systems), not a chip", "--chips", entry);
    const std::vector<std::string> mine = overlays_for({entry}, sets);
    for (const auto& o : mine)
      if (is_system_override(o))
        throw InputError("--set " + o.substr(0, o.find('=')) + ": a field of a system preset (xpusim params system), but the unit " + entry +
                         " is one chip (give it to the system units by name: SYSTEM:" + o.substr(0, o.find('=')) + ")", "--set", o.substr(0, o.find('=')));
    u.chip = chip_with(entry, mine);
    return u;
  }
  // A system unit's overrides: the system preset's fields to its fabric, the rest to its chip (run_target.h).
  std::vector<std::string> chip_sets, system_sets;
  SystemSpec spec = load_system(name);  // loaded again only for overrides of its own fields
  for (const auto& o : overlays_for({name, spec.chip}, sets)) (is_system_override(o) ? system_sets : chip_sets).push_back(o);
  if (!system_sets.empty()) spec = load_system(name, system_sets);
  try {
    spec.require_model_ranks();
  } catch (const InputError& e) {  // named in the unit that brought it
    throw InputError("--chips " + entry + ": " + e.what(), "--chips", entry);
  }
  u.layout.tp = spec.ranks();
  u.search = colon == std::string::npos;
  if (colon != std::string::npos) parse_unit_layout(entry, entry.substr(colon + 1), spec.ranks(), u.layout);
  if (u.layout.devices() < spec.ranks()) try {
      spec = leading_block(spec, u.layout.devices());
    } catch (const InputError&) {  // e.g. a torus's first N chips (named in the unit, not the preset file)
      throw InputError("--chips " + entry + ": " + u.layout.layout_str() + " takes " + std::to_string(u.layout.devices()) + " of " + name +
                       "'s " + std::to_string(spec.ranks()) + " chips, which form no block of its fabric (expected a layout over " +
                       block_counts(spec) + " chips)", "--chips", entry);
    }
  u.system = SystemContext{spec};
  u.chip = chip_with(spec.chip, chip_sets);
  return u;
}

}  // namespace

void check_unit_sets(const std::vector<std::string>& units, const std::vector<std::string>& sets) {
  std::vector<std::string> names;  // each once ("its units: h100-sxm, h100-sxm" when a unit came twice)
  auto add = [&](const std::string& n) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  };
  for (const std::string& u : units) {
    const std::string name = u.substr(0, u.find(':'));
    add(name);
    for (const auto& s : list_systems())
      if (s.name == name) add(load_system(name).chip);
  }
  for (const std::string& s : sets) {
    const auto colon = s.find(':'), eq = s.find('=');
    if (colon == std::string::npos || colon > eq) continue;
    const std::string name = s.substr(0, colon);
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    throw InputError("--set " + s.substr(0, eq) + ": '" + name + "' is no unit of the study (its units: " + join(names) + ")" +
                     nearest_clause(name, names, kThenDidYouMean), "--set", s.substr(0, eq));
  }
}

UnitConfig unit_config(const std::string& entry, const std::vector<std::string>& sets) {
  const Unit u = resolve_unit(entry, sets);
  UnitConfig c;
  c.chip = u.system ? u.system->spec.chip : entry;
  c.chip_yaml = u.chip->full_yaml();
  if (u.system) c.system = entry.substr(0, entry.find(':')), c.system_yaml = u.system->spec.resolved_yaml;
  return c;
}

namespace {

// The system a replica of `chips` chips (its devices: tp x pp x ep groups) runs on: the unit's first
// `chips` chips (the whole unit when that is all of it).
SystemContext replica_system(const SystemContext& unit, int chips) {
  if (chips >= unit.spec.ranks()) return unit;
  std::vector<int> group;
  for (int r = 0; r < chips; ++r) group.push_back(r);
  return SystemContext{group_system(Topology(unit.spec), group).spec, unit.overlap, unit.fold};
}

// The KV-cache tokens of a replica layout, and why it cannot serve when they hold less than one request.
std::int64_t replica_kv_tokens(const ChipModel& chip, const ModelConfig& model, const Scenario& replica, const ServeOptions& so,
                               std::string& why) {
  auto sched = make_scheduler(so.scheduler, so.limits, chip.dram_capacity());
  const std::optional<Drafter> drafter = make_drafter(model, replica, so);
  const ServeMemory m = serve_memory(chip, model, replica, *sched, drafter ? &*drafter : nullptr);
  const std::int64_t need = so.input + so.output;
  if (m.kv_tokens < need)
    why = strformat("does not fit: weights %s + activations %s per chip of %s leave a KV cache of %lld tokens, less than one %lld-token request",
                    format_bytes(m.weight_bytes).c_str(), format_bytes(m.activation_bytes).c_str(), format_bytes(m.capacity_bytes).c_str(),
                    static_cast<long long>(m.kv_tokens), static_cast<long long>(need));
  return m.kv_tokens;
}

// Whether some searched layout of `chips` x `chip` leaves a KV cache for one request.
bool some_layout_fits(const ChipModel& chip, int chips, const ModelConfig& model, const Scenario& sc, const ServeOptions& so) {
  for (const LayoutCandidate& c : candidate_layouts(chips, model, sc)) {
    std::string why;
    replica_kv_tokens(chip, model, c.replica, so, why);
    if (why.empty()) return true;
  }
  return false;
}

// Why no layout of a unit holds the model, and the advice: the model's weights against the unit's memory,
// and the shipped systems where a searched layout fits.
std::string unit_does_not_fit(const std::string& name, const SystemContext& unit, const ChipModel& chip, const ModelConfig& model,
                              const Scenario& sc, const ServeOptions& so) {
  Scenario one = sc;
  one.batch = 1;
  one.input_len = one.output_len = 1;
  const double weights = footprint(model, one).weight_bytes;
  const int chips = unit.spec.ranks();
  const std::string msg = strformat("does not fit: %s's weights (%s at %s) and a KV cache for one %lld-token request fit no layout of "
                                    "%s (%d x %s of memory, every layout kind searched)", model.name.c_str(), format_bytes(weights).c_str(),
                                    xpu::name(sc.wdtype), static_cast<long long>(so.input + so.output), name.c_str(), chips,
                                    format_bytes(chip.dram_capacity()).c_str());
  // The fewest chips, then the least memory: one of the same chip, one of another chip of the family.
  std::string best[2];
  std::pair<int, double> best_key[2];
  for (const SystemSpec& s : model_systems()) {
    if (s.name == unit.spec.name) continue;
    std::unique_ptr<ChipModel> other;
    if (s.chip != chip.name()) other = load_chip(s.chip);
    const ChipModel& c = other ? *other : chip;
    const int k = other ? 1 : 0;
    const std::pair<int, double> key{s.ranks(), c.dram_capacity() * s.ranks()};
    if (c.family() != chip.family() || (!best[k].empty() && !(key < best_key[k]))) continue;
    if (c.dram_capacity() * s.ranks() < weights) continue;  // the weights alone exceed it: nothing to check
    if (!some_layout_fits(c, s.ranks(), model, precision_for(c, sc), so)) continue;
    best[k] = s.name, best_key[k] = key;
  }
  std::string advice;
  for (int k : {0, 1})
    if (!best[k].empty())
      advice += strformat("%s%s (%d x %s%s)", advice.empty() ? "; a unit that holds it: --chips " : ", or --chips ", best[k].c_str(),
                          best_key[k].first, format_bytes(best_key[k].second / best_key[k].first).c_str(), k ? ", another chip of the family" : "");
  return msg + (advice.empty() ? "; no shipped system of the " + chip.family() + " family holds it" : advice);
}

// Attention groups share one engine run: each group gets the sweep's concurrency, as a replica would, and
// --requests likewise (64 users of 8 groups over the 16 requests given for 8 users reported conc 64 with batch 16),
// and --rate (the groups' engine splits the arrivals; a tp-dp replica's run took the whole rate).
void to_attention_groups(ServeOptions& o, int groups) {
  for (std::int64_t& k : o.concurrency) k *= groups;
  o.requests *= groups;
  o.rate *= groups;
}

// Each tier at the layout its screen serves best: the engine runs that layout too, at the
// concurrencies where its screened users stream at least the lowest tier (its cache holds their parts),
// and the unit's frontier is the upper envelope of the layouts run.
void run_tier_layouts(CompareRow& row, int chosen, std::vector<LayoutTrial>& trials, const std::vector<LayoutCandidate>& cands,
                      const std::vector<std::map<std::int64_t, std::vector<ScreenPoint>>>& screened,
                      const std::vector<std::shared_ptr<StepPartCache>>& caches, const std::string& name, const Unit& u,
                      const ModelConfig& model, const ServeOptions& so, const std::vector<double>& tiers) {
  const ChipModel& chip = *u.chip;
  const double lowest_tier = tiers.empty() ? 0 : *std::min_element(tiers.begin(), tiers.end());
  std::vector<CompareRow> others;
  std::vector<int> run = {chosen};
  for (int w : tier_winners(trials, tiers.size())) {
    if (w < 0 || std::find(run.begin(), run.end(), w) != run.end()) continue;
    run.push_back(w);
    const LayoutCandidate& c = cands[static_cast<size_t>(w)];
    ServeOptions rso = so;
    rso.concurrency.clear();
    for (const auto& [k, pts] : screened[static_cast<size_t>(w)])
      if (!pts.empty() && pts.back().tok_s_per_user >= lowest_tier) rso.concurrency.push_back(k);
    to_attention_groups(rso, c.replica.dp);
    if (!c.replica.dp_attention()) rso.dp_dispatch.clear();  // --dp-dispatch: the searched layouts with DP attention only
    if (rso.concurrency.empty()) continue;
    if (so.progress) std::cerr << "  " << name << ": layout " << c.unit.layout_str() << " for the tiers it serves best\n";
    rso.system = replica_system(*u.system, c.replica.devices());
    rso.step_cache = caches[static_cast<size_t>(w)];
    CompareRow x = chip_row(name, chip, model, c.replica, rso, tiers);
    if (!x.ran) {
      trials[static_cast<size_t>(w)].verdict += "; its engine run for the tiers it serves best failed: " + x.error;
      continue;
    }
    scale_to_unit(x, c);
    others.push_back(std::move(x));
  }
  merge_frontiers(row, others);
  for (const InteractivityTier& t : row.tiers)
    for (LayoutTrial& tr : trials)
      if (t.point >= 0 && tr.layout == t.layout) tr.serves_tiers.push_back(t.tok_s_per_user);
  for (LayoutTrial& tr : trials) {
    if (tr.chosen || tr.serves_tiers.empty()) continue;
    std::string at;
    for (double v : tr.serves_tiers) at += strformat("%s%g", at.empty() ? "" : ", ", v);
    tr.verdict = "serves the " + at + " tok/s per user tier" + (tr.serves_tiers.size() > 1 ? "s" : "") + " best (engine run there); " +
                 tr.verdict;
  }
}

// A searched unit none of whose layouts ran: why each did not, or why none fits.
CompareRow no_layout_row(const std::string& name, const Unit& u, const ModelConfig& model, const Scenario& sc, const ServeOptions& so,
                         const std::vector<LayoutTrial>& trials, const std::vector<double>& tiers) {
  CompareRow row = empty_row(name, *u.chip, u.system->spec.ranks());
  bool fits = false;
  for (const auto& t : trials) fits = fits || t.fits;
  std::string why;
  for (const auto& t : trials) why += (why.empty() ? "" : "; ") + t.layout + " " + t.verdict;
  fail_row(row, fits ? "no layout of " + name + " serves " + model.name + (why.empty() ? "" : ": " + why)
                     : unit_does_not_fit(name, *u.system, *u.chip, model, sc, so), tiers);
  return row;
}

// The engine run of candidate c under the study's load (`so`), one replica's row (the step parts its
// screen simulated shared through `cache`).
CompareRow layout_row(const std::string& name, const Unit& u, const LayoutCandidate& c, const ModelConfig& model,
                      const ServeOptions& so, const std::vector<double>& tiers, std::shared_ptr<StepPartCache> cache) {
  ServeOptions rso = so;
  rso.system = replica_system(*u.system, c.replica.devices());
  rso.step_cache = std::move(cache);
  to_attention_groups(rso, c.replica.dp);
  if (!c.replica.dp_attention()) rso.dp_dispatch.clear();  // --dp-dispatch: the searched layouts with DP attention only
  return chip_row(name, *u.chip, model, c.replica, rso, tiers);
}

// An open loop or offline study: the screen's closed loop ranks the layouts, and its best
// `finalists_asked` (CompareRequest::finalists; 0: every layout that ran) run the study's engine under its
// own load (an open loop's schedule depends on the iterations' times, which the screen's two-pass run
// cannot take); the layout is chosen among them on those runs by the same criterion. Returns the chosen one (-1: none ran) and its row in `row`.
int choose_among_finalists(const std::string& name, const Unit& u, const std::vector<LayoutCandidate>& cands,
                           std::vector<LayoutTrial>& trials, const std::vector<std::shared_ptr<StepPartCache>>& caches,
                           const ModelConfig& model, const ServeOptions& so, const std::vector<double>& tiers,
                           int finalists_asked, CompareRow& row) {
  if (choose_layout(trials, tiers) < 0) return -1;  // the screen's verdicts, kept for the layouts that are no finalists
  std::vector<LayoutTrial> pool = trials;
  std::vector<size_t> finalists;
  const size_t most = finalists_asked > 0 ? static_cast<size_t>(finalists_asked) : trials.size();
  while (finalists.size() < most) {
    const int b = choose_layout(pool, tiers);
    if (b < 0) break;
    finalists.push_back(static_cast<size_t>(b));
    pool[static_cast<size_t>(b)].ran = false;
  }
  if (finalists.size() < 2) return -1;  // one layout ran: the usual engine run is the study's load already
  std::map<size_t, CompareRow> rows;
  for (LayoutTrial& t : pool) t.ran = false;
  for (size_t i : finalists) {
    if (so.progress) std::cerr << "  " << name << ": finalist " << trials[i].layout << " under the study's load\n";
    CompareRow r = layout_row(name, u, cands[i], model, so, tiers, caches[i]);
    pool[i] = trials[i];
    if (!r.ran) {
      pool[i].ran = false;
      pool[i].verdict = "failed: " + r.error;
      continue;
    }
    std::vector<ScreenPoint> pts;
    for (const ServePoint& p : r.result.curve) pts.push_back({p.concurrency, p.tok_s_per_user, p.throughput_tok_s_per_chip});
    pool[i].max_tok_s_per_chip = pool[i].max_tok_s_per_user = 0;  // the run's figures replace the screen's
    score_trial(pool[i], pts, tiers);
    rows.emplace(i, std::move(r));
  }
  const int chosen = choose_layout(pool, tiers);
  for (size_t i = 0; i < trials.size(); ++i) {
    const bool finalist = std::find(finalists.begin(), finalists.end(), i) != finalists.end();
    if (finalist) {
      trials[i] = pool[i];
      if (trials[i].ran) trials[i].verdict += " (a finalist, figures from its engine run under the study's load)";
    } else if (trials[i].ran) {
      trials[i].chosen = false;
      trials[i].verdict = "not a finalist, by the closed-loop screen: " + trials[i].verdict;
    }
  }
  if (chosen >= 0) row = std::move(rows.at(static_cast<size_t>(chosen)));
  return chosen;
}

// layout_criterion, and for a study without concurrencies what its screen ran instead: the screen is a
// closed loop (whose schedule does not depend on the iterations' times; an open loop's does).
std::string criterion_of(const ServeOptions& so, int finalists) {
  std::string c = layout_criterion();
  if (!so.concurrency.empty()) return c;
  c += std::string("; this study's load is ") + (so.rate > 0 ? "an open loop at --rate" : "offline") +
       ", which the screen does not run: each layout was screened as a closed loop of as many users as its cache "
       "and --max-seqs hold, and ";
  if (finalists == 0)
    return c + "every layout that fits (--finalists 0) then ran the study's engine under its own load, the layout "
               "being chosen on those runs";
  return c + "the best " + std::to_string(finalists) +
         " by that screen (the finalists, --finalists) then ran the study's engine under its own load, the layout "
         "being chosen among them on those runs; the figures of the other layouts below are the closed loop's, not "
         "the run's";
}

// Every layout of the unit that fits is screened (screen_layout); the best by choose_layout runs the
// study's engine sweep and makes the row, scaled from its replica to the whole unit, with every layout
// tried and its verdict. A chosen layout whose engine run fails gives way to the next best.
CompareRow search_layout(const std::string& name, const Unit& u, const ModelConfig& model, const Scenario& base,
                         const ServeOptions& so, const std::vector<double>& tiers, bool bound_walks, int finalists) {
  const ChipModel& chip = *u.chip;
  const Scenario sc = precision_for(chip, base);
  const std::vector<LayoutCandidate> cands = candidate_layouts(u.system->spec.ranks(), model, sc);
  const std::int64_t max_seqs = make_scheduler(so.scheduler, so.limits, chip.dram_capacity())->limits().max_seqs;
  std::vector<LayoutTrial> trials(cands.size());
  std::vector<std::shared_ptr<StepPartCache>> caches;  // each layout's screen, reused by its engine run
  std::vector<std::int64_t> kv(cands.size(), 0);
  // Each layout's screened points by the sweep's concurrency (0: an open loop or offline).
  std::vector<std::map<std::int64_t, std::vector<ScreenPoint>>> screened(cands.size());
  // Screens layout i at each of `concurrency` not screened yet (the parts its earlier screens simulated
  // are kept in its cache) and scores it over every point screened.
  auto screen = [&](size_t i, const std::vector<std::int64_t>& concurrency) {
    const LayoutCandidate& c = cands[i];
    LayoutTrial& t = trials[i];
    const SystemContext sys = replica_system(*u.system, c.replica.devices());
    std::vector<std::int64_t> todo;
    for (std::int64_t k : concurrency.empty() ? std::vector<std::int64_t>{0} : concurrency)
      if (!screened[i].count(k)) todo.push_back(k);
    if (todo.empty()) return;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      for (std::int64_t k : todo) {
        ServeOptions sso = so;
        sso.concurrency = k > 0 ? std::vector<std::int64_t>{k} : std::vector<std::int64_t>{};
        screened[i][k] = screen_layout(chip, model, c.replica, sso, c.replica.devices() > 1 ? &sys : nullptr, kv[i], max_seqs, caches[i]);
        t.screened_to = std::max(t.screened_to, k);
      }
      std::vector<ScreenPoint> pts;
      for (const auto& [k, v] : screened[i]) pts.insert(pts.end(), v.begin(), v.end());
      score_trial(t, pts, tiers);
    } catch (const InputError& e) {
      t.ran = false;
      t.verdict = std::string("failed: ") + e.what();
    }
    if (so.progress)
      std::cerr << "  " << name << ": screened " << t.layout << " at "
                << (concurrency.empty() ? std::string("the batch its cache holds")
                                        : std::to_string(todo.size()) + (todo.size() == 1 ? " concurrency" : " concurrencies"))
                << " in "
                << strformat("%.1f s", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) << " ("
                << caches[i]->parts.size() << " step parts)\n";
  };
  // Every layout that fits at the sweep's lowest concurrency (its most interactive point, so the tiers
  // it can reach at all), then the whole sweep for those reaching the most tiers (prune_by_tiers), and
  // for the others reaching a tier, the sweep until their users fall below the lowest tier (a layout
  // may serve one tier best without winning the criterion; beyond, its points lie below every tier).
  // (No concurrency: an open loop or offline, screened once at what the cache holds, as before.)
  std::vector<std::int64_t> sweep = so.concurrency;
  std::sort(sweep.begin(), sweep.end());
  const std::vector<std::int64_t> lowest = sweep.empty() ? std::vector<std::int64_t>{} : std::vector<std::int64_t>{sweep.front()};
  const double lowest_tier = tiers.empty() ? 0 : *std::min_element(tiers.begin(), tiers.end());
  for (size_t i = 0; i < cands.size(); ++i) {
    caches.push_back(std::make_shared<StepPartCache>());
    LayoutTrial& t = trials[i];
    t.layout = cands[i].unit.layout_str();
    t.kind = cands[i].kind;
    kv[i] = replica_kv_tokens(chip, model, cands[i].replica, so, t.verdict);
    t.fits = t.verdict.empty();
    if (t.fits) screen(i, lowest);
  }
  // A pruned trial's walk up the sweep. With `cut`, each concurrency is first bounded with the rest of the
  // sweep (screen_layout_bound): users below the lowest tier there end the walk as its screen would, and
  // a trial that cannot serve a tier best there never will (may_serve_a_tier_best): its walk is cut.
  // Neither changes tier_winners' picks nor a winner's points above the lowest tier (its engine run's).
  auto walk = [&](size_t i, bool cut) {
    LayoutTrial& t = trials[i];
    for (size_t j = 0; j < sweep.size(); ++j) {
      if (!t.ran || !t.pruned || tiers_reached(t) == 0) return;
      const std::vector<ScreenPoint>& last = screened[i].rbegin()->second;
      if (screened[i].count(sweep[j])) continue;
      if (last.empty() || last.back().tok_s_per_user < lowest_tier) return;
      if (cut) {
        ServeOptions bso = so;
        bso.concurrency.assign(sweep.begin() + static_cast<std::ptrdiff_t>(j), sweep.end());
        const std::vector<ScreenPoint> ub = screen_layout_bound(chip, model, cands[i].replica, bso, kv[i], max_seqs, caches[i]);
        const bool slow = !ub.empty() && ub.front().tok_s_per_user < lowest_tier;
        t.walk_cut = !slow && !may_serve_a_tier_best(trials, i, ub, tiers);
        if (slow || t.walk_cut) {
          if (so.progress)
            std::cerr << "  " << name << ": " << t.layout << (slow ? " below the lowest tier" : " cannot serve a tier best")
                      << " from concurrency " << sweep[j] << " on (bound, not screened)\n";
          return;
        }
      }
      screen(i, {sweep[j]});
    }
  };
  if (sweep.size() > 1) {
    for (size_t i : prune_by_tiers(trials)) screen(i, sweep);
    for (size_t i = 0; i < trials.size(); ++i) walk(i, bound_walks);
  }
  CompareRow row;
  int chosen = sweep.empty() ? choose_among_finalists(name, u, cands, trials, caches, model, so, tiers, finalists, row)
                               : -1;
  // A fallback past the layouts swept rests on the pruned ones swept too (choose_swept_layout).
  const auto rescreen = [&](size_t i) { screen(i, sweep); };
  if (chosen >= 0) {
    scale_to_unit(row, cands[static_cast<size_t>(chosen)]);
  } else {
    for (chosen = choose_swept_layout(trials, tiers, rescreen); chosen >= 0; chosen = choose_swept_layout(trials, tiers, rescreen)) {
      const LayoutCandidate& c = cands[static_cast<size_t>(chosen)];
      if (so.progress) std::cerr << "  " << name << ": layout " << c.unit.layout_str() << " (screened best of " << cands.size() << ")\n";
      row = layout_row(name, u, c, model, so, tiers, caches[static_cast<size_t>(chosen)]);
      if (row.ran) {
        scale_to_unit(row, c);
        break;
      }
      trials[static_cast<size_t>(chosen)].ran = trials[static_cast<size_t>(chosen)].chosen = false;
      trials[static_cast<size_t>(chosen)].verdict = "failed: " + row.error;
      for (size_t i = 0; i < trials.size(); ++i)  // a walk cut against the failed trial's figures walks on as before
        if (trials[i].walk_cut) trials[i].walk_cut = false, walk(i, false);
    }
  }
  if (row.ran && !sweep.empty()) run_tier_layouts(row, chosen, trials, cands, screened, caches, name, u, model, so, tiers);
  if (!row.ran) row = no_layout_row(name, u, model, sc, so, trials, tiers);
  row.layouts = trials;
  row.layout_criterion = criterion_of(so, finalists);
  return row;
}

// The study's scenario with a unit's layout; experts that its EP ranks do not split take the fewest
// redundant experts that do, as the layout search gives them (compare has no --redundant-experts), and
// more EP ranks than experts take one expert each, the replicas filling the rest.
Scenario with_layout(Scenario sc, const Unit& u, const ModelConfig& model) {
  sc.tp = u.layout.tp;
  sc.ep = u.layout.ep;
  sc.pp = u.layout.pp;
  sc.dp = u.layout.dp;
  sc.redundant_experts = fewest_redundant_experts(model, sc.ep, /*fill_surplus_ranks=*/true);
  return sc;
}

void check_tiers(const std::vector<double>& tiers, const std::vector<Unit>& chips,
                 const std::vector<std::string>& names, const ModelConfig& model, const Scenario& base, const ServeOptions& so) {
  for (double t : tiers) {
    if (!(t > 0 && t <= 1e6)) throw InputError("--tiers " + strformat("%g", t) + ": expected tokens/s per user in (0, 1e6]", "--tiers", strformat("%g", t));
    double best = 0;
    size_t at = 0;
    for (size_t i = 0; i < chips.size(); ++i) {
      Scenario sc = with_layout(precision_for(*chips[i].chip, base), chips[i], model);
      const double b = max_tok_s_per_user_bound(*chips[i].chip, model, sc, so);
      if (b > best) best = b, at = i;
    }
    if (t > best)
      throw InputError(strformat("--tiers %g: no chip can stream that to a user: at batch 1 each token reads %s's active weights once, "
                                 "so the fastest (%s) reaches at most %.0f tok/s per user", t, model.name.c_str(), names[at].c_str(), best),
                       "--tiers", strformat("%g", t));
  }
}

// The study's rows, one per unit: with jobs <= 1 (or one unit) run one after another in this process;
// else each unit in a worker process of its own (SystemC has one kernel per process), at most `jobs`
// at once, started in the study's order as workers free up, its row sent back whole (row_codec: every
// field, doubles exact) and put at the unit's place, so the study is the one a single process gives;
// what the workers simulated and their peak RSS are added to this process's run statistics.
std::vector<CompareRow> run_units(size_t units, int jobs, const std::function<CompareRow(size_t)>& unit_row,
                                  const std::function<std::string(size_t)>& name) {
  std::vector<CompareRow> rows;
  if (jobs <= 1 || units <= 1) {
    for (size_t i = 0; i < units; ++i) rows.push_back(unit_row(i));
    return rows;
  }
  std::vector<size_t> order(units);
  std::iota(order.begin(), order.end(), size_t{0});
  const ProcessRunStats at_fork = process_run_stats();  // what every worker starts from: this process simulates nothing while they run
  const std::vector<std::string> sent = run_in_workers(
      order, units, static_cast<int>(std::min<size_t>(static_cast<size_t>(jobs), units)),
      [&](size_t i) {
        UnitResult r{unit_row(i), {}, 0};
        r.stats = process_run_stats();
        r.peak_rss_kib = own_peak_rss_kib();
        return encode_unit_result(r);
      },
      name);
  for (const std::string& bytes : sent) {
    UnitResult r = decode_unit_result(bytes);
    add_worker_run_stats(r.stats, at_fork, r.peak_rss_kib);
    rows.push_back(std::move(r.row));
  }
  return rows;
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
  if (req.chips.empty()) throw InputError("--chips: expected at least one chip", "--chips", "");
  // Two rows of one unit would be one row twice, its perf/$ against itself (a study file's units are checked as it is read).
  if (const std::string twice = first_repeated(req.chips); !twice.empty())
    throw InputError("--chips " + join(req.chips, ",") + ": unit " + twice +
                     " given twice (expected each unit once; two settings of one chip are a sweep's axis)", "--chips", join(req.chips, ","));
  ModelConfig model = resolving("--model", req.model, [&] { return load_model(req.model); });
  Scenario base;
  base.wdtype = req.dtype;
  base.adtype = base.kvdtype = req.dtype == DType::fp4 ? DType::fp8 : req.dtype;
  CompareStudy out;
  out.study = req.study;
  out.model = model.name;
  out.created = utc_now();
  out.scenario = req.scenario;
  out.description = desc;
  out.study_name = req.study_name;
  out.study_file = req.study_file;
  out.waiting = req.waiting;
  out.waiting_reason = req.waiting_reason;
  // The study sweeps closed-loop concurrency 1, 4, 16, ... and the largest (each point is a whole engine
  // run from an idle chip under the power manager, so the sweep is kept to a factor of 4 between points) unless a
  // load was given: the best point under the targets, and the frontier the tiers are read from.
  if (!req.serve.concurrency_given && !req.serve.rate_given) {
    req.serve.concurrency.clear();
    const std::int64_t most = req.serve.max_batch > 0 ? req.serve.max_batch : 512;
    for (std::int64_t c = 1; c < most; c *= 4) req.serve.concurrency.push_back(c);
    req.serve.concurrency.push_back(most);
  }
  out.serve = req.serve;
  out.tco = req.tco;
  out.tiers = req.tiers.empty() ? interactivity_tiers() : req.tiers;
  // Every chip and overlay is checked before the first one is simulated: a typo in the last chip
  // fails at once, not after minutes of simulation.
  std::vector<Unit> chips;
  for (const auto& c : req.chips) chips.push_back(resolve_unit(c, req.sets));
  check_serve_request(model, base, req.serve);
  for (size_t ci = 0; ci < chips.size(); ++ci) {  // each unit's layout against the model, before anything runs
    if (!chips[ci].system || chips[ci].search) continue;  // a searched unit proposes only layouts the model takes
    try {
      check_serve_request(model, with_layout(base, chips[ci], model), req.serve);
    } catch (const InputError& e) {
      throw InputError("--chips " + req.chips[ci] + ": " + e.what(), "--chips", req.chips[ci]);
    }
  }
  check_tiers(out.tiers, chips, req.chips, model, base, req.serve);
  // One unit's row, as the study merges it (perf_per_usd_rel is filled below, relative to the first priced unit).
  auto unit_row = [&](size_t ci) {
    const std::string& c = req.chips[ci];
    if (req.serve.progress) std::cerr << "compare: " << c << "\n";
    const auto unit_t0 = std::chrono::steady_clock::now();
    const std::clock_t unit_cpu0 = std::clock();  // the process's CPU time: what a loaded machine does not stretch
    Scenario unit_base = with_layout(base, chips[ci], model);
    ServeOptions unit_serve = req.serve;
    unit_serve.system = chips[ci].system;
    // A fixed layout's replicas or attention groups each take the sweep's load, as a searched one's do
    // (hgx-h100x8:dp8ep8 at --concurrency 8 ran 8 users where hgx-h100x8, choosing dp8 x ep8, ran 64).
    if (!chips[ci].search) to_attention_groups(unit_serve, chips[ci].layout.dp);
    CompareRow row = chips[ci].search
                         ? search_layout(c, chips[ci], model, base, req.serve, out.tiers, req.bound_walks, req.finalists)
                         : chip_row(c, *chips[ci].chip, model, unit_base, unit_serve, out.tiers);
    if (row.ran && row.frontier.empty()) merge_frontiers(row, {});  // one layout: its curve
    if (chips[ci].system) row.system_yaml = chips[ci].system->spec.resolved_yaml;
    if (req.serve.progress)
      std::cerr << "compare: " << c << (row.ran ? " ran" : " did not run") << " in "
                << strformat("%.1f s (%.1f CPU-s)", std::chrono::duration<double>(std::chrono::steady_clock::now() - unit_t0).count(),
                             static_cast<double>(std::clock() - unit_cpu0) / CLOCKS_PER_SEC)
                << "\n";
    return row;
  };
  out.rows = run_units(chips.size(), req.jobs, unit_row, [&](size_t ci) { return "compare: unit " + req.chips[ci]; });
  double ref_perf_per_usd = 0;
  for (CompareRow& row : out.rows) {
    const ServeResult& r = row.result;
    if (row.ran && r.best >= 0 && r.cost.usd_per_hour > 0) {
      double v = r.cost.tok_per_s_per_usd_hour;
      if (ref_perf_per_usd <= 0) ref_perf_per_usd = v;  // the first priced chip that ran
      if (ref_perf_per_usd > 0) row.perf_per_usd_rel = v / ref_perf_per_usd;
    }
  }
  out.verdict = verdict_of(out);
  return out;
}

}  // namespace xpu
