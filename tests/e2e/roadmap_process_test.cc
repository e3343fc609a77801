// End to end: the jalon-roadmap binary started as a process against a real
// redis-server with a password, called over real gRPC on loopback. Covers
// the bootstrap token file, health, reflection, and a SIGTERM that arrives
// while calls are in flight: they finish, then the process exits cleanly.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/redis.h"
#include "tests/support/child_process.h"
#include "tests/support/redis_server.h"
#include "tests/support/roadmap_harness.h"
#include "tests/support/wait.h"

#ifndef JALON_ROADMAP_BINARY
#error "JALON_ROADMAP_BINARY must name the jalon-roadmap binary"
#endif

namespace jalon {
namespace {

namespace rpb = ::jalon::roadmap::v1;
using testing::ChildProcess;
using testing::ReadFile;
using testing::RedisServer;

class RoadmapProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RedisServerOptions ro;
    ro.password = "e2e-" + std::to_string(getpid());
    redis_ = std::make_unique<RedisServer>(ro);
    ASSERT_TRUE(redis_->Start().ok());
    dir_ = redis_->dir();
    password_file_ = dir_ + "/redis-password";
    std::ofstream(password_file_) << ro.password << "\n";
    token_file_ = dir_ + "/admin-token";
  }

  // Starts the binary; returns its gRPC target.
  std::string StartService(ChildProcess& p, const std::string& token_file,
                           const std::string& log,
                           const std::vector<std::string>& flags = {}) {
    Launch(p, token_file, log, flags);
    return Listening(p, log);
  }

  // Starts the binary without waiting for it.
  void Launch(ChildProcess& p, const std::string& token_file,
              const std::string& log,
              const std::vector<std::string>& flags = {}) {
    std::map<std::string, std::string> env = {
        {"JALON_LISTEN", "127.0.0.1:0"},
        {"JALON_REDIS_URL",
         "redis://127.0.0.1:" + std::to_string(redis_->port()) + "/0"},
        {"JALON_REDIS_PASSWORD_FILE", password_file_},
        {"JALON_LOG_LEVEL", "info"},
    };
    std::vector<std::string> argv = {
        JALON_ROADMAP_BINARY, "--bootstrap-admin-token-file=" + token_file,
        "--grace-period=10s"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    EXPECT_TRUE(p.Start(argv, env, dir_ + "/" + log).ok());
  }

  // Waits until a launched binary serves; its gRPC target.
  std::string Listening(ChildProcess& p, const std::string& log) {
    auto ports = p.WaitForListening(std::chrono::seconds(20));
    EXPECT_TRUE(ports.ok()) << ports.status() << "\n"
                            << ReadFile(dir_ + "/" + log);
    return "127.0.0.1:" + std::to_string(ports.ok() ? ports->grpc : 0);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::seconds(10));
    return ctx;
  }

  std::unique_ptr<RedisServer> redis_;
  std::string dir_, password_file_, token_file_;
};

