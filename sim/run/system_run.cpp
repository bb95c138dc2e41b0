#include "sim/run/system_run.h"

#include <cmath>
#include <functional>
#include <map>
#include <tuple>

#include "sim/base/error.h"
#include "workloads/expert_placement.h"
#include "workloads/graph.h"

namespace xpu {

SystemSpec single_chip_system(const ChipModel& chip) {
  SystemSpec s;
  s.name = chip.name();
  s.chip = chip.name();
  s.file = chip.name();
  s.topology = "mesh_groups";  // one chip, no links
  s.chips = 1;
  s.group = 1;
  return s;
}

namespace {

// A rank's part of the step: its graph and each node's kernel time alone on the chip.
struct RankStep {
  RankRole role;
  Graph graph;
  StepResult alone;
};

// Layers that the graph folds into one node with a count run count times: consecutive nodes of one
// layer group (the label before its first '.') form a block repeated `count` times.
std::vector<std::pair<size_t, size_t>> blocks_of(const Graph& g) {
  std::vector<std::pair<size_t, size_t>> out;
  auto prefix = [&](size_t i) {
    const std::string& l = g.nodes[i].op.label;
    return l.substr(0, l.find('.'));
  };
  for (size_t i = 0; i < g.nodes.size();) {
    size_t j = i + 1;
    while (j < g.nodes.size() && prefix(j) == prefix(i) && g.nodes[j].count == g.nodes[i].count) ++j;
    out.emplace_back(i, j);
    i = j;
  }
  return out;
}

// SMs DeepEP's normal kernels run on: its README's usage example (github.com/deepseek-ai/DeepEP,
// "Buffer.set_num_sms(24)"); SGLang passes its own setting through the same call.
constexpr double kDeepEpNormalSms = 24;

CollKind coll_kind(OpKind k) {
  switch (k) {
    case OpKind::AllReduce: return CollKind::AllReduce;
    case OpKind::ReduceScatter: return CollKind::ReduceScatter;
    case OpKind::AllGather: return CollKind::AllGather;
    default: return CollKind::AllToAll;
  }
}

class WorkBuilder {
 public:
  // `forwarded`: the inter-node bytes of an expert all-to-all run by DeepEP's normal kernels (0: none).
  using Forwarded = std::function<std::uint64_t(const OpSpec&, const std::vector<int>& group)>;
  WorkBuilder(const Scenario& s, int ranks, const std::vector<double>& hbm, bool overlap, Forwarded forwarded)
      : m_s(s), m_forwarded(std::move(forwarded)) {
    m_work.devices.resize(static_cast<size_t>(ranks));
    m_node.resize(static_cast<size_t>(ranks));
    m_pending.resize(static_cast<size_t>(ranks) * kLanes);
    m_work.hbm_Bps = hbm;
    m_work.overlap = overlap;
  }

  // One pass of `rs`'s graph on its rank per instance (iteration x micro-batch: tells collectives
  // apart). Two instances (two-batch overlap) interleave: each segment of a layer up to and including
  // its next collective runs for the first micro-batch, then for the second, so that one's collective
  // (on the communication stream) overlaps the other's kernels; each micro-batch's data dependencies
  // are its own (lane). `max_repeats` > 0: a block runs at most that many repetitions (a repetition
  // holds every instance's share of it); the ends of its last two are marked.
  void add_graph(const RankStep& rs, const std::vector<int>& instances, int max_repeats = 0) {
    const int r = rs.role.rank;
    const auto& nodes = rs.graph.nodes;
    for (const auto& [b, e] : blocks_of(rs.graph)) {
      const int count = nodes[b].count;
      const int runs = max_repeats >= 2 && count > max_repeats ? max_repeats : count;
      for (int k = 0; k < runs; ++k) {
        if (runs < count && k == runs - 1) m_marks.push_back({r, b, ops(r), 0, count - runs});
        for (size_t j = b; j < e;) {
          size_t end = j;
          while (end < e && !is_collective(nodes[end].op.kind)) ++end;
          end = std::min(e, end + 1);  // the segment's collective with it
          for (size_t lane = 0; lane < instances.size(); ++lane) add_nodes(rs, j, end, k, instances[lane], static_cast<int>(lane));
          j = end;
        }
        if (runs < count && k == runs - 1) m_marks.back().last_end = ops(r);
      }
    }
  }

  // The repetitions left out, each at its block's period: per block, the longest span of its last
  // simulated repetition over the ranks (from the end of the one before to its own end).
  double skipped_s(const RuntimeResult& rr) const {
    double s = 0;
    for (const auto& [b, p] : periods(rr)) s += p.first * to_seconds(p.second);
    return s;
  }

