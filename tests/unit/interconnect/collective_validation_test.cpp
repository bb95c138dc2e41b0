// Collectives against public measurements (workloads/validation/collectives.csv; original sources in
// its `source` column: Azure/AI-benchmarking-guide ND H100 v5 and ND H200 v5 nccl-tests, aws-samples/
// awsome-distributed-training p5 nccl-tests, jax-ml scaling book TPU v5e profiles, aws-neuron-sdk
// nccom-test guide, AI-Hypercomputer/accelerator-microbenchmarks TPU7x all-gather guide, marin-community/marin
// issue #6736 TPU v5p-8/v6e-8 ppermute). A missing file fails. Bounds as issue 12 sets them: bus bandwidth of messages >=
// 64 MiB within 15% on one HGX H100 node and within 25% on two p5 nodes; latency-bound small messages
// (<= 8 KiB) within 30% in time. Issue 13 (Neuron, NeuronCores as ranks on trn1-32xl-cores): the two
// cores of one chip within 10% (bus bandwidth >= 16 MiB, time below), 64 cores of two instances
// within 25% in bus bandwidth >= 128 MiB and within 10% of the floor (<= 128 B) in time.
// Rows the model still misses are listed by id in kKnownGaps with the reason and a bound of their
// own just above today's error (README "Systems of chips", known gaps), so that a gap can neither
// grow unnoticed nor hide behind a looser bound for the whole class.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "sim/system/collective_run.h"

using namespace xpu;

