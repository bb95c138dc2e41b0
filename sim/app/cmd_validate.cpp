// `xpusim validate`: argument parsing and the predicted-vs-measured table around the validation layer.
#include <boost/program_options.hpp>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sim/app/cli_parse.h"
#include "sim/app/commands.h"
#include "sim/base/error.h"
#include "sim/base/flags.h"
#include "sim/validation/validate.h"

namespace po = boost::program_options;

namespace xpu {

int cmd_validate(int argc, char** argv) {
  po::options_description o("validate");
  o.add_options()("data", po::value<std::vector<std::string>>()->composing(),
                  "measurement CSV (repeatable); default: workloads/validation/public_measurements.csv, "
                  "h100_measured.csv and h200_measured.csv")("filter", po::value<std::string>()->default_value(""),
                                                            "only rows whose id starts with, or workload contains, this")(
      "format", po::value<std::string>()->default_value("table"), "table or json")(
      "models", po::bool_switch(), "also model-level serving rows (each simulates a serving sweep: minutes)")(
      "help,h", "this help");
  po::variables_map vm;
  if (parse_or_help(argc, argv, o, vm,
                    "usage: xpusim validate [--data CSV ...] [--filter ID|TEXT] [--format table|json]\n"
                    "Simulates every measured row this build can model and prints predicted vs measured.\n\n"))
    return 0;
  check_flag_choice("--format", vm["format"].as<std::string>(), {"table", "json"});
  std::vector<std::string> files =
      vm.count("data") ? vm["data"].as<std::vector<std::string>>() : default_measurement_files();
  if (files.empty()) throw InputError("validate: no measurement file found; pass --data CSV");
  std::vector<ValidationPoint> pts;
  std::vector<ValidationSkip> skipped;
  for (const auto& f : files) {
    auto v = validate_rows(read_measurements(f), vm["filter"].as<std::string>(), vm["models"].as<bool>(), &skipped);
    pts.insert(pts.end(), v.begin(), v.end());
  }
  double sum_abs = 0;
  for (const auto& p : pts) sum_abs += std::fabs(p.error);
  double mae = pts.empty() ? 0 : sum_abs / pts.size();
  if (vm["format"].as<std::string>() == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : pts)
      j.push_back({{"id", p.row.id}, {"chip", p.chip}, {"workload", p.row.workload}, {"dtype", p.row.dtype},
                   {"shape", p.row.shape}, {"metric", p.row.metric}, {"unit", p.row.unit},
                   {"measured", p.row.measured}, {"predicted", p.predicted}, {"error", p.error},
                   {"roofline", p.roofline}, {"source", p.row.source}, {"note", p.note}});
    nlohmann::json sk = nlohmann::json::array();
    for (const auto& s : skipped)
      sk.push_back({{"id", s.row.id}, {"hardware", s.row.hardware}, {"workload", s.row.workload}, {"reason", s.reason}});
    std::cout << nlohmann::json({{"points", j}, {"mean_abs_error", mae}, {"not_predicted", sk}}).dump(2) << "\n";
    return 0;
  }
  std::cout << std::left << std::setw(10) << "id" << std::setw(10) << "chip" << std::setw(26) << "workload"
            << std::setw(16) << "dtype" << std::setw(24) << "shape" << std::right << std::setw(11) << "measured"
            << std::setw(11) << "predicted" << std::setw(9) << "error" << "  unit\n";
  for (const auto& p : pts) {
    std::cout << std::left << std::setw(10) << p.row.id << std::setw(10) << p.chip << std::setw(26)
              << p.row.workload.substr(0, 25) << std::setw(16) << p.row.dtype.substr(0, 15) << std::setw(24)
              << p.row.shape.substr(0, 23) << std::right << std::fixed << std::setprecision(p.row.measured < 10 ? 3 : 1)
              << std::setw(11) << p.row.measured << std::setw(11) << p.predicted << std::setprecision(1) << std::setw(8)
              << 100 * p.error << "%  " << p.row.unit << "\n";
  }
  if (!skipped.empty()) {
    std::cout << "not predicted (" << skipped.size() << " rows):\n";
    for (const auto& s : skipped) std::cout << "  " << std::left << std::setw(9) << s.row.id << s.reason << "\n";
  }
  std::cout << pts.size() << " points, mean absolute error " << std::setprecision(1) << 100 * mae << "%\n";
  return 0;
}

}  // namespace xpu
