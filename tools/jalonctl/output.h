// Printing results: -o table (aligned, fits 100 columns, long cells cut with
// "…"), csv (RFC 4180), json (protobuf JSON mapping) and yaml (the same
// content as YAML). Not thread-safe.
#ifndef JALON_TOOLS_JALONCTL_OUTPUT_H_
#define JALON_TOOLS_JALONCTL_OUTPUT_H_

#include <google/protobuf/message.h>

#include <ostream>
#include <string>
#include <vector>

namespace jalon::ctl {

enum class Format { kTable, kJson, kYaml, kCsv };

// Parses "table", "json", "yaml", "csv"; throws CliError (usage).
Format ParseFormat(const std::string& text);

// A column of a table: its header and the field path it shows.
struct Column {
  std::string header;
  std::string path;
};

// `columns` of a message that is the field `field` of the one printed,
// followed by `more` columns of that one (e.g. a resource and its secret).
std::vector<Column> Nested(const std::string& field,
                           const std::vector<Column>& columns,
                           const std::vector<Column>& more);

// `s` fit for one line of a terminal: line breaks and tabs become spaces,
// other control characters (which a terminal would obey) '?'.
std::string OneLine(std::string s);

// Lays out rows of cells as an aligned table no wider than `max_width`
// display columns.
std::string RenderTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows,
                        size_t max_width = 100);
// RFC 4180: CRLF line ends, fields quoted when they hold , " CR or LF, and
// text a spreadsheet would run as a formula neutralised (CsvField).
std::string RenderCsv(const std::vector<std::string>& headers,
                      const std::vector<std::vector<std::string>>& rows);

class Printer {
 public:
  Printer(Format format, std::ostream& out) : format_(format), out_(out) {}
  Format format() const { return format_; }

  // A list of messages: a table or CSV of `columns`, a JSON array, a YAML
  // sequence.
  void List(const std::vector<const google::protobuf::Message*>& items,
            const std::vector<Column>& columns);
  // One message: a one-row table, or the whole message in JSON or YAML.
  void One(const google::protobuf::Message& item,
           const std::vector<Column>& columns);

  template <typename M>
  void ListOf(const std::vector<M>& items, const std::vector<Column>& columns) {
    std::vector<const google::protobuf::Message*> ptrs;
    for (const auto& m : items) ptrs.push_back(&m);
    List(ptrs, columns);
  }

 private:
  Format format_;
  std::ostream& out_;
};

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_OUTPUT_H_
