// The system runtime: every device of a system executes its op stream (kernels already timed on its
// chip, collectives on communicators of ranks, point-to-point sends between pipeline stages) in one
// simulation, through streams with events between them, as CUDA streams, XLA's async collectives and
// Neuron's collective engines run them. Kernels and all collective traffic share one event-driven
// executor over the SystemC fabric (sim/interconnect/fabric.h), so overlap, waiting and contention
// (on links, switch ports and each chip's memory) come out of the simulation.
//
// Streams: ops of a device run in program order per stream; stream 0 computes, stream 1
// communicates. An op also waits for the ops named in its `waits` (events). With overlap off (the
// software runs collectives in line, as vLLM's and TensorRT-LLM's tensor parallelism do) every op
// runs on one stream, so a collective waits for the kernel before it and the next kernel waits for it.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/collective/collective.h"
#include "sim/interconnect/fabric.h"
#include "sim/interconnect/system_spec.h"

namespace xpu {

struct StreamOp {
  enum class Kind : std::uint8_t { Kernel, Collective, Send, Recv };
  Kind kind = Kind::Kernel;
  int stream = 0;            // 0 compute, 1 communication
  std::string label;
  Tick work = 0;             // Kernel: its time alone on the chip
  double hbm_bytes = 0;      // Kernel: device-memory traffic
  int collective = -1;       // Collective: index into SystemWork::collectives
  int peer = -1;             // Send: destination rank; Recv: source rank
  std::uint64_t bytes = 0;   // Send: payload
  std::uint32_t tag = 0;     // Send/Recv: matches the pair (unique per source, destination)
  std::vector<int> waits;    // events: earlier ops (indices in this device's list) it also waits for
};

struct CollectiveCall {
  CollectiveRequest req;
  std::vector<int> group;    // system ranks of the communicator, in its rank order
  std::string label;
  // Compute units (SMs) its kernel holds on each device while it runs; -1: the library's, one per
  // channel (NCCL runs a collective as one CUDA block per channel).
  double units = -1;
};

struct SystemWork {
  std::vector<std::vector<StreamOp>> devices;  // per system rank (a rank without work: empty)
  std::vector<CollectiveCall> collectives;
  bool overlap = false;                        // streams run concurrently (else one in-order stream)
  std::vector<double> hbm_Bps;                 // per rank: device-memory bandwidth shared with collectives
  // Per rank: compute units (a GPU's SMs) that kernels share with the collectives running beside them
  // (empty or 0: collectives take none, as DMA-driven ones on TPU, Trainium and Maia).
  std::vector<double> compute_units;
};

struct RuntimeResult {
  Tick end = 0;
  std::vector<Tick> device_end;
  std::vector<std::vector<Tick>> op_start, op_end;  // per device, per StreamOp
  std::vector<std::string> algorithm;               // per collective call: "ring/ll128", "nvls/simple"
  std::vector<Tick> stretch;                        // per device: kernel time lost to collective traffic
  std::vector<double> memory_bytes;                 // per device: collective payload bytes through its memory
  std::uint64_t pieces = 0, operations = 0;
  FabricResult fabric;                              // link statistics
};

// The sub-system a communicator of `group` ranks spans (a switch node or several, a torus block, a
// mesh group) and where each of its vertices sits in the whole system. InputError when the ranks do
// not form such a block (the layouts place tensor-parallel groups on consecutive ranks).
struct GroupSystem {
  SystemSpec spec;
  std::vector<int> vertex_map;  // group-topology vertex -> system-topology vertex
};
GroupSystem group_system(const Topology& full, const std::vector<int>& group);

class SystemTrace;
// One communicator's collective lowered on its own sub-system (the library tunes per communicator), as run_system
// lowers it: a TP all-reduce that the serving stack gives to its own kernel runs that kernel's exchange, an expert
// all-to-all DeepEP's, the rest the library's choice. Its programs are in the group topology's vertices (GroupSystem::
// vertex_map places them), with the largest tag it uses and the rate of the engine its sends take (0: the system's).
struct LoweredCall {
  CommProgram prog;
  std::string algorithm;
  std::uint32_t max_tag = 0;
  double engine_Bps = 0;
};
std::shared_ptr<const LoweredCall> lower_call(const GroupSystem& gs, const CollectiveRequest& req);
// Calls lowered once each: a call whose communicator has the same shape (chips, nodes, dims) and the same request
// as an earlier one shares its lowering (lower_call depends on nothing else).
class LoweredCalls {
 public:
  const std::shared_ptr<const LoweredCall>& get(const GroupSystem& gs, const CollectiveRequest& req);

 private:
  using Key = std::tuple<int, int, std::uint64_t, std::string, std::string, std::vector<int>, std::uint64_t, std::string,
                         std::int64_t>;
  std::map<Key, std::shared_ptr<const LoweredCall>> m_cache;
};
// The part that runs group vertex `sv`'s share of a lowered call on the system's vertices (gs.vertex_map), its
// tags from `tag_base`, as call `call` of the program.
CommPart collective_part(CommPart::Form form, const LoweredCall& low, size_t sv, const GroupSystem& gs, std::uint32_t tag_base,
                         int call);

// Runs the work of every device on `spec`'s fabric. Collectives are chosen (algorithm, protocol) per
// communicator as the library would for that group and size; identical calls are lowered once.
// With a trace: every device's ops and every piece on a link go to it (system_trace.h), as one run.
RuntimeResult run_system(const SystemSpec& spec, const SystemWork& work, SystemTrace* trace = nullptr);

}  // namespace xpu
