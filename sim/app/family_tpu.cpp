// The TPU family's registration: preset schema, lowering dispatch per op, chip construction.
#include "chips/tpu/tpu_chip.h"
#include "chips/tpu/tpu_spec.h"
#include "kernels/tpu_lowerings.h"
#include "sim/app/registry.h"

namespace xpu {
namespace {

class TpuModel : public ChipModel {
 public:
  explicit TpuModel(const ConfigTree& tree) {
    Params p(Params::Mode::Load, &tree);
    tpu::describe(p, m_spec);
    p.finish();
    m_yaml = p.resolved_yaml();
  }
  std::string name() const override { return m_spec.name; }
  std::string family() const override { return "tpu"; }
  std::string resolved_yaml() const override { return m_yaml; }
  std::string default_fusion() const override { return "xla"; }  // XLA fuses elementwise ops into neighbours
  std::vector<std::string> clock_keys() const override { return {"clock"}; }
  int executors() const override { return m_spec.tensorcores; }
  KernelPrograms lower(const OpSpec& op, const LowerOptions& opt) const override {
    return tpu::lower(op, m_spec, opt);
  }
  std::unique_ptr<Chip> build() const override { return std::make_unique<tpu::TpuChip>("chip", m_spec); }
  double peak_flops(DType d) const override { return m_spec.peak_flops(d); }
  double dram_bandwidth() const override { return m_spec.hbm.bandwidth.value(); }
  double dram_capacity() const override { return m_spec.hbm.capacity.value(); }
  double clock_hz() const override { return m_spec.clock.value(); }
  const tpu::TpuSpec& spec() const { return m_spec; }

 private:
  tpu::TpuSpec m_spec;
  std::string m_yaml;
};

}  // namespace

void register_tpu_family() {
  register_family({"tpu", "Google TPUs: TensorCores with systolic MXUs, a vector unit, VMEM, DMA engines and HBM",
                   [](const ConfigTree& t) { return std::unique_ptr<ChipModel>(new TpuModel(t)); },
                   [] {
                     tpu::TpuSpec s;
                     Params p(Params::Mode::Describe, nullptr);
                     tpu::describe(p, s);
                     return p.schema();
                   }});
}

}  // namespace xpu
