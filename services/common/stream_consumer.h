// At-least-once delivery from a service's event stream through a Redis
// consumer group: XREADGROUP new entries, XACK only after the handler
// succeeded (one XACK per batch read, for the entries applied), XAUTOCLAIM
// entries left pending longer than `claim_min_idle` by a consumer that died (or
// a handler that failed), and move an entry that failed `max_deliveries` times
// to a dead-letter stream. A transient failure (storage unreachable, full,
// slow) is not the entry's: it does not count, and the consumer backs off.
// Replay() reads a stream from the start without the group (for rebuilds).
// Handlers must be idempotent. PollOnce is not thread-safe; Start/Stop run
// it on a thread.
#ifndef JALON_SERVICES_COMMON_STREAM_CONSUMER_H_
#define JALON_SERVICES_COMMON_STREAM_CONSUMER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/redis.h"

namespace jalon {

struct StreamEntry {
  std::string id;       // stream id, e.g. "1700000000000-0"
  std::string payload;  // field "e": a serialized jalon.events.v1.Event
  int64_t deliveries = 1;
};

struct ConsumerOptions {
  std::string stream;
  std::string group;
  std::string consumer;     // unique per process, e.g. host + pid
  std::string dead_letter;  // default: stream + ":dead"
  int batch = 100;
  std::chrono::milliseconds block{1000};  // < the Redis command timeout
  std::chrono::milliseconds claim_min_idle{30000};
  int max_deliveries = 5;
  // How often the group is checked for entries trimmed away (at the
  // stream's MAXLEN) before it read them: lost to it, and logged.
  std::chrono::milliseconds gap_check_every{10000};
};

using EntryHandler = std::function<absl::Status(const StreamEntry&)>;

// a < b for stream entry ids "ms-seq", in Redis' order.
bool StreamIdLess(const std::string& a, const std::string& b);

// The entries of an XRANGE / XREVRANGE / XREAD stream / XREADGROUP stream /
// XAUTOCLAIM reply: [[id, [field, value, ...]], ...].
std::vector<StreamEntry> ParseStreamEntries(const RedisReply& list);

class StreamConsumer {
 public:
  StreamConsumer(RedisClient* redis, ConsumerOptions options,
                 EntryHandler handler);
  ~StreamConsumer();

  // Creates the group at the start of the stream if it does not exist.
  absl::Status EnsureGroup();
  // One cycle: reclaims stale pending entries, then reads new ones (waiting
  // up to `block` when there are none). Returns how many were applied.
  absl::StatusOr<int> PollOnce();
  // Moves the group back to the start of the stream: every entry still in
  // the stream is delivered again.
  absl::Status ResetToStart();
  // Applies the group's entries in the dead-letter stream again, oldest
  // first, with the handler: each one applied is removed from there, each
  // one that fails again stays (and is logged). For once the cause of the
  // failures is fixed. Returns how many were applied and removed.
  absl::StatusOr<int64_t> RedriveDeadLetters();
  // Asks Redis whether entries the group never read were trimmed away (the
  // oldest entry left is newer than the last one the group read), and
  // logs each such loss once, as an error. PollOnce does this before each
  // read while the group is behind, else every `gap_check_every`. Returns
  // the total lost so far (1 for a loss Redis cannot count).
  absl::StatusOr<int64_t> CheckTrimmedUnread();

  void Start();
  void Stop();

  // Reads the stream in order from the start (or from just after the entry
  // id `after`) up to `end` (an XRANGE end: "+", an id, or "(" + id for
  // "before id"), calling `handler` on each entry; stops at the first
  // error. Returns the entries read.
  static absl::StatusOr<int64_t> Replay(RedisClient* redis,
                                        const std::string& stream,
                                        const EntryHandler& handler,
                                        int batch = 1000,
                                        const std::string& after = "",
                                        const std::string& end = "+");

 private:
  absl::StatusOr<int> Reclaim();
  // Runs the handler on each entry in order, then acknowledges those it
  // applied in one XACK. Returns how many were applied and acknowledged,
  // or the first transient failure (UNAVAILABLE, RESOURCE_EXHAUSTED,
  // DEADLINE_EXCEEDED, ABORTED) once the others are acknowledged: the
  // entries that failed so stay pending without this delivery counted.
  absl::StatusOr<int> HandleAll(const std::vector<StreamEntry>& entries);
  // Sets the delivery count of entries this consumer owns back by one.
  void Uncount(const std::vector<StreamEntry>& entries);
  absl::Status DeadLetter(const StreamEntry& entry);

  RedisClient* redis_;
  ConsumerOptions options_;
  EntryHandler handler_;
  std::string claim_cursor_ = "0-0";  // XAUTOCLAIM's position
  std::chrono::steady_clock::time_point gap_checked_{};
  int64_t trimmed_unread_ = 0;   // lost entries found so far
  std::string reported_gap_at_;  // the group's position at the last report
  bool behind_ = false;          // the last read filled a whole batch
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_STREAM_CONSUMER_H_
