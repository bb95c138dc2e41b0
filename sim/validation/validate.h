// `xpusim validate`: predictions against real-hardware measurements (CSV rows with exact conditions).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace xpu {

struct ValidationRow {
  std::string id, hardware, level, workload, dtype, shape, metric, unit, source;
  double measured = 0;
};

struct ValidationPoint {
  ValidationRow row;
  std::string chip;          // preset used
  double predicted = 0;      // in the row's unit
  double error = 0;          // (predicted - measured) / measured
  double roofline = 0;       // the best physically possible value in the row's unit
  std::string note;
  // Chip settings the row states its measurement ran with (row_chip_settings), applied to the row's preset as
  // `--set` applies them; empty for a row on the preset as it ships.
  std::vector<std::string> chip_settings;
};

// A row this build does not predict, with the reason (listed, never dropped silently).
struct ValidationSkip {
  ValidationRow row;
  std::string reason;
};

std::vector<ValidationRow> read_measurements(const std::string& csv_path);
// Predicts every row this build can simulate; the others go to `skipped` with their reason. `filter`
// selects ids by prefix (or workloads containing it). Model-level serving rows (minutes of simulation
// each) are included only with `models`.
std::vector<ValidationPoint> validate_rows(const std::vector<ValidationRow>& rows, const std::string& filter = "",
                                          bool models = false, std::vector<ValidationSkip>* skipped = nullptr);
// One model-level row: serving throughput (one chip or a TP group on a system) or a request's
// latencies on a system; false with `why` when the row cannot be expressed.
// A row's shape or configuration as its named numbers: "b1 M4096 N4096 K4096", "TP8 ISL1000 OSL1000"
// -> {b: 1, M: 4096, ...}; digit strings too long for a dimension become 2^40 (refused by the op's checks).
std::map<std::string, std::int64_t> parse_shape(const std::string& s);
// The chip settings a kernel row states its measurement ran with: a clause after its shape in `shape_or_config`,
// "M4096 N4096 K4096; set vmem.scoped_limit=64MiB" (a run with --xla_tpu_scoped_vmem_limit_kib=65536), several
// as "; set KEY=VALUE, KEY=VALUE". Returns the KEY=VALUE assignments (as `--set` takes them) and puts the shape
// without the clause in `shape`; none, and the shape unchanged, without a clause. A `set` anywhere else, or a
// clause not of that form (an item without '=', a space in a value, an empty clause) is an InputError naming the
// row; an unknown key or a bad value is refused by the preset's schema when validate loads the chip.
std::vector<std::string> row_chip_settings(const ValidationRow& row, std::string* shape = nullptr);
bool predict_model_row(const ValidationRow& row, ValidationPoint& p, std::string& why);
// Back-to-back runs from an idle chip to the middle of the median timing that a row's stated protocol
// ("CUDA events, W warm-up[ + G graph warm-up replays], median of R ...", or "profiler kernel time, W warm-up,
// mean of R back-to-back calls") implies; -1 when none is stated.
double protocol_runs(const std::string& source);
// A row's source that states its kernel was timed with the chip already held at its power limit (kSteadyStateMarker
// in its text, beside the reason: a benchmark sweeping many shapes back to back for longer than the limit's averaging
// window, or a clock the source saw fall under the limit): validate predicts it in steady state
// (KernelStudyOptions::sustained), not as a burst from idle.
inline constexpr const char* kSteadyStateMarker = "timed in steady state";
bool protocol_steady_state(const std::string& source);
std::vector<std::string> default_measurement_files();
// InputError when a --filter matched no row of `files` (`matched` rows predicted or skipped): it printed
// "0 points, mean absolute error 0%" and exit 0, a typo read as a pass.
void check_filter_matched(const std::string& filter, const std::vector<std::string>& files, size_t matched, bool models);
// `trtllm-bench` rows: the requests of the TensorRT-LLM perf-overview's dataset for an ISL/OSL pair (its
// num_requests table; an unlisted pair takes a listed one within 5% on both lengths), 0 when none.
std::int64_t trtllm_bench_requests(std::int64_t isl, std::int64_t osl);
// `trtllm-bench` rows: the (max_batch_size, max_num_tokens) the harness sizes for `model` on `tp` chips of `chip`
// at `dtype` ("fp8", "fp4", else bf16) and the dataset's lengths; `engine_build`: the TensorRT engine's build-time
// limits (`trtllm-bench build`), else the PyTorch backend's runtime ones (`trtllm-bench throughput`).
std::pair<std::int64_t, std::int64_t> trtllm_bench_batch_limits(const std::string& model, const std::string& chip, int tp,
                                                                const std::string& dtype, std::int64_t isl, std::int64_t osl,
                                                                bool engine_build);
// The chip preset of a row's hardware as measurement sources name it ("" when none models it).
std::string chip_for(const std::string& hardware);

// What public measurements check a chip family (gpu, tpu, trainium, maia), in one sentence: how many
// rows of each level the measurement files hold for its hardware, and whether `xpusim validate`
// predicts them (it maps only some hardware to presets); "unvalidated" when none exist.
std::string validation_coverage(const std::string& family);


}  // namespace xpu
