// The roadmap service's entity cache, with two replicas (in-process, over
// real gRPC) on one real redis-server: repeated Gets are answered without
// Redis, a replica reads its own writes at once (and keeps them, so its
// next update needs no read) and another replica's within the time a
// PUBLISH takes, and a write never goes wrong because
// its replica's cache is behind (an update, an etag, a transition, a
// "nothing to change" are decided on Redis' state).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "services/common/clock.h"
#include "services/common/dates.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/roadmap/store.h"
#include "tests/support/roadmap_harness.h"
#include "tests/support/wait.h"

namespace jalon::roadmap {
namespace {

using std::chrono::milliseconds;
using testing::Ctx;
using testing::D;
using testing::Fixture;
using testing::HarnessOptions;
using testing::RoadmapHarness;
using testing::WaitFor;
namespace rpb = ::jalon::roadmap::v1;

class EntityCacheServiceTest : public ::testing::Test {
 protected:
  // `b_listens`: whether replica B hears invalidations (if not, its cache
  // is made live by hand and goes stale whenever A writes).
  // `clock`: replica A's.
  void StartReplicas(bool b_listens, const Clock* clock = Clock::Real()) {
    // Entries live long enough that only an invalidation can explain a
    // fresh read, and a slow machine cannot expire one mid-test.
    HarnessOptions ao;
    ao.entity_cache.ttl = std::chrono::seconds(60);
    // Principals too: only a revocation message can explain a refusal.
    ao.auth_cache_ttl = std::chrono::seconds(60);
    ao.clock = clock;
    a_ = std::make_unique<RoadmapHarness>(ao);
    ASSERT_TRUE(a_->Start().ok());
    f_ = a_->MakeFixture();
    ASSERT_FALSE(f_.roadmap.empty());
    HarnessOptions bo;
    bo.share_redis = true;
    bo.shared_redis = a_->redis_server().options();
    bo.entity_cache.ttl = std::chrono::seconds(60);
    bo.auth_cache_ttl = std::chrono::seconds(60);
    bo.entity_cache_listener = b_listens;
    b_ = std::make_unique<RoadmapHarness>(bo);
    ASSERT_TRUE(b_->Start().ok());
    if (b_listens) {
      ASSERT_TRUE(
          WaitFor([&] { return b_->cache().live(); }, milliseconds(5000)));
    } else {
      b_->cache().SetLive(true);
    }
    ASSERT_TRUE(
        WaitFor([&] { return a_->cache().live(); }, milliseconds(5000)));
  }

  rpb::Action Create(RoadmapHarness& h, const std::string& title) {
    rpb::CreateActionRequest req;
    auto* a = req.mutable_action();
    a->set_roadmap_id(f_.roadmap);
    a->set_ecosystem_id(f_.ecosystem);
    a->set_title(title);
    a->set_lead_organization_id(f_.federation);
    a->set_partner_organization_id(f_.ministry);
    a->set_owner("k.alaoui");
    *a->mutable_start_date() = D(2024, 7, 11);
    *a->mutable_due_date() = D(2099, 12, 31);
    rpb::CreateActionResponse resp;
    grpc::Status s =
        h.Stub()->CreateAction(Ctx(f_.federation_copilot).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.action();
  }

  absl::StatusOr<rpb::Action> Get(RoadmapHarness& h, const std::string& id) {
    rpb::GetActionRequest req;
    req.set_id(id);
    rpb::GetActionResponse resp;
    auto s = FromGrpcStatus(
        h.Stub()->GetAction(Ctx(f_.reader_token).get(), req, &resp));
    if (!s.ok()) return s;
    return resp.action();
  }

  absl::StatusOr<rpb::Action> SetField(RoadmapHarness& h, const std::string& id,
                                       const std::string& field,
                                       const std::string& value,
                                       const std::string& etag = "") {
    rpb::UpdateActionRequest req;
    req.mutable_action()->set_id(id);
    req.mutable_action()->set_etag(etag);
    if (field == "title") req.mutable_action()->set_title(value);
    if (field == "owner") req.mutable_action()->set_owner(value);
    req.mutable_update_mask()->add_paths(field);
    rpb::UpdateActionResponse resp;
    auto s = FromGrpcStatus(
        h.Stub()->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp));
    if (!s.ok()) return s;
    return resp.action();
  }

