// Report renderers (JSON and terminal tables) for the results of the run and serve layers.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "sim/run/kernel_run.h"
#include "sim/run/model_run.h"
#include "sim/run/power_control.h"
#include "sim/serve/serve.h"
#include "sim/system/collective_run.h"
#include "sim/validation/validate.h"

namespace xpu {

nlohmann::json power_json(const PowerResult& p);
// `xpusim kernel` / `xpusim.kernel(...)`: the run's JSON plus op, shape, power and the functional check.
nlohmann::json kernel_study_json(const KernelStudy& s, const OpSpec& op);
std::string kernel_study_table(const KernelStudy& s, const OpSpec& op);
nlohmann::json model_run_json(const ModelRunResult& r, const ChipModel* chip = nullptr);
std::string model_run_table(const ModelRunResult& r);
// `list chips`: each preset's name, family, TDP (marked where the preset assumes it) and description.
std::string chip_list_table();
nlohmann::json serve_json(const ServeResult& r);
// One entry of a sweep's `frontier` (its layout named when the point carries one).
nlohmann::json frontier_point_json(const ServePoint& p);
std::string serve_table(const ServeResult& r);
// `validate --collectives`: each modeled row, measured against predicted (of `rows` rows read).
// Modeled rows with their figures, then each row not modeled as {id, not_modeled: reason}.
nlohmann::json collective_points_json(const std::vector<CollectivePoint>& pts,
                                     const std::vector<CollectiveSkip>& skipped = {});
// `validate`: each predicted row against its measurement, the rows not predicted and why, the mean absolute error.
nlohmann::json validation_points_json(const std::vector<ValidationPoint>& pts, const std::vector<ValidationSkip>& skipped);
std::string validation_points_table(const std::vector<ValidationPoint>& pts, const std::vector<ValidationSkip>& skipped);
std::string collective_points_table(const std::vector<CollectivePoint>& pts, size_t rows,
                                    const std::vector<CollectiveSkip>& skipped = {});
// `xpusim list systems`: each system preset's name and description.
std::string systems_table();

}  // namespace xpu
