#include "services/feedback/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "jalon/events/v1/events.pb.h"
#include "services/common/entity_ops.h"
#include "services/common/logging.h"
#include "services/common/requests.h"
#include "services/common/status.h"
#include "services/feedback/domain.h"

namespace jalon::feedback {
namespace {

using common::v1::Role;
namespace rpb = ::jalon::roadmap::v1;

// Who the automatic changes (closing the loop) are attributed to.
Actor LoopActor() {
  Actor a;
  a.set_principal_id("system:feedback-loop");
  a.set_principal_name("feedback loop (automatic)");
  a.set_role(Role::ROLE_ADMIN);
  return a;
}

// Times an endorsement or an interest reads its item again because the item
// changed between its checks and its commit.
constexpr int kItemRetries = 3;

// The event a change of the automatic loop makes, by the status it leaves.
std::string_view LoopEventType(pb::FeedbackStatus status) {
  if (status == pb::FEEDBACK_STATUS_ADDRESSED) return "feedback.item.addressed";
  if (status == pb::FEEDBACK_STATUS_ACKNOWLEDGED) {
    return "feedback.item.reopened";
  }
  return "feedback.item.unlinked";  // still LINKED, to others
}

// Actions one item may be linked to (and one LinkFeedback may name).
constexpr int kMaxLinkedActions = 20;

std::string RoadmapOf(const pb::FeedbackItem& i) { return i.roadmap_id(); }

// An item the viewer may not see does not exist for them.
absl::Status NotFound(const std::string& id) {
  return WithReason(
      absl::NotFoundError(absl::StrCat("feedback ", id, " not found")),
      "NOT_FOUND");
}

}  // namespace

FeedbackService::FeedbackService(FeedbackStore* store, RoadmapClient* roadmap,
                                 const Clock* clock, FeedbackOptions options)
    : store_(store), roadmap_(roadmap), clock_(clock), options_(options) {}

// --- Consultations ---------------------------------------------------------

absl::Status FeedbackService::CreateConsultation(
    const CallContext& c, const pb::CreateConsultationRequest& req,
    pb::CreateConsultationResponse* resp) {
  pb::Consultation in = req.consultation();
  in.clear_status();
  if (auto s = WithRequestId(ValidateConsultation(in, "consultation."),
                             req.request_id());
      !s.ok()) {
    return s;
  }
  if (auto s =
          roadmap_->CheckRoadmap(in.roadmap_id(), "consultation.roadmap_id");
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < in.ecosystem_ids_size(); ++i) {
    if (auto s = roadmap_->CheckEcosystem(
            in.ecosystem_ids(i), in.roadmap_id(),
            absl::StrCat("consultation.ecosystem_ids[", i, "]"));
        !s.ok()) {
      return s;
    }
  }
  EntityOps ops(store_, clock_, c);
  auto created = ops.Create<pb::Consultation>(
      kConsultation, "feedback.consultation.created", req.request_id(), in,
      in.roadmap_id(), [&](Mutation& m, const pb::Consultation& x) {
        m.IndexAdd(
            store_->ChildrenKey("roadmap", x.roadmap_id(), kConsultation),
            x.id());
      });
  if (!created.ok()) return created.status();
  created->set_status(StatusAt(*created, ops.Now()));
  *resp->mutable_consultation() = *std::move(created);
  return absl::OkStatus();
}

absl::Status FeedbackService::GetConsultation(
    const CallContext& c, const pb::GetConsultationRequest& req,
    pb::GetConsultationResponse* resp) {
  EntityOps ops(store_, clock_, c);
  auto x = ops.Load<pb::Consultation>(kConsultation, req.id());
  if (!x.ok()) return x.status();
  x->value.set_status(StatusAt(x->value, ops.Now()));
  *resp->mutable_consultation() = std::move(x->value);
  return absl::OkStatus();
}

absl::Status FeedbackService::ListConsultations(
    const CallContext& c, const pb::ListConsultationsRequest& req,
    pb::ListConsultationsResponse* resp) {
  if (req.roadmap_id().empty())
    return InvalidField("roadmap_id", "is required");
  EntityOps ops(store_, clock_, c);
  const auto now = ops.Now();
  return ops.List<pb::Consultation>(
      kConsultation,
      store_->ChildrenKey("roadmap", req.roadmap_id(), kConsultation),
      req.page_size(), req.page_token(),
      [&](pb::Consultation& x) {
        x.set_status(StatusAt(x, now));
        return true;
      },
      resp->mutable_consultations(), resp->mutable_next_page_token());
}

absl::Status FeedbackService::UpdateConsultation(
    const CallContext& c, const pb::UpdateConsultationRequest& req,
    pb::UpdateConsultationResponse* resp) {
  static const std::set<std::string> kUpdatable = {
      "title",         "description", "place",     "date",
      "ecosystem_ids", "open_time",   "close_time"};
  EntityOps ops(store_, clock_, c);
  auto x = ops.Update<pb::Consultation>(
      kConsultation, "feedback.consultation.updated", req.consultation().id(),
      {req.consultation().etag(), "consultation.etag"},
      [&](const Versioned<pb::Consultation>& cur, pb::Consultation* next,
          Mutation*) -> absl::Status {
        if (auto s = ApplyMask(req.consultation(), req.update_mask(),
                               kUpdatable, next);
            !s.ok()) {
          return s;
        }
        next->clear_status();
        if (auto s = ValidateConsultation(*next, "consultation."); !s.ok()) {
          return s;
        }
        // The ecosystems it did not name yet, as at creation.
        const auto& had = cur.value.ecosystem_ids();
        for (int i = 0; i < next->ecosystem_ids_size(); ++i) {
          const std::string& id = next->ecosystem_ids(i);
          if (std::find(had.begin(), had.end(), id) != had.end()) continue;
          if (auto s = roadmap_->CheckEcosystem(
                  id, next->roadmap_id(),
                  absl::StrCat("consultation.ecosystem_ids[", i, "]"));
              !s.ok()) {
            return s;
          }
        }
        return absl::OkStatus();
      },
      false, [](const pb::Consultation& x) { return x.roadmap_id(); });
  if (!x.ok()) return x.status();
  x->set_status(StatusAt(*x, ops.Now()));
  *resp->mutable_consultation() = *std::move(x);
  return absl::OkStatus();
}

// --- Items -----------------------------------------------------------------

namespace {

// Clears what a client may not set on an item.
void ClearOutputs(pb::FeedbackItem* item) {
  item->clear_author();
  item->clear_author_organization_id();
  item->clear_status();
  item->clear_linked_action_ids();
  item->clear_public_answer();
  item->clear_status_reason();
  item->clear_endorsement_count();
  item->clear_hidden();
  item->clear_moderation_reason();
  item->clear_reports();
  item->clear_acknowledge_time();
}

}  // namespace

absl::Status FeedbackService::SubmitFeedback(
    const CallContext& c, const pb::SubmitFeedbackRequest& req,
    pb::SubmitFeedbackResponse* resp) {
  if (auto s = CheckCanSubmit(c.principal); !s.ok()) return s;
  pb::FeedbackItem item = req.item();
  ClearOutputs(&item);
  ApplyDefaults(&item);
  if (auto s = WithRequestId(ValidateItem(item, "item."), req.request_id());
      !s.ok()) {
    return s;
  }
  EntityOps ops(store_, clock_, c);
  *item.mutable_author() = c.principal;
  item.set_author_organization_id(c.principal.organization_id());
  item.set_status(pb::FEEDBACK_STATUS_SUBMITTED);
  // The commit is guarded by the version of the consultation read: one
  // closed (or moved) meanwhile, even during the roadmap service's checks,
  // fails the guard, and the submit checks it again, so no item lands in a
  // consultation after it closed.
  for (int attempt = 1;; ++attempt) {
    int64_t consultation_version = 0;
    if (!item.consultation_id().empty()) {
      auto consultation =
          ops.Load<pb::Consultation>(kConsultation, item.consultation_id());
      if (absl::IsNotFound(consultation.status())) {
        return InvalidField("item.consultation_id", "no such consultation");
      }
      if (!consultation.ok()) return consultation.status();
      if (consultation->value.roadmap_id() != item.roadmap_id()) {
        return InvalidField("item.consultation_id",
                            "belongs to another roadmap than item.roadmap_id");
      }
      if (StatusAt(consultation->value, ops.Now()) !=
          pb::CONSULTATION_STATUS_OPEN) {
        // A retry of a submit that went through before the consultation
        // closed (its answer lost) gets its item, not a refusal.
        auto earlier =
            ops.Created<pb::FeedbackItem>(kFeedback, req.request_id());
        if (!earlier.ok()) return earlier.status();
        if (*earlier) return AnswerSubmit(c, std::move(**earlier), true, resp);
        return WithReason(absl::FailedPreconditionError(
                              "the consultation is not open for feedback"),
                          "CONSULTATION_NOT_OPEN");
      }
      consultation_version = consultation->version;
    }
    // A consultation is of a roadmap that exists.
    if (attempt == 1 && item.consultation_id().empty()) {
      if (auto s = roadmap_->CheckRoadmap(item.roadmap_id(), "item.roadmap_id");
          !s.ok()) {
        return s;
      }
    }
    if (attempt == 1 && !item.ecosystem_id().empty()) {
      if (auto s = roadmap_->CheckEcosystem(
              item.ecosystem_id(), item.roadmap_id(), "item.ecosystem_id");
          !s.ok()) {
        return s;
      }
    }
    if (auto hook = SubmitHook()) hook();
    bool duplicate = false;
    auto created = ops.Create<pb::FeedbackItem>(
        kFeedback, "feedback.item.submitted", req.request_id(), item,
        item.roadmap_id(),
        [&](Mutation& m, const pb::FeedbackItem& x) {
          if (!x.consultation_id().empty()) {
            m.ExpectVersion(
                store_->EntityKey(kConsultation, x.consultation_id()),
                consultation_version, "consultation");
          }
          m.IndexAdd(store_->IndexKey(kFeedback), x.id());
          m.IndexAdd(store_->ChildrenKey("roadmap", x.roadmap_id(), kFeedback),
                     x.id());
          m.Append(store_->HistoryKey(kFeedback, x.id()),
                   ops.History(1, "feedback.item.submitted",
                               Diff(pb::FeedbackItem(), x)));
        },
        &duplicate);
    if (!created.ok() && StaleSubject(created.status()) == "consultation" &&
        attempt < kItemRetries) {
      continue;
    }
    if (!created.ok()) return created.status();
    return AnswerSubmit(c, *std::move(created), duplicate, resp);
  }
}

absl::Status FeedbackService::AnswerSubmit(const CallContext& c,
                                           pb::FeedbackItem item,
                                           bool duplicate,
                                           pb::SubmitFeedbackResponse* resp) {
  if (duplicate) {
    // The item as it is now, as GetFeedback shows it: endorsements since.
    auto count = store_->Count(Keys::Endorsers(item.id()));
    if (!count.ok()) return count.status();
    item.set_endorsement_count(*count);
  }
  Redact(c.principal, &item);
  *resp->mutable_item() = std::move(item);
  return absl::OkStatus();
}

absl::Status FeedbackService::GetFeedback(const CallContext& c,
                                          const pb::GetFeedbackRequest& req,
                                          pb::GetFeedbackResponse* resp) {
  EntityOps ops(store_, clock_, c);
  auto item = ops.Load<pb::FeedbackItem>(kFeedback, req.id());
  if (!item.ok()) return item.status();
  if (!CanSee(c.principal, item->value)) return NotFound(req.id());
  auto count = store_->Count(Keys::Endorsers(req.id()));
  if (!count.ok()) return count.status();
  item->value.set_endorsement_count(*count);
  Redact(c.principal, &item->value);
  *resp->mutable_item() = std::move(item->value);
  return absl::OkStatus();
}

absl::Status FeedbackService::ListFeedback(const CallContext& c,
                                           const pb::ListFeedbackRequest& req,
                                           pb::ListFeedbackResponse* resp) {
  if (auto p = TextProblem(req.query(), 0, 500, false); !p.empty()) {
    return InvalidField("query", p);
  }
  if (!pb::FeedbackOrder_IsValid(req.order())) {
    return InvalidField("order",
                        "must be FEEDBACK_ORDER_UNSPECIFIED, "
                        "FEEDBACK_ORDER_NEWEST or FEEDBACK_ORDER_ENDORSEMENTS");
  }
  if (auto s =
          CheckEnumFilters("kinds", req.kinds(), pb::FeedbackKind_descriptor());
      !s.ok()) {
    return s;
  }
  if (auto s = CheckEnumFilters("statuses", req.statuses(),
                                pb::FeedbackStatus_descriptor());
      !s.ok()) {
    return s;
  }
  EntityOps ops(store_, clock_, c);
  const std::set<int> kinds(req.kinds().begin(), req.kinds().end());
  const std::set<int> statuses(req.statuses().begin(), req.statuses().end());
  const bool copilot = IsCopilot(c.principal);
  std::string index = store_->IndexKey(kFeedback);
  if (!req.linked_action_id().empty()) {
    index = Keys::ActionItems(req.linked_action_id());
  } else if (!req.roadmap_id().empty()) {
    index = store_->ChildrenKey("roadmap", req.roadmap_id(), kFeedback);
  }
  auto keep = [&](pb::FeedbackItem& x) {
    if (!CanSee(c.principal, x)) return false;
    if (x.hidden() && !(copilot && req.include_hidden()) &&
        x.author_organization_id() != c.principal.organization_id()) {
      return false;
    }
    if (!req.roadmap_id().empty() && x.roadmap_id() != req.roadmap_id())
      return false;
    if (!kinds.empty() && !kinds.count(x.kind())) return false;
    if (!statuses.empty() && !statuses.count(x.status())) return false;
    if (!req.ecosystem_id().empty() && x.ecosystem_id() != req.ecosystem_id())
      return false;
    if (!req.consultation_id().empty() &&
        x.consultation_id() != req.consultation_id()) {
      return false;
    }
    if (!req.author_organization_id().empty() &&
        x.author_organization_id() != req.author_organization_id()) {
      return false;
    }
    return MatchesQuery(x, req.query());
  };
  auto fill_counts =
      [&](RepeatedPtrField<pb::FeedbackItem>* items) -> absl::Status {
    std::vector<std::string> keys;
    for (const auto& x : *items) keys.push_back(Keys::Endorsers(x.id()));
    auto counts = store_->Counts(keys);
    if (!counts.ok()) return counts.status();
    for (int i = 0; i < items->size(); ++i) {
      (*items)[i].set_endorsement_count((*counts)[i]);
      Redact(c.principal, &(*items)[i]);
    }
    return absl::OkStatus();
  };
  if (req.order() != pb::FEEDBACK_ORDER_ENDORSEMENTS) {
    // Ids are ULIDs: the index's order is the submissions' order.
    auto s = ops.List<pb::FeedbackItem>(
        kFeedback, index, req.page_size(), req.page_token(), keep,
        resp->mutable_items(), resp->mutable_next_page_token(),
        /*descending=*/req.order() == pb::FEEDBACK_ORDER_NEWEST);
    if (!s.ok()) return s;
    return fill_counts(resp->mutable_items());
  }
  // By endorsements needs every match: scan the index, sort, page by
  // offset.
  auto size = PageSize(req.page_size());
  if (!size.ok()) return size.status();
  auto offset = DecodeOffset(req.page_token());
  if (!offset.ok()) return offset.status();
  RepeatedPtrField<pb::FeedbackItem> all;
  std::string token;
  do {
    std::string next;
    if (auto s = ops.List<pb::FeedbackItem>(kFeedback, index, 1000, token, keep,
                                            &all, &next);
        !s.ok()) {
      return s;
    }
    token = next;
  } while (!token.empty());
  if (auto s = fill_counts(&all); !s.ok()) return s;
  std::vector<pb::FeedbackItem*> sorted(all.pointer_begin(), all.pointer_end());
  std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
    return a->endorsement_count() > b->endorsement_count();
  });
  // A page also ends once it holds kMaxPageBytes (after one item at
  // least), as List's do: a page of large items would pass gRPC's message
  // limit, fail, and its token never come.
  int64_t i = *offset;
  size_t bytes = 0;
  for (; i < static_cast<int64_t>(sorted.size()) && i < *offset + *size &&
         (i == *offset || bytes < kMaxPageBytes);
       ++i) {
    bytes += sorted[i]->ByteSizeLong();
    *resp->add_items() = *sorted[i];
  }
  if (i < static_cast<int64_t>(sorted.size())) {
    resp->set_next_page_token(EncodeToken(std::to_string(i)));
  }
  return absl::OkStatus();
}

