#include "services/reporting/read_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "jalon/feedback/v1/feedback.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "services/common/dates.h"
#include "services/common/ids.h"
#include "services/common/logging.h"
#include "services/reporting/enum_name.h"

namespace jalon::reporting {
namespace {

namespace rm = ::jalon::roadmap::v1;
namespace fb = ::jalon::feedback::v1;

// Replaces an entity by a newer version and swaps its facets, atomically.
// KEYS[1] generation hash, KEYS[2] entity, KEYS[3] status stream, KEYS[4]
// the "seen" guard of the source event; facet keys follow.
// ARGV: generation ("*": a generation that does not serve yet, written by
// its rebuild: no check), expected version, new version, data, stream
// maxlen, number of updates, the updates..., then (op, key index, member,
// value).
// Replies: "ok", "old" (not newer: nothing to do), "stale" (a concurrent
// apply won: read again), "gen" (the generation switched: read it again).
constexpr char kApplyLua[] = R"lua(
if ARGV[1] ~= '*' and (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then
  return 'gen'
end
local cur = tonumber(redis.call('HGET', KEYS[2], 'v') or '0')
if cur >= tonumber(ARGV[3]) then return 'old' end
if cur ~= tonumber(ARGV[2]) then return 'stale' end
local nup = tonumber(ARGV[6])
local i = 7 + nup
while i <= #ARGV do
  local c, k, m, v = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]
  if c == 'c' then
    if redis.call('HINCRBY', k, m, v) == 0 then redis.call('HDEL', k, m) end
  elseif c == 'za' then redis.call('ZADD', k, v, m)
  elseif c == 'zr' then redis.call('ZREM', k, m)
  elseif c == 'zi' then
    if tonumber(redis.call('ZINCRBY', k, v, m)) == 0 then
      redis.call('ZREM', k, m)
    end
  end
  i = i + 4
end
redis.call('HSET', KEYS[2], 'v', ARGV[3], 'd', ARGV[4])
if nup > 0 and redis.call('SET', KEYS[4], '1', 'NX', 'EX', 2592000) then
  for j = 1, nup do
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[6 + j])
  end
end
return 'ok'
)lua";

const RedisScript& ApplyScript() {
  static const RedisScript* s = new RedisScript(kApplyLua);
  return *s;
}

// Moves the generation pointer from ARGV[1] to ARGV[2] for the rebuild
// holding the lock. KEYS: the generation hash, the rebuild lock, the source
// streams. ARGV: old and new generation, the lock token, the consumer
// group, '1' for an exact switch, then per source stream the last entry id
// the new generation holds ('' for none). An exact switch requires that no
// entry after those was delivered to the group: whatever a consumer may
// have applied to the old generation is in the new one. Replies 1
// (switched), 0 (the pointer moved: someone else switched), -1 (the lock
// is not ours any more), -2 (consumers are ahead: catch up again).
const RedisScript& SwitchScript() {
  static const RedisScript* s = new RedisScript(R"lua(
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
if (redis.call('HGET', KEYS[1], 'v') or '0') ~= ARGV[1] then return 0 end
local function parse(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  return tonumber(ms or '0'), tonumber(seq or '0')
end
local function after(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am > bm or (am == bm and as > bs)
end
if ARGV[5] == '1' then
  for i = 3, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then
      for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[i])) do
        local name, last
        for j = 1, #g, 2 do
          if g[j] == 'name' then name = g[j + 1] end
          if g[j] == 'last-delivered-id' then last = g[j + 1] end
        end
        if name == ARGV[4] and after(last, ARGV[i + 3]) then return -2 end
      end
    end
  end
end
redis.call('HSET', KEYS[1], 'v', ARGV[2])
return 1
)lua");
  return *s;
}

// Extends the rebuild lock ARGV[2] ms if it is still ours (ARGV[1]); 0 if
// not.
const RedisScript& ExtendLockScript() {
  static const RedisScript* s = new RedisScript(R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua");
  return *s;
}

// The rebuild lock lives this long unless its rebuild extends it, which it
// does every kLockRenewEvery while it works: a killed rebuild blocks the
// next one for at most a minute.
constexpr std::chrono::milliseconds kLockTtl{60000};
constexpr std::chrono::seconds kLockRenewEvery{10};
// Catch-up passes before the switch: a pass that applied fewer entries
// than kShortPass is followed by an attempt to switch, which fails when
// consumers got ahead meanwhile. After kMaxPasses the switch is no longer
// exact, and one more pass follows it.
constexpr int64_t kShortPass = 200;
constexpr int kMaxPasses = 20;

// Releases the rebuild lock if it is still ours.
const RedisScript& UnlockScript() {
  static const RedisScript* s = new RedisScript(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
)lua");
  return *s;
}

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  return absl::SimpleAtoi(s, &v) ? v : 0;
}

std::string Num(double v) {
  // Scores and counts are whole numbers here; print them exactly.
  return std::to_string(static_cast<int64_t>(v));
}

bool Dated(const Date& d) { return !IsUnset(d) && IsValidDate(d); }

bool OpenItem(fb::FeedbackStatus s) {
  return s == fb::FEEDBACK_STATUS_SUBMITTED ||
         s == fb::FEEDBACK_STATUS_ACKNOWLEDGED ||
         s == fb::FEEDBACK_STATUS_LINKED;
}

Date DateOfTimestamp(const google::protobuf::Timestamp& t) {
  return DateOf(
      std::chrono::system_clock::time_point(std::chrono::seconds(t.seconds())));
}

