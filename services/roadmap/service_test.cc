// The roadmap service in-process over real gRPC, against a real
// redis-server: the invariants of SPEC.md (atomic change + event, idempotent
// creates, stale etags, bad input writes nothing, co-validation, history,
// round-trip budget) and its failure behaviour (Redis down, NOSCRIPT,
// revocation).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "jalon/events/v1/events.pb.h"
#include "services/common/channel.h"
#include "services/common/dates.h"
#include "services/common/status.h"
#include "services/roadmap/store.h"
#include "tests/support/random_requests.h"
#include "tests/support/roadmap_harness.h"
#include "tests/support/wait.h"

namespace jalon::roadmap {
namespace {

using common::v1::Role;
using testing::Ctx;
using testing::D;
using testing::Fixture;
using testing::RoadmapHarness;
using testing::WaitFor;
namespace rpb = ::jalon::roadmap::v1;

class RoadmapServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(harness_.Start().ok());
    f_ = harness_.MakeFixture();
    ASSERT_FALSE(f_.roadmap.empty());
    ASSERT_FALSE(f_.indicator.empty());
    stub_ = harness_.Stub();
  }

  rpb::Action NewAction(const std::string& title) {
    rpb::Action a;
    a.set_roadmap_id(f_.roadmap);
    a.set_ecosystem_id(f_.ecosystem);
    a.set_title(title);
    a.set_lead_organization_id(f_.federation);
    a.set_partner_organization_id(f_.ministry);
    a.set_owner("k.alaoui");
    *a.mutable_start_date() = D(2024, 7, 11);
    *a.mutable_due_date() = D(2099, 12, 31);
    auto* m = a.add_milestones();
    m->set_title("Cahier des charges");
    *m->mutable_due_date() = D(2098, 1, 1);
    a.add_tags("recyclage");
    return a;
  }

  // Loads the read script of dependency edits and first measurements into
  // Redis (its first use in a process does, once) with a dependency edit
  // of `action_id` that changes nothing, so a test can count round trips.
  void LoadReadScript(const std::string& action_id) {
    rpb::UpdateActionRequest req;
    req.mutable_action()->set_id(action_id);
    req.mutable_update_mask()->add_paths("depends_on_action_ids");
    rpb::UpdateActionResponse resp;
    grpc::Status s =
        stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // Another roadmap, co-piloted by organisations `a` and `b`; its id.
  std::string OtherRoadmap(const std::string& title, const std::string& a,
                           const std::string& b) {
    rpb::CreateRoadmapRequest req;
    req.mutable_roadmap()->set_title(title);
    *req.mutable_roadmap()->mutable_start_date() = D(2026, 1, 1);
    *req.mutable_roadmap()->mutable_horizon_date() = D(2030, 12, 31);
    req.mutable_roadmap()->add_copilot_organization_ids(a);
    req.mutable_roadmap()->add_copilot_organization_ids(b);
    rpb::CreateRoadmapResponse resp;
    grpc::Status s =
        stub_->CreateRoadmap(Ctx(harness_.admin_token()).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.roadmap().id();
  }

  absl::StatusOr<rpb::Action> Create(const rpb::Action& a,
                                     const std::string& token,
                                     const std::string& request_id = "") {
    rpb::CreateActionRequest req;
    *req.mutable_action() = a;
    req.set_request_id(request_id);
    rpb::CreateActionResponse resp;
    auto s = FromGrpcStatus(stub_->CreateAction(Ctx(token).get(), req, &resp));
    if (!s.ok()) return s;
    return resp.action();
  }

  absl::StatusOr<rpb::Action> Move(const std::string& id,
                                   rpb::ActionStatus target,
                                   const std::string& token,
                                   const std::string& reason = "") {
    rpb::TransitionActionRequest req;
    req.set_id(id);
    req.set_target_status(target);
    req.set_reason(reason);
    rpb::TransitionActionResponse resp;
    auto s =
        FromGrpcStatus(stub_->TransitionAction(Ctx(token).get(), req, &resp));
    if (!s.ok()) return s;
    return resp.action();
  }

  // A new action of the federation's, moved on to IN_PROGRESS by it.
  std::string ActionInProgress(const std::string& title) {
    auto a = Create(NewAction(title), f_.federation_copilot);
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return "";
    for (auto to :
         {rpb::ACTION_STATUS_PLANNED, rpb::ACTION_STATUS_IN_PROGRESS}) {
      EXPECT_TRUE(Move(a->id(), to, f_.federation_copilot).ok());
    }
    return a->id();
  }

  // UpdateAction setting the partner organisation, as `token`.
  grpc::Status SetPartner(const std::string& id, const std::string& partner,
                          const std::string& token,
                          rpb::UpdateActionResponse* resp) {
    rpb::UpdateActionRequest req;
    req.mutable_action()->set_id(id);
    req.mutable_action()->set_partner_organization_id(partner);
    req.mutable_update_mask()->add_paths("partner_organization_id");
    return stub_->UpdateAction(Ctx(token).get(), req, resp);
  }

  rpb::Action Get(const std::string& id) {
    rpb::GetActionRequest req;
    req.set_id(id);
    rpb::GetActionResponse resp;
    EXPECT_TRUE(stub_->GetAction(Ctx(f_.reader_token).get(), req, &resp).ok());
    return resp.action();
  }

  // The fixture indicator's measurements in `state`, as a reader lists them.
  std::vector<rpb::Measurement> MeasurementsIn(rpb::VerificationState state) {
    rpb::ListMeasurementsRequest req;
    req.set_indicator_id(f_.indicator);
    req.set_verification_state(state);
    rpb::ListMeasurementsResponse resp;
    grpc::Status s =
        stub_->ListMeasurements(Ctx(f_.reader_token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.measurements().begin(), resp.measurements().end()};
  }

  // The fields a status' violations name, in order.
  using Fields = std::vector<std::string>;
  static Fields FieldsOf(const absl::Status& s) {
    std::vector<std::string> fields;
    for (const auto& v : ViolationsOf(s)) fields.push_back(v.field);
    return fields;
  }

  int64_t StreamLength() {
    auto r = harness_.redis().Command({"XLEN", Keys::Stream()});
    return r.ok() ? r->integer() : -1;
  }

  std::vector<events::v1::Event> Events() {
    std::vector<events::v1::Event> out;
    auto r = harness_.redis().Command({"XRANGE", Keys::Stream(), "-", "+"});
    for (const auto& e : r->elements()) {
      events::v1::Event ev;
      EXPECT_TRUE(ev.ParseFromString(e.elements()[1].elements()[1].str()));
      out.push_back(ev);
    }
    return out;
  }

  // Client commands since the last reset, excluding background PINGs.
  std::map<std::string, int64_t> CommandStats() {
    std::map<std::string, int64_t> out = AllCommandStats();
    // Redis counts the commands a script runs too; those are not round
    // trips. The client's own commands are EVALSHA, HMGET, GET (a token
    // cache miss) and the background PING.
    std::map<std::string, int64_t> client;
    for (const char* cmd : {"evalsha", "hmget", "get", "hgetall", "zrangebylex",
                            "lrange", "zcard"}) {
      if (out.count(cmd)) client[cmd] = out[cmd];
    }
    return client;
  }

  std::map<std::string, int64_t> AllCommandStats() {
    std::map<std::string, int64_t> out;
    auto r = harness_.redis().Command({"INFO", "commandstats"});
    std::string text = r->str();
    size_t pos = 0;
    while ((pos = text.find("cmdstat_", pos)) != std::string::npos) {
      size_t colon = text.find(':', pos);
      std::string name = text.substr(pos + 8, colon - pos - 8);
      size_t calls = text.find("calls=", colon);
      out[name] = std::stoll(text.substr(calls + 6));
      pos = colon;
    }
    return out;
  }

  static testing::HarnessOptions Options() {
    testing::HarnessOptions o;
    // A principal stays cached through any test, however slow the
    // machine: the exact round-trip counts never see a token lookup, and
    // only the published revocation can end a cached principal.
    o.auth_cache_ttl = std::chrono::seconds(60);
    return o;
  }

  RoadmapHarness harness_{Options()};
  Fixture f_;
  std::unique_ptr<rpb::RoadmapService::Stub> stub_;
};

TEST_F(RoadmapServiceTest, CreateStoresActionAndItsEventTogether) {
  int64_t before = StreamLength();
  auto a = Create(NewAction("Plateforme de collecte du cuivre"),
                  f_.federation_copilot);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status(), rpb::ACTION_STATUS_PROPOSED);
  EXPECT_EQ(a->etag(), "1");
  EXPECT_EQ(a->priority(), rpb::ACTION_PRIORITY_MEDIUM);
  EXPECT_EQ(a->milestones(0).id(), "m1");
  EXPECT_EQ(a->progress_percent(), 0);
  EXPECT_FALSE(a->late());
  EXPECT_EQ(a->audit().created_by().organization_id(), f_.federation);
  EXPECT_EQ(StreamLength(), before + 1);

  events::v1::Event ev = Events().back();
  EXPECT_EQ(ev.type(), "roadmap.action.created");
  EXPECT_EQ(ev.aggregate_kind(), "action");
  EXPECT_EQ(ev.aggregate_id(), a->id());
  EXPECT_EQ(ev.aggregate_version(), 1);
  EXPECT_EQ(ev.roadmap_id(), f_.roadmap);
  EXPECT_EQ(ev.actor().organization_id(), f_.federation);
  EXPECT_FALSE(ev.event_id().empty());
  rpb::Action state;
  ASSERT_TRUE(ev.state().UnpackTo(&state));
  EXPECT_EQ(state.title(), "Plateforme de collecte du cuivre");
  EXPECT_EQ(state.etag(), "1");

  rpb::Action got = Get(a->id());
  EXPECT_EQ(got.title(), a->title());
  EXPECT_EQ(got.etag(), "1");
}

// Fields this build does not know (a newer client's, or a padded request)
// are not stored: no limit would bound them, and they would be copied into
// every event, page and cache entry of the action.
TEST_F(RoadmapServiceTest, UnknownFieldsAreNotStored) {
  const std::string padding(1 << 20, 'x');
  rpb::Action a = NewAction("Plateforme de collecte du cuivre");
  a.GetReflection()->MutableUnknownFields(&a)->AddLengthDelimited(999, padding);
  auto created = Create(a, f_.federation_copilot);
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string key = Keys::Entity(kAction, created->id());
  auto stored = [&] {
    rpb::Action x;
    EXPECT_TRUE(
        x.ParseFromString(harness_.redis().Command({"HGET", key, "d"})->str()));
    return x;
  };
  EXPECT_EQ(stored().GetReflection()->GetUnknownFields(stored()).field_count(),
            0);
  EXPECT_LT(stored().ByteSizeLong(), 4096u);
  EXPECT_LT(Get(created->id()).ByteSizeLong(), 4096u);

  // Nor through an update, in a nested message.
  rpb::UpdateActionRequest req;
  *req.mutable_action() = Get(created->id());
  auto* m = req.mutable_action()->add_milestones();
  m->set_title("Étude de faisabilité");
  *m->mutable_due_date() = D(2030, 6, 30);
  m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(999, padding);
  req.mutable_update_mask()->add_paths("milestones");
  rpb::UpdateActionResponse resp;
  grpc::Status s =
      stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(stored().milestones_size(), 2);
  EXPECT_LT(stored().ByteSizeLong(), 4096u);
  // Nor in the events.
  size_t event_bytes = 0;
  for (const auto& e : Events()) event_bytes += e.ByteSizeLong();
  EXPECT_LT(event_bytes, 64u * 1024);
}

// A page holds 2 MiB of entities at most, whatever its size asked: 70
// actions as large as the limits allow (62 KB each in French) are 4.3 MB,
// over gRPC's 4 MiB message limit, and a page of 1000 failed
// RESOURCE_EXHAUSTED without a token to go on (jalonctl export asks 1000).
TEST_F(RoadmapServiceTest, ALargePageEndsEarlyWithAToken) {
  constexpr int kActions = 70;
  std::string e_acute;
  for (int i = 0; i < 200; ++i) e_acute += "é";
  std::string description;
  for (int i = 0; i < 50; ++i) description += e_acute;  // 10,000 characters
  for (int n = 0; n < kActions; ++n) {
    rpb::Action a = NewAction("Action " + std::to_string(n));
    a.set_description(description);
    a.clear_milestones();
    for (int m = 0; m < 100; ++m) {
      auto* ms = a.add_milestones();
      ms->set_title(e_acute);
      *ms->mutable_due_date() = D(2098, 1, 1);
    }
    ASSERT_TRUE(Create(a, f_.federation_copilot).ok()) << n;
  }
  rpb::ListActionsRequest req;
  req.set_roadmap_id(f_.roadmap);
  req.set_page_size(1000);
  std::set<std::string> seen;
  int pages = 0;
  for (; pages < 10; ++pages) {
    rpb::ListActionsResponse resp;
    grpc::Status s =
        stub_->ListActions(Ctx(f_.ministry_copilot).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(resp.ByteSizeLong(), 3u << 20);
    for (const auto& a : resp.actions()) seen.insert(a.id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_GE(pages, 1);  // more than one page
  EXPECT_EQ(seen.size(), static_cast<size_t>(kActions));
}

TEST_F(RoadmapServiceTest, RetriedCreateWithSameRequestIdCreatesNothingMore) {
  auto first = Create(NewAction("Salon des machines agricoles"),
                      f_.federation_copilot, "req-42");
  ASSERT_TRUE(first.ok()) << first.status();
  int64_t events = StreamLength();
  auto again = Create(NewAction("Salon des machines agricoles"),
                      f_.federation_copilot, "req-42");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(StreamLength(), events);
  auto count = harness_.redis().Command(
      {"ZCARD", Keys::Children(kRoadmap, f_.roadmap, kAction)});
  EXPECT_EQ(count->integer(), 1);
  // The same request id from another principal is another request.
  auto other = Create(NewAction("Salon des machines agricoles"),
                      harness_.admin_token(), "req-42");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->id(), first->id());
}

TEST_F(RoadmapServiceTest, StaleEtagIsAbortedAndChangesNothing) {
  auto a = Create(NewAction("Titre initial"), f_.federation_copilot);
  ASSERT_TRUE(a.ok());
  rpb::UpdateActionRequest req;
  req.mutable_action()->set_id(a->id());
  req.mutable_action()->set_etag("1");
  req.mutable_action()->set_title("Titre v2");
  req.mutable_update_mask()->add_paths("title");
  rpb::UpdateActionResponse resp;
  ASSERT_TRUE(
      stub_->UpdateAction(Ctx(f_.ministry_copilot).get(), req, &resp).ok());
  EXPECT_EQ(resp.action().etag(), "2");
  int64_t events = StreamLength();

  req.mutable_action()->set_title("Titre concurrent");  // still etag "1"
  grpc::Status stale =
      stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(FromGrpcStatus(stale)), "STALE_ETAG");
  EXPECT_EQ(StreamLength(), events);
  rpb::Action got = Get(a->id());
  EXPECT_EQ(got.title(), "Titre v2");
  EXPECT_EQ(got.etag(), "2");

  // Not an etag at all: refused on the field that holds it.
  req.mutable_action()->set_etag("deux");
  grpc::Status bad =
      stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldsOf(FromGrpcStatus(bad)), Fields{"action.etag"});
  EXPECT_EQ(StreamLength(), events);
}

TEST_F(RoadmapServiceTest, AnUpdateThatChangesNothingWritesNothing) {
  auto a = Create(NewAction("Titre stable"), f_.federation_copilot);
  ASSERT_TRUE(a.ok());
  int64_t events = StreamLength();
  rpb::UpdateActionRequest req;
  req.mutable_action()->set_id(a->id());
  req.mutable_action()->set_title("Titre stable");  // the value it has
  req.mutable_update_mask()->add_paths("title");
  rpb::UpdateActionResponse resp;
  ASSERT_TRUE(
      stub_->UpdateAction(Ctx(f_.ministry_copilot).get(), req, &resp).ok());
  EXPECT_EQ(resp.action().etag(), "1");
  EXPECT_EQ(resp.action().audit().update_time().seconds(),
            a->audit().update_time().seconds());
  EXPECT_EQ(resp.action().audit().update_time().nanos(),
            a->audit().update_time().nanos());
  EXPECT_EQ(StreamLength(), events);
  rpb::ListActionHistoryRequest hreq;
  hreq.set_action_id(a->id());
  rpb::ListActionHistoryResponse hresp;
  ASSERT_TRUE(
      stub_->ListActionHistory(Ctx(f_.reader_token).get(), hreq, &hresp).ok());
  EXPECT_EQ(hresp.entries_size(), 1);  // the creation only

  // The same through the blocking path (a roadmap's fields).
  rpb::UpdateRoadmapRequest rreq;
  rreq.mutable_roadmap()->set_id(f_.roadmap);
  rreq.mutable_roadmap()->set_title("Feuille de route commune IMME");
  rreq.mutable_update_mask()->add_paths("title");
  rpb::UpdateRoadmapResponse rresp;
  ASSERT_TRUE(
      stub_->UpdateRoadmap(Ctx(harness_.admin_token()).get(), rreq, &rresp)
          .ok());
  EXPECT_EQ(rresp.roadmap().etag(), "1");
  EXPECT_EQ(StreamLength(), events);

  // A real change still goes through.
  req.mutable_action()->set_title("Titre changé");
  ASSERT_TRUE(
      stub_->UpdateAction(Ctx(f_.ministry_copilot).get(), req, &resp).ok());
  EXPECT_EQ(resp.action().etag(), "2");
  EXPECT_EQ(StreamLength(), events + 1);
}

TEST_F(RoadmapServiceTest, ConcurrentUpdatesWithoutEtagAreAllApplied) {
  auto a = Create(NewAction("Compteur"), f_.federation_copilot);
  ASSERT_TRUE(a.ok());
  // Each writer appends a distinct tag; the read-modify-write retries on a
  // lost compare-and-write, so no update is lost.
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&, w] {
      auto stub = harness_.Stub();
      for (;;) {
        rpb::Action cur = Get(a->id());
        rpb::UpdateActionRequest req;
        req.mutable_action()->set_id(a->id());
        req.mutable_action()->set_etag(cur.etag());
        *req.mutable_action()->mutable_tags() = cur.tags();
        req.mutable_action()->add_tags("w" + std::to_string(w));
        req.mutable_update_mask()->add_paths("tags");
        rpb::UpdateActionResponse resp;
        grpc::Status s =
            stub->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
        if (s.error_code() == grpc::StatusCode::ABORTED) continue;
        EXPECT_TRUE(s.ok()) << s.error_message();
        return;
      }
    });
  }
  for (auto& t : writers) t.join();
  rpb::Action got = Get(a->id());
  EXPECT_EQ(got.tags_size(), 9);  // "recyclage" + w0..w7
  EXPECT_EQ(got.etag(), "9");
}

