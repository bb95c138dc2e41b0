// Request lengths and arrival times, deterministic for a seed.
#include "sim/serve/requests.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "sim/base/csv.h"
#include "sim/base/error.h"
#include "sim/base/limits.h"
#include "sim/base/strformat.h"
#include "sim/base/text.h"

namespace xpu {

namespace {
double number(const std::string& flag, const std::string& text, const std::string& part) {
  try {
    size_t used = 0;
    double v = std::stod(part, &used);
    if (used == part.size() && std::isfinite(v) && v > 0) return v;
  } catch (const std::exception&) {
  }
  throw InputError(flag + " '" + text + "': '" + part + "' is not a positive number (expected N, uniform:LO:HI, normal:MEAN:SD or exp:MEAN)", flag, text);
}

std::int64_t draw(const LengthDist& d, std::mt19937_64& rng) {
  switch (d.kind) {
    case LengthDist::Kind::Fixed: return static_cast<std::int64_t>(d.a);
    case LengthDist::Kind::Uniform:
      return std::uniform_int_distribution<std::int64_t>(static_cast<std::int64_t>(d.a), static_cast<std::int64_t>(d.b))(rng);
    case LengthDist::Kind::Normal:
      return std::clamp<std::int64_t>(std::llround(std::normal_distribution<double>(d.a, d.b)(rng)), 1, d.max_value());
    case LengthDist::Kind::Exponential:
      return std::clamp<std::int64_t>(std::llround(std::exponential_distribution<double>(1.0 / d.a)(rng)), 1, d.max_value());
  }
  return 1;
}
}  // namespace

LengthRows read_lengths_csv(const std::string& path) {
  // A folder, FIFO or device is refused before it is opened; so is a file over 64 MiB. Records are read as every
  // CSV file is (sim/base/csv.h): a spreadsheet's byte-order mark and quoted fields ("input","output") had been
  // refused as a misspelt header.
  std::vector<std::pair<std::int64_t, std::int64_t>> rows;
  bool header = false;
  for (const CsvRecord& r : csv_records(read_input_file(path, "--lengths-csv"), path, '#')) {
    const std::string line = join(r.fields, ",");
    const std::string at = path + ":" + std::to_string(r.line);
    if (r.fields.size() > 2 && !(r.fields.size() == 3 && trim_blanks(r.fields[2]).empty()))
      throw InputError::in_file(at + ": expected two columns input,output, got '" + line + "'", path, "");
    const std::string a = r.fields[0], b = r.fields.size() > 1 ? r.fields[1] : std::string();
    auto parse = [&](const std::string& text, std::int64_t& out) {
      const std::string v = trim_blanks(text);
      size_t used = 0;
      try {
        out = std::stoll(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      return used == v.size() && !v.empty();
    };
    std::int64_t i = 0, o = 0;
    if (!parse(a, i) || !parse(b, o)) {
      if (!header && rows.empty()) {  // a header: the first line that is not a comment
        // It must name the columns in their order: "output,input" (or a misspelt name) was read as input,output.
        auto lower_trim = [](const std::string& v) {
          std::string t = trim_blanks(v);
          for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          return t;
        };
        if (lower_trim(a) != "input" || lower_trim(b) != "output")
          throw InputError::in_file(at + ": header '" + line + "': expected input,output (the columns in that order; the header may be left out)", path, "");
        header = true;
        continue;
      }
      throw InputError::in_file(at + ": expected two integers input,output, got '" + line + "'", path, "");
    }
    if (i <= 0 || o <= 0) throw InputError::in_file(at + ": lengths must be positive, got '" + line + "'", path, "");
    rows.push_back({i, o});
  }
  if (rows.empty()) throw InputError::in_file(path + ": no input,output rows", path, "");
  return rows;
}

std::pair<double, double> mean_lengths(const LengthRows& rows) {
  double input = 0, output = 0;
  for (const auto& [in, out] : rows) {
    input += static_cast<double>(in);
    output += static_cast<double>(out);
  }
  const double n = rows.empty() ? 1.0 : static_cast<double>(rows.size());
  return {input / n, output / n};
}

LengthRows with_output_mean(const LengthRows& rows, double mean, std::int64_t cap) {
  const double now = mean_lengths(rows).second;
  if (rows.empty() || !(mean > 0) || !(now > 0) || cap < 1)
    throw InputError(strformat("output lengths scaled to a mean of %g tokens (at most %lld): expected rows with a positive "
                               "mean output and a positive target", mean, static_cast<long long>(cap)),
                     "", strformat("%g", mean))
        .with_key("", "output");  // a measurement row's dataset (sim/validation/model_rows.cpp), not a flag's
  LengthRows out;
  out.reserve(rows.size());
  for (const auto& [in, o] : rows)
    out.push_back({in, std::clamp<std::int64_t>(std::llround(static_cast<double>(o) * mean / now), 1, cap)});
  return out;
}

LengthDist LengthDist::parse(const std::string& flag, const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
  LengthDist d;
  if (parts.size() == 1) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
      throw InputError(flag + " '" + text + "': expected a whole number of tokens, or uniform:LO:HI, normal:MEAN:SD, exp:MEAN", flag, text);
    d.a = number(flag, text, parts[0]);
    if (d.a != std::floor(d.a)) throw InputError(flag + " '" + text + "': a fixed length must be a whole number of tokens", flag, text);
    return d;
  }
  const std::string& k = parts[0];
  if (k == "uniform" && parts.size() == 3) {
    d.kind = Kind::Uniform;
    d.a = std::floor(number(flag, text, parts[1]));
    d.b = std::floor(number(flag, text, parts[2]));
    if (d.b < d.a) throw InputError(flag + " '" + text + "': uniform:LO:HI needs LO <= HI", flag, text);
  } else if (k == "normal" && parts.size() == 3) {
    d.kind = Kind::Normal;
    d.a = number(flag, text, parts[1]);
    d.b = number(flag, text, parts[2]);
  } else if (k == "exp" && parts.size() == 2) {
    d.kind = Kind::Exponential;
    d.a = number(flag, text, parts[1]);
  } else {
    throw InputError(flag + " '" + text + "': expected N, uniform:LO:HI, normal:MEAN:SD or exp:MEAN", flag, text);
  }
  return d;
}

std::int64_t LengthDist::max_value() const {
  switch (kind) {
    case Kind::Fixed: return static_cast<std::int64_t>(a);
    case Kind::Uniform: return static_cast<std::int64_t>(b);
    case Kind::Normal: return static_cast<std::int64_t>(std::ceil(a + 4 * b));  // drawn values are capped at 4 sigma
    case Kind::Exponential: return static_cast<std::int64_t>(std::ceil(8 * a));  // and at 8 means
  }
  return 1;
}

std::string LengthDist::str() const {
  auto n = [](double v) { return std::to_string(static_cast<std::int64_t>(std::llround(v))); };
  switch (kind) {
    case Kind::Fixed: return n(a);
    case Kind::Uniform: return "uniform:" + n(a) + ":" + n(b);
    case Kind::Normal: return "normal:" + n(a) + ":" + n(b);
    case Kind::Exponential: return "exp:" + n(a);
  }
  return "";
}

OfferedLoad offered_load(const std::vector<RequestDraw>& draws) {
  OfferedLoad o;
  double input = 0, output = 0;
  for (const RequestDraw& r : draws) o.window_s = std::max(o.window_s, r.arrival_s), input += static_cast<double>(r.input),
                                     output += static_cast<double>(r.output);
  if (!(o.window_s > 0)) return {};
  o.requests = static_cast<std::int64_t>(draws.size());
  o.requests_per_s = static_cast<double>(o.requests) / o.window_s;
  o.input_tok_s = input / o.window_s;
  o.output_tok_s = output / o.window_s;
  return o;
}

std::vector<RequestDraw> draw_requests(const RequestSpec& spec, std::int64_t count, const ModelConfig& model) {
  if (spec.rate < 0 || !std::isfinite(spec.rate)) throw InputError("--rate: expected a positive number of requests per second", "--rate", "");
  if (count <= 0) throw InputError("--requests: expected a positive number, got " + std::to_string(count), "--requests", "");
  std::mt19937_64 rng(spec.seed);
  static const LengthRows none;
  const LengthRows& csv = spec.lengths_rows ? *spec.lengths_rows : none;
  if (!csv.empty()) {
    for (size_t i = 0; i < csv.size(); ++i)
      if (csv[i].first + csv[i].second > model.max_position)
        throw InputError::in_file(spec.lengths_csv + ": row " + std::to_string(i + 1) + ": " + std::to_string(csv[i].first) + " + " +
                         std::to_string(csv[i].second) + " tokens exceed " + model.name + "'s context of " +
                         std::to_string(model.max_position), spec.lengths_csv, "");
  } else if (spec.input.max_value() + spec.output.max_value() > model.max_position) {
    throw InputError("--input " + spec.input.str() + " / --output " + spec.output.str() + ": up to " +
                     std::to_string(spec.input.max_value() + spec.output.max_value()) + " tokens exceed " + model.name +
                     "'s context of " + std::to_string(model.max_position), "--input", spec.input.str());
  }
  std::vector<RequestDraw> out;
  double t = 0;
  std::exponential_distribution<double> gap(spec.rate > 0 ? spec.rate : 1.0);
  for (std::int64_t i = 0; i < count; ++i) {
    RequestDraw r;
    if (!csv.empty()) {
      r.input = csv[static_cast<size_t>(i) % csv.size()].first;
      r.output = csv[static_cast<size_t>(i) % csv.size()].second;
    } else {
      r.input = draw(spec.input, rng);
      r.output = draw(spec.output, rng);
    }
    if (spec.rate > 0) {
      t += gap(rng);
      r.arrival_s = t;
    }
    out.push_back(r);
  }
  return out;
}

}  // namespace xpu
