// jalon-roadmap: the roadmap service binary. Wiring only: configuration,
// logging, Redis, auth, the service and its gRPC host, then a graceful stop
// on SIGTERM or SIGINT.
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <stop_token>
#include <thread>

#include "absl/strings/ascii.h"
#include "services/common/async_redis.h"
#include "services/common/auth.h"
#include "services/common/clock.h"
#include "services/common/config.h"
#include "services/common/entity_cache.h"
#include "services/common/executor.h"
#include "services/common/ids.h"
#include "services/common/logging.h"
#include "services/common/server.h"
#include "services/common/service_config.h"
#include "services/roadmap/grpc_service.h"
#include "services/roadmap/service.h"
#include "services/roadmap/store.h"

namespace {

struct RoadmapConfig {
  jalon::ServiceConfig common;
  std::string bootstrap_admin_token_file;
  std::string bootstrap_organization = "Fédération (administration Jalon)";
  std::string service_token_file;
  // Event loops of the non-blocking Redis client that serves the hot RPCs.
  int redis_loops = 2;
  // Entities kept by this replica for its Gets (0: none), and for how long
  // at most.
  int entity_cache_size = 10000;
  std::chrono::milliseconds entity_cache_ttl{1000};
};

// Writes the secret to `path`, readable by its owner only: into a
// temporary file of its own (a twin process starting at the same time has
// its own), then renamed into place. Nothing is left behind on failure.
bool WriteSecretFile(const std::string& path, const std::string& secret) {
  std::string tmp = path + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());  // mode 0600
  if (fd < 0) return false;
  const std::string line = secret + "\n";
  bool ok = true;
  for (size_t done = 0; ok && done < line.size();) {
    const ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n == 0 || errno != EINTR) {
      ok = false;
    }
  }
  ok = ::close(fd) == 0 && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) == 0) return true;
  std::remove(tmp.c_str());
  return false;
}

// The first line of a secret file; empty if there is none.
std::string ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  std::string secret;
  std::getline(in, secret);
  return std::string(absl::StripAsciiWhitespace(secret));
}

// The secret in `pending`, put there by this call if there was none. It is
// made exclusively (a link), so processes that start together on one file
// share one secret, and none can replace another's.
std::string PendingSecret(const std::string& pending) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (std::string s = ReadSecretFile(pending); !s.empty()) return s;
    const std::string mine = jalon::NewTokenSecret();
    const std::string tmp = pending + "." + std::to_string(getpid());
    if (!WriteSecretFile(tmp, mine)) return "";
    const int linked = ::link(tmp.c_str(), pending.c_str());
    const int link_error = errno;
    std::remove(tmp.c_str());
    if (linked == 0) return mine;
    if (link_error != EEXIST) return "";
  }
  return "";
}

