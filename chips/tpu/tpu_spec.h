// Parameters of a TPU chip (TensorCores with systolic MXUs, vector and scalar units, VMEM, optional
// CMEM, DMA engines and HBM), parsed from a preset in chips/tpu/presets/. Every figure's source or
// assumption is written beside it there.
#pragma once
#include <string>

#include "sim/base/config.h"
#include "sim/base/dtype.h"
#include "sim/memory/i_dram.h"
#include "sim/interconnect/i_channel.h"

namespace xpu::tpu {

// The MXUs of one TensorCore: weight-stationary systolic arrays of rows x cols MAC cells.
struct MxuSpec {
  int count = 4;            // per TensorCore
  int rows = 128;           // K depth of one weight fold (bf16)
  int cols = 128;           // N width of one weight fold
  int weight_buffers = 2;   // 2: the next fold's weights shift in while the current fold streams
  // K values each cell holds per fold for narrow inputs (the 2x int8 / fp8 rate); 0 = no MXU path.
  int pack_int8 = 0, pack_fp8 = 0;
  int fp32_passes = 1;      // fp32 operands run as this many bf16 passes (1: JAX's default; 6: HIGHEST); 0 = refuse
};

struct VpuSpec {
  int lanes = 128, sublanes = 8;
  int alus_per_cell = 2;              // ALUs per (sublane, lane) cell, one op each per clock
  double transcendentals_per_clk = 256;  // exp / rsqrt / reciprocal results per clock
  // ALU operations per element to widen a narrow weight (int8 / fp8) to the MXU dtype (bf16) on the
  // way to the MXU: unpack, convert, repack on an fp32 vector unit.
  double convert_ops_per_elem = 2;
};

struct TpuSpec {
  std::string name, description, family;
  int tensorcores = 1;      // per chip; a kernel uses all of them
  bool megacore = false;    // the cores act as one device (XLA splits each kernel's grid across them)
  Hertz clock;
  MxuSpec mxu;
  VpuSpec vpu;
  Bytes vmem_capacity;          // per TensorCore
  double vmem_budget = 0.5;     // share of VMEM a kernel's double-buffered blocks may take
  Bytes vmem_scoped_limit;      // XLA's scoped VMEM limit per instruction (0 = none): a kernel's blocks fit in it too
  double vmem_bytes_per_clk = 8192;  // VMEM <-> vector registers, per TensorCore
  Bytes cmem_capacity;          // shared on-chip memory (TPU v4); 0 = none
  Bandwidth cmem_bandwidth;
  Bandwidth dma_bandwidth;      // HBM <-> VMEM DMA bandwidth of one TensorCore
  double dma_issue_cycles = 1;  // scalar-unit cycles to issue one DMA descriptor
  double step_cycles = 0;       // scalar-unit bookkeeping per grid step (addresses, semaphores)
  HbmSpec hbm;
  OnChipSpec onchip;  // which on-chip channel model the ports and DMA queues use
  Seconds launch_overhead;

  // K values per cell per fold for the MXU in dtype `d` (0: the MXU has no path for it).
  int k_pack(DType d) const;
  // bf16 passes per fold (fp32 emulation); 1 for native types.
  int passes(DType d) const;
  // Dense MXU FLOPs per second of the whole chip (all TensorCores); 0 if unsupported.
  double peak_flops(DType d) const;
  // VMEM one kernel's double-buffered blocks may take: its share of VMEM, within XLA's scoped limit.
  double kernel_vmem_bytes() const;
  double vpu_ops_per_clk() const { return static_cast<double>(vpu.lanes) * vpu.sublanes * vpu.alus_per_cell; }
  // Why `d` cannot run on the MXU of this chip ("" if it can).
  std::string dtype_refusal(DType d) const;
};

void describe(Params& p, TpuSpec& s);

}  // namespace xpu::tpu
