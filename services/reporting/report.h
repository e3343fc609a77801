// What a report says, computed from the read models: loading a roadmap's
// models in a few pipelined round trips (LoadRoadmap), the pure computation
// of the content (Compute), what changed since the previous report (Diff),
// the canonical content hash, and report periods. Thread-safe.
#ifndef JALON_SERVICES_REPORTING_REPORT_H_
#define JALON_SERVICES_REPORTING_REPORT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "jalon/feedback/v1/feedback.pb.h"
#include "jalon/reporting/v1/reporting.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "services/common/redis.h"
#include "services/reporting/kpi.h"
#include "services/reporting/read_model.h"

namespace jalon::reporting {

// How many top blockers a report lists (per ecosystem and roadmap-wide).
inline constexpr int kTopBlockers = 10;
// How many late and blocked actions a report lists per ecosystem and
// roadmap-wide (their counts are complete), and how many blockers per
// blocked action, completed and newly late actions.
inline constexpr int kListLimit = 50;

// "YYYY", "YYYY-Qn" or "YYYY-MM"; INVALID_ARGUMENT on `period` otherwise.
absl::StatusOr<pb::Period> ParsePeriod(std::string_view label);
// The last period of `frequency` that ended before `today` (e.g. monthly on
// 2026-11-26: "2026-10").
pb::Period LastCompletePeriod(pb::ScheduleFrequency frequency,
                              const Date& today);

// A roadmap's read models, as a report needs them.
struct RoadmapData {
  roadmap::v1::Roadmap roadmap;
  std::vector<roadmap::v1::Ecosystem> ecosystems;  // creation order
  std::vector<roadmap::v1::Indicator> indicators;  // creation order
  // Measurements of each indicator, in the order recorded.
  std::map<std::string, std::vector<roadmap::v1::Measurement>> measurements;
  // The counters hash (see ModelKeys::Counts).
  std::map<std::string, int64_t> counts;
  // Per ecosystem ("*": roadmap-wide): the ids of the most late open
  // actions (due before as_of) and of BLOCKED ones, at most kListLimit
  // each, and how many there are in all.
  std::map<std::string, std::vector<std::string>> late_ids, blocked_ids;
  std::map<std::string, int64_t> late_count, blocked_count;
  // The actions those lists name.
  std::map<std::string, roadmap::v1::Action> actions;
  // Open visible blockers linked to each blocked action.
  std::map<std::string, std::vector<feedback::v1::FeedbackItem>>
      action_blockers;
  // Most endorsed open visible blockers per ecosystem ("*": roadmap-wide).
  std::map<std::string, std::vector<feedback::v1::FeedbackItem>> top_blockers;
  // Active endorsements of the items above.
  std::map<std::string, int64_t> endorsements;
  struct Ack {
    int64_t count = 0;
    std::optional<double> median_seconds;
  };
  std::map<std::string, Ack> ack;  // per ecosystem ("*": roadmap-wide)
};

// NOT_FOUND when the roadmap is not in the read models.
absl::StatusOr<RoadmapData> LoadRoadmap(RedisClient* redis,
                                        const ModelKeys& keys,
                                        const std::string& roadmap_id,
                                        const Date& as_of);

// The content of a report: a pure function of its inputs.
pb::ReportContent Compute(const RoadmapData& data, const pb::Period& period,
                          const Date& as_of,
                          const RatingThresholds& thresholds);

// What changed since `previous` (null: the first report) that the two
// contents tell: rating changes and new top blockers. (Completed and newly
// late actions come from the snapshots each report keeps in Redis.)
pb::ReportChanges Diff(const pb::Report* previous,
                       const pb::ReportContent& current);

// The canonical serialisation of the content and its SHA-256 (hex).
std::string CanonicalBytes(const pb::ReportContent& content);
std::string ContentSha256(const pb::ReportContent& content);

pb::Rating ToProto(Rating rating);

}  // namespace jalon::reporting

#endif  // JALON_SERVICES_REPORTING_REPORT_H_
