// GEMM on the GPU family. The heuristic: for each candidate block tile (128x256, 256x128, 128x128,
// 128x64, 64x128, 64x64; BK = 128 bytes of K) take the deepest pipeline (2..7 stages) that fits the
// per-block shared memory, and for each split-K factor (1 unless the tiles would leave SMs idle)
// estimate time = waves x max(tile MMA time, tile operand traffic over the SM's L2 link) plus the
// split-K reduction, floored by the compulsory HBM traffic. Pick the lowest estimate, preferring
// larger tiles on ties (less operand traffic). This mirrors how cuBLAS/CUTLASS heuristics rank
// kernels, without any measured data.
#include "kernels/gemm/gpu.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <memory>
#include <sstream>

#include "kernels/gpu_builders.h"

namespace xpu::gpu {

std::string GemmTiling::str() const {
  std::ostringstream os;
  os << "tile " << bm << "x" << bn << "x" << bk << ", " << stages << " stages, split-k " << split_k << ", "
     << blocks_per_sm << " block/SM, cluster " << cluster_m << "x1";
  return os.str();
}

namespace {

int bk_for(DType d) { return std::max(16, static_cast<int>(128 / bytes_per_element(d))); }

double stage_bytes(int bm, int bn, int bk, const OpSpec& op) {
  return bm * bk * bytes_per_element(op.dtype) + bk * bn * bytes_per_element(op.wdtype);
}

std::int64_t total_rows(const OpSpec& op) {
  if (op.kind != OpKind::GroupedGemm) return op.m;
  std::int64_t r = 0;
  for (auto g : op.group_rows) r += g;
  return r;
}

}  // namespace

GemmTiling choose_gemm_tiling(const OpSpec& op, const GpuSpec& spec) {
  if (spec.tensor_flops_per_clk(op.dtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.dtype) + " tensor-core path on this GPU (use " +
                                   (spec.sm.tensor_fp8 > 0 ? "bf16 or fp8" : "bf16 or tf32") + ")");
  const DType mma = op.dtype;
  const double rate = spec.tensor_flops_per_clk(mma) * spec.sm.mma_efficiency * spec.sm.clock.value();
  const double link = spec.sm.l2_port_bytes_per_clk * spec.sm.clock.value();
  const double hbm = spec.hbm.bandwidth.value() * spec.hbm.efficiency;
  const int bk = bk_for(mma);
  static const int shapes[][2] = {{128, 256}, {256, 128}, {128, 128}, {128, 64}, {64, 128}, {64, 64}};
  GemmTiling best;
  best.estimate_s = 1e30;
  for (auto& sh : shapes) {
    int bm = sh[0], bn = sh[1];
    double sb = stage_bytes(bm, bn, bk, op);
    double epi = 0;  // epilogue reuses pipeline buffers
    int stages = std::min(7, static_cast<int>((spec.sm.smem_per_block.value() - epi) / sb));
    if (stages < 2) continue;
    int bps = std::max(1, occupancy(spec, stages * sb, 384, 168));
    std::int64_t tiles_mn = 0;
    if (op.kind == OpKind::GroupedGemm) {
      for (auto g : op.group_rows) tiles_mn += ceil_div(g, bm) * ceil_div(op.n, bn);
    } else {
      tiles_mn = ceil_div(op.m, bm) * ceil_div(op.n, bn) * op.batch;
    }
    if (tiles_mn == 0) tiles_mn = 1;
    std::int64_t ksteps = ceil_div(op.k, bk);
    for (int sk : {1, 2, 3, 4, 6, 8, 12, 16}) {
      if (sk > 1 && (tiles_mn * sk > 2 * spec.sm.count * bps || ksteps / sk < 4)) break;
      double tiles = static_cast<double>(tiles_mn * sk);
      double slots = static_cast<double>(spec.sm.count) * bps;
      double waves = std::ceil(tiles / slots);
      double kslice = std::ceil(static_cast<double>(ksteps) / sk) * bk;
      double t_mma = 2.0 * bm * bn * kslice / rate * bps;  // rate is per SM
      double t_link = (bm + bn) * kslice * bytes_per_element(op.dtype) / link * bps;
      double t_tile = std::max(t_mma, t_link) + spec.sm.block_launch_latency.value();
      // Operand bytes the L2 slices deliver (B is multicast to the two CTAs of a cluster).
      double l2_bytes = tiles * (bm + bn / (spec.sm.cluster_multicast ? 2.0 : 1.0)) * kslice * bytes_per_element(op.dtype);
      double dram = std::max(op.min_bytes() / hbm, l2_bytes / spec.l2.bandwidth.value());
      double reduce = sk > 1 ? (total_rows(op) * op.n * 4.0 * sk * 2) / hbm + spec.launch_overhead.value() : 0;
      double est = std::max(waves * t_tile, dram) + reduce;
      if (getenv("XPUSIM_DEBUG_TILING"))
        fprintf(stderr, "tile %dx%d sk %d stages %d bps %d waves %.0f t_tile %.3gus dram %.3gus est %.3gus\n", bm, bn, sk,
                stages, bps, waves, t_tile * 1e6, dram * 1e6, est * 1e6);
      if (est < best.estimate_s * 0.98)
        best = GemmTiling{bm, bn, bk, stages, sk, bps, best.group_m, spec.sm.cluster_multicast ? 2 : 1, est};
    }
  }
  if (best.estimate_s >= 1e30) throw InputError(spec.name + ": no GEMM tile fits the shared memory");
  return best;
}

namespace {

// Rows of the GEMM as groups laid out one after another in A and C, each with its own B (one group
// per batch entry, or per group of a grouped GEMM); `tile0` is the group's first output tile.
struct TileGroup {
  std::int64_t rows, row0, tiles_m, tile0;
};

// What every task of the main kernel and the split-K reduction needs (shared, immutable).
struct GemmJob {
  OpSpec op;
  GemmTiling t;
  TensorRef A, B, C, W;
  double ea = 0, eb = 0, ec = 0;
  std::vector<TileGroup> groups;
  std::int64_t tiles_n = 0, tile_count = 0, ksteps = 0, steps_per_split = 0, rows_total = 0;
  std::uint32_t smem = 0;
  bool functional = false;
};

std::shared_ptr<const GemmJob> make_job(const OpSpec& op, const LowerOptions& opt, const GemmTiling& t) {
  auto j = std::make_shared<GemmJob>();
  j->op = op;
  j->t = t;
  const std::string label = op.label.empty() ? "gemm" : op.label;
  j->A = opt.ref(label, "A"), j->B = opt.ref(label, "B"), j->C = opt.ref(label, "C"), j->W = opt.ref(label, "workspace");
  j->ea = bytes_per_element(op.dtype), j->eb = bytes_per_element(op.wdtype), j->ec = bytes_per_element(op.odtype);
  j->tiles_n = ceil_div(op.n, t.bn);
  std::int64_t row0 = 0;
  auto add = [&](std::int64_t rows) {
    TileGroup g{rows, row0, ceil_div(rows, t.bm), j->tile_count};
    j->tile_count += g.tiles_m * j->tiles_n;
    row0 += rows;
    j->groups.push_back(g);
  };
  if (op.kind == OpKind::GroupedGemm)
    for (auto r : op.group_rows) add(r);
  else
    for (std::int64_t b = 0; b < op.batch; ++b) add(op.m);
  if (!j->groups.empty()) j->rows_total = j->groups.back().row0 + j->groups.back().rows;
  j->ksteps = ceil_div(op.k, t.bk);
  j->steps_per_split = ceil_div(j->ksteps, t.split_k);
  j->smem = static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.stages * stage_bytes(t.bm, t.bn, t.bk, op)));
  j->functional = opt.functional;
  return j;
}

