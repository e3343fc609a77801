// The reporting service in-process over real gRPC and HTTP, beside real
// roadmap and feedback services on a real redis-server: read models that
// follow the source services and stay equal under redelivery, reordering,
// replay and rebuild; immutable hashed reports and what changed since the
// previous one; scheduled reports exactly once; the status feed (resume
// across a restart, filters, slow clients); the Atom feed read by a real
// feed parser; exports over HTTP.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/common/clock.h"
#include "services/common/dates.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/reporting/http.h"
#include "services/reporting/report.h"
#include "services/reporting/watch_header.h"
#include "tests/support/random_requests.h"
#include "tests/support/raw_requests.h"
#include "tests/support/reporting_harness.h"
#include "tests/support/wait.h"

namespace jalon::reporting {
namespace {

using common::v1::Role;
using testing::Ctx;
using testing::D;
using testing::Fixture;
using testing::ReportingHarness;
namespace rpb = ::jalon::roadmap::v1;
namespace fpb = ::jalon::feedback::v1;
namespace reppb = ::jalon::reporting::v1;

class ReportingServiceTest : public ::testing::Test {
 protected:
  explicit ReportingServiceTest(testing::ReportingHarnessOptions o = {})
      : h_(o) {}

  void SetUp() override {
    ASSERT_TRUE(h_.Start().ok());
    f_ = h_.roadmap().MakeFixture();
    roadmap_ = h_.roadmap().Stub();
    feedback_ = h_.feedback().Stub();
    stub_ = h_.Stub();
    for (const char* name : {"Maroc Vélo", "Cuivre du Sud", "Atlas Fonderie"}) {
      rpb::CreateOrganizationRequest req;
      req.mutable_organization()->set_name(name);
      req.mutable_organization()->set_kind(
          rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
      rpb::CreateOrganizationResponse resp;
      ASSERT_TRUE(roadmap_
                      ->CreateOrganization(
                          Ctx(h_.roadmap().admin_token()).get(), req, &resp)
                      .ok());
      members_.push_back(h_.roadmap().IssueToken(resp.organization().id(),
                                                 Role::ROLE_MEMBER, name));
    }
  }

  std::string NewAction(const std::string& title, common::v1::Date due) {
    rpb::CreateActionRequest req;
    auto* a = req.mutable_action();
    a->set_roadmap_id(f_.roadmap);
    a->set_ecosystem_id(f_.ecosystem);
    a->set_title(title);
    a->set_lead_organization_id(f_.federation);
    a->set_partner_organization_id(f_.ministry);
    *a->mutable_due_date() = due;
    rpb::CreateActionResponse resp;
    grpc::Status s =
        roadmap_->CreateAction(Ctx(f_.federation_copilot).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.action().id();
  }

  grpc::Status Move(const std::string& id, rpb::ActionStatus target,
                    const std::string& token, const std::string& reason = "") {
    rpb::TransitionActionRequest req;
    req.set_id(id);
    req.set_target_status(target);
    req.set_reason(reason);
    rpb::TransitionActionResponse resp;
    return roadmap_->TransitionAction(Ctx(token).get(), req, &resp);
  }

  void Complete(const std::string& id) {
    ASSERT_TRUE(
        Move(id, rpb::ACTION_STATUS_PLANNED, f_.federation_copilot).ok());
    ASSERT_TRUE(
        Move(id, rpb::ACTION_STATUS_IN_PROGRESS, f_.federation_copilot).ok());
    ASSERT_TRUE(
        Move(id, rpb::ACTION_STATUS_COMPLETION_REQUESTED, f_.federation_copilot)
            .ok());
    ASSERT_TRUE(Move(id, rpb::ACTION_STATUS_DONE, f_.ministry_copilot).ok());
  }

  fpb::FeedbackItem Submit(const std::string& token, fpb::FeedbackKind kind,
                           const std::string& title) {
    fpb::SubmitFeedbackRequest req;
    auto* i = req.mutable_item();
    i->set_roadmap_id(f_.roadmap);
    i->set_ecosystem_id(f_.ecosystem);
    i->set_kind(kind);
    i->set_title(title);
    i->set_body("Les délais de dédouanement du cuivre bloquent la production.");
    if (kind == fpb::FEEDBACK_KIND_BLOCKER) i->set_severity(fpb::SEVERITY_HIGH);
    fpb::SubmitFeedbackResponse resp;
    grpc::Status s = feedback_->SubmitFeedback(Ctx(token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.item();
  }

  grpc::Status Acknowledge(const std::string& id) {
    fpb::AcknowledgeFeedbackRequest req;
    req.set_id(id);
    fpb::AcknowledgeFeedbackResponse resp;
    return feedback_->AcknowledgeFeedback(Ctx(f_.federation_copilot).get(), req,
                                          &resp);
  }

  grpc::Status Link(const std::string& id, const std::string& action) {
    fpb::LinkFeedbackRequest req;
    req.set_id(id);
    req.add_action_ids(action);
    fpb::LinkFeedbackResponse resp;
    return feedback_->LinkFeedback(Ctx(f_.federation_copilot).get(), req,
                                   &resp);
  }

  grpc::Status Endorse(const std::string& token, const std::string& id) {
    fpb::EndorseFeedbackRequest req;
    req.set_feedback_id(id);
    fpb::EndorseFeedbackResponse resp;
    return feedback_->EndorseFeedback(Ctx(token).get(), req, &resp);
  }

  // Records a measurement of the fixture's indicator, as the federation;
  // returns its id.
  std::string Record(double value, common::v1::Date end) {
    rpb::RecordMeasurementRequest req;
    auto* m = req.mutable_measurement();
    m->set_indicator_id(f_.indicator);
    m->set_value(value);
    *m->mutable_period_start() = D(end.year(), 1, 1);
    *m->mutable_period_end() = end;
    m->set_source("Déclarations CNSS");
    rpb::RecordMeasurementResponse recorded;
    EXPECT_TRUE(roadmap_
                    ->RecordMeasurement(Ctx(f_.federation_copilot).get(), req,
                                        &recorded)
                    .ok());
    return recorded.measurement().id();
  }
  // Verifies it, as the ministry.
  void Verify(const std::string& measurement_id) {
    rpb::VerifyMeasurementRequest v;
    v.set_id(measurement_id);
    v.set_approve(true);
    rpb::VerifyMeasurementResponse vr;
    EXPECT_TRUE(
        roadmap_->VerifyMeasurement(Ctx(f_.ministry_copilot).get(), v, &vr)
            .ok());
  }
  void Measure(double value, common::v1::Date end, bool verify) {
    const std::string id = Record(value, end);
    if (verify) Verify(id);
  }

  // A monthly schedule of the fixture roadmap, and setting one as admin.
  reppb::SetReportScheduleRequest Monthly() const {
    reppb::SetReportScheduleRequest req;
    req.mutable_schedule()->set_roadmap_id(f_.roadmap);
    req.mutable_schedule()->set_frequency(reppb::SCHEDULE_FREQUENCY_MONTHLY);
    return req;
  }
  grpc::Status SetSchedule(const reppb::SetReportScheduleRequest& req,
                           reppb::SetReportScheduleResponse* resp) {
    return stub_->SetReportSchedule(Ctx(h_.roadmap().admin_token()).get(), req,
                                    resp);
  }

  // The fixture roadmap's live status, as a reader sees it.
  absl::StatusOr<reppb::ReportContent> Status() {
    reppb::GetRoadmapStatusRequest req;
    req.set_roadmap_id(f_.roadmap);
    reppb::GetRoadmapStatusResponse resp;
    grpc::Status s =
        stub_->GetRoadmapStatus(Ctx(f_.reader_token).get(), req, &resp);
    if (!s.ok()) return FromGrpcStatus(s);
    return resp.content();
  }

  absl::StatusOr<reppb::Report> Generate(const std::string& period,
                                         const std::string& token = "") {
    reppb::GenerateReportRequest req;
    req.set_roadmap_id(f_.roadmap);
    req.set_period(period);
    reppb::GenerateReportResponse resp;
    grpc::Status s = stub_->GenerateReport(
        Ctx(token.empty() ? f_.federation_copilot : token).get(), req, &resp);
    if (!s.ok()) return FromGrpcStatus(s);
    return resp.report();
  }

  // A report of the fixture's roadmap with one late action in it (empty
  // if that failed, which is also reported).
  reppb::Report ReportWithALateAction() {
    NewAction("Plateforme de tri", D(2020, 1, 1));
    h_.Sync();
    auto report = Generate("2026-Q3");
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *std::move(report) : reppb::Report();
  }

  // A feed key of the fixture's roadmap, issued by the admin (its secret
  // is empty if that failed, which the call also reports).
  reppb::IssueFeedKeyResponse IssueFeedKey() {
    reppb::IssueFeedKeyRequest req;
    req.mutable_feed_key()->mutable_filter()->set_roadmap_id(f_.roadmap);
    req.mutable_feed_key()->set_description("Ministère, lecteur RSS");
    reppb::IssueFeedKeyResponse key;
    grpc::Status s =
        stub_->IssueFeedKey(Ctx(h_.roadmap().admin_token()).get(), req, &key);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return key;
  }

  std::vector<StreamEntry> Stream(const std::string& name) {
    std::vector<StreamEntry> out;
    auto n =
        StreamConsumer::Replay(&h_.redis(), name, [&out](const StreamEntry& e) {
          out.push_back(e);
          return absl::OkStatus();
        });
    EXPECT_TRUE(n.ok());
    return out;
  }

  // Appends `n` status updates of 4 KB ("a0", "a1"...): more than the
  // transport buffers hold, for tests of clients that stop reading.
  void AddLargeUpdates(int n) {
    const std::string padding(4000, 'x');
    std::vector<RedisArgs> adds;
    for (int i = 0; i < n; ++i) {
      reppb::StatusUpdate u;
      u.set_kind(reppb::STATUS_KIND_ACTION_TRANSITIONED);
      u.set_roadmap_id(f_.roadmap);
      u.set_subject_id(absl::StrCat("a", i));
      u.set_title(padding);
      adds.push_back({"XADD", Keys::Stream(), "*", "e", WrapUpdate(u)});
    }
    ASSERT_TRUE(h_.redis().Pipeline(adds).ok());
  }

  // Every status update in the stream matching `filter`, in order.
  std::vector<reppb::StatusUpdate> AllUpdates(
      const reppb::StatusFilter& filter = {}) {
    std::string cursor = "0-0";
    std::vector<reppb::StatusUpdate> out;
    for (;;) {
      auto batch = h_.service().ReadUpdates(&h_.redis(), filter, &cursor, 1000,
                                            std::chrono::milliseconds(0));
      EXPECT_TRUE(batch.ok());
      if (!batch.ok() || batch->empty()) {
        // ReadUpdates may return an empty batch after skipping entries.
        auto more = h_.redis().Command(
            {"XRANGE", Keys::Stream(), "(" + cursor, "+", "COUNT", "1"});
        if (!more.ok() || more->elements().empty()) break;
        continue;
      }
      out.insert(out.end(), batch->begin(), batch->end());
    }
    return out;
  }

  // The rating changes announced so far, as "FROM -> TO", oldest first.
  // The rating last announced for the fixture's indicator.
  std::string Rating() {
    auto r = h_.redis().Command({"HGET", Keys::Ratings(), f_.indicator});
    return r.ok() && !r->is_nil() ? r->str() : "";
  }

  // Appends `n` updates of `kind` about the fixture roadmap; the cursor of
  // the last.
  std::string AddUpdates(int n, reppb::StatusKind kind) {
    std::vector<RedisArgs> adds;
    for (int i = 0; i < n; ++i) {
      reppb::StatusUpdate u;
      u.set_kind(kind);
      u.set_roadmap_id(f_.roadmap);
      u.set_subject_id(absl::StrCat("s", i));
      adds.push_back({"XADD", Keys::Stream(), "*", "e", WrapUpdate(u)});
    }
    auto ids = h_.redis().Pipeline(adds);
    EXPECT_TRUE(ids.ok());
    return ids.ok() ? ids->back().str() : "";
  }

  std::vector<std::string> RatingSteps() {
    std::vector<std::string> steps;
    for (const auto& u : AllUpdates()) {
      if (u.kind() != reppb::STATUS_KIND_INDICATOR_RATING_CHANGED) continue;
      steps.push_back(absl::StrCat(reppb::Rating_Name(u.from_rating()), " -> ",
                                   reppb::Rating_Name(u.to_rating())));
    }
    return steps;
  }

  ReportingHarness h_;
  Fixture f_;
  std::vector<std::string> members_;
  std::unique_ptr<rpb::RoadmapService::Stub> roadmap_;
  std::unique_ptr<fpb::FeedbackService::Stub> feedback_;
  std::unique_ptr<reppb::ReportingService::Stub> stub_;
};

int64_t CountOf(const reppb::ActionSummary& s, rpb::ActionStatus status) {
  for (const auto& c : s.by_status()) {
    if (c.status() == status) return c.count();
  }
  return 0;
}

TEST_F(ReportingServiceTest, ReadModelsFollowTheSourceServices) {
  const std::string a =
      NewAction("Plateforme de collecte du cuivre", D(2099, 1, 1));
  const std::string late = NewAction("Étude de marché", D(2020, 1, 1));
  const std::string blocked = NewAction("Zone franche", D(2099, 1, 1));
  Complete(a);
  ASSERT_TRUE(
      Move(blocked, rpb::ACTION_STATUS_PLANNED, f_.federation_copilot).ok());
  ASSERT_TRUE(
      Move(blocked, rpb::ACTION_STATUS_IN_PROGRESS, f_.federation_copilot)
          .ok());
  ASSERT_TRUE(Move(blocked, rpb::ACTION_STATUS_BLOCKED, f_.federation_copilot,
                   "Foncier indisponible")
                  .ok());
  fpb::FeedbackItem b1 = Submit(members_[0], fpb::FEEDBACK_KIND_BLOCKER,
                                "Accès au foncier industriel");
  fpb::FeedbackItem b2 =
      Submit(members_[1], fpb::FEEDBACK_KIND_BLOCKER, "Coût de l'énergie");
  Submit(members_[2], fpb::FEEDBACK_KIND_STRENGTH, "Main d'œuvre qualifiée");
  ASSERT_TRUE(Acknowledge(b1.id()).ok());
  ASSERT_TRUE(Link(b1.id(), blocked).ok());
  ASSERT_TRUE(Endorse(members_[1], b1.id()).ok());
  ASSERT_TRUE(Endorse(members_[2], b1.id()).ok());
  ASSERT_TRUE(Endorse(members_[0], b2.id()).ok());
  Measure(2150, D(2017, 12, 31), true);
  Measure(9000, D(2018, 12, 31), false);  // unverified: never counted
  EXPECT_GT(h_.Sync(), 0);

  reppb::GetRoadmapStatusRequest req;
  req.set_roadmap_id(f_.roadmap);
  reppb::GetRoadmapStatusResponse resp;
  grpc::Status s =
      stub_->GetRoadmapStatus(Ctx(f_.reader_token).get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const auto& c = resp.content();
  ASSERT_EQ(c.ecosystems_size(), 1);
  const auto& eco = c.ecosystems(0);
  EXPECT_EQ(eco.actions().total(), 3);
  EXPECT_EQ(CountOf(eco.actions(), rpb::ACTION_STATUS_DONE), 1);
  EXPECT_EQ(CountOf(eco.actions(), rpb::ACTION_STATUS_BLOCKED), 1);
  EXPECT_EQ(CountOf(eco.actions(), rpb::ACTION_STATUS_PROPOSED), 1);
  ASSERT_EQ(eco.actions().late_size(), 1);
  EXPECT_EQ(eco.actions().late(0).action_id(), late);
  EXPECT_GT(eco.actions().late(0).days_late(), 365);
  EXPECT_EQ(eco.actions().done_with_due_date(), 1);
  EXPECT_EQ(eco.actions().done_on_time(), 1);
  EXPECT_DOUBLE_EQ(eco.actions().on_time_completion_rate(), 1.0);
  ASSERT_EQ(eco.actions().blocked_size(), 1);
  EXPECT_EQ(eco.actions().blocked(0).reason(), "Foncier indisponible");
  ASSERT_EQ(eco.actions().blocked(0).blockers_size(), 1);
  EXPECT_EQ(eco.actions().blocked(0).blockers(0).feedback_id(), b1.id());
  EXPECT_EQ(eco.actions().blocked(0).blockers(0).endorsement_count(), 2);

  EXPECT_EQ(eco.feedback().total(), 3);
  EXPECT_EQ(eco.feedback().blockers(), 2);
  EXPECT_EQ(eco.feedback().linked_blockers(), 1);
  EXPECT_DOUBLE_EQ(eco.feedback().linked_blocker_share(), 0.5);
  EXPECT_EQ(eco.feedback().acknowledged(), 1);
  EXPECT_TRUE(eco.feedback().has_median_hours_to_acknowledge());
  ASSERT_EQ(eco.feedback().top_blockers_size(), 2);
  EXPECT_EQ(eco.feedback().top_blockers(0).feedback_id(), b1.id());
  EXPECT_EQ(eco.feedback().top_blockers(0).endorsement_count(), 2);
  EXPECT_EQ(eco.feedback().top_blockers(1).endorsement_count(), 1);

  ASSERT_EQ(eco.indicators_size(), 1);
  const auto& ind = eco.indicators(0);
  EXPECT_DOUBLE_EQ(ind.actual_value(), 2150);
  EXPECT_EQ(ind.verified_size(), 1);
  EXPECT_EQ(ind.unverified_size(), 1);
  EXPECT_EQ(ind.rating(), reppb::RATING_RED);
  EXPECT_FALSE(ind.has_forecast_value());  // one verified point: no forecast
  // Roll-up of the one jobs indicator, and the roadmap-wide totals.
  ASSERT_EQ(c.rollups_size(), 1);
  EXPECT_DOUBLE_EQ(c.rollups(0).target_value(), 13340);
  EXPECT_EQ(c.actions().total(), 3);
  EXPECT_EQ(c.feedback().total(), 3);
  ASSERT_EQ(resp.positions_size(), 2);
  EXPECT_FALSE(resp.positions(0).last_delivered_id().empty());
}

TEST_F(ReportingServiceTest, ApplyIsIdempotentUnderRedeliveryReorderAndReplay) {
  const std::string a = NewAction("Plateforme de collecte", D(2099, 1, 1));
  Complete(a);
  fpb::FeedbackItem b =
      Submit(members_[0], fpb::FEEDBACK_KIND_BLOCKER, "Foncier");
  ASSERT_TRUE(Endorse(members_[1], b.id()).ok());
  ASSERT_TRUE(Acknowledge(b.id()).ok());
  Measure(4000, D(2018, 12, 31), true);
  h_.Sync();
  auto before = h_.models().Dump();
  ASSERT_TRUE(before.ok());
  ASSERT_FALSE(before->empty());
  const size_t updates_before = AllUpdates().size();

  // Redelivery and reordering: every event again, newest first.
  std::vector<events::v1::Event> all;
  for (const char* s : {kRoadmapStream, kFeedbackStream}) {
    for (const auto& e : Stream(s)) {
      events::v1::Event ev;
      ASSERT_TRUE(ev.ParseFromString(e.payload));
      all.push_back(ev);
    }
  }
  std::reverse(all.begin(), all.end());
  for (const auto& e : all) ASSERT_TRUE(h_.models().Apply(e).ok());
  // Shuffled, twice.
  std::mt19937 rng(42);
  for (int round = 0; round < 2; ++round) {
    std::shuffle(all.begin(), all.end(), rng);
    for (const auto& e : all) ASSERT_TRUE(h_.models().Apply(e).ok());
  }
  auto after = h_.models().Dump();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*before, *after);
  // Replayed events announce nothing twice.
  EXPECT_EQ(AllUpdates().size(), updates_before);
}

TEST_F(ReportingServiceTest, RebuildEqualsIncrementalAfterLongRandomSequence) {
  std::mt19937 rng(2016);
  std::vector<std::string> actions;
  std::vector<fpb::FeedbackItem> items;
  for (int i = 0; i < 12; ++i) {
    actions.push_back(NewAction(absl::StrCat("Action ", i),
                                i % 3 == 0 ? D(2019, 6, 30) : D(2099, 1, 1)));
  }
  const rpb::ActionStatus targets[] = {
      rpb::ACTION_STATUS_PLANNED, rpb::ACTION_STATUS_IN_PROGRESS,
      rpb::ACTION_STATUS_BLOCKED, rpb::ACTION_STATUS_COMPLETION_REQUESTED,
      rpb::ACTION_STATUS_DONE,    rpb::ACTION_STATUS_CANCELLED};
  const fpb::FeedbackKind kinds[] = {
      fpb::FEEDBACK_KIND_STRENGTH, fpb::FEEDBACK_KIND_BLOCKER,
      fpb::FEEDBACK_KIND_OPPORTUNITY, fpb::FEEDBACK_KIND_PROPOSAL};
  int applied = 0;
  for (int step = 0; step < 250; ++step) {
    const int op = static_cast<int>(rng() % 7);
    const std::string& action = actions[rng() % actions.size()];
    switch (op) {
      case 0:
      case 1: {  // a transition, legal or not (illegal ones change nothing)
        const auto target = targets[rng() % 6];
        const std::string& who = target == rpb::ACTION_STATUS_DONE
                                     ? f_.ministry_copilot
                                     : f_.federation_copilot;
        applied += Move(action, target, who, "raison").ok();
        break;
      }
      case 2:
        items.push_back(Submit(members_[rng() % 3], kinds[rng() % 4],
                               absl::StrCat("Retour ", step)));
        break;
      case 3:
        if (!items.empty()) {
          const auto& it = items[rng() % items.size()];
          (void)Acknowledge(it.id());
          (void)Link(it.id(), action);
        }
        break;
      case 4:
        if (!items.empty()) {
          (void)Endorse(members_[rng() % 3], items[rng() % items.size()].id());
        }
        break;
      case 5:
        if (!items.empty()) {
          fpb::WithdrawEndorsementRequest req;
          req.set_feedback_id(items[rng() % items.size()].id());
          fpb::WithdrawEndorsementResponse resp;
          (void)feedback_->WithdrawEndorsement(Ctx(members_[rng() % 3]).get(),
                                               req, &resp);
        }
        break;
      case 6:
        Measure(1000.0 * static_cast<double>(rng() % 14),
                D(2017 + static_cast<int>(rng() % 4), 12, 31), rng() % 2 == 0);
        break;
    }
    if (step % 40 == 0) h_.Sync();  // consumption interleaved with changes
  }
  EXPECT_GT(applied, 10);
  h_.Sync();
  auto incremental = h_.models().Dump();
  ASSERT_TRUE(incremental.ok());
  reppb::RebuildReadModelsRequest req;
  reppb::RebuildReadModelsResponse resp;
  grpc::Status s = stub_->RebuildReadModels(
      Ctx(h_.roadmap().admin_token()).get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(resp.events(), 100);
  EXPECT_EQ(resp.generation(), 2);
  auto rebuilt = h_.models().Dump();
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(incremental->size(), rebuilt->size());
  EXPECT_EQ(*incremental, *rebuilt);
  // The old generation is gone (dropped in the background).
  h_.models().WaitForDrop();
  auto old = h_.redis().Command({"KEYS", Keys::Prefix() + "m1:*"});
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->elements().empty());
  // And the models still follow new changes.
  NewAction("Après la reconstruction", D(2099, 1, 1));
  EXPECT_GT(h_.Sync(), 0);
  auto status_after = h_.models().Dump();
  EXPECT_NE(*status_after, *rebuilt);
  // Only admins rebuild.
  EXPECT_EQ(
      stub_->RebuildReadModels(Ctx(f_.federation_copilot).get(), req, &resp)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ReportingServiceTest, RebuildWhileConsumersLagLosesNoAnnouncement) {
  const std::string a = NewAction("Centre technique", D(2099, 1, 1));
  h_.Sync();
  // Two transitions the consumers have not seen yet.
  ASSERT_TRUE(Move(a, rpb::ACTION_STATUS_PLANNED, f_.federation_copilot).ok());
  ASSERT_TRUE(
      Move(a, rpb::ACTION_STATUS_IN_PROGRESS, f_.federation_copilot).ok());
  auto stats = h_.models().Rebuild();
  ASSERT_TRUE(stats.ok()) << stats.status();
  reppb::StatusFilter transitions;
  transitions.add_kinds(reppb::STATUS_KIND_ACTION_TRANSITIONED);
  auto after_rebuild = AllUpdates(transitions);
  ASSERT_EQ(after_rebuild.size(), 2u);
  EXPECT_EQ(after_rebuild[0].to_status(), rpb::ACTION_STATUS_PLANNED);
  EXPECT_EQ(after_rebuild[1].to_status(), rpb::ACTION_STATUS_IN_PROGRESS);
  // The consumers then apply them: nothing new, nothing twice.
  EXPECT_GT(h_.Sync(), 0);
  EXPECT_EQ(AllUpdates(transitions).size(), 2u);
  auto status = h_.models().Dump();
  ASSERT_TRUE(status.ok());
  auto again = h_.models().Rebuild();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*h_.models().Dump(), *status);
}

// The count of actions of the fixture's roadmap in `status`, as a reader
// sees it now.
int64_t ActionsIn(reppb::ReportingService::Stub& stub, const Fixture& f,
                  rpb::ActionStatus status) {
  reppb::GetRoadmapStatusRequest req;
  req.set_roadmap_id(f.roadmap);
  reppb::GetRoadmapStatusResponse resp;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + f.reader_token);
  EXPECT_TRUE(stub.GetRoadmapStatus(&ctx, req, &resp).ok());
  int64_t n = 0;
  for (const auto& eco : resp.content().ecosystems()) {
    n += CountOf(eco.actions(), status);
  }
  return n;
}

TEST(StatusUpdatesTest, AnAddressedItemOnlyCoPilotsMaySeeIsNamedByIdOnly) {
  // The feed is readable by every role and by feed keys.
  auto addressed = [](fpb::Visibility visibility, bool hidden) {
    fpb::FeedbackItem before, now;
    now.set_id("f1");
    now.set_title("Propos injurieux sur un confrère");
    now.set_visibility(visibility);
    now.set_hidden(hidden);
    before = now;
    before.set_status(fpb::FEEDBACK_STATUS_LINKED);
    now.set_status(fpb::FEEDBACK_STATUS_ADDRESSED);
    events::v1::Event e;
    e.set_aggregate_kind("feedback");
    e.set_aggregate_id("f1");
    e.mutable_state()->PackFrom(now);
    auto updates = UpdatesOf(e, before.SerializeAsString());
    EXPECT_EQ(updates.size(), 1u);
    return updates.empty() ? std::string("?") : updates[0].title();
  };
  EXPECT_EQ(addressed(fpb::VISIBILITY_ALL_MEMBERS, false),
            "Propos injurieux sur un confrère");
  EXPECT_EQ(addressed(fpb::VISIBILITY_COPILOTS_ONLY, false), "");
  EXPECT_EQ(addressed(fpb::VISIBILITY_ALL_MEMBERS, true), "");  // moderated
}

TEST_F(ReportingServiceTest, RebuildSwitchesOnlyOnceItHoldsWhatConsumersDid) {
  const std::string a = NewAction("Pendant la reconstruction", D(2099, 1, 1));
  h_.Sync();
  int attempts = 0;
  int64_t planned_at_switch = -1;
  h_.models().SetRebuildHookForTest([&](std::string_view stage) {
    if (stage == "switching" && attempts++ == 0) {
      // A change the consumers apply to the serving generation after the
      // rebuild's last pass, just before it tries to switch.
      EXPECT_TRUE(
          Move(a, rpb::ACTION_STATUS_PLANNED, f_.federation_copilot).ok());
      EXPECT_GT(h_.Sync(), 0);
      EXPECT_EQ(ActionsIn(*stub_, f_, rpb::ACTION_STATUS_PLANNED), 1);
    }
    if (stage == "switched") {
      planned_at_switch = ActionsIn(*stub_, f_, rpb::ACTION_STATUS_PLANNED);
    }
    return absl::OkStatus();
  });
  auto stats = h_.models().Rebuild();
  ASSERT_TRUE(stats.ok()) << stats.status();
  // The first switch was refused, a pass caught up, and the models readers
  // got at the switch already showed the change: they never went back.
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(stats->passes, 2);
  EXPECT_EQ(planned_at_switch, 1);
  reppb::StatusFilter transitions;
  transitions.add_kinds(reppb::STATUS_KIND_ACTION_TRANSITIONED);
  EXPECT_EQ(AllUpdates(transitions).size(), 1u);
  h_.models().SetRebuildHookForTest(nullptr);
}

TEST_F(ReportingServiceTest, AFailedRebuildDropsWhatItWroteAndServesTheOld) {
  NewAction("Centre technique", D(2099, 1, 1));
  h_.Sync();
  auto before = h_.models().Dump();
  ASSERT_TRUE(before.ok());
  // What a rebuild killed half-way left: registered, never served.
  ASSERT_TRUE(h_.redis()
                  .Command({"HSET", ModelKeys(40).Entity("action", "x"), "v",
                            "1", "d", ""})
                  .ok());
  ASSERT_TRUE(h_.redis().Command({"SADD", Keys::Generations(), "40"}).ok());
  h_.models().SetRebuildHookForTest([](std::string_view stage) {
    return stage == "written" ? absl::UnavailableError("storage went away")
                              : absl::OkStatus();
  });
  auto failed = h_.models().Rebuild();
  EXPECT_TRUE(absl::IsUnavailable(failed.status())) << failed.status();
  h_.models().WaitForDrop();
  EXPECT_EQ(*h_.models().Dump(), *before);  // the old models still serve
  // Neither the failed rebuild's generation nor the leftover remains.
  auto generations = h_.redis().Command({"SMEMBERS", Keys::Generations()});
  ASSERT_TRUE(generations.ok());
  EXPECT_TRUE(generations->elements().empty());
  auto keys = h_.redis().Command({"KEYS", Keys::Prefix() + "m*"});
  ASSERT_TRUE(keys.ok());
  for (const auto& k : keys->elements()) {
    EXPECT_EQ(k.str().rfind(Keys::Prefix() + "m1:", 0), 0u) << k.str();
  }
  // The lock was released: the next rebuild runs.
  h_.models().SetRebuildHookForTest(nullptr);
  auto stats = h_.models().Rebuild();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(*h_.models().Dump(), *before);
}

TEST_F(ReportingServiceTest, ARebuildThatLostItsLockDoesNotSwitch) {
  NewAction("Centre technique", D(2099, 1, 1));
  h_.Sync();
  auto generation = h_.models().Current();
  ASSERT_TRUE(generation.ok());
  h_.models().SetRebuildHookForTest([&](std::string_view stage) {
    if (stage == "written") {
      // Its lock expired and another rebuild took it.
      EXPECT_TRUE(
          h_.redis().Command({"SET", Keys::RebuildLock(), "another"}).ok());
    }
    return absl::OkStatus();
  });
  auto stats = h_.models().Rebuild();
  EXPECT_TRUE(absl::IsAborted(stats.status())) << stats.status();
  EXPECT_EQ(h_.models().Current()->generation(), generation->generation());
  // Nor does it release the other one's lock.
  auto lock = h_.redis().Command({"GET", Keys::RebuildLock()});
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ(lock->str(), "another");
  h_.models().SetRebuildHookForTest(nullptr);
}

TEST_F(ReportingServiceTest, OneRebuildAtATimeInAProcess) {
  NewAction("Centre technique", D(2099, 1, 1));
  h_.Sync();
  std::promise<void> inside, leave;
  std::shared_future<void> left = leave.get_future().share();
  h_.models().SetRebuildHookForTest([&](std::string_view stage) {
    if (stage == "written") {
      inside.set_value();
      left.wait();
    }
    return absl::OkStatus();
  });
  auto first =
      std::async(std::launch::async, [&] { return h_.models().Rebuild(); });
  inside.get_future().wait();
  auto second = h_.models().Rebuild();
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  // Refused in the process, before Redis' lock is even asked.
  EXPECT_NE(second.status().message().find("in this process"),
            std::string::npos)
      << second.status();
  leave.set_value();
  EXPECT_TRUE(first.get().ok());
  h_.models().SetRebuildHookForTest(nullptr);
}

TEST_F(ReportingServiceTest, RebuildRefusesTrimmedSourceStreams) {
  NewAction("Centre technique", D(2099, 1, 1));
  h_.Sync();
  auto before = h_.models().Dump();
  ASSERT_TRUE(
      h_.redis().Command({"XTRIM", kRoadmapStream, "MAXLEN", "1"}).ok());
  auto stats = h_.models().Rebuild();
  EXPECT_TRUE(absl::IsFailedPrecondition(stats.status())) << stats.status();
  EXPECT_NE(stats.status().message().find("stream-max-len"), std::string::npos);
  EXPECT_EQ(*h_.models().Dump(), *before);  // nothing changed
}

// An event whose state does not parse (a writer's bug) fails each time it
// is applied, and the consumers dead-letter it. A rebuild used to fail on
// it every time, and `--rebuild` at start then crash-looped: it now leaves
// it out, as the consumers did, and says how many it left out.
TEST_F(ReportingServiceTest, ARebuildLeavesOutStatesThatDoNotParse) {
  const std::string action = NewAction("Centre technique", D(2020, 1, 1));
  h_.Sync();
  auto before = h_.models().Dump();
  ASSERT_TRUE(before.ok());
  auto add_unreadable = [&](const std::string& id, int64_t version = 1) {
    events::v1::Event e;
    e.set_event_id(NewUlid());
    e.set_type("action.created");
    e.set_aggregate_kind("action");
    e.set_aggregate_id(id);
    e.set_aggregate_version(version);
    e.mutable_state()->set_type_url(
        "type.googleapis.com/jalon.roadmap.v1.Action");
    e.mutable_state()->set_value("\xff\xff\xff\xff not an action");
    auto r = h_.redis().Command(
        {"XADD", kRoadmapStream, "*", "e", e.SerializeAsString()});
    ASSERT_TRUE(r.ok() && !r->is_error());
  };
  // One the consumers are past (dead-lettered, then acknowledged): the
  // rebuild's fold meets it.
  add_unreadable("01JUNREADABLEFOLDED0000000");
  // A newer state of a known action: the consumers kept the state before,
  // and the rebuild used to leave the action out altogether.
  add_unreadable(action, 2);
  auto taken =
      h_.redis().Command({"XREADGROUP", "GROUP", kGroup, "test", "COUNT", "10",
                          "STREAMS", kRoadmapStream, ">"});
  ASSERT_TRUE(taken.ok() && taken->is_array()) << taken.status();
  const auto& entries = taken->elements()[0].elements()[1].elements();
  ASSERT_EQ(entries.size(), 2u);
  for (const auto& entry : entries) {
    ASSERT_TRUE(h_.redis()
                    .Command({"XACK", kRoadmapStream, kGroup,
                              entry.elements()[0].str()})
                    .ok());
  }
  // One they have not reached yet: the rebuild's catch-up meets it.
  add_unreadable("01JUNREADABLECAUGHTUP00000");

  auto stats = h_.models().Rebuild();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->unreadable, 3);
  EXPECT_GT(stats->generation, 0);
  EXPECT_EQ(*h_.models().Dump(), *before);  // the rest, as it was
  auto report = Generate("2026-Q3");        // the action is still there, late
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->content().ecosystems_size(), 1);
  const auto& actions = report->content().ecosystems(0).actions();
  EXPECT_EQ(actions.total(), 1);
  ASSERT_EQ(actions.late_size(), 1);
  EXPECT_EQ(actions.late(0).action_id(), action);
  // And over gRPC, which says so.
  reppb::RebuildReadModelsResponse resp;
  ASSERT_TRUE(stub_
                  ->RebuildReadModels(Ctx(h_.roadmap().admin_token()).get(),
                                      reppb::RebuildReadModelsRequest(), &resp)
                  .ok());
  EXPECT_EQ(resp.unreadable(), 3);
}

TEST_F(ReportingServiceTest, AReportOnAPastPeriodCountsNoLaterFigure) {
  Measure(2150, D(2017, 12, 31), true);
  Measure(13340, D(2020, 12, 31), true);
  h_.Sync();
  auto past = Generate("2018");
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_EQ(FormatDate(past->content().as_of()), "2018-12-31");
  const auto& ind = past->content().ecosystems(0).indicators(0);
  EXPECT_DOUBLE_EQ(ind.actual_value(), 2150);
  EXPECT_EQ(ind.verified_size(), 1);
  auto now = Generate("2026");
  ASSERT_TRUE(now.ok());
  EXPECT_DOUBLE_EQ(now->content().ecosystems(0).indicators(0).actual_value(),
                   13340);
}

TEST_F(ReportingServiceTest, ReportsAreImmutableHashedAndDiffThePrevious) {
  const std::string a = NewAction("Centre technique", D(2099, 1, 1));
  fpb::FeedbackItem b =
      Submit(members_[0], fpb::FEEDBACK_KIND_BLOCKER, "Foncier");
  Measure(2150, D(2017, 12, 31), true);
  h_.Sync();
  auto first = Generate("2026-Q3");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->sequence(), 1);
  EXPECT_EQ(first->trigger(), reppb::REPORT_TRIGGER_MANUAL);
  EXPECT_EQ(first->period().label(), "2026-Q3");
  EXPECT_EQ(FormatDate(first->period().start_date()), "2026-07-01");
  EXPECT_EQ(FormatDate(first->period().end_date()), "2026-09-30");
  EXPECT_EQ(first->content_sha256(), ContentSha256(first->content()));
  EXPECT_EQ(first->content_sha256().size(), 64u);
  EXPECT_TRUE(first->changes().previous_report_id().empty());
  EXPECT_EQ(first->generated_by().organization_id(), f_.federation);

