// Commands of the roadmap service: org, token, roadmap, ecosystem,
// indicator, measurement, action, milestone, comment, whoami.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/requests.h"
#include "tools/jalonctl/commands.h"

namespace jalon::ctl {
namespace {

namespace rpb = ::jalon::roadmap::v1;
using Stub = rpb::RoadmapService::Stub;

const std::vector<Column> kOrgColumns = {{"ID", "id"},
                                         {"NAME", "name"},
                                         {"KIND", "kind"},
                                         {"EMAIL", "contact_email"}};
const std::vector<Column> kTokenColumns = {{"ID", "id"},
                                           {"PRINCIPAL", "principal_name"},
                                           {"ORGANIZATION", "organization_id"},
                                           {"ROLE", "role"},
                                           {"STATE", "state"}};
const std::vector<Column> kRoadmapColumns = {{"ID", "id"},
                                             {"TITLE", "title"},
                                             {"STATUS", "status"},
                                             {"START", "start_date"},
                                             {"HORIZON", "horizon_date"}};
const std::vector<Column> kEcosystemColumns = {
    {"ID", "id"}, {"NAME", "name"}, {"CREATED", "creation_date"}};
const std::vector<Column> kIndicatorColumns = {{"ID", "id"},
                                               {"NAME", "name"},
                                               {"ECOSYSTEM", "ecosystem_id"},
                                               {"UNIT", "unit"},
                                               {"BASELINE", "baseline_value"},
                                               {"TARGET", "target_value"},
                                               {"TARGET_DATE", "target_date"}};
const std::vector<Column> kMeasurementColumns = {
    {"ID", "id"},
    {"INDICATOR", "indicator_id"},
    {"VALUE", "value"},
    {"PERIOD_END", "period_end"},
    {"STATE", "verification_state"},
    {"SOURCE", "source"}};
const std::vector<Column> kActionColumns = {{"ID", "id"},
                                            {"TITLE", "title"},
                                            {"STATUS", "status"},
                                            {"DUE", "due_date"},
                                            {"PROGRESS", "progress_percent"},
                                            {"LATE", "late"}};
const std::vector<Column> kMilestoneColumns = {{"ID", "id"},
                                               {"TITLE", "title"},
                                               {"DUE", "due_date"},
                                               {"DONE", "done_date"},
                                               {"LATE", "late"}};
const std::vector<Column> kCommentColumns = {
    {"ID", "id"},
    {"AUTHOR", "author.principal_name"},
    {"TIME", "create_time"},
    {"BODY", "body"}};
const std::vector<Column> kActorColumns = {{"PRINCIPAL", "principal_id"},
                                           {"NAME", "principal_name"},
                                           {"ORGANIZATION", "organization_id"},
                                           {"ROLE", "role"}};

}  // namespace

// Shared with feedback_commands.cc (history of feedback items).
extern const std::vector<Column> kHistoryColumns;
const std::vector<Column> kHistoryColumns = {{"VERSION", "version"},
                                             {"EVENT", "event_type"},
                                             {"WHO", "actor.principal_name"},
                                             {"TIME", "time"},
                                             {"CHANGED", "changes.field"}};

namespace {

// ----------------------------------------------------------------- org
void Orgs(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "org",
                      "Organisations: the federation, the "
                      "ministry, member companies");
  g->alias("organization");
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "list", "List organisations",
        "  jalonctl org list\n  jalonctl org list --kind member-company -o csv",
        [&s, a] {
          rpb::ListOrganizationsRequest req;
          if (!a->kind.empty()) {
            req.set_kind(static_cast<rpb::OrganizationKind>(ParseEnum(
                rpb::OrganizationKind_descriptor(), a->kind, "--kind")));
          }
          auto out = FetchList<rpb::Organization>(
              s, s.roadmap(), &Stub::ListOrganizations, req,
              [](const auto& r) -> const auto& { return r.organizations(); },
              "list organisations", s.limit());
          s.printer().ListOf(out, kOrgColumns);
        });
    v->add_option("--kind", a->kind, "federation, ministry or member-company");
  }
  ResourceVerbs r(cli, g, &Session::roadmap, "organization", "organisation",
                  kOrgColumns, [](CLI::App* v, Args* a) {
                    a->fields.Add(v, "name", "name", "display name")
                        .Add(v, "kind", "kind",
                             "federation, ministry or member-company")
                        .Add(v, "description", "description", "free text")
                        .Add(v, "email", "contact_email", "contact e-mail");
                  });
  r.Get(&Stub::GetOrganization, "Show an organisation",
        "  jalonctl org get 01J... -o yaml");
  r.Create(&Stub::CreateOrganization, "create organisation",
           "Create an organisation (admin)",
           "  jalonctl org create --name FIMME --kind federation\n"
           "  jalonctl org create -f org.yaml");
  r.Update(&Stub::GetOrganization, &Stub::UpdateOrganization,
           "Update an organisation (admin)",
           "  jalonctl org update 01J... --email contact@fimme.ma");
}

