// GEMM on the Maia family. The heuristic: for every grid pr x pc of a cluster's tiles, every tile
// sub-block tm x tn (multiples of the TTU's 16 x 16, up to 512) and every split-K factor (only when
// the cluster blocks would leave clusters idle) whose buffers fit TSRAM (fp32 accumulators, double-
// buffered operands, conversion buffers) and CSRAM (a 3-deep staging ring), estimate the time as
// rounds of cluster blocks x the slowest of: TTU steps (partial 16 x R x 16 blocks count whole), the
// cluster's share of HBM (reads that the round's clusters share counted once: the NoC multicasts
// them), its NoC port, the tile DMA port and the CSRAM banks; add each round's pipeline fill, the
// epilogue and the split-K reduction; keep the cheapest (of estimates within 2%, the one that stages
// fewer operands in CSRAM, then the one that loads its other resources least).
// An operand that several tiles of a cluster share (A when pc > 1, B when pr > 1) is staged once into
// CSRAM by the cluster DMA (each tile issues its 1/P share) and read from there by every tile that
// needs it: one HBM read feeds the cluster. Other operands go HBM -> TSRAM directly.
#include "kernels/gemm/maia.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <sstream>

#include "kernels/maia_builders.h"
#include "kernels/maia_lowerings.h"

namespace xpu::maia {

std::string GemmTiling::str() const {
  std::ostringstream os;
  os << "grid " << pr << "x" << pc << " of " << tm << "x" << tn << ", kc " << kc << " x" << nbuf << " buffers, split-k "
     << split_k << ", A " << (stage_a ? (whole_a ? "staged once" : "staged") : "direct") << ", weights "
     << (pinned ? "in SRAM" : (stage_b ? "HBM staged" : "HBM direct"));
  return os.str();
}

namespace {

std::vector<std::int64_t> gemm_groups(const OpSpec& op) {
  if (op.kind == OpKind::GroupedGemm) return op.group_rows;
  return std::vector<std::int64_t>(static_cast<size_t>(op.batch), op.m);
}

double gemm_weight_bytes(const OpSpec& op) {
  double groups = op.kind == OpKind::GroupedGemm ? static_cast<double>(op.group_rows.size()) : static_cast<double>(op.batch);
  return groups * op.k * op.n * bytes_per_element(op.wdtype);
}

std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

int kc_for(const MaiaSpec& s, const MatmulFormat& f) {
  int depth = s.ttu_depth(f.rate);
  double e = std::max(bytes_per_element(f.act), bytes_per_element(f.wt));
  int n = std::max(1, static_cast<int>(256.0 / (depth * e)));  // about 256 bytes of K per row per step
  return n * depth;
}

struct Shape {
  std::vector<std::int64_t> rows;
  std::int64_t max_rows = 0, total_rows = 0;
};

Shape shape_of(const OpSpec& op) {
  Shape s;
  s.rows = gemm_groups(op);
  for (auto r : s.rows) s.max_rows = std::max(s.max_rows, r), s.total_rows += r;
  return s;
}

// Cluster jobs, numbered (group, cluster-block row, cluster-block column, K slice) with the groups
// stacked in A and C: one numbering for the tiling estimate and for the programs it chooses.
struct JobGroup {
  std::int64_t rows, row0, blocks_m, job0;  // job0: the group's first cluster block
};

struct JobCoord {
  size_t group;
  std::int64_t bm, bn;
  int ks;
};

struct JobLayout {
  std::vector<JobGroup> groups;
  std::int64_t tiles_n = 0, blocks = 0, rows_total = 0;
  int split_k = 1;