TEST_F(RoadmapProcessTest, ServesHealthReflectionAndTheApi) {
  ChildProcess service;
  std::string target = StartService(service, token_file_, "roadmap.log");
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());

  // The bootstrap wrote an admin token readable by its owner only.
  struct stat st;
  ASSERT_EQ(stat(token_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string admin = ReadFile(token_file_);
  ASSERT_EQ(admin.rfind("jalon_", 0), 0u);
  // ...and the token appears in no log line.
  EXPECT_EQ(ReadFile(dir_ + "/roadmap.log").find(admin), std::string::npos);

  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest hreq;
  hreq.set_service("jalon.roadmap.v1.RoadmapService");
  grpc::health::v1::HealthCheckResponse hresp;
  grpc::ClientContext hctx;
  ASSERT_TRUE(health->Check(&hctx, hreq, &hresp).ok());
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // Reflection lists the service (what grpcurl and friends rely on).
  auto reflection =
      grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext rctx;
  auto stream = reflection->ServerReflectionInfo(&rctx);
  grpc::reflection::v1alpha::ServerReflectionRequest rreq;
  rreq.set_list_services("*");
  ASSERT_TRUE(stream->Write(rreq));
  grpc::reflection::v1alpha::ServerReflectionResponse rresp;
  ASSERT_TRUE(stream->Read(&rresp));
  stream->WritesDone();
  std::set<std::string> services;
  for (const auto& s : rresp.list_services_response().service()) {
    services.insert(s.name());
  }
  EXPECT_TRUE(services.count("jalon.roadmap.v1.RoadmapService"));
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));
  EXPECT_TRUE(stream->Finish().ok());

  auto stub = rpb::RoadmapService::NewStub(channel);
  rpb::CreateOrganizationRequest creq;
  creq.mutable_organization()->set_name("Ministère de l'Industrie");
  creq.mutable_organization()->set_kind(rpb::ORGANIZATION_KIND_MINISTRY);
  rpb::CreateOrganizationResponse cresp;
  ASSERT_TRUE(stub->CreateOrganization(Ctx(admin).get(), creq, &cresp).ok());
  rpb::GetOrganizationRequest greq;
  greq.set_id(cresp.organization().id());
  rpb::GetOrganizationResponse gresp;
  ASSERT_TRUE(stub->GetOrganization(Ctx(admin).get(), greq, &gresp).ok());
  EXPECT_EQ(gresp.organization().name(), "Ministère de l'Industrie");
  rpb::GetOrganizationResponse denied;
  EXPECT_EQ(stub->GetOrganization(Ctx("jalon_wrong").get(), greq, &denied)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // A second replica with the bootstrap flag finds the admin and creates
  // no other.
  ChildProcess second;
  std::string second_file = dir_ + "/second-token";
  StartService(second, second_file, "second.log");
  EXPECT_NE(stat(second_file.c_str(), &st), 0);
  second.Signal(SIGTERM);
  auto code = second.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);

  service.Signal(SIGTERM);
  code = service.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

// A roadmap from before CreateRoadmap wrote its co-pilot set (simulated by
// deleting the set) gets it when the service starts, in the background, so
// actions can be created in it again; the start logs how many it wrote.
TEST_F(RoadmapProcessTest, StartIndexesTheCopilotsOfOlderRoadmaps) {
  ChildProcess first;
  std::string target = StartService(first, token_file_, "first.log");
  const std::string admin = ReadFile(token_file_);
  auto stub = rpb::RoadmapService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  const std::string federation = testing::CreateOrganization(
      *stub, admin, "FIMME", rpb::ORGANIZATION_KIND_FEDERATION);
  const std::string ministry =
      testing::CreateOrganization(*stub, admin, "Département de l'Industrie",
                                  rpb::ORGANIZATION_KIND_MINISTRY);
  rpb::CreateRoadmapRequest rreq;
  rreq.mutable_roadmap()->set_title("Feuille de route commune");
  *rreq.mutable_roadmap()->mutable_start_date() = testing::D(2024, 7, 11);
  *rreq.mutable_roadmap()->mutable_horizon_date() = testing::D(2030, 12, 31);
  rreq.mutable_roadmap()->add_copilot_organization_ids(federation);
  rreq.mutable_roadmap()->add_copilot_organization_ids(ministry);
  rpb::CreateRoadmapResponse roadmap;
  ASSERT_TRUE(stub->CreateRoadmap(Ctx(admin).get(), rreq, &roadmap).ok());
  first.Signal(SIGTERM);
  ASSERT_TRUE(first.Wait(std::chrono::seconds(20)).ok());

  RedisClient redis(redis_->options());
  const std::string copilots =
      "jalon:roadmap:roadmap_copilots:" + roadmap.roadmap().id();
  auto deleted = redis.Command({"DEL", copilots});
  ASSERT_TRUE(deleted.ok());
  ASSERT_EQ(deleted->integer(), 1);

  ChildProcess second;
  target = StartService(second, token_file_, "second.log");
  stub = rpb::RoadmapService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  rpb::CreateActionRequest areq;
  areq.mutable_action()->set_roadmap_id(roadmap.roadmap().id());
  areq.mutable_action()->set_title("Plateforme de sous-traitance");
  areq.mutable_action()->set_lead_organization_id(federation);
  areq.mutable_action()->set_partner_organization_id(ministry);
  *areq.mutable_action()->mutable_due_date() = testing::D(2027, 12, 31);
  grpc::Status status;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        rpb::CreateActionResponse created;
        status = stub->CreateAction(Ctx(admin).get(), areq, &created);
        return status.ok();
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)))
      << status.error_message();
  EXPECT_NE(ReadFile(dir_ + "/second.log")
                .find("msg=roadmap_copilots_indexed roadmaps=1"),
            std::string::npos);
  auto members = redis.Command({"ZCARD", copilots});
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->integer(), 2);
  second.Signal(SIGTERM);
  auto code = second.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