absl::Status FeedbackService::UpdateFeedback(
    const CallContext& c, const pb::UpdateFeedbackRequest& req,
    pb::UpdateFeedbackResponse* resp) {
  static const std::set<std::string> kUpdatable = {
      "title",    "body",        "ecosystem_id", "visibility",
      "severity", "attachments", "contact"};
  EntityOps ops(store_, clock_, c);
  auto item = ops.Update<pb::FeedbackItem>(
      kFeedback, "feedback.item.updated", req.item().id(),
      {req.item().etag(), "item.etag"},
      [&](const Versioned<pb::FeedbackItem>& cur, pb::FeedbackItem* next,
          Mutation*) -> absl::Status {
        if (!CanSee(c.principal, cur.value)) return NotFound(req.item().id());
        if (auto s = CheckCanEdit(c.principal, cur.value); !s.ok()) return s;
        if (auto s = ApplyMask(req.item(), req.update_mask(), kUpdatable, next);
            !s.ok()) {
          return s;
        }
        ApplyDefaults(next);
        if (auto s = ValidateItem(*next, "item."); !s.ok()) return s;
        // A new ecosystem is checked as at submission.
        if (!next->ecosystem_id().empty() &&
            next->ecosystem_id() != cur.value.ecosystem_id()) {
          return roadmap_->CheckEcosystem(
              next->ecosystem_id(), next->roadmap_id(), "item.ecosystem_id");
        }
        return absl::OkStatus();
      },
      true, RoadmapOf);
  if (!item.ok()) return item.status();
  Redact(c.principal, &*item);
  *resp->mutable_item() = *std::move(item);
  return absl::OkStatus();
}

