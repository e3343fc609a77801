// The feedback service in-process over real gRPC, beside a real roadmap
// service on a real redis-server: the loop that closes by itself, exact
// endorsement counts under concurrency, idempotent consumption of the
// roadmap's events, and links refused while the roadmap is unreachable.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/common/dates.h"
#include "services/common/status.h"
#include "services/feedback/store.h"
#include "tests/support/feedback_harness.h"
#include "tests/support/random_requests.h"
#include "tests/support/wait.h"

namespace jalon::feedback {
namespace {

using common::v1::Role;
using testing::Ctx;
using testing::D;
using testing::FeedbackHarness;
using testing::Fixture;
using testing::WaitFor;
namespace rpb = ::jalon::roadmap::v1;
namespace fpb = ::jalon::feedback::v1;

google::protobuf::Timestamp In(std::chrono::seconds d) {
  return ToTimestamp(std::chrono::system_clock::now() + d);
}

class FeedbackServiceTest : public ::testing::Test {
 protected:
  void StartHarness(bool consumer = true) {
    ASSERT_TRUE(h_.Start(consumer).ok());
    f_ = h_.roadmap().MakeFixture();
    stub_ = h_.Stub();
    roadmap_ = h_.roadmap().Stub();
    // Two more member companies, to endorse.
    for (const char* name : {"Maroc Vélo", "Cuivre du Sud"}) {
      rpb::CreateOrganizationRequest req;
      req.mutable_organization()->set_name(name);
      req.mutable_organization()->set_kind(
          rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
      rpb::CreateOrganizationResponse resp;
      ASSERT_TRUE(roadmap_
                      ->CreateOrganization(
                          Ctx(h_.roadmap().admin_token()).get(), req, &resp)
                      .ok());
      members_.push_back(h_.roadmap().IssueToken(resp.organization().id(),
                                                 Role::ROLE_MEMBER, name));
    }
  }

  std::string OpenConsultation() {
    fpb::CreateConsultationRequest req;
    auto* c = req.mutable_consultation();
    c->set_roadmap_id(f_.roadmap);
    c->set_title("Rencontre FIMME, Casablanca, 11 juillet");
    c->set_place("Casablanca");
    *c->mutable_date() = D(2024, 7, 11);
    *c->mutable_open_time() = In(std::chrono::seconds(-3600));
    *c->mutable_close_time() = In(std::chrono::seconds(3600));
    fpb::CreateConsultationResponse resp;
    grpc::Status s =
        stub_->CreateConsultation(Ctx(f_.federation_copilot).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.consultation().status(), fpb::CONSULTATION_STATUS_OPEN);
    return resp.consultation().id();
  }

  fpb::FeedbackItem Submit(const std::string& token, fpb::FeedbackKind kind,
                           const std::string& consultation = "") {
    fpb::SubmitFeedbackRequest req;
    auto* i = req.mutable_item();
    i->set_roadmap_id(f_.roadmap);
    i->set_kind(kind);
    i->set_title("Coût de l'entrepôt sous douane");
    i->set_body("Les délais de dédouanement du cuivre bloquent la production.");
    i->set_consultation_id(consultation);
    if (kind == fpb::FEEDBACK_KIND_BLOCKER) i->set_severity(fpb::SEVERITY_HIGH);
    fpb::SubmitFeedbackResponse resp;
    grpc::Status s = stub_->SubmitFeedback(Ctx(token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.item();
  }

  std::string NewAction(const std::string& title) {
    rpb::CreateActionRequest req;
    auto* a = req.mutable_action();
    a->set_roadmap_id(f_.roadmap);
    a->set_title(title);
    a->set_lead_organization_id(f_.federation);
    a->set_partner_organization_id(f_.ministry);
    *a->mutable_due_date() = D(2099, 1, 1);
    rpb::CreateActionResponse resp;
    EXPECT_TRUE(
        roadmap_->CreateAction(Ctx(f_.federation_copilot).get(), req, &resp)
            .ok());
    return resp.action().id();
  }

  void Move(const std::string& id, rpb::ActionStatus target,
            const std::string& token, const std::string& reason = "") {
    rpb::TransitionActionRequest req;
    req.set_id(id);
    req.set_target_status(target);
    req.set_reason(reason);
    rpb::TransitionActionResponse resp;
    grpc::Status s = roadmap_->TransitionAction(Ctx(token).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void Complete(const std::string& id) {
    Move(id, rpb::ACTION_STATUS_PLANNED, f_.federation_copilot);
    Move(id, rpb::ACTION_STATUS_IN_PROGRESS, f_.federation_copilot);
    Move(id, rpb::ACTION_STATUS_COMPLETION_REQUESTED, f_.federation_copilot);
    Move(id, rpb::ACTION_STATUS_DONE, f_.ministry_copilot);  // counterpart
  }

  fpb::FeedbackItem Get(const std::string& id, const std::string& token) {
    fpb::GetFeedbackRequest req;
    req.set_id(id);
    fpb::GetFeedbackResponse resp;
    EXPECT_TRUE(stub_->GetFeedback(Ctx(token).get(), req, &resp).ok());
    return resp.item();
  }

  // Whether item `id` reaches `status` within 10 s (the loop is run by
  // the event consumer, in the background).
  bool Reaches(const std::string& id, fpb::FeedbackStatus status) {
    return WaitFor([&] { return Get(id, f_.member_token).status() == status; },
                   std::chrono::seconds(10));
  }

  // The event types of item `id`'s history, oldest first.
  std::vector<std::string> HistoryTypes(const std::string& id) {
    fpb::ListFeedbackHistoryRequest req;
    req.set_feedback_id(id);
    fpb::ListFeedbackHistoryResponse history;
    grpc::Status s =
        stub_->ListFeedbackHistory(Ctx(f_.member_token).get(), req, &history);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> types;
    for (const auto& e : history.entries()) types.push_back(e.event_type());
    return types;
  }

  // A co-pilot acknowledges the item; returns it afterwards.
  fpb::FeedbackItem Acknowledge(const std::string& id) {
    fpb::AcknowledgeFeedbackRequest req;
    req.set_id(id);
    fpb::AcknowledgeFeedbackResponse resp;
    grpc::Status s =
        stub_->AcknowledgeFeedback(Ctx(f_.ministry_copilot).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.item();
  }

  grpc::Status Link(const std::string& id, const std::vector<std::string>& ids,
                    const std::string& etag = "") {
    fpb::LinkFeedbackRequest req;
    req.set_id(id);
    req.set_etag(etag);
    for (const auto& a : ids) req.add_action_ids(a);
    fpb::LinkFeedbackResponse resp;
    return stub_->LinkFeedback(Ctx(f_.ministry_copilot).get(), req, &resp);
  }

  FeedbackHarness h_;
  Fixture f_;
  std::vector<std::string> members_;
  std::unique_ptr<fpb::FeedbackService::Stub> stub_;
  std::unique_ptr<rpb::RoadmapService::Stub> roadmap_;
};

TEST_F(FeedbackServiceTest, TheLoopClosesByItselfWhenLinkedActionsAreDone) {
  StartHarness();
  std::string consultation = OpenConsultation();
  fpb::FeedbackItem item =
      Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER, consultation);
  EXPECT_EQ(item.status(), fpb::FEEDBACK_STATUS_SUBMITTED);
  EXPECT_EQ(item.author_organization_id(), f_.member);
  for (const auto& m : members_) {
    fpb::EndorseFeedbackRequest req;
    req.set_feedback_id(item.id());
    fpb::EndorseFeedbackResponse resp;
    ASSERT_TRUE(stub_->EndorseFeedback(Ctx(m).get(), req, &resp).ok());
  }
  EXPECT_EQ(Get(item.id(), f_.member_token).endorsement_count(), 2);

  const fpb::FeedbackItem acked = Acknowledge(item.id());
  std::string a1 = NewAction("Guichet douanier dédié aux IMME");
  std::string a2 = NewAction("Entrepôt sous douane mutualisé");
  ASSERT_TRUE(Link(item.id(), {a1, a2}).ok());
  EXPECT_EQ(Get(item.id(), f_.member_token).status(),
            fpb::FEEDBACK_STATUS_LINKED);

  Complete(a1);
  // One of two done: still linked.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Get(item.id(), f_.member_token).status(),
            fpb::FEEDBACK_STATUS_LINKED);
  Complete(a2);
  ASSERT_TRUE(Reaches(item.id(), fpb::FEEDBACK_STATUS_ADDRESSED));
  fpb::FeedbackItem addressed = Get(item.id(), f_.member_token);
  EXPECT_NE(addressed.status_reason().find(a1), std::string::npos);
  EXPECT_NE(addressed.status_reason().find(a2), std::string::npos);

  // The history says it was automatic.
  fpb::ListFeedbackHistoryRequest hreq;
  hreq.set_feedback_id(item.id());
  fpb::ListFeedbackHistoryResponse history;
  ASSERT_TRUE(
      stub_->ListFeedbackHistory(Ctx(f_.member_token).get(), hreq, &history)
          .ok());
  ASSERT_GE(history.entries_size(), 4);
  const auto& last = history.entries(history.entries_size() - 1);
  EXPECT_EQ(last.event_type(), "feedback.item.addressed");
  EXPECT_EQ(last.actor().principal_id(), "system:feedback-loop");
}

TEST_F(FeedbackServiceTest, ACancelledActionSendsTheItemBack) {
  StartHarness();
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_PROPOSAL);
  const fpb::FeedbackItem acked = Acknowledge(item.id());
  std::string a = NewAction("Étude abandonnée");
  ASSERT_TRUE(Link(item.id(), {a}).ok());
  Move(a, rpb::ACTION_STATUS_CANCELLED, f_.federation_copilot,
       "budget réaffecté");
  ASSERT_TRUE(Reaches(item.id(), fpb::FEEDBACK_STATUS_ACKNOWLEDGED));
  fpb::FeedbackItem back = Get(item.id(), f_.member_token);
  EXPECT_NE(back.status_reason().find("budget réaffecté"), std::string::npos);
  EXPECT_EQ(back.linked_action_ids_size(), 0);
  // ...and a filter by that action no longer finds it.
  fpb::ListFeedbackRequest by_action;
  by_action.set_linked_action_id(a);
  fpb::ListFeedbackResponse listed;
  ASSERT_TRUE(
      stub_->ListFeedback(Ctx(f_.ministry_copilot).get(), by_action, &listed)
          .ok());
  EXPECT_EQ(listed.items_size(), 0);
}

// A cancelled action leaves the item, which closes on its other links. It
// used to go back to ACKNOWLEDGED keeping them, where their completion no
// longer closed it.
TEST_F(FeedbackServiceTest, ACancelledActionLeavesTheItemWaitingForTheOthers) {
  StartHarness();
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  Acknowledge(item.id());
  std::string kept = NewAction("Guichet unique à l'export");
  std::string dropped = NewAction("Étude abandonnée");
  ASSERT_TRUE(Link(item.id(), {kept, dropped}).ok());
  Move(dropped, rpb::ACTION_STATUS_CANCELLED, f_.federation_copilot, "doublon");
  ASSERT_TRUE(WaitFor(
      [&] {
        return Get(item.id(), f_.member_token).linked_action_ids_size() == 1;
      },
      std::chrono::seconds(10)));
  fpb::FeedbackItem waiting = Get(item.id(), f_.member_token);
  EXPECT_EQ(waiting.status(), fpb::FEEDBACK_STATUS_LINKED);
  EXPECT_EQ(waiting.linked_action_ids(0), kept);
  EXPECT_NE(waiting.status_reason().find("doublon"), std::string::npos)
      << waiting.status_reason();
  const std::vector<std::string> types = HistoryTypes(item.id());
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types.back(), "feedback.item.unlinked");

  Complete(kept);
  EXPECT_TRUE(Reaches(item.id(), fpb::FEEDBACK_STATUS_ADDRESSED));
}

// The loop names its event from a first look at the item, then updates it.
// An action that changed in between used to leave an event (and history
// entry) of the first look's kind for the status of the second: here
// "feedback.item.unlinked" for an item that became ADDRESSED.
TEST_F(FeedbackServiceTest, TheLoopsEventNamesTheStatusItCommits) {
  StartHarness();
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  Acknowledge(item.id());
  std::string kept = NewAction("Guichet unique à l'export");
  std::string dropped = NewAction("Étude abandonnée");
  ASSERT_TRUE(Link(item.id(), {kept, dropped}).ok());
  // Between the look (`dropped` cancelled, `kept` under way: the item
  // loses a link) and the update, `kept` becomes DONE.
  std::atomic<bool> raced{false};
  h_.service().SetReevaluateHookForTest([&](const std::string& id) {
    if (id != item.id() || raced.exchange(true)) return;
    fpb::ActionState done;
    done.set_action_id(kept);
    done.set_version(1000000);
    done.set_status(rpb::ACTION_STATUS_DONE);
    done.set_roadmap_id(f_.roadmap);
    auto& store = h_.store();
    ASSERT_TRUE(store
                    .PutIfNewer(store.EntityKey(feedback::kActionState, kept),
                                done.version(), done.SerializeAsString())
                    .ok());
  });
  Move(dropped, rpb::ACTION_STATUS_CANCELLED, f_.federation_copilot, "doublon");
  ASSERT_TRUE(Reaches(item.id(), fpb::FEEDBACK_STATUS_ADDRESSED));
  h_.service().SetReevaluateHookForTest(nullptr);
  EXPECT_TRUE(raced.load());

  const std::vector<std::string> types = HistoryTypes(item.id());
  ASSERT_GE(types.size(), 2u);
  EXPECT_EQ(types.back(), "feedback.item.addressed");
  // One automatic change, not an "unlinked" one and then another.
  EXPECT_EQ(types[types.size() - 2], "feedback.item.linked");
}

// Every linked action cancelled: back to the co-pilots with no link left,
// and a new link starts the loop afresh.
TEST_F(FeedbackServiceTest, EveryActionCancelledThenANewLinkClosesTheLoop) {
  StartHarness();
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  Acknowledge(item.id());
  std::string first = NewAction("Étude abandonnée");
  std::string second = NewAction("Étude fusionnée");
  ASSERT_TRUE(Link(item.id(), {first, second}).ok());
  Move(first, rpb::ACTION_STATUS_CANCELLED, f_.federation_copilot, "doublon");
  Move(second, rpb::ACTION_STATUS_CANCELLED, f_.federation_copilot, "fusion");
  ASSERT_TRUE(Reaches(item.id(), fpb::FEEDBACK_STATUS_ACKNOWLEDGED));
  EXPECT_EQ(Get(item.id(), f_.member_token).linked_action_ids_size(), 0);

  std::string replacement = NewAction("Guichet unique à l'export");
  ASSERT_TRUE(Link(item.id(), {replacement}).ok());
  fpb::FeedbackItem relinked = Get(item.id(), f_.member_token);
  EXPECT_EQ(relinked.status(), fpb::FEEDBACK_STATUS_LINKED);
  ASSERT_EQ(relinked.linked_action_ids_size(), 1);
  Complete(replacement);
  EXPECT_TRUE(Reaches(item.id(), fpb::FEEDBACK_STATUS_ADDRESSED));
}

// Every event of a linked action re-reads all of an item's links: they are
// bounded per item, not only per call.
TEST_F(FeedbackServiceTest, AnItemIsLinkedToAtMostTwentyActions) {
  StartHarness();
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  Acknowledge(item.id());
  std::vector<std::string> twenty;
  for (int i = 0; i < 20; ++i) {
    twenty.push_back(NewAction("Action " + std::to_string(i)));
  }
  ASSERT_TRUE(Link(item.id(), {twenty.begin(), twenty.begin() + 12}).ok());
  ASSERT_TRUE(Link(item.id(), {twenty.begin() + 8, twenty.end()}).ok());
  const fpb::FeedbackItem full = Get(item.id(), f_.ministry_copilot);
  ASSERT_EQ(full.linked_action_ids_size(), 20);

  grpc::Status refused = Link(item.id(), {NewAction("Une de trop")});
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("action_ids"), std::string::npos)
      << refused.error_message();
  EXPECT_NE(refused.error_message().find("at most 20"), std::string::npos)
      << refused.error_message();
  EXPECT_EQ(Get(item.id(), f_.ministry_copilot).etag(), full.etag());
  // Linking again what is linked already adds nothing, and is fine.
  EXPECT_TRUE(Link(item.id(), {twenty[3]}).ok());
}

// A CANCELLED action can no longer address anything. Linking one (a stale
// id, a slip) used to succeed, link nothing, and send a LINKED item back to
// ACKNOWLEDGED, where its other links no longer closed the loop.
TEST_F(FeedbackServiceTest, LinkingACancelledActionIsRefusedAndChangesNothing) {
  StartHarness();
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  Acknowledge(item.id());
  std::string live = NewAction("Guichet unique à l'export");
  std::string dropped = NewAction("Étude abandonnée");
  Move(dropped, rpb::ACTION_STATUS_CANCELLED, f_.federation_copilot, "doublon");
  ASSERT_TRUE(Link(item.id(), {live}).ok());
  const fpb::FeedbackItem linked = Get(item.id(), f_.ministry_copilot);
  ASSERT_EQ(linked.status(), fpb::FEEDBACK_STATUS_LINKED);

  grpc::Status refused = Link(item.id(), {live, dropped});
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("action_ids[1]"), std::string::npos)
      << refused.error_message();
  const fpb::FeedbackItem after = Get(item.id(), f_.ministry_copilot);
  EXPECT_EQ(after.etag(), linked.etag());
  EXPECT_EQ(after.status(), fpb::FEEDBACK_STATUS_LINKED);
  ASSERT_EQ(after.linked_action_ids_size(), 1);