  JobLayout() = default;
  JobLayout(const std::vector<std::int64_t>& rows, std::int64_t n, std::int64_t CM, std::int64_t CN, int sk)
      : tiles_n(ceil_div(n, CN)), split_k(sk) {
    for (auto r : rows) {
      groups.push_back({r, rows_total, r > 0 ? ceil_div(r, CM) : 0, blocks});
      blocks += groups.back().blocks_m * tiles_n;
      rows_total += r;
    }
  }
  std::int64_t jobs() const { return blocks * split_k; }
  // The last group whose first block is at or before the job's (empty groups hold no block).
  JobCoord at(std::int64_t job) const {
    const std::int64_t block = job / split_k;
    size_t gi = 0;
    while (gi + 1 < groups.size() && groups[gi + 1].job0 <= block) ++gi;
    const std::int64_t local = block - groups[gi].job0;
    return {gi, local / tiles_n, local % tiles_n, static_cast<int>(job % split_k)};
  }
};

// TSRAM bytes of one K step's operands (plus the 16-bit originals when they are converted).
double operand_chunk(const GemmTiling& t, const MatmulFormat& f, const OpSpec& op) {
  double c = t.tm * double(t.kc) * bytes_per_element(f.act) + double(t.kc) * t.tn * bytes_per_element(f.wt);
  if (f.convert_act) c += t.tm * double(t.kc) * bytes_per_element(op.dtype);
  if (f.convert_wt) c += double(t.kc) * t.tn * bytes_per_element(op.wdtype);
  return c;
}

// The HBM reads one round of cluster jobs needs, in units of the A block and the B block: the
// clusters of a round run in step, so those that read the same A rows (same block row and K slice) or
// the same weight columns (same block column and K slice) at once are served by one HBM read that the
// NoC multicasts (MaiaMemory::hbm_access joins an in-flight read), as the simulation does. Jobs are
// numbered as JobLayout numbers them.
struct RoundReads {
  double a_blocks = 0, b_blocks = 0;
};

RoundReads round_reads(const JobLayout& L, std::int64_t active) {
  std::vector<std::array<std::int64_t, 3>> a, b;
  for (std::int64_t job = 0; job < active; ++job) {
    const JobCoord c = L.at(job);
    const std::array<std::int64_t, 3> ka{std::int64_t(c.group), c.bm, c.ks}, kb{std::int64_t(c.group), c.bn, c.ks};
    if (std::find(a.begin(), a.end(), ka) == a.end()) a.push_back(ka);
    if (std::find(b.begin(), b.end(), kb) == b.end()) b.push_back(kb);
  }
  return {double(a.size()), double(b.size())};
}

constexpr int kMaxBuffers = 16;  // TSRAM operand buffers in flight (prefetch depth) at most

double tsram_need(const GemmTiling& t, const MatmulFormat& f, const OpSpec& op) {
  // fp32 accumulators (converted to the output format in place) and `nbuf` operand buffers.
  return t.tm * static_cast<double>(t.tn) * 4.0 + t.nbuf * operand_chunk(t, f, op);
}

// `pressure` (optional): the sum of the job's resource times, every resource's load and not only the
// binding one's; of tilings with equal estimates, the one with more slack elsewhere loses less when
// resources that the estimate takes as independent (ports, CSRAM, HBM, latency) interfere.
// `jl` and `rr`: the tiling's job layout and its first round's reads (independent of the prefetch depth).
double estimate(const OpSpec& op, const MaiaSpec& s, const GemmTiling& t, const MatmulFormat& f, const Shape& sh,
                const JobLayout& jl, const RoundReads& rr, double* pressure = nullptr) {
  const double clk = s.clock.value();
  const int C = s.cluster.count, P = s.cluster.tiles;
  const std::int64_t CM = std::int64_t(t.pr) * t.tm, CN = std::int64_t(t.pc) * t.tn;
  const std::int64_t jobs = jl.jobs();
  const int depth = s.ttu_depth(f.rate);
  const std::int64_t ksteps = ceil_div(op.k, t.kc), per = ceil_div(ksteps, t.split_k);
  const double kslice = double(per) * t.kc;
  const double rounds = std::ceil(double(jobs) / C);
  const double active = std::min<double>(C, double(jobs));
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype);
  const double eo = t.split_k > 1 ? 4.0 : bytes_per_element(op.odtype);
  const double tm_eff = double(std::min<std::int64_t>(t.tm, round_up(sh.max_rows, s.ttu.rows)));
  const double rows_c = double(std::min<std::int64_t>(CM, sh.max_rows));
  const double t_ttu = std::ceil(tm_eff / s.ttu.rows) * std::ceil(double(t.tn) / s.ttu.cols) * (kslice / depth) / clk;
  double t_tvp = 0;
  if (f.convert_act) t_tvp += tm_eff * kslice / (s.tvp_flops_per_clk(op.dtype) > 0 ? s.tvp_flops_per_clk(op.dtype) : s.tvp.flops_fp32) / clk;
  if (f.convert_wt) t_tvp += kslice * t.tn / (s.tvp_flops_per_clk(op.wdtype) > 0 ? s.tvp_flops_per_clk(op.wdtype) : s.tvp.flops_fp32) / clk;
  const double a_bytes = rows_c * kslice * ea, b_bytes = t.pinned ? 0 : kslice * double(CN) * eb;
  const double out_bytes = rows_c * double(CN) * eo;
  // Each cluster's bytes cross its NoC port; HBM serves the round's distinct reads once (multicast).
  const double hbm_round = rr.a_blocks * a_bytes + rr.b_blocks * b_bytes + active * out_bytes;
  const double bw_c = std::min(s.noc_port_bw(), s.hbm_stream_bw() / hbm_round * (a_bytes + b_bytes + out_bytes));
  const double t_hbm = (a_bytes + b_bytes + out_bytes) / bw_c;
  const double tile_bytes = tm_eff * kslice * ea + kslice * t.tn * eb + tm_eff * t.tn * eo;
  const double t_port = tile_bytes / s.tile_dma_bw();
  double cs = 0;
  if (t.stage_a) cs += a_bytes + P * tm_eff * kslice * ea;
  if (t.stage_b) cs += b_bytes + P * kslice * t.tn * eb;
  if (t.pinned) cs += P * kslice * t.tn * eb;
  const double t_cs = cs / s.csram_bw();
  const double lat = s.hbm.latency.value();
  // Each K step's operands arrive after a memory latency and their transfer at the tile's share of
  // the cluster's bandwidth (its P tiles load at once); `nbuf` steps are in flight at once.
  const double step_lat = (t.pinned ? s.cluster.csram_latency.value()
                                    : lat + (t.stage_b ? s.cluster.csram_latency.value() : 0.0)) +
                          (tm_eff * t.kc * ea + double(t.kc) * t.tn * eb) / std::min(s.tile_dma_bw(), bw_c / P);
  const double t_lat = double(per) * step_lat / t.nbuf;
  const double t_job = std::max({t_ttu, t_tvp, t_hbm, t_port, t_cs, t_lat});
  if (pressure) *pressure = rounds * (t_ttu + t_tvp + t_hbm + t_port + t_cs + t_lat);
  const double prologue = lat + (t.stage_a || t.stage_b ? s.cluster.csram_latency.value() : 0) + t_job / per;
  const double epilogue = tm_eff * t.tn * eo / s.tile_dma_bw() + lat;
  double reduce = 0;
  if (t.split_k > 1)
    reduce = (double(sh.total_rows) * op.n * (4.0 * t.split_k + bytes_per_element(op.odtype))) / s.hbm_stream_bw() +
             s.launch_overhead.value() + lat;
  // A cluster takes its jobs one after another and prefetches only within a job: every round starts
  // its pipeline again (its first operands arrive after the memory latency).
  return rounds * (t_job + prologue) + epilogue + reduce;
}

// The prefetch depth of tiling `t`: the fewest TSRAM operand buffers (2..max_buf) whose estimate is
// within 1% of the deepest that fits. Buffers beyond those that hide the memory latency buy nothing
// and only put more of every tile's K steps in flight at once, which delays each tile's next needed
// chunk behind the others' far-ahead ones; a kernel writer sizes the ring to the latency, so more
// TSRAM never changes a depth that already suffices. Sets t.nbuf, t.tsram_bytes, t.estimate_s;
// false when no depth fits the CSRAM staging ring.
bool prefetch_depth(const OpSpec& op, const MaiaSpec& s, GemmTiling& t, const MatmulFormat& f, const Shape& sh, int max_buf,
                    double csram_work, double a_panel, double* pressure) {
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype);
  auto ring = [&](int nbuf) {
    return (nbuf + 1) * ((t.stage_a && !t.whole_a ? double(t.pr) * t.tm * t.kc * ea : 0) +
                         (t.stage_b ? double(t.kc) * t.pc * t.tn * eb : 0)) +
           (t.whole_a ? a_panel : 0);
  };
  int deepest = max_buf;
  while (deepest >= 2 && ring(deepest) > csram_work) --deepest;
  if (deepest < 2) return false;
  const JobLayout jl(sh.rows, op.n, std::int64_t(t.pr) * t.tm, std::int64_t(t.pc) * t.tn, t.split_k);
  const RoundReads rr = round_reads(jl, std::min<std::int64_t>(s.cluster.count, jl.jobs()));
  t.nbuf = deepest;
  const double floor_s = estimate(op, s, t, f, sh, jl, rr);
  for (int nb = 2; nb <= deepest; ++nb) {
    t.nbuf = nb;
    t.estimate_s = estimate(op, s, t, f, sh, jl, rr, pressure);
    if (t.estimate_s <= floor_s * 1.01) break;
  }
  t.tsram_bytes = tsram_need(t, f, op);
  return true;
}

}  // namespace

