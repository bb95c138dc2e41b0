// SystemC model of a GPU: SMs (TMA copy engine, tensor cores, CUDA cores, shared memory, block
// residency) reach a memory system of per-SM crossbar links, a sliced L2 and HBM channels through
// TLM-2.0. Granularity: one transaction per tile copy / MMA k-step / vector op of a thread block.
// Ignores: warp scheduling inside an SM (an MMA k-step is timed by tensor and shared-memory
// throughput), register bank conflicts, L2 partition crossings, DRAM page policy.
#pragma once
#include <memory>
#include <vector>

#include "chips/gpu/gpu_spec.h"
#include "sim/engine/family_chip.h"
#include "sim/memory/hbm.h"
#include "sim/memory/tile_cache.h"

namespace xpu::gpu {

class GpuMemory : public MemoryTarget {
 public:
  GpuMemory(sc_core::sc_module_name name, const GpuSpec& spec);
  void collect_stats(Stats& out, Tick total) const override;
  bool reset() override;
  void kernel_starts(const Program& p) override;
  double dram_bytes() const { return m_hbm->bytes_read() + m_hbm->bytes_written(); }

 private:
  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) override;
  // Writes back as many of the flush's dirty lines as an allocation of `bytes` evicts (m_dirty_left).
  void evict_dirty(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, Tick horizon);
  // The evicted lines' addresses: the access's own moved to a region no tensor uses (LowerOptions::ref places
  // operands below 2^54), which the DRAM model's address hash spreads over the channels as any stream.
  static constexpr std::uint64_t kFlushVictimRegion = 1ull << 60;
  const GpuSpec& m_spec;
  ChannelBank m_links;  // each SM's crossbar port to the L2
  std::unique_ptr<ICache> m_l2;  // chosen by l2.model
  std::unique_ptr<IDram> m_hbm;  // chosen by hbm.model
  Tick m_hit_latency, m_hbm_latency;  // l2.hit_latency, hbm.latency in ticks (per transaction): TMA copies
  Tick m_load_hit, m_load_hbm;        // sm.load_l2_latency, sm.load_hbm_latency: copies by the threads (kThreadCopy)
  // Bytes of dirty lines a benchmark's flush left in the L2 that no allocation has evicted yet (kernel_starts).
  double m_dirty_left = 0;
  // sm.l2_coalescing_window_cycles: the last read of each tile (direct-mapped by its address and size: a table
  // entry stands for one of the coalescer's finite entries), its arrival and the completion it got. A read of
  // the same tile arriving within the window of that one's arrival, while it is in flight, joins it.
  struct InFlightRead {
    std::uint64_t addr = 0, bytes = 0;
    Tick arrival = 0, done = -1;
  };
  Tick m_coalescing_window = 0;
  static constexpr size_t kCoalescerEntries = 4096;
  std::vector<InFlightRead> m_in_flight;
  double m_coalesced_bytes = 0;
  StatGroup m_stats;
};

class Sm : public Executor {
 public:
  Sm(sc_core::sc_module_name name, ExecContext& ctx, int index, const GpuSpec& spec, int max_slots);
  // The last instruction's timing is kept, one for the CUDA cores' vector ops and one for the rest: a
  // tile's k-steps are the same MMA over and over, and where vector ops come between them (fp8
  // promotion, attention's softmax) each kind keeps its own.
  Timing compute(const Instr& in) override {
    auto same = [&in](const Instr& l) {
      return in.kind == l.kind && in.dtype == l.dtype && in.level == l.level && in.m == l.m && in.n == l.n &&
             in.k == l.k && in.bytes == l.bytes && in.flops == l.flops;
    };
    if (same(m_memo[0].in)) return m_memo[0].timing;  // tested first: a GEMM's k-steps hit here
    if (same(m_memo[1].in)) return m_memo[1].timing;
    Memo& c = m_memo[in.kind == TxKind::VectorOp ? 1 : 0];
    c.in = in;
    return c.timing = time_of(in);
  }
  Tick dma_issue(const Instr& in) override { return m_dma_issue; }
  std::string engine_note(int e) const override;
  Tick task_start_latency() const override { return m_block_launch; }
  // The SM's first block of a kernel: its cluster's launch and barrier, then the tensor-map fetch.
  Tick kernel_start_latency(const Program& p) const override {
    return (p.copy_descriptors ? m_descriptor_fetch : 0) + (p.cluster_size > 1 ? m_cluster_launch : 0);
  }

 private:
  Timing time_of(const Instr& in) const;  // what compute() returns: a function of the fields compared there
  const GpuSpec& m_spec;
  // What compute() and dma_issue() read on every transaction, side by side.
  struct Memo {
    Timing timing{};
    Instr in;  // kind Sync, shape 0: times as a sync does
  };
  Tick m_dma_issue;
  Memo m_memo[2];
  double m_ps_per_clk;
  Tick m_block_launch, m_descriptor_fetch, m_cluster_launch, m_sync;
};

class GpuChip : public FamilyChip<GpuSpec, GpuMemory, Sm> {
 public:
  GpuChip(sc_core::sc_module_name name, const GpuSpec& spec);
  int slots_for(const Task& sample) const override;
  double dram_bytes() const override { return m_mem->dram_bytes(); }
};


}  // namespace xpu::gpu
