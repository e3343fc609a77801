#include "services/roadmap/service.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "jalon/events/v1/events.pb.h"
#include "services/common/dates.h"
#include "services/common/entity_ops.h"
#include "services/common/ids.h"
#include "services/common/status.h"
#include "services/roadmap/domain.h"

namespace jalon::roadmap {
namespace {

using common::v1::Role;

}  // namespace

using Ops = EntityOps;

namespace {

// The Gets' renderings (EntityStore::GetRenderedAsync): the response of a
// Get of one stored entity, serialised. Plain functions, so a Get
// allocates nothing to say how its answer is made.

// `Resp` with the stored state parsed into the field `Field` returns.
template <typename Resp, auto Field, const char* Kind>
absl::StatusOr<std::string> RenderEntity(const Stored& s, int64_t) {
  Resp resp;
  if (!(resp.*Field)()->ParseFromString(s.data)) return Corrupt(Kind);
  return resp.SerializeAsString();
}

// A Get of an entity whose response is `Resp` with the entity in `Field`.
template <typename Resp, auto Field, const char* Kind>
void GetEntity(const EntityStore* store, const std::string& id,
               RoadmapService::SerializedDone done) {
  store->GetRenderedAsync(Kind, id, 0, RenderEntity<Resp, Field, Kind>,
                          std::move(done));
}

// An action, with what depends on the day `tag` (days since 1970-01-01):
// progress and lateness.
absl::StatusOr<std::string> RenderAction(const Stored& s, int64_t tag) {
  pb::GetActionResponse resp;
  if (!resp.mutable_action()->ParseFromString(s.data)) return Corrupt(kAction);
  Decorate(resp.mutable_action(), DateFromDays(tag));
  return resp.SerializeAsString();
}

}  // namespace

RoadmapService::RoadmapService(RoadmapStore* store, const Clock* clock)
    : store_(store), clock_(clock) {}

// --- Organisations ---------------------------------------------------------

absl::Status RoadmapService::CreateOrganization(
    const CallContext& c, const pb::CreateOrganizationRequest& req,
    pb::CreateOrganizationResponse* resp) {
  if (auto s = WithRequestId(
          ValidateOrganization(req.organization(), "organization."),
          req.request_id());
      !s.ok()) {
    return s;
  }
  Ops ops(store_, clock_, c);
  auto org = ops.Create<pb::Organization>(
      kOrganization, "roadmap.organization.created", req.request_id(),
      req.organization(), "", [](Mutation& m, const pb::Organization& o) {
        m.IndexAdd(Keys::Index(kOrganization), o.id());
      });
  if (!org.ok()) return org.status();
  *resp->mutable_organization() = *std::move(org);
  return absl::OkStatus();
}

void RoadmapService::GetOrganization(const CallContext&,
                                     const pb::GetOrganizationRequest& req,
                                     SerializedDone done) {
  GetEntity<pb::GetOrganizationResponse,
            &pb::GetOrganizationResponse::mutable_organization, kOrganization>(
      store_, req.id(), std::move(done));
}

absl::Status RoadmapService::ListOrganizations(
    const CallContext& c, const pb::ListOrganizationsRequest& req,
    pb::ListOrganizationsResponse* resp) {
  if (auto s = CheckEnumFilter("kind", req.kind(),
                               pb::OrganizationKind_descriptor(), true);
      !s.ok()) {
    return s;
  }
  Ops ops(store_, clock_, c);
  return ops.List<pb::Organization>(
      kOrganization, Keys::Index(kOrganization), req.page_size(),
      req.page_token(),
      [&](pb::Organization& o) {
        return req.kind() == pb::ORGANIZATION_KIND_UNSPECIFIED ||
               o.kind() == req.kind();
      },
      resp->mutable_organizations(), resp->mutable_next_page_token());
}

absl::Status RoadmapService::UpdateOrganization(
    const CallContext& c, const pb::UpdateOrganizationRequest& req,
    pb::UpdateOrganizationResponse* resp) {
  static const std::set<std::string> kUpdatable = {"name", "description",
                                                   "contact_email"};
  Ops ops(store_, clock_, c);
  auto org = ops.Update<pb::Organization>(
      kOrganization, "roadmap.organization.updated", req.organization().id(),
      {req.organization().etag(), "organization.etag"},
      [&](const Versioned<pb::Organization>&, pb::Organization* next,
          Mutation*) -> absl::Status {
        if (auto s = ApplyMask(req.organization(), req.update_mask(),
                               kUpdatable, next);
            !s.ok()) {
          return s;
        }
        return ValidateOrganization(*next, "organization.");
      },
      false, [](const pb::Organization&) { return std::string(); });
  if (!org.ok()) return org.status();
  *resp->mutable_organization() = *std::move(org);
  return absl::OkStatus();
}

// --- Tokens ----------------------------------------------------------------

namespace {

// Adds the writes that make a token authenticate.
void ActivateToken(Mutation& m, const pb::Token& t, const std::string& hash) {
  Actor principal;
  principal.set_principal_id(t.id());
  principal.set_principal_name(t.principal_name());
  principal.set_organization_id(t.organization_id());
  principal.set_role(t.role());
  m.HashSet(Keys::Entity(kToken, t.id()), "h", hash);
  m.Set(Keys::TokenHash(hash), principal.SerializeAsString());
  m.IndexAdd(Keys::Index(kToken), t.id());
  if (t.role() == Role::ROLE_ADMIN) m.IndexAdd(Keys::AdminTokens(), t.id());
}

}  // namespace

absl::Status RoadmapService::IssueToken(const CallContext& c,
                                        const pb::IssueTokenRequest& req,
                                        pb::IssueTokenResponse* resp) {
  if (auto s = ValidateTokenRequest(req); !s.ok()) return s;
  pb::Token token;
  token.set_principal_name(req.principal_name());
  token.set_organization_id(req.organization_id());
  token.set_role(req.role());
  token.set_description(req.description());
  token.set_state(pb::TOKEN_STATE_ACTIVE);
  const std::string secret = NewTokenSecret();
  const std::string hash = Sha256Hex(secret);
  Ops ops(store_, clock_, c);
  bool duplicate = false;
  auto issued = ops.Create<pb::Token>(
      kToken, "roadmap.token.issued", req.request_id(), token, "",
      [&](Mutation& m, const pb::Token& t) {
        m.RequireKey(Keys::Entity(kOrganization, t.organization_id()),
                     "organization_id");
        ActivateToken(m, t, hash);
      },
      &duplicate);
  if (!issued.ok()) return issued.status();
  *resp->mutable_token() = *std::move(issued);
  // A retry gets the record but not the secret: it is never stored.
  if (!duplicate) resp->set_secret(secret);
  return absl::OkStatus();
}

absl::Status RoadmapService::ListTokens(const CallContext& c,
                                        const pb::ListTokensRequest& req,
                                        pb::ListTokensResponse* resp) {
  Ops ops(store_, clock_, c);
  return ops.List<pb::Token>(
      kToken, Keys::Index(kToken), req.page_size(), req.page_token(),
      [&](pb::Token& t) {
        return (req.organization_id().empty() ||
                t.organization_id() == req.organization_id()) &&
               (req.include_revoked() || t.state() == pb::TOKEN_STATE_ACTIVE);
      },
      resp->mutable_tokens(), resp->mutable_next_page_token());
}

absl::Status RoadmapService::RevokeToken(const CallContext& c,
                                         const pb::RevokeTokenRequest& req,
                                         pb::RevokeTokenResponse* resp) {
  Ops ops(store_, clock_, c);
  auto token = ops.Update<pb::Token>(
      kToken, "roadmap.token.revoked", req.id(), req.etag(),
      [&](const Versioned<pb::Token>& cur, pb::Token* next,
          Mutation* m) -> absl::Status {
        if (cur.value.state() == pb::TOKEN_STATE_REVOKED) {
          return absl::OkStatus();  // already revoked: nothing to do
        }
        next->set_state(pb::TOKEN_STATE_REVOKED);
        *next->mutable_revoke_time() = ops.Now();
        m->Delete(Keys::TokenHash(cur.extra));
        m->IndexRemove(Keys::AdminTokens(), cur.value.id());
        // Every process drops the token from its cache now; the cache TTL
        // bounds the delay should this message be lost.
        m->Publish(Keys::RevocationChannel(), cur.extra);
        return absl::OkStatus();
      },
      false, [](const pb::Token&) { return std::string(); });
  if (!token.ok()) return token.status();
  *resp->mutable_token() = *std::move(token);
  return absl::OkStatus();
}

absl::StatusOr<std::string> RoadmapService::BootstrapAdmin(
    const std::string& organization_name, const std::string& secret) {
  const std::string hash = Sha256Hex(secret);
  // An admin exists: this secret's, committed by an earlier attempt whose
  // answer was lost, or someone else's.
  auto existing = [&]() -> absl::StatusOr<std::string> {
    auto ours = store_->redis()->Command({"EXISTS", Keys::TokenHash(hash)});
    if (!ours.ok()) return ours.status();
    // Not "someone else's": the caller would then drop the secret.
    if (ours->is_error()) return StatusOfErrorReply(*ours, "EXISTS");
    return ours->integer() == 1 ? secret : std::string();
  };
  auto admins = store_->Count(Keys::AdminTokens());
  if (!admins.ok()) return admins.status();
  if (*admins > 0) return existing();
  CallContext call;
  call.rpc = "Bootstrap";
  call.request_id = NewUlid();
  call.principal.set_principal_id("bootstrap");
  call.principal.set_principal_name("bootstrap");
  call.principal.set_role(Role::ROLE_ADMIN);
  Ops ops(store_, clock_, call);

  pb::Organization org;
  org.set_id(NewUlid());
  org.set_name(organization_name);
  org.set_kind(pb::ORGANIZATION_KIND_FEDERATION);
  org.set_description("Created by the first-run bootstrap.");
  org.set_etag("1");
  ops.StampCreate(org.mutable_audit());
  if (auto s = ValidateOrganization(org, "bootstrap organization "); !s.ok()) {
    return s;
  }
  pb::Token token;
  token.set_id(NewUlid());
  token.set_principal_name("admin");
  token.set_organization_id(org.id());
  token.set_role(Role::ROLE_ADMIN);
  token.set_description("First admin, created by the bootstrap.");
  token.set_state(pb::TOKEN_STATE_ACTIVE);
  token.set_etag("1");
  ops.StampCreate(token.mutable_audit());

  // Organisation and token in one commit, guarded by "no admin yet", so
  // replicas starting together create one admin between them.
  Mutation m;
  m.RequireEmpty(Keys::AdminTokens(), "an admin token");
  m.Put(Keys::Entity(kOrganization, org.id()), 1, org.SerializeAsString());
  m.IndexAdd(Keys::Index(kOrganization), org.id());
  m.Set(Keys::BootstrapOrganization(), org.id());
  m.Put(Keys::Entity(kToken, token.id()), 1, token.SerializeAsString());
  ActivateToken(m, token, hash);
  m.AddEvent(ops.Event("roadmap.organization.created", kOrganization, org.id(),
                       1, {}, org, ""));
  m.AddEvent(
      ops.Event("roadmap.token.issued", kToken, token.id(), 1, {}, token, ""));
  auto r = store_->Commit(m);
  if (absl::IsAlreadyExists(r.status())) return existing();
  if (!r.ok()) return r.status();
  return secret;
}

absl::StatusOr<std::string> RoadmapService::IssueServiceToken(
    const std::string& principal_name) {
  auto org = store_->redis()->Command({"GET", Keys::BootstrapOrganization()});
  if (!org.ok()) return org.status();
  if (org->is_nil()) {
    return absl::FailedPreconditionError(
        "no bootstrap organisation yet: run with --bootstrap-admin-token-file");
  }
  CallContext call;
  call.rpc = "IssueServiceToken";
  call.request_id = NewUlid();
  call.principal.set_principal_id("bootstrap");
  call.principal.set_principal_name("bootstrap");
  call.principal.set_role(Role::ROLE_ADMIN);
  pb::IssueTokenRequest req;
  req.set_principal_name(principal_name);
  req.set_organization_id(org->str());
  req.set_role(Role::ROLE_READER);
  req.set_description("Token of a Jalon service, created at start-up.");
  pb::IssueTokenResponse resp;
  if (auto s = IssueToken(call, req, &resp); !s.ok()) return s;
  return resp.secret();
}

absl::StatusOr<int> RoadmapService::IndexRoadmapCopilots() {
  constexpr int kPage = 500;
  int written = 0;
  std::string after;
  for (bool more = true; more;) {
    auto page = store_->ListIds(Keys::Index(kRoadmap), after, kPage);
    if (!page.ok()) return page.status();
    if (page->ids.empty()) break;
    more = page->more;
    after = page->ids.back();
    std::vector<RedisArgs> exists;
    for (const auto& id : page->ids) {
      exists.push_back({"EXISTS", Keys::Copilots(id)});
    }
    auto found = store_->redis()->Pipeline(exists);
    if (!found.ok()) return found.status();
    std::vector<std::string> missing;
    for (size_t i = 0; i < page->ids.size(); ++i) {
      const RedisReply& r = (*found)[i];
      if (r.is_error()) return StatusOfErrorReply(r, "index_copilots");
      if (r.integer() == 0) missing.push_back(page->ids[i]);
    }
    if (missing.empty()) continue;
    auto stored = store_->GetMany(kRoadmap, missing);
    if (!stored.ok()) return stored.status();
    std::vector<RedisArgs> adds;
    for (const auto& s : *stored) {
      if (s.version == 0) continue;  // indexed, never written: none to find
      auto roadmap = Decode<pb::Roadmap>(kRoadmap, s);
      if (!roadmap.ok()) return roadmap.status();
      RedisArgs add = {"ZADD", Keys::Copilots(roadmap->value.id())};
      for (const auto& org : roadmap->value.copilot_organization_ids()) {
        add.insert(add.end(), {"0", org});
      }
      if (add.size() > 2) adds.push_back(std::move(add));
    }
    if (adds.empty()) continue;
    auto replies = store_->redis()->Pipeline(adds);
    if (!replies.ok()) return replies.status();
    for (const auto& r : *replies) {
      if (r.is_error()) return StatusOfErrorReply(r, "index_copilots");
    }
    written += static_cast<int>(adds.size());
  }
  return written;
}

// --- Roadmaps --------------------------------------------------------------

absl::Status RoadmapService::CreateRoadmap(const CallContext& c,
                                           const pb::CreateRoadmapRequest& req,
                                           pb::CreateRoadmapResponse* resp) {
  pb::Roadmap roadmap = req.roadmap();
  ApplyDefaults(&roadmap);
  if (auto s =
          WithRequestId(ValidateRoadmap(roadmap, "roadmap."), req.request_id());
      !s.ok()) {
    return s;
  }
  Ops ops(store_, clock_, c);
  auto created = ops.Create<pb::Roadmap>(
      kRoadmap, "roadmap.roadmap.created", req.request_id(), roadmap, kOwnId,
      [](Mutation& m, const pb::Roadmap& r) {
        for (int i = 0; i < r.copilot_organization_ids_size(); ++i) {
          m.RequireKey(
              Keys::Entity(kOrganization, r.copilot_organization_ids(i)),
              absl::StrCat("roadmap.copilot_organization_ids[", i, "]"));
          m.IndexAdd(Keys::Copilots(r.id()), r.copilot_organization_ids(i));
        }
        m.IndexAdd(Keys::Index(kRoadmap), r.id());
      });
  if (!created.ok()) return created.status();
  *resp->mutable_roadmap() = *std::move(created);
  return absl::OkStatus();
}

void RoadmapService::GetRoadmap(const CallContext&,
                                const pb::GetRoadmapRequest& req,
                                SerializedDone done) {
  GetEntity<pb::GetRoadmapResponse, &pb::GetRoadmapResponse::mutable_roadmap,
            kRoadmap>(store_, req.id(), std::move(done));
}

absl::Status RoadmapService::ListRoadmaps(const CallContext& c,
                                          const pb::ListRoadmapsRequest& req,
                                          pb::ListRoadmapsResponse* resp) {
  Ops ops(store_, clock_, c);
  return ops.List<pb::Roadmap>(
      kRoadmap, Keys::Index(kRoadmap), req.page_size(), req.page_token(),
      [](pb::Roadmap&) { return true; }, resp->mutable_roadmaps(),
      resp->mutable_next_page_token());
}

absl::Status RoadmapService::UpdateRoadmap(const CallContext& c,
                                           const pb::UpdateRoadmapRequest& req,
                                           pb::UpdateRoadmapResponse* resp) {
  static const std::set<std::string> kUpdatable = {
      "title", "description", "start_date", "horizon_date", "status"};
  // Not copilot_organization_ids: RecordMeasurement keeps them per
  // indicator (IndicatorRoadmapOf) on the grounds that they never change.
  Ops ops(store_, clock_, c);
  auto r = ops.Update<pb::Roadmap>(
      kRoadmap, "roadmap.roadmap.updated", req.roadmap().id(),
      {req.roadmap().etag(), "roadmap.etag"},
      [&](const Versioned<pb::Roadmap>&, pb::Roadmap* next,
          Mutation*) -> absl::Status {
        if (auto s =
                ApplyMask(req.roadmap(), req.update_mask(), kUpdatable, next);
            !s.ok()) {
          return s;
        }
        return ValidateRoadmap(*next, "roadmap.");
      },
      false, [](const pb::Roadmap& r) { return r.id(); });
  if (!r.ok()) return r.status();
  *resp->mutable_roadmap() = *std::move(r);
  return absl::OkStatus();
}

// --- Ecosystems ------------------------------------------------------------

absl::Status RoadmapService::CreateEcosystem(
    const CallContext& c, const pb::CreateEcosystemRequest& req,
    pb::CreateEcosystemResponse* resp) {
  if (auto s = WithRequestId(ValidateEcosystem(req.ecosystem(), "ecosystem."),
                             req.request_id());
      !s.ok()) {
    return s;
  }
  Ops ops(store_, clock_, c);
  auto e = ops.Create<pb::Ecosystem>(
      kEcosystem, "roadmap.ecosystem.created", req.request_id(),
      req.ecosystem(), req.ecosystem().roadmap_id(),
      [](Mutation& m, const pb::Ecosystem& e) {
        m.RequireKey(Keys::Entity(kRoadmap, e.roadmap_id()),
                     "ecosystem.roadmap_id");
        m.IndexAdd(Keys::Children(kRoadmap, e.roadmap_id(), kEcosystem),
                   e.id());
      });
  if (!e.ok()) return e.status();
  *resp->mutable_ecosystem() = *std::move(e);
  return absl::OkStatus();
}

void RoadmapService::GetEcosystem(const CallContext&,
                                  const pb::GetEcosystemRequest& req,
                                  SerializedDone done) {
  GetEntity<pb::GetEcosystemResponse,
            &pb::GetEcosystemResponse::mutable_ecosystem, kEcosystem>(
      store_, req.id(), std::move(done));
}

absl::Status RoadmapService::ListEcosystems(
    const CallContext& c, const pb::ListEcosystemsRequest& req,
    pb::ListEcosystemsResponse* resp) {
  if (req.roadmap_id().empty())
    return InvalidField("roadmap_id", "is required");
  Ops ops(store_, clock_, c);
  return ops.List<pb::Ecosystem>(
      kEcosystem, Keys::Children(kRoadmap, req.roadmap_id(), kEcosystem),
      req.page_size(), req.page_token(), [](pb::Ecosystem&) { return true; },
      resp->mutable_ecosystems(), resp->mutable_next_page_token());
}

absl::Status RoadmapService::UpdateEcosystem(
    const CallContext& c, const pb::UpdateEcosystemRequest& req,
    pb::UpdateEcosystemResponse* resp) {
  static const std::set<std::string> kUpdatable = {"name", "description",
                                                   "creation_date"};
  Ops ops(store_, clock_, c);
  auto e = ops.Update<pb::Ecosystem>(
      kEcosystem, "roadmap.ecosystem.updated", req.ecosystem().id(),
      {req.ecosystem().etag(), "ecosystem.etag"},
      [&](const Versioned<pb::Ecosystem>&, pb::Ecosystem* next,
          Mutation*) -> absl::Status {
        if (auto s =
                ApplyMask(req.ecosystem(), req.update_mask(), kUpdatable, next);
            !s.ok()) {
          return s;
        }
        return ValidateEcosystem(*next, "ecosystem.");
      },
      false, [](const pb::Ecosystem& e) { return e.roadmap_id(); });
  if (!e.ok()) return e.status();
  *resp->mutable_ecosystem() = *std::move(e);
  return absl::OkStatus();
}

// --- Indicators ------------------------------------------------------------

absl::Status RoadmapService::CreateIndicator(
    const CallContext& c, const pb::CreateIndicatorRequest& req,
    pb::CreateIndicatorResponse* resp) {
  pb::Indicator indicator = req.indicator();
  ApplyDefaults(&indicator);
  if (auto s = WithRequestId(ValidateIndicator(indicator, "indicator."),
                             req.request_id());
      !s.ok()) {
    return s;
  }
  Ops ops(store_, clock_, c);
  auto created = ops.Create<pb::Indicator>(
      kIndicator, "roadmap.indicator.created", req.request_id(), indicator,
      indicator.roadmap_id(), [](Mutation& m, const pb::Indicator& i) {
        m.RequireKey(Keys::Entity(kRoadmap, i.roadmap_id()),
                     "indicator.roadmap_id");
        if (!i.ecosystem_id().empty()) {
          m.RequireMember(Keys::Children(kRoadmap, i.roadmap_id(), kEcosystem),
                          i.ecosystem_id(), "indicator.ecosystem_id");
        }
        m.IndexAdd(Keys::Children(kRoadmap, i.roadmap_id(), kIndicator),
                   i.id());
      });
  if (!created.ok()) return created.status();
  *resp->mutable_indicator() = *std::move(created);
  return absl::OkStatus();
}

void RoadmapService::GetIndicator(const CallContext&,
                                  const pb::GetIndicatorRequest& req,
                                  SerializedDone done) {
  GetEntity<pb::GetIndicatorResponse,
            &pb::GetIndicatorResponse::mutable_indicator, kIndicator>(
      store_, req.id(), std::move(done));
}

absl::Status RoadmapService::ListIndicators(
    const CallContext& c, const pb::ListIndicatorsRequest& req,
    pb::ListIndicatorsResponse* resp) {
  if (req.roadmap_id().empty())
    return InvalidField("roadmap_id", "is required");
  Ops ops(store_, clock_, c);
  return ops.List<pb::Indicator>(
      kIndicator, Keys::Children(kRoadmap, req.roadmap_id(), kIndicator),
      req.page_size(), req.page_token(),
      [&](pb::Indicator& i) {
        return req.ecosystem_id().empty() ||
               i.ecosystem_id() == req.ecosystem_id();
      },
      resp->mutable_indicators(), resp->mutable_next_page_token());
}

absl::Status RoadmapService::UpdateIndicator(
    const CallContext& c, const pb::UpdateIndicatorRequest& req,
    pb::UpdateIndicatorResponse* resp) {
  static const std::set<std::string> kUpdatable = {
      "name",         "description",    "unit",
      "direction",    "baseline_value", "baseline_date",
      "target_value", "target_date",    "trajectory"};
  Ops ops(store_, clock_, c);
  auto i = ops.Update<pb::Indicator>(
      kIndicator, "roadmap.indicator.updated", req.indicator().id(),
      {req.indicator().etag(), "indicator.etag"},
      [&](const Versioned<pb::Indicator>& cur, pb::Indicator* next,
          Mutation*) -> absl::Status {
        if (auto s =
                ApplyMask(req.indicator(), req.update_mask(), kUpdatable, next);
            !s.ok()) {
          return s;
        }
        return ValidateIndicator(*next, "indicator.", &cur.value);
      },
      false, [](const pb::Indicator& i) { return i.roadmap_id(); });
  if (!i.ok()) return i.status();
  *resp->mutable_indicator() = *std::move(i);
  return absl::OkStatus();
}

// --- Measurements ----------------------------------------------------------

absl::StatusOr<RoadmapService::IndicatorRoadmap>
RoadmapService::IndicatorRoadmapOf(const std::string& indicator_id) {
  if (auto kept = indicator_roadmaps_.Find(indicator_id)) return *kept;
  auto read = store_->IndicatorWithRoadmap(indicator_id);
  if (absl::IsNotFound(read.status())) {
    return InvalidField("measurement.indicator_id", "no such indicator");
  }
  if (!read.ok()) return read.status();
  auto indicator = Decode<pb::Indicator>(kIndicator, read->indicator);
  if (!indicator.ok()) return indicator.status();
  // Never fails: an indicator is in its own roadmap's index (the commit
  // that creates it writes both) and never changes roadmap.
  const auto lost = [] {
    return absl::InternalError("the indicator's roadmap could not be found");
  };
  if (!read->roadmap) return lost();
  auto roadmap = Decode<pb::Roadmap>(kRoadmap, *read->roadmap);
  if (!roadmap.ok()) return roadmap.status();
  if (roadmap->value.id() != indicator->value.roadmap_id()) return lost();
  IndicatorRoadmap found;
  found.roadmap_id = roadmap->value.id();
  found.copilots.assign(roadmap->value.copilot_organization_ids().begin(),
                        roadmap->value.copilot_organization_ids().end());
  indicator_roadmaps_.Keep(indicator_id, found);
  return found;
}

absl::Status RoadmapService::RecordMeasurement(
    const CallContext& c, const pb::RecordMeasurementRequest& req,
    pb::RecordMeasurementResponse* resp) {
  const Actor& actor = c.principal;
  if (auto s =
          WithRequestId(ValidateMeasurement(req.measurement(), "measurement."),
                        req.request_id());
      !s.ok()) {
    return s;
  }
  // Who may record, and who must verify, depends on the indicator's
  // roadmap: one read the first time, none once known (IndicatorRoadmap).
  auto roadmap = IndicatorRoadmapOf(req.measurement().indicator_id());
  if (!roadmap.ok()) return roadmap.status();
  const auto& copilots = roadmap->copilots;
  if (copilots.size() != 2 || (actor.organization_id() != copilots[0] &&
                               actor.organization_id() != copilots[1])) {
    return absl::PermissionDeniedError(
        "measurements are recorded by a co-pilot organisation of the roadmap");
  }
  Ops ops(store_, clock_, c);
  pb::Measurement m = req.measurement();
  m.set_roadmap_id(roadmap->roadmap_id);
  m.set_verification_state(pb::VERIFICATION_STATE_UNVERIFIED);
  m.clear_verified_by();
  m.clear_verify_time();
  m.clear_verification_note();
  m.set_verifier_organization_id(
      actor.organization_id() == copilots[0] ? copilots[1] : copilots[0]);
  auto created = ops.Create<pb::Measurement>(
      kMeasurement, "roadmap.measurement.recorded", req.request_id(), m,
      m.roadmap_id(), [](Mutation& m, const pb::Measurement& x) {
        m.RequireKey(Keys::Entity(kIndicator, x.indicator_id()),
                     "measurement.indicator_id");
        m.IndexAdd(Keys::Children(kIndicator, x.indicator_id(), kMeasurement),
                   x.id());
      });
  if (!created.ok()) return created.status();
  *resp->mutable_measurement() = *std::move(created);
  return absl::OkStatus();
}

void RoadmapService::GetMeasurement(const CallContext&,
                                    const pb::GetMeasurementRequest& req,
                                    SerializedDone done) {
  GetEntity<pb::GetMeasurementResponse,
            &pb::GetMeasurementResponse::mutable_measurement, kMeasurement>(
      store_, req.id(), std::move(done));
}

absl::Status RoadmapService::ListMeasurements(
    const CallContext& c, const pb::ListMeasurementsRequest& req,
    pb::ListMeasurementsResponse* resp) {
  if (req.indicator_id().empty()) {
    return InvalidField("indicator_id", "is required");
  }
  if (auto s = CheckEnumFilter("verification_state", req.verification_state(),
                               pb::VerificationState_descriptor(), true);
      !s.ok()) {
    return s;
  }
  Ops ops(store_, clock_, c);
  return ops.List<pb::Measurement>(
      kMeasurement,
      Keys::Children(kIndicator, req.indicator_id(), kMeasurement),
      req.page_size(), req.page_token(),
      [&](pb::Measurement& m) {
        return req.verification_state() == pb::VERIFICATION_STATE_UNSPECIFIED ||
               m.verification_state() == req.verification_state();
      },
      resp->mutable_measurements(), resp->mutable_next_page_token());
}

absl::Status RoadmapService::VerifyMeasurement(
    const CallContext& c, const pb::VerifyMeasurementRequest& req,
    pb::VerifyMeasurementResponse* resp) {
  if (!req.approve() && IsBlank(req.note())) {
    return InvalidField("note", "is required when rejecting a measurement");
  }
  if (auto p = TextProblem(req.note(), 0, 2000); !p.empty()) {
    return InvalidField("note", p);
  }
  Ops ops(store_, clock_, c);
  auto m = ops.Update<pb::Measurement>(
      kMeasurement, "roadmap.measurement.verified", req.id(), req.etag(),
      [&](const Versioned<pb::Measurement>& cur, pb::Measurement* next,
          Mutation*) -> absl::Status {
        if (auto s = CheckCanVerify(cur.value, c.principal); !s.ok()) return s;
        next->set_verification_state(req.approve()
                                         ? pb::VERIFICATION_STATE_VERIFIED
                                         : pb::VERIFICATION_STATE_REJECTED);
        *next->mutable_verified_by() = c.principal;
        *next->mutable_verify_time() = ops.Now();
        next->set_verification_note(req.note());
        return absl::OkStatus();
      },
      false, [](const pb::Measurement& m) { return m.roadmap_id(); });
  if (!m.ok()) return m.status();
  *resp->mutable_measurement() = *std::move(m);
  return absl::OkStatus();
}

// --- Actions ---------------------------------------------------------------

namespace {

// Checks that every reference of `a` exists in its roadmap; `only` limits
// them to the fields an update touched (empty: all).
void RequireActionReferences(Mutation& m, const pb::Action& a,
                             const std::set<std::string>& only) {
  auto want = [&](const char* f) { return only.empty() || only.count(f); };
  if (only.empty()) {
    m.RequireKey(Keys::Entity(kRoadmap, a.roadmap_id()), "action.roadmap_id");
  }
  // The parties are the roadmap's two co-pilots (they differ, so both are
  // there): whoever requests completion, the other co-pilot approves it.
  constexpr std::string_view kNotCopilot =
      "must be one of the roadmap's two co-pilot organisations";
  if (want("lead_organization_id")) {
    m.RequireKey(Keys::Entity(kOrganization, a.lead_organization_id()),
                 "action.lead_organization_id");
    m.RequireMember(Keys::Copilots(a.roadmap_id()), a.lead_organization_id(),
                    "action.lead_organization_id", kNotCopilot);
  }
  if (want("partner_organization_id")) {
    m.RequireKey(Keys::Entity(kOrganization, a.partner_organization_id()),
                 "action.partner_organization_id");
    m.RequireMember(Keys::Copilots(a.roadmap_id()), a.partner_organization_id(),
                    "action.partner_organization_id", kNotCopilot);
  }
  if (want("ecosystem_id") && !a.ecosystem_id().empty()) {
    m.RequireMember(Keys::Children(kRoadmap, a.roadmap_id(), kEcosystem),
                    a.ecosystem_id(), "action.ecosystem_id");
  }
  if (want("depends_on_action_ids")) {
    for (int i = 0; i < a.depends_on_action_ids_size(); ++i) {
      m.RequireMember(Keys::Children(kRoadmap, a.roadmap_id(), kAction),
                      a.depends_on_action_ids(i),
                      absl::StrCat("action.depends_on_action_ids[", i, "]"));
    }
  }
  if (want("contributions")) {
    for (int i = 0; i < a.contributions_size(); ++i) {
      m.RequireMember(
          Keys::Children(kRoadmap, a.roadmap_id(), kIndicator),
          a.contributions(i).indicator_id(),
          absl::StrCat("action.contributions[", i, "].indicator_id"));
    }
  }
}

void ClearOutputs(pb::Action* a) {
  a->clear_progress_percent();
  a->clear_late();
  for (auto& m : *a->mutable_milestones()) m.clear_late();
}

std::string JoinDeps(const pb::Action& a) {
  return absl::StrJoin(a.depends_on_action_ids(), ",");
}

}  // namespace

namespace {

// Hands the finished action to the response, or the failure to `done`.
template <typename Resp>
void AnswerAction(absl::StatusOr<pb::Action> a, const Ops& ops, Resp* resp,
                  RoadmapService::Done done) {
  if (!a.ok()) return std::move(done)(a.status());
  Decorate(&*a, ops.Today());
  *resp->mutable_action() = *std::move(a);
  std::move(done)(absl::OkStatus());
}

}  // namespace

void RoadmapService::CreateAction(const CallContext& c,
                                  const pb::CreateActionRequest& req,
                                  pb::CreateActionResponse* resp, Done done) {
  pb::Action action = req.action();
  action.clear_id();  // self-dependency is caught by the cycle rule instead
  ApplyDefaults(&action);
  const Date today = DateOf(clock_->Now());
  if (auto s = WithRequestId(ValidateAction(action, "action.", &today),
                             req.request_id());
      !s.ok()) {
    return std::move(done)(s);
  }
  if (!CanSteer(c.principal, action)) {
    return std::move(done)(absl::PermissionDeniedError(
        "a copilot creates actions whose lead or partner is their own "
        "organisation"));
  }
  action.set_status(pb::ACTION_STATUS_PROPOSED);
  action.clear_status_reason();
  action.clear_completion_requested_by_organization_id();
  action.clear_done_time();
  ClearOutputs(&action);
  AssignMilestoneIds(&action);
  auto ops = std::make_unique<Ops>(store_, clock_, c);
  Ops* o = ops.get();
  const std::string roadmap_id = action.roadmap_id();
  o->CreateAsync<pb::Action>(
      kAction, "roadmap.action.created", req.request_id(), std::move(action),
      roadmap_id,
      [o](Mutation& m, const pb::Action& a) {
        RequireActionReferences(m, a, {});
        m.IndexAdd(Keys::Index(kAction), a.id());
        m.IndexAdd(Keys::Children(kRoadmap, a.roadmap_id(), kAction), a.id());
        if (a.depends_on_action_ids_size() > 0) {
          // A new action cannot close a cycle (nothing depends on it yet),
          // but bumping the graph version makes a concurrent update that
          // read the graph before it retry and see it.
          m.HashSet(Keys::Dependencies(a.roadmap_id()), a.id(), JoinDeps(a));
          m.HashIncrement(Keys::Dependencies(a.roadmap_id()), "v");
        }
        m.Append(
            Keys::ActionHistory(a.id()),
            o->History(1, "roadmap.action.created", Diff(pb::Action(), a)));
      },
      [ops = std::move(ops), resp,
       done = std::move(done)](absl::StatusOr<pb::Action> created) mutable {
        AnswerAction(std::move(created), *ops, resp, std::move(done));
      });
}

void RoadmapService::GetAction(const CallContext&,
                               const pb::GetActionRequest& req,
                               SerializedDone done) {
  // Lateness depends on the day: the day is the serialised response's tag.
  store_->GetRenderedAsync(kAction, req.id(),
                           DaysFromCivil(DateOf(clock_->Now())), RenderAction,
                           std::move(done));
}

absl::Status RoadmapService::ListActions(const CallContext& c,
                                         const pb::ListActionsRequest& req,
                                         pb::ListActionsResponse* resp) {
  if (auto s = CheckEnumFilters("statuses", req.statuses(),
                                pb::ActionStatus_descriptor());
      !s.ok()) {
    return s;
  }
  Ops ops(store_, clock_, c);
  const Date today = ops.Today();
  std::set<int> statuses(req.statuses().begin(), req.statuses().end());
  const std::string index =
      req.roadmap_id().empty()
          ? Keys::Index(kAction)
          : Keys::Children(kRoadmap, req.roadmap_id(), kAction);
  return ops.List<pb::Action>(
      kAction, index, req.page_size(), req.page_token(),
      [&](pb::Action& a) {
        if (!req.ecosystem_id().empty() &&
            a.ecosystem_id() != req.ecosystem_id())
          return false;
        if (!statuses.empty() && !statuses.count(a.status())) return false;
        if (!req.organization_id().empty() &&
            a.lead_organization_id() != req.organization_id() &&
            a.partner_organization_id() != req.organization_id()) {
          return false;
        }
        if (!req.owner().empty() && a.owner() != req.owner()) return false;
        if (!req.tag().empty() && std::find(a.tags().begin(), a.tags().end(),
                                            req.tag()) == a.tags().end()) {
          return false;
        }
        Decorate(&a, today);
        return !req.late_only() || a.late();
      },
      resp->mutable_actions(), resp->mutable_next_page_token());
}

bool RoadmapService::UpdateActionBlocks(const pb::UpdateActionRequest& req) {
  const auto& paths = req.update_mask().paths();
  return std::find(paths.begin(), paths.end(), "depends_on_action_ids") !=
         paths.end();
}

EntityOps::ChangeFn<pb::Action> RoadmapService::ActionEditor(
    const CallContext& c, const pb::UpdateActionRequest& req,
    std::optional<RoadmapStore::Graph>* graph_read) const {
  static const std::set<std::string> kUpdatable = {"title",
                                                   "description",
                                                   "ecosystem_id",
                                                   "lead_organization_id",
                                                   "partner_organization_id",
                                                   "owner",
                                                   "priority",
                                                   "start_date",
                                                   "due_date",
                                                   "milestones",
                                                   "progress_override",
                                                   "contributions",
                                                   "depends_on_action_ids",
                                                   "tags"};
  std::set<std::string> touched(req.update_mask().paths().begin(),
                                req.update_mask().paths().end());
  // One definition of "a dependency edit": UpdateAction serves those where
  // the graph read below may block.
  const bool deps_changed = UpdateActionBlocks(req);
  return [this, &c, &req, touched = std::move(touched), deps_changed,
          graph_read](const Versioned<pb::Action>& cur, pb::Action* next,
                      Mutation* m) -> absl::Status {
    if (!CanSteer(c.principal, cur.value)) {
      return absl::PermissionDeniedError(
          "only an admin or a copilot of the action's lead or partner "
          "organisation can edit it");
    }
    const auto status = cur.value.status();
    if (status == pb::ACTION_STATUS_DONE ||
        status == pb::ACTION_STATUS_CANCELLED) {
      return WithReason(absl::FailedPreconditionError(
                            "a DONE or CANCELLED action can no longer be "
                            "edited"),
                        "ACTION_CLOSED");
    }
    if (status == pb::ACTION_STATUS_COMPLETION_REQUESTED) {
      // The counterpart decides on the action as it was when completion was
      // requested. Otherwise the requester could move a late due date or
      // swap in a counterpart of its choosing before the approval seals it.
      return WithReason(
          absl::FailedPreconditionError(
              "an action cannot be edited while its completion awaits the "
              "counterpart's decision; a rejection returns it to "
              "IN_PROGRESS"),
          "COVALIDATION_REQUIRED");
    }
    if (auto s = ApplyMask(req.action(), req.update_mask(), kUpdatable, next);
        !s.ok()) {
      return s;
    }
    ClearOutputs(next);
    AssignMilestoneIds(next);
    // Done dates are checked when the milestones change: an action with one
    // to come from before the check still takes its other edits.
    const Date today = DateOf(clock_->Now());
    if (auto s = ValidateAction(*next, "action.",
                                touched.count("milestones") ? &today : nullptr);
        !s.ok()) {
      return s;
    }
    if (!CanSteer(c.principal, *next)) {
      return absl::PermissionDeniedError(
          "a copilot cannot hand an action over to organisations other "
          "than their own");
    }
    if (!MayChangeParties(c.principal, cur.value, *next)) {
      return WithReason(
          absl::PermissionDeniedError(
              "a copilot cannot replace the other party of an action, who "
              "co-validates its completion; an admin can"),
          "COVALIDATION_REQUIRED");
    }
    RequireActionReferences(*m, *next, touched);
    if (deps_changed && !std::equal(cur.value.depends_on_action_ids().begin(),
                                    cur.value.depends_on_action_ids().end(),
                                    next->depends_on_action_ids().begin(),
                                    next->depends_on_action_ids().end())) {
      // Changing dependencies needs the roadmap's graph: one more read,
      // and the commit is guarded by the graph's version.
      absl::StatusOr<RoadmapStore::Graph> graph =
          graph_read != nullptr && graph_read->has_value()
              ? **graph_read
              : store_->Dependencies(next->roadmap_id());
      if (!graph.ok()) return graph.status();
      DependencyGraph g;
      for (const auto& [id, deps] : graph->first) {
        g[id] = absl::StrSplit(deps, ',', absl::SkipEmpty());
      }
      std::vector<std::string> deps(next->depends_on_action_ids().begin(),
                                    next->depends_on_action_ids().end());
      g.erase(next->id());
      if (auto s = CheckNoCycle(g, next->id(), deps); !s.ok()) return s;
      const std::string key = Keys::Dependencies(next->roadmap_id());
      m->ExpectVersion(key, graph->second, "dependency graph");
      if (deps.empty()) {
        m->HashDelete(key, next->id());
      } else {
        m->HashSet(key, next->id(), JoinDeps(*next));
      }
      m->HashIncrement(key, "v");
    }
    return absl::OkStatus();
  };
}

absl::Status RoadmapService::UpdateAction(const CallContext& c,
                                          const pb::UpdateActionRequest& req,
                                          pb::UpdateActionResponse* resp) {
  Ops ops(store_, clock_, c);
  const std::string& id = req.action().id();
  // A dependency edit reads the action with its roadmap's graph, in one
  // round trip; the roadmap kept from an earlier edit saves a search.
  std::optional<RoadmapStore::Graph> graph;
  EntityOps::Loader<pb::Action> load;
  if (UpdateActionBlocks(req)) {
    std::string hint = action_roadmaps_.Find(id).value_or("");
    load = [&, hint]() -> absl::StatusOr<Versioned<pb::Action>> {
      graph.reset();
      auto read = store_->ActionWithDependencies(id, hint);
      if (!read.ok()) return read.status();
      auto action = Decode<pb::Action>(kAction, read->action);
      // Never happens (an action is in its own roadmap's index); if it did,
      // the editor would read the right graph itself.
      if (action.ok() && read->graph &&
          action->value.roadmap_id() == read->roadmap_id) {
        graph = std::move(read->graph);
      }
      return action;
    };
  }
  auto a = ops.Update<pb::Action>(
      kAction, "roadmap.action.updated", id,
      {req.action().etag(), "action.etag"}, ActionEditor(c, req, &graph), true,
      [](const pb::Action& a) { return a.roadmap_id(); }, load);
  if (!a.ok()) return a.status();
  action_roadmaps_.Keep(a->id(), a->roadmap_id());
  Decorate(&*a, ops.Today());
  *resp->mutable_action() = *std::move(a);
  return absl::OkStatus();
}

void RoadmapService::UpdateAction(const CallContext& c,
                                  const pb::UpdateActionRequest& req,
                                  pb::UpdateActionResponse* resp, Done done) {
  if (UpdateActionBlocks(req)) {
    return std::move(done)(absl::InternalError(
        "a dependency edit must be served where it may block"));
  }
  auto ops = std::make_unique<Ops>(store_, clock_, c);
  Ops* o = ops.get();
  o->UpdateAsync<pb::Action>(
      kAction, "roadmap.action.updated", req.action().id(),
      {req.action().etag(), "action.etag"}, ActionEditor(c, req), true,
      [](const pb::Action& a) { return a.roadmap_id(); },
      [ops = std::move(ops), resp,
       done = std::move(done)](absl::StatusOr<pb::Action> a) mutable {
        AnswerAction(std::move(a), *ops, resp, std::move(done));
      });
}

void RoadmapService::TransitionAction(const CallContext& c,
                                      const pb::TransitionActionRequest& req,
                                      pb::TransitionActionResponse* resp,
                                      Done done) {
  auto ops = std::make_unique<Ops>(store_, clock_, c);
  Ops* o = ops.get();
  o->UpdateAsync<pb::Action>(
      kAction, "roadmap.action.transitioned", req.id(), req.etag(),
      [&c, &req, o](const Versioned<pb::Action>& cur, pb::Action* next,
                    Mutation*) -> absl::Status {
        if (auto s = CheckTransition(cur.value, req.target_status(),
                                     req.reason(), c.principal);
            !s.ok()) {
          return s;
        }
        ApplyTransition(next, req.target_status(), req.reason(), c.principal,
                        o->Now());
        return absl::OkStatus();
      },
      true, [](const pb::Action& a) { return a.roadmap_id(); },
      [ops = std::move(ops), resp,
       done = std::move(done)](absl::StatusOr<pb::Action> a) mutable {
        AnswerAction(std::move(a), *ops, resp, std::move(done));
      });
}

absl::Status RoadmapService::ListActionHistory(
    const CallContext& c, const pb::ListActionHistoryRequest& req,
    pb::ListActionHistoryResponse* resp) {
  Ops ops(store_, clock_, c);
  if (auto a = store_->Get(kAction, req.action_id()); !a.ok())
    return a.status();
  return ops.ListOffsets(Keys::ActionHistory(req.action_id()), req.page_size(),
                         req.page_token(), resp->mutable_entries(),
                         resp->mutable_next_page_token());
}

absl::Status RoadmapService::AddComment(const CallContext& c,
                                        const pb::AddCommentRequest& req,
                                        pb::AddCommentResponse* resp) {
  const Actor& actor = c.principal;
  Violations v;
  if (req.action_id().empty()) v.Add("action_id", "is required");
  if (auto p = TextProblem(req.body(), 1, 5000); !p.empty()) {
    v.Add("body", p);
  }
  if (auto s = WithRequestId(v.ToStatus(), req.request_id()); !s.ok()) {
    return s;
  }
  Ops ops(store_, clock_, c);
  pb::Comment comment;
  comment.set_id(NewUlid());
  comment.set_action_id(req.action_id());
  comment.set_body(req.body());
  *comment.mutable_author() = actor;
  *comment.mutable_create_time() = ops.Now();
  Mutation m;
  if (!req.request_id().empty()) {
    m.Dedupe(Keys::Request(actor.principal_id(), kComment, req.request_id()),
             comment.id(), kRequestTtlSeconds);
  }
  m.RequireKey(Keys::Entity(kAction, req.action_id()), "action_id");
  m.Append(Keys::ActionComments(req.action_id()), comment.SerializeAsString());
  m.AddEvent(ops.Event("roadmap.action.commented", kComment, comment.id(), 1,
                       {}, comment, ""));
  auto r = store_->Commit(m);
  if (absl::IsInvalidArgument(r.status())) {
    return WithReason(absl::NotFoundError(absl::StrCat(
                          "action ", req.action_id(), " not found")),
                      "NOT_FOUND");
  }
  if (!r.ok()) return r.status();
  if (r->duplicate) {
    // The first attempt's comment. A retry comes soon after it: look from
    // the newest comment back, a page at a time. Comments added meanwhile
    // only move the older ones further from the end, so none is skipped.
    constexpr int64_t kPage = 100;
    const std::string key = Keys::ActionComments(req.action_id());
    for (int64_t start = -kPage;; start -= kPage) {
      auto page = store_->ListRange(key, start, kPage);
      if (!page.ok()) return page.status();
      for (auto it = page->rbegin(); it != page->rend(); ++it) {
        pb::Comment existing;
        if (existing.ParseFromString(*it) &&
            existing.id() == r->duplicate_value) {
          *resp->mutable_comment() = std::move(existing);
          return absl::OkStatus();
        }
      }
      if (static_cast<int64_t>(page->size()) < kPage) break;
    }
    return absl::NotFoundError("comment of this request_id no longer exists");
  }
  *resp->mutable_comment() = std::move(comment);
  return absl::OkStatus();
}

absl::Status RoadmapService::ListComments(const CallContext& c,
                                          const pb::ListCommentsRequest& req,
                                          pb::ListCommentsResponse* resp) {
  Ops ops(store_, clock_, c);
  if (auto a = store_->Get(kAction, req.action_id()); !a.ok())
    return a.status();
  return ops.ListOffsets(Keys::ActionComments(req.action_id()), req.page_size(),
                         req.page_token(), resp->mutable_comments(),
                         resp->mutable_next_page_token());
}

}  // namespace jalon::roadmap
