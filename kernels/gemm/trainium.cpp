// GEMM on a NeuronCore. The heuristic, following the NKI architecture guide [NKI-T1]:
//  * orientation: TensorE streams the moving free axis, so the operand with the large free axis is
//    made stationary. With at least 512 rows (or more rows than columns), A^T tiles [K=128, 128 rows]
//    are stationary and B tiles [K=128, 512 cols] move; with fewer rows, B tiles [K=128, 128 cols]
//    are stationary and A^T [K=128, rows <= 512] moves (decode-size GEMMs). The output tile then
//    lands transposed in PSUM, [cols, rows], and is stored as it lies, one run of `rows` elements per
//    partition, into the C^T (feature-major) layout that the next GEMM reads as its A^T: the layout
//    propagation below, applied to the output too (an element-by-element DMA scatter into row-major
//    C, one descriptor per element, is what no kernel writer would emit: at 256 rows it made the
//    store 20x slower than the matmuls and such GEMMs slower than twice their row count).
//  * blocks: as many output tiles as PSUM has banks (one 512-fp32 bank per tile), 4 x 2 tiles
//    (512 x 1024) for large shapes; halved until every NeuronCore gets at least one block, unless a
//    larger block on the way (fewer blocks than cores, some cores idle) is faster by the plan's own
//    estimate (plan_estimate: each core's chain of K-chunk loads and matmuls over its round-robin
//    blocks at its share of the HBM). Halving alone gave a 12-core what-if 16 blocks in two waves,
//    39% slower than 8 cores on a 1024^3 GEMM.
//  * K is streamed in chunks of `kc` 128-deep steps per DMA load (about 512 KiB, to amortise the DMA
//    per-transfer cost [NKI-DMA], and at least enough steps for one chunk's matmuls to cover the next
//    load's start latency [NKI-DMABW] where the matmuls outrun the loads) into `dma_buffers` SBUF buffers:
//    a load waits only for the matmuls that read the same buffer `dma_buffers` chunks earlier (double
//    buffering by default).
//  * layouts: A is read as A^T (K-major), as NKI matmul kernels take `lhsT`; the producer of A keeps
//    it transposed (the compiler's layout propagation), so no transpose is charged.
//  * each PSUM tile is evacuated (fp32 -> output dtype) by the Vector Engine, or by the Scalar Engine
//    when an activation is fused, then stored by the DMA out-queue.
//  * weight-only int8 (transformers-neuronx's QuantizationConfig s8: hlo.py canonicalize_lhs_rhs_dtype
//    converts the int8 weight to the activations' dtype, mmadd -> dequantize multiplies the dot's output by
//    the per-channel scales; aws-neuron/transformers-neuronx@9a961894): B is loaded at its stored bytes,
//    each 128-deep weight tile is converted on a lane engine (lowering.weight_convert_engine) into a second
//    rotating SBUF buffer in the matmul dtype, and the scales multiply the output during the evacuation. The
//    stored buffer is free for the next load once converted, the converted one once its matmuls are done, so
//    loads, conversions and matmuls overlap: a decode GEMM is bound by the slowest of the three. The scales'
//    N fp32 values (4/K of the weight bytes) are not loaded separately.
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
  if (convert_weights)
    os << ", weights converted on " << (convert_engine == kVector ? "VectorE" : convert_engine == kScalar ? "ScalarE" : "GpSimdE")
       << " per 128-deep tile, scales on the output";
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

// One K step (128 deep) of a plan's PSUM block on TensorE, with `moving` columns streaming per matmul.
double block_step_seconds(const GemmPlan& p, const OpSpec& op, const TrainiumSpec& spec, double moving) {
  const double rate = std::max(1e-9, spec.cols_per_cycle(mm_dtype(op)));
  return p.tiles_r * p.tiles_c * std::max(moving / rate, spec.tensor.mm_init_cycles) / spec.tensor.clock.value();
}
// What one core's loads stream at: its DMA engines, or its share of the HBM.
double core_load_bandwidth(const TrainiumSpec& spec, int cores) {
  return std::min(spec.core_dma_bandwidth(), spec.hbm.bandwidth.value() * spec.hbm.efficiency / cores);
}
}  // namespace

DType mm_dtype(const OpSpec& op) {
  return bytes_per_element(op.wdtype) > bytes_per_element(op.dtype) ? op.wdtype : op.dtype;
}

bool weights_converted(const OpSpec& op, const TrainiumSpec& spec) {
  const DType w = op.wdtype;
  if (w == mm_dtype(op)) return false;
  return w == DType::int8 || (w == DType::fp8 && spec.cols_per_cycle(w) <= 0);
}

