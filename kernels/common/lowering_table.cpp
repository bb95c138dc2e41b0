#include "kernels/common/lowering_table.h"

#include <algorithm>
#include <mutex>

namespace xpu {

namespace {
std::vector<const LoweringIndex*>& tables() {
  static std::vector<const LoweringIndex*> t;
  return t;
}
std::mutex g_tables_mutex;
}  // namespace

LoweringIndex::LoweringIndex(std::string family) : m_family(std::move(family)) {
  std::lock_guard<std::mutex> lock(g_tables_mutex);
  tables().push_back(this);
}

LoweringIndex::~LoweringIndex() {
  std::lock_guard<std::mutex> lock(g_tables_mutex);
  auto& t = tables();
  t.erase(std::remove(t.begin(), t.end(), this), t.end());
}

void LoweringIndex::mark(OpKind k, bool has, std::string why) {
  m_has[index(k)] = has;
  m_reason[index(k)] = std::move(why);
}

const std::vector<const LoweringIndex*>& lowering_tables() { return tables(); }

const LoweringIndex* lowering_table(const std::string& family) {
  for (const LoweringIndex* t : tables())
    if (t->family() == family) return t;
  return nullptr;
}

}  // namespace xpu