// --------------------------------------------------------------- token

// Whether the first line of `path` is the secret of token `token_id`: the
// server says whose token it is (a token's id is its principal's). An
// older secret, or another token's, is not.
bool HoldsSecretOf(Session& s, const std::string& path,
                   const std::string& token_id) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return false;
  // Read as a token file is (a CRLF line, a trailing space), and never
  // sent when no token could hold it: gRPC would abort, printing it.
  const absl::string_view secret = absl::StripAsciiWhitespace(line);
  if (secret.empty() ||
      !IsVisibleAscii(std::string_view(secret.data(), secret.size()))) {
    return false;
  }
  rpb::GetCurrentPrincipalResponse who;
  grpc::Status st =
      s.roadmap().GetCurrentPrincipal(s.CtxAs(std::string(secret)).get(),
                                      rpb::GetCurrentPrincipalRequest(), &who);
  if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) return false;
  CheckRpc(st, "check the secret in " + path);
  return who.principal().principal_id() == token_id;
}

void Tokens(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "token", "API tokens of principals (admin)");
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "issue", "Issue a token; the secret is shown once",
        "  jalonctl token issue --org 01J... --role copilot --principal "
        "a.benali\n"
        "  jalonctl token issue --org 01J... --role member --principal bot "
        "--secret-file ./bot.token",
        [&s, a] {
          rpb::IssueTokenRequest req;
          req.set_request_id(a->request_id.empty() ? NewRequestId()
                                                   : a->request_id);
          req.set_principal_name(a->text);
          req.set_organization_id(a->organization);
          req.set_role(static_cast<common::v1::Role>(
              ParseEnum(common::v1::Role_descriptor(), a->kind, "--role")));
          req.set_description(a->reason);
          auto r = Call(s, s.roadmap(), &Stub::IssueToken, req, "issue token");
          if (r.secret().empty()) {
            // The request id issued this token before (a retry): the
            // server shows a secret once, and a secret file written then
            // must not be emptied now.
            const std::string note = "token " + r.token().id() +
                                     " was issued by an earlier call with "
                                     "this request id; its secret was "
                                     "shown then, never again";
            if (!a->output_file.empty()) {
              if (!HoldsSecretOf(s, a->output_file, r.token().id())) {
                throw CliError(kExitConflict,
                               "error: " + note + ", and " + a->output_file +
                                   " does not hold it: revoke the token and "
                                   "issue another");
              }
              std::cerr << "jalonctl: " << note << "; " << a->output_file
                        << " keeps it\n";
            } else {
              std::cerr << "jalonctl: " << note << "\n";
            }
            s.printer().One(r.token(), kTokenColumns);
            return;
          }
          if (!a->output_file.empty()) {
            // Created 0600 before the secret is written; an existing
            // file is narrowed to 0600 first.
            const std::string& path = a->output_file;
            int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd < 0 || ::fchmod(fd, 0600) != 0) {
              if (fd >= 0) ::close(fd);
              throw CliError(kExitOther, "error: cannot write " + path +
                                             "; the token was issued (id " +
                                             r.token().id() + "): revoke it");
            }
            std::string line = r.secret() + "\n";
            bool ok = ::write(fd, line.data(), line.size()) ==
                      static_cast<ssize_t>(line.size());
            ok = ::close(fd) == 0 && ok;
            if (!ok) {
              throw CliError(kExitOther, "error: cannot write " + path +
                                             "; the token was issued (id " +
                                             r.token().id() + "): revoke it");
            }
            s.printer().One(r.token(), kTokenColumns);
          } else if (s.printer().format() == Format::kTable) {
            s.printer().One(r.token(), kTokenColumns);
            std::cout << "secret (shown once): " << r.secret() << "\n";
          } else {
            s.printer().One(
                r, Nested("token", kTokenColumns, {{"SECRET", "secret"}}));
          }
        });
    v->add_option("--org", a->organization, "organisation of the principal")
        ->required();
    v->add_option("--role", a->kind, "admin, copilot, member or reader")
        ->required();
    v->add_option("--principal", a->text, "name of the principal")->required();
    v->add_option("--description", a->reason, "what the token is for");
    v->add_option(
        "--secret-file", a->output_file,
        "write the secret to this file (mode 0600) instead of stdout");
    v->add_option("--request-id", a->request_id, "idempotency key");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "list", "List tokens (never their secrets)",
             "  jalonctl token list --include-revoked", [&s, a] {
               rpb::ListTokensRequest req;
               req.set_organization_id(a->organization);
               req.set_include_revoked(a->flag);
               auto out = FetchList<rpb::Token>(
                   s, s.roadmap(), &Stub::ListTokens, req,
                   [](const auto& r) -> const auto& { return r.tokens(); },
                   "list tokens", s.limit());
               s.printer().ListOf(out, kTokenColumns);
             });
    v->add_option("--org", a->organization, "only this organisation's tokens");
    v->add_flag("--include-revoked", a->flag, "include revoked tokens");
  }
  {
    auto a = NewArgs();
    CLI::App* v = Verb(cli, g, "revoke", "Revoke a token",
                       "  jalonctl token revoke 01J...", [&s, a] {
                         rpb::RevokeTokenRequest req;
                         req.set_id(a->id);
                         req.set_etag(a->etag);
                         auto r = Call(s, s.roadmap(), &Stub::RevokeToken, req,
                                       "revoke token");
                         s.printer().One(r.token(), kTokenColumns);
                       });
    AddIdArgument(v, a.get(), "token id");
    v->add_option("--etag", a->etag, "expected etag");
  }
  Verb(cli, cli.app, "whoami", "Show the principal of the current token",
       "  jalonctl whoami", [&s] {
         auto r = Call(s, s.roadmap(), &Stub::GetCurrentPrincipal,
                       rpb::GetCurrentPrincipalRequest(), "whoami");
         s.printer().One(r.principal(), kActorColumns);
       });
}

