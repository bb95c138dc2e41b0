// A non-blocking crossbar switch (Ethernet, InfiniBand, an NVSwitch without SHARP): contention is at
// its ports (the links), nothing inside; it cannot reduce.
#include "sim/interconnect/i_switch.h"
#include "sim/engine/named_registry.h"

namespace xpu {

namespace {
class CrossbarSwitch : public ISwitch {
 public:
  bool reduces() const override { return false; }
  Tick reduce(Tick, Tick last, double, double, int) override { return last; }
};
}  // namespace

void register_crossbar_switch() {
  NamedRegistry<ISwitch, SwitchSpec, int>::add("crossbar",
                                               [](SwitchSpec, int) { return std::make_unique<CrossbarSwitch>(); });
}

}  // namespace xpu
