#include "sim/interconnect/fabric.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include "sim/engine/chip.h"
#include "sim/engine/named_registry.h"
#include "sim/engine/side_kernel.h"
#include "sim/interconnect/message_map.h"

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

// An expanded part: its operations (peers, tags and dependencies in the system's terms) and their
// state: unmet dependencies, dependents, latest dependency completion, deliveries, memory traffic.
// Flat arrays (an operation's peers, dependencies and dependents are ranges of one array each, its
// state one record), reused from part to part: a copy of every CommOp with its two vectors, and a
// vector of dependents per operation, made the allocator a fifth of a large system step's time.
struct Fabric::Live {
  struct Op {  // a CommOp in the system's terms
    Tick delay = 0, work = 0;
    std::uint64_t bytes = 0;
    double hbm_bytes = 0;
    std::uint32_t tag = 0;
    float wire_factor = 0;
    std::uint16_t messages = 0;                 // CommOp::messages
    std::uint32_t peer_at = 0, peer_count = 0;  // Live::peers
    std::uint32_t dep_at = 0, dep_count = 0;    // Live::deps
    CommOp::Kind kind = CommOp::Kind::Send;
    int peer(std::uint32_t i, const Live& l) const {
      if (i >= peer_count) throw std::out_of_range("fabric: operation without peer " + std::to_string(i));
      return l.peers[peer_at + i];
    }
  };
  struct State {
    Tick ready = 0, delivered = 0;
    double port_at_start = 0;   // the vertex's memory traffic when the kernel started
    double units_at_start = 0;  // the vertex's collectives' unit-ticks when the kernel started
    std::uint32_t remaining = 0;
    char stretched = 0;         // a kernel has already been stretched by that traffic
  };
  std::vector<Op> ops;
  std::vector<int> peers;
  std::vector<std::uint32_t> deps;
  std::vector<std::uint32_t> user_at, users;  // operation i's dependents: users[user_at[i] .. user_at[i + 1])
  std::vector<State> state;
  std::vector<Tick> start, end;       // with PartProgram::record_op_times
  // On a reducing switch: when each receive's first piece arrived, when each other operation ended
  // (a reduction streams from its inputs' first pieces on).
  std::vector<Tick> first;
  std::uint32_t done = 0;
  double engine_Bps = 0;  // CommPart::engine_Bps: its sends' engine rate (0: the system's)
  void clear() {
    ops.clear(), peers.clear(), deps.clear(), user_at.clear(), users.clear(), state.clear();
    start.clear(), end.clear(), first.clear();
    done = 0;
    engine_Bps = 0;
  }
  // Appends `o` (peers and dependencies as given) and returns it.
  Op& add(const CommOp& o) {
    Op& x = ops.emplace_back();
    x.delay = o.delay, x.work = o.work, x.bytes = o.bytes, x.hbm_bytes = o.hbm_bytes;
    x.tag = o.tag, x.wire_factor = o.wire_factor, x.messages = o.messages, x.kind = o.kind;
    x.peer_at = static_cast<std::uint32_t>(peers.size());
    x.peer_count = static_cast<std::uint32_t>(o.peers.size());
    peers.insert(peers.end(), o.peers.begin(), o.peers.end());
    x.dep_at = static_cast<std::uint32_t>(deps.size());
    x.dep_count = static_cast<std::uint32_t>(o.deps.size());
    deps.insert(deps.end(), o.deps.begin(), o.deps.end());
    return x;
  }
  Op& add_marker() {
    Op& x = ops.emplace_back();
    x.kind = CommOp::Kind::Compute;
    x.peer_at = static_cast<std::uint32_t>(peers.size());
    x.dep_at = static_cast<std::uint32_t>(deps.size());
    return x;
  }
  const std::uint32_t* deps_of(std::uint32_t i) const { return deps.data() + ops[i].dep_at; }
};