  // The step's collectives in time (StepResult::collectives): each call as the first rank of its communicator
  // ran it, rank r's ops from index from[r] on, offsets from `origin`; a block's repetitions left out follow its
  // last simulated one at the block's period (as skipped_s adds them), and what comes after the block on that
  // rank runs that much later.
  std::vector<StepCollective> timeline(const RuntimeResult& rr, const std::vector<size_t>& from, Tick origin) const {
    const auto period = periods(rr);
    std::vector<StepCollective> out;
    for (size_t r = 0; r < m_work.devices.size(); ++r) {
      const auto& list = m_work.devices[r];
      for (size_t i = from[r]; i < list.size(); ++i) {
        const StreamOp& op = list[i];
        if (op.kind != StreamOp::Kind::Collective) continue;
        const CollectiveCall& call = m_work.collectives[static_cast<size_t>(op.collective)];
        if (call.group.front() != static_cast<int>(r)) continue;
        Tick shift = 0, step = 0;
        int copies = 0;
        for (const Mark& m : m_marks) {
          auto p = period.find(m.block);
          if (m.rank != static_cast<int>(r) || p == period.end()) continue;
          if (m.last_end <= i) shift += static_cast<Tick>(m.skipped) * p->second.second;
          else if (m.prev_end <= i) copies = m.skipped, step = p->second.second;
        }
        StepCollective c;
        c.req = call.req;
        c.algorithm = rr.algorithm[static_cast<size_t>(op.collective)];
        c.group = call.group;
        c.time_s = to_seconds(rr.op_end[r][i] - rr.op_start[r][i]);
        for (int k = 0; k <= copies; ++k) {
          c.offset_s = to_seconds(rr.op_start[r][i] + shift + static_cast<Tick>(k) * step - std::min(origin, rr.op_start[r][i]));
          out.push_back(c);
        }
      }
    }
    std::stable_sort(out.begin(), out.end(), [](const StepCollective& a, const StepCollective& b) { return a.offset_s < b.offset_s; });
    return out;
  }

  static constexpr size_t kLanes = 2;  // micro-batches whose dependencies are tracked apart

  void send(int from, int to, std::uint64_t bytes, std::uint32_t tag) {
    StreamOp s;
    s.kind = StreamOp::Kind::Send;
    s.stream = 1;
    s.peer = to;
    s.bytes = bytes;
    s.tag = tag;
    push(from, s, -1, false);
    StreamOp v;
    v.kind = StreamOp::Kind::Recv;
    v.stream = 1;
    v.peer = from;
    v.tag = tag;
    m_recv_later[{to, tag}] = v;
  }
  void recv(int at, std::uint32_t tag) {
    auto it = m_recv_later.find({at, tag});
    if (it == m_recv_later.end()) throw std::logic_error("system run: a receive without its send");
    push(at, it->second, -1, false);
  }

  SystemWork& work() { return m_work; }
  // Per rank, per StreamOp: the graph node it runs (-1 for sends and receives).
  const std::vector<std::vector<int>>& node_of_op() const { return m_node; }
  size_t ops(int r) const { return m_work.devices[static_cast<size_t>(r)].size(); }

 private:
  void add_nodes(const RankStep& rs, size_t begin, size_t end, int layer, int instance, int lane) {
    const int r = rs.role.rank;
    for (size_t j = begin; j < end; ++j) {
      const GraphNode& n = rs.graph.nodes[j];
      if (n.fused) continue;
      if (is_collective(n.op.kind)) {
        const std::vector<int> group = n.op.kind == OpKind::AllToAll ? ep_group(m_s, r) : tp_group(m_s, r);
        collective(r, n, group, layer, instance, static_cast<int>(j), lane);
      } else {
        StreamOp op;
        op.kind = StreamOp::Kind::Kernel;
        op.label = n.op.label;
        op.work = to_ticks(rs.alone.nodes[j].time_s);
        op.hbm_bytes = rs.alone.nodes[j].events.dram_bytes;  // DRAM traffic after the caches: what contends with the fabric
        push(r, std::move(op), static_cast<int>(j), true, lane);
      }
    }
  }

