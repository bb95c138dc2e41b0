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
        b.send(c[0], {head((pos - 1) / 2)}, half, up, have);
        have = {b.recv(c[0], head((pos - 1) / 2), down)};
      }
      for (int ch : kids) b.send(c[0], {head(ch)}, half, down, have);
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