// The executor's state: per-part dependency counters, expanded parts, message matching, and a
// time-ordered event queue: events pushed for the current time in a FIFO beside the heap (most are:
// a send's first piece, a delivery's completion, a start without delay). They pop in the heap's order
// (time, then push order): a heap event of the current time was pushed before the clock reached it,
// so before every FIFO event. The executor keeps its own clock (no SystemC wait per event time: the
// fabric is the side kernel's only process; run() waits once, to the end, before it stops).
struct Fabric::Impl {
  enum class Ev : std::uint8_t { Start, Piece, Deliver, Complete };
  struct Event {
    Tick t;
    std::uint64_t seq;
    Ev kind;
    int v;
    std::uint32_t part;
    std::uint32_t op;
    std::uint32_t piece;  // Piece: its index; Deliver: the Send's tag
    int peer;
    bool operator<(const Event& o) const { return t != o.t ? t < o.t : seq < o.seq; }
  };
  // A 4-ary min-heap of events by (time, push order): half the levels of a binary heap, so fewer
  // cache lines per push and pop; (time, seq) is a total order, so any heap pops the same sequence.
  struct EventHeap {
    std::vector<Event> h;
    bool empty() const { return h.empty(); }
    const Event& top() const { return h.front(); }
    void push(const Event& e) {
      size_t i = h.size();
      h.push_back(e);
      while (i > 0) {
        const size_t p = (i - 1) / 4;
        if (!(e < h[p])) break;
        h[i] = h[p];
        i = p;
      }
      h[i] = e;
    }
    void pop() {
      const Event last = h.back();
      h.pop_back();
      const size_t n = h.size();
      if (n == 0) return;
      size_t i = 0;
      for (;;) {
        const size_t c = 4 * i + 1;
        if (c >= n) break;
        size_t best = c;
        for (size_t k = c + 1, end = std::min(c + 4, n); k < end; ++k)
          if (h[k] < h[best]) best = k;
        if (!(h[best] < last)) break;
        h[i] = h[best];
        i = best;
      }
      h[i] = last;
    }
  };
  struct Vertex {
    std::vector<std::uint32_t> remaining;          // per part: unmet dependencies
    std::vector<Tick> ready;                       // per part: latest dependency completion
    std::vector<std::vector<std::uint32_t>> users; // per part: later parts that wait for its end
    std::vector<std::unique_ptr<Live>> live;       // per part: expanded while it runs
  };
  EventHeap queue;
  std::vector<Event> current;  // events pushed for time `clock`, in push order
  size_t current_at = 0;       // the next of them to pop
  Tick clock = 0;
  std::uint64_t seq = 0;
  std::vector<Vertex> vertices;
  using Key = MessageKey;  // src, dst, tag
  struct Waiter {
    int v = 0;
    std::uint32_t part = 0, op = 0;
  };
  MessageMap<Tick> arrived;
  MessageMap<Tick> first_arrived;  // to a reducing switch: a message's first piece
  MessageMap<Waiter> waiting;
  std::vector<std::unique_ptr<Live>> spare;  // finished parts' arrays, kept for the next expansion (at most kSpareParts)
  std::vector<std::uint32_t> fill;           // expand's cursor per operation
  std::unordered_map<std::int32_t, std::vector<std::pair<int, std::uint32_t>>> deferred;  // call -> Plain parts
  // Device memory shared by kernels and collective traffic: payload bytes through each vertex so far.
  std::vector<double> port_bytes;
  // Per vertex: when its collective engine is free again (SystemSpec::engine_bandwidth).
  std::vector<Tick> engine_free;
  // Per vertex: compute units its running collectives hold, and their integral over time (unit-ticks)
  // up to `units_last`.
  std::vector<double> units_active, units_time;
  std::vector<Tick> units_last;
  double units_at(size_t v, Tick now) const {
    return units_time[v] + units_active[v] * static_cast<double>(now - units_last[v]);
  }
  void units_change(size_t v, Tick now, double delta) {
    units_time[v] = units_at(v, now);
    units_last[v] = now;
    units_active[v] += delta;
  }
  void push(Tick t, Ev k, int v, std::uint32_t part, std::uint32_t op, std::uint32_t piece = 0, int peer = -1) {
    if (t == clock) current.push_back({t, seq++, k, v, part, op, piece, peer});
    else queue.push({t, seq++, k, v, part, op, piece, peer});
  }
  // The next event in (time, push order), or false when none is left.
  bool pop(Event& e) {
    if (!queue.empty() && (queue.top().t <= clock || current_at == current.size())) {
      e = queue.top();
      queue.pop();
      return true;
    }
    if (current_at == current.size()) return false;
    e = current[current_at++];
    if (current_at == current.size()) current.clear(), current_at = 0;
    return true;
  }
};

