// Single-kernel runs shared by `xpusim kernel` and `xpusim.kernel(...)`: an op from named
// arguments, its lowering on a chip, the simulation, and (functional mode) a check of its result
// against a reference computed directly.
#pragma once
#include <map>
#include <string>

#include "sim/app/runner.h"

namespace xpu {

// Builds an OpSpec from "m"="4096", "dtype"="bf16", ... (the CLI flags without dashes).
// Unknown argument names are an InputError listing the valid ones for that op.
OpSpec make_op(const std::string& op, const std::map<std::string, std::string>& args);
const std::vector<std::string>& kernel_arg_names();

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
KernelRun run_kernel(const ChipModel& chip, const OpSpec& op, bool functional, bool trace);

// Functional-mode tensors and reference of an op (also used by tests and the Python module).
struct FunctionalSetup {
  TensorStore store;
  LowerOptions options;
  std::string output;   // name of the output tensor in `store`
  Mat reference;        // expected output
  double tolerance = 0; // max relative error allowed (dtype dependent)
};
FunctionalSetup functional_setup(const OpSpec& op, unsigned seed = 1234);

}  // namespace xpu
