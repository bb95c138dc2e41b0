// Parsing and printing of the strong unit types.
#include "sim/base/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>
#include <vector>

namespace xpu {
namespace {

struct Suffix {
  const char* text;
  double scale;
};

// Splits "3.35 TB/s" into 3.35 and "TB/s"; throws std::invalid_argument naming what was expected.
double parse_with(const std::string& text, const std::vector<Suffix>& suffixes, const char* what) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t start = i;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.' ||
                             text[i] == 'e' || text[i] == 'E' || text[i] == '-' || text[i] == '+')) {
    // stop at an 'e' that begins a unit ("eV" does not exist here, but guard "1e" + unit)
    ++i;
  }
  std::string num = text.substr(start, i - start);
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit = text.substr(i);
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.back()))) unit.pop_back();
  std::string expected;
  for (const auto& s : suffixes) expected += std::string(expected.empty() ? "" : ", ") + s.text;
  if (num.empty()) throw std::invalid_argument(std::string("expected a ") + what + " such as '1.5 " +
                                               suffixes.front().text + "' (units: " + expected + ")");
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(num, &used);
  } catch (...) {
    used = 0;
  }
  if (used != num.size() || !std::isfinite(value))
    throw std::invalid_argument(std::string("'") + num + "' is not a number; expected a " + what);
  if (unit.empty())
    throw std::invalid_argument(std::string("missing unit; expected a ") + what + " with one of: " + expected);
  for (const auto& s : suffixes)
    if (unit == s.text) return value * s.scale;
  throw std::invalid_argument(std::string("unknown unit '") + unit + "' for a " + what + "; expected one of: " + expected);
}

std::string format_si(double v, const char* unit, bool binary = false) {
  static const char* prefixes[] = {"", "k", "M", "G", "T", "P", "E"};
  static const char* bprefixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  double base = binary ? 1024.0 : 1000.0;
  int p = 0;
  double a = std::fabs(v);
  while (a >= base && p < 6) {
    a /= base;
    v /= base;
    ++p;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g %s%s", v, binary ? bprefixes[p] : prefixes[p], unit);
  return buf;
}

const std::vector<Suffix> kTime = {{"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}, {"ps", 1e-12}, {"min", 60.0}};
const std::vector<Suffix> kFreq = {{"GHz", 1e9}, {"MHz", 1e6}, {"kHz", 1e3}, {"Hz", 1.0}};
const std::vector<Suffix> kBw = {{"TB/s", 1e12},  {"GB/s", 1e9},    {"MB/s", 1e6},    {"KB/s", 1e3},
                                 {"B/s", 1.0},    {"TiB/s", 0x1p40}, {"GiB/s", 0x1p30}, {"MiB/s", 0x1p20},
                                 {"Tbps", 1e12 / 8}, {"Gbps", 1e9 / 8}, {"Mbps", 1e6 / 8}, {"PB/s", 1e15}};
const std::vector<Suffix> kBytes = {{"GiB", 0x1p30}, {"MiB", 0x1p20}, {"KiB", 0x1p10}, {"TiB", 0x1p40},
                                    {"B", 1.0},      {"KB", 1e3},     {"kB", 1e3},     {"MB", 1e6},
                                    {"GB", 1e9},     {"TB", 1e12}};
const std::vector<Suffix> kWatts = {{"W", 1.0}, {"kW", 1e3}, {"mW", 1e-3}};
const std::vector<Suffix> kJoules = {{"pJ", 1e-12}, {"fJ", 1e-15}, {"nJ", 1e-9}, {"uJ", 1e-6},
                                     {"mJ", 1e-3},  {"J", 1.0},    {"kJ", 1e3},  {"kWh", 3.6e6}};

}  // namespace

Seconds Seconds::parse(const std::string& t) { return Seconds(parse_with(t, kTime, "time")); }
Hertz Hertz::parse(const std::string& t) { return Hertz(parse_with(t, kFreq, "frequency")); }
Bandwidth Bandwidth::parse(const std::string& t) { return Bandwidth(parse_with(t, kBw, "bandwidth")); }
Bytes Bytes::parse(const std::string& t) { return Bytes(parse_with(t, kBytes, "size")); }
Watts Watts::parse(const std::string& t) { return Watts(parse_with(t, kWatts, "power")); }
Joules Joules::parse(const std::string& t) { return Joules(parse_with(t, kJoules, "energy")); }

std::string Seconds::str() const { return format_seconds(v); }
std::string Hertz::str() const { return format_si(v, "Hz"); }
std::string Bandwidth::str() const { return format_si(v, "B/s"); }
std::string Bytes::str() const {
  // Keep binary sizes binary ("228 KiB") and decimal ones decimal ("50 MB") when printed back.
  double b = std::fabs(v);
  if (b >= 1024 && std::fmod(b, 1024.0) == 0.0) return format_si(v, "B", true);
  return format_si(v, "B");
}
std::string Watts::str() const { return format_si(v, "W"); }
std::string Joules::str() const {
  char buf[64];
  if (std::fabs(v) < 1e-9) std::snprintf(buf, sizeof buf, "%.4g pJ", v * 1e12);
  else if (std::fabs(v) < 1e-3) std::snprintf(buf, sizeof buf, "%.4g nJ", v * 1e9);
  else std::snprintf(buf, sizeof buf, "%.4g J", v);
  return buf;
}
const char* Seconds::unit_name() { return "time"; }
const char* Hertz::unit_name() { return "frequency"; }
const char* Bandwidth::unit_name() { return "bandwidth"; }
const char* Bytes::unit_name() { return "size"; }
const char* Watts::unit_name() { return "power"; }
const char* Joules::unit_name() { return "energy"; }

std::string space_unit(const std::string& value) {
  std::string v = value;
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
  // Not inside a number's own letters: an exponent ("1e9") or a hexadecimal prefix ("0x10", kept as typed
  // so that an error quotes it so).
  const bool hex = i == 1 && v[0] == '0' && i < v.size() && (v[i] == 'x' || v[i] == 'X');
  if (i > 0 && i < v.size() && std::isalpha(static_cast<unsigned char>(v[i])) && v[i] != 'e' && !hex) v.insert(i, " ");
  return v;
}

std::string format_seconds(double s) {
  char buf[64];
  double a = std::fabs(s);
  if (a == 0) return "0 s";
  if (a < 1e-6) std::snprintf(buf, sizeof buf, "%.4g ns", s * 1e9);
  else if (a < 1e-3) std::snprintf(buf, sizeof buf, "%.4g us", s * 1e6);
  else if (a < 1.0) std::snprintf(buf, sizeof buf, "%.4g ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.4g s", s);
  return buf;
}
std::string format_bytes(double b) { return format_si(b, "B"); }
std::string format_rate(double per_second, const char* unit) { return format_si(per_second, unit); }

}  // namespace xpu
