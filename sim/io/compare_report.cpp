#include "sim/io/compare_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "sim/base/config.h"
#include "sim/base/interrupt.h"
#include "sim/base/process.h"
#include "sim/base/strformat.h"
#include "sim/base/units.h"
#include "sim/cost/cost.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"

namespace fs = std::filesystem;

namespace xpu {

namespace {

nlohmann::json num_or_null(double v) { return v > 0 ? nlohmann::json(v) : nlohmann::json(nullptr); }

nlohmann::json tier_json(const InteractivityTier& t) {
  nlohmann::json bounds = nlohmann::json::object();
  for (const auto& [k, v] : t.bound.time_s) bounds[k] = v;
  return {{"tok_s_per_user", t.tok_s_per_user},
          {"reachable", t.point >= 0},
          // A closed loop's users, or an open loop's arrival rate (the other null): never 0 users.
          {"concurrency", t.point >= 0 && t.concurrency > 0 ? nlohmann::json(t.concurrency) : nlohmann::json(nullptr)},
          {"rate", t.point >= 0 ? num_or_null(t.rate) : nlohmann::json(nullptr)},
          {"throughput_tok_s_per_chip", num_or_null(t.throughput_tok_s_per_chip)},
          {"usd_per_mtok", num_or_null(t.usd_per_mtok)},
          {"tco_usd_per_mtok", num_or_null(t.tco_usd_per_mtok)},
          {"tok_s_per_mw", num_or_null(t.tok_s_per_mw)},
          {"bound", t.bound.dominant.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.bound.dominant)},
          {"bound_share", t.bound.dominant.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.bound.share)},
          {"bound_path", t.bound.path_unit.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.bound.path_unit)},
          {"decode_step_s", bounds},
          {"why", t.why},
          {"layout", t.layout}};
}