absl::Status FeedbackService::AcknowledgeFeedback(
    const CallContext& c, const pb::AcknowledgeFeedbackRequest& req,
    pb::AcknowledgeFeedbackResponse* resp) {
  EntityOps ops(store_, clock_, c);
  auto item = ops.Update<pb::FeedbackItem>(
      kFeedback, "feedback.item.acknowledged", req.id(), req.etag(),
      [&](const Versioned<pb::FeedbackItem>& cur, pb::FeedbackItem* next,
          Mutation*) -> absl::Status {
        if (auto s =
                CheckTransition(cur.value, pb::FEEDBACK_STATUS_ACKNOWLEDGED);
            !s.ok()) {
          return s;
        }
        next->set_status(pb::FEEDBACK_STATUS_ACKNOWLEDGED);
        next->clear_status_reason();
        *next->mutable_acknowledge_time() = ops.Now();
        return absl::OkStatus();
      },
      true, RoadmapOf);
  if (!item.ok()) return item.status();
  *resp->mutable_item() = *std::move(item);
  return absl::OkStatus();
}

absl::Status FeedbackService::LinkFeedback(const CallContext& c,
                                           const pb::LinkFeedbackRequest& req,
                                           pb::LinkFeedbackResponse* resp) {
  if (req.action_ids_size() == 0 || req.action_ids_size() > kMaxLinkedActions) {
    return InvalidField(
        "action_ids",
        absl::StrCat("must name 1..", kMaxLinkedActions, " actions"));
  }
  // Each id once; an error names where the request has it first.
  std::vector<std::string> ids, fields;
  for (int i = 0; i < req.action_ids_size(); ++i) {
    if (req.action_ids(i).empty()) {
      return InvalidField(absl::StrCat("action_ids[", i, "]"), "is empty");
    }
    if (std::find(ids.begin(), ids.end(), req.action_ids(i)) == ids.end()) {
      ids.push_back(req.action_ids(i));
      fields.push_back(absl::StrCat("action_ids[", i, "]"));
    }
  }
  EntityOps ops(store_, clock_, c);
  auto current = ops.Load<pb::FeedbackItem>(kFeedback, req.id());
  if (!current.ok()) return current.status();
  if (auto s = CheckTransition(current->value, pb::FEEDBACK_STATUS_LINKED);
      !s.ok()) {
    return s;
  }
  // Ask the roadmap service before writing anything: if it cannot answer,
  // the call fails UNAVAILABLE and nothing changes.
  auto actions = roadmap_->GetActions(ids, fields);
  if (!actions.ok()) return actions.status();
  // Every action is checked before anything is stored.
  for (size_t i = 0; i < actions->size(); ++i) {
    const auto& a = (*actions)[i];
    if (a.roadmap_id() != current->value.roadmap_id()) {
      return InvalidField(fields[i],
                          "belongs to another roadmap than the item");
    }
    // Nothing can address the item any more: a stale id or a slip, which
    // would otherwise send a LINKED item back to ACKNOWLEDGED.
    if (a.status() == roadmap::v1::ACTION_STATUS_CANCELLED) {
      return InvalidField(fields[i],
                          "is a CANCELLED action; link the item to one that "
                          "can still address it");
    }
  }
  // What the roadmap service said of each action: stored by the commit
  // below where newer than what the consumer stored, so a call that fails
  // (a stale etag, a check under compare-and-write) stores nothing.
  std::map<std::string, pb::ActionState> fetched;
  for (size_t i = 0; i < actions->size(); ++i) {
    const auto& a = (*actions)[i];
    int64_t version = 0;
    if (!absl::SimpleAtoi(a.etag(), &version)) {
      return absl::InternalError("the roadmap service sent an unreadable etag");
    }
    pb::ActionState& st = fetched[a.id()];
    st.set_action_id(a.id());
    st.set_version(version);
    st.set_status(a.status());
    st.set_status_reason(a.status_reason());
    st.set_roadmap_id(a.roadmap_id());
  }
  auto item = ops.Update<pb::FeedbackItem>(
      kFeedback, "feedback.item.linked", req.id(), req.etag(),
      [&](const Versioned<pb::FeedbackItem>& cur, pb::FeedbackItem* next,
          Mutation* m) -> absl::Status {
        if (auto s = CheckTransition(cur.value, pb::FEEDBACK_STATUS_LINKED);
            !s.ok()) {
          return s;
        }
        next->set_status(pb::FEEDBACK_STATUS_LINKED);
        next->clear_status_reason();
        for (const auto& id : ids) {
          if (std::find(next->linked_action_ids().begin(),
                        next->linked_action_ids().end(),
                        id) == next->linked_action_ids().end()) {
            next->add_linked_action_ids(id);
          }
          m->IndexAdd(Keys::ActionItems(id), next->id());
        }
        // Actions already done close the loop at once.
        std::vector<std::string> linked(next->linked_action_ids().begin(),
                                        next->linked_action_ids().end());
        auto states = store_->GetMany(kActionState, linked);
        if (!states.ok()) return states.status();
        std::map<std::string, ActionStatus> statuses;
        std::map<std::string, std::string> reasons;
        for (size_t i = 0; i < linked.size(); ++i) {
          const Stored& stored = (*states)[i];
          // The consumer may record a newer state of an action after this
          // read but before the item is in the action's index, and then
          // would not find the item to re-evaluate: commit only if the
          // states read are still the latest (else read again and retry).
          const std::string key = store_->EntityKey(kActionState, linked[i]);
          m->ExpectVersion(key, stored.version, "action state");
          pb::ActionState st;
          auto told = fetched.find(linked[i]);
          if (told != fetched.end() &&
              told->second.version() > stored.version) {
            st = told->second;
            m->Put(key, st.version(), st.SerializeAsString());
          } else if (stored.version == 0 || !st.ParseFromString(stored.data)) {
            continue;
          }
          statuses[st.action_id()] = st.status();
          reasons[st.action_id()] = st.status_reason();
        }
        LoopOutcome outcome = CloseLoop(*next, statuses, reasons);
        if (outcome.changed) {
          next->set_status(outcome.status);
          next->set_status_reason(outcome.reason);
          for (const auto& id : linked) {
            if (std::find(outcome.linked_after.begin(),
                          outcome.linked_after.end(),
                          id) == outcome.linked_after.end()) {
              m->IndexRemove(Keys::ActionItems(id), next->id());
            }
          }
          next->clear_linked_action_ids();
          for (const auto& id : outcome.linked_after)
            next->add_linked_action_ids(id);
        }
        // Bounded like one request: every action event re-reads them all.
        if (next->linked_action_ids_size() > kMaxLinkedActions) {
          return InvalidField(
              "action_ids",
              absl::StrCat("would link the item to ",
                           next->linked_action_ids_size(), " actions; at most ",
                           kMaxLinkedActions));
        }
        return absl::OkStatus();
      },
      true, RoadmapOf);
  if (!item.ok()) return item.status();
  *resp->mutable_item() = *std::move(item);
  return absl::OkStatus();
}