  // Changes: an action completed, one newly late, the rating up, a new top
  // blocker.
  Complete(a);
  const std::string late = NewAction("Étude", D(2021, 3, 1));
  Measure(13340, D(2020, 12, 31), true);
  fpb::FeedbackItem b2 =
      Submit(members_[1], fpb::FEEDBACK_KIND_BLOCKER, "Énergie");
  h_.Sync();
  auto second = Generate("2026-Q4");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->sequence(), 2);
  const auto& ch = second->changes();
  EXPECT_EQ(ch.previous_report_id(), first->id());
  ASSERT_EQ(ch.completed_actions_size(), 1);
  EXPECT_EQ(ch.completed_actions(0).action_id(), a);
  ASSERT_EQ(ch.newly_late_actions_size(), 1);
  EXPECT_EQ(ch.newly_late_actions(0).action_id(), late);
  ASSERT_EQ(ch.rating_changes_size(), 1);
  EXPECT_EQ(ch.rating_changes(0).previous(), reppb::RATING_RED);
  EXPECT_EQ(ch.rating_changes(0).current(), reppb::RATING_GREEN);
  ASSERT_EQ(ch.new_top_blockers_size(), 1);
  EXPECT_EQ(ch.new_top_blockers(0).feedback_id(), b2.id());

