// Time discipline (STYLE.md): a run must not depend on the quantum of temporal decoupling beyond a
// stated tolerance. Each family runs a compute-bound and a memory-bound GEMM at the default quantum
// (100 ns) and at half and twice of it. (Measured when this test was written: within 0.84% at
// 50/200 ns; at a quarter of the quantum, 25 ns, trn2's 2048^3 GEMM came out 4.0% faster and
// maia200's 8x4096x4096 2.5% faster: their cores' copies queued on the shared HBM in the order they were
// booked, core by core within a quantum. Since 2026-12-07 (speed62) Trainium and TPU book a copy only once no
// other slot can still book an earlier one, and trn2's figures are equal at every quantum from 1 to 400 ns:
// 36.941 / 20.075 us. Maia does not (with it, more clusters made maia200's and maia100's fp8 GEMMs 0.9-1.6%
// slower: WhatIfMonotonic). A slot alone on its executor syncs before a copy booked beyond the quantum, not after
// each instruction: h100-sxm's 8x4096x4096 then moves +0.55% at 200 ns (+0.27% before), the others less.
// README "Simulation speed", speed62.)
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

using namespace xpu;

namespace {
// Stated tolerance: latency within 1% of the default-quantum run (a transfer entering the memory
// system after a sync is at most one quantum late, which a kernel of many waves averages out).
constexpr double kQuantumTolerance = 0.01;

double latency_at(const ChipModel& chip, const OpSpec& op, double quantum_s) {
  RunOptions ro;
  ro.quantum_s = quantum_s;
  LowerOptions lo;
  return simulate(chip, {chip.lower(op, lo)}, ro, op.dtype).latency_s;
}
}  // namespace

TEST(Quantum, ResultsDoNotDependOnTheQuantumBeyondTheTolerance) {
  for (const char* name : {"h100-sxm", "tpu-v6e", "trn2", "maia200"}) {
    auto chip = load_chip(name);
    for (auto shape : {std::map<std::string, std::string>{{"m", "2048"}, {"n", "2048"}, {"k", "2048"}},
                       std::map<std::string, std::string>{{"m", "8"}, {"n", "4096"}, {"k", "4096"}}}) {
      OpSpec op = make_op("gemm", shape);
      const double ref = latency_at(*chip, op, 100e-9);
      for (double q : {50e-9, 200e-9}) {
        const double t = latency_at(*chip, op, q);
        EXPECT_NEAR(t / ref, 1.0, kQuantumTolerance)
            << name << " " << op.shape_str() << " quantum " << q * 1e9 << " ns: " << t * 1e6 << " us vs " << ref * 1e6
            << " us at 100 ns";
        std::printf("%s %s quantum %.0f ns: %+.3f%%\n", name, op.shape_str().c_str(), q * 1e9, 100 * (t / ref - 1));
      }
    }
  }
}

// Copies reach a shared memory in arrival order, whatever the order the slots run in within a quantum
// (ExecContext::copies_in_arrival_order): trn2's GEMMs at the default quantum equal a 10 ns quantum's to
// 0.1% (before speed62 the 100 ns figures were 8.3% (2048^3: 40.022 against 36.941 us) and 4.6%
// (8x4096x4096: 20.998 against 20.075 us) slower, each core's first copies served core by core).
TEST(Quantum, SharedMemoryServesCopiesInArrivalOrderAtTheDefaultQuantum) {
  auto chip = load_chip("trn2");
  for (auto shape : {std::map<std::string, std::string>{{"m", "2048"}, {"n", "2048"}, {"k", "2048"}},
                     std::map<std::string, std::string>{{"m", "8"}, {"n", "4096"}, {"k", "4096"}}}) {
    OpSpec op = make_op("gemm", shape);
    const double t = latency_at(*chip, op, 100e-9), fine = latency_at(*chip, op, 10e-9);
    EXPECT_NEAR(t / fine, 1.0, 0.001) << op.shape_str() << ": " << t * 1e6 << " us at 100 ns vs " << fine * 1e6
                                      << " us at 10 ns";
  }
}