nlohmann::json row_json(const CompareRow& r) {
  nlohmann::json row;
  if (r.ran) row = serve_json(r.result);
  else row = {{"chip", r.chip}, {"family", r.family}, {"batch", nullptr}, {"note", r.error}};
  row["chip"] = r.chip;  // the entry as given: a chip, or a system unit ("hgx-h100x8:tp8")
  row["devices"] = r.devices;
  row["ran"] = r.ran;
  row["provisioned_w_per_chip"] = num_or_null(r.provisioned_w);
  row["validation"] = r.validation;
  row["tco"] = {{"usd_per_hour", num_or_null(r.tco.usd_per_hour)}, {"usd_per_mtok", num_or_null(r.tco.usd_per_mtok)},
                {"capex_assumed", r.tco.assumed}, {"assumptions", r.tco_assumptions}};
  row["tco_usd_per_mtok"] = num_or_null(r.tco.usd_per_mtok);
  // The unit's frontier (over the layouts it ran, each point naming its layout) and the chosen layout's
  // curve, with their economics.
  if (row.contains("frontier") && !r.frontier.empty()) {
    row["frontier"] = nlohmann::json::array();
    for (const ServePoint& p : r.frontier) row["frontier"].push_back(frontier_point_json(p));
  }
  for (const auto& [key, econ] : {std::make_pair("curve", &r.economics), std::make_pair("frontier", &r.frontier_economics)})
    if (row.contains(key))
      for (size_t i = 0; i < row[key].size() && i < econ->size(); ++i) {
        row[key][i]["usd_per_mtok"] = num_or_null((*econ)[i].usd_per_mtok);
        row[key][i]["tco_usd_per_mtok"] = num_or_null((*econ)[i].tco_usd_per_mtok);
        row[key][i]["tok_s_per_mw"] = num_or_null((*econ)[i].tok_s_per_mw);
      }
  nlohmann::json ts = nlohmann::json::array();
  for (const auto& t : r.tiers) ts.push_back(tier_json(t));
  row["tiers"] = ts;
  row["price_source"] = r.price_source;
  row["tdp_w"] = r.tdp_w > 0 ? nlohmann::json(r.tdp_w) : nlohmann::json(nullptr);
  row["perf_per_usd_rel"] = r.perf_per_usd_rel > 0 ? nlohmann::json(r.perf_per_usd_rel) : nlohmann::json(nullptr);
  for (const char* k : {"throughput_tok_s", "ttft_s", "tpot_s"})
    if (!row.contains(k)) row[k] = nullptr;
  // Interactivity tiers: the throughput at each floor of tokens/s per user (null: none reaches it).
  nlohmann::json tiers = nlohmann::json::object();
  for (const auto& t : r.tiers)
    tiers[strformat("%g", t.tok_s_per_user)] = t.throughput_tok_s > 0 ? nlohmann::json(t.throughput_tok_s) : nlohmann::json(nullptr);
  row["throughput_at_tok_s_per_user"] = tiers;
  nlohmann::json tier_layouts = nlohmann::json::object();  // the layout each tier is served at
  for (const auto& t : r.tiers)
    tier_layouts[strformat("%g", t.tok_s_per_user)] = t.point >= 0 ? nlohmann::json(t.layout) : nlohmann::json(nullptr);
  row["layout_at_tok_s_per_user"] = tier_layouts;
  if (!r.ran) row["layout"] = nullptr;
  row["layout_search"] = nullptr;  // a chip or an explicit layout: nothing searched
  if (!r.layouts.empty()) {
    nlohmann::json tried = nlohmann::json::array();
    std::string chosen;
    for (const LayoutTrial& t : r.layouts) {
      if (t.chosen) chosen = t.layout;
      nlohmann::json at = nlohmann::json::array();
      for (double v : t.tok_s_per_chip_at_tier) at.push_back(num_or_null(v));
      tried.push_back({{"layout", t.layout}, {"kind", t.kind}, {"fits", t.fits}, {"ran", t.ran}, {"chosen", t.chosen},
                       {"throughput_tok_s_per_chip_at_tiers", at}, {"max_throughput_tok_s_per_chip", num_or_null(t.max_tok_s_per_chip)},
                       {"max_tok_s_per_user", num_or_null(t.max_tok_s_per_user)}, {"verdict", t.verdict},
                       {"screened_at_lowest_concurrency_only", t.pruned && tiers_reached(t) == 0},
                       {"screened_up_to_concurrency", t.screened_to > 0 ? nlohmann::json(t.screened_to) : nlohmann::json(nullptr)},
                       {"serves_tiers", t.serves_tiers}});
    }
    row["layout_search"] = {{"criterion", r.layout_criterion},
                            {"chosen", chosen.empty() ? nlohmann::json(nullptr) : nlohmann::json(chosen)},
                            {"tried", tried}};
  }
  return row;
}

// Each searched unit's layouts: the chosen one and why each other was not.
// Width of the chip column: the longest unit name (a system unit such as hgx-h100x8:tp8 is longer
// than a chip's), at least `least`.
int chip_width(const CompareStudy& s, int least) {
  int w = least;
  for (const auto& r : s.rows) w = std::max(w, static_cast<int>(r.chip.size()));
  return w;
}

// Width of the layout column: the longest layout a table names ("dp8 x ep8 (+4 redundant experts)" is 32
// characters; a fixed 16 ran it into the next column), at least 16.
int layout_width(const CompareStudy& s) {
  int w = 16;
  for (const auto& r : s.rows) {
    for (const LayoutTrial& t : r.layouts) w = std::max(w, static_cast<int>(t.layout.size()));
    for (const auto& t : r.tiers) w = std::max(w, static_cast<int>(t.layout.size()));
  }
  return w;
}

