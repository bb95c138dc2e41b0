// Schema of a TPU preset and the peak rates derived from it.
#include "chips/tpu/tpu_spec.h"

#include <algorithm>

namespace xpu::tpu {

int TpuSpec::k_pack(DType d) const {
  switch (d) {
    case DType::bf16: return 1;
    case DType::fp32: return mxu.fp32_passes > 0 ? 1 : 0;
    case DType::int8: return mxu.pack_int8;
    case DType::fp8: return mxu.pack_fp8;
    default: return 0;  // fp16, tf32, fp6, fp4: no MXU path on any TPU generation we model
  }
}

int TpuSpec::passes(DType d) const { return d == DType::fp32 ? mxu.fp32_passes : 1; }

double TpuSpec::peak_flops(DType d) const {
  int pack = k_pack(d);
  if (pack <= 0) return 0;
  double per_clk = 2.0 * mxu.rows * mxu.cols * mxu.count * tensorcores * pack / passes(d);
  return per_clk * clock.value();
}

double TpuSpec::kernel_vmem_bytes() const {
  const double share = vmem_capacity.value() * vmem_budget;
  return vmem_scoped_limit.value() > 0 ? std::min(share, vmem_scoped_limit.value()) : share;
}

std::string TpuSpec::dtype_refusal(DType d) const {
  if (k_pack(d) > 0) return "";
  switch (d) {
    case DType::fp16:
      return "TPU MXUs take bf16, not fp16 (convert the operands to bf16)";
    case DType::tf32:
      return "TPUs have no tf32 mode (use bf16, or fp32 which runs as multi-pass bf16)";
    case DType::fp8:
      return "this TPU generation has no fp8 MXU path in its published specifications (quantize to int8 or use bf16)";
    case DType::int8:
      return "this TPU generation lists no int8 MXU rate in its published specifications (use bf16 or fp8)";
    case DType::fp32:
      return "fp32 multi-pass emulation is disabled in this preset (mxu.fp32_passes = 0)";
    default:
      return std::string("TPU MXUs have no ") + xpu::name(d) + " path (use bf16)";
  }
}

void describe(Params& p, TpuSpec& s) {
  p("name", s.name, "Preset name as used on the command line", "");
  p("description", s.description, "One line describing the part", "");
  p("family", s.family, "Chip family (tpu)", "tpu");
  p("tensorcores", s.tensorcores, "TensorCores per chip; a kernel uses all of them");
  p("megacore", s.megacore, "The TensorCores share HBM and act as one device (XLA splits each kernel across them)",
    "false");
  p("clock", s.clock, "TensorCore clock (chosen so that the published peak comes out exactly where it is unpublished)");
  p("mxu.count", s.mxu.count, "MXUs (systolic arrays) per TensorCore");
  p("mxu.rows", s.mxu.rows, "Rows of one MXU: the K depth of one weight fold");
  p("mxu.cols", s.mxu.cols, "Columns of one MXU: the N width of one weight fold");
  p("mxu.weight_buffers", s.mxu.weight_buffers,
    "Weight buffers per MXU: 2 shifts the next fold's weights in while the current fold streams, 1 does not", "2");
  p("mxu.pack.int8", s.mxu.pack_int8, "int8 K values per MAC cell per fold (2 = twice the bf16 rate; 0 = none)", "0");
  p("mxu.pack.fp8", s.mxu.pack_fp8, "fp8 K values per MAC cell per fold (1 = bf16 rate, 2 = twice; 0 = none)", "0");
  p("mxu.fp32_passes", s.mxu.fp32_passes,
    "bf16 passes per fp32 fold: 1 = JAX's default precision, 3 = HIGH (bf16_3x), 6 = HIGHEST (bf16_6x); 0 = refuse fp32", "1");
  p("vpu.lanes", s.vpu.lanes, "Vector unit lanes", "128");
  p("vpu.sublanes", s.vpu.sublanes, "Vector unit sublanes", "8");
  p("vpu.alus_per_cell", s.vpu.alus_per_cell, "ALUs per (sublane, lane) cell, one operation per clock each", "2");
  p("vpu.transcendentals_per_clk", s.vpu.transcendentals_per_clk,
    "exp / rsqrt / reciprocal results per clock per TensorCore", "256");
  p("vpu.convert_ops_per_elem", s.vpu.convert_ops_per_elem,
    "ALU operations per element to widen int8 / fp8 weights to the MXU dtype (weight-only quantized GEMMs)", "2");
  p("vmem.capacity", s.vmem_capacity, "VMEM (vector scratchpad) per TensorCore");
  p("vmem.kernel_budget", s.vmem_budget, "Share of VMEM one kernel's double-buffered blocks may occupy", "0.5");
  p("vmem.scoped_limit", s.vmem_scoped_limit,
    "XLA's scoped VMEM limit per instruction (--xla_tpu_scoped_vmem_limit_kib, a Pallas kernel's default "
    "vmem_limit_bytes): a kernel's double-buffered blocks fit in it as well as in its VMEM share (0 B: no limit)", "0 B");
  p("vmem.bytes_per_clk", s.vmem_bytes_per_clk, "VMEM <-> vector register bandwidth per TensorCore per clock", "8192");
  p("cmem.capacity", s.cmem_capacity, "Common memory shared by the TensorCores (0: none)", "0 B");
  p("cmem.bandwidth", s.cmem_bandwidth, "CMEM bandwidth to the TensorCores", "0 B/s");
  p("dma.bandwidth", s.dma_bandwidth, "HBM <-> VMEM DMA bandwidth of one TensorCore");
  p("dma.issue_cycles", s.dma_issue_cycles, "Scalar-unit cycles to issue one DMA descriptor", "1");
  p("scalar.step_cycles", s.step_cycles, "Scalar-unit cycles of bookkeeping per grid step", "0");
  describe(p, s.hbm, "hbm.");
  describe(p, s.onchip, "onchip.");
  p("launch_overhead", s.launch_overhead, "Gap between back-to-back kernel (XLA program) launches", "1 us");
  p.require(s.tensorcores > 0 && s.tensorcores <= 256, "tensorcores", "1 to 256 TensorCores");
  p.require(s.clock.value() > 0, "clock", "a positive clock");
  p.require(s.mxu.count > 0 && s.mxu.count <= 16, "mxu.count", "1 to 16 MXUs per TensorCore");
  p.require(s.mxu.rows > 0 && s.mxu.rows <= 4096, "mxu.rows", "1 to 4096 rows");
  p.require(s.mxu.cols > 0 && s.mxu.cols <= 4096, "mxu.cols", "1 to 4096 columns");
  p.require(s.mxu.weight_buffers == 1 || s.mxu.weight_buffers == 2, "mxu.weight_buffers", "1 or 2");
  p.require(s.mxu.pack_int8 >= 0 && s.mxu.pack_fp8 >= 0, "mxu.pack.int8", "a non-negative packing factor");
  p.require(s.mxu.fp32_passes >= 0, "mxu.fp32_passes", "a non-negative pass count");
  p.require(s.vmem_capacity.value() > 0, "vmem.capacity", "a positive capacity");
  p.require(s.vmem_budget > 0 && s.vmem_budget <= 1, "vmem.kernel_budget", "a share in (0, 1]");
  p.require(s.vmem_scoped_limit.value() >= 0, "vmem.scoped_limit", "a non-negative size");
  p.require(s.vmem_bytes_per_clk > 0, "vmem.bytes_per_clk", "a positive bandwidth");
  p.require(s.dma_bandwidth.value() > 0, "dma.bandwidth", "a positive bandwidth");
  p.require(s.cmem_capacity.value() == 0 || s.cmem_bandwidth.value() > 0, "cmem.bandwidth",
            "a positive bandwidth when cmem.capacity is set");
  p.require(s.vpu.lanes > 0 && s.vpu.sublanes > 0 && s.vpu.alus_per_cell > 0, "vpu.lanes", "positive sizes");
  p.require(s.vpu.convert_ops_per_elem > 0, "vpu.convert_ops_per_elem", "a positive operation count");
}

}  // namespace xpu::tpu
