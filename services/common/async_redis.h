// A non-blocking Redis client for the request path: commands are queued
// from any thread and never block it; each of a few event-loop threads owns
// one connection, pipelines every command queued while it was busy into one
// write, and runs each command's callback on its own thread when the reply
// arrives. So a gRPC reaction can start a command and return, and the
// callback finishes the call: no thread hand-off, no thread parked per
// command, and one syscall carries many commands in each direction.
//
// Same guarantees as RedisClient: binary-safe arguments, a deadline on every
// command, a broken or timed-out connection discarded (every command on it
// fails UNAVAILABLE) and reconnected with capped backoff, AUTH and SELECT
// from RedisOptions, scripts by SHA with a fallback to EVAL after NOSCRIPT.
// Not for blocking commands (XREADGROUP BLOCK, BLPOP...): one would stall
// every command behind it. Those stay on RedisClient's pool.
//
// Callbacks must be short and must not block: they run on the loop thread.
// They may queue further commands. Thread-safe.
#ifndef JALON_SERVICES_COMMON_ASYNC_REDIS_H_
#define JALON_SERVICES_COMMON_ASYNC_REDIS_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "services/common/redis.h"

namespace jalon {

class AsyncRedis {
 public:
  // Called exactly once, on a loop thread (or on the caller's thread when
  // the client is stopped). A Redis error reply is a kError reply, as with
  // RedisClient; transport failures are UNAVAILABLE.
  using Callback = absl::AnyInvocable<void(absl::StatusOr<RedisReply>) &&>;

  // Starts `loops` threads, each with its own connection (made lazily).
  // At most `max_pending` commands are queued or in flight at once; past
  // that a command fails at once, UNAVAILABLE ("server overloaded").
  AsyncRedis(RedisOptions options, int loops, size_t max_pending = 100'000);
  // Stops the loops; commands still queued or in flight fail UNAVAILABLE.
  ~AsyncRedis();
  AsyncRedis(const AsyncRedis&) = delete;
  AsyncRedis& operator=(const AsyncRedis&) = delete;

  void Command(const RedisArgs& args, Callback done);
  // EVALSHA; `script` must outlive the call (scripts are static). After a
  // NOSCRIPT (Redis restarted or flushed its scripts) the
  // command is sent again as EVAL, which also caches the script.
  void Eval(const RedisScript& script, const RedisArgs& keys,
            const RedisArgs& args, Callback done);

  // Blocking forms for code that may block (executor workers, tests).
  absl::StatusOr<RedisReply> CommandSync(const RedisArgs& args);
  absl::StatusOr<RedisReply> EvalSync(const RedisScript& script,
                                      const RedisArgs& keys,
                                      const RedisArgs& args);

  const RedisOptions& options() const { return options_; }

 private:
  class Loop;
  // The RESP encoding of one command, built on the caller's thread.
  static std::string Format(const RedisArgs& args);
  void Send(std::string command, Callback done);

  RedisOptions options_;
  const size_t max_pending_;
  std::atomic<size_t> pending_{0};
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<unsigned> next_{0};
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_ASYNC_REDIS_H_
