// High-bandwidth memory: stacks x channels, each channel a serializing timeline at its share of the
// achievable bandwidth, address-interleaved in fixed chunks, plus a fixed access latency.
// Ignores: DRAM bank/row timing and refresh (folded into the named efficiency factor).
#pragma once
#include <string>
#include <vector>

#include "sim/engine/timeline.h"
#include "sim/memory/i_dram.h"

namespace xpu {


// The "hbm_channels" DRAM model. A tile of many short rows spreads over many channels, as the address
// hash spreads it in hardware. The "hbm_bank" model books a transfer once on all channels together
// (see reserve_bank): faster to simulate, blind to channel imbalance. `channel_group` > 1 books groups
// of consecutive channels on one calendar each (see reserve_grouped; opt-in, default 1 = per channel).
class HbmModel : public IDram {
 public:
  // bank: book each transfer once on the whole set of channels (reserve_bank; "hbm_bank") instead
  // of once per channel it touches ("hbm_channels").
  explicit HbmModel(const HbmSpec& spec, bool bank = false);
  Tick access(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, bool write,
              Tick horizon) override;
  double bytes_read() const override { return m_read; }
  double bytes_written() const override { return m_written; }
  Tick busiest_channel_ticks() const;
  double mean_channel_busy_ticks() const;
  int channels() const { return static_cast<int>(m_lanes); }

 private:
  HbmSpec m_spec;
  double m_channel_bw;
  std::uint64_t m_lanes;              // channels
  std::uint64_t m_group;              // channels per calendar (spec.channel_group)
  std::vector<Timeline> m_channels;  // one calendar per group of m_group channels (group > 1)
  LaneBank m_lane_bank;               // the channels' calendars (group 1)
  GroupedDurations m_channel_times;  // the groups' service times of recent transfer sizes
  InterleavedDurations m_interleaved_times;  // the channels' service times of the last transfer size (group 1)
  RunBusy m_run_busy;  // the channels' busy time, counted per run of channels (group 1: see RunBusy)
  // Each calendar's busy time (a channel's, or its group's), the runs' counts included.
  std::vector<Tick> calendar_busy_ticks() const;
  bool m_bank_mode;
  Tick m_latency, m_write_latency;  // spec.latency, spec.write_latency (or latency) in ticks
  Timeline m_bank;  // the one calendar of all channels (bank mode)
  double m_read = 0, m_written = 0;
};

}  // namespace xpu
