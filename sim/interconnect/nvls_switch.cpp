// An NVSwitch with NVLink SHARP (NVLS): a crossbar whose ports also reduce multimem loads and
// multicast multimem stores. Each output port has a reduction engine that consumes its shard's inputs
// from all members at `reduce_bandwidth` (a serializing resource per port), as they arrive:
// multimem.ld_reduce works on 16-byte packs, so the reduction follows the inputs' arrival.
#include <algorithm>
#include <vector>

#include "sim/engine/timeline.h"
#include "sim/interconnect/i_switch.h"
#include "sim/engine/named_registry.h"

namespace xpu {

namespace {
class NvlsSwitch : public ISwitch {
 public:
  NvlsSwitch(const SwitchSpec& s, int ports) : m_spec(s), m_engines(static_cast<size_t>(ports)) {}
  bool reduces() const override { return true; }
  Tick reduce(Tick first, Tick last, double bytes, double tail_bytes, int port) override {
    auto& e = m_engines[static_cast<size_t>(port) % m_engines.size()];
    const double rate = m_spec.reduce_bandwidth.value();
    // Booked from `first`, which may lie before the current time: nothing of this port arrives
    // earlier than that (its reductions run in loop order), so `first` is the booking's horizon.
    return std::max(e.reserve(first, transfer_ticks(bytes, rate), first), last + transfer_ticks(tail_bytes, rate));
  }
  Tick reduce_busy_ticks() const override {
    Tick b = 0;
    for (const auto& e : m_engines) b += e.busy_ticks();
    return b;
  }

 private:
  SwitchSpec m_spec;
  std::vector<Timeline> m_engines;
};
}  // namespace

void register_nvls_switch() {
  NamedRegistry<ISwitch, SwitchSpec, int>::add(
      "nvls", [](SwitchSpec s, int ports) { return std::make_unique<NvlsSwitch>(s, ports); });
}

}  // namespace xpu
