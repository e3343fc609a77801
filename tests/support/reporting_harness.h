// The reporting service in-process for tests, beside in-process roadmap and
// feedback services (FeedbackHarness) on the same real redis-server: the
// real wiring (token verification through the roadmap service, read models,
// gRPC host with WatchStatus, HTTP front). Its consumers are not threads:
// Sync() drains both source streams, so tests see a deterministic state.
// Not thread-safe to start and stop; the stubs it hands out are.
#ifndef JALON_TESTS_SUPPORT_REPORTING_HARNESS_H_
#define JALON_TESTS_SUPPORT_REPORTING_HARNESS_H_

#include <memory>
#include <string>

#include "jalon/reporting/v1/reporting.grpc.pb.h"
#include "services/common/stream_consumer.h"
#include "services/reporting/grpc_service.h"
#include "services/reporting/http.h"
#include "services/reporting/read_model.h"
#include "services/reporting/service.h"
#include "tests/support/feedback_harness.h"

namespace jalon::testing {

namespace reppb = ::jalon::reporting::v1;

struct ReportingHarnessOptions {
  HarnessOptions base;
  std::chrono::milliseconds feed_write_timeout{10000};
  std::chrono::milliseconds feed_progress_every{10000};
};

class ReportingHarness {
 public:
  explicit ReportingHarness(ReportingHarnessOptions options = {});
  ~ReportingHarness();

  // Starts Redis, roadmap, feedback, then reporting.
  absl::Status Start();
  // Stops the reporting service (watchers end with UNAVAILABLE) and starts
  // a fresh one on a new port, as a restart would.
  absl::Status RestartReporting();
  void StopReporting();

  // Applies every pending entry of both source streams; returns how many.
  int Sync();

  FeedbackHarness& feedback() { return feedback_; }
  RoadmapHarness& roadmap() { return feedback_.roadmap(); }
  reporting::ReportingService& service() { return *service_; }
  reporting::ReadModel& models() { return *models_; }
  std::unique_ptr<reppb::ReportingService::Stub> Stub() const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  int http_port() const { return http_->port(); }
  RedisClient& redis() { return *redis_; }

 private:
  absl::Status StartReporting();

  ReportingHarnessOptions options_;
  FeedbackHarness feedback_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<RedisClient> consumer_redis_;
  std::unique_ptr<RoadmapClient> roadmap_client_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<reporting::ReadModel> models_;
  std::unique_ptr<reporting::ReportingService> service_;
  std::unique_ptr<StreamConsumer> roadmap_consumer_;
  std::unique_ptr<StreamConsumer> feedback_consumer_;
  std::unique_ptr<ServerHost> host_;
  std::unique_ptr<reporting::ReportingGrpcService> grpc_service_;
  std::unique_ptr<reporting::HttpFront> http_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_REPORTING_HARNESS_H_
