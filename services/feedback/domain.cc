#include "services/feedback/domain.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/dates.h"
#include "services/common/requests.h"
#include "services/common/status.h"

namespace jalon::feedback {
namespace {

using common::v1::Role;
using google::protobuf::Timestamp;

// The range google.protobuf.Timestamp documents: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;

bool IsValidTimestamp(const Timestamp& t) {
  return t.seconds() >= kMinSeconds && t.seconds() <= kMaxSeconds &&
         t.nanos() >= 0 && t.nanos() <= 999999999;
}

// <0, 0, >0 like strcmp.
int Compare(const Timestamp& a, const Timestamp& b) {
  if (a.seconds() != b.seconds()) return a.seconds() < b.seconds() ? -1 : 1;
  if (a.nanos() != b.nanos()) return a.nanos() < b.nanos() ? -1 : 1;
  return 0;
}

// An http:// or https:// URL with a host and no blanks or control bytes.
bool IsHttpUrl(std::string_view url) {
  std::string lower;
  for (char ch : url.substr(0, 8)) {
    lower.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
  }
  size_t rest;
  if (lower.rfind("http://", 0) == 0) {
    rest = 7;
  } else if (lower.rfind("https://", 0) == 0) {
    rest = 8;
  } else {
    return false;
  }
  if (rest >= url.size() || url[rest] == '/' || url[rest] == '?' ||
      url[rest] == '#') {
    return false;  // no host
  }
  return std::none_of(url.begin(), url.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c <= 0x20 || c == 0x7F;
  });
}

std::string StatusName(pb::FeedbackStatus s) {
  std::string name = pb::FeedbackStatus_Name(s);
  if (name.empty()) return absl::StrCat(static_cast<int>(s));
  constexpr std::string_view kPrefix = "FEEDBACK_STATUS_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

std::string StateName(pb::InterestState s) {
  std::string name = pb::InterestState_Name(s);
  if (name.empty()) return absl::StrCat(static_cast<int>(s));
  constexpr std::string_view kPrefix = "INTEREST_STATE_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

// Whether the actor belongs to `org` (an empty id matches no one).
bool InOrganization(const Actor& actor, const std::string& org) {
  return !org.empty() && actor.organization_id() == org;
}

bool IsAuthorOrganization(const Actor& actor, const pb::FeedbackItem& item) {
  return InOrganization(actor, item.author_organization_id());
}

// Whether the item's visibility alone lets `viewer` see it (hidden aside).
// Anything but ALL_MEMBERS is treated as restricted, so an item whose
// visibility was never defaulted stays private rather than public.
bool InAudience(const Actor& viewer, const pb::FeedbackItem& item) {
  if (IsCopilot(viewer)) return true;
  if (item.visibility() == pb::VISIBILITY_ALL_MEMBERS) return true;
  if (viewer.role() == Role::ROLE_READER) return false;
  return IsAuthorOrganization(viewer, item);
}

// The same answer as for an item that does not exist, so that an item one
// may not see cannot be told from a missing one.
absl::Status NotVisible() {
  return absl::NotFoundError("feedback item not found");
}

// Refuses the acts readers never do (endorse, report, express interest).
absl::Status CheckNotReader(const Actor& actor, std::string_view what) {
  if (actor.role() == Role::ROLE_READER) {
    return absl::PermissionDeniedError(
        absl::StrCat("readers cannot ", std::string(what)));
  }
  return absl::OkStatus();
}

}  // namespace

// --- Validation ---

absl::Status ValidateConsultation(const pb::Consultation& c,
                                  std::string_view prefix) {
  FieldChecker k(prefix);
  k.Required("roadmap_id", c.roadmap_id());
  k.Line("title", c.title(), 1, 200);
  k.Text("description", c.description(), 0, 5000);
  k.Line("place", c.place(), 0, 200);
  if (!IsUnset(c.date()) && !IsValidDate(c.date())) {
    k.Add("date",
          "is not a valid date (year 1900..9999, month 1..12, a day of that "
          "month)");
  }
  constexpr int kMaxEcosystems = 20;
  if (c.ecosystem_ids_size() > kMaxEcosystems) {
    k.Add("ecosystem_ids",
          absl::StrCat("has more than ", kMaxEcosystems, " entries"));
  }
  std::set<std::string> seen;
  for (int i = 0; i < c.ecosystem_ids_size() && i < kMaxEcosystems; ++i) {
    const std::string& id = c.ecosystem_ids(i);
    std::string f = absl::StrCat("ecosystem_ids[", i, "]");
    if (id.empty()) {
      k.Add(f, "is empty");
    } else if (!seen.insert(id).second) {
      k.Add(f, "appears twice");
    }
  }
  auto check_time = [&](const char* field, bool has, const Timestamp& t) {
    if (!has) {
      k.Add(field, "is required");
      return false;
    }
    if (!IsValidTimestamp(t)) {
      k.Add(field, "is not a valid timestamp");
      return false;
    }
    return true;
  };
  bool open_ok = check_time("open_time", c.has_open_time(), c.open_time());
  bool close_ok = check_time("close_time", c.has_close_time(), c.close_time());
  if (open_ok && close_ok && Compare(c.close_time(), c.open_time()) <= 0) {
    k.Add("close_time", "must be after open_time");
  }
  return k.Done();
}

absl::Status ValidateItem(const pb::FeedbackItem& item,
                          std::string_view prefix) {
  FieldChecker k(prefix);
  k.Required("roadmap_id", item.roadmap_id());
  if (item.kind() == pb::FEEDBACK_KIND_UNSPECIFIED ||
      !pb::FeedbackKind_IsValid(item.kind())) {
    k.Add("kind",
          "must be STRENGTH, BLOCKER, OPPORTUNITY, PARTNERSHIP_OFFER or "
          "PROPOSAL");
  }
  k.Line("title", item.title(), 1, 200);
  k.Text("body", item.body(), 1, 10000);
  if (item.visibility() == pb::VISIBILITY_UNSPECIFIED ||
      !pb::Visibility_IsValid(item.visibility())) {
    k.Add("visibility", "must be ALL_MEMBERS or COPILOTS_ONLY");
  }
  if (item.kind() == pb::FEEDBACK_KIND_BLOCKER) {
    if (item.severity() == pb::SEVERITY_UNSPECIFIED) {
      k.Add("severity", "is required for a BLOCKER");
    } else if (!pb::Severity_IsValid(item.severity())) {
      k.Add("severity", "must be LOW, MEDIUM, HIGH or CRITICAL");
    }
  } else if (item.severity() != pb::SEVERITY_UNSPECIFIED) {
    k.Add("severity", "is only allowed on a BLOCKER");
  }
  constexpr int kMaxAttachments = 10;
  if (item.attachments_size() > kMaxAttachments) {
    k.Add("attachments",
          absl::StrCat("has more than ", kMaxAttachments, " attachments"));
  }
  for (int i = 0; i < item.attachments_size() && i < kMaxAttachments; ++i) {
    const pb::Attachment& a = item.attachments(i);
    std::string f = absl::StrCat("attachments[", i, "]");
    k.Line(f + ".title", a.title(), 1, 200);
    if (a.url().empty()) {
      k.Add(f + ".url", "is required");
    } else if (Utf8Length(a.url()) > 2000) {
      k.Add(f + ".url", "is longer than 2000 characters");
    } else if (!IsHttpUrl(a.url())) {
      k.Add(f + ".url", "must be an http or https URL");
    }
  }
  if (item.kind() != pb::FEEDBACK_KIND_PARTNERSHIP_OFFER &&
      !item.contact().empty()) {
    k.Add("contact", "is only allowed on a PARTNERSHIP_OFFER");
  } else {
    k.Text("contact", item.contact(), 0, 500);
  }
  return k.Done();
}

void ApplyDefaults(pb::FeedbackItem* item) {
  if (item->visibility() == pb::VISIBILITY_UNSPECIFIED) {
    item->set_visibility(pb::VISIBILITY_ALL_MEMBERS);
  }
}

pb::ConsultationStatus StatusAt(const pb::Consultation& c,
                                const Timestamp& now) {
  if (Compare(now, c.open_time()) < 0) return pb::CONSULTATION_STATUS_UPCOMING;
  if (Compare(now, c.close_time()) < 0) return pb::CONSULTATION_STATUS_OPEN;
  return pb::CONSULTATION_STATUS_CLOSED;
}

// --- Who may see and do what ---

bool IsCopilot(const Actor& actor) {
  return actor.role() == Role::ROLE_ADMIN || actor.role() == Role::ROLE_COPILOT;
}

bool CanSee(const Actor& viewer, const pb::FeedbackItem& item) {
  if (IsCopilot(viewer)) return true;
  // A reader reads what every member may read, and a moderated item is not
  // that, even for a reader of its own organisation (a newsletter).
  if (item.hidden() && (viewer.role() == Role::ROLE_READER ||
                        !IsAuthorOrganization(viewer, item))) {
    return false;
  }
  return InAudience(viewer, item);
}

void Redact(const Actor& viewer, pb::FeedbackItem* item) {
  if (IsCopilot(viewer)) return;
  item->clear_reports();
  // The offer's contact is for its organisation's members: not for other
  // members, nor for readers, which read what every member may read.
  if (!IsAuthorOrganization(viewer, *item) ||
      viewer.role() == Role::ROLE_READER) {
    item->clear_contact();
  }
  // A member of another organisation changes an item only by reporting
  // it, and who reports is for co-pilots only: not even the last one.
  const Actor& by = item->audit().updated_by();
  if (!IsCopilot(by) && !IsAuthorOrganization(by, *item)) {
    item->mutable_audit()->clear_updated_by();
  }
}

absl::Status CheckCanSubmit(const Actor& actor) {
  switch (actor.role()) {
    case Role::ROLE_ADMIN:
    case Role::ROLE_COPILOT:
    case Role::ROLE_MEMBER:
      break;
    case Role::ROLE_READER:
      return absl::PermissionDeniedError("readers cannot submit feedback");
    default:
      return absl::PermissionDeniedError(
          "only members, co-pilots and admins can submit feedback");
  }
  if (actor.organization_id().empty()) {
    return absl::PermissionDeniedError(
        "feedback is submitted for the caller's organisation, and the caller "
        "belongs to none");
  }
  return absl::OkStatus();
}

absl::Status CheckCanEdit(const Actor& actor, const pb::FeedbackItem& item) {
  if (actor.role() == Role::ROLE_ADMIN) return absl::OkStatus();
  if (actor.role() == Role::ROLE_READER) {
    return absl::PermissionDeniedError("readers cannot edit feedback");
  }
  if (!IsAuthorOrganization(actor, item)) {
    return absl::PermissionDeniedError(
        "only the author's organisation or an admin can edit a feedback item");
  }
  if (item.status() != pb::FEEDBACK_STATUS_SUBMITTED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "feedback can be edited by its organisation only while SUBMITTED; it "
        "is ",
        StatusName(item.status())));
  }
  return absl::OkStatus();
}