namespace {
struct KnownGap {
  const char* id;
  double bound;       // on the row's time error, just above today's
  double class_bound; // the bound of its class, which the gap must still exceed
  const char* reason;
};
// The p5 64 MiB row closed once NVLS-tree slices became whole kernel loops (README "Systems of
// chips"). Two trn1 instances, 256 B - 64 MiB: the measured time climbs from the 520 us floor to a
// 1.3 ms plateau (64 KiB - 8 MiB) while the bytes take microseconds on every link, and stays ~1.1-2 ms
// above the modeled transfer beyond it; the model keeps the floor (library.network_launch_latency)
// and the engine-bound transfer, and has no mechanism for the climb (README "Systems of chips"). Over two
// instances Neuron's inter-node algorithms (Ring, Mesh, RDH: kernels/collective/internode.cpp) are the same
// two steps with one peer, so no choice among them moves these rows (README "Neuron's inter-node algorithms").
const char* kNeuronPlateau = "nccom-test 64 ranks: 520 us -> 1.3 ms climb at 256 B - 64 KiB and plateau to 8 MiB not modeled";
// Two p5 nodes, 16 - 64 KiB (tree/LL): the measured time rises about 3.8 us per NCCL tree channel in
// the out-of-place column the rows hold (1 -> 16 channels at 4 KiB each, 78.6 -> 135.1 us from 4 to
// 64 KiB), 1.7 us in the same log's in-place column (78.6 -> 103.8 us). Each tree's channels share one
// head GPU whose proxy completes their network operations one after another at NCCL's 2 us each
// (getNetOverhead, AMD host): 2 us per added channel, so these rows stay fast against the out-of-place
// column (each held just above today's error; -34.4/-44.0/-52.8% before, net35). 128 - 512 KiB came
// within the two-node 25% with it (015-017: -44.6/-36.4/-33.1 -> -18.9/-14.5/-10.4%).
const char* kTreeMidSize = "p5 tree/LL 16-64 KiB: the out-of-place column's 3.8 us per channel against the modeled 2 us";
// One HGX H100 node, NVLS, 64 - 256 KiB: the measured time jumps from 33.5 us (32 KiB) to a 42 us
// plateau that the model does not reach; its copies into and out of the NVLS buffer run on the one to
// two channels such a loop reaches (NCCL's bid x nHeads x chunk), which closed part of it (README
// "Collectives at mid sizes, per fabric", 2026-12-04; 008 -38.3 -> -29.2%).
const char* kNvlsMidSize = "NVLS 64-256 KiB: the jump to the measured 42 us plateau beyond the one-channel copies";
const std::vector<KnownGap> kKnownGaps = {
    {"az-h100-007", 0.36, 0.25, kNvlsMidSize}, {"az-h100-008", 0.30, 0.25, kNvlsMidSize},
    {"az-h100-009", 0.28, 0.25, kNvlsMidSize},
    {"aw-p5-012", 0.31, 0.25, kTreeMidSize}, {"aw-p5-013", 0.34, 0.25, kTreeMidSize},
    {"aw-p5-014", 0.33, 0.25, kTreeMidSize},
    {"nc-64r-006", 0.30, 0.25, kNeuronPlateau}, {"nc-64r-007", 0.37, 0.25, kNeuronPlateau},
    {"nc-64r-008", 0.41, 0.25, kNeuronPlateau}, {"nc-64r-009", 0.44, 0.25, kNeuronPlateau},
    {"nc-64r-010", 0.46, 0.25, kNeuronPlateau}, {"nc-64r-011", 0.52, 0.25, kNeuronPlateau},
    {"nc-64r-012", 0.53, 0.25, kNeuronPlateau}, {"nc-64r-013", 0.59, 0.25, kNeuronPlateau},
    {"nc-64r-014", 0.63, 0.25, kNeuronPlateau}, {"nc-64r-015", 0.63, 0.25, kNeuronPlateau},
    {"nc-64r-016", 0.63, 0.25, kNeuronPlateau}, {"nc-64r-017", 0.63, 0.25, kNeuronPlateau},
    {"nc-64r-018", 0.62, 0.25, kNeuronPlateau}, {"nc-64r-019", 0.61, 0.25, kNeuronPlateau},
    {"nc-64r-020", 0.59, 0.25, kNeuronPlateau}, {"nc-64r-021", 0.52, 0.25, kNeuronPlateau},
    {"nc-64r-022", 0.57, 0.25, kNeuronPlateau}, {"nc-64r-023", 0.46, 0.25, kNeuronPlateau},
    {"nc-64r-024", 0.33, 0.25, kNeuronPlateau},
};
const KnownGap* known_gap(const std::string& id) {
  for (const auto& g : kKnownGaps)
    if (id == g.id) return &g;
  return nullptr;
}

// Rows selected by `keep`, validated.
std::vector<CollectivePoint> validate_where(bool (*keep)(const CollectiveRow&)) {
  std::vector<CollectiveRow> sel;
  for (const auto& r : read_collective_rows(default_collectives_csv()))
    if (keep(r)) sel.push_back(r);
  return validate_collectives(sel);
}
// Every row except the 4-8 GiB ones (seconds of simulation, same regime as 1-2 GiB) and the Neuron
// rows, which only their own tests simulate (64 ranks: a few seconds of the library's estimates).
const std::vector<CollectivePoint>& points() {
  static const std::vector<CollectivePoint> p =
      validate_where([](const CollectiveRow& r) { return r.bytes <= (2ull << 30) && r.id.rfind("nc-", 0) != 0; });
  return p;
}
// The rows of one Neuron class ("nc-2r", "nc-64r"), validated once per test process.
const std::vector<CollectivePoint>& neuron_points(const std::string& prefix) {
  static std::map<std::string, std::vector<CollectivePoint>> cache;
  auto it = cache.find(prefix);
  if (it != cache.end()) return it->second;
  std::vector<CollectiveRow> sel;
  for (const auto& r : read_collective_rows(default_collectives_csv()))
    if (r.id.rfind(prefix + "-", 0) == 0) sel.push_back(r);
  return cache[prefix] = validate_collectives(sel);
}
// Rows whose id starts with `prefix` and whose size is in [lo, hi].
std::vector<const CollectivePoint*> rows_of(const std::string& prefix, std::uint64_t lo, std::uint64_t hi) {
  std::vector<const CollectivePoint*> out;
  for (const auto& p : neuron_points(prefix))
    if (p.row.id.rfind(prefix, 0) == 0 && p.row.bytes >= lo && p.row.bytes <= hi) out.push_back(&p);
  return out;
}
constexpr std::uint64_t kMiB = 1ull << 20;
}  // namespace

