// Collectives as kernels: all-reduce, all-gather, reduce-scatter, all-to-all, broadcast and
// send/recv lowered into per-vertex transaction programs for one algorithm (ring, nvls, oneshot,
// twoshot, torus, hierarchical, direct) and protocol (ll, ll128, simple). Pure: no SystemC, no timing.
#pragma once
#include <string>
#include <vector>

#include "sim/interconnect/comm_program.h"
#include "sim/interconnect/topology.h"

namespace xpu {

enum class CollKind { AllReduce, AllGather, ReduceScatter, AllToAll, Broadcast, SendRecv };
CollKind parse_collective(const std::string& name);  // "allreduce" ... ; InputError otherwise
std::string name(CollKind k);
std::vector<std::string> collective_names();
// nccl-tests bus-bandwidth factor: 2(n-1)/n all-reduce, (n-1)/n AG/RS/all-to-all, 1 broadcast, send/recv.
double busbw_factor(CollKind k, int ranks);

struct CollectiveRequest {
  CollKind kind = CollKind::AllReduce;
  std::uint64_t bytes = 0;     // nccl-tests "size": AR per-rank buffer, AG total output, RS total input,
                               // all-to-all per-rank send buffer, broadcast buffer, send/recv message
  std::string algorithm = "auto";
  std::string protocol = "auto";
  // All-to-all of an expert dispatch or combine by DeepEP's normal (prefill) kernels across nodes
  // (algorithm "deepep"): the bytes each rank's inter-node stage sends, a token once per destination
  // node (nccl-tests size over the nodes, this rank's own node's share staying home); `bytes` is what
  // each rank receives through its node's NVLink stage. 0: not such a call.
  std::uint64_t forwarded_bytes = 0;
  // An expert dispatch or combine run by DeepEP's kernels (a model's MoE all-to-all, `kernel alltoall
  // --tokens`), not the collective library's grouped send/receive: the library's p2p chunks
  // (library.p2p_chunk_bytes_*) do not cut it. Its low-latency kernels post every token's write as
  // soon as it is ready, into a receive buffer that holds the whole exchange
  // (github.com/deepseek-ai/DeepEP README: low_latency_dispatch, IBGDA), so nothing cuts it into a
  // pipeline of slices; the normal kernels stream through chunked buffers (the library's slices).
  enum class Expert : std::uint8_t { None, Normal, LowLatency };
  Expert expert = Expert::None;
  // A model's TP all-reduce: the serving stack whose own all-reduce kernels may take it instead of the
  // collective library ("trtllm": kernels/collective/custom_allreduce.h; "": the library's choice), and the
  // rows (tokens) of its [tokens, hidden] buffer, by which that stack picks its kernel (0: not known).
  std::string stack{};
  std::int64_t rows = 0;
};

// The unit a collective's size must be a multiple of on `ranks` chips: 4-byte elements, per chip for
// the collectives laid out rank by rank (all-gather, reduce-scatter, all-to-all: nccl-tests count x
// nranks), 1 byte for broadcast and send/recv. `bytes` rounded up to it (as a model's graph pads its
// all-to-alls: workloads/graph.cpp alltoall).
std::uint64_t collective_unit(CollKind kind, int ranks);
std::uint64_t whole_elements(CollKind kind, int ranks, std::uint64_t bytes);
// An expert all-to-all with forwarded bytes (DeepEP's normal kernels) runs algorithm deepep across
// nodes; inside one node, or without forwarded bytes, it is a plain all-to-all (forwarded_bytes 0).
// The model's runtime and `kernel alltoall --tokens` both resolve it here.
void resolve_expert_all_to_all(const SystemSpec& spec, CollectiveRequest& r);

// Every algorithm this build lowers (whatever a preset's library offers).
std::vector<std::string> algorithm_names();
// Why `algo` cannot run `kind` on this topology ("" when it can).
std::string unsupported_reason(const Topology& t, CollKind kind, const std::string& algo);
// Algorithms this library offers for `kind` on `t` (the preset's list, filtered by what can run).
std::vector<std::string> candidate_algorithms(const Topology& t, CollKind kind);
std::vector<std::string> candidate_protocols(const Topology& t, const std::string& algo);

// Lowers one (algorithm, protocol); `slices` = 0 picks the pipeline depth from the library's chunking
// and sends one message per channel where the library does (the simulated program); a given `slices`
// cuts the message into that many equal slices, each stage's bytes as one message unless
// `channel_messages` (the library's own view for its estimate: one slice, one message per channel).
CommProgram lower_collective(const Topology& t, const CollectiveRequest& r, int slices = 0, bool channel_messages = false);

// The library's choice: every candidate (algorithm, protocol) is lowered and costed with the library's
// latency-bandwidth model (the longest chain of latencies plus the busiest link's bytes at its rate),
// and the cheapest is taken, as NCCL's tuner does (src/graph/tuning.cc); across nodes NCCL's own table
// (nccl_tuner_us) picks the protocol of tree and ring and which of the two competes. Forced algorithm or
// protocol restrict the candidates; an impossible one throws InputError naming the reason.
struct CollectiveChoice {
  std::string algorithm, protocol;
  double estimate_s = 0;
  std::vector<std::pair<std::string, double>> considered;  // "ring/ll128" -> estimated seconds
};
CollectiveChoice choose_collective(const Topology& t, const CollectiveRequest& r);
double estimate_seconds(const Topology& t, const CommProgram& p);

}  // namespace xpu
