// The feedback service's rules over real gRPC, beside a real roadmap service
// on a real redis-server: who sees what, who edits what, moderation by
// reports, partnership matchmaking with contacts revealed only on
// acceptance, accent-insensitive search with filters, orders and pages,
// consultations, bad input that writes nothing, and lifecycle errors.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "jalon/events/v1/events.pb.h"
#include "services/common/dates.h"
#include "services/common/status.h"
#include "services/feedback/store.h"
#include "tests/support/feedback_harness.h"

namespace jalon::feedback {
namespace {

using common::v1::Role;
using testing::Ctx;
using testing::D;
using testing::FeedbackHarness;
using testing::Fixture;
namespace rpb = ::jalon::roadmap::v1;
namespace fpb = ::jalon::feedback::v1;

constexpr char kFeedbackStream[] = "jalon:feedback:events";

google::protobuf::Timestamp In(std::chrono::seconds d) {
  return ToTimestamp(std::chrono::system_clock::now() + d);
}

// The fields an INVALID_ARGUMENT names (google.rpc.BadRequest).
std::vector<std::string> FieldsOf(const grpc::Status& s) {
  std::vector<std::string> out;
  for (const auto& v : ViolationsOf(FromGrpcStatus(s))) out.push_back(v.field);
  return out;
}

std::string ReasonOfGrpc(const grpc::Status& s) {
  return ReasonOf(FromGrpcStatus(s));
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string Describe(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " +
         s.error_message();
}

// A member company and one of its members' token.
struct Member {
  std::string org;
  std::string token;
};

class FeedbackRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(h_.Start().ok());
    f_ = h_.roadmap().MakeFixture();
    ASSERT_FALSE(f_.roadmap.empty());
    stub_ = h_.Stub();
    roadmap_ = h_.roadmap().Stub();
  }

