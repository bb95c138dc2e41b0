// Hierarchical all-reduce across nodes (NCCL's NVLS-tree / tree-of-rings family, Neuron's hierarchical):
// reduce-scatter inside each node (NVLS where the switch reduces, else a ring), an all-reduce across
// nodes between the chips of equal local rank (one rail each, 1/local of the buffer; a ring, or the
// cheapest of library.internode_algorithms: internode.cpp), then all-gather inside each node. Inter-node
// traffic per chip is 2(N-1)/N of its 1/local shard (the ring, mesh and RDH; (N-1) x it for oneshot).
#include <algorithm>
#include <cmath>

#include "kernels/collective/algorithms.h"

namespace xpu::coll {

namespace {
// NVLS-tree moves a chip's share of a loop across nodes as one network message per channel: a chunk
// of NCCL's NVLS-tree size for the whole message, or the channel's part of a slice too small to fill
// every channel and head with one. Each inter-node ring step is cut into that many messages, each a
// ring of its own, so the NIC pays its per-message gap for every channel's chunk and a channel's
// chunk goes on as soon as it has arrived. kMaxParts bounds the program's size, not a rate: a
// slice is one loop, channels / nodes messages per step, unless max_slices merges loops.
std::uint64_t inter_node_messages(const Topology& t, std::uint64_t message_bytes, std::uint64_t slice,
                                  std::uint64_t step_bytes) {
  const SystemSpec& s = t.spec();
  const double kMaxParts = 64;
  double per_channel = static_cast<double>(slice) / (static_cast<double>(s.channels) * t.ranks_per_node());
  double message = std::max(1.0, std::min(nvls_tree_chunk(s, message_bytes), per_channel));
  return static_cast<std::uint64_t>(std::clamp(std::ceil(static_cast<double>(step_bytes) / message), 1.0, kMaxParts));
}

}  // namespace

void lower_hierarchical(Builder& b, CollKind k, std::uint64_t bytes) {
  (void)k;
  const Topology& t = b.topo();
  int nodes = t.spec().nodes, local = t.ranks_per_node();
  Frontier f = b.empty_frontier();
  bool nvls = t.in_network_reduction();
  for (int n = 0; n < nodes; ++n) {
    std::vector<int> g = ring_order(t, n);
    if (nvls) b.nvls_reduce_scatter(g, t.node_switch(n), bytes, f);
    else node_rings(b, n, bytes, local - 1, f);
  }
  std::uint64_t shard = share(bytes, static_cast<std::uint64_t>(local));
  std::uint64_t parts =
      nvls && b.channel_messages()
          ? inter_node_messages(t, b.program().bytes, bytes, share(shard, static_cast<std::uint64_t>(nodes)))
          : 1;
  const std::vector<int> inner = ring_order(t, 0);
  // The chips holding the same shard: position i of every node's ring order.
  auto rail_at = [&](int i) {
    std::vector<int> rail;
    for (int n = 0; n < nodes; ++n) rail.push_back(n * local + (inner[static_cast<size_t>(i)] % local));
    return rail;
  };
  // The inter-node stage's algorithm: the cheapest of library.internode_algorithms for one group's shard
  // of the whole collective (every group is alike: one rank per node, the same route through its own
  // NICs), chosen once per collective, as the library does, whatever its pipeline slices.
  const double whole_shard = static_cast<double>(share(b.program().bytes, static_cast<std::uint64_t>(local)));
  const std::string inter = choose_internode(t, rail_at(0), whole_shard, b.step_latency()).algorithm;
  b.program().internode = inter;
  for (int i = 0; i < local; ++i) {
    const std::vector<int> rail = rail_at(i);
    Frontier done = f;
    for (int v : rail) done[static_cast<size_t>(v)].clear();
    for (std::uint64_t p = 0; p < parts; ++p) {
      Frontier part = f;
      internode_allreduce(b, inter, rail, share(shard, parts), part);
      for (int v : rail) {
        Deps& d = done[static_cast<size_t>(v)];
        d.insert(d.end(), part[static_cast<size_t>(v)].begin(), part[static_cast<size_t>(v)].end());
      }
    }
    for (int v : rail) f[static_cast<size_t>(v)] = done[static_cast<size_t>(v)];
  }
  for (int n = 0; n < nodes; ++n) {
    std::vector<int> g = ring_order(t, n);
    if (nvls) b.nvls_all_gather(g, t.node_switch(n), bytes, f);
    else node_rings(b, n, bytes, local - 1, f);
  }
}

}  // namespace xpu::coll
