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
  // Reduces `bytes` of input on behalf of output `port`, streaming in from `first` (every input has
  // begun to arrive) to `last` (all of it has): the engine reduces as the data comes, so the result
  // is ready once its whole work has run from `first` on (behind earlier work of the port) and no
  // earlier than the last `tail_bytes` (one piece of each input) after `last`. Only called when
  // reduces().
  virtual Tick reduce(Tick first, Tick last, double bytes, double tail_bytes, int port) = 0;
  virtual Tick reduce_busy_ticks() const { return 0; }
};

std::unique_ptr<ISwitch> make_switch(const std::string& type, const SwitchSpec& spec, int ports);

}  // namespace xpu