absl::Status FeedbackService::DeclineFeedback(
    const CallContext& c, const pb::DeclineFeedbackRequest& req,
    pb::DeclineFeedbackResponse* resp) {
  if (IsBlank(req.public_answer())) {
    return InvalidField("public_answer", "is required to decline feedback");
  }
  if (auto p = TextProblem(req.public_answer(), 1, 5000); !p.empty()) {
    return InvalidField("public_answer", p);
  }
  EntityOps ops(store_, clock_, c);
  auto item = ops.Update<pb::FeedbackItem>(
      kFeedback, "feedback.item.declined", req.id(), req.etag(),
      [&](const Versioned<pb::FeedbackItem>& cur, pb::FeedbackItem* next,
          Mutation*) -> absl::Status {
        if (auto s = CheckTransition(cur.value, pb::FEEDBACK_STATUS_DECLINED);
            !s.ok()) {
          return s;
        }
        next->set_status(pb::FEEDBACK_STATUS_DECLINED);
        next->set_public_answer(req.public_answer());
        return absl::OkStatus();
      },
      true, RoadmapOf);
  if (!item.ok()) return item.status();
  *resp->mutable_item() = *std::move(item);
  return absl::OkStatus();
}

absl::Status FeedbackService::ListFeedbackHistory(
    const CallContext& c, const pb::ListFeedbackHistoryRequest& req,
    pb::ListFeedbackHistoryResponse* resp) {
  EntityOps ops(store_, clock_, c);
  auto item = ops.Load<pb::FeedbackItem>(kFeedback, req.feedback_id());
  if (!item.ok()) return item.status();
  if (!CanSee(c.principal, item->value)) return NotFound(req.feedback_id());
  if (auto s = ops.ListOffsets(store_->HistoryKey(kFeedback, req.feedback_id()),
                               req.page_size(), req.page_token(),
                               resp->mutable_entries(),
                               resp->mutable_next_page_token());
      !s.ok()) {
    return s;
  }
  // The history must not reveal what the item itself hides from this
  // viewer (an offer's contact, the moderation reports).
  pb::FeedbackItem probe = item->value;
  probe.set_contact("x");
  probe.add_reports();
  Redact(c.principal, &probe);
  std::set<std::string> hidden;
  if (probe.contact().empty()) hidden.insert("contact");
  if (probe.reports_size() == 0) hidden.insert("reports");
  for (auto& entry : *resp->mutable_entries()) {
    // Who reported an item is for the co-pilots only.
    if (hidden.count("reports") &&
        entry.event_type() == "feedback.item.reported") {
      entry.clear_actor();
    }
    auto* changes = entry.mutable_changes();
    changes->erase(std::remove_if(changes->begin(), changes->end(),
                                  [&](const common::v1::FieldChange& f) {
                                    return hidden.count(f.field()) > 0;
                                  }),
                   changes->end());
  }
  return absl::OkStatus();
}

