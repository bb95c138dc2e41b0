// NVLS (NVLink SHARP) in one switched node: reduce-scatter with multimem loads that the switch
// reduces, all-gather with multimem stores that it multicasts; all-reduce = both. Each chip's link
// carries (1 + 1/n) of the buffer each way instead of the ring's 2(n-1)/n.
#include "kernels/collective/algorithms.h"

namespace xpu::coll {

void lower_nvls(Builder& b, CollKind k, std::uint64_t bytes) {
  const Topology& t = b.topo();
  std::vector<int> group = ring_order(t, 0);
  int sw = t.node_switch(0);
  Frontier f = b.empty_frontier();
  // NCCL's NVLS all-reduce copies each loop into its NVLS buffer and the result out of it (scatter
  // and gather warps, src/device/all_reduce.h) unless the user buffers are registered (not in
  // nccl-tests' default runs). Each loop (channels x heads x chunk) gives channel b its b-th heads x
  // chunk (all_reduce.h: offset = gridOffset + bid * nHeads * chunkSize), so a message of up to heads x
  // chunk (128 KiB with the 16 KiB chunk of enqueue.cc's rule on 8 GPUs) is copied by one channel's
  // warps alone, and 1 MiB by 8 of the 16.
  const double heads = static_cast<double>(group.size());
  b.set_nvls_copies(k == CollKind::AllReduce, heads * nvls_chunk(t.spec(), static_cast<int>(group.size()), b.program().bytes));
  if (k != CollKind::AllGather) b.nvls_reduce_scatter(group, sw, bytes, f);
  if (k != CollKind::ReduceScatter) b.nvls_all_gather(group, sw, bytes, f);
}

}  // namespace xpu::coll