std::string layout_table(const CompareStudy& s) {
  std::string out;
  for (const auto& r : s.rows)
    for (const LayoutTrial& t : r.layouts) {
      if (out.empty()) out = "\nlayouts searched (" + r.layout_criterion + "):\n";
      out += strformat("  %-*s %-*s %-16s %s\n", chip_width(s, 14), &t == &r.layouts.front() ? r.chip.c_str() : "", layout_width(s),
                       t.layout.c_str(), t.kind.c_str(), t.verdict.c_str());
    }
  return out;
}
std::string quoted(const std::string& v) {
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The concurrency column: a closed loop's users, empty for an open loop (never 0 users); the rate column
// (last, so the earlier columns keep their places): an open loop's requests/s, empty for a closed loop.
std::string count_or_empty(std::int64_t n) { return n > 0 ? std::to_string(n) : std::string(); }
std::string rate_or_empty(double v) {
  if (!(v > 0)) return "";
  std::ostringstream os;
  os << std::setprecision(6) << v;
  return os.str();
}

// Every frontier point of every chip: the curve the frontier plot draws.
std::string frontier_csv(const CompareStudy& s) {
  std::ostringstream os;
  os << "chip,concurrency,batch,throughput_tok_s_per_chip,tok_s_per_user,ttft_s,tpot_s,usd_per_mtok,tco_usd_per_mtok,tok_s_per_mw,"
        "preemptions,kv_peak,layout,rate\n";
  os << std::setprecision(6);
  for (const auto& r : s.rows)
    for (size_t i = 0; i < r.frontier.size() && i < r.frontier_economics.size(); ++i) {
      const ServePoint& p = r.frontier[i];
      const PointEconomics& e = r.frontier_economics[i];
      const std::string per_user = p.has_tpot() ? strformat("%.6g", p.tok_s_per_user) : "";  // empty: no TPOT (one output token)
      const std::string tpot = p.has_tpot() ? strformat("%.6g", p.tpot_s) : "";
      os << r.chip << "," << count_or_empty(p.concurrency) << "," << p.batch << "," << p.throughput_tok_s_per_chip << "," << per_user << ","
         << p.ttft_s << "," << tpot << "," << e.usd_per_mtok << "," << e.tco_usd_per_mtok << "," << e.tok_s_per_mw << ","
         << p.preemptions << "," << p.kv_peak << "," << quoted(p.layout) << "," << rate_or_empty(p.rate) << "\n";
    }
  return os.str();
}

// The interactivity tiers per chip: the best point reaching each, or why none does.
std::string tiers_csv(const CompareStudy& s) {
  std::ostringstream os;
  os << "chip,tok_s_per_user,reachable,concurrency,throughput_tok_s_per_chip,usd_per_mtok,tco_usd_per_mtok,tok_s_per_mw,bound,"
        "bound_share,why,layout,rate\n";
  os << std::setprecision(6);
  for (const auto& r : s.rows)
    for (const auto& t : r.tiers)
      os << r.chip << "," << t.tok_s_per_user << "," << (t.point >= 0 ? "true" : "false") << "," << count_or_empty(t.concurrency) << ","
         << t.throughput_tok_s_per_chip << "," << t.usd_per_mtok << "," << t.tco_usd_per_mtok << "," << t.tok_s_per_mw << ","
         << t.bound.dominant << "," << t.bound.share << "," << quoted(t.why) << "," << quoted(t.point >= 0 ? t.layout : "") << ","
         << rate_or_empty(t.point >= 0 ? t.rate : 0) << "\n";
  return os.str();
}
// Best throughput per chip at each interactivity tier, with its cost, tokens per provisioned MW and
// what bounds it; then the verdict.
std::string tier_table(const CompareStudy& s) {
  std::string out = "\ninteractivity tiers: the most output tok/s per chip while each user streams at least N tok/s\n";
  const int cw = chip_width(s, 10), lw = layout_width(s);
  out += strformat("  %-8s %-*s %-*s %5s %11s %9s %11s %10s  %s\n", "tier", cw, "chip", lw, "layout", "conc", "tok/s/chip", "$/Mtok",
                   s.tco ? "TCO $/Mtok" : "", "tok/s/MW", "bound");
  auto money = [](double v) { return v > 0 ? strformat("%.3f", v) : std::string("-"); };
  for (size_t ti = 0; ti < s.tiers.size(); ++ti)
    for (const auto& r : s.rows) {
      const InteractivityTier& t = r.tiers[ti];
      const std::string tier = &r == &s.rows.front() ? strformat("%g/user", t.tok_s_per_user) : "";
      if (t.point < 0) {
        out += strformat("  %-8s %-*s unreachable: %s\n", tier.c_str(), cw, r.chip.c_str(), t.why.c_str());
        continue;
      }
      // An open loop (--rate) or an offline run has no concurrency: "-", not 0 users.
      out += strformat("  %-8s %-*s %-*s %5s %11.0f %9s %11s %10s  %s (%.0f%%)\n", tier.c_str(), cw, r.chip.c_str(), lw,
                       t.layout.empty() ? "-" : t.layout.c_str(), t.concurrency > 0 ? std::to_string(t.concurrency).c_str() : "-",
                       t.throughput_tok_s_per_chip, money(t.usd_per_mtok).c_str(),
                       s.tco ? money(t.tco_usd_per_mtok).c_str() : "",
                       t.tok_s_per_mw > 0 ? grouped(t.tok_s_per_mw).c_str() : "-", t.bound.dominant.c_str(), 100 * t.bound.share);
    }
  out += "verdict:\n";
  for (const auto& v : s.verdict) out += "  " + v + "\n";
  if (s.tco)
    for (const auto& r : s.rows) out += strformat("  TCO %s: %s\n", r.chip.c_str(), r.tco_assumptions.c_str());
  return out;
}
}  // namespace

