// Validation against measurements: reads CSV rows (id, hardware, level, workload, dtype,
// shape_or_config, metric, value, unit, source), maps each row it can model onto a preset and an op,
// simulates it and reports the error per row.
#include "sim/validation/validate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <numeric>
#include <regex>
#include <sstream>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"
#include "sim/serve/serve.h"
#include "sim/base/config.h"
#include "sim/base/csv.h"
#include "sim/base/limits.h"
#include "sim/base/strformat.h"

namespace fs = std::filesystem;

namespace xpu {

// The preset of a row's hardware ("" when none models it). Names as the public sources write them.
std::string chip_for(const std::string& hw) {
  // H800 SXM5 has the H100 SXM5's SMs, clocks, HBM3 and tensor peak (only NVLink differs).
  static const std::vector<std::pair<std::vector<const char*>, const char*>> names = {
      {{"H100", "H800"}, "h100-sxm"}, {{"H200"}, "h200"}, {{"B200"}, "b200"}, {{"A100"}, "a100-sxm"},
      {{"TPU v4"}, "tpu-v4"}, {{"TPU v5e", "TPU v5 lite", "TPU v5litepod"}, "tpu-v5e"}, {{"TPU v5p"}, "tpu-v5p"},
      {{"TPU v6e", "Trillium"}, "tpu-v6e"}, {{"TPU7x", "TPU v7", "Ironwood"}, "tpu-v7"},
      {{"Trainium1", "Trn1", "trn1"}, "trn1"}, {{"Trainium2", "Trn2", "trn2"}, "trn2"}, {{"Trainium3", "Trn3", "trn3"}, "trn3"},
      {{"Inferentia2", "Inf2", "inf2"}, "inf2"}, {{"Maia 100"}, "maia100"}, {{"Maia 200"}, "maia200"}};
  for (const auto& [keys, chip] : names)
    for (const char* k : keys)
      if (hw.find(k) != std::string::npos) return chip;
  return "";
}

namespace {
// A JAX program timed on the host (`block_until_ready` around one call) includes the dispatch of the
// jitted call; the Pallas notebook these rows come from states it as about 0.1 ms. It is added to the
// kernel's time for rows whose source says they are host-timed (source: jax-ml/jax
// docs/pallas/tpu/matmul.ipynb, the note beside its timings).
constexpr double kHostDispatchS = 0.1e-3;

bool gemm_dtypes(const std::string& d, DType& in, DType& out) {
  if (d.rfind("bf16", 0) == 0) return in = DType::bf16, out = DType::bf16, true;
  if (d.rfind("fp16", 0) == 0) return in = DType::fp16, out = DType::fp16, true;
  if (d.find("tf32") != std::string::npos) return in = DType::tf32, out = DType::fp32, true;
  // fp32 operands and output on the chip's fp32 matmul path (NKIBench's fp32 kernels on a NeuronCore).
  if (d.rfind("fp32", 0) == 0) return in = DType::fp32, out = DType::fp32, true;
  if (d.rfind("fp8", 0) == 0) return in = DType::fp8, out = DType::bf16, true;
  if (d.rfind("fp4", 0) == 0) return in = DType::fp4, out = DType::bf16, true;  // NVFP4 (or MXFP4) operands, bf16 out
  return false;
}
}  // namespace

// "b1 M4096 N4096 K4096" / "M64 N2112 K7168" / "B4 H16 S4096 D128" -> {"b":1,"M":4096,...}
std::map<std::string, std::int64_t> parse_shape(const std::string& s) {
  std::map<std::string, std::int64_t> out;
  std::regex tok("([A-Za-z]+)=?([0-9]+)");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), tok); it != std::sregex_iterator(); ++it) {
    const std::string digits = (*it)[2];
    // A dimension beyond kMaxDim is refused by the op's own check; longer digit strings would overflow.
    out[(*it)[1]] = digits.size() > 12 ? std::int64_t{1} << 40 : std::stoll(digits);
  }
  return out;
}

