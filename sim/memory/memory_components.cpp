// The registry of memory components: each implementation registers its name here, and a preset
// chooses it (`hbm.model`, `l2.model`). Adding a DRAM or cache model is one new file and one line.
#include "sim/engine/named_registry.h"
#include "sim/memory/i_cache.h"
#include "sim/memory/i_dram.h"

namespace xpu {

void register_hbm_channels();
void register_tile_lru();

namespace {
void register_builtin_memory() {
  static const bool done = [] {
    register_hbm_channels();
    register_tile_lru();
    return true;
  }();
  (void)done;
}
}  // namespace

std::vector<std::string> dram_model_names() {
  register_builtin_memory();
  return NamedRegistry<IDram, const HbmSpec&>::names();
}

std::vector<std::string> cache_model_names() {
  register_builtin_memory();
  return NamedRegistry<ICache, const CacheSpec&>::names();
}

std::unique_ptr<IDram> make_dram(const HbmSpec& spec) {
  register_builtin_memory();
  return NamedRegistry<IDram, const HbmSpec&>::make("DRAM model (hbm.model)", spec.model, spec);
}

std::unique_ptr<ICache> make_cache(const CacheSpec& spec) {
  register_builtin_memory();
  return NamedRegistry<ICache, const CacheSpec&>::make("cache model (l2.model)", spec.model, spec);
}

}  // namespace xpu