int weight_convert_engine(const OpSpec& op, const TrainiumSpec& spec) {
  const std::string& e = spec.weight_convert_engine;
  if (e == "vector") return kVector;
  if (e == "scalar") return kScalar;
  if (e == "gpsimd") return kGpSimd;
  // auto: the faster of the two engines tensor_copy runs on in every generation, for the stored format.
  const double vec = spec.vector.rate(op.wdtype) * spec.vector.clock.value();
  const double gps = spec.gpsimd.rate(op.wdtype) * spec.gpsimd.clock.value();
  return gps > vec ? kGpSimd : kVector;
}

namespace {

// A larger block replaces the halving rule's only where its estimate is lower by more than this share
// (assumed: the estimate's own error on the shapes checked, 1%).
constexpr double kPlanTie = 0.01;

// K chunk: about 512 KiB per pair of loads, within half of a partition's SBUF for all buffers.
int choose_kc(const GemmPlan& p, const OpSpec& op, const TrainiumSpec& spec, std::int64_t max_rows, int cores) {
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype);
  const double per_step = (std::min<std::int64_t>(p.block_rows(), max_rows) * ea +
                           std::min<std::int64_t>(p.block_cols(), op.n) * eb);  // bytes per partition per K step
  const std::int64_t ksteps = ceil_div(op.k, kPartitions);
  int kc = static_cast<int>(std::ceil(512.0 * 1024 / (per_step * kPartitions)));
  kc = std::max(1, std::min<int>({kc, 8, static_cast<int>(ksteps)}));
  // With double-buffered loads, chunk i+2's load is triggered when chunk i's matmuls finish and arrives a
  // DMA start latency [NKI-DMABW] (and the HBM's first data) plus its streaming later, so one chunk's matmuls
  // must last that long for TensorE not to wait: where the matmuls outrun the loads, grow the chunk until they
  // cover the latency, as a kernel writer sizes a prefetch (within the same SBUF share).
  if (p.buffers >= 2) {
    const double moving = p.a_stationary ? static_cast<double>(std::min<std::int64_t>(kMaxMovingFree, op.n))
                                         : static_cast<double>(std::min<std::int64_t>(kMaxMovingFree, max_rows));
    const double t_mm = block_step_seconds(p, op, spec, moving);
    const double load_bw = core_load_bandwidth(spec, cores);
    const double t_load = per_step * kPartitions / load_bw;
    const double latency = spec.dma.start_latency.value() + spec.hbm.latency.value() + spec.dma.trigger.value();
    if (t_mm > t_load * 1.05) {
      // Only where it can: a chunk of more than half of K would leave nothing to overlap its load with.
      const int hide = static_cast<int>(std::ceil(latency / (t_mm - t_load)));
      if (hide <= std::min<std::int64_t>(8, ksteps / 2)) kc = std::max(kc, hide);
    }
  }
  // Converted weights take one more stored buffer and `buffers` converted ones (in the matmul dtype) per K step.
  const double cols = static_cast<double>(std::min<std::int64_t>(p.block_cols(), op.n));
  const double conv_step = p.convert_weights ? cols * (eb + p.buffers * bytes_per_element(mm_dtype(op))) : 0.0;
  while (kc > 1 && kc * (p.buffers * per_step + conv_step) > 0.5 * spec.sbuf_per_partition.value()) --kc;
  return kc;
}

