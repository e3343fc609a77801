// The roadmap service's storage: the only code that knows its Redis keys.
// Entities are hashes {v: version, d: serialized proto} under
// jalon:roadmap:<kind>:<id>; lists are sorted-set indexes of ids (ULIDs, so
// lexicographic order is creation order). Reads are one round trip each;
// writes go through the shared Committer (one atomic script). Thread-safe.
#ifndef JALON_SERVICES_ROADMAP_STORE_H_
#define JALON_SERVICES_ROADMAP_STORE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/commit.h"
#include "services/common/redis.h"

namespace jalon::roadmap {

// Kinds of entity, as they appear in keys and events.
inline constexpr char kOrganization[] = "organization";
inline constexpr char kToken[] = "token";
inline constexpr char kRoadmap[] = "roadmap";
inline constexpr char kEcosystem[] = "ecosystem";
inline constexpr char kIndicator[] = "indicator";
inline constexpr char kMeasurement[] = "measurement";
inline constexpr char kAction[] = "action";
inline constexpr char kComment[] = "comment";

// Key names. Kept here so no other file spells a key.
struct Keys {
  static std::string Entity(std::string_view kind, std::string_view id);
  // Every entity of a kind, e.g. all organisations.
  static std::string Index(std::string_view kind);
  // Children of a parent, e.g. Children("roadmap", rid, "action").
  static std::string Children(std::string_view parent_kind,
                              std::string_view parent_id,
                              std::string_view child_kind);
  static std::string ActionHistory(std::string_view action_id);
  static std::string ActionComments(std::string_view action_id);
  static std::string Dependencies(std::string_view roadmap_id);
  static std::string Request(std::string_view principal_id,
                             std::string_view kind,
                             std::string_view request_id);
  static std::string TokenHash(std::string_view sha256_hex);
  static std::string TokenHashPrefix();
  static std::string AdminTokens();
  static std::string Stream();
  static std::string WakeupChannel();
  static std::string RevocationChannel();
};

// A stored entity and its version (its etag is the version in decimal).
struct Stored {
  std::string data;
  int64_t version = 0;
  std::string token_hash;  // tokens only
};

// A page of ids from an index.
struct IdPage {
  std::vector<std::string> ids;
  bool more = false;
};

class RoadmapStore {
 public:
  RoadmapStore(RedisClient* redis, EventLog log);

  // NOT_FOUND naming the kind and id when absent.
  absl::StatusOr<Stored> Get(std::string_view kind, std::string_view id) const;
  // Several entities in one round trip; absent ones are left empty
  // (version 0).
  absl::StatusOr<std::vector<Stored>> GetMany(
      std::string_view kind, const std::vector<std::string>& ids) const;
  // Up to `limit` ids after `after` (exclusive; empty = from the start).
  absl::StatusOr<IdPage> ListIds(const std::string& index_key,
                                 const std::string& after, int limit) const;
  // A range of a list (history, comments).
  absl::StatusOr<std::vector<std::string>> ListRange(const std::string& key,
                                                     int64_t start,
                                                     int64_t count) const;
  // The dependency graph of a roadmap and its version.
  absl::StatusOr<
      std::pair<std::vector<std::pair<std::string, std::string>>, int64_t>>
  Dependencies(std::string_view roadmap_id) const;
  absl::StatusOr<int64_t> Count(const std::string& index_key) const;

  absl::StatusOr<CommitResult> Commit(const Mutation& m) const {
    return committer_.Commit(m);
  }
  RedisClient* redis() const { return redis_; }

 private:
  RedisClient* redis_;
  Committer committer_;
};

}  // namespace jalon::roadmap

#endif  // JALON_SERVICES_ROADMAP_STORE_H_
