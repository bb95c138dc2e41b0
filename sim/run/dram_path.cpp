#include "sim/run/dram_path.h"

#include <cctype>

#include "sim/base/strformat.h"

namespace xpu {

namespace {
// "mem.dma0" is the TPU path "mem.dma" of TensorCore 0 (unit types keep the index of their last part).
bool is_path(const std::string& unit, const std::string& path) {
  if (path.empty() || unit.compare(0, path.size(), path) != 0) return false;
  for (size_t i = path.size(); i < unit.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(unit[i]))) return false;
  return true;
}
}  // namespace

bool on_dram_path(const DramPath& path, const std::string& unit) { return is_path(unit, path.unit); }

std::optional<DramPathBound> dram_path_bound(const ChipModel& chip, const std::vector<PathSample>& kernels) {
  const DramPath path = chip.dram_path();
  if (path.unit.empty()) return std::nullopt;
  double total = 0, time = 0, bytes = 0, busy = 0;
  for (const PathSample& k : kernels) {
    total += k.time_s;
    if (!is_path(k.unit, path.unit)) continue;
    time += k.time_s, bytes += k.dram_bytes, busy += k.busy * k.time_s;
  }
  if (total <= 0 || time < 0.5 * total) return std::nullopt;
  DramPathBound b;
  b.unit = path.unit, b.keys = path.keys;
  b.path_bandwidth = path.bandwidth;
  b.hbm_bandwidth = chip.dram_bandwidth();
  b.share = time / total;
  b.busy = busy / time;
  b.achieved = bytes / time;
  return b;
}

std::string dram_path_text(const DramPathBound& b, const std::string& what) {
  return strformat("DRAM traffic of %s ran at %s, %.0f%% of hbm.bandwidth %s: the cores' path to the HBM (%s, busy %.0f%%, peak %s = %s), "
                   "not the HBM, bounded %.0f%% of the kernel time; more HBM bandwidth leaves those kernels bound by that path",
                   what.c_str(), format_rate(b.achieved, "B/s").c_str(), 100 * b.achieved / b.hbm_bandwidth,
                   format_rate(b.hbm_bandwidth, "B/s").c_str(), b.unit.c_str(), 100 * b.busy, format_rate(b.path_bandwidth, "B/s").c_str(),
                   b.keys.c_str(), 100 * b.share);
}

}  // namespace xpu
