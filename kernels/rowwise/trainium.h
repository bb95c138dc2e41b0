// Row-wise and elementwise ops on a NeuronCore (norms, softmax, activations, RoPE, residual add,
// router top-k, sampling, embedding gather): tiles of [128 partitions x F] stream HBM -> SBUF ->
// lane engines (Scalar for transcendental functions, Vector for reductions and two-input ops) ->
// HBM, double-buffered, spread over the NeuronCores.
#pragma once
#include "chips/trainium/trainium_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::trainium {
KernelPrograms lower_rowwise(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt);
}
