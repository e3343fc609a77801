// Runs a unary RPC of the callback API: the reaction returns at once, the
// handler runs on the Executor (where it may call Redis), and the result is
// logged once and turned into a grpc::Status with rich details. Each RPC
// names the roles it allows; authentication happens here, never in a
// handler. Thread-safe.
#ifndef JALON_SERVICES_COMMON_RPC_H_
#define JALON_SERVICES_COMMON_RPC_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "services/common/auth.h"
#include "services/common/executor.h"
#include "services/common/status.h"

namespace jalon {

// What a handler knows about its call.
struct CallContext {
  Actor principal;
  std::string request_id;  // x-request-id from the client, or generated
  std::string_view rpc;
};

// What every RPC of a service shares.
struct RpcEnv {
  Executor* executor = nullptr;
  TokenVerifier* verifier = nullptr;
  std::string domain;  // ErrorInfo.domain, e.g. "roadmap.jalon"
  // Calls accepted and not yet finished (ServerHost::inflight()), so a
  // graceful stop knows when the last one is done.
  std::atomic<int64_t>* inflight = nullptr;
};

// Authenticates, checks the role, runs `handler(call)`, logs the outcome.
absl::Status RunRpc(
    const RpcEnv& env, grpc::CallbackServerContext* ctx, std::string_view rpc,
    RoleSet allowed,
    const std::function<absl::Status(const CallContext&)>& handler);

// A unary reactor that counts itself in flight until gRPC is done with it,
// i.e. until its status has been sent, so a graceful stop never cuts a
// response that is on its way.
class CountedReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CountedReactor(std::atomic<int64_t>* inflight)
      : inflight_(inflight) {
    if (inflight_) inflight_->fetch_add(1);
  }
  void OnDone() override {
    if (inflight_) inflight_->fetch_sub(1);
    delete this;
  }

 private:
  std::atomic<int64_t>* inflight_;
};

template <typename Handler>
grpc::ServerUnaryReactor* Serve(const RpcEnv& env,
                                grpc::CallbackServerContext* ctx,
                                std::string_view rpc, RoleSet allowed,
                                Handler handler) {
  auto* reactor = new CountedReactor(env.inflight);
  const RpcEnv* e = &env;
  bool queued = env.executor->Submit(
      [e, ctx, rpc, allowed, reactor, h = std::move(handler)]() mutable {
        absl::Status status = RunRpc(*e, ctx, rpc, allowed, h);
        reactor->Finish(ToGrpcStatus(status, e->domain));
      });
  if (!queued) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "server overloaded, retry later"));
  }
  return reactor;
}

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_RPC_H_
