// The machinery every use case of a service shares, over an EntityStore:
// load an entity with its version, create it idempotently (request_id),
// update it by compare-and-write with optional history, list it by pages,
// and build the events and history entries that go with each change.
// One EntityOps serves one call (it holds the caller and the call's "now");
// it is not shared between threads.
#ifndef JALON_SERVICES_COMMON_ENTITY_OPS_H_
#define JALON_SERVICES_COMMON_ENTITY_OPS_H_

#include <google/protobuf/message.h>
#include <google/protobuf/repeated_ptr_field.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "jalon/common/v1/common.pb.h"
#include "jalon/events/v1/events.pb.h"
#include "services/common/clock.h"
#include "services/common/commit.h"
#include "services/common/dates.h"
#include "services/common/entity_store.h"
#include "services/common/ids.h"
#include "services/common/requests.h"
#include "services/common/rpc.h"
#include "services/common/status.h"

namespace jalon {

using google::protobuf::Message;
using google::protobuf::RepeatedPtrField;

// Create's roadmap_id for an entity that is a roadmap itself.
inline constexpr char kOwnId[] = "<own id>";
// How long a create's request_id is remembered.
inline constexpr int64_t kRequestTtlSeconds = 24 * 3600;
// Update retries when a concurrent writer won the compare-and-write and the
// client sent no etag (it asked for "whatever is current").
inline constexpr int kMaxAttempts = 5;
// How many ids a filtered List scans for one page before returning a
// partial page with a token (bounds one call's work).
inline constexpr int kMaxScan = 5000;
// The bytes of entities one page holds at most, whatever its size asked:
// a page ends, with a token, once it has that much (at least one entity).
// Well under gRPC's 4 MiB message limit, which a page of 1000 large
// actions would pass: the call would fail, and its token never come.
inline constexpr size_t kMaxPageBytes = 2 << 20;

template <typename T>
struct Versioned {
  T value;
  int64_t version = 0;
  std::string extra;    // see Stored::extra
  bool cached = false;  // see Stored::cached
};

absl::Status Corrupt(std::string_view kind);
// An update's etag and the request field that holds it (named by the
// error when it is not an etag): `req.etag()` converts to one on `etag`;
// a nested one says where it is, e.g. {req.action().etag(), "action.etag"}.
struct EtagArg {
  EtagArg(const std::string& value) : value(value) {}  // NOLINT: implicit
  EtagArg(const char* value) : value(value) {}         // NOLINT: implicit
  EtagArg(std::string_view value, std::string_view field)
      : value(value), field(field) {}
  std::string_view value;
  std::string_view field = "etag";
};
// "" -> 0 (no etag); else the version it names, or INVALID_ARGUMENT on
// its field.
absl::StatusOr<int64_t> ParseEtag(EtagArg etag);
std::string EncodeToken(const std::string& s);
absl::StatusOr<std::string> DecodeToken(const std::string& token);
absl::StatusOr<int64_t> DecodeOffset(const std::string& token);

template <typename T>
absl::StatusOr<Versioned<T>> Decode(std::string_view kind, const Stored& s) {
  Versioned<T> out;
  if (!out.value.ParseFromString(s.data)) return Corrupt(kind);
  out.version = s.version;
  out.extra = s.extra;
  out.cached = s.cached;
  return out;
}

class EntityOps {
 public:
  EntityOps(const EntityStore* store, const Clock* clock,
            const CallContext& call)
      : store_(store), clock_(clock), call_(call), now_(clock->Now()) {}

  google::protobuf::Timestamp Now() const { return ToTimestamp(now_); }
  Date Today() const { return DateOf(now_); }

  template <typename T>
  absl::StatusOr<Versioned<T>> Load(std::string_view kind,
                                    std::string_view id) {
    auto s = store_->Get(kind, id);
    if (!s.ok()) return s.status();
    return Decode<T>(kind, *s);
  }

