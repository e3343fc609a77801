#include "tools/jalonctl/session.h"

#include <iostream>
#include <utility>

#include "services/common/channel.h"

namespace jalon::ctl {

Session::Session(const GlobalOptions& options) : options_(options) {}

const Settings& Session::settings() {
  if (!resolved_) {
    settings_ = Resolve(options_.flags);
    resolved_ = true;
  }
  return settings_;
}

Printer& Session::printer() {
  if (printer_ == nullptr) {
    printer_ =
        std::make_unique<Printer>(ParseFormat(options_.output), std::cout);
  }
  return *printer_;
}

std::chrono::milliseconds Session::timeout() const {
  return std::chrono::milliseconds(
      static_cast<int64_t>(options_.timeout_seconds * 1000));
}

std::shared_ptr<grpc::Channel> Session::Channel(const std::string& address,
                                                std::string_view service) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return Dial(address, service, std::move(args));
}

roadmap::v1::RoadmapService::Stub& Session::roadmap() {
  if (roadmap_ == nullptr) {
    roadmap_ = roadmap::v1::RoadmapService::NewStub(
        Channel(settings().endpoints.roadmap_address,
                roadmap::v1::RoadmapService::service_full_name()));
  }
  return *roadmap_;
}

feedback::v1::FeedbackService::Stub& Session::feedback() {
  if (feedback_ == nullptr) {
    feedback_ = feedback::v1::FeedbackService::NewStub(
        Channel(settings().endpoints.feedback_address,
                feedback::v1::FeedbackService::service_full_name()));
  }
  return *feedback_;
}

reporting::v1::ReportingService::Stub& Session::reporting() {
  if (reporting_ == nullptr) {
    reporting_ = reporting::v1::ReportingService::NewStub(
        Channel(settings().endpoints.reporting_address,
                reporting::v1::ReportingService::service_full_name()));
  }
  return *reporting_;
}

const std::string& Session::Token() {
  if (token_.empty()) token_ = ReadToken(settings());
  return token_;
}

std::unique_ptr<grpc::ClientContext> Session::StreamCtx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + Token());
  return ctx;
}

std::unique_ptr<grpc::ClientContext> Session::Ctx() {
  auto ctx = StreamCtx();
  ctx->set_deadline(std::chrono::system_clock::now() + timeout());
  return ctx;
}

std::unique_ptr<grpc::ClientContext> Session::CtxAs(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + timeout());
  return ctx;
}

void Session::Paginate(
    const std::function<int(const std::string&, std::string*)>& fn, int limit) {
  std::string token;
  int seen = 0;
  do {
    std::string next;
    seen += fn(token, &next);
    token = next;
  } while (!token.empty() && (limit <= 0 || seen < limit));
}

}  // namespace jalon::ctl