// Calls `f` again while it fails UNAVAILABLE, for about 30 s: Redis may
// still be starting (a first deployment starts everything together).
template <typename F>
auto WhileRedisStarts(F f) -> decltype(f()) {
  auto result = f();
  for (int i = 1; i < 60 && absl::IsUnavailable(result.status()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    result = f();
  }
  return result;
}

// Runs service.IndexRoadmapCopilots() until it succeeds or `stop` is
// requested, waiting between attempts with a capped backoff: Redis may be
// away at start, and the process serves meanwhile.
void IndexCopilotsUntilDone(jalon::roadmap::RoadmapService& service,
                            std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any wake;
  auto delay = std::chrono::milliseconds(200);
  while (!stop.stop_requested()) {
    auto written = service.IndexRoadmapCopilots();
    if (written.ok()) {
      if (*written > 0) {
        spdlog::info("msg=roadmap_copilots_indexed roadmaps={}", *written);
      }
      return;
    }
    spdlog::warn("msg=roadmap_copilots_index_failed error={} retry_ms={}",
                 written.status().message(), delay.count());
    std::unique_lock lock(mu);
    wake.wait_for(lock, stop, delay, [] { return false; });
    delay = std::min(delay * 2, std::chrono::milliseconds(10'000));
  }
}

}  // namespace

int main(int argc, char** argv) {
  RoadmapConfig config;
  jalon::Flags flags("jalon-roadmap",
                     "The Jalon roadmap service: organisations, tokens, "
                     "roadmaps, ecosystems, indicators and actions.");
  config.common.Register(flags);
  flags.String("bootstrap-admin-token-file", &config.bootstrap_admin_token_file,
               "if no admin token exists yet, create one and write its "
               "secret to this file (mode 0600)");
  flags.String("bootstrap-organization", &config.bootstrap_organization,
               "name of the organisation the bootstrap admin belongs to");
  flags.String("service-token-file", &config.service_token_file,
               "unless this file holds a token this Redis knows, issue a "
               "reader token for the other Jalon services (they ask this "
               "service which actions exist) and write it there (mode "
               "0600); needs the bootstrap organisation (a first start "
               "with --bootstrap-admin-token-file)");
  flags.Int("redis-loops", &config.redis_loops, 1, 64,
            "event loops of the non-blocking Redis client that serves the "
            "Gets and the action writes; each is one thread with one "
            "pipelined connection");
  flags.Int("entity-cache-size", &config.entity_cache_size, 0, 10'000'000,
            "entities this replica keeps for its Gets and updates (those it "
            "read or wrote), invalidated by every commit's PUBLISH (0: every "
            "Get reads Redis)");
  flags.Duration("entity-cache-ttl", &config.entity_cache_ttl,
                 std::chrono::milliseconds(0), std::chrono::hours(1),
                 "the longest a cached entity is served: the bound on a "
                 "stale Get if invalidations stop arriving unnoticed");
  if (auto exit_code =
          jalon::ParseServiceFlags(flags, config.common, argc, argv)) {
    return *exit_code;
  }
  jalon::BlockStopSignals();
  jalon::TuneForServing();
  jalon::InitServiceLogging("roadmap", flags, config.common);

  auto redis_options = config.common.Redis();
  jalon::RedisClient redis(*redis_options);
  // Declared before everything that serves calls, so it outlives them.
  jalon::AsyncRedis async_redis(*redis_options, config.redis_loops,
                                config.common.max_queue);
  jalon::TokenVerifier verifier(&redis,
                                {jalon::roadmap::Keys::TokenHashPrefix(),
                                 jalon::roadmap::Keys::RevocationChannel(),
                                 config.common.auth_cache_ttl});
  verifier.StartRevocationListener(*redis_options);
  jalon::Executor executor(config.common.workers, config.common.max_queue);
  jalon::EntityCache cache(
      {static_cast<size_t>(config.entity_cache_size), config.entity_cache_ttl});
  if (config.entity_cache_size > 0) {
    cache.StartListener(*redis_options, jalon::roadmap::Keys::WakeupChannel());
  }
  jalon::roadmap::RoadmapStore store(
      &redis,
      {jalon::roadmap::Keys::Stream(), jalon::roadmap::Keys::WakeupChannel(),
       config.common.stream_max_len},
      &async_redis, &cache);
  jalon::roadmap::RoadmapService service(&store, jalon::Clock::Real());
  std::jthread index_copilots([&service](std::stop_token stop) {
    IndexCopilotsUntilDone(service, stop);
  });

  if (!config.bootstrap_admin_token_file.empty()) {
    // The secret is on disk before it is committed, in a pending file that
    // a later start reuses: whatever happens in between (a lost answer, a
    // kill), the admin token's secret is never lost with the token kept.
    const std::string& path = config.bootstrap_admin_token_file;
    const std::string pending = path + ".pending";
    const std::string candidate = PendingSecret(pending);
    if (candidate.empty()) {
      spdlog::critical(
          "msg=bootstrap_failed error=cannot_write_token_file path={}",
          pending);
      return 1;
    }
    absl::StatusOr<std::string> secret = WhileRedisStarts([&] {
      return service.BootstrapAdmin(config.bootstrap_organization, candidate);
    });
    if (!secret.ok()) {
      spdlog::critical("msg=bootstrap_failed error={}",
                       secret.status().message());
      return 1;
    }
    if (secret->empty()) {
      std::remove(pending.c_str());
      spdlog::info("msg=bootstrap_skipped reason=admin_exists");
    } else if (std::rename(pending.c_str(), path.c_str()) != 0 &&
               ReadSecretFile(path) != candidate) {  // a twin renamed it
      spdlog::critical(
          "msg=bootstrap_failed error=cannot_write_token_file path={}", path);
      return 1;
    } else {
      spdlog::info("msg=bootstrap_admin_created token_file={}", path);
    }
  }

  // A services token is (re)issued when the file is missing, or when it
  // holds a token this Redis does not know (e.g. the data was reset).
  auto service_token_valid = [&]() {
    const std::string secret = ReadSecretFile(config.service_token_file);
    if (secret.empty()) return false;
    // Only a definite "unknown token" replaces it, not an unreachable Redis.
    return !absl::IsUnauthenticated(
        verifier.Verify("Bearer " + secret).status());
  };
  if (!config.service_token_file.empty() && !service_token_valid()) {
    auto secret = WhileRedisStarts(
        [&] { return service.IssueServiceToken("jalon-services"); });
    if (!secret.ok() || !WriteSecretFile(config.service_token_file, *secret)) {
      spdlog::critical("msg=service_token_failed error={}",
                       secret.ok() ? "cannot write the file"
                                   : std::string(secret.status().message()));
      return 1;
    }
    spdlog::info("msg=service_token_created token_file={}",
                 config.service_token_file);
  }

  jalon::ServerHost host(config.common, "jalon.roadmap.v1.RoadmapService",
                         &redis);
  jalon::RpcEnv env{&executor, &verifier, "roadmap.jalon", host.inflight()};
  jalon::roadmap::RoadmapGrpcService grpc_service(&service, env);
  host.AddService(&grpc_service);
  if (auto s = host.Start(); !s.ok()) {
    spdlog::critical("msg=start_failed error={}", s.message());
    return 1;
  }
  // Scripts and tests wait for this line on stdout.
  std::cout << "jalon-roadmap listening on port " << host.port() << std::endl;
  int sig = jalon::WaitForStopSignal();
  spdlog::info("msg=stop_signal signal={}", sig);
  host.Shutdown();
  executor.Shutdown();
  return 0;
}
