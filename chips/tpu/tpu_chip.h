// SystemC model of a TPU chip: TensorCores (scalar unit issuing, DMA queues, a vector unit, and MXUs
// that are weight-stationary systolic arrays) reach HBM (and CMEM on v4) through TLM-2.0.
// Granularity: one transaction per DMA block, per MXU weight fold (weight push and row streaming as
// separate instructions, so double-buffered weight loads overlap emergently), per vector op.
// Ignores: VLIW bundle packing of the scalar unit, vector-register pressure, HBM bank timing (in the
// HBM efficiency factor), the SparseCores, and the die-to-die link of dual-chiplet parts.
#pragma once
#include <memory>
#include <vector>

#include "chips/tpu/tpu_spec.h"
#include "sim/engine/family_chip.h"
#include "sim/memory/hbm.h"

namespace xpu::tpu {

// HBM and CMEM as seen by the TensorCores' DMA engines: each core's DMA path is a serializing link
// at dma.bandwidth that streams an HBM copy from its first bytes on (one access latency after the copy
// starts); HBM channels (and CMEM) are shared by all cores.
class TpuMemory : public MemoryTarget {
 public:
  TpuMemory(sc_core::sc_module_name name, const TpuSpec& spec);
  void collect_stats(Stats& out, Tick total) const override;
  bool reset() override;

 private:
  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) override;
  const TpuSpec& m_spec;
  ChannelBank m_dma;   // each TensorCore's HBM<->VMEM DMA path
  ChannelBank m_cmem;  // the shared CMEM port (one channel)
  std::unique_ptr<IDram> m_hbm;  // chosen by hbm.model
  double m_cmem_bytes = 0;
};

// One TensorCore. MXU timing per weight fold of an R x C array (R = mxu.rows, C = mxu.cols):
//   weight push: R cycles (one row of weights shifts in per clock) into the shadow buffer;
//   data stream: M cycles (one LHS row enters per clock), the port is then free for the next fold;
//   drain: R + C - 2 cycles until the last partial sums leave the array (a Sync on the data port).
// With one weight buffer and a drain after every fold this is SCALE-Sim's weight-stationary count,
// 2R + C + M - 2 per fold; with two buffers the next push overlaps the current stream.
class TensorCore : public Executor {
 public:
  TensorCore(sc_core::sc_module_name name, ExecContext& ctx, int index, const TpuSpec& spec);
  Timing compute(const Instr& in) override;
  Tick dma_issue(const Instr& in) override { return m_dma_issue; }
  std::string engine_note(int e) const override;

  static std::vector<std::string> engine_names(const TpuSpec& spec);

 private:
  Tick cycles(double c) const;
  const TpuSpec& m_spec;
  double m_ps_per_clk;
  Tick m_dma_issue;
};

class TpuChip : public FamilyChip<TpuSpec, TpuMemory, TensorCore> {
 public:
  TpuChip(sc_core::sc_module_name name, const TpuSpec& spec);
};

}  // namespace xpu::tpu
