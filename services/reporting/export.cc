// Exports of a Report. Everything here is a function of the Report alone:
// numbers go through std::to_chars (locale-independent, exact), repeated
// fields are walked in their stored order, and no map is iterated.
#include "services/reporting/export.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/csv.h"
#include "services/common/dates.h"
#include "services/common/status.h"
#include "services/reporting/enum_name.h"

namespace jalon::reporting {
namespace {

namespace v1 = ::jalon::reporting::v1;
using roadmap::v1::ActionStatus;
using roadmap::v1::IndicatorUnit;

// U+202F NARROW NO-BREAK SPACE, the French digit-group separator.
constexpr char kNarrowNbsp[] = "\xE2\x80\xAF";
constexpr char kDash[] = "\xE2\x80\x94";  // em dash: "no value"

bool IsEnglish(Language lang) { return lang == v1::LANGUAGE_EN; }

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

// `value` in fixed notation with `decimals` places, or, when decimals < 0,
// the shortest fixed notation that reads back exactly. "-0..." becomes "0...".
std::string FixedDigits(double value, int decimals) {
  if (!std::isfinite(value)) {
    return std::isnan(value) ? "NaN" : value < 0 ? "-Infinity" : "Infinity";
  }
  char buf[512];  // enough for 1e308 in fixed notation plus decimals
  const auto result = decimals < 0
                          ? std::to_chars(buf, buf + sizeof buf, value,
                                          std::chars_format::fixed)
                          : std::to_chars(buf, buf + sizeof buf, value,
                                          std::chars_format::fixed, decimals);
  std::string out(buf, result.ptr);
  if (out[0] == '-' && out.find_first_not_of("-0.") == std::string::npos) {
    out.erase(0, 1);
  }
  return out;
}

// Drops trailing zeros of the fraction, and the point if nothing is left.
std::string TrimFraction(std::string fixed) {
  if (fixed.find('.') == std::string::npos) return fixed;
  while (fixed.back() == '0') fixed.pop_back();
  if (fixed.back() == '.') fixed.pop_back();
  return fixed;
}

// Fixed digits ("-13340.5") with the language's group and decimal marks.
std::string Localize(const std::string& fixed, Language lang) {
  if (fixed == "NaN" || fixed == "Infinity" || fixed == "-Infinity") {
    return fixed;
  }
  const bool en = IsEnglish(lang);
  const std::string_view group = en ? std::string_view(",") : kNarrowNbsp;
  std::string_view digits = fixed;
  std::string out;
  if (!digits.empty() && digits[0] == '-') {
    out += '-';
    digits.remove_prefix(1);
  }
  const size_t point = digits.find('.');
  const std::string_view integer = digits.substr(0, point);
  for (size_t i = 0; i < integer.size(); ++i) {
    if (i > 0 && (integer.size() - i) % 3 == 0) out += group;
    out += integer[i];
  }
  if (point != std::string_view::npos) {
    out += en ? '.' : ',';
    out += digits.substr(point + 1);
  }
  return out;
}

// At most `max_decimals` places, trailing zeros dropped: 1.70 -> "1,7".
std::string FormatUpTo(double value, int max_decimals, Language lang) {
  return Localize(TrimFraction(FixedDigits(value, max_decimals)), lang);
}

// Machine-readable number for CSV: shortest exact form, '.' decimal.
std::string PlainNumber(double value) { return FixedDigits(value, -1); }

std::string FormatMad(double value, Language lang) {
  const double magnitude = std::fabs(value);
  // Scale by the rounded figure, so 999.96e6 reads "1 Md MAD" and not
  // "1 000 M MAD".
  if (magnitude >= 999.95e6) {
    return absl::StrCat(FormatUpTo(value / 1e9, 1, lang),
                        IsEnglish(lang) ? " bn MAD" : " Md MAD");
  }
  if (magnitude >= 999'999.5) {
    return absl::StrCat(FormatUpTo(value / 1e6, 1, lang), " M MAD");
  }
  return absl::StrCat(FormatUpTo(value, 0, lang), " MAD");
}

std::string FormatJobs(double value, Language lang) {
  const std::string number = FormatUpTo(value, 0, lang);
  // The number as printed decides (0.5 prints "0", rounded half to even).
  const std::string digits = FixedDigits(std::fabs(value), 0);
  // French counts 0 and 1 in the singular, English only 1.
  if (IsEnglish(lang)) return number + (digits == "1" ? " job" : " jobs");
  return number + (digits == "0" || digits == "1" ? " emploi" : " emplois");
}

// ---------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------

// ShortName: services/reporting/enum_name.h.

// ---------------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------------

struct Labels {
  const char* report;
  const char* period;
  const char* as_of;
  const char* generated;
  const char* by;
  const char* scheduled;
  const char* content_hash;
  const char* report_id;
  const char* sequence;
  const char* ecosystem;
  const char* indicators;
  const char* indicator;
  const char* baseline;
  const char* target;
  const char* expected;
  const char* actual;
  const char* attainment_target;
  const char* attainment_trajectory;
  const char* rating;
  const char* forecast;
  const char* unverified;
  const char* unverified_apart;
  const char* trajectory;
  const char* verified_actual;
  const char* insufficient_data;
  const char* actions_by_status;
  const char* status;
  const char* count;
  const char* total;
  const char* on_time_rate;
  const char* late_actions;
  const char* action;
  const char* due_date;
  const char* days_late;
  const char* lead;
  const char* blocked_actions;
  const char* reason;
  const char* blockers;
  const char* feedback;
  const char* kind;
  const char* top_blockers;
  const char* endorsements;
  const char* linked_share;
  const char* median_ack;
  const char* rollups;
  const char* summed;
  const char* incomplete;
  const char* roadmap_indicators;
  const char* whole_roadmap;
  const char* changes;
  const char* previous_report;
  const char* first_report;
  const char* rating_changes;
  const char* completed_actions;
  const char* newly_late;
  const char* new_top_blockers;
  const char* no_changes;
  const char* none;
  const char* no_actions;
  const char* colon;  // French puts a space before the colon
};

constexpr Labels kFrench = {
    .report = "Rapport d'avancement",
    .period = "Période",
    .as_of = "Situation au",
    .generated = "Généré le",
    .by = "par",
    .scheduled = "génération planifiée",
    .content_hash = "Empreinte du contenu (SHA-256)",
    .report_id = "Identifiant du rapport",
    .sequence = "Rapport n°",
    .ecosystem = "Écosystème",
    .indicators = "Indicateurs",
    .indicator = "Indicateur",
    .baseline = "Référence",
    .target = "Objectif",
    .expected = "Attendu",
    .actual = "Réalisé",
    .attainment_target = "Atteinte de l'objectif",
    .attainment_trajectory = "Atteinte de la trajectoire",
    .rating = "Notation",
    .forecast = "Prévision",
    .unverified = "Non vérifié",
    .unverified_apart = "Chiffres non vérifiés (non comptés)",
    .trajectory = "Trajectoire",
    .verified_actual = "Réalisé (vérifié)",
    .insufficient_data = "données insuffisantes",
    .actions_by_status = "Actions par statut",
    .status = "Statut",
    .count = "Nombre",
    .total = "Total",
    .on_time_rate = "Taux d'achèvement dans les délais",
    .late_actions = "Actions en retard",
    .action = "Action",
    .due_date = "Échéance",
    .days_late = "Jours de retard",
    .lead = "Pilote",
    .blocked_actions = "Actions bloquées",
    .reason = "Motif",
    .blockers = "Blocages signalés",
    .feedback = "Retours des membres",
    .kind = "Type",
    .top_blockers = "Principaux blocages",
    .endorsements = "Soutiens",
    .linked_share = "Part des blocages liés à une action",
    .median_ack = "Délai médian de prise en compte (heures)",
    .rollups = "Cumuls de la feuille de route",
    .summed = "Indicateurs cumulés",
    .incomplete = "incomplet",
    .roadmap_indicators = "Indicateurs de la feuille de route",
    .whole_roadmap = "Ensemble de la feuille de route",
    .changes = "Changements depuis le rapport précédent",
    .previous_report = "Rapport précédent",
    .first_report = "Premier rapport : pas de rapport précédent.",
    .rating_changes = "Notations modifiées",
    .completed_actions = "Actions terminées",
    .newly_late = "Nouvelles actions en retard",
    .new_top_blockers = "Nouveaux blocages principaux",
    .no_changes = "Aucun changement.",
    .none = "Aucune.",
    .no_actions = "Aucune action",
    .colon = " :",
};

constexpr Labels kEnglish = {
    .report = "Progress report",
    .period = "Period",
    .as_of = "As of",
    .generated = "Generated at",
    .by = "by",
    .scheduled = "scheduled generation",
    .content_hash = "Content hash (SHA-256)",
    .report_id = "Report id",
    .sequence = "Report no.",
    .ecosystem = "Ecosystem",
    .indicators = "Indicators",
    .indicator = "Indicator",
    .baseline = "Baseline",
    .target = "Target",
    .expected = "Expected",
    .actual = "Actual",
    .attainment_target = "Attainment (target)",
    .attainment_trajectory = "Attainment (trajectory)",
    .rating = "Rating",
    .forecast = "Forecast",
    .unverified = "Unverified",
    .unverified_apart = "Unverified figures (not counted)",
    .trajectory = "Trajectory",
    .verified_actual = "Actual (verified)",
    .insufficient_data = "insufficient data",
    .actions_by_status = "Actions by status",
    .status = "Status",
    .count = "Count",
    .total = "Total",
    .on_time_rate = "On-time completion rate",
    .late_actions = "Late actions",
    .action = "Action",
    .due_date = "Due date",
    .days_late = "Days late",
    .lead = "Lead organisation",
    .blocked_actions = "Blocked actions",
    .reason = "Reason",
    .blockers = "Reported blockers",
    .feedback = "Member feedback",
    .kind = "Kind",
    .top_blockers = "Top blockers",
    .endorsements = "Endorsements",
    .linked_share = "Share of blockers linked to an action",
    .median_ack = "Median time to acknowledge (hours)",
    .rollups = "Roadmap roll-ups",
    .summed = "Indicators summed",
    .incomplete = "incomplete",
    .roadmap_indicators = "Roadmap-wide indicators",
    .whole_roadmap = "Whole roadmap",
    .changes = "Changes since the previous report",
    .previous_report = "Previous report",
    .first_report = "First report: no previous report.",
    .rating_changes = "Rating changes",
    .completed_actions = "Completed actions",
    .newly_late = "Newly late actions",
    .new_top_blockers = "New top blockers",
    .no_changes = "No changes.",
    .none = "None.",
    .no_actions = "No actions",
    .colon = ":",
};

const Labels& LabelsFor(Language lang) {
  return IsEnglish(lang) ? kEnglish : kFrench;
}

// "… et 2 577 autres" / "… and 2,577 more": what a capped list left out.
std::string MoreText(int64_t more, Language lang) {
  return lang == v1::LANGUAGE_EN
             ? absl::StrCat("… and ", FormatNumber(more, 0, lang), " more")
             : absl::StrCat("… et ", FormatNumber(more, 0, lang), " autres");
}

std::string StatusLabel(ActionStatus status, Language lang) {
  const bool en = IsEnglish(lang);
  switch (status) {
    case roadmap::v1::ACTION_STATUS_PROPOSED:
      return en ? "Proposed" : "Proposée";
    case roadmap::v1::ACTION_STATUS_PLANNED:
      return en ? "Planned" : "Planifiée";
    case roadmap::v1::ACTION_STATUS_IN_PROGRESS:
      return en ? "In progress" : "En cours";
    case roadmap::v1::ACTION_STATUS_BLOCKED:
      return en ? "Blocked" : "Bloquée";
    case roadmap::v1::ACTION_STATUS_COMPLETION_REQUESTED:
      return en ? "Completion requested" : "Achèvement demandé";
    case roadmap::v1::ACTION_STATUS_DONE:
      return en ? "Done" : "Terminée";
    case roadmap::v1::ACTION_STATUS_CANCELLED:
      return en ? "Cancelled" : "Annulée";
    default:
      return ShortName(status);
  }
}

std::string RatingLabel(v1::Rating rating, Language lang) {
  const bool en = IsEnglish(lang);
  switch (rating) {
    case v1::RATING_GREEN:
      return en ? "Green" : "Vert";
    case v1::RATING_AMBER:
      return en ? "Amber" : "Orange";
    case v1::RATING_RED:
      return en ? "Red" : "Rouge";
    case v1::RATING_NO_DATA:
      return en ? "No data" : "Pas de données";
    case v1::RATING_UNSPECIFIED:
      return en ? "Not rated" : "Non noté";
    default:
      return ShortName(rating);
  }
}

std::string KindLabel(feedback::v1::FeedbackKind kind, Language lang) {
  const bool en = IsEnglish(lang);
  switch (kind) {
    case feedback::v1::FEEDBACK_KIND_STRENGTH:
      return en ? "Strength" : "Atout";
    case feedback::v1::FEEDBACK_KIND_BLOCKER:
      return en ? "Blocker" : "Blocage";
    case feedback::v1::FEEDBACK_KIND_OPPORTUNITY:
      return en ? "Opportunity" : "Opportunité";
    case feedback::v1::FEEDBACK_KIND_PARTNERSHIP_OFFER:
      return en ? "Partnership offer" : "Offre de partenariat";
    case feedback::v1::FEEDBACK_KIND_PROPOSAL:
      return en ? "Proposal" : "Proposition";
    default:
      return ShortName(kind);
  }
}

std::string FeedbackStatusLabel(feedback::v1::FeedbackStatus status,
                                Language lang) {
  const bool en = IsEnglish(lang);
  switch (status) {
    case feedback::v1::FEEDBACK_STATUS_SUBMITTED:
      return en ? "Submitted" : "Soumis";
    case feedback::v1::FEEDBACK_STATUS_ACKNOWLEDGED:
      return en ? "Acknowledged" : "Pris en compte";
    case feedback::v1::FEEDBACK_STATUS_LINKED:
      return en ? "Linked to an action" : "Lié à une action";
    case feedback::v1::FEEDBACK_STATUS_ADDRESSED:
      return en ? "Addressed" : "Traité";
    case feedback::v1::FEEDBACK_STATUS_DECLINED:
      return en ? "Declined" : "Décliné";
    default:
      return ShortName(status);
  }
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

std::string DateText(const Date& d) { return IsUnset(d) ? "" : FormatDate(d); }

std::string TimestampText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return google::protobuf::util::TimeUtil::ToString(t);
}

std::string GeneratedByText(const v1::Report& report, const Labels& l) {
  const auto& actor = report.generated_by();
  // A scheduled report names the schedule, not the service's own actor.
  if (report.trigger() == v1::REPORT_TRIGGER_SCHEDULED ||
      (actor.principal_name().empty() && actor.principal_id().empty())) {
    return l.scheduled;
  }
  std::string who = actor.principal_name().empty() ? actor.principal_id()
                                                   : actor.principal_name();
  if (!actor.organization_id().empty()) {
    absl::StrAppend(&who, " (", actor.organization_id(), ")");
  }
  return who;
}

std::string EcosystemName(const v1::ReportContent& content,
                          const std::string& ecosystem_id) {
  for (const auto& e : content.ecosystems()) {
    if (e.ecosystem_id() == ecosystem_id) return e.name();
  }
  return "";
}

// Every indicator of the report: each ecosystem's, then the roadmap-wide ones.
std::vector<const v1::IndicatorReport*> AllIndicators(
    const v1::ReportContent& content) {
  std::vector<const v1::IndicatorReport*> out;
  for (const auto& e : content.ecosystems()) {
    for (const auto& i : e.indicators()) out.push_back(&i);
  }
  for (const auto& i : content.roadmap_indicators()) out.push_back(&i);
  return out;
}

v1::ExportedFile MakeFile(std::string name, std::string content_type,
                          std::string content) {
  v1::ExportedFile file;
  file.set_name(std::move(name));
  file.set_content_type(std::move(content_type));
  file.set_content(std::move(content));
  return file;
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

absl::StatusOr<std::vector<v1::ExportedFile>> ExportJson(
    const v1::Report& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = false;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(report, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("report to JSON: ", status.ToString()));
  }
  std::vector<v1::ExportedFile> files;
  files.push_back(MakeFile(absl::StrCat("report-", report.id(), ".json"),
                           "application/json", std::move(json)));
  return files;
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

// One CSV file being written: a header, then rows of the same width.
class CsvTable {
 public:
  explicit CsvTable(const std::vector<std::string>& header) { Add(header); }
  void Add(const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) text_ += ',';
      text_ += CsvField(row[i]);
    }
    text_ += "\r\n";
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string CsvOptional(bool has, double value) {
  return has ? PlainNumber(value) : "";
}

std::string CsvBool(bool b) { return b ? "true" : "false"; }

constexpr std::string_view kWholeRoadmap = "*";

std::string CsvReport(const v1::Report& report) {
  const auto& c = report.content();
  const bool first = report.changes().previous_report_id().empty();
  CsvTable t({"report_id", "roadmap_id", "roadmap_title", "period",
              "period_start", "period_end", "as_of", "generate_time",
              "generated_by", "generated_by_organization_id", "trigger",
              "sequence", "content_sha256", "previous_report_id",
              "completed_since_previous", "newly_late_since_previous"});
  t.Add({report.id(), report.roadmap_id(), c.roadmap_title(),
         report.period().label(), DateText(report.period().start_date()),
         DateText(report.period().end_date()), DateText(c.as_of()),
         TimestampText(report.generate_time()),
         report.generated_by().principal_name(),
         report.generated_by().organization_id(), ShortName(report.trigger()),
         absl::StrCat(report.sequence()), report.content_sha256(),
         report.changes().previous_report_id(),
         // Empty for a first report: there is nothing to compare with.
         first ? "" : absl::StrCat(report.changes().completed_count()),
         first ? "" : absl::StrCat(report.changes().newly_late_count())});
  return t.Take();
}

void AddSummary(CsvTable& t, std::string_view ecosystem_id,
                std::string_view ecosystem_name, const v1::ActionSummary& a,
                const v1::FeedbackSummary& f) {
  t.Add({std::string(ecosystem_id), std::string(ecosystem_name),
         absl::StrCat(a.total()), absl::StrCat(a.late_count()),
         absl::StrCat(a.blocked_count()), absl::StrCat(a.done_with_due_date()),
         absl::StrCat(a.done_on_time()),
         CsvOptional(a.has_on_time_completion_rate(),
                     a.on_time_completion_rate()),
         absl::StrCat(f.total()), absl::StrCat(f.blockers()),
         absl::StrCat(f.linked_blockers()),
         CsvOptional(f.has_linked_blocker_share(), f.linked_blocker_share()),
         absl::StrCat(f.acknowledged()),
         CsvOptional(f.has_median_hours_to_acknowledge(),
                     f.median_hours_to_acknowledge())});
}

// The totals and rates of each scope: the lists of the other tables are
// cut (late and blocked actions at 50), these counts are not.
std::string CsvSummary(const v1::ReportContent& c) {
  CsvTable t({"ecosystem_id", "ecosystem_name", "actions_total", "actions_late",
              "actions_blocked", "actions_done_with_due_date",
              "actions_done_on_time", "on_time_completion_rate",
              "feedback_total", "blockers", "linked_blockers",
              "linked_blocker_share", "feedback_acknowledged",
              "median_hours_to_acknowledge"});
  for (const auto& e : c.ecosystems()) {
    AddSummary(t, e.ecosystem_id(), e.name(), e.actions(), e.feedback());
  }
  AddSummary(t, kWholeRoadmap, "", c.actions(), c.feedback());
  return t.Take();
}

std::string CsvIndicators(const v1::ReportContent& c) {
  CsvTable t({"ecosystem_id", "ecosystem_name", "indicator_id", "name", "unit",
              "direction", "baseline_value", "baseline_date", "target_value",
              "target_date", "expected_value", "actual_value", "actual_date",
              "attainment_target", "attainment_trajectory", "rating",
              "forecast_value", "verified_count", "unverified_count"});
  for (const auto* i : AllIndicators(c)) {
    t.Add({i->ecosystem_id(), EcosystemName(c, i->ecosystem_id()),
           i->indicator_id(), i->name(), ShortName(i->unit()),
           ShortName(i->direction()), PlainNumber(i->baseline_value()),
           DateText(i->baseline_date()), PlainNumber(i->target_value()),
           DateText(i->target_date()), PlainNumber(i->expected_value()),
           CsvOptional(i->has_actual_value(), i->actual_value()),
           DateText(i->actual_date()),
           CsvOptional(i->has_attainment_target(), i->attainment_target()),
           CsvOptional(i->has_attainment_trajectory(),
                       i->attainment_trajectory()),
           ShortName(i->rating()),
           CsvOptional(i->has_forecast_value(), i->forecast_value()),
           absl::StrCat(i->verified_size()),
           absl::StrCat(i->unverified_size())});
  }
  return t.Take();
}

std::string CsvRollups(const v1::ReportContent& c) {
  CsvTable t({"name", "unit", "indicator_ids", "baseline_value", "target_value",
              "expected_value", "actual_value", "complete", "attainment_target",
              "attainment_trajectory", "rating", "forecast_value"});
  for (const auto& r : c.rollups()) {
    t.Add(
        {r.name(), ShortName(r.unit()), absl::StrJoin(r.indicator_ids(), ";"),
         PlainNumber(r.baseline_value()), PlainNumber(r.target_value()),
         PlainNumber(r.expected_value()),
         CsvOptional(r.has_actual_value(), r.actual_value()),
         CsvBool(r.complete()),
         CsvOptional(r.has_attainment_target(), r.attainment_target()),
         CsvOptional(r.has_attainment_trajectory(), r.attainment_trajectory()),
         ShortName(r.rating()),
         CsvOptional(r.has_forecast_value(), r.forecast_value())});
  }
  return t.Take();
}

std::string CsvActionsByStatus(const v1::ReportContent& c) {
  CsvTable t({"ecosystem_id", "ecosystem_name", "status", "count"});
  for (const auto& e : c.ecosystems()) {
    for (const auto& s : e.actions().by_status()) {
      t.Add({e.ecosystem_id(), e.name(), ShortName(s.status()),
             absl::StrCat(s.count())});
    }
  }
  for (const auto& s : c.actions().by_status()) {
    t.Add({std::string(kWholeRoadmap), "", ShortName(s.status()),
           absl::StrCat(s.count())});
  }
  return t.Take();
}

std::string CsvLateActions(const v1::ReportContent& c) {
  CsvTable t({"ecosystem_id", "action_id", "title", "due_date", "days_late",
              "status", "lead_organization_id"});
  for (const auto& a : c.actions().late()) {
    t.Add({a.ecosystem_id(), a.action_id(), a.title(), DateText(a.due_date()),
           absl::StrCat(a.days_late()), ShortName(a.status()),
           a.lead_organization_id()});
  }
  return t.Take();
}

std::string CsvBlockedActions(const v1::ReportContent& c) {
  CsvTable t({"ecosystem_id", "action_id", "title", "reason", "blocker_count",
              "blocker_ids", "blocker_titles"});
  for (const auto& a : c.actions().blocked()) {
    std::vector<std::string> ids;
    std::vector<std::string> titles;
    for (const auto& b : a.blockers()) {
      ids.push_back(b.feedback_id());
      titles.push_back(b.title());
    }
    t.Add({a.ecosystem_id(), a.action_id(), a.title(), a.reason(),
           absl::StrCat(a.blockers_size()), absl::StrJoin(ids, ";"),
           absl::StrJoin(titles, ";")});
  }
  return t.Take();
}

void AddFeedbackCounts(CsvTable& t, std::string_view ecosystem_id,
                       std::string_view ecosystem_name,
                       const v1::FeedbackSummary& f) {
  for (const auto& n : f.counts()) {
    t.Add({std::string(ecosystem_id), std::string(ecosystem_name),
           ShortName(n.kind()), ShortName(n.status()),
           absl::StrCat(n.count())});
  }
}

std::string CsvFeedbackCounts(const v1::ReportContent& c) {
  CsvTable t({"ecosystem_id", "ecosystem_name", "kind", "status", "count"});
  for (const auto& e : c.ecosystems()) {
    AddFeedbackCounts(t, e.ecosystem_id(), e.name(), e.feedback());
  }
  AddFeedbackCounts(t, kWholeRoadmap, "", c.feedback());
  return t.Take();
}

void AddTopBlockers(CsvTable& t, std::string_view scope,
                    const v1::FeedbackSummary& f) {
  int rank = 0;
  for (const auto& b : f.top_blockers()) {
    t.Add({std::string(scope), absl::StrCat(++rank), b.feedback_id(),
           b.ecosystem_id(), b.title(), absl::StrCat(b.endorsement_count()),
           ShortName(b.status())});
  }
}

// ecosystem_id is the list the row belongs to ("*": the roadmap's);
// feedback_ecosystem_id is the item's own ecosystem.
std::string CsvTopBlockers(const v1::ReportContent& c) {
  CsvTable t({"ecosystem_id", "rank", "feedback_id", "feedback_ecosystem_id",
              "title", "endorsement_count", "status"});
  for (const auto& e : c.ecosystems()) {
    AddTopBlockers(t, e.ecosystem_id(), e.feedback());
  }
  AddTopBlockers(t, kWholeRoadmap, c.feedback());
  return t.Take();
}

// change_type: RATING_CHANGED (from/to: ratings), ACTION_COMPLETED,
// ACTION_NEWLY_LATE, NEW_TOP_BLOCKER (from/to empty).
std::string CsvChanges(const v1::ReportChanges& ch) {
  CsvTable t(
      {"change_type", "subject_id", "ecosystem_id", "title", "from", "to"});
  for (const auto& r : ch.rating_changes()) {
    t.Add({"RATING_CHANGED", r.indicator_id(), r.ecosystem_id(), r.name(),
           ShortName(r.previous()), ShortName(r.current())});
  }
  for (const auto& a : ch.completed_actions()) {
    t.Add({"ACTION_COMPLETED", a.action_id(), a.ecosystem_id(), a.title(), "",
           ""});
  }
  for (const auto& a : ch.newly_late_actions()) {
    t.Add({"ACTION_NEWLY_LATE", a.action_id(), a.ecosystem_id(), a.title(), "",
           ""});
  }
  for (const auto& b : ch.new_top_blockers()) {
    t.Add({"NEW_TOP_BLOCKER", b.feedback_id(), b.ecosystem_id(), b.title(), "",
           ""});
  }
  return t.Take();
}

std::vector<v1::ExportedFile> ExportCsv(const v1::Report& report) {
  constexpr char kType[] = "text/csv; charset=utf-8";
  const auto& c = report.content();
  std::vector<v1::ExportedFile> files;
  files.push_back(MakeFile("report.csv", kType, CsvReport(report)));
  files.push_back(MakeFile("summary.csv", kType, CsvSummary(c)));
  files.push_back(MakeFile("indicators.csv", kType, CsvIndicators(c)));
  files.push_back(MakeFile("rollups.csv", kType, CsvRollups(c)));
  files.push_back(
      MakeFile("actions_by_status.csv", kType, CsvActionsByStatus(c)));
  files.push_back(MakeFile("late_actions.csv", kType, CsvLateActions(c)));
  files.push_back(MakeFile("blocked_actions.csv", kType, CsvBlockedActions(c)));
  files.push_back(MakeFile("feedback_counts.csv", kType, CsvFeedbackCounts(c)));
  files.push_back(MakeFile("top_blockers.csv", kType, CsvTopBlockers(c)));
  files.push_back(MakeFile("changes.csv", kType, CsvChanges(report.changes())));
  return files;
}

// ---------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------

// User text made inert in Markdown: CommonMark's backslash escapes for every
// character that could start emphasis, code, a link, raw HTML, an entity or
// a table cell; line breaks folded into spaces (a table row is one line).
// Leading blanks are dropped, and its first character is escaped when it
// could start a block at the
// start of a line, as in a list item: "---" (a rule), "+ x" (a nested
// list), "2026. x" (an ordered list; its '.' is escaped), "= x".
std::string MdEscape(std::string_view text) {
  std::string out;
  const size_t first = std::min(text.find_first_not_of(" \t\r\n"), text.size());
  size_t digits_end = first;
  while (digits_end < text.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(text[digits_end]))) {
    ++digits_end;
  }
  // Leading blanks are dropped: after a list marker, four of them would
  // make the text a code block.
  for (size_t i = first; i < text.size(); ++i) {
    const char c = text[i];
    const bool block_start =
        (i == first && (c == '-' || c == '+' || c == '=')) ||
        (i == digits_end && i > first && c == '.');
    if (block_start) out += '\\';
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += ' ';
      continue;
    }
    if (std::string_view("\\`*_[]<>|#~!&{}()").find(c) !=
        std::string_view::npos) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

std::string OptionalAmount(bool has, double value, IndicatorUnit unit,
                           Language lang) {
  return has ? FormatAmount(value, unit, lang) : std::string(kDash);
}

std::string OptionalPercent(bool has, double ratio, Language lang) {
  return has ? FormatPercent(ratio, lang) : std::string(kDash);
}

// ---------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------

// SVG coordinates with one decimal, so the bytes do not depend on how the
// last bits of a division came out.
std::string Coord(double v) { return FixedDigits(v, 1); }

// A value as charts plot it: within +-1e300, so that no range, step or
// coordinate computed from it overflows (the validated inputs are finite,
// but may be as large as a double); NaN as 0.
double Plotted(double v) {
  constexpr double kMax = 1e300;
  return std::isnan(v) ? 0 : std::clamp(v, -kMax, kMax);
}

// Maps a domain interval onto a pixel interval. A value outside the domain
// (only an absurd one: frames are made to hold every value plotted) is
// drawn at its edge.
struct Scale {
  double domain_lo, domain_hi, range_lo, range_hi;
  double operator()(double v) const {
    if (domain_hi == domain_lo) return (range_lo + range_hi) / 2;
    const double lo = std::min(domain_lo, domain_hi);
    const double hi = std::max(domain_lo, domain_hi);
    v = std::isnan(v) ? lo : std::clamp(v, lo, hi);
    return range_lo +
           (v - domain_lo) * (range_hi - range_lo) / (domain_hi - domain_lo);
  }
};

// 1, 2 or 5 times a power of ten, at least `raw`: readable tick steps.
double NiceStep(double raw) {
  if (!(raw > 0)) return 1;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
}

struct ChartPoint {
  Date date;
  double value;
};

std::vector<ChartPoint> ExpectedTrajectory(const v1::IndicatorReport& i) {
  std::vector<ChartPoint> points;
  points.push_back({i.baseline_date(), i.baseline_value()});
  std::vector<ChartPoint> explicit_points;
  for (const auto& p : i.trajectory()) {
    explicit_points.push_back({p.date(), p.value()});
  }
  std::stable_sort(explicit_points.begin(), explicit_points.end(),
                   [](const ChartPoint& a, const ChartPoint& b) {
                     return CompareDates(a.date, b.date) < 0;
                   });
  points.insert(points.end(), explicit_points.begin(), explicit_points.end());
  // As the expected values are computed (kpi.cc): a point on the target
  // date is the value expected there, and the target no vertex of its own.
  if (explicit_points.empty() ||
      CompareDates(explicit_points.back().date, i.target_date()) != 0) {
    points.push_back({i.target_date(), i.target_value()});
  }
  return points;
}

// Chart geometry, in pixels.
constexpr double kChartWidth = 640;
constexpr double kChartHeight = 300;
constexpr double kPlotLeft = 104;
constexpr double kPlotRight = 620;
constexpr double kPlotTop = 20;
constexpr double kPlotBottom = 236;

constexpr char kColorExpected[] = "#2563eb";
constexpr char kColorTarget[] = "#15803d";
constexpr char kColorVerified[] = "#111827";
constexpr char kColorUnverified[] = "#d97706";
constexpr char kColorForecast[] = "#7c3aed";
constexpr char kColorGrid[] = "#e5e7eb";
constexpr char kColorAxis[] = "#6b7280";

// The x and y scales of one indicator's chart, and its ticks.
struct TrajectoryFrame {
  Scale x;
  Scale y;
  std::vector<double> y_ticks;
  std::vector<std::pair<double, int>> x_ticks;  // (day, year)
};

TrajectoryFrame FrameFor(const v1::IndicatorReport& i,
                         const std::vector<ChartPoint>& expected) {
  std::vector<ChartPoint> all = expected;
  for (const auto& p : i.verified()) all.push_back({p.date(), p.value()});
  for (const auto& p : i.unverified()) all.push_back({p.date(), p.value()});
  for (auto& p : all) p.value = Plotted(p.value);
  Date first = all.front().date;
  Date last = all.front().date;
  double lo = all.front().value;
  double hi = lo;
  for (const auto& p : all) {
    if (IsValidDate(p.date) &&
        (!IsValidDate(first) || CompareDates(p.date, first) < 0)) {
      first = p.date;
    }
    if (IsValidDate(p.date) &&
        (!IsValidDate(last) || CompareDates(p.date, last) > 0)) {
      last = p.date;
    }
    lo = std::min(lo, p.value);
    hi = std::max(hi, p.value);
  }
  if (i.has_forecast_value()) {
    lo = std::min(lo, Plotted(i.forecast_value()));
    hi = std::max(hi, Plotted(i.forecast_value()));
  }
  // The target's line and diamond are drawn too, even when the expected
  // line ends elsewhere (a trajectory point on the target date).
  lo = std::min(lo, Plotted(i.target_value()));
  hi = std::max(hi, Plotted(i.target_value()));
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double step = NiceStep((hi - lo) / 4);
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;

  TrajectoryFrame frame;
  const double day_lo = IsValidDate(first) ? DaysFromCivil(first) : 0;
  double day_hi = IsValidDate(last) ? DaysFromCivil(last) : 1;
  if (day_hi <= day_lo) day_hi = day_lo + 1;
  frame.x = {day_lo, day_hi, kPlotLeft, kPlotRight};
  frame.y = {lo, hi, kPlotBottom, kPlotTop};
  const int64_t n = std::llround((hi - lo) / step);
  for (int64_t k = 0; k <= n; ++k) frame.y_ticks.push_back(lo + k * step);
  if (IsValidDate(first) && IsValidDate(last)) {
    for (int year = first.year(); year <= last.year() + 1; ++year) {
      const double day = DaysFromCivil(MakeDate(year, 1, 1));
      if (day >= day_lo && day <= day_hi) frame.x_ticks.push_back({day, year});
    }
    if (frame.x_ticks.empty()) frame.x_ticks.push_back({day_lo, first.year()});
  }
  return frame;
}

double DayOf(const Date& d) {
  return IsValidDate(d) ? static_cast<double>(DaysFromCivil(d)) : 0;
}

// "<title>2017-12-31 : 3 120 emplois</title>" for a point's tooltip.
std::string PointTitle(const Date& date, double value, IndicatorUnit unit,
                       Language lang, std::string_view prefix = "") {
  return absl::StrCat("<title>", HtmlEscape(prefix), DateText(date),
                      LabelsFor(lang).colon, " ",
                      HtmlEscape(FormatAmount(value, unit, lang)), "</title>");
}

void SvgAxes(std::string& svg, const TrajectoryFrame& f, IndicatorUnit unit,
             Language lang) {
  for (const double v : f.y_ticks) {
    const std::string y = Coord(f.y(v));
    absl::StrAppend(&svg, "<line x1=\"", Coord(kPlotLeft), "\" y1=\"", y,
                    "\" x2=\"", Coord(kPlotRight), "\" y2=\"", y,
                    "\" stroke=\"", kColorGrid, "\"/>");
    absl::StrAppend(&svg, "<text x=\"", Coord(kPlotLeft - 6), "\" y=\"",
                    Coord(f.y(v) + 4), "\" text-anchor=\"end\">",
                    HtmlEscape(FormatAmount(v, unit, lang)), "</text>");
  }
  for (const auto& [day, year] : f.x_ticks) {
    const std::string x = Coord(f.x(day));
    absl::StrAppend(&svg, "<line x1=\"", x, "\" y1=\"", Coord(kPlotBottom),
                    "\" x2=\"", x, "\" y2=\"", Coord(kPlotBottom + 5),
                    "\" stroke=\"", kColorAxis, "\"/>");
    absl::StrAppend(&svg, "<text x=\"", x, "\" y=\"", Coord(kPlotBottom + 18),
                    "\" text-anchor=\"middle\">", year, "</text>");
  }
  absl::StrAppend(
      &svg, "<polyline points=\"", Coord(kPlotLeft), ",", Coord(kPlotTop), " ",
      Coord(kPlotLeft), ",", Coord(kPlotBottom), " ", Coord(kPlotRight), ",",
      Coord(kPlotBottom), "\" fill=\"none\" stroke=\"", kColorAxis, "\"/>");
}

void SvgLegend(std::string& svg, bool with_forecast, Language lang) {
  const Labels& l = LabelsFor(lang);
  const double y = kChartHeight - 18;
  double x = kPlotLeft - 80;
  const auto item = [&](const std::string& mark, const char* label) {
    absl::StrAppend(&svg, "<g transform=\"translate(", Coord(x), ",", Coord(y),
                    ")\">", mark, "<text x=\"22\" y=\"4\">", label,
                    "</text></g>");
    x += 128;
  };
  item(absl::StrCat("<line x1=\"0\" y1=\"0\" x2=\"16\" y2=\"0\" stroke=\"",
                    kColorExpected, "\" stroke-width=\"2\"/>"),
       l.trajectory);
  item(absl::StrCat("<line x1=\"0\" y1=\"0\" x2=\"16\" y2=\"0\" stroke=\"",
                    kColorTarget, "\" stroke-dasharray=\"2 3\"/>",
                    "<path d=\"M8 -5 L13 0 L8 5 L3 0 Z\" fill=\"", kColorTarget,
                    "\"/>"),
       l.target);
  item(absl::StrCat("<circle cx=\"8\" cy=\"0\" r=\"4\" fill=\"", kColorVerified,
                    "\"/>"),
       l.verified_actual);
  item(absl::StrCat("<circle cx=\"8\" cy=\"0\" r=\"4\" fill=\"#ffffff\" "
                    "stroke=\"",
                    kColorUnverified, "\" stroke-width=\"1.5\"/>"),
       l.unverified);
  if (with_forecast) {
    item(absl::StrCat("<line x1=\"0\" y1=\"0\" x2=\"16\" y2=\"0\" stroke=\"",
                      kColorForecast,
                      "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"),
         l.forecast);
  }
}

// The latest verified point (the one the forecast continues from).
const v1::Point* LastVerified(const v1::IndicatorReport& i) {
  const v1::Point* last = nullptr;
  for (const auto& p : i.verified()) {
    if (last == nullptr || CompareDates(p.date(), last->date()) >= 0) {
      last = &p;
    }
  }
  return last;
}

std::string TrajectorySvg(const v1::IndicatorReport& i, Language lang) {
  const Labels& l = LabelsFor(lang);
  const auto expected = ExpectedTrajectory(i);
  const TrajectoryFrame f = FrameFor(i, expected);
  std::string svg = absl::StrCat(
      "<svg class=\"chart trajectory\" data-indicator-id=\"",
      HtmlEscape(i.indicator_id()),
      "\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 ",
      Coord(kChartWidth), " ", Coord(kChartHeight), "\" width=\"",
      Coord(kChartWidth), "\" height=\"", Coord(kChartHeight),
      "\" font-family=\"sans-serif\" font-size=\"11\">");
  absl::StrAppend(&svg, "<title>", l.trajectory, " ", kDash, " ",
                  HtmlEscape(i.name()), "</title>");
  SvgAxes(svg, f, i.unit(), lang);

  // The target: a dashed level line and a diamond at the target date.
  const std::string ty = Coord(f.y(i.target_value()));
  const double tx = f.x(DayOf(i.target_date()));
  absl::StrAppend(&svg, "<line class=\"target-line\" x1=\"", Coord(kPlotLeft),
                  "\" y1=\"", ty, "\" x2=\"", Coord(kPlotRight), "\" y2=\"", ty,
                  "\" stroke=\"", kColorTarget,
                  "\" stroke-dasharray=\"2 3\"/>");
  absl::StrAppend(&svg, "<path class=\"target\" d=\"M", Coord(tx), " ",
                  Coord(f.y(i.target_value()) - 6),
                  " l6 6 l-6 6 l-6 -6 Z\" "
                  "fill=\"",
                  kColorTarget, "\">",
                  PointTitle(i.target_date(), i.target_value(), i.unit(), lang,
                             absl::StrCat(l.target, " ")),
                  "</path>");

  absl::StrAppend(&svg, "<polyline class=\"expected\" points=\"");
  for (size_t k = 0; k < expected.size(); ++k) {
    if (k > 0) svg += ' ';
    absl::StrAppend(&svg, Coord(f.x(DayOf(expected[k].date))), ",",
                    Coord(f.y(expected[k].value)));
  }
  absl::StrAppend(&svg, "\" fill=\"none\" stroke=\"", kColorExpected,
                  "\" stroke-width=\"2\"/>");

  const v1::Point* last = LastVerified(i);
  if (i.has_forecast_value() && last != nullptr) {
    absl::StrAppend(
        &svg, "<line class=\"forecast\" x1=\"", Coord(f.x(DayOf(last->date()))),
        "\" y1=\"", Coord(f.y(last->value())), "\" x2=\"", Coord(tx),
        "\" y2=\"", Coord(f.y(i.forecast_value())), "\" stroke=\"",
        kColorForecast, "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>");
    absl::StrAppend(&svg, "<circle class=\"forecast-point\" cx=\"", Coord(tx),
                    "\" cy=\"", Coord(f.y(i.forecast_value())),
                    "\" r=\"4\" fill=\"#ffffff\" stroke=\"", kColorForecast,
                    "\" stroke-width=\"2\">",
                    PointTitle(i.target_date(), i.forecast_value(), i.unit(),
                               lang, absl::StrCat(l.forecast, " ")),
                    "</circle>");
  }
  for (const auto& p : i.unverified()) {
    absl::StrAppend(&svg, "<circle class=\"unverified\" cx=\"",
                    Coord(f.x(DayOf(p.date()))), "\" cy=\"",
                    Coord(f.y(p.value())),
                    "\" r=\"4\" fill=\"#ffffff\" stroke=\"", kColorUnverified,
                    "\" stroke-width=\"1.5\" stroke-dasharray=\"2 1\">",
                    PointTitle(p.date(), p.value(), i.unit(), lang,
                               absl::StrCat(l.unverified, " ")),
                    "</circle>");
  }
  for (const auto& p : i.verified()) {
    absl::StrAppend(
        &svg, "<circle class=\"verified\" cx=\"", Coord(f.x(DayOf(p.date()))),
        "\" cy=\"", Coord(f.y(p.value())), "\" r=\"4\" fill=\"", kColorVerified,
        "\">", PointTitle(p.date(), p.value(), i.unit(), lang), "</circle>");
  }
  SvgLegend(svg, i.has_forecast_value(), lang);
  svg += "</svg>\n";
  return svg;
}

// Fill and text colours of an action status in the bars.
struct StatusColors {
  const char* fill;
  const char* text;
};

StatusColors ColorsOf(ActionStatus status) {
  switch (status) {
    case roadmap::v1::ACTION_STATUS_PROPOSED:
      return {"#cbd5e1", "#111827"};
    case roadmap::v1::ACTION_STATUS_PLANNED:
      return {"#93c5fd", "#111827"};
    case roadmap::v1::ACTION_STATUS_IN_PROGRESS:
      return {"#2563eb", "#ffffff"};
    case roadmap::v1::ACTION_STATUS_BLOCKED:
      return {"#dc2626", "#ffffff"};
    case roadmap::v1::ACTION_STATUS_COMPLETION_REQUESTED:
      return {"#f59e0b", "#111827"};
    case roadmap::v1::ACTION_STATUS_DONE:
      return {"#15803d", "#ffffff"};
    default:
      return {"#6b7280", "#ffffff"};
  }
}

// One stacked horizontal bar of the ecosystem's actions by status, with a
// legend giving each status and its count.
std::string StatusBarsSvg(const v1::EcosystemReport& e, Language lang) {
  const Labels& l = LabelsFor(lang);
  constexpr double kLeft = 20;
  constexpr double kWidth = 600;
  constexpr double kBarTop = 10;
  constexpr double kBarHeight = 28;
  constexpr int kPerRow = 3;
  // In double: counts are int64, and their sum must not overflow.
  double sum = 0;
  for (const auto& s : e.actions().by_status()) {
    sum += static_cast<double>(std::max<int64_t>(0, s.count()));
  }
  const int rows =
      std::max(1, (e.actions().by_status_size() + kPerRow - 1) / kPerRow);
  const double height = kBarTop + kBarHeight + 16 + rows * 18;
  std::string svg = absl::StrCat(
      "<svg class=\"chart status-bars\" data-ecosystem-id=\"",
      HtmlEscape(e.ecosystem_id()),
      "\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 ",
      Coord(kChartWidth), " ", Coord(height), "\" width=\"", Coord(kChartWidth),
      "\" height=\"", Coord(height),
      "\" font-family=\"sans-serif\" font-size=\"11\">");
  absl::StrAppend(&svg, "<title>", l.actions_by_status, " ", kDash, " ",
                  HtmlEscape(e.name()), "</title>");
  if (sum == 0) {
    absl::StrAppend(&svg, "<rect x=\"", Coord(kLeft), "\" y=\"", Coord(kBarTop),
                    "\" width=\"", Coord(kWidth), "\" height=\"",
                    Coord(kBarHeight), "\" fill=\"#f3f4f6\"/><text x=\"",
                    Coord(kLeft + kWidth / 2), "\" y=\"",
                    Coord(kBarTop + kBarHeight / 2 + 4),
                    "\" text-anchor=\"middle\">", l.no_actions, "</text>");
  }
  double before = 0;
  int index = 0;
  for (const auto& s : e.actions().by_status()) {
    const StatusColors colors = ColorsOf(s.status());
    const std::string label = StatusLabel(s.status(), lang);
    const int64_t count = std::max<int64_t>(0, s.count());
    if (sum > 0 && count > 0) {
      // Edges from cumulative counts, so segments meet without gaps.
      const double x0 = kLeft + kWidth * before / sum;
      const double x1 =
          kLeft + kWidth * (before + static_cast<double>(count)) / sum;
      absl::StrAppend(&svg, "<rect class=\"status\" x=\"", Coord(x0), "\" y=\"",
                      Coord(kBarTop), "\" width=\"", Coord(x1 - x0),
                      "\" height=\"", Coord(kBarHeight), "\" fill=\"",
                      colors.fill, "\"><title>", label, l.colon, " ", count,
                      "</title></rect>");
      if (x1 - x0 >= 24) {
        absl::StrAppend(&svg, "<text x=\"", Coord((x0 + x1) / 2), "\" y=\"",
                        Coord(kBarTop + kBarHeight / 2 + 4),
                        "\" text-anchor=\"middle\" fill=\"", colors.text, "\">",
                        count, "</text>");
      }
      before += static_cast<double>(count);
    }
    const double lx = kLeft + (index % kPerRow) * 200;
    const double ly = kBarTop + kBarHeight + 20 + (index / kPerRow) * 18;
    absl::StrAppend(&svg, "<rect x=\"", Coord(lx), "\" y=\"", Coord(ly - 9),
                    "\" width=\"10\" height=\"10\" fill=\"", colors.fill,
                    "\"/><text x=\"", Coord(lx + 14), "\" y=\"", Coord(ly),
                    "\">", label, " (", count, ")</text>");
    ++index;
  }
  svg += "</svg>\n";
  return svg;
}

constexpr char kCss[] =
    "body{font-family:sans-serif;max-width:72rem;margin:2rem auto;"
    "padding:0 1rem;color:#111827;line-height:1.4}"
    "h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:2px solid "
    "#e5e7eb}h3{margin-top:1.5rem}"
    "table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}"
    "th,td{border:1px solid #d1d5db;padding:.25rem .5rem;text-align:left;"
    "vertical-align:top}th{background:#f3f4f6}"
    "td.num{text-align:right}"
    ".rating{padding:0 .4rem;border-radius:.3rem;white-space:nowrap}"
    ".rating-GREEN{background:#dcfce7}.rating-AMBER{background:#fef3c7}"
    ".rating-RED{background:#fee2e2}.rating-NO_DATA,.rating-UNSPECIFIED{"
    "background:#f3f4f6}"
    "figure{margin:1rem 0}figcaption{font-weight:bold}"
    "svg.chart{max-width:100%;height:auto}"
    "code{word-break:break-all}";

// ---------------------------------------------------------------------------
// Markdown and HTML: the report written once, as a document
// ---------------------------------------------------------------------------

// An entry of a bulleted list; `sub` are nested entries, which HTML
// introduces with `sub_caption`.
struct ListItem {
  std::string text;
  std::vector<std::string> sub = {};
  std::string sub_caption = {};
};

// What the report's sections are written against. Markdown and HTML each
// say how a heading, a paragraph, a table or a list looks, and what user
// text must become to stay inert; the sections (what is shown, in which
// order, with which labels) are written once, below. Inline methods return
// markup; block methods append to the document.
class Doc {
 public:
  explicit Doc(Language lang) : lang_(lang), labels_(LabelsFor(lang)) {}
  virtual ~Doc() = default;

  Language lang() const { return lang_; }
  const Labels& labels() const { return labels_; }
  std::string Take() { return std::move(out_); }

  // Inline. User text, made inert; our own labels and figures; emphasis;
  // code (of markup); a rating.
  virtual std::string User(const std::string& text) const = 0;
  virtual std::string Ours(const std::string& text) const = 0;
  virtual std::string Strong(const std::string& markup) const = 0;
  virtual std::string Code(const std::string& markup) const = 0;
  virtual std::string Rating(v1::Rating rating) const = 0;

  // Blocks. The title and the facts under it open the document.
  virtual void Begin(const v1::Report& report,
                     const std::vector<ListItem>& facts) = 0;
  virtual void End() = 0;
  // A top-level section, until EndSection; `css_class` is for HTML.
  virtual void Section(const std::string& title,
                       const std::string& css_class = {}) = 0;
  virtual void EndSection() = 0;
  virtual void Heading(const std::string& title) = 0;
  virtual void Paragraph(const std::string& markup) = 0;
  // Short facts, one per line.
  virtual void Lines(const std::vector<std::string>& lines) = 0;
  virtual void List(const std::vector<ListItem>& items) = 0;
  // Cells are markup; `numeric` marks the columns aligned right.
  virtual void Table(const std::vector<std::string>& header,
                     const std::vector<std::vector<std::string>>& rows,
                     const std::vector<bool>& numeric) = 0;

  // What one format shows and the other does not: an ecosystem's actions
  // as bars (HTML); each indicator's trajectory (an HTML chart) and its
  // unverified figures.
  virtual void StatusBars(const v1::EcosystemReport&) {}
  virtual void Trajectories(
      const google::protobuf::RepeatedPtrField<v1::IndicatorReport>&
          indicators) = 0;

 protected:
  std::string out_;

 private:
  Language lang_;
  const Labels& labels_;
};

void WriteIndicators(
    Doc& d,
    const google::protobuf::RepeatedPtrField<v1::IndicatorReport>& indicators) {
  const Labels& l = d.labels();
  if (indicators.empty()) {
    d.Paragraph(l.none);
    return;
  }
  const Language lang = d.lang();
  std::vector<std::vector<std::string>> rows;
  for (const auto& i : indicators) {
    std::string actual =
        OptionalAmount(i.has_actual_value(), i.actual_value(), i.unit(), lang);
    if (i.has_actual_value() && !IsUnset(i.actual_date())) {
      absl::StrAppend(&actual, " (", DateText(i.actual_date()), ")");
    }
    rows.push_back(
        {d.User(i.name()),
         d.Ours(absl::StrCat(FormatAmount(i.target_value(), i.unit(), lang),
                             " (", DateText(i.target_date()), ")")),
         d.Ours(FormatAmount(i.expected_value(), i.unit(), lang)),
         d.Ours(actual),
         OptionalPercent(i.has_attainment_target(), i.attainment_target(),
                         lang),
         OptionalPercent(i.has_attainment_trajectory(),
                         i.attainment_trajectory(), lang),
         d.Rating(i.rating()),
         d.Ours(i.has_forecast_value()
                    ? FormatAmount(i.forecast_value(), i.unit(), lang)
                    : l.insufficient_data),
         absl::StrCat(i.unverified_size())});
  }
  d.Table({l.indicator, l.target, l.expected, l.actual, l.attainment_target,
           l.attainment_trajectory, l.rating, l.forecast, l.unverified},
          rows, {false, true, true, true, true, true, false, true, true});
  d.Trajectories(indicators);
}

void WriteActions(Doc& d, const v1::ActionSummary& a,
                  const v1::EcosystemReport* ecosystem) {
  const Labels& l = d.labels();
  const Language lang = d.lang();
  d.Heading(l.actions_by_status);
  if (ecosystem != nullptr) d.StatusBars(*ecosystem);
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : a.by_status()) {
    rows.push_back({d.Ours(StatusLabel(s.status(), lang)),
                    FormatNumber(static_cast<double>(s.count()), 0, lang)});
  }
  rows.push_back(
      {d.Strong(l.total), d.Strong(FormatNumber(a.total(), 0, lang))});
  d.Table({l.status, l.count}, rows, {false, true});
  d.Paragraph(absl::StrCat(l.on_time_rate, l.colon, " ",
                           OptionalPercent(a.has_on_time_completion_rate(),
                                           a.on_time_completion_rate(), lang)));

  d.Heading(l.late_actions);
  if (a.late().empty()) {
    d.Paragraph(l.none);
  } else {
    rows.clear();
    for (const auto& late : a.late()) {
      rows.push_back({d.User(late.title()), DateText(late.due_date()),
                      FormatNumber(late.days_late(), 0, lang),
                      d.Ours(StatusLabel(late.status(), lang)),
                      d.User(late.lead_organization_id())});
    }
    d.Table({l.action, l.due_date, l.days_late, l.status, l.lead}, rows,
            {false, false, true, false, false});
    if (a.late_count() > a.late_size()) {
      d.Paragraph(MoreText(a.late_count() - a.late_size(), lang));
    }
  }

  d.Heading(l.blocked_actions);
  if (a.blocked().empty()) {
    d.Paragraph(l.none);
    return;
  }
  std::vector<ListItem> blocked;
  for (const auto& b : a.blocked()) {
    ListItem item{d.Strong(d.User(b.title()))};
    if (!b.reason().empty()) {
      absl::StrAppend(&item.text, " ", kDash, " ", l.reason, l.colon, " ",
                      d.User(b.reason()));
    }
    for (const auto& f : b.blockers()) {
      item.sub.push_back(absl::StrCat(d.User(f.title()), " (", l.endorsements,
                                      l.colon, " ", f.endorsement_count(),
                                      ")"));
    }
    item.sub_caption = absl::StrCat(l.blockers, l.colon);
    blocked.push_back(std::move(item));
  }
  d.List(blocked);
  if (a.blocked_count() > a.blocked_size()) {
    d.Paragraph(MoreText(a.blocked_count() - a.blocked_size(), lang));
  }
}

void WriteFeedback(Doc& d, const v1::FeedbackSummary& f) {
  const Labels& l = d.labels();
  const Language lang = d.lang();
  d.Heading(l.feedback);
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : f.counts()) {
    rows.push_back({d.Ours(KindLabel(n.kind(), lang)),
                    d.Ours(FeedbackStatusLabel(n.status(), lang)),
                    FormatNumber(static_cast<double>(n.count()), 0, lang)});
  }
  rows.push_back(
      {d.Strong(l.total), "", d.Strong(FormatNumber(f.total(), 0, lang))});
  d.Table({l.kind, l.status, l.count}, rows, {false, false, true});
  d.Lines(
      {absl::StrCat(l.linked_share, l.colon, " ",
                    OptionalPercent(f.has_linked_blocker_share(),
                                    f.linked_blocker_share(), lang)),
       absl::StrCat(l.median_ack, l.colon, " ",
                    f.has_median_hours_to_acknowledge()
                        ? FormatUpTo(f.median_hours_to_acknowledge(), 1, lang)
                        : std::string(kDash))});

