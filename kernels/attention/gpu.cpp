// Prefill (FlashAttention-2/3 style): one block per (sequence, query head, 128-query tile). It loads
// its Q tile once, then streams 128-key K/V tiles: S = Q K^T on the tensor cores, the online-softmax
// update on the CUDA cores/SFUs (exp of every score), O += P V on the tensor cores. With causal
// masking, key tiles entirely above the diagonal are skipped; with a sliding window, tiles entirely
// outside it. GQA: the query heads of a group read the same K/V addresses, so L2 serves them.
// Decode (FlashDecoding style): one block per (sequence, KV head, split of the context); the group's
// query heads are the rows of the MMA (padded to the 64-row wgmma minimum); KV pages are loaded page
// by page; a second small kernel combines the splits' partial outputs.
// Functional mode: Q [batch*heads*seq_q, d] (row (b*H + h)*Sq + q), K/V [batch*kv_heads*seq_kv, d/dv]
// (query head h reads KV head h / (H/KVH)), O [batch*heads*seq_q, dv]; queries are the last seq_q
// positions. Each transaction carries its step: the K/V loads fill the tile buffers, S = Q K^T on the
// first MMA, scale + mask + online softmax (running max m, sum l, O rescale) on the vector op, O += P V
// on the second MMA (P rounded to the MMA dtype, as FlashAttention converts it), O / l at the store.
// Decode splits store normalized partial O and their log-sum-exp (fp32) to L2 workspaces
// ("workspace" [.., dv], "lse" [.., 1], row ((b*KVH + g)*splits + s)*rows + r); the combine kernel
// weighs them by exp(lse_s - max lse) and normalizes, which is exact.
#include "kernels/attention/gpu.h"

#include <algorithm>
#include <cmath>

#include "kernels/gpu_builders.h"
#include "sim/base/strformat.h"

namespace xpu::gpu {

namespace {
int I(std::int64_t v) { return static_cast<int>(v); }  // functional views use int coordinates

// Buffers of an attention block: 0 Q, 1 K tile, 2 V tile, 3 O accumulator, 4 running max m, 5 running
// sum l, 6 scores S / probabilities P, 7 tile max, 8 new max, 10 rescale factor, 11 tile row sums,
// 12 normalized O, 13 log-sum-exp.
FuncOp init_state(int Q, int q_row0, int rows, int d, int dv, DType dt) {
  using namespace fop;
  return seq({load(0, Q, q_row0, 0, rows, d, dt), fill(3, rows, dv, 0.f), fill(4, rows, 1, -INFINITY),
              fill(5, rows, 1, 0.f)});
}
FuncOp scores(int rows, int kw, DType mma) {
  using namespace fop;
  return seq({fill(6, rows, kw, 0.f), matmul(6, 0, 1, mma, true)});
}
FuncOp online_softmax(float scale, const FuncOp::PosArgs& mask, bool masked) {
  using namespace fop;
  std::vector<FuncOp> v{unary(Unary::Scale, 6, 6, scale)};
  if (masked) v.push_back(fop::mask(6, 6, mask));
  for (FuncOp f : {reduce(Reduce::Max, 7, 6), binary(Binary::Max, 8, 4, 7), binary(Binary::ExpDiff, 6, 6, 8),
                   binary(Binary::ExpDiff, 10, 4, 8), reduce(Reduce::Sum, 11, 6), binary(Binary::Mul, 5, 5, 10),
                   binary(Binary::Add, 5, 5, 11), binary(Binary::Mul, 3, 3, 10), copy(4, 8)})
    v.push_back(f);
  return seq(v);
}
// O / l, stored to `O` rows [row0, row0 + rows).
FuncOp normalize_store(int O, int row0, int rows, int dv, DType d) {
  return fop::seq({fop::binary(Binary::SafeDiv, 12, 3, 5), fop::store(12, O, row0, 0, rows, dv, d)});
}

// What both strategies share (immutable, captured by every task).
struct AttnJob {
  OpSpec o;
  TensorRef Q, K, V, O;
  int WSf = -1, LSEf = -1;
  double ea = 0, ekv = 0, eo = 0;
  std::int64_t d = 0, dv = 0, group = 0;
  float scale = 0;
  bool masked = false, functional = false;
};

AttnJob make_job(const OpSpec& op, const LowerOptions& opt) {
  AttnJob j;
  j.o = op;
  const std::string label = op.label.empty() ? "attention" : op.label;
  j.Q = opt.ref(label, "Q"), j.K = opt.ref(label, "K"), j.V = opt.ref(label, "V"), j.O = opt.ref(label, "O");
  j.WSf = opt.ref(label, "workspace").id, j.LSEf = opt.ref(label, "lse").id;
  j.ea = bytes_per_element(op.dtype), j.ekv = bytes_per_element(op.wdtype), j.eo = bytes_per_element(op.odtype);
  j.d = op.head_dim, j.dv = op.head_dim_v > 0 ? op.head_dim_v : op.head_dim;
  j.group = op.heads / op.kv_heads;
  j.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(j.d)));
  j.masked = op.causal || op.window > 0;
  j.functional = opt.functional;
  return j;
}

// One KV tile of the online softmax: the K and V loads (`lk`, `lv`), S = Q K^T (`s`), the softmax
// update (`sm`, masked at positions `pos`) and O += P V (`pv`). Returns the P V instruction.
struct KvTile {
  Instr lk, lv, s, sm, pv;
  int kv_row = 0, kw = 0, rows = 0;
  FuncOp::PosArgs pos;
  bool fa2_waits = false;  // V leaves after K arrives, the softmax waits for V (fa2_loads)
};

