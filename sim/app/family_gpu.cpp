// The GPU family's registration: preset schema, lowering dispatch per op, chip construction.
#include "chips/gpu/gpu_chip.h"
#include "chips/gpu/gpu_spec.h"
#include "kernels/gpu_lowerings.h"
#include "sim/app/registry.h"

namespace xpu {
namespace {

class GpuModel : public ChipModel {
 public:
  explicit GpuModel(const ConfigTree& tree) {
    Params p(Params::Mode::Load, &tree);
    gpu::describe(p, m_spec);
    p.finish();
    m_yaml = p.resolved_yaml();
  }
  std::string name() const override { return m_spec.name; }
  std::string family() const override { return "gpu"; }
  std::string resolved_yaml() const override { return m_yaml; }
  KernelPrograms lower(const OpSpec& op, const LowerOptions& opt) const override {
    return gpu::lower(op, m_spec, opt);
  }
  std::unique_ptr<Chip> build() const override { return std::make_unique<gpu::GpuChip>("chip", m_spec); }
  double peak_flops(DType d) const override { return m_spec.peak_flops(d); }
  double dram_bandwidth() const override { return m_spec.hbm.bandwidth.value(); }
  double dram_capacity() const override { return m_spec.hbm.capacity.value(); }
  double clock_hz() const override { return m_spec.sm.clock.value(); }
  // vLLM / TensorRT-LLM on GPUs: residual add fused into RMSNorm, rotary and SiLU-and-mul separate.
  std::string default_fusion() const override { return "vllm"; }
  std::vector<std::string> clock_keys() const override { return {"sm.clock"}; }
  int executors() const override { return m_spec.sm.count; }
  const gpu::GpuSpec& spec() const { return m_spec; }

 private:
  gpu::GpuSpec m_spec;
  std::string m_yaml;
};

}  // namespace

void register_gpu_family() {
  register_family({"gpu", "GPUs built of SMs with tensor cores, shared memory, a sliced L2 and HBM",
                   [](const ConfigTree& t) { return std::unique_ptr<ChipModel>(new GpuModel(t)); },
                   [] {
                     gpu::GpuSpec s;
                     Params p(Params::Mode::Describe, nullptr);
                     gpu::describe(p, s);
                     return p.schema();
                   }});
}

}  // namespace xpu
