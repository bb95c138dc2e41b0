// Attention on NeuronCores: flash-style tiles (128 queries x 512 keys) with online softmax, causal
// and sliding-window tile skipping, GQA heads sharing K/V tiles; decode stacks the query heads of a
// KV group on the partitions and splits the sequence over NeuronCores when there are too few
// (sequence, KV head) pairs, with a combine kernel.
#pragma once
#include "chips/trainium/trainium_spec.h"
#include "kernels/common/lowering.h"

namespace xpu::trainium {
KernelPrograms lower_attention(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt);

// kTnxImpl (workloads/op.h): prefill below spec.tnx_flash_min_tokens runs the materialized HLO graph
// (trainium_materialized.cpp); decode keeps the flash-decoding tiling with the token graph's unfused softmax
// passes over the bucket's scores (trainium.cpp tnx_softmax_head/tail).
bool runs_materialized(const OpSpec& op, const TrainiumSpec& spec);
KernelPrograms lower_materialized_attention(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt);
}