// The kernel's implementation (OpSpec::impl). FlashAttention-3 style (the default where the GPU has TMA): 3 warpgroups
// (one TMA producer, two wgmma consumers), 128x128 tiles, K/V double-buffered, operands streamed to the
// tensor cores from shared memory. FlashAttention-2 ("fa2", PyTorch's SDPA flash backend on Hopper):
// 4 warps each owning 16 query rows, which load their operands with ldmatrix and run mma.sync
// (kMmaSync), K and V single-buffered with cp.async (the next K tile is fetched once S of this one is
// computed, the next V once P V is), and a warp issues its S, softmax and P V in order: only other
// resident blocks overlap them. Tile shapes of FA2's forward kernel for head dim 128: 128 x 64, and
// 64 x 128 in its split-KV kernel (flash_fwd_launch_template.h, Dao-AILab/flash-attention v2).
struct Flavor {
  bool fa2 = false;
  std::int64_t bq = 128, bkv = 128;
  std::uint32_t warps = 4;
  SmSpec sm;  // the SM's pipe rates (FA2's softmax and epilogue instructions)
  // The flag on its Q, K, V and O copies: FA2 copies with its threads (cp.async), FA3 with TMA.
  std::uint8_t copy_path() const { return fa2 ? kThreadCopy : 0; }
};
// Without --impl the chip's own library kernel runs: FlashAttention-2's where the GPU has no TMA
// (sm.tma: false, the A100: FA2 is the flash kernel of Ampere, and PyTorch's SDPA flash
// backend there), else the warp-specialized TMA kernel (FlashAttention-3 on Hopper; on Blackwell the same
// structure on tcgen05, as FlashAttention-4 and cuDNN's kernels run it).
Flavor prefill_flavor(const OpSpec& op, const GpuSpec& spec) {
  Flavor f;
  f.sm = spec.sm;
  f.fa2 = op.impl == "fa2" || (op.impl.empty() && !(spec.sm.tma && spec.sm.cluster_multicast));
  if (f.fa2) f.bkv = op.head_dim <= 64 ? 128 : 64;
  return f;
}

// The smallest shared-memory footprint the chosen kernel can take: its Q tile and one K and one V tile at
// their fewest rows, single-buffered. Q: 64 rows, the M of one mma tile of the block (FA2: 4 warps x 16
// rows; the TMA kernel: one consumer warpgroup's wgmma, whose 64-row minimum decode pads to). K/V: FA2
// 32 keys, the TMA kernel 64 (its decode loads pages in 64-token groups). assumed: the smallest tiles
// FlashAttention's launch templates use (Dao-AILab/flash-attention, flash_fwd_launch_template.h and
// hopper/tile_size.h) for the large head dims; a head dim whose smallest tile overflows the block's
// shared memory (sm.smem_per_block) has no kernel, so it is refused rather than simulated. MLA's
// 576/512 latent head fits (bf16: 213 kB of H100's 227 KiB), as FlashMLA's 64-row tiles do.
void check_smallest_tile(const AttnJob& j, const Flavor& f, const GpuSpec& spec) {
  constexpr std::int64_t kQRows = 64;
  const std::int64_t kv_rows = f.fa2 ? 32 : 64;
  const double need = kQRows * j.d * j.ea + kv_rows * (j.d + j.dv) * j.ekv;
  const double limit = spec.sm.smem_per_block.value();
  if (need <= limit) return;
  const std::string flag = j.dv == j.d ? "--head-dim " + std::to_string(j.d)
                                       : "--head-dim " + std::to_string(j.d) + " --head-dim-v " + std::to_string(j.dv);
  unsupported(spec.name, j.o,
              flag + ": the kernel's smallest tile (Q " + std::to_string(kQRows) + " x " + std::to_string(j.d) + ", K " +
                  std::to_string(kv_rows) + " x " + std::to_string(j.d) + ", V " + std::to_string(kv_rows) + " x " +
                  std::to_string(j.dv) + ") needs " + std::to_string(static_cast<std::int64_t>(need)) +
                  " bytes of shared memory, more than the " + std::to_string(static_cast<std::int64_t>(limit)) +
                  " bytes (" + strformat("%.4g", limit / 1024) + " KiB) one block may have on " + spec.name + " (sm.smem_per_block)");
}

