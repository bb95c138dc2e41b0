// Strict CSV reading: RFC 4180 records and whole-field numbers, each error naming file, line, column and value.
#include "sim/base/csv.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "sim/base/error.h"
#include "sim/base/text.h"

namespace xpu {

namespace {
InputError csv_error(const std::string& file, int line, const std::string& problem) {
  return InputError::in_file(file + ":" + std::to_string(line) + ": " + problem, file, "");
}
}  // namespace

std::vector<CsvRecord> csv_records(const std::string& text, const std::string& file, char comment) {
  std::vector<CsvRecord> out;
  size_t i = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  int line = 1;
  while (i < text.size()) {
    if (comment != '\0' && text[i] == comment) {
      i = std::min(text.find('\n', i), text.size()) + 1;
      ++line;
      continue;
    }
    CsvRecord r;
    r.line = line;
    std::string field;
    bool quoted = false, was_quoted = false, blank = true;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (quoted) {
        if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
          field += '"', ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          if (c == '\n') ++line;
          field += c;
        }
        continue;
      }
      if (c == '\n' || (c == '\r' && (i + 1 == text.size() || text[i + 1] == '\n'))) break;
      if (c == ',') {
        r.fields.push_back(field);
        field.clear();
        was_quoted = false;
        blank = false;
      } else if (c == '"') {
        if (!field.empty() || was_quoted)
          throw csv_error(file, line, "'" + field + "\"': a quote inside an unquoted field (expected the whole field quoted, \"\" for a quote)");
        quoted = was_quoted = true;
        blank = false;
      } else if (was_quoted) {
        throw csv_error(file, line, "'\"" + field + "\"" + std::string(1, c) + "': text after a closing quote (expected a comma or the line's end)");
      } else {
        field += c;
        if (c != ' ' && c != '\t' && c != '\r') blank = false;
      }
    }
    if (quoted) throw csv_error(file, r.line, "a quoted field is not closed before the end of the file");
    // The line end: LF or CRLF.
    if (i < text.size()) i += text[i] == '\r' ? 2 : 1;
    ++line;
    if (blank) continue;
    r.fields.push_back(field);
    out.push_back(std::move(r));
  }
  return out;
}

bool parse_csv_number(const std::string& text, CsvNumber kind, double& out) {
  const std::string s = trim_blanks(text);
  // Decimal digits, a point, an exponent and signs only: strtod would read "nan", "inf" and "0x1p3" too.
  if (s.empty() || s.find_first_not_of("0123456789.eE+-") != std::string::npos) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  switch (kind) {
    case CsvNumber::kPositive:
      if (!(v > 0)) return false;
      break;
    case CsvNumber::kNonNegative:
      if (!(v >= 0)) return false;
      break;
    case CsvNumber::kPositiveInteger:
      if (v < 1 || v != std::floor(v) || v > 1e15) return false;
      break;
  }
  out = v == 0 ? 0.0 : v;  // "-0" is 0
  return true;
}

CsvTable::CsvTable(const std::string& text, std::string file) : m_file(std::move(file)) {
  std::vector<CsvRecord> records = csv_records(text, m_file);
  if (records.empty()) return;
  m_header = std::move(records.front().fields);
  m_header_line = records.front().line;
  for (size_t i = 1; i < records.size(); ++i) {
    if (records[i].fields.size() != m_header.size())
      throw csv_error(m_file, records[i].line, "expected " + std::to_string(m_header.size()) + " fields (the header's " +
                                                   join(m_header, ",") + "), got " + std::to_string(records[i].fields.size()));
    m_rows.push_back(std::move(records[i]));
  }
}

bool CsvTable::has(const std::string& column) const {
  return std::find(m_header.begin(), m_header.end(), column) != m_header.end();
}

void CsvTable::require(const std::vector<std::string>& columns) const {
  for (const auto& c : columns)
    if (!has(c))
      throw InputError::in_file(m_file + ": " + c + ": missing column (the header names " +
                                    (m_header.empty() ? std::string("none") : join(m_header, ",")) + ")",
                                m_file, c);
}

size_t CsvTable::index(const std::string& column) const {
  const auto it = std::find(m_header.begin(), m_header.end(), column);
  if (it == m_header.end()) require({column});  // throws: the header lacks it
  return static_cast<size_t>(it - m_header.begin());
}

const std::string& CsvTable::text(size_t i, const std::string& column) const { return m_rows[i].fields[index(column)]; }

double CsvTable::number(size_t i, const std::string& column, CsvNumber kind, bool may_be_empty, double empty_value) const {
  const std::string& s = text(i, column);
  if (may_be_empty && trim_blanks(s).empty()) return empty_value;
  double v = 0;
  if (parse_csv_number(s, kind, v)) return v;
  const char* expected = kind == CsvNumber::kPositive      ? "a positive number"
                         : kind == CsvNumber::kNonNegative ? "a non-negative number"
                                                           : "a positive integer (at most 1e15)";
  throw InputError(m_file + ":" + std::to_string(line(i)) + ": " + column + ": '" + s + "': expected " + expected +
                       (may_be_empty ? " or an empty field" : ""),
                   "", s)
      .with_key(m_file, column);
}

}  // namespace xpu
