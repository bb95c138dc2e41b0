// Shortest-path routing (breadth first, ties to the lowest link index): the route through the switch
// on a switched fabric, the direct link in a fully connected group, and rail-aligned hops across nodes.
#include <queue>

#include "sim/interconnect/topology.h"

namespace xpu {

namespace {
class ShortestRouter : public IRouter {
 public:
  std::vector<int> route(const Topology& t, int src, int dst) const override {
    if (src == dst) return {};
    std::vector<int> via(t.vertices().size(), -1);
    std::queue<int> q;
    q.push(src);
    via[static_cast<size_t>(src)] = -2;
    while (!q.empty()) {
      int v = q.front();
      q.pop();
      if (v == dst) break;
      // Chips forward too (a cross-node transfer to another local rank hops over NVLink, as NCCL's
      // PXN does); shortest paths keep intra-node traffic off the rails.
      for (int l : t.out_links(v)) {
        int w = t.links()[static_cast<size_t>(l)].dst;
        if (via[static_cast<size_t>(w)] != -1) continue;
        via[static_cast<size_t>(w)] = l;
        q.push(w);
      }
    }
    if (via[static_cast<size_t>(dst)] == -1) return {};
    std::vector<int> path;
    for (int v = dst; v != src;) {
      int l = via[static_cast<size_t>(v)];
      path.insert(path.begin(), l);
      v = t.links()[static_cast<size_t>(l)].src;
    }
    return path;
  }
};
}  // namespace

void register_shortest_router() {
  register_router("shortest", [] { return std::make_unique<ShortestRouter>(); });
}

}  // namespace xpu