  // Immutable: the first report reads back byte for byte.
  reppb::GetReportRequest get;
  get.set_id(first->id());
  reppb::GetReportResponse got;
  ASSERT_TRUE(stub_->GetReport(Ctx(f_.reader_token).get(), get, &got).ok());
  EXPECT_EQ(got.report().SerializeAsString(), first->SerializeAsString());
  // Regenerating with nothing changed gives a new report, same hash.
  auto third = Generate("2026-Q4");
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->id(), second->id());
  EXPECT_EQ(third->content_sha256(), second->content_sha256());
  EXPECT_EQ(third->changes().completed_actions_size(), 0);
  EXPECT_EQ(third->changes().rating_changes_size(), 0);
  // Only the newest report keeps the snapshots the next one diffs against.
  auto snapshots = [&](const reppb::Report& r) {
    return h_.redis()
        .Command({"EXISTS", "jalon:reporting:report-done:" + r.id(),
                  "jalon:reporting:report-late:" + r.id()})
        ->integer();
  };
  EXPECT_EQ(snapshots(*first), 0);
  EXPECT_EQ(snapshots(*second), 0);
  EXPECT_EQ(snapshots(*third), 2);

  // Listed newest first, without content; paginated.
  reppb::ListReportsRequest list;
  list.set_roadmap_id(f_.roadmap);
  list.set_page_size(2);
  reppb::ListReportsResponse page;
  ASSERT_TRUE(stub_->ListReports(Ctx(f_.member_token).get(), list, &page).ok());
  ASSERT_EQ(page.reports_size(), 2);
  EXPECT_EQ(page.reports(0).id(), third->id());
  EXPECT_FALSE(page.reports(0).has_content());
  ASSERT_FALSE(page.next_page_token().empty());
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListReports(Ctx(f_.member_token).get(), list, &page).ok());
  ASSERT_EQ(page.reports_size(), 1);
  EXPECT_EQ(page.reports(0).id(), first->id());
  EXPECT_TRUE(page.next_page_token().empty());
}

