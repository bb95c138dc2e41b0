// GEMM lowered for the TPU family, XLA/Pallas style: each TensorCore runs one sequential program
// over its share of the output blocks (bm x bn), with the K loop innermost; block DMAs HBM -> VMEM
// are double-buffered one grid step ahead, the MXUs run the block's weight folds, the vector unit
// widens narrow weights fold by fold, accumulates partial sums and converts the result, and a
// separate DMA queue stores it.
#pragma once
#include <string>
#include <vector>

#include "chips/tpu/tpu_spec.h"
#include "kernels/common/builders.h"
#include "kernels/common/lowering.h"

namespace xpu::tpu {

struct GemmTiling {
  int bm = 512, bn = 512, bk = 512;
  int buffers = 2;          // input block buffers: the pipeline prefetches buffers - 1 grid steps ahead
  int cores = 0;            // TensorCores that get blocks (0: every one that gets a block)
  double vmem_bytes = 0;    // double-buffered inputs, fp32 accumulator, double-buffered output
  double estimate_s = 0;    // the heuristic's own estimate (not the simulation)
  std::string str() const;
};

// Elementwise work fused into the GEMM's epilogue (XLA output fusion): it runs on the vector unit on
// the block while it is in VMEM, so it costs no HBM round trip.
struct GemmEpilogue {
  std::string name;                    // "gelu", "" for none
  double flops_per_elem = 0;           // ALU operations per output element
  double transcendentals_per_elem = 0; // exp / tanh / rsqrt per output element
};

// The heuristic (a pure function of op and spec): enumerate block shapes that are multiples of the
// MXU (bm a multiple of 8 sublanes), keep those whose double-buffered blocks fit the VMEM budget,
// estimate each as grid steps per core x max(MXU time of a step, DMA time of a step) plus the
// pipeline's prologue and epilogue, on every number of TensorCores up to the chip's (a kernel writer
// marks the grid axis "arbitrary" rather than "parallel" where splitting it over the cores does not pay),
// and keep the cheapest (larger blocks, then more cores, on near-ties).
GemmTiling choose_gemm_tiling(const OpSpec& op, const TpuSpec& spec);

KernelPrograms lower_gemm(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt);
KernelPrograms lower_gemm(const OpSpec& op, const TpuSpec& spec, const LowerOptions& opt, const GemmTiling& t,
                          const GemmEpilogue& epilogue = {});

// Refuses dtypes the MXU lacks (InputError with the reason).
void check_mxu_dtypes(const OpSpec& op, const TpuSpec& spec);

// Emits MXU work into a task: a (rows x kw) @ (kw x cols) product becomes ceil(kw / (R*pack)) x
// ceil(cols / C) weight folds spread round-robin over the MXUs; each fold is a weight push on the
// MXU's weight port and a row stream on its data port. With two weight buffers a push waits only for
// the stream two folds back on the same MXU; with one it waits for the previous fold's drain.
class MxuEmitter {
 public:
  MxuEmitter(const TpuSpec& spec, DType dtype);
  // Returns the index of the first data-port instruction. `a_dep`: the LHS is in VMEM; `w_dep`: the
  // weights are in VMEM; `extra`: another dependency (kNoDep if none). With an emitter, `func` (the
  // functional product) is attached to the first data-port instruction when the program is functional.
  std::uint32_t matmul(build::Emitter& emit, int rows, std::int64_t kw, std::int64_t cols, std::uint32_t a_dep,
                       std::uint32_t w_dep, std::uint32_t extra, const FuncOp& func);
  std::uint32_t matmul(Task& t, int rows, std::int64_t kw, std::int64_t cols, std::uint32_t a_dep, std::uint32_t w_dep,
                       std::uint32_t extra);
  // The last data-port instruction emitted (kNoDep before any).
  std::uint32_t last_data() const { return m_last_data; }
  // The last weight push emitted: the scalar unit has issued the MXU work up to here.
  std::uint32_t last_push() const { return m_last_push; }
  // Whether the vector unit adds each call's partial sums into an fp32 accumulator (default on).
  void set_accumulate(bool on) { m_accumulate = on; }
  // Weights stored in `from`, narrower than the MXU dtype (weight-only int8 / fp8): the vector unit
  // widens them fold by fold on their way to the MXU. Weight-only quantized dots on TPU are a
  // dot_general of bf16 activations with the int8 block, the per-channel scale applied to the output
  // (vllm-project/tpu-inference@2a10dab tpu_inference/kernels/quantized_matmul/kernel.py, the
  // non-quantize_activation branch; MaxText's `int8w`), so the widening is the compiler's, in the
  // kernel body, from vector registers that also feed the MXU (jax-ml/scaling-book tpus.md, Appendix
  // C: VREGs "hold data for the VPU and MXU"). Each fold's convert waits for the weights in VMEM, its
  // push only for its own convert, and a call's converts are issued ahead of its pushes, so
  // converting fold f + 1 overlaps pushing fold f. int8 x int8 on the int8 MXU path (AQT / MaxText
  // `int8`, activations quantized) is the op with dtype int8, not this.
  void set_widen(DType from) { m_widen = true, m_widen_from = from; }
  // Drains every MXU used since the last drain; returns an instruction complete when all results are out.
  std::uint32_t drain(Task& t);
  std::int64_t folds() const { return m_folds; }
  // The last accumulation into VMEM emitted (kNoDep before any, or without accumulation).
  std::uint32_t last_accumulate() const { return m_last_acc; }

 private:
  const TpuSpec& m_spec;
  DType m_dtype;
  int m_rr = 0;
  std::vector<std::uint32_t> m_prev1, m_prev2;  // per MXU: last and second-last stream (or drain)
  std::vector<bool> m_used;
  std::uint32_t m_last_data = kNoDep, m_last_push = kNoDep, m_last_acc = kNoDep;
  std::int64_t m_folds = 0;
  bool m_accumulate = true, m_widen = false;
  DType m_widen_from = DType::bf16;
  std::vector<std::uint32_t> m_conv;  // the current call's converts, one per fold
};

// A zero-cost wait on all of `deps` (a semaphore wait of the scalar unit); kNoDep entries are skipped.
std::uint32_t join(Task& t, const std::vector<std::uint32_t>& deps);

}  // namespace xpu::tpu
