// NCCL's own estimate of an all-reduce across nodes, by which it picks the protocol: the latency and
// bandwidth table of its tuner, NCCL 2.20.3 (NVIDIA/nccl@b6475625, src/graph/tuning.cc).
#include <algorithm>
#include <cmath>

#include "kernels/collective/algorithms.h"

namespace xpu::coll {
namespace {
// Every figure below is NCCL's own constant from ncclTopoTuneModel and ncclTopoGetAlgoTime of that
// commit, in microseconds and GB/s; none is fitted here. Rows: tree, ring; columns: LL, LL128, Simple.
constexpr double kBaseLatUs[2][3] = {{6.8, 14.0, 0}, {6.6, 14.0, 8.4}};    // baseLat
constexpr double kNvlinkLatUs[2][3] = {{0.6, 1.25, 28}, {0.6, 1.9, 3.4}};  // hwLat[NCCL_HW_NVLINK]
constexpr double kNetLatUs[2][3] = {{5.0, 8.5, 28}, {2.7, 4.0, 14.0}};     // hwLat[NCCL_HW_NET]
// Per-channel caps for compute capability 9.0 and later (NCCL 2.20 has no newer row), by node count
// (2 nodes, more): perChMaxTreeBws, perChMaxTreeLL128Bws, perChMaxRingLL128Bws; across nodes the LL cap
// (llMaxBws) goes by the host CPU: AMD {22.5, 19.0}, else {39.0, 20.4}.
constexpr double kTreeBw[2] = {41.4, 36.0}, kTreeLl128Bw[2] = {36.7, 29.0}, kRingLl128Bw = 36.7;
constexpr double kLlMaxBwAmd[2] = {22.5, 19.0}, kLlMaxBwOther[2] = {39.0, 20.4};
// treeCorrectionFactor: the tree's bandwidth scaled by message size, powers of two from 64 B.
constexpr double kTreeCorrection[3][23] = {
    {1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0, 1.0, 1.0},
    {1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1.0, 1.0},
    {.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9}};

int log2i(std::uint64_t n) {  // NCCL's log2i: floor of log2, 0 for 0
  int l = 0;
  while (n >>= 1) ++l;
  return l;
}
int proto_index(const std::string& p) { return p == "ll" ? 0 : p == "ll128" ? 1 : p == "simple" ? 2 : -1; }

double net_post_us(const SystemSpec& s, int p) { return (s.host_cpu == "amd" ? 2.0 : 1.0) * (p == 2 ? 3 : 1); }

// NCCL's latency for algorithm row `a` (0 tree, 1 ring) and protocol `p`, NVLink inside the node.
double latency_us(const SystemSpec& s, int a, int p, int ranks) {
  const int ppn = ranks / s.nodes;
  double intra = kNvlinkLatUs[a][p];
  double inter = kNetLatUs[a][p] + s.net_latency.value() * 1e6;
  if (p == 2) inter += s.net_latency.value() * 1e6;  // the simple protocol's flush
  if (a == 0) return kBaseLatUs[a][p] + 2 * ((ppn - 1) * intra + log2i(static_cast<std::uint64_t>(s.nodes)) * inter);
  const int steps = 2 * (ranks - 1), inter_steps = 2 * s.nodes;
  // Every ring step still posts to the network (getNetOverhead: 2 us on AMD hosts, else 1; x3 simple).
  intra = std::max(intra, net_post_us(s, p));
  return kBaseLatUs[a][p] + (steps - inter_steps) * intra + inter_steps * inter;
}

// NCCL's algorithm bandwidth (GB/s). Assumed: NCCL's graph search finds channels that together carry the
// chip's scale-up link rate (up to 2 nodes NCCL uses the intra-node figure) or its NIC rate (more nodes).
double bandwidth_gbs(const SystemSpec& s, int a, int p, int ranks) {
  const int big = s.nodes > 2 ? 1 : 0;
  const double ch = s.channels, ppn = static_cast<double>(ranks) / s.nodes;
  const double ll_max = (s.host_cpu == "amd" ? kLlMaxBwAmd : kLlMaxBwOther)[big];
  double bus = (s.nodes <= 2 ? s.link.bandwidth.value() : s.nic.bandwidth.value()) / 1e9;
  if (a == 1) {  // ring all-reduce
    if (p == 0) bus = std::min(ll_max, bus / 4);
    if (p == 1) bus = std::min(bus * (ppn < 2 ? 0.7 : 0.92), ch * kRingLl128Bw);
    return bus * ranks / (2.0 * (ranks - 1));
  }
  bus = std::min(bus * 0.92, ch * kTreeBw[big]);
  if (p == 0) bus = std::min(bus / 3.8, ll_max);
  if (p == 1) bus = std::min(bus * 120.0 / 128.0, ch * kTreeLl128Bw[big]);
  return bus * 0.5;
}
}  // namespace

double nccl_net_post_us(const SystemSpec& s, const std::string& proto) {
  const int p = proto_index(proto);
  return s.library == "nccl" && p >= 0 ? net_post_us(s, p) : 0.0;
}

int nccl_tree_channels(const SystemSpec& s, const std::string& proto, std::uint64_t bytes) {
  const int p = proto_index(proto);
  if (s.library != "nccl" || p < 0) return s.channels;
  // NCCL's tree channel tuning (src/enqueue.cc getAlgoInfo; the same rule in 2.18-2.20): drop a
  // channel while the message is smaller than channels x threads x threshold, then halve the threads
  // down to 128 (a smaller block, not more channels). Threads: NCCL_LL_MAX_NTHREADS 512,
  // NCCL_LL128_MAX_NTHREADS 640, NCCL_SIMPLE_MAX_NTHREADS 512 (src/include/device.h); thresholds
  // NCCL_LL_THREAD_THRESHOLD 8, NCCL_LL128_THREAD_THRESHOLD 8, NCCL_SIMPLE_THREAD_THRESHOLD 64 (the tree's
  // "threadThresholds 8/8/64" an NCCL log prints, aws/aws-ofi-nccl#65). So LL keeps 4 KiB per channel.
  constexpr int kThreads[3] = {512, 640, 512}, kThreshold[3] = {8, 8, 64};
  int nc = std::max(s.channels, 1);
  const double b = static_cast<double>(bytes);
  while (nc > 1 && b < static_cast<double>(nc) * kThreads[p] * kThreshold[p]) --nc;
  return nc;
}

double nccl_tuner_us(const SystemSpec& s, CollKind kind, const std::string& algo, const std::string& proto,
                     std::uint64_t bytes) {
  const int a = algo == "tree" ? 0 : algo == "ring" ? 1 : -1, p = proto_index(proto);
  if (s.library != "nccl" || s.nodes < 2 || kind != CollKind::AllReduce || a < 0 || p < 0) return -1;
  const int ranks = s.chips * s.nodes;
  double lat = latency_us(s, a, p, ranks), bw = bandwidth_gbs(s, a, p, ranks);
  const int log_size = log2i(bytes >> 6);
  if (a == 0 && log_size < 23) bw *= kTreeCorrection[p][log_size];
  // Ring's plateau: the simple ring's latency x1.4 (compute capability 8.0 and later) once each channel
  // and rank has 64 B or more.
  if (a == 1 && p == 2 && static_cast<double>(bytes) / (s.channels * ranks) >= 64) lat *= 1.4;
  return lat + static_cast<double>(bytes) / (1000 * bw);
}

}  // namespace xpu::coll
