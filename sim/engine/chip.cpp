// Host thread, dispatcher and the generic task executor shared by all chip families.
#include "sim/engine/chip.h"

#include "sim/base/block_pool.h"
#include "sim/base/task_stream.h"
#include "sim/engine/list_schedule.h"
#include "sim/engine/side_kernel.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <optional>

namespace xpu {

using sc_core::sc_time;

void Dispatcher::start(const Program* p, std::uint32_t kernel_id, int executors, int slots) {
  m_prog = p;
  m_kernel = kernel_id;
  m_executors = static_cast<std::uint64_t>(executors);
  // Tasks after the first wave go to whichever slot frees first.
  m_next = p ? std::min<std::uint64_t>(p->num_tasks, m_executors * static_cast<std::uint64_t>(std::max(1, slots))) : 0;
  m_completed = 0;
  m_last_end = now_ticks();
  m_static_next.assign(static_cast<size_t>(executors), 0);
  for (int e = 0; e < executors; ++e) m_static_next[static_cast<size_t>(e)] = static_cast<std::uint64_t>(e);
  start_event.notify(sc_core::SC_ZERO_TIME);
}

bool Dispatcher::next(int executor, int slot, bool first, std::uint64_t& index) {
  if (!m_prog) return false;
  if (m_prog->static_placement) {
    std::uint64_t& n = m_static_next[static_cast<size_t>(executor)];
    if (n >= m_prog->num_tasks) return false;
    index = n;
    n += m_static_next.size();
    return true;
  }
  if (first) {
    index = static_cast<std::uint64_t>(slot) * m_executors + static_cast<std::uint64_t>(executor);
    return index < m_prog->num_tasks;
  }
  if (m_next >= m_prog->num_tasks) return false;
  index = m_next++;
  return true;
}

void Dispatcher::complete(Tick end, Tick now) {
  m_last_end = std::max(m_last_end, end);
  if (++m_completed == m_prog->num_tasks) {
    // A slot thread completes its task at the simulation time, which the host reads when it wakes; a slot
    // of the slot loop may be ahead of the simulation time.
    m_last_end = std::max(m_last_end, now);
    done_event.notify(sc_core::SC_ZERO_TIME);
  }
}

namespace {
int g_slot_loop = -1;  // -1: not read yet
}  // namespace

bool slot_loop_default() {
  if (g_slot_loop < 0) {
    const char* v = std::getenv("XPUSIM_SLOT_THREADS");
    g_slot_loop = (v && *v && std::string(v) != "0") ? 0 : 1;
  }
  return g_slot_loop == 1;
}

void set_slot_loop_default(bool on) {
  if (static_cast<int>(on) != g_slot_loop) drop_warm_chip();
  g_slot_loop = on ? 1 : 0;
}

Chip::Chip(sc_core::sc_module_name name, Seconds launch_overhead)
    : sc_module(name), m_launch_overhead(to_ticks(launch_overhead.value())) {
  SC_HAS_PROCESS(Chip);
  SC_THREAD(host_thread);
  m_ctx.slot_loop = slot_loop_default();
  if (m_ctx.slot_loop) {
    ++m_ctx.slot_threads;
    SC_THREAD(slot_loop_thread);
  }
}

Chip::~Chip() = default;

void Chip::set_workload(std::vector<KernelPrograms> kernels) {
  m_kernels = std::move(kernels);
  plan_threads();
}

void Chip::plan_threads() {
  const std::uint64_t executors = m_executors.size();
  m_shapes.clear();
  m_ctx.slots_wanted.assign(executors, 0);
  Task sample;
  for (const auto& launches : m_kernels)
    for (const auto& prog : launches) {
      LaunchShape shape;
      if (prog.num_tasks > 0) {
        sample = Task();
        sample_task(prog, 0, sample);
        shape.slots = std::max(1, slots_for(sample));
        shape.task_instrs = sample.instrs.size();
        // Slot s of executor x takes a task while s x executors + x is below the task count (the first
        // wave, Dispatcher::next; only a slot that took one takes later tasks).
        for (std::uint64_t x = 0; x < executors; ++x) {
          const std::uint64_t takers = prog.num_tasks > x ? (prog.num_tasks - x + executors - 1) / executors : 0;
          int& n = m_ctx.slots_wanted[x];
          n = std::max(n, static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(shape.slots), takers)));
        }
      }
      m_shapes.push_back(shape);
    }
}

void Chip::host_thread() {
  forget_stale_coroutine_poison();
  m_ctx.guard.run([this] { host_loop(); });
}

std::map<std::string, double> Chip::unit_busy_now() const {
  const Tick elapsed = now_ticks() - m_origin;
  Stats s;
  collect_stats(s, elapsed);
  static const std::string suffix = ".utilization";
  std::map<std::string, double> busy;
  for (const auto& [k, v] : s.all())
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0)
      busy[k] = v.value * to_seconds(elapsed);
  return busy;
}

