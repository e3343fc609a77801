// End to end with both binaries as processes on a real redis-server: a
// member's blocker, raised in an open consultation and endorsed by others,
// is linked to two actions; when both are completed through co-validation
// the item becomes ADDRESSED without anyone touching it. Then the feedback
// service is stopped while more linked actions complete, and catches up
// when it starts again: nothing lost, nothing applied twice.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "jalon/feedback/v1/feedback.grpc.pb.h"
#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/dates.h"
#include "services/common/redis.h"
#include "services/common/stream_consumer.h"
#include "tests/support/child_process.h"
#include "tests/support/raw_requests.h"
#include "tests/support/redis_server.h"
#include "tests/support/roadmap_harness.h"
#include "tests/support/wait.h"

#ifndef JALON_ROADMAP_BINARY
#error "JALON_ROADMAP_BINARY must name the jalon-roadmap binary"
#endif
#ifndef JALON_FEEDBACK_BINARY
#error "JALON_FEEDBACK_BINARY must name the jalon-feedback binary"
#endif

namespace jalon {
namespace {

namespace rpb = ::jalon::roadmap::v1;
namespace fpb = ::jalon::feedback::v1;
using common::v1::Role;
using testing::ChildProcess;
using testing::ReadFile;
using testing::RedisServer;
using testing::WaitFor;

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(10));
  return ctx;
}

class FeedbackProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RedisServerOptions ro;
    ro.password = "e2e-feedback";
    redis_ = std::make_unique<RedisServer>(ro);
    ASSERT_TRUE(redis_->Start().ok());
    dir_ = redis_->dir();
    std::ofstream(dir_ + "/redis-password") << ro.password << "\n";
    env_ = {{"JALON_REDIS_URL",
             "redis://127.0.0.1:" + std::to_string(redis_->port()) + "/0"},
            {"JALON_REDIS_PASSWORD_FILE", dir_ + "/redis-password"}};
    auto env = env_;
    env["JALON_LISTEN"] = "127.0.0.1:0";
    ASSERT_TRUE(roadmap_process_
                    .Start({JALON_ROADMAP_BINARY,
                            "--bootstrap-admin-token-file=" + dir_ + "/admin",
                            "--service-token-file=" + dir_ + "/services"},
                           env, dir_ + "/roadmap.log")
                    .ok());
    auto ports = roadmap_process_.WaitForListening(std::chrono::seconds(20));
    ASSERT_TRUE(ports.ok()) << ReadFile(dir_ + "/roadmap.log");
    roadmap_port_ = ports->grpc;
    admin_ = ReadFile(dir_ + "/admin");
    roadmap_ = rpb::RoadmapService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(roadmap_port_),
                            grpc::InsecureChannelCredentials()));
    StartFeedback();
  }

  void StartFeedback(const std::vector<std::string>& flags = {}) {
    auto env = env_;
    env["JALON_LISTEN"] = "127.0.0.1:0";  // a restart may get another port
    feedback_process_ = std::make_unique<ChildProcess>();
    std::vector<std::string> argv = {
        JALON_FEEDBACK_BINARY,
        "--roadmap-address=127.0.0.1:" + std::to_string(roadmap_port_),
        "--roadmap-token-file=" + dir_ + "/services", "--consumer-name=e2e"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    ASSERT_TRUE(
        feedback_process_->Start(argv, env, dir_ + "/feedback.log").ok());
    auto ports = feedback_process_->WaitForListening(std::chrono::seconds(20));
    ASSERT_TRUE(ports.ok()) << ReadFile(dir_ + "/feedback.log");
    feedback_port_ = ports->grpc;
    feedback_ = fpb::FeedbackService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(feedback_port_),
                            grpc::InsecureChannelCredentials()));
  }

  void StopFeedback() {
    feedback_process_->Signal(SIGTERM);
    auto code = feedback_process_->Wait(std::chrono::seconds(20));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 0);
  }

  std::string Org(const std::string& name, rpb::OrganizationKind kind) {
    return testing::CreateOrganization(*roadmap_, admin_, name, kind);
  }

  std::string Token(const std::string& org, Role role) {
    return testing::IssueToken(*roadmap_, admin_, org, role);
  }

  std::string Action(const std::string& roadmap, const std::string& lead,
                     const std::string& partner, const std::string& token) {
    rpb::CreateActionRequest req;
    auto* a = req.mutable_action();
    a->set_roadmap_id(roadmap);
    a->set_title("Action");
    a->set_lead_organization_id(lead);
    a->set_partner_organization_id(partner);
    *a->mutable_due_date() = MakeDate(2099, 1, 1);
    rpb::CreateActionResponse resp;
    EXPECT_TRUE(roadmap_->CreateAction(Ctx(token).get(), req, &resp).ok());
    return resp.action().id();
  }

  void Complete(const std::string& id, const std::string& requester,
                const std::string& counterpart) {
    for (auto [target, token] :
         std::vector<std::pair<rpb::ActionStatus, std::string>>{
             {rpb::ACTION_STATUS_PLANNED, requester},
             {rpb::ACTION_STATUS_IN_PROGRESS, requester},
             {rpb::ACTION_STATUS_COMPLETION_REQUESTED, requester},
             {rpb::ACTION_STATUS_DONE, counterpart}}) {
      rpb::TransitionActionRequest req;
      req.set_id(id);
      req.set_target_status(target);
      rpb::TransitionActionResponse resp;
      grpc::Status s = roadmap_->TransitionAction(Ctx(token).get(), req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  fpb::FeedbackItem Item(const std::string& id, const std::string& token) {
    fpb::GetFeedbackRequest req;
    req.set_id(id);
    fpb::GetFeedbackResponse resp;
    feedback_->GetFeedback(Ctx(token).get(), req, &resp);
    return resp.item();
  }

  std::unique_ptr<RedisServer> redis_;
  std::string dir_, admin_;
  std::map<std::string, std::string> env_;
  int roadmap_port_ = 0, feedback_port_ = 0;
  ChildProcess roadmap_process_;
  std::unique_ptr<ChildProcess> feedback_process_;
  std::unique_ptr<rpb::RoadmapService::Stub> roadmap_;
  std::unique_ptr<fpb::FeedbackService::Stub> feedback_;
};

TEST_F(FeedbackProcessTest, TheLoopClosesAcrossServicesAndAfterARestart) {
  std::string fed = Org("FIMME", rpb::ORGANIZATION_KIND_FEDERATION);
  std::string min =
      Org("Département de l'Industrie", rpb::ORGANIZATION_KIND_MINISTRY);
  std::string m1 = Org("Atlas Câbles", rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
  std::string m2 = Org("Maroc Vélo", rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
  std::string m3 = Org("Cuivre du Sud", rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
  std::string fed_copilot = Token(fed, Role::ROLE_COPILOT);
  std::string min_copilot = Token(min, Role::ROLE_COPILOT);
  std::string member1 = Token(m1, Role::ROLE_MEMBER);
  std::string member2 = Token(m2, Role::ROLE_MEMBER);
  std::string member3 = Token(m3, Role::ROLE_MEMBER);

  rpb::CreateRoadmapRequest rr;
  rr.mutable_roadmap()->set_title("Feuille de route IMME");
  *rr.mutable_roadmap()->mutable_start_date() = MakeDate(2016, 5, 2);
  *rr.mutable_roadmap()->mutable_horizon_date() = MakeDate(2030, 12, 31);
  rr.mutable_roadmap()->add_copilot_organization_ids(fed);
  rr.mutable_roadmap()->add_copilot_organization_ids(min);
  rpb::CreateRoadmapResponse roadmap;
  ASSERT_TRUE(roadmap_->CreateRoadmap(Ctx(admin_).get(), rr, &roadmap).ok());
  const std::string rid = roadmap.roadmap().id();

  fpb::CreateConsultationRequest cr;
  auto* c = cr.mutable_consultation();
  c->set_roadmap_id(rid);
  c->set_title("Rencontre FIMME, Casablanca, 11 juillet");
  *c->mutable_open_time() =
      ToTimestamp(std::chrono::system_clock::now() - std::chrono::hours(1));
  *c->mutable_close_time() =
      ToTimestamp(std::chrono::system_clock::now() + std::chrono::hours(1));
  fpb::CreateConsultationResponse consultation;
  ASSERT_TRUE(
      feedback_->CreateConsultation(Ctx(fed_copilot).get(), cr, &consultation)
          .ok());

  auto submit = [&](const std::string& title) {
    fpb::SubmitFeedbackRequest req;
    auto* i = req.mutable_item();
    i->set_roadmap_id(rid);
    i->set_kind(fpb::FEEDBACK_KIND_BLOCKER);
    i->set_severity(fpb::SEVERITY_HIGH);
    i->set_title(title);
    i->set_body("Les délais de dédouanement bloquent la production.");
    i->set_consultation_id(consultation.consultation().id());
    fpb::SubmitFeedbackResponse resp;
    grpc::Status s = feedback_->SubmitFeedback(Ctx(member1).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.item().id();
  };
  auto ack_and_link = [&](const std::string& id,
                          const std::vector<std::string>& actions) {
    fpb::AcknowledgeFeedbackRequest ack;
    ack.set_id(id);
    fpb::AcknowledgeFeedbackResponse acked;
    ASSERT_TRUE(
        feedback_->AcknowledgeFeedback(Ctx(min_copilot).get(), ack, &acked)
            .ok());
    fpb::LinkFeedbackRequest link;
    link.set_id(id);
    for (const auto& a : actions) link.add_action_ids(a);
    fpb::LinkFeedbackResponse linked;
    grpc::Status s =
        feedback_->LinkFeedback(Ctx(min_copilot).get(), link, &linked);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(linked.item().status(), fpb::FEEDBACK_STATUS_LINKED);
  };

  const std::string blocker = submit("Dédouanement du cuivre");
  for (const auto& m : {member2, member3}) {
    fpb::EndorseFeedbackRequest req;
    req.set_feedback_id(blocker);
    fpb::EndorseFeedbackResponse resp;
    ASSERT_TRUE(feedback_->EndorseFeedback(Ctx(m).get(), req, &resp).ok());
  }
  EXPECT_EQ(Item(blocker, member1).endorsement_count(), 2);
  std::string a1 = Action(rid, fed, min, fed_copilot);
  std::string a2 = Action(rid, min, fed, min_copilot);
  ack_and_link(blocker, {a1, a2});
  Complete(a1, fed_copilot, min_copilot);
  Complete(a2, min_copilot, fed_copilot);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Item(blocker, member1).status() ==
               fpb::FEEDBACK_STATUS_ADDRESSED;
      },
      std::chrono::seconds(15)))
      << ReadFile(dir_ + "/feedback.log");

  // The feedback service goes away while more linked actions complete.
  const std::string second = submit("Accès au foncier industriel");
  std::string a3 = Action(rid, fed, min, fed_copilot);
  std::string a4 = Action(rid, fed, min, fed_copilot);
  ack_and_link(second, {a3, a4});
  StopFeedback();
  Complete(a3, fed_copilot, min_copilot);
  Complete(a4, fed_copilot, min_copilot);
  StartFeedback();
  EXPECT_TRUE(WaitFor(
      [&] {
        return Item(second, member1).status() == fpb::FEEDBACK_STATUS_ADDRESSED;
      },
      std::chrono::seconds(15)))
      << ReadFile(dir_ + "/feedback.log");

  // An event the consumer gave up on (five failed deliveries: moved to the
  // dead-letter stream and acknowledged) is applied by a start with
  // --redrive-dead-letters, and the loop still closes.
  const std::string third = submit("Coût de l'énergie");
  std::string a5 = Action(rid, fed, min, fed_copilot);
  ack_and_link(third, {a5});
  for (auto target :
       {rpb::ACTION_STATUS_PLANNED, rpb::ACTION_STATUS_IN_PROGRESS,
        rpb::ACTION_STATUS_COMPLETION_REQUESTED}) {
    rpb::TransitionActionRequest req;
    req.set_id(a5);
    req.set_target_status(target);
    rpb::TransitionActionResponse resp;
    ASSERT_TRUE(
        roadmap_->TransitionAction(Ctx(fed_copilot).get(), req, &resp).ok());
  }
  RedisClient redis(redis_->options());
  const std::string events = "jalon:roadmap:events";
  auto consumed_all = [&] {
    auto last = redis.Command({"XREVRANGE", events, "+", "-", "COUNT", "1"});
    auto groups = redis.Command({"XINFO", "GROUPS", events});
    if (!last.ok() || !groups.ok() || last->elements().empty()) return false;
    for (const auto& g : groups->elements()) {
      if (g.Field("name")->str() == "feedback") {
        return g.Field("pending")->integer() == 0 &&
               g.Field("last-delivered-id")->str() ==
                   last->elements()[0].elements()[0].str();
      }
    }
    return false;
  };
  ASSERT_TRUE(WaitFor(consumed_all, std::chrono::seconds(15)));
  StopFeedback();
  {
    rpb::TransitionActionRequest req;
    req.set_id(a5);
    req.set_target_status(rpb::ACTION_STATUS_DONE);
    rpb::TransitionActionResponse resp;
    ASSERT_TRUE(
        roadmap_->TransitionAction(Ctx(min_copilot).get(), req, &resp).ok());
  }
  auto done = redis.Command({"XREADGROUP", "GROUP", "feedback", "gave-up",
                             "COUNT", "10", "STREAMS", events, ">"});
  ASSERT_TRUE(done.ok() && done->is_array());
  auto entries = ParseStreamEntries(done->elements()[0].elements()[1]);
  ASSERT_EQ(entries.size(), 1u);  // the DONE transition
  ASSERT_TRUE(redis
                  .Command({"XADD", "jalon:feedback:dead:roadmap_events", "*",
                            "e", entries[0].payload, "source_id", entries[0].id,
                            "group", "feedback", "deliveries", "6"})
                  .ok());
  ASSERT_TRUE(redis.Command({"XACK", events, "feedback", entries[0].id}).ok());
  StartFeedback();  // nothing to deliver: the item waits
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(Item(third, member1).status(), fpb::FEEDBACK_STATUS_LINKED);
  StopFeedback();
  StartFeedback({"--redrive-dead-letters"});
  EXPECT_TRUE(WaitFor(
      [&] {
        return Item(third, member1).status() == fpb::FEEDBACK_STATUS_ADDRESSED;
      },
      std::chrono::seconds(15)))
      << ReadFile(dir_ + "/feedback.log");
  EXPECT_EQ(
      redis.Command({"XLEN", "jalon:feedback:dead:roadmap_events"})->integer(),
      0);

  // Applied once each: one automatic change per item in its history.
  for (const auto& id : {blocker, second, third}) {
    fpb::ListFeedbackHistoryRequest req;
    req.set_feedback_id(id);
    fpb::ListFeedbackHistoryResponse history;
    ASSERT_TRUE(
        feedback_->ListFeedbackHistory(Ctx(member1).get(), req, &history).ok());
    int automatic = 0;
    for (const auto& e : history.entries()) {
      automatic += e.event_type() == "feedback.item.addressed";
    }
    EXPECT_EQ(automatic, 1) << id;
  }
  StopFeedback();
  roadmap_process_.Signal(SIGTERM);
  auto code = roadmap_process_.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

// What a hostile or broken client can send, and gRPC's own client would
// not: header values with bytes other than visible ASCII. The services
// used to send such an x-request-id back, and feedback such a token on to
// roadmap, where gRPC aborts the process: any client, without a token,
// stopped a replica with one request.
TEST_F(FeedbackProcessTest, HeadersNoHeaderMayHoldStopNoService) {
  const std::string accented = "caf\xc3\xa9";
  const std::string control = "id\x01";
  struct Probe {
    int port;
    std::string path;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  const std::string roadmap_path =
      "/jalon.roadmap.v1.RoadmapService/ListRoadmaps";
  const std::string feedback_path =
      "/jalon.feedback.v1.FeedbackService/ListFeedback";
  for (const Probe& p : std::vector<Probe>{
           {roadmap_port_, roadmap_path, {{"x-request-id", accented}}},
           {roadmap_port_,
            roadmap_path,
            {{"x-request-id", control}, {"authorization", "Bearer " + admin_}}},
           {feedback_port_, feedback_path, {{"x-request-id", accented}}},
           {feedback_port_,
            feedback_path,
            {{"authorization", "Bearer jalon_" + accented}}},
           {feedback_port_,
            feedback_path,
            {{"authorization", "Bearer jalon_" + control}}}}) {
    auto answer = testing::RawGrpcCall(p.port, p.path, p.headers);
    EXPECT_TRUE(answer.ok())
        << p.path << " " << p.headers[0].second << ": " << answer.status();
  }
  // Both still serve.
  rpb::ListRoadmapsRequest roadmaps;
  rpb::ListRoadmapsResponse listed;
  grpc::Status s = roadmap_->ListRoadmaps(Ctx(admin_).get(), roadmaps, &listed);
  EXPECT_TRUE(s.ok()) << s.error_message() << ReadFile(dir_ + "/roadmap.log");
  fpb::ListFeedbackRequest items;
  fpb::ListFeedbackResponse found;
  s = feedback_->ListFeedback(Ctx(admin_).get(), items, &found);
  EXPECT_TRUE(s.ok()) << s.error_message() << ReadFile(dir_ + "/feedback.log");
  // A usable request id still comes back as sent.
  auto ctx = Ctx(admin_);
  ctx->AddMetadata("x-request-id", "e2e-req.42:a");
  s = feedback_->ListFeedback(ctx.get(), items, &found);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto echoed = ctx->GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(echoed, ctx->GetServerInitialMetadata().end());
  EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()),
            "e2e-req.42:a");
}

}  // namespace
}  // namespace jalon
