#include "sim/interconnect/fabric.h"

#include <algorithm>
#include <unordered_map>
#include <queue>
#include <tuple>

#include "sim/engine/chip.h"
#include "sim/engine/named_registry.h"

namespace xpu {

void register_serial_link();
void register_rdma_nic();
void register_crossbar_switch();
void register_nvls_switch();

namespace {
void register_builtin_components() {
  static bool done = false;
  if (done) return;
  done = true;
  register_serial_link();
  register_rdma_nic();
  register_crossbar_switch();
  register_nvls_switch();
}
}  // namespace

std::unique_ptr<ILink> make_link(const std::string& type, const std::string& name, const LinkSpec& spec,
                                 Seconds extra_latency) {
  register_builtin_components();
  return NamedRegistry<ILink, std::string, LinkSpec, Seconds>::make("link type", type, name, spec, extra_latency);
}

std::unique_ptr<ISwitch> make_switch(const std::string& type, const SwitchSpec& spec, int ports) {
  register_builtin_components();
  return NamedRegistry<ISwitch, SwitchSpec, int>::make("switch type", type, spec, ports);
}

// The executor's state: per-op dependency counters, message matching, and a time-ordered event queue.
struct Fabric::Impl {
  enum class Ev : std::uint8_t { Start, Piece, Deliver, Complete };
  struct Event {
    Tick t;
    std::uint64_t seq;
    Ev kind;
    int v;
    std::uint32_t op;
    std::uint32_t piece;
    int peer;
    bool operator>(const Event& o) const { return std::tie(t, seq) > std::tie(o.t, o.seq); }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue;
  std::uint64_t seq = 0;
  std::vector<std::vector<std::uint32_t>> remaining;            // unmet dependencies per op
  std::vector<std::vector<Tick>> ready;                         // latest dependency completion
  std::vector<std::vector<std::vector<std::uint32_t>>> users;   // dependents per op
  std::vector<std::vector<Tick>> delivered;                     // Send: latest delivery so far
  using Key = std::tuple<int, int, std::uint32_t>;              // src, dst, tag
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::uint64_t>()((static_cast<std::uint64_t>(std::get<0>(k)) << 44) ^
                                        (static_cast<std::uint64_t>(std::get<1>(k)) << 24) ^ std::get<2>(k));
    }
  };
  std::unordered_map<Key, Tick, KeyHash> arrived;
  std::unordered_map<Key, std::pair<int, std::uint32_t>, KeyHash> waiting;
  // Device memory shared by kernels and collective traffic: payload bytes through each vertex so far,
  // the count when each running kernel started, and whether a kernel has already been stretched.
  std::vector<double> port_bytes;
  std::vector<std::vector<double>> port_at_start;
  std::vector<std::vector<char>> stretched;
  void push(Tick t, Ev k, int v, std::uint32_t op, std::uint32_t piece = 0, int peer = -1) {
    queue.push({t, seq++, k, v, op, piece, peer});
  }
};

Fabric::Fabric(sc_core::sc_module_name name, const Topology& topo, const CommProgram& prog)
    : sc_core::sc_module(name), m_topo(topo), m_prog(prog), m_impl(std::make_unique<Impl>()) {
  for (size_t l = 0; l < topo.links().size(); ++l) {
    const Link& k = topo.links()[l];
    m_links.push_back(make_link(k.spec->type, topo.link_name(static_cast<int>(l)), *k.spec, k.extra_latency));
  }
  for (const auto& v : topo.vertices())
    m_switches.push_back(v.kind == Vertex::Kind::Switch && v.sw && v.sw->type != "none"
                             ? make_switch(v.sw->type, *v.sw, topo.ranks())
                             : nullptr);
  SC_THREAD(guarded_run);
}

Fabric::~Fabric() = default;

