// Host thread, dispatcher and the generic task executor shared by all chip families.
#include "sim/engine/chip.h"

#include "sim/base/block_pool.h"
#include "sim/base/task_stream.h"
#include "sim/engine/list_schedule.h"
#include "sim/engine/side_kernel.h"

#include <algorithm>
#include <iterator>
#include <limits>

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

void Dispatcher::complete(Tick end) {
  m_last_end = std::max(m_last_end, end);
  if (++m_completed == m_prog->num_tasks) done_event.notify(sc_core::SC_ZERO_TIME);
}

Chip::Chip(sc_core::sc_module_name name, Seconds launch_overhead)
    : sc_module(name), m_launch_overhead(to_ticks(launch_overhead.value())) {
  SC_HAS_PROCESS(Chip);
  SC_THREAD(host_thread);
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
        run_task(task, index, qk, vm.get(), state);
      } else {
        // Per-core streams are produced on demand: whole when they fit a piece, else piece by piece.
        stream.start(prog, index, task);
        if (stream.finished()) run_task(task, index, qk, nullptr, state);
        else run_stream(stream, profile_task(prog, index, stream.piece()), task, index, qk);
      }
      const Tick now = now_ticks();
      if (qk.need_sync(now)) qk.sync(now);
    }
    qk.sync();
  }
}

void Executor::release_parked(int count) {
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

void Executor::run_task(Task& task, std::uint64_t index, QuantumKeeper& qk, TileVM* vm, SlotState& st) {
  const std::uint32_t kernel = m_ctx.dispatcher.kernel_id();
  const Tick t0 = task_origin(qk, kernel);
  const size_t n = task.instrs.size();
  const size_t engines = m_engines.size();
  st.done.assign(n, WholeTask::kPending);
  // Each engine's instructions in program order, the engines one after another (a counting sort).
  st.heads.assign(engines, SlotState::Head());
  for (size_t i = 0; i < n; ++i) ++st.heads[task.instrs[i].engine].end;
  std::uint32_t pos = 0;
  for (SlotState::Head& h : st.heads) h.pos = pos, pos += h.end, h.end = h.pos;
  st.order.resize(n);
  for (size_t i = 0; i < n; ++i) st.order[st.heads[task.instrs[i].engine].end++] = static_cast<std::uint32_t>(i);
  WholeTask w(task, st);
  const Tick task_end = list_schedule(w, n, st.heads, t0, index, kernel, qk);
  // Functional semantics follow program order (buffers are reused across pipeline stages).
  if (vm)
    for (const Instr& in : task.instrs)
      if (in.func >= 0) vm->exec(task.func[static_cast<size_t>(in.func)]);
  end_task(t0, task_end, qk);
}

Tick Executor::task_origin(const QuantumKeeper& qk, std::uint32_t kernel) {
  const Tick base = now_ticks();
  Tick start = task_start_latency();
  if (kernel != m_started_kernel) {
    m_started_kernel = kernel;
    start += kernel_start_latency(*m_ctx.dispatcher.program());
  }
  m_quantum = static_cast<Tick>(tlm_utils::tlm_quantumkeeper::get_global_quantum().value());
  return base + qk.local() + start;
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

void Executor::end_task(Tick t0, Tick task_end, QuantumKeeper& qk) {
  // The slot is free again when the task's last transaction completes.
  Tick now = now_ticks();
  qk.set(task_end > now ? task_end - now : 0);
  m_ctx.counters.task_ticks += static_cast<double>(task_end - t0);
  m_ctx.dispatcher.complete(task_end);
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