void ActionFacets(const ModelKeys& k, const rm::Action& a,
                  std::vector<Facet>* out) {
  const std::string& r = a.roadmap_id();
  const std::string& eco = a.ecosystem_id();
  out->push_back({Facet::kCount, k.Counts(r),
                  absl::StrCat("a|", eco, "|", static_cast<int>(a.status()))});
  if (OpenAction(a.status()) && Dated(a.due_date())) {
    const double due = static_cast<double>(DaysFromCivil(a.due_date()));
    out->push_back({Facet::kMember, k.OpenDue(r, "*"), a.id(), due});
    if (!eco.empty()) {
      out->push_back({Facet::kMember, k.OpenDue(r, eco), a.id(), due});
    }
  }
  if (a.status() == rm::ACTION_STATUS_BLOCKED) {
    out->push_back({Facet::kMember, k.Blocked(r, "*"), a.id(), 0});
    if (!eco.empty()) {
      out->push_back({Facet::kMember, k.Blocked(r, eco), a.id(), 0});
    }
  }
  if (a.status() == rm::ACTION_STATUS_DONE) {
    out->push_back({Facet::kMember, k.Done(r), a.id(),
                    static_cast<double>(a.done_time().seconds())});
    if (Dated(a.due_date())) {
      out->push_back({Facet::kCount, k.Counts(r), absl::StrCat("d|", eco)});
      if (CompareDates(DateOfTimestamp(a.done_time()), a.due_date()) <= 0) {
        out->push_back({Facet::kCount, k.Counts(r), absl::StrCat("o|", eco)});
      }
    }
  }
}

void FeedbackFacets(const ModelKeys& k, const fb::FeedbackItem& f,
                    std::vector<Facet>* out) {
  if (f.hidden()) return;  // moderated away: not counted anywhere
  const std::string& r = f.roadmap_id();
  const std::string& eco = f.ecosystem_id();
  out->push_back({Facet::kCount, k.Counts(r),
                  absl::StrCat("f|", eco, "|", static_cast<int>(f.kind()), "|",
                               static_cast<int>(f.status()))});
  const bool blocker = f.kind() == fb::FEEDBACK_KIND_BLOCKER;
  if (blocker) {
    out->push_back({Facet::kCount, k.Counts(r), absl::StrCat("b|", eco)});
    if (f.linked_action_ids_size() > 0) {
      out->push_back({Facet::kCount, k.Counts(r), absl::StrCat("l|", eco)});
    }
    if (OpenItem(f.status())) {
      // Reports are readable by every role: copilots-only items are
      // counted but never listed.
      if (f.visibility() != fb::VISIBILITY_COPILOTS_ONLY) {
        out->push_back({Facet::kMember, k.OpenBlockers(r, "*"), f.id(), 0});
        if (!eco.empty()) {
          out->push_back({Facet::kMember, k.OpenBlockers(r, eco), f.id(), 0});
        }
        for (const auto& action : f.linked_action_ids()) {
          out->push_back({Facet::kMember, k.ActionBlockers(action), f.id(), 0});
        }
      }
    }
  }
  if (f.has_acknowledge_time()) {
    double secs = static_cast<double>(f.acknowledge_time().seconds() -
                                      f.audit().create_time().seconds());
    secs = std::max(0.0, secs);
    out->push_back({Facet::kMember, k.Ack(r, "*"), f.id(), secs});
    if (!eco.empty())
      out->push_back({Facet::kMember, k.Ack(r, eco), f.id(), secs});
  }
}

template <typename T>
absl::StatusOr<T> Parse(std::string_view kind, const std::string& data) {
  T t;
  if (!t.ParseFromString(data)) {
    // DataLoss: no retry can make these bytes parse (see Rebuild).
    return absl::DataLossError(
        absl::StrCat(std::string(kind), " state does not parse"));
  }
  return t;
}

// A status this build does not know (a newer roadmap's) is its number: the
// event still applies, instead of throwing into the dead-letter stream.
std::string StatusName(rm::ActionStatus s) { return ShortName(s); }

}  // namespace

bool OpenAction(rm::ActionStatus s) {
  return s != rm::ACTION_STATUS_DONE && s != rm::ACTION_STATUS_CANCELLED;
}

// --- Keys ------------------------------------------------------------------

std::string Keys::Prefix() { return "jalon:reporting:"; }
std::string Keys::Generation() { return Prefix() + "generation"; }
std::string Keys::GenerationSeq() { return Prefix() + "generation-seq"; }
std::string Keys::RebuildLock() { return Prefix() + "rebuild-lock"; }
std::string Keys::Generations() { return Prefix() + "generations"; }
std::string Keys::Stream() { return Prefix() + "events"; }
std::string Keys::WakeupChannel() { return Prefix() + "wakeup"; }
std::string Keys::DeadLetters(std::string_view source) {
  return absl::StrCat(Prefix(), "dead:", std::string(source));
}
std::string Keys::FeedSeen(std::string_view event_id) {
  return absl::StrCat(Prefix(), "seen:", std::string(event_id));
}
std::string Keys::Ratings() { return Prefix() + "ratings"; }
std::string Keys::RatingChecks() { return Prefix() + "rating-checks"; }
std::string Keys::LateAnnounced(std::string_view roadmap_id) {
  return absl::StrCat(Prefix(), "late:", std::string(roadmap_id));
}

ModelKeys::ModelKeys(int64_t generation)
    : generation_(generation),
      p_(absl::StrCat(Keys::Prefix(), "m", generation, ":")) {}
