#include "services/common/csv.h"

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace jalon {
namespace {

// Appends `piece`, which a spreadsheet may see as the start of a cell,
// with a leading apostrophe if it would run it as a formula.
void AppendNeutralised(std::string_view piece, std::string* cell) {
  if (!piece.empty() &&
      std::string_view("=+-@\t\r").find(piece[0]) != std::string_view::npos) {
    double number = 0;
    if (!absl::SimpleAtod(absl::string_view(piece.data(), piece.size()),
                          &number)) {
      cell->push_back('\'');
    }
  }
  cell->append(piece);
}

}  // namespace

std::string CsvField(std::string_view text) {
  // Every piece after a semicolon or a line break, not only the first: a
  // spreadsheet splitting on semicolons honours a quote only at the start
  // of its cell, so inside a quoted cell of the second column "x;=1+1" is
  // still split, and "=1+1" starts a cell; a line break starts a row.
  std::string cell;
  for (size_t start = 0;;) {
    const size_t at = text.find_first_of(";\r\n", start);
    AppendNeutralised(
        text.substr(start, at == std::string_view::npos ? std::string_view::npos
                                                        : at - start),
        &cell);
    if (at == std::string_view::npos) break;
    cell.push_back(text[at]);
    start = at + 1;
  }
  if (cell.find_first_of(",;\"\r\n") == std::string::npos) return cell;
  std::string quoted = "\"";
  for (const char c : cell) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

}  // namespace jalon
