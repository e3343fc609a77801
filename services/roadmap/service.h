// The roadmap service's use cases, one method per RPC: each authorises the
// caller, validates the request, reads what it needs (one round trip),
// applies the domain rules and commits the change with its event (one atomic
// script). Knows neither gRPC nor Redis keys. Thread-safe.
#ifndef JALON_SERVICES_ROADMAP_SERVICE_H_
#define JALON_SERVICES_ROADMAP_SERVICE_H_

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "services/common/clock.h"
#include "services/common/entity_ops.h"
#include "services/common/rpc.h"
#include "services/roadmap/store.h"

namespace jalon::roadmap {

namespace pb = ::jalon::roadmap::v1;

// Facts that never change once written (an indicator's roadmap, an action's
// roadmap), kept per process after a first read so later calls skip it.
// Bounded: emptied when it reaches `kMax` entries. Thread-safe.
template <typename V>
class KeptFacts {
 public:
  std::optional<V> Find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = facts_.find(key);
    if (it == facts_.end()) return std::nullopt;
    return it->second;
  }
  void Keep(const std::string& key, V value) {
    std::lock_guard<std::mutex> lock(mu_);
    if (facts_.size() >= kMax) facts_.clear();
    facts_[key] = std::move(value);
  }

 private:
  static constexpr size_t kMax = 100'000;
  std::mutex mu_;
  std::unordered_map<std::string, V> facts_;
};

class RoadmapService {
 public:
  RoadmapService(RoadmapStore* store, const Clock* clock);

  // The methods that take a `Done` never block (the gRPC layer serves them
  // with ServeAsync): the Gets, CreateAction, UpdateAction (except a
  // dependency edit) and TransitionAction. They end by calling `done`
  // exactly once, from an AsyncRedis callback or before returning. The
  // store needs its AsyncRedis.
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  // The Gets end with their response serialised. It is kept with the cached
  // entity (EntityCache::Rendered), so a Get of an entity that has not
  // changed since, on the same day, parses and serialises nothing.
  using Serialized = EntityCache::Rendering;
  using SerializedDone = EntityStore::RenderedCallback;

  absl::Status CreateOrganization(const CallContext& c,
                                  const pb::CreateOrganizationRequest& req,
                                  pb::CreateOrganizationResponse* resp);
  void GetOrganization(const CallContext& c,
                       const pb::GetOrganizationRequest& req,
                       SerializedDone done);
  absl::Status ListOrganizations(const CallContext& c,
                                 const pb::ListOrganizationsRequest& req,
                                 pb::ListOrganizationsResponse* resp);
  absl::Status UpdateOrganization(const CallContext& c,
                                  const pb::UpdateOrganizationRequest& req,
                                  pb::UpdateOrganizationResponse* resp);

  absl::Status IssueToken(const CallContext& c,
                          const pb::IssueTokenRequest& req,
                          pb::IssueTokenResponse* resp);
  absl::Status ListTokens(const CallContext& c,
                          const pb::ListTokensRequest& req,
                          pb::ListTokensResponse* resp);
  absl::Status RevokeToken(const CallContext& c,
                           const pb::RevokeTokenRequest& req,
                           pb::RevokeTokenResponse* resp);
  // GetCurrentPrincipal is answered by the gRPC adapter: it is the
  // caller's token, looked up fresh (grpc_service.h).

  absl::Status CreateRoadmap(const CallContext& c,
                             const pb::CreateRoadmapRequest& req,
                             pb::CreateRoadmapResponse* resp);
  void GetRoadmap(const CallContext& c, const pb::GetRoadmapRequest& req,
                  SerializedDone done);
  absl::Status ListRoadmaps(const CallContext& c,
                            const pb::ListRoadmapsRequest& req,
                            pb::ListRoadmapsResponse* resp);
  absl::Status UpdateRoadmap(const CallContext& c,
                             const pb::UpdateRoadmapRequest& req,
                             pb::UpdateRoadmapResponse* resp);

  absl::Status CreateEcosystem(const CallContext& c,
                               const pb::CreateEcosystemRequest& req,
                               pb::CreateEcosystemResponse* resp);
  void GetEcosystem(const CallContext& c, const pb::GetEcosystemRequest& req,
                    SerializedDone done);
  absl::Status ListEcosystems(const CallContext& c,
                              const pb::ListEcosystemsRequest& req,
                              pb::ListEcosystemsResponse* resp);
  absl::Status UpdateEcosystem(const CallContext& c,
                               const pb::UpdateEcosystemRequest& req,
                               pb::UpdateEcosystemResponse* resp);

  absl::Status CreateIndicator(const CallContext& c,
                               const pb::CreateIndicatorRequest& req,
                               pb::CreateIndicatorResponse* resp);
  void GetIndicator(const CallContext& c, const pb::GetIndicatorRequest& req,
                    SerializedDone done);
  absl::Status ListIndicators(const CallContext& c,
                              const pb::ListIndicatorsRequest& req,
                              pb::ListIndicatorsResponse* resp);
  absl::Status UpdateIndicator(const CallContext& c,
                               const pb::UpdateIndicatorRequest& req,
                               pb::UpdateIndicatorResponse* resp);

