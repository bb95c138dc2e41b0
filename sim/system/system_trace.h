// The trace of a system run (`xpusim run --trace`, `xpusim kernel <collective> --trace`): the single-chip
// trace's records (TraceRecord, trace.h5's schema) handed to a sink as they are produced, so trace.h5
// streams them as a chip's trace does. Tracks (units):
//   steps                 one slice per simulated run of the system (a model's prefill, each decode step)
//   rank<R>.compute       rank R's kernels (its compute stream), kind `kernel`
//   rank<R>.comm          rank R's collectives, sends and receives (its communication stream); for a
//                         collective alone, each of its operations (send, recv, reduce)
//   <switch>              a switch's in-network reductions and multicasts (a collective alone)
//   fabric.<src>-><dst>   every piece a send carries over that link (or NIC port), kind `transfer`: bytes
//                         are wire bytes, task the sending vertex, kernel the collective it belongs to
// Records' kernel indexes the names of kernels, collectives ("allreduce ring/ll128") and steps; times
// are those of the simulation, at the nominal clocks (the power manager's clocks are applied after), one
// run after another on one timeline.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/base/trace.h"
#include "sim/base/units.h"

namespace xpu {

class Topology;

class SystemTrace {
 public:
  // Kinds after the chip's TxKinds (0-4), so one kind_names list covers both.
  enum Kind : std::uint8_t { kKernel = 5, kCollective, kSend, kRecv, kReduce, kTransfer, kStep };
  static const char* kind_names();  // "0=dma_read,...,5=kernel,...,11=step"

  explicit SystemTrace(TraceObserver& sink) : m_sink(sink) {}
  std::uint32_t unit(const std::string& name) { return intern(name, m_units, m_unit_ids); }
  std::uint32_t label(const std::string& name) { return intern(name, m_labels, m_label_ids); }
  // The next run's name (its slice on the steps track), before run_system or run_collective runs it.
  void set_step(std::string name) { m_step = std::move(name); }
  // A record of the current run (its times from that run's start).
  void add(TraceRecord r);
  // The current run ended at `end` (its own time): a slice on the steps track, and the next run starts there.
  void end_run(Tick end);
  // For Fabric::set_link_trace: each piece on its link's track, named after its call (`calls[k - 1]` for
  // kernel k, `uncalled` for 0: a point-to-point send, or a flat program's), as kind transfer.
  std::unique_ptr<TraceObserver> links(const Topology& topo, const std::vector<std::string>& calls,
                                       const std::string& uncalled = "p2p");
  TraceMeta meta(const std::string& name, const std::string& config) const;

 private:
  static std::uint32_t intern(const std::string& name, std::vector<std::string>& list, std::map<std::string, std::uint32_t>& ids);
  TraceObserver& m_sink;
  bool m_begun = false;
  std::vector<std::string> m_units, m_labels;
  std::map<std::string, std::uint32_t> m_unit_ids, m_label_ids;
  std::string m_step = "run";
  Tick m_offset = 0;
  int m_runs = 0;
};

}  // namespace xpu
