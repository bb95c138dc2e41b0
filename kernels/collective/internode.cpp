// The inter-node stage of a hierarchical all-reduce: one rank per node (the ranks of equal local index)
// all-reducing their shard, by Neuron's inter-node algorithms (aws-neuron-sdk
// neuron-runtime/explore/internode-collective-comm.rst @ 3afa0fdf, "Communication Groups - Only One Rank
// per Node", [INTER]): Ring, Mesh, single-step Mesh and Recursive Doubling-Halving, as a closed form of
// their steps, bytes and messages, and as program phases. NCCL's hierarchical (NVLS-tree) keeps the ring.
#include <algorithm>
#include <cmath>

#include "kernels/collective/algorithms.h"

namespace xpu::coll {

namespace {
bool power_of_two(int n) { return n > 0 && (n & (n - 1)) == 0; }
int log2_of(int n) {
  int p = 0;
  while ((1 << (p + 1)) <= n) ++p;
  return p;
}
}  // namespace

bool internode_runs(const std::string& algorithm, int nodes) {
  if (nodes < 2) return false;
  if (algorithm == "rdh") return power_of_two(nodes);  // [INTER]: "a communication group with N = 2^p members"
  const auto& known = internode_algorithm_names();
  return std::find(known.begin(), known.end(), algorithm) != known.end();
}

// [INTER]'s table for N ranks and chunk C = B / N of a buffer B: Ring 2(N-1) steps of C; Mesh a
// reduce-scatter and an all-gather each to every peer at once (2 steps, (N-1) C each); single-step Mesh
// the whole buffer to every peer ((N-1) N C, 1 step); RDH log2 N halving steps (B/2, B/4, ... B/N) and as
// many doubling steps back. Each step pays one hop and then its bytes at the NIC's rate, or its messages
// at the NIC's per-message gap, whichever is longer (LogGP).
InterNodeCost internode_allreduce_cost(const std::string& algorithm, int nodes, double buffer_bytes, double hop_s,
                                       double rate_Bps, double gap_s) {
  InterNodeCost c;
  c.algorithm = algorithm;
  if (!internode_runs(algorithm, nodes) || rate_Bps <= 0) return c;
  const double n = nodes, chunk = buffer_bytes / n;
  auto step = [&](double bytes, double messages) {
    c.steps += 1;
    c.bytes_per_rank += bytes;
    c.messages_per_rank += messages;
    c.seconds += hop_s + std::max(bytes / rate_Bps, messages * gap_s);
  };
  if (algorithm == "ring") {
    for (int s = 0; s < 2 * (nodes - 1); ++s) step(chunk, 1);
  } else if (algorithm == "mesh") {
    step((n - 1) * chunk, n - 1);  // reduce-scatter: the peers' chunks
    step((n - 1) * chunk, n - 1);  // all-gather: the own reduced chunk to every peer
  } else if (algorithm == "oneshot") {
    step((n - 1) * buffer_bytes, n - 1);  // the whole buffer to every peer; each reduces all of them
  } else {  // rdh
    const int p = log2_of(nodes);
    for (int k = 1; k <= p; ++k) step(buffer_bytes / std::ldexp(1.0, k), 1);  // recursive halving
    for (int k = p; k >= 1; --k) step(buffer_bytes / std::ldexp(1.0, k), 1);  // recursive doubling
  }
  return c;
}

InterNodeCost choose_internode(const std::vector<std::string>& candidates, int nodes, double buffer_bytes,
                               double hop_s, double rate_Bps, double gap_s) {
  InterNodeCost best;
  for (const auto& a : candidates) {
    InterNodeCost c = internode_allreduce_cost(a, nodes, buffer_bytes, hop_s, rate_Bps, gap_s);
    if (c.steps > 0 && (best.steps == 0 || c.seconds < best.seconds)) best = c;  // ties: the first listed
  }
  return best;
}

InterNodeCost choose_internode(const Topology& t, const std::vector<int>& group, double buffer_bytes, Tick step) {
  const SystemSpec& s = t.spec();
  const double hop = to_seconds(step) + route_hop_seconds(t, group[0], group[1]);
  double rate = 0, gap = 0;
  for (int l : t.route(group[0], group[1])) {
    const Link& k = t.links()[static_cast<size_t>(l)];
    const double r = k.spec->payload_rate();
    rate = rate > 0 ? std::min(rate, r) : r;
    gap = std::max(gap, k.spec->message_gap.value());
  }
  InterNodeCost c = choose_internode(s.internode_algorithms, static_cast<int>(group.size()), buffer_bytes, hop, rate, gap);
  if (c.steps == 0) c.algorithm = "ring";  // no listed algorithm runs on this many nodes (rdh on 3): the ring runs on any
  return c;
}

void internode_allreduce(Builder& b, const std::string& algorithm, const std::vector<int>& group, std::uint64_t bytes,
                         Frontier& f) {
  const int n = static_cast<int>(group.size());
  if (n < 2) return;
  if (algorithm == "mesh") {
    b.exchange(group, share(bytes, static_cast<std::uint64_t>(n)), f);
    b.exchange(group, share(bytes, static_cast<std::uint64_t>(n)), f);
  } else if (algorithm == "oneshot") {
    b.exchange(group, bytes, f);
  } else if (algorithm == "rdh" && power_of_two(n)) {
    // Halving: in round k each rank swaps half of what it still holds with the rank whose index differs in
    // bit p-k ([INTER]: peers "obtained by flipping each of the p bits of the current rank's index"); the
    // doubling runs the rounds back with the same sizes.
    const int p = log2_of(n);
    auto round = [&](int k) {
      const int bit = 1 << (p - k);
      for (int i = 0; i < n; ++i)
        if ((i & bit) == 0) {
          std::vector<int> pair = {group[static_cast<size_t>(i)], group[static_cast<size_t>(i | bit)]};
          b.exchange(pair, share(bytes, std::uint64_t{1} << k), f);
        }
    };
    for (int k = 1; k <= p; ++k) round(k);
    for (int k = p; k >= 1; --k) round(k);
  } else {
    b.ring(group, bytes, 2 * (n - 1), +1, f);
  }
}

}  // namespace xpu::coll
