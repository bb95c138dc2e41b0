// A collective lowered into transaction programs: one list of operations per vertex (chips, and
// switches that reduce in the network). Operations run as soon as their dependencies (earlier
// operations of the same vertex) are complete and their software delay has passed. Pure data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/base/units.h"

namespace xpu {

struct CommOp {
  enum class Kind : std::uint8_t { Send, Recv, Reduce };
  Kind kind = Kind::Send;
  std::vector<int> peers;          // Send: destinations (several = switch multicast); Recv: the source
  std::uint64_t bytes = 0;         // payload bytes (Send: per destination; Reduce: input bytes)
  std::uint32_t tag = 0;           // matches a Send with its Recv (unique per src, dst pair)
  Tick delay = 0;                  // software latency after the dependencies (step sync, launch)
  std::vector<std::uint32_t> deps; // earlier operations of the same vertex
};

struct CommProgram {
  std::vector<std::vector<CommOp>> ops;  // per topology vertex
  std::string collective, algorithm, protocol;
  double wire_factor = 1.0;              // bytes on the wire per payload byte (protocol framing)
  std::uint64_t bytes = 0;               // the collective's size (nccl-tests convention)
  int slices = 1;
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
