// The feedback service in-process for tests, beside an in-process roadmap
// service (RoadmapHarness) on the same real redis-server: the real wiring
// (token verification through the roadmap service, the roadmap client with
// a service token, the consumer of the roadmap's action events, the gRPC
// host). Not thread-safe to start and stop; the stubs it hands out are.
#ifndef JALON_TESTS_SUPPORT_FEEDBACK_HARNESS_H_
#define JALON_TESTS_SUPPORT_FEEDBACK_HARNESS_H_

#include <memory>
#include <string>

#include "jalon/feedback/v1/feedback.grpc.pb.h"
#include "services/common/roadmap_client.h"
#include "services/common/stream_consumer.h"
#include "services/feedback/grpc_service.h"
#include "services/feedback/service.h"
#include "services/feedback/store.h"
#include "tests/support/roadmap_harness.h"

namespace jalon::testing {

namespace fpb = ::jalon::feedback::v1;

class FeedbackHarness {
 public:
  explicit FeedbackHarness(HarnessOptions options = {});
  ~FeedbackHarness();

  // Starts Redis and the roadmap service, then the feedback service and its
  // consumer.
  absl::Status Start(bool start_consumer = true);
  void StopFeedback();

  RoadmapHarness& roadmap() { return roadmap_; }
  feedback::FeedbackService& service() { return *service_; }
  feedback::FeedbackStore& store() { return *store_; }
  std::unique_ptr<fpb::FeedbackService::Stub> Stub() const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  // The feedback service's gRPC port.
  int port() const;
  // True when the consumer (a thread of its own) has applied every roadmap
  // event there is, or when there is no consumer: what it writes in answer
  // is then in the feedback stream.
  bool ConsumerCaughtUp();

 private:
  HarnessOptions options_;
  RoadmapHarness roadmap_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<RedisClient> consumer_redis_;
  std::unique_ptr<RoadmapClient> roadmap_client_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<feedback::FeedbackStore> store_;
  std::unique_ptr<feedback::FeedbackService> service_;
  std::unique_ptr<StreamConsumer> consumer_;
  std::unique_ptr<ServerHost> host_;
  std::unique_ptr<feedback::FeedbackGrpcService> grpc_service_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_FEEDBACK_HARNESS_H_
