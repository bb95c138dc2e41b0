// TLM-2.0 generic-payload extension: what a transaction is (DMA read/write, tile compute, vector op,
// sync), who issued it, its bytes and FLOPs and the memory level it targets.
#pragma once
#include <tlm>

#include "sim/base/program.h"

namespace xpu {

// Targets keep their calendars for one quantum behind the global time, so transfers of executors
// that lag within the quantum are booked where they belong. Returns {arrival, horizon}.
struct ArrivalWindow {
  std::int64_t arrival, horizon;
};

struct XpuExtension : tlm::tlm_extension<XpuExtension> {
  TxKind kind = TxKind::DmaRead;
  std::uint8_t level = 0;        // family memory level (chips/<family>/isa.h)
  std::uint32_t executor = 0;    // issuing executor (SM, core, tile) index
  std::uint64_t bytes = 0;
  std::uint64_t run = 0;          // contiguous run length of a 2-D transfer (0 = all contiguous)
  std::uint64_t flops = 0;
  std::uint32_t kernel = 0;
  bool write = false;
  std::int64_t arrival_ps = 0;    // when the transfer reaches the target (may precede the global time
                                  // by up to one quantum after a sync: see arrival_window())
  std::int64_t now_ps = 0;        // the simulation time when the initiator sends it (b_transport does not wait)
  std::int64_t horizon_ps = 0;    // now_ps less one global quantum, at least 0: no later arrival falls before it

  tlm::tlm_extension_base* clone() const override { return new XpuExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const XpuExtension&>(other);
  }
};

}  // namespace xpu