  Member NewMember(const std::string& name) {
    rpb::CreateOrganizationRequest req;
    req.mutable_organization()->set_name(name);
    req.mutable_organization()->set_kind(rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
    rpb::CreateOrganizationResponse resp;
    grpc::Status s = roadmap_->CreateOrganization(
        Ctx(h_.roadmap().admin_token()).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    Member m;
    m.org = resp.organization().id();
    m.token = h_.roadmap().IssueToken(m.org, Role::ROLE_MEMBER, name);
    return m;
  }

  // The fixture's member company, as its first member.
  Member Atlas() const { return {f_.member, f_.member_token}; }

  fpb::FeedbackItem BaseItem(fpb::FeedbackKind kind, const std::string& title,
                             const std::string& body) const {
    fpb::FeedbackItem i;
    i.set_roadmap_id(f_.roadmap);
    i.set_kind(kind);
    i.set_title(title);
    i.set_body(body);
    if (kind == fpb::FEEDBACK_KIND_BLOCKER) i.set_severity(fpb::SEVERITY_HIGH);
    return i;
  }

  grpc::Status TrySubmit(const std::string& token, const fpb::FeedbackItem& i,
                         fpb::FeedbackItem* out = nullptr) {
    fpb::SubmitFeedbackRequest req;
    *req.mutable_item() = i;
    fpb::SubmitFeedbackResponse resp;
    grpc::Status s = stub_->SubmitFeedback(Ctx(token).get(), req, &resp);
    if (out) *out = resp.item();
    return s;
  }

  fpb::FeedbackItem Submit(const std::string& token,
                           const fpb::FeedbackItem& i) {
    fpb::FeedbackItem out;
    grpc::Status s = TrySubmit(token, i, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(out.id().empty());
    return out;
  }

  fpb::FeedbackItem Submit(const std::string& token, fpb::FeedbackKind kind,
                           const std::string& title = "Coût de l'énergie",
                           const std::string& body =
                               "Le prix de l'électricité "
                               "pèse sur la fonderie.") {
    return Submit(token, BaseItem(kind, title, body));
  }

  grpc::Status TryGet(const std::string& id, const std::string& token,
                      fpb::FeedbackItem* out = nullptr) {
    fpb::GetFeedbackRequest req;
    req.set_id(id);
    fpb::GetFeedbackResponse resp;
    grpc::Status s = stub_->GetFeedback(Ctx(token).get(), req, &resp);
    if (out) *out = resp.item();
    return s;
  }

  fpb::FeedbackItem Get(const std::string& id, const std::string& token) {
    fpb::FeedbackItem out;
    grpc::Status s = TryGet(id, token, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // Every page of a listing (page_size 1000 unless set), ids in order.
  std::vector<std::string> ListIds(const std::string& token,
                                   fpb::ListFeedbackRequest req) {
    if (req.roadmap_id().empty()) req.set_roadmap_id(f_.roadmap);
    std::vector<std::string> ids;
    for (int pages = 0; pages < 100; ++pages) {
      fpb::ListFeedbackResponse resp;
      grpc::Status s = stub_->ListFeedback(Ctx(token).get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& i : resp.items()) ids.push_back(i.id());
      if (resp.next_page_token().empty()) return ids;
      req.set_page_token(resp.next_page_token());
    }
    ADD_FAILURE() << "ListFeedback never reached its last page";
    return ids;
  }

  std::vector<std::string> ListIds(const std::string& token) {
    return ListIds(token, fpb::ListFeedbackRequest());
  }

  std::vector<std::string> Search(const std::string& query) {
    fpb::ListFeedbackRequest req;
    req.set_query(query);
    return ListIds(f_.ministry_copilot, req);
  }

  grpc::Status Acknowledge(const std::string& id,
                           fpb::FeedbackItem* out = nullptr) {
    fpb::AcknowledgeFeedbackRequest req;
    req.set_id(id);
    fpb::AcknowledgeFeedbackResponse resp;
    grpc::Status s =
        stub_->AcknowledgeFeedback(Ctx(f_.ministry_copilot).get(), req, &resp);
    if (out) *out = resp.item();
    return s;
  }

  grpc::Status Endorse(const std::string& id, const std::string& token) {
    fpb::EndorseFeedbackRequest req;
    req.set_feedback_id(id);
    fpb::EndorseFeedbackResponse resp;
    return stub_->EndorseFeedback(Ctx(token).get(), req, &resp);
  }

  grpc::Status Report(const std::string& id, const std::string& token,
                      bool* hidden = nullptr) {
    fpb::ReportFeedbackRequest req;
    req.set_feedback_id(id);
    req.set_reason(
        "Contenu publicitaire sans rapport avec la feuille de route");
    fpb::ReportFeedbackResponse resp;
    grpc::Status s = stub_->ReportFeedback(Ctx(token).get(), req, &resp);
    if (hidden) *hidden = resp.hidden();
    return s;
  }

  grpc::Status Update(const std::string& token, const fpb::FeedbackItem& item,
                      const std::vector<std::string>& paths,
                      fpb::FeedbackItem* out = nullptr) {
    fpb::UpdateFeedbackRequest req;
    *req.mutable_item() = item;
    for (const auto& p : paths) req.mutable_update_mask()->add_paths(p);
    fpb::UpdateFeedbackResponse resp;
    grpc::Status s = stub_->UpdateFeedback(Ctx(token).get(), req, &resp);
    if (out) *out = resp.item();
    return s;
  }

  grpc::Status CreateConsultation(const std::string& roadmap,
                                  std::chrono::seconds open_in,
                                  std::chrono::seconds close_in,
                                  fpb::Consultation* out) {
    fpb::CreateConsultationRequest req;
    auto* c = req.mutable_consultation();
    c->set_roadmap_id(roadmap);
    c->set_title("Rencontre FIMME, Casablanca, 11 juillet");
    c->set_place("Casablanca");
    *c->mutable_date() = D(2024, 7, 11);
    *c->mutable_open_time() = In(open_in);
    *c->mutable_close_time() = In(close_in);
    fpb::CreateConsultationResponse resp;
    grpc::Status s =
        stub_->CreateConsultation(Ctx(f_.federation_copilot).get(), req, &resp);
    *out = resp.consultation();
    return s;
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
    grpc::Status s =
        roadmap_->CreateAction(Ctx(f_.federation_copilot).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.action().id();
  }

  std::vector<std::string> HistoryTypes(const std::string& id,
                                        const std::string& token) {
    fpb::ListFeedbackHistoryRequest req;
    req.set_feedback_id(id);
    req.set_page_size(1000);
    fpb::ListFeedbackHistoryResponse resp;
    grpc::Status s = stub_->ListFeedbackHistory(Ctx(token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> types;
    for (const auto& e : resp.entries()) types.push_back(e.event_type());
    return types;
  }

  int64_t StreamLength() {
    auto r = h_.roadmap().redis().Command({"XLEN", kFeedbackStream});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->integer() : -1;
  }

  FeedbackHarness h_;
  Fixture f_;
  std::unique_ptr<fpb::FeedbackService::Stub> stub_;
  std::unique_ptr<rpb::RoadmapService::Stub> roadmap_;
};

// --- Visibility --------------------------------------------------------------

TEST_F(FeedbackRulesTest, CopilotsOnlyItemsAreSeenByTheAuthorAndCopilotsOnly) {
  const Member atlas = Atlas();
  const std::string atlas_colleague =
      h_.roadmap().IssueToken(f_.member, Role::ROLE_MEMBER, "colleague");
  const Member velo = NewMember("Maroc Vélo");

  fpb::FeedbackItem restricted =
      BaseItem(fpb::FEEDBACK_KIND_BLOCKER, "Litige avec un fournisseur",
               "Détails commerciaux confidentiels.");
  restricted.set_visibility(fpb::VISIBILITY_COPILOTS_ONLY);
  const fpb::FeedbackItem secret = Submit(atlas.token, restricted);
  EXPECT_EQ(secret.visibility(), fpb::VISIBILITY_COPILOTS_ONLY);
  // Unset visibility defaults to ALL_MEMBERS.
  const fpb::FeedbackItem open =
      Submit(atlas.token, fpb::FEEDBACK_KIND_STRENGTH, "Savoir-faire",
             "Des fondeurs expérimentés.");
  EXPECT_EQ(open.visibility(), fpb::VISIBILITY_ALL_MEMBERS);

  // Another member organisation and a reader: it does not exist.
  for (const std::string& outsider : {velo.token, f_.reader_token}) {
    SCOPED_TRACE(outsider == velo.token ? "other member" : "reader");
    EXPECT_EQ(TryGet(secret.id(), outsider).error_code(),
              grpc::StatusCode::NOT_FOUND);
    std::vector<std::string> listed = ListIds(outsider);
    EXPECT_FALSE(Has(listed, secret.id()));
    EXPECT_TRUE(Has(listed, open.id()));
    // Nor can its history be read.
    fpb::ListFeedbackHistoryRequest hreq;
    hreq.set_feedback_id(secret.id());
    fpb::ListFeedbackHistoryResponse hresp;
    EXPECT_EQ(stub_->ListFeedbackHistory(Ctx(outsider).get(), hreq, &hresp)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // Not even by searching for its words.
  fpb::ListFeedbackRequest search;
  search.set_query("litige fournisseur");
  EXPECT_TRUE(ListIds(velo.token, search).empty());
  // Nor endorsed.
  EXPECT_EQ(Endorse(secret.id(), velo.token).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // A reader sees ALL_MEMBERS items.
  EXPECT_EQ(Get(open.id(), f_.reader_token).title(), "Savoir-faire");

  // The author organisation (any of its members) and the co-pilots see it.
  for (const std::string& insider :
       {atlas.token, atlas_colleague, f_.federation_copilot,
        f_.ministry_copilot, h_.roadmap().admin_token()}) {
    fpb::FeedbackItem got;
    grpc::Status s = TryGet(secret.id(), insider, &got);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(got.title(), "Litige avec un fournisseur");
    std::vector<std::string> listed = ListIds(insider);
    EXPECT_TRUE(Has(listed, secret.id()));
    EXPECT_TRUE(Has(listed, open.id()));
  }
}

// --- Editing -----------------------------------------------------------------

// An endorser whose item became co-pilots only can still withdraw its
// endorsement, but is not told the item's count any more.
TEST_F(FeedbackRulesTest, AWithdrawalShowsNoCountOfAnItemNoLongerVisible) {
  const Member velo = NewMember("Maroc Vélo");
  const Member cuivre = NewMember("Cuivre du Sud");
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  ASSERT_TRUE(Endorse(item.id(), velo.token).ok());
  ASSERT_TRUE(Endorse(item.id(), cuivre.token).ok());
  item = Get(item.id(), f_.member_token);
  item.set_visibility(fpb::VISIBILITY_COPILOTS_ONLY);
  ASSERT_TRUE(Update(f_.member_token, item, {"visibility"}).ok());

  fpb::WithdrawEndorsementRequest req;
  req.set_feedback_id(item.id());
  fpb::WithdrawEndorsementResponse resp;
  grpc::Status s =
      stub_->WithdrawEndorsement(Ctx(velo.token).get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.endorsement_count(), 0);
  EXPECT_EQ(Get(item.id(), f_.ministry_copilot).endorsement_count(), 1);
  // Visible again: the count is told.
  item = Get(item.id(), f_.member_token);
  item.set_visibility(fpb::VISIBILITY_ALL_MEMBERS);
  ASSERT_TRUE(Update(f_.member_token, item, {"visibility"}).ok());
  ASSERT_TRUE(Endorse(item.id(), velo.token).ok());
  s = stub_->WithdrawEndorsement(Ctx(cuivre.token).get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.endorsement_count(), 1);
}

// An endorsement or withdrawal is committed before its answer reads the
// count: a failed count read answers OK without it, not an error whose
// retry would then say ALREADY_ENDORSED or NOT_ENDORSED.
TEST_F(FeedbackRulesTest, ACommittedEndorsementIsOkWhenItsCountCannotBeRead) {
  const Member velo = NewMember("Maroc Vélo");
  fpb::FeedbackItem item = Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  auto& redis = h_.roadmap().redis();
  auto deny = [&](const char* rule) {
    auto r = redis.Command({"ACL", "SETUSER", "default", rule});
    ASSERT_TRUE(r.ok() && !r->is_error()) << (r.ok() ? r->str() : "");
  };
  deny("-zcard");  // only the count read fails
  grpc::Status s = Endorse(item.id(), velo.token);
  EXPECT_TRUE(s.ok()) << Describe(s);
  fpb::WithdrawEndorsementRequest req;
  req.set_feedback_id(item.id());
  fpb::WithdrawEndorsementResponse resp;
  deny("+zcard");
  EXPECT_EQ(Get(item.id(), f_.ministry_copilot).endorsement_count(), 1);
  deny("-zcard");
  s = stub_->WithdrawEndorsement(Ctx(velo.token).get(), req, &resp);
  EXPECT_TRUE(s.ok()) << Describe(s);
  deny("+zcard");
  EXPECT_EQ(Get(item.id(), f_.ministry_copilot).endorsement_count(), 0);
}

TEST_F(FeedbackRulesTest, TheAuthorOrganisationEditsOnlyWhileSubmitted) {
  const std::string atlas_colleague =
      h_.roadmap().IssueToken(f_.member, Role::ROLE_MEMBER, "colleague");
  const Member velo = NewMember("Maroc Vélo");
  const fpb::FeedbackItem item =
      Submit(f_.member_token, fpb::FEEDBACK_KIND_PROPOSAL, "Première version",
             "Un guichet unique pour l'export.");

  // Another member of the same organisation edits it.
  fpb::FeedbackItem edit = item;
  edit.set_title("Guichet unique export");
  fpb::FeedbackItem edited;
  grpc::Status s = Update(atlas_colleague, edit, {"title"}, &edited);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(edited.title(), "Guichet unique export");
  EXPECT_NE(edited.etag(), item.etag());
  EXPECT_EQ(Get(item.id(), velo.token).title(), "Guichet unique export");

  // A stale etag changes nothing.
  fpb::FeedbackItem stale = item;  // the first etag
  stale.set_title("Écrasé");
  EXPECT_EQ(Update(f_.member_token, stale, {"title"}).error_code(),
            grpc::StatusCode::ABORTED);

  // Another organisation cannot, nor can a reader.
  fpb::FeedbackItem hijack = edited;
  hijack.set_title("Détourné");
  EXPECT_EQ(Update(velo.token, hijack, {"title"}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Update(f_.reader_token, hijack, {"title"}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get(item.id(), f_.member_token).title(), "Guichet unique export");

  // Once acknowledged, the author organisation no longer can.
  fpb::FeedbackItem acked;
  ASSERT_TRUE(Acknowledge(item.id(), &acked).ok());
  fpb::FeedbackItem late = acked;
  late.set_title("Trop tard");
  grpc::StatusCode code = Update(f_.member_token, late, {"title"}).error_code();
  EXPECT_TRUE(code == grpc::StatusCode::FAILED_PRECONDITION ||
              code == grpc::StatusCode::PERMISSION_DENIED)
      << static_cast<int>(code);
  const fpb::FeedbackItem after = Get(item.id(), f_.member_token);
  EXPECT_EQ(after.title(), "Guichet unique export");
  EXPECT_EQ(after.etag(), acked.etag());
}

// --- Moderation --------------------------------------------------------------

TEST_F(FeedbackRulesTest, ReportsFromThreeOrganisationsHideUntilRestored) {
  const Member atlas = Atlas();
  const Member b = NewMember("Maroc Vélo");
  const Member c = NewMember("Cuivre du Sud");
  const Member d = NewMember("Forges de l'Atlas");
  const Member e = NewMember("Aluminium du Nord");
  const fpb::FeedbackItem item =
      Submit(atlas.token, fpb::FEEDBACK_KIND_OPPORTUNITY, "Promotion",
             "Achetez nos produits !");

  // Its own organisation cannot report it.
  EXPECT_EQ(Report(item.id(), atlas.token).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  bool hidden = true;
  ASSERT_TRUE(Report(item.id(), b.token, &hidden).ok());
  EXPECT_FALSE(hidden);
  // One report per organisation.
  grpc::Status again = Report(item.id(), b.token);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << Describe(again);
  hidden = true;
  ASSERT_TRUE(Report(item.id(), c.token, &hidden).ok());
  EXPECT_FALSE(hidden);  // two organisations, one of them twice: not yet
  EXPECT_TRUE(Has(ListIds(e.token), item.id()));
  EXPECT_TRUE(TryGet(item.id(), e.token).ok());

  hidden = false;
  ASSERT_TRUE(Report(item.id(), d.token, &hidden).ok());
  EXPECT_TRUE(hidden);

  // Gone for other members and readers.
  for (const std::string& other : {e.token, b.token, f_.reader_token}) {
    EXPECT_EQ(TryGet(item.id(), other).error_code(),
              grpc::StatusCode::NOT_FOUND);
    EXPECT_FALSE(Has(ListIds(other), item.id()));
    fpb::ListFeedbackRequest all;
    all.set_include_hidden(true);  // co-pilots only: ignored for others
    EXPECT_FALSE(Has(ListIds(other, all), item.id()));
  }
  // Readers read what all members may read: not even a reader of its own
  // organisation (a newsletter, a dashboard) gets a moderated item.
  const std::string atlas_reader =
      h_.roadmap().IssueToken(atlas.org, Role::ROLE_READER, "lettre");
  EXPECT_EQ(TryGet(item.id(), atlas_reader).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(Has(ListIds(atlas_reader), item.id()));
  // Its author still sees it, hidden, without the reports.
  const fpb::FeedbackItem own = Get(item.id(), atlas.token);
  EXPECT_TRUE(own.hidden());
  EXPECT_EQ(own.reports_size(), 0);
  // Co-pilots see it with the reports, and list it only when they ask.
  const fpb::FeedbackItem seen = Get(item.id(), f_.federation_copilot);
  EXPECT_TRUE(seen.hidden());
  EXPECT_FALSE(seen.moderation_reason().empty());
  ASSERT_EQ(seen.reports_size(), 3);
  EXPECT_EQ(seen.reports(0).organization_id(), b.org);
  EXPECT_EQ(seen.reports(1).organization_id(), c.org);
  EXPECT_EQ(seen.reports(2).organization_id(), d.org);
  EXPECT_FALSE(Has(ListIds(f_.federation_copilot), item.id()));
  fpb::ListFeedbackRequest with_hidden;
  with_hidden.set_include_hidden(true);
  EXPECT_TRUE(Has(ListIds(f_.federation_copilot, with_hidden), item.id()));

  // A moderator's decision needs a reason.
  fpb::ModerateFeedbackRequest mod;
  mod.set_id(item.id());
  mod.set_hide(false);
  fpb::ModerateFeedbackResponse modded;
  grpc::Status no_reason =
      stub_->ModerateFeedback(Ctx(f_.ministry_copilot).get(), mod, &modded);
  EXPECT_EQ(no_reason.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Has(FieldsOf(no_reason), "reason"));
  // A co-pilot restores it.
  mod.set_reason("Vérifié : une offre légitime entre membres");
  grpc::Status restored =
      stub_->ModerateFeedback(Ctx(f_.ministry_copilot).get(), mod, &modded);
  ASSERT_TRUE(restored.ok()) << restored.error_message();
  EXPECT_FALSE(modded.item().hidden());
  EXPECT_EQ(modded.item().moderation_reason(),
            "Vérifié : une offre légitime entre membres");
  EXPECT_EQ(modded.item().reports_size(), 0);
  for (const std::string& other : {e.token, b.token, f_.reader_token}) {
    fpb::FeedbackItem back;
    grpc::Status s = TryGet(item.id(), other, &back);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(back.hidden());
    EXPECT_TRUE(Has(ListIds(other), item.id()));
  }

  // The history tells the story.
  const std::vector<std::string> types =
      HistoryTypes(item.id(), f_.federation_copilot);
  const std::vector<std::string> expected = {
      "feedback.item.submitted", "feedback.item.reported",
      "feedback.item.reported", "feedback.item.reported",
      "feedback.item.restored"};
  EXPECT_EQ(types, expected);
}

// --- Partnership matchmaking ------------------------------------------------

TEST_F(FeedbackRulesTest, PartnershipContactsAreRevealedOnlyOnAcceptance) {
  const Member atlas = Atlas();
  const Member velo = NewMember("Maroc Vélo");
  const Member cuivre = NewMember("Cuivre du Sud");
  const std::string kOfferContact = "partenariats@atlas-cables.ma";
  const std::string kVeloContact = "achats@marocvelo.ma";

  fpb::FeedbackItem offer_in =
      BaseItem(fpb::FEEDBACK_KIND_PARTNERSHIP_OFFER, "Capacité de tréfilage",
               "Nous proposons notre capacité de tréfilage du cuivre.");
  offer_in.set_contact(kOfferContact);
  const fpb::FeedbackItem offer = Submit(atlas.token, offer_in);
  EXPECT_EQ(offer.contact(), kOfferContact);  // its author sees it
  // Other members see the offer, not its contact.
  fpb::FeedbackItem seen_by_velo = Get(offer.id(), velo.token);
  EXPECT_EQ(seen_by_velo.title(), "Capacité de tréfilage");
  EXPECT_TRUE(seen_by_velo.contact().empty());
  EXPECT_TRUE(Get(offer.id(), f_.reader_token).contact().empty());

  // Maroc Vélo is interested.
  fpb::ExpressInterestRequest ereq;
  ereq.set_feedback_id(offer.id());
  ereq.set_message("Nous cherchons du fil de cuivre pour nos dynamos.");
  ereq.set_contact(kVeloContact);
  fpb::ExpressInterestResponse eresp;
  grpc::Status s = stub_->ExpressInterest(Ctx(velo.token).get(), ereq, &eresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const fpb::Interest interest = eresp.interest();
  EXPECT_EQ(interest.state(), fpb::INTEREST_STATE_PENDING);
  EXPECT_EQ(interest.organization_id(), velo.org);
  EXPECT_TRUE(interest.offer_contact().empty());
  // Once per organisation.
  fpb::ExpressInterestResponse twice;
  grpc::Status dup =
      stub_->ExpressInterest(Ctx(velo.token).get(), ereq, &twice);
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS)
      << Describe(dup);

  auto list = [&](const std::string& token) {
    fpb::ListInterestsRequest req;
    req.set_feedback_id(offer.id());
    fpb::ListInterestsResponse resp;
    grpc::Status st = stub_->ListInterests(Ctx(token).get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  // The offering organisation sees the interest, not yet the contact.
  fpb::ListInterestsResponse offered = list(atlas.token);
  ASSERT_EQ(offered.interests_size(), 1);
  EXPECT_EQ(offered.interests(0).id(), interest.id());
  EXPECT_EQ(offered.interests(0).state(), fpb::INTEREST_STATE_PENDING);
  EXPECT_EQ(offered.interests(0).organization_id(), velo.org);
  EXPECT_TRUE(offered.interests(0).contact().empty());
  // The interested organisation does not see the offer's contact yet.
  fpb::ListInterestsResponse mine = list(velo.token);
  ASSERT_EQ(mine.interests_size(), 1);
  EXPECT_TRUE(mine.interests(0).offer_contact().empty());
  // A third organisation sees no one's interest, and cannot decide: for it
  // the interest does not exist.
  EXPECT_EQ(list(cuivre.token).interests_size(), 0);
  fpb::DecideInterestRequest dreq;
  dreq.set_id(interest.id());
  dreq.set_accept(true);
  fpb::DecideInterestResponse dresp;
  EXPECT_EQ(
      stub_->DecideInterest(Ctx(cuivre.token).get(), dreq, &dresp).error_code(),
      grpc::StatusCode::NOT_FOUND);
  // Nor can the interested organisation accept itself.
  EXPECT_EQ(
      stub_->DecideInterest(Ctx(velo.token).get(), dreq, &dresp).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(list(atlas.token).interests(0).state(),
            fpb::INTEREST_STATE_PENDING);

  // The offering organisation accepts: each side now sees the other's.
  s = stub_->DecideInterest(Ctx(atlas.token).get(), dreq, &dresp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(dresp.interest().state(), fpb::INTEREST_STATE_ACCEPTED);
  EXPECT_EQ(dresp.interest().contact(), kVeloContact);
  offered = list(atlas.token);
  ASSERT_EQ(offered.interests_size(), 1);
  EXPECT_EQ(offered.interests(0).state(), fpb::INTEREST_STATE_ACCEPTED);
  EXPECT_EQ(offered.interests(0).contact(), kVeloContact);
  mine = list(velo.token);
  ASSERT_EQ(mine.interests_size(), 1);
  EXPECT_EQ(mine.interests(0).offer_contact(), kOfferContact);
  // Only through its interest: the item itself still hides it, and the
  // third organisation learns nothing.
  EXPECT_TRUE(Get(offer.id(), velo.token).contact().empty());
  EXPECT_TRUE(Get(offer.id(), cuivre.token).contact().empty());
  EXPECT_EQ(list(cuivre.token).interests_size(), 0);
  // Readers (dashboards, newsletters) read what every member may read:
  // not the contacts, nor the interests, even of their own organisation.
  for (const Member* m : {&atlas, &velo}) {
    const std::string reader =
        h_.roadmap().IssueToken(m->org, Role::ROLE_READER, "bot");
    EXPECT_TRUE(Get(offer.id(), reader).contact().empty());
    EXPECT_EQ(list(reader).interests_size(), 0);
  }
  // Decided once.
  EXPECT_EQ(
      stub_->DecideInterest(Ctx(atlas.token).get(), dreq, &dresp).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  // Interest is for partnership offers only.
  const fpb::FeedbackItem proposal =
      Submit(atlas.token, fpb::FEEDBACK_KIND_PROPOSAL);
  ereq.set_feedback_id(proposal.id());
  grpc::Status not_offer =
      stub_->ExpressInterest(Ctx(cuivre.token).get(), ereq, &eresp);
  EXPECT_TRUE(not_offer.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
              not_offer.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
      << Describe(not_offer);
}

// A SubmitFeedback retried with its request_id returns the item as it is
// now, endorsements included, as GetFeedback shows it.
TEST_F(FeedbackRulesTest, ASubmitRetriedLaterShowsTheEndorsementsSince) {
  const Member atlas = Atlas();
  const Member velo = NewMember("Maroc Vélo");
  fpb::SubmitFeedbackRequest req;
  req.set_request_id("submit-energie-1");
  *req.mutable_item() = BaseItem(fpb::FEEDBACK_KIND_BLOCKER, "Énergie chère",
                                 "Le prix de l'électricité pèse.");
  fpb::SubmitFeedbackResponse first;
  ASSERT_TRUE(stub_->SubmitFeedback(Ctx(atlas.token).get(), req, &first).ok());
  ASSERT_TRUE(Endorse(first.item().id(), velo.token).ok());
  fpb::SubmitFeedbackResponse again;
  ASSERT_TRUE(stub_->SubmitFeedback(Ctx(atlas.token).get(), req, &again).ok());
  EXPECT_EQ(again.item().id(), first.item().id());
  EXPECT_EQ(again.item().endorsement_count(), 1);
  EXPECT_EQ(again.item().endorsement_count(),
            Get(first.item().id(), atlas.token).endorsement_count());
}

// A create that went through, then retried (its answer lost) after a check
// it passed would now fail: the retry gets what was created, not a
// refusal that reads as "nothing happened". A new request is refused.
TEST_F(FeedbackRulesTest, ARetryAfterTheWindowClosedGetsWhatWasCreated) {
  fpb::Consultation closing;
  ASSERT_TRUE(CreateConsultation(f_.roadmap, std::chrono::seconds(-60),
                                 std::chrono::seconds(2), &closing)
                  .ok());
  fpb::SubmitFeedbackRequest req;
  req.set_request_id("submit-avant-cloture");
  *req.mutable_item() = BaseItem(fpb::FEEDBACK_KIND_BLOCKER, "Délais douane",
                                 "Le dédouanement prend trois semaines.");
  req.mutable_item()->set_consultation_id(closing.id());
  fpb::SubmitFeedbackResponse first;
  ASSERT_TRUE(
      stub_->SubmitFeedback(Ctx(f_.member_token).get(), req, &first).ok());

  // An interest in an offer, then the offer is declined.
  const Member velo = NewMember("Maroc Vélo");
  fpb::FeedbackItem offer_in =
      BaseItem(fpb::FEEDBACK_KIND_PARTNERSHIP_OFFER, "Capacité d'usinage",
               "Deux centres d'usinage disponibles.");
  offer_in.set_contact("usinage@atlas.ma");
  const fpb::FeedbackItem offer = Submit(f_.member_token, offer_in);
  fpb::ExpressInterestRequest ereq;
  ereq.set_feedback_id(offer.id());
  ereq.set_request_id("interet-usinage");
  ereq.set_message("Intéressés.");
  ereq.set_contact("achats@marocvelo.ma");
  fpb::ExpressInterestResponse interest;
  grpc::Status s =
      stub_->ExpressInterest(Ctx(velo.token).get(), ereq, &interest);
  ASSERT_TRUE(s.ok()) << Describe(s);
  fpb::DeclineFeedbackRequest dreq;
  dreq.set_id(offer.id());
  dreq.set_public_answer("Hors du périmètre de la feuille de route.");
  fpb::DeclineFeedbackResponse dresp;
  ASSERT_TRUE(
      stub_->DeclineFeedback(Ctx(f_.ministry_copilot).get(), dreq, &dresp)
          .ok());

  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // closed
  const int64_t events = StreamLength();
  fpb::SubmitFeedbackResponse again;
  s = stub_->SubmitFeedback(Ctx(f_.member_token).get(), req, &again);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(again.item().id(), first.item().id());
  fpb::ExpressInterestResponse interest_again;
  s = stub_->ExpressInterest(Ctx(velo.token).get(), ereq, &interest_again);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(interest_again.interest().id(), interest.interest().id());
  EXPECT_EQ(StreamLength(), events);

  // New requests are refused.
  req.set_request_id("submit-apres-cloture");
  s = stub_->SubmitFeedback(Ctx(f_.member_token).get(), req, &again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << Describe(s);
  EXPECT_NE(s.error_message().find("not open"), std::string::npos);
  ereq.set_request_id("interet-usinage-2");
  s = stub_->ExpressInterest(Ctx(velo.token).get(), ereq, &interest_again);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << Describe(s);
  EXPECT_EQ(StreamLength(), events);
}

// A request_id used again returns the first interest; sent with another
// offer, it must not come back redacted against that offer (which would
// show that offer's contact).
TEST_F(FeedbackRulesTest, ARequestIdUsedAgainRevealsNoOtherOffersContact) {
  const Member atlas = Atlas();
  const Member velo = NewMember("Maroc Vélo");
  const Member cuivre = NewMember("Cuivre du Sud");
  auto offer_of = [&](const Member& m, const std::string& contact) {
    fpb::FeedbackItem in =
        BaseItem(fpb::FEEDBACK_KIND_PARTNERSHIP_OFFER, "Offre " + contact,
                 "Une capacité de production disponible.");
    in.set_contact(contact);
    return Submit(m.token, in);
  };
  const fpb::FeedbackItem first = offer_of(atlas, "atlas@example.ma");
  const fpb::FeedbackItem other = offer_of(cuivre, "secret@cuivre.ma");
  fpb::ExpressInterestRequest ereq;
  ereq.set_feedback_id(first.id());
  ereq.set_request_id("interest-1");
  ereq.set_message("Intéressés.");
  ereq.set_contact("achats@marocvelo.ma");
  fpb::ExpressInterestResponse eresp;
  ASSERT_TRUE(stub_->ExpressInterest(Ctx(velo.token).get(), ereq, &eresp).ok());
  fpb::DecideInterestRequest dreq;
  dreq.set_id(eresp.interest().id());
  dreq.set_accept(true);
  fpb::DecideInterestResponse dresp;
  ASSERT_TRUE(stub_->DecideInterest(Ctx(atlas.token).get(), dreq, &dresp).ok());
  // The same request again: the first interest, with the first offer's
  // contact (accepted).
  ASSERT_TRUE(stub_->ExpressInterest(Ctx(velo.token).get(), ereq, &eresp).ok());
  EXPECT_EQ(eresp.interest().offer_contact(), "atlas@example.ma");
  // The same request_id for the other offer: refused, naming request_id.
  ereq.set_feedback_id(other.id());
  grpc::Status s = stub_->ExpressInterest(Ctx(velo.token).get(), ereq, &eresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(s);
  EXPECT_NE(s.error_message().find("request_id"), std::string::npos);
  EXPECT_EQ(s.error_message().find("secret@cuivre.ma"), std::string::npos);
}

// --- Search, filters, orders and pages --------------------------------------

TEST_F(FeedbackRulesTest, AnUnknownOrderIsRefusedNamingIt) {
  fpb::ListFeedbackRequest req;
  req.set_order(static_cast<fpb::FeedbackOrder>(7));
  fpb::ListFeedbackResponse resp;
  grpc::Status s = stub_->ListFeedback(Ctx(f_.member_token).get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(s);
  EXPECT_NE(s.error_message().find("order"), std::string::npos);
}

// A kind or status this build does not know, or UNSPECIFIED, would match
// nothing: refused, rather than an empty page that reads as "none".
TEST_F(FeedbackRulesTest, UnknownKindsAndStatusesAreRefusedNamingThem) {
  for (int bad : {0, 99}) {
    fpb::ListFeedbackRequest req;
    req.add_kinds(fpb::FEEDBACK_KIND_BLOCKER);
    req.add_kinds(static_cast<fpb::FeedbackKind>(bad));
    fpb::ListFeedbackResponse resp;
    grpc::Status s =
        stub_->ListFeedback(Ctx(f_.member_token).get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    EXPECT_TRUE(Has(FieldsOf(s), "kinds[1]")) << Describe(s);
    req.clear_kinds();
    req.add_statuses(static_cast<fpb::FeedbackStatus>(bad));
    s = stub_->ListFeedback(Ctx(f_.member_token).get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    EXPECT_TRUE(Has(FieldsOf(s), "statuses[0]")) << Describe(s);
  }
}

TEST_F(FeedbackRulesTest, SearchIgnoresCaseAndAccentsAndCombinesFilters) {
  const fpb::FeedbackItem entrepot = Submit(
      f_.member_token, fpb::FEEDBACK_KIND_BLOCKER, "Entrepôt sous douane",
      "Les délais de dédouanement du cuivre bloquent la production.");
  const fpb::FeedbackItem soudure =
      Submit(f_.member_token, fpb::FEEDBACK_KIND_PROPOSAL, "Formation soudure",
             "Former des soudeurs qualifiés dans la région de Casablanca.");
  const std::vector<std::string> only_entrepot = {entrepot.id()};
  const std::vector<std::string> only_soudure = {soudure.id()};

  EXPECT_EQ(Search("ENTREPOT"), only_entrepot);
  EXPECT_EQ(Search("entrepot douane"), only_entrepot);
  EXPECT_EQ(Search("  Entrepôt   DOUANE "), only_entrepot);
  EXPECT_EQ(Search("soudure"), only_soudure);
  EXPECT_EQ(Search("SOUDEURS casablanca"), only_soudure);  // in the body
  EXPECT_TRUE(Search("entrepot soudure").empty());  // every word must match
  EXPECT_EQ(Search("").size(), 2u);
  // The limit is 500 characters, not bytes: French needs two for "é".
  std::string accented;
  for (int i = 0; i < 250; ++i) accented += "é";  // 500 bytes, 250 characters
  EXPECT_TRUE(Search(accented + accented.substr(0, 100)).empty());
  {
    fpb::ListFeedbackRequest req;
    req.set_query(std::string(501, 'e'));
    fpb::ListFeedbackResponse resp;
    grpc::Status s =
        stub_->ListFeedback(Ctx(f_.member_token).get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    EXPECT_TRUE(Has(FieldsOf(s), "query")) << Describe(s);
  }
  // What members see is searched the same way.
  fpb::ListFeedbackRequest as_reader;
  as_reader.set_query("ENTREPOT");
  EXPECT_EQ(ListIds(f_.reader_token, as_reader), only_entrepot);

  ASSERT_TRUE(Acknowledge(soudure.id()).ok());
  auto filtered = [&](std::vector<fpb::FeedbackKind> kinds,
                      std::vector<fpb::FeedbackStatus> statuses,
                      const std::string& query = "") {
    fpb::ListFeedbackRequest req;
    for (auto k : kinds) req.add_kinds(k);
    for (auto s : statuses) req.add_statuses(s);
    req.set_query(query);
    return ListIds(f_.member_token, req);
  };
  EXPECT_EQ(filtered({fpb::FEEDBACK_KIND_BLOCKER}, {}), only_entrepot);
  EXPECT_EQ(filtered({fpb::FEEDBACK_KIND_PROPOSAL}, {}), only_soudure);
  EXPECT_EQ(
      filtered({fpb::FEEDBACK_KIND_BLOCKER, fpb::FEEDBACK_KIND_PROPOSAL}, {})
          .size(),
      2u);
  EXPECT_EQ(filtered({}, {fpb::FEEDBACK_STATUS_ACKNOWLEDGED}), only_soudure);
  EXPECT_EQ(filtered({}, {fpb::FEEDBACK_STATUS_SUBMITTED}), only_entrepot);
  EXPECT_TRUE(filtered({fpb::FEEDBACK_KIND_BLOCKER},
                       {fpb::FEEDBACK_STATUS_ACKNOWLEDGED})
                  .empty());
  EXPECT_EQ(filtered({fpb::FEEDBACK_KIND_PROPOSAL},
                     {fpb::FEEDBACK_STATUS_ACKNOWLEDGED}),
            only_soudure);
  EXPECT_TRUE(
      filtered({}, {fpb::FEEDBACK_STATUS_SUBMITTED}, "soudure").empty());
  EXPECT_EQ(filtered({fpb::FEEDBACK_KIND_BLOCKER},
                     {fpb::FEEDBACK_STATUS_SUBMITTED}, "douane"),
            only_entrepot);
  EXPECT_TRUE(filtered({fpb::FEEDBACK_KIND_STRENGTH}, {}).empty());
}

TEST_F(FeedbackRulesTest, OrdersAndPagesWalkEveryItemOnce) {
  const Member b = NewMember("Maroc Vélo");
  const Member c = NewMember("Cuivre du Sud");
  std::vector<std::string> created;
  for (const char* title : {"Premier", "Deuxième", "Troisième", "Quatrième"}) {
    created.push_back(Submit(f_.member_token, fpb::FEEDBACK_KIND_PROPOSAL,
                             title, "Une proposition pour la feuille de route.")
                          .id());
  }
  // Endorsements: the third twice, the second once, the others none.
  ASSERT_TRUE(Endorse(created[2], b.token).ok());
  ASSERT_TRUE(Endorse(created[2], c.token).ok());
  ASSERT_TRUE(Endorse(created[1], c.token).ok());

  fpb::ListFeedbackRequest req;
  EXPECT_EQ(ListIds(f_.member_token, req), created);  // oldest first

  req.set_order(fpb::FEEDBACK_ORDER_NEWEST);
  const std::vector<std::string> newest(created.rbegin(), created.rend());
  EXPECT_EQ(ListIds(f_.member_token, req), newest);

  req.set_order(fpb::FEEDBACK_ORDER_ENDORSEMENTS);
  // Most endorsed first, then oldest first.
  const std::vector<std::string> endorsed = {created[2], created[1], created[0],
                                             created[3]};
  EXPECT_EQ(ListIds(f_.member_token, req), endorsed);
  fpb::ListFeedbackResponse counted;
  req.set_roadmap_id(f_.roadmap);
  ASSERT_TRUE(
      stub_->ListFeedback(Ctx(f_.member_token).get(), req, &counted).ok());
  ASSERT_EQ(counted.items_size(), 4);
  EXPECT_EQ(counted.items(0).endorsement_count(), 2);
  EXPECT_EQ(counted.items(1).endorsement_count(), 1);
  EXPECT_EQ(counted.items(2).endorsement_count(), 0);

  // One item a page walks them all, once each, in the same order.
  struct Case {
    fpb::FeedbackOrder order;
    std::vector<std::string> expected;
  };
  for (const Case& k : {Case{fpb::FEEDBACK_ORDER_UNSPECIFIED, created},
                        Case{fpb::FEEDBACK_ORDER_NEWEST, newest},
                        Case{fpb::FEEDBACK_ORDER_ENDORSEMENTS, endorsed}}) {
    SCOPED_TRACE(fpb::FeedbackOrder_Name(k.order));
    fpb::ListFeedbackRequest page_req;
    page_req.set_roadmap_id(f_.roadmap);
    page_req.set_order(k.order);
    page_req.set_page_size(1);
    std::vector<std::string> walked;
    int pages = 0;
    for (; pages < 10; ++pages) {
      fpb::ListFeedbackResponse page;
      grpc::Status s =
          stub_->ListFeedback(Ctx(f_.member_token).get(), page_req, &page);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(page.items_size(), 1);
      walked.push_back(page.items(0).id());
      if (page.next_page_token().empty()) break;
      page_req.set_page_token(page.next_page_token());
    }
    EXPECT_EQ(pages, 3);  // four pages, the last without a token
    EXPECT_EQ(walked, k.expected);
  }
}

// A page by endorsements ends at about 2 MiB too, whatever its size asked:
// 100 items as large as the limits allow (about 45 KB each) are over gRPC's
// 4 MiB message limit, and a page of 1000 failed RESOURCE_EXHAUSTED, with
// no token to go on.
TEST_F(FeedbackRulesTest, ALargePageByEndorsementsEndsEarlyWithAToken) {
  constexpr int kItems = 100;
  std::string body;
  for (int i = 0; i < 10000; ++i) body += "é";
  std::string title;
  for (int i = 0; i < 200; ++i) title += "é";
  for (int n = 0; n < kItems; ++n) {
    fpb::FeedbackItem item = BaseItem(fpb::FEEDBACK_KIND_PROPOSAL,
                                      "Proposition " + std::to_string(n), body);
    for (int a = 0; a < 10; ++a) {
      auto* att = item.add_attachments();
      att->set_title(title);
      att->set_url("https://example.org/" + std::string(1970, 'x'));
    }
    fpb::FeedbackItem out;
    ASSERT_TRUE(TrySubmit(f_.member_token, item, &out).ok()) << n;
  }
  fpb::ListFeedbackRequest req;
  req.set_roadmap_id(f_.roadmap);
  req.set_order(fpb::FEEDBACK_ORDER_ENDORSEMENTS);
  req.set_page_size(1000);
  std::set<std::string> seen;
  int pages = 0;
  for (; pages < 10; ++pages) {
    fpb::ListFeedbackResponse resp;
    grpc::Status s =
        stub_->ListFeedback(Ctx(f_.member_token).get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(resp.ByteSizeLong(), 3u << 20);
    EXPECT_GT(resp.items_size(), 0);
    for (const auto& x : resp.items()) seen.insert(x.id());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_GE(pages, 1);  // more than one page
  EXPECT_EQ(seen.size(), static_cast<size_t>(kItems));
}

// The newest page is read from the end of the index: one page of one item
// reads one chunk of items, not every item (as it did, to reverse them).
TEST_F(FeedbackRulesTest, TheNewestPageReadsOnlyTheNewestItems) {
  constexpr int kItems = 300;
  std::string newest;
  for (int i = 0; i < kItems; ++i) {
    newest = Submit(f_.member_token, fpb::FEEDBACK_KIND_PROPOSAL,
                    "Proposition " + std::to_string(i),
                    "Une proposition pour la feuille de route.")
                 .id();
  }
  auto hmgets = [&] {
    auto r = h_.roadmap().redis().Command({"INFO", "commandstats"});
    EXPECT_TRUE(r.ok());
    const std::string text = r.ok() ? r->str() : "";
    const std::string tag = "cmdstat_hmget:calls=";
    const size_t at = text.find(tag);
    return at == std::string::npos ? int64_t{0}
                                   : std::stoll(text.substr(at + tag.size()));
  };
  const int64_t before = hmgets();
  fpb::ListFeedbackRequest req;
  req.set_order(fpb::FEEDBACK_ORDER_NEWEST);
  req.set_page_size(1);
  fpb::ListFeedbackResponse page;
  grpc::Status s = stub_->ListFeedback(Ctx(f_.member_token).get(), req, &page);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(page.items_size(), 1);
  EXPECT_EQ(page.items(0).id(), newest);
  EXPECT_FALSE(page.next_page_token().empty());
  EXPECT_LE(hmgets() - before, kItems / 2);
}

// --- Consultations and bad input ---------------------------------------------

// A submit reads its consultation, then commits: a consultation closed in
// between takes no item (the commit is guarded by the version read, and
// the submit then sees it closed).
TEST_F(FeedbackRulesTest, NoItemLandsInAConsultationThatClosedMeanwhile) {
  fpb::Consultation open;
  ASSERT_TRUE(CreateConsultation(f_.roadmap, std::chrono::seconds(-3600),
                                 std::chrono::seconds(3600), &open)
                  .ok());
  int calls = 0;
  h_.service().SetSubmitHookForTest([&] {
    if (calls++ > 0) return;
    fpb::Consultation closing = open;
    *closing.mutable_close_time() = In(std::chrono::seconds(-1));
    fpb::UpdateConsultationRequest req;
    *req.mutable_consultation() = closing;
    req.mutable_update_mask()->add_paths("close_time");
    fpb::UpdateConsultationResponse resp;
    grpc::Status s =
        stub_->UpdateConsultation(Ctx(f_.federation_copilot).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << Describe(s);
    EXPECT_EQ(resp.consultation().status(), fpb::CONSULTATION_STATUS_CLOSED);
  });
  fpb::FeedbackItem in =
      BaseItem(fpb::FEEDBACK_KIND_BLOCKER, "Entrepôt sous douane",
               "Les délais de dédouanement bloquent la production.");
  in.set_consultation_id(open.id());
  const int64_t events = StreamLength();
  grpc::Status s = TrySubmit(f_.member_token, in);
  h_.service().SetSubmitHookForTest(nullptr);
  EXPECT_EQ(calls, 1);  // the second look saw it closed, before the hook
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << Describe(s);
  EXPECT_EQ(ReasonOfGrpc(s), "CONSULTATION_NOT_OPEN");
  EXPECT_EQ(StreamLength(), events + 1);  // the close only
}

TEST_F(FeedbackRulesTest, ConsultationsAndBadInputWriteNothing) {
  fpb::Consultation closed, upcoming, elsewhere;
  ASSERT_TRUE(CreateConsultation(f_.roadmap, std::chrono::seconds(-7200),
                                 std::chrono::seconds(-3600), &closed)
                  .ok());
  EXPECT_EQ(closed.status(), fpb::CONSULTATION_STATUS_CLOSED);
  ASSERT_TRUE(CreateConsultation(f_.roadmap, std::chrono::seconds(3600),
                                 std::chrono::seconds(7200), &upcoming)
                  .ok());
  EXPECT_EQ(upcoming.status(), fpb::CONSULTATION_STATUS_UPCOMING);
  // An open consultation of another roadmap.
  rpb::CreateRoadmapRequest rr;
  rr.mutable_roadmap()->set_title("Feuille de route automobile");
  *rr.mutable_roadmap()->mutable_start_date() = D(2016, 5, 2);
  *rr.mutable_roadmap()->mutable_horizon_date() = D(2030, 12, 31);
  rr.mutable_roadmap()->add_copilot_organization_ids(f_.federation);
  rr.mutable_roadmap()->add_copilot_organization_ids(f_.ministry);
  rpb::CreateRoadmapResponse rresp;
  grpc::Status rs = roadmap_->CreateRoadmap(
      Ctx(h_.roadmap().admin_token()).get(), rr, &rresp);
  ASSERT_TRUE(rs.ok()) << rs.error_message();
  ASSERT_TRUE(CreateConsultation(rresp.roadmap().id(),
                                 std::chrono::seconds(-3600),
                                 std::chrono::seconds(3600), &elsewhere)
                  .ok());
  EXPECT_EQ(elsewhere.status(), fpb::CONSULTATION_STATUS_OPEN);

  // The stream is the one the service writes to.
  const int64_t events = StreamLength();
  ASSERT_GE(events, 3);

  const fpb::FeedbackItem good =
      BaseItem(fpb::FEEDBACK_KIND_BLOCKER, "Entrepôt sous douane",
               "Les délais de dédouanement bloquent la production.");
  // A closed (or not yet open) consultation takes no feedback.
  for (const fpb::Consultation* c : {&closed, &upcoming}) {
    fpb::FeedbackItem in = good;
    in.set_consultation_id(c->id());
    grpc::Status s = TrySubmit(f_.member_token, in);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << Describe(s);
    EXPECT_EQ(ReasonOfGrpc(s), "CONSULTATION_NOT_OPEN");
  }
  // A consultation of another roadmap.
  {
    fpb::FeedbackItem in = good;
    in.set_consultation_id(elsewhere.id());
    grpc::Status s = TrySubmit(f_.member_token, in);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    EXPECT_TRUE(Has(FieldsOf(s), "item.consultation_id")) << Describe(s);
  }
  // An unknown consultation.
  {
    fpb::FeedbackItem in = good;
    in.set_consultation_id("01NOSUCHCONSULTATION000000");
    grpc::Status s = TrySubmit(f_.member_token, in);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    EXPECT_TRUE(Has(FieldsOf(s), "item.consultation_id")) << Describe(s);
  }
  // An unknown roadmap.
  {
    fpb::FeedbackItem in = good;
    in.set_roadmap_id("01NOSUCHROADMAP00000000000");
    grpc::Status s = TrySubmit(f_.member_token, in);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    EXPECT_TRUE(Has(FieldsOf(s), "item.roadmap_id")) << Describe(s);
  }
  // An ecosystem of no roadmap, or of another one.
  {
    fpb::FeedbackItem in = good;
    in.set_ecosystem_id("01NOSUCHECOSYSTEM000000000");
    grpc::Status s = TrySubmit(f_.member_token, in);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    EXPECT_TRUE(Has(FieldsOf(s), "item.ecosystem_id")) << Describe(s);
  }
  // Every bad field named at once.
  {
    fpb::FeedbackItem in = good;
    in.clear_title();
    in.clear_body();
    in.clear_severity();
    grpc::Status s = TrySubmit(f_.member_token, in);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    const std::vector<std::string> fields = FieldsOf(s);
    EXPECT_TRUE(Has(fields, "item.title")) << Describe(s);
    EXPECT_TRUE(Has(fields, "item.body")) << Describe(s);
    EXPECT_TRUE(Has(fields, "item.severity")) << Describe(s);
  }
  // A severity on anything but a blocker, a contact on anything but an
  // offer, a bad attachment URL.
  {
    fpb::FeedbackItem in =
        BaseItem(fpb::FEEDBACK_KIND_STRENGTH, "Savoir-faire", "Des fondeurs.");
    in.set_severity(fpb::SEVERITY_LOW);
    in.set_contact("someone@example.ma");
    auto* a = in.add_attachments();
    a->set_title("Étude");
    a->set_url("javascript:alert(1)");
    grpc::Status s = TrySubmit(f_.member_token, in);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << Describe(s);
    const std::vector<std::string> fields = FieldsOf(s);
    EXPECT_TRUE(Has(fields, "item.severity")) << Describe(s);
    EXPECT_TRUE(Has(fields, "item.contact")) << Describe(s);
    EXPECT_TRUE(Has(fields, "item.attachments[0].url")) << Describe(s);
  }
  // Nothing was written.
  EXPECT_EQ(StreamLength(), events);
  EXPECT_TRUE(ListIds(f_.ministry_copilot).empty());

  // And the same item into an open consultation of its roadmap is taken.
  fpb::Consultation open;
  ASSERT_TRUE(CreateConsultation(f_.roadmap, std::chrono::seconds(-3600),
                                 std::chrono::seconds(3600), &open)
                  .ok());
  fpb::FeedbackItem in = good;
  in.set_consultation_id(open.id());
  in.set_ecosystem_id(f_.ecosystem);  // an ecosystem of the roadmap
  const fpb::FeedbackItem taken = Submit(f_.member_token, in);
  EXPECT_EQ(taken.consultation_id(), open.id());
  EXPECT_EQ(taken.ecosystem_id(), f_.ecosystem);
  EXPECT_EQ(StreamLength(), events + 2);
  fpb::ListFeedbackRequest by_consultation;
  by_consultation.set_consultation_id(open.id());
  EXPECT_EQ(ListIds(f_.member_token, by_consultation),
            std::vector<std::string>{taken.id()});

  // An edit checks a new ecosystem as the submission did, and writes
  // nothing when it is not one of the roadmap's.
  const int64_t before_edits = StreamLength();
  fpb::FeedbackItem moved = taken;
  moved.set_ecosystem_id("01NOSUCHECOSYSTEM000000000");
  grpc::Status s = Update(f_.member_token, moved, {"ecosystem_id"});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(s);
  EXPECT_TRUE(Has(FieldsOf(s), "item.ecosystem_id")) << Describe(s);
  fpb::UpdateConsultationRequest creq;
  *creq.mutable_consultation() = open;
  creq.mutable_consultation()->add_ecosystem_ids(f_.ecosystem);
  creq.mutable_consultation()->add_ecosystem_ids("01NOSUCHECOSYSTEM000000000");
  creq.mutable_update_mask()->add_paths("ecosystem_ids");
  fpb::UpdateConsultationResponse cresp;
  s = stub_->UpdateConsultation(Ctx(f_.federation_copilot).get(), creq, &cresp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(s);
  EXPECT_TRUE(Has(FieldsOf(s), "consultation.ecosystem_ids[1]")) << Describe(s);
  EXPECT_EQ(StreamLength(), before_edits);
  // Its own ecosystems are taken.
  creq.mutable_consultation()->mutable_ecosystem_ids()->RemoveLast();
  s = stub_->UpdateConsultation(Ctx(f_.federation_copilot).get(), creq, &cresp);
  EXPECT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(StreamLength(), before_edits + 1);
}

// --- Races ------------------------------------------------------------------

// Endorsements racing declines, item by item: whichever commits first, no
// endorsement is committed after its item was declined (the checks an
// endorsement made on the item hold at its commit). The stream's order is
// the commits' order.
TEST_F(FeedbackRulesTest, NoEndorsementIsCommittedAfterADecline) {
  const Member velo = NewMember("Maroc Vélo");
  constexpr int kItems = 40;
  std::vector<std::string> ids;
  for (int n = 0; n < kItems; ++n) {
    ids.push_back(Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER).id());
  }
  std::vector<std::thread> threads;
  for (const std::string& id : ids) {
    threads.emplace_back([&, id] {
      fpb::DeclineFeedbackRequest req;
      req.set_id(id);
      req.set_public_answer("Hors du périmètre.");
      fpb::DeclineFeedbackResponse resp;
      EXPECT_TRUE(
          stub_->DeclineFeedback(Ctx(f_.ministry_copilot).get(), req, &resp)
              .ok());
    });
    threads.emplace_back([&, id] {
      fpb::EndorseFeedbackRequest req;
      req.set_feedback_id(id);
      fpb::EndorseFeedbackResponse resp;
      grpc::Status st =
          stub_->EndorseFeedback(Ctx(velo.token).get(), req, &resp);
      EXPECT_TRUE(st.ok() ||
                  st.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
          << Describe(st);
    });
  }
  for (auto& t : threads) t.join();
  auto events = h_.roadmap().redis().Command(
      {"XRANGE", feedback::Keys::Stream(), "-", "+"});
  ASSERT_TRUE(events.ok());
  std::set<std::string> declined;
  int endorsed = 0, after = 0;
  for (const auto& entry : events->elements()) {
    const auto& fields = entry.elements()[1].elements();
    events::v1::Event e;
    ASSERT_TRUE(e.ParseFromString(fields[1].str()));
    if (e.type() == "feedback.item.declined") declined.insert(e.aggregate_id());
    if (e.type() == "feedback.endorsement.added") {
      fpb::Endorsement en;
      ASSERT_TRUE(e.state().UnpackTo(&en));
      ++endorsed;
      if (declined.count(en.feedback_id())) ++after;
    }
  }
  EXPECT_EQ(declined.size(), ids.size());
  EXPECT_EQ(after, 0) << "of " << endorsed << " endorsements";
}

// --- Lifecycle errors --------------------------------------------------------

TEST_F(FeedbackRulesTest, LifecycleErrorsNameWhatIsAllowed) {
  const fpb::FeedbackItem item =
      Submit(f_.member_token, fpb::FEEDBACK_KIND_BLOCKER);
  // Declining needs a public answer.
  fpb::DeclineFeedbackRequest dreq;
  dreq.set_id(item.id());
  fpb::DeclineFeedbackResponse dresp;
  grpc::Status no_answer =
      stub_->DeclineFeedback(Ctx(f_.ministry_copilot).get(), dreq, &dresp);
  EXPECT_EQ(no_answer.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Has(FieldsOf(no_answer), "public_answer")) << Describe(no_answer);
  dreq.set_public_answer("  \n\t ");  // blank: no answer either
  grpc::Status blank =
      stub_->DeclineFeedback(Ctx(f_.ministry_copilot).get(), dreq, &dresp);
  EXPECT_EQ(blank.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Has(FieldsOf(blank), "public_answer")) << Describe(blank);
  EXPECT_EQ(Get(item.id(), f_.member_token).status(),
            fpb::FEEDBACK_STATUS_SUBMITTED);

  // Acknowledging twice.
  ASSERT_TRUE(Acknowledge(item.id()).ok());
  grpc::Status twice = Acknowledge(item.id());
  EXPECT_EQ(twice.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOfGrpc(twice), "TRANSITION_NOT_ALLOWED");
  EXPECT_NE(twice.error_message().find("LINKED"), std::string::npos)
      << twice.error_message();
  EXPECT_NE(twice.error_message().find("DECLINED"), std::string::npos)
      << twice.error_message();

  // Declined with an answer, which its author reads.
  dreq.set_public_answer("Hors du périmètre de la feuille de route.");
  grpc::Status declined =
      stub_->DeclineFeedback(Ctx(f_.ministry_copilot).get(), dreq, &dresp);
  ASSERT_TRUE(declined.ok()) << declined.error_message();
  fpb::FeedbackItem after = Get(item.id(), f_.member_token);
  EXPECT_EQ(after.status(), fpb::FEEDBACK_STATUS_DECLINED);
  EXPECT_EQ(after.public_answer(), "Hors du périmètre de la feuille de route.");

  // A DECLINED item is final: it cannot be linked, nor acknowledged.
  const std::string action = NewAction("Guichet douanier dédié aux IMME");
  fpb::LinkFeedbackRequest lreq;
  lreq.set_id(item.id());
  lreq.add_action_ids(action);
  fpb::LinkFeedbackResponse lresp;
  grpc::Status link =
      stub_->LinkFeedback(Ctx(f_.ministry_copilot).get(), lreq, &lresp);
  EXPECT_EQ(link.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << Describe(link);
  grpc::Status ack = Acknowledge(item.id());
  EXPECT_EQ(ack.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(ack.error_message().find("final"), std::string::npos)
      << ack.error_message();
  const fpb::FeedbackItem final_item = Get(item.id(), f_.member_token);
  EXPECT_EQ(final_item.status(), fpb::FEEDBACK_STATUS_DECLINED);
  EXPECT_EQ(final_item.linked_action_ids_size(), 0);
  EXPECT_EQ(final_item.etag(), after.etag());
}

}  // namespace
}  // namespace jalon::feedback