// --- Lifecycle ---

std::vector<pb::FeedbackStatus> AllowedTargets(pb::FeedbackStatus from) {
  switch (from) {
    case pb::FEEDBACK_STATUS_SUBMITTED:
      return {pb::FEEDBACK_STATUS_ACKNOWLEDGED, pb::FEEDBACK_STATUS_DECLINED};
    case pb::FEEDBACK_STATUS_ACKNOWLEDGED:
      return {pb::FEEDBACK_STATUS_LINKED, pb::FEEDBACK_STATUS_DECLINED};
    case pb::FEEDBACK_STATUS_LINKED:
      return {pb::FEEDBACK_STATUS_LINKED, pb::FEEDBACK_STATUS_DECLINED};
    default:
      return {};
  }
}

absl::Status CheckTransition(const pb::FeedbackItem& item,
                             pb::FeedbackStatus target) {
  auto allowed = AllowedTargets(item.status());
  if (std::find(allowed.begin(), allowed.end(), target) != allowed.end()) {
    return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (auto s : allowed) names.push_back(StatusName(s));
  std::string from = StatusName(item.status());
  return WithReason(
      absl::FailedPreconditionError(absl::StrCat(
          "cannot move feedback from ", from, " to ", StatusName(target),
          "; allowed from ", from, ": ",
          names.empty() ? "none (final state)" : absl::StrJoin(names, ", "))),
      "TRANSITION_NOT_ALLOWED");
}

// --- Closing the loop ---

LoopOutcome CloseLoop(const pb::FeedbackItem& item,
                      const std::map<std::string, ActionStatus>& statuses,
                      const std::map<std::string, std::string>& reasons) {
  LoopOutcome out;
  out.status = item.status();
  out.reason = item.status_reason();
  out.linked_after.assign(item.linked_action_ids().begin(),
                          item.linked_action_ids().end());
  // A LINKED item without links has nothing to wait for, but "all of no
  // actions are done" is no reason to call it addressed.
  if (item.status() != pb::FEEDBACK_STATUS_LINKED || out.linked_after.empty()) {
    return out;
  }
  auto status_of = [&](const std::string& id) {
    auto it = statuses.find(id);
    return it == statuses.end() ? roadmap::v1::ACTION_STATUS_UNSPECIFIED
                                : it->second;
  };
  // In the item's order, each id once.
  std::vector<std::string> ids;
  for (const auto& id : out.linked_after) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }

  // Cancelled actions can address nothing any more: they leave the item,
  // which waits for the others (or goes back to the co-pilots when none
  // is left).
  std::vector<std::string> cancelled, parts;
  for (const auto& id : ids) {
    if (status_of(id) != roadmap::v1::ACTION_STATUS_CANCELLED) continue;
    cancelled.push_back(id);
    std::string part = absl::StrCat("linked action ", id, " was cancelled");
    if (auto it = reasons.find(id);
        it != reasons.end() && !it->second.empty()) {
      absl::StrAppend(&part, ": ", it->second);
    }
    parts.push_back(std::move(part));
  }
  if (!cancelled.empty()) {
    auto is_cancelled = [&](const std::string& id) {
      return std::find(cancelled.begin(), cancelled.end(), id) !=
             cancelled.end();
    };
    std::erase_if(out.linked_after, is_cancelled);
    std::erase_if(ids, is_cancelled);
    out.changed = true;
    out.reason = absl::StrJoin(parts, "; ");
    if (ids.empty()) {
      out.status = pb::FEEDBACK_STATUS_ACKNOWLEDGED;
      return out;
    }
  }

  bool all_done = std::all_of(ids.begin(), ids.end(), [&](const auto& id) {
    return status_of(id) == roadmap::v1::ACTION_STATUS_DONE;
  });
  if (all_done) {
    out.changed = true;
    out.status = pb::FEEDBACK_STATUS_ADDRESSED;
    std::string reason =
        absl::StrCat("all linked actions are done: ", absl::StrJoin(ids, ", "));
    if (!cancelled.empty()) absl::StrAppend(&reason, "; ", out.reason);
    out.reason = std::move(reason);
  }
  return out;
}