void Fabric::run() {
  Impl& s = *m_impl;
  const auto& ops = m_prog.ops;
  size_t nv = ops.size();
  s.remaining.resize(nv);
  s.ready.resize(nv);
  s.users.resize(nv);
  s.delivered.resize(nv);
  m_vertex_end.assign(nv, 0);
  m_stretch.assign(nv, 0);
  s.port_bytes.assign(nv, 0.0);
  s.port_at_start.resize(nv);
  s.stretched.resize(nv);
  if (m_prog.record_times) {
    m_op_start.resize(nv);
    m_op_end.resize(nv);
  }
  for (size_t v = 0; v < nv; ++v) {
    size_t n = ops[v].size();
    if (m_prog.record_times) {
      m_op_start[v].assign(n, 0);
      m_op_end[v].assign(n, 0);
    }
    s.remaining[v].assign(n, 0);
    s.ready[v].assign(n, 0);
    s.users[v].assign(n, {});
    s.delivered[v].assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
      s.remaining[v][i] = static_cast<std::uint32_t>(ops[v][i].deps.size());
      for (auto d : ops[v][i].deps) s.users[v][d].push_back(static_cast<std::uint32_t>(i));
      if (ops[v][i].deps.empty()) s.push(ops[v][i].delay, Impl::Ev::Start, static_cast<int>(v), static_cast<std::uint32_t>(i));
    }
  }
  while (!s.queue.empty()) {
    Impl::Event e = s.queue.top();
    s.queue.pop();
    Tick now = now_ticks();
    if (e.t > now) {
      wait(sc_core::sc_time(static_cast<double>(e.t - now), sc_core::SC_PS));
      now = e.t;
    }
    const CommOp& op = ops[static_cast<size_t>(e.v)][e.op];
    switch (e.kind) {
      case Impl::Ev::Start:
        if (m_prog.record_times) m_op_start[static_cast<size_t>(e.v)][e.op] = now;
        if (op.kind == CommOp::Kind::Compute) {
          auto& at = s.port_at_start[static_cast<size_t>(e.v)];
          if (at.empty()) at.assign(ops[static_cast<size_t>(e.v)].size(), 0.0);
          at[e.op] = s.port_bytes[static_cast<size_t>(e.v)];
          s.push(now + op.work, Impl::Ev::Complete, e.v, e.op);
        } else if (op.kind == CommOp::Kind::Send) {
          s.push(now, Impl::Ev::Piece, e.v, e.op, 0);
        } else if (op.kind == CommOp::Kind::Recv) {
          Impl::Key k{op.peers.at(0), e.v, op.tag};
          auto it = s.arrived.find(k);
          if (it != s.arrived.end()) {
            s.push(std::max(now, it->second), Impl::Ev::Complete, e.v, e.op);
            s.arrived.erase(it);
          } else {
            s.waiting[k] = {e.v, e.op};
          }
        } else {  // Reduce: in the switch's engine for the output port named by peers[0]
          ISwitch* sw = m_switches[static_cast<size_t>(e.v)].get();
          Tick end = sw && sw->reduces() ? sw->reduce(now, static_cast<double>(op.bytes), op.peers.at(0), now) : now;
          s.push(end, Impl::Ev::Complete, e.v, e.op);
        }
        break;
      case Impl::Ev::Piece:
        send_piece(e.v, e.op, e.piece, now);
        break;
      case Impl::Ev::Deliver: {
        Impl::Key k{e.v, e.peer, op.tag};
        auto it = s.waiting.find(k);
        if (it != s.waiting.end()) {
          s.push(now, Impl::Ev::Complete, it->second.first, it->second.second);
          s.waiting.erase(it);
        } else {
          s.arrived[k] = now;
        }
        break;
      }
      case Impl::Ev::Complete:
        if (op.kind == CommOp::Kind::Compute && stretch_kernel(e.v, e.op, now)) break;
        if (m_prog.record_times) m_op_end[static_cast<size_t>(e.v)][e.op] = now;
        m_end = std::max(m_end, now);
        m_vertex_end[static_cast<size_t>(e.v)] = std::max(m_vertex_end[static_cast<size_t>(e.v)], now);
        for (auto u : s.users[static_cast<size_t>(e.v)][e.op]) {
          Tick& r = s.ready[static_cast<size_t>(e.v)][u];
          r = std::max(r, now);
          if (--s.remaining[static_cast<size_t>(e.v)][u] == 0)
            s.push(r + ops[static_cast<size_t>(e.v)][u].delay, Impl::Ev::Start, e.v, u);
        }
        break;
    }
  }
  if (!s.waiting.empty()) {
    const auto& [k, w] = *s.waiting.begin();
    m_error = ("collective program deadlocked: " + m_topo.vertices()[static_cast<size_t>(w.first)].name +
                           " waits for tag " + std::to_string(std::get<2>(k)) + " from " +
                           m_topo.vertices()[static_cast<size_t>(std::get<0>(k))].name);
  }
  m_finished = true;
  sc_core::sc_stop();
}