namespace {
// Compute units a part holds on its vertex from its start to its end: a collective's kernel's.
float held_units(const CommPart& p) { return p.form == CommPart::Form::Collective ? p.units : 0.0f; }
}  // namespace

namespace {
PartProgram flat_parts(const CommProgram& prog) {
  PartProgram p;
  p.wire_factor = prog.wire_factor;
  p.hbm_Bps = prog.hbm_Bps;
  p.record_op_times = prog.record_times;
  p.parts.resize(prog.ops.size());
  for (size_t v = 0; v < prog.ops.size(); ++v) {
    CommPart part;
    part.form = CommPart::Form::Plain;
    part.sub = &prog.ops[v];
    p.parts[v].push_back(std::move(part));
  }
  return p;
}
}  // namespace

Fabric::Fabric(sc_core::sc_module_name name, const Topology& topo, const CommProgram& prog)
    : sc_core::sc_module(name), m_topo(topo), m_flat(flat_parts(prog)), m_prog(m_flat), m_impl(std::make_unique<Impl>()) {
  build();
}

Fabric::Fabric(sc_core::sc_module_name name, const Topology& topo, const PartProgram& prog)
    : sc_core::sc_module(name), m_topo(topo), m_prog(prog), m_impl(std::make_unique<Impl>()) {
  build();
}

void Fabric::build() {
  for (size_t l = 0; l < m_topo.links().size(); ++l) {
    const Link& k = m_topo.links()[l];
    m_links.push_back(make_link(k.spec->type, m_topo.link_name(static_cast<int>(l)), *k.spec, k.extra_latency));
  }
  for (const auto& v : m_topo.vertices())
    m_switches.push_back(v.kind == Vertex::Kind::Switch && v.sw && v.sw->type != "none"
                             ? make_switch(v.sw->type, *v.sw, m_topo.ranks())
                             : nullptr);
  SC_THREAD(guarded_run);
}

Fabric::~Fabric() = default;

// A part's operations in the system's terms (as one list of the vertex would hold them), with their
// dependency counters and dependents.
Fabric::Live& Fabric::expand(int v, std::uint32_t part) {
  Impl& s = *m_impl;
  const CommPart& p = m_prog.parts[static_cast<size_t>(v)][part];
  std::unique_ptr<Live> live;
  if (!s.spare.empty()) {
    live = std::move(s.spare.back());
    s.spare.pop_back();
    live->clear();
  } else {
    live = std::make_unique<Live>();
  }
  Live& l = *live;
  l.engine_Bps = p.engine_Bps;
  if (p.form == CommPart::Form::Op) {
    Live::Op& x = l.add(p.op);
    l.deps.resize(x.dep_at);  // its dependencies are the part's
    x.dep_count = 0;
  } else {
    const bool coll = p.form == CommPart::Form::Collective;
    const auto base = static_cast<std::uint32_t>(coll ? 1 : 0);
    l.ops.reserve(p.sub->size() + 2 * base);
    if (coll) l.add_marker().delay = p.op.delay;  // launch marker, after the part's delay
    for (const CommOp& o : *p.sub) {
      Live::Op& c = l.add(o);
      if (p.vertex_map)
        for (std::uint32_t i = 0; i < c.peer_count; ++i) {
          int& q = l.peers[c.peer_at + i];
          q = (*p.vertex_map)[static_cast<size_t>(q)];
        }
      if (c.kind != CommOp::Kind::Reduce) c.tag = o.tag + p.tag_base;
      for (std::uint32_t i = 0; i < c.dep_count; ++i) l.deps[c.dep_at + i] += base;
      if (c.dep_count == 0 && coll) l.deps.push_back(0), c.dep_count = 1;
      if (c.kind == CommOp::Kind::Send && p.wire_factor > 0) c.wire_factor = p.wire_factor;
    }
    if (coll) {  // end marker: after every operation and the launch
      Live::Op& m = l.add_marker();
      const auto n = static_cast<std::uint32_t>(l.ops.size());
      for (std::uint32_t i = 1; i + 1 < n; ++i) l.deps.push_back(i);
      l.deps.push_back(0);
      m.dep_count = n - 1;
    }
  }
  const size_t n = l.ops.size();
  l.state.assign(n, Live::State{});
  if (reducing(v)) l.first.assign(n, 0);
  if (m_prog.record_op_times) {
    l.start.assign(n, 0);
    l.end.assign(n, 0);
  }
  // Dependents in the order the operations name them (operation order, then dependency order).
  l.user_at.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    const Live::Op& o = l.ops[i];
    l.state[i].remaining = o.dep_count;
    for (std::uint32_t k = 0; k < o.dep_count; ++k) ++l.user_at[l.deps[o.dep_at + k] + 1];
  }
  for (size_t i = 0; i < n; ++i) l.user_at[i + 1] += l.user_at[i];
  l.users.resize(l.user_at[n]);
  std::vector<std::uint32_t>& fill = s.fill;
  fill.assign(l.user_at.begin(), l.user_at.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    const Live::Op& o = l.ops[i];
    for (std::uint32_t k = 0; k < o.dep_count; ++k) l.users[fill[l.deps[o.dep_at + k]]++] = static_cast<std::uint32_t>(i);
  }
  auto& slot = s.vertices[static_cast<size_t>(v)].live[part];
  slot = std::move(live);
  if (p.form == CommPart::Form::Collective && p.call >= 0) expand_deferred(p.call);
  return *slot;
}

