// End to end with the three binaries as processes on a real redis-server:
// changes made through the roadmap and feedback APIs appear in the
// reporting read models, in the status feed (gRPC stream and Atom over
// HTTP) and in the next report; the feed resumes from a cursor across a
// restart of jalon-reporting with no gap and no duplicate.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <sstream>

#include "jalon/feedback/v1/feedback.grpc.pb.h"
#include "jalon/reporting/v1/reporting.grpc.pb.h"
#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/dates.h"
#include "tests/support/child_process.h"
#include "tests/support/redis_server.h"
#include "tests/support/roadmap_harness.h"
#include "tests/support/wait.h"

#ifndef JALON_REPORTING_BINARY
#error "JALON_REPORTING_BINARY must name the jalon-reporting binary"
#endif

namespace jalon {
namespace {

namespace rpb = ::jalon::roadmap::v1;
namespace fpb = ::jalon::feedback::v1;
namespace reppb = ::jalon::reporting::v1;
using common::v1::Role;
using testing::ChildProcess;
using testing::ReadFile;
using testing::RedisServer;
using testing::WaitFor;

std::unique_ptr<grpc::ClientContext> Ctx(
    const std::string& token,
    std::chrono::seconds deadline = std::chrono::seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  return ctx;
}

std::string Address(int port) { return "127.0.0.1:" + std::to_string(port); }

class ReportingProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RedisServerOptions ro;
    ro.password = "e2e-reporting";
    redis_ = std::make_unique<RedisServer>(ro);
    ASSERT_TRUE(redis_->Start().ok());
    dir_ = redis_->dir();
    std::ofstream(dir_ + "/redis-password") << ro.password << "\n";
    env_ = {{"JALON_REDIS_URL",
             "redis://127.0.0.1:" + std::to_string(redis_->port()) + "/0"},
            {"JALON_REDIS_PASSWORD_FILE", dir_ + "/redis-password"}};
    Launch(&roadmap_process_, "roadmap",
           {JALON_ROADMAP_BINARY,
            "--bootstrap-admin-token-file=" + dir_ + "/admin",
            "--service-token-file=" + dir_ + "/services"},
           &roadmap_port_);
    admin_ = ReadFile(dir_ + "/admin");
    roadmap_ = rpb::RoadmapService::NewStub(grpc::CreateChannel(
        Address(roadmap_port_), grpc::InsecureChannelCredentials()));
    Launch(
        &feedback_process_, "feedback",
        {JALON_FEEDBACK_BINARY, "--roadmap-address=" + Address(roadmap_port_),
         "--roadmap-token-file=" + dir_ + "/services", "--consumer-name=e2e"},
        &feedback_port_);
    feedback_ = fpb::FeedbackService::NewStub(grpc::CreateChannel(
        Address(feedback_port_), grpc::InsecureChannelCredentials()));
    StartReporting();
  }

  // Starts a service on ports the kernel picks (a restart may get other
  // ones); sets *port, and *http_port if given, to where it listens.
  void Launch(ChildProcess* p, const std::string& name,
              std::vector<std::string> argv, int* port,
              int* http_port = nullptr) {
    auto env = env_;
    env["JALON_LISTEN"] = Address(0);
    ASSERT_TRUE(p->Start(argv, env, dir_ + "/" + name + ".log").ok());
    auto ports = p->WaitForListening(std::chrono::seconds(20));
    ASSERT_TRUE(ports.ok()) << ReadFile(dir_ + "/" + name + ".log");
    *port = ports->grpc;
    if (http_port) *http_port = ports->http;
  }

  void StartReporting(bool rebuild = false) {
    reporting_process_ = std::make_unique<ChildProcess>();
    std::vector<std::string> argv = {
        JALON_REPORTING_BINARY,
        "--roadmap-address=" + Address(roadmap_port_),
        "--roadmap-token-file=" + dir_ + "/services",
        "--http-listen=" + Address(0),
        "--tick-interval=200ms",
        "--consumer-name=e2e"};
    if (rebuild) argv.push_back("--rebuild");
    Launch(reporting_process_.get(),
           rebuild ? "reporting-rebuilt" : "reporting", argv, &reporting_port_,
           &http_port_);
    reporting_ = reppb::ReportingService::NewStub(grpc::CreateChannel(
        Address(reporting_port_), grpc::InsecureChannelCredentials()));
  }