TEST_F(ReportingServiceTest, BadReportRequestsNameTheFieldAndWriteNothing) {
  h_.Sync();
  for (const char* period : {"", "2026-13", "2026-Q5", "26", "2026-1"}) {
    auto r = Generate(period);
    ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << period;
    ASSERT_FALSE(ViolationsOf(r.status()).empty());
    EXPECT_EQ(ViolationsOf(r.status())[0].field, "period");
  }
  // A period that has not begun (a typo for this year, or next year's
  // entered early) would label today's figures with it for good.
  const int next_year =
      static_cast<int>(DateOf(std::chrono::system_clock::now()).year()) + 1;
  for (const std::string& period :
       {std::to_string(next_year), absl::StrCat(next_year, "-Q1"),
        absl::StrCat(next_year, "-01"), std::string("2062")}) {
    auto r = Generate(period);
    ASSERT_TRUE(absl::IsInvalidArgument(r.status())) << period << r.status();
    ASSERT_EQ(ViolationsOf(r.status()).size(), 1u);
    EXPECT_EQ(ViolationsOf(r.status())[0].field, "period");
    EXPECT_NE(ViolationsOf(r.status())[0].description.find("has not begun"),
              std::string::npos);
  }
  reppb::GenerateReportRequest req;
  req.set_period("2026");
  reppb::GenerateReportResponse resp;
  EXPECT_EQ(stub_->GenerateReport(Ctx(f_.federation_copilot).get(), req, &resp)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_roadmap_id("01UNKNOWNROADMAP");
  EXPECT_EQ(stub_->GenerateReport(Ctx(f_.federation_copilot).get(), req, &resp)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Members and readers do not generate.
  req.set_roadmap_id(f_.roadmap);
  EXPECT_EQ(stub_->GenerateReport(Ctx(f_.member_token).get(), req, &resp)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  reppb::ExportReportRequest ex;
  ex.set_id("x");
  reppb::ExportReportResponse exr;
  grpc::Status s = stub_->ExportReport(Ctx(f_.reader_token).get(), ex, &exr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolationsOf(FromGrpcStatus(s))[0].field, "format");
  reppb::ListReportsRequest list;
  list.set_roadmap_id(f_.roadmap);
  reppb::ListReportsResponse page;
  ASSERT_TRUE(stub_->ListReports(Ctx(f_.member_token).get(), list, &page).ok());
  EXPECT_EQ(page.reports_size(), 0);
}

TEST_F(ReportingServiceTest, ScheduledReportsAreGeneratedOncePerPeriod) {
  h_.Sync();
  reppb::SetReportScheduleRequest req = Monthly();
  reppb::SetReportScheduleResponse resp;
  ASSERT_TRUE(SetSchedule(req, &resp).ok());
  // Several replicas ticking at once.
  std::vector<std::thread> replicas;
  std::atomic<int> failures{0};
  for (int i = 0; i < 6; ++i) {
    replicas.emplace_back([&] {
      if (!h_.service().Tick().ok()) ++failures;
    });
  }
  for (auto& t : replicas) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(h_.service().Tick().ok());
  reppb::ListReportsRequest list;
  list.set_roadmap_id(f_.roadmap);
  reppb::ListReportsResponse page;
  ASSERT_TRUE(stub_->ListReports(Ctx(f_.member_token).get(), list, &page).ok());
  ASSERT_EQ(page.reports_size(), 1);
  EXPECT_EQ(page.reports(0).trigger(), reppb::REPORT_TRIGGER_SCHEDULED);
  const Date today = DateOf(std::chrono::system_clock::now());
  EXPECT_EQ(
      page.reports(0).period().label(),
      LastCompletePeriod(reppb::SCHEDULE_FREQUENCY_MONTHLY, today).label());
  // The same schedule again (a retry) writes nothing; an update made from a
  // stale read is refused, as every update with an etag.
  const int64_t events =
      h_.redis().Command({"XLEN", Keys::Stream()})->integer();
  reppb::SetReportScheduleResponse same;
  ASSERT_TRUE(SetSchedule(req, &same).ok());
  EXPECT_EQ(same.schedule().etag(), resp.schedule().etag());
  EXPECT_EQ(h_.redis().Command({"XLEN", Keys::Stream()})->integer(), events);
  reppb::SetReportScheduleRequest quarterly = req;
  quarterly.mutable_schedule()->set_frequency(
      reppb::SCHEDULE_FREQUENCY_QUARTERLY);
  quarterly.mutable_schedule()->set_etag(resp.schedule().etag());
  reppb::SetReportScheduleResponse changed;
  ASSERT_TRUE(SetSchedule(quarterly, &changed).ok());
  EXPECT_NE(changed.schedule().etag(), resp.schedule().etag());
  reppb::SetReportScheduleRequest stale = req;  // read before the change
  stale.mutable_schedule()->set_etag(resp.schedule().etag());
  grpc::Status refused = SetSchedule(stale, &same);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(FromGrpcStatus(refused)), "STALE_ETAG");
  // Bad schedules name the field.
  req.mutable_schedule()->set_frequency(reppb::SCHEDULE_FREQUENCY_UNSPECIFIED);
  grpc::Status s = SetSchedule(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolationsOf(FromGrpcStatus(s))[0].field, "schedule.frequency");
}

// Eleven blockers endorsed once each: the ten listed are the ten oldest,
// in the order the list is sorted by (endorsements, then id).
TEST_F(ReportingServiceTest, ATieAtTheCutOfTopBlockersKeepsTheOldest) {
  std::vector<std::string> ids;
  for (int n = 0; n < kTopBlockers + 1; ++n) {
    fpb::FeedbackItem b = Submit(members_[0], fpb::FEEDBACK_KIND_BLOCKER,
                                 absl::StrCat("Obstacle ", n));
    ASSERT_TRUE(Endorse(members_[1], b.id()).ok());
    ids.push_back(b.id());
  }
  std::sort(ids.begin(), ids.end());
  h_.Sync();
  auto status = Status();
  ASSERT_TRUE(status.ok()) << status.status();
  const auto& top = status->feedback().top_blockers();
  ASSERT_EQ(top.size(), kTopBlockers);
  for (int n = 0; n < kTopBlockers; ++n) {
    EXPECT_EQ(top[n].feedback_id(), ids[n]) << n;
  }
}

// A blocked action lists its most endorsed linked blockers: with more than
// the list holds, the newest one, the only endorsed, is first, not cut.
TEST_F(ReportingServiceTest, ABlockedActionListsItsMostEndorsedBlockers) {
  const std::string blocked = NewAction("Zone franche", D(2099, 1, 1));
  for (auto to : {rpb::ACTION_STATUS_PLANNED, rpb::ACTION_STATUS_IN_PROGRESS}) {
    ASSERT_TRUE(Move(blocked, to, f_.federation_copilot).ok());
  }
  ASSERT_TRUE(Move(blocked, rpb::ACTION_STATUS_BLOCKED, f_.federation_copilot,
                   "Foncier indisponible")
                  .ok());
  std::vector<std::string> ids;
  for (int n = 0; n < kListLimit + 1; ++n) {
    fpb::FeedbackItem b = Submit(members_[0], fpb::FEEDBACK_KIND_BLOCKER,
                                 absl::StrCat("Obstacle ", n));
    ASSERT_TRUE(Acknowledge(b.id()).ok());
    ASSERT_TRUE(Link(b.id(), blocked).ok());
    ids.push_back(b.id());
  }
  ASSERT_TRUE(Endorse(members_[1], ids.back()).ok());
  h_.Sync();
  auto status = Status();
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_EQ(status->actions().blocked_size(), 1);
  const auto& blockers = status->actions().blocked(0).blockers();
  ASSERT_EQ(blockers.size(), kListLimit);
  EXPECT_EQ(blockers[0].feedback_id(), ids.back());
  EXPECT_EQ(blockers[0].endorsement_count(), 1);
  // Then the oldest unendorsed ones, in order.
  std::sort(ids.begin(), ids.end() - 1);
  for (int n = 1; n < kListLimit; ++n) {
    EXPECT_EQ(blockers[n].feedback_id(), ids[n - 1]) << n;
  }
}

// A rebuild that switches the read models while a report is generated,
// after its figures were read and before it snapshots what is DONE and
// late: the report starts again on the new models. Snapshots of the dropped
// ones would be empty, and the next report would then list every DONE
// action as completed since.
TEST_F(ReportingServiceTest, ARebuildDuringAReportsSnapshotsIsRetried) {
  Complete(NewAction("Centre technique", D(2099, 1, 1)));
  NewAction("Étude", D(2020, 1, 1));  // late already
  h_.Sync();
  int rebuilds = 0;
  h_.service().SetSnapshotHookForTest([&] {
    if (rebuilds++ > 0) return;
    ASSERT_TRUE(h_.models().Rebuild().ok());
    h_.models().WaitForDrop();
  });
  auto first = Generate("2026");
  h_.service().SetSnapshotHookForTest(nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(rebuilds, 2);  // the switched attempt, then the one kept
  // Nothing changed since: the first report's snapshots hold what it saw.
  auto second = Generate("2026");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->changes().completed_count(), 0);
  EXPECT_EQ(second->changes().newly_late_count(), 0);
}

TEST_F(ReportingServiceTest, StatusUpdatesAreAnnouncedOnce) {
  const std::string a = NewAction("Centre technique", D(2099, 1, 1));
  NewAction("Étude", D(2020, 1, 1));  // late already
  Complete(a);
  fpb::FeedbackItem b =
      Submit(members_[0], fpb::FEEDBACK_KIND_BLOCKER, "Foncier");
  Measure(13340, D(2020, 12, 31), true);
  h_.Sync();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h_.service().Tick().ok());
  std::map<reppb::StatusKind, int> kinds;
  for (const auto& u : AllUpdates()) ++kinds[u.kind()];
  EXPECT_EQ(kinds[reppb::STATUS_KIND_ACTION_TRANSITIONED], 4);
  EXPECT_EQ(kinds[reppb::STATUS_KIND_ACTION_LATE], 1);
  EXPECT_EQ(kinds[reppb::STATUS_KIND_INDICATOR_RATING_CHANGED], 1);
  (void)b;
}

// A rating check that read an indicator's measurements just before a new
// one arrived, while that measurement's own check announced RED -> GREEN,
// must not then announce GREEN -> RED from what it had read: it reads the
// announced ratings before the models.
TEST_F(ReportingServiceTest, ARatingCheckBehindANewMeasurementAnnouncesNoStep) {
  Measure(2150, D(2017, 12, 31), true);
  h_.Sync();  // RED announced by the consumer's check
  std::atomic<int> checks{0};
  h_.service().SetCheckHookForTest([&](ReportingService::CheckStage at) {
    if (at != ReportingService::CheckStage::kRatingFirstReads) return;
    if (checks++ > 0) return;  // only the ticker's, which runs first
    Measure(13340, D(2020, 12, 31), true);
    h_.Sync();  // the consumer applies it and announces RED -> GREEN
  });
  ASSERT_TRUE(h_.service().Tick().ok());
  h_.service().SetCheckHookForTest(nullptr);
  EXPECT_GE(checks.load(), 2);
  ASSERT_TRUE(h_.service().Tick().ok());  // nothing more to announce
  EXPECT_EQ(RatingSteps(),
            (std::vector<std::string>{"RATING_NO_DATA -> RATING_RED",
                                      "RATING_RED -> RATING_GREEN"}));
}

// Two checks race, and the one that read the newer models loses the
// compare-and-set to one that read older models: the ticker's check (T)
// read the indicator's measurements, then a verification arrived, and its
// check (N) read everything; T announced from its old view, and N's
// announcement failed. N used to stop there, leaving T's stale rating until
// the next tick; it now checks again.
TEST_F(ReportingServiceTest, ARatingCheckThatLostToAnOlderViewChecksAgain) {
  Measure(2150, D(2017, 12, 31), true);                      // RED
  const std::string green = Record(13340, D(2020, 12, 31));  // once verified
  h_.Sync();                                                 // RED announced
  // As if AMBER had been announced from an even older view: T will have
  // something to announce (AMBER -> RED).
  ASSERT_TRUE(h_.redis()
                  .Command({"HSET", Keys::Ratings(), f_.indicator, "AMBER"})
                  .ok());

  std::mutex mu;
  std::condition_variable cv;
  int calls = 0;
  bool t_done = false;
  h_.service().SetCheckHookForTest([&](ReportingService::CheckStage at) {
    if (at != ReportingService::CheckStage::kRatingBeforeAnnounce) return;
    std::unique_lock<std::mutex> lock(mu);
    const int call = ++calls;
    cv.notify_all();
    // Bounded waits: a test that goes wrong fails, it does not hang.
    if (call == 1) {  // T, unverified read: wait until N has read all
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return calls >= 2; });
    } else if (call == 2) {  // N: let T announce first
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return t_done; });
    }
  });
  std::thread ticker([&] {
    EXPECT_TRUE(h_.service().Tick().ok());
    std::lock_guard<std::mutex> lock(mu);
    t_done = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(10),
                            [&] { return calls >= 1; }));
  }
  Verify(green);
  h_.Sync();  // N, and what it does after losing
  ticker.join();
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_GE(calls, 3);  // T, N, and N again
  }
  h_.service().SetCheckHookForTest(nullptr);

  EXPECT_EQ(Rating(), "GREEN");
  EXPECT_EQ(RatingSteps(),
            (std::vector<std::string>{"RATING_NO_DATA -> RATING_RED",
                                      "RATING_AMBER -> RATING_RED",
                                      "RATING_RED -> RATING_GREEN"}));
}

