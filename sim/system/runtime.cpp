#include "sim/system/runtime.h"

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <utility>

#include "kernels/collective/custom_allreduce.h"
#include "sim/base/error.h"
#include "sim/engine/chip.h"
#include "sim/engine/side_kernel.h"
#include "sim/system/system_trace.h"

namespace xpu {

namespace {

std::string ranks_str(const std::vector<int>& g) {
  return g.empty() ? "[]" : "[" + std::to_string(g.front()) + ".." + std::to_string(g.back()) + "]";
}

// Torus block of g consecutive ranks: whole leading dimensions, then a divisor of the next one.
void torus_block(SystemSpec& sub, const SystemSpec& s, int g, const std::vector<int>& group) {
  std::vector<int> dims;
  std::vector<bool> wrap;
  std::vector<Bandwidth> bw;
  int prod = 1;
  for (size_t d = 0; d < s.dims.size() && prod < g; ++d) {
    const int take = g / prod >= s.dims[d] ? s.dims[d] : g / prod;
    if ((g / prod) % take != 0 && take != s.dims[d]) break;
    if (s.dims[d] % take != 0) break;
    dims.push_back(take);
    wrap.push_back(s.wrap[d] && take == s.dims[d]);
    if (!s.dim_bandwidth.empty()) bw.push_back(s.dim_bandwidth[d]);
    prod *= take;
  }
  if (prod != g)
    throw InputError::in_file(s.file + ": ranks " + ranks_str(group) + " do not form a block of the " + std::to_string(s.chips) +
                     "-chip torus (a communicator of " + std::to_string(g) + " chips needs whole leading dimensions)", s.file, "");
  sub.dims = dims;
  sub.wrap = wrap;
  sub.dim_bandwidth = bw;
  sub.chips = g;
  sub.nodes = 1;
}

}  // namespace

GroupSystem group_system(const Topology& full, const std::vector<int>& group) {
  const SystemSpec& s = full.spec();
  const int g = static_cast<int>(group.size());
  GroupSystem out;
  out.spec = s;
  if (g < 1 || g > full.ranks())
    throw InputError::in_file(s.file + ": a communicator of " + std::to_string(g) + " ranks on a system of " +
                     std::to_string(full.ranks()) + " chips", s.file, "");
  for (int i = 0; i < g; ++i)
    if (group[static_cast<size_t>(i)] != group[0] + i || (g < full.ranks() && group[0] % std::min(g, s.chips) != 0))
      throw InputError::in_file(s.file + ": communicator ranks " + ranks_str(group) +
                       " are not an aligned block of consecutive chips (layouts place groups that way)", s.file, "");
  if (g < full.ranks()) {
    if (g > s.chips) {
      if (g % s.chips != 0)
        throw InputError::in_file(s.file + ": a communicator of " + std::to_string(g) + " chips spans part of a node (" +
                         std::to_string(s.chips) + " chips per node)", s.file, "");
      out.spec.nodes = g / s.chips;
    } else if (s.topology == "torus") {
      torus_block(out.spec, s, g, group);
    } else {
      out.spec.chips = g;
      out.spec.nodes = 1;
      if (s.topology == "mesh_groups") out.spec.group = std::min(s.group, g);
    }
  }
  Topology sub(out.spec);
  std::map<std::string, int> by_name;
  for (size_t v = 0; v < full.vertices().size(); ++v) by_name[full.vertices()[v].name] = static_cast<int>(v);
  for (size_t v = 0; v < sub.vertices().size(); ++v) {
    const Vertex& x = sub.vertices()[v];
    int mapped = -1;
    if (static_cast<int>(v) < sub.ranks()) {
      mapped = group[v];
    } else if (x.name.rfind("rail", 0) == 0) {
      const int local = std::stoi(x.name.substr(4));
      mapped = by_name.at("rail" + std::to_string(group[static_cast<size_t>(local)] % s.chips));
    } else {  // a node's scale-up switch
      const int first = group[static_cast<size_t>(x.node * out.spec.chips)];
      mapped = full.node_switch(first / s.chips);
    }
    if (mapped < 0) throw std::logic_error("group_system: no vertex for " + x.name);
    out.vertex_map.push_back(mapped);
  }
  return out;
}

// `r` (algorithm and protocol resolved) lowered on `t`, reported as `label`, with the largest tag it uses; its sends
// through an engine of `engine_Bps` (0: the system's).
namespace {
std::shared_ptr<const LoweredCall> lowered(const Topology& t, const CollectiveRequest& r, std::string label, double engine_Bps = 0) {
  auto out = std::make_shared<LoweredCall>();
  out->prog = lower_collective(t, r);
  out->algorithm = std::move(label);
  out->engine_Bps = engine_Bps;
  for (const auto& v : out->prog.ops)
    for (const auto& o : v) out->max_tag = std::max(out->max_tag, o.tag);
  return out;
}
}  // namespace

std::shared_ptr<const LoweredCall> lower_call(const GroupSystem& gs, const CollectiveRequest& req) {
  Topology t(gs.spec);
  CollectiveRequest r = req;
  // A TP all-reduce that the serving stack gives to its own kernel (TensorRT-LLM's, vLLM's or SGLang's)
  // runs that kernel's exchange at its own fixed costs; the rest go to the collective library.
  // Its sends run at the kernel's own rate in the system's fabric too, as `kernel allreduce --stack` runs them.
  if (const auto kernel_spec = coll::custom_allreduce_route(gs.spec, t, r))
    return lowered(Topology(*kernel_spec), r, r.algorithm + "/" + r.stack, kernel_spec->engine_bandwidth.value());
  // An expert all-to-all by DeepEP's normal kernels: forwarded across nodes, its own kernels rather than
  // the collective library's choice; inside one node a plain all-to-all.
  resolve_expert_all_to_all(gs.spec, r);
  if (r.algorithm == "auto" || r.protocol == "auto") {
    CollectiveChoice c = choose_collective(t, r);  // the resolved request, as run_collective chooses
    r.algorithm = c.algorithm;
    r.protocol = c.protocol;
  }
  return lowered(t, r, r.algorithm + "/" + r.protocol);
}

const std::shared_ptr<const LoweredCall>& LoweredCalls::get(const GroupSystem& gs, const CollectiveRequest& req) {
  const SystemSpec& g = gs.spec;
  Key key{g.chips, g.nodes, req.bytes, req.algorithm + "/" + req.protocol,
          std::to_string(static_cast<int>(req.kind)) + "/" + std::to_string(static_cast<int>(req.expert)), g.dims, req.forwarded_bytes,
          req.stack, req.rows};
  auto it = m_cache.find(key);
  if (it == m_cache.end()) it = m_cache.emplace(std::move(key), lower_call(gs, req)).first;
  return it->second;
}

CommPart collective_part(CommPart::Form form, const LoweredCall& low, size_t sv, const GroupSystem& gs, std::uint32_t tag_base,
                         int call) {
  CommPart p;
  p.form = form;
  p.call = call;
  p.sub = &low.prog.ops[sv];
  p.vertex_map = &gs.vertex_map;
  p.tag_base = tag_base;
  p.wire_factor = static_cast<float>(low.prog.wire_factor);
  p.engine_Bps = low.engine_Bps;
  return p;
}

namespace {

// Every device's op stream as parts of one program: a kernel, send or receive is one operation; a
// collective is a part that the executor expands from the call's shared lowering while it runs.
struct Merge {
  const SystemSpec& spec;
  const Topology& topo;
  const SystemWork& work;
  PartProgram program;
  std::vector<GroupSystem> groups;
  std::vector<std::shared_ptr<const LoweredCall>> lowered;
  std::vector<std::uint32_t> tag_base;
  std::uint32_t p2p_base = 1;