// Where task `index` of the main kernel works: output tile, K slice, and whether its B tiles arrive
// by multicast from a cluster peer.
struct TilePos {
  std::int64_t r0, c0, rows, cols, grow0, brow0, kbeg, kend;
  int ks;
  bool multicast_b;
};

TilePos locate(const GemmJob& j, std::uint64_t index) {
  const GemmTiling& t = j.t;
  const int sk = t.split_k;
  std::int64_t tile = static_cast<std::int64_t>(index) / sk;
  TilePos p;
  p.ks = static_cast<int>(index % static_cast<std::uint64_t>(sk));
  // Find the group, then rasterize within it: groups of `group_m` tile-rows sweep all columns.
  size_t gi = 0;
  while (gi + 1 < j.groups.size() && j.groups[gi + 1].tile0 <= tile) ++gi;
  const TileGroup& g = j.groups[gi];
  std::int64_t local = tile - g.tile0;
  std::int64_t gm = std::min<std::int64_t>(t.group_m, g.tiles_m);
  std::int64_t band = local / (gm * j.tiles_n);
  std::int64_t band_rows = std::min<std::int64_t>(gm, g.tiles_m - band * gm);
  std::int64_t in_band = local % (gm * j.tiles_n);
  std::int64_t tm = band * gm + in_band % band_rows;
  std::int64_t tn = in_band / band_rows;
  // Clusters of `cluster_m` CTAs along M (adjacent tile-rows, same tile-column) run together; the
  // leader's TMA multicasts each B tile to its peers, which receive it without reading L2.
  p.multicast_b = t.cluster_m > 1 && (tm % t.cluster_m) != 0;
  p.r0 = tm * t.bm, p.c0 = tn * t.bn;
  p.rows = std::min<std::int64_t>(t.bm, g.rows - p.r0), p.cols = std::min<std::int64_t>(t.bn, j.op.n - p.c0);
  p.kbeg = p.ks * j.steps_per_split, p.kend = std::min(j.ksteps, p.kbeg + j.steps_per_split);
  p.grow0 = g.row0 + p.r0;                          // row in the stacked A / C
  p.brow0 = static_cast<std::int64_t>(gi) * j.op.k;  // this group's B starts here (stacked)
  return p;
}

