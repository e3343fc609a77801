#include "services/reporting/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "services/common/dates.h"
#include "services/common/entity_ops.h"
#include "services/common/ids.h"
#include "services/common/logging.h"
#include "services/common/requests.h"
#include "services/common/status.h"
#include "services/reporting/export.h"
#include "services/reporting/report.h"

namespace jalon::reporting {
namespace {

namespace rm = ::jalon::roadmap::v1;

constexpr char kReport[] = "report";
constexpr char kReportSummary[] = "report_summary";  // without content
constexpr char kFeedKey[] = "feed_key";
constexpr char kSchedule[] = "schedule";

// Compare-and-set of hash fields, each plus, when it is set, one status
// update appended to the stream. KEYS[1] hash, KEYS[2] stream, then the
// guard keys. ARGV[1] maxlen, then groups of seven: field, expected ("" =
// absent), new value, update ("" = none), and a guard: field ("" = none:
// else the group's guard key is the next in KEYS), expected value ("" =
// absent), new value ("" = leave it). Returns one 1 (set) or 0 (not
// `expected`, or the guard not) per group.
constexpr char kAnnounceLua[] = R"lua(
local done = {}
local guard = 2
for i = 2, #ARGV, 7 do
  local ok = (redis.call('HGET', KEYS[1], ARGV[i]) or '') == ARGV[i + 1]
  local g
  if ARGV[i + 4] ~= '' then
    guard = guard + 1
    g = KEYS[guard]
    ok = ok and (redis.call('HGET', g, ARGV[i + 4]) or '') == ARGV[i + 5]
  end
  if ok then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    if g and ARGV[i + 6] ~= '' then redis.call('HSET', g, ARGV[i + 4], ARGV[i + 6]) end
    if ARGV[i + 3] ~= '' then
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i + 3])
    end
    done[#done + 1] = 1
  else
    done[#done + 1] = 0
  end
end
return done
)lua";

const RedisScript& AnnounceScript() {
  static const RedisScript* s = new RedisScript(kAnnounceLua);
  return *s;
}

std::string HeadKey(const std::string& roadmap_id) {
  return absl::StrCat(Keys::Prefix(), "report-head:", roadmap_id);
}
std::string ScheduledGuard(const std::string& roadmap_id,
                           const std::string& label) {
  return absl::StrCat(Keys::Prefix(), "scheduled:", roadmap_id, ":", label);
}
std::string FeedSecretKey(const std::string& hash) {
  return absl::StrCat(Keys::Prefix(), "feed-secret:", hash);
}
// The DONE actions a report saw, for the next report's "completed since".
std::string DoneSnapshotKey(const std::string& report_id) {
  return absl::StrCat(Keys::Prefix(), "report-done:", report_id);
}
// The late actions a report saw, for the next report's "newly late".
std::string LateSnapshotKey(const std::string& report_id) {
  return absl::StrCat(Keys::Prefix(), "report-late:", report_id);
}
std::string SchedulesIndex() { return Keys::Prefix() + "schedules"; }
std::string FeedKeysIndex() { return Keys::Prefix() + "feed-keys"; }
std::string ReportsIndex(const std::string& roadmap_id) {
  return absl::StrCat(Keys::Prefix(), "reports:", roadmap_id);
}

std::string RatingShort(pb::Rating r) {
  return pb::Rating_Name(r).substr(std::string("RATING_").size());
}

// "ms-seq" with both parts unsigned 64-bit numbers, as Redis accepts them.
bool IsStreamId(const std::string& s) {
  const auto dash = s.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == s.size()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != dash && !absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  uint64_t ms = 0, seq = 0;
  return absl::SimpleAtoi(s.substr(0, dash), &ms) &&
         absl::SimpleAtoi(s.substr(dash + 1), &seq);
}

bool Matches(const pb::StatusFilter& f, const pb::StatusUpdate& u) {
  if (!f.roadmap_id().empty() && f.roadmap_id() != u.roadmap_id()) {
    return false;
  }
  if (!f.ecosystem_id().empty() && f.ecosystem_id() != u.ecosystem_id()) {
    return false;
  }
  if (f.kinds_size() == 0) return true;
  return std::find(f.kinds().begin(), f.kinds().end(), u.kind()) !=
         f.kinds().end();
}

// The status update carried by a stream entry, if it is one.
bool UpdateOf(const StreamEntry& entry, pb::StatusUpdate* out) {
  events::v1::Event e;
  if (!e.ParseFromString(entry.payload) ||
      !absl::StartsWith(e.type(), "reporting.status.") ||
      !e.state().UnpackTo(out)) {
    return false;
  }
  out->set_cursor(entry.id);
  return true;
}

}  // namespace

Actor SchedulerActor() {
  Actor a;
  a.set_principal_id("jalon-reporting");
  a.set_principal_name("jalon-reporting scheduler");
  a.set_role(common::v1::ROLE_ADMIN);
  return a;
}

ReportingService::ReportingService(RedisClient* redis, ReadModel* models,
                                   const Clock* clock, ReportingOptions options)
    : redis_(redis),
      models_(models),
      clock_(clock),
      options_(options),
      store_(redis,
             {Keys::Stream(), Keys::WakeupChannel(), options.stream_max_len},
             Keys::Prefix()) {}

// --- Reports -----------------------------------------------------------------

