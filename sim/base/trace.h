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
