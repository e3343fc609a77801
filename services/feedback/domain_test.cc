// Unit tests of the feedback service's domain rules
// (services/feedback/domain.h): validation, visibility and redaction, the
// item lifecycle, closing the loop from the linked actions, endorsements,
// reports and moderation, partnership matchmaking and accent-insensitive
// search. Pure: no Redis, no gRPC.
#include "services/feedback/domain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/dates.h"
#include "services/common/status.h"

namespace jalon::feedback {
namespace {

using common::v1::Role;
using google::protobuf::Timestamp;
using roadmap::v1::ACTION_STATUS_CANCELLED;
using roadmap::v1::ACTION_STATUS_DONE;
using roadmap::v1::ACTION_STATUS_IN_PROGRESS;

constexpr char kAuthorOrg[] = "org-acme";
constexpr char kOtherOrg[] = "org-beta";
constexpr char kThirdOrg[] = "org-gamma";
constexpr char kFourthOrg[] = "org-delta";
constexpr char kFederation[] = "org-fed";

constexpr pb::FeedbackStatus kSubmitted = pb::FEEDBACK_STATUS_SUBMITTED;
constexpr pb::FeedbackStatus kAcknowledged = pb::FEEDBACK_STATUS_ACKNOWLEDGED;
constexpr pb::FeedbackStatus kLinked = pb::FEEDBACK_STATUS_LINKED;
constexpr pb::FeedbackStatus kAddressed = pb::FEEDBACK_STATUS_ADDRESSED;
constexpr pb::FeedbackStatus kDeclined = pb::FEEDBACK_STATUS_DECLINED;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
constexpr absl::StatusCode kDenied = absl::StatusCode::kPermissionDenied;
constexpr absl::StatusCode kPrecondition =
    absl::StatusCode::kFailedPrecondition;
constexpr absl::StatusCode kNotFound = absl::StatusCode::kNotFound;

Actor MakeActor(Role role, const std::string& org) {
  Actor a;
  a.set_principal_id(absl::StrCat("p-", org, "-", static_cast<int>(role)));
  a.set_principal_name("someone");
  a.set_organization_id(org);
  a.set_role(role);
  return a;
}

Actor Member(const std::string& org) {
  return MakeActor(Role::ROLE_MEMBER, org);
}
Actor Reader(const std::string& org) {
  return MakeActor(Role::ROLE_READER, org);
}
Actor Copilot(const std::string& org) {
  return MakeActor(Role::ROLE_COPILOT, org);
}
Actor Admin(const std::string& org) { return MakeActor(Role::ROLE_ADMIN, org); }

Timestamp Ts(int64_t seconds, int32_t nanos = 0) {
  Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

// A valid, submitted PROPOSAL of kAuthorOrg, visible to all members.
pb::FeedbackItem ValidItem() {
  pb::FeedbackItem item;
  item.set_id("fb-1");
  item.set_roadmap_id("rm-1");
  item.set_kind(pb::FEEDBACK_KIND_PROPOSAL);
  item.set_title("Mutualiser un entrepôt frigorifique");
  item.set_body("Les exportateurs d'Agadir manquent de capacité.");
  item.set_ecosystem_id("eco-1");
  *item.mutable_author() = Member(kAuthorOrg);
  item.set_author_organization_id(kAuthorOrg);
  item.set_visibility(pb::VISIBILITY_ALL_MEMBERS);
  auto* a = item.add_attachments();
  a->set_title("Étude de marché");
  a->set_url("https://example.org/etude.pdf");
  item.set_status(kSubmitted);
  return item;
}

pb::FeedbackItem ValidOffer() {
  pb::FeedbackItem item = ValidItem();
  item.set_id("offer-1");
  item.set_kind(pb::FEEDBACK_KIND_PARTNERSHIP_OFFER);
  item.set_title("Cherche partenaire pour ligne de découpe laser");
  item.set_contact("k.alaoui@acme.ma, +212 600 000 000");
  return item;
}

pb::FeedbackItem ItemWith(pb::FeedbackStatus status,
                          std::vector<std::string> links = {}) {
  pb::FeedbackItem item = ValidItem();
  item.set_status(status);
  for (auto& id : links) item.add_linked_action_ids(id);
  return item;
}

pb::Interest MakeInterest(pb::InterestState state) {
  pb::Interest in;
  in.set_id("int-1");
  in.set_feedback_id("offer-1");
  in.set_organization_id(kOtherOrg);
  *in.mutable_expressed_by() = Member(kOtherOrg);
  in.set_message("Nous avons une ligne disponible.");
  in.set_contact("s.idrissi@beta.ma");
  in.set_state(state);
  return in;
}

pb::Consultation ValidConsultation() {
  pb::Consultation c;
  c.set_roadmap_id("rm-1");
  c.set_title("Rencontre des membres");
  c.set_description("Écosystèmes métallurgie et plasturgie");
  c.set_place("Casablanca");
  *c.mutable_date() = MakeDate(2024, 7, 11);
  c.add_ecosystem_ids("eco-1");
  c.add_ecosystem_ids("eco-2");
  *c.mutable_open_time() = Ts(1720000000);
  *c.mutable_close_time() = Ts(1720700000);
  return c;
}

std::vector<std::string> FieldsOf(const absl::Status& s) {
  std::vector<std::string> out;
  for (const auto& v : ViolationsOf(s)) out.push_back(v.field);
  return out;
}

// INVALID_ARGUMENT whose violations are exactly `fields` (any order).
::testing::AssertionResult HasViolations(const absl::Status& s,
                                         std::multiset<std::string> want) {
  if (s.code() != kInvalid) {
    return ::testing::AssertionFailure()
           << "expected INVALID_ARGUMENT, got " << s;
  }
  std::vector<std::string> got = FieldsOf(s);
  std::multiset<std::string> got_set(got.begin(), got.end());
  if (got_set != want) {
    return ::testing::AssertionFailure()
           << "expected [" << absl::StrJoin(want, ", ") << "], got ["
           << absl::StrJoin(got, ", ") << "]: " << s;
  }
  return ::testing::AssertionSuccess();
}

// INVALID_ARGUMENT with exactly one violation, on `field`.
::testing::AssertionResult OnlyViolation(const absl::Status& s,
                                         const std::string& field) {
  return HasViolations(s, {field});
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

bool Contains(absl::string_view haystack, const std::string& needle) {
  return std::string(haystack).find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------
// Item validation
// ---------------------------------------------------------------------------

TEST(ValidateItemTest, ValidItemsOfEveryKindPass) {
  EXPECT_TRUE(ValidateItem(ValidItem(), "item.").ok());
  EXPECT_TRUE(ValidateItem(ValidOffer(), "item.").ok());
  for (auto kind : {pb::FEEDBACK_KIND_STRENGTH, pb::FEEDBACK_KIND_OPPORTUNITY,
                    pb::FEEDBACK_KIND_PROPOSAL}) {
    pb::FeedbackItem item = ValidItem();
    item.set_kind(kind);
    EXPECT_TRUE(ValidateItem(item, "item.").ok())
        << pb::FeedbackKind_Name(kind);
  }
  pb::FeedbackItem blocker = ValidItem();
  blocker.set_kind(pb::FEEDBACK_KIND_BLOCKER);
  blocker.set_severity(pb::SEVERITY_CRITICAL);
  EXPECT_TRUE(ValidateItem(blocker, "item.").ok());
}

TEST(ValidateItemTest, EmptyItemReportsEveryRequiredFieldAtOnce) {
  pb::FeedbackItem item;
  EXPECT_TRUE(HasViolations(ValidateItem(item, "item."),
                            {"item.roadmap_id", "item.kind", "item.title",
                             "item.body", "item.visibility"}));
}

TEST(ValidateItemTest, EveryViolationIsReportedWithItsPath) {
  pb::FeedbackItem item = ValidItem();
  item.clear_roadmap_id();
  item.set_kind(pb::FEEDBACK_KIND_STRENGTH);
  item.set_severity(pb::SEVERITY_LOW);
  item.set_title(Repeat("x", 201));
  item.clear_body();
  item.set_visibility(static_cast<pb::Visibility>(9));
  item.mutable_attachments(0)->clear_title();
  auto* a = item.add_attachments();
  a->set_title("ok");
  a->set_url("ftp://example.org/file");
  item.add_attachments()->set_title("no url");
  item.set_contact("someone@acme.ma");
  EXPECT_TRUE(HasViolations(
      ValidateItem(item, "item."),
      {"item.roadmap_id", "item.severity", "item.title", "item.body",
       "item.visibility", "item.attachments[0].title",
       "item.attachments[1].url", "item.attachments[2].url", "item.contact"}));
}

TEST(ValidateItemTest, PrefixIsPutBeforeEachField) {
  pb::FeedbackItem item = ValidItem();
  item.clear_title();
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, ""), "title"));
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.title"));
}

TEST(ValidateItemTest, KindMustBeKnown) {
  pb::FeedbackItem item = ValidItem();
  item.set_kind(pb::FEEDBACK_KIND_UNSPECIFIED);
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.kind"));
  item.set_kind(static_cast<pb::FeedbackKind>(42));
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.kind"));
}

TEST(ValidateItemTest, TitleAndBodyLengthsCountCodePoints) {
  pb::FeedbackItem item = ValidItem();
  item.set_title(Repeat("é", 200));  // 400 bytes, 200 characters
  item.set_body(Repeat("ô", 10000));
  EXPECT_TRUE(ValidateItem(item, "item.").ok());
  item.set_title(Repeat("é", 201));
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.title"));
  item.set_title("t");
  item.set_body(Repeat("a", 10001));
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.body"));
  item.clear_body();
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.body"));
}

TEST(ValidateItemTest, ControlCharactersAreRefused) {
  pb::FeedbackItem item = ValidItem();
  item.set_body("Délais:\n\t- douane\r\n- transport");
  EXPECT_TRUE(ValidateItem(item, "item.").ok());
  item.set_title("Douane\nlente");  // a title is one line
  item.set_body("bell\a");
  EXPECT_TRUE(
      HasViolations(ValidateItem(item, "item."), {"item.title", "item.body"}));
}

TEST(ValidateItemTest, VisibilityRequiredAfterDefaults) {
  pb::FeedbackItem item = ValidItem();
  item.clear_visibility();
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.visibility"));
  ApplyDefaults(&item);
  EXPECT_EQ(item.visibility(), pb::VISIBILITY_ALL_MEMBERS);
  EXPECT_TRUE(ValidateItem(item, "item.").ok());
}

TEST(ValidateItemTest, ApplyDefaultsKeepsAChosenVisibility) {
  pb::FeedbackItem item = ValidItem();
  item.set_visibility(pb::VISIBILITY_COPILOTS_ONLY);
  ApplyDefaults(&item);
  EXPECT_EQ(item.visibility(), pb::VISIBILITY_COPILOTS_ONLY);
}

TEST(ValidateItemTest, SeverityRequiredForBlockersOnly) {
  pb::FeedbackItem item = ValidItem();
  item.set_kind(pb::FEEDBACK_KIND_BLOCKER);
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.severity"));
  item.set_severity(static_cast<pb::Severity>(9));
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.severity"));
  for (auto s : {pb::SEVERITY_LOW, pb::SEVERITY_MEDIUM, pb::SEVERITY_HIGH,
                 pb::SEVERITY_CRITICAL}) {
    item.set_severity(s);
    EXPECT_TRUE(ValidateItem(item, "item.").ok()) << pb::Severity_Name(s);
  }
  for (auto kind : {pb::FEEDBACK_KIND_STRENGTH, pb::FEEDBACK_KIND_OPPORTUNITY,
                    pb::FEEDBACK_KIND_PROPOSAL}) {
    item.set_kind(kind);
    EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.severity"))
        << pb::FeedbackKind_Name(kind);
  }
}

TEST(ValidateItemTest, AtMostTenAttachments) {
  pb::FeedbackItem item = ValidItem();
  item.clear_attachments();
  for (int i = 0; i < 10; ++i) {
    auto* a = item.add_attachments();
    a->set_title(absl::StrCat("doc ", i));
    a->set_url(absl::StrCat("http://example.org/", i));
  }
  EXPECT_TRUE(ValidateItem(item, "item.").ok());
  *item.add_attachments() = item.attachments(0);
  EXPECT_TRUE(OnlyViolation(ValidateItem(item, "item."), "item.attachments"));
}

TEST(ValidateItemTest, AttachmentNeedsTitleAndHttpUrl) {
  const std::vector<std::string> good = {
      "http://example.org", "https://example.org/a?b=c#d",
      "HTTPS://Example.org/x", "https://example.org/" + Repeat("a", 1980)};
  const std::vector<std::string> bad = {
      "",
      "ftp://example.org/file",
      "javascript:alert(1)",
      "example.org",
      "http://",
      "https:///path",
      "https://?q=1",
      "http://#fragment",
      "https://exa mple.org",
      "https://example.org/\n",
      "https://example.org/" + Repeat("a", 1981)};
  for (const auto& url : good) {
    pb::FeedbackItem item = ValidItem();
    item.mutable_attachments(0)->set_url(url);
    EXPECT_TRUE(ValidateItem(item, "item.").ok()) << url;
  }
  for (const auto& url : bad) {
    pb::FeedbackItem item = ValidItem();
    item.add_attachments()->set_title("x");
    item.add_attachments()->set_title("y");
    item.mutable_attachments(1)->set_url("https://ok.example");
    item.mutable_attachments(2)->set_url(url);
    EXPECT_TRUE(
        OnlyViolation(ValidateItem(item, "item."), "item.attachments[2].url"))
        << url;
  }
  pb::FeedbackItem item = ValidItem();
  item.mutable_attachments(0)->set_title(Repeat("é", 201));
  EXPECT_TRUE(
      OnlyViolation(ValidateItem(item, "item."), "item.attachments[0].title"));
  item.mutable_attachments(0)->set_title(Repeat("é", 200));
  EXPECT_TRUE(ValidateItem(item, "item.").ok());
}

TEST(ValidateItemTest, ContactOnlyOnOffersAndAtMost500Characters) {
  pb::FeedbackItem offer = ValidOffer();
  offer.set_contact(Repeat("é", 500));
  EXPECT_TRUE(ValidateItem(offer, "item.").ok());
  offer.set_contact(Repeat("é", 501));
  EXPECT_TRUE(OnlyViolation(ValidateItem(offer, "item."), "item.contact"));
  offer.clear_contact();
  EXPECT_TRUE(ValidateItem(offer, "item.").ok());  // optional

  pb::FeedbackItem proposal = ValidItem();
  proposal.set_contact("x@acme.ma");
  EXPECT_TRUE(OnlyViolation(ValidateItem(proposal, "item."), "item.contact"));
}

// ---------------------------------------------------------------------------
// Consultations
// ---------------------------------------------------------------------------

TEST(ValidateConsultationTest, ValidPassesAndDateIsOptional) {
  pb::Consultation c = ValidConsultation();
  EXPECT_TRUE(ValidateConsultation(c, "consultation.").ok());
  c.clear_date();
  c.clear_ecosystem_ids();
  c.clear_description();
  c.clear_place();
  EXPECT_TRUE(ValidateConsultation(c, "consultation.").ok());
}

TEST(ValidateConsultationTest, EmptyReportsEveryRequiredFieldAtOnce) {
  EXPECT_TRUE(
      HasViolations(ValidateConsultation(pb::Consultation(), "consultation."),
                    {"consultation.roadmap_id", "consultation.title",
                     "consultation.open_time", "consultation.close_time"}));
}

TEST(ValidateConsultationTest, Lengths) {
  pb::Consultation c = ValidConsultation();
  c.set_title(Repeat("é", 200));
  c.set_description(Repeat("é", 5000));
  c.set_place(Repeat("é", 200));
  EXPECT_TRUE(ValidateConsultation(c, "consultation.").ok());
  c.set_title(Repeat("é", 201));
  c.set_description(Repeat("é", 5001));
  c.set_place(Repeat("é", 201));
  EXPECT_TRUE(HasViolations(ValidateConsultation(c, "consultation."),
                            {"consultation.title", "consultation.description",
                             "consultation.place"}));
}

TEST(ValidateConsultationTest, ControlCharactersAreRefused) {
  pb::Consultation c = ValidConsultation();
  c.set_description("Ordre du jour:\n\t1. bilan");
  EXPECT_TRUE(ValidateConsultation(c, "consultation.").ok());
  c.set_title("Atelier\t2026");
  c.set_place("Casablanca\x1b[31m");
  c.mutable_description()->assign("x\0y", 3);
  EXPECT_TRUE(HasViolations(ValidateConsultation(c, "consultation."),
                            {"consultation.title", "consultation.description",
                             "consultation.place"}));
}

TEST(ValidateConsultationTest, DateMustBeValidIfSet) {
  pb::Consultation c = ValidConsultation();
  *c.mutable_date() = MakeDate(2023, 2, 29);
  EXPECT_TRUE(OnlyViolation(ValidateConsultation(c, "consultation."),
                            "consultation.date"));
  *c.mutable_date() = MakeDate(2024, 2, 29);
  EXPECT_TRUE(ValidateConsultation(c, "consultation.").ok());
}

TEST(ValidateConsultationTest, EcosystemIds) {
  pb::Consultation c = ValidConsultation();
  c.clear_ecosystem_ids();
  for (int i = 0; i < 20; ++i) c.add_ecosystem_ids(absl::StrCat("eco-", i));
  EXPECT_TRUE(ValidateConsultation(c, "consultation.").ok());
  c.add_ecosystem_ids("eco-20");
  EXPECT_TRUE(OnlyViolation(ValidateConsultation(c, "consultation."),
                            "consultation.ecosystem_ids"));

  c.clear_ecosystem_ids();
  c.add_ecosystem_ids("eco-1");
  c.add_ecosystem_ids("");
  c.add_ecosystem_ids("eco-1");
  EXPECT_TRUE(HasViolations(
      ValidateConsultation(c, "consultation."),
      {"consultation.ecosystem_ids[1]", "consultation.ecosystem_ids[2]"}));
}

TEST(ValidateConsultationTest, CloseTimeMustBeAfterOpenTime) {
  pb::Consultation c = ValidConsultation();
  *c.mutable_close_time() = c.open_time();
  EXPECT_TRUE(OnlyViolation(ValidateConsultation(c, "consultation."),
                            "consultation.close_time"));
  *c.mutable_close_time() = Ts(c.open_time().seconds() - 1);
  EXPECT_TRUE(OnlyViolation(ValidateConsultation(c, "consultation."),
                            "consultation.close_time"));
  *c.mutable_close_time() = Ts(c.open_time().seconds(), 1);
  EXPECT_TRUE(ValidateConsultation(c, "consultation.").ok());
}

TEST(ValidateConsultationTest, TimesRequiredAndValid) {
  pb::Consultation c = ValidConsultation();
  c.clear_open_time();
  EXPECT_TRUE(OnlyViolation(ValidateConsultation(c, "consultation."),
                            "consultation.open_time"));
  c = ValidConsultation();
  c.clear_close_time();
  EXPECT_TRUE(OnlyViolation(ValidateConsultation(c, "consultation."),
                            "consultation.close_time"));
  c = ValidConsultation();
  c.mutable_open_time()->set_nanos(-1);
  EXPECT_TRUE(OnlyViolation(ValidateConsultation(c, "consultation."),
                            "consultation.open_time"));
}

TEST(ValidateConsultationTest, EveryViolationAtOnce) {
  pb::Consultation c = ValidConsultation();
  c.clear_roadmap_id();
  c.clear_title();
  c.set_place(Repeat("p", 201));
  *c.mutable_date() = MakeDate(2024, 13, 1);
  c.add_ecosystem_ids("eco-2");
  *c.mutable_close_time() = Ts(1);
  EXPECT_TRUE(HasViolations(
      ValidateConsultation(c, "consultation."),
      {"consultation.roadmap_id", "consultation.title", "consultation.place",
       "consultation.date", "consultation.ecosystem_ids[2]",
       "consultation.close_time"}));
}

TEST(StatusAtTest, WindowBoundaries) {
  pb::Consultation c = ValidConsultation();
  const int64_t open = c.open_time().seconds();
  const int64_t close = c.close_time().seconds();
  EXPECT_EQ(StatusAt(c, Ts(open - 3600)), pb::CONSULTATION_STATUS_UPCOMING);
  EXPECT_EQ(StatusAt(c, Ts(open - 1, 999999999)),
            pb::CONSULTATION_STATUS_UPCOMING);
  EXPECT_EQ(StatusAt(c, Ts(open)), pb::CONSULTATION_STATUS_OPEN);
  EXPECT_EQ(StatusAt(c, Ts((open + close) / 2)), pb::CONSULTATION_STATUS_OPEN);
  EXPECT_EQ(StatusAt(c, Ts(close - 1, 999999999)),
            pb::CONSULTATION_STATUS_OPEN);
  EXPECT_EQ(StatusAt(c, Ts(close)), pb::CONSULTATION_STATUS_CLOSED);
  EXPECT_EQ(StatusAt(c, Ts(close + 86400)), pb::CONSULTATION_STATUS_CLOSED);
}

TEST(StatusAtTest, NanosecondsCount) {
  pb::Consultation c = ValidConsultation();
  *c.mutable_open_time() = Ts(100, 500);
  *c.mutable_close_time() = Ts(200, 500);
  EXPECT_EQ(StatusAt(c, Ts(100, 499)), pb::CONSULTATION_STATUS_UPCOMING);
  EXPECT_EQ(StatusAt(c, Ts(100, 500)), pb::CONSULTATION_STATUS_OPEN);
  EXPECT_EQ(StatusAt(c, Ts(200, 499)), pb::CONSULTATION_STATUS_OPEN);
  EXPECT_EQ(StatusAt(c, Ts(200, 500)), pb::CONSULTATION_STATUS_CLOSED);
}

// ---------------------------------------------------------------------------
// Roles, visibility and redaction
// ---------------------------------------------------------------------------

TEST(RolesTest, IsCopilot) {
  EXPECT_TRUE(IsCopilot(Admin(kFederation)));
  EXPECT_TRUE(IsCopilot(Copilot(kFederation)));
  EXPECT_FALSE(IsCopilot(Member(kAuthorOrg)));
  EXPECT_FALSE(IsCopilot(Reader(kAuthorOrg)));
  EXPECT_FALSE(IsCopilot(MakeActor(Role::ROLE_UNSPECIFIED, kFederation)));
}

TEST(CanSeeTest, AllMembersItemIsSeenByEveryone) {
  pb::FeedbackItem item = ValidItem();
  for (const Actor& a :
       {Member(kAuthorOrg), Member(kOtherOrg), Reader(kOtherOrg),
        Copilot(kFederation), Admin(kFederation)}) {
    EXPECT_TRUE(CanSee(a, item)) << a.ShortDebugString();
  }
}

TEST(CanSeeTest, CopilotsOnlyItem) {
  pb::FeedbackItem item = ValidItem();
  item.set_visibility(pb::VISIBILITY_COPILOTS_ONLY);
  EXPECT_TRUE(CanSee(Member(kAuthorOrg), item));
  EXPECT_TRUE(CanSee(Copilot(kFederation), item));
  EXPECT_TRUE(CanSee(Admin(kFederation), item));
  EXPECT_FALSE(CanSee(Member(kOtherOrg), item));
  EXPECT_FALSE(CanSee(Reader(kOtherOrg), item));
  EXPECT_FALSE(CanSee(Reader(kAuthorOrg), item));  // readers: ALL_MEMBERS only
}

TEST(CanSeeTest, HiddenItem) {
  pb::FeedbackItem item = ValidItem();
  item.set_hidden(true);
  EXPECT_FALSE(CanSee(Member(kOtherOrg), item));
  EXPECT_FALSE(CanSee(Reader(kOtherOrg), item));
  EXPECT_TRUE(CanSee(Member(kAuthorOrg), item));
  EXPECT_TRUE(CanSee(Copilot(kFederation), item));
  EXPECT_TRUE(CanSee(Admin(kOtherOrg), item));

  item.set_visibility(pb::VISIBILITY_COPILOTS_ONLY);
  EXPECT_TRUE(CanSee(Member(kAuthorOrg), item));
  EXPECT_TRUE(CanSee(Copilot(kFederation), item));
  EXPECT_FALSE(CanSee(Member(kOtherOrg), item));
}

TEST(CanSeeTest, EmptyOrganisationsNeverMatch) {
  pb::FeedbackItem item = ValidItem();
  item.set_visibility(pb::VISIBILITY_COPILOTS_ONLY);
  item.clear_author_organization_id();
  EXPECT_FALSE(CanSee(Member(""), item));
}

TEST(RedactTest, OtherMembersLoseReportsAndContact) {
  pb::FeedbackItem offer = ValidOffer();
  auto* r = offer.add_reports();
  r->set_organization_id(kThirdOrg);
  r->set_reason("spam");
  pb::FeedbackItem copy = offer;
  Redact(Member(kOtherOrg), &copy);
  EXPECT_EQ(copy.reports_size(), 0);
  EXPECT_EQ(copy.contact(), "");
  EXPECT_EQ(copy.title(), offer.title());
  EXPECT_EQ(copy.body(), offer.body());

  copy = offer;
  Redact(Reader(kOtherOrg), &copy);
  EXPECT_EQ(copy.reports_size(), 0);
  EXPECT_EQ(copy.contact(), "");
}

TEST(RedactTest, AuthorOrganisationKeepsContactButNotReports) {
  pb::FeedbackItem offer = ValidOffer();
  offer.add_reports()->set_organization_id(kThirdOrg);
  Redact(Member(kAuthorOrg), &offer);
  EXPECT_EQ(offer.reports_size(), 0);
  EXPECT_EQ(offer.contact(), ValidOffer().contact());
}

// Who reported an item is for co-pilots only: the last reporter, stamped
// as the item's last updater, goes too. Other updaters stay.
TEST(RedactTest, TheLastReporterIsNotShownAsTheLastUpdater) {
  pb::FeedbackItem reported = ValidOffer();
  reported.add_reports()->set_organization_id(kThirdOrg);
  *reported.mutable_audit()->mutable_updated_by() = Member(kThirdOrg);
  for (const Actor& viewer :
       {Member(kAuthorOrg), Member(kOtherOrg), Reader(kOtherOrg)}) {
    pb::FeedbackItem copy = reported;
    Redact(viewer, &copy);
    EXPECT_FALSE(copy.audit().has_updated_by()) << viewer.ShortDebugString();
  }
  pb::FeedbackItem copy = reported;
  Redact(Copilot(kFederation), &copy);
  EXPECT_EQ(copy.audit().updated_by().organization_id(), kThirdOrg);
  for (const Actor& by : {Member(kAuthorOrg), Copilot(kFederation)}) {
    pb::FeedbackItem edited = ValidOffer();
    *edited.mutable_audit()->mutable_updated_by() = by;
    Redact(Member(kOtherOrg), &edited);
    EXPECT_EQ(edited.audit().updated_by().organization_id(),
              by.organization_id());
  }
}

TEST(RedactTest, CopilotsKeepEverything) {
  for (const Actor& a : {Copilot(kFederation), Admin(kFederation)}) {
    pb::FeedbackItem offer = ValidOffer();
    offer.add_reports()->set_organization_id(kThirdOrg);
    Redact(a, &offer);
    EXPECT_EQ(offer.reports_size(), 1);
    EXPECT_EQ(offer.contact(), ValidOffer().contact());
  }
}

// ---------------------------------------------------------------------------
// Submitting and editing
// ---------------------------------------------------------------------------

TEST(CheckCanSubmitTest, MembersCopilotsAndAdminsButNotReaders) {
  EXPECT_TRUE(CheckCanSubmit(Member(kAuthorOrg)).ok());
  EXPECT_TRUE(CheckCanSubmit(Copilot(kFederation)).ok());
  EXPECT_TRUE(CheckCanSubmit(Admin(kFederation)).ok());
  EXPECT_EQ(CheckCanSubmit(Reader(kAuthorOrg)).code(), kDenied);
  EXPECT_EQ(
      CheckCanSubmit(MakeActor(Role::ROLE_UNSPECIFIED, kAuthorOrg)).code(),
      kDenied);
  EXPECT_EQ(CheckCanSubmit(Member("")).code(), kDenied);
}

TEST(CheckCanEditTest, AuthorOrganisationWhileSubmittedOrAdmin) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_TRUE(CheckCanEdit(Member(kAuthorOrg), item).ok());
  EXPECT_TRUE(CheckCanEdit(Copilot(kAuthorOrg), item).ok());
  EXPECT_TRUE(CheckCanEdit(Admin(kFederation), item).ok());
  EXPECT_EQ(CheckCanEdit(Member(kOtherOrg), item).code(), kDenied);
  EXPECT_EQ(CheckCanEdit(Copilot(kFederation), item).code(), kDenied);
  EXPECT_EQ(CheckCanEdit(Reader(kAuthorOrg), item).code(), kDenied);

