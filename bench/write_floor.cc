#include "bench/write_floor.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/service_config.h"
#include "services/roadmap/store.h"

namespace jalon::bench {
namespace {

using roadmap::Keys;

constexpr char kPrefix[] = "jalon:bench:floor:";

// The least a commit script can do for a create under the SPEC: the
// idempotency and existence checks, then the same writes as the plain
// commands. KEYS: stream, request, entity, index, roadmap index, history;
// ARGV: event, state, id, history entry, channel, wake-up message, MAXLEN.
const RedisScript& MinimalCreate() {
  static const RedisScript* script = new RedisScript(R"lua(
if redis.call('GET', KEYS[2]) then return {'dup'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'exists'} end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[7], '*',
                      'e', ARGV[1])
redis.call('HSET', KEYS[3], 'v', '1', 'd', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', '86400')
redis.call('ZADD', KEYS[4], 0, ARGV[3])
redis.call('ZADD', KEYS[5], 0, ARGV[3])
redis.call('RPUSH', KEYS[6], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {'ok', id}
)lua");
  return *script;
}

// The same for an update: the version check, then its writes. KEYS:
// stream, entity, history; ARGV: expected version, event, state, history
// entry, channel, wake-up message, MAXLEN.
const RedisScript& MinimalUpdate() {
  static const RedisScript* script = new RedisScript(R"lua(
local v = tonumber(redis.call('HGET', KEYS[2], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return {'stale'} end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[7], '*',
                      'e', ARGV[2])
redis.call('HSET', KEYS[2], 'v', v + 1, 'd', ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {'ok', id}
)lua");
  return *script;
}

std::string FloorKey(const std::string& what) {
  return absl::StrCat(kPrefix, what);
}

// The payload of the first event (oldest first, or newest first) of the
// service's stream whose bytes contain every one of `needles`, read 1000
// entries at a time.
absl::StatusOr<std::string> FindEvent(RedisClient& redis, bool newest_first,
                                      const std::vector<std::string>& needles) {
  const std::string stream = Keys::Stream();
  std::string from = newest_first ? "+" : "-";
  const std::string to = newest_first ? "-" : "+";
  for (;;) {
    auto r = redis.Command({newest_first ? "XREVRANGE" : "XRANGE", stream, from,
                            to, "COUNT", "1000"});
    if (!r.ok()) return r.status();
    if (!r->is_array()) return absl::InternalError("XRANGE: not an array");
    if (r->elements().empty()) break;
    for (const auto& entry : r->elements()) {
      if (entry.elements().size() < 2) continue;
      const auto& fields = entry.elements()[1].elements();
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        const std::string& e = fields[i + 1].str();
        bool all = true;
        for (const auto& n : needles) {
          all = all && e.find(n) != std::string::npos;
        }
        if (all) return e;
      }
    }
    const auto& last = r->elements().back();
    if (last.elements().empty()) break;
    from = "(" + last.elements()[0].str();  // exclusive: after `last`
  }
  return absl::NotFoundError(
      absl::StrCat("no event with ", needles.back(), " in ", stream));
}

absl::StatusOr<std::string> Bulk(RedisClient& redis, const RedisArgs& args) {
  auto r = redis.Command(args);
  if (!r.ok()) return r.status();
  if (r->is_nil() || r->is_error() || r->str().empty()) {
    return absl::NotFoundError(absl::StrCat(args[0], " ", args[1], ": empty"));
  }
  return r->str();
}

// Sends `writes` writes, `batch` per round trip, each as the commands
// `write(n)` returns; the redis-server CPU per write, in microseconds.
absl::StatusOr<double> Run(RedisClient& redis, const WriteFloorOptions& o,
                           const std::function<void(int, RedisArgs*)>& write,
                           int commands_per_write) {
  std::vector<RedisArgs> pipeline;
  auto before = o.redis_cpu();
  if (!before.ok()) return before.status();
  for (int n = 0; n < o.writes;) {
    pipeline.assign(static_cast<size_t>(o.batch) * commands_per_write,
                    RedisArgs());
    int in_batch = 0;
    for (; in_batch < o.batch && n < o.writes; ++in_batch, ++n) {
      write(n, &pipeline[static_cast<size_t>(in_batch) * commands_per_write]);
    }
    pipeline.resize(static_cast<size_t>(in_batch) * commands_per_write);
    auto replies = redis.Pipeline(pipeline);
    if (!replies.ok()) return replies.status();
    for (const auto& reply : *replies) {
      if (reply.is_error()) {
        return absl::InternalError(absl::StrCat("floor write: ", reply.str()));
      }
      // A script answers {'ok', id}; anything else is a refused check.
      if (reply.is_array() &&
          (reply.elements().empty() || reply.elements()[0].str() != "ok")) {
        return absl::InternalError("floor write: a script check refused it");
      }
    }
  }
  auto after = o.redis_cpu();
  if (!after.ok()) return after.status();
  return 1e6 * (*after - *before) / o.writes;
}

}  // namespace

absl::StatusOr<WriteFloor> MeasureWriteFloor(RedisClient& redis,
                                             const WriteFloorOptions& o) {
  const std::string& id = o.action_id;
  auto state = Bulk(redis, {"HGET", Keys::Entity(roadmap::kAction, id), "d"});
  auto created_history = Bulk(redis, {"LINDEX", Keys::ActionHistory(id), "0"});
  auto updated_history = Bulk(redis, {"LINDEX", Keys::ActionHistory(id), "-1"});
  auto created = FindEvent(redis, false, {id, "roadmap.action.created"});
  auto updated = FindEvent(redis, true, {"roadmap.action.updated"});
  for (const auto* s :
       {&state, &created_history, &updated_history, &created, &updated}) {
    if (!s->ok()) return s->status();
  }
  WriteFloor floor;
  floor.state = state->size();
  floor.create_history = created_history->size();
  floor.update_history = updated_history->size();
  floor.create_event = created->size();
  floor.update_event = updated->size();

  const std::string stream = FloorKey("events");
  // The service's stream is trimmed at this length: so is the floor's.
  const std::string max_len = std::to_string(ServiceConfig().stream_max_len);
  const std::string wakeup = FloorKey("wakeup");
  auto entity = [](int n) {
    return FloorKey(absl::StrFormat("action:%026d", n));
  };
  auto history = [](int n) {
    return FloorKey(absl::StrFormat("action_history:%026d", n));
  };
  // What CreateAction's commit writes: the event, the entity, the request
  // id, two indexes, the history entry, the wake-up.
  auto create = [&](int n, RedisArgs* c) {
    const std::string member = absl::StrFormat("%026d", n);
    c[0] = {"XADD", stream, "MAXLEN", "~", max_len, "*", "e", *created};
    c[1] = {"HSET", entity(n), "v", "1", "d", *state};
    c[2] = {"SET", FloorKey("request:" + member), member, "EX", "86400"};
    c[3] = {"ZADD", FloorKey("index"), "0", member};
    c[4] = {"ZADD", FloorKey("roadmap_actions"), "0", member};
    c[5] = {"RPUSH", history(n), *created_history};
    c[6] = {"PUBLISH", wakeup, entity(n) + " 1"};
  };
  // What UpdateAction's commit writes: the event, the entity, the history
  // entry, the wake-up (on the actions just created, as the service's
  // updates touch existing ones).
  auto update = [&](int n, RedisArgs* c) {
    const int target = n % 256;
    const std::string version = std::to_string(2 + n / 256);
    c[0] = {"XADD", stream, "MAXLEN", "~", max_len, "*", "e", *updated};
    c[1] = {"HSET", entity(target), "v", version, "d", *state};
    c[2] = {"RPUSH", history(target), *updated_history};
    c[3] = {"PUBLISH", wakeup, entity(target) + " " + version};
  };
  auto scripted_create = [&](int n, RedisArgs* c) {
    const std::string member = absl::StrFormat("%026d", n);
    c[0] = {"EVALSHA",
            MinimalCreate().sha(),
            "6",
            stream,
            FloorKey("request:" + member),
            entity(n),
            FloorKey("index"),
            FloorKey("roadmap_actions"),
            history(n),
            *created,
            *state,
            member,
            *created_history,
            wakeup,
            entity(n) + " 1",
            max_len};
  };
  auto scripted_update = [&](int n, RedisArgs* c) {
    const int target = n % 256;
    const std::string version = std::to_string(1 + n / 256);
    c[0] = {"EVALSHA",
            MinimalUpdate().sha(),
            "3",
            stream,
            entity(target),
            history(target),
            version,
            *updated,
            *state,
            *updated_history,
            wakeup,
            entity(target) + " " + version,
            max_len};
  };
  // Drops every key the runs wrote.
  auto drop = [&]() -> absl::Status {
    std::vector<RedisArgs> unlink;
    unlink.push_back(
        {"UNLINK", stream, FloorKey("index"), FloorKey("roadmap_actions")});
    for (int n = 0; n < o.writes; ++n) {
      unlink.push_back({"UNLINK", entity(n), history(n),
                        FloorKey("request:" + absl::StrFormat("%026d", n))});
    }
    return redis.Pipeline(unlink).status();
  };
  for (const auto* script : {&MinimalCreate(), &MinimalUpdate()}) {
    auto r = redis.Command({"SCRIPT", "LOAD", script->source()});
    if (!r.ok()) return r.status();
    if (r->is_error()) return absl::InternalError(r->str());
  }
  // Runs `create` then `update` (which changes the entities `create`
  // made), then drops what they wrote, also when a run failed.
  auto pair = [&](const auto& create_write, int create_commands,
                  double* create_us, const auto& update_write,
                  int update_commands, double* update_us) -> absl::Status {
    auto c = Run(redis, o, create_write, create_commands);
    auto u = c.ok() ? Run(redis, o, update_write, update_commands) : c;
    absl::Status dropped = drop();
    if (!u.ok()) return u.status();
    *create_us = *c;
    *update_us = *u;
    return dropped;
  };
  if (auto s = pair(create, 7, &floor.create_us, update, 4, &floor.update_us);
      !s.ok()) {
    return s;
  }
  if (auto s = pair(scripted_create, 1, &floor.script_create_us,
                    scripted_update, 1, &floor.script_update_us);
      !s.ok()) {
    return s;
  }
  return floor;
}

}  // namespace jalon::bench