  absl::Status RecordMeasurement(const CallContext& c,
                                 const pb::RecordMeasurementRequest& req,
                                 pb::RecordMeasurementResponse* resp);
  void GetMeasurement(const CallContext& c,
                      const pb::GetMeasurementRequest& req,
                      SerializedDone done);
  absl::Status ListMeasurements(const CallContext& c,
                                const pb::ListMeasurementsRequest& req,
                                pb::ListMeasurementsResponse* resp);
  absl::Status VerifyMeasurement(const CallContext& c,
                                 const pb::VerifyMeasurementRequest& req,
                                 pb::VerifyMeasurementResponse* resp);

  void CreateAction(const CallContext& c, const pb::CreateActionRequest& req,
                    pb::CreateActionResponse* resp, Done done);
  void GetAction(const CallContext& c, const pb::GetActionRequest& req,
                 SerializedDone done);
  absl::Status ListActions(const CallContext& c,
                           const pb::ListActionsRequest& req,
                           pb::ListActionsResponse* resp);
  // An edit of the dependencies reads the roadmap's dependency graph with a
  // blocking call; every other edit is served without blocking.
  static bool UpdateActionBlocks(const pb::UpdateActionRequest& req);
  absl::Status UpdateAction(const CallContext& c,
                            const pb::UpdateActionRequest& req,
                            pb::UpdateActionResponse* resp);
  void UpdateAction(const CallContext& c, const pb::UpdateActionRequest& req,
                    pb::UpdateActionResponse* resp, Done done);
  void TransitionAction(const CallContext& c,
                        const pb::TransitionActionRequest& req,
                        pb::TransitionActionResponse* resp, Done done);
  absl::Status ListActionHistory(const CallContext& c,
                                 const pb::ListActionHistoryRequest& req,
                                 pb::ListActionHistoryResponse* resp);
  absl::Status AddComment(const CallContext& c,
                          const pb::AddCommentRequest& req,
                          pb::AddCommentResponse* resp);
  absl::Status ListComments(const CallContext& c,
                            const pb::ListCommentsRequest& req,
                            pb::ListCommentsResponse* resp);

  // First-run bootstrap: when no active admin token exists, creates an
  // organisation named `organization_name` and an admin token whose secret
  // is `secret`, and returns the secret. Returns it too when an earlier
  // call with the same secret did (a retry after an answer that got lost),
  // and an empty string when another admin exists. The caller keeps the
  // secret safe before calling: once committed, it is the only way in.
  // Safe to run from several replicas at once.
  absl::StatusOr<std::string> BootstrapAdmin(
      const std::string& organization_name, const std::string& secret);
  // Issues a reader token for another Jalon service (e.g. feedback asking
  // which actions exist), in the bootstrap organisation, and returns its
  // secret. FAILED_PRECONDITION before the bootstrap.
  absl::StatusOr<std::string> IssueServiceToken(
      const std::string& principal_name);
  // Writes the co-pilot set (Keys::Copilots) of every roadmap that lacks
  // it: the roadmaps created before CreateRoadmap wrote it (2026-11-27).
  // Until then no action can be created in them. Returns how many it
  // wrote. Idempotent, and safe to run from several replicas at once (the
  // set derives from a field that never changes).
  absl::StatusOr<int> IndexRoadmapCopilots();

 private:
  // An indicator's roadmap and that roadmap's two co-pilot organisations.
  // None of them can change (UpdateIndicator and UpdateRoadmap do not allow
  // it), so they are kept once read: a measurement then costs exactly one
  // round trip, its commit, which still requires the indicator to exist.
  struct IndicatorRoadmap {
    std::string roadmap_id;
    std::vector<std::string> copilots;
  };
  // Read with the indicator, in one round trip, the first time.
  absl::StatusOr<IndicatorRoadmap> IndicatorRoadmapOf(
      const std::string& indicator_id);

  // The edit UpdateAction makes, for both of its forms. A dependency edit
  // checks for cycles in the roadmap's graph: `graph`, when it holds the
  // graph read with the action, else read here (a blocking call).
  EntityOps::ChangeFn<pb::Action> ActionEditor(
      const CallContext& c, const pb::UpdateActionRequest& req,
      std::optional<RoadmapStore::Graph>* graph = nullptr) const;

  RoadmapStore* store_;
  const Clock* clock_;
  KeptFacts<IndicatorRoadmap> indicator_roadmaps_;
  // An action's roadmap: once known, a dependency edit reads the action and
  // the roadmap's graph in one round trip.
  KeptFacts<std::string> action_roadmaps_;
};

}  // namespace jalon::roadmap

#endif  // JALON_SERVICES_ROADMAP_SERVICE_H_
