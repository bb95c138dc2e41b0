#include "sim/interconnect/system_spec.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "sim/base/text.h"

namespace fs = std::filesystem;

namespace xpu {

namespace {

void describe_link(Params& p, LinkSpec& l, const std::string& pre, const char* what, bool required) {
  const char* no = required ? nullptr : "0 B/s";
  p(pre + "type", l.type, std::string("Implementation of the ") + what + " (serial, rdma)", "serial");
  p(pre + "bandwidth", l.bandwidth, std::string("Line rate of one ") + what + ", per direction", no);
  p(pre + "efficiency", l.efficiency, "Share of the line rate that carries payload (encoding, headers, flow control)",
    "1.0");
  p(pre + "latency", l.latency, std::string("Latency of one traversal of the ") + what, "0 s");
  p(pre + "message_overhead", l.message_overhead, "Cost paid once per message (NIC doorbell, proxy), 0 for links",
    "0 s");
  p(pre + "message_gap", l.message_gap, "Least time one message holds the port (rdma: proxy post, flush and "
                                        "completion per message; limits the message rate)", "0 s");
  p(pre + "host_bandwidth", l.host_bandwidth, "Host path between chip and NIC (PCIe) per direction (rdma); 0 B/s: "
                                              "not limiting", "0 B/s");
  p(pre + "host_efficiency", l.host_efficiency, "Share of the host path's line rate that carries payload", "1.0");
  p(pre + "rails", l.rails, "NIC ports behind one chip's link, sharing its bandwidth (rdma: multi-rail)", "1");
  p(pre + "stripe_threshold", l.stripe_threshold, "Messages larger than this are striped over every rail; smaller "
                                                  "ones go to one rail, round robin (rdma)", "0 B");
  p(pre + "eager_bytes", l.eager_bytes, "Messages up to this size are sent eagerly into a bounce buffer and copied "
                                        "out by the receiver (rdma); 0 B: none", "0 B");
  p(pre + "eager_copy", l.eager_copy, "Receiver's copy of one eager message out of its bounce buffer (rdma)", "0 s");
  p.require(l.type == "serial" || l.type == "rdma", pre + "type", "serial or rdma");
  p.require(!required || l.bandwidth.value() > 0, pre + "bandwidth", "a positive bandwidth");
  p.require(l.efficiency > 0 && l.efficiency <= 1, pre + "efficiency", "a share in (0, 1]");
  p.require(l.host_efficiency > 0 && l.host_efficiency <= 1, pre + "host_efficiency", "a share in (0, 1]");
  p.require(l.rails >= 1 && l.rails <= 64, pre + "rails", "a count from 1 to 64");
  p.require(l.type == "rdma" || l.rails == 1, pre + "rails", "1 unless type is rdma (a multi-rail NIC)");
  p.require(l.type == "rdma" || l.eager_bytes.value() == 0, pre + "eager_bytes", "0 B unless type is rdma");
}

void describe_switch(Params& p, SwitchSpec& s, const std::string& pre) {
  p(pre + "type", s.type, "Switch implementation: none, crossbar, nvls (in-network reduction)", "none");
  p(pre + "latency", s.latency, "Port-to-port latency", "0 s");
  p(pre + "reduce_bandwidth", s.reduce_bandwidth, "In-network reduction input rate per port (nvls)", "0 B/s");
  p.require(s.type == "none" || s.type == "crossbar" || s.type == "nvls", pre + "type", "none, crossbar or nvls");
  p.require(s.type != "nvls" || s.reduce_bandwidth.value() > 0, pre + "reduce_bandwidth",
            "a positive rate for an nvls switch");
}
}  // namespace

void SystemSpec::require_model_ranks() const {
  if (collectives_only)
    throw InputError("system " + name + " counts parts of a chip as ranks, for collective benchmarks only (xpusim kernel "
                     "allreduce --system " + name + ", validate --collectives); run models on a system whose ranks are " +
                     chip + " chips (xpusim list systems)", "--system", name);
}

namespace {
// The collective library's per-step costs, granules and parallelism (the part of describe() that needs
// no parsing).
void describe_library_costs(Params& p, SystemSpec& s) {
  p("library.step_latency.ll", s.step_latency_ll, "Per dependent step with the LL protocol (flag polling)", "0 s");
  p("library.step_latency.ll128", s.step_latency_ll128, "Per dependent step with LL128", "0 s");
  p("library.step_latency.simple", s.step_latency_simple, "Per dependent step with the simple protocol (fence, flag)");
  p("library.nvls_latency", s.nvls_latency, "Multimem setup and domain barrier of an NVLS collective", "0 s");
  p("library.chunk_bytes", s.chunk_bytes, "Pipeline granule per channel (buffer slot)");
  p("library.chunk_bytes_ll", s.chunk_bytes_ll, "Pipeline granule per channel with the LL protocol (data bytes of "
    "one buffer slot); 0: chunk_bytes", "0 B");
  p("library.chunk_bytes_ll128", s.chunk_bytes_ll128, "Pipeline granule per channel with the LL128 protocol (data "
    "bytes of one buffer slot); 0: chunk_bytes", "0 B");
  p("library.p2p_chunk_bytes_net", s.p2p_chunk_bytes_net, "All-to-all as point-to-point sends: the chunk a peer's "
    "bytes cross the scale-out network in, one network message each (NCCL_P2P_NET_CHUNKSIZE); 0: chunk_bytes per "
    "channel as for collectives", "0 B");
  p("library.p2p_chunk_bytes_nvl", s.p2p_chunk_bytes_nvl, "All-to-all as point-to-point sends inside the scale-up "
    "domain: the chunk of a peer's bytes (NCCL_P2P_NVL_CHUNKSIZE); 0: chunk_bytes per channel", "0 B");
  p("library.p2p_ll_threshold", s.p2p_ll_threshold, "All-to-all as point-to-point sends: the largest per-peer size "
    "sent with the LL protocol, larger ones simple (NCCL_P2P_LL_THRESHOLD); 0: the protocol by estimate", "0 B");
  p("library.nvls_chunk_bytes", s.nvls_chunk_bytes, "Largest NVLS chunk per channel and head (NCCL_NVLS_CHUNKSIZE), "
    "cut for smaller messages by the library's rule; 0: chunk_bytes", "0 B");
  p("library.nvls_scatter_warps", s.nvls_scatter_warps, "Warps per channel that copy each NVLS loop from the user's "
    "send buffer into the library's NVLS buffer (0: the copy is not modeled)", "0");
  p("library.nvls_gather_warps", s.nvls_gather_warps, "Warps per channel that copy each NVLS loop's result out of the "
    "NVLS buffer into the user's receive buffer (0: not modeled)", "0");
  p("library.copy_bytes_per_warp", s.copy_bytes_per_warp, "Bytes one copying warp has in flight (lanes x unroll x "
    "bytes per load)", "0 B");
  p("library.copy_latency", s.copy_latency, "Device-memory latency a copying warp's round of loads waits for", "0 s");
  p("library.engine_bandwidth", s.engine_bandwidth, "Payload a chip's collective engine sends per second over all its "
    "channels and peers, whatever the links allow (DMA-driven libraries); 0: bounded by the links only", "0 B/s");
  p("library.ring_ll128_pair_efficiency", s.ring_ll128_pair_efficiency, "Share of the LL128 protocol's modeled rate "
    "that a ring all-reduce between exactly two ranks of one node reaches (the simulated program; the library's "
    "estimate, by which it picks the protocol, keeps the full rate); 1: as any ring", "1");
  p("library.custom_launch_latency", s.custom_launch_latency, "A serving stack's own all-reduce kernel (TensorRT-LLM's "
    "one-shot and two-shot over peer-to-peer NVLink, taken for the TP all-reduces its rule gives it): its launch in "
    "the step's graph; 0: no such kernel runs on this system, the collective library takes every call", "0 s");
  p("library.custom_blocks", s.custom_blocks, "Thread blocks that kernel's grid runs on (its copies through device "
    "memory go at each block's loads in flight per memory latency)", "0");
  p("library.custom_peer_latency", s.custom_peer_latency, "vLLM's and SGLang's own all-reduce kernels: the round "
    "trip of one thread's load from a peer's memory (and of a barrier's flag) over NVLink, which bounds each "
    "iteration of their grid-stride loops and each barrier; 0: their steps are charged as NCCL's", "0 s");
  p("library.custom_peer_bandwidth", s.custom_peer_bandwidth, "TensorRT-LLM's own all-reduce kernels (one-shot, "
    "two-shot): the payload one GPU's kernel moves to its peers per second, below the links' rate (their per-thread "
    "16-byte peer stores and Lamport polls do not fill NVLink as NCCL's channels do); 0: the links' payload rate", "0 B/s");
  p("library.channels", s.channels, "Channels (parallel pipelines) of one collective", "1");
  p("library.max_slices", s.max_slices, "Most pipeline slices one collective is cut into (bounds simulation cost)", "128");
  p("library.slots", s.slots, "Buffer slots per network connection: how many pipeline slices a stage that crosses "
                              "the network may have in flight before the first is delivered (NCCL_STEPS)", "1");
  p("library.p2p_channels", s.p2p_channels, "Channels per peer of point-to-point send/receive (all-to-all, pipeline "
                                            "hand-offs); each holds a buffer of chunk_bytes x slots per direction", "1");
  p("library.p2p_remote_dma", s.p2p_remote_dma, "A send/receive (collective permute, pipeline hand-off) is one remote "
    "DMA from the sender's buffer straight into the receiver's, completed by a semaphore: no staging buffer, so the "
    "message is not cut into slices that each wait for the one before; false: sliced through the channels' buffers",
    "false");
}
// A hierarchical all-reduce's inter-node stage (kernels/collective/internode.cpp): the algorithms it may run.
void describe_internode(Params& p, SystemSpec& s) {
  std::string list;
  p("library.internode_algorithms", list, "Hierarchical all-reduce: algorithms its inter-node stage (one rank per "
    "node) may run: ring (2(n-1) steps), mesh (reduce-scatter and all-gather to every peer at once: 2 steps), "
    "oneshot (each rank's whole shard to every peer: 1 step), rdh (recursive halving then doubling: 2 log2 n steps, "
    "n a power of two); the cheapest by closed form is taken", "ring");
  if (p.mode() == Params::Mode::Describe) return;
  s.internode_algorithms = split_list(list);
  p.require(!s.internode_algorithms.empty(), "library.internode_algorithms", "at least one algorithm");
  const auto& known = internode_algorithm_names();
  for (const auto& a : s.internode_algorithms)
    p.require(std::find(known.begin(), known.end(), a) != known.end(), "library.internode_algorithms",
              "a list of " + join(known, ", "));
}
}  // namespace

const std::vector<std::string>& internode_algorithm_names() {
  static const std::vector<std::string> names = {"ring", "mesh", "oneshot", "rdh"};
  return names;
}

void describe(Params& p, SystemSpec& s) {
  p("name", s.name, "System preset name as used on the command line", "");
  p("description", s.description, "One line describing the system", "");
  p("chip", s.chip, "Chip preset of every device (xpusim list chips)");
  p("nodes", s.nodes, "Nodes (copies of the scale-up domain) joined by the scale-out network", "1");
  p("collectives_only", s.collectives_only,
    "A preset for collective benchmarks whose ranks are not whole chips (e.g. NeuronCores): model runs refuse it", "false");
  p("scale_up.topology", s.topology, "Scale-up fabric: switch, torus or mesh_groups");
  p("scale_up.name", s.fabric, "Name of the scale-up fabric in reports (NVLink, NeuronLink, ICI, ...)", "scale-up");
  p("scale_up.chips", s.chips, "Chips in one scale-up domain (node)");
  std::string dims, wrap, dim_bw;
  p("scale_up.dims", dims, "Torus dimensions, e.g. 4,4,4 (torus)", "");
  p("scale_up.wraparound", wrap, "Wraparound link per torus dimension, e.g. true,false (torus)", "");
  p("scale_up.dim_bandwidth", dim_bw, "Torus: link rate per dimension, e.g. 128 GB/s, 128 GB/s, 64 GB/s (default: "
                                      "scale_up.link.bandwidth for every dimension)", "");
  p("scale_up.group", s.group, "Size of the fully connected groups (mesh_groups)", "0");
  p("scale_up.routing", s.routing, "Router: dor (dimension-ordered, tori) or shortest (switched, meshes)", "shortest");
  describe_link(p, s.link, "scale_up.link.", "scale-up link", true);
  describe_link(p, s.uplink, "scale_up.uplink.", "chip-to-switch uplink (mesh_groups)", false);
  describe_switch(p, s.sw, "scale_up.switch.");
  p("scale_out.network", s.network, "Scale-out network: none or rail (one NIC per chip, a switch per local rank)",
    "none");
  describe_link(p, s.nic, "scale_out.nic.", "NIC port", false);
  describe_switch(p, s.net_switch, "scale_out.switch.");
  std::string algos, protos;
  p("library.name", s.library, "Collective library whose choices are modeled (nccl, xla, neuron, maia)");
  p("library.expert_dispatch", s.expert_dispatch, "What runs an expert dispatch or combine on this system "
    "(`kernel alltoall --tokens`), named in its report (DeepEP on NVLink GPUs)", "expert all-to-all");
  p("library.algorithms", algos, "Algorithms the library may choose from (ring, tree, nvls, oneshot, twoshot, torus, "
                                 "hierarchical, direct)");
  p("library.protocols", protos, "Wire protocols: ll (8 B data + 8 B flag), ll128 (120 of 128 B), simple", "simple");
  p("library.launch_latency", s.launch_latency, "Once per collective: kernel launch and setup");
  p("library.network_launch_latency", s.network_launch_latency, "Once more per collective whose ranks span nodes "
    "(set-up across the scale-out network before the first step)", "0 s");
  p("library.in_graph_launch_latency", s.in_graph_launch_latency, "Once per collective of a model step whose "
    "collectives run inside one compiled graph, triggered by the compute engines (run, serve, validate --models) "
    "instead of library.launch_latency, which stays the fixed cost of a collective timed alone (kernel allreduce, "
    "validate --collectives); 0: the same launch_latency", "0 s");
  p("library.host_cpu", s.host_cpu, "Host CPU vendor of a node (amd, intel, other): NCCL's tuner caps the LL "
    "protocol's bandwidth across nodes and charges each network post by it", "other");
  p("library.net_latency", s.net_latency, "Latency the network plugin reports to NCCL's tuner (added to every "
    "inter-node step of its estimate; 0: none reported)", "0 s");
  p("library.ring_cycles", s.ring_cycles, "How a ring inside one torus node runs: single (one ring through every "
    "rank) or disjoint (the torus' edge-disjoint cycles side by side, each both ways, as Neuron runs them)", "single");
  describe_library_costs(p, s);
  describe_internode(p, s);
  if (p.mode() == Params::Mode::Describe) return;
  for (const auto& d : split_list(dims)) {
    const bool digits = d.size() <= 8 && d.find_first_not_of("0123456789") == std::string::npos;
    p.require(digits && std::stoi(d) > 0, "scale_up.dims", "a list of positive integers such as 4, 4, 4");
    s.dims.push_back(std::stoi(d));
  }
  for (const auto& w : split_list(wrap)) {
    p.require(w == "true" || w == "false", "scale_up.wraparound", "a list of true or false, one per dimension");
    s.wrap.push_back(w == "true");
  }
  for (const auto& b : split_list(dim_bw)) {
    try {
      s.dim_bandwidth.push_back(Bandwidth::parse(b));
    } catch (const std::exception&) {
      p.require(false, "scale_up.dim_bandwidth", "a list of bandwidths such as 128 GB/s, 64 GB/s");
    }
  }
  s.algorithms = split_list(algos);
  s.protocols = split_list(protos);
  p.require(s.ring_cycles == "single" || s.ring_cycles == "disjoint", "library.ring_cycles", "single or disjoint");
  p.require(s.host_cpu == "amd" || s.host_cpu == "intel" || s.host_cpu == "other", "library.host_cpu",
            "amd, intel or other");
  p.require(s.topology == "switch" || s.topology == "torus" || s.topology == "mesh_groups", "scale_up.topology",
            "switch, torus or mesh_groups");
  p.require(s.chips > 0, "scale_up.chips", "a positive chip count");
  p.require(s.nodes > 0, "nodes", "a positive node count");
  p.require(s.custom_launch_latency.value() == 0 || (s.custom_blocks > 0 && s.copy_latency.value() > 0), "library.custom_blocks",
            "a positive block count and library.copy_latency where library.custom_launch_latency is set");
  p.require(s.nvls_scatter_warps >= 0 && s.nvls_gather_warps >= 0, "library.nvls_scatter_warps",
            "a warp count of 0 or more");
  p.require(s.nvls_scatter_warps + s.nvls_gather_warps == 0 ||
                (s.copy_bytes_per_warp.value() > 0 && s.copy_latency.value() > 0),
            "library.copy_bytes_per_warp", "positive copy_bytes_per_warp and copy_latency when NVLS copy warps are set");
  // Every chip is a vertex with its own program, and ring-like collectives grow with the square of the
  // chip count: 1024 chips (4x the largest preset) is about 2 million operations for one ring slice.
  const std::int64_t chips = std::int64_t{s.chips} * s.nodes;
  // Blames scale_up.chips where a --set gave it (the preset's nodes had been named).
  const std::string most = "at most " + std::to_string(kMaxSystemChips) + " chips in one system; nodes x scale_up.chips is " +
                           std::to_string(chips);
  p.require(chips <= kMaxSystemChips, "nodes", most, "scale_up.chips", most);
  if (s.topology == "torus") {
    std::int64_t prod = 1;
    for (int d : s.dims) prod = std::min<std::int64_t>(prod * std::max(d, 0), std::int64_t{1} << 40);
    p.require(!s.dims.empty() && prod == s.chips, "scale_up.dims", "dimensions whose product is scale_up.chips (" +
                                                                        std::to_string(s.chips) + ")");
    p.require(s.wrap.size() == s.dims.size(), "scale_up.wraparound", "one true/false per dimension");
    p.require(s.dim_bandwidth.empty() || s.dim_bandwidth.size() == s.dims.size(), "scale_up.dim_bandwidth",
              "one bandwidth per dimension");
  }
  if (s.topology == "mesh_groups") {
    p.require(s.group > 1 && s.chips % s.group == 0, "scale_up.group", "a group size > 1 dividing scale_up.chips");
    p.require(s.chips == s.group || s.sw.type == "none" || s.uplink.bandwidth.value() > 0,
              "scale_up.uplink.bandwidth", "a positive bandwidth when a switch joins the groups");
  }
  if (s.topology == "switch")
    p.require(s.sw.type != "none", "scale_up.switch.type", "crossbar or nvls for a switched topology");
  p.require(s.routing == "dor" || s.routing == "shortest", "scale_up.routing", "dor or shortest");
  p.require(s.routing != "dor" || s.topology == "torus", "scale_up.routing", "shortest (dor needs a torus)");
  p.require(s.network == "none" || s.network == "rail", "scale_out.network", "none or rail");
  p.require(s.nodes == 1 || s.network != "none", "nodes",
            "1 (this system has no scale-out network: scale_out.network is none)");
  if (s.network == "rail")
    p.require(s.nic.bandwidth.value() > 0, "scale_out.nic.bandwidth", "a positive NIC bandwidth");
  for (const auto& pr : s.protocols)
    p.require(pr == "ll" || pr == "ll128" || pr == "simple", "library.protocols", "a list of ll, ll128, simple");
  p.require(!s.algorithms.empty(), "library.algorithms", "at least one algorithm");
  p.require(s.chunk_bytes.value() > 0, "library.chunk_bytes", "a positive size");
  p.require(s.channels > 0, "library.channels", "a positive count");
  p.require(s.ring_ll128_pair_efficiency > 0 && s.ring_ll128_pair_efficiency <= 1, "library.ring_ll128_pair_efficiency",
            "a share in (0, 1]");
  p.require(s.max_slices > 0, "library.max_slices", "a positive count");
  p.require(s.slots > 0, "library.slots", "a positive count");
  p.require(s.p2p_channels > 0, "library.p2p_channels", "a positive count");
}

std::vector<SystemInfo> list_systems() {
  std::vector<SystemInfo> out;
  for (const auto& f : preset_files((fs::path(source_dir()) / "chips" / "systems" / "presets").string()))
    out.push_back({f.name, f.path, f.description});
  return out;
}

std::vector<SystemSpec> model_systems() {
  std::vector<SystemSpec> out;
  for (const auto& info : list_systems()) {
    SystemSpec s = load_system(info.path);
    s.name = info.name;  // the name users type (loading by path names it after the file)
    if (!s.collectives_only) out.push_back(std::move(s));
  }
  return out;
}

SystemSpec load_system(const std::string& name_or_path, const std::vector<std::string>& overlays, int nodes) {
  std::string path;
  std::vector<std::string> names;
  for (const auto& s : list_systems()) {
    names.push_back(s.name);
    if (s.name == name_or_path) path = s.path;
  }
  if (path.empty()) {
    // A path (a '/' or a .yaml): the file is read as every preset is, which says what is wrong with it (missing, a
    // folder, a device); "./my.yaml" that was not there was "unknown system './my.yaml'; valid systems: ...".
    if (fs::path(name_or_path).extension() == ".yaml" || name_or_path.find('/') != std::string::npos) {
      path = name_or_path;
    } else {
      throw InputError("unknown system '" + name_or_path + "'; valid systems: " + join(names) + nearest_clause(name_or_path, names), "", name_or_path);
    }
  }
  ConfigTree tree = ConfigTree::load_file(path);
  tree.set("name", name_or_path.find('/') == std::string::npos ? name_or_path : fs::path(path).stem().string(), path);
  tree.apply_overlays(overlays);
  if (nodes < 0) throw InputError("--nodes " + std::to_string(nodes) + ": expected a positive node count", "--nodes", std::to_string(nodes));
  if (nodes > 0) tree.set("nodes", std::to_string(nodes), path + " (--nodes)");
  SystemSpec s;
  Params p(Params::Mode::Load, &tree);
  describe(p, s);
  p.finish();
  s.file = path;
  s.resolved_yaml = p.resolved_yaml();
  return s;
}

std::vector<ParamInfo> system_schema() {
  SystemSpec s;
  Params p(Params::Mode::Describe, nullptr);
  describe(p, s);
  return p.schema();
}

}  // namespace xpu