  for (auto s : {kAcknowledged, kLinked, kAddressed, kDeclined}) {
    item.set_status(s);
    EXPECT_EQ(CheckCanEdit(Member(kAuthorOrg), item).code(), kPrecondition)
        << pb::FeedbackStatus_Name(s);
    EXPECT_EQ(CheckCanEdit(Member(kOtherOrg), item).code(), kDenied);
    EXPECT_TRUE(CheckCanEdit(Admin(kFederation), item).ok());
  }
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

// The lifecycle of feedback.proto, written out independently of domain.cc.
const std::set<std::pair<pb::FeedbackStatus, pb::FeedbackStatus>>& SpecEdges() {
  static const auto* kEdges =
      new std::set<std::pair<pb::FeedbackStatus, pb::FeedbackStatus>>{
          {kSubmitted, kAcknowledged}, {kSubmitted, kDeclined},
          {kAcknowledged, kLinked},    {kAcknowledged, kDeclined},
          {kLinked, kLinked},          {kLinked, kDeclined},
      };
  return *kEdges;
}

TEST(TransitionTest, WholeTable) {
  const std::vector<pb::FeedbackStatus> all = {pb::FEEDBACK_STATUS_UNSPECIFIED,
                                               kSubmitted,
                                               kAcknowledged,
                                               kLinked,
                                               kAddressed,
                                               kDeclined};
  int allowed = 0;
  for (auto from : all) {
    for (auto to : all) {
      SCOPED_TRACE(absl::StrCat(pb::FeedbackStatus_Name(from), " -> ",
                                pb::FeedbackStatus_Name(to)));
      absl::Status s = CheckTransition(ItemWith(from), to);
      auto targets = AllowedTargets(from);
      bool listed =
          std::find(targets.begin(), targets.end(), to) != targets.end();
      if (SpecEdges().count({from, to})) {
        ++allowed;
        EXPECT_TRUE(s.ok()) << s;
        EXPECT_TRUE(listed);
      } else {
        EXPECT_FALSE(listed);
        EXPECT_EQ(s.code(), kPrecondition) << s;
        EXPECT_EQ(ReasonOf(s), "TRANSITION_NOT_ALLOWED");
      }
    }
  }
  EXPECT_EQ(allowed, 6);
}

TEST(TransitionTest, FinalStatesHaveNoTargets) {
  EXPECT_TRUE(AllowedTargets(kAddressed).empty());
  EXPECT_TRUE(AllowedTargets(kDeclined).empty());
  EXPECT_TRUE(AllowedTargets(pb::FEEDBACK_STATUS_UNSPECIFIED).empty());
}

TEST(TransitionTest, MessageNamesTheAllowedTargets) {
  absl::Status s = CheckTransition(ItemWith(kAddressed), kDeclined);
  EXPECT_EQ(s.message(),
            "cannot move feedback from ADDRESSED to DECLINED; allowed from "
            "ADDRESSED: none (final state)");
  s = CheckTransition(ItemWith(kSubmitted), kLinked);
  EXPECT_EQ(s.message(),
            "cannot move feedback from SUBMITTED to LINKED; allowed from "
            "SUBMITTED: ACKNOWLEDGED, DECLINED");
  // ADDRESSED is reached only by CloseLoop.
  s = CheckTransition(ItemWith(kLinked), kAddressed);
  EXPECT_EQ(s.code(), kPrecondition);
  EXPECT_TRUE(Contains(s.message(), "allowed from LINKED: LINKED, DECLINED"))
      << s;
}

// ---------------------------------------------------------------------------
// Closing the loop
// ---------------------------------------------------------------------------

// What the service does with an outcome.
pb::FeedbackItem Apply(const pb::FeedbackItem& item, const LoopOutcome& o) {
  pb::FeedbackItem out = item;
  out.set_status(o.status);
  out.set_status_reason(o.reason);
  out.clear_linked_action_ids();
  for (const auto& id : o.linked_after) out.add_linked_action_ids(id);
  return out;
}

std::vector<std::string> Links(const pb::FeedbackItem& item) {
  return {item.linked_action_ids().begin(), item.linked_action_ids().end()};
}

TEST(CloseLoopTest, AllDoneAddressesNamingIdsInLinkOrder) {
  pb::FeedbackItem item = ItemWith(kLinked, {"act-9", "act-2", "act-5"});
  LoopOutcome o = CloseLoop(item,
                            {{"act-2", ACTION_STATUS_DONE},
                             {"act-5", ACTION_STATUS_DONE},
                             {"act-9", ACTION_STATUS_DONE},
                             {"act-7", ACTION_STATUS_CANCELLED}},  // not linked
                            {});
  EXPECT_TRUE(o.changed);
  EXPECT_EQ(o.status, kAddressed);
  EXPECT_EQ(o.reason, "all linked actions are done: act-9, act-2, act-5");
  EXPECT_EQ(o.linked_after, Links(item));
}

TEST(CloseLoopTest, SomeNotDoneOrUnknownLeavesItUnchanged) {
  pb::FeedbackItem item = ItemWith(kLinked, {"act-1", "act-2"});
  for (const auto& statuses : std::vector<std::map<std::string, ActionStatus>>{
           {{"act-1", ACTION_STATUS_DONE},
            {"act-2", ACTION_STATUS_IN_PROGRESS}},
           {{"act-1", ACTION_STATUS_DONE}},  // act-2 unknown
           {}}) {
    LoopOutcome o = CloseLoop(item, statuses, {});
    EXPECT_FALSE(o.changed);
    EXPECT_EQ(o.status, kLinked);
    EXPECT_EQ(o.linked_after, Links(item));
  }
}

TEST(CloseLoopTest, EveryActionCancelledSendsBackToAcknowledged) {
  pb::FeedbackItem item = ItemWith(kLinked, {"act-1", "act-2"});
  LoopOutcome o = CloseLoop(
      item,
      {{"act-1", ACTION_STATUS_CANCELLED}, {"act-2", ACTION_STATUS_CANCELLED}},
      {{"act-2", "budget withdrawn"}});
  EXPECT_TRUE(o.changed);
  EXPECT_EQ(o.status, kAcknowledged);
  EXPECT_EQ(o.reason,
            "linked action act-1 was cancelled; "
            "linked action act-2 was cancelled: budget withdrawn");
  EXPECT_TRUE(o.linked_after.empty());
}

// A cancelled action leaves the item, which then closes on the others: it
// was left ACKNOWLEDGED with them, where nothing closed it any more.
TEST(CloseLoopTest, CancelledActionLeavesAndTheOthersDoneAddress) {
  pb::FeedbackItem item = ItemWith(kLinked, {"act-1", "act-2", "act-3"});
  LoopOutcome o = CloseLoop(item,
                            {{"act-1", ACTION_STATUS_DONE},
                             {"act-2", ACTION_STATUS_CANCELLED},
                             {"act-3", ACTION_STATUS_DONE}},
                            {{"act-2", "budget withdrawn"}});
  EXPECT_TRUE(o.changed);
  EXPECT_EQ(o.status, kAddressed);
  EXPECT_EQ(o.reason,
            "all linked actions are done: act-1, act-3; "
            "linked action act-2 was cancelled: budget withdrawn");
  EXPECT_EQ(o.linked_after, (std::vector<std::string>{"act-1", "act-3"}));
}

TEST(CloseLoopTest, CancelledWithoutKnownReason) {
  pb::FeedbackItem item = ItemWith(kLinked, {"act-1"});
  LoopOutcome o = CloseLoop(item, {{"act-1", ACTION_STATUS_CANCELLED}}, {});
  EXPECT_TRUE(o.changed);
  EXPECT_EQ(o.status, kAcknowledged);
  EXPECT_TRUE(Contains(o.reason, "linked action act-1 was cancelled"))
      << o.reason;
  EXPECT_TRUE(o.linked_after.empty());
}

TEST(CloseLoopTest, SeveralCancelledAreAllDroppedAndNamed) {
  pb::FeedbackItem item = ItemWith(kLinked, {"act-1", "act-2", "act-3"});
  LoopOutcome o = CloseLoop(item,
                            {{"act-1", ACTION_STATUS_CANCELLED},
                             {"act-2", ACTION_STATUS_IN_PROGRESS},
                             {"act-3", ACTION_STATUS_CANCELLED}},
                            {{"act-1", "merged"}, {"act-3", "out of scope"}});
  EXPECT_TRUE(o.changed);
  EXPECT_EQ(o.status, kLinked);  // waiting for act-2
  EXPECT_EQ(o.reason,
            "linked action act-1 was cancelled: merged; "
            "linked action act-3 was cancelled: out of scope");
  EXPECT_EQ(o.linked_after, std::vector<std::string>{"act-2"});
}

TEST(CloseLoopTest, Idempotent) {
  const std::map<std::string, ActionStatus> done = {
      {"act-1", ACTION_STATUS_DONE}, {"act-2", ACTION_STATUS_DONE}};
  pb::FeedbackItem item = ItemWith(kLinked, {"act-1", "act-2"});
  LoopOutcome first = CloseLoop(item, done, {});
  ASSERT_TRUE(first.changed);
  pb::FeedbackItem after = Apply(item, first);
  LoopOutcome second = CloseLoop(after, done, {});
  EXPECT_FALSE(second.changed);
  EXPECT_EQ(second.status, kAddressed);
  EXPECT_EQ(second.linked_after, Links(after));
  EXPECT_EQ(Apply(after, second).SerializeAsString(),
            after.SerializeAsString());

  for (ActionStatus other : {ACTION_STATUS_DONE, ACTION_STATUS_IN_PROGRESS,
                             ACTION_STATUS_CANCELLED}) {
    const std::map<std::string, ActionStatus> cancelled = {
        {"act-1", other}, {"act-2", ACTION_STATUS_CANCELLED}};
    first = CloseLoop(item, cancelled, {{"act-2", "no budget"}});
    ASSERT_TRUE(first.changed);
    after = Apply(item, first);
    second = CloseLoop(after, cancelled, {{"act-2", "no budget"}});
    EXPECT_FALSE(second.changed) << roadmap::v1::ActionStatus_Name(other);
    EXPECT_EQ(Apply(after, second).SerializeAsString(),
              after.SerializeAsString());
  }
}

TEST(CloseLoopTest, OnlyLinkedItemsChange) {
  const std::vector<std::map<std::string, ActionStatus>> cases = {
      {{"act-1", ACTION_STATUS_DONE}}, {{"act-1", ACTION_STATUS_CANCELLED}}};
  for (auto status : {kSubmitted, kAcknowledged, kAddressed, kDeclined}) {
    for (const auto& statuses : cases) {
      pb::FeedbackItem item = ItemWith(status, {"act-1"});
      item.set_status_reason("earlier reason");
      LoopOutcome o = CloseLoop(item, statuses, {{"act-1", "why"}});
      EXPECT_FALSE(o.changed) << pb::FeedbackStatus_Name(status);
      EXPECT_EQ(o.status, status);
      EXPECT_EQ(o.linked_after, Links(item));
      EXPECT_EQ(Apply(item, o).SerializeAsString(), item.SerializeAsString());
    }
  }
}

TEST(CloseLoopTest, AddressedStaysEvenIfAnActionIsLaterCancelled) {
  pb::FeedbackItem item = ItemWith(kAddressed, {"act-1", "act-2"});
  LoopOutcome o = CloseLoop(
      item, {{"act-1", ACTION_STATUS_DONE}, {"act-2", ACTION_STATUS_CANCELLED}},
      {{"act-2", "reopened elsewhere"}});
  EXPECT_FALSE(o.changed);
  EXPECT_EQ(o.status, kAddressed);
  EXPECT_EQ(o.linked_after, Links(item));
}

TEST(CloseLoopTest, LinkedWithoutLinksIsNotAddressed) {
  LoopOutcome o = CloseLoop(ItemWith(kLinked), {}, {});
  EXPECT_FALSE(o.changed);
  EXPECT_EQ(o.status, kLinked);
}

// ---------------------------------------------------------------------------
// Endorsements
// ---------------------------------------------------------------------------

TEST(CheckCanEndorseTest, OtherOrganisations) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_TRUE(CheckCanEndorse(Member(kOtherOrg), item).ok());
  EXPECT_TRUE(CheckCanEndorse(Copilot(kFederation), item).ok());
  EXPECT_TRUE(CheckCanEndorse(Admin(kFederation), item).ok());
  for (auto s : {kAcknowledged, kLinked, kAddressed}) {
    item.set_status(s);
    EXPECT_TRUE(CheckCanEndorse(Member(kOtherOrg), item).ok());
  }
}

TEST(CheckCanEndorseTest, NotOwnOrganisationNorReaders) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_EQ(CheckCanEndorse(Member(kAuthorOrg), item).code(), kDenied);
  EXPECT_EQ(CheckCanEndorse(Copilot(kAuthorOrg), item).code(), kDenied);
  EXPECT_EQ(CheckCanEndorse(Reader(kOtherOrg), item).code(), kDenied);
}

