// The Maia family's instruction set as seen by programs: which tile engine issues an instruction and
// which path through the memory hierarchy (HBM, cluster SRAM, tile SRAM) a DMA takes.
#pragma once
#include <cstdint>

namespace xpu::maia {

// Tile engines (Instr::engine). Per [MS-DEEPDIVE] via [GK-MAIA200]: a tile holds a Tile Tensor Unit,
// a Tile Vector Processor, a tile DMA and a control processor; each cluster a cluster DMA. The tile
// DMA is multichannel, modelled as separate read and write queues.
enum Engine : std::uint8_t {
  kCdma = 0,    // requests to the cluster DMA (HBM -> CSRAM staging), issued by the tile's TCP
  kTdma = 1,    // tile DMA read channel 0 (activations): HBM or CSRAM -> TSRAM
  kTdma1 = 2,   // tile DMA read channel 1 (weights, K/V): HBM or CSRAM -> TSRAM
  kTdmaWr = 3,  // tile DMA write channel: TSRAM -> HBM or CSRAM
  kTtu = 4,     // Tile Tensor Unit: matmul tiles, operands from TSRAM
  kTvp = 5,     // Tile Vector Processor: elementwise, reductions, softmax, format conversion
  kNumEngines = 6,
};

// Memory levels (Instr::level, low 3 bits): where a DMA reads from (DmaRead) or writes to (DmaWrite).
// The other end is the issuing tile's TSRAM, unless kToCsram is set.
enum Level : std::uint8_t {
  kHbm = 0,    // HBM, through the cluster's NoC port
  kCsram = 1,  // CSRAM of the tile's cluster (tile DMA)
  kTsram = 2,  // tile-local (no transfer); reserved
};
constexpr std::uint8_t kLevelMask = 0x7;
// Flag: this tile's 1/P share of a chunk that the cluster DMA stages from HBM into CSRAM, for all P
// tiles of the cluster to read from there (no cross-tile handshake: each tile waits for its share).
constexpr std::uint8_t kToCsram = 0x10;
// Flag: this transfer reads a weight from its home location (HBM when weights stream, CSRAM when
// the placement policy pinned them on die); the memory counts weight bytes by source so reports
// show where weights came from.
constexpr std::uint8_t kWeights = 0x08;
// Engine counters and reports index bytes by level & 7: level 0 is all HBM traffic requested (before
// the NoC broadcast merges identical reads), level 1 all CSRAM traffic.

}  // namespace xpu::maia
