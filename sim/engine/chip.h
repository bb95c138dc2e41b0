// The SystemC side of a chip: executors (SMs, TensorCores, NeuronCores, tiles) pull tasks of the
// current kernel from a dispatcher, time their local engines themselves and reach shared memories
// through TLM-2.0 sockets (loosely timed, temporally decoupled with a quantum keeper).
#pragma once
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/base/program.h"
#include "sim/base/stats.h"
#include "sim/base/tile_vm.h"
#include "sim/base/trace.h"
#include "sim/base/units.h"
#include "sim/engine/process_guard.h"
#include "sim/engine/payload.h"
#include "sim/engine/quantum_keeper.h"

namespace xpu {

class Executor;
class TaskStream;

// The sentence of an engine's `utilization` stat unless its executor gives a note (Executor::engine_note).
inline constexpr const char* kEngineBusyNote = "busy time over the run's simulated time";
struct TaskProfile;

// Counters the engine keeps for every run (cheap array increments on the hot path).
struct RunCounters {
  std::uint64_t transactions = 0;
  double flops_by_dtype[8] = {};     // tile-compute (tensor/systolic) FLOPs by dtype
  double vector_flops = 0;           // vector-unit FLOPs
  double task_ticks = 0;             // sum over tasks of (end - start): executor occupancy
  double dram_bytes = 0;             // DRAM traffic (filled per kernel from the chip's memories)
  double bytes_by_level[8] = {};
  double dma_count_by_level[8] = {};
};

// Timing of one kernel launch.
struct KernelRecord {
  std::string name, op, strategy;
  Tick start = 0, end = 0;           // end includes the tail of the last task
  Tick launch_overhead = 0;          // host/driver launch gap before `start`
  std::uint64_t tasks = 0;
  int slots_per_executor = 0;        // occupancy (resident tasks per executor)
  RunCounters counters;              // this kernel's share of the run counters
  std::uint32_t op_index = 0;        // the op (KernelPrograms of the workload) this launch belongs to
  Roofline roofline;
};

// Hands out the current kernel's tasks: wave scheduling (the next free slot takes the next task, so
// waves and tails emerge) or static placement (task i runs on executor i mod E). The first wave is
// placed breadth-first: slot s of executor e starts with task s x E + e, so a grid smaller than the
// chip's slots spreads one task per executor before any executor takes a second. NVIDIA's block
// scheduler picks the next SM by its free resources (Gilman et al., "Demystifying the Placement
// Policies of the NVIDIA GPU Thread Block Scheduler for Concurrent Kernels", SIGMETRICS PER 2020):
// an empty SM has the most room, so 64 blocks land on 64 SMs, not four deep on 16.
class Dispatcher {
 public:
  void start(const Program* p, std::uint32_t kernel_id, int executors, int slots = 1);
  // `first`: the slot's first task of this kernel (its place in the breadth-first first wave).
  bool next(int executor, int slot, bool first, std::uint64_t& index);
  // A task ends at `end`, its slot being at `now` (the kernel ends no earlier than the last one's `now`).
  void complete(Tick end, Tick now);
  bool finished() const { return m_prog && m_completed == m_prog->num_tasks; }
  Tick last_end() const { return m_last_end; }
  const Program* program() const { return m_prog; }
  std::uint32_t kernel_id() const { return m_kernel; }
  sc_core::sc_event start_event, done_event;