// ------------------------------------------------------------- roadmap
void Roadmaps(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g =
      Group(cli.app, "roadmap", "Roadmaps co-piloted by two organisations");
  auto add_fields = [](CLI::App* v, Args* a) {
    a->fields.Add(v, "title", "title", "title")
        .Add(v, "description", "description", "free text")
        .Add(v, "start", "start_date", "first day, YYYY-MM-DD")
        .Add(v, "horizon", "horizon_date", "last day, YYYY-MM-DD")
        .Add(v, "status", "status", "draft, active or closed")
        .Add(
            v, "copilots", "copilot_organization_ids",
            "the two co-pilot organisation ids, comma-separated (create only)");
  };
  {
    auto a = NewArgs();
    Verb(cli, g, "list", "List roadmaps", "  jalonctl roadmap list", [&s, a] {
      rpb::ListRoadmapsRequest req;
      auto out = FetchList<rpb::Roadmap>(
          s, s.roadmap(), &Stub::ListRoadmaps, req,
          [](const auto& r) -> const auto& { return r.roadmaps(); },
          "list roadmaps", s.limit());
      s.printer().ListOf(out, kRoadmapColumns);
    });
  }
  ResourceVerbs r(cli, g, &Session::roadmap, "roadmap", "roadmap",
                  kRoadmapColumns, add_fields);
  r.Get(&Stub::GetRoadmap, "Show a roadmap",
        "  jalonctl roadmap get 01J... -o json");
  r.Create(&Stub::CreateRoadmap, "create roadmap", "Create a roadmap (admin)",
           "  jalonctl roadmap create --title 'Feuille de route IMME' --start "
           "2016-05-02 \\\n"
           "      --horizon 2020-12-31 --copilots FED_ID,MINISTRY_ID");
  r.Update(&Stub::GetRoadmap, &Stub::UpdateRoadmap, "Update a roadmap (admin)",
           "  jalonctl roadmap update 01J... --status active");
}

