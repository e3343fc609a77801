// reporting_bench: what the reporting service's read models cost on this
// machine (issue 4, "Performance"). In one run, on a private redis-server,
// it writes the roadmap and feedback services' event streams as those
// services would (10,000 actions, 50 indicators x 20 measurements, 100,000
// feedback items and their endorsements by default), then measures:
//   - the baseline: reading every event of both streams raw (XRANGE in
//     batches of 1000, as StreamConsumer::Replay does), with and without
//     parsing the Event envelope;
//   - ReadModel::Rebuild(): events/s, and its time over the raw read;
//   - ReadModel::ApplyEntry() of a sample, one event at a time as the
//     consumer applies them, for context;
//   - ReportingService::GenerateReport() from the read models, and
//     LoadRoadmap + Compute alone, with the report's size.
// See docs/performance.md ("Reporting"). Not a test: it asserts nothing, it
// prints figures (the exit status is 1 only when something failed).
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "jalon/events/v1/events.pb.h"
#include "jalon/feedback/v1/feedback.pb.h"
#include "jalon/reporting/v1/reporting.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "services/common/clock.h"
#include "services/common/config.h"
#include "services/common/dates.h"
#include "services/common/ids.h"
#include "services/common/redis.h"
#include "services/common/rpc.h"
#include "services/common/stream_consumer.h"
#include "services/reporting/read_model.h"
#include "services/reporting/report.h"
#include "services/reporting/service.h"
#include "tests/support/redis_server.h"

#ifndef JALON_BUILD_TYPE
#define JALON_BUILD_TYPE "unknown"
#endif

namespace jalon::bench {
namespace {

namespace rm = ::jalon::roadmap::v1;
namespace fb = ::jalon::feedback::v1;
namespace rp = ::jalon::reporting::v1;
namespace ev = ::jalon::events::v1;
using Steady = std::chrono::steady_clock;
using google::protobuf::Message;

struct BenchConfig {
  int actions = 10000;
  int indicators = 50;
  int measurements = 20;
  int feedback = 100000;
  int endorsements = 30000;
  int ecosystems = 3;
  int repeat = 5;  // raw reads and rebuilds
  int reports = 30;
  int apply_sample = 20000;
  int seed = 1;
};

double Ms(Steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Nearest-rank percentile, p in (0, 1].
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// CPU seconds used so far by this process and by redis-server (INFO cpu).
struct CpuTime {
  double process = 0;
  double redis = 0;
  CpuTime operator-(const CpuTime& o) const {
    return {process - o.process, redis - o.redis};
  }
};

CpuTime TakeCpuTime(RedisClient& redis) {
  CpuTime t;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  t.process = secs(ru.ru_utime) + secs(ru.ru_stime);
  auto r = redis.Command({"INFO", "cpu"});
  if (!r.ok()) return t;
  for (absl::string_view line : absl::StrSplit(r->str(), "\r\n")) {
    double v = 0;
    if ((absl::ConsumePrefix(&line, "used_cpu_sys:") ||
         absl::ConsumePrefix(&line, "used_cpu_user:")) &&
        absl::SimpleAtod(line, &v)) {
      t.redis += v;
    }
  }
  return t;
}

std::string InfoField(RedisClient& redis, const std::string& section,
                      const std::string& field) {
  auto r = redis.Command({"INFO", section});
  if (!r.ok()) return "?";
  for (absl::string_view line : absl::StrSplit(r->str(), "\r\n")) {
    if (absl::ConsumePrefix(&line, field + ":")) return std::string(line);
  }
  return "?";
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

// The allocator: glibc's malloc unless jemalloc was preloaded
// (LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2), which changes
// these figures a lot (see docs/performance.md).
std::string Allocator() {
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("libjemalloc") != std::string::npos) return "jemalloc";
    if (line.find("libtcmalloc") != std::string::npos) return "tcmalloc";
  }
  return "glibc malloc";
}

// --- The source events -------------------------------------------------------

constexpr int64_t kDay = 86400;

int64_t Epoch(int y, int m, int d) {
  return DaysFromCivil(MakeDate(y, m, d)) * kDay;
}

Date DateAt(int64_t secs) {
  return DateOf(
      std::chrono::system_clock::time_point(std::chrono::seconds(secs)));
}

google::protobuf::Timestamp Ts(int64_t secs) {
  google::protobuf::Timestamp t;
  t.set_seconds(secs);
  return t;
}

// One serialized event and when it occurred (streams are written in that
// order, as the services would have appended them).
struct Written {
  int64_t at;
  std::string bytes;
};

const char* const kWords[] = {
    "plateforme",     "collecte",    "cuivre",          "formation",
    "emplois",        "export",      "câblage",         "fournisseurs",
    "qualité",        "zone",        "industrielle",    "foncier",
    "financement",    "incitations", "logistique",      "certification",
    "compétences",    "intégration", "locale",          "marché",
    "investissement", "contrat",     "programme",       "sourcing",
    "délais",         "douane",      "énergie",         "recyclage",
    "textile",        "automobile",  "agroalimentaire", "écosystème",
    "pilotage",       "convention",  "subvention",      "partenariat",
    "accompagnement", "diagnostic",  "étude",           "appel"};

class Generator {
 public:
  Generator(const BenchConfig& c, int64_t now)
      : c_(c), now_(now), rng_(c.seed) {}

  void Run() {
    Organizations();
    Roadmap();
    Indicators();
    Actions();
    Feedback();
    Endorsements();
    auto by_time = [](const Written& a, const Written& b) {
      return a.at < b.at;
    };
    std::stable_sort(roadmap_events.begin(), roadmap_events.end(), by_time);
    std::stable_sort(feedback_events.begin(), feedback_events.end(), by_time);
  }

  std::vector<Written> roadmap_events;
  std::vector<Written> feedback_events;
  std::map<std::string, int64_t> entities;  // by kind
  std::map<std::string, int64_t> events;    // by kind
  std::map<std::string, int64_t> final_action_status;
  std::string roadmap_id;

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  double Unit() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Unit() < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Uniform(0, static_cast<int64_t>(v.size()) - 1)];
  }
  // Index of `weights` drawn in proportion to them.
  int Weighted(std::initializer_list<double> weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = Unit() * total;
    int i = 0;
    for (double w : weights) {
      if (x < w) return i;
      x -= w;
      ++i;
    }
    return i - 1;
  }
  // Words up to about `len` characters.
  std::string Text(const std::string& head, size_t len) {
    std::string s = head;
    while (s.size() < len) {
      if (!s.empty()) s += ' ';
      s += kWords[Uniform(0, std::size(kWords) - 1)];
    }
    return s;
  }
  std::string Etag() { return NewUlid().substr(10); }
  const common::v1::Actor& AnyActor() { return Pick(actors_); }