// FA2's S = Q K^T and O += P V steps on an `mq`-row tile of `kw` keys: each warp reads its own Q rows
// and the whole K tile for S, and the whole V tile for P V (P stays in registers). The K and V tiles
// arrive by the warps' own cp.async copies (LDGSTS, 16 bytes per thread: GmemTiledCopyQKV is
// SM80_CP_ASYNC_CACHEGLOBAL<uint128_t> in kernel_traits.h, whose comment notes that a copy layout with
// bank conflicts on these writes ran 6-10% slower at d128), which pass the SM's L1 / shared-memory unit
// once, the returned bytes written into shared memory, in the same MIO pipe as the ldmatrix reads (as the
// sm80-style GEMM's cp.async stages, kernels/gemm/gpu.cpp, SyncBlock::smem_bytes): the K tile's writes
// are counted with S, V's with P V, and the Q tile's (`q_fill` bytes, the block's first tile) with the first S.
void fa2_mmas(KvTile& t, const AttnJob& j, const Flavor& f, std::uint32_t mq, std::int64_t kw, std::uint64_t s_flops,
              std::uint64_t pv_flops, std::uint64_t q_fill) {
  const DType dt = j.o.dtype;
  const auto n = static_cast<std::uint32_t>(kw);
  const auto k_tile = static_cast<std::uint64_t>(kw * j.d * j.ekv), v_tile = static_cast<std::uint64_t>(kw * j.dv * j.ekv);
  t.s = mma_sync(dt, mq, n, static_cast<std::uint32_t>(j.d), s_flops,
                 static_cast<std::uint64_t>(mq * j.d * j.ea) + f.warps * k_tile + k_tile + q_fill, f.warps);
  t.pv = mma_sync(dt, mq, static_cast<std::uint32_t>(j.dv), n, pv_flops, f.warps * v_tile + v_tile, f.warps);
}
// FA2's block: 4 warps; register-heavy at head dim 128 (a 16-row fp32 O accumulator and the S
// fragments per thread), assumed 255 registers, so 2 blocks share an SM; shared memory holds the Q
// tile and one K and one V tile.
void fa2_block(Task& t, const AttnJob& j, const Flavor& f) {
  block_shape(t, 32 * f.warps, 255, static_cast<std::uint32_t>(f.bq * j.d * j.ea + f.bkv * (j.d + j.dv) * j.ekv));
}
// A phase of thread instructions in FP32 lane-slots: its busiest pipe, the SFUs' MUFU time included.
double phase_slots(const SmSpec& sm, const PassCost& c) {
  return std::max(lane_slots(sm, c), c.mufu * sm.vector_flops_per_clk / 2 / sm.sfu_ops_per_clk);
}
// FA2's online-softmax step of a KV tile of `rows` queries x `kw` keys, in FP32 lane-slots of the SM: the block's
// thread instructions by pipe, phase by phase in program order (flash_fwd_kernel.h's loop body and softmax.h,
// Softmax::softmax_rescale_o, Dao-AILab/flash-attention v2; our count of the code, an estimate):
//   mask   tiles the causal diagonal or the window crosses (Mask::apply_mask): per score a compare and a select
//          of -inf, 2 on the INT32 pipe;
//   max    reduce_max: one max per score (INT32 pipe, as sm.alu_ops_per_clk counts float min/max), then per row
//          a quad all-reduce in each of its 4 threads (2 shuffles, 2 max);
//   rescale every tile but the first: per row and thread exp2((m_old - m) * scale) (FADD, FMUL, one MUFU) and the
//          row sum's FMUL; then acc_o *= that factor, one FMUL per O element (rows x dv: with 64-key tiles at
//          head dim 128, two per score);
//   exp    scale_apply_exp2: one FFMA and one MUFU.EX2 per score (FA2 builds with --use_fast_math);
//   sum    reduce_sum, thread-local: one FADD per score;
//   P      convert_type to 16 bits: one cvt per 2 scores (INT32 pipe, as the row kernels count conversions).
// Each phase is bound by its busiest pipe (lane_slots; the SFUs for MUFU, sm.sfu_ops_per_clk) and follows the
// previous one: each needs the one before's result (max, then exp, then sum and P), and a warp issues in order.
// The O rescale does not depend on the exp; it is counted before it, as written (assumed: nvcc may interleave
// part of it with the exp's MUFU-bound loop). With FA2 there is no second warpgroup to run its MMAs meanwhile
// (no ping-pong, FlashAttention-3 section 3.1): only a co-resident block's warps use the tensor cores then.
double fa2_softmax_slots(const SmSpec& sm, double rows, double kw, double dv, bool first, bool masked) {
  const double scores = rows * kw, quad = 4 * rows;  // each row's scores are spread over 4 threads
  auto phase = [&sm](const PassCost& c) { return phase_slots(sm, c); };
  double slots = masked ? phase({0, 2 * scores, 0, 0}) : 0;
  slots += phase({0, scores + 2 * quad, 0, 2 * quad});
  if (!first) slots += phase({3 * quad, 0, quad, 0}) + phase({rows * dv, 0, 0, 0});
  slots += phase({scores, 0, scores, 0}) + phase({scores, 0, 0, 0}) + phase({0, scores / 2, 0, 0});
  return slots;
}
// FA2's epilogue (softmax.h normalize_softmax_lse, then the O store through shared memory), in FP32 lane-slots: per
// row and thread a quad all-reduce of the row sum (2 shuffles, 2 FADD), 1/sum and log(sum) for the LSE (2 MUFU,
// an FFMA); O *= 1/sum, one FMUL per O element; O to 16 bits, a cvt per 2 (INT32 pipe).
double fa2_epilogue_slots(const SmSpec& sm, double rows, double dv) {
  const double quad = 4 * rows;
  auto phase = [&sm](const PassCost& c) { return phase_slots(sm, c); };
  return phase({3 * quad, 0, 2 * quad, 2 * quad}) + phase({rows * dv, 0, 0, 0}) + phase({0, rows * dv / 2, 0, 0});
}
// The epilogue as one vector op after `last` (the block's last P V): all its warps' rows (the padded tile) compute it,
// and O (`rows` x dv of `eo` bytes) is written to and read back from shared memory for the store.
std::uint32_t fa2_epilogue(build::Emitter& emit, const Flavor& f, std::int64_t rows, std::int64_t dv, double eo, std::uint32_t last) {
  return emit(after(cuda(DType::fp32, static_cast<std::uint32_t>(f.bq), static_cast<std::uint32_t>(dv), 0,
                         static_cast<std::uint64_t>(2 * fa2_epilogue_slots(f.sm, static_cast<double>(f.bq), static_cast<double>(dv))),
                         static_cast<std::uint64_t>(2.0 * static_cast<double>(rows * dv) * eo)),
                    last));
}

// FA2's single-buffered loads and its two waits per KV tile (flash_fwd_kernel.h, compute_attn_1rowblock
// and its split-KV twin): at the loop's top every thread waits for its cp.async copies (K of this tile)
// and the block synchronizes, then issues V of this tile and computes S; after S it waits again (V) and
// synchronizes before it issues the next K and runs the softmax and P V. So the next K leaves once S is
// done and V has arrived, V once P V of the last tile is done and K has arrived, and the softmax waits
// for V: the two copies of a tile never overlap each other, only the MMAs and softmax between them.
void fa2_loads(KvTile& t, std::uint32_t last_s, std::uint32_t last_v, std::uint32_t last_pv) {
  t.lk.dep[0] = last_s;
  t.lk.dep[1] = last_v;
  t.lv.dep[0] = last_pv;
  t.lk.level |= kThreadCopy;  // cp.async by the block's threads: the load-to-use latencies
  t.lv.level |= kThreadCopy;
  t.fa2_waits = true;
}

// The K and V tile loads of `kw` keys at `kaddr` / `vaddr` (m: the rows or pages a copy spans), after
// the instruction `reuse` that freed their buffers.
void kv_loads(KvTile& t, const AttnJob& j, std::uint64_t kaddr, std::uint64_t vaddr, std::int64_t kw, std::uint32_t m,
              std::uint32_t reuse) {
  t.lk = after(tma_load(kGlobal, j.o.wdtype, kaddr, static_cast<std::uint64_t>(kw * j.d * j.ekv), m), reuse);
  t.lv = after(tma_load(kGlobal, j.o.wdtype, vaddr, static_cast<std::uint64_t>(kw * j.dv * j.ekv), m), reuse);
}

// Mask positions: row i is query q0 + i (or q0 + i % period), column c key k0 + c.
FuncOp::PosArgs positions(const OpSpec& o, std::int64_t q0, std::int64_t period, std::int64_t k0) {
  FuncOp::PosArgs pos;
  pos.q0 = I(q0), pos.period = I(period), pos.k0 = I(k0);
  pos.causal = o.causal;
  pos.window = I(o.window);
  return pos;
}

