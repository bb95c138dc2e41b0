// A switch of a fabric (NVSwitch, an Ethernet or InfiniBand switch). Its ports are the links that
// leave and enter it (they carry its port-to-port latency); the switch itself only models what
// happens inside: in-network reduction (NVLink SHARP) where the hardware has it.
#pragma once
#include <memory>
#include <string>

#include "sim/interconnect/system_spec.h"

namespace xpu {

class ISwitch {
 public:
  virtual ~ISwitch() = default;
  virtual bool reduces() const = 0;
  // Reduces `bytes` of input arriving at `arrival` on behalf of output `port`; returns when the
  // reduced result is ready. Only called when reduces().
  virtual Tick reduce(Tick arrival, double bytes, int port, Tick now) = 0;
  virtual Tick reduce_busy_ticks() const { return 0; }
};

std::unique_ptr<ISwitch> make_switch(const std::string& type, const SwitchSpec& spec, int ports);

}  // namespace xpu