 private:
  const Program* m_prog = nullptr;
  std::uint32_t m_kernel = 0;
  std::uint64_t m_next = 0, m_completed = 0;
  std::uint64_t m_executors = 0;
  std::vector<std::uint64_t> m_static_next;
  Tick m_last_end = 0;
};

// State shared by all executors of one chip during a run.
// The payload and extension every executor of a chip sends its DMAs with. One per chip instead of one
// per executor: the executors take turns (one SystemC thread runs at a time) and the memory targets
// answer b_transport without waiting, so a transaction is complete before the next one is written,
// and issue_dma sets every field it uses each time. Shared, the payload stays in the cache between
// executors; one per executor (132-148 of them) was cold after every coroutine switch (callgrind's
// cache model: issue_dma had the most L1 misses after the list scheduler in the 8192^3 H100 GEMM).
struct SharedPayload {
  SharedPayload() { trans.set_extension(&ext); }
  ~SharedPayload() { trans.clear_extension(&ext); }  // the payload must not delete a member
  SharedPayload(const SharedPayload&) = delete;
  SharedPayload& operator=(const SharedPayload&) = delete;
  tlm::tlm_generic_payload trans;
  XpuExtension ext;
};

struct ExecContext {
  Dispatcher dispatcher;
  SharedPayload payload;                // the executors' DMA transaction (see SharedPayload)
  RunCounters counters;
  TraceObserver* trace = nullptr;
  TensorStore* tensors = nullptr;       // functional mode
  std::vector<std::string> unit_names;  // trace unit ids
  // Per executor, the slot threads the queued workload's kernels can give a task (see Chip::plan_threads):
  // end_of_elaboration() creates that many (at most the executor's slots).
  std::vector<int> slots_wanted;
  size_t task_instrs = 0;               // instructions of the running kernel's first task (a slot's reserve)
  bool reusable = false;                // the chip runs one workload after another (Chip::rerun)
  bool slot_loop = false;               // the executors' slots run in the chip's one slot loop (Chip::run_slot_loop)
  // Whether a slot books a copy only once no other slot can still book an earlier one (Executor::list_run,
  // booking_bound): the family's memory then serves a quantum's copies in arrival order (set by the family).
  bool copies_in_arrival_order = false;
  // The slot loop's: the earliest time at which another slot (or the host) still runs, set before each slot
  // it resumes (Executor::booking_bound).
  Tick next_wake = std::numeric_limits<Tick>::max();
  int slot_threads = 0, parked = 0;     // slot threads created / waiting between two runs of a reusable chip
  sc_core::sc_time quantum = sc_core::sc_time(100, sc_core::SC_NS);
  ProcessGuard guard;                   // the host and slot threads' first exception, for the caller
  std::uint32_t register_unit(const std::string& n) {
    unit_names.push_back(n);
    return static_cast<std::uint32_t>(unit_names.size() - 1);
  }
};

// Base of a family's chip module. The family builds executors and memories in its constructor.
class Chip : public sc_core::sc_module {
 public:
  Chip(sc_core::sc_module_name name, Seconds launch_overhead);
  ~Chip() override;
  // Queue the kernels of the run; the host thread launches them in order, one after another.
  // Before the simulation starts (it fixes how many slot threads the executors create).
  void set_workload(std::vector<KernelPrograms> kernels);
  // A reusable chip runs workload after workload in one SystemC context, with the same modules and
  // slot threads (building 132 SMs and their coroutine stacks for each of a model's kernels cost more
  // than simulating the smaller ones). Before elaboration: set_reusable() makes a finished run pause the
  // simulation instead of stopping it, its slot threads parked. rerun() then resets every counter,
  // engine and memory calendar, creates the slot threads the new workload can use that no earlier one
  // did, and starts it at the next quantum boundary but one, with the slot threads it can use waiting
  // in their creation order as after elaboration (the others stay parked): a rerun gives the same
  // results as a fresh chip (times in records() and end_time() count from the run's start). rerun()
  // returns false when the chip cannot be reused.
  void set_reusable() { m_ctx.reusable = true; }
  bool rerun(std::vector<KernelPrograms> kernels);
  // Lets the parked threads of a reusable chip return (their locals are freed) before it is destroyed.
  void shutdown();
  // Resets what a run accumulates (counters, executors' engines); families reset their memories too.
  // False when something cannot be reset (the chip is then not reused).
  virtual bool reset_state();
  const std::vector<KernelRecord>& records() const { return m_records; }
  // Each op's own unit utilization (collect_stats' ".utilization" keys over the op's span: its launch
  // gaps and launches), recorded when set before the run: a simulation of several ops (the Python
  // Session's pass) then gives each op the bound and clock sensitivity a simulation of that op alone
  // derives from its stats. Indexed by KernelRecord::op_index; empty unless set.
  void set_units_per_op(bool on) { m_units_per_op = on; }
  const std::vector<Stats>& op_units() const { return m_op_units; }
  ExecContext& context() { return m_ctx; }
  // Every executor and memory reports its counters (busy time, bytes) under its module path.
  virtual void collect_stats(Stats& out, Tick total) const;
  // The memory's part of collect_stats() alone (FamilyChip: its MemoryTarget's).
  virtual void collect_memory_stats(Stats& out, Tick total) const {}
  // A launch begins, before its first task: the memory takes what the launch states of its state
  // (Program::dirty_cache_bytes; FamilyChip passes it to its MemoryTarget).
  virtual void kernel_starts(const Program&) {}
  // The executors' `<engine>.utilization` values of collect_stats(), in the order of their keys, without
  // building a Stats: a summary run (RunOptions::summary) reads only the units' utilization, and the
  // ~1,200 named stats of an H100 or B200 cost about 2% of a model step's instructions, built per kernel.
  // `group_of` maps a stat's name to the caller's group of it (a unit type), worked out once per key.
  struct EngineUtilization {
    const std::string* key;    // the stat's name, as collect_stats() sets it
    const std::string* group;  // group_of(*key)
    double value;
  };
  using StatGroupOf = std::string (*)(const std::string& key);
  void engine_utilization(std::vector<EngineUtilization>& out, Tick total, StatGroupOf group_of) const;
  // Resident tasks per executor for a kernel whose tasks look like `sample` (GPU occupancy).
  virtual int slots_for(const Task& sample) const { return 1; }
  // Bytes of DRAM traffic so far (default: DMA bytes at level 0; families with caches override).
  virtual double dram_bytes() const { return m_ctx.counters.bytes_by_level[0]; }
  std::vector<Executor*>& executors() { return m_executors; }
  bool finished() const { return m_finished; }
  Tick end_time() const { return m_end - m_origin; }
  Tick origin() const { return m_origin; }

