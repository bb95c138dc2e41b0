// `xpusim list models`: one line per shipped model saying what it is (it printed bare names, so a user could
// not tell a 405B dense model from a 30B MoE without opening the JSON).
#include <cstdio>
#include <sstream>

#include "workloads/model.h"

namespace xpu {

std::string model_list_table() {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-26s %-9s %-9s %-7s %-7s %-12s %-12s %s\n", "model", "params", "active", "layers",
                "hidden", "heads (kv)", "experts", "context");
  os << line;
  for (const auto& name : list_models()) {
    const ModelConfig m = load_model(name);
    const ParamCounts p = param_counts(m);
    const std::string heads = std::to_string(m.heads) + " (" + std::to_string(m.kv_heads) + ")";
    const std::string experts = m.is_moe() ? std::to_string(m.num_experts) + ", top-" + std::to_string(m.experts_per_token)
                                           : std::string("dense");
    std::snprintf(line, sizeof line, "%-26s %-9s %-9s %-7lld %-7lld %-12s %-12s %lld\n", name.c_str(),
                  (std::to_string(static_cast<long long>(p.total / 1e9 + 0.5)) + "B").c_str(),
                  m.is_moe() ? (std::to_string(static_cast<long long>(p.active / 1e9 + 0.5)) + "B").c_str() : "-",
                  static_cast<long long>(m.layers), static_cast<long long>(m.hidden), heads.c_str(), experts.c_str(),
                  static_cast<long long>(m.max_position));
    os << line;
  }
  os << "\nparams: every weight (B = 1e9); active: per token of an MoE model; context: max_position_embeddings. "
        "Any HF config.json path also works as --model.\n";
  return os.str();
}

}  // namespace xpu
