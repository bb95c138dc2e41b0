// What every lowering receives besides the op and the chip spec: functional-mode tensors and the
// global addresses of the op's operands (so caches and channels see a realistic address stream).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "sim/base/error.h"
#include "sim/base/program.h"
#include "workloads/op.h"

namespace xpu {

struct TensorRef {
  std::uint64_t addr = 0;
  int id = -1;  // functional tensor id in the run's TensorStore (-1 when not functional)
};

struct LowerOptions {
  bool functional = false;
  std::map<std::string, TensorRef> tensors;  // operand name ("A", "B", "C", "Q", ...) -> reference
  // Bytes of the working set a benchmark cycles this op's inputs over, call after call (its buffer sets
  // rotated to defeat caches); 0: each input comes from DRAM, as in a model's step. A family whose
  // hardware-managed cache holds that working set serves the inputs from it (the GPU row-wise and
  // elementwise lowerings: L2); the others ignore it.
  double input_working_set = 0;
  // A GEMM block shape (rows, columns, depth) that the benchmarked kernel states, as a Pallas kernel's bm,
  // bn and bk, or an NKI kernel's BLOCK_M/N/K; zeros: the lowering chooses its own. The TPU GEMM lowering
  // runs it as a Pallas grid of these blocks, the Trainium one as the NKI matmul tutorial's blocked kernel;
  // the other families' lowerings choose their own tiles.
  struct Block {
    std::int64_t m = 0, n = 0, k = 0;
    bool set() const { return m > 0 && n > 0 && k > 0; }
  } gemm_block;
  // Bytes a benchmark writes before each timed call to flush the cache (DeepGEMM's bench_kineto zeroes an
  // 8 GB buffer): the call starts with a cold cache full of the flush's dirty lines (Program::dirty_cache_bytes,
  // set by the runner on the kernel's first launch; lowerings ignore it). 0: a clean cache.
  double flush_bytes = 0;

  // The reference for operand `name`; unnamed operands get a distinct 1 TiB-aligned region derived
  // from the op label, so different ops and operands never share cache lines by accident.
  TensorRef ref(const std::string& label, const std::string& name) const;
};

// Integer helpers shared by tilings.
inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Throws the standard "unsupported" error for a (family, op, reason) triple.
[[noreturn]] void unsupported(const std::string& chip, const OpSpec& op, const std::string& why);
// Refuses AWS Neuron's attention (OpSpec::impl kTnxImpl) on a family that is not Trainium/Inferentia.
void refuse_neuron_impl(const std::string& chip, const OpSpec& op);
// Refuses an attention kernel implementation named for GPUs (OpSpec::impl: fa2, fa3), and Neuron's,
// on a family that lowers its own attention.
void refuse_gpu_impl(const std::string& chip, const OpSpec& op);
// Refuses functional mode (LowerOptions::functional) in a lowering that emits no data, only timing (`family`: "TPU",
// "Trainium", "Maia"): a check of its output would compare zeros with the reference and print FAIL.
void refuse_functional(const std::string& chip, const OpSpec& op, const LowerOptions& opt, const std::string& family);

}  // namespace xpu
