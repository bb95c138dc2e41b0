// The (family, op) lowering registry: each family lists, per op kind, the function that lowers it or
// the reason it cannot; an op a family has not registered is refused with that family's reason, never
// silently replaced by another lowering. Replaces the per-family `switch` dispatch.
#pragma once
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "kernels/common/lowering.h"

namespace xpu {

constexpr std::size_t kOpKinds = static_cast<std::size_t>(OpKind::AllGather) + 1;

// What the rest of the simulator may ask of any family's table without knowing its spec type.
class LoweringIndex {
 public:
  explicit LoweringIndex(std::string family);
  virtual ~LoweringIndex();
  LoweringIndex(const LoweringIndex&) = delete;
  LoweringIndex& operator=(const LoweringIndex&) = delete;
  const std::string& family() const { return m_family; }
  bool supports(OpKind k) const { return m_has[index(k)]; }
  // Why the family does not lower `k` ("" when it does).
  const std::string& reason(OpKind k) const { return m_reason[index(k)]; }

 protected:
  static std::size_t index(OpKind k) { return static_cast<std::size_t>(k); }
  void mark(OpKind k, bool has, std::string why);
  std::string m_family;
  std::array<bool, kOpKinds> m_has{};
  std::array<std::string, kOpKinds> m_reason{};
};

// Every family table built so far (a family registers its table when its lowering is first used).
const std::vector<const LoweringIndex*>& lowering_tables();
const LoweringIndex* lowering_table(const std::string& family);

template <class Spec>
class LoweringTable : public LoweringIndex {
 public:
  // A plain function pointer, so an overloaded lowering name resolves to its three-argument form.
  using Fn = KernelPrograms (*)(const OpSpec&, const Spec&, const LowerOptions&);
  explicit LoweringTable(std::string family) : LoweringIndex(std::move(family)) {}
  // Built in place (tables register themselves, so they are never copied): fill(*this) adds the entries.
  template <class Fill>
  LoweringTable(std::string family, Fill fill) : LoweringIndex(std::move(family)) {
    fill(*this);
  }

  LoweringTable& add(OpKind k, Fn fn) {
    m_fn[index(k)] = fn;
    mark(k, true, "");
    return *this;
  }
  LoweringTable& add(std::initializer_list<OpKind> ks, Fn fn) {
    for (OpKind k : ks) add(k, fn);
    return *this;
  }
  LoweringTable& refuse(OpKind k, std::string why) {
    m_fn[index(k)] = nullptr;
    mark(k, false, std::move(why));
    return *this;
  }
  // Runs before every lowering of this family (e.g. the op's own shape validation).
  LoweringTable& before(std::function<void(const OpSpec&)> check) {
    m_before = std::move(check);
    return *this;
  }

  KernelPrograms lower(const OpSpec& op, const Spec& spec, const LowerOptions& opt) const {
    if (m_before) m_before(op);
    const Fn& fn = m_fn[index(op.kind)];
    if (!fn) {
      const std::string& why = reason(op.kind);
      unsupported(spec.name, op, why.empty() ? "no " + m_family + " lowering is registered for this op" : why);
    }
    return fn(op, spec, opt);
  }

 private:
  std::array<Fn, kOpKinds> m_fn{};  // nullptr: refused (m_reason says why)
  std::function<void(const OpSpec&)> m_before;
};

// The entries every family registers today: GEMM and grouped GEMM, attention, the row-wise ops, the
// embedding gather; collectives are refused on one chip: they run on a system's fabric (`fabric`
// names the family's scale-up: "NVLink", "ICI", ...), through sim/system, never through a chip's lowering.
template <class Spec>
auto standard_lowerings(typename LoweringTable<Spec>::Fn gemm, typename LoweringTable<Spec>::Fn attention,
                        typename LoweringTable<Spec>::Fn rowwise, typename LoweringTable<Spec>::Fn embedding,
                        const std::string& fabric) {
  const std::string collective_refusal = "a collective runs on a system's fabric (" + fabric +
                                         "), not inside one chip: `xpusim kernel <collective> --system S`, or "
                                         "`run`/`serve` with --system or --devices";
  return [=](LoweringTable<Spec>& t) {
    t.add({OpKind::Gemm, OpKind::GroupedGemm}, gemm)
        .add(OpKind::Attention, attention)
        .add({OpKind::RmsNorm, OpKind::LayerNorm, OpKind::Softmax, OpKind::SwiGlu, OpKind::Gelu, OpKind::Rope,
              OpKind::ResidualAdd, OpKind::TopK, OpKind::Sampling, OpKind::Copy, OpKind::Sum},
             rowwise)
        .add(OpKind::Embedding, embedding)
        .refuse(OpKind::AllReduce, collective_refusal)
        .refuse(OpKind::AllToAll, collective_refusal)
        .refuse(OpKind::ReduceScatter, collective_refusal)
        .refuse(OpKind::AllGather, collective_refusal);
  };
}

}  // namespace xpu
