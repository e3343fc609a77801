#include "tools/jalonctl/import_file.h"

#include <google/protobuf/util/time_util.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/dates.h"
#include "services/common/status.h"
#include "tools/jalonctl/fields.h"

namespace jalon::ctl {
namespace {

// 1..max_length characters of a-z, 0-9, '-' and '_' (keys and tags).
bool IsSlug(const std::string& s, size_t max_length) {
  if (s.empty() || s.size() > max_length) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return true;
}

// A value of the file in an error, quoted, cut to a readable length.
std::string Quoted(const std::string& value) {
  return absl::StrCat("\"", Truncated(value, 80), "\"");
}

namespace rpb = ::jalon::roadmap::v1;
namespace fpb = ::jalon::feedback::v1;
using google::protobuf::EnumDescriptor;

// Reads typed values out of YAML nodes, recording every problem with the
// node's line instead of stopping at the first.
class Reader {
 public:
  Reader(std::string path, std::vector<std::string>* errors)
      : path_(std::move(path)), errors_(errors) {}

  void Error(const YAML::Node& at, const std::string& field,
             const std::string& problem) {
    int line = at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
    errors_->push_back(absl::StrCat(path_, ":", line, ": ",
                                    Truncated(field, 200), ": ",
                                    Truncated(problem, 500)));
  }

  // Reports keys of `map` outside `allowed`; false if `map` is not a map.
  bool Fields(const YAML::Node& map, const std::string& where,
              const std::set<std::string>& allowed) {
    if (!map.IsMap()) {
      Error(map, where, "must be a mapping");
      return false;
    }
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        Error(kv.first, where, "a key must be a plain name, not a list or map");
        continue;
      }
      std::string k = kv.first.Scalar();
      if (!allowed.count(k) && k != "source") {
        Error(kv.first, absl::StrCat(where, ".", k),
              absl::StrCat("unknown field (allowed: ",
                           absl::StrJoin(allowed, ", "), ", source)"));
      }
    }
    return true;
  }

  std::string Str(const YAML::Node& map, const std::string& key,
                  const std::string& where, bool required = false) {
    YAML::Node n = map[key];
    std::string field = absl::StrCat(where, ".", key);
    if (!n || n.IsNull()) {
      if (required) Error(map, field, "is required");
      return "";
    }
    if (!n.IsScalar()) {
      Error(n, field, "must be a string");
      return "";
    }
    if (required && n.Scalar().empty()) Error(n, field, "must not be empty");
    return n.Scalar();
  }

  std::string Key(const YAML::Node& map, const std::string& where) {
    std::string k = Str(map, "key", where, true);
    if (!k.empty() && !IsSlug(k, 40)) {
      Error(map["key"], where + ".key",
            "must be 1..40 characters of a-z, 0-9, '-' and '_'");
    }
    return k;
  }

