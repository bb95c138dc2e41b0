// An RDMA NIC port (InfiniBand, RoCE, EFA) as LogGP sees it: a serial link whose payload rate is the
// lower of the NIC's and its host path's (PCIe between the chip and the NIC), a per-message latency on
// the host side (work request post, doorbell: `message_overhead`, L and o), and a per-message gap
// (`message_gap`, g): the library's proxy thread posts, flushes and completes each message in turn,
// so a message holds the port for max(gap, bytes / rate). Small messages are rate-bound, large ones
// bandwidth-bound. Multi-rail (`rails`, as aws-ofi-nccl's RDMA protocol drives a p5 GPU's four EFA
// ports): a message above `stripe_threshold` is cut into one stripe per rail, sent side by side; a
// smaller one takes one rail at 1/rails of the rate. The rails share one calendar: consecutive small
// messages, which the plugin spreads round robin, are held apart by the gap anyway (6 us against
// under 1 us on a 100 Gb/s rail). Eager messages (up to `eager_bytes`) land in a bounce buffer that
// the receiver copies out with one more NIC operation (`eager_copy`, after the last byte).
// Ignored: NIC caches (QP, MTT) and congestion control.
#include <algorithm>

#include "sim/interconnect/i_link.h"
#include "sim/engine/named_registry.h"

namespace xpu {

namespace {
class RdmaNic : public ILink {
 public:
  using ILink::ILink;
  Tick serialize(double wire_bytes) const override {
    return std::max(to_ticks(spec().transfer_seconds(wire_bytes)), to_ticks(spec().message_gap.value()));
  }
  Tick receive_overhead(double wire_bytes) const override { return to_ticks(spec().receive_seconds(wire_bytes)); }
  Tick message_overhead() const override { return to_ticks(spec().message_overhead.value()); }
};
}  // namespace

void register_rdma_nic() {
  NamedRegistry<ILink, std::string, LinkSpec, Seconds>::add(
      "rdma", [](std::string n, LinkSpec s, Seconds x) { return std::make_unique<RdmaNic>(n, s, x); });
}

}  // namespace xpu