// The first admin's secret lost after its commit (docs/deploy.md: the
// bootstrap Job's pod went away before it stored the Secret): a restart
// finds the admin and issues none. The documented recovery, deleting the
// admin index with Redis' own admin, lets the bootstrap issue a new admin,
// which lists and revokes the orphan.
TEST_F(RoadmapProcessTest, ALostFirstAdminSecretIsRecoveredAsDocumented) {
  auto run = [&](const std::string& log) {
    ChildProcess p;
    StartService(p, token_file_, log);
    p.Signal(SIGTERM);
    auto code = p.Wait(std::chrono::seconds(20));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 0);
  };
  run("first.log");
  const std::string lost = ReadFile(token_file_);
  ASSERT_FALSE(lost.empty());
  std::remove(token_file_.c_str());
  run("again.log");
  struct stat st;
  EXPECT_NE(stat(token_file_.c_str(), &st), 0) << "an admin exists: no new one";

  RedisClient redis(redis_->options());
  auto del = redis.Command({"DEL", "jalon:roadmap:admin_tokens"});
  ASSERT_TRUE(del.ok() && del->integer() == 1)
      << "the key docs/deploy.md names";

  ChildProcess service;
  const std::string target = StartService(service, token_file_, "recover.log");
  const std::string admin = ReadFile(token_file_);
  ASSERT_FALSE(admin.empty());
  EXPECT_NE(admin, lost);
  auto stub = rpb::RoadmapService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  rpb::GetCurrentPrincipalResponse me;
  ASSERT_TRUE(stub->GetCurrentPrincipal(Ctx(admin).get(), {}, &me).ok());
  rpb::ListTokensResponse tokens;
  ASSERT_TRUE(stub->ListTokens(Ctx(admin).get(), {}, &tokens).ok());
  int admins = 0;
  for (const auto& t : tokens.tokens()) {
    if (t.role() != common::v1::ROLE_ADMIN) continue;
    ++admins;
    if (t.id() == me.principal().principal_id()) continue;
    rpb::RevokeTokenRequest revoke;
    revoke.set_id(t.id());
    revoke.set_etag(t.etag());
    rpb::RevokeTokenResponse revoked;
    EXPECT_TRUE(stub->RevokeToken(Ctx(admin).get(), revoke, &revoked).ok());
  }
  EXPECT_EQ(admins, 2);
  rpb::ListTokensResponse after;
  EXPECT_EQ(stub->ListTokens(Ctx(lost).get(), {}, &after).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  service.Signal(SIGTERM);
  auto code = service.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

// One structured line per call (time, level, service, rpc, request id,
// principal, outcome), at the level its outcome deserves, and no secret in
// any line: not the bearer tokens (good or bad), not Redis' password.
TEST_F(RoadmapProcessTest, EveryCallLogsOneLineWithoutSecrets) {
  ChildProcess service;
  std::string target =
      StartService(service, token_file_, "calls.log", {"--log-level=debug"});
  const std::string admin = ReadFile(token_file_);
  auto stub = rpb::RoadmapService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  rpb::GetCurrentPrincipalResponse who;
  auto call = [&](const std::string& token, const std::string& request_id) {
    auto ctx = Ctx(token);
    ctx->AddMetadata("x-request-id", request_id);
    return stub->GetCurrentPrincipal(ctx.get(), {}, &who);
  };
  rpb::IssueTokenRequest issue;
  issue.set_principal_name("k.alaoui");
  issue.set_organization_id([&] {
    rpb::ListOrganizationsResponse orgs;
    EXPECT_TRUE(stub->ListOrganizations(Ctx(admin).get(), {}, &orgs).ok());
    return orgs.organizations_size() > 0 ? orgs.organizations(0).id()
                                         : std::string();
  }());
  issue.set_role(common::v1::Role::ROLE_READER);
  rpb::IssueTokenResponse issued;
  ASSERT_TRUE(stub->IssueToken(Ctx(admin).get(), issue, &issued).ok());
  const std::string wrong = "jalon_" + std::string(43, 'Q');
  ASSERT_TRUE(call(issued.secret(), "log-check-ok").ok());
  const std::string principal_id = who.principal().principal_id();
  ASSERT_FALSE(principal_id.empty());
  ASSERT_EQ(call(wrong, "log-check-refused").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  service.Signal(SIGTERM);
  auto code = service.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());

  const std::string log = ReadFile(dir_ + "/calls.log");
  auto line_of = [&](const std::string& request_id) {
    std::istringstream in(log);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) {
      if (l.find("request_id=" + request_id) != std::string::npos) {
        lines.push_back(l);
      }
    }
    EXPECT_EQ(lines.size(), 1u) << request_id << "\n" << log;
    return lines.empty() ? std::string() : lines[0];
  };
  const std::string ok = line_of("log-check-ok");
  EXPECT_NE(ok.find("level=debug service=roadmap rpc=GetCurrentPrincipal"),
            std::string::npos)
      << ok;
  EXPECT_NE(ok.find("principal=" + principal_id), std::string::npos) << ok;
  EXPECT_NE(ok.find("code=OK"), std::string::npos) << ok;
  EXPECT_EQ(ok.find("Z level="), 23u) << "an ISO-8601 UTC time first: " << ok;
  const std::string refused = line_of("log-check-refused");
  EXPECT_NE(refused.find("level=info"), std::string::npos) << refused;
  EXPECT_NE(refused.find("code=UNAUTHENTICATED"), std::string::npos) << refused;
  for (const std::string& secret :
       {admin, issued.secret(), wrong, ReadFile(password_file_)}) {
    std::string bare = secret;
    while (!bare.empty() && (bare.back() == '\n' || bare.back() == ' ')) {
      bare.pop_back();
    }
    ASSERT_FALSE(bare.empty());
    EXPECT_EQ(log.find(bare), std::string::npos) << "a secret in the log";
  }
}

