// Fuzz target: the scenario and length parsers: phase, dtypes, routing, fusion, unit values (times,
// sizes, rates) and batch/input/output/tp lengths, validated against a small model, then the step plan,
// the expert routing and an op's closed-form counts. Input: lines of text; the first 16 bytes are four
// 32-bit lengths (batch, input, output, tp), the rest is the text.
#include "tests/fuzz/fuzz_common.h"

#include <cstring>
#include <sstream>
#include <vector>

#include "sim/base/config.h"
#include "sim/base/dtype.h"
#include "sim/base/flags.h"
#include "sim/base/limits.h"
#include "sim/base/units.h"
#include "workloads/graph.h"
#include "workloads/model.h"
#include "workloads/op.h"
#include "workloads/scenario.h"

namespace {
const xpu::ModelConfig& model() {
  static const xpu::ModelConfig m = xpu::load_model(xpu::source_dir() + "/tests/data/models/tiny-llama.json");
  return m;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::int32_t nums[4] = {1, 16, 4, 1};
  if (size >= sizeof nums) {
    std::memcpy(nums, data, sizeof nums);
    data += sizeof nums;
    size -= sizeof nums;
  }
  std::vector<std::string> lines;
  {
    std::istringstream in(fuzz_text(data, size));
    std::string l;
    while (std::getline(in, l) && lines.size() < 16) lines.push_back(l);
  }
  auto line = [&](size_t i) { return i < lines.size() ? lines[i] : std::string(); };
  XPU_FUZZ_INPUT_ERRORS_ONLY({ (void)xpu::parse_phase(line(0)); })
  XPU_FUZZ_INPUT_ERRORS_ONLY({ (void)xpu::parse_dtype(line(1)); })
  XPU_FUZZ_INPUT_ERRORS_ONLY({ (void)xpu::FusionPolicy::parse(line(2)).str(); })
  XPU_FUZZ_INPUT_ERRORS_ONLY({ (void)xpu::parse_flag_time("--tpot-slo", line(3)); })
  XPU_FUZZ_INPUT_ERRORS_ONLY({ (void)xpu::parse_memory_limit("--max-memory", line(4)); })
  XPU_FUZZ_INPUT_ERRORS_ONLY({ (void)xpu::parse_transaction_limit("--max-transactions", line(5)); })
  // Unit parsers report bad text with std::invalid_argument (the binder adds file and key).
  for (size_t i = 6; i < 8; ++i) {
    try {
      (void)xpu::Bandwidth::parse(line(i)).str();
      (void)xpu::Bytes::parse(line(i)).str();
      (void)xpu::Seconds::parse(line(i)).str();
    } catch (const std::invalid_argument&) {
    }
  }
  XPU_FUZZ_INPUT_ERRORS_ONLY({
    xpu::Scenario s;
    s.phase = xpu::Phase::Request;
    s.batch = nums[0];
    s.input_len = nums[1];
    s.output_len = nums[2];
    s.tp = nums[3];
    s.routing = xpu::Routing::parse(line(8));
    s.validate(model());
    (void)xpu::plan_steps(s);
    (void)xpu::expert_rows(s.batch, 8, 2, s.routing);
  })
  XPU_FUZZ_INPUT_ERRORS_ONLY({
    xpu::OpSpec op;
    op.kind = xpu::parse_op_kind(line(9));
    op.m = op.rows = op.batch = nums[0];
    op.n = op.cols = op.heads = op.kv_heads = nums[1];
    op.k = op.seq_kv = op.seq_q = op.topk = nums[2];
    op.head_dim = op.devices = nums[3];
    op.group_rows = {nums[0], nums[1]};
    op.validate();
    (void)op.flops();
    (void)op.min_bytes();
    (void)op.shape_str();
  })
  return 0;
}