// The K loop of one tile: A/B tile loads into a `stages`-deep ring, one MMA step per BK. Returns the
// last MMA (the start sync when the slice is empty).
std::uint32_t emit_k_loop(const GemmJob& j, const TilePos& p, std::uint32_t first, build::Emitter& emit) {
  const OpSpec& o = j.op;
  const GemmTiling& t = j.t;
  const auto I = [](std::int64_t v) { return static_cast<int>(v); };
  std::vector<std::uint32_t> mma_idx;
  std::uint32_t last = first;
  for (std::int64_t kk = p.kbeg; kk < p.kend; ++kk) {
    std::int64_t k0 = kk * t.bk, kw = std::min<std::int64_t>(t.bk, o.k - k0);
    std::uint32_t reuse = kNoDep;  // the stage buffer is free once the MMA `stages` steps back ran
    std::int64_t step = kk - p.kbeg;
    if (step >= t.stages) reuse = mma_idx[static_cast<size_t>(step - t.stages)];
    // Only the tile's valid rows are loaded (rows past a group's end belong to the next group); K
    // past the tensor's end reads as zeros, so padded B rows contribute nothing.
    const Instr la = after(tma_load(kGlobal, o.dtype, j.A.addr + static_cast<std::uint64_t>((p.grow0 * o.k + k0) * j.ea),
                                    static_cast<std::uint64_t>(p.rows * kw * j.ea), static_cast<std::uint32_t>(p.rows),
                                    static_cast<std::uint32_t>(kw)),
                           reuse);
    const Instr lb = after(tma_load(p.multicast_b ? kMulticast : kGlobal, o.wdtype,
                                    j.B.addr + static_cast<std::uint64_t>(((p.brow0 + k0) * o.n + p.c0) * j.eb),
                                    static_cast<std::uint64_t>(kw * p.cols * j.eb), static_cast<std::uint32_t>(kw),
                                    static_cast<std::uint32_t>(p.cols)),
                           reuse);
    const std::uint32_t ia = emit(la, [&] { return fop::load(1, j.A.id, I(p.grow0), I(k0), I(p.rows), t.bk, o.dtype); });
    const std::uint32_t ib = emit(lb, [&] { return fop::load(2, j.B.id, I(p.brow0 + k0), I(p.c0), t.bk, I(p.cols), o.wdtype); });
    const Instr mma = wgmma(o.dtype, static_cast<std::uint32_t>(t.bm), static_cast<std::uint32_t>(t.bn),
                            static_cast<std::uint32_t>(t.bk), static_cast<std::uint64_t>(2 * p.rows * p.cols * kw),  // useful
                            static_cast<std::uint64_t>(t.bm * t.bk * j.ea + t.bk * t.bn * j.eb));
    last = emit(after(mma, ia, ib, first), [&] { return fop::matmul(0, 1, 2, o.dtype == DType::fp32 ? DType::tf32 : o.dtype); });
    mma_idx.push_back(last);
  }
  return last;
}

