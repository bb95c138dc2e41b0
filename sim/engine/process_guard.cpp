// Rethrowing a simulation process's exception on the caller's stack, and the sanitizer's stack bounds.
#include "sim/engine/process_guard.h"

#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <pthread.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace xpu {

void restore_sanitizer_stack_bounds() {
#if defined(__SANITIZE_ADDRESS__)
  pthread_attr_t a;
  if (pthread_getattr_np(pthread_self(), &a) != 0) return;
  void* bottom = nullptr;
  size_t size = 0;
  pthread_attr_getstack(&a, &bottom, &size);
  pthread_attr_destroy(&a);
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, bottom, size);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
}

// SystemC maps each coroutine stack itself
// (mmap, with a guard page) and unmaps it when the coroutine is freed, also while it is suspended at
// the end of a run, with its frames' redzones still poisoned; gcc 12's ASan keeps that shadow after
// munmap, so a stack later mapped at the same address inherits it and reports false overflows. At the
// start of a process, everything on its own stack below this frame is unused: its poison is stale.
void forget_stale_coroutine_poison() {
#if defined(__SANITIZE_ADDRESS__)
  char* here = static_cast<char*>(__builtin_frame_address(0));
  // The process entry is within the top few KiB of a stack of SC_DEFAULT_STACK_SIZE bytes.
  const std::size_t span = static_cast<std::size_t>(sc_core::SC_DEFAULT_STACK_SIZE) - 16 * 1024;
  __asan_unpoison_memory_region(here - span, span);
#endif
}

void ProcessGuard::on_return() {
  restore_sanitizer_stack_bounds();
  if (!m_error) return;
  std::exception_ptr e = std::exchange(m_error, nullptr);
  std::rethrow_exception(e);
}

void run_kernel(ProcessGuard* guard, const sc_core::sc_time* dt) {
  if (dt) sc_core::sc_start(*dt);
  else sc_core::sc_start();
  if (guard) guard->on_return();
  else restore_sanitizer_stack_bounds();
}

}  // namespace xpu
