// jalon-reporting: the ministry reporting service binary. Wiring only:
// configuration, logging, Redis, the roadmap client (directory of tokens),
// the consumers of the roadmap and feedback events that keep the read
// models, the periodic duties, the service with its gRPC host and HTTP
// front, then a graceful stop on SIGTERM or SIGINT.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

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
#include "services/reporting/grpc_service.h"
#include "services/reporting/http.h"
#include "services/reporting/read_model.h"
#include "services/reporting/service.h"

namespace {

struct ReportingConfig {
  jalon::ServiceConfig common;
  std::string http_listen = "127.0.0.1:8080";
  std::string public_url;
  jalon::RoadmapLinkConfig roadmap;
  std::chrono::milliseconds tick_interval{10000};
  std::chrono::milliseconds feed_write_timeout{10000};
  std::chrono::milliseconds feed_progress_every{10000};
  int max_watchers = 256;
  int green_percent = 95;
  int amber_percent = 80;
  bool rebuild = false;
};

}  // namespace

int main(int argc, char** argv) {
  ReportingConfig config;
  config.common.listen = "127.0.0.1:50053";
  jalon::Flags flags("jalon-reporting",
                     "The Jalon reporting service: read models of the roadmap "
                     "and feedback, reports to the ministry and their "
                     "exports, status feeds (gRPC and Atom over HTTP).");
  config.common.Register(flags);
  flags.String("http-listen", &config.http_listen,
               "HTTP address (Atom feed, report exports, /healthz), "
               "HOST:PORT");
  flags.String("public-url", &config.public_url,
               "absolute base URL of the HTTP front in feed links "
               "(default: http://<http-listen>)");
  config.roadmap.Register(flags);
  flags.Duration("tick-interval", &config.tick_interval,
                 std::chrono::milliseconds(10), std::chrono::hours(1),
                 "how often late actions, indicator ratings and report "
                 "schedules are checked");
  flags.Duration("feed-write-timeout", &config.feed_write_timeout,
                 std::chrono::milliseconds(10), std::chrono::hours(1),
                 "how long a WatchStatus client may leave a message unread "
                 "before it is cut off with RESOURCE_EXHAUSTED (it can "
                 "resume); as long again to take that message, or the call "
                 "is cancelled");
  flags.Duration("feed-progress-every", &config.feed_progress_every,
                 std::chrono::milliseconds(10), std::chrono::hours(1),
                 "how often, at most, a WatchStatus client whose filter left "
                 "updates out is sent how far its watch has read (a message "
                 "with only a cursor)");
  flags.Int("max-watchers", &config.max_watchers, 1, 100000,
            "concurrent WatchStatus streams");
  flags.Int("green-threshold", &config.green_percent, 1, 1000,
            "attainment against the trajectory, in percent, from which an "
            "indicator is GREEN");
  flags.Int("amber-threshold", &config.amber_percent, 0, 1000,
            "attainment against the trajectory, in percent, from which an "
            "indicator is AMBER (below: RED)");
  flags.Bool("rebuild", &config.rebuild,
             "recompute every read model from the streams before serving");
  if (auto exit_code = jalon::ParseServiceFlags(
          flags, config.common, argc, argv, [&]() -> absl::Status {
            if (config.amber_percent > config.green_percent) {
              return absl::InvalidArgumentError(
                  "--amber-threshold (JALON_AMBER_THRESHOLD) must not exceed "
                  "--green-threshold");
            }
            return config.roadmap.Validate();
          })) {
    return *exit_code;
  }
  jalon::BlockStopSignals();
  jalon::TuneForServing();
  jalon::InitServiceLogging("reporting", flags, config.common);

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
  jalon::reporting::ReadModel models(&redis, config.common.stream_max_len);
  jalon::reporting::ReportingOptions options;
  options.thresholds.green = config.green_percent / 100.0;
  options.thresholds.amber = config.amber_percent / 100.0;
  options.stream_max_len = config.common.stream_max_len;
  jalon::reporting::ReportingService service(&redis, &models,
                                             jalon::Clock::Real(), options);
  if (config.rebuild) {
    auto stats = models.Rebuild();
    if (!stats.ok()) {
      spdlog::critical("msg=rebuild_failed error={}", stats.status().message());
      return 1;
    }
  }

  // Each consumer blocks on XREADGROUP: they get connections of their own.
  jalon::RedisOptions consumer_redis = *redis_options;
  consumer_redis.pool_size = 2;
  jalon::RedisClient roadmap_events(consumer_redis);
  jalon::RedisClient feedback_events(consumer_redis);
  auto apply = [&service](const jalon::StreamEntry& e) {
    return service.ApplySourceEntry(e);
  };
  jalon::StreamConsumer roadmap_consumer(
      &roadmap_events,
      config.roadmap.Consumer(config.common, jalon::reporting::kRoadmapStream,
                              jalon::reporting::kGroup,
                              jalon::reporting::Keys::DeadLetters("roadmap")),
      apply);
  jalon::StreamConsumer feedback_consumer(
      &feedback_events,
      config.roadmap.Consumer(config.common, jalon::reporting::kFeedbackStream,
                              jalon::reporting::kGroup,
                              jalon::reporting::Keys::DeadLetters("feedback")),
      apply);
  config.roadmap.RedriveIfAsked(roadmap_consumer);
  config.roadmap.RedriveIfAsked(feedback_consumer);
  roadmap_consumer.Start();
  feedback_consumer.Start();

  jalon::ServerHost host(config.common, "jalon.reporting.v1.ReportingService",
                         &redis);
  jalon::RpcEnv env{&executor, verifier.get(), "reporting.jalon",
                    host.inflight()};
  jalon::reporting::WatchOptions watch;
  watch.write_timeout = config.feed_write_timeout;
  watch.cutoff_grace = config.feed_write_timeout;
  watch.progress_every = config.feed_progress_every;
  watch.max_watchers = config.max_watchers;
  watch.redis = *redis_options;
  jalon::reporting::ReportingGrpcService grpc_service(&service, env, watch);
  host.AddService(&grpc_service);
  jalon::reporting::HttpFront http(&service, verifier.get(),
                                   {config.http_listen, config.public_url, 50});
  if (auto s = http.Start(); !s.ok()) {
    spdlog::critical("msg=start_failed error={}", s.message());
    return 1;
  }
  if (auto s = host.Start(); !s.ok()) {
    spdlog::critical("msg=start_failed error={}", s.message());
    http.Stop();
    return 1;
  }
  // Periodic duties, once serving (a failed start above has no thread to
  // stop).
  std::mutex tick_mu;
  std::condition_variable tick_cv;
  bool stopping = false;
  std::thread ticker([&] {
    std::unique_lock<std::mutex> lock(tick_mu);
    while (!tick_cv.wait_for(lock, config.tick_interval,
                             [&] { return stopping; })) {
      lock.unlock();
      if (auto s = service.Tick(); !s.ok()) {
        spdlog::warn("msg=tick_failed error={}", s.message());
      }
      lock.lock();
    }
  });
  std::cout << "jalon-reporting listening on port " << host.port() << " (http "
            << http.port() << ")" << std::endl;
  int sig = jalon::WaitForStopSignal();
  spdlog::info("msg=stop_signal signal={}", sig);
  grpc_service.StopWatchers();
  host.Shutdown();
  http.Stop();
  {
    std::lock_guard<std::mutex> lock(tick_mu);
    stopping = true;
  }
  tick_cv.notify_all();
  ticker.join();
  roadmap_consumer.Stop();
  feedback_consumer.Stop();
  executor.Shutdown();
  return 0;
}