  void Emit(std::vector<Written>* out, const std::string& type,
            const std::string& kind, const std::string& id, int64_t version,
            int64_t at, const Message& state,
            const std::vector<std::string>& changed) {
    ev::Event e;
    e.set_event_id(NewUlid());
    e.set_type(type);
    e.set_aggregate_kind(kind);
    e.set_aggregate_id(id);
    e.set_aggregate_version(version);
    *e.mutable_occurred_at() = Ts(at);
    *e.mutable_actor() = AnyActor();
    for (const auto& f : changed) e.add_changed_fields(f);
    e.mutable_state()->PackFrom(state);
    e.set_request_id(NewUlid());
    e.set_roadmap_id(roadmap_id);
    out->push_back({at, e.SerializeAsString()});
    ++events[kind];
    if (version == 1) ++entities[kind];
  }

  void Stamp(common::v1::Audit* a, int64_t at, bool create) {
    if (create) {
      *a->mutable_create_time() = Ts(at);
      *a->mutable_created_by() = AnyActor();
    }
    *a->mutable_update_time() = Ts(at);
    *a->mutable_updated_by() = AnyActor();
  }

  void Organizations() {
    for (int i = 0; i < 60; ++i) {
      orgs_.push_back(NewUlid());
      common::v1::Actor a;
      a.set_principal_id(absl::StrCat("u.", i));
      a.set_principal_name(
          absl::StrCat("Utilisateur ", i, " de la fédération"));
      a.set_organization_id(orgs_.back());
      a.set_role(i < 5 ? common::v1::ROLE_COPILOT : common::v1::ROLE_MEMBER);
      actors_.push_back(std::move(a));
    }
  }

  void Roadmap() {
    const int64_t t0 = Epoch(2016, 3, 1);
    rm::Roadmap r;
    roadmap_id = NewUlid();
    r.set_id(roadmap_id);
    r.set_title("Plan d'accélération industrielle 2016-2020");
    r.set_description(Text("Feuille de route", 200));
    *r.mutable_start_date() = MakeDate(2016, 1, 1);
    *r.mutable_horizon_date() = MakeDate(2030, 12, 31);
    r.set_status(rm::ROADMAP_STATUS_ACTIVE);
    r.add_copilot_organization_ids(orgs_[0]);
    r.add_copilot_organization_ids(orgs_[1]);
    r.set_etag(Etag());
    Stamp(r.mutable_audit(), t0, true);
    Emit(&roadmap_events, "roadmap.roadmap.created", "roadmap", r.id(), 1, t0,
         r, {});
    const char* names[] = {"Automobile : câblage et intérieurs",
                           "Textile : fast fashion et denim",
                           "Agroalimentaire : huiles et conserves",
                           "Aéronautique : assemblage", "Chimie : engrais"};
    for (int i = 0; i < c_.ecosystems; ++i) {
      rm::Ecosystem e;
      e.set_id(NewUlid());
      e.set_roadmap_id(roadmap_id);
      e.set_name(i < 5 ? names[i] : absl::StrCat("Écosystème ", i));
      e.set_description(Text("Écosystème", 200));
      *e.mutable_creation_date() = MakeDate(2016, 4, 1);
      e.set_etag(Etag());
      Stamp(e.mutable_audit(), t0 + (i + 1) * 60, true);
      Emit(&roadmap_events, "roadmap.ecosystem.created", "ecosystem", e.id(), 1,
           t0 + (i + 1) * 60, e, {});
      ecosystems_.push_back(e.id());
    }
  }

  void Indicators() {
    const char* names[] = {"Emplois créés",
                           "Chiffre d'affaires additionnel",
                           "Valeur ajoutée additionnelle",
                           "Exportations additionnelles",
                           "Investissements réalisés",
                           "Emplois féminins créés",
                           "Emplois qualifiés créés",
                           "Taux d'intégration locale (valeur)",
                           "Achats locaux",
                           "Emplois en zone industrielle",
                           "Investissements étrangers",
                           "Emplois formés",
                           "Chiffre d'affaires à l'export",
                           "Emplois indirects",
                           "Valeur des contrats fournisseurs",
                           "Emplois jeunes créés",
                           "Dépenses de R&D"};
    const int64_t t0 = Epoch(2016, 6, 1);
    for (int i = 0; i < c_.indicators; ++i) {
      rm::Indicator ind;
      ind.set_id(NewUlid());
      ind.set_roadmap_id(roadmap_id);
      ind.set_ecosystem_id(ecosystems_[i % ecosystems_.size()]);
      const int n = static_cast<int>(i / ecosystems_.size()) % 17;
      ind.set_name(names[n]);
      ind.set_description(Text("Indicateur", 120));
      const bool jobs = absl::StrContains(names[n], "mploi");
      ind.set_unit(jobs ? rm::INDICATOR_UNIT_JOBS : rm::INDICATOR_UNIT_MAD);
      ind.set_direction(rm::INDICATOR_DIRECTION_INCREASE);
      const double target = jobs ? Uniform(2000, 15000) : Uniform(1, 12) * 1e9;
      ind.set_baseline_value(0);
      *ind.mutable_baseline_date() = MakeDate(2016, 12, 31);
      ind.set_target_value(target);
      *ind.mutable_target_date() = MakeDate(2020, 12, 31);
      if (i % 5 == 0) {  // an explicit trajectory, slow at first
        auto* p = ind.add_trajectory();
        *p->mutable_date() = MakeDate(2018, 12, 31);
        p->set_value(0.3 * target);
        p = ind.add_trajectory();
        *p->mutable_date() = MakeDate(2019, 12, 31);
        p->set_value(0.6 * target);
      }
      ind.set_etag(Etag());
      Stamp(ind.mutable_audit(), t0 + i * 60, true);
      Emit(&roadmap_events, "roadmap.indicator.created", "indicator", ind.id(),
           1, t0 + i * 60, ind, {});
      // Quarterly measurements from 2017-Q1, recorded unverified a month
      // after the quarter, most verified a few weeks later.
      const double pace = 0.6 + 0.6 * Unit();  // of the linear trajectory
      for (int q = 0; q < c_.measurements; ++q) {
        const int year = 2017 + q / 4, quarter = q % 4;
        rm::Measurement m;
        m.set_id(NewUlid());
        m.set_indicator_id(ind.id());
        m.set_roadmap_id(roadmap_id);
        const double elapsed = (q + 1) / 16.0;  // 16 quarters to the target
        double v = target * elapsed * pace * (0.9 + 0.2 * Unit());
        m.set_value(jobs ? std::round(v) : std::round(v / 1e6) * 1e6);
        *m.mutable_period_start() = MakeDate(year, 3 * quarter + 1, 1);
        const int end_month = 3 * quarter + 3;
        *m.mutable_period_end() = MakeDate(
            year, end_month, end_month == 6 || end_month == 9 ? 30 : 31);
        m.set_source("Enquête trimestrielle de la fédération");
        m.set_verification_state(rm::VERIFICATION_STATE_UNVERIFIED);
        m.set_etag(Etag());
        const int64_t recorded =
            Epoch(year, end_month, 1) + (30 + Uniform(0, 30)) * kDay;
        Stamp(m.mutable_audit(), recorded, true);
        Emit(&roadmap_events, "roadmap.measurement.recorded", "measurement",
             m.id(), 1, recorded, m, {});
        const int fate = Weighted({85, 5, 10});  // verified, rejected, left
        if (fate == 2) continue;
        const int64_t verified = recorded + Uniform(3, 40) * kDay;
        m.set_verification_state(fate == 0 ? rm::VERIFICATION_STATE_VERIFIED
                                           : rm::VERIFICATION_STATE_REJECTED);
        *m.mutable_verified_by() = actors_[0];
        *m.mutable_verify_time() = Ts(verified);
        m.set_verification_note(fate == 0 ? "Conforme aux déclarations CNSS"
                                          : "Chiffres non étayés");
        m.set_verifier_organization_id(orgs_[0]);
        m.set_etag(Etag());
        Stamp(m.mutable_audit(), verified, false);
        Emit(&roadmap_events, "roadmap.measurement.verified", "measurement",
             m.id(), 2, verified, m,
             {"verification_state", "verified_by", "verify_time"});
      }
    }
  }