  bool Num(const YAML::Node& map, const std::string& key,
           const std::string& where, double* out, bool required = false) {
    YAML::Node n = map[key];
    std::string field = absl::StrCat(where, ".", key);
    if (!n || n.IsNull()) {
      if (required) Error(map, field, "is required");
      return false;
    }
    if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), out)) {
      Error(n, field, "must be a number");
      return false;
    }
    return true;
  }

  bool Bool(const YAML::Node& map, const std::string& key,
            const std::string& where) {
    YAML::Node n = map[key];
    if (!n || n.IsNull()) return false;
    bool b = false;
    if (!n.IsScalar() || !absl::SimpleAtob(n.Scalar(), &b)) {
      Error(n, absl::StrCat(where, ".", key), "must be true or false");
    }
    return b;
  }

  void DateF(const YAML::Node& map, const std::string& key,
             const std::string& where, common::v1::Date* out,
             bool required = false) {
    std::string s = Str(map, key, where, required);
    if (s.empty()) return;
    int y, m, d;
    char c1, c2;
    if (std::sscanf(s.c_str(), "%d%c%d%c%d", &y, &c1, &m, &c2, &d) != 5 ||
        c1 != '-' || c2 != '-' || !IsValidDate(MakeDate(y, m, d))) {
      Error(map[key], absl::StrCat(where, ".", key),
            "must be a date YYYY-MM-DD");
      return;
    }
    *out = MakeDate(y, m, d);
  }

  void Time(const YAML::Node& map, const std::string& key,
            const std::string& where, google::protobuf::Timestamp* out) {
    std::string s = Str(map, key, where);
    if (s.empty()) return;
    if (!google::protobuf::util::TimeUtil::FromString(s, out)) {
      Error(map[key], absl::StrCat(where, ".", key),
            "must be an RFC 3339 time, e.g. 2024-07-11T09:00:00Z");
    }
  }

  int Enum(const YAML::Node& map, const std::string& key,
           const std::string& where, const EnumDescriptor* type,
           bool required = false) {
    std::string s = Str(map, key, where, required);
    if (s.empty()) return 0;
    std::string up = absl::AsciiStrToUpper(s);
    for (char& c : up) {
      if (c == '-') c = '_';
    }
    const auto* zero = type->FindValueByNumber(0);
    std::string prefix = zero->name().substr(0, zero->name().size() - 11);
    for (const std::string& name : {up, prefix + up}) {
      const auto* v = type->FindValueByName(name);
      if (v != nullptr && v->number() != 0) return v->number();
    }
    Error(map[key], absl::StrCat(where, ".", key),
          absl::StrCat(Quoted(s), " is not one of ",
                       absl::StrJoin(EnumChoices(type), ", ")));
    return 0;
  }

  std::vector<std::string> StrList(const YAML::Node& map,
                                   const std::string& key,
                                   const std::string& where) {
    std::vector<std::string> out;
    YAML::Node n = map[key];
    if (!n || n.IsNull()) return out;
    if (!n.IsSequence()) {
      Error(n, absl::StrCat(where, ".", key), "must be a list");
      return out;
    }
    for (size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) {
        Error(n[i], absl::StrCat(where, ".", key, "[", i, "]"),
              "must be a string");
      } else {
        out.push_back(n[i].Scalar());
      }
    }
    return out;
  }

  // Calls `fn(item, "name[i]")` for each item of a list field.
  void Each(
      const YAML::Node& map, const std::string& key, const std::string& where,
      const std::function<void(const YAML::Node&, const std::string&)>& fn) {
    YAML::Node n = map[key];
    if (!n || n.IsNull()) return;
    std::string field = where.empty() ? key : absl::StrCat(where, ".", key);
    if (!n.IsSequence()) {
      Error(n, field, "must be a list");
      return;
    }
    for (size_t i = 0; i < n.size(); ++i) {
      fn(n[i], absl::StrCat(field, "[", i, "]"));
    }
  }

 private:
  std::string path_;
  std::vector<std::string>* errors_;
};

// Where each key was defined, to report duplicates and dangling references.
struct KeyIndex {
  std::map<std::string, YAML::Node> where;
  bool Define(Reader& r, const std::string& key, const YAML::Node& at,
              const std::string& field) {
    if (key.empty()) return false;
    if (where.count(key)) {
      r.Error(at, field, "duplicate key " + Quoted(key));
      return false;
    }
    where[key] = at;
    return true;
  }
};

}  // namespace

size_t ImportFile::EntityCount() const {
  size_t n = organizations.size() + 1 + ecosystems.size() + indicators.size() +
             actions.size() + consultations.size() + feedback.size();
  for (const auto& i : indicators) n += i.measurements.size();
  return n;
}

