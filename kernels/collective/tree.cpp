// NCCL's tree all-reduce: inside each node a chain of the local chips; across nodes a double binary
// tree (two trees, each carrying half of the buffer; the second is the first mirrored, so a node
// that is a leaf in one is an inner node in the other). Reduce up the chains and the tree, then
// broadcast down. Every edge carries the whole half-buffer once each way: log2(nodes) network hops
// instead of the ring's 2(N-1), which is why libraries take it for small messages across nodes.
#include <algorithm>

#include "kernels/collective/algorithms.h"

namespace xpu::coll {

void lower_tree(Builder& b, CollKind k, std::uint64_t bytes) {
  const Topology& t = b.topo();
  int nodes = t.spec().nodes, local = t.ranks_per_node();
  std::uint64_t half = share(bytes, 2);
  // NCCL runs a tree on fewer channels for small messages (nccl_tree_channels: 4 KiB each with LL), the
  // first half on the first tree and the rest on the mirrored one (src/graph/connect.cc connectTrees),
  // each channel's network hop a message of its own. A tree edge across nodes here carries its channels'
  // messages side by side: one send whose per-message NIC rules (the eager copy) see each channel's share.
  // Each tree enters a node at one GPU (below), which heads all of that tree's channels. NCCL's graphs of
  // two H100 nodes put several channels on one head: NVIDIA/nccl#1453 (8 NICs: rank 0 <-> rank 8 on the
  // odd channels, all through NET/7), awslabs/awsome-distributed-ai#386 (two p5 nodes: every channel's
  // tree printed through GPU 0), NVIDIA/nccl#1357 (4 NICs: GPU 4 heads channels 2, 6, 10, 14); its search replays
  // one channel's GPU order for the next NIC (search.cc ncclTopoSearchRecNet, FORCED_ORDER_REPLAY). A
  // head's one proxy thread progresses every channel's network operations in turn (net.cc: the receive
  // side of a connection is always its own rank's proxy, "We don't support PXN on receive yet"), so the
  // channels' messages of one edge complete one network operation apart: (messages - 1) x NCCL's own
  // cost of one (nccl_net_post_us: getNetOverhead, 2 us on AMD hosts). The library's estimate sees
  // them too (choose_collective lowers its one-slice view with the channels' messages).
  const int channels = nccl_tree_channels(t.spec(), b.program().protocol, b.program().bytes);
  const auto per_tree = static_cast<std::uint16_t>(std::max(1, (channels + 1) / 2));
  const Tick serial = b.channel_messages() ? to_ticks((per_tree - 1) * nccl_net_post_us(t.spec(), b.program().protocol) * 1e-6) : 0;
  auto net_send = [&](int v, int to, std::uint32_t tag, const Deps& d) {
    const std::uint32_t i = b.send(v, {to}, half, tag, d);
    CommOp& op = b.program().ops[static_cast<size_t>(v)][i];
    op.messages = per_tree;
    op.delay += serial;
  };
  for (int tree = 0; tree < 2; ++tree) {
    // The chain of node n; the second tree enters each node at the other half of its chips so that
    // the two trees use different NICs.
    auto chain = [&](int n) {
      std::vector<int> c = ring_order(t, n);
      std::rotate(c.begin(), c.begin() + tree * (local / 2), c.end());
      return c;
    };
    auto node_at = [&](int pos) { return tree == 0 ? pos : nodes - 1 - pos; };  // heap position -> node
    auto head = [&](int pos) { return chain(node_at(pos))[0]; };
    std::uint32_t up = b.new_tags(1), down = b.new_tags(1);
    for (int pos = 0; pos < nodes; ++pos) {
      std::vector<int> c = chain(node_at(pos));
      std::vector<int> kids;
      for (int ch : {2 * pos + 1, 2 * pos + 2})
        if (ch < nodes) kids.push_back(ch);
      Deps have;  // at the head: the node's reduced partial, then the final result
      for (int j = local - 1; j >= 0; --j) {  // reduce up the chain
        int v = c[static_cast<size_t>(j)];
        Deps d;
        if (j + 1 < local) d.push_back(b.recv(v, c[static_cast<size_t>(j + 1)], up));
        if (j == 0)
          for (int ch : kids) d.push_back(b.recv(v, head(ch), up));
        if (j > 0) b.send(v, {c[static_cast<size_t>(j - 1)]}, half, up, d);
        else have = d;
      }
      if (pos > 0) {  // up the tree, then wait for the result to come back down
        net_send(c[0], head((pos - 1) / 2), up, have);
        have = {b.recv(c[0], head((pos - 1) / 2), down)};
      }
      for (int ch : kids) net_send(c[0], head(ch), down, have);
      for (int j = 0; j + 1 < local; ++j) {  // broadcast down the chain
        int v = c[static_cast<size_t>(j)];
        Deps d = j == 0 ? have : Deps{b.recv(v, c[static_cast<size_t>(j - 1)], down)};
        b.send(v, {c[static_cast<size_t>(j + 1)]}, half, down, d);
      }
      if (local > 1) b.recv(c[static_cast<size_t>(local - 1)], c[static_cast<size_t>(local - 2)], down);
    }
  }
}

}  // namespace xpu::coll