// --- Endorsements ----------------------------------------------------------

namespace {

std::string EndorsementId(const std::string& feedback_id,
                          const std::string& org) {
  return feedback_id + ":" + org;
}

}  // namespace

absl::Status FeedbackService::EndorseFeedback(
    const CallContext& c, const pb::EndorseFeedbackRequest& req,
    pb::EndorseFeedbackResponse* resp) {
  EntityOps ops(store_, clock_, c);
  const std::string org = c.principal.organization_id();
  const std::string id = EndorsementId(req.feedback_id(), org);
  const std::string item_key = store_->EntityKey(kFeedback, req.feedback_id());
  auto already = [] {
    return WithReason(absl::AlreadyExistsError(
                          "your organisation already endorses this item"),
                      "ALREADY_ENDORSED");
  };
  // The item's checks hold at the commit: it is guarded by the version
  // they were made on, and made again if the item changed meanwhile (a
  // decline, a hide, a change of visibility).
  for (int attempt = 1;; ++attempt) {
    auto item = ops.Load<pb::FeedbackItem>(kFeedback, req.feedback_id());
    if (!item.ok()) return item.status();
    if (!CanSee(c.principal, item->value)) return NotFound(req.feedback_id());
    if (auto s = CheckCanEndorse(c.principal, item->value); !s.ok()) return s;
    auto existing = ops.Load<pb::Endorsement>(kEndorsement, id);
    if (!existing.ok() && !absl::IsNotFound(existing.status())) {
      return existing.status();
    }
    int64_t version = existing.ok() ? existing->version : 0;
    if (existing.ok() && existing->value.active()) return already();
    pb::Endorsement e;
    e.set_feedback_id(req.feedback_id());
    e.set_organization_id(org);
    *e.mutable_actor() = c.principal;
    e.set_active(true);
    *e.mutable_time() = ops.Now();
    e.set_roadmap_id(item->value.roadmap_id());
    Mutation m;
    const std::string key = store_->EntityKey(kEndorsement, id);
    // The version guard makes two concurrent endorsements of one
    // organisation count once; the set keeps the count exact across
    // organisations.
    m.ExpectVersion(key, version, "endorsement");
    m.ExpectVersion(item_key, item->version, "feedback item");
    m.Put(key, version + 1, e.SerializeAsString());
    m.IndexAdd(Keys::Endorsers(req.feedback_id()), org);
    m.AddEvent(ops.Event("feedback.endorsement.added", kEndorsement, id,
                         version + 1, {"active"}, e, e.roadmap_id()));
    auto r = store_->Commit(m);
    if (!r.ok() && StaleSubject(r.status()) == "feedback item") {
      if (attempt < kItemRetries) continue;
      return r.status();  // ABORTED: the item keeps changing
    }
    if (absl::IsAborted(r.status()) || absl::IsAlreadyExists(r.status())) {
      return already();
    }
    if (!r.ok()) return r.status();
    break;
  }
  // Committed: a failed count read answers without the count, not with an
  // error whose retry would say ALREADY_ENDORSED.
  auto count = store_->Count(Keys::Endorsers(req.feedback_id()));
  if (count.ok()) resp->set_endorsement_count(*count);
  return absl::OkStatus();
}

