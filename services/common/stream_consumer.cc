#include "services/common/stream_consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/logging.h"

namespace jalon {
namespace {

absl::Status CheckReply(const absl::StatusOr<RedisReply>& r) {
  if (!r.ok()) return r.status();
  if (r->is_error()) return StatusOfErrorReply(*r, "stream_command");
  return absl::OkStatus();
}

// Moves an entry to the dead-letter stream and acknowledges it, in one
// script: when the XADD fails (a dead-letter key of the wrong type), the
// script stops before the XACK, and the entry stays pending. (In a MULTI the
// XACK would run anyway, and the entry would be lost.)
// KEYS: the stream, the dead-letter stream. ARGV: payload, id, group,
// deliveries.
const RedisScript& DeadLetterScript() {
  static const RedisScript* script = new RedisScript(R"lua(
redis.call('XADD', KEYS[2], '*', 'e', ARGV[1], 'source_id', ARGV[2],
           'group', ARGV[3], 'deliveries', ARGV[4])
return redis.call('XACK', KEYS[1], ARGV[3], ARGV[2])
)lua");
  return *script;
}

// Sets back by one the delivery count of entries this consumer still owns
// with the count it saw, and only those: another consumer may have claimed
// one since (its handler was slow), and that one's failure must count.
// XCLAIM also makes the entry idle from now (retried after claim_min_idle).
// KEYS: the stream. ARGV: group, consumer, then (id, deliveries) pairs.
const RedisScript& UncountScript() {
  static const RedisScript* script = new RedisScript(R"lua(
local n = 0
for i = 3, #ARGV, 2 do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p == 1 and p[1][2] == ARGV[2] and p[1][4] == tonumber(ARGV[i + 1]) then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i],
               'RETRYCOUNT', math.max(p[1][4] - 1, 0), 'JUSTID')
    n = n + 1
  end
end
return n
)lua");
  return *script;
}

// The handler's verdict on one entry. A handler that throws (a bug, or
// memory running out) has failed that entry, as if it returned an error:
// the entry stays pending and ends in the dead-letter stream, where the
// exception would otherwise end the process, and the restarted process
// would meet the same entry again.
absl::Status Apply(const EntryHandler& handler, const StreamEntry& entry,
                   const std::string& stream) {
  try {
    return handler(entry);
  } catch (const std::exception& ex) {
    spdlog::error("msg=event_handler_exception stream={} id={} error={}",
                  stream, entry.id, LogValue(ex.what()));
    return absl::InternalError(
        absl::StrCat("event handler threw: ", ex.what()));
  }
}

// Failures that are not the entry's: storage unreachable, full or slow, or
// a write that kept losing races. The same entry will apply once they
// pass, so they must not move it towards the dead-letter stream.
bool IsTransient(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool StreamIdLess(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    uint64_t ms = 0, seq = 0;
    const size_t dash = s.find('-');
    (void)absl::SimpleAtoi(absl::string_view(s).substr(0, dash), &ms);
    if (dash != std::string::npos) {
      (void)absl::SimpleAtoi(absl::string_view(s).substr(dash + 1), &seq);
    }
    return std::make_pair(ms, seq);
  };
  return split(a) < split(b);
}

std::vector<StreamEntry> ParseStreamEntries(const RedisReply& list) {
  std::vector<StreamEntry> out;
  for (const auto& item : list.elements()) {
    if (!item.is_array() || item.elements().size() < 2) continue;
    StreamEntry e;
    e.id = item.elements()[0].str();
    const auto& fields = item.elements()[1].elements();
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str() == "e") e.payload = fields[i + 1].str();
    }
    out.push_back(std::move(e));
  }
  return out;
}

StreamConsumer::StreamConsumer(RedisClient* redis, ConsumerOptions options,
                               EntryHandler handler)
    : redis_(redis),
      options_(std::move(options)),
      handler_(std::move(handler)) {
  if (options_.dead_letter.empty())
    options_.dead_letter = options_.stream + ":dead";
}

StreamConsumer::~StreamConsumer() { Stop(); }

absl::Status StreamConsumer::EnsureGroup() {
  auto r = redis_->Command(
      {"XGROUP", "CREATE", options_.stream, options_.group, "0", "MKSTREAM"});
  if (!r.ok()) return r.status();
  if (r->is_error() && r->str().rfind("BUSYGROUP", 0) != 0) {
    return CheckReply(r);
  }
  return absl::OkStatus();
}

