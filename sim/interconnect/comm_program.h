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
  Tick work = 0;                   // Compute: the kernel's time on an otherwise idle chip
  double hbm_bytes = 0;            // Compute: its device-memory traffic
};

struct CommProgram {
  std::vector<std::vector<CommOp>> ops;  // per topology vertex
  std::string collective, algorithm, protocol;
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

}  // namespace xpu