absl::Status FeedbackService::WithdrawEndorsement(
    const CallContext& c, const pb::WithdrawEndorsementRequest& req,
    pb::WithdrawEndorsementResponse* resp) {
  EntityOps ops(store_, clock_, c);
  const std::string org = c.principal.organization_id();
  const std::string id = EndorsementId(req.feedback_id(), org);
  auto existing = ops.Load<pb::Endorsement>(kEndorsement, id);
  if (absl::IsNotFound(existing.status()) ||
      (existing.ok() && !existing->value.active())) {
    return WithReason(
        absl::NotFoundError("your organisation does not endorse this item"),
        "NOT_ENDORSED");
  }
  if (!existing.ok()) return existing.status();
  pb::Endorsement e = existing->value;
  e.set_active(false);
  *e.mutable_actor() = c.principal;
  *e.mutable_time() = ops.Now();
  Mutation m;
  const std::string key = store_->EntityKey(kEndorsement, id);
  m.ExpectVersion(key, existing->version, "endorsement");
  m.Put(key, existing->version + 1, e.SerializeAsString());
  m.IndexRemove(Keys::Endorsers(req.feedback_id()), org);
  m.AddEvent(ops.Event("feedback.endorsement.withdrawn", kEndorsement, id,
                       existing->version + 1, {"active"}, e, e.roadmap_id()));
  auto r = store_->Commit(m);
  if (absl::IsAborted(r.status())) {
    return WithReason(
        absl::NotFoundError("your organisation does not endorse this item"),
        "NOT_ENDORSED");
  }
  if (!r.ok()) return r.status();
  // The count only to whom may see the item: it may have become co-pilots
  // only, or been hidden, since the endorsement (which is withdrawn all the
  // same: it is the organisation's own). The withdrawal is committed: a
  // failed read now answers without the count, not with an error.
  auto item = ops.Load<pb::FeedbackItem>(kFeedback, req.feedback_id());
  if (!item.ok() || !CanSee(c.principal, item->value)) {
    return absl::OkStatus();
  }
  auto count = store_->Count(Keys::Endorsers(req.feedback_id()));
  if (count.ok()) resp->set_endorsement_count(*count);
  return absl::OkStatus();
}

// --- Moderation ------------------------------------------------------------

absl::Status FeedbackService::ReportFeedback(
    const CallContext& c, const pb::ReportFeedbackRequest& req,
    pb::ReportFeedbackResponse* resp) {
  EntityOps ops(store_, clock_, c);
  auto item = ops.Update<pb::FeedbackItem>(
      kFeedback, "feedback.item.reported", req.feedback_id(), "",
      [&](const Versioned<pb::FeedbackItem>& cur, pb::FeedbackItem* next,
          Mutation*) -> absl::Status {
        if (!CanSee(c.principal, cur.value)) return NotFound(req.feedback_id());
        bool already = false;
        for (const auto& r : cur.value.reports()) {
          already |= r.organization_id() == c.principal.organization_id();
        }
        if (auto s =
                CheckCanReport(c.principal, cur.value, already, req.reason());
            !s.ok()) {
          return s;
        }
        AddReport(next, c.principal, req.reason(), ops.Now(),
                  options_.report_threshold);
        return absl::OkStatus();
      },
      true, RoadmapOf);
  if (!item.ok()) return item.status();
  resp->set_hidden(item->hidden());
  return absl::OkStatus();
}