namespace {
// A Plain part whose operations without a dependency only wait for messages: posting them when its
// call launches, before any of the call's messages exists, matches posting them at the start.
bool waits_for_messages(const CommPart& p) {
  if (p.form != CommPart::Form::Plain || p.call < 0) return false;
  for (const CommOp& o : *p.sub)
    if (o.deps.empty() && o.kind != CommOp::Kind::Recv) return false;
  return true;
}
}  // namespace

// The Plain parts of `call` (switches' shares) that waited for its first launch.
void Fabric::expand_deferred(std::int32_t call) {
  Impl& s = *m_impl;
  auto it = s.deferred.find(call);
  if (it == s.deferred.end()) return;
  const auto parts = std::move(it->second);
  s.deferred.erase(it);
  for (const auto& [w, q] : parts) {
    Live& l = expand(w, q);
    for (size_t i = 0; i < l.ops.size(); ++i)
      if (l.state[i].remaining == 0)
        s.push(std::max(s.clock, l.ops[i].delay), Impl::Ev::Start, w, q, static_cast<std::uint32_t>(i));
  }
}

// Dependency counters of every part; parts without a dependency expand and start (Plain parts: each
// operation without a dependency), in vertex and program order.
void Fabric::start_parts() {
  Impl& s = *m_impl;
  const size_t nv = m_prog.parts.size();
  s.vertices.resize(nv);
  m_part_start.resize(nv);
  m_part_end.resize(nv);
  for (size_t v = 0; v < nv; ++v) {
    const auto& parts = m_prog.parts[v];
    Impl::Vertex& x = s.vertices[v];
    x.remaining.resize(parts.size());
    x.ready.assign(parts.size(), 0);
    x.users.resize(parts.size());
    x.live.resize(parts.size());
    m_part_start[v].assign(parts.size(), 0);
    m_part_end[v].assign(parts.size(), 0);
    for (size_t p = 0; p < parts.size(); ++p) {
      x.remaining[p] = static_cast<std::uint32_t>(parts[p].deps.size());
      for (auto d : parts[p].deps) x.users.at(d).push_back(static_cast<std::uint32_t>(p));
      // Every vertex's deferred parts first: a call's Collective part without a dependency (one that launches
      // after its delay alone) expands below, on a vertex before its switches'.
      if (waits_for_messages(parts[p])) s.deferred[parts[p].call].emplace_back(static_cast<int>(v), static_cast<std::uint32_t>(p));
    }
  }
  for (size_t v = 0; v < nv; ++v) {
    const auto& parts = m_prog.parts[v];
    for (size_t p = 0; p < parts.size(); ++p) {
      const auto part = static_cast<std::uint32_t>(p);
      if (waits_for_messages(parts[p])) {
        continue;
      } else if (parts[p].form == CommPart::Form::Plain) {
        Live& l = expand(static_cast<int>(v), part);
        for (size_t i = 0; i < l.ops.size(); ++i)
          if (l.state[i].remaining == 0) s.push(l.ops[i].delay, Impl::Ev::Start, static_cast<int>(v), part, static_cast<std::uint32_t>(i));
      } else if (parts[p].deps.empty()) {
        // A part that launches after its delay alone expands when it launches (run()), so that a program of many
        // calls spread in time holds only those in flight; its start is the same event either way. A call with
        // deferred parts expands here (expand_deferred posts their operations at the start), as does every part of a
        // program that records its operations' times.
        const bool now = m_prog.record_op_times || (parts[p].call >= 0 && s.deferred.count(parts[p].call));
        s.push(now ? expand(static_cast<int>(v), part).ops[0].delay : parts[p].op.delay, Impl::Ev::Start, static_cast<int>(v), part, 0);
      }
    }
  }
}

