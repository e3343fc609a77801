// The feedback service's rules, free of Redis and gRPC: validation, who may
// see and do what, the item lifecycle, the automatic closing of the loop
// from the linked actions' statuses, moderation, partnership matchmaking,
// and accent-insensitive search. Pure functions; thread-safe.
#ifndef JALON_SERVICES_FEEDBACK_DOMAIN_H_
#define JALON_SERVICES_FEEDBACK_DOMAIN_H_

#include <google/protobuf/timestamp.pb.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "jalon/feedback/v1/feedback.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "services/common/auth.h"

namespace jalon::feedback {

namespace pb = ::jalon::feedback::v1;
using ActionStatus = ::jalon::roadmap::v1::ActionStatus;

// --- Validation: every violation reported, `prefix` before each field ---
absl::Status ValidateConsultation(const pb::Consultation& c,
                                  std::string_view prefix);
// Validates a submitted or edited item (after ApplyDefaults): roadmap_id,
// kind, title 1..200, body 1..10000, visibility, severity required for
// BLOCKER and forbidden otherwise, at most 10 attachments with a title and
// an http(s) URL, contact up to 500 and only on PARTNERSHIP_OFFER.
absl::Status ValidateItem(const pb::FeedbackItem& item,
                          std::string_view prefix);
// Visibility ALL_MEMBERS when unset.
void ApplyDefaults(pb::FeedbackItem* item);

// UPCOMING, OPEN or CLOSED at `now` from the consultation's window.
pb::ConsultationStatus StatusAt(const pb::Consultation& c,
                                const google::protobuf::Timestamp& now);

// --- Who may see and do what ---
// Admins and copilots.
bool IsCopilot(const Actor& actor);
// Whether `viewer` may see `item` at all: co-pilots see everything; others
// never see a hidden item unless it is their organisation's, never another
// organisation's COPILOTS_ONLY item; readers see ALL_MEMBERS items only.
bool CanSee(const Actor& viewer, const pb::FeedbackItem& item);
// Removes what `viewer` may not see of a visible item: the reports (co-pilots
// only) and the contact (the author's organisation and co-pilots only; an
// accepted partner learns it through its Interest).
void Redact(const Actor& viewer, pb::FeedbackItem* item);
// A member submits for its own organisation; copilots and admins may too.
absl::Status CheckCanSubmit(const Actor& actor);
// The author's organisation while SUBMITTED, or an admin.
absl::Status CheckCanEdit(const Actor& actor, const pb::FeedbackItem& item);

// --- Lifecycle (manual transitions by co-pilots) ---
// SUBMITTED -> ACKNOWLEDGED | DECLINED; ACKNOWLEDGED -> LINKED | DECLINED;
// LINKED -> LINKED (more links) | DECLINED. ADDRESSED and DECLINED are final;
// ADDRESSED is reached only by CloseLoop.
std::vector<pb::FeedbackStatus> AllowedTargets(pb::FeedbackStatus from);
// FAILED_PRECONDITION naming the allowed targets when not allowed.
absl::Status CheckTransition(const pb::FeedbackItem& item,
                             pb::FeedbackStatus target);

// --- Closing the loop ---
struct LoopOutcome {
  bool changed = false;
  pb::FeedbackStatus status = pb::FEEDBACK_STATUS_UNSPECIFIED;
  std::string reason;                     // for status_reason and history
  std::vector<std::string> linked_after;  // linked_action_ids afterwards
};
// What the item becomes given what is known of its linked actions
// (`statuses`: action id -> status; unknown ids are simply not DONE).
// Only a LINKED item with links changes. Its CANCELLED actions leave it
// ("linked action <id> was cancelled: <reason>"); if none is left it goes
// back to ACKNOWLEDGED, else it stays LINKED. Then, with every action left
// DONE -> ADDRESSED ("all linked actions are done: <ids>", followed by the
// cancellations if any). Anything else: unchanged. Applying it to its own
// result changes nothing (idempotent).
LoopOutcome CloseLoop(const pb::FeedbackItem& item,
                      const std::map<std::string, ActionStatus>& statuses,
                      const std::map<std::string, std::string>& reasons);

// --- Endorsements and moderation ---
// A member (or copilot/admin) of another organisation than the author's,
// on an item it can see that is not hidden or DECLINED.
absl::Status CheckCanEndorse(const Actor& actor, const pb::FeedbackItem& item);
// A member of another organisation than the author's, on an item it can
// see; at most one report per organisation (`already_reported`).
absl::Status CheckCanReport(const Actor& actor, const pb::FeedbackItem& item,
                            bool already_reported, std::string_view reason);
// Adds the report; hides the item when `threshold` distinct organisations
// reported it. Returns whether it is now hidden.
bool AddReport(pb::FeedbackItem* item, const Actor& reporter,
               std::string_view reason, const google::protobuf::Timestamp& now,
               int threshold);

// --- Partnership matchmaking ---
// A member of another organisation, on a visible PARTNERSHIP_OFFER that is
// not DECLINED; `contact` 1..500, `message` up to 2000.
absl::Status CheckCanExpressInterest(const Actor& actor,
                                     const pb::FeedbackItem& offer,
                                     std::string_view message,
                                     std::string_view contact);
// The offering organisation (or an admin), on a PENDING interest.
absl::Status CheckCanDecide(const Actor& actor, const pb::FeedbackItem& offer,
                            const pb::Interest& interest);
// Whether `viewer` may see `interest` at all: the offering organisation,
// the interested organisation, co-pilots.
bool CanSeeInterest(const Actor& viewer, const pb::FeedbackItem& offer,
                    const pb::Interest& interest);
// Contacts only on mutual acceptance: the interested side's contact to the
// offering organisation, and the offer's contact (offer_contact) to the
// interested organisation, both only once ACCEPTED; co-pilots see neither.
void RedactInterest(const Actor& viewer, const pb::FeedbackItem& offer,
                    pb::Interest* interest);

// --- Search ---
// Lower case without accents (é è ê ë à â ä î ï ô ö ù û ü ç œ æ and their
// capitals, ASCII otherwise unchanged; other UTF-8 kept as is).
std::string Fold(std::string_view utf8);
// Every whitespace-separated word of `query` appears in the folded title
// or body. An empty query matches.
bool MatchesQuery(const pb::FeedbackItem& item, std::string_view query);

}  // namespace jalon::feedback

#endif  // JALON_SERVICES_FEEDBACK_DOMAIN_H_
