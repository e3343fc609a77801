// Commands of the reporting service: report (generate, get, list, export,
// status), feed (watch, keys), schedule (set, list), rebuild.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "services/reporting/watch_header.h"
#include "tools/jalonctl/commands.h"

namespace jalon::ctl {
namespace {

namespace xpb = ::jalon::reporting::v1;
using Stub = xpb::ReportingService::Stub;

const std::vector<Column> kReportColumns = {{"ID", "id"},
                                            {"ROADMAP", "roadmap_id"},
                                            {"PERIOD", "period.label"},
                                            {"SEQ", "sequence"},
                                            {"GENERATED", "generate_time"},
                                            {"TRIGGER", "trigger"},
                                            {"SHA256", "content_sha256"}};
const std::vector<Column> kScheduleColumns = {{"ROADMAP", "roadmap_id"},
                                              {"FREQUENCY", "frequency"}};
const std::vector<Column> kFeedKeyColumns = {{"ID", "id"},
                                             {"ROADMAP", "filter.roadmap_id"},
                                             {"KINDS", "filter.kinds"},
                                             {"REVOKED", "revoked"},
                                             {"DESCRIPTION", "description"}};
const std::vector<Column> kUpdateColumns = {{"TIME", "time"},
                                            {"KIND", "kind"},
                                            {"SUBJECT", "subject_id"},
                                            {"SUMMARY", "summary"}};
const std::vector<Column> kIndicatorStatusColumns = {
    {"INDICATOR", "name"},      {"UNIT", "unit"},
    {"TARGET", "target_value"}, {"EXPECTED", "expected_value"},
    {"ACTUAL", "actual_value"}, {"ATTAINMENT", "attainment_target"},
    {"RATING", "rating"}};

xpb::ExportFormat ParseExportFormat(const std::string& text) {
  if (text == "html") return xpb::EXPORT_FORMAT_HTML;
  if (text == "md" || text == "markdown") return xpb::EXPORT_FORMAT_MARKDOWN;
  if (text == "csv") return xpb::EXPORT_FORMAT_CSV;
  if (text == "json") return xpb::EXPORT_FORMAT_JSON;
  UsageError("--format: \"" + text + "\" is not one of html, md, csv, json");
}

xpb::Language ParseLanguage(const std::string& text) {
  if (text == "fr") return xpb::LANGUAGE_FR;
  if (text == "en") return xpb::LANGUAGE_EN;
  UsageError("--lang: \"" + text + "\" is not one of fr, en");
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw CliError(kExitOther, "error: cannot write " + path);
}

// Writes an export: one file to -o FILE (or stdout), several (CSV) into
// --output-dir (or -o naming a directory).
void SaveExport(const xpb::ExportReportResponse& r, const Args& a) {
  std::error_code no_throw;
  if (r.files_size() == 1 && a.output_dir.empty() &&
      !std::filesystem::is_directory(a.output_file, no_throw)) {
    if (a.output_file.empty() || a.output_file == "-") {
      std::cout << r.files(0).content();
    } else {
      WriteFile(a.output_file, r.files(0).content());
      std::cerr << "wrote " << a.output_file << "\n";
    }
    return;
  }
  std::string dir = !a.output_dir.empty() ? a.output_dir : a.output_file;
  if (dir.empty()) {
    UsageError("this export has " + std::to_string(r.files_size()) +
               " files: give --output-dir DIR");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw CliError(kExitOther, "error: cannot create the directory " + dir +
                                   ": " + ec.message());
  }
  for (const auto& f : r.files()) {
    if (f.name().find('/') != std::string::npos || f.name() == ".." ||
        f.name().empty()) {
      throw CliError(kExitOther,
                     "error: refusing file name \"" + f.name() + "\"");
    }
    WriteFile(dir + "/" + f.name(), f.content());
    std::cerr << "wrote " << dir << "/" << f.name() << "\n";
  }
}

// The export `a` asks for, checked before anything is asked of a server.
xpb::ExportReportRequest ExportRequest(const std::string& id, const Args& a) {
  // Here -o names a file, not a format (the global -o): one of the format
  // names is surely a slip, and would become a file of that name.
  for (const char* format : {"table", "json", "yaml", "csv"}) {
    if (a.output_file == format) {
      UsageError(
          "report export: -o names the file to write; \"" + a.output_file +
          "\" looks like a format: use --format " +
          (a.output_file == "table" ? std::string("html") : a.output_file) +
          " (and -o FILE or --output-dir DIR)");
    }
  }
  xpb::ExportReportRequest req;
  req.set_id(id);
  req.set_format(ParseExportFormat(a.format.empty() ? "html" : a.format));
  req.set_language(ParseLanguage(a.language.empty() ? "fr" : a.language));
  // CSV is several files: they need a directory.
  if (req.format() == xpb::EXPORT_FORMAT_CSV) {
    const std::string dir = a.output_dir.empty() ? a.output_file : a.output_dir;
    if (dir.empty() || dir == "-") {
      UsageError("--format csv writes several files: give --output-dir DIR");
    }
    std::error_code ec;
    if (std::filesystem::exists(dir, ec) &&
        !std::filesystem::is_directory(dir, ec)) {
      UsageError("--format csv writes several files into a directory, and " +
                 dir + " is a file: give --output-dir DIR");
    }
  }
  return req;
}

void Export(Session& s, const xpb::ExportReportRequest& req, const Args& a) {
  SaveExport(Call(s, s.reporting(), &Stub::ExportReport, req, "export report"),
             a);
}

void AddExportOptions(CLI::App* v, Args* a, bool required_format) {
  auto* f = v->add_option("--format", a->format, "html, md, csv or json");
  if (required_format) f->default_str("html");
  v->add_option("--lang", a->language, "fr (default) or en");
  v->add_option("--output-dir", a->output_dir,
                "directory for several files (CSV)");
}

void Reports(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g =
      Group(cli.app, "report", "Reports to the ministry: immutable snapshots");
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "generate", "Generate a report (admin or copilot)",
             "  jalonctl report generate --roadmap 01J... --period 2019\n"
             "  jalonctl report generate --roadmap 01J... --period 2019-Q4 "
             "--format html "
             "--output-file report.html",
             [&s, a] {
               // Every flag is checked before the report is made: a report
               // is immutable, and a rerun would make a second one.
               if (a->format.empty() &&
                   (!a->language.empty() || !a->output_dir.empty() ||
                    !a->output_file.empty())) {
                 UsageError(
                     "--lang, --output-file and --output-dir export the "
                     "report: give --format too");
               }
               std::optional<xpb::ExportReportRequest> export_req;
               if (!a->format.empty()) export_req = ExportRequest("", *a);
               xpb::GenerateReportRequest req;
               req.set_request_id(a->request_id.empty() ? NewRequestId()
                                                        : a->request_id);
               req.set_roadmap_id(a->roadmap);
               req.set_period(a->period);
               auto r = Call(s, s.reporting(), &Stub::GenerateReport, req,
                             "generate report");
               if (!export_req) {
                 s.printer().One(r.report(), kReportColumns);
                 return;
               }
               export_req->set_id(r.report().id());
               try {
                 Export(s, *export_req, *a);
               } catch (const std::exception& e) {
                 // Whatever failed, the report exists: say which it is.
                 const CliError* cli = dynamic_cast<const CliError*>(&e);
                 throw CliError(cli != nullptr ? cli->code() : kExitOther,
                                std::string(e.what()) + "\nreport " +
                                    r.report().id() +
                                    " was generated; export it again with "
                                    "`jalonctl report export " +
                                    r.report().id() + " --format ...`");
               }
             });
    v->add_option("--roadmap", a->roadmap, "roadmap id")->required();
    v->add_option("--period", a->period, "YYYY, YYYY-Qn or YYYY-MM")
        ->required();
    v->add_option("--request-id", a->request_id, "idempotency key");
    AddExportOptions(v, a.get(), false);
    v->add_option("--output-file", a->output_file,
                  "with --format: write the export here (default stdout)");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "get", "Show a report (-o json/yaml for its content)",
             "  jalonctl report get 01J... -o json", [&s, a] {
               xpb::GetReportRequest req;
               req.set_id(a->id);
               s.printer().One(
                   Call(s, s.reporting(), &Stub::GetReport, req, "get report")
                       .report(),
                   kReportColumns);
             });
    AddIdArgument(v, a.get(), "report id");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "list", "List a roadmap's reports, newest first",
             "  jalonctl report list --roadmap 01J...", [&s, a] {
               xpb::ListReportsRequest req;
               req.set_roadmap_id(a->roadmap);
               auto out = FetchList<xpb::Report>(
                   s, s.reporting(), &Stub::ListReports, req,
                   [](const auto& r) -> const auto& { return r.reports(); },
                   "list reports", s.limit());
               s.printer().ListOf(out, kReportColumns);
             });
    v->add_option("--roadmap", a->roadmap, "roadmap id")->required();
  }
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, g, "export", "Export a report as HTML, Markdown, CSV or JSON",
        "  jalonctl report export 01J... --format html -o report.html\n"
        "  jalonctl report export 01J... --format md --lang en > report.md\n"
        "  jalonctl report export 01J... --format csv --output-dir report-csv/",
        [&s, a] { Export(s, ExportRequest(a->id, *a), *a); });
    AddIdArgument(v, a.get(), "report id");
    AddExportOptions(v, a.get(), true);
    v->add_option("-o,--output-file", a->output_file,
                  "file to write (a directory for CSV); default stdout");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "status", "The roadmap's status now (not stored)",
             "  jalonctl report status --roadmap 01J...", [&s, a] {
               xpb::GetRoadmapStatusRequest req;
               req.set_roadmap_id(a->roadmap);
               auto r = Call(s, s.reporting(), &Stub::GetRoadmapStatus, req,
                             "roadmap status");
               if (s.printer().format() == Format::kJson ||
                   s.printer().format() == Format::kYaml) {
                 s.printer().One(r, {});
                 return;
               }
               std::vector<xpb::IndicatorReport> rows(
                   r.content().roadmap_indicators().begin(),
                   r.content().roadmap_indicators().end());
               for (const auto& e : r.content().ecosystems()) {
                 rows.insert(rows.end(), e.indicators().begin(),
                             e.indicators().end());
               }
               s.printer().ListOf(rows, kIndicatorStatusColumns);
             });
    v->add_option("--roadmap", a->roadmap, "roadmap id")->required();
  }
}