GemmTiling choose_gemm_tiling(const OpSpec& op, const MaiaSpec& s) {
  const MatmulFormat f = matmul_format(op, op.dtype, op.wdtype, s);
  const Shape sh = shape_of(op);
  const bool pinned = weights_pinned(op, s, gemm_weight_bytes(op));
  const int P = s.cluster.tiles, C = s.cluster.count;
  const double tsram_work = pinned ? s.placement.tsram_reserved.value() : s.tile.tsram.value();
  const double csram_work = pinned ? s.placement.csram_reserved.value() : s.cluster.csram.value();
  const int kc = kc_for(s, f);
  static const int sizes[] = {512, 256, 128, 64, 32, 16};
  struct Candidate {
    GemmTiling t;
    double pressure;
  };
  std::vector<Candidate> fits;
  for (int pr = 1; pr <= P; ++pr) {
    if (P % pr) continue;
    const int pc = P / pr;
    for (int tm : sizes) {
      if (tm % s.ttu.rows) continue;
      if (tm > s.ttu.rows && tm / 2 >= round_up(std::max<std::int64_t>(1, sh.max_rows), s.ttu.rows)) continue;
      for (int tn : sizes) {
        if (tn % s.ttu.cols) continue;
        if (tn > s.ttu.cols && tn / 2 >= round_up(op.n, s.ttu.cols)) continue;
        GemmTiling t;
        t.pr = pr, t.pc = pc, t.tm = tm, t.tn = tn, t.kc = kc, t.pinned = pinned;
        t.stage_a = pc > 1;
        t.stage_b = pr > 1 && !pinned;
        const double acc = double(tm) * tn * 4.0, chunk = operand_chunk(t, f, op);
        const int max_buf = static_cast<int>(std::min<double>(kMaxBuffers, std::floor((tsram_work - acc) / chunk)));
        if (max_buf < 2) continue;
        const double ea = bytes_per_element(op.dtype);
        // A small A panel (the cluster's rows over all of K) is staged once; otherwise per K step
        const double a_panel = double(pr) * std::min<std::int64_t>(tm, sh.max_rows) * double(op.k) * ea;
        // (small: its one transfer costs no more than a K step's chunk of a large tile, 64 KiB)
        t.whole_a = t.stage_a && a_panel <= 64.0 * 1024;
        const std::int64_t jobs1 = JobLayout(sh.rows, op.n, std::int64_t(pr) * tm, std::int64_t(pc) * tn, 1).jobs();
        const std::int64_t ksteps = ceil_div(op.k, kc);
        for (int sk : {1, 2, 3, 4, 6, 8, 12, 16}) {
          if (sk > 1 && (jobs1 * (sk / 2 > 0 ? sk / 2 : 1) >= C || ksteps / sk < 2)) break;
          // Every slice must own at least one K step (ceil-sized slices can leave the last one empty,
          // whose partial the reduction would still read).
          if (sk > 1 && (sk - 1) * ceil_div(ksteps, sk) >= ksteps) continue;
          t.split_k = sk;
          double pressure = 0;
          if (!prefetch_depth(op, s, t, f, sh, max_buf, csram_work, a_panel, &pressure)) continue;
          fits.push_back({t, pressure});
        }
      }
    }
  }
  // The cheapest estimate; of those within 2% of it (the estimate's resolution), the one that stages
  // fewer operands through CSRAM (each staged chunk is a cluster-wide hand-off that a tile's load
  // waits for: the simpler data path when both cost the same), then the least pressure.
  double fastest = 1e30;
  for (const Candidate& c : fits) fastest = std::min(fastest, c.t.estimate_s);
  const Candidate* best = nullptr;
  auto staged = [](const GemmTiling& t) { return int(t.stage_a) + int(t.stage_b); };
  for (const Candidate& c : fits) {
    if (c.t.estimate_s > fastest * 1.02) continue;
    if (!best || staged(c.t) < staged(best->t) || (staged(c.t) == staged(best->t) && c.pressure < best->pressure * 0.98))
      best = &c;
  }
  if (!best)
    throw InputError(s.name + ": no GEMM tiling fits TSRAM (" + format_bytes(tsram_work) + " per tile" +
                     (pinned ? ", placement.tsram_reserved while weights are pinned" : "") + ")", "",
                     (pinned ? s.placement.tsram_reserved : s.tile.tsram).str())
        .with_key("", pinned ? "placement.tsram_reserved" : "tile.tsram");
  return best->t;
}

