// The compare study's files and table: summary.json, summary.csv, configs/<chip>.yaml and report.html
// (rendered by scripts/compare_report.py, started from an argument vector, never a shell).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "sim/serve/compare.h"

namespace xpu {

nlohmann::json compare_summary_json(const CompareStudy& s);
// Writes configs/, summary.json and summary.csv into `dir` (each file atomically).
void write_compare_dir(const std::string& dir, const CompareStudy& s);
// The table a procurement analyst reads (a missing figure prints as "-", never as a number).
std::string compare_table(const CompareStudy& s);
// Renders report.html into `dir`; returns the writer's exit status (0 on success).
int render_compare_report(const std::string& dir);
// Writes the study into `dir`, prints its table (`json`: its summary.json on one line of stdout, the
// folder on stderr; a study of several models prints one line each), renders the report unless `report`
// is false and says which chips did not run: 0 when every chip ran and the report was written, else 1.
int finish_compare(const std::string& dir, const CompareStudy& study, bool report, bool json = false);

}  // namespace xpu