std::string ModelKeys::Entity(std::string_view kind,
                              std::string_view id) const {
  return absl::StrCat(p_, "e:", std::string(kind), ":", std::string(id));
}
std::string ModelKeys::Roadmaps() const { return p_ + "roadmaps"; }
std::string ModelKeys::Ecosystems(std::string_view r) const {
  return absl::StrCat(p_, "r:", std::string(r), ":ecosystems");
}
std::string ModelKeys::Indicators(std::string_view r) const {
  return absl::StrCat(p_, "r:", std::string(r), ":indicators");
}
std::string ModelKeys::Measurements(std::string_view i) const {
  return absl::StrCat(p_, "i:", std::string(i), ":measurements");
}
std::string ModelKeys::Counts(std::string_view r) const {
  return absl::StrCat(p_, "r:", std::string(r), ":counts");
}
std::string ModelKeys::OpenDue(std::string_view r, std::string_view eco) const {
  return absl::StrCat(p_, "r:", std::string(r), ":open-due|", std::string(eco));
}
std::string ModelKeys::Blocked(std::string_view r, std::string_view eco) const {
  return absl::StrCat(p_, "r:", std::string(r), ":blocked|", std::string(eco));
}
std::string ModelKeys::Done(std::string_view r) const {
  return absl::StrCat(p_, "r:", std::string(r), ":done");
}
std::string ModelKeys::OpenBlockers(std::string_view r,
                                    std::string_view eco) const {
  return absl::StrCat(p_, "r:", std::string(r), ":open-blockers|",
                      std::string(eco));
}
std::string ModelKeys::ActionBlockers(std::string_view a) const {
  return absl::StrCat(p_, "a:", std::string(a), ":blockers");
}
std::string ModelKeys::Endorsements(std::string_view r) const {
  return absl::StrCat(p_, "r:", std::string(r), ":endorsements");
}
std::string ModelKeys::Ack(std::string_view r, std::string_view eco) const {
  return absl::StrCat(p_, "r:", std::string(r), ":ack|", std::string(eco));
}

// --- Facets and updates ------------------------------------------------------

bool IsModelled(std::string_view kind) {
  return kind == "roadmap" || kind == "ecosystem" || kind == "indicator" ||
         kind == "measurement" || kind == "action" || kind == "feedback" ||
         kind == "endorsement";
}

absl::StatusOr<std::vector<Facet>> FacetsOf(const ModelKeys& k,
                                            std::string_view kind,
                                            const std::string& data) {
  std::vector<Facet> out;
  if (kind == "roadmap") {
    auto r = Parse<rm::Roadmap>(kind, data);
    if (!r.ok()) return r.status();
    out.push_back({Facet::kMember, k.Roadmaps(), r->id(), 0});
  } else if (kind == "ecosystem") {
    auto e = Parse<rm::Ecosystem>(kind, data);
    if (!e.ok()) return e.status();
    out.push_back({Facet::kMember, k.Ecosystems(e->roadmap_id()), e->id(), 0});
  } else if (kind == "indicator") {
    auto i = Parse<rm::Indicator>(kind, data);
    if (!i.ok()) return i.status();
    out.push_back({Facet::kMember, k.Indicators(i->roadmap_id()), i->id(), 0});
  } else if (kind == "measurement") {
    auto m = Parse<rm::Measurement>(kind, data);
    if (!m.ok()) return m.status();
    out.push_back(
        {Facet::kMember, k.Measurements(m->indicator_id()), m->id(), 0});
  } else if (kind == "action") {
    auto a = Parse<rm::Action>(kind, data);
    if (!a.ok()) return a.status();
    ActionFacets(k, *a, &out);
  } else if (kind == "feedback") {
    auto f = Parse<fb::FeedbackItem>(kind, data);
    if (!f.ok()) return f.status();
    FeedbackFacets(k, *f, &out);
  } else if (kind == "endorsement") {
    auto e = Parse<fb::Endorsement>(kind, data);
    if (!e.ok()) return e.status();
    if (e->active()) {
      out.push_back({Facet::kScore, k.Endorsements(e->roadmap_id()),
                     e->feedback_id(), 1});
    }
  }
  return out;
}

std::vector<pb::StatusUpdate> UpdatesOf(const events::v1::Event& event,
                                        std::string_view old_data) {
  std::vector<pb::StatusUpdate> out;
  auto base = [&event](pb::StatusKind kind) {
    pb::StatusUpdate u;
    u.set_kind(kind);
    u.set_roadmap_id(event.roadmap_id());
    *u.mutable_time() = event.occurred_at();
    u.set_subject_id(event.aggregate_id());
    u.set_source_event_id(event.event_id());
    return u;
  };
  if (event.aggregate_kind() == "action") {
    rm::Action now, before;
    if (!event.state().UnpackTo(&now)) return out;
    if (!old_data.empty()) {
      if (!before.ParseFromArray(old_data.data(),
                                 static_cast<int>(old_data.size())) ||
          before.status() == now.status()) {
        return out;
      }
    } else {
      // The state before was never applied here: another consumer of the
      // group still holds its event, or the stream lost it. The event says
      // whether the status changed, not from what; the older event, when
      // it comes, is ignored (older), so this is the only chance to tell.
      const auto& changed = event.changed_fields();
      if (event.aggregate_version() <= 1 ||
          std::find(changed.begin(), changed.end(), "status") ==
              changed.end()) {
        return out;
      }
    }
    pb::StatusUpdate u = base(pb::STATUS_KIND_ACTION_TRANSITIONED);
    u.set_roadmap_id(now.roadmap_id());
    u.set_ecosystem_id(now.ecosystem_id());
    u.set_title(now.title());
    u.set_from_status(before.status());  // UNSPECIFIED when not known
    u.set_to_status(now.status());
    u.set_reason(now.status_reason());
    u.set_summary(old_data.empty()
                      ? absl::StrCat("Action \"", now.title(), "\" moved to ",
                                     StatusName(now.status()))
                      : absl::StrCat("Action \"", now.title(), "\" moved from ",
                                     StatusName(before.status()), " to ",
                                     StatusName(now.status())));
    out.push_back(std::move(u));
  } else if (event.aggregate_kind() == "feedback") {
    fb::FeedbackItem now, before;
    if (!event.state().UnpackTo(&now) ||
        now.status() != fb::FEEDBACK_STATUS_ADDRESSED) {
      return out;
    }
    if (!old_data.empty() &&
        before.ParseFromArray(old_data.data(),
                              static_cast<int>(old_data.size())) &&
        before.status() == fb::FEEDBACK_STATUS_ADDRESSED) {
      return out;
    }
    pb::StatusUpdate u = base(pb::STATUS_KIND_FEEDBACK_ADDRESSED);
    u.set_roadmap_id(now.roadmap_id());
    u.set_ecosystem_id(now.ecosystem_id());
    // Copilots-only and hidden items are named by id only: the feed is
    // readable by every role and by feed keys.
    const bool named_by_id_only =
        now.visibility() == fb::VISIBILITY_COPILOTS_ONLY || now.hidden();
    u.set_title(named_by_id_only ? "" : now.title());
    u.set_summary(absl::StrCat("Feedback ", now.id(),
                               " was addressed: its linked actions are done"));
    out.push_back(std::move(u));
  }
  return out;
}

