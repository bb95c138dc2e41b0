#include "sim/base/program.h"

namespace xpu {
const char* name(TxKind k) {
  switch (k) {
    case TxKind::DmaRead: return "dma_read";
    case TxKind::DmaWrite: return "dma_write";
    case TxKind::TileCompute: return "tile_compute";
    case TxKind::VectorOp: return "vector_op";
    case TxKind::Sync: return "sync";
  }
  return "?";
}
}  // namespace xpu
