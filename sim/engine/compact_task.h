// A whole task held compactly while the chip's slot loop runs it: its instructions as 12-byte records
// over a small table of the task's distinct instruction shapes, so that 132 resident slots' tasks
// stay near the host's cache instead of three times its size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sim/base/block_pool.h"
#include "sim/base/program.h"
#include "sim/base/units.h"

namespace xpu {

// Why: the slot loop turns to each of up to 132 slots (an H100's SMs) once per quantum sync, and a
// slot's whole task as produced (a GEMM block's 387 Instrs of 56 bytes, with its completion and order
// arrays some 26 KB) is read a k-step at a time between the other slots' turns: 3.4 MB over the slots
// against a 1 MiB L2, so most of a slot's reads after its turn came back missed (the same 8192^3 GEMM on
// 16 SMs cost 94 ns per transaction against 139 on 132; scripts/bench/README.md).
//
// A task's instructions repeat a few shapes (a GEMM block: its A copy, B copy and MMA per k-step), which
// differ only in their address and dependencies. Each instruction keeps its shape's index, its address
// as the step from the previous instruction of its shape (one engine issues a shape, in program order,
// so the window rebuilds the addresses as the engines take their instructions), and its dependencies as
// distances back; a joined copy's Instr::k (1 + an earlier copy) is kept in the shape as a distance too.
// Instructions of one shape whose addresses lie more than 2 GiB apart (an attention block's K and V tiles)
// take a shape entry each.
// The instruction the window hands out is exactly the one the lowering produced. A task that does not fit
// (more than kMaxShapes shape entries, 65,535 instructions, a dependency out of range) is refused and runs
// as before (Executor::WholeTask).
class CompactTask {
 public:
  static constexpr Tick kPending = INT64_MIN;  // not processed yet
  static constexpr std::size_t kMaxShapes = 64;
  static constexpr std::size_t kMaxInstrs = 0x7fff;  // a dependency's index as int16 (kNoDep: -1)
  struct Rec {
    std::int32_t step = 0;      // address less the previous address of its shape (the first: 0)
    std::uint16_t shape = 0;    // index into shapes()
    std::int16_t dep[3] = {};   // dependencies (-1: none)
  };
  static_assert(sizeof(Rec) == 12, "five records per cache line");
  static_assert(offsetof(Instr, n) == offsetof(Instr, bytes) + 20, "bytes, flops, m, n compared as 24 bytes");

  // Encodes `task` (program order) and lays the engines' queues out; false: the task does not fit (the
  // encoding is then empty: it matches no task).
  bool encode(const Task& task, std::size_t engines) {
    if (encode_all(task, engines)) return true;
    m_recs.clear();
    return false;
  }