absl::StatusOr<std::vector<pb::StreamPosition>> ReportingService::Positions() {
  std::vector<pb::StreamPosition> out;
  for (const char* stream : {kRoadmapStream, kFeedbackStream}) {
    pb::StreamPosition p;
    p.set_stream(stream);
    auto r = redis_->Command({"XINFO", "GROUPS", stream});
    if (!r.ok()) return r.status();
    // No stream yet: nothing consumed, nothing to consume.
    if (r->is_error() && !IsNoSuchKeyReply(*r)) {
      return StatusOfErrorReply(*r, "positions");
    }
    for (const auto& g : r->elements()) {
      const RedisReply* name = g.Field("name");
      if (name == nullptr || name->str() != kGroup) continue;
      if (const RedisReply* f = g.Field("last-delivered-id")) {
        p.set_last_delivered_id(f->str());
      }
      if (const RedisReply* f = g.Field("pending")) p.set_pending(f->integer());
      if (const RedisReply* f = g.Field("lag")) p.set_lag(f->integer());
    }
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<ReportingService::ActionChanges>
ReportingService::ChangedActions(const ModelKeys& keys, const std::string& now,
                                 const std::string& then) {
  ActionChanges out;
  auto ids = redis_->Command({"ZDIFF", "2", now, then});
  if (!ids.ok()) return ids.status();
  if (ids->is_error()) return StatusOfErrorReply(*ids, "ZDIFF");
  out.count = static_cast<int64_t>(ids->elements().size());
  std::vector<RedisArgs> gets;
  for (const auto& id : ids->elements()) {
    if (static_cast<int>(gets.size()) == kListLimit) break;
    gets.push_back({"HGET", keys.Entity("action", id.str()), "d"});
  }
  if (gets.empty()) return out;
  auto actions = Checked(redis_->Pipeline(gets), "changed_actions");
  if (!actions.ok()) return actions.status();
  for (const auto& a : *actions) {
    rm::Action action;
    if (a.is_nil() || !action.ParseFromString(a.str())) continue;
    pb::ActionRef ref;
    ref.set_action_id(action.id());
    ref.set_title(action.title());
    ref.set_ecosystem_id(action.ecosystem_id());
    out.listed.push_back(std::move(ref));
  }
  return out;
}

absl::StatusOr<pb::Report> ReportingService::Generate(
    const Actor& actor, const std::string& roadmap_id, const pb::Period& period,
    pb::ReportTrigger trigger, const std::string& request_id) {
  const std::string head_key = HeadKey(roadmap_id);
  for (int attempt = 1;; ++attempt) {
    const auto now = clock_->Now();
    const Date today = DateOf(now);
    auto head =
        Checked(redis_->Command({"HMGET", head_key, "v", "d"}), "report_head");
    if (!head.ok()) return head.status();
    int64_t seq = 0;
    std::string previous_id;
    if (head->is_array() && head->elements().size() == 2 &&
        !head->elements()[0].is_nil()) {
      (void)absl::SimpleAtoi(head->elements()[0].str(), &seq);
      previous_id = head->elements()[1].str();
    }
    std::optional<pb::Report> previous;
    if (!previous_id.empty()) {
      auto p = LoadReport(previous_id);
      if (!p.ok()) return p.status();
      previous = *std::move(p);
    }
    // The figures are as of the end of the period, or today if it is not
    // over: a report on a past period counts no later measurement.
    const Date as_of =
        CompareDates(period.end_date(), today) < 0 ? period.end_date() : today;
    // Positions first: the models reflect at least what was delivered then.
    auto positions = Positions();
    if (!positions.ok()) return positions.status();
    auto keys = models_->Current();
    if (!keys.ok()) return keys.status();
    auto data = LoadRoadmap(redis_, *keys, roadmap_id, as_of);
    if (absl::IsAborted(data.status()) && attempt < kMaxAttempts) continue;
    if (!data.ok()) return data.status();
    pb::Report report;
    report.set_id(NewUlid());
    report.set_roadmap_id(roadmap_id);
    *report.mutable_period() = period;
    *report.mutable_generate_time() = ToTimestamp(now);
    *report.mutable_generated_by() = actor;
    for (auto& p : *positions) *report.add_positions() = std::move(p);
    *report.mutable_content() =
        Compute(*data, period, as_of, options_.thresholds);
    report.set_content_sha256(ContentSha256(report.content()));
    // Actions completed, and actions late, since the previous report: in
    // the snapshots this report keeps of what it saw and not in the
    // previous report's (exact, however long the lists).
    const std::string done_snapshot = DoneSnapshotKey(report.id());
    const std::string late_snapshot = LateSnapshotKey(report.id());
    if (snapshot_hook_) snapshot_hook_();
    // The generation read last: still the one the copies were made from, so
    // a rebuild did not drop their sources first (they would be empty).
    auto snapshots = redis_->Pipeline(
        {{"COPY", keys->Done(roadmap_id), done_snapshot, "REPLACE"},
         {"ZRANGESTORE", late_snapshot, keys->OpenDue(roadmap_id, "*"), "-inf",
          absl::StrCat("(", DaysFromCivil(as_of)), "BYSCORE"},
         {"HGET", Keys::Generation(), "v"}});
    if (!snapshots.ok()) return snapshots.status();
    for (const auto& r : *snapshots) {
      if (r.is_error()) return StatusOfErrorReply(r, "ZRANGESTORE");
    }
    auto drop_snapshots = [&] {
      (void)redis_->Command({"DEL", done_snapshot, late_snapshot});
    };
    if ((*snapshots)[2].str() != std::to_string(keys->generation())) {
      drop_snapshots();
      if (attempt < kMaxAttempts) continue;
      return WithReason(
          absl::AbortedError("the read models were rebuilt while reading"),
          "MODELS_SWITCHED");
    }
    ActionChanges completed, newly_late;
    if (previous) {
      auto c =
          ChangedActions(*keys, done_snapshot, DoneSnapshotKey(previous->id()));
      auto l =
          ChangedActions(*keys, late_snapshot, LateSnapshotKey(previous->id()));
      if (!c.ok() || !l.ok()) {
        drop_snapshots();
        return !c.ok() ? c.status() : l.status();
      }
      completed = *std::move(c);
      newly_late = *std::move(l);
    }
    *report.mutable_changes() =
        Diff(previous ? &*previous : nullptr, report.content());
    auto* ch = report.mutable_changes();
    for (auto& a : completed.listed)
      *ch->add_completed_actions() = std::move(a);
    ch->set_completed_count(completed.count);
    for (auto& a : newly_late.listed) {
      *ch->add_newly_late_actions() = std::move(a);
    }
    ch->set_newly_late_count(newly_late.count);
    report.set_trigger(trigger);
    report.set_sequence(seq + 1);

    pb::StatusUpdate u;
    u.set_kind(pb::STATUS_KIND_REPORT_GENERATED);
    u.set_roadmap_id(roadmap_id);
    *u.mutable_time() = report.generate_time();
    u.set_subject_id(report.id());
    u.set_title(absl::StrCat(data->roadmap.title(), " — ", period.label()));
    u.set_period(period.label());
    u.set_summary(absl::StrCat("Report ", report.sequence(), " for ",
                               period.label(), " of \"", data->roadmap.title(),
                               "\" generated"));

    Mutation m;
    if (!request_id.empty()) {
      m.Dedupe(store_.RequestKey(actor.principal_id(), kReport, request_id),
               report.id(), kRequestTtlSeconds);
    }
    if (trigger == pb::REPORT_TRIGGER_SCHEDULED) {
      const std::string guard = ScheduledGuard(roadmap_id, period.label());
      m.ExpectAbsent(guard, "scheduled report " + period.label());
      m.Set(guard, report.id());
    }
    m.ExpectVersion(head_key, seq, "report sequence");
    m.Put(head_key, seq + 1, report.id());
    m.Put(store_.EntityKey(kReport, report.id()), 1,
          report.SerializeAsString());
    // What ListReports shows, apart, so a page does not carry contents.
    pb::Report summary = report;
    summary.clear_content();
    summary.clear_changes();
    m.Put(store_.EntityKey(kReportSummary, report.id()), 1,
          summary.SerializeAsString());
    m.IndexAdd(ReportsIndex(roadmap_id), report.id());
    if (previous) {
      // Only the newest report's snapshots are ever diffed against.
      m.Delete(DoneSnapshotKey(previous->id()));
      m.Delete(LateSnapshotKey(previous->id()));
    }
    m.AddEvent(WrapUpdate(u));
    auto r = store_.Commit(m);
    // Not a report after all: drop what it kept. Unless the commit may have
    // run with its answer lost: then this report may be the newest, and the
    // next one diffs against its snapshots (two keys left behind if not).
    if (r.ok() ? r->duplicate : CommitRefused(r.status())) drop_snapshots();
    if (r.ok()) {
      if (r->duplicate) return LoadReport(r->duplicate_value);
      spdlog::info("msg=report_generated report={} roadmap={} period={} seq={}",
                   report.id(), roadmap_id, period.label(), report.sequence());
      return report;
    }
    // Another report of this roadmap was generated meanwhile: diff against
    // it instead.
    if (absl::IsAborted(r.status()) && attempt < kMaxAttempts) continue;
    return r.status();
  }
}

absl::Status ReportingService::GenerateReport(
    const CallContext& c, const pb::GenerateReportRequest& req,
    pb::GenerateReportResponse* resp) {
  Violations v;
  if (req.roadmap_id().empty()) v.Add("roadmap_id", "must be set");
  auto period = ParsePeriod(req.period());
  if (!period.ok()) {
    for (auto& f : ViolationsOf(period.status())) v.Add(f.field, f.description);
  } else if (const Date today = DateOf(clock_->Now());
             CompareDates(period->start_date(), today) > 0) {
    // It would show today's figures under a label to come, for good (a
    // report is immutable), and head the chain the next one compares with.
    v.Add("period", absl::StrCat("has not begun: it starts on ",
                                 FormatDate(period->start_date()),
                                 ", and today is ", FormatDate(today)));
  }
  if (auto s = ValidateRequestId(req.request_id()); !s.ok()) {
    v.Add("request_id", std::string(s.message()));
  }
  if (!v.empty()) return v.ToStatus();
  auto report = Generate(c.principal, req.roadmap_id(), *period,
                         pb::REPORT_TRIGGER_MANUAL, req.request_id());
  if (!report.ok()) return report.status();
  *resp->mutable_report() = *std::move(report);
  return absl::OkStatus();
}

absl::StatusOr<pb::Report> ReportingService::GenerateScheduled(
    const std::string& roadmap_id, const pb::Period& period) {
  auto exists = Checked(
      redis_->Command({"EXISTS", ScheduledGuard(roadmap_id, period.label())}),
      "scheduled_guard");
  if (!exists.ok()) return exists.status();
  if (exists->integer() == 1) {
    return absl::AlreadyExistsError("scheduled report already generated");
  }
  return Generate(SchedulerActor(), roadmap_id, period,
                  pb::REPORT_TRIGGER_SCHEDULED, "");
}

absl::StatusOr<std::vector<pb::Period>> ReportingService::DueScheduledPeriods(
    const std::string& roadmap_id, const pb::ReportSchedule& schedule,
    const Date& today) {
  // The last complete period, and before it those that ended while the
  // schedule was in force but got no report (every replica down past the
  // next period's end): oldest first, at most kMaxCatchUp of them.
  constexpr int kMaxCatchUp = 12;
  const auto& set = schedule.audit().update_time();
  const Date since = set.seconds() > 0
                         ? DateOf(std::chrono::system_clock::time_point(
                               std::chrono::seconds(set.seconds())))
                         : today;  // not known: no catching up
  std::vector<pb::Period> due = {
      LastCompletePeriod(schedule.frequency(), today)};
  for (int n = 1; n < kMaxCatchUp; ++n) {
    pb::Period before =
        LastCompletePeriod(schedule.frequency(), due.back().start_date());
    if (CompareDates(before.end_date(), since) < 0) break;
    auto exists = Checked(
        redis_->Command({"EXISTS", ScheduledGuard(roadmap_id, before.label())}),
        "scheduled_guard");
    if (!exists.ok()) return exists.status();
    if (exists->integer() == 1) break;
    due.push_back(std::move(before));
  }
  if (due.size() > 1) {
    spdlog::warn(
        "msg=scheduled_reports_missed roadmap={} periods={} from={} to={} "
        "action=generating_now",
        LogValue(roadmap_id), due.size() - 1, due.back().label(),
        due[1].label());
  }
  std::reverse(due.begin(), due.end());
  return due;
}

absl::StatusOr<pb::Report> ReportingService::LoadReport(const std::string& id) {
  auto s = store_.Get(kReport, id);
  if (!s.ok()) return s.status();
  pb::Report r;
  if (!r.ParseFromString(s->data)) return Corrupt(kReport);
  return r;
}

absl::Status ReportingService::GetReport(const CallContext&,
                                         const pb::GetReportRequest& req,
                                         pb::GetReportResponse* resp) {
  if (req.id().empty()) return InvalidField("id", "must be set");
  auto r = LoadReport(req.id());
  if (!r.ok()) return r.status();
  *resp->mutable_report() = *std::move(r);
  return absl::OkStatus();
}

absl::Status ReportingService::ListReports(const CallContext&,
                                           const pb::ListReportsRequest& req,
                                           pb::ListReportsResponse* resp) {
  if (req.roadmap_id().empty())
    return InvalidField("roadmap_id", "must be set");
  auto size = PageSize(req.page_size());
  if (!size.ok()) return size.status();
  auto after = DecodeToken(req.page_token());
  if (!after.ok()) return after.status();
  // Newest first: ULIDs in reverse lexicographic order.
  auto ids =
      Checked(redis_->Command({"ZREVRANGEBYLEX", ReportsIndex(req.roadmap_id()),
                               after->empty() ? "+" : "(" + *after, "-",
                               "LIMIT", "0", std::to_string(*size + 1)}),
              "list_reports");
  if (!ids.ok()) return ids.status();
  std::vector<std::string> list;
  for (const auto& e : ids->elements()) list.push_back(e.str());
  const bool more = static_cast<int>(list.size()) > *size;
  if (more) list.resize(*size);
  auto stored = store_.GetMany(kReportSummary, list);
  if (!stored.ok()) return stored.status();
  for (const auto& s : *stored) {
    if (s.version == 0) continue;
    if (!resp->add_reports()->ParseFromString(s.data)) {
      return Corrupt(kReportSummary);
    }
  }
  if (more) resp->set_next_page_token(EncodeToken(list.back()));
  return absl::OkStatus();
}

absl::Status ReportingService::ExportReport(const CallContext&,
                                            const pb::ExportReportRequest& req,
                                            pb::ExportReportResponse* resp) {
  if (req.id().empty()) return InvalidField("id", "must be set");
  if (req.format() == pb::EXPORT_FORMAT_UNSPECIFIED ||
      !pb::ExportFormat_IsValid(req.format())) {
    return InvalidField("format", "must be JSON, CSV, MARKDOWN or HTML");
  }
  if (!pb::Language_IsValid(req.language())) {
    return InvalidField("language", "must be FR or EN");
  }
  auto r = LoadReport(req.id());
  if (!r.ok()) return r.status();
  auto files = reporting::ExportReport(*r, req.format(), req.language());
  if (!files.ok()) return files.status();
  for (auto& f : *files) *resp->add_files() = std::move(f);
  return absl::OkStatus();
}

absl::Status ReportingService::GetRoadmapStatus(
    const CallContext&, const pb::GetRoadmapStatusRequest& req,
    pb::GetRoadmapStatusResponse* resp) {
  if (req.roadmap_id().empty()) {
    return InvalidField("roadmap_id", "must be set");
  }
  const Date today = DateOf(clock_->Now());
  auto positions = Positions();
  if (!positions.ok()) return positions.status();
  absl::StatusOr<RoadmapData> data;
  for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
    auto keys = models_->Current();
    if (!keys.ok()) return keys.status();
    data = LoadRoadmap(redis_, *keys, req.roadmap_id(), today);
    if (!absl::IsAborted(data.status())) break;
  }
  if (!data.ok()) return data.status();
  auto period = ParsePeriod(absl::StrCat(
      today.year(), today.month() < 10 ? "-0" : "-", today.month()));
  *resp->mutable_content() =
      Compute(*data, *period, today, options_.thresholds);
  for (auto& p : *positions) *resp->add_positions() = std::move(p);
  return absl::OkStatus();
}

// --- Schedules ---------------------------------------------------------------

absl::Status ReportingService::SetReportSchedule(
    const CallContext& c, const pb::SetReportScheduleRequest& req,
    pb::SetReportScheduleResponse* resp) {
  const pb::ReportSchedule& in = req.schedule();
  Violations v;
  if (in.roadmap_id().empty()) v.Add("schedule.roadmap_id", "must be set");
  if (in.frequency() == pb::SCHEDULE_FREQUENCY_UNSPECIFIED ||
      !pb::ScheduleFrequency_IsValid(in.frequency())) {
    v.Add("schedule.frequency", "must be NONE, MONTHLY, QUARTERLY or YEARLY");
  }
  const auto expected = ParseEtag(in.etag());
  if (!expected.ok()) {
    v.Add("schedule.etag",
          "is not an etag this service issued; read the schedule again");
  }
  if (!v.empty()) return v.ToStatus();
  auto keys = models_->Current();
  if (!keys.ok()) return keys.status();
  auto known = Checked(
      redis_->Command({"EXISTS", keys->Entity("roadmap", in.roadmap_id())}),
      "schedule_roadmap");
  if (!known.ok()) return known.status();
  if (known->integer() == 0) {
    return InvalidField("schedule.roadmap_id",
                        "no such roadmap (or not yet seen by reporting)");
  }
  EntityOps ops(&store_, clock_, c);
  for (int attempt = 1;; ++attempt) {
    auto cur = ops.Load<pb::ReportSchedule>(kSchedule, in.roadmap_id());
    if (!cur.ok() && !absl::IsNotFound(cur.status())) return cur.status();
    const int64_t version = cur.ok() ? cur->version : 0;
    // With an etag, the schedule it was read at, as every update.
    if (*expected != 0 && version != *expected) {
      return WithReason(
          absl::AbortedError(absl::StrCat(
              "schedule of ", in.roadmap_id(), " is at etag ", version,
              ", not ", *expected, "; read it again and retry")),
          "STALE_ETAG");
    }
    // The same frequency again (a retry): nothing to write.
    if (cur.ok() && cur->value.frequency() == in.frequency()) {
      *resp->mutable_schedule() = cur->value;
      return absl::OkStatus();
    }
    pb::ReportSchedule next = cur.ok() ? cur->value : pb::ReportSchedule();
    next.set_roadmap_id(in.roadmap_id());
    next.set_frequency(in.frequency());
    next.set_etag(std::to_string(version + 1));
    if (version == 0) {
      ops.StampCreate(next.mutable_audit());
    } else {
      ops.StampUpdate(next.mutable_audit());
    }
    Mutation m;
    const std::string key = store_.EntityKey(kSchedule, in.roadmap_id());
    m.ExpectVersion(key, version, kSchedule);
    m.Put(key, version + 1, next.SerializeAsString());
    m.IndexAdd(SchedulesIndex(), in.roadmap_id());
    m.AddEvent(ops.Event("reporting.schedule.set", kSchedule, in.roadmap_id(),
                         version + 1, {"frequency"}, next, in.roadmap_id()));
    auto r = store_.Commit(m);
    if (r.ok()) {
      *resp->mutable_schedule() = std::move(next);
      return absl::OkStatus();
    }
    if (!absl::IsAborted(r.status()) || attempt >= kMaxAttempts) {
      return r.status();
    }
  }
}

absl::Status ReportingService::ListReportSchedules(
    const CallContext& c, const pb::ListReportSchedulesRequest& req,
    pb::ListReportSchedulesResponse* resp) {
  EntityOps ops(&store_, clock_, c);
  std::string next;
  auto s = ops.List<pb::ReportSchedule>(
      kSchedule, SchedulesIndex(), req.page_size(), req.page_token(),
      [](pb::ReportSchedule&) { return true; }, resp->mutable_schedules(),
      &next);
  resp->set_next_page_token(next);
  return s;
}

// --- Feed keys ---------------------------------------------------------------

absl::Status ReportingService::ValidateFilter(const pb::StatusFilter& f,
                                              const std::string& field) {
  Violations v;
  for (int i = 0; i < f.kinds_size(); ++i) {
    if (f.kinds(i) == pb::STATUS_KIND_UNSPECIFIED ||
        !pb::StatusKind_IsValid(f.kinds(i))) {
      v.Add(absl::StrCat(field, ".kinds[", i, "]"), "unknown status kind");
    }
  }
  // Ids are ULIDs: letters and digits, which also keeps them safe to echo
  // (the Atom feed puts them in its XML).
  auto check_id = [&](const std::string& id, const std::string& name) {
    if (id.size() > 64) {
      v.Add(field + name, "too long");
    } else if (!std::all_of(id.begin(), id.end(), [](char c) {
                 return absl::ascii_isalnum(static_cast<unsigned char>(c));
               })) {
      v.Add(field + name, "is not an id (letters and digits)");
    }
  };
  check_id(f.roadmap_id(), ".roadmap_id");
  check_id(f.ecosystem_id(), ".ecosystem_id");
  return v.ToStatus();
}

absl::Status ReportingService::IssueFeedKey(const CallContext& c,
                                            const pb::IssueFeedKeyRequest& req,
                                            pb::IssueFeedKeyResponse* resp) {
  Violations v;
  if (auto s = ValidateFilter(req.feed_key().filter(), "feed_key.filter");
      !s.ok()) {
    for (auto& f : ViolationsOf(s)) v.Add(f.field, f.description);
  }
  if (auto p = TextProblem(req.feed_key().description(), 0, 500); !p.empty()) {
    v.Add("feed_key.description", p);
  }
  if (!v.empty()) return v.ToStatus();
  EntityOps ops(&store_, clock_, c);
  pb::FeedKey key;
  *key.mutable_filter() = req.feed_key().filter();
  key.set_description(req.feed_key().description());
  const std::string secret = NewTokenSecret();
  const std::string hash = Sha256Hex(secret);
  bool duplicate = false;
  auto created = ops.Create<pb::FeedKey>(
      kFeedKey, "reporting.feed_key.issued", req.request_id(), key,
      key.filter().roadmap_id(),
      [&](Mutation& m, const pb::FeedKey& k) {
        m.HashSet(store_.EntityKey(kFeedKey, k.id()), "h", hash);
        m.Set(FeedSecretKey(hash), k.id());
        m.IndexAdd(FeedKeysIndex(), k.id());
      },
      &duplicate);
  if (!created.ok()) return created.status();
  if (duplicate) {
    return WithReason(
        absl::AlreadyExistsError(absl::StrCat(
            "this request_id already issued feed key ", created->id(),
            "; its secret was shown once: revoke it and issue another")),
        "ALREADY_ISSUED");
  }
  *resp->mutable_feed_key() = *std::move(created);
  resp->set_secret(secret);
  return absl::OkStatus();
}

absl::Status ReportingService::ListFeedKeys(const CallContext& c,
                                            const pb::ListFeedKeysRequest& req,
                                            pb::ListFeedKeysResponse* resp) {
  EntityOps ops(&store_, clock_, c);
  std::string next;
  const bool all = req.include_revoked();
  auto s = ops.List<pb::FeedKey>(
      kFeedKey, FeedKeysIndex(), req.page_size(), req.page_token(),
      [all](pb::FeedKey& k) { return all || !k.revoked(); },
      resp->mutable_feed_keys(), &next);
  resp->set_next_page_token(next);
  return s;
}

absl::Status ReportingService::RevokeFeedKey(
    const CallContext& c, const pb::RevokeFeedKeyRequest& req,
    pb::RevokeFeedKeyResponse* resp) {
  if (req.id().empty()) return InvalidField("id", "must be set");
  EntityOps ops(&store_, clock_, c);
  auto updated = ops.Update<pb::FeedKey>(
      kFeedKey, "reporting.feed_key.revoked", req.id(), req.etag(),
      [&](const Versioned<pb::FeedKey>& cur, pb::FeedKey* next, Mutation* m) {
        // Revoked already (a retry whose answer was lost): nothing to do,
        // as RevokeToken.
        if (cur.value.revoked()) return absl::OkStatus();
        next->set_revoked(true);
        *next->mutable_revoke_time() = ops.Now();
        if (!cur.extra.empty()) m->Delete(FeedSecretKey(cur.extra));
        return absl::OkStatus();
      },
      false, [](const pb::FeedKey& k) { return k.filter().roadmap_id(); });
  if (!updated.ok()) return updated.status();
  *resp->mutable_feed_key() = *std::move(updated);
  return absl::OkStatus();
}

absl::StatusOr<pb::FeedKey> ReportingService::FeedKeyBySecret(
    const std::string& secret) {
  auto id = Checked(redis_->Command({"GET", FeedSecretKey(Sha256Hex(secret))}),
                    "feed_key_secret");
  if (!id.ok()) return id.status();
  if (id->is_nil()) return absl::NotFoundError("unknown or revoked feed key");
  auto s = store_.Get(kFeedKey, id->str());
  if (!s.ok()) return s.status();
  pb::FeedKey k;
  if (!k.ParseFromString(s->data)) return Corrupt(kFeedKey);
  if (k.revoked()) return absl::NotFoundError("unknown or revoked feed key");
  return k;
}

// --- Rebuild -----------------------------------------------------------------

absl::Status ReportingService::RebuildReadModels(
    const CallContext&, const pb::RebuildReadModelsRequest&,
    pb::RebuildReadModelsResponse* resp) {
  auto stats = models_->Rebuild();
  if (!stats.ok()) return stats.status();
  resp->set_events(stats->events);
  resp->set_entities(stats->entities);
  resp->set_unreadable(stats->unreadable);
  resp->set_generation(stats->generation);
  resp->set_duration_ms(stats->duration_ms);
  return absl::OkStatus();
}

// --- Consumption and periodic duties -----------------------------------------

absl::Status ReportingService::ApplySourceEntry(const StreamEntry& entry) {
  events::v1::Event e;
  if (!e.ParseFromString(entry.payload)) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream entry ", entry.id, " is not an event"));
  }
  if (auto s = models_->Apply(e); !s.ok()) return s;
  if (e.aggregate_kind() == "indicator") {
    return CheckRatings(e.roadmap_id(), e.aggregate_id());
  }
  if (e.aggregate_kind() == "measurement") {
    rm::Measurement m;
    if (e.state().UnpackTo(&m))
      return CheckRatings(e.roadmap_id(), m.indicator_id());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<bool>> ReportingService::Announce(
    const std::string& key, const std::vector<Announcement>& all) {
  std::vector<bool> done;
  if (all.empty()) return done;
  RedisArgs keys = {key, Keys::Stream()};
  RedisArgs args = {std::to_string(options_.stream_max_len)};
  for (const auto& a : all) {
    args.insert(args.end(), {a.field, a.expected, a.value, a.update,
                             a.guard.field, a.guard.expected, a.guard.value});
    if (!a.guard.field.empty()) keys.push_back(a.guard.key);
  }
  auto r = redis_->Eval(AnnounceScript(), keys, args);
  if (!r.ok()) return r.status();
  if (r->is_error()) return StatusOfErrorReply(*r, "announce_script");
  for (const auto& e : r->elements()) done.push_back(e.integer() == 1);
  if (done.size() != all.size()) {
    return absl::InternalError("announce script answered a wrong count");
  }
  return done;
}

std::function<void(ReportingService::CheckStage)>
ReportingService::CheckHook() {
  std::lock_guard<std::mutex> lock(hook_mu_);
  return check_hook_;
}

absl::Status ReportingService::CheckRatings(const std::string& roadmap_id,
                                            const std::string& indicator_id) {
  if (roadmap_id.empty()) return absl::OkStatus();
  std::vector<std::string> lost;
  if (auto s = CheckRatingsOnce(roadmap_id, indicator_id, &lost); !s.ok()) {
    return s;
  }
  // A check loses the compare-and-set when another announced first. The
  // winner may have read the models before this one did, so what it left
  // can be older than the truth: check again, from the ratings on.
  for (int retry = 0; retry < kRatingRetries && !lost.empty(); ++retry) {
    std::vector<std::string> again;
    for (const auto& id : lost) {
      if (auto s = CheckRatingsOnce(roadmap_id, id, &again); !s.ok()) return s;
    }
    lost.swap(again);
  }
  return absl::OkStatus();
}

absl::Status ReportingService::CheckRatingsOnce(
    const std::string& roadmap_id, const std::string& indicator_id,
    std::vector<std::string>* lost) {
  const auto now = clock_->Now();
  const Date today = DateOf(now);
  auto keys = models_->Current();
  if (!keys.ok()) return keys.status();
  std::vector<std::string> ids;
  if (!indicator_id.empty()) {
    ids.push_back(indicator_id);
  } else {
    auto all = Checked(
        redis_->Command({"ZRANGE", keys->Indicators(roadmap_id), "0", "-1"}),
        "rating_indicators");
    if (!all.ok()) return all.status();
    for (const auto& e : all->elements()) ids.push_back(e.str());
  }
  if (ids.empty()) return absl::OkStatus();
  // 1: the ratings announced so far and the checks' counters, then the
  // indicators and their measurement ids; 2: the measurements and the
  // generation (unchanged, or skip). The ratings come first: what is read
  // of the models after them is at least as new as what set them, so a
  // check that read the models before a newer one announced cannot pass
  // the compare-and-set and announce a change back to the older state.
  std::vector<RedisArgs> c1;
  for (const std::string& key : {Keys::Ratings(), Keys::RatingChecks()}) {
    RedisArgs hmget = {"HMGET", key};
    hmget.insert(hmget.end(), ids.begin(), ids.end());
    c1.push_back(std::move(hmget));
  }
  for (const auto& id : ids)
    c1.push_back({"HGET", keys->Entity("indicator", id), "d"});
  for (const auto& id : ids)
    c1.push_back({"ZRANGE", keys->Measurements(id), "0", "-1"});
  auto r1 = Checked(redis_->Pipeline(c1), "rating_reads");
  if (!r1.ok()) return r1.status();
  if (auto hook = CheckHook()) hook(CheckStage::kRatingFirstReads);
  const RedisReply& current = (*r1)[0];
  const RedisReply& checked = (*r1)[1];
  std::vector<RedisArgs> c2;
  std::vector<size_t> counts;
  for (size_t n = 0; n < ids.size(); ++n) {
    const auto& ms = (*r1)[2 + ids.size() + n].elements();
    counts.push_back(ms.size());
    for (const auto& m : ms) {
      c2.push_back({"HGET", keys->Entity("measurement", m.str()), "d"});
    }
  }
  c2.push_back({"HGET", Keys::Generation(), "v"});
  auto r2 = Checked(redis_->Pipeline(c2), "rating_measurements");
  if (!r2.ok()) return r2.status();
  if (r2->back().str() != std::to_string(keys->generation())) {
    return absl::OkStatus();  // rebuilt meanwhile: the next tick rates
  }
  if (auto hook = CheckHook()) hook(CheckStage::kRatingBeforeAnnounce);
  // Every check sets every rating it computed, changed or not, and bumps
  // the indicator's check counter (a hash of its own, so the ratings keep
  // their plain values for a replica of an older build during a rollout):
  // a check that read them before another set them then fails its
  // compare-and-set, even when the other found nothing to announce (RED
  // stayed RED) or the rating went away and back (RED, GREEN, RED).
  std::vector<Announcement> announce;
  size_t next = 0;
  for (size_t n = 0; n < ids.size(); ++n) {
    std::vector<rm::Measurement> ms;
    for (size_t j = 0; j < counts[n]; ++j, ++next) {
      rm::Measurement m;
      const RedisReply& r = (*r2)[next];
      if (!r.is_nil() && m.ParseFromString(r.str())) ms.push_back(std::move(m));
    }
    rm::Indicator ind;
    const RedisReply& stored = (*r1)[2 + n];
    if (stored.is_nil() || !ind.ParseFromString(stored.str())) continue;
    const pb::Rating rating =
        ToProto(Evaluate(ind, ms, today, options_.thresholds).rating);
    const RedisReply& cur = current.elements()[n];
    const std::string before = cur.is_nil() ? "" : cur.str();
    const RedisReply& count = checked.elements()[n];
    const std::string checks = count.is_nil() ? "" : count.str();
    int64_t checks_now = 0;
    (void)absl::SimpleAtoi(checks, &checks_now);
    const std::string after = RatingShort(rating);
    std::string update;
    // The first rating of an indicator without data is not news.
    if (before != after && !(before.empty() && rating == pb::RATING_NO_DATA)) {
      pb::StatusUpdate u;
      u.set_kind(pb::STATUS_KIND_INDICATOR_RATING_CHANGED);
      u.set_roadmap_id(roadmap_id);
      u.set_ecosystem_id(ind.ecosystem_id());
      *u.mutable_time() = ToTimestamp(now);
      u.set_subject_id(ind.id());
      u.set_title(ind.name());
      pb::Rating from = pb::RATING_NO_DATA;
      if (!before.empty()) pb::Rating_Parse("RATING_" + before, &from);
      u.set_from_rating(from);
      u.set_to_rating(rating);
      u.set_summary(absl::StrCat("Indicator \"", ind.name(), "\" went from ",
                                 RatingShort(from), " to ", after));
      update = WrapUpdate(u);
    }
    announce.push_back({ind.id(),
                        before,
                        after,
                        update,
                        {Keys::RatingChecks(), ind.id(), checks,
                         std::to_string(checks_now + 1)}});
  }
  auto done = Announce(Keys::Ratings(), announce);
  if (!done.ok()) return done.status();
  for (size_t n = 0; n < announce.size(); ++n) {
    if (!(*done)[n]) lost->push_back(announce[n].field);
  }
  return absl::OkStatus();
}

absl::Status ReportingService::CheckLate(const ModelKeys& keys,
                                         const std::string& roadmap_id,
                                         const Date& today) {
  auto due = Checked(
      redis_->Command({"ZRANGEBYSCORE", keys.OpenDue(roadmap_id, "*"), "-inf",
                       absl::StrCat("(", DaysFromCivil(today)), "WITHSCORES"}),
      "late_due");
  if (!due.ok()) return due.status();
  const auto& e = due->elements();
  if (e.empty()) return absl::OkStatus();
  RedisArgs hmget = {"HMGET", Keys::LateAnnounced(roadmap_id)};
  for (size_t i = 0; i + 1 < e.size(); i += 2) hmget.push_back(e[i].str());
  auto announced = Checked(redis_->Command(hmget), "late_announced");
  if (!announced.ok()) return announced.status();
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    const std::string& id = e[i].str();
    const std::string& day = e[i + 1].str();
    const RedisReply& cur = announced->elements()[i / 2];
    const std::string before = cur.is_nil() ? "" : cur.str();
    if (before == day) continue;  // already announced for this due date
    const std::string key = keys.Entity("action", id);
    auto stored = redis_->Command({"HMGET", key, "v", "d"});
    if (!stored.ok()) return stored.status();
    if (stored->is_error()) return StatusOfErrorReply(*stored, "late_action");
    const RedisReply& version = stored->elements()[0];
    const RedisReply& data = stored->elements()[1];
    rm::Action a;
    if (version.is_nil() || data.is_nil() || !a.ParseFromString(data.str())) {
      continue;
    }
    // The index was read first: a change applied since (the due date moved
    // on, the action closed) makes its entry stale. Only what the action
    // still says is announced.
    if (!OpenAction(a.status()) || IsUnset(a.due_date()) ||
        absl::StrCat(DaysFromCivil(a.due_date())) != day) {
      continue;
    }
    pb::StatusUpdate u;
    u.set_kind(pb::STATUS_KIND_ACTION_LATE);
    u.set_roadmap_id(roadmap_id);
    u.set_ecosystem_id(a.ecosystem_id());
    *u.mutable_time() = ToTimestamp(clock_->Now());
    u.set_subject_id(id);
    u.set_title(a.title());
    *u.mutable_due_date() = a.due_date();
    u.set_to_status(a.status());
    u.set_summary(absl::StrCat("Action \"", a.title(), "\" is late: due ",
                               FormatDate(a.due_date())));
    if (auto hook = CheckHook()) hook(CheckStage::kLateBeforeAnnounce);
    // Announced only if the action is still the version read: one that
    // closed or moved meanwhile is checked again at the next tick.
    auto done = Announce(
        Keys::LateAnnounced(roadmap_id),
        {{id, before, day, WrapUpdate(u), {key, "v", version.str(), ""}}});
    if (!done.ok()) return done.status();
  }
  return absl::OkStatus();
}

absl::Status ReportingService::Tick() {
  const Date today = DateOf(clock_->Now());
  auto keys = models_->Current();
  if (!keys.ok()) return keys.status();
  auto roadmaps =
      Checked(redis_->Command({"ZRANGE", keys->Roadmaps(), "0", "-1"}),
              "tick_roadmaps");
  if (!roadmaps.ok()) return roadmaps.status();
  // One roadmap's failure does not starve the others; the first error is
  // reported.
  absl::Status first = absl::OkStatus();
  for (const auto& r : roadmaps->elements()) {
    if (auto s = CheckLate(*keys, r.str(), today); !s.ok() && first.ok()) {
      first = s;
    }
    if (auto s = CheckRatings(r.str()); !s.ok() && first.ok()) first = s;
  }
  auto schedules =
      Checked(redis_->Command({"ZRANGE", SchedulesIndex(), "0", "-1"}),
              "tick_schedules");
  if (!schedules.ok()) return schedules.status();
  for (const auto& r : schedules->elements()) {
    auto s = store_.Get(kSchedule, r.str());
    if (!s.ok()) continue;
    pb::ReportSchedule schedule;
    if (!schedule.ParseFromString(s->data) ||
        schedule.frequency() == pb::SCHEDULE_FREQUENCY_NONE) {
      continue;
    }
    auto due = DueScheduledPeriods(r.str(), schedule, today);
    if (!due.ok()) {
      if (first.ok()) first = due.status();
      continue;
    }
    for (const auto& period : *due) {
      auto report = GenerateScheduled(r.str(), period);
      if (!report.ok() && !absl::IsAlreadyExists(report.status()) &&
          !absl::IsNotFound(report.status()) && first.ok()) {
        first = report.status();
      }
      if (!report.ok() && !absl::IsAlreadyExists(report.status())) break;
    }
  }
  return first;
}

// --- Feed reads --------------------------------------------------------------

absl::StatusOr<std::string> ReportingService::ResolveCursor(
    RedisClient* conn, const std::string& cursor) {
  if (cursor.empty()) {
    auto last = Checked(
        conn->Command({"XREVRANGE", Keys::Stream(), "+", "-", "COUNT", "1"}),
        "feed_last");
    if (!last.ok()) return last.status();
    if (last->elements().empty()) return std::string("0-0");
    return last->elements()[0].elements()[0].str();
  }
  if (cursor == "0") return std::string("0-0");
  if (!IsStreamId(cursor)) {
    return InvalidField("cursor", "not a cursor this feed gave out");
  }
  // Entries trimmed away (XADD MAXLEN ~) are all older than the first one
  // left; entries deleted otherwise are below max-deleted-entry-id. A
  // cursor before either may have missed some: say so rather than skip.
  // A cursor past the last id the stream ever gave out was not given out by
  // this feed (or the feed was lost since): waiting on it would skip what
  // comes until then.
  auto info = conn->Command({"XINFO", "STREAM", Keys::Stream()});
  if (!info.ok()) return info.status();
  std::string last_generated = "0-0";  // no stream yet
  if (info->is_error() && !IsNoSuchKeyReply(*info)) {
    return StatusOfErrorReply(*info, "feed_info");
  }
  if (info->is_array()) {
    int64_t length = 0, added = 0;
    std::string first, max_deleted = "0-0";
    const auto& f = info->elements();
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      const std::string& k = f[i].str();
      if (k == "length") length = f[i + 1].integer();
      if (k == "entries-added") added = f[i + 1].integer();
      if (k == "max-deleted-entry-id") max_deleted = f[i + 1].str();
      if (k == "last-generated-id") last_generated = f[i + 1].str();
      if (k == "first-entry" && f[i + 1].is_array() &&
          !f[i + 1].elements().empty()) {
        first = f[i + 1].elements()[0].str();
      }
    }
    const bool trimmed = added > length && !first.empty() &&
                         StreamIdLess(cursor, first) && cursor != "0-0";
    if (trimmed || StreamIdLess(cursor, max_deleted)) {
      return WithReason(
          absl::OutOfRangeError("the feed no longer holds the updates after "
                                "this cursor; restart from \"0\""),
          "CURSOR_EXPIRED");
    }
  }
  if (StreamIdLess(last_generated, cursor)) {
    return InvalidField(
        "cursor",
        absl::StrCat("ahead of the feed, whose last update is ", last_generated,
                     ": not a cursor this feed gave "
                     "out; restart from \"0\" or from now"));
  }
  return cursor;
}

