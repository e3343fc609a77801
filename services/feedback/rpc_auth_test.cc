// Authorisation of every RPC of the feedback service, over real gRPC, with
// tokens verified through the roadmap service: no token, a malformed header
// and an unknown token are UNAUTHENTICATED; a token revoked on the roadmap
// service stops working here within about a second; each role is refused
// exactly the RPCs rpcs.inc does not allow it.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "tests/support/feedback_harness.h"
#include "tests/support/rpc_auth_checks.h"
#include "tests/support/wait.h"

namespace jalon::feedback {
namespace {

// rpcs.inc names RoleSet and Role:: unqualified.
using jalon::RoleSet;
using Role = jalon::common::v1::Role;
using testing::Ctx;
using testing::FeedbackHarness;
using testing::WaitFor;
namespace fpb = ::jalon::feedback::v1;
namespace rpb = ::jalon::roadmap::v1;

using RpcCase = testing::RpcCase<fpb::FeedbackService::Stub>;

const std::vector<RpcCase>& Cases() {
  static const auto* cases = new std::vector<RpcCase>{
#define JALON_FEEDBACK_RPC(Name, Roles)                                    \
  RpcCase{#Name, Roles,                                                    \
          [](fpb::FeedbackService::Stub* stub, grpc::ClientContext* ctx) { \
            fpb::Name##Request req;                                        \
            fpb::Name##Response resp;                                      \
            return stub->Name(ctx, req, &resp);                            \
          }},
#include "services/feedback/rpcs.inc"
#undef JALON_FEEDBACK_RPC
  };
  return *cases;
}

class FeedbackRpcAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    harness_ = new FeedbackHarness();
    ASSERT_TRUE(harness_->Start().ok());
    fixture_ = new testing::Fixture(harness_->roadmap().MakeFixture());
  }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
    delete harness_;
    harness_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(harness_, nullptr);
    ASSERT_NE(fixture_, nullptr);
    ASSERT_FALSE(fixture_->roadmap.empty());
  }
  static FeedbackHarness* harness_;
  static testing::Fixture* fixture_;
};
FeedbackHarness* FeedbackRpcAuthTest::harness_ = nullptr;
testing::Fixture* FeedbackRpcAuthTest::fixture_ = nullptr;

TEST_F(FeedbackRpcAuthTest, EveryRpcIsListed) {
  // A new RPC in the proto must be added to rpcs.inc, which the adapter
  // would not compile without.
  const auto* service =
      fpb::SubmitFeedbackRequest::descriptor()->file()->FindServiceByName(
          "FeedbackService");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(Cases().size(), static_cast<size_t>(service->method_count()));
  for (const auto& c : Cases()) {
    EXPECT_NE(service->FindMethodByName(c.name), nullptr) << c.name;
  }
}

TEST_F(FeedbackRpcAuthTest, MissingOrBadCredentialsAreUnauthenticated) {
  auto stub = harness_->Stub();
  testing::ExpectBadCredentialsRefused(Cases(), stub.get());
}

TEST_F(FeedbackRpcAuthTest, ATokenRevokedOnTheRoadmapServiceStopsWorkingHere) {
  auto roadmap = harness_->roadmap().Stub();
  rpb::IssueTokenRequest issue;
  issue.set_principal_name("temporary member");
  issue.set_organization_id(fixture_->member);
  issue.set_role(Role::ROLE_MEMBER);
  rpb::IssueTokenResponse issued;
  ASSERT_TRUE(roadmap
                  ->IssueToken(Ctx(harness_->roadmap().admin_token()).get(),
                               issue, &issued)
                  .ok());
  const std::string secret = issued.secret();
  auto stub = harness_->Stub();
  auto list = [&] {
    fpb::ListConsultationsRequest req;
    req.set_roadmap_id(fixture_->roadmap);
    fpb::ListConsultationsResponse resp;
    return stub->ListConsultations(Ctx(secret).get(), req, &resp);
  };
  // Used once, so the feedback service's verifier caches it.
  grpc::Status before = list();
  ASSERT_TRUE(before.ok()) << before.error_message();

  rpb::RevokeTokenRequest revoke;
  revoke.set_id(issued.token().id());
  rpb::RevokeTokenResponse revoked;
  ASSERT_TRUE(roadmap
                  ->RevokeToken(Ctx(harness_->roadmap().admin_token()).get(),
                                revoke, &revoked)
                  .ok());
  ASSERT_EQ(revoked.token().state(), rpb::TOKEN_STATE_REVOKED);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(
      [&] { return list().error_code() == grpc::StatusCode::UNAUTHENTICATED; },
      std::chrono::seconds(10)))
      << "the revoked token still works on the feedback service after 10 s";
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Its cache holds a principal 1 s, then asks roadmap afresh: about a
  // second, with room for a stalled machine.
  EXPECT_LT(elapsed, std::chrono::milliseconds(4000))
      << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
      << " ms";
  testing::ExpectTokenRefused(Cases(), stub.get(), secret);
}

TEST_F(FeedbackRpcAuthTest, EachRoleIsRefusedExactlyWhatItIsNotAllowed) {
  const std::vector<testing::RoleToken> roles = {
      {Role::ROLE_ADMIN, harness_->roadmap().admin_token()},
      {Role::ROLE_COPILOT, fixture_->federation_copilot},
      {Role::ROLE_MEMBER, fixture_->member_token},
      {Role::ROLE_READER, fixture_->reader_token}};
  auto stub = harness_->Stub();
  testing::ExpectRolesEnforced(Cases(), stub.get(), roles);
}

}  // namespace
}  // namespace jalon::feedback
