// Commands of the feedback service: consultation, feedback (with triage,
// endorsement and moderation verbs) and partnership (interests in offers).
#include "tools/jalonctl/commands.h"

namespace jalon::ctl {

extern const std::vector<Column> kHistoryColumns;

namespace {

namespace fpb = ::jalon::feedback::v1;
using Stub = fpb::FeedbackService::Stub;

const std::vector<Column> kConsultationColumns = {{"ID", "id"},
                                                  {"TITLE", "title"},
                                                  {"DATE", "date"},
                                                  {"PLACE", "place"},
                                                  {"STATUS", "status"}};
const std::vector<Column> kFeedbackColumns = {{"ID", "id"},
                                              {"KIND", "kind"},
                                              {"STATUS", "status"},
                                              {"TITLE", "title"},
                                              {"ENDORSED", "endorsement_count"},
                                              {"HIDDEN", "hidden"}};
const std::vector<Column> kInterestColumns = {
    {"ID", "id"},
    {"OFFER", "feedback_id"},
    {"ORGANIZATION", "organization_id"},
    {"STATE", "state"},
    {"CONTACT", "contact"}};

void Consultations(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "consultation", "Consultations of the members");
  auto add_fields = [](CLI::App* v, Args* a) {
    a->fields.Add(v, "title", "title", "title")
        .Add(v, "description", "description", "free text")
        .Add(v, "place", "place", "where")
        .Add(v, "date", "date", "day of the meeting, YYYY-MM-DD")
        .Add(v, "ecosystems", "ecosystem_ids", "ecosystem ids, comma-separated")
        .Add(v, "open", "open_time", "feedback accepted from (RFC 3339)")
        .Add(v, "close", "close_time", "feedback accepted until (RFC 3339)");
  };
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "list", "List a roadmap's consultations",
        "  jalonctl consultation list --roadmap 01J...", [&s, a] {
          fpb::ListConsultationsRequest req;
          req.set_roadmap_id(a->roadmap);
          auto out = FetchList<fpb::Consultation>(
              s, s.feedback(), &Stub::ListConsultations, req,
              [](const auto& r) -> const auto& { return r.consultations(); },
              "list consultations", s.limit());
          s.printer().ListOf(out, kConsultationColumns);
        });
    v->add_option("--roadmap", a->roadmap, "roadmap id")->required();
  }
  ResourceVerbs r(cli, g, &Session::feedback, "consultation", "consultation",
                  kConsultationColumns, add_fields);
  r.Get(&Stub::GetConsultation, "Show a consultation",
        "  jalonctl consultation get 01J...");
  r.Create(&Stub::CreateConsultation, "create consultation",
           "Create a consultation (admin or copilot)",
           "  jalonctl consultation create --roadmap R --title 'Rencontre "
           "FIMME' \\\n"
           "      --place Casablanca --date 2024-07-11 --open "
           "2024-07-01T00:00:00Z --close 2024-07-31T23:59:59Z",
           InRoadmap);
  r.Update(
      &Stub::GetConsultation, &Stub::UpdateConsultation,
      "Update a consultation",
      "  jalonctl consultation update 01J... --close 2024-08-15T00:00:00Z");
}

