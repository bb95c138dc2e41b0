// The SystemC model of a system's fabric: links, switches and NICs built from a Topology, and an
// executor that runs a collective's per-vertex programs on them. Transfers are cut into pieces that
// cross their route cut-through, each piece serialized on every link it crosses (contention per
// link and per switch port), so two flows on one link share it piece by piece and time emerges.
#pragma once
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include <memory>
#include <string>
#include <vector>

#include "sim/base/stats.h"
#include "sim/base/trace.h"
#include "sim/engine/process_guard.h"
#include "sim/interconnect/comm_program.h"
#include "sim/interconnect/i_link.h"
#include "sim/interconnect/i_switch.h"
#include "sim/interconnect/topology.h"

namespace xpu {

struct FabricResult {
  Tick end = 0;                        // last operation of any vertex
  std::vector<Tick> vertex_end;        // last operation of each vertex
  std::vector<Tick> link_busy;         // per topology link
  std::vector<double> link_bytes;      // wire bytes per topology link
  Tick reduce_busy = 0;                // in-network reduction engines, all switches
  std::uint64_t pieces = 0;            // link transfers simulated
  // With CommProgram::record_times: every operation's start (dependencies met, delay passed) and end.
  std::vector<std::vector<Tick>> op_start, op_end;
  // Per vertex, per part of a PartProgram: its first operation's start and its last one's end.
  std::vector<std::vector<Tick>> part_start, part_end;
  std::vector<Tick> stretch;           // per vertex: time its kernels lost to collective memory traffic
  // Per vertex: collective payload bytes through its memory (each send read once, each receive written
  // once), the traffic that stretches its kernels above and that its memory's energy per byte prices.
  std::vector<double> memory_bytes;
  Stats stats;                         // top.fabric.<link>.busy_s ... with unit and meaning
};

class Fabric : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Fabric);
  // A flat program (one Plain part per vertex) or a program of parts; either must outlive the Fabric.
  Fabric(sc_core::sc_module_name name, const Topology& topo, const CommProgram& prog);
  Fabric(sc_core::sc_module_name name, const Topology& topo, const PartProgram& prog);
  ~Fabric() override;
  FabricResult result() const;
  bool finished() const { return m_finished; }
  const std::string& error() const { return m_error; }
  ProcessGuard& guard() { return m_guard; }
  // Hands `t` every piece a send carries over a link, as it is booked: unit = the link's index in
  // Topology::links(), kernel = the sending part's collective call + 1 (0: a point-to-point send, or a
  // flat program's), task = the sending vertex, bytes = the piece's wire bytes, [start, end) its
  // serialization on the link; kind and level 0 (SystemTrace gives them their meaning). Null: none.
  void set_link_trace(TraceObserver* t) { m_link_trace = t; }

 private:
  struct Impl;
  struct Live;
  void guarded_run() { m_guard.run([this] { run(); }); }
  void build();
  void run();
  void start_parts();
  Live& expand(int v, std::uint32_t part);
  void expand_deferred(std::int32_t call);
  void complete(int v, std::uint32_t part, std::uint32_t op_index, Tick now);
  bool stretch_kernel(int v, std::uint32_t part, std::uint32_t op_index, Tick now);
  void send_piece(int v, std::uint32_t part, std::uint32_t op_index, std::uint32_t piece, Tick now);
  void trace_piece(int link, Tick start, Tick end, double wire_bytes, int v, std::uint32_t part);
  bool reducing(int v) const;                    // vertex v is a switch that reduces in the network
  std::uint32_t piece_count(double wire_bytes) const;  // pieces a send of that size is cut into
  Tick reduce_end(int v, const Live& l, std::uint32_t op_index, Tick now);
  const Topology& m_topo;
  PartProgram m_flat;  // a flat program's parts (empty for a PartProgram)
  const PartProgram& m_prog;
  std::vector<std::unique_ptr<ILink>> m_links;
  std::vector<std::unique_ptr<ISwitch>> m_switches;  // per vertex (null for chips)
  std::unique_ptr<Impl> m_impl;
  bool m_finished = false;
  std::string m_error;
  ProcessGuard m_guard;  // an exception of run(), rethrown by simulate_collective (on_return)
  Tick m_end = 0;
  std::vector<Tick> m_vertex_end;
  std::vector<std::vector<Tick>> m_part_start, m_part_end;
  std::vector<Tick> m_stretch;
  std::uint64_t m_pieces = 0;
  TraceObserver* m_link_trace = nullptr;
};

// Runs a program on a fresh SystemC kernel and returns its timing (its link pieces to `link_trace`, when given).
FabricResult simulate_collective(const Topology& topo, const CommProgram& prog, TraceObserver* link_trace = nullptr);
// A program of parts likewise (part_start and part_end per part; a Collective part launches after its op's delay).
FabricResult simulate_parts(const Topology& topo, const PartProgram& prog);

}  // namespace xpu
