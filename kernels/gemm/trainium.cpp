// GEMM on a NeuronCore. The heuristic, following the NKI architecture guide [NKI-T1]:
//  * orientation: TensorE streams the moving free axis, so the operand with the large free axis is
//    made stationary. With at least 512 rows (or more rows than columns), A^T tiles [K=128, 128 rows]
//    are stationary and B tiles [K=128, 512 cols] move; with fewer rows, B tiles [K=128, 128 cols]
//    are stationary and A^T [K=128, rows <= 512] moves (decode-size GEMMs), and the output tile,
//    which lands transposed in PSUM, is scattered to C by the DMA on the way out.
//  * blocks: as many output tiles as PSUM has banks (one 512-fp32 bank per tile), 4 x 2 tiles
//    (512 x 1024) for large shapes; halved until every NeuronCore gets at least one block.
//  * K is streamed in chunks of `kc` 128-deep steps per DMA load (about 512 KiB, to amortise the DMA
//    per-transfer cost [NKI-DMA]) into `dma_buffers` SBUF buffers: a load waits only for the matmuls
//    that read the same buffer `dma_buffers` chunks earlier (double buffering by default).
//  * layouts: A is read as A^T (K-major), as NKI matmul kernels take `lhsT`; the producer of A keeps
//    it transposed (the compiler's layout propagation), so no transpose is charged.
//  * each PSUM tile is evacuated (fp32 -> output dtype) by the Vector Engine, or by the Scalar Engine
//    when an activation is fused, then stored by the DMA out-queue.
#include "kernels/gemm/trainium.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "chips/trainium/isa.h"
#include "kernels/trainium_lowerings.h"

namespace xpu::trainium {

int GemmPlan::block_rows() const { return a_stationary ? tiles_r * kPartitions : kMaxMovingFree; }
int GemmPlan::block_cols() const { return a_stationary ? tiles_c * kMaxMovingFree : tiles_c * kPartitions; }

std::string GemmPlan::str() const {
  std::ostringstream os;
  os << (a_stationary ? "A-stationary" : "B-stationary") << ", block " << tiles_r << "x" << tiles_c
     << " PSUM tiles, K chunk " << kc << "x128, " << buffers << (buffers == 2 ? " buffers (double-buffered DMA)" : " buffer(s)");
  if (fused_activation) os << ", fused ScalarE activation";
  return os.str();
}

namespace {

struct Group {
  std::int64_t rows, row0, brow0;
};

std::vector<Group> groups_of(const OpSpec& op) {
  std::vector<Group> g;
  if (op.kind == OpKind::GroupedGemm) {
    std::int64_t row0 = 0;
    for (size_t i = 0; i < op.group_rows.size(); ++i) {
      g.push_back({op.group_rows[i], row0, static_cast<std::int64_t>(i) * op.k});
      row0 += op.group_rows[i];
    }
  } else {
    for (std::int64_t b = 0; b < op.batch; ++b) g.push_back({op.m, b * op.m, b * op.k});
  }
  return g;
}

std::int64_t count_blocks(const std::vector<Group>& gs, std::int64_t n, std::int64_t br, std::int64_t bc) {
  std::int64_t c = 0;
  for (const auto& g : gs) c += ceil_div(g.rows, br) * ceil_div(n, bc);
  return c;
}

DType mm_dtype(const OpSpec& op) {
  return bytes_per_element(op.wdtype) > bytes_per_element(op.dtype) ? op.wdtype : op.dtype;
}

}  // namespace

GemmPlan choose_gemm_plan(const OpSpec& op, const TrainiumSpec& spec) {
  GemmPlan p;
  const auto gs = groups_of(op);
  std::int64_t max_rows = 0;
  for (const auto& g : gs) max_rows = std::max(max_rows, g.rows);
  max_rows = std::max<std::int64_t>(1, max_rows);
  const int banks = spec.psum_banks;
  p.a_stationary = !(max_rows < kMaxMovingFree && max_rows < op.n);
  if (p.a_stationary) {
    p.tiles_r = static_cast<int>(std::min<std::int64_t>(4, ceil_div(max_rows, kPartitions)));
    p.tiles_r = std::min(p.tiles_r, banks);
    p.tiles_c = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(banks / p.tiles_r, ceil_div(op.n, kMaxMovingFree))));
  } else {
    p.tiles_r = 1;
    p.tiles_c = static_cast<int>(std::min<std::int64_t>(banks, ceil_div(op.n, kPartitions)));
  }
  const int cores = spec.active_cores();
  while (count_blocks(gs, op.n, p.block_rows(), p.block_cols()) < cores && (p.tiles_r > 1 || p.tiles_c > 1)) {
    if (p.tiles_c >= p.tiles_r && p.tiles_c > 1) p.tiles_c = (p.tiles_c + 1) / 2;
    else p.tiles_r = (p.tiles_r + 1) / 2;
  }
  // K chunk: about 512 KiB per pair of loads, within half of a partition's SBUF for all buffers.
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype);
  const double per_step = (std::min<std::int64_t>(p.block_rows(), max_rows) * ea +
                           std::min<std::int64_t>(p.block_cols(), op.n) * eb);  // bytes per partition per K step
  p.buffers = spec.dma_buffers;
  const std::int64_t ksteps = ceil_div(op.k, kPartitions);
  int kc = static_cast<int>(std::ceil(512.0 * 1024 / (per_step * kPartitions)));
  kc = std::max(1, std::min<int>({kc, 8, static_cast<int>(ksteps)}));
  while (kc > 1 && p.buffers * kc * per_step > 0.5 * spec.sbuf_per_partition.value()) --kc;
  p.kc = kc;
  return p;
}

