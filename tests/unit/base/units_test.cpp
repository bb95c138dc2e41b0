// Units: parsing and printing of the strong types.
#include <gtest/gtest.h>

#include "sim/base/error.h"
#include "sim/base/units.h"

using namespace xpu;

TEST(Units, ParsesDatasheetStrings) {
  EXPECT_DOUBLE_EQ(Hertz::parse("1.98 GHz").value(), 1.98e9);
  EXPECT_DOUBLE_EQ(Bandwidth::parse("3.35 TB/s").value(), 3.35e12);
  EXPECT_DOUBLE_EQ(Bytes::parse("80 GiB").value(), 80.0 * (1ull << 30));
  EXPECT_DOUBLE_EQ(Bytes::parse("228 KiB").value(), 228.0 * 1024);
  EXPECT_DOUBLE_EQ(Bytes::parse("50 MB").value(), 50e6);
  EXPECT_DOUBLE_EQ(Watts::parse("700 W").value(), 700.0);
  EXPECT_DOUBLE_EQ(Seconds::parse("30 ns").value(), 30e-9);
  EXPECT_DOUBLE_EQ(Seconds::parse("2 us").value(), 2e-6);
  EXPECT_DOUBLE_EQ(Seconds::parse("1.5 ms").value(), 1.5e-3);
  EXPECT_DOUBLE_EQ(Bandwidth::parse("400 Gbps").value(), 50e9);
  EXPECT_NEAR(Joules::parse("0.5 pJ").value(), 0.5e-12, 1e-24);
}

TEST(Units, RejectsBadInputWithTheExpectedForm) {
  EXPECT_THROW(Hertz::parse("1.98"), std::invalid_argument);          // missing unit
  EXPECT_THROW(Hertz::parse("1.98 GB/s"), std::invalid_argument);     // wrong unit
  EXPECT_THROW(Bytes::parse("lots"), std::invalid_argument);
  try {
    Bandwidth::parse("3.35 TB");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("TB/s"), std::string::npos);
  }
}

TEST(Units, PrintsBack) {
  EXPECT_EQ(Hertz::parse("1.98 GHz").str(), "1.98 GHz");
  EXPECT_EQ(Bandwidth::parse("3.35 TB/s").str(), "3.35 TB/s");
  EXPECT_EQ(Bytes::parse("228 KiB").str(), "228 KiB");
  EXPECT_EQ(Bytes::parse("80 GiB").str(), "80 GiB");
  EXPECT_EQ(Watts::parse("700 W").str(), "700 W");
  EXPECT_EQ(Seconds::parse("30 ns").str(), "30 ns");
  // Round trip through the printed form.
  for (const char* s : {"3.35 TB/s", "1.5 GB/s", "819 GB/s"})
    EXPECT_DOUBLE_EQ(Bandwidth::parse(Bandwidth::parse(s).str()).value(), Bandwidth::parse(s).value());
}

TEST(Units, TransferTicksNeverUnderestimates) {
  EXPECT_EQ(transfer_ticks(1000, 1e12), 1000);  // 1000 B at 1 TB/s = 1 ns
  EXPECT_EQ(transfer_ticks(1, 3e12), 1);        // rounds up
  EXPECT_EQ(transfer_ticks(0, 1e12), 0);
}
