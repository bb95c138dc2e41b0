// Parameters of a Trainium/Inferentia chip (NeuronCore count, per-engine clocks and data-path
// widths, SBUF/PSUM geometry, DMA engines, HBM), parsed from a preset in chips/trainium/presets/.
// Every figure's source is written beside it in the preset.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>

#include "sim/base/config.h"
#include "sim/base/dtype.h"
#include "sim/memory/i_dram.h"
#include "sim/interconnect/i_channel.h"

namespace xpu::trainium {

// The Tensor Engine: a 128x128 systolic array. A MultiplyMoving instruction streams the moving
// tensor's free dimension through the array at `cols_per_cycle` columns per cycle, of which back-to-back
// MultiplyMoving instructions sustain `moving_efficiency`; its initiation interval is
// max(N / (rate x moving_efficiency), mm_init_cycles) [NKI-T1].
struct TensorEngineSpec {
  Hertz clock;
  double bf16 = 1, fp16 = 1, tf32 = 1, fp8 = 0, fp4 = 0, int8 = 0, fp32 = 0.25;  // moving columns / cycle
  double mm_init_cycles = 64;
  double moving_efficiency = 1;        // sustained share of `cols_per_cycle` over back-to-back MultiplyMoving
  double load_stationary_speedup = 4;  // LoadStationary runs up to 4x faster than MultiplyMoving
  double pipeline_cycles = 128;        // fill + drain before the PSUM result is readable
};

// A lane engine (Vector, Scalar, GpSimd): 128 partitions streamed along the free dimension.
struct LaneEngineSpec {
  Hertz clock;
  double elems_16bit = 128;   // elements per cycle (all lanes) for 16/8-bit operands
  double elems_32bit = 128;   // elements per cycle for 32-bit operands
  double issue_cycles = 16;   // busy cycles per instruction besides streaming (decode, semaphore)
  double fixed_latency_cycles = 100;  // latency of a dependent instruction besides streaming
  double rate(DType d) const { return bytes_per_element(d) <= 2 ? elems_16bit : elems_32bit; }
};

struct DmaSpec {
  int engines = 16;                 // DMA engines paired with one NeuronCore
  Bandwidth engine_bandwidth;       // per DMA engine
  int partitions_per_engine = 8;    // 128 partitions / 16 engines: a transfer spreads by partitions
  Seconds transfer_overhead;        // engine occupancy per transfer besides streaming
  Seconds start_latency;            // trigger to the engines' start (descriptor setup, semaphores); not occupancy
  Seconds row_overhead;             // engine occupancy per contiguous row (descriptor element) it moves
  Seconds trigger;                  // sequencer time to trigger one transfer
  // Engines a transfer of `partitions` rows spreads over: ceil(partitions / partitions_per_engine), at most all,
  // at least one (TrainiumMemory times it so; the GEMM plan estimate prices a plan by it).
  int engines_for(std::uint64_t partitions) const {
    const auto per = static_cast<std::uint64_t>(partitions_per_engine);
    return static_cast<int>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(static_cast<std::uint64_t>(engines), (partitions + per - 1) / per)));
  }
};

struct TrainiumSpec {
  std::string name, description, family, neuroncore;
  int cores = 0;        // NeuronCores per chip
  int cores_used = 0;   // NeuronCores a kernel is split over (0 = all), as the compiler's logical core
  TensorEngineSpec tensor;
  LaneEngineSpec vector, scalar, gpsimd;
  Bytes sbuf_per_partition, psum_per_partition;
  int psum_banks = 8;
  DmaSpec dma;
  HbmSpec hbm;
  OnChipSpec onchip;  // which on-chip channel model the ports and DMA queues use
  Seconds launch_overhead;  // gap between dependent kernels (cross-core barrier, next program)
  double sync_cycles = 8;   // semaphore wait/signal on an engine sequencer
  int dma_buffers = 2;      // lowering: SBUF buffers per streamed operand (2 = double buffering)
  // Attention as AWS transformers-neuronx builds it (OpSpec::impl "transformers-neuronx"): its NKI
  // flash kernel from this many prompt tokens on, below it the HLO graph with the scores materialized;
  // 0: a release without the kernel (before transformers-neuronx 0.11.351.0), the HLO graph at every length.
  int tnx_flash_min_tokens = 4096;
  // Share of SBUF the compiler keeps a materialized intermediate in; a larger one goes through HBM
  // between the HLO ops that produce and consume it.
  double materialized_sbuf_share = 0.5;
  // Which lane engine converts weights stored in a format the Tensor Engine does not take (int8) into the
  // matmul dtype, one pass per weight tile: "vector", "scalar", "gpsimd", or "auto" (the faster by this
  // preset's rates of the two engines NKI's tensor_copy runs on every NeuronCore generation, Vector and GpSimd).
  std::string weight_convert_engine = "auto";

  int active_cores() const { return cores_used > 0 ? cores_used : cores; }
  double cols_per_cycle(DType d) const;          // Tensor Engine moving columns per cycle (0: none)
  double core_peak_flops(DType d) const;          // one NeuronCore, dense
  double peak_flops(DType d) const;               // the cores a kernel runs on
  double sbuf_bytes() const { return sbuf_per_partition.value() * 128; }
  double core_dma_bandwidth() const { return dma.engines * dma.engine_bandwidth.value(); }
};

void describe(Params& p, TrainiumSpec& s);

}  // namespace xpu::trainium
