#include "tests/support/roadmap_harness.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "services/common/dates.h"
#include "services/common/ids.h"
#include "services/common/status.h"

namespace jalon::testing {

RoadmapHarness::RoadmapHarness(HarnessOptions options) : options_(options) {
  // Per-call lines would drown test output; failures still show warnings.
  spdlog::set_level(spdlog::level::warn);
}

RoadmapHarness::~RoadmapHarness() { StopService(); }

absl::Status RoadmapHarness::Start() {
  if (!options_.share_redis) {
    if (auto s = redis_server_.Start(); !s.ok()) return s;
  }
  RedisOptions ro =
      options_.share_redis ? options_.shared_redis : redis_server_.options();
  ro.pool_size = options_.redis_pool_size;
  redis_ = std::make_unique<RedisClient>(ro);
  async_redis_ = std::make_unique<AsyncRedis>(ro, options_.redis_loops);
  verifier_ = std::make_unique<TokenVerifier>(
      redis_.get(),
      AuthOptions{roadmap::Keys::TokenHashPrefix(),
                  roadmap::Keys::RevocationChannel(), options_.auth_cache_ttl});
  verifier_->StartRevocationListener(ro);
  executor_ = std::make_unique<Executor>(options_.workers, options_.max_queue);
  cache_ = std::make_unique<EntityCache>(options_.entity_cache);
  if (options_.entity_cache.capacity > 0 && options_.entity_cache_listener) {
    cache_->StartListener(ro, roadmap::Keys::WakeupChannel());
  }
  store_ = std::make_unique<roadmap::RoadmapStore>(
      redis_.get(),
      EventLog{roadmap::Keys::Stream(), roadmap::Keys::WakeupChannel(),
               1'000'000},
      async_redis_.get(), cache_.get());
  service_ =
      std::make_unique<roadmap::RoadmapService>(store_.get(), options_.clock);
  if (!options_.share_redis) {
    auto secret =
        service_->BootstrapAdmin("Fédération (test)", NewTokenSecret());
    if (!secret.ok()) return secret.status();
    admin_token_ = *secret;
  }
  grpc_service_ = std::make_unique<roadmap::RoadmapGrpcService>(
      service_.get(),
      RpcEnv{executor_.get(), verifier_.get(), "roadmap.jalon"});
  ServiceConfig config;
  config.listen = "127.0.0.1:0";
  config.health_interval = options_.health_interval;
  config.grace_period = options_.grace_period;
  host_ = std::make_unique<ServerHost>(
      config, "jalon.roadmap.v1.RoadmapService", redis_.get());
  host_->AddService(grpc_service_.get());
  if (auto s = host_->Start(); !s.ok()) return s;
  channel_ = grpc::CreateChannel(target(), grpc::InsecureChannelCredentials());
  return absl::OkStatus();
}

void RoadmapHarness::StopService() {
  if (host_) host_->Shutdown();
  if (executor_) executor_->Shutdown();
}

std::string RoadmapHarness::target() const {
  return absl::StrCat("127.0.0.1:", host_->port());
}

std::unique_ptr<rpb::RoadmapService::Stub> RoadmapHarness::Stub() const {
  return rpb::RoadmapService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token,
                                         std::chrono::milliseconds deadline) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->AddMetadata("x-request-id", NewUlid());
  ctx->set_deadline(std::chrono::system_clock::now() + deadline);
  return ctx;
}

common::v1::Date D(int y, int m, int d) { return MakeDate(y, m, d); }

std::string RoadmapHarness::IssueToken(const std::string& org,
                                       common::v1::Role role,
                                       const std::string& name) {
  return testing::IssueToken(*Stub(), admin_token_, org, role, name);
}

absl::Status RoadmapHarness::RevokeToken(const std::string& org,
                                         const std::string& principal_name) {
  auto stub = Stub();
  rpb::ListTokensRequest list;
  list.set_organization_id(org);
  rpb::ListTokensResponse tokens;
  auto s =
      FromGrpcStatus(stub->ListTokens(Ctx(admin_token_).get(), list, &tokens));
  if (!s.ok()) return s;
  for (const auto& t : tokens.tokens()) {
    if (t.principal_name() != principal_name) continue;
    rpb::RevokeTokenRequest revoke;
    revoke.set_id(t.id());
    rpb::RevokeTokenResponse revoked;
    return FromGrpcStatus(
        stub->RevokeToken(Ctx(admin_token_).get(), revoke, &revoked));
  }
  return absl::NotFoundError("no token for " + principal_name);
}