std::uint32_t emit_kv_tile(build::Emitter& emit, const AttnJob& j, const KvTile& t, std::uint32_t iq, std::uint32_t prev,
                           std::uint32_t* s_index = nullptr, std::uint32_t* v_index = nullptr) {
  const DType mma = j.o.dtype;
  const std::uint32_t ik = emit(t.lk, [&] { return fop::load(1, j.K.id, t.kv_row, 0, t.kw, I(j.d), j.o.wdtype); });
  Instr lv = t.lv;
  if (t.fa2_waits) lv.dep[1] = ik;
  const std::uint32_t iv = emit(lv, [&] { return fop::load(2, j.V.id, t.kv_row, 0, t.kw, I(j.dv), j.o.wdtype); });
  if (v_index) *v_index = iv;
  const std::uint32_t is = emit(after(t.s, iq, ik), [&] { return scores(t.rows, t.kw, mma); });
  if (s_index) *s_index = is;
  const std::uint32_t ism =
      emit(after(t.sm, is, prev, t.fa2_waits ? iv : kNoDep), [&] { return online_softmax(j.scale, t.pos, j.masked); });
  return emit(after(t.pv, ism, iv), [&] { return fop::matmul(3, 6, 2, mma); });
}

// Useful work of a prefill KV tile: the unmasked (query, key) pairs of queries [q0, q0 + qrows) and
// keys [k0, k0 + kw); queries are the last seq_q positions.
std::int64_t unmasked_pairs(const OpSpec& o, std::int64_t q0, std::int64_t qrows, std::int64_t k0, std::int64_t kw) {
  const std::int64_t offset = o.seq_kv - o.seq_q;
  std::int64_t pairs = 0;
  for (std::int64_t q = q0; q < q0 + qrows; ++q) {
    std::int64_t hi = o.causal ? std::min(k0 + kw, offset + q + 1) : k0 + kw;
    std::int64_t lo = o.window > 0 ? std::max(k0, offset + q - o.window + 1) : k0;
    pairs += std::max<std::int64_t>(0, hi - lo);
  }
  return pairs;
}

// Prefill (FlashAttention): one block per (sequence, query head, 128-query tile).
Program prefill(const AttnJob& jb, const Flavor& fl) {
  const std::int64_t bq = fl.bq, bkv = fl.bkv;
  const std::int64_t qtiles = ceil_div(jb.o.seq_q, bq);
  auto make = [jb, fl, bq, bkv, qtiles](std::uint64_t index, Task& t) {
    const AttnJob& j = jb;
    const OpSpec& o = j.o;
    const std::int64_t d = j.d, dv = j.dv;
    std::int64_t qt = static_cast<std::int64_t>(index) % qtiles;
    std::int64_t bh = static_cast<std::int64_t>(index) / qtiles;
    std::int64_t h = bh % o.heads, b = bh / o.heads, kvh = h / j.group;
    std::int64_t q0 = qt * bq, qrows = std::min<std::int64_t>(bq, o.seq_q - q0);
    std::int64_t offset = o.seq_kv - o.seq_q;  // queries are the last seq_q positions
    std::int64_t kv_end = o.causal ? std::min(o.seq_kv, offset + q0 + qrows) : o.seq_kv;
    std::int64_t kv_begin = 0;
    if (o.window > 0) kv_begin = std::max<std::int64_t>(0, offset + q0 - o.window + 1);
    if (fl.fa2) fa2_block(t, j, fl);
    else block_shape(t, 384, 168, static_cast<std::uint32_t>(bq * d * j.ea + 2 * 2 * bkv * (d + dv) * j.ekv));
    build::Emitter emit(t, j.functional);
    const int q_row0 = I((b * o.heads + h) * o.seq_q + q0), kv_row0 = I((b * o.kv_heads + kvh) * o.seq_kv);
    const std::uint8_t via = fl.copy_path();
    const std::uint32_t iq = emit(tma_load(kGlobal | via, o.dtype, j.Q.addr + static_cast<std::uint64_t>(((b * o.heads + h) * o.seq_q + q0) * d * j.ea),
                                           static_cast<std::uint64_t>(qrows * d * j.ea), static_cast<std::uint32_t>(qrows)),
                                  [&] { return init_state(j.Q.id, q_row0, I(qrows), I(d), I(dv), o.dtype); });
    std::uint32_t prev_pv = kNoDep, prev_s = kNoDep, prev_v = kNoDep;
    std::vector<std::uint32_t> pv;
    std::int64_t jt = 0;
    for (std::int64_t k0 = (kv_begin / bkv) * bkv; k0 < kv_end; k0 += bkv, ++jt) {
      std::int64_t kw = std::min<std::int64_t>(bkv, kv_end - k0);
      std::uint64_t kv_off = static_cast<std::uint64_t>(((b * o.kv_heads + kvh) * o.seq_kv + k0));
      const std::uint32_t reuse = jt >= 2 ? pv[static_cast<size_t>(jt - 2)] : kNoDep;  // double-buffered K/V
      const std::int64_t pairs = unmasked_pairs(o, q0, qrows, k0, kw);
      KvTile kt;
      kv_loads(kt, j, j.K.addr + static_cast<std::uint64_t>(kv_off * d * j.ekv), j.V.addr + static_cast<std::uint64_t>(kv_off * dv * j.ekv),
               kw, static_cast<std::uint32_t>(kw), reuse);
      const auto mq = static_cast<std::uint32_t>(bq), nk = static_cast<std::uint32_t>(bkv);
      if (fl.fa2) {
        fa2_mmas(kt, j, fl, mq, kw, static_cast<std::uint64_t>(2 * pairs * d), static_cast<std::uint64_t>(2 * pairs * dv),
                 jt == 0 ? static_cast<std::uint64_t>(qrows * d * j.ea) : 0);
        fa2_loads(kt, prev_s, prev_v, prev_pv);
      } else {
        kt.s = wgmma(o.dtype, mq, nk, static_cast<std::uint32_t>(d), static_cast<std::uint64_t>(2 * pairs * d),
                     static_cast<std::uint64_t>((bq * d + bkv * d) * j.ea));
        kt.pv = wgmma(o.dtype, mq, static_cast<std::uint32_t>(dv), nk, static_cast<std::uint64_t>(2 * pairs * dv),
                      static_cast<std::uint64_t>((bq * bkv + bkv * dv) * j.ea));
      }
      if (fl.fa2) {  // the softmax as FA2's warps issue it; a tile that computes no masked-out pair needs no mask
        const bool cut = j.masked && pairs < qrows * kw;
        kt.sm = cuda(DType::fp32, mq, static_cast<std::uint32_t>(kw), 0,
                     static_cast<std::uint64_t>(2 * fa2_softmax_slots(fl.sm, static_cast<double>(bq), static_cast<double>(kw),
                                                                      static_cast<double>(dv), jt == 0, cut)));
      } else {
        kt.sm = cuda(DType::fp32, mq, nk, 1, static_cast<std::uint64_t>(5 * bq * bkv));  // one exp per score
      }
      kt.kv_row = kv_row0 + I(k0), kt.kw = I(kw), kt.rows = I(qrows);
      kt.pos = positions(o, offset + q0, 0, k0);
      // FA2's warps issue S after their previous P V (in order); FA3's consumers overlap them.
      const std::uint32_t s_dep = fl.fa2 && prev_pv != kNoDep ? prev_pv : iq;
      prev_pv = emit_kv_tile(emit, j, kt, s_dep, prev_pv, &prev_s, &prev_v);
      pv.push_back(prev_pv);
    }
    std::uint32_t last = prev_pv == kNoDep ? iq : prev_pv;
    if (fl.fa2) last = fa2_epilogue(emit, fl, qrows, dv, j.eo, last);
    emit(after(tma_store(kGlobal | via, o.odtype, j.O.addr + static_cast<std::uint64_t>(((b * o.heads + h) * o.seq_q + q0) * dv * j.eo),
                         static_cast<std::uint64_t>(qrows * dv * j.eo), static_cast<std::uint32_t>(qrows)),
               last),
         [&] { return normalize_store(j.O.id, q_row0, I(qrows), I(dv), o.odtype); });
  };
  // What the blocks skip: key tiles above the causal diagonal, outside the window, or none.
  const std::string skip = jb.o.causal && jb.o.window > 0 ? ", causal and sliding-window tile skipping"
                           : jb.o.causal                  ? ", causal tile skipping"
                           : jb.o.window > 0              ? ", sliding-window tile skipping"
                                                          : ", no mask (every key tile)";
  const std::string tiles = std::to_string(bq) + "x" + std::to_string(bkv) + " tiles" + skip;
  Program p = build::program("attention", jb.o,
                             fl.fa2 ? "flash prefill (FlashAttention-2: mma.sync, cp.async, no warp specialisation): " + tiles +
                                          ", GQA group " + std::to_string(jb.group)
                                    : "flash prefill: " + tiles + ", GQA group " + std::to_string(jb.group),
                             static_cast<std::uint64_t>(jb.o.batch * jb.o.heads * qtiles), make, jb.functional);
  p.copy_descriptors = !fl.fa2;  // Q, K, V, O tensor maps (FlashAttention-3 copies with TMA; FA2 with cp.async)
  return p;
}