void Feedback(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "feedback",
                      "Member feedback: submit, triage, endorse, moderate");
  auto add_fields = [](CLI::App* v, Args* a) {
    a->fields.Add(v, "title", "title", "title")
        .Add(v, "body", "body", "text")
        .Add(v, "ecosystem", "ecosystem_id", "ecosystem id")
        .Add(v, "visibility", "visibility", "all-members or copilots-only")
        .Add(v, "severity", "severity",
             "blockers: low, medium, high or critical")
        .Add(v, "contact", "contact", "partnership offers: how to reach you");
  };
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "list", "List and search feedback",
             "  jalonctl feedback list --roadmap 01J... --kind blocker --order "
             "endorsements\n"
             "  jalonctl feedback list --query 'entrepôt' -o json",
             [&s, a] {
               fpb::ListFeedbackRequest req;
               req.set_roadmap_id(a->roadmap);
               req.set_ecosystem_id(a->ecosystem);
               req.set_consultation_id(a->id);
               req.set_author_organization_id(a->organization);
               req.set_linked_action_id(a->id2);
               req.set_query(a->query);
               req.set_include_hidden(a->flag);
               if (!a->order.empty()) {
                 req.set_order(static_cast<fpb::FeedbackOrder>(ParseEnum(
                     fpb::FeedbackOrder_descriptor(), a->order, "--order")));
               }
               for (const auto& k : a->kinds) {
                 req.add_kinds(static_cast<fpb::FeedbackKind>(
                     ParseEnum(fpb::FeedbackKind_descriptor(), k, "--kind")));
               }
               for (const auto& st : a->statuses) {
                 req.add_statuses(static_cast<fpb::FeedbackStatus>(ParseEnum(
                     fpb::FeedbackStatus_descriptor(), st, "--status")));
               }
               auto out = FetchList<fpb::FeedbackItem>(
                   s, s.feedback(), &Stub::ListFeedback, req,
                   [](const auto& r) -> const auto& { return r.items(); },
                   "list feedback", s.limit());
               s.printer().ListOf(out, kFeedbackColumns);
             });
    v->add_option("--roadmap", a->roadmap, "roadmap id");
    v->add_option("--kind", a->kinds, "kinds (comma-separated)")
        ->delimiter(',');
    v->add_option("--status", a->statuses, "statuses (comma-separated)")
        ->delimiter(',');
    v->add_option("--ecosystem", a->ecosystem, "ecosystem id");
    v->add_option("--consultation", a->id, "consultation id");
    v->add_option("--author-org", a->organization, "author organisation id");
    v->add_option("--action", a->id2, "only items linked to this action");
    v->add_option("--query", a->query, "words that must all appear");
    v->add_option("--order", a->order,
                  "endorsements or newest (default oldest first)");
    v->add_flag("--include-hidden", a->flag, "co-pilots: include hidden items");
  }
  ResourceVerbs r(cli, g, &Session::feedback, "item", "feedback",
                  kFeedbackColumns, add_fields);
  r.Get(&Stub::GetFeedback, "Show a feedback item",
        "  jalonctl feedback get 01J...");
  r.Create(&Stub::SubmitFeedback, "submit feedback",
           "Submit a feedback item for your organisation",
           "  jalonctl feedback create --roadmap R --kind blocker --severity "
           "high \\\n"
           "      --title 'Accès au foncier' --body '...'",
           [](CLI::App* v, Args* a) {
             InRoadmap(v, a);
             a->fields
                 .Add(v, "kind", "kind",
                      "strength, blocker, opportunity, partnership-offer or "
                      "proposal")
                 .Add(v, "consultation", "consultation_id",
                      "consultation id (must be open)");
           })
      ->alias("submit");
  r.Update(&Stub::GetFeedback, &Stub::UpdateFeedback, "Edit a feedback item",
           "  jalonctl feedback update 01J... --severity critical");
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "ack", "Acknowledge an item (copilot)",
             "  jalonctl feedback ack 01J...", [&s, a] {
               fpb::AcknowledgeFeedbackRequest req;
               req.set_id(a->id);
               req.set_etag(a->etag);
               s.printer().One(Call(s, s.feedback(), &Stub::AcknowledgeFeedback,
                                    req, "acknowledge feedback")
                                   .item(),
                               kFeedbackColumns);
             });
    AddIdArgument(v, a.get(), "feedback id");
    v->add_option("--etag", a->etag, "expected etag");
  }
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "link", "Link an item to roadmap actions (copilot)",
        "  jalonctl feedback link 01J... --action A1 --action A2", [&s, a] {
          fpb::LinkFeedbackRequest req;
          req.set_id(a->id);
          req.set_etag(a->etag);
          for (const auto& x : a->ids) req.add_action_ids(x);
          s.printer().One(
              Call(s, s.feedback(), &Stub::LinkFeedback, req, "link feedback")
                  .item(),
              kFeedbackColumns);
        });
    AddIdArgument(v, a.get(), "feedback id");
    v->add_option("--action", a->ids, "action id (repeat or comma-separate)")
        ->required()
        ->delimiter(',');
    v->add_option("--etag", a->etag, "expected etag");
  }
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "decline", "Decline an item with a public answer (copilot)",
        "  jalonctl feedback decline 01J... --answer 'Hors périmètre'",
        [&s, a] {
          fpb::DeclineFeedbackRequest req;
          req.set_id(a->id);
          req.set_etag(a->etag);
          req.set_public_answer(a->text);
          s.printer().One(Call(s, s.feedback(), &Stub::DeclineFeedback, req,
                               "decline feedback")
                              .item(),
                          kFeedbackColumns);
        });
    AddIdArgument(v, a.get(), "feedback id");
    v->add_option("--answer", a->text, "the public answer")->required();
    v->add_option("--etag", a->etag, "expected etag");
  }
  for (bool endorse : {true, false}) {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, endorse ? "endorse" : "unendorse",
             endorse ? "Endorse an item for your organisation (member)"
                     : "Withdraw your organisation's endorsement (member)",
             endorse ? "  jalonctl feedback endorse 01J..."
                     : "  jalonctl feedback unendorse 01J...",
             [&s, a, endorse] {
               int64_t count;
               if (endorse) {
                 fpb::EndorseFeedbackRequest req;
                 req.set_feedback_id(a->id);
                 count = Call(s, s.feedback(), &Stub::EndorseFeedback, req,
                              "endorse feedback")
                             .endorsement_count();
               } else {
                 fpb::WithdrawEndorsementRequest req;
                 req.set_feedback_id(a->id);
                 count = Call(s, s.feedback(), &Stub::WithdrawEndorsement, req,
                              "withdraw endorsement")
                             .endorsement_count();
               }
               fpb::EndorseFeedbackResponse r;
               r.set_endorsement_count(count);
               s.printer().One(r, {{"ENDORSEMENTS", "endorsement_count"}});
             });
    AddIdArgument(v, a.get(), "feedback id");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "report", "Report an item for moderation (member)",
             "  jalonctl feedback report 01J... --reason 'propos injurieux'",
             [&s, a] {
               fpb::ReportFeedbackRequest req;
               req.set_feedback_id(a->id);
               req.set_reason(a->reason);
               auto r = Call(s, s.feedback(), &Stub::ReportFeedback, req,
                             "report feedback");
               s.printer().One(r, {{"HIDDEN", "hidden"}});
             });
    AddIdArgument(v, a.get(), "feedback id");
    v->add_option("--reason", a->reason, "why")->required();
  }
  for (bool hide : {true, false}) {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, hide ? "hide" : "restore",
        hide ? "Hide an item (copilot)"
             : "Restore a hidden item, clearing its reports (copilot)",
        hide ? "  jalonctl feedback hide 01J... --reason 'données personnelles'"
             : "  jalonctl feedback restore 01J... --reason 'vérifié'",
        [&s, a, hide] {
          fpb::ModerateFeedbackRequest req;
          req.set_id(a->id);
          req.set_etag(a->etag);
          req.set_hide(hide);
          req.set_reason(a->reason);
          s.printer().One(Call(s, s.feedback(), &Stub::ModerateFeedback, req,
                               hide ? "hide feedback" : "restore feedback")
                              .item(),
                          kFeedbackColumns);
        });
    AddIdArgument(v, a.get(), "feedback id");
    v->add_option("--reason", a->reason, "why")->required();
    v->add_option("--etag", a->etag, "expected etag");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "history", "List every change of an item, oldest first",
             "  jalonctl feedback history 01J...", [&s, a] {
               fpb::ListFeedbackHistoryRequest req;
               req.set_feedback_id(a->id);
               auto out = FetchList<common::v1::HistoryEntry>(
                   s, s.feedback(), &Stub::ListFeedbackHistory, req,
                   [](const auto& r) -> const auto& { return r.entries(); },
                   "feedback history", s.limit());
               s.printer().ListOf(out, kHistoryColumns);
             });
    AddIdArgument(v, a.get(), "feedback id");
  }
}