// ----------------------------------------------------------- ecosystem
void Ecosystems(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g =
      Group(cli.app, "ecosystem", "Industrial ecosystems of a roadmap");
  auto add_fields = [](CLI::App* v, Args* a) {
    a->fields.Add(v, "name", "name", "name")
        .Add(v, "description", "description", "free text")
        .Add(v, "created", "creation_date", "set-up date, YYYY-MM-DD");
  };
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "list", "List a roadmap's ecosystems",
             "  jalonctl ecosystem list --roadmap 01J...", [&s, a] {
               rpb::ListEcosystemsRequest req;
               req.set_roadmap_id(a->roadmap);
               auto out = FetchList<rpb::Ecosystem>(
                   s, s.roadmap(), &Stub::ListEcosystems, req,
                   [](const auto& r) -> const auto& { return r.ecosystems(); },
                   "list ecosystems", s.limit());
               s.printer().ListOf(out, kEcosystemColumns);
             });
    v->add_option("--roadmap", a->roadmap, "roadmap id")->required();
  }
  ResourceVerbs r(cli, g, &Session::roadmap, "ecosystem", "ecosystem",
                  kEcosystemColumns, add_fields);
  r.Get(&Stub::GetEcosystem, "Show an ecosystem",
        "  jalonctl ecosystem get 01J...");
  r.Create(&Stub::CreateEcosystem, "create ecosystem",
           "Create an ecosystem (admin)",
           "  jalonctl ecosystem create --roadmap 01J... --name 'Travail des "
           "métaux' --created 2016-05-02",
           InRoadmap);
  r.Update(&Stub::GetEcosystem, &Stub::UpdateEcosystem,
           "Update an ecosystem (admin)",
           "  jalonctl ecosystem update 01J... --description '...'");
}

