// One CSV cell (RFC 4180), safe to open in a spreadsheet. Thread-safe.
#ifndef JALON_SERVICES_COMMON_CSV_H_
#define JALON_SERVICES_COMMON_CSV_H_

#include <string>
#include <string_view>

namespace jalon {

// `text` as a CSV cell: quoted when it holds a comma, a semicolon, a quote
// or a line break. Text that a spreadsheet would run as a formula (it
// starts with '=', '+', '-', '@', a tab or a carriage return, and is not a
// number) gets a leading apostrophe, as OWASP advises against formula
// injection: a member's feedback title must not run in the ministry's
// spreadsheet. So does such text after a semicolon or a line break inside
// the cell: a spreadsheet in French settings splits an opened .csv on
// semicolons, and honours a quote only at the start of its own cell, so in
// a later column "x;=1+1" is two cells, the second a formula, quotes or
// not. Numbers, negative ones included, are left as they are.
std::string CsvField(std::string_view text);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_CSV_H_
