#include "services/common/commit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/logging.h"
#include "services/common/status.h"

namespace jalon {
namespace {

// KEYS[1] is the stream; ops follow in ARGV as (code, key index, a, b).
// Redis does not roll back a script that fails half-way, so every check runs
// first, including that each written key has the type its write needs (a
// WRONGTYPE in the write phase would leave a change without its event).
// The checks' own commands already pin some types (they raise WRONGTYPE
// before anything is written, which is harmless): a key found absent is
// 'none', a version read by HGET is a hash; only the other written keys
// need a TYPE. The first write is the XADD: if the stream has the wrong
// type, it fails before anything else is written; the writes after it
// cannot fail. Redis replicates and persists the whole script as one
// MULTI/EXEC, so the AOF never holds half of it either.
constexpr char kCommitLua[] = R"lua(
local maxlen, channel, changed = ARGV[1], ARGV[2], ARGV[3]
local nevents = tonumber(ARGV[4])
local first = 5 + nevents
local n = (#ARGV - first + 1) / 4
local function op(j)
  local base = first + 4 * j
  return ARGV[base], KEYS[tonumber(ARGV[base + 1])], ARGV[base + 2], ARGV[base + 3]
end
local types = {}
for j = 0, n - 1 do
  local c, k, a, b = op(j)
  if c == 'dedupe' then
    local v = redis.call('GET', k)
    if v then return {'dup', v} end
    types[k] = 'none'
  elseif c == 'ver' then
    local cur = tonumber(redis.call('HGET', k, 'v') or '0')
    if cur ~= tonumber(a) then return {'stale', b, tostring(cur), a} end
    types[k] = 'hash'
  elseif c == 'member' then
    if not redis.call('ZSCORE', k, a) then return {'missing', b} end
  elseif c == 'exists' then
    if redis.call('EXISTS', k) == 0 then return {'missing', b} end
  elseif c == 'absent' then
    if redis.call('EXISTS', k) == 1 then return {'exists', b} end
    types[k] = 'none'
  elseif c == 'empty' then
    if redis.call('ZCARD', k) > 0 then return {'exists', b} end
    types[k] = 'zset'
  end
end
-- Last check: every write will be accepted (see above).
local needs = {put = 'hash', hset = 'hash', hdel = 'hash', hincr = 'hash',
               zadd = 'zset', zrem = 'zset', rpush = 'list'}
local makes = {put = 'hash', hset = 'hash', hincr = 'hash', zadd = 'zset',
               rpush = 'list', set = 'string', dedupe = 'string', del = 'none'}
for j = 0, n - 1 do
  local c, k, a, b = op(j)
  if needs[c] or makes[c] then
    if types[k] == nil then types[k] = redis.call('TYPE', k)['ok'] end
    if needs[c] and types[k] ~= 'none' and types[k] ~= needs[c] then
      return redis.error_reply('WRONGTYPE ' .. c .. ' on ' .. k)
    end
    if c == 'hincr' then
      local cur = redis.call('HGET', k, a)
      if cur and not string.match(cur, '^%-?%d+$') then
        return redis.error_reply('NOTINT hincr on ' .. k)
      end
    end
    if makes[c] then types[k] = makes[c] end
  end
end
local id
for e = 1, nevents do
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'e', ARGV[4 + e])
end
for j = 0, n - 1 do
  local c, k, a, b = op(j)
  if c == 'put' then redis.call('HSET', k, 'v', a, 'd', b)
  elseif c == 'hset' then redis.call('HSET', k, a, b)
  elseif c == 'hdel' then redis.call('HDEL', k, a)
  elseif c == 'hincr' then redis.call('HINCRBY', k, a, 1)
  elseif c == 'zadd' then redis.call('ZADD', k, 0, a)
  elseif c == 'zrem' then redis.call('ZREM', k, a)
  elseif c == 'rpush' then redis.call('RPUSH', k, a)
  elseif c == 'set' then redis.call('SET', k, a)
  elseif c == 'del' then redis.call('DEL', k)
  elseif c == 'dedupe' then redis.call('SET', k, a, 'EX', b)
  end
end
redis.call('PUBLISH', channel, changed)
for j = 0, n - 1 do
  local c, k, a, b = op(j)
  if c == 'pub' then redis.call('PUBLISH', a, b) end
end
return {'ok', id}
)lua";

constexpr char kStaleSubjectUrl[] = "jalon/stale-subject";

const RedisScript& CommitScript() {
  static const RedisScript* script = new RedisScript(kCommitLua);
  return *script;
}

// Turns the script's reply into a result or the status a client sees.
absl::StatusOr<CommitResult> ParseCommitReply(
    const absl::StatusOr<RedisReply>& reply);

}  // namespace

