#include "sim/memory/hbm.h"

#include <algorithm>

#include "sim/engine/named_registry.h"

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
  p(pre + "latency", s.latency, "Unloaded access latency added to every transfer (a read's where write_latency is set)", "500 ns");
  p(pre + "write_latency", s.write_latency,
    "Unloaded latency added to a write, where it differs from a read's (0 = latency)", "0 ns");
  p(pre + "model", s.model, "DRAM implementation, by registered name (hbm_channels: interleaved channel timelines; hbm_bank: one "
    "booking per transfer on all channels together, faster, blind to channel imbalance)",
    "hbm_channels");
  p(pre + "channel_group", s.channel_group,
    "Consecutive channels booked together on one calendar at their mean load, a transfer's piece ending when its "
    "busiest channel would (hbm_channels; 1: a calendar per channel, exact; more: fewer bookings per transfer, "
    "channel imbalance kept between groups only)", "1");
  p.require(s.channel_group >= 1, pre + "channel_group", "at least 1");
  p.require(s.bandwidth.value() > 0, pre + "bandwidth", "a positive bandwidth");
  p.require(s.efficiency > 0 && s.efficiency <= 1, pre + "efficiency", "a share in (0, 1]");
  p.require(s.stacks > 0 && s.channels_per_stack > 0, pre + "stacks", "at least one stack and channel");
  p.require(s.stacks <= 64, pre + "stacks", "at most 64 stacks");
  p.require(s.channels_per_stack <= 1024, pre + "channels_per_stack", "at most 1024 channels per stack");
  p.require(s.interleave.value() >= 64, pre + "interleave", "at least 64 B");
  std::vector<std::string> models = dram_model_names();
  p.require(std::find(models.begin(), models.end(), s.model) != models.end(), pre + "model", "one of " + join(models));
}

HbmModel::HbmModel(const HbmSpec& spec, bool bank)
    : m_spec(spec),
      m_channel_bw(spec.bandwidth.value() * spec.efficiency / (spec.stacks * spec.channels_per_stack)),
      m_lanes(static_cast<std::uint64_t>(spec.stacks * spec.channels_per_stack)),
      m_group(static_cast<std::uint64_t>(std::max(1, spec.channel_group))),
      m_channels(m_group > 1 ? static_cast<size_t>((m_lanes + m_group - 1) / m_group) : 0),
      m_bank_mode(bank),
      m_latency(to_ticks(spec.latency.value())),
      m_write_latency(to_ticks(spec.write_latency_s())) {
  if (m_group == 1) {
    m_run_busy.resize(m_lanes);
    m_lane_bank.resize(m_lanes);
  }
  m_stats.add("bytes_read", "B", "bytes read from HBM", [this](Tick) { return m_read; });
  m_stats.add("bytes_written", "B", "bytes written to HBM", [this](Tick) { return m_written; });
  m_stats.add("utilization", "ratio", "mean channel busy time over the run",
              [this](Tick total) { return total > 0 ? mean_channel_busy_ticks() / double(total) : 0; });
}

Tick HbmModel::access(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, bool write,
                      Tick horizon) {
  (write ? m_written : m_read) += static_cast<double>(bytes);
  if (bytes == 0) return arrival;
  const std::uint64_t nch = m_lanes;
  const std::uint64_t chunks = spread_chunks(bytes, run, static_cast<std::uint64_t>(m_spec.interleave.value()));
  // Consecutive pieces go to consecutive channels, starting from a hash of the address so that
  // independent streams spread over the channels.
  std::uint64_t first = address_hash(addr) % nch;
  Tick done = m_bank_mode    ? reserve_bank(m_bank, nch, bytes, std::min(chunks, nch), m_channel_bw, arrival, horizon)
              : m_group > 1 ? reserve_grouped(m_channels, nch, m_group, first, bytes, chunks, m_channel_bw, arrival, horizon,
                                              &m_channel_times)
                            : reserve_interleaved(m_lane_bank, first, bytes, chunks, m_channel_bw, arrival, horizon,
                                                  &m_interleaved_times, m_run_busy);
  return done + (write ? m_write_latency : m_latency);
}

std::vector<Tick> HbmModel::calendar_busy_ticks() const {
  if (m_group == 1) {
    std::vector<Tick> busy = m_run_busy.lanes();
    for (size_t l = 0; l < busy.size(); ++l) busy[l] += m_lane_bank.busy_ticks(l);
    return busy;
  }
  std::vector<Tick> busy(m_channels.size(), 0);
  for (size_t g = 0; g < m_channels.size(); ++g) busy[g] += m_channels[g].busy_ticks();
  return busy;
}

Tick HbmModel::busiest_channel_ticks() const {
  if (m_bank_mode) return m_bank.busy_ticks();  // per-channel occupancy is not kept
  Tick m = 0;
  for (Tick b : calendar_busy_ticks()) m = std::max(m, b);
  return m;
}

double HbmModel::mean_channel_busy_ticks() const {
  // The bank is booked at all channels' rate: its busy time is the mean channel's.
  if (m_bank_mode) return static_cast<double>(m_bank.busy_ticks());
  // A group's calendar is booked at its channels' mean load: its busy time is its mean channel's.
  const std::vector<Tick> busy = calendar_busy_ticks();
  double s = 0;
  for (size_t g = 0; g < busy.size(); ++g)
    s += static_cast<double>(busy[g]) * static_cast<double>(std::min<std::uint64_t>(m_group, m_lanes - g * m_group));
  return m_lanes == 0 ? 0 : s / static_cast<double>(m_lanes);
}

void register_hbm_channels() {
  NamedRegistry<IDram, const HbmSpec&>::add("hbm_channels",
                                            [](const HbmSpec& s) { return std::make_unique<HbmModel>(s); });
  NamedRegistry<IDram, const HbmSpec&>::add("hbm_bank",
                                            [](const HbmSpec& s) { return std::make_unique<HbmModel>(s, true); });
}

}  // namespace xpu