void PrintUpdate(Session& s, const xpb::StatusUpdate& u, bool* header) {
  switch (s.printer().format()) {
    case Format::kJson:
      std::cout << ToJson(u, false) << "\n";
      break;
    case Format::kYaml:
      std::cout << "---\n" << JsonToYaml(ToJson(u, false));
      break;
    case Format::kCsv: {
      std::vector<std::string> headers, row;
      for (const auto& c : kUpdateColumns) {
        headers.push_back(c.header);
        row.push_back(FieldText(u, c.path));
      }
      std::string text = RenderCsv(headers, {row});
      if (*header) text = text.substr(text.find("\r\n") + 2);
      std::cout << text;
      break;
    }
    case Format::kTable:
      std::cout << FieldText(u, "time") << "  " << FieldText(u, "kind") << "  "
                << FieldText(u, "subject_id") << "  " << OneLine(u.summary())
                << "\n";
      break;
  }
  *header = true;
  std::cout.flush();
}

// The cursor a watch started from, from the server's response headers;
// empty if none came (the call failed before) or it is not a cursor.
std::string StartCursor(const grpc::ClientContext& ctx) {
  const auto& md = ctx.GetServerInitialMetadata();
  auto it = md.find(reporting::kWatchCursorHeader);
  if (it == md.end()) return "";
  std::string cursor(it->second.data(), it->second.size());
  bool ok = !cursor.empty() && cursor.size() <= 64 &&
            cursor.find_first_not_of("0123456789-") == std::string::npos;
  return ok ? cursor : "";
}

