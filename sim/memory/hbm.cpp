#include "sim/memory/hbm.h"

#include <algorithm>

namespace xpu {

void describe(Params& p, HbmSpec& s, const std::string& pre) {
  p(pre + "capacity", s.capacity, "Memory capacity visible to software");
  p(pre + "bandwidth", s.bandwidth, "Peak bandwidth of all stacks together");
  p(pre + "efficiency", s.efficiency,
    "Achievable share of peak for long streams (row switches, refresh, protocol); measured by copy benchmarks",
    "0.9");
  p(pre + "stacks", s.stacks, "Number of HBM stacks");
  p(pre + "channels_per_stack", s.channels_per_stack, "Independent (pseudo-)channels per stack", "16");
  p(pre + "interleave", s.interleave, "Address interleaving granule across channels", "4 KiB");
  p(pre + "latency", s.latency, "Unloaded access latency added to every transfer", "500 ns");
  p.require(s.bandwidth.value() > 0, pre + "bandwidth", "a positive bandwidth");
  p.require(s.efficiency > 0 && s.efficiency <= 1, pre + "efficiency", "a share in (0, 1]");
  p.require(s.stacks > 0 && s.channels_per_stack > 0, pre + "stacks", "at least one stack and channel");
  p.require(s.stacks <= 64, pre + "stacks", "at most 64 stacks");
  p.require(s.channels_per_stack <= 1024, pre + "channels_per_stack", "at most 1024 channels per stack");
  p.require(s.interleave.value() >= 64, pre + "interleave", "at least 64 B");
}

HbmModel::HbmModel(const HbmSpec& spec)
    : m_spec(spec),
      m_channel_bw(spec.bandwidth.value() * spec.efficiency / (spec.stacks * spec.channels_per_stack)),
      m_channels(static_cast<size_t>(spec.stacks * spec.channels_per_stack)) {}

Tick HbmModel::access(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, bool write,
                      Tick horizon) {
  (write ? m_written : m_read) += static_cast<double>(bytes);
  if (bytes == 0) return arrival;
  const std::uint64_t nch = m_channels.size();
  const std::uint64_t chunks = spread_chunks(bytes, run, static_cast<std::uint64_t>(m_spec.interleave.value()));
  // Consecutive pieces go to consecutive channels, starting from a hash of the address so that
  // independent streams spread over the channels.
  std::uint64_t first = address_hash(addr) % nch;
  std::uint64_t per = chunks / nch, extra = chunks % nch;
  double bytes_per_chunk = static_cast<double>(bytes) / static_cast<double>(chunks);
  Tick done = arrival;
  std::uint64_t touched = std::min<std::uint64_t>(chunks, nch);
  for (std::uint64_t i = 0; i < touched; ++i) {
    std::uint64_t n = per + (i < extra ? 1 : 0);
    Tick dur = transfer_ticks(bytes_per_chunk * static_cast<double>(n), m_channel_bw);
    done = std::max(done, m_channels[(first + i) % nch].reserve(arrival, dur, horizon));
  }
  return done + to_ticks(m_spec.latency.value());
}

Tick HbmModel::busiest_channel_ticks() const {
  Tick m = 0;
  for (const auto& c : m_channels) m = std::max(m, c.busy_ticks());
  return m;
}

double HbmModel::mean_channel_busy_ticks() const {
  double s = 0;
  for (const auto& c : m_channels) s += static_cast<double>(c.busy_ticks());
  return m_channels.empty() ? 0 : s / static_cast<double>(m_channels.size());
}

}  // namespace xpu