// A check that finds the rating unchanged still leaves its mark, so an
// older check cannot announce after it: the ticker's check (T) rated GREEN
// from the models it read; meanwhile a RED measurement arrived and its own
// check (N) found RED already announced. T's compare-and-set used to pass
// (RED was still RED) and announce a false RED -> GREEN.
TEST_F(ReportingServiceTest, AnUnchangedRatingStillFencesAnOlderCheck) {
  Measure(13340, D(2020, 12, 31), true);
  const std::string red = Record(2150, D(2021, 12, 31));  // once verified
  h_.Sync();                                              // GREEN announced
  // As if a check of the RED view had already announced it.
  ASSERT_TRUE(
      h_.redis().Command({"HSET", Keys::Ratings(), f_.indicator, "RED"}).ok());
  std::atomic<int> checks{0};
  h_.service().SetCheckHookForTest([&](ReportingService::CheckStage at) {
    if (at != ReportingService::CheckStage::kRatingBeforeAnnounce) return;
    if (checks++ > 0) return;  // only T, which runs first
    Verify(red);
    h_.Sync();  // N: RED, as announced
  });
  ASSERT_TRUE(h_.service().Tick().ok());
  h_.service().SetCheckHookForTest(nullptr);
  EXPECT_GE(checks.load(), 2);
  ASSERT_TRUE(h_.service().Tick().ok());
  EXPECT_EQ(Rating(), "RED");
  EXPECT_EQ(RatingSteps(),
            (std::vector<std::string>{"RATING_NO_DATA -> RATING_GREEN"}));
}

// Two replicas share the consumer group: one may apply an action's second
// event (PROPOSED -> PLANNED) before the other applies its first. The
// status change used to be announced only against a known previous state,
// so it was never announced; it is now, from the event's changed fields.
TEST_F(ReportingServiceTest, AStatusChangeAppliedBeforeItsCreateIsAnnounced) {
  const std::string id = NewAction("Étude", D(2099, 1, 1));
  ASSERT_TRUE(Move(id, rpb::ACTION_STATUS_PLANNED, f_.federation_copilot).ok());
  std::vector<events::v1::Event> mine;
  for (const auto& e : Stream(kRoadmapStream)) {
    events::v1::Event ev;
    ASSERT_TRUE(ev.ParseFromString(e.payload));
    if (ev.aggregate_id() == id) mine.push_back(ev);
  }
  ASSERT_EQ(mine.size(), 2u);
  ASSERT_TRUE(h_.models().Apply(mine[1]).ok());  // PLANNED, v2
  ASSERT_TRUE(h_.models().Apply(mine[0]).ok());  // PROPOSED, v1: older
  h_.Sync();  // both again, through the group: nothing more
  std::vector<std::string> moves;
  for (const auto& u : AllUpdates()) {
    if (u.kind() != reppb::STATUS_KIND_ACTION_TRANSITIONED) continue;
    EXPECT_EQ(u.subject_id(), id);
    moves.push_back(rpb::ActionStatus_Name(u.to_status()));
  }
  EXPECT_EQ(moves, std::vector<std::string>{"ACTION_STATUS_PLANNED"});
}

// The late check reads the due-date index, then each action: an action
// changed in between (its due date moved on) is not announced late from the
// index's stale entry.
TEST_F(ReportingServiceTest, ALateCheckTrustsTheActionOverAStaleIndex) {
  const std::string id = NewAction("Étude", D(2020, 1, 1));  // late
  h_.Sync();
  // As if another replica applied "due 2099" between the index read and
  // the action read: the action moved, its index entry not yet.
  auto keys = h_.models().Current();
  ASSERT_TRUE(keys.ok());
  const std::string key = keys->Entity("action", id);
  auto stored = h_.redis().Command({"HGET", key, "d"});
  ASSERT_TRUE(stored.ok() && !stored->is_nil());
  rpb::Action moved;
  ASSERT_TRUE(moved.ParseFromString(stored->str()));
  *moved.mutable_due_date() = D(2099, 1, 1);
  ASSERT_TRUE(
      h_.redis().Command({"HSET", key, "d", moved.SerializeAsString()}).ok());
  ASSERT_TRUE(h_.service().Tick().ok());
  for (const auto& u : AllUpdates()) {
    EXPECT_NE(u.kind(), reppb::STATUS_KIND_ACTION_LATE) << u.summary();
  }
}

// The late check reads an action, then announces it late: an action that
// closed (or whose due date moved) in between is not announced late from
// what was read.
TEST_F(ReportingServiceTest, AnActionThatClosesDuringTheLateCheckIsNotLate) {
  const std::string id = NewAction("Étude", D(2020, 1, 1));  // late
  h_.Sync();
  std::atomic<int> checks{0};
  h_.service().SetCheckHookForTest([&](ReportingService::CheckStage at) {
    if (at != ReportingService::CheckStage::kLateBeforeAnnounce) return;
    if (checks++ > 0) return;
    EXPECT_TRUE(
        Move(id, rpb::ACTION_STATUS_CANCELLED, f_.federation_copilot, "abandon")
            .ok());
    h_.Sync();
  });
  ASSERT_TRUE(h_.service().Tick().ok());
  h_.service().SetCheckHookForTest(nullptr);
  EXPECT_EQ(checks.load(), 1);
  ASSERT_TRUE(h_.service().Tick().ok());
  for (const auto& u : AllUpdates()) {
    EXPECT_NE(u.kind(), reppb::STATUS_KIND_ACTION_LATE) << u.summary();
  }
  // An action that stays late is announced, once.
  NewAction("Audit", D(2020, 1, 1));
  h_.Sync();
  ASSERT_TRUE(h_.service().Tick().ok());
  ASSERT_TRUE(h_.service().Tick().ok());
  int late = 0;
  for (const auto& u : AllUpdates()) {
    late += u.kind() == reppb::STATUS_KIND_ACTION_LATE;
  }
  EXPECT_EQ(late, 1);
}

// Reads from a WatchStatus stream until `n` updates or the end.
struct Watch {
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReader<reppb::WatchStatusResponse>> reader;
};

Watch OpenWatch(reppb::ReportingService::Stub* stub, const std::string& token,
                const reppb::StatusFilter& filter, const std::string& cursor) {
  Watch w;
  w.ctx = Ctx(token, std::chrono::seconds(60));
  reppb::WatchStatusRequest req;
  *req.mutable_filter() = filter;
  req.set_cursor(cursor);
  w.reader = stub->WatchStatus(w.ctx.get(), req);
  return w;
}

TEST_F(ReportingServiceTest, FeedResumesWithoutGapOrDuplicateAcrossRestart) {
  std::vector<std::string> actions;
  for (int i = 0; i < 4; ++i) {
    actions.push_back(NewAction(absl::StrCat("Action ", i), D(2099, 1, 1)));
  }
  for (const auto& a : actions) {
    ASSERT_TRUE(
        Move(a, rpb::ACTION_STATUS_PLANNED, f_.federation_copilot).ok());
  }
  h_.Sync();
  reppb::StatusFilter filter;
  filter.set_roadmap_id(f_.roadmap);
  std::vector<std::string> seen;
  std::string cursor;
  {
    Watch w = OpenWatch(stub_.get(), f_.reader_token, filter, "0");
    reppb::WatchStatusResponse msg;
    for (int i = 0; i < 2 && w.reader->Read(&msg); ++i) {
      seen.push_back(msg.update().subject_id() + ">" +
                     reppb::StatusKind_Name(msg.update().kind()));
      cursor = msg.update().cursor();
    }
    w.ctx->TryCancel();
  }
  ASSERT_EQ(seen.size(), 2u);
  // More changes, then the reporting service restarts.
  for (const auto& a : actions) {
    ASSERT_TRUE(
        Move(a, rpb::ACTION_STATUS_IN_PROGRESS, f_.federation_copilot).ok());
  }
  h_.Sync();
  ASSERT_TRUE(h_.RestartReporting().ok());
  stub_ = h_.Stub();
  const size_t expected = AllUpdates(filter).size();
  ASSERT_EQ(expected, 8u);
  Watch w = OpenWatch(stub_.get(), f_.reader_token, filter, cursor);
  reppb::WatchStatusResponse msg;
  while (seen.size() < expected && w.reader->Read(&msg)) {
    seen.push_back(msg.update().subject_id() + ">" +
                   reppb::StatusKind_Name(msg.update().kind()));
  }
  w.ctx->TryCancel();
  std::vector<std::string> all;
  for (const auto& u : AllUpdates(filter)) {
    all.push_back(u.subject_id() + ">" + reppb::StatusKind_Name(u.kind()));
  }
  EXPECT_EQ(seen, all);  // every update once, in order

  // Live: a change made while watching arrives. (From the last cursor, not
  // "": the server resolves "now" in its own time, maybe after the change.)
  Watch live = OpenWatch(stub_.get(), f_.reader_token, filter,
                         AllUpdates(filter).back().cursor());
  ASSERT_TRUE(Move(actions[0], rpb::ACTION_STATUS_BLOCKED,
                   f_.federation_copilot, "Foncier")
                  .ok());
  h_.Sync();
  ASSERT_TRUE(live.reader->Read(&msg));
  EXPECT_EQ(msg.update().subject_id(), actions[0]);
  EXPECT_EQ(msg.update().to_status(), rpb::ACTION_STATUS_BLOCKED);
  EXPECT_EQ(msg.update().reason(), "Foncier");
  live.ctx->TryCancel();
}

