// An RDMA NIC port (InfiniBand, RoCE, EFA): a serial link plus a per-message cost on the host side
// (work request post, doorbell, completion polling by the library's proxy thread), which dominates
// small messages across nodes.
#include "sim/interconnect/i_link.h"
#include "sim/engine/named_registry.h"

namespace xpu {

namespace {
class RdmaNic : public ILink {
 public:
  using ILink::ILink;
  Tick message_overhead() const override { return to_ticks(spec().message_overhead.value()); }
};
}  // namespace

void register_rdma_nic() {
  NamedRegistry<ILink, std::string, LinkSpec, Seconds>::add(
      "rdma", [](std::string n, LinkSpec s, Seconds x) { return std::make_unique<RdmaNic>(n, s, x); });
}

}  // namespace xpu