  void collective(int r, const GraphNode& n, const std::vector<int>& group, int layer, int instance, int node, int lane) {
    auto key = std::make_tuple(n.op.label, layer, instance, group.front());
    auto it = m_calls.find(key);
    if (it == m_calls.end()) {
      CollectiveCall c;
      c.req.kind = coll_kind(n.op.kind);
      c.req.bytes = static_cast<std::uint64_t>(n.op.m);
      c.req.forwarded_bytes = m_forwarded(n.op, group);
      if (n.op.kind == OpKind::AllReduce) c.req.stack = m_s.allreduce_stack, c.req.rows = n.op.rows;
      if (n.op.kind == OpKind::AllToAll)  // a graph's all-to-alls are its MoE dispatch and combine
        c.req.expert = n.op.normal_dispatch ? CollectiveRequest::Expert::Normal : CollectiveRequest::Expert::LowLatency;
      // Expert all-to-alls hold DeepEP's SMs: its normal kernels (a prefill's, rows given) run on
      // kDeepEpNormalSms; its low-latency ones (decode) receive through a hook that holds none while the
      // data moves (DeepEP README: "hook-based communication-computation overlapping method that does not
      // occupy any SM resource"). Other collectives: the library's blocks, one per channel.
      if (n.op.kind == OpKind::AllToAll) c.units = n.op.normal_dispatch ? kDeepEpNormalSms : 0.0;
      c.group = group;
      c.label = n.op.label;
      m_work.collectives.push_back(std::move(c));
      it = m_calls.emplace(key, static_cast<int>(m_work.collectives.size() - 1)).first;
    }
    StreamOp op;
    op.kind = StreamOp::Kind::Collective;
    op.stream = 1;
    op.label = n.op.label;
    op.collective = it->second;
    push(r, std::move(op), node, false, lane);
  }

  // Data dependencies across streams, within a lane (micro-batch): communication waits for the kernel
  // that produced its input, and the lane's next kernel waits for every communication it issued since
  // (its output feeds it).
  void push(int r, StreamOp op, int node, bool compute, int lane = 0) {
    auto& list = m_work.devices[static_cast<size_t>(r)];
    const size_t key = static_cast<size_t>(r) * kLanes + static_cast<size_t>(lane);
    auto& pending = m_pending[key];
    const int idx = static_cast<int>(list.size());
    if (compute) {
      op.waits = pending;
      pending.clear();
      m_last_compute[key] = idx;
    } else {
      auto lc = m_last_compute.find(key);
      if (lc != m_last_compute.end()) op.waits = {lc->second};
      pending.push_back(idx);
    }
    list.push_back(std::move(op));
    m_node[static_cast<size_t>(r)].push_back(node);
  }

  // Per block with repetitions left out: (repetitions skipped, period), the period the longest span of its
  // last simulated repetition over the ranks (from the end of the one before to its own end).
  std::map<size_t, std::pair<int, Tick>> periods(const RuntimeResult& rr) const {
    std::map<size_t, std::pair<int, Tick>> period;
    for (const Mark& m : m_marks) {
      if (m.prev_end == 0 || m.last_end <= m.prev_end) continue;
      const auto& ends = rr.op_end[static_cast<size_t>(m.rank)];
      const Tick span = ends[m.last_end - 1] - ends[m.prev_end - 1];
      auto& p = period[m.block];
      p.first = m.skipped;
      p.second = std::max(p.second, span);
    }
    return period;
  }