TEST_F(RoadmapServiceTest, AGetWhoseBytesAreNotItsRequestIsInvalidArgument) {
  // The Gets are raw methods that parse their own request.
  grpc::GenericStub generic(harness_.channel());
  const std::string garbage = "\x0a\xff\xff";  // a length past the end
  grpc::Slice slice(garbage.data(), garbage.size());
  grpc::ByteBuffer request(&slice, 1), response;
  auto ctx = Ctx(f_.reader_token);
  std::promise<grpc::Status> finished;
  generic.UnaryCall(ctx.get(), "/jalon.roadmap.v1.RoadmapService/GetAction",
                    grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) { finished.set_value(std::move(s)); });
  auto result = finished.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
  const grpc::Status status = result.get();
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  auto violations = ViolationsOf(FromGrpcStatus(status));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "request");
  EXPECT_NE(status.error_message().find("jalon.roadmap.v1.GetActionRequest"),
            std::string::npos)
      << status.error_message();
}

TEST_F(RoadmapServiceTest, AStoredStateThatCannotBeDecodedIsInternalEveryTime) {
  auto created =
      Create(NewAction("Atelier de fonderie"), f_.federation_copilot);
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string key = Keys::Entity(kAction, created->id());
  const std::string good = harness_.redis().Command({"HGET", key, "d"})->str();
  ASSERT_TRUE(harness_.redis().Command({"HSET", key, "d", "\x0a\xff"}).ok());
  harness_.cache().Drop(key);  // the replica kept what it created
  auto get = [&] {
    rpb::GetActionRequest req;
    req.set_id(created->id());
    rpb::GetActionResponse resp;
    return stub_->GetAction(Ctx(f_.reader_token).get(), req, &resp);
  };
  // Read from Redis, then from the cache (which keeps the state, not a
  // failed rendering of it): the same error both times.
  const uint64_t hits = harness_.cache().hits();
  for (int i = 0; i < 2; ++i) {
    grpc::Status s = get();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
    EXPECT_EQ(s.error_message(), "stored action could not be decoded");
  }
  EXPECT_EQ(harness_.cache().hits() - hits, 1u);
  ASSERT_TRUE(harness_.redis().Command({"HSET", key, "d", good}).ok());
  harness_.cache().Drop(key);
  EXPECT_TRUE(get().ok());
}