// An operation is complete: its dependents may start; when it was its part's last, the parts that
// wait for this one may, and the part's operations are freed.
void Fabric::complete(int v, std::uint32_t part, std::uint32_t op_index, Tick now) {
  Impl& s = *m_impl;
  const size_t vi = static_cast<size_t>(v);
  Impl::Vertex& x = s.vertices[vi];
  Live& l = *x.live[part];
  if (m_prog.record_op_times) l.end[op_index] = now;
  if (!l.first.empty()) {
    const Live::Op& o = l.ops[op_index];
    Tick* it = o.kind == CommOp::Kind::Recv ? s.first_arrived.find({o.peer(0, l), v, o.tag}) : nullptr;
    l.first[op_index] = it ? *it : now;
    if (it) s.first_arrived.erase(it);
  }
  m_end = std::max(m_end, now);
  m_vertex_end[vi] = std::max(m_vertex_end[vi], now);
  m_part_end[vi][part] = std::max(m_part_end[vi][part], now);
  for (std::uint32_t k = l.user_at[op_index], e = l.user_at[op_index + 1]; k < e; ++k) {
    const std::uint32_t u = l.users[k];
    Live::State& st = l.state[u];
    st.ready = std::max(st.ready, now);
    if (--st.remaining == 0) s.push(st.ready + l.ops[u].delay, Impl::Ev::Start, v, part, u);
  }
  if (++l.done < l.ops.size()) return;
  if (const float u = held_units(m_prog.parts[vi][part]); u > 0) s.units_change(vi, now, -u);
  for (auto q : x.users[part]) {
    Tick& r = x.ready[q];
    r = std::max(r, now);
    if (--x.remaining[q] == 0) s.push(r + expand(v, q).ops[0].delay, Impl::Ev::Start, v, q, 0);
  }
  if (!m_prog.record_op_times) {
    constexpr size_t kSpareParts = 64;  // bound on the finished parts' arrays kept for reuse
    if (s.spare.size() < kSpareParts) s.spare.push_back(std::move(x.live[part]));
    else x.live[part].reset();
  }
}

