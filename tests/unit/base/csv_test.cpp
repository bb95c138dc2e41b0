// The strict CSV reader (sim/base/csv.h) that the measurement and collectives files are read with.
#include "sim/base/csv.h"

#include <gtest/gtest.h>

#include "sim/base/error.h"

namespace xpu {
namespace {

template <class F>
InputError error_of(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e;
  }
  return InputError("");
}

TEST(CsvRecords, SplitsQuotedFieldsWithCommasQuotesAndLineEnds) {
  const auto r = csv_records("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\nx,,\"two\nlines\"\n", "f.csv");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].line, 1);
  EXPECT_EQ(r[0].fields, (std::vector<std::string>{"a", "b,c", "say \"hi\""}));
  EXPECT_EQ(r[1].line, 3);  // the blank line 2 is skipped, not renumbered
  EXPECT_EQ(r[1].fields, (std::vector<std::string>{"x", "", "two\nlines"}));
}

TEST(CsvRecords, KeepsEmptyFieldsAndDropsAByteOrderMark) {
  const auto r = csv_records("\xEF\xBB\xBFid,v\n,\n", "f.csv");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].fields, (std::vector<std::string>{"id", "v"}));
  EXPECT_EQ(r[1].fields, (std::vector<std::string>{"", ""}));
  EXPECT_TRUE(csv_records("", "f.csv").empty());
  EXPECT_TRUE(csv_records("\n \n", "f.csv").empty());
  // Comment lines, where the caller has them, are skipped whole (a quote in one is not a field's).
  const auto c = csv_records("# from \"a\", b\nid\n", "f.csv", '#');
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].line, 2);
  EXPECT_EQ(c[0].fields, (std::vector<std::string>{"id"}));
}

TEST(CsvRecords, RefusesStrayQuotesNamingTheLine) {
  for (const char* text : {"a,b\nab\"c,d\n", "a,b\n\"ab\"c,d\n", "a,b\n\"open,d\n"}) {
    const InputError e = error_of([&] { csv_records(text, "m.csv"); });
    EXPECT_EQ(std::string(e.what()).rfind("m.csv:2: ", 0), 0u) << text << " -> " << e.what();
    EXPECT_EQ(e.file(), "m.csv");
  }
}

TEST(CsvNumber, TakesDecimalNumbersWholeAndRefusesTheRest) {
  double v = -1;
  EXPECT_TRUE(parse_csv_number("12.5", CsvNumber::kPositive, v));
  EXPECT_EQ(v, 12.5);
  EXPECT_TRUE(parse_csv_number(" 1e3 ", CsvNumber::kPositiveInteger, v));
  EXPECT_EQ(v, 1000);
  EXPECT_TRUE(parse_csv_number("0", CsvNumber::kNonNegative, v));
  EXPECT_EQ(v, 0);
  for (const char* bad : {"", " ", "nan", "NaN", "inf", "-inf", "infinity", "1e400", "0x10", "12abc", "1 2", "1,5", "-", "."})
    for (CsvNumber k : {CsvNumber::kPositive, CsvNumber::kNonNegative, CsvNumber::kPositiveInteger})
      EXPECT_FALSE(parse_csv_number(bad, k, v)) << "'" << bad << "'";
  EXPECT_FALSE(parse_csv_number("0", CsvNumber::kPositive, v));
  EXPECT_FALSE(parse_csv_number("-3.5", CsvNumber::kNonNegative, v));
  EXPECT_FALSE(parse_csv_number("2.5", CsvNumber::kPositiveInteger, v));
  EXPECT_FALSE(parse_csv_number("2e15", CsvNumber::kPositiveInteger, v));
}

TEST(CsvTable, NamesFileLineColumnAndValueOfABadNumber) {
  const CsvTable t("id,n,t\nx,8,\ny,8x,1\n", "data/c.csv");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.number(0, "n", CsvNumber::kPositiveInteger), 8);
  EXPECT_EQ(t.number(0, "t", CsvNumber::kNonNegative, true), 0);  // empty where the column may be
  const InputError empty = error_of([&] { t.number(0, "t", CsvNumber::kNonNegative); });
  EXPECT_EQ(std::string(empty.what()), "data/c.csv:2: t: '': expected a non-negative number");
  const InputError e = error_of([&] { t.number(1, "n", CsvNumber::kPositiveInteger); });
  EXPECT_EQ(std::string(e.what()), "data/c.csv:3: n: '8x': expected a positive integer (at most 1e15)");
  EXPECT_EQ(e.file(), "data/c.csv");
  EXPECT_EQ(e.key(), "n");
  EXPECT_EQ(e.value(), "8x");
}

TEST(CsvTable, RefusesMissingColumnsAndRowsOfAnotherWidth) {
  const CsvTable t("id,n\nx,1\n", "c.csv");
  const InputError missing = error_of([&] { t.require({"id", "bytes"}); });
  EXPECT_EQ(std::string(missing.what()), "c.csv: bytes: missing column (the header names id,n)");
  EXPECT_EQ(missing.key(), "bytes");
  for (const char* text : {"id,n\nx\n", "id,n\nx,1,extra\n"}) {
    const InputError e = error_of([&] { CsvTable(text, "c.csv"); });
    EXPECT_EQ(std::string(e.what()).rfind("c.csv:2: expected 2 fields", 0), 0u) << e.what();
  }
  const CsvTable none("", "c.csv");
  EXPECT_EQ(none.size(), 0u);
  EXPECT_NE(std::string(error_of([&] { none.require({"id"}); }).what()).find("the header names none"), std::string::npos);
}

}  // namespace
}  // namespace xpu
