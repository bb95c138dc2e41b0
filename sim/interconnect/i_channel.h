// An on-chip path that serializes transfers at a bandwidth: an SM's crossbar port to L2, a cluster's
// NoC port, an SRAM bank port, a DMA engine's queue. Implementations register by name and a preset
// picks one with `onchip.channel`; chips hold them in ChannelBanks.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "sim/base/config.h"
#include "sim/engine/stat_group.h"

namespace xpu {

struct OnChipSpec {
  std::string channel = "serial";  // the implementation of every on-chip channel, by registered name
};
void describe(Params& p, OnChipSpec& s, const std::string& prefix);
std::vector<std::string> channel_model_names();

class IChannel {
 public:
  virtual ~IChannel() = default;
  // Occupies the channel for `bytes` at its bandwidth plus `fixed` ticks of per-transfer overhead,
  // from no earlier than `arrival`; returns the end. `horizon`: the global time (calendar horizon).
  virtual Tick carry(Tick arrival, double bytes, Tick fixed, Tick horizon) = 0;
  virtual Tick busy_ticks() const = 0;
};

std::unique_ptr<IChannel> make_channel(const std::string& model, double bytes_per_s);

// `n` channels of one model and bandwidth (one per SM, per cluster, per DMA engine...).
class ChannelBank {
 public:
  ChannelBank(const std::string& model, size_t n, double bytes_per_s);
  IChannel& operator[](size_t i) { return *m_channels[i]; }
  const IChannel& operator[](size_t i) const { return *m_channels[i]; }
  size_t size() const { return m_channels.size(); }
  double bandwidth() const { return m_bw; }
  double mean_busy_ticks() const;
  // Mean busy share of the bank's channels over `total` ticks (0 when total is 0).
  double utilization(Tick total) const { return total > 0 ? mean_busy_ticks() / double(total) : 0; }

 private:
  double m_bw;
  std::vector<std::unique_ptr<IChannel>> m_channels;
};

}  // namespace xpu
