#include "services/common/service_config.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "services/common/dates.h"
#include "services/common/logging.h"

namespace jalon {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

void ServiceConfig::Register(Flags& f) {
  f.String("listen", &listen, "gRPC address to listen on, HOST:PORT");
  f.String("redis-url", &redis_url,
           "Redis to use, redis://HOST:PORT[/DB] (no password here)");
  f.SecretFile("redis-password-file", &redis_password,
               "file holding the Redis password (AUTH); unset: no AUTH");
  f.Int("redis-pool-size", &redis_pool_size, 1, 1024,
        "Redis connections in the pool");
  f.Duration("redis-connect-timeout", &redis_connect_timeout, milliseconds(10),
             minutes(1), "timeout of a Redis connect");
  // At least 10ms: a consumer blocks for half of it (BLOCK 0 would wait
  // forever), and a command needs a round trip.
  f.Duration("redis-timeout", &redis_timeout, milliseconds(10), minutes(1),
             "timeout of every Redis command");
  f.Int("workers", &workers, 1, 1024,
        "threads that run request handlers (and their Redis calls)");
  f.Int("max-queue", &max_queue, 1, 1'000'000,
        "requests queued for a worker (jalon-roadmap: also Redis commands "
        "pending on its non-blocking client) before new ones get "
        "UNAVAILABLE");
  f.String("log-level", &log_level, "trace, debug, info, warn, error or off");
  f.Duration("grace-period", &grace_period, milliseconds(0), hours(1),
             "on SIGTERM, how long in-flight calls may take to finish");
  f.Duration("health-interval", &health_interval, milliseconds(10), hours(1),
             "how often readiness pings Redis");
  f.Duration("auth-cache-ttl", &auth_cache_ttl, milliseconds(0), hours(1),
             "how long a verified token is trusted without asking Redis; "
             "bounds how late a revocation can take effect");
  f.Int64("stream-max-len", &stream_max_len, 10'000, int64_t{1} << 40,
          "approximate MAXLEN of the service's event stream");
  f.Int("max-message-bytes", &max_message_bytes, 1024, 64 << 20,
        "largest gRPC message accepted or sent");
  // gRPC takes these as int milliseconds: at most 24 days.
  f.Duration("keepalive-time", &keepalive_time, seconds(1), hours(24),
             "gRPC keepalive ping interval");
  f.String("time-zone", &time_zone,
           "time zone of calendar dates: today, lateness, on-time "
           "completion, report periods (a tz database name, e.g. "
           "Africa/Casablanca)");
  f.Duration("max-connection-age", &max_connection_age, milliseconds(0),
             hours(24 * 7),
             "close client connections after this age so they rebalance "
             "across replicas (0: never)");
}

absl::Status ServiceConfig::Validate() const {
  if (listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        "invalid --listen (JALON_LISTEN): expected HOST:PORT, e.g. "
        "127.0.0.1:50051");
  }
  if (auto r = Redis(); !r.ok()) return r.status();
  static const char* kLevels[] = {"trace", "debug",    "info", "warn",
                                  "error", "critical", "off"};
  bool level_ok = false;
  for (const char* l : kLevels) level_ok |= log_level == l;
  if (!level_ok) {
    return absl::InvalidArgumentError(
        "invalid --log-level (JALON_LOG_LEVEL): expected trace, debug, "
        "info, warn, error or off");
  }
  if (health_interval.count() < 10) {
    return absl::InvalidArgumentError(
        "invalid --health-interval (JALON_HEALTH_INTERVAL): at least 10ms");
  }
  return absl::OkStatus();
}

absl::StatusOr<RedisOptions> ServiceConfig::Redis() const {
  RedisOptions o;
  if (auto s = o.ParseUrl(redis_url); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --redis-url (JALON_REDIS_URL): ", s.message()));
  }
  o.password = redis_password;
  o.pool_size = redis_pool_size;
  o.connect_timeout = redis_connect_timeout;
  o.command_timeout = redis_timeout;
  return o;
}

RoadmapLinkConfig::RoadmapLinkConfig() {
  char hostname[256] = {0};
  gethostname(hostname, sizeof hostname - 1);
  consumer_name = absl::StrCat(hostname, "-", getpid());
}