  absl::StatusOr<rpb::Action> Move(RoadmapHarness& h, const std::string& id,
                                   rpb::ActionStatus target,
                                   const std::string& token,
                                   const std::string& etag = "") {
    rpb::TransitionActionRequest req;
    req.set_id(id);
    req.set_target_status(target);
    req.set_etag(etag);
    rpb::TransitionActionResponse resp;
    auto s = FromGrpcStatus(
        h.Stub()->TransitionAction(Ctx(token).get(), req, &resp));
    if (!s.ok()) return s;
    return resp.action();
  }

  int64_t Hmgets() {
    auto r = a_->redis().Command({"INFO", "commandstats"});
    const std::string& text = r->str();
    size_t at = text.find("cmdstat_hmget:calls=");
    if (at == std::string::npos) return 0;
    return std::stoll(text.substr(at + 20));
  }

  std::unique_ptr<RoadmapHarness> a_, b_;
  Fixture f_;
};

// A token revoked through one replica is refused by the other within a
// second, though the other cached its principal for a minute: the
// revocation is published, and every process drops it from its cache.
TEST_F(EntityCacheServiceTest, ARevocationReachesEveryReplicaAtOnce) {
  StartReplicas(true);
  const std::string token =
      a_->IssueToken(f_.ministry, common::v1::Role::ROLE_COPILOT, "revoked");
  ASSERT_FALSE(token.empty());
  // Any RPC but GetCurrentPrincipal, which looks the token up every time.
  auto who = [&](RoadmapHarness& h) {
    rpb::ListOrganizationsResponse resp;
    return h.Stub()->ListOrganizations(Ctx(token).get(), {}, &resp);
  };
  ASSERT_TRUE(who(*a_).ok());
  ASSERT_TRUE(who(*b_).ok());  // both replicas now hold the principal
  // Both replicas listen for revocations.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = a_->redis().Command(
            {"PUBSUB", "NUMSUB", Keys::RevocationChannel()});
        return r.ok() && r->elements().size() == 2 &&
               r->elements()[1].integer() >= 2;
      },
      milliseconds(5000)));

  ASSERT_TRUE(a_->RevokeToken(f_.ministry, "revoked").ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor(
      [&] {
        return who(*b_).error_code() == grpc::StatusCode::UNAUTHENTICATED;
      },
      milliseconds(5000)));
  // Replica A hears it on its own listener, in its own time.
  EXPECT_TRUE(WaitFor(
      [&] {
        return who(*a_).error_code() == grpc::StatusCode::UNAUTHENTICATED;
      },
      milliseconds(5000)));
  // The promise is a second. The bound leaves room for a stalled machine;
  // a replica that missed the message would hold the principal for its
  // cache's whole minute.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// The other services verify tokens with GetCurrentPrincipal and cache the
