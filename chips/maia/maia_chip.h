// SystemC model of a Maia-style die: tiles (TTU, TVP, TSRAM, tile DMA read/write queues, control
// processor) grouped in clusters (CSRAM banks, cluster DMA, a NoC port towards HBM), and HBM stacks.
// Granularity: one transaction per DMA chunk / TTU operation / TVP operation of a tile program.
// The DMA hierarchy tile <-> cluster <-> HBM is a chain of serializing resources: a transfer from HBM
// to a tile occupies HBM channels, its cluster's NoC port and the tile's DMA port; a CSRAM read
// occupies the cluster's CSRAM banks and the tile port; a cluster-DMA stage (HBM -> CSRAM) occupies
// HBM, the NoC port and the CSRAM banks, and is then read by several tiles (the NoC broadcast).
// Ignores: NoC topology inside the die (mesh hops), bank conflicts, the control plane's QoS, tile and
// SRAM redundancy; HBM bank/row timing is folded into its efficiency factor.
#pragma once
#include <memory>
#include <unordered_map>
#include <vector>

#include "chips/maia/maia_spec.h"
#include "sim/engine/family_chip.h"
#include "sim/memory/hbm.h"

namespace xpu::maia {

class MaiaMemory : public MemoryTarget {
 public:
  MaiaMemory(sc_core::sc_module_name name, const MaiaSpec& spec);
  void collect_stats(Stats& out, Tick total) const override;
  bool reset() override;
  double hbm_bytes() const { return m_hbm->bytes_read() + m_hbm->bytes_written(); }

 private:
  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) override;
  Tick hbm_access(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, bool write, Tick horizon);
  struct InFlight {
    std::uint64_t addr;
    Tick done;
  };
  const MaiaSpec& m_spec;
  std::unique_ptr<IDram> m_hbm;  // chosen by hbm.model
  ChannelBank m_tile_ports;  // one per tile
  ChannelBank m_noc_ports;   // one per cluster
  ChannelBank m_csram;       // one per cluster
  Tick m_csram_latency;
  double m_csram_read = 0, m_csram_written = 0, m_staged = 0;
  double m_weights_hbm = 0, m_weights_sram = 0, m_broadcast_saved = 0;
  std::unordered_map<std::uint64_t, InFlight> m_inflight;  // HBM reads of the current kernel by chunk
  std::uint32_t m_kernel = 0xffffffffu;
};

class Tile : public Executor {
 public:
  Tile(sc_core::sc_module_name name, ExecContext& ctx, int index, const MaiaSpec& spec, int max_slots);
  Timing compute(const Instr& in) override;
  Tick dma_issue(const Instr& in) override { return m_dma_issue; }
  std::string engine_note(int e) const override;
  Tick task_start_latency() const override { return m_task_start; }

 private:
  const MaiaSpec& m_spec;
  double m_ps_per_clk;
  Tick m_dma_issue, m_task_start, m_sync, m_fill;
};

class MaiaChip : public FamilyChip<MaiaSpec, MaiaMemory, Tile> {
 public:
  // One resident task per tile: tile programs double-buffer inside the task (prefetch depth). Two
  // would overlap one task's epilogue with the next's prologue, but Executor keeps one per-instruction
  // completion vector for all its slots, which a task suspended mid-way would share (see report).
  static constexpr int kMaxSlots = 1;
  MaiaChip(sc_core::sc_module_name name, const MaiaSpec& spec);
  // Resident tasks per tile: as many as TSRAM holds (Task::smem_bytes = TSRAM footprint), at most kMaxSlots.
  int slots_for(const Task& sample) const override;
  // HBM traffic after the NoC broadcast merged identical reads (DMA level 0 counts requests).
  double dram_bytes() const override { return m_mem->hbm_bytes(); }
};

}  // namespace xpu::maia