  std::string Event(std::string_view type, std::string_view kind,
                    const std::string& id, int64_t version,
                    const std::vector<std::string>& changed,
                    const Message& state, const std::string& roadmap_id) {
    events::v1::Event e;
    e.set_event_id(NewUlid());
    e.set_type(std::string(type));
    e.set_aggregate_kind(std::string(kind));
    e.set_aggregate_id(id);
    e.set_aggregate_version(version);
    *e.mutable_occurred_at() = Now();
    *e.mutable_actor() = call_.principal;
    for (const auto& f : changed) e.add_changed_fields(f);
    e.mutable_state()->PackFrom(state);
    e.set_request_id(call_.request_id);
    e.set_roadmap_id(roadmap_id);
    last_event_id_ = e.event_id();
    return e.SerializeAsString();
  }

  // History entry of an action change (appended in the same commit).
  std::string History(int64_t version, std::string_view type,
                      std::vector<common::v1::FieldChange> changes) {
    common::v1::HistoryEntry h;
    h.set_version(version);
    h.set_event_type(std::string(type));
    *h.mutable_actor() = call_.principal;
    *h.mutable_time() = Now();
    h.set_event_id(last_event_id_);
    for (auto& c : changes) *h.add_changes() = std::move(c);
    return h.SerializeAsString();
  }

  void StampCreate(common::v1::Audit* audit) {
    *audit->mutable_create_time() = Now();
    *audit->mutable_created_by() = call_.principal;
    StampUpdate(audit);
  }
  void StampUpdate(common::v1::Audit* audit) {
    *audit->mutable_update_time() = Now();
    *audit->mutable_updated_by() = call_.principal;
  }

  // The Async forms below never block: they run on AsyncRedis callbacks
  // and end by calling `done` exactly once. This EntityOps must outlive
  // them (it belongs to the call).
  template <typename T>
  using Done = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;
  template <typename T>
  using ChangeFn =
      std::function<absl::Status(const Versioned<T>&, T*, Mutation*)>;

  // `fresh`: read Redis, not the store's cache.
  template <typename T>
  void LoadAsync(std::string_view kind, std::string_view id,
                 Done<Versioned<T>> done, bool fresh = false) {
    store_->GetAsync(
        kind, id,
        [kind = std::string(kind),
         done = std::move(done)](absl::StatusOr<Stored> s) mutable {
          if (!s.ok()) return std::move(done)(s.status());
          std::move(done)(Decode<T>(kind, *s));
        },
        fresh);
  }

  // Creates `entity` (its id and etag set here) with the writes `extra`
  // adds, one atomic commit. A retried request_id returns what the first
  // attempt created (as it is now). `roadmap_id` goes in the event; pass
  // kOwnId when the entity is itself a roadmap.
  template <typename T>
  absl::StatusOr<T> Create(
      std::string_view kind, std::string_view event_type,
      const std::string& request_id, T entity, const std::string& roadmap_id,
      const std::function<void(Mutation&, const T&)>& extra,
      bool* duplicate = nullptr) {
    auto m =
        PlanCreate(kind, event_type, request_id, &entity, roadmap_id, extra);
    if (!m.ok()) return m.status();
    auto r = store_->Commit(*m);
    if (!r.ok()) return r.status();
    if (duplicate) *duplicate = r->duplicate;
    if (r->duplicate) {
      auto first = Load<T>(kind, r->duplicate_value);
      if (!first.ok()) return first.status();
      return std::move(first->value);
    }
    return entity;
  }

  template <typename T>
  void CreateAsync(std::string_view kind, std::string_view event_type,
                   const std::string& request_id, T entity,
                   const std::string& roadmap_id,
                   const std::function<void(Mutation&, const T&)>& extra,
                   Done<T> done) {
    auto m =
        PlanCreate(kind, event_type, request_id, &entity, roadmap_id, extra);
    if (!m.ok()) return std::move(done)(m.status());
    store_->CommitAsync(
        *m, [this, kind = std::string(kind), entity = std::move(entity),
             done = std::move(done)](absl::StatusOr<CommitResult> r) mutable {
          if (!r.ok()) return std::move(done)(r.status());
          if (!r->duplicate) return std::move(done)(std::move(entity));
          LoadAsync<T>(
              kind, r->duplicate_value,
              [done = std::move(done)](
                  absl::StatusOr<Versioned<T>> first) mutable {
                if (!first.ok()) return std::move(done)(first.status());
                std::move(done)(std::move(first->value));
              },
              /*fresh=*/true);
        });
  }

