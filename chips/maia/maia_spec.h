// Parameters of a Maia-style accelerator (clusters of tiles with tensor and vector units, tile and
// cluster SRAM, a DMA hierarchy, HBM, and the weight-placement policy), parsed from a preset in
// chips/maia/presets/. Every figure's source or assumption is written beside it there.
#pragma once
#include <string>

#include "sim/base/config.h"
#include "sim/base/dtype.h"
#include "sim/memory/i_dram.h"
#include "sim/interconnect/i_channel.h"

namespace xpu::maia {

// Tile Tensor Unit, described as "16 x R x 16" for Maia 100 [HC24-MAIA100]: per clock it multiplies a
// rows x R block of activations by an R x cols block of weights. R (the reduction depth) grows as the
// format narrows; 0 means the TTU has no path for that format.
struct TtuSpec {
  int rows = 16, cols = 16;
  int depth_bf16 = 0, depth_fp16 = 0, depth_fp8 = 0, depth_fp6 = 0, depth_fp4 = 0;
  double fill_cycles = 32;  // pipeline fill + drain of one TTU operation (latency, not occupancy)
};

// Tile Vector Processor: SIMD FLOPs per clock by format (0 = not supported) and special functions.
struct TvpSpec {
  double flops_fp32 = 0, flops_bf16 = 0, flops_fp16 = 0, flops_fp8 = 0;
  double sfu_ops_per_clk = 32;
};

struct TileSpec {
  Bytes tsram;                      // tile SRAM capacity
  double tsram_bytes_per_clk = 0;   // TSRAM read bandwidth feeding TTU/TVP
  double dma_bytes_per_clk = 0;     // tile DMA port (NoC / CSRAM <-> TSRAM)
  double dma_issue_cycles = 8;      // descriptor processing per DMA
  double task_start_cycles = 100;   // TCP program start per task
  double sync_cycles = 20;          // hardware semaphore wait/signal
};

struct ClusterSpec {
  int count = 0;
  int tiles = 0;                    // tiles per cluster
  Bytes csram;                      // cluster SRAM capacity
  double csram_bytes_per_clk = 0;   // CSRAM bank bandwidth shared by the cluster's tiles
  double noc_bytes_per_clk = 0;     // cluster's NoC port towards HBM (cluster DMA)
  Seconds csram_latency;            // access latency of a CSRAM read
};

// What may stay on die. Weights whose bytes fit the budget are pinned in SRAM (read from CSRAM by
// the tiles) when `weights_in_sram` is on; otherwise they stream from HBM.
struct PlacementSpec {
  bool weights_in_sram = false;
  Bytes tsram_reserved;  // per tile, kept for working buffers when weights are pinned
  Bytes csram_reserved;  // per cluster, kept for staging buffers when weights are pinned
};

struct MaiaSpec {
  std::string name, description, family;
  Hertz clock;
  ClusterSpec cluster;
  TileSpec tile;
  TtuSpec ttu;
  TvpSpec tvp;
  HbmSpec hbm;
  OnChipSpec onchip;  // which on-chip channel model the ports and DMA queues use
  PlacementSpec placement;
  std::string bf16_matmul = "fp8";  // "fp8": convert 16-bit matmul operands to FP8 on the TVP; "refuse"
  Seconds launch_overhead;

  int tiles() const { return cluster.count * cluster.tiles; }
  int ttu_depth(DType d) const;                 // R for `d`, 0 if the TTU has no path
  double ttu_flops_per_clk(DType d) const;      // per tile: 2 * rows * cols * R
  double tvp_flops_per_clk(DType d) const;      // per tile
  double peak_flops(DType d) const;             // whole chip, TTU formats only (0 otherwise)
  DType matmul_rate_dtype(DType d) const;       // FP8 for a BF16/FP16 matmul converted by bf16_matmul=fp8
  double sram_bytes() const;                    // TSRAM + CSRAM of the whole die
  double weight_sram_budget() const;            // SRAM the placement policy may fill with weights
  double tile_dma_bw() const { return tile.dma_bytes_per_clk * clock.value(); }
  double csram_bw() const { return cluster.csram_bytes_per_clk * clock.value(); }   // per cluster
  double noc_port_bw() const { return cluster.noc_bytes_per_clk * clock.value(); }  // per cluster
  double hbm_stream_bw() const { return hbm.bandwidth.value() * hbm.efficiency; }
};

void describe(Params& p, MaiaSpec& s);

}  // namespace xpu::maia