void Feed(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "feed", "Live status feed and feed keys");
  {
    auto a = NewArgs();
    auto max_events = std::make_shared<int>(0);
    CLI::App* v = Verb(
        cli, g, "watch",
        "Print status updates live; resumes from the last cursor after a "
        "disconnect",
        "  jalonctl feed watch --roadmap 01J...\n"
        "  jalonctl feed watch --kind action-transitioned,action-late -o json\n"
        "  jalonctl feed watch --cursor 0   # from the oldest retained update",
        [&s, a, max_events] {
          xpb::WatchStatusRequest req;
          req.mutable_filter()->set_roadmap_id(a->roadmap);
          req.mutable_filter()->set_ecosystem_id(a->ecosystem);
          for (const auto& k : a->kinds) {
            req.mutable_filter()->add_kinds(static_cast<xpb::StatusKind>(
                ParseEnum(xpb::StatusKind_descriptor(), k, "--kind")));
          }
          std::string cursor = a->cursor;
          std::chrono::milliseconds backoff(500);
          int seen = 0;
          bool header = false;
          for (;;) {
            req.set_cursor(cursor);
            const auto began = std::chrono::steady_clock::now();
            auto ctx = s.StreamCtx();
            auto reader = s.reporting().WatchStatus(ctx.get(), req);
            // The server answers with the cursor it starts from before any
            // update: if the stream drops before the first one, the watch
            // resumes from there, not from a later "now".
            reader->WaitForInitialMetadata();
            if (cursor.empty()) {
              cursor = StartCursor(*ctx);
              if (!cursor.empty()) {
                std::cerr << "feed: watching from cursor " << cursor << "\n";
              }
            }
            xpb::WatchStatusResponse r;
            while (reader->Read(&r)) {
              // A message without an update only moves the cursor on.
              cursor = r.cursor().empty() ? r.update().cursor() : r.cursor();
              if (!r.has_update()) continue;
              PrintUpdate(s, r.update(), &header);
              if (*max_events > 0 && ++seen >= *max_events) {
                ctx->TryCancel();
                reader->Finish();
                return;
              }
            }
            grpc::Status st = reader->Finish();
            bool resumable =
                st.ok() || st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
            if (!resumable) CheckRpc(st, "watch status");
            // A stream that was up a while ended normally (a server's
            // --max-connection-age, a rolling restart), not one of a run
            // of failures: it waits as little as the first failure.
            if (std::chrono::steady_clock::now() - began >=
                std::chrono::seconds(1)) {
              backoff = std::chrono::milliseconds(500);
            }
            std::cerr << "feed: disconnected ("
                      << (st.ok() ? "stream ended" : st.error_message())
                      << "); resuming"
                      << (cursor.empty() ? "" : " after cursor " + cursor)
                      << " in " << backoff.count() << " ms\n";
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
          }
        });
    v->add_option("--roadmap", a->roadmap, "only this roadmap");
    v->add_option("--ecosystem", a->ecosystem, "only this ecosystem");
    v->add_option("--kind", a->kinds,
                  "action-transitioned, action-late, indicator-rating-changed, "
                  "feedback-addressed, report-generated (comma-separated)")
        ->delimiter(',');
    v->add_option("--cursor", a->cursor,
                  "resume after this cursor (\"0\": from the oldest retained; "
                  "default: from now on)");
    v->add_option("--max-events", *max_events, "stop after this many updates");
  }
  CLI::App* keys =
      Group(g, "key", "Read-only keys for Atom feed readers (admin)");
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, keys, "issue", "Issue a feed key; the secret is shown once",
        "  jalonctl feed key issue --roadmap 01J... --description 'newsletter'",
        [&s, a] {
          xpb::IssueFeedKeyRequest req;
          req.set_request_id(NewRequestId());
          auto* k = req.mutable_feed_key();
          k->mutable_filter()->set_roadmap_id(a->roadmap);
          k->mutable_filter()->set_ecosystem_id(a->ecosystem);
          for (const auto& x : a->kinds) {
            k->mutable_filter()->add_kinds(static_cast<xpb::StatusKind>(
                ParseEnum(xpb::StatusKind_descriptor(), x, "--kind")));
          }
          k->set_description(a->text);
          auto r = Call(s, s.reporting(), &Stub::IssueFeedKey, req,
                        "issue feed key");
          if (s.printer().format() == Format::kTable) {
            s.printer().One(r.feed_key(), kFeedKeyColumns);
            std::cout << "secret (shown once): " << r.secret() << "\n";
          } else {
            // CSV: the table's columns and the secret, which no later call
            // can show again.
            s.printer().One(
                r, Nested("feed_key", kFeedKeyColumns, {{"SECRET", "secret"}}));
          }
        });
    v->add_option("--roadmap", a->roadmap, "only this roadmap");
    v->add_option("--ecosystem", a->ecosystem, "only this ecosystem");
    v->add_option("--kind", a->kinds, "kinds (comma-separated)")
        ->delimiter(',');
    v->add_option("--description", a->text, "what it is for");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, keys, "list", "List feed keys", "  jalonctl feed key list",
             [&s, a] {
               xpb::ListFeedKeysRequest req;
               req.set_include_revoked(a->flag);
               auto out = FetchList<xpb::FeedKey>(
                   s, s.reporting(), &Stub::ListFeedKeys, req,
                   [](const auto& r) -> const auto& { return r.feed_keys(); },
                   "list feed keys", s.limit());
               s.printer().ListOf(out, kFeedKeyColumns);
             });
    v->add_flag("--include-revoked", a->flag, "include revoked keys");
  }
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, keys, "revoke", "Revoke a feed key",
             "  jalonctl feed key revoke 01J...", [&s, a] {
               xpb::RevokeFeedKeyRequest req;
               req.set_id(a->id);
               req.set_etag(a->etag);
               s.printer().One(Call(s, s.reporting(), &Stub::RevokeFeedKey, req,
                                    "revoke feed key")
                                   .feed_key(),
                               kFeedKeyColumns);
             });
    AddIdArgument(v, a.get(), "feed key id");
    v->add_option("--etag", a->etag, "expected etag");
  }
}