std::string WrapUpdate(const pb::StatusUpdate& update) {
  events::v1::Event e;
  e.set_event_id(NewUlid());
  std::string kind = pb::StatusKind_Name(update.kind());
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  e.set_type("reporting.status." +
             kind.substr(std::string("status_kind_").size()));
  e.set_aggregate_kind("status");
  e.set_aggregate_id(update.subject_id());
  *e.mutable_occurred_at() = update.time();
  e.set_roadmap_id(update.roadmap_id());
  e.mutable_state()->PackFrom(update);
  return e.SerializeAsString();
}

// --- ReadModel ---------------------------------------------------------------

ReadModel::ReadModel(RedisClient* redis, int64_t stream_max_len)
    : redis_(redis), stream_max_len_(stream_max_len) {}

absl::StatusOr<int64_t> ReadModel::Generation() {
  int64_t cached = generation_.load();
  if (cached > 0) return cached;
  auto r = Checked(redis_->Pipeline({{"HSETNX", Keys::Generation(), "v", "1"},
                                     {"HGET", Keys::Generation(), "v"}}),
                   "generation");
  if (!r.ok()) return r.status();
  const RedisReply& v = (*r)[1];
  if (v.is_nil()) {
    return absl::InternalError("cannot read the read-model generation");
  }
  int64_t g = ToInt(v.str());
  generation_.store(g);
  return g;
}

absl::StatusOr<ModelKeys> ReadModel::Current() {
  generation_.store(0);  // readers always ask Redis
  auto g = Generation();
  if (!g.ok()) return g.status();
  return ModelKeys(*g);
}

absl::Status ReadModel::ApplyEntry(const StreamEntry& entry) {
  events::v1::Event e;
  if (!e.ParseFromString(entry.payload)) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream entry ", entry.id, " is not an event"));
  }
  return Apply(e);
}

absl::Status ReadModel::Apply(const events::v1::Event& event,
                              bool with_updates) {
  return ApplyTo(event, with_updates, /*target=*/0);
}

absl::Status ReadModel::ApplyTo(const events::v1::Event& event,
                                bool with_updates, int64_t target) {
  const std::string& kind = event.aggregate_kind();
  if (!IsModelled(kind)) return absl::OkStatus();
  const std::string& data = event.state().value();
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto gen = target > 0 ? absl::StatusOr<int64_t>(target) : Generation();
    if (!gen.ok()) return gen.status();
    ModelKeys keys(*gen);
    const std::string key = keys.Entity(kind, event.aggregate_id());
    auto cur = redis_->Command({"HMGET", key, "v", "d"});
    if (!cur.ok()) return cur.status();
    if (!cur->is_array() || cur->elements().size() != 2) {
      return absl::InternalError("unexpected HMGET reply");
    }
    const RedisReply& v = cur->elements()[0];
    const int64_t version = v.is_nil() ? 0 : ToInt(v.str());
    if (version >= event.aggregate_version()) return absl::OkStatus();
    const std::string old_data =
        version > 0 ? cur->elements()[1].str() : std::string();

    std::vector<std::pair<char, Facet>> ops;  // 'r'emove or 'a'dd
    if (version > 0) {
      auto old_facets = FacetsOf(keys, kind, old_data);
      if (!old_facets.ok()) return old_facets.status();
      for (auto& f : *old_facets) ops.push_back({'r', std::move(f)});
    }
    auto new_facets = FacetsOf(keys, kind, data);
    if (!new_facets.ok()) return new_facets.status();
    for (auto& f : *new_facets) ops.push_back({'a', std::move(f)});

    std::vector<std::string> updates;
    if (with_updates) {
      for (const auto& u : UpdatesOf(event, old_data)) {
        updates.push_back(WrapUpdate(u));
      }
    }

    RedisArgs k = {Keys::Generation(), key, Keys::Stream(),
                   Keys::FeedSeen(event.event_id())};
    std::map<std::string, int> index;
    RedisArgs args = {target > 0 ? std::string("*") : std::to_string(*gen),
                      std::to_string(version),
                      std::to_string(event.aggregate_version()),
                      data,
                      std::to_string(stream_max_len_),
                      std::to_string(updates.size())};
    args.insert(args.end(), updates.begin(), updates.end());
    for (const auto& [how, f] : ops) {
      auto [it, inserted] =
          index.emplace(f.key, static_cast<int>(k.size()) + 1);
      if (inserted) k.push_back(f.key);
      std::string code, value;
      switch (f.op) {
        case Facet::kCount:
          code = "c";
          value = how == 'r' ? "-1" : "1";
          break;
        case Facet::kMember:
          code = how == 'r' ? "zr" : "za";
          value = Num(f.value);
          break;
        case Facet::kScore:
          code = "zi";
          value = Num(how == 'r' ? -f.value : f.value);
          break;
      }
      args.push_back(code);
      args.push_back(std::to_string(it->second));
      args.push_back(f.member);
      args.push_back(value);
    }
    auto r = redis_->Eval(ApplyScript(), k, args);
    if (!r.ok()) return r.status();
    if (r->is_error()) return StatusOfErrorReply(*r, "apply_script");
    if (r->str() == "ok" || r->str() == "old") return absl::OkStatus();
    if (r->str() == "gen") generation_.store(0);
    // "stale" or "gen": read again.
  }
  return absl::AbortedError("read model apply kept losing races");
}