absl::Status StreamConsumer::ResetToStart() {
  return CheckReply(redis_->Command(
      {"XGROUP", "SETID", options_.stream, options_.group, "0"}));
}

absl::StatusOr<int> StreamConsumer::HandleAll(
    const std::vector<StreamEntry>& entries) {
  RedisArgs ack{"XACK", options_.stream, options_.group};
  int applied = 0;
  std::vector<StreamEntry> not_theirs;
  absl::Status transient;
  for (const StreamEntry& entry : entries) {
    absl::Status s = Apply(handler_, entry, options_.stream);
    if (s.ok()) {
      ack.push_back(entry.id);
      ++applied;
      continue;
    }
    // Left pending either way: it is reclaimed after claim_min_idle and
    // retried; dead-lettered after max_deliveries failures of its own.
    spdlog::warn(
        "msg=event_handler_failed stream={} id={} deliveries={} error={}",
        options_.stream, entry.id, entry.deliveries, s.message());
    if (IsTransient(s)) {
      not_theirs.push_back(entry);
      if (transient.ok()) transient = std::move(s);
    }
  }
  if (!not_theirs.empty()) Uncount(not_theirs);
  // One XACK for the batch: a round trip per batch, not per entry. Should
  // it fail, the applied entries stay pending and are applied again once
  // reclaimed (handlers are idempotent).
  if (applied > 0) {
    if (auto s = CheckReply(redis_->Command(ack)); !s.ok()) return s;
  }
  // The caller backs off before it polls again.
  if (!transient.ok()) return transient;
  return applied;
}

void StreamConsumer::Uncount(const std::vector<StreamEntry>& entries) {
  // Best effort: when Redis cannot be reached, it did not count deliveries
  // either.
  std::vector<std::string> args = {options_.group, options_.consumer};
  for (const auto& e : entries) {
    args.push_back(e.id);
    args.push_back(std::to_string(e.deliveries));
  }
  if (auto s =
          CheckReply(redis_->Eval(UncountScript(), {options_.stream}, args));
      !s.ok()) {
    spdlog::warn("msg=event_deliveries_not_uncounted stream={} error={}",
                 options_.stream, s.message());
  }
}

absl::Status StreamConsumer::DeadLetter(const StreamEntry& entry) {
  auto r =
      redis_->Eval(DeadLetterScript(), {options_.stream, options_.dead_letter},
                   {entry.payload, entry.id, options_.group,
                    std::to_string(entry.deliveries)});
  if (auto s = CheckReply(r); !s.ok()) return s;
  spdlog::error("msg=event_dead_lettered stream={} id={} deliveries={}",
                options_.stream, entry.id, entry.deliveries);
  return absl::OkStatus();
}

absl::StatusOr<int> StreamConsumer::Reclaim() {
  // The cursor carries over between polls, so entries further along the
  // pending list are reached even while its front is not idle yet.
  auto claimed = redis_->Command(
      {"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
       std::to_string(options_.claim_min_idle.count()), claim_cursor_, "COUNT",
       std::to_string(options_.batch)});
  if (auto s = CheckReply(claimed); !s.ok()) return s;
  if (!claimed->is_array() || claimed->elements().size() < 2) return 0;
  claim_cursor_ = claimed->elements()[0].str();
  if (claim_cursor_.empty()) claim_cursor_ = "0-0";
  if (claimed->elements().size() > 2) {
    // Redis 7 drops pending entries whose message was trimmed away.
    for (const auto& id : claimed->elements()[2].elements()) {
      spdlog::error("msg=pending_event_trimmed stream={} id={} group={}",
                    options_.stream, id.str(), options_.group);
    }
  }
  std::vector<StreamEntry> entries = ParseStreamEntries(claimed->elements()[1]);
  if (entries.empty()) return 0;
  // The exact delivery count of each entry we now own (XAUTOCLAIM
  // incremented it), one XPENDING per entry in one round trip.
  std::vector<RedisArgs> queries;
  queries.reserve(entries.size());
  for (const auto& e : entries) {
    queries.push_back(
        {"XPENDING", options_.stream, options_.group, e.id, e.id, "1"});
  }
  auto pending = redis_->Pipeline(queries);
  if (!pending.ok()) return pending.status();
  std::vector<StreamEntry> live;
  live.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    const RedisReply& p = (*pending)[i];
    e.deliveries = 1;
    if (p.is_array() && !p.elements().empty() &&
        p.elements()[0].elements().size() >= 4) {
      e.deliveries = p.elements()[0].elements()[3].integer();
    }
    if (e.deliveries > options_.max_deliveries) {
      if (auto s = DeadLetter(e); !s.ok()) return s;
    } else {
      live.push_back(std::move(e));
    }
  }
  return HandleAll(live);
}

