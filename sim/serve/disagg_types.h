// Disaggregated serving as reported: the two pools of a system (prefill and decode instances, each a
// tensor-parallel group) and the KV-cache transfers between them. Pure data (sim/serve/disagg.h runs it).
#pragma once
#include <string>
#include <cstdint>

namespace xpu {

// Where the pools sit: prefill instance i on system ranks prefill_first + i*prefill_tp*prefill_pp .. ,
// decode instance j on decode_first + j*decode_tp*decode_pp .. (disjoint, every group an aligned
// block). Each pool has a layout of its own (tp, ep, pp, dp): its chips are groups of tp x pp x dp
// ranks, each group dp replicas of pp stages of tp ranks (the rank order of workloads/sharding.h), and
// an instance is one replica (KV transfers and the fabric name ranks by it). With data-parallel attention
// (Scenario::dp_attention) a group's replicas share their experts through all-to-alls and run as one
// server of dp ranks that the router feeds (disagg.h); otherwise each replica is a server of its own.
struct DisaggLayout {
  int prefill_tp = 1, decode_tp = 1;
  int prefill_ep = 1, decode_ep = 1;
  int prefill_dp = 1, decode_dp = 1;
  int prefill_pp = 1, decode_pp = 1;
  int layers = 0;                                   // of the model: how the KV splits over the stages
  int prefill_devices = 0, decode_devices = 0;      // chips of each pool
  int prefill_instances = 0, decode_instances = 0;
  int prefill_first = 0, decode_first = 0;          // first system rank of each pool
  int system_chips = 0;                             // chips of the system (the pools may leave some idle)
  double kv_bytes_per_token = 0;                    // a decode instance's, all its ranks (what crosses the fabric; the drafter's included)
  double draft_kv_bytes_per_token = 0;              // of which a speculative drafter's own KV (0: none, or a cost-fraction drafter)
  int kv_heads = 0;                                 // KV heads of the model (0: MLA's latent, whole on every rank)
  int prefill_redundant_experts = -1;               // -1: the scenario's, as the decode pool (ServeOptions)
  // Memory per device of each pool (serve_memory at its layout): the weights, and the tokens of KV
  // cache an instance holds (0 until the chip is known: check_pool_memory fills them).
  double prefill_weight_bytes = 0, decode_weight_bytes = 0;
  std::int64_t prefill_kv_tokens = 0, decode_kv_tokens = 0;
};

// One operating point's KV transfers (one per request of two or more output tokens).
struct KvTransferStats {
  std::int64_t transfers = 0;
  double bytes_total = 0, bytes_mean = 0;
  // Of each transfer (the mean), the prompt's head that the prefill instance's prefix cache held (serve --prefix-hit):
  // its tokens, which the prefill pool did not compute, and the size of their KV, which crosses the fabric under the
  // whole-prompt rule and stays on the decode instance's own prefix cache under the uncached-blocks rule (disagg.h,
  // prefix caching). 0 without prefix caching.
  double prefix_tokens_mean = 0, prefix_bytes_mean = 0;
  // Of each transfer (the mean), the prompt tokens whose KV crossed the fabric and those the decode instance's prefix
  // cache held and were not sent (0 under the whole-prompt rule); and the serving stack's rule
  // (Scheduler::pd_prefix_rule: "whole prompt (...)" or "uncached blocks (...)").
  double sent_tokens_mean = 0, resident_tokens_mean = 0;
  std::string prefix_rule;
  double time_mean_s = 0, time_p50_s = 0, time_p99_s = 0;  // as simulated on the fabric, with contention
  double alone_s = 0;                                      // a transfer of the mean size on an idle fabric
  int fabric_runs = 0;        // fixed-point rounds between the engine and the fabric (see disagg.h)
  bool converged = true;      // the last round's reported figures settled within the tolerance (disagg.h: fabric_round_settled)
  // The servers' own collectives that ran beside the transfers on the fabric (the last round), and the time
  // the iterations that ran them lost to the transfers, summed over the iterations (disagg.h).
  std::int64_t collectives_met = 0;
  double collective_delay_s = 0;
  // The time the iterations' kernels lost to the transfers' reads and writes of their devices' HBM (the last
  // round, summed over the iterations; disagg.h).
  double hbm_delay_s = 0;
  double prefill_busy = 0, decode_busy = 0;                // mean share of the makespan an instance computes
  double prefill_power_w = 0, decode_power_w = 0;          // per chip of each pool (0: power not modeled)
  // The chip whose power manager the point reports (power_manager): of every instance of both pools, the one
  // that spent the most energy, so the one nearest its limits ("decode instance 2 of 3"; "" without a power model).
  std::string power_manager_chip;
};

}  // namespace xpu
