// One lowering per algorithm (one file each), all built from the shared phases in builder.h.
#pragma once
#include "kernels/collective/builder.h"

namespace xpu::coll {

void lower_ring(Builder& b, CollKind k, std::uint64_t bytes);
void lower_nvls(Builder& b, CollKind k, std::uint64_t bytes);
void lower_oneshot(Builder& b, CollKind k, std::uint64_t bytes);
void lower_twoshot(Builder& b, CollKind k, std::uint64_t bytes);
void lower_direct(Builder& b, CollKind k, std::uint64_t bytes);
void lower_torus(Builder& b, CollKind k, std::uint64_t bytes);
void lower_tree(Builder& b, CollKind k, std::uint64_t bytes);
void lower_hierarchical(Builder& b, CollKind k, std::uint64_t bytes);
void lower_deepep(Builder& b, CollKind k, std::uint64_t bytes);

// The inter-node stage of a hierarchical all-reduce (internode.cpp): one rank per node all-reducing a
// buffer by Neuron's inter-node algorithms (internode-collective-comm.rst): ring, mesh, oneshot (its
// single-step mesh), rdh (recursive halving and doubling, a power-of-two node count).
struct InterNodeCost {
  std::string algorithm;
  int steps = 0;                 // dependent steps, each one hop across the network (0: cannot run)
  double bytes_per_rank = 0;     // payload each rank sends
  double messages_per_rank = 0;  // network messages each rank posts
  double seconds = 0;            // closed form: each step's hop plus its bytes at the rate or its messages at the gap
};
bool internode_runs(const std::string& algorithm, int nodes);
InterNodeCost internode_allreduce_cost(const std::string& algorithm, int nodes, double buffer_bytes, double hop_s,
                                       double rate_Bps, double gap_s);
// The cheapest of `candidates` by the closed form (ties: the first listed); steps 0 when none runs.
InterNodeCost choose_internode(const std::vector<std::string>& candidates, int nodes, double buffer_bytes, double hop_s,
                               double rate_Bps, double gap_s);
// The same for `group` (one rank per node) on topology `t` with library.internode_algorithms: the hop is the
// route's latencies and per-message overheads plus the library's `step`, the rate and gap the route's NIC's;
// the ring where no listed algorithm runs on this many nodes.
InterNodeCost choose_internode(const Topology& t, const std::vector<int>& group, double buffer_bytes, Tick step);
// The fixed time of one message from vertex `v` to `d` over their route: each link's latency, extra latency
// and per-message overhead (before its bytes).
double route_hop_seconds(const Topology& t, int v, int d);
// Adds `algorithm`'s phases for `group` on a buffer of `bytes` (each member's frontier in `f`).
void internode_allreduce(Builder& b, const std::string& algorithm, const std::vector<int>& group, std::uint64_t bytes,
                         Frontier& f);

// The library's chunk per channel for a protocol: one buffer slot's data (chunk_bytes_ll, _ll128, else
// chunk_bytes).
double protocol_chunk(const SystemSpec& s, const std::string& protocol);
// An all-to-all the collective library runs as grouped point-to-point sends with `algorithm` (direct),
// not an expert exchange by DeepEP's kernels: its p2p chunks and LL threshold apply.
bool nccl_p2p_all_to_all(const CollectiveRequest& r, const std::string& algorithm);
// The library's point-to-point chunk (library.p2p_chunk_bytes_net across nodes, _nvl inside one; 0:
// not given, the collectives' rule applies).
double p2p_chunk(const Topology& t);
// NCCL's tree/LL128 chunk (src/enqueue.cc, calcCollChunking): the LL128 chunk halved while a channel
// holds fewer than 64 x steps / ppn chunks (down to 128 KiB), then 16 x steps / ppn (down to 32 KiB),
// steps = 1 + log2(nodes) + 0.1 x ranks per node.
double tree_ll128_chunk(const SystemSpec& s, int ranks, std::uint64_t bytes);
// NCCL's NVLS chunk in one node (src/enqueue.cc, calcCollChunking for NVLS): NCCL_NVLS_CHUNKSIZE
// (nvls_chunk_bytes), cut to 64, 32 and 16 KiB while the message holds fewer than 64, 8 and 2 chunks
// per concurrent operation (channels x heads, one head per chip), so that a smaller message still
// gives every channel and head several loops to pipeline.
double nvls_chunk(const SystemSpec& s, int heads, std::uint64_t bytes);
// NCCL's NVLS-tree chunk for a message of `bytes` (src/enqueue.cc): each chunk is one network message.
double nvls_tree_chunk(const SystemSpec& s, std::uint64_t bytes);
// The channels NCCL's tree runs a message of `bytes` on with `proto` (src/enqueue.cc getAlgoInfo: fewer
// channels for small messages, 4 KiB per channel with LL); library.channels for other libraries.
int nccl_tree_channels(const SystemSpec& s, const std::string& proto, std::uint64_t bytes);
// Microseconds NCCL's proxy thread spends on one network operation (src/graph/tuning.cc getNetOverhead:
// 2 us on AMD hosts, 1 us on others; x3 for the simple protocol: post, flush, completion), which its
// tuner charges every inter-node ring step; 0 for other libraries.
double nccl_net_post_us(const SystemSpec& s, const std::string& proto);
// NCCL 2.20.3's own estimate in microseconds (src/graph/tuning.cc) of a tree or ring all-reduce with
// `proto` across nodes; -1 where it does not apply (another library or collective, one node).
double nccl_tuner_us(const SystemSpec& s, CollKind kind, const std::string& algo, const std::string& proto,
                     std::uint64_t bytes);

}  // namespace xpu::coll