KernelPrograms lower_gemm(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  return lower_gemm(op, spec, opt, choose_gemm_plan(op, spec));
}

KernelPrograms lower_gemm(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt, const GemmPlan& plan) {
  op.validate();
  for (DType d : {op.dtype, op.wdtype})
    if (spec.cols_per_cycle(d) <= 0)
      unsupported(spec.name, op, std::string("the NeuronCore-") + spec.neuroncore + " Tensor Engine has no " + name(d) +
                                     " matmul path (use bf16" + (spec.tensor.fp8 > 0 ? ", fp8" : "") + " or fp32)");
  const std::string label = op.label.empty() ? "gemm" : op.label;
  const TensorRef A = opt.ref(label, "A"), B = opt.ref(label, "B"), C = opt.ref(label, "C");
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype), ec = bytes_per_element(op.odtype);
  const DType mmd = mm_dtype(op);
  const bool functional = opt.functional && !plan.fused_activation;
  const int cores = spec.active_cores();
  const int banks = spec.psum_banks;
  const std::int64_t br = plan.block_rows(), bc = plan.block_cols();
  if (plan.buffers * plan.kc * (br * ea + bc * eb) > spec.sbuf_per_partition.value())
    throw InputError(spec.name + ": GEMM plan needs more SBUF per partition than " + spec.sbuf_per_partition.str());
  if (plan.tiles_r * plan.tiles_c > banks)
    throw InputError(spec.name + ": GEMM block of " + std::to_string(plan.tiles_r * plan.tiles_c) +
                     " PSUM tiles exceeds the " + std::to_string(banks) + " PSUM banks");

  struct Block {
    std::int64_t grow0, brow0, rows, c0, cols;
  };
  auto blocks = std::make_shared<std::vector<Block>>();
  for (const auto& g : groups_of(op))
    for (std::int64_t r0 = 0; r0 < g.rows; r0 += br)
      for (std::int64_t c0 = 0; c0 < op.n; c0 += bc)
        blocks->push_back({g.row0 + r0, g.brow0, std::min(br, g.rows - r0), c0, std::min(bc, op.n - c0)});
  const std::int64_t K = op.k, N = op.n;
  std::int64_t rows_total = 0;
  for (const auto& g : groups_of(op)) rows_total += g.rows;
  const OpSpec o = op;

  auto build = [=](int core, Task& task) {
    std::vector<std::uint32_t> slot_last(static_cast<size_t>(plan.buffers), kNoDep);
    std::vector<std::uint32_t> bank_free(static_cast<size_t>(banks), kNoDep);
    std::int64_t chunk_no = 0, tile_no = 0;
    for (size_t bi = static_cast<size_t>(core); bi < blocks->size(); bi += static_cast<size_t>(cores)) {
      const Block& b = (*blocks)[bi];
      // Output tiles of the block: (stationary free, moving free, row offset, col offset).
      struct Tile {
        int sf, mf;
        std::int64_t r, c, rows, cols;
        int bank;
        std::uint32_t last_mm = kNoDep;
      };
      std::vector<Tile> tiles;
      if (plan.a_stationary) {
        for (std::int64_t r = 0; r < b.rows; r += kPartitions)
          for (std::int64_t c = 0; c < b.cols; c += kMaxMovingFree) {
            std::int64_t rr = std::min<std::int64_t>(kPartitions, b.rows - r), cc = std::min<std::int64_t>(kMaxMovingFree, b.cols - c);
            tiles.push_back({static_cast<int>(rr), static_cast<int>(cc), r, c, rr, cc, 0});
          }
      } else {
        for (std::int64_t c = 0; c < b.cols; c += kPartitions) {
          std::int64_t cc = std::min<std::int64_t>(kPartitions, b.cols - c);
          tiles.push_back({static_cast<int>(cc), static_cast<int>(b.rows), 0, c, b.rows, cc, 0});
        }
      }
      for (auto& t : tiles) t.bank = static_cast<int>(tile_no++ % banks);
      Instr s;
      s.kind = TxKind::Sync;
      s.engine = kTensor;
      std::uint32_t start;
      if (functional) {
        FuncOp z;
        z.code = FuncCode::Zero;
        z.dst = 0;
        z.rows = static_cast<int>(b.rows);
        z.cols = static_cast<int>(b.cols);
        start = task.add(s, z);
      } else {
        start = task.add(s);
      }
      (void)start;
      const std::int64_t ksteps = ceil_div(K, kPartitions);
      bool first_step = true;
      for (std::int64_t ks0 = 0; ks0 < ksteps; ks0 += plan.kc) {
        const std::int64_t k0 = ks0 * kPartitions;
        const std::int64_t kw = std::min<std::int64_t>(plan.kc * kPartitions, K - k0);
        const size_t slot = static_cast<size_t>(chunk_no++ % plan.buffers);
        // A^T chunk [kw, rows] (K-major, runs of rows*ea) and B chunk [kw, cols].
        Instr la = dma(TxKind::DmaRead, A.addr + static_cast<std::uint64_t>((k0 * rows_total + b.grow0) * ea),
                       static_cast<std::uint64_t>(b.rows * kw * ea), static_cast<std::uint32_t>(kw), o.dtype);
        la.dep[0] = slot_last[slot];
        Instr lb = dma(TxKind::DmaRead, B.addr + static_cast<std::uint64_t>(((b.brow0 + k0) * N + b.c0) * eb),
                       static_cast<std::uint64_t>(kw * b.cols * eb), static_cast<std::uint32_t>(kw), o.wdtype);
        lb.dep[0] = slot_last[slot];
        std::uint32_t ia, ib;
        if (functional) {
          ia = task.add(la, fop::load(1, A.id, static_cast<int>(b.grow0), static_cast<int>(k0), static_cast<int>(b.rows),
                                      static_cast<int>(kw), o.dtype));
          ib = task.add(lb, fop::load(2, B.id, static_cast<int>(b.brow0 + k0), static_cast<int>(b.c0), static_cast<int>(kw),
                                      static_cast<int>(b.cols), o.wdtype));
        } else {
          ia = task.add(la);
          ib = task.add(lb);
        }
        std::uint32_t last = kNoDep;
        for (std::int64_t kk = k0; kk < k0 + kw; kk += kPartitions) {
          const int kd = static_cast<int>(std::min<std::int64_t>(kPartitions, K - kk));
          for (auto& t : tiles) {
            Instr mm = matmul(t.sf, t.mf, kd, mmd, static_cast<std::uint64_t>(2 * t.rows * t.cols * kd));
            mm = with_deps(mm, ia, ib, first_step ? bank_free[static_cast<size_t>(t.bank)] : kNoDep);
            last = t.last_mm = task.add(mm);
          }
          first_step = false;
        }
        slot_last[slot] = last;
        if (functional) {
          FuncOp fm;
          fm.code = FuncCode::MatMul;
          fm.dst = 0;
          fm.a = 1;
          fm.b = 2;
          fm.dtype = mmd;
          task.func.push_back(fm);
          task.instrs[last].func = static_cast<std::int32_t>(task.func.size() - 1);
        }
      }
      // Evacuate each PSUM tile (fp32) into SBUF in the output dtype, then store it.
      std::uint32_t last_store = kNoDep;
      for (auto& t : tiles) {
        const Engine ev = plan.fused_activation ? kScalar : kVector;
        const double act_flops = plan.fused_activation ? 8.0 : 1.0;
        // PSUM holds [stationary free partitions, moving free]: rows x cols (A-st) or cols x rows (B-st).
        Instr e = lane(ev, t.sf, t.mf, 1, DType::fp32, act_flops);
        e.dep[0] = t.last_mm;
        std::uint32_t ie = task.add(e);
        bank_free[static_cast<size_t>(t.bank)] = ie;
        const std::uint64_t bytes = static_cast<std::uint64_t>(t.rows * t.cols * ec);
        const std::uint64_t addr = C.addr + static_cast<std::uint64_t>(((b.grow0 + t.r) * N + b.c0 + t.c) * ec);
        // A-stationary tiles store row by row; B-stationary tiles are transposed by the DMA (element scatter).
        Instr st = dma(TxKind::DmaWrite, addr, bytes,
                       plan.a_stationary ? static_cast<std::uint32_t>(t.rows) : static_cast<std::uint32_t>(t.rows * t.cols),
                       o.odtype);
        st.dep[0] = ie;
        last_store = task.add(st);
      }
      if (functional) {
        task.func.push_back(fop::store(0, C.id, static_cast<int>(b.grow0), static_cast<int>(b.c0), static_cast<int>(b.rows),
                                       static_cast<int>(b.cols), o.odtype));
        task.instrs[last_store].func = static_cast<std::int32_t>(task.func.size() - 1);
      }
    }
  };
  Program p = per_core_program(op.kind == OpKind::GroupedGemm ? "grouped_gemm" : "gemm", op,
                               plan.str() + ", " + std::to_string(blocks->size()) + " blocks over " +
                                   std::to_string(cores) + " NeuronCores",
                               spec, build);
  p.functional = functional;
  return {p};
}

}  // namespace xpu::trainium
