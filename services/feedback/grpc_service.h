// The gRPC adapter of the feedback service: declares the roles each RPC
// allows (rpcs.inc) and hands the call to FeedbackService on the executor.
// Every method is raw: it parses its own request (rpc.h, RawMethods).
// Thread-safe.
#ifndef JALON_SERVICES_FEEDBACK_GRPC_SERVICE_H_
#define JALON_SERVICES_FEEDBACK_GRPC_SERVICE_H_

#include "jalon/feedback/v1/feedback.grpc.pb.h"
#include "services/common/rpc.h"
#include "services/feedback/service.h"

namespace jalon::feedback {

namespace internal {
using Service = pb::FeedbackService;
// The generated service with every method raw (bytes in, bytes out).
#define JALON_FEEDBACK_RPC(Name, Roles) , Service::WithRawCallbackMethod_##Name
using RawFeedbackService = RawMethods<Service::CallbackService
#include "services/feedback/rpcs.inc"
                                      >;
#undef JALON_FEEDBACK_RPC
}  // namespace internal

class FeedbackGrpcService final : public internal::RawFeedbackService {
 public:
  FeedbackGrpcService(FeedbackService* service, RpcEnv env)
      : service_(service), env_(std::move(env)) {}

#define JALON_FEEDBACK_RPC JALON_EXECUTOR_RPC
#include "services/feedback/rpcs.inc"
#undef JALON_FEEDBACK_RPC

 private:
  FeedbackService* service_;
  RpcEnv env_;
};

}  // namespace jalon::feedback

#endif  // JALON_SERVICES_FEEDBACK_GRPC_SERVICE_H_
