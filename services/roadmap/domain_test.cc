// Unit tests of the roadmap service's domain rules (services/roadmap/domain.h):
// validation, the action lifecycle and co-validation, steering rights,
// progress and lateness, dependency cycles, field masks, measurement
// verification and history diffs. Pure: no Redis, no gRPC.
#include "services/roadmap/domain.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/dates.h"
#include "services/common/status.h"

namespace jalon::roadmap {
namespace {

using common::v1::Role;
using google::protobuf::FieldMask;

constexpr char kLead[] = "org-fed";
constexpr char kPartner[] = "org-min";
constexpr char kThird[] = "org-acme";

constexpr ActionStatus kProposed = v1::ACTION_STATUS_PROPOSED;
constexpr ActionStatus kPlanned = v1::ACTION_STATUS_PLANNED;
constexpr ActionStatus kInProgress = v1::ACTION_STATUS_IN_PROGRESS;
constexpr ActionStatus kBlocked = v1::ACTION_STATUS_BLOCKED;
constexpr ActionStatus kCompletionRequested =
    v1::ACTION_STATUS_COMPLETION_REQUESTED;
constexpr ActionStatus kDone = v1::ACTION_STATUS_DONE;
constexpr ActionStatus kCancelled = v1::ACTION_STATUS_CANCELLED;

// Every status an action can be in (all but UNSPECIFIED).
const std::vector<ActionStatus>& AllStatuses() {
  static const std::vector<ActionStatus> kAll = {
      kProposed, kPlanned,   kInProgress,         kBlocked,
      kDone,     kCancelled, kCompletionRequested};
  return kAll;
}

// The lifecycle of SPEC.md, written out independently of domain.cc.
const std::set<std::pair<ActionStatus, ActionStatus>>& SpecEdges() {
  static const std::set<std::pair<ActionStatus, ActionStatus>> kEdges = {
      {kProposed, kPlanned},
      {kPlanned, kInProgress},
      {kInProgress, kBlocked},
      {kBlocked, kInProgress},
      {kInProgress, kCompletionRequested},
      {kCompletionRequested, kDone},
      {kCompletionRequested, kInProgress},
      {kProposed, kCancelled},
      {kPlanned, kCancelled},
      {kInProgress, kCancelled},
      {kBlocked, kCancelled},
      {kCompletionRequested, kCancelled},
  };
  return kEdges;
}

std::string Name(ActionStatus s) { return v1::ActionStatus_Name(s); }

Actor MakeActor(Role role, const std::string& org) {
  Actor a;
  a.set_principal_id(absl::StrCat("p-", org, "-", static_cast<int>(role)));
  a.set_principal_name("someone");
  a.set_organization_id(org);
  a.set_role(role);
  return a;
}

v1::Milestone MakeMilestone(const std::string& title, const Date& due) {
  v1::Milestone m;
  m.set_title(title);
  *m.mutable_due_date() = due;
  return m;
}

Action ValidAction() {
  Action a;
  a.set_id("act-1");
  a.set_roadmap_id("rm-1");
  a.set_title("Former 500 techniciens");
  a.set_description("Programme de formation");
  a.set_lead_organization_id(kLead);
  a.set_partner_organization_id(kPartner);
  a.set_owner("a.benali");
  a.set_priority(v1::ACTION_PRIORITY_HIGH);
  *a.mutable_start_date() = MakeDate(2024, 1, 1);
  *a.mutable_due_date() = MakeDate(2024, 12, 31);
  *a.add_milestones() =
      MakeMilestone("Cahier des charges", MakeDate(2024, 3, 1));
  *a.add_milestones() = MakeMilestone("Appel d'offres", MakeDate(2024, 6, 1));
  auto* ct = a.add_contributions();
  ct->set_indicator_id("ind-1");
  ct->set_value(500);
  a.add_depends_on_action_ids("act-0");
  a.add_tags("formation");
  a.add_tags("green-tech_2");
  a.set_status(kProposed);
  return a;
}

Roadmap ValidRoadmap() {
  Roadmap r;
  r.set_title("Plan d'accélération industrielle");
  r.set_description("2024-2030");
  *r.mutable_start_date() = MakeDate(2024, 1, 1);
  *r.mutable_horizon_date() = MakeDate(2030, 12, 31);
  r.set_status(v1::ROADMAP_STATUS_DRAFT);
  r.add_copilot_organization_ids(kLead);
  r.add_copilot_organization_ids(kPartner);
  return r;
}

Ecosystem ValidEcosystem() {
  Ecosystem e;
  e.set_roadmap_id("rm-1");
  e.set_name("Travail des métaux");
  e.set_description("Métallurgie et mécanique");
  *e.mutable_creation_date() = MakeDate(2016, 5, 2);
  return e;
}

Indicator ValidIndicator() {
  Indicator i;
  i.set_roadmap_id("rm-1");
  i.set_name("Emplois créés");
  i.set_unit(v1::INDICATOR_UNIT_JOBS);
  i.set_direction(v1::INDICATOR_DIRECTION_INCREASE);
  i.set_baseline_value(1000);
  *i.mutable_baseline_date() = MakeDate(2016, 1, 1);
  i.set_target_value(2000);
  *i.mutable_target_date() = MakeDate(2020, 12, 31);
  auto* p = i.add_trajectory();
  *p->mutable_date() = MakeDate(2018, 1, 1);
  p->set_value(1500);
  return i;
}

Measurement ValidMeasurement() {
  Measurement m;
  m.set_indicator_id("ind-1");
  m.set_value(1234);
  *m.mutable_period_start() = MakeDate(2024, 1, 1);
  *m.mutable_period_end() = MakeDate(2024, 3, 31);
  m.set_source("Déclarations CNSS T1 2024");
  return m;
}

Organization ValidOrganization() {
  Organization o;
  o.set_name("Fédération");
  o.set_kind(v1::ORGANIZATION_KIND_FEDERATION);
  o.set_description("La fédération");
  o.set_contact_email("contact@federation.ma");
  return o;
}

v1::IssueTokenRequest ValidTokenRequest() {
  v1::IssueTokenRequest r;
  r.set_request_id("req-1");
  r.set_principal_name("a.benali");
  r.set_organization_id(kLead);
  r.set_role(Role::ROLE_COPILOT);
  r.set_description("CI token");
  return r;
}

std::vector<std::string> FieldsOf(const absl::Status& s) {
  std::vector<std::string> out;
  for (const auto& v : ViolationsOf(s)) out.push_back(v.field);
  return out;
}

// INVALID_ARGUMENT with exactly one violation, on `field`.
::testing::AssertionResult OnlyViolation(const absl::Status& s,
                                         const std::string& field) {
  if (s.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure()
           << "expected INVALID_ARGUMENT on " << field << ", got " << s;
  }
  std::vector<std::string> fields = FieldsOf(s);
  if (fields != std::vector<std::string>{field}) {
    return ::testing::AssertionFailure()
           << "expected only " << field << ", got ["
           << absl::StrJoin(fields, ", ") << "]: " << s;
  }
  return ::testing::AssertionSuccess();
}

// INVALID_ARGUMENT whose violations are exactly `fields` (any order).
::testing::AssertionResult HasViolations(const absl::Status& s,
                                         std::set<std::string> fields) {
  if (s.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure()
           << "expected INVALID_ARGUMENT, got " << s;
  }
  std::vector<std::string> got = FieldsOf(s);
  std::multiset<std::string> got_set(got.begin(), got.end());
  std::multiset<std::string> want(fields.begin(), fields.end());
  if (got_set != want) {
    return ::testing::AssertionFailure()
           << "expected [" << absl::StrJoin(fields, ", ") << "], got ["
           << absl::StrJoin(got, ", ") << "]: " << s;
  }
  return ::testing::AssertionSuccess();
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

bool Contains(absl::string_view haystack, const std::string& needle) {
  return std::string(haystack).find(needle) != std::string::npos;
}

google::protobuf::Timestamp Now() {
  google::protobuf::Timestamp t;
  t.set_seconds(1718445600);  // 2024-06-15T10:00:00Z
  t.set_nanos(123);
  return t;
}

// ===========================================================================
// Lifecycle: the transition table
// ===========================================================================

TEST(TransitionTableTest, TestListsEveryStatus) {
  // A status added to the proto must be added to these tests too.
  EXPECT_EQ(v1::ActionStatus_descriptor()->value_count(),
            static_cast<int>(AllStatuses().size()) + 1);
}

TEST(TransitionTableTest, AllowedTargetsMatchSpec) {
  for (ActionStatus from : AllStatuses()) {
    SCOPED_TRACE(Name(from));
    std::set<ActionStatus> want;
    for (const auto& [f, t] : SpecEdges()) {
      if (f == from) want.insert(t);
    }
    std::vector<ActionStatus> got = AllowedTargets(from);
    EXPECT_EQ(std::set<ActionStatus>(got.begin(), got.end()), want);
    EXPECT_EQ(got.size(), want.size()) << "duplicate targets";
  }
  EXPECT_TRUE(AllowedTargets(kDone).empty());
  EXPECT_TRUE(AllowedTargets(kCancelled).empty());
  EXPECT_TRUE(AllowedTargets(v1::ACTION_STATUS_UNSPECIFIED).empty());
}

// For every (from, to), a party allowed to steer it (with a reason, and
// not the organisation that requested completion) gets exactly the table.
TEST(TransitionTableTest, EveryPairFollowsSpec) {
  const std::map<ActionStatus, std::string> kAllowedText = {
      {kProposed, "allowed from PROPOSED: PLANNED, CANCELLED"},
      {kPlanned, "allowed from PLANNED: IN_PROGRESS, CANCELLED"},
      {kInProgress,
       "allowed from IN_PROGRESS: BLOCKED, COMPLETION_REQUESTED, CANCELLED"},
      {kBlocked, "allowed from BLOCKED: IN_PROGRESS, CANCELLED"},
      {kCompletionRequested,
       "allowed from COMPLETION_REQUESTED: DONE, IN_PROGRESS, CANCELLED"},
      {kDone, "allowed from DONE: none (final state)"},
      {kCancelled, "allowed from CANCELLED: none (final state)"},
  };
  const std::vector<Actor> actors = {
      MakeActor(Role::ROLE_COPILOT, kPartner),
      MakeActor(Role::ROLE_ADMIN, kPartner),
  };
  int accepted = 0;
  for (const Actor& actor : actors) {
    for (ActionStatus from : AllStatuses()) {
      for (ActionStatus to : AllStatuses()) {
        SCOPED_TRACE(absl::StrCat(Name(from), " -> ", Name(to), " by ",
                                  Role_Name(actor.role())));
        Action a = ValidAction();
        a.set_status(from);
        a.set_completion_requested_by_organization_id(kLead);
        absl::Status s = CheckTransition(a, to, "a good reason", actor);
        if (SpecEdges().count({from, to})) {
          EXPECT_TRUE(s.ok()) << s;
          ++accepted;
        } else {
          EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
          EXPECT_EQ(ReasonOf(s), "TRANSITION_NOT_ALLOWED");
          EXPECT_TRUE(Contains(s.message(), kAllowedText.at(from)))
              << s.message();
          EXPECT_TRUE(
              Contains(s.message(), absl::StrCat("from ", Name(from).substr(14),
                                                 " to ", Name(to).substr(14))))
              << s.message();
        }
      }
    }
  }
  EXPECT_EQ(accepted, 2 * static_cast<int>(SpecEdges().size()));
}

TEST(TransitionTableTest, DoneAndCancelledAreFinal) {
  for (ActionStatus from : {kDone, kCancelled}) {
    for (ActionStatus to : AllStatuses()) {
      Action a = ValidAction();
      a.set_status(from);
      absl::Status s =
          CheckTransition(a, to, "reason", MakeActor(Role::ROLE_ADMIN, kLead));
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition)
          << Name(from) << " -> " << Name(to) << ": " << s;
      EXPECT_TRUE(Contains(s.message(), "none (final state)")) << s;
    }
  }
}

TEST(TransitionTableTest, UnspecifiedOrUnknownTargetIsInvalid) {
  Action a = ValidAction();
  a.set_status(kInProgress);
  Actor admin = MakeActor(Role::ROLE_ADMIN, kLead);
  EXPECT_TRUE(OnlyViolation(
      CheckTransition(a, v1::ACTION_STATUS_UNSPECIFIED, "r", admin),
      "target_status"));
  EXPECT_TRUE(OnlyViolation(
      CheckTransition(a, static_cast<ActionStatus>(42), "r", admin),
      "target_status"));
}

TEST(TransitionTableTest, ReasonLongerThan2000CharactersIsInvalid) {
  Action a = ValidAction();
  a.set_status(kInProgress);
  Actor copilot = MakeActor(Role::ROLE_COPILOT, kLead);
  EXPECT_TRUE(OnlyViolation(
      CheckTransition(a, kBlocked, std::string(2001, 'x'), copilot), "reason"));
  EXPECT_TRUE(
      CheckTransition(a, kBlocked, std::string(2000, 'x'), copilot).ok());
  // Counted in characters: 2000 "é" (4000 bytes) are fine.
  EXPECT_TRUE(CheckTransition(a, kBlocked, Repeat("é", 2000), copilot).ok());
  // Over lines, yes; with a terminal's escape sequence, no.
  EXPECT_TRUE(CheckTransition(a, kBlocked, "waiting:\n- land", copilot).ok());
  EXPECT_TRUE(OnlyViolation(
      CheckTransition(a, kBlocked, "waiting\x1b]0;x\x07", copilot), "reason"));
}

// ===========================================================================
// Lifecycle: reasons
// ===========================================================================

TEST(TransitionReasonTest, BlockedCancelledAndRejectionNeedAReason) {
  struct Case {
    ActionStatus from, to;
  };
  const std::vector<Case> cases = {
      {kInProgress, kBlocked},
      {kProposed, kCancelled},
      {kPlanned, kCancelled},
      {kInProgress, kCancelled},
      {kBlocked, kCancelled},
      {kCompletionRequested, kCancelled},
      {kCompletionRequested, kInProgress},
  };
  Actor counterpart = MakeActor(Role::ROLE_COPILOT, kPartner);
  for (const auto& c : cases) {
    SCOPED_TRACE(absl::StrCat(Name(c.from), " -> ", Name(c.to)));
    Action a = ValidAction();
    a.set_status(c.from);
    a.set_completion_requested_by_organization_id(kLead);
    absl::Status s = CheckTransition(a, c.to, "", counterpart);
    EXPECT_TRUE(OnlyViolation(s, "reason"));
    // A blank reason is no reason.
    for (const char* blank :
         {"   ", "\n", " \t\r\n", "\xC2\xA0", "\xE2\x80\xAF \xE3\x80\x80"}) {
      EXPECT_TRUE(
          OnlyViolation(CheckTransition(a, c.to, blank, counterpart), "reason"))
          << blank;
    }
    EXPECT_TRUE(CheckTransition(a, c.to, "parce que", counterpart).ok());
    EXPECT_TRUE(CheckTransition(a, c.to, " x ", counterpart).ok());
  }
}

TEST(TransitionReasonTest, OtherTransitionsNeedNoReason) {
  struct Case {
    ActionStatus from, to;
  };
  const std::vector<Case> cases = {
      {kProposed, kPlanned},         {kPlanned, kInProgress},
      {kBlocked, kInProgress},       {kInProgress, kCompletionRequested},
      {kCompletionRequested, kDone},
  };
  Actor counterpart = MakeActor(Role::ROLE_COPILOT, kPartner);
  for (const auto& c : cases) {
    Action a = ValidAction();
    a.set_status(c.from);
    a.set_completion_requested_by_organization_id(kLead);
    absl::Status s = CheckTransition(a, c.to, "", counterpart);
    EXPECT_TRUE(s.ok()) << Name(c.from) << " -> " << Name(c.to) << ": " << s;
  }
}

// ===========================================================================
// Lifecycle: co-validation and who may steer
// ===========================================================================

TEST(CoValidationTest, RequestingCompletionRecordsTheRequesterOrganisation) {
  for (const char* org : {kLead, kPartner}) {
    Action a = ValidAction();
    a.set_status(kInProgress);
    a.set_status_reason("stale");
    Actor actor = MakeActor(Role::ROLE_COPILOT, org);
    ASSERT_TRUE(CheckTransition(a, kCompletionRequested, "", actor).ok());
    ApplyTransition(&a, kCompletionRequested, "", actor, Now());
    EXPECT_EQ(a.status(), kCompletionRequested);
    EXPECT_EQ(a.completion_requested_by_organization_id(), org);
    EXPECT_EQ(a.status_reason(), "");
    EXPECT_FALSE(a.has_done_time());
  }
}

TEST(CoValidationTest, SameOrganisationCannotApproveOrReject) {
  for (const char* requester : {kLead, kPartner}) {
    for (Role role : {Role::ROLE_COPILOT, Role::ROLE_ADMIN}) {
      SCOPED_TRACE(absl::StrCat(requester, " ", Role_Name(role)));
      Action a = ValidAction();
      a.set_status(kCompletionRequested);
      a.set_completion_requested_by_organization_id(requester);
      Actor same = MakeActor(role, requester);
      absl::Status approve = CheckTransition(a, kDone, "", same);
      EXPECT_EQ(approve.code(), absl::StatusCode::kPermissionDenied) << approve;
      EXPECT_EQ(ReasonOf(approve), "COVALIDATION_REQUIRED");
      absl::Status reject = CheckTransition(a, kInProgress, "pas fini", same);
      EXPECT_EQ(reject.code(), absl::StatusCode::kPermissionDenied) << reject;
      EXPECT_EQ(ReasonOf(reject), "COVALIDATION_REQUIRED");
    }
  }
}

TEST(CoValidationTest, CounterpartCanApproveOrReject) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {kLead, kPartner}, {kPartner, kLead}};
  for (const auto& [requester, counterpart] : pairs) {
    for (Role role : {Role::ROLE_COPILOT, Role::ROLE_ADMIN}) {
      SCOPED_TRACE(absl::StrCat(requester, " ", Role_Name(role)));
      Action a = ValidAction();
      a.set_status(kCompletionRequested);
      a.set_completion_requested_by_organization_id(requester);
      Actor other = MakeActor(role, counterpart);
      EXPECT_TRUE(CheckTransition(a, kDone, "", other).ok());
      EXPECT_TRUE(CheckTransition(a, kInProgress, "pas fini", other).ok());
    }
  }
}