  bool encode_all(const Task& task, std::size_t engines) {
    const std::size_t n = task.instrs.size();
    if (n == 0 || n > kMaxInstrs) return false;
    m_recs.resize(n);
    m_begin.assign(engines + 1, 0);
    m_shape_count = 0;
    const Instr* const instrs = task.instrs.data();
    m_instrs = instrs;
    Rec* const recs = m_recs.data();
    std::uint32_t* const count = m_begin.data() + 1;
    const auto n32 = static_cast<std::uint32_t>(n);
    std::size_t hint = 0, ns = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const Instr& in = instrs[i];
      if (in.engine >= engines) return false;
      ++count[in.engine];
      Rec& r = recs[i];
      // A dependency outside the task (kNoDep + 1 wraps to 0) is refused; a later one is kept, for the
      // list scheduler to refuse as it does a whole task's.
      const std::uint32_t d0 = in.dep[0], d1 = in.dep[1], d2 = in.dep[2];
      if ((d0 + 1 > n32) | (d1 + 1 > n32) | (d2 + 1 > n32)) return false;
      r.dep[0] = static_cast<std::int16_t>(d0), r.dep[1] = static_cast<std::int16_t>(d1), r.dep[2] = static_cast<std::int16_t>(d2);
      std::uint32_t k = in.k;
      if (in.is_dma() && k != 0) {
        if (k - 1 >= i) return false;
        k = static_cast<std::uint32_t>(i + 2 - k);  // >= 2
      }
      // The shape after the last one found is tried first (a k-step's copies and MMA follow one another).
      std::size_t s = ns;
      for (std::size_t t = 0; t < ns; ++t) {
        const std::size_t c = hint + t < ns ? hint + t : hint + t - ns;
        if (same_shape(m_shapes[c], in, k) && fits(in.addr - m_addr[c])) {
          s = c;
          break;
        }
      }
      if (s == ns) {
        if (!add_shape(in, k)) return false;
        ++ns;
      }
      r.step = static_cast<std::int32_t>(static_cast<std::int64_t>(in.addr - m_addr[s]));
      r.shape = static_cast<std::uint16_t>(s);
      m_addr[s] = in.addr;
      hint = s + 1 < ns ? s + 1 : 0;
    }
    // Each engine's instructions in program order, the engines one after another (a counting sort).
    for (std::size_t e = 0; e < engines; ++e) m_begin[e + 1] += m_begin[e];
    m_order.resize(n);
    m_at.assign(m_begin.begin(), m_begin.end() - 1);
    std::uint32_t* const at = m_at.data();
    std::uint16_t* const order = m_order.data();
    for (std::size_t i = 0; i < n; ++i) order[at[instrs[i].engine]++] = static_cast<std::uint16_t>(i);
    return true;
  }
  // Whether `task` has this encoding but for its addresses (each shape's first: `first_addr`); its
  // instructions are then this encoding's, each shape's addresses starting at first_addr.
  bool matches(const Task& task, std::uint64_t* first_addr) const {
    const std::size_t n = task.instrs.size();
    if (n != m_recs.size()) return false;
    const Instr* const instrs = task.instrs.data();
    const Rec* const recs = m_recs.data();
    std::uint64_t last[kMaxShapes];
    for (std::size_t i = 0; i < n; ++i) {
      const Instr& in = instrs[i];
      const Rec& r = recs[i];
      if (in.dep[0] != dep_index(r.dep[0]) || in.dep[1] != dep_index(r.dep[1]) || in.dep[2] != dep_index(r.dep[2]))
        return false;
      std::uint32_t k = in.k;
      if (in.is_dma() && k != 0) {
        if (k - 1 >= i) return false;
        k = static_cast<std::uint32_t>(i + 2 - k);
      }
      const std::size_t s = r.shape;
      if (!same_shape(m_shapes[s], in, k)) return false;
      if (i == m_first[s]) first_addr[s] = in.addr;
      else if (in.addr - last[s] != static_cast<std::uint64_t>(static_cast<std::int64_t>(r.step))) return false;
      last[s] = in.addr;
    }
    return true;
  }
  // An int16 index sign-extends: -1 is kNoDep.
  static std::uint32_t dep_index(std::int16_t d) { return static_cast<std::uint32_t>(static_cast<std::int32_t>(d)); }
  std::size_t size() const { return m_recs.size(); }
  std::size_t shape_count() const { return m_shape_count; }
  // Engine e's queue is order()[begin(e), begin(e + 1)).
  std::uint32_t begin(std::size_t e) const { return m_begin[e]; }
  // Per shape, the instruction (addr: the first address of the task encoded); a window hands out a copy
  // whose address starts at the task's first of the shape and moves by each record's step as the engine
  // takes them (a joined copy's k set then from join()).
  const Instr* shapes() const { return m_shapes; }
  const std::uint32_t* join() const { return m_join; }
  const Rec* recs() const { return m_recs.data(); }
  const std::uint16_t* order() const { return m_order.data(); }

 private:
  bool add_shape(const Instr& in, std::uint32_t k) {
    if (m_shape_count == kMaxShapes) return false;
    Instr& sh = m_shapes[m_shape_count];
    sh = in;
    sh.dep[0] = sh.dep[1] = sh.dep[2] = kNoDep;
    sh.k = k;
    m_addr[m_shape_count] = in.addr;
    m_join[m_shape_count] = in.is_dma() && in.k != 0 ? k : 0;
    m_first[m_shape_count] = static_cast<std::uint32_t>(&in - m_instrs);
    ++m_shape_count;
    return true;
  }
  static bool fits(std::uint64_t step) {
    const auto s = static_cast<std::int64_t>(step);
    return s >= INT32_MIN && s <= INT32_MAX;
  }
  static bool same_shape(const Instr& s, const Instr& in, std::uint32_t k) {
    return std::memcmp(&s, &in, 4) == 0 && std::memcmp(&s.bytes, &in.bytes, 24) == 0 && s.k == k && s.func == in.func;
  }
  // Per shape (the first m_shape_count): the instruction (addr: the shape's first address, then the
  // window's running one), the last address encoded, a joined copy's distance (k = index + 2 - it) or 0.
  Instr m_shapes[kMaxShapes];
  std::uint64_t m_addr[kMaxShapes];
  std::uint32_t m_join[kMaxShapes];
  std::uint32_t m_first[kMaxShapes];  // the shape's first instruction
  std::size_t m_shape_count = 0;
  const Instr* m_instrs = nullptr;     // encode's task
  // Per instruction, like the task's buffer from the block pool (block_pool.h).
  std::vector<Rec, PoolAllocator<Rec>> m_recs;
  std::vector<std::uint16_t, PoolAllocator<std::uint16_t>> m_order;  // by engine, each in program order
  std::vector<std::uint32_t> m_begin;                                // per engine, its queue's start in m_order
  std::vector<std::uint32_t> m_at;                                   // encode's scratch
};

}  // namespace xpu