KernelPrograms lower_gemm(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  op.validate();
  return lower_gemm(op, spec, opt, choose_gemm_tiling(op, spec));
}

namespace {

// What every tile's task needs (immutable, shared by the main kernel and the split-K reduction).
struct GemmJob {
  OpSpec o;
  GemmTiling t;
  MatmulFormat f;
  TensorRef A, B, C, W;
  double ea = 0, eb = 0, ec = 0;
  int clusters = 0, P = 0, T = 0;
  std::int64_t CM = 0, CN = 0, rounds = 0, ksteps = 0, per = 0;
  JobLayout layout;
  std::uint8_t wflag = 0;
  bool functional = false;
};

std::shared_ptr<const GemmJob> make_job(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt, const GemmTiling& t) {
  auto j = std::make_shared<GemmJob>();
  j->o = op, j->t = t;
  j->f = matmul_format(op, op.dtype, op.wdtype, spec);
  const std::string label = op.label.empty() ? "gemm" : op.label;
  j->A = opt.ref(label, "A"), j->B = opt.ref(label, "B"), j->C = opt.ref(label, "C"), j->W = opt.ref(label, "workspace");
  j->ea = bytes_per_element(op.dtype), j->eb = bytes_per_element(op.wdtype), j->ec = bytes_per_element(op.odtype);
  j->clusters = spec.cluster.count, j->P = spec.cluster.tiles, j->T = spec.tiles();
  j->CM = std::int64_t(t.pr) * t.tm, j->CN = std::int64_t(t.pc) * t.tn;
  j->layout = JobLayout(gemm_groups(op), op.n, j->CM, j->CN, t.split_k);
  j->rounds = ceil_div(j->layout.jobs(), j->clusters);
  j->ksteps = ceil_div(op.k, t.kc), j->per = ceil_div(j->ksteps, t.split_k);
  j->wflag = op.weights_stationary ? kWeights : 0;
  j->functional = opt.functional;
  return j;
}

// One tile's share of a cluster job: stages its 1/P share of the chunks the cluster shares into
// CSRAM, loads its own sub-block's operands, accumulates on the TTU and stores the tile.
class TileProgram {
 public:
  TileProgram(const GemmJob& j, std::uint64_t index, Task& task) : m_j(j), m_emit(task, j.functional), m_task(task) {
    const std::int64_t round = static_cast<std::int64_t>(index) / j.T;
    const int tile = static_cast<int>(index % static_cast<std::uint64_t>(j.T));
    const int cluster = tile / j.P;
    m_lane = tile % j.P;
    const std::int64_t job = round * j.clusters + cluster;
    m_idle = job >= j.layout.jobs();  // idle tile in the last round
    if (m_idle) return;
    const GemmTiling& t = j.t;
    const JobCoord c = j.layout.at(job);
    m_ks = c.ks;
    m_g = j.layout.groups[c.group];
    const std::int64_t bm = c.bm, bn = c.bn;
    m_jm0 = bm * j.CM, m_jn0 = bn * j.CN;  // cluster block origin
    m_jrows = std::min(j.CM, m_g.rows - m_jm0), m_jcols = std::min(j.CN, j.o.n - m_jn0);
    const int ir = m_lane / t.pc, jc = m_lane % t.pc;
    m_r0 = m_jm0 + std::int64_t(ir) * t.tm, m_c0 = m_jn0 + std::int64_t(jc) * t.tn;
    m_rows = std::max<std::int64_t>(0, std::min<std::int64_t>(t.tm, m_g.rows - m_r0));
    m_cols = std::max<std::int64_t>(0, std::min<std::int64_t>(t.tn, j.o.n - m_c0));
    m_works = m_rows > 0 && m_cols > 0;
    m_grow0 = m_g.row0 + m_r0;                      // row in the stacked A / C
    m_brow0 = static_cast<std::int64_t>(c.group) * j.o.k;  // this group's B rows (stacked)
    m_kbeg = m_ks * j.per, m_kend = std::min(j.ksteps, m_kbeg + j.per);
    m_nsteps = m_kend - m_kbeg;
    for (auto* v : {&m_lbi, &m_lai, &m_sai, &m_sbi}) v->assign(static_cast<size_t>(m_nsteps), kNoDep);
  }

