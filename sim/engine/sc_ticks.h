// An sc_time from integer ticks without a call into libsystemc.
#pragma once
#include <cstdint>
#include <systemc>
#include <type_traits>

#include "sim/base/units.h"

namespace xpu {

// sc_time::from_value(t) without the call: from_value is an out-of-line function of libsystemc (through
// the PLT) that stores the value and marks the time resolution fixed in the current context (which no code
// here changes: the default 1 ps is a tick). Every DMA's delay and every quantum sync built one, some 1.3 M
// calls in the 8192^3 H100 GEMM (2.6% of its instructions, callgrind). sc_time is a standard-layout class
// whose only member is its value in resolution units, so the object and that member are
// pointer-interconvertible ([basic.compound]): the value is written through it.
// tests/unit/engine/sc_ticks_test.cpp compares it with from_value.
inline sc_core::sc_time ticks_time(Tick t) {
  static_assert(std::is_standard_layout<sc_core::sc_time>::value && sizeof(sc_core::sc_time) == sizeof(sc_dt::uint64),
                "sc_time holds one 64-bit value");
  sc_core::sc_time r;
  *reinterpret_cast<sc_dt::uint64*>(&r) = static_cast<sc_dt::uint64>(t);
  return r;
}

}  // namespace xpu