  // Read-modify-write with compare-and-write. `change` edits `next` and may
  // add checks and writes to the mutation; history is kept when
  // `history_key` is set. No change, no write.
  // `load`, if set, reads the current state instead of Load (e.g. together
  // with something `change` needs, in the same round trip); it runs once
  // per attempt.
  template <typename T>
  using Loader = std::function<absl::StatusOr<Versioned<T>>()>;
  template <typename T>
  absl::StatusOr<T> Update(std::string_view kind, std::string_view event_type,
                           const std::string& id, EtagArg etag,
                           const ChangeFn<T>& change, bool keep_history,
                           std::function<std::string(const T&)> roadmap_of,
                           const Loader<T>& load = nullptr) {
    auto expected = ParseEtag(etag);
    if (!expected.ok()) return expected.status();
    for (int attempt = 1;; ++attempt) {
      auto cur = load ? load() : Load<T>(kind, id);
      if (!cur.ok()) return cur.status();
      UpdateStep<T> step = PlanUpdate(kind, event_type, id, *expected, *cur,
                                      change, keep_history, roadmap_of);
      if (!step.status.ok()) return step.status;
      if (!step.write) return std::move(step.next);
      auto r = store_->Commit(step.m);
      if (r.ok()) return std::move(step.next);
      if (!RetryUpdate(r.status(), attempt, *expected, kind)) {
        return r.status();
      }
    }
  }

  template <typename T>
  void UpdateAsync(std::string_view kind, std::string_view event_type,
                   const std::string& id, EtagArg etag, ChangeFn<T> change,
                   bool keep_history,
                   std::function<std::string(const T&)> roadmap_of,
                   Done<T> done) {
    auto expected = ParseEtag(etag);
    if (!expected.ok()) return std::move(done)(expected.status());
    auto state = std::make_shared<UpdateState<T>>(
        UpdateState<T>{std::string(kind), std::string(event_type), id,
                       *expected, std::move(change), keep_history,
                       std::move(roadmap_of), std::move(done)});
    UpdateAttempt(std::move(state));
  }

  // One page of an index, keeping the entities `keep` accepts; `descending`
  // walks it from its end (ULID ids: newest first).
  template <typename T>
  absl::Status List(std::string_view kind, const std::string& index_key,
                    int page_size, const std::string& page_token,
                    const std::function<bool(T&)>& keep,
                    RepeatedPtrField<T>* out, std::string* next_token,
                    bool descending = false) {
    auto size = PageSize(page_size);
    if (!size.ok()) return size.status();
    auto after = DecodeToken(page_token);
    if (!after.ok()) return after.status();
    std::string cursor = *after;
    int scanned = 0;
    size_t bytes = 0;
    const int chunk = std::max(*size, 100);
    for (;;) {
      auto page = store_->ListIds(index_key, cursor, chunk, descending);
      if (!page.ok()) return page.status();
      auto stored = store_->GetMany(kind, page->ids);
      if (!stored.ok()) return stored.status();
      for (size_t i = 0; i < page->ids.size(); ++i) {
        cursor = page->ids[i];
        ++scanned;
        if ((*stored)[i].version == 0) continue;  // raced with a delete
        auto v = Decode<T>(kind, (*stored)[i]);
        if (!v.ok()) return v.status();
        if (!keep(v->value)) continue;
        bytes += v->value.ByteSizeLong();
        *out->Add() = std::move(v->value);
        if (out->size() == *size || bytes >= kMaxPageBytes) {
          bool more = page->more || i + 1 < page->ids.size();
          if (more) *next_token = EncodeToken(cursor);
          return absl::OkStatus();
        }
      }
      if (!page->more) return absl::OkStatus();
      if (scanned >= kMaxScan) {
        // A partial page: the caller continues from here.
        *next_token = EncodeToken(cursor);
        return absl::OkStatus();
      }
    }
  }

