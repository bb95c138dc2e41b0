// The common currency between lowerings and chip models: a kernel is a Program of Tasks (thread
// blocks, per-core instruction streams, per-tile programs); a Task is a small DAG of Instrs
// (DMA loads/stores, tile compute, vector ops, syncs). Lowerings build Programs as pure functions
// of (op, chip spec); chip models time them. No SystemC here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/base/block_pool.h"
#include "sim/base/dtype.h"
#include "sim/base/tile_vm.h"

namespace xpu {

enum class TxKind : std::uint8_t { DmaRead, DmaWrite, TileCompute, VectorOp, Sync };
const char* name(TxKind k);
constexpr std::uint32_t kNoDep = 0xffffffffu;

// One transaction. `engine` and `level` are indices into the family's instruction set
// (chips/<family>/isa.h): which engine of the executor issues it, and which memory level a DMA
// touches. Dependencies name earlier instructions of the same task; instructions of one engine
// also issue in program order.
struct Instr {
  TxKind kind = TxKind::Sync;
  std::uint8_t engine = 0;
  std::uint8_t level = 0;
  DType dtype = DType::bf16;
  std::uint32_t dep[3] = {kNoDep, kNoDep, kNoDep};
  std::uint64_t addr = 0;   // global byte address (cache sets, memory channels, L2 reuse)
  std::uint64_t bytes = 0;  // bytes moved (DMA) or streamed from local memory (compute)
  std::uint64_t flops = 0;  // 2*m*n*k for tile compute, element operations for vector ops
  // Shape: tile compute MxNxK; vector ops rows x cols (k = ops/elem); a DMA's tile rows x columns, its k 0
  // or (build::join) 1 + an earlier copy of the task whose completion this one's dependants also wait for.
  std::uint32_t m = 0, n = 0, k = 0;
  std::int32_t func = -1;             // index into Task::func in functional mode
  bool is_dma() const { return kind == TxKind::DmaRead || kind == TxKind::DmaWrite; }
};

// Starts loading an instruction into the cache (it may straddle two lines).
inline void prefetch_instr(const Instr* in) {
  __builtin_prefetch(in);
  __builtin_prefetch(reinterpret_cast<const char*>(in) + sizeof(Instr) - 1);
}

// The most instructions one task may hold (set from the resource limits before a run is sampled);
// Task::add refuses more with a ResourceError instead of allocating until memory runs out.
extern std::size_t g_task_instr_cap;
void set_task_instr_cap(std::size_t n);
[[noreturn]] void task_too_large(std::size_t n);

// Receives a long task's instructions in pieces (sim/base/task_stream.h): Task::add calls pause()
// when the task reaches `pause_at` instructions, so that the consumer can take what was produced.
class TaskPause {
 public:
  virtual void pause() = 0;

 protected:
  ~TaskPause() = default;
};

// A unit of work scheduled onto one executor (SM, TensorCore, NeuronCore, tile).
// Instruction indices are global to the task: instrs[i] is instruction `first + i`. A task produced
// whole has first == 0; a streamed one (TaskStream) drops the instructions its consumer is done with.
struct Task {
  // From the block pool: a slot thread's buffer is filled once and reused task after task (block_pool.h).
  std::vector<Instr, PoolAllocator<Instr>> instrs;
  std::vector<FuncOp> func;  // functional-mode semantics, referenced by Instr::func
  std::uint32_t smem_bytes = 0;  // local scratchpad it needs while resident (GPU occupancy)
  std::uint32_t threads = 0;     // threads per block (GPU occupancy); 0 elsewhere
  std::uint32_t registers = 0;   // registers per thread (GPU occupancy)
  std::int32_t place = -1;       // a fixed executor index, or -1 for any (wave scheduled)
  std::uint64_t first = 0;       // global index of instrs[0]
  TaskPause* stream = nullptr;   // set while a TaskStream produces this task
  std::uint64_t pause_at = ~std::uint64_t{0};  // global index at which add() pauses the producer

  std::uint32_t add(const Instr& in) {
    if (instrs.size() >= g_task_instr_cap) task_too_large(instrs.size());
    if (first + instrs.size() >= pause_at) stream->pause();
    instrs.push_back(in);
    return static_cast<std::uint32_t>(first + instrs.size() - 1);
  }
  std::uint32_t add(const Instr& in, const FuncOp& f) {
    Instr x = in;
    x.func = static_cast<std::int32_t>(func.size());
    func.push_back(f);
    return add(x);
  }
  // Forgets everything (the next producer starts a fresh task).
  void clear() {
    instrs.clear();
    func.clear();
    smem_bytes = threads = registers = 0;
    place = -1;
    first = 0;
    stream = nullptr;
    pause_at = ~std::uint64_t{0};
  }
};

// Roofline bound of a kernel (what no simulated run may beat).
struct Roofline {
  double flops = 0;          // useful FLOPs (2*M*N*K for a GEMM)
  double min_dram_bytes = 0; // compulsory off-chip traffic: each input read once, output written once
};

// A kernel launch: `num_tasks` tasks produced on demand by `make_task` (so a 16k^3 GEMM never holds
// all its tasks in memory). `make_task` is pure: the same index yields the same task.
struct Program {
  std::string name;       // kernel name in reports ("gemm", "gemm.splitk_reduce", "attention")
  std::string op;         // op label in the model graph ("layer0.qkv_proj"); empty for single kernels
  std::string strategy;   // human-readable lowering choice ("tile 128x256x64, 4 stages, split-k 1")
  std::uint64_t num_tasks = 0;
  std::function<void(std::uint64_t index, Task& out)> make_task;
  Roofline roofline;
  bool functional = false;
  bool static_placement = false;  // task i runs on executor i mod E (per-core streams) instead of waves
  // The kernel's copy engine works from descriptors (TMA tensor maps) that each executor fetches
  // once per kernel before its first copy: the family's Executor::kernel_start_latency applies.
  bool copy_descriptors = false;
  // Blocks per thread-block cluster (1: none). A cluster's blocks are launched together and wait for
  // one another at entry: each executor's first block of the kernel pays Executor::kernel_start_latency.
  std::uint8_t cluster_size = 1;
  // Bytes the benchmark wrote just before this launch (LowerOptions::flush_bytes): the chip's write-back cache
  // starts full of that write's dirty lines, up to its capacity, and each line the kernel allocates first
  // writes one back to DRAM (the family's memory decides; MemoryTarget::kernel_starts). 0: a clean cache.
  double dirty_cache_bytes = 0;
};

// A kernel as the chip sees it: one or more launches in order (e.g. decode attention and its split combine).
using KernelPrograms = std::vector<Program>;

}  // namespace xpu
