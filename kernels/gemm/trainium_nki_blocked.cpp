// GEMM as the NKI matrix-multiplication tutorial's fully optimized kernel blocks it ("Optimization 3",
// aws-neuron-sdk general/nki/tutorials/matrix_multiplication.rst@2086a70a): a stated block shape
// (LowerOptions::gemm_block = BLOCK_M, BLOCK_N, BLOCK_K) run with the tutorial's loop order and engine
// work, instead of the heuristic of trainium.cpp. Per NeuronCore, for each N block (outer loop):
//  * the SBUF result block [M x BLOCK_N] (bf16, the input dtype, as the kernel declares it) is zeroed;
//  * for each K block (sequential): BLOCK_K/128 loads of rhs [128 x BLOCK_N]; then for each M block,
//    BLOCK_K/128 loads of lhsT [128 x BLOCK_M], and for every [128 x 512] PSUM tile of the block
//    (bn outer, bm inner) BLOCK_K/128 matmuls accumulated in one PSUM bank, then added into the SBUF
//    result by the Vector Engine (a tensor_tensor of two inputs: 2N cycles [NKI-T1]);
//  * after the last K block, each 128-row strip is copied into one [128 x BLOCK_N] tile and stored.
// What the kernel leaves to the compiler is stated as assumed: loads double-buffered (lowering.dma_buffers)
// where SBUF holds them beside the result block, the PSUM tile rotating over the banks, the zeroing on the
// GpSimd engine, the copies on the Vector Engine, and several NeuronCores taking N blocks round-robin (the
// tutorial runs on one). The kernel's own divisibility asserts are kept (InputError otherwise).
#include <algorithm>
#include <memory>
#include <sstream>

#include "chips/trainium/isa.h"
#include "kernels/gemm/trainium.h"
#include "kernels/trainium_builders.h"

namespace xpu::trainium {

namespace {

struct NkiJob {
  OpSpec o;
  std::int64_t bm = 0, bn = 0, bk = 0;  // block rows, columns, depth
  std::int64_t nbm = 0, nbn = 0, nbk = 0;
  TensorRef A, B, C;
  double ea = 0, eb = 0, ec = 0;
  DType mmd = DType::bf16;
  int cores = 1, banks = 8, buffers = 2;
};

// One NeuronCore's streams over its N blocks.
class NkiCore {
 public:
  NkiCore(const NkiJob& j, Task& t)
      : m_j(j), m_t(t), m_rhs_last(static_cast<size_t>(j.buffers), kNoDep), m_lhs_last(static_cast<size_t>(j.buffers), kNoDep),
        m_bank_free(static_cast<size_t>(j.banks), kNoDep) {}

  void n_block(std::int64_t n) {
    const NkiJob& j = m_j;
    const int tbm = static_cast<int>(j.bm / kPartitions), tbn = static_cast<int>(j.bn / kMaxMovingFree);
    const int tbk = static_cast<int>(j.bk / kPartitions);
    // nl.zeros of the result block, one instruction per M block (<= 64K elements per partition each); it
    // overwrites what the previous N block's copies read.
    std::vector<std::uint32_t> zero(static_cast<size_t>(j.nbm));
    for (std::int64_t m = 0; m < j.nbm; ++m)
      zero[static_cast<size_t>(m)] =
          m_t.add(with_deps(lane(kGpSimd, kPartitions, tbm * j.bn, 1, j.o.dtype, 0), m_last_copy));
    for (std::int64_t k = 0; k < j.nbk; ++k) {
      const size_t rs = static_cast<size_t>(m_rhs_no++ % j.buffers);
      std::vector<std::uint32_t> rhs(static_cast<size_t>(tbk));
      for (int bk = 0; bk < tbk; ++bk) {
        const std::int64_t row = k * j.bk + bk * kPartitions;
        rhs[static_cast<size_t>(bk)] = m_t.add(with_deps(
            dma(TxKind::DmaRead, j.B.addr + static_cast<std::uint64_t>((row * j.o.n + n * j.bn) * j.eb),
                static_cast<std::uint64_t>(kPartitions * j.bn * j.eb), kPartitions, j.o.wdtype),
            m_rhs_last[rs]));
      }
      std::uint32_t last_mm = kNoDep;
      for (std::int64_t m = 0; m < j.nbm; ++m) {
        const size_t ls = static_cast<size_t>(m_lhs_no++ % j.buffers);
        std::vector<std::uint32_t> lhs(static_cast<size_t>(tbk));
        for (int bk = 0; bk < tbk; ++bk) {
          const std::int64_t row = k * j.bk + bk * kPartitions;  // lhsT is [K, M]
          lhs[static_cast<size_t>(bk)] = m_t.add(with_deps(
              dma(TxKind::DmaRead, j.A.addr + static_cast<std::uint64_t>((row * j.o.m + m * j.bm) * j.ea),
                  static_cast<std::uint64_t>(kPartitions * j.bm * j.ea), kPartitions, j.o.dtype),
              m_lhs_last[ls]));
        }
        std::uint32_t last_lhs_mm = kNoDep;
        for (int tn = 0; tn < tbn; ++tn)
          for (int tm = 0; tm < tbm; ++tm) {
            const size_t bank = static_cast<size_t>(m_tile_no++ % j.banks);
            std::uint32_t mm = kNoDep;
            for (int bk = 0; bk < tbk; ++bk)
              mm = m_t.add(with_deps(matmul(kPartitions, kMaxMovingFree, kPartitions, j.mmd, 2ull * kPartitions * kMaxMovingFree * kPartitions),
                                     lhs[static_cast<size_t>(bk)], rhs[static_cast<size_t>(bk)], bk == 0 ? m_bank_free[bank] : kNoDep));
            // result_tiles[m, tm, tn] += res_tile: PSUM (fp32) and SBUF read, SBUF written.
            m_bank_free[bank] = m_t.add(with_deps(lane(kVector, kPartitions, kMaxMovingFree, 2, DType::fp32, 1), mm,
                                                  k == 0 ? zero[static_cast<size_t>(m)] : kNoDep));
            last_lhs_mm = last_mm = mm;
          }
        m_lhs_last[ls] = last_lhs_mm;
      }
      m_rhs_last[rs] = last_mm;
    }
    // Coalesce each 128-row strip of the block into [128, BLOCK_N] and store it.
    for (std::int64_t m = 0; m < j.nbm; ++m)
      for (int tm = 0; tm < tbm; ++tm) {
        std::uint32_t copy = kNoDep;
        for (int tn = 0; tn < tbn; ++tn) copy = m_t.add(lane(kVector, kPartitions, kMaxMovingFree, 1, j.o.dtype, 0));
        const std::int64_t row = m * j.bm + tm * kPartitions;
        m_t.add(with_deps(dma(TxKind::DmaWrite, j.C.addr + static_cast<std::uint64_t>((row * j.o.n + n * j.bn) * j.ec),
                              static_cast<std::uint64_t>(kPartitions * j.bn * j.ec), kPartitions, j.o.odtype),
                          copy));
        m_last_copy = copy;
      }
  }

