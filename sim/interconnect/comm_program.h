// A collective lowered into transaction programs: one list of operations per vertex (chips, and
// switches that reduce in the network). Operations run as soon as their dependencies (earlier
// operations of the same vertex) are complete and their software delay has passed. Pure data.
// The system runtime (sim/system/runtime.h) merges a device's kernels into the same lists as
// Compute operations, so communication and computation share one event-driven executor.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/base/units.h"

namespace xpu {

struct CommOp {
  // Compute: a kernel already timed on its chip (`work`), reading and writing `hbm_bytes` of device
  // memory; it stretches when the collectives' traffic through the same memory leaves it too little
  // bandwidth (CommProgram::hbm_Bps).
  enum class Kind : std::uint8_t { Send, Recv, Reduce, Compute };
  Kind kind = Kind::Send;
  std::vector<int> peers;          // Send: destinations (several = switch multicast); Recv: the source
  std::uint64_t bytes = 0;         // payload bytes (Send: per destination; Reduce: input bytes)
  std::uint32_t tag = 0;           // matches a Send with its Recv (unique per src, dst pair)
  Tick delay = 0;                  // software latency after the dependencies (step sync, launch)
  std::vector<std::uint32_t> deps; // earlier operations of the same vertex
  float wire_factor = 0;           // Send: wire bytes per payload byte when it differs from the program's
  // Send: the library's channel messages this send stands for, crossing side by side on their own
  // NICs (0 or 1: one message); the receiving NIC's per-message rules (eager copy) see each one's share.
  std::uint16_t messages = 0;
  Tick work = 0;                   // Compute: the kernel's time on an otherwise idle chip
  double hbm_bytes = 0;            // Compute: its device-memory traffic
};

struct CommProgram {
  std::vector<std::vector<CommOp>> ops;  // per topology vertex
  std::string collective, algorithm, protocol;
  std::string internode;                 // hierarchical: the algorithm of its inter-node stage
  double wire_factor = 1.0;              // bytes on the wire per payload byte (protocol framing)
  std::uint64_t bytes = 0;               // the collective's size (nccl-tests convention)
  int slices = 1;
  // Per vertex: device-memory bandwidth (bytes/s) that a chip's kernels and its collective traffic
  // share (payload sent and received passes through it); empty or 0: not modelled for that vertex.
  std::vector<double> hbm_Bps;
  bool record_times = false;             // keep every operation's start and end (runtime breakdowns)
  // Payload bytes each chip sends (tests check them against the algorithm's formula).
  std::uint64_t sent_by(int vertex) const {
    std::uint64_t b = 0;
    for (const auto& o : ops[static_cast<size_t>(vertex)])
      if (o.kind == CommOp::Kind::Send) b += o.bytes * o.peers.size();
    return b;
  }
  std::uint64_t op_count() const {
    std::uint64_t n = 0;
    for (const auto& v : ops) n += v.size();
    return n;
  }
};

// One part of a vertex's program: a single operation, or the vertex's share of a lowered collective
// (`sub`, shared by every call lowered the same way) with its vertices mapped onto the system's and
// its tags offset. A part waits for the ends of earlier parts of its vertex (`deps`); the executor
// expands it into operations when it launches and frees them when it ends.
//   Op:         `op` alone (its own deps are ignored: the part's deps hold).
//   Collective: a launch marker (waits for `deps`, then `op.delay`), the sub-program's operations (those without a
//               dependency wait for the launch), and an end marker after all of them.
//   Plain:      the sub-program's operations alone, those without a dependency starting at `delay`
//               (a switch's share, run by the messages it receives; a flat CommProgram's vertex).
//               With a `call` and only receives without a dependency, it expands when the call's
//               first Collective part launches (no message for it can arrive earlier).
struct CommPart {
  enum class Form : std::uint8_t { Op, Collective, Plain };
  Form form = Form::Op;
  CommOp op;
  std::vector<std::uint32_t> deps;              // earlier parts of the same vertex
  const std::vector<CommOp>* sub = nullptr;     // Collective, Plain
  const std::vector<int>* vertex_map = nullptr; // sub-program vertex -> program vertex (null: same)
  std::uint32_t tag_base = 0;                   // added to the sub-program's Send/Recv tags
  float wire_factor = 0;                        // the sub-program's Sends: wire bytes per payload byte (0: keep)
  std::int32_t call = -1;                       // the collective call it belongs to (-1: none)
  float units = 0;                              // Collective: compute units its kernel holds while it runs
  // The sub-program's Sends: the rate of the engine (a kernel's own, as a serving stack's all-reduce kernel moves
  // its bytes: custom_allreduce_fabric) that takes each of their pieces; 0: the system's (engine_bandwidth).
  double engine_Bps = 0;
  // Operations the part expands to.
  std::uint64_t size() const {
    return form == Form::Op ? 1 : sub->size() + (form == Form::Collective ? 2 : 0);
  }
};

struct PartProgram {
  std::vector<std::vector<CommPart>> parts;  // per topology vertex
  double wire_factor = 1.0;                  // as CommProgram's
  std::vector<double> hbm_Bps;               // as CommProgram's
  std::vector<double> compute_units;         // per vertex: units kernels share with collectives (0: none)
  bool record_op_times = false;              // keep every operation's start and end (Plain parts only)
  std::uint64_t op_count() const {
    std::uint64_t n = 0;
    for (const auto& v : parts)
      for (const auto& p : v) n += p.size();
    return n;
  }
};

}  // namespace xpu
