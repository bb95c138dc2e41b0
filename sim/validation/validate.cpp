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

std::string chip_for(const std::string& hw) {
  // H800 SXM5 has the H100 SXM5's SMs, clocks, HBM3 and tensor peak (only NVLink differs).
  if (hw.find("H100") != std::string::npos || hw.find("H800") != std::string::npos) return "h100-sxm";
  if (hw.find("H200") != std::string::npos) return "h200";
  if (hw.find("B200") != std::string::npos) return "b200";
  if (hw.find("A100") != std::string::npos) return "a100-sxm";
  return "";
}

bool gemm_dtypes(const std::string& d, DType& in, DType& out) {
  if (d.rfind("bf16", 0) == 0) return in = DType::bf16, out = DType::bf16, true;
  if (d.rfind("fp16", 0) == 0) return in = DType::fp16, out = DType::fp16, true;
  if (d.find("tf32") != std::string::npos) return in = DType::tf32, out = DType::fp32, true;
  if (d.rfind("fp8", 0) == 0) return in = DType::fp8, out = DType::bf16, true;
  return false;
}
}  // namespace

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
  // sources, and our own H100 measurements); a missing file is an error, never a silently smaller set.
  std::vector<std::string> out;
  for (const char* f : {"public_measurements.csv", "h100_measured.csv"}) {
    fs::path p = fs::path(source_dir()) / "workloads" / "validation" / f;
    if (!fs::is_regular_file(p)) throw InputError(p.string() + ": validation data file missing (it ships with the repository)");
    out.push_back(p.string());
  }
  return out;
}

std::string validation_coverage(const std::string& family) {
  auto family_of = [](const std::string& hw) -> std::string {
    if (!chip_for(hw).empty()) return "gpu";
    for (const char* k : {"TPU", "tpu"})
      if (hw.find(k) != std::string::npos) return "tpu";
    for (const char* k : {"Trainium", "Inferentia", "trn", "inf2"})
      if (hw.find(k) != std::string::npos) return "trainium";
    if (hw.find("Maia") != std::string::npos) return "maia";
    return "";
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

std::vector<ValidationPoint> validate_rows(const std::vector<ValidationRow>& rows, const std::string& filter, bool models,
                                          std::vector<std::pair<std::string, std::string>>* skipped) {
  std::vector<ValidationPoint> out;
  std::map<std::string, std::unique_ptr<ChipModel>> chips;
  for (const auto& row : rows) {
    if (!filter.empty() && row.id.rfind(filter, 0) != 0 && row.workload.find(filter) == std::string::npos) continue;
    if (row.workload.find("single launch") != std::string::npos) continue;  // includes host launch cost
    if (row.level == "model") {
      ValidationPoint mp;
      mp.row = row;
      std::string why;
      if (!models) continue;
      if (predict_model_row(row, mp, why)) {
        mp.error = (mp.predicted - row.measured) / row.measured;
        out.push_back(mp);
      } else if (skipped) {
        skipped->push_back({row.id, why});
      }
      continue;
    }
    std::string chip = chip_for(row.hardware);
    if (chip.empty() || row.level != "kernel") continue;
    auto shape = parse_shape(row.shape);
    ValidationPoint p;
    p.row = row;
    p.chip = chip;
    if (!chips.count(chip)) chips[chip] = load_chip(chip);
    const ChipModel& model = *chips[chip];
    OpSpec op;
    if (row.workload.rfind("GEMM", 0) == 0) {
      DType in, outd;
      if (!gemm_dtypes(row.dtype, in, outd) || !shape.count("M") || !shape.count("N") || !shape.count("K")) continue;
      op.kind = OpKind::Gemm;
      op.label = "gemm";
      op.dtype = op.wdtype = in;
      op.odtype = outd;
      op.m = shape["M"], op.n = shape["N"], op.k = shape["K"];
      op.batch = shape.count("b") ? shape["b"] : 1;
    } else if (row.workload.find("attention") != std::string::npos && shape.count("B") && shape.count("H") &&
               shape.count("S") && shape.count("D")) {
      // "B4 H32 KV8 S4096 D128 causal" (prefill) or "B64 H32 KV8 Q1 S4096 D128" (decode).
      op.kind = OpKind::Attention;
      op.label = "attention";
      op.dtype = op.wdtype = op.odtype = DType::bf16;
      op.batch = shape["B"], op.heads = shape["H"], op.kv_heads = shape.count("KV") ? shape["KV"] : shape["H"];
      op.seq_kv = shape["S"], op.head_dim = op.head_dim_v = shape["D"];
      op.decode = shape.count("Q") != 0;
      op.seq_q = op.decode ? shape["Q"] : op.seq_kv;
      op.causal = op.decode || (row.shape.find("causal") != std::string::npos && row.shape.find("noncausal") == std::string::npos);
      if (op.decode && row.metric != "latency") continue;
    } else {
      continue;  // not a workload this build predicts
    }
    // A kernel benchmark is a burst: held to the chip's electrical peak limit, not yet to its TDP.
    KernelRun run = run_kernel_study(model, op).run;
    double t = run.result.latency_s;
    double roof_t = 0;
    for (const auto& k : run.result.kernels) roof_t += k.roofline_s;
    if (row.metric == "throughput" && row.unit == "TFLOP/s") {
      p.predicted = op.flops() / t / 1e12;
      p.roofline = op.flops() / roof_t / 1e12;
    } else if (row.metric == "latency" && row.unit == "us") {
      p.predicted = t * 1e6;
      p.roofline = roof_t * 1e6;
    } else if (row.metric == "kernel_time" && row.unit == "us") {
      // A profiler's kernel durations: the kernels' own time, without the launch gaps before them.
      double exec = 0;
      for (const auto& k : run.result.kernels) exec += k.exec_s;
      p.predicted = exec * 1e6;
      p.roofline = roof_t * 1e6;
    } else {
      continue;
    }
    p.error = (p.predicted - row.measured) / row.measured;
    p.note = run.result.kernels.empty() ? "" : run.result.kernels[0].strategy;
    out.push_back(p);
  }
  return out;
}



}  // namespace xpu