absl::StatusOr<int64_t> StreamConsumer::RedriveDeadLetters() {
  int64_t applied = 0, failed = 0;
  std::string start = "-";
  for (;;) {
    auto r = redis_->Command({"XRANGE", options_.dead_letter, start, "+",
                              "COUNT", std::to_string(options_.batch)});
    if (auto s = CheckReply(r); !s.ok()) return s;
    const auto& items = r->elements();
    for (const auto& item : items) {
      if (!item.is_array() || item.elements().size() < 2) continue;
      const std::string& dead_id = item.elements()[0].str();
      const RedisReply& fields = item.elements()[1];
      const RedisReply* payload = fields.Field("e");
      const RedisReply* group = fields.Field("group");
      const RedisReply* source = fields.Field("source_id");
      if (payload == nullptr || group == nullptr ||
          group->str() != options_.group) {
        continue;  // another group's, or not one of ours
      }
      StreamEntry entry;
      entry.id = source != nullptr ? source->str() : dead_id;
      entry.payload = payload->str();
      if (auto s = Apply(handler_, entry, options_.stream); !s.ok()) {
        ++failed;
        spdlog::error(
            "msg=dead_letter_failed_again stream={} id={} dead_letter_id={} "
            "error={}",
            options_.stream, entry.id, dead_id,
            LogValue(std::string(s.message())));
        continue;
      }
      if (auto s = CheckReply(
              redis_->Command({"XDEL", options_.dead_letter, dead_id}));
          !s.ok()) {
        return s;  // applied, still listed: a redrive applies it again
      }
      ++applied;
    }
    if (static_cast<int>(items.size()) < options_.batch) break;
    start = "(" + items.back().elements()[0].str();
  }
  spdlog::info(
      "msg=dead_letters_redriven stream={} group={} applied={} "
      "failed_again={}",
      options_.stream, options_.group, applied, failed);
  return applied;
}

absl::StatusOr<int64_t> StreamConsumer::CheckTrimmedUnread() {
  auto r = redis_->Pipeline({{"XINFO", "STREAM", options_.stream},
                             {"XINFO", "GROUPS", options_.stream}});
  if (!r.ok()) return r.status();
  const RedisReply& stream = (*r)[0];
  const RedisReply& groups = (*r)[1];
  if (stream.is_error() || groups.is_error()) return trimmed_unread_;
  const RedisReply* first = stream.Field("first-entry");
  if (first == nullptr || !first->is_array() || first->elements().empty()) {
    return trimmed_unread_;  // an empty stream
  }
  for (const auto& g : groups.elements()) {
    const RedisReply* name = g.Field("name");
    const RedisReply* last = g.Field("last-delivered-id");
    if (name == nullptr || name->str() != options_.group || last == nullptr) {
      continue;
    }
    // Entries were trimmed, and the oldest one left is newer than the last
    // one the group read: whatever came between was trimmed before the
    // group read it. How many: those trimmed, less those the group read
    // (when Redis knows how many it read). An upper bound: a Redis without
    // the fix of redis/redis#13958 (2025) undercounts what a group read
    // once it stepped over a gap.
    const RedisReply* added = stream.Field("entries-added");
    const RedisReply* length = stream.Field("length");
    const RedisReply* read = g.Field("entries-read");
    const int64_t trimmed = added != nullptr && length != nullptr
                                ? added->integer() - length->integer()
                                : 0;
    const bool counted =
        read != nullptr && read->type() == RedisReply::Type::kInteger;
    const int64_t count = counted ? trimmed - read->integer() : 0;
    if (trimmed <= 0 || (counted && count <= 0) ||
        !StreamIdLess(last->str(), first->elements()[0].str())) {
      reported_gap_at_.clear();
      continue;
    }
    if (reported_gap_at_ == last->str()) continue;  // said already
    reported_gap_at_ = last->str();
    spdlog::error(
        "msg=events_trimmed_unread stream={} group={} count_at_most={} "
        "after_id={} "
        "action=\"raise --stream-max-len; rebuild what this group "
        "maintains\"",
        options_.stream, options_.group,
        counted ? std::to_string(count) : std::string("unknown"), last->str());
    trimmed_unread_ += counted ? count : 1;
  }
  return trimmed_unread_;
}

