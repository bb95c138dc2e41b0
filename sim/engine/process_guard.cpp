// Rethrowing a simulation process's exception on the caller's stack, and the sanitizer's stack bounds.
#include "sim/engine/process_guard.h"

#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <pthread.h>
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

void ProcessGuard::on_return() {
  restore_sanitizer_stack_bounds();
  if (!m_error) return;
  std::exception_ptr e = std::exchange(m_error, nullptr);
  std::rethrow_exception(e);
}

}  // namespace xpu
