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
    return m_timeline.reserve(arrival, service(bytes) + fixed, horizon);
  }
  Tick busy_ticks() const override { return m_timeline.busy_ticks(); }

 private:
  // transfer_ticks(bytes, m_bw), kept for the last two sizes: a GPU SM's link carries its A and B tiles
  // in turn, the same two sizes tile after tile, and the division and conversions behind each time were
  // a chain of some 40 cycles per DMA (perf, 8192^3 H100 GEMM). The same function fills the entries, so
  // the times are the same with or without them; they sit in the object's first cache line beside m_bw.
  Tick service(double bytes) {
    if (bytes == m_bytes[0]) return m_ticks[0];
    if (bytes == m_bytes[1]) return m_ticks[1];
    const Tick t = transfer_ticks(bytes, m_bw);
    m_bytes[1] = m_bytes[0], m_ticks[1] = m_ticks[0];
    m_bytes[0] = bytes, m_ticks[0] = t;
    return t;
  }
  double m_bw;
  double m_bytes[2] = {-1, -1};  // no transfer has a negative size: empty entries
  Tick m_ticks[2] = {0, 0};
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