absl::StatusOr<int> StreamConsumer::PollOnce() {
  // A gap can open only while the group is behind: checked before each
  // read that follows a full batch (the next read would step over it),
  // else now and then. A read that found less has caught up: trimming
  // past it would take a whole MAXLEN of entries before the next read.
  if (behind_ || std::chrono::steady_clock::now() - gap_checked_ >=
                     options_.gap_check_every) {
    gap_checked_ = std::chrono::steady_clock::now();
    (void)CheckTrimmedUnread();  // a report only: it never stops the poll
  }
  auto reclaimed = Reclaim();
  if (!reclaimed.ok()) return reclaimed.status();
  auto read =
      redis_->Command({"XREADGROUP", "GROUP", options_.group, options_.consumer,
                       "COUNT", std::to_string(options_.batch), "BLOCK",
                       std::to_string(options_.block.count()), "STREAMS",
                       options_.stream, ">"});
  if (auto s = CheckReply(read); !s.ok()) return s;
  int applied = *reclaimed;
  behind_ = false;
  if (read->is_nil()) return applied;  // timed out, nothing new
  for (const auto& stream : read->elements()) {
    if (!stream.is_array() || stream.elements().size() < 2) continue;
    std::vector<StreamEntry> entries = ParseStreamEntries(stream.elements()[1]);
    behind_ = entries.size() >= static_cast<size_t>(options_.batch);
    auto handled = HandleAll(entries);
    if (!handled.ok()) return handled.status();
    applied += *handled;
  }
  return applied;
}

void StreamConsumer::Start() {
  thread_ = std::thread([this] {
    std::chrono::milliseconds backoff{50};
    // The group is made once, then again only after a failure: the failure
    // may be NOGROUP (the stream was deleted, or Redis came back empty).
    bool group_made = false;
    while (!stop_) {
      absl::Status s = group_made ? absl::OkStatus() : EnsureGroup();
      group_made = s.ok();
      absl::StatusOr<int> n = s.ok() ? PollOnce() : s;
      if (n.ok()) {
        backoff = std::chrono::milliseconds(50);
        continue;
      }
      group_made = false;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  });
}

void StreamConsumer::Stop() {
  stop_ = true;
  if (!thread_.joinable()) return;
  thread_.join();
  // Leave the group if nothing is pending for this consumer (it can only
  // lose entries now: others claim them, nobody gives it any), so that
  // replicas come and go without their names piling up in the group.
  // Best effort: a consumer left behind harms nothing.
  auto pending = redis_->Command({"XPENDING", options_.stream, options_.group,
                                  "-", "+", "1", options_.consumer});
  if (pending.ok() && pending->is_array() && pending->elements().empty()) {
    (void)redis_->Command({"XGROUP", "DELCONSUMER", options_.stream,
                           options_.group, options_.consumer});
  }
}

absl::StatusOr<int64_t> StreamConsumer::Replay(
    RedisClient* redis, const std::string& stream, const EntryHandler& handler,
    int batch, const std::string& after, const std::string& end) {
  std::string start = after.empty() ? "-" : "(" + after;
  int64_t total = 0;
  for (;;) {
    auto r = redis->Command(
        {"XRANGE", stream, start, end, "COUNT", std::to_string(batch)});
    if (auto s = CheckReply(r); !s.ok()) return s;
    std::vector<StreamEntry> entries = ParseStreamEntries(*r);
    for (const auto& e : entries) {
      if (auto s = Apply(handler, e, stream); !s.ok()) return s;
      ++total;
    }
    if (static_cast<int>(entries.size()) < batch) return total;
    start = "(" + entries.back().id;  // exclusive range (Redis >= 6.2)
  }
}

}  // namespace jalon
