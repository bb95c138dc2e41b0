// A decode scenario with a parallel layout, shared by the sharding and parallel-run tests.
#pragma once
#include "workloads/scenario.h"

namespace xpu::test {
inline Scenario layout_scenario(std::int64_t batch, int tp, int ep = 1, int pp = 1, int dp = 1, std::int64_t input = 512) {
  Scenario s;
  s.phase = Phase::Decode;
  s.batch = batch;
  s.input_len = input;
  s.output_len = 1;
  s.tp = tp;
  s.ep = ep;
  s.pp = pp;
  s.dp = dp;
  return s;
}
}  // namespace xpu::test
