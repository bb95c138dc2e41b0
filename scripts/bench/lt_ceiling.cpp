// The ceiling SystemC itself sets: a minimal TLM-2.0 loosely-timed program of the same shape as an
// xpusim GEMM run (132 initiators, one shared memory target that books a busy-until per channel),
// with nothing else in it. scripts/bench_speed.py builds it with g++ against Debian's libsystemc and
// compares xpusim's transactions per CPU-second with it.
//   sync:      every transaction waits for its own delay (a context switch per transaction)
//   decoupled: a tlm_quantumkeeper per initiator, yielding once per quantum (as xpusim does)
// usage: lt_ceiling [initiators=132] [transactions=2000000 in all] [sync|decoupled] [quantum_ns=100]
// prints one JSON line: mode, initiators, transactions, cpu_s, mtps (M transactions per CPU-second).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

using namespace sc_core;

namespace {
bool g_decoupled = true;
long g_per_initiator = 0;

struct Memory : sc_module {
  tlm_utils::multi_passthrough_target_socket<Memory> socket;
  std::vector<sc_dt::uint64> busy_until = std::vector<sc_dt::uint64>(80, 0);  // ps, per channel
  explicit Memory(sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_b_transport(this, &Memory::b_transport);
  }
  void b_transport(int, tlm::tlm_generic_payload& t, sc_time& delay) {
    sc_dt::uint64 arrival = (sc_time_stamp() + delay).value();
    sc_dt::uint64 addr = t.get_address();
    addr ^= addr >> 33;
    addr *= 0xff51afd7ed558ccdull;
    sc_dt::uint64& b = busy_until[(addr ^ (addr >> 33)) % busy_until.size()];
    sc_dt::uint64 start = b > arrival ? b : arrival;
    b = start + t.get_data_length() * 1000 / 38;  // 38 GB/s per channel, in ps
    delay = sc_time::from_value(b - sc_time_stamp().value() + 480000);  // plus 480 ns latency
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

struct Initiator : sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket;
  int id;
  Initiator(sc_module_name n, int i) : sc_module(n), socket("socket"), id(i) { SC_THREAD(run); }
  SC_HAS_PROCESS(Initiator);
  void run() {
    tlm::tlm_generic_payload t;
    tlm_utils::tlm_quantumkeeper qk;
    qk.reset();
    for (long k = 0; k < g_per_initiator; ++k) {
      t.set_command(tlm::TLM_READ_COMMAND);
      t.set_address((static_cast<sc_dt::uint64>(id) << 32) + static_cast<sc_dt::uint64>(k) * 16384);
      t.set_data_ptr(nullptr);
      t.set_data_length(16384);
      t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
      sc_time delay = g_decoupled ? qk.get_local_time() : SC_ZERO_TIME;
      socket->b_transport(t, delay);
      if (g_decoupled) {
        qk.set(delay);
        if (qk.need_sync()) qk.sync();
      } else {
        wait(delay);
      }
    }
    if (g_decoupled) qk.sync();
  }
};
}  // namespace

int sc_main(int argc, char** argv) {
  int initiators = argc > 1 ? std::atoi(argv[1]) : 132;
  long transactions = argc > 2 ? std::atol(argv[2]) : 2000000;
  g_decoupled = !(argc > 3 && std::strcmp(argv[3], "sync") == 0);
  double quantum_ns = argc > 4 ? std::atof(argv[4]) : 100;
  g_per_initiator = transactions / initiators;
  tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_time(quantum_ns, SC_NS));
  Memory mem("mem");
  std::vector<std::unique_ptr<Initiator>> ini;
  for (int i = 0; i < initiators; ++i) {
    ini.push_back(std::make_unique<Initiator>(("sm" + std::to_string(i)).c_str(), i));
    ini.back()->socket.bind(mem.socket);
  }
  rusage r0{}, r1{};
  getrusage(RUSAGE_SELF, &r0);
  sc_start();
  getrusage(RUSAGE_SELF, &r1);
  auto secs = [](const rusage& r) {
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
  };
  double cpu = secs(r1) - secs(r0);
  long done = g_per_initiator * initiators;
  std::printf("{\"mode\": \"%s\", \"initiators\": %d, \"transactions\": %ld, \"quantum_ns\": %g, \"cpu_s\": %.4f, "
              "\"mtps\": %.3f}\n",
              g_decoupled ? "decoupled" : "sync", initiators, done, quantum_ns, cpu, cpu > 0 ? done / cpu / 1e6 : 0.0);
  return 0;
}
