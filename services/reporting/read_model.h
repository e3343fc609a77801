// The reporting service's read models: the latest state of every roadmap,
// ecosystem, indicator, measurement, action, feedback item and endorsement,
// kept from the roadmap and feedback services' events, plus the derived
// indexes and counters a report needs (actions by status, open actions by
// due date, open blockers, endorsement counts, acknowledgement delays...).
//
// Applying an event is idempotent: an entity is replaced only by a newer
// version, and its derived entries ("facets") are swapped for the new
// state's in the same Lua script, so redelivery, reordering and replay
// change nothing. The models live under a generation prefix
// (jalon:reporting:m<gen>:); a rebuild folds the streams into a fresh
// generation and switches to it atomically, then catches up.
// Thread-safe.
#ifndef JALON_SERVICES_REPORTING_READ_MODEL_H_
#define JALON_SERVICES_REPORTING_READ_MODEL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "jalon/events/v1/events.pb.h"
#include "jalon/reporting/v1/reporting.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "services/common/redis.h"
#include "services/common/stream_consumer.h"

namespace jalon::reporting {

namespace pb = ::jalon::reporting::v1;

// Whether an action in this status is still open (not DONE or CANCELLED):
// only open actions are in the due-date index, and only they can be late.
bool OpenAction(roadmap::v1::ActionStatus s);

// The source streams the models are built from.
inline constexpr char kRoadmapStream[] = "jalon:roadmap:events";
inline constexpr char kFeedbackStream[] = "jalon:feedback:events";
// The consumer group name on both.
inline constexpr char kGroup[] = "reporting";

// Keys of the reporting service outside the generations.
struct Keys {
  static std::string Prefix();         // "jalon:reporting:"
  static std::string Generation();     // hash {v: current generation}
  static std::string GenerationSeq();  // counter of generations
  static std::string RebuildLock();    // one rebuild at a time
  // Set of generations written by rebuilds and not known to be dropped
  // (a failed or killed rebuild's leftovers are dropped by the next one).
  static std::string Generations();
  static std::string Stream();         // the status feed / own events
  static std::string WakeupChannel();  // PUBLISHed after each commit
  static std::string DeadLetters(std::string_view source);
  // Guards one status update per source event (dedupe across a rebuild).
  static std::string FeedSeen(std::string_view event_id);
  // Hash indicator id -> the last announced rating.
  static std::string Ratings();
  // Hash indicator id -> how many rating checks set it (fences a check
  // working from older models).
  static std::string RatingChecks();
  // Hash action id -> due day announced late (per roadmap).
  static std::string LateAnnounced(std::string_view roadmap_id);
};

// Keys of one generation of the models.
class ModelKeys {
 public:
  explicit ModelKeys(int64_t generation);
  int64_t generation() const { return generation_; }
  const std::string& prefix() const { return p_; }
  std::string Entity(std::string_view kind, std::string_view id) const;
  std::string Roadmaps() const;
  std::string Ecosystems(std::string_view roadmap) const;
  std::string Indicators(std::string_view roadmap) const;
  std::string Measurements(std::string_view indicator) const;
  // Hash of counters: "a|<eco>|<status>" actions, "d|<eco>" done with a due
  // date, "o|<eco>" of those on time, "f|<eco>|<kind>|<status>" feedback,
  // "b|<eco>" blockers, "l|<eco>" linked blockers.
  std::string Counts(std::string_view roadmap) const;
  // Open actions with a due date, scored by the due day (days since 1970),
  // per ecosystem ("*": all).
  std::string OpenDue(std::string_view roadmap,
                      std::string_view ecosystem) const;
  // BLOCKED actions per ecosystem ("*": all).
  std::string Blocked(std::string_view roadmap,
                      std::string_view ecosystem) const;
  // DONE actions scored by done time (seconds).
  std::string Done(std::string_view roadmap) const;
  // Open blockers visible to all members, per ecosystem ("*": all).
  std::string OpenBlockers(std::string_view roadmap,
                           std::string_view ecosystem) const;
  // Open blockers linked to an action.
  std::string ActionBlockers(std::string_view action) const;
  // Feedback id scored by its active endorsements.
  std::string Endorsements(std::string_view roadmap) const;
  // Acknowledged items scored by seconds to acknowledge, per ecosystem
  // ("*": all).
  std::string Ack(std::string_view roadmap, std::string_view ecosystem) const;