  d.Heading(l.top_blockers);
  if (f.top_blockers().empty()) {
    d.Paragraph(l.none);
    return;
  }
  rows.clear();
  for (const auto& b : f.top_blockers()) {
    rows.push_back({d.User(b.title()),
                    FormatNumber(b.endorsement_count(), 0, lang),
                    d.Ours(FeedbackStatusLabel(b.status(), lang))});
  }
  d.Table({l.top_blockers, l.endorsements, l.status}, rows,
          {false, true, false});
}

void WriteRollups(Doc& d, const v1::ReportContent& c) {
  const Labels& l = d.labels();
  const Language lang = d.lang();
  d.Section(l.rollups);
  if (c.rollups().empty()) {
    d.Paragraph(l.none);
    d.EndSection();
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : c.rollups()) {
    std::string actual =
        OptionalAmount(r.has_actual_value(), r.actual_value(), r.unit(), lang);
    if (r.has_actual_value() && !r.complete()) {
      absl::StrAppend(&actual, " (", l.incomplete, ")");
    }
    rows.push_back(
        {d.User(r.name()),
         d.Ours(FormatAmount(r.target_value(), r.unit(), lang)),
         d.Ours(FormatAmount(r.expected_value(), r.unit(), lang)),
         d.Ours(actual),
         OptionalPercent(r.has_attainment_target(), r.attainment_target(),
                         lang),
         OptionalPercent(r.has_attainment_trajectory(),
                         r.attainment_trajectory(), lang),
         d.Rating(r.rating()),
         d.Ours(r.has_forecast_value()
                    ? FormatAmount(r.forecast_value(), r.unit(), lang)
                    : l.insufficient_data),
         FormatNumber(r.indicator_ids_size(), 0, lang)});
  }
  d.Table({l.indicator, l.target, l.expected, l.actual, l.attainment_target,
           l.attainment_trajectory, l.rating, l.forecast, l.summed},
          rows, {false, true, true, true, true, true, false, true, true});
  d.EndSection();
}

void WriteActionRefs(
    Doc& d, const char* title,
    const google::protobuf::RepeatedPtrField<v1::ActionRef>& refs,
    int64_t count, const v1::ReportContent& c) {
  if (refs.empty()) return;
  d.Heading(title);
  std::vector<ListItem> items;
  for (const auto& a : refs) {
    ListItem item{d.User(a.title())};
    const std::string eco = EcosystemName(c, a.ecosystem_id());
    if (!eco.empty()) absl::StrAppend(&item.text, " (", d.User(eco), ")");
    items.push_back(std::move(item));
  }
  if (count > refs.size()) {
    items.push_back({MoreText(count - refs.size(), d.lang())});
  }
  d.List(items);
}

void WriteChanges(Doc& d, const v1::Report& report) {
  const Labels& l = d.labels();
  const auto& ch = report.changes();
  d.Section(l.changes);
  if (ch.previous_report_id().empty()) {
    d.Paragraph(l.first_report);
  } else {
    d.Paragraph(absl::StrCat(l.previous_report, l.colon, " ",
                             d.Code(d.User(ch.previous_report_id()))));
  }
  if (ch.rating_changes().empty() && ch.completed_actions().empty() &&
      ch.newly_late_actions().empty() && ch.new_top_blockers().empty()) {
    d.Paragraph(l.no_changes);
    d.EndSection();
    return;
  }
  if (!ch.rating_changes().empty()) {
    d.Heading(l.rating_changes);
    std::vector<ListItem> items;
    for (const auto& r : ch.rating_changes()) {
      items.push_back(
          {absl::StrCat(d.User(r.name()), l.colon, " ", d.Rating(r.previous()),
                        " \xE2\x86\x92 ", d.Rating(r.current()))});
    }
    d.List(items);
  }
  WriteActionRefs(d, l.completed_actions, ch.completed_actions(),
                  ch.completed_count(), report.content());
  WriteActionRefs(d, l.newly_late, ch.newly_late_actions(),
                  ch.newly_late_count(), report.content());
  if (!ch.new_top_blockers().empty()) {
    d.Heading(l.new_top_blockers);
    std::vector<ListItem> items;
    for (const auto& b : ch.new_top_blockers()) {
      items.push_back({absl::StrCat(d.User(b.title()), " (", l.endorsements,
                                    l.colon, " ", b.endorsement_count(), ")")});
    }
    d.List(items);
  }
  d.EndSection();
}

// The whole report, in the order both formats show it.
void WriteReport(Doc& d, const v1::Report& report) {
  const Labels& l = d.labels();
  const auto& c = report.content();
  d.Begin(
      report,
      {{absl::StrCat(l.period, l.colon, " ", d.User(report.period().label()),
                     " (", DateText(report.period().start_date()), " ", kDash,
                     " ", DateText(report.period().end_date()), ")")},
       {absl::StrCat(l.as_of, l.colon, " ", DateText(c.as_of()))},
       {absl::StrCat(l.generated, l.colon, " ",
                     TimestampText(report.generate_time()), " ", l.by, " ",
                     d.User(GeneratedByText(report, l)))},
       {absl::StrCat(l.sequence, " ", report.sequence(), l.colon, " ",
                     d.Code(d.User(report.id())))},
       {absl::StrCat(l.content_hash, l.colon, " ",
                     d.Code(d.User(report.content_sha256())))}});
  for (const auto& e : c.ecosystems()) {
    d.Section(absl::StrCat(l.ecosystem, l.colon, " ", d.User(e.name())),
              "ecosystem");
    d.Heading(l.indicators);
    WriteIndicators(d, e.indicators());
    WriteActions(d, e.actions(), &e);
    WriteFeedback(d, e.feedback());
    d.EndSection();
  }
  if (!c.roadmap_indicators().empty()) {
    d.Section(l.roadmap_indicators);
    WriteIndicators(d, c.roadmap_indicators());
    d.EndSection();
  }
  WriteRollups(d, c);
  d.Section(l.whole_roadmap);
  WriteActions(d, c.actions(), nullptr);
  WriteFeedback(d, c.feedback());
  d.EndSection();
  WriteChanges(d, report);
  d.End();
}

// CommonMark with GitHub's tables.
class MarkdownDoc : public Doc {
 public:
  using Doc::Doc;