TEST(CheckCanEndorseTest, HiddenDeclinedOrInvisible) {
  pb::FeedbackItem item = ValidItem();
  item.set_hidden(true);
  EXPECT_EQ(CheckCanEndorse(Member(kOtherOrg), item).code(), kPrecondition);
  EXPECT_EQ(CheckCanEndorse(Copilot(kFederation), item).code(), kPrecondition);
  item = ItemWith(kDeclined);
  EXPECT_EQ(CheckCanEndorse(Member(kOtherOrg), item).code(), kPrecondition);
  item = ValidItem();
  item.set_visibility(pb::VISIBILITY_COPILOTS_ONLY);
  EXPECT_EQ(CheckCanEndorse(Member(kOtherOrg), item).code(), kNotFound);
  EXPECT_TRUE(CheckCanEndorse(Copilot(kFederation), item).ok());
}

// ---------------------------------------------------------------------------
// Reports and moderation
// ---------------------------------------------------------------------------

TEST(CheckCanReportTest, MemberOfAnotherOrganisation) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_TRUE(CheckCanReport(Member(kOtherOrg), item, false, "spam").ok());
  EXPECT_EQ(CheckCanReport(Member(kAuthorOrg), item, false, "spam").code(),
            kDenied);
  EXPECT_EQ(CheckCanReport(Reader(kOtherOrg), item, false, "spam").code(),
            kDenied);
  // Co-pilots moderate directly instead.
  EXPECT_EQ(CheckCanReport(Copilot(kFederation), item, false, "spam").code(),
            kDenied);
}

