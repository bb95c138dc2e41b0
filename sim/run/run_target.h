// The chip and the system a model run or serving study names: one resolution of the CLI's flags and the
// Python module's keywords, so that `run`, `serve` and xpusim.run/serve take the same `--set` overrides.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/run/registry.h"
#include "sim/run/system_run.h"

namespace xpu {

// Whether `key=value` sets a field of the system preset rather than the chip's: its key begins with one
// of the system preset's sections (scale_up, scale_out, library, nodes, chip, collectives_only; `xpusim
// params system`). Chip presets have none of them, so one key syntax serves both.
bool is_system_override(const std::string& assignment);

struct RunTarget {
  std::unique_ptr<ChipModel> chip;
  std::optional<SystemContext> system;  // nullopt: one chip
};
// `chip` (a preset name or path) alone, or on its default system of `choice.devices` chips, or
// `choice.system` with that system's chip. `sets` go to the system preset (is_system_override) or to the
// chip's; `overlap` is set_overlap's. InputError naming the key for a system field without a system, and,
// on a system, for a key that is neither the chip's nor the system's (with the nearest of either).
RunTarget load_run_target(const std::string& chip, const SystemChoice& choice, const std::vector<std::string>& sets,
                          bool overlap);

}  // namespace xpu