nlohmann::json compare_summary_json(const CompareStudy& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : s.rows) rows.push_back(row_json(r));
  const ServeOptions& so = s.serve;
  return {{"study", s.study},
          {"model", s.model},
          {"created", s.created},
          {"version", XPUSIM_VERSION},
          {"tiers", s.tiers},
          {"tco", s.tco},
          {"all_ran", s.all_ran()},
          {"verdict", s.verdict},
          {"scenario",
           {{"name", s.scenario}, {"input", so.input}, {"output", so.output},
            {"ttft_slo_s", so.ttft_slo_s > 0 ? nlohmann::json(so.ttft_slo_s) : nlohmann::json(nullptr)},
            {"tpot_slo_s", so.tpot_slo_s > 0 ? nlohmann::json(so.tpot_slo_s) : nlohmann::json(nullptr)},
            {"description", s.description}, {"prefix_hit", so.prefix_hit},
            {"spec_tokens", so.spec_tokens}, {"spec_accept", so.spec_tokens > 0 ? nlohmann::json(so.spec_accept.value_or(0)) : nlohmann::json(nullptr)},
            {"spec_method", so.spec_tokens > 0 ? nlohmann::json(so.spec_method) : nlohmann::json(nullptr)},
            {"scheduler", so.scheduler}}},
          {"study_definition", s.study_name.empty() ? nlohmann::json(nullptr)
                                                     : nlohmann::json{{"name", s.study_name}, {"file", s.study_file},
                                                                      {"waiting", s.waiting}, {"waiting_reason", s.waiting_reason}}},
          {"rows", rows}};
}

