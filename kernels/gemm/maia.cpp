// GEMM on the Maia family. The heuristic: for every grid pr x pc of a cluster's tiles, every tile
// sub-block tm x tn (multiples of the TTU's 16 x 16, up to 512) and every split-K factor (only when
// the cluster blocks would leave clusters idle) whose buffers fit TSRAM (fp32 accumulators, double-
// buffered operands, conversion buffers) and CSRAM (a 3-deep staging ring), estimate the time as
// rounds of cluster blocks x the slowest of: TTU steps (partial 16 x R x 16 blocks count whole), the
// cluster's share of HBM, its NoC port, the tile DMA port and the CSRAM banks; add prologue, epilogue
// and the split-K reduction; keep the cheapest (ties keep the larger sub-block: less traffic).
// An operand that several tiles of a cluster share (A when pc > 1, B when pr > 1) is staged once into
// CSRAM by the cluster DMA (each tile issues its 1/P share) and read from there by every tile that
// needs it: one HBM read feeds the cluster. Other operands go HBM -> TSRAM directly.
#include "kernels/gemm/maia.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "chips/maia/isa.h"
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

std::int64_t count_jobs(const Shape& sh, std::int64_t n, std::int64_t cm, std::int64_t cn) {
  std::int64_t j = 0;
  for (auto r : sh.rows)
    if (r > 0) j += ceil_div(r, cm) * ceil_div(n, cn);
  return j;
}

// TSRAM bytes of one K step's operands (plus the 16-bit originals when they are converted).
double operand_chunk(const GemmTiling& t, const MatmulFormat& f, const OpSpec& op) {
  double c = t.tm * double(t.kc) * bytes_per_element(f.act) + double(t.kc) * t.tn * bytes_per_element(f.wt);
  if (f.convert_act) c += t.tm * double(t.kc) * bytes_per_element(op.dtype);
  if (f.convert_wt) c += double(t.kc) * t.tn * bytes_per_element(op.wdtype);
  return c;
}

constexpr int kMaxBuffers = 16;  // TSRAM operand buffers in flight (prefetch depth) at most

double tsram_need(const GemmTiling& t, const MatmulFormat& f, const OpSpec& op) {
  // fp32 accumulators (converted to the output format in place) and `nbuf` operand buffers.
  return t.tm * static_cast<double>(t.tn) * 4.0 + t.nbuf * operand_chunk(t, f, op);
}