// The decode split geometry. `combine_in_flight`: how many splits' partial outputs the combine kernel
// has in flight at once (1: one L2 round trip per split, in sequence).
struct DecodeSplit {
  std::int64_t page, kv_len, pages, splits, pages_per_split, rows, kv_block;
  std::int64_t combine_in_flight = 1;
};

// FlashAttention-2's split count (csrc/flash_attn/flash_api.cpp, num_splits_heuristic, the copy
// PyTorch's SDPA flash backend runs): no split once the blocks (sequence x KV head x query block)
// reach 80% of the `slots` (resident blocks the grid can fill at once); else the fewest splits of the
// context's `key_blocks` whose wave efficiency (waves over their ceiling) is within 85% of the best,
// up to min(128, slots, key_blocks), skipping split counts that give each split as many key blocks as
// one split fewer (their last split would be empty).
std::int64_t fa2_splits(std::int64_t units, double slots, std::int64_t key_blocks) {
  if (static_cast<double>(units) >= 0.8 * slots) return 1;
  const std::int64_t most = std::min<std::int64_t>({128, static_cast<std::int64_t>(slots), key_blocks});
  auto eligible = [&](std::int64_t n) { return n == 1 || ceil_div(key_blocks, n) != ceil_div(key_blocks, n - 1); };
  auto efficiency = [&](std::int64_t n) {
    const double waves = static_cast<double>(units * n) / slots;
    return waves / std::ceil(waves);
  };
  double best = 0;
  for (std::int64_t n = 1; n <= most; ++n)
    if (eligible(n)) best = std::max(best, efficiency(n));
  for (std::int64_t n = 1; n <= most; ++n)
    if (eligible(n) && efficiency(n) >= 0.85 * best) return n;
  return 1;
}

// FA2 decode (PyTorch's SDPA flash backend, one query per sequence): the GQA group's query heads
// become the rows of one block per (sequence, KV head); the KV cache is contiguous, read in key
// blocks of `page` tokens. Without splits the forward kernel runs (128 x 64 tiles at head dim 128);
// with them the split-KV kernel (64 x 128) and a combine.
DecodeSplit fa2_decode_split(const AttnJob& j, const GpuSpec& spec, Flavor& f) {
  const OpSpec& op = j.o;
  DecodeSplit s;
  s.kv_len = op.window > 0 ? std::min(op.seq_kv, op.window) : op.seq_kv;
  s.rows = j.group * op.seq_q;
  const std::int64_t split_block = op.head_dim <= 64 ? 256 : (op.head_dim <= 128 ? 128 : 64);
  // Two blocks of either kernel fit an SM (fa2_block): the heuristic counts 2 x SMs slots.
  s.splits = fa2_splits(op.batch * op.kv_heads * ceil_div(s.rows, 64), 2.0 * spec.sm.count, ceil_div(s.kv_len, split_block));
  f.bq = s.splits > 1 ? 64 : 128;
  f.bkv = s.splits > 1 ? split_block : (op.head_dim <= 64 ? 128 : 64);
  s.page = s.kv_block = f.bkv;
  s.pages = ceil_div(s.kv_len, s.page);
  s.pages_per_split = ceil_div(s.pages, s.splits);
  return s;
}

// The default paged decode's block: 128 threads, a 4-deep ring of K/V page groups in shared memory.
constexpr std::uint32_t kDecodeThreads = 128, kDecodeRegisters = 128;
std::uint32_t decode_smem(const AttnJob& j, std::int64_t kv_block) {
  return static_cast<std::uint32_t>(4 * kv_block * (j.d + j.dv) * j.ekv);
}

