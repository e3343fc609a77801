#include "services/reporting/report.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/dates.h"
#include "services/common/ids.h"
#include "services/common/status.h"

namespace jalon::reporting {
namespace {

namespace rm = ::jalon::roadmap::v1;
namespace fb = ::jalon::feedback::v1;

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

pb::Period MakePeriod(std::string label, int year, int first_month,
                      int last_month) {
  pb::Period p;
  p.set_label(std::move(label));
  *p.mutable_start_date() = MakeDate(year, first_month, 1);
  *p.mutable_end_date() =
      MakeDate(year, last_month, DaysInMonth(year, last_month));
  return p;
}

absl::StatusOr<std::vector<RedisReply>> Many(
    RedisClient* redis, const std::vector<RedisArgs>& cmds) {
  if (cmds.empty()) return std::vector<RedisReply>{};
  auto r = redis->Pipeline(cmds);
  if (!r.ok()) return r.status();
  for (const auto& reply : *r) {
    if (reply.is_error()) return absl::InternalError("read model query failed");
  }
  return r;
}

std::vector<std::string> Strings(const RedisReply& r) {
  std::vector<std::string> out;
  for (const auto& e : r.elements()) out.push_back(e.str());
  return out;
}

// The `limit` most endorsed members of the feedback set `set`, then
// unendorsed ones to fill the list, ties and fill by the smaller id (the
// older), as SortRefs orders them: the commands, appended to `cmds`, and
// (ReadMostEndorsed) their replies. `tmp` is a scratch key. The endorsed
// are scored minus their endorsements, so ZRANGE ranks them; the fill
// reads twice the limit, of which at most `limit` are endorsed ones
// already listed.
void QueryMostEndorsed(std::vector<RedisArgs>* cmds, const std::string& set,
                       const std::string& endorsements, const std::string& tmp,
                       int limit) {
  cmds->push_back(
      {"ZINTERSTORE", tmp, "2", set, endorsements, "WEIGHTS", "0", "-1"});
  cmds->push_back({"EXPIRE", tmp, "60"});  // if we die before the DEL
  cmds->push_back(
      {"ZRANGE", tmp, "0", std::to_string(limit - 1), "WITHSCORES"});
  cmds->push_back({"DEL", tmp});
  cmds->push_back({"ZRANGE", set, "0", std::to_string(2 * limit - 1)});
}
std::vector<std::string> ReadMostEndorsed(const std::vector<RedisReply>& r,
                                          size_t* i, int limit) {
  *i += 2;  // ZINTERSTORE, EXPIRE
  std::vector<std::string> ids;
  const auto& ranked = r[(*i)++].elements();
  for (size_t j = 0; j + 1 < ranked.size(); j += 2) {
    ids.push_back(ranked[j].str());
  }
  ++*i;  // DEL
  for (const auto& e : r[(*i)++].elements()) {
    if (static_cast<int>(ids.size()) >= limit) break;
    if (std::find(ids.begin(), ids.end(), e.str()) == ids.end()) {
      ids.push_back(e.str());
    }
  }
  return ids;
}

template <typename T>
bool ParseInto(const RedisReply& r, T* out) {
  return !r.is_nil() && out->ParseFromString(r.str());
}

pb::FeedbackRef Ref(const fb::FeedbackItem& f, const RoadmapData& d) {
  pb::FeedbackRef r;
  r.set_feedback_id(f.id());
  r.set_title(f.title());
  r.set_ecosystem_id(f.ecosystem_id());
  auto it = d.endorsements.find(f.id());
  r.set_endorsement_count(it == d.endorsements.end() ? 0 : it->second);
  r.set_status(f.status());
  return r;
}

void SortRefs(std::vector<pb::FeedbackRef>* refs) {
  std::sort(refs->begin(), refs->end(),
            [](const pb::FeedbackRef& a, const pb::FeedbackRef& b) {
              if (a.endorsement_count() != b.endorsement_count()) {
                return a.endorsement_count() > b.endorsement_count();
              }
              return a.feedback_id() < b.feedback_id();
            });
}

// eco: an ecosystem id, or nullptr for the whole roadmap.
pb::ActionSummary Actions(const RoadmapData& d, const std::string* eco,
                          const Date& as_of) {
  pb::ActionSummary s;
  std::map<int, int64_t> by_status;
  int64_t done_dated = 0, on_time = 0;
  for (const auto& [field, n] : d.counts) {
    std::vector<std::string> parts = absl::StrSplit(field, '|');
    if (parts.size() < 2 || (eco && parts[1] != *eco)) continue;
    if (parts[0] == "a" && parts.size() == 3) {
      int status = 0;
      if (absl::SimpleAtoi(parts[2], &status)) by_status[status] += n;
    } else if (parts[0] == "d") {
      done_dated += n;
    } else if (parts[0] == "o") {
      on_time += n;
    }
  }
  for (const auto& [status, n] : by_status) {
    auto* c = s.add_by_status();
    c->set_status(static_cast<rm::ActionStatus>(status));
    c->set_count(n);
    s.set_total(s.total() + n);
  }
  s.set_done_with_due_date(done_dated);
  s.set_done_on_time(on_time);
  if (done_dated > 0) {
    s.set_on_time_completion_rate(static_cast<double>(on_time) /
                                  static_cast<double>(done_dated));
  }
  const std::string bucket = eco ? *eco : "*";
  const int64_t today = DaysFromCivil(as_of);
  auto list = [&d, &bucket](const auto& lists) {
    static const std::vector<std::string> kNone;
    auto it = lists.find(bucket);
    return it == lists.end() ? kNone : it->second;
  };
  auto count = [&bucket](const std::map<std::string, int64_t>& counts) {
    auto it = counts.find(bucket);
    return it == counts.end() ? int64_t{0} : it->second;
  };
  for (const auto& id : list(d.late_ids)) {
    auto it = d.actions.find(id);
    if (it == d.actions.end()) continue;
    const rm::Action& a = it->second;
    auto* l = s.add_late();
    l->set_action_id(a.id());
    l->set_title(a.title());
    l->set_ecosystem_id(a.ecosystem_id());
    *l->mutable_due_date() = a.due_date();
    l->set_days_late(static_cast<int32_t>(today - DaysFromCivil(a.due_date())));
    l->set_status(a.status());
    l->set_lead_organization_id(a.lead_organization_id());
  }
  std::sort(s.mutable_late()->begin(), s.mutable_late()->end(),
            [](const pb::LateAction& a, const pb::LateAction& b) {
              if (a.days_late() != b.days_late()) {
                return a.days_late() > b.days_late();
              }
              return a.action_id() < b.action_id();
            });
  s.set_late_count(count(d.late_count));
  for (const auto& id : list(d.blocked_ids)) {
    auto it = d.actions.find(id);
    if (it == d.actions.end()) continue;
    const rm::Action& a = it->second;
    auto* b = s.add_blocked();
    b->set_action_id(a.id());
    b->set_title(a.title());
    b->set_ecosystem_id(a.ecosystem_id());
    b->set_reason(a.status_reason());
    std::vector<pb::FeedbackRef> refs;
    auto blockers = d.action_blockers.find(a.id());
    if (blockers != d.action_blockers.end()) {
      for (const auto& f : blockers->second) refs.push_back(Ref(f, d));
    }
    SortRefs(&refs);
    for (auto& r : refs) *b->add_blockers() = std::move(r);
  }
  s.set_blocked_count(count(d.blocked_count));
  return s;
}

pb::FeedbackSummary Feedback(const RoadmapData& d, const std::string* eco) {
  pb::FeedbackSummary s;
  std::map<std::pair<int, int>, int64_t> counts;
  int64_t blockers = 0, linked = 0;
  for (const auto& [field, n] : d.counts) {
    std::vector<std::string> parts = absl::StrSplit(field, '|');
    if (parts.size() < 2 || (eco && parts[1] != *eco)) continue;
    if (parts[0] == "f" && parts.size() == 4) {
      int kind = 0, status = 0;
      if (absl::SimpleAtoi(parts[2], &kind) &&
          absl::SimpleAtoi(parts[3], &status)) {
        counts[{kind, status}] += n;
      }
    } else if (parts[0] == "b") {
      blockers += n;
    } else if (parts[0] == "l") {
      linked += n;
    }
  }
  for (const auto& [ks, n] : counts) {
    auto* c = s.add_counts();
    c->set_kind(static_cast<fb::FeedbackKind>(ks.first));
    c->set_status(static_cast<fb::FeedbackStatus>(ks.second));
    c->set_count(n);
    s.set_total(s.total() + n);
  }
  s.set_blockers(blockers);
  s.set_linked_blockers(linked);
  if (blockers > 0) {
    s.set_linked_blocker_share(static_cast<double>(linked) /
                               static_cast<double>(blockers));
  }
  const std::string bucket = eco ? *eco : "*";
  if (auto it = d.ack.find(bucket); it != d.ack.end()) {
    s.set_acknowledged(it->second.count);
    if (it->second.median_seconds) {
      s.set_median_hours_to_acknowledge(*it->second.median_seconds / 3600.0);
    }
  }
  std::vector<pb::FeedbackRef> refs;
  if (auto it = d.top_blockers.find(bucket); it != d.top_blockers.end()) {
    for (const auto& f : it->second) refs.push_back(Ref(f, d));
  }
  SortRefs(&refs);
  for (auto& r : refs) *s.add_top_blockers() = std::move(r);
  return s;
}

pb::IndicatorReport IndicatorOf(const rm::Indicator& ind,
                                const std::vector<rm::Measurement>& ms,
                                const Date& as_of,
                                const RatingThresholds& thresholds) {
  IndicatorStatus st = Evaluate(ind, ms, as_of, thresholds);
  pb::IndicatorReport r;
  r.set_indicator_id(ind.id());
  r.set_ecosystem_id(ind.ecosystem_id());
  r.set_name(ind.name());
  r.set_unit(ind.unit());
  r.set_direction(ind.direction());
  r.set_baseline_value(ind.baseline_value());
  *r.mutable_baseline_date() = ind.baseline_date();
  r.set_target_value(ind.target_value());
  *r.mutable_target_date() = ind.target_date();
  *r.mutable_trajectory() = ind.trajectory();
  r.set_expected_value(st.expected_today);
  if (st.actual) r.set_actual_value(*st.actual);
  if (st.actual_period_end) *r.mutable_actual_date() = *st.actual_period_end;
  if (st.attainment_target) r.set_attainment_target(*st.attainment_target);
  if (st.attainment_trajectory) {
    r.set_attainment_trajectory(*st.attainment_trajectory);
  }
  r.set_rating(ToProto(st.rating));
  if (st.forecast) r.set_forecast_value(*st.forecast);
  // Verified: only those that count (a figure superseded by a later one
  // of the same period is not drawn); unverified: all.
  std::vector<const rm::Measurement*> sorted = CurrentVerified(ms);
  for (const auto& m : ms) {
    if (m.verification_state() == rm::VERIFICATION_STATE_UNVERIFIED) {
      sorted.push_back(&m);
    }
  }
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const rm::Measurement* a, const rm::Measurement* b) {
                     return CompareDates(a->period_end(), b->period_end()) < 0;
                   });
  for (const auto* m : sorted) {
    pb::Point* p = nullptr;
    if (m->verification_state() == rm::VERIFICATION_STATE_VERIFIED) {
      p = r.add_verified();
    } else if (m->verification_state() == rm::VERIFICATION_STATE_UNVERIFIED) {
      p = r.add_unverified();
    } else {
      continue;  // rejected: neither counted nor shown
    }
    p->set_measurement_id(m->id());
    *p->mutable_date() = m->period_end();
    p->set_value(m->value());
  }
  return r;
}