void RoadmapLinkConfig::Register(Flags& f) {
  f.String("roadmap-address", &roadmap_address,
           "gRPC address of the roadmap service, HOST:PORT");
  f.SecretFile("roadmap-token-file", &roadmap_token,
               "file holding this service's token for the roadmap service "
               "(a reader token; required)");
  f.Duration("roadmap-deadline", &roadmap_deadline, milliseconds(10),
             minutes(10), "deadline of each call to the roadmap service");
  f.String("consumer-name", &consumer_name,
           "this replica's name in the consumer groups of the event "
           "streams it reads (unique per replica)");
  // At least a second: shorter, a replica takes over events another one
  // is still applying.
  f.Duration("claim-min-idle", &claim_min_idle, seconds(1), hours(24),
             "how long an event may stay unacknowledged by a replica before "
             "another one takes it over");
  f.Bool("redrive-dead-letters", &redrive_dead_letters,
         "at start, apply the events in the dead-letter streams again, and "
         "remove those that now apply (once their failure's cause is fixed)");
}

void RoadmapLinkConfig::RedriveIfAsked(StreamConsumer& consumer) const {
  if (!redrive_dead_letters) return;
  if (auto n = consumer.RedriveDeadLetters(); !n.ok()) {
    spdlog::error("msg=dead_letter_redrive_failed error={}",
                  LogValue(std::string(n.status().message())));
  }
}

absl::Status RoadmapLinkConfig::Validate() const {
  if (roadmap_token.empty()) {
    return absl::InvalidArgumentError(
        "--roadmap-token-file (JALON_ROADMAP_TOKEN_FILE) is required: a "
        "token the roadmap service issued for this service");
  }
  if (consumer_name.empty()) {
    return absl::InvalidArgumentError(
        "invalid --consumer-name (JALON_CONSUMER_NAME): must not be empty");
  }
  return absl::OkStatus();
}

ConsumerOptions RoadmapLinkConfig::Consumer(const ServiceConfig& common,
                                            std::string stream,
                                            std::string group,
                                            std::string dead_letter) const {
  ConsumerOptions o;
  o.stream = std::move(stream);
  o.group = std::move(group);
  o.consumer = consumer_name;
  o.dead_letter = std::move(dead_letter);
  o.block = std::min(milliseconds(1000), common.redis_timeout / 2);
  o.claim_min_idle = claim_min_idle;
  return o;
}

void InitServiceLogging(std::string_view service, const Flags& flags,
                        const ServiceConfig& common) {
  InitLogging(service, common.log_level);
  // jalonctl's settings (docs/cli.md) share the prefix and, on a machine
  // that runs both, the environment: they are no typo.
  static const char* const kJalonctl[] = {
      "JALON_CONFIG",           "JALON_CONTEXT",
      "JALON_FEEDBACK_ADDRESS", "JALON_REPORTING_ADDRESS",
      "JALON_ROADMAP_ADDRESS",  "JALON_TOKEN",
      "JALON_TOKEN_FILE"};
  for (const auto& name : flags.IgnoredEnvironment()) {
    if (std::find(std::begin(kJalonctl), std::end(kJalonctl), name) !=
        std::end(kJalonctl)) {
      continue;
    }
    spdlog::warn(
        "msg=environment_variable_ignored name={} reason=\"not a setting of "
        "{}; see --help\"",
        name, flags.program());
  }
}

std::optional<int> ParseServiceFlags(
    Flags& flags, const ServiceConfig& common, int argc, char** argv,
    const std::function<absl::Status()>& check) {
  absl::Status s = flags.Parse(argc, argv);
  if (s.ok() && flags.help_requested()) {
    std::cout << flags.Help();
    return 0;
  }
  if (s.ok()) s = common.Validate();
  if (s.ok()) {
    // Before any thread starts: every date the service computes follows it.
    if (auto z = SetDateTimeZone(common.time_zone); !z.ok()) {
      s = absl::InvalidArgumentError(
          absl::StrCat("invalid --time-zone (JALON_TIME_ZONE): ", z.message()));
    }
  }
  if (s.ok() && check) s = check();
  if (s.ok()) return std::nullopt;
  std::cerr << flags.program() << ": " << s.message() << "\n";
  return 2;
}

}  // namespace jalon