void Chip::run_kernels() {
  std::uint32_t kernel_id = 0, op_index = 0;
  m_op_units.clear();
  for (auto& launches : m_kernels) {
    const Tick op_start = now_ticks();
    std::map<std::string, double> busy_before;
    if (m_units_per_op) busy_before = unit_busy_now();
    for (auto& prog : launches) {
      KernelRecord rec;
      rec.op_index = op_index;
      rec.name = prog.name;
      rec.op = prog.op;
      rec.strategy = prog.strategy;
      rec.tasks = prog.num_tasks;
      rec.roofline = prog.roofline;
      rec.launch_overhead = m_launch_overhead;
      if (rec.launch_overhead > 0) wait(sc_time::from_value(static_cast<sc_dt::uint64>(rec.launch_overhead)));
      RunCounters before = m_ctx.counters;
      double dram_before = dram_bytes();
      rec.start = now_ticks() - m_origin;
      kernel_starts(prog);
      if (prog.num_tasks > 0) {
        const int slots = m_shapes[kernel_id].slots;
        m_ctx.task_instrs = m_shapes[kernel_id].task_instrs;
        rec.slots_per_executor = slots;
        for (Executor* e : m_executors) e->set_active_slots(slots);
        m_ctx.dispatcher.start(&prog, kernel_id, static_cast<int>(m_executors.size()), slots);
        wait(m_ctx.dispatcher.done_event);
        Tick end = m_ctx.dispatcher.last_end();
        if (end > now_ticks()) wait(sc_time::from_value(static_cast<sc_dt::uint64>(end - now_ticks())));
      }
      rec.end = now_ticks() - m_origin;
      const RunCounters& after = m_ctx.counters;
      rec.counters.transactions = after.transactions - before.transactions;
      rec.counters.vector_flops = after.vector_flops - before.vector_flops;
      rec.counters.task_ticks = after.task_ticks - before.task_ticks;
      rec.counters.dram_bytes = dram_bytes() - dram_before;
      for (int i = 0; i < 8; ++i) {
        rec.counters.flops_by_dtype[i] = after.flops_by_dtype[i] - before.flops_by_dtype[i];
        rec.counters.bytes_by_level[i] = after.bytes_by_level[i] - before.bytes_by_level[i];
        rec.counters.dma_count_by_level[i] = after.dma_count_by_level[i] - before.dma_count_by_level[i];
      }
      m_records.push_back(rec);
      ++kernel_id;
    }
    if (m_units_per_op) {
      const double span = to_seconds(now_ticks() - op_start);
      Stats units;
      for (const auto& [k, b] : unit_busy_now())
        units.set(k, span > 0 ? (b - busy_before[k]) / span : 0.0, "ratio", "busy time over the op's span");
      m_op_units.push_back(std::move(units));
    }
    ++op_index;
  }
}

void Chip::host_loop() {
  for (;;) {
    run_kernels();
    m_ctx.dispatcher.start(nullptr, 0, static_cast<int>(m_executors.size()));
    // One delta for the slot threads to see the end of the run and return (or park): a coroutine still
    // waiting when the simulation stops is freed without unwinding, and its locals' buffers would leak.
    wait(sc_core::SC_ZERO_TIME);
    // A slot thread that was in a zero-time quantum sync missed that notification: it waits for the
    // start a delta later (parking order does not matter: release_parked() restores creation order).
    for (int i = 0; m_ctx.reusable && m_ctx.parked < m_ctx.slot_threads && i < 4; ++i) {
      m_ctx.dispatcher.start(nullptr, 0, static_cast<int>(m_executors.size()));
      wait(sc_core::SC_ZERO_TIME);
    }
    m_finished = true;
    m_end = now_ticks();
    if (!m_ctx.reusable || !park_slot_threads()) break;
    sc_core::sc_pause();
    wait(m_rerun_event);
    // The threads the workload can use wait for the next start in their creation order, as after
    // elaboration (or all return).
    for (size_t x = 0; x < m_executors.size(); ++x)
      m_executors[x]->release_parked(m_ctx.reusable ? m_ctx.slots_wanted[x] : m_executors[x]->slot_thread_count());
    release_slot_loop();
    if (!m_ctx.reusable) {
      wait(sc_core::SC_ZERO_TIME);
      break;
    }
  }
  sc_core::sc_stop();
}

bool Chip::park_slot_threads() {
  // Every slot thread must be parked (none left in a timed wait), or a rerun would not start as a fresh
  // chip does: the chip is then used once only.
  if (m_ctx.parked == m_ctx.slot_threads) return true;
  m_ctx.reusable = false;
  for (Executor* e : m_executors) e->release_parked(e->slot_thread_count());
  release_slot_loop();
  wait(sc_core::SC_ZERO_TIME);
  return false;
}

bool Chip::rerun(std::vector<KernelPrograms> kernels) {
  if (!m_ctx.reusable || !m_finished || !reset_state()) return false;
  const Tick q = std::max<Tick>(1, static_cast<Tick>(tlm_utils::tlm_quantumkeeper::get_global_quantum().value()));
  const Tick now = now_ticks();
  // A quantum boundary (the quantum keepers sync at multiples of the quantum), one quantum clear of the
  // last run: calendars see the same horizons as from time zero.
  m_origin = (now / q + 2) * q;
  m_kernels = std::move(kernels);
  plan_threads();
  m_records.clear();
  m_finished = false;
  m_rerun_event.notify(sc_time::from_value(static_cast<sc_dt::uint64>(m_origin - now)));
  return true;
}

void Chip::shutdown() {
  if (!m_ctx.reusable || !m_finished) return;
  m_ctx.reusable = false;
  m_rerun_event.notify(sc_core::SC_ZERO_TIME);
  run_kernel(nullptr);  // may run from a destructor: nothing is rethrown here
}

bool Chip::reset_state() {
  m_ctx.counters = RunCounters();
  for (Executor* e : m_executors) e->reset_engines();
  return true;
}

