// The Trainium family's instruction builders (shapes as chips/trainium/isa.h defines them): DMA
// queues HBM <-> SBUF, TensorE matmul tiles into PSUM, lane-engine (Vector/Scalar/GpSimd)
// instructions, each checked against the hardware tile limits, and the per-core program skeleton.
#pragma once
#include <functional>
#include <string>

#include "chips/trainium/isa.h"
#include "chips/trainium/trainium_spec.h"
#include "kernels/common/builders.h"

namespace xpu::trainium {

// Hardware limits, enforced by every lowering before it emits an instruction (throws std::logic_error
// naming the limit: a lowering that breaks one has a bug; no input reaches them): TensorE stationary free <= 128, moving free <= 512, contraction <= 128 partitions;
// lane engines <= 128 partitions and <= 64K free elements (SBUF) per instruction [NKI-T1].
void check_matmul(int stationary_free, int moving_free, int contraction);
void check_lane(int partitions, std::int64_t free_elems);

Instr dma(TxKind kind, std::uint64_t addr, std::uint64_t bytes, std::uint32_t partitions, DType d);
Instr matmul(int stationary_free, int moving_free, int contraction, DType d, std::uint64_t useful_flops);
Instr lane(Engine e, int partitions, std::int64_t free_elems, int passes, DType d, double flops_per_elem);
inline Instr with_deps(Instr in, std::uint32_t a, std::uint32_t b = kNoDep, std::uint32_t c = kNoDep) {
  return build::after(in, a, b, c);
}

// A program of one task per active NeuronCore: `build(core, task)` emits that core's streams.
Program per_core_program(const std::string& name, const OpSpec& op, const std::string& strategy,
                         const TrainiumSpec& spec, std::function<void(int core, Task& task)> build);

}  // namespace xpu::trainium