  void emit() {
    if (m_idle) return;
    m_task.smem_bytes = static_cast<std::uint32_t>(std::min(m_j.t.tsram_bytes, 4.0e9));
    const std::uint32_t first =
        m_works ? m_emit(build::sync(kTtu), [&] { return fop::zero(0, static_cast<int>(m_rows), static_cast<int>(m_cols)); }) : kNoDep;
    const std::uint32_t last = k_loop(first);
    if (m_works) epilogue(last);
  }

 private:
  std::int64_t kwidth(std::int64_t step) const { return std::min<std::int64_t>(m_j.t.kc, m_j.o.k - (m_kbeg + step) * m_j.t.kc); }
  std::uint32_t mma_at(std::int64_t step) const {  // the TTU op of `step`, if already emitted
    return step >= 0 && static_cast<size_t>(step) < m_mma.size() ? m_mma[static_cast<size_t>(step)] : kNoDep;
  }
  // This tile's share [lo, hi) of a cluster-wide chunk of `bytes` (every lane stages one share).
  std::uint64_t share(std::uint64_t bytes, std::uint64_t& off) const {
    std::uint64_t lo = bytes * static_cast<std::uint64_t>(m_lane) / m_j.P, hi = bytes * static_cast<std::uint64_t>(m_lane + 1) / m_j.P;
    off = lo;
    return hi - lo;
  }