TEST(CoValidationTest, AdminOfAThirdOrganisationCannotDecideCompletion) {
  Action a = ValidAction();
  a.set_status(kCompletionRequested);
  a.set_completion_requested_by_organization_id(kLead);
  Actor admin = MakeActor(Role::ROLE_ADMIN, kThird);
  absl::Status approve = CheckTransition(a, kDone, "", admin);
  EXPECT_EQ(approve.code(), absl::StatusCode::kPermissionDenied) << approve;
  EXPECT_EQ(ReasonOf(approve), "COVALIDATION_REQUIRED");
  absl::Status reject = CheckTransition(a, kInProgress, "non", admin);
  EXPECT_EQ(reject.code(), absl::StatusCode::kPermissionDenied) << reject;
  EXPECT_EQ(ReasonOf(reject), "COVALIDATION_REQUIRED");
}

TEST(CoValidationTest, AdminOfAThirdOrganisationCannotRequestCompletion) {
  Action a = ValidAction();
  a.set_status(kInProgress);
  absl::Status s = CheckTransition(a, kCompletionRequested, "",
                                   MakeActor(Role::ROLE_ADMIN, kThird));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
}

TEST(CoValidationTest, CopilotOfAnUnrelatedOrganisationCannotTransition) {
  Actor outsider = MakeActor(Role::ROLE_COPILOT, kThird);
  for (const auto& [from, to] : SpecEdges()) {
    Action a = ValidAction();
    a.set_status(from);
    a.set_completion_requested_by_organization_id(kLead);
    absl::Status s = CheckTransition(a, to, "reason", outsider);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied)
        << Name(from) << " -> " << Name(to) << ": " << s;
  }
}

TEST(CoValidationTest, MembersAndReadersCannotTransition) {
  for (Role role :
       {Role::ROLE_MEMBER, Role::ROLE_READER, Role::ROLE_UNSPECIFIED}) {
    for (const char* org : {kLead, kPartner}) {
      Actor actor = MakeActor(role, org);
      for (const auto& [from, to] : SpecEdges()) {
        Action a = ValidAction();
        a.set_status(from);
        a.set_completion_requested_by_organization_id(
            org == std::string(kLead) ? kPartner : kLead);
        absl::Status s = CheckTransition(a, to, "reason", actor);
        EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied)
            << Role_Name(role) << " " << org << " " << Name(from) << " -> "
            << Name(to) << ": " << s;
      }
    }
  }
}

TEST(CoValidationTest, AdminOfThirdOrganisationMaySteerOtherwise) {
  Actor admin = MakeActor(Role::ROLE_ADMIN, kThird);
  Action a = ValidAction();
  a.set_status(kProposed);
  EXPECT_TRUE(CheckTransition(a, kPlanned, "", admin).ok());
  a.set_status(kInProgress);
  EXPECT_TRUE(CheckTransition(a, kCancelled, "abandon", admin).ok());
}

TEST(ApplyTransitionTest, ApprovalSetsDoneTime) {
  Action a = ValidAction();
  a.set_status(kCompletionRequested);
  a.set_completion_requested_by_organization_id(kLead);
  Actor counterpart = MakeActor(Role::ROLE_COPILOT, kPartner);
  ASSERT_TRUE(CheckTransition(a, kDone, "", counterpart).ok());
  ApplyTransition(&a, kDone, "", counterpart, Now());
  EXPECT_EQ(a.status(), kDone);
  ASSERT_TRUE(a.has_done_time());
  EXPECT_EQ(a.done_time().seconds(), Now().seconds());
  EXPECT_EQ(a.done_time().nanos(), Now().nanos());
  // Who requested it is kept after DONE.
  EXPECT_EQ(a.completion_requested_by_organization_id(), kLead);
}

TEST(ApplyTransitionTest, RejectionClearsRequesterAndStoresReason) {
  Action a = ValidAction();
  a.set_status(kCompletionRequested);
  a.set_completion_requested_by_organization_id(kPartner);
  Actor counterpart = MakeActor(Role::ROLE_COPILOT, kLead);
  ASSERT_TRUE(
      CheckTransition(a, kInProgress, "jalon 2 manquant", counterpart).ok());
  ApplyTransition(&a, kInProgress, "jalon 2 manquant", counterpart, Now());
  EXPECT_EQ(a.status(), kInProgress);
  EXPECT_EQ(a.completion_requested_by_organization_id(), "");
  EXPECT_EQ(a.status_reason(), "jalon 2 manquant");
  EXPECT_FALSE(a.has_done_time());
}

TEST(ApplyTransitionTest, BlockedAndCancelledStoreReasonUnblockClearsIt) {
  Actor copilot = MakeActor(Role::ROLE_COPILOT, kLead);
  Action a = ValidAction();
  a.set_status(kInProgress);
  ApplyTransition(&a, kBlocked, "attente budget", copilot, Now());
  EXPECT_EQ(a.status(), kBlocked);
  EXPECT_EQ(a.status_reason(), "attente budget");
  ApplyTransition(&a, kInProgress, "", copilot, Now());
  EXPECT_EQ(a.status(), kInProgress);
  EXPECT_EQ(a.status_reason(), "");
  ApplyTransition(&a, kCancelled, "abandonnée", copilot, Now());
  EXPECT_EQ(a.status(), kCancelled);
  EXPECT_EQ(a.status_reason(), "abandonnée");
  EXPECT_FALSE(a.has_done_time());
}