// --- Endorsements and moderation ---

absl::Status CheckCanEndorse(const Actor& actor, const pb::FeedbackItem& item) {
  if (auto s = CheckNotReader(actor, "endorse feedback"); !s.ok()) return s;
  if (actor.role() == Role::ROLE_UNSPECIFIED) {
    return absl::PermissionDeniedError(
        "only members, co-pilots and admins can endorse feedback");
  }
  if (!InAudience(actor, item)) return NotVisible();
  if (IsAuthorOrganization(actor, item)) {
    return absl::PermissionDeniedError(
        "an organisation cannot endorse its own feedback");
  }
  if (item.hidden()) {
    return absl::FailedPreconditionError(
        "a hidden feedback item cannot be endorsed");
  }
  if (item.status() == pb::FEEDBACK_STATUS_DECLINED) {
    return absl::FailedPreconditionError(
        "a DECLINED feedback item cannot be endorsed");
  }
  return absl::OkStatus();
}

absl::Status CheckCanReport(const Actor& actor, const pb::FeedbackItem& item,
                            bool already_reported, std::string_view reason) {
  if (auto s = CheckNotReader(actor, "report feedback"); !s.ok()) return s;
  if (actor.role() != Role::ROLE_MEMBER) {
    return absl::PermissionDeniedError(
        "only members report feedback; co-pilots hide it with "
        "ModerateFeedback");
  }
  if (!InAudience(actor, item)) return NotVisible();
  if (IsAuthorOrganization(actor, item)) {
    return absl::PermissionDeniedError(
        "an organisation cannot report its own feedback");
  }
  if (item.hidden()) {
    return absl::FailedPreconditionError(
        "the feedback item is already hidden pending review");
  }
  if (item.status() == pb::FEEDBACK_STATUS_DECLINED) {
    return absl::FailedPreconditionError(
        "a DECLINED feedback item cannot be reported");
  }
  if (already_reported) {
    return absl::AlreadyExistsError(
        "the caller's organisation already reported this feedback item");
  }
  if (auto p = TextProblem(reason, 1, 1000); !p.empty()) {
    return InvalidField("reason", p);
  }
  return absl::OkStatus();
}

