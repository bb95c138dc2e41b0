// Validation against measurements: reads CSV rows (id, hardware, level, workload, dtype,
// shape_or_config, metric, value, unit, source), maps each row it can model onto a preset and an op,
// simulates it and reports the error per row.
#include "sim/validation/validate.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "sim/run/kernel_run.h"
#include "sim/run/registry.h"
#include "sim/serve/serve.h"
#include "sim/base/config.h"
#include "sim/base/limits.h"
#include "sim/base/strformat.h"

namespace fs = std::filesystem;

namespace xpu {

namespace {
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
      else if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace

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
  if (d.rfind("fp8", 0) == 0) return in = DType::fp8, out = DType::bf16, true;
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

std::vector<ValidationRow> read_measurements(const std::string& path) {
  std::istringstream in(read_input_file(path, "measurements"));
  std::string line;
  std::getline(in, line);
  auto header = split_csv(line);
  std::vector<std::string> want = {"id", "hardware", "level", "workload", "dtype", "shape_or_config", "metric",
                                   "value", "unit", "source"};
  if (header != want) throw InputError(path + ": header: expected " + join(want, ","));
  std::vector<ValidationRow> rows;
  int n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    auto f = split_csv(line);
    if (f.size() != 10) throw InputError(path + ":" + std::to_string(n) + ": expected 10 fields, got " + std::to_string(f.size()));
    ValidationRow r{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[8], f[9], 0};
    // A measurement is a positive finite number, the whole field: "nan", "0", "12abc" are refused
    // (they would print as nan% or inf% errors, or be silently truncated).
    char* end = nullptr;
    r.measured = std::strtod(f[7].c_str(), &end);
    if (f[7].empty() || *end != '\0' || !std::isfinite(r.measured) || r.measured <= 0)
      throw InputError(path + ":" + std::to_string(n) + ": value: '" + f[7] + "': expected a positive number");
    rows.push_back(r);
  }
  return rows;
}

std::vector<std::string> default_measurement_files() {
  // The rows the project validates against live in the repository (public rows with their original
  // sources, and our own H100 and H200 measurements); a missing file is an error, never a silently smaller set.
  std::vector<std::string> out;
  for (const char* f : {"public_measurements.csv", "h100_measured.csv", "h200_measured.csv"}) {
    fs::path p = fs::path(source_dir()) / "workloads" / "validation" / f;
    if (!fs::is_regular_file(p)) throw InputError(p.string() + ": validation data file missing (it ships with the repository)");
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
                         "it predicts the GEMM, attention and single-chip Llama serving rows (serving with --models); "
                         "multi-chip rows with --models where a system preset and layout express them"
                       : "none compared by `xpusim validate` yet (the hardware maps to no preset): its predictions are unvalidated";
  return out;
}

namespace {
// The op of a kernel row, or false with `why`: GEMM / matmul rows ("b1 M4096 N4096 K4096") and
// attention rows ("B4 H32 KV8 S4096 D128 causal" prefill, "B64 H32 KV8 Q1 S4096 D128" decode).
bool kernel_op_for(const ValidationRow& row, OpSpec& op, std::string& why) {
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
    // torch._scaled_mm's use_fast_accum (False unless the workload names it, PyTorch's default).
    op.fast_accum = row.workload.find("use_fast_accum=True") != std::string::npos;
    return true;
  }
  if (row.workload.find("attention") != std::string::npos && shape.count("B") && shape.count("H") && shape.count("S") &&
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
    return true;
  }
  return why = "workload '" + row.workload + "' is not mapped to an op (validate maps GEMM, matmul and attention kernel rows)", false;
}

// Where a row's benchmark protocol times the kernel, as the number of back-to-back runs of it from the start
// of its warm-up to the middle of its median timing, read from the method the row's source states (our H100
// and H200 rows, scripts/measure/h100_kernels.py): "CUDA events, W warm-up[ + G graph warm-up replays], median
// of R back-to-back eager calls" or "... median of R CUDA-graph replays of N launches". Timings are sorted by
// clock (it only falls during a run), so the median is the middle one: W + (G + R/2) x N runs in. -1 when the
// source states no such protocol (the kernel is then taken as one burst from idle).
double protocol_runs(const std::string& source) {
  static const std::regex re(
      "CUDA events, ([0-9]+) warm-up(?: \\+ ([0-9]+) graph warm-up replays)?, median of ([0-9]+) "
      "(?:back-to-back eager calls|CUDA-graph replays of ([0-9]+) launches)");
  std::smatch m;
  if (!std::regex_search(source, m, re)) return -1;
  const double warm = std::stod(m[1]), replays = m[2].matched ? std::stod(m[2]) : 0, timed = std::stod(m[3]);
  const double per = m[4].matched ? std::stod(m[4]) : 1;
  return warm + (replays + timed / 2) * per;
}

// The kernel row's prediction, or false with `why`.
bool predict_kernel_row(const ValidationRow& row, const ChipModel& model, ValidationPoint& p, std::string& why) {
  OpSpec op;
  if (!kernel_op_for(row, op, why)) return false;
  // The kernel at the clock the power manager holds where the row's protocol timed it (after its warm-up,
  // from an idle chip); a row without a stated protocol is one burst from idle (the boost clock, held to the
  // electrical limit, unless it lasts tens of milliseconds).
  KernelStudyOptions ko;
  ko.after_runs = protocol_runs(row.source);
  KernelRun run = run_kernel_study(model, op, ko).run;
  const double host = row.source.find("host-timed") != std::string::npos ? kHostDispatchS : 0.0;
  double t = run.result.latency_s + host;
  double roof_t = host;
  for (const auto& k : run.result.kernels) roof_t += k.roofline_s;
  if (row.metric == "throughput" && row.unit == "TFLOP/s") {
    p.predicted = op.flops() / t / 1e12;
    p.roofline = op.flops() / roof_t / 1e12;
  } else if (row.metric == "latency" && (row.unit == "us" || row.unit == "ms")) {
    const double scale = row.unit == "us" ? 1e6 : 1e3;
    p.predicted = t * scale;
    p.roofline = roof_t * scale;
  } else if (row.metric == "kernel_time" && row.unit == "us") {
    // A profiler's kernel durations: the kernels' own time, without the launch gaps before them.
    double exec = 0;
    for (const auto& k : run.result.kernels) exec += k.exec_s;
    p.predicted = exec * 1e6;
    p.roofline = roof_t * 1e6;
  } else {
    return why = "metric '" + row.metric + "' in '" + row.unit + "' not predicted (throughput in TFLOP/s, latency in us or ms)", false;
  }
  p.note = run.result.kernels.empty() ? "" : run.result.kernels[0].strategy;
  if (host > 0) p.note += "; plus 0.1 ms host dispatch (host-timed row)";
  if (ko.after_runs >= 0) p.note += strformat("; timed after %.0f runs from idle at %.0f MHz", ko.after_runs, run.result.clock_hz / 1e6);
  return true;
}
}  // namespace

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
    if (row.level == "model") {
      if (!models) {
        skip(row, "model-level row: simulated only with --models");
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
    if (row.level != "kernel") {
      skip(row, "level '" + row.level + "': validate predicts kernel and model rows (a micro-benchmark such as an instruction "
                "chain or a launch is no op)");
      continue;
    }
    // A NeuronCore kernel (NKI) measured on one core runs on one core of the chip's preset.
    const bool one_core = row.hardware.find("(1 core)") != std::string::npos && (p.chip.rfind("trn", 0) == 0 || p.chip == "inf2");
    const std::string key = p.chip + (one_core ? "/1 core" : "");
    if (!chips.count(key)) chips[key] = one_core ? load_chip(p.chip, {"cores_used=1"}) : load_chip(p.chip);
    if (!predict_kernel_row(row, *chips[key], p, why)) {
      skip(row, why);
      continue;
    }
    p.error = (p.predicted - row.measured) / row.measured;
    out.push_back(p);
  }
  return out;
}

}  // namespace xpu
