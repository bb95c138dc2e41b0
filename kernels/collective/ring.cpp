// Ring algorithms (NCCL's default for large messages): reduce-scatter and all-gather in n-1 steps of
// 1/n of the buffer; all-reduce = both (2(n-1) steps); broadcast is a chain pipelined by slices.
#include <algorithm>

#include "kernels/collective/algorithms.h"

namespace xpu::coll {

namespace {
// NCCL's rings across nodes: one ring per channel, each taking 1/rails of the buffer, and each
// leaving a node through a different NIC so that every rail carries traffic both ways (one ring
// through all chips would put every inter-node byte on one NIC). Ring c walks node 0 from local
// position c round to c-1, crosses on rail c-1 into node 1, walks node 1 backwards from c-1 to c
// and crosses back on rail c; further nodes alternate, so each crossing stays on one rail (an odd
// node count closes the ring through one NVLink hop of node 0).
void lower_rail_rings(Builder& b, int steps, std::uint64_t bytes) {
  const Topology& t = b.topo();
  int rails = t.ranks_per_node();
  for (int c = 0; c < rails; ++c) {
    std::vector<int> order;
    for (int n = 0; n < t.spec().nodes; ++n) {
      std::vector<int> walk = ring_order(t, n);
      std::rotate(walk.begin(), walk.begin() + c, walk.end());
      if (n % 2) std::reverse(walk.begin(), walk.end());
      order.insert(order.end(), walk.begin(), walk.end());
    }
    Frontier f = b.empty_frontier();
    b.ring(order, share(bytes, static_cast<std::uint64_t>(rails)), steps, +1, f);
  }
}
}  // namespace

void lower_ring(Builder& b, CollKind k, std::uint64_t bytes) {
  const Topology& t = b.topo();
  std::vector<int> order;
  for (int n = 0; n < t.spec().nodes; ++n)
    for (int r : ring_order(t, n)) order.push_back(r);
  int m = static_cast<int>(order.size());
  Frontier f = b.empty_frontier();
  if (k == CollKind::Broadcast) {  // root order[0]; every other rank receives and forwards
    std::uint32_t tag = b.new_tags(1);
    Deps have;
    for (int p = 0; p + 1 < m; ++p) {
      int v = order[static_cast<size_t>(p)], w = order[static_cast<size_t>(p + 1)];
      b.send(v, {w}, bytes, tag, have);
      have = {b.recv(w, v, tag)};
    }
    return;
  }
  if (k == CollKind::SendRecv) {
    b.ring(order, bytes * static_cast<std::uint64_t>(m), 1, +1, f);
    return;
  }
  bool ar = k == CollKind::AllReduce;
  const SystemSpec& s = t.spec();
  if (s.nodes > 1 && s.network == "rail") {
    lower_rail_rings(b, ar ? 2 * (m - 1) : m - 1, bytes);
    return;
  }
  // A DMA-driven library (Neuron) runs a ring in one node as several cycles on mutually exclusive
  // wires, each both ways ("we run multiple cycles with mutually exclusive wires in parallel for full
  // wire bandwidth", intranode-collective-comm.rst): every cycle still takes m - 1 steps per pass. Two
  // ranks have one wire pair between them, nothing to split.
  if (s.nodes == 1 && s.ring_cycles == "disjoint" && m > 2) {
    node_rings(b, 0, bytes, ar ? 2 * (m - 1) : m - 1, f);
    return;
  }
  b.ring(order, bytes, ar ? 2 * (m - 1) : m - 1, +1, f);
}

}  // namespace xpu::coll