  struct Mark {
    int rank;
    size_t block, prev_end, last_end;  // the block's first node; ops of the rank before/after its last repetition
    int skipped;
  };
  std::vector<Mark> m_marks;
  const Scenario& m_s;
  Forwarded m_forwarded;
  SystemWork m_work;
  std::vector<std::vector<int>> m_node;
  std::vector<std::vector<int>> m_pending;
  std::map<size_t, int> m_last_compute;  // per rank and lane
  std::map<std::tuple<std::string, int, int, int>, int> m_calls;
  std::map<std::pair<int, std::uint32_t>, StreamOp> m_recv_later;
};

std::vector<double> hbm_per_rank(const ChipModel& chip, int ranks) {
  return std::vector<double>(static_cast<size_t>(ranks), chip.dram_bandwidth());
}

// Node results of `rs` with the runtime's spans: each node's mean time per run (stretch and waiting
// for peers included), runs per step multiplied by the micro-batches.
std::vector<NodeResult> timed_nodes(const RankStep& rs, const RuntimeResult& rr, const std::vector<int>& node_of_op,
                                    const std::vector<std::string>& algorithms, const SystemWork& work, int runs,
                                    std::pair<size_t, size_t> op_range) {
  std::vector<NodeResult> out = rs.alone.nodes;
  std::vector<double> total(out.size(), 0.0);
  std::vector<int> seen(out.size(), 0);
  const size_t r = static_cast<size_t>(rs.role.rank);
  for (size_t i = op_range.first; i < op_range.second; ++i) {
    const int j = node_of_op[i];
    if (j < 0) continue;
    total[static_cast<size_t>(j)] += to_seconds(rr.op_end[r][i] - rr.op_start[r][i]);
    ++seen[static_cast<size_t>(j)];
    const StreamOp& op = work.devices[r][i];
    if (op.kind == StreamOp::Kind::Collective) out[static_cast<size_t>(j)].strategy = algorithms[static_cast<size_t>(op.collective)];
  }
  for (size_t j = 0; j < out.size(); ++j) {
    out[j].stage = rs.role.stage;
    out[j].count *= runs;  // fused nodes too: a fused op runs once per micro-batch inside its host kernel
    if (out[j].fused) continue;
    if (seen[j]) out[j].time_s = total[j] / seen[j];
    if (is_collective(rs.graph.nodes[j].op.kind)) {
      out[j].bound = "communication";
      out[j].comm_bytes = static_cast<double>(rs.graph.nodes[j].op.m);
    }
  }
  // A pipeline stage's hand-offs beside its collectives: the sends of its micro-batches' hidden states
  // to the next stage (or of the sampled tokens back to the first), each from its start to its end.
  NodeResult send;
  send.count = 0;
  double send_s = 0;
  for (size_t i = op_range.first; i < op_range.second; ++i) {
    const StreamOp& op = work.devices[r][i];
    if (op.kind != StreamOp::Kind::Send) continue;
    send_s += to_seconds(rr.op_end[r][i] - rr.op_start[r][i]);
    send.comm_bytes = std::max(send.comm_bytes, static_cast<double>(op.bytes));
    ++send.count;
  }
  if (send.count > 0 && send_s > 0) {
    send.label = "stage_send";
    send.op = "sendrecv";
    send.shape = "bytes=" + std::to_string(static_cast<std::uint64_t>(send.comm_bytes));
    send.time_s = send_s / send.count;
    send.bound = "communication";
    send.strategy = "p2p";
    send.stage = rs.role.stage;
    out.push_back(send);
  }
  return out;
}

}  // namespace

// DeepEP's normal kernels (a prefill's expert all-to-all: the graph gives the tokens each rank sends and
// their bytes) over an EP group of several whole nodes: the bytes a rank sends across nodes, each token
// once per node holding any of its experts. The experts (with their replicas) sit in consecutive blocks
// per node, a token's distinct nodes counted as its distinct ranks are over nodes-as-ranks
// (distinct_ranks_per_token, with the model's group-limited routing when no replicas reorder the
// experts). Skewed routing keeps the flat all-to-all (assumed: its hot experts' nodes are not modelled).
namespace {
// Whether DeepEP's normal kernels send a token across nodes once per node holding any of its experts
// (normal_forwarded_bytes): under uniform routing over `slots` expert slots spread evenly over `nodes` nodes;
// a skewed routing's forwarding is not modelled, its tokens cross as the plain all-to-all sends them.
bool forwards_once_per_node(const Routing& routing, std::int64_t slots, std::int64_t topk, int nodes) {
  return nodes > 1 && routing.kind == Routing::Kind::Uniform && slots % nodes == 0 && topk <= slots;
}
}  // namespace

std::uint64_t deepep_forwarded_bytes(const SystemSpec& sys, const ModelConfig& m, const Scenario& s, const OpSpec& op,
                                     const std::vector<int>& group) {
  const int per_node = sys.chips, ranks = static_cast<int>(group.size());
  if (op.kind != OpKind::AllToAll || !op.normal_dispatch || per_node <= 0 || ranks <= per_node || ranks % per_node != 0) return 0;
  const int nodes = ranks / per_node;
  const std::int64_t slots = m.num_experts + s.redundant_experts;
  if (!forwards_once_per_node(s.routing, slots, m.experts_per_token, nodes)) return 0;
  const RouterShape router = router_of(m, s);
  return normal_forwarded_bytes(op.rows, op.cols, slots, router.topk, nodes, router.groups, router.groups_per_token);
}

void set_overlap(std::optional<SystemContext>& ctx, bool overlap) {
  if (overlap && !ctx)
    throw InputError("--overlap: overlaps collectives with compute on a system of chips (give --system S, or --devices N with "
                     "--chip); one chip runs no collective to overlap", "--overlap", "");
  if (ctx) ctx->overlap = overlap;
}

void check_system_devices(const SystemSpec& s, int devices) {
  if (devices != s.ranks())
    throw ConfigError(s.file, "scale_up.chips", "'" + std::to_string(s.chips) + "' x " + std::to_string(s.nodes) + " node(s) = " +
                                                    std::to_string(s.ranks()) + " chips, but --devices " + std::to_string(devices) +
                                                    " was asked for");
}

void check_system_chip(const SystemSpec& s) {
  std::vector<std::string> names;
  for (const auto& p : list_presets()) {
    if (p.name == s.chip) return;
    names.push_back(p.name);
  }
  throw ConfigError(s.file, "chip", "'" + s.chip + "': no such chip preset" + nearest_clause(s.chip, names));
}

namespace {
void check_expert_exchange(const ExpertExchange& x, int ranks) {
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  if (x.kind != CollKind::AllToAll) throw InputError("--tokens: an expert exchange is an all-to-all (kernel alltoall), not " + name(x.kind), "--tokens", "");
  if (x.algorithm != "auto" && x.algorithm != "deepep" && x.algorithm != "deepep-ll")
    throw InputError("--algo " + x.algorithm + ": --tokens runs DeepEP's kernels (expected deepep, deepep-ll or auto = deepep)", "--algo", x.algorithm);
  if (x.protocol != "auto") throw InputError("--proto " + x.protocol + ": DeepEP's kernels choose their own (expected auto)", "--proto", x.protocol);
  if (x.stage != "dispatch" && x.stage != "combine") throw InputError("--stage '" + x.stage + "': expected dispatch or combine", "--stage", x.stage);
  if (x.tokens <= 0) throw InputError("--tokens " + n(x.tokens) + ": expected a positive number of tokens per rank", "--tokens", n(x.tokens));
  const std::string needs = " (--tokens needs --hidden, --topk and --experts)";
  if (x.hidden <= 0) throw InputError("--hidden " + n(x.hidden) + ": expected a positive hidden size" + needs, "--hidden", n(x.hidden));
  if (x.experts <= 0 || x.experts % ranks != 0)
    throw InputError("--experts " + n(x.experts) + ": the experts must split over the " + std::to_string(ranks) +
                     " ranks (expected a positive multiple of " + std::to_string(ranks) + ")" + needs, "--experts", n(x.experts));
  if (x.topk < 1 || x.topk > x.experts)
    throw InputError("--topk " + n(x.topk) + ": expected 1 to " + n(x.experts) + " experts per token" + needs, "--topk", n(x.topk));
  if (x.groups < 1 || x.experts % x.groups != 0)
    throw InputError("--expert-groups " + n(x.groups) + ": expected a positive divisor of --experts " + n(x.experts), "--expert-groups", n(x.groups))
        .mentioning("--experts", n(x.experts));
  if (x.groups_per_token < 1 || x.groups_per_token > x.groups)
    throw InputError("--groups-per-token " + n(x.groups_per_token) + ": expected 1 to --expert-groups " + n(x.groups), "--groups-per-token", n(x.groups_per_token))
        .mentioning("--expert-groups", n(x.groups));
}
}  // namespace

CollectiveReport run_expert_exchange(const SystemSpec& sys, const ExpertExchange& x, SystemTrace* trace) {
  const int ranks = sys.ranks();
  check_expert_exchange(x, ranks);
  CollectiveRequest r;
  r.kind = CollKind::AllToAll;
  const bool combine = x.stage == "combine", low_latency = x.algorithm == "deepep-ll";
  r.expert = low_latency ? CollectiveRequest::Expert::LowLatency : CollectiveRequest::Expert::Normal;
  const std::int64_t token_bytes = expert_token_bytes(x.hidden, combine ? DType::bf16 : x.dtype);
  // As a model's step sizes them (add_moe): the busiest rank's routed rows (low-latency) or tokens (normal)
  // under the routing, with the step's draw unless it is `even`.
  const RouterShape router{x.experts, x.topk, x.groups, x.groups_per_token};
  const ExpertPlacement place = routed_placement(router, x.routing, ranks, 0, x.tokens * ranks);
  std::int64_t receive = 0;
  if (low_latency) {
    receive = place.max_rank_rows();
  } else {
    receive = normal_dispatch_receive(place, router, x.routing, 0, x.tokens * ranks);
    if (forwards_once_per_node(x.routing, x.experts, x.topk, sys.nodes))
      r.forwarded_bytes = normal_forwarded_bytes(x.tokens, token_bytes, x.experts, x.topk, sys.nodes, x.groups, x.groups_per_token);
  }
  r.bytes = whole_elements(r.kind, ranks, static_cast<std::uint64_t>(receive * token_bytes));
  CollectiveReport rep = run_collective(sys, r, trace);
  // Named after what runs it on this system (library.expert_dispatch) and its fabrics; the schedules are
  // DeepEP's normal or low-latency kernels' on every family.
  rep.dispatch = sys.expert_dispatch;
  rep.fabric = sys.fabric;
  rep.scale_out = sys.nic.type == "rdma" ? "RDMA" : "scale-out";
  rep.expert = sys.expert_dispatch + (low_latency ? " low-latency " : " normal ") + x.stage;
  rep.expert_tokens = x.tokens;
  rep.receive_tokens = receive;
  rep.token_bytes = token_bytes;
  return rep;
}

SystemSpec model_step_fabric(const SystemSpec& spec) {
  SystemSpec out = spec;
  if (out.in_graph_launch_latency.value() > 0) out.launch_latency = out.in_graph_launch_latency;
  return out;
}

StepResult run_system_graphs(const ChipModel& chip, const SystemContext& sys, const ModelConfig& m, const Scenario& s,
                             const RankSteps& steps, StepGraphStats* stats) {
  const Sharding sh = shard_weights(m, s);
  // Replicas that exchange nothing are folded to the first; data-parallel attention runs them all.
  const int simulated = s.dp_attention() ? s.devices() : s.tp * s.pp;
  std::vector<RankStep> ranks;
  for (int r = 0; r < simulated; ++r) {
    RankStep rs;
    rs.role = sh.roles[static_cast<size_t>(r)];
    rs.graph = steps.graph_of(rs.role);
    rs.alone = run_step_graph(chip, rs.graph, sh.rank_weight_bytes[static_cast<size_t>(r)], stats, !sys.fold);
    ranks.push_back(std::move(rs));
  }
  const int M = s.step_microbatches();
  const int iterations = steps.steady && s.pp > 1 ? 2 : 1;
  // Two-batch overlap: the two micro-batches interleave on each rank (one instance pair), their
  // collectives on the communication stream.
  const bool tbo = s.two_batch_overlap && s.pp == 1;  // then M == 2 (step_microbatches)
  WorkBuilder wb(s, simulated, hbm_per_rank(chip, simulated), sys.overlap || tbo,
                 [&](const OpSpec& op, const std::vector<int>& group) { return deepep_forwarded_bytes(sys.spec, m, s, op, group); });
  // A GPU's SMs are shared between kernels and the collectives' blocks running beside them.
  if (const int units = chip.collective_executors(); units > 0) wb.work().compute_units.assign(static_cast<size_t>(simulated), units);
  std::vector<size_t> end_of_first(static_cast<size_t>(simulated), 0);
  if (tbo) {
    for (const RankStep& rs : ranks) wb.add_graph(rs, {0, 1}, steps.max_repeats);
    for (int r = 0; r < simulated; ++r) end_of_first[static_cast<size_t>(r)] = wb.ops(r);
  }
  for (int it = 0; it < iterations && !tbo; ++it) {
    for (int mb = 0; mb < M; ++mb)
      for (const RankStep& rs : ranks) {
        const int r = rs.role.rank, inst = it * M + mb;
        const auto act_tag = static_cast<std::uint32_t>(2 * inst + 1), tok_tag = static_cast<std::uint32_t>(2 * inst + 2);
        if (it > 0 && rs.role.stage == 0) wb.recv(r, tok_tag - 2 * static_cast<std::uint32_t>(M));
        if (rs.role.stage > 0) wb.recv(r, act_tag);
        wb.add_graph(rs, {inst}, iterations == 1 && M == 1 ? steps.max_repeats : 0);
        const int next = next_stage_rank(s, r);
        if (next >= 0) wb.send(r, next, steps.stage_bytes, act_tag);
        else if (s.pp > 1 && it + 1 < iterations) wb.send(r, r - (s.pp - 1) * s.tp, steps.token_bytes, tok_tag);
      }
    if (it == 0)
      for (int r = 0; r < simulated; ++r) end_of_first[static_cast<size_t>(r)] = wb.ops(r);
  }
  const RuntimeResult rr = run_system(model_step_fabric(sys.spec), wb.work(), sys.trace);
  StepResult step;
  Tick first_end = 0;
  for (int r = 0; r < simulated; ++r)
    if (end_of_first[static_cast<size_t>(r)] > 0)
      first_end = std::max(first_end, rr.op_end[static_cast<size_t>(r)][end_of_first[static_cast<size_t>(r)] - 1]);
  step.time_s = iterations > 1 ? to_seconds(rr.end - first_end) : to_seconds(rr.end) + wb.skipped_s(rr);
  step.collectives = wb.timeline(rr, iterations > 1 ? end_of_first : std::vector<size_t>(end_of_first.size(), 0), iterations > 1 ? first_end : 0);
  for (StepCollective& c : step.collectives) c.at = step.time_s > 0 ? std::clamp(c.offset_s / step.time_s, 0.0, 1.0) : 0;
  const double replicas = s.dp_attention() ? 1.0 : s.dp;
  for (const RankStep& rs : ranks) {
    step.flops += rs.alone.flops * M * replicas;
    step.dram_bytes += rs.alone.dram_bytes * M * replicas;
    if (rs.role.tp != 0 || rs.role.dp != 0) continue;  // one rank per stage tells the breakdown
    const size_t r = static_cast<size_t>(rs.role.rank);
    auto nodes = timed_nodes(rs, rr, wb.node_of_op()[r], rr.algorithm, wb.work(), M, {0, end_of_first[r]});
    step.nodes.insert(step.nodes.end(), nodes.begin(), nodes.end());
  }
  // One device over the whole step: rank 0, or with stages the mean of the stages' devices (their
  // power and energy differ: the embedding on the first, the LM head on the last).
  // The collectives' payload through that device's memory (what each rank sends, read once, and receives,
  // written once; fabric.cpp counts it for the kernels' memory contention) draws the chip's energy per DRAM
  // byte too: without it a tensor-parallel step's collectives ran at static power alone, and the power
  // manager gave the step's other kernels their energy (a TP2 B200 decode step at 90% of the clock where
  // TP1 holds 78%). A lower bound: the reduction's read of the rank's own input and the output's write are
  // not counted. Per iteration: the runtime ran `iterations` of them.
  const double runs = tbo ? 1.0 : static_cast<double>(iterations);
  for (const RankStep& rs : ranks)
    if (rs.role.tp == 0 && rs.role.dp == 0) {
      step.events += rs.alone.events.scaled(static_cast<double>(M) / s.pp);
      const size_t r = static_cast<size_t>(rs.role.rank);
      if (r < rr.memory_bytes.size()) step.events.dram_bytes += rr.memory_bytes[r] / runs / s.pp;
    }
  step.events.time_s = step.time_s;
  step.devices = s.devices();
  step.comm_pieces = rr.pieces;
  return step;
}

StepResult run_system_step(const ChipModel& chip, const SystemContext& sys, const ModelConfig& m, const Scenario& s,
                           const StepPlan& plan, const FusionPolicy& fusion, StepGraphStats* stats) {
  const int M = s.step_microbatches();
  const std::int64_t tokens = (plan.decode ? 1 : s.input_len) * (s.rank_batch() / M);
  RankSteps steps;
  steps.graph_of = [&](const RankRole& role) { return build_step_graph(m, s, plan.decode, plan.context_len, fusion, role.part); };
  steps.steady = plan.decode;
  steps.stage_bytes = static_cast<std::uint64_t>(tokens * m.hidden * 2);     // bf16 hidden states between stages
  steps.token_bytes = static_cast<std::uint64_t>(s.rank_batch() / M * 4);  // sampled token ids back to stage 0
  return run_system_graphs(chip, sys, m, s, steps, stats);
}

CommBufferParams comm_buffer_params(const SystemSpec& sys) {
  CommBufferParams p;
  if (sys.ranks() <= 1) return p;
  p.bytes_per_connection = sys.chunk_bytes.value() * sys.slots;
  p.channels = sys.channels;
  p.p2p_channels = sys.p2p_channels;
  return p;
}

}  // namespace xpu

