// Task streams: the producer (a Program's make_task) runs on a ucontext stack of its own and
// switches back to the consumer after each piece (one switch pair per 2k instructions).
#include "sim/base/task_stream.h"

#include <ucontext.h>

#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <stdexcept>

#include "sim/base/limits.h"

namespace xpu {

namespace {
// Producers build a task in a few frames (a lowering, its emitter, std::function): 256 KiB is ample.
constexpr std::size_t kStackBytes = std::size_t{256} << 10;
struct Cancelled {};  // thrown by pause() to unwind a cancelled producer

// Stacks are reused (a chip runs a stream per core and kernel); kept per thread, at most a few.
thread_local std::vector<std::unique_ptr<char[]>> t_stacks;
std::unique_ptr<char[]> take_stack() {
  if (t_stacks.empty()) return std::unique_ptr<char[]>(new char[kStackBytes]);
  auto s = std::move(t_stacks.back());
  t_stacks.pop_back();
  return s;
}
void give_stack(std::unique_ptr<char[]> s) {
  if (s && t_stacks.size() < 16) t_stacks.push_back(std::move(s));
}
}  // namespace

std::size_t task_piece() {
  static const std::size_t n = [] {
    const char* e = std::getenv("XPUSIM_TASK_PIECE");
    const long long v = e ? std::atoll(e) : 0;
    return v > 0 ? static_cast<std::size_t>(v) : std::size_t{2048};
  }();
  return n;
}

struct TaskStream::Fiber {
  ucontext_t producer{}, consumer{};
  std::unique_ptr<char[]> stack = take_stack();
  ~Fiber() { give_stack(std::move(stack)); }
};

TaskStream::TaskStream(std::size_t piece) : m_piece(std::max<std::size_t>(1, piece)) {}

TaskStream::~TaskStream() { cancel(); }

void TaskStream::entry(unsigned lo, unsigned hi) {
  auto* s = reinterpret_cast<TaskStream*>((static_cast<std::uintptr_t>(hi) << 32) | lo);
  try {
    s->m_prog->make_task(s->m_index, *s->m_task);
  } catch (const Cancelled&) {
  } catch (...) {
    s->m_error = std::current_exception();
  }
  s->m_finished = true;
  s->m_task->stream = nullptr;
  s->m_task->pause_at = ~std::uint64_t{0};
  // Returning ends the context; uc_link resumes the consumer.
}

void TaskStream::resume() {
  m_running = true;
  swapcontext(&m_fiber->consumer, &m_fiber->producer);
  m_running = false;
  if (m_finished) {
    m_fiber.reset();
    if (m_error) {
      std::exception_ptr e = m_error;
      m_error = nullptr;
      std::rethrow_exception(e);
    }
  }
}

void TaskStream::start(const Program& p, std::uint64_t index, Task& task) {
  cancel();
  task.clear();
  m_prog = &p;
  m_index = index;
  m_task = &task;
  m_finished = false;
  m_cancel = false;
  m_error = nullptr;
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer the task is made whole on the caller's stack: ASan intercepts swapcontext
  // (warning on stderr on every use) and does not follow a ucontext stack, so exceptions thrown on it
  // would read as false reports. Results are the same (pieces equal whole tasks, tested in the normal
  // build); only the memory is not flat in sanitized builds.
  task.stream = nullptr;
  task.pause_at = ~std::uint64_t{0};
  m_finished = true;
  p.make_task(index, task);
  return;
#endif
  task.stream = this;
  task.pause_at = m_piece;
  m_fiber = std::make_unique<Fiber>();
  getcontext(&m_fiber->producer);
  m_fiber->producer.uc_stack.ss_sp = m_fiber->stack.get();
  m_fiber->producer.uc_stack.ss_size = kStackBytes;
  m_fiber->producer.uc_link = &m_fiber->consumer;
  const auto self = reinterpret_cast<std::uintptr_t>(this);
  makecontext(&m_fiber->producer, reinterpret_cast<void (*)()>(&TaskStream::entry), 2,
              static_cast<unsigned>(self & 0xffffffffu), static_cast<unsigned>(self >> 32));
  resume();
}

bool TaskStream::more() {
  if (m_finished) return false;
  resume();
  return true;
}

void TaskStream::pause() {
  if (m_task->first + m_task->instrs.size() >= kNoDep)
    throw ResourceError("one task of this kernel has more than " + std::to_string(kNoDep) +
                        " instructions (the limit of an instruction index); reduce the op's dimensions");
  swapcontext(&m_fiber->producer, &m_fiber->consumer);
  if (m_cancel) throw Cancelled{};
  m_task->pause_at = m_task->first + m_task->instrs.size() + m_piece;
}

void TaskStream::cancel() {
  if (m_finished || m_running || !m_fiber) return;
  m_cancel = true;
  resume();
}

TaskProfile profile_task(const Program& p, std::uint64_t index, std::size_t piece) {
  TaskProfile prof;
  prof.piece = piece;
  Task t;
  TaskStream s(piece);
  s.start(p, index, t);
  do {
    for (size_t k = 0; k < t.instrs.size(); ++k) {
      const std::uint64_t i = t.first + k;
      const Instr& in = t.instrs[k];
      if (prof.engine_last.size() <= in.engine) prof.engine_last.resize(in.engine + 1u, ~0ull);
      prof.engine_last[in.engine] = i;
      const size_t pc = static_cast<size_t>(i / piece);
      if (prof.needed_from.size() <= pc) prof.needed_from.resize(pc + 1, ~0ull);
      for (std::uint32_t d : in.dep)
        if (d != kNoDep) prof.needed_from[pc] = std::min<std::uint64_t>(prof.needed_from[pc], d);
      if (in.is_dma() && in.k != 0) prof.needed_from[pc] = std::min<std::uint64_t>(prof.needed_from[pc], in.k - 1);  // build::join
    }
    t.first += t.instrs.size();
    t.instrs.clear();
    t.func.clear();
  } while (s.more());
  prof.count = t.first;
  for (size_t c = prof.needed_from.size(); c-- > 1;)
    prof.needed_from[c - 1] = std::min(prof.needed_from[c - 1], prof.needed_from[c]);
  return prof;
}

void sample_task(const Program& p, std::uint64_t index, Task& out) {
  if (!p.static_placement) {
    p.make_task(index, out);
    return;
  }
  TaskStream s;
  s.start(p, index, out);
  s.cancel();
}

}  // namespace xpu