namespace {

// A state a rebuild leaves out because it does not parse (DataLoss): the
// consumers dead-letter its event, and the rebuild must not fail on it
// every time. `entry` is its stream entry, when known.
void LogLeftOut(std::string_view kind, std::string_view id, int64_t version,
                std::string_view entry, const absl::Status& status) {
  spdlog::error(
      "msg=rebuild_left_out_unreadable_state kind={} id={} version={} "
      "entry={} error={}",
      LogValue(kind), LogValue(id), version,
      entry.empty() ? std::string("-") : std::string(entry),
      LogValue(std::string(status.message())));
}

}  // namespace

absl::Status ReadModel::KeepReadable(
    const std::vector<std::string>& streams,
    const std::map<std::string, std::string>& fold_end,
    FoldedEntities* entities, int64_t* unreadable,
    const std::function<absl::Status()>& keep_lock) {
  const ModelKeys probe(0);  // FacetsOf parses; the keys it names are unused
  auto readable = [&](std::string_view kind, const std::string& data) {
    return !absl::IsDataLoss(FacetsOf(probe, kind, data).status());
  };
  FoldedEntities fallback;  // version 0: none readable found yet
  for (const auto& [key, f] : *entities) {
    const std::string_view kind(key.data(), key.find('\n'));
    if (!readable(kind, f.data)) fallback.try_emplace(key);
  }
  if (fallback.empty()) return absl::OkStatus();
  std::string id;
  for (const auto& stream : streams) {
    events::v1::Event e;
    auto n = StreamConsumer::Replay(
        redis_, stream,
        [&](const StreamEntry& entry) {
          if (!e.ParseFromString(entry.payload)) return keep_lock();
          id.assign(e.aggregate_kind());
          id += '\n';
          id += e.aggregate_id();
          auto it = fallback.find(id);
          if (it != fallback.end() &&
              e.aggregate_version() > it->second.version &&
              readable(e.aggregate_kind(), e.state().value())) {
            it->second.version = e.aggregate_version();
            it->second.data.swap(*e.mutable_state()->mutable_value());
          }
          return keep_lock();
        },
        1000, "", fold_end.at(stream));
    if (!n.ok()) return n.status();
  }
  for (auto& [key, f] : fallback) {
    if (f.version == 0) continue;  // never readable: WriteBulk leaves it out
    Folded& newest = (*entities)[key];
    const size_t nl = key.find('\n');
    LogLeftOut(std::string_view(key).substr(0, nl),
               std::string_view(key).substr(nl + 1), newest.version, "",
               absl::DataLossError("does not parse; its last readable "
                                   "state is kept, as the consumers did"));
    ++*unreadable;
    newest = std::move(f);
  }
  return absl::OkStatus();
}

absl::Status ReadModel::WriteBulk(
    const ModelKeys& keys, FoldedEntities* entities, int64_t* written,
    int64_t* unreadable, const std::function<absl::Status()>& keep_lock) {
  std::map<std::string, std::map<std::string, int64_t>> counts;
  std::map<std::string, std::map<std::string, double>> members;
  std::map<std::string, std::map<std::string, double>> increments;
  std::vector<RedisArgs> cmds;
  auto flush = [&](bool force) -> absl::Status {
    if (cmds.empty() || (!force && cmds.size() < 1000)) return absl::OkStatus();
    if (auto s = keep_lock(); !s.ok()) return s;
    auto r = redis_->Pipeline(cmds);
    cmds.clear();
    if (!r.ok()) return r.status();
    for (const auto& reply : *r) {
      if (reply.is_error()) {
        spdlog::error("msg=rebuild_write_failed error={}",
                      LogValue(reply.str()));
        return absl::InternalError("rebuild write failed");
      }
    }
    return absl::OkStatus();
  };
  for (auto& [id, entity] : *entities) {
    // id is "<kind>\n<aggregate id>".
    const size_t nl = id.find('\n');
    const std::string_view kind(id.data(), nl);
    auto facets = FacetsOf(keys, kind, entity.data);
    if (absl::IsDataLoss(facets.status())) {
      LogLeftOut(kind, std::string_view(id).substr(nl + 1), entity.version, "",
                 facets.status());
      ++*unreadable;
      continue;
    }
    if (!facets.ok()) return facets.status();
    for (const auto& f : *facets) {
      switch (f.op) {
        case Facet::kCount:
          counts[f.key][f.member] += 1;
          break;
        case Facet::kMember:
          members[f.key][f.member] = f.value;
          break;
        case Facet::kScore:
          increments[f.key][f.member] += f.value;
          break;
      }
    }
    cmds.push_back(
        {"HSET", keys.Entity(kind, std::string_view(id).substr(nl + 1)), "v",
         std::to_string(entity.version), "d", std::move(entity.data)});
    ++*written;
    if (auto s = flush(false); !s.ok()) return s;
  }
  for (const auto& [key, fields] : counts) {
    RedisArgs cmd = {"HSET", key};
    for (const auto& [field, n] : fields) {
      if (n == 0) continue;
      cmd.push_back(field);
      cmd.push_back(std::to_string(n));
    }
    if (cmd.size() > 2) cmds.push_back(std::move(cmd));
    if (auto s = flush(false); !s.ok()) return s;
  }
  for (const auto& [key, scores] : increments) {
    for (const auto& [member, score] : scores) {
      // An increment at zero is absent, as Apply leaves it.
      if (score != 0) members[key][member] = score;
    }
  }
  for (const auto& [key, scores] : members) {
    RedisArgs cmd = {"ZADD", key};
    for (const auto& [member, score] : scores) {
      cmd.push_back(Num(score));
      cmd.push_back(member);
      if (cmd.size() >= 1002) {
        cmds.push_back(std::move(cmd));
        cmd = {"ZADD", key};
      }
    }
    if (cmd.size() > 2) cmds.push_back(std::move(cmd));
    if (auto s = flush(false); !s.ok()) return s;
  }
  return flush(true);
}

