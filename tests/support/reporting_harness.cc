#include "tests/support/reporting_harness.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/support/wait.h"

namespace jalon::testing {

ReportingHarness::ReportingHarness(ReportingHarnessOptions options)
    : options_(options), feedback_(options.base) {}

ReportingHarness::~ReportingHarness() { StopReporting(); }

absl::Status ReportingHarness::Start() {
  if (auto s = feedback_.Start(); !s.ok()) return s;
  RedisOptions ro = roadmap().redis_server().options();
  ro.pool_size = options_.base.redis_pool_size;
  redis_ = std::make_unique<RedisClient>(ro);
  RedisOptions co = ro;
  co.pool_size = 2;
  consumer_redis_ = std::make_unique<RedisClient>(co);
  auto stub = roadmap().Stub();
  roadmap::v1::GetCurrentPrincipalResponse who;
  if (!stub->GetCurrentPrincipal(Ctx(roadmap().admin_token()).get(), {}, &who)
           .ok()) {
    return absl::InternalError("cannot reach the roadmap harness");
  }
  std::string token =
      roadmap().IssueToken(who.principal().organization_id(),
                           common::v1::Role::ROLE_READER, "jalon-reporting");
  roadmap_client_ = std::make_unique<RoadmapClient>(roadmap().channel(), token,
                                                    std::chrono::seconds(5));
  verifier_ = VerifierAskingRoadmap(roadmap_client_.get(),
                                    options_.base.auth_cache_ttl, ro);
  return StartReporting();
}

absl::Status ReportingHarness::StartReporting() {
  RedisOptions ro = redis_->options();
  executor_ = std::make_unique<Executor>(options_.base.workers, 10000);
  models_ = std::make_unique<reporting::ReadModel>(redis_.get(), 1'000'000);
  service_ = std::make_unique<reporting::ReportingService>(
      redis_.get(), models_.get(), options_.base.clock,
      reporting::ReportingOptions{});
  auto apply = [this](const StreamEntry& e) {
    return service_->ApplySourceEntry(e);
  };
  roadmap_consumer_ = std::make_unique<StreamConsumer>(
      consumer_redis_.get(),
      ConsumerOptions{reporting::kRoadmapStream, reporting::kGroup, "harness",
                      "jalon:reporting:dead:roadmap", 500,
                      std::chrono::milliseconds(1),
                      std::chrono::milliseconds(30000), 5},
      apply);
  feedback_consumer_ = std::make_unique<StreamConsumer>(
      consumer_redis_.get(),
      ConsumerOptions{reporting::kFeedbackStream, reporting::kGroup, "harness",
                      "jalon:reporting:dead:feedback", 500,
                      std::chrono::milliseconds(1),
                      std::chrono::milliseconds(30000), 5},
      apply);
  if (auto s = roadmap_consumer_->EnsureGroup(); !s.ok()) return s;
  if (auto s = feedback_consumer_->EnsureGroup(); !s.ok()) return s;
  ServiceConfig config;
  config.listen = "127.0.0.1:0";
  config.health_interval = options_.base.health_interval;
  config.grace_period = options_.base.grace_period;
  host_ = std::make_unique<ServerHost>(
      config, "jalon.reporting.v1.ReportingService", redis_.get());
  reporting::WatchOptions watch;
  watch.write_timeout = options_.feed_write_timeout;
  watch.cutoff_grace = std::chrono::seconds(10);
  watch.progress_every = options_.feed_progress_every;
  watch.redis = ro;
  grpc_service_ = std::make_unique<reporting::ReportingGrpcService>(
      service_.get(),
      RpcEnv{executor_.get(), verifier_.get(), "reporting.jalon",
             host_->inflight()},
      watch);
  host_->AddService(grpc_service_.get());
  if (auto s = host_->Start(); !s.ok()) return s;
  http_ = std::make_unique<reporting::HttpFront>(
      service_.get(), verifier_.get(),
      reporting::HttpOptions{"127.0.0.1:0", "", 50});
  if (auto s = http_->Start(); !s.ok()) return s;
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", host_->port()),
                                 grpc::InsecureChannelCredentials());
  return absl::OkStatus();
}

void ReportingHarness::StopReporting() {
  if (grpc_service_) grpc_service_->StopWatchers();
  if (host_) host_->Shutdown();
  if (http_) http_->Stop();
  if (executor_) executor_->Shutdown();
}

absl::Status ReportingHarness::RestartReporting() {
  StopReporting();
  http_.reset();
  grpc_service_.reset();
  host_.reset();
  roadmap_consumer_.reset();
  feedback_consumer_.reset();
  service_.reset();
  models_.reset();
  executor_.reset();
  return StartReporting();
}

int ReportingHarness::Sync() {
  // The feedback service answers some roadmap events (a linked action done
  // or cancelled) with feedback events of its own, from its own thread.
  EXPECT_TRUE(WaitFor([&] { return feedback_.ConsumerCaughtUp(); },
                      std::chrono::seconds(10)))
      << "the feedback consumer did not catch up";
  int total = 0;
  for (int idle = 0; idle < 2;) {
    auto a = roadmap_consumer_->PollOnce();
    auto b = feedback_consumer_->PollOnce();
    // A failed poll is a failed test: nothing here should fail.
    EXPECT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE(b.ok()) << b.status();
    int n = (a.ok() ? *a : 0) + (b.ok() ? *b : 0);
    total += n;
    idle = n == 0 ? idle + 1 : 0;
  }
  return total;
}

std::unique_ptr<reppb::ReportingService::Stub> ReportingHarness::Stub() const {
  return reppb::ReportingService::NewStub(channel_);
}

}  // namespace jalon::testing