// ----------------------------------------------------------- indicator
void Indicators(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g =
      Group(cli.app, "indicator", "KPI indicators (targets) of a roadmap");
  auto add_fields = [](CLI::App* v, Args* a) {
    a->fields.Add(v, "name", "name", "name")
        .Add(v, "description", "description", "free text")
        .Add(v, "unit", "unit", "jobs, mad, percent or count")
        .Add(v, "direction", "direction", "increase or decrease")
        .Add(v, "baseline", "baseline_value", "baseline value")
        .Add(v, "baseline-date", "baseline_date", "YYYY-MM-DD")
        .Add(v, "target", "target_value", "target value")
        .Add(v, "target-date", "target_date", "YYYY-MM-DD");
  };
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "list", "List a roadmap's indicators",
             "  jalonctl indicator list --roadmap 01J... --ecosystem 01K...",
             [&s, a] {
               rpb::ListIndicatorsRequest req;
               req.set_roadmap_id(a->roadmap);
               req.set_ecosystem_id(a->ecosystem);
               auto out = FetchList<rpb::Indicator>(
                   s, s.roadmap(), &Stub::ListIndicators, req,
                   [](const auto& r) -> const auto& { return r.indicators(); },
                   "list indicators", s.limit());
               s.printer().ListOf(out, kIndicatorColumns);
             });
    v->add_option("--roadmap", a->roadmap, "roadmap id")->required();
    v->add_option("--ecosystem", a->ecosystem, "only this ecosystem");
  }
  ResourceVerbs r(cli, g, &Session::roadmap, "indicator", "indicator",
                  kIndicatorColumns, add_fields);
  r.Get(&Stub::GetIndicator, "Show an indicator",
        "  jalonctl indicator get 01J...");
  r.Create(&Stub::CreateIndicator, "create indicator",
           "Create an indicator (admin)",
           "  jalonctl indicator create --roadmap R --name 'Nouveaux "
           "emplois' --unit jobs \\\n"
           "      --baseline 0 --baseline-date 2016-01-01 --target 13340 "
           "--target-date 2020-12-31",
           [](CLI::App* v, Args* a) {
             InRoadmap(v, a);
             a->fields.Add(v, "ecosystem", "ecosystem_id",
                           "ecosystem id (empty: roadmap-wide)");
           });
  r.Update(&Stub::GetIndicator, &Stub::UpdateIndicator,
           "Update an indicator (admin)",
           "  jalonctl indicator update 01J... --target 14000");
}

// --------------------------------------------------------- measurement
void Measurements(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "measurement", "Measured values of indicators");
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "list", "List an indicator's measurements",
        "  jalonctl measurement list --indicator 01J... --state unverified",
        [&s, a] {
          rpb::ListMeasurementsRequest req;
          req.set_indicator_id(a->id);
          if (!a->status.empty()) {
            req.set_verification_state(static_cast<rpb::VerificationState>(
                ParseEnum(rpb::VerificationState_descriptor(), a->status,
                          "--state")));
          }
          auto out = FetchList<rpb::Measurement>(
              s, s.roadmap(), &Stub::ListMeasurements, req,
              [](const auto& r) -> const auto& { return r.measurements(); },
              "list measurements", s.limit());
          s.printer().ListOf(out, kMeasurementColumns);
        });
    v->add_option("--indicator", a->id, "indicator id")->required();
    v->add_option("--state", a->status, "unverified, verified or rejected");
  }
  ResourceVerbs r(cli, g, &Session::roadmap, "measurement", "measurement",
                  kMeasurementColumns, [](CLI::App* v, Args* a) {
                    a->fields
                        .Add(v, "indicator", "indicator_id", "indicator id")
                        .Add(v, "value", "value", "measured value")
                        .Add(v, "period-start", "period_start", "YYYY-MM-DD")
                        .Add(v, "period-end", "period_end", "YYYY-MM-DD")
                        .Add(v, "source", "source", "source or evidence");
                  });
  r.Get(&Stub::GetMeasurement, "Show a measurement",
        "  jalonctl measurement get 01J...");
  r.Create(&Stub::RecordMeasurement, "record measurement",
           "Record a measurement (copilot of a co-pilot organisation)",
           "  jalonctl measurement create --indicator 01J... --value 4120 \\\n"
           "      --period-start 2017-01-01 --period-end 2017-12-31 --source "
           "'CNSS 2017'")
      ->alias("record");
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "verify",
        "Verify (--approve) or reject (--reject --note) a measurement; only "
        "the "
        "other co-pilot organisation may",
        "  jalonctl measurement verify 01J... --approve\n"
        "  jalonctl measurement verify 01J... --reject --note 'double-counted'",
        [&s, a] {
          if (a->flag == a->flag2)
            UsageError("give exactly one of --approve, --reject");
          rpb::VerifyMeasurementRequest req;
          req.set_id(a->id);
          req.set_etag(a->etag);
          req.set_approve(a->flag);
          req.set_note(a->reason);
          s.printer().One(Call(s, s.roadmap(), &Stub::VerifyMeasurement, req,
                               "verify measurement")
                              .measurement(),
                          kMeasurementColumns);
        });
    AddIdArgument(v, a.get(), "measurement id");
    v->add_flag("--approve", a->flag, "verify it");
    v->add_flag("--reject", a->flag2, "reject it (needs --note)");
    v->add_option("--note", a->reason, "verifier's note");
    v->add_option("--etag", a->etag, "expected etag");
  }
}

