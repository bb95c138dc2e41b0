// The Trainium/Inferentia family: NeuronCores with Tensor, Vector, Scalar and GpSimd engines.
#include <algorithm>

#include "chips/trainium/trainium_chip.h"
#include "kernels/trainium_lowerings.h"
#include "sim/run/family_model.h"

namespace xpu {
namespace {
struct TrainiumTraits {
  using Spec = trainium::TrainiumSpec;
  using Chip = trainium::TrainiumChip;
  static constexpr const char* kName = "trainium";
  static constexpr const char* kDescription =
      "AWS Trainium/Inferentia: NeuronCores with Tensor, Vector, Scalar and GpSimd engines, SBUF/PSUM, "
      "DMA engines and HBM";
  // The Neuron compiler fuses elementwise ops into neighbouring engine instructions where it can (FusionPolicy::neuron).
  static constexpr const char* kFusion = "neuron";
  static constexpr bool kResidentWeights = false;
  static constexpr bool kTransfersInCoreClock = false;  // DMA engines are rated in GB/s (dma.engine_bandwidth)
  static constexpr bool kCollectivesOnExecutors = false;  // collectives on its DMA rings
  static void describe(Params& p, Spec& s) { trainium::describe(p, s); }
  static const LoweringTable<Spec>& lowerings() { return trainium::lowerings(); }
  static double clock_hz(const Spec& s) { return s.tensor.clock.value(); }
  static std::vector<std::string> clock_keys() { return {"tensor.clock", "vector.clock", "scalar.clock", "gpsimd.clock"}; }
  static std::vector<std::string> level_names() { return {"hbm", "sbuf", "psum"}; }  // trainium::Level
  // Peak of the NeuronCores a kernel runs on (all of them unless `cores_used` says otherwise).
  static int executors(const Spec& s) { return s.active_cores(); }
  // Every HBM byte a kernel moves passes through the DMA engines of the cores it runs on (16 per core at the
  // per-engine rate): trn3 8 x 528 GB/s = 4.2 TB/s [NKI-DMABW], below its 4.9 TB/s of HBM.
  static double memory_roof_bandwidth(const Spec& s) {
    return std::min(s.hbm.bandwidth.value(), s.core_dma_bandwidth() * s.active_cores());
  }
  static DramPath dram_path(const Spec& s) {
    return {"core.dma", s.cores_used > 0 ? "dma.engines x dma.engine_bandwidth x cores_used" : "dma.engines x dma.engine_bandwidth x cores",
            s.core_dma_bandwidth() * s.active_cores()};
  }
};
}  // namespace

void register_trainium_family() { register_family_of<TrainiumTraits>(); }

}  // namespace xpu
