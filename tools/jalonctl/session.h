// What every command runs with: the resolved settings, the output printer,
// the three service stubs (channels opened on first use) and client
// contexts carrying the bearer token and the --timeout deadline. Not
// thread-safe; one per process.
#ifndef JALON_TOOLS_JALONCTL_SESSION_H_
#define JALON_TOOLS_JALONCTL_SESSION_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "jalon/feedback/v1/feedback.grpc.pb.h"
#include "jalon/reporting/v1/reporting.grpc.pb.h"
#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "tools/jalonctl/config.h"
#include "tools/jalonctl/errors.h"
#include "tools/jalonctl/output.h"

namespace jalon::ctl {

// Options every command accepts (set by the top-level parser).
struct GlobalOptions {
  GlobalFlags flags;
  std::string output = "table";
  double timeout_seconds = 10;
  int limit = 0;  // list: at most this many (0: all)
};

class Session {
 public:
  explicit Session(const GlobalOptions& options);

  const Settings& settings();
  Printer& printer();
  int limit() const { return options_.limit; }
  std::chrono::milliseconds timeout() const;

  roadmap::v1::RoadmapService::Stub& roadmap();
  feedback::v1::FeedbackService::Stub& feedback();
  reporting::v1::ReportingService::Stub& reporting();

  // A context with the bearer token and the deadline.
  std::unique_ptr<grpc::ClientContext> Ctx();
  // A context with another principal's token and the deadline (import acts
  // on behalf of organisations with short-lived tokens).
  std::unique_ptr<grpc::ClientContext> CtxAs(const std::string& token);
  // A context without a deadline (long-lived streams).
  std::unique_ptr<grpc::ClientContext> StreamCtx();

  // Calls `fn(page_token, &next_page_token)` until the last page or until
  // `limit` items came (0: no cap); `fn` returns how many items it added.
  void Paginate(const std::function<int(const std::string&, std::string*)>& fn,
                int limit);

 private:
  // A channel to `service` at `address` (see services/common/channel.h).
  std::shared_ptr<grpc::Channel> Channel(const std::string& address,
                                         std::string_view service);
  const std::string& Token();

  const GlobalOptions& options_;
  bool resolved_ = false;
  Settings settings_;
  std::unique_ptr<Printer> printer_;
  std::string token_;
  std::unique_ptr<roadmap::v1::RoadmapService::Stub> roadmap_;
  std::unique_ptr<feedback::v1::FeedbackService::Stub> feedback_;
  std::unique_ptr<reporting::v1::ReportingService::Stub> reporting_;
};

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_SESSION_H_