TEST(CheckCanReportTest, OncePerOrganisation) {
  absl::Status s = CheckCanReport(Member(kOtherOrg), ValidItem(), true, "spam");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
}

TEST(CheckCanReportTest, ReasonIsRequiredAndBounded) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_TRUE(OnlyViolation(CheckCanReport(Member(kOtherOrg), item, false, ""),
                            "reason"));
  EXPECT_TRUE(
      CheckCanReport(Member(kOtherOrg), item, false, Repeat("é", 1000)).ok());
  EXPECT_TRUE(OnlyViolation(
      CheckCanReport(Member(kOtherOrg), item, false, Repeat("é", 1001)),
      "reason"));
  EXPECT_TRUE(OnlyViolation(
      CheckCanReport(Member(kOtherOrg), item, false, "spam\x1b[2J"), "reason"));
}

TEST(CheckCanReportTest, HiddenDeclinedOrInvisible) {
  pb::FeedbackItem item = ValidItem();
  item.set_hidden(true);
  EXPECT_EQ(CheckCanReport(Member(kOtherOrg), item, false, "spam").code(),
            kPrecondition);
  item = ItemWith(kDeclined);
  EXPECT_EQ(CheckCanReport(Member(kOtherOrg), item, false, "spam").code(),
            kPrecondition);
  item = ValidItem();
  item.set_visibility(pb::VISIBILITY_COPILOTS_ONLY);
  EXPECT_EQ(CheckCanReport(Member(kOtherOrg), item, false, "spam").code(),
            kNotFound);
}