TEST(CollectiveValidation, MissingDataFileFails) {
  EXPECT_THROW(read_collective_rows(std::string(XPUSIM_SOURCE_DIR) + "/workloads/validation/no_such.csv"), InputError);
}

TEST(CollectiveValidation, SingleNodeH100LargeMessagesWithin15Percent) {
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("az-h100", 0) == 0 && p.row.bytes >= (64ull << 20)) {
      ++n;
      EXPECT_LT(std::abs(p.busbw_error), 0.15) << p.row.id << " " << p.row.bytes << " B: predicted "
                                               << p.predicted_busbw << " GB/s, measured " << p.row.busbw_GBps;
    }
  EXPECT_GE(n, 5);
}

TEST(CollectiveValidation, TwoNodeH100LargeMessagesWithin25Percent) {
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("aw-p5", 0) == 0 && p.row.bytes >= (64ull << 20)) {
      ++n;
      const KnownGap* g = known_gap(p.row.id);
      EXPECT_LT(std::abs(p.busbw_error), g ? g->bound : 0.25)
          << p.row.id << " " << p.row.bytes << " B: predicted " << p.predicted_busbw << " GB/s, measured "
          << p.row.busbw_GBps << (g ? std::string(" (known gap: ") + g->reason + ")" : "");
    }
  EXPECT_GE(n, 5);
}

TEST(CollectiveValidation, TwoNodeMidSizeRunsNvlsTreeWithin25Percent) {
  // Not bounded by the issue: 2-32 MiB across two p5 nodes, held to the two-node bound so that the
  // mechanisms cannot regress unnoticed. 8-32 MiB run NCCL's NVLS-tree, whose pipeline is only a few
  // loops deep and fills and drains by whole loops; 1-4 MiB tree/LL128, once the library's estimate
  // counts NVLS-tree's per-channel network messages (coll43: aw-p5-018 +20.7 -> -5.2%).
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("aw-p5", 0) == 0 && p.row.bytes >= (2ull << 20) && p.row.bytes < (64ull << 20)) {
      ++n;
      EXPECT_EQ(p.algo.rfind(p.row.bytes <= (4ull << 20) ? "tree/ll128" : "hierarchical", 0), 0u) << p.row.id << ": " << p.algo;
      EXPECT_LT(std::abs(p.time_error), 0.25) << p.row.id << " " << p.row.bytes << " B: predicted "
                                              << p.predicted_time_us << " us, measured " << p.measured_time_us;
    }
  EXPECT_GE(n, 5);
}

TEST(CollectiveValidation, TwoNodeTreeMidSizeHeldToItsGaps) {
  // 16 KiB - 1 MiB across two p5 nodes (tree/LL, tree/LL128), not bounded by the issue: each row within the
  // two-node bound of 25% or, listed in kKnownGaps, within its own bound, so that no gap can grow
  // unnoticed.
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("aw-p5", 0) == 0 && p.row.bytes > 8192 && p.row.bytes < (2ull << 20)) {
      ++n;
      const KnownGap* g = known_gap(p.row.id);
      EXPECT_LT(std::abs(p.time_error), g ? g->bound : 0.25)
          << p.row.id << " " << p.row.bytes << " B: predicted " << p.predicted_time_us << " us, measured "
          << p.measured_time_us << (g ? std::string(" (known gap: ") + g->reason + ")" : "");
    }
  EXPECT_EQ(n, 7);
}