  void Actions() {
    const int64_t first_due = Epoch(2017, 1, 1), last_due = Epoch(2030, 12, 31);
    const int64_t earliest = Epoch(2016, 6, 1);
    for (int i = 0; i < c_.actions; ++i) {
      rm::Action a;
      a.set_id(NewUlid());
      a.set_roadmap_id(roadmap_id);
      a.set_ecosystem_id(Pick(ecosystems_));
      a.set_title(Text(absl::StrCat("Action ", i, " :"), 40));
      a.set_description(Text("Objectif :", 200));
      a.set_lead_organization_id(Pick(orgs_));
      a.set_partner_organization_id(Pick(orgs_));
      a.set_owner(absl::StrCat("owner.", Uniform(1, 400)));
      a.set_priority(static_cast<rm::ActionPriority>(Uniform(1, 4)));
      const int64_t due =
          first_due + Uniform(0, (last_due - first_due) / kDay) * kDay;
      const int64_t start = std::max(earliest, due - Uniform(120, 720) * kDay);
      *a.mutable_start_date() = DateAt(start);
      *a.mutable_due_date() = DateAt(due);
      for (int k = 0; k < 2; ++k) {
        auto* ms = a.add_milestones();
        ms->set_id(NewUlid());
        ms->set_title(Text(absl::StrCat("Jalon ", k + 1, " :"), 30));
        *ms->mutable_due_date() = DateAt(start + (due - start) * (k + 1) / 3);
      }
      for (int k = 0, n = Uniform(1, 3); k < n; ++k)
        a.add_tags(kWords[Uniform(0, std::size(kWords) - 1)]);
      a.set_status(rm::ACTION_STATUS_PROPOSED);
      a.set_etag(Etag());
      const int64_t created =
          std::clamp(start - Uniform(0, 60) * kDay, earliest, now_ - 60 * kDay);
      Stamp(a.mutable_audit(), created, true);
      Emit(&roadmap_events, "roadmap.action.created", "action", a.id(), 1,
           created, a, {});

      // Where it ends up: most past-due actions are done; the rest of the
      // past-due ones are late.
      const bool past = due < now_;
      using S = rm::ActionStatus;
      const S finals[] = {
          rm::ACTION_STATUS_DONE,    rm::ACTION_STATUS_CANCELLED,
          rm::ACTION_STATUS_BLOCKED, rm::ACTION_STATUS_IN_PROGRESS,
          rm::ACTION_STATUS_PLANNED, rm::ACTION_STATUS_PROPOSED};
      const S final_status = finals[past ? Weighted({55, 8, 10, 20, 5, 2})
                                         : Weighted({5, 3, 8, 40, 29, 15})];
      std::vector<S> path;
      switch (final_status) {
        case rm::ACTION_STATUS_DONE:
          path = {rm::ACTION_STATUS_PLANNED, rm::ACTION_STATUS_IN_PROGRESS};
          if (Chance(0.5))
            path.push_back(rm::ACTION_STATUS_COMPLETION_REQUESTED);
          path.push_back(rm::ACTION_STATUS_DONE);
          break;
        case rm::ACTION_STATUS_CANCELLED:
          if (Chance(0.5)) path.push_back(rm::ACTION_STATUS_PLANNED);
          path.push_back(rm::ACTION_STATUS_CANCELLED);
          break;
        case rm::ACTION_STATUS_BLOCKED:
          path = {rm::ACTION_STATUS_PLANNED, rm::ACTION_STATUS_IN_PROGRESS,
                  rm::ACTION_STATUS_BLOCKED};
          break;
        case rm::ACTION_STATUS_IN_PROGRESS:
          path = {rm::ACTION_STATUS_PLANNED, rm::ACTION_STATUS_IN_PROGRESS};
          break;
        case rm::ACTION_STATUS_PLANNED:
          path = {rm::ACTION_STATUS_PLANNED};
          break;
        default:
          break;
      }
      ++final_action_status[rm::ActionStatus_Name(final_status)];
      if (path.empty()) continue;
      // The last transition: the completion (on time for about 70%), or
      // some time before today.
      int64_t last;
      if (final_status == rm::ACTION_STATUS_DONE) {
        last = Chance(0.7) ? due - Uniform(0, 90) * kDay
                           : due + Uniform(1, 240) * kDay;
      } else {
        last = created + static_cast<int64_t>(Unit() * (now_ - created));
      }
      last = std::clamp(last, created + 10 * kDay, now_ - kDay);
      for (size_t k = 0; k < path.size(); ++k) {
        const int64_t at = created + (last - created) *
                                         static_cast<int64_t>(k + 1) /
                                         static_cast<int64_t>(path.size());
        a.set_status(path[k]);
        std::vector<std::string> changed = {"status"};
        a.clear_status_reason();
        if (path[k] == rm::ACTION_STATUS_BLOCKED) {
          a.set_status_reason(Text("Bloqué :", 60));
          changed.push_back("status_reason");
        } else if (path[k] == rm::ACTION_STATUS_CANCELLED) {
          a.set_status_reason(Text("Annulée :", 60));
          changed.push_back("status_reason");
        } else if (path[k] == rm::ACTION_STATUS_COMPLETION_REQUESTED) {
          a.set_completion_requested_by_organization_id(
              a.lead_organization_id());
          changed.push_back("completion_requested_by_organization_id");
        } else if (path[k] == rm::ACTION_STATUS_DONE) {
          *a.mutable_done_time() = Ts(at);
          a.set_progress_percent(100);
          changed.push_back("done_time");
        } else if (path[k] == rm::ACTION_STATUS_IN_PROGRESS) {
          a.set_progress_percent(static_cast<int>(Uniform(5, 90)));
        }
        a.set_late(rm::ACTION_STATUS_DONE != path[k] && due < at);
        a.set_etag(Etag());
        Stamp(a.mutable_audit(), at, false);
        Emit(&roadmap_events, "roadmap.action.transitioned", "action", a.id(),
             static_cast<int64_t>(k) + 2, at, a, changed);
      }
      if (final_status == rm::ACTION_STATUS_BLOCKED) blocked_.push_back(a.id());
      if (final_status == rm::ACTION_STATUS_DONE) done_.push_back(a.id());
      all_actions_.push_back(a.id());
    }
    if (blocked_.empty()) blocked_.push_back(Pick(all_actions_));
    if (done_.empty()) done_.push_back(Pick(all_actions_));
  }

