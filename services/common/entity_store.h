// A service's entities in Redis, under its own prefix ("jalon:<service>:"):
// each entity is a hash {v: version, d: serialized proto} at
// <prefix><kind>:<id>; lists are sorted-set indexes of ids (ULIDs, so
// lexicographic order is creation order). Reads are one round trip each;
// writes go through the Committer (one atomic script). With an
// EntityCache, GetAsync may answer from it (see entity_cache.h) and every
// commit drops the keys it wrote from it. Thread-safe.
#ifndef JALON_SERVICES_COMMON_ENTITY_STORE_H_
#define JALON_SERVICES_COMMON_ENTITY_STORE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/commit.h"
#include "services/common/entity_cache.h"
#include "services/common/redis.h"

namespace jalon {

// A page of ids from an index.
struct IdPage {
  std::vector<std::string> ids;
  bool more = false;
};

class EntityStore {
 public:
  // `prefix` is e.g. "jalon:roadmap:".
  // `async`, if given, serves the *Async calls (the request path);
  // `cache`, if given, answers GetAsync when it can.
  EntityStore(RedisClient* redis, EventLog log, std::string prefix,
              AsyncRedis* async = nullptr, EntityCache* cache = nullptr);

  const std::string& prefix() const { return prefix_; }
  std::string EntityKey(std::string_view kind, std::string_view id) const;
  // Every entity of a kind.
  std::string IndexKey(std::string_view kind) const;
  // Children of a parent, e.g. ChildrenKey("roadmap", rid, "action").
  std::string ChildrenKey(std::string_view parent_kind,
                          std::string_view parent_id,
                          std::string_view child_kind) const;
  // The history list of an entity.
  std::string HistoryKey(std::string_view kind, std::string_view id) const;
  // The dedupe key of an idempotent create.
  std::string RequestKey(std::string_view principal_id, std::string_view kind,
                         std::string_view request_id) const;

  // NOT_FOUND naming the kind and id when absent.
  absl::StatusOr<Stored> Get(std::string_view kind, std::string_view id) const;
  // The entity in an `HMGET key v d h` reply (e.g. one of a pipeline);
  // NOT_FOUND naming the kind and id when absent.
  static absl::StatusOr<Stored> FromReply(std::string_view kind,
                                          std::string_view id,
                                          const absl::StatusOr<RedisReply>& r);
  // Get without blocking: `done` runs on an AsyncRedis loop, or here when
  // the cache has the entity (Stored::cached) or the id cannot exist.
  // `fresh` skips the cache. Needs the AsyncRedis.
  using StoredCallback = absl::AnyInvocable<void(absl::StatusOr<Stored>) &&>;
  void GetAsync(std::string_view kind, std::string_view id, StoredCallback done,
                bool fresh = false) const;
  // GetAsync for a caller that answers with a form derived from the entity
  // and `tag` (a serialised response; see EntityCache::Rendered): `render`
  // runs at most once per cached state and tag, or once per call when the
  // entity comes from Redis. `done` gets its result, or its error.
  using Render = absl::StatusOr<std::string> (*)(const Stored& state,
                                                 int64_t tag);
  using RenderedCallback =
      absl::AnyInvocable<void(absl::StatusOr<EntityCache::Rendering>) &&>;
  void GetRenderedAsync(std::string_view kind, std::string_view id, int64_t tag,
                        Render render, RenderedCallback done) const;
  // Several entities in one round trip; absent ones have version 0.
  absl::StatusOr<std::vector<Stored>> GetMany(
      std::string_view kind, const std::vector<std::string>& ids) const;
  // Up to `limit` ids after `after` (exclusive; empty = from the start),
  // in the index's order or, `descending`, the other way.
  absl::StatusOr<IdPage> ListIds(const std::string& index_key,
                                 const std::string& after, int limit,
                                 bool descending = false) const;
  // A range of a list (history, comments).
  absl::StatusOr<std::vector<std::string>> ListRange(const std::string& key,
                                                     int64_t start,
                                                     int64_t count) const;
  absl::StatusOr<int64_t> Count(const std::string& index_key) const;
  // ZCARD of several sorted sets in one round trip.
  absl::StatusOr<std::vector<int64_t>> Counts(
      const std::vector<std::string>& keys) const;
  // For read models kept from another service's events: stores `data` at
  // `key` only if `version` is newer than what is there (so redelivered or
  // reordered events change nothing). True when it stored.
  absl::StatusOr<bool> PutIfNewer(const std::string& key, int64_t version,
                                  const std::string& data) const;

  absl::StatusOr<CommitResult> Commit(const Mutation& m) const;
  void CommitAsync(const Mutation& m, Committer::Callback done) const;
  RedisClient* redis() const { return redis_; }
  // NOT_FOUND for an id that cannot name anything, before any round trip.
  static absl::Status CheckId(std::string_view kind, std::string_view id);

 private:
  // Whether a *Async read of `kind` `id` may be sent.
  absl::Status CanReadAsync(std::string_view kind, std::string_view id) const;
  // Reads the entity at `key` from Redis and offers it to the cache.
  void ReadAsync(std::string key, std::string_view kind, std::string_view id,
                 StoredCallback done) const;
  // What a commit wrote, as the cache needs it after the commit returns.
  struct Written {
    std::string key;
    int64_t version = 0;  // > 0 with data: a whole entity put at `version`
    std::string data;
  };
  static std::vector<Written> WrittenBy(const Mutation& m);
  // Brings the cache up to a commit's outcome: keeps the whole entities it
  // put when it was applied (EntityCache::Install), drops every other key it
  // wrote, whatever the outcome (a timed-out commit may have been applied).
  void AfterCommit(std::vector<Written> written,
                   const EntityCache::CommitTicket& ticket,
                   const absl::StatusOr<CommitResult>& result) const;

  RedisClient* redis_;
  EntityCache* cache_;
  Committer committer_;
  std::string prefix_;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_ENTITY_STORE_H_