void Mutation::ExpectVersion(std::string key, int64_t version,
                             std::string what) {
  ops_.push_back(
      {"ver", std::move(key), std::to_string(version), std::move(what)});
}
void Mutation::ExpectAbsent(std::string key, std::string what) {
  ops_.push_back({"absent", std::move(key), "", std::move(what)});
}
void Mutation::RequireMember(std::string key, std::string member,
                             std::string field, std::string_view problem) {
  // The script hands `b` back as is: the problem rides after the field.
  if (!problem.empty()) field.append("\n").append(problem);
  ops_.push_back(
      {"member", std::move(key), std::move(member), std::move(field)});
}
void Mutation::RequireKey(std::string key, std::string field) {
  ops_.push_back({"exists", std::move(key), "", std::move(field)});
}
void Mutation::RequireEmpty(std::string key, std::string what) {
  ops_.push_back({"empty", std::move(key), "", std::move(what)});
}
void Mutation::Dedupe(std::string key, std::string value, int64_t ttl) {
  ops_.push_back(
      {"dedupe", std::move(key), std::move(value), std::to_string(ttl)});
}
void Mutation::Put(std::string key, int64_t version, std::string data,
                   bool whole) {
  ops_.push_back(
      {"put", std::move(key), std::to_string(version), std::move(data), whole});
}
void Mutation::HashSet(std::string key, std::string field, std::string value) {
  ops_.push_back({"hset", std::move(key), std::move(field), std::move(value)});
}
void Mutation::HashDelete(std::string key, std::string field) {
  ops_.push_back({"hdel", std::move(key), std::move(field), ""});
}
void Mutation::HashIncrement(std::string key, std::string field) {
  ops_.push_back({"hincr", std::move(key), std::move(field), ""});
}
void Mutation::IndexAdd(std::string key, std::string member) {
  ops_.push_back({"zadd", std::move(key), std::move(member), ""});
}
void Mutation::IndexRemove(std::string key, std::string member) {
  ops_.push_back({"zrem", std::move(key), std::move(member), ""});
}
void Mutation::Append(std::string key, std::string value) {
  ops_.push_back({"rpush", std::move(key), std::move(value), ""});
}
void Mutation::Set(std::string key, std::string value) {
  ops_.push_back({"set", std::move(key), std::move(value), ""});
}
void Mutation::Delete(std::string key) {
  ops_.push_back({"del", std::move(key), "", ""});
}

std::string StaleSubject(const absl::Status& status) {
  auto payload = status.GetPayload(kStaleSubjectUrl);
  return payload ? std::string(*payload) : std::string();
}

bool CommitRefused(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

std::vector<Mutation::Written> Mutation::WrittenHashes() const {
  std::vector<Written> out;
  for (const auto& op : ops_) {
    const bool put = op.code == "put";
    if (!put && op.code != "hset" && op.code != "hdel" && op.code != "hincr" &&
        op.code != "del") {
      continue;
    }
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const Written& w) { return w.key == op.key; });
    if (it != out.end()) {  // a second write: the version says too little
      *it = Written();
      it->key = op.key;
      continue;
    }
    Written w;
    w.key = op.key;
    if (put) {
      w.version = std::stoll(op.a);
      w.data = op.b;
      w.whole = op.whole;
    }
    out.push_back(std::move(w));
  }
  return out;
}

void Mutation::Publish(std::string channel, std::string message) {
  ops_.push_back({"pub", "", std::move(channel), std::move(message)});
}