// answer themselves: it comes from Redis, never from the replica's cache,
// so a revocation whose message is lost still reaches them within their
// own TTL.
TEST_F(EntityCacheServiceTest, GetCurrentPrincipalLooksPastTheTokenCache) {
  StartReplicas(true);
  const std::string token =
      a_->IssueToken(f_.ministry, common::v1::Role::ROLE_COPILOT, "lost");
  ASSERT_FALSE(token.empty());
  rpb::GetCurrentPrincipalResponse who;
  ASSERT_TRUE(a_->Stub()->GetCurrentPrincipal(Ctx(token).get(), {}, &who).ok());
  EXPECT_EQ(who.principal().organization_id(), f_.ministry);
  // Revoked behind the service's back: no message, the cache (a minute)
  // still holds the principal for the other RPCs.
  ASSERT_TRUE(
      a_->redis().Command({"DEL", Keys::TokenHash(Sha256Hex(token))}).ok());
  rpb::ListOrganizationsResponse orgs;
  ASSERT_TRUE(a_->Stub()->ListOrganizations(Ctx(token).get(), {}, &orgs).ok());
  EXPECT_EQ(
      a_->Stub()->GetCurrentPrincipal(Ctx(token).get(), {}, &who).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  // What it found is the replica's to know too.
  EXPECT_EQ(
      a_->Stub()->ListOrganizations(Ctx(token).get(), {}, &orgs).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(EntityCacheServiceTest, RepeatedGetsAreAnsweredWithoutRedis) {
  StartReplicas(true);
  rpb::Action created = Create(*a_, "Zone industrielle de Settat");
  ASSERT_TRUE(Get(*a_, created.id()).ok());  // fills the cache
  ASSERT_TRUE(a_->redis().Command({"CONFIG", "RESETSTAT"}).ok());
  const uint64_t hits = a_->cache().hits();
  for (int i = 0; i < 5; ++i) {
    auto got = Get(*a_, created.id());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->title(), "Zone industrielle de Settat");
    EXPECT_EQ(got->etag(), created.etag());
  }
  EXPECT_EQ(Hmgets(), 0);
  EXPECT_EQ(a_->cache().hits() - hits, 5u);
  // Unknown ids are never cached: a create is visible at once everywhere.
  EXPECT_EQ(Get(*a_, "01ARZ3NDEKTSV4RRFFQ69G5FAV").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(EntityCacheServiceTest, ACachedActionTurnsLateWhenTheDayChanges) {
  // A Get answers with the response serialised for the entity's state and
  // the day, kept with the cached entity: the next day is a new response.
  FakeClock clock(
      std::chrono::sys_days(std::chrono::year(2026) / std::chrono::March / 10) +
      std::chrono::hours(12));
  StartReplicas(true, &clock);
  rpb::CreateActionRequest req;
  auto* a = req.mutable_action();
  a->set_roadmap_id(f_.roadmap);
  a->set_title("Centre technique de la forge");
  a->set_lead_organization_id(f_.federation);
  a->set_partner_organization_id(f_.ministry);
  a->set_owner("k.alaoui");
  *a->mutable_start_date() = D(2024, 7, 11);
  *a->mutable_due_date() = D(2026, 3, 10);
  auto* m = a->add_milestones();
  m->set_title("Cahier des charges");
  *m->mutable_due_date() = D(2026, 3, 10);
  rpb::CreateActionResponse created;
  ASSERT_TRUE(
      a_->Stub()
          ->CreateAction(Ctx(f_.federation_copilot).get(), req, &created)
          .ok());
  const std::string id = created.action().id();

  ASSERT_TRUE(a_->redis().Command({"CONFIG", "RESETSTAT"}).ok());
  const uint64_t hits = a_->cache().hits();
  for (int day = 10; day <= 12; ++day) {
    clock.Set(std::chrono::sys_days(std::chrono::year(2026) /
                                    std::chrono::March / day) +
              std::chrono::hours(12));
    for (int i = 0; i < 2; ++i) {
      auto got = Get(*a_, id);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->late(), day > 10) << "2026-03-" << day;
      ASSERT_EQ(got->milestones_size(), 1);
      EXPECT_EQ(got->milestones(0).late(), day > 10) << "2026-03-" << day;
    }
  }
  EXPECT_EQ(Hmgets(), 0);  // every Get was answered from the cache
  EXPECT_EQ(a_->cache().hits() - hits, 6u);
}

TEST_F(EntityCacheServiceTest, ActionsTurnLateAtMidnightInTheDateTimeZone) {
  // 23:30 UTC on the due date is already the next day in Casablanca
  // (UTC+1 in November): late there, not yet in UTC.
  FakeClock clock(std::chrono::sys_days(std::chrono::year(2026) /
                                        std::chrono::November / 26) +
                  std::chrono::hours(23) + std::chrono::minutes(30));
  StartReplicas(true, &clock);
  rpb::CreateActionRequest req;
  auto* a = req.mutable_action();
  a->set_roadmap_id(f_.roadmap);
  a->set_title("Salon de la sous-traitance");
  a->set_lead_organization_id(f_.federation);
  a->set_partner_organization_id(f_.ministry);
  *a->mutable_due_date() = D(2026, 11, 26);
  rpb::CreateActionResponse created;
  ASSERT_TRUE(
      a_->Stub()
          ->CreateAction(Ctx(f_.federation_copilot).get(), req, &created)
          .ok());
  EXPECT_FALSE(created.action().late()) << "due today in UTC";
  ASSERT_TRUE(SetDateTimeZone("Africa/Casablanca").ok());
  auto got = Get(*a_, created.action().id());
  const bool late = got.ok() && got->late();
  ASSERT_TRUE(SetDateTimeZone("UTC").ok());  // for the tests that follow
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(late) << "due yesterday in Casablanca";
}

TEST_F(EntityCacheServiceTest, AReplicaReadsItsOwnWritesAtOnce) {
  StartReplicas(true);
  rpb::Action created = Create(*a_, "Plateforme d'export");
  ASSERT_TRUE(Get(*a_, created.id()).ok());
  for (int i = 0; i < 20; ++i) {
    auto updated =
        SetField(*a_, created.id(), "title", "Plateforme " + std::to_string(i));
    ASSERT_TRUE(updated.ok()) << updated.status();
    auto got = Get(*a_, created.id());
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->etag(), updated->etag());
    EXPECT_EQ(got->title(), updated->title());
  }
}

TEST_F(EntityCacheServiceTest, AReplicaKeepsWhatItWroteUntilANewerWrite) {
  StartReplicas(true);
  rpb::Action created = Create(*a_, "Fonderie de Kénitra");
  // The create and every update leave A's cache holding what they wrote:
  // the next update starts from it (its commit checks the version) and a
  // Get answers from it, without any HMGET.
  ASSERT_TRUE(a_->redis().Command({"CONFIG", "RESETSTAT"}).ok());
  std::string etag = created.etag();
  for (int i = 0; i < 5; ++i) {
    auto updated =
        SetField(*a_, created.id(), "title", "Fonderie " + std::to_string(i));
    ASSERT_TRUE(updated.ok()) << updated.status();
    EXPECT_EQ(updated->etag(), std::to_string(i + 2));
    auto got = Get(*a_, created.id());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->etag(), updated->etag());
    EXPECT_EQ(got->title(), updated->title());
    etag = updated->etag();
  }
  EXPECT_EQ(Hmgets(), 0);

  // B writes next. Its announcement drops what A kept: A reads B's state
  // (A's copy would live 60 s otherwise), and A's next update builds on it.
  auto by_b = SetField(*b_, created.id(), "owner", "n.idrissi");
  ASSERT_TRUE(by_b.ok()) << by_b.status();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto got = Get(*a_, created.id());
        return got.ok() && got->etag() == by_b->etag();
      },
      milliseconds(5000), milliseconds(1)));
  auto by_a = SetField(*a_, created.id(), "title", "Fonderie finale");
  ASSERT_TRUE(by_a.ok()) << by_a.status();
  EXPECT_EQ(by_a->owner(), "n.idrissi");
  EXPECT_EQ(std::stoi(by_a->etag()), std::stoi(by_b->etag()) + 1);
}

