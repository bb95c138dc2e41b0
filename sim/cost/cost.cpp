#include "sim/cost/cost.h"

namespace xpu {

void describe(Params& p, CostSpec& s, const std::string& pre) {
  p(pre + "chip_hour", s.chip_hour_usd, "USD per chip-hour (on-demand cloud list price); 0 = use the TCO model", "0");
  p(pre + "published", s.published, "Whether the price is public (false: an assumption, marked in reports)", "false");
  p(pre + "source", s.source, "Where the price comes from, with its date", "");
  p(pre + "unit_price", s.unit_price_usd, "TCO: purchase price per chip in USD", "0");
  p(pre + "service_years", s.service_years, "TCO: service life in years", "4");
  p(pre + "utilization", s.utilization, "TCO: share of the service life doing paid work", "0.7");
  p(pre + "pue", s.pue, "TCO: facility power usage effectiveness", "1.3");
  p(pre + "electricity", s.electricity_usd_per_kwh, "TCO: electricity price in USD per kWh", "0.08");
  p.require(s.chip_hour_usd >= 0 && s.unit_price_usd >= 0, pre + "chip_hour", "a non-negative price");
  p.require(s.utilization > 0 && s.utilization <= 1, pre + "utilization", "a share in (0, 1]");
  p.require(s.service_years > 0, pre + "service_years", "a positive number of years");
}

CostFigures cost_figures(const CostSpec& s, double tok_s, double avg_power_w) {
  CostFigures c;
  if (s.chip_hour_usd > 0) {
    c.usd_per_hour = s.chip_hour_usd;
    c.basis = "cloud list price";
  } else if (s.unit_price_usd > 0) {
    double capex = s.unit_price_usd / (s.service_years * 8760.0 * s.utilization);
    double energy = avg_power_w / 1000.0 * s.pue * s.electricity_usd_per_kwh;
    c.usd_per_hour = capex + energy;
    c.basis = "TCO";
  }
  c.assumed = !s.published;
  if (c.usd_per_hour > 0 && tok_s > 0) {
    c.usd_per_mtok = c.usd_per_hour / (tok_s * 3600.0) * 1e6;
    c.tok_per_s_per_usd_hour = tok_s / c.usd_per_hour;
  }
  return c;
}

}  // namespace xpu