TEST(AddReportTest, ThirdDistinctOrganisationHidesAtThresholdThree) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_FALSE(AddReport(&item, Member(kOtherOrg), "spam", Ts(10), 3));
  EXPECT_FALSE(AddReport(&item, Member(kThirdOrg), "hors sujet", Ts(20), 3));
  EXPECT_FALSE(item.hidden());
  EXPECT_TRUE(CanSee(Member(kFourthOrg), item));
  EXPECT_TRUE(AddReport(&item, Member(kFourthOrg), "abusif", Ts(30), 3));
  EXPECT_TRUE(item.hidden());
  EXPECT_EQ(item.moderation_reason(),
            "hidden pending review: reported by 3 organisations");
  ASSERT_EQ(item.reports_size(), 3);
  EXPECT_EQ(item.reports(0).organization_id(), kOtherOrg);
  EXPECT_EQ(item.reports(1).reason(), "hors sujet");
  EXPECT_EQ(item.reports(2).time().seconds(), 30);
  // Now hidden from other organisations, not from its author or co-pilots.
  EXPECT_FALSE(CanSee(Member(kOtherOrg), item));
  EXPECT_TRUE(CanSee(Member(kAuthorOrg), item));
  EXPECT_TRUE(CanSee(Copilot(kFederation), item));
  // And it can no longer be reported.
  EXPECT_EQ(CheckCanReport(Member(kFederation), item, false, "x").code(),
            kPrecondition);
}