// The plan's own estimate of its run (not the simulation): each core's chain of K chunks over its blocks
// (round-robin, as lower_gemm deals them), a chunk's load issued once the matmuls that read its buffer
// `buffers` chunks earlier are done, arriving a DMA start latency later and streaming at the core's share
// of the HBM among the cores loading in that wave; its matmuls after the load and the previous chunk's;
// then the last block's evacuation and store.
double plan_estimate(const GemmPlan& p, const OpSpec& op, const TrainiumSpec& spec, const std::vector<Group>& gs,
                     std::int64_t max_rows) {
  const int cores = spec.active_cores();
  const std::int64_t blocks = count_blocks(gs, op.n, p.block_rows(), p.block_cols());
  const std::int64_t per_core = ceil_div(blocks, cores), ksteps = ceil_div(op.k, kPartitions);
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype);
  const double rows = static_cast<double>(std::min<std::int64_t>(p.block_rows(), max_rows));
  const double cols = static_cast<double>(std::min<std::int64_t>(p.block_cols(), op.n));
  const double moving = p.a_stationary ? std::min<double>(kMaxMovingFree, cols) : std::min<double>(kMaxMovingFree, rows);
  const double latency = spec.dma.start_latency.value() + spec.hbm.latency.value() + spec.dma.trigger.value();
  // Each K step loads a [128-partition] run of A^T's rows and one of B's cols per partition, spread over the core's
  // engines, each engine paying dma.row_overhead per row it moves (as TrainiumMemory charges it): a decode GEMM's
  // 32-byte A^T rows cost more than their bytes, and a plan of twice the blocks loads them twice. Left out, the
  // estimate ranked 12 blocks of 512 columns over 8 cores ahead of 6 of 1024 at 4 TB/s of HBM (trn2 16 x 6144 x 4096
  // bf16: 32.0 -> 36.5 us, slower with more bandwidth; QA session 39).
  const double engines = spec.dma.engines_for(kPartitions);
  const double row_cost = 2.0 * std::ceil(static_cast<double>(kPartitions) / engines) * spec.dma.row_overhead.value();
  std::vector<double> mm_end(static_cast<size_t>(p.buffers), 0.0);
  double dma_free = 0, mm_last = 0;
  std::int64_t chunk = 0;
  for (std::int64_t b = 0; b < per_core; ++b) {
    // Cores loading at once in this wave (the last wave may be partial).
    const std::int64_t active = std::min<std::int64_t>(cores, blocks - b * cores);
    const double bw = core_load_bandwidth(spec, static_cast<int>(std::max<std::int64_t>(1, active)));
    for (std::int64_t ks0 = 0; ks0 < ksteps; ks0 += p.kc, ++chunk) {
      const double steps = static_cast<double>(std::min<std::int64_t>(p.kc, ksteps - ks0));
      double& slot = mm_end[static_cast<size_t>(chunk % p.buffers)];
      const double arrive = std::max(slot + latency, dma_free) + steps * (kPartitions * (rows * ea + cols * eb) / bw + row_cost);
      dma_free = arrive;
      mm_last = std::max(arrive, mm_last) + steps * block_step_seconds(p, op, spec, moving);
      slot = mm_last;
    }
  }
  // The last block's PSUM tiles evacuated (one lane pass each) and stored.
  const double tiles = p.tiles_r * p.tiles_c;
  const double evac = tiles * (spec.vector.fixed_latency_cycles + rows * cols / tiles / spec.vector.rate(DType::fp32)) /
                      spec.vector.clock.value();
  const int used = static_cast<int>(std::min<std::int64_t>(cores, std::max<std::int64_t>(1, blocks)));
  return mm_last + evac + latency + rows * cols * bytes_per_element(op.odtype) / core_load_bandwidth(spec, used);
}

// Whether the NKI tutorial's SBUF-accumulating kernel at N and K blocks bn x bk would be bound by its VectorE
// accumulation: per [128 x 512] PSUM tile and K block, a tensor_tensor add of two fp32 inputs (2N cycles and
// the static instruction overhead [NKI-T1], as lower_gemm_nki_blocked issues it) against the tile's bk/128
// matmuls on TensorE and the tile's share of the K block's lhsT and rhs loads at the core's load rate.
bool accumulation_bound(const OpSpec& op, const TrainiumSpec& spec, std::int64_t bn, std::int64_t bk, int cores) {
  const double rate = std::max(1e-9, spec.cols_per_cycle(mm_dtype(op)));
  const double mm = static_cast<double>(bk / kPartitions) * std::max(kMaxMovingFree / rate, spec.tensor.mm_init_cycles) /
                    spec.tensor.clock.value();
  const double acc = (spec.vector.fixed_latency_cycles +
                      2.0 * kPartitions * kMaxMovingFree / std::max(1e-9, spec.vector.rate(DType::fp32))) /
                     spec.vector.clock.value();
  // Per N block and K block: rhs [bk x bn] once and lhsT [bk x M] for every M block, over (M/128) x (bn/512) tiles.
  const double tiles = static_cast<double>(op.m / kPartitions) * static_cast<double>(bn / kMaxMovingFree);
  const double bytes = static_cast<double>(bk) * (bn * bytes_per_element(op.wdtype) + op.m * bytes_per_element(op.dtype));
  const double load = bytes / tiles / core_load_bandwidth(spec, cores);
  return acc > std::max(mm, load);
}

}  // namespace