TEST(ApplyTransitionTest, FullCoValidatedCompletion) {
  Actor fed = MakeActor(Role::ROLE_COPILOT, kLead);
  Actor min = MakeActor(Role::ROLE_COPILOT, kPartner);
  Action a = ValidAction();
  for (ActionStatus to : {kPlanned, kInProgress, kCompletionRequested}) {
    ASSERT_TRUE(CheckTransition(a, to, "", fed).ok()) << Name(to);
    ApplyTransition(&a, to, "", fed, Now());
  }
  EXPECT_EQ(CheckTransition(a, kDone, "", fed).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(CheckTransition(a, kInProgress, "incomplet", min).ok());
  ApplyTransition(&a, kInProgress, "incomplet", min, Now());
  // The partner now requests; the lead must approve.
  ASSERT_TRUE(CheckTransition(a, kCompletionRequested, "", min).ok());
  ApplyTransition(&a, kCompletionRequested, "", min, Now());
  EXPECT_EQ(a.completion_requested_by_organization_id(), kPartner);
  EXPECT_EQ(CheckTransition(a, kDone, "", min).code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(CheckTransition(a, kDone, "", fed).ok());
  ApplyTransition(&a, kDone, "", fed, Now());
  EXPECT_EQ(a.status(), kDone);
  EXPECT_TRUE(a.has_done_time());
}

TEST(CanSteerTest, EveryRoleAndOrganisation) {
  Action a = ValidAction();
  const std::vector<std::string> orgs = {kLead, kPartner, kThird, ""};
  for (Role role : {Role::ROLE_ADMIN, Role::ROLE_COPILOT, Role::ROLE_MEMBER,
                    Role::ROLE_READER, Role::ROLE_UNSPECIFIED}) {
    for (const std::string& org : orgs) {
      bool want =
          role == Role::ROLE_ADMIN ||
          (role == Role::ROLE_COPILOT && (org == kLead || org == kPartner));
      EXPECT_EQ(CanSteer(MakeActor(role, org), a), want)
          << Role_Name(role) << " of '" << org << "'";
    }
  }
}

TEST(CanSteerTest, EmptyOrganisationNeverMatchesAnEmptyParty) {
  Action a = ValidAction();
  a.clear_partner_organization_id();
  EXPECT_FALSE(CanSteer(MakeActor(Role::ROLE_COPILOT, ""), a));
  EXPECT_TRUE(CanSteer(MakeActor(Role::ROLE_COPILOT, kLead), a));
}

TEST(MayChangePartiesTest, ACopilotSwapsRolesButNeverReplacesTheOtherParty) {
  const Action before = ValidAction();  // lead kLead, partner kPartner
  auto with = [&](const std::string& lead, const std::string& partner) {
    Action a = before;
    a.set_lead_organization_id(lead);
    a.set_partner_organization_id(partner);
    return a;
  };
  const Actor lead = MakeActor(Role::ROLE_COPILOT, kLead);
  const Actor admin = MakeActor(Role::ROLE_ADMIN, kThird);
  EXPECT_TRUE(MayChangeParties(lead, before, before));
  EXPECT_TRUE(MayChangeParties(lead, before, with(kPartner, kLead)));
  // The counterpart, who decides on completion, is not the copilot's pick.
  EXPECT_FALSE(MayChangeParties(lead, before, with(kLead, kThird)));
  EXPECT_FALSE(MayChangeParties(lead, before, with(kThird, kLead)));
  EXPECT_FALSE(MayChangeParties(MakeActor(Role::ROLE_COPILOT, kPartner), before,
                                with(kThird, kPartner)));
  EXPECT_TRUE(MayChangeParties(admin, before, with(kLead, kThird)));
  EXPECT_TRUE(MayChangeParties(admin, before, with(kThird, kPartner)));
}

// ===========================================================================
// Progress and lateness
// ===========================================================================

TEST(ProgressTest, ZeroWithoutMilestones) {
  Action a = ValidAction();
  a.clear_milestones();
  a.set_status(kInProgress);
  EXPECT_EQ(Progress(a), 0);
}

TEST(ProgressTest, ShareOfMilestonesDone) {
  Action a = ValidAction();
  a.clear_milestones();
  a.set_status(kInProgress);
  for (int k = 0; k < 3; ++k) {
    *a.add_milestones() = MakeMilestone("m", MakeDate(2024, 3 + k, 1));
  }
  EXPECT_EQ(Progress(a), 0);
  *a.mutable_milestones(1)->mutable_done_date() = MakeDate(2024, 4, 2);
  EXPECT_EQ(Progress(a), 33);
  *a.mutable_milestones(2)->mutable_done_date() = MakeDate(2024, 5, 2);
  EXPECT_EQ(Progress(a), 66);
  *a.mutable_milestones(0)->mutable_done_date() = MakeDate(2024, 3, 2);
  EXPECT_EQ(Progress(a), 100);
}

TEST(ProgressTest, HundredWhenDone) {
  Action a = ValidAction();  // two milestones, none done
  a.set_status(kDone);
  EXPECT_EQ(Progress(a), 100);
  a.clear_milestones();
  EXPECT_EQ(Progress(a), 100);
}

TEST(ProgressTest, OverrideWins) {
  Action a = ValidAction();
  a.set_status(kInProgress);
  *a.mutable_milestones(0)->mutable_done_date() = MakeDate(2024, 3, 1);
  a.set_progress_override(80);
  EXPECT_EQ(Progress(a), 80);
  a.set_progress_override(0);  // set to 0 is not "unset"
  EXPECT_EQ(Progress(a), 0);
  a.set_status(kDone);
  EXPECT_EQ(Progress(a), 0);
  a.clear_progress_override();
  EXPECT_EQ(Progress(a), 100);
}

TEST(LatenessTest, ActionDueDateAgainstToday) {
  const Date today = MakeDate(2024, 6, 15);
  Action a = ValidAction();
  a.set_status(kInProgress);
  *a.mutable_due_date() = MakeDate(2024, 6, 14);
  EXPECT_TRUE(IsLate(a, today));
  *a.mutable_due_date() = MakeDate(2024, 6, 15);
  EXPECT_FALSE(IsLate(a, today));
  *a.mutable_due_date() = MakeDate(2024, 6, 16);
  EXPECT_FALSE(IsLate(a, today));
  *a.mutable_due_date() = MakeDate(2023, 12, 31);
  EXPECT_TRUE(IsLate(a, today));
  a.clear_due_date();
  EXPECT_FALSE(IsLate(a, today));
}

TEST(LatenessTest, OnlyOpenActionsAreLate) {
  const Date today = MakeDate(2024, 6, 15);
  for (ActionStatus s : AllStatuses()) {
    Action a = ValidAction();
    a.set_status(s);
    *a.mutable_due_date() = MakeDate(2024, 1, 31);
    EXPECT_EQ(IsLate(a, today), s != kDone && s != kCancelled) << Name(s);
  }
}

TEST(LatenessTest, Milestones) {
  const Date today = MakeDate(2024, 6, 15);
  v1::Milestone m = MakeMilestone("m", MakeDate(2024, 6, 14));
  EXPECT_TRUE(IsLate(m, today));
  *m.mutable_done_date() = MakeDate(2024, 6, 20);  // done, even late
  EXPECT_FALSE(IsLate(m, today));
  m.clear_done_date();
  *m.mutable_due_date() = MakeDate(2024, 6, 15);
  EXPECT_FALSE(IsLate(m, today));
  *m.mutable_due_date() = MakeDate(2024, 7, 1);
  EXPECT_FALSE(IsLate(m, today));
}

TEST(DecorateTest, FillsProgressLatenessAndMilestoneLateness) {
  const Date today = MakeDate(2024, 6, 15);
  Action a = ValidAction();
  a.clear_milestones();
  a.set_status(kInProgress);
  *a.mutable_due_date() = MakeDate(2024, 6, 1);
  *a.add_milestones() = MakeMilestone("late", MakeDate(2024, 5, 1));
  *a.add_milestones() = MakeMilestone("done late", MakeDate(2024, 5, 1));
  *a.mutable_milestones(1)->mutable_done_date() = MakeDate(2024, 5, 10);
  *a.add_milestones() = MakeMilestone("future", MakeDate(2024, 9, 1));
  a.mutable_milestones(2)->set_late(true);  // stale value to overwrite
  Decorate(&a, today);
  EXPECT_EQ(a.progress_percent(), 33);
  EXPECT_TRUE(a.late());
  EXPECT_TRUE(a.milestones(0).late());
  EXPECT_FALSE(a.milestones(1).late());
  EXPECT_FALSE(a.milestones(2).late());

  *a.mutable_due_date() = MakeDate(2024, 12, 31);
  Decorate(&a, today);
  EXPECT_FALSE(a.late());
  EXPECT_TRUE(a.milestones(0).late());
}

TEST(DecorateTest, ClosedActionsHaveNoLateMilestones) {
  const Date today = MakeDate(2024, 6, 15);
  for (ActionStatus s : {kDone, kCancelled}) {
    Action a = ValidAction();
    a.clear_milestones();
    a.set_status(s);
    *a.mutable_due_date() = MakeDate(2024, 6, 1);
    *a.add_milestones() = MakeMilestone("late", MakeDate(2024, 5, 1));
    *a.add_milestones() = MakeMilestone("done", MakeDate(2024, 5, 1));
    *a.mutable_milestones(1)->mutable_done_date() = MakeDate(2024, 5, 1);
    a.set_late(true);
    a.mutable_milestones(0)->set_late(true);
    Decorate(&a, today);
    EXPECT_FALSE(a.late()) << Name(s);
    EXPECT_FALSE(a.milestones(0).late()) << Name(s);
    EXPECT_FALSE(a.milestones(1).late()) << Name(s);
    EXPECT_EQ(a.progress_percent(), s == kDone ? 100 : 50) << Name(s);
  }
}

TEST(DecorateTest, OverrideShowsInProgressPercent) {
  Action a = ValidAction();
  a.set_progress_override(42);
  Decorate(&a, MakeDate(2024, 6, 15));
  EXPECT_EQ(a.progress_percent(), 42);
}

// ===========================================================================
// Dependencies
// ===========================================================================

TEST(CheckNoCycleTest, SelfDependency) {
  absl::Status s = CheckNoCycle({}, "a", {"a"});
  EXPECT_TRUE(OnlyViolation(s, "action.depends_on_action_ids"));
}

TEST(CheckNoCycleTest, DirectCycle) {
  DependencyGraph g = {{"b", {"a"}}};
  absl::Status s = CheckNoCycle(g, "a", {"b"});
  EXPECT_TRUE(OnlyViolation(s, "action.depends_on_action_ids"));
  EXPECT_TRUE(Contains(s.message(), "a -> b -> a")) << s;
}

TEST(CheckNoCycleTest, LongerCycleShowsThePath) {
  DependencyGraph g = {{"b", {"c"}}, {"c", {"a"}}, {"x", {"y"}}};
  absl::Status s = CheckNoCycle(g, "a", {"x", "b"});
  EXPECT_TRUE(OnlyViolation(s, "action.depends_on_action_ids"));
  EXPECT_TRUE(Contains(s.message(), "a -> b -> c -> a")) << s;
}

TEST(CheckNoCycleTest, CycleThroughABranch) {
  DependencyGraph g = {
      {"b", {"c", "d"}}, {"c", {}}, {"d", {"e"}}, {"e", {"a"}}};
  absl::Status s = CheckNoCycle(g, "a", {"b"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "a -> b -> d -> e -> a")) << s;
}

TEST(CheckNoCycleTest, DiamondIsNotACycle) {
  DependencyGraph g = {
      {"b", {"d"}}, {"c", {"d"}}, {"d", {"e"}}, {"e", {}}, {"a", {"old"}}};
  EXPECT_TRUE(CheckNoCycle(g, "a", {"b", "c"}).ok());
}

TEST(CheckNoCycleTest, UnrelatedGraphIsAccepted) {
  // Including an existing cycle elsewhere, which must not loop forever.
  DependencyGraph g = {{"x", {"y"}}, {"y", {"z"}}, {"p", {"q"}}, {"q", {"p"}}};
  EXPECT_TRUE(CheckNoCycle(g, "a", {"b"}).ok());
  EXPECT_TRUE(CheckNoCycle(g, "a", {"x", "p"}).ok());
  EXPECT_TRUE(CheckNoCycle(g, "a", {}).ok());
}

TEST(CheckNoCycleTest, DependentsOfTheActionDoNotMatter) {
  // a's dependents (things depending on a) form no cycle with a's new deps.
  DependencyGraph g = {{"z", {"a"}}, {"b", {"c"}}};
  EXPECT_TRUE(CheckNoCycle(g, "a", {"b"}).ok());
  // But depending on a dependent does.
  absl::Status s = CheckNoCycle(g, "a", {"z"});
  EXPECT_TRUE(Contains(s.message(), "a -> z -> a")) << s;
}

// ===========================================================================
// ValidateAction
// ===========================================================================

class ValidateActionTest : public ::testing::Test {
 protected:
  absl::Status V(const Action& a) { return ValidateAction(a, "action."); }
  Action a_ = ValidAction();
};

TEST_F(ValidateActionTest, ValidActionPasses) {
  EXPECT_TRUE(V(a_).ok()) << V(a_);
  // Optional fields may be left out.
  Action minimal;
  minimal.set_roadmap_id("rm-1");
  minimal.set_title("t");
  minimal.set_lead_organization_id(kLead);
  minimal.set_partner_organization_id(kPartner);
  minimal.set_priority(v1::ACTION_PRIORITY_LOW);
  *minimal.mutable_due_date() = MakeDate(2024, 1, 1);
  EXPECT_TRUE(V(minimal).ok()) << V(minimal);
}

TEST_F(ValidateActionTest, PrefixIsPrepended) {
  a_.clear_title();
  EXPECT_TRUE(OnlyViolation(ValidateAction(a_, ""), "title"));
  EXPECT_TRUE(OnlyViolation(ValidateAction(a_, "x.y."), "x.y.title"));
}

TEST_F(ValidateActionTest, Title) {
  a_.set_title("");
  EXPECT_TRUE(OnlyViolation(V(a_), "action.title"));
  a_.set_title(std::string(201, 'x'));
  EXPECT_TRUE(OnlyViolation(V(a_), "action.title"));
  a_.set_title(std::string(200, 'x'));
  EXPECT_TRUE(V(a_).ok());
  // Length counts code points, not bytes.
  a_.set_title(Repeat("é", 200));
  EXPECT_TRUE(V(a_).ok()) << V(a_);
  a_.set_title(Repeat("é", 201));
  EXPECT_TRUE(OnlyViolation(V(a_), "action.title"));
  a_.set_title(Repeat("ⵣ", 200));  // 3-byte Tifinagh letter
  EXPECT_TRUE(V(a_).ok()) << V(a_);
}

TEST_F(ValidateActionTest, Description) {
  a_.set_description(std::string(10001, 'd'));
  EXPECT_TRUE(OnlyViolation(V(a_), "action.description"));
  a_.set_description(std::string(10000, 'd'));
  EXPECT_TRUE(V(a_).ok());
  a_.set_description("");
  EXPECT_TRUE(V(a_).ok());
}

TEST_F(ValidateActionTest, ControlCharactersAreRefused) {
  // A title is one line: no control character at all, tab and line breaks
  // included.
  for (std::string bad :
       {std::string("Plan\x1b[2Jfonderie"), std::string("Plan\nfonderie"),
        std::string("Plan\tfonderie"), std::string("Plan\x7f"),
        std::string("\xc2\x85x"), std::string("nul\0x", 5)}) {
    a_.set_title(bad);
    EXPECT_TRUE(OnlyViolation(V(a_), "action.title")) << bad;
  }
  a_.set_title("Plan \x1b");
  EXPECT_EQ(FieldsOf(V(a_)), std::vector<std::string>{"action.title"});
  EXPECT_NE(V(a_).message().find("U+001B at character 6"), std::string::npos)
      << V(a_);
  a_.set_title("Plan\nB");
  EXPECT_NE(V(a_).message().find("single line"), std::string::npos) << V(a_);
  a_.set_title("Fonderie \xc2\xa0 ⵣ");  // U+00A0 is not a C1 control
  EXPECT_TRUE(V(a_).ok()) << V(a_);
  // A description may run over lines, with tabs; not with other controls.
  a_.set_description("one\n\ttwo\r\nthree");
  EXPECT_TRUE(V(a_).ok()) << V(a_);
  a_.set_description("bell\a");
  EXPECT_TRUE(OnlyViolation(V(a_), "action.description"));
  a_.set_description("");
  a_.set_owner("M. \bAlami");
  EXPECT_TRUE(OnlyViolation(V(a_), "action.owner"));
}

TEST_F(ValidateActionTest, ABlankRequiredTextIsMissing) {
  for (const char* blank : {" ", "    ", "\xC2\xA0\xE2\x80\x8B"}) {
    Action a = a_;
    a.set_title(blank);
    EXPECT_TRUE(OnlyViolation(V(a), "action.title")) << blank;
    EXPECT_NE(V(a).message().find("is required"), std::string::npos) << V(a);
    a = a_;
    a.mutable_milestones(0)->set_title(blank);
    EXPECT_TRUE(OnlyViolation(V(a), "action.milestones[0].title")) << blank;
  }
  // Spaces around a text are the text's business.
  a_.set_title(" Plan fonderie ");
  EXPECT_TRUE(V(a_).ok()) << V(a_);
  // An optional text may be blank.
  a_.set_description("  ");
  EXPECT_TRUE(V(a_).ok()) << V(a_);
}

TEST_F(ValidateActionTest, MilestoneIdsAreOneLineOfText) {
  for (const char* good : {"m1", "etude-de-gisement", "Étape 2 (bis)"}) {
    a_.mutable_milestones(0)->set_id(good);
    EXPECT_TRUE(V(a_).ok()) << good << ": " << V(a_);
  }
  for (std::string bad : {std::string("m\x1b[31m"), std::string("m1\n"),
                          std::string("a\tb"), std::string(65, 'm')}) {
    a_.mutable_milestones(0)->set_id(bad);
    EXPECT_TRUE(OnlyViolation(V(a_), "action.milestones[0].id")) << bad;
  }
}

TEST_F(ValidateActionTest, RoadmapIdRequired) {
  a_.clear_roadmap_id();
  EXPECT_TRUE(OnlyViolation(V(a_), "action.roadmap_id"));
}

TEST_F(ValidateActionTest, LeadAndPartnerRequiredAndDistinct) {
  Action a = a_;
  a.clear_lead_organization_id();
  EXPECT_TRUE(OnlyViolation(V(a), "action.lead_organization_id"));
  a = a_;
  a.clear_partner_organization_id();
  EXPECT_TRUE(OnlyViolation(V(a), "action.partner_organization_id"));
  a = a_;
  a.set_partner_organization_id(kLead);
  EXPECT_TRUE(OnlyViolation(V(a), "action.partner_organization_id"));
  a.clear_lead_organization_id();
  a.clear_partner_organization_id();
  EXPECT_TRUE(HasViolations(
      V(a), {"action.lead_organization_id", "action.partner_organization_id"}));
}

TEST_F(ValidateActionTest, Owner) {
  a_.set_owner(std::string(201, 'o'));
  EXPECT_TRUE(OnlyViolation(V(a_), "action.owner"));
  a_.set_owner(std::string(200, 'o'));
  EXPECT_TRUE(V(a_).ok());
  a_.clear_owner();
  EXPECT_TRUE(V(a_).ok());
}

TEST_F(ValidateActionTest, Priority) {
  a_.set_priority(static_cast<v1::ActionPriority>(99));
  EXPECT_TRUE(OnlyViolation(V(a_), "action.priority"));
  a_.set_priority(static_cast<v1::ActionPriority>(-1));
  EXPECT_TRUE(OnlyViolation(V(a_), "action.priority"));
  a_.set_priority(v1::ACTION_PRIORITY_UNSPECIFIED);
  EXPECT_TRUE(OnlyViolation(V(a_), "action.priority"));
  for (auto p : {v1::ACTION_PRIORITY_LOW, v1::ACTION_PRIORITY_MEDIUM,
                 v1::ACTION_PRIORITY_HIGH, v1::ACTION_PRIORITY_CRITICAL}) {
    a_.set_priority(p);
    EXPECT_TRUE(V(a_).ok()) << v1::ActionPriority_Name(p);
  }
}

TEST_F(ValidateActionTest, DueDate) {
  a_.clear_start_date();  // judge the due date alone
  a_.clear_due_date();
  EXPECT_TRUE(OnlyViolation(V(a_), "action.due_date"));
  const std::vector<Date> invalid = {
      MakeDate(2024, 2, 30), MakeDate(2023, 2, 29),  MakeDate(2100, 2, 29),
      MakeDate(2024, 13, 1), MakeDate(2024, 0, 1),   MakeDate(2024, 4, 31),
      MakeDate(2024, 1, 0),  MakeDate(1899, 12, 31), MakeDate(10000, 1, 1),
      MakeDate(0, 0, 1)};
  for (const Date& d : invalid) {
    *a_.mutable_due_date() = d;
    EXPECT_TRUE(OnlyViolation(V(a_), "action.due_date")) << FormatDate(d);
  }
  const std::vector<Date> valid = {MakeDate(2024, 2, 29), MakeDate(2000, 2, 29),
                                   MakeDate(2024, 4, 30),
                                   MakeDate(9999, 12, 31)};
  for (const Date& d : valid) {
    *a_.mutable_due_date() = d;
    EXPECT_TRUE(V(a_).ok()) << FormatDate(d) << ": " << V(a_);
  }
}

TEST_F(ValidateActionTest, StartDate) {
  *a_.mutable_start_date() = MakeDate(2025, 1, 1);  // after due 2024-12-31
  EXPECT_TRUE(OnlyViolation(V(a_), "action.due_date"));
  *a_.mutable_start_date() = MakeDate(2024, 12, 31);  // same day is fine
  EXPECT_TRUE(V(a_).ok());
  *a_.mutable_start_date() = MakeDate(2024, 2, 30);
  EXPECT_TRUE(OnlyViolation(V(a_), "action.start_date"));
  a_.clear_start_date();  // optional
  EXPECT_TRUE(V(a_).ok());
}

TEST_F(ValidateActionTest, MilestoneCount) {
  a_.clear_milestones();
  for (int k = 0; k < 100; ++k) {
    *a_.add_milestones() = MakeMilestone("m", MakeDate(2024, 6, 1));
  }
  EXPECT_TRUE(V(a_).ok());
  *a_.add_milestones() = MakeMilestone("m", MakeDate(2024, 6, 1));
  EXPECT_TRUE(OnlyViolation(V(a_), "action.milestones"));
}

TEST_F(ValidateActionTest, MilestoneFields) {
  Action a = a_;
  a.mutable_milestones(1)->clear_title();
  EXPECT_TRUE(OnlyViolation(V(a), "action.milestones[1].title"));
  a = a_;
  a.mutable_milestones(1)->set_title(std::string(201, 't'));
  EXPECT_TRUE(OnlyViolation(V(a), "action.milestones[1].title"));
  a = a_;
  a.mutable_milestones(0)->clear_due_date();
  EXPECT_TRUE(OnlyViolation(V(a), "action.milestones[0].due_date"));
  a = a_;
  *a.mutable_milestones(0)->mutable_due_date() = MakeDate(2024, 2, 30);
  EXPECT_TRUE(OnlyViolation(V(a), "action.milestones[0].due_date"));
  a = a_;
  *a.mutable_milestones(1)->mutable_done_date() = MakeDate(2023, 2, 29);
  EXPECT_TRUE(OnlyViolation(V(a), "action.milestones[1].done_date"));
  a = a_;
  *a.mutable_milestones(1)->mutable_done_date() = MakeDate(2024, 2, 29);
  EXPECT_TRUE(V(a).ok());
}

TEST_F(ValidateActionTest, AMilestoneIsNotDoneInTheFuture) {
  Action a = a_;
  *a.mutable_milestones(1)->mutable_done_date() = MakeDate(2024, 5, 10);
  const Date two_days_before = MakeDate(2024, 5, 8);
  auto s = ValidateAction(a, "action.", &two_days_before);
  EXPECT_TRUE(OnlyViolation(s, "action.milestones[1].done_date")) << s;
  EXPECT_NE(s.ToString().find("in the future (after 2024-05-09)"),
            std::string::npos)
      << s;
  // The day before: a client a time zone ahead may already be on it.
  const Date day_before = MakeDate(2024, 5, 9);
  const Date same_day = MakeDate(2024, 5, 10);
  EXPECT_TRUE(ValidateAction(a, "action.", &day_before).ok());
  EXPECT_TRUE(ValidateAction(a, "action.", &same_day).ok());
  EXPECT_TRUE(ValidateAction(a, "action.").ok());  // no day: not checked
}

TEST_F(ValidateActionTest, MilestoneIds) {
  Action a = a_;
  a.mutable_milestones(0)->set_id("m1");
  a.mutable_milestones(1)->set_id("m1");
  EXPECT_TRUE(OnlyViolation(V(a), "action.milestones[1].id"));
  a.mutable_milestones(1)->set_id("m2");
  EXPECT_TRUE(V(a).ok());
  a.mutable_milestones(1)->set_id(std::string(65, 'i'));
  EXPECT_TRUE(OnlyViolation(V(a), "action.milestones[1].id"));
  a.mutable_milestones(1)->set_id(std::string(64, 'i'));
  EXPECT_TRUE(V(a).ok());
  // Empty ids (new milestones) are not duplicates of each other.
  a.mutable_milestones(0)->clear_id();
  a.mutable_milestones(1)->clear_id();
  EXPECT_TRUE(V(a).ok());
}

TEST_F(ValidateActionTest, ProgressOverride) {
  a_.set_progress_override(-1);
  EXPECT_TRUE(OnlyViolation(V(a_), "action.progress_override"));
  a_.set_progress_override(101);
  EXPECT_TRUE(OnlyViolation(V(a_), "action.progress_override"));
  a_.set_progress_override(0);
  EXPECT_TRUE(V(a_).ok());
  a_.set_progress_override(100);
  EXPECT_TRUE(V(a_).ok());
  a_.clear_progress_override();
  EXPECT_TRUE(V(a_).ok());
}

TEST_F(ValidateActionTest, Contributions) {
  Action a = a_;
  a.mutable_contributions(0)->clear_indicator_id();
  EXPECT_TRUE(OnlyViolation(V(a), "action.contributions[0].indicator_id"));
  a = a_;
  a.mutable_contributions(0)->set_value(std::nan(""));
  EXPECT_TRUE(OnlyViolation(V(a), "action.contributions[0].value"));
  a.mutable_contributions(0)->set_value(
      std::numeric_limits<double>::infinity());
  EXPECT_TRUE(OnlyViolation(V(a), "action.contributions[0].value"));
  a.mutable_contributions(0)->set_value(
      -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(OnlyViolation(V(a), "action.contributions[0].value"));
  a = a_;
  *a.add_contributions() = a.contributions(0);
  EXPECT_TRUE(OnlyViolation(V(a), "action.contributions[1].indicator_id"));
  a = a_;
  a.mutable_contributions(0)->set_value(-3.5);  // negative is a real figure
  EXPECT_TRUE(V(a).ok());
}

TEST_F(ValidateActionTest, ContributionCount) {
  a_.clear_contributions();
  for (int k = 0; k < 50; ++k) {
    auto* ct = a_.add_contributions();
    ct->set_indicator_id(absl::StrCat("ind-", k));
    ct->set_value(k);
  }
  EXPECT_TRUE(V(a_).ok());
  auto* ct = a_.add_contributions();
  ct->set_indicator_id("ind-50");
  EXPECT_TRUE(OnlyViolation(V(a_), "action.contributions"));
}

TEST_F(ValidateActionTest, DependsOn) {
  Action a = a_;
  a.add_depends_on_action_ids("");
  EXPECT_TRUE(OnlyViolation(V(a), "action.depends_on_action_ids[1]"));
  a = a_;
  a.add_depends_on_action_ids("act-0");
  EXPECT_TRUE(OnlyViolation(V(a), "action.depends_on_action_ids[1]"));
  a = a_;
  a.add_depends_on_action_ids("act-1");  // its own id
  EXPECT_TRUE(OnlyViolation(V(a), "action.depends_on_action_ids[1]"));
  a.clear_id();  // a new action has no id yet: nothing to compare with
  EXPECT_TRUE(V(a).ok());
}

TEST_F(ValidateActionTest, DependsOnCount) {
  a_.clear_depends_on_action_ids();
  for (int k = 0; k < 100; ++k) {
    a_.add_depends_on_action_ids(absl::StrCat("dep-", k));
  }
  EXPECT_TRUE(V(a_).ok());
  a_.add_depends_on_action_ids("dep-100");
  EXPECT_TRUE(OnlyViolation(V(a_), "action.depends_on_action_ids"));
}

TEST_F(ValidateActionTest, Tags) {
  for (const std::string& bad :
       {std::string("Energy"), std::string("ÉNERGIE"), std::string("a b"),
        std::string("a/b"), std::string(""), std::string(51, 't'),
        std::string("énergie")}) {
    Action a = a_;
    a.add_tags(bad);
    EXPECT_TRUE(OnlyViolation(V(a), "action.tags[2]")) << "'" << bad << "'";
  }
  Action a = a_;
  a.add_tags(std::string(50, 't'));
  a.add_tags("a-z_0-9");
  EXPECT_TRUE(V(a).ok()) << V(a);
  a = a_;
  a.add_tags("formation");
  EXPECT_TRUE(OnlyViolation(V(a), "action.tags[2]"));
}

TEST_F(ValidateActionTest, TagCount) {
  a_.clear_tags();
  for (int k = 0; k < 20; ++k) a_.add_tags(absl::StrCat("t", k));
  EXPECT_TRUE(V(a_).ok());
  a_.add_tags("t20");
  EXPECT_TRUE(OnlyViolation(V(a_), "action.tags"));
}

TEST_F(ValidateActionTest, EveryViolationIsReportedAtOnce) {
  a_.clear_title();
  a_.clear_roadmap_id();
  a_.set_partner_organization_id(kLead);
  a_.set_owner(std::string(201, 'o'));
  a_.set_priority(static_cast<v1::ActionPriority>(7));
  *a_.mutable_start_date() = MakeDate(2024, 2, 30);
  *a_.mutable_due_date() = MakeDate(2023, 2, 29);
  a_.mutable_milestones(1)->clear_title();
  a_.mutable_milestones(0)->clear_due_date();
  a_.set_progress_override(101);
  a_.mutable_contributions(0)->set_value(std::nan(""));
  a_.add_depends_on_action_ids("");
  a_.add_tags("Bad");
  absl::Status s = V(a_);
  EXPECT_TRUE(HasViolations(
      s, {"action.title", "action.roadmap_id", "action.partner_organization_id",
          "action.owner", "action.priority", "action.start_date",
          "action.due_date", "action.milestones[1].title",
          "action.milestones[0].due_date", "action.progress_override",
          "action.contributions[0].value", "action.depends_on_action_ids[1]",
          "action.tags[2]"}));
  // The message names them too, for clients that only read it, as many as
  // fit in kMaxMessageBytes, and says how many more the details list.
  EXPECT_TRUE(Contains(s.message(), "action.milestones[1].title")) << s;
  EXPECT_LE(s.message().size(), kMaxMessageBytes);
  if (Contains(s.message(), " more")) {
    // "a: ...; b: ...; and N more": a ';' after each violation named.
    const size_t named =
        std::count(s.message().begin(), s.message().end(), ';');
    EXPECT_TRUE(
        Contains(s.message(), absl::StrCat("; and ", 13 - named, " more")))
        << s;
  } else {
    EXPECT_TRUE(Contains(s.message(), "action.tags[2]")) << s;
  }
}

// ===========================================================================
// ValidateRoadmap, ValidateEcosystem
// ===========================================================================

TEST(ValidateRoadmapTest, ValidRoadmapPasses) {
  Roadmap r = ValidRoadmap();
  EXPECT_TRUE(ValidateRoadmap(r, "roadmap.").ok()) << ValidateRoadmap(r, "");
  r.set_status(v1::ROADMAP_STATUS_ACTIVE);
  EXPECT_TRUE(ValidateRoadmap(r, "roadmap.").ok());
  r.set_status(v1::ROADMAP_STATUS_CLOSED);
  EXPECT_TRUE(ValidateRoadmap(r, "roadmap.").ok());
  *r.mutable_horizon_date() = r.start_date();  // same day is fine
  EXPECT_TRUE(ValidateRoadmap(r, "roadmap.").ok());
}

TEST(ValidateRoadmapTest, CopilotsAreExactlyTwoDistinctNonEmptyIds) {
  const std::string f = "roadmap.copilot_organization_ids";
  const std::vector<std::vector<std::string>> bad = {
      {},          {kLead},        {kLead, kPartner, kThird},
      {kLead, ""}, {"", kPartner}, {kLead, kLead},
      {"", ""}};
  for (const auto& ids : bad) {
    Roadmap r = ValidRoadmap();
    r.clear_copilot_organization_ids();
    for (const auto& id : ids) r.add_copilot_organization_ids(id);
    EXPECT_TRUE(OnlyViolation(ValidateRoadmap(r, "roadmap."), f))
        << "[" << absl::StrJoin(ids, ",") << "]";
  }
}

TEST(ValidateRoadmapTest, Dates) {
  Roadmap r = ValidRoadmap();
  *r.mutable_horizon_date() = MakeDate(2023, 12, 31);
  EXPECT_TRUE(
      OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.horizon_date"));
  r = ValidRoadmap();
  r.clear_start_date();
  EXPECT_TRUE(
      OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.start_date"));
  r = ValidRoadmap();
  r.clear_horizon_date();
  EXPECT_TRUE(
      OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.horizon_date"));
  r = ValidRoadmap();
  *r.mutable_horizon_date() = MakeDate(2030, 2, 29);
  EXPECT_TRUE(
      OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.horizon_date"));
  r = ValidRoadmap();
  *r.mutable_start_date() = MakeDate(2024, 2, 30);
  EXPECT_TRUE(
      OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.start_date"));
}

TEST(ValidateRoadmapTest, Status) {
  Roadmap r = ValidRoadmap();
  r.set_status(v1::ROADMAP_STATUS_UNSPECIFIED);
  EXPECT_TRUE(OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.status"));
  r.set_status(static_cast<v1::RoadmapStatus>(9));
  EXPECT_TRUE(OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.status"));
}

TEST(ValidateRoadmapTest, TitleAndDescription) {
  Roadmap r = ValidRoadmap();
  r.clear_title();
  EXPECT_TRUE(OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.title"));
  r.set_title(std::string(201, 't'));
  EXPECT_TRUE(OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.title"));
  r.set_title(Repeat("é", 200));
  EXPECT_TRUE(ValidateRoadmap(r, "roadmap.").ok());
  r.set_description(std::string(5001, 'd'));
  EXPECT_TRUE(
      OnlyViolation(ValidateRoadmap(r, "roadmap."), "roadmap.description"));
  r.set_description(std::string(5000, 'd'));
  EXPECT_TRUE(ValidateRoadmap(r, "roadmap.").ok());
}

TEST(ValidateRoadmapTest, EveryViolationIsReportedAtOnce) {
  Roadmap r;
  r.add_copilot_organization_ids(kLead);
  EXPECT_TRUE(HasViolations(
      ValidateRoadmap(r, "roadmap."),
      {"roadmap.title", "roadmap.start_date", "roadmap.horizon_date",
       "roadmap.status", "roadmap.copilot_organization_ids"}));
}

TEST(ValidateEcosystemTest, Fields) {
  Ecosystem e = ValidEcosystem();
  EXPECT_TRUE(ValidateEcosystem(e, "ecosystem.").ok());
  e.clear_creation_date();  // optional
  EXPECT_TRUE(ValidateEcosystem(e, "ecosystem.").ok());

  e = ValidEcosystem();
  e.clear_roadmap_id();
  EXPECT_TRUE(OnlyViolation(ValidateEcosystem(e, "ecosystem."),
                            "ecosystem.roadmap_id"));
  e = ValidEcosystem();
  e.clear_name();
  EXPECT_TRUE(
      OnlyViolation(ValidateEcosystem(e, "ecosystem."), "ecosystem.name"));
  e.set_name(std::string(201, 'n'));
  EXPECT_TRUE(
      OnlyViolation(ValidateEcosystem(e, "ecosystem."), "ecosystem.name"));
  e = ValidEcosystem();
  e.set_description(std::string(5001, 'd'));
  EXPECT_TRUE(OnlyViolation(ValidateEcosystem(e, "ecosystem."),
                            "ecosystem.description"));
  e = ValidEcosystem();
  *e.mutable_creation_date() = MakeDate(2016, 2, 30);
  EXPECT_TRUE(OnlyViolation(ValidateEcosystem(e, "ecosystem."),
                            "ecosystem.creation_date"));

  Ecosystem empty;
  EXPECT_TRUE(HasViolations(ValidateEcosystem(empty, "ecosystem."),
                            {"ecosystem.roadmap_id", "ecosystem.name"}));
}

// ===========================================================================
// ValidateIndicator, ValidateMeasurement
// ===========================================================================

absl::Status VI(const Indicator& i) {
  return ValidateIndicator(i, "indicator.");
}

TEST(ValidateIndicatorTest, ValidIndicatorPasses) {
  Indicator i = ValidIndicator();
  EXPECT_TRUE(VI(i).ok()) << VI(i);
  i.clear_trajectory();
  EXPECT_TRUE(VI(i).ok());
  // DECREASE with target below baseline.
  i.set_direction(v1::INDICATOR_DIRECTION_DECREASE);
  i.set_target_value(500);
  EXPECT_TRUE(VI(i).ok());
  // Target equal to baseline is accepted either way.
  i.set_target_value(1000);
  EXPECT_TRUE(VI(i).ok());
  i.set_direction(v1::INDICATOR_DIRECTION_INCREASE);
  EXPECT_TRUE(VI(i).ok());
}

TEST(ValidateIndicatorTest, RequiredTexts) {
  Indicator i = ValidIndicator();
  i.clear_roadmap_id();
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.roadmap_id"));
  i = ValidIndicator();
  i.clear_name();
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.name"));
  i.set_name(std::string(201, 'n'));
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.name"));
  i = ValidIndicator();
  i.set_description(std::string(5001, 'd'));
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.description"));
}

TEST(ValidateIndicatorTest, UnitAndDirection) {
  Indicator i = ValidIndicator();
  i.set_unit(v1::INDICATOR_UNIT_UNSPECIFIED);
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.unit"));
  i.set_unit(static_cast<v1::IndicatorUnit>(17));
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.unit"));
  for (auto u : {v1::INDICATOR_UNIT_JOBS, v1::INDICATOR_UNIT_MAD,
                 v1::INDICATOR_UNIT_PERCENT, v1::INDICATOR_UNIT_COUNT}) {
    i.set_unit(u);
    EXPECT_TRUE(VI(i).ok()) << v1::IndicatorUnit_Name(u);
  }
  i = ValidIndicator();
  i.set_direction(v1::INDICATOR_DIRECTION_UNSPECIFIED);
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.direction"));
  i.set_direction(static_cast<v1::IndicatorDirection>(5));
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.direction"));
}

TEST(ValidateIndicatorTest, TargetAgainstBaselineAndDirection) {
  Indicator i = ValidIndicator();
  i.set_target_value(999);  // INCREASE, below baseline 1000
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.target_value"));
  i = ValidIndicator();
  i.set_direction(v1::INDICATOR_DIRECTION_DECREASE);
  i.set_target_value(1001);  // DECREASE, above baseline
  i.clear_trajectory();
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.target_value"));
}

TEST(ValidateIndicatorTest, Dates) {
  Indicator i = ValidIndicator();
  i.clear_trajectory();
  *i.mutable_target_date() = i.baseline_date();
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.target_date"));
  *i.mutable_target_date() = MakeDate(2015, 12, 31);
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.target_date"));
  *i.mutable_target_date() = MakeDate(2016, 1, 2);
  EXPECT_TRUE(VI(i).ok());
  i = ValidIndicator();
  i.clear_baseline_date();
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.baseline_date"));
  i = ValidIndicator();
  i.clear_target_date();
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.target_date"));
  i = ValidIndicator();
  *i.mutable_baseline_date() = MakeDate(2015, 2, 29);
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.baseline_date"));
}

TEST(ValidateIndicatorTest, NonFiniteValues) {
  Indicator i = ValidIndicator();
  i.set_baseline_value(std::nan(""));
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.baseline_value"));
  i = ValidIndicator();
  i.set_target_value(std::numeric_limits<double>::infinity());
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.target_value"));
  i = ValidIndicator();
  i.mutable_trajectory(0)->set_value(std::nan(""));
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.trajectory[0].value"));
}

TEST(ValidateIndicatorTest, TrajectoryDates) {
  auto with_points = [](std::vector<Date> dates) {
    Indicator i = ValidIndicator();
    i.clear_trajectory();
    for (const Date& d : dates) {
      auto* p = i.add_trajectory();
      *p->mutable_date() = d;
      p->set_value(1500);
    }
    return i;
  };
  // Strictly increasing, between baseline (excluded) and target (included).
  Indicator to_target = with_points(
      {MakeDate(2017, 1, 1), MakeDate(2018, 1, 1), MakeDate(2020, 12, 31)});
  to_target.mutable_trajectory(2)->set_value(to_target.target_value());
  EXPECT_TRUE(VI(to_target).ok());
  // On the target date, another value than the target's: what would be
  // expected after the target date?
  to_target.mutable_trajectory(2)->set_value(1500);
  EXPECT_TRUE(OnlyViolation(VI(to_target), "indicator.trajectory[2].value"));
  // One stored before that rule still takes updates that leave its target
  // and trajectory as they are; not one that changes them.
  const Indicator stored = to_target;
  Indicator renamed = stored;
  renamed.set_name("Emplois directs créés");
  EXPECT_TRUE(ValidateIndicator(renamed, "indicator.", &stored).ok());
  Indicator moved = stored;
  moved.mutable_trajectory(0)->set_value(1200);
  EXPECT_FALSE(ValidateIndicator(moved, "indicator.", &stored).ok());
  Indicator retargeted = stored;
  retargeted.set_target_value(2500);
  EXPECT_FALSE(ValidateIndicator(retargeted, "indicator.", &stored).ok());
  // On the baseline date.
  EXPECT_TRUE(OnlyViolation(VI(with_points({MakeDate(2016, 1, 1)})),
                            "indicator.trajectory[0].date"));
  // Before the baseline date.
  EXPECT_TRUE(OnlyViolation(VI(with_points({MakeDate(2015, 6, 1)})),
                            "indicator.trajectory[0].date"));
  // Going back.
  EXPECT_TRUE(OnlyViolation(
      VI(with_points({MakeDate(2018, 1, 1), MakeDate(2017, 1, 1)})),
      "indicator.trajectory[1].date"));
  // Same date twice.
  EXPECT_TRUE(OnlyViolation(
      VI(with_points({MakeDate(2018, 1, 1), MakeDate(2018, 1, 1)})),
      "indicator.trajectory[1].date"));
  // After the target date.
  EXPECT_TRUE(OnlyViolation(
      VI(with_points({MakeDate(2018, 1, 1), MakeDate(2021, 1, 1)})),
      "indicator.trajectory[1].date"));
  // Missing or invalid.
  EXPECT_TRUE(
      OnlyViolation(VI(with_points({Date()})), "indicator.trajectory[0].date"));
  EXPECT_TRUE(OnlyViolation(VI(with_points({MakeDate(2018, 2, 29)})),
                            "indicator.trajectory[0].date"));
}

TEST(ValidateIndicatorTest, AtMostHundredTrajectoryPoints) {
  Indicator i = ValidIndicator();
  i.clear_trajectory();
  for (int k = 0; k < 100; ++k) {
    auto* p = i.add_trajectory();
    *p->mutable_date() = MakeDate(2017, k / 28 + 1, k % 28 + 1);
    p->set_value(1000 + k);
  }
  EXPECT_TRUE(VI(i).ok()) << VI(i);
  auto* p = i.add_trajectory();
  *p->mutable_date() = MakeDate(2017, 5, 1);
  p->set_value(1200);
  EXPECT_TRUE(OnlyViolation(VI(i), "indicator.trajectory"));
}

TEST(ValidateIndicatorTest, EveryViolationIsReportedAtOnce) {
  Indicator i = ValidIndicator();
  i.clear_name();
  i.set_unit(v1::INDICATOR_UNIT_UNSPECIFIED);
  i.set_target_value(10);  // INCREASE below baseline
  i.mutable_trajectory(0)->set_value(std::nan(""));
  *i.mutable_trajectory(0)->mutable_date() = MakeDate(2022, 1, 1);
  EXPECT_TRUE(HasViolations(
      VI(i),
      {"indicator.name", "indicator.unit", "indicator.target_value",
       "indicator.trajectory[0].value", "indicator.trajectory[0].date"}));
}

TEST(ApplyDefaultsTest, IndicatorDirectionIsInferred) {
  Indicator i = ValidIndicator();
  i.set_direction(v1::INDICATOR_DIRECTION_UNSPECIFIED);
  ApplyDefaults(&i);
  EXPECT_EQ(i.direction(), v1::INDICATOR_DIRECTION_INCREASE);

  i.set_direction(v1::INDICATOR_DIRECTION_UNSPECIFIED);
  i.set_target_value(10);
  ApplyDefaults(&i);
  EXPECT_EQ(i.direction(), v1::INDICATOR_DIRECTION_DECREASE);

  i.set_direction(v1::INDICATOR_DIRECTION_UNSPECIFIED);
  i.set_target_value(i.baseline_value());
  ApplyDefaults(&i);
  EXPECT_EQ(i.direction(), v1::INDICATOR_DIRECTION_INCREASE);

  // An explicit direction is kept (validation then judges it).
  i.set_direction(v1::INDICATOR_DIRECTION_DECREASE);
  i.set_target_value(5000);
  ApplyDefaults(&i);
  EXPECT_EQ(i.direction(), v1::INDICATOR_DIRECTION_DECREASE);
}

absl::Status VM(const Measurement& m) {
  return ValidateMeasurement(m, "measurement.");
}

TEST(ValidateMeasurementTest, Fields) {
  Measurement m = ValidMeasurement();
  EXPECT_TRUE(VM(m).ok()) << VM(m);
  *m.mutable_period_end() = m.period_start();  // one-day period
  EXPECT_TRUE(VM(m).ok());
  m.set_value(-12.5);
  EXPECT_TRUE(VM(m).ok());

  m = ValidMeasurement();
  *m.mutable_period_end() = MakeDate(2023, 12, 31);
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.period_end"));
  m = ValidMeasurement();
  m.clear_period_start();
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.period_start"));
  m = ValidMeasurement();
  m.clear_period_end();
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.period_end"));
  m = ValidMeasurement();
  *m.mutable_period_end() = MakeDate(2024, 4, 31);
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.period_end"));

  m = ValidMeasurement();
  m.clear_source();
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.source"));
  m.set_source(std::string(2001, 's'));
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.source"));
  m.set_source(Repeat("é", 2000));
  EXPECT_TRUE(VM(m).ok());

  m = ValidMeasurement();
  m.set_value(std::nan(""));
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.value"));
  m.set_value(-std::numeric_limits<double>::infinity());
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.value"));

  m = ValidMeasurement();
  m.clear_indicator_id();
  EXPECT_TRUE(OnlyViolation(VM(m), "measurement.indicator_id"));

  Measurement empty;
  empty.set_value(std::nan(""));
  EXPECT_TRUE(HasViolations(
      VM(empty), {"measurement.indicator_id", "measurement.value",
                  "measurement.period_start", "measurement.period_end",
                  "measurement.source"}));
}

// ===========================================================================
// ValidateOrganization, ValidateTokenRequest, ValidateRequestId, PageSize
// ===========================================================================

absl::Status VO(const Organization& o) {
  return ValidateOrganization(o, "organization.");
}

TEST(ValidateOrganizationTest, Fields) {
  Organization o = ValidOrganization();
  EXPECT_TRUE(VO(o).ok()) << VO(o);
  o.clear_contact_email();  // optional
  EXPECT_TRUE(VO(o).ok());
  for (auto k :
       {v1::ORGANIZATION_KIND_MINISTRY, v1::ORGANIZATION_KIND_MEMBER_COMPANY}) {
    o.set_kind(k);
    EXPECT_TRUE(VO(o).ok());
  }

  o = ValidOrganization();
  o.clear_name();
  EXPECT_TRUE(OnlyViolation(VO(o), "organization.name"));
  o.set_name(std::string(201, 'n'));
  EXPECT_TRUE(OnlyViolation(VO(o), "organization.name"));
  o = ValidOrganization();
  o.set_kind(v1::ORGANIZATION_KIND_UNSPECIFIED);
  EXPECT_TRUE(OnlyViolation(VO(o), "organization.kind"));
  o.set_kind(static_cast<v1::OrganizationKind>(8));
  EXPECT_TRUE(OnlyViolation(VO(o), "organization.kind"));
  o = ValidOrganization();
  o.set_description(std::string(2001, 'd'));
  EXPECT_TRUE(OnlyViolation(VO(o), "organization.description"));
  o = ValidOrganization();
  o.set_contact_email("contact.federation.ma");
  EXPECT_TRUE(OnlyViolation(VO(o), "organization.contact_email"));
  o.set_contact_email(std::string(250, 'c') + "@x.ma");  // 255 characters
  EXPECT_TRUE(OnlyViolation(VO(o), "organization.contact_email"));
  o.set_contact_email(std::string(249, 'c') + "@x.ma");  // 254 characters
  EXPECT_TRUE(VO(o).ok());
  // An address is one line of printable text.
  for (std::string bad :
       {std::string("a@b\x1b[2J\x07"), std::string("a@b.ma\nBcc: x@y"),
        std::string("a b@c.ma")}) {
    o.set_contact_email(bad);
    EXPECT_TRUE(OnlyViolation(VO(o), "organization.contact_email")) << bad;
  }

  Organization empty;
  empty.set_contact_email("nope");
  EXPECT_TRUE(
      HasViolations(VO(empty), {"organization.name", "organization.kind",
                                "organization.contact_email"}));
}

TEST(ValidateTokenRequestTest, Fields) {
  v1::IssueTokenRequest r = ValidTokenRequest();
  EXPECT_TRUE(ValidateTokenRequest(r).ok());
  for (Role role : {Role::ROLE_ADMIN, Role::ROLE_MEMBER, Role::ROLE_READER}) {
    r.set_role(role);
    EXPECT_TRUE(ValidateTokenRequest(r).ok()) << Role_Name(role);
  }
  r = ValidTokenRequest();
  r.set_role(Role::ROLE_UNSPECIFIED);
  EXPECT_TRUE(OnlyViolation(ValidateTokenRequest(r), "role"));
  r.set_role(static_cast<Role>(12));
  EXPECT_TRUE(OnlyViolation(ValidateTokenRequest(r), "role"));
  r = ValidTokenRequest();
  r.clear_organization_id();
  EXPECT_TRUE(OnlyViolation(ValidateTokenRequest(r), "organization_id"));
  r = ValidTokenRequest();
  r.clear_principal_name();
  EXPECT_TRUE(OnlyViolation(ValidateTokenRequest(r), "principal_name"));
  r.set_principal_name(std::string(101, 'p'));
  EXPECT_TRUE(OnlyViolation(ValidateTokenRequest(r), "principal_name"));
  r.set_principal_name(std::string(100, 'p'));
  EXPECT_TRUE(ValidateTokenRequest(r).ok());
  r = ValidTokenRequest();
  r.set_description(std::string(501, 'd'));
  EXPECT_TRUE(OnlyViolation(ValidateTokenRequest(r), "description"));
  r = ValidTokenRequest();
  r.set_request_id("req 1");
  EXPECT_TRUE(OnlyViolation(ValidateTokenRequest(r), "request_id"));
}

TEST(ValidateTokenRequestTest, EveryViolationIsReportedAtOnce) {
  v1::IssueTokenRequest r;
  r.set_request_id("bad/id");
  r.set_role(Role::ROLE_UNSPECIFIED);
  EXPECT_TRUE(HasViolations(
      ValidateTokenRequest(r),
      {"principal_name", "organization_id", "role", "request_id"}));
}

TEST(ValidateRequestIdTest, LengthAndCharacters) {
  EXPECT_TRUE(ValidateRequestId("").ok());
  EXPECT_TRUE(ValidateRequestId("abc-XYZ_09.v1:retry").ok());
  EXPECT_TRUE(ValidateRequestId(std::string(128, 'r')).ok());
  EXPECT_TRUE(
      OnlyViolation(ValidateRequestId(std::string(129, 'r')), "request_id"));
  for (const char* bad : {"a b", "a/b", "a\\b", "é", "a\nb", "a+b", "a@b"}) {
    EXPECT_TRUE(OnlyViolation(ValidateRequestId(bad), "request_id"))
        << "'" << bad << "'";
  }
}

TEST(PageSizeTest, DefaultAndBounds) {
  ASSERT_TRUE(PageSize(0).ok());
  EXPECT_EQ(*PageSize(0), 50);
  ASSERT_TRUE(PageSize(1).ok());
  EXPECT_EQ(*PageSize(1), 1);
  ASSERT_TRUE(PageSize(1000).ok());
  EXPECT_EQ(*PageSize(1000), 1000);
  EXPECT_TRUE(OnlyViolation(PageSize(-1).status(), "page_size"));
  EXPECT_TRUE(OnlyViolation(PageSize(1001).status(), "page_size"));
}

// ===========================================================================
// ApplyDefaults
// ===========================================================================

TEST(ApplyDefaultsTest, ActionPriorityDefaultsToMedium) {
  Action a;
  ApplyDefaults(&a);
  EXPECT_EQ(a.priority(), v1::ACTION_PRIORITY_MEDIUM);
  a.set_priority(v1::ACTION_PRIORITY_CRITICAL);
  ApplyDefaults(&a);
  EXPECT_EQ(a.priority(), v1::ACTION_PRIORITY_CRITICAL);
}

TEST(ApplyDefaultsTest, RoadmapStatusDefaultsToDraft) {
  Roadmap r;
  ApplyDefaults(&r);
  EXPECT_EQ(r.status(), v1::ROADMAP_STATUS_DRAFT);
  r.set_status(v1::ROADMAP_STATUS_ACTIVE);
  ApplyDefaults(&r);
  EXPECT_EQ(r.status(), v1::ROADMAP_STATUS_ACTIVE);
}

// ===========================================================================
// ApplyMask
// ===========================================================================

const std::set<std::string>& ActionUpdatable() {
  static const std::set<std::string> kUpdatable = {"title",
                                                   "description",
                                                   "ecosystem_id",
                                                   "lead_organization_id",
                                                   "partner_organization_id",
                                                   "owner",
                                                   "priority",
                                                   "start_date",
                                                   "due_date",
                                                   "milestones",
                                                   "progress_override",
                                                   "contributions",
                                                   "depends_on_action_ids",
                                                   "tags"};
  return kUpdatable;
}

FieldMask Mask(std::vector<std::string> paths) {
  FieldMask m;
  for (auto& p : paths) m.add_paths(p);
  return m;
}

TEST(ApplyMaskTest, CopiesOnlyMaskedFields) {
  Action target = ValidAction();
  Action patch;
  patch.set_title("Nouveau titre");
  patch.set_description("Nouvelle description");
  patch.set_owner("nouveau");
  patch.set_status(kDone);  // never updatable; not masked either
  ASSERT_TRUE(
      ApplyMask(patch, Mask({"title", "owner"}), ActionUpdatable(), &target)
          .ok());
  EXPECT_EQ(target.title(), "Nouveau titre");
  EXPECT_EQ(target.owner(), "nouveau");
  EXPECT_EQ(target.description(), ValidAction().description());
  EXPECT_EQ(target.status(), kProposed);
  EXPECT_EQ(target.milestones_size(), 2);
  EXPECT_EQ(target.roadmap_id(), "rm-1");
}

TEST(ApplyMaskTest, MaskedFieldAbsentFromPatchIsCleared) {
  Action target = ValidAction();
  Action patch;
  ASSERT_TRUE(ApplyMask(patch, Mask({"description", "start_date", "tags"}),
                        ActionUpdatable(), &target)
                  .ok());
  EXPECT_EQ(target.description(), "");
  EXPECT_FALSE(target.has_start_date());
  EXPECT_EQ(target.tags_size(), 0);
  EXPECT_EQ(target.title(), ValidAction().title());
}

TEST(ApplyMaskTest, ReplacesRepeatedAndMessageFields) {
  Action target = ValidAction();
  Action patch;
  patch.add_tags("industrie");
  *patch.add_milestones() = MakeMilestone("Seul jalon", MakeDate(2024, 9, 1));
  patch.add_depends_on_action_ids("act-9");
  // A partially filled date replaces the old one; it is not merged into it.
  patch.mutable_due_date()->set_year(2025);
  ASSERT_TRUE(ApplyMask(patch,
                        Mask({"tags", "milestones", "depends_on_action_ids",
                              "due_date"}),
                        ActionUpdatable(), &target)
                  .ok());
  ASSERT_EQ(target.tags_size(), 1);
  EXPECT_EQ(target.tags(0), "industrie");
  ASSERT_EQ(target.milestones_size(), 1);
  EXPECT_EQ(target.milestones(0).title(), "Seul jalon");
  ASSERT_EQ(target.depends_on_action_ids_size(), 1);
  EXPECT_EQ(target.depends_on_action_ids(0), "act-9");
  EXPECT_EQ(target.due_date().year(), 2025);
  EXPECT_EQ(target.due_date().month(), 0);
  EXPECT_EQ(target.due_date().day(), 0);
}

TEST(ApplyMaskTest, ProgressOverride) {
  Action target = ValidAction();
  target.set_progress_override(40);
  Action patch;
  // Masked but absent: cleared (progress derived again).
  ASSERT_TRUE(
      ApplyMask(patch, Mask({"progress_override"}), ActionUpdatable(), &target)
          .ok());
  EXPECT_FALSE(target.has_progress_override());
  // Masked and set to 0: set, not cleared.
  patch.set_progress_override(0);
  ASSERT_TRUE(
      ApplyMask(patch, Mask({"progress_override"}), ActionUpdatable(), &target)
          .ok());
  EXPECT_TRUE(target.has_progress_override());
  EXPECT_EQ(target.progress_override(), 0);
  // Not masked: kept.
  target.set_progress_override(40);
  ASSERT_TRUE(
      ApplyMask(Action(), Mask({"title"}), ActionUpdatable(), &target).ok());
  EXPECT_TRUE(target.has_progress_override());
  EXPECT_EQ(target.progress_override(), 40);
}

TEST(ApplyMaskTest, RejectsPathsNotUpdatable) {
  const std::string allowed = absl::StrJoin(ActionUpdatable(), ", ");
  Action target = ValidAction();
  Action patch;
  patch.set_title("changé");
  patch.set_status(kDone);
  absl::Status s =
      ApplyMask(patch, Mask({"title", "status"}), ActionUpdatable(), &target);
  EXPECT_TRUE(OnlyViolation(s, "update_mask"));
  EXPECT_TRUE(Contains(s.message(), "'status'")) << s;
  EXPECT_TRUE(Contains(s.message(), "allowed: " + allowed)) << s;
  // Nothing applied, not even the allowed path.
  EXPECT_EQ(target.title(), ValidAction().title());
  EXPECT_EQ(target.status(), kProposed);

  s = ApplyMask(patch, Mask({"no_such_field", "milestones.title", "etag"}),
                ActionUpdatable(), &target);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  // One violation naming all three (the allowed list said once).
  EXPECT_EQ(FieldsOf(s), std::vector<std::string>(1, "update_mask")) << s;
  EXPECT_TRUE(Contains(s.message(), "'no_such_field'")) << s;
  EXPECT_TRUE(Contains(s.message(), "'milestones.title'")) << s;
  EXPECT_TRUE(Contains(s.message(), "'etag'")) << s;
}

TEST(ApplyMaskTest, RejectsAnEmptyMask) {
  Action target = ValidAction();
  Action patch;
  patch.set_title("changé");
  absl::Status s = ApplyMask(patch, FieldMask(), ActionUpdatable(), &target);
  EXPECT_TRUE(OnlyViolation(s, "update_mask"));
  EXPECT_TRUE(Contains(s.message(), "title")) << s;
  EXPECT_EQ(target.title(), ValidAction().title());
}

TEST(ApplyMaskTest, WorksOnOtherResources) {
  Roadmap target = ValidRoadmap();
  Roadmap patch;
  patch.set_title("Feuille de route 2");
  patch.add_copilot_organization_ids(kThird);
  const std::set<std::string> updatable = {"title", "description", "start_date",
                                           "horizon_date", "status"};
  ASSERT_TRUE(ApplyMask(patch, Mask({"title"}), updatable, &target).ok());
  EXPECT_EQ(target.title(), "Feuille de route 2");
  EXPECT_EQ(target.copilot_organization_ids_size(), 2);
  EXPECT_EQ(
      ApplyMask(patch, Mask({"copilot_organization_ids"}), updatable, &target)
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(target.copilot_organization_ids(0), kLead);
}

// ===========================================================================
// CheckCanVerify
// ===========================================================================

Measurement Recorded() {
  Measurement m = ValidMeasurement();
  *m.mutable_audit()->mutable_created_by() =
      MakeActor(Role::ROLE_COPILOT, kLead);
  m.set_verifier_organization_id(kPartner);
  m.set_verification_state(v1::VERIFICATION_STATE_UNVERIFIED);
  return m;
}

TEST(CheckCanVerifyTest, TheOtherCopilotOrganisationVerifies) {
  EXPECT_TRUE(
      CheckCanVerify(Recorded(), MakeActor(Role::ROLE_COPILOT, kPartner)).ok());
  EXPECT_TRUE(
      CheckCanVerify(Recorded(), MakeActor(Role::ROLE_ADMIN, kPartner)).ok());
}

TEST(CheckCanVerifyTest, RecorderOrganisationCannotVerify) {
  for (Role role : {Role::ROLE_COPILOT, Role::ROLE_ADMIN}) {
    absl::Status s = CheckCanVerify(Recorded(), MakeActor(role, kLead));
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
    EXPECT_EQ(ReasonOf(s), "COVALIDATION_REQUIRED");
  }
  // Even if the verifier organisation were misconfigured as the recorder's.
  Measurement m = Recorded();
  m.set_verifier_organization_id(kLead);
  EXPECT_EQ(CheckCanVerify(m, MakeActor(Role::ROLE_COPILOT, kLead)).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(CheckCanVerifyTest, OnlyTheVerifierOrganisation) {
  for (Role role : {Role::ROLE_COPILOT, Role::ROLE_ADMIN}) {
    absl::Status s = CheckCanVerify(Recorded(), MakeActor(role, kThird));
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
    EXPECT_EQ(ReasonOf(s), "COVALIDATION_REQUIRED");
    EXPECT_TRUE(Contains(s.message(), kPartner)) << s;
  }
}

TEST(CheckCanVerifyTest, MembersAndReadersCannotVerify) {
  for (Role role :
       {Role::ROLE_MEMBER, Role::ROLE_READER, Role::ROLE_UNSPECIFIED}) {
    absl::Status s = CheckCanVerify(Recorded(), MakeActor(role, kPartner));
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied)
        << Role_Name(role) << ": " << s;
  }
}

TEST(CheckCanVerifyTest, AlreadyDecided) {
  for (auto state :
       {v1::VERIFICATION_STATE_VERIFIED, v1::VERIFICATION_STATE_REJECTED}) {
    Measurement m = Recorded();
    m.set_verification_state(state);
    absl::Status s = CheckCanVerify(m, MakeActor(Role::ROLE_COPILOT, kPartner));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_EQ(ReasonOf(s), "ALREADY_VERIFIED");
  }
}

// ===========================================================================
// Diff
// ===========================================================================

std::map<std::string, std::pair<std::string, std::string>> ChangeMap(
    const std::vector<FieldChange>& changes) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  for (const auto& c : changes) {
    EXPECT_TRUE(
        out.emplace(c.field(), std::pair(c.old_value(), c.new_value())).second)
        << "field listed twice: " << c.field();
  }
  return out;
}

std::vector<std::string> ChangedFields(const std::vector<FieldChange>& cs) {
  std::vector<std::string> out;
  for (const auto& c : cs) out.push_back(c.field());
  return out;
}

TEST(DiffTest, IdenticalMessagesHaveNoChanges) {
  EXPECT_TRUE(Diff(ValidAction(), ValidAction()).empty());
  EXPECT_TRUE(Diff(Action(), Action()).empty());
}

TEST(DiffTest, ListsOnlyChangedTopLevelFields) {
  Action before = ValidAction();
  Action after = before;
  after.set_title("Former 800 techniciens");
  *after.mutable_due_date() = MakeDate(2025, 6, 30);
  after.add_tags("emploi");
  after.set_status(kPlanned);
  std::vector<FieldChange> changes = Diff(before, after);
  EXPECT_EQ(ChangedFields(changes),
            (std::vector<std::string>{"title", "due_date", "tags", "status"}));
  auto m = ChangeMap(changes);
  EXPECT_EQ(m["title"].first, "\"Former 500 techniciens\"");
  EXPECT_EQ(m["title"].second, "\"Former 800 techniciens\"");
  EXPECT_TRUE(Contains(m["due_date"].first, "2024")) << m["due_date"].first;
  EXPECT_TRUE(Contains(m["due_date"].first, "31")) << m["due_date"].first;
  EXPECT_TRUE(Contains(m["due_date"].second, "2025")) << m["due_date"].second;
  EXPECT_TRUE(Contains(m["due_date"].second, "30")) << m["due_date"].second;
  EXPECT_EQ(m["tags"].first, "[\"formation\", \"green-tech_2\"]");
  EXPECT_EQ(m["tags"].second, "[\"formation\", \"green-tech_2\", \"emploi\"]");
  EXPECT_EQ(m["status"].first, "ACTION_STATUS_PROPOSED");
  EXPECT_EQ(m["status"].second, "ACTION_STATUS_PLANNED");
}

TEST(DiffTest, BookkeepingFieldsAreIgnored) {
  Action before = ValidAction();
  Action after = before;
  after.set_etag("etag-2");
  after.mutable_audit()->mutable_update_time()->set_seconds(42);
  *after.mutable_audit()->mutable_updated_by() =
      MakeActor(Role::ROLE_ADMIN, kLead);
  after.set_late(true);
  after.set_progress_percent(70);
  EXPECT_TRUE(Diff(before, after).empty());
  after.set_owner("quelqu'un");
  EXPECT_EQ(ChangedFields(Diff(before, after)),
            std::vector<std::string>{"owner"});
}

TEST(DiffTest, RemovalsAndPresence) {
  Action before = ValidAction();
  Action after = before;
  after.clear_tags();
  after.clear_owner();
  after.set_progress_override(0);  // set to 0 differs from unset
  auto m = ChangeMap(Diff(before, after));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m["tags"].second, "");
  EXPECT_EQ(m["owner"].first, "\"a.benali\"");
  EXPECT_EQ(m["owner"].second, "");
  EXPECT_EQ(m["progress_override"].first, "");
  EXPECT_EQ(m["progress_override"].second, "0");
}

TEST(DiffTest, CreateDiffListsOnlySetFields) {
  Action after;
  after.set_id("act-7");
  after.set_title("Nouvelle action");
  after.set_lead_organization_id(kLead);
  after.set_partner_organization_id(kPartner);
  after.set_priority(v1::ACTION_PRIORITY_MEDIUM);
  *after.mutable_due_date() = MakeDate(2024, 12, 31);
  after.add_tags("formation");
  after.set_status(kProposed);
  after.set_etag("e1");
  after.set_progress_percent(0);
  std::vector<FieldChange> changes = Diff(Action(), after);
  EXPECT_EQ(ChangedFields(changes),
            (std::vector<std::string>{"id", "title", "lead_organization_id",
                                      "partner_organization_id", "priority",
                                      "due_date", "tags", "status"}));
  for (const auto& c : changes) {
    EXPECT_EQ(c.old_value(), "") << c.field();
    EXPECT_NE(c.new_value(), "") << c.field();
  }
  EXPECT_EQ(ChangeMap(changes)["priority"].second, "ACTION_PRIORITY_MEDIUM");
}

TEST(DiffTest, KeepsUtf8TextReadable) {
  Action before = ValidAction();
  Action after = before;
  after.set_title("Label « métal recyclé »");
  auto m = ChangeMap(Diff(before, after));
  EXPECT_EQ(m["title"].second, "\"Label « métal recyclé »\"");
  after.set_title("Dit \"ferraille\"\n");  // quotes and controls escaped
  m = ChangeMap(Diff(before, after));
  EXPECT_EQ(m["title"].second, "\"Dit \\\"ferraille\\\"\\n\"");
}

TEST(DiffTest, SeesChangesInsideRepeatedMessages) {
  Action before = ValidAction();
  before.clear_milestones();
  auto* ms = before.add_milestones();
  ms->set_id("m1");
  ms->set_title("Cahier des charges");
  auto* c = before.add_contributions();
  c->set_indicator_id("ind-1");
  c->set_value(120);
  Action after = before;
  EXPECT_TRUE(Diff(before, after).empty());

  after.mutable_milestones(0)->set_title("Cahier des charges v2");
  EXPECT_EQ(ChangedFields(Diff(before, after)),
            std::vector<std::string>{"milestones"});
  after = before;
  after.mutable_contributions(0)->set_value(120.5);
  auto m = ChangeMap(Diff(before, after));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(Contains(m["contributions"].first, "120"))
      << m["contributions"].first;
  EXPECT_TRUE(Contains(m["contributions"].second, "120.5"))
      << m["contributions"].second;
  after = before;
  after.add_contributions()->set_indicator_id("ind-2");
  EXPECT_EQ(ChangedFields(Diff(before, after)),
            std::vector<std::string>{"contributions"});
}

// ===========================================================================
// AssignMilestoneIds
// ===========================================================================

TEST(AssignMilestoneIdsTest, GivesUniqueIdsAndKeepsExistingOnes) {
  Action a;
  for (const char* id : {"", "m1", "", "m3", "", "custom"}) {
    a.add_milestones()->set_id(id);
  }
  AssignMilestoneIds(&a);
  std::vector<std::string> ids;
  for (const auto& m : a.milestones()) ids.push_back(m.id());
  EXPECT_EQ(ids[1], "m1");
  EXPECT_EQ(ids[3], "m3");
  EXPECT_EQ(ids[5], "custom");
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size()) << absl::StrJoin(ids, ",");
  for (const auto& id : ids) EXPECT_FALSE(id.empty());
  EXPECT_EQ(ids,
            (std::vector<std::string>{"m2", "m1", "m4", "m3", "m5", "custom"}));
  // Idempotent.
  AssignMilestoneIds(&a);
  std::vector<std::string> again;
  for (const auto& m : a.milestones()) again.push_back(m.id());
  EXPECT_EQ(again, ids);
  // And the result passes validation's uniqueness check.
  Action v = ValidAction();
  v.clear_milestones();
  for (int k = 0; k < 4; ++k) {
    *v.add_milestones() = MakeMilestone("m", MakeDate(2024, 5, 1));
  }
  v.mutable_milestones(2)->set_id("m1");
  AssignMilestoneIds(&v);
  EXPECT_TRUE(ValidateAction(v, "action.").ok()) << ValidateAction(v, "");
}

TEST(AssignMilestoneIdsTest, NewMilestonesAddedLater) {
  Action a;
  a.add_milestones();
  a.add_milestones();
  AssignMilestoneIds(&a);
  EXPECT_EQ(a.milestones(0).id(), "m1");
  EXPECT_EQ(a.milestones(1).id(), "m2");
  a.mutable_milestones()->erase(a.mutable_milestones()->begin());
  a.add_milestones();
  AssignMilestoneIds(&a);
  EXPECT_EQ(a.milestones(0).id(), "m2");
  EXPECT_NE(a.milestones(1).id(), "m2");
  EXPECT_FALSE(a.milestones(1).id().empty());
}

}  // namespace
}  // namespace jalon::roadmap