void Fabric::run() {
  Impl& s = *m_impl;
  const size_t nv = m_prog.parts.size();
  m_vertex_end.assign(nv, 0);
  m_stretch.assign(nv, 0);
  s.port_bytes.assign(nv, 0.0);
  s.engine_free.assign(nv, 0);
  s.units_active.assign(nv, 0.0);
  s.units_time.assign(nv, 0.0);
  s.units_last.assign(nv, 0);
  const Tick began = now_ticks();
  s.clock = began;
  start_parts();
  Impl::Event e;
  while (s.pop(e)) {
    if (e.t > s.clock) s.clock = e.t;
    const Tick now = s.clock;
    if (e.kind == Impl::Ev::Deliver) {  // at the receiver; the Send's part may have ended
      const Impl::Key k{e.v, e.peer, e.piece};
      if (Impl::Waiter* w = s.waiting.find(k)) {
        s.push(now, Impl::Ev::Complete, w->v, w->part, w->op);
        s.waiting.erase(w);
      } else {
        s.arrived.set(k, now);
      }
      continue;
    }
    auto& slot = s.vertices[static_cast<size_t>(e.v)].live[e.part];
    Live& l = slot ? *slot : expand(e.v, e.part);  // a part launching after its delay (start_parts)
    const Live::Op& op = l.ops[e.op];
    switch (e.kind) {
      case Impl::Ev::Start:
        if (m_prog.record_op_times) l.start[e.op] = now;
        if (e.op == 0) {
          m_part_start[static_cast<size_t>(e.v)][e.part] = now;
          if (const float u = held_units(m_prog.parts[static_cast<size_t>(e.v)][e.part]); u > 0) s.units_change(static_cast<size_t>(e.v), now, u);
        }
        if (op.kind == CommOp::Kind::Compute) {
          l.state[e.op].port_at_start = s.port_bytes[static_cast<size_t>(e.v)];
          l.state[e.op].units_at_start = s.units_at(static_cast<size_t>(e.v), now);
          s.push(now + op.work, Impl::Ev::Complete, e.v, e.part, e.op);
        } else if (op.kind == CommOp::Kind::Send) {
          s.push(now, Impl::Ev::Piece, e.v, e.part, e.op, 0);
        } else if (op.kind == CommOp::Kind::Recv) {
          const Impl::Key k{op.peer(0, l), e.v, op.tag};
          if (Tick* a = s.arrived.find(k)) {
            s.push(std::max(now, *a), Impl::Ev::Complete, e.v, e.part, e.op);
            s.arrived.erase(a);
          } else {
            s.waiting.set(k, {e.v, e.part, e.op});
          }
        } else {  // Reduce: in the switch's engine for the output port named by peers[0]
          s.push(reduce_end(e.v, l, e.op, now), Impl::Ev::Complete, e.v, e.part, e.op);
        }
        break;
      case Impl::Ev::Piece:
        send_piece(e.v, e.part, e.op, e.piece, now);
        break;
      case Impl::Ev::Deliver:
        break;
      case Impl::Ev::Complete:
        if (op.kind == CommOp::Kind::Compute && stretch_kernel(e.v, e.part, e.op, now)) break;
        complete(e.v, e.part, e.op, now);
        break;
    }
  }
  if (!s.waiting.empty()) {
    const auto [k, w] = s.waiting.smallest();
    m_error = ("collective program deadlocked: " + m_topo.vertices()[static_cast<size_t>(w.v)].name +
                           " waits for tag " + std::to_string(k.tag) + " from " +
                           m_topo.vertices()[static_cast<size_t>(k.src)].name);
  }
  if (s.clock > began) wait(sc_core::sc_time(static_cast<double>(s.clock - began), sc_core::SC_PS));
  m_finished = true;
  sc_core::sc_stop();
}

bool Fabric::reducing(int v) const {
  const ISwitch* sw = m_switches[static_cast<size_t>(v)].get();
  return sw && sw->reduces();
}

std::uint32_t Fabric::piece_count(double wire_bytes) const {
  const double kPieceFloorBytes = 64 * 1024;  // smallest piece: a fraction of any library's buffer slot
  double granule = std::max<double>(static_cast<double>(m_topo.spec().chunk_bytes.value()), kPieceFloorBytes);
  return static_cast<std::uint32_t>(std::clamp(std::ceil(wire_bytes / granule), 1.0, 64.0));
}

// An in-switch reduction streams: it may start once every input has begun to arrive (their first
// pieces) and its other dependencies (the previous loop's reduction at the port, plus the op's step)
// are met, and ends no earlier than one piece of each input after the last input is complete.
// multimem.ld_reduce works on 16-byte packs (5 reduce warps x 32 lanes x COLL_UNROLL 8 x 16 B, 20
// KiB per channel in flight), far below the fabric's piece, so the piece is the granule that binds.
Tick Fabric::reduce_end(int v, const Live& l, std::uint32_t op_index, Tick now) {
  const Live::Op& op = l.ops[op_index];
  if (l.first.empty()) return now;
  Tick first = 0;
  double inputs = 0, input_bytes = 0;
  for (std::uint32_t k = 0; k < op.dep_count; ++k) {
    const std::uint32_t d = l.deps_of(op_index)[k];
    const Live::Op& o = l.ops[d];
    if (o.kind == CommOp::Kind::Recv) first = std::max(first, l.first[d]), inputs += 1;
    else first = std::max(first, l.first[d] + op.delay);
  }
  if (inputs > 0) input_bytes = static_cast<double>(op.bytes) / inputs;
  const double tail = inputs > 0 ? static_cast<double>(op.bytes) / piece_count(input_bytes) : static_cast<double>(op.bytes);
  return m_switches[static_cast<size_t>(v)]->reduce(std::min(first, now), now, static_cast<double>(op.bytes), tail,
                                                    op.peer(0, l));
}

