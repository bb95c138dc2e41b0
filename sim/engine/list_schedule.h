// The executor's list scheduler, shared by whole tasks (run_task, sim/engine/chip.cpp) and tasks
// produced piece by piece (run_stream, sim/engine/stream_exec.cpp): each engine issues its own
// instructions in program order, but the engines run concurrently, so the task is simulated in the
// order of the instructions' ready times and the quantum keeper only ever moves forward through this
// task's events.
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

template <class Window>
Tick Executor::list_schedule(Window& w, std::uint64_t count, std::vector<SlotState::Head>& heads, Tick t0,
                             std::uint64_t index, std::uint32_t kernel, QuantumKeeper& slot_qk) {
  const size_t engines = m_engines.size();
  // The slot's keeper, copied into this frame for the task and back at its end: read after every quantum
  // sync, it then shares the frame's lines instead of being reached through the caller's argument.
  QuantumKeeper qk = slot_qk;
  // An engine's next instruction is ready at max(t0, engine free, completion of its dependencies);
  // the dependency part only changes when one of them is processed, so it is cached per engine.
  auto refresh = [&](SlotState::Head& h) {
    Tick r = t0;
    for (std::uint32_t d : h.dep) {
      if (d == kNoDep) continue;
      if (!w.processed(d)) {
        h.dep_ready = SlotState::Head::kBlocked;
        return;
      }
      r = std::max(r, w.done(d));
    }
    h.dep_ready = r;
  };
  heads.resize(engines);
  // The heads' own address, not the vector's: see WholeTask (chip.cpp) on reads after a quantum sync.
  SlotState::Head* const hd = heads.data();
  auto load_head = [&](size_t e) {
    SlotState::Head& h = hd[e];
    if (!w.front(e, h.cand)) {
      h.cand = kNoDep;
      h.dep_ready = SlotState::Head::kBlocked;
      return;
    }
    const Instr& c = w.instr(h.cand);
    // Three plain stores: std::copy of 12 bytes compiled to a memmove call through the PLT (5% of a
    // decode step's CPU time, perf).
    h.dep[0] = c.dep[0], h.dep[1] = c.dep[1], h.dep[2] = c.dep[2];
    refresh(h);
  };
  for (size_t e = 0; e < engines; ++e) load_head(e);
  Tick task_end = t0;
  // Simulation time moves only while this thread waits (qk.sync() below): execute() sends its
  // transactions with b_transport, which does not wait, so the time is read once per wait.
  Tick now = now_ticks();
  for (std::uint64_t step = 0; step < count; ++step) {
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
      throw std::logic_error(std::string(name()) + ": task " + std::to_string(index) + " of " +
                             m_ctx.dispatcher.program()->name + " has a dependency on a later instruction");
    decltype(auto) in = w.take(pick);
    Tick end = execute(in, ready, now, kernel);
    // A joined copy (Instr::k of a DMA, build::join) completes for its dependants no earlier than the copy
    // it joins.
    if (in.is_dma() && in.k != 0) end = std::max(end, w.done(in.k - 1));
    w.finish(pick, end);
    load_head(in.engine);
    for (size_t e = 0; e < engines; ++e) {
      SlotState::Head& h = hd[e];
      if (h.dep_ready == SlotState::Head::kBlocked && h.cand != kNoDep &&
          (h.dep[0] == pick || h.dep[1] == pick || h.dep[2] == pick))
        refresh(h);
    }
    task_end = std::max(task_end, end);
    // Temporal decoupling: run ahead of the global time by up to one quantum, then yield.
    if (ready > now) {
      qk.set(ready - now);
      if (qk.need_sync(now)) {
        now = qk.sync(now);
        // Other threads ran meanwhile: start loading the candidates the next step reads.
        for (size_t e = 0; e < engines; ++e)
          if (hd[e].cand != kNoDep) prefetch_instr(&w.instr(hd[e].cand));
      }
    }
    if (m_ctx.trace) trace_transaction(in, ready, end, kernel, index);
  }
  slot_qk = qk;
  m_ctx.counters.transactions += count;  // counted once, not per step: read only after a kernel
  return task_end;
}

}  // namespace xpu
