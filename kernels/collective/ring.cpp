// Ring algorithms (NCCL's default for large messages): reduce-scatter and all-gather in n-1 steps of
// 1/n of the buffer; all-reduce = both (2(n-1) steps); broadcast is a chain pipelined by slices.
#include "kernels/collective/algorithms.h"

namespace xpu::coll {

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
  b.ring(order, bytes, ar ? 2 * (m - 1) : m - 1, +1, f);
}

}  // namespace xpu::coll