// The default decode's split plan: FlashInfer's (include/flashinfer/attention/scheduler.cuh, DecodePlan
// with PartitionPagedKVCacheBinarySearchMinNumPagePerBatch), made for this paged cache. The grid's
// budget is one wave: the resident blocks per SM (occupancy of the block above) times the SMs. A batch
// whose (sequence x KV head) blocks reach it is not split; else each sequence's pages are cut into
// chunks of the fewest pages (at least 128 tokens) that keep every chunk's block inside that wave.
// So a larger batch or a longer context never gets shorter chunks, and every chunk runs at once:
// the latency is one chunk's plus the merge's, non-decreasing in both. (FlashAttention's
// num_splits_heuristic, by contrast, picks splits by wave efficiency alone: at batch 14 on B200 it
// splits five ways a grid that already streams HBM, and a 5-key-block context splits while a 4-block
// one does not, both slower than the larger shape.) The merge pipelines its loads
// (MergeStatesLargeNumIndexSetsKernel keeps 4 stages of partial states in cp.async flight): 3 ahead.
DecodeSplit decode_split(const AttnJob& j, const GpuSpec& spec) {
  const OpSpec& op = j.o;
  DecodeSplit s;
  s.page = std::max<std::int64_t>(16, op.page_size);
  s.kv_len = op.window > 0 ? std::min(op.seq_kv, op.window) : op.seq_kv;
  s.pages = ceil_div(s.kv_len, s.page);
  s.rows = j.group * op.seq_q;
  s.kv_block = std::max<std::int64_t>(s.page, 64);  // pages loaded in 64-token groups
  const int per_sm = std::max(1, occupancy(spec, decode_smem(j, s.kv_block), kDecodeThreads, kDecodeRegisters));
  const std::int64_t wave = static_cast<std::int64_t>(per_sm) * spec.sm.count, heads = op.batch * op.kv_heads;
  s.pages_per_split = s.pages;
  if (heads < wave) {
    const std::int64_t chunks = std::max<std::int64_t>(1, wave / heads);  // per sequence and KV head
    s.pages_per_split = std::max(ceil_div(s.pages, chunks), std::min(s.pages, std::max<std::int64_t>(1, 128 / s.page)));
  }
  s.splits = ceil_div(s.pages, s.pages_per_split);
  s.combine_in_flight = 3;
  return s;
}

// Decode (FlashDecoding): one block per (sequence, KV head, split of the context).
Program decode(const AttnJob& jb, const DecodeSplit& sp, const Flavor& fl) {
  auto make = [jb, sp, fl](std::uint64_t index, Task& t) {
    const AttnJob& j = jb;
    const OpSpec& o = j.o;
    const std::int64_t d = j.d, dv = j.dv, rows = sp.rows, splits = sp.splits, page = sp.page, kv_len = sp.kv_len;
    std::int64_t s = static_cast<std::int64_t>(index) % splits;
    std::int64_t bk = static_cast<std::int64_t>(index) / splits;
    std::int64_t tok0 = s * sp.pages_per_split * page, tok1 = std::min(kv_len, tok0 + sp.pages_per_split * page);
    if (fl.fa2) fa2_block(t, j, fl);
    else block_shape(t, kDecodeThreads, kDecodeRegisters, decode_smem(j, sp.kv_block));
    build::Emitter emit(t, j.functional);
    const int q_row0 = I(bk * rows), kv_row0 = I(bk * o.seq_kv + (o.seq_kv - kv_len));
    const std::uint8_t via = fl.copy_path();
    const std::uint32_t iq = emit(tma_load(kGlobal | via, o.dtype, j.Q.addr + static_cast<std::uint64_t>(bk * rows * d * j.ea),
                                           static_cast<std::uint64_t>(rows * d * j.ea), static_cast<std::uint32_t>(rows)),
                                  [&] { return init_state(j.Q.id, q_row0, I(rows), I(d), I(dv), o.dtype); });
    std::uint32_t prev = kNoDep, prev_s = kNoDep, prev_v = kNoDep;
    std::vector<std::uint32_t> done;
    int jt = 0;
    for (std::int64_t k0 = tok0; k0 < tok1; k0 += sp.kv_block, ++jt) {
      std::int64_t kw = std::min(sp.kv_block, tok1 - k0);
      // Pages of one sequence are scattered in the paged cache: address by a hash of the page.
      std::uint64_t page_id = static_cast<std::uint64_t>(bk * sp.pages + k0 / page);
      const std::uint32_t pages_m = static_cast<std::uint32_t>(kw / page > 0 ? kw / page : 1);
      const std::uint32_t reuse = jt >= 4 ? done[static_cast<size_t>(jt - 4)] : kNoDep;
      const std::uint32_t mrows = static_cast<std::uint32_t>(std::max<std::int64_t>(64, rows));
      KvTile kt;
      kt.sm = cuda(DType::fp32, static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(kw), 1,
                   static_cast<std::uint64_t>(5 * rows * kw));
      kt.kv_row = kv_row0 + I(k0), kt.kw = I(kw), kt.rows = I(rows);
      // Rows are (query head of the group, query); keys sit at their cache positions.
      kt.pos = positions(o, o.seq_kv - o.seq_q, o.seq_q, o.seq_kv - kv_len + k0);
      if (fl.fa2) {
        // A contiguous cache; the padded tile runs all its rows through mma.sync.
        const std::uint64_t off = static_cast<std::uint64_t>(bk * o.seq_kv + (o.seq_kv - kv_len) + k0);
        kv_loads(kt, j, j.K.addr + off * static_cast<std::uint64_t>(d * j.ekv), j.V.addr + off * static_cast<std::uint64_t>(dv * j.ekv),
                 kw, static_cast<std::uint32_t>(kw), kNoDep);
        fa2_mmas(kt, j, fl, static_cast<std::uint32_t>(fl.bq), kw, static_cast<std::uint64_t>(2 * rows * kw * d),
                 static_cast<std::uint64_t>(2 * rows * kw * dv), jt == 0 ? static_cast<std::uint64_t>(rows * d * j.ea) : 0);
        fa2_loads(kt, prev_s, prev_v, prev);
        // The warps of padding rows run it too. No mask: FA2 drops causal at seqlen_q 1 (flash_api.cpp); a sliding
        // window's edge tile is not counted.
        kt.sm = cuda(DType::fp32, static_cast<std::uint32_t>(fl.bq), static_cast<std::uint32_t>(kw), 0,
                     static_cast<std::uint64_t>(2 * fa2_softmax_slots(fl.sm, static_cast<double>(fl.bq), static_cast<double>(kw),
                                                                      static_cast<double>(dv), jt == 0, false)));
        prev = emit_kv_tile(emit, j, kt, prev == kNoDep ? iq : prev, prev, &prev_s, &prev_v);
        done.push_back(prev);
        continue;
      }
      kv_loads(kt, j, j.K.addr + page_id * 2654435761ull % (1ull << 36) / 4096 * 4096,
               j.V.addr + page_id * 2654435761ull % (1ull << 36) / 4096 * 4096, kw, pages_m, reuse);
      kt.s = wgmma(o.dtype, mrows, static_cast<std::uint32_t>(kw), static_cast<std::uint32_t>(d),
                   static_cast<std::uint64_t>(2 * rows * kw * d), static_cast<std::uint64_t>(kw * d * j.ekv));
      kt.pv = wgmma(o.dtype, mrows, static_cast<std::uint32_t>(dv), static_cast<std::uint32_t>(kw),
                    static_cast<std::uint64_t>(2 * rows * kw * dv), static_cast<std::uint64_t>(kw * dv * j.ekv));
      prev = emit_kv_tile(emit, j, kt, iq, prev);
      done.push_back(prev);
    }
    const bool split = splits > 1;
    if (fl.fa2) prev = fa2_epilogue(emit, fl, rows, dv, split ? 4.0 : j.eo, prev == kNoDep ? iq : prev);
    const Instr st = after(tma_store((split ? kL2 : kGlobal) | via, split ? DType::fp32 : o.odtype,
                                     j.O.addr + static_cast<std::uint64_t>((bk * splits + s) * rows * dv * 4),
                                     static_cast<std::uint64_t>(rows * dv * (split ? 4 : j.eo))),
                           prev == kNoDep ? iq : prev);
    emit(st, [&] {
      using namespace fop;
      if (!split) return normalize_store(j.O.id, q_row0, I(rows), I(dv), o.odtype);
      // A split stores its normalized partial O and its log-sum-exp for the combine kernel.
      const int w_row0 = I((bk * splits + s) * rows), r = I(rows);
      return seq({binary(Binary::SafeDiv, 12, 3, 5), store(12, j.WSf, w_row0, 0, r, I(dv), DType::fp32),
                  unary(Unary::Log, 13, 5), binary(Binary::Add, 13, 13, 4), store(13, j.LSEf, w_row0, 0, r, 1, DType::fp32)});
    });
  };
  const std::string per_head = std::to_string(sp.rows) + (sp.rows == 1 ? " query row" : " query rows") + " per KV head";
  const std::string geometry = std::to_string(sp.splits) + (sp.splits == 1 ? " split, " : " splits, ") + per_head;
  Program p = build::program("attention.decode", jb.o,
                             fl.fa2 ? "decode (FlashAttention-2: mma.sync on " + std::to_string(fl.bq) + "x" + std::to_string(fl.bkv) +
                                          " tiles, contiguous cache): " + geometry
                                    : "paged decode: " + std::to_string(sp.splits) + (sp.splits == 1 ? " split" : " splits") +
                                          ", page " + std::to_string(sp.page) + ", " + per_head,
                             static_cast<std::uint64_t>(jb.o.batch * jb.o.kv_heads * sp.splits), make, jb.functional);
  p.copy_descriptors = !fl.fa2;  // Q and paged K/V tensor maps (FA2 copies with cp.async)
  return p;
}

