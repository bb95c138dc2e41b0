// The executor's list scheduler over a task produced piece by piece (a per-core stream): the same
// picks, in the same order, as run_task over the whole task, holding only a window of it.
#include <algorithm>
#include <deque>
#include <stdexcept>
#include <string>

#include "sim/base/task_stream.h"
#include "sim/engine/chip.h"

namespace xpu {

namespace {

// The part of a streamed task the scheduler still needs: instructions from the lowest unprocessed one
// (in the task), and completion times from the earliest any later instruction depends on.
class StreamWindow {
 public:
  StreamWindow(TaskStream& s, const TaskProfile& prof, Task& task, size_t engines, Tick t0)
      : m_s(s), m_prof(prof), m_task(task), m_queue(engines), m_t0(t0) {
    take(0);
  }
  const Instr& instr(std::uint64_t i) const { return m_task.instrs[static_cast<size_t>(i - m_task.first)]; }
  std::deque<std::uint32_t>& queue(size_t e) { return m_queue[e]; }
  Tick done(std::uint64_t i) const { return m_done[slot(i)]; }
  bool processed(std::uint64_t i) const { return m_processed[slot(i)] != 0; }
  void finish(std::uint64_t i, Tick end) {
    m_done[slot(i)] = end;
    m_processed[slot(i)] = 1;
  }
  // Produces pieces until engine `e` has a queued instruction or none is left for it.
  void fill(size_t e) {
    while (m_queue[e].empty() && m_prof.has_more(static_cast<int>(e), produced())) {
      const std::uint64_t from = produced();
      if (!m_s.more())
        throw std::logic_error("task stream ended before instruction " + std::to_string(from) + " of " +
                               std::to_string(m_prof.count));
      take(from);
      trim();
    }
  }

 private:
  std::uint64_t produced() const { return m_task.first + m_task.instrs.size(); }
  size_t slot(std::uint64_t i) const {
    if (i < m_base || i >= m_base + m_done.size())
      throw std::logic_error("task stream: instruction " + std::to_string(i) + " is outside the window kept");
    return static_cast<size_t>(i - m_base);
  }
  void take(std::uint64_t from) {
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
                          tlm_utils::tlm_quantumkeeper& qk) {
  const std::uint32_t kernel = m_ctx.dispatcher.kernel_id();
  const Tick t0 = task_origin(qk, kernel);
  Tick task_end = t0;
  const size_t engines = m_engine_free.size();
  StreamWindow w(s, prof, task, engines, t0);
  std::vector<SlotState::Head> heads(engines);
  auto refresh = [&](SlotState::Head& h) {
    h.ok = true;
    h.dep_ready = t0;
    for (std::uint32_t d : h.dep) {
      if (d == kNoDep) continue;
      if (!w.processed(d)) {
        h.ok = false;
        return;
      }
      h.dep_ready = std::max(h.dep_ready, w.done(d));
    }
  };
  auto load_head = [&](size_t e) {
    SlotState::Head& h = heads[e];
    w.fill(e);
    if (w.queue(e).empty()) {
      h.cand = kNoDep;
      return;
    }
    h.cand = w.queue(e).front();
    const Instr& c = w.instr(h.cand);
    std::copy(std::begin(c.dep), std::end(c.dep), h.dep);
    refresh(h);
  };
  for (size_t e = 0; e < engines; ++e) load_head(e);
  for (std::uint64_t step = 0; step < prof.count; ++step) {
    std::uint32_t pick = kNoDep;
    Tick ready = 0;
    for (size_t e = 0; e < engines; ++e) {
      const SlotState::Head& h = heads[e];
      if (h.cand == kNoDep || !h.ok) continue;
      Tick r = std::max(h.dep_ready, m_engine_free[e]);
      if (pick == kNoDep || r < ready || (r == ready && h.cand < pick)) pick = h.cand, ready = r;
    }
    if (pick == kNoDep)
      throw std::logic_error(std::string(name()) + ": task " + std::to_string(index) + " of " +
                             m_ctx.dispatcher.program()->name + " has a dependency on a later instruction");
    const Instr in = w.instr(pick);
    w.queue(in.engine).pop_front();
    Tick now = now_ticks();
    const Tick end = execute(in, ready, now, kernel);
    w.finish(pick, end);
    load_head(in.engine);
    for (size_t e = 0; e < engines; ++e) {
      SlotState::Head& h = heads[e];
      if (h.cand != kNoDep && !h.ok && (h.dep[0] == pick || h.dep[1] == pick || h.dep[2] == pick)) refresh(h);
    }
    task_end = std::max(task_end, end);
    ++m_ctx.counters.transactions;
    if (ready > now) {
      qk.set(sc_core::sc_time::from_value(static_cast<sc_dt::uint64>(ready - now)));
      if (qk.need_sync()) qk.sync();
    }
    if (m_ctx.trace) trace_transaction(in, ready, end, kernel, index);
  }
  end_task(t0, task_end, qk);
}

}  // namespace xpu
