// The gRPC adapter of the feedback service: declares the roles each RPC
// allows (rpcs.inc) and hands the call to FeedbackService on the executor.
// Thread-safe.
#ifndef JALON_SERVICES_FEEDBACK_GRPC_SERVICE_H_
#define JALON_SERVICES_FEEDBACK_GRPC_SERVICE_H_

#include "jalon/feedback/v1/feedback.grpc.pb.h"
#include "services/common/rpc.h"
#include "services/feedback/service.h"

namespace jalon::feedback {

class FeedbackGrpcService final : public pb::FeedbackService::CallbackService {
 public:
  FeedbackGrpcService(FeedbackService* service, RpcEnv env)
      : service_(service), env_(std::move(env)) {}

#define JALON_FEEDBACK_RPC(Name, Roles)                               \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx,    \
                                 const pb::Name##Request* req,        \
                                 pb::Name##Response* resp) override { \
    return Serve(env_, ctx, #Name, Roles,                             \
                 [this, req, resp](const CallContext& c) {            \
                   return service_->Name(c, *req, resp);              \
                 });                                                  \
  }
#include "services/feedback/rpcs.inc"
#undef JALON_FEEDBACK_RPC

 private:
  FeedbackService* service_;
  RpcEnv env_;
};

}  // namespace jalon::feedback

#endif  // JALON_SERVICES_FEEDBACK_GRPC_SERVICE_H_
