// GEMM lowered for the Maia family: cluster blocks over clusters, a pr x pc grid of tile sub-blocks
// inside each cluster, operands that several tiles share staged once into CSRAM by the cluster DMA
// (the NoC broadcast), K accumulated in the TTU in chunks of a multiple of its depth R, split-K with
// a TVP reduction when there are too few blocks for the clusters. Weights come from HBM, or from
// CSRAM when the placement policy pinned them.
#pragma once
#include <string>

#include "chips/maia/maia_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::maia {

struct GemmTiling {
  int pr = 1, pc = 4;     // tile grid inside a cluster (pr * pc = tiles per cluster)
  int tm = 128, tn = 128; // tile sub-block (output rows x cols one tile accumulates)
  int kc = 256;           // K chunk per step (multiple of the TTU depth R)
  int split_k = 1;
  int nbuf = 2;           // TSRAM operand buffers: K steps in flight (prefetch depth, 2..16)
  bool whole_a = false;   // A's panel is small: staged once for the whole K slice
  bool stage_a = true;    // A chunk shared by pc > 1 tiles: staged once per cluster
  bool stage_b = false;   // B chunk shared by pr > 1 tiles: staged once per cluster
  bool pinned = false;    // weights read from CSRAM (placement policy)
  double tsram_bytes = 0; // TSRAM footprint of one task
  double estimate_s = 0;  // the heuristic's own estimate (not the simulation)
  std::string str() const;
};

// Enumerates grids, sub-block sizes and split-K factors that fit TSRAM and CSRAM and estimates each
// as rounds x max(TTU time, cluster HBM share, tile port, CSRAM banks) plus prologue, epilogue and
// split-K reduction; keeps the cheapest. Pure function of the op and the spec.
GemmTiling choose_gemm_tiling(const OpSpec& op, const MaiaSpec& spec);

KernelPrograms lower_gemm(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt);
KernelPrograms lower_gemm(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt, const GemmTiling& t);

}  // namespace xpu::maia
