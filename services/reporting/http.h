// The reporting service's HTTP front, on its own port in the same binary:
//   GET /healthz                          200 when Redis answers, else 503
//   GET /feed.atom[?roadmap=&ecosystem=&kind=...]   Atom (RFC 4287) feed of
//                                         the status updates, newest first
//   GET /reports/<id>.html|.md|.json[?lang=en]      a report's export
//   GET /reports/<id>/<table>.csv         one CSV table of a report
// Authenticated like the gRPC API ("Authorization: Bearer <token>"), or
// with a feed key (?key=<secret>) an admin issued: it opens its own feed
// (its filter is fixed) and the reports of that feed's roadmap, read-only.
// Thread-safe.
#ifndef JALON_SERVICES_REPORTING_HTTP_H_
#define JALON_SERVICES_REPORTING_HTTP_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "services/common/auth.h"
#include "services/reporting/service.h"

namespace httplib {
class Server;
}

namespace jalon::reporting {

struct HttpOptions {
  std::string listen = "127.0.0.1:8080";
  // Absolute base of links in feeds, e.g. "https://jalon.example.org";
  // empty: http://<listen>.
  std::string public_url;
  // Entries in an Atom document.
  int feed_entries = 50;
};

// The Atom document of `updates` (newest first). `base` is the public URL;
// `key_param` ("" or "key=<secret>") is appended to links so a feed reader
// with a key can follow them. The feed's title names the roadmap by
// `roadmap_title`, else by the filter's id. Pure.
std::string RenderAtom(const std::vector<pb::StatusUpdate>& updates,
                       const pb::StatusFilter& filter, const std::string& base,
                       const std::string& key_param,
                       const std::string& roadmap_title = "");

class HttpFront {
 public:
  HttpFront(ReportingService* service, TokenVerifier* verifier,
            HttpOptions options);
  ~HttpFront();
  // Binds and serves on a thread of its own.
  absl::Status Start();
  int port() const { return port_; }
  void Stop();

 private:
  ReportingService* service_;
  TokenVerifier* verifier_;
  HttpOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace jalon::reporting

#endif  // JALON_SERVICES_REPORTING_HTTP_H_
