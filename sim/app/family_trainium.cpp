// The Trainium family's registration: preset schema, lowering dispatch per op, chip construction.
#include "chips/trainium/trainium_chip.h"
#include "chips/trainium/trainium_spec.h"
#include "kernels/trainium_lowerings.h"
#include "sim/app/registry.h"

namespace xpu {
namespace {

class TrainiumModel : public ChipModel {
 public:
  explicit TrainiumModel(const ConfigTree& tree) {
    Params p(Params::Mode::Load, &tree);
    trainium::describe(p, m_spec);
    p.finish();
    m_yaml = p.resolved_yaml();
  }
  std::string name() const override { return m_spec.name; }
  std::string family() const override { return "trainium"; }
  std::string resolved_yaml() const override { return m_yaml; }
  // The Neuron compiler fuses elementwise ops into neighbouring engine instructions where it can.
  std::string default_fusion() const override { return "trtllm"; }
  std::vector<std::string> clock_keys() const override {
    return {"tensor.clock", "vector.clock", "scalar.clock", "gpsimd.clock"};
  }
  int executors() const override { return m_spec.active_cores(); }
  KernelPrograms lower(const OpSpec& op, const LowerOptions& opt) const override {
    return trainium::lower(op, m_spec, opt);
  }
  std::unique_ptr<Chip> build() const override { return std::make_unique<trainium::TrainiumChip>("chip", m_spec); }
  // Peak of the NeuronCores a kernel runs on (all of them unless `cores_used` says otherwise).
  double peak_flops(DType d) const override { return m_spec.peak_flops(d); }
  double dram_bandwidth() const override { return m_spec.hbm.bandwidth.value(); }
  double dram_capacity() const override { return m_spec.hbm.capacity.value(); }
  double clock_hz() const override { return m_spec.tensor.clock.value(); }

 private:
  trainium::TrainiumSpec m_spec;
  std::string m_yaml;
};

}  // namespace

void register_trainium_family() {
  register_family({"trainium",
                   "AWS Trainium/Inferentia: NeuronCores with Tensor, Vector, Scalar and GpSimd engines, SBUF/PSUM, "
                   "DMA engines and HBM",
                   [](const ConfigTree& t) { return std::unique_ptr<ChipModel>(new TrainiumModel(t)); },
                   [] {
                     trainium::TrainiumSpec s;
                     Params p(Params::Mode::Describe, nullptr);
                     trainium::describe(p, s);
                     return p.schema();
                   }});
}

}  // namespace xpu