  // One page of a list key (history, comments), by offset.
  template <typename T>
  absl::Status ListOffsets(const std::string& key, int page_size,
                           const std::string& page_token,
                           RepeatedPtrField<T>* out, std::string* next_token) {
    auto size = PageSize(page_size);
    if (!size.ok()) return size.status();
    auto offset = DecodeOffset(page_token);
    if (!offset.ok()) return offset.status();
    auto items = store_->ListRange(key, *offset, *size + 1);
    if (!items.ok()) return items.status();
    size_t bytes = 0;
    int taken = 0;
    while (taken < static_cast<int>(items->size()) && taken < *size &&
           (taken == 0 || bytes < kMaxPageBytes)) {
      const std::string& item = (*items)[taken];
      if (!out->Add()->ParseFromString(item)) return Corrupt("list entry");
      bytes += item.size();
      ++taken;
    }
    if (static_cast<int>(items->size()) > taken) {
      *next_token = EncodeToken(std::to_string(*offset + taken));
    }
    return absl::OkStatus();
  }

  const CallContext& call() const { return call_; }
  // What an earlier attempt of a create with `request_id` made, as it is
  // now; nullopt when there was none (or it is forgotten). For a retry
  // that a check would refuse now although the first attempt passed it: a
  // window closed since, a state changed.
  template <typename T>
  absl::StatusOr<std::optional<T>> Created(std::string_view kind,
                                           const std::string& request_id) {
    if (request_id.empty()) return std::optional<T>();
    auto r = store_->redis()->Command(
        {"GET",
         store_->RequestKey(call_.principal.principal_id(), kind, request_id)});
    if (!r.ok()) return r.status();
    if (r->is_error()) return StatusOfErrorReply(*r, "request_id");
    if (r->is_nil()) return std::optional<T>();
    auto first = Load<T>(kind, r->str());
    if (absl::IsNotFound(first.status())) return std::optional<T>();
    if (!first.ok()) return first.status();
    return std::optional<T>(std::move(first->value));
  }

  const EntityStore* store() const { return store_; }

 private:
  template <typename T>
  absl::StatusOr<Mutation> PlanCreate(
      std::string_view kind, std::string_view event_type,
      const std::string& request_id, T* entity, const std::string& roadmap_id,
      const std::function<void(Mutation&, const T&)>& extra) {
    if (auto s = ValidateRequestId(request_id); !s.ok()) return s;
    // Fields this build does not know are not kept: no limit would bound
    // them (a few MB in one action, copied into every event and page).
    entity->DiscardUnknownFields();
    const std::string id = NewUlid();
    entity->set_id(id);
    entity->set_etag("1");
    StampCreate(entity->mutable_audit());
    Mutation m;
    if (!request_id.empty()) {
      m.Dedupe(
          store_->RequestKey(call_.principal.principal_id(), kind, request_id),
          id, kRequestTtlSeconds);
    }
    const std::string key = store_->EntityKey(kind, id);
    m.ExpectAbsent(key, std::string(kind));
    // Whole: a new hash holds only {v, d}, unless `extra` writes more to it
    // (then WrittenHashes names it without a version and it is not kept).
    m.Put(key, 1, entity->SerializeAsString(), /*whole=*/true);
    m.AddEvent(Event(event_type, kind, id, 1, {}, *entity,
                     roadmap_id == kOwnId ? id : roadmap_id));
    if (extra) extra(m, *entity);
    return m;
  }

  // What one attempt of an update does, given the current state.
  template <typename T>
  struct UpdateStep {
    absl::Status status;  // not OK: the update ends with it
    bool write = false;   // OK and false: nothing changed, `next` is current
    T next;
    Mutation m;
  };