namespace {
// An alternative booking of the memory calendars (preset overlays) against the per-channel booking it
// approximates on a compute-bound and a memory-bound GEMM: within `tolerance` of it at the default
// quantum, and within `quantum_tolerance` of itself at half and twice the quantum.
void expect_near_per_channel(const std::vector<std::string>& overlays, const char* label, double tolerance,
                             double quantum_tolerance) {
  for (const char* name : {"h100-sxm", "b200"}) {
    auto lanes = load_chip(name, {"l2.slice_group=1"});  // a calendar per channel and per slice
    auto alt = load_chip(name, overlays);
    for (auto shape : {std::map<std::string, std::string>{{"m", "2048"}, {"n", "2048"}, {"k", "2048"}},
                       std::map<std::string, std::string>{{"m", "8"}, {"n", "4096"}, {"k", "4096"}}}) {
      OpSpec op = make_op("gemm", shape);
      const double ref = latency_at(*alt, op, 100e-9), per_channel = latency_at(*lanes, op, 100e-9);
      EXPECT_NEAR(ref / per_channel, 1.0, tolerance) << name << " " << op.shape_str();
      std::printf("%s %s %s vs per-channel: %+.3f%%\n", name, op.shape_str().c_str(), label, 100 * (ref / per_channel - 1));
      for (double q : {50e-9, 200e-9}) {
        const double t = latency_at(*alt, op, q);
        EXPECT_NEAR(t / ref, 1.0, quantum_tolerance) << name << " " << op.shape_str() << " " << label << " " << q;
        std::printf("%s %s %s, quantum %.0f ns: %+.3f%%\n", name, op.shape_str().c_str(), label, q * 1e9, 100 * (t / ref - 1));
      }
    }
  }
}
}  // namespace

// The bank booking ("hbm_bank", "tile_lru_bank": one calendar booking per transfer on all channels or
// slices together) keeps the same time discipline, and stays within a stated tolerance of the
// per-channel booking it approximates. Measured when written (h100-sxm, b200): within 0.1% across
// quanta; against per-channel booking -5.6% (h100-sxm 2048^3) to +0.1% on these GEMMs, 0.4% faster on
// the 8192^3 H100 GEMM, 2-5% faster on memory-bound decode steps (it sees no imbalance from the hash).
TEST(Quantum, BankBookingDoesNotDependOnTheQuantumAndStaysNearPerChannelBooking) {
  expect_near_per_channel({"hbm.model=hbm_bank", "l2.model=tile_lru_bank"}, "bank", 0.08, kQuantumTolerance);
}

// The default L2 booking (l2.slice_group = 16: three or more calendars of sixteen slices; 8 until 2026-12-07,
// scripts/bench/README.md, speed53) under the same two
// quanta, against a calendar per slice: within 2% of it (measured when made the default: equal to the
// tick on these four GEMMs, whose L2 transfers find their slices free) and within 2% across quanta:
// b200's memory-bound 8x4096x4096 moves -0.72% / +1.77% at 50 / 200 ns with a calendar per slice too
// (the same figures; its HBM channels' arrival order, which the default quantum test does not cover),
// and -0.53% / +2.23% since a grid's first wave is spread one block per SM (2026-12-02): its 2.5% bound.
TEST(Quantum, DefaultSliceGroupsStayNearPerSliceBooking) {
  expect_near_per_channel({"l2.slice_group=16"}, "slice groups of 16", 0.02, 0.025);
}

// The grouped booking of HBM channels too (hbm.channel_group: opt-in) under the same two quanta, and
// within the bank tolerance of the per-channel booking it approximates. Measured when written: -0.07%
// to -0.70% against per-channel booking; across quanta 0.0% on 2048^3, but the memory-bound 8x4096x4096
// moves by -0.3/+0.2% (h100-sxm) and -0.5/+2.5% (b200) at 50/200 ns: fewer, shared calendars make the
// order of arrivals within a quantum matter more, so its stated tolerance is 3%, not the default's 1%
// (one reason channel groups are not the default; scripts/bench/README.md, grouped booking).
TEST(Quantum, GroupedBookingDependsOnTheQuantumWithinItsToleranceAndStaysNearPerChannelBooking) {
  expect_near_per_channel({"hbm.channel_group=8", "l2.slice_group=8"}, "groups of 8", 0.08, 0.03);
}

