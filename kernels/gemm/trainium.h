// GEMM lowered for a NeuronCore: 128-partition tiles on the Tensor Engine, PSUM accumulation across
// K, K-chunked DMA loads into SBUF with `dma_buffers` buffers (double buffering by default), PSUM
// evacuation on the Vector Engine (or the Scalar Engine with a fused activation), output blocks split
// over the NeuronCores.
#pragma once
#include <string>

#include "chips/trainium/trainium_spec.h"
#include "kernels/common/lowering.h"
#include "sim/base/tile_vm.h"

namespace xpu::trainium {

struct GemmPlan {
  bool a_stationary = true;  // A^T tiles stationary (rows on PSUM partitions); else B tiles stationary
  int tiles_r = 4;           // row tiles per block (128 rows each, A-stationary) / 1 (B-stationary)
  int tiles_c = 2;           // column tiles per block (512 cols A-stationary, 128 cols B-stationary)
  int kc = 4;                // 128-deep K steps per DMA load
  int buffers = 2;           // SBUF buffers per streamed operand
  bool fused_activation = false;  // evacuate PSUM through a Scalar Engine activation (GEMM + act)
  Unary activation = Unary::Gelu;
  // Weights stored in a format the Tensor Engine does not take (int8) are loaded at their stored bytes and
  // converted to the matmul dtype on `convert_engine` (chips/trainium/isa.h Engine), one pass per 128-deep
  // weight tile, into a second set of rotating SBUF buffers; the per-channel scales multiply the output.
  bool convert_weights = false;
  int convert_engine = 3;  // kGpSimd
  int block_rows() const;    // rows of C per block
  int block_cols() const;    // cols of C per block
  std::string str() const;
};

// The heuristic (stated in trainium.cpp): orientation by the NKI rule "large free axis stationary",
// blocks as large as PSUM allows (bank count) and shrunk until every NeuronCore has a block, unless the
// plan's own estimate finds a larger one (fewer blocks than cores) faster, K chunks of about 512 KiB per
// DMA load. Pure function of the op and the spec.
GemmPlan choose_gemm_plan(const OpSpec& op, const TrainiumSpec& spec);

// The heuristic's plan, or, when the benchmark states its block shape (LowerOptions::gemm_block), the
// NKI tutorial's blocked kernel (trainium_nki_blocked.cpp).
KernelPrograms lower_gemm(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt);
// The blocks the NKI tutorial's SBUF-accumulating kernel takes for `op` where the heuristic's PSUM-sized
// block would be DMA-bound (its loads at least 90% of its matmul time), or an unset Block (then the plan).
LowerOptions::Block choose_sbuf_blocks(const OpSpec& op, const TrainiumSpec& spec, const GemmPlan& plan);
// The NKI matmul tutorial's fully optimized kernel with the blocks LowerOptions::gemm_block states.
// The Tensor Engine dtype of a GEMM: the wider of its two operands' (a narrower float one is widened on
// load; an int8 weight operand is converted on a lane engine, see weights_converted).
DType mm_dtype(const OpSpec& op);
// Whether the weight operand is converted to mm_dtype before the Tensor Engine: its format differs from the
// matmul dtype and is int8 or one the Tensor Engine has no path for (nki.isa.nc_matmul takes float8, bfloat16,
// float16, tfloat32 and float32 inputs only). Only int8 and fp8 storage are converted (formats NKI's engines read).
bool weights_converted(const OpSpec& op, const TrainiumSpec& spec);
// The lane engine that converts them (lowering.weight_convert_engine).
int weight_convert_engine(const OpSpec& op, const TrainiumSpec& spec);
KernelPrograms lower_gemm_nki_blocked(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt);
KernelPrograms lower_gemm(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt, const GemmPlan& plan);

}  // namespace xpu::trainium
