// One template for every chip family's registration: a family is a traits struct naming its spec,
// its preset parser, its lowering table and its SystemC chip; FamilyModel<Traits> turns that into the
// ChipModel the run layer uses, and register_family_of<Traits>() puts it in the family registry.
#pragma once
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sim/run/registry.h"

namespace xpu {

// Traits requirements:
//   using Spec, Chip;                       the parsed preset and the SystemC top module (Chip(name, spec))
//   static constexpr const char* kName, kDescription, kFusion;
//   static constexpr bool kResidentWeights;  whether its lowerings read OpSpec::resident_weight_bytes
//   static void describe(Params&, Spec&);   the preset schema / parser
//   static const LoweringTable<Spec>& lowerings();
//   static double clock_hz(const Spec&);    the clock cycles are counted in
//   static std::vector<std::string> clock_keys();   preset keys of the DVFS clock domain
//   static int executors(const Spec&);      units whose active power is counted
//   static constexpr bool kCollectivesOnExecutors;  whether collectives run on those units (a GPU's SMs)
//   static constexpr bool kTransfersInCoreClock;    ChipModel::transfers_in_core_clock
//   static std::vector<std::string> level_names();   ChipModel::memory_level_names (its isa.h's Level enum)
// and Spec has name, peak_flops(DType), hbm.bandwidth, hbm.capacity. Optional:
//   static double memory_roof_bandwidth(const Spec&);   ChipModel::memory_roof_bandwidth (default: hbm.bandwidth)
//   static DramPath dram_path(const Spec&);             ChipModel::dram_path (default: none)
template <class T, class = void>
struct HasMemoryRoof : std::false_type {};
template <class T>
struct HasMemoryRoof<T, std::void_t<decltype(T::memory_roof_bandwidth(std::declval<const typename T::Spec&>()))>>
    : std::true_type {};

template <class T, class = void>
struct HasDramPath : std::false_type {};
template <class T>
struct HasDramPath<T, std::void_t<decltype(T::dram_path(std::declval<const typename T::Spec&>()))>> : std::true_type {};

// Optional on Spec: DType matmul_rate_dtype(DType) (ChipModel::matmul_rate_dtype; default: the dtype itself).
template <class T, class = void>
struct HasMatmulRate : std::false_type {};
template <class T>
struct HasMatmulRate<T, std::void_t<decltype(std::declval<const T&>().matmul_rate_dtype(DType::bf16))>> : std::true_type {};

template <class Traits>
class FamilyModel : public ChipModel {
 public:
  using Spec = typename Traits::Spec;
  explicit FamilyModel(const ConfigTree& tree) {
    Params p(Params::Mode::Load, &tree);
    Traits::describe(p, m_spec);
    p.finish();
    m_yaml = p.resolved_yaml();
  }
  std::string name() const override { return m_spec.name; }
  std::string family() const override { return Traits::kName; }
  std::string resolved_yaml() const override { return m_yaml; }
  std::string default_fusion() const override { return Traits::kFusion; }
  bool reads_resident_weights() const override { return Traits::kResidentWeights; }
  std::vector<std::string> clock_keys() const override { return Traits::clock_keys(); }
  int executors() const override { return Traits::executors(m_spec); }
  bool transfers_in_core_clock() const override { return Traits::kTransfersInCoreClock; }
  int collective_executors() const override { return Traits::kCollectivesOnExecutors ? executors() : 0; }
  std::vector<std::string> memory_level_names() const override { return Traits::level_names(); }
  KernelPrograms lower(const OpSpec& op, const LowerOptions& opt) const override {
    return Traits::lowerings().lower(op, m_spec, opt);
  }
  std::unique_ptr<Chip> build() const override { return std::make_unique<typename Traits::Chip>("chip", m_spec); }
  double peak_flops(DType d) const override { return m_spec.peak_flops(d); }
  DType matmul_rate_dtype(DType d) const override {
    if constexpr (HasMatmulRate<Spec>::value) return m_spec.matmul_rate_dtype(d);
    return d;
  }
  double dram_bandwidth() const override { return m_spec.hbm.bandwidth.value(); }
  double memory_roof_bandwidth() const override {
    if constexpr (HasMemoryRoof<Traits>::value) return Traits::memory_roof_bandwidth(m_spec);
    return dram_bandwidth();
  }
  DramPath dram_path() const override {
    if constexpr (HasDramPath<Traits>::value) return Traits::dram_path(m_spec);
    return {};
  }
  double dram_capacity() const override { return m_spec.hbm.capacity.value(); }
  double clock_hz() const override { return Traits::clock_hz(m_spec); }
  const Spec& spec() const { return m_spec; }

 private:
  Spec m_spec;
  std::string m_yaml;
};

template <class Traits>
void register_family_of() {
  Traits::lowerings();  // builds the family's lowering table so that lowering_tables() lists it
  register_family({Traits::kName, Traits::kDescription,
                   [](const ConfigTree& t) { return std::unique_ptr<ChipModel>(new FamilyModel<Traits>(t)); },
                   [] {
                     typename Traits::Spec s;
                     Params p(Params::Mode::Describe, nullptr);
                     Traits::describe(p, s);
                     return p.schema();
                   }});
}

}  // namespace xpu