TEST(CollectiveValidation, TwoNodeTreeTimeRisesWithItsChannels) {
  // Two p5 nodes, tree/LL from 4 to 64 KiB: NCCL runs 1, 2, 4, 8, 16 channels (4 KiB each), and each
  // tree's channels cross a node boundary at one GPU whose proxy completes their network operations one
  // after another (2 us each on p5's AMD host, NCCL tuning.cc getNetOverhead). The measured time rises
  // with the channels, by 25.2 us from 4 to 64 KiB in the log's in-place column and 56.5 us in the
  // out-of-place one the rows hold (aws-samples/awsome-distributed-training nccl-tests README, p5
  // block: 78.55 / 103.8 us in place); the modeled rise lies between the two and the time rises at
  // every step; at 128 KiB each channel's 16 KiB message leaves the eager path and the time drops, as
  // measured (135.1 -> 108.9 us). 128 - 512 KiB within the two-node 25%.
  std::map<std::uint64_t, const CollectivePoint*> at;
  for (const auto& p : points())
    if (p.row.id.rfind("aw-p5", 0) == 0 && p.row.bytes >= 4096 && p.row.bytes <= 512 * 1024) at[p.row.bytes] = &p;
  ASSERT_EQ(at.size(), 8u);
  for (std::uint64_t b = 4096; b < 65536; b *= 2) {
    EXPECT_EQ(at[b]->algo, "tree/ll") << b;
    EXPECT_GT(at[2 * b]->predicted_time_us, at[b]->predicted_time_us) << 2 * b << " B against " << b;
    EXPECT_GT(at[2 * b]->measured_time_us, at[b]->measured_time_us) << 2 * b << " B: the measurement itself";
  }
  const double rise = at[65536]->predicted_time_us - at[4096]->predicted_time_us;
  const double in_place_rise = 103.8 - 78.55, out_of_place_rise = at[65536]->measured_time_us - at[4096]->measured_time_us;
  EXPECT_GE(rise, 0.9 * in_place_rise) << "modeled rise " << rise << " us";
  EXPECT_LE(rise, out_of_place_rise) << "modeled rise " << rise << " us";
  EXPECT_LT(at[131072]->predicted_time_us, at[65536]->predicted_time_us);
  for (std::uint64_t b = 131072; b <= 512 * 1024; b *= 2)
    EXPECT_LT(std::abs(at[b]->time_error), 0.25) << b << " B: predicted " << at[b]->predicted_time_us << " us, measured "
                                                 << at[b]->measured_time_us << " (" << at[b]->algo << ")";
}

TEST(CollectiveValidation, SingleNodeNvlsMidSizeHeldToItsGaps) {
  // 16 KiB - 1 MiB on one HGX H100 node (NVLS), not bounded by the issue: each row within 25% in time
  // or, listed in kKnownGaps, within its own bound. Copies spread over all 16 channels, as before
  // NCCL's per-channel split was modeled, put 008-010 at -38/-35/-30%.
  int n = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("az-h100", 0) == 0 && p.row.bytes > 8192 && p.row.bytes < (2ull << 20)) {
      ++n;
      const KnownGap* g = known_gap(p.row.id);
      EXPECT_LT(std::abs(p.time_error), g ? g->bound : 0.25)
          << p.row.id << " " << p.row.bytes << " B: predicted " << p.predicted_time_us << " us, measured "
          << p.measured_time_us << (g ? std::string(" (known gap: ") + g->reason + ")" : "");
    }
  EXPECT_EQ(n, 7);
}

