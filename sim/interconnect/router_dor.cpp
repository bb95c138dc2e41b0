// Dimension-ordered routing on a torus (TPU ICI, NeuronLink): correct dimension 0 first, then 1, then
// 2, each the short way round when the dimension wraps (ties go the positive way). Deadlock-free on
// a mesh and the rule TPU and Trainium fabrics follow; hops across nodes fall back to shortest paths.
#include "sim/interconnect/topology.h"

namespace xpu {

void register_shortest_router();

namespace {
class DorRouter : public IRouter {
 public:
  DorRouter() : m_fallback(make_router("shortest")) {}
  std::vector<int> route(const Topology& t, int src, int dst) const override {
    if (src == dst) return {};
    const SystemSpec& s = t.spec();
    int per = s.chips;
    if (src >= t.ranks() || dst >= t.ranks() || src / per != dst / per) return m_fallback->route(t, src, dst);
    int node = src / per;
    std::vector<int> cur = t.coords(src), goal = t.coords(dst);
    std::vector<int> path;
    for (size_t d = 0; d < s.dims.size(); ++d) {
      int n = s.dims[d];
      while (cur[d] != goal[d]) {
        int fwd = (goal[d] - cur[d] + n) % n;
        int step = +1;
        if (!s.wrap[d] || n == 2) step = goal[d] > cur[d] ? +1 : -1;
        else if (fwd > n - fwd) step = -1;
        std::vector<int> nxt = cur;
        nxt[d] = (cur[d] + step + n) % n;
        int l = t.link_between(t.rank_at(node, cur), t.rank_at(node, nxt));
        if (l < 0) return m_fallback->route(t, src, dst);
        path.push_back(l);
        cur = nxt;
      }
    }
    return path;
  }

 private:
  std::unique_ptr<IRouter> m_fallback;
};
}  // namespace

void register_builtin_routers() {
  static bool done = false;
  if (done) return;
  done = true;
  register_shortest_router();
  register_router("dor", [] { return std::make_unique<DorRouter>(); });
}

}  // namespace xpu
