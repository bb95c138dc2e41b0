// The Maia family's registration: preset schema, lowering dispatch per op, chip construction.
#include "chips/maia/maia_chip.h"
#include "chips/maia/maia_spec.h"
#include "kernels/maia_lowerings.h"
#include "sim/app/registry.h"

namespace xpu {
namespace {

class MaiaModel : public ChipModel {
 public:
  explicit MaiaModel(const ConfigTree& tree) {
    Params p(Params::Mode::Load, &tree);
    maia::describe(p, m_spec);
    p.finish();
    m_yaml = p.resolved_yaml();
  }
  std::string name() const override { return m_spec.name; }
  std::string family() const override { return "maia"; }
  std::string resolved_yaml() const override { return m_yaml; }
  std::vector<std::string> clock_keys() const override { return {"clock"}; }
  int executors() const override { return m_spec.tiles(); }
  KernelPrograms lower(const OpSpec& op, const LowerOptions& opt) const override {
    return maia::lower(op, m_spec, opt);
  }
  std::unique_ptr<Chip> build() const override { return std::make_unique<maia::MaiaChip>("chip", m_spec); }
  // TTU formats only: BF16 on Maia 200 has no tensor rate (it is converted to FP8 or refused).
  double peak_flops(DType d) const override { return m_spec.peak_flops(d); }
  double dram_bandwidth() const override { return m_spec.hbm.bandwidth.value(); }
  double dram_capacity() const override { return m_spec.hbm.capacity.value(); }
  double clock_hz() const override { return m_spec.clock.value(); }
  const maia::MaiaSpec& spec() const { return m_spec; }

 private:
  maia::MaiaSpec m_spec;
  std::string m_yaml;
};

}  // namespace

void register_maia_family() {
  register_family({"maia", "Maia-style dies: clusters of tiles (tensor unit, vector processor, tile SRAM), cluster SRAM, DMA hierarchy, HBM",
                   [](const ConfigTree& t) { return std::unique_ptr<ChipModel>(new MaiaModel(t)); },
                   [] {
                     maia::MaiaSpec s;
                     Params p(Params::Mode::Describe, nullptr);
                     maia::describe(p, s);
                     return p.schema();
                   }});
}

}  // namespace xpu
