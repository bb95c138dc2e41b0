// Shared builder of collective programs: operations with dependencies and tags, and the phases that
// algorithms are made of (a ring pass, a direct exchange, NVLS reduce and multicast). Pure.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/collective/collective.h"

namespace xpu::coll {

using Deps = std::vector<std::uint32_t>;
// One part of `total` split `parts` ways; uneven splits round up (the largest part sets the time,
// as when NCCL gives the last ranks fewer elements).
inline std::uint64_t share(std::uint64_t total, std::uint64_t parts) { return (total + parts - 1) / parts; }
using Frontier = std::vector<Deps>;  // per vertex: the ops the next phase waits for

class Builder {
 public:
  Builder(const Topology& t, const CollectiveRequest& r, const std::string& algo, int slices);
  const Topology& topo() const { return m_t; }
  // DeepEP's inter-node bytes per byte of the request (CollectiveRequest::forwarded_bytes / bytes):
  // a slice carries that share of its own bytes across nodes.
  double forwarded_per_byte() const { return m_forwarded_per_byte; }
  CommProgram& program() { return m_p; }
  Frontier empty_frontier() const { return Frontier(m_p.ops.size()); }
  std::uint32_t new_tags(std::uint32_t n) {
    std::uint32_t b = m_tag;
    m_tag += n;
    return b;
  }
  // Ops with no dependency wait for the collective's launch (plus `first_delay`, e.g. NVLS setup).
  // A chip's send pays one protocol step unless `step` is false (a send whose flag wait is charged
  // elsewhere, as NVLS loads after the NVLS buffer copy).
  std::uint32_t send(int v, std::vector<int> to, std::uint64_t bytes, std::uint32_t tag, const Deps& deps,
                     Tick first_delay = 0, bool step = true);
  std::uint32_t recv(int v, int from, std::uint32_t tag, const Deps& deps = {});
  std::uint32_t reduce(int sw, int port, std::uint64_t bytes, const Deps& deps);
  // A copy through chip v's own memory by `warps` warps per channel (the library's NVLS buffer in or
  // out): each channel's share at warps x copy_bytes_per_warp / copy_latency, as the warps' loads
  // allow; the copy ends with its busiest channel (see set_nvls_copies).
  std::uint32_t copy(int v, std::uint64_t bytes, int warps, const Deps& deps, Tick delay = 0);
  Tick step_latency() const { return m_step; }
  // Slices after the first start when the pipeline reaches them, not at launch.
  void set_slice(int k) { m_slice = k; }
  // Whether a stage sends one message per channel (the simulated program) or the stage's bytes as one
  // message (the library's unsliced latency-bandwidth view, which charges no per-message cost).
  void set_channel_messages(bool on) { m_channel_messages = on; }
  bool channel_messages() const { return m_channel_messages; }
  // Whether NVLS phases add the library's copies into and out of its NVLS buffer (NCCL's NVLS
  // all-reduce in one node: scatter and gather warps; library.nvls_scatter_warps, nvls_gather_warps).
  // `channel_bytes` is what one channel takes of each loop (heads x chunk): NCCL gives channel b the
  // b-th heads x chunk of a loop, so in a loop of fewer bytes than channels x channel_bytes the first
  // channels take channel_bytes each and the rest idle (0: every channel takes an equal share).
  void set_nvls_copies(bool on, double channel_bytes = 0) {
    m_copies = on;
    m_channel_bytes = channel_bytes;
  }
  // Warps per channel (block) by which the two-shot stages the message through the chip's own buffer, copied
  // in before its first exchange and read back after its last: a serving stack's kernel runs the call
  // (CollectiveRequest::stack, custom_allreduce_copy_warps); 0: no staging, the library's.
  int staging_warps() const { return m_staging_warps; }
  Tick launch() const { return m_launch; }
  // The bytes of a loop of `bytes` that its busiest channel copies (see set_nvls_copies).
  double busiest_channel_bytes(double bytes) const;

  // A ring pass over `group` (in ring order, `dir` +1 or -1) on a buffer of `total` bytes: chunks of
  // total/m move one neighbor per step for `steps` steps (m-1: reduce-scatter or all-gather).
  void ring(const std::vector<int>& group, std::uint64_t total, int steps, int dir, Frontier& f);
  // Every member sends `per_peer` bytes to every other member at once (one-shot, two-shot, all-to-all).
  void exchange(const std::vector<int>& group, std::uint64_t per_peer, Frontier& f);
  // NVLS reduce-scatter through `sw`: member j ends with the reduced j-th of `total` bytes.
  void nvls_reduce_scatter(const std::vector<int>& group, int sw, std::uint64_t total, Frontier& f);
  // NVLS all-gather: member j's share of `total` is multicast by the switch to every member.
  void nvls_all_gather(const std::vector<int>& group, int sw, std::uint64_t total, Frontier& f);

 private:
  std::uint32_t add(int v, CommOp::Kind kind, std::vector<int> peers, std::uint64_t bytes, std::uint32_t tag,
                    const Deps& deps, Tick delay);
  const Topology& m_t;
  CommProgram m_p;
  std::uint32_t m_tag = 1;
  Tick m_step = 0, m_launch = 0;
  int m_slice = 0;
  bool m_channel_messages = false;
  bool m_copies = false;
  int m_staging_warps = 0;
  double m_channel_bytes = 0;
  double m_forwarded_per_byte = 0;
};

// The ranks of a node (or of all nodes) in an order whose neighbours are linked: rank order on a
// switch, a reflected (boustrophedon) walk on a torus.
std::vector<int> ring_order(const Topology& t, int node);
// Edge-disjoint rings through every rank of a node, as a DMA-driven library runs them side by side on
// mutually exclusive wires (Neuron: "multiple cycles with mutually exclusive wires in parallel"; "2
// non-overlapping Hamiltonian cycles on 2D Torus" of 16 chips, intranode-collective-comm.rst). On a
// square n x n torus with wraparound (n even), optionally behind a leading dimension of 2 (the two
// NeuronCores of a chip), two cycles cover every torus link once: A walks each row n-1 steps along x
// from a start one column left of the previous row's, then one step along y; B is A transposed. A
// chip's two cores are visited one after the other, entered on alternate cores. Otherwise the single
// ring_order.
std::vector<std::vector<int>> disjoint_rings(const Topology& t, int node);
// A node's ring pass of `steps` steps (local - 1: reduce-scatter or all-gather; twice that: all-reduce)
// as a DMA-driven library runs it: one ring through the node (rank order on a switch), or on a torus
// its edge-disjoint rings (disjoint_rings), each run in both directions on an equal part of the buffer,
// so that every torus link carries traffic both ways (Neuron: "we run multiple cycles with mutually
// exclusive wires in parallel for full wire bandwidth", intranode-collective-comm.rst); a member's
// next phase waits for all of its rings.
void node_rings(Builder& b, int node, std::uint64_t bytes, int steps, Frontier& f);
// Rings of a torus along dimension d: every line of chips that differ only in coordinate d.
std::vector<std::vector<int>> torus_lines(const Topology& t, int node, size_t d);

}  // namespace xpu::coll