void write_compare_dir(const std::string& dir, const CompareStudy& s) {
  nlohmann::json summary = compare_summary_json(s);
  const nlohmann::json& rows = summary["rows"];
  make_output_dir(dir);  // also locks the folder and clears stale temporaries
  make_output_dir(dir + "/configs");
  // One file per row, named after the entry: a preset given as a path by its file name, a system unit
  // ("hgx-h100x8:tp4") with '_' for ':', so that every name stays inside configs/; a system unit's chip
  // preset as <name>.yaml and its system as <name>.system.resolved.yaml.
  for (const auto& r : s.rows) {
    std::string n = r.chip.substr(r.chip.find_last_of('/') == std::string::npos ? 0 : r.chip.find_last_of('/') + 1);
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".yaml") == 0) n.resize(n.size() - 5);
    for (char& c : n)
      if (c == ':' || c == '\\' || c == ' ') c = '_';
    if (n.empty() || n == "." || n == "..") n = "chip";
    write_file_atomic(dir + "/configs/" + n + ".yaml", r.config_yaml);
    // A system unit's system preset as it ran, its --set overrides applied (system.resolved.yaml of run/serve).
    if (!r.system_yaml.empty()) write_file_atomic(dir + "/configs/" + n + ".system.resolved.yaml", r.system_yaml);
  }
  write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");
  std::ostringstream csv;
  csv << "chip,family,precision,batch,throughput_tok_s,ttft_s,tpot_s,avg_power_w,joules_per_token,usd_per_hour,usd_per_mtok,"
         "perf_per_usd_rel,price_basis,price_assumed,throttled";
  for (double t : s.tiers) csv << strformat(",tok_s_at_%g_per_user", t);
  csv << ",note,ran,tco_usd_per_mtok,provisioned_w_per_chip,layout,devices";
  for (double t : s.tiers) csv << strformat(",layout_at_%g_per_user", t);
  csv << "\n";
  auto num = [](const nlohmann::json& r, const char* k) {
    if (!r.contains(k) || r[k].is_null()) return std::string();
    std::ostringstream os;
    if (r[k].is_number()) os << std::setprecision(6) << r[k].get<double>();
    else if (r[k].is_boolean()) os << (r[k].get<bool>() ? "true" : "false");
    else os << r[k].get<std::string>();
    return os.str();
  };
  for (const auto& r : rows) {
    csv << num(r, "chip") << "," << num(r, "family") << "," << num(r, "precision") << "," << num(r, "batch") << ","
        << num(r, "throughput_tok_s") << "," << num(r, "ttft_s") << "," << num(r, "tpot_s") << "," << num(r, "avg_power_w")
        << "," << num(r, "joules_per_token") << "," << num(r, "usd_per_hour") << "," << num(r, "usd_per_mtok") << ","
        << num(r, "perf_per_usd_rel") << "," << num(r, "price_basis") << "," << num(r, "price_assumed") << ","
        << num(r, "throttled");
    for (double t : s.tiers) csv << "," << num(r["throughput_at_tok_s_per_user"], strformat("%g", t).c_str());
    csv << "," << quoted(num(r, "note")) << "," << num(r, "ran") << "," << num(r, "tco_usd_per_mtok") << ","
        << num(r, "provisioned_w_per_chip") << "," << quoted(r["layout"].is_object() ? r["layout"]["name"].get<std::string>() : std::string()) << "," << num(r, "devices");
    for (double t : s.tiers) csv << "," << quoted(num(r["layout_at_tok_s_per_user"], strformat("%g", t).c_str()));
    csv << "\n";
  }
  write_file_atomic(dir + "/summary.csv", csv.str());
  write_file_atomic(dir + "/frontier.csv", frontier_csv(s));
  write_file_atomic(dir + "/tiers.csv", tiers_csv(s));
}

