#include "services/common/csv.h"

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace jalon {

std::string CsvField(std::string_view text) {
  std::string cell;
  if (!text.empty() &&
      std::string_view("=+-@\t\r").find(text[0]) != std::string_view::npos) {
    double number = 0;
    if (!absl::SimpleAtod(absl::string_view(text.data(), text.size()),
                          &number)) {
      cell.push_back('\'');
    }
  }
  cell.append(text);
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