  template <typename T>
  UpdateStep<T> PlanUpdate(
      std::string_view kind, std::string_view event_type, const std::string& id,
      int64_t expected, const Versioned<T>& cur, const ChangeFn<T>& change,
      bool keep_history,
      const std::function<std::string(const T&)>& roadmap_of) {
    UpdateStep<T> step;
    step.next = cur.value;
    // `change` runs first so that an entity the caller may not see reads
    // as not found, not as stale.
    step.status = change(cur, &step.next, &step.m);
    if (!step.status.ok()) return step;
    if (expected != 0 && cur.version != expected) {
      step.status = WithReason(
          absl::AbortedError(absl::StrCat(
              std::string(kind), " ", id, " is at etag ", cur.version, ", not ",
              expected, "; read it again and retry")),
          "STALE_ETAG");
      return step;
    }
    // The diff is also the test for a no-op: it covers every field but the
    // ones the server sets (etag, audit) and the outputs it derives.
    std::vector<common::v1::FieldChange> changes = Diff(cur.value, step.next);
    if (changes.empty()) return step;  // nothing to change, nothing to write
    step.write = true;
    const int64_t version = cur.version + 1;
    step.next.set_etag(std::to_string(version));
    StampUpdate(step.next.mutable_audit());
    std::vector<std::string> fields;
    for (const auto& c : changes) fields.push_back(c.field());
    const std::string key = store_->EntityKey(kind, id);
    step.m.ExpectVersion(key, cur.version, std::string(kind));
    step.m.Put(key, version, step.next.SerializeAsString(),
               /*whole=*/cur.extra.empty());
    step.m.AddEvent(Event(event_type, kind, id, version, fields, step.next,
                          roadmap_of(step.next)));
    if (keep_history) {
      step.m.Append(store_->HistoryKey(kind, id),
                    History(version, event_type, std::move(changes)));
    }
    return step;
  }

  // Whether a failed compare-and-write is worth another attempt: only when
  // a concurrent writer won and the client did not pin an etag (or the
  // stale check was an internal guard, not the entity itself).
  static bool RetryUpdate(const absl::Status& status, int attempt,
                          int64_t expected, std::string_view kind) {
    return absl::IsAborted(status) && attempt < kMaxAttempts &&
           (expected == 0 || StaleSubject(status) != kind);
  }

  template <typename T>
  struct UpdateState {
    std::string kind;
    std::string event_type;
    std::string id;
    int64_t expected;
    ChangeFn<T> change;
    bool keep_history;
    std::function<std::string(const T&)> roadmap_of;
    Done<T> done;
    int attempt = 0;
  };

  // An attempt may start from the store's cache, which can be behind
  // Redis for a moment. That is safe for a write: the commit checks the
  // version it started from, so an old base fails rather than overwrite a
  // newer state. Any other answer (an error, "nothing to change") would be
  // decided on the old state, so it is decided again on a fresh read; a
  // retry after a lost compare-and-write reads Redis too.
  template <typename T>
  void UpdateAttempt(std::shared_ptr<UpdateState<T>> st, bool fresh = false) {
    ++st->attempt;
    LoadAsync<T>(
        st->kind, st->id,
        [this, st](absl::StatusOr<Versioned<T>> cur) mutable {
          if (!cur.ok()) return std::move(st->done)(cur.status());
          UpdateStep<T> step =
              PlanUpdate(st->kind, st->event_type, st->id, st->expected, *cur,
                         st->change, st->keep_history, st->roadmap_of);
          if (cur->cached && (!step.status.ok() || !step.write)) {
            --st->attempt;
            return UpdateAttempt(std::move(st), /*fresh=*/true);
          }
          if (!step.status.ok()) return std::move(st->done)(step.status);
          if (!step.write) return std::move(st->done)(std::move(step.next));
          store_->CommitAsync(
              step.m,
              [this, st, cached = cur->cached, next = std::move(step.next)](
                  absl::StatusOr<CommitResult> r) mutable {
                if (r.ok()) return std::move(st->done)(std::move(next));
                // Planned on a copy Redis had left: decided again on
                // Redis' state, checks and etag included, as if there
                // were no cache.
                if (cached && absl::IsAborted(r.status()) &&
                    StaleSubject(r.status()) == st->kind) {
                  --st->attempt;
                  return UpdateAttempt(std::move(st), /*fresh=*/true);
                }
                if (RetryUpdate(r.status(), st->attempt, st->expected,
                                st->kind)) {
                  return UpdateAttempt(std::move(st),
                                       /*fresh=*/true);
                }
                std::move(st->done)(r.status());
              });
        },
        fresh || st->attempt > 1);
  }

  const EntityStore* store_;
  const Clock* clock_;
  const CallContext& call_;
  std::chrono::system_clock::time_point now_;
  std::string last_event_id_;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_ENTITY_OPS_H_
