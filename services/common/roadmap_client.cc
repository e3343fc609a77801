#include "services/common/roadmap_client.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/status.h"

namespace jalon {
namespace {

// What the caller of this service should see for a failed call to the
// roadmap service: its outage, never its internals.
absl::Status Upstream(const grpc::Status& s) {
  spdlog::warn("msg=roadmap_call_failed code={} error={}",
               static_cast<int>(s.error_code()), LogValue(s.error_message()));
  return absl::UnavailableError(
      "the roadmap service is unavailable, retry later");
}

}  // namespace

RoadmapClient::RoadmapClient(std::shared_ptr<grpc::Channel> channel,
                             std::string service_token,
                             std::chrono::milliseconds deadline)
    : stub_(roadmap::v1::RoadmapService::NewStub(std::move(channel))),
      service_token_(std::move(service_token)),
      deadline_(deadline) {}

std::unique_ptr<grpc::ClientContext> RoadmapClient::Context(
    const std::string& token) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + deadline_);
  return ctx;
}

absl::StatusOr<std::optional<Actor>> RoadmapClient::Principal(
    std::string_view token) {
  roadmap::v1::GetCurrentPrincipalResponse resp;
  grpc::Status s =
      stub_->GetCurrentPrincipal(Context(std::string(token)).get(), {}, &resp);
  if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return std::optional<Actor>();
  }
  if (!s.ok()) return Upstream(s);
  return std::optional<Actor>(resp.principal());
}

absl::StatusOr<std::vector<roadmap::v1::Action>> RoadmapClient::GetActions(
    const std::vector<std::string>& ids,
    const std::vector<std::string>& fields) {
  std::vector<roadmap::v1::Action> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    roadmap::v1::GetActionRequest req;
    req.set_id(ids[i]);
    roadmap::v1::GetActionResponse resp;
    grpc::Status s =
        stub_->GetAction(Context(service_token_).get(), req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      return InvalidField(i < fields.size() ? fields[i] : std::string("id"),
                          "no such roadmap action");
    }
    if (!s.ok()) return Upstream(s);
    out.push_back(std::move(*resp.mutable_action()));
  }
  return out;
}

absl::Status RoadmapClient::CheckRoadmap(const std::string& id,
                                         const std::string& field) {
  roadmap::v1::GetRoadmapRequest req;
  req.set_id(id);
  roadmap::v1::GetRoadmapResponse resp;
  grpc::Status s = stub_->GetRoadmap(Context(service_token_).get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    return InvalidField(field, "no such roadmap");
  }
  if (!s.ok()) return Upstream(s);
  return absl::OkStatus();
}

absl::Status RoadmapClient::CheckEcosystem(const std::string& id,
                                           const std::string& roadmap_id,
                                           const std::string& field) {
  roadmap::v1::GetEcosystemRequest req;
  req.set_id(id);
  roadmap::v1::GetEcosystemResponse resp;
  grpc::Status s =
      stub_->GetEcosystem(Context(service_token_).get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND ||
      (s.ok() && resp.ecosystem().roadmap_id() != roadmap_id)) {
    return InvalidField(field, "no such ecosystem in the roadmap");
  }
  if (!s.ok()) return Upstream(s);
  return absl::OkStatus();
}

std::unique_ptr<TokenVerifier> VerifierAskingRoadmap(
    RoadmapClient* roadmap, std::chrono::milliseconds cache_ttl,
    const RedisOptions& redis) {
  AuthOptions options;  // the roadmap service's revocation channel
  options.key_prefix.clear();
  options.cache_ttl = cache_ttl;
  auto verifier = std::make_unique<TokenVerifier>(
      [roadmap](std::string_view token, const std::string&) {
        return roadmap->Principal(token);
      },
      options);
  verifier->StartRevocationListener(redis);
  return verifier;
}

}  // namespace jalon
