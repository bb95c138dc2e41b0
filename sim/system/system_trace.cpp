#include "sim/system/system_trace.h"

#include "sim/interconnect/topology.h"

namespace xpu {

const char* SystemTrace::kind_names() {
  return "0=dma_read,1=dma_write,2=tile_compute,3=vector_op,4=sync,5=kernel,6=collective,7=send,8=recv,9=reduce,"
         "10=transfer,11=step";
}

std::uint32_t SystemTrace::intern(const std::string& name, std::vector<std::string>& list,
                                  std::map<std::string, std::uint32_t>& ids) {
  auto [it, fresh] = ids.emplace(name, static_cast<std::uint32_t>(list.size()));
  if (fresh) list.push_back(name);
  return it->second;
}

void SystemTrace::add(TraceRecord r) {
  if (!m_begun) {
    m_sink.on_begin();
    m_begun = true;
  }
  r.start_ps += m_offset;
  r.end_ps += m_offset;
  m_sink.on_transaction(r);
}

void SystemTrace::end_run(Tick end) {
  TraceRecord r;
  r.unit = unit("steps");
  r.kind = kStep;
  r.end_ps = end;
  r.kernel = label(m_step);
  r.task = static_cast<std::uint32_t>(m_runs++);
  add(r);
  m_offset += end;
  m_step = "run";
}

namespace {
class LinkTrace : public TraceObserver {
 public:
  LinkTrace(SystemTrace& t, const Topology& topo, const std::vector<std::string>& calls, const std::string& uncalled)
      : m_trace(t), m_topo(topo), m_names(1, uncalled) {
    m_names.insert(m_names.end(), calls.begin(), calls.end());
    m_calls.assign(m_names.size(), kNone);
    m_units.assign(topo.links().size(), kNone);
  }
  void on_transaction(const TraceRecord& piece) override {
    TraceRecord r = piece;
    std::uint32_t& u = m_units.at(piece.unit);
    if (u == kNone) u = m_trace.unit("fabric." + m_topo.link_name(static_cast<int>(piece.unit)));
    r.unit = u;
    std::uint32_t& k = m_calls.at(piece.kernel);
    if (k == kNone) k = m_trace.label(m_names[piece.kernel]);
    r.kernel = k;
    r.kind = SystemTrace::kTransfer;
    m_trace.add(r);
  }

 private:
  static constexpr std::uint32_t kNone = 0xffffffffu;
  SystemTrace& m_trace;
  const Topology& m_topo;
  std::vector<std::string> m_names;              // call + 1 -> its name
  std::vector<std::uint32_t> m_calls, m_units;  // call + 1 -> label; link -> unit (each registered on its first piece)
};
}  // namespace

std::unique_ptr<TraceObserver> SystemTrace::links(const Topology& topo, const std::vector<std::string>& calls,
                                                  const std::string& uncalled) {
  return std::make_unique<LinkTrace>(*this, topo, calls, uncalled);
}

TraceMeta SystemTrace::meta(const std::string& name, const std::string& config) const {
  TraceMeta m;
  m.name = name;
  m.config = config;
  m.units = m_units;
  m.kernels = m_labels;
  m.kind_names = kind_names();
  return m;
}

}  // namespace xpu