// Where a rebuild's fold of `stream` stops: everything before it has been
// applied and acknowledged by the consumer group, so its status updates were
// announced; what follows is replayed after the switch, announcing what was
// not yet. No group: nobody consumed anything, fold it all.
absl::StatusOr<std::string> ReadModel::FoldEnd(const std::string& stream) {
  auto groups = redis_->Command({"XINFO", "GROUPS", stream});
  if (!groups.ok()) return groups.status();
  if (IsNoSuchKeyReply(*groups)) return std::string("+");  // no stream yet
  if (groups->is_error()) return StatusOfErrorReply(*groups, "fold_groups");
  std::string last_delivered;
  for (const auto& g : groups->elements()) {
    const RedisReply* name = g.Field("name");
    const RedisReply* last = g.Field("last-delivered-id");
    if (name != nullptr && name->str() == kGroup && last != nullptr) {
      last_delivered = last->str();
    }
  }
  if (last_delivered.empty()) return std::string("+");
  auto pending =
      Checked(redis_->Command({"XPENDING", stream, kGroup}), "fold_pending");
  if (!pending.ok()) return pending.status();
  if (pending->is_array() && pending->elements().size() >= 2 &&
      pending->elements()[0].integer() > 0) {
    return "(" + pending->elements()[1].str();  // before the oldest pending
  }
  return last_delivered;
}