TEST(AddReportTest, SameOrganisationCountsOnce) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_FALSE(AddReport(&item, Member(kOtherOrg), "spam", Ts(10), 3));
  // The service refuses a second report of the same organisation...
  EXPECT_EQ(CheckCanReport(Member(kOtherOrg), item, true, "again").code(),
            absl::StatusCode::kAlreadyExists);
  // ...and even if one slipped through, it would not count twice.
  EXPECT_FALSE(AddReport(&item, Member(kOtherOrg), "again", Ts(11), 3));
  EXPECT_FALSE(AddReport(&item, Member(kThirdOrg), "spam", Ts(12), 3));
  EXPECT_FALSE(item.hidden());
  EXPECT_TRUE(AddReport(&item, Member(kFourthOrg), "spam", Ts(13), 3));
}

TEST(AddReportTest, ThresholdOneHidesAtOnce) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_TRUE(AddReport(&item, Member(kOtherOrg), "spam", Ts(10), 1));
  EXPECT_TRUE(item.hidden());
  EXPECT_TRUE(Contains(item.moderation_reason(),
                       "hidden pending review: reported by 1 organisation"))
      << item.moderation_reason();
}

TEST(AddReportTest, KeepsAModeratorsReason) {
  pb::FeedbackItem item = ValidItem();
  item.set_hidden(true);
  item.set_moderation_reason("doublon de fb-0");
  EXPECT_TRUE(AddReport(&item, Member(kOtherOrg), "spam", Ts(10), 1));
  EXPECT_EQ(item.moderation_reason(), "doublon de fb-0");
}

