#include "kernels/collective/builder.h"

#include <algorithm>

#include "kernels/collective/custom_allreduce.h"

namespace xpu::coll {

Builder::Builder(const Topology& t, const CollectiveRequest& r, const std::string& algo, int slices) : m_t(t) {
  const SystemSpec& s = t.spec();
  m_p.ops.resize(t.vertices().size());
  m_p.collective = name(r.kind);
  m_p.algorithm = algo;
  m_p.protocol = r.protocol;
  m_p.bytes = r.bytes;
  m_forwarded_per_byte = r.bytes > 0 ? static_cast<double>(r.forwarded_bytes) / static_cast<double>(r.bytes) : 0.0;
  m_p.slices = slices;
  // Protocol framing: LL carries 8 B of data with an 8 B flag word, LL128 120 B of every 128 B line,
  // simple the payload alone (NCCL's protocols, docs "NCCL_PROTO").
  if (r.protocol == "ll") m_p.wire_factor = 2.0, m_step = to_ticks(s.step_latency_ll.value());
  else if (r.protocol == "ll128") m_p.wire_factor = 128.0 / 120.0, m_step = to_ticks(s.step_latency_ll128.value());
  else m_step = to_ticks(s.step_latency_simple.value());
  m_launch = to_ticks(s.launch_latency.value() + (s.nodes > 1 ? s.network_launch_latency.value() : 0.0));
  if (!r.stack.empty()) m_staging_warps = custom_allreduce_copy_warps(r.stack);
}

std::uint32_t Builder::add(int v, CommOp::Kind kind, std::vector<int> peers, std::uint64_t bytes, std::uint32_t tag,
                           const Deps& deps, Tick delay) {
  auto& ops = m_p.ops[static_cast<size_t>(v)];
  CommOp o;
  o.kind = kind;
  o.peers = std::move(peers);
  o.bytes = bytes;
  o.tag = tag;
  o.deps = deps;
  o.delay = delay;
  ops.push_back(std::move(o));
  return static_cast<std::uint32_t>(ops.size() - 1);
}

std::uint32_t Builder::send(int v, std::vector<int> to, std::uint64_t bytes, std::uint32_t tag, const Deps& deps,
                            Tick first_delay, bool step) {
  // A chip's send is one step of the library's protocol (wait for the peer's flag, then write);
  // a switch forwards in hardware.
  bool chip = v < m_t.ranks();
  Tick delay = (chip && step ? m_step : 0) + (deps.empty() && m_slice == 0 ? m_launch + first_delay : 0);
  return add(v, CommOp::Kind::Send, std::move(to), bytes, tag, deps, delay);
}

std::uint32_t Builder::recv(int v, int from, std::uint32_t tag, const Deps& deps) {
  return add(v, CommOp::Kind::Recv, {from}, 0, tag, deps, 0);
}

std::uint32_t Builder::reduce(int sw, int port, std::uint64_t bytes, const Deps& deps) {
  return add(sw, CommOp::Kind::Reduce, {port}, bytes, 0, deps, 0);
}

std::uint32_t Builder::copy(int v, std::uint64_t bytes, int warps, const Deps& deps, Tick delay) {
  const SystemSpec& s = m_t.spec();
  // Little's law: each warp keeps copy_bytes_per_warp of loads in flight for one memory latency (the
  // stores are posted), so a channel's warps copy warps x bytes_per_warp per latency.
  const double rate = warps * s.copy_bytes_per_warp.value() / s.copy_latency.value();
  std::uint32_t i = add(v, CommOp::Kind::Compute, {}, 0, 0, deps, delay);
  CommOp& o = m_p.ops[static_cast<size_t>(v)][i];
  o.work = to_ticks(busiest_channel_bytes(static_cast<double>(bytes)) / rate);
  o.hbm_bytes = 2.0 * static_cast<double>(bytes);  // read one buffer, write the other
  return i;
}

double Builder::busiest_channel_bytes(double bytes) const {
  const double even = bytes / m_t.spec().channels;
  return m_channel_bytes > 0 ? std::max(even, std::min(bytes, m_channel_bytes)) : even;
}

// Local reductions on the chip are not timed: GPUs, TPUs and NeuronCores reduce as data streams in,
// at HBM/SRAM rates several times the link rate.
void Builder::ring(const std::vector<int>& group, std::uint64_t total, int steps, int dir, Frontier& f) {
  int m = static_cast<int>(group.size());
  if (m < 2) return;
  std::uint64_t chunk = share(total, static_cast<std::uint64_t>(m));
  std::uint32_t base = new_tags(static_cast<std::uint32_t>(steps));
  std::vector<Deps> have(static_cast<size_t>(m));
  for (int p = 0; p < m; ++p) have[static_cast<size_t>(p)] = f[static_cast<size_t>(group[static_cast<size_t>(p)])];
  for (int s = 0; s < steps; ++s) {
    std::vector<Deps> next(static_cast<size_t>(m));
    for (int p = 0; p < m; ++p) {
      int v = group[static_cast<size_t>(p)];
      int to = group[static_cast<size_t>((p + dir + m) % m)];
      int from = group[static_cast<size_t>((p - dir + m) % m)];
      send(v, {to}, chunk, base + static_cast<std::uint32_t>(s), have[static_cast<size_t>(p)]);
      next[static_cast<size_t>(p)] = {recv(v, from, base + static_cast<std::uint32_t>(s))};
    }
    have = std::move(next);
  }
  for (int p = 0; p < m; ++p) f[static_cast<size_t>(group[static_cast<size_t>(p)])] = have[static_cast<size_t>(p)];
}

void Builder::exchange(const std::vector<int>& group, std::uint64_t per_peer, Frontier& f) {
  std::uint32_t tag = new_tags(1);
  Frontier out = f;
  // Member p sends to p+1, p+2, ... (rotated), as one-shot kernels and NCCL's send/receive rounds
  // order their peers, so that no destination is every member's first.
  const size_t m = group.size();
  for (size_t p = 0; p < m; ++p) {
    const int v = group[p];
    Deps got;
    for (size_t i = 1; i < m; ++i) {
      const int w = group[(p + i) % m];
      send(v, {w}, per_peer, tag, f[static_cast<size_t>(v)]);
      got.push_back(recv(v, group[(p + m - i) % m], tag));
    }
    out[static_cast<size_t>(v)] = got;
  }
  f = out;
}

void Builder::nvls_reduce_scatter(const std::vector<int>& group, int sw, std::uint64_t total, Frontier& f) {
  size_t m = group.size();
  std::uint64_t chunk = share(total, m);
  std::uint32_t up = new_tags(static_cast<std::uint32_t>(m)), down = new_tags(1);
  Tick setup = to_ticks(m_t.spec().nvls_latency.value());
  const int scatter = m_t.spec().nvls_scatter_warps;
  // multimem.ld_reduce: the switch reads shard j from every member, reduces it, returns it to j.
  for (int v : group) {
    Deps in = f[static_cast<size_t>(v)];
    Tick first = setup;
    if (scatter > 0 && m_copies) {
      // The scatter warps first copy the loop from the user's buffer into the NVLS buffer and post
      // its flag; the launch and the NVLS setup precede them.
      Tick d = in.empty() && m_slice == 0 ? m_launch + setup : 0;
      in = {copy(v, chunk * m, scatter, in, d)};
      first = 0;
    }
    // After the copy the reduce warps' flag wait is their per-loop step, charged at the reduction
    // (lower_collective); only the first loop's load waits for the copy's flag.
    const bool step = !(scatter > 0 && m_copies && m_slice > 0);
    for (size_t j = 0; j < m; ++j) send(v, {sw}, chunk, up + static_cast<std::uint32_t>(j), in, first, step);
  }
  for (size_t j = 0; j < m; ++j) {
    Deps in;
    for (int v : group) in.push_back(recv(sw, v, up + static_cast<std::uint32_t>(j)));
    std::uint32_t red = reduce(sw, group[j], chunk * m, in);
    send(sw, {group[j]}, chunk, down, {red});
  }
  for (int v : group) f[static_cast<size_t>(v)] = {recv(v, sw, down)};
}

void Builder::nvls_all_gather(const std::vector<int>& group, int sw, std::uint64_t total, Frontier& f) {
  size_t m = group.size();
  std::uint64_t chunk = share(total, m);
  std::uint32_t up = new_tags(1), down = new_tags(static_cast<std::uint32_t>(m));
  Tick setup = to_ticks(m_t.spec().nvls_latency.value());
  // multimem.st: member j writes its shard once; the switch multicasts it to every member.
  for (size_t j = 0; j < m; ++j) {
    send(group[j], {sw}, chunk, up, f[static_cast<size_t>(group[j])], setup);
    std::uint32_t in = recv(sw, group[j], up);
    send(sw, group, chunk, down + static_cast<std::uint32_t>(j), {in});
  }
  const int gather = m_t.spec().nvls_gather_warps;
  for (int v : group) {
    Deps got;
    for (size_t j = 0; j < m; ++j) got.push_back(recv(v, sw, down + static_cast<std::uint32_t>(j)));
    // The gather warps copy the loop's result out of the NVLS buffer into the user's buffer.
    if (gather > 0 && m_copies) got = {copy(v, chunk * m, gather, got)};
    f[static_cast<size_t>(v)] = got;
  }
}

std::vector<int> ring_order(const Topology& t, int node) {
  const SystemSpec& s = t.spec();
  std::vector<int> out;
  if (s.topology != "torus") {
    for (int c = 0; c < s.chips; ++c) out.push_back(node * s.chips + c);
    return out;
  }
  // Reflected mixed-radix counting: consecutive entries differ by one step in one coordinate.
  for (int i = 0; i < s.chips; ++i) {
    std::vector<int> c(s.dims.size());
    int rest = i;
    std::vector<int> digit(s.dims.size());
    for (size_t d = 0; d < s.dims.size(); ++d) digit[d] = rest % s.dims[d], rest /= s.dims[d];
    for (size_t d = 0; d < s.dims.size(); ++d) {
      int par = 0;  // the parity of the higher digits decides the direction along d
      for (size_t e = d + 1; e < s.dims.size(); ++e) par += digit[e];
      c[d] = (par % 2) ? s.dims[d] - 1 - digit[d] : digit[d];
    }
    out.push_back(t.rank_at(node, c));
  }
  return out;
}

std::vector<std::vector<int>> disjoint_rings(const Topology& t, int node) {
  const SystemSpec& s = t.spec();
  const size_t k = s.dims.size();
  const bool square = s.topology == "torus" && k >= 2 && s.dims[k - 1] == s.dims[k - 2] && s.dims[k - 1] > 2 &&
                      s.dims[k - 1] % 2 == 0 && s.wrap[k - 1] && s.wrap[k - 2];
  const bool cores = k == 3 && s.dims[0] == 2;  // a leading pair: the two cores of a chip
  if (!square || (k != 2 && !cores)) return {ring_order(t, node)};
  const int n = s.dims[k - 1];
  std::vector<std::vector<int>> rings;
  for (bool transpose : {false, true}) {
    std::vector<int> ring;
    int chip = 0;  // position along the chips' cycle
    for (int row = 0; row < n; ++row)
      for (int i = 0; i < n; ++i, ++chip) {
        const int x = ((n - row) % n + i) % n, y = row;
        std::vector<int> c(k, 0);
        c[k - 2] = transpose ? y : x;
        c[k - 1] = transpose ? x : y;
        if (!cores) {
          ring.push_back(t.rank_at(node, c));
          continue;
        }
        for (int core : {chip % 2, 1 - chip % 2}) {  // enter on the core the previous chip left from
          c[0] = core;
          ring.push_back(t.rank_at(node, c));
        }
      }
    rings.push_back(std::move(ring));
  }
  return rings;
}

void node_rings(Builder& b, int node, std::uint64_t bytes, int steps, Frontier& f) {
  const Topology& t = b.topo();
  if (t.spec().topology != "torus") {
    b.ring(ring_order(t, node), bytes, steps, +1, f);
    return;
  }
  const std::vector<std::vector<int>> rings = disjoint_rings(t, node);
  const std::uint64_t part = share(bytes, 2 * rings.size());
  Frontier done = f;
  for (int v : rings[0]) done[static_cast<size_t>(v)].clear();
  for (const auto& ring : rings)
    for (int dir : {+1, -1}) {
      Frontier g = f;
      b.ring(ring, part, steps, dir, g);
      for (int v : ring) {
        Deps& d = done[static_cast<size_t>(v)];
        d.insert(d.end(), g[static_cast<size_t>(v)].begin(), g[static_cast<size_t>(v)].end());
      }
    }
  f = done;
}

std::vector<std::vector<int>> torus_lines(const Topology& t, int node, size_t d) {
  const SystemSpec& s = t.spec();
  std::vector<std::vector<int>> lines;
  for (int local = 0; local < s.chips; ++local) {
    std::vector<int> c = t.coords(node * s.chips + local);
    if (c[d] != 0) continue;
    std::vector<int> line;
    for (int k = 0; k < s.dims[d]; ++k) {
      c[d] = k;
      line.push_back(t.rank_at(node, c));
    }
    lines.push_back(line);
  }
  return lines;
}

}  // namespace xpu::coll
