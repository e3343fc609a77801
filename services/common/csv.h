// One CSV cell (RFC 4180), safe to open in a spreadsheet. Thread-safe.
#ifndef JALON_SERVICES_COMMON_CSV_H_
#define JALON_SERVICES_COMMON_CSV_H_

#include <string>
#include <string_view>

namespace jalon {

// `text` as a CSV cell: quoted when it holds a comma, a semicolon, a quote
// or a line break. (A spreadsheet in French settings splits an opened .csv
// on semicolons, quotes aside: unquoted, "x;=1+1" would be two cells, the
// second a formula.) Text that a spreadsheet would run as a formula (it
// starts with '=', '+', '-', '@', a tab or a carriage return, and is not a
// number) gets a leading apostrophe, as OWASP advises against formula
// injection: a member's feedback title must not run in the ministry's
// spreadsheet.
// Numbers, negative ones included, are left as they are.
std::string CsvField(std::string_view text);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_CSV_H_
