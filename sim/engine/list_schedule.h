// The executor's list scheduler, shared by whole tasks (run_task, sim/engine/chip.cpp) and tasks
// produced piece by piece (run_stream, sim/engine/stream_exec.cpp): each engine issues its own
// instructions in program order, but the engines run concurrently, so the task is simulated in the
// order of the instructions' ready times and the quantum keeper only ever moves forward through this
// task's events.
//
// The scheduling is resumable: list_begin() loads the engines' heads, list_run() runs steps until the
// task is done (true) or a quantum sync is due (false: the slot's keeper holds the local time to wait
// for); the caller then waits (a slot thread: QuantumKeeper::sync) or lets the chip's slot loop resume
// the slot at that time (Chip::run_slot_loop), and calls list_run() again with the time it resumes at.
//
// A Window holds the task's instructions and their state:
//   bool front(size_t e, std::uint32_t& cand)  the engine's next unprocessed instruction (false: none)
//   const Instr& instr(std::uint32_t i)        an instruction the window still holds
//   take(std::uint32_t i)                      removes i from its engine's queue; returns the
//                                              instruction (a copy where the window may drop it)
//   void finish(std::uint32_t i, Tick end)     i is processed and completes at `end`
//   bool processed(std::uint32_t i), Tick done(std::uint32_t i)
#pragma once

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

#include "sim/engine/chip.h"

