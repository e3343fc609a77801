// A replica's cache of entities it has read, so that a Get can answer
// without waiting on Redis. Entries are (version, bytes) pairs: the state an
// entity had at a version never changes, so a cached entry can only be
// *old*, never wrong, and every write still checks the version it read
// in the commit script.
//
// How an entry stops being served:
//  - every commit PUBLISHes the keys it changed on the service's channel,
//    with the version it put when it put one; the listener drops any entry
//    older than that (other replicas' writes, within the time the message
//    takes to arrive, about a millisecond);
//  - a replica's own commit replaces what it holds for the keys it wrote
//    before it answers, with the state it committed (Install) or, when it
//    may not keep that, by nothing (so a client reads its own writes on the
//    replica that took them);
//  - entries expire after `ttl` whatever happens (the bound on staleness
//    if invalidations stop arriving unnoticed);
//  - while the listener is not subscribed (Redis down, connection lost or
//    silent past its PING deadline) the cache neither serves nor fills, and
//    it is emptied when the subscription is lost and again when it returns.
//
// The cache remembers, for 2 x ttl, the highest version announced for each
// key (a floor; an announcement without a version is a floor no version
// passes). A read races an invalidation: it takes a Ticket before it sends
// its command, and Put keeps its reply only if it is not below the key's
// floor, nothing without a version touched that key's shard since, and the
// read took less than a ttl (so the floors it must respect are still
// remembered). Announcements with a version leave reads of newer states
// alone, so a listener running behind does not empty the cache. A commit
// races other replicas' commits: Install keeps the committed state only if
// no floor is above it, the
// subscription has not been lost since the commit was sent, and the commit
// was sent less than a ttl ago (so every floor it must respect is still
// remembered). Thread-safe.
#ifndef JALON_SERVICES_COMMON_ENTITY_CACHE_H_
#define JALON_SERVICES_COMMON_ENTITY_CACHE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "services/common/redis.h"

namespace jalon {

// A stored entity and its version (its etag is the version in decimal).
struct Stored {
  std::string data;
  int64_t version = 0;
  std::string extra;    // the hash's "h" field, if any (e.g. a token's hash)
  bool cached = false;  // served by an EntityCache, not read from Redis
};

struct EntityCacheOptions {
  size_t capacity = 10000;  // entries; 0 turns the cache off
  std::chrono::milliseconds ttl{1000};
};

class EntityCache {
 public:
  explicit EntityCache(EntityCacheOptions options);
  ~EntityCache();
  EntityCache(const EntityCache&) = delete;
  EntityCache& operator=(const EntityCache&) = delete;

  // The entry for `key` (with cached = true), if one may be served.
  std::optional<Stored> Get(std::string_view key);

  // A form derived from an entity's state, such as a Get's serialised
  // response, that also depends on `tag` (the day, for what is late).
  using Rendering = std::shared_ptr<const std::string>;
  using Render = absl::FunctionRef<absl::StatusOr<std::string>(const Stored&)>;
  // What `render` makes of the entry for `key` under `tag`: made once and
  // kept with the entry for the next caller with the same tag. A new state
  // is a new entry, so a rendering never outlives the state it came from.
  // OK(nullptr) when no entry may be served (a miss, as for Get); render's
  // error, which is not kept, when it fails.
  absl::StatusOr<Rendering> Rendered(std::string_view key, int64_t tag,
                                     Render render);

  // Taken before a read is sent; Put needs it.
  struct Ticket {
    uint64_t generation = 0;
    std::chrono::steady_clock::time_point begun;
    bool live = false;
  };
  Ticket Begin(std::string_view key);
  // Keeps what a read that began with `ticket` found, unless the key was
  // invalidated since, the cache is not live, or the entity has an "h"
  // field (only whole entities are cached).
  void Put(std::string_view key, Ticket ticket, const Stored& s);

