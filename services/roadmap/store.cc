#include "services/roadmap/store.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/status.h"

namespace jalon::roadmap {
namespace {

constexpr std::string_view kPrefix = "jalon:roadmap:";

std::string K(std::string_view a) {
  return absl::StrCat(std::string(kPrefix), std::string(a));
}

absl::Status StorageError(const RedisReply& r) {
  spdlog::error("msg=redis_error_reply error={}", LogValue(r.str()));
  return absl::InternalError("internal storage error");
}

// Parses an HMGET v d [h] reply.
absl::StatusOr<Stored> ParseEntity(const RedisReply& r) {
  if (r.is_error()) return StorageError(r);
  Stored s;
  const auto& el = r.elements();
  if (el.size() < 2 || el[0].is_nil()) return s;
  s.version = std::stoll(el[0].str());
  s.data = el[1].str();
  if (el.size() > 2 && !el[2].is_nil()) s.token_hash = el[2].str();
  return s;
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
std::string Keys::Stream() { return K("events"); }
std::string Keys::WakeupChannel() { return K("wakeup"); }
std::string Keys::RevocationChannel() { return K("revocations"); }

RoadmapStore::RoadmapStore(RedisClient* redis, EventLog log)
    : redis_(redis), committer_(redis, std::move(log)) {}

absl::StatusOr<Stored> RoadmapStore::Get(std::string_view kind,
                                         std::string_view id) const {
  if (id.empty() || id.size() > 64) {
    return absl::NotFoundError(absl::StrCat(
        std::string(kind), " '", std::string(id.substr(0, 64)), "' not found"));
  }
  auto r = redis_->Command({"HMGET", Keys::Entity(kind, id), "v", "d", "h"});
  if (!r.ok()) return r.status();
  auto s = ParseEntity(*r);
  if (s.ok() && s->version == 0) {
    return WithReason(
        absl::NotFoundError(absl::StrCat(std::string(kind), " ",
                                         std::string(id), " not found")),
        "NOT_FOUND");
  }
  return s;
}

absl::StatusOr<std::vector<Stored>> RoadmapStore::GetMany(
    std::string_view kind, const std::vector<std::string>& ids) const {
  std::vector<Stored> out;
  if (ids.empty()) return out;
  std::vector<RedisArgs> cmds;
  cmds.reserve(ids.size());
  for (const auto& id : ids) {
    cmds.push_back({"HMGET", Keys::Entity(kind, id), "v", "d", "h"});
  }
  auto replies = redis_->Pipeline(cmds);
  if (!replies.ok()) return replies.status();
  out.reserve(ids.size());
  for (const auto& r : *replies) {
    auto s = ParseEntity(r);
    if (!s.ok()) return s.status();
    out.push_back(*std::move(s));
  }
  return out;
}

absl::StatusOr<IdPage> RoadmapStore::ListIds(const std::string& index_key,
                                             const std::string& after,
                                             int limit) const {
  auto r = redis_->Command({"ZRANGEBYLEX", index_key,
                            after.empty() ? "-" : "(" + after, "+", "LIMIT",
                            "0", std::to_string(limit + 1)});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StorageError(*r);
  IdPage page;
  for (const auto& e : r->elements()) page.ids.push_back(e.str());
  if (static_cast<int>(page.ids.size()) > limit) {
    page.ids.pop_back();
    page.more = true;
  }
  return page;
}

absl::StatusOr<std::vector<std::string>> RoadmapStore::ListRange(
    const std::string& key, int64_t start, int64_t count) const {
  auto r = redis_->Command({"LRANGE", key, std::to_string(start),
                            std::to_string(start + count - 1)});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StorageError(*r);
  std::vector<std::string> out;
  for (const auto& e : r->elements()) out.push_back(e.str());
  return out;
}

absl::StatusOr<
    std::pair<std::vector<std::pair<std::string, std::string>>, int64_t>>
RoadmapStore::Dependencies(std::string_view roadmap_id) const {
  auto r = redis_->Command({"HGETALL", Keys::Dependencies(roadmap_id)});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StorageError(*r);
  std::vector<std::pair<std::string, std::string>> edges;
  int64_t version = 0;
  const auto& el = r->elements();
  for (size_t i = 0; i + 1 < el.size(); i += 2) {
    if (el[i].str() == "v") {
      version = std::stoll(el[i + 1].str());
    } else {
      edges.emplace_back(el[i].str(), el[i + 1].str());
    }
  }
  return std::make_pair(std::move(edges), version);
}

absl::StatusOr<int64_t> RoadmapStore::Count(const std::string& key) const {
  auto r = redis_->Command({"ZCARD", key});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StorageError(*r);
  return r->integer();
}

}  // namespace jalon::roadmap
