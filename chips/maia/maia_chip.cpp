#include "chips/maia/maia_chip.h"

#include <algorithm>
#include <cmath>

#include "sim/engine/sc_ticks.h"

#include "chips/maia/isa.h"

namespace xpu::maia {

MaiaMemory::MaiaMemory(sc_core::sc_module_name name, const MaiaSpec& spec)
    : MemoryTarget(name),
      m_spec(spec),
      m_hbm(make_dram(spec.hbm)),
      m_tile_ports(spec.onchip.channel, static_cast<size_t>(spec.tiles()), spec.tile_dma_bw()),
      m_noc_ports(spec.onchip.channel, static_cast<size_t>(spec.cluster.count), spec.noc_port_bw()),
      m_csram(spec.onchip.channel, static_cast<size_t>(spec.cluster.count), spec.csram_bw()),
      m_csram_latency(to_ticks(spec.cluster.csram_latency.value())) {
}

void MaiaMemory::b_transport(int, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  auto* ext = trans.get_extension<XpuExtension>();
  const Tick now = ext->now_ps;
  const ArrivalWindow w = arrival_window(*ext);
  const Tick arrival = w.arrival, horizon = w.horizon;
  const std::uint64_t bytes = ext->bytes, addr = trans.get_address();
  const double b = static_cast<double>(bytes);
  const size_t tile = ext->executor;
  const size_t cluster = tile / static_cast<size_t>(m_spec.cluster.tiles);
  const std::uint8_t level = ext->level & kLevelMask;
  const bool weight = (ext->level & kWeights) != 0;
  const bool stage = (ext->level & kToCsram) != 0;
  if (ext->kernel != m_kernel) m_inflight.clear(), m_kernel = ext->kernel;
  Tick end = arrival;
  switch (level) {
    case kHbm: {
      // HBM -> the cluster's NoC port -> the tile's DMA port (or, staged, the cluster's CSRAM banks),
      // streamed cut-through: the slowest resource sets the completion.
      end = m_noc_ports[cluster].carry(arrival, b, 0, horizon);
      if (stage) end = std::max(end, m_csram[cluster].carry(arrival, b, 0, horizon));
      else end = std::max(end, m_tile_ports[tile].carry(arrival, b, 0, horizon));
      end = std::max(end, hbm_access(arrival, addr, bytes, ext->run, ext->write, horizon));
      if (stage) m_staged += b, m_csram_written += b;
      if (weight) m_weights_hbm += b;
      break;
    }
    case kCsram: {
      end = m_tile_ports[tile].carry(arrival, b, 0, horizon);
      end = std::max(end, m_csram[cluster].carry(arrival, b, 0, horizon));
      end += m_csram_latency;
      (ext->write ? m_csram_written : m_csram_read) += b;
      if (weight) m_weights_sram += b;
      break;
    }
    default: break;  // kTsram: local, no transfer
  }
  delay = ticks_time(std::max<Tick>(0, end - now));
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

Tick MaiaMemory::hbm_access(Tick arrival, std::uint64_t addr, std::uint64_t bytes, std::uint64_t run, bool write,
                            Tick horizon) {
  if (write) return m_hbm->access(arrival, addr, bytes, run, true, horizon);
  // Hierarchical broadcast: a read of the same chunk that arrives while an earlier one is still in
  // flight is served by the NoC multicast of that read, not by HBM again.
  const std::uint64_t key = address_hash(addr ^ (bytes * 0x9e3779b97f4a7c15ull));
  auto it = m_inflight.find(key);
  if (it != m_inflight.end() && it->second.addr == addr && arrival <= it->second.done) {
    m_broadcast_saved += static_cast<double>(bytes);
    return it->second.done;
  }
  Tick done = m_hbm->access(arrival, addr, bytes, run, false, horizon);
  if (m_inflight.size() > 4096) {  // reads that completed before the horizon can no longer be joined
    for (auto i = m_inflight.begin(); i != m_inflight.end();) i = i->second.done < horizon ? m_inflight.erase(i) : std::next(i);
  }
  m_inflight[key] = {addr, done};
  return done;
}

bool MaiaMemory::reset() {
  m_hbm = make_dram(m_spec.hbm);
  for (ChannelBank* b : {&m_tile_ports, &m_noc_ports, &m_csram})
    *b = ChannelBank(m_spec.onchip.channel, b->size(), b->bandwidth());
  m_csram_read = m_csram_written = m_staged = 0;
  m_weights_hbm = m_weights_sram = m_broadcast_saved = 0;
  m_inflight.clear();
  m_kernel = 0xffffffffu;
  return true;
}

void MaiaMemory::collect_stats(Stats& out, Tick total) const {
  std::string n = name();
  m_hbm->stats().dump(out, n + ".hbm", total);
  out.set(n + ".csram.bytes_read", m_csram_read, "B", "bytes tile DMAs read from cluster SRAM");
  out.set(n + ".csram.bytes_written", m_csram_written, "B", "bytes written into cluster SRAM (staging and tiles)");
  out.set(n + ".csram.staged_bytes", m_staged, "B", "bytes the cluster DMAs staged from HBM into CSRAM");
  out.set(n + ".noc.broadcast_saved_bytes", m_broadcast_saved, "B",
          "HBM read bytes saved because the NoC multicast one in-flight read to several requesters");
  out.set(n + ".weights.hbm_bytes", m_weights_hbm, "B", "weight bytes read from HBM (weights streamed)");
  out.set(n + ".weights.sram_bytes", m_weights_sram, "B", "weight bytes read from on-die SRAM (weights pinned)");
  out.set(n + ".tile_port.utilization", m_tile_ports.utilization(total), "ratio", "mean tile DMA port busy time");
  out.set(n + ".csram.utilization", m_csram.utilization(total), "ratio", "mean CSRAM bank busy time per cluster");
  out.set(n + ".noc_port.utilization", m_noc_ports.utilization(total), "ratio", "mean cluster NoC port busy time");
}

std::string Tile::engine_note(int e) const {
  // The DMA queues are busy only while a descriptor issues (tile.dma_issue_cycles); the bytes move through
  // MaiaMemory's tile ports, NoC ports and CSRAM banks, whose utilizations are the mem.* units.
  if (e > kTdmaWr) return {};
  return "issue only: descriptor time of the tile's " + engine_name(e) +
         " queue (the transfers' data: mem.tile_port, mem.noc_port, mem.csram)";
}

Tile::Tile(sc_core::sc_module_name name, ExecContext& ctx, int index, const MaiaSpec& spec, int max_slots)
    : Executor(name, ctx, index, {"cdma", "tdma", "tdma1", "tdma_wr", "ttu", "tvp"}, max_slots), m_spec(spec) {
  m_ps_per_clk = 1e12 / spec.clock.value();
  m_dma_issue = static_cast<Tick>(spec.tile.dma_issue_cycles * m_ps_per_clk);
  m_task_start = static_cast<Tick>(spec.tile.task_start_cycles * m_ps_per_clk);
  m_sync = static_cast<Tick>(spec.tile.sync_cycles * m_ps_per_clk);
  m_fill = static_cast<Tick>(spec.ttu.fill_cycles * m_ps_per_clk);
}

Timing Tile::compute(const Instr& in) {
  double cycles = 0;
  Tick extra = 0;
  switch (in.kind) {
    case TxKind::TileCompute: {
      // The TTU steps through the operation in rows x R x cols blocks: partial blocks (M, N not a
      // multiple of the array, K not a multiple of R) cost a full step. Operands stream from TSRAM.
      int depth = m_spec.ttu_depth(in.dtype);
      if (depth <= 0) depth = 1;  // lowerings refuse such dtypes; keep the model total
      double steps = std::ceil(double(in.m) / m_spec.ttu.rows) * std::ceil(double(in.n) / m_spec.ttu.cols) *
                     std::ceil(double(in.k) / depth);
      cycles = std::max(steps, static_cast<double>(in.bytes) / m_spec.tile.tsram_bytes_per_clk);
      extra = m_fill;
      break;
    }
    case TxKind::VectorOp: {
      // flops on the SIMD lanes at the format's rate; k = special-function ops per element.
      double rate = m_spec.tvp_flops_per_clk(in.dtype);
      if (rate <= 0) rate = m_spec.tvp.flops_fp32;
      double elems = static_cast<double>(in.m) * in.n;
      cycles = std::max({static_cast<double>(in.flops) / rate, elems * in.k / m_spec.tvp.sfu_ops_per_clk,
                         static_cast<double>(in.bytes) / m_spec.tile.tsram_bytes_per_clk});
      break;
    }
    case TxKind::Sync: return {m_sync, m_sync};
    default: break;
  }
  Tick t = static_cast<Tick>(std::ceil(cycles) * m_ps_per_clk);
  return {t, t + extra};
}

// Tile i belongs to cluster i / cluster.tiles (named by global index so reports aggregate "tile.ttu").
MaiaChip::MaiaChip(sc_core::sc_module_name name, const MaiaSpec& spec)
    : FamilyChip(name, spec, spec.tiles(), "tile", [](const char* n, ExecContext& ctx, int i, const MaiaSpec& s) {
        return std::make_unique<Tile>(n, ctx, i, s, kMaxSlots);
      }) {}

int MaiaChip::slots_for(const Task& sample) const {
  if (sample.smem_bytes == 0) return 1;
  int n = static_cast<int>(m_spec.tile.tsram.value() / sample.smem_bytes);
  return std::max(1, std::min(kMaxSlots, n));
}

}  // namespace xpu::maia