void Partnerships(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g =
      Group(cli.app, "partnership", "Interests in partnership offers");
  g->alias("interest");
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "interest",
        "Express your organisation's interest in an offer (member)",
        "  jalonctl partnership interest 01J... --contact 'achats@exemple.ma' "
        "--message 'Intéressés'",
        [&s, a] {
          fpb::ExpressInterestRequest req;
          req.set_request_id(a->request_id.empty() ? NewRequestId()
                                                   : a->request_id);
          req.set_feedback_id(a->id);
          req.set_message(a->text);
          req.set_contact(a->contact);
          s.printer().One(Call(s, s.feedback(), &Stub::ExpressInterest, req,
                               "express interest")
                              .interest(),
                          kInterestColumns);
        });
    AddIdArgument(v, a.get(), "feedback id of the PARTNERSHIP_OFFER");
    v->add_option("--contact", a->contact, "how to reach you")->required();
    v->add_option("--message", a->text, "message to the offering member");
    v->add_option("--request-id", a->request_id, "idempotency key");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "list", "List the interests in an offer",
             "  jalonctl partnership list 01J...", [&s, a] {
               fpb::ListInterestsRequest req;
               req.set_feedback_id(a->id);
               auto out = FetchList<fpb::Interest>(
                   s, s.feedback(), &Stub::ListInterests, req,
                   [](const auto& r) -> const auto& { return r.interests(); },
                   "list interests", s.limit());
               s.printer().ListOf(out, kInterestColumns);
             });
    AddIdArgument(v, a.get(), "feedback id of the offer");
  }
  for (bool accept : {true, false}) {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, accept ? "accept" : "decline",
        accept
            ? "Accept an interest in your offer (both sides see the contacts)"
            : "Decline an interest in your offer",
        accept ? "  jalonctl partnership accept INTEREST_ID"
               : "  jalonctl partnership decline INTEREST_ID",
        [&s, a, accept] {
          fpb::DecideInterestRequest req;
          req.set_id(a->id);
          req.set_etag(a->etag);
          req.set_accept(accept);
          s.printer().One(Call(s, s.feedback(), &Stub::DecideInterest, req,
                               accept ? "accept interest" : "decline interest")
                              .interest(),
                          kInterestColumns);
        });
    AddIdArgument(v, a.get(), "interest id");
    v->add_option("--etag", a->etag, "expected etag");
  }
}

}  // namespace

void RegisterFeedbackCommands(Cli& cli) {
  Consultations(cli);
  Feedback(cli);
  Partnerships(cli);
}

}  // namespace jalon::ctl