 protected:
  void add_executor(Executor* e) { m_executors.push_back(e); }
  ExecContext m_ctx;

 private:
  void host_thread();
  void host_loop();
  // The slot loop (the default; XPUSIM_SLOT_THREADS=1 gives every slot a SystemC thread of its own):
  // one SystemC thread runs every executor slot of the chip. Each slot's list scheduling is resumable
  // (Executor::resume_slot): where a slot thread would wait for its quantum sync, the slot returns the
  // time it waits for, and the loop keeps the slots in a min-heap of these wake times (ties by executor,
  // then slot: deterministic). It runs each slot in the order of its wake time at that time (the
  // slot's `now`; the memory system is passive and takes the initiator's time with each transaction),
  // and only waits in SystemC when the next wake lies in a later quantum, to that quantum's start: other
  // SystemC processes (the host thread) interleave at quantum granularity, as with temporal decoupling.
  // This replaces a coroutine switch and a timed event per slot sync with a heap operation.
  void slot_loop_thread();
  void run_slot_loop();
  void release_slot_loop();
  template <class Wake, class Heap>
  void host_waits(const Wake& w, Heap& timed);
  sc_core::sc_event m_loop_park;  // wakes the parked slot loop of a reusable chip
  // The slot loop's queues (its timed wakes, runnable and next-delta slots, the slots waiting for a start):
  // members, not locals of the loop's coroutine, whose stack SystemC frees without unwinding when a run
  // ends with the loop inside a wait (LeakSanitizer saw its vectors lost).
  struct LoopQueues;
  std::unique_ptr<LoopQueues> m_loop_queues;
  void run_kernels();
  bool park_slot_threads();
  // Works out, for the queued kernels, each launch's resident tasks per executor and first task's size
  // (from its task 0, as a GPU's occupancy), and the slot threads the workload uses (m_ctx.slots_wanted):
  // per executor, the most slots that take a task in any of its kernels (slot s of executor e takes one
  // while s x executors + e is below the task count and s below the resident tasks). A thread that would
  // take no task is not created: it would cost a coroutine stack's first page and a wake per kernel.
  // Not neutral, within a stated tolerance: such a thread still waited for each kernel's start, and
  // SystemC 2.3's sc_event::trigger wakes an event's waiters first, last, last but one, ... (it removes
  // each by moving the last one into its place), so the thread at the head of the list decided the order
  // in which the others start; without them split-K GEMM rows of `validate` move by up to 0.2%
  // (scripts/bench/README.md, 2026-12-05).
  void plan_threads();
  // Each unit's busy seconds since the run's start (its utilization so far x the time elapsed).
  std::map<std::string, double> unit_busy_now() const;
  // engine_utilization()'s keys, sorted, with their (executor, engine), built on first use.
  struct EngineKey {
    std::string key, group;
    int executor, engine;
  };
  mutable std::vector<EngineKey> m_engine_keys;
  mutable StatGroupOf m_engine_group_of = nullptr;  // the function m_engine_keys' groups are from
  std::vector<KernelPrograms> m_kernels;
  struct LaunchShape {
    int slots = 1;           // resident tasks per executor
    size_t task_instrs = 0;  // instructions of the first task (a slot's reserve)
  };
  std::vector<LaunchShape> m_shapes;  // per launch of m_kernels, in order (plan_threads)
  bool m_units_per_op = false;
  std::vector<Stats> m_op_units;
  std::vector<KernelRecord> m_records;
  std::vector<Executor*> m_executors;
  Tick m_launch_overhead;
  bool m_finished = false;
  Tick m_end = 0;
  Tick m_origin = 0;               // start of the current run (0 unless the chip was rerun)
  sc_core::sc_event m_rerun_event;  // wakes the host thread of a paused reusable chip
};

// Result of a local engine operation: the engine is occupied for `busy`, the result is ready after
// `latency` (>= busy for pipelined units such as a systolic array's fill and drain).
struct Timing {
  Tick busy = 0;
  Tick latency = 0;
};

// An executor runs tasks on its local engines (each in program order, overlapping with each other)
// and sends DMA transactions through its TLM socket. Families override the timing hooks.
// Aligned to a cache line, so that the fields a transaction reads (declared together after m_ctx) share
// one line in every executor.
class alignas(64) Executor : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<Executor> socket;