TEST_F(RoadmapServiceTest, BadInputNamesEveryFieldAndWritesNothing) {
  int64_t events = StreamLength();
  rpb::Action bad = NewAction("");
  bad.set_partner_organization_id(f_.federation);  // same as lead
  bad.mutable_milestones(0)->clear_due_date();
  auto r = Create(bad, f_.federation_copilot);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  std::set<std::string> fields;
  for (const auto& v : ViolationsOf(r.status())) fields.insert(v.field);
  EXPECT_TRUE(fields.count("action.title"));
  EXPECT_TRUE(fields.count("action.partner_organization_id"));
  EXPECT_TRUE(fields.count("action.milestones[0].due_date"));
  EXPECT_EQ(StreamLength(), events);

  // A reference to something that does not exist is checked inside the
  // atomic write, and still writes nothing.
  rpb::Action dangling = NewAction("Référence inconnue");
  dangling.set_ecosystem_id("01NOSUCHECOSYSTEM000000000");
  r = Create(dangling, f_.federation_copilot);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(ViolationsOf(r.status()).size(), 1u);
  EXPECT_EQ(ViolationsOf(r.status())[0].field, "action.ecosystem_id");
  EXPECT_EQ(StreamLength(), events);
  auto count = harness_.redis().Command({"ZCARD", Keys::Index(kAction)});
  EXPECT_EQ(count->integer(), 0);

  // The rich error reaches the client as google.rpc.Status details.
  rpb::CreateActionRequest req;
  *req.mutable_action() = bad;
  rpb::CreateActionResponse resp;
  grpc::Status s =
      stub_->CreateAction(Ctx(f_.federation_copilot).get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(s.error_details().empty());
  EXPECT_NE(s.error_message().find("action.title"), std::string::npos);

  // A malformed request_id is one more bad field of the same answer, and
  // comes before the permission check.
  req.set_request_id("bad id!");
  auto both = FromGrpcStatus(
      stub_->CreateAction(Ctx(f_.federation_copilot).get(), req, &resp));
  std::set<std::string> named;
  for (const auto& v : ViolationsOf(both)) named.insert(v.field);
  EXPECT_TRUE(named.count("action.title")) << both;
  EXPECT_TRUE(named.count("request_id")) << both;
  rpb::CreateActionRequest foreign;
  *foreign.mutable_action() = NewAction("Action d'autrui");
  foreign.mutable_action()->set_lead_organization_id(f_.ministry);
  foreign.mutable_action()->set_partner_organization_id(f_.member);
  foreign.set_request_id("bad id!");
  auto first = FromGrpcStatus(
      stub_->CreateAction(Ctx(f_.federation_copilot).get(), foreign, &resp));
  EXPECT_EQ(first.code(), absl::StatusCode::kInvalidArgument) << first;
  EXPECT_EQ(StreamLength(), events);
}

TEST_F(RoadmapServiceTest, LifecycleNeedsTheCounterpartToClose) {
  auto a = Create(NewAction("Programme de formation soudure"),
                  f_.federation_copilot);
  ASSERT_TRUE(a.ok());
  const std::string id = a->id();
  const auto& fed = f_.federation_copilot;
  const auto& min = f_.ministry_copilot;
  ASSERT_TRUE(Move(id, rpb::ACTION_STATUS_PLANNED, fed).ok());
  ASSERT_TRUE(Move(id, rpb::ACTION_STATUS_IN_PROGRESS, min).ok());
  EXPECT_EQ(Move(id, rpb::ACTION_STATUS_BLOCKED, fed).status().code(),
            absl::StatusCode::kInvalidArgument);  // reason required
  ASSERT_TRUE(Move(id, rpb::ACTION_STATUS_BLOCKED, fed, "foncier").ok());
  ASSERT_TRUE(Move(id, rpb::ACTION_STATUS_IN_PROGRESS, fed).ok());
  auto requested = Move(id, rpb::ACTION_STATUS_COMPLETION_REQUESTED, fed);
  ASSERT_TRUE(requested.ok());
  EXPECT_EQ(requested->completion_requested_by_organization_id(),
            f_.federation);

  auto self = Move(id, rpb::ACTION_STATUS_DONE, fed);
  EXPECT_EQ(self.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ReasonOf(self.status()), "COVALIDATION_REQUIRED");
  EXPECT_EQ(Move(id, rpb::ACTION_STATUS_IN_PROGRESS, min).status().code(),
            absl::StatusCode::kInvalidArgument);  // rejection needs a reason
  auto rejected =
      Move(id, rpb::ACTION_STATUS_IN_PROGRESS, min, "pièces justificatives");
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->status_reason(), "pièces justificatives");
  ASSERT_TRUE(Move(id, rpb::ACTION_STATUS_COMPLETION_REQUESTED, fed).ok());
  auto done = Move(id, rpb::ACTION_STATUS_DONE, min);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status(), rpb::ACTION_STATUS_DONE);
  EXPECT_EQ(done->progress_percent(), 100);
  EXPECT_TRUE(done->has_done_time());

  auto after = Move(id, rpb::ACTION_STATUS_CANCELLED, fed, "trop tard");
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(after.status().message().find("allowed from DONE"),
            std::string::npos);

  // The history lists every change, oldest first, with who and what.
  rpb::ListActionHistoryRequest hreq;
  hreq.set_action_id(id);
  hreq.set_page_size(4);
  std::vector<common::v1::HistoryEntry> entries;
  for (;;) {
    rpb::ListActionHistoryResponse hresp;
    ASSERT_TRUE(
        stub_->ListActionHistory(Ctx(f_.reader_token).get(), hreq, &hresp)
            .ok());
    entries.insert(entries.end(), hresp.entries().begin(),
                   hresp.entries().end());
    if (hresp.next_page_token().empty()) break;
    hreq.set_page_token(hresp.next_page_token());
  }
  ASSERT_EQ(entries.size(), 9u);  // create + 8 transitions
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].version(), static_cast<int64_t>(i + 1));
  }
  EXPECT_EQ(entries[0].event_type(), "roadmap.action.created");
  const auto& last = entries.back();
  EXPECT_EQ(last.actor().organization_id(), f_.ministry);
  bool status_change = false;
  for (const auto& c : last.changes()) {
    if (c.field() == "status") {
      status_change = true;
      EXPECT_EQ(c.old_value(), "ACTION_STATUS_COMPLETION_REQUESTED");
      EXPECT_EQ(c.new_value(), "ACTION_STATUS_DONE");
    }
  }
  EXPECT_TRUE(status_change);
}

TEST_F(RoadmapServiceTest, ClosedActionsAndPendingCompletionsAreProtected) {
  const std::string a = ActionInProgress("Protégée");
  const auto& fed = f_.federation_copilot;
  ASSERT_TRUE(Move(a, rpb::ACTION_STATUS_COMPLETION_REQUESTED, fed).ok());
  // Not even an admin may swap the counterpart while the decision is
  // pending.
  rpb::UpdateActionResponse resp;
  grpc::Status s = SetPartner(a, f_.member, harness_.admin_token(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Get(a).partner_organization_id(), f_.ministry);
  // Nor may the requester rewrite what the counterpart decides on: the due
  // date that makes it late, its progress.
  const rpb::Action pending = Get(a);
  rpb::UpdateActionRequest later;
  later.mutable_action()->set_id(a);
  *later.mutable_action()->mutable_due_date() = D(2031, 12, 31);
  later.mutable_action()->set_progress_override(100);
  later.mutable_update_mask()->add_paths("due_date");
  later.mutable_update_mask()->add_paths("progress_override");
  s = stub_->UpdateAction(Ctx(fed).get(), later, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(FromGrpcStatus(s)), "COVALIDATION_REQUIRED");
  EXPECT_EQ(Get(a).etag(), pending.etag());

  ASSERT_TRUE(Move(a, rpb::ACTION_STATUS_DONE, f_.ministry_copilot).ok());
  rpb::UpdateActionRequest title;
  title.mutable_action()->set_id(a);
  title.mutable_action()->set_title("Réécrite après coup");
  title.mutable_update_mask()->add_paths("title");
  s = stub_->UpdateAction(Ctx(fed).get(), title, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(FromGrpcStatus(s)), "ACTION_CLOSED");
  EXPECT_EQ(Get(a).title(), "Protégée");
}

TEST_F(RoadmapServiceTest, ACopilotCannotPickWhoApprovesItsCompletion) {
  // The federation brings in an organisation of its choosing as partner,
  // then asks it to approve: the ministry would never be asked.
  const std::string a = ActionInProgress("Contournement");
  const auto& fed = f_.federation_copilot;
  rpb::UpdateActionResponse resp;
  grpc::Status s = SetPartner(a, f_.member, fed, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReasonOf(FromGrpcStatus(s)), "COVALIDATION_REQUIRED");
  EXPECT_EQ(Get(a).partner_organization_id(), f_.ministry);

  // Swapping the two roles keeps the same counterpart: allowed.
  rpb::UpdateActionRequest swap;
  swap.mutable_action()->set_id(a);
  swap.mutable_action()->set_lead_organization_id(f_.ministry);
  swap.mutable_action()->set_partner_organization_id(f_.federation);
  swap.mutable_update_mask()->add_paths("lead_organization_id");
  swap.mutable_update_mask()->add_paths("partner_organization_id");
  ASSERT_TRUE(stub_->UpdateAction(Ctx(fed).get(), swap, &resp).ok());
  EXPECT_EQ(resp.action().lead_organization_id(), f_.ministry);

  // Not even an admin can make an organisation that does not co-pilot the
  // roadmap a party: it could not approve the completion.
  s = SetPartner(a, f_.member, harness_.admin_token(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldsOf(FromGrpcStatus(s)),
            Fields{"action.partner_organization_id"});
  EXPECT_EQ(Get(a).partner_organization_id(), f_.federation);
}

TEST_F(RoadmapServiceTest, AnActionsPartiesAreItsRoadmapsCopilots) {
  // The roadmap's two co-pilots are its only possible parties: whichever
  // requests completion, the other approves (SPEC: neither co-pilot closes
  // the books alone). A member company or a third organisation as a party
  // would leave nobody, or the wrong one, to approve.
  const int64_t events = StreamLength();
  rpb::Action a = NewAction("Partenaire externe");
  a.set_partner_organization_id(f_.member);
  auto created = Create(a, f_.federation_copilot);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(created.status()),
            Fields{"action.partner_organization_id"});
  EXPECT_NE(ViolationsOf(created.status()).at(0).description.find("co-pilot"),
            std::string::npos);
  a = NewAction("Pilote externe");
  a.set_lead_organization_id(f_.member);
  created = Create(a, harness_.admin_token());
  EXPECT_EQ(FieldsOf(created.status()), Fields{"action.lead_organization_id"});
  EXPECT_EQ(StreamLength(), events);  // nothing written

  // In a roadmap the member company co-pilots, it may be a party.
  const std::string other =
      OtherRoadmap("Sous-traitance", f_.member, f_.federation);
  a.set_roadmap_id(other);
  a.clear_ecosystem_id();
  a.set_partner_organization_id(f_.federation);
  created = Create(a, harness_.admin_token());
  ASSERT_TRUE(created.ok()) << created.status();
  // But the ministry is not one there, in either role.
  rpb::UpdateActionRequest req;
  req.mutable_action()->set_id(created->id());
  req.mutable_action()->set_lead_organization_id(f_.ministry);
  req.mutable_update_mask()->add_paths("lead_organization_id");
  rpb::UpdateActionResponse resp;
  grpc::Status s =
      stub_->UpdateAction(Ctx(harness_.admin_token()).get(), req, &resp);
  EXPECT_EQ(FieldsOf(FromGrpcStatus(s)), Fields{"action.lead_organization_id"});
  EXPECT_EQ(Get(created->id()).lead_organization_id(), f_.member);
}

TEST_F(RoadmapServiceTest, MilestonesAreNotDoneInTheFuture) {
  // Marking a milestone done ahead would hide its lateness and raise the
  // action's progress before the work is there.
  const Date today = DateOf(std::chrono::system_clock::now());
  // Three days ahead: past the day of leeway for time zones, even if
  // midnight passes during the test.
  const Date later = DateFromDays(DaysFromCivil(today) + 3);
  const int64_t events = StreamLength();
  rpb::Action a = NewAction("Fait après-demain");
  *a.mutable_milestones(0)->mutable_done_date() = later;
  auto created = Create(a, f_.federation_copilot);
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldsOf(created.status()),
            Fields{"action.milestones[0].done_date"});
  EXPECT_EQ(StreamLength(), events);

  *a.mutable_milestones(0)->mutable_done_date() = today;
  created = Create(a, f_.federation_copilot);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->progress_percent(), 100);

  rpb::UpdateActionRequest req;
  req.mutable_action()->set_id(created->id());
  *req.mutable_action()->mutable_milestones() = created->milestones();
  *req.mutable_action()->mutable_milestones(0)->mutable_done_date() = later;
  req.mutable_update_mask()->add_paths("milestones");
  rpb::UpdateActionResponse resp;
  grpc::Status s =
      stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
  EXPECT_EQ(FieldsOf(FromGrpcStatus(s)),
            Fields{"action.milestones[0].done_date"});
  EXPECT_EQ(Get(created->id()).milestones(0).done_date().day(), today.day());
}

