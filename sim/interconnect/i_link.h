// A directed link of a fabric (one direction of NVLink, ICI, NeuronLink, Ethernet, or a NIC port):
// it serializes transfers at its payload rate and adds its latency per traversal. One file per
// implementation (serial_link.cpp, rdma_nic.cpp), registered by name and chosen by the preset.
#pragma once
#include <memory>
#include <string>

#include "sim/engine/timeline.h"
#include "sim/interconnect/system_spec.h"

namespace xpu {

class ILink {
 public:
  ILink(std::string name, const LinkSpec& spec, Seconds extra_latency)
      : m_name(std::move(name)), m_spec(spec), m_extra(to_ticks(extra_latency.value())) {}
  virtual ~ILink() = default;
  // Ticks the link is occupied by `wire_bytes`: the payload rate (line rate x efficiency, or a slower
  // host path) by default.
  virtual Tick serialize(double wire_bytes) const { return transfer_ticks(wire_bytes, m_spec.payload_rate()); }
  // Head latency of one traversal (the wire, SerDes and, for a switch's output port, the switch).
  virtual Tick latency() const { return to_ticks(m_spec.latency.value()) + m_extra; }
  // Paid once per message before its first byte (a NIC's doorbell and completion), 0 for plain links.
  virtual Tick message_overhead() const { return 0; }
  // Paid once per message after its last byte arrives, when this link delivers into the receiving
  // chip (a NIC's eager copy out of its bounce buffer), 0 for plain links.
  virtual Tick receive_overhead(double /*wire_bytes*/) const { return 0; }

  // Books `wire_bytes` whose head reaches the link at `head` and whose tail cannot pass before
  // `tail_floor`; returns the end of serialization. `now` is the global time (calendar horizon).
  Tick carry(Tick head, Tick tail_floor, double wire_bytes, Tick now) {
    Tick d = serialize(wire_bytes);
    m_bytes += wire_bytes;
    return m_timeline.reserve(std::max(head, tail_floor - d), d, now);
  }
  const std::string& name() const { return m_name; }
  const LinkSpec& spec() const { return m_spec; }
  Tick busy_ticks() const { return m_timeline.busy_ticks(); }
  double bytes() const { return m_bytes; }

 private:
  std::string m_name;
  LinkSpec m_spec;
  Tick m_extra;
  Timeline m_timeline;
  double m_bytes = 0;
};

std::unique_ptr<ILink> make_link(const std::string& type, const std::string& name, const LinkSpec& spec,
                                 Seconds extra_latency);

}  // namespace xpu