std::vector<std::string> row_chip_settings(const ValidationRow& row, std::string* shape) {
  if (shape) *shape = row.shape;
  static const std::regex word("(^|[^A-Za-z0-9_.])set([^A-Za-z0-9_.]|$)");
  if (!std::regex_search(row.shape, word)) return {};
  auto bad = [&](const std::string& what) {
    return InputError("measurement row " + row.id + ": shape_or_config '" + row.shape + "': " + what +
                          " (expected the shape, then '; set KEY=VALUE[, KEY=VALUE]': chip settings as --set takes them, "
                          "e.g. '; set vmem.scoped_limit=64MiB')",
                      "", row.shape);
  };
  static const std::regex clause("^(.*[^ ;]) *; *set (.*)$");
  std::smatch m;
  if (!std::regex_match(row.shape, m, clause)) throw bad("'set' outside a chip-settings clause after the shape");
  const std::string head = m[1], items = m[2];
  if (std::regex_search(head, word)) throw bad("'set' given twice");
  static const std::regex item(" *([A-Za-z_][A-Za-z0-9_.]*=[^ ,;=]+) *");
  std::vector<std::string> out;
  for (size_t at = 0; at <= items.size();) {
    const size_t comma = std::min(items.find(',', at), items.size());
    const std::string one = items.substr(at, comma - at);
    std::smatch im;
    if (!std::regex_match(one, im, item)) throw bad("chip setting '" + one + "' is not KEY=VALUE without spaces");
    out.push_back(im[1]);
    at = comma + 1;
  }
  if (shape) *shape = head;
  return out;
}

std::vector<ValidationRow> read_measurements(const std::string& path) {
  const CsvTable t(read_input_file(path, "measurements"), path);
  const std::vector<std::string> want = {"id", "hardware", "level", "workload", "dtype", "shape_or_config", "metric",
                                         "value", "unit", "source"};
  if (t.header() != want) throw InputError::in_file(path + ": header: expected " + join(want, ","), path, "header");
  std::vector<ValidationRow> rows;
  for (size_t i = 0; i < t.size(); ++i) {
    ValidationRow r{t.text(i, "id"), t.text(i, "hardware"), t.text(i, "level"), t.text(i, "workload"), t.text(i, "dtype"),
                    t.text(i, "shape_or_config"), t.text(i, "metric"), t.text(i, "unit"), t.text(i, "source"), 0};
    // A measurement is a positive finite number, the whole field: "nan", "0", "12abc" are refused
    // (they would print as nan% or inf% errors, or be silently truncated).
    r.measured = t.number(i, "value", CsvNumber::kPositive);
    rows.push_back(r);
  }
  // A header alone (or an empty file) measured nothing: it had printed "0 points, mean absolute error 0%", a pass.
  if (rows.empty()) throw InputError::in_file(path + ": no measurement rows after the header (expected one row per measurement)", path, "");
  return rows;
}

std::vector<std::string> default_measurement_files() {
  // The rows the project validates against live in the repository (public rows with their original
  // sources, and our own H100 and H200 measurements); a missing file is an error, never a silently smaller set.
  std::vector<std::string> out;
  for (const char* f : {"public_measurements.csv", "h100_measured.csv", "h200_measured.csv"}) {
    fs::path p = fs::path(source_dir()) / "workloads" / "validation" / f;
    if (!fs::is_regular_file(p)) throw InputError::in_file(p.string() + ": validation data file missing (it ships with the repository)", p.string(), "");
    out.push_back(p.string());
  }
  return out;
}

std::string validation_coverage(const std::string& family) {
  auto family_of = [](const std::string& hw) -> std::string {
    for (const char* k : {"TPU", "tpu"})
      if (hw.find(k) != std::string::npos) return "tpu";
    for (const char* k : {"Trainium", "Inferentia", "trn", "inf2"})
      if (hw.find(k) != std::string::npos) return "trainium";
    if (hw.find("Maia") != std::string::npos) return "maia";
    return chip_for(hw).empty() ? "" : "gpu";
  };
  std::map<std::string, int> levels;
  int predicted = 0, rows = 0;
  for (const auto& f : default_measurement_files())
    for (const auto& r : read_measurements(f))
      if (family_of(r.hardware) == family) {
        ++levels[r.level];
        ++rows;
        if (!chip_for(r.hardware).empty() && (r.level == "kernel" || r.level == "model")) ++predicted;
      }
  if (rows == 0) return family + ": no public measurement in workloads/validation: its predictions are unvalidated";
  std::string out = family + ": ";
  for (const auto& [lvl, n] : levels) out += std::to_string(n) + " " + lvl + ", ";
  out.resize(out.size() - 2);
  out += " measurements; ";
  out += predicted > 0 ? std::to_string(predicted) + " kernel and model rows on hardware `xpusim validate` maps to a preset, of which "
                         "it predicts the GEMM, attention, row-wise (RMSNorm, softmax, eager SwiGLU, residual add) and memory "
                         "(copy, in-place add, sum, XLA elementwise) kernel rows and the single-chip Llama serving rows (serving with --models); "
                         "multi-chip rows with --models where a system preset and layout express them"
                       : "none compared by `xpusim validate` yet (the hardware maps to no preset): its predictions are unvalidated";
  return out;
}

