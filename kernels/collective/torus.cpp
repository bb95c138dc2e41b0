// Dimension-by-dimension rings on a torus (XLA on TPU ICI, Neuron on a 2D/3D torus): reduce-scatter
// along one dimension, then along the next on the 1/d shard, ...; all-gather in reverse. The buffer
// is cut into 2 x D portions: each runs the dimensions in a rotated order (portion r starts with
// dimension r) and in one of the two directions, so every dimension's links and both directions of
// every link work at once, as the multi-axis collectives of the scaling book describe.
#include "kernels/collective/algorithms.h"

namespace xpu::coll {

void lower_torus(Builder& b, CollKind k, std::uint64_t bytes) {
  const Topology& t = b.topo();
  const auto& dims = t.spec().dims;
  std::vector<size_t> axes;  // dimensions with more than one chip
  for (size_t d = 0; d < dims.size(); ++d)
    if (dims[d] > 1) axes.push_back(d);
  std::uint64_t portion = share(bytes, 2 * axes.size());
  Frontier start = b.empty_frontier();
  for (int dir : {+1, -1})
    for (size_t r = 0; r < axes.size(); ++r) {
      std::vector<size_t> order;
      for (size_t i = 0; i < axes.size(); ++i) order.push_back(axes[(r + i) % axes.size()]);
      Frontier f = start;
      std::uint64_t buf = portion;  // the buffer the current dimension's rings work on
      if (k != CollKind::AllGather)
        for (size_t d : order) {
          for (const auto& line : torus_lines(t, 0, d)) b.ring(line, buf, dims[d] - 1, dir, f);
          buf = share(buf, static_cast<std::uint64_t>(dims[d]));
        }
      if (k == CollKind::ReduceScatter) continue;
      if (k == CollKind::AllGather) buf = share(portion, static_cast<std::uint64_t>(t.ranks()));
      for (size_t i = order.size(); i-- > 0;) {
        size_t d = order[i];
        buf *= static_cast<std::uint64_t>(dims[d]);
        for (const auto& line : torus_lines(t, 0, d)) b.ring(line, buf, dims[d] - 1, dir, f);
      }
    }
}

}  // namespace xpu::coll