Committer::Committer(RedisClient* redis, EventLog log, AsyncRedis* async)
    : redis_(redis), log_(std::move(log)), async_(async) {}

absl::Status Committer::BuildArgs(const Mutation& m, RedisArgs* keys,
                                  RedisArgs* args) const {
  if (m.events_.empty()) {
    return absl::InternalError("a mutation must carry its event");
  }
  *keys = {log_.stream};
  std::map<std::string, int> key_index;
  std::string changed;
  for (const auto& w : m.WrittenHashes()) {
    if (!changed.empty()) changed += '\n';
    changed += w.key;
    if (w.version > 0) absl::StrAppend(&changed, " ", w.version);
  }
  *args = {std::to_string(log_.max_len), log_.channel, std::move(changed),
           std::to_string(m.events_.size())};
  args->insert(args->end(), m.events_.begin(), m.events_.end());
  for (const auto& op : m.ops_) {
    int index = 1;  // a publish names no key; point it at the stream
    if (!op.key.empty()) {
      auto [it, inserted] =
          key_index.emplace(op.key, static_cast<int>(keys->size()) + 1);
      if (inserted) keys->push_back(op.key);
      index = it->second;
    }
    args->push_back(op.code);
    args->push_back(std::to_string(index));
    args->push_back(op.a);
    args->push_back(op.b);
  }
  return absl::OkStatus();
}

absl::StatusOr<CommitResult> Committer::Commit(const Mutation& m) const {
  RedisArgs keys, args;
  if (auto s = BuildArgs(m, &keys, &args); !s.ok()) return s;
  return ParseCommitReply(redis_->Eval(CommitScript(), keys, args));
}

void Committer::CommitAsync(const Mutation& m, Callback done) const {
  if (async_ == nullptr) {
    std::move(done)(
        absl::InternalError("committer has no non-blocking client"));
    return;
  }
  RedisArgs keys, args;
  if (auto s = BuildArgs(m, &keys, &args); !s.ok()) {
    std::move(done)(s);
    return;
  }
  async_->Eval(CommitScript(), keys, args,
               [done = std::move(done)](absl::StatusOr<RedisReply> r) mutable {
                 std::move(done)(ParseCommitReply(r));
               });
}

namespace {

absl::StatusOr<CommitResult> ParseCommitReply(
    const absl::StatusOr<RedisReply>& reply) {
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return StatusOfErrorReply(*reply, "commit_script");
  const auto& el = reply->elements();
  if (!reply->is_array() || el.size() < 2) {
    return absl::InternalError("internal storage error");
  }
  const std::string& tag = el[0].str();
  CommitResult result;
  if (tag == "ok") {
    result.stream_id = el[1].str();
    return result;
  }
  if (tag == "dup") {
    result.duplicate = true;
    result.duplicate_value = el[1].str();
    return result;
  }
  if (tag == "stale") {
    const std::string& what = el[1].str();
    absl::Status status;
    if (el.size() > 3 && el[2].str() == "0") {
      status = WithReason(absl::NotFoundError(absl::StrCat(what, " not found")),
                          "NOT_FOUND");
    } else {
      status = WithReason(
          absl::AbortedError(absl::StrCat(
              what, " was changed by someone else; read it again and retry")),
          "STALE_ETAG");
    }
    status.SetPayload(kStaleSubjectUrl, absl::Cord(what));
    return status;
  }
  if (tag == "exists") {
    absl::Status status = WithReason(
        absl::AlreadyExistsError(absl::StrCat(el[1].str(), " already exists")),
        "ALREADY_EXISTS");
    status.SetPayload(kStaleSubjectUrl, absl::Cord(el[1].str()));
    return status;
  }
  if (tag == "missing") {
    const std::string& what = el[1].str();
    const size_t cut = what.find('\n');
    if (cut != std::string::npos) {
      return InvalidField(what.substr(0, cut), what.substr(cut + 1));
    }
    return InvalidField(what, "refers to something that does not exist");
  }
  return absl::InternalError("internal storage error");
}

}  // namespace
}  // namespace jalon
