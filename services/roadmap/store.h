// The roadmap service's storage: the only code that knows its Redis keys
// (all under "jalon:roadmap:"; entities as in EntityStore). Thread-safe.
#ifndef JALON_SERVICES_ROADMAP_STORE_H_
#define JALON_SERVICES_ROADMAP_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/commit.h"
#include "services/common/entity_store.h"
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
  // A roadmap's two co-pilot organisations (zset), written with it: an
  // action's commit checks its lead and partner against them.
  static std::string Copilots(std::string_view roadmap_id);
  static std::string Request(std::string_view principal_id,
                             std::string_view kind,
                             std::string_view request_id);
  static std::string TokenHash(std::string_view sha256_hex);
  static std::string TokenHashPrefix();
  static std::string AdminTokens();
  // The id of the organisation the bootstrap created.
  static std::string BootstrapOrganization();
  static std::string Stream();
  static std::string WakeupChannel();
  static std::string RevocationChannel();
};

// The roadmap service's entities (see EntityStore) plus its dependency
// graphs.
class RoadmapStore : public EntityStore {
 public:
  RoadmapStore(RedisClient* redis, EventLog log, AsyncRedis* async = nullptr,
               EntityCache* cache = nullptr);

  // The dependency graph of a roadmap (action id -> comma-separated ids)
  // and its version.
  using Graph =
      std::pair<std::vector<std::pair<std::string, std::string>>, int64_t>;
  absl::StatusOr<Graph> Dependencies(std::string_view roadmap_id) const;
  // An action and its roadmap's graph, in one round trip (a script), for a
  // dependency edit. The action's roadmap is found in Redis: `roadmap_hint`
  // (a roadmap it is thought to belong to; may be empty) is tried first,
  // then every roadmap. `graph` is empty only if the action is in no
  // roadmap's index, which the service never writes.
  struct ActionAndGraph {
    Stored action;
    std::string roadmap_id;
    std::optional<Graph> graph;
  };
  absl::StatusOr<ActionAndGraph> ActionWithDependencies(
      const std::string& action_id, const std::string& roadmap_hint) const;
  // An indicator and its roadmap, in one round trip (a script), for the
  // first measurement of it: the roadmap says who records and who
  // verifies. `roadmap` is empty only if the indicator is in no roadmap's
  // index, which the service never writes.
  struct IndicatorAndRoadmap {
    Stored indicator;
    std::optional<Stored> roadmap;
  };
  absl::StatusOr<IndicatorAndRoadmap> IndicatorWithRoadmap(
      const std::string& indicator_id) const;

 private:
  // What FindInRoadmap reads of the roadmap that holds the entity.
  enum class RoadmapPart { kGraph, kRoadmap };
  struct InRoadmap {
    Stored entity;
    std::string roadmap_id;
    std::optional<RedisReply> part;  // absent: in no roadmap's index
  };
  // The entity `kind`/`id` (NOT_FOUND when absent) and `part` of the roadmap
  // whose index of `kind`s holds it, `hint` tried first: one script.
  absl::StatusOr<InRoadmap> FindInRoadmap(std::string_view kind,
                                          const std::string& id,
                                          const std::string& hint,
                                          RoadmapPart part) const;
};

}  // namespace jalon::roadmap

#endif  // JALON_SERVICES_ROADMAP_STORE_H_
