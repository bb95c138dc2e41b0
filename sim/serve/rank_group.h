// One server's ranks and their iteration: a scheduler per data-parallel attention rank (one for any other
// server), the controller that places arrivals on them, and the group's step from each rank's own batch.
// Colocated serving (engine.cpp) and every instance of a disaggregated pool (disagg.cpp) iterate here.
#pragma once
#include <cstdint>
#include <vector>

#include "sim/serve/engine.h"

namespace xpu {

// The ranks of a data-parallel attention group (DpAttention), or the one rank of any other server. Every
// iteration each rank's scheduler picks its own batch; the group's step is timed from the ranks'
// compositions (padded as a group: a CUDA graph only where every rank replays one, each rank's rows padded to
// the graph of the largest rank's batch) and ends when the slowest rank's host has launched its work. One
// rank is the single-scheduler server exactly (its composition padded and bounded as HostLaunch has it).
class RankGroup {
 public:
  struct Rank {
    Scheduler* sched = nullptr;
    SchedState st;
    Batch batch;  // the work of the iteration schedule() chose last
    // Requests placed on the rank outside its queues, and their tokens: in a disaggregated pool a prompt whose
    // blocks wait for their transfer, or a transfer on its way to this rank (0 in colocated serving). The
    // controller's load-aware policies count them, as the rank has them to hold.
    std::int64_t pending = 0, pending_tokens = 0;
  };
  // The ranks' KV blocks and requests, summed.
  struct Totals {
    std::int64_t used = 0, total = 0, running = 0, waiting = 0, pending = 0;
  };

  // Each rank its own KV cache of `kv_blocks` blocks.
  RankGroup(const std::vector<Scheduler*>& scheds, std::int64_t kv_blocks, DpAttention::Dispatch dispatch);
  std::vector<Rank>& ranks() { return m_ranks; }
  const std::vector<Rank>& ranks() const { return m_ranks; }
  Totals totals() const;
  std::int64_t held() const;  // requests running or waiting on any rank
  // The controller's rank for the next arrival: round_robin in turn, shortest_queue the fewest requests
  // (held and pending), minimum_tokens the fewest tokens (their context and prompt still to compute).
  size_t pick();
  bool schedule();  // every rank's batch of the next iteration; false when no rank has work
  // The iteration of the batches schedule() chose, timed by `step` at the nominal clock and run at the
  // clock `clock` allows (null: nominal), bounded by the host: the iteration's cost. The host's figures
  // (eager iterations, wait, busy, bound iterations) are added to `r`; with several ranks, the ranks'
  // balance to `dp`.
  StepCost run(const GroupStepFn& step, IterationClock* clock, EngineResult& r, DpBalance& dp);
  // serve --trace: the iteration just run (from `start_s`, `time_s` long) as scheduled, its ranks' compositions summed.
  IterationRecord record(double start_s, double time_s, const IterationClock* clock) const;

 private:
  StepCost group_bound(const HostLaunch& l, const StepCost& gpu, const std::vector<StepShape>& shapes, bool graphed, double& host) const;
  void balance(const std::vector<StepShape>& shapes, const StepCost& nominal, const StepCost& gpu, DpBalance& dp) const;

  std::vector<Rank> m_ranks;
  DpAttention::Dispatch m_dispatch;
  size_t m_rr = 0;
};

}  // namespace xpu