double estimate(const OpSpec& op, const MaiaSpec& s, const GemmTiling& t, const MatmulFormat& f, const Shape& sh) {
  const double clk = s.clock.value();
  const int C = s.cluster.count, P = s.cluster.tiles;
  const std::int64_t CM = std::int64_t(t.pr) * t.tm, CN = std::int64_t(t.pc) * t.tn;
  const std::int64_t jobs = count_jobs(sh, op.n, CM, CN) * t.split_k;
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
  const double bw_c = std::min(s.noc_port_bw(), s.hbm_stream_bw() / active);
  const double t_hbm = (a_bytes + b_bytes + out_bytes) / bw_c;
  const double tile_bytes = tm_eff * kslice * ea + kslice * t.tn * eb + tm_eff * t.tn * eo;
  const double t_port = tile_bytes / s.tile_dma_bw();
  double cs = 0;
  if (t.stage_a) cs += a_bytes + P * tm_eff * kslice * ea;
  if (t.stage_b) cs += b_bytes + P * kslice * t.tn * eb;
  if (t.pinned) cs += P * kslice * t.tn * eb;
  const double t_cs = cs / s.csram_bw();
  const double lat = s.hbm.latency.value();
  // Each K step's operands arrive after a memory latency; `nbuf` steps are in flight at once.
  const double step_lat = (t.pinned ? s.cluster.csram_latency.value()
                                    : lat + (t.stage_b ? s.cluster.csram_latency.value() : 0.0)) +
                          (tm_eff * t.kc * ea + double(t.kc) * t.tn * eb) / s.tile_dma_bw();
  const double t_lat = double(per) * step_lat / t.nbuf;
  const double t_job = std::max({t_ttu, t_tvp, t_hbm, t_port, t_cs, t_lat});
  const double prologue = lat + (t.stage_a || t.stage_b ? s.cluster.csram_latency.value() : 0) + t_job / per;
  const double epilogue = tm_eff * t.tn * eo / s.tile_dma_bw() + lat;
  double reduce = 0;
  if (t.split_k > 1)
    reduce = (double(sh.total_rows) * op.n * (4.0 * t.split_k + bytes_per_element(op.odtype))) / s.hbm_stream_bw() +
             s.launch_overhead.value() + lat;
  return rounds * t_job + prologue + epilogue + reduce;
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
  GemmTiling best;
  best.estimate_s = 1e30;
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
        t.nbuf = static_cast<int>(std::min<double>(kMaxBuffers, std::floor((tsram_work - acc) / chunk)));
        if (t.nbuf < 2) continue;
        t.tsram_bytes = tsram_need(t, f, op);
        const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype);
        // A small A panel (the cluster's rows over all of K) is staged once; otherwise per K step
        const double a_panel = double(pr) * std::min<std::int64_t>(tm, sh.max_rows) * double(op.k) * ea;
        // (small: its one transfer costs no more than a K step's chunk of a large tile, 64 KiB)
        t.whole_a = t.stage_a && a_panel <= 64.0 * 1024;
        double ring = (t.nbuf + 1) * ((t.stage_a && !t.whole_a ? double(pr) * tm * kc * ea : 0) +
                                      (t.stage_b ? double(kc) * pc * tn * eb : 0)) +
                      (t.whole_a ? a_panel : 0);
        if (ring > csram_work) continue;
        const std::int64_t jobs1 = count_jobs(sh, op.n, std::int64_t(pr) * tm, std::int64_t(pc) * tn);
        const std::int64_t ksteps = ceil_div(op.k, kc);
        for (int sk : {1, 2, 3, 4, 6, 8, 12, 16}) {
          if (sk > 1 && (jobs1 * (sk / 2 > 0 ? sk / 2 : 1) >= C || ksteps / sk < 2)) break;
          t.split_k = sk;
          t.estimate_s = estimate(op, s, t, f, sh);
          if (t.estimate_s < best.estimate_s * 0.98) best = t;
        }
      }
    }
  }
  if (best.estimate_s >= 1e30)
    throw InputError(s.name + ": no GEMM tiling fits TSRAM (" + format_bytes(tsram_work) + " per tile" +
                     (pinned ? ", placement.tsram_reserved while weights are pinned" : "") + ")");
  return best;
}

KernelPrograms lower_gemm(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt) {
  op.validate();
  return lower_gemm(op, spec, opt, choose_gemm_tiling(op, spec));
}