// -------------------------------------------------------------- action
rpb::Action GetAction(Session& s, const std::string& id) {
  rpb::GetActionRequest req;
  req.set_id(id);
  return Call(s, s.roadmap(), &Stub::GetAction, req, "get action").action();
}

rpb::Action UpdateAction(Session& s, const rpb::Action& action,
                         const std::vector<std::string>& mask) {
  rpb::UpdateActionRequest req;
  *req.mutable_action() = action;
  for (const auto& p : mask) req.mutable_update_mask()->add_paths(p);
  return Call(s, s.roadmap(), &Stub::UpdateAction, req, "update action")
      .action();
}

void Actions(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "action", "Roadmap actions and their lifecycle");
  auto add_fields = [](CLI::App* v, Args* a) {
    a->fields.Add(v, "title", "title", "title")
        .Add(v, "description", "description", "free text")
        .Add(v, "ecosystem", "ecosystem_id", "ecosystem id")
        .Add(v, "lead", "lead_organization_id", "lead (pilot) organisation id")
        .Add(v, "partner", "partner_organization_id",
             "partner (co-pilot) organisation id")
        .Add(v, "owner", "owner", "person in charge")
        .Add(v, "priority", "priority", "low, medium, high or critical")
        .Add(v, "start", "start_date", "planned start, YYYY-MM-DD")
        .Add(v, "due", "due_date", "due date, YYYY-MM-DD")
        .Add(v, "progress", "progress_override", "explicit progress 0..100")
        .Add(v, "depends-on", "depends_on_action_ids",
             "action ids, comma-separated")
        .Add(v, "tags", "tags", "tags, comma-separated");
  };
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "list", "List actions",
        "  jalonctl action list --roadmap 01J... --status in-progress,blocked\n"
        "  jalonctl action list --late -o csv",
        [&s, a] {
          rpb::ListActionsRequest req;
          req.set_roadmap_id(a->roadmap);
          req.set_ecosystem_id(a->ecosystem);
          req.set_organization_id(a->organization);
          req.set_owner(a->text);
          req.set_tag(a->kind);
          req.set_late_only(a->flag);
          for (const auto& st : a->statuses) {
            req.add_statuses(static_cast<rpb::ActionStatus>(
                ParseEnum(rpb::ActionStatus_descriptor(), st, "--status")));
          }
          auto out = FetchList<rpb::Action>(
              s, s.roadmap(), &Stub::ListActions, req,
              [](const auto& r) -> const auto& { return r.actions(); },
              "list actions", s.limit());
          s.printer().ListOf(out, kActionColumns);
        });
    v->add_option("--roadmap", a->roadmap, "roadmap id");
    v->add_option("--ecosystem", a->ecosystem, "ecosystem id");
    v->add_option("--org", a->organization, "lead or partner organisation");
    v->add_option("--owner", a->text, "owner");
    v->add_option("--tag", a->kind, "tag");
    v->add_option("--status", a->statuses, "statuses (comma-separated)")
        ->delimiter(',');
    v->add_flag("--late", a->flag, "only late actions");
  }
  ResourceVerbs r(cli, g, &Session::roadmap, "action", "action", kActionColumns,
                  add_fields);
  r.Get(&Stub::GetAction, "Show an action",
        "  jalonctl action get 01J... -o yaml");
  r.Create(&Stub::CreateAction, "create action",
           "Create an action (it starts PROPOSED)",
           "  jalonctl action create --roadmap R --ecosystem E --title "
           "'Plateforme de tri' \\\n"
           "      --lead FED --partner MIN --due 2020-12-31\n"
           "  jalonctl action create -f action.yaml",
           InRoadmap);
  r.Update(
      &Stub::GetAction, &Stub::UpdateAction,
      "Update an action's fields (not its status)",
      "  jalonctl action update 01J... --due 2021-06-30 --owner 'K. Alami'");
  struct Move {
    const char* verb;
    rpb::ActionStatus target;
    bool reason_required;
    const char* help;
  };
  for (const Move& m : std::vector<Move>{
           {"plan", rpb::ACTION_STATUS_PLANNED, false, "PROPOSED -> PLANNED"},
           {"start", rpb::ACTION_STATUS_IN_PROGRESS, false,
            "PLANNED -> IN_PROGRESS"},
           {"block", rpb::ACTION_STATUS_BLOCKED, true,
            "IN_PROGRESS -> BLOCKED (with a reason)"},
           {"unblock", rpb::ACTION_STATUS_IN_PROGRESS, false,
            "BLOCKED -> IN_PROGRESS"},
           {"request-completion", rpb::ACTION_STATUS_COMPLETION_REQUESTED,
            false,
            "IN_PROGRESS -> COMPLETION_REQUESTED (lead or partner "
            "organisation)"},
           {"approve", rpb::ACTION_STATUS_DONE, false,
            "COMPLETION_REQUESTED -> DONE (the counterpart organisation)"},
           {"reject", rpb::ACTION_STATUS_IN_PROGRESS, true,
            "COMPLETION_REQUESTED -> IN_PROGRESS (the counterpart, with a "
            "reason)"},
           {"cancel", rpb::ACTION_STATUS_CANCELLED, true,
            "any state but DONE -> CANCELLED (with a reason)"}}) {
    auto a = NewArgs();
    rpb::ActionStatus target = m.target;
    CLI::App* v =
        Verb(cli, g, m.verb, m.help,
             absl::StrCat("  jalonctl action ", m.verb, " 01J...",
                          m.reason_required ? " --reason '...'" : ""),
             [&s, a, target, verb = std::string(m.verb)] {
               rpb::TransitionActionRequest req;
               req.set_id(a->id);
               req.set_etag(a->etag);
               req.set_target_status(target);
               req.set_reason(a->reason);
               s.printer().One(Call(s, s.roadmap(), &Stub::TransitionAction,
                                    req, verb + " action")
                                   .action(),
                               kActionColumns);
             });
    AddIdArgument(v, a.get(), "action id");
    auto* reason = v->add_option("--reason", a->reason, "why");
    if (m.reason_required) reason->required();
    v->add_option("--etag", a->etag, "expected etag");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "history", "List every change of an action, oldest first",
             "  jalonctl action history 01J...", [&s, a] {
               rpb::ListActionHistoryRequest req;
               req.set_action_id(a->id);
               auto out = FetchList<common::v1::HistoryEntry>(
                   s, s.roadmap(), &Stub::ListActionHistory, req,
                   [](const auto& r) -> const auto& { return r.entries(); },
                   "action history", s.limit());
               s.printer().ListOf(out, kHistoryColumns);
             });
    AddIdArgument(v, a.get(), "action id");
  }
}

