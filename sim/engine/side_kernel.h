// A SystemC kernel context of its own for a simulation that does not run on the warm chip.
#pragma once
#include <systemc>

namespace xpu {

// A fresh SystemC kernel context for a simulation that does not run on the warm chip (a fabric's
// collectives, a system's runtime), for as long as this object lives: the warm chip (chip.h,
// take_warm_chip) and its context are left as they are and are current again afterwards, so the
// kernels simulated next (the next serving step part's, say) rerun the warm chip instead of
// elaborating a new one. Without a warm chip it is fresh_systemc_kernel(). The modules of its
// simulation must be destroyed before it.
class SideKernel {
 public:
  SideKernel();
  ~SideKernel();
  SideKernel(const SideKernel&) = delete;
  SideKernel& operator=(const SideKernel&) = delete;

 private:
  sc_core::sc_simcontext* m_saved = nullptr;  // the warm chip's context (null: no warm chip was kept)
};

}  // namespace xpu
