#include "services/roadmap/domain.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/field_mask_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/ids.h"
#include "services/common/status.h"

namespace jalon::roadmap {
namespace {

using common::v1::Role;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool Dated(const Date& d) { return !IsUnset(d) && IsValidDate(d); }

std::string StatusName(ActionStatus s) {
  std::string name = v1::ActionStatus_Name(s);
  constexpr std::string_view kPrefix = "ACTION_STATUS_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

bool IsCopilotOf(const Actor& actor, const std::string& org) {
  return !org.empty() && actor.organization_id() == org;
}

}  // namespace

absl::Status ValidateOrganization(const Organization& o,
                                  std::string_view prefix) {
  FieldChecker c(prefix);
  c.Line("name", o.name(), 1, 200);
  if (o.kind() == v1::ORGANIZATION_KIND_UNSPECIFIED ||
      !v1::OrganizationKind_IsValid(o.kind())) {
    c.Add("kind", "must be FEDERATION, MINISTRY or MEMBER_COMPANY");
  }
  c.Text("description", o.description(), 0, 2000);
  if (std::string p = TextProblem(o.contact_email(), 0, 254, false);
      !p.empty()) {
    c.Add("contact_email", std::move(p));
  } else if (!o.contact_email().empty() &&
             (o.contact_email().find('@') == std::string::npos ||
              o.contact_email().find(' ') != std::string::npos)) {
    c.Add("contact_email", "is not an e-mail address");
  }
  return c.Done();
}

void ApplyDefaults(Roadmap* r) {
  if (r->status() == v1::ROADMAP_STATUS_UNSPECIFIED) {
    r->set_status(v1::ROADMAP_STATUS_DRAFT);
  }
}

absl::Status ValidateRoadmap(const Roadmap& r, std::string_view prefix) {
  FieldChecker c(prefix);
  c.Line("title", r.title(), 1, 200);
  c.Text("description", r.description(), 0, 5000);
  c.DateField("start_date", r.start_date(), true);
  c.DateField("horizon_date", r.horizon_date(), true);
  if (Dated(r.start_date()) && Dated(r.horizon_date()) &&
      CompareDates(r.horizon_date(), r.start_date()) < 0) {
    c.Add("horizon_date", "is before start_date");
  }
  if (!v1::RoadmapStatus_IsValid(r.status()) ||
      r.status() == v1::ROADMAP_STATUS_UNSPECIFIED) {
    c.Add("status", "must be DRAFT, ACTIVE or CLOSED");
  }
  if (r.copilot_organization_ids_size() != 2) {
    c.Add("copilot_organization_ids",
          "must name exactly two organisations (e.g. the federation and the "
          "ministry)");
  } else if (r.copilot_organization_ids(0).empty() ||
             r.copilot_organization_ids(1).empty()) {
    c.Add("copilot_organization_ids", "must not hold an empty id");
  } else if (r.copilot_organization_ids(0) == r.copilot_organization_ids(1)) {
    c.Add("copilot_organization_ids", "must be two different organisations");
  }
  return c.Done();
}

absl::Status ValidateEcosystem(const Ecosystem& e, std::string_view prefix) {
  FieldChecker c(prefix);
  c.Required("roadmap_id", e.roadmap_id());
  c.Line("name", e.name(), 1, 200);
  c.Text("description", e.description(), 0, 5000);
  c.DateField("creation_date", e.creation_date(), false);
  return c.Done();
}

void ApplyDefaults(Indicator* i) {
  if (i->direction() == v1::INDICATOR_DIRECTION_UNSPECIFIED) {
    i->set_direction(i->target_value() >= i->baseline_value()
                         ? v1::INDICATOR_DIRECTION_INCREASE
                         : v1::INDICATOR_DIRECTION_DECREASE);
  }
}

namespace {

// Whether an update leaves the target and the trajectory as they were.
bool SameTargetAndTrajectory(const Indicator& a, const Indicator& b) {
  using google::protobuf::util::MessageDifferencer;
  if (a.target_value() != b.target_value() ||
      !MessageDifferencer::Equals(a.target_date(), b.target_date()) ||
      a.trajectory_size() != b.trajectory_size()) {
    return false;
  }
  for (int k = 0; k < a.trajectory_size(); ++k) {
    if (!MessageDifferencer::Equals(a.trajectory(k), b.trajectory(k))) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Status ValidateIndicator(const Indicator& i, std::string_view prefix,
                               const Indicator* stored) {
  const bool end_as_stored =
      stored != nullptr && SameTargetAndTrajectory(i, *stored);
  FieldChecker c(prefix);
  c.Required("roadmap_id", i.roadmap_id());
  c.Line("name", i.name(), 1, 200);
  c.Text("description", i.description(), 0, 5000);
  if (i.unit() == v1::INDICATOR_UNIT_UNSPECIFIED ||
      !v1::IndicatorUnit_IsValid(i.unit())) {
    c.Add("unit", "must be JOBS, MAD, PERCENT or COUNT");
  }
  if (i.direction() == v1::INDICATOR_DIRECTION_UNSPECIFIED ||
      !v1::IndicatorDirection_IsValid(i.direction())) {
    c.Add("direction", "must be INCREASE or DECREASE");
  }
  c.Finite("baseline_value", i.baseline_value());
  c.Finite("target_value", i.target_value());
  c.DateField("baseline_date", i.baseline_date(), true);
  c.DateField("target_date", i.target_date(), true);
  bool dates_ok = Dated(i.baseline_date()) && Dated(i.target_date());
  if (dates_ok && CompareDates(i.target_date(), i.baseline_date()) <= 0) {
    c.Add("target_date", "must be after baseline_date");
    dates_ok = false;
  }
  if (i.direction() == v1::INDICATOR_DIRECTION_INCREASE &&
      i.target_value() < i.baseline_value()) {
    c.Add("target_value", "is below baseline_value for an INCREASE indicator");
  }
  if (i.direction() == v1::INDICATOR_DIRECTION_DECREASE &&
      i.target_value() > i.baseline_value()) {
    c.Add("target_value", "is above baseline_value for a DECREASE indicator");
  }
  if (i.trajectory_size() > 100)
    c.Add("trajectory", "has more than 100 points");
  const Date* previous = dates_ok ? &i.baseline_date() : nullptr;
  for (int k = 0; k < i.trajectory_size() && k < 100; ++k) {
    const auto& p = i.trajectory(k);
    std::string f = absl::StrCat("trajectory[", k, "]");
    c.Finite(f + ".value", p.value());
    c.DateField(f + ".date", p.date(), true);
    if (!Dated(p.date())) {
      previous = nullptr;
      continue;
    }
    if (previous && CompareDates(p.date(), *previous) <= 0) {
      c.Add(f + ".date",
            "must be after the baseline date and the previous point");
    }
    if (dates_ok && CompareDates(p.date(), i.target_date()) > 0) {
      c.Add(f + ".date", "is after target_date");
    }
    // What is expected on and after the target date is the target: a point
    // there saying otherwise would rate a missed target GREEN.
    if (dates_ok && !end_as_stored &&
        CompareDates(p.date(), i.target_date()) == 0 &&
        std::isfinite(p.value()) && p.value() != i.target_value()) {
      c.Add(f + ".value", "on target_date must be target_value");
    }
    previous = &p.date();
  }
  return c.Done();
}

absl::Status ValidateMeasurement(const Measurement& m,
                                 std::string_view prefix) {
  FieldChecker c(prefix);
  c.Required("indicator_id", m.indicator_id());
  c.Finite("value", m.value());
  c.DateField("period_start", m.period_start(), true);
  c.DateField("period_end", m.period_end(), true);
  if (Dated(m.period_start()) && Dated(m.period_end()) &&
      CompareDates(m.period_end(), m.period_start()) < 0) {
    c.Add("period_end", "is before period_start");
  }
  c.Text("source", m.source(), 1, 2000);
  return c.Done();
}

void ApplyDefaults(Action* a) {
  if (a->priority() == v1::ACTION_PRIORITY_UNSPECIFIED) {
    a->set_priority(v1::ACTION_PRIORITY_MEDIUM);
  }
}

absl::Status ValidateAction(const Action& a, std::string_view prefix,
                            const Date* today) {
  FieldChecker c(prefix);
  c.Required("roadmap_id", a.roadmap_id());
  c.Line("title", a.title(), 1, 200);
  c.Text("description", a.description(), 0, 10000);
  c.Required("lead_organization_id", a.lead_organization_id());
  c.Required("partner_organization_id", a.partner_organization_id());
  if (!a.lead_organization_id().empty() &&
      a.lead_organization_id() == a.partner_organization_id()) {
    c.Add("partner_organization_id",
          "must differ from lead_organization_id (co-validation needs two "
          "organisations)");
  }
  c.Line("owner", a.owner(), 0, 200);
  if (!v1::ActionPriority_IsValid(a.priority()) ||
      a.priority() == v1::ACTION_PRIORITY_UNSPECIFIED) {
    c.Add("priority", "must be LOW, MEDIUM, HIGH or CRITICAL");
  }
  c.DateField("start_date", a.start_date(), false);
  c.DateField("due_date", a.due_date(), true);
  if (Dated(a.start_date()) && Dated(a.due_date()) &&
      CompareDates(a.due_date(), a.start_date()) < 0) {
    c.Add("due_date", "is before start_date");
  }
  if (a.milestones_size() > 100)
    c.Add("milestones", "has more than 100 milestones");
  std::set<std::string> milestone_ids;
  // A day of leeway: a client a time zone ahead of the service's (jalonctl
  // marks a milestone done on its local day) may already be on tomorrow.
  std::optional<Date> latest;
  if (today != nullptr) latest = DateFromDays(DaysFromCivil(*today) + 1);
  for (int k = 0; k < a.milestones_size() && k <= 100; ++k) {
    const auto& m = a.milestones(k);
    std::string f = absl::StrCat("milestones[", k, "]");
    c.Line(f + ".title", m.title(), 1, 200);
    c.DateField(f + ".due_date", m.due_date(), true);
    c.DateField(f + ".done_date", m.done_date(), false);
    if (latest && Dated(m.done_date()) &&
        CompareDates(m.done_date(), *latest) > 0) {
      c.Add(f + ".done_date",
            absl::StrCat("is in the future (after ", FormatDate(*latest),
                         "): a milestone is marked done once it is"));
    }
    if (!m.id().empty() && !milestone_ids.insert(m.id()).second) {
      c.Add(f + ".id", "is used by another milestone");
    }
    if (m.id().size() > 64) {
      c.Add(f + ".id", "is longer than 64 bytes");
    } else if (std::string p = TextProblem(m.id(), 0, 64, false); !p.empty()) {
      c.Add(f + ".id", std::move(p));
    }
  }
  if (a.has_progress_override() &&
      (a.progress_override() < 0 || a.progress_override() > 100)) {
    c.Add("progress_override", "must be 0..100");
  }
  if (a.contributions_size() > 50)
    c.Add("contributions", "has more than 50 entries");
  std::set<std::string> indicators;
  for (int k = 0; k < a.contributions_size() && k <= 50; ++k) {
    const auto& ct = a.contributions(k);
    std::string f = absl::StrCat("contributions[", k, "]");
    c.Required(f + ".indicator_id", ct.indicator_id());
    c.Finite(f + ".value", ct.value());
    if (!ct.indicator_id().empty() &&
        !indicators.insert(ct.indicator_id()).second) {
      c.Add(f + ".indicator_id", "appears twice");
    }
  }
  if (a.depends_on_action_ids_size() > 100) {
    c.Add("depends_on_action_ids", "has more than 100 entries");
  }
  std::set<std::string> deps;
  for (int k = 0; k < a.depends_on_action_ids_size() && k <= 100; ++k) {
    const std::string& d = a.depends_on_action_ids(k);
    std::string f = absl::StrCat("depends_on_action_ids[", k, "]");
    if (d.empty()) {
      c.Add(f, "is empty");
    } else if (!a.id().empty() && d == a.id()) {
      c.Add(f, "an action cannot depend on itself");
    } else if (!deps.insert(d).second) {
      c.Add(f, "appears twice");
    }
  }
  if (a.tags_size() > 20) c.Add("tags", "has more than 20 tags");
  std::set<std::string> tags;
  for (int k = 0; k < a.tags_size() && k <= 20; ++k) {
    const std::string& t = a.tags(k);
    std::string f = absl::StrCat("tags[", k, "]");
    bool ok = !t.empty() && t.size() <= 50 &&
              std::all_of(t.begin(), t.end(), [](char ch) {
                return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                       ch == '-' || ch == '_';
              });
    if (!ok) {
      c.Add(f, "must be 1..50 characters of a-z, 0-9, - and _");
    } else if (!tags.insert(t).second) {
      c.Add(f, "appears twice");
    }
  }
  return c.Done();
}

absl::Status ValidateTokenRequest(const v1::IssueTokenRequest& r) {
  FieldChecker c("");
  c.Line("principal_name", r.principal_name(), 1, 100);
  c.Required("organization_id", r.organization_id());
  if (r.role() == Role::ROLE_UNSPECIFIED ||
      !common::v1::Role_IsValid(r.role())) {
    c.Add("role", "must be ADMIN, COPILOT, MEMBER or READER");
  }
  c.Text("description", r.description(), 0, 500);
  // Reported with the other violations, not instead of them.
  for (const auto& v : ViolationsOf(ValidateRequestId(r.request_id()))) {
    c.Add(v.field, v.description);
  }
  return c.Done();
}

std::vector<ActionStatus> AllowedTargets(ActionStatus from) {
  using S = ActionStatus;
  switch (from) {
    case v1::ACTION_STATUS_PROPOSED:
      return {v1::ACTION_STATUS_PLANNED, v1::ACTION_STATUS_CANCELLED};
    case v1::ACTION_STATUS_PLANNED:
      return {v1::ACTION_STATUS_IN_PROGRESS, v1::ACTION_STATUS_CANCELLED};
    case v1::ACTION_STATUS_IN_PROGRESS:
      return {v1::ACTION_STATUS_BLOCKED, v1::ACTION_STATUS_COMPLETION_REQUESTED,
              v1::ACTION_STATUS_CANCELLED};
    case v1::ACTION_STATUS_BLOCKED:
      return {v1::ACTION_STATUS_IN_PROGRESS, v1::ACTION_STATUS_CANCELLED};
    case v1::ACTION_STATUS_COMPLETION_REQUESTED:
      return {v1::ACTION_STATUS_DONE, v1::ACTION_STATUS_IN_PROGRESS,
              v1::ACTION_STATUS_CANCELLED};
    default:
      return std::vector<S>{};
  }
}

bool CanSteer(const Actor& actor, const Action& action) {
  if (actor.role() == Role::ROLE_ADMIN) return true;
  return actor.role() == Role::ROLE_COPILOT &&
         (IsCopilotOf(actor, action.lead_organization_id()) ||
          IsCopilotOf(actor, action.partner_organization_id()));
}

bool MayChangeParties(const Actor& actor, const Action& before,
                      const Action& after) {
  if (actor.role() == Role::ROLE_ADMIN) return true;
  const std::string& lead = after.lead_organization_id();
  const std::string& partner = after.partner_organization_id();
  return (lead == before.lead_organization_id() &&
          partner == before.partner_organization_id()) ||
         (lead == before.partner_organization_id() &&
          partner == before.lead_organization_id());
}

absl::Status CheckTransition(const Action& action, ActionStatus target,
                             std::string_view reason, const Actor& actor) {
  if (target == v1::ACTION_STATUS_UNSPECIFIED ||
      !v1::ActionStatus_IsValid(target)) {
    return InvalidField("target_status",
                        "must be a status other than UNSPECIFIED");
  }
  if (auto p = TextProblem(reason, 0, 2000); !p.empty()) {
    return InvalidField("reason", p);
  }
  auto allowed = AllowedTargets(action.status());
  if (std::find(allowed.begin(), allowed.end(), target) == allowed.end()) {
    std::vector<std::string> names;
    for (auto s : allowed) names.push_back(StatusName(s));
    return WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            "cannot move action from ", StatusName(action.status()), " to ",
            StatusName(target), "; allowed from ", StatusName(action.status()),
            ": ",
            names.empty() ? "none (final state)" : absl::StrJoin(names, ", "))),
        "TRANSITION_NOT_ALLOWED");
  }
  if (!CanSteer(actor, action)) {
    return absl::PermissionDeniedError(
        "only an admin or a copilot of the action's lead or partner "
        "organisation can change its status");
  }
  bool reason_needed =
      target == v1::ACTION_STATUS_BLOCKED ||
      target == v1::ACTION_STATUS_CANCELLED ||
      (action.status() == v1::ACTION_STATUS_COMPLETION_REQUESTED &&
       target == v1::ACTION_STATUS_IN_PROGRESS);
  if (reason_needed && IsBlank(reason)) {
    return InvalidField(
        "reason",
        absl::StrCat("is required to move an action to ", StatusName(target)));
  }
  const std::string& org = actor.organization_id();
  bool party = org == action.lead_organization_id() ||
               org == action.partner_organization_id();
  if (target == v1::ACTION_STATUS_COMPLETION_REQUESTED && !party) {
    return absl::PermissionDeniedError(
        "completion is requested by the lead or partner organisation");
  }
  bool deciding_completion =
      action.status() == v1::ACTION_STATUS_COMPLETION_REQUESTED &&
      (target == v1::ACTION_STATUS_DONE ||
       target == v1::ACTION_STATUS_IN_PROGRESS);
  if (deciding_completion &&
      (!party || org == action.completion_requested_by_organization_id())) {
    return WithReason(
        absl::PermissionDeniedError(
            "co-validation: only the counterpart organisation (the one that "
            "did not request completion) can approve or reject it"),
        "COVALIDATION_REQUIRED");
  }
  return absl::OkStatus();
}

void ApplyTransition(Action* action, ActionStatus target,
                     std::string_view reason, const Actor& actor,
                     const google::protobuf::Timestamp& now) {
  ActionStatus from = action->status();
  action->set_status(target);
  switch (target) {
    case v1::ACTION_STATUS_COMPLETION_REQUESTED:
      action->set_completion_requested_by_organization_id(
          actor.organization_id());
      action->clear_status_reason();
      break;
    case v1::ACTION_STATUS_DONE:
      *action->mutable_done_time() = now;
      action->clear_status_reason();
      break;
    case v1::ACTION_STATUS_IN_PROGRESS:
      if (from == v1::ACTION_STATUS_COMPLETION_REQUESTED) {
        action->clear_completion_requested_by_organization_id();
        action->set_status_reason(std::string(reason));
      } else {
        action->clear_status_reason();
      }
      break;
    default:
      action->set_status_reason(std::string(reason));
  }
}

int Progress(const Action& action) {
  if (action.has_progress_override()) return action.progress_override();
  if (action.status() == v1::ACTION_STATUS_DONE) return 100;
  if (action.milestones_size() == 0) return 0;
  int done = 0;
  for (const auto& m : action.milestones()) done += !IsUnset(m.done_date());
  return done * 100 / action.milestones_size();
}

bool IsLate(const Action& action, const Date& today) {
  if (action.status() == v1::ACTION_STATUS_DONE ||
      action.status() == v1::ACTION_STATUS_CANCELLED) {
    return false;
  }
  return Dated(action.due_date()) && CompareDates(action.due_date(), today) < 0;
}

bool IsLate(const v1::Milestone& m, const Date& today) {
  return IsUnset(m.done_date()) && Dated(m.due_date()) &&
         CompareDates(m.due_date(), today) < 0;
}

void Decorate(Action* action, const Date& today) {
  action->set_progress_percent(Progress(*action));
  action->set_late(IsLate(*action, today));
  bool open = action->status() != v1::ACTION_STATUS_DONE &&
              action->status() != v1::ACTION_STATUS_CANCELLED;
  for (auto& m : *action->mutable_milestones())
    m.set_late(open && IsLate(m, today));
}

void AssignMilestoneIds(Action* action) {
  std::set<std::string> used;
  for (const auto& m : action->milestones()) used.insert(m.id());
  int next = 1;
  for (auto& m : *action->mutable_milestones()) {
    if (!m.id().empty()) continue;
    while (used.count(absl::StrCat("m", next))) ++next;
    m.set_id(absl::StrCat("m", next));
    used.insert(m.id());
  }
}

absl::Status CheckNoCycle(const DependencyGraph& graph,
                          const std::string& action_id,
                          const std::vector<std::string>& deps) {
  // A cycle exists iff action_id is reachable from one of its new deps.
  std::map<std::string, std::string> parent;  // for the path in the message
  std::vector<std::string> stack;
  for (const auto& d : deps) {
    if (d == action_id) {
      return InvalidField("action.depends_on_action_ids",
                          "an action cannot depend on itself");
    }
    if (parent.emplace(d, action_id).second) stack.push_back(d);
  }
  while (!stack.empty()) {
    std::string node = stack.back();
    stack.pop_back();
    auto it = graph.find(node);
    if (it == graph.end()) continue;
    for (const auto& next : it->second) {
      if (next == action_id) {
        std::vector<std::string> path = {action_id};
        for (std::string n = node; n != action_id; n = parent[n]) {
          path.insert(path.begin() + 1, n);
        }
        path.push_back(action_id);
        return InvalidField("action.depends_on_action_ids",
                            absl::StrCat("would create a dependency cycle: ",
                                         absl::StrJoin(path, " -> ")));
      }
      if (parent.emplace(next, node).second) stack.push_back(next);
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCanVerify(const Measurement& m, const Actor& actor) {
  if (actor.role() != Role::ROLE_ADMIN && actor.role() != Role::ROLE_COPILOT) {
    return absl::PermissionDeniedError("only co-pilots verify measurements");
  }
  if (actor.organization_id() == m.audit().created_by().organization_id()) {
    return WithReason(
        absl::PermissionDeniedError(
            "co-validation: the organisation that recorded a measurement "
            "cannot verify it"),
        "COVALIDATION_REQUIRED");
  }
  if (actor.organization_id() != m.verifier_organization_id()) {
    return WithReason(
        absl::PermissionDeniedError(absl::StrCat(
            "co-validation: only organisation ", m.verifier_organization_id(),
            " (the other co-pilot) can verify this measurement")),
        "COVALIDATION_REQUIRED");
  }
  if (m.verification_state() != v1::VERIFICATION_STATE_UNVERIFIED) {
    return WithReason(absl::FailedPreconditionError(
                          "measurement was already verified or rejected"),
                      "ALREADY_VERIFIED");
  }
  return absl::OkStatus();
}

}  // namespace jalon::roadmap
