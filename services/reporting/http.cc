#include "services/reporting/http.h"

#include <google/protobuf/util/time_util.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/status.h"
#include "services/reporting/enum_name.h"
#include "services/reporting/export.h"

namespace jalon::reporting {
namespace {

using google::protobuf::util::TimeUtil;

// Text for XML: markup escaped, and what XML 1.0 forbids in valid UTF-8
// replaced: control characters by spaces, U+FFFE and U+FFFF by U+FFFD (a
// single one would make every reader reject the whole feed).
std::string Xml(std::string_view s) {
  std::string clean(s);
  for (size_t i = 0; i < clean.size(); ++i) {
    const unsigned char c = clean[i];
    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
      clean[i] = ' ';
    } else if (c == 0xEF && i + 2 < clean.size() &&
               static_cast<unsigned char>(clean[i + 1]) == 0xBF &&
               (static_cast<unsigned char>(clean[i + 2]) & 0xFE) == 0xBE) {
      clean[i + 2] = static_cast<char>(0xBD);
      i += 2;
    }
  }
  return HtmlEscape(clean);
}

std::string Url(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ACTION_TRANSITIONED; a kind this build does not know (a newer replica's
// update) is its number.
std::string KindName(pb::StatusKind k) { return ShortName(k); }

int HttpCode(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

void Fail(httplib::Response& res, const absl::Status& s) {
  res.status = HttpCode(s);
  if (res.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  std::string body = absl::StrCat(
      absl::StatusCodeToString(s.code()), ": ",
      res.status == 500 ? "internal error"
                        : Truncated(s.message(), kMaxMessageBytes));
  for (const auto& v : ViolationsOf(s)) {
    absl::StrAppend(&body, "\n  ", v.field, ": ", v.description);
  }
  res.set_content(body + "\n", "text/plain; charset=utf-8");
}

// Who is asking: a token, or a feed key (then *key is set).
absl::Status Authenticate(const httplib::Request& req, TokenVerifier* verifier,
                          ReportingService* service,
                          std::optional<pb::FeedKey>* key) {
  if (req.has_param("key")) {
    auto k = service->FeedKeyBySecret(req.get_param_value("key"));
    if (absl::IsNotFound(k.status())) {
      return absl::UnauthenticatedError("unknown or revoked feed key");
    }
    if (!k.ok()) return k.status();
    *key = *std::move(k);
    return absl::OkStatus();
  }
  auto actor = verifier->Verify(req.get_header_value("Authorization"));
  return actor.status();
}

absl::StatusOr<pb::StatusFilter> FilterOf(const httplib::Request& req) {
  pb::StatusFilter f;
  f.set_roadmap_id(req.get_param_value("roadmap"));
  f.set_ecosystem_id(req.get_param_value("ecosystem"));
  const size_t n = req.get_param_value_count("kind");
  for (size_t i = 0; i < n; ++i) {
    std::string name = absl::AsciiStrToUpper(req.get_param_value("kind", i));
    if (name.rfind("STATUS_KIND_", 0) != 0) name = "STATUS_KIND_" + name;
    pb::StatusKind k;
    if (!pb::StatusKind_Parse(name, &k) || k == pb::STATUS_KIND_UNSPECIFIED) {
      return InvalidField("kind",
                          "unknown kind: expected action_transitioned, "
                          "action_late, indicator_rating_changed, "
                          "feedback_addressed or report_generated");
    }
    f.add_kinds(k);
  }
  // As WatchStatus checks it: the ids go into the feed's XML.
  if (auto s = ReportingService::ValidateFilter(f, "filter"); !s.ok()) {
    return s;
  }
  return f;
}

}  // namespace

std::string RenderAtom(const std::vector<pb::StatusUpdate>& updates,
                       const pb::StatusFilter& filter, const std::string& base,
                       const std::string& key_param,
                       const std::string& roadmap_title) {
  std::string query;
  auto add = [&query](const std::string& k, const std::string& v) {
    if (v.empty()) return;
    absl::StrAppend(&query, query.empty() ? "?" : "&", k, "=", Url(v));
  };
  if (!key_param.empty()) {
    query = "?" + key_param;  // the key fixes the filter
  } else {
    add("roadmap", filter.roadmap_id());
    add("ecosystem", filter.ecosystem_id());
  }
  std::string kinds;
  for (int k : filter.kinds()) {
    std::string name = KindName(static_cast<pb::StatusKind>(k));
    if (key_param.empty()) add("kind", absl::AsciiStrToLower(name));
    absl::StrAppend(&kinds, kinds.empty() ? "" : ",", name);
  }
  const std::string suffix =
      key_param.empty() ? "" : absl::StrCat("?", key_param);
  std::string updated = updates.empty()
                            ? "1970-01-01T00:00:00Z"
                            : TimeUtil::ToString(updates.front().time());
  std::string out = R"(<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
)";
  absl::StrAppend(
      &out, "  <id>urn:jalon:feed:", Xml(filter.roadmap_id()), ":",
      Xml(filter.ecosystem_id()), ":", Xml(kinds), "</id>\n",
      "  <title>Jalon status", filter.roadmap_id().empty() ? "" : " — ",
      Xml(roadmap_title.empty() ? filter.roadmap_id() : roadmap_title),
      "</title>\n", "  <updated>", updated, "</updated>\n",
      "  <author><name>Jalon</name></author>\n", "  <link rel=\"self\" href=\"",
      Xml(base), "/feed.atom", Xml(query), "\"/>\n");
  for (const auto& u : updates) {
    absl::StrAppend(&out,
                    "  <entry>\n    <id>urn:jalon:status:", Xml(u.cursor()),
                    "</id>\n    <title>",
                    Xml(u.summary().empty() ? u.title() : u.summary()),
                    "</title>\n    <updated>", TimeUtil::ToString(u.time()),
                    "</updated>\n    <category term=\"",
                    absl::AsciiStrToLower(KindName(u.kind())), "\"/>\n");
    if (u.kind() == pb::STATUS_KIND_REPORT_GENERATED) {
      absl::StrAppend(&out,
                      "    <link rel=\"alternate\" type=\"text/html\" href=\"",
                      Xml(base), "/reports/", Xml(Url(u.subject_id())), ".html",
                      Xml(suffix), "\"/>\n");
    }
    std::string text = absl::StrCat("roadmap: ", u.roadmap_id());
    if (!u.ecosystem_id().empty())
      absl::StrAppend(&text, "\necosystem: ", u.ecosystem_id());
    absl::StrAppend(&text, "\nsubject: ", u.subject_id());
    if (!u.reason().empty()) absl::StrAppend(&text, "\nreason: ", u.reason());
    absl::StrAppend(&text, "\ncursor: ", u.cursor());
    absl::StrAppend(&out, "    <content type=\"text\">", Xml(text),
                    "</content>\n  </entry>\n");
  }
  out += "</feed>\n";
  return out;
}

HttpFront::HttpFront(ReportingService* service, TokenVerifier* verifier,
                     HttpOptions options)
    : service_(service), verifier_(verifier), options_(std::move(options)) {}

HttpFront::~HttpFront() { Stop(); }

absl::Status HttpFront::Start() {
  server_ = std::make_unique<httplib::Server>();
  auto& svr = *server_;
  // More than one byte range is refused before any handler runs. The
  // library (cpp-httplib 0.11) would answer one with a copy of the body per
  // range: "Range: bytes=0-,0-,..." in an 8 KB header is 2,700 copies, and
  // a few such requests would exhaust the pod's memory, gRPC with it. One
  // range (a resumed download) is served as the library does.
  //
  // Nor is any request body read: the library reads (and inflates, for a
  // Content-Encoding) the whole body of a POST into memory before routing,
  // with no limit, and before any credentials are checked; a 1 MB gzip
  // body is 1 GB. Every route is a GET: anything that has or announces a
  // body is answered here, before it is read (and the client told to
  // close: what it sends next is not read as a body either).
  svr.set_payload_max_length(0);
  // cpp-httplib's default options add SO_REUSEPORT, with which a second
  // process binds the same port and takes half of the connections (see
  // ServerHost::Start). SO_REUSEADDR alone: a restart still binds at once.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  svr.set_pre_routing_handler(
      [](const httplib::Request& req, httplib::Response& res) {
        const bool read_only = req.method == "GET" || req.method == "HEAD";
        const bool has_body = req.has_header("Transfer-Encoding") ||
                              (req.has_header("Content-Length") &&
                               req.get_header_value("Content-Length") != "0");
        if (!read_only || has_body) {
          res.status = read_only ? 413 : 405;
          if (!read_only) res.set_header("Allow", "GET, HEAD");
          res.set_header("Connection", "close");
          res.set_content(read_only ? "a request here has no body\n"
                                    : "only GET and HEAD are served here\n",
                          "text/plain; charset=utf-8");
          return httplib::Server::HandlerResponse::Handled;
        }
        if (req.ranges.size() <= 1) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        // No body: the library would still copy it once per range.
        res.status = 416;
        res.set_header("Content-Range", "bytes */*");
        return httplib::Server::HandlerResponse::Handled;
      });
  // A handler that throws (a bug) answers a plain 500: the library's own
  // answer would put the exception's text in a response header.
  svr.set_exception_handler([](const httplib::Request& req,
                               httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("msg=http_handler_exception path={} error={}",
                  LogValue(req.path), LogValue(what));
    res.status = 500;
    res.set_content("internal error\n", "text/plain; charset=utf-8");
  });
  // Every answer: no type sniffing; and, since a URL may carry a feed key
  // and a page what a token may see, no shared cache keeps any of it.
  svr.set_post_routing_handler(
      [](const httplib::Request&, httplib::Response& res) {
        res.set_header("X-Content-Type-Options", "nosniff");
        if (!res.has_header("Cache-Control")) {
          res.set_header("Cache-Control", "private, no-cache");
        }
      });
  svr.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    absl::Status s = service_->redis()->Ping();
    res.status = s.ok() ? 200 : 503;
    res.set_content(s.ok() ? "ok\n" : "redis unreachable\n",
                    "text/plain; charset=utf-8");
  });
  svr.Get("/feed.atom", [this](const httplib::Request& req,
                               httplib::Response& res) {
    std::optional<pb::FeedKey> key;
    if (auto s = Authenticate(req, verifier_, service_, &key); !s.ok()) {
      return Fail(res, s);
    }
    pb::StatusFilter filter;
    if (key) {
      filter = key->filter();
    } else {
      auto f = FilterOf(req);
      if (!f.ok()) return Fail(res, f.status());
      filter = *std::move(f);
    }
    auto updates = service_->LatestUpdates(filter, options_.feed_entries);
    if (!updates.ok()) return Fail(res, updates.status());
    const std::string key_param =
        key ? absl::StrCat("key=", Url(req.get_param_value("key"))) : "";
    // The title a reader shows for the feed: the roadmap's, when known.
    std::string title;
    if (!filter.roadmap_id().empty()) {
      title = service_->RoadmapTitle(filter.roadmap_id()).value_or("");
    }
    res.set_content(
        RenderAtom(*updates, filter, options_.public_url, key_param, title),
        "application/atom+xml; charset=utf-8");
  });
  auto report = [this](const httplib::Request& req, httplib::Response& res,
                       const std::string& id, pb::ExportFormat format,
                       const std::string& file) {
    std::optional<pb::FeedKey> key;
    if (auto s = Authenticate(req, verifier_, service_, &key); !s.ok()) {
      return Fail(res, s);
    }
    auto r = service_->LoadReport(id);
    if (!r.ok()) return Fail(res, r.status());
    // A key of another roadmap gets what a report that does not exist
    // gets: the answer must not tell it which ids are reports.
    if (key && !key->filter().roadmap_id().empty() &&
        key->filter().roadmap_id() != r->roadmap_id()) {
      return Fail(res, WithReason(absl::NotFoundError(absl::StrCat(
                                      "report ", id, " not found")),
                                  "NOT_FOUND"));
    }
    // French unless asked otherwise; a language we do not write is an
    // error, not a page in another language than the one asked for.
    const std::string asked =
        absl::AsciiStrToLower(req.get_param_value("lang"));
    if (!asked.empty() && asked != "fr" && asked != "en") {
      return Fail(res, InvalidField("lang", "expected fr or en"));
    }
    const pb::Language lang = asked == "en" ? pb::LANGUAGE_EN : pb::LANGUAGE_FR;
    auto files = ExportReport(*r, format, lang);
    if (!files.ok()) return Fail(res, files.status());
    for (const auto& f : *files) {
      if (file.empty() || f.name() == file) {
        // A report never changes: its hash names this rendering for good.
        res.set_header("Cache-Control", "private, max-age=31536000, immutable");
        res.set_header(
            "ETag", absl::StrCat("\"", r->content_sha256(), "-",
                                 static_cast<int>(format), "-",
                                 static_cast<int>(lang), "-", f.name(), "\""));
        res.set_content(f.content(), f.content_type().c_str());
        return;
      }
    }
    Fail(res, absl::NotFoundError(absl::StrCat("no table ", file)));
  };
  svr.Get(R"(/reports/([0-9A-Za-z]+)\.(html|md|json))",
          [report](const httplib::Request& req, httplib::Response& res) {
            const std::string ext = req.matches[2];
            pb::ExportFormat f = ext == "html" ? pb::EXPORT_FORMAT_HTML
                                 : ext == "md" ? pb::EXPORT_FORMAT_MARKDOWN
                                               : pb::EXPORT_FORMAT_JSON;
            report(req, res, req.matches[1], f, "");
          });
  svr.Get(R"(/reports/([0-9A-Za-z]+)/([a-z_]+\.csv))",
          [report](const httplib::Request& req, httplib::Response& res) {
            report(req, res, req.matches[1], pb::EXPORT_FORMAT_CSV,
                   req.matches[2]);
          });
  const auto colon = options_.listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        "invalid --http-listen (JALON_HTTP_LISTEN): expected HOST:PORT");
  }
  const std::string host = options_.listen.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(options_.listen.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        "invalid --http-listen (JALON_HTTP_LISTEN): expected HOST:PORT");
  }
  if (port == 0) {
    port_ = svr.bind_to_any_port(host.c_str());
  } else {
    port_ = svr.bind_to_port(host.c_str(), port) ? port : -1;
  }
  if (port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot bind the HTTP port ", options_.listen));
  }
  if (options_.public_url.empty()) {
    options_.public_url = absl::StrCat("http://", host, ":", port_);
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return absl::OkStatus();
}

void HttpFront::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace jalon::reporting
