// The shape every chip family shares (the TLM-2.0 examples' parent-module binding): one memory target
// module (the family's memory system behind a TLM target socket) and N executors (SMs, TensorCores,
// NeuronCores, tiles) whose initiator sockets the parent binds to it. A family writes only its
// MemoryTarget subclass (what a transaction costs) and its Executor subclass (what an instruction costs).
#pragma once
#include <tlm_utils/multi_passthrough_target_socket.h>

#include <memory>
#include <string>
#include <vector>

#include "sim/engine/chip.h"

namespace xpu {

// A family's memory system as seen by its executors' DMA transactions.
class MemoryTarget : public sc_core::sc_module {
 public:
  tlm_utils::multi_passthrough_target_socket<MemoryTarget> target;
  explicit MemoryTarget(sc_core::sc_module_name name) : sc_module(name), target("target") {
    target.register_b_transport(this, &MemoryTarget::transport);
  }
  // Reports the memory's counters under its module path.
  virtual void collect_stats(Stats& out, Tick total) const = 0;
  // Empties every calendar, cache and counter, as built (a reused chip, Chip::rerun); false when the
  // family cannot, and the chip is then not reused.
  virtual bool reset() { return false; }
  // A kernel launch begins (before its first task): the memory takes the state the launch states
  // (Program::dirty_cache_bytes). Families without a write-back cache model ignore it.
  virtual void kernel_starts(const Program&) {}

 protected:
  virtual void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) = 0;

 private:
  void transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) { b_transport(id, trans, delay); }
};

// The chip: `count` executors named <prefix><i>, built by make(name, ctx, index, spec), all bound to
// one Memory. Spec needs `launch_overhead`.
template <class Spec, class Memory, class Exec>
class FamilyChip : public Chip {
 public:
  template <class Make>
  FamilyChip(sc_core::sc_module_name name, const Spec& spec, int count, const std::string& prefix, Make make)
      : Chip(name, spec.launch_overhead), m_spec(spec) {
    m_mem = std::make_unique<Memory>("mem", m_spec);
    for (int i = 0; i < count; ++i) {
      m_execs.push_back(make((prefix + std::to_string(i)).c_str(), m_ctx, i, m_spec));
      m_execs.back()->socket.bind(m_mem->target);
      add_executor(m_execs.back().get());
    }
  }
  void collect_stats(Stats& out, Tick total) const override {
    Chip::collect_stats(out, total);
    m_mem->collect_stats(out, total);
  }
  void collect_memory_stats(Stats& out, Tick total) const override { m_mem->collect_stats(out, total); }
  bool reset_state() override { return Chip::reset_state() && m_mem->reset(); }
  void kernel_starts(const Program& p) override { m_mem->kernel_starts(p); }
  const Spec& spec() const { return m_spec; }

 protected:
  Spec m_spec;
  std::unique_ptr<Memory> m_mem;
  std::vector<std::unique_ptr<Exec>> m_execs;
};

}  // namespace xpu
