#include "sim/interconnect/topology.h"

#include <queue>

#include "sim/engine/named_registry.h"

namespace xpu {

void register_router(const std::string& name, RouterFactory f) { NamedRegistry<IRouter>::add(name, std::move(f)); }

void register_builtin_routers();  // router_dor.cpp

std::unique_ptr<IRouter> make_router(const std::string& name) {
  register_builtin_routers();
  return NamedRegistry<IRouter>::make("router", name);
}

int Topology::add_vertex(Vertex v) {
  m_vertices.push_back(std::move(v));
  m_out.emplace_back();
  return static_cast<int>(m_vertices.size() - 1);
}

void Topology::add_duplex(int a, int b, const std::string& cls, const LinkSpec* spec, Seconds a_latency,
                          Seconds b_latency) {
  m_links.push_back({a, b, cls, spec, a_latency});
  m_out[static_cast<size_t>(a)].push_back(static_cast<int>(m_links.size() - 1));
  m_links.push_back({b, a, cls, spec, b_latency});
  m_out[static_cast<size_t>(b)].push_back(static_cast<int>(m_links.size() - 1));
}

Topology::Topology(const SystemSpec& spec) : m_spec(spec) {
  const SystemSpec& s = m_spec;
  m_ranks = s.chips * s.nodes;
  for (int n = 0; n < s.nodes; ++n)
    for (int c = 0; c < s.chips; ++c)
      add_vertex({Vertex::Kind::Chip, "node" + std::to_string(n) + ".chip" + std::to_string(c), n, nullptr});
  auto chip = [&](int n, int c) { return n * s.chips + c; };
  Seconds none;
  for (int n = 0; n < s.nodes; ++n) {
    std::string pre = "node" + std::to_string(n) + ".";
    if (s.topology == "switch") {
      int sw = add_vertex({Vertex::Kind::Switch, pre + "switch", n, &m_spec.sw});
      m_node_switch.push_back(sw);
      for (int c = 0; c < s.chips; ++c) add_duplex(chip(n, c), sw, "scale_up", &m_spec.link, none, s.sw.latency);
    } else if (s.topology == "torus") {
      if (m_dim_links.empty()) {
        m_dim_links.reserve(s.dims.size());
        for (size_t d = 0; d < s.dims.size(); ++d) {
          m_dim_links.push_back(m_spec.link);
          if (!s.dim_bandwidth.empty()) m_dim_links.back().bandwidth = s.dim_bandwidth[d];
        }
      }
      for (int c = 0; c < s.chips; ++c) {
        std::vector<int> xyz = coords(chip(n, c));
        for (size_t d = 0; d < s.dims.size(); ++d) {
          if (s.dims[d] < 2) continue;
          std::vector<int> nb = xyz;
          nb[d] = xyz[d] + 1;
          if (nb[d] == s.dims[d]) {
            if (!s.wrap[d] || s.dims[d] == 2) continue;  // a 2-long ring is one link
            nb[d] = 0;
          }
          add_duplex(chip(n, c), rank_at(n, nb), "scale_up.dim" + std::to_string(d), &m_dim_links[d], none, none);
        }
      }
    } else {  // mesh_groups: fully connected groups, then a switch joining the groups
      for (int c = 0; c < s.chips; ++c)
        for (int o = c + 1; o < s.chips; ++o)
          if (c / s.group == o / s.group) add_duplex(chip(n, c), chip(n, o), "scale_up", &m_spec.link, none, none);
      if (s.chips > s.group && s.sw.type != "none") {
        int sw = add_vertex({Vertex::Kind::Switch, pre + "switch", n, &m_spec.sw});
        m_node_switch.push_back(sw);
        for (int c = 0; c < s.chips; ++c) add_duplex(chip(n, c), sw, "uplink", &m_spec.uplink, none, s.sw.latency);
      }
    }
  }
  if (s.network == "rail" && s.nodes > 1)
    for (int c = 0; c < s.chips; ++c) {
      int rail = add_vertex({Vertex::Kind::Switch, "rail" + std::to_string(c), -1, &m_spec.net_switch});
      for (int n = 0; n < s.nodes; ++n) add_duplex(chip(n, c), rail, "nic", &m_spec.nic, none, s.net_switch.latency);
    }
  m_router = make_router(s.routing);
  check_connected();
}

std::vector<int> Topology::coords(int rank) const {
  int local = rank % m_spec.chips;
  std::vector<int> out;
  for (int d : m_spec.dims) {
    out.push_back(local % d);
    local /= d;
  }
  return out;
}

int Topology::rank_at(int node, const std::vector<int>& c) const {
  int local = 0, mul = 1;
  for (size_t d = 0; d < m_spec.dims.size(); ++d) {
    local += c[d] * mul;
    mul *= m_spec.dims[d];
  }
  return node * m_spec.chips + local;
}

int Topology::link_between(int a, int b) const {
  for (int l : m_out[static_cast<size_t>(a)])
    if (m_links[static_cast<size_t>(l)].dst == b) return l;
  return -1;
}

std::string Topology::link_name(int l) const {
  const Link& k = m_links[static_cast<size_t>(l)];
  return m_vertices[static_cast<size_t>(k.src)].name + "->" + m_vertices[static_cast<size_t>(k.dst)].name;
}

void Topology::check_connected() const {
  std::vector<char> seen(m_vertices.size(), 0);
  std::queue<int> q;
  q.push(0);
  seen[0] = 1;
  while (!q.empty()) {
    int v = q.front();
    q.pop();
    for (int l : m_out[static_cast<size_t>(v)]) {
      int w = m_links[static_cast<size_t>(l)].dst;
      if (!seen[static_cast<size_t>(w)]) seen[static_cast<size_t>(w)] = 1, q.push(w);
    }
  }
  for (size_t v = 0; v < m_vertices.size(); ++v)
    if (!seen[v])
      throw ConfigError(m_spec.file, m_spec.topology == "mesh_groups" ? "scale_up.switch.type" : "scale_up.topology",
                        "'" + (m_spec.topology == "mesh_groups" ? m_spec.sw.type : m_spec.topology) + "': " +
                            m_vertices[v].name + " is not connected to " + m_vertices[0].name +
                            " (disconnected topology)");
}

const std::vector<int>& Topology::route(int src, int dst) const {
  const size_t n = m_vertices.size();
  const bool flat = n <= kFlatRouteVertices && src >= 0 && dst >= 0 && static_cast<size_t>(src) < n && static_cast<size_t>(dst) < n;
  const size_t at = flat ? static_cast<size_t>(src) * n + static_cast<size_t>(dst) : 0;
  if (flat) {
    if (m_route_at.size() != n * n) m_route_at.assign(n * n, nullptr);
    if (const std::vector<int>* r = m_route_at[at]) return *r;
  }
  auto key = std::make_pair(src, dst);
  auto it = m_routes.find(key);
  if (it == m_routes.end()) {
    std::vector<int> r = m_router->route(*this, src, dst);
    if (r.empty() && src != dst)
      throw InputError::in_file(m_spec.file + ": no route from " + m_vertices[static_cast<size_t>(src)].name + " to " +
                       m_vertices[static_cast<size_t>(dst)].name, m_spec.file, "");
    it = m_routes.emplace(key, std::move(r)).first;
  }
  if (flat) m_route_at[at] = &it->second;
  return it->second;
}

}  // namespace xpu
