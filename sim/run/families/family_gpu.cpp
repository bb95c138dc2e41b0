// The GPU family: SMs with tensor cores, shared memory, a sliced L2 and HBM.
#include "chips/gpu/gpu_chip.h"
#include "kernels/gpu_lowerings.h"
#include "sim/run/family_model.h"

namespace xpu {
namespace {
struct GpuTraits {
  using Spec = gpu::GpuSpec;
  using Chip = gpu::GpuChip;
  static constexpr const char* kName = "gpu";
  static constexpr const char* kDescription = "GPUs built of SMs with tensor cores, shared memory, a sliced L2 and HBM";
  // vLLM / TensorRT-LLM on GPUs: residual add fused into RMSNorm, rotary and SiLU-and-mul separate.
  static constexpr const char* kFusion = "vllm";
  static constexpr bool kResidentWeights = false;
  static constexpr bool kTransfersInCoreClock = false;  // L2 and HBM rates are absolute; the SM-side paths are not reported as transfer units
  static constexpr bool kCollectivesOnExecutors = true;  // NCCL and DeepEP run as CUDA blocks on SMs
  static void describe(Params& p, Spec& s) { gpu::describe(p, s); }
  static const LoweringTable<Spec>& lowerings() { return gpu::lowerings(); }
  static double clock_hz(const Spec& s) { return s.sm.clock.value(); }
  static std::vector<std::string> clock_keys() { return {"sm.clock"}; }
  static std::vector<std::string> level_names() { return {"global", "l2", "smem", "multicast"}; }  // gpu::Level: device memory through L2, L2-resident, shared memory, a peer's multicast
  static int executors(const Spec& s) { return s.sm.count; }
};
}  // namespace

void register_gpu_family() { register_family_of<GpuTraits>(); }

}  // namespace xpu
