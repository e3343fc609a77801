// Another service's view of the roadmap service (feedback and reporting
// use it), over gRPC with a deadline on every call: who a token belongs to
// (the roadmap service owns the directory of tokens), and which actions and
// roadmaps exist (asked as the calling service, with its own token).
// UNAVAILABLE when the roadmap service cannot be reached. Thread-safe.
#ifndef JALON_SERVICES_COMMON_ROADMAP_CLIENT_H_
#define JALON_SERVICES_COMMON_ROADMAP_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/auth.h"

namespace jalon {

class RoadmapClient {
 public:
  RoadmapClient(std::shared_ptr<grpc::Channel> channel,
                std::string service_token, std::chrono::milliseconds deadline);

  // The principal of `token`; nullopt when the roadmap service says it is
  // unknown or revoked. (A PrincipalLookup for TokenVerifier.)
  absl::StatusOr<std::optional<Actor>> Principal(std::string_view token);
  // The actions, in order. INVALID_ARGUMENT naming `fields[i]` (the request
  // field that holds ids[i]) for one that does not exist.
  absl::StatusOr<std::vector<roadmap::v1::Action>> GetActions(
      const std::vector<std::string>& ids,
      const std::vector<std::string>& fields);
  // OK when the roadmap exists; INVALID_ARGUMENT on `field` when not.
  absl::Status CheckRoadmap(const std::string& id, const std::string& field);
  // OK when the ecosystem exists in that roadmap; INVALID_ARGUMENT on
  // `field` when not.
  absl::Status CheckEcosystem(const std::string& id,
                              const std::string& roadmap_id,
                              const std::string& field);

 private:
  std::unique_ptr<grpc::ClientContext> Context(const std::string& token) const;

  std::unique_ptr<roadmap::v1::RoadmapService::Stub> stub_;
  std::string service_token_;
  std::chrono::milliseconds deadline_;
};

// How the other services verify tokens: they ask `roadmap` (the roadmap
// service owns the directory of tokens), trust an answer for `cache_ttl`,
// and drop a token at once when the roadmap service announces its
// revocation on the Redis of `redis`. `roadmap` must outlive the verifier.
std::unique_ptr<TokenVerifier> VerifierAskingRoadmap(
    RoadmapClient* roadmap, std::chrono::milliseconds cache_ttl,
    const RedisOptions& redis);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_ROADMAP_CLIENT_H_