  std::string User(const std::string& text) const override {
    return MdEscape(text);
  }
  std::string Ours(const std::string& text) const override {
    return std::string(text);
  }
  std::string Strong(const std::string& markup) const override {
    return absl::StrCat("**", markup, "**");
  }
  std::string Code(const std::string& markup) const override {
    return absl::StrCat("`", markup, "`");
  }
  std::string Rating(v1::Rating rating) const override {
    return RatingLabel(rating, lang());
  }

  void Begin(const v1::Report& report,
             const std::vector<ListItem>& facts) override {
    absl::StrAppend(&out_, "# ", labels().report, " ", kDash, " ",
                    User(report.content().roadmap_title()), "\n\n");
    List(facts);
  }
  void End() override {}
  void Section(const std::string& title, const std::string&) override {
    absl::StrAppend(&out_, "## ", title, "\n\n");
  }
  void EndSection() override {}
  void Heading(const std::string& title) override {
    absl::StrAppend(&out_, "### ", title, "\n\n");
  }
  void Paragraph(const std::string& markup) override {
    absl::StrAppend(&out_, markup, "\n\n");
  }
  void Lines(const std::vector<std::string>& lines) override {
    for (const auto& line : lines) absl::StrAppend(&out_, "- ", line, "\n");
    out_ += '\n';
  }
  void List(const std::vector<ListItem>& items) override {
    for (const auto& item : items) {
      absl::StrAppend(&out_, "- ", item.text, "\n");
      for (const auto& sub : item.sub)
        absl::StrAppend(&out_, "  - ", sub, "\n");
    }
    out_ += '\n';
  }
  void Table(const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows,
             const std::vector<bool>&) override {
    absl::StrAppend(&out_, "| ", absl::StrJoin(header, " | "), " |\n|");
    for (size_t i = 0; i < header.size(); ++i) out_ += " --- |";
    out_ += '\n';
    for (const auto& row : rows) {
      absl::StrAppend(&out_, "| ", absl::StrJoin(row, " | "), " |\n");
    }
    out_ += '\n';
  }
  // No charts: the unverified figures of all the indicators, listed apart.
  void Trajectories(
      const google::protobuf::RepeatedPtrField<v1::IndicatorReport>& indicators)
      override {
    const Labels& l = labels();
    std::vector<ListItem> unverified;
    for (const auto& i : indicators) {
      for (const auto& p : i.unverified()) {
        unverified.push_back(
            {absl::StrCat(User(i.name()), l.colon, " ",
                          FormatAmount(p.value(), i.unit(), lang()), " (",
                          DateText(p.date()), ")")});
      }
    }
    if (unverified.empty()) return;
    Paragraph(absl::StrCat(l.unverified_apart, l.colon));
    List(unverified);
  }
};

// One self-contained page: inline CSS and SVG, nothing loaded or run.
class HtmlDoc : public Doc {
 public:
  using Doc::Doc;