TEST_F(EntityCacheServiceTest, AnotherReplicasWriteInvalidatesTheCopy) {
  StartReplicas(true);
  rpb::Action created = Create(*a_, "Centre de formation");
  ASSERT_TRUE(Get(*b_, created.id()).ok());
  ASSERT_TRUE(Get(*b_, created.id()).ok());
  ASSERT_GE(b_->cache().hits(), 1u);  // B serves its copy

  auto updated = SetField(*a_, created.id(), "owner", "s.bennani");
  ASSERT_TRUE(updated.ok()) << updated.status();
  // B's copy lives 60 s: only A's PUBLISH can make B read the new state.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto got = Get(*b_, created.id());
        return got.ok() && got->etag() == updated->etag() &&
               got->owner() == "s.bennani";
      },
      milliseconds(5000), milliseconds(1)));
}

TEST_F(EntityCacheServiceTest, WritesFromAStaleCacheAreDecidedOnRedis) {
  StartReplicas(/*b_listens=*/false);
  rpb::Action created = Create(*a_, "Titre initial");
  ASSERT_TRUE(Get(*b_, created.id()).ok());  // B keeps etag 1
  auto stale_b = [&] {
    auto got = Get(*b_, created.id());
    return got.ok() ? got->etag() : "";
  };

  // A write from B with the etag of the current state (which B's copy is
  // behind) is applied, not refused.
  auto v2 = SetField(*a_, created.id(), "owner", "a.owner");
  ASSERT_TRUE(v2.ok());
  ASSERT_EQ(stale_b(), "1");  // the copy B serves is behind
  auto v3 = SetField(*b_, created.id(), "title", "Titre de B", v2->etag());
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->etag(), "3");
  EXPECT_EQ(v3->owner(), "a.owner");  // built on the current state

  // An etag that was current once but is no longer is still refused.
  auto old = SetField(*b_, created.id(), "title", "Trop tard", v2->etag());
  EXPECT_EQ(old.status().code(), absl::StatusCode::kAborted) << old.status();

  // Without an etag, the change lands on the current state.
  ASSERT_TRUE(Get(*b_, created.id()).ok());  // B keeps etag 3
  auto v4 = SetField(*a_, created.id(), "owner", "another.owner");
  ASSERT_TRUE(v4.ok());
  auto v5 = SetField(*b_, created.id(), "title", "Sans etag");
  ASSERT_TRUE(v5.ok()) << v5.status();
  EXPECT_EQ(v5->etag(), "5");
  EXPECT_EQ(v5->owner(), "another.owner");

  // "Nothing to change" is decided on the current state: B's copy says the
  // title is already "Sans etag", Redis says otherwise.
  ASSERT_TRUE(Get(*b_, created.id()).ok());  // B keeps etag 5
  auto v6 = SetField(*a_, created.id(), "title", "Changé par A");
  ASSERT_TRUE(v6.ok());
  auto v7 = SetField(*b_, created.id(), "title", "Sans etag");
  ASSERT_TRUE(v7.ok()) << v7.status();
  EXPECT_EQ(v7->etag(), "7");
  EXPECT_EQ(v7->title(), "Sans etag");

  // A transition legal from the current status only (B's copy says
  // PROPOSED; it is PLANNED) is applied.
  ASSERT_TRUE(Get(*b_, created.id()).ok());  // B keeps PROPOSED
  ASSERT_TRUE(
      Move(*a_, created.id(), rpb::ACTION_STATUS_PLANNED, f_.federation_copilot)
          .ok());
  auto moved = Move(*b_, created.id(), rpb::ACTION_STATUS_IN_PROGRESS,
                    f_.ministry_copilot);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->status(), rpb::ACTION_STATUS_IN_PROGRESS);

  // A transition retried with its etag on the replica whose copy is from
  // before it: the answer the RPC's own checks give on Redis' state (the
  // action is already there), not a stale etag.
  auto before = Get(*b_, created.id());  // B keeps IN_PROGRESS
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(Move(*a_, created.id(), rpb::ACTION_STATUS_COMPLETION_REQUESTED,
                   f_.federation_copilot, before->etag())
                  .ok());
  ASSERT_EQ(Get(*b_, created.id())->etag(), before->etag());  // still behind
  auto retried =
      Move(*b_, created.id(), rpb::ACTION_STATUS_COMPLETION_REQUESTED,
           f_.federation_copilot, before->etag());
  EXPECT_EQ(retried.status().code(), absl::StatusCode::kFailedPrecondition)
      << retried.status();

  // Every write above is in Redis, in order.
  auto final_state = Get(*a_, created.id());
  ASSERT_TRUE(final_state.ok());
  EXPECT_EQ(final_state->etag(), "10");
  EXPECT_EQ(final_state->title(), "Sans etag");
  EXPECT_EQ(final_state->owner(), "another.owner");
}

}  // namespace
}  // namespace jalon::roadmap