absl::Status ReadModel::CheckNotTrimmed(const std::string& stream) {
  auto info = redis_->Command({"XINFO", "STREAM", stream});
  if (!info.ok()) return info.status();
  if (IsNoSuchKeyReply(*info)) return absl::OkStatus();  // nothing lost
  if (info->is_error()) return StatusOfErrorReply(*info, "stream_info");
  const RedisReply* length_field = info->Field("length");
  const RedisReply* added_field = info->Field("entries-added");
  const int64_t length = length_field ? length_field->integer() : 0;
  const int64_t added = added_field ? added_field->integer() : 0;
  if (added > length) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the stream ", stream, " no longer holds its first ", added - length,
        " entries (trimmed at --stream-max-len): a rebuild would lose "
        "entities; raise --stream-max-len before the history is trimmed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RebuildStats> ReadModel::Rebuild() {
  std::unique_lock<std::mutex> one_here(rebuild_mu_, std::try_to_lock);
  if (!one_here.owns_lock()) {
    return absl::FailedPreconditionError(
        "a rebuild is already running in this process");
  }
  // The previous drop first, before the lock's TTL starts to run.
  if (dropper_.joinable()) dropper_.join();
  const auto start = std::chrono::steady_clock::now();
  const std::string lock_token = NewUlid();
  const std::string ttl_ms = std::to_string(kLockTtl.count());
  auto locked = redis_->Command(
      {"SET", Keys::RebuildLock(), lock_token, "NX", "PX", ttl_ms});
  if (!locked.ok()) return locked.status();
  if (locked->is_nil()) {
    return absl::FailedPreconditionError("a rebuild is already running");
  }
  // Keeps the lock while this rebuild works; fails once it is lost (the
  // process stalled past its TTL and another rebuild took over).
  auto renewed = start;
  auto keep_lock = [&]() -> absl::Status {
    const auto now = std::chrono::steady_clock::now();
    if (now - renewed < kLockRenewEvery) return absl::OkStatus();
    renewed = now;
    auto r = redis_->Eval(ExtendLockScript(), {Keys::RebuildLock()},
                          {lock_token, ttl_ms});
    if (!r.ok()) return r.status();
    if (r->integer() != 1) {
      return absl::AbortedError("the rebuild lost its lock");
    }
    return absl::OkStatus();
  };
  auto hook = [this](std::string_view stage) {
    return hook_ ? hook_(stage) : absl::OkStatus();
  };
  RebuildStats stats;
  auto lap = [last = start]() mutable {
    const auto now = std::chrono::steady_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - last);
    last = now;
    return static_cast<int64_t>(ms.count());
  };
  const std::vector<std::string> streams = {kRoadmapStream, kFeedbackStream};
  // Per source stream, the last entry the new generation holds.
  std::map<std::string, std::string> last_id;
  int64_t gen = 0;  // the new generation, once it has a number
  std::vector<int64_t> to_drop;
  auto run = [&]() -> absl::Status {
    for (const auto& stream : streams) {
      if (auto s = CheckNotTrimmed(stream); !s.ok()) return s;
    }
    auto old_keys = Current();  // read afresh, not from the cache
    if (!old_keys.ok()) return old_keys.status();
    const int64_t old_gen = old_keys->generation();
    // What earlier rebuilds left behind when they failed or were killed.
    auto known = redis_->Command({"SMEMBERS", Keys::Generations()});
    if (!known.ok()) return known.status();
    for (const auto& g : known->elements()) {
      if (ToInt(g.str()) != old_gen) to_drop.push_back(ToInt(g.str()));
    }
    // Fold both streams, up to what the consumers have acknowledged, into
    // the latest state of every entity.
    FoldedEntities entities;
    std::string id;  // "<kind>\n<aggregate id>", reused
    std::map<std::string, std::string> fold_end;
    for (const auto& stream : streams) {
      auto end = FoldEnd(stream);
      if (!end.ok()) return end.status();
      fold_end[stream] = *end;
      events::v1::Event e;
      std::string& last = last_id[stream];
      auto n = StreamConsumer::Replay(
          redis_, stream,
          [&](const StreamEntry& entry) {
            last = entry.id;
            if (!e.ParseFromString(entry.payload) ||
                !IsModelled(e.aggregate_kind())) {
              return keep_lock();
            }
            id.assign(e.aggregate_kind());
            id += '\n';
            id += e.aggregate_id();
            auto [it, inserted] = entities.try_emplace(id);
            Folded& f = it->second;
            if (inserted || e.aggregate_version() > f.version) {
              f.version = e.aggregate_version();
              // The event is parsed afresh for the next entry: take its
              // state rather than copy it.
              f.data.swap(*e.mutable_state()->mutable_value());
            }
            return keep_lock();
          },
          1000, "", *end);
      if (!n.ok()) return n.status();
      stats.events += *n;
    }
    if (auto s = KeepReadable(streams, fold_end, &entities, &stats.unreadable,
                              keep_lock);
        !s.ok()) {
      return s;
    }
    stats.fold_ms = lap();
    // A fresh generation, written while the current one keeps serving. It
    // is registered first, so that a failure from here on, even a killed
    // process, leaves nothing no rebuild will drop.
    auto seq = redis_->Command({"INCR", Keys::GenerationSeq()});
    if (!seq.ok()) return seq.status();
    gen = std::max<int64_t>(seq->integer(), old_gen + 1);
    if (gen != seq->integer()) {
      (void)redis_->Command(
          {"SET", Keys::GenerationSeq(), std::to_string(gen)});
    }
    auto registered =
        redis_->Command({"SADD", Keys::Generations(), std::to_string(gen)});
    if (!registered.ok()) return registered.status();
    ModelKeys keys(gen);
    if (auto s = WriteBulk(keys, &entities, &stats.entities, &stats.unreadable,
                           keep_lock);
        !s.ok()) {
      return s;
    }
    stats.write_ms = lap();
    if (auto s = hook("written"); !s.ok()) return s;
    // Catch up with what arrived since the fold, into the new generation
    // while the old one serves, then switch. Entries are replayed with
    // their status updates: this announces what the consumers have not yet
    // (once: each source event has its guard).
    auto catch_up = [&](int64_t target, int64_t* applied) -> absl::Status {
      for (const auto& stream : streams) {
        events::v1::Event e;
        std::string& last = last_id[stream];
        auto n = StreamConsumer::Replay(
            redis_, stream,
            [&](const StreamEntry& entry) {
              if (e.ParseFromString(entry.payload)) {
                auto s = ApplyTo(e, /*with_updates=*/true, target);
                if (absl::IsDataLoss(s)) {
                  LogLeftOut(e.aggregate_kind(), e.aggregate_id(),
                             e.aggregate_version(), entry.id, s);
                  ++stats.unreadable;
                } else if (!s.ok()) {
                  return s;
                }
              }
              last = entry.id;  // resume after it, should a later one fail
              ++*applied;
              return keep_lock();
            },
            1000, last);
        if (!n.ok()) return n.status();
      }
      return absl::OkStatus();
    };
    bool exact = true;
    for (;;) {
      int64_t applied = 0;
      if (auto s = catch_up(gen, &applied); !s.ok()) return s;
      stats.events += applied;
      ++stats.passes;
      exact = stats.passes < kMaxPasses;
      if (applied >= kShortPass && exact) continue;
      if (auto s = hook("switching"); !s.ok()) return s;
      RedisArgs keys_sw = {Keys::Generation(), Keys::RebuildLock()};
      RedisArgs args = {std::to_string(old_gen), std::to_string(gen),
                        lock_token, kGroup, exact ? "1" : "0"};
      for (const auto& stream : streams) {
        keys_sw.push_back(stream);
        args.push_back(last_id[stream]);
      }
      auto sw = redis_->Eval(SwitchScript(), keys_sw, args);
      if (!sw.ok()) {
        // No answer (a timeout): the script may have run. The pointer
        // says; the generation it names is never dropped.
        auto now = Current();
        if (now.ok() && now->generation() == gen) break;
        return sw.status();
      }
      if (sw->is_error()) return StatusOfErrorReply(*sw, "switch_script");
      if (sw->integer() == 1) break;
      if (sw->integer() == -1) {
        return absl::AbortedError("the rebuild lost its lock");
      }
      if (sw->integer() == 0) {
        return absl::AbortedError(
            "the read models switched during the rebuild");
      }
      // -2: the consumers got ahead of the last pass; another one.
    }
    generation_.store(gen);
    stats.generation = gen;
    to_drop.push_back(old_gen);
    (void)redis_->Command({"SREM", Keys::Generations(), std::to_string(gen)});
    if (auto s = hook("switched"); !s.ok()) return s;
    if (!exact) {
      // A switch that could not wait for the consumers: apply, to the
      // generation that now serves, what they applied to the old one since
      // the last pass. Retried: nothing will deliver these entries again.
      absl::Status s;
      for (int attempt = 0; attempt < 6; ++attempt) {
        if (attempt > 0) {
          std::this_thread::sleep_for(
              std::chrono::milliseconds(100 << attempt));
        }
        int64_t applied = 0;
        s = catch_up(0, &applied);
        stats.events += applied;
        if (s.ok()) break;
      }
      if (!s.ok()) {
        spdlog::error(
            "msg=read_models_incomplete generation={} error={} action=\"run "
            "the rebuild again\"",
            gen, LogValue(std::string(s.message())));
        return s;
      }
    }
    stats.catch_up_ms = lap();
    return absl::OkStatus();
  };
  absl::Status s = run();
  if (!s.ok() && gen > 0 && stats.generation == 0) {
    to_drop.push_back(gen);  // never served: what it wrote goes
  }
  (void)redis_->Eval(UnlockScript(), {Keys::RebuildLock()}, {lock_token});
  // Dropped in the background: the new generation serves already, and a
  // reader still on an old one finds out when it checks the generation
  // after reading, and reads again.
  DropInBackground(std::move(to_drop));
  if (!s.ok()) {
    spdlog::warn("msg=read_models_rebuild_failed error={}",
                 LogValue(std::string(s.message())));
    return s;
  }
  stats.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  spdlog::info(
      "msg=read_models_rebuilt events={} entities={} unreadable={} "
      "generation={} duration_ms={} fold_ms={} write_ms={} catch_up_ms={} "
      "passes={}",
      stats.events, stats.entities, stats.unreadable, stats.generation,
      stats.duration_ms, stats.fold_ms, stats.write_ms, stats.catch_up_ms,
      stats.passes);
  return stats;
}

