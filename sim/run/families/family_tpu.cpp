// The TPU family: TensorCores with systolic MXUs, a vector unit, VMEM, DMA engines and HBM.
#include <algorithm>

#include "chips/tpu/tpu_chip.h"
#include "kernels/tpu_lowerings.h"
#include "sim/run/family_model.h"

namespace xpu {
namespace {
struct TpuTraits {
  using Spec = tpu::TpuSpec;
  using Chip = tpu::TpuChip;
  static constexpr const char* kName = "tpu";
  static constexpr const char* kDescription =
      "Google TPUs: TensorCores with systolic MXUs, a vector unit, VMEM, DMA engines and HBM";
  static constexpr const char* kFusion = "xla";  // XLA fuses elementwise ops into neighbours
  static constexpr bool kResidentWeights = false;
  static constexpr bool kTransfersInCoreClock = false;  // VMEM is per clock of `clock`, its DMA in GB/s (dma.bandwidth): not one domain
  static constexpr bool kCollectivesOnExecutors = false;  // collectives on its ICI DMA engines
  static void describe(Params& p, Spec& s) { tpu::describe(p, s); }
  static const LoweringTable<Spec>& lowerings() { return tpu::lowerings(); }
  static double clock_hz(const Spec& s) { return s.clock.value(); }
  static std::vector<std::string> clock_keys() { return {"clock"}; }
  static std::vector<std::string> level_names() { return {"hbm", "cmem"}; }  // tpu::Level
  static int executors(const Spec& s) { return s.tensorcores; }
  // Every HBM byte a kernel moves streams on its TensorCores' DMA paths (TpuMemory's mem.dma<core>), so the
  // memory roof of its roofline is the narrower of the two (v6e: 1373 GB/s of HBM-to-VMEM DMA, XLA's own
  // platform figure, against 1640 GB/s of HBM), as Trainium's is its DMA engines'.
  static double memory_roof_bandwidth(const Spec& s) {
    return std::min(s.hbm.bandwidth.value(), s.dma_bandwidth.value() * s.tensorcores);
  }
  static DramPath dram_path(const Spec& s) {
    return {"mem.dma", "dma.bandwidth x tensorcores", s.dma_bandwidth.value() * s.tensorcores};
  }
};
}  // namespace

void register_tpu_family() { register_family_of<TpuTraits>(); }

}  // namespace xpu