TEST_F(RoadmapProcessTest, SigtermLetsInFlightCallsFinish) {
  ChildProcess service;
  // Redis commands may wait out the pause below.
  std::string target = StartService(service, token_file_, "roadmap.log",
                                    {"--redis-timeout=10s"});
  std::string admin = ReadFile(token_file_);
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = rpb::RoadmapService::NewStub(channel);
  // Warm the token cache and the connection.
  rpb::GetCurrentPrincipalResponse who;
  ASSERT_TRUE(stub->GetCurrentPrincipal(Ctx(admin).get(), {}, &who).ok());

  // Hold every Redis command for 6 s, so the calls below are in flight
  // (waiting on Redis) when SIGTERM arrives, even on a slow machine: 2.5 s
  // to send them, then 3.5 s before they could have finished anyway, and
  // 4 s inside their 10 s deadline once Redis is back.
  ASSERT_TRUE(redis_->Command({"CLIENT", "PAUSE", "6000", "ALL"}).ok());
  constexpr int kCalls = 8;
  std::atomic<int> ok{0};
  std::atomic<int> finished{0};
  // GetAction is served without the executor (AsyncRedis): its calls must
  // be drained just the same, with Redis' answer (here: no such action).
  std::atomic<int> not_found{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&] {
      rpb::GetActionRequest req;
      req.set_id("01ARZ3NDEKTSV4RRFFQ69G5FAV");
      rpb::GetActionResponse resp;
      grpc::Status s = stub->GetAction(Ctx(admin).get(), req, &resp);
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) ++not_found;
      ++finished;
    });
  }
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      rpb::CreateOrganizationRequest req;
      req.set_request_id("drain-" + std::to_string(i));
      req.mutable_organization()->set_name("Membre " + std::to_string(i));
      req.mutable_organization()->set_kind(
          rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
      rpb::CreateOrganizationResponse resp;
      grpc::Status s = stub->CreateOrganization(Ctx(admin).get(), req, &resp);
      if (s.ok()) ++ok;
      ++finished;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(finished.load(), 0) << "calls should still be waiting on Redis";
  service.Signal(SIGTERM);
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), kCalls) << "in-flight calls must finish, not fail";
  EXPECT_EQ(not_found.load(), kCalls)
      << "in-flight non-blocking calls must finish with Redis' answer";
  auto code = service.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  // Their writes are all there.
  auto count = redis_->Command({"ZCARD", "jalon:roadmap:index:organization"});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->integer(), kCalls + 1);  // + the bootstrap organisation
}