  Executor(sc_core::sc_module_name name, ExecContext& ctx, int index, const std::vector<std::string>& engines,
           int max_slots);
  // Local engine timing of a compute, vector or sync instruction.
  virtual Timing compute(const Instr& in) = 0;
  // Time the DMA engine is occupied issuing one transfer (descriptor processing).
  virtual Tick dma_issue(const Instr& in) { return 0; }
  // The sentence of engine `e`'s `busy`/`utilization` stats where "busy time" alone would mislead: a DMA
  // queue is busy only while it issues (dma_issue), the transfer's time being the memory side's stat.
  // Empty: kEngineBusyNote. Reports print a unit's note beside its utilization (unit_notes).
  virtual std::string engine_note(int e) const { return {}; }
  // Delay before a task can start on a slot (block launch); 0 by default.
  virtual Tick task_start_latency() const { return 0; }
  // Extra delay of the first task an executor runs in kernel `p` (per-kernel state the executor must
  // fetch before its first transfer, e.g. copy descriptors); 0 by default.
  virtual Tick kernel_start_latency(const Program& p) const { return 0; }

  // Creates the slot threads the queued kernels use (ExecContext::slots_wanted, at most max_slots): a
  // coroutine stack is an mmap of its own, its first page a fault, and a kernel that fits one block per
  // SM would otherwise pay for four.
  void end_of_elaboration() override;
  void set_active_slots(int n) { m_active_slots = n; }
  // Wakes the first `count` parked slot threads of a reusable chip in their slot order (see Chip::rerun),
  // first creating those this executor lacks (from the host thread, between runs): a new thread starts
  // parked and is woken in its place in that order, so the threads wait for the run's start in the same
  // order as when all of them were created at elaboration. The others stay parked through the run.
  void release_parked(int count);
  ~Executor() override;
  // The slot loop's side (Chip::run_slot_loop): start_slot() begins slot `slot`'s part of the kernel just
  // started at `now`, resume_slot() goes on at `now`, the time the slot waited for. Both return true with
  // `wake` set when the slot must be resumed at `wake`, false when it has no more tasks in this kernel.
  bool start_slot(int slot, Tick now, Tick& wake);
  bool resume_slot(int slot, Tick now, Tick& wake);
  int slot_thread_count() const { return m_threads; }
  int active_slot_count() const { return std::min(m_max_slots, m_active_slots); }
  int max_slot_count() const { return m_max_slots; }
  void reset_engines();
  int index() const { return m_index; }
  int num_engines() const { return static_cast<int>(m_engines.size()); }
  Tick engine_busy(int e) const { return m_engines[static_cast<size_t>(e)].busy; }
  const std::string& engine_name(int e) const { return m_engine_names[static_cast<size_t>(e)]; }

