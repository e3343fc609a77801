// The roadmap service's rules, free of Redis and gRPC: validation of every
// resource, the action lifecycle and co-validation, who may steer what,
// derived progress and lateness, dependency cycles, field-mask updates and
// the field-by-field diff kept in an action's history. Pure functions;
// thread-safe.
#ifndef JALON_SERVICES_ROADMAP_DOMAIN_H_
#define JALON_SERVICES_ROADMAP_DOMAIN_H_

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "services/common/auth.h"
#include "services/common/dates.h"
#include "services/common/requests.h"

namespace jalon::roadmap {

using common::v1::FieldChange;
using v1::Action;
using v1::ActionStatus;
using v1::Ecosystem;
// Shared request conventions, used by name in this service.
using ::jalon::ApplyMask;
using ::jalon::Diff;
using ::jalon::PageSize;
using ::jalon::ValidateRequestId;
using v1::Indicator;
using v1::Measurement;
using v1::Organization;
using v1::Roadmap;

// --- Validation: every violation is reported, with `prefix` before each
// field name (e.g. "action."). ---
absl::Status ValidateOrganization(const Organization& o,
                                  std::string_view prefix);
absl::Status ValidateRoadmap(const Roadmap& r, std::string_view prefix);
absl::Status ValidateEcosystem(const Ecosystem& e, std::string_view prefix);
// `stored`: the indicator an update starts from. A rule added after it was
// stored (a trajectory point on the target date must have the target
// value) is not applied to what the update leaves as it was.
absl::Status ValidateIndicator(const Indicator& i, std::string_view prefix,
                               const Indicator* stored = nullptr);
absl::Status ValidateMeasurement(const Measurement& m, std::string_view prefix);
// With `today` (the service's date), a milestone may not be done after it,
// give or take a day for clients in a time zone ahead: a done_date to come
// would hide the milestone's lateness and count it in the progress early.
absl::Status ValidateAction(const Action& a, std::string_view prefix,
                            const Date* today = nullptr);
absl::Status ValidateTokenRequest(const v1::IssueTokenRequest& r);

// Fills defaults a create may leave unset (priority, statuses, direction).
void ApplyDefaults(Roadmap* r);
void ApplyDefaults(Indicator* i);
void ApplyDefaults(Action* a);

// --- Actions ---
std::vector<ActionStatus> AllowedTargets(ActionStatus from);
// Admin, or a copilot of the action's lead or partner organisation.
bool CanSteer(const Actor& actor, const Action& action);
// Whether `actor` may make `after` the parties of an action that had those
// of `before`. The two parties co-validate its completion, so a copilot may
// swap their roles but not replace the other party: that would let one side
// choose who approves its own request. An admin may change both.
bool MayChangeParties(const Actor& actor, const Action& before,
                      const Action& after);
// Checks `actor` may move `action` to `target` with `reason`, including
// co-validation; FAILED_PRECONDITION names the allowed targets.
absl::Status CheckTransition(const Action& action, ActionStatus target,
                             std::string_view reason, const Actor& actor);
// Applies a transition that CheckTransition accepted.
void ApplyTransition(Action* action, ActionStatus target,
                     std::string_view reason, const Actor& actor,
                     const google::protobuf::Timestamp& now);
// The share of milestones done, 0..100 (100 when DONE); the override wins.
int Progress(const Action& action);
// Due date passed and not DONE or CANCELLED.
bool IsLate(const Action& action, const Date& today);
bool IsLate(const v1::Milestone& milestone, const Date& today);
// Fills output-only fields (progress_percent, late, milestones' late).
void Decorate(Action* action, const Date& today);
// Gives ids to new milestones (unique within the action).
void AssignMilestoneIds(Action* action);

// Dependency graph of a roadmap: action id -> ids it depends on.
using DependencyGraph = std::map<std::string, std::vector<std::string>>;
// INVALID_ARGUMENT on "action.depends_on_action_ids" if giving `action_id`
// the dependencies `deps` closes a cycle; the message shows the cycle.
absl::Status CheckNoCycle(const DependencyGraph& graph,
                          const std::string& action_id,
                          const std::vector<std::string>& deps);

// --- Measurements ---
// `actor` may verify or reject `m` only from the organisation that must
// verify it (the other co-pilot), never the one that recorded it.
absl::Status CheckCanVerify(const Measurement& m, const Actor& actor);

}  // namespace jalon::roadmap

#endif  // JALON_SERVICES_ROADMAP_DOMAIN_H_