GemmPlan choose_gemm_plan(const OpSpec& op, const TrainiumSpec& spec) {
  GemmPlan base;
  const auto gs = groups_of(op);
  std::int64_t max_rows = 0;
  for (const auto& g : gs) max_rows = std::max(max_rows, g.rows);
  max_rows = std::max<std::int64_t>(1, max_rows);
  const int banks = spec.psum_banks;
  base.convert_weights = weights_converted(op, spec);
  base.convert_engine = weight_convert_engine(op, spec);
  base.a_stationary = !(max_rows < kMaxMovingFree && max_rows < op.n);
  base.buffers = spec.dma_buffers;
  // The largest block PSUM holds (4 x 2 tiles of 128 x 512, one bank each, A-stationary; a row of up to
  // `banks` tiles B-stationary), halved until every NeuronCore has a block. A core count that is not a
  // divisor of that count leaves a partial second wave (16 blocks over 12 cores), so each larger block
  // on the way, with fewer blocks than cores, is estimated too and taken where it is faster by more
  // than kPlanTie: the extra cores then stay idle, as on a chip with fewer of them.
  if (base.a_stationary) {
    base.tiles_r = static_cast<int>(std::min<std::int64_t>({4, banks, ceil_div(max_rows, kPartitions)}));
    base.tiles_c = static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(banks / base.tiles_r, ceil_div(op.n, kMaxMovingFree))));
  } else {
    base.tiles_r = 1;
    base.tiles_c = static_cast<int>(std::min<std::int64_t>(banks, ceil_div(op.n, kPartitions)));
  }
  const int cores = spec.active_cores();
  std::vector<GemmPlan> halvings = {base};
  for (GemmPlan p = base; count_blocks(gs, op.n, p.block_rows(), p.block_cols()) < cores && (p.tiles_r > 1 || p.tiles_c > 1);
       halvings.push_back(p)) {
    if (p.tiles_c >= p.tiles_r && p.tiles_c > 1) p.tiles_c = (p.tiles_c + 1) / 2;
    else p.tiles_r = (p.tiles_r + 1) / 2;
  }
  GemmPlan best;
  double best_est = 0;
  for (auto it = halvings.rbegin(); it != halvings.rend(); ++it) {
    GemmPlan p = *it;
    p.kc = choose_kc(p, op, spec, max_rows, cores);
    const double est = plan_estimate(p, op, spec, gs, max_rows);
    if (best_est == 0 || est < best_est * (1 - kPlanTie)) best = p, best_est = est;
  }
  return best;
}

LowerOptions::Block choose_sbuf_blocks(const OpSpec& op, const TrainiumSpec& spec, const GemmPlan& plan) {
  LowerOptions::Block none;
  // The tutorial's kernel has no weight-conversion step: converted weights keep the PSUM plan.
  if (op.kind != OpKind::Gemm || op.batch != 1 || !plan.a_stationary || plan.convert_weights || op.m % kPartitions ||
      op.k % kPartitions)
    return none;
  // Only where the PSUM-sized block's loads take about as long as its matmuls or longer (DMA-bound).
  const double ea = bytes_per_element(op.dtype), eb = bytes_per_element(op.wdtype);
  const int cores = spec.active_cores();
  const double t_mm = block_step_seconds(plan, op, spec, kMaxMovingFree);
  const double load_bw = core_load_bandwidth(spec, cores);
  const double t_load = (plan.block_rows() * ea + plan.block_cols() * eb) * kPartitions / load_bw;
  if (t_load < 0.9 * t_mm) return none;
  // The largest blocks whose result strip (at most half of SBUF) and double-buffered input blocks fit SBUF,
  // with an N block for every core.
  const double sbuf = spec.sbuf_per_partition.value();
  for (std::int64_t bn : {1024, 512}) {
    const double result = static_cast<double>(op.m / kPartitions) * bn * ea;
    if (op.n % bn || op.n / bn < cores || result > 0.5 * sbuf) continue;
    for (std::int64_t bk : {1024, 512, 256, 128})
      for (std::int64_t bm : {2048, 1024, 512, 256, 128})
        if (op.k % bk == 0 && op.m % bm == 0 && (bm / kPartitions) * bn <= 65536 &&
            result + 2.0 * (bk / kPartitions) * (bm * ea + bn * eb) <= sbuf) {
          // Enough (N block, K block) steps per core to amortise the kernel's unoverlapped first loads and
          // last copies and stores; small GEMMs keep the PSUM plan.
          if ((op.n / bn / cores) * (op.k / bk) < 8) return none;
          // The K block is the largest that divides K (the kernel asserts it), so a K with few factors of two
          // (1152 = 9 x 128) gets a shallow one, and every K block adds each PSUM tile into the SBUF result on
          // VectorE. Where that pass outlasts both the tile's matmuls and its share of the block's loads, the
          // kernel is bound by its own accumulation (K = 1152: 6.5x the roofline on trn1/inf2), which no
          // kernel writer would take over the PSUM plan: keep that plan.
          return accumulation_bound(op, spec, bn, bk, cores) ? none : LowerOptions::Block{bm, bn, bk};
        }
  }
  return none;
}

