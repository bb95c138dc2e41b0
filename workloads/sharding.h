// Sharding: a pure function of a model and a parallel layout (Scenario's tp, ep, pp, dp) that says
// which part of the model every rank runs and where every weight lands. The system runtime
// (sim/run/system_run.h) builds each rank's step from its role; memory is checked per device from
// its weights here. No chip or system knowledge: the same layout on any system shards the same way.
//
// Ranks: rank = (dp_index * pp + stage) * tp + tp_index. A tensor-parallel group is tp consecutive
// ranks and a pipeline replica pp x tp consecutive ranks, so groups map onto switch nodes and torus
// blocks. Expert-parallel index: tp_index / (tp/ep) when ep divides tp (experts over the TP group:
// ep expert groups of tp/ep consecutive ranks, each splitting its experts' width), dp_index * tp +
// tp_index when ep == tp x dp (data-parallel attention, experts over every rank of a stage).
#pragma once
#include <string>
#include <vector>

#include "workloads/graph.h"
#include "workloads/model.h"
#include "workloads/scenario.h"

namespace xpu {

struct RankRole {
  int rank = 0, dp = 0, stage = 0, tp = 0, ep = 0;
  RankPart part;  // the stage's layers and the expert index (build_step_graph)
  bool first_stage() const { return part.layer_begin == 0; }
};

// Layers [begin, end) of `stage` out of `pp`: an even split, the remainder to the first stages.
std::pair<std::int64_t, std::int64_t> stage_layers(std::int64_t layers, int pp, int stage);
std::vector<RankRole> rank_roles(const ModelConfig& m, const Scenario& s);

// The ranks that form one communicator of each kind for `r`: its TP group (consecutive), its EP
// group (the TP group, or every rank of its stage across DP replicas), its pipeline neighbour.
std::vector<int> tp_group(const Scenario& s, int rank);
std::vector<int> ep_group(const Scenario& s, int rank);
int next_stage_rank(const Scenario& s, int rank);  // -1 on the last stage

struct TensorShard {
  int rank = 0;
  double bytes = 0;
};
// One weight (or group of weights split the same way) of the unsharded model: its bytes, how many
// full copies the layout keeps (data-parallel replicas, TP ranks holding a replicated weight whole,
// a tied table on the first and last stage) and the part each rank holds.
struct WeightTensor {
  std::string name;
  double bytes = 0;
  int copies = 1;
  std::vector<TensorShard> shards;
};
struct Sharding {
  std::vector<RankRole> roles;
  std::vector<WeightTensor> tensors;
  std::vector<double> rank_weight_bytes;
  std::vector<double> rank_embedding_bytes;  // embedding table and LM head part of rank_weight_bytes
};
// Layer weights in s.wdtype, embedding table and LM head in s.embedding_dtype().
Sharding shard_weights(const ModelConfig& m, const Scenario& s);

}  // namespace xpu