absl::StatusOr<std::vector<pb::StatusUpdate>> ReportingService::ReadUpdates(
    RedisClient* conn, const pb::StatusFilter& filter, std::string* cursor,
    int count, std::chrono::milliseconds block) {
  RedisArgs cmd = {"XREAD", "COUNT", std::to_string(count)};
  if (block.count() > 0) {
    cmd.push_back("BLOCK");
    cmd.push_back(std::to_string(block.count()));
  }
  cmd.push_back("STREAMS");
  cmd.push_back(Keys::Stream());
  cmd.push_back(*cursor);
  auto r = conn->Command(cmd);
  if (!r.ok()) return r.status();
  if (r->is_error()) {
    // Only the cursor comes from the client; anything else (BUSY,
    // LOADING...) is Redis not answering.
    if (absl::StrContains(r->str(), "Invalid stream ID")) {
      return InvalidField("cursor", "not a cursor this feed gave out");
    }
    return StatusOfErrorReply(*r, "feed_read");
  }
  std::vector<pb::StatusUpdate> out;
  if (r->is_nil() || r->elements().empty()) return out;  // timed out
  const auto& stream = r->elements()[0];
  if (stream.elements().size() < 2) return out;
  for (const auto& e : ParseStreamEntries(stream.elements()[1])) {
    *cursor = e.id;
    pb::StatusUpdate u;
    if (UpdateOf(e, &u) && Matches(filter, u)) out.push_back(std::move(u));
  }
  return out;
}