bool AddReport(pb::FeedbackItem* item, const Actor& reporter,
               std::string_view reason, const Timestamp& now, int threshold) {
  pb::Report* report = item->add_reports();
  report->set_organization_id(reporter.organization_id());
  report->set_reason(std::string(reason));
  *report->mutable_time() = now;
  std::set<std::string> organizations;
  for (const auto& r : item->reports()) {
    organizations.insert(r.organization_id());
  }
  int n = static_cast<int>(organizations.size());
  if (!item->hidden() && n >= threshold) {
    item->set_hidden(true);
    item->set_moderation_reason(
        absl::StrCat("hidden pending review: reported by ", n,
                     n == 1 ? " organisation" : " organisations"));
  }
  return item->hidden();
}

// --- Partnership matchmaking ---

absl::Status CheckCanExpressInterest(const Actor& actor,
                                     const pb::FeedbackItem& offer,
                                     std::string_view message,
                                     std::string_view contact) {
  if (auto s = CheckNotReader(actor, "express interest in an offer"); !s.ok()) {
    return s;
  }
  if (actor.role() != Role::ROLE_MEMBER) {
    return absl::PermissionDeniedError(
        "only members express interest in a partnership offer");
  }
  if (!InAudience(actor, offer)) return NotVisible();
  if (offer.kind() != pb::FEEDBACK_KIND_PARTNERSHIP_OFFER) {
    return absl::FailedPreconditionError(
        "interest can only be expressed in a PARTNERSHIP_OFFER");
  }
  if (IsAuthorOrganization(actor, offer)) {
    return absl::PermissionDeniedError(
        "an organisation cannot express interest in its own offer");
  }
  if (offer.hidden()) {
    return absl::FailedPreconditionError("the offer is hidden pending review");
  }
  if (offer.status() == pb::FEEDBACK_STATUS_DECLINED) {
    return absl::FailedPreconditionError("the offer was DECLINED");
  }
  FieldChecker k("");
  k.Text("message", message, 0, 2000);
  k.Text("contact", contact, 1, 500);
  return k.Done();
}

