// A collective of a simulated model step, placed in the step's time. Pure data.
#pragma once
#include <string>
#include <vector>

#include "kernels/collective/collective.h"

namespace xpu {

// One collective of a step simulated on a system (run_system_graphs): the request as the runtime lowered it
// (kind, bytes, the serving stack's kernel or DeepEP's), the algorithm it ran ("ring/ll128"), its
// communicator (system ranks of the layout), and when it ran: its start after the step's start (`offset_s`,
// and as a share of the step's time, `at`) and how long it took there (waiting for peers included). What a
// later simulation of the same step beside other traffic (a disaggregated server's KV transfers) replays.
struct StepCollective {
  CollectiveRequest req;
  std::string algorithm;
  std::vector<int> group;
  double offset_s = 0, at = 0, time_s = 0;
};

}  // namespace xpu
