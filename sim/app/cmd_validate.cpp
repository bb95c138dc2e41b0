// `xpusim validate`: argument parsing and the predicted-vs-measured table around the validation layer.
#include <boost/program_options.hpp>

#include <iostream>

#include "sim/app/cli_parse.h"
#include "sim/app/commands.h"
#include "sim/base/error.h"
#include "sim/base/flags.h"
#include "sim/io/reports.h"
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
      "collectives", "systems of chips instead: workloads/validation/collectives.csv (validate --collectives --help)")(
      "help,h", "this help");
  po::variables_map vm;
  if (parse_or_help(argc, argv, o, vm,
                    "usage: xpusim validate [--models | --collectives] [--data CSV ...] [--filter ID|TEXT] [--format table|json]\n"
                    "Simulates every measured row this build can model and prints predicted vs measured.\n\n"))
    return 0;
  check_flag_choice("--format", vm["format"].as<std::string>(), {"table", "json"});
  std::vector<std::string> files =
      vm.count("data") ? vm["data"].as<std::vector<std::string>>() : default_measurement_files();
  if (files.empty()) throw InputError("validate: no measurement file found; pass --data CSV", "--data", "");
  std::vector<ValidationPoint> pts;
  std::vector<ValidationSkip> skipped;
  for (const auto& f : files) {
    auto v = validate_rows(read_measurements(f), vm["filter"].as<std::string>(), vm["models"].as<bool>(), &skipped);
    pts.insert(pts.end(), v.begin(), v.end());
  }
  check_filter_matched(vm["filter"].as<std::string>(), files, pts.size() + skipped.size(), vm["models"].as<bool>());
  if (vm["format"].as<std::string>() == "json") std::cout << validation_points_json(pts, skipped).dump(2) << "\n";
  else std::cout << validation_points_table(pts, skipped);
  return 0;
}

}  // namespace xpu