ImportFile ParseImportFile(const std::string& path, const std::string& text,
                           std::vector<std::string>* errors) {
  ImportFile f;
  f.path = path;
  Reader r(path, errors);
  if (auto p = Utf8ProblemOfFile(text)) {
    errors->push_back(absl::StrCat(path, ":", p->line, ": ", p->what));
    return f;
  }
  YAML::Node root;
  try {
    root = YAML::Load(LooksLikeJson(text) ? JoinSurrogateEscapes(text) : text);
  } catch (const YAML::ParserException& e) {
    errors->push_back(absl::StrCat(path, ":", e.mark.line + 1, ": ", e.msg));
    return f;
  }
  if (!r.Fields(root, "(file)",
                {"version", "organizations", "roadmap", "ecosystems",
                 "indicators", "actions", "consultations", "feedback"})) {
    return f;
  }
  if (root["version"] && root["version"].as<std::string>("") != "1") {
    r.Error(root["version"], "version", "only version 1 is supported");
  }
  KeyIndex orgs, ecos, inds, meas, acts, cons, fbs;
  // Natural keys: a re-import finds these entities by them (docs/cli.md).
  std::set<std::string> org_names, eco_names, ind_names, cons_titles, fb_titles;
  auto unique = [&](std::set<std::string>& seen, const std::string& value,
                    const YAML::Node& at, const std::string& field,
                    const std::string& what) {
    if (!value.empty() && !seen.insert(value).second) {
      r.Error(at, field,
              "another " + what +
                  " has the same value; it identifies the entity "
                  "on re-import and must be unique");
    }
  };

  r.Each(
      root, "organizations", "",
      [&](const YAML::Node& n, const std::string& w) {
        if (!r.Fields(n, w,
                      {"key", "name", "kind", "description", "contact_email"}))
          return;
        OrgEntry e;
        e.key = r.Key(n, w);
        orgs.Define(r, e.key, n, w + ".key");
        e.org.set_name(r.Str(n, "name", w, true));
        unique(org_names, e.org.name(), n["name"], w + ".name", "organisation");
        e.org.set_kind(static_cast<rpb::OrganizationKind>(
            r.Enum(n, "kind", w, rpb::OrganizationKind_descriptor(), true)));
        e.org.set_description(r.Str(n, "description", w));
        e.org.set_contact_email(r.Str(n, "contact_email", w));
        f.organizations.push_back(std::move(e));
      });

  YAML::Node rm = root["roadmap"];
  if (!rm) {
    r.Error(root, "roadmap", "is required");
  } else if (r.Fields(rm, "roadmap",
                      {"key", "title", "description", "start_date",
                       "horizon_date", "status", "copilots"})) {
    f.roadmap.key = r.Key(rm, "roadmap");
    auto& x = f.roadmap.roadmap;
    x.set_title(r.Str(rm, "title", "roadmap", true));
    x.set_description(r.Str(rm, "description", "roadmap"));
    r.DateF(rm, "start_date", "roadmap", x.mutable_start_date(), true);
    r.DateF(rm, "horizon_date", "roadmap", x.mutable_horizon_date(), true);
    x.set_status(static_cast<rpb::RoadmapStatus>(
        r.Enum(rm, "status", "roadmap", rpb::RoadmapStatus_descriptor())));
    f.roadmap.copilots = r.StrList(rm, "copilots", "roadmap");
    if (f.roadmap.copilots.size() != 2 ||
        f.roadmap.copilots[0] == f.roadmap.copilots[1]) {
      r.Error(rm["copilots"] ? rm["copilots"] : rm, "roadmap.copilots",
              "must name exactly two distinct organisations");
    }
    for (size_t i = 0; i < f.roadmap.copilots.size(); ++i) {
      if (!orgs.where.count(f.roadmap.copilots[i])) {
        r.Error(rm["copilots"], absl::StrCat("roadmap.copilots[", i, "]"),
                "no organisation with key " + Quoted(f.roadmap.copilots[i]));
      }
    }
  }

  auto ref = [&](KeyIndex& index, const YAML::Node& map, const std::string& key,
                 const std::string& where, const char* kind, bool required) {
    std::string k = r.Str(map, key, where, required);
    if (!k.empty() && !index.where.count(k)) {
      r.Error(map[key], absl::StrCat(where, ".", key),
              absl::StrCat("no ", kind, " with key ", Quoted(k)));
    }
    return k;
  };
  auto refs = [&](KeyIndex& index, const YAML::Node& map,
                  const std::string& key, const std::string& where,
                  const char* kind) {
    auto list = r.StrList(map, key, where);
    for (size_t i = 0; i < list.size(); ++i) {
      if (!index.where.count(list[i])) {
        r.Error(map[key][i], absl::StrCat(where, ".", key, "[", i, "]"),
                absl::StrCat("no ", kind, " with key ", Quoted(list[i])));
      }
    }
    return list;
  };

  r.Each(root, "ecosystems", "",
         [&](const YAML::Node& n, const std::string& w) {
           if (!r.Fields(n, w, {"key", "name", "description", "creation_date"}))
             return;
           EcosystemEntry e;
           e.key = r.Key(n, w);
           ecos.Define(r, e.key, n, w + ".key");
           e.ecosystem.set_name(r.Str(n, "name", w, true));
           unique(eco_names, e.ecosystem.name(), n["name"], w + ".name",
                  "ecosystem");
           e.ecosystem.set_description(r.Str(n, "description", w));
           r.DateF(n, "creation_date", w, e.ecosystem.mutable_creation_date());
           f.ecosystems.push_back(std::move(e));
         });

  std::set<std::string> copilots(f.roadmap.copilots.begin(),
                                 f.roadmap.copilots.end());
  r.Each(
      root, "indicators", "", [&](const YAML::Node& n, const std::string& w) {
        if (!r.Fields(
                n, w,
                {"key", "ecosystem", "name", "description", "unit", "direction",
                 "baseline_value", "baseline_date", "target_value",
                 "target_date", "trajectory", "measurements"})) {
          return;
        }
        IndicatorEntry e;
        e.key = r.Key(n, w);
        inds.Define(r, e.key, n, w + ".key");
        e.ecosystem = ref(ecos, n, "ecosystem", w, "ecosystem", false);
        auto& x = e.indicator;
        x.set_name(r.Str(n, "name", w, true));
        unique(ind_names, e.ecosystem + "\n" + x.name(), n["name"], w + ".name",
               "indicator of this ecosystem");
        std::set<std::string> periods;
        x.set_description(r.Str(n, "description", w));
        x.set_unit(static_cast<rpb::IndicatorUnit>(
            r.Enum(n, "unit", w, rpb::IndicatorUnit_descriptor(), true)));
        x.set_direction(static_cast<rpb::IndicatorDirection>(
            r.Enum(n, "direction", w, rpb::IndicatorDirection_descriptor())));
        double v = 0;
        if (r.Num(n, "baseline_value", w, &v, true)) x.set_baseline_value(v);
        if (r.Num(n, "target_value", w, &v, true)) x.set_target_value(v);
        r.DateF(n, "baseline_date", w, x.mutable_baseline_date(), true);
        r.DateF(n, "target_date", w, x.mutable_target_date(), true);
        r.Each(n, "trajectory", w,
               [&](const YAML::Node& p, const std::string& pw) {
                 if (!r.Fields(p, pw, {"date", "value"})) return;
                 auto* t = x.add_trajectory();
                 r.DateF(p, "date", pw, t->mutable_date(), true);
                 double pv = 0;
                 if (r.Num(p, "value", pw, &pv, true)) t->set_value(pv);
               });
        r.Each(
            n, "measurements", w,
            [&](const YAML::Node& m, const std::string& mw) {
              if (!r.Fields(
                      m, mw,
                      {"key", "value", "period_start", "period_end", "source",
                       "recorded_by", "verification", "verification_note"})) {
                return;
              }
              MeasurementEntry me;
              me.key = r.Key(m, mw);
              meas.Define(r, me.key, m, mw + ".key");
              double mv = 0;
              if (r.Num(m, "value", mw, &mv, true))
                me.measurement.set_value(mv);
              r.DateF(m, "period_start", mw,
                      me.measurement.mutable_period_start(), true);
              r.DateF(m, "period_end", mw, me.measurement.mutable_period_end(),
                      true);
              unique(periods,
                     FormatDateOrEmpty(me.measurement.period_start()) + ".." +
                         FormatDateOrEmpty(me.measurement.period_end()),
                     m, mw + ".period_end", "measurement of this indicator");
              // `source` is the evidence note here (the API's field), required.
              me.measurement.set_source(r.Str(m, "source", mw, true));
              me.recorded_by =
                  ref(orgs, m, "recorded_by", mw, "organisation", true);
              if (!me.recorded_by.empty() && !copilots.count(me.recorded_by)) {
                r.Error(m["recorded_by"], mw + ".recorded_by",
                        "must be one of the roadmap's two co-pilots");
              }
              int st = r.Enum(m, "verification", mw,
                              rpb::VerificationState_descriptor());
              if (st != 0)
                me.verification = static_cast<rpb::VerificationState>(st);
              me.verification_note = r.Str(m, "verification_note", mw);
              if (me.verification == rpb::VERIFICATION_STATE_REJECTED &&
                  me.verification_note.empty()) {
                r.Error(m, mw + ".verification_note",
                        "is required for a rejected measurement");
              }
              e.measurements.push_back(std::move(me));
            });
        f.indicators.push_back(std::move(e));
      });

  // Actions: keys first, so dependencies may point forward.
  if (root["actions"] && root["actions"].IsSequence()) {
    for (size_t i = 0; i < root["actions"].size(); ++i) {
      const YAML::Node n = root["actions"][i];
      if (n.IsMap() && n["key"] && n["key"].IsScalar()) {
        acts.Define(r, n["key"].Scalar(), n,
                    absl::StrCat("actions[", i, "].key"));
      }
    }
  }
  r.Each(root, "actions", "", [&](const YAML::Node& n, const std::string& w) {
    if (!r.Fields(
            n, w,
            {"key", "ecosystem", "title", "description", "lead", "partner",
             "owner", "priority", "start_date", "due_date", "milestones",
             "progress_override", "contributions", "depends_on", "tags",
             "status", "status_reason", "completion_requested_by"})) {
      return;
    }
    ActionEntry e;
    e.key = r.Key(n, w);
    e.ecosystem = ref(ecos, n, "ecosystem", w, "ecosystem", false);
    e.lead = ref(orgs, n, "lead", w, "organisation", true);
    e.partner = ref(orgs, n, "partner", w, "organisation", true);
    if (!e.lead.empty() && e.lead == e.partner) {
      r.Error(n["partner"], w + ".partner", "must differ from lead");
    }
    // The server refuses other parties: the counterpart who approves a
    // completion is the roadmap's other co-pilot.
    for (const auto& [field, org] :
         {std::pair{"lead", e.lead}, std::pair{"partner", e.partner}}) {
      if (!org.empty() && !copilots.count(org)) {
        r.Error(n[field], w + "." + field,
                "must be one of the roadmap's two co-pilots");
      }
    }
    auto& a = e.action;
    a.set_title(r.Str(n, "title", w, true));
    a.set_description(r.Str(n, "description", w));
    a.set_owner(r.Str(n, "owner", w));
    a.set_priority(static_cast<rpb::ActionPriority>(
        r.Enum(n, "priority", w, rpb::ActionPriority_descriptor())));
    r.DateF(n, "start_date", w, a.mutable_start_date());
    r.DateF(n, "due_date", w, a.mutable_due_date());
    double p = 0;
    if (r.Num(n, "progress_override", w, &p)) {
      if (p < 0 || p > 100 || p != static_cast<int>(p)) {
        r.Error(n["progress_override"], w + ".progress_override",
                "must be an integer 0..100");
      }
      a.set_progress_override(static_cast<int>(p));
    }
    std::set<std::string> milestone_keys;
    r.Each(n, "milestones", w, [&](const YAML::Node& m, const std::string& mw) {
      if (!r.Fields(m, mw, {"key", "title", "due_date", "done_date"})) return;
      auto* ms = a.add_milestones();
      // A milestone's key is its id on the server, which takes any 1..64
      // bytes: what an export writes must import again.
      ms->set_id(r.Str(m, "key", mw, true));
      if (ms->id().size() > 64) {
        r.Error(m["key"], mw + ".key", "must be at most 64 bytes");
      }
      if (!ms->id().empty() && !milestone_keys.insert(ms->id()).second) {
        r.Error(m["key"], mw + ".key",
                "duplicate milestone key in this action");
      }
      ms->set_title(r.Str(m, "title", mw, true));
      r.DateF(m, "due_date", mw, ms->mutable_due_date());
      r.DateF(m, "done_date", mw, ms->mutable_done_date());
    });
    r.Each(n, "contributions", w,
           [&](const YAML::Node& c, const std::string& cw) {
             if (!r.Fields(c, cw, {"indicator", "value"})) return;
             ContributionEntry ce;
             ce.indicator = ref(inds, c, "indicator", cw, "indicator", true);
             r.Num(c, "value", cw, &ce.value, true);
             e.contributions.push_back(ce);
           });
    e.depends_on = refs(acts, n, "depends_on", w, "action");
    for (const std::string& t : r.StrList(n, "tags", w)) {
      if (!IsSlug(t, 50) || t.rfind(kKeyTagPrefix, 0) == 0) {
        r.Error(n["tags"], w + ".tags",
                Quoted(t) +
                    ": tags are 1..50 characters of a-z, 0-9, '-', '_' "
                    "and may not start with " +
                    kKeyTagPrefix);
      }
      a.add_tags(t);
    }
    if (a.tags_size() > kMaxActionTags) {
      r.Error(n["tags"], w + ".tags",
              absl::StrCat("at most ", kMaxActionTags, " tags"));
    }
    int st = r.Enum(n, "status", w, rpb::ActionStatus_descriptor());
    a.set_status(st == 0 ? rpb::ACTION_STATUS_PROPOSED
                         : static_cast<rpb::ActionStatus>(st));
    a.set_status_reason(r.Str(n, "status_reason", w));
    if ((a.status() == rpb::ACTION_STATUS_BLOCKED ||
         a.status() == rpb::ACTION_STATUS_CANCELLED) &&
        a.status_reason().empty()) {
      r.Error(
          n, w + ".status_reason",
          "is required for a " +
              ShortEnumName(rpb::ActionStatus_descriptor()->FindValueByNumber(
                  a.status())) +
              " action");
    }
    e.completion_requested_by =
        ref(orgs, n, "completion_requested_by", w, "organisation", false);
    if (!e.completion_requested_by.empty() &&
        e.completion_requested_by != e.lead &&
        e.completion_requested_by != e.partner) {
      r.Error(n["completion_requested_by"], w + ".completion_requested_by",
              "must be the lead or the partner");
    }
    f.actions.push_back(std::move(e));
  });
  // Dependency cycles.
  {
    std::map<std::string, const ActionEntry*> by_key;
    for (const auto& a : f.actions) by_key[a.key] = &a;
    std::map<std::string, int> state;  // 1 visiting, 2 done
    std::function<bool(const std::string&, std::vector<std::string>&)> visit =
        [&](const std::string& k, std::vector<std::string>& path) {
          if (state[k] == 2 || !by_key.count(k)) return false;
          if (state[k] == 1) {
            path.push_back(k);
            return true;
          }
          state[k] = 1;
          path.push_back(k);
          for (const auto& d : by_key[k]->depends_on) {
            if (visit(d, path)) return true;
          }
          path.pop_back();
          state[k] = 2;
          return false;
        };
    for (const auto& a : f.actions) {
      std::vector<std::string> path;
      if (visit(a.key, path)) {
        r.Error(acts.where[path.back()], "actions.depends_on",
                "dependency cycle: " + absl::StrJoin(path, " -> "));
        break;
      }
    }
  }

  r.Each(root, "consultations", "",
         [&](const YAML::Node& n, const std::string& w) {
           if (!r.Fields(n, w,
                         {"key", "title", "description", "place", "date",
                          "ecosystems", "open_time", "close_time"})) {
             return;
           }
           ConsultationEntry e;
           e.key = r.Key(n, w);
           cons.Define(r, e.key, n, w + ".key");
           auto& c = e.consultation;
           c.set_title(r.Str(n, "title", w, true));
           unique(cons_titles, c.title(), n["title"], w + ".title",
                  "consultation");
           c.set_description(r.Str(n, "description", w));
           c.set_place(r.Str(n, "place", w));
           r.DateF(n, "date", w, c.mutable_date());
           e.ecosystems = refs(ecos, n, "ecosystems", w, "ecosystem");
           r.Time(n, "open_time", w, c.mutable_open_time());
           r.Time(n, "close_time", w, c.mutable_close_time());
           if (!n["open_time"] || !n["close_time"]) {
             r.Error(n, w + ".open_time",
                     "open_time and close_time are required");
           }
           f.consultations.push_back(std::move(e));
         });

  std::map<std::string, const ActionEntry*> action_by_key;
  for (const auto& a : f.actions) action_by_key[a.key] = &a;
  r.Each(root, "feedback", "", [&](const YAML::Node& n, const std::string& w) {
    if (!r.Fields(n, w,
                  {"key", "kind", "author", "title", "body", "ecosystem",
                   "consultation", "visibility", "severity", "contact",
                   "attachments", "status", "public_answer", "linked_actions",
                   "endorsed_by", "hidden", "moderation_reason"})) {
      return;
    }
    FeedbackEntry e;
    e.key = r.Key(n, w);
    fbs.Define(r, e.key, n, w + ".key");
    auto& it = e.item;
    it.set_kind(static_cast<fpb::FeedbackKind>(
        r.Enum(n, "kind", w, fpb::FeedbackKind_descriptor(), true)));
    e.author = ref(orgs, n, "author", w, "organisation", true);
    it.set_title(r.Str(n, "title", w, true));
    unique(fb_titles, e.author + "\n" + it.title(), n["title"], w + ".title",
           "feedback item of this author");
    it.set_body(r.Str(n, "body", w, true));
    e.ecosystem = ref(ecos, n, "ecosystem", w, "ecosystem", false);
    e.consultation = ref(cons, n, "consultation", w, "consultation", false);
    it.set_visibility(static_cast<fpb::Visibility>(
        r.Enum(n, "visibility", w, fpb::Visibility_descriptor())));
    it.set_severity(static_cast<fpb::Severity>(
        r.Enum(n, "severity", w, fpb::Severity_descriptor())));
    if (it.kind() == fpb::FEEDBACK_KIND_BLOCKER && it.severity() == 0) {
      r.Error(n, w + ".severity", "is required for a blocker");
    }
    if (it.kind() != fpb::FEEDBACK_KIND_BLOCKER && it.severity() != 0) {
      r.Error(n["severity"], w + ".severity", "is only for blockers");
    }
    it.set_contact(r.Str(n, "contact", w));
    r.Each(n, "attachments", w,
           [&](const YAML::Node& a, const std::string& aw) {
             if (!r.Fields(a, aw, {"title", "url"})) return;
             auto* at = it.add_attachments();
             at->set_title(r.Str(a, "title", aw, true));
             at->set_url(r.Str(a, "url", aw, true));
           });
    int st = r.Enum(n, "status", w, fpb::FeedbackStatus_descriptor());
    it.set_status(st == 0 ? fpb::FEEDBACK_STATUS_SUBMITTED
                          : static_cast<fpb::FeedbackStatus>(st));
    it.set_public_answer(r.Str(n, "public_answer", w));
    e.linked_actions = refs(acts, n, "linked_actions", w, "action");
    e.endorsed_by = refs(orgs, n, "endorsed_by", w, "organisation");
    for (const auto& o : e.endorsed_by) {
      for (const auto& org : f.organizations) {
        if (org.key == o &&
            org.org.kind() != rpb::ORGANIZATION_KIND_MEMBER_COMPANY) {
          r.Error(n["endorsed_by"], w + ".endorsed_by",
                  Quoted(o) + ": only member companies endorse feedback");
        }
      }
      if (o == e.author) {
        r.Error(n["endorsed_by"], w + ".endorsed_by",
                "an organisation cannot endorse its own item");
      }
    }
    it.set_hidden(r.Bool(n, "hidden", w));
    it.set_moderation_reason(r.Str(n, "moderation_reason", w));
    if (it.hidden() && it.moderation_reason().empty()) {
      r.Error(n, w + ".moderation_reason", "is required for a hidden item");
    }
    switch (it.status()) {
      case fpb::FEEDBACK_STATUS_DECLINED:
        if (it.public_answer().empty()) {
          r.Error(n, w + ".public_answer", "is required for a DECLINED item");
        }
        break;
      case fpb::FEEDBACK_STATUS_LINKED:
      case fpb::FEEDBACK_STATUS_ADDRESSED:
        if (e.linked_actions.empty()) {
          r.Error(n, w + ".linked_actions",
                  "is required for a LINKED or ADDRESSED item");
        }
        break;
      default:
        break;
    }
    if (it.status() == fpb::FEEDBACK_STATUS_ADDRESSED) {
      for (const auto& k : e.linked_actions) {
        auto a = action_by_key.find(k);
        if (a != action_by_key.end() &&
            a->second->action.status() != rpb::ACTION_STATUS_DONE) {
          r.Error(n["status"], w + ".status",
                  "ADDRESSED needs every linked action DONE; " + Quoted(k) +
                      " is not");
        }
      }
    }
    f.feedback.push_back(std::move(e));
  });
  return f;
}

}  // namespace jalon::ctl
