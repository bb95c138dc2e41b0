// QuantumKeeper (integer ticks) against TLM-2.0's tlm_utils::tlm_quantumkeeper: the same sync
// decisions and the same sync points on a random stream of local times, at two quanta.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "sim/engine/chip.h"
#include "sim/engine/process_guard.h"

namespace xpu {
namespace {

struct KeeperPair : sc_core::sc_module {
  explicit KeeperPair(sc_core::sc_module_name n) : sc_module(n) {
    SC_HAS_PROCESS(KeeperPair);
    SC_THREAD(run);
  }
  void run() {
    std::mt19937_64 rng(7);
    QuantumKeeper fast;
    tlm_utils::tlm_quantumkeeper ref;
    fast.reset();
    ref.reset();
    for (int i = 0; i < 20000; ++i) {
      // Local times around the quantum (most below it, some far beyond), zero now and then.
      const Tick local = rng() % 8 == 0 ? 0 : static_cast<Tick>(rng() % (rng() % 4 ? 150'000 : 2'000'000));
      fast.set(local);
      ref.set(sc_core::sc_time::from_value(static_cast<sc_dt::uint64>(local)));
      const bool need = ref.need_sync();
      if (fast.need_sync(now_ticks()) != need || fast.need_sync() != need) {
        ++mismatches;
        return;
      }
      if (need || rng() % 16 == 0) {
        fast.sync();  // waits for the local time; the reference keeper takes its next sync point now
        ref.reset();
        ++syncs;
      }
    }
  }
  int mismatches = 0, syncs = 0;
};

TEST(QuantumKeeper, SyncsWhereTheTlmKeeperDoes) {
  for (sc_dt::uint64 quantum_ps : {100'000ull, 37'000ull}) {
    fresh_systemc_kernel();
    tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_core::sc_time::from_value(quantum_ps));
    auto top = std::make_unique<KeeperPair>("pair");
    run_kernel(nullptr);  // hands ASan this thread's stack back, as every run in the simulator does
    EXPECT_EQ(top->mismatches, 0) << "quantum " << quantum_ps << " ps";
    EXPECT_GT(top->syncs, 1000);
    top.reset();  // while its kernel context is current
  }
  fresh_systemc_kernel();
  tlm_utils::tlm_quantumkeeper::set_global_quantum(sc_core::sc_time(100, sc_core::SC_NS));
}

}  // namespace
}  // namespace xpu
