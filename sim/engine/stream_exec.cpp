// A task produced piece by piece (a per-core stream) as the list scheduler's window
// (sim/engine/list_schedule.h): the same picks, in the same order, as run_task over the whole task,
// holding only what later instructions still need.
#include <algorithm>
#include <deque>
#include <stdexcept>
#include <string>

#include "sim/base/task_stream.h"
#include "sim/engine/chip.h"
#include "sim/engine/list_schedule.h"

namespace xpu {

namespace {

// The part of a streamed task the scheduler still needs: instructions from the lowest unprocessed one
// (in the task), and completion times from the earliest any later instruction depends on.
class StreamWindow {
 public:
  StreamWindow(TaskStream& s, const TaskProfile& prof, Task& task, size_t engines, Tick t0)
      : m_s(s), m_prof(prof), m_task(task), m_queue(engines), m_t0(t0) {
    enqueue(0);
  }
  const Instr& instr(std::uint64_t i) const { return m_task.instrs[static_cast<size_t>(i - m_task.first)]; }
  Tick done(std::uint64_t i) const { return m_done[slot(i)]; }
  bool processed(std::uint64_t i) const { return m_processed[slot(i)] != 0; }
  void finish(std::uint64_t i, Tick end) {
    m_done[slot(i)] = end;
    m_processed[slot(i)] = 1;
  }
  // The engine's next instruction, producing pieces until it has one or none is left for it.
  bool front(size_t e, std::uint32_t& cand) {
    fill(e);
    if (m_queue[e].empty()) return false;
    cand = m_queue[e].front();
    return true;
  }
  // A copy: producing the engine's next instruction may drop this one from the window.
  Instr take(std::uint64_t i) {
    const Instr in = instr(i);
    m_queue[in.engine].pop_front();
    return in;
  }

 private:
  void fill(size_t e) {
    while (m_queue[e].empty() && m_prof.has_more(static_cast<int>(e), produced())) {
      const std::uint64_t from = produced();
      if (!m_s.more())
        throw std::logic_error("task stream ended before instruction " + std::to_string(from) + " of " +
                               std::to_string(m_prof.count));
      enqueue(from);
      trim();
    }
  }
  std::uint64_t produced() const { return m_task.first + m_task.instrs.size(); }
  size_t slot(std::uint64_t i) const {
    if (i < m_base || i >= m_base + m_done.size())
      throw std::logic_error("task stream: instruction " + std::to_string(i) + " is outside the window kept");
    return static_cast<size_t>(i - m_base);
  }
  void enqueue(std::uint64_t from) {
    for (std::uint64_t i = from; i < produced(); ++i) {
      m_queue[instr(i).engine].push_back(static_cast<std::uint32_t>(i));
      m_done.push_back(m_t0);
      m_processed.push_back(0);
    }
  }
  // Drops what nothing can need any more (each engine processes its queue in order, so the lowest
  // unprocessed instruction is the least queue front).
  void trim() {
    std::uint64_t low = produced();
    for (const auto& q : m_queue)
      if (!q.empty()) low = std::min<std::uint64_t>(low, q.front());
    const std::uint64_t keep = m_prof.needed_after(low);
    while (m_base < keep && !m_done.empty()) {
      m_done.pop_front();
      m_processed.pop_front();
      ++m_base;
    }
    const std::uint64_t drop = low - m_task.first;
    if (drop >= m_s.piece() && drop * 2 >= m_task.instrs.size()) {
      m_task.instrs.erase(m_task.instrs.begin(), m_task.instrs.begin() + static_cast<std::ptrdiff_t>(drop));
      m_task.first = low;
    }
  }

  TaskStream& m_s;
  const TaskProfile& m_prof;
  Task& m_task;
  std::vector<std::deque<std::uint32_t>> m_queue;  // per engine: its produced, unprocessed instructions
  std::deque<Tick> m_done;
  std::deque<std::uint8_t> m_processed;
  std::uint64_t m_base = 0;  // instruction of m_done.front()
  Tick m_t0;
};

}  // namespace

void Executor::run_stream(TaskStream& s, const TaskProfile& prof, Task& task, std::uint64_t index,
                          QuantumKeeper& qk, Tick now) {
  const std::uint32_t kernel = m_ctx.dispatcher.kernel_id();
  const Tick t0 = task_origin(qk, kernel, now);
  StreamWindow w(s, prof, task, m_engines.size(), t0);
  std::vector<SlotState::Head> heads;
  const Tick task_end = list_schedule(w, prof.count, heads, t0, index, kernel, qk, now);
  end_task(t0, task_end, qk, now_ticks());
}

// A streamed task in the slot loop: run_stream's frame, kept between the slot's resumptions.
struct Executor::StreamRun {
  StreamRun(TaskStream& s, TaskProfile p, Task& task, size_t engines, Tick t0)
      : prof(std::move(p)), w(s, prof, task, engines, t0) {}
  TaskProfile prof;
  StreamWindow w;
  std::vector<SlotState::Head> heads;
};

void Executor::StreamRunDeleter::operator()(StreamRun* p) const { delete p; }

Executor::StreamRun* Executor::begin_stream(TaskStream& s, Task& task, std::uint64_t index, ListState& list,
                                            QuantumKeeper& qk, Tick now) {
  TaskProfile prof = profile_task(*m_ctx.dispatcher.program(), index, s.piece());
  const std::uint32_t kernel = m_ctx.dispatcher.kernel_id();
  const Tick t0 = task_origin(qk, kernel, now);
  auto* run = new StreamRun(s, std::move(prof), task, m_engines.size(), t0);
  list_begin(run->w, list, run->heads, run->prof.count, t0, index, kernel);
  return run;
}

bool Executor::continue_stream(StreamRun& run, ListState& list, QuantumKeeper& qk, Tick now) {
  return list_run(run.w, list, qk, now);
}

}  // namespace xpu