// One piece of a Send: serialized on every link of its route to each destination, cut-through.
void Fabric::send_piece(int v, std::uint32_t op_index, std::uint32_t piece, Tick now) {
  Impl& s = *m_impl;
  const CommOp& op = m_prog.ops[static_cast<size_t>(v)][op_index];
  const double kPieceFloorBytes = 64 * 1024;  // smallest piece: a fraction of any library's buffer slot
  double total = static_cast<double>(op.bytes) * (op.wire_factor > 0 ? op.wire_factor : m_prog.wire_factor);
  double granule = std::max<double>(static_cast<double>(m_topo.spec().chunk_bytes.value()), kPieceFloorBytes);
  std::uint32_t pieces = static_cast<std::uint32_t>(std::clamp(std::ceil(total / granule), 1.0, 64.0));
  double bytes = total / pieces;
  const double payload = static_cast<double>(op.bytes) / pieces;
  s.port_bytes[static_cast<size_t>(v)] += payload;  // read once, even when multicast
  Tick next = -1;
  for (int dst : op.peers) {
    const std::vector<int>& path = m_topo.route(v, dst);
    Tick head = now, tail = 0;
    if (piece == 0)
      for (int l : path) head += m_links[static_cast<size_t>(l)]->message_overhead();
    for (size_t h = 0; h < path.size(); ++h) {
      ILink& link = *m_links[static_cast<size_t>(path[h])];
      Tick end = link.carry(head, tail, bytes, now);
      ++m_pieces;
      if (h == 0) next = next < 0 ? end : std::min(next, end);
      head = end - link.serialize(bytes) + link.latency();
      tail = end + link.latency();
    }
    if (path.empty()) tail = now;
    else if (piece + 1 == pieces) tail += m_links[static_cast<size_t>(path.back())]->receive_overhead(total);
    s.port_bytes[static_cast<size_t>(dst)] += payload;
    Tick& d = s.delivered[static_cast<size_t>(v)][op_index];
    d = std::max(d, tail);
    if (piece + 1 == pieces) s.push(d, Impl::Ev::Deliver, v, op_index, 0, dst);
  }
  if (piece + 1 < pieces) s.push(std::max(next, now), Impl::Ev::Piece, v, op_index, piece + 1);
  else s.push(s.delivered[static_cast<size_t>(v)][op_index], Impl::Ev::Complete, v, op_index);
}

// A kernel and the collective traffic through its chip's memory during it share one memory
// bandwidth B: the kernel cannot end before (its own bytes + the collectives' bytes) / B has passed
// since it started. Compute-bound kernels absorb the traffic in their memory slack; memory-bound
// ones stretch by it. Decided once, at the kernel's nominal end (traffic arriving in the stretch
// itself is not charged again).
bool Fabric::stretch_kernel(int v, std::uint32_t op_index, Tick now) {
  Impl& s = *m_impl;
  const size_t vi = static_cast<size_t>(v);
  const double B = vi < m_prog.hbm_Bps.size() ? m_prog.hbm_Bps[vi] : 0.0;
  if (B <= 0) return false;
  auto& done = s.stretched[vi];
  if (done.empty()) done.assign(m_prog.ops[vi].size(), 0);
  if (done[op_index]) return false;
  done[op_index] = 1;
  const CommOp& op = m_prog.ops[vi][op_index];
  const double traffic = s.port_bytes[vi] - s.port_at_start[vi][op_index];
  if (traffic <= 0) return false;
  const Tick need = transfer_ticks(op.hbm_bytes + traffic, B);
  if (need <= op.work) return false;
  m_stretch[vi] += need - op.work;
  s.push(now + (need - op.work), Impl::Ev::Complete, v, op_index);
  return true;
}

FabricResult Fabric::result() const {
  FabricResult r;
  r.end = m_end;
  r.vertex_end = m_vertex_end;
  r.pieces = m_pieces;
  r.op_start = m_op_start;
  r.op_end = m_op_end;
  r.stretch = m_stretch;
  double total = to_seconds(m_end);
  for (size_t l = 0; l < m_links.size(); ++l) {
    r.link_busy.push_back(m_links[l]->busy_ticks());
    r.link_bytes.push_back(m_links[l]->bytes());
    const std::string n = "top.fabric." + m_links[l]->name();
    r.stats.set(n + ".busy_s", to_seconds(m_links[l]->busy_ticks()), "s", "time the link serialized data");
    r.stats.set(n + ".bytes", m_links[l]->bytes(), "B", "wire bytes carried (payload x protocol framing)");
    if (total > 0)
      r.stats.set(n + ".utilization", to_seconds(m_links[l]->busy_ticks()) / total, "ratio",
                  "busy share of the collective's time");
  }
  for (const auto& sw : m_switches)
    if (sw) r.reduce_busy += sw->reduce_busy_ticks();
  r.stats.set("top.fabric.switch.reduce_busy_s", to_seconds(r.reduce_busy), "s",
              "busy time of all in-network reduction engines");
  return r;
}

FabricResult simulate_collective(const Topology& topo, const CommProgram& prog) {
  fresh_systemc_kernel();
  Fabric fabric("fabric", topo, prog);
  run_kernel(&fabric.guard());
  if (!fabric.error().empty()) throw std::logic_error(fabric.error());
  if (!fabric.finished()) throw std::logic_error("collective simulation stopped before its programs finished");
  return fabric.result();
}

}  // namespace xpu
