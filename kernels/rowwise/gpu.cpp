// Strategy: rows are split into chunks so that there are at least two blocks per SM; each block
// loads its rows (and the op's weights) with the TMA engine, computes on the CUDA cores / SFUs and
// stores the result. Reductions over a row (norms, softmax, top-k) stay inside the block, as the
// fused kernels of vLLM/TensorRT-LLM do, so each input byte is read once.
// Functional mode (norms, softmax, SwiGLU, GELU, residual add, RoPE): the row load fills the
// block's buffers, the vector instruction carries the row math in fp32, the store rounds to the
// output dtype. Tensors: X [rows, cols] ([rows, 2*cols] as [gate | up] for SwiGLU), Y [rows, cols],
// W [1, cols] (norm weight), B [1, cols] (LayerNorm bias), R [rows, cols] (residual), and for RoPE
// positions [rows, 1] and inv_freq [1, head_dim/2] (the SFUs derive cos/sin from them, as the
// timing assumes). Norm epsilon: kNormEps.
#include "kernels/rowwise/gpu.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/gpu_builders.h"

namespace xpu::gpu {

namespace {
constexpr float kNormEps = 1e-5f;  // Llama 3 / Mistral rms_norm_eps; LayerNorm's usual default too

// The functional steps of one block (rows r0 .. r0+rows): what the row load, the weight load, the
// vector instruction and the store each do. Buffers: 0 = X (gate), 1 = W / inv_freq, 2 = up / R /
// positions, 3 = LayerNorm bias, 4.. temporaries, 9 = the result.
struct RowFunc {
  FuncOp load, load_w, compute, store;
  bool has_load_w = false;
};

RowFunc row_func(const OpSpec& o, const LowerOptions& opt, const std::string& label, int r0, int rows) {
  if (o.fused_add_norm())  // the reference checks the norm alone, not X + R's sum and its write-back
    throw InputError("--functional is not available for rmsnorm --impl fused-add (the timing only)", "--functional", "");
  using namespace fop;
  const int c = static_cast<int>(o.cols);
  const int X = opt.ref(label, "X").id, Y = opt.ref(label, "Y").id, W = opt.ref(label, "W").id;
  RowFunc f;
  f.load = load(0, X, r0, 0, rows, c, o.dtype);
  f.store = store(9, Y, r0, 0, rows, c, o.odtype);
  switch (o.kind) {
    case OpKind::RmsNorm:
      f.load_w = load(1, W, 0, 0, 1, c, o.wdtype);
      f.has_load_w = true;
      f.compute = seq({unary(Unary::Square, 4, 0), reduce(Reduce::Sum, 5, 4), unary(Unary::Scale, 5, 5, 1.f / c),
                       unary(Unary::AddScalar, 5, 5, kNormEps), unary(Unary::Rsqrt, 5, 5), binary(Binary::Mul, 9, 0, 5),
                       binary(Binary::Mul, 9, 9, 1)});
      break;
    case OpKind::LayerNorm:
      f.load_w = seq({load(1, W, 0, 0, 1, c, o.wdtype), load(3, opt.ref(label, "B").id, 0, 0, 1, c, o.wdtype)});
      f.has_load_w = true;
      f.compute = seq({reduce(Reduce::Sum, 4, 0), unary(Unary::Scale, 4, 4, 1.f / c), binary(Binary::Sub, 5, 0, 4),
                       unary(Unary::Square, 6, 5), reduce(Reduce::Sum, 7, 6), unary(Unary::Scale, 7, 7, 1.f / c),
                       unary(Unary::AddScalar, 7, 7, kNormEps), unary(Unary::Rsqrt, 7, 7), binary(Binary::Mul, 9, 5, 7),
                       binary(Binary::Mul, 9, 9, 1), binary(Binary::Add, 9, 9, 3)});
      break;
    case OpKind::Softmax:
      f.compute = seq({reduce(Reduce::Max, 4, 0), binary(Binary::ExpDiff, 9, 0, 4), reduce(Reduce::Sum, 5, 9),
                       binary(Binary::Div, 9, 9, 5)});
      break;
    case OpKind::SwiGlu:
      f.load = seq({load(0, X, r0, 0, rows, c, o.dtype), load(2, X, r0, c, rows, c, o.dtype)});
      f.compute = seq({unary(Unary::Silu, 9, 0), binary(Binary::Mul, 9, 9, 2)});
      break;
    case OpKind::Gelu: f.compute = unary(Unary::Gelu, 9, 0); break;
    case OpKind::ResidualAdd:
      f.load = seq({load(0, X, r0, 0, rows, c, o.dtype), load(2, opt.ref(label, "R").id, r0, 0, rows, c, o.dtype)});
      f.compute = binary(Binary::Add, 9, 0, 2);
      break;
    case OpKind::Rope: {
      const int hd = o.head_dim > 0 ? static_cast<int>(o.head_dim) : (c % 128 == 0 ? 128 : c);
      f.load = seq({load(0, X, r0, 0, rows, c, o.dtype), load(2, opt.ref(label, "positions").id, r0, 0, rows, 1, DType::fp32),
                    load(1, opt.ref(label, "inv_freq").id, 0, 0, 1, hd / 2, DType::fp32)});
      f.compute = rope(9, 0, 1, 2, hd);
      break;
    }
    default:
      throw InputError(std::string("--functional is not available for ") + name(o.kind) + " on the GPU family", "--functional", "");
  }
  return f;
}

struct RowCost {
  double in_per_row = 0, out_per_row = 0;  // bytes
  double flops_per_elem = 0, sfu_per_elem = 0;
  double shared_bytes = 0;                 // read once per block (norm weights)
};

RowCost cost_of(const OpSpec& op) {
  double a = bytes_per_element(op.dtype), o = bytes_per_element(op.odtype), w = bytes_per_element(op.wdtype);
  double c = static_cast<double>(op.cols);
  switch (op.kind) {
    case OpKind::RmsNorm: return {c * a, c * o, 4, 1.0 / c, c * w};
    case OpKind::LayerNorm: return {c * a, c * o, 7, 1.0 / c, 2 * c * w};
    case OpKind::Softmax: return {c * a, c * o, 5, 1, 0};
    case OpKind::SwiGlu: return {2 * c * a, c * o, 5, 1, 0};
    case OpKind::Gelu: return {c * a, c * o, 8, 1, 0};
    case OpKind::Rope: return {c * a, c * o, 3, 0.5, 0};
    case OpKind::ResidualAdd: return {static_cast<double>(op.addends) * c * a, c * o, static_cast<double>(op.addends - 1), 0, 0};
    case OpKind::Embedding: return {c * w + 4, c * o, 0, 0, 0};
    case OpKind::TopK: return {c * a, op.topk * 8.0, 6, 1, 0};
    case OpKind::Sampling: return {c * a, 8, 6, 1, 0};
    case OpKind::Copy: return {c * a, c * o, 1, 0, 0};
    case OpKind::Sum: return {c * a, o, 1, 0, 0};
    default: return {};
  }
}

// PyTorch's vectorized elementwise kernel (TensorIterator, the kernel behind x + r, x.add_(1), silu, casts
// and copies): 128 threads per block (num_threads() = 4 warps, aten/src/ATen/native/cuda/thread_constants.h),
// each on 8 elements (elems_per_thread for inputs and outputs wider than one byte, CUDA build,
// aten/src/ATen/native/cuda/Loops.cuh), so a grid of ceil(n / 1024) blocks over the flattened tensor.
constexpr std::int64_t kElementwiseThreads = 128;
constexpr std::int64_t kElementwiseBlockElems = 1024;
// At most this much input per simulated block (the row-wise rule): where the grid has more blocks than
// two per SM, consecutive blocks are simulated as one, which keeps the bytes each SM streams and the
// number of simulated tasks bounded (a large elementwise kernel is bandwidth-bound either way).
constexpr double kMaxBlockInputBytes = 65536;

// Where the op's loads and stores are served: from L2 when the benchmark's rotated working set fits in it
// (each call finds its inputs left there by the calls before, LRU holding a cycle smaller than its
// capacity; the L2 is write-back, so the outputs, counted in that working set, stay there as dirty lines
// that no call evicts), else from DRAM through L2.
std::uint8_t input_level(const GpuSpec& spec, const LowerOptions& opt) {
  return opt.input_working_set > 0 && opt.input_working_set <= spec.l2.capacity.value() ? kL2 : kGlobal;
}

// Threads load and store, not a bulk copy: each warp's coalesced request (32 threads x one vector of
// `warp_bytes` / 32) is its own run of lines, which the address hash spreads over L2 slices and DRAM
// channels. The DMA's row count (its run = bytes / rows) carries that spread.
std::uint32_t warp_requests(double bytes, double warp_bytes) {
  return static_cast<std::uint32_t>(std::max(1.0, std::ceil(bytes / warp_bytes)));
}
// PyTorch's elementwise vectors are 16 bytes (memory::can_vectorize_up_to, aten/src/ATen/native/cuda/MemoryAccess.cuh).
constexpr double kElementwiseWarpBytes = 32 * 16;

// Pure elementwise ops (no reduction along the row) as PyTorch's elementwise kernel runs them: blocks over
// the flattened tensor, so a one-row tensor still spreads over the SMs.
KernelPrograms lower_elementwise(const OpSpec& op, const GpuSpec& spec, const RowCost& rc, const LowerOptions& opt) {
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  const TensorRef X = opt.ref(label, "X"), Y = opt.ref(label, "Y");
  const double cols = static_cast<double>(op.cols);
  const double in_e = rc.in_per_row / cols, out_e = rc.out_per_row / cols;
  const std::int64_t total = op.rows * op.cols;
  const std::int64_t cap = std::max<std::int64_t>(
      kElementwiseBlockElems, static_cast<std::int64_t>(kMaxBlockInputBytes / std::max(1.0, in_e)) / kElementwiseBlockElems * kElementwiseBlockElems);
  const std::int64_t want = ceil_div(ceil_div(total, 2 * static_cast<std::int64_t>(spec.sm.count)), kElementwiseBlockElems) * kElementwiseBlockElems;
  const std::int64_t chunk = std::clamp(want, kElementwiseBlockElems, cap);
  const std::int64_t blocks = ceil_div(total, chunk);
  const OpSpec o = op;
  const std::uint8_t level = input_level(spec, opt);
  auto make = [=](std::uint64_t index, Task& t) {
    const std::int64_t e0 = static_cast<std::int64_t>(index) * chunk, n = std::min(chunk, total - e0);
    block_shape(t, kElementwiseThreads, 32, static_cast<std::uint32_t>(std::min(n * in_e, kMaxBlockInputBytes)));
    build::Emitter emit(t, false);
    const std::uint32_t il = emit(ld_global(level, o.dtype, X.addr + static_cast<std::uint64_t>(e0 * in_e),
                                           static_cast<std::uint64_t>(n * in_e), warp_requests(n * in_e, kElementwiseWarpBytes)));
    const Instr v = cuda(DType::fp32, 1, static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(rc.sfu_per_elem >= 1 ? rc.sfu_per_elem : 0),
                         static_cast<std::uint64_t>(rc.flops_per_elem * n));
    const std::uint32_t iv = emit(after(v, il));
    emit(after(st_global(level, o.odtype, Y.addr + static_cast<std::uint64_t>(e0 * out_e), static_cast<std::uint64_t>(n * out_e),
                         warp_requests(n * out_e, kElementwiseWarpBytes)),
               iv));
  };
  return {build::program(name(op.kind), op,
                         std::to_string(chunk) + " elements per block, " + std::to_string(blocks) + " blocks (elementwise grid)",
                         static_cast<std::uint64_t>(blocks), make, false)};
}

// PyTorch's block-per-row reduction kernels, as PyTorch launches them for F.rms_norm / layer_norm
// (aten/src/ATen/native/cuda/layer_norm_kernel.cu, launch_vectorized_layer_norm_kernel: one block of
// 32 x num_threads()/32 = 128 threads per row, vec_size 4 elements per load) and torch.softmax over rows
// wider than the persistent warp softmax takes (SoftMax.cu, host_softmax as of PyTorch 2.7-2.11, after PR #144679:
// more than 2048 elements or 8 KiB; SoftMaxForward_getBlockSize: min(cols, 1024) threads rounded up to warps;
// cunn_SoftMaxForwardReg when each thread holds at most 9 elements (ceil(cols / threads) < 10): the row in
// registers, one plain element load per register, all in flight (the loop over them is unrolled), and no second
// read; else cunn_SoftMaxForwardSmem, 16-byte loads (ILP = sizeof(float4) / element), when the row fits the
// default 48 KiB of shared memory per block (it allocates the row and the reduction's floats), else
// cunn_SoftMaxForward, 16-byte loads, three passes over X). Every thread walks its share of the row in a loop whose
// iteration waits for its own load before the next is issued (the accumulator carries the dependence;
// the loops are not unrolled across loads), so one pass over the row costs a chain of round trips per
// thread, and the reductions between passes are block barriers. The passes:
// - norm: the sum of squares (Welford for LayerNorm) over X; the block reduction (five warp shuffles,
//   two rounds of two __syncthreads over the 4 warps and one to broadcast); X again (the block's row, in
//   its L1) with gamma (an L2 round trip per iteration) and the store.
// - softmax (smem): X into shared memory with the max; reduction; exp-sum from shared memory; reduction;
//   exp / sum from shared memory and the store. Regular: the same passes, the second and third reading X
//   again from the SM's L1 (a row of at most 2^15 elements fits it). Reg: the same passes over registers.
// Deliberately ignored: the L1 hit latency of the re-reads (their bytes cross the SM's L1/shared-memory
// bandwidth); rows not 16-byte aligned (PyTorch's non-vectorized kernels).
// Per element, the instructions of each pass by the pipe that runs them, counted from the kernels' code (our
// count of what nvcc emits without fast math, an estimate): FP32 (add, multiply, FMA), the INT32 pipe (bf16 <->
// fp32 conversions, float max, the loop's index add and compare), MUFU (special functions: expf is range
// reduction and scaling around one MUFU.EX2, 5 + 1; IEEE fp32 division is a MUFU.RCP with a Newton step and its
// fix-up, 6 + 1) and the rest that only takes an issue slot (loads, stores, the loop's branch). Every one of them
// takes an issue slot of the SM's schedulers (sm.issue_per_clk); the INT32 pipe runs at half the FP32 rate on
// Hopper (sm.alu_ops_per_clk), so a pass of conversions and max is bound by it.
// (PassCost and lane_slots: kernels/gpu_builders.h.)
struct RowReduceKernel {
  std::int64_t threads = 0, vec_elems = 0;
  std::int64_t loads_in_flight = 0;  // iterations of the first pass whose loads are in flight together
  bool reread = true;                // the later passes read the row from L1 / shared memory (not registers)
  double smem_bytes = 0;
  bool weights = false;       // the second pass loads gamma (and beta) per iteration from L2 (norms)
  int barriers = 0;           // __syncthreads per block reduction
  PassCost first;             // the pass that loads X
  std::vector<PassCost> rest; // passes over the row in L1 / shared memory, a block reduction before each
  PassCost per_thread;        // once per thread, after the first reduction (index set-up, the reductions' shuffles)
  std::uint32_t registers = 0;  // per thread: residency
  // The serving stacks' fused add + RMSNorm (OpSpec kFusedAddNormImpl): the first pass also loads the residual
  // R beside X and stores their sum back to R; the second pass's gamma loads do not wait for the previous
  // iteration's store (every pointer is __restrict__), only for the loads in flight before them.
  bool fused_residual = false;
};
// What Nsight Compute counts for PyTorch's softmax kernels on an H200 (PyTorch 2.11.0+cu130, bf16 in and out,
// our measurement of 2026-12-04: smsp__inst_executed and its per-pipe parts on one row of 2560 to 65536
// elements, workloads/validation/h200_fixed_costs/ncu_rows.csv, rows G573-G576 and README "H200 fixed costs
// from inside the kernels"): per thread = a + b x elements per thread, least squares over the widths each
// kernel runs. cunn_SoftMaxForwardReg (D4096-D9216): 74.8 per element (FMA pipe 28.4, ALU 24.0, MUFU 4.0, the
// rest 18.3: load/store, branch, address, the pipes not read) and 20 per thread; cunn_SoftMaxForward
// (D24576-D65536, also used for the Smem kernel, whose one width measured, D16384, lies on its line: 47.3 per
// element at 16 per thread against 38.75 + 193.9 / 16 = 50.9): 38.75 per element (FMA 22.25, ALU 7.75, MUFU 4.0,
// the rest 4.75) and 193.9 per thread (FMA 25.2, ALU 71.3, MUFU 6.0, the rest 91.4). These are what nvcc makes
// of the code (the bound predicate and 64-bit index per element, expf's range reduction, the reductions'
// shuffles); our own per-pass count from the source (31 and 28.6 per element) missed more than half, and the
// kernels are issue-bound (0.64-0.74 issues per scheduler cycle measured at one row). The per-pass split below
// keeps our count's shares; the bf16 <-> fp32 conversions (4 per element in the measured kernels, on the INT32
// pipe as counted above) follow the tensors' dtypes.
struct MeasuredMix {
  PassCost per_elem, per_thread;
  double conversions;  // per element, included in per_elem.alu
};
constexpr MeasuredMix kSoftmaxRegMix{{28.44, 24.03, 4.0, 18.31}, {10.7, 0, 0, 9.4}, 4};
constexpr MeasuredMix kSoftmaxForwardMix{{22.25, 7.75, 4.0, 4.75}, {25.2, 71.3, 6.0, 91.4}, 4};
// vectorized_layer_norm_kernel as F.rms_norm runs it (D2048-D16384, 128 threads, the same measurement): 11.75 per
// element (FMA 6.5, ALU 3.0, the rest 2.25) and 124.5 per thread (FMA 23.8, ALU 36.3, MUFU 1.5, the rest 62.9).
constexpr MeasuredMix kRmsNormMix{{6.5, 3.0, 0, 2.25}, {23.8, 36.3, 1.5, 62.9}, 4};

// Spread a measured per-element mix over the kernel's passes in proportion to each pass's share of our own
// instruction count, pipe by pipe; `conv` is this op's conversions per element (the measured kernels had m.conversions).
void apply_measured_mix(RowReduceKernel& k, const MeasuredMix& m, double conv) {
  double all = k.first.instructions();
  for (const PassCost& c : k.rest) all += c.instructions();
  const PassCost want{m.per_elem.fp32, std::max(0.0, m.per_elem.alu - m.conversions + conv), m.per_elem.mufu, m.per_elem.other};
  auto share = [&](const PassCost& c) {
    const double f = c.instructions() / all;
    return PassCost{want.fp32 * f, want.alu * f, want.mufu * f, want.other * f};
  };
  k.first = share(k.first);
  for (PassCost& c : k.rest) c = share(c);
  k.per_thread = m.per_thread;
}
// Registers per thread of these kernels, as Nsight Compute reports them (launch__registers_per_thread, H200,
// PyTorch 2.11.0+cu130, workloads/validation/h200_fixed_costs/ncu_rows.csv): vectorized_layer_norm_kernel 27;
// cunn_SoftMaxForward and cunn_SoftMaxForwardSmem 32; cunn_SoftMaxForwardReg 28-30 while each thread holds up
// to 6 elements (measured at 3, 4 and 6), 37 at 8 and 40 at 9. They decide residency: two 1024-thread softmax
// blocks per SM up to 6 elements per thread (65536 registers), one at 8 or 9.
constexpr std::uint32_t kNormRegisters = 27;
constexpr std::uint32_t kSoftmaxRegisters = 32;
std::uint32_t softmax_reg_registers(std::int64_t per_thread) { return per_thread <= 6 ? 30 : per_thread <= 8 ? 37 : 40; }
// Iterations of a thread's loop whose loads are in flight together: assumed 4, nvcc's usual unroll factor
// for a loop without an unroll pragma and an unknown trip count (these loops have none).
constexpr std::int64_t kLoadsInFlight = 4;
constexpr double kDefaultSmemPerBlock = 48 * 1024;  // sharedMemPerBlock without opt-in (CUDA programming guide)
// host_softmax's kernel choice (SoftMax.cu, PyTorch 2.7-2.11): the persistent warp softmax up to 2048 elements and
// 8 KiB per row; cunn_SoftMaxForwardReg while ceil(cols / threads) is below 10 (its template instances 1..9).
constexpr std::int64_t kWarpSoftmaxMaxCols = 2048;
constexpr double kWarpSoftmaxMaxBytes = 8192;
constexpr std::int64_t kSoftmaxRegMaxPerThread = 10;

// The serving stacks' fused add + RMSNorm, as vLLM (csrc/layernorm_kernels.cu, fused_add_rms_norm: one block
// per row of min(hidden, 1024) threads below 256 rows and 256 from there, 16-byte vectors of 8 bf16/fp16
// elements, cub::BlockReduce) and FlashInfer (include/flashinfer/norm.cuh, FusedAddRMSNormKernel: min(1024,
// d / vec) threads, vec = gcd(16 / element bytes, d), the sum kept in shared memory) launch it: each thread holds
// a vector or a few of the row, so at hidden sizes up to 8192 one pass is one load round trip (X and the
// residual together), the block reduction (two __syncthreads), then gamma's round trip and the store. The
// second pass re-reads the sum from the SM (FlashInfer's shared memory; vLLM reloads what the thread stored, an
// L1 hit assumed). Registers per thread: kFusedNormRegisters, assumed (not measured). Instructions per element
// and per thread: our count from vLLM's source (an estimate; nvcc's real count of PyTorch's norm was about twice
// our count of its source, kRmsNormMix).
constexpr std::int64_t kFusedNormMaxThreads = 1024, kFusedNormManyRowsThreads = 256, kFusedNormManyRows = 256;
constexpr std::uint32_t kFusedNormRegisters = 32;

void fused_add_norm_kernel(const OpSpec& op, double cin, double cw, double cout, RowReduceKernel& k) {
  const double eb = bytes_per_element(op.dtype);
  k.vec_elems = std::gcd<std::int64_t>(std::max<std::int64_t>(1, static_cast<std::int64_t>(16 / eb)), op.cols);
  const std::int64_t most = op.rows < kFusedNormManyRows ? kFusedNormMaxThreads : kFusedNormManyRowsThreads;
  k.threads = ceil_div(std::min(most, ceil_div(op.cols, k.vec_elems)), 32) * 32;
  k.loads_in_flight = kLoadsInFlight, k.registers = kFusedNormRegisters;
  k.smem_bytes = static_cast<double>(k.threads / 32 * 4 + 4);  // the reduction's float per warp and the broadcast
  k.weights = true, k.fused_residual = true;
  k.barriers = 2;  // the block reduction's __syncthreads and the broadcast of 1/rms
  const double v = static_cast<double>(k.vec_elems), loop = 2 / v;  // the loop's index add and compare per vector
  // First pass per element: X and R converted in, added, the sum converted out and stored, squared and accumulated
  // (an add and an FMA); per vector two loads, a store and the branch.
  k.first = {2, 3 * cin + cout + loop, 0, 4 / v};
  // Second pass: the sum converted in, scaled by 1/rms, gamma converted in and multiplied, the result converted out;
  // per vector two loads, a store and the branch.
  k.rest = {{2, cin + cw + 2 * cout + loop, 0, 4 / v}};
  // Per thread: the row and vector index set-up, the block reduction (five shuffles and adds in each of two warp
  // rounds, the shared-memory exchange), 1/rms (one MUFU.RSQ) and its broadcast.
  k.per_thread = {12, 8, 1, 16};
}

bool row_reduce_kernel(const OpSpec& op, RowReduceKernel& k) {
  const double eb = bytes_per_element(op.dtype);
  const std::int64_t c = op.cols;
  // bf16/fp16 <-> fp32 conversions (none for fp32 tensors), per element of X, Y and the norm weights.
  auto conv = [](DType d) { return d == DType::fp32 ? 0.0 : 1.0; };
  const double cin = conv(op.dtype), cout = conv(op.odtype), cw = conv(op.wdtype);
  if (op.fused_add_norm()) {
    fused_add_norm_kernel(op, cin, cw, cout, k);
    return true;
  }
  if (op.kind == OpKind::RmsNorm || op.kind == OpKind::LayerNorm) {
    if (c % 4 != 0) return false;
    const bool ln = op.kind == OpKind::LayerNorm;
    k.threads = 128, k.vec_elems = 4, k.loads_in_flight = kLoadsInFlight, k.registers = kNormRegisters;
    k.smem_bytes = 4 * 3 / 2 * 4;  // threads.y * 3/2 floats
    k.weights = true;
    k.barriers = 5;  // compute_stats over 4 warps: two rounds of two __syncthreads, one to broadcast
    // Per vector of 4: the loop's index add and compare (INT32), its branch and the load(s) and store.
    const double loop = 2.0 / 4, one = 1.0 / 4;
    // RMS: convert, square-accumulate; Welford (LayerNorm): convert, subtract, reciprocal count, two FMAs and the
    // count's update.
    k.first = ln ? PassCost{9, cin + loop, 1, 2 * one} : PassCost{1, cin + loop, 0, 2 * one};
    // Convert X and gamma (and beta), scale by rstd and gamma (and subtract the mean, add beta), convert the output.
    k.rest = {ln ? PassCost{4, cin + 2 * cw + cout + loop, 0, 5 * one} : PassCost{2, cin + cw + cout + loop, 0, 4 * one}};
    if (!ln) apply_measured_mix(k, kRmsNormMix, 2 * cin + cw + cout);  // LayerNorm's kernel was not measured
    return true;
  }
  if (op.kind != OpKind::Softmax || (c <= kWarpSoftmaxMaxCols && c * eb <= kWarpSoftmaxMaxBytes)) return false;
  k.threads = std::min<std::int64_t>(ceil_div(c, 32) * 32, 1024);
  const double reduction = static_cast<double>(k.threads / 32 * 4);  // one float per warp
  k.barriers = 3;  // cuda_utils::BlockReduce (two) and blockReduceWarp's broadcast
  const std::int64_t per_thread = ceil_div(c, k.threads);
  if (per_thread < kSoftmaxRegMaxPerThread) {  // cunn_SoftMaxForwardReg
    k.vec_elems = 1, k.loads_in_flight = per_thread, k.reread = false, k.registers = softmax_reg_registers(per_thread);
    k.smem_bytes = reduction;
    // Per element: a load with its address add and bound compare, convert, max; then from registers the
    // exp-sum (convert, subtract, expf, add) and the epilogue (convert, subtract, expf, divide, convert, store),
    // the bound's predicate kept.
    k.first = {0, cin + 1 + 2, 0, 1};
    k.rest = {{7, cin, 1, 0}, {12, cin + cout, 2, 1}};
    apply_measured_mix(k, kSoftmaxRegMix, 3 * cin + cout);
    return true;
  }
  k.vec_elems = static_cast<std::int64_t>(16 / eb), k.loads_in_flight = kLoadsInFlight, k.registers = kSoftmaxRegisters;
  const bool smem = c < (kDefaultSmemPerBlock - reduction) / eb && c % k.vec_elems == 0;
  k.smem_bytes = smem ? c * eb + reduction : reduction;
  const double v = static_cast<double>(k.vec_elems), loop = 2 / v;  // index add and compare per vector
  k.first = {0, cin + 1 + loop, 0, 2 / v};  // convert, max (FMNMX); a load and the branch per vector
  // exp-sum: convert, subtract, expf, add; epilogue: convert, subtract, expf, divide, convert to bf16 (and a store).
  k.rest = {{7, cin + loop, 1, 2 / v}, {12, cin + cout + loop, 2, 3 / v}};
  apply_measured_mix(k, kSoftmaxForwardMix, 3 * cin + cout);
  return true;
}

KernelPrograms lower_row_reduce(const OpSpec& op, const GpuSpec& spec, const RowReduceKernel& kk, const LowerOptions& opt) {
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  const TensorRef X = opt.ref(label, "X"), Y = opt.ref(label, "Y"), W = opt.ref(label, "W"), R = opt.ref(label, "R");
  const double eb = bytes_per_element(op.dtype), ob = bytes_per_element(op.odtype), wb = bytes_per_element(op.wdtype);
  const std::int64_t per_load = kk.threads * kk.vec_elems;  // elements of a row one iteration loads
  const std::int64_t iters = ceil_div(op.cols, per_load);
  // Blocks resident per SM as CUDA's occupancy rule gives them; the engine holds at most 4 slots, so a
  // simulated task carries up to resident / slots rows side by side (their loads in flight together).
  const int resident = std::max(1, occupancy(spec, kk.smem_bytes, static_cast<int>(kk.threads), static_cast<int>(kk.registers)));
  const int slots = std::min(4, resident);
  const std::int64_t g = std::clamp<std::int64_t>(ceil_div(op.rows, static_cast<std::int64_t>(slots) * spec.sm.count), 1,
                                                  std::max(1, resident / slots));
  const std::int64_t tasks = ceil_div(op.rows, g);
  const OpSpec o = op;
  const RowReduceKernel k = kk;
  const std::uint8_t level = input_level(spec, opt);
  const double row_in = op.cols * eb;
  const double warp_bytes = 32.0 * kk.vec_elems * eb;  // a warp's coalesced request (warp_requests)
  // A pass's FP32 lane-slots per element: its FP32 instructions, or its INT32-pipe ones at that pipe's rate, or all
  // of its instructions at the issue rate, whichever bounds it (the MUFU ones are timed by the SFUs, k).
  auto lane_slots = [sm = spec.sm](const PassCost& c) { return gpu::lane_slots(sm, c); };
  // Functional mode: the rows' whole load, weight load, math and store ride on the first load, the first
  // weight load, the last math op and the last store, in program order (the timing is the same).
  const bool functional = opt.functional;
  if (functional) row_func(op, opt, label, 0, 1);  // unsupported ops fail here, before the run
  const LowerOptions fopt = functional ? opt : LowerOptions{};
  auto make = [=](std::uint64_t index, Task& t) {
    const std::int64_t r0 = static_cast<std::int64_t>(index) * g, rows = std::min(g, o.rows - r0);
    block_shape(t, static_cast<std::uint32_t>(k.threads), k.registers, static_cast<std::uint32_t>(k.smem_bytes));
    build::Emitter emit(t, functional);
    RowFunc f;
    if (functional) f = row_func(o, fopt, label, static_cast<int>(r0), static_cast<int>(rows));
    const std::uint64_t base = X.addr + static_cast<std::uint64_t>(r0 * row_in);
    const std::uint64_t rbase = R.addr + static_cast<std::uint64_t>(r0 * row_in);
    const std::uint32_t n = static_cast<std::uint32_t>(o.cols);
    std::uint32_t prev = kNoDep, prev_r = kNoDep;
    for (std::int64_t i = 0; i < iters; i += k.loads_in_flight) {  // first pass: a group of loads per round trip
      const std::int64_t e = std::min(per_load * k.loads_in_flight, o.cols - i * per_load);
      const auto at = static_cast<std::uint64_t>(i * per_load * eb), bytes = static_cast<std::uint64_t>(rows * e * eb);
      const Instr ld = ld_global(level, o.dtype, base + at, bytes, warp_requests(rows * e * eb, warp_bytes));
      const std::uint32_t before = prev;
      prev = before == kNoDep ? emit(ld, f.load) : emit(after(ld, before));
      if (k.fused_residual) {  // the residual's vectors, loaded beside X's
        const Instr lr = ld_global(level, o.dtype, rbase + at, bytes, warp_requests(rows * e * eb, warp_bytes));
        prev_r = before == kNoDep ? emit(lr) : emit(after(lr, before));
      }
    }
    // The warps of the task's rows per sub-partition: fewer than sm.warp_issue_cycles issue below the SM's rate.
    const auto warps = static_cast<unsigned>(ceil_div(rows * k.threads, 32 * static_cast<std::int64_t>(spec.sm.sub_partitions)));
    // The model's vector rate counts an FMA as two FLOPs: one FP32 lane-slot per element is 2.
    auto pass_op = [&](const PassCost& c, std::uint32_t elems, std::uint64_t l1_bytes) {
      return cuda(DType::fp32, static_cast<std::uint32_t>(rows), elems, static_cast<std::uint32_t>(c.mufu),
                  static_cast<std::uint64_t>(2 * lane_slots(c) * rows * elems), l1_bytes, warps);
    };
    prev = emit(prev_r == kNoDep ? after(pass_op(k.first, n, 0), prev) : after(pass_op(k.first, n, 0), prev, prev_r));
    if (k.fused_residual)  // X + R back to the residual (not waited for)
      emit(after(st_global(level, o.dtype, rbase, static_cast<std::uint64_t>(rows * row_in), warp_requests(rows * row_in, warp_bytes)),
                 prev));
    auto reduce = [&] {
      for (int b = 0; b < k.barriers; ++b) prev = emit(after(build::sync(kVector), prev));
    };
    reduce();
    if (k.per_thread.instructions() > 0)
      prev = emit(after(pass_op(k.per_thread, static_cast<std::uint32_t>(k.threads), 0), prev));
    if (k.weights) {  // norm: per iteration gamma from L2, X from L1, the scaled output stored
      // One iteration's gamma load waits for the previous iteration's store to issue: gamma (and beta) and Y
      // are plain pointers of the same element type (only X is __restrict__ in vectorized_layer_norm_kernel_impl),
      // so the store may alias the next gamma and the compiler cannot hoist that load above it (C++ aliasing
      // rules; nvcc reorders across may-alias stores only for __restrict__ pointers). The pass is a chain of
      // one L2 round trip per iteration; the store itself is not waited for.
      // The fused kernels' pointers are all __restrict__: an iteration's gamma load waits only for the compute
      // loads_in_flight iterations back (the unrolled loop's loads in flight together), not for a store.
      const int nw = o.kind == OpKind::LayerNorm ? 2 : 1;
      std::uint32_t cprev = prev;
      std::vector<std::uint32_t> computed;
      for (std::int64_t i = 0; i < iters; ++i) {
        const std::int64_t e = std::min(per_load, o.cols - i * per_load);
        const std::uint32_t wait = !k.fused_residual ? cprev : i >= k.loads_in_flight ? computed[static_cast<size_t>(i - k.loads_in_flight)] : prev;
        const Instr lw = after(ld_global(kL2, o.wdtype, W.addr + static_cast<std::uint64_t>(i * per_load * wb),
                                        static_cast<std::uint64_t>(nw * rows * e * wb), warp_requests(nw * rows * e * wb, warp_bytes)),
                               wait);
        const std::uint32_t iw = i == 0 ? emit(lw, f.load_w) : emit(lw);
        const Instr pv = pass_op(k.rest[0], static_cast<std::uint32_t>(e), static_cast<std::uint64_t>(rows * e * eb));
        const Instr v = k.fused_residual && i > 0 ? after(pv, iw, cprev) : after(pv, iw);
        cprev = i == 0 ? emit(v, f.compute) : emit(v);
        computed.push_back(cprev);
        const Instr st = after(st_global(level, o.odtype, Y.addr + static_cast<std::uint64_t>((r0 * o.cols + i * per_load) * ob),
                                         static_cast<std::uint64_t>(rows * e * ob), warp_requests(rows * e * ob, warp_bytes)),
                               cprev);
        if (i + 1 >= iters) emit(st, f.store);
        else emit(st);
      }
      return;
    }
    // softmax: the exp-sum pass, the second reduction, the epilogue pass, each over the row in L1 / shared memory
    for (size_t p = 0; p < k.rest.size(); ++p) {
      if (p > 0) reduce();
      const Instr v = after(pass_op(k.rest[p], n, static_cast<std::uint64_t>(k.reread ? rows * row_in : 0)), prev);
      prev = p + 1 == k.rest.size() ? emit(v, f.compute) : emit(v);
    }
    emit(after(st_global(level, o.odtype, Y.addr + static_cast<std::uint64_t>(r0 * o.cols * ob),
                         static_cast<std::uint64_t>(rows * o.cols * ob), warp_requests(rows * o.cols * ob, warp_bytes)),
               prev),
         f.store);
  };
  return {build::program(name(op.kind), op,
                         std::to_string(k.threads) + " threads per row, " + std::to_string(iters) + " loads per thread per pass, " +
                             std::to_string(g) + " rows per simulated block (" + std::to_string(resident) + " resident per SM)",
                         static_cast<std::uint64_t>(tasks), make, functional)};
}
}  // namespace

KernelPrograms lower_rowwise(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  op.validate();
  const RowCost rc = cost_of(op);
  // Functional runs keep the row blocks (the row functions carry the data).
  const bool elementwise = op.kind == OpKind::Copy || op.kind == OpKind::ResidualAdd || op.kind == OpKind::Gelu;
  if (elementwise && !opt.functional) return lower_elementwise(op, spec, rc, opt);
  RowReduceKernel rk;
  if (row_reduce_kernel(op, rk)) return lower_row_reduce(op, spec, rk, opt);
  const std::string label = op.label.empty() ? name(op.kind) : op.label;
  const TensorRef X = opt.ref(label, "X"), Y = opt.ref(label, "Y"), W = opt.ref(label, "W");
  // Rows per block: enough blocks for two per SM, at most 64 KiB of input per block.
  std::int64_t rows_per_block = std::max<std::int64_t>(1, op.rows / (2 * spec.sm.count));
  rows_per_block = std::min<std::int64_t>(rows_per_block, std::max<std::int64_t>(1, static_cast<std::int64_t>(65536 / std::max(1.0, rc.in_per_row))));
  const std::int64_t blocks = ceil_div(op.rows, rows_per_block);
  const OpSpec o = op;
  const bool functional = opt.functional;
  if (functional) row_func(op, opt, label, 0, 1);  // unsupported ops fail here, before the run
  const LowerOptions fopt = functional ? opt : LowerOptions{};
  const std::uint8_t level = input_level(spec, opt);
  auto make = [=](std::uint64_t index, Task& t) {
    std::int64_t r0 = static_cast<std::int64_t>(index) * rows_per_block;
    std::int64_t rows = std::min(rows_per_block, o.rows - r0);
    block_shape(t, 256, 64, static_cast<std::uint32_t>(std::min(rows * rc.in_per_row, 65536.0)));
    build::Emitter emit(t, functional);
    RowFunc f;
    if (functional) f = row_func(o, fopt, label, static_cast<int>(r0), static_cast<int>(rows));
    // Embedding rows are gathered from the table at token-dependent rows: spread over the table.
    const bool gather = o.kind == OpKind::Embedding;
    const std::uint64_t addr = gather ? W.addr + static_cast<std::uint64_t>((r0 * 7919 % std::max<std::int64_t>(1, o.n)) * rc.in_per_row)
                                      : X.addr + static_cast<std::uint64_t>(r0 * rc.in_per_row);
    const std::uint32_t il = emit(ld_global(level, o.dtype, addr, static_cast<std::uint64_t>(rows * rc.in_per_row),
                                           static_cast<std::uint32_t>(gather ? rows : 1)),
                                  f.load);
    std::uint32_t iw = kNoDep;
    if (rc.shared_bytes > 0) {
      const Instr lw = ld_global(level, o.dtype, W.addr, static_cast<std::uint64_t>(rc.shared_bytes), 1);
      iw = f.has_load_w ? emit(lw, f.load_w) : emit(lw);
    }
    const Instr v = cuda(DType::fp32, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(o.cols),
                         static_cast<std::uint32_t>(rc.sfu_per_elem >= 1 ? rc.sfu_per_elem : 0),
                         static_cast<std::uint64_t>(rc.flops_per_elem * rows * o.cols));
    const std::uint32_t iv = emit(after(v, il, iw), f.compute);
    emit(after(st_global(level, o.odtype, Y.addr + static_cast<std::uint64_t>(r0 * rc.out_per_row),
                         static_cast<std::uint64_t>(rows * rc.out_per_row)),
               iv),
         f.store);
  };
  return {build::program(name(op.kind), op,
                         std::to_string(rows_per_block) + " rows per block, " + std::to_string(blocks) + " blocks",
                         static_cast<std::uint64_t>(blocks), make, functional)};
}

}  // namespace xpu::gpu