void Schedules(Cli& cli) {
  Session& s = *cli.session;
  CLI::App* g = Group(cli.app, "schedule", "Report schedules");
  {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli, g, "set",
             "Set (or clear with 'none') a roadmap's schedule (admin)",
             "  jalonctl schedule set --roadmap 01J... --frequency quarterly",
             [&s, a] {
               xpb::SetReportScheduleRequest req;
               req.mutable_schedule()->set_roadmap_id(a->roadmap);
               req.mutable_schedule()->set_frequency(
                   static_cast<xpb::ScheduleFrequency>(
                       ParseEnum(xpb::ScheduleFrequency_descriptor(), a->kind,
                                 "--frequency")));
               s.printer().One(Call(s, s.reporting(), &Stub::SetReportSchedule,
                                    req, "set schedule")
                                   .schedule(),
                               kScheduleColumns);
             });
    v->add_option("--roadmap", a->roadmap, "roadmap id")->required();
    v->add_option("--frequency", a->kind, "none, monthly, quarterly or yearly")
        ->required();
  }
  {
    auto a = NewArgs();
    Verb(cli, g, "list", "List report schedules", "  jalonctl schedule list",
         [&s, a] {
           xpb::ListReportSchedulesRequest req;
           auto out = FetchList<xpb::ReportSchedule>(
               s, s.reporting(), &Stub::ListReportSchedules, req,
               [](const auto& r) -> const auto& { return r.schedules(); },
               "list schedules", s.limit());
           s.printer().ListOf(out, kScheduleColumns);
         });
  }
  Verb(cli, cli.app, "rebuild-read-models",
       "Recompute the reporting read models from the event streams (admin)",
       "  jalonctl rebuild-read-models --timeout 600", [&s] {
         auto r = Call(s, s.reporting(), &Stub::RebuildReadModels,
                       xpb::RebuildReadModelsRequest(), "rebuild read models");
         s.printer().One(r, {{"EVENTS", "events"},
                             {"ENTITIES", "entities"},
                             {"UNREADABLE", "unreadable"},
                             {"GENERATION", "generation"},
                             {"MS", "duration_ms"}});
       });
}

}  // namespace

void RegisterReportingCommands(Cli& cli) {
  Reports(cli);
  Feed(cli);
  Schedules(cli);
}

}  // namespace jalon::ctl