TEST_F(RoadmapServiceTest, RoadmapsFromBeforeTheCopilotSetGetIt) {
  // A roadmap written before CreateRoadmap kept its co-pilot set has none:
  // no action can be created in it until IndexRoadmapCopilots writes it.
  ASSERT_TRUE(
      harness_.redis().Command({"DEL", Keys::Copilots(f_.roadmap)}).ok());
  auto refused = Create(NewAction("Avant l'index"), f_.federation_copilot);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);

  auto written = harness_.service().IndexRoadmapCopilots();
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, 1);
  EXPECT_TRUE(Create(NewAction("Après l'index"), f_.federation_copilot).ok());
  // The other parties are still refused, and a second run has nothing to do.
  rpb::Action a = NewAction("Toujours refusée");
  a.set_partner_organization_id(f_.member);
  EXPECT_EQ(Create(a, f_.federation_copilot).status().code(),
            absl::StatusCode::kInvalidArgument);
  written = harness_.service().IndexRoadmapCopilots();
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(*written, 0);
}

TEST_F(RoadmapServiceTest, OnlyPartiesSteerAnAction) {
  auto a = Create(NewAction("Action de la fédération"), f_.federation_copilot);
  ASSERT_TRUE(a.ok());
  std::string outsider =
      harness_.IssueToken(f_.member, Role::ROLE_COPILOT, "outsider");
  EXPECT_EQ(Move(a->id(), rpb::ACTION_STATUS_PLANNED, outsider).status().code(),
            absl::StatusCode::kPermissionDenied);
  rpb::Action foreign = NewAction("Action d'autrui");
  foreign.set_lead_organization_id(f_.ministry);
  foreign.set_partner_organization_id(f_.member);
  EXPECT_EQ(Create(foreign, f_.federation_copilot).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Handing one's action over to others is refused too.
  rpb::UpdateActionRequest req;
  req.mutable_action()->set_id(a->id());
  req.mutable_action()->set_lead_organization_id(f_.member);
  req.mutable_update_mask()->add_paths("lead_organization_id");
  rpb::UpdateActionResponse resp;
  EXPECT_EQ(stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RoadmapServiceTest, MeasurementsAreVerifiedByTheOtherCopilot) {
  rpb::RecordMeasurementRequest req;
  auto* m = req.mutable_measurement();
  m->set_indicator_id(f_.indicator);
  m->set_value(2150);
  *m->mutable_period_start() = D(2017, 1, 1);
  *m->mutable_period_end() = D(2017, 12, 31);
  m->set_source("Déclarations CNSS 2017");
  rpb::RecordMeasurementResponse recorded;
  ASSERT_TRUE(
      stub_->RecordMeasurement(Ctx(f_.federation_copilot).get(), req, &recorded)
          .ok());
  EXPECT_EQ(recorded.measurement().verification_state(),
            rpb::VERIFICATION_STATE_UNVERIFIED);
  EXPECT_EQ(recorded.measurement().verifier_organization_id(), f_.ministry);
  EXPECT_EQ(recorded.measurement().roadmap_id(), f_.roadmap);

  rpb::VerifyMeasurementRequest vreq;
  vreq.set_id(recorded.measurement().id());
  vreq.set_approve(true);
  rpb::VerifyMeasurementResponse vresp;
  EXPECT_EQ(
      stub_->VerifyMeasurement(Ctx(f_.federation_copilot).get(), vreq, &vresp)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(
      stub_->VerifyMeasurement(Ctx(f_.ministry_copilot).get(), vreq, &vresp)
          .ok());
  EXPECT_EQ(vresp.measurement().verification_state(),
            rpb::VERIFICATION_STATE_VERIFIED);
  EXPECT_EQ(vresp.measurement().verified_by().organization_id(), f_.ministry);

  // A member company is no co-pilot of the roadmap.
  std::string member_copilot =
      harness_.IssueToken(f_.member, Role::ROLE_COPILOT, "m");
  EXPECT_EQ(stub_->RecordMeasurement(Ctx(member_copilot).get(), req, &recorded)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  auto verified = MeasurementsIn(rpb::VERIFICATION_STATE_VERIFIED);
  ASSERT_EQ(verified.size(), 1u);
  EXPECT_EQ(verified[0].value(), 2150);
}

// A rejection needs a note, bounded like every text, and is as final as an
// approval: the measurement keeps it, and nobody decides a second time.
TEST_F(RoadmapServiceTest, RejectingAMeasurementNeedsANoteAndIsFinal) {
  rpb::RecordMeasurementRequest req;
  auto* m = req.mutable_measurement();
  m->set_indicator_id(f_.indicator);
  m->set_value(1800);
  *m->mutable_period_start() = D(2019, 1, 1);
  *m->mutable_period_end() = D(2019, 12, 31);
  m->set_source("Enquête annuelle 2019");
  rpb::RecordMeasurementResponse recorded;
  ASSERT_TRUE(
      stub_->RecordMeasurement(Ctx(f_.federation_copilot).get(), req, &recorded)
          .ok());
  const std::string id = recorded.measurement().id();
  const int64_t events = StreamLength();

  rpb::VerifyMeasurementRequest reject;
  reject.set_id(id);
  reject.set_approve(false);
  rpb::VerifyMeasurementResponse resp;
  auto s = FromGrpcStatus(
      stub_->VerifyMeasurement(Ctx(f_.ministry_copilot).get(), reject, &resp));
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  ASSERT_EQ(ViolationsOf(s).size(), 1u);
  EXPECT_EQ(ViolationsOf(s)[0].field, "note");
  reject.set_note(std::string(2001, 'x'));
  s = FromGrpcStatus(
      stub_->VerifyMeasurement(Ctx(f_.ministry_copilot).get(), reject, &resp));
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(ViolationsOf(s)[0].field, "note");
  reject.set_note(" \n ");  // blank: no note
  s = FromGrpcStatus(
      stub_->VerifyMeasurement(Ctx(f_.ministry_copilot).get(), reject, &resp));
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(ViolationsOf(s)[0].field, "note");
  reject.set_note("Chiffres\x07");
  s = FromGrpcStatus(
      stub_->VerifyMeasurement(Ctx(f_.ministry_copilot).get(), reject, &resp));
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(ViolationsOf(s)[0].field, "note");
  EXPECT_EQ(StreamLength(), events) << "a refused verification writes nothing";

  reject.set_note("Chiffres non rapprochés des déclarations CNSS");
  ASSERT_TRUE(
      stub_->VerifyMeasurement(Ctx(f_.ministry_copilot).get(), reject, &resp)
          .ok());
  EXPECT_EQ(resp.measurement().verification_state(),
            rpb::VERIFICATION_STATE_REJECTED);
  EXPECT_EQ(resp.measurement().verification_note(), reject.note());
  EXPECT_EQ(resp.measurement().verified_by().organization_id(), f_.ministry);
  EXPECT_EQ(StreamLength(), events + 1);

  rpb::VerifyMeasurementRequest approve;
  approve.set_id(id);
  approve.set_approve(true);
  EXPECT_EQ(
      stub_->VerifyMeasurement(Ctx(f_.ministry_copilot).get(), approve, &resp)
          .error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(StreamLength(), events + 1);

  auto rejected = MeasurementsIn(rpb::VERIFICATION_STATE_REJECTED);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].id(), id);
  EXPECT_TRUE(MeasurementsIn(rpb::VERIFICATION_STATE_VERIFIED).empty());
}

// A replica that never met an indicator finds its roadmap in Redis, among
// several roadmaps, and takes who records and verifies from that one.
TEST_F(RoadmapServiceTest, MeasurementsFollowTheirIndicatorsRoadmap) {
  const std::string second =
      OtherRoadmap("Pacte Atlas Câbles", f_.member, f_.ministry);
  ASSERT_FALSE(second.empty());
  rpb::CreateIndicatorRequest ir;
  auto* i = ir.mutable_indicator();
  i->set_roadmap_id(second);
  i->set_name("Emplois du pacte");
  i->set_unit(rpb::INDICATOR_UNIT_JOBS);
  *i->mutable_baseline_date() = D(2026, 1, 1);
  i->set_target_value(400);
  *i->mutable_target_date() = D(2030, 12, 31);
  rpb::CreateIndicatorResponse indicator;
  ASSERT_TRUE(
      stub_->CreateIndicator(Ctx(harness_.admin_token()).get(), ir, &indicator)
          .ok());

  rpb::RecordMeasurementRequest req;
  auto* m = req.mutable_measurement();
  m->set_indicator_id(indicator.indicator().id());
  m->set_value(35);
  *m->mutable_period_start() = D(2026, 1, 1);
  *m->mutable_period_end() = D(2026, 6, 30);
  m->set_source("Registre du personnel");
  rpb::RecordMeasurementResponse recorded;
  // The federation co-pilots the first roadmap, not this one.
  EXPECT_EQ(
      stub_->RecordMeasurement(Ctx(f_.federation_copilot).get(), req, &recorded)
          .error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  std::string member_copilot =
      harness_.IssueToken(f_.member, Role::ROLE_COPILOT, "m");
  grpc::Status s =
      stub_->RecordMeasurement(Ctx(member_copilot).get(), req, &recorded);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(recorded.measurement().roadmap_id(), second);
  EXPECT_EQ(recorded.measurement().verifier_organization_id(), f_.ministry);
}

// A replica that never met an action finds its roadmap (and so its graph)
// in Redis, among several roadmaps.
TEST_F(RoadmapServiceTest, DependencyEditsFindTheActionsRoadmap) {
  const std::string second =
      OtherRoadmap("Feuille de route 2030", f_.federation, f_.ministry);
  ASSERT_FALSE(second.empty());
  auto in_second = [&](const std::string& title) {
    rpb::Action a = NewAction(title);
    a.set_roadmap_id(second);
    a.clear_ecosystem_id();
    return Create(a, f_.federation_copilot);
  };
  auto x = in_second("X");
  auto y = in_second("Y");
  ASSERT_TRUE(x.ok() && y.ok()) << x.status() << y.status();
  auto depend = [&](const std::string& id, const std::string& on) {
    rpb::UpdateActionRequest req;
    req.mutable_action()->set_id(id);
    req.mutable_action()->add_depends_on_action_ids(on);
    req.mutable_update_mask()->add_paths("depends_on_action_ids");
    rpb::UpdateActionResponse resp;
    return stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
  };
  LoadReadScript(y->id());
  ASSERT_TRUE(harness_.redis().Command({"CONFIG", "RESETSTAT"}).ok());
  uint64_t before = harness_.redis().round_trips();
  ASSERT_TRUE(depend(x->id(), y->id()).ok());
  uint64_t trips = harness_.redis().round_trips() - before;
  // The health check PINGs on the same client meanwhile.
  EXPECT_LE(trips, 2u + static_cast<uint64_t>(AllCommandStats()["ping"]))
      << "the action with its graph, then the commit";
  // The cycle is seen: the graph read was the second roadmap's.
  grpc::Status cycle = depend(y->id(), x->id());
  EXPECT_EQ(cycle.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << cycle.error_message();
  auto graph =
      harness_.redis().Command({"HGET", Keys::Dependencies(second), x->id()});
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(graph->str(), y->id());
  EXPECT_EQ(harness_.redis()
                .Command({"EXISTS", Keys::Dependencies(f_.roadmap)})
                ->integer(),
            0);

  // An action that does not exist is still NOT_FOUND.
  EXPECT_EQ(depend("01ARZ3NDEKTSV4RRFFQ69G5FAV", y->id()).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(RoadmapServiceTest, DependencyCyclesAreRejected) {
  auto a = Create(NewAction("A"), f_.federation_copilot);
  rpb::Action b_in = NewAction("B");
  b_in.add_depends_on_action_ids(a->id());
  auto b = Create(b_in, f_.federation_copilot);
  ASSERT_TRUE(b.ok()) << b.status();
  rpb::Action c_in = NewAction("C");
  c_in.add_depends_on_action_ids(b->id());
  auto c = Create(c_in, f_.federation_copilot);
  ASSERT_TRUE(c.ok());
  int64_t events = StreamLength();

  rpb::UpdateActionRequest req;
  req.mutable_action()->set_id(a->id());
  req.mutable_action()->add_depends_on_action_ids(c->id());
  req.mutable_update_mask()->add_paths("depends_on_action_ids");
  rpb::UpdateActionResponse resp;
  grpc::Status s =
      stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("cycle"), std::string::npos);
  EXPECT_EQ(StreamLength(), events);
  EXPECT_EQ(Get(a->id()).depends_on_action_ids_size(), 0);

  // Depending on an action of the roadmap that closes no cycle is fine.
  rpb::Action d_in = NewAction("D");
  auto d = Create(d_in, f_.federation_copilot);
  req.mutable_action()->set_depends_on_action_ids(0, d->id());
  EXPECT_TRUE(
      stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp).ok());
}

TEST_F(RoadmapServiceTest, ConcurrentDependencyChangesRetryRatherThanFail) {
  // Both updates read the roadmap's graph before it exists (version 0);
  // the loser of the compare-and-write must retry, not fail.
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {  // 0..5 get dependencies, 6 is their sink
    auto a =
        Create(NewAction("Action " + std::to_string(i)), f_.federation_copilot);
    ASSERT_TRUE(a.ok());
    ids.push_back(a->id());
  }
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> writers;
    std::atomic<int> ok{0};
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        auto stub = harness_.Stub();
        rpb::UpdateActionRequest req;
        req.mutable_action()->set_id(ids[2 * round + w]);
        req.mutable_action()->add_depends_on_action_ids(ids[6]);
        req.mutable_update_mask()->add_paths("depends_on_action_ids");
        rpb::UpdateActionResponse resp;
        grpc::Status s =
            stub->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp);
        EXPECT_TRUE(s.ok()) << s.error_message();
        ok += s.ok();
      });
    }
    for (auto& t : writers) t.join();
    EXPECT_EQ(ok.load(), 2);
  }
}

