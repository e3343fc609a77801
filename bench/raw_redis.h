// The raw-Redis baseline: one command (an HMGET of one small hash) repeated
// at a given concurrency, (a) through RedisClient, the service's pool of
// blocking hiredis connections, one thread per concurrent caller, and (b)
// through hiredis' async API on a single connection driven by a poll() loop
// on one thread, keeping `concurrency` commands pipelined, and (c) through
// AsyncRedis, the service's own non-blocking client, with the service's
// number of loops. Each run blocks the calling thread for warm-up +
// measure.
#ifndef JALON_BENCH_RAW_REDIS_H_
#define JALON_BENCH_RAW_REDIS_H_

#include <chrono>

#include "bench/load.h"
#include "services/common/redis.h"

namespace jalon::bench {

struct RawRedisOptions {
  RedisOptions redis;
  RedisArgs command;
  int concurrency = 1;
  // Connections of the blocking pool: min(concurrency, max_pool).
  int max_pool = 16;
  // Event loops of AsyncRedis.
  int loops = 2;
  std::chrono::milliseconds warmup{500};
  std::chrono::milliseconds measure{3000};
};

RunResult RunBlockingPool(const RawRedisOptions& options);
RunResult RunAsyncPipelined(const RawRedisOptions& options);
RunResult RunAsyncRedis(const RawRedisOptions& options);

}  // namespace jalon::bench

#endif  // JALON_BENCH_RAW_REDIS_H_
