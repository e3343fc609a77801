// The gRPC adapter of the roadmap service: declares the roles each RPC
// allows and hands the call to RoadmapService, on the executor or, for the
// hot RPCs, without blocking (ServeAsync). The Gets are raw methods: they
// parse their request and send the response RoadmapService serialised
// (and keeps with the cached entity). Nothing else lives here.
// Thread-safe.
#ifndef JALON_SERVICES_ROADMAP_GRPC_SERVICE_H_
#define JALON_SERVICES_ROADMAP_GRPC_SERVICE_H_

#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/rpc.h"
#include "services/roadmap/service.h"

namespace jalon::roadmap {

namespace internal {
using Service = pb::RoadmapService;
// The generated service with the Gets made raw (bytes in, bytes out).
using RoadmapServiceWithRawGets =
    Service::WithRawCallbackMethod_GetOrganization<
        Service::WithRawCallbackMethod_GetRoadmap<
            Service::WithRawCallbackMethod_GetEcosystem<
                Service::WithRawCallbackMethod_GetIndicator<
                    Service::WithRawCallbackMethod_GetMeasurement<
                        Service::WithRawCallbackMethod_GetAction<
                            Service::CallbackService>>>>>>;
}  // namespace internal

class RoadmapGrpcService final : public internal::RoadmapServiceWithRawGets {
 public:
  RoadmapGrpcService(RoadmapService* service, RpcEnv env)
      : service_(service), env_(std::move(env)) {}

#define JALON_ROADMAP_RPC(Name, Roles)                                \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx,    \
                                 const pb::Name##Request* req,        \
                                 pb::Name##Response* resp) override { \
    return Serve(env_, ctx, #Name, Roles,                             \
                 [this, req, resp](const CallContext& c) {            \
                   return service_->Name(c, *req, resp);              \
                 });                                                  \
  }
#define JALON_ROADMAP_ASYNC_RPC(Name, Roles)                           \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx,     \
                                 const pb::Name##Request* req,         \
                                 pb::Name##Response* resp) override {  \
    return ServeAsync(                                                 \
        env_, ctx, #Name, Roles, [this, req, resp](AsyncCall* call) {  \
          service_->Name(call->context(), *req, resp, Finisher(call)); \
        });                                                            \
  }
#define JALON_ROADMAP_GET_RPC(Name, Roles)                              \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx,      \
                                 const grpc::ByteBuffer* req,           \
                                 grpc::ByteBuffer* resp) override {     \
    return ServeAsync(                                                  \
        env_, ctx, #Name, Roles, [this, req, resp](AsyncCall* call) {   \
          pb::Name##Request request;                                    \
          if (auto s = ParseRequest(req, &request); !s.ok()) {          \
            return call->Finish(s);                                     \
          }                                                             \
          service_->Name(call->context(), request, Sender(call, resp)); \
        });                                                             \
  }
#define JALON_ROADMAP_CUSTOM_RPC(Name, Allowed) \
  static constexpr RoleSet k##Name##Roles = Allowed;
#include "services/roadmap/rpcs.inc"
#undef JALON_ROADMAP_RPC
#undef JALON_ROADMAP_ASYNC_RPC
#undef JALON_ROADMAP_GET_RPC
#undef JALON_ROADMAP_CUSTOM_RPC

  // The other services verify their callers' tokens with this RPC, and
  // cache the answer for up to their own TTL: it must be what Redis holds
  // now, not what this replica cached, or a revocation whose message was
  // lost could take two TTLs to reach them.
  grpc::ServerUnaryReactor* GetCurrentPrincipal(
      grpc::CallbackServerContext* ctx, const pb::GetCurrentPrincipalRequest*,
      pb::GetCurrentPrincipalResponse* resp) override {
    return Serve(env_, ctx, "GetCurrentPrincipal", kGetCurrentPrincipalRoles,
                 [this, ctx, resp](const CallContext&) -> absl::Status {
                   auto fresh = env_.verifier->VerifyFresh(Authorization(ctx));
                   if (!fresh.ok()) return fresh.status();
                   *resp->mutable_principal() = *std::move(fresh);
                   return absl::OkStatus();
                 });
  }

  // Served without blocking, unless it edits dependencies.
  grpc::ServerUnaryReactor* UpdateAction(
      grpc::CallbackServerContext* ctx, const pb::UpdateActionRequest* req,
      pb::UpdateActionResponse* resp) override {
    constexpr RoleSet kRoles = kUpdateActionRoles;
    if (RoadmapService::UpdateActionBlocks(*req)) {
      return Serve(env_, ctx, "UpdateAction", kRoles,
                   [this, req, resp](const CallContext& c) {
                     return service_->UpdateAction(c, *req, resp);
                   });
    }
    return ServeAsync(
        env_, ctx, "UpdateAction", kRoles, [this, req, resp](AsyncCall* call) {
          service_->UpdateAction(call->context(), *req, resp, Finisher(call));
        });
  }

 private:
  static RoadmapService::Done Finisher(AsyncCall* call) {
    return [call](absl::Status s) { call->Finish(s); };
  }
  // Sends a serialised response (a copy of its bytes: the original stays
  // with the cached entity).
  static RoadmapService::SerializedDone Sender(AsyncCall* call,
                                               grpc::ByteBuffer* resp) {
    return [call, resp](absl::StatusOr<RoadmapService::Serialized> bytes) {
      if (bytes.ok()) {
        grpc::Slice slice((*bytes)->data(), (*bytes)->size());
        *resp = grpc::ByteBuffer(&slice, 1);
      }
      call->Finish(bytes.status());
    };
  }

  RoadmapService* service_;
  RpcEnv env_;
};

}  // namespace jalon::roadmap

#endif  // JALON_SERVICES_ROADMAP_GRPC_SERVICE_H_
