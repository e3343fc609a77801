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
// The generated service with every method raw (bytes in, bytes out).
#define JALON_ROADMAP_RPC(Name, Roles) , Service::WithRawCallbackMethod_##Name
using RawRoadmapService = RawMethods<Service::CallbackService
#include "services/roadmap/rpcs.inc"
                                     >;
#undef JALON_ROADMAP_RPC
}  // namespace internal

class RoadmapGrpcService final : public internal::RawRoadmapService {
 public:
  RoadmapGrpcService(RoadmapService* service, RpcEnv env)
      : service_(service), env_(std::move(env)) {}

#define JALON_ROADMAP_RPC JALON_EXECUTOR_RPC
#define JALON_ROADMAP_ASYNC_RPC(Name, Roles)                              \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx,        \
                                 const grpc::ByteBuffer* req,             \
                                 grpc::ByteBuffer* resp) override {       \
    return ServeAsyncParsed<pb::Name##Request, pb::Name##Response>(       \
        env_, ctx, #Name, Roles, req, resp,                               \
        [this](const CallContext& call, const pb::Name##Request& request, \
               pb::Name##Response* response, RoadmapService::Done done) { \
          service_->Name(call, request, response, std::move(done));       \
        });                                                               \
  }
#define JALON_ROADMAP_GET_RPC(Name, Roles)                                 \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx,         \
                                 const grpc::ByteBuffer* req,              \
                                 grpc::ByteBuffer* resp) override {        \
    return ServeAsync(                                                     \
        env_, ctx, #Name, Roles, [this, req, resp](AsyncCall call) {       \
          pb::Name##Request request;                                       \
          if (auto s = ParseRequest(req, &request); !s.ok()) {             \
            return std::move(call).Finish(s);                              \
          }                                                                \
          const CallContext& context = call.context();                     \
          service_->Name(context, request, Sender(std::move(call), resp)); \
        });                                                                \
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
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req,
      grpc::ByteBuffer* resp) override {
    return ServeParsed<pb::GetCurrentPrincipalRequest,
                       pb::GetCurrentPrincipalResponse>(
        env_, ctx, "GetCurrentPrincipal", kGetCurrentPrincipalRoles, req, resp,
        [this, ctx](const CallContext&, const pb::GetCurrentPrincipalRequest&,
                    pb::GetCurrentPrincipalResponse* response) -> absl::Status {
          auto fresh = env_.verifier->VerifyFresh(Authorization(ctx));
          if (!fresh.ok()) return fresh.status();
          *response->mutable_principal() = *std::move(fresh);
          return absl::OkStatus();
        });
  }

  // Served without blocking, unless it edits dependencies (the graph is
  // read synchronously): that goes on on the executor. The request is
  // parsed once the caller is admitted, as on every other RPC.
  grpc::ServerUnaryReactor* UpdateAction(grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* req,
                                         grpc::ByteBuffer* resp) override {
    using Update = Exchange<pb::UpdateActionRequest, pb::UpdateActionResponse>;
    return ServeAsync(
        env_, ctx, "UpdateAction", kUpdateActionRoles,
        [this, req, resp](AsyncCall call) {
          auto x = std::make_shared<Update>();
          if (auto s = ParseRequest(req, &x->request); !s.ok()) {
            return std::move(call).Finish(s);
          }
          if (RoadmapService::UpdateActionBlocks(x->request)) {
            return std::move(call).ContinueOnExecutor(
                [this, x, resp](const CallContext& c) {
                  if (auto s =
                          service_->UpdateAction(c, x->request, &x->response);
                      !s.ok()) {
                    return s;
                  }
                  return SerializeResponse(x->response, resp);
                });
          }
          auto start = [this](const CallContext& c,
                              const pb::UpdateActionRequest& request,
                              pb::UpdateActionResponse* response,
                              RoadmapService::Done done) {
            service_->UpdateAction(c, request, response, std::move(done));
          };
          StartParsed(std::move(call), std::move(x), resp, start);
        });
  }

 private:
  // Sends a serialised response (a copy of its bytes: the original stays
  // with the cached entity).
  static RoadmapService::SerializedDone Sender(AsyncCall call,
                                               grpc::ByteBuffer* resp) {
    return [call = std::move(call),
            resp](absl::StatusOr<RoadmapService::Serialized> bytes) mutable {
      if (bytes.ok()) {
        grpc::Slice slice((*bytes)->data(), (*bytes)->size());
        *resp = grpc::ByteBuffer(&slice, 1);
      }
      std::move(call).Finish(bytes.status());
    };
  }

  RoadmapService* service_;
  RpcEnv env_;
};

}  // namespace jalon::roadmap

#endif  // JALON_SERVICES_ROADMAP_GRPC_SERVICE_H_
