#include "tools/jalonctl/import_export.h"

#include <google/protobuf/util/time_util.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <deque>
#include <exception>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/dates.h"
#include "tools/jalonctl/commands.h"
#include "tools/jalonctl/interrupt.h"

namespace jalon::ctl {
namespace {

namespace rpb = ::jalon::roadmap::v1;
namespace fpb = ::jalon::feedback::v1;
using RStub = rpb::RoadmapService::Stub;
using FStub = fpb::FeedbackService::Stub;
using google::protobuf::Message;

// Every page of a List, in pages of 1000.
template <typename Item, typename Stub, typename Req, typename Resp,
          typename Get>
std::vector<Item> ListAll(Session& s, Stub& stub,
                          grpc::Status (Stub::*rpc)(grpc::ClientContext*,
                                                    const Req&, Resp*),
                          Req req, Get get, const std::string& what) {
  req.set_page_size(1000);
  return FetchList<Item>(s, stub, rpc, req, get, what, 0);
}

// The fields of `fields` whose values differ; enum fields left unset in
// `want` (server defaults) are not compared.
std::vector<std::string> Diff(const Message& want, const Message& have,
                              const std::vector<std::string>& fields) {
  std::vector<std::string> out;
  for (const std::string& f : fields) {
    const auto* d = want.GetDescriptor()->FindFieldByName(f);
    if (d != nullptr && !d->is_repeated() &&
        d->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_ENUM &&
        want.GetReflection()->GetEnumValue(want, d) == 0) {
      continue;
    }
    if (FieldText(want, f) != FieldText(have, f)) out.push_back(f);
  }
  return out;
}

std::string StatusName(rpb::ActionStatus s) {
  return ShortEnumName(rpb::ActionStatus_descriptor()->FindValueByNumber(s));
}

// The action lifecycle, as the roadmap service enforces it.
std::vector<rpb::ActionStatus> Next(rpb::ActionStatus from) {
  switch (from) {
    case rpb::ACTION_STATUS_PROPOSED:
      return {rpb::ACTION_STATUS_PLANNED, rpb::ACTION_STATUS_CANCELLED};
    case rpb::ACTION_STATUS_PLANNED:
      return {rpb::ACTION_STATUS_IN_PROGRESS, rpb::ACTION_STATUS_CANCELLED};
    case rpb::ACTION_STATUS_IN_PROGRESS:
      return {rpb::ACTION_STATUS_COMPLETION_REQUESTED,
              rpb::ACTION_STATUS_BLOCKED, rpb::ACTION_STATUS_CANCELLED};
    case rpb::ACTION_STATUS_BLOCKED:
      return {rpb::ACTION_STATUS_IN_PROGRESS, rpb::ACTION_STATUS_CANCELLED};
    case rpb::ACTION_STATUS_COMPLETION_REQUESTED:
      return {rpb::ACTION_STATUS_DONE, rpb::ACTION_STATUS_CANCELLED};
    default:
      return {};
  }
}

// Shortest legal path from `from` to `to` (excluding `from`); empty if none.
std::vector<rpb::ActionStatus> PathTo(rpb::ActionStatus from,
                                      rpb::ActionStatus to) {
  std::map<rpb::ActionStatus, rpb::ActionStatus> prev;
  std::deque<rpb::ActionStatus> queue{from};
  prev[from] = from;
  while (!queue.empty()) {
    auto at = queue.front();
    queue.pop_front();
    if (at == to) break;
    for (auto n : Next(at)) {
      if (!prev.count(n)) {
        prev[n] = at;
        queue.push_back(n);
      }
    }
  }
  std::vector<rpb::ActionStatus> path;
  if (!prev.count(to) || from == to) return path;
  for (auto at = to; at != from; at = prev[at]) path.insert(path.begin(), at);
  return path;
}

// Short-lived tokens for acting on behalf of organisations (recording and
// verifying figures, co-validating actions, submitting and endorsing
// feedback), issued by the admin on first need and revoked at the end.
class Actors {
 public:
  explicit Actors(Session& s) : s_(s) {}
  ~Actors() { RevokeAll(); }
  // Revokes every token issued so far, and refuses to issue more. Safe
  // while another thread uses the actors (an interrupted import).
  void RevokeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (const std::string& id : issued_) {
      rpb::RevokeTokenRequest req;
      req.set_id(id);
      rpb::RevokeTokenResponse resp;
      auto ctx = s_.Ctx();
      grpc::Status st = s_.roadmap().RevokeToken(ctx.get(), req, &resp);
      if (!st.ok()) {
        std::cerr << "warning: could not revoke import token " << id << ": "
                  << st.error_message() << "\n";
      }
    }
    issued_.clear();
  }
  const std::string& Token(const std::string& org_id, common::v1::Role role) {
    // Held across the issue, so that RevokeAll sees every token issued.
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) throw CliError(kExitOther, "error: the import was stopped");
    auto key = std::make_pair(org_id, static_cast<int>(role));
    auto it = tokens_.find(key);
    if (it != tokens_.end()) return it->second;
    rpb::IssueTokenRequest req;
    req.set_request_id(NewRequestId());
    req.set_principal_name("jalonctl-import");
    req.set_organization_id(org_id);
    req.set_role(role);
    req.set_description(
        "short-lived token of jalonctl import; revoked at its end");
    auto r =
        Call(s_, s_.roadmap(), &RStub::IssueToken, req, "issue import token");
    issued_.push_back(r.token().id());
    return tokens_[key] = r.secret();
  }

 private:
  Session& s_;
  std::map<std::pair<std::string, int>, std::string> tokens_;
  std::vector<std::string> issued_;
  std::mutex mu_;
  bool closed_ = false;
};

// Calls in flight at once for independent creates: enough to hide the
// round trips, few enough not to queue up on the servers' workers.
constexpr int kImportConcurrency = 16;

