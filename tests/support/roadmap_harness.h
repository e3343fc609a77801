// An in-process roadmap service for tests and the benchmark: a real
// redis-server, the real service wiring (Redis pool, token verifier,
// executor, store, gRPC adapter, server host) on a free loopback port, and a
// bootstrapped admin token. Helpers build authenticated client contexts and
// the usual fixture (the federation, the ministry, a member company, a
// roadmap with an ecosystem and an indicator). Not thread-safe to start and
// stop; the stubs it hands out are.
#ifndef JALON_TESTS_SUPPORT_ROADMAP_HARNESS_H_
#define JALON_TESTS_SUPPORT_ROADMAP_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/async_redis.h"
#include "services/common/auth.h"
#include "services/common/clock.h"
#include "services/common/entity_cache.h"
#include "services/common/executor.h"
#include "services/common/redis.h"
#include "services/common/server.h"
#include "services/roadmap/grpc_service.h"
#include "services/roadmap/service.h"
#include "services/roadmap/store.h"
#include "tests/support/redis_server.h"

namespace jalon::testing {

namespace rpb = ::jalon::roadmap::v1;

struct HarnessOptions {
  const Clock* clock = Clock::Real();
  std::chrono::milliseconds auth_cache_ttl{1000};
  std::chrono::milliseconds health_interval{100};
  int workers = 8;
  size_t max_queue = 10000;  // calls waiting for a worker
  int redis_pool_size = 8;
  int redis_loops = 2;
  std::chrono::milliseconds grace_period{5000};
  // As jalon-roadmap's defaults; size 0 turns the cache off.
  EntityCacheOptions entity_cache;
  // False: the cache gets no invalidations from Redis (a test makes it live
  // and stale by hand).
  bool entity_cache_listener = true;
  // True: another replica, on `shared_redis` (running); no server of its
  // own, no bootstrap admin.
  bool share_redis = false;
  RedisOptions shared_redis;
};

// Ids of the usual fixture.
struct Fixture {
  std::string federation, ministry, member;  // organisation ids
  std::string federation_copilot, ministry_copilot, member_token, reader_token;
  std::string roadmap, ecosystem, indicator;
};

class RoadmapHarness {
 public:
  explicit RoadmapHarness(HarnessOptions options = {});
  ~RoadmapHarness();

  // Starts Redis, then the service; bootstraps the admin token.
  absl::Status Start();
  // Stops the gRPC server (drain) and the executor; Redis keeps running.
  void StopService();

  RedisServer& redis_server() { return redis_server_; }
  RedisClient& redis() { return *redis_; }
  EntityCache& cache() { return *cache_; }
  roadmap::RoadmapService& service() { return *service_; }
  Executor& executor() { return *executor_; }
  ServerHost& host() { return *host_; }
  const std::string& admin_token() const { return admin_token_; }
  std::string target() const;
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<rpb::RoadmapService::Stub> Stub() const;

  // Issues a token for a principal of `org` with `role`; returns its secret.
  std::string IssueToken(const std::string& org, common::v1::Role role,
                         const std::string& name = "someone");
  // Revokes, as the admin, the token of `org` issued to `principal_name`.
  absl::Status RevokeToken(const std::string& org,
                           const std::string& principal_name);
  // Creates the usual fixture through the API.
  Fixture MakeFixture();

 private:
  HarnessOptions options_;
  RedisServer redis_server_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<AsyncRedis> async_redis_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<EntityCache> cache_;
  std::unique_ptr<roadmap::RoadmapStore> store_;
  std::unique_ptr<roadmap::RoadmapService> service_;
  std::unique_ptr<roadmap::RoadmapGrpcService> grpc_service_;
  std::unique_ptr<ServerHost> host_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string admin_token_;
};

// Calls any roadmap stub (a harness's, or one to a jalon-roadmap process)
// makes as `admin`; each fails the test when the call fails. The new
// organisation's id; the new token's secret.
std::string CreateOrganization(rpb::RoadmapService::Stub& stub,
                               const std::string& admin,
                               const std::string& name,
                               rpb::OrganizationKind kind);
std::string IssueToken(rpb::RoadmapService::Stub& stub,
                       const std::string& admin, const std::string& org,
                       common::v1::Role role, const std::string& name = "p");

// A client context with the bearer token, a deadline and a request id.
std::unique_ptr<grpc::ClientContext> Ctx(
    const std::string& token,
    std::chrono::milliseconds deadline = std::chrono::seconds(10));

// The jalon.common.v1.Date of y-m-d.
common::v1::Date D(int y, int m, int d);

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_ROADMAP_HARNESS_H_
