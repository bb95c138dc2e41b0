// Fuzz target: a Hugging Face config.json read into a model, then what a run does with it before
// simulating: parameter counts, the memory footprint and the op graphs of a prefill and a decode step.
#include "tests/fuzz/fuzz_common.h"

#include "workloads/footprint.h"
#include "workloads/graph.h"
#include "workloads/model.h"
#include "workloads/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  XPU_FUZZ_INPUT_ERRORS_ONLY({
    xpu::ModelConfig m = xpu::parse_model_json(fuzz_text(data, size), "fuzz/config.json");
    (void)xpu::param_counts(m);
    xpu::Scenario s;
    s.phase = xpu::Phase::Request;
    s.batch = 2;
    s.input_len = m.max_position > 64 ? 32 : 1;
    s.output_len = 2;
    (void)xpu::footprint(m, s);
    for (bool decode : {false, true})
      (void)xpu::build_step_graph(m, s, decode, s.input_len + (decode ? 1 : 0), xpu::FusionPolicy::vllm());
  })
  return 0;
}
