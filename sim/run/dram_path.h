// Where a path of the cores, not the HBM, set the rate of a run's DRAM traffic, as the simulation saw it: the
// kernels whose busiest unit was that path (ChipModel::dram_path: a TPU TensorCore's DMA, Trainium's DMA engines),
// their share of the time and the rate their DRAM bytes moved at against hbm.bandwidth. An HBM bandwidth what-if
// (--set hbm.bandwidth=8TB/s on tpu-v6e) leaves those kernels bound by the path; reports say so and name its keys.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "sim/run/registry.h"

namespace xpu {

struct DramPathBound {
  std::string unit, keys;      // the path's unit type and the preset keys that set its peak (ChipModel::dram_path)
  double path_bandwidth = 0;   // its peak over the cores a kernel runs on (B/s)
  double hbm_bandwidth = 0;    // hbm.bandwidth (B/s)
  double share = 0;            // of the kernels' time (collectives left out), in kernels the path bounded
  double busy = 0;             // the path's busy share over those kernels (time-weighted)
  double achieved = 0;         // the DRAM bytes those kernels moved over their time (B/s)
};

// One kernel as the simulation saw it: its time, DRAM bytes, busiest unit (KernelResult::bound_unit) and that
// unit's busy share.
struct PathSample {
  double time_s = 0, dram_bytes = 0;
  std::string unit;
  double busy = 0;
};

// The path's bound where it was the busiest unit of kernels holding at least half of the time; nothing otherwise
// (and on families without such a path).
std::optional<DramPathBound> dram_path_bound(const ChipModel& chip, const std::vector<PathSample>& kernels);

// Whether a kernel's busiest unit ("mem.dma0") is the chip's path `path` ("mem.dma": that path of any core).
bool on_dram_path(const DramPath& path, const std::string& unit);

// One line for tables, of `what` ("the step"): "DRAM traffic of the step ran at 1.32 TB/s, 17% of hbm.bandwidth 8 TB/s:
// ..." naming the path, its busy share, its peak and the keys that set it, and its share of the kernel time.
std::string dram_path_text(const DramPathBound& b, const std::string& what);

}  // namespace xpu