  // Taken before a commit is sent; Install needs it.
  struct CommitTicket {
    uint64_t epoch = 0;
    std::chrono::steady_clock::time_point sent;
    bool live = false;
  };
  CommitTicket BeginCommit() const;
  // After this replica committed `s` (a whole entity) at `key`: keeps it
  // unless a newer version (or an unversioned write) of `key` was announced,
  // the subscription was lost since `ticket`, or `ticket` is a ttl old.
  // Whatever it decides, no entry older than `s` is left.
  void Install(std::string_view key, const CommitTicket& ticket, Stored s);

  // This replica's own write of `key` failed or left more than {v, d}:
  // drops the entry.
  void Drop(std::string_view key);
  // A commit announced that it wrote `key` at `version` (0: a write without
  // a version): drops an older entry (any, for 0) and raises the key's
  // floor.
  void Invalidate(std::string_view key, int64_t version = 0);
  // The payload of a commit's PUBLISH: lines "<key>" or "<key> <version>".
  void InvalidateList(std::string_view lines);
  void InvalidateAll();

  // Subscribes to `channel` on its own Redis connection; the cache is live
  // while that subscription is.
  void StartListener(const RedisOptions& options, std::string channel);
  // Without a listener, whether the cache is live (tests that drive the
  // invalidations by hand). Off until set.
  void SetLive(bool live) { live_ = live; }
  bool live() const;

  // Entries held, expired ones included.
  size_t size();
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 16;
  // A state as an entry holds it, with the last rendering made of it.
  struct Held : Stored {
    mutable std::mutex mu;
    mutable Rendering rendering;  // guarded by mu
    mutable int64_t rendering_tag = 0;
  };
  struct Entry {
    std::shared_ptr<const Held> stored;
    std::chrono::steady_clock::time_point expires;
  };
  // Lets a string_view find a std::string key without a copy.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const {
      return std::hash<std::string_view>()(k);
    }
  };
  // What was announced of a key within 2 ttl: kept apart, so that a write
  // without a version does not hide a later versioned one from the reads
  // it does not stop (Put ignores the former, relying on the generation).
  struct Floor {
    int64_t version = 0;       // the highest version announced; 0: none
    bool unversioned = false;  // a write without a version was announced
    std::chrono::steady_clock::time_point expires;
  };
  struct Shard {
    std::shared_mutex mu;  // Get and Begin share it
    std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries;
    // Bumped by whatever may make a read in flight wrong without a floor
    // saying so: an announcement without a version, this replica's own
    // commits, InvalidateAll.
    uint64_t generation = 0;
    // The highest version announced per key, kept 2 x ttl.
    std::unordered_map<std::string, Floor, KeyHash, std::equal_to<>> floors;
    size_t sweep_at = 64;  // floors.size() that triggers dropping old ones
    // When an entry can next have expired: a full shard sweeps from then.
    std::chrono::steady_clock::time_point next_sweep =
        std::chrono::steady_clock::time_point::max();
  };
  Shard& ShardOf(std::string_view key);
  // Whether a floor of `key` is above `version` (shard locked);
  // `versioned_only`: ignoring a floor left by a write without a version.
  static bool Below(const Shard& shard, std::string_view key, int64_t version,
                    std::chrono::steady_clock::time_point now,
                    bool versioned_only = false);
  // What an entry holds: the data and version of `s`. Made before the
  // shard is locked, so the copy does not lengthen the critical section.
  static std::shared_ptr<const Held> Kept(std::string data, int64_t version);
  // The entry for `key` if one may be served; counts the hit or miss.
  std::shared_ptr<const Held> Find(std::string_view key);
  // Keeps `kept` at `key` (shard locked), never over a newer state, until
  // a ttl after `asked` (when the read or commit that found it was sent).
  void Keep(Shard& shard, std::string_view key,
            std::shared_ptr<const Held> kept,
            std::chrono::steady_clock::time_point now,
            std::chrono::steady_clock::time_point asked);

  const EntityCacheOptions options_;
  const size_t per_shard_;
  Shard shards_[kShards];
  std::atomic<bool> live_{false};
  std::atomic<uint64_t> epoch_{0};  // bumped by InvalidateAll
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::unique_ptr<RedisSubscriber> listener_;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_ENTITY_CACHE_H_
