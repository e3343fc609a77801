// Bringing a whole roadmap in (import, idempotent) and out (export, the
// same format). Import matches entities already on the servers by their
// external keys (docs/cli.md, "How a re-import finds what exists"), updates
// what changed and creates what is missing; --dry-run only reads. Not
// thread-safe.
#ifndef JALON_TOOLS_JALONCTL_IMPORT_EXPORT_H_
#define JALON_TOOLS_JALONCTL_IMPORT_EXPORT_H_

#include <ostream>
#include <string>

#include "tools/jalonctl/import_file.h"
#include "tools/jalonctl/session.h"

namespace jalon::ctl {

struct ImportOptions {
  bool dry_run = false;
  bool progress = false;  // draw a progress bar on stderr
};

struct ImportSummary {
  int created = 0;
  int updated = 0;
  int unchanged = 0;
  int warnings = 0;
};

// Applies a validated file. Prints one line per change (or planned change)
// to `out`. Throws CliError on the first failed call.
ImportSummary RunImport(Session& session, const ImportFile& file,
                        const ImportOptions& options, std::ostream& out);

// The roadmap and everything in it, in the import format (YAML).
std::string RunExport(Session& session, const std::string& roadmap_id);

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_IMPORT_EXPORT_H_
