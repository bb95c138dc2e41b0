// TensorCore timing (MXU folds, vector unit, scalar unit) and the TPU memory target.
#include "chips/tpu/tpu_chip.h"

#include <algorithm>
#include <cmath>

#include "sim/engine/sc_ticks.h"

#include "chips/tpu/isa.h"

namespace xpu::tpu {

TpuMemory::TpuMemory(sc_core::sc_module_name name, const TpuSpec& spec)
    : MemoryTarget(name),
      m_spec(spec),
      m_dma(spec.onchip.channel, static_cast<size_t>(spec.tensorcores), spec.dma_bandwidth.value()),
      m_cmem(spec.onchip.channel, 1, spec.cmem_bandwidth.value()),
      m_hbm(make_dram(spec.hbm)) {
}

void TpuMemory::b_transport(int, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  auto* ext = trans.get_extension<XpuExtension>();
  const Tick now = ext->now_ps;
  const ArrivalWindow w = arrival_window(*ext);
  const Tick arrival = w.arrival, horizon = w.horizon;
  const std::uint64_t bytes = ext->bytes;
  // The core's DMA path and the memory stream the block concurrently; the slower sets the end. An HBM
  // copy's first bytes reach the DMA path one access latency after it starts (hbm.latency in,
  // hbm.write_latency out), so the path streams from then on: a copy alone takes latency + bytes / rate,
  // and one queued behind another on the path hides its latency under the earlier one's stream. That
  // is OpenXLA's TPU cost model ([XLA-COST] openxla/xla@acb91cba
  // xla/benchmarks/pallas_microbenchmarks/cost_model.py, _dma_latency: "the sum of the total transfer
  // time with the latency of the last DMA operation to complete"), with its constants in the presets,
  // and what the Ironwood HBM copy table shows (AI-Hypercomputer/accelerator-microbenchmarks
  // Ironwood/guides/hbm: per TensorCore, 2 MiB to 8 GiB, a fixed ~1.3 us = 692 + 594 ns over 2 x size
  // at 3.2 TB/s). Where the HBM's own share is the slower stream (v5e), nothing changes.
  const bool hbm_level = !(ext->level == kCmem && m_spec.cmem_capacity.value() > 0);
  const Tick first_byte = hbm_level && bytes > 0 ? to_ticks(ext->write ? m_spec.hbm.write_latency_s() : m_spec.hbm.latency.value()) : 0;
  Tick end = m_dma[ext->executor % m_dma.size()].carry(arrival + first_byte, static_cast<double>(bytes), 0, horizon);
  if (!hbm_level) {
    end = std::max(end, m_cmem[0].carry(arrival, static_cast<double>(bytes), 0, horizon));
    m_cmem_bytes += static_cast<double>(bytes);
  } else {
    end = std::max(end, m_hbm->access(arrival, trans.get_address(), bytes, ext->run, ext->write, horizon));
  }
  delay = ticks_time(std::max<Tick>(0, end - now));
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

bool TpuMemory::reset() {
  m_dma = ChannelBank(m_spec.onchip.channel, m_dma.size(), m_dma.bandwidth());
  m_cmem = ChannelBank(m_spec.onchip.channel, m_cmem.size(), m_cmem.bandwidth());
  m_hbm = make_dram(m_spec.hbm);
  m_cmem_bytes = 0;
  return true;
}

void TpuMemory::collect_stats(Stats& out, Tick total) const {
  std::string n = name();
  m_hbm->stats().dump(out, n + ".hbm", total);
  if (m_spec.cmem_capacity.value() > 0) out.set(n + ".cmem.bytes", m_cmem_bytes, "B", "bytes served by CMEM");
  for (size_t i = 0; i < m_dma.size(); ++i)
    out.set(n + ".dma" + std::to_string(i) + ".utilization",
            total > 0 ? static_cast<double>(m_dma[i].busy_ticks()) / static_cast<double>(total) : 0, "ratio",
            "streaming time of TensorCore " + std::to_string(i) + "'s copies in and out (HBM/CMEM <-> VMEM DMA path)");
}

std::string TensorCore::engine_note(int e) const {
  // The queues hold a copy only while its descriptor issues (dma_issue_cycles); the copy's bytes stream
  // on the TensorCore's DMA path in TpuMemory, whose utilization is mem.dma<i>.
  const std::string& n = engine_name(e);
  if (n == "dma_in") return "issue only: descriptor time of the inbound copy queue (the copies' data: mem.dma<core>)";
  if (n == "dma_out") return "issue only: descriptor time of the outbound copy queue (the copies' data: mem.dma<core>)";
  return {};
}

std::vector<std::string> TensorCore::engine_names(const TpuSpec& spec) {
  std::vector<std::string> e = {"dma_in", "dma_out", "vpu", "scalar"};
  for (int j = 0; j < spec.mxu.count; ++j) {
    e.push_back("mxu" + std::to_string(j));
    e.push_back("mxu" + std::to_string(j) + "_weights");
  }
  return e;
}

TensorCore::TensorCore(sc_core::sc_module_name name, ExecContext& ctx, int index, const TpuSpec& spec)
    : Executor(name, ctx, index, engine_names(spec), 1), m_spec(spec) {
  m_ps_per_clk = 1e12 / spec.clock.value();
  m_dma_issue = cycles(spec.dma_issue_cycles);
}

Tick TensorCore::cycles(double c) const { return static_cast<Tick>(std::ceil(c) * m_ps_per_clk + 0.5); }

Timing TensorCore::compute(const Instr& in) {
  const int R = m_spec.mxu.rows, C = m_spec.mxu.cols;
  switch (in.kind) {
    case TxKind::TileCompute: {
      const int passes = m_spec.passes(in.dtype);
      if (is_mxu_weights(in.engine)) {
        // Weights shift in one array row per clock, whatever the fold's valid extent.
        Tick t = cycles(static_cast<double>(R) * passes);
        return {t, t};
      }
      // One LHS row enters per clock; the port is free once the last row has entered.
      Tick t = cycles(static_cast<double>(std::max<std::uint32_t>(in.m, 1)) * passes);
      return {t, t};
    }
    case TxKind::VectorOp: {
      // k = transcendental ops per element, flops on the ALUs, bytes through VMEM load/store slots.
      double elems = static_cast<double>(in.m) * in.n;
      double c = std::max({static_cast<double>(in.flops) / m_spec.vpu_ops_per_clk(),
                           elems * in.k / m_spec.vpu.transcendentals_per_clk,
                           static_cast<double>(in.bytes) / m_spec.vmem_bytes_per_clk});
      Tick t = cycles(c);
      return {t, t};
    }
    case TxKind::Sync: {
      if (is_mxu_data(in.engine)) return {0, cycles(R + C - 2)};  // drain of the array
      if (in.engine == kScalar) {  // n grid steps of bookkeeping; n = 0 is a plain semaphore wait
        Tick t = cycles(m_spec.step_cycles * in.n);
        return {t, t};
      }
      return {0, 0};  // a semaphore wait (join) on a DMA queue or the vector unit
    }
    default: break;
  }
  return {0, 0};
}

TpuChip::TpuChip(sc_core::sc_module_name name, const TpuSpec& spec)
    : FamilyChip(name, spec, spec.tensorcores, "tc", [](const char* n, ExecContext& ctx, int i, const TpuSpec& s) {
        return std::make_unique<TensorCore>(n, ctx, i, s);
      }) {
  // The TensorCores' DMA transfers share the HBM calendars, served in the order they are booked: booked in
  // arrival order across TensorCores, as Trainium's (README "Simulation speed", speed62).
  m_ctx.copies_in_arrival_order = true;
}

}  // namespace xpu::tpu