TEST(CollectiveValidation, SingleNodeH200NvlsUnderNccl220HasNoMidSizeJump) {
  // Azure ND H200 v5 (Azure/AI-benchmarking-guide ND_H200_v5_results.md @ 7f20e5fa): the same NVLink4 +
  // NVSwitch fabric and the same forced-NVLS nccl-tests run as az-h100, under NCCL 2.20.5 instead of
  // 2.18.5. Its measured time is flat from 1 KiB to 512 KiB (29.9-31.2 us): no jump at 64 KiB, where the
  // H100 rows leap from 33.5 to a 42 us plateau (kNvlsMidSize). NCCL's 2.19-2.20 era enqueue.cc gives
  // each channel a contiguous part of a one-node NVLS all-reduce (addCBDCollToPlan: bytes / channels)
  // where 2.18 gave channel b the b-th heads x chunk of each loop, so the H100 plateau belongs to 2.18's one-channel loops, not to the
  // fabric. Held: the data's flatness (the claim above), >= 64 MiB in bus bandwidth within the
  // single-node 15%, every other row within 20% in time (<= 32 KiB are 16-19% fast: the H200 run's
  // floor is 30 us against the H100 run's 25.6 us and NCCL's 23-25 us NVLS latency, not modeled).
  int n = 0, large = 0;
  double t1k = 0;
  for (const auto& p : points())
    if (p.row.id.rfind("az-h200", 0) == 0 && p.row.bytes == 1024) t1k = p.measured_time_us;
  ASSERT_GT(t1k, 0.0);
  for (const auto& p : points()) {
    if (p.row.id.rfind("az-h200", 0) != 0) continue;
    ++n;
    EXPECT_EQ(p.preset, "hgx-h200x8") << p.row.id;
    EXPECT_EQ(p.algo, "nvls/simple") << p.row.id;
    EXPECT_EQ(known_gap(p.row.id), nullptr) << p.row.id;
    if (p.row.bytes <= 512 * 1024) {
      EXPECT_LT(std::abs(p.measured_time_us / t1k - 1), 0.05) << p.row.id << ": the measurement itself";
    }
    if (p.row.bytes >= 64 * kMiB) {
      ++large;
      EXPECT_LT(std::abs(p.busbw_error), 0.15) << p.row.id << ": predicted " << p.predicted_busbw << " GB/s, measured "
                                               << p.row.busbw_GBps;
    } else {
      EXPECT_LT(std::abs(p.time_error), 0.20) << p.row.id << ": predicted " << p.predicted_time_us << " us, measured "
                                              << p.measured_time_us;
    }
  }
  EXPECT_EQ(n, 22);  // 1 KiB - 2 GiB (points() leaves out 4-8 GiB)
  EXPECT_EQ(large, 6);
}

TEST(CollectiveValidation, SmallMessageTimeWithin30Percent) {
  // Latency-bound rows: at most 8 KiB, where the bytes take under 0.1 us on any link, on one node and
  // on two p5 nodes over EFA.
  int one = 0, two = 0;
  for (const auto& p : points()) {
    if (p.row.bytes > 8192) continue;
    bool single = p.row.id.rfind("az-h100", 0) == 0, dual = p.row.id.rfind("aw-p5", 0) == 0;
    if (!single && !dual) continue;
    (single ? one : two)++;
    const KnownGap* g = known_gap(p.row.id);
    EXPECT_LT(std::abs(p.time_error), g ? g->bound : 0.30)
        << p.row.id << " " << p.row.bytes << " B: predicted " << p.predicted_time_us << " us, measured "
        << p.measured_time_us << (g ? std::string(" (known gap: ") + g->reason + ")" : "");
  }
  EXPECT_GE(one, 4);
  EXPECT_GE(two, 10);
}

TEST(CollectiveValidation, TrainiumTwoCoresOfOneChipWithin10Percent) {
  // nccom-test's 2-rank all-reduce: the two NeuronCores of one chip, the hop a DMA through the chip's
  // HBM. >= 16 MiB is bound by the collective engine (library.engine_bandwidth, 56.7 GB/s, from the same
  // table's 1 GiB row): bus bandwidth within 10%; below, the floor (launch_latency, from the 58 us rows)
  // plus the transfer: time within 10%.
  auto large = rows_of("nc-2r", 16 * kMiB, ~0ull), small = rows_of("nc-2r", 0, 16 * kMiB - 1);
  for (const auto* p : large)
    EXPECT_LT(std::abs(p->busbw_error), 0.10) << p->row.id << ": predicted " << p->predicted_busbw << " GB/s, measured "
                                              << p->row.busbw_GBps << " (" << p->algo << ")";
  for (const auto* p : small)
    EXPECT_LT(std::abs(p->time_error), 0.10) << p->row.id << ": predicted " << p->predicted_time_us << " us, measured "
                                             << p->measured_time_us;
  EXPECT_EQ(large.size(), 4u);
  EXPECT_EQ(small.size(), 7u);
}

