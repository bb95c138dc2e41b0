// The "serial" on-chip channel: one transfer at a time at the channel's bandwidth, first-fit into the
// gaps of its calendar (transfers may arrive out of order under temporal decoupling).
#include <algorithm>

#include "sim/engine/named_registry.h"
#include "sim/engine/timeline.h"
#include "sim/interconnect/i_channel.h"

namespace xpu {

namespace {
class SerialChannel : public IChannel {
 public:
  explicit SerialChannel(double bytes_per_s) : m_bw(bytes_per_s) {}
  Tick carry(Tick arrival, double bytes, Tick fixed, Tick horizon) override {
    return m_timeline.reserve(arrival, transfer_ticks(bytes, m_bw) + fixed, horizon);
  }
  Tick busy_ticks() const override { return m_timeline.busy_ticks(); }

 private:
  double m_bw;
  Timeline m_timeline;
};

using ChannelRegistry = NamedRegistry<IChannel, double>;

void register_builtin_channels() {
  static const bool done = [] {
    ChannelRegistry::add("serial", [](double bw) { return std::make_unique<SerialChannel>(bw); });
    return true;
  }();
  (void)done;
}
}  // namespace

std::vector<std::string> channel_model_names() {
  register_builtin_channels();
  return ChannelRegistry::names();
}

void describe(Params& p, OnChipSpec& s, const std::string& pre) {
  p(pre + "channel", s.channel,
    "On-chip channel implementation (SM/NoC/SRAM ports, DMA queues), by registered name (serial: one transfer "
    "at a time at the channel's bandwidth)",
    "serial");
  std::vector<std::string> models = channel_model_names();
  p.require(std::find(models.begin(), models.end(), s.channel) != models.end(), pre + "channel", "one of " + join(models));
}

std::unique_ptr<IChannel> make_channel(const std::string& model, double bytes_per_s) {
  register_builtin_channels();
  return ChannelRegistry::make("on-chip channel (onchip.channel)", model, bytes_per_s);
}

ChannelBank::ChannelBank(const std::string& model, size_t n, double bytes_per_s) : m_bw(bytes_per_s) {
  for (size_t i = 0; i < n; ++i) m_channels.push_back(make_channel(model, bytes_per_s));
}

double ChannelBank::mean_busy_ticks() const {
  double s = 0;
  for (const auto& c : m_channels) s += static_cast<double>(c->busy_ticks());
  return m_channels.empty() ? 0 : s / static_cast<double>(m_channels.size());
}

}  // namespace xpu
