// Authorisation of every RPC of the roadmap service, over real gRPC: no
// token, a malformed header, an unknown token and a revoked token are
// UNAUTHENTICATED; each role is refused exactly the RPCs rpcs.inc does not
// allow it.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "tests/support/roadmap_harness.h"
#include "tests/support/rpc_auth_checks.h"
#include "tests/support/wait.h"

namespace jalon::roadmap {
namespace {

using common::v1::Role;
using testing::Ctx;
using testing::RoadmapHarness;
namespace rpb = ::jalon::roadmap::v1;

using RpcCase = testing::RpcCase<rpb::RoadmapService::Stub>;

const std::vector<RpcCase>& Cases() {
  static const auto* cases = new std::vector<RpcCase>{
#define JALON_ROADMAP_RPC(Name, Roles)                                    \
  RpcCase{#Name, Roles,                                                   \
          [](rpb::RoadmapService::Stub* stub, grpc::ClientContext* ctx) { \
            rpb::Name##Request req;                                       \
            rpb::Name##Response resp;                                     \
            return stub->Name(ctx, req, &resp);                           \
          }},
#include "services/roadmap/rpcs.inc"
#undef JALON_ROADMAP_RPC
  };
  return *cases;
}

class RpcAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    harness_ = new RoadmapHarness();
    ASSERT_TRUE(harness_->Start().ok());
    fixture_ = new testing::Fixture(harness_->MakeFixture());
  }
  static void TearDownTestSuite() {
    delete fixture_;
    delete harness_;
  }
  static RoadmapHarness* harness_;
  static testing::Fixture* fixture_;
};
RoadmapHarness* RpcAuthTest::harness_ = nullptr;
testing::Fixture* RpcAuthTest::fixture_ = nullptr;

TEST_F(RpcAuthTest, EveryRpcIsListed) {
  // 32 RPCs in the proto; a new one must be added to rpcs.inc, which the
  // adapter would not compile without.
  EXPECT_EQ(Cases().size(),
            static_cast<size_t>(rpb::CreateActionRequest::descriptor()
                                    ->file()
                                    ->FindServiceByName("RoadmapService")
                                    ->method_count()));
}

TEST_F(RpcAuthTest, MissingOrBadCredentialsAreUnauthenticated) {
  auto stub = harness_->Stub();
  testing::ExpectBadCredentialsRefused(Cases(), stub.get());
}

TEST_F(RpcAuthTest, RevokedTokenIsUnauthenticatedEverywhere) {
  auto stub = harness_->Stub();
  rpb::IssueTokenRequest issue;
  issue.set_principal_name("temp");
  issue.set_organization_id(fixture_->federation);
  issue.set_role(Role::ROLE_ADMIN);
  rpb::IssueTokenResponse issued;
  ASSERT_TRUE(
      stub->IssueToken(Ctx(harness_->admin_token()).get(), issue, &issued)
          .ok());
  // Used once, so the verifier caches it.
  rpb::GetCurrentPrincipalResponse who;
  ASSERT_TRUE(
      stub->GetCurrentPrincipal(Ctx(issued.secret()).get(), {}, &who).ok());
  rpb::RevokeTokenRequest revoke;
  revoke.set_id(issued.token().id());
  rpb::RevokeTokenResponse revoked;
  ASSERT_TRUE(
      stub->RevokeToken(Ctx(harness_->admin_token()).get(), revoke, &revoked)
          .ok());
  EXPECT_EQ(revoked.token().state(), rpb::TOKEN_STATE_REVOKED);
  // The cached principal goes when the published revocation arrives.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return stub->GetCurrentPrincipal(Ctx(issued.secret()).get(), {}, &who)
                   .error_code() == grpc::StatusCode::UNAUTHENTICATED;
      },
      std::chrono::seconds(5)));
  testing::ExpectTokenRefused(Cases(), stub.get(), issued.secret());
}

TEST_F(RpcAuthTest, EachRoleIsRefusedExactlyWhatItIsNotAllowed) {
  const std::vector<testing::RoleToken> roles = {
      {Role::ROLE_ADMIN, harness_->admin_token()},
      {Role::ROLE_COPILOT, fixture_->federation_copilot},
      {Role::ROLE_MEMBER, fixture_->member_token},
      {Role::ROLE_READER, fixture_->reader_token}};
  auto stub = harness_->Stub();
  testing::ExpectRolesEnforced(Cases(), stub.get(), roles);
}

}  // namespace
}  // namespace jalon::roadmap
