// Direct exchanges: all-to-all (every rank sends 1/n of its buffer to every other rank), and the
// small-message all-reduces of TensorRT-LLM and vLLM: one-shot (every rank sends its whole buffer
// to every other rank and reduces locally, one step) and two-shot (a direct reduce-scatter, then a
// direct all-gather, two steps).
#include "kernels/collective/algorithms.h"

#include <cmath>

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

// DeepEP's normal kernels across nodes (github.com/deepseek-ai/DeepEP README, "normal kernels with
// NVLink and RDMA forwarding"; internode.cu): a token crosses the network once per destination node, to
// the rank with the sender's index there, which forwards it over NVLink to the ranks of that node that
// hold its experts (combine: reduced in the node, then once over the network). Stage one: the ranks
// with the same index in every node exchange the forwarded bytes (RDMA); stage two: every node's ranks
// exchange what each receives (NVLink). The two stages run side by side from the launch, as DeepEP
// forwards chunk by chunk while the network delivers (the last chunk's forward is not charged).
void lower_deepep(Builder& b, CollKind, std::uint64_t bytes) {
  const Topology& t = b.topo();
  const int nodes = t.spec().nodes, local = t.ranks_per_node();
  const auto inter = static_cast<std::uint64_t>(std::ceil(b.forwarded_per_byte() * static_cast<double>(bytes)));
  Frontier network = b.empty_frontier(), node = b.empty_frontier();
  for (int i = 0; i < local; ++i) {
    std::vector<int> peers;
    for (int n = 0; n < nodes; ++n) peers.push_back(n * local + i);
    if (inter > 0) b.exchange(peers, share(inter, static_cast<std::uint64_t>(nodes)), network);
  }
  for (int n = 0; n < nodes; ++n) {
    std::vector<int> members;
    for (int i = 0; i < local; ++i) members.push_back(n * local + i);
    b.exchange(members, share(bytes, static_cast<std::uint64_t>(local)), node);
  }
}

void lower_oneshot(Builder& b, CollKind k, std::uint64_t bytes) {
  Frontier f = b.empty_frontier();
  b.exchange(all_ranks(b.topo()), bytes, f);
}

void lower_twoshot(Builder& b, CollKind k, std::uint64_t bytes) {
  Frontier f = b.empty_frontier();
  const std::vector<int> ranks = all_ranks(b.topo());
  std::uint64_t shard = share(bytes, static_cast<std::uint64_t>(b.topo().ranks()));
  // TensorRT-LLM's two-shot (allreduce_fusion_kernel_twoshot_sync, allReduceFusionKernels.cu) first copies the
  // rank's whole input into its own IPC buffer, where its peers read their shards after the first barrier,
  // and after the second barrier reads the whole reduced message back out of that buffer into its output.
  const int warps = b.staging_warps();
  if (warps > 0)
    for (int v : ranks) f[static_cast<size_t>(v)] = {b.copy(v, bytes, warps, {}, b.launch())};
  b.exchange(ranks, shard, f);
  b.exchange(ranks, shard, f);
  if (warps > 0)
    for (int v : ranks) b.copy(v, bytes, warps, f[static_cast<size_t>(v)]);
}

}  // namespace xpu::coll