  std::string User(const std::string& text) const override {
    return HtmlEscape(text);
  }
  std::string Ours(const std::string& text) const override {
    return HtmlEscape(text);
  }
  std::string Strong(const std::string& markup) const override {
    return absl::StrCat("<strong>", markup, "</strong>");
  }
  std::string Code(const std::string& markup) const override {
    return absl::StrCat("<code>", markup, "</code>");
  }
  std::string Rating(v1::Rating rating) const override {
    return absl::StrCat("<span class=\"rating rating-", ShortName(rating),
                        "\">", HtmlEscape(RatingLabel(rating, lang())),
                        "</span>");
  }

  void Begin(const v1::Report& report,
             const std::vector<ListItem>& facts) override {
    const std::string title =
        absl::StrCat(labels().report, " ", kDash, " ",
                     HtmlEscape(report.content().roadmap_title()), " ", kDash,
                     " ", HtmlEscape(report.period().label()));
    absl::StrAppend(
        &out_, "<!DOCTYPE html>\n<html lang=\"",
        IsEnglish(lang()) ? "en" : "fr",
        "\">\n<head>\n<meta charset=\"utf-8\">\n",
        // Nothing may load or run, even if some user text slipped through.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
        "'none'; style-src 'unsafe-inline'\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\">\n<title>",
        title, "</title>\n<style>", kCss, "</style>\n</head>\n<body>\n");
    absl::StrAppend(&out_, "<header>\n<h1>", title, "</h1>\n");
    List(facts);
    out_ += "</header>\n";
  }
  void End() override { out_ += "</body>\n</html>\n"; }
  void Section(const std::string& title,
               const std::string& css_class) override {
    if (css_class.empty()) {
      out_ += "<section>\n";
    } else {
      absl::StrAppend(&out_, "<section class=\"", css_class, "\">\n");
    }
    absl::StrAppend(&out_, "<h2>", title, "</h2>\n");
  }
  void EndSection() override { out_ += "</section>\n"; }
  void Heading(const std::string& title) override {
    absl::StrAppend(&out_, "<h3>", title, "</h3>\n");
  }
  void Paragraph(const std::string& markup) override {
    absl::StrAppend(&out_, "<p>", markup, "</p>\n");
  }
  void Lines(const std::vector<std::string>& lines) override {
    Paragraph(absl::StrJoin(lines, "<br>"));
  }
  void List(const std::vector<ListItem>& items) override {
    out_ += "<ul>\n";
    for (const auto& item : items) {
      absl::StrAppend(&out_, "<li>", item.text);
      if (!item.sub.empty()) {
        absl::StrAppend(&out_, "<br>", item.sub_caption, "<ul>");
        for (const auto& sub : item.sub) {
          absl::StrAppend(&out_, "<li>", sub, "</li>");
        }
        out_ += "</ul>";
      }
      out_ += "</li>\n";
    }
    out_ += "</ul>\n";
  }
  void Table(const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows,
             const std::vector<bool>& numeric) override {
    out_ += "<table><thead><tr>";
    for (const auto& h : header) absl::StrAppend(&out_, "<th>", h, "</th>");
    out_ += "</tr></thead><tbody>\n";
    for (const auto& row : rows) {
      out_ += "<tr>";
      for (size_t k = 0; k < row.size(); ++k) {
        const bool num = k < numeric.size() && numeric[k];
        absl::StrAppend(&out_, num ? "<td class=\"num\">" : "<td>", row[k],
                        "</td>");
      }
      out_ += "</tr>\n";
    }
    out_ += "</tbody></table>\n";
  }
  void StatusBars(const v1::EcosystemReport& e) override {
    out_ += StatusBarsSvg(e, lang());
  }
  // A chart per indicator, its unverified figures under it.
  void Trajectories(
      const google::protobuf::RepeatedPtrField<v1::IndicatorReport>& indicators)
      override {
    const Labels& l = labels();
    for (const auto& i : indicators) {
      absl::StrAppend(&out_, "<figure><figcaption>", HtmlEscape(i.name()),
                      "</figcaption>\n", TrajectorySvg(i, lang()));
      if (!i.unverified().empty()) {
        std::vector<std::string> figures;
        for (const auto& p : i.unverified()) {
          figures.push_back(absl::StrCat(
              HtmlEscape(FormatAmount(p.value(), i.unit(), lang())), " (",
              DateText(p.date()), ")"));
        }
        Paragraph(absl::StrCat(l.unverified_apart, l.colon, " ",
                               absl::StrJoin(figures, "; ")));
      }
      out_ += "</figure>\n";
    }
  }
};

std::vector<v1::ExportedFile> ExportDocument(Doc&& doc,
                                             const v1::Report& report,
                                             const std::string& extension,
                                             std::string content_type) {
  WriteReport(doc, report);
  std::vector<v1::ExportedFile> files;
  files.push_back(MakeFile(absl::StrCat("report-", report.id(), extension),
                           std::move(content_type), doc.Take()));
  return files;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

absl::StatusOr<std::vector<v1::ExportedFile>> ExportReport(
    const v1::Report& report, v1::ExportFormat format, Language language) {
  switch (format) {
    case v1::EXPORT_FORMAT_JSON:
      return ExportJson(report);
    case v1::EXPORT_FORMAT_CSV:
      return ExportCsv(report);
    case v1::EXPORT_FORMAT_MARKDOWN:
      return ExportDocument(MarkdownDoc(language), report, ".md",
                            "text/markdown; charset=utf-8");
    case v1::EXPORT_FORMAT_HTML:
      return ExportDocument(HtmlDoc(language), report, ".html",
                            "text/html; charset=utf-8");
    default:
      return InvalidField("format",
                          "must be one of JSON, CSV, MARKDOWN or HTML");
  }
}

std::string FormatNumber(double value, int decimals, Language lang) {
  return Localize(FixedDigits(value, std::clamp(decimals, 0, 9)), lang);
}

std::string FormatAmount(double value, IndicatorUnit unit, Language lang) {
  switch (unit) {
    case roadmap::v1::INDICATOR_UNIT_JOBS:
      return FormatJobs(value, lang);
    case roadmap::v1::INDICATOR_UNIT_MAD:
      return FormatMad(value, lang);
    case roadmap::v1::INDICATOR_UNIT_PERCENT:
      return FormatUpTo(value, 1, lang) + (IsEnglish(lang) ? "%" : " %");
    default:
      return FormatUpTo(value, 2, lang);
  }
}

std::string FormatPercent(double ratio, Language lang) {
  // Down, not to the nearest: 0.9496 must not read "95 %" beside a rating
  // that 95 % would have made green.
  const double percent = std::floor(ratio * 100 + 1e-9);
  return FormatNumber(percent, 0, lang) + (IsEnglish(lang) ? "%" : " %");
}

}  // namespace jalon::reporting