// ---------------------------------------------------------------------------
// Partnership matchmaking
// ---------------------------------------------------------------------------

TEST(ExpressInterestTest, MemberOfAnotherOrganisationOnAnOffer) {
  EXPECT_TRUE(CheckCanExpressInterest(Member(kOtherOrg), ValidOffer(),
                                      "Intéressés", "s.idrissi@beta.ma")
                  .ok());
  EXPECT_TRUE(
      CheckCanExpressInterest(Member(kOtherOrg), ValidOffer(), "", "x").ok());
}

TEST(ExpressInterestTest, OnlyPartnershipOffers) {
  for (auto kind :
       {pb::FEEDBACK_KIND_STRENGTH, pb::FEEDBACK_KIND_BLOCKER,
        pb::FEEDBACK_KIND_OPPORTUNITY, pb::FEEDBACK_KIND_PROPOSAL}) {
    pb::FeedbackItem item = ValidOffer();
    item.set_kind(kind);
    EXPECT_EQ(CheckCanExpressInterest(Member(kOtherOrg), item, "", "x@beta.ma")
                  .code(),
              kPrecondition)
        << pb::FeedbackKind_Name(kind);
  }
}

TEST(ExpressInterestTest, WhoMayExpressIt) {
  pb::FeedbackItem offer = ValidOffer();
  EXPECT_EQ(CheckCanExpressInterest(Member(kAuthorOrg), offer, "", "x@acme.ma")
                .code(),
            kDenied);
  EXPECT_EQ(
      CheckCanExpressInterest(Reader(kOtherOrg), offer, "", "x@beta.ma").code(),
      kDenied);
  EXPECT_EQ(CheckCanExpressInterest(Copilot(kFederation), offer, "", "x@fed.ma")
                .code(),
            kDenied);
}

TEST(ExpressInterestTest, OfferMustBeOpenAndVisible) {
  pb::FeedbackItem offer = ValidOffer();
  offer.set_status(kDeclined);
  EXPECT_EQ(
      CheckCanExpressInterest(Member(kOtherOrg), offer, "", "x@beta.ma").code(),
      kPrecondition);
  offer = ValidOffer();
  offer.set_hidden(true);
  EXPECT_EQ(
      CheckCanExpressInterest(Member(kOtherOrg), offer, "", "x@beta.ma").code(),
      kPrecondition);
  offer = ValidOffer();
  offer.set_visibility(pb::VISIBILITY_COPILOTS_ONLY);
  EXPECT_EQ(
      CheckCanExpressInterest(Member(kOtherOrg), offer, "", "x@beta.ma").code(),
      kNotFound);
}

TEST(ExpressInterestTest, ContactRequiredAndLengthsBounded) {
  pb::FeedbackItem offer = ValidOffer();
  Actor m = Member(kOtherOrg);
  EXPECT_TRUE(
      OnlyViolation(CheckCanExpressInterest(m, offer, "hello", ""), "contact"));
  EXPECT_TRUE(CheckCanExpressInterest(m, offer, "", Repeat("é", 500)).ok());
  EXPECT_TRUE(OnlyViolation(
      CheckCanExpressInterest(m, offer, "", Repeat("é", 501)), "contact"));
  EXPECT_TRUE(
      CheckCanExpressInterest(m, offer, Repeat("é", 2000), "x@beta.ma").ok());
  EXPECT_TRUE(OnlyViolation(
      CheckCanExpressInterest(m, offer, Repeat("é", 2001), "x@beta.ma"),
      "message"));
  EXPECT_TRUE(
      HasViolations(CheckCanExpressInterest(m, offer, Repeat("a", 2001), ""),
                    {"message", "contact"}));
}

