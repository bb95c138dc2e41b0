// Single-kernel runs shared by `xpusim kernel` and `xpusim.kernel(...)`: an op from named
// arguments, its lowering on a chip, the simulation, and (functional mode) a check of its result
// against a reference computed directly.
#pragma once
#include <map>
#include <string>

#include "sim/run/power_control.h"
#include "sim/run/runner.h"

namespace xpu {

// Builds an OpSpec from "m"="4096", "dtype"="bf16", ... (the CLI flags without dashes).
// Unknown argument names are an InputError listing the valid ones for that op.
OpSpec make_op(const std::string& op, const std::map<std::string, std::string>& args);
const std::vector<std::string>& kernel_arg_names();
// Every op `xpusim kernel` runs: the model ops, then the collectives that are not model ops (broadcast, sendrecv).
std::vector<std::string> kernel_op_names();
// The error for an option `xpusim kernel <collective>` does not take (`what`: the parser's message): --chip,
// as a kernel on one chip takes it, gets what a collective needs instead (a system); others the op's help.
std::string collective_option_error(const std::string& what, const std::string& option, const std::string& op, const std::string& hint = "");
// One sentence per kernel argument for `xpusim kernel --help`: what it sizes, for which ops, its default.
const std::string& kernel_arg_help(const std::string& name);

struct FunctionalCheck {
  bool ran = false;
  double max_abs_error = 0, max_rel_error = 0, tolerance = 0;
  bool passed = false;
  std::string output_tensor;
};

struct KernelRun {
  RunResult result;
  FunctionalCheck check;
};

// Lowers and simulates one op; with `functional`, fills random inputs (fixed seed), runs the tiled
// program on them and compares its output with a direct reference evaluation.
// `sink` (optional) receives the trace records as they are produced instead of RunResult::trace.
// `bench`: what a benchmark states about the kernel it timed (LowerOptions::input_working_set, the bytes it
// rotates the inputs over; LowerOptions::gemm_block, the kernel's own block shape).
// `keep_chip`: on the process's warm chip (RunOptions::keep_chip), for callers that run kernel after kernel.
KernelRun run_kernel(const ChipModel& chip, const OpSpec& op, bool functional, bool trace,
                     TraceObserver* sink = nullptr, const LowerOptions& bench = {}, bool keep_chip = false);

// Functional-mode tensors and reference of an op (also used by tests and the Python module).
// Operands by op (fp32 row-major 2-D tensors; inputs are rounded to the op's dtypes as loaded):
//   gemm / grouped_gemm: A [rows, k], B [groups*k, n] -> C [rows, n]
//   rmsnorm: X, W [1, cols] -> Y        layernorm: X, W, B [1, cols] -> Y   (eps 1e-5)
//   softmax, gelu (tanh): X -> Y        residual_add: X, R -> Y             swiglu: X [rows, 2*cols] = [gate | up] -> Y
//   rope: X [tokens, heads*head_dim], positions [tokens, 1], inv_freq [1, head_dim/2] -> Y
//         (HF rotate_half; defaults: positions = row % seq, inv_freq = 10000^(-2t/head_dim))
//   attention: Q [batch*heads*seq_q, d], K, V [batch*kv_heads*seq, d] -> O [batch*heads*seq_q, dv]
struct FunctionalSetup {
  TensorStore store;
  LowerOptions options;
  std::string output;   // name of the output tensor in `store`
  std::vector<std::string> inputs;  // names of the input tensors in `store`
  Mat reference;        // expected output (empty when not requested)
  double tolerance = 0; // max error allowed, relative to the largest |reference| (dtype dependent)
};
FunctionalSetup functional_setup(const OpSpec& op, unsigned seed = 1234, bool reference = true);

// Lowers `op` with the tensors of `f` and simulates it; the output is left in f.store under f.output.
// Callers may overwrite f's inputs first (same shapes); the timing does not depend on the data.
RunResult run_functional(const ChipModel& chip, const OpSpec& op, FunctionalSetup& f, bool trace = false,
                         TraceObserver* sink = nullptr);
// The same on `lowered`, `op` already lowered with f.options (the lowering reads no data: a caller may lower first, so
// that a family without functional mode refuses before any input is read, and fill f's inputs after).
RunResult run_functional(const ChipModel& chip, const KernelPrograms& lowered, const OpSpec& op, FunctionalSetup& f,
                         bool trace = false, TraceObserver* sink = nullptr);

// The one path for a single-kernel question, shared by `xpusim kernel`, `xpusim.kernel(...)`, sessions
// and validation: the kernel simulated once at the nominal clock, then run by the power manager
// (sim/power/power_manager.h): a burst shorter than the TDP averaging window runs at the boost clock
// (held only to the electrical limit), longer work settles at the clock that draws TDP. Its times are
// those at the managed clocks (apply_power).
struct KernelStudyOptions {
  bool sustained = false;  // assume steady state: the kernel repeated back to back, the average already at TDP
  // >= 0: the kernel as a benchmark times it after a warm-up of this many back-to-back runs of itself from an
  // idle chip: it runs at the clock the power manager holds at that point (power_after_runs); -1: one burst.
  double after_runs = -1;
  bool functional = false;
  double input_working_set = 0;  // LowerOptions::input_working_set: bytes the benchmark rotates the inputs over
  LowerOptions::Block gemm_block;  // LowerOptions::gemm_block: the benchmarked kernel's own GEMM block shape
  double flush_bytes = 0;  // LowerOptions::flush_bytes: bytes the benchmark writes before each call to flush the cache
  bool trace = false;
  TraceObserver* trace_sink = nullptr;  // receives the records as produced (a streaming trace writer)
  // Simulate on the process's warm chip and keep it warm (RunOptions::keep_chip; results are the same): for
  // callers that run many kernels (validate: its 525 rows 36 -> 31 CPU-s, no slot threads built and unmapped
  // per kernel). Off for a one-shot kernel: a reusable chip creates every slot thread an executor may need
  // (528 on an H100 instead of the 132 one 8192^3 GEMM uses).
  bool keep_chip = false;
};
// A warm-up length given by a user (--after-runs, after_runs=): finite, 0 to 1e9 runs; else InputError.
double checked_after_runs(double runs);
struct KernelStudy {
  KernelRun run;
  PowerResult power;
};
KernelStudy run_kernel_study(const ChipModel& chip, const OpSpec& op, const KernelStudyOptions& opt = {});
// Takes a result simulated at the nominal clock to the clocks of `p` (latency, kernel times, TFLOP/s,
// share of the nominal peak, the clock it ran at); the trace keeps the simulated (nominal-clock) times.
void apply_power(RunResult& r, const PowerResult& p);

}  // namespace xpu