namespace xpu {

namespace {
SystemSpec leading_block(const Topology& full, int chips) {
  std::vector<int> group;
  for (int r = 0; r < chips; ++r) group.push_back(r);
  return group_system(full, group).spec;
}
}  // namespace

SystemSpec leading_block(const SystemSpec& s, int chips) { return leading_block(Topology(s), chips); }

std::string block_counts(const SystemSpec& s) {
  // Ranges of consecutive counts that form a block, e.g. "1, 2, 4, 8" or "1-8, 16".
  const Topology full(s);
  std::string ok;
  for (int n = 1, first = 0; n <= s.ranks() + 1; ++n) {
    bool fits = n <= s.ranks();
    if (fits) try {
        leading_block(full, n);
      } catch (const InputError&) {
        fits = false;
      }
    if (fits && first == 0) first = n;
    if (!fits && first > 0) {
      const int last = n - 1;
      ok += (ok.empty() ? "" : ", ") + std::to_string(first) +
            (last > first ? (last == first + 1 ? ", " : "-") + std::to_string(last) : "");
      first = 0;
    }
  }
  return ok;
}

std::optional<SystemSpec> resolve_system(const std::string& chip_name, const SystemChoice& c) {
  if (c.devices < 0 || c.nodes < 0)
    throw InputError(std::string(c.devices < 0 ? "--devices " : "--nodes ") + std::to_string(c.devices < 0 ? c.devices : c.nodes) +
                     ": expected a positive number of chips or nodes (0: none given)",
                     c.devices < 0 ? "--devices" : "--nodes", std::to_string(c.devices < 0 ? c.devices : c.nodes));
  if (!c.system.empty()) {
    if (c.devices > 0)
      throw InputError("--devices " + std::to_string(c.devices) + " with --system " + c.system +
                       ": give one of them (a system preset fixes its chips; --devices picks a chip's default system)", "--devices", std::to_string(c.devices))
          .mentioning("--system", c.system);
    return resolving("--system", c.system, [&] { return load_system(c.system, c.sets, c.nodes); });
  }
  if (c.nodes > 0) throw InputError("--nodes " + std::to_string(c.nodes) + " needs --system (a node system to replicate)", "--nodes", std::to_string(c.nodes))
                         .mentioning("--system", "");
  if (c.devices <= 0 && !c.sets.empty())
    throw InputError("--set " + c.sets.front().substr(0, c.sets.front().find('=')) +
                     ": a field of a system preset (xpusim params system), but this runs on one chip (give --system S, or "
                     "--devices N with --chip)", "--set", c.sets.front().substr(0, c.sets.front().find('=')));
  if (c.devices <= 0) return std::nullopt;
  if (c.devices > kMaxSystemChips)
    throw InputError("--devices " + std::to_string(c.devices) + " is more than " + std::to_string(kMaxSystemChips) +
                     ", the most chips of one simulated system", "--devices", std::to_string(c.devices));
  // The chip's smallest shipped system with at least that many chips; if none has enough, its largest
  // (replicated over the scale-out network below).
  auto better = [&](const SystemSpec& a, const SystemSpec& b) {
    const bool a_fits = a.ranks() >= c.devices, b_fits = b.ranks() >= c.devices;
    if (a_fits != b_fits) return a_fits;
    return a_fits ? a.ranks() < b.ranks() : a.ranks() > b.ranks();
  };
  std::optional<SystemSpec> best;
  for (const SystemSpec& s : model_systems())
    if (s.chip == chip_name && (!best || better(s, *best))) best = s;
  if (!best) throw InputError("--devices " + std::to_string(c.devices) + ": no shipped system has " + chip_name + " chips (xpusim list systems)", "--devices", std::to_string(c.devices));
  SystemSpec s = *best;
  if (!c.sets.empty()) {  // the overrides on the chosen preset, which keeps the name users type
    s = load_system(best->file, c.sets);
    s.name = best->name;
  }
  if (c.devices == s.ranks()) return s;
  if (c.devices > s.ranks()) {
    if (s.network == "none" || c.devices % s.chips != 0)
      throw InputError("--devices " + std::to_string(c.devices) + ": " + chip_name + "'s largest system " + s.name + " has " +
                       std::to_string(s.ranks()) + " chips" +
                       (s.network == "none" ? " and no scale-out network" : " per node (expected a multiple of " + std::to_string(s.chips) + ")"), "--devices", std::to_string(c.devices));
    SystemSpec nodes = load_system(best->file, c.sets, c.devices / s.chips);
    nodes.name = s.name;
    return nodes;
  }
  try {
    SystemSpec sub = leading_block(s, c.devices);
    sub.name = s.name + "[" + std::to_string(c.devices) + "]";
    return sub;
  } catch (const InputError&) {
    const std::string ok = block_counts(s);
    throw InputError("--devices " + std::to_string(c.devices) + ": " + chip_name + "'s smallest system of at least that many chips, " +
                     s.name + " (" + std::to_string(s.ranks()) + " chips), has no block of " + std::to_string(c.devices) + " chips (expected " + ok +
                     (s.network != "none" ? ", or a multiple of " + std::to_string(s.chips) + " over its scale-out network" : "") + ")", "--devices", std::to_string(c.devices));
  }
}

}  // namespace xpu
