// Long tasks produced on demand: a Program's make_task runs as a coroutine that hands its
// instructions over in pieces, so a per-core stream of a large kernel (a TPU TensorCore's or a
// NeuronCore's whole GEMM) is never held at once. The lowerings stay plain functions that append
// to a Task; only the consumer (the executor, the run budget) sees the pieces.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "sim/base/program.h"

namespace xpu {

// Instructions per piece: 2,048 (128 KiB of Instrs; a chip runs one stream per core), or XPUSIM_TASK_PIECE (read once; tests
// set it small to cut streams into many pieces, or huge to hold every task whole).
std::size_t task_piece();

// Runs task `index` of a program on a stack of its own, pausing after every `piece` instructions
// it adds. A stream destroyed (or cancelled) before its producer finished unwinds the producer.
class TaskStream final : public TaskPause {
 public:
  explicit TaskStream(std::size_t piece = task_piece());
  ~TaskStream();
  TaskStream(const TaskStream&) = delete;
  TaskStream& operator=(const TaskStream&) = delete;

  // Clears `task` and produces its first piece (the whole task when it is not longer than a piece).
  // An exception of the producer is rethrown here or by more().
  void start(const Program& p, std::uint64_t index, Task& task);
  // Appends the next piece to the task; false (nothing appended) once the producer has finished.
  bool more();
  bool finished() const { return m_finished; }
  std::size_t piece() const { return m_piece; }
  // Stops an unfinished producer (its locals are destroyed); the task keeps what was produced.
  void cancel();

  void pause() override;  // called by Task::add on the producer's stack

 private:
  struct Fiber;
  static void entry(unsigned lo, unsigned hi);
  void resume();
  std::unique_ptr<Fiber> m_fiber;
  const Program* m_prog = nullptr;
  std::uint64_t m_index = 0;
  Task* m_task = nullptr;
  std::size_t m_piece;
  bool m_finished = true, m_cancel = false, m_running = false;
  std::exception_ptr m_error;
};

// What a consumer must know of a streamed task before running it piece by piece, gathered by
// producing it once and keeping nothing but: its length, the last instruction of each engine (so an
// engine whose queue ran dry is known to have no more work instead of waiting on the rest of the
// stream), and per piece the earliest instruction that it or any later piece depends on (so the
// completion times of older instructions can be dropped).
struct TaskProfile {
  std::uint64_t count = 0;
  std::vector<std::uint64_t> engine_last;   // per engine; ~0 when the engine has no instruction
  std::vector<std::uint64_t> needed_from;   // per piece: min dependency of this and later pieces
  std::size_t piece = 1;
  bool has_more(int engine, std::uint64_t produced) const {
    const std::uint64_t l = static_cast<size_t>(engine) < engine_last.size() ? engine_last[static_cast<size_t>(engine)] : ~0ull;
    return l != ~0ull && l >= produced;
  }
  // The earliest instruction whose completion any instruction from `i` on may still need.
  std::uint64_t needed_after(std::uint64_t i) const {
    const std::uint64_t p = i / piece;
    return p < needed_from.size() ? std::min(i, needed_from[static_cast<size_t>(p)]) : i;
  }
};
TaskProfile profile_task(const Program& p, std::uint64_t index, std::size_t piece = task_piece());

// The start of task `index` (its first piece): enough for occupancy (smem, threads, registers).
void sample_task(const Program& p, std::uint64_t index, Task& out);

}  // namespace xpu
