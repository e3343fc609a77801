// Authorisation checks every service's RPC table gets: each RPC (from the
// service's rpcs.inc, called with an empty request) refuses bad credentials
// and refuses exactly the roles it does not allow. Header-only templates over
// the service's stub type; GoogleTest assertions. Thread-compatible.
#ifndef JALON_TESTS_SUPPORT_RPC_AUTH_CHECKS_H_
#define JALON_TESTS_SUPPORT_RPC_AUTH_CHECKS_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "jalon/common/v1/common.pb.h"
#include "services/common/auth.h"
#include "tests/support/roadmap_harness.h"

namespace jalon::testing {

// One RPC of a service and the roles it allows.
template <typename Stub>
struct RpcCase {
  const char* name;
  RoleSet roles;
  std::function<grpc::Status(Stub*, grpc::ClientContext*)> call;
};

// A token of a principal with `role`.
struct RoleToken {
  common::v1::Role role;
  std::string token;
};

template <typename Stub>
grpc::StatusCode CallRpc(const RpcCase<Stub>& c, Stub* stub,
                         std::unique_ptr<grpc::ClientContext> ctx) {
  return c.call(stub, ctx.get()).error_code();
}

// No token, a Basic header, an empty bearer and an unknown token are all
// UNAUTHENTICATED, on every RPC.
template <typename Stub>
void ExpectBadCredentialsRefused(const std::vector<RpcCase<Stub>>& cases,
                                 Stub* stub) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(CallRpc(c, stub, Ctx("")), grpc::StatusCode::UNAUTHENTICATED);
    auto basic = std::make_unique<grpc::ClientContext>();
    basic->AddMetadata("authorization", "Basic YWRtaW46YWRtaW4=");
    EXPECT_EQ(CallRpc(c, stub, std::move(basic)),
              grpc::StatusCode::UNAUTHENTICATED);
    auto empty_bearer = std::make_unique<grpc::ClientContext>();
    empty_bearer->AddMetadata("authorization", "Bearer ");
    EXPECT_EQ(CallRpc(c, stub, std::move(empty_bearer)),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(CallRpc(c, stub, Ctx("jalon_not-a-real-token")),
              grpc::StatusCode::UNAUTHENTICATED);
  }
}

// `token` (e.g. revoked) is UNAUTHENTICATED on every RPC.
template <typename Stub>
void ExpectTokenRefused(const std::vector<RpcCase<Stub>>& cases, Stub* stub,
                        const std::string& token) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(CallRpc(c, stub, Ctx(token)), grpc::StatusCode::UNAUTHENTICATED);
  }
}

// Each role is PERMISSION_DENIED exactly on the RPCs that do not allow it
// (an allowed role may still fail otherwise on an empty request).
template <typename Stub>
void ExpectRolesEnforced(const std::vector<RpcCase<Stub>>& cases, Stub* stub,
                         const std::vector<RoleToken>& roles) {
  for (const auto& c : cases) {
    for (const auto& r : roles) {
      SCOPED_TRACE(std::string(c.name) + " as " +
                   common::v1::Role_Name(r.role));
      grpc::StatusCode code = CallRpc(c, stub, Ctx(r.token));
      EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED);
      if (c.roles.Has(r.role)) {
        EXPECT_NE(code, grpc::StatusCode::PERMISSION_DENIED);
      } else {
        EXPECT_EQ(code, grpc::StatusCode::PERMISSION_DENIED);
      }
    }
  }
}

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_RPC_AUTH_CHECKS_H_
