// Deterministic exports of a reporting-service Report: JSON, CSV, Markdown
// and a self-contained HTML page with inline SVG charts, in French (the
// default) or English. Pure functions of the Report: no clock, no machine
// locale, no hash-map order, so the same report always gives the same bytes.
// Thread-safe.
//
// Files per format:
//   JSON      report-<id>.json  application/json
//             The protobuf JSON mapping of the whole Report (proto field
//             names, default values omitted, pretty-printed). Labels are not
//             translated: the language is ignored.
//   CSV       one file per table, "text/csv; charset=utf-8", in this order:
//             report.csv, indicators.csv, rollups.csv, actions_by_status.csv,
//             late_actions.csv, blocked_actions.csv, feedback_counts.csv,
//             top_blockers.csv, changes.csv.
//             RFC 4180 (CRLF, fields quoted when they hold a comma, quote, CR
//             or LF; quotes doubled), UTF-8 without BOM. Machine-readable in
//             both languages: English snake_case column names, numbers with a
//             '.' decimal point and no grouping (shortest form that reads
//             back exactly), dates YYYY-MM-DD, timestamps RFC 3339 UTC, enums
//             by their short name (IN_PROGRESS, GREEN, BLOCKER...), booleans
//             true/false, an unset optional value as an empty field, lists
//             joined by ';'. The language is ignored.
//             Rows about the whole roadmap (actions_by_status,
//             feedback_counts, top_blockers) have ecosystem_id "*";
//             indicators attached to no ecosystem have an empty ecosystem_id.
//             Late and blocked actions come from the roadmap-wide lists (each
//             row carries its action's ecosystem_id).
//   Markdown  report-<id>.md    text/markdown; charset=utf-8
//   HTML      report-<id>.html  text/html; charset=utf-8
//             One page, no external resource and no script; inline CSS; one
//             <svg class="chart trajectory" data-indicator-id="..."> per
//             indicator (ecosystem and roadmap-wide ones) and one
//             <svg class="chart status-bars" data-ecosystem-id="..."> per
//             ecosystem.
// In Markdown and HTML, numbers follow the language (FormatNumber and
// FormatAmount below) and dates are YYYY-MM-DD in both languages.
#ifndef JALON_SERVICES_REPORTING_EXPORT_H_
#define JALON_SERVICES_REPORTING_EXPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "jalon/reporting/v1/reporting.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"

namespace jalon::reporting {

using reporting::v1::Language;

// Renders `report` in `format` and `language` (UNSPECIFIED = French).
// Byte-for-byte deterministic. InvalidArgument when `format` is UNSPECIFIED
// or unknown.
absl::StatusOr<std::vector<reporting::v1::ExportedFile>> ExportReport(
    const reporting::v1::Report& report, reporting::v1::ExportFormat format,
    Language language);

// `value` rounded to `decimals` (0..9) places, for the language:
//   fr: "13 340" with U+202F (narrow no-break space) between groups of
//       three digits, decimal comma: "1,5";
//   en: "13,340", "1.5".
// Never "-0". Independent of the machine's locale.
std::string FormatNumber(double value, int decimals, Language lang);

// A value in its indicator unit (base units: MAD, not bn MAD), with an
// ordinary space between the number and the unit:
//   JOBS     "13 340 emplois" / "13,340 jobs" (rounded to a whole job);
//   MAD      >= 1e9 "11 Md MAD" / "11 bn MAD", >= 1e6 "1,7 M MAD" /
//            "1.7 M MAD" (at most one decimal, a trailing zero dropped),
//            below: "950 000 MAD" / "950,000 MAD";
//   PERCENT  "12,5 %" / "12.5%" (at most one decimal);
//   COUNT and UNSPECIFIED: the plain number (at most two decimals).
std::string FormatAmount(double value, roadmap::v1::IndicatorUnit unit,
                         Language lang);

// A ratio as a whole percentage: 0.953 -> "95 %" / "95%".
std::string FormatPercent(double ratio, Language lang);

// Escapes & < > " ' for text and attribute values of HTML and XML.
std::string HtmlEscape(std::string_view text);

}  // namespace jalon::reporting

#endif  // JALON_SERVICES_REPORTING_EXPORT_H_