void Chip::collect_stats(Stats& out, Tick total) const {
  for (const Executor* e : m_executors) {
    for (int i = 0; i < e->num_engines(); ++i) {
      std::string n = std::string(e->name()) + "." + e->engine_name(i);
      const std::string note = e->engine_note(i);
      out.set(n + ".busy", to_seconds(e->engine_busy(i)), "s", note.empty() ? "time the engine was occupied" : note);
      out.set(n + ".utilization", total > 0 ? static_cast<double>(e->engine_busy(i)) / total : 0.0, "ratio",
              note.empty() ? kEngineBusyNote : note);
    }
  }
}

void Chip::engine_utilization(std::vector<EngineUtilization>& out, Tick total, StatGroupOf group_of) const {
  if (m_engine_keys.empty() || m_engine_group_of != group_of) {
    m_engine_keys.clear();
    for (size_t x = 0; x < m_executors.size(); ++x)
      for (int i = 0; i < m_executors[x]->num_engines(); ++i) {
        std::string key = std::string(m_executors[x]->name()) + "." + m_executors[x]->engine_name(i) + ".utilization";
        std::string group = group_of(key);
        m_engine_keys.push_back({std::move(key), std::move(group), static_cast<int>(x), i});
      }
    std::sort(m_engine_keys.begin(), m_engine_keys.end(),
              [](const EngineKey& a, const EngineKey& b) { return a.key < b.key; });
    m_engine_group_of = group_of;
  }
  out.clear();
  out.reserve(m_engine_keys.size());
  for (const EngineKey& k : m_engine_keys) {  // the value collect_stats() sets
    const Tick busy = m_executors[static_cast<size_t>(k.executor)]->engine_busy(k.engine);
    out.push_back({&k.key, &k.group, total > 0 ? static_cast<double>(busy) / total : 0.0});
  }
}

Executor::Executor(sc_core::sc_module_name name, ExecContext& ctx, int index, const std::vector<std::string>& engines,
                   int max_slots)
    : sc_module(name),
      socket("socket"),
      m_ctx(ctx),
      m_index(index),
      m_engines(engines.size()),
      m_max_slots(max_slots),
      m_engine_names(engines) {
  for (const auto& e : engines) m_unit_ids.push_back(ctx.register_unit(std::string(this->name()) + "." + e));
}

void Executor::end_of_elaboration() {
  // Threads are created in the same order as before (executor by executor, slot by slot); those left
  // out are never active in a kernel of the workload (see Chip::plan_threads).
  m_fw = socket.get_interface(0);
  if (m_ctx.slot_loop) return;  // the chip's slot loop runs the slots
  const size_t x = static_cast<size_t>(m_index);
  const int slots = x < m_ctx.slots_wanted.size() ? std::min(m_max_slots, m_ctx.slots_wanted[x]) : 0;
  for (int s = 0; s < slots; ++s) spawn_slot(s, false);
}

void Executor::spawn_slot(int slot, bool parked) {
  ++m_threads;
  ++m_ctx.slot_threads;
  sc_core::sc_spawn_options opt;
  if (m_ctx.reusable) m_park.push_back(std::make_unique<sc_core::sc_event>());
  if (parked) {  // runs first when its park event wakes it, in its place among the others (release_parked)
    ++m_ctx.parked;
    opt.dont_initialize();
    opt.set_sensitivity(m_park.back().get());
  }
  sc_core::sc_spawn(
      [this, slot, parked] {
        forget_stale_coroutine_poison();
        m_ctx.guard.run([this, slot, parked] { slot_thread(slot, parked); });
      },
      sc_core::sc_gen_unique_name("slot"), &opt);
}

void Executor::slot_thread(int slot, bool parked) {
  QuantumKeeper qk;
  Task task;
  TaskStream stream;
  std::unique_ptr<TileVM> vm;
  SlotState state;
  if (m_ctx.tensors) vm = std::make_unique<TileVM>(*m_ctx.tensors);
  if (parked) {  // woken from its park event for the first time (see below)
    --m_ctx.parked;
    if (!m_ctx.reusable) return;
  }
  for (;;) {
    wait(m_ctx.dispatcher.start_event);
    if (!m_ctx.dispatcher.program()) {  // end of run
      if (!m_ctx.reusable || static_cast<size_t>(slot) >= m_park.size()) return;
      ++m_ctx.parked;
      wait(*m_park[static_cast<size_t>(slot)]);
      --m_ctx.parked;
      if (!m_ctx.reusable) return;
      continue;
    }
    if (slot >= m_active_slots) continue;
    qk.reset();
    std::uint64_t index = 0;
    for (bool first = true; m_ctx.dispatcher.next(m_index, slot, first, index); first = false) {
      const Program& prog = *m_ctx.dispatcher.program();
      if (vm) vm->reset();
      if (!prog.static_placement || vm) {
        // The task's buffer, its per-instruction arrays and the memory models' tables it grows come
        // from the huge-page block pool (sim/base/block_pool.h): filled once, reused task after task.
        block_pool::Scope pooled;
        task.clear();
        // Room for a task like the kernel's first at once: growing by doubling copied each slot's
        // instructions into fresh memory several times (perf: 3.5% of a 70B decode step's CPU).
        if (task.instrs.capacity() < m_ctx.task_instrs) task.instrs.reserve(m_ctx.task_instrs);
        prog.make_task(index, task);
        run_task(task, index, qk, vm.get(), state, now_ticks());
      } else {
        // Per-core streams are produced on demand: whole when they fit a piece, else piece by piece.
        stream.start(prog, index, task);
        if (stream.finished()) run_task(task, index, qk, nullptr, state, now_ticks());
        else run_stream(stream, profile_task(prog, index, stream.piece()), task, index, qk, now_ticks());
      }
      const Tick now = now_ticks();
      if (qk.need_sync(now)) qk.sync(now);
    }
    qk.sync();
  }
}