absl::Status FeedbackService::ModerateFeedback(
    const CallContext& c, const pb::ModerateFeedbackRequest& req,
    pb::ModerateFeedbackResponse* resp) {
  if (auto p = TextProblem(req.reason(), 1, 1000); !p.empty()) {
    return InvalidField("reason", p);
  }
  EntityOps ops(store_, clock_, c);
  auto item = ops.Update<pb::FeedbackItem>(
      kFeedback, req.hide() ? "feedback.item.hidden" : "feedback.item.restored",
      req.id(), req.etag(),
      [&](const Versioned<pb::FeedbackItem>&, pb::FeedbackItem* next,
          Mutation*) -> absl::Status {
        next->set_hidden(req.hide());
        next->set_moderation_reason(req.reason());
        if (!req.hide()) next->clear_reports();  // a fresh start after review
        return absl::OkStatus();
      },
      true, RoadmapOf);
  if (!item.ok()) return item.status();
  *resp->mutable_item() = *std::move(item);
  return absl::OkStatus();
}

// --- Partnership matchmaking -----------------------------------------------

absl::Status FeedbackService::ExpressInterest(
    const CallContext& c, const pb::ExpressInterestRequest& req,
    pb::ExpressInterestResponse* resp) {
  EntityOps ops(store_, clock_, c);
  // As for an endorsement: the offer's checks hold at the commit.
  for (int attempt = 1;; ++attempt) {
    auto offer = ops.Load<pb::FeedbackItem>(kFeedback, req.feedback_id());
    if (!offer.ok()) return offer.status();
    if (!CanSee(c.principal, offer->value)) return NotFound(req.feedback_id());
    if (auto s = CheckCanExpressInterest(c.principal, offer->value,
                                         req.message(), req.contact());
        !s.ok()) {
      // A retry of an interest that went through before the offer was
      // declined (its answer lost) gets its interest, not a refusal.
      if (absl::IsFailedPrecondition(s)) {
        auto earlier = ops.Created<pb::Interest>(kInterest, req.request_id());
        if (!earlier.ok()) return earlier.status();
        if (*earlier && (*earlier)->feedback_id() == req.feedback_id()) {
          RedactInterest(c.principal, offer->value, &**earlier);
          *resp->mutable_interest() = std::move(**earlier);
          return absl::OkStatus();
        }
      }
      return s;
    }
    pb::Interest interest;
    interest.set_feedback_id(req.feedback_id());
    interest.set_organization_id(c.principal.organization_id());
    *interest.mutable_expressed_by() = c.principal;
    interest.set_message(req.message());
    interest.set_contact(req.contact());
    interest.set_state(pb::INTEREST_STATE_PENDING);
    auto created = ops.Create<pb::Interest>(
        kInterest, "feedback.interest.expressed", req.request_id(), interest,
        offer->value.roadmap_id(), [&](Mutation& m, const pb::Interest& x) {
          const std::string guard =
              Keys::InterestGuard(x.feedback_id(), x.organization_id());
          m.ExpectAbsent(guard,
                         "an interest of your organisation in this offer");
          m.HashSet(guard, "v", "1");
          m.ExpectVersion(store_->EntityKey(kFeedback, x.feedback_id()),
                          offer->version, "feedback item");
          m.IndexAdd(store_->ChildrenKey(kFeedback, x.feedback_id(), kInterest),
                     x.id());
        });
    if (!created.ok() && StaleSubject(created.status()) == "feedback item" &&
        attempt < kItemRetries) {
      continue;
    }
    if (!created.ok()) return created.status();
    // A retry returns the first interest: it must be one in this offer, or
    // it would be redacted against the wrong one (and show that one's
    // contact).
    if (created->feedback_id() != req.feedback_id()) {
      return InvalidField("request_id",
                          "was used for an interest in another offer");
    }
    RedactInterest(c.principal, offer->value, &*created);
    *resp->mutable_interest() = *std::move(created);
    return absl::OkStatus();
  }
}

absl::Status FeedbackService::ListInterests(const CallContext& c,
                                            const pb::ListInterestsRequest& req,
                                            pb::ListInterestsResponse* resp) {
  EntityOps ops(store_, clock_, c);
  auto offer = ops.Load<pb::FeedbackItem>(kFeedback, req.feedback_id());
  if (!offer.ok()) return offer.status();
  if (!CanSee(c.principal, offer->value)) return NotFound(req.feedback_id());
  return ops.List<pb::Interest>(
      kInterest, store_->ChildrenKey(kFeedback, req.feedback_id(), kInterest),
      req.page_size(), req.page_token(),
      [&](pb::Interest& x) {
        if (!CanSeeInterest(c.principal, offer->value, x)) return false;
        RedactInterest(c.principal, offer->value, &x);
        return true;
      },
      resp->mutable_interests(), resp->mutable_next_page_token());
}

