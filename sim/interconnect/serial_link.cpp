// A point-to-point serial link (NVLink, ICI, NeuronLink, a lane bundle): payload rate = line rate x
// efficiency (encoding, flit headers and flow control, from the preset), one latency per traversal.
#include "sim/interconnect/i_link.h"
#include "sim/engine/named_registry.h"

namespace xpu {

namespace {
class SerialLink : public ILink {
 public:
  using ILink::ILink;  // the base's serialization and latency are exactly a serial link's
};
}  // namespace

void register_serial_link() {
  NamedRegistry<ILink, std::string, LinkSpec, Seconds>::add(
      "serial", [](std::string n, LinkSpec s, Seconds x) { return std::make_unique<SerialLink>(n, s, x); });
}

}  // namespace xpu
