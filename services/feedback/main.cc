// jalon-feedback: the member feedback service binary. Wiring only:
// configuration, logging, Redis, the roadmap client (directory of tokens,
// actions), the consumer of the roadmap's action events, the service and
// its gRPC host, then a graceful stop on SIGTERM or SIGINT.
#include <spdlog/spdlog.h>

#include <iostream>

#include "services/common/auth.h"
#include "services/common/channel.h"
#include "services/common/clock.h"
#include "services/common/config.h"
#include "services/common/executor.h"
#include "services/common/logging.h"
#include "services/common/roadmap_client.h"
#include "services/common/server.h"
#include "services/common/service_config.h"
#include "services/common/stream_consumer.h"
#include "services/feedback/grpc_service.h"
#include "services/feedback/service.h"
#include "services/feedback/store.h"

namespace {

struct FeedbackConfig {
  jalon::ServiceConfig common;
  jalon::RoadmapLinkConfig roadmap;
  int report_threshold = 3;
};

}  // namespace

int main(int argc, char** argv) {
  FeedbackConfig config;
  config.common.listen = "127.0.0.1:50052";
  jalon::Flags flags("jalon-feedback",
                     "The Jalon feedback service: consultations, member "
                     "feedback, endorsements, moderation, partnerships.");
  config.common.Register(flags);
  config.roadmap.Register(flags);
  flags.Int("report-threshold", &config.report_threshold, 1, 100,
            "distinct organisations whose reports hide an item");
  if (auto exit_code =
          jalon::ParseServiceFlags(flags, config.common, argc, argv,
                                   [&] { return config.roadmap.Validate(); })) {
    return *exit_code;
  }
  jalon::BlockStopSignals();
  jalon::TuneForServing();
  jalon::InitServiceLogging("feedback", flags, config.common);

  auto redis_options = config.common.Redis();
  jalon::RedisClient redis(*redis_options);
  auto channel =
      jalon::Dial(config.roadmap.roadmap_address,
                  jalon::roadmap::v1::RoadmapService::service_full_name());
  jalon::RoadmapClient roadmap(channel, config.roadmap.roadmap_token,
                               config.roadmap.roadmap_deadline);
  auto verifier = jalon::VerifierAskingRoadmap(
      &roadmap, config.common.auth_cache_ttl, *redis_options);
  jalon::Executor executor(config.common.workers, config.common.max_queue);
  jalon::feedback::FeedbackStore store(
      &redis,
      {jalon::feedback::Keys::Stream(), jalon::feedback::Keys::WakeupChannel(),
       config.common.stream_max_len});
  jalon::feedback::FeedbackService service(
      &store, &roadmap, jalon::Clock::Real(), {config.report_threshold});

  // The consumer blocks on XREADGROUP: it gets connections of its own.
  jalon::RedisOptions consumer_redis = *redis_options;
  consumer_redis.pool_size = 2;
  jalon::RedisClient consumer_client(consumer_redis);
  jalon::StreamConsumer consumer(
      &consumer_client,
      config.roadmap.Consumer(config.common, "jalon:roadmap:events", "feedback",
                              jalon::feedback::Keys::DeadLetters()),
      [&service](const jalon::StreamEntry& e) {
        return service.ApplyRoadmapEvent(e);
      });
  config.roadmap.RedriveIfAsked(consumer);
  consumer.Start();

  jalon::ServerHost host(config.common, "jalon.feedback.v1.FeedbackService",
                         &redis);
  jalon::RpcEnv env{&executor, verifier.get(), "feedback.jalon",
                    host.inflight()};
  jalon::feedback::FeedbackGrpcService grpc_service(&service, env);
  host.AddService(&grpc_service);
  if (auto s = host.Start(); !s.ok()) {
    spdlog::critical("msg=start_failed error={}", s.message());
    return 1;
  }
  std::cout << "jalon-feedback listening on port " << host.port() << std::endl;
  int sig = jalon::WaitForStopSignal();
  spdlog::info("msg=stop_signal signal={}", sig);
  host.Shutdown();
  consumer.Stop();
  executor.Shutdown();
  return 0;
}
