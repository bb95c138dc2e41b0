// Chip families register themselves by name; presets are discovered as chips/<family>/presets/*.yaml
// and named on the command line with dashes (h100_sxm.yaml -> h100-sxm).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/base/config.h"
#include "sim/base/program.h"
#include "sim/engine/chip.h"
#include "kernels/common/lowering.h"
#include "workloads/op.h"

namespace xpu {

// A loaded, validated preset of some family: what the app layer needs from any chip.
class ChipModel {
 public:
  virtual ~ChipModel() = default;
  virtual std::string name() const = 0;
  virtual std::string family() const = 0;
  virtual std::string resolved_yaml() const = 0;
  // Pure lowering of one op into the kernel launches this family's software would run.
  virtual KernelPrograms lower(const OpSpec& op, const LowerOptions& opt) const = 0;
  // A fresh SystemC model of the chip (called once per simulation).
  virtual std::unique_ptr<Chip> build() const = 0;
  virtual double peak_flops(DType d) const = 0;    // dense, whole chip; 0 if unsupported
  virtual double dram_bandwidth() const = 0;       // peak bytes/s
  virtual double dram_capacity() const = 0;        // bytes
  virtual double clock_hz() const = 0;             // the clock cycles are counted in
  virtual std::vector<DType> dtypes() const;       // dtypes with a nonzero peak
  // The fusion its usual software applies to a model graph (workloads FusionPolicy::parse names).
  virtual std::string default_fusion() const { return "none"; }
};

struct FamilyEntry {
  std::string name;         // "gpu"
  std::string description;  // one line for `xpusim params`
  std::function<std::unique_ptr<ChipModel>(const ConfigTree&)> load;
  std::function<std::vector<ParamInfo>()> schema;
};

void register_family(const FamilyEntry& f);
const std::vector<FamilyEntry>& families();
const FamilyEntry& family(const std::string& name);  // InputError listing families

struct PresetInfo {
  std::string name, family, path, description;
};
std::vector<PresetInfo> list_presets();
// Loads a preset by name or path and applies `--set` overlays (same mechanism as inherits).
std::unique_ptr<ChipModel> load_chip(const std::string& name_or_path, const std::vector<std::string>& overlays = {});

void register_builtin_families();

}  // namespace xpu
