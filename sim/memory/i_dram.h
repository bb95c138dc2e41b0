// The DRAM interface of a chip (HBM, LPDDR, GDDR): what a chip's memory target asks of its main memory.
// Implementations register by name (register_builtin_memory) and a preset picks one with `hbm.model`.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "sim/engine/stat_group.h"
#include <vector>

#include "sim/base/config.h"

namespace xpu {

struct HbmSpec {
  Bytes capacity;
  Bandwidth bandwidth;      // peak, all stacks
  double efficiency = 0.9;  // achievable share of peak for streaming access
  int stacks = 1;
  int channels_per_stack = 16;
  Bytes interleave = Bytes(4096);
  Seconds latency = Seconds(500e-9);
  Seconds write_latency = Seconds(0);  // a write's, when it differs (0 = latency)
  std::string model = "hbm_channels";  // the implementation, by registered name
  int channel_group = 1;    // channels booked together on one calendar (hbm_channels)
  double write_latency_s() const { return write_latency.value() > 0 ? write_latency.value() : latency.value(); }
};
void describe(Params& p, HbmSpec& s, const std::string& prefix);
// Names of the registered DRAM models (for preset validation and `xpusim params`).
std::vector<std::string> dram_model_names();

class IDram {
 public:
  virtual ~IDram() = default;
  // Completion time of a read or write of `bytes` at `addr` arriving at `arrival`; `run` is the
  // contiguous run length of the access (a 2-D tile is rows of `run` bytes at a larger pitch) and
  // `horizon` the global time before which no later arrival can fall.
  virtual Tick access(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, bool write,
                      Tick horizon) = 0;
  virtual double bytes_read() const = 0;
  virtual double bytes_written() const = 0;
  // Stats declared by the implementation (bytes read and written, utilization, ...).
  const StatGroup& stats() const { return m_stats; }

 protected:
  StatGroup m_stats;
};

// The DRAM model named by spec.model ("hbm_channels", ...); InputError listing the valid names.
std::unique_ptr<IDram> make_dram(const HbmSpec& spec);

}  // namespace xpu
