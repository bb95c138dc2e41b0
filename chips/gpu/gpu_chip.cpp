#include "chips/gpu/gpu_chip.h"

#include <algorithm>
#include <cmath>

#include "sim/base/round.h"
#include "sim/engine/sc_ticks.h"

#include "chips/gpu/isa.h"

namespace xpu::gpu {

namespace {
// The K of one k-tile of a block-scaled GEMM, whose scale factors one tcgen05.cp pair moves into tensor memory:
// 128 bytes (256 fp4), the K of every stage of the libraries' sm100 fp4 kernels (CUTLASS NVFP4 tiles x256, as
// vLLM's nvfp4_scaled_mm_kernels.cu and TensorRT-LLM's t128x128x256 instantiate them; DeepGEMM's block_k).
constexpr double kBlockScaleKTileBytes = 128;
}  // namespace

GpuMemory::GpuMemory(sc_core::sc_module_name name, const GpuSpec& spec)
    : MemoryTarget(name),
      m_spec(spec),
      m_links(spec.onchip.channel, static_cast<size_t>(spec.sm.count), spec.sm.l2_port_bytes_per_clk * spec.sm.clock.value()),
      m_l2(make_cache(spec.l2)),
      m_hbm(make_dram(spec.hbm)),
      m_hit_latency(to_ticks(spec.l2.hit_latency.value())),
      m_hbm_latency(to_ticks(spec.hbm.latency.value())),
      m_load_hit(to_ticks(spec.thread_l2_latency())),
      m_load_hbm(to_ticks(spec.thread_hbm_latency())) {
  if (spec.sm.l2_coalescing_window_cycles > 0) {
    m_in_flight.resize(kCoalescerEntries);
    m_coalescing_window = static_cast<Tick>(std::llround(spec.sm.l2_coalescing_window_cycles * 1e12 / spec.sm.clock.value()));
  }
  m_stats.add("coalesced_bytes", "B", "tile reads joined to an identical read in flight (served once by the L2 slices)",
              [this](Tick) { return m_coalesced_bytes; });
}

void GpuMemory::b_transport(int, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  auto* ext = trans.get_extension<XpuExtension>();
  const Tick now = ext->now_ps;
  const ArrivalWindow w = arrival_window(*ext);
  const Tick arrival = w.arrival, horizon = w.horizon;
  const std::uint64_t bytes = ext->bytes, addr = trans.get_address();
  // The SM's crossbar link, the L2 slices and (on a miss or a write) HBM stream the tile
  // concurrently; the slowest of them sets the completion, plus the access latency.
  Tick end = m_links[ext->executor].carry(arrival, static_cast<double>(bytes), 0, horizon);
  const std::uint8_t level = memory_level(ext->level);
  const bool threads = thread_copy(ext->level);  // ld.global / cp.async: the load-to-use latencies
  if (level == kMulticast) {
    end += m_hit_latency;
    delay = ticks_time(std::max<Tick>(0, end - now));
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
    return;
  }
  // sm.l2_coalescing_window_cycles: a read of a tile that another SM's read reached the L2 within the window of,
  // and which is still in flight, joins it. The slices and DRAM serve the tile once; this SM's link still carries
  // it (booked above), and the data reaches this SM no earlier than the first requester (a hit on a tile whose
  // miss is outstanding waits for DRAM as well). The window applies on both sides of the first read's arrival:
  // initiators run ahead of each other within a quantum, so the first read booked need not be the first to arrive.
  InFlightRead* slot = nullptr;
  if (!m_in_flight.empty() && !ext->write) {
    slot = &m_in_flight[(addr * 0x9e3779b97f4a7c15ull ^ bytes) % kCoalescerEntries];
    if (slot->addr == addr && slot->bytes == bytes && arrival <= slot->done && std::abs(arrival - slot->arrival) <= m_coalescing_window) {
      m_l2->access(addr, bytes);  // the LRU sees the reuse
      m_coalesced_bytes += static_cast<double>(bytes);
      end = std::max(end + (threads ? m_load_hit : m_hit_latency), slot->done);
      delay = ticks_time(std::max<Tick>(0, end - now));
      trans.set_response_status(tlm::TLM_OK_RESPONSE);
      return;
    }
  }
  end = std::max(end, m_l2->transfer(arrival, addr, bytes, ext->run, horizon));
  // kL2 marks data the kernel keeps L2-resident (split-K workspace, small intermediates): it is
  // served by the slices without DRAM traffic. Otherwise the tile-granular LRU decides.
  bool hit = level == kL2 || (m_l2->access(addr, bytes) && !ext->write);
  // The L2 still holds a benchmark flush's dirty lines (kernel_starts): the lines this access allocates (a read
  // miss, or a write) evict as many of them, which the slices write back to DRAM. The write-back occupies the
  // DRAM channels beside the access.
  if (!hit || ext->write) evict_dirty(arrival, addr, bytes, ext->run, horizon);
  Tick lat = threads ? m_load_hit : m_hit_latency;
  if (!hit) {
    // The DRAM model adds hbm.latency (the TMA path's); a thread's load is served m_load_hbm after it.
    Tick dram_end = m_hbm->access(arrival, addr, bytes, ext->run, ext->write, horizon) - m_hbm_latency;
    // The L2 is write-back: a store completes once the slices accept it, while its DRAM write
    // still occupies the channels (and delays whatever reads them next). A read miss waits for DRAM.
    if (ext->write) end = std::max(end, dram_end);
    else end = std::max(end, dram_end + (threads ? m_load_hbm : m_hbm_latency)), lat = 0;
  }
  end += lat;
  if (slot) *slot = {addr, bytes, arrival, end};
  delay = ticks_time(std::max<Tick>(0, end - now));
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

void GpuMemory::evict_dirty(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, Tick horizon) {
  if (m_dirty_left <= 0) return;
  const double n = std::min(m_dirty_left, static_cast<double>(bytes));
  m_dirty_left -= n;
  m_hbm->access(arrival, addr ^ kFlushVictimRegion, static_cast<std::uint64_t>(n), run, true, horizon);
}

// A benchmark's flush (Program::dirty_cache_bytes: e.g. DeepGEMM's bench_kineto zeroes 8 GB before each call) writes
// far more than the L2 holds; the write-back L2 keeps the last of it as dirty lines, up to its capacity. A launch
// after it without a flush of its own (a split-K reduction) finds what its predecessor left.
void GpuMemory::kernel_starts(const Program& p) {
  if (p.dirty_cache_bytes > 0) m_dirty_left = std::min(p.dirty_cache_bytes, m_spec.l2.capacity.value());
}

bool GpuMemory::reset() {
  m_dirty_left = 0;
  m_coalesced_bytes = 0;
  std::fill(m_in_flight.begin(), m_in_flight.end(), InFlightRead{});
  m_links = ChannelBank(m_spec.onchip.channel, m_links.size(), m_links.bandwidth());
  m_l2 = make_cache(m_spec.l2);
  m_hbm = make_dram(m_spec.hbm);
  return true;
}

void GpuMemory::collect_stats(Stats& out, Tick total) const {
  std::string n = name();
  m_l2->stats().dump(out, n + ".l2", total);
  m_hbm->stats().dump(out, n + ".hbm", total);
  if (!m_in_flight.empty()) m_stats.dump(out, n + ".l2", total);
}

std::string Sm::engine_note(int e) const {
  // The TMA unit is busy only while it issues a tile copy (sm.dma_issue_cycles); the bytes' time is the
  // memory side's (crossbar, L2 slices, HBM channels).
  // On a GPU without TMA (sm.tma: false) the same engine slot issues the warps' own copies (cp.async, ld.global).
  if (engine_name(e) != "tma") return std::string();
  return m_spec.sm.tma ? "issue only: time the TMA unit spends issuing tile copies (the copies' data: mem.hbm and the L2)"
                       : "issue only: no TMA unit on this GPU; time spent issuing the warps' tile copies (cp.async, ld.global; their data: mem.hbm and the L2)";
}

Sm::Sm(sc_core::sc_module_name name, ExecContext& ctx, int index, const GpuSpec& spec, int max_slots)
    : Executor(name, ctx, index, {"tma", "tensor", "vector"}, max_slots), m_spec(spec) {
  m_ps_per_clk = 1e12 / spec.sm.clock.value();
  m_dma_issue = static_cast<Tick>(spec.sm.dma_issue_cycles * m_ps_per_clk);
  m_block_launch = to_ticks(spec.sm.block_launch_latency.value());
  m_descriptor_fetch = to_ticks(spec.sm.descriptor_fetch_latency.value());
  m_cluster_launch = to_ticks(spec.sm.cluster_launch_latency.value());
  m_sync = static_cast<Tick>(spec.sm.sync_cycles * m_ps_per_clk);
  for (Memo& c : m_memo) c.timing = time_of(c.in);
}

Timing Sm::time_of(const Instr& in) const {
  double cycles = 0;
  double share = 1;  // share of the engine's rate the issuing block reaches (CUDA-core code with few warps)
  double done = 0;   // cycles until the issuing block has the result, where longer than the engine is held (mma.sync)
  switch (in.kind) {
    case TxKind::TileCompute: {
      // A warpgroup MMA k-step: bounded by the tensor-core rate and by streaming its operands
      // out of shared memory.
      double rate = m_spec.tensor_flops_per_clk(in.dtype) * m_spec.sm.mma_efficiency;
      double executed = 2.0 * in.m * in.n * in.k;  // padded tile, as the hardware runs it
      const double smem = static_cast<double>(in.bytes) / m_spec.sm.smem_bytes_per_clk;
      if (mma_path(in.level) == kMmaSync) {
        // mma.sync: the warps load their operands with ldmatrix through the shared-memory pipe while other warps'
        // MMAs run on the tensor cores, so the step holds the tensor engine for the longer of the two; the block
        // finishes it when its warps' in-order streams (ldmatrix, then the MMAs) are done, later than that where
        // it has too few warps to overlap them (GpuSpec::mma_sync_step): co-resident blocks use the rest.
        const auto step = m_spec.mma_sync_step(
            smem, executed / (m_spec.tensor_flops_per_clk(in.dtype) * m_spec.sm.mma_sync_fraction), mma_sync_warps(in.level));
        cycles = step.busy;
        done = step.complete;
        break;
      }
      cycles = std::max(executed / rate, smem);
      // Block-scaled fp4 MMAs (tcgen05 .kind::mxf4nvf4): each k-tile's scale-factor copy into tensor memory waits
      // for the previous k-tile's MMAs to complete (sm.block_scale_wait_cycles), once per 128 bytes of K.
      if (in.dtype == DType::fp4 && m_spec.sm.block_scale_wait_cycles > 0)
        cycles += m_spec.sm.block_scale_wait_cycles * std::ceil(in.k * bytes_per_element(DType::fp4) / kBlockScaleKTileBytes);
      break;
    }
    case TxKind::VectorOp: {
      // k = special-function ops per element (exp, rsqrt); flops on the FP32 lanes.
      double elems = static_cast<double>(in.m) * in.n;
      cycles = std::max({static_cast<double>(in.flops) / m_spec.sm.vector_flops_per_clk,
                         elems * in.k / m_spec.sm.sfu_ops_per_clk,
                         static_cast<double>(in.bytes) / m_spec.sm.smem_bytes_per_clk});
      // level: the issuing block's warps per sub-partition (0: not stated). Each warp issues its dependent code
      // at one instruction per sm.warp_issue_cycles at best, so with fewer warps than that a sub-partition
      // issues below its rate: the op completes later, while the engine is free for co-resident blocks.
      if (in.level > 0) share = std::min(1.0, in.level / m_spec.sm.warp_issue_cycles);
      break;
    }
    case TxKind::Sync: return {m_sync, m_sync};
    default: break;
  }
  // The engine is held for `cycles`; the instruction completes after cycles / share (or `done`).
  auto ticks = [&](double c) { return static_cast<Tick>(round_half_away(std::ceil(c) * m_ps_per_clk)); };
  const Tick busy = ticks(cycles);
  if (done > cycles) return {busy, ticks(done)};
  return {busy, share < 1 ? ticks(cycles / share) : busy};
}

GpuChip::GpuChip(sc_core::sc_module_name name, const GpuSpec& spec)
    : FamilyChip(name, spec, spec.sm.count, "sm", [](const char* n, ExecContext& ctx, int i, const GpuSpec& s) {
        // More resident blocks than this per SM never helps the kernels we lower.
        return std::make_unique<Sm>(n, ctx, i, s, 4);
      }) {}

int GpuChip::slots_for(const Task& t) const {
  return std::min(4, std::max(1, occupancy(m_spec, t.smem_bytes, static_cast<int>(t.threads), static_cast<int>(t.registers))));
}

}  // namespace xpu::gpu
