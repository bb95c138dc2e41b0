#include "sim/cost/cost.h"

#include "sim/base/strformat.h"

namespace xpu {

// TCO defaults (the same for every chip unless a preset or --set changes them):
//   service_years 4    assumed: between the 3-5 year terms of GPU cloud contracts and the 5-6 year server
//                      lives the hyperscalers state in their annual reports (Microsoft, Alphabet 10-K 2023)
//   utilization 0.7    assumed: share of the life doing paid work
//   pue 1.3            assumed: between hyperscale fleets (Google reports 1.10 for 2023) and the industry
//                      average of about 1.56 (Uptime Institute Global Data Center Survey 2024)
//   electricity 0.08   source: US average retail price to industrial customers, about 8 cents/kWh in 2023
//                      (US EIA, Electric Power Annual, table 2.4)

void describe(Params& p, CostSpec& s, const std::string& pre) {
  p(pre + "chip_hour", s.chip_hour_usd, "USD per chip-hour (on-demand cloud list price); 0 = use the TCO model", "0");
  p(pre + "published", s.published, "Whether the price is public (false: an assumption, marked in reports)", "false");
  p(pre + "source", s.source, "Where the price comes from, with its date", "");
  p(pre + "unit_price", s.unit_price_usd, "TCO: purchase price per chip in USD", "0");
  p(pre + "unit_price_source", s.unit_price_source, "TCO: where the unit price comes from (empty: an assumption)", "");
  p(pre + "service_years", s.service_years, "TCO: service life in years", "4");
  p(pre + "utilization", s.utilization, "TCO: share of the service life doing paid work", "0.7");
  p(pre + "pue", s.pue, "TCO: facility power usage effectiveness", "1.3");
  p(pre + "electricity", s.electricity_usd_per_kwh, "TCO: electricity price in USD per kWh", "0.08");
  p.require(s.chip_hour_usd >= 0 && s.unit_price_usd >= 0, pre + "chip_hour", "a non-negative price");
  p.require(s.utilization > 0 && s.utilization <= 1, pre + "utilization", "a share in (0, 1]");
  p.require(s.service_years > 0, pre + "service_years", "a positive number of years");
}

CostFigures tco_figures(const CostSpec& s, double tok_s, double avg_power_w) {
  CostSpec t = s;
  t.chip_hour_usd = 0;
  CostFigures c = cost_figures(t, tok_s, avg_power_w);
  c.assumed = s.unit_price_source.empty();
  return c;
}

std::string price_set_by_text(const std::string& basis, const std::string& set_by) {
  if (set_by.empty()) return "";
  return std::string(basis == "TCO" ? "unit price" : "price") + (set_by == "--set" ? " set by --set" : " set in " + set_by);
}

std::string tco_assumptions(const CostSpec& s) {
  std::string capex = s.unit_price_usd > 0 ? strformat("capex $%.0f per chip (%s)", s.unit_price_usd,
                                                       s.unit_price_source.empty() ? "assumed" : ("source: " + s.unit_price_source).c_str())
                                           : std::string("no capex (no public unit price; supply one with --set CHIP:cost.unit_price=USD)");
  return capex + strformat("; %.3g-year life at %.0f%% utilization (assumed); PUE %.2f (assumed); $%.3f/kWh (%s)", s.service_years,
                           100 * s.utilization, s.pue, s.electricity_usd_per_kwh,
                           s.electricity_usd_per_kwh == 0.08 ? "US industrial average 2023, EIA" : "as set");
}

CostFigures cost_figures(const CostSpec& s, double tok_s, double avg_power_w) {
  CostFigures c;
  if (s.chip_hour_usd > 0) {
    c.usd_per_hour = s.chip_hour_usd;
    c.basis = "cloud list price";
    c.set_by = s.price_set_by;
  } else if (s.unit_price_usd > 0) {
    double capex = s.unit_price_usd / (s.service_years * 8760.0 * s.utilization);
    double energy = avg_power_w / 1000.0 * s.pue * s.electricity_usd_per_kwh;
    c.usd_per_hour = capex + energy;
    c.basis = "TCO";
    c.set_by = s.unit_price_set_by;
  }
  c.assumed = !s.published;
  if (c.usd_per_hour > 0 && tok_s > 0) {
    c.usd_per_mtok = c.usd_per_hour / (tok_s * 3600.0) * 1e6;
    c.tok_per_s_per_usd_hour = tok_s / c.usd_per_hour;
  }
  return c;
}

}  // namespace xpu
