// Unit tests of jalonctl's text handling: tables, CSV, YAML/JSON, enums,
// and the import file's validation messages.
#include "tools/jalonctl/output.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "tools/jalonctl/errors.h"
#include "tools/jalonctl/fields.h"
#include "tools/jalonctl/import_file.h"

namespace jalon::ctl {
namespace {

namespace rpb = ::jalon::roadmap::v1;

TEST(RenderCsv, QuotesOnlyWhatRfc4180Requires) {
  EXPECT_EQ(
      RenderCsv({"A", "B"},
                {{"plain", "with,comma"}, {"say \"hi\"", "two\nlines"}}),
      "A,B\r\nplain,\"with,comma\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
}

TEST(RenderCsv, AFormulaInUserTextDoesNotRunInASpreadsheet) {
  EXPECT_EQ(RenderCsv({"TITLE", "VALUE"}, {{"=1+1", "-12"}}),
            "TITLE,VALUE\r\n'=1+1,-12\r\n");
}

TEST(RenderTable, ControlCharactersInUserTextDoNotReachTheTerminal) {
  // ESC would start a terminal escape sequence (colours, title, cursor);
  // U+009B is its one-byte C1 form.
  std::string table = RenderTable({"ID", "TITLE"},
                                  {{"1",
                                    "a\x1b]0;pwned\x07"
                                    "b\xc2\x9b"
                                    "2Jc\td"}},
                                  100);
  EXPECT_FALSE(absl::StrContains(table, "\x1b")) << table;
  EXPECT_FALSE(absl::StrContains(table, "\x07")) << table;
  EXPECT_FALSE(absl::StrContains(table, "\xc2\x9b")) << table;
  EXPECT_TRUE(absl::StrContains(table, "a?]0;pwned?b?2Jc d")) << table;
  EXPECT_EQ(OneLine("Métaux é"), "Métaux é");  // other UTF-8 intact
}

TEST(JsonToYaml, TextAnotherYamlReaderWouldRetypeIsQuoted) {
  const std::string yaml = JsonToYaml(
      R"({"phone":"+212522123456","fax":"0522123456","answer":"No",)"
      R"("day":"2026-01-01","at":"12:30","empty":"",)"
      R"("id":"01M8E84DS7E15ZK8MHF5MH3W22","name":"Métaux","count":3})");
  for (const char* quoted :
       {"phone: \"+212522123456\"", "fax: \"0522123456\"", "answer: \"No\"",
        "day: \"2026-01-01\"", "at: \"12:30\"", "empty: \"\""}) {
    EXPECT_TRUE(absl::StrContains(yaml, quoted)) << quoted << "\n" << yaml;
  }
  // Text no reader mistakes stays plain, and numbers stay numbers.
  EXPECT_TRUE(absl::StrContains(yaml, "id: 01M8E84DS7E15ZK8MHF5MH3W22\n"))
      << yaml;
  EXPECT_TRUE(absl::StrContains(yaml, "name: Métaux\n")) << yaml;
  EXPECT_TRUE(absl::StrContains(yaml, "count: 3\n")) << yaml;
}

TEST(RenderTable, AlignsAndCutsLongCellsWithAnEllipsis) {
  std::string table = RenderTable(
      {"ID", "NAME"}, {{"1", std::string(200, 'x')}, {"22", "Métaux"}}, 40);
  EXPECT_EQ(table.substr(0, table.find('\n')), "ID  NAME");
  EXPECT_TRUE(absl::StrContains(table, "22  Métaux\n")) << table;
  EXPECT_TRUE(absl::StrContains(table, "1   " + std::string(35, 'x') + "…\n"))
      << table;
}

TEST(Enums, ShortNamesAnyCaseAndDashes) {
  auto* d = rpb::ActionStatus_descriptor();
  EXPECT_EQ(ParseEnum(d, "in-progress", "--status"),
            rpb::ACTION_STATUS_IN_PROGRESS);
  EXPECT_EQ(ParseEnum(d, "ACTION_STATUS_DONE", "--status"),
            rpb::ACTION_STATUS_DONE);
  EXPECT_EQ(ShortEnumName(d->FindValueByNumber(rpb::ACTION_STATUS_BLOCKED)),
            "BLOCKED");
  try {
    ParseEnum(d, "finished", "--status");
    ADD_FAILURE() << "no error";
  } catch (const CliError& e) {
    EXPECT_EQ(e.code(), kExitUsage);
    EXPECT_TRUE(absl::StrContains(e.what(), "PROPOSED, PLANNED")) << e.what();
  }
  EXPECT_THROW(ParseEnum(d, "unspecified", "--status"), CliError);
}

TEST(Fields, SetFromTextAndReadBack) {
  rpb::Action a;
  SetFieldFromText(&a, "due_date", "2020-12-31");
  SetFieldFromText(&a, "tags", "a, b");
  SetFieldFromText(&a, "priority", "high");
  SetFieldFromText(&a, "progress_override", "40");
  EXPECT_EQ(FieldText(a, "due_date"), "2020-12-31");
  EXPECT_EQ(FieldText(a, "tags"), "a,b");
  EXPECT_EQ(FieldText(a, "priority"), "HIGH");
  EXPECT_EQ(FieldText(a, "progress_override"), "40");
  EXPECT_EQ(FieldText(a, "start_date"), "");
  EXPECT_THROW(SetFieldFromText(&a, "due_date", "2020-02-30"), CliError);
}

TEST(Yaml, ToJsonKeepsQuotedNumbersAsStrings) {
  YAML::Node n = YAML::Load("a: 1\nb: \"1\"\nc: [x, true]\nd: 0123\n");
  EXPECT_EQ(YamlToJson(n),
            "{\"a\":1,\"b\":\"1\",\"c\":[\"x\",true],\"d\":\"0123\"}");
  EXPECT_EQ(JsonToYaml("{\"etag\":\"1\",\"n\":2}"), "etag: \"1\"\nn: 2\n");
}

// A -f file whose keys are not plain names: exit 6 naming the file, never
// an uncaught exception.
TEST(Fields, AFileWithAKeyThatIsAListIsInvalidInput) {
  const std::string path = ::testing::TempDir() + "/jalonctl-bad-key.yaml";
  for (const std::string& text :
       {std::string("{[a]: 1}"), std::string("title: x\n? [a]\n: 1\n")}) {
    { std::ofstream(path) << text; }
    rpb::Action action;
    try {
      ReadMessageFile(path, &action);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const CliError& e) {
      EXPECT_EQ(e.code(), kExitInvalid) << text;
      EXPECT_TRUE(absl::StrContains(e.what(), path)) << e.what();
    }
  }
  std::remove(path.c_str());
}

// Protobuf's JSON escapes some characters beyond U+FFFF as surrogate pairs
// (the tag characters of flag emoji), and so does Python's json.dump for
// any: yaml-cpp refuses those, so they are joined first.
TEST(JsonToYaml, SurrogatePairEscapesBecomeTheCharacter) {
  // U+1F600 and U+E0067 (TAG LATIN SMALL LETTER G).
  EXPECT_EQ(JoinSurrogateEscapes(R"({"t": "a\ud83d\ude00b\uDB40\uDC67"})"),
            "{\"t\": \"a\xF0\x9F\x98\x80"
            "b\xF3\xA0\x81\xA7\"}");
  // Other escapes, and a backslash before "u" that is itself escaped, stay.
  EXPECT_EQ(JoinSurrogateEscapes(R"({"t": "\\ud83d\ude00 \n \u00e9"})"),
            R"({"t": "\\ud83d\ude00 \n \u00e9"})");
  std::string yaml;
  ASSERT_NO_THROW(
      yaml = JsonToYaml(R"({"title": "Drapeau \ud83c\udff4\udb40\udc67"})"));
  EXPECT_TRUE(absl::StrContains(yaml, "Drapeau \xF0\x9F\x8F\xB4")) << yaml;
  // A -f file written by Python's json.dump.
  const std::string path = ::testing::TempDir() + "/jalonctl-emoji.json";
  { std::ofstream(path) << R"({"title": "Recyclage \ud83d\ude00"})"; }
  rpb::Action action;
  ReadMessageFile(path, &action);
  EXPECT_EQ(action.title(), "Recyclage \xF0\x9F\x98\x80");
  std::remove(path.c_str());
}

TEST(ImportFile, EveryProblemNamesLineAndField) {
  std::vector<std::string> errors;
  ParseImportFile("f.yaml",
                  "organizations:\n"
                  "  - {key: a, name: A, kind: federation}\n"
                  "  - {key: a, name: A, kind: planet}\n"
                  "roadmap: {key: r, title: R, start_date: 2016-05-02,\n"
                  "          horizon_date: 2020-12-31, copilots: [a]}\n"
                  "feedback:\n"
                  "  - key: f\n"
                  "    kind: blocker\n"
                  "    author: a\n"
                  "    title: T\n"
                  "    body: B\n",
                  &errors);
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  EXPECT_TRUE(
      absl::StrContains(all, "f.yaml:3: organizations[1].key: duplicate key"))
      << all;
  EXPECT_TRUE(
      absl::StrContains(all, "f.yaml:3: organizations[1].kind: \"planet\""))
      << all;
  EXPECT_TRUE(absl::StrContains(all, "roadmap.copilots: must name exactly two"))
      << all;
  EXPECT_TRUE(absl::StrContains(
      all, "f.yaml:3: organizations[1].name: another organisation"))
      << all;
  EXPECT_TRUE(
      absl::StrContains(all, "f.yaml:7: feedback[0].severity: is required"))
      << all;
}

}  // namespace
}  // namespace jalon::ctl
