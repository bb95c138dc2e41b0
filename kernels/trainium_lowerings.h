// Dispatch of every op to its Trainium lowering (kernels/<op>/trainium.cpp), plus the small
// instruction builders those lowerings share: a NeuronCore program is one task per core holding the
// per-engine instruction streams (Tensor, Vector, Scalar, GpSimd, two DMA queues) with their
// semaphore dependencies; task i runs on NeuronCore i (static placement).
#pragma once
#include <functional>
#include <string>

#include "chips/trainium/isa.h"
#include "chips/trainium/trainium_spec.h"
#include "kernels/common/lowering_table.h"

namespace xpu::trainium {

// The family's (op -> lowering or reason) table; lower() dispatches through it.
const LoweringTable<TrainiumSpec>& lowerings();
KernelPrograms lower(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt);

// Hardware limits, enforced by every lowering before it emits an instruction (throws InputError
// naming the limit): TensorE stationary free <= 128, moving free <= 512, contraction <= 128 partitions;
// lane engines <= 128 partitions and <= 64K free elements (SBUF) per instruction [NKI-T1].
void check_matmul(int stationary_free, int moving_free, int contraction);
void check_lane(int partitions, std::int64_t free_elems);

// Instruction builders (shapes as chips/trainium/isa.h defines them).
Instr dma(TxKind kind, std::uint64_t addr, std::uint64_t bytes, std::uint32_t partitions, DType d);
Instr matmul(int stationary_free, int moving_free, int contraction, DType d, std::uint64_t useful_flops);
Instr lane(Engine e, int partitions, std::int64_t free_elems, int passes, DType d, double flops_per_elem);
inline Instr with_deps(Instr in, std::uint32_t a, std::uint32_t b = kNoDep, std::uint32_t c = kNoDep) {
  in.dep[0] = a, in.dep[1] = b, in.dep[2] = c;
  return in;
}

// A program of one task per active NeuronCore: `build(core, task)` emits that core's streams.
Program per_core_program(const std::string& name, const OpSpec& op, const std::string& strategy,
                         const TrainiumSpec& spec, std::function<void(int core, Task& task)> build);

// Refuses a dtype that no engine path of this NeuronCore handles (lane engines cast any 32/16/8-bit
// type on the fly [NKI-T1]; sub-byte types have no lane path).
void require_lane_dtype(const TrainiumSpec& spec, const OpSpec& op, DType d);

}  // namespace xpu::trainium
