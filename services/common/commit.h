// The one write primitive of every service: a Mutation (checks, writes and
// exactly one event) applied by a single Lua script, so the entity change,
// its version bump and the XADD of its event to the service's stream commit
// together or not at all; a PUBLISH on the service's channel of the keys
// it changed then wakes live listeners and invalidates replicas' caches. Checks
// all run before any write, so a failed check writes nothing. Thread-safe
// (stateless; the RedisClient is thread-safe).
#ifndef JALON_SERVICES_COMMON_COMMIT_H_
#define JALON_SERVICES_COMMON_COMMIT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "services/common/async_redis.h"
#include "services/common/redis.h"

namespace jalon {

// Where a service's events go.
struct EventLog {
  std::string stream;  // e.g. "jalon:roadmap:events"
  // e.g. "jalon:roadmap:wakeup"; each commit publishes there the keys of
  // the entities it changed, one per line, as "<key> <version>" when the
  // commit put the entity at that version, else as "<key>".
  std::string channel;
  // Approximate MAXLEN of the stream (XADD MAXLEN ~). See
  // docs/architecture.md: sized so a consumer never falls behind it.
  int64_t max_len = 1'000'000;
};

// Entities are Redis hashes {v: version, d: serialized protobuf}.
class Mutation {
 public:
  // --- Checks (all evaluated before any write) ---
  // The entity at `key` must be at `version` (0: not yet written). On
  // mismatch: NOT_FOUND if it does not exist, else ABORTED naming `what`
  // (a concurrent writer won; the caller may read again and retry).
  void ExpectVersion(std::string key, int64_t version, std::string what);
  // `key` must not exist (a create); else ALREADY_EXISTS naming `what`.
  void ExpectAbsent(std::string key, std::string what);
  // `member` must be in the sorted set `key`; else INVALID_ARGUMENT naming
  // `field`, with `problem` as its description (default: a reference to
  // something that does not exist). `field` holds no newline.
  void RequireMember(std::string key, std::string member, std::string field,
                     std::string_view problem = {});
  // `key` must exist; else INVALID_ARGUMENT naming `field`.
  void RequireKey(std::string key, std::string field);
  // The sorted set `key` must be empty; else ALREADY_EXISTS naming `what`.
  void RequireEmpty(std::string key, std::string what);
  // Idempotent create: if `key` exists the commit writes nothing and returns
  // its value (the id created by the first attempt); else it is set to
  // `value` with a TTL.
  void Dedupe(std::string key, std::string value, int64_t ttl_seconds);

  // --- Writes ---
  // The entity at `key` becomes {v: version, d: data}. `whole`: the hash
  // has no other field (its state is exactly this), so the writing
  // replica's cache may keep it (EntityCache::Install).
  void Put(std::string key, int64_t version, std::string data,
           bool whole = false);
  void HashSet(std::string key, std::string field, std::string value);
  void HashDelete(std::string key, std::string field);
  void HashIncrement(std::string key, std::string field);
  void IndexAdd(std::string key, std::string member);  // ZADD key 0 member
  void IndexRemove(std::string key, std::string member);
  void Append(std::string key, std::string value);  // RPUSH
  void Set(std::string key, std::string value);
  void Delete(std::string key);
  // PUBLISH after the commit, e.g. a token revocation to every process.
  void Publish(std::string channel, std::string message);

  // A hash (entity) this mutation writes or deletes.
  struct Written {
    std::string key;
    // > 0: the mutation's only write to `key` is a Put at this version.
    int64_t version = 0;
    // With version > 0: that Put's data, and whether it was whole.
    std::string_view data;
    bool whole = false;
  };
  // In the order first written; `data` points into this mutation.
  std::vector<Written> WrittenHashes() const;

  // An event (a serialized jalon.events.v1.Event) to append. At least one
  // is required; several are appended in order.
  void AddEvent(std::string event) { events_.push_back(std::move(event)); }

 private:
  friend class Committer;
  struct Op {
    std::string code;
    std::string key;
    std::string a;
    std::string b;
    bool whole = false;  // a Put's
  };
  std::vector<Op> ops_;
  std::vector<std::string> events_;
};

struct CommitResult {
  bool duplicate = false;
  std::string duplicate_value;  // when duplicate
  std::string stream_id;        // when committed: the last event's id
};

// The `what` of the ExpectVersion check that failed, if a commit failed on
// one (lets a caller retry a stale internal guard but not a stale etag).
std::string StaleSubject(const absl::Status& status);

// Whether a commit that failed with `status` certainly changed nothing:
// its checks refused it (stale, missing, existing, invalid, storage full).
// Otherwise (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL) it may have run with
// its reply lost, and what it wrote may be there.
bool CommitRefused(const absl::Status& status);

// Applies mutations with one EVALSHA each.
class Committer {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<CommitResult>) &&>;

  // `async` (optional) serves CommitAsync.
  Committer(RedisClient* redis, EventLog log, AsyncRedis* async = nullptr);
  absl::StatusOr<CommitResult> Commit(const Mutation& m) const;
  // The same commit without blocking; `done` runs on an AsyncRedis loop.
  void CommitAsync(const Mutation& m, Callback done) const;
  const EventLog& log() const { return log_; }
  AsyncRedis* async() const { return async_; }

 private:
  // The script's KEYS and ARGV for a mutation.
  absl::Status BuildArgs(const Mutation& m, RedisArgs* keys,
                         RedisArgs* args) const;

  RedisClient* redis_;
  EventLog log_;
  AsyncRedis* async_;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_COMMIT_H_