  void Feedback() {
    const int64_t first = Epoch(2017, 1, 1);
    for (int i = 0; i < c_.feedback; ++i) {
      fb::FeedbackItem f;
      f.set_id(NewUlid());
      f.set_roadmap_id(roadmap_id);
      f.set_kind(
          static_cast<fb::FeedbackKind>(1 + Weighted({20, 25, 20, 15, 20})));
      f.set_title(Text(absl::StrCat("Retour ", i, " :"), 40));
      f.set_body(Text("Constat :", 200));
      if (Chance(0.9)) f.set_ecosystem_id(Pick(ecosystems_));
      if (Chance(0.3)) f.set_consultation_id(consultation_);
      const auto& author = AnyActor();
      *f.mutable_author() = author;
      f.set_author_organization_id(author.organization_id());
      f.set_visibility(Chance(0.1) ? fb::VISIBILITY_COPILOTS_ONLY
                                   : fb::VISIBILITY_ALL_MEMBERS);
      f.set_severity(static_cast<fb::Severity>(Uniform(1, 4)));
      f.set_status(fb::FEEDBACK_STATUS_SUBMITTED);
      f.set_etag(Etag());
      int64_t t = first + Uniform(0, (now_ - first) / kDay - 2) * kDay +
                  Uniform(0, kDay - 1);
      Stamp(f.mutable_audit(), t, true);
      int64_t version = 1;
      Emit(&feedback_events, "feedback.item.submitted", "feedback", f.id(),
           version, t, f, {});
      const bool blocker = f.kind() == fb::FEEDBACK_KIND_BLOCKER;
      if (blocker) blockers_.push_back(f.id());
      all_items_.push_back(f.id());
      // submitted, acknowledged, linked, addressed, declined
      const int fate = Weighted({35, 25, 20, 10, 10});
      // The next version, between one hour and `max_gap` later.
      auto next = [&](const char* type, std::vector<std::string> changed,
                      int64_t max_gap) {
        t = std::min(now_ - 1, t + Uniform(3600, max_gap));
        f.set_etag(Etag());
        Stamp(f.mutable_audit(), t, false);
        Emit(&feedback_events, type, "feedback", f.id(), ++version, t, f,
             changed);
      };
      if (fate >= 1) {
        f.set_status(fb::FEEDBACK_STATUS_ACKNOWLEDGED);
        f.set_public_answer(Text("Merci,", 80));
        // Acknowledged between an hour and 45 days after submission; the
        // event carries that time.
        t = std::min(now_ - 1, t + Uniform(3600, 45 * kDay));
        *f.mutable_acknowledge_time() = Ts(t);
        f.set_etag(Etag());
        Stamp(f.mutable_audit(), t, false);
        Emit(&feedback_events, "feedback.item.acknowledged", "feedback", f.id(),
             ++version, t, f, {"status", "public_answer", "acknowledge_time"});
      }
      if (fate == 2 || fate == 3) {
        f.set_status(fb::FEEDBACK_STATUS_LINKED);
        const int links = static_cast<int>(Uniform(1, 2));
        for (int k = 0; k < links; ++k) {
          f.add_linked_action_ids(fate == 3 ? Pick(done_)
                                  : blocker && Chance(0.7)
                                      ? Pick(blocked_)
                                      : Pick(all_actions_));
        }
        next("feedback.item.linked", {"status", "linked_action_ids"},
             60 * kDay);
      }
      if (fate == 3) {
        f.set_status(fb::FEEDBACK_STATUS_ADDRESSED);
        next("feedback.item.addressed", {"status"}, 200 * kDay);
      }
      if (fate == 4) {
        f.set_status(fb::FEEDBACK_STATUS_DECLINED);
        f.set_status_reason(Text("Hors périmètre :", 60));
        next("feedback.item.declined", {"status", "status_reason"}, 60 * kDay);
      }
      if (Chance(0.01)) {
        f.set_hidden(true);
        f.set_moderation_reason("Propos injurieux");
        next("feedback.item.hidden", {"hidden", "moderation_reason"},
             10 * kDay);
      }
      item_time_[f.id()] = t;
    }
  }

  void Endorsements() {
    std::set<std::string> seen;
    for (int i = 0; i < c_.endorsements; ++i) {
      std::string id, item, org;
      for (int attempt = 0; attempt < 20; ++attempt) {
        // Skewed towards a few blockers, as endorsements gather on them.
        if (!blockers_.empty() && Chance(0.7)) {
          const double u = Unit();
          item = blockers_[static_cast<size_t>(u * u * u * blockers_.size())];
        } else {
          item = Pick(all_items_);
        }
        org = Pick(orgs_);
        id = item + ":" + org;
        if (seen.insert(id).second) break;
        id.clear();
      }
      if (id.empty()) continue;
      fb::Endorsement e;
      e.set_feedback_id(item);
      e.set_organization_id(org);
      *e.mutable_actor() = AnyActor();
      e.set_active(true);
      int64_t t = std::min(now_ - 1, item_time_[item] + Uniform(60, 90 * kDay));
      *e.mutable_time() = Ts(t);
      e.set_roadmap_id(roadmap_id);
      Emit(&feedback_events, "feedback.endorsement.added", "endorsement", id, 1,
           t, e, {});
      if (Chance(0.1)) {
        t = std::min(now_ - 1, t + Uniform(60, 30 * kDay));
        e.set_active(false);
        *e.mutable_time() = Ts(t);
        Emit(&feedback_events, "feedback.endorsement.withdrawn", "endorsement",
             id, 2, t, e, {"active"});
      }
    }
  }

