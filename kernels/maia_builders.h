// The Maia family's instruction builders (chips/maia/isa.h): cluster and tile DMAs (with their level
// flags), TTU matmul tiles and TVP vector ops, and the per-tile program skeleton.
#pragma once
#include <algorithm>
#include <functional>
#include <string>

#include "chips/maia/isa.h"
#include "chips/maia/maia_spec.h"
#include "kernels/common/builders.h"

namespace xpu::maia {

using build::after;

// A DMA on `engine` (cluster DMA, a tile DMA read channel or the write channel); `level` is a Level
// with its flags (kToCsram, kWeights); m x n the transfer's rows x columns where it matters.
inline Instr dma(TxKind kind, Engine engine, std::uint8_t level, DType d, std::uint64_t addr, std::uint64_t bytes,
                 std::uint32_t m = 0, std::uint32_t n = 0) {
  return build::dma(kind, engine, level, d, addr, bytes, m, n);
}
// A streamed HBM <-> TSRAM transfer of `rows` rows (at least one row and one byte; fractional byte
// counts are truncated).
inline Instr stream(TxKind kind, Engine engine, std::uint64_t addr, std::uint64_t bytes, std::int64_t rows, DType d) {
  return dma(kind, engine, kHbm, d, addr, std::max<std::uint64_t>(1, bytes),
             static_cast<std::uint32_t>(std::max<std::int64_t>(1, rows)));
}
// A TTU matmul tile m x n x k at the rate of format `rate`, operands of ea / eb bytes per element.
inline Instr ttu(std::int64_t m, std::int64_t n, std::int64_t k, DType rate, double ea, double eb) {
  return build::mma(kTtu, rate, static_cast<std::uint32_t>(m), static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(k),
                    static_cast<std::uint64_t>(2 * m * n * k), static_cast<std::uint64_t>(m * k * ea + k * n * eb));
}
// A TVP instruction as the ISA fields it: m x n, k special functions, `flops`, `bytes`.
inline Instr tvp_op(DType d, std::uint32_t m, std::uint32_t n, std::uint32_t k, std::uint64_t flops, std::uint64_t bytes) {
  return build::vec(kTvp, d, m, n, k, flops, bytes);
}
// The TVP over rows x cols in fp32: `flops_per_elem` lane operations, `sfu` special functions per
// element, `bytes_per_elem` TSRAM traffic.
inline Instr tvp(std::int64_t rows, std::int64_t cols, double flops_per_elem, int sfu, double bytes_per_elem) {
  const double e = static_cast<double>(rows) * cols;
  return tvp_op(DType::fp32, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(cols), static_cast<std::uint32_t>(sfu),
                static_cast<std::uint64_t>(flops_per_elem * e), static_cast<std::uint64_t>(bytes_per_elem * e));
}
// A format conversion on the TVP of r x c elements from `from` to an 8-bit TTU format.
inline Instr tvp_convert(std::int64_t r, std::int64_t c, DType from) {
  return tvp_op(from, static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(c), 0, static_cast<std::uint64_t>(r * c),
                static_cast<std::uint64_t>(r * c * (bytes_per_element(from) + 1.0)));
}

// A program of one task per tile (placed on that tile); `build(chunk, task)` emits the tile's chunk.
// Chunk j of the work runs on tile (j mod C) * P + j / C: consecutive chunks on different clusters,
// so that every cluster's NoC port towards HBM carries a share.
inline Program per_tile_program(const std::string& name, const OpSpec& op, const std::string& strategy, const MaiaSpec& spec,
                                std::function<void(int chunk, Task& task)> build) {
  const int tiles = spec.tiles(), P = spec.cluster.tiles, C = spec.cluster.count;
  auto make = [build, P, C](std::uint64_t index, Task& task) {
    task.place = static_cast<std::int32_t>(index);
    const int tile = static_cast<int>(index);
    build((tile % P) * C + tile / P, task);
  };
  return build::static_program(build::program(name, op, strategy, static_cast<std::uint64_t>(tiles), make));
}

}  // namespace xpu::maia
