// The gRPC adapter of the roadmap service: declares the roles each RPC
// allows and hands the call to RoadmapService on the executor. Nothing else
// lives here. Thread-safe.
#ifndef JALON_SERVICES_ROADMAP_GRPC_SERVICE_H_
#define JALON_SERVICES_ROADMAP_GRPC_SERVICE_H_

#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/rpc.h"
#include "services/roadmap/service.h"

namespace jalon::roadmap {

class RoadmapGrpcService final : public pb::RoadmapService::CallbackService {
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
#include "services/roadmap/rpcs.inc"
#undef JALON_ROADMAP_RPC

 private:
  RoadmapService* service_;
  RpcEnv env_;
};

}  // namespace jalon::roadmap

#endif  // JALON_SERVICES_ROADMAP_GRPC_SERVICE_H_