namespace {
// A kernel row as the simulator runs it: the kernels its workload launches, back to back (PyTorch eager's
// F.silu(gate) * up is two), and the op whose compulsory bytes and FLOPs the row's bandwidth and
// throughput count (the row's own convention, workloads/validation/README.md).
struct RowKernels {
  std::vector<OpSpec> kernels;
  OpSpec counted;
  // Bytes of one buffer set of the row-wise rows: what the measuring script sizes its rotation by (the
  // counted bytes; the in-place add's one tensor), so sets x this is the working set the calls cycle over.
  double set_bytes = 0;
};

// A row-wise op of `rows` x `cols` elements of `dt` (the op's input, output and weight dtype).
OpSpec rowwise_op(OpKind kind, std::int64_t rows, std::int64_t cols, DType dt, const std::string& label) {
  OpSpec o;
  o.kind = kind;
  o.label = label;
  o.dtype = o.wdtype = o.odtype = dt;
  o.rows = rows, o.cols = cols;
  return o;
}

// The memory-bound kernel rows of our own measurements (h100_kernels.py's part_mem, gpu_session.py's
// small kernels; shapes "T<rows> D<cols>", "n=<elements>", "bytes=<bytes>") and NKI's layernorm rows.
bool rowwise_kernels_for(const ValidationRow& row, RowKernels& rk, std::string& why) {
  auto shape = parse_shape(row.shape);
  const std::string& w = row.workload;
  DType dt;
  if (row.dtype == "bf16") dt = DType::bf16;
  else if (row.dtype == "fp32") dt = DType::fp32;
  else return why = "row-wise dtype '" + row.dtype + "' not mapped", false;
  const bool td = shape.count("T") && shape.count("D");
  auto one = [&](OpKind k, const char* label) {
    if (!td) return why = "row-wise shape without T and D", false;
    rk.counted = rowwise_op(k, shape["T"], shape["D"], dt, label);
    rk.kernels = {rk.counted};
    rk.set_bytes = rk.counted.min_bytes();
    return true;
  };
  if (w.rfind("RMSNorm F.rms_norm", 0) == 0) return one(OpKind::RmsNorm, "rmsnorm");
  if (w.rfind("softmax torch.softmax", 0) == 0) return one(OpKind::Softmax, "softmax");
  if (w.rfind("residual add x+r", 0) == 0) return one(OpKind::ResidualAdd, "residual_add");
  // Flat tensors ("n=<elements>", "bytes=<bytes>") as rows of up to 16384 elements (a power of two that
  // divides them): the GPU's blocks take contiguous slices either way.
  auto flat = [&](std::int64_t elems, OpKind k, const char* label) {
    if (elems <= 0) return why = "flat shape without a positive size", false;
    const std::int64_t cols = std::gcd(elems, std::int64_t{16384});
    rk.counted = rowwise_op(k, elems / cols, cols, dt, label);
    rk.kernels = {rk.counted};
    rk.set_bytes = rk.counted.min_bytes();
    return true;
  };
  const std::int64_t flat_elems =
      shape.count("bytes") ? shape["bytes"] / static_cast<std::int64_t>(bytes_per_element(dt)) : shape.count("n") ? shape["n"] : 0;
  // dst.copy_(src) of one dtype runs cudaMemcpyAsync device to device (a copy kernel); x.add_(1) in place
  // reads and writes each element once: both are the one-read-one-write op.
  if (w.rfind("device-to-device copy dst.copy_(src)", 0) == 0) return flat(flat_elems, OpKind::Copy, "copy");
  if (w.rfind("elementwise in-place add x.add_(1)", 0) == 0) {
    if (!flat(flat_elems, OpKind::Copy, "add_scalar")) return false;
    rk.set_bytes = rk.counted.min_bytes() / 2;  // in place: one tensor per set (gpu_session.py part_small)
    return true;
  }
  if (w.rfind("pure read x.sum()", 0) == 0) return flat(flat_elems, OpKind::Sum, "sum");
  // A JAX elementwise op of one array jitted alone ("elementwise XLA A * s", a LeakyReLU's jnp.where, the
  // JAXBench KernelBench translations on TPU v6e): XLA fuses it into one loop that reads each element once and
  // writes it once, the one-read-one-write op (its few vector ops per element are not counted).
  if (w.rfind("elementwise XLA", 0) == 0) return flat(flat_elems, OpKind::Copy, "elementwise");
  // NKI's layernorm tutorial (aws-neuron-sdk general/nki/tutorials/layernorm.rst) states "an input tensor of
  // (300, 1000)" beside 2311 and 1969 us. That input is 1.2 MB of fp32 in and out: read and written once it
  // takes about 6 us at the 410 GB/s of one Trainium1 NeuronCore's share of HBM, and its engine passes
  // (about 6N Vector/Scalar cycles per 128-row tile, the tutorial's own cost analysis) about 13 us, so
  // 2 ms are the time of a tensor some 100 times larger (the tutorial's script takes its size as
  // --nrows/--ncols, e.g. 4096 x 8192). Which tensor was timed is not known: not predicted.
  if (w.rfind("NKI layernorm", 0) == 0)
    return why = "the stated input (300, 1000) cannot take the measured 2 ms (about 100x its traffic and engine time); "
                 "the timed tensor's shape is unknown",
           false;
  if (w.rfind("SwiGLU F.silu(gate)*up eager", 0) == 0) {
    if (!td) return why = "row-wise shape without T and D", false;
    // Eager PyTorch: silu(gate) (one read, one write: the unary elementwise kernel), then * up (two reads,
    // one write: the binary one), as FusionPolicy::eager_ops lowers it; the row counts read gate + up and
    // write out, the fused op's bytes.
    const std::int64_t T = shape["T"], D = shape["D"];
    rk.counted = rowwise_op(OpKind::SwiGlu, T, D, dt, "swiglu");
    rk.kernels = {rowwise_op(OpKind::Gelu, T, D, dt, "silu"), rowwise_op(OpKind::ResidualAdd, T, D, dt, "mul")};
    rk.set_bytes = rk.counted.min_bytes();
    return true;
  }
  return why = "workload '" + w + "' is not mapped to an op", false;
}

// The op of a kernel row, or false with `why`: GEMM / matmul rows ("b1 M4096 N4096 K4096"), attention
// rows ("B4 H32 KV8 S4096 D128 causal" prefill, "B64 H32 KV8 Q1 S4096 D128" decode) and the row-wise ones.
bool kernel_ops_for(const ValidationRow& row, RowKernels& rk, std::string& why) {
  OpSpec op;
  auto shape = parse_shape(row.shape);
  const bool matmul = row.workload.rfind("GEMM", 0) == 0 || row.workload.find("matmul") != std::string::npos;
  if (matmul) {
    DType in, outd;
    if (!gemm_dtypes(row.dtype, in, outd)) return why = "GEMM dtype '" + row.dtype + "' not mapped", false;
    if (!shape.count("M") || !shape.count("N") || !shape.count("K")) return why = "GEMM shape without M, N and K", false;
    op.kind = OpKind::Gemm;
    op.label = "gemm";
    op.dtype = op.wdtype = in;
    op.odtype = outd;
    op.m = shape["M"], op.n = shape["N"], op.k = shape["K"];
    op.batch = shape.count("b") ? shape["b"] : 1;
    // An M-grouped GEMM ("GEMM ... grouped ...", shape "G4 M8192 N4096 K7168": G groups of M rows each, one
    // B[K,N] per group, N and K shared; DeepGEMM's m_grouped contiguous and masked kernels, the masked one
    // with every group's mask at its full M): one launch over the tiles of all groups (OpKind::GroupedGemm).
    if (row.workload.find(" grouped") != std::string::npos) {
      if (!shape.count("G") || shape["G"] <= 0) return why = "grouped GEMM shape without a positive G (groups)", false;
      op.kind = OpKind::GroupedGemm;
      op.label = "grouped_gemm";
      op.group_rows.assign(static_cast<size_t>(std::min<std::int64_t>(shape["G"], 1 << 20)), op.m);
      op.m = 0, op.batch = 1;
    }
    // fp4 rows: NVFP4 (e4m3 scales per 16) unless the row names MXFP4 (ue8m0 per 32); fp32 out where it says so.
    if (in == DType::fp4 && row.dtype.find("MXFP4") != std::string::npos) op.fp4_scale_block = OpSpec::kMxfp4ScaleBlock;
    if (in == DType::fp4 && row.dtype.find("fp32 out") != std::string::npos) op.odtype = DType::fp32;
    // DeepGEMM's fp4 (sm100) and block-scaled fp8 (sm90) kernels run the layout their own host heuristic picks
    // (kDeepGemmImpl).
    if ((in == DType::fp4 || in == DType::fp8) && row.workload.rfind("GEMM DeepGEMM", 0) == 0) op.impl = kDeepGemmImpl;
    // torch._scaled_mm's use_fast_accum (False unless the workload names it, PyTorch's default).
    op.fast_accum = row.workload.find("use_fast_accum=True") != std::string::npos;
  } else if (row.workload.find("attention") != std::string::npos && shape.count("B") && shape.count("H") && shape.count("S") &&
             shape.count("D")) {
    op.kind = OpKind::Attention;
    op.label = "attention";
    op.dtype = op.wdtype = op.odtype = DType::bf16;
    op.batch = shape["B"], op.heads = shape["H"], op.kv_heads = shape.count("KV") ? shape["KV"] : shape["H"];
    op.seq_kv = shape["S"], op.head_dim = op.head_dim_v = shape["D"];
    op.decode = shape.count("Q") != 0;
    op.seq_q = op.decode ? shape["Q"] : op.seq_kv;
    op.causal = op.decode || (row.shape.find("causal") != std::string::npos && row.shape.find("noncausal") == std::string::npos);
    // PyTorch's built-in SDPA flash backend is FlashAttention-2's code (mma.sync, no wgmma or TMA);
    // rows naming FA3 (or no library) run the default kernel.
    if (row.workload.find("SDPA flash") != std::string::npos) op.impl = "fa2";
    if (op.decode && row.metric != "latency") return why = "decode attention row with metric '" + row.metric + "' (its latency row is used)", false;
  } else {
    if (!rowwise_kernels_for(row, rk, why))
      return why += " (validate maps GEMM, matmul, attention, RMSNorm, layernorm, softmax, SwiGLU, residual-add, copy, in-place add, XLA elementwise and sum kernel rows)", false;
    return true;
  }
  rk.counted = op;
  rk.kernels = {op};
  return true;
}

// The kernel row's prediction, or false with `why`.
bool predict_kernel_row(const ValidationRow& row, const ChipModel& model, ValidationPoint& p, std::string& why) {
  RowKernels rk;
  if (!kernel_ops_for(row, rk, why)) return false;
  // The kernel at the clock the power manager holds where the row's protocol timed it (after its warm-up,
  // from an idle chip); a row without a stated protocol is one burst from idle (the boost clock, held to the
  // electrical limit, unless it lasts tens of milliseconds).
  KernelStudyOptions ko;
  ko.keep_chip = true;  // row after row on the warm chip of the row's configuration
  ko.after_runs = protocol_runs(row.source);
  // A row whose source states that the chip had been held at its power limit when it was timed (a sweep of many
  // shapes back to back, or a clock the source saw fall under the limit): steady state, whatever its warm-up.
  if (protocol_steady_state(row.source)) ko.sustained = true, ko.after_runs = -1;
  // "inputs rotated over N buffer sets": the calls cycle over N sets, so a working set the chip's cache
  // holds is served from it (LowerOptions::input_working_set); "single buffer set (working set > 256 MiB)"
  // and rows without a rotation read DRAM.
  static const std::regex sets_re("inputs rotated over ([0-9]+) buffer sets");
  std::smatch sm;
  if (rk.set_bytes > 0 && std::regex_search(row.source, sm, sets_re)) ko.input_working_set = std::stod(sm[1]) * rk.set_bytes;
  // "flushes the L2 by zeroing 8 GB before each call" (DeepGEMM's bench_kineto): each call starts on a cold L2
  // full of the flush's dirty lines (LowerOptions::flush_bytes).
  static const std::regex flush_re("flushes the L2 by zeroing ([0-9.]+) GB before each call");
  if (std::regex_search(row.source, sm, flush_re)) ko.flush_bytes = std::stod(sm[1]) * 1e9;
  // A Pallas kernel states its block shape ("Pallas blocked matmul bm=512 bk=1024 bn=1024"): it runs those
  // blocks, not the ones the lowering would choose (jax-ml/jax docs/pallas/tpu/matmul.ipynb times each
  // block shape it names).
  static const std::regex pallas_re("^Pallas .*bm=([0-9]+) bk=([0-9]+) bn=([0-9]+)");
  if (std::regex_search(row.workload, sm, pallas_re))
    ko.gemm_block = {std::stoll(sm[1]), std::stoll(sm[3]), std::stoll(sm[2])};
  // An NKI matmul kernel that states its blocks ("GEMM NKI matmul fully optimized (blocks M2048 N1024 K1024)",
  // the tutorial's TILES_IN_BLOCK_* times the tile sizes) runs as that kernel blocks it.
  static const std::regex nki_re("NKI matmul .*\\(blocks M([0-9]+) N([0-9]+) K([0-9]+)\\)");
  if (std::regex_search(row.workload, sm, nki_re))
    ko.gemm_block = {std::stoll(sm[1]), std::stoll(sm[2]), std::stoll(sm[3])};
  else if (row.workload.find("NKI matmul") != std::string::npos)
    return why = "an NKI tutorial matmul without the tutorial's K blocking: its loads are declared inside its loops, so how many "
                 "SBUF buffers the compiler gives them (how far loads run ahead of the matmuls) is not stated, and the three "
                 "such versions move 2.2-5.4 GB at about 100 GB/s (e.g. 4.4 GB in 42.96 ms), below even the 272 GB/s that NKI's "
                 "DMA bandwidth guide gives a trn1 core's 16 engines (17 B/ns each): no published mechanism for the difference",
           false;
  // A kernel that transposes its lhs in the kernel, once per rhs block (NKIBench's matmul baseline: 15,360 fp32
  // identity matmuls, and 9.06 GB read from HBM per its profile for 0.34 GB of operands), runs a dataflow the GEMM
  // op does not: the op reads A as A^T, laid out by its producer, once per block row.
  if (row.workload.find("lhs transposed in the kernel") != std::string::npos)
    return why = "the kernel transposes its lhs on TensorE once per rhs block and its profile reads 9.06 GB from HBM "
                 "for 0.34 GB of operands (a strided access whose DMA cost is not stated); the GEMM op reads A^T once "
                 "per block row: not the op's dataflow",
           false;
  const double host = row.source.find("host-timed") != std::string::npos ? kHostDispatchS : 0.0;
  double t = host, roof_t = host, exec = 0, clock_hz = 0;
  std::vector<std::string> strategies;
  for (const OpSpec& op : rk.kernels) {
    KernelRun run = run_kernel_study(model, op, ko).run;
    t += run.result.latency_s;
    for (const auto& k : run.result.kernels) {
      roof_t += k.roofline_s;
      exec += k.exec_s;
    }
    if (!run.result.kernels.empty()) strategies.push_back(run.result.kernels[0].strategy);
    clock_hz = run.result.clock_hz;
  }
  const OpSpec& op = rk.counted;
  // A rate derived from the profiler's device duration of the op ("device-timed" in the row's source: xprof's
  // device_duration_ps) counts the kernels' own time, without the launch gap before them, as kernel_time rows do.
  const bool device_timed = row.source.find("device-timed") != std::string::npos;
  if (row.metric == "throughput" && row.unit == "TFLOP/s") {
    p.predicted = op.flops() / (device_timed ? exec : t) / 1e12;
    p.roofline = op.flops() / roof_t / 1e12;
  } else if (row.metric == "bandwidth" && row.unit == "GB/s" && op.kind != OpKind::Gemm && op.kind != OpKind::Attention) {
    // The bytes the row counts (each input read once, each output written once), over the kernels' time.
    p.predicted = op.min_bytes() / t / 1e9;
    p.roofline = op.min_bytes() / roof_t / 1e9;
  } else if (row.metric == "latency" && (row.unit == "us" || row.unit == "ms")) {
    const double scale = row.unit == "us" ? 1e6 : 1e3;
    p.predicted = t * scale;
    p.roofline = roof_t * scale;
  } else if (row.metric == "kernel_time" && row.unit == "us") {
    // A profiler's kernel durations: the kernels' own time, without the launch gaps before them.
    p.predicted = exec * 1e6;
    p.roofline = roof_t * 1e6;
  } else {
    return why = "metric '" + row.metric + "' in '" + row.unit + "' not predicted (throughput in TFLOP/s, latency in us or ms, "
                 "bandwidth in GB/s of row-wise ops)", false;
  }
  p.note = join(strategies, " + ");
  if (host > 0) p.note += "; plus 0.1 ms host dispatch (host-timed row)";
  if (device_timed) p.note += "; device-timed (the kernels' own time)";
  if (ko.after_runs >= 0) p.note += strformat("; timed after %.0f runs from idle at %.0f MHz", ko.after_runs, clock_hz / 1e6);
  if (ko.sustained) p.note += strformat("; timed in steady state at %.0f MHz", clock_hz / 1e6);
  return true;
}

// A sustained loop's workload as the kernel row of the same kernel names it: "sustained GEMM torch.matmul loop
// (inputs rotated over 2 buffer sets)" -> "GEMM torch.matmul (inputs rotated over 2 buffer sets)", "sustained
// device-to-device copy loop dst.copy_(src)" -> "device-to-device copy dst.copy_(src)"; the 8192^3 loop of the
// power trace, "GEMM torch.matmul loop started on an idle GPU (last 5 s)", whose last 5 s run 9 s after its 1 s
// average reached TDP, likewise. "" when the row is no such loop.
std::string sustained_kernel_workload(const std::string& w) {
  static const std::regex loop("^(?:sustained )?(.*?) loop(?: started on an idle GPU \\(last 5 s\\))?(.*)$");
  std::smatch m;
  if (w.rfind("sustained decode steps", 0) == 0 || !std::regex_match(w, m, loop)) return "";
  if (w.rfind("sustained ", 0) != 0 && w.find("(last 5 s)") == std::string::npos) return "";
  return std::string(m[1]) + std::string(m[2]);
}

// Board power (W), SM clock (MHz), call time (us) or rate (TFLOP/s) of a kernel repeated back to back for seconds (our `power` and `ipower`
// rows, h100_kernels.py `sustained`: nvidia-smi samples after the loop's first second): the kernel in steady
// state (KernelStudyOptions::sustained), its average power and the clock the power manager holds it at.
bool predict_sustained_kernel_row(const ValidationRow& row, const ChipModel& model, ValidationPoint& p, std::string& why) {
  ValidationRow kernel_row = row;
  kernel_row.workload = sustained_kernel_workload(row.workload);
  RowKernels rk;
  if (!kernel_ops_for(kernel_row, rk, why)) return false;
  if (rk.kernels.size() != 1) return why = "a sustained loop of several kernels is not expressed", false;
  KernelStudyOptions ko;
  ko.keep_chip = true;
  ko.sustained = true;
  const KernelStudy st = run_kernel_study(model, rk.kernels[0], ko);
  if (!st.power.modeled) return why = "preset " + p.chip + " has no power section", false;
  if (row.metric == "power" && row.unit == "W") {
    p.predicted = st.power.avg_power_w;
  } else if (row.metric == "sm_clock" && row.unit == "MHz") {
    p.predicted = st.run.result.clock_hz / 1e6;
  } else if (row.metric == "latency" && row.unit == "us") {
    p.predicted = st.run.result.latency_s * 1e6;
  } else if (row.metric == "throughput" && row.unit == "TFLOP/s") {
    p.predicted = rk.counted.flops() / st.run.result.latency_s / 1e12;
  } else {
    return why = "metric '" + row.metric + "' of a sustained loop is not predicted (power in W, sm_clock in MHz, latency in "
                 "us, throughput in TFLOP/s)", false;
  }
  p.note = strformat("%s; sustained at %.0f MHz, %.0f W (%.0f W at the nominal clock)",
                     st.run.result.kernels.empty() ? "" : st.run.result.kernels[0].strategy.c_str(),
                     st.run.result.clock_hz / 1e6, st.power.avg_power_w, st.power.unthrottled_power_w);
  return true;
}

// Why a micro-benchmark row other than a sustained loop's power or clock is not predicted.
std::string micro_row_reason(const ValidationRow& row) {
  const std::string& w = row.workload;
  if (w.rfind("sustained decode steps", 0) == 0) return "a loop of decode-step graphs: simulated only with --models";
  if (w.find("(first 100 ms)") != std::string::npos && row.metric == "sm_clock")
    return "nvidia-smi's clocks.sm in a burst from idle reads the requested 1980 MHz, not the lower clock the electrical "
           "limit (power.peak_limit) enforces within microseconds";
  if (w.rfind("idle GPU", 0) == 0) return "the idle board is the calibration of power.static (its preset comment), no kernel";
  return "level '" + row.level + "': validate predicts kernel and model rows, and the power and clock of sustained loops "
         "(a micro-benchmark such as an instruction chain, a launch or a burst's timeline is no op)";
}
}  // namespace