// Unsplit epilogue: the converted tile goes to C.
Instr store_tile(const GemmJob& j, const TilePos& p) {
  return tma_store(kGlobal, j.op.odtype, j.C.addr + static_cast<std::uint64_t>((p.grow0 * j.op.n + p.c0) * j.ec),
                   static_cast<std::uint64_t>(static_cast<std::uint64_t>(p.rows * p.cols) * j.ec));
}

// Split-K epilogue: the slice's fp32 partial goes to the L2-resident workspace (added there in
// functional mode), for the reduction kernel.
Instr store_partial(const GemmJob& j, const TilePos& p) {
  return tma_store(kL2, DType::fp32,
                   j.W.addr + static_cast<std::uint64_t>(((p.ks * j.rows_total + p.grow0) * j.op.n + p.c0) * 4),
                   static_cast<std::uint64_t>(p.rows * p.cols) * 4);
}

void emit_tile(const GemmJob& j, std::uint64_t index, Task& task) {
  const TilePos p = locate(j, index);
  const bool split = j.t.split_k > 1;
  const int rows = static_cast<int>(p.rows), cols = static_cast<int>(p.cols);
  block_shape(task, 384, 168, j.smem);  // one producer + two consumer warpgroups (warp-specialized kernel)
  build::Emitter emit(task, j.functional);
  const std::uint32_t first = emit(tensor_sync(), [&] { return fop::zero(0, rows, cols); });
  const std::uint32_t last = emit_k_loop(j, p, first, emit);
  // Epilogue: convert the fp32 accumulators (staged through shared memory) and store the tile.
  const std::uint64_t out_elems = static_cast<std::uint64_t>(p.rows * p.cols);
  const std::uint32_t ic = emit(after(cuda(DType::fp32, static_cast<std::uint32_t>(p.rows), static_cast<std::uint32_t>(p.cols), 0,
                                           out_elems, static_cast<std::uint64_t>(out_elems * (split ? 4 : j.ec))),
                                      last));
  const Instr st = after(split ? store_partial(j, p) : store_tile(j, p), ic);
  emit(st, [&] {
    const int r0 = static_cast<int>(p.grow0), c0 = static_cast<int>(p.c0);
    return split ? fop::store_add(0, j.W.id, r0, c0, rows, cols, j.op.odtype) : fop::store(0, j.C.id, r0, c0, rows, cols, j.op.odtype);
  });
}

