#include "kernels/trainium_lowerings.h"

#include <algorithm>

#include "kernels/attention/trainium.h"
#include "kernels/gemm/trainium.h"
#include "kernels/rowwise/trainium.h"

namespace xpu::trainium {

void check_matmul(int stationary_free, int moving_free, int contraction) {
  if (stationary_free < 1 || stationary_free > kMaxStationaryFree)
    throw InputError("trainium lowering: stationary free size " + std::to_string(stationary_free) +
                     " outside 1..128 (PE columns)");
  if (moving_free < 1 || moving_free > kMaxMovingFree)
    throw InputError("trainium lowering: moving free size " + std::to_string(moving_free) +
                     " outside 1..512 (one PSUM bank of fp32 per partition)");
  if (contraction < 1 || contraction > kPartitions)
    throw InputError("trainium lowering: contraction " + std::to_string(contraction) +
                     " outside 1..128 (PE rows / SBUF partitions)");
}

void check_lane(int partitions, std::int64_t free_elems) {
  if (partitions < 1 || partitions > kPartitions)
    throw InputError("trainium lowering: " + std::to_string(partitions) + " partitions outside 1..128");
  if (free_elems < 1 || free_elems > 65536)
    throw InputError("trainium lowering: free size " + std::to_string(free_elems) +
                     " outside 1..65536 elements per instruction");
}

Instr dma(TxKind kind, std::uint64_t addr, std::uint64_t bytes, std::uint32_t partitions, DType d) {
  Instr in;
  in.kind = kind;
  in.engine = kind == TxKind::DmaRead ? kDmaIn : kDmaOut;
  in.level = kHbm;
  in.dtype = d;
  in.addr = addr;
  in.bytes = bytes;
  in.m = std::max<std::uint32_t>(1, partitions);
  in.n = static_cast<std::uint32_t>(bytes / in.m);
  return in;
}

Instr matmul(int stationary_free, int moving_free, int contraction, DType d, std::uint64_t useful_flops) {
  check_matmul(stationary_free, moving_free, contraction);
  Instr in;
  in.kind = TxKind::TileCompute;
  in.engine = kTensor;
  in.level = kPsum;
  in.dtype = d;
  in.m = static_cast<std::uint32_t>(stationary_free);
  in.n = static_cast<std::uint32_t>(moving_free);
  in.k = static_cast<std::uint32_t>(contraction);
  in.flops = useful_flops;
  in.bytes = static_cast<std::uint64_t>((stationary_free + moving_free) * contraction * bytes_per_element(d));
  return in;
}

Instr lane(Engine e, int partitions, std::int64_t free_elems, int passes, DType d, double flops_per_elem) {
  check_lane(partitions, free_elems);
  Instr in;
  in.kind = TxKind::VectorOp;
  in.engine = e;
  in.level = kSbuf;
  in.dtype = d;
  in.m = static_cast<std::uint32_t>(partitions);
  in.n = static_cast<std::uint32_t>(free_elems);
  in.k = static_cast<std::uint32_t>(std::max(1, passes));
  in.flops = static_cast<std::uint64_t>(flops_per_elem * partitions * static_cast<double>(free_elems));
  in.bytes = static_cast<std::uint64_t>(partitions * free_elems * bytes_per_element(d) * std::max(1, passes));
  return in;
}

Program per_core_program(const std::string& name, const OpSpec& op, const std::string& strategy,
                         const TrainiumSpec& spec, std::function<void(int core, Task& task)> build) {
  Program p;
  p.name = name;
  p.op = op.label;
  p.strategy = strategy;
  p.num_tasks = static_cast<std::uint64_t>(spec.active_cores());
  p.static_placement = true;
  p.roofline = {op.flops(), op.min_bytes()};
  p.make_task = [build](std::uint64_t index, Task& task) {
    task.place = static_cast<std::int32_t>(index);
    build(static_cast<int>(index), task);
  };
  return p;
}

void require_lane_dtype(const TrainiumSpec& spec, const OpSpec& op, DType d) {
  if (d == DType::fp4 || d == DType::fp6)
    unsupported(spec.name, op, std::string("the Vector/Scalar/GpSimd engines have no ") + name(d) +
                                   " path (only 32/16/8-bit element types)");
}

const LoweringTable<TrainiumSpec>& lowerings() {
  static const LoweringTable<TrainiumSpec> t("trainium", [](LoweringTable<TrainiumSpec>& t) {
    t.add({OpKind::Gemm, OpKind::GroupedGemm}, lower_gemm)
        .add(OpKind::Attention, lower_attention)
        .add({OpKind::RmsNorm, OpKind::LayerNorm, OpKind::Softmax, OpKind::SwiGlu, OpKind::Gelu, OpKind::Rope,
           OpKind::ResidualAdd, OpKind::TopK, OpKind::Sampling, OpKind::Embedding}, lower_rowwise)
        .refuse(OpKind::AllReduce, "single-chip model: collectives over NeuronLink are not modelled")
        .before([](const OpSpec& op) { op.validate(); });
  });
  return t;
}

KernelPrograms lower(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  return lowerings().lower(op, spec, opt);
}

}  // namespace xpu::trainium