// Where a row's benchmark protocol times the kernel (or the CUDA graph of a whole step), as the number of back-to-back runs of it from the start
// of its warm-up to the middle of its median timing, read from the method the row's source states (our H100
// and H200 rows, scripts/measure/h100_kernels.py): "CUDA events, W warm-up[ + G graph warm-up replays], median
// of R back-to-back eager calls" or "... median of R CUDA-graph replays of N launches". Timings are sorted by
// clock (it only falls during a run), so the median is the middle one: W + (G + R/2) x N runs in. -1 when the
// source states no such protocol (the kernel is then taken as one burst from idle).
double protocol_runs(const std::string& source) {
  static const std::regex re(
      "CUDA events, ([0-9]+) warm-up(?: \\+ ([0-9]+) graph warm-up replays)?, median of ([0-9]+) "
      "(?:back-to-back eager calls|CUDA-graph replays of ([0-9]+) launches)");
  // A profiler's kernel time averaged over calls (torchao's bench_matmul.py: one call, then five under the
  // profiler, their kernel time summed and divided by five): the middle of the timed calls, as for a median.
  static const std::regex profiled("profiler kernel time, ([0-9]+) warm-up, mean of ([0-9]+) back-to-back calls");
  std::smatch m;
  if (std::regex_search(source, m, profiled)) return std::stod(m[1]) + std::stod(m[2]) / 2;
  if (!std::regex_search(source, m, re)) return -1;
  const double warm = std::stod(m[1]), replays = m[2].matched ? std::stod(m[2]) : 0, timed = std::stod(m[3]);
  const double per = m[4].matched ? std::stod(m[4]) : 1;
  return warm + (replays + timed / 2) * per;
}

