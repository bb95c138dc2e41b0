// A system of chips as data: which chip, the scale-up fabric (switch, torus, meshed groups), the
// scale-out network (NIC rails) and the collective library's software costs. Parsed from a preset in
// chips/systems/presets with the chip presets' loader (inherits, --set overlays, strict schema). Pure.
#pragma once
#include <string>
#include <vector>

#include "sim/base/config.h"

namespace xpu {

// Most chips (nodes x scale_up.chips) one system may have: bounds the fabric model's size and time.
constexpr int kMaxSystemChips = 1024;

// One class of links (all links of a class share type, rate and latency).
struct LinkSpec {
  std::string type = "serial";  // implementation name (sim/interconnect link registry)
  Bandwidth bandwidth;          // per direction
  double efficiency = 1.0;      // share of the line rate that carries payload (encoding, flits, headers)
  Seconds latency;              // per traversal
  Seconds message_overhead;     // once per message (NIC doorbell, proxy thread); 0 for plain links
  Seconds message_gap;          // NIC: least time a message holds the port (LogGP g: post, flush, completion)
  Bandwidth host_bandwidth;     // NIC: host path between chip and NIC (PCIe) per direction; 0 = not limiting
  double host_efficiency = 1.0; // share of the host path's line rate that carries payload (TLP headers, DLLPs)
  int rails = 1;                // NIC: ports behind one chip's link (EFA: 4 per GPU on p5)
  Bytes stripe_threshold;       // NIC: larger messages are striped over every rail, smaller ones take one rail
  Bytes eager_bytes;            // NIC: messages up to this size land in a bounce buffer (eager), 0 = none
  Seconds eager_copy;           // NIC: the receiver's copy of an eager message from its bounce buffer
  // Payload rate: the line rate x efficiency, or the host path's payload rate where that is lower.
  double payload_rate() const {
    double r = bandwidth.value() * efficiency;
    double h = host_bandwidth.value() * host_efficiency;
    return h > 0 && h < r ? h : r;
  }
  // Seconds `wire_bytes` of one message occupy the link: a message above the stripe threshold is cut
  // into one stripe per rail, sent side by side; one at or below it takes a single rail.
  double transfer_seconds(double wire_bytes) const {
    bool one_rail = rails > 1 && wire_bytes <= stripe_threshold.value();
    return wire_bytes / payload_rate() * (one_rail ? rails : 1);
  }
  // Paid after the last byte of a message arrives: the eager copy out of the bounce buffer.
  double receive_seconds(double wire_bytes) const {
    return wire_bytes <= eager_bytes.value() ? eager_copy.value() : 0.0;
  }
};

struct SwitchSpec {
  std::string type = "none";    // none | crossbar | nvls (crossbar with in-network reduction)
  Seconds latency;              // port to port
  Bandwidth reduce_bandwidth;   // in-network reduction input rate per port (nvls)
};

struct SystemSpec {
  std::string name, description, chip, file;
  int nodes = 1;
  // A preset for collective benchmarks whose ranks are not whole chips (a Trainium chip's NeuronCores, as
  // nccom-test counts them): model runs, layout searches and advice never use it.
  bool collectives_only = false;
  // Scale-up domain (one node).
  std::string topology;         // switch | torus | mesh_groups
  std::string fabric = "scale-up";  // the scale-up fabric's name in reports (NVLink, NeuronLink, ICI, ...)
  int chips = 0;                // chips per node
  std::vector<int> dims;        // torus dimensions
  std::vector<bool> wrap;       // torus wraparound per dimension
  std::vector<Bandwidth> dim_bandwidth;  // torus: per-dimension link rate (empty: link.bandwidth for all)
  int group = 0;                // mesh_groups: fully connected group size
  std::string routing = "shortest";  // dor | shortest
  LinkSpec link;                // chip-chip (torus, mesh) or chip-switch link
  LinkSpec uplink;              // mesh_groups: chip to the scale-up switch
  SwitchSpec sw;
  // Scale-out network (nodes > 1).
  std::string network = "none"; // none | rail (one NIC per chip on a rail switch shared by that local rank)
  LinkSpec nic;
  SwitchSpec net_switch;
  // Collective library.
  std::string library;
  std::string expert_dispatch = "expert all-to-all";  // what runs an expert exchange (`kernel alltoall --tokens`) on it
  std::vector<std::string> algorithms;   // candidates the library may choose from
  // Hierarchical all-reduce: the algorithms its inter-node stage (one rank per node, the ranks of equal
  // local index) may run (ring, mesh, oneshot, rdh: kernels/collective/internode.cpp); the cheapest by
  // their closed form is taken.
  std::vector<std::string> internode_algorithms;
  std::vector<std::string> protocols;    // ll, ll128, simple
  Seconds launch_latency;                // once per collective (kernel launch, setup)
  Seconds network_launch_latency;        // once more per collective that spans nodes (0: none)
  // A ring inside one torus node: one ring through every rank (single) or the torus' edge-disjoint
  // Hamiltonian cycles side by side, each both ways on its part of the buffer (disjoint). Hierarchical
  // node stages on a torus always run the disjoint cycles.
  std::string ring_cycles = "single";
  Seconds in_graph_launch_latency;       // a model step's collective inside its compiled graph (0: launch_latency)
  std::string host_cpu = "other";        // host CPU vendor (amd, intel, other): NCCL's tuner across nodes reads it
  Seconds net_latency;                   // latency the network plugin reports to NCCL's tuner (0: none reported)
  Seconds step_latency_ll, step_latency_ll128, step_latency_simple;  // per dependent step (flag sync)
  Seconds nvls_latency;                  // multimem setup and domain barrier (nvls)
  Bytes chunk_bytes;                     // pipeline granule per channel
  Bytes chunk_bytes_ll, chunk_bytes_ll128;  // the LL and LL128 protocols' granule (0: chunk_bytes)
  // Point-to-point all-to-all (NCCL's grouped send/receive): a peer's bytes cross in chunks of these
  // (across the network / in the scale-up domain), by the LL protocol up to p2p_ll_threshold per peer
  // (0: the collective rules: chunk_bytes per channel, the protocol by estimate).
  Bytes p2p_chunk_bytes_net, p2p_chunk_bytes_nvl, p2p_ll_threshold;
  Bytes nvls_chunk_bytes;                // NVLS chunk before the library's size rule (0: chunk_bytes)
  // NVLS copies between the user buffers and the library's NVLS buffer, per loop and chip (0 warps:
  // not modeled): warps per channel that copy in (scatter) and out (gather), the bytes each warp has
  // in flight, and the device-memory latency one round of loads waits for.
  int nvls_scatter_warps = 0, nvls_gather_warps = 0;
  Bytes copy_bytes_per_warp;
  Seconds copy_latency;
  Bandwidth engine_bandwidth;            // per chip: payload its collective engine sends per second (0: links only)
  // A ring all-reduce with the LL128 protocol between exactly two ranks of one node: the share of the
  // protocol's modeled rate it reaches (1: as any ring). The simulated program runs at it; the library's
  // own estimate, by which it picks the protocol, does not know it.
  double ring_ll128_pair_efficiency = 1.0;
  // A serving stack's own all-reduce kernels on this system (TensorRT-LLM's one-shot and two-shot kernels over
  // the GPUs' peer-to-peer NVLink: kernels/collective/custom_allreduce.h). 0 launch latency: none runs here.
  Seconds custom_launch_latency;         // the kernel's launch in the step's graph (no library setup)
  int custom_blocks = 0;                 // thread blocks its grid runs on (one per SM for large messages)
  Seconds custom_peer_latency;           // one peer load's (or flag's) round trip over NVLink; 0: not modelled
  Bandwidth custom_peer_bandwidth;       // per GPU: what TensorRT-LLM's own kernels move to their peers; 0: the links
  int channels = 1;                      // channels (parallel rings) a collective uses
  int max_slices = 128;                  // most pipeline slices one collective is cut into
  int slots = 1;                         // buffer slots per network connection: slices in flight per stage
  int p2p_channels = 1;                  // channels per peer of send/receive (all-to-all, pipeline hand-offs)
  bool p2p_remote_dma = false;           // a send/receive is one remote DMA into the peer's buffer (no staged slices)
  std::string resolved_yaml;

  int ranks() const { return chips * nodes; }
  // Throws (InputError) when the preset is collectives_only: one line naming it and what to use instead.
  void require_model_ranks() const;
};

void describe(Params& p, SystemSpec& s);
// The algorithms a hierarchical all-reduce's inter-node stage may be given (library.internode_algorithms): ring,
// mesh, oneshot, rdh; kernels/collective/internode.cpp times each.
const std::vector<std::string>& internode_algorithm_names();
struct SystemInfo {
  std::string name, path, description;
};
std::vector<SystemInfo> list_systems();
// Every shipped system a model can run on (collectives_only presets left out), loaded and named as users
// type them: what layout searches, --devices and advice choose from.
std::vector<SystemSpec> model_systems();
// Loads by name (hgx-h100x8) or path, applies overlays, then `nodes` (> 0 overrides the preset).
SystemSpec load_system(const std::string& name_or_path, const std::vector<std::string>& overlays = {}, int nodes = 0);
std::vector<ParamInfo> system_schema();

}  // namespace xpu
