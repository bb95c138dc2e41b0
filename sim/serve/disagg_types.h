// Disaggregated serving as reported: the two pools of a system (prefill and decode instances, each a
// tensor-parallel group) and the KV-cache transfers between them. Pure data (sim/serve/disagg.h runs it).
#pragma once
#include <cstdint>

namespace xpu {

// Where the pools sit: prefill instance i on system ranks prefill_first + i*prefill_tp .. , decode
// instance j on decode_first + j*decode_tp .. (disjoint, every group an aligned block).
struct DisaggLayout {
  int prefill_tp = 1, decode_tp = 1;
  int prefill_devices = 0, decode_devices = 0;      // chips of each pool
  int prefill_instances = 0, decode_instances = 0;
  int prefill_first = 0, decode_first = 0;          // first system rank of each pool
  int system_chips = 0;                             // chips of the system (the pools may leave some idle)
  double kv_bytes_per_token = 0;                    // a decode instance's, all its ranks (what crosses the fabric)
  int kv_heads = 0;                                 // KV heads of the model (0: MLA's latent, whole on every rank)
};

// One operating point's KV transfers (one per request of two or more output tokens).
struct KvTransferStats {
  std::int64_t transfers = 0;
  double bytes_total = 0, bytes_mean = 0;
  double time_mean_s = 0, time_p50_s = 0, time_p99_s = 0;  // as simulated on the fabric, with contention
  double alone_s = 0;                                      // a transfer of the mean size on an idle fabric
  int fabric_runs = 0;        // fixed-point rounds between the engine and the fabric (see disagg.h)
  bool converged = true;      // the last round's transfer times moved less than the tolerance
  double prefill_busy = 0, decode_busy = 0;                // mean share of the makespan an instance computes
  double prefill_power_w = 0, decode_power_w = 0;          // per chip of each pool (0: power not modeled)
};

}  // namespace xpu