Fixture RoadmapHarness::MakeFixture() {
  using common::v1::Role;
  auto stub = Stub();
  Fixture f;
  auto org = [&](const std::string& name, rpb::OrganizationKind kind) {
    return CreateOrganization(*stub, admin_token_, name, kind);
  };
  f.federation = org("FIMME", rpb::ORGANIZATION_KIND_FEDERATION);
  f.ministry =
      org("Département de l'Industrie", rpb::ORGANIZATION_KIND_MINISTRY);
  f.member = org("Atlas Câbles SA", rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
  f.federation_copilot = IssueToken(f.federation, Role::ROLE_COPILOT, "fed");
  f.ministry_copilot = IssueToken(f.ministry, Role::ROLE_COPILOT, "min");
  f.member_token = IssueToken(f.member, Role::ROLE_MEMBER, "member");
  f.reader_token = IssueToken(f.ministry, Role::ROLE_READER, "dashboard");

  rpb::CreateRoadmapRequest rr;
  auto* r = rr.mutable_roadmap();
  r->set_title("Feuille de route commune IMME");
  *r->mutable_start_date() = D(2016, 5, 2);
  *r->mutable_horizon_date() = D(2030, 12, 31);
  r->add_copilot_organization_ids(f.federation);
  r->add_copilot_organization_ids(f.ministry);
  rpb::CreateRoadmapResponse rresp;
  stub->CreateRoadmap(Ctx(admin_token_).get(), rr, &rresp);
  f.roadmap = rresp.roadmap().id();

  rpb::CreateEcosystemRequest er;
  er.mutable_ecosystem()->set_roadmap_id(f.roadmap);
  er.mutable_ecosystem()->set_name("Travail des métaux");
  *er.mutable_ecosystem()->mutable_creation_date() = D(2016, 5, 2);
  rpb::CreateEcosystemResponse eresp;
  stub->CreateEcosystem(Ctx(admin_token_).get(), er, &eresp);
  f.ecosystem = eresp.ecosystem().id();

  rpb::CreateIndicatorRequest ir;
  auto* i = ir.mutable_indicator();
  i->set_roadmap_id(f.roadmap);
  i->set_ecosystem_id(f.ecosystem);
  i->set_name("Nouveaux emplois");
  i->set_unit(rpb::INDICATOR_UNIT_JOBS);
  i->set_baseline_value(0);
  *i->mutable_baseline_date() = D(2016, 5, 2);
  i->set_target_value(13340);
  *i->mutable_target_date() = D(2020, 12, 31);
  rpb::CreateIndicatorResponse iresp;
  stub->CreateIndicator(Ctx(admin_token_).get(), ir, &iresp);
  f.indicator = iresp.indicator().id();
  return f;
}

std::string CreateOrganization(rpb::RoadmapService::Stub& stub,
                               const std::string& admin,
                               const std::string& name,
                               rpb::OrganizationKind kind) {
  rpb::CreateOrganizationRequest req;
  req.mutable_organization()->set_name(name);
  req.mutable_organization()->set_kind(kind);
  rpb::CreateOrganizationResponse resp;
  grpc::Status s = stub.CreateOrganization(Ctx(admin).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << "create organisation " << name << ": "
                      << s.error_message();
  return resp.organization().id();
}

std::string IssueToken(rpb::RoadmapService::Stub& stub,
                       const std::string& admin, const std::string& org,
                       common::v1::Role role, const std::string& name) {
  rpb::IssueTokenRequest req;
  req.set_principal_name(name);
  req.set_organization_id(org);
  req.set_role(role);
  rpb::IssueTokenResponse resp;
  grpc::Status s = stub.IssueToken(Ctx(admin).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << "issue token: " << s.error_message();
  return resp.secret();
}

}  // namespace jalon::testing