absl::StatusOr<std::string> ReportingService::RoadmapTitle(
    const std::string& roadmap_id) {
  auto keys = models_->Current();
  if (!keys.ok()) return keys.status();
  auto stored = Checked(
      redis_->Command({"HGET", keys->Entity("roadmap", roadmap_id), "d"}),
      "roadmap_title");
  if (!stored.ok()) return stored.status();
  rm::Roadmap roadmap;
  if (stored->is_nil() || !roadmap.ParseFromString(stored->str())) {
    return absl::NotFoundError(
        absl::StrCat("roadmap ", roadmap_id, " not found"));
  }
  return roadmap.title();
}

absl::StatusOr<std::vector<pb::StatusUpdate>> ReportingService::LatestUpdates(
    const pb::StatusFilter& filter, int limit) {
  std::vector<pb::StatusUpdate> out;
  std::string end = "+";
  // Scan back in chunks; bounded so a narrow filter cannot scan forever.
  for (int scanned = 0;
       scanned < 20000 && static_cast<int>(out.size()) < limit;) {
    auto r = Checked(redis_->Command({"XREVRANGE", Keys::Stream(), end, "-",
                                      "COUNT", "500"}),
                     "feed_latest");
    if (!r.ok()) return r.status();
    auto entries = ParseStreamEntries(*r);
    for (const auto& e : entries) {
      pb::StatusUpdate u;
      if (UpdateOf(e, &u) && Matches(filter, u)) {
        out.push_back(std::move(u));
        if (static_cast<int>(out.size()) == limit) break;
      }
    }
    scanned += static_cast<int>(entries.size());
    if (entries.size() < 500) break;
    end = "(" + entries.back().id;
  }
  return out;
}

}  // namespace jalon::reporting
