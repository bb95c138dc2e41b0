// SystemC model of a Trainium/Inferentia chip: NeuronCores, each with Tensor, Vector, Scalar and
// GpSimd engines (one in-order instruction stream per engine, synchronised through semaphores, i.e.
// the dependencies of the program) and two DMA queues, reach their 16 DMA engines and the shared
// HBM through TLM-2.0. Granularity: one transaction per matmul instruction (LoadStationary +
// MultiplyMoving), per engine instruction over a [partitions x free] tile, per DMA transfer.
// Ignores: SBUF bank conflicts and the Vector/GpSimd SBUF-port and Vector/Scalar PSUM-port sharing
// rules of NeuronCore-v2 (the lowerings avoid relying on them), DMA queue QoS, the collective
// cores, instruction fetch. Numbers come from the preset (sources there).
#pragma once
#include <memory>
#include <vector>

#include "chips/trainium/trainium_spec.h"
#include "sim/engine/family_chip.h"
#include "sim/memory/hbm.h"

namespace xpu::trainium {

// The DMA engines of every NeuronCore and the chip's HBM. A transfer into/out of SBUF is spread over
// ceil(partitions / partitions_per_engine) of its core's DMA engines [NKI-DMA]; each engine streams
// its share at its own bandwidth plus a fixed per-transfer occupancy; HBM channels arbitrate between
// cores. The transfer completes when the slowest of them does, plus the HBM access latency.
class TrainiumMemory : public MemoryTarget {
 public:
  TrainiumMemory(sc_core::sc_module_name name, const TrainiumSpec& spec);
  void collect_stats(Stats& out, Tick total) const override;
  bool reset() override;

 private:
  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) override;
  const TrainiumSpec& m_spec;
  std::vector<ChannelBank> m_dma;  // [core]: the core's DMA engines (queues)
  std::vector<std::uint32_t> m_next;         // rotating first engine per core
  std::unique_ptr<IDram> m_hbm;  // chosen by hbm.model
  Tick m_overhead;
  Tick m_row_overhead;  // per contiguous row an engine moves (dma.row_overhead)
  Tick m_start_latency;  // trigger to the engines' start (dma.start_latency)
};

// One NeuronCore: times its engines' instructions with each engine's own clock.
class NeuronCore : public Executor {
 public:
  NeuronCore(sc_core::sc_module_name name, ExecContext& ctx, int index, const TrainiumSpec& spec);
  Timing compute(const Instr& in) override;
  Tick dma_issue(const Instr& in) override { return m_trigger; }
  std::string engine_note(int e) const override;

 private:
  const TrainiumSpec& m_spec;
  Tick m_trigger;
};

class TrainiumChip : public FamilyChip<TrainiumSpec, TrainiumMemory, NeuronCore> {
 public:
  TrainiumChip(sc_core::sc_module_name name, const TrainiumSpec& spec);
};

}  // namespace xpu::trainium