// The combine's loads: buffers 20 + 2s hold split s's normalized O, 21 + 2s its log-sum-exp.
FuncOp combine_loads(int splits, int r, int dv, int w_row0, const AttnJob& j) {
  std::vector<FuncOp> loads;
  for (int sp = 0; sp < splits; ++sp) {
    loads.push_back(fop::load(20 + 2 * sp, j.WSf, w_row0 + sp * r, 0, r, dv, DType::fp32));
    loads.push_back(fop::load(21 + 2 * sp, j.LSEf, w_row0 + sp * r, 0, r, 1, DType::fp32));
  }
  return fop::seq(loads);
}

// The combine's merge: each split's O weighed by exp(lse_s - max lse), normalized.
FuncOp combine_merge(int splits, int r, int dv) {
  using namespace fop;
  std::vector<FuncOp> merge{copy(4, 21)};
  for (int sp = 1; sp < splits; ++sp) merge.push_back(binary(Binary::Max, 4, 4, 21 + 2 * sp));
  merge.push_back(fill(3, r, dv, 0.f));
  merge.push_back(fill(5, r, 1, 0.f));
  for (int sp = 0; sp < splits; ++sp)
    for (FuncOp f : {binary(Binary::ExpDiff, 10, 21 + 2 * sp, 4), binary(Binary::Add, 5, 5, 10),
                     binary(Binary::Mul, 11, 20 + 2 * sp, 10), binary(Binary::Add, 3, 3, 11)})
      merge.push_back(f);
  merge.push_back(binary(Binary::SafeDiv, 12, 3, 5));
  return seq(merge);
}