TEST(CollectiveValidation, TrainiumTwoInstancesLargeWithin25PercentAndFloorWithin10) {
  // nccom-test's 64-rank all-reduce over two trn1.32xlarge (every NeuronCore), hierarchical: >= 128 MiB
  // in bus bandwidth within 25%; the floor (8-128 B; library.network_launch_latency from the 8-64 B
  // rows) within 10% in time; 256 B - 64 MiB are known gaps, each held to its own bound.
  auto large = rows_of("nc-64r", 128 * kMiB, ~0ull), floor = rows_of("nc-64r", 0, 128);
  for (const auto* p : large) {
    EXPECT_EQ(p->algo.rfind("hierarchical", 0), 0u) << p->row.id << ": " << p->algo;
    EXPECT_LT(std::abs(p->busbw_error), 0.25) << p->row.id << ": predicted " << p->predicted_busbw << " GB/s, measured "
                                              << p->row.busbw_GBps;
  }
  for (const auto* p : floor)
    EXPECT_LT(std::abs(p->time_error), 0.10) << p->row.id << ": predicted " << p->predicted_time_us << " us, measured "
                                             << p->measured_time_us;
  for (const auto* p : rows_of("nc-64r", 129, 128 * kMiB - 1)) {
    const KnownGap* g = known_gap(p->row.id);
    EXPECT_LT(std::abs(p->time_error), g ? g->bound : 0.25)
        << p->row.id << ": predicted " << p->predicted_time_us << " us, measured " << p->measured_time_us
        << (g ? std::string(" (known gap: ") + g->reason + ")" : "");
  }
  EXPECT_EQ(large.size(), 4u);
  EXPECT_EQ(floor.size(), 5u);
}

TEST(CollectiveValidation, TrainiumOneInstanceAllGatherRunsTheRingWithin10Percent) {
  // nccom-test's 32-rank all-gather on one trn1.32xlarge (the same 2.10-era guide): 149-151 us from 1 to
  // 64 KiB is a 31-step ring at the 2-rank rows' costs (launch 52 us, ~3 us a step), not the 7-step
  // torus (73 us, -52%), which Neuron's runtime does not have ([INTRA]: Ring, Mesh, KangaRing, RDH):
  // trn1-32xl-cores offers rings, run as the torus' disjoint cycles both ways. 512 KiB (16 KiB per step
  // and core) is 17% fast: a known gap (the per-step DMA cost of a 16 KiB chunk is not modeled).
  const auto small = rows_of("nc-32r-ag", 0, 64 * 1024), mid = rows_of("nc-32r-ag", 64 * 1024 + 1, ~0ull);
  for (const auto* p : small) {
    EXPECT_EQ(p->algo, "ring/simple") << p->row.id;
    EXPECT_LT(std::abs(p->time_error), 0.10) << p->row.id << ": predicted " << p->predicted_time_us << " us, measured "
                                             << p->measured_time_us;
  }
  for (const auto* p : mid) EXPECT_LT(std::abs(p->time_error), 0.20) << p->row.id << ": " << p->predicted_time_us << " us";
  EXPECT_EQ(small.size(), 3u);
  EXPECT_EQ(mid.size(), 1u);
}