 protected:
  ExecContext& m_ctx;

 private:
  // Per-slot scratch of the list scheduler (slots of one executor interleave at quantum syncs).
  struct SlotState {
    // The next instruction of an engine, its dependencies and, once they are all processed, the
    // latest of their completions (kept per engine so that a step reads no other instruction).
    // A whole task's engine queue is order[pos, end) (WholeTask): kept beside the candidate, so that
    // after a coroutine switch the next candidate is one line away instead of behind two vectors.
    // 32 bytes, aligned: two engines' heads per cache line, none straddling two.
    struct alignas(32) Head {
      static constexpr Tick kBlocked = std::numeric_limits<Tick>::max();  // no candidate, or one waiting
                                                                          // for an unprocessed dependency
      std::uint32_t cand = kNoDep;
      std::uint32_t dep[3] = {kNoDep, kNoDep, kNoDep};
      std::uint32_t pos = 0, end = 0;  // WholeTask only
      Tick dep_ready = kBlocked;       // once every dependency is processed, the latest completion
    };
    static_assert(sizeof(Head) == 32, "two heads per cache line");
    // Per instruction, like the task's buffer from the block pool (block_pool.h).
    std::vector<Tick, PoolAllocator<Tick>> done;            // completion (WholeTask::kPending: not yet)
    std::vector<std::uint32_t, PoolAllocator<std::uint32_t>> order;  // by engine, each engine's in program order
    std::vector<Head> heads;
  };
  struct WholeTask;  // a whole task as list_schedule's window (chip.cpp)
  // A list scheduling in progress (list_begin / list_run, sim/engine/list_schedule.h).
  struct ListState {
    SlotState::Head* hd = nullptr;
    std::uint64_t count = 0, step = 0, index = 0;
    Tick t0 = 0, task_end = 0;
    std::uint32_t kernel = 0;
  };
  struct SlotRun;    // a slot's state in the slot loop (chip.cpp)
  struct StreamRun;  // a streamed task in progress in the slot loop (stream_exec.cpp)
  struct StreamRunDeleter {
    void operator()(StreamRun* p) const;
  };
  std::vector<std::unique_ptr<SlotRun>> m_runs;  // per slot, the slot loop's
  // The parts of resume_slot: a task begins (false: it ended at once) / goes on (true: it ended).
  bool begin_task(SlotRun& r, Tick now);
  bool continue_task(SlotRun& r, Tick now);
  StreamRun* begin_stream(TaskStream& s, Task& task, std::uint64_t index, ListState& list, QuantumKeeper& qk,
                          Tick now);
  bool continue_stream(StreamRun& run, ListState& list, QuantumKeeper& qk, Tick now);
  void prepare_whole(const Task& task, SlotState& st);
  // Creates slot thread `slot` (slot order); a `parked` one starts as if woken from its park event.
  void spawn_slot(int slot, bool parked);
  void slot_thread(int slot, bool parked);
  void run_task(Task& task, std::uint64_t index, QuantumKeeper& qk, TileVM* vm, SlotState& st, Tick now);
  // A task produced piece by piece (a per-core stream; sim/engine/stream_exec.cpp): the same list
  // scheduling as run_task over a window of the task, fed by `s` as the engines' queues run dry.
  void run_stream(TaskStream& s, const TaskProfile& prof, Task& task, std::uint64_t index,
                  QuantumKeeper& qk, Tick now);
  // The list scheduler shared by run_task and run_stream (sim/engine/list_schedule.h): `count`
  // instructions of window `w` in the order of their ready times; returns the task's last completion.
  template <class Window>
  Tick list_schedule(Window& w, std::uint64_t count, std::vector<SlotState::Head>& heads, Tick t0,
                     std::uint64_t index, std::uint32_t kernel, QuantumKeeper& qk, Tick now);
  template <class Window>
  void list_begin(Window& w, ListState& s, std::vector<SlotState::Head>& heads, std::uint64_t count, Tick t0,
                  std::uint64_t index, std::uint32_t kernel);
  template <class Window>
  bool list_run(Window& w, ListState& s, QuantumKeeper& qk, Tick now);
  // Shared by run_task and run_stream: a task's start time, one instruction's execution (returns its
  // completion) and the task's end.
  Tick task_origin(const QuantumKeeper& qk, std::uint32_t kernel, Tick now);
  // The latest ready time at which this slot may book the shared memory system without another slot
  // still able to book an earlier arrival: the next time another slot or the host runs (the slot loop's
  // next wake; a slot thread's next pending SystemC activity).
  Tick booking_bound(Tick now) const;
  Tick execute(const Instr& in, Tick ready, Tick now, std::uint32_t kernel);
  void end_task(Tick t0, Tick task_end, QuantumKeeper& qk, Tick now);
  struct EngineClock {
    Tick free = 0;  // when the engine can take its next instruction
    Tick busy = 0;  // time it was occupied
  };
  Tick issue_dma(const Instr& in, Tick ready, Tick now, std::uint32_t kernel, EngineClock& eng);
  void trace_transaction(const Instr& in, Tick start, Tick end, std::uint32_t kernel, std::uint64_t task);
  // What every transaction reads of its executor, declared together right after m_ctx: with a slot
  // thread's state cold after each coroutine switch, the fields a transaction needs sit in one or two
  // cache lines (they were spread over four, plus a line each for the engines' free and busy times).
  int m_index;
  Tick m_quantum = 0;  // the global quantum, read at each task's start (targets' calendar horizon)
  std::vector<EngineClock> m_engines;
  // The socket's bound interface, taken once bound (end_of_elaboration): socket->b_transport reads
  // it from the socket object, another line per transaction.
  tlm::tlm_fw_transport_if<>* m_fw = nullptr;
  std::uint32_t m_started_kernel = ~0u;  // the kernel whose first task this executor has started
  int m_max_slots;
  int m_active_slots = 1;
  std::vector<std::uint32_t> m_unit_ids;
  std::vector<std::string> m_engine_names;
  std::vector<std::unique_ptr<sc_core::sc_event>> m_park;  // per slot thread, reusable chips only
  int m_threads = 0;                                       // slot threads created

};

