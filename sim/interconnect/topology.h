// The graph of a system: chips and switches as vertices, directed links (one per direction of a
// physical link or bundle) with their class, and routes between vertices. Built from a SystemSpec;
// pure (no SystemC), so collective lowerings and the fabric model share it.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/interconnect/system_spec.h"

namespace xpu {

struct Vertex {
  enum class Kind { Chip, Switch };
  Kind kind = Kind::Chip;
  std::string name;          // "node0.chip3", "node0.nvswitch", "rail3"
  int node = 0;
  const SwitchSpec* sw = nullptr;  // switches: their spec
};

struct Link {
  int src = 0, dst = 0;
  std::string cls;           // "scale_up", "uplink", "nic": which LinkSpec it follows
  const LinkSpec* spec = nullptr;
  Seconds extra_latency;     // the switch pipeline when the link leaves a switch
  std::string name() const;  // filled by Topology
};

class Topology;

// Routes a transfer between two vertices: the list of link indices it crosses, in order. Routers are
// registered by name and chosen in the preset (scale_up.routing), as Ramulator 2 registers schedulers.
class IRouter {
 public:
  virtual ~IRouter() = default;
  virtual std::vector<int> route(const Topology& t, int src, int dst) const = 0;
};
using RouterFactory = std::function<std::unique_ptr<IRouter>()>;
void register_router(const std::string& name, RouterFactory f);
std::unique_ptr<IRouter> make_router(const std::string& name);

class Topology {
 public:
  explicit Topology(const SystemSpec& spec);
  const SystemSpec& spec() const { return m_spec; }
  int ranks() const { return m_ranks; }          // chips are vertices 0..ranks-1
  int ranks_per_node() const { return m_spec.chips; }
  const std::vector<Vertex>& vertices() const { return m_vertices; }
  const std::vector<Link>& links() const { return m_links; }
  const std::vector<int>& out_links(int v) const { return m_out[static_cast<size_t>(v)]; }
  int link_between(int a, int b) const;          // -1 if none
  std::string link_name(int l) const;
  // The scale-up switch of a node (-1 if the node has none) and whether it reduces in the network.
  int node_switch(int node) const { return m_node_switch.empty() ? -1 : m_node_switch[static_cast<size_t>(node)]; }
  bool in_network_reduction() const { return m_spec.sw.type == "nvls"; }
  // Torus coordinates of a chip within its node (torus only).
  std::vector<int> coords(int rank) const;
  int rank_at(int node, const std::vector<int>& coords) const;
  // Cached route (router chosen by the preset); throws InputError when dst is unreachable.
  const std::vector<int>& route(int src, int dst) const;

 private:
  int add_vertex(Vertex v);
  void add_duplex(int a, int b, const std::string& cls, const LinkSpec* spec, Seconds a_latency, Seconds b_latency);
  void check_connected() const;
  SystemSpec m_spec;
  int m_ranks = 0;
  std::vector<Vertex> m_vertices;
  std::vector<Link> m_links;
  std::vector<std::vector<int>> m_out;
  std::vector<int> m_node_switch;
  std::vector<LinkSpec> m_dim_links;  // torus: one link class per dimension (stable: reserved up front)
  std::unique_ptr<IRouter> m_router;
  mutable std::map<std::pair<int, int>, std::vector<int>> m_routes;
  // Routes found so far by (src, dst) in one array (a fabric looks one up per piece and destination:
  // the map's search was 2% of a large system step); only for topologies of at most
  // kFlatRouteVertices vertices (a 4 MiB table), larger ones use the map alone. Entries point into
  // m_routes, whose nodes stay put.
  static constexpr size_t kFlatRouteVertices = 1024;
  mutable std::vector<const std::vector<int>*> m_route_at;
};

}  // namespace xpu
