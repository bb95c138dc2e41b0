// An RDMA NIC port (InfiniBand, RoCE, EFA) as LogGP sees it: a serial link whose payload rate is the
// lower of the NIC's and its host path's (PCIe between the chip and the NIC), a per-message latency on
// the host side (work request post, doorbell: `message_overhead`, L and o), and a per-message gap
// (`message_gap`, g): the library's proxy thread posts, flushes and completes each message in turn,
// so a message holds the port for max(gap, bytes / rate). Small messages are rate-bound, large ones
// bandwidth-bound. Ignored: NIC caches (QP, MTT) and congestion control.
#include <algorithm>

#include "sim/interconnect/i_link.h"
#include "sim/engine/named_registry.h"

namespace xpu {

namespace {
class RdmaNic : public ILink {
 public:
  using ILink::ILink;
  Tick serialize(double wire_bytes) const override {
    return std::max(ILink::serialize(wire_bytes), to_ticks(spec().message_gap.value()));
  }
  Tick message_overhead() const override { return to_ticks(spec().message_overhead.value()); }
};
}  // namespace

void register_rdma_nic() {
  NamedRegistry<ILink, std::string, LinkSpec, Seconds>::add(
      "rdma", [](std::string n, LinkSpec s, Seconds x) { return std::make_unique<RdmaNic>(n, s, x); });
}

}  // namespace xpu