 private:
  const NkiJob& m_j;
  Task& m_t;
  std::vector<std::uint32_t> m_rhs_last, m_lhs_last, m_bank_free;
  std::uint32_t m_last_copy = kNoDep;
  std::int64_t m_rhs_no = 0, m_lhs_no = 0, m_tile_no = 0;
};

}  // namespace

KernelPrograms lower_gemm_nki_blocked(const OpSpec& op, const TrainiumSpec& spec, const LowerOptions& opt) {
  op.validate();
  const LowerOptions::Block& b = opt.gemm_block;
  // The blocks are a measurement row's (its workload names them: sim/validation/validate.cpp).
  auto refuse = [&](const std::string& why) { throw InputError(spec.name + ": NKI-blocked GEMM " + op.shape_str() + ": " + why, "", op.shape_str()).with_key("", "workload"); };
  if (op.kind != OpKind::Gemm || op.batch != 1) refuse("the tutorial's kernel takes one 2-D GEMM (no batch, no groups)");
  if (weights_converted(op, spec))
    refuse(std::string("the tutorial's kernel has no step converting ") + name(op.wdtype) + " weights to the matmul dtype");
  if (b.m % kPartitions || b.n % kMaxMovingFree || b.k % kPartitions)
    refuse("blocks must be whole tiles (BLOCK_M and BLOCK_K multiples of 128, BLOCK_N of 512)");
  if (op.m % b.m || op.n % b.n || op.k % b.k) refuse("M, N and K must be multiples of the block (the kernel asserts it)");
  if (b.n > 65536 || (b.m / kPartitions) * b.n > 65536) refuse("a block row wider than one lane instruction (64K elements)");
  auto j = std::make_shared<NkiJob>();
  j->o = op, j->bm = b.m, j->bn = b.n, j->bk = b.k;
  j->nbm = op.m / b.m, j->nbn = op.n / b.n, j->nbk = op.k / b.k;
  const std::string label = op.label.empty() ? "gemm" : op.label;
  j->A = opt.ref(label, "A"), j->B = opt.ref(label, "B"), j->C = opt.ref(label, "C");
  j->ea = bytes_per_element(op.dtype), j->eb = bytes_per_element(op.wdtype), j->ec = bytes_per_element(op.odtype);
  j->mmd = mm_dtype(op);
  j->cores = static_cast<int>(std::min<std::int64_t>(spec.active_cores(), j->nbn));
  j->banks = spec.psum_banks;
  // SBUF per partition: the result block (M x BLOCK_N in the input dtype, as the kernel allocates it), the
  // lhsT and rhs blocks; the loads are double-buffered only where SBUF holds the second copies too.
  const double result = static_cast<double>(op.m / kPartitions) * b.n * j->ea;
  const double inputs = static_cast<double>(b.k / kPartitions) * (b.m * j->ea + b.n * j->eb);
  const double sbuf = spec.sbuf_per_partition.value();
  if (result + inputs > sbuf) refuse("result and input blocks exceed SBUF (" + spec.sbuf_per_partition.str() + " per partition)");
  j->buffers = std::max(1, std::min(spec.dma_buffers, static_cast<int>((sbuf - result) / inputs)));
  std::ostringstream st;
  st << "NKI tutorial blocking: blocks " << b.m << "x" << b.n << "x" << b.k << " (M x N x K), loops N, K, M, SBUF accumulation on VectorE, "
     << j->buffers << " load buffer(s), " << j->nbn << " N blocks over " << j->cores << " NeuronCore(s)";
  std::shared_ptr<const NkiJob> job = j;
  auto build = [job](int core, Task& task) {
    NkiCore c(*job, task);
    for (std::int64_t n = core; n < job->nbn; n += job->cores) c.n_block(n);
  };
  TrainiumSpec used = spec;
  used.cores_used = j->cores;
  return {per_core_program("gemm", op, st.str(), used, build)};
}

}  // namespace xpu::trainium
