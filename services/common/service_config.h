// The settings every Jalon service takes, with their flags and JALON_*
// variables. A service adds its own on the same Flags object.
#ifndef JALON_SERVICES_COMMON_SERVICE_CONFIG_H_
#define JALON_SERVICES_COMMON_SERVICE_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "services/common/config.h"
#include "services/common/redis.h"
#include "services/common/stream_consumer.h"

namespace jalon {

struct ServiceConfig {
  std::string listen = "127.0.0.1:50051";
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string redis_password;  // from --redis-password-file
  int redis_pool_size = 16;
  std::chrono::milliseconds redis_connect_timeout{500};
  std::chrono::milliseconds redis_timeout{2000};
  int workers = 16;
  int max_queue = 10000;
  std::string log_level = "info";
  std::chrono::milliseconds grace_period{10000};
  std::chrono::milliseconds health_interval{1000};
  std::chrono::milliseconds auth_cache_ttl{1000};
  int64_t stream_max_len = 1'000'000;
  int max_message_bytes = 4 << 20;
  std::chrono::milliseconds keepalive_time{30000};
  std::chrono::milliseconds max_connection_age{0};
  std::string time_zone = "UTC";

  void Register(Flags& flags);
  // Cross-field checks after parsing; the status names the flag.
  absl::Status Validate() const;
  absl::StatusOr<RedisOptions> Redis() const;
};

// What the services other than jalon-roadmap need to work beside it: where
// it is and the token they ask it with (it owns the directory of tokens and
// the actions), and how their replicas share the event streams they read.
struct RoadmapLinkConfig {
  std::string roadmap_address = "127.0.0.1:50051";
  std::string roadmap_token;  // from --roadmap-token-file
  std::chrono::milliseconds roadmap_deadline{2000};
  std::string consumer_name;  // default: <hostname>-<pid>
  std::chrono::milliseconds claim_min_idle{30000};
  bool redrive_dead_letters = false;

  RoadmapLinkConfig();
  void Register(Flags& flags);
  // The status names the flag.
  absl::Status Validate() const;
  // A consumer of `stream` in `group` for this replica. It blocks for less
  // than `common`'s Redis timeout, or every idle poll would time out and
  // drop its connection.
  ConsumerOptions Consumer(const ServiceConfig& common, std::string stream,
                           std::string group, std::string dead_letter) const;
  // With --redrive-dead-letters, applies `consumer`'s dead letters again
  // before it starts (see StreamConsumer::RedriveDeadLetters).
  void RedriveIfAsked(StreamConsumer& consumer) const;
};

// Starts logging for `service` at `common`'s level, then warns once for
// each JALON_* variable `flags` ignores (a misspelt setting is otherwise
// silently left at its default).
void InitServiceLogging(std::string_view service, const Flags& flags,
                        const ServiceConfig& common);

// Parses the command line into `flags`, then checks `common` and `check`
// (the service's own cross-field rules). The exit code when the process
// should stop: 0 after printing --help, 2 after printing the error as
// "<program>: <message>"; nullopt to go on.
std::optional<int> ParseServiceFlags(
    Flags& flags, const ServiceConfig& common, int argc, char** argv,
    const std::function<absl::Status()>& check = nullptr);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_SERVICE_CONFIG_H_