namespace xpu {

namespace list_detail {
// An engine's next instruction is ready at max(t0, engine free, completion of its dependencies);
// the dependency part only changes when one of them is processed, so it is cached per engine.
template <class Window, class Head>
inline void refresh(Window& w, Head& h, Tick t0) {
  Tick r = t0;
  for (std::uint32_t d : h.dep) {
    if (d == kNoDep) continue;
    if (!w.processed(d)) {
      h.dep_ready = Head::kBlocked;
      return;
    }
    r = std::max(r, w.done(d));
  }
  h.dep_ready = r;
}
template <class Window, class Head>
inline void load_head(Window& w, Head& h, size_t e, Tick t0) {
  if (!w.front(e, h.cand)) {
    h.cand = kNoDep;
    h.dep_ready = Head::kBlocked;
    return;
  }
  const Instr& c = w.instr(h.cand);
  // Three plain stores: std::copy of 12 bytes compiled to a memmove call through the PLT (5% of a
  // decode step's CPU time, perf).
  h.dep[0] = c.dep[0], h.dep[1] = c.dep[1], h.dep[2] = c.dep[2];
  refresh(w, h, t0);
}
}  // namespace list_detail

template <class Window>
void Executor::list_begin(Window& w, ListState& s, std::vector<SlotState::Head>& heads, std::uint64_t count, Tick t0,
                          std::uint64_t index, std::uint32_t kernel) {
  const size_t engines = m_engines.size();
  heads.resize(engines);
  // The heads' own address, not the vector's: see WholeTask (chip.cpp) on reads after a quantum sync.
  s.hd = heads.data();
  s.count = count;
  s.step = 0;
  s.t0 = t0;
  s.task_end = t0;
  s.index = index;
  s.kernel = kernel;
  for (size_t e = 0; e < engines; ++e) list_detail::load_head(w, s.hd[e], e, t0);
}

template <class Window>
bool Executor::list_run(Window& w, ListState& s, QuantumKeeper& slot_qk, Tick now) {
  const size_t engines = m_engines.size();
  // The slot's keeper and the scheduling's state, copied into this frame and back when it returns: read
  // after every quantum sync, they then share the frame's lines instead of being reached through the
  // caller's arguments. Only the keeper's local time changes here (set), so only it is written back: the
  // whole keeper copied back was read as a 16-byte load right after set()'s 8-byte store, which the CPU
  // cannot forward (perf put some 9% of list_run's own samples on that stall).
  QuantumKeeper qk = slot_qk;
  SlotState::Head* const hd = s.hd;
  const Tick t0 = s.t0;
  const std::uint64_t count = s.count;
  const std::uint32_t kernel = s.kernel;
  Tick task_end = s.task_end;
  std::uint64_t step = s.step;
  const bool shared_engines = active_slot_count() > 1;
  // The slot waits until `at`: the state kept for list_run() to resume from.
  auto wait_until = [&](Tick at) {
    qk.set(at - now);
    s.step = step;
    s.task_end = task_end;
    slot_qk.set(qk.local());
    return true;
  };
  // The slot's local time moved to `at`; whether a quantum sync is due there (the slot then waits).
  auto sync_due = [&](Tick at) {
    qk.set(at - now);
    return qk.need_sync(now) && wait_until(at);
  };
  if (step > 0 && step < count)  // resumed after a quantum sync: other slots ran meanwhile, start loading the candidates
    for (size_t e = 0; e < engines; ++e)
      if (hd[e].cand != kNoDep) prefetch_instr(&w.instr(hd[e].cand));
  while (step < count) {
    std::uint32_t pick = kNoDep;
    Tick ready = 0;
    for (size_t e = 0; e < engines; ++e) {
      const SlotState::Head& h = hd[e];
      if (h.dep_ready == SlotState::Head::kBlocked) continue;
      // The engine's free time is read afresh: other slots of this executor move it while this one syncs.
      Tick r = std::max(h.dep_ready, m_engines[e].free);
      if (pick == kNoDep || r < ready || (r == ready && h.cand < pick)) pick = h.cand, ready = r;
    }
    if (pick == kNoDep)
      throw std::logic_error(std::string(name()) + ": task " + std::to_string(s.index) + " of " +
                             m_ctx.dispatcher.program()->name + " has a dependency on a later instruction");
    // Temporal decoupling: the slot runs ahead of the global time by up to one quantum. A copy books the
    // memory system's calendars and LRU, shared by every slot of the chip (STYLE.md, time discipline), so a
    // slot alone on its executor syncs before a copy that would be booked beyond the quantum; an instruction
    // on its own engines decides nothing another slot could change, so it runs on without a sync, and a
    // k-step's MMA and the copies it frees share one sync instead of one each. Where the family's memory
    // serves its queues in booking order (ExecContext::copies_in_arrival_order), a copy is booked only once
    // no other slot can still book an earlier one: the slot syncs to its ready time when another slot runs
    // before it, so a quantum's copies reach the memory in the order they arrive, whatever the order the slots
    // run in within it (README "Simulation speed", speed62).
    if (ready > now && w.instr(pick).is_dma()) {
      if (m_ctx.copies_in_arrival_order && ready > booking_bound(now) && wait_until(ready)) return false;
      if (!shared_engines && sync_due(ready)) return false;
    }
    decltype(auto) in = w.take(pick);
    // Simulation time moves only between list_run() calls: execute() sends its transactions with
    // b_transport, which does not wait.
    Tick end = execute(in, ready, now, kernel);
    // A joined copy (Instr::k of a DMA, build::join) completes for its dependants no earlier than the copy
    // it joins.
    if (in.is_dma() && in.k != 0) end = std::max(end, w.done(in.k - 1));
    w.finish(pick, end);
    list_detail::load_head(w, hd[in.engine], in.engine, t0);
    for (size_t e = 0; e < engines; ++e) {
      SlotState::Head& h = hd[e];
      if (h.dep_ready == SlotState::Head::kBlocked && h.cand != kNoDep &&
          (h.dep[0] == pick || h.dep[1] == pick || h.dep[2] == pick))
        list_detail::refresh(w, h, t0);
    }
    task_end = std::max(task_end, end);
    ++step;
    if (m_ctx.trace) trace_transaction(in, ready, end, kernel, s.index);
    // Co-resident slots share the executor's engines, whose free time each booking moves: there every
    // instruction syncs once it is booked beyond the quantum.
    if (shared_engines && ready > now && sync_due(ready)) return false;
  }
  s.step = step;
  s.task_end = task_end;
  slot_qk.set(qk.local());
  m_ctx.counters.transactions += count;  // counted once, not per step: read only after a kernel
  return true;
}

template <class Window>
Tick Executor::list_schedule(Window& w, std::uint64_t count, std::vector<SlotState::Head>& heads, Tick t0,
                             std::uint64_t index, std::uint32_t kernel, QuantumKeeper& qk, Tick now) {
  ListState s;
  list_begin(w, s, heads, count, t0, index, kernel);
  while (!list_run(w, s, qk, now)) now = qk.sync(now);
  return s.task_end;
}

}  // namespace xpu