  // Program order is time order for the executor (an instruction that waits holds back the ones
  // after it), so stages go out `ring` steps ahead and tile loads `nbuf` steps ahead of the TTU; A
  // and weights use separate tile DMA read channels, so weight prefetch does not wait behind an A
  // load that waits for its staged chunk.
  std::uint32_t k_loop(std::uint32_t first) {
    const OpSpec& o = m_j.o;
    const MatmulFormat& f = m_j.f;
    const int nbuf = m_j.t.nbuf;
    const std::int64_t ring = nbuf + 1;
    std::uint32_t last = first;
    std::int64_t staged = 0, loaded = 0;
    for (std::int64_t step = 0; step < m_nsteps; ++step) {
      while (staged < m_nsteps && staged < step + ring) emit_stages(staged++);
      while (loaded < m_nsteps && loaded < step + nbuf) emit_loads(loaded++);
      if (!m_works) continue;
      const std::int64_t kw = kwidth(step);
      std::uint32_t ia = m_lai[static_cast<size_t>(step)];
      std::uint32_t ib = m_lbi[static_cast<size_t>(step)];
      // Format conversion on the TVP (BF16 -> FP8) when the TTU lacks the operand's format.
      if (f.convert_act) ia = m_emit(after(tvp_convert(m_rows, kw, o.dtype), ia));
      if (f.convert_wt) ib = m_emit(after(tvp_convert(kw, m_cols, o.wdtype), ib));
      const Instr mm = ttu(m_rows, m_cols, kw, f.rate, bytes_per_element(f.act), bytes_per_element(f.wt));
      const int buf = static_cast<int>(step % nbuf);
      // Operands were rounded to their TTU formats on load.
      last = m_emit(after(mm, ia, ib, step == 0 ? first : kNoDep), [&] { return fop::matmul(0, 100 + buf, 2 + buf, DType::fp32); });
      m_mma.push_back(last);
    }
    return last;
  }

  // Cluster-DMA stages of one step (issued `ring` steps ahead): this tile's share of the A chunk
  // (or of the whole small A panel, once) and of the B chunk, into CSRAM.
  void emit_stages(std::int64_t step) {
    const OpSpec& o = m_j.o;
    const GemmTiling& t = m_j.t;
    const std::int64_t k0 = (m_kbeg + step) * t.kc, kw = kwidth(step);
    const std::uint32_t ring_dep = mma_at(step - (t.nbuf + 1));
    const std::uint8_t to_csram = static_cast<std::uint8_t>(kHbm | kToCsram);
    if (t.stage_a && (!t.whole_a || step == 0)) {
      const std::int64_t kwa = t.whole_a ? std::min<std::int64_t>(o.k, m_kend * t.kc) - k0 : kw;
      std::uint64_t off = 0, bytes = share(static_cast<std::uint64_t>(m_jrows * kwa * m_j.ea), off);
      if (bytes > 0) {
        const Instr st = dma(TxKind::DmaRead, kCdma, to_csram, o.dtype,
                             m_j.A.addr + static_cast<std::uint64_t>(((m_g.row0 + m_jm0) * o.k + k0) * m_j.ea) + off, bytes,
                             static_cast<std::uint32_t>(std::max<std::int64_t>(1, m_jrows / m_j.P)));
        m_sai[static_cast<size_t>(step)] = m_emit(after(st, ring_dep));
        if (t.whole_a) m_whole_a_stage = m_sai[static_cast<size_t>(step)];
      }
    }
    if (t.whole_a) m_sai[static_cast<size_t>(step)] = m_whole_a_stage;
    if (t.stage_b) {
      std::uint64_t off = 0, bytes = share(static_cast<std::uint64_t>(kw * m_jcols * m_j.eb), off);
      if (bytes > 0) {
        const Instr st = dma(TxKind::DmaRead, kCdma, static_cast<std::uint8_t>(to_csram | m_j.wflag), o.wdtype,
                             m_j.B.addr + static_cast<std::uint64_t>(((m_brow0 + k0) * o.n + m_jn0) * m_j.eb) + off, bytes,
                             static_cast<std::uint32_t>(std::max<std::int64_t>(1, kw / m_j.P)));
        m_sbi[static_cast<size_t>(step)] = m_emit(after(st, ring_dep));
      }
    }
  }