 private:
  int64_t generation_;
  std::string p_;
};

// One derived entry of an entity's state.
struct Facet {
  enum Op : char { kCount = 'c', kMember = 'z', kScore = 'i' };
  Op op;
  std::string key;
  std::string member;
  double value = 0;  // kMember: the score; kScore: the increment
};

// The kinds of aggregate the models keep ("roadmap", "ecosystem",
// "indicator", "measurement", "action", "feedback", "endorsement").
bool IsModelled(std::string_view kind);
// The facets of a stored state; INTERNAL if it does not parse.
absl::StatusOr<std::vector<Facet>> FacetsOf(const ModelKeys& keys,
                                            std::string_view kind,
                                            const std::string& data);

// Status updates an event causes by itself (an action changing status, an
// item becoming addressed), given the state before (empty: none).
std::vector<pb::StatusUpdate> UpdatesOf(const events::v1::Event& event,
                                        std::string_view old_data);
// The envelope a status update travels in on the reporting stream.
std::string WrapUpdate(const pb::StatusUpdate& update);

struct RebuildStats {
  int64_t events = 0;
  int64_t entities = 0;
  // Entities or events left out because their state does not parse (each
  // logged): the consumers dead-letter such events, and a rebuild must not
  // fail on them every time.
  int64_t unreadable = 0;
  int64_t generation = 0;
  int64_t duration_ms = 0;
  // Where the time went: folding the streams, writing the new generation,
  // catching up with what arrived meanwhile, until the switch.
  int64_t fold_ms = 0;
  int64_t write_ms = 0;
  int64_t catch_up_ms = 0;
  int64_t passes = 0;  // catch-up passes before the switch
};

class ReadModel {
 public:
  ReadModel(RedisClient* redis, int64_t stream_max_len);
  ~ReadModel();

  // The current generation, creating the first one (1) if none exists;
  // cached for appliers (their script checks it).
  absl::StatusOr<int64_t> Generation();
  // The keys of the current generation, read afresh (for readers, who must
  // check after reading that it did not switch: ModelKeys::generation()).
  absl::StatusOr<ModelKeys> Current();

  // Applies one source event. `with_updates`: also append the status
  // updates it causes (once per source event).
  absl::Status Apply(const events::v1::Event& event, bool with_updates = true);
  absl::Status ApplyEntry(const StreamEntry& entry);

  // Recomputes every model from the source streams into a new generation
  // while the current one serves, catches it up with what arrived
  // meanwhile, and switches to it. The fold stops where the consumer
  // group's acknowledged entries end; the rest is replayed into the new
  // generation with its status updates, so a rebuild while consumers lag
  // announces what they had not. The switch happens once the new
  // generation holds every entry delivered to a consumer, so readers do not
  // see the models go back (should consumers stay ahead for 20 passes, it
  // switches anyway and replays the rest at once). FAILED_PRECONDITION when a
  // source stream was trimmed (the rebuild would lose entities) or another
  // rebuild runs. A rebuild that fails before its switch drops what it wrote;
  // the old generation and any leftover of a killed rebuild are dropped in the
  // background.
  absl::StatusOr<RebuildStats> Rebuild();
  // Waits until the generations Rebuild drops in the background are gone.
  void WaitForDrop();

  // Called by Rebuild at each stage ("written": the new generation is
  // written; "switching": before each attempt to switch; "switched"); a
  // failure aborts the rebuild there. For tests of what happens meanwhile.
  using RebuildHook = std::function<absl::Status(std::string_view stage)>;
  void SetRebuildHookForTest(RebuildHook hook) { hook_ = std::move(hook); }

  // Every key and value of the current generation, normalised (prefix
  // stripped, hashes and sorted sets sorted): for tests comparing models.
  absl::StatusOr<std::map<std::string, std::string>> Dump();

  RedisClient* redis() const { return redis_; }

 private:
  // The latest state of one entity while a rebuild folds the streams, by
  // "<kind>\n<aggregate id>".
  struct Folded {
    int64_t version = 0;
    std::string data;
  };
  using FoldedEntities = std::unordered_map<std::string, Folded>;

  // Applies `event` to generation `target`, whether it serves or not (0: the
  // current one, following a switch).
  absl::Status ApplyTo(const events::v1::Event& event, bool with_updates,
                       int64_t target);
  absl::StatusOr<std::string> FoldEnd(const std::string& stream);
  // Drops the keys of `generations` and forgets them (Keys::Generations()).
  void DropGenerations(const std::vector<int64_t>& generations);
  // Starts dropping `generations` in the background; rebuild_mu_ held.
  void DropInBackground(std::vector<int64_t> generations);
  absl::Status CheckNotTrimmed(const std::string& stream);
  // Writes the folded entities and their facets into `keys`' generation;
  // moves their data out. An entity whose state does not parse is left out
  // and counted in `unreadable`. `keep_lock` runs between writes (see
  // Rebuild).
  // Where the newest folded state of an entity does not parse (its event
  // dead-lettered by the consumers, which kept the state before), takes
  // the newest one that does, from a second pass over `streams` up to
  // `fold_end`; counts each such entity in `unreadable`.
  absl::Status KeepReadable(const std::vector<std::string>& streams,
                            const std::map<std::string, std::string>& fold_end,
                            FoldedEntities* entities, int64_t* unreadable,
                            const std::function<absl::Status()>& keep_lock);
  absl::Status WriteBulk(const ModelKeys& keys, FoldedEntities* entities,
                         int64_t* written, int64_t* unreadable,
                         const std::function<absl::Status()>& keep_lock);

  RedisClient* redis_;
  int64_t stream_max_len_;
  std::atomic<int64_t> generation_{0};  // 0: not read yet
  std::mutex rebuild_mu_;               // one rebuild per process
  std::thread dropper_;                 // guarded by rebuild_mu_
  RebuildHook hook_;
};

}  // namespace jalon::reporting

#endif  // JALON_SERVICES_REPORTING_READ_MODEL_H_