// ----------------------------------------------------------- milestone
void Milestones(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(
      cli.app, "milestone",
      "Milestones of an action (updated through the action, with its etag)");
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "list", "List an action's milestones",
             "  jalonctl milestone list 01J...", [&s, a] {
               rpb::Action action = GetAction(s, a->id);
               std::vector<rpb::Milestone> out(action.milestones().begin(),
                                               action.milestones().end());
               s.printer().ListOf(out, kMilestoneColumns);
             });
    AddIdArgument(v, a.get(), "action id");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "add", "Add a milestone to an action",
             "  jalonctl milestone add 01J... --title 'Étude de faisabilité' "
             "--due 2017-06-30",
             [&s, a] {
               rpb::Action action = GetAction(s, a->id);
               rpb::Milestone* m = action.add_milestones();
               a->fields.Apply(m);
               rpb::Action updated = UpdateAction(s, action, {"milestones"});
               std::vector<rpb::Milestone> out(updated.milestones().begin(),
                                               updated.milestones().end());
               s.printer().ListOf(out, kMilestoneColumns);
             });
    AddIdArgument(v, a.get(), "action id");
    a->fields.Add(v, "title", "title", "title")
        .Add(v, "due", "due_date", "YYYY-MM-DD")
        .Add(v, "id", "id", "milestone id (server-assigned when empty)");
  }
  auto change = [&s](const std::string& verb, Args* a, bool done) {
    rpb::Action action = GetAction(s, a->id);
    rpb::Milestone* target = nullptr;
    for (auto& m : *action.mutable_milestones()) {
      if (m.id() == a->id2) target = &m;
    }
    if (target == nullptr) {
      throw CliError(kExitNotFound, "error: " + verb + " milestone: action " +
                                        a->id + " has no milestone " + a->id2);
    }
    if (done) {
      *target->mutable_done_date() =
          a->date.empty() ? Today() : ParseDate(a->date, "--date");
    }
    a->fields.Apply(target);
    if (!done && a->fields.given().empty()) UsageError("nothing to update");
    rpb::Action updated = UpdateAction(s, action, {"milestones"});
    std::vector<rpb::Milestone> out(updated.milestones().begin(),
                                    updated.milestones().end());
    s.printer().ListOf(out, kMilestoneColumns);
  };
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "update", "Change a milestone",
             "  jalonctl milestone update ACTION MILESTONE --due 2017-09-30",
             [change, a] { change("update", a.get(), false); });
    AddIdArgument(v, a.get(), "action id");
    v->add_option("milestone", a->id2, "milestone id")->required();
    a->fields.Add(v, "title", "title", "title")
        .Add(v, "due", "due_date", "YYYY-MM-DD")
        .Add(v, "done-date", "done_date", "YYYY-MM-DD");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "done", "Mark a milestone reached (today by default)",
             "  jalonctl milestone done ACTION MILESTONE --date 2017-06-15",
             [change, a] { change("done", a.get(), true); });
    AddIdArgument(v, a.get(), "action id");
    v->add_option("milestone", a->id2, "milestone id")->required();
    v->add_option("--date", a->date, "when it was reached, YYYY-MM-DD");
  }
}