std::vector<pb::IndicatorRollup> Rollups(
    const std::vector<const pb::IndicatorReport*>& indicators,
    const RatingThresholds& thresholds) {
  std::map<std::pair<std::string, int>, pb::IndicatorRollup> groups;
  std::map<std::pair<std::string, int>, bool> all_forecast;
  // A group's direction: that of its indicators (they measure one thing),
  // decreasing only if every one is.
  std::map<std::pair<std::string, int>, bool> decreasing;
  for (const auto* i : indicators) {
    if (!IsAdditive(i->unit())) continue;
    auto key = std::make_pair(i->name(), static_cast<int>(i->unit()));
    auto [it, inserted] = groups.try_emplace(key);
    pb::IndicatorRollup& g = it->second;
    if (inserted) {
      g.set_name(i->name());
      g.set_unit(i->unit());
      g.set_complete(true);
      all_forecast[key] = true;
    }
    g.add_indicator_ids(i->indicator_id());
    const bool down = i->direction() == rm::INDICATOR_DIRECTION_DECREASE;
    decreasing[key] = inserted ? down : decreasing[key] && down;
    g.set_baseline_value(g.baseline_value() + i->baseline_value());
    g.set_target_value(g.target_value() + i->target_value());
    g.set_expected_value(g.expected_value() + i->expected_value());
    if (i->has_actual_value()) {
      g.set_actual_value(g.actual_value() + i->actual_value());
    } else {
      g.set_complete(false);
    }
    if (i->has_forecast_value()) {
      g.set_forecast_value(g.forecast_value() + i->forecast_value());
    } else {
      all_forecast[key] = false;
    }
  }
  std::vector<pb::IndicatorRollup> out;
  for (auto& [key, g] : groups) {
    if (!all_forecast[key]) g.clear_forecast_value();
    if (g.complete()) {
      // Unset when the target is the baseline, as for one indicator.
      auto target =
          Progress(g.actual_value(), g.baseline_value(), g.target_value());
      if (target) g.set_attainment_target(*target);
      // Rated as one indicator is (kpi.h).
      auto traj = TrajectoryAttainment(g.actual_value(), g.baseline_value(),
                                       g.expected_value(), decreasing[key]);
      if (traj) g.set_attainment_trajectory(*traj);
      g.set_rating(ToProto(
          RateOnTrajectory(g.actual_value(), g.baseline_value(),
                           g.expected_value(), decreasing[key], thresholds)));
    } else {
      g.set_rating(pb::RATING_NO_DATA);
    }
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace

pb::Rating ToProto(Rating rating) {
  switch (rating) {
    case Rating::kGreen:
      return pb::RATING_GREEN;
    case Rating::kAmber:
      return pb::RATING_AMBER;
    case Rating::kRed:
      return pb::RATING_RED;
    case Rating::kNoData:
      return pb::RATING_NO_DATA;
  }
  return pb::RATING_UNSPECIFIED;
}

absl::StatusOr<pb::Period> ParsePeriod(std::string_view label) {
  const std::string l(label);
  const auto bad = [] {
    return InvalidField("period",
                        "expected YYYY, YYYY-Qn or YYYY-MM, e.g. 2026-Q3");
  };
  int year = 0;
  if (l.size() < 4 || !absl::SimpleAtoi(l.substr(0, 4), &year) || year < 1900 ||
      year > 9999) {
    return bad();
  }
  if (l.size() == 4) return MakePeriod(l, year, 1, 12);
  if (l.size() == 7 && l[4] == '-' && l[5] == 'Q' && l[6] >= '1' &&
      l[6] <= '4') {
    const int q = l[6] - '0';
    return MakePeriod(l, year, 3 * q - 2, 3 * q);
  }
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (l.size() == 7 && l[4] == '-' && digit(l[5]) && digit(l[6])) {
    const int month = (l[5] - '0') * 10 + (l[6] - '0');
    if (month >= 1 && month <= 12) return MakePeriod(l, year, month, month);
  }
  return bad();
}

pb::Period LastCompletePeriod(pb::ScheduleFrequency frequency,
                              const Date& today) {
  int y = today.year(), m = today.month();
  switch (frequency) {
    case pb::SCHEDULE_FREQUENCY_YEARLY:
      return *ParsePeriod(std::to_string(y - 1));
    case pb::SCHEDULE_FREQUENCY_QUARTERLY: {
      int q = (m - 1) / 3;  // the quarter before the current one, 0..3
      if (q == 0) return *ParsePeriod(absl::StrCat(y - 1, "-Q4"));
      return *ParsePeriod(absl::StrCat(y, "-Q", q));
    }
    default: {
      if (--m == 0) {
        m = 12;
        --y;
      }
      return *ParsePeriod(absl::StrCat(y, m < 10 ? "-0" : "-", m));
    }
  }
}

absl::StatusOr<RoadmapData> LoadRoadmap(RedisClient* redis, const ModelKeys& k,
                                        const std::string& rid,
                                        const Date& as_of) {
  RoadmapData d;
  const std::string before = "(" + std::to_string(DaysFromCivil(as_of));
  const std::string last = std::to_string(kListLimit - 1);
  const auto switched = [] {
    return WithReason(
        absl::AbortedError("the read models were rebuilt while reading"),
        "MODELS_SWITCHED");
  };
  // 1: the roadmap, its indexes and counters.
  auto r1 = Many(redis, {{"HGET", k.Entity("roadmap", rid), "d"},
                         {"ZRANGE", k.Ecosystems(rid), "0", "-1"},
                         {"ZRANGE", k.Indicators(rid), "0", "-1"},
                         {"HGETALL", k.Counts(rid)}});
  if (!r1.ok()) return r1.status();
  if (!ParseInto((*r1)[0], &d.roadmap)) {
    auto gen = redis->Command({"HGET", Keys::Generation(), "v"});
    if (gen.ok() && gen->str() != std::to_string(k.generation())) {
      return switched();
    }
    return absl::NotFoundError(
        absl::StrCat("roadmap ", rid, " not found in the reporting models"));
  }
  const auto eco_ids = Strings((*r1)[1]);
  const auto indicator_ids = Strings((*r1)[2]);
  const auto& counts = (*r1)[3].elements();
  for (size_t i = 0; i + 1 < counts.size(); i += 2) {
    int64_t n = 0;
    if (absl::SimpleAtoi(counts[i + 1].str(), &n)) {
      d.counts[counts[i].str()] = n;
    }
  }
  std::vector<std::string> buckets = {"*"};
  buckets.insert(buckets.end(), eco_ids.begin(), eco_ids.end());

  // 2: entities, measurement ids, the most late and the blocked actions of
  // each bucket with their counts, top blockers, acknowledgement counts.
  std::vector<RedisArgs> c2;
  for (const auto& id : eco_ids) {
    c2.push_back({"HGET", k.Entity("ecosystem", id), "d"});
  }
  for (const auto& id : indicator_ids) {
    c2.push_back({"HGET", k.Entity("indicator", id), "d"});
  }
  for (const auto& id : indicator_ids) {
    c2.push_back({"ZRANGE", k.Measurements(id), "0", "-1"});
  }
  const std::string tmp = k.prefix() + "tmp:" + NewUlid();
  for (const auto& b : buckets) {
    // The most late first: the smallest due days.
    c2.push_back({"ZRANGEBYSCORE", k.OpenDue(rid, b), "-inf", before, "LIMIT",
                  "0", std::to_string(kListLimit)});
    c2.push_back({"ZCOUNT", k.OpenDue(rid, b), "-inf", before});
    c2.push_back({"ZRANGE", k.Blocked(rid, b), "0", last});
    c2.push_back({"ZCARD", k.Blocked(rid, b)});
    QueryMostEndorsed(&c2, k.OpenBlockers(rid, b), k.Endorsements(rid), tmp,
                      kTopBlockers);
    c2.push_back({"ZCARD", k.Ack(rid, b)});
  }
  auto r2 = Many(redis, c2);
  if (!r2.ok()) return r2.status();
  size_t i = 0;
  for (size_t n = 0; n < eco_ids.size(); ++n, ++i) {
    rm::Ecosystem e;
    if (ParseInto((*r2)[i], &e)) d.ecosystems.push_back(std::move(e));
  }
  for (size_t n = 0; n < indicator_ids.size(); ++n, ++i) {
    rm::Indicator ind;
    if (ParseInto((*r2)[i], &ind)) d.indicators.push_back(std::move(ind));
  }
  std::vector<std::pair<std::string, std::vector<std::string>>> measurement_ids;
  for (const auto& id : indicator_ids) {
    measurement_ids.push_back({id, Strings((*r2)[i++])});
  }
  std::set<std::string> action_ids, blocked_ids;
  std::map<std::string, std::vector<std::string>> top_ids;
  std::vector<std::pair<std::string, int64_t>> ack_counts;
  for (const auto& b : buckets) {
    d.late_ids[b] = Strings((*r2)[i++]);
    d.late_count[b] = (*r2)[i++].integer();
    d.blocked_ids[b] = Strings((*r2)[i++]);
    d.blocked_count[b] = (*r2)[i++].integer();
    action_ids.insert(d.late_ids[b].begin(), d.late_ids[b].end());
    action_ids.insert(d.blocked_ids[b].begin(), d.blocked_ids[b].end());
    blocked_ids.insert(d.blocked_ids[b].begin(), d.blocked_ids[b].end());
    top_ids[b] = ReadMostEndorsed(*r2, &i, kTopBlockers);
    ack_counts.push_back({b, (*r2)[i++].integer()});
  }

  // 3: measurements, actions, the blockers of blocked actions, top blocker
  // items, median delays.
  std::vector<RedisArgs> c3;
  for (const auto& [ind, ids] : measurement_ids) {
    for (const auto& id : ids) {
      c3.push_back({"HGET", k.Entity("measurement", id), "d"});
    }
  }
  for (const auto& id : action_ids) {
    c3.push_back({"HGET", k.Entity("action", id), "d"});
  }
  for (const auto& id : blocked_ids) {
    QueryMostEndorsed(&c3, k.ActionBlockers(id), k.Endorsements(rid), tmp,
                      kListLimit);
  }
  std::set<std::string> item_ids;
  for (const auto& [b, ids] : top_ids) item_ids.insert(ids.begin(), ids.end());
  for (const auto& id : item_ids) {
    c3.push_back({"HGET", k.Entity("feedback", id), "d"});
  }
  for (const auto& [b, n] : ack_counts) {
    if (n == 0) continue;
    // The median: the middle element, or the two middle ones.
    c3.push_back({"ZRANGE", k.Ack(rid, b), std::to_string((n - 1) / 2),
                  std::to_string(n / 2), "WITHSCORES"});
  }
  auto r3 = Many(redis, c3);
  if (!r3.ok()) return r3.status();
  i = 0;
  for (const auto& [ind, ids] : measurement_ids) {
    auto& list = d.measurements[ind];
    for (size_t n = 0; n < ids.size(); ++n, ++i) {
      rm::Measurement m;
      if (ParseInto((*r3)[i], &m)) list.push_back(std::move(m));
    }
  }
  for (const auto& id : action_ids) {
    rm::Action a;
    if (ParseInto((*r3)[i++], &a)) d.actions[id] = std::move(a);
  }
  std::map<std::string, std::vector<std::string>> action_blocker_ids;
  std::set<std::string> more_items;
  for (const auto& id : blocked_ids) {
    action_blocker_ids[id] = ReadMostEndorsed(*r3, &i, kListLimit);
    for (const auto& f : action_blocker_ids[id]) {
      if (!item_ids.count(f)) more_items.insert(f);
    }
  }
  std::map<std::string, fb::FeedbackItem> items;
  for (const auto& id : item_ids) {
    fb::FeedbackItem f;
    if (ParseInto((*r3)[i++], &f)) items[id] = std::move(f);
  }
  for (const auto& [b, n] : ack_counts) {
    RoadmapData::Ack& ack = d.ack[b];
    ack.count = n;
    if (n == 0) continue;
    const auto& mid = (*r3)[i++].elements();
    double sum = 0;
    int values = 0;
    for (size_t j = 1; j < mid.size(); j += 2) {
      double v = 0;
      if (absl::SimpleAtod(mid[j].str(), &v)) {
        sum += v;
        ++values;
      }
    }
    if (values > 0) ack.median_seconds = sum / values;
  }

  // 4: the items only blocked actions name, every listed item's
  // endorsements, and the generation, to know every read above saw one
  // whole model.
  std::vector<RedisArgs> c4;
  for (const auto& id : more_items) {
    c4.push_back({"HGET", k.Entity("feedback", id), "d"});
  }
  std::vector<std::string> all_items(item_ids.begin(), item_ids.end());
  all_items.insert(all_items.end(), more_items.begin(), more_items.end());
  if (!all_items.empty()) {
    RedisArgs zms = {"ZMSCORE", k.Endorsements(rid)};
    zms.insert(zms.end(), all_items.begin(), all_items.end());
    c4.push_back(std::move(zms));
  }
  c4.push_back({"HGET", Keys::Generation(), "v"});
  auto r4 = Many(redis, c4);
  if (!r4.ok()) return r4.status();
  if (r4->back().str() != std::to_string(k.generation())) return switched();
  i = 0;
  for (const auto& id : more_items) {
    fb::FeedbackItem f;
    if (ParseInto((*r4)[i++], &f)) items[id] = std::move(f);
  }
  if (!all_items.empty()) {
    const auto& scores = (*r4)[i++].elements();
    for (size_t j = 0; j < all_items.size(); ++j) {
      int64_t n = 0;
      if (j < scores.size() && !scores[j].is_nil()) {
        absl::SimpleAtoi(scores[j].str(), &n);
      }
      d.endorsements[all_items[j]] = n;
    }
  }
  for (const auto& [b, ids] : top_ids) {
    for (const auto& id : ids) {
      if (auto it = items.find(id); it != items.end()) {
        d.top_blockers[b].push_back(it->second);
      }
    }
  }
  for (const auto& [a, ids] : action_blocker_ids) {
    for (const auto& id : ids) {
      if (auto it = items.find(id); it != items.end()) {
        d.action_blockers[a].push_back(it->second);
      }
    }
  }
  return d;
}

pb::ReportContent Compute(const RoadmapData& d, const pb::Period& period,
                          const Date& as_of,
                          const RatingThresholds& thresholds) {
  pb::ReportContent c;
  c.set_roadmap_id(d.roadmap.id());
  c.set_roadmap_title(d.roadmap.title());
  *c.mutable_period() = period;
  *c.mutable_as_of() = as_of;
  // What was measured by the as-of date (a report on a past period counts
  // no later figure).
  auto measurements = [&d, &as_of](const std::string& id) {
    std::vector<rm::Measurement> out;
    auto it = d.measurements.find(id);
    if (it == d.measurements.end()) return out;
    for (const auto& m : it->second) {
      if (CompareDates(m.period_end(), as_of) <= 0) out.push_back(m);
    }
    return out;
  };
  std::set<std::string> known_ecosystems;
  for (const auto& e : d.ecosystems) {
    known_ecosystems.insert(e.id());
    auto* er = c.add_ecosystems();
    er->set_ecosystem_id(e.id());
    er->set_name(e.name());
    for (const auto& ind : d.indicators) {
      if (ind.ecosystem_id() != e.id()) continue;
      *er->add_indicators() =
          IndicatorOf(ind, measurements(ind.id()), as_of, thresholds);
    }
    *er->mutable_actions() = Actions(d, &e.id(), as_of);
    *er->mutable_feedback() = Feedback(d, &e.id());
  }
  for (const auto& ind : d.indicators) {
    if (known_ecosystems.count(ind.ecosystem_id())) continue;
    *c.add_roadmap_indicators() =
        IndicatorOf(ind, measurements(ind.id()), as_of, thresholds);
  }
  std::vector<const pb::IndicatorReport*> all;
  for (const auto& er : c.ecosystems()) {
    for (const auto& i : er.indicators()) all.push_back(&i);
  }
  for (auto& r : Rollups(all, thresholds)) *c.add_rollups() = std::move(r);
  *c.mutable_actions() = Actions(d, nullptr, as_of);
  *c.mutable_feedback() = Feedback(d, nullptr);
  return c;
}

pb::ReportChanges Diff(const pb::Report* previous,
                       const pb::ReportContent& current) {
  pb::ReportChanges ch;
  std::map<std::string, pb::Rating> before;
  std::set<std::string> top_before;
  if (previous) {
    ch.set_previous_report_id(previous->id());
    const auto& pc = previous->content();
    for (const auto& e : pc.ecosystems()) {
      for (const auto& i : e.indicators())
        before[i.indicator_id()] = i.rating();
    }
    for (const auto& i : pc.roadmap_indicators()) {
      before[i.indicator_id()] = i.rating();
    }
    for (const auto& t : pc.feedback().top_blockers()) {
      top_before.insert(t.feedback_id());
    }
  }
  auto rating = [&](const pb::IndicatorReport& i) {
    auto it = before.find(i.indicator_id());
    pb::Rating prev = it == before.end() ? pb::RATING_UNSPECIFIED : it->second;
    if (prev == i.rating()) return;
    if (prev == pb::RATING_UNSPECIFIED && i.rating() == pb::RATING_NO_DATA) {
      return;  // a new indicator without data: nothing changed
    }
    auto* r = ch.add_rating_changes();
    r->set_indicator_id(i.indicator_id());
    r->set_name(i.name());
    r->set_ecosystem_id(i.ecosystem_id());
    r->set_previous(prev);
    r->set_current(i.rating());
  };
  for (const auto& e : current.ecosystems()) {
    for (const auto& i : e.indicators()) rating(i);
  }
  for (const auto& i : current.roadmap_indicators()) rating(i);
  for (const auto& t : current.feedback().top_blockers()) {
    if (!top_before.count(t.feedback_id())) *ch.add_new_top_blockers() = t;
  }
  return ch;
}

std::string CanonicalBytes(const pb::ReportContent& content) {
  std::string out;
  google::protobuf::io::StringOutputStream raw(&out);
  {
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    content.SerializeToCodedStream(&coded);
  }
  return out;
}

std::string ContentSha256(const pb::ReportContent& content) {
  return Sha256Hex(CanonicalBytes(content));
}

}  // namespace jalon::reporting
