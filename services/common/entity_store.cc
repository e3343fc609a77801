#include "services/common/entity_store.h"

#include <spdlog/spdlog.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/status.h"

namespace jalon {
namespace {

// Parses an HMGET v d h reply.
absl::StatusOr<Stored> ParseEntity(const RedisReply& r) {
  if (r.is_error()) return StatusOfErrorReply(r);
  Stored s;
  const auto& el = r.elements();
  if (el.size() < 2 || el[0].is_nil()) return s;
  if (!absl::SimpleAtoi(el[0].str(), &s.version)) {
    return absl::InternalError("stored version could not be decoded");
  }
  s.data = el[1].str();
  if (el.size() > 2 && !el[2].is_nil()) s.extra = el[2].str();
  return s;
}

std::string S(std::string_view v) { return std::string(v); }

}  // namespace

EntityStore::EntityStore(RedisClient* redis, EventLog log, std::string prefix,
                         AsyncRedis* async, EntityCache* cache)
    : redis_(redis),
      cache_(cache),
      committer_(redis, std::move(log), async),
      prefix_(std::move(prefix)) {}

std::string EntityStore::EntityKey(std::string_view kind,
                                   std::string_view id) const {
  return absl::StrCat(prefix_, S(kind), ":", S(id));
}
std::string EntityStore::IndexKey(std::string_view kind) const {
  return absl::StrCat(prefix_, "index:", S(kind));
}
std::string EntityStore::ChildrenKey(std::string_view parent_kind,
                                     std::string_view parent_id,
                                     std::string_view child_kind) const {
  return absl::StrCat(prefix_, S(parent_kind), "_", S(child_kind),
                      "s:", S(parent_id));
}
std::string EntityStore::HistoryKey(std::string_view kind,
                                    std::string_view id) const {
  return absl::StrCat(prefix_, S(kind), "_history:", S(id));
}
std::string EntityStore::RequestKey(std::string_view principal_id,
                                    std::string_view kind,
                                    std::string_view request_id) const {
  return absl::StrCat(prefix_, "request:", S(principal_id), ":", S(kind), ":",
                      S(request_id));
}

absl::Status EntityStore::CheckId(std::string_view kind, std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return WithReason(absl::NotFoundError(absl::StrCat(
                          S(kind), " '", S(id.substr(0, 64)), "' not found")),
                      "NOT_FOUND");
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<Stored> ToStored(std::string_view kind, std::string_view id,
                                const absl::StatusOr<RedisReply>& r) {
  if (!r.ok()) return r.status();
  auto s = ParseEntity(*r);
  if (s.ok() && s->version == 0) {
    return WithReason(
        absl::NotFoundError(absl::StrCat(S(kind), " ", S(id), " not found")),
        "NOT_FOUND");
  }
  return s;
}

}  // namespace

absl::StatusOr<Stored> EntityStore::FromReply(
    std::string_view kind, std::string_view id,
    const absl::StatusOr<RedisReply>& r) {
  return ToStored(kind, id, r);
}

absl::StatusOr<Stored> EntityStore::Get(std::string_view kind,
                                        std::string_view id) const {
  if (auto s = CheckId(kind, id); !s.ok()) return s;
  return ToStored(
      kind, id, redis_->Command({"HMGET", EntityKey(kind, id), "v", "d", "h"}));
}

void EntityStore::GetAsync(std::string_view kind, std::string_view id,
                           StoredCallback done, bool fresh) const {
  if (auto s = CanReadAsync(kind, id); !s.ok()) {
    std::move(done)(s);
    return;
  }
  std::string key = EntityKey(kind, id);
  if (cache_ != nullptr && !fresh) {
    if (auto hit = cache_->Get(key)) {
      std::move(done)(*std::move(hit));
      return;
    }
  }
  ReadAsync(std::move(key), kind, id, std::move(done));
}

void EntityStore::GetRenderedAsync(std::string_view kind, std::string_view id,
                                   int64_t tag, Render render,
                                   RenderedCallback done) const {
  if (auto s = CanReadAsync(kind, id); !s.ok()) {
    std::move(done)(s);
    return;
  }
  std::string key = EntityKey(kind, id);
  if (cache_ != nullptr) {
    auto hit = cache_->Rendered(
        key, tag, [&](const Stored& state) { return render(state, tag); });
    if (!hit.ok() || *hit != nullptr) {
      std::move(done)(std::move(hit));
      return;
    }
  }
  ReadAsync(
      std::move(key), kind, id,
      [render, tag, done = std::move(done)](absl::StatusOr<Stored> s) mutable {
        if (!s.ok()) return std::move(done)(s.status());
        auto made = render(*s, tag);
        if (!made.ok()) return std::move(done)(made.status());
        std::move(done)(std::make_shared<const std::string>(*std::move(made)));
      });
}

absl::Status EntityStore::CanReadAsync(std::string_view kind,
                                       std::string_view id) const {
  if (auto s = CheckId(kind, id); !s.ok()) return s;
  if (committer_.async() == nullptr) {
    return absl::InternalError("store has no non-blocking client");
  }
  return absl::OkStatus();
}

void EntityStore::ReadAsync(std::string key, std::string_view kind,
                            std::string_view id, StoredCallback done) const {
  EntityCache::Ticket ticket;
  if (cache_ != nullptr) ticket = cache_->Begin(key);
  const RedisArgs command = {"HMGET", key, "v", "d", "h"};  // before the move
  committer_.async()->Command(
      command,
      [cache = cache_, ticket, key = std::move(key), kind = S(kind), id = S(id),
       done = std::move(done)](absl::StatusOr<RedisReply> r) mutable {
        auto s = ToStored(kind, id, r);
        if (cache != nullptr && s.ok()) cache->Put(key, ticket, *s);
        std::move(done)(std::move(s));
      });
}

absl::StatusOr<CommitResult> EntityStore::Commit(const Mutation& m) const {
  if (cache_ == nullptr) return committer_.Commit(m);
  const EntityCache::CommitTicket ticket = cache_->BeginCommit();
  auto r = committer_.Commit(m);
  AfterCommit(WrittenBy(m), ticket, r);
  return r;
}

void EntityStore::CommitAsync(const Mutation& m,
                              Committer::Callback done) const {
  if (cache_ == nullptr) {
    committer_.CommitAsync(m, std::move(done));
    return;
  }
  committer_.CommitAsync(
      m, [this, written = WrittenBy(m), ticket = cache_->BeginCommit(),
          done = std::move(done)](absl::StatusOr<CommitResult> r) mutable {
        AfterCommit(std::move(written), ticket, r);
        std::move(done)(std::move(r));
      });
}

std::vector<EntityStore::Written> EntityStore::WrittenBy(const Mutation& m) {
  std::vector<Written> out;
  for (const auto& w : m.WrittenHashes()) {
    Written kept;
    kept.key = w.key;
    if (w.whole && w.version > 0) {
      kept.version = w.version;
      kept.data = std::string(w.data);
    }
    out.push_back(std::move(kept));
  }
  return out;
}

void EntityStore::AfterCommit(std::vector<Written> written,
                              const EntityCache::CommitTicket& ticket,
                              const absl::StatusOr<CommitResult>& r) const {
  const bool applied = r.ok() && !r->duplicate;
  for (auto& w : written) {
    if (applied && w.version > 0) {
      Stored s;
      s.data = std::move(w.data);
      s.version = w.version;
      cache_->Install(w.key, ticket, s);
    } else {
      cache_->Drop(w.key);
    }
  }
}

absl::StatusOr<std::vector<Stored>> EntityStore::GetMany(
    std::string_view kind, const std::vector<std::string>& ids) const {
  std::vector<Stored> out;
  if (ids.empty()) return out;
  std::vector<RedisArgs> cmds;
  cmds.reserve(ids.size());
  for (const auto& id : ids) {
    cmds.push_back({"HMGET", EntityKey(kind, id), "v", "d", "h"});
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

absl::StatusOr<IdPage> EntityStore::ListIds(const std::string& index_key,
                                            const std::string& after, int limit,
                                            bool descending) const {
  const std::string from =
      after.empty() ? (descending ? "+" : "-") : "(" + after;
  auto r = redis_->Command({descending ? "ZREVRANGEBYLEX" : "ZRANGEBYLEX",
                            index_key, from, descending ? "-" : "+", "LIMIT",
                            "0", std::to_string(limit + 1)});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StatusOfErrorReply(*r);
  IdPage page;
  for (const auto& e : r->elements()) page.ids.push_back(e.str());
  if (static_cast<int>(page.ids.size()) > limit) {
    page.ids.pop_back();
    page.more = true;
  }
  return page;
}

absl::StatusOr<std::vector<std::string>> EntityStore::ListRange(
    const std::string& key, int64_t start, int64_t count) const {
  auto r = redis_->Command({"LRANGE", key, std::to_string(start),
                            std::to_string(start + count - 1)});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StatusOfErrorReply(*r);
  std::vector<std::string> out;
  for (const auto& e : r->elements()) out.push_back(e.str());
  return out;
}

absl::StatusOr<int64_t> EntityStore::Count(const std::string& key) const {
  auto r = redis_->Command({"ZCARD", key});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StatusOfErrorReply(*r);
  return r->integer();
}

absl::StatusOr<std::vector<int64_t>> EntityStore::Counts(
    const std::vector<std::string>& keys) const {
  std::vector<int64_t> out;
  if (keys.empty()) return out;
  std::vector<RedisArgs> cmds;
  for (const auto& k : keys) cmds.push_back({"ZCARD", k});
  auto replies = redis_->Pipeline(cmds);
  if (!replies.ok()) return replies.status();
  for (const auto& r : *replies) {
    if (r.is_error()) return StatusOfErrorReply(r);
    out.push_back(r.integer());
  }
  return out;
}

absl::StatusOr<bool> EntityStore::PutIfNewer(const std::string& key,
                                             int64_t version,
                                             const std::string& data) const {
  static const RedisScript* script = new RedisScript(R"lua(
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])
return 1
)lua");
  auto r = redis_->Eval(*script, {key}, {std::to_string(version), data});
  if (!r.ok()) return r.status();
  if (r->is_error()) return StatusOfErrorReply(*r);
  return r->integer() == 1;
}

}  // namespace jalon