// ------------------------------------------------------------- comment
void Comments(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "comment", "Comments on actions");
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "list", "List an action's comments",
             "  jalonctl comment list --action 01J...", [&s, a] {
               rpb::ListCommentsRequest req;
               req.set_action_id(a->id);
               auto out = FetchList<rpb::Comment>(
                   s, s.roadmap(), &Stub::ListComments, req,
                   [](const auto& r) -> const auto& { return r.comments(); },
                   "list comments", s.limit());
               s.printer().ListOf(out, kCommentColumns);
             });
    v->add_option("--action", a->id, "action id")->required();
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "create", "Comment on an action (admin or copilot)",
             "  jalonctl comment create --action 01J... --body 'Réunion fixée'",
             [&s, a] {
               rpb::AddCommentRequest req;
               req.set_request_id(a->request_id.empty() ? NewRequestId()
                                                        : a->request_id);
               req.set_action_id(a->id);
               req.set_body(a->text);
               s.printer().One(
                   Call(s, s.roadmap(), &Stub::AddComment, req, "add comment")
                       .comment(),
                   kCommentColumns);
             });
    v->alias("add");
    v->add_option("--action", a->id, "action id")->required();
    v->add_option("--body", a->text, "text")->required();
    v->add_option("--request-id", a->request_id, "idempotency key");
  }
}

}  // namespace

void RegisterRoadmapCommands(Cli& cli) {
  Orgs(cli);
  Tokens(cli);
  Roadmaps(cli);
  Ecosystems(cli);
  Indicators(cli);
  Measurements(cli);
  Actions(cli);
  Milestones(cli);
  Comments(cli);
}

}  // namespace jalon::ctl