// The combine kernel (FlashAttention-2's combine_attn_seqk_parallel, launched after the split kernel): 128
// threads per block; it loads every split's log-sum-exp at once (one L2 round trip), reduces them
// (max, sum of exp, log) and writes the row's LSE, then walks the splits in a loop whose trip count is
// the runtime split count: each iteration loads that split's partial O rows (fp32) into registers and
// adds them, scaled, to the accumulators. Assumed: the compiler does not software-pipeline that loop
// (its bound is a kernel parameter), so each split's load waits for the previous split's
// accumulation: one L2 round trip per split, in sequence. Consistent with our rows: B1 decode time
// grows by 0.20-0.21 us per split from 8 splits (S1024) to 32 (S4096) on both H100 and H200, beyond
// the extra KV bytes (workloads/validation/h100_measured.csv H258/H262, h200_measured.csv G306/G310).
// FA2 gives each block kBlockM = 4 rows at head dim 128; the model's block holds the `rows` query rows
// of one (sequence, KV head), the same blocks for a GQA group of 4. FlashAttention-3's combine
// (hopper/flash_fwd_combine_kernel.h) pipelines that loop instead: kStages = 4 shared-memory stages
// of partial O filled by cp.async, the first issued with the LSE loads (DecodeSplit::combine_in_flight).
Program combine(const AttnJob& jb, const DecodeSplit& sp) {
  auto make = [jb, sp](std::uint64_t index, Task& t) {
    const AttnJob& j = jb;
    const std::int64_t rows = sp.rows, dv = j.dv, splits = sp.splits;
    t.threads = 128;
    build::Emitter emit(t, j.functional);
    const int r = I(rows), w_row0 = I(static_cast<std::int64_t>(index) * splits * rows);
    const auto urows = static_cast<std::uint32_t>(rows), udv = static_cast<std::uint32_t>(dv);
    const std::uint64_t ws = j.O.addr + index * static_cast<std::uint64_t>(splits * rows * dv * 4);
    const std::uint64_t part = static_cast<std::uint64_t>(rows * dv * 4);
    // Functional mode: this first load brings every partial (program order carries the data).
    const std::uint32_t il = emit(ld_global(kL2, DType::fp32, ws + static_cast<std::uint64_t>(splits) * part,
                                           static_cast<std::uint64_t>(splits * rows * 4)),
                                  [&] { return combine_loads(I(splits), r, I(dv), w_row0, j); });
    // max, exp and sum over the splits' LSEs, the row's log, and the per-split scales.
    std::uint32_t prev = emit(after(cuda(DType::fp32, urows, static_cast<std::uint32_t>(splits), 1,
                                         static_cast<std::uint64_t>(4 * rows * splits)),
                                    il));
    // Split s's load waits for the accumulation that frees its buffer, split s - in_flight's. With one
    // in flight that is the previous split's (the LSE step for the first); with a pipeline, the first
    // loads leave with the LSE loads, to be in flight while the LSEs are reduced.
    const std::int64_t ahead = std::max<std::int64_t>(1, sp.combine_in_flight);
    const std::uint32_t lse_step = prev;
    std::vector<std::uint32_t> accs;
    for (std::int64_t s = 0; s < splits; ++s) {
      const std::uint32_t freed = s >= ahead ? accs[static_cast<size_t>(s - ahead)] : (ahead == 1 ? lse_step : kNoDep);
      const std::uint32_t ld = emit(after(ld_global(kL2, DType::fp32, ws + static_cast<std::uint64_t>(s) * part, part), freed));
      const Instr acc = after(cuda(DType::fp32, urows, udv, 0, static_cast<std::uint64_t>(2 * rows * dv)), ld, prev);
      prev = s + 1 < splits ? emit(acc) : emit(acc, [&] { return combine_merge(I(splits), r, I(dv)); });
      accs.push_back(prev);
    }
    emit(after(st_global(kGlobal, j.o.odtype, j.O.addr + (1ull << 36) + index * static_cast<std::uint64_t>(rows * dv * j.eo),
                         static_cast<std::uint64_t>(rows * dv * j.eo)),
               prev),
         [&] { return fop::store(12, j.O.id, I(static_cast<std::int64_t>(index) * rows), 0, r, I(dv), j.o.odtype); });
  };
  Program c = build::helper_program("attention.combine", jb.o,
                                    "combine " + std::to_string(sp.splits) + " split partials (log-sum-exp rescale, " +
                                        (sp.combine_in_flight > 1 ? std::to_string(sp.combine_in_flight) + " splits in flight)" : "one split per L2 round trip)"),
                                    static_cast<std::uint64_t>(jb.o.batch * jb.o.kv_heads), make, jb.functional);
  return c;
}

}  // namespace

KernelPrograms lower_attention(const OpSpec& op, const GpuSpec& spec, const LowerOptions& opt) {
  refuse_neuron_impl(spec.name, op);
  // FlashAttention-3 is written for Hopper's TMA and wgmma (sm_90a): it runs neither on an Ampere GPU (no TMA) nor
  // on Blackwell (no wgmma; FlashAttention-4 and cuDNN run there).
  if (op.impl == "fa3" && !(spec.sm.wgmma && spec.sm.tma && spec.sm.cluster_multicast))
    unsupported(spec.name, op,
                spec.sm.cluster_multicast
                    ? "--impl fa3: FlashAttention-3 is built for Hopper's wgmma (sm_90a), which " + spec.name +
                          " does not run (sm.wgmma: false); here run the default kernel (no --impl: TMA, warp-specialized, "
                          "as FlashAttention-4 and cuDNN) or --impl fa2"
                    : "--impl fa3: FlashAttention-3 needs Hopper's TMA and wgmma, which " + spec.name +
                          " lacks (sm.tma: false); --impl fa2 runs here (its default)");
  op.validate();
  if (spec.tensor_flops_per_clk(op.dtype) <= 0)
    unsupported(spec.name, op, std::string("no ") + name(op.dtype) + " tensor-core path on this GPU");
  // The KV cache (op.wdtype) in fp4 or fp6 needs the GPU's fp4 tensor path (sm.tensor_flops_per_clk.fp4 > 0). source:
  // TensorRT-LLM's NVFP4 KV cache (nvidia.github.io/TensorRT-LLM/features/quantization.html) is a Model Optimizer
  // checkpoint, whose FP4 formats are "GPUs: Blackwell and Later" (nvidia.github.io/Model-Optimizer/guides/
  // 0_support_matrix.html); vLLM's --kv-cache-dtype nvfp4 (vllm-project/vllm PR #40177) likewise. Before, an H100 ran
  // `--kvdtype fp4` at half fp8's bytes (QA session 41).
  if (bytes_per_element(op.wdtype) < 1.0 && spec.tensor_flops_per_clk(DType::fp4) <= 0)
    unsupported(spec.name, op,
                std::string("no ") + name(op.wdtype) + " KV-cache format on this GPU: it has no fp4 tensor path (sm.tensor_flops_per_clk.fp4: 0; " +
                    "fp4 KV caches run on Blackwell) (use fp8 or bf16)");
  const AttnJob j = make_job(op, opt);
  Flavor fl = prefill_flavor(op, spec);
  check_smallest_tile(j, fl, spec);
  if (!op.decode) return {prefill(j, fl)};
  const DecodeSplit sp = fl.fa2 ? fa2_decode_split(j, spec, fl) : decode_split(j, spec);
  KernelPrograms out{decode(j, sp, fl)};
  if (sp.splits > 1) out.push_back(combine(j, sp));
  return out;
}

}  // namespace xpu::gpu