KernelPrograms lower_gemm(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  if (opt.gemm_block.set()) return lower_gemm_nki_blocked(op, spec, opt);
  const GemmPlan plan = choose_gemm_plan(op, spec);
  // Where PSUM-sized blocks leave the core DMA-bound, accumulate larger blocks in SBUF as the NKI matmul
  // tutorial's optimized kernel does (about half the traffic per FLOP at its 2048x1024 blocks).
  if (!opt.functional && spec.dma_buffers >= 2) {
    const LowerOptions::Block b = choose_sbuf_blocks(op, spec, plan);
    if (b.set()) {
      LowerOptions o = opt;
      o.gemm_block = b;
      return lower_gemm_nki_blocked(op, spec, o);
    }
  }
  return lower_gemm(op, spec, opt, plan);
}

namespace {

struct Block {
  std::int64_t grow0, brow0, rows, c0, cols;
};

// What every core's stream needs (immutable, shared).
struct GemmJob {
  OpSpec o;
  GemmPlan plan;
  TensorRef A, B, C;
  double ea = 0, eb = 0, ec = 0;
  DType mmd = DType::bf16;
  int cores = 0, banks = 0;
  std::int64_t rows_total = 0;
  std::vector<Block> blocks;
  bool functional = false;
};

// One core's streams: its blocks one after another, each a set of PSUM output tiles accumulated over
// K chunks loaded into `buffers` rotating SBUF buffers, then evacuated and stored.
class CoreStreams {
 public:
  CoreStreams(const GemmJob& j, Task& task)
      : m_j(j), m_emit(task, j.functional), m_slot_last(static_cast<size_t>(j.plan.buffers), kNoDep),
        m_bslot_last(static_cast<size_t>(j.plan.buffers), kNoDep),
        m_raw_last(static_cast<size_t>(j.plan.buffers + 1), kNoDep), m_bank_free(static_cast<size_t>(j.banks), kNoDep) {}

  void block(const Block& b) {
    tiles_of(b);
    m_emit(build::sync(kTensor), [&] { return fop::zero(0, static_cast<int>(b.rows), static_cast<int>(b.cols)); });
    const std::int64_t ksteps = ceil_div(m_j.o.k, kPartitions);
    bool first_step = true;
    for (std::int64_t ks0 = 0; ks0 < ksteps; ks0 += m_j.plan.kc) k_chunk(b, ks0, first_step);
    evacuate(b);
  }

 private:
  // An output tile: stationary free, moving free, offsets and extent in C, its PSUM bank.
  struct Tile {
    int sf, mf;
    std::int64_t r, c, rows, cols;
    int bank;
    std::uint32_t last_mm = kNoDep;
  };

  void tiles_of(const Block& b) {
    m_tiles.clear();
    if (m_j.plan.a_stationary) {
      for (std::int64_t r = 0; r < b.rows; r += kPartitions)
        for (std::int64_t c = 0; c < b.cols; c += kMaxMovingFree) {
          std::int64_t rr = std::min<std::int64_t>(kPartitions, b.rows - r), cc = std::min<std::int64_t>(kMaxMovingFree, b.cols - c);
          m_tiles.push_back({static_cast<int>(rr), static_cast<int>(cc), r, c, rr, cc, 0});
        }
    } else {
      for (std::int64_t c = 0; c < b.cols; c += kPartitions) {
        std::int64_t cc = std::min<std::int64_t>(kPartitions, b.cols - c);
        m_tiles.push_back({static_cast<int>(cc), static_cast<int>(b.rows), 0, c, b.rows, cc, 0});
      }
    }
    for (auto& t : m_tiles) t.bank = static_cast<int>(m_tile_no++ % m_j.banks);
  }

