// High-bandwidth memory: stacks x channels, each channel a serializing timeline at its share of the
// achievable bandwidth, address-interleaved in fixed chunks, plus a fixed access latency.
// Ignores: DRAM bank/row timing and refresh (folded into the named efficiency factor).
#pragma once
#include <string>
#include <vector>

#include "sim/base/config.h"
#include "sim/engine/timeline.h"

namespace xpu {

struct HbmSpec {
  Bytes capacity;
  Bandwidth bandwidth;      // peak, all stacks
  double efficiency = 0.9;  // achievable share of peak for streaming access
  int stacks = 1;
  int channels_per_stack = 16;
  Bytes interleave = Bytes(4096);
  Seconds latency = Seconds(500e-9);
};
void describe(Params& p, HbmSpec& s, const std::string& prefix);

class HbmModel {
 public:
  explicit HbmModel(const HbmSpec& spec);
  // Returns the completion time of a read or write of `bytes` at `addr` arriving at `arrival`.
  // `run` is the contiguous run length (a 2-D tile is rows of `run` bytes at a larger pitch), so a
  // tile of many short rows spreads over many channels as the address hash spreads it in hardware.
  Tick access(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, bool write, Tick horizon);
  double bytes_read() const { return m_read; }
  double bytes_written() const { return m_written; }
  Tick busiest_channel_ticks() const;
  double mean_channel_busy_ticks() const;
  int channels() const { return static_cast<int>(m_channels.size()); }

 private:
  HbmSpec m_spec;
  double m_channel_bw;
  std::vector<Timeline> m_channels;
  double m_read = 0, m_written = 0;
};

}  // namespace xpu
