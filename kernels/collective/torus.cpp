// Dimension-by-dimension rings on a torus (XLA on TPU ICI, Neuron on a 2D/3D torus): reduce-scatter
// along dimension 0, then along 1 on the 1/d0 shard, ...; all-gather in reverse. The buffer is
// split in two halves that circulate in opposite directions so both directions of every link work.
#include "kernels/collective/algorithms.h"

namespace xpu::coll {

void lower_torus(Builder& b, CollKind k, std::uint64_t bytes) {
  const Topology& t = b.topo();
  const auto& dims = t.spec().dims;
  Frontier start = b.empty_frontier();
  for (int dir : {+1, -1}) {
    Frontier f = start;
    std::uint64_t half = share(bytes, 2);
    std::uint64_t buf = half;  // the buffer the current dimension's rings work on
    if (k != CollKind::AllGather)
      for (size_t d = 0; d < dims.size(); ++d) {
        if (dims[d] < 2) continue;
        for (const auto& line : torus_lines(t, 0, d)) b.ring(line, buf, dims[d] - 1, dir, f);
        buf = share(buf, static_cast<std::uint64_t>(dims[d]));
      }
    if (k == CollKind::ReduceScatter) continue;
    if (k == CollKind::AllGather) buf = share(half, static_cast<std::uint64_t>(t.ranks()));
    for (size_t i = dims.size(); i-- > 0;) {
      if (dims[i] < 2) continue;
      buf *= static_cast<std::uint64_t>(dims[i]);
      for (const auto& line : torus_lines(t, 0, i)) b.ring(line, buf, dims[i] - 1, dir, f);
    }
  }
}

}  // namespace xpu::coll