TEST_F(RoadmapProcessTest, BadConfigurationExitsWithAMessage) {
  ChildProcess p;
  std::string err = dir_ + "/bad.log";
  ASSERT_TRUE(p.Start({JALON_ROADMAP_BINARY, "--workers=0"}, {}, err).ok());
  auto code = p.Wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(ReadFile(err).find("--workers"), std::string::npos);

  ChildProcess q;
  ASSERT_TRUE(
      q.Start({JALON_ROADMAP_BINARY},
              {{"JALON_REDIS_URL", "redis://user:secret@127.0.0.1:1/0"}}, err)
          .ok());
  code = q.Wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  std::string message = ReadFile(err);
  EXPECT_NE(message.find("JALON_REDIS_URL"), std::string::npos);
  EXPECT_EQ(message.find("secret"), std::string::npos) << "no secret echoed";

  ChildProcess r;
  ASSERT_TRUE(
      r.Start({JALON_ROADMAP_BINARY, "--entity-cache-size=-1"}, {}, err).ok());
  code = r.Wait(std::chrono::seconds(10));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(ReadFile(err).find("--entity-cache-size"), std::string::npos);
}

// Three replicas on one Redis: A writes; B (its cache entries kept up to
// 60 s) answers repeated Gets without Redis and still sees A's write as
// soon as A's PUBLISH arrives; C (--entity-cache-size=0) reads Redis every
// time.
TEST_F(RoadmapProcessTest, ReplicasCacheGetsAndDropThemOnAnotherOnesWrite) {
  ChildProcess a, b, c;
  std::string ta = StartService(a, token_file_, "a.log");
  std::string tb =
      StartService(b, token_file_, "b.log", {"--entity-cache-ttl=60s"});
  std::string tc =
      StartService(c, token_file_, "c.log", {"--entity-cache-size=0"});
  const std::string token = ReadFile(token_file_);
  auto stub = [](const std::string& target) {
    return rpb::RoadmapService::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  };
  auto sa = stub(ta), sb = stub(tb), sc = stub(tc);

  rpb::CreateOrganizationRequest creq;
  creq.mutable_organization()->set_name("Atlas Câbles SA");
  creq.mutable_organization()->set_kind(rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
  rpb::CreateOrganizationResponse created;
  ASSERT_TRUE(sa->CreateOrganization(Ctx(token).get(), creq, &created).ok());
  const std::string id = created.organization().id();
  auto get = [&](rpb::RoadmapService::Stub* s) {
    rpb::GetOrganizationRequest req;
    req.set_id(id);
    rpb::GetOrganizationResponse resp;
    grpc::Status st = s->GetOrganization(Ctx(token).get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.organization();
  };
  RedisClient redis(redis_->options());
  auto hmgets = [&] {
    auto r = redis.Command({"INFO", "commandstats"});
    size_t at = r->str().find("cmdstat_hmget:calls=");
    return at == std::string::npos ? 0 : std::stoll(r->str().substr(at + 20));
  };
  get(sc.get());  // fills C's token cache
  // B keeps what it reads once its subscription is up (moments after start).
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        get(sb.get());
        redis.Command({"CONFIG", "RESETSTAT"}).IgnoreError();
        get(sb.get());
        return hmgets() == 0;
      },
      std::chrono::milliseconds(5000)));
  ASSERT_TRUE(redis.Command({"CONFIG", "RESETSTAT"}).ok());
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(get(sb.get()).name(), "Atlas Câbles SA");
  EXPECT_EQ(hmgets(), 0) << "B answered from its cache";
  for (int i = 0; i < 5; ++i) get(sc.get());
  EXPECT_EQ(hmgets(), 5) << "C has no cache";

  rpb::UpdateOrganizationRequest ureq;
  ureq.mutable_organization()->set_id(id);
  ureq.mutable_organization()->set_name("Atlas Câbles et Fils SA");
  ureq.mutable_update_mask()->add_paths("name");
  rpb::UpdateOrganizationResponse updated;
  ASSERT_TRUE(sa->UpdateOrganization(Ctx(token).get(), ureq, &updated).ok());
  EXPECT_TRUE(testing::WaitFor(
      [&] { return get(sb.get()).etag() == updated.organization().etag(); },
      std::chrono::milliseconds(5000), std::chrono::milliseconds(1)));
  EXPECT_EQ(get(sb.get()).name(), "Atlas Câbles et Fils SA");
  EXPECT_EQ(get(sc.get()).name(), "Atlas Câbles et Fils SA");
}

}  // namespace
}  // namespace jalon

