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

#include "chips/gpu/isa.h"

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
      if (est < best.estimate_s * 0.98) {
        best.bm = bm;
        best.bn = bn;
        best.bk = bk;
        best.stages = stages;
        best.split_k = sk;
        best.blocks_per_sm = bps;
        best.estimate_s = est;
        best.cluster_m = spec.sm.cluster_multicast ? 2 : 1;
      }
    }
  }
  if (best.estimate_s >= 1e30) throw InputError(spec.name + ": no GEMM tile fits the shared memory");
  return best;
}

KernelPrograms lower_gemm(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  return lower_gemm(op, spec, opt, choose_gemm_tiling(op, spec));
}

KernelPrograms lower_gemm(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt, const GemmTiling& t) {
  op.validate();
  if (spec.tensor_flops_per_clk(op.dtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.dtype) + " tensor-core path on this GPU (use " +
                                   (spec.sm.tensor_fp8 > 0 ? "bf16 or fp8" : "bf16 or tf32") + ")");
  if (bytes_per_element(op.wdtype) < bytes_per_element(op.dtype) && spec.tensor_flops_per_clk(op.wdtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.wdtype) + " weight path on this GPU");

  const std::string label = op.label.empty() ? "gemm" : op.label;
  const TensorRef A = opt.ref(label, "A"), B = opt.ref(label, "B"), C = opt.ref(label, "C");
  const TensorRef W = opt.ref(label, "workspace");
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype), ec = bytes_per_element(op.odtype);
  const bool grouped = op.kind == OpKind::GroupedGemm;

  // Tile index -> (group/batch, tm, tn, ks). Groups of a grouped GEMM are laid out one after another
  // in A and C (rows), each with its own B.
  struct Group {
    std::int64_t rows, row0, tiles_m, tile0;
  };
  auto groups = std::make_shared<std::vector<Group>>();
  std::int64_t tiles_n = ceil_div(op.n, t.bn);
  std::int64_t tile_count = 0;
  if (grouped) {
    std::int64_t row0 = 0;
    for (auto r : op.group_rows) {
      Group g{r, row0, ceil_div(r, t.bm), tile_count};
      tile_count += g.tiles_m * tiles_n;
      row0 += r;
      groups->push_back(g);
    }
  } else {
    for (std::int64_t b = 0; b < op.batch; ++b) {
      Group g{op.m, b * op.m, ceil_div(op.m, t.bm), tile_count};
      tile_count += g.tiles_m * tiles_n;
      groups->push_back(g);
    }
  }
  const std::int64_t ksteps = ceil_div(op.k, t.bk);
  const std::int64_t steps_per_split = ceil_div(ksteps, t.split_k);
  const int sk = t.split_k;
  const bool functional = opt.functional;
  const OpSpec o = op;
  const std::uint64_t smem = static_cast<std::uint64_t>(t.stages * stage_bytes(t.bm, t.bn, t.bk, op));

  Program main;
  main.name = grouped ? "grouped_gemm" : "gemm";
  main.op = op.label;
  main.strategy = t.str();
  main.num_tasks = static_cast<std::uint64_t>(tile_count * sk);
  main.roofline = {op.flops(), op.min_bytes()};
  main.functional = functional;
  main.make_task = [=](std::uint64_t index, Task& task) {
    std::int64_t tile = static_cast<std::int64_t>(index) / sk;
    int ks = static_cast<int>(index % static_cast<std::uint64_t>(sk));
    // Find the group, then rasterize within it: groups of `group_m` tile-rows sweep all columns.
    size_t gi = 0;
    while (gi + 1 < groups->size() && (*groups)[gi + 1].tile0 <= tile) ++gi;
    const Group& g = (*groups)[gi];
    std::int64_t local = tile - g.tile0;
    std::int64_t gm = std::min<std::int64_t>(t.group_m, g.tiles_m);
    std::int64_t band = local / (gm * tiles_n);
    std::int64_t band_rows = std::min<std::int64_t>(gm, g.tiles_m - band * gm);
    std::int64_t in_band = local % (gm * tiles_n);
    std::int64_t tm = band * gm + in_band % band_rows;
    std::int64_t tn = in_band / band_rows;
    // Clusters of `cluster_m` CTAs along M (adjacent tile-rows, same tile-column) run together; the
    // leader's TMA multicasts each B tile to its peers, which receive it without reading L2.
    bool multicast_b = t.cluster_m > 1 && (tm % t.cluster_m) != 0;
    std::int64_t r0 = tm * t.bm, c0 = tn * t.bn;
    std::int64_t rows = std::min<std::int64_t>(t.bm, g.rows - r0), cols = std::min<std::int64_t>(t.bn, o.n - c0);
    std::int64_t kbeg = ks * steps_per_split, kend = std::min(ksteps, kbeg + steps_per_split);
    std::int64_t grow0 = g.row0 + r0;                       // row in the stacked A / C
    std::int64_t brow0 = static_cast<std::int64_t>(gi) * o.k;  // this group's B starts here (stacked)

    task.smem_bytes = static_cast<std::uint32_t>(smem);
    task.threads = 384;   // one producer + two consumer warpgroups (warp-specialized kernel)
    task.registers = 168;
    FuncOp zero;
    if (functional) {
      zero.code = FuncCode::Zero;
      zero.dst = 0;
      zero.rows = static_cast<int>(rows);
      zero.cols = static_cast<int>(cols);
    }
    std::uint32_t first = 0;
    {
      Instr s;
      s.kind = TxKind::Sync;
      s.engine = kTensor;
      first = functional ? task.add(s, zero) : task.add(s);
    }
    std::vector<std::uint32_t> mma_idx;
    std::uint32_t last = first;
    for (std::int64_t kk = kbeg; kk < kend; ++kk) {
      std::int64_t k0 = kk * t.bk, kw = std::min<std::int64_t>(t.bk, o.k - k0);
      std::uint32_t reuse = kNoDep;  // the stage buffer is free once the MMA `stages` steps back ran
      std::int64_t step = kk - kbeg;
      if (step >= t.stages) reuse = mma_idx[static_cast<size_t>(step - t.stages)];
      Instr la;
      la.kind = TxKind::DmaRead;
      la.engine = kTma;
      la.level = kGlobal;
      la.dtype = o.dtype;
      la.addr = A.addr + static_cast<std::uint64_t>((grow0 * o.k + k0) * ea);
      la.bytes = static_cast<std::uint64_t>(rows * kw * ea);
      la.dep[0] = reuse;
      la.m = static_cast<std::uint32_t>(rows);
      la.n = static_cast<std::uint32_t>(kw);
      Instr lb = la;
      lb.dtype = o.wdtype;
      lb.addr = B.addr + static_cast<std::uint64_t>(((brow0 + k0) * o.n + c0) * eb);
      lb.bytes = static_cast<std::uint64_t>(kw * cols * eb);
      lb.m = static_cast<std::uint32_t>(kw);
      lb.n = static_cast<std::uint32_t>(cols);
      if (multicast_b) lb.level = kMulticast;
      std::uint32_t ia, ib;
      if (functional) {
        // Only the tile's valid rows are loaded (rows past a group's end belong to the next group);
        // K past the tensor's end reads as zeros, so padded B rows contribute nothing.
        ia = task.add(la, fop::load(1, A.id, static_cast<int>(grow0), static_cast<int>(k0), static_cast<int>(rows),
                                    static_cast<int>(t.bk), o.dtype));
        ib = task.add(lb, fop::load(2, B.id, static_cast<int>(brow0 + k0), static_cast<int>(c0), static_cast<int>(t.bk),
                                    static_cast<int>(cols), o.wdtype));
      } else {
        ia = task.add(la);
        ib = task.add(lb);
      }
      Instr mma;
      mma.kind = TxKind::TileCompute;
      mma.engine = kTensor;
      mma.dtype = o.dtype;
      mma.m = static_cast<std::uint32_t>(t.bm);
      mma.n = static_cast<std::uint32_t>(t.bn);
      mma.k = static_cast<std::uint32_t>(t.bk);
      mma.flops = static_cast<std::uint64_t>(2 * rows * cols * kw);  // useful work
      mma.bytes = static_cast<std::uint64_t>(t.bm * t.bk * ea + t.bk * t.bn * eb);
      mma.dep[0] = ia;
      mma.dep[1] = ib;
      mma.dep[2] = first;
      std::uint32_t im;
      if (functional) {
        FuncOp fm;
        fm.code = FuncCode::MatMul;
        fm.dst = 0;
        fm.a = 1;
        fm.b = 2;
        fm.dtype = o.dtype == DType::fp32 ? DType::tf32 : o.dtype;
        im = task.add(mma, fm);
      } else {
        im = task.add(mma);
      }
      mma_idx.push_back(im);
      last = im;
    }
    // Epilogue: convert the fp32 accumulators and store the tile (or the fp32 partial for split-K).
    Instr st;
    st.kind = TxKind::DmaWrite;
    st.engine = kTma;
    st.level = sk > 1 ? kL2 : kGlobal;
    st.dtype = sk > 1 ? DType::fp32 : o.odtype;
    st.dep[0] = last;
    std::uint64_t out_elems = static_cast<std::uint64_t>(rows * cols);
    if (sk > 1) {
      st.addr = W.addr + static_cast<std::uint64_t>(((ks * (groups->back().row0 + groups->back().rows) + grow0) * o.n + c0) * 4);
      st.bytes = out_elems * 4;
    } else {
      st.addr = C.addr + static_cast<std::uint64_t>((grow0 * o.n + c0) * ec);
      st.bytes = static_cast<std::uint64_t>(out_elems * ec);
    }
    Instr cvt;
    cvt.kind = TxKind::VectorOp;
    cvt.engine = kVector;
    cvt.dtype = DType::fp32;
    cvt.m = static_cast<std::uint32_t>(rows);
    cvt.n = static_cast<std::uint32_t>(cols);
    cvt.flops = out_elems;
    cvt.bytes = static_cast<std::uint64_t>(out_elems * (sk > 1 ? 4 : ec));  // staged through shared memory
    cvt.dep[0] = last;
    std::uint32_t ic = task.add(cvt);
    st.dep[0] = ic;
    if (functional) {
      FuncOp fs = fop::store(0, sk > 1 ? W.id : C.id, static_cast<int>(grow0), static_cast<int>(c0),
                             static_cast<int>(rows), static_cast<int>(cols), o.odtype);
      if (sk > 1) fs.code = FuncCode::StoreAdd;
      task.add(st, fs);
    } else {
      task.add(st);
    }
  };

  KernelPrograms out{main};
  if (sk > 1) {
    // Reduction of the fp32 partials: one block per output tile reads `sk` partials from the
    // L2-resident workspace, sums them on the CUDA cores and writes the output. Tiles shrink until
    // every SM has a block (the reduction is bandwidth-bound, so it must spread over all SMs).
    const std::int64_t rows_total = groups->back().row0 + groups->back().rows;
    int rb = 128, cb = 128;
    while ((rb > 16 || cb > 64) && ceil_div(rows_total, rb) * ceil_div(o.n, cb) < spec.sm.count) {
      if (rb > 16) rb /= 2;
      else cb /= 2;
    }
    std::int64_t rt = ceil_div(rows_total, rb), ct = ceil_div(o.n, cb);
    Program red;
    red.name = "gemm.splitk_reduce";
    red.op = op.label;
    red.strategy = "sum " + std::to_string(sk) + " fp32 partials per " + std::to_string(rb) + "x" + std::to_string(cb) + " tile";
    red.num_tasks = static_cast<std::uint64_t>(rt * ct);
    red.functional = functional;
    red.roofline = {0, 0};
    red.make_task = [=](std::uint64_t index, Task& task) {
      std::int64_t tr = static_cast<std::int64_t>(index) / ct, tc = static_cast<std::int64_t>(index) % ct;
      std::int64_t r0 = tr * rb, c0 = tc * cb;
      std::int64_t rows = std::min<std::int64_t>(rb, rows_total - r0), cols = std::min<std::int64_t>(cb, o.n - c0);
      task.smem_bytes = 0;
      task.threads = 256;
      task.registers = 64;
      std::vector<std::uint32_t> loads;
      for (int s = 0; s < sk; ++s) {
        Instr l;
        l.kind = TxKind::DmaRead;
        l.engine = kTma;
        l.level = kL2;
        l.dtype = DType::fp32;
        l.addr = W.addr + static_cast<std::uint64_t>(((s * rows_total + r0) * o.n + c0) * 4);
        l.bytes = static_cast<std::uint64_t>(rows * cols * 4);
        loads.push_back(task.add(l));
      }
      Instr add;
      add.kind = TxKind::VectorOp;
      add.engine = kVector;
      add.dtype = DType::fp32;
      add.m = static_cast<std::uint32_t>(rows);
      add.n = static_cast<std::uint32_t>(cols);
      add.flops = static_cast<std::uint64_t>(rows * cols * sk);
      add.dep[0] = loads.back();
      std::uint32_t ia = task.add(add);
      Instr st;
      st.kind = TxKind::DmaWrite;
      st.engine = kTma;
      st.level = kGlobal;
      st.dtype = o.odtype;
      st.addr = C.addr + static_cast<std::uint64_t>((r0 * o.n + c0) * ec);
      st.bytes = static_cast<std::uint64_t>(rows * cols * ec);
      st.dep[0] = ia;
      if (functional) {
        task.instrs[loads.back()].func = static_cast<std::int32_t>(task.func.size());
        task.func.push_back(fop::load(0, W.id, static_cast<int>(r0), static_cast<int>(c0), static_cast<int>(rows),
                                      static_cast<int>(cols), DType::fp32));
        task.add(st, fop::store(0, C.id, static_cast<int>(r0), static_cast<int>(c0), static_cast<int>(rows),
                                static_cast<int>(cols), o.odtype));
      } else {
        task.add(st);
      }
    };
    out.push_back(red);
  }
  return out;
}

}  // namespace xpu::gpu
