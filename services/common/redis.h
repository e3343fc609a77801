// A small, thread-safe Redis client over hiredis: a pool of synchronous
// connections, each call with its connect and command timeouts, arguments
// always passed binary-safe (redisCommandArgv), Lua scripts called by SHA and
// reloaded after NOSCRIPT, and a broken connection discarded and reconnected
// with capped exponential backoff. Calls block the calling thread, so they
// run on an Executor, never on a gRPC reaction thread.
#ifndef JALON_SERVICES_COMMON_REDIS_H_
#define JALON_SERVICES_COMMON_REDIS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct redisContext;
struct redisReply;

namespace jalon {

// A Redis reply, copied out of hiredis so it can outlive the connection.
class RedisReply {
 public:
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };

  RedisReply() = default;
  static RedisReply FromHiredis(const redisReply* r);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::kNil; }
  bool is_error() const { return type_ == Type::kError; }
  bool is_array() const { return type_ == Type::kArray; }
  int64_t integer() const { return integer_; }
  // The bytes of a string, status or error reply.
  const std::string& str() const { return str_; }
  const std::vector<RedisReply>& elements() const { return elements_; }
  // In a flat key/value array (XINFO STREAM, each group of XINFO GROUPS):
  // the value after `key`; null when there is none.
  const RedisReply* Field(std::string_view key) const {
    for (size_t i = 0; i + 1 < elements_.size(); i += 2) {
      if (elements_[i].str() == key) return &elements_[i + 1];
    }
    return nullptr;
  }

 private:
  Type type_ = Type::kNil;
  int64_t integer_ = 0;
  std::string str_;
  std::vector<RedisReply> elements_;
};

using RedisArgs = std::vector<std::string>;

// The status a client gets for an error reply from Redis; the reply itself
// is logged, never sent. A write Redis refused because it is out of memory
// (maxmemory with noeviction) is RESOURCE_EXHAUSTED / STORAGE_FULL:
// nothing changed, and it will not succeed until an operator makes room.
// A Redis that cannot serve for a while (LOADING, BUSY, READONLY...) is
// UNAVAILABLE, as an unreachable one is: retry later. Anything else is
// INTERNAL "internal storage error". `what` names the command or script in
// the log line.
absl::Status StatusOfErrorReply(const RedisReply& reply,
                                std::string_view what = "command");

// Whether `reply` is the error XINFO answers about a key that does not
// exist (a stream not created yet), which is no failure.
bool IsNoSuchKeyReply(const RedisReply& reply);

// A reply, or, when Redis answered with an error reply, the status it
// stands for: for reads whose error must not pass for absent or empty data
// (a BUSY Redis is not a missing key). `what` names the call in the log.
absl::StatusOr<RedisReply> Checked(absl::StatusOr<RedisReply> reply,
                                   std::string_view what);
// The same for a pipeline: the first error reply among them.
absl::StatusOr<std::vector<RedisReply>> Checked(
    absl::StatusOr<std::vector<RedisReply>> replies, std::string_view what);

// Where and how to reach Redis. The password is read from a file by the
// caller (see Config) and never logged.
struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds connect_timeout{500};
  std::chrono::milliseconds command_timeout{2000};
  int pool_size = 8;
  std::chrono::milliseconds min_backoff{50};
  std::chrono::milliseconds max_backoff{2000};

  // Parses "redis://host:port/db" or "host:port". A password in the URL is
  // rejected: it belongs in a file (JALON_REDIS_PASSWORD_FILE).
  absl::Status ParseUrl(std::string_view url);
  // "host:port/db" for log lines (never the password).
  std::string Describe() const;
};