void Executor::release_parked(int count) {
  if (m_ctx.slot_loop) return;
  count = std::min(count, m_max_slots);
  for (int s = m_threads; s < count; ++s) spawn_slot(s, true);
  for (int s = 0; s < count; ++s) m_park[static_cast<size_t>(s)]->notify();
}

void Executor::reset_engines() {
  std::fill(m_engines.begin(), m_engines.end(), EngineClock());
  m_started_kernel = ~0u;  // the next run's first kernel pays its start latency again
}

// Sends one DMA transaction into the memory system through the socket; returns its completion.
Tick Executor::issue_dma(const Instr& in, Tick ready, Tick now, std::uint32_t kernel, EngineClock& eng) {
  Tick issue = dma_issue(in);
  eng.free = ready + issue;
  eng.busy += issue;
  tlm::tlm_generic_payload& trans = m_ctx.payload.trans;
  XpuExtension& ext = m_ctx.payload.ext;
  ext.kind = in.kind;
  ext.level = in.level;
  ext.executor = static_cast<std::uint32_t>(m_index);
  ext.bytes = in.bytes;
  ext.run = in.m > 1 ? in.bytes / in.m : 0;
  ext.flops = 0;
  ext.kernel = kernel;
  ext.write = in.kind == TxKind::DmaWrite;
  trans.set_command(ext.write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
  trans.set_address(in.addr);
  trans.set_data_length(static_cast<unsigned>(std::min<std::uint64_t>(in.bytes, 0xffffffffu)));
  trans.set_data_ptr(nullptr);
  trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  // After a quantum sync the global time may have passed an instruction's dataflow-ready time;
  // shared resources cannot be booked in the past (their calendars are pruned up to the global
  // time), so such a transfer enters the memory system now: at most one quantum late.
  ext.arrival_ps = ready + issue;
  ext.now_ps = now;
  ext.horizon_ps = std::max<Tick>(0, now - m_quantum);
  sc_time delay = ticks_time(std::max<Tick>(0, ready + issue - now));
  m_fw->b_transport(trans, delay);
  Tick end = std::max(now + static_cast<Tick>(delay.value()), ready + issue);
  m_ctx.counters.bytes_by_level[in.level & 7] += static_cast<double>(in.bytes);
  m_ctx.counters.dma_count_by_level[in.level & 7] += 1;
  return end;
}

void Executor::trace_transaction(const Instr& in, Tick start, Tick end, std::uint32_t kernel, std::uint64_t task) {
  TraceRecord r;
  r.start_ps = start;
  r.end_ps = end;
  r.unit = m_unit_ids[in.engine];
  r.kernel = kernel;
  r.bytes = in.bytes;
  r.flops = in.flops;
  r.task = static_cast<std::uint32_t>(task);
  r.kind = static_cast<std::uint8_t>(in.kind);
  r.level = in.is_dma() ? in.level & 7 : in.level;  // a DMA's memory level (the family's path flags above it dropped)
  m_ctx.trace->on_transaction(r);
}

// A whole task as the list scheduler's window (sim/engine/list_schedule.h), over the slot's scratch.
// It keeps the arrays' own addresses rather than references to the task and the slot state: the list
// scheduler reads them right after each quantum sync, when the slot's stack and state have left the
// cache, and a reference to a vector object in the slot thread's frame was one more cache miss before
// each array (callgrind's cache model with a 1 MiB last level: the 8192^3 H100 GEMM's list scheduler
// missed some 8 lines per sync, most of them stack and vector objects). Nothing resizes the arrays while
// the task runs.
struct Executor::WholeTask {
  static constexpr Tick kPending = std::numeric_limits<Tick>::min();  // not processed yet
  const Instr* const instrs;
  Tick* const completion;            // per instruction: its end, or kPending
  const std::uint32_t* const order;  // SlotState::order
  SlotState::Head* const heads;
  WholeTask(const Task& task, SlotState& st)
      : instrs(task.instrs.data()), completion(st.done.data()), order(st.order.data()), heads(st.heads.data()) {}
  bool front(size_t e, std::uint32_t& cand) const {
    const SlotState::Head& h = heads[e];
    if (h.pos >= h.end) return false;
    cand = order[h.pos];
    // The engine's following instruction is read when this one is taken, after a transaction (and
    // often a quantum sync) has run: its load starts now (perf: the list scheduler mostly waits for
    // instructions to come in from memory).
    if (h.pos + 1 < h.end) prefetch_instr(&instrs[order[h.pos + 1]]);
    return true;
  }
  const Instr& instr(std::uint32_t i) const { return instrs[i]; }
  const Instr& take(std::uint32_t i) {
    const Instr& in = instrs[i];
    ++heads[in.engine].pos;
    return in;
  }
  void finish(std::uint32_t i, Tick end) { completion[i] = end; }
  // One array for both: a dependency's state and completion share a cache line (the list scheduler
  // reads them after a coroutine switch, when the slot's state has left the cache).
  bool processed(std::uint32_t i) const { return completion[i] != kPending; }
  Tick done(std::uint32_t i) const { return completion[i]; }
};

// A slot's state in the chip's slot loop: what a slot thread keeps in its frame (slot_thread), and
// where it is in its part of the kernel.
struct Executor::SlotRun {
  enum class Phase { kNext, kTask, kAfterTask };
  Phase phase = Phase::kNext;
  bool waiting = false;  // returned a wake time: resumed after a quantum sync
  bool first = true;     // no task taken yet in this kernel
  std::uint64_t index = 0;
  QuantumKeeper qk;
  Task task;
  TaskStream stream;
  std::unique_ptr<TileVM> vm;
  SlotState state;
  // The task in progress: a whole task (its window over `task` and `state`) or a streamed one.
  ListState list;
  std::optional<WholeTask> whole;
  std::unique_ptr<StreamRun, StreamRunDeleter> streamed;
  std::optional<block_pool::Scope> pooled;  // open while a whole task runs (as slot_thread's scope)
  bool functional = false;                  // the whole task's functional semantics run at its end
};

namespace {
constexpr size_t kLocalEngines = 8;  // prepare_whole counts up to this many engines in a local array
}  // namespace

void Executor::prepare_whole(const Task& task, SlotState& st) {
  const size_t n = task.instrs.size();
  const size_t engines = m_engines.size();
  st.done.assign(n, WholeTask::kPending);
  // Each engine's instructions in program order, the engines one after another (a counting sort).
  st.heads.assign(engines, SlotState::Head());
  st.order.resize(n);
  const Instr* const in = task.instrs.data();
  std::uint32_t* const order = st.order.data();
  if (engines <= kLocalEngines) {
    // The counts and next positions in a local array rather than in the heads: the counting loops then
    // carry no store-to-load dependency through the heads' memory from one instruction to the next.
    std::uint32_t at[kLocalEngines] = {};
    for (size_t i = 0; i < n; ++i) ++at[in[i].engine];
    std::uint32_t pos = 0;
    for (size_t e = 0; e < engines; ++e) {
      const std::uint32_t count = at[e];
      st.heads[e].pos = pos, st.heads[e].end = pos + count;
      at[e] = pos, pos += count;
    }
    for (size_t i = 0; i < n; ++i) order[at[in[i].engine]++] = static_cast<std::uint32_t>(i);
    return;
  }
  for (size_t i = 0; i < n; ++i) ++st.heads[in[i].engine].end;
  std::uint32_t pos = 0;
  for (SlotState::Head& h : st.heads) h.pos = pos, pos += h.end, h.end = h.pos;
  for (size_t i = 0; i < n; ++i) order[st.heads[in[i].engine].end++] = static_cast<std::uint32_t>(i);
}

void Executor::run_task(Task& task, std::uint64_t index, QuantumKeeper& qk, TileVM* vm, SlotState& st, Tick now) {
  const std::uint32_t kernel = m_ctx.dispatcher.kernel_id();
  const Tick t0 = task_origin(qk, kernel, now);
  prepare_whole(task, st);
  WholeTask w(task, st);
  const Tick task_end = list_schedule(w, task.instrs.size(), st.heads, t0, index, kernel, qk, now);
  // Functional semantics follow program order (buffers are reused across pipeline stages).
  if (vm)
    for (const Instr& in : task.instrs)
      if (in.func >= 0) vm->exec(task.func[static_cast<size_t>(in.func)]);
  end_task(t0, task_end, qk, now_ticks());
}

Tick Executor::task_origin(const QuantumKeeper& qk, std::uint32_t kernel, Tick now) {
  const Tick base = now;
  Tick start = task_start_latency();
  if (kernel != m_started_kernel) {
    m_started_kernel = kernel;
    start += kernel_start_latency(*m_ctx.dispatcher.program());
  }
  m_quantum = static_cast<Tick>(tlm_utils::tlm_quantumkeeper::get_global_quantum().value());
  return base + qk.local() + start;
}

Tick Executor::booking_bound(Tick now) const {
  if (m_ctx.slot_loop) return m_ctx.next_wake;
  if (sc_core::sc_pending_activity_at_current_time()) return now;
  if (!sc_core::sc_pending_activity_at_future_time()) return std::numeric_limits<Tick>::max();
  return now + static_cast<Tick>(sc_core::sc_time_to_pending_activity().value());
}

Tick Executor::execute(const Instr& in, Tick ready, Tick now, std::uint32_t kernel) {
  EngineClock& eng = m_engines[in.engine];
  if (in.kind == TxKind::DmaRead || in.kind == TxKind::DmaWrite) return issue_dma(in, ready, now, kernel, eng);
  Timing t = compute(in);
  eng.free = ready + t.busy;
  eng.busy += t.busy;
  if (in.kind == TxKind::TileCompute)
    m_ctx.counters.flops_by_dtype[static_cast<int>(in.dtype) & 7] += static_cast<double>(in.flops);
  else
    m_ctx.counters.vector_flops += static_cast<double>(in.flops);
  return ready + t.latency;
}

void Executor::end_task(Tick t0, Tick task_end, QuantumKeeper& qk, Tick now) {
  // The slot is free again when the task's last transaction completes.
  qk.set(task_end > now ? task_end - now : 0);
  m_ctx.counters.task_ticks += static_cast<double>(task_end - t0);
  m_ctx.dispatcher.complete(task_end, now);
}

Executor::~Executor() = default;

bool Executor::start_slot(int slot, Tick now, Tick& wake) {
  const size_t s = static_cast<size_t>(slot);
  if (m_runs.size() <= s) m_runs.resize(s + 1);
  if (!m_runs[s]) {
    m_runs[s] = std::make_unique<SlotRun>();
    if (m_ctx.tensors) m_runs[s]->vm = std::make_unique<TileVM>(*m_ctx.tensors);
  }
  SlotRun& r = *m_runs[s];
  r.phase = SlotRun::Phase::kNext;
  r.waiting = false;
  r.first = true;
  r.qk.reset();
  return resume_slot(slot, now, wake);
}

// slot_thread's loop over the kernel's tasks, resumable where the slot thread waits.
bool Executor::resume_slot(int slot, Tick now, Tick& wake) {
  SlotRun& r = *m_runs[static_cast<size_t>(slot)];
  if (r.waiting) {
    r.qk.resumed(now);
    r.waiting = false;
  }
  for (;;) {
    if (r.phase == SlotRun::Phase::kNext) {
      if (!m_ctx.dispatcher.next(m_index, slot, r.first, r.index)) {
        wake = now + r.qk.local();  // the slot's last sync of the kernel
        return false;
      }
      r.first = false;
      r.phase = SlotRun::Phase::kTask;
      if (!begin_task(r, now)) {
        wake = now + r.qk.local();
        r.waiting = true;
        return true;
      }
    } else if (r.phase == SlotRun::Phase::kTask) {
      if (!continue_task(r, now)) {
        wake = now + r.qk.local();
        r.waiting = true;
        return true;
      }
    } else {
      r.phase = SlotRun::Phase::kNext;
      continue;
    }
    // The task ended at `now` (end_task): the slot syncs to its end when that lies past the quantum.
    r.phase = SlotRun::Phase::kAfterTask;
    if (r.qk.need_sync(now)) {
      wake = now + r.qk.local();
      r.waiting = true;
      return true;
    }
  }
}

bool Executor::begin_task(SlotRun& r, Tick now) {
  const Program& prog = *m_ctx.dispatcher.program();
  const std::uint32_t kernel = m_ctx.dispatcher.kernel_id();
  r.functional = false;
  if (!prog.static_placement || r.vm) {
    if (r.vm) r.vm->reset();
    r.pooled.emplace();
    r.task.clear();
    if (r.task.instrs.capacity() < m_ctx.task_instrs) r.task.instrs.reserve(m_ctx.task_instrs);
    prog.make_task(r.index, r.task);
    r.functional = r.vm != nullptr;
  } else {
    r.stream.start(prog, r.index, r.task);
    if (!r.stream.finished()) {
      r.streamed.reset(begin_stream(r.stream, r.task, r.index, r.list, r.qk, now));
      return continue_task(r, now);
    }
  }
  const Tick t0 = task_origin(r.qk, kernel, now);
  prepare_whole(r.task, r.state);
  r.whole.emplace(r.task, r.state);
  list_begin(*r.whole, r.list, r.state.heads, r.task.instrs.size(), t0, r.index, kernel);
  return continue_task(r, now);
}

bool Executor::continue_task(SlotRun& r, Tick now) {
  if (r.streamed) {
    if (!continue_stream(*r.streamed, r.list, r.qk, now)) return false;
    r.streamed.reset();
    end_task(r.list.t0, r.list.task_end, r.qk, now);
    return true;
  }
  if (!list_run(*r.whole, r.list, r.qk, now)) return false;
  if (r.functional)
    for (const Instr& in : r.task.instrs)
      if (in.func >= 0) r.vm->exec(r.task.func[static_cast<size_t>(in.func)]);
  r.whole.reset();
  r.pooled.reset();
  end_task(r.list.t0, r.list.task_end, r.qk, now);
  return true;
}

void Chip::slot_loop_thread() {
  forget_stale_coroutine_poison();
  m_ctx.guard.run([this] { run_slot_loop(); });
}

void Chip::release_slot_loop() {
  if (m_ctx.slot_loop) m_loop_park.notify();
}

namespace {
// The slot loop's timed wakes, ordered as SystemC 2.3's timed-event queue orders the slot threads'
// timed waits (sc_ppq: a binary heap on the time alone, 1-based; an insert moves up past strictly
// later parents only, an extraction moves the last element to the top and lets it sink below strictly
// earlier children, the left one first). Equal times come out in this heap's order, not in insertion
// order, and which slot takes the next task or books a calendar first at a tie decides results (up to
// several per cent on short symmetric kernels), so the loop keeps the slot threads' order exactly.
struct SlotWake {
  enum Kind : std::uint32_t {
    kSlot,       // a slot's quantum sync
    kFinal,      // a slot's last sync of the kernel: it then waits for the next start
    kHostDone,   // the host thread woken by the kernel's end (its waits share the timed-event queue)
    kHostEnd,    // the host thread at the kernel's last completion
    kHostLaunch  // the host thread after the next launch's overhead: it starts the next kernel
  };
  Tick at;
  std::uint32_t executor, slot;
  Kind kind;
};
class WakeHeap {
 public:
  bool empty() const { return m_n == 0; }
  const SlotWake& top() const { return m_h[1]; }
  void clear() { m_n = 0; }
  void insert(const SlotWake& w) {
    if (m_h.size() < m_n + 2) m_h.resize(m_n + 2 + m_h.size() / 2);
    size_t i = ++m_n;
    while (i > 1 && m_h[i / 2].at > w.at) {
      m_h[i] = m_h[i / 2];
      i /= 2;
    }
    m_h[i] = w;
  }
  // The last element sinks from the top through a hole: the earlier child moves up (the right one only
  // when strictly earlier than the left) while strictly earlier than the sinking element. The same
  // comparisons as swapping it down level by level (best of it, left, right; ties keep it, then the
  // left), so the same positions, without its three copies per level (a decode step extracts once per
  // quantum sync, every two transactions).
  SlotWake extract() {
    const SlotWake top = m_h[1];
    const SlotWake x = m_h[m_n--];
    const size_t n = m_n;
    size_t i = 1;
    for (;;) {
      size_t c = 2 * i;
      if (c > n) break;
      // Which child is earlier is a coin toss: chosen by arithmetic, not a branch (a mispredicted branch per
      // level made the 8192^3 GEMM 8% slower in CPU time for 2% fewer instructions). m_h[c + 1] lies inside
      // the vector (insert() keeps two slots beyond the count); past the heap its value is masked out.
      c += static_cast<size_t>(c < n) & static_cast<size_t>(m_h[c + 1].at < m_h[c].at);
      if (!(m_h[c].at < x.at)) break;
      m_h[i] = m_h[c];
      i = c;
    }
    m_h[i] = x;
    return top;
  }

 private:
  std::vector<SlotWake> m_h;
  size_t m_n = 0;
};
}  // namespace

// The host thread's timed waits after a kernel's last completion (host_loop, run_kernels), in the slot
// loop's copy of the timed-event queue: they change the order in which the slots' last syncs at equal
// times come out of it, and so the order in which the slots wait for the next start.
template <class Wake, class Heap>
void Chip::host_waits(const Wake& w, Heap& timed) {
  const Dispatcher& d = m_ctx.dispatcher;
  Tick at = w.at;
  if (w.kind == Wake::kHostDone) {
    if (d.last_end() > at) {  // run_kernels waits for the last task's end
      timed.insert({d.last_end(), 0, 0, Wake::kHostEnd});
      return;
    }
  } else if (w.kind != Wake::kHostEnd) {
    return;  // kHostLaunch: the next kernel starts
  }
  // The next launch's overhead, when there is a next launch.
  if (m_launch_overhead > 0 && static_cast<size_t>(d.kernel_id()) + 1 < m_shapes.size())
    timed.insert({at + m_launch_overhead, 0, 0, Wake::kHostLaunch});
}

struct Chip::LoopQueues {
  WakeHeap timed;
  // What SystemC runs next at the current time (a delta's runnable threads, in order), and the next delta's.
  std::vector<SlotWake> runnable, delta;
  // The slots waiting for the next kernel's start, in the order they began to wait.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> waiting;
};

void Chip::run_slot_loop() {
  if (!m_loop_queues) m_loop_queues = std::make_unique<LoopQueues>();
  WakeHeap& timed = m_loop_queues->timed;
  std::vector<SlotWake>& runnable = m_loop_queues->runnable;
  std::vector<SlotWake>& delta = m_loop_queues->delta;
  std::vector<std::pair<std::uint32_t, std::uint32_t>>& waiting = m_loop_queues->waiting;
  waiting.clear();
  bool fresh = true;  // the run's first kernel: the slot threads wait in their creation order
  Dispatcher& d = m_ctx.dispatcher;
  for (;;) {
    wait(d.start_event);
    if (!d.program()) {  // end of run
      if (!m_ctx.reusable) return;
      ++m_ctx.parked;
      wait(m_loop_park);
      --m_ctx.parked;
      if (!m_ctx.reusable) return;
      fresh = true;
      continue;
    }
    if (fresh) {  // the threads a slot-thread chip has for this workload, executor by executor, slot by slot
      waiting.clear();
      for (size_t x = 0; x < m_executors.size(); ++x) {
        const int planned = x < m_ctx.slots_wanted.size() ? m_ctx.slots_wanted[x] : 0;
        const int n = std::min(m_executors[x]->max_slot_count(), planned);
        for (int s = 0; s < n; ++s) waiting.push_back({static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(s)});
      }
      fresh = false;
    }
    const Tick q = static_cast<Tick>(tlm_utils::tlm_quantumkeeper::get_global_quantum().value());
    Tick sim = now_ticks();
    // The first multiple of the quantum after `sim`: a wake before it lies in a quantum that starts no later
    // than `sim`, so the time need not move and no division is needed (about 95% of the timed wakes of a
    // GEMM or a decode step; a 64-bit division per quantum sync otherwise).
    Tick boundary = q > 0 ? sim - sim % q + q : 0;
    // sc_event::trigger wakes the start event's waiters first, last, last but one, ... (it removes each
    // woken one by moving the last into its place).
    runnable.clear();
    if (!waiting.empty()) {
      runnable.push_back({sim, waiting[0].first, waiting[0].second, SlotWake::kSlot});
      for (size_t i = waiting.size() - 1; i >= 1; --i)
        runnable.push_back({sim, waiting[i].first, waiting[i].second, SlotWake::kSlot});
    }
    waiting.clear();
    timed.clear();
    delta.clear();
    bool at_start = true;
    for (;;) {
      for (size_t i = 0; i < runnable.size(); ++i) {
        const SlotWake w = runnable[i];
        if (w.kind != SlotWake::kSlot) {
          if (w.kind == SlotWake::kFinal) waiting.push_back({w.executor, w.slot});
          else host_waits(w, timed);
          continue;
        }
        Executor& e = *m_executors[w.executor];
        const bool was_finished = d.finished();
        // The next time another slot or the host runs: this slot books copies arriving no later (booking_bound).
        m_ctx.next_wake = i + 1 < runnable.size() || !delta.empty() ? w.at
                          : timed.empty()                           ? std::numeric_limits<Tick>::max()
                                                                    : timed.top().at;
        Tick at = 0;
        bool more;
        if (at_start) {
          if (static_cast<int>(w.slot) >= e.active_slot_count()) {  // no part in this kernel: waits again
            waiting.push_back({w.executor, w.slot});
            continue;
          }
          more = e.start_slot(static_cast<int>(w.slot), w.at, at);
        } else {
          more = e.resume_slot(static_cast<int>(w.slot), w.at, at);
        }
        // A sync of no time is a delta (SystemC's wait(SC_ZERO_TIME)); a slot with no more tasks syncs once
        // more to its local time, then waits for the next start.
        // The kernel's last completion notified the host a delta later, before the slot's own sync.
        if (!was_finished && d.finished()) delta.push_back({w.at, 0, 0, SlotWake::kHostDone});
        const SlotWake next{at, w.executor, w.slot, more ? SlotWake::kSlot : SlotWake::kFinal};
        if (at == w.at) delta.push_back(next);
        else timed.insert(next);
      }
      runnable.clear();
      at_start = false;
      if (!delta.empty()) {  // SystemC 2.3 triggers a delta's notifications last first
        runnable.assign(delta.rbegin(), delta.rend());
        delta.clear();
        continue;
      }
      if (timed.empty()) break;
      const Tick t = timed.top().at;
      // The simulation time moves to the start of the quantum holding the wake (to the wake itself
      // without a quantum), so that other processes run at least once per quantum; once every task has
      // completed, the slots' last syncs need no waiting (the host may start the next kernel meanwhile).
      if (t > sim && !d.finished() && (q == 0 || t >= boundary)) {
        const Tick to = q > 0 ? t - t % q : t;  // > sim: at least `boundary`
        wait(sc_time::from_value(static_cast<sc_dt::uint64>(to - sim)));
        sim = to;
        boundary = to + q;
      }
      while (!timed.empty() && timed.top().at == t) runnable.push_back(timed.extract());
    }
  }
}

namespace {
sc_core::sc_simcontext* g_original_context = nullptr;
std::string g_warm_key;
// A plain pointer: the warm chip is never destroyed by static destructors at exit (SystemC's own
// statics may be gone by then); it stays reachable, so leak checkers do not report it.
Chip* g_warm_chip = nullptr;
}  // namespace

std::unique_ptr<Chip> take_warm_chip(const std::string& key) {
  if (!g_warm_chip) return nullptr;
  if (g_warm_key != key) {
    drop_warm_chip();
    return nullptr;
  }
  std::unique_ptr<Chip> chip(g_warm_chip);
  g_warm_chip = nullptr;
  return chip;
}

void keep_warm_chip(const std::string& key, std::unique_ptr<Chip> chip) {
  if (g_warm_chip && g_warm_chip != chip.get()) drop_warm_chip();
  g_warm_key = key;
  g_warm_chip = chip.release();
}

void drop_warm_chip() {
  if (!g_warm_chip) return;
  std::unique_ptr<Chip> chip(g_warm_chip);
  g_warm_chip = nullptr;
  chip->shutdown();
  chip.reset();  // while its kernel context is still current
}

void fresh_systemc_kernel() {
  drop_warm_chip();
  block_pool::close_scopes();  // the old kernel's slot threads run no task any more
  // Debian's SystemC 2.3.4 exports the current context; deleting the original one (created during
  // static init) is a use-after-free at exit, so it is kept and only later contexts are deleted.
  if (!g_original_context) g_original_context = sc_core::sc_curr_simcontext;
  if (sc_core::sc_curr_simcontext && sc_core::sc_curr_simcontext != g_original_context)
    delete sc_core::sc_curr_simcontext;
  sc_core::sc_curr_simcontext = new sc_core::sc_simcontext();
  sc_core::sc_default_global_context = sc_core::sc_curr_simcontext;
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_report_handler::set_actions(sc_core::SC_WARNING, sc_core::SC_DO_NOTHING);
}

SideKernel::SideKernel() {
  if (!g_warm_chip || sc_core::sc_curr_simcontext == g_original_context) {
    fresh_systemc_kernel();
    return;
  }
  m_saved = sc_core::sc_curr_simcontext;
  sc_core::sc_curr_simcontext = new sc_core::sc_simcontext();
  sc_core::sc_default_global_context = sc_core::sc_curr_simcontext;
}

SideKernel::~SideKernel() {
  if (!m_saved) return;
  delete sc_core::sc_curr_simcontext;  // the side context, current while it goes (as fresh_systemc_kernel deletes)
  sc_core::sc_curr_simcontext = m_saved;
  sc_core::sc_default_global_context = m_saved;
}

}  // namespace xpu

// libsystemc.so defines main() and references sc_main; xpusim has its own main (CLI) or none
// (Python module, tests), so a weak default-visibility stub satisfies the reference.
extern "C" __attribute__((visibility("default"), weak)) int sc_main(int, char**) { return 1; }