  void lower_all() {
    LoweredCalls cache;
    std::uint32_t next = 1;
    for (const CollectiveCall& c : work.collectives) {
      groups.push_back(group_system(topo, c.group));
      lowered.push_back(cache.get(groups.back(), c.req));
      tag_base.push_back(next);
      next += lowered.back()->max_tag + 1;
    }
    p2p_base = next;
  }

  // One part per StreamOp, waiting for the last part of its stream and the parts it names.
  void device(int r) {
    std::vector<CommPart>& parts = program.parts[static_cast<size_t>(r)];
    const auto& list = work.devices[static_cast<size_t>(r)];
    std::vector<int> last(2, -1);
    for (size_t i = 0; i < list.size(); ++i) {
      const StreamOp& op = list[i];
      const int st = work.overlap ? std::clamp(op.stream, 0, 1) : 0;
      CommPart part;
      if (op.kind == StreamOp::Kind::Collective) {
        part = collective_part(CommPart::Form::Collective, *lowered.at(static_cast<size_t>(op.collective)),
                               rank_in(r, op.collective), groups[static_cast<size_t>(op.collective)],
                               tag_base[static_cast<size_t>(op.collective)], op.collective);
        const double units = work.collectives[static_cast<size_t>(op.collective)].units;
        part.units = static_cast<float>(units >= 0 ? units : spec.channels);
      } else if (op.kind == StreamOp::Kind::Kernel) {
        part.op.kind = CommOp::Kind::Compute;
        part.op.work = op.work;
        part.op.hbm_bytes = op.hbm_bytes;
      } else {
        part.op.kind = op.kind == StreamOp::Kind::Send ? CommOp::Kind::Send : CommOp::Kind::Recv;
        part.op.peers = {op.peer};
        part.op.bytes = op.kind == StreamOp::Kind::Send ? op.bytes : 0;
        part.op.tag = op.tag + p2p_base;
        if (op.kind == StreamOp::Kind::Send) part.op.delay = to_ticks(spec.launch_latency.value());
      }
      if (last[static_cast<size_t>(st)] >= 0) part.deps.push_back(static_cast<std::uint32_t>(last[static_cast<size_t>(st)]));
      for (int w : op.waits) {
        if (w < 0 || static_cast<size_t>(w) >= i) throw std::logic_error("runtime: an op waits for a later one");
        part.deps.push_back(static_cast<std::uint32_t>(w));
      }
      parts.push_back(std::move(part));
      last[static_cast<size_t>(st)] = static_cast<int>(i);
    }
  }

