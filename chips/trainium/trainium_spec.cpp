#include "chips/trainium/trainium_spec.h"

namespace xpu::trainium {

double TrainiumSpec::cols_per_cycle(DType d) const {
  switch (d) {
    case DType::bf16: return tensor.bf16;
    case DType::fp16: return tensor.fp16;
    case DType::tf32: return tensor.tf32;
    case DType::fp8: return tensor.fp8;
    case DType::fp4: return tensor.fp4;
    case DType::int8: return tensor.int8;
    case DType::fp32: return tensor.fp32;
    case DType::fp6: return 0;  // no FP6 path on any NeuronCore
  }
  return 0;
}

double TrainiumSpec::core_peak_flops(DType d) const {
  return 2.0 * 128 * 128 * cols_per_cycle(d) * tensor.clock.value();
}

double TrainiumSpec::peak_flops(DType d) const { return core_peak_flops(d) * active_cores(); }

namespace {
void lane(Params& p, const std::string& pre, LaneEngineSpec& e, const char* what) {
  p(pre + "clock", e.clock, std::string("Clock of the ") + what);
  p(pre + "elems_per_cycle_16bit", e.elems_16bit,
    std::string("Elements per cycle (all 128 lanes) of the ") + what + " for 16/8-bit operands", "128");
  p(pre + "elems_per_cycle_32bit", e.elems_32bit,
    std::string("Elements per cycle (all 128 lanes) of the ") + what + " for 32-bit operands", "128");
  p(pre + "issue_cycles", e.issue_cycles, "Busy cycles per instruction besides streaming (decode, semaphores)", "16");
  p(pre + "fixed_latency_cycles", e.fixed_latency_cycles,
    "Latency of a dependent instruction besides streaming (SBUF/PSUM access initiation, pipeline)", "100");
  p.require(e.clock.value() > 0, pre + "clock", "a positive clock");
  p.require(e.elems_16bit > 0 && e.elems_32bit > 0, pre + "elems_per_cycle_16bit", "positive rates");
}
}  // namespace

void describe(Params& p, TrainiumSpec& s) {
  p("name", s.name, "Preset name as used on the command line", "");
  p("description", s.description, "One line describing the part", "");
  p("family", s.family, "Chip family (trainium)", "trainium");
  p("neuroncore", s.neuroncore, "NeuronCore generation (v2, v3, v4), for reports", "");
  p("cores", s.cores, "NeuronCores per chip");
  p("cores_used", s.cores_used,
    "NeuronCores one kernel is split over (0 = all of them), like the compiler's logical NeuronCore", "0");
  p("tensor.clock", s.tensor.clock, "Tensor Engine clock");
  p("tensor.cols_per_cycle.bf16", s.tensor.bf16, "Moving-tensor columns per cycle for BF16 (128x128 MACs each)", "1");
  p("tensor.cols_per_cycle.fp16", s.tensor.fp16, "Moving-tensor columns per cycle for FP16", "1");
  p("tensor.cols_per_cycle.tf32", s.tensor.tf32, "Moving-tensor columns per cycle for TF32", "1");
  p("tensor.cols_per_cycle.fp8", s.tensor.fp8, "Moving-tensor columns per cycle for FP8 (0: none)", "0");
  p("tensor.cols_per_cycle.fp4", s.tensor.fp4, "Moving-tensor columns per cycle for FP4 (0: none)", "0");
  p("tensor.cols_per_cycle.int8", s.tensor.int8, "Moving-tensor columns per cycle for INT8 (0: none)", "0");
  p("tensor.cols_per_cycle.fp32", s.tensor.fp32, "Moving-tensor columns per cycle for FP32", "0.25");
  p("tensor.mm_init_cycles", s.tensor.mm_init_cycles, "Minimum initiation interval of a MultiplyMoving (MM_INIT_LATENCY)", "64");
  p("tensor.moving_efficiency", s.tensor.moving_efficiency,
    "Sustained share of cols_per_cycle while MultiplyMoving instructions stream back to back (1: the data-path rate)", "1");
  p("tensor.load_stationary_speedup", s.tensor.load_stationary_speedup,
    "How much faster LoadStationary streams than MultiplyMoving (background load)", "4");
  p("tensor.pipeline_cycles", s.tensor.pipeline_cycles, "Systolic fill and drain before a result is in PSUM", "128");
  lane(p, "vector.", s.vector, "Vector Engine");
  lane(p, "scalar.", s.scalar, "Scalar Engine");
  lane(p, "gpsimd.", s.gpsimd, "GpSimd Engine");
  p("sbuf.bytes_per_partition", s.sbuf_per_partition, "SBUF bytes per partition (128 partitions)");
  p("psum.bytes_per_partition", s.psum_per_partition, "PSUM bytes per partition (128 partitions)");
  p("psum.banks", s.psum_banks, "PSUM banks (one matmul output tile of up to 512 fp32 per partition each)", "8");
  p("dma.engines", s.dma.engines, "DMA engines paired with one NeuronCore");
  p("dma.engine_bandwidth", s.dma.engine_bandwidth, "Peak bandwidth of one DMA engine");
  p("dma.partitions_per_engine", s.dma.partitions_per_engine, "SBUF partitions one DMA engine serves in a transfer", "8");
  p("dma.transfer_overhead", s.dma.transfer_overhead, "DMA engine occupancy per transfer besides streaming", "64 ns");
  p("dma.start_latency", s.dma.start_latency,
    "Time from a transfer's trigger to its engines' start (descriptor setup, synchronization, semaphore) that "
    "does not occupy the engines: transfers queued behind others hide it, a transfer waited for exposes it", "0 ns");
  p("dma.row_overhead", s.dma.row_overhead,
    "DMA engine occupancy per contiguous row (one partition's run, a descriptor element) besides streaming: "
    "why transfers with few bytes per partition run below the engines' bandwidth", "0 ns");
  p("dma.trigger", s.dma.trigger, "Sequencer time to trigger one DMA transfer", "20 ns");
  describe(p, s.hbm, "hbm.");
  describe(p, s.onchip, "onchip.");
  p("launch_overhead", s.launch_overhead, "Gap between dependent kernels (cross-core barrier and program switch)", "1 us");
  p("sync_cycles", s.sync_cycles, "Semaphore wait/signal on an engine sequencer (engine cycles)", "8");
  p("lowering.dma_buffers", s.dma_buffers,
    "SBUF buffers per streamed operand in lowerings (2 = double-buffered DMA, 1 = load then compute)", "2");
  p("lowering.tnx_flash_min_tokens", s.tnx_flash_min_tokens,
    "Prompt tokens from which AWS transformers-neuronx runs context-encoding attention as its NKI flash kernel "
    "(--impl transformers-neuronx); shorter prompts run the HLO graph with the S x S scores materialized; 0: no "
    "flash kernel, every prompt runs the HLO graph (transformers-neuronx before 0.11.351.0, Neuron 2.19)", "4096");
  p("lowering.materialized_sbuf_share", s.materialized_sbuf_share,
    "Share of SBUF a materialized intermediate (transformers-neuronx's attention scores) may occupy per core; "
    "a larger one is written to HBM by each HLO op and read back by the next", "0.5");
  p("lowering.weight_convert_engine", s.weight_convert_engine,
    "Lane engine that converts weights stored as int8 into the matmul dtype before the Tensor Engine (vector, "
    "scalar, gpsimd, or auto: the faster of Vector and GpSimd for the stored format by this preset's rates)", "auto");
  p.require(s.weight_convert_engine == "auto" || s.weight_convert_engine == "vector" || s.weight_convert_engine == "scalar" ||
                s.weight_convert_engine == "gpsimd",
            "lowering.weight_convert_engine", "one of auto, vector, scalar, gpsimd");
  p.require(s.tensor.moving_efficiency > 0 && s.tensor.moving_efficiency <= 1, "tensor.moving_efficiency", "a share in (0, 1]");
  p.require(s.tnx_flash_min_tokens >= 0, "lowering.tnx_flash_min_tokens", "a token count (0: no flash kernel)");
  p.require(s.materialized_sbuf_share > 0 && s.materialized_sbuf_share <= 1, "lowering.materialized_sbuf_share",
            "a share in (0, 1]");
  p.require(s.cores > 0 && s.cores <= 256, "cores", "1 to 256 NeuronCores");
  p.require(s.cores_used >= 0 && s.cores_used <= s.cores, "cores_used", "0 (all) or at most cores", "cores", "at least cores_used");
  p.require(s.tensor.clock.value() > 0, "tensor.clock", "a positive clock");
  p.require(s.tensor.bf16 > 0, "tensor.cols_per_cycle.bf16", "a positive rate");
  p.require(s.psum_banks > 0 && s.psum_banks <= 64, "psum.banks", "1 to 64 banks");
  p.require(s.dma.engines <= 256, "dma.engines", "at most 256 DMA engines");
  p.require(s.dma.engines > 0 && s.dma.engine_bandwidth.value() > 0, "dma.engines", "engines with positive bandwidth");
  p.require(s.dma.row_overhead.value() >= 0, "dma.row_overhead", "a non-negative time");
  p.require(s.dma.start_latency.value() >= 0, "dma.start_latency", "a non-negative time");
  p.require(s.dma.partitions_per_engine > 0, "dma.partitions_per_engine", "a positive count");
  p.require(s.dma_buffers >= 1 && s.dma_buffers <= 4, "lowering.dma_buffers", "1 to 4 buffers");
  p.require(s.sbuf_per_partition.value() >= 16384, "sbuf.bytes_per_partition", "at least 16 KiB");
}

}  // namespace xpu::trainium