TEST(CollectiveValidation, Tpu7xAllGatherOverA2x2PlaneWithin10Percent) {
  // AI-Hypercomputer/accelerator-microbenchmarks' Ironwood all-gather guide (issue 14): 4-way gathers
  // over a 2x2 plane of TPU7x chips (2x2x1 and 2x2x2 slices), two groups per chip (one per TensorCore),
  // as one chip-level gather of both groups' shards. Each chip receives over its two ICI links, so no
  // prediction may pass 2 x 90 GB/s. Every row within 10% in time: the transfer at the links' rate plus
  // the SparseCore-offloaded op's fixed cost (tpu_v7_64.yaml library.launch_latency, one constant from
  // the table's flat 13-17 us above the transfer; the 2-8 MiB rows were -21..-46% with the inherited
  // 2 us), and from 32 MiB within 2%, where the fixed cost is under a tenth of the time.
  const double kTwoLinksGBps = 2 * 90.0;
  int n = 0, large = 0;
  for (const auto& p : points()) {
    if (p.row.id.rfind("t7x-", 0) != 0) continue;
    ++n;
    EXPECT_EQ(p.preset, "tpu-v7-64") << p.row.id;
    EXPECT_EQ(p.algo, "torus/simple") << p.row.id;
    EXPECT_LE(p.predicted_busbw, kTwoLinksGBps) << p.row.id;
    EXPECT_LE(p.row.busbw_GBps, kTwoLinksGBps) << p.row.id << ": the measurement itself";
    EXPECT_EQ(known_gap(p.row.id), nullptr) << p.row.id;
    EXPECT_LT(std::abs(p.time_error), 0.10) << p.row.id << ": predicted " << p.predicted_time_us << " us, measured "
                                            << p.measured_time_us;
    if (p.row.bytes >= 32 * kMiB) {
      ++large;
      EXPECT_LT(std::abs(p.time_error), 0.02) << p.row.id << ": predicted " << p.predicted_time_us << " us, measured "
                                              << p.measured_time_us;
    }
  }
  EXPECT_EQ(n, 10);
  EXPECT_EQ(large, 6);
}

TEST(CollectiveValidation, TpuCollectivePermuteOnV5p8AndV6e8Within15Percent) {
  // marin-community/marin issue #6736 (2026-06-28): jax.lax.ppermute of 1 and 64 MiB per device on TPU
  // v5p-8 (2x2x1, 4 chips) and v6e-8 (2x4, 8 chips), device-side loop slopes; the permutation is not
  // stated there, a neighbour shift is assumed (the rows' notes): the library's send/recv over the
  // preset's ring, each chip's buffer over one ICI link. No prediction or measurement may pass that
  // link's 90 GB/s. 64 MiB within 3%: one remote DMA at the link rate x the scaling book's 95%
  // (library.p2p_remote_dma; sliced through a staging window of 2 MiB slices, each waiting for the one
  // before, it was +4.8/+5.5%). 1 MiB within 15%: the library's assumed fixed costs, 3.5 us against
  // the source's ~4.5-5.9 us at 1-16 KiB (-7/-10%).
  const double kOneLinkGBps = 90.0;
  int n = 0;
  for (const auto& p : points()) {
    if (p.row.id.rfind("marin-", 0) != 0) continue;
    ++n;
    EXPECT_EQ(p.preset, p.row.n_chips == 4 ? "tpu-v5p-8" : "tpu-v6e-8") << p.row.id;
    EXPECT_EQ(p.algo, "ring/simple") << p.row.id;
    EXPECT_LE(p.predicted_busbw, kOneLinkGBps) << p.row.id;
    EXPECT_LE(p.row.busbw_GBps, kOneLinkGBps) << p.row.id << ": the measurement itself";
    EXPECT_EQ(known_gap(p.row.id), nullptr) << p.row.id;
    EXPECT_LT(std::abs(p.time_error), p.row.bytes >= 64 * kMiB ? 0.03 : 0.15)
        << p.row.id << ": predicted " << p.predicted_time_us << " us, measured " << p.measured_time_us;
  }
  EXPECT_EQ(n, 4);
}