namespace jalon {
namespace {

TEST_F(RoadmapProcessTest, ServiceTokenFileIsIssuedAndReplacedWhenUnknown) {
  const std::string file = dir_ + "/services-token";
  std::ofstream(file) << "jalon_left-over-from-another-redis\n";
  ChildProcess service;
  ASSERT_TRUE(
      service
          .Start(
              {JALON_ROADMAP_BINARY,
               "--bootstrap-admin-token-file=" + token_file_,
               "--service-token-file=" + file},
              {{"JALON_LISTEN", "127.0.0.1:0"},
               {"JALON_REDIS_URL",
                "redis://127.0.0.1:" + std::to_string(redis_->port()) + "/0"},
               {"JALON_REDIS_PASSWORD_FILE", password_file_}},
              dir_ + "/roadmap.log")
          .ok());
  auto ports = service.WaitForListening(std::chrono::seconds(20));
  ASSERT_TRUE(ports.ok()) << ports.status();
  const std::string token = ReadFile(file);
  ASSERT_NE(token, "jalon_left-over-from-another-redis");
  auto stub = rpb::RoadmapService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(ports->grpc),
                          grpc::InsecureChannelCredentials()));
  rpb::GetCurrentPrincipalResponse who;
  ASSERT_TRUE(stub->GetCurrentPrincipal(Ctx(token).get(), {}, &who).ok());
  EXPECT_EQ(who.principal().role(), common::v1::Role::ROLE_READER);
  service.Signal(SIGTERM);
  auto code = service.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

TEST_F(RoadmapProcessTest, ReplicasStartingOnOneTokenFileShareOneAdmin) {
  ChildProcess a, b;
  // Together, not one by one; both issue a services token too (each
  // writes it through a temporary file of its own: they used to share
  // one, and the second rename could fail).
  const std::string services = dir_ + "/services-token";
  const std::vector<std::string> flags = {"--service-token-file=" + services};
  Launch(a, token_file_, "roadmap-a.log", flags);
  Launch(b, token_file_, "roadmap-b.log", flags);
  std::string target = Listening(a, "roadmap-a.log");
  Listening(b, "roadmap-b.log");
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const std::string name = entry.path().filename().string();
    EXPECT_FALSE(absl::StartsWith(name, "services-token.") ||
                 absl::StartsWith(name, "admin-token."))
        << "left behind: " << name;
  }
  // One admin, whose secret is in the file, whichever replica made it.
  const std::string admin = ReadFile(token_file_);
  EXPECT_FALSE(std::filesystem::exists(token_file_ + ".pending"));
  auto stub = rpb::RoadmapService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  rpb::GetCurrentPrincipalResponse who;
  ASSERT_TRUE(stub->GetCurrentPrincipal(Ctx(admin).get(), {}, &who).ok());
  EXPECT_EQ(who.principal().role(), common::v1::Role::ROLE_ADMIN);
  rpb::GetCurrentPrincipalResponse reader;
  ASSERT_TRUE(
      stub->GetCurrentPrincipal(Ctx(ReadFile(services)).get(), {}, &reader)
          .ok());
  EXPECT_EQ(reader.principal().role(), common::v1::Role::ROLE_READER);
  for (ChildProcess* p : {&a, &b}) {
    p->Signal(SIGTERM);
    ASSERT_TRUE(p->Wait(std::chrono::seconds(20)).ok());
  }
}

