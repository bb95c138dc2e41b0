// Strict reading of the CSV files users hand the tool (kernel measurements, collective measurements): RFC 4180
// records, numbers that are the whole field, and errors that name the file, the line, the column and the value.
#pragma once
#include <string>
#include <vector>

namespace xpu {

// One record of a CSV text: its fields and the line it starts on (1-based, as an editor counts).
struct CsvRecord {
  int line = 0;
  std::vector<std::string> fields;
};

// The records of `text` (RFC 4180): fields separated by commas; a field in double quotes may hold commas, line ends
// and "" for a quote; lines end in LF or CRLF. Blank lines are skipped and a UTF-8 byte-order mark (as spreadsheets
// write) is dropped. A quote inside an unquoted field, text after a closing quote or a quote left open is an
// InputError naming `file` and the line (they had been read as other fields or silently dropped). Where `comment` is
// given, a line that starts with it is skipped whole (a note above the data, which may quote freely).
std::vector<CsvRecord> csv_records(const std::string& text, const std::string& file, char comment = '\0');

// What a numeric column holds. Numbers are decimal ("12", "0.5", "1e-3"), the whole field but for surrounding blanks;
// "nan", "inf", hexadecimal and values beyond a double are refused.
enum class CsvNumber {
  kPositive,         // > 0
  kNonNegative,      // >= 0
  kPositiveInteger,  // 1 .. 1e15 (exact in a double)
};

// A CSV file whose first record names its columns. Every later record has as many fields as the header names.
class CsvTable {
 public:
  // `text` the file's contents, `file` its path as errors name it.
  CsvTable(const std::string& text, std::string file);

  const std::string& file() const { return m_file; }
  const std::vector<std::string>& header() const { return m_header; }
  // The header's line (0 when the text is empty).
  int header_line() const { return m_header_line; }
  bool has(const std::string& column) const;
  // Refuses a header without one of `columns` ("<file>: <column>: missing column").
  void require(const std::vector<std::string>& columns) const;
  size_t size() const { return m_rows.size(); }
  // The line that row `i` starts on (rows count from 0, after the header).
  int line(size_t i) const { return m_rows[i].line; }
  // Row `i`'s field of `column` (a column the header names; require() it first).
  const std::string& text(size_t i, const std::string& column) const;
  // Row `i`'s field of `column` as a number of `kind`; an empty field is `empty_value` where `may_be_empty` (a figure
  // the source does not give). Anything else is an InputError "<file>:<line>: <column>: '<value>': expected a
  // positive number" with the file, the column (its key) and the field (its value) as data.
  double number(size_t i, const std::string& column, CsvNumber kind, bool may_be_empty = false, double empty_value = 0) const;

 private:
  size_t index(const std::string& column) const;

  std::string m_file;
  std::vector<std::string> m_header;
  int m_header_line = 0;
  std::vector<CsvRecord> m_rows;
};

// `text` as a number of `kind` (the rule of CsvTable::number): false where it is not one.
bool parse_csv_number(const std::string& text, CsvNumber kind, double& out);

}  // namespace xpu