  // The tile's loads of one step (issued `nbuf` steps ahead); a buffer is free once the TTU op of
  // the step that used it ran. Loading rounds to the TTU format (a conversion, when there is one).
  void emit_loads(std::int64_t step) {
    if (!m_works) return;
    const OpSpec& o = m_j.o;
    const GemmTiling& t = m_j.t;
    const std::int64_t k0 = (m_kbeg + step) * t.kc, kw = kwidth(step);
    const std::uint32_t free = mma_at(step - t.nbuf);
    const int buf = static_cast<int>(step % t.nbuf);
    const std::uint8_t wl = t.pinned ? static_cast<std::uint8_t>(kCsram | m_j.wflag)
                                     : (t.stage_b ? static_cast<std::uint8_t>(kCsram) : static_cast<std::uint8_t>(kHbm | m_j.wflag));
    const Instr lb = dma(TxKind::DmaRead, kTdma1, wl, o.wdtype,
                         m_j.B.addr + static_cast<std::uint64_t>(((m_brow0 + k0) * o.n + m_c0) * m_j.eb),
                         static_cast<std::uint64_t>(kw * m_cols * m_j.eb), static_cast<std::uint32_t>(kw),
                         static_cast<std::uint32_t>(m_cols));
    m_lbi[static_cast<size_t>(step)] = m_emit(after(lb, m_sbi[static_cast<size_t>(step)], free), [&] {
      return fop::load(2 + buf, m_j.B.id, static_cast<int>(m_brow0 + k0), static_cast<int>(m_c0), static_cast<int>(t.kc),
                       static_cast<int>(m_cols), m_j.f.wt);
    });
    const Instr la = dma(TxKind::DmaRead, kTdma, t.stage_a ? kCsram : kHbm, o.dtype,
                         m_j.A.addr + static_cast<std::uint64_t>((m_grow0 * o.k + k0) * m_j.ea),
                         static_cast<std::uint64_t>(m_rows * kw * m_j.ea), static_cast<std::uint32_t>(m_rows),
                         static_cast<std::uint32_t>(kw));
    m_lai[static_cast<size_t>(step)] = m_emit(after(la, m_sai[static_cast<size_t>(step)], free), [&] {
      return fop::load(100 + buf, m_j.A.id, static_cast<int>(m_grow0), static_cast<int>(k0), static_cast<int>(m_rows),
                       static_cast<int>(t.kc), m_j.f.act);
    });
  }

  // The TVP converts the fp32 accumulators; the write queue stores the tile (or the fp32 partial of
  // a split-K slice, reduced by the second kernel).
  void epilogue(std::uint32_t last) {
    const OpSpec& o = m_j.o;
    const bool split = m_j.t.split_k > 1;
    const std::uint64_t out_elems = static_cast<std::uint64_t>(m_rows * m_cols);
    const std::uint32_t ic = m_emit(after(tvp_op(DType::fp32, static_cast<std::uint32_t>(m_rows), static_cast<std::uint32_t>(m_cols), 0,
                                                 out_elems, static_cast<std::uint64_t>(out_elems * (4 + (split ? 4 : m_j.ec)))),
                                          last));
    const std::uint64_t addr = split ? m_j.W.addr + static_cast<std::uint64_t>(((m_ks * m_j.layout.rows_total + m_grow0) * o.n + m_c0) * 4)
                                     : m_j.C.addr + static_cast<std::uint64_t>((m_grow0 * o.n + m_c0) * m_j.ec);
    const std::uint64_t bytes = split ? out_elems * 4 : static_cast<std::uint64_t>(out_elems * m_j.ec);
    const Instr st = dma(TxKind::DmaWrite, kTdmaWr, kHbm, split ? DType::fp32 : o.odtype, addr, bytes,
                         static_cast<std::uint32_t>(m_rows));
    m_emit(after(st, ic), [&] {
      const int r0 = static_cast<int>(m_grow0), c0 = static_cast<int>(m_c0), r = static_cast<int>(m_rows), c = static_cast<int>(m_cols);
      return split ? fop::store_add(0, m_j.W.id, r0, c0, r, c, o.odtype) : fop::store(0, m_j.C.id, r0, c0, r, c, o.odtype);
    });
  }