KernelPrograms lower_gemm(const OpSpec& op, const MaiaSpec& spec, const LowerOptions& opt, const GemmTiling& t) {
  op.validate();
  const MatmulFormat f = matmul_format(op, op.dtype, op.wdtype, spec);
  const std::string label = op.label.empty() ? "gemm" : op.label;
  const TensorRef A = opt.ref(label, "A"), B = opt.ref(label, "B"), Cref = opt.ref(label, "C");
  const TensorRef W = opt.ref(label, "workspace");
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype), ec = bytes_per_element(op.odtype);
  const bool grouped = op.kind == OpKind::GroupedGemm;
  const int C = spec.cluster.count, P = spec.cluster.tiles, T = spec.tiles();
  const std::int64_t CM = std::int64_t(t.pr) * t.tm, CN = std::int64_t(t.pc) * t.tn;
  const std::int64_t tiles_n = ceil_div(op.n, CN);

  // Cluster jobs: (group, cluster-block row, cluster-block column, k split).
  struct Group {
    std::int64_t rows, row0, blocks_m, job0;
  };
  auto groups = std::make_shared<std::vector<Group>>();
  std::int64_t blocks = 0, row0 = 0;
  for (auto r : gemm_groups(op)) {
    Group g{r, row0, r > 0 ? ceil_div(r, CM) : 0, blocks};
    blocks += g.blocks_m * tiles_n;
    row0 += r;
    groups->push_back(g);
  }
  const std::int64_t rows_total = row0;
  const int sk = t.split_k;
  const std::int64_t jobs = blocks * sk;
  const std::int64_t rounds = ceil_div(jobs, C);
  const std::int64_t ksteps = ceil_div(op.k, t.kc), per = ceil_div(ksteps, sk);
  const bool functional = opt.functional;
  const OpSpec o = op;
  const std::uint8_t wflag = op.weights_stationary ? kWeights : 0;

  Program main;
  main.name = grouped ? "grouped_gemm" : "gemm";
  main.op = op.label;
  main.strategy = t.str() + (f.note.empty() ? "" : "; " + f.note);
  main.num_tasks = static_cast<std::uint64_t>(rounds * T);
  main.static_placement = true;
  main.roofline = {op.flops(), op.min_bytes()};
  main.functional = functional;
  main.make_task = [=](std::uint64_t index, Task& task) {
    const std::int64_t round = static_cast<std::int64_t>(index) / T;
    const int tile = static_cast<int>(index % static_cast<std::uint64_t>(T));
    const int cluster = tile / P, lane = tile % P;
    const std::int64_t job = round * C + cluster;
    if (job >= jobs) return;  // idle tile in the last round
    task.smem_bytes = static_cast<std::uint32_t>(std::min(t.tsram_bytes, 4.0e9));
    const int ks = static_cast<int>(job % sk);
    const std::int64_t block = job / sk;
    size_t gi = 0;
    while (gi + 1 < groups->size() && (*groups)[gi + 1].job0 <= block) ++gi;
    const Group& g = (*groups)[gi];
    const std::int64_t local = block - g.job0;
    const std::int64_t bm = local / tiles_n, bn = local % tiles_n;
    const std::int64_t jm0 = bm * CM, jn0 = bn * CN;                       // cluster block origin
    const std::int64_t jrows = std::min(CM, g.rows - jm0), jcols = std::min(CN, o.n - jn0);
    const int ir = lane / t.pc, jc = lane % t.pc;
    const std::int64_t r0 = jm0 + std::int64_t(ir) * t.tm, c0 = jn0 + std::int64_t(jc) * t.tn;
    const std::int64_t rows = std::max<std::int64_t>(0, std::min<std::int64_t>(t.tm, g.rows - r0));
    const std::int64_t cols = std::max<std::int64_t>(0, std::min<std::int64_t>(t.tn, o.n - c0));
    const bool works = rows > 0 && cols > 0;
    const std::int64_t grow0 = g.row0 + r0;                     // row in the stacked A / C
    const std::int64_t brow0 = static_cast<std::int64_t>(gi) * o.k;  // this group's B rows (stacked)
    const std::int64_t kbeg = ks * per, kend = std::min(ksteps, kbeg + per);

    std::uint32_t first = kNoDep;
    if (works) {
      Instr s;
      s.kind = TxKind::Sync;
      s.engine = kTtu;
      if (functional) {
        FuncOp z;
        z.code = FuncCode::Zero;
        z.dst = 0;
        z.rows = static_cast<int>(rows);
        z.cols = static_cast<int>(cols);
        first = task.add(s, z);
      } else {
        first = task.add(s);
      }
    }
    // This tile's share [lo, hi) of a cluster-wide chunk of `bytes` (every lane stages one share).
    auto share = [&](std::uint64_t bytes, std::uint64_t& off) {
      std::uint64_t lo = bytes * static_cast<std::uint64_t>(lane) / P, hi = bytes * static_cast<std::uint64_t>(lane + 1) / P;
      off = lo;
      return hi - lo;
    };
    // Software-pipelined order (queues issue in program order): the loads of the next `nbuf` steps go
    // out ahead of the TTU; A and weights use separate tile DMA read channels, so weight prefetch does
    // not wait behind an A load that waits for its staged chunk.
    const std::int64_t nsteps = kend - kbeg;
    std::vector<std::uint32_t> mma, lbi(static_cast<size_t>(nsteps), kNoDep), lai(static_cast<size_t>(nsteps), kNoDep),
        sai(static_cast<size_t>(nsteps), kNoDep);
    std::uint32_t last = first;
    std::uint32_t whole_a_stage = kNoDep;
    const std::int64_t ring = t.nbuf + 1;
    auto kwidth = [&](std::int64_t step) { return std::min<std::int64_t>(t.kc, o.k - (kbeg + step) * t.kc); };
    auto mma_at = [&](std::int64_t step) {  // the TTU op of `step`, if already emitted
      return step >= 0 && static_cast<size_t>(step) < mma.size() ? mma[static_cast<size_t>(step)] : kNoDep;
    };
    // Cluster-DMA stages of one step (issued `ring` steps ahead).
    std::vector<std::uint32_t> sbi(static_cast<size_t>(nsteps), kNoDep);
    auto emit_stages = [&](std::int64_t step) {
      const std::int64_t k0 = (kbeg + step) * t.kc, kw = kwidth(step);
      const std::uint32_t ring_dep = mma_at(step - ring);
      if (t.stage_a && (!t.whole_a || step == 0)) {
        // The whole K slice of the panel at once (small panels) or this step's chunk.
        const std::int64_t kwa = t.whole_a ? std::min<std::int64_t>(o.k, kend * t.kc) - k0 : kw;
        std::uint64_t off = 0, bytes = share(static_cast<std::uint64_t>(jrows * kwa * ea), off);
        if (bytes > 0) {
          Instr st;
          st.kind = TxKind::DmaRead;
          st.engine = kCdma;
          st.level = static_cast<std::uint8_t>(kHbm | kToCsram);
          st.dtype = o.dtype;
          st.addr = A.addr + static_cast<std::uint64_t>(((g.row0 + jm0) * o.k + k0) * ea) + off;
          st.bytes = bytes;
          st.m = static_cast<std::uint32_t>(std::max<std::int64_t>(1, jrows / P));
          st.dep[0] = ring_dep;
          sai[static_cast<size_t>(step)] = task.add(st);
          if (t.whole_a) whole_a_stage = sai[static_cast<size_t>(step)];
        }
      }
      if (t.whole_a) sai[static_cast<size_t>(step)] = whole_a_stage;
      if (t.stage_b) {
        std::uint64_t off = 0, bytes = share(static_cast<std::uint64_t>(kw * jcols * eb), off);
        if (bytes > 0) {
          Instr st;
          st.kind = TxKind::DmaRead;
          st.engine = kCdma;
          st.level = static_cast<std::uint8_t>(kHbm | kToCsram | wflag);
          st.dtype = o.wdtype;
          st.addr = B.addr + static_cast<std::uint64_t>(((brow0 + k0) * o.n + jn0) * eb) + off;
          st.bytes = bytes;
          st.m = static_cast<std::uint32_t>(std::max<std::int64_t>(1, kw / P));
          st.dep[0] = ring_dep;
          sbi[static_cast<size_t>(step)] = task.add(st);
        }
      }
    };
    // The tile's loads of one step (issued `nbuf` steps ahead).
    auto emit_loads = [&](std::int64_t step) {
      const std::int64_t k0 = (kbeg + step) * t.kc, kw = kwidth(step);
      const std::uint32_t sb = sbi[static_cast<size_t>(step)];
      if (!works) return;
      Instr lb;
      lb.kind = TxKind::DmaRead;
      lb.engine = kTdma1;
      lb.level = t.pinned ? static_cast<std::uint8_t>(kCsram | wflag)
                          : (t.stage_b ? static_cast<std::uint8_t>(kCsram) : static_cast<std::uint8_t>(kHbm | wflag));
      lb.dtype = o.wdtype;
      lb.addr = B.addr + static_cast<std::uint64_t>(((brow0 + k0) * o.n + c0) * eb);
      lb.bytes = static_cast<std::uint64_t>(kw * cols * eb);
      lb.m = static_cast<std::uint32_t>(kw);
      lb.n = static_cast<std::uint32_t>(cols);
      lb.dep[0] = sb;
      lb.dep[1] = mma_at(step - t.nbuf);  // its TSRAM buffer is free once that step's TTU op ran
      if (functional) {
        // Loading rounds to the TTU format (a conversion, when there is one).
        lbi[static_cast<size_t>(step)] =
            task.add(lb, fop::load(2 + static_cast<int>(step % t.nbuf), B.id, static_cast<int>(brow0 + k0),
                                   static_cast<int>(c0), static_cast<int>(t.kc), static_cast<int>(cols), f.wt));
      } else {
        lbi[static_cast<size_t>(step)] = task.add(lb);
      }
      Instr la;
      la.kind = TxKind::DmaRead;
      la.engine = kTdma;
      la.level = t.stage_a ? kCsram : kHbm;
      la.dtype = o.dtype;
      la.addr = A.addr + static_cast<std::uint64_t>((grow0 * o.k + k0) * ea);
      la.bytes = static_cast<std::uint64_t>(rows * kw * ea);
      la.m = static_cast<std::uint32_t>(rows);
      la.n = static_cast<std::uint32_t>(kw);
      la.dep[0] = sai[static_cast<size_t>(step)];
      la.dep[1] = lb.dep[1];
      if (functional) {
        lai[static_cast<size_t>(step)] =
            task.add(la, fop::load(100 + static_cast<int>(step % t.nbuf), A.id, static_cast<int>(grow0),
                                   static_cast<int>(k0), static_cast<int>(rows), static_cast<int>(t.kc), f.act));
      } else {
        lai[static_cast<size_t>(step)] = task.add(la);
      }
    };
    // Format conversion on the TVP (BF16 -> FP8) when the TTU lacks the operand's format.
    auto convert = [&](std::uint32_t src, std::int64_t r, std::int64_t c, DType from) {
      Instr cv;
      cv.kind = TxKind::VectorOp;
      cv.engine = kTvp;
      cv.dtype = from;
      cv.m = static_cast<std::uint32_t>(r);
      cv.n = static_cast<std::uint32_t>(c);
      cv.flops = static_cast<std::uint64_t>(r * c);
      cv.bytes = static_cast<std::uint64_t>(r * c * (bytes_per_element(from) + 1.0));
      cv.dep[0] = src;
      return task.add(cv);
    };
    // Program order is time order for the executor (an instruction that waits holds back the ones
    // after it), so stages go out `ring` steps ahead and tile loads `nbuf` steps ahead of the TTU.
    std::int64_t staged = 0, loaded = 0;
    for (std::int64_t step = 0; step < nsteps; ++step) {
      while (staged < nsteps && staged < step + ring) emit_stages(staged++);
      while (loaded < nsteps && loaded < step + t.nbuf) emit_loads(loaded++);
      if (!works) continue;
      const std::int64_t kw = kwidth(step);
      std::uint32_t ia = lai[static_cast<size_t>(step)];
      std::uint32_t ib = lbi[static_cast<size_t>(step)];
      if (f.convert_act) ia = convert(ia, rows, kw, o.dtype);
      if (f.convert_wt) ib = convert(ib, kw, cols, o.wdtype);
      Instr mm;
      mm.kind = TxKind::TileCompute;
      mm.engine = kTtu;
      mm.dtype = f.rate;
      mm.m = static_cast<std::uint32_t>(rows);
      mm.n = static_cast<std::uint32_t>(cols);
      mm.k = static_cast<std::uint32_t>(kw);
      mm.flops = static_cast<std::uint64_t>(2 * rows * cols * kw);
      mm.bytes = static_cast<std::uint64_t>(rows * kw * bytes_per_element(f.act) + kw * cols * bytes_per_element(f.wt));
      mm.dep[0] = ia;
      mm.dep[1] = ib;
      mm.dep[2] = step == 0 ? first : kNoDep;
      std::uint32_t im;
      if (functional) {
        FuncOp fm;
        fm.code = FuncCode::MatMul;
        fm.dst = 0;
        fm.a = 100 + static_cast<int>(step % t.nbuf);
        fm.b = 2 + static_cast<int>(step % t.nbuf);
        fm.dtype = DType::fp32;  // operands were rounded to their TTU formats on load
        im = task.add(mm, fm);
      } else {
        im = task.add(mm);
      }
      mma.push_back(im);
      last = im;
    }
    if (!works) return;
    // Epilogue: the TVP converts the fp32 accumulators; the write queue stores the tile (or the fp32
    // partial of a split-K slice, reduced by the second kernel).
    const std::uint64_t out_elems = static_cast<std::uint64_t>(rows * cols);
    Instr cvt;
    cvt.kind = TxKind::VectorOp;
    cvt.engine = kTvp;
    cvt.dtype = DType::fp32;
    cvt.m = static_cast<std::uint32_t>(rows);
    cvt.n = static_cast<std::uint32_t>(cols);
    cvt.flops = out_elems;
    cvt.bytes = static_cast<std::uint64_t>(out_elems * (4 + (sk > 1 ? 4 : ec)));
    cvt.dep[0] = last;
    std::uint32_t ic = task.add(cvt);
    Instr st;
    st.kind = TxKind::DmaWrite;
    st.engine = kTdmaWr;
    st.level = kHbm;
    st.dtype = sk > 1 ? DType::fp32 : o.odtype;
    st.dep[0] = ic;
    st.m = static_cast<std::uint32_t>(rows);
    if (sk > 1) {
      st.addr = W.addr + static_cast<std::uint64_t>(((ks * rows_total + grow0) * o.n + c0) * 4);
      st.bytes = out_elems * 4;
    } else {
      st.addr = Cref.addr + static_cast<std::uint64_t>((grow0 * o.n + c0) * ec);
      st.bytes = static_cast<std::uint64_t>(out_elems * ec);
    }
    if (functional) {
      FuncOp fs;
      fs.code = sk > 1 ? FuncCode::StoreAdd : FuncCode::Store;
      fs.a = 0;
      fs.dtype = o.odtype;
      fs.view = {sk > 1 ? W.id : Cref.id, static_cast<int>(grow0), static_cast<int>(c0), static_cast<int>(rows),
                 static_cast<int>(cols)};
      task.add(st, fs);
    } else {
      task.add(st);
    }
  };

  KernelPrograms out{main};
  if (sk > 1) {
    // Reduction of the fp32 partials on the TVPs: blocks of 64 x 256 outputs, each tile reads the
    // `sk` partials of its block from HBM, sums them and writes the output.
    const int rb = 64, cb = 256;
    const std::int64_t rt = ceil_div(rows_total, rb), ct = ceil_div(o.n, cb);
    Program red;
    red.name = "gemm.splitk_reduce";
    red.op = op.label;
    red.strategy = "TVP sum of " + std::to_string(sk) + " fp32 partials per 64x256 block";
    red.num_tasks = static_cast<std::uint64_t>(rt * ct);
    red.functional = functional;
    red.roofline = {0, 0};
    red.make_task = [=](std::uint64_t index, Task& task) {
      const std::int64_t tr = static_cast<std::int64_t>(index) / ct, tc = static_cast<std::int64_t>(index) % ct;
      const std::int64_t r0 = tr * rb, c0 = tc * cb;
      const std::int64_t rows = std::min<std::int64_t>(rb, rows_total - r0), cols = std::min<std::int64_t>(cb, o.n - c0);
      std::uint32_t lastload = kNoDep;
      for (int s = 0; s < sk; ++s) {
        Instr l;
        l.kind = TxKind::DmaRead;
        l.engine = kTdma;
        l.level = kHbm;
        l.dtype = DType::fp32;
        l.addr = W.addr + static_cast<std::uint64_t>(((s * rows_total + r0) * o.n + c0) * 4);
        l.bytes = static_cast<std::uint64_t>(rows * cols * 4);
        l.m = static_cast<std::uint32_t>(rows);
        if (functional && s == sk - 1) {
          lastload = task.add(l, fop::load(0, W.id, static_cast<int>(r0), static_cast<int>(c0), static_cast<int>(rows),
                                           static_cast<int>(cols), DType::fp32));
        } else {
          lastload = task.add(l);
        }
      }
      Instr add;
      add.kind = TxKind::VectorOp;
      add.engine = kTvp;
      add.dtype = DType::fp32;
      add.m = static_cast<std::uint32_t>(rows);
      add.n = static_cast<std::uint32_t>(cols);
      add.flops = static_cast<std::uint64_t>(rows * cols * sk);
      add.bytes = static_cast<std::uint64_t>(rows * cols * 4 * (sk + 1));
      add.dep[0] = lastload;
      std::uint32_t ia = task.add(add);
      Instr st;
      st.kind = TxKind::DmaWrite;
      st.engine = kTdmaWr;
      st.level = kHbm;
      st.dtype = o.odtype;
      st.addr = Cref.addr + static_cast<std::uint64_t>((r0 * o.n + c0) * ec);
      st.bytes = static_cast<std::uint64_t>(rows * cols * ec);
      st.m = static_cast<std::uint32_t>(rows);
      st.dep[0] = ia;
      if (functional) {
        task.add(st, fop::store(0, Cref.id, static_cast<int>(r0), static_cast<int>(c0), static_cast<int>(rows),
                                static_cast<int>(cols), o.odtype));
      } else {
        task.add(st);
      }
    };
    out.push_back(red);
  }
  return out;
}

}  // namespace xpu::maia
