// The systems layer that the CLI and tests call: a collective on a system preset, from the library's
// choice through lowering to the SystemC fabric, reported with nccl-tests' definitions.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/collective/collective.h"
#include "sim/base/stats.h"

namespace xpu {

struct CollectiveReport {
  std::string system, chip, collective, algorithm, protocol;
  std::string internode;  // hierarchical: its inter-node stage's algorithm ("" otherwise)
  std::string stack;      // the serving stack whose own kernel ran it ("" where the collective library did)
  int ranks = 0, nodes = 1, slices = 1;
  std::uint64_t bytes = 0;
  double latency_s = 0, algbw_GBps = 0, busbw_GBps = 0, estimate_s = 0;
  std::uint64_t ops = 0, pieces = 0;
  std::vector<std::pair<std::string, double>> considered;
  // Per link class ("scale_up", "uplink", "nic"): mean and max busy share over the collective.
  struct ClassUse {
    std::string cls;
    int links = 0;
    double mean = 0, max = 0, bytes = 0;
  };
  std::vector<ClassUse> utilization;
  std::vector<std::pair<std::string, double>> link_utilization;  // every link with traffic
  // An expert exchange (`kernel alltoall --tokens`): which DeepEP kernels ("" otherwise), the tokens each
  // rank sends and receives, the bytes of one token, and the bytes each rank sends across nodes. DeepEP's
  // "bottleneck bandwidth" (README, normal kernels; tests/test_intranode.py, test_internode.py) is the
  // received bytes (`bytes`) over the time in one node (on the system's scale-up `fabric`: NVLink on a GPU
  // system), the forwarded bytes across nodes (on `scale_out`: RDMA where the NICs are). `dispatch` names
  // what runs the exchange on the system (library.expert_dispatch: DeepEP on GPUs).
  std::string expert, dispatch, fabric, scale_out;
  std::int64_t expert_tokens = 0, receive_tokens = 0, token_bytes = 0;
  std::uint64_t forwarded_bytes = 0;
  std::string resolved_yaml;
  Stats stats;  // every link's busy time, bytes and utilization, with unit and meaning
  nlohmann::json json() const;
  std::string table() const;
};

class SystemTrace;
// Chooses the algorithm (unless forced), lowers, simulates on the fabric and reports; with a trace, every
// vertex's operations and every piece on a link go to it as one run (system_trace.h).
CollectiveReport run_collective(const SystemSpec& spec, const CollectiveRequest& req, SystemTrace* trace = nullptr);
// "256MiB", "1GB", "4096" -> bytes (InputError on anything else).
std::uint64_t parse_message_bytes(const std::string& text);

// Validation rows of workloads/validation/collectives.csv (nccl-tests, nccom-test, TPU profiles).
struct CollectiveRow {
  std::string id, system, collective, algorithm, source;
  std::string stack;  // optional column: a serving stack's own all-reduce kernel timed ("" for a library's)
  int n_chips = 0;
  std::uint64_t bytes = 0;
  double time_us = 0, busbw_GBps = 0;  // 0 when not published
};
struct CollectivePoint {
  CollectiveRow row;
  std::string preset, algo;
  int nodes = 1;
  double predicted_busbw = 0, predicted_time_us = 0;
  double measured_time_us = 0;       // from the row, or size x factor / busbw when only busbw is given
  double busbw_error = 0, time_error = 0;  // (predicted - measured) / measured
};
std::vector<CollectiveRow> read_collective_rows(const std::string& csv);  // InputError if missing
// A row validate cannot express, with the reason.
struct CollectiveSkip {
  std::string id, reason;
};
// Maps each row this model covers onto a system preset and simulates it; every other row goes to
// `skipped` (when given) with its reason.
std::vector<CollectivePoint> validate_collectives(const std::vector<CollectiveRow>& rows,
                                                  std::vector<CollectiveSkip>* skipped = nullptr);
std::string default_collectives_csv();

}  // namespace xpu