// A watch "from now on" names its start cursor in its headers, before any
// update: resuming from it after a drop misses nothing made meanwhile.
TEST_F(ReportingServiceTest, AWatchFromNowSendsItsStartCursorFirst) {
  const std::string a =
      NewAction("Plateforme de sous-traitance", D(2099, 1, 1));
  h_.Sync();
  reppb::StatusFilter filter;
  filter.set_roadmap_id(f_.roadmap);
  std::string start;
  {
    Watch w = OpenWatch(stub_.get(), f_.reader_token, filter, "");
    w.reader->WaitForInitialMetadata();  // nothing else comes: no update yet
    const auto& md = w.ctx->GetServerInitialMetadata();
    auto it = md.find(reporting::kWatchCursorHeader);
    ASSERT_NE(it, md.end());
    start = std::string(it->second.data(), it->second.size());
    w.ctx->TryCancel();
  }
  EXPECT_TRUE(std::regex_match(start, std::regex("[0-9]+-[0-9]+"))) << start;
  // Cut off; a change happens; the watch resumes from its start.
  ASSERT_TRUE(Move(a, rpb::ACTION_STATUS_PLANNED, f_.federation_copilot).ok());
  h_.Sync();
  Watch w = OpenWatch(stub_.get(), f_.reader_token, filter, start);
  reppb::WatchStatusResponse msg;
  ASSERT_TRUE(w.reader->Read(&msg));
  EXPECT_EQ(msg.update().subject_id(), a);
  EXPECT_EQ(msg.update().to_status(), rpb::ACTION_STATUS_PLANNED);
  w.ctx->TryCancel();
}

TEST_F(ReportingServiceTest, FeedFiltersByKindRoadmapAndEcosystem) {
  const std::string a = NewAction("Centre technique", D(2099, 1, 1));
  Complete(a);
  Measure(13340, D(2020, 12, 31), true);
  h_.Sync();
  ASSERT_TRUE(Generate("2026").ok());
  reppb::StatusFilter only_reports;
  only_reports.add_kinds(reppb::STATUS_KIND_REPORT_GENERATED);
  Watch w = OpenWatch(stub_.get(), f_.reader_token, only_reports, "0");
  reppb::WatchStatusResponse msg;
  ASSERT_TRUE(w.reader->Read(&msg));
  EXPECT_EQ(msg.update().kind(), reppb::STATUS_KIND_REPORT_GENERATED);
  EXPECT_EQ(msg.update().period(), "2026");
  w.ctx->TryCancel();

  reppb::StatusFilter other_eco;
  other_eco.set_ecosystem_id("01NOSUCHECOSYSTEM");
  EXPECT_TRUE(AllUpdates(other_eco).empty());
  reppb::StatusFilter eco;
  eco.set_ecosystem_id(f_.ecosystem);
  EXPECT_EQ(AllUpdates(eco).size(), 5u);  // 4 transitions + 1 rating
  // A bad filter or cursor names the field.
  reppb::StatusFilter bad;
  bad.add_kinds(static_cast<reppb::StatusKind>(99));
  Watch b = OpenWatch(stub_.get(), f_.reader_token, bad, "0");
  EXPECT_FALSE(b.reader->Read(&msg));
  grpc::Status s = b.reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolationsOf(FromGrpcStatus(s))[0].field, "filter.kinds[0]");
  Watch c = OpenWatch(stub_.get(), f_.reader_token, {}, "not-a-cursor");
  EXPECT_FALSE(c.reader->Read(&msg));
  EXPECT_EQ(c.reader->Finish().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  Watch d = OpenWatch(stub_.get(), "bad-token", {}, "0");
  EXPECT_FALSE(d.reader->Read(&msg));
  EXPECT_EQ(d.reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ReportingServiceTest, CursorsThatCannotResumeAreRefused) {
  // A cursor no Redis id can be: refused at once, not retried forever.
  Watch bad =
      OpenWatch(stub_.get(), f_.reader_token, {}, "99999999999999999999999-0");
  reppb::WatchStatusResponse msg;
  EXPECT_FALSE(bad.reader->Read(&msg));
  EXPECT_EQ(bad.reader->Finish().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Updates trimmed away after a cursor: OUT_OF_RANGE, not a silent gap.
  std::vector<RedisArgs> adds;
  for (int i = 0; i < 50; ++i) {
    reppb::StatusUpdate u;
    u.set_kind(reppb::STATUS_KIND_ACTION_TRANSITIONED);
    u.set_subject_id(absl::StrCat("a", i));
    adds.push_back({"XADD", Keys::Stream(), "*", "e", WrapUpdate(u)});
  }
  ASSERT_TRUE(h_.redis().Pipeline(adds).ok());
  auto all = AllUpdates();
  ASSERT_EQ(all.size(), 50u);
  const std::string old_cursor = all[3].cursor();
  ASSERT_TRUE(
      h_.redis().Command({"XTRIM", Keys::Stream(), "MAXLEN", "10"}).ok());
  Watch expired = OpenWatch(stub_.get(), f_.reader_token, {}, old_cursor);
  EXPECT_FALSE(expired.reader->Read(&msg));
  grpc::Status s = expired.reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(ReasonOf(FromGrpcStatus(s)), "CURSOR_EXPIRED");
  // The oldest retained, and a cursor still in the stream, work.
  Watch from_start = OpenWatch(stub_.get(), f_.reader_token, {}, "0");
  ASSERT_TRUE(from_start.reader->Read(&msg));
  EXPECT_EQ(msg.update().subject_id(), "a40");
  from_start.ctx->TryCancel();
  Watch recent = OpenWatch(stub_.get(), f_.reader_token, {}, all[45].cursor());
  ASSERT_TRUE(recent.reader->Read(&msg));
  EXPECT_EQ(msg.update().subject_id(), "a46");
  recent.ctx->TryCancel();
}

// A cursor past the feed's last update was never given out: the watch
// used to wait on it silently, for updates it would then skip.
TEST_F(ReportingServiceTest, ACursorAheadOfTheFeedIsRefused) {
  // Before the feed holds anything, as after.
  for (int round = 0; round < 2; ++round) {
    auto ahead = h_.service().ResolveCursor(&h_.redis(), "9999999999999-0");
    EXPECT_EQ(ahead.status().code(), absl::StatusCode::kInvalidArgument)
        << ahead.status();
    EXPECT_NE(ahead.status().message().find("cursor"), std::string::npos)
        << ahead.status();
    AddUpdates(3, reppb::STATUS_KIND_ACTION_TRANSITIONED);
  }
  Watch w = OpenWatch(stub_.get(), f_.reader_token, {}, "9999999999999-0");
  reppb::WatchStatusResponse msg;
  EXPECT_FALSE(w.reader->Read(&msg));
  EXPECT_EQ(w.reader->Finish().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // The last update's own cursor is not ahead.
  const std::string last =
      AddUpdates(1, reppb::STATUS_KIND_ACTION_TRANSITIONED);
  auto at_last = h_.service().ResolveCursor(&h_.redis(), last);
  ASSERT_TRUE(at_last.ok()) << at_last.status();
  EXPECT_EQ(*at_last, last);
}

// Redis answering BUSY (a script past busy-reply-threshold) or LOADING is
// storage unavailable, to be retried: not "from the start" for a watch
// from now, not a bad cursor, not an empty feed or list of reports, not an
// unknown feed key (which a feed reader may take as final).
TEST_F(ReportingServiceTest, AReadRedisCannotAnswerIsUnavailable) {
  ASSERT_FALSE(ReportWithALateAction().id().empty());
  const std::string secret = IssueFeedKey().secret();
  ASSERT_FALSE(secret.empty());
  // The feed holds these updates only.
  ASSERT_TRUE(h_.redis().Command({"DEL", Keys::Stream()}).ok());
  const std::string last =
      AddUpdates(3, reppb::STATUS_KIND_ACTION_TRANSITIONED);
  ASSERT_TRUE(
      h_.redis().Command({"CONFIG", "SET", "busy-reply-threshold", "50"}).ok());
  std::thread busy([&] {
    RedisOptions o = h_.roadmap().redis_server().options();
    o.command_timeout = std::chrono::milliseconds(30000);
    RedisClient other(o);
    (void)other.Command({"EVAL", "while true do end", "0"});
  });
  RedisClient conn(h_.roadmap().redis_server().options());
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto r = conn.Command({"PING"});
        return r.ok() && r->is_error() && r->str().rfind("BUSY", 0) == 0;
      },
      std::chrono::milliseconds(10000), std::chrono::milliseconds(20)));
  auto from_now = h_.service().ResolveCursor(&conn, "");
  EXPECT_EQ(from_now.status().code(), absl::StatusCode::kUnavailable)
      << (from_now.ok() ? *from_now : from_now.status().ToString());
  auto from_last = h_.service().ResolveCursor(&conn, last);
  EXPECT_EQ(from_last.status().code(), absl::StatusCode::kUnavailable)
      << (from_last.ok() ? *from_last : from_last.status().ToString());
  std::string cursor = "0-0";
  auto read = h_.service().ReadUpdates(&conn, {}, &cursor, 10,
                                       std::chrono::milliseconds(0));
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable)
      << read.status();
  EXPECT_EQ(cursor, "0-0");
  auto latest = h_.service().LatestUpdates({}, 10);
  EXPECT_EQ(latest.status().code(), absl::StatusCode::kUnavailable)
      << latest.status();
  reppb::ListReportsRequest list;
  list.set_roadmap_id(f_.roadmap);
  reppb::ListReportsResponse reports;
  EXPECT_EQ(h_.service().ListReports(CallContext{}, list, &reports).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(reports.reports_size(), 0);
  EXPECT_EQ(h_.service().FeedKeyBySecret(secret).status().code(),
            absl::StatusCode::kUnavailable);
  httplib::Client http("127.0.0.1", h_.http_port());
  auto atom = http.Get("/feed.atom?key=" + secret);
  ASSERT_TRUE(atom);
  EXPECT_EQ(atom->status, 503) << atom->body;
  EXPECT_EQ(h_.service().Tick().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto r = conn.Command({"SCRIPT", "KILL"});
        return r.ok() && !r->is_error();
      },
      std::chrono::milliseconds(10000), std::chrono::milliseconds(20)));
  busy.join();
  // Answered again: the same calls work.
  auto resolved = h_.service().ResolveCursor(&conn, "");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, last);
  read = h_.service().ReadUpdates(&conn, {}, &cursor, 10,
                                  std::chrono::milliseconds(0));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 3u);
  latest = h_.service().LatestUpdates({}, 10);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->size(), 3u);
  reports.Clear();
  ASSERT_TRUE(h_.service().ListReports(CallContext{}, list, &reports).ok());
  EXPECT_EQ(reports.reports_size(), 1);
  EXPECT_TRUE(h_.service().FeedKeyBySecret(secret).ok());
  atom = http.Get("/feed.atom?key=" + secret);
  ASSERT_TRUE(atom);
  EXPECT_EQ(atom->status, 200);
}