absl::Status FeedbackService::DecideInterest(
    const CallContext& c, const pb::DecideInterestRequest& req,
    pb::DecideInterestResponse* resp) {
  EntityOps ops(store_, clock_, c);
  auto current = ops.Load<pb::Interest>(kInterest, req.id());
  if (!current.ok()) return current.status();
  auto offer =
      ops.Load<pb::FeedbackItem>(kFeedback, current->value.feedback_id());
  if (!offer.ok()) return offer.status();
  if (!CanSee(c.principal, offer->value) ||
      !CanSeeInterest(c.principal, offer->value, current->value)) {
    return WithReason(
        absl::NotFoundError(absl::StrCat("interest ", req.id(), " not found")),
        "NOT_FOUND");
  }
  auto interest = ops.Update<pb::Interest>(
      kInterest,
      req.accept() ? "feedback.interest.accepted"
                   : "feedback.interest.declined",
      req.id(), req.etag(),
      [&](const Versioned<pb::Interest>& cur, pb::Interest* next,
          Mutation*) -> absl::Status {
        if (auto s = CheckCanDecide(c.principal, offer->value, cur.value);
            !s.ok()) {
          return s;
        }
        next->set_state(req.accept() ? pb::INTEREST_STATE_ACCEPTED
                                     : pb::INTEREST_STATE_DECLINED);
        return absl::OkStatus();
      },
      false, [&](const pb::Interest&) { return offer->value.roadmap_id(); });
  if (!interest.ok()) return interest.status();
  RedactInterest(c.principal, offer->value, &*interest);
  *resp->mutable_interest() = *std::move(interest);
  return absl::OkStatus();
}

// --- Closing the loop --------------------------------------------------------

absl::Status FeedbackService::ApplyRoadmapEvent(const StreamEntry& entry) {
  events::v1::Event event;
  if (!event.ParseFromString(entry.payload)) {
    return absl::InvalidArgumentError("undecodable event");  // dead-lettered
  }
  if (event.aggregate_kind() != "action") return absl::OkStatus();
  rpb::Action action;
  if (!event.state().UnpackTo(&action)) {
    return absl::InvalidArgumentError("action event without an action state");
  }
  pb::ActionState st;
  st.set_action_id(action.id());
  st.set_version(event.aggregate_version());
  st.set_status(action.status());
  st.set_status_reason(action.status_reason());
  st.set_roadmap_id(action.roadmap_id());
  auto stored = store_->PutIfNewer(store_->EntityKey(kActionState, action.id()),
                                   st.version(), st.SerializeAsString());
  if (!stored.ok()) return stored.status();
  // Re-evaluate even when this event was not newer: a crash between the
  // state write and the item update must be repaired by the redelivery.
  std::string after;
  for (;;) {
    auto page = store_->ListIds(Keys::ActionItems(action.id()), after, 500);
    if (!page.ok()) return page.status();
    for (const auto& id : page->ids) {
      if (auto s = Reevaluate(id); !s.ok()) return s;
      after = id;
    }
    if (!page->more) return absl::OkStatus();
  }
}

absl::Status FeedbackService::Reevaluate(const std::string& feedback_id) {
  CallContext call;
  call.rpc = "CloseLoop";
  call.request_id = NewUlid();
  call.principal = LoopActor();
  EntityOps ops(store_, clock_, call);
  auto outcome_of =
      [&](const pb::FeedbackItem& item) -> absl::StatusOr<LoopOutcome> {
    std::vector<std::string> linked(item.linked_action_ids().begin(),
                                    item.linked_action_ids().end());
    auto states = store_->GetMany(kActionState, linked);
    if (!states.ok()) return states.status();
    std::map<std::string, ActionStatus> statuses;
    std::map<std::string, std::string> reasons;
    for (const auto& stored : *states) {
      pb::ActionState st;
      if (stored.version == 0 || !st.ParseFromString(stored.data)) continue;
      statuses[st.action_id()] = st.status();
      reasons[st.action_id()] = st.status_reason();
    }
    return CloseLoop(item, statuses, reasons);
  };
  // The event type is decided before the update; if the item's outcome
  // is another by the time of the compare-and-write (an action changed in
  // between), the update writes nothing and the loop looks again, so that
  // the event and history always name the status they record.
  for (int attempt = 1; attempt <= kItemRetries; ++attempt) {
    auto first = ops.Load<pb::FeedbackItem>(kFeedback, feedback_id);
    if (absl::IsNotFound(first.status())) return absl::OkStatus();
    if (!first.ok()) return first.status();
    auto peek = outcome_of(first->value);
    if (!peek.ok()) return peek.status();
    if (!peek->changed) return absl::OkStatus();
    if (auto hook = ReevaluateHook()) hook(feedback_id);
    const std::string_view type = LoopEventType(peek->status);
    bool moved = false;
    auto updated = ops.Update<pb::FeedbackItem>(
        kFeedback, type, feedback_id, "",
        [&](const Versioned<pb::FeedbackItem>& cur, pb::FeedbackItem* next,
            Mutation* m) -> absl::Status {
          auto outcome = outcome_of(cur.value);
          if (!outcome.ok()) return outcome.status();
          if (!outcome->changed) return absl::OkStatus();
          if (LoopEventType(outcome->status) != type) {
            moved = true;  // nothing written: look again
            return absl::OkStatus();
          }
          next->set_status(outcome->status);
          next->set_status_reason(outcome->reason);
          // Dropped links leave the action's index too, so a filter by that
          // action no longer finds the item.
          for (const auto& id : cur.value.linked_action_ids()) {
            if (std::find(outcome->linked_after.begin(),
                          outcome->linked_after.end(),
                          id) == outcome->linked_after.end()) {
              m->IndexRemove(Keys::ActionItems(id), cur.value.id());
            }
          }
          next->clear_linked_action_ids();
          for (const auto& id : outcome->linked_after)
            next->add_linked_action_ids(id);
          return absl::OkStatus();
        },
        true, RoadmapOf);
    if (!updated.ok()) return updated.status();
    if (moved) continue;
    spdlog::info("msg=feedback_loop feedback={} status={} reason={}",
                 feedback_id, pb::FeedbackStatus_Name(updated->status()),
                 LogValue(updated->status_reason()));
    return absl::OkStatus();
  }
  // Unacknowledged: the event is delivered again.
  return absl::AbortedError(absl::StrCat("feedback item ", feedback_id,
                                         " kept changing while its loop was "
                                         "re-evaluated"));
}

}  // namespace jalon::feedback