bool protocol_steady_state(const std::string& source) { return source.find(kSteadyStateMarker) != std::string::npos; }

void check_filter_matched(const std::string& filter, const std::vector<std::string>& files, size_t matched, bool models) {
  if (filter.empty() || matched > 0) return;
  throw InputError("--filter '" + filter + "': no row's id starts with it and no workload contains it (in " + join(files) +
                   (models ? "" : "; model rows need --models") + ")", "--filter", filter);
}

std::vector<ValidationPoint> validate_rows(const std::vector<ValidationRow>& rows, const std::string& filter, bool models,
                                          std::vector<ValidationSkip>* skipped) {
  std::vector<ValidationPoint> out;
  std::map<std::string, std::unique_ptr<ChipModel>> chips;
  auto skip = [&](const ValidationRow& row, const std::string& why) {
    if (skipped) skipped->push_back({row, why});
  };
  for (const auto& row : rows) {
    if (!filter.empty() && row.id.rfind(filter, 0) != 0 && row.workload.find(filter) == std::string::npos) continue;
    if (row.workload.find("single launch") != std::string::npos) {
      skip(row, "single-launch row: includes the host's launch cost, which is not simulated");
      continue;
    }
    ValidationPoint p;
    p.row = row;
    std::string why;
    // The chip settings the row's measurement ran with (a clause after its shape), applied to its preset as --set
    // applies them; the row is predicted from its shape without the clause and reported as written.
    ValidationRow run = row;
    p.chip_settings = row_chip_settings(row, &run.shape);
    if (!p.chip_settings.empty() && row.level != "kernel")
      throw InputError("measurement row " + row.id + ": shape_or_config '" + row.shape + "': chip settings on a '" + row.level +
                           "' row (expected them on kernel rows only: validate loads one chip for each of those)",
                       "", row.shape);
    if (row.level == "model" || (row.level == "micro" && row.workload.rfind("sustained decode steps", 0) == 0)) {
      if (!models) {
        skip(row, row.level == "model" ? "model-level row: simulated only with --models" : micro_row_reason(row));
      } else if (predict_model_row(row, p, why)) {
        p.error = (p.predicted - row.measured) / row.measured;
        out.push_back(p);
      } else {
        skip(row, why);
      }
      continue;
    }
    p.chip = chip_for(row.hardware);
    if (p.chip.empty()) {
      skip(row, "no preset models hardware '" + row.hardware + "'");
      continue;
    }
    bool built = false;
    for (const auto& pr : list_presets()) built = built || pr.name == p.chip;
    if (!built) {
      skip(row, "preset " + p.chip + ": its chip family is not compiled into this build");
      continue;
    }
    const bool sustained_loop = row.level == "micro" && !sustained_kernel_workload(row.workload).empty();
    if (row.level != "kernel" && !sustained_loop) {
      skip(row, micro_row_reason(row));
      continue;
    }
    // A NeuronCore kernel (NKI) measured on one core runs on one core of the chip's preset; a TPU kernel measured
    // on one TensorCore (TPU7x shows each of its two TensorCores as a JAX device of its own) on one TensorCore.
    const bool one_core = row.hardware.find("(1 core)") != std::string::npos && (p.chip.rfind("trn", 0) == 0 || p.chip == "inf2");
    const bool one_tc = row.hardware.find("(1 TensorCore)") != std::string::npos && p.chip.rfind("tpu", 0) == 0;
    std::vector<std::string> overlay = one_core ? std::vector<std::string>{"cores_used=1"}
                                       : one_tc  ? std::vector<std::string>{"tensorcores=1"}
                                                 : std::vector<std::string>{};
    // A row whose source states the clock its run held ("clock 1900 MHz": a TPU7x run at libtpu's default
    // p-state 3, 1.9 GHz in OpenXLA's p-state table, where the preset's clock is p-state 7's) runs its preset at
    // that clock; the preset's own clock stays the chip's peak.
    static const std::regex clock_re("\\bclock ([0-9]+(?:\\.[0-9]+)?) MHz\\b");
    std::smatch clock_m;
    const bool stated_clock = std::regex_search(row.source, clock_m, clock_re);
    if (stated_clock) overlay.push_back("clock=" + std::string(clock_m[1]) + "MHz");
    overlay.insert(overlay.end(), p.chip_settings.begin(), p.chip_settings.end());
    std::string key = p.chip;
    for (const auto& o : overlay) key += "/" + o;
    if (!chips.count(key)) {
      try {
        chips[key] = load_chip(p.chip, overlay);
      } catch (const InputError& e) {
        if (p.chip_settings.empty()) throw;
        throw InputError("measurement row " + row.id + ": shape_or_config '" + row.shape + "': " + e.what(), e);
      }
    }
    if (!(sustained_loop ? predict_sustained_kernel_row(run, *chips[key], p, why) : predict_kernel_row(run, *chips[key], p, why))) {
      skip(row, why);
      continue;
    }
    if (stated_clock) p.note += "; at the row's stated clock " + std::string(clock_m[1]) + " MHz";
    if (!p.chip_settings.empty()) p.note += "; chip set by the row: " + join(p.chip_settings);
    p.error = (p.predicted - row.measured) / row.measured;
    out.push_back(p);
  }
  return out;
}

}  // namespace xpu
