// Direct exchanges: all-to-all (every rank sends 1/n of its buffer to every other rank), and the
// small-message all-reduces of TensorRT-LLM and vLLM: one-shot (every rank sends its whole buffer
// to every other rank and reduces locally, one step) and two-shot (a direct reduce-scatter, then a
// direct all-gather, two steps).
#include "kernels/collective/algorithms.h"

namespace xpu::coll {

namespace {
std::vector<int> all_ranks(const Topology& t) {
  std::vector<int> g;
  for (int r = 0; r < t.ranks(); ++r) g.push_back(r);
  return g;
}
}  // namespace

void lower_direct(Builder& b, CollKind k, std::uint64_t bytes) {
  Frontier f = b.empty_frontier();
  b.exchange(all_ranks(b.topo()), share(bytes, static_cast<std::uint64_t>(b.topo().ranks())), f);
}

void lower_oneshot(Builder& b, CollKind k, std::uint64_t bytes) {
  Frontier f = b.empty_frontier();
  b.exchange(all_ranks(b.topo()), bytes, f);
}

void lower_twoshot(Builder& b, CollKind k, std::uint64_t bytes) {
  Frontier f = b.empty_frontier();
  std::uint64_t shard = share(bytes, static_cast<std::uint64_t>(b.topo().ranks()));
  b.exchange(all_ranks(b.topo()), shard, f);
  b.exchange(all_ranks(b.topo()), shard, f);
}

}  // namespace xpu::coll
