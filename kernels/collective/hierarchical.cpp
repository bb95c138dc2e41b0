// Hierarchical all-reduce across nodes (NCCL's NVLS-tree / tree-of-rings family): reduce-scatter
// inside each node (NVLS where the switch reduces, else a ring), an all-reduce ring across nodes
// between the chips of equal local rank (one rail each, 1/local of the buffer), then all-gather
// inside each node. Inter-node traffic per chip is 2(N-1)/N of its 1/local shard.
#include "kernels/collective/algorithms.h"

namespace xpu::coll {

void lower_hierarchical(Builder& b, CollKind k, std::uint64_t bytes) {
  const Topology& t = b.topo();
  int nodes = t.spec().nodes, local = t.ranks_per_node();
  Frontier f = b.empty_frontier();
  bool nvls = t.in_network_reduction();
  for (int n = 0; n < nodes; ++n) {
    std::vector<int> g = ring_order(t, n);
    if (nvls) b.nvls_reduce_scatter(g, t.node_switch(n), bytes, f);
    else b.ring(g, bytes, local - 1, +1, f);
  }
  std::vector<int> inner = ring_order(t, 0);
  for (int i = 0; i < local; ++i) {
    // The chips holding the same shard: position i of every node's ring order.
    std::vector<int> rail;
    for (int n = 0; n < nodes; ++n) rail.push_back(n * local + (inner[static_cast<size_t>(i)] % local));
    b.ring(rail, share(bytes, static_cast<std::uint64_t>(local)), 2 * (nodes - 1), +1, f);
  }
  for (int n = 0; n < nodes; ++n) {
    std::vector<int> g = ring_order(t, n);
    if (nvls) b.nvls_all_gather(g, t.node_switch(n), bytes, f);
    else b.ring(g, bytes, local - 1, +1, f);
  }
}

}  // namespace xpu::coll
