#include "chips/maia/maia_spec.h"

namespace xpu::maia {

int MaiaSpec::ttu_depth(DType d) const {
  switch (d) {
    case DType::bf16: return ttu.depth_bf16;
    case DType::fp16: return ttu.depth_fp16;
    case DType::fp8: return ttu.depth_fp8;
    case DType::fp6: return ttu.depth_fp6;
    case DType::fp4: return ttu.depth_fp4;
    default: return 0;  // fp32, tf32, int8: no TTU path
  }
}

double MaiaSpec::ttu_flops_per_clk(DType d) const { return 2.0 * ttu.rows * ttu.cols * ttu_depth(d); }

double MaiaSpec::tvp_flops_per_clk(DType d) const {
  switch (d) {
    case DType::fp32: return tvp.flops_fp32;
    case DType::bf16: return tvp.flops_bf16;
    case DType::fp16: return tvp.flops_fp16;
    case DType::fp8: return tvp.flops_fp8;
    default: return 0;
  }
}

double MaiaSpec::peak_flops(DType d) const { return ttu_flops_per_clk(d) * tiles() * clock.value(); }

DType MaiaSpec::matmul_rate_dtype(DType d) const {
  const bool sixteen = d == DType::bf16 || d == DType::fp16;
  return sixteen && ttu_depth(d) == 0 && bf16_matmul == "fp8" ? DType::fp8 : d;
}

double MaiaSpec::sram_bytes() const {
  return tiles() * tile.tsram.value() + cluster.count * cluster.csram.value();
}

double MaiaSpec::weight_sram_budget() const {
  double b = sram_bytes() - tiles() * placement.tsram_reserved.value() - cluster.count * placement.csram_reserved.value();
  return b > 0 ? b : 0;
}

void describe(Params& p, MaiaSpec& s) {
  p("name", s.name, "Preset name as used on the command line", "");
  p("description", s.description, "One line describing the part", "");
  p("family", s.family, "Chip family (maia)", "maia");
  p("clock", s.clock, "Tile clock (TTU, TVP, TSRAM, DMA ports and CSRAM banks count in it)");
  p("cluster.count", s.cluster.count, "Clusters on the die");
  p("cluster.tiles", s.cluster.tiles, "Tiles per cluster");
  p("cluster.csram", s.cluster.csram, "Cluster SRAM (CSRAM) per cluster");
  p("cluster.csram_bytes_per_clk", s.cluster.csram_bytes_per_clk,
    "CSRAM bank bandwidth per cluster, shared by the cluster's tile DMAs and its cluster DMA");
  p("cluster.noc_bytes_per_clk", s.cluster.noc_bytes_per_clk,
    "Bytes per clock of a cluster's NoC port towards HBM (cluster DMA and tile DMAs going to HBM)");
  p("cluster.csram_latency", s.cluster.csram_latency, "Latency of a CSRAM read by a tile DMA", "50 ns");
  p("tile.tsram", s.tile.tsram, "Tile SRAM (TSRAM) per tile");
  p("tile.tsram_bytes_per_clk", s.tile.tsram_bytes_per_clk, "TSRAM bandwidth feeding the TTU and TVP per clock");
  p("tile.dma_bytes_per_clk", s.tile.dma_bytes_per_clk, "Tile DMA port bandwidth (NoC/CSRAM <-> TSRAM) per clock");
  p("tile.dma_issue_cycles", s.tile.dma_issue_cycles, "Cycles a DMA queue spends on one descriptor", "8");
  p("tile.task_start_cycles", s.tile.task_start_cycles, "Cycles for the tile control processor to start a task", "100");
  p("tile.sync_cycles", s.tile.sync_cycles, "Cycles of a hardware-semaphore wait/signal", "20");
  p("ttu.rows", s.ttu.rows, "TTU rows: activation rows multiplied per clock (M granularity)", "16");
  p("ttu.cols", s.ttu.cols, "TTU columns: weight columns per clock (N granularity)", "16");
  p("ttu.depth.bf16", s.ttu.depth_bf16, "TTU reduction depth R for BF16 (0: no BF16 on the TTU)", "0");
  p("ttu.depth.fp16", s.ttu.depth_fp16, "TTU reduction depth R for FP16 (0: none)", "0");
  p("ttu.depth.fp8", s.ttu.depth_fp8, "TTU reduction depth R for FP8 (0: none)", "0");
  p("ttu.depth.fp6", s.ttu.depth_fp6, "TTU reduction depth R for FP6 (0: none)", "0");
  p("ttu.depth.fp4", s.ttu.depth_fp4, "TTU reduction depth R for FP4 (0: none)", "0");
  p("ttu.fill_cycles", s.ttu.fill_cycles, "TTU pipeline fill and drain per operation (latency only)", "32");
  p("tvp.flops_per_clk.fp32", s.tvp.flops_fp32, "TVP FP32 FLOPs per clock per tile (FMA = 2)");
  p("tvp.flops_per_clk.bf16", s.tvp.flops_bf16, "TVP BF16 FLOPs per clock per tile (0: none)", "0");
  p("tvp.flops_per_clk.fp16", s.tvp.flops_fp16, "TVP FP16 FLOPs per clock per tile (0: none)", "0");
  p("tvp.flops_per_clk.fp8", s.tvp.flops_fp8, "TVP FP8 FLOPs per clock per tile (0: none)", "0");
  p("tvp.sfu_ops_per_clk", s.tvp.sfu_ops_per_clk, "TVP special-function results (exp, rsqrt) per clock per tile", "32");
  describe(p, s.hbm, "hbm.");
  describe(p, s.onchip, "onchip.");
  p("placement.weights_in_sram", s.placement.weights_in_sram,
    "Pin an op's weights in on-die SRAM when they fit the SRAM weight budget (else they stream from HBM)", "false");
  p("placement.tsram_reserved", s.placement.tsram_reserved,
    "TSRAM per tile kept for working buffers when weights are pinned (not available to weights)", "256 KiB");
  p("placement.csram_reserved", s.placement.csram_reserved,
    "CSRAM per cluster kept for staging buffers when weights are pinned", "1 MiB");
  p("lowering.bf16_matmul", s.bf16_matmul,
    "BF16/FP16 matmuls on a TTU without that format: 'fp8' converts operands to FP8 on the TVP, 'refuse' rejects them",
    "fp8");
  p("launch_overhead", s.launch_overhead, "Gap between back-to-back kernel launches (host -> cluster cores)", "2 us");
  p.require(s.clock.value() > 0, "clock", "a positive clock");
  p.require(s.cluster.count > 0 && s.cluster.count <= 256, "cluster.count", "1 to 256 clusters");
  p.require(s.cluster.tiles > 0 && s.cluster.tiles <= 64, "cluster.tiles", "1 to 64 tiles per cluster");
  p.require(s.ttu.rows > 0 && s.ttu.rows <= 1024, "ttu.rows", "1 to 1024 TTU rows");
  p.require(s.ttu.cols > 0 && s.ttu.cols <= 1024, "ttu.cols", "1 to 1024 TTU columns");
  p.require(s.tile.tsram.value() > 0, "tile.tsram", "a positive TSRAM size");
  p.require(s.tile.tsram_bytes_per_clk > 0, "tile.tsram_bytes_per_clk", "a positive bandwidth");
  p.require(s.tile.dma_bytes_per_clk > 0, "tile.dma_bytes_per_clk", "a positive bandwidth");
  p.require(s.cluster.csram_bytes_per_clk > 0, "cluster.csram_bytes_per_clk", "a positive bandwidth");
  p.require(s.cluster.noc_bytes_per_clk > 0, "cluster.noc_bytes_per_clk", "a positive bandwidth");
  p.require(s.tvp.flops_fp32 > 0, "tvp.flops_per_clk.fp32", "a positive FP32 vector rate");
  p.require(s.bf16_matmul == "fp8" || s.bf16_matmul == "refuse", "lowering.bf16_matmul", "fp8 or refuse");
  p.require(s.placement.tsram_reserved.value() < s.tile.tsram.value(), "placement.tsram_reserved", "less than tile.tsram",
            "tile.tsram", "more than placement.tsram_reserved");
  p.require(s.placement.csram_reserved.value() <= s.cluster.csram.value(), "placement.csram_reserved",
            "at most cluster.csram", "cluster.csram", "at least placement.csram_reserved");
}

}  // namespace xpu::maia
