#include "services/roadmap/store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jalon::roadmap {
namespace {

constexpr std::string_view kPrefix = "jalon:roadmap:";

std::string K(std::string_view a) {
  return absl::StrCat(std::string(kPrefix), std::string(a));
}

}  // namespace

std::string Keys::Entity(std::string_view kind, std::string_view id) {
  return absl::StrCat(K(kind), ":", std::string(id));
}
std::string Keys::Index(std::string_view kind) {
  return absl::StrCat(K("index:"), std::string(kind));
}
std::string Keys::Children(std::string_view parent_kind,
                           std::string_view parent_id,
                           std::string_view child_kind) {
  return absl::StrCat(K(parent_kind), "_", std::string(child_kind),
                      "s:", std::string(parent_id));
}
std::string Keys::ActionHistory(std::string_view id) {
  return absl::StrCat(K("action_history:"), std::string(id));
}
std::string Keys::ActionComments(std::string_view id) {
  return absl::StrCat(K("action_comments:"), std::string(id));
}
std::string Keys::Dependencies(std::string_view roadmap_id) {
  return absl::StrCat(K("dependencies:"), std::string(roadmap_id));
}
std::string Keys::Copilots(std::string_view roadmap_id) {
  return absl::StrCat(K("roadmap_copilots:"), std::string(roadmap_id));
}
std::string Keys::Request(std::string_view principal_id, std::string_view kind,
                          std::string_view request_id) {
  return absl::StrCat(K("request:"), std::string(principal_id), ":",
                      std::string(kind), ":", std::string(request_id));
}
std::string Keys::TokenHash(std::string_view sha) {
  return TokenHashPrefix() + std::string(sha);
}
std::string Keys::TokenHashPrefix() { return K("token_hash:"); }
std::string Keys::AdminTokens() { return K("admin_tokens"); }
std::string Keys::BootstrapOrganization() {
  return K("bootstrap_organization");
}
std::string Keys::Stream() { return K("events"); }
std::string Keys::WakeupChannel() { return K("wakeup"); }
std::string Keys::RevocationChannel() { return K("revocations"); }

RoadmapStore::RoadmapStore(RedisClient* redis, EventLog log, AsyncRedis* async,
                           EntityCache* cache)
    : EntityStore(redis, std::move(log), std::string(kPrefix), async, cache) {}

namespace {

absl::StatusOr<RoadmapStore::Graph> ParseGraph(const RedisReply& r) {
  if (r.is_error()) return StatusOfErrorReply(r, "graph_script");
  RoadmapStore::Graph graph;
  graph.second = 0;
  const auto& el = r.elements();
  for (size_t i = 0; i + 1 < el.size(); i += 2) {
    if (el[i].str() == "v") {
      if (!absl::SimpleAtoi(el[i + 1].str(), &graph.second)) {
        return absl::InternalError("stored graph version could not be decoded");
      }
    } else {
      graph.first.emplace_back(el[i].str(), el[i + 1].str());
    }
  }
  return graph;
}

}  // namespace

absl::StatusOr<RoadmapStore::Graph> RoadmapStore::Dependencies(
    std::string_view roadmap_id) const {
  auto r = redis()->Command({"HGETALL", Keys::Dependencies(roadmap_id)});
  if (!r.ok()) return r.status();
  return ParseGraph(*r);
}

absl::StatusOr<RoadmapStore::InRoadmap> RoadmapStore::FindInRoadmap(
    std::string_view kind, const std::string& id, const std::string& hint,
    RoadmapPart part) const {
  if (auto s = CheckId(kind, id); !s.ok()) return s;
  // The roadmap's keys are named from the entity's index entry, so the
  // script builds them (one Redis, no cluster; see docs/architecture.md).
  // Without a right hint it looks through every roadmap: a ZSCORE each.
  static const RedisScript* script = new RedisScript(R"lua(
local entity = redis.call('HMGET', KEYS[1], 'v', 'd', 'h')
if not entity[1] then return {entity} end
local function holds(r)
  return redis.call('ZSCORE', ARGV[2] .. r, ARGV[1])
end
local function found(r)
  if ARGV[5] == 'graph' then
    return {entity, r, redis.call('HGETALL', ARGV[3] .. r)}
  end
  return {entity, r, redis.call('HMGET', ARGV[3] .. r, 'v', 'd', 'h')}
end
if ARGV[4] ~= '' and holds(ARGV[4]) then return found(ARGV[4]) end
for _, r in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if holds(r) then return found(r) end
end
return {entity}
)lua");
  const bool graph = part == RoadmapPart::kGraph;
  auto r = redis()->Eval(
      *script, {Keys::Entity(kind, id), Keys::Index(kRoadmap)},
      {id, Keys::Children(kRoadmap, "", kind),
       graph ? Keys::Dependencies("") : Keys::Entity(kRoadmap, ""), hint,
       graph ? "graph" : "roadmap"});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StatusOfErrorReply(*r, "read_script");
  if (!r->is_array() || r->elements().empty()) {
    return absl::InternalError("internal storage error");
  }
  const auto& el = r->elements();
  InRoadmap out;
  auto entity = FromReply(kind, id, el[0]);
  if (!entity.ok()) return entity.status();
  out.entity = *std::move(entity);
  if (el.size() == 3) {
    out.roadmap_id = el[1].str();
    out.part = el[2];
  }
  return out;
}

absl::StatusOr<RoadmapStore::ActionAndGraph>
RoadmapStore::ActionWithDependencies(const std::string& action_id,
                                     const std::string& roadmap_hint) const {
  auto found =
      FindInRoadmap(kAction, action_id, roadmap_hint, RoadmapPart::kGraph);
  if (!found.ok()) return found.status();
  ActionAndGraph out;
  out.action = std::move(found->entity);
  if (found->part) {
    out.roadmap_id = std::move(found->roadmap_id);
    auto graph = ParseGraph(*found->part);
    if (!graph.ok()) return graph.status();
    out.graph = *std::move(graph);
  }
  return out;
}

absl::StatusOr<RoadmapStore::IndicatorAndRoadmap>
RoadmapStore::IndicatorWithRoadmap(const std::string& indicator_id) const {
  auto found =
      FindInRoadmap(kIndicator, indicator_id, "", RoadmapPart::kRoadmap);
  if (!found.ok()) return found.status();
  IndicatorAndRoadmap out;
  out.indicator = std::move(found->entity);
  if (found->part) {
    auto roadmap = FromReply(kRoadmap, found->roadmap_id, *found->part);
    if (!roadmap.ok()) return roadmap.status();
    out.roadmap = *std::move(roadmap);
  }
  return out;
}

}  // namespace jalon::roadmap
