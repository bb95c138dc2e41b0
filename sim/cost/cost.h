// Cost: a price per chip-hour (cloud list price with date and source, or an assumption the user must
// supply), or a TCO estimate from unit price, service life, utilization and energy at the wall.
#pragma once
#include <string>

#include "sim/base/config.h"

namespace xpu {

struct CostSpec {
  double chip_hour_usd = 0;    // on-demand price of one chip for one hour
  bool published = false;      // false: no public price; the value is an assumption (marked in reports)
  std::string source;          // where the price comes from, with its date
  double unit_price_usd = 0;   // TCO mode: purchase price per chip (incl. its share of the server)
  std::string unit_price_source;  // where the unit price comes from ("": an assumption)
  double service_years = 4;
  double utilization = 0.7;    // share of the service life doing paid work
  double pue = 1.3;            // facility power usage effectiveness
  double electricity_usd_per_kwh = 0.08;
  // Who gave the price in use, where the user did (not a key: set from the config's layers when the preset is
  // loaded): "--set", or the file of a user's preset that changed an inherited price; "" for the preset's own.
  std::string price_set_by, unit_price_set_by;
};
void describe(Params& p, CostSpec& s, const std::string& prefix = "cost.");

struct CostFigures {
  double usd_per_hour = 0;     // what one chip-hour costs (cloud price, or TCO when chip_hour is 0)
  double usd_per_mtok = 0;     // per million output tokens
  double tok_per_s_per_usd_hour = 0;
  bool assumed = false;
  std::string basis;           // "cloud list price" or "TCO"
  std::string set_by;          // the price (TCO: the unit price) was the user's: "--set" or their preset file
};
// How a report names who gave a price of `basis` (CostFigures::basis, set_by): "price set by --set", "unit price set
// in my.yaml"; "" for a preset's.
std::string price_set_by_text(const std::string& basis, const std::string& set_by);
// `avg_power_w` feeds the energy part of the TCO; tokens_per_s is the chip's output throughput.
CostFigures cost_figures(const CostSpec& s, double tokens_per_s, double avg_power_w);
// The all-in cost of owning the chip (capex over the service life at the utilization, plus energy at
// the wall: average power x PUE x electricity price), whatever cloud price the preset has; zero
// figures when the preset has no unit price.
CostFigures tco_figures(const CostSpec& s, double tokens_per_s, double avg_power_w);
// The TCO parameters in words, each marked sourced or assumed ("capex $30,000 (source: ...); ...").
std::string tco_assumptions(const CostSpec& s);

}  // namespace xpu