  // One K chunk: A^T [kw, rows] (K-major, runs of rows*ea) and B [kw, cols] into the next buffer,
  // then every tile's 128-deep matmuls (the chunk's last one carries the functional product).
  void k_chunk(const Block& b, std::int64_t ks0, bool& first_step) {
    const GemmJob& j = m_j;
    const OpSpec& o = j.o;
    const std::int64_t K = o.k, N = o.n;
    const std::int64_t k0 = ks0 * kPartitions;
    const std::int64_t kw = std::min<std::int64_t>(j.plan.kc * kPartitions, K - k0);
    const size_t raw = static_cast<size_t>(m_chunk_no % (j.plan.buffers + 1));
    const size_t slot = static_cast<size_t>(m_chunk_no++ % j.plan.buffers);
    // Where the whole K is one chunk, an operand chunk equal to the previous chunk's (the next block on the same
    // rows of A or the same columns of B) is still in its SBUF buffer and is not loaded again: the kernel's
    // loop-invariant load, hoisted out of the inner block loop (NKIBench's bmm baseline loads each [64, 1024]
    // rhs block once for its 32 row tiles). The buffers are split into an A and a B part, each freed by the
    // last matmul that read it.
    const bool one_chunk = ks0 == 0 && kw >= K && !j.plan.convert_weights;
    const bool keep_a = one_chunk && m_prev_a.rows > 0 && m_prev_a.grow0 == b.grow0 && m_prev_a.rows == b.rows;
    const bool keep_b = one_chunk && m_prev_b.cols > 0 && m_prev_b.brow0 == b.brow0 && m_prev_b.c0 == b.c0 &&
                        m_prev_b.cols == b.cols;
    const Instr la = dma(TxKind::DmaRead, j.A.addr + static_cast<std::uint64_t>((k0 * j.rows_total + b.grow0) * j.ea),
                         static_cast<std::uint64_t>(b.rows * kw * j.ea), static_cast<std::uint32_t>(kw), o.dtype);
    const Instr lb = dma(TxKind::DmaRead, j.B.addr + static_cast<std::uint64_t>(((b.brow0 + k0) * N + b.c0) * j.eb),
                         static_cast<std::uint64_t>(kw * b.cols * j.eb), static_cast<std::uint32_t>(kw), o.wdtype);
    auto load_a = [&] {
      return m_emit(with_deps(la, m_slot_last[slot]), [&] {
        return fop::load(1, j.A.id, static_cast<int>(b.grow0), static_cast<int>(k0), static_cast<int>(b.rows), static_cast<int>(kw),
                         o.dtype);
      });
    };
    const bool conv = j.plan.convert_weights;
    auto load_b = [&] {
      return m_emit(with_deps(lb, conv ? m_raw_last[raw] : m_bslot_last[slot]), [&] {
        return fop::load(2, j.B.id, static_cast<int>(b.brow0 + k0), static_cast<int>(b.c0), static_cast<int>(kw),
                         static_cast<int>(b.cols), o.wdtype);
      });
    };
    // The in-order load queue: with converted weights the stored-weight load (which waits only for a conversion)
    // goes first, so an A load waiting for the matmuls of its buffer does not hold it back.
    std::uint32_t ia = kNoDep, ib = kNoDep;
    if (conv) ib = load_b(), ia = load_a();
    else {
      ia = keep_a ? m_prev_a_load : load_a();
      ib = keep_b ? m_prev_b_load : load_b();
    }
    const size_t slot_a = keep_a ? m_prev_a_slot : slot, slot_b = keep_b ? m_prev_b_slot : slot;
    if (one_chunk) {
      m_prev_a = b, m_prev_b = b;
      m_prev_a_load = ia, m_prev_b_load = ib, m_prev_a_slot = slot_a, m_prev_b_slot = slot_b;
    } else {
      m_prev_a = m_prev_b = Block{};
    }
    std::uint32_t last = kNoDep;
    for (std::int64_t kk = k0; kk < k0 + kw; kk += kPartitions) {
      const int kd = static_cast<int>(std::min<std::int64_t>(kPartitions, K - kk));
      const bool last_step = kk + kPartitions >= k0 + kw;
      // A stored weight tile [kd partitions, cols] converted into the buffer's matmul-dtype copy, once the
      // matmuls that read that copy `buffers` chunks earlier are done (transformers-neuronx's Convert).
      const std::uint32_t iw =
          conv ? m_raw_last[raw] = m_emit(with_deps(lane(static_cast<Engine>(j.plan.convert_engine), kd, b.cols, 1, o.wdtype, 1.0),
                                                     ib, m_slot_last[slot]))
               : ib;
      for (auto& t : m_tiles) {
        const Instr mm = with_deps(matmul(t.sf, t.mf, kd, j.mmd, static_cast<std::uint64_t>(2 * t.rows * t.cols * kd)), ia, iw,
                                   first_step ? m_bank_free[static_cast<size_t>(t.bank)] : kNoDep);
        last = t.last_mm = last_step && &t == &m_tiles.back() ? m_emit(mm, [&] { return fop::matmul(0, 1, 2, j.mmd); }) : m_emit(mm);
      }
      first_step = false;
    }
    m_slot_last[slot_a] = last;
    m_bslot_last[slot_b] = last;
  }

