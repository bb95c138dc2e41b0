// Transaction trace records and observers. Tracing costs nothing when no observer is attached.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sim/base/program.h"

namespace xpu {

// One completed transaction, as written to trace.h5 (a compound dataset) and Perfetto.
struct TraceRecord {
  std::int64_t start_ps = 0;
  std::int64_t end_ps = 0;
  std::uint32_t unit = 0;      // index into the run's unit names ("top.chip.sm3.tensor")
  std::uint32_t kernel = 0;    // index into the run's kernel names
  std::uint64_t bytes = 0;
  std::uint64_t flops = 0;
  std::uint32_t task = 0;      // task (block / stream) index within its kernel
  std::uint8_t kind = 0;       // TxKind
  std::uint8_t level = 0;      // Instr::level: a DMA's family memory level (bits 0-2; a family's path flags above them are not kept); a GPU TileCompute's MMA path
                               // (low 2 bits) and its mma.sync warps above them (chips/gpu/isa.h)
  std::uint16_t pad_ = 0;
};

// What a trace file says about its records: the names their indices stand for and what ran.
struct TraceMeta {
  std::string name;    // the chip (or system) that ran: trace.h5's `chip` attribute, the Perfetto process
  std::string config;  // the resolved preset (YAML)
  std::vector<std::string> units, kernels;  // TraceRecord::unit and ::kernel index these
  // TraceRecord::kind's names, "0=dma_read,1=dma_write,..." (a system trace adds its own kinds after these).
  std::string kind_names = "0=dma_read,1=dma_write,2=tile_compute,3=vector_op,4=sync";
  // The family's names of a DMA's memory level (TraceRecord::level of dma_read/dma_write), "0=global,1=l2,...";
  // empty where none are named (a system trace).
  std::string level_names;
};
// "0=a,1=b,..." of a list of names.
inline std::string numbered_names(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? "," : "") + std::to_string(i) + "=" + names[i];
  return s;
}

class TraceObserver {
 public:
  virtual ~TraceObserver() = default;
  // A simulation starts: a re-simulated run (a clock settled under TDP) replaces what came before.
  virtual void on_begin() {}
  virtual void on_transaction(const TraceRecord& r) = 0;
};

// Collects all records in memory (the Python module, Perfetto output); trace.h5 is streamed instead
// (sim/io H5TraceWriter), so a traced CLI run's memory stays flat.
class TraceBuffer : public TraceObserver {
 public:
  void on_begin() override { records.clear(); }
  void on_transaction(const TraceRecord& r) override { records.push_back(r); }
  std::vector<TraceRecord> records;
};

}  // namespace xpu