absl::Status CheckCanDecide(const Actor& actor, const pb::FeedbackItem& offer,
                            const pb::Interest& interest) {
  if (actor.role() != Role::ROLE_ADMIN) {
    if (actor.role() == Role::ROLE_READER) {
      return absl::PermissionDeniedError("readers cannot decide on interests");
    }
    if (!IsAuthorOrganization(actor, offer)) {
      return absl::PermissionDeniedError(
          "only the offering organisation (or an admin) accepts or declines "
          "an interest in its offer");
    }
  }
  if (interest.state() != pb::INTEREST_STATE_PENDING) {
    return absl::FailedPreconditionError(
        absl::StrCat("the interest was already decided: it is ",
                     StateName(interest.state())));
  }
  return absl::OkStatus();
}

bool CanSeeInterest(const Actor& viewer, const pb::FeedbackItem& offer,
                    const pb::Interest& interest) {
  if (IsCopilot(viewer)) return true;
  // An interest, with its contacts, is between the two organisations'
  // members: a reader (a dashboard, a newsletter) reads what every member
  // may read, and that is not.
  if (viewer.role() == Role::ROLE_READER) return false;
  return IsAuthorOrganization(viewer, offer) ||
         InOrganization(viewer, interest.organization_id());
}

void RedactInterest(const Actor& viewer, const pb::FeedbackItem& offer,
                    pb::Interest* interest) {
  bool accepted = interest->state() == pb::INTEREST_STATE_ACCEPTED;
  if (IsAuthorOrganization(viewer, offer)) {
    // The offering side: the interested side's contact once accepted.
    interest->clear_offer_contact();
    if (!accepted) interest->clear_contact();
  } else if (InOrganization(viewer, interest->organization_id())) {
    // The interested side keeps its own contact and learns the offer's
    // (current) one once accepted.
    if (accepted) {
      interest->set_offer_contact(offer.contact());
    } else {
      interest->clear_offer_contact();
    }
  } else {
    // Co-pilots of neither side, and anyone else: no contact at all.
    interest->clear_contact();
    interest->clear_offer_contact();
  }
}