// Builds a fresh SystemC kernel context so that a simulation can be elaborated and run many times
// in one process (SystemC 2.3 has no reset API; see README, "several runs in one process"). The warm
// chip, if any, is shut down and destroyed first (its modules belong to the old context).
void fresh_systemc_kernel();
// The process's warm chip (see Chip::rerun), kept between simulations under a key that names its
// configuration: take_warm_chip() hands it over when the key matches (nullptr otherwise; a chip of
// another key is then destroyed), keep_warm_chip() keeps a finished reusable chip for the next one.
// At most one chip is kept.
std::unique_ptr<Chip> take_warm_chip(const std::string& key);
void keep_warm_chip(const std::string& key, std::unique_ptr<Chip> chip);
void drop_warm_chip();
// Whether chips run their executors' slots in one slot loop (Chip::run_slot_loop; the default) or one
// SystemC thread per slot (XPUSIM_SLOT_THREADS=1, read once: the earlier engine, kept to compare).
bool slot_loop_default();
// Sets it for the chips built from now on (tests compare the two); drops the warm chip, built the other way.
void set_slot_loop_default(bool on);
inline Tick now_ticks() { return static_cast<Tick>(sc_core::sc_time_stamp().value()); }
// For a target: the transfer's arrival time and the calendar horizon (global time less one
// quantum, set by the initiator). Arrivals older than the horizon are moved up to it. The completion
// time it returns through the TLM delay is end - ext.now_ps (clamped at 0; the initiator takes max
// with its own clock).
inline ArrivalWindow arrival_window(const XpuExtension& ext) {
  return {std::max<Tick>(ext.arrival_ps, ext.horizon_ps), ext.horizon_ps};
}

}  // namespace xpu