  const BenchConfig& c_;
  const int64_t now_;
  std::mt19937_64 rng_;
  std::vector<std::string> orgs_;
  std::vector<common::v1::Actor> actors_;
  std::vector<std::string> ecosystems_;
  std::vector<std::string> all_actions_, blocked_, done_;
  std::vector<std::string> all_items_, blockers_;
  std::map<std::string, int64_t> item_time_;
  const std::string consultation_ = NewUlid();
};

// XADDs `events` to `stream` in pipelined batches of 1000.
absl::Status Write(RedisClient& redis, const std::string& stream,
                   const std::vector<Written>& events) {
  std::vector<RedisArgs> batch;
  for (size_t i = 0; i < events.size(); ++i) {
    batch.push_back({"XADD", stream, "*", "e", events[i].bytes});
    if (batch.size() == 1000 || i + 1 == events.size()) {
      auto r = redis.Pipeline(batch);
      if (!r.ok()) return r.status();
      for (const auto& reply : *r) {
        if (reply.is_error()) return absl::InternalError(reply.str());
      }
      batch.clear();
    }
  }
  return absl::OkStatus();
}

// --- Baselines ---------------------------------------------------------------

enum class ReadMode {
  kRaw,          // XRANGE replies, nothing parsed
  kReplay,       // StreamConsumer::Replay, a handler that does nothing
  kReplayParse,  // StreamConsumer::Replay + Event::ParseFromString
  kFold,         // ... + Rebuild's fold into the latest state per entity
};

struct ReadResult {
  int64_t entries = 0;
  int64_t bytes = 0;
};

absl::StatusOr<ReadResult> ReadStreams(RedisClient& redis, ReadMode mode) {
  ReadResult out;
  auto folded = std::make_unique<
      std::unordered_map<std::string, std::pair<int64_t, std::string>>>();
  for (const char* stream :
       {reporting::kRoadmapStream, reporting::kFeedbackStream}) {
    if (mode == ReadMode::kRaw) {
      std::string start = "-";
      for (;;) {
        auto r = redis.Command({"XRANGE", stream, start, "+", "COUNT", "1000"});
        if (!r.ok()) return r.status();
        if (r->is_error()) return absl::InternalError(r->str());
        const auto& items = r->elements();
        for (const auto& item : items) {
          const auto& fields = item.elements()[1].elements();
          out.bytes += static_cast<int64_t>(fields[1].str().size());
        }
        out.entries += static_cast<int64_t>(items.size());
        if (items.size() < 1000) break;
        start = "(" + items.back().elements()[0].str();
      }
      continue;
    }
    ev::Event e;
    const bool parse = mode != ReadMode::kReplay;
    std::string id;
    auto n = StreamConsumer::Replay(&redis, stream, [&](const StreamEntry& s) {
      out.bytes += static_cast<int64_t>(s.payload.size());
      if (parse && !e.ParseFromString(s.payload)) {
        return absl::InternalError("an entry does not parse");
      }
      if (mode == ReadMode::kFold) {  // as ReadModel::Rebuild folds
        id.assign(e.aggregate_kind());
        id += '\n';
        id += e.aggregate_id();
        auto [it, inserted] = folded->try_emplace(id);
        if (inserted || e.aggregate_version() > it->second.first) {
          it->second.first = e.aggregate_version();
          it->second.second.swap(*e.mutable_state()->mutable_value());
        }
      }
      return absl::OkStatus();
    });
    if (!n.ok()) return n.status();
    out.entries += *n;
  }
  return out;
}

const char* Verdict(bool ok) { return ok ? "PASS" : "MISS"; }

// INFO commandstats: command -> {calls, usec} (Redis 7 also counts the
// commands scripts run).
std::map<std::string, std::pair<int64_t, int64_t>> CommandStats(
    RedisClient& redis) {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  auto r = redis.Command({"INFO", "commandstats"});
  if (!r.ok()) return out;
  for (absl::string_view line : absl::StrSplit(r->str(), "\r\n")) {
    // cmdstat_hget:calls=12,usec=34,usec_per_call=...
    if (!absl::ConsumePrefix(&line, "cmdstat_")) continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    int64_t calls = 0, usec = 0;
    for (absl::string_view kv : absl::StrSplit(line.substr(colon + 1), ',')) {
      if (absl::ConsumePrefix(&kv, "calls="))
        (void)absl::SimpleAtoi(kv, &calls);
      if (absl::ConsumePrefix(&kv, "usec=")) (void)absl::SimpleAtoi(kv, &usec);
    }
    out[std::string(line.substr(0, colon))] = {calls, usec};
  }
  return out;
}

// The commands Redis spent most time on since CONFIG RESETSTAT, per
// operation.
void PrintCommandStats(std::map<std::string, std::pair<int64_t, int64_t>> stats,
                       const char* what, int ops) {
  std::vector<std::pair<int64_t, std::string>> by_usec;
  int64_t total = 0;
  for (const auto& [name, cu] : stats) {
    if (name == "info" || name == "config|resetstat") continue;
    by_usec.push_back({cu.second, name});
    total += cu.second;
  }
  std::sort(by_usec.rbegin(), by_usec.rend());
  std::printf("  Redis time per %s (INFO commandstats): %.2f ms;", what,
              total / 1000.0 / ops);
  for (size_t i = 0; i < by_usec.size() && i < 6; ++i) {
    const auto& [usec, name] = by_usec[i];
    std::printf(" %s %.2f ms (%lld calls)", name.c_str(), usec / 1000.0 / ops,
                static_cast<long long>(stats[name].first / ops));
    std::printf(i + 1 < by_usec.size() && i < 5 ? "," : "\n");
  }
}

