// An NVSwitch with NVLink SHARP (NVLS): a crossbar whose ports also reduce multimem loads and
// multicast multimem stores. Each output port has a reduction engine that consumes its shard's inputs
// from all members at `reduce_bandwidth` (a serializing resource per port).
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
  Tick reduce(Tick arrival, double bytes, int port, Tick now) override {
    auto& e = m_engines[static_cast<size_t>(port) % m_engines.size()];
    return e.reserve(arrival, transfer_ticks(bytes, m_spec.reduce_bandwidth.value()), now);
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
