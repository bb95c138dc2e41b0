#include "sim/base/program.h"

#include "sim/base/limits.h"
#include "sim/base/units.h"

namespace xpu {

std::size_t g_task_instr_cap = static_cast<std::size_t>(1) << 26;

void set_task_instr_cap(std::size_t n) { g_task_instr_cap = n; }

void task_too_large(std::size_t n) {
  throw ResourceError("one task of this kernel needs more than " + std::to_string(n) + " instructions (" +
                      format_bytes(static_cast<double>(n) * sizeof(Instr)) +
                      "): too large to simulate within the limits; raise --max-transactions and --max-memory, "
                      "or reduce the op's dimensions",
                      "--max-transactions");
}

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