// The wait between failed connects of one connection: min_backoff after the
// first failure, doubling up to max_backoff, none again after a success.
// Every Redis client here reconnects this way. Not thread-safe.
class Backoff {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Backoff(const RedisOptions& options)
      : min_(options.min_backoff), max_(options.max_backoff) {}
  // Whether a connect may be tried at `now`.
  bool Ready(Clock::time_point now) const { return now >= retry_at_; }
  // A connect failed at `now`: the next one waits longer, up to the cap.
  void Failed(Clock::time_point now) {
    delay_ = delay_.count() == 0 ? min_ : std::min(delay_ * 2, max_);
    retry_at_ = now + delay_;
  }
  // Connected: a later failure starts from min_backoff again.
  void Succeeded() { delay_ = std::chrono::milliseconds(0); }
  // A working connection broke: try again at once (if that fails, the wait
  // starts).
  void RetryNow() { retry_at_ = {}; }
  // The current wait; 0 when the last connect succeeded.
  std::chrono::milliseconds delay() const { return delay_; }

 private:
  std::chrono::milliseconds min_, max_;
  std::chrono::milliseconds delay_{0};
  Clock::time_point retry_at_{};
};

// A Lua script and its SHA1, called with EVALSHA.
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha() const { return sha_; }

 private:
  std::string source_;
  std::string sha_;
};

// A pool of connections. Thread-safe. A command that fails at the transport
// level (refused, timed out, closed) returns UNAVAILABLE with a generic
// message; the Redis error text is logged here, never returned to clients.
// Redis error replies (e.g. WRONGTYPE) are returned as kError replies.
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // One command, one round trip.
  absl::StatusOr<RedisReply> Command(const RedisArgs& args);
  // Several commands sent together: one round trip.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<RedisArgs>& commands);
  // EVALSHA, loading the script first if Redis answers NOSCRIPT.
  absl::StatusOr<RedisReply> Eval(const RedisScript& script,
                                  const RedisArgs& keys, const RedisArgs& args);
  // PING; OK when Redis answered PONG.
  absl::Status Ping();

  const RedisOptions& options() const { return options_; }
  // Round trips started so far (a pipeline is one), for tests and metrics.
  uint64_t round_trips() const {
    return round_trips_.load(std::memory_order_relaxed);
  }

 private:
  struct Slot {
    explicit Slot(const RedisOptions& options) : backoff(options) {}
    redisContext* ctx = nullptr;
    Backoff backoff;
  };
  class Lease;

  Slot* Acquire();
  void Release(Slot* slot);
  // Connects the slot if needed; UNAVAILABLE while it is backing off.
  absl::Status Ensure(Slot* slot);
  void Discard(Slot* slot, std::string_view why);
  // Sends `n` commands in one round trip (no copy of their arguments).
  absl::StatusOr<std::vector<RedisReply>> RunPipeline(
      Slot* slot, const RedisArgs* const* commands, size_t n);
  absl::StatusOr<std::vector<RedisReply>> Run(const RedisArgs* const* commands,
                                              size_t n);

  RedisOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_;
  std::atomic<uint64_t> round_trips_{0};
};

// Connects a fresh hiredis context with the options' timeouts, AUTH and
// SELECT. Returns nullptr (and logs why) on failure.
redisContext* ConnectRedis(const RedisOptions& options);

// A pub/sub subscriber on its own connection and thread. Messages are at
// most once: when the subscription is lost and again once it is back,
// `on_reconnect` runs, so a user that caches can drop what it might have
// missed an invalidation for. A connection that goes silent (no reply to a
// PING sent after `ping_every` of quiet, within the command timeout) counts
// as lost, so a dead peer is noticed without waiting for TCP.
class RedisSubscriber {
 public:
  using MessageFn =
      std::function<void(const std::string& channel, const std::string& msg)>;

  RedisSubscriber(RedisOptions options, std::vector<std::string> channels,
                  MessageFn on_message, std::function<void()> on_reconnect);
  ~RedisSubscriber();
  void Start();
  void Stop();
  // True once subscribed, false while disconnected.
  bool connected() const { return connected_.load(); }
  // Before Start(); default 1 s.
  void set_ping_every(std::chrono::milliseconds d) { ping_every_ = d; }

 private:
  void Run();
  // Reads what arrived; false when the connection broke.
  bool ReadMessages(redisContext* ctx, size_t* confirmed);

  RedisOptions options_;
  std::vector<std::string> channels_;
  MessageFn on_message_;
  std::function<void()> on_reconnect_;
  std::chrono::milliseconds ping_every_{1000};
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_REDIS_H_