// Serving stacks' own all-reduce kernels timed by their own benchmark (rows with a `stack`), each kernel forced as
// the benchmark forces it, through `kernel allreduce --stack`'s path: the stack's 8 rows, on `preset`, each
// within `bound(row)`.
static void expect_stack_rows(const std::string& stack, const std::string& preset, double (*bound)(const CollectiveRow&)) {
  std::vector<CollectiveRow> sel;
  for (const auto& r : read_collective_rows(default_collectives_csv()))
    if (r.stack == stack) sel.push_back(r);
  const std::vector<CollectivePoint> pts = validate_collectives(sel);
  ASSERT_EQ(pts.size(), 8u) << stack;
  for (const auto& p : pts) {
    EXPECT_EQ(p.preset, preset) << p.row.id;
    EXPECT_EQ(p.algo, p.row.algorithm + "/" + stack) << p.row.id;
    EXPECT_LT(std::abs(p.time_error), bound(p.row))
        << p.row.id << ": predicted " << p.predicted_time_us << " us, measured " << p.measured_time_us;
  }
}

// vLLM PR #24111's H100 SXM TP4 table (benchmark_device_communicators.py, bf16 (N, 8192) tensors of 0.5-4 MB in a
// CUDA graph). Within 20% per row: the peers' round trip (library.custom_peer_latency) is one constant for both
// kernels and every size, so the rows check the mechanism's shape, not a fit per row.
TEST(CollectiveValidation, VllmCustomAllReduceKernelsWithin20Percent) {
  expect_stack_rows("vllm", "hgx-h100x8", [](const CollectiveRow&) { return 0.20; });
}

// TensorRT-LLM's own one-shot and two-shot on 4 GB200s (TensorRT-LLM PR #14534's table, median CUDA-event time,
// bf16, 8-64 MiB) at library.custom_peer_bandwidth (one rate for both kernels, from the table's 32 -> 64 MiB
// slopes): every row within 25% (the two-shot's 8 MiB rows are the worst, -18/-24%: its fixed costs, or the
// table's timing floor, which its smaller shapes show flat at 38 us), and 32-64 MiB within 15%.
TEST(CollectiveValidation, TrtllmCustomAllReduceKernelsOnGb200Within25Percent) {
  expect_stack_rows("trtllm", "gb200-nvl72", [](const CollectiveRow& r) { return r.bytes >= 32 * kMiB ? 0.15 : 0.25; });
}

TEST(CollectiveValidation, EveryRowIsModeledOrSkippedWithAReason) {
  // One small row of each system, and the row no preset can express: each is either simulated or named
  // with the reason, never dropped.
  std::vector<CollectiveRow> sel;
  for (const auto& r : read_collective_rows(default_collectives_csv()))
    for (const char* id :
         {"az-h100-001", "az-h200-001", "aw-p5-001", "nc-2r-001", "nc-64r-001", "tpu-sb-001", "tpu-sb-003",
          "t7x-ag221-001"})
      if (r.id == id) sel.push_back(r);
  ASSERT_EQ(sel.size(), 8u);
  std::vector<CollectiveSkip> skipped;
  std::vector<CollectivePoint> pts = validate_collectives(sel, &skipped);
  EXPECT_EQ(pts.size(), 7u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].id, "tpu-sb-001");
  EXPECT_NE(skipped[0].reason.find("not nccl busbw"), std::string::npos) << skipped[0].reason;
  CollectiveRow other = sel[0];
  other.id = "x-1", other.system = "Gaudi 3 x8";
  skipped.clear();
  EXPECT_TRUE(validate_collectives({other}, &skipped).empty());
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].reason.find("no system preset for 'Gaudi 3 x8'"), std::string::npos) << skipped[0].reason;
}

TEST(CollectiveValidation, KnownGapsAreStillGaps) {
  // A known gap that the model has closed must leave the list (and take the class bound).
  const std::vector<CollectivePoint> gaps = validate_where([](const CollectiveRow& r) { return known_gap(r.id) != nullptr; });
  for (const auto& g : kKnownGaps) {
    bool found = false;
    for (const auto& p : gaps)
      if (p.row.id == g.id) {
        found = true;
        EXPECT_GE(std::abs(p.time_error), g.class_bound) << g.id << " is within the class bound now; remove it from kKnownGaps";
      }
    EXPECT_TRUE(found) << g.id << " is not a validated row";
  }
}
