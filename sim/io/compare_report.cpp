#include "sim/io/compare_report.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "sim/base/config.h"
#include "sim/base/process.h"
#include "sim/base/strformat.h"
#include "sim/io/output.h"
#include "sim/io/reports.h"

namespace fs = std::filesystem;

namespace xpu {

namespace {

nlohmann::json row_json(const CompareRow& r) {
  nlohmann::json row;
  if (r.ran) row = serve_json(r.result);
  else row = {{"chip", r.chip}, {"family", r.family}, {"batch", nullptr}, {"note", r.error}};
  row["price_source"] = r.price_source;
  row["tdp_w"] = r.tdp_w > 0 ? nlohmann::json(r.tdp_w) : nlohmann::json(nullptr);
  row["perf_per_usd_rel"] = r.perf_per_usd_rel > 0 ? nlohmann::json(r.perf_per_usd_rel) : nlohmann::json(nullptr);
  for (const char* k : {"throughput_tok_s", "ttft_s", "tpot_s"})
    if (!row.contains(k)) row[k] = nullptr;
  // Interactivity tiers: the throughput at each floor of tokens/s per user (null: none reaches it).
  nlohmann::json tiers = nlohmann::json::object();
  for (const auto& t : r.tiers)
    tiers[strformat("%.0f", t.tok_s_per_user)] = t.throughput_tok_s > 0 ? nlohmann::json(t.throughput_tok_s) : nlohmann::json(nullptr);
  row["throughput_at_tok_s_per_user"] = tiers;
  return row;
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
          {"scenario",
           {{"name", s.scenario}, {"input", so.input}, {"output", so.output},
            {"ttft_slo_s", so.ttft_slo_s > 0 ? nlohmann::json(so.ttft_slo_s) : nlohmann::json(nullptr)},
            {"tpot_slo_s", so.tpot_slo_s > 0 ? nlohmann::json(so.tpot_slo_s) : nlohmann::json(nullptr)},
            {"description", s.description}}},
          {"rows", rows}};
}

void write_compare_dir(const std::string& dir, const CompareStudy& s) {
  nlohmann::json summary = compare_summary_json(s);
  const nlohmann::json& rows = summary["rows"];
  make_output_dir(dir);  // also locks the folder and clears stale temporaries
  make_output_dir(dir + "/configs");
  for (const auto& r : s.rows) write_file_atomic(dir + "/configs/" + r.chip + ".yaml", r.config_yaml);
  write_file_atomic(dir + "/summary.json", summary.dump(2) + "\n");
  std::ostringstream csv;
  csv << "chip,family,precision,batch,throughput_tok_s,ttft_s,tpot_s,avg_power_w,joules_per_token,usd_per_hour,usd_per_mtok,"
         "perf_per_usd_rel,price_basis,price_assumed,throttled";
  for (double t : interactivity_tiers()) csv << strformat(",tok_s_at_%.0f_per_user", t);
  csv << ",note\n";
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
    for (double t : interactivity_tiers()) csv << "," << num(r["throughput_at_tok_s_per_user"], strformat("%.0f", t).c_str());
    csv << ",\"" << num(r, "note") << "\"\n";
  }
  write_file_atomic(dir + "/summary.csv", csv.str());
}

std::string compare_table(const CompareStudy& s) {
  nlohmann::json summary = compare_summary_json(s);
  const nlohmann::json& rows = summary["rows"];
  std::string out;
  out += strformat("\n%s, %s\n", s.model.c_str(), s.description.c_str());
  out += "(@N/u: output tok/s at the best concurrency that still streams N tok/s to each user)\n";
  out += strformat("%-10s %-9s %6s %12s %9s %9s %8s %9s %9s %9s %8s %8s %8s %8s  %s\n", "chip", "precision", "batch", "tok/s", "TTFT",
              "TPOT", "power W", "J/token", "$/h", "$/Mtok", "perf/$", "@20/u", "@50/u", "@100/u", "price");
  for (const auto& r : rows) {
    auto d = [&](const char* k, double scale) { return r.contains(k) && r[k].is_number() ? r[k].get<double>() * scale : NAN; };
    std::string price = !r.contains("price_basis") || r["price_basis"] == "none" ? "no price"
                        : (r["price_assumed"].get<bool>() ? "assumed" : "published");
    // A missing figure prints as "-", never as a number.
    auto f = [&](const char* k, double scale, const char* spec) {
      double v = d(k, scale);
      if (std::isnan(v)) return std::string("-");
      char b[32];
      std::snprintf(b, sizeof b, spec, v);
      return std::string(b);
    };
    auto tier = [&](const char* t) {
      const nlohmann::json& ts = r["throughput_at_tok_s_per_user"];
      return ts.contains(t) && ts[t].is_number() ? strformat("%.0f", ts[t].get<double>()) : std::string("-");
    };
    out += strformat("%-10s %-9s %6s %12s %9s %9s %8s %9s %9s %9s %8s %8s %8s %8s  %s%s\n", r["chip"].get<std::string>().c_str(),
                r.contains("precision") ? r["precision"].get<std::string>().c_str() : "-",
                r["batch"].is_null() ? "-" : std::to_string(r["batch"].get<long long>()).c_str(),
                f("throughput_tok_s", 1, "%.0f").c_str(), f("ttft_s", 1e3, "%.0fms").c_str(), f("tpot_s", 1e3, "%.1fms").c_str(),
                f("avg_power_w", 1, "%.0f").c_str(), f("joules_per_token", 1, "%.3f").c_str(), f("usd_per_hour", 1, "%.2f").c_str(),
                f("usd_per_mtok", 1, "%.3f").c_str(), f("perf_per_usd_rel", 1, "%.2f").c_str(), tier("20").c_str(),
                tier("50").c_str(), tier("100").c_str(), price.c_str(),
                r.contains("throttled") && r["throttled"].is_boolean() && r["throttled"].get<bool>() ? ", throttled" : "");
    if (r.contains("note") && r["note"].is_string() && !r["note"].get<std::string>().empty())
      out += strformat("           note: %s\n", r["note"].get<std::string>().c_str());
  }
  return out;
}

int render_compare_report(const std::string& dir) {
  // An argument vector, never a shell: the folder name reaches the script as one argument, verbatim.
  return run_process({"/usr/bin/python3", source_dir() + "/scripts/compare_report.py", dir});
}

}  // namespace xpu