// One piece of a Send: serialized on every link of its route to each destination, cut-through.
void Fabric::send_piece(int v, std::uint32_t part, std::uint32_t op_index, std::uint32_t piece, Tick now) {
  Impl& s = *m_impl;
  Live& l = *s.vertices[static_cast<size_t>(v)].live[part];
  const Live::Op& op = l.ops[op_index];
  double total = static_cast<double>(op.bytes) * (op.wire_factor > 0 ? op.wire_factor : m_prog.wire_factor);
  std::uint32_t pieces = piece_count(total);
  double bytes = total / pieces;
  const double payload = static_cast<double>(op.bytes) / pieces;
  // A chip's collective engine moves every piece it sends, one at a time at its rate: a piece waits
  // for the engine, then takes it for payload / rate (first come, first served over all its sends).
  const double engine = l.engine_Bps > 0 ? l.engine_Bps : m_topo.spec().engine_bandwidth.value();
  if (engine > 0 && m_topo.vertices()[static_cast<size_t>(v)].kind == Vertex::Kind::Chip) {
    Tick& free = s.engine_free[static_cast<size_t>(v)];
    if (free > now) {
      s.push(free, Impl::Ev::Piece, v, part, op_index, piece);
      return;
    }
    free = now + transfer_ticks(payload, engine);
  }
  s.port_bytes[static_cast<size_t>(v)] += payload;  // read once, even when multicast
  Tick next = -1;
  for (std::uint32_t pi = 0; pi < op.peer_count; ++pi) {
    const int dst = l.peers[op.peer_at + pi];
    const std::vector<int>& path = m_topo.route(v, dst);
    Tick head = now, tail = 0;
    if (piece == 0)
      for (int l : path) head += m_links[static_cast<size_t>(l)]->message_overhead();
    for (size_t h = 0; h < path.size(); ++h) {
      ILink& link = *m_links[static_cast<size_t>(path[h])];
      Tick end = link.carry(head, tail, bytes, now);
      ++m_pieces;
      if (m_link_trace) trace_piece(path[h], end - link.serialize(bytes), end, bytes, v, part);
      if (h == 0) next = next < 0 ? end : std::min(next, end);
      head = end - link.serialize(bytes) + link.latency();
      tail = end + link.latency();
    }
    if (path.empty()) tail = now;
    else if (piece + 1 == pieces)
      tail += m_links[static_cast<size_t>(path.back())]->receive_overhead(total / std::max<std::uint16_t>(op.messages, 1));
    s.port_bytes[static_cast<size_t>(dst)] += payload;
    if (piece == 0 && reducing(dst)) s.first_arrived.set({v, dst, op.tag}, tail);
    Tick& d = l.state[op_index].delivered;
    d = std::max(d, tail);
    if (piece + 1 == pieces) s.push(d, Impl::Ev::Deliver, v, part, op_index, op.tag, dst);
  }
  if (piece + 1 < pieces) s.push(std::max(next, now), Impl::Ev::Piece, v, part, op_index, piece + 1);
  else s.push(l.state[op_index].delivered, Impl::Ev::Complete, v, part, op_index);
}

void Fabric::trace_piece(int link, Tick start, Tick end, double wire_bytes, int v, std::uint32_t part) {
  TraceRecord r;
  r.start_ps = start;
  r.end_ps = end;
  r.unit = static_cast<std::uint32_t>(link);
  r.kernel = static_cast<std::uint32_t>(m_prog.parts[static_cast<size_t>(v)][part].call + 1);
  r.bytes = static_cast<std::uint64_t>(std::llround(wire_bytes));
  r.task = static_cast<std::uint32_t>(v);
  m_link_trace->on_transaction(r);
}

