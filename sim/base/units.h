// Strong unit types (time, frequency, bandwidth, bytes, power, energy) parsed from and printed to
// human strings such as "1.98 GHz", "3.35 TB/s", "80 GiB", "228 KiB", "700 W", "30 ns".
#pragma once
#include <cstdint>
#include <string>

namespace xpu {

// Simulated time in integer picoseconds: exact, deterministic, and SystemC's default resolution.
using Tick = std::int64_t;
constexpr Tick kTicksPerSecond = 1'000'000'000'000LL;

// Each quantity stores its SI base value as a double (seconds, Hz, bytes/s, bytes, W, J).
#define XPU_UNIT_TYPE(Name)                                                        \
  struct Name {                                                                    \
    double v = 0.0;                                                                \
    constexpr Name() = default;                                                    \
    constexpr explicit Name(double x) : v(x) {}                                    \
    constexpr double value() const { return v; }                                   \
    constexpr bool operator==(const Name& o) const { return v == o.v; }            \
    constexpr bool operator!=(const Name& o) const { return v != o.v; }            \
    constexpr bool operator<(const Name& o) const { return v < o.v; }              \
    constexpr Name operator*(double s) const { return Name(v * s); }               \
    constexpr Name operator+(const Name& o) const { return Name(v + o.v); }        \
    static Name parse(const std::string& text);                                    \
    std::string str() const;                                                       \
    static const char* unit_name();                                                \
  };

XPU_UNIT_TYPE(Seconds)    // "ns", "us", "ms", "s", "ps", "cycles" is not accepted (clock-free)
XPU_UNIT_TYPE(Hertz)      // "Hz", "kHz", "MHz", "GHz"
XPU_UNIT_TYPE(Bandwidth)  // bytes/s: "B/s", "KB/s", "MB/s", "GB/s", "TB/s", "GiB/s", "Gbps" (bits)
XPU_UNIT_TYPE(Bytes)      // "B", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB"
XPU_UNIT_TYPE(Watts)      // "W", "kW", "mW"
XPU_UNIT_TYPE(Joules)     // "J", "mJ", "uJ", "nJ", "pJ", "fJ"
#undef XPU_UNIT_TYPE

// Conversions saturate at kMaxTick (about 53 days of simulated time) instead of overflowing.
constexpr Tick kMaxTick = Tick{1} << 62;
inline Tick to_ticks(double seconds) {
  const double t = seconds * 1e12 + 0.5;
  return t < static_cast<double>(kMaxTick) ? static_cast<Tick>(t) : kMaxTick;
}
inline double to_seconds(Tick t) { return static_cast<double>(t) * 1e-12; }
// Picoseconds needed to move `bytes` at `bw` bytes/s (rounded up: never faster than the link),
// ignoring floating-point noise below a femtosecond. The round-up is done on the integer part
// (exactly std::ceil for every finite value in range) because this sits on the hottest path of
// every memory model and libm's ceil is a call.
inline Tick transfer_ticks(double bytes, double bytes_per_second) {
  if (bytes <= 0) return 0;
  const double x = bytes / bytes_per_second * 1e12 - 1e-3;
  if (!(x < static_cast<double>(kMaxTick))) return kMaxTick;  // saturate (and NaN) instead of overflowing
  const Tick t = static_cast<Tick>(x);  // toward zero: the ceiling for x <= 0
  return t + (static_cast<double>(t) < x ? 1 : 0);
}

// "4TB/s" -> "4 TB/s": the space between number and unit that command-line values often omit.
std::string space_unit(const std::string& value);

// Pretty printers for report tables (3 significant digits with an SI prefix).
std::string format_seconds(double s);
std::string format_bytes(double b);
std::string format_rate(double per_second, const char* unit);  // e.g. format_rate(3e12,"B/s") -> "3.00 TB/s"

}  // namespace xpu
