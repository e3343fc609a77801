// The import/export file (docs/cli.md, "Import schema"): a whole roadmap in
// YAML or JSON, every entity with an external `key`, references by key.
// Parsing validates the whole file first and reports every problem with
// its file, line and field, so nothing is half-imported. Not thread-safe.
#ifndef JALON_TOOLS_JALONCTL_IMPORT_FILE_H_
#define JALON_TOOLS_JALONCTL_IMPORT_FILE_H_

#include <string>
#include <vector>

#include "jalon/feedback/v1/feedback.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"

namespace jalon::ctl {

struct OrgEntry {
  std::string key;
  roadmap::v1::Organization org;  // name, kind, description, contact_email
};

struct RoadmapEntry {
  std::string key;
  roadmap::v1::Roadmap roadmap;       // without copilot ids
  std::vector<std::string> copilots;  // org keys
};

struct EcosystemEntry {
  std::string key;
  roadmap::v1::Ecosystem ecosystem;
};

struct MeasurementEntry {
  std::string key;
  roadmap::v1::Measurement measurement;  // value, period, source
  std::string recorded_by;               // org key (a co-pilot)
  roadmap::v1::VerificationState verification =
      roadmap::v1::VERIFICATION_STATE_UNVERIFIED;
  std::string verification_note;
};

struct IndicatorEntry {
  std::string key;
  std::string ecosystem;  // key, or empty: roadmap-wide
  roadmap::v1::Indicator indicator;
  std::vector<MeasurementEntry> measurements;
};

struct ContributionEntry {
  std::string indicator;  // key
  double value = 0;
};

struct ActionEntry {
  std::string key;
  std::string ecosystem, lead, partner;  // keys
  std::vector<std::string> depends_on;   // action keys
  std::vector<ContributionEntry> contributions;
  // title, description, owner, priority, dates, milestones (id = key),
  // progress_override, tags, status, status_reason.
  roadmap::v1::Action action;
  std::string completion_requested_by;  // org key (default: lead)
};

struct ConsultationEntry {
  std::string key;
  std::vector<std::string> ecosystems;  // keys
  feedback::v1::Consultation consultation;
};

struct FeedbackEntry {
  std::string key;
  std::string author, ecosystem, consultation;  // keys
  std::vector<std::string> linked_actions;      // action keys
  std::vector<std::string> endorsed_by;         // org keys
  // kind, title, body, visibility, severity, contact, attachments, status,
  // public_answer, hidden, moderation_reason.
  feedback::v1::FeedbackItem item;
};

struct ImportFile {
  std::string path;
  std::vector<OrgEntry> organizations;
  RoadmapEntry roadmap;
  std::vector<EcosystemEntry> ecosystems;
  std::vector<IndicatorEntry> indicators;
  std::vector<ActionEntry> actions;
  std::vector<ConsultationEntry> consultations;
  std::vector<FeedbackEntry> feedback;
  size_t EntityCount() const;
};

// Parses and validates `text` (YAML or JSON) read from `path`. Returns the
// file, or fills `errors` with "path:line: field: problem" lines.
ImportFile ParseImportFile(const std::string& path, const std::string& text,
                           std::vector<std::string>* errors);

// The tag that carries an action's key on the server.
inline constexpr char kKeyTagPrefix[] = "jalon-key-";
// The most tags an action may have (the server's limit). An action with
// that many gets no key tag: it is then matched by its title.
inline constexpr int kMaxActionTags = 20;

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_IMPORT_FILE_H_
