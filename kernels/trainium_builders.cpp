#include "kernels/trainium_builders.h"

#include <algorithm>

namespace xpu::trainium {

void check_matmul(int stationary_free, int moving_free, int contraction) {
  if (stationary_free < 1 || stationary_free > kMaxStationaryFree)
    throw std::logic_error("trainium lowering: stationary free size " + std::to_string(stationary_free) +
                     " outside 1..128 (PE columns)");
  if (moving_free < 1 || moving_free > kMaxMovingFree)
    throw std::logic_error("trainium lowering: moving free size " + std::to_string(moving_free) +
                     " outside 1..512 (one PSUM bank of fp32 per partition)");
  if (contraction < 1 || contraction > kPartitions)
    throw std::logic_error("trainium lowering: contraction " + std::to_string(contraction) +
                     " outside 1..128 (PE rows / SBUF partitions)");
}

void check_lane(int partitions, std::int64_t free_elems) {
  if (partitions < 1 || partitions > kPartitions)
    throw std::logic_error("trainium lowering: " + std::to_string(partitions) + " partitions outside 1..128");
  if (free_elems < 1 || free_elems > 65536)
    throw std::logic_error("trainium lowering: free size " + std::to_string(free_elems) +
                     " outside 1..65536 elements per instruction");
}

Instr dma(TxKind kind, std::uint64_t addr, std::uint64_t bytes, std::uint32_t partitions, DType d) {
  const std::uint32_t m = std::max<std::uint32_t>(1, partitions);
  return build::dma(kind, kind == TxKind::DmaRead ? kDmaIn : kDmaOut, kHbm, d, addr, bytes, m,
                    static_cast<std::uint32_t>(bytes / m));
}

Instr matmul(int stationary_free, int moving_free, int contraction, DType d, std::uint64_t useful_flops) {
  check_matmul(stationary_free, moving_free, contraction);
  return build::mma(kTensor, d, static_cast<std::uint32_t>(stationary_free), static_cast<std::uint32_t>(moving_free),
                    static_cast<std::uint32_t>(contraction), useful_flops,
                    static_cast<std::uint64_t>((stationary_free + moving_free) * contraction * bytes_per_element(d)), kPsum);
}

Instr lane(Engine e, int partitions, std::int64_t free_elems, int passes, DType d, double flops_per_elem) {
  check_lane(partitions, free_elems);
  return build::vec(e, d, static_cast<std::uint32_t>(partitions), static_cast<std::uint32_t>(free_elems),
                    static_cast<std::uint32_t>(std::max(1, passes)),
                    static_cast<std::uint64_t>(flops_per_elem * partitions * static_cast<double>(free_elems)),
                    static_cast<std::uint64_t>(partitions * free_elems * bytes_per_element(d) * std::max(1, passes)), kSbuf);
}

Program per_core_program(const std::string& name, const OpSpec& op, const std::string& strategy,
                         const TrainiumSpec& spec, std::function<void(int core, Task& task)> build) {
  auto make = [build](std::uint64_t index, Task& task) {
    task.place = static_cast<std::int32_t>(index);
    build(static_cast<int>(index), task);
  };
  return build::static_program(build::program(name, op, strategy, static_cast<std::uint64_t>(spec.active_cores()), make));
}

}  // namespace xpu::trainium