int Main(int argc, char** argv) {
  BenchConfig config;
  Flags flags("reporting_bench",
              "Rebuild, apply and report generation of the reporting "
              "service's read models over synthetic roadmap and feedback "
              "streams, beside a raw read of the same streams. See "
              "docs/performance.md.");
  flags.Int("actions", &config.actions, 1, 1000000, "actions");
  flags.Int("indicators", &config.indicators, 1, 10000, "indicators");
  flags.Int("measurements", &config.measurements, 1, 400,
            "quarterly measurements per indicator");
  flags.Int("feedback", &config.feedback, 1, 10000000, "feedback items");
  flags.Int("endorsements", &config.endorsements, 0, 10000000,
            "endorsements (10% later withdrawn)");
  flags.Int("ecosystems", &config.ecosystems, 1, 100, "ecosystems");
  flags.Int("repeat", &config.repeat, 3, 99,
            "raw reads and rebuilds; the median is reported");
  flags.Int("reports", &config.reports, 1, 10000,
            "reports generated (after 2 warm-up reports); median and p90");
  flags.Int("apply-sample", &config.apply_sample, 0, 10000000,
            "events applied one by one with ReadModel::ApplyEntry");
  flags.Int("seed", &config.seed, 0, 1 << 30, "seed of the synthetic data");
  if (auto s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << "reporting_bench: " << s.message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return 0;
  }

  spdlog::set_level(spdlog::level::err);
  testing::RedisServer server;
  if (auto s = server.Start(); !s.ok()) {
    std::cerr << "reporting_bench: cannot start redis-server: " << s.message()
              << "\n";
    return 1;
  }
  RedisOptions ro = server.options();
  ro.command_timeout = std::chrono::milliseconds(60000);
  RedisClient redis(ro);
  // The AOF stays on as in production, but its automatic rewrite (a fork
  // copying the whole data set) would land at random in the timed phases.
  (void)redis.Command({"CONFIG", "SET", "auto-aof-rewrite-percentage", "0"});

  const auto wall_now = std::chrono::system_clock::now();
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          wall_now.time_since_epoch())
                          .count();
  std::printf(
      "reporting_bench: %s build, %s, %u CPU(s) (%s), Redis %s; today %s\n"
      "data: %d actions, %d indicators x %d measurements, %d feedback items, "
      "%d endorsements, %d ecosystems, seed %d\n\n",
      JALON_BUILD_TYPE, Allocator().c_str(),
      std::thread::hardware_concurrency(), CpuModel().c_str(),
      InfoField(redis, "server", "redis_version").c_str(),
      FormatDate(DateOf(wall_now)).c_str(), config.actions, config.indicators,
      config.measurements, config.feedback, config.endorsements,
      config.ecosystems, config.seed);
  std::fflush(stdout);

  // 1. The source streams.
  auto t0 = Steady::now();
  Generator gen(config, now);
  gen.Run();
  const double generate_ms = Ms(Steady::now() - t0);
  t0 = Steady::now();
  for (const auto& [stream, events] :
       {std::pair{reporting::kRoadmapStream, &gen.roadmap_events},
        std::pair{reporting::kFeedbackStream, &gen.feedback_events}}) {
    if (auto s = Write(redis, stream, *events); !s.ok()) {
      std::cerr << "reporting_bench: XADD failed: " << s.message() << "\n";
      return 1;
    }
    // The service's consumer groups, caught up (Generate reports their
    // positions).
    (void)redis.Command({"XGROUP", "CREATE", stream, reporting::kGroup, "$"});
  }
  const double write_ms = Ms(Steady::now() - t0);
  int64_t total_events = 0, total_bytes = 0;
  for (const auto* v : {&gen.roadmap_events, &gen.feedback_events}) {
    for (const auto& w : *v)
      total_bytes += static_cast<int64_t>(w.bytes.size());
    total_events += static_cast<int64_t>(v->size());
  }
  std::printf("Events written (synthesised in %.0f ms, XADD in %.0f ms):\n",
              generate_ms, write_ms);
  std::printf("  %-22s %9zu events\n  %-22s %9zu events\n",
              reporting::kRoadmapStream, gen.roadmap_events.size(),
              reporting::kFeedbackStream, gen.feedback_events.size());
  std::printf("  total %lld events, %.1f MB of payload (%.0f bytes/event)\n",
              static_cast<long long>(total_events), total_bytes / 1e6,
              static_cast<double>(total_bytes) / total_events);
  std::printf("  %-12s %8s %8s\n", "kind", "entities", "events");
  for (const auto& [kind, n] : gen.events) {
    std::printf("  %-12s %8lld %8lld\n", kind.c_str(),
                static_cast<long long>(gen.entities[kind]),
                static_cast<long long>(n));
  }
  std::printf("  actions by final status:");
  for (const auto& [s, n] : gen.final_action_status) {
    std::printf(" %s %lld",
                s.substr(std::string("ACTION_STATUS_").size()).c_str(),
                static_cast<long long>(n));
  }
  std::printf("\n  redis used_memory: %s\n\n",
              InfoField(redis, "memory", "used_memory_human").c_str());
  std::fflush(stdout);
  // The synthetic events are in Redis now; free the copies.
  gen.roadmap_events = {};
  gen.feedback_events = {};

  // 2. Baselines, 3. rebuilds, interleaved round by round so that a noisy
  // neighbour hurts them alike.
  reporting::ReadModel models(&redis, 1'000'000);
  std::map<ReadMode, std::vector<double>> read_ms;
  std::vector<double> rebuild_ms, rebuild_rate, rebuild_cpu, rebuild_redis_cpu;
  std::vector<double> fold_ms, bulk_ms, catch_up_ms, drop_ms;
  reporting::RebuildStats last_stats;
  bool failed = false;
  for (int rep = 0; rep < config.repeat && !failed; ++rep) {
    for (ReadMode mode : {ReadMode::kRaw, ReadMode::kReplay,
                          ReadMode::kReplayParse, ReadMode::kFold}) {
      auto start = Steady::now();
      auto r = ReadStreams(redis, mode);
      const double ms = Ms(Steady::now() - start);
      if (!r.ok() || r->entries != total_events) {
        std::cerr << "reporting_bench: raw read failed or incomplete\n";
        failed = true;
        break;
      }
      read_ms[mode].push_back(ms);
    }
    if (failed) break;
    CpuTime before = TakeCpuTime(redis);
    auto start = Steady::now();
    auto stats = models.Rebuild();
    const double ms = Ms(Steady::now() - start);
    CpuTime cpu = TakeCpuTime(redis) - before;
    if (!stats.ok()) {
      std::cerr << "reporting_bench: Rebuild failed: "
                << stats.status().message() << "\n";
      failed = true;
      break;
    }
    last_stats = *stats;
    // The old generation is dropped in the background once the new one
    // serves; wait for it outside the timed rebuild so rounds do not
    // overlap, and report it apart.
    auto drop_start = Steady::now();
    models.WaitForDrop();
    drop_ms.push_back(Ms(Steady::now() - drop_start));
    rebuild_ms.push_back(ms);
    rebuild_rate.push_back(stats->events / (ms / 1000));
    rebuild_cpu.push_back(cpu.process * 1000);
    rebuild_redis_cpu.push_back(cpu.redis * 1000);
    fold_ms.push_back(stats->fold_ms);
    bulk_ms.push_back(stats->write_ms);
    catch_up_ms.push_back(stats->catch_up_ms);
    std::fprintf(stderr,
                 "  round %d/%d: raw %.0f ms, replay %.0f ms, replay+parse "
                 "%.0f ms, rebuild %.0f ms\n",
                 rep + 1, config.repeat, read_ms[ReadMode::kRaw].back(),
                 read_ms[ReadMode::kReplay].back(),
                 read_ms[ReadMode::kReplayParse].back(), ms);
  }
  if (failed) return 1;
  const double raw_ms = Median(read_ms[ReadMode::kRaw]);
  const double replay_ms = Median(read_ms[ReadMode::kReplay]);
  const double parse_ms = Median(read_ms[ReadMode::kReplayParse]);
  const double rb_ms = Median(rebuild_ms);
  const double rb_rate = Median(rebuild_rate);
  std::printf("Reading both streams, median of %d (%lld events):\n",
              config.repeat, static_cast<long long>(total_events));
  std::printf("  raw XRANGE x1000, nothing parsed   %8.1f ms  %9.0f events/s\n",
              raw_ms, total_events / (raw_ms / 1000));
  std::printf("  StreamConsumer::Replay, no-op      %8.1f ms  %9.0f events/s\n",
              replay_ms, total_events / (replay_ms / 1000));
  std::printf("  Replay + Event::ParseFromString    %8.1f ms  %9.0f events/s\n",
              parse_ms, total_events / (parse_ms / 1000));
  const double fold_alone_ms = Median(read_ms[ReadMode::kFold]);
  std::printf(
      "  ... + fold as Rebuild does (map)   %8.1f ms  %9.0f events/s\n\n",
      fold_alone_ms, total_events / (fold_alone_ms / 1000));
  std::printf(
      "ReadModel::Rebuild(), median of %d: %.1f ms, %.0f events/s "
      "(%lld events -> %lld entities)\n"
      "  %.2fx the raw read, %.2fx raw+parse; CPU: this process %.0f ms, "
      "redis-server %.0f ms (medians)\n",
      config.repeat, rb_ms, rb_rate, static_cast<long long>(last_stats.events),
      static_cast<long long>(last_stats.entities), rb_ms / raw_ms,
      rb_ms / parse_ms, Median(rebuild_cpu), Median(rebuild_redis_cpu));
  std::printf(
      "  phases (medians): fold the streams %.0f ms, write the new "
      "generation %.0f ms, catch up %.0f ms; then, in the background, drop "
      "the old generation %.0f ms\n\n",
      Median(fold_ms), Median(bulk_ms), Median(catch_up_ms), Median(drop_ms));
  std::fflush(stdout);

  // 4. Incremental apply of a sample into an empty database (db 1), in
  // stream order, as the consumer applies entries (ApplyEntry: parse, read
  // the current version, one script).
  double apply_rate = 0;
  int64_t applied = 0;
  if (config.apply_sample > 0) {
    std::vector<std::pair<int64_t, StreamEntry>> timeline;
    for (const char* stream :
         {reporting::kRoadmapStream, reporting::kFeedbackStream}) {
      ev::Event e;
      auto n = StreamConsumer::Replay(
          &redis, stream,
          [&](const StreamEntry& s) {
            if (!e.ParseFromString(s.payload)) return absl::OkStatus();
            timeline.push_back({e.occurred_at().seconds(), s});
            return absl::OkStatus();
          },
          1000);
      if (!n.ok()) return 1;
    }
    std::stable_sort(
        timeline.begin(), timeline.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
    if (static_cast<int64_t>(timeline.size()) > config.apply_sample) {
      timeline.resize(config.apply_sample);
    }
    RedisOptions o1 = ro;
    o1.db = 1;
    RedisClient redis1(o1);
    std::vector<double> rates;
    for (int rep = 0; rep < 3; ++rep) {
      (void)redis1.Command({"FLUSHDB"});
      reporting::ReadModel fresh(&redis1, 1'000'000);
      (void)fresh.Generation();
      auto start = Steady::now();
      for (const auto& [at, entry] : timeline) {
        if (auto s = fresh.ApplyEntry(entry); !s.ok()) {
          std::cerr << "reporting_bench: ApplyEntry failed: " << s.message()
                    << "\n";
          return 1;
        }
      }
      const double ms = Ms(Steady::now() - start);
      rates.push_back(timeline.size() / (ms / 1000));
    }
    applied = static_cast<int64_t>(timeline.size());
    apply_rate = Median(rates);
    std::printf(
        "ReadModel::ApplyEntry(), one at a time, the first %lld events in "
        "time order into an empty db, median of 3: %.0f events/s (%.1f us "
        "each)\n\n",
        static_cast<long long>(applied), apply_rate, 1e6 / apply_rate);
    (void)redis1.Command({"FLUSHDB"});
  }

  // 5. Reports from the read models.
  reporting::ReportingService service(&redis, &models, Clock::Real(),
                                      reporting::ReportingOptions{});
  CallContext ctx;
  ctx.principal.set_principal_id("bench.admin");
  ctx.principal.set_principal_name("Benchmark administrator");
  ctx.principal.set_role(common::v1::ROLE_ADMIN);
  ctx.request_id = "bench";
  ctx.rpc = "GenerateReport";
  rp::GenerateReportRequest req;
  req.set_roadmap_id(gen.roadmap_id);
  req.set_period("2026-Q3");
  std::vector<double> report_ms;
  size_t report_bytes = 0;
  rp::Report sample;
  for (int i = 0; i < config.reports + 2; ++i) {
    if (i == 2) (void)redis.Command({"CONFIG", "RESETSTAT"});
    rp::GenerateReportResponse resp;
    auto start = Steady::now();
    absl::Status s = service.GenerateReport(ctx, req, &resp);
    const double ms = Ms(Steady::now() - start);
    if (!s.ok()) {
      std::cerr << "reporting_bench: GenerateReport failed: " << s.message()
                << "\n";
      return 1;
    }
    if (i >= 2) report_ms.push_back(ms);
    report_bytes = resp.report().ByteSizeLong();
    sample = resp.report();
  }

  auto generate_stats = CommandStats(redis);
  (void)redis.Command({"CONFIG", "RESETSTAT"});
  // The same work in parts, without the commit.
  auto keys = models.Current();
  if (!keys.ok()) return 1;
  const Date today = DateOf(std::chrono::system_clock::now());
  auto period = reporting::ParsePeriod("2026-Q3");
  std::vector<double> load_ms, compute_ms, hash_ms, serialize_ms, parse_prev_ms,
      load_compute_ms;
  reporting::RoadmapData data;
  for (int i = 0; i < config.reports; ++i) {
    auto start = Steady::now();
    auto d = reporting::LoadRoadmap(&redis, *keys, gen.roadmap_id, today);
    auto loaded = Steady::now();
    if (!d.ok()) return 1;
    rp::ReportContent content =
        reporting::Compute(*d, *period, today, reporting::RatingThresholds{});
    auto computed = Steady::now();
    std::string hash = reporting::ContentSha256(content);
    auto hashed = Steady::now();
    std::string bytes = sample.SerializeAsString();
    auto serialized = Steady::now();
    rp::Report prev;
    prev.ParseFromString(bytes);
    auto parsed = Steady::now();
    load_ms.push_back(Ms(loaded - start));
    compute_ms.push_back(Ms(computed - loaded));
    load_compute_ms.push_back(Ms(computed - start));
    hash_ms.push_back(Ms(hashed - computed));
    serialize_ms.push_back(Ms(serialized - hashed));
    parse_prev_ms.push_back(Ms(parsed - serialized));
    if (i == 0) data = *std::move(d);
  }
  auto load_stats = CommandStats(redis);
  // What the lists of late and blocked actions and their blockers cost to
  // fetch alone: the same HGETs as LoadRoadmap, in one pipeline, no parse.
  std::vector<double> fetch_lists_ms;
  size_t list_bytes = 0, list_entities = 0;
  {
    std::vector<RedisArgs> gets;
    std::set<std::string> items;
    for (const auto& [id, a] : data.actions) {
      gets.push_back({"HGET", keys->Entity("action", id), "d"});
    }
    for (const auto& [a, v] : data.action_blockers) {
      for (const auto& f : v) items.insert(f.id());
    }
    for (const auto& id : items) {
      gets.push_back({"HGET", keys->Entity("feedback", id), "d"});
    }
    list_entities = gets.size();
    for (int i = 0; i < config.reports; ++i) {
      auto start = Steady::now();
      auto r = redis.Pipeline(gets);
      fetch_lists_ms.push_back(Ms(Steady::now() - start));
      if (!r.ok()) return 1;
      list_bytes = 0;
      for (const auto& reply : *r) list_bytes += reply.str().size();
    }
  }
  int64_t measurements = 0;
  for (const auto& [id, v] : data.measurements) measurements += v.size();
  size_t top_blockers = 0, action_blockers = 0;
  for (const auto& [b, v] : data.top_blockers) top_blockers += v.size();
  for (const auto& [a, v] : data.action_blockers) action_blockers += v.size();
  const double gen_p50 = Median(report_ms),
               gen_p90 = Percentile(report_ms, 0.9);
  const double lc_p50 = Median(load_compute_ms);
  std::printf(
      "Reports (roadmap %s, period 2026-Q3), %d after 2 warm-up:\n"
      "  read models loaded: %zu ecosystems, %zu indicators, %lld "
      "measurements, %zu counters, %lld late actions and %lld blocked "
      "(%zu actions listed) with %zu linked blockers, %zu top-blocker "
      "entries\n"
      "  report: %zu bytes serialised (content %zu)\n",
      gen.roadmap_id.c_str(), config.reports, data.ecosystems.size(),
      data.indicators.size(), static_cast<long long>(measurements),
      data.counts.size(), static_cast<long long>(data.late_count["*"]),
      static_cast<long long>(data.blocked_count["*"]), data.actions.size(),
      action_blockers, top_blockers, report_bytes,
      sample.content().ByteSizeLong());
  std::printf("  %-44s %8s %8s\n", "", "p50 ms", "p90 ms");
  auto row = [](const char* name, const std::vector<double>& v) {
    std::printf("  %-44s %8.2f %8.2f\n", name, Median(v), Percentile(v, 0.9));
  };
  row("GenerateReport (unary, full path, commit)", report_ms);
  row("LoadRoadmap + Compute", load_compute_ms);
  row("  LoadRoadmap (4 pipelined round trips)", load_ms);
  row("  Compute", compute_ms);
  row("ContentSha256 (canonical bytes + SHA-256)", hash_ms);
  row("Report::SerializeAsString", serialize_ms);
  row("Report::ParseFromString (previous report)", parse_prev_ms);
  std::printf("  %-44s %8.2f %8.2f  (%zu entities, %.1f MB)\n",
              "fetch of the listed actions and blockers",
              Median(fetch_lists_ms), Percentile(fetch_lists_ms, 0.9),
              list_entities, list_bytes / 1e6);
  PrintCommandStats(generate_stats, "GenerateReport", config.reports);
  PrintCommandStats(load_stats, "LoadRoadmap", config.reports);
  std::printf("\n");

  const bool report_ok = gen_p50 <= 50;
  const bool rebuild_ok = rb_rate >= 100000;
  std::printf("Summary (%s build, %s; medians)\n", JALON_BUILD_TYPE,
              Allocator().c_str());
  std::printf("  %-40s %12s %14s %10s\n", "", "time", "events/s", "x raw");
  std::printf("  %-40s %9.1f ms %14.0f %10.2f\n", "raw read of both streams",
              raw_ms, total_events / (raw_ms / 1000), 1.0);
  std::printf("  %-40s %9.1f ms %14.0f %10.2f\n", "raw read + Event parse",
              parse_ms, total_events / (parse_ms / 1000), parse_ms / raw_ms);
  std::printf("  %-40s %9.1f ms %14.0f %10.2f\n", "ReadModel::Rebuild", rb_ms,
              rb_rate, rb_ms / raw_ms);
  if (applied > 0) {
    std::printf("  %-40s %9.1f ms %14.0f %10.2f\n",
                "ApplyEntry one by one (sample)", applied / apply_rate * 1000,
                apply_rate, (total_events / apply_rate * 1000) / raw_ms);
  }
  std::printf("  %-40s %9.2f ms %14s %10s\n", "GenerateReport", gen_p50, "-",
              "-");
  std::printf("  %-40s %9.2f ms %14s %10s\n", "LoadRoadmap + Compute", lc_p50,
              "-", "-");
  std::printf(
      "  (ApplyEntry's x raw: the time it would take for all %lld "
      "events / the raw read)\n",
      static_cast<long long>(total_events));
  std::printf("\nTargets:\n");
  std::printf(
      "  report generation  target <= 50 ms median:    %7.2f ms "
      "(p90 %.2f)  %s\n",
      gen_p50, gen_p90, Verdict(report_ok));
  std::printf(
      "  rebuild            target >= 100,000 events/s: %9.0f "
      "events/s  %s   (raw read: %.1f ms, %.0f events/s)\n",
      rb_rate, Verdict(rebuild_ok), raw_ms, total_events / (raw_ms / 1000));
  return 0;
}

}  // namespace
}  // namespace jalon::bench

int main(int argc, char** argv) { return jalon::bench::Main(argc, argv); }