std::string compare_table(const CompareStudy& s) {
  nlohmann::json summary = compare_summary_json(s);
  const nlohmann::json& rows = summary["rows"];
  std::string out;
  out += strformat("\n%s, %s\n", s.model.c_str(), s.description.c_str());
  const int cw = chip_width(s, 10);
  // tok/s and J/token are the unit's (every chip of a system unit), power and price per chip, as serve prints them.
  out += strformat("%-*s %-9s %6s %12s %9s %9s %8s %9s %9s %9s %8s  %s\n", cw, "chip", "precision", "batch", "tok/s", "TTFT",
              "TPOT", "W/chip", "J/token", "$/h/chip", "$/Mtok", "perf/$", "price");
  std::string list_priced, tco_priced;  // ", a, b": the units priced by each basis
  for (const auto& r : rows) {
    auto d = [&](const char* k, double scale) { return r.contains(k) && r[k].is_number() ? r[k].get<double>() * scale : NAN; };
    const std::string basis = r.contains("price_basis") ? r["price_basis"].get<std::string>() : "none";
    // A unit that did not run has no priced row, not "no price" (h100-sxm has a published one).
    const bool ran = !r.contains("ran") || !r["ran"].is_boolean() || r["ran"].get<bool>();
    std::string price = !ran && !r.contains("price_basis") ? "-"
                        : basis == "none" ? "no price"
                        : r.contains("price_set_by") && r["price_set_by"].is_string()
                            ? (basis == "TCO" ? "TCO, " : "") + price_set_by_text(basis, r["price_set_by"].get<std::string>())
                        : std::string(r["price_assumed"].get<bool>() ? "assumed " : "published ") + (basis == "TCO" ? "TCO" : "list price");
    if (basis != "none") (basis == "TCO" ? tco_priced : list_priced) += ", " + r["chip"].get<std::string>();
    // A missing figure prints as "-", never as a number.
    auto f = [&](const char* k, double scale, const char* spec) {
      double v = d(k, scale);
      if (std::isnan(v)) return std::string("-");
      char b[32];
      std::snprintf(b, sizeof b, spec, v);
      return std::string(b);
    };
    // At its own scale: a sub-millisecond TTFT printed "0ms".
    auto time = [&](const char* k) { return std::isnan(d(k, 1)) ? std::string("-") : format_seconds(d(k, 1)); };
    out += strformat("%-*s %-9s %6s %12s %9s %9s %8s %9s %9s %9s %8s  %s%s\n", cw, r["chip"].get<std::string>().c_str(),
                r.contains("precision") ? r["precision"].get<std::string>().c_str() : "-",
                r["batch"].is_null() ? "-" : std::to_string(r["batch"].get<long long>()).c_str(),
                f("throughput_tok_s", 1, "%.0f").c_str(), time("ttft_s").c_str(), time("tpot_s").c_str(),
                f("avg_power_w", 1, "%.0f").c_str(), f("joules_per_token", 1, "%.3f").c_str(), f("usd_per_hour", 1, "%.2f").c_str(),
                f("usd_per_mtok", 1, "%.3f").c_str(), f("perf_per_usd_rel", 1, "%.2f").c_str(), price.c_str(),
                r.contains("throttled") && r["throttled"].is_boolean() && r["throttled"].get<bool>() ? ", throttled" : "");
    if (r.contains("note") && r["note"].is_string() && !r["note"].get<std::string>().empty())
      out += strformat("           note: %s\n", r["note"].get<std::string>().c_str());
  }
  // A rental price carries the provider's margin and a TCO does not: say so where the rows mix them.
  if (!list_priced.empty() && !tco_priced.empty())
    out += strformat("note: $/Mtok and perf/$ set cloud list prices (%s) beside TCO estimates without a provider's margin (%s);"
                     " %s every unit's all-in cost on one basis\n", list_priced.substr(2).c_str(), tco_priced.substr(2).c_str(),
                     s.tco ? "the tiers' TCO $/Mtok gives" : "--tco adds");
  out += layout_table(s);
  out += tier_table(s);
  return out;
}

int finish_compare(const std::string& dir, const CompareStudy& study, bool report, bool json) {
  write_compare_dir(dir, study);
  if (json) std::cout << compare_summary_json(study).dump() << "\n";
  std::ostream& notes = json ? std::cerr : std::cout;
  if (!json) std::cout << compare_table(study);
  notes << "results: " << dir << "\n";
  if (!study.waiting.empty())
    notes << "study " << study.study_name << " also covers " << join(study.waiting) << ", waiting for " << study.waiting_reason << "\n";
  std::fflush(stdout);
  int status = 0;
  // Ctrl-C while the report is drawn (seconds of matplotlib) keeps the study's files, complete: say so.
  if (report)
    set_interrupt_note("xpusim: interrupted while drawing report.html: the study's files in " + dir +
                       " are complete (summary.json, summary.csv, frontier.csv, tiers.csv, configs/); "
                       "python3 scripts/compare_report.py " + dir + " draws the report\n");
  const int rc = report ? render_compare_report(dir) : 0;
  set_interrupt_note("");
  if (rc != 0) {
    std::cerr << "compare: the HTML report could not be written (scripts/compare_report.py exited " << rc << ")\n";
    status = 1;
  }
  // The study is written either way; the exit status says whether every chip ran.
  std::string failed;
  for (const auto& r : study.rows)
    if (!r.ran) failed += (failed.empty() ? "" : ", ") + r.chip;
  if (!failed.empty()) {
    std::cerr << "compare: did not run on " << failed << " (the report shows why)\n";
    status = 1;
  }
  return status;
}

int render_compare_report(const std::string& dir) {
  // An argument vector, never a shell: the folder name reaches the script as one argument, verbatim.
  return run_process({"/usr/bin/python3", source_dir() + "/scripts/compare_report.py", dir});
}

}  // namespace xpu