// A kernel and the collective traffic through its chip's memory during it share one memory
// bandwidth B: the kernel cannot end before (its own bytes + the collectives' bytes) / B has passed
// since it started. Compute-bound kernels absorb the traffic in their memory slack; memory-bound
// ones stretch by it. Decided once, at the kernel's nominal end (traffic arriving in the stretch
// itself is not charged again).
bool Fabric::stretch_kernel(int v, std::uint32_t part, std::uint32_t op_index, Tick now) {
  Impl& s = *m_impl;
  const size_t vi = static_cast<size_t>(v);
  const double B = vi < m_prog.hbm_Bps.size() ? m_prog.hbm_Bps[vi] : 0.0;
  const double U = vi < m_prog.compute_units.size() && m_prog.parts[vi][part].form == CommPart::Form::Op ? m_prog.compute_units[vi] : 0.0;
  if (B <= 0 && U <= 0) return false;
  Live& l = *s.vertices[vi].live[part];
  Live::State& st = l.state[op_index];
  if (st.stretched) return false;
  st.stretched = 1;
  const Live::Op& op = l.ops[op_index];
  Tick need = op.work;
  const double traffic = s.port_bytes[vi] - st.port_at_start;
  if (B > 0 && traffic > 0) need = std::max(need, transfer_ticks(op.hbm_bytes + traffic, B));
  // Compute units held by collectives meanwhile (a GPU's SMs running NCCL or DeepEP blocks): the
  // kernel's compute runs on the rest. Its memory time (its DRAM bytes at the device's bandwidth) is
  // assumed to need no more than the units left; the rest of its time stretches by U / (U - held).
  const double held = U > 1 && op.work > 0 ? s.units_at(vi, now) - st.units_at_start : 0.0;
  if (held > 0) {
    const double mean = std::min(held / static_cast<double>(op.work), U - 1.0);  // one unit left at least
    const double memory = B > 0 ? std::min(1.0, op.hbm_bytes / B / to_seconds(op.work)) : 0.0;
    const double extra = (1.0 - memory) * static_cast<double>(op.work) * mean / (U - mean);
    need = std::max(need, op.work + static_cast<Tick>(std::llround(extra)));
  }
  if (need <= op.work) return false;
  m_stretch[vi] += need - op.work;
  s.push(now + (need - op.work), Impl::Ev::Complete, v, part, op_index);
  return true;
}

FabricResult Fabric::result() const {
  FabricResult r;
  r.end = m_end;
  r.vertex_end = m_vertex_end;
  r.pieces = m_pieces;
  r.part_start = m_part_start;
  r.part_end = m_part_end;
  if (m_prog.record_op_times)  // every part was kept: its operations' times, in program order
    for (const auto& x : m_impl->vertices) {
      auto& st = r.op_start.emplace_back();
      auto& en = r.op_end.emplace_back();
      for (const auto& l : x.live)
        if (l) {
          st.insert(st.end(), l->start.begin(), l->start.end());
          en.insert(en.end(), l->end.begin(), l->end.end());
        }
    }
  r.stretch = m_stretch;
  r.memory_bytes = m_impl->port_bytes;
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

namespace {
template <class Program>
FabricResult simulate(const Topology& topo, const Program& prog, TraceObserver* link_trace) {
  SideKernel side;  // the warm chip stays for the next kernels
  Fabric fabric("fabric", topo, prog);
  fabric.set_link_trace(link_trace);
  run_kernel(&fabric.guard());
  if (!fabric.error().empty()) throw std::logic_error(fabric.error());
  if (!fabric.finished()) throw std::logic_error("collective simulation stopped before its programs finished");
  return fabric.result();
}

}  // namespace

FabricResult simulate_collective(const Topology& topo, const CommProgram& prog, TraceObserver* link_trace) {
  return simulate(topo, prog, link_trace);
}
FabricResult simulate_parts(const Topology& topo, const PartProgram& prog) { return simulate(topo, prog, nullptr); }

}  // namespace xpu