  const GemmJob& m_j;
  build::Emitter m_emit;
  Task& m_task;
  bool m_idle = true, m_works = false;
  int m_lane = 0, m_ks = 0;
  JobGroup m_g{};
  std::int64_t m_jm0 = 0, m_jn0 = 0, m_jrows = 0, m_jcols = 0, m_r0 = 0, m_c0 = 0, m_rows = 0, m_cols = 0;
  std::int64_t m_grow0 = 0, m_brow0 = 0, m_kbeg = 0, m_kend = 0, m_nsteps = 0;
  std::vector<std::uint32_t> m_mma, m_lbi, m_lai, m_sai, m_sbi;
  std::uint32_t m_whole_a_stage = kNoDep;
};

// Reduction of the fp32 partials on the TVPs: blocks of 64 x 256 outputs, each tile reads the
// `split_k` partials of its block from HBM, sums them and writes the output.
Program splitk_reduce(const std::shared_ptr<const GemmJob>& job) {
  const int rb = 64, cb = 256;
  const std::int64_t rt = ceil_div(job->layout.rows_total, rb), ct = ceil_div(job->o.n, cb);
  const int sk = job->t.split_k;
  auto make = [job, ct, sk, rb, cb](std::uint64_t index, Task& task) {
    const GemmJob& j = *job;
    const std::int64_t n = j.o.n;
    const std::int64_t tr = static_cast<std::int64_t>(index) / ct, tc = static_cast<std::int64_t>(index) % ct;
    const std::int64_t r0 = tr * rb, c0 = tc * cb;
    const std::int64_t rows = std::min<std::int64_t>(rb, j.layout.rows_total - r0), cols = std::min<std::int64_t>(cb, n - c0);
    const int ir0 = static_cast<int>(r0), ic0 = static_cast<int>(c0), ir = static_cast<int>(rows), icl = static_cast<int>(cols);
    build::Emitter emit(task, j.functional);
    std::uint32_t last_load = kNoDep;
    for (int s = 0; s < sk; ++s) {
      const Instr l = dma(TxKind::DmaRead, kTdma, kHbm, DType::fp32,
                          j.W.addr + static_cast<std::uint64_t>(((s * j.layout.rows_total + r0) * n + c0) * 4),
                          static_cast<std::uint64_t>(rows * cols * 4), static_cast<std::uint32_t>(rows));
      last_load = s + 1 < sk ? emit(l) : emit(l, [&] { return fop::load(0, j.W.id, ir0, ic0, ir, icl, DType::fp32); });
    }
    const std::uint32_t ia = emit(after(tvp_op(DType::fp32, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(cols), 0,
                                               static_cast<std::uint64_t>(rows * cols * sk),
                                               static_cast<std::uint64_t>(rows * cols * 4 * (sk + 1))),
                                        last_load));
    const Instr st = dma(TxKind::DmaWrite, kTdmaWr, kHbm, j.o.odtype, j.C.addr + static_cast<std::uint64_t>((r0 * n + c0) * j.ec),
                         static_cast<std::uint64_t>(rows * cols * j.ec), static_cast<std::uint32_t>(rows));
    emit(after(st, ia), [&] { return fop::store(0, j.C.id, ir0, ic0, ir, icl, j.o.odtype); });
  };
  return build::helper_program("gemm.splitk_reduce", job->o,
                               "TVP sum of " + std::to_string(sk) + " fp32 partials per 64x256 block",
                               static_cast<std::uint64_t>(rt * ct), make, job->functional);
}

}  // namespace

KernelPrograms lower_gemm(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt, const GemmTiling& t) {
  op.validate();
  const auto job = make_job(op, spec, opt, t);
  Program main = build::program(op.kind == OpKind::GroupedGemm ? "grouped_gemm" : "gemm", op,
                                t.str() + (job->f.note.empty() ? "" : "; " + job->f.note),
                                static_cast<std::uint64_t>(job->rounds * job->T),
                                [job](std::uint64_t index, Task& task) { TileProgram(*job, index, task).emit(); }, opt.functional);
  KernelPrograms out{build::static_program(main)};
  if (t.split_k > 1) out.push_back(splitk_reduce(job));
  return out;
}

}  // namespace xpu::maia
