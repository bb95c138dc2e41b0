// A temporally decoupled thread's local time offset, in integer ticks (loosely-timed TLM-2.0).
#pragma once
#include <cassert>
#include <cstdint>
#include <systemc>
#include <tlm>

#include "sim/base/units.h"
#include "sim/engine/sc_ticks.h"

namespace xpu {

// The sync points of tlm_utils::tlm_quantumkeeper exactly (a thread runs ahead until its local time
// reaches the next multiple of the global quantum after its last sync, then waits for it), kept as
// plain ticks: the TLM keeper's virtual calls, sc_time conversions and time-stamp reads on every
// transaction cost a few percent of a GEMM's instructions (callgrind), and the caller usually knows
// the current time already. The global quantum is read at reset() (a slot thread's start of a kernel)
// and kept: sync() computes the next sync point as tlm_global_quantum::compute_local_quantum() does,
// without its calls. tests/unit/engine/quantum_keeper_test.cpp runs both side by side.
// Aligned to its size rounded up: read right after every coroutine switch, it stays in one cache line.
class alignas(32) QuantumKeeper {
 public:
  void set(Tick local) { m_local = local; }
  Tick local() const { return m_local; }
  // `now`: the current simulation time (sc_time_stamp), which the caller has read since its last wait.
  bool need_sync(Tick now) const {  // unsigned, as sc_time adds: a saturated local time does not wrap
    return static_cast<std::uint64_t>(now) + static_cast<std::uint64_t>(m_local) >= m_next;
  }
  bool need_sync() const { return need_sync(stamp()); }
  // Waits for the local time; returns the simulation time after the wait.
  Tick sync() { return sync(stamp()); }
  // The same, `now` being the current simulation time: a timed wait resumes exactly `m_local` later,
  // so the time after it is computed, not read (sc_time_stamp() is a call into libsystemc whose
  // context is cold after the coroutine switch; perf put it at about 1% of a GEMM's samples).
  Tick sync(Tick now) {
    assert(now == stamp());
    sc_core::wait(ticks_time(m_local));
    now = static_cast<Tick>(static_cast<std::uint64_t>(now) + static_cast<std::uint64_t>(m_local));
    assert(now == stamp());
    advance(now);
    return now;
  }
  // What sync() does after its wait, for a caller that waited otherwise (the chip's slot loop resumes a
  // slot at its local time, now + local()): `now` is that time.
  void resumed(Tick now) { advance(now); }
  void reset() {
    m_quantum = tlm::tlm_global_quantum::instance().get().value();
    restart(stamp());
  }

 private:
  static Tick stamp() { return static_cast<Tick>(sc_core::sc_time_stamp().value()); }
  // tlm_global_quantum::compute_local_quantum(): the rest of the current quantum (none when it is 0).
  void restart(Tick now) {
    m_local = 0;
    const std::uint64_t t = static_cast<std::uint64_t>(now);
    m_next = t + (m_quantum != 0 ? m_quantum - t % m_quantum : 0);
  }
  // restart() at a time no earlier than the last restart, without its division (a 64-bit divide per
  // quantum sync, some 270,000 in the 8192^3 H100 GEMM): m_next is the first multiple of the quantum
  // after the last restart's time, so the first multiple after `now` is m_next while `now` lies before
  // it and the next multiple while it lies in the following quantum (a sync lands there unless its
  // local time spans more than one quantum); otherwise it is computed.
  void advance(Tick now) {
    const std::uint64_t t = static_cast<std::uint64_t>(now);
    if (m_quantum != 0 && t < m_next + m_quantum) {
      m_local = 0;
      if (t >= m_next) m_next += m_quantum;
      return;
    }
    restart(now);
  }
  Tick m_local = 0;
  std::uint64_t m_next = 0;     // the next sync point
  std::uint64_t m_quantum = 0;  // the global quantum at reset()
};

}  // namespace xpu