  // The loop still closes on the live one.
  Complete(live);
  EXPECT_TRUE(Reaches(item.id(), fpb::FEEDBACK_STATUS_ADDRESSED));
}

// LinkFeedback stores what the roadmap service said of the actions only
// with its commit: a link refused for its etag used to store the states
// first, so a failed call changed the data.
TEST_F(FeedbackServiceTest, ALinkRefusedForItsEtagStoresNoActionState) {
  StartHarness(/*consumer=*/false);
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  const fpb::FeedbackItem acked = Acknowledge(item.id());
  const std::string action = NewAction("Guichet unique à l'export");
  const std::string key = h_.store().EntityKey(feedback::kActionState, action);
  auto exists = [&] {
    auto r = h_.roadmap().redis().Command({"EXISTS", key});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->integer() : -1;
  };
  grpc::Status s = Link(item.id(), {action}, "deux");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(exists(), 0);
  s = Link(item.id(), {action}, "99");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(exists(), 0);
  // Accepted: stored with the link, and the loop sees it.
  ASSERT_TRUE(Link(item.id(), {action}, acked.etag()).ok());
  EXPECT_EQ(exists(), 1);
  EXPECT_EQ(Get(item.id(), f_.ministry_copilot).status(),
            fpb::FEEDBACK_STATUS_LINKED);
}

TEST_F(FeedbackServiceTest, ConcurrentEndorsementsCountExactly) {
  StartHarness();
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  constexpr int kOrgs = 24;
  std::vector<std::string> tokens;
  for (int i = 0; i < kOrgs; ++i) {
    rpb::CreateOrganizationRequest req;
    req.mutable_organization()->set_name("Membre " + std::to_string(i));
    req.mutable_organization()->set_kind(rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
    rpb::CreateOrganizationResponse resp;
    ASSERT_TRUE(roadmap_
                    ->CreateOrganization(Ctx(h_.roadmap().admin_token()).get(),
                                         req, &resp)
                    .ok());
    tokens.push_back(
        h_.roadmap().IssueToken(resp.organization().id(), Role::ROLE_MEMBER));
  }
  // Every organisation endorses twice at once; only one of each counts.
  std::atomic<int> ok{0}, duplicate{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2 * kOrgs; ++i) {
    threads.emplace_back([&, i] {
      auto stub = h_.Stub();
      fpb::EndorseFeedbackRequest req;
      req.set_feedback_id(item.id());
      fpb::EndorseFeedbackResponse resp;
      grpc::Status s =
          stub->EndorseFeedback(Ctx(tokens[i % kOrgs]).get(), req, &resp);
      if (s.ok()) ++ok;
      if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) ++duplicate;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kOrgs);
  EXPECT_EQ(duplicate.load(), kOrgs);
  EXPECT_EQ(Get(item.id(), f_.member_token).endorsement_count(), kOrgs);

  // Withdrawals are exact too.
  for (int i = 0; i < 5; ++i) {
    fpb::WithdrawEndorsementRequest req;
    req.set_feedback_id(item.id());
    fpb::WithdrawEndorsementResponse resp;
    ASSERT_TRUE(
        stub_->WithdrawEndorsement(Ctx(tokens[i]).get(), req, &resp).ok());
  }
  EXPECT_EQ(Get(item.id(), f_.member_token).endorsement_count(), kOrgs - 5);
  // One's own item cannot be endorsed.
  fpb::EndorseFeedbackRequest own;
  own.set_feedback_id(item.id());
  fpb::EndorseFeedbackResponse resp;
  EXPECT_EQ(stub_->EndorseFeedback(Ctx(f_.member_token).get(), own, &resp)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(FeedbackServiceTest, ConsumingTheSameEventsAgainChangesNothing) {
  StartHarness(/*consumer=*/false);
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  const fpb::FeedbackItem acked = Acknowledge(item.id());
  std::string a1 = NewAction("A1");
  std::string a2 = NewAction("A2");
  ASSERT_TRUE(Link(item.id(), {a1, a2}).ok());
  Complete(a1);
  Complete(a2);
  // Nothing consumed yet: the item waits.
  EXPECT_EQ(Get(item.id(), f_.member_token).status(),
            fpb::FEEDBACK_STATUS_LINKED);

  std::vector<StreamEntry> entries;
  ASSERT_TRUE(StreamConsumer::Replay(&h_.roadmap().redis(),
                                     "jalon:roadmap:events",
                                     [&](const StreamEntry& e) {
                                       entries.push_back(e);
                                       return absl::OkStatus();
                                     })
                  .ok());
  // Out of order first: newest to oldest.
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    ASSERT_TRUE(h_.service().ApplyRoadmapEvent(*it).ok());
  }
  fpb::FeedbackItem after = Get(item.id(), f_.member_token);
  EXPECT_EQ(after.status(), fpb::FEEDBACK_STATUS_ADDRESSED);
  const std::string etag = after.etag();
  auto events = [&] {
    return h_.roadmap().redis().Command({"XLEN", Keys::Stream()})->integer();
  };
  const int64_t feedback_events = events();
  // Twice, in order, and replayed from the start: nothing more happens.
  for (int round = 0; round < 2; ++round) {
    for (const auto& e : entries)
      ASSERT_TRUE(h_.service().ApplyRoadmapEvent(e).ok());
  }
  ASSERT_TRUE(StreamConsumer::Replay(&h_.roadmap().redis(),
                                     "jalon:roadmap:events",
                                     [&](const StreamEntry& e) {
                                       return h_.service().ApplyRoadmapEvent(e);
                                     })
                  .ok());
  fpb::FeedbackItem again = Get(item.id(), f_.member_token);
  EXPECT_EQ(again.etag(), etag);
  EXPECT_EQ(again.status(), fpb::FEEDBACK_STATUS_ADDRESSED);
  EXPECT_EQ(events(), feedback_events);
}

TEST_F(FeedbackServiceTest,
       LinkingNeedsTheRoadmapServiceAndWritesNothingWithout) {
  StartHarness();
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  const fpb::FeedbackItem acked = Acknowledge(item.id());
  // Unknown action ids are named.
  grpc::Status unknown = Link(item.id(), {"01NOSUCHACTION000000000000"});
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(unknown.error_message().find("action_ids[0]"), std::string::npos);
  // A repeated id is asked once; the error names where the unknown one is.
  std::string a = NewAction("Action");
  grpc::Status after_repeat =
      Link(item.id(), {a, a, "01NOSUCHACTION000000000000"});
  EXPECT_EQ(after_repeat.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(after_repeat.error_message().find("action_ids[2]"),
            std::string::npos)
      << after_repeat.error_message();

  h_.roadmap().StopService();
  grpc::Status down = Link(item.id(), {a});
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  fpb::FeedbackItem unchanged = Get(item.id(), f_.member_token);
  EXPECT_EQ(unchanged.status(), fpb::FEEDBACK_STATUS_ACKNOWLEDGED);
  EXPECT_EQ(unchanged.etag(), acked.etag());
}

}  // namespace
}  // namespace jalon::feedback

namespace jalon::feedback {
namespace {

TEST_F(FeedbackServiceTest, HistoryHidesWhatTheItemHides) {
  StartHarness();
  fpb::SubmitFeedbackRequest req;
  auto* i = req.mutable_item();
  i->set_roadmap_id(f_.roadmap);
  i->set_kind(fpb::FEEDBACK_KIND_PARTNERSHIP_OFFER);
  i->set_title("Partenariat fonderie");
  i->set_body("Capacité de fonderie aluminium disponible.");
  i->set_contact("direction@atlas-cables.ma");
  fpb::SubmitFeedbackResponse resp;
  ASSERT_TRUE(
      stub_->SubmitFeedback(Ctx(f_.member_token).get(), req, &resp).ok());
  fpb::ListFeedbackHistoryRequest hreq;
  hreq.set_feedback_id(resp.item().id());
  auto contact_in_history = [&](const std::string& token) {
    fpb::ListFeedbackHistoryResponse history;
    EXPECT_TRUE(
        stub_->ListFeedbackHistory(Ctx(token).get(), hreq, &history).ok());
    for (const auto& e : history.entries()) {
      for (const auto& c : e.changes()) {
        if (c.new_value().find("atlas-cables") != std::string::npos)
          return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(contact_in_history(f_.member_token));  // the author's own
  EXPECT_FALSE(contact_in_history(members_[0]));     // another member
  EXPECT_FALSE(contact_in_history(f_.reader_token));
}

}  // namespace
}  // namespace jalon::feedback

namespace jalon::feedback {
namespace {

TEST_F(FeedbackServiceTest, AnItemOneCannotSeeIsNotFoundEvenWithAStaleEtag) {
  StartHarness();
  fpb::SubmitFeedbackRequest req;
  auto* i = req.mutable_item();
  i->set_roadmap_id(f_.roadmap);
  i->set_kind(fpb::FEEDBACK_KIND_PROPOSAL);
  i->set_title("Note confidentielle");
  i->set_body("Pour les co-pilotes seulement.");
  i->set_visibility(fpb::VISIBILITY_COPILOTS_ONLY);
  fpb::SubmitFeedbackResponse submitted;
  ASSERT_TRUE(
      stub_->SubmitFeedback(Ctx(f_.member_token).get(), req, &submitted).ok());
  fpb::UpdateFeedbackRequest update;
  update.mutable_item()->set_id(submitted.item().id());
  update.mutable_item()->set_etag("99");
  update.mutable_item()->set_title("Sondage");
  update.mutable_update_mask()->add_paths("title");
  fpb::UpdateFeedbackResponse resp;
  EXPECT_EQ(
      stub_->UpdateFeedback(Ctx(members_[0]).get(), update, &resp).error_code(),
      grpc::StatusCode::NOT_FOUND);
  // The author with the same stale etag is told it is stale.
  EXPECT_EQ(stub_->UpdateFeedback(Ctx(f_.member_token).get(), update, &resp)
                .error_code(),
            grpc::StatusCode::ABORTED);
  // Not an etag at all: refused on the field that holds it.
  update.mutable_item()->set_etag("quatre-vingt-dix-neuf");
  grpc::Status bad =
      stub_->UpdateFeedback(Ctx(f_.member_token).get(), update, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("item.etag"), std::string::npos)
      << bad.error_message();
}

}  // namespace
}  // namespace jalon::feedback

namespace jalon::feedback {
namespace {

// Every RPC, called with requests no one wrote by hand (see
// tests/support/random_requests.h): each answer is one a client can act on,
// names the field when the input is bad, and a failed call writes nothing.
TEST_F(FeedbackServiceTest,
       RandomRequestsGetClearAnswersAndFailuresWriteNothing) {
  StartHarness();
  const std::string consultation = OpenConsultation();
  const fpb::FeedbackItem blocker =
      Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER, consultation);
  fpb::SubmitFeedbackRequest offer_req;
  offer_req.mutable_item()->set_roadmap_id(f_.roadmap);
  offer_req.mutable_item()->set_kind(fpb::FEEDBACK_KIND_PARTNERSHIP_OFFER);
  offer_req.mutable_item()->set_title("Capacité de fonderie");
  offer_req.mutable_item()->set_body("Aluminium, 200 t par mois.");
  offer_req.mutable_item()->set_contact("achats@atlas.ma");
  fpb::SubmitFeedbackResponse offer;
  ASSERT_TRUE(
      stub_->SubmitFeedback(Ctx(f_.member_token).get(), offer_req, &offer)
          .ok());
  fpb::ExpressInterestRequest interest_req;
  interest_req.set_feedback_id(offer.item().id());
  interest_req.set_contact("contact@velo.ma");
  fpb::ExpressInterestResponse interest;
  ASSERT_TRUE(
      stub_->ExpressInterest(Ctx(members_[0]).get(), interest_req, &interest)
          .ok());
  const std::string action = NewAction("Plateforme foncière");
  // The consumer has applied the roadmap's events: nothing but the probe
  // writes from here on.
  ASSERT_TRUE(
      WaitFor([&] { return h_.ConsumerCaughtUp(); }, std::chrono::seconds(10)));

  testing::ProbeOptions o;
  o.service = fpb::FeedbackService::service_full_name();
  o.tokens = {h_.roadmap().admin_token(), f_.federation_copilot,
              f_.ministry_copilot, f_.member_token, members_[0]};
  o.known_strings = {f_.roadmap,
                     f_.ecosystem,
                     consultation,
                     blocker.id(),
                     offer.item().id(),
                     action,
                     interest.interest().id(),
                     "1",
                     "2"};
  o.calls = 600;
  o.seed = 20261127;
  o.vars = {{"$R", f_.roadmap},
            {"$E", f_.ecosystem},
            {"$C", consultation},
            {"$B", blocker.id()},
            {"$P", offer.item().id()},
            {"$N", interest.interest().id()},
            {"$A", action}};
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  o.valid_requests = {
      {"CreateConsultation",
       absl::StrCat("consultation { roadmap_id: '$R' title: 'Rencontre' "
                    "place: 'Casablanca' date { year: 2024 month: 7 day: 11 } "
                    "open_time { seconds: ",
                    now - 3600, " } close_time { seconds: ", now + 86400,
                    " } }")},
      {"UpdateConsultation",
       "consultation { id: '$C' place: 'Rabat' } update_mask { paths: "
       "'place' }"},
      {"SubmitFeedback",
       "item { roadmap_id: '$R' kind: FEEDBACK_KIND_BLOCKER severity: "
       "SEVERITY_HIGH title: 'Foncier' body: 'Pas de terrains.' "
       "consultation_id: '$C' ecosystem_id: '$E' }"},
      {"UpdateFeedback",
       "item { id: '$B' title: 'Foncier industriel' } update_mask { paths: "
       "'title' }"},
      {"AcknowledgeFeedback", "id: '$B'"},
      {"LinkFeedback", "id: '$B' action_ids: '$A'"},
      {"DeclineFeedback", "id: '$B' public_answer: 'Hors périmètre'"},
      {"EndorseFeedback", "feedback_id: '$B'"},
      {"WithdrawEndorsement", "feedback_id: '$B'"},
      {"ReportFeedback", "feedback_id: '$B' reason: 'propos injurieux'"},
      {"ModerateFeedback", "id: '$B' hide: true reason: 'données'"},
      {"ExpressInterest",
       "feedback_id: '$P' contact: 'a@velo.ma' message: 'Intéressés'"},
      {"DecideInterest", "id: '$N' accept: true"},
  };
  o.redis = &h_.roadmap().redis();
  EXPECT_GT(testing::ProbeRandomRequests(h_.channel(), o), 20);
}

// Request bytes that are not a message: gRPC itself would answer
// UNIMPLEMENTED with no message, as if the method did not exist.
TEST_F(FeedbackServiceTest, RequestBytesThatDoNotParseAreInvalidArgument) {
  StartHarness();
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          fpb::FeedbackService::service_full_name());
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(testing::ProbeUnparsableRequests(h_.channel(), service->full_name(),
                                             h_.roadmap().admin_token(),
                                             h_.roadmap().redis()),
            service->method_count());
}

}  // namespace
}  // namespace jalon::feedback