// Reduction of the fp32 partials: one block per output tile reads the `split_k` partials from the
// L2-resident workspace, sums them on the CUDA cores and writes the output. Tiles shrink until every
// SM has a block (the reduction is bandwidth-bound, so it must spread over all SMs).
Program splitk_reduce(const std::shared_ptr<const GemmJob>& job, const GpuSpec& spec) {
  const GemmJob& j = *job;
  const std::int64_t n = j.op.n;
  int rb = 128, cb = 128;
  while ((rb > 16 || cb > 64) && ceil_div(j.rows_total, rb) * ceil_div(n, cb) < spec.sm.count) {
    if (rb > 16) rb /= 2;
    else cb /= 2;
  }
  const std::int64_t rt = ceil_div(j.rows_total, rb), ct = ceil_div(n, cb);
  const int sk = j.t.split_k;
  auto make = [=](std::uint64_t index, Task& task) {
    const GemmJob& j = *job;
    std::int64_t tr = static_cast<std::int64_t>(index) / ct, tc = static_cast<std::int64_t>(index) % ct;
    std::int64_t r0 = tr * rb, c0 = tc * cb;
    std::int64_t rows = std::min<std::int64_t>(rb, j.rows_total - r0), cols = std::min<std::int64_t>(cb, n - c0);
    const int ir0 = static_cast<int>(r0), ic0 = static_cast<int>(c0), irows = static_cast<int>(rows), icols = static_cast<int>(cols);
    block_shape(task, 256, 64, 0);
    build::Emitter emit(task, j.functional);
    std::uint32_t last_load = kNoDep;
    for (int s = 0; s < sk; ++s) {
      const Instr l = tma_load(kL2, DType::fp32, j.W.addr + static_cast<std::uint64_t>(((s * j.rows_total + r0) * n + c0) * 4),
                               static_cast<std::uint64_t>(rows * cols * 4));
      last_load = s + 1 < sk ? emit(l) : emit(l, [&] { return fop::load(0, j.W.id, ir0, ic0, irows, icols, DType::fp32); });
    }
    const std::uint32_t ia = emit(after(cuda(DType::fp32, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(cols), 0,
                                             static_cast<std::uint64_t>(rows * cols * sk)),
                                        last_load));
    emit(after(tma_store(kGlobal, j.op.odtype, j.C.addr + static_cast<std::uint64_t>((r0 * n + c0) * j.ec),
                         static_cast<std::uint64_t>(rows * cols * j.ec)),
               ia),
         [&] { return fop::store(0, j.C.id, ir0, ic0, irows, icols, j.op.odtype); });
  };
  return build::helper_program("gemm.splitk_reduce", j.op,
                               "sum " + std::to_string(sk) + " fp32 partials per " + std::to_string(rb) + "x" +
                                   std::to_string(cb) + " tile",
                               static_cast<std::uint64_t>(rt * ct), make, j.functional);
}

}  // namespace

KernelPrograms lower_gemm(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt, const GemmTiling& t) {
  op.validate();
  if (spec.tensor_flops_per_clk(op.dtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.dtype) + " tensor-core path on this GPU (use " +
                                   (spec.sm.tensor_fp8 > 0 ? "bf16 or fp8" : "bf16 or tf32") + ")");
  if (bytes_per_element(op.wdtype) < bytes_per_element(op.dtype) && spec.tensor_flops_per_clk(op.wdtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.wdtype) + " weight path on this GPU");
  const auto job = make_job(op, opt, t);
  KernelPrograms out{build::program(op.kind == OpKind::GroupedGemm ? "grouped_gemm" : "gemm", op, t.str(),
                                    static_cast<std::uint64_t>(job->tile_count * t.split_k),
                                    [job](std::uint64_t index, Task& task) { emit_tile(*job, index, task); }, opt.functional)};
  if (t.split_k > 1) out.push_back(splitk_reduce(job, spec));
  return out;
}

KernelPrograms lower_gemm(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  return lower_gemm(op, spec, opt, choose_gemm_tiling(op, spec));
}

}  // namespace xpu::gpu
