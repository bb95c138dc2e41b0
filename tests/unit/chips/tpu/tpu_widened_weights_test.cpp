// GEMMs whose weights are stored narrower than the activations (weight-only int8 / fp8, bf16
// activations) on TPU: the vector unit widens each weight fold on its way to the MXU, overlapped
// with the pushes of the folds before it and with the next blocks' copies (the fold-granular
// dependencies themselves are checked on the lowering in tpu_lowering_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"

namespace xpu {
void register_tpu_family();
}

using namespace xpu;

namespace {

std::unique_ptr<ChipModel> tpu_chip(const std::string& name) {
  register_tpu_family();
  return load_chip(name);
}

// Llama-3.1-8B's gate/up projection at decode (n 14336, k 4096), activations bf16.
OpSpec decode_gemm(std::int64_t m, DType w) {
  return make_op("gemm", {{"m", std::to_string(m)}, {"n", "14336"}, {"k", "4096"}, {"dtype", "bf16"}, {"wdtype", name(w)}});
}

double memory_roofline(const ChipModel& chip, const OpSpec& op) { return op.min_bytes() / chip.dram_bandwidth(); }

constexpr double kV6eDmaRate = 1373e9;  // tpu_v6e.yaml dma.bandwidth (OpenXLA's TPU cost model)

}  // namespace

// On v6e the weight pushes of the four 256x256 MXUs take 2 KiB of bf16 weights per clock (3.6 TB/s),
// and the vector unit widens 1024 int8 elements per clock at 2 ops each (1.8 TB/s of int8), both
// above the 1.37 TB/s that the TensorCore's DMA engines move (OpenXLA's cost model; HBM at 0.9
// efficiency would stream 1.48): a pipelined kernel stays bound by the copies. The bound over the
// copies' time: the first block's copy and the last step's body and store (about 5% on 43 us);
// 1.2x leaves the rest for the per-step fill and drain. Before the fold-granular converts (block-wide
// convert queued on the vector unit ahead of the current step's accumulations) this ran at 2.15x the
// HBM roofline.
TEST(TpuWidenedWeights, Int8WeightDecodeGemmOnV6eIsMemoryBound) {
  auto chip = tpu_chip("tpu-v6e");
  for (std::int64_t m : {8, 64}) {
    OpSpec op = decode_gemm(m, DType::int8);
    double t = run_kernel(*chip, op, false, false).result.latency_s;
    double roof = memory_roofline(*chip, op), copies = op.min_bytes() / std::min(0.9 * chip->dram_bandwidth(), kV6eDmaRate);
    EXPECT_GE(t, roof) << "m=" << m;
    EXPECT_LE(t / copies, 1.2) << "m=" << m << ": " << t * 1e6 << " us against the copies' " << copies * 1e6 << " us";
  }
}

// int8 weights are copied from HBM as int8 (widened in VMEM), so a weight-dominated GEMM reads half
// the bytes of the bf16-weight one, and takes well under its time.
TEST(TpuWidenedWeights, Int8WeightsReadHalfTheBytesOfBf16) {
  for (const char* name : {"tpu-v5e", "tpu-v6e"}) {
    auto chip = tpu_chip(name);
    RunResult w8 = run_kernel(*chip, decode_gemm(8, DType::int8), false, false).result;
    RunResult w16 = run_kernel(*chip, decode_gemm(8, DType::bf16), false, false).result;
    const double r8 = w8.stats.get("chip.mem.hbm.bytes_read"), r16 = w16.stats.get("chip.mem.hbm.bytes_read");
    EXPECT_NEAR(r8 / r16, 0.5, 0.01) << name << ": " << r8 << " vs " << r16 << " bytes";
    EXPECT_LT(w8.latency_s, 0.7 * w16.latency_s) << name;
  }
}

// bf16 weights take no convert and keep their recorded latencies (82.12 us on v6e, 163.6 us on v5e
// for 8 x 14336 x 4096 before and after the change; v6e 89.42 us since its DMA rate and copy latencies
// are OpenXLA's, session 32; 90.05 us since each copy's latency comes before its stream, session 33; v6e 88.35 us
// and v5e 162.0 us since the tiler sees the copies in flight hide a copy's latency behind their streams, session 42).
TEST(TpuWidenedWeights, Bf16WeightGemmsUnchanged) {
  struct Case {
    const char* chip;
    double ref_us;
  } cases[] = {{"tpu-v6e", 88.35}, {"tpu-v5e", 162.0}};
  for (const auto& c : cases) {
    auto chip = tpu_chip(c.chip);
    double us = run_kernel(*chip, decode_gemm(8, DType::bf16), false, false).result.latency_s * 1e6;
    EXPECT_NEAR(us / c.ref_us, 1.0, 0.002) << c.chip << ": " << us << " us";
  }
}