// Runs fn(0) ... fn(n - 1) on up to `width` threads. The first exception
// stops the others from taking more work and is rethrown here once every
// thread has stopped.
void ParallelFor(size_t n, int width, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mu;
  std::vector<std::thread> threads;
  const size_t count = std::min(n, static_cast<size_t>(width));
  for (size_t t = 0; t < count; ++t) {
    threads.emplace_back([&] {
      while (!failed.load()) {
        const size_t i = next++;
        if (i >= n) return;
        try {
          fn(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!error) error = std::current_exception();
          failed = true;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

class Progress {
 public:
  Progress(bool enabled, size_t total) : enabled_(enabled), total_(total) {}
  ~Progress() {
    if (enabled_ && drawn_) std::cerr << "\r\033[K" << std::flush;
  }
  // Erases the bar, so that a line written next starts on a clean line
  // (the next Tick draws it again).
  void Clear() {
    if (enabled_ && drawn_) std::cerr << "\r\033[K" << std::flush;
    drawn_ = false;
  }
  void Tick(const std::string& label) {
    ++done_;
    if (!enabled_) return;
    const size_t width = 30;
    size_t filled = total_ == 0 ? width : done_ * width / total_;
    std::cerr << "\r\033[K[" << std::string(filled, '#')
              << std::string(width - std::min(filled, width), '.') << "] "
              << done_ << "/" << total_ << " " << label.substr(0, 40)
              << std::flush;
    drawn_ = true;
  }

 private:
  bool enabled_;
  size_t total_;
  size_t done_ = 0;
  bool drawn_ = false;
};

constexpr char kNew[] = "(new)";

class Importer {
 public:
  Importer(Session& s, const ImportFile& f, const ImportOptions& o,
           std::ostream& out)
      : s_(s),
        f_(f),
        o_(o),
        out_(out),
        actors_(s),
        progress_(o.progress, f.EntityCount()) {}

  ImportSummary Run() {
    try {
      Organizations();
      Roadmap();
      Ecosystems();
      Indicators();
      Actions();
      Consultations();
      Feedback();
    } catch (const CliError&) {
      // Put the consultation windows back even when a call failed.
      try {
        RestoreConsultations();
      } catch (const CliError& e) {
        std::cerr << "warning: " << e.what() << "\n";
      }
      actors_.RevokeAll();
      throw;
    }
    RestoreConsultations();
    actors_.RevokeAll();
    return summary_;
  }

  // Ctrl-C, from another thread while Run goes on: revokes the tokens and
  // puts the consultation windows back (as they were, whatever happened to
  // them since); Run's later calls that would need them fail.
  void Interrupt() {
    actors_.RevokeAll();
    std::lock_guard<std::mutex> lock(windows_mu_);
    interrupted_ = true;
    for (const auto& [key, original] : reopened_) {
      // No etag: the window goes back whatever happened to it since.
      fpb::UpdateConsultationRequest req = RestoreRequest(original, "");
      fpb::UpdateConsultationResponse resp;
      auto ctx = s_.Ctx();
      grpc::Status st = s_.feedback().UpdateConsultation(ctx.get(), req, &resp);
      if (!st.ok()) {
        std::cerr << "warning: could not restore consultation " << key << ": "
                  << st.error_message() << "\n";
      }
    }
    reopened_.clear();
  }

 private:
  std::string Rid(const std::string& kind, const std::string& key) {
    return absl::StrCat("import-", f_.roadmap.key, "-", kind, "-", key);
  }
  bool IsNew(const std::string& id) const { return id == kNew; }
  // The file's key of the organisation `id`, if the file has it.
  const std::string* OrgKeyOf(const std::string& id) const {
    for (const auto& [key, org] : org_) {
      if (!id.empty() && org == id) return &key;
    }
    return nullptr;
  }
  // Creates `want` into `made` when nothing matched (`*found` null) and
  // this is no dry run. The request id is the same at every import, so
  // within the servers' 24-hour window a create after a rename in the file
  // gets back the entity an earlier import made, as it is now: it is then
  // a match (`*found` points at it), updated to the file's values.
  template <typename M, typename Stub, typename Req, typename Resp>
  void CreateUnmatched(const M** found, M* made, const M& want, Stub& stub,
                       Rpc<Stub, Req, Resp> rpc, M* (Req::*entity)(),
                       const M& (Resp::*created)() const,
                       const std::string& rid_kind, const std::string& noun,
                       const std::string& key,
                       const std::vector<std::string>& fields) {
    if (*found != nullptr || o_.dry_run) return;
    Req req;
    req.set_request_id(Rid(rid_kind, key));
    *(req.*entity)() = want;
    *made = (Call(s_, stub, rpc, req, "create " + noun + " " + key).*created)();
    if (!Diff(want, *made, fields).empty()) *found = made;
  }

  // Where a change line goes: stdout, after the progress bar (on stderr,
  // maybe the same terminal) is erased.
  std::ostream& Line() {
    progress_.Clear();
    return out_;
  }

  void Created(const std::string& what, const std::string& key) {
    ++summary_.created;
    Line() << (o_.dry_run ? "would create " : "created ") << what << " " << key
           << "\n";
  }
  void Updated(const std::string& what, const std::string& key,
               const std::vector<std::string>& fields) {
    ++summary_.updated;
    Line() << (o_.dry_run ? "would update " : "updated ") << what << " " << key
           << " (" << absl::StrJoin(fields, ", ") << ")\n";
  }
  void Warn(const std::string& message) {
    ++summary_.warnings;
    Line() << "warning: " << message << "\n";
  }

  void Organizations() {
    auto existing = ListAll<rpb::Organization>(
        s_, s_.roadmap(), &RStub::ListOrganizations,
        rpb::ListOrganizationsRequest(),
        [](const auto& r) -> const auto& { return r.organizations(); },
        "list organisations");
    for (const OrgEntry& e : f_.organizations) {
      const rpb::Organization* found = nullptr;
      for (const auto& o : existing) {
        if (o.name() == e.org.name()) found = &o;
      }
      static const std::vector<std::string> kFields = {"name", "description",
                                                       "contact_email"};
      rpb::Organization made;
      CreateUnmatched(&found, &made, e.org, s_.roadmap(),
                      &RStub::CreateOrganization,
                      &rpb::CreateOrganizationRequest::mutable_organization,
                      &rpb::CreateOrganizationResponse::organization, "org",
                      "organisation", e.key, kFields);
      if (found == nullptr) {
        Created("organization", e.key);
        org_[e.key] = o_.dry_run ? kNew : made.id();
      } else {
        org_[e.key] = found->id();
        org_kind_[e.key] = found->kind();
        if (found->kind() != e.org.kind()) {
          Warn("organization " + e.key + ": kind cannot change on the server");
        }
        auto diff = Diff(e.org, *found, kFields);
        if (diff.empty()) {
          ++summary_.unchanged;
        } else {
          Updated("organization", e.key, diff);
          if (!o_.dry_run) {
            rpb::UpdateOrganizationRequest req;
            *req.mutable_organization() = e.org;
            req.mutable_organization()->set_id(found->id());
            req.mutable_organization()->set_etag(found->etag());
            for (const auto& d : diff) req.mutable_update_mask()->add_paths(d);
            Call(s_, s_.roadmap(), &RStub::UpdateOrganization, req,
                 "update organisation " + e.key);
          }
        }
      }
      org_kind_.emplace(e.key, e.org.kind());
      progress_.Tick("organization " + e.key);
    }
  }

  // A token acting for an organisation of the file.
  const std::string& As(const std::string& org_key, common::v1::Role role) {
    return actors_.Token(org_.at(org_key), role);
  }
  common::v1::Role AuthorRole(const std::string& org_key) {
    return org_kind_[org_key] == rpb::ORGANIZATION_KIND_MEMBER_COMPANY
               ? common::v1::ROLE_MEMBER
               : common::v1::ROLE_COPILOT;
  }

  void Roadmap() {
    const RoadmapEntry& e = f_.roadmap;
    rpb::Roadmap want = e.roadmap;
    for (const auto& c : e.copilots)
      want.add_copilot_organization_ids(org_.at(c));
    auto existing = ListAll<rpb::Roadmap>(
        s_, s_.roadmap(), &RStub::ListRoadmaps, rpb::ListRoadmapsRequest(),
        [](const auto& r) -> const auto& { return r.roadmaps(); },
        "list roadmaps");
    const rpb::Roadmap* found = nullptr;
    for (const auto& r : existing) {
      if (r.title() == want.title()) found = &r;
    }
    static const std::vector<std::string> kFields = {
        "title", "description", "start_date", "horizon_date", "status"};
    rpb::Roadmap made;
    CreateUnmatched(&found, &made, want, s_.roadmap(), &RStub::CreateRoadmap,
                    &rpb::CreateRoadmapRequest::mutable_roadmap,
                    &rpb::CreateRoadmapResponse::roadmap, "roadmap", "roadmap",
                    e.key, kFields);
    if (found == nullptr) {
      Created("roadmap", e.key);
      roadmap_id_ = o_.dry_run ? kNew : made.id();
    } else {
      roadmap_id_ = found->id();
      if (FieldText(want, "copilot_organization_ids") !=
          FieldText(*found, "copilot_organization_ids")) {
        Warn("roadmap " + e.key + ": co-pilots cannot change on the server");
      }
      auto diff = Diff(want, *found, kFields);
      if (diff.empty()) {
        ++summary_.unchanged;
      } else {
        Updated("roadmap", e.key, diff);
        if (!o_.dry_run) {
          rpb::UpdateRoadmapRequest req;
          *req.mutable_roadmap() = want;
          req.mutable_roadmap()->set_id(found->id());
          req.mutable_roadmap()->set_etag(found->etag());
          for (const auto& d : diff) req.mutable_update_mask()->add_paths(d);
          Call(s_, s_.roadmap(), &RStub::UpdateRoadmap, req, "update roadmap");
        }
      }
    }
    progress_.Tick("roadmap " + e.key);
  }

  void Ecosystems() {
    std::vector<rpb::Ecosystem> existing;
    if (!IsNew(roadmap_id_)) {
      rpb::ListEcosystemsRequest req;
      req.set_roadmap_id(roadmap_id_);
      existing = ListAll<rpb::Ecosystem>(
          s_, s_.roadmap(), &RStub::ListEcosystems, req,
          [](const auto& r) -> const auto& { return r.ecosystems(); },
          "list ecosystems");
    }
    for (const EcosystemEntry& e : f_.ecosystems) {
      rpb::Ecosystem want = e.ecosystem;
      want.set_roadmap_id(roadmap_id_);
      const rpb::Ecosystem* found = nullptr;
      for (const auto& x : existing) {
        if (x.name() == want.name()) found = &x;
      }
      static const std::vector<std::string> kFields = {"name", "description",
                                                       "creation_date"};
      rpb::Ecosystem made;
      CreateUnmatched(&found, &made, want, s_.roadmap(),
                      &RStub::CreateEcosystem,
                      &rpb::CreateEcosystemRequest::mutable_ecosystem,
                      &rpb::CreateEcosystemResponse::ecosystem, "ecosystem",
                      "ecosystem", e.key, kFields);
      if (found == nullptr) {
        Created("ecosystem", e.key);
        eco_[e.key] = o_.dry_run ? kNew : made.id();
      } else {
        eco_[e.key] = found->id();
        auto diff = Diff(want, *found, kFields);
        if (diff.empty()) {
          ++summary_.unchanged;
        } else {
          Updated("ecosystem", e.key, diff);
          if (!o_.dry_run) {
            rpb::UpdateEcosystemRequest req;
            *req.mutable_ecosystem() = want;
            req.mutable_ecosystem()->set_id(found->id());
            req.mutable_ecosystem()->set_etag(found->etag());
            for (const auto& d : diff) req.mutable_update_mask()->add_paths(d);
            Call(s_, s_.roadmap(), &RStub::UpdateEcosystem, req,
                 "update ecosystem " + e.key);
          }
        }
      }
      progress_.Tick("ecosystem " + e.key);
    }
  }

  std::string EcoId(const std::string& key) {
    return key.empty() ? std::string() : eco_.at(key);
  }

  void Indicators() {
    std::vector<rpb::Indicator> existing;
    if (!IsNew(roadmap_id_)) {
      rpb::ListIndicatorsRequest req;
      req.set_roadmap_id(roadmap_id_);
      existing = ListAll<rpb::Indicator>(
          s_, s_.roadmap(), &RStub::ListIndicators, req,
          [](const auto& r) -> const auto& { return r.indicators(); },
          "list indicators");
    }
    const std::string& cp0 = f_.roadmap.copilots[0];
    const std::string& cp1 = f_.roadmap.copilots[1];
    for (const IndicatorEntry& e : f_.indicators) {
      rpb::Indicator want = e.indicator;
      want.set_roadmap_id(roadmap_id_);
      want.set_ecosystem_id(EcoId(e.ecosystem));
      const rpb::Indicator* found = nullptr;
      for (const auto& x : existing) {
        if (x.name() == want.name() &&
            x.ecosystem_id() == want.ecosystem_id()) {
          found = &x;
        }
      }
      static const std::vector<std::string> kFields = {
          "name",         "description",    "unit",
          "direction",    "baseline_value", "baseline_date",
          "target_value", "target_date",    "trajectory"};
      rpb::Indicator made;
      CreateUnmatched(&found, &made, want, s_.roadmap(),
                      &RStub::CreateIndicator,
                      &rpb::CreateIndicatorRequest::mutable_indicator,
                      &rpb::CreateIndicatorResponse::indicator, "indicator",
                      "indicator", e.key, kFields);
      std::string id;
      if (found == nullptr) {
        Created("indicator", e.key);
        id = o_.dry_run ? kNew : made.id();
      } else {
        id = found->id();
        auto diff = Diff(want, *found, kFields);
        if (diff.empty()) {
          ++summary_.unchanged;
        } else {
          Updated("indicator", e.key, diff);
          if (!o_.dry_run) {
            rpb::UpdateIndicatorRequest req;
            *req.mutable_indicator() = want;
            req.mutable_indicator()->set_id(found->id());
            req.mutable_indicator()->set_etag(found->etag());
            for (const auto& d : diff) req.mutable_update_mask()->add_paths(d);
            Call(s_, s_.roadmap(), &RStub::UpdateIndicator, req,
                 "update indicator " + e.key);
          }
        }
      }
      ind_[e.key] = id;
      progress_.Tick("indicator " + e.key);

      std::vector<rpb::Measurement> measured;
      if (!IsNew(id)) {
        rpb::ListMeasurementsRequest req;
        req.set_indicator_id(id);
        measured = ListAll<rpb::Measurement>(
            s_, s_.roadmap(), &RStub::ListMeasurements, req,
            [](const auto& r) -> const auto& { return r.measurements(); },
            "list measurements");
      }
      for (const MeasurementEntry& m : e.measurements) {
        const rpb::Measurement* have = nullptr;
        for (const auto& x : measured) {
          if (FormatDate(x.period_start()) ==
                  FormatDate(m.measurement.period_start()) &&
              FormatDate(x.period_end()) ==
                  FormatDate(m.measurement.period_end())) {
            have = &x;
          }
        }
        std::string verifier = m.recorded_by == cp0 ? cp1 : cp0;
        rpb::Measurement current;
        if (have == nullptr) {
          Created("measurement", m.key);
          if (!o_.dry_run) {
            rpb::RecordMeasurementRequest req;
            req.set_request_id(Rid("measurement", m.key));
            *req.mutable_measurement() = m.measurement;
            req.mutable_measurement()->set_indicator_id(id);
            current = CallAs(s_, As(m.recorded_by, common::v1::ROLE_COPILOT),
                             s_.roadmap(), &RStub::RecordMeasurement, req,
                             "record measurement " + m.key)
                          .measurement();
          } else {
            current.set_verification_state(rpb::VERIFICATION_STATE_UNVERIFIED);
          }
        } else {
          current = *have;
          auto diff = Diff(m.measurement, *have, {"value", "source"});
          if (!diff.empty()) {
            Warn("measurement " + m.key + " differs on the server (" +
                 absl::StrJoin(diff, ", ") +
                 "); measurements are immutable: record another period");
          } else if (current.verification_state() == m.verification) {
            ++summary_.unchanged;
          }
        }
        if (current.verification_state() != m.verification) {
          if (current.verification_state() !=
                  rpb::VERIFICATION_STATE_UNVERIFIED ||
              m.verification == rpb::VERIFICATION_STATE_UNVERIFIED) {
            Warn("measurement " + m.key + " is already " +
                 ShortEnumName(
                     rpb::VerificationState_descriptor()->FindValueByNumber(
                         current.verification_state())));
          } else {
            if (have != nullptr)
              Updated("measurement", m.key, {"verification"});
            // The server names the verifier: the other co-pilot of whoever
            // recorded it, who may not be the file's (recorded by hand).
            if (const std::string* key =
                    OrgKeyOf(current.verifier_organization_id())) {
              verifier = *key;
            }
            if (!o_.dry_run) {
              rpb::VerifyMeasurementRequest req;
              req.set_id(current.id());
              req.set_approve(m.verification ==
                              rpb::VERIFICATION_STATE_VERIFIED);
              req.set_note(m.verification_note);
              CallAs(s_, As(verifier, common::v1::ROLE_COPILOT), s_.roadmap(),
                     &RStub::VerifyMeasurement, req,
                     "verify measurement " + m.key);
            }
          }
        }
        progress_.Tick("measurement " + m.key);
      }
    }
  }

  rpb::Action Desired(const ActionEntry& e) {
    rpb::Action a = e.action;
    a.set_roadmap_id(roadmap_id_);
    a.set_ecosystem_id(EcoId(e.ecosystem));
    a.set_lead_organization_id(org_.at(e.lead));
    a.set_partner_organization_id(org_.at(e.partner));
    a.clear_tags();
    if (e.action.tags_size() < kMaxActionTags)
      a.add_tags(kKeyTagPrefix + e.key);
    for (const auto& t : e.action.tags()) a.add_tags(t);
    for (const auto& c : e.contributions) {
      auto* x = a.add_contributions();
      x->set_indicator_id(ind_.at(c.indicator));
      x->set_value(c.value);
    }
    return a;
  }

  void Actions() {
    std::map<std::string, rpb::Action> by_key;
    // Actions made outside an import carry no key tag: matched by title
    // (as exported), once each, and tagged by the update below.
    std::multimap<std::string, rpb::Action> untagged;
    if (!IsNew(roadmap_id_)) {
      rpb::ListActionsRequest req;
      req.set_roadmap_id(roadmap_id_);
      for (auto& a : ListAll<rpb::Action>(
               s_, s_.roadmap(), &RStub::ListActions, req,
               [](const auto& r) -> const auto& { return r.actions(); },
               "list actions")) {
        bool tagged = false;
        for (const auto& t : a.tags()) {
          if (t.rfind(kKeyTagPrefix, 0) == 0) {
            by_key[t.substr(sizeof(kKeyTagPrefix) - 1)] = a;
            tagged = true;
          }
        }
        if (!tagged) untagged.emplace(a.title(), a);
      }
    }
    for (const ActionEntry& e : f_.actions) {
      if (e.action.tags_size() >= kMaxActionTags) {
        Warn("action " + e.key + " has " + std::to_string(kMaxActionTags) +
             " tags, the most an action can have: it gets no key tag, and a "
             "later import finds it by its title");
      }
      if (by_key.count(e.key)) continue;
      // Same title, same ecosystem, and not closed unless the file has it
      // in the same state: never another action that happens to share a
      // title.
      const std::string eco = EcoId(e.ecosystem);
      std::vector<std::multimap<std::string, rpb::Action>::iterator> fits;
      auto [first, last] = untagged.equal_range(e.action.title());
      for (auto it = first; it != last; ++it) {
        const rpb::Action& a = it->second;
        const bool closed = a.status() == rpb::ACTION_STATUS_DONE ||
                            a.status() == rpb::ACTION_STATUS_CANCELLED;
        if (a.ecosystem_id() == eco &&
            (!closed || a.status() == e.action.status())) {
          fits.push_back(it);
        }
      }
      if (fits.empty()) continue;
      if (fits.size() > 1) {
        Warn("action " + e.key + ": several untagged actions are titled \"" +
             e.action.title() + "\"; the first one is taken");
      }
      by_key[e.key] = fits.front()->second;
      untagged.erase(fits.front());
    }
    // First pass: create or update without dependencies (they may point to
    // actions created later), then set dependencies and move statuses.
    // Creates are independent of each other: they run concurrently.
    std::map<std::string, rpb::Action> current;
    std::vector<std::pair<std::string, rpb::CreateActionRequest>> creates;
    for (const ActionEntry& e : f_.actions) {
      rpb::Action want = Desired(e);
      auto it = by_key.find(e.key);
      if (it == by_key.end()) {
        Created("action", e.key);
        if (o_.dry_run) {
          want.set_id(kNew);
          want.set_status(rpb::ACTION_STATUS_PROPOSED);
          current[e.key] = want;
        } else {
          rpb::CreateActionRequest req;
          req.set_request_id(Rid("action", e.key));
          *req.mutable_action() = want;
          req.mutable_action()->clear_depends_on_action_ids();
          creates.emplace_back(e.key, std::move(req));
        }
        created_actions_.insert(e.key);
      } else {
        current[e.key] = it->second;
      }
    }
    std::vector<rpb::Action> made(creates.size());
    ParallelFor(creates.size(), kImportConcurrency, [&](size_t i) {
      made[i] = Call(s_, s_.roadmap(), &RStub::CreateAction, creates[i].second,
                     "create action " + creates[i].first)
                    .action();
    });
    for (size_t i = 0; i < creates.size(); ++i) {
      current[creates[i].first] = std::move(made[i]);
    }
    for (const ActionEntry& e : f_.actions) act_[e.key] = current[e.key].id();
    for (const ActionEntry& e : f_.actions) {
      rpb::Action want = Desired(e);
      for (const auto& d : e.depends_on)
        want.add_depends_on_action_ids(act_.at(d));
      rpb::Action& have = current[e.key];
      rpb::Action normal = have;
      for (auto& m : *normal.mutable_milestones()) m.clear_late();
      std::vector<std::string> fields = {"title",
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
                                         "tags"};
      if (!o_.dry_run || !created_actions_.count(e.key)) {
        fields.push_back("depends_on_action_ids");
      }
      auto diff = created_actions_.count(e.key) && o_.dry_run
                      ? std::vector<std::string>()
                      : Diff(want, normal, fields);
      if (!diff.empty() &&
          (have.status() == rpb::ACTION_STATUS_DONE ||
           have.status() == rpb::ACTION_STATUS_CANCELLED ||
           have.status() == rpb::ACTION_STATUS_COMPLETION_REQUESTED)) {
        // Read-only on the server (a pending completion until the
        // counterpart decides): say so, and go on with the rest. (The
        // import's own key tag is no change of the user's: an untagged
        // closed action simply stays matched by its title.)
        auto user_tags = [](const rpb::Action& a) {
          std::vector<std::string> tags;
          for (const auto& t : a.tags()) {
            if (t.rfind(kKeyTagPrefix, 0) != 0) tags.push_back(t);
          }
          return tags;
        };
        if (user_tags(want) == user_tags(have)) {
          diff.erase(std::remove(diff.begin(), diff.end(), "tags"), diff.end());
        }
        if (!diff.empty()) {
          Warn("action " + e.key + " is " + StatusName(have.status()) + ": " +
               absl::StrJoin(diff, ", ") + " cannot change on the server");
        }
        diff.clear();
      }
      if (!diff.empty()) {
        bool only_deps =
            diff == std::vector<std::string>{"depends_on_action_ids"} &&
            created_actions_.count(e.key);
        if (!only_deps) Updated("action", e.key, diff);
        if (!o_.dry_run) {
          rpb::UpdateActionRequest req;
          *req.mutable_action() = want;
          req.mutable_action()->set_id(have.id());
          req.mutable_action()->set_etag(have.etag());
          for (const auto& d : diff) req.mutable_update_mask()->add_paths(d);
          have = Call(s_, s_.roadmap(), &RStub::UpdateAction, req,
                      "update action " + e.key)
                     .action();
        }
      }
      // Status.
      rpb::ActionStatus target = e.action.status();
      if (have.status() != target) {
        auto path = PathTo(have.status(), target);
        if (path.empty()) {
          Warn("action " + e.key + " cannot move from " +
               StatusName(have.status()) + " to " + StatusName(target));
        } else {
          std::vector<std::string> names = {StatusName(have.status())};
          for (auto p : path) names.push_back(StatusName(p));
          if (!created_actions_.count(e.key)) ++summary_.updated;
          Line() << (o_.dry_run ? "would move " : "moved ") << "action "
                 << e.key << " " << absl::StrJoin(names, " -> ") << "\n";
          if (!o_.dry_run) Transition(e, &have, path);
        }
      } else if (diff.empty() && !created_actions_.count(e.key)) {
        ++summary_.unchanged;
      }
      progress_.Tick("action " + e.key);
    }
  }

  void Transition(const ActionEntry& e, rpb::Action* action,
                  const std::vector<rpb::ActionStatus>& path) {
    const std::string requester =
        e.completion_requested_by.empty() ? e.lead : e.completion_requested_by;
    for (auto step : path) {
      // Whoever did not request completion decides on it: as the server
      // has it when it is already requested (by hand, perhaps by the other
      // party than the file says), else as the file says.
      std::string counterpart = requester == e.lead ? e.partner : e.lead;
      if (action->status() == rpb::ACTION_STATUS_COMPLETION_REQUESTED) {
        const std::string& by =
            action->completion_requested_by_organization_id();
        if (by == org_.at(e.lead)) counterpart = e.partner;
        if (by == org_.at(e.partner)) counterpart = e.lead;
      }
      rpb::TransitionActionRequest req;
      req.set_id(action->id());
      req.set_target_status(step);
      if (step == e.action.status()) req.set_reason(e.action.status_reason());
      std::string token;  // the admin's
      if (step == rpb::ACTION_STATUS_COMPLETION_REQUESTED) {
        token = As(requester, common::v1::ROLE_COPILOT);
      } else if (step == rpb::ACTION_STATUS_DONE) {
        token = As(counterpart, common::v1::ROLE_COPILOT);
      }
      *action = CallAs(s_, token, s_.roadmap(), &RStub::TransitionAction, req,
                       "move action " + e.key + " to " + StatusName(step))
                    .action();
    }
  }

  void Consultations() {
    std::vector<fpb::Consultation> existing;
    if (!IsNew(roadmap_id_)) {
      fpb::ListConsultationsRequest req;
      req.set_roadmap_id(roadmap_id_);
      existing = ListAll<fpb::Consultation>(
          s_, s_.feedback(), &FStub::ListConsultations, req,
          [](const auto& r) -> const auto& { return r.consultations(); },
          "list consultations");
    }
    for (const ConsultationEntry& e : f_.consultations) {
      fpb::Consultation want = e.consultation;
      want.set_roadmap_id(roadmap_id_);
      for (const auto& k : e.ecosystems) want.add_ecosystem_ids(eco_.at(k));
      const fpb::Consultation* found = nullptr;
      for (const auto& x : existing) {
        if (x.title() == want.title()) found = &x;
      }
      static const std::vector<std::string> kFields = {
          "title",         "description", "place",     "date",
          "ecosystem_ids", "open_time",   "close_time"};
      fpb::Consultation made;
      CreateUnmatched(&found, &made, want, s_.feedback(),
                      &FStub::CreateConsultation,
                      &fpb::CreateConsultationRequest::mutable_consultation,
                      &fpb::CreateConsultationResponse::consultation,
                      "consultation", "consultation", e.key, kFields);
      if (found == nullptr) {
        Created("consultation", e.key);
        if (o_.dry_run) {
          want.set_id(kNew);
          cons_[e.key] = want;
        } else {
          cons_[e.key] = made;
        }
      } else {
        cons_[e.key] = *found;
        auto diff = Diff(want, *found, kFields);
        if (diff.empty()) {
          ++summary_.unchanged;
        } else {
          Updated("consultation", e.key, diff);
          if (!o_.dry_run) {
            fpb::UpdateConsultationRequest req;
            *req.mutable_consultation() = want;
            req.mutable_consultation()->set_id(found->id());
            req.mutable_consultation()->set_etag(found->etag());
            for (const auto& d : diff) req.mutable_update_mask()->add_paths(d);
            cons_[e.key] = Call(s_, s_.feedback(), &FStub::UpdateConsultation,
                                req, "update consultation " + e.key)
                               .consultation();
          }
        }
      }
      progress_.Tick("consultation " + e.key);
    }
  }

  // Feedback can only be attached to an open consultation; for history
  // (a meeting that is over), the window is opened for the import and put
  // back afterwards (RestoreConsultations).
  void OpenForImport(const std::string& key) {
    // Held across the call, so that Interrupt restores every window opened.
    std::lock_guard<std::mutex> lock(windows_mu_);
    if (interrupted_)
      throw CliError(kExitOther, "error: the import was stopped");
    fpb::Consultation& c = cons_.at(key);
    if (reopened_.count(key)) return;
    auto now = google::protobuf::util::TimeUtil::GetCurrentTime();
    if (c.status() == fpb::CONSULTATION_STATUS_OPEN &&
        google::protobuf::util::TimeUtil::DurationToSeconds(c.close_time() -
                                                            now) > 600) {
      return;
    }
    reopened_[key] = c;
    fpb::UpdateConsultationRequest req;
    *req.mutable_consultation() = c;
    *req.mutable_consultation()->mutable_open_time() =
        now - google::protobuf::util::TimeUtil::SecondsToDuration(60);
    *req.mutable_consultation()->mutable_close_time() =
        now + google::protobuf::util::TimeUtil::SecondsToDuration(3600);
    req.mutable_update_mask()->add_paths("open_time");
    req.mutable_update_mask()->add_paths("close_time");
    c = Call(s_, s_.feedback(), &FStub::UpdateConsultation, req,
             "open consultation " + key + " for the import")
            .consultation();
  }

  // Puts a consultation's window back as `original` had it; `etag` empty:
  // whatever the consultation became since.
  static fpb::UpdateConsultationRequest RestoreRequest(
      const fpb::Consultation& original, const std::string& etag) {
    fpb::UpdateConsultationRequest req;
    *req.mutable_consultation() = original;
    req.mutable_consultation()->set_etag(etag);
    req.mutable_update_mask()->add_paths("open_time");
    req.mutable_update_mask()->add_paths("close_time");
    return req;
  }

  void RestoreConsultations() {
    std::lock_guard<std::mutex> lock(windows_mu_);
    for (auto it = reopened_.begin(); it != reopened_.end();) {
      const auto& [key, original] = *it;
      Call(s_, s_.feedback(), &FStub::UpdateConsultation,
           RestoreRequest(original, cons_.at(key).etag()),
           "restore consultation " + key);
      it = reopened_.erase(it);
    }
  }

  void Feedback() {
    std::vector<fpb::FeedbackItem> existing;
    if (!IsNew(roadmap_id_)) {
      fpb::ListFeedbackRequest req;
      req.set_roadmap_id(roadmap_id_);
      req.set_include_hidden(true);
      existing = ListAll<fpb::FeedbackItem>(
          s_, s_.feedback(), &FStub::ListFeedback, req,
          [](const auto& r) -> const auto& { return r.items(); },
          "list feedback");
    }
    for (const FeedbackEntry& e : f_.feedback) {
      fpb::FeedbackItem want = e.item;
      want.set_roadmap_id(roadmap_id_);
      want.set_ecosystem_id(EcoId(e.ecosystem));
      const std::string author = org_.at(e.author);
      const fpb::FeedbackItem* found = nullptr;
      for (const auto& x : existing) {
        if (x.title() == want.title() && x.author_organization_id() == author) {
          found = &x;
        }
      }
      fpb::FeedbackItem have;
      if (found == nullptr) {
        Created("feedback", e.key);
        if (o_.dry_run) {
          have.set_status(fpb::FEEDBACK_STATUS_SUBMITTED);
        } else {
          fpb::SubmitFeedbackRequest req;
          req.set_request_id(Rid("feedback", e.key));
          *req.mutable_item() = want;
          req.mutable_item()->clear_status();
          req.mutable_item()->clear_public_answer();
          req.mutable_item()->clear_hidden();
          req.mutable_item()->clear_moderation_reason();
          if (!e.consultation.empty()) {
            OpenForImport(e.consultation);
            req.mutable_item()->set_consultation_id(
                cons_.at(e.consultation).id());
          }
          have = CallAs(s_, As(e.author, AuthorRole(e.author)), s_.feedback(),
                        &FStub::SubmitFeedback, req, "submit feedback " + e.key)
                     .item();
        }
      } else {
        have = *found;
        auto diff = Diff(want, have,
                         {"title", "body", "ecosystem_id", "visibility",
                          "severity", "attachments", "contact"});
        if (!diff.empty()) {
          Updated("feedback", e.key, diff);
          if (!o_.dry_run) {
            fpb::UpdateFeedbackRequest req;
            *req.mutable_item() = want;
            req.mutable_item()->set_id(have.id());
            req.mutable_item()->set_etag(have.etag());
            for (const auto& d : diff) req.mutable_update_mask()->add_paths(d);
            have = Call(s_, s_.feedback(), &FStub::UpdateFeedback, req,
                        "update feedback " + e.key)
                       .item();
          }
        } else {
          ++summary_.unchanged;
        }
      }
      Triage(e, &have, found == nullptr);
      progress_.Tick("feedback " + e.key);
    }
  }

  void Triage(const FeedbackEntry& e, fpb::FeedbackItem* have, bool created) {
    auto note = [&](const std::string& what) {
      if (!created) ++summary_.updated;
      Line() << (o_.dry_run ? "would " : "") << what << " feedback " << e.key
             << "\n";
    };
    auto target = e.item.status();
    std::set<std::string> linked(have->linked_action_ids().begin(),
                                 have->linked_action_ids().end());
    std::vector<std::string> to_link;
    for (const auto& k : e.linked_actions) {
      if (!linked.count(act_.at(k))) to_link.push_back(act_.at(k));
    }
    bool wants_ack = target == fpb::FEEDBACK_STATUS_ACKNOWLEDGED ||
                     target == fpb::FEEDBACK_STATUS_LINKED ||
                     target == fpb::FEEDBACK_STATUS_ADDRESSED ||
                     !to_link.empty();
    if (have->status() == fpb::FEEDBACK_STATUS_SUBMITTED && wants_ack) {
      note("acknowledge");
      if (!o_.dry_run) {
        fpb::AcknowledgeFeedbackRequest req;
        req.set_id(have->id());
        *have = Call(s_, s_.feedback(), &FStub::AcknowledgeFeedback, req,
                     "acknowledge feedback " + e.key)
                    .item();
      } else {
        have->set_status(fpb::FEEDBACK_STATUS_ACKNOWLEDGED);
      }
    }
    if (!to_link.empty() &&
        (have->status() == fpb::FEEDBACK_STATUS_ACKNOWLEDGED ||
         have->status() == fpb::FEEDBACK_STATUS_LINKED)) {
      note("link");
      if (!o_.dry_run) {
        fpb::LinkFeedbackRequest req;
        req.set_id(have->id());
        for (const auto& a : to_link) req.add_action_ids(a);
        *have = Call(s_, s_.feedback(), &FStub::LinkFeedback, req,
                     "link feedback " + e.key)
                    .item();
      }
    }
    if (target == fpb::FEEDBACK_STATUS_DECLINED &&
        have->status() != fpb::FEEDBACK_STATUS_DECLINED &&
        have->status() != fpb::FEEDBACK_STATUS_ADDRESSED) {
      note("decline");
      if (!o_.dry_run) {
        fpb::DeclineFeedbackRequest req;
        req.set_id(have->id());
        req.set_public_answer(e.item.public_answer());
        *have = Call(s_, s_.feedback(), &FStub::DeclineFeedback, req,
                     "decline feedback " + e.key)
                    .item();
      }
    }
    // What the lifecycle forbids (going back, declining what is addressed)
    // is said, not skipped in silence. An item linked in the file may be
    // ADDRESSED already, and one ADDRESSED in the file waits for its
    // actions: the loop closes by itself.
    const auto now = have->status();
    const bool settled = target == fpb::FEEDBACK_STATUS_UNSPECIFIED ||
                         now == target ||
                         (target == fpb::FEEDBACK_STATUS_LINKED &&
                          now == fpb::FEEDBACK_STATUS_ADDRESSED) ||
                         (target == fpb::FEEDBACK_STATUS_ADDRESSED &&
                          now == fpb::FEEDBACK_STATUS_LINKED);
    if (!settled && !o_.dry_run) {
      auto name = [](fpb::FeedbackStatus st) {
        return ShortEnumName(
            fpb::FeedbackStatus_descriptor()->FindValueByNumber(st));
      };
      Warn("feedback " + e.key + " is " + name(now) + ": it cannot move to " +
           name(target) + " on the server");
    }
    if (e.item.hidden() != have->hidden()) {
      note(e.item.hidden() ? "hide" : "restore");
      if (!o_.dry_run) {
        fpb::ModerateFeedbackRequest req;
        req.set_id(have->id());
        req.set_hide(e.item.hidden());
        req.set_reason(e.item.hidden() ? e.item.moderation_reason()
                                       : std::string("restored by import"));
        *have = Call(s_, s_.feedback(), &FStub::ModerateFeedback, req,
                     "moderate feedback " + e.key)
                    .item();
      }
    }
    if (have->endorsement_count() <
        static_cast<int64_t>(e.endorsed_by.size())) {
      note("endorse");
      if (!o_.dry_run) {
        for (const auto& org : e.endorsed_by) {
          fpb::EndorseFeedbackRequest req;
          req.set_feedback_id(have->id());
          fpb::EndorseFeedbackResponse resp;
          auto ctx = s_.CtxAs(As(org, common::v1::ROLE_MEMBER));
          grpc::Status st =
              s_.feedback().EndorseFeedback(ctx.get(), req, &resp);
          // Already endorsed by this organisation: nothing to do.
          if (!st.ok() && st.error_code() != grpc::StatusCode::ALREADY_EXISTS &&
              st.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
            CheckRpc(st, "endorse feedback " + e.key);
          }
        }
      }
    }
  }

  Session& s_;
  const ImportFile& f_;
  const ImportOptions& o_;
  std::ostream& out_;
  Actors actors_;
  Progress progress_;
  ImportSummary summary_;
  std::string roadmap_id_;
  std::map<std::string, std::string> org_, eco_, ind_, act_;
  std::map<std::string, rpb::OrganizationKind> org_kind_;
  std::map<std::string, fpb::Consultation> cons_;
  std::map<std::string, fpb::Consultation> reopened_;  // by windows_mu_
  std::mutex windows_mu_;
  bool interrupted_ = false;  // by windows_mu_
  std::set<std::string> created_actions_;
};

// ------------------------------------------------------------------ export

// "Travail des métaux" -> "travail-des-metaux".
std::string Slug(const std::string& text) {
  static const std::map<std::string, char> kFold = {
      {"à", 'a'}, {"â", 'a'}, {"ä", 'a'}, {"á", 'a'}, {"ç", 'c'}, {"é", 'e'},
      {"è", 'e'}, {"ê", 'e'}, {"ë", 'e'}, {"î", 'i'}, {"ï", 'i'}, {"í", 'i'},
      {"ô", 'o'}, {"ö", 'o'}, {"ó", 'o'}, {"ù", 'u'}, {"û", 'u'}, {"ü", 'u'},
      {"ú", 'u'}, {"É", 'e'}, {"È", 'e'}, {"À", 'a'}, {"Ç", 'c'}};
  std::string out;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = text[i];
    char add = 0;
    size_t len = 1;
    if (c < 0x80) {
      add = std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '-';
    } else {
      len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      auto it = kFold.find(text.substr(i, len));
      add = it == kFold.end() ? '-' : it->second;
    }
    if (add == '-' && (out.empty() || out.back() == '-')) add = 0;
    if (add != 0) out.push_back(add);
    i += len;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 36) out.resize(36);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "x" : out;
}

class KeyMaker {
 public:
  std::string Make(const std::string& text) {
    std::string base = Slug(text), key = base;
    for (int n = 2; used_.count(key); ++n) key = base + "-" + std::to_string(n);
    used_.insert(key);
    return key;
  }
  void Reserve(const std::string& key) { used_.insert(key); }

 private:
  std::set<std::string> used_;
};

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

void Put(YAML::Emitter& y, const char* key, const std::string& value) {
  if (!value.empty()) y << YAML::Key << key << YAML::Value << value;
}
void PutDate(YAML::Emitter& y, const char* key, const common::v1::Date& d) {
  if (!IsUnset(d)) y << YAML::Key << key << YAML::Value << FormatDate(d);
}
template <typename E>
void PutEnum(YAML::Emitter& y, const char* key,
             const google::protobuf::EnumDescriptor* t, E value) {
  if (value != 0) {
    std::string s = ShortEnumName(t->FindValueByNumber(value));
    for (char& c : s) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
    y << YAML::Key << key << YAML::Value << s;
  }
}
void PutList(YAML::Emitter& y, const char* key,
             const std::vector<std::string>& v) {
  if (v.empty()) return;
  y << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& x : v) y << x;
  y << YAML::EndSeq;
}

}  // namespace

ImportSummary RunImport(Session& session, const ImportFile& file,
                        const ImportOptions& options, std::ostream& out) {
  Importer importer(session, file, options, out);
  InterruptGuard on_ctrl_c([&importer] { importer.Interrupt(); });
  return importer.Run();
}

std::string RunExport(Session& s, const std::string& roadmap_id) {
  rpb::GetRoadmapRequest greq;
  greq.set_id(roadmap_id);
  rpb::Roadmap roadmap =
      Call(s, s.roadmap(), &RStub::GetRoadmap, greq, "get roadmap").roadmap();
  auto orgs = ListAll<rpb::Organization>(
      s, s.roadmap(), &RStub::ListOrganizations,
      rpb::ListOrganizationsRequest(),
      [](const auto& r) -> const auto& { return r.organizations(); },
      "list organisations");
  rpb::ListEcosystemsRequest ereq;
  ereq.set_roadmap_id(roadmap_id);
  auto ecos = ListAll<rpb::Ecosystem>(
      s, s.roadmap(), &RStub::ListEcosystems, ereq,
      [](const auto& r) -> const auto& { return r.ecosystems(); },
      "list ecosystems");
  rpb::ListIndicatorsRequest ireq;
  ireq.set_roadmap_id(roadmap_id);
  auto inds = ListAll<rpb::Indicator>(
      s, s.roadmap(), &RStub::ListIndicators, ireq,
      [](const auto& r) -> const auto& { return r.indicators(); },
      "list indicators");
  std::map<std::string, std::vector<rpb::Measurement>> measurements;
  for (const auto& i : inds) {
    rpb::ListMeasurementsRequest mreq;
    mreq.set_indicator_id(i.id());
    measurements[i.id()] = ListAll<rpb::Measurement>(
        s, s.roadmap(), &RStub::ListMeasurements, mreq,
        [](const auto& r) -> const auto& { return r.measurements(); },
        "list measurements");
  }
  rpb::ListActionsRequest areq;
  areq.set_roadmap_id(roadmap_id);
  auto actions = ListAll<rpb::Action>(
      s, s.roadmap(), &RStub::ListActions, areq,
      [](const auto& r) -> const auto& { return r.actions(); }, "list actions");
  fpb::ListConsultationsRequest creq;
  creq.set_roadmap_id(roadmap_id);
  auto cons = ListAll<fpb::Consultation>(
      s, s.feedback(), &FStub::ListConsultations, creq,
      [](const auto& r) -> const auto& { return r.consultations(); },
      "list consultations");
  fpb::ListFeedbackRequest freq;
  freq.set_roadmap_id(roadmap_id);
  freq.set_include_hidden(true);
  auto items = ListAll<fpb::FeedbackItem>(
      s, s.feedback(), &FStub::ListFeedback, freq,
      [](const auto& r) -> const auto& { return r.items(); }, "list feedback");

  // Organisations the roadmap refers to, in directory order.
  std::set<std::string> used(roadmap.copilot_organization_ids().begin(),
                             roadmap.copilot_organization_ids().end());
  for (const auto& a : actions) {
    used.insert(a.lead_organization_id());
    used.insert(a.partner_organization_id());
  }
  for (const auto& f : items) used.insert(f.author_organization_id());
  for (const auto& [id, ms] : measurements) {
    for (const auto& m : ms)
      used.insert(m.audit().created_by().organization_id());
  }
  std::map<std::string, std::string> org_key, eco_key, ind_key, act_key,
      cons_key;
  KeyMaker org_keys, eco_keys, ind_keys, act_keys, cons_keys, fb_keys,
      meas_keys;
  for (const auto& o : orgs) {
    if (used.count(o.id())) org_key[o.id()] = org_keys.Make(o.name());
  }
  for (const auto& e : ecos) eco_key[e.id()] = eco_keys.Make(e.name());
  for (const auto& i : inds) ind_key[i.id()] = ind_keys.Make(i.name());
  for (const auto& a : actions) {
    for (const auto& t : a.tags()) {
      if (t.rfind(kKeyTagPrefix, 0) == 0) {
        act_key[a.id()] = t.substr(sizeof(kKeyTagPrefix) - 1);
        act_keys.Reserve(act_key[a.id()]);
      }
    }
  }
  for (const auto& a : actions) {
    if (!act_key.count(a.id())) act_key[a.id()] = act_keys.Make(a.title());
  }
  for (const auto& c : cons) cons_key[c.id()] = cons_keys.Make(c.title());
  auto key_of = [](const std::map<std::string, std::string>& m,
                   const std::string& id) {
    auto it = m.find(id);
    return it == m.end() ? id : it->second;
  };

  YAML::Emitter y;
  y << YAML::BeginMap;
  y << YAML::Key << "version" << YAML::Value << 1;
  y << YAML::Key << "organizations" << YAML::Value << YAML::BeginSeq;
  for (const auto& o : orgs) {
    if (!used.count(o.id())) continue;
    y << YAML::BeginMap;
    Put(y, "key", org_key[o.id()]);
    Put(y, "name", o.name());
    PutEnum(y, "kind", rpb::OrganizationKind_descriptor(), o.kind());
    Put(y, "description", o.description());
    Put(y, "contact_email", o.contact_email());
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;
  y << YAML::Key << "roadmap" << YAML::Value << YAML::BeginMap;
  Put(y, "key", Slug(roadmap.title()));
  Put(y, "title", roadmap.title());
  Put(y, "description", roadmap.description());
  PutDate(y, "start_date", roadmap.start_date());
  PutDate(y, "horizon_date", roadmap.horizon_date());
  PutEnum(y, "status", rpb::RoadmapStatus_descriptor(), roadmap.status());
  std::vector<std::string> copilots;
  for (const auto& c : roadmap.copilot_organization_ids())
    copilots.push_back(key_of(org_key, c));
  PutList(y, "copilots", copilots);
  y << YAML::EndMap;

  y << YAML::Key << "ecosystems" << YAML::Value << YAML::BeginSeq;
  for (const auto& e : ecos) {
    y << YAML::BeginMap;
    Put(y, "key", eco_key[e.id()]);
    Put(y, "name", e.name());
    Put(y, "description", e.description());
    PutDate(y, "creation_date", e.creation_date());
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;

  y << YAML::Key << "indicators" << YAML::Value << YAML::BeginSeq;
  for (const auto& i : inds) {
    y << YAML::BeginMap;
    Put(y, "key", ind_key[i.id()]);
    if (!i.ecosystem_id().empty())
      Put(y, "ecosystem", key_of(eco_key, i.ecosystem_id()));
    Put(y, "name", i.name());
    Put(y, "description", i.description());
    PutEnum(y, "unit", rpb::IndicatorUnit_descriptor(), i.unit());
    PutEnum(y, "direction", rpb::IndicatorDirection_descriptor(),
            i.direction());
    y << YAML::Key << "baseline_value" << YAML::Value
      << Num(i.baseline_value());
    PutDate(y, "baseline_date", i.baseline_date());
    y << YAML::Key << "target_value" << YAML::Value << Num(i.target_value());
    PutDate(y, "target_date", i.target_date());
    if (i.trajectory_size() > 0) {
      y << YAML::Key << "trajectory" << YAML::Value << YAML::BeginSeq;
      for (const auto& p : i.trajectory()) {
        y << YAML::Flow << YAML::BeginMap;
        PutDate(y, "date", p.date());
        y << YAML::Key << "value" << YAML::Value << Num(p.value());
        y << YAML::EndMap;
      }
      y << YAML::EndSeq;
    }
    if (!measurements[i.id()].empty()) {
      y << YAML::Key << "measurements" << YAML::Value << YAML::BeginSeq;
      for (const auto& m : measurements[i.id()]) {
        y << YAML::BeginMap;
        Put(y, "key",
            meas_keys.Make(ind_key[i.id()] + "-" + FormatDate(m.period_end())));
        y << YAML::Key << "value" << YAML::Value << Num(m.value());
        PutDate(y, "period_start", m.period_start());
        PutDate(y, "period_end", m.period_end());
        Put(y, "source", m.source());
        Put(y, "recorded_by",
            key_of(org_key, m.audit().created_by().organization_id()));
        PutEnum(y, "verification", rpb::VerificationState_descriptor(),
                m.verification_state());
        Put(y, "verification_note", m.verification_note());
        y << YAML::EndMap;
      }
      y << YAML::EndSeq;
    }
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;

  y << YAML::Key << "actions" << YAML::Value << YAML::BeginSeq;
  // In key order: creation order is not the file's (an import creates
  // actions concurrently), so export -> import -> export stays the same.
  std::vector<const rpb::Action*> by_key;
  for (const auto& a : actions) by_key.push_back(&a);
  std::stable_sort(by_key.begin(), by_key.end(),
                   [&act_key](const rpb::Action* x, const rpb::Action* y) {
                     return act_key[x->id()] < act_key[y->id()];
                   });
  for (const rpb::Action* action : by_key) {
    const rpb::Action& a = *action;
    y << YAML::BeginMap;
    Put(y, "key", act_key[a.id()]);
    if (!a.ecosystem_id().empty())
      Put(y, "ecosystem", key_of(eco_key, a.ecosystem_id()));
    Put(y, "title", a.title());
    Put(y, "description", a.description());
    Put(y, "lead", key_of(org_key, a.lead_organization_id()));
    Put(y, "partner", key_of(org_key, a.partner_organization_id()));
    Put(y, "owner", a.owner());
    PutEnum(y, "priority", rpb::ActionPriority_descriptor(), a.priority());
    PutDate(y, "start_date", a.start_date());
    PutDate(y, "due_date", a.due_date());
    if (a.has_progress_override()) {
      y << YAML::Key << "progress_override" << YAML::Value
        << a.progress_override();
    }
    if (a.milestones_size() > 0) {
      y << YAML::Key << "milestones" << YAML::Value << YAML::BeginSeq;
      for (const auto& m : a.milestones()) {
        y << YAML::BeginMap;
        Put(y, "key", m.id());
        Put(y, "title", m.title());
        PutDate(y, "due_date", m.due_date());
        PutDate(y, "done_date", m.done_date());
        y << YAML::EndMap;
      }
      y << YAML::EndSeq;
    }
    if (a.contributions_size() > 0) {
      y << YAML::Key << "contributions" << YAML::Value << YAML::BeginSeq;
      for (const auto& c : a.contributions()) {
        y << YAML::Flow << YAML::BeginMap;
        Put(y, "indicator", key_of(ind_key, c.indicator_id()));
        y << YAML::Key << "value" << YAML::Value << Num(c.value());
        y << YAML::EndMap;
      }
      y << YAML::EndSeq;
    }
    std::vector<std::string> deps, tags;
    for (const auto& d : a.depends_on_action_ids())
      deps.push_back(key_of(act_key, d));
    for (const auto& t : a.tags()) {
      if (t.rfind(kKeyTagPrefix, 0) != 0) tags.push_back(t);
    }
    PutList(y, "depends_on", deps);
    PutList(y, "tags", tags);
    PutEnum(y, "status", rpb::ActionStatus_descriptor(), a.status());
    Put(y, "status_reason", a.status_reason());
    if (!a.completion_requested_by_organization_id().empty() &&
        a.completion_requested_by_organization_id() !=
            a.lead_organization_id()) {
      Put(y, "completion_requested_by",
          key_of(org_key, a.completion_requested_by_organization_id()));
    }
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;

  y << YAML::Key << "consultations" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : cons) {
    y << YAML::BeginMap;
    Put(y, "key", cons_key[c.id()]);
    Put(y, "title", c.title());
    Put(y, "description", c.description());
    Put(y, "place", c.place());
    PutDate(y, "date", c.date());
    std::vector<std::string> e;
    for (const auto& id : c.ecosystem_ids()) e.push_back(key_of(eco_key, id));
    PutList(y, "ecosystems", e);
    Put(y, "open_time", FieldText(c, "open_time"));
    Put(y, "close_time", FieldText(c, "close_time"));
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;

  y << YAML::Key << "feedback" << YAML::Value << YAML::BeginSeq;
  for (const auto& f : items) {
    y << YAML::BeginMap;
    Put(y, "key", fb_keys.Make(f.title()));
    PutEnum(y, "kind", fpb::FeedbackKind_descriptor(), f.kind());
    Put(y, "author", key_of(org_key, f.author_organization_id()));
    Put(y, "title", f.title());
    Put(y, "body", f.body());
    if (!f.ecosystem_id().empty())
      Put(y, "ecosystem", key_of(eco_key, f.ecosystem_id()));
    if (!f.consultation_id().empty()) {
      Put(y, "consultation", key_of(cons_key, f.consultation_id()));
    }
    PutEnum(y, "visibility", fpb::Visibility_descriptor(), f.visibility());
    PutEnum(y, "severity", fpb::Severity_descriptor(), f.severity());
    Put(y, "contact", f.contact());
    if (f.attachments_size() > 0) {
      y << YAML::Key << "attachments" << YAML::Value << YAML::BeginSeq;
      for (const auto& at : f.attachments()) {
        y << YAML::BeginMap;
        Put(y, "title", at.title());
        Put(y, "url", at.url());
        y << YAML::EndMap;
      }
      y << YAML::EndSeq;
    }
    PutEnum(y, "status", fpb::FeedbackStatus_descriptor(), f.status());
    Put(y, "public_answer", f.public_answer());
    std::vector<std::string> linked;
    for (const auto& id : f.linked_action_ids())
      linked.push_back(key_of(act_key, id));
    PutList(y, "linked_actions", linked);
    if (f.hidden()) {
      y << YAML::Key << "hidden" << YAML::Value << true;
      Put(y, "moderation_reason", f.moderation_reason());
    }
    y << YAML::EndMap;
  }
  y << YAML::EndSeq;
  y << YAML::EndMap;
  return "# jalonctl export (import format version 1; see docs/cli.md)\n" +
         std::string(y.c_str()) + "\n";
}

}  // namespace jalon::ctl