  // Evacuate each PSUM tile (fp32) into SBUF in the output dtype (VectorE, or ScalarE with a fused
  // activation), then store it; the block's last store carries the functional store.
  void evacuate(const Block& b) {
    const GemmJob& j = m_j;
    const Engine ev = j.plan.fused_activation ? kScalar : kVector;
    const double act_flops = (j.plan.fused_activation ? 8.0 : 1.0) + (j.plan.convert_weights ? 1.0 : 0.0);
    // Converted weights' per-output-channel scales multiply the result as it is evacuated: a per-partition
    // scalar where the columns lie on the partitions (B-stationary), a second streamed input (the scales
    // broadcast over the partitions) where they lie along the free axis (A-stationary).
    const int passes = j.plan.convert_weights && j.plan.a_stationary ? 2 : 1;
    // A-stationary tiles side by side in one 128-row strip of the block (the same rows, adjacent columns) are
    // evacuated into one SBUF tile and stored by one DMA, one run of the strip's width per partition, as NKI
    // kernels store a [128, block width] result tile (NKIBench's bmm baseline stores [128, 1024] fp32; the NKI
    // matmul tutorial stores its result block's 128-row strips): fewer, longer rows per transfer [NKI-DMA].
    // B-stationary tiles each hold all the block's rows of different columns of C: one store per tile.
    std::uint64_t strip_addr = 0, strip_bytes = 0;
    std::int64_t strip_r = -1, strip_end = 0;
    int strip_sf = 0;
    std::uint32_t strip_evac = kNoDep;
    auto flush = [&](bool last) {
      if (strip_bytes == 0) return;
      const Instr st = with_deps(dma(TxKind::DmaWrite, strip_addr, strip_bytes, static_cast<std::uint32_t>(strip_sf),
                                     j.o.odtype),
                                 strip_evac);
      strip_bytes = 0;
      if (!last) {
        m_emit(st);
        return;
      }
      m_emit(st, [&] {
        return fop::store(0, j.C.id, static_cast<int>(b.grow0), static_cast<int>(b.c0), static_cast<int>(b.rows),
                          static_cast<int>(b.cols), j.o.odtype);
      });
    };
    for (auto& t : m_tiles) {
      // PSUM holds [stationary free partitions, moving free]: rows x cols (A-st) or cols x rows (B-st).
      const std::uint32_t ie = m_emit(with_deps(lane(ev, t.sf, t.mf, passes, DType::fp32, act_flops), t.last_mm));
      m_bank_free[static_cast<size_t>(t.bank)] = ie;
      const std::uint64_t bytes = static_cast<std::uint64_t>(t.rows * t.cols * j.ec);
      // One contiguous run per PSUM partition: A-stationary tiles store rows of C, B-stationary tiles
      // columns of C, i.e. rows of C^T ([n, rows_total], the layout the consumer reads as A^T).
      const std::uint64_t addr =
          j.C.addr + static_cast<std::uint64_t>((j.plan.a_stationary ? (b.grow0 + t.r) * j.o.n + b.c0 + t.c
                                                                      : (b.c0 + t.c) * j.rows_total + b.grow0 + t.r) *
                                                 j.ec);
      const bool joins = j.plan.a_stationary && strip_bytes > 0 && t.r == strip_r && t.c == strip_end;
      if (!joins) {
        flush(false);
        strip_addr = addr, strip_r = t.r, strip_sf = t.sf;
      }
      strip_bytes += bytes;
      strip_end = t.c + t.cols;
      strip_evac = ie;
    }
    flush(true);
  }

  const GemmJob& m_j;
  build::Emitter m_emit;
  // Per buffer: the last matmul that read it; with converted weights, per stored-weight buffer (one more than
  // `buffers`: one per stage of the load -> convert -> matmul pipeline, as double buffering gives each of load
  // and matmul one) the last conversion that read it, after which the next load may overwrite it.
  // m_slot_last: per buffer, the last matmul that read its A part (all of it with converted weights);
  // m_bslot_last: its B part.
  std::vector<std::uint32_t> m_slot_last, m_bslot_last, m_raw_last, m_bank_free;
  // The previous one-chunk block's operands, the loads that brought them and their buffers (rows / cols 0: none).
  Block m_prev_a{}, m_prev_b{};
  std::uint32_t m_prev_a_load = kNoDep, m_prev_b_load = kNoDep;
  size_t m_prev_a_slot = 0, m_prev_b_slot = 0;
  std::vector<Tile> m_tiles;
  std::int64_t m_chunk_no = 0, m_tile_no = 0;
};

}  // namespace

