// `xpusim validate`: predictions against real-hardware measurements (CSV rows with exact conditions).
#pragma once
#include <string>
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
std::vector<std::string> default_measurement_files();


}  // namespace xpu