TEST(CheckCanDecideTest, OnlyTheOfferingOrganisationOrAnAdmin) {
  pb::FeedbackItem offer = ValidOffer();
  pb::Interest pending = MakeInterest(pb::INTEREST_STATE_PENDING);
  EXPECT_TRUE(CheckCanDecide(Member(kAuthorOrg), offer, pending).ok());
  EXPECT_TRUE(CheckCanDecide(Copilot(kAuthorOrg), offer, pending).ok());
  EXPECT_TRUE(CheckCanDecide(Admin(kFederation), offer, pending).ok());
  EXPECT_EQ(CheckCanDecide(Member(kOtherOrg), offer, pending).code(), kDenied);
  EXPECT_EQ(CheckCanDecide(Member(kThirdOrg), offer, pending).code(), kDenied);
  EXPECT_EQ(CheckCanDecide(Copilot(kFederation), offer, pending).code(),
            kDenied);
  EXPECT_EQ(CheckCanDecide(Reader(kAuthorOrg), offer, pending).code(), kDenied);
}

TEST(CheckCanDecideTest, OnlyPendingInterests) {
  pb::FeedbackItem offer = ValidOffer();
  for (auto state :
       {pb::INTEREST_STATE_ACCEPTED, pb::INTEREST_STATE_DECLINED}) {
    EXPECT_EQ(
        CheckCanDecide(Member(kAuthorOrg), offer, MakeInterest(state)).code(),
        kPrecondition)
        << pb::InterestState_Name(state);
    EXPECT_EQ(
        CheckCanDecide(Admin(kFederation), offer, MakeInterest(state)).code(),
        kPrecondition);
  }
}

TEST(CanSeeInterestTest, BothSidesAndCopilots) {
  pb::FeedbackItem offer = ValidOffer();
  pb::Interest in = MakeInterest(pb::INTEREST_STATE_PENDING);
  EXPECT_TRUE(CanSeeInterest(Member(kAuthorOrg), offer, in));
  EXPECT_TRUE(CanSeeInterest(Member(kOtherOrg), offer, in));
  EXPECT_TRUE(CanSeeInterest(Copilot(kFederation), offer, in));
  EXPECT_TRUE(CanSeeInterest(Admin(kFederation), offer, in));
  EXPECT_FALSE(CanSeeInterest(Member(kThirdOrg), offer, in));
  EXPECT_FALSE(CanSeeInterest(Reader(kThirdOrg), offer, in));
}

TEST(RedactInterestTest, ContactsOnlyOnAcceptanceToTheRightSide) {
  const pb::FeedbackItem offer = ValidOffer();
  const std::string interested_contact = MakeInterest({}).contact();
  for (auto state : {pb::INTEREST_STATE_PENDING, pb::INTEREST_STATE_ACCEPTED,
                     pb::INTEREST_STATE_DECLINED}) {
    SCOPED_TRACE(pb::InterestState_Name(state));
    bool accepted = state == pb::INTEREST_STATE_ACCEPTED;
    pb::Interest stored = MakeInterest(state);
    stored.set_offer_contact("stale stored copy");

    pb::Interest in = stored;  // the offering organisation
    RedactInterest(Member(kAuthorOrg), offer, &in);
    EXPECT_EQ(in.contact(), accepted ? interested_contact : "");
    EXPECT_EQ(in.offer_contact(), "");
    EXPECT_EQ(in.message(), stored.message());

    in = stored;  // the interested organisation
    RedactInterest(Member(kOtherOrg), offer, &in);
    EXPECT_EQ(in.offer_contact(), accepted ? offer.contact() : "");
    EXPECT_EQ(in.contact(), interested_contact);  // its own

    for (const Actor& a :
         {Copilot(kFederation), Admin(kFederation), Member(kThirdOrg)}) {
      in = stored;
      RedactInterest(a, offer, &in);
      EXPECT_EQ(in.contact(), "") << a.ShortDebugString();
      EXPECT_EQ(in.offer_contact(), "") << a.ShortDebugString();
      EXPECT_EQ(in.message(), stored.message());
    }
  }
}

// ---------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------

TEST(FoldTest, LowerCaseWithoutAccents) {
  EXPECT_EQ(Fold("Entrepôt"), "entrepot");
  EXPECT_EQ(Fold("ENTREPÔT"), "entrepot");
  EXPECT_EQ(Fold("éèêëàâäîïôöùûüç"), "eeeeaaaiioouuuc");
  EXPECT_EQ(Fold("ÉÈÊËÀÂÄÎÏÔÖÙÛÜÇ"), "eeeeaaaiioouuuc");
  EXPECT_EQ(Fold("Œuvre œuf"), "oeuvre oeuf");
  EXPECT_EQ(Fold("Æ æ"), "ae ae");
  EXPECT_EQ(Fold("ABC xyz 123 -_!"), "abc xyz 123 -_!");
  EXPECT_EQ(Fold(""), "");
  // Decomposed (NFD): a letter and a combining accent, U+0300..U+036F.
  EXPECT_EQ(Fold("Entrepo\xCC\x82t"), "entrepot");
  EXPECT_EQ(Fold("E\xCC\x81te\xCC\x81 a\xCC\x80 c\xCC\xA7"
                 "a"),
            "ete a ca");
  EXPECT_EQ(Fold("x\xCD\xAF"), "x");          // U+036F, the last of them
  EXPECT_EQ(Fold("x\xCD\xB0"), "x\xCD\xB0");  // U+0370 is a letter
}

TEST(FoldTest, OtherUtf8IsKept) {
  EXPECT_EQ(Fold("Ω 日本 ß"), "Ω 日本 ß");
  EXPECT_EQ(Fold("\xC3"), "\xC3");  // truncated sequence
  EXPECT_EQ(Fold("a\xC5"), "a\xC5");
  EXPECT_EQ(Fold("\xC3\xB7"), "\xC3\xB7");  // ÷ is not a letter
}

TEST(MatchesQueryTest, IgnoresCaseAndAccents) {
  pb::FeedbackItem item = ValidItem();
  item.set_title("Entrepôt frigorifique à Agadir");
  item.set_body("Coût de l'énergie trop élevé pour l'œuvre commune.");
  EXPECT_TRUE(MatchesQuery(item, "ENTREPOT"));
  EXPECT_TRUE(MatchesQuery(item, "Entrepot"));
  EXPECT_TRUE(MatchesQuery(item, "entrepôt"));
  EXPECT_TRUE(MatchesQuery(item, "Œuvre"));
  EXPECT_TRUE(MatchesQuery(item, "oeuvre"));
  EXPECT_TRUE(MatchesQuery(item, "ENERGIE"));
  EXPECT_FALSE(MatchesQuery(item, "casablanca"));

  item.set_title("ENTREPOT");
  EXPECT_TRUE(MatchesQuery(item, "entrepôt"));
}

TEST(MatchesQueryTest, EveryWordMustAppearInTitleOrBody) {
  pb::FeedbackItem item = ValidItem();
  item.set_title("Entrepôt frigorifique");
  item.set_body("Situé à Agadir.");
  EXPECT_TRUE(MatchesQuery(item, "entrepot agadir"));  // title + body
  EXPECT_TRUE(MatchesQuery(item, "  frigo\tsitue \n"));
  EXPECT_FALSE(MatchesQuery(item, "entrepot casablanca"));
  EXPECT_FALSE(MatchesQuery(item, "casablanca entrepot"));
}

TEST(MatchesQueryTest, EmptyQueryMatches) {
  pb::FeedbackItem item = ValidItem();
  EXPECT_TRUE(MatchesQuery(item, ""));
  EXPECT_TRUE(MatchesQuery(item, "   \t "));
  item.clear_title();
  item.clear_body();
  EXPECT_TRUE(MatchesQuery(item, ""));
  EXPECT_FALSE(MatchesQuery(item, "a"));
}

}  // namespace
}  // namespace jalon::feedback