KernelPrograms lower_gemm(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt, const GemmPlan& plan) {
  op.validate();
  // The matmul dtype and the activations need a Tensor Engine path (activations are not converted); weights
  // without one are converted where their stored format is one the engines read (int8, fp8), else refused.
  for (DType d : {mm_dtype(op), op.dtype, op.wdtype})
    if (spec.cols_per_cycle(d) <= 0 && !(d == op.wdtype && plan.convert_weights))
      unsupported(spec.name, op, std::string("the NeuronCore-") + spec.neuroncore + " Tensor Engine has no " + name(d) +
                                     " matmul path (use bf16" + (spec.tensor.fp8 > 0 ? ", fp8" : "") + " or fp32" +
                                     (d == op.wdtype ? "; int8 weights are converted to the activations' dtype" : "") + ")");
  auto j = std::make_shared<GemmJob>();
  j->o = op, j->plan = plan;
  const std::string label = op.label.empty() ? "gemm" : op.label;
  j->A = opt.ref(label, "A"), j->B = opt.ref(label, "B"), j->C = opt.ref(label, "C");
  j->ea = bytes_per_element(op.dtype), j->eb = bytes_per_element(op.wdtype), j->ec = bytes_per_element(op.odtype);
  j->mmd = mm_dtype(op);
  j->functional = opt.functional && !plan.fused_activation;
  j->cores = spec.active_cores();
  j->banks = spec.psum_banks;
  const std::int64_t br = plan.block_rows(), bc = plan.block_cols();
  const double conv_bytes = plan.convert_weights ? plan.kc * bc * (j->eb + plan.buffers * bytes_per_element(j->mmd)) : 0.0;
  if (plan.buffers * plan.kc * (br * j->ea + bc * j->eb) + conv_bytes > spec.sbuf_per_partition.value())
    throw InputError(spec.name + ": GEMM plan needs more SBUF per partition than " + spec.sbuf_per_partition.str(), "", spec.sbuf_per_partition.str())
        .with_key("", "sbuf.bytes_per_partition");
  if (plan.tiles_r * plan.tiles_c > j->banks)
    throw InputError(spec.name + ": GEMM block of " + std::to_string(plan.tiles_r * plan.tiles_c) +
                     " PSUM tiles exceeds the " + std::to_string(j->banks) + " PSUM banks", "", std::to_string(j->banks)).with_key("", "psum.banks");
  // Where the whole K is one chunk (the blocks keep an unchanged operand chunk in SBUF, CoreStreams::k_chunk),
  // a group's blocks go column by column when a block's B chunk is larger than its A chunk, so B is the one kept
  // (as NKIBench's bmm baseline loops over row tiles inside each rhs column block); else row by row.
  const bool by_column = ceil_div(op.k, kPartitions) <= plan.kc && !plan.convert_weights &&
                         static_cast<double>(bc) * j->eb > static_cast<double>(br) * j->ea;
  for (const auto& g : groups_of(op)) {
    j->rows_total += g.rows;
    auto add = [&](std::int64_t r0, std::int64_t c0) {
      j->blocks.push_back({g.row0 + r0, g.brow0, std::min(br, g.rows - r0), c0, std::min(bc, op.n - c0)});
    };
    if (by_column) {
      for (std::int64_t c0 = 0; c0 < op.n; c0 += bc)
        for (std::int64_t r0 = 0; r0 < g.rows; r0 += br) add(r0, c0);
    } else {
      for (std::int64_t r0 = 0; r0 < g.rows; r0 += br)
        for (std::int64_t c0 = 0; c0 < op.n; c0 += bc) add(r0, c0);
    }
  }
  std::shared_ptr<const GemmJob> job = j;
  auto build = [job](int core, Task& task) {
    CoreStreams s(*job, task);
    for (size_t bi = static_cast<size_t>(core); bi < job->blocks.size(); bi += static_cast<size_t>(job->cores)) s.block(job->blocks[bi]);
  };
  Program p = per_core_program(op.kind == OpKind::GroupedGemm ? "grouped_gemm" : "gemm", op,
                               plan.str() + ", " + std::to_string(j->blocks.size()) + " blocks over " +
                                   std::to_string(j->cores) + " NeuronCores",
                               spec, build);
  p.functional = j->functional;
  return {p};
}

}  // namespace xpu::trainium
