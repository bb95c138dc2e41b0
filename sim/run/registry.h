// Chip families register themselves by name; presets are discovered as chips/<family>/presets/*.yaml
// and named on the command line with dashes (h100_sxm.yaml -> h100-sxm).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/base/config.h"
#include "sim/base/program.h"
#include "sim/cost/cost.h"
#include "sim/engine/chip.h"
#include "sim/power/power.h"
#include "kernels/common/lowering.h"
#include "workloads/op.h"

namespace xpu {

// A path of the cores that every DRAM byte a kernel moves passes through, modelled apart from the HBM (a TPU
// TensorCore's HBM <-> VMEM DMA, Trainium's DMA engines): the unit type its utilization is reported under, its peak
// over the cores a kernel runs on, and the preset keys that set that peak. An empty unit: the family has none.
struct DramPath {
  std::string unit, keys;
  double bandwidth = 0;
};

// A loaded, validated preset of some family: what the app layer needs from any chip.
class ChipModel {
 public:
  virtual ~ChipModel() = default;
  virtual std::string name() const = 0;
  virtual std::string family() const = 0;
  virtual std::string resolved_yaml() const = 0;  // the family's own fields
  std::string full_yaml() const { return resolved_yaml() + m_power_yaml; }
  // Pure lowering of one op into the kernel launches this family's software would run.
  virtual KernelPrograms lower(const OpSpec& op, const LowerOptions& opt) const = 0;
  // A fresh SystemC model of the chip (called once per simulation).
  virtual std::unique_ptr<Chip> build() const = 0;
  virtual double peak_flops(DType d) const = 0;    // dense, whole chip; 0 if unsupported
  // The dtype whose tensor rate a matmul of `d` runs at: `d` itself, or the format the family's lowering
  // converts it to where its tensor units have no `d` path (Maia 200's BF16 -> FP8, lowering.bf16_matmul).
  // Reports state a kernel's share of peak against that rate.
  virtual DType matmul_rate_dtype(DType d) const { return d; }
  virtual double dram_bandwidth() const = 0;       // peak bytes/s
  // The memory roof of a kernel's roofline: the DRAM peak, or less where every DRAM byte passes through a
  // narrower path of the cores a kernel runs on (Trainium's DMA engines).
  virtual double memory_roof_bandwidth() const { return dram_bandwidth(); }
  virtual DramPath dram_path() const { return {}; }
  virtual double dram_capacity() const = 0;        // bytes
  virtual double clock_hz() const = 0;             // the clock cycles are counted in
  virtual std::vector<DType> dtypes() const;       // dtypes with a nonzero peak
  // The fusion its usual software applies to a model graph (workloads FusionPolicy::parse names).
  virtual std::string default_fusion() const { return "none"; }
  // Whether its lowerings depend on OpSpec::resident_weight_bytes (on-chip weight placement): if not,
  // a kernel's result does not depend on the model around it and is shared across models and layouts.
  virtual bool reads_resident_weights() const { return false; }
  // Preset keys of the clocks that DVFS scales together (the power manager's clock domain).
  virtual std::vector<std::string> clock_keys() const { return {}; }
  // Whether its on-chip transfer units (DMA ports, NoC, SRAM ports) move bytes per clock of that DVFS clock
  // (Maia's tile DMA, CSRAM and NoC ports), so a held clock slows them as it slows the
  // compute units; otherwise their rates are absolute (a GPU's L2 and HBM, Trainium's DMA engines in GB/s).
  virtual bool transfers_in_core_clock() const { return false; }
  // Number of executors (SMs, cores, tiles) that executor_active power is counted for.
  virtual int executors() const { return 1; }
  // Executors its kernels share with the collectives running beside them (a GPU's SMs run NCCL's and
  // DeepEP's blocks); 0 where collectives run on DMA engines (TPU, Trainium, Maia).
  virtual int collective_executors() const { return 0; }
  // Names of a DMA's memory levels (Instr::level & 7, chips/<family>/isa.h), indexed by level: trace.h5's
  // level_names and the reports' per-level DMA bytes name them.
  virtual std::vector<std::string> memory_level_names() const { return {}; }

  // Power and cost are family-independent preset sections (`power.*`, `cost.*`), parsed by the
  // registry; a preset without `power.tdp` has no power model (reports say so).
  const PowerSpec* power() const { return m_has_power ? &m_power : nullptr; }
  const CostSpec& cost() const { return m_cost; }
  // The same chip with its clock domain at `ratio` of nominal (nullptr if the family has none).
  std::unique_ptr<ChipModel> at_clock(double ratio) const;

 private:
  friend std::unique_ptr<ChipModel> load_from_tree(const ConfigTree& tree, const std::string& fam);
  PowerSpec m_power;
  CostSpec m_cost;
  bool m_has_power = false;
  ConfigTree m_tree;            // the resolved input tree (for at_clock)
  std::string m_family_name;
  std::string m_power_yaml;
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
// A preset's TDP as its file (or one it inherits) states it, "-" where it has no power.tdp, and whether
// that line marks the figure `# assumed:` rather than sourced (for `list chips`).
struct PresetTdp {
  std::string text = "-";
  std::string design;  // power.design_tdp where the preset states one (the provisioned power.tdp is below it)
  bool assumed = false;
};
PresetTdp preset_tdp(const PresetInfo& p);
// Loads a preset by name or path and applies `--set` overlays (same mechanism as inherits).
std::unique_ptr<ChipModel> load_chip(const std::string& name_or_path, const std::vector<std::string>& overlays = {});
// Whether the chip's GEMM lowering takes weights stored as `weights` beside `activations` (a small GEMM
// lowered as a probe): memory advice names only formats the chip runs.
bool runs_weights(const ChipModel& chip, DType weights, DType activations);
// The same probe before a model run or serving study (weights no wider than the activations):
// InputError naming the dtype flags, the chip's reason and the dtypes it runs, instead of the first
// GEMM's lowering error with its shape.
void check_runs_weights(const ChipModel& chip, DType weights, DType activations);
// The same for the KV cache: a small decode attention with its cache in `kv` is lowered beside one with the cache in
// `activations`; where only the first is refused (fp4 KV on a GPU without an fp4 tensor path, or on a TPU), an
// InputError naming --kvdtype, the value, the chip and the chip's reason.
void check_runs_kv_cache(const ChipModel& chip, DType kv, DType activations);
// Both, before a model run, a model session's step or a serving study.
void check_runs_dtypes(const ChipModel& chip, DType weights, DType activations, DType kv);
// Schema of the family-independent `power.*` and `cost.*` sections (for `xpusim params`).
std::vector<ParamInfo> power_cost_schema();

void register_builtin_families();
std::unique_ptr<ChipModel> load_from_tree(const ConfigTree& tree, const std::string& fam);

}  // namespace xpu