TEST_F(ReportingServiceTest, ATokenRevokedWhileWatchingEndsTheStream) {
  rpb::IssueTokenRequest issue;
  issue.set_principal_name("lecteur temporaire");
  issue.set_organization_id(f_.ministry);
  issue.set_role(Role::ROLE_READER);
  rpb::IssueTokenResponse issued;
  ASSERT_TRUE(
      roadmap_
          ->IssueToken(Ctx(h_.roadmap().admin_token()).get(), issue, &issued)
          .ok());
  Watch w = OpenWatch(stub_.get(), issued.secret(), {}, "");
  // Admitted (its start cursor sent): the revocation comes mid-stream.
  w.reader->WaitForInitialMetadata();
  ASSERT_TRUE(w.ctx->GetServerInitialMetadata().count(kWatchCursorHeader));
  rpb::RevokeTokenRequest revoke;
  revoke.set_id(issued.token().id());
  rpb::RevokeTokenResponse revoked;
  ASSERT_TRUE(
      roadmap_
          ->RevokeToken(Ctx(h_.roadmap().admin_token()).get(), revoke, &revoked)
          .ok());
  const auto start = std::chrono::steady_clock::now();
  reppb::WatchStatusResponse msg;
  EXPECT_FALSE(w.reader->Read(&msg));
  EXPECT_EQ(w.reader->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // About two seconds (the verifier's TTL, a read's block); without the
  // check the stream would run to its 60 s deadline.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

// Noon UTC on y-m-d.
std::chrono::system_clock::time_point Noon(int y, unsigned m, unsigned d) {
  return std::chrono::sys_days{std::chrono::year{y} / m / d} +
         std::chrono::hours(12);
}

// The services' clock, which a test moves on.
FakeClock& MovableClock() {
  static FakeClock* clock = new FakeClock(Noon(2026, 3, 15));
  return *clock;
}

class ScheduleCatchUpTest : public ReportingServiceTest {
 protected:
  ScheduleCatchUpTest() : ReportingServiceTest(Options()) {}
  static testing::ReportingHarnessOptions Options() {
    MovableClock().Set(Noon(2026, 3, 15));
    testing::ReportingHarnessOptions o;
    o.base.clock = &MovableClock();
    return o;
  }
};

// Every replica down from mid-March to June: the next tick generates the
// months that ended meanwhile, in order, then the last one, each once.
TEST_F(ScheduleCatchUpTest, PeriodsMissedWhileNothingRanAreGeneratedInOrder) {
  h_.Sync();
  reppb::SetReportScheduleRequest req = Monthly();
  reppb::SetReportScheduleResponse resp;
  ASSERT_TRUE(SetSchedule(req, &resp).ok());
  ASSERT_TRUE(h_.service().Tick().ok());  // 2026-02, the last complete
  MovableClock().Set(Noon(2026, 6, 10));
  ASSERT_TRUE(h_.service().Tick().ok());
  ASSERT_TRUE(h_.service().Tick().ok());  // nothing more
  reppb::ListReportsRequest list;
  list.set_roadmap_id(f_.roadmap);
  reppb::ListReportsResponse page;
  ASSERT_TRUE(stub_->ListReports(Ctx(f_.member_token).get(), list, &page).ok());
  std::vector<std::string> labels;
  for (const auto& r : page.reports()) {
    labels.push_back(absl::StrCat(r.sequence(), " ", r.period().label()));
    EXPECT_EQ(r.trigger(), reppb::REPORT_TRIGGER_SCHEDULED);
  }
  // Newest first. (The schedule was set on 2026-03-15: February ended
  // before it, and is the last complete month of that day.)
  EXPECT_EQ(labels, (std::vector<std::string>{"4 2026-05", "3 2026-04",
                                              "2 2026-03", "1 2026-02"}));
}

class SlowClientTest : public ReportingServiceTest {
 protected:
  SlowClientTest()
      : ReportingServiceTest({{}, std::chrono::milliseconds(300)}) {}
};

TEST_F(SlowClientTest, SlowClientIsCutOffAndResumesWithoutGap) {
  ASSERT_NO_FATAL_FAILURE(AddLargeUpdates(4000));
  Watch w = OpenWatch(stub_.get(), f_.reader_token, {}, "0");
  reppb::WatchStatusResponse msg;
  ASSERT_TRUE(w.reader->Read(&msg));
  std::vector<std::string> got = {msg.update().subject_id()};
  std::string cursor = msg.update().cursor();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // not reading
  while (w.reader->Read(&msg)) {
    got.push_back(msg.update().subject_id());
    cursor = msg.update().cursor();
  }
  grpc::Status s = w.reader->Finish();
  ASSERT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
  EXPECT_NE(s.error_message().find("resume from cursor"), std::string::npos);
  ASSERT_LT(got.size(), 4000u);  // it was cut off
  // Resuming from the last cursor received continues with the next one. A
  // client that stalls again (a busy machine) is cut again, and resumes
  // again, as the API says.
  // Bounded by progress: each resume must bring something.
  for (size_t before = 0; got.size() < 4000 && got.size() > before;) {
    before = got.size();
    Watch again = OpenWatch(stub_.get(), f_.reader_token, {}, cursor);
    while (got.size() < 4000 && again.reader->Read(&msg)) {
      got.push_back(msg.update().subject_id());
      cursor = msg.update().cursor();
    }
    if (got.size() == 4000) {
      again.ctx->TryCancel();
      break;
    }
    grpc::Status cut = again.reader->Finish();
    ASSERT_EQ(cut.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << cut.error_message();
  }
  ASSERT_EQ(got.size(), 4000u);
  for (int i = 0; i < 4000; ++i) EXPECT_EQ(got[i], absl::StrCat("a", i));
}

class WatchProgressTest : public ReportingServiceTest {
 protected:
  WatchProgressTest() : ReportingServiceTest(Options()) {}
  static testing::ReportingHarnessOptions Options() {
    testing::ReportingHarnessOptions o;
    o.feed_progress_every = std::chrono::milliseconds(200);
    return o;
  }
};

// A watch with a narrow filter used to send nothing while the updates went
// by: its client could only resume from its last update's cursor, which
// the stream's trim reaches after about a million updates, and then got
// CURSOR_EXPIRED though it had missed nothing.
TEST_F(WatchProgressTest, ANarrowWatchLearnsHowFarItReadAndResumesPastATrim) {
  AddUpdates(1, reppb::STATUS_KIND_ACTION_TRANSITIONED);
  reppb::StatusFilter reports;
  reports.add_kinds(reppb::STATUS_KIND_REPORT_GENERATED);
  Watch w = OpenWatch(stub_.get(), f_.reader_token, reports, "");
  w.reader->WaitForInitialMetadata();
  const auto& md = w.ctx->GetServerInitialMetadata();
  auto it = md.find(kWatchCursorHeader);
  ASSERT_NE(it, md.end());
  const std::string start(it->second.data(), it->second.size());
  const std::string last =
      AddUpdates(300, reppb::STATUS_KIND_ACTION_TRANSITIONED);
  std::string cursor = start;
  reppb::WatchStatusResponse msg;
  for (int i = 0; i < 100 && cursor != last; ++i) {
    ASSERT_TRUE(w.reader->Read(&msg));
    EXPECT_FALSE(msg.has_update()) << msg.update().subject_id();
    EXPECT_TRUE(StreamIdLess(cursor, msg.cursor()))
        << cursor << " then " << msg.cursor();
    cursor = msg.cursor();
  }
  EXPECT_EQ(cursor, last);
  w.ctx->TryCancel();
  w.reader->Finish();

  // The stream is trimmed past where the watch started.
  ASSERT_TRUE(
      h_.redis().Command({"XTRIM", Keys::Stream(), "MAXLEN", "1"}).ok());
  Watch from_start = OpenWatch(stub_.get(), f_.reader_token, reports, start);
  while (from_start.reader->Read(&msg)) {
  }
  EXPECT_EQ(from_start.reader->Finish().error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  // From the cursor it was told, it goes on; an update's message carries
  // the update's cursor.
  Watch resumed = OpenWatch(stub_.get(), f_.reader_token, reports, cursor);
  AddUpdates(5, reppb::STATUS_KIND_ACTION_TRANSITIONED);
  const std::string report = AddUpdates(1, reppb::STATUS_KIND_REPORT_GENERATED);
  do {
    ASSERT_TRUE(resumed.reader->Read(&msg));
  } while (!msg.has_update());
  EXPECT_EQ(msg.cursor(), report);
  EXPECT_EQ(msg.update().cursor(), report);
  resumed.ctx->TryCancel();
  resumed.reader->Finish();
}

TEST_F(ReportingServiceTest, AStopDoesNotWaitForASlowWatcher) {
  // To a client that stops reading: the server is left waiting for a
  // write to be taken.
  ASSERT_NO_FATAL_FAILURE(AddLargeUpdates(4000));
  Watch w = OpenWatch(stub_.get(), f_.reader_token, {}, "0");
  reppb::WatchStatusResponse msg;
  ASSERT_TRUE(w.reader->Read(&msg));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // not reading
  // The write timeout and the cut-off grace are 10 s each here; a stop
  // waited for both (20 s), past a pod's termination grace.
  const auto start = std::chrono::steady_clock::now();
  h_.StopReporting();
  // Waiting out the 10 s write timeout or cut-off grace would be over 10 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  while (w.reader->Read(&msg)) {
  }
  grpc::Status s = w.reader->Finish();
  EXPECT_TRUE(s.error_code() == grpc::StatusCode::UNAVAILABLE ||
              s.error_code() == grpc::StatusCode::CANCELLED)
      << s.error_code() << " " << s.error_message();
}

TEST_F(SlowClientTest, AStopDuringTheCutOffGraceDoesNotWaitItOut) {
  ASSERT_NO_FATAL_FAILURE(AddLargeUpdates(4000));
  Watch w = OpenWatch(stub_.get(), f_.reader_token, {}, "0");
  reppb::WatchStatusResponse msg;
  ASSERT_TRUE(w.reader->Read(&msg));
  // Not reading: cut off after 300 ms, the client then has 10 s to take
  // the last message. The stop comes in the middle of those.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const auto start = std::chrono::steady_clock::now();
  h_.StopReporting();
  // Waiting out the 10 s write timeout or cut-off grace would be over 10 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
  while (w.reader->Read(&msg)) {
  }
  (void)w.reader->Finish();
}

std::string Shell(const std::string& cmd, int* code) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *code = pclose(p);
  return out;
}

TEST_F(ReportingServiceTest, AtomFeedIsReadByARealFeedParser) {
  // Markup, and U+FFFF: valid UTF-8 the roadmap service stores, but no
  // character XML 1.0 allows.
  const std::string a =
      NewAction("Centre <technique> & co \xEF\xBF\xBF", D(2099, 1, 1));
  Complete(a);
  h_.Sync();
  auto report = Generate("2026");
  ASSERT_TRUE(report.ok());
  const size_t expected = AllUpdates().size();
  ASSERT_EQ(expected, 5u);  // 4 transitions + the report

  httplib::Client http("127.0.0.1", h_.http_port());
  EXPECT_EQ(http.Get("/feed.atom")->status, 401);  // no credentials
  auto res =
      http.Get("/feed.atom", {{"Authorization", "Bearer " + f_.reader_token}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("application/atom+xml"),
            std::string::npos);
  // A name of its own: runs of this test may share TempDir().
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/jalon-feed-", NewUlid(), ".atom");
  std::ofstream(path) << res->body;
  int code = 0;
  const std::string out = Shell(
      // Debian's python3, where python3-feedparser lives (not a pyenv one).
      "/usr/bin/python3 -c 'import sys, feedparser; d = "
      "feedparser.parse(sys.argv[1]); "
      "print(int(d.bozo), d.version, len(d.entries)); "
      "[print(e.id, e.title) for e in d.entries]' " +
          path + " 2>&1",
      &code);
  std::remove(path.c_str());
  ASSERT_EQ(code, 0) << out
                     << " (python3-feedparser installed? tools/test "
                        "installs it)";
  EXPECT_EQ(out.substr(0, out.find('\n')), absl::StrCat("0 atom10 ", expected))
      << out;
  for (const auto& u : AllUpdates()) {
    EXPECT_NE(out.find("urn:jalon:status:" + u.cursor()), std::string::npos);
  }
  EXPECT_NE(out.find("Centre <technique> & co"), std::string::npos) << out;

  // Filters, then a feed key: issued, used, revoked.
  auto only = http.Get("/feed.atom?kind=report_generated",
                       {{"Authorization", "Bearer " + f_.reader_token}});
  ASSERT_EQ(only->status, 200);
  EXPECT_EQ(only->body.find("action_transitioned"), std::string::npos);
  EXPECT_NE(only->body.find("report_generated"), std::string::npos);
  EXPECT_EQ(http.Get("/feed.atom?kind=bogus",
                     {{"Authorization", "Bearer " + f_.reader_token}})
                ->status,
            400);
  const reppb::IssueFeedKeyResponse key = IssueFeedKey();
  ASSERT_FALSE(key.secret().empty());
  auto keyed = http.Get("/feed.atom?key=" + key.secret());
  ASSERT_EQ(keyed->status, 200);
  EXPECT_NE(keyed->body.find("/reports/" + report->id() + ".html?key="),
            std::string::npos);
  // The key opens the report of its roadmap, read-only.
  EXPECT_EQ(http.Get("/reports/" + report->id() + ".html?key=" + key.secret())
                ->status,
            200);
  // A key of another roadmap is told what a missing report is told: the
  // answers must not reveal which ids are reports.
  reppb::IssueFeedKeyRequest other_req;
  other_req.mutable_feed_key()->mutable_filter()->set_roadmap_id(
      "01OTHERROADMAP000000000000");
  reppb::IssueFeedKeyResponse other;
  ASSERT_TRUE(stub_
                  ->IssueFeedKey(Ctx(h_.roadmap().admin_token()).get(),
                                 other_req, &other)
                  .ok());
  const std::string missing = "01NOSUCHREPORT000000000000";
  auto foreign =
      http.Get("/reports/" + report->id() + ".html?key=" + other.secret());
  auto absent = http.Get("/reports/" + missing + ".html?key=" + other.secret());
  ASSERT_TRUE(foreign && absent);
  EXPECT_EQ(foreign->status, 404);
  EXPECT_EQ(absent->status, 404);
  std::string foreign_body = foreign->body;
  foreign_body.replace(foreign_body.find(report->id()), report->id().size(),
                       missing);
  EXPECT_EQ(foreign_body, absent->body);
  reppb::RevokeFeedKeyRequest rreq;
  rreq.set_id(key.feed_key().id());
  reppb::RevokeFeedKeyResponse rresp;
  ASSERT_TRUE(
      stub_->RevokeFeedKey(Ctx(h_.roadmap().admin_token()).get(), rreq, &rresp)
          .ok());
  EXPECT_EQ(http.Get("/feed.atom?key=" + key.secret())->status, 401);
  // Revoked already (a retry whose first answer was lost): the same key,
  // revoked, as RevokeToken answers.
  reppb::RevokeFeedKeyResponse again;
  grpc::Status retried =
      stub_->RevokeFeedKey(Ctx(h_.roadmap().admin_token()).get(), rreq, &again);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_TRUE(again.feed_key().revoked());
  EXPECT_EQ(again.feed_key().revoke_time().seconds(),
            rresp.feed_key().revoke_time().seconds());
  // Only admins issue keys.
  reppb::IssueFeedKeyRequest ireq;
  ireq.mutable_feed_key()->mutable_filter()->set_roadmap_id(f_.roadmap);
  reppb::IssueFeedKeyResponse denied;
  EXPECT_EQ(stub_->IssueFeedKey(Ctx(f_.federation_copilot).get(), ireq, &denied)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// The HTTP front with requests no one wrote by hand: random paths, query
// parameters and credentials get a 2xx or a 4xx, never a 5xx, and an
// error body stays short.
TEST_F(ReportingServiceTest, RandomHttpRequestsGetClearAnswers) {
  const reppb::Report report = ReportWithALateAction();
  ASSERT_FALSE(report.id().empty());
  const reppb::IssueFeedKeyResponse key = IssueFeedKey();
  ASSERT_FALSE(key.secret().empty());
  const std::vector<std::string> paths = {
      "/feed.atom",
      "/reports/" + report.id() + ".html",
      "/reports/" + report.id() + ".md",
      "/reports/" + report.id() + ".json",
      "/reports/" + report.id() + "/indicators.csv",
      "/reports/" + report.id() + "/nope.csv",
      "/reports/01NOSUCH.html",
      "/reports/" + std::string(3000, 'A') + ".json",
      "/healthz",
      "/",
      "/reports/",
      "/feed.atom/extra"};
  const std::vector<std::string> params = {"kind=action_late",
                                           "kind=bogus",
                                           "kind=",
                                           "kind=ACTION_TRANSITIONED",
                                           "roadmap=" + f_.roadmap,
                                           "roadmap=01NOSUCH",
                                           "ecosystem=%00%ff",
                                           "lang=en",
                                           "lang=xx",
                                           "key=" + key.secret(),
                                           "key=wrong",
                                           "key=",
                                           "cursor=-1",
                                           std::string(2000, 'q') + "=1",
                                           "kind=%E2%80%AE"};
  const std::vector<std::string> credentials = {
      "",
      "Bearer " + f_.reader_token,
      "Bearer " + f_.member_token,
      "Bearer jalon_not_a_token",
      "Basic dXNlcjpwYXNz",
      "Bearer",
      "Bearer " + std::string(3000, 'x')};
  std::mt19937_64 rng(20261127);
  auto pick = [&](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
  };
  httplib::Client http("127.0.0.1", h_.http_port());
  std::map<int, int> codes;
  for (int call = 0; call < 300; ++call) {
    std::string target = pick(paths);
    for (int n = std::uniform_int_distribution<int>(0, 3)(rng); n > 0; --n) {
      target +=
          (target.find('?') == std::string::npos ? "?" : "&") + pick(params);
    }
    httplib::Headers headers;
    if (std::string c = pick(credentials); !c.empty()) {
      headers.insert({"Authorization", c});
    }
    auto res = http.Get(target, headers);
    ASSERT_TRUE(res) << target;
    ++codes[res->status];
    EXPECT_LT(res->status, 500) << target << "\n" << res->body;
    if (res->status >= 400) {
      EXPECT_LT(res->body.size(), 2048u) << target;
    }
  }
  // Both kinds of answer were reached.
  EXPECT_GT(codes[200], 0);
  EXPECT_GT(codes[401] + codes[400] + codes[404], 0);
}

// An update of a kind this build does not know (written by a newer
// replica during a rolling update) is still an entry, named by its number:
// it must not make the whole feed fail.
TEST(RenderAtomTest, AKindThisBuildDoesNotKnowIsNamedByItsNumber) {
  reppb::StatusUpdate u;
  u.set_cursor("1700000000000-0");
  u.set_kind(static_cast<reppb::StatusKind>(42));
  u.set_title("Nouveau genre");
  u.mutable_time()->set_seconds(1700000000);
  reppb::StatusFilter filter;
  filter.add_kinds(static_cast<reppb::StatusKind>(42));
  std::string atom;
  ASSERT_NO_THROW(atom = RenderAtom({u}, filter, "http://x", ""));
  EXPECT_NE(atom.find("term=\"42\""), std::string::npos) << atom;
  EXPECT_NE(atom.find("Nouveau genre"), std::string::npos);
}

// Every route is a GET. A request with a body is answered before the body
// is read: the library would read (and inflate) all of it into memory
// first, with no limit and before credentials: a 1 MB gzip body is 1 GB,
// and the pod's memory limit 256 MiB. Here the body never comes: the
// answer must not wait for it.
TEST_F(ReportingServiceTest, HttpAnswersARequestWithABodyWithoutReadingIt) {
  struct Case {
    std::string request;
    std::string status;
  };
  for (const Case& c : std::vector<Case>{
           {"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\n"
            "Content-Length: 100000000\r\n\r\n",
            "HTTP/1.1 405"},
           {"PUT /feed.atom HTTP/1.1\r\nHost: t\r\n"
            "Transfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 405"},
           {"DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n", "HTTP/1.1 405"},
           {"GET /healthz HTTP/1.1\r\nHost: t\r\n"
            "Content-Length: 100000000\r\n\r\n",
            "HTTP/1.1 413"}}) {
    auto answer =
        testing::RawExchange(h_.http_port(), c.request, 3000, "\r\n\r\n");
    ASSERT_TRUE(answer.ok()) << c.request << answer.status();
    EXPECT_EQ(answer->rfind(c.status, 0), 0u) << *answer;
  }
  // GET and HEAD are served as before.
  httplib::Client http("127.0.0.1", h_.http_port());
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto head = http.Head("/healthz");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
}

// cpp-httplib sets SO_REUSEPORT by default: a second HTTP front on a port
// in use started too, and answered half of the requests.
TEST_F(ReportingServiceTest, AnHttpPortInUseIsAnError) {
  TokenVerifier verifier(&h_.redis(), AuthOptions{});
  reporting::HttpFront second(
      &h_.service(), &verifier,
      reporting::HttpOptions{absl::StrCat("127.0.0.1:", h_.http_port()), "",
                             50});
  const absl::Status s = second.Start();
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
}

TEST_F(ReportingServiceTest, HttpServesExportsAndHealth) {
  Measure(2150, D(2017, 12, 31), true);
  h_.Sync();
  auto report = Generate("2026-11");
  ASSERT_TRUE(report.ok());
  httplib::Client http("127.0.0.1", h_.http_port());
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const httplib::Headers auth = {
      {"Authorization", "Bearer " + f_.member_token}};
  EXPECT_EQ(http.Get("/reports/" + report->id() + ".html")->status, 401);
  auto html = http.Get("/reports/" + report->id() + ".html", auth);
  ASSERT_EQ(html->status, 200);
  EXPECT_NE(html->body.find("<svg"), std::string::npos);
  EXPECT_NE(html->body.find("lang=\"fr\""), std::string::npos);
  // A report never changes: cacheable for good, by the client only.
  EXPECT_EQ(html->get_header_value("Cache-Control"),
            "private, max-age=31536000, immutable");
  EXPECT_FALSE(html->get_header_value("ETag").empty());
  EXPECT_EQ(html->get_header_value("X-Content-Type-Options"), "nosniff");
  // Many byte ranges would be one copy of the page each: refused. One is
  // served.
  httplib::Headers ranges = auth;
  std::string many = "bytes=0-";
  for (int i = 0; i < 200; ++i) many += ",0-";
  ranges.emplace("Range", many);
  auto refused = http.Get("/reports/" + report->id() + ".html", ranges);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 416);
  EXPECT_LT(refused->body.size(), html->body.size());
  httplib::Headers one = auth;
  one.emplace("Range", "bytes=0-99");
  auto part = http.Get("/reports/" + report->id() + ".html", one);
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, html->body.substr(0, 100));
  auto de = http.Get("/reports/" + report->id() + ".html?lang=de", auth);
  ASSERT_TRUE(de);
  EXPECT_EQ(de->status, 400);
  EXPECT_NE(de->body.find("lang: expected fr or en"), std::string::npos)
      << de->body;
  auto en = http.Get("/reports/" + report->id() + ".html?lang=en", auth);
  EXPECT_NE(en->body.find("lang=\"en\""), std::string::npos);
  // The same bytes as the gRPC export.
  reppb::ExportReportRequest ex;
  ex.set_id(report->id());
  ex.set_format(reppb::EXPORT_FORMAT_HTML);
  reppb::ExportReportResponse exr;
  ASSERT_TRUE(stub_->ExportReport(Ctx(f_.member_token).get(), ex, &exr).ok());
  ASSERT_EQ(exr.files_size(), 1);
  EXPECT_EQ(exr.files(0).content(), html->body);
  auto csv = http.Get("/reports/" + report->id() + "/indicators.csv", auth);
  ASSERT_EQ(csv->status, 200);
  EXPECT_NE(csv->body.find(f_.indicator), std::string::npos);
  EXPECT_EQ(http.Get("/reports/" + report->id() + "/nope.csv", auth)->status,
            404);
  auto md = http.Get("/reports/" + report->id() + ".md", auth);
  EXPECT_EQ(md->status, 200);
  auto json = http.Get("/reports/" + report->id() + ".json", auth);
  ASSERT_EQ(json->status, 200);
  EXPECT_NE(json->body.find(report->content_sha256()), std::string::npos);
  EXPECT_EQ(http.Get("/reports/01NOSUCHREPORT.html", auth)->status, 404);
  // The feed is fresh on each read, and takes ids only: a byte that is no
  // UTF-8 would make its XML malformed.
  auto feed = http.Get("/feed.atom?roadmap=" + f_.roadmap, auth);
  ASSERT_TRUE(feed);
  EXPECT_EQ(feed->status, 200);
  EXPECT_EQ(feed->get_header_value("Cache-Control"), "private, no-cache");
  // A feed reader lists it under the roadmap's title; one the models do
  // not know is named by its id.
  EXPECT_NE(feed->body.find(
                "<title>Jalon status — Feuille de route commune IMME</title>"),
            std::string::npos)
      << feed->body.substr(0, 400);
  auto unknown =
      http.Get("/feed.atom?roadmap=01NOSUCHROADMAP00000000000", auth);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 200);
  EXPECT_NE(unknown->body.find(
                "<title>Jalon status — 01NOSUCHROADMAP00000000000</title>"),
            std::string::npos)
      << unknown->body.substr(0, 400);
  auto garbled = http.Get("/feed.atom?roadmap=%FF%3C", auth);
  ASSERT_TRUE(garbled);
  EXPECT_EQ(garbled->status, 400) << garbled->body;
  EXPECT_NE(garbled->body.find("roadmap_id"), std::string::npos)
      << garbled->body;
  // An error quoting what the client sent stays short.
  auto long_id = http.Get("/reports/" + std::string(6000, 'Z') + ".html", auth);
  ASSERT_TRUE(long_id);
  EXPECT_EQ(long_id->status, 404);
  EXPECT_LT(long_id->body.size(), 1200u);
}

}  // namespace
}  // namespace jalon::reporting

