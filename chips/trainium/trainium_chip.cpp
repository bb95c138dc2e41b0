#include "chips/trainium/trainium_chip.h"

#include <algorithm>
#include <cmath>

#include "sim/engine/sc_ticks.h"

#include "chips/trainium/isa.h"

namespace xpu::trainium {

TrainiumMemory::TrainiumMemory(sc_core::sc_module_name name, const TrainiumSpec& spec)
    : MemoryTarget(name),
      m_spec(spec),
      m_next(static_cast<size_t>(spec.cores), 0),
      m_hbm(make_dram(spec.hbm)),
      m_overhead(to_ticks(spec.dma.transfer_overhead.value())),
      m_row_overhead(to_ticks(spec.dma.row_overhead.value())),
      m_start_latency(to_ticks(spec.dma.start_latency.value())) {
  for (int c = 0; c < spec.cores; ++c)
    m_dma.emplace_back(spec.onchip.channel, static_cast<size_t>(spec.dma.engines), spec.dma.engine_bandwidth.value());
}

void TrainiumMemory::b_transport(int, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  auto* ext = trans.get_extension<XpuExtension>();
  const Tick now = ext->now_ps;
  // The executor simulates each core's streams in ready-time order; a transfer may still precede
  // the global time by up to one quantum after a sync: arrival_window() books it there.
  const ArrivalWindow w = arrival_window(*ext);
  const Tick horizon = w.horizon;
  // The engines start once the transfer's descriptors are set up and its semaphores seen [NKI-DMABW];
  // the engines are free meanwhile, so a transfer queued behind others hides this latency.
  const Tick arrival = w.arrival + m_start_latency;
  const std::uint64_t bytes = ext->bytes;
  const int engines = m_spec.dma.engines;
  std::uint64_t partitions = ext->run > 0 ? std::max<std::uint64_t>(1, bytes / ext->run) : 128;
  const int used = m_spec.dma.engines_for(partitions);
  auto& q = m_dma[ext->executor % m_dma.size()];
  std::uint32_t& first = m_next[ext->executor % m_next.size()];
  const double per_engine = static_cast<double>(bytes) / used;
  // Each engine also pays a fixed cost per contiguous row it moves (its share of the transfer's rows):
  // rows of a few hundred bytes run well below the engines' bandwidth [NKI-DMA].
  const std::uint64_t rows_per_engine = (partitions + static_cast<std::uint64_t>(used) - 1) / static_cast<std::uint64_t>(used);
  const Tick fixed = m_overhead + static_cast<Tick>(rows_per_engine) * m_row_overhead;
  Tick end = arrival;
  for (int i = 0; i < used; ++i)
    end = std::max(end, q[(first + static_cast<std::uint32_t>(i)) % engines].carry(arrival, per_engine, fixed, horizon));
  first = (first + static_cast<std::uint32_t>(used)) % static_cast<std::uint32_t>(engines);
  // From HBM the engines stream once the first data returns: their end moves by the access latency.
  if (ext->level == kHbm)
    end = std::max(end + to_ticks(m_spec.hbm.latency.value()),
                   m_hbm->access(arrival, trans.get_address(), bytes, ext->run, ext->write, horizon));
  delay = ticks_time(std::max<Tick>(0, end - now));
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

bool TrainiumMemory::reset() {
  for (ChannelBank& b : m_dma) b = ChannelBank(m_spec.onchip.channel, b.size(), b.bandwidth());
  std::fill(m_next.begin(), m_next.end(), 0u);
  m_hbm = make_dram(m_spec.hbm);
  return true;
}

void TrainiumMemory::collect_stats(Stats& out, Tick total) const {
  std::string n = name();
  m_hbm->stats().dump(out, n + ".hbm", total);
  for (size_t c = 0; c < m_dma.size(); ++c) {
    double busy = 0;
    for (size_t e = 0; e < m_dma[c].size(); ++e) busy += static_cast<double>(m_dma[c][e].busy_ticks());
    out.set(n + ".core" + std::to_string(c) + ".dma.utilization",
            total > 0 ? busy / m_dma[c].size() / double(total) : 0, "ratio",
            "mean busy share of the core's DMA engines: the transfers' data movement, in and out");
  }
}

std::string NeuronCore::engine_note(int e) const {
  // The queues are busy only while a transfer triggers (dma.trigger); its bytes move on the core's DMA
  // engines in TrainiumMemory, whose utilization is mem.core<i>.dma.
  const std::string& n = engine_name(e);
  if (n == "dma_in" || n == "dma_out")
    return "issue only: trigger time of the core's " + std::string(n == "dma_in" ? "inbound" : "outbound") +
           " DMA queue (the transfers' data: core.dma)";
  return {};
}

NeuronCore::NeuronCore(sc_core::sc_module_name name, ExecContext& ctx, int index, const TrainiumSpec& spec)
    : Executor(name, ctx, index, {"tensor", "vector", "scalar", "gpsimd", "dma_in", "dma_out"}, 1),
      m_spec(spec),
      m_trigger(to_ticks(spec.dma.trigger.value())) {}

Timing NeuronCore::compute(const Instr& in) {
  auto ticks = [](double cycles, const Hertz& clk) {
    return static_cast<Tick>(std::ceil(cycles) * 1e12 / clk.value() + 0.5);
  };
  if (in.engine == kTensor) {
    const TensorEngineSpec& t = m_spec.tensor;
    if (in.kind == TxKind::Sync) {
      Tick s = ticks(m_spec.sync_cycles, t.clock);
      return {s, s};
    }
    // MultiplyMoving streams the moving free dimension at the sustained share of its data-path rate
    // (tensor.moving_efficiency); the next stationary loads in the background (up to 4x faster); the
    // initiation interval is at least MM_INIT_LATENCY [NKI-T1].
    double rate = m_spec.cols_per_cycle(in.dtype);
    if (rate <= 0) rate = t.fp32;
    double cycles = std::max({in.n / (rate * t.moving_efficiency), t.mm_init_cycles, in.m / (rate * t.load_stationary_speedup)});
    return {ticks(cycles, t.clock), ticks(cycles + t.pipeline_cycles, t.clock)};
  }
  const LaneEngineSpec& e = in.engine == kScalar ? m_spec.scalar : in.engine == kGpSimd ? m_spec.gpsimd : m_spec.vector;
  if (in.kind == TxKind::Sync) {
    Tick s = ticks(m_spec.sync_cycles, e.clock);
    return {s, s};
  }
  // All lanes stream in parallel: cost follows the free size times the input tiles read [NKI-T1].
  double per_lane = e.rate(in.dtype) / 128.0;
  double cycles = static_cast<double>(in.n) * std::max<std::uint32_t>(1, in.k) / per_lane + e.issue_cycles;
  return {ticks(cycles, e.clock), ticks(cycles + e.fixed_latency_cycles, e.clock)};
}

TrainiumChip::TrainiumChip(sc_core::sc_module_name name, const TrainiumSpec& spec)
    : FamilyChip(name, spec, spec.cores, "core", [](const char* n, ExecContext& ctx, int i, const TrainiumSpec& s) {
        return std::make_unique<NeuronCore>(n, ctx, i, s);
      }) {
  // The NeuronCores' DMA transfers queue on the shared HBM channels, which serve them in the order they are
  // booked: each core's copies are booked in arrival order with every other core's (README "Simulation speed",
  // speed62: without it a 2048^3 GEMM ran 8.3% slower at the default quantum than at 12.5 ns and below).
  m_ctx.copies_in_arrival_order = true;
}

}  // namespace xpu::trainium
