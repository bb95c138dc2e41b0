// Where a server's requests come from: how many, when they arrive (closed loop of N users, open loop
// of Poisson arrivals, or all at once for offline throughput) and their input and output lengths
// (fixed, drawn from a distribution, or read from a CSV of lengths).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "workloads/model.h"

namespace xpu {

// A length: "1024" (fixed), "uniform:LO:HI" (integers, both ends included), "normal:MEAN:SD"
// (rounded, at least 1) or "exp:MEAN" (exponential, at least 1). `flag` names the option in errors.
struct LengthDist {
  enum class Kind : std::uint8_t { Fixed, Uniform, Normal, Exponential };
  Kind kind = Kind::Fixed;
  double a = 0, b = 0;
  static LengthDist parse(const std::string& flag, const std::string& text);
  static LengthDist fixed(std::int64_t n) { return {Kind::Fixed, static_cast<double>(n), 0}; }
  std::int64_t max_value() const;  // the largest length it can produce (InputError-free bound for checks)
  std::string str() const;
};

// --lengths-csv's (input, output) rows, read once where the flag is parsed and shared by every run.
using LengthRows = std::vector<std::pair<std::int64_t, std::int64_t>>;

struct RequestSpec {
  std::int64_t requests = 0;     // 0: the source's default
  std::uint64_t seed = 1;
  LengthDist input = LengthDist::fixed(1024), output = LengthDist::fixed(256);
  std::string lengths_csv;       // the CSV's path, naming it in errors
  std::shared_ptr<const LengthRows> lengths_rows;  // non-null: its rows, used in turn
  double rate = 0;               // requests/s of a Poisson open loop (0: not open loop)
};

struct RequestDraw {
  std::int64_t input = 0, output = 0;
  double arrival_s = 0;          // open loop: Poisson arrival time; otherwise 0 (the engine decides)
};

// The load an open loop's draws offer as simulated, not as nominal: a Poisson stream of few requests strays
// from its --rate (QA, session 42: a few requests at a nominal rate drew a higher one, and the throughput beat
// the nominal load). The rate is requests / the last arrival's time, the maximum-likelihood rate of a Poisson stream that
// starts at 0 (as draw_requests' does); the tokens are the drawn lengths over the same window. All 0 without
// arrival times (closed loop, offline).
struct OfferedLoad {
  std::int64_t requests = 0;
  double window_s = 0;                                   // the last arrival's time
  double requests_per_s = 0, input_tok_s = 0, output_tok_s = 0;
  OfferedLoad times(double k) const {                   // `k` replicas with the same draws, side by side
    return {static_cast<std::int64_t>(static_cast<double>(requests) * k + 0.5), window_s, k * requests_per_s, k * input_tok_s, k * output_tok_s};
  }
};
OfferedLoad offered_load(const std::vector<RequestDraw>& draws);

// `count` requests in arrival order. Lengths beyond the model's context (input + output >
// max_position) and a malformed CSV are InputErrors naming the flag or file, line and value.
// --lengths-csv: its (input, output) rows, with '#' comment lines and a header line (the first other line) allowed;
// InputError naming the file and line of a bad row.
LengthRows read_lengths_csv(const std::string& path);
// The rows' mean input and output lengths.
std::pair<double, double> mean_lengths(const LengthRows& rows);
// `rows` with each output scaled by one factor so that their mean is `mean`, then rounded and held to
// [1, cap] (a dataset's reference answers standing for what a model generates; the cap, its max_new_tokens,
// may leave the mean a little below). InputError for no rows or a mean that is not positive.
LengthRows with_output_mean(const LengthRows& rows, double mean, std::int64_t cap);
std::vector<RequestDraw> draw_requests(const RequestSpec& spec, std::int64_t count, const ModelConfig& model);

}  // namespace xpu