// A start that issues the services token while Redis is still starting
// waits for it, as the bootstrap does, instead of exiting.
TEST_F(RoadmapProcessTest, TheServicesTokenWaitsForRedis) {
  {
    ChildProcess first;  // the admin exists from now on
    StartService(first, token_file_, "roadmap-1.log");
    first.Signal(SIGTERM);
    ASSERT_TRUE(first.Wait(std::chrono::seconds(20)).ok());
  }
  redis_->Stop();
  const std::string services = dir_ + "/services-token";
  ChildProcess second;
  Launch(second, /*token_file=*/"", "roadmap-2.log",
         {"--service-token-file=" + services});
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(redis_->Restart().ok());
  const std::string target = Listening(second, "roadmap-2.log");
  auto stub = rpb::RoadmapService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  rpb::GetCurrentPrincipalResponse who;
  ASSERT_TRUE(
      stub->GetCurrentPrincipal(Ctx(ReadFile(services)).get(), {}, &who).ok())
      << ReadFile(dir_ + "/roadmap-2.log");
  EXPECT_EQ(who.principal().role(), common::v1::Role::ROLE_READER);
  second.Signal(SIGTERM);
  auto code = second.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

TEST_F(RoadmapProcessTest, TheBootstrapSecretIsOnDiskBeforeItIsCommitted) {
  // A start that died after its commit, before the token file was in
  // place, left the secret in the pending file: the next start uses it, so
  // the admin it created is not lost with its secret.
  const std::string kept = "jalon_kept-from-a-start-that-died-0123456789";
  std::ofstream(token_file_ + ".pending") << kept << "\n";
  for (int start = 0; start < 2; ++start) {
    ChildProcess service;
    std::string target = StartService(service, token_file_, "roadmap.log");
    EXPECT_EQ(ReadFile(token_file_), kept) << "start " << start;
    EXPECT_FALSE(std::filesystem::exists(token_file_ + ".pending"));
    auto stub = rpb::RoadmapService::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    rpb::GetCurrentPrincipalResponse who;
    ASSERT_TRUE(stub->GetCurrentPrincipal(Ctx(kept).get(), {}, &who).ok());
    EXPECT_EQ(who.principal().role(), common::v1::Role::ROLE_ADMIN);
    service.Signal(SIGTERM);
    ASSERT_TRUE(service.Wait(std::chrono::seconds(20)).ok());
    // Then the same once the admin exists: a start that committed, and
    // died before its rename, finds its own secret there.
    std::filesystem::remove(token_file_);
    std::ofstream(token_file_ + ".pending") << kept << "\n";
  }
  // Redis failing the check of whose admin it is (here a NOPERM): the
  // start fails and keeps the secret, which may be the admin's only copy.
  {
    std::filesystem::remove(token_file_);
    std::ofstream(token_file_ + ".pending") << kept << "\n";
    RedisClient redis(redis_->options());
    ASSERT_TRUE(redis.Command({"ACL", "SETUSER", "default", "-exists"}).ok());
    ChildProcess refused;
    Launch(refused, token_file_, "refused.log");
    auto code = refused.Wait(std::chrono::seconds(20));
    ASSERT_TRUE(redis.Command({"ACL", "SETUSER", "default", "+exists"}).ok());
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 1) << ReadFile(dir_ + "/refused.log");
    EXPECT_NE(ReadFile(token_file_ + ".pending").find(kept), std::string::npos);
    std::filesystem::remove(token_file_ + ".pending");
  }
  // Another secret, once an admin exists, is dropped, not installed.
  std::filesystem::remove(token_file_);
  std::ofstream(token_file_ + ".pending") << "jalon_someone-else\n";
  ChildProcess service;
  StartService(service, token_file_, "roadmap.log");
  EXPECT_FALSE(std::filesystem::exists(token_file_));
  EXPECT_FALSE(std::filesystem::exists(token_file_ + ".pending"));
  service.Signal(SIGTERM);
  ASSERT_TRUE(service.Wait(std::chrono::seconds(20)).ok());
}

}  // namespace
}  // namespace jalon