void ReadModel::DropInBackground(std::vector<int64_t> generations) {
  if (generations.empty()) return;
  if (dropper_.joinable()) dropper_.join();
  dropper_ = std::thread([this, generations = std::move(generations)] {
    DropGenerations(generations);
  });
}

void ReadModel::DropGenerations(const std::vector<int64_t>& generations) {
  for (int64_t generation : generations) {
    // Never the one that serves, whatever went wrong before.
    auto current = Current();
    if (!current.ok() || current->generation() == generation) continue;
    const std::string prefix = ModelKeys(generation).prefix();
    const auto start = std::chrono::steady_clock::now();
    int64_t dropped = 0;
    // 10,000 slots of the keyspace per SCAN: a few ms of Redis each, ten
    // times fewer round trips than 1000.
    std::string cursor = "0";
    bool complete = true;
    do {
      auto r = redis_->Command(
          {"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "10000"});
      if (!r.ok() || !r->is_array() || r->elements().size() != 2) {
        complete = false;
        break;
      }
      cursor = r->elements()[0].str();
      RedisArgs del = {"UNLINK"};
      for (const auto& k : r->elements()[1].elements()) del.push_back(k.str());
      dropped += static_cast<int64_t>(del.size()) - 1;
      if (del.size() > 1 && !redis_->Command(del).ok()) complete = false;
    } while (cursor != "0" && complete);
    if (!complete) {
      // Still registered: the next rebuild drops it.
      spdlog::warn("msg=old_generation_drop_failed prefix={}", prefix);
      continue;
    }
    (void)redis_->Command(
        {"SREM", Keys::Generations(), std::to_string(generation)});
    spdlog::info("msg=old_generation_dropped prefix={} keys={} duration_ms={}",
                 prefix, dropped,
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count());
  }
}

ReadModel::~ReadModel() { WaitForDrop(); }

void ReadModel::WaitForDrop() {
  std::lock_guard<std::mutex> lock(rebuild_mu_);
  if (dropper_.joinable()) dropper_.join();
}

absl::StatusOr<std::map<std::string, std::string>> ReadModel::Dump() {
  auto keys = Current();
  if (!keys.ok()) return keys.status();
  const std::string& p = keys->prefix();
  std::map<std::string, std::string> out;
  std::string cursor = "0";
  do {
    auto r =
        redis_->Command({"SCAN", cursor, "MATCH", p + "*", "COUNT", "1000"});
    if (!r.ok()) return r.status();
    cursor = r->elements()[0].str();
    for (const auto& k : r->elements()[1].elements()) {
      const std::string& key = k.str();
      auto type = redis_->Command({"TYPE", key});
      if (!type.ok()) return type.status();
      std::string value;
      RedisArgs cmd;
      if (type->str() == "hash") {
        cmd = {"HGETALL", key};
      } else if (type->str() == "zset") {
        cmd = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
      } else {
        cmd = {"DUMP", key};
      }
      auto v = redis_->Command(cmd);
      if (!v.ok()) return v.status();
      std::vector<std::string> parts;
      if (v->is_array()) {
        for (size_t i = 0; i + 1 < v->elements().size(); i += 2) {
          parts.push_back(v->elements()[i].str() + "=" +
                          v->elements()[i + 1].str());
        }
      } else {
        parts.push_back(v->str());
      }
      if (type->str() == "hash") std::sort(parts.begin(), parts.end());
      for (const auto& part : parts) absl::StrAppend(&value, part, "\n");
      out[type->str() + " " + key.substr(p.size())] = value;
    }
  } while (cursor != "0");
  return out;
}

}  // namespace jalon::reporting
