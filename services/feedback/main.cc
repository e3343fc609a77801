// jalon-feedback: the member feedback service binary. Wiring only:
// configuration, logging, Redis, the roadmap client (directory of tokens,
// actions), the consumer of the roadmap's action events, the service and
// its gRPC host, then a graceful stop on SIGTERM or SIGINT.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
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
  std::string roadmap_address = "127.0.0.1:50051";
  std::string roadmap_token;  // from --roadmap-token-file
  std::chrono::milliseconds roadmap_deadline{2000};
  int report_threshold = 3;
  std::string consumer_name;
  std::chrono::milliseconds claim_min_idle{30000};
};

}  // namespace

int main(int argc, char** argv) {
  FeedbackConfig config;
  config.common.listen = "127.0.0.1:50052";
  char hostname[256] = {0};
  gethostname(hostname, sizeof hostname - 1);
  config.consumer_name = std::string(hostname) + "-" + std::to_string(getpid());
  jalon::Flags flags("jalon-feedback",
                     "The Jalon feedback service: consultations, member "
                     "feedback, endorsements, moderation, partnerships.");
  config.common.Register(flags);
  flags.String("roadmap-address", &config.roadmap_address,
               "gRPC address of the roadmap service, HOST:PORT");
  flags.SecretFile("roadmap-token-file", &config.roadmap_token,
                   "file holding this service's token for the roadmap "
                   "service (a reader token; required)");
  flags.Duration("roadmap-deadline", &config.roadmap_deadline,
                 "deadline of each call to the roadmap service");
  flags.Int("report-threshold", &config.report_threshold, 1, 100,
            "distinct organisations whose reports hide an item");
  flags.String("consumer-name", &config.consumer_name,
               "this replica's name in the roadmap events consumer group "
               "(unique per replica)");
  flags.Duration("claim-min-idle", &config.claim_min_idle,
                 "how long an event may stay unacknowledged by a replica "
                 "before another one takes it over");
  if (auto s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << "jalon-feedback: " << s.message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return 0;
  }
  if (auto s = config.common.Validate(); !s.ok()) {
    std::cerr << "jalon-feedback: " << s.message() << "\n";
    return 2;
  }
  if (config.roadmap_token.empty()) {
    std::cerr << "jalon-feedback: --roadmap-token-file "
                 "(JALON_ROADMAP_TOKEN_FILE) is required: a token the "
                 "roadmap service issued for this service\n";
    return 2;
  }
  jalon::BlockStopSignals();
  jalon::TuneForServing();
  jalon::InitLogging("feedback", config.common.log_level);

  auto redis_options = config.common.Redis();
  jalon::RedisClient redis(*redis_options);
  auto channel =
      jalon::Dial(config.roadmap_address,
                  jalon::roadmap::v1::RoadmapService::service_full_name());
  jalon::RoadmapClient roadmap(channel, config.roadmap_token,
                               config.roadmap_deadline);
  // Tokens belong to the roadmap service's directory: ask it, cache for the
  // TTL, and drop revoked ones as soon as it announces them.
  jalon::TokenVerifier verifier(
      [&roadmap](std::string_view token, const std::string&) {
        return roadmap.Principal(token);
      },
      {"", "jalon:roadmap:revocations", config.common.auth_cache_ttl});
  verifier.StartRevocationListener(*redis_options);
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
      {"jalon:roadmap:events", "feedback", config.consumer_name,
       jalon::feedback::Keys::DeadLetters(), 100,
       // Block for less than the Redis timeout, or every idle poll would
       // time out and drop its connection.
       std::min(std::chrono::milliseconds(1000),
                config.common.redis_timeout / 2),
       config.claim_min_idle, 5},
      [&service](const jalon::StreamEntry& e) {
        return service.ApplyRoadmapEvent(e);
      });
  consumer.Start();

  jalon::ServerHost host(config.common, "jalon.feedback.v1.FeedbackService",
                         &redis);
  jalon::RpcEnv env{&executor, &verifier, "feedback.jalon", host.inflight()};
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