  void Stop(ChildProcess* p) {
    p->Signal(SIGTERM);
    auto code = p->Wait(std::chrono::seconds(20));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 0);
  }

  void TearDown() override {
    if (reporting_process_) Stop(reporting_process_.get());
    Stop(&feedback_process_);
    Stop(&roadmap_process_);
  }

  std::string Org(const std::string& name, rpb::OrganizationKind kind) {
    return testing::CreateOrganization(*roadmap_, admin_, name, kind);
  }

  std::string Token(const std::string& org, Role role) {
    return testing::IssueToken(*roadmap_, admin_, org, role);
  }

  void Move(const std::string& id, rpb::ActionStatus target,
            const std::string& token) {
    rpb::TransitionActionRequest req;
    req.set_id(id);
    req.set_target_status(target);
    rpb::TransitionActionResponse resp;
    grpc::Status s = roadmap_->TransitionAction(Ctx(token).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  reppb::ReportContent Status(const std::string& roadmap,
                              const std::string& token) {
    reppb::GetRoadmapStatusRequest req;
    req.set_roadmap_id(roadmap);
    reppb::GetRoadmapStatusResponse resp;
    reporting_->GetRoadmapStatus(Ctx(token).get(), req, &resp);
    return resp.content();
  }

  std::unique_ptr<RedisServer> redis_;
  std::string dir_, admin_;
  std::map<std::string, std::string> env_;
  int roadmap_port_ = 0, feedback_port_ = 0, reporting_port_ = 0,
      http_port_ = 0;
  ChildProcess roadmap_process_, feedback_process_;
  std::unique_ptr<ChildProcess> reporting_process_;
  std::unique_ptr<rpb::RoadmapService::Stub> roadmap_;
  std::unique_ptr<fpb::FeedbackService::Stub> feedback_;
  std::unique_ptr<reppb::ReportingService::Stub> reporting_;
};

int64_t Done(const reppb::ReportContent& c) {
  for (const auto& s : c.actions().by_status()) {
    if (s.status() == rpb::ACTION_STATUS_DONE) return s.count();
  }
  return 0;
}

TEST_F(ReportingProcessTest, ChangesReachModelsFeedAndReports) {
  const std::string fed = Org("FIMME", rpb::ORGANIZATION_KIND_FEDERATION);
  const std::string min =
      Org("Département de l'Industrie", rpb::ORGANIZATION_KIND_MINISTRY);
  const std::string m1 =
      Org("Atlas Câbles", rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
  const std::string fed_copilot = Token(fed, Role::ROLE_COPILOT);
  const std::string min_copilot = Token(min, Role::ROLE_COPILOT);
  const std::string member = Token(m1, Role::ROLE_MEMBER);
  const std::string reader = Token(min, Role::ROLE_READER);

  rpb::CreateRoadmapRequest rr;
  rr.mutable_roadmap()->set_title("Feuille de route IMME");
  *rr.mutable_roadmap()->mutable_start_date() = MakeDate(2016, 5, 2);
  *rr.mutable_roadmap()->mutable_horizon_date() = MakeDate(2030, 12, 31);
  rr.mutable_roadmap()->add_copilot_organization_ids(fed);
  rr.mutable_roadmap()->add_copilot_organization_ids(min);
  rpb::CreateRoadmapResponse roadmap;
  ASSERT_TRUE(roadmap_->CreateRoadmap(Ctx(admin_).get(), rr, &roadmap).ok());
  const std::string rid = roadmap.roadmap().id();
  rpb::CreateEcosystemRequest er;
  er.mutable_ecosystem()->set_roadmap_id(rid);
  er.mutable_ecosystem()->set_name("Travail des métaux");
  rpb::CreateEcosystemResponse eco;
  ASSERT_TRUE(roadmap_->CreateEcosystem(Ctx(admin_).get(), er, &eco).ok());
  rpb::CreateIndicatorRequest ir;
  auto* i = ir.mutable_indicator();
  i->set_roadmap_id(rid);
  i->set_ecosystem_id(eco.ecosystem().id());
  i->set_name("Emplois créés");
  i->set_unit(rpb::INDICATOR_UNIT_JOBS);
  i->set_direction(rpb::INDICATOR_DIRECTION_INCREASE);
  *i->mutable_baseline_date() = MakeDate(2016, 5, 2);
  i->set_target_value(13340);
  *i->mutable_target_date() = MakeDate(2020, 12, 31);
  rpb::CreateIndicatorResponse indicator;
  ASSERT_TRUE(
      roadmap_->CreateIndicator(Ctx(admin_).get(), ir, &indicator).ok());

  auto new_action = [&](const std::string& title) {
    rpb::CreateActionRequest req;
    auto* a = req.mutable_action();
    a->set_roadmap_id(rid);
    a->set_ecosystem_id(eco.ecosystem().id());
    a->set_title(title);
    a->set_lead_organization_id(fed);
    a->set_partner_organization_id(min);
    *a->mutable_due_date() = MakeDate(2099, 1, 1);
    rpb::CreateActionResponse resp;
    EXPECT_TRUE(
        roadmap_->CreateAction(Ctx(fed_copilot).get(), req, &resp).ok());
    return resp.action().id();
  };
  const std::string a1 = new_action("Plateforme de collecte du cuivre");
  const std::string a2 = new_action("Centre technique des métaux");

  // A member's blocker, linked to the first action.
  fpb::SubmitFeedbackRequest sr;
  auto* item = sr.mutable_item();
  item->set_roadmap_id(rid);
  item->set_ecosystem_id(eco.ecosystem().id());
  item->set_kind(fpb::FEEDBACK_KIND_BLOCKER);
  item->set_severity(fpb::SEVERITY_HIGH);
  item->set_title("Dédouanement du cuivre");
  item->set_body("Les délais bloquent la production.");
  fpb::SubmitFeedbackResponse submitted;
  ASSERT_TRUE(
      feedback_->SubmitFeedback(Ctx(member).get(), sr, &submitted).ok());
  const std::string blocker = submitted.item().id();
  fpb::AcknowledgeFeedbackRequest ack;
  ack.set_id(blocker);
  fpb::AcknowledgeFeedbackResponse acked;
  ASSERT_TRUE(
      feedback_->AcknowledgeFeedback(Ctx(min_copilot).get(), ack, &acked).ok());
  fpb::LinkFeedbackRequest link;
  link.set_id(blocker);
  link.add_action_ids(a1);
  fpb::LinkFeedbackResponse linked;
  ASSERT_TRUE(
      feedback_->LinkFeedback(Ctx(min_copilot).get(), link, &linked).ok());

  // Measurements: recorded by the federation, verified by the ministry.
  rpb::RecordMeasurementRequest mr;
  auto* m = mr.mutable_measurement();
  m->set_indicator_id(indicator.indicator().id());
  m->set_value(13500);
  *m->mutable_period_start() = MakeDate(2020, 1, 1);
  *m->mutable_period_end() = MakeDate(2020, 12, 31);
  m->set_source("Déclarations CNSS 2020");
  rpb::RecordMeasurementResponse recorded;
  grpc::Status rs =
      roadmap_->RecordMeasurement(Ctx(fed_copilot).get(), mr, &recorded);
  ASSERT_TRUE(rs.ok()) << rs.error_message();
  rpb::VerifyMeasurementRequest vr;
  vr.set_id(recorded.measurement().id());
  vr.set_approve(true);
  rpb::VerifyMeasurementResponse verified;
  ASSERT_TRUE(
      roadmap_->VerifyMeasurement(Ctx(min_copilot).get(), vr, &verified).ok());

  // The first action completes (co-validated); the loop closes.
  Move(a1, rpb::ACTION_STATUS_PLANNED, fed_copilot);
  Move(a1, rpb::ACTION_STATUS_IN_PROGRESS, fed_copilot);
  Move(a1, rpb::ACTION_STATUS_COMPLETION_REQUESTED, fed_copilot);
  Move(a1, rpb::ACTION_STATUS_DONE, min_copilot);

  ASSERT_TRUE(WaitFor(
      [&] {
        reppb::ReportContent c = Status(rid, reader);
        return Done(c) == 1 && c.feedback().linked_blockers() == 1 &&
               c.ecosystems_size() == 1 &&
               c.ecosystems(0).indicators_size() == 1 &&
               c.ecosystems(0).indicators(0).has_actual_value();
      },
      std::chrono::seconds(20)))
      << ReadFile(dir_ + "/reporting.log");
  reppb::ReportContent now = Status(rid, reader);
  EXPECT_EQ(now.ecosystems(0).indicators(0).rating(), reppb::RATING_GREEN);
  EXPECT_EQ(now.actions().total(), 2);

  // The feed: every kind, in order, from the start.
  const std::vector<reppb::StatusKind> expected_kinds = {
      reppb::STATUS_KIND_INDICATOR_RATING_CHANGED,
      reppb::STATUS_KIND_ACTION_TRANSITIONED,
      reppb::STATUS_KIND_ACTION_TRANSITIONED,
      reppb::STATUS_KIND_ACTION_TRANSITIONED,
      reppb::STATUS_KIND_ACTION_TRANSITIONED,
      reppb::STATUS_KIND_FEEDBACK_ADDRESSED};
  reppb::StatusFilter filter;
  filter.set_roadmap_id(rid);
  std::vector<reppb::StatusUpdate> first;
  {
    auto ctx = Ctx(reader, std::chrono::seconds(30));
    reppb::WatchStatusRequest req;
    *req.mutable_filter() = filter;
    req.set_cursor("0");
    auto reader_stream = reporting_->WatchStatus(ctx.get(), req);
    reppb::WatchStatusResponse msg;
    while (first.size() < expected_kinds.size() && reader_stream->Read(&msg)) {
      first.push_back(msg.update());
    }
    ctx->TryCancel();
  }
  ASSERT_EQ(first.size(), expected_kinds.size());
  std::multiset<int> kinds, want;
  for (const auto& u : first) kinds.insert(u.kind());
  for (auto k : expected_kinds) want.insert(k);
  EXPECT_EQ(kinds, want);

  // A report, then the reporting service restarts.
  reppb::GenerateReportRequest gr;
  gr.set_roadmap_id(rid);
  gr.set_period("2026-Q4");
  reppb::GenerateReportResponse report1;
  ASSERT_TRUE(
      reporting_->GenerateReport(Ctx(fed_copilot).get(), gr, &report1).ok());
  EXPECT_EQ(Done(report1.report().content()), 1);
  const std::string cursor = first.back().cursor();
  Stop(reporting_process_.get());
  Move(a2, rpb::ACTION_STATUS_PLANNED, fed_copilot);  // while it is down
  // Back with --rebuild: the models are recomputed from the streams, and
  // what happened while it was down is still announced, once.
  StartReporting(/*rebuild=*/true);
  EXPECT_NE(
      ReadFile(dir_ + "/reporting-rebuilt.log").find("read_models_rebuilt"),
      std::string::npos);

  // Resume after the last cursor seen: the report, then the transition.
  std::vector<reppb::StatusUpdate> rest;
  {
    auto ctx = Ctx(reader, std::chrono::seconds(30));
    reppb::WatchStatusRequest req;
    *req.mutable_filter() = filter;
    req.set_cursor(cursor);
    auto reader_stream = reporting_->WatchStatus(ctx.get(), req);
    reppb::WatchStatusResponse msg;
    while (rest.size() < 2 && reader_stream->Read(&msg)) {
      rest.push_back(msg.update());
    }
    ctx->TryCancel();
  }
  ASSERT_EQ(rest.size(), 2u) << ReadFile(dir_ + "/reporting-rebuilt.log");
  EXPECT_EQ(rest[0].kind(), reppb::STATUS_KIND_REPORT_GENERATED);
  EXPECT_EQ(rest[0].subject_id(), report1.report().id());
  EXPECT_EQ(rest[1].kind(), reppb::STATUS_KIND_ACTION_TRANSITIONED);
  EXPECT_EQ(rest[1].subject_id(), a2);

  // The next report says what changed.
  Move(a2, rpb::ACTION_STATUS_IN_PROGRESS, fed_copilot);
  Move(a2, rpb::ACTION_STATUS_COMPLETION_REQUESTED, fed_copilot);
  Move(a2, rpb::ACTION_STATUS_DONE, min_copilot);
  ASSERT_TRUE(WaitFor([&] { return Done(Status(rid, reader)) == 2; },
                      std::chrono::seconds(20)));
  reppb::GenerateReportResponse report2;
  ASSERT_TRUE(
      reporting_->GenerateReport(Ctx(min_copilot).get(), gr, &report2).ok());
  ASSERT_EQ(report2.report().changes().completed_actions_size(), 1);
  EXPECT_EQ(report2.report().changes().completed_actions(0).action_id(), a2);
  EXPECT_EQ(report2.report().changes().previous_report_id(),
            report1.report().id());

  // HTTP: health, the Atom feed and the report page.
  httplib::Client http("127.0.0.1", http_port_);
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto atom = http.Get("/feed.atom?roadmap=" + rid,
                       {{"Authorization", "Bearer " + reader}});
  ASSERT_TRUE(atom);
  ASSERT_EQ(atom->status, 200);
  EXPECT_NE(atom->body.find("/reports/" + report2.report().id() + ".html"),
            std::string::npos);
  auto page = http.Get("/reports/" + report2.report().id() + ".html",
                       {{"Authorization", "Bearer " + reader}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<svg"), std::string::npos);
}

}  // namespace
}  // namespace jalon