TEST_F(RoadmapServiceTest, ListFiltersAndPaginates) {
  for (int i = 0; i < 7; ++i) {
    rpb::Action a = NewAction("Action " + std::to_string(i));
    if (i % 2 == 0) a.add_tags("export");
    if (i == 3) {  // late
      *a.mutable_start_date() = D(2016, 6, 1);
      *a.mutable_due_date() = D(2017, 1, 1);
      *a.mutable_milestones(0)->mutable_due_date() = D(2016, 12, 1);
    }
    ASSERT_TRUE(Create(a, f_.federation_copilot).ok());
  }
  rpb::ListActionsRequest req;
  req.set_roadmap_id(f_.roadmap);
  req.set_page_size(3);
  std::vector<std::string> titles;
  int pages = 0;
  for (;;) {
    rpb::ListActionsResponse resp;
    ASSERT_TRUE(
        stub_->ListActions(Ctx(f_.member_token).get(), req, &resp).ok());
    ++pages;
    for (const auto& a : resp.actions()) titles.push_back(a.title());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(titles.size(), 7u);
  EXPECT_EQ(titles.front(), "Action 0");  // oldest first
  EXPECT_EQ(titles.back(), "Action 6");

  rpb::ListActionsRequest tagged;
  tagged.set_tag("export");
  rpb::ListActionsResponse tresp;
  ASSERT_TRUE(
      stub_->ListActions(Ctx(f_.member_token).get(), tagged, &tresp).ok());
  EXPECT_EQ(tresp.actions_size(), 4);

  rpb::ListActionsRequest late;
  late.set_roadmap_id(f_.roadmap);
  late.set_late_only(true);
  rpb::ListActionsResponse lresp;
  ASSERT_TRUE(
      stub_->ListActions(Ctx(f_.member_token).get(), late, &lresp).ok());
  ASSERT_EQ(lresp.actions_size(), 1);
  EXPECT_EQ(lresp.actions(0).title(), "Action 3");
  EXPECT_TRUE(lresp.actions(0).late());

  rpb::ListActionsRequest bad;
  bad.set_page_token("%%%");
  rpb::ListActionsResponse bresp;
  EXPECT_EQ(
      stub_->ListActions(Ctx(f_.member_token).get(), bad, &bresp).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

// A filter value this build does not know (or UNSPECIFIED in a list of
// statuses) would match nothing, and an empty page would read as "there
// is none": it is refused, naming the field.
TEST_F(RoadmapServiceTest, UnknownFilterValuesAreRefusedNotEmptyPages) {
  auto field_of = [](const grpc::Status& g) {
    absl::Status s = FromGrpcStatus(g);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    return ViolationsOf(s).empty() ? std::string() : ViolationsOf(s)[0].field;
  };
  for (int bad : {0, 99}) {
    rpb::ListActionsRequest req;
    req.add_statuses(rpb::ACTION_STATUS_PLANNED);
    req.add_statuses(static_cast<rpb::ActionStatus>(bad));
    rpb::ListActionsResponse resp;
    EXPECT_EQ(
        field_of(stub_->ListActions(Ctx(f_.member_token).get(), req, &resp)),
        "statuses[1]");
  }
  rpb::ListOrganizationsRequest orgs;
  orgs.set_kind(static_cast<rpb::OrganizationKind>(99));
  rpb::ListOrganizationsResponse oresp;
  EXPECT_EQ(field_of(stub_->ListOrganizations(Ctx(f_.member_token).get(), orgs,
                                              &oresp)),
            "kind");
  orgs.set_kind(rpb::ORGANIZATION_KIND_UNSPECIFIED);  // no filter
  EXPECT_TRUE(
      stub_->ListOrganizations(Ctx(f_.member_token).get(), orgs, &oresp).ok());
  rpb::ListMeasurementsRequest ms;
  ms.set_indicator_id(f_.indicator);
  ms.set_verification_state(static_cast<rpb::VerificationState>(42));
  rpb::ListMeasurementsResponse mresp;
  EXPECT_EQ(
      field_of(stub_->ListMeasurements(Ctx(f_.member_token).get(), ms, &mresp)),
      "verification_state");
}

// Every filter of ListActions, alone and together: ecosystem, status,
// organisation (lead or partner), owner.
TEST_F(RoadmapServiceTest, ListActionsFiltersByEveryField) {
  rpb::CreateEcosystemRequest er;
  er.mutable_ecosystem()->set_roadmap_id(f_.roadmap);
  er.mutable_ecosystem()->set_name("Électronique");
  *er.mutable_ecosystem()->mutable_creation_date() = D(2016, 5, 2);
  rpb::CreateEcosystemResponse eco;
  ASSERT_TRUE(
      stub_->CreateEcosystem(Ctx(harness_.admin_token()).get(), er, &eco).ok());
  const std::string electronics = eco.ecosystem().id();

  // 0: metals, federation + ministry, k.alaoui, PROPOSED
  // 1: electronics, federation + ministry, s.idrissi, IN_PROGRESS
  // 2: electronics, ministry + federation, s.idrissi, PROPOSED
  // 3: another roadmap's, member + federation, k.alaoui, PROPOSED
  const std::string other =
      OtherRoadmap("Sous-traitance", f_.member, f_.federation);
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    rpb::Action a = NewAction("Filtre " + std::to_string(i));
    if (i == 1 || i == 2) {
      a.set_ecosystem_id(electronics);
      a.set_owner("s.idrissi");
    }
    if (i == 2) {
      a.set_lead_organization_id(f_.ministry);
      a.set_partner_organization_id(f_.federation);
    }
    if (i == 3) {
      a.set_roadmap_id(other);
      a.clear_ecosystem_id();
      a.set_lead_organization_id(f_.member);
      a.set_partner_organization_id(f_.federation);
    }
    auto created = Create(a, harness_.admin_token());
    ASSERT_TRUE(created.ok()) << created.status();
    ids.push_back(created->id());
  }
  ASSERT_TRUE(
      Move(ids[1], rpb::ACTION_STATUS_PLANNED, f_.federation_copilot).ok());
  ASSERT_TRUE(
      Move(ids[1], rpb::ACTION_STATUS_IN_PROGRESS, f_.federation_copilot).ok());

  auto list = [&](const rpb::ListActionsRequest& req) {
    rpb::ListActionsResponse resp;
    grpc::Status s = stub_->ListActions(Ctx(f_.member_token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> titles;
    for (const auto& a : resp.actions()) titles.push_back(a.title());
    return titles;
  };
  using Titles = std::vector<std::string>;
  rpb::ListActionsRequest req;
  req.set_ecosystem_id(electronics);
  EXPECT_EQ(list(req), (Titles{"Filtre 1", "Filtre 2"}));
  req = {};
  req.add_statuses(rpb::ACTION_STATUS_IN_PROGRESS);
  EXPECT_EQ(list(req), (Titles{"Filtre 1"}));
  req.add_statuses(rpb::ACTION_STATUS_PROPOSED);
  EXPECT_EQ(list(req),
            (Titles{"Filtre 0", "Filtre 1", "Filtre 2", "Filtre 3"}));
  req = {};
  req.set_organization_id(f_.member);  // lead of 3
  EXPECT_EQ(list(req), (Titles{"Filtre 3"}));
  req.set_organization_id(f_.ministry);  // partner of 0 and 1, lead of 2
  EXPECT_EQ(list(req), (Titles{"Filtre 0", "Filtre 1", "Filtre 2"}));
  req.set_organization_id(f_.federation);  // lead or partner of all
  EXPECT_EQ(list(req).size(), 4u);
  req = {};
  req.set_roadmap_id(other);
  EXPECT_EQ(list(req), (Titles{"Filtre 3"}));
  req = {};
  req.set_owner("s.idrissi");
  EXPECT_EQ(list(req), (Titles{"Filtre 1", "Filtre 2"}));
  // Together, they all hold.
  req.set_ecosystem_id(electronics);
  req.set_organization_id(f_.ministry);
  req.add_statuses(rpb::ACTION_STATUS_IN_PROGRESS);
  req.set_roadmap_id(f_.roadmap);
  EXPECT_EQ(list(req), (Titles{"Filtre 1"}));
  req.set_owner("k.alaoui");
  EXPECT_TRUE(list(req).empty());
}

// The checks a request gets before any storage is touched name the field
// and write nothing.
TEST_F(RoadmapServiceTest, RequestsWithoutTheirRequiredFieldsNameThem) {
  const int64_t events = StreamLength();
  auto field_of = [](const grpc::Status& g) {
    auto s = FromGrpcStatus(g);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    std::set<std::string> fields;
    for (const auto& v : ViolationsOf(s)) fields.insert(v.field);
    return fields;
  };
  using Fields = std::set<std::string>;
  auto ctx = [&] { return Ctx(f_.federation_copilot); };

  rpb::AddCommentRequest comment;
  rpb::AddCommentResponse commented;
  EXPECT_EQ(field_of(stub_->AddComment(ctx().get(), comment, &commented)),
            (Fields{"action_id", "body"}));
  auto action = Create(NewAction("Commentée"), f_.federation_copilot);
  ASSERT_TRUE(action.ok());
  const int64_t after_create = StreamLength();
  comment.set_action_id(action->id());
  comment.set_body(std::string(5001, 'x'));
  EXPECT_EQ(field_of(stub_->AddComment(ctx().get(), comment, &commented)),
            (Fields{"body"}));
  comment.set_body("Relancer\x1b[8m la douane");  // hides what follows
  EXPECT_EQ(field_of(stub_->AddComment(ctx().get(), comment, &commented)),
            (Fields{"body"}));
  rpb::CreateActionRequest create;
  *create.mutable_action() = NewAction("Ligne 1\nLigne 2");
  rpb::CreateActionResponse created;
  EXPECT_EQ(field_of(stub_->CreateAction(ctx().get(), create, &created)),
            (Fields{"action.title"}));
  EXPECT_EQ(StreamLength(), after_create) << "refused input writes nothing";
  comment.set_body(std::string(5000, 'x'));
  EXPECT_TRUE(stub_->AddComment(ctx().get(), comment, &commented).ok())
      << "5000 characters are allowed";

  rpb::ListEcosystemsResponse ecosystems;
  EXPECT_EQ(field_of(stub_->ListEcosystems(ctx().get(), {}, &ecosystems)),
            (Fields{"roadmap_id"}));
  rpb::ListIndicatorsResponse indicators;
  EXPECT_EQ(field_of(stub_->ListIndicators(ctx().get(), {}, &indicators)),
            (Fields{"roadmap_id"}));
  rpb::ListMeasurementsResponse measurements;
  EXPECT_EQ(field_of(stub_->ListMeasurements(ctx().get(), {}, &measurements)),
            (Fields{"indicator_id"}));
  EXPECT_EQ(StreamLength(), after_create + 1)  // the comment of 5000
      << "only the two good writes wrote";
  EXPECT_EQ(after_create, events + 1);
}

// The blocking update path (every update but an action's) refuses a stale
// etag too, and changes nothing.
TEST_F(RoadmapServiceTest, StaleEtagOnARoadmapIsAbortedAndChangesNothing) {
  rpb::GetRoadmapRequest get;
  get.set_id(f_.roadmap);
  rpb::GetRoadmapResponse current;
  ASSERT_TRUE(
      stub_->GetRoadmap(Ctx(f_.reader_token).get(), get, &current).ok());
  rpb::UpdateRoadmapRequest req;
  *req.mutable_roadmap() = current.roadmap();
  req.mutable_roadmap()->set_title("Nouveau titre");
  req.mutable_update_mask()->add_paths("title");
  rpb::UpdateRoadmapResponse updated;
  ASSERT_TRUE(
      stub_->UpdateRoadmap(Ctx(harness_.admin_token()).get(), req, &updated)
          .ok());
  ASSERT_NE(updated.roadmap().etag(), current.roadmap().etag());
  const int64_t events = StreamLength();

  req.mutable_roadmap()->set_title("Écrit sur une version périmée");
  grpc::Status s =
      stub_->UpdateRoadmap(Ctx(harness_.admin_token()).get(), req, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_EQ(StreamLength(), events);
  ASSERT_TRUE(
      stub_->GetRoadmap(Ctx(f_.reader_token).get(), get, &current).ok());
  EXPECT_EQ(current.roadmap().title(), "Nouveau titre");
}

TEST_F(RoadmapServiceTest, WritesStayWithinTheRoundTripBudget) {
  // Warm the token cache so authentication costs no round trip.
  rpb::GetCurrentPrincipalResponse who;
  ASSERT_TRUE(
      stub_->GetCurrentPrincipal(Ctx(f_.federation_copilot).get(), {}, &who)
          .ok());
  ASSERT_TRUE(harness_.redis().Command({"CONFIG", "RESETSTAT"}).ok());
  auto a = Create(NewAction("Budget"), f_.federation_copilot);
  ASSERT_TRUE(a.ok());
  auto stats = CommandStats();
  EXPECT_EQ(stats, (std::map<std::string, int64_t>{{"evalsha", 1}}))
      << "a create is exactly one round trip";

  ASSERT_TRUE(harness_.redis().Command({"CONFIG", "RESETSTAT"}).ok());
  rpb::UpdateActionRequest req;
  req.mutable_action()->set_id(a->id());
  req.mutable_action()->set_title("Budget v2");
  req.mutable_update_mask()->add_paths("title");
  rpb::UpdateActionResponse resp;
  ASSERT_TRUE(
      stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp).ok());
  stats = CommandStats();
  EXPECT_EQ(stats, (std::map<std::string, int64_t>{{"evalsha", 1}}))
      << "the replica kept what it created: the update is one atomic write";

  // Without that copy (another replica, or one whose cache was emptied),
  // an update is one read and one atomic write.
  harness_.cache().InvalidateAll();
  ASSERT_TRUE(harness_.redis().Command({"CONFIG", "RESETSTAT"}).ok());
  req.mutable_action()->set_title("Budget v3");
  ASSERT_TRUE(
      stub_->UpdateAction(Ctx(f_.federation_copilot).get(), req, &resp).ok());
  stats = CommandStats();
  EXPECT_EQ(stats,
            (std::map<std::string, int64_t>{{"hmget", 1}, {"evalsha", 1}}))
      << "an update is one read and one atomic write";

  auto dep = Create(NewAction("Budget, prérequis"), f_.federation_copilot);
  ASSERT_TRUE(dep.ok());
  LoadReadScript(dep->id());
  // A measurement is a create too. Its indicator's roadmap (who records,
  // who verifies) is read with the indicator, the first time only.
  rpb::RecordMeasurementRequest record;
  record.mutable_measurement()->set_indicator_id(f_.indicator);
  record.mutable_measurement()->set_value(2150);
  *record.mutable_measurement()->mutable_period_start() = D(2018, 1, 1);
  *record.mutable_measurement()->mutable_period_end() = D(2018, 12, 31);
  record.mutable_measurement()->set_source("Déclarations CNSS 2018");
  rpb::RecordMeasurementResponse recorded;
  ASSERT_TRUE(harness_.redis().Command({"CONFIG", "RESETSTAT"}).ok());
  uint64_t before = harness_.redis().round_trips();
  ASSERT_TRUE(stub_
                  ->RecordMeasurement(Ctx(f_.federation_copilot).get(), record,
                                      &recorded)
                  .ok());
  uint64_t trips = harness_.redis().round_trips() - before;
  EXPECT_GE(trips, 2u);
  // The health check PINGs on the same client meanwhile.
  EXPECT_LE(trips, 2u + static_cast<uint64_t>(AllCommandStats()["ping"]))
      << "the indicator with its roadmap in one round trip, then the commit";
  stats = CommandStats();
  // The read script's two HMGETs count too; they are no round trips.
  EXPECT_EQ(stats,
            (std::map<std::string, int64_t>{{"hmget", 2}, {"evalsha", 2}}));
  EXPECT_EQ(recorded.measurement().verifier_organization_id(), f_.ministry);
  ASSERT_TRUE(
      stub_->GetCurrentPrincipal(Ctx(f_.ministry_copilot).get(), {}, &who)
          .ok());  // its token cached too
  ASSERT_TRUE(harness_.redis().Command({"CONFIG", "RESETSTAT"}).ok());
  ASSERT_TRUE(
      stub_
          ->RecordMeasurement(Ctx(f_.ministry_copilot).get(), record, &recorded)
          .ok());
  EXPECT_EQ(recorded.measurement().verifier_organization_id(), f_.federation)
      << "the other co-pilot verifies, from what was kept";
  stats = CommandStats();
  EXPECT_EQ(stats, (std::map<std::string, int64_t>{{"evalsha", 1}}))
      << "a measurement is exactly one round trip once its roadmap is known";
  // A dependency edit reads the roadmap's graph too, with the action: two
  // round trips, the first time (the roadmap found in Redis) and after.
  auto edit_deps = [&](bool depend) {
    rpb::UpdateActionRequest deps;
    deps.mutable_action()->set_id(a->id());
    if (depend) deps.mutable_action()->add_depends_on_action_ids(dep->id());
    deps.mutable_update_mask()->add_paths("depends_on_action_ids");
    rpb::UpdateActionResponse updated;
    grpc::Status s =
        stub_->UpdateAction(Ctx(f_.federation_copilot).get(), deps, &updated);
    EXPECT_EQ(updated.action().depends_on_action_ids_size(), depend ? 1 : 0);
    return s;
  };
  for (bool depend : {true, false}) {
    ASSERT_TRUE(harness_.redis().Command({"CONFIG", "RESETSTAT"}).ok());
    before = harness_.redis().round_trips();
    ASSERT_TRUE(edit_deps(depend).ok());
    trips = harness_.redis().round_trips() - before;
    // The health check PINGs on the same client meanwhile.
    int64_t pings = AllCommandStats()["ping"];
    EXPECT_GE(trips, 2u);
    EXPECT_LE(trips, 2u + static_cast<uint64_t>(pings))
        << "the action with its graph in one round trip, then the commit";
    stats = CommandStats();
    // The read script's commands count too; they are no round trips.
    EXPECT_EQ(stats, (std::map<std::string, int64_t>{
                         {"hmget", 1}, {"hgetall", 1}, {"evalsha", 2}}));
  }
  // An indicator that does not exist is still refused by name.
  record.mutable_measurement()->set_indicator_id("01ARZ3NDEKTSV4RRFFQ69G5FAV");
  grpc::Status missing = stub_->RecordMeasurement(
      Ctx(f_.federation_copilot).get(), record, &recorded);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(missing.error_message().find("indicator"), std::string::npos);
}

// A server whose queue is full says so at once, like any other error: the
// details, the request id, a log line. Both ways a call may need a worker:
// the executor path, and a non-blocking RPC whose token is not cached.
TEST(RoadmapOverloadTest, AFullQueueAnswersUnavailableWithDetails) {
  testing::HarnessOptions options;
  options.workers = 1;
  options.max_queue = 1;
  RoadmapHarness harness(options);
  ASSERT_TRUE(harness.Start().ok());
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_TRUE(harness.executor().Submit([&started, released] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();                    // the worker is busy
  ASSERT_TRUE(harness.executor().Submit([] {}));  // the queue is full
  ASSERT_FALSE(harness.executor().Submit([] {}));

  auto stub = harness.Stub();
  auto check = [](grpc::ClientContext& ctx, const grpc::Status& s,
                  const std::string& request_id) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(s.error_message().find("overloaded"), std::string::npos)
        << s.error_message();
    EXPECT_EQ(FromGrpcStatus(s).code(), absl::StatusCode::kUnavailable);
    EXPECT_FALSE(s.error_details().empty()) << "no google.rpc.Status";
    const auto& md = ctx.GetServerInitialMetadata();
    auto it = md.find("x-request-id");
    ASSERT_NE(it, md.end());
    EXPECT_EQ(std::string(it->second.data(), it->second.size()), request_id);
  };
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + harness.admin_token());
    ctx.AddMetadata("x-request-id", "overload-list");
    rpb::ListRoadmapsResponse resp;
    grpc::Status s = stub->ListRoadmaps(&ctx, {}, &resp);
    check(ctx, s, "overload-list");
  }
  {
    // The admin token was never used here, so it is not cached.
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + harness.admin_token());
    ctx.AddMetadata("x-request-id", "overload-get");
    rpb::GetRoadmapRequest req;
    req.set_id("01ARZ3NDEKTSV4RRFFQ69G5FAV");
    rpb::GetRoadmapResponse resp;
    grpc::Status s = stub->GetRoadmap(&ctx, req, &resp);
    check(ctx, s, "overload-get");
  }
  release.set_value();
  // Once the queue drains, the same calls are served.
  ASSERT_TRUE(WaitFor(
      [&] {
        rpb::ListRoadmapsResponse resp;
        return stub->ListRoadmaps(Ctx(harness.admin_token()).get(), {}, &resp)
            .ok();
      },
      std::chrono::seconds(5)));
}

// A call whose deadline passes while it waits for a worker is not run
// when a worker frees up: its client was told DEADLINE_EXCEEDED, and a
// write it did not see must not happen behind its back.
TEST(RoadmapOverloadTest, ACallPastItsDeadlineInTheQueueIsNotRun) {
  testing::HarnessOptions options;
  options.workers = 1;
  RoadmapHarness harness(options);
  ASSERT_TRUE(harness.Start().ok());
  auto stub = harness.Stub();
  rpb::GetCurrentPrincipalResponse who;  // the admin's principal cached
  ASSERT_TRUE(
      stub->GetCurrentPrincipal(Ctx(harness.admin_token()).get(), {}, &who)
          .ok());
  std::promise<void> started, release;
  std::shared_future<void> released = release.get_future().share();
  ASSERT_TRUE(harness.executor().Submit([&started, released] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();  // the only worker is busy

  rpb::CreateOrganizationRequest req;
  req.set_request_id("queued-past-deadline");
  req.mutable_organization()->set_name("Arrivée trop tard");
  req.mutable_organization()->set_kind(rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
  rpb::CreateOrganizationResponse resp;
  grpc::Status s = stub->CreateOrganization(
      Ctx(harness.admin_token(), std::chrono::milliseconds(300)).get(), req,
      &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server's deadline is the client's timeout counted from when the
  // call arrived, so it passes a little after the client's: by the transit
  // time, a few ms, more on a loaded machine. A worker freed inside that
  // window would rightly run the call (docs/api.md: after a client-side
  // DEADLINE_EXCEEDED the write may have committed). Free it once the
  // server's deadline has surely passed too (2 s: a starved server may
  // take its time to read the call in).
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  release.set_value();
  // The queue drains: the late call is dropped, a new one runs.
  rpb::ListOrganizationsResponse orgs;
  ASSERT_TRUE(WaitFor(
      [&] {
        return stub
            ->ListOrganizations(Ctx(harness.admin_token()).get(), {}, &orgs)
            .ok();
      },
      std::chrono::seconds(5)));
  for (const auto& o : orgs.organizations()) {
    EXPECT_NE(o.name(), "Arrivée trop tard");
  }
  auto events = harness.redis().Command({"XRANGE", Keys::Stream(), "-", "+"});
  ASSERT_TRUE(events.ok());
  for (const auto& e : events->elements()) {
    EXPECT_EQ(e.elements()[1].elements()[1].str().find("Arrivée trop tard"),
              std::string::npos);
  }
}

TEST_F(RoadmapServiceTest, ScriptFlushedFromRedisIsReloaded) {
  ASSERT_TRUE(harness_.redis().Command({"SCRIPT", "FLUSH"}).ok());
  EXPECT_TRUE(
      Create(NewAction("Après SCRIPT FLUSH"), f_.federation_copilot).ok());
}

TEST_F(RoadmapServiceTest, RevocationTakesEffectWithinOneSecond) {
  std::string token = harness_.IssueToken(f_.ministry, Role::ROLE_COPILOT, "t");
  rpb::GetCurrentPrincipalResponse who;
  ASSERT_TRUE(stub_->GetCurrentPrincipal(Ctx(token).get(), {}, &who).ok());
  ASSERT_TRUE(harness_.RevokeToken(f_.ministry, "t").ok());
  auto start = std::chrono::steady_clock::now();
  bool rejected = WaitFor(
      [&] {
        return stub_->GetCurrentPrincipal(Ctx(token).get(), {}, &who)
                   .error_code() == grpc::StatusCode::UNAUTHENTICATED;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(rejected);
  // A second is the promise; the margin is for a stalled machine (the
  // token cache holds a principal a minute).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// A stopping server says NOT_SERVING before it stops taking calls, so a
// load balancer watching its health moves traffic away first.
TEST_F(RoadmapServiceTest, StoppingTurnsHealthNotServingFirst) {
  using grpc::health::v1::Health;
  using grpc::health::v1::HealthCheckRequest;
  using grpc::health::v1::HealthCheckResponse;
  auto health = Health::NewStub(harness_.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  HealthCheckRequest req;
  req.set_service("jalon.roadmap.v1.RoadmapService");
  auto watch = health->Watch(&ctx, req);
  HealthCheckResponse resp;
  do {
    ASSERT_TRUE(watch->Read(&resp));
  } while (resp.status() != HealthCheckResponse::SERVING);

  std::thread stopper([&] { harness_.StopService(); });
  const bool told = watch->Read(&resp);
  stopper.join();
  ASSERT_TRUE(told) << "the watch ended without a last status";
  EXPECT_EQ(resp.status(), HealthCheckResponse::NOT_SERVING);
  ctx.TryCancel();
  watch->Finish().IgnoreError();
}

TEST_F(RoadmapServiceTest, ReadinessFollowsRedisAndCallsFailCleanly) {
  using grpc::health::v1::Health;
  using grpc::health::v1::HealthCheckRequest;
  using grpc::health::v1::HealthCheckResponse;
  auto health = Health::NewStub(harness_.channel());
  auto status = [&](const std::string& service =
                        "jalon.roadmap.v1.RoadmapService") {
    HealthCheckRequest req;
    req.set_service(service);
    HealthCheckResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(2));
    if (!health->Check(&ctx, req, &resp).ok())
      return HealthCheckResponse::UNKNOWN;
    return resp.status();
  };
  EXPECT_EQ(status(), HealthCheckResponse::SERVING);
  auto before = Create(NewAction("Avant la panne"), f_.federation_copilot);
  ASSERT_TRUE(before.ok()) << before.status();
  harness_.redis_server().Kill();
  EXPECT_TRUE(
      WaitFor([&] { return status() == HealthCheckResponse::NOT_SERVING; },
              std::chrono::seconds(10)));
  auto down = Create(NewAction("Pendant la panne"), f_.federation_copilot);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(down.status().message(), "storage unavailable, retry later");
  // Liveness does not follow Redis: restarting the process would not help.
  EXPECT_EQ(status(""), HealthCheckResponse::SERVING);
  // Reads and updates (served without blocking) fail the same clean way.
  rpb::GetActionRequest get;
  get.set_id(before->id());
  rpb::GetActionResponse got;
  grpc::Status read =
      stub_->GetAction(Ctx(f_.federation_copilot).get(), get, &got);
  EXPECT_EQ(read.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(read.error_message(), "storage unavailable, retry later");
  rpb::UpdateActionRequest upd;
  upd.mutable_action()->set_id(before->id());
  upd.mutable_action()->set_title("Pendant la panne");
  upd.mutable_update_mask()->add_paths("title");
  rpb::UpdateActionResponse updated;
  EXPECT_EQ(stub_->UpdateAction(Ctx(f_.federation_copilot).get(), upd, &updated)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);

  ASSERT_TRUE(harness_.redis_server().Restart().ok());
  EXPECT_TRUE(WaitFor([&] { return status() == HealthCheckResponse::SERVING; },
                      std::chrono::seconds(10)));
  // The data written before the crash survived (AOF), and writes work again.
  EXPECT_TRUE(WaitFor(
      [&] {
        return Create(NewAction("Après la panne"), f_.federation_copilot).ok();
      },
      std::chrono::seconds(10)));
  EXPECT_TRUE(
      stub_->GetAction(Ctx(f_.federation_copilot).get(), get, &got).ok());
  EXPECT_EQ(got.action().title(), "Avant la panne");
}

TEST_F(RoadmapServiceTest, ResourcesUpdateThroughFieldMasks) {
  rpb::UpdateRoadmapRequest req;
  req.mutable_roadmap()->set_id(f_.roadmap);
  req.mutable_roadmap()->set_status(rpb::ROADMAP_STATUS_ACTIVE);
  req.mutable_roadmap()->set_title("ignored: not in the mask");
  req.mutable_update_mask()->add_paths("status");
  rpb::UpdateRoadmapResponse resp;
  ASSERT_TRUE(
      stub_->UpdateRoadmap(Ctx(harness_.admin_token()).get(), req, &resp).ok());
  EXPECT_EQ(resp.roadmap().status(), rpb::ROADMAP_STATUS_ACTIVE);
  EXPECT_EQ(resp.roadmap().title(), "Feuille de route commune IMME");
  EXPECT_EQ(resp.roadmap().etag(), "2");

  req.mutable_update_mask()->set_paths(0, "copilot_organization_ids");
  grpc::Status s =
      stub_->UpdateRoadmap(Ctx(harness_.admin_token()).get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto violations = ViolationsOf(FromGrpcStatus(s));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "update_mask");

  rpb::UpdateIndicatorRequest ireq;
  ireq.mutable_indicator()->set_id(f_.indicator);
  ireq.mutable_indicator()->set_target_value(-5);  // below the baseline
  ireq.mutable_update_mask()->add_paths("target_value");
  rpb::UpdateIndicatorResponse iresp;
  EXPECT_EQ(
      stub_->UpdateIndicator(Ctx(harness_.admin_token()).get(), ireq, &iresp)
          .error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

// An indicator stored before a trajectory point on the target date had to
// be the target still takes updates that leave its trajectory alone.
TEST_F(RoadmapServiceTest, AnIndicatorStoredBeforeTheTrajectoryRuleUpdates) {
  const std::string key = Keys::Entity(kIndicator, f_.indicator);
  auto stored = harness_.redis().Command({"HGET", key, "d"});
  ASSERT_TRUE(stored.ok() && !stored->is_nil());
  rpb::Indicator legacy;
  ASSERT_TRUE(legacy.ParseFromString(stored->str()));
  legacy.clear_trajectory();
  auto* end = legacy.add_trajectory();
  *end->mutable_date() = legacy.target_date();
  end->set_value(legacy.target_value() - 1);
  ASSERT_TRUE(harness_.redis()
                  .Command({"HSET", key, "d", legacy.SerializeAsString()})
                  .ok());
  harness_.cache().Drop(key);
  rpb::UpdateIndicatorRequest req;
  req.mutable_indicator()->set_id(f_.indicator);
  req.mutable_indicator()->set_name("Emplois directs créés");
  req.mutable_update_mask()->add_paths("name");
  rpb::UpdateIndicatorResponse resp;
  grpc::Status s =
      stub_->UpdateIndicator(Ctx(harness_.admin_token()).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  // Setting the trajectory is checked against the rule.
  req.mutable_indicator()->clear_name();
  *req.mutable_indicator()->mutable_trajectory() = legacy.trajectory();
  req.mutable_indicator()->mutable_trajectory(0)->set_value(
      legacy.target_value() - 2);
  req.mutable_update_mask()->set_paths(0, "trajectory");
  s = stub_->UpdateIndicator(Ctx(harness_.admin_token()).get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto violations = ViolationsOf(FromGrpcStatus(s));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "indicator.trajectory[0].value");
}

TEST_F(RoadmapServiceTest, CommentsAreListedAndIdempotent) {
  auto a = Create(NewAction("Commentée"), f_.federation_copilot);
  ASSERT_TRUE(a.ok());
  rpb::AddCommentRequest req;
  req.set_action_id(a->id());
  req.set_body("Réunion de lancement le 11 juillet à Casablanca.");
  req.set_request_id("c-1");
  rpb::AddCommentResponse first, second;
  ASSERT_TRUE(
      stub_->AddComment(Ctx(f_.ministry_copilot).get(), req, &first).ok());
  ASSERT_TRUE(
      stub_->AddComment(Ctx(f_.ministry_copilot).get(), req, &second).ok());
  EXPECT_EQ(first.comment().id(), second.comment().id());
  rpb::ListCommentsRequest list;
  list.set_action_id(a->id());
  rpb::ListCommentsResponse comments;
  ASSERT_TRUE(
      stub_->ListComments(Ctx(f_.member_token).get(), list, &comments).ok());
  ASSERT_EQ(comments.comments_size(), 1);
  EXPECT_EQ(comments.comments(0).author().organization_id(), f_.ministry);

  req.set_action_id("01NOSUCHACTION000000000000");
  req.set_request_id("");
  EXPECT_EQ(stub_->AddComment(Ctx(f_.ministry_copilot).get(), req, &first)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A retried AddComment answers the first attempt's comment however many
// comments the action has: it used to look among the first 100,000 only.
TEST_F(RoadmapServiceTest, ARetriedCommentIsFoundBehindManyOthers) {
  auto a = Create(NewAction("Très commentée"), f_.federation_copilot);
  ASSERT_TRUE(a.ok());
  std::vector<std::string> push = {"RPUSH", Keys::ActionComments(a->id())};
  for (int n = 0; n <= 100000; ++n) {
    rpb::Comment c;
    c.set_id(absl::StrCat("01FILLER", n));
    c.set_action_id(a->id());
    c.set_body("Relance");
    push.push_back(c.SerializeAsString());
  }
  ASSERT_TRUE(harness_.redis().Command(push).ok());
  rpb::AddCommentRequest req;
  req.set_action_id(a->id());
  req.set_body("Compte rendu envoyé.");
  req.set_request_id("c-late");
  rpb::AddCommentResponse first, second;
  ASSERT_TRUE(
      stub_->AddComment(Ctx(f_.ministry_copilot).get(), req, &first).ok());
  grpc::Status retried =
      stub_->AddComment(Ctx(f_.ministry_copilot).get(), req, &second);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_EQ(second.comment().id(), first.comment().id());
  EXPECT_EQ(second.comment().body(), "Compte rendu envoyé.");
}

// A stopping server answers CANCELLED to the calls that reach it after its
// shutdown began (gRPC 1.51 drops them unrun). A client dialled the Jalon
// way (services/common/channel.h) sends those again: under a stream of
// creates, the stop costs its clients no CANCELLED, only UNAVAILABLE once
// the server is gone, and no create happens twice.
TEST_F(RoadmapServiceTest, ClientsRetryCallsADrainingServerCancelled) {
  auto channel =
      Dial(harness_.target(), rpb::RoadmapService::service_full_name());
  auto stub = rpb::RoadmapService::NewStub(channel);
  constexpr int kClients = 64;
  std::mutex mu;
  std::map<grpc::StatusCode, int> codes;
  std::set<std::string> created;
  int sent = 0;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      for (int n = 0;; ++n) {
        rpb::CreateActionRequest req;
        *req.mutable_action() = NewAction("Pendant l'arrêt");
        req.set_request_id(absl::StrCat("drain-", i, "-", n));
        rpb::CreateActionResponse resp;
        grpc::Status s =
            stub->CreateAction(Ctx(f_.federation_copilot).get(), req, &resp);
        std::lock_guard<std::mutex> lock(mu);
        ++sent;
        ++codes[s.error_code()];
        if (s.ok()) created.insert(resp.action().id());
        if (!s.ok()) return;  // stopped, or failed: either way, done
      }
    });
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return sent >= 4 * kClients;
      },
      std::chrono::seconds(30)));
  harness_.StopService();
  for (auto& t : clients) t.join();

  EXPECT_EQ(codes.count(grpc::StatusCode::CANCELLED), 0u)
      << "a call the draining server dropped reached its caller";
  EXPECT_EQ(codes[grpc::StatusCode::UNAVAILABLE], kClients)
      << "every client ends on the stopped server";
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(code == grpc::StatusCode::OK ||
                code == grpc::StatusCode::UNAVAILABLE)
        << n << " calls answered " << code;
  }
  // Every create answered OK is there once; none ran twice.
  auto count = harness_.redis().Command(
      {"ZCARD", Keys::Children(kRoadmap, f_.roadmap, kAction)});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->integer(), static_cast<int64_t>(created.size()));
  EXPECT_EQ(created.size(), static_cast<size_t>(codes[grpc::StatusCode::OK]));
  EXPECT_EQ(channel->GetServiceConfigJSON(),
            ClientServiceConfig(rpb::RoadmapService::service_full_name()))
      << "gRPC took the service config";
}

// The probe's check that a failed call wrote nothing is only as good as
// the digest: it must see any change of content, and nothing else.
TEST_F(RoadmapServiceTest, DataDigestSeesEveryChangeOfContent) {
  RedisClient& r = harness_.redis();
  std::string digest = testing::DataDigest(r);
  ASSERT_FALSE(digest.empty());
  auto changes = [&](const RedisArgs& command) {
    EXPECT_TRUE(r.Command(command).ok());
    std::string now = testing::DataDigest(r);
    bool changed = now != digest;
    digest = now;
    return changed;
  };
  EXPECT_TRUE(changes({"HSET", "probe:h", "a", "1", "b", "2"}));
  EXPECT_FALSE(changes({"HSET", "probe:h", "a", "1"}));  // same value
  EXPECT_TRUE(changes({"HSET", "probe:h", "a", "3"}));
  EXPECT_TRUE(changes({"SADD", "probe:s", "x", "y"}));
  EXPECT_FALSE(changes({"SADD", "probe:s", "y"}));
  EXPECT_TRUE(changes({"ZADD", "probe:z", "1", "x"}));
  EXPECT_TRUE(changes({"ZADD", "probe:z", "2", "x"}));  // a score
  EXPECT_TRUE(changes({"RPUSH", "probe:l", "x"}));
  EXPECT_TRUE(changes({"SET", "probe:k", "v"}));
  EXPECT_TRUE(changes({"XADD", "probe:x", "MAXLEN", "1", "*", "f", "v"}));
  // Same length once trimmed, but a new last entry.
  EXPECT_TRUE(changes({"XADD", "probe:x", "MAXLEN", "1", "*", "f", "v"}));
  EXPECT_FALSE(changes({"HGETALL", "probe:h"}));  // a read
  EXPECT_TRUE(changes({"DEL", "probe:k"}));
}

// Every RPC, called with requests no one wrote by hand (see
// tests/support/random_requests.h): each answer is one a client can act on,
// names the field when the input is bad, and a failed call writes nothing.
TEST_F(RoadmapServiceTest,
       RandomRequestsGetClearAnswersAndFailuresWriteNothing) {
  auto action = Create(NewAction("Plateforme de tri"), f_.federation_copilot);
  ASSERT_TRUE(action.ok()) << action.status();
  testing::ProbeOptions o;
  o.service = rpb::RoadmapService::service_full_name();
  o.tokens = {harness_.admin_token(), harness_.admin_token(),
              f_.federation_copilot, f_.ministry_copilot, f_.member_token};
  o.known_strings = {f_.roadmap,    f_.ecosystem, f_.indicator,
                     f_.federation, f_.ministry,  f_.member,
                     action->id(),  "1",          "2"};
  o.calls = 800;
  o.seed = 20261127;
  // Valid requests, which most calls change a little.
  o.vars = {{"$R", f_.roadmap},
            {"$E", f_.ecosystem},
            {"$I", f_.indicator},
            {"$F", f_.federation},
            {"$M", f_.ministry},
            {"$A", action->id()},
            {"$D", "{ year: 2024 month: 7 day: 11 }"}};
  o.valid_requests = {
      {"CreateOrganization",
       "organization { name: 'Atlas Fonderie' kind: "
       "ORGANIZATION_KIND_MEMBER_COMPANY }"},
      {"UpdateOrganization",
       "organization { id: '$F' description: 'Fédération' } update_mask { "
       "paths: 'description' }"},
      {"IssueToken",
       "principal_name: 'k.alaoui' organization_id: '$F' role: ROLE_COPILOT"},
      {"CreateRoadmap",
       "roadmap { title: 'IMME 2030' start_date $D horizon_date { year: 2030 "
       "month: 12 day: 31 } copilot_organization_ids: ['$F', '$M'] }"},
      {"UpdateRoadmap",
       "roadmap { id: '$R' title: 'IMME' } update_mask { paths: 'title' }"},
      {"CreateEcosystem",
       "ecosystem { roadmap_id: '$R' name: 'Fonderie' creation_date $D }"},
      {"UpdateEcosystem",
       "ecosystem { id: '$E' name: 'Forge' } update_mask { paths: 'name' }"},
      {"CreateIndicator",
       "indicator { roadmap_id: '$R' ecosystem_id: '$E' name: 'Emplois' "
       "unit: INDICATOR_UNIT_JOBS baseline_value: 0 baseline_date $D "
       "target_value: 1000 target_date { year: 2030 month: 1 day: 1 } }"},
      {"UpdateIndicator",
       "indicator { id: '$I' target_value: 14000 } update_mask { paths: "
       "'target_value' }"},
      {"RecordMeasurement",
       "measurement { indicator_id: '$I' value: 4120 period_start { year: "
       "2017 month: 1 day: 1 } period_end { year: 2017 month: 12 day: 31 } "
       "source: 'CNSS' }"},
      {"CreateAction",
       "action { roadmap_id: '$R' ecosystem_id: '$E' title: 'Tri' "
       "lead_organization_id: '$F' partner_organization_id: '$M' due_date { "
       "year: 2099 month: 12 day: 31 } milestones { title: 'Étude' due_date "
       "$D } tags: 'tri' }"},
      {"UpdateAction",
       "action { id: '$A' title: 'Tri sélectif' owner: 'K.' } update_mask { "
       "paths: ['title', 'owner'] }"},
      {"TransitionAction", "id: '$A' target_status: ACTION_STATUS_PLANNED"},
      {"AddComment", "action_id: '$A' body: 'Réunion fixée'"},
  };
  o.redis = &harness_.redis();
  const int succeeded = testing::ProbeRandomRequests(harness_.channel(), o);
  // Some requests got through every rule (so the probe reached the writes).
  EXPECT_GT(succeeded, 20);
  rpb::GetActionRequest get;
  get.set_id(action->id());
  rpb::GetActionResponse got;
  EXPECT_TRUE(stub_->GetAction(Ctx(f_.reader_token).get(), get, &got).ok());
}

// Request bytes that are not a message: gRPC itself would answer
// UNIMPLEMENTED with no message, as if the method did not exist.
TEST_F(RoadmapServiceTest, RequestBytesThatDoNotParseAreInvalidArgument) {
  const auto* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          rpb::RoadmapService::service_full_name());
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(testing::ProbeUnparsableRequests(
                harness_.channel(), service->full_name(),
                harness_.admin_token(), harness_.redis()),
            service->method_count());
}

}  // namespace
}  // namespace jalon::roadmap
