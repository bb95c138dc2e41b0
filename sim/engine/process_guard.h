// Exceptions never leave a SystemC process: they are kept and rethrown by the caller of sc_start.
#pragma once
#include <exception>
#include <systemc>

namespace xpu {

// SystemC 2.3 catches an exception at the coroutine boundary of a thread process and rethrows it from
// sc_start as an sc_report: the type is lost (an InputError or ResourceError raised while simulating
// would surface as a multi-line internal error), and under AddressSanitizer the throw happens while
// the sanitizer has no valid bounds for this thread's stack (see on_return), which leaves stale
// poison behind and false reports later. A process body runs through run(), which keeps the first
// exception (std::exception_ptr) and stops the simulation; whoever called sc_start calls on_return()
// as soon as it returns, so the exception continues on the caller's own stack with its own type.
class ProcessGuard {
 public:
  template <class F>
  void run(F&& body) {
    try {
      body();
    } catch (const sc_core::sc_unwind_exception&) {
      throw;  // SystemC's own kill/reset unwinding passes through
    } catch (...) {
      if (!m_error) m_error = std::current_exception();
      sc_core::sc_stop();
    }
  }
  bool failed() const { return static_cast<bool>(m_error); }
  // Right after sc_start returns: gives AddressSanitizer back this thread's stack bounds (sanitizer
  // builds only), then rethrows the first exception a guarded process raised (once), if any.
  void on_return();

 private:
  std::exception_ptr m_error;
};

// AddressSanitizer builds only (a no-op otherwise). Debian's SystemC 2.3.4 annotates its coroutine
// switches for ASan (__sanitizer_start_switch_fiber), but describes the stack of the thread that
// called sc_start as empty (bottom 0, size 0): after sc_start the sanitizer no longer knows where
// this thread's stack is, ignores __asan_handle_no_return on the next exception ("ASan is ignoring
// requested __asan_handle_no_return: ... top: 0x000000000000") and reports a false
// stack-buffer-overflow later. This announces a "switch" to the thread's own stack with its real bounds.
void restore_sanitizer_stack_bounds();

// AddressSanitizer builds only (a no-op otherwise), called first in every simulation thread: clears
// the stale poison that a coroutine freed earlier left on this thread's fresh stack (see the .cpp).
void forget_stale_coroutine_poison();

// The only way the simulator starts the SystemC kernel (the `layers` check refuses a bare sc_start
// elsewhere): runs to the end, or for *dt when dt is given, then hands the sanitizer this thread's
// stack back and, when a guard is given, rethrows the first exception of a guarded process. A caller
// that forgot the second half left ASan with a coroutine's stack bounds, and the next exception thrown
// on this thread was reported as a stack-buffer-overflow (the sanitized Python suite found it).
void run_kernel(ProcessGuard* guard, const sc_core::sc_time* dt = nullptr);

}  // namespace xpu
