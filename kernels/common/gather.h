// The operands of an embedding lowering that gathers table rows by DMA (Maia, Trainium).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/common/lowering.h"

namespace xpu {

// The table, token ids and output tensors, their element sizes and the table's rows.
struct Gather {
  TensorRef table, ids, out;
  double w = 0, o = 0;      // bytes per element of the table and of the output
  std::uint64_t vocab = 1;  // table rows (the op's n, at least 1)
  // The table row token `t` reads: ids are data dependent, so a hash spreads the tokens over the table.
  std::uint64_t row_of(std::int64_t t) const { return static_cast<std::uint64_t>((t * 2654435761ull) % vocab); }
};

inline Gather gather_operands(const OpSpec& op, const LowerOptions& opt) {
  const std::string label = op.label.empty() ? "embedding" : op.label;
  Gather g;
  g.table = opt.ref(label, "table"), g.ids = opt.ref(label, "ids"), g.out = opt.ref(label, "out");
  g.w = bytes_per_element(op.wdtype), g.o = bytes_per_element(op.odtype);
  g.vocab = static_cast<std::uint64_t>(std::max<std::int64_t>(1, op.n));
  return g;
}

}  // namespace xpu
