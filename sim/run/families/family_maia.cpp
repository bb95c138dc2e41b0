// The Maia family: clusters of tiles (tensor unit, vector processor, tile SRAM), cluster SRAM, HBM.
#include "chips/maia/maia_chip.h"
#include "kernels/maia_lowerings.h"
#include "sim/run/family_model.h"

namespace xpu {
namespace {
struct MaiaTraits {
  using Spec = maia::MaiaSpec;
  using Chip = maia::MaiaChip;
  static constexpr const char* kName = "maia";
  static constexpr const char* kDescription =
      "Maia-style dies: clusters of tiles (tensor unit, vector processor, tile SRAM), cluster SRAM, DMA hierarchy, HBM";
  static constexpr const char* kFusion = "none";
  static constexpr bool kResidentWeights = true;  // its lowering pins weights in SRAM when the model's fit (kernels/maia_lowerings.cpp)
  static constexpr bool kTransfersInCoreClock = true;  // tile DMA, CSRAM and NoC ports are bytes per clock of `clock` (maia presets)
  static constexpr bool kCollectivesOnExecutors = false;  // collectives on its DMA engines
  static void describe(Params& p, Spec& s) { maia::describe(p, s); }
  static const LoweringTable<Spec>& lowerings() { return maia::lowerings(); }
  static double clock_hz(const Spec& s) { return s.clock.value(); }
  static std::vector<std::string> clock_keys() { return {"clock"}; }
  static std::vector<std::string> level_names() { return {"hbm", "csram", "tsram"}; }  // maia::Level
  static int executors(const Spec& s) { return s.tiles(); }
};
}  // namespace

void register_maia_family() { register_family_of<MaiaTraits>(); }

}  // namespace xpu