namespace jalon::reporting {
namespace {

// Every RPC, called with requests no one wrote by hand (see
// tests/support/random_requests.h): each answer is one a client can act on,
// names the field when the input is bad, and a failed call writes nothing.
// Not RebuildReadModels: it drops the old models in the background after it
// answers, which would change the data under the next call's check.
TEST_F(ReportingServiceTest,
       RandomRequestsGetClearAnswersAndFailuresWriteNothing) {
  const reppb::Report report = ReportWithALateAction();
  ASSERT_FALSE(report.id().empty());
  const reppb::IssueFeedKeyResponse key = IssueFeedKey();
  ASSERT_FALSE(key.secret().empty());

  testing::ProbeOptions o;
  o.service = reppb::ReportingService::service_full_name();
  o.skip = {"RebuildReadModels"};
  o.tokens = {h_.roadmap().admin_token(), f_.federation_copilot,
              f_.ministry_copilot, f_.member_token, f_.reader_token};
  o.known_strings = {f_.roadmap, f_.ecosystem,        report.id(),
                     "2026-Q3",  key.feed_key().id(), "1"};
  o.calls = 400;
  o.seed = 20261127;
  o.vars = {{"$R", f_.roadmap},
            {"$E", f_.ecosystem},
            {"$P", report.id()},
            {"$K", key.feed_key().id()}};
  o.valid_requests = {
      {"GenerateReport", "roadmap_id: '$R' period: '2026-Q4'"},
      {"ExportReport", "id: '$P' format: EXPORT_FORMAT_HTML"},
      {"GetRoadmapStatus", "roadmap_id: '$R'"},
      {"SetReportSchedule",
       "schedule { roadmap_id: '$R' frequency: SCHEDULE_FREQUENCY_MONTHLY }"},
      {"IssueFeedKey",
       "feed_key { filter { roadmap_id: '$R' ecosystem_id: '$E' } "
       "description: 'lecteur' }"},
      {"RevokeFeedKey", "id: '$K'"},
  };
  o.redis = &h_.redis();
  EXPECT_GT(testing::ProbeRandomRequests(h_.channel(), o), 20);
}

// Request bytes that are not a message, WatchStatus's too: gRPC itself
// would answer UNIMPLEMENTED with no message, as if the method did not
// exist.
TEST_F(ReportingServiceTest, RequestBytesThatDoNotParseAreInvalidArgument) {
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          reppb::ReportingService::service_full_name());
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(
      testing::ProbeUnparsableRequests(h_.channel(), service->full_name(),
                                       h_.roadmap().admin_token(), h_.redis()),
      service->method_count());
}

}  // namespace
}  // namespace jalon::reporting