  // The device's position in collective `c`'s communicator.
  size_t rank_in(int r, int c) const {
    const CollectiveCall& call = work.collectives.at(static_cast<size_t>(c));
    auto pos = std::find(call.group.begin(), call.group.end(), r);
    if (pos == call.group.end())
      throw std::logic_error("runtime: rank " + std::to_string(r) + " is not in communicator " + call.label);
    return static_cast<size_t>(pos - call.group.begin());
  }

  // Switches that reduce or multicast inside a collective run their part once per call.
  void switches() {
    for (size_t c = 0; c < work.collectives.size(); ++c) {
      const GroupSystem& gs = groups[c];
      const LoweredCall& low = *lowered[c];
      for (size_t sv = work.collectives[c].group.size(); sv < low.prog.ops.size(); ++sv)
        if (!low.prog.ops[sv].empty())
          program.parts[static_cast<size_t>(gs.vertex_map[sv])].push_back(
              collective_part(CommPart::Form::Plain, low, sv, gs, tag_base[c], static_cast<int>(c)));
    }
  }
};

// "tp.allreduce (ring/ll128)": a collective call as the trace names it.
std::string call_name(const CollectiveCall& c, const std::string& algorithm) {
  return (c.label.empty() ? name(c.req.kind) : c.label) + " (" + algorithm + ")";
}

// Every device's ops, each on its rank's compute or communication track, after the run.
void trace_devices(SystemTrace& t, const SystemWork& work, const RuntimeResult& out) {
  static const SystemTrace::Kind kinds[] = {SystemTrace::kKernel, SystemTrace::kCollective, SystemTrace::kSend, SystemTrace::kRecv};
  for (size_t r = 0; r < work.devices.size(); ++r)
    for (size_t i = 0; i < work.devices[r].size(); ++i) {
      const StreamOp& op = work.devices[r][i];
      const bool compute = op.kind == StreamOp::Kind::Kernel;
      TraceRecord rec;
      rec.start_ps = out.op_start[r][i];
      rec.end_ps = out.op_end[r][i];
      rec.unit = t.unit("rank" + std::to_string(r) + (compute ? ".compute" : ".comm"));
      rec.kind = kinds[static_cast<int>(op.kind)];
      if (op.kind == StreamOp::Kind::Collective) {
        const CollectiveCall& c = work.collectives[static_cast<size_t>(op.collective)];
        rec.kernel = t.label(call_name(c, out.algorithm[static_cast<size_t>(op.collective)]));
        rec.bytes = c.req.bytes;
      } else {
        rec.kernel = t.label(op.label.empty() ? (compute ? "kernel" : "p2p") : op.label);
        rec.bytes = compute ? static_cast<std::uint64_t>(op.hbm_bytes) : op.bytes;
      }
      rec.task = static_cast<std::uint32_t>(i);
      t.add(rec);
    }
}

}  // namespace

RuntimeResult run_system(const SystemSpec& spec, const SystemWork& work, SystemTrace* trace) {
  Topology topo(spec);
  if (static_cast<int>(work.devices.size()) > topo.ranks())
    throw InputError::in_file(spec.file + ": work for " + std::to_string(work.devices.size()) + " devices on a system of " +
                     std::to_string(topo.ranks()) + " chips", spec.file, "");
  Merge m{spec, topo, work, {}, {}, {}, {}, 1};
  m.program.parts.resize(topo.vertices().size());
  m.program.hbm_Bps = work.hbm_Bps;
  m.program.hbm_Bps.resize(topo.vertices().size(), 0.0);
  m.program.compute_units = work.compute_units;
  m.program.compute_units.resize(topo.vertices().size(), 0.0);
  m.lower_all();
  for (size_t r = 0; r < work.devices.size(); ++r) m.device(static_cast<int>(r));
  m.switches();

  SideKernel side;  // the warm chip stays for the next kernels
  FabricResult fr;
  std::unique_ptr<TraceObserver> links;
  if (trace) {
    trace->unit("steps");  // the tracks in this order: steps, ranks, then links as they carry their first piece
    for (size_t r = 0; r < work.devices.size(); ++r) {
      if (!work.devices[r].empty()) trace->unit("rank" + std::to_string(r) + ".compute");
      if (std::any_of(work.devices[r].begin(), work.devices[r].end(), [](const StreamOp& o) { return o.kind != StreamOp::Kind::Kernel; }))
        trace->unit("rank" + std::to_string(r) + ".comm");
    }
    std::vector<std::string> calls;
    for (size_t c = 0; c < work.collectives.size(); ++c) calls.push_back(call_name(work.collectives[c], m.lowered[c]->algorithm));
    links = trace->links(topo, calls);
  }
  {
    Fabric fabric("fabric", topo, m.program);
    fabric.set_link_trace(links.get());
    run_kernel(&fabric.guard());
    if (!fabric.error().empty()) throw std::logic_error(fabric.error());
    if (!fabric.finished()) throw std::logic_error("system runtime stopped before every device finished");
    fr = fabric.result();
  }
  RuntimeResult out;
  out.end = fr.end;
  out.pieces = fr.pieces;
  out.operations = m.program.op_count();
  out.stretch = fr.stretch;
  for (size_t r = 0; r < work.devices.size(); ++r) {
    out.device_end.push_back(fr.vertex_end[r]);
    out.memory_bytes.push_back(r < fr.memory_bytes.size() ? fr.memory_bytes[r] : 0.0);
    out.op_start.push_back(std::move(fr.part_start[r]));
    out.op_end.push_back(std::move(fr.part_end[r]));
  }
  for (const auto& l : m.lowered) out.algorithm.push_back(l->algorithm);
  out.fabric = std::move(fr);
  if (trace) {
    trace_devices(*trace, work, out);
    trace->end_run(out.end);
  }
  return out;
}

}  // namespace xpu
