// Authorisation of every RPC of the reporting service, over real gRPC, with
// tokens verified through the roadmap service: no token, a malformed header
// and an unknown token are UNAUTHENTICATED; each role is refused exactly the
// RPCs rpcs.inc does not allow it; WatchStatus (a stream) is open to every
// role but not to bad credentials.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/reporting/watch_header.h"
#include "tests/support/reporting_harness.h"
#include "tests/support/rpc_auth_checks.h"

namespace jalon::reporting {
namespace {

// rpcs.inc names RoleSet and Role:: unqualified.
using jalon::RoleSet;
using Role = jalon::common::v1::Role;
using testing::Ctx;
using testing::ReportingHarness;
namespace reppb = ::jalon::reporting::v1;

using Stub = reppb::ReportingService::Stub;
using RpcCase = testing::RpcCase<Stub>;

const std::vector<RpcCase>& Cases() {
  static const auto* cases = new std::vector<RpcCase>{
#define JALON_REPORTING_RPC(Name, Roles)                           \
  RpcCase{#Name, Roles, [](Stub* stub, grpc::ClientContext* ctx) { \
            reppb::Name##Request req;                              \
            reppb::Name##Response resp;                            \
            return stub->Name(ctx, req, &resp);                    \
          }},
#include "services/reporting/rpcs.inc"
#undef JALON_REPORTING_RPC
      // The stream: an empty request watches everything from now on. The
      // server admits a call by sending the cursor it starts from
      // (kWatchCursorHeader) in its initial metadata: such a call is then
      // cancelled (CANCELLED, neither refusal); a refused one ends with
      // its status. No wall-clock bound: a refusal that needs a token
      // lookup may be slow on a busy machine.
      RpcCase{"WatchStatus", RoleSet::Any(),
              [](Stub* stub, grpc::ClientContext* ctx) {
                ctx->set_deadline(std::chrono::system_clock::now() +
                                  std::chrono::seconds(30));
                reppb::WatchStatusRequest req;
                auto reader = stub->WatchStatus(ctx, req);
                reader->WaitForInitialMetadata();
                if (ctx->GetServerInitialMetadata().count(kWatchCursorHeader)) {
                  ctx->TryCancel();
                }
                reppb::WatchStatusResponse msg;
                while (reader->Read(&msg)) {
                }
                return reader->Finish();
              }},
  };
  return *cases;
}

class ReportingRpcAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    harness_ = new ReportingHarness();
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
  }
  static ReportingHarness* harness_;
  static testing::Fixture* fixture_;
};
ReportingHarness* ReportingRpcAuthTest::harness_ = nullptr;
testing::Fixture* ReportingRpcAuthTest::fixture_ = nullptr;

TEST_F(ReportingRpcAuthTest, EveryRpcIsListed) {
  const auto* service =
      reppb::GetReportRequest::descriptor()->file()->FindServiceByName(
          "ReportingService");
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(Cases().size(), static_cast<size_t>(service->method_count()));
  for (const auto& c : Cases()) {
    EXPECT_NE(service->FindMethodByName(c.name), nullptr) << c.name;
  }
}

TEST_F(ReportingRpcAuthTest, MissingOrBadCredentialsAreUnauthenticated) {
  auto stub = harness_->Stub();
  testing::ExpectBadCredentialsRefused(Cases(), stub.get());
}

TEST_F(ReportingRpcAuthTest, EachRoleIsRefusedExactlyWhatItIsNotAllowed) {
  const std::vector<testing::RoleToken> roles = {
      {Role::ROLE_ADMIN, harness_->roadmap().admin_token()},
      {Role::ROLE_COPILOT, fixture_->federation_copilot},
      {Role::ROLE_MEMBER, fixture_->member_token},
      {Role::ROLE_READER, fixture_->reader_token}};
  auto stub = harness_->Stub();
  testing::ExpectRolesEnforced(Cases(), stub.get(), roles);
}

}  // namespace
}  // namespace jalon::reporting