// --- Search ---

std::string Fold(std::string_view utf8) {
  // Second byte of a C3 xx letter (lower case, 0xA0..0xBF) -> its folding;
  // capitals are 0x20 below their lower case.
  auto latin1 = [](unsigned char b) -> const char* {
    if (b >= 0x80 && b <= 0x9F) b += 0x20;
    switch (b) {
      case 0xA0:  // à
      case 0xA2:  // â
      case 0xA4:  // ä
        return "a";
      case 0xA6:  // æ
        return "ae";
      case 0xA7:  // ç
        return "c";
      case 0xA8:  // è
      case 0xA9:  // é
      case 0xAA:  // ê
      case 0xAB:  // ë
        return "e";
      case 0xAE:  // î
      case 0xAF:  // ï
        return "i";
      case 0xB4:  // ô
      case 0xB6:  // ö
        return "o";
      case 0xB9:  // ù
      case 0xBB:  // û
      case 0xBC:  // ü
        return "u";
      default:
        return nullptr;
    }
  };
  std::string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto c = static_cast<unsigned char>(utf8[i]);
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c + ('a' - 'A')));
      continue;
    }
    if (i + 1 < utf8.size()) {
      auto next = static_cast<unsigned char>(utf8[i + 1]);
      const char* folded = nullptr;
      if (c == 0xC3) {
        folded = latin1(next);
      } else if (c == 0xC5 && (next == 0x92 || next == 0x93)) {  // Œ œ
        folded = "oe";
      } else if ((c == 0xCC && next >= 0x80 && next <= 0xBF) ||
                 (c == 0xCD && next >= 0x80 && next <= 0xAF)) {
        // A combining accent, U+0300..U+036F: text in decomposed form
        // (NFD, as macOS and some forms send it) writes "ô" as "o" and
        // U+0302. The letter before it is kept, the accent dropped.
        folded = "";
      }
      if (folded) {
        out.append(folded);
        ++i;
        continue;
      }
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

bool MatchesQuery(const pb::FeedbackItem& item, std::string_view query) {
  auto is_space = [](char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' ||
           ch == '\v';
  };
  std::string title;
  std::string body;
  bool folded = false;
  size_t i = 0;
  while (i < query.size()) {
    while (i < query.size() && is_space(query[i])) ++i;
    size_t start = i;
    while (i < query.size() && !is_space(query[i])) ++i;
    if (start == i) break;
    if (!folded) {  // only once the query has a word
      title = Fold(item.title());
      body = Fold(item.body());
      folded = true;
    }
    std::string word = Fold(query.substr(start, i - start));
    if (title.find(word) == std::string::npos &&
        body.find(word) == std::string::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace jalon::feedback
